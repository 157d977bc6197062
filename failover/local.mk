# failover/: bulwark-failoverd (corosync membership, placement, sites)
noinst_LIBRARIES += failover/libbwfailover.a
failover_libbwfailover_a_CFLAGS = $(AM_CFLAGS) $(COROSYNC_CFLAGS) $(MNL_CFLAGS)
failover_libbwfailover_a_SOURCES = %reldir%/loop.c %reldir%/loop.h
failover_libbwfailover_a_SOURCES += %reldir%/ops.c %reldir%/ops.h \
	%reldir%/service.c %reldir%/service.h \
	%reldir%/addr.c %reldir%/addr.h

check_PROGRAMS += tests/unit/test_loop
TESTS += tests/unit/test_loop
tests_unit_test_loop_SOURCES = tests/unit/test_loop.c
tests_unit_test_loop_CFLAGS = $(BW_TEST_CFLAGS)
tests_unit_test_loop_LDADD = failover/libbwfailover.a lib/libbwcore.a $(BW_CORE_LIBS) $(MNL_LIBS) $(CHECK_LIBS)

check_PROGRAMS += tests/unit/test_service
TESTS += tests/unit/test_service
tests_unit_test_service_SOURCES = tests/unit/test_service.c
tests_unit_test_service_CFLAGS = $(BW_TEST_CFLAGS)
tests_unit_test_service_LDADD = failover/libbwfailover.a lib/libbwcore.a $(BW_CORE_LIBS) $(MNL_LIBS) $(CHECK_LIBS)

failover_libbwfailover_a_SOURCES += %reldir%/health.c %reldir%/health.h
check_PROGRAMS += tests/unit/test_health
TESTS += tests/unit/test_health
tests_unit_test_health_SOURCES = tests/unit/test_health.c
tests_unit_test_health_CFLAGS = $(BW_TEST_CFLAGS)
tests_unit_test_health_LDADD = failover/libbwfailover.a lib/libbwcore.a $(BW_CORE_LIBS) $(MNL_LIBS) $(CHECK_LIBS)

if FUZZING
noinst_PROGRAMS += tests/fuzz/fuzz_http
tests_fuzz_fuzz_http_SOURCES = tests/fuzz/fuzz_http.c
tests_fuzz_fuzz_http_LDADD = failover/libbwfailover.a lib/libbwcore.a $(BW_CORE_LIBS)
tests_fuzz_fuzz_http_LDFLAGS = -fsanitize=fuzzer,address,undefined
noinst_PROGRAMS += tests/fuzz/fuzz_addr_frame
tests_fuzz_fuzz_addr_frame_SOURCES = tests/fuzz/fuzz_addr_frame.c
tests_fuzz_fuzz_addr_frame_LDADD = failover/libbwfailover.a lib/libbwcore.a $(BW_CORE_LIBS) $(MNL_LIBS)
tests_fuzz_fuzz_addr_frame_LDFLAGS = -fsanitize=fuzzer,address,undefined
endif

# bw-addr-tool: one address action from the shell, for tests/integration/addr.sh
check_PROGRAMS += failover/bw-addr-tool
failover_bw_addr_tool_SOURCES = %reldir%/addr_tool.c
failover_bw_addr_tool_LDADD = failover/libbwfailover.a lib/libbwcore.a $(BW_CORE_LIBS) $(MNL_LIBS)

check_PROGRAMS += tests/unit/test_addr
TESTS += tests/unit/test_addr
tests_unit_test_addr_SOURCES = tests/unit/test_addr.c
tests_unit_test_addr_CFLAGS = $(BW_TEST_CFLAGS)
tests_unit_test_addr_LDADD = failover/libbwfailover.a lib/libbwcore.a $(BW_CORE_LIBS) $(MNL_LIBS) $(CHECK_LIBS)

# The membership driver (the only user of corosync's headers) and its fake.
failover_libbwfailover_a_SOURCES += %reldir%/cluster.c %reldir%/cluster.h \
	%reldir%/cluster_internal.h %reldir%/cluster_base.c %reldir%/cluster_fake.c

check_PROGRAMS += tests/unit/test_cluster
TESTS += tests/unit/test_cluster
tests_unit_test_cluster_SOURCES = tests/unit/test_cluster.c
tests_unit_test_cluster_CFLAGS = $(BW_TEST_CFLAGS)
tests_unit_test_cluster_LDADD = failover/libbwfailover.a lib/libbwcore.a $(BW_CORE_LIBS) \
	$(COROSYNC_LIBS) $(CHECK_LIBS)

# The daemon: glue (placement, actions, history, control socket) and main.
failover_libbwfailover_a_SOURCES += %reldir%/daemon.c %reldir%/daemon.h
sbin_PROGRAMS += failover/bulwark-failoverd
failover_bulwark_failoverd_SOURCES = %reldir%/failoverd.c
failover_bulwark_failoverd_LDADD = failover/libbwfailover.a config/libbwconfig.a lib/libbwcore.a \
	$(BW_CORE_LIBS) $(COROSYNC_LIBS) $(MNL_LIBS)

# The decision core: CPG messages, placement, corosync.conf (pure: no
# corosync headers, no I/O).
failover_libbwfailover_a_SOURCES += %reldir%/msg.c %reldir%/msg.h \
	%reldir%/placement.c %reldir%/placement.h \
	%reldir%/corosync_conf.c %reldir%/corosync_conf.h

check_PROGRAMS += tests/unit/test_msg
TESTS += tests/unit/test_msg
tests_unit_test_msg_SOURCES = tests/unit/test_msg.c
tests_unit_test_msg_CFLAGS = $(BW_TEST_CFLAGS)
tests_unit_test_msg_LDADD = failover/libbwfailover.a lib/libbwcore.a \
	$(BW_CORE_LIBS) $(CHECK_LIBS)

check_PROGRAMS += tests/unit/test_placement
TESTS += tests/unit/test_placement
tests_unit_test_placement_SOURCES = tests/unit/test_placement.c
tests_unit_test_placement_CFLAGS = $(BW_TEST_CFLAGS)
tests_unit_test_placement_LDADD = failover/libbwfailover.a config/libbwconfig.a \
	lib/libbwcore.a $(BW_CORE_LIBS) $(CHECK_LIBS)

if FUZZING
noinst_PROGRAMS += tests/fuzz/fuzz_msg
tests_fuzz_fuzz_msg_SOURCES = tests/fuzz/fuzz_msg.c
tests_fuzz_fuzz_msg_LDADD = failover/libbwfailover.a lib/libbwcore.a $(BW_CORE_LIBS)
tests_fuzz_fuzz_msg_LDFLAGS = -fsanitize=fuzzer,address,undefined
endif

check_PROGRAMS += tests/unit/test_daemon
TESTS += tests/unit/test_daemon
tests_unit_test_daemon_SOURCES = tests/unit/test_daemon.c
tests_unit_test_daemon_CFLAGS = $(BW_TEST_CFLAGS)
tests_unit_test_daemon_LDADD = failover/libbwfailover.a config/libbwconfig.a lib/libbwcore.a \
	$(BW_CORE_LIBS) $(COROSYNC_LIBS) $(MNL_LIBS) $(CHECK_LIBS)

check_PROGRAMS += tests/unit/test_corosync_conf
TESTS += tests/unit/test_corosync_conf
tests_unit_test_corosync_conf_SOURCES = tests/unit/test_corosync_conf.c
tests_unit_test_corosync_conf_CFLAGS = $(BW_TEST_CFLAGS)
tests_unit_test_corosync_conf_LDADD = failover/libbwfailover.a config/libbwconfig.a \
	lib/libbwcore.a $(BW_CORE_LIBS) $(CHECK_LIBS)
EXTRA_DIST += tests/unit/corosync.conf.golden

# The systemd unit (paths filled in at build time).
systemdunitdir = $(prefix)/lib/systemd/system
systemdunit_DATA = failover/bulwark-failoverd.service
EXTRA_DIST += %reldir%/bulwark-failoverd.service.in
CLEANFILES += failover/bulwark-failoverd.service
failover/bulwark-failoverd.service: $(srcdir)/failover/bulwark-failoverd.service.in Makefile
	$(AM_V_GEN)$(MKDIR_P) failover && \
	sed -e 's|@sbindir[@]|$(sbindir)|g' $(srcdir)/failover/bulwark-failoverd.service.in >$@.tmp && \
	mv $@.tmp $@

EXTRA_DIST += docs/FAILOVERD.md
EXTRA_DIST += docs/FAILOVER.md
