# failover/: bulwark-failoverd (corosync membership, placement, sites)
noinst_LIBRARIES += failover/libbwfailover.a
failover_libbwfailover_a_CFLAGS = $(AM_CFLAGS) $(COROSYNC_CFLAGS) $(MNL_CFLAGS)
failover_libbwfailover_a_SOURCES = %reldir%/loop.c %reldir%/loop.h
failover_libbwfailover_a_SOURCES += %reldir%/ops.h \
	%reldir%/service.c %reldir%/service.h

check_PROGRAMS += tests/unit/test_loop
TESTS += tests/unit/test_loop
tests_unit_test_loop_SOURCES = tests/unit/test_loop.c
tests_unit_test_loop_CFLAGS = $(BW_TEST_CFLAGS)
tests_unit_test_loop_LDADD = failover/libbwfailover.a lib/libbwcore.a $(BW_CORE_LIBS) $(CHECK_LIBS)

check_PROGRAMS += tests/unit/test_service
TESTS += tests/unit/test_service
tests_unit_test_service_SOURCES = tests/unit/test_service.c
tests_unit_test_service_CFLAGS = $(BW_TEST_CFLAGS)
tests_unit_test_service_LDADD = failover/libbwfailover.a lib/libbwcore.a $(BW_CORE_LIBS) $(CHECK_LIBS)

# The membership driver (the only user of corosync's headers) and its fake.
failover_libbwfailover_a_SOURCES += %reldir%/cluster.c %reldir%/cluster.h \
	%reldir%/cluster_internal.h %reldir%/cluster_base.c %reldir%/cluster_fake.c

check_PROGRAMS += tests/unit/test_cluster
TESTS += tests/unit/test_cluster
tests_unit_test_cluster_SOURCES = tests/unit/test_cluster.c
tests_unit_test_cluster_CFLAGS = $(BW_TEST_CFLAGS)
tests_unit_test_cluster_LDADD = failover/libbwfailover.a lib/libbwcore.a $(BW_CORE_LIBS) \
	$(COROSYNC_LIBS) $(CHECK_LIBS)
