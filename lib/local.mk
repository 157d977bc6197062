# lib/: the shared core, one static library linked by programs and tests alike.
noinst_LIBRARIES += lib/libbwcore.a
lib_libbwcore_a_SOURCES =
lib_libbwcore_a_CFLAGS = $(AM_CFLAGS) $(SODIUM_CFLAGS) $(CRYPTO_CFLAGS) $(ARCHIVE_CFLAGS) $(ZSTD_CFLAGS)

include %reldir%/util/local.mk
include %reldir%/crypto/local.mk
include %reldir%/chunk/local.mk
include %reldir%/fsent/local.mk
include %reldir%/repo/local.mk
include %reldir%/audit/local.mk
include %reldir%/ctl/local.mk
