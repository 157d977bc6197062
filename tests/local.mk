# tests/: integration tests of the real programs (unit tests sit with their
# modules' local.mk).  They need the built binaries.
TESTS += tests/integration/backup.sh
EXTRA_DIST += tests/integration/lib.sh tests/integration/backup.sh
TESTS += tests/integration/badinput.sh
EXTRA_DIST += tests/integration/badinput.sh
TESTS += tests/integration/browse.sh
EXTRA_DIST += tests/integration/browse.sh
TESTS += tests/integration/addr.sh
EXTRA_DIST += tests/integration/addr.sh
TESTS += tests/integration/corosync_conf.sh
EXTRA_DIST += tests/integration/corosync_conf.sh
TESTS += tests/integration/restore.sh
EXTRA_DIST += tests/integration/restore.sh tests/integration/treecmp.py
TESTS += tests/integration/wizard.sh
EXTRA_DIST += tests/integration/wizard.sh tests/integration/ptydrive.py
TESTS += tests/integration/failoverd1.sh
EXTRA_DIST += tests/integration/failoverd1.sh
