# failover/: bulwark-failoverd (corosync membership, placement, sites)
noinst_LIBRARIES += failover/libbwfailover.a
failover_libbwfailover_a_SOURCES =

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

check_PROGRAMS += tests/unit/test_corosync_conf
TESTS += tests/unit/test_corosync_conf
tests_unit_test_corosync_conf_SOURCES = tests/unit/test_corosync_conf.c
tests_unit_test_corosync_conf_CFLAGS = $(BW_TEST_CFLAGS)
tests_unit_test_corosync_conf_LDADD = failover/libbwfailover.a config/libbwconfig.a \
	lib/libbwcore.a $(BW_CORE_LIBS) $(CHECK_LIBS)
EXTRA_DIST += tests/unit/corosync.conf.golden

EXTRA_DIST += docs/FAILOVER.md
