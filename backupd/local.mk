# backupd/: the backup engine (used by the CLI and bulwark-backupd)
noinst_LIBRARIES += backupd/libbwbackup.a
backupd_libbwbackup_a_SOURCES = %reldir%/engine.c %reldir%/engine.h
backupd_libbwbackup_a_SOURCES += \
	%reldir%/retention.c %reldir%/retention.h \
	%reldir%/fcache.c %reldir%/fcache.h

check_PROGRAMS += tests/unit/test_retention
TESTS += tests/unit/test_retention
tests_unit_test_retention_SOURCES = tests/unit/test_retention.c
tests_unit_test_retention_CFLAGS = $(BW_TEST_CFLAGS)
tests_unit_test_retention_LDADD = backupd/libbwbackup.a lib/libbwcore.a $(BW_CORE_LIBS) $(CHECK_LIBS)

check_PROGRAMS += tests/unit/test_fcache
TESTS += tests/unit/test_fcache
tests_unit_test_fcache_SOURCES = tests/unit/test_fcache.c
tests_unit_test_fcache_CFLAGS = $(BW_TEST_CFLAGS)
tests_unit_test_fcache_LDADD = backupd/libbwbackup.a lib/libbwcore.a $(BW_CORE_LIBS) $(CHECK_LIBS)

if FUZZING
noinst_PROGRAMS += tests/fuzz/fuzz_fcache
tests_fuzz_fuzz_fcache_SOURCES = tests/fuzz/fuzz_fcache.c
tests_fuzz_fuzz_fcache_LDADD = backupd/libbwbackup.a lib/libbwcore.a $(BW_CORE_LIBS)
tests_fuzz_fuzz_fcache_LDFLAGS = -fsanitize=fuzzer,address,undefined
endif

check_PROGRAMS += tests/unit/test_engine
TESTS += tests/unit/test_engine
tests_unit_test_engine_SOURCES = tests/unit/test_engine.c
tests_unit_test_engine_CFLAGS = $(BW_TEST_CFLAGS)
tests_unit_test_engine_LDADD = backupd/libbwbackup.a lib/libbwcore.a $(BW_CORE_LIBS) $(CHECK_LIBS)

check_PROGRAMS += tests/unit/test_engine_crash
TESTS += tests/unit/test_engine_crash
tests_unit_test_engine_crash_SOURCES = tests/unit/test_engine_crash.c
tests_unit_test_engine_crash_CFLAGS = $(BW_TEST_CFLAGS)
tests_unit_test_engine_crash_LDADD = backupd/libbwbackup.a lib/libbwcore.a $(BW_CORE_LIBS) $(CHECK_LIBS)
