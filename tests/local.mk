# tests/: integration tests of the real programs (unit tests sit with their
# modules' local.mk).  They need the built binaries.
TESTS += tests/integration/backup.sh
EXTRA_DIST += tests/integration/lib.sh tests/integration/backup.sh
TESTS += tests/integration/badinput.sh
EXTRA_DIST += tests/integration/badinput.sh

# The failover tests' HTTP client (see tests/integration/cluster_lib.sh).
check_PROGRAMS += tests/integration/probe
tests_integration_probe_SOURCES = tests/integration/probe.c
# The failover cases: a three-node cluster in namespaces (root; skip otherwise).
EXTRA_DIST += tests/integration/cluster_lib.sh
TESTS += tests/integration/failover_harness.sh
EXTRA_DIST += tests/integration/failover_harness.sh
EXTRA_DIST += bench/run-failover
