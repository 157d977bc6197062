/*
 * libFuzzer harness: arbitrary bytes as an audit log (and, after a NUL, as
 * its head) must only ever give a verdict, never a crash.  The first input
 * byte picks whether a valid log's lines are kept in front (bit 0), so the
 * fuzzer also reaches the checks after a good chain, and whether to append
 * a record after the input (bit 1).
 */
#include "config.h"

#include <sys/stat.h>
#include <ftw.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "lib/audit/audit.h"
#include "lib/util/fsio.h"
#include "lib/util/log.h"

static char dir[64];
static struct audit *au;
static uint8_t *good;
static size_t goodlen;
static FILE *devnull;

static void
quiet(enum log_level lvl, const char *msg, void *arg)
{
	(void)lvl;
	(void)msg;
	(void)arg;
}

static int
rm_cb(const char *p, const struct stat *st, int t, struct FTW *f)
{
	(void)st;
	(void)t;
	(void)f;
	remove(p);
	return 0;
}

static void
cleanup(void)
{
	*strrchr(dir, '/') = 0;
	nftw(dir, rm_cb, 16, FTW_DEPTH | FTW_PHYS);
}

static void
init(void)
{
	char path[128];
	int i;

	log_set_sink(quiet, NULL);
	/* memory-backed when possible: appends fsync */
	strcpy(dir, "/dev/shm/bw-fuzz-audit-XXXXXX");
	if (mkdtemp(dir) == NULL) {
		strcpy(dir, "/tmp/bw-fuzz-audit-XXXXXX");
		if (mkdtemp(dir) == NULL)
			abort();
	}
	atexit(cleanup);
	strcat(dir, "/a");
	audit_test_set_time(1795528306123000000LL);
	if (audit_open(dir, &au) != 0)
		abort();
	for (i = 0; i < 3; i++)
		if (audit_append(au, "backup", "/srv/x", AUDIT_OK, "d") != 0)
			abort();
	snprintf(path, sizeof(path), "%s/log", dir);
	if (fsio_read_all(path, 1 << 20, &good, &goodlen) != 0)
		abort();
	devnull = fopen("/dev/null", "w");
}

static void
put(const char *name, const uint8_t *a, size_t an, const uint8_t *b, size_t bn)
{
	char path[128];
	FILE *f;

	snprintf(path, sizeof(path), "%s/%s", dir, name);
	if ((f = fopen(path, "w")) == NULL)
		abort();
	if (an)
		fwrite(a, 1, an, f);
	if (bn)
		fwrite(b, 1, bn, f);
	fclose(f);
}

static int
touch(const struct audit_record *r, void *arg)
{
	uint64_t *n = arg;

	*n += r->seq + strlen(r->time) + strlen(r->user) + strlen(r->host) +
	    strlen(r->action) + strlen(r->object) + strlen(r->outcome) +
	    strlen(r->detail);
	return 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	const uint8_t *nul;
	size_t loglen;
	char path[128];
	uint64_t n;

	if (au == NULL)
		init();
	if (size == 0)
		return 0;
	nul = memchr(data + 1, 0, size - 1);
	loglen = nul ? (size_t)(nul - (data + 1)) : size - 1;
	put("log", (data[0] & 1) ? good : NULL, (data[0] & 1) ? goodlen : 0,
	    data + 1, loglen);
	snprintf(path, sizeof(path), "%s/head", dir);
	if (nul)
		put("head", NULL, 0, nul + 1, size - 1 - loglen - 1);
	else
		unlink(path);
	(void)audit_verify(au, devnull, &n);
	(void)audit_each(au, touch, &n);
	/* appending chains to whatever tail the input left */
	if (data[0] & 2)
		(void)audit_append(au, "fuzz", "tail", AUDIT_OK, NULL);
	return 0;
}
