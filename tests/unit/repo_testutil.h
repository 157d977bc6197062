/* Helpers shared by the repository unit tests. */
#ifndef BW_TEST_REPO_TESTUTIL_H
#define BW_TEST_REPO_TESTUTIL_H

#include <check.h>
#include <ftw.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "lib/crypto/bwcrypto.h"
#include "lib/repo/repo.h"
#include "lib/util/err.h"
#include "lib/util/log.h"

static const struct repo_kdf test_kdf = { BWC_PWHASH_OPS_MIN, BWC_PWHASH_MEM_MIN };

/* The last error message logged, for asserting what operators see. */
static char last_error[2048];

static void
capture_sink(enum log_level lvl, const char *msg, void *arg)
{
	(void)arg;
	if (lvl == LOG_LVL_ERROR)
		snprintf(last_error, sizeof(last_error), "%s", msg);
}

static void
quiet_logs(void)
{
	log_set_sink(capture_sink, NULL);
	last_error[0] = 0;
}

static int
rm_cb(const char *p, const struct stat *sb, int flag, struct FTW *ftw)
{
	(void)sb; (void)flag; (void)ftw;
	return remove(p);
}

static void
rm_rf(const char *path)
{
	nftw(path, rm_cb, 16, FTW_DEPTH | FTW_PHYS);
}

/* A fresh temporary directory; *repo is DIR/repo (not created). */
static char *
make_tmp(char **repo)
{
	char tmpl[] = "/tmp/bwtest-XXXXXX";
	char *d = mkdtemp(tmpl);

	ck_assert_ptr_nonnull(d);
	d = strdup(d);
	if (repo) {
		*repo = malloc(strlen(d) + 8);
		sprintf(*repo, "%s/repo", d);
	}
	return d;
}

/* Deterministic pseudo-random, incompressible object contents. */
static void
fill_obj(uint8_t *p, size_t n, uint32_t seed)
{
	uint64_t x = 0x9e3779b97f4a7c15ULL * (seed + 1);
	size_t i;

	for (i = 0; i < n; i++) {
		x ^= x << 13;
		x ^= x >> 7;
		x ^= x << 17;
		p[i] = (uint8_t)x;
	}
}

static void
fill_snap(struct snap_info *s, const uint8_t root[OBJ_ID_LEN], int64_t t)
{
	static char *paths[] = { "/srv/www" };

	memset(s, 0, sizeof(*s));
	s->time_ns = t;
	s->end_ns = t + 1000;
	s->host = "node1";
	s->user = "root";
	s->set = "www";
	s->paths = paths;
	s->npaths = 1;
	memcpy(s->root, root, OBJ_ID_LEN);
	s->files = 3;
}

#endif
