/*
 * libFuzzer harness for the files cache loader.  Input layout:
 *   u16 n, then 40 bytes of metadata (dev, ino, size, mtime, ctime) to look
 *   up the path "/a" with, then n bytes of sigs file, then the files file.
 * The trailing SHA-256 of the files file is recomputed, so that the
 * fuzzer explores the parser rather than the hash check.  A hit is read,
 * carried forward and committed, like a backup would.
 */
#include "config.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "backupd/fcache.h"
#include "lib/crypto/bwcrypto.h"
#include "lib/util/buf.h"
#include "lib/util/log.h"

#define REPO "abcdef"

static char dir[64];
static char files[128], sigs[128];

static void
quiet(enum log_level lvl, const char *msg, void *arg)
{
	(void)lvl; (void)msg; (void)arg;
}

static int
write_file(const char *path, const uint8_t *p, size_t n)
{
	FILE *f = fopen(path, "wb");

	if (!f)
		return -1;
	if (n && fwrite(p, 1, n, f) != n) {
		fclose(f);
		return -1;
	}
	return fclose(f);
}

/* Leaves nothing behind in /tmp when the fuzzer exits. */
static void
cleanup(void)
{
	char sub[96];

	unlink(files);
	unlink(sigs);
	snprintf(sub, sizeof(sub), "%s/" REPO, dir);
	rmdir(sub);
	rmdir(dir);
}

static void
init_once(void)
{
	char sub[96];

	if (dir[0])
		return;
	if (bwcrypto_init())
		abort();
	log_set_sink(quiet, NULL);
	snprintf(dir, sizeof(dir), "/tmp/fuzz_fcache.XXXXXX");
	if (!mkdtemp(dir))
		abort();
	snprintf(sub, sizeof(sub), "%s/" REPO, dir);
	mkdir(sub, 0700);
	snprintf(files, sizeof(files), "%s/files", sub);
	snprintf(sigs, sizeof(sigs), "%s/sigs", sub);
	atexit(cleanup);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct fcache_meta m;
	struct fcache_hit hit;
	struct fcache *c = NULL;
	struct buf b = { 0 };
	uint8_t *img = NULL;
	size_t n, flen;
	struct bufr r;
	volatile unsigned sum = 0;

	init_once();
	bufr_init(&r, data, size);
	n = bufr_u16(&r);
	m.dev = bufr_u64(&r);
	m.ino = bufr_u64(&r);
	m.size = bufr_u64(&r);
	m.mtime_ns = bufr_i64(&r);
	m.ctime_ns = bufr_i64(&r);
	if (r.err || bufr_left(&r) < n)
		return 0;
	if (write_file(sigs, bufr_get(&r, n), n))
		abort();
	flen = bufr_left(&r);
	if ((img = malloc(flen + 1)) == NULL)
		abort();
	memcpy(img, bufr_get(&r, flen), flen);
	if (flen > BWC_ID)
		(void)bwcrypto_sha(img + flen - BWC_ID, NULL, img, flen - BWC_ID);
	if (write_file(files, img, flen))
		abort();
	free(img);

	if (fcache_open(dir, REPO, 1, &c))
		return 0;
	if (fcache_lookup(c, "/a", &m, &hit) == 0) {
		for (n = 0; n < hit.content_len; n++)
			sum += hit.content[n];	/* every byte must be readable */
		fcache_sig_read(c, &hit, &b);
		fcache_put_hit(c, "/a", &hit);
		/* Committing fsyncs: only worth it when there was a hit. */
		fcache_put(c, "/b", &m, "x", 1, "sig", 3);
		fcache_commit(c, 1);
	}
	(void)sum;
	fcache_free(c);
	buf_free(&b);
	return 0;
}
