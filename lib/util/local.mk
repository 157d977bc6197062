# lib/util: errors, buffers, logging, durable file I/O
lib_libbwcore_a_SOURCES += \
	%reldir%/err.c %reldir%/err.h \
	%reldir%/buf.c %reldir%/buf.h \
	%reldir%/log.c %reldir%/log.h \
	%reldir%/fsio.c %reldir%/fsio.h

check_PROGRAMS += tests/unit/test_fsio tests/unit/test_buf
TESTS += tests/unit/test_fsio tests/unit/test_buf
tests_unit_test_fsio_SOURCES = tests/unit/test_fsio.c
tests_unit_test_fsio_CFLAGS = $(BW_TEST_CFLAGS)
tests_unit_test_fsio_LDADD = lib/libbwcore.a $(BW_CORE_LIBS) $(CHECK_LIBS)
tests_unit_test_buf_SOURCES = tests/unit/test_buf.c
tests_unit_test_buf_CFLAGS = $(BW_TEST_CFLAGS)
tests_unit_test_buf_LDADD = lib/libbwcore.a $(BW_CORE_LIBS) $(CHECK_LIBS)

# a bounded free list of large buffers (hot paths of the backup)
lib_libbwcore_a_SOURCES += %reldir%/bufpool.c %reldir%/bufpool.h

check_PROGRAMS += tests/unit/test_bufpool
TESTS += tests/unit/test_bufpool
tests_unit_test_bufpool_SOURCES = tests/unit/test_bufpool.c
tests_unit_test_bufpool_CFLAGS = $(BW_TEST_CFLAGS)
tests_unit_test_bufpool_LDADD = lib/libbwcore.a $(BW_CORE_LIBS) $(CHECK_LIBS)
