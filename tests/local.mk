# tests/: integration tests of the real programs (unit tests sit with their
# modules' local.mk).  They need the built binaries.
TESTS += tests/integration/backup.sh
EXTRA_DIST += tests/integration/lib.sh tests/integration/backup.sh
TESTS += tests/integration/badinput.sh
EXTRA_DIST += tests/integration/badinput.sh

# The failover cases: a three-node cluster in namespaces, driven by
# cluster_lib.sh, watched by the probe (an HTTP client); root only, they
# skip otherwise and until bulwark-failoverd is built.
check_PROGRAMS += tests/integration/probe
tests_integration_probe_SOURCES = tests/integration/probe.c
EXTRA_DIST += tests/integration/cluster_lib.sh bench/run-failover bench/FAILOVER.md \
	docs/TESTING.md
FAILOVER_TESTS = tests/integration/failover_harness.sh \
	tests/integration/failover_kill.sh \
	tests/integration/failover_partition.sh \
	tests/integration/failover_health.sh \
	tests/integration/failover_move.sh \
	tests/integration/failover_corosync_restart.sh \
	tests/integration/failover_twonode.sh
TESTS += $(FAILOVER_TESTS)
EXTRA_DIST += $(FAILOVER_TESTS)
# Known failure, failoverd: a node's JOIN for its first CPG view carries ring
# 0 (the totem ring is not known yet), the others drop it as old, and a view
# that grows within one ring never syncs; so after a failed health check no
# other node takes the site.  Remove once it passes (an XPASS fails make check).
XFAIL_TESTS = tests/integration/failover_health.sh
