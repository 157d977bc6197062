# lib/chunk: content-defined chunking and rsync deltas
lib_libbwcore_a_SOURCES += \
	%reldir%/cdc.c %reldir%/cdc.h \
	%reldir%/delta.c %reldir%/delta.h

check_PROGRAMS += tests/unit/test_cdc tests/unit/test_delta
TESTS += tests/unit/test_cdc tests/unit/test_delta
tests_unit_test_cdc_SOURCES = tests/unit/test_cdc.c
tests_unit_test_cdc_CFLAGS = $(BW_TEST_CFLAGS)
tests_unit_test_cdc_LDADD = lib/libbwcore.a $(BW_CORE_LIBS) $(CHECK_LIBS)
tests_unit_test_delta_SOURCES = tests/unit/test_delta.c
tests_unit_test_delta_CFLAGS = $(BW_TEST_CFLAGS)
tests_unit_test_delta_LDADD = lib/libbwcore.a $(BW_CORE_LIBS) $(CHECK_LIBS)

# Throughput of chunking and deltas: make bench/micro_chunk (with -O2) and
# run it by hand.
EXTRA_PROGRAMS += bench/micro_chunk
bench_micro_chunk_SOURCES = bench/micro_chunk.c
bench_micro_chunk_LDADD = lib/libbwcore.a $(BW_CORE_LIBS)

if FUZZING
noinst_PROGRAMS += tests/fuzz/fuzz_delta
tests_fuzz_fuzz_delta_SOURCES = tests/fuzz/fuzz_delta.c
tests_fuzz_fuzz_delta_LDADD = lib/libbwcore.a $(BW_CORE_LIBS)
tests_fuzz_fuzz_delta_LDFLAGS = -fsanitize=fuzzer,address,undefined
endif
