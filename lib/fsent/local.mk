# lib/fsent: file system entries (walk, metadata, data regions) via libarchive
lib_libbwcore_a_SOURCES += %reldir%/fsent.c %reldir%/fsent.h %reldir%/fsent_internal.h

check_PROGRAMS += tests/unit/test_fsent
TESTS += tests/unit/test_fsent
tests_unit_test_fsent_SOURCES = tests/unit/test_fsent.c
tests_unit_test_fsent_CFLAGS = $(BW_TEST_CFLAGS)
tests_unit_test_fsent_LDADD = lib/libbwcore.a $(BW_CORE_LIBS) $(CHECK_LIBS)

# the writer used by restore (target directory or archive file)
lib_libbwcore_a_SOURCES += %reldir%/fsout.c %reldir%/fsout.h

check_PROGRAMS += tests/unit/test_fsout
TESTS += tests/unit/test_fsout
tests_unit_test_fsout_SOURCES = tests/unit/test_fsout.c
tests_unit_test_fsout_CFLAGS = $(BW_TEST_CFLAGS)
tests_unit_test_fsout_LDADD = lib/libbwcore.a $(BW_CORE_LIBS) $(CHECK_LIBS)
EXTRA_DIST += docs/RESTORE-SAFETY.md

if FUZZING
noinst_PROGRAMS += tests/fuzz/fuzz_fsout
tests_fuzz_fuzz_fsout_SOURCES = tests/fuzz/fuzz_fsout.c
tests_fuzz_fuzz_fsout_LDADD = lib/libbwcore.a $(BW_CORE_LIBS)
tests_fuzz_fuzz_fsout_LDFLAGS = -fsanitize=fuzzer,address,undefined
endif
