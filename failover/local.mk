# failover/: bulwark-failoverd (corosync membership, placement, sites)
noinst_LIBRARIES += failover/libbwfailover.a
failover_libbwfailover_a_SOURCES =
failover_libbwfailover_a_CFLAGS = $(AM_CFLAGS) $(COROSYNC_CFLAGS) $(MNL_CFLAGS)

# The membership driver (the only user of corosync's headers) and its fake.
failover_libbwfailover_a_SOURCES += %reldir%/cluster.c %reldir%/cluster.h \
	%reldir%/cluster_internal.h %reldir%/cluster_base.c %reldir%/cluster_fake.c

check_PROGRAMS += tests/unit/test_cluster
TESTS += tests/unit/test_cluster
tests_unit_test_cluster_SOURCES = tests/unit/test_cluster.c
tests_unit_test_cluster_CFLAGS = $(BW_TEST_CFLAGS)
tests_unit_test_cluster_LDADD = failover/libbwfailover.a lib/libbwcore.a $(BW_CORE_LIBS) \
	$(COROSYNC_LIBS) $(CHECK_LIBS)
