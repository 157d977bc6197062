# lib/fsent: file system entries (walk, metadata, data regions) via libarchive
lib_libbwcore_a_SOURCES += %reldir%/fsent.c %reldir%/fsent.h

check_PROGRAMS += tests/unit/test_fsent
TESTS += tests/unit/test_fsent
tests_unit_test_fsent_SOURCES = tests/unit/test_fsent.c
tests_unit_test_fsent_CFLAGS = $(BW_TEST_CFLAGS)
tests_unit_test_fsent_LDADD = lib/libbwcore.a $(BW_CORE_LIBS) $(CHECK_LIBS)
