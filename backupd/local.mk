# backupd/: the backup engine (used by the CLI and bulwark-backupd)
noinst_LIBRARIES += backupd/libbwbackup.a
backupd_libbwbackup_a_SOURCES =
backupd_libbwbackup_a_SOURCES += \
	%reldir%/retention.c %reldir%/retention.h

check_PROGRAMS += tests/unit/test_retention
TESTS += tests/unit/test_retention
tests_unit_test_retention_SOURCES = tests/unit/test_retention.c
tests_unit_test_retention_CFLAGS = $(BW_TEST_CFLAGS)
tests_unit_test_retention_LDADD = backupd/libbwbackup.a lib/libbwcore.a $(BW_CORE_LIBS) $(CHECK_LIBS)
