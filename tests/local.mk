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

# The failover cases: a three-node cluster in namespaces, driven by
# cluster_lib.sh, watched by the probe (an HTTP client); root only, they
# skip otherwise and until bulwark-failoverd is built.
check_PROGRAMS += tests/integration/probe
tests_integration_probe_SOURCES = tests/integration/probe.c
EXTRA_DIST += tests/integration/cluster_lib.sh bench/run-failover docs/TESTING.md
FAILOVER_TESTS = tests/integration/failover_harness.sh \
	tests/integration/failover_kill.sh \
	tests/integration/failover_partition.sh \
	tests/integration/failover_health.sh \
	tests/integration/failover_move.sh \
	tests/integration/failover_corosync_restart.sh \
	tests/integration/failover_twonode.sh
TESTS += $(FAILOVER_TESTS)
EXTRA_DIST += $(FAILOVER_TESTS)
