/* Helpers shared by the repository unit tests. */
#ifndef BW_TEST_REPO_TESTUTIL_H
#define BW_TEST_REPO_TESTUTIL_H

#include <check.h>
#include <ftw.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "lib/crypto/bwcrypto.h"
#include "lib/repo/repo.h"
#include "lib/util/err.h"
#include "lib/util/log.h"

static const struct repo_kdf test_kdf = { BWC_PWHASH_OPS_MIN, BWC_PWHASH_MEM_MIN };

/* The last error message logged, for asserting what operators see. */
static char last_error[2048];

static __attribute__((unused)) void
capture_sink(enum log_level lvl, const char *msg, void *arg)
{
	(void)arg;
	if (lvl == LOG_LVL_ERROR)
		snprintf(last_error, sizeof(last_error), "%s", msg);
}

static __attribute__((unused)) void
quiet_logs(void)
{
	log_set_sink(capture_sink, NULL);
	last_error[0] = 0;
}

static __attribute__((unused)) int
rm_cb(const char *p, const struct stat *sb, int flag, struct FTW *ftw)
{
	(void)sb; (void)flag; (void)ftw;
	return remove(p);
}

static __attribute__((unused)) void
rm_rf(const char *path)
{
	nftw(path, rm_cb, 16, FTW_DEPTH | FTW_PHYS);
}

/* A fresh temporary directory; *repo is DIR/repo (not created). */
static __attribute__((unused)) char *
make_tmp(char **repo)
{
	char tmpl[] = "/tmp/bwtest-XXXXXX";
	char *d = mkdtemp(tmpl);

	ck_assert_ptr_nonnull(d);
	if (repo)
		ck_assert_int_gt(asprintf(repo, "%s/repo", d), 0);
	d = strdup(d);
	ck_assert_ptr_nonnull(d);
	return d;
}

/* Deterministic pseudo-random, incompressible object contents. */
static __attribute__((unused)) void
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

static __attribute__((unused)) void
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

/* Copies the tree at from to to (files and directories only). */
static __attribute__((unused)) const char *copy_from, *copy_to;

static __attribute__((unused)) int
copy_cb(const char *p, const struct stat *sb, int flag, struct FTW *ftw)
{
	char dst[4096];
	FILE *in, *out;
	char b[65536];
	size_t n;

	(void)ftw;
	snprintf(dst, sizeof(dst), "%s%s", copy_to, p + strlen(copy_from));
	if (flag == FTW_D)
		return mkdir(dst, sb->st_mode & 07777) == 0 ? 0 : -1;
	if (flag != FTW_F)
		return 0;
	if ((in = fopen(p, "rb")) == NULL || (out = fopen(dst, "wb")) == NULL)
		return -1;
	while ((n = fread(b, 1, sizeof(b), in)) > 0)
		fwrite(b, 1, n, out);
	fclose(in);
	fclose(out);
	return chmod(dst, sb->st_mode & 07777);
}

static __attribute__((unused)) void
copy_tree(const char *from, const char *to)
{
	copy_from = from;
	copy_to = to;
	ck_assert_int_eq(nftw(from, copy_cb, 16, FTW_PHYS), 0);
}

#endif
