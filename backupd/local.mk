# backupd/: the backup engine (used by the CLI and bulwark-backupd)
noinst_LIBRARIES += backupd/libbwbackup.a
backupd_libbwbackup_a_SOURCES =
