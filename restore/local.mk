# restore/: the restore engine and the restore wizard
noinst_LIBRARIES += restore/libbwrestore.a
restore_libbwrestore_a_SOURCES = %reldir%/restore.c %reldir%/restore.h

check_PROGRAMS += tests/unit/test_restore
TESTS += tests/unit/test_restore
tests_unit_test_restore_SOURCES = tests/unit/test_restore.c
tests_unit_test_restore_CFLAGS = $(BW_TEST_CFLAGS)
tests_unit_test_restore_LDADD = restore/libbwrestore.a backupd/libbwbackup.a lib/libbwcore.a $(BW_CORE_LIBS) $(CHECK_LIBS)

EXTRA_DIST += docs/RESTORE.md
