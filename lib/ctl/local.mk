# lib/ctl: the daemons' control socket (framing, requests, responses)
lib_libbwcore_a_SOURCES += %reldir%/ctl.c %reldir%/ctl.h

check_PROGRAMS += tests/unit/test_ctl
TESTS += tests/unit/test_ctl
tests_unit_test_ctl_SOURCES = tests/unit/test_ctl.c
tests_unit_test_ctl_CFLAGS = $(BW_TEST_CFLAGS)
tests_unit_test_ctl_LDADD = lib/libbwcore.a $(BW_CORE_LIBS) $(CHECK_LIBS)

if FUZZING
noinst_PROGRAMS += tests/fuzz/fuzz_ctl
tests_fuzz_fuzz_ctl_SOURCES = tests/fuzz/fuzz_ctl.c
tests_fuzz_fuzz_ctl_LDADD = lib/libbwcore.a $(BW_CORE_LIBS)
tests_fuzz_fuzz_ctl_LDFLAGS = -fsanitize=fuzzer,address,undefined
endif
