# lib/crypto: the only door to libsodium
lib_libbwcore_a_SOURCES += %reldir%/bwcrypto.c %reldir%/bwcrypto.h

check_PROGRAMS += tests/unit/test_bwcrypto
TESTS += tests/unit/test_bwcrypto
tests_unit_test_bwcrypto_SOURCES = tests/unit/test_bwcrypto.c
tests_unit_test_bwcrypto_CFLAGS = $(BW_TEST_CFLAGS)
tests_unit_test_bwcrypto_LDADD = lib/libbwcore.a $(BW_CORE_LIBS) $(CHECK_LIBS)
