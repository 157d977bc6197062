# lib/chunk: content-defined chunking and rsync deltas
lib_libbwcore_a_SOURCES += \
	%reldir%/cdc.c %reldir%/cdc.h \
	%reldir%/delta.h

check_PROGRAMS += tests/unit/test_cdc
TESTS += tests/unit/test_cdc
tests_unit_test_cdc_SOURCES = tests/unit/test_cdc.c
tests_unit_test_cdc_CFLAGS = $(BW_TEST_CFLAGS)
tests_unit_test_cdc_LDADD = lib/libbwcore.a $(BW_CORE_LIBS) $(CHECK_LIBS)
