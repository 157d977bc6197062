#include "config.h"

#include <check.h>
#include <dirent.h>
#include <ftw.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "backupd/fcache.h"
#include "lib/crypto/bwcrypto.h"
#include "lib/util/buf.h"
#include "lib/util/err.h"
#include "lib/util/log.h"

#define S INT64_C(1000000000)
#define REPO "00ff3a"
#define START (INT64_C(1795000000) * S)	/* start of the recorded backup */

static char tmpdir[64];
static char cachedir[128];
static char files[192], sigs[192];
static unsigned long nwarn;
static char lastwarn[512];

static void
sink(enum log_level lvl, const char *msg, void *arg)
{
	(void)arg;
	if (lvl == LOG_LVL_WARN) {
		nwarn++;
		snprintf(lastwarn, sizeof(lastwarn), "%s", msg);
	}
}

static int
rm_one(const char *p, const struct stat *st, int flag, struct FTW *f)
{
	(void)st; (void)flag; (void)f;
	return remove(p);
}

static void
setup(void)
{
	ck_assert_int_eq(bwcrypto_init(), 0);
	snprintf(tmpdir, sizeof(tmpdir), "/tmp/test_fcache.XXXXXX");
	ck_assert_ptr_nonnull(mkdtemp(tmpdir));
	snprintf(cachedir, sizeof(cachedir), "%s/cache", tmpdir);
	snprintf(files, sizeof(files), "%s/" REPO "/files", cachedir);
	snprintf(sigs, sizeof(sigs), "%s/" REPO "/sigs", cachedir);
	nwarn = 0;
	lastwarn[0] = 0;
	log_set_sink(sink, NULL);
	log_set_level(LOG_LVL_DEBUG);
}

static void
teardown(void)
{
	log_set_sink(NULL, NULL);
	log_set_level(LOG_LVL_INFO);
	nftw(tmpdir, rm_one, 16, FTW_DEPTH | FTW_PHYS);
}

/* Metadata of a file that last changed well before START. */
static struct fcache_meta
meta(uint64_t i)
{
	struct fcache_meta m = {
		.dev = 2049, .ino = 1000 + i, .size = 4096 * i,
		.mtime_ns = START - 3600 * S + (int64_t)i,
		.ctime_ns = START - 3600 * S + (int64_t)i + 7,
	};

	return m;
}

static struct fcache *
open_gen(uint64_t gen)
{
	struct fcache *c = NULL;

	ck_assert_int_eq(fcache_open(cachedir, REPO, gen, &c), 0);
	ck_assert_ptr_nonnull(c);
	return c;
}

static void
put(struct fcache *c, const char *path, uint64_t i, const char *content,
    const char *sig)
{
	struct fcache_meta m = meta(i);

	ck_assert_int_eq(fcache_put(c, path, &m, content, strlen(content), sig,
	    sig ? strlen(sig) : 0), 0);
}

/* Writes the usual three entries under generation 5 and commits. */
static void
write_three(void)
{
	struct fcache *c = open_gen(5);

	put(c, "/srv/www/index.html", 1, "content-1", NULL);
	put(c, "/srv/www/big.iso", 2, "content-2", "rsync-signature-of-big");
	put(c, "/srv/www/a b\n\xff", 3, "", NULL);	/* any bytes but NUL */
	ck_assert_uint_eq(fcache_count_new(c), 3);
	ck_assert_int_eq(fcache_commit(c, START), 0);
	fcache_free(c);
}

static int
lookup(struct fcache *c, const char *path, uint64_t i, struct fcache_hit *h)
{
	struct fcache_meta m = meta(i);

	return fcache_lookup(c, path, &m, h);
}

static size_t
dir_entries(const char *path)
{
	struct dirent *de;
	DIR *d = opendir(path);
	size_t n = 0;

	ck_assert_ptr_nonnull(d);
	while ((de = readdir(d)) != NULL)
		n += strcmp(de->d_name, ".") != 0 && strcmp(de->d_name, "..") != 0;
	closedir(d);
	return n;
}

static void
flip(const char *path, long at)
{
	FILE *f = fopen(path, "r+b");
	int ch;

	ck_assert_ptr_nonnull(f);
	ck_assert_int_eq(fseek(f, at, SEEK_SET), 0);
	ch = fgetc(f);
	ck_assert_int_ne(ch, EOF);
	ck_assert_int_eq(fseek(f, at, SEEK_SET), 0);
	fputc(ch ^ 0x01, f);
	fclose(f);
}

static long
file_size(const char *path)
{
	struct stat st;

	ck_assert_int_eq(stat(path, &st), 0);
	return (long)st.st_size;
}

START_TEST(test_round_trip)
{
	struct fcache_hit h;
	struct fcache *c;
	struct buf b = { 0 };
	struct stat st;
	char dir[160];

	c = open_gen(5);
	ck_assert_uint_eq(fcache_count_old(c), 0);
	ck_assert_int_eq(fcache_prev_start(c), 0);
	fcache_free(c);
	write_three();
	ck_assert_int_eq(stat(files, &st), 0);
	ck_assert_int_eq(st.st_mode & 0777, 0600);
	ck_assert_int_eq(stat(sigs, &st), 0);
	ck_assert_int_eq(st.st_mode & 0777, 0600);
	snprintf(dir, sizeof(dir), "%s/" REPO, cachedir);
	ck_assert_int_eq(stat(dir, &st), 0);
	ck_assert_int_eq(st.st_mode & 0777, 0700);
	ck_assert_uint_eq(dir_entries(dir), 2);	/* no temp files left */

	c = open_gen(5);
	ck_assert_uint_eq(fcache_count_old(c), 3);
	ck_assert_int_eq(fcache_prev_start(c), START);
	ck_assert_int_eq(lookup(c, "/srv/www/index.html", 1, &h), 0);
	ck_assert_uint_eq(h.content_len, 9);
	ck_assert_int_eq(memcmp(h.content, "content-1", 9), 0);
	ck_assert_uint_eq(h.sig_len, 0);
	ck_assert_uint_eq(h.generation, 5);
	ck_assert_uint_eq(h.meta.ino, 1001);
	ck_assert_int_eq(fcache_sig_read(c, &h, &b), BW_ERR_NOENT);

	ck_assert_int_eq(lookup(c, "/srv/www/big.iso", 2, &h), 0);
	ck_assert_int_eq(memcmp(h.content, "content-2", 9), 0);
	ck_assert_uint_eq(h.sig_len, 22);
	ck_assert_int_eq(fcache_sig_read(c, &h, &b), 0);
	ck_assert_uint_eq(b.len, 22);
	ck_assert_int_eq(memcmp(b.data, "rsync-signature-of-big", 22), 0);

	ck_assert_int_eq(lookup(c, "/srv/www/a b\n\xff", 3, &h), 0);
	ck_assert_uint_eq(h.content_len, 0);
	ck_assert_int_eq(lookup(c, "/srv/www/missing", 1, &h), BW_ERR_NOENT);
	ck_assert_int_eq(lookup(c, "/srv/www/index.htm", 1, &h), BW_ERR_NOENT);
	fcache_free(c);
	buf_free(&b);
	ck_assert_uint_eq(nwarn, 0);
}
END_TEST

START_TEST(test_metadata_mismatch)
{
	struct fcache_meta m;
	struct fcache_hit h;
	struct fcache *c;
	int field;

	write_three();
	c = open_gen(5);
	for (field = 0; field < 5; field++) {
		m = meta(1);
		switch (field) {
		case 0: m.dev++; break;
		case 1: m.ino++; break;
		case 2: m.size--; break;
		case 3: m.mtime_ns++; break;
		case 4: m.ctime_ns--; break;
		}
		ck_assert_int_eq(fcache_lookup(c, "/srv/www/index.html", &m, &h),
		    BW_ERR_NOENT);
	}
	m = meta(1);
	ck_assert_int_eq(fcache_lookup(c, "/srv/www/index.html", &m, &h), 0);
	fcache_free(c);
}
END_TEST

/* A changed file still finds its previous signature for a delta. */
START_TEST(test_find_changed_file)
{
	struct fcache_meta m = meta(2);
	struct fcache_hit h;
	struct fcache *c;
	struct buf b = { 0 };

	write_three();
	c = open_gen(5);
	m.size += 100;
	m.mtime_ns += S;
	ck_assert_int_eq(fcache_lookup(c, "/srv/www/big.iso", &m, &h),
	    BW_ERR_NOENT);
	ck_assert_int_eq(fcache_find(c, "/srv/www/big.iso", &h), 0);
	ck_assert_uint_eq(h.meta.size, meta(2).size);
	ck_assert_uint_eq(h.sig_len, 22);
	ck_assert_int_eq(fcache_sig_read(c, &h, &b), 0);
	ck_assert_int_eq(memcmp(b.data, "rsync-signature-of-big", 22), 0);
	ck_assert_int_eq(fcache_find(c, "/srv/www/nope", &h), BW_ERR_NOENT);
	fcache_free(c);
	buf_free(&b);
}
END_TEST

START_TEST(test_racy_ctime)
{
	struct fcache_meta m = meta(1);
	struct fcache_hit h;
	struct fcache *c = open_gen(5);
	static const struct { int64_t ctime; int hit; } t[] = {
		{ START - S - 1, 1 },
		{ START - S, 1 },		/* exactly 1 s before: safe */
		{ START - S + 1, 0 },		/* same second: racy */
		{ START - 1, 0 },
		{ START, 0 },
		{ START + 3600 * S, 0 },	/* changed after the start */
	};
	char path[32];
	size_t i;

	for (i = 0; i < sizeof(t) / sizeof(t[0]); i++) {
		snprintf(path, sizeof(path), "/f%zu", i);
		m.ctime_ns = t[i].ctime;
		ck_assert_int_eq(fcache_put(c, path, &m, "x", 1, NULL, 0), 0);
	}
	ck_assert_int_eq(fcache_commit(c, START), 0);
	fcache_free(c);

	c = open_gen(5);
	for (i = 0; i < sizeof(t) / sizeof(t[0]); i++) {
		snprintf(path, sizeof(path), "/f%zu", i);
		m.ctime_ns = t[i].ctime;
		ck_assert_int_eq(fcache_lookup(c, path, &m, &h),
		    t[i].hit ? 0 : BW_ERR_NOENT);
	}
	fcache_free(c);
}
END_TEST

START_TEST(test_generation_change_drops)
{
	struct fcache_hit h;
	struct fcache *c;

	write_three();
	c = open_gen(6);
	ck_assert_uint_eq(fcache_count_old(c), 0);
	ck_assert_int_eq(fcache_prev_start(c), 0);
	ck_assert_int_eq(lookup(c, "/srv/www/index.html", 1, &h), BW_ERR_NOENT);
	/* Expected after a prune: no warning. */
	ck_assert_uint_eq(nwarn, 0);
	put(c, "/new", 9, "n", NULL);
	ck_assert_int_eq(fcache_commit(c, START), 0);
	fcache_free(c);

	c = open_gen(6);
	ck_assert_uint_eq(fcache_count_old(c), 1);
	ck_assert_int_eq(lookup(c, "/new", 9, &h), 0);
	ck_assert_uint_eq(h.generation, 6);
	fcache_free(c);
}
END_TEST

START_TEST(test_deleted_paths_vanish)
{
	struct fcache_hit h;
	struct fcache *c;
	struct buf b = { 0 };

	write_three();
	/* Second backup: index.html is gone, big.iso unchanged. */
	c = open_gen(5);
	ck_assert_int_eq(lookup(c, "/srv/www/big.iso", 2, &h), 0);
	ck_assert_int_eq(fcache_put_hit(c, "/srv/www/big.iso", &h), 0);
	ck_assert_int_eq(lookup(c, "/srv/www/a b\n\xff", 3, &h), 0);
	ck_assert_int_eq(fcache_put_hit(c, "/srv/www/a b\n\xff", &h), 0);
	ck_assert_int_eq(fcache_commit(c, START + 86400 * S), 0);
	fcache_free(c);

	c = open_gen(5);
	ck_assert_uint_eq(fcache_count_old(c), 2);
	ck_assert_int_eq(fcache_prev_start(c), START + 86400 * S);
	ck_assert_int_eq(lookup(c, "/srv/www/index.html", 1, &h), BW_ERR_NOENT);
	ck_assert_int_eq(lookup(c, "/srv/www/big.iso", 2, &h), 0);
	ck_assert_int_eq(memcmp(h.content, "content-2", 9), 0);
	/* The signature was carried forward into the new sigs file. */
	ck_assert_int_eq(fcache_sig_read(c, &h, &b), 0);
	ck_assert_uint_eq(b.len, 22);
	ck_assert_int_eq(memcmp(b.data, "rsync-signature-of-big", 22), 0);
	fcache_free(c);
	buf_free(&b);
}
END_TEST

START_TEST(test_put_twice_last_wins)
{
	struct fcache_meta m = meta(1);
	struct fcache_hit h;
	struct fcache *c = open_gen(1);

	put(c, "/a", 1, "first", "sig-1");
	put(c, "/b", 2, "bee", NULL);
	m.size = 1;
	ck_assert_int_eq(fcache_put(c, "/a", &m, "second", 6, NULL, 0), 0);
	ck_assert_uint_eq(fcache_count_new(c), 2);
	ck_assert_int_eq(fcache_commit(c, START), 0);
	fcache_free(c);

	c = open_gen(1);
	ck_assert_uint_eq(fcache_count_old(c), 2);
	ck_assert_int_eq(fcache_lookup(c, "/a", &m, &h), 0);
	ck_assert_int_eq(memcmp(h.content, "second", 6), 0);
	ck_assert_uint_eq(h.sig_len, 0);
	ck_assert_int_eq(lookup(c, "/b", 2, &h), 0);
	fcache_free(c);
}
END_TEST

/* Every single flipped bit anywhere in the file discards the cache. */
START_TEST(test_damaged_discarded)
{
	struct fcache_hit h;
	struct fcache *c;
	long at, size;

	write_three();
	size = file_size(files);
	for (at = 0; at < size; at++) {
		flip(files, at);
		nwarn = 0;
		c = open_gen(5);
		ck_assert_uint_eq(fcache_count_old(c), 0);
		ck_assert_int_eq(lookup(c, "/srv/www/index.html", 1, &h),
		    BW_ERR_NOENT);
		ck_assert_uint_eq(nwarn, 1);
		ck_assert_ptr_nonnull(strstr(lastwarn, files));
		ck_assert_ptr_nonnull(strstr(lastwarn, "the next backup reads every file"));
		fcache_free(c);
		flip(files, at);
	}
	c = open_gen(5);
	ck_assert_uint_eq(fcache_count_old(c), 3);
	fcache_free(c);
}
END_TEST

START_TEST(test_truncated_and_empty)
{
	struct fcache *c;
	long size, len;

	write_three();
	size = file_size(files);
	for (len = size - 1; len >= 0; len -= 7) {
		ck_assert_int_eq(truncate(files, len), 0);
		nwarn = 0;
		c = open_gen(5);
		ck_assert_uint_eq(fcache_count_old(c), 0);
		ck_assert_uint_eq(nwarn, 1);
		fcache_free(c);
	}
	ck_assert_int_eq(truncate(files, 0), 0);
	nwarn = 0;
	c = open_gen(5);
	ck_assert_uint_eq(nwarn, 1);
	ck_assert_ptr_nonnull(strstr(lastwarn, "damaged"));
	fcache_free(c);
}
END_TEST

START_TEST(test_foreign_version_discarded)
{
	struct fcache *c;

	write_three();
	flip(files, 9);	/* version 2 -> 258 */
	c = open_gen(5);
	ck_assert_uint_eq(fcache_count_old(c), 0);
	ck_assert_uint_eq(nwarn, 1);
	ck_assert_ptr_nonnull(strstr(lastwarn, "unknown version 258"));
	fcache_free(c);
}
END_TEST

START_TEST(test_damaged_signature)
{
	struct fcache_hit h;
	struct fcache *c;
	struct buf b = { 0 };

	write_three();
	flip(sigs, file_size(sigs) - 3);
	c = open_gen(5);
	ck_assert_int_eq(lookup(c, "/srv/www/big.iso", 2, &h), 0);
	ck_assert_int_eq(fcache_sig_read(c, &h, &b), BW_ERR_CORRUPT);
	ck_assert_uint_eq(b.len, 0);
	ck_assert_uint_eq(nwarn, 1);
	ck_assert_ptr_nonnull(strstr(lastwarn, "/srv/www/big.iso"));
	/* Carried forward without the bad signature. */
	ck_assert_int_eq(fcache_put_hit(c, "/srv/www/big.iso", &h), 0);
	ck_assert_int_eq(fcache_commit(c, START), 0);
	fcache_free(c);

	c = open_gen(5);
	ck_assert_int_eq(lookup(c, "/srv/www/big.iso", 2, &h), 0);
	ck_assert_uint_eq(h.sig_len, 0);
	fcache_free(c);
	buf_free(&b);
}
END_TEST

START_TEST(test_truncated_sigs_file)
{
	struct fcache_hit h;
	struct fcache *c;
	struct buf b = { 0 };

	write_three();
	ck_assert_int_eq(truncate(sigs, file_size(sigs) - 1), 0);
	c = open_gen(5);
	ck_assert_int_eq(lookup(c, "/srv/www/big.iso", 2, &h), 0);
	ck_assert_int_eq(fcache_sig_read(c, &h, &b), BW_ERR_CORRUPT);
	ck_assert_uint_eq(b.len, 0);
	ck_assert_uint_eq(nwarn, 1);
	ck_assert_int_eq(fcache_put_hit(c, "/srv/www/big.iso", &h), 0);
	ck_assert_uint_eq(nwarn, 2);
	ck_assert_int_eq(fcache_commit(c, START), 0);
	fcache_free(c);
	buf_free(&b);
}
END_TEST

START_TEST(test_sigs_file_of_another_cache)
{
	struct fcache_hit h;
	struct fcache *c;
	struct buf b = { 0 };
	char saved[220];

	write_three();
	snprintf(saved, sizeof(saved), "%s/sigs.saved", tmpdir);
	ck_assert_int_eq(rename(sigs, saved), 0);
	write_three();
	/* A sigs file from another commit: signatures unusable, entries fine. */
	ck_assert_int_eq(rename(saved, sigs), 0);
	c = open_gen(5);
	ck_assert_uint_eq(fcache_count_old(c), 3);
	ck_assert_int_eq(lookup(c, "/srv/www/big.iso", 2, &h), 0);
	ck_assert_uint_eq(h.sig_len, 0);
	ck_assert_int_eq(fcache_sig_read(c, &h, &b), BW_ERR_NOENT);
	fcache_free(c);
	ck_assert_int_eq(unlink(sigs), 0);
	c = open_gen(5);
	ck_assert_int_eq(lookup(c, "/srv/www/big.iso", 2, &h), 0);
	ck_assert_uint_eq(h.sig_len, 0);
	fcache_free(c);
	buf_free(&b);
	ck_assert_uint_eq(nwarn, 0);
}
END_TEST

START_TEST(test_free_without_commit_keeps_old)
{
	struct fcache_hit h;
	struct fcache *c;
	char dir[160];

	write_three();
	c = open_gen(5);
	put(c, "/other", 1, "x", "a signature");
	fcache_free(c);	/* backup aborted */
	snprintf(dir, sizeof(dir), "%s/" REPO, cachedir);
	ck_assert_uint_eq(dir_entries(dir), 2);
	c = open_gen(5);
	ck_assert_uint_eq(fcache_count_old(c), 3);
	ck_assert_int_eq(lookup(c, "/other", 1, &h), BW_ERR_NOENT);
	fcache_free(c);
	fcache_free(NULL);
}
END_TEST

START_TEST(test_bad_arguments)
{
	struct fcache_meta m = meta(1);
	struct fcache *c = NULL;
	struct fcache_hit h;

	ck_assert_int_eq(fcache_open(cachedir, "../etc", 1, &c), BW_ERR_INVAL);
	ck_assert_ptr_null(c);
	ck_assert_int_eq(fcache_open(cachedir, "", 1, &c), BW_ERR_INVAL);
	c = open_gen(1);
	ck_assert_int_eq(fcache_put(c, "relative/path", &m, "x", 1, NULL, 0),
	    BW_ERR_INVAL);
	ck_assert_int_eq(fcache_put(c, "", &m, "x", 1, NULL, 0), BW_ERR_INVAL);
	ck_assert_uint_eq(fcache_count_new(c), 0);
	ck_assert_int_eq(fcache_commit(c, START), 0);
	ck_assert_int_eq(fcache_commit(c, START), BW_ERR_INVAL);
	ck_assert_int_eq(fcache_lookup(c, "/x", &m, &h), BW_ERR_NOENT);
	fcache_free(c);
}
END_TEST

/* A large tree: 100,000 files through a full backup cycle. */
START_TEST(test_many_entries)
{
	const size_t n = 100000;
	struct fcache_meta m;
	struct fcache_hit h;
	struct fcache *c;
	char path[64], content[48];
	size_t i;

	c = open_gen(3);
	for (i = 0; i < n; i++) {
		snprintf(path, sizeof(path), "/data/d%03zu/file-%zu", i % 997, i);
		snprintf(content, sizeof(content), "descriptor-%zu", i);
		m = meta(i);
		ck_assert_int_eq(fcache_put(c, path, &m, content,
		    strlen(content), (i % 100) ? NULL : content,
		    (i % 100) ? 0 : strlen(content)), 0);
	}
	ck_assert_int_eq(fcache_commit(c, START), 0);
	fcache_free(c);

	c = open_gen(3);
	ck_assert_uint_eq(fcache_count_old(c), n);
	for (i = 0; i < n; i++) {
		snprintf(path, sizeof(path), "/data/d%03zu/file-%zu", i % 997, i);
		snprintf(content, sizeof(content), "descriptor-%zu", i);
		m = meta(i);
		if (i % 10 == 9)
			m.mtime_ns++;	/* changed since */
		if (i % 10 == 9) {
			ck_assert_int_eq(fcache_lookup(c, path, &m, &h),
			    BW_ERR_NOENT);
			ck_assert_int_eq(fcache_put(c, path, &m, "new", 3,
			    NULL, 0), 0);
			continue;
		}
		ck_assert_int_eq(fcache_lookup(c, path, &m, &h), 0);
		ck_assert_uint_eq(h.content_len, strlen(content));
		ck_assert_int_eq(memcmp(h.content, content, h.content_len), 0);
		ck_assert_uint_eq(h.sig_len, (i % 100) ? 0 : strlen(content));
		ck_assert_int_eq(fcache_put_hit(c, path, &h), 0);
	}
	ck_assert_int_eq(fcache_commit(c, START + 86400 * S), 0);
	fcache_free(c);

	c = open_gen(3);
	ck_assert_uint_eq(fcache_count_old(c), n);
	m = meta(200);
	ck_assert_int_eq(fcache_lookup(c, "/data/d200/file-200", &m, &h), 0);
	fcache_free(c);
}
END_TEST

/* The new cache goes to a scratch file once it outgrows memory; paths put
 * again (early ones already written out, late ones still in memory, in any
 * order) keep only their last entry, and no scratch file is left. */
START_TEST(test_put_twice_after_flush)
{
	const size_t n = 20000;	/* ~2.5 MiB of entries: several flushes */
	static const size_t again[] = { 19999, 5, 12000, 0, 5 };
	char path[96], content[64], dir[600];
	struct fcache_meta m;
	struct fcache_hit h;
	struct fcache *c = open_gen(4);
	size_t i, k;

	for (i = 0; i < n; i++) {
		snprintf(path, sizeof(path), "/srv/a-rather-long-directory-name/%06zu", i);
		snprintf(content, sizeof(content), "first-%zu", i);
		m = meta(i);
		ck_assert_int_eq(fcache_put(c, path, &m, content, strlen(content),
		    NULL, 0), 0);
	}
	for (k = 0; k < sizeof(again) / sizeof(again[0]); k++) {
		i = again[k];
		snprintf(path, sizeof(path), "/srv/a-rather-long-directory-name/%06zu", i);
		snprintf(content, sizeof(content), "again-%zu-%zu", i, k);
		m = meta(i);
		ck_assert_int_eq(fcache_put(c, path, &m, content, strlen(content),
		    NULL, 0), 0);
	}
	ck_assert_uint_eq(fcache_count_new(c), n);
	ck_assert_int_eq(fcache_commit(c, START), 0);
	fcache_free(c);
	snprintf(dir, sizeof(dir), "%s/%s", cachedir, REPO);
	ck_assert_uint_eq(dir_entries(dir), 2);	/* files and sigs; no scratch */

	c = open_gen(4);
	ck_assert_uint_eq(fcache_count_old(c), n);
	for (i = 0; i < n; i++) {
		snprintf(path, sizeof(path), "/srv/a-rather-long-directory-name/%06zu", i);
		if (i == 5)
			snprintf(content, sizeof(content), "again-5-4");
		else if (i == 19999 || i == 12000 || i == 0)
			snprintf(content, sizeof(content), "again-%zu-%d", i,
			    i == 19999 ? 0 : i == 12000 ? 2 : 3);
		else
			snprintf(content, sizeof(content), "first-%zu", i);
		ck_assert_int_eq(lookup(c, path, i, &h), 0);
		ck_assert_uint_eq(h.content_len, strlen(content));
		ck_assert_int_eq(memcmp(h.content, content, h.content_len), 0);
	}
	fcache_free(c);
}
END_TEST

static Suite *
fcache_suite(void)
{
	Suite *s = suite_create("fcache");
	TCase *tc = tcase_create("cache");

	tcase_add_checked_fixture(tc, setup, teardown);
	tcase_add_test(tc, test_round_trip);
	tcase_add_test(tc, test_metadata_mismatch);
	tcase_add_test(tc, test_find_changed_file);
	tcase_add_test(tc, test_racy_ctime);
	tcase_add_test(tc, test_generation_change_drops);
	tcase_add_test(tc, test_deleted_paths_vanish);
	tcase_add_test(tc, test_put_twice_last_wins);
	tcase_add_test(tc, test_damaged_discarded);
	tcase_add_test(tc, test_truncated_and_empty);
	tcase_add_test(tc, test_foreign_version_discarded);
	tcase_add_test(tc, test_damaged_signature);
	tcase_add_test(tc, test_truncated_sigs_file);
	tcase_add_test(tc, test_sigs_file_of_another_cache);
	tcase_add_test(tc, test_free_without_commit_keeps_old);
	tcase_add_test(tc, test_bad_arguments);
	tcase_add_test(tc, test_many_entries);
	tcase_add_test(tc, test_put_twice_after_flush);
	suite_add_tcase(s, tc);
	return s;
}

int
main(void)
{
	SRunner *sr = srunner_create(fcache_suite());
	int failed;

	srunner_run_all(sr, CK_NORMAL);
	failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}
