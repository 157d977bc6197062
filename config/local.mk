# config/: parse and validate bulwark.conf
noinst_LIBRARIES += config/libbwconfig.a
config_libbwconfig_a_SOURCES = %reldir%/config.c %reldir%/config.h
# In config/, #include "config.h" finds config/config.h, so the build's
# config.h is included explicitly.
config_libbwconfig_a_CPPFLAGS = $(AM_CPPFLAGS) -include $(top_builddir)/config.h
config_libbwconfig_a_CFLAGS = $(AM_CFLAGS) $(INIH_CFLAGS)

dist_man_MANS += %reldir%/bulwark.conf.5
EXTRA_DIST += %reldir%/bulwark.conf.sample

check_PROGRAMS += tests/unit/test_config
TESTS += tests/unit/test_config
tests_unit_test_config_SOURCES = tests/unit/test_config.c
tests_unit_test_config_CFLAGS = $(BW_TEST_CFLAGS) $(INIH_CFLAGS)
tests_unit_test_config_LDADD = config/libbwconfig.a lib/libbwcore.a \
	$(BW_CORE_LIBS) $(CHECK_LIBS)

if FUZZING
noinst_PROGRAMS += tests/fuzz/fuzz_config
tests_fuzz_fuzz_config_SOURCES = tests/fuzz/fuzz_config.c
tests_fuzz_fuzz_config_CFLAGS = $(AM_CFLAGS) $(INIH_CFLAGS)
tests_fuzz_fuzz_config_LDADD = config/libbwconfig.a lib/libbwcore.a $(BW_CORE_LIBS)
tests_fuzz_fuzz_config_LDFLAGS = -fsanitize=fuzzer,address,undefined
endif
