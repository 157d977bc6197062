# lib/audit: the tamper-evident audit log
lib_libbwcore_a_SOURCES += %reldir%/audit.c %reldir%/audit.h

check_PROGRAMS += tests/unit/test_audit
TESTS += tests/unit/test_audit
tests_unit_test_audit_SOURCES = tests/unit/test_audit.c
tests_unit_test_audit_CFLAGS = $(BW_TEST_CFLAGS)
tests_unit_test_audit_LDADD = lib/libbwcore.a $(BW_CORE_LIBS) $(CHECK_LIBS)

if FUZZING
noinst_PROGRAMS += tests/fuzz/fuzz_audit
tests_fuzz_fuzz_audit_SOURCES = tests/fuzz/fuzz_audit.c
tests_fuzz_fuzz_audit_LDADD = lib/libbwcore.a $(BW_CORE_LIBS)
tests_fuzz_fuzz_audit_LDFLAGS = -fsanitize=fuzzer,address,undefined
endif
