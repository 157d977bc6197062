/*
 * The restore engine against real repositories in fresh directories:
 * snapshots made by the backup engine come back byte for byte (chunked and
 * delta-stored files, one path, one file, patterns); hand-built hostile
 * snapshots write nothing outside the target and say why; a damaged object
 * fails only the files that use it; an interrupted restore finishes on a
 * second run; a dry run's totals are the real run's.
 */
#include "config.h"

#include <check.h>
#include <dirent.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "backupd/engine.h"
#include "lib/crypto/bwcrypto.h"
#include "lib/repo/tree.h"
#include "restore/restore.h"
#include "tests/unit/repo_testutil.h"

static char *top, *repodir;
static char src[512], cachedir[512], target[512];

static void
write_file(const char *dir, const char *rel, const void *p, size_t n)
{
	char path[1024];
	FILE *f;

	snprintf(path, sizeof(path), "%s/%s", dir, rel);
	ck_assert_ptr_nonnull(f = fopen(path, "wb"));
	ck_assert_uint_eq(fwrite(p, 1, n, f), n);
	fclose(f);
}

static uint8_t *
read_all(const char *path, size_t *n)
{
	struct stat sb;
	uint8_t *p;
	FILE *f;

	if (stat(path, &sb) != 0 || (f = fopen(path, "rb")) == NULL)
		return NULL;
	p = malloc((size_t)sb.st_size + 1);
	*n = fread(p, 1, (size_t)sb.st_size, f);
	fclose(f);
	return p;
}

static void
setup(void)
{
	top = make_tmp(&repodir);
	snprintf(src, sizeof(src), "%s/src", top);
	snprintf(cachedir, sizeof(cachedir), "%s/cache", top);
	snprintf(target, sizeof(target), "%s/target", top);
	quiet_logs();
	ck_assert_int_eq(repo_init(repodir, "test", "pw", 2, &test_kdf), 0);
}

static void
teardown(void)
{
	rm_rf(top);
	free(top);
	free(repodir);
	log_set_sink(NULL, NULL);
}

/* A source tree: small and large files, an empty one, a subdirectory,
 * a symlink and a hard link. */
static void
make_src(void)
{
	uint8_t *big = malloc(3 << 20);
	char path[1024], p2[2048];

	fill_obj(big, 3 << 20, 7);
	ck_assert_int_eq(mkdir(src, 0755), 0);
	snprintf(path, sizeof(path), "%s/sub", src);
	ck_assert_int_eq(mkdir(path, 0750), 0);
	snprintf(path, sizeof(path), "%s/sub/deeper", src);
	ck_assert_int_eq(mkdir(path, 0700), 0);
	write_file(src, "hello.txt", "hello, city portal\n", 19);
	write_file(src, "empty", "", 0);
	write_file(src, "big.bin", big, 3 << 20);
	write_file(src, "sub/copy.bin", big, 3 << 20);
	write_file(src, "sub/x.log", "x", 1);
	write_file(src, "sub/deeper/y.txt", "why\n", 4);
	snprintf(path, sizeof(path), "%s/link", src);
	ck_assert_int_eq(symlink("hello.txt", path), 0);
	snprintf(path, sizeof(path), "%s/hello.txt", src);
	snprintf(p2, sizeof(p2), "%s/sub/hard.txt", src);
	ck_assert_int_eq(link(path, p2), 0);
	free(big);
}

static int
backup(struct repo *r, int64_t start, struct snap_info *s)
{
	const char *paths[] = { src };
	struct backup_opts o = {
		.paths = paths, .npaths = 1, .cache_dir = cachedir, .workers = 2,
		.start_ns = start,
	};

	memset(s, 0, sizeof(*s));
	return backup_run(r, &o, s);
}

/* Compares two trees: names, types, file bytes, permission bits, file
 * mtimes (to the nanosecond) and link targets.  Returns entries compared. */
static int
compare_trees(const char *a, const char *b)
{
	struct dirent **ents = NULL;
	struct stat sa, sb;
	char pa[2048], pb[2048], la[1024], lb[1024];
	uint8_t *da, *db;
	size_t na, nb;
	int n, i, count = 0;
	ssize_t k;

	n = scandir(a, &ents, NULL, alphasort);
	ck_assert_int_ge(n, 0);
	for (i = 0; i < n; i++) {
		const char *nm = ents[i]->d_name;

		if (strcmp(nm, ".") == 0 || strcmp(nm, "..") == 0) {
			free(ents[i]);
			continue;
		}
		snprintf(pa, sizeof(pa), "%s/%s", a, nm);
		snprintf(pb, sizeof(pb), "%s/%s", b, nm);
		ck_assert_int_eq(lstat(pa, &sa), 0);
		ck_assert_msg(lstat(pb, &sb) == 0, "%s was not restored", pb);
		ck_assert_uint_eq(sa.st_mode & S_IFMT, sb.st_mode & S_IFMT);
		count++;
		if (S_ISLNK(sa.st_mode)) {
			k = readlink(pa, la, sizeof(la) - 1);
			la[k] = 0;
			k = readlink(pb, lb, sizeof(lb) - 1);
			lb[k] = 0;
			ck_assert_str_eq(la, lb);
		} else {
			ck_assert_uint_eq(sa.st_mode & 07777, sb.st_mode & 07777);
		}
		if (S_ISREG(sa.st_mode)) {
			da = read_all(pa, &na);
			db = read_all(pb, &nb);
			ck_assert_uint_eq(na, nb);
			ck_assert_msg(memcmp(da, db, na) == 0, "%s: bytes differ", pb);
			ck_assert_int_eq(sa.st_mtim.tv_sec, sb.st_mtim.tv_sec);
			ck_assert_int_eq(sa.st_mtim.tv_nsec, sb.st_mtim.tv_nsec);
			free(da);
			free(db);
		} else if (S_ISDIR(sa.st_mode)) {
			count += compare_trees(pa, pb);
		}
		free(ents[i]);
	}
	free(ents);
	return count;
}

static int
count_entries(const char *dir)
{
	struct dirent **ents = NULL;
	int n = scandir(dir, &ents, NULL, NULL), i, c = 0;
	char p[2048];
	struct stat sb;

	if (n < 0)
		return 0;
	for (i = 0; i < n; i++) {
		if (strcmp(ents[i]->d_name, ".") && strcmp(ents[i]->d_name, "..")) {
			c++;
			snprintf(p, sizeof(p), "%s/%s", dir, ents[i]->d_name);
			if (lstat(p, &sb) == 0 && S_ISDIR(sb.st_mode))
				c += count_entries(p);
		}
		free(ents[i]);
	}
	free(ents);
	return c;
}

/* Items reported, for assertions. */
struct items {
	char path[64][512];
	char reason[64][256];
	int what[64];
	int n;
	int stop_after;			/* progress: set stop after this many files */
	volatile sig_atomic_t stop;
};

static void
collect(const struct restore_item *it, void *arg)
{
	struct items *c = arg;

	if (c->n >= 64)
		return;
	snprintf(c->path[c->n], sizeof(c->path[0]), "%s", it->path);
	snprintf(c->reason[c->n], sizeof(c->reason[0]), "%s", it->reason ? it->reason : "");
	c->what[c->n++] = it->what;
}

static int
find_item(const struct items *c, const char *path, int what)
{
	int i;

	for (i = 0; i < c->n; i++)
		if (strcmp(c->path[i], path) == 0 && c->what[i] == what)
			return i;
	return -1;
}

static void
opts_init(struct restore_opts *o, const uint8_t id[32], const char *path, struct items *c)
{
	memset(o, 0, sizeof(*o));
	memcpy(o->snapshot, id, 32);
	o->path = path;
	o->target = target;
	o->threads = 2;
	o->item = collect;
	o->item_arg = c;
	o->stop = &c->stop;
}

START_TEST(everything_restores_equal)
{
	struct repo *r;
	struct snap_info s;
	struct restore_opts o;
	struct restore_stats st;
	struct items c = { 0 };
	char where[2048];
	struct stat a, b;

	make_src();
	ck_assert_int_eq(repo_open(repodir, "pw", 2, &r), 0);
	ck_assert_int_eq(backup(r, 0, &s), 0);
	opts_init(&o, s.id, "/", &c);
	ck_assert_int_eq(restore_run(r, &o, &st), 0);
	/* "/" recreates the full path under the target */
	snprintf(where, sizeof(where), "%s%s", target, src);
	ck_assert_int_eq(compare_trees(src, where), 10);
	ck_assert_uint_eq(st.files, 6);
	ck_assert_uint_eq(st.bytes, 19 + 2 * (3u << 20) + 1 + 4);
	ck_assert_uint_eq(st.damaged + st.refused + st.failed, 0);
	/* the hard link is one inode again */
	snprintf(where, sizeof(where), "%s%s/hello.txt", target, src);
	ck_assert_int_eq(stat(where, &a), 0);
	snprintf(where, sizeof(where), "%s%s/sub/hard.txt", target, src);
	ck_assert_int_eq(stat(where, &b), 0);
	ck_assert_uint_eq(a.st_ino, b.st_ino);
	snap_info_clear(&s);
	repo_free(r);
}
END_TEST

START_TEST(one_path_and_one_file_land_in_the_target)
{
	struct repo *r;
	struct snap_info s;
	struct restore_opts o;
	struct restore_stats st;
	struct items c = { 0 };
	char path[1024], p2[2048];
	uint8_t *d;
	size_t n;

	make_src();
	ck_assert_int_eq(repo_open(repodir, "pw", 2, &r), 0);
	ck_assert_int_eq(backup(r, 0, &s), 0);
	/* a directory: its contents directly in the target */
	snprintf(path, sizeof(path), "%s/sub", src);
	opts_init(&o, s.id, path, &c);
	ck_assert_int_eq(restore_run(r, &o, &st), 0);
	ck_assert_int_eq(compare_trees(path, target), 5);
	/* the first path of sub/hard.txt is outside: restored as a copy */
	snprintf(p2, sizeof(p2), "%s/hard.txt", target);
	ck_assert_ptr_nonnull(d = read_all(p2, &n));
	ck_assert_uint_eq(n, 19);
	ck_assert(memcmp(d, "hello, city portal\n", 19) == 0);
	free(d);
	rm_rf(target);
	/* a file: target/NAME */
	snprintf(path, sizeof(path), "%s//big.bin/", src);
	opts_init(&o, s.id, path, &c);
	ck_assert_int_eq(restore_run(r, &o, &st), 0);
	ck_assert_uint_eq(st.files, 1);
	ck_assert_int_eq(count_entries(target), 1);
	snprintf(p2, sizeof(p2), "%s/big.bin", target);
	ck_assert_ptr_nonnull(d = read_all(p2, &n));
	ck_assert_uint_eq(n, 3u << 20);
	free(d);
	/* a path that is not there */
	snprintf(path, sizeof(path), "%s/nothing", src);
	opts_init(&o, s.id, path, &c);
	ck_assert_int_eq(restore_run(r, &o, &st), BW_ERR_NOENT);
	ck_assert_ptr_nonnull(strstr(last_error, "nothing"));
	snap_info_clear(&s);
	repo_free(r);
}
END_TEST

START_TEST(patterns_and_selection)
{
	struct repo *r;
	struct snap_info s;
	struct restore_opts o;
	struct restore_stats st;
	struct items c = { 0 };
	const char *inc[] = { "*.txt" }, *exc[] = { "deeper" }, *sel[1];
	char path[1024], p2[2048];
	struct stat sb;

	make_src();
	ck_assert_int_eq(repo_open(repodir, "pw", 2, &r), 0);
	ck_assert_int_eq(backup(r, 0, &s), 0);
	opts_init(&o, s.id, src, &c);
	o.includes = inc;
	o.nincludes = 1;
	o.excludes = exc;
	o.nexcludes = 1;
	ck_assert_int_eq(restore_run(r, &o, &st), 0);
	snprintf(p2, sizeof(p2), "%s/hello.txt", target);
	ck_assert_int_eq(lstat(p2, &sb), 0);
	snprintf(p2, sizeof(p2), "%s/sub/hard.txt", target);
	ck_assert_int_eq(lstat(p2, &sb), 0);
	snprintf(p2, sizeof(p2), "%s/sub/deeper", target);
	ck_assert_int_ne(lstat(p2, &sb), 0);
	snprintf(p2, sizeof(p2), "%s/big.bin", target);
	ck_assert_int_ne(lstat(p2, &sb), 0);
	ck_assert_uint_eq(st.files + st.links, 2);
	rm_rf(target);
	/* an explicit selection brings everything below it */
	snprintf(path, sizeof(path), "%s/sub/deeper", src);
	sel[0] = path;
	opts_init(&o, s.id, src, &c);
	o.select = sel;
	o.nselect = 1;
	ck_assert_int_eq(restore_run(r, &o, &st), 0);
	ck_assert_uint_eq(st.files, 1);
	snprintf(p2, sizeof(p2), "%s/sub/deeper/y.txt", target);
	ck_assert_int_eq(lstat(p2, &sb), 0);
	ck_assert_int_eq(count_entries(target), 3);
	/* the directory on the way has its own metadata, not a default */
	snprintf(p2, sizeof(p2), "%s/sub", target);
	ck_assert_int_eq(lstat(p2, &sb), 0);
	ck_assert_uint_eq(sb.st_mode & 07777, 0750);
	snap_info_clear(&s);
	repo_free(r);
}
END_TEST

START_TEST(dry_run_writes_nothing_and_counts_the_same)
{
	struct repo *r;
	struct snap_info s;
	struct restore_opts o;
	struct restore_stats plan, real;
	struct items c = { 0 };
	struct stat sb;

	make_src();
	ck_assert_int_eq(repo_open(repodir, "pw", 2, &r), 0);
	ck_assert_int_eq(backup(r, 0, &s), 0);
	opts_init(&o, s.id, "/", &c);
	o.dry_run = 1;
	ck_assert_int_eq(restore_run(r, &o, &plan), 0);
	ck_assert_int_ne(lstat(target, &sb), 0);
	ck_assert_int_ge(c.n, 12);	/* every entry, with the parents of src */
	o.dry_run = 0;
	ck_assert_int_eq(restore_run(r, &o, &real), 0);
	ck_assert_uint_eq(plan.files, real.files);
	ck_assert_uint_eq(plan.bytes, real.bytes);
	ck_assert_uint_eq(plan.dirs, real.dirs);
	ck_assert_uint_eq(plan.links, real.links);
	/* planned again over the restored target: all there already */
	memset(&c, 0, sizeof(c));
	ck_assert_int_eq(restore_plan(r, &o, &plan), 0);
	ck_assert_uint_eq(plan.files, 0);
	ck_assert_uint_eq(plan.unchanged, 6 + 2);	/* files, the symlink and the hard link */
	snap_info_clear(&s);
	repo_free(r);
}
END_TEST

static void
stop_after(const struct restore_progress *p, void *arg)
{
	struct items *c = arg;

	if (p->files_done >= (uint64_t)c->stop_after)
		c->stop = 1;
}

START_TEST(interrupted_restore_finishes_on_a_second_run)
{
	struct repo *r;
	struct snap_info s;
	struct restore_opts o;
	struct restore_stats st;
	struct items c = { 0 };
	char where[2048];
	DIR *d;
	struct dirent *de;

	make_src();
	ck_assert_int_eq(repo_open(repodir, "pw", 2, &r), 0);
	ck_assert_int_eq(backup(r, 0, &s), 0);
	opts_init(&o, s.id, src, &c);
	o.progress = stop_after;
	o.progress_arg = &c;
	c.stop_after = 2;
	ck_assert_int_eq(restore_run(r, &o, &st), BW_ERR_INTR);
	ck_assert_uint_eq(st.files, 2);
	/* the two finished files and nothing else: no temporary file left */
	ck_assert_ptr_nonnull(d = opendir(target));
	while ((de = readdir(d)) != NULL)
		ck_assert_ptr_null(strstr(de->d_name, ".bw-restore"));
	closedir(d);
	ck_assert_int_eq(count_entries(target), 2);
	c.stop = 0;
	c.stop_after = 1000;
	c.n = 0;
	ck_assert_int_eq(restore_run(r, &o, &st), 0);
	ck_assert_uint_eq(st.unchanged, 2);
	ck_assert_uint_eq(st.files, 4);
	ck_assert_uint_eq(st.links, 2);		/* the symlink and the hard link */
	snprintf(where, sizeof(where), "%s", target);
	ck_assert_int_eq(compare_trees(src, where), 10);
	snap_info_clear(&s);
	repo_free(r);
}
END_TEST

/* Interrupted between a file and a hard link to it: the second run finds
 * the first path already whole and links the other to it, as if it had
 * written it (not refused as a link to something it did not write). */
START_TEST(interrupted_between_hard_links_finishes)
{
	struct repo *r;
	struct snap_info s;
	struct restore_opts o;
	struct restore_stats st;
	struct items c = { 0 };
	char where[2048];

	make_src();
	ck_assert_int_eq(repo_open(repodir, "pw", 2, &r), 0);
	ck_assert_int_eq(backup(r, 0, &s), 0);
	opts_init(&o, s.id, src, &c);
	o.progress = stop_after;
	o.progress_arg = &c;
	c.stop_after = 3;	/* big.bin, empty, hello.txt; not sub/hard.txt */
	ck_assert_int_eq(restore_run(r, &o, &st), BW_ERR_INTR);
	ck_assert_uint_eq(st.files, 3);
	c.stop = 0;
	c.stop_after = 1000;
	c.n = 0;
	ck_assert_int_eq(restore_run(r, &o, &st), 0);
	ck_assert_uint_eq(st.refused, 0);
	ck_assert_uint_eq(st.unchanged, 3);
	snprintf(where, sizeof(where), "%s", target);
	ck_assert_int_eq(compare_trees(src, where), 10);
	snap_info_clear(&s);
	repo_free(r);
}
END_TEST

/* More small files than the read-ahead queue holds (4096 chunks), with
 * excluded ones in between, a hard link whose first path is excluded
 * (restored as a copy, its chunk not queued) and, on a second run, half
 * of the files already there: what was queued for files the writer
 * skips is dropped, and every file comes back exact. */
START_TEST(many_small_files_through_the_read_ahead)
{
	struct repo *r;
	struct snap_info s;
	struct restore_opts o;
	struct restore_stats st;
	struct items c = { 0 };
	const char *ex[] = { "*-skip" };
	char name[64], path[1024], p2[1024], want[64];
	uint8_t *got;
	size_t n, len;
	int i;

	ck_assert_int_eq(mkdir(src, 0755), 0);
	for (i = 0; i < 4200; i++) {
		snprintf(name, sizeof(name), "%05d%s", i, i % 10 == 3 ? "-skip" : "");
		n = (size_t)snprintf(want, sizeof(want), "file %d of the town hall\n", i);
		write_file(src, name, want, n);
	}
	snprintf(path, sizeof(path), "%s/00003-skip", src);
	snprintf(p2, sizeof(p2), "%s/00004-link", src);
	ck_assert_int_eq(link(path, p2), 0);
	ck_assert_int_eq(repo_open(repodir, "pw", 2, &r), 0);
	ck_assert_int_eq(backup(r, 0, &s), 0);
	opts_init(&o, s.id, src, &c);
	o.excludes = ex;
	o.nexcludes = 1;
	ck_assert_int_eq(restore_run(r, &o, &st), 0);
	ck_assert_uint_eq(st.files, 3781);
	for (i = 0; i < 4200; i += 2) {
		snprintf(path, sizeof(path), "%s/%05d", target, i);
		ck_assert_int_eq(unlink(path), 0);
	}
	ck_assert_int_eq(restore_run(r, &o, &st), 0);
	ck_assert_uint_eq(st.files, 2100);
	ck_assert_uint_eq(st.unchanged, 1681);
	for (i = 0; i < 4200; i++) {
		snprintf(path, sizeof(path), "%s/%05d%s", target, i, i % 10 == 3 ? "-skip" : "");
		got = read_all(path, &len);
		if (i % 10 == 3) {
			ck_assert_msg(got == NULL, "%s: excluded, yet restored", path);
			continue;
		}
		n = (size_t)snprintf(want, sizeof(want), "file %d of the town hall\n", i);
		ck_assert_msg(got != NULL, "%s: not restored", path);
		ck_assert_msg(len == n && memcmp(got, want, n) == 0, "%s: bytes differ", path);
		free(got);
	}
	snprintf(path, sizeof(path), "%s/00004-link", target);
	ck_assert_ptr_nonnull(got = read_all(path, &len));
	ck_assert_msg(len == 24 && memcmp(got, "file 3 of the town hall\n", 24) == 0,
	    "hard link copy: %.*s", (int)len, got);
	free(got);
	snap_info_clear(&s);
	repo_free(r);
}
END_TEST

static void
stop_mid_file(const struct restore_progress *p, void *arg)
{
	struct items *c = arg;

	if (p->files_done == 0 && p->bytes_done > 0)
		c->stop = 1;
}

START_TEST(stop_in_the_middle_of_a_file_leaves_nothing_half_written)
{
	struct repo *r;
	struct snap_info s;
	struct restore_opts o;
	struct restore_stats st;
	struct items c = { 0 };
	char path[1024];

	make_src();
	ck_assert_int_eq(repo_open(repodir, "pw", 2, &r), 0);
	ck_assert_int_eq(backup(r, 0, &s), 0);
	snprintf(path, sizeof(path), "%s/big.bin", src);
	opts_init(&o, s.id, path, &c);
	o.progress = stop_mid_file;
	o.progress_arg = &c;
	ck_assert_int_eq(restore_run(r, &o, &st), BW_ERR_INTR);
	ck_assert_uint_eq(st.files, 0);
	ck_assert_int_eq(count_entries(target), 0);	/* neither big.bin nor a temporary */
	snap_info_clear(&s);
	repo_free(r);
}
END_TEST

START_TEST(overwrite_modes)
{
	struct repo *r;
	struct snap_info s;
	struct restore_opts o;
	struct restore_stats st;
	struct items c = { 0 };
	char p[2048], sp[1024];
	uint8_t *d;
	size_t n;

	make_src();
	ck_assert_int_eq(repo_open(repodir, "pw", 2, &r), 0);
	ck_assert_int_eq(backup(r, 0, &s), 0);
	opts_init(&o, s.id, src, &c);
	ck_assert_int_eq(restore_run(r, &o, &st), 0);
	write_file(target, "sub/x.log", "changed", 7);
	snprintf(p, sizeof(p), "%s/sub/x.log", target);
	snprintf(sp, sizeof(sp), "%s/sub/x.log", src);
	/* never: left alone and listed */
	o.overwrite = RESTORE_OVERWRITE_NEVER;
	ck_assert_int_eq(restore_run(r, &o, &st), 0);
	ck_assert_uint_eq(st.skipped, 1);
	ck_assert_int_ge(find_item(&c, sp, RESTORE_SKIPPED_EXISTS), 0);
	ck_assert_ptr_nonnull(d = read_all(p, &n));
	ck_assert_uint_eq(n, 7);
	free(d);
	/* if-changed: replaced, the rest unchanged */
	c.n = 0;
	o.overwrite = RESTORE_OVERWRITE_IF_CHANGED;
	ck_assert_int_eq(restore_run(r, &o, &st), 0);
	ck_assert_uint_eq(st.replaced, 1);
	ck_assert_uint_eq(st.unchanged, 5 + 2);
	ck_assert_int_ge(find_item(&c, sp, RESTORE_REPLACED), 0);
	ck_assert_ptr_nonnull(d = read_all(p, &n));
	ck_assert_uint_eq(n, 1);
	free(d);
	/* always: everything written again */
	o.overwrite = RESTORE_OVERWRITE_ALWAYS;
	o.verify = 1;
	ck_assert_int_eq(restore_run(r, &o, &st), 0);
	ck_assert_uint_eq(st.files, 6);
	ck_assert_uint_eq(st.verified, 6);
	ck_assert_uint_eq(st.unchanged, 0);
	ck_assert_uint_eq(st.links, 2);
	snap_info_clear(&s);
	repo_free(r);
}
END_TEST

/* A file left damaged by a crash, with the snapshot's size and time: a
 * rerun reads its content, says it differs with --overwrite never, and
 * rewrites it with if-changed. */
START_TEST(damaged_file_with_the_same_size_and_time_is_not_kept_silently)
{
	struct repo *r;
	struct snap_info s;
	struct restore_opts o;
	struct restore_stats st;
	struct items c = { 0 };
	char p[2048], sp[1024];
	struct timespec ts[2];
	struct stat sb;
	uint8_t *d;
	size_t n;
	int i;

	make_src();
	ck_assert_int_eq(repo_open(repodir, "pw", 2, &r), 0);
	ck_assert_int_eq(backup(r, 0, &s), 0);
	opts_init(&o, s.id, src, &c);
	ck_assert_int_eq(restore_run(r, &o, &st), 0);
	snprintf(p, sizeof(p), "%s/hello.txt", target);
	snprintf(sp, sizeof(sp), "%s/hello.txt", src);
	ck_assert_int_eq(stat(p, &sb), 0);
	write_file(target, "hello.txt", "HELLO, CITY PORTAL\n", 19);
	ts[0] = sb.st_atim;
	ts[1] = sb.st_mtim;
	ck_assert_int_eq(utimensat(AT_FDCWD, p, ts, 0), 0);
	c.n = 0;
	o.overwrite = RESTORE_OVERWRITE_NEVER;
	ck_assert_int_eq(restore_run(r, &o, &st), 0);
	ck_assert_int_ge(i = find_item(&c, sp, RESTORE_SKIPPED_EXISTS), 0);
	ck_assert_msg(strstr(c.reason[i], "differs") &&
	    strstr(c.reason[i], "if-changed"), "%s", c.reason[i]);
	c.n = 0;
	o.overwrite = RESTORE_OVERWRITE_IF_CHANGED;
	ck_assert_int_eq(restore_run(r, &o, &st), 0);
	ck_assert_int_ge(find_item(&c, sp, RESTORE_REPLACED), 0);
	ck_assert_ptr_nonnull(d = read_all(p, &n));
	ck_assert_uint_eq(n, 19);
	ck_assert_mem_eq(d, "hello, city portal\n", 19);
	free(d);
	snap_info_clear(&s);
	repo_free(r);
}
END_TEST

/* Restoring over a host whose layout has a symlink where the snapshot has
 * a directory (merged /usr: lib -> usr/lib): the link stays and nothing is
 * written through it nor in a new directory in its place; if-changed does
 * not replace an empty directory by a file either. */
START_TEST(existing_symlink_is_not_replaced_by_a_directory)
{
	static const enum restore_overwrite ow[] = {
		RESTORE_OVERWRITE_IF_CHANGED, RESTORE_OVERWRITE_ALWAYS
	};
	struct repo *r;
	struct snap_info s;
	struct restore_opts o;
	struct restore_stats st;
	struct items c = { 0 };
	char p[2048], sp[1024], other[1024];
	struct stat sb;
	size_t i;
	int plan;

	make_src();
	ck_assert_int_eq(repo_open(repodir, "pw", 2, &r), 0);
	ck_assert_int_eq(backup(r, 0, &s), 0);
	snprintf(other, sizeof(other), "%s/usr-sub", top);
	ck_assert_int_eq(mkdir(other, 0755), 0);
	ck_assert_int_eq(mkdir(target, 0755), 0);
	snprintf(p, sizeof(p), "%s/sub", target);
	ck_assert_int_eq(symlink("../usr-sub", p), 0);
	snprintf(p, sizeof(p), "%s/empty", target);
	ck_assert_int_eq(mkdir(p, 0755), 0);
	snprintf(sp, sizeof(sp), "%s/sub", src);
	for (i = 0; i < 2; i++) {
		for (plan = 1; plan >= 0; plan--) {
			c.n = 0;
			opts_init(&o, s.id, src, &c);
			o.overwrite = ow[i];
			o.dry_run = plan;
			ck_assert_int_eq(plan ? restore_plan(r, &o, &st) :
			    restore_run(r, &o, &st), 0);
			ck_assert_int_ge(find_item(&c, sp, RESTORE_SKIPPED_EXISTS), 0);
		}
		snprintf(p, sizeof(p), "%s/sub", target);
		ck_assert_int_eq(lstat(p, &sb), 0);
		ck_assert(S_ISLNK(sb.st_mode));
		ck_assert_int_eq(count_entries(other), 0);
		snprintf(p, sizeof(p), "%s/hello.txt", target);
		ck_assert_int_eq(access(p, F_OK), 0);
		snprintf(p, sizeof(p), "%s/empty", target);
		ck_assert_int_eq(lstat(p, &sb), 0);
		if (ow[i] == RESTORE_OVERWRITE_IF_CHANGED)
			ck_assert(S_ISDIR(sb.st_mode));
	}
	snap_info_clear(&s);
	repo_free(r);
}
END_TEST

START_TEST(delta_stored_files_restore_exactly)
{
	struct repo *r;
	struct snap_info s1, s2, s3;
	struct restore_opts o;
	struct restore_stats st;
	struct items c = { 0 };
	struct timespec ts;
	uint8_t patch[4096];
	char path[1024];
	int64_t later;
	FILE *f;

	make_src();
	clock_gettime(CLOCK_REALTIME, &ts);
	later = ((int64_t)ts.tv_sec + 10) * 1000000000LL;
	ck_assert_int_eq(repo_open(repodir, "pw", 2, &r), 0);
	ck_assert_int_eq(backup(r, later, &s1), 0);
	snprintf(path, sizeof(path), "%s/big.bin", src);
	fill_obj(patch, sizeof(patch), 99);
	ck_assert_ptr_nonnull(f = fopen(path, "r+b"));
	fseek(f, 1500000, SEEK_SET);
	fwrite(patch, 1, sizeof(patch), f);
	fclose(f);
	ck_assert_int_eq(backup(r, later + 1000000000LL, &s2), 0);
	ck_assert_uint_eq(s2.files_changed, 1);
	ck_assert_uint_lt(s2.bytes_added, 64 << 10);	/* stored as a delta */
	ck_assert_ptr_nonnull(f = fopen(path, "r+b"));
	fseek(f, 100, SEEK_SET);
	fwrite(patch, 1, 100, f);
	fclose(f);
	ck_assert_int_eq(backup(r, later + 2000000000LL, &s3), 0);
	ck_assert_uint_lt(s3.bytes_added, 64 << 10);	/* a delta on a delta */
	opts_init(&o, s3.id, src, &c);
	ck_assert_int_eq(restore_run(r, &o, &st), 0);
	ck_assert_int_eq(compare_trees(src, target), 10);
	snap_info_clear(&s1);
	snap_info_clear(&s2);
	snap_info_clear(&s3);
	repo_free(r);
}
END_TEST

START_TEST(sparse_file_keeps_its_holes)
{
	struct repo *r;
	struct snap_info s;
	struct restore_opts o;
	struct restore_stats st;
	struct items c = { 0 };
	char path[1024];
	struct stat a, b;
	int fd;

	ck_assert_int_eq(mkdir(src, 0755), 0);
	snprintf(path, sizeof(path), "%s/sparse", src);
	ck_assert_int_ge(fd = open(path, O_WRONLY | O_CREAT, 0644), 0);
	ck_assert_int_eq(ftruncate(fd, 64 << 20), 0);
	ck_assert_int_eq(pwrite(fd, "middle", 6, 32 << 20), 6);
	ck_assert_int_eq(pwrite(fd, "end", 3, (64 << 20) - 3), 3);
	close(fd);
	ck_assert_int_eq(repo_open(repodir, "pw", 2, &r), 0);
	ck_assert_int_eq(backup(r, 0, &s), 0);
	opts_init(&o, s.id, src, &c);
	o.verify = 1;
	ck_assert_int_eq(restore_run(r, &o, &st), 0);
	ck_assert_uint_eq(st.verified, 1);
	ck_assert_int_eq(compare_trees(src, target), 1);
	ck_assert_int_eq(lstat(path, &a), 0);
	snprintf(path, sizeof(path), "%s/sparse", target);
	ck_assert_int_eq(lstat(path, &b), 0);
	ck_assert_msg(b.st_blocks <= a.st_blocks + 16, "restored dense: %lld blocks, source %lld",
	    (long long)b.st_blocks, (long long)a.st_blocks);
	/* and a second run sees it as already there */
	ck_assert_int_eq(restore_run(r, &o, &st), 0);
	ck_assert_uint_eq(st.unchanged, 1);
	snap_info_clear(&s);
	repo_free(r);
}
END_TEST

/* ---- hand-built snapshots ---- */

struct tb {
	struct repo *r;
	struct repo_writer *w;
	struct buf ents;
	uint32_t n;
	int forge;			/* tb_file records a wrong file hash */
};

static void
tb_file(struct tb *t, const char *name, const void *p, size_t len, uint32_t mode)
{
	struct tree_entry e = { 0 };
	uint8_t id[32], (*ids)[32] = &id;
	struct buf h = { 0 };

	e.name = (char *)name;
	e.kind = TREE_FILE;
	e.mode = mode;
	e.size = len;
	e.mtime_sec = 1700000000;
	e.mtime_nsec = 123456789;
	buf_put(&h, "file", 4);
	if (len) {
		ck_assert_int_eq(repo_writer_put(t->w, OBJ_DATA, p, len, NULL, id, NULL), 0);
		e.content.ids = ids;
		e.content.nids = 1;
		buf_put(&h, id, 32);
	}
	bwcrypto_hash(e.hash, repo_id_key(t->r), h.data, h.len);
	e.hash[0] ^= t->forge ? 1 : 0;
	buf_free(&h);
	ck_assert_int_eq(tree_entry_encode(&t->ents, &e), 0);
	t->n++;
}

static void
tb_link(struct tb *t, const char *name, int kind, const char *link)
{
	struct tree_entry e = { 0 };

	e.name = (char *)name;
	e.kind = kind;
	e.mode = 0644;
	e.link = (char *)link;
	e.mtime_sec = 1700000000;
	ck_assert_int_eq(tree_entry_encode(&t->ents, &e), 0);
	t->n++;
}

/* Finishes t as a tree object; its id in id. */
static void
tb_finish(struct tb *t, uint8_t id[32])
{
	struct buf out = { 0 };

	ck_assert_int_eq(tree_finish(&out, t->n, t->ents.data, t->ents.len), 0);
	ck_assert_int_eq(repo_writer_put(t->w, OBJ_TREE, out.data, out.len, NULL, id, NULL), 0);
	buf_free(&out);
	buf_free(&t->ents);
	t->n = 0;
}

static void
tb_dir(struct tb *t, const char *name, const uint8_t id[32])
{
	struct tree_entry e = { 0 };
	uint8_t copy[32], (*ids)[32] = &copy;

	memcpy(copy, id, 32);
	e.name = (char *)name;
	e.kind = TREE_DIR;
	e.mode = 0755;
	e.mtime_sec = 1700000000;
	memcpy(e.subtree, id, 32);
	e.content.ids = ids;
	e.content.nids = 1;
	ck_assert_int_eq(tree_entry_encode(&t->ents, &e), 0);
	t->n++;
}

static void
tb_commit(struct tb *t, const uint8_t root[32], uint8_t snap[32])
{
	struct snap_info s;

	fill_snap(&s, root, 1700000000000000000LL);
	ck_assert_int_eq(repo_writer_commit(t->w, &s), 0);
	memcpy(snap, s.id, 32);
	repo_writer_free(t->w);
	t->w = NULL;
}

/* Newest pack file under repo/data (the one just flushed). */
static void
newest_pack(char *out, size_t n, const char *not)
{
	char dir[1024], p[2048];
	struct dirent *de;
	struct stat sb;
	DIR *d;
	int i;

	out[0] = 0;
	for (i = 0; i < 256; i++) {
		snprintf(dir, sizeof(dir), "%s/data/%02x", repodir, i);
		if ((d = opendir(dir)) == NULL)
			continue;
		while ((de = readdir(d)) != NULL) {
			if (de->d_name[0] == '.')
				continue;
			snprintf(p, sizeof(p), "%s/%s", dir, de->d_name);
			if (stat(p, &sb) == 0 && (!not || strcmp(p, not) != 0))
				snprintf(out, n, "%s", p);
		}
		closedir(d);
	}
}

static char errors[8192];

static void
all_errors(enum log_level lvl, const char *msg, void *arg)
{
	size_t n = strlen(errors);

	(void)arg;
	if (lvl == LOG_LVL_ERROR)
		snprintf(errors + n, sizeof(errors) - n, "%s\n", msg);
}

/* A 1000-byte file whose delta chain's base claims 6 MiB (one chunk
 * named six times): the base is cut off well before it fills $TMPDIR, and
 * the file is reported damaged with the reason. */
START_TEST(hostile_delta_chain_is_cut_off)
{
	struct repo *r;
	struct tb t = { 0 };
	struct restore_opts o;
	struct restore_stats st;
	struct items c = { 0 };
	struct tree_entry e = { 0 };
	struct tree_content base = { 0 };
	uint8_t *chunk, id[32], ids[6][32], did[1][32], root[32], snap[32];
	char p[1024];
	int i;

	chunk = malloc(1 << 20);
	fill_obj(chunk, 1 << 20, 5);
	ck_assert_int_eq(repo_open(repodir, "pw", 2, &r), 0);
	t.r = r;
	ck_assert_int_eq(repo_writer_start(r, &t.w), 0);
	ck_assert_int_eq(repo_writer_put(t.w, OBJ_DATA, chunk, 1 << 20, NULL, id, NULL), 0);
	ck_assert_int_eq(repo_writer_put(t.w, OBJ_DELTA, "x", 1, NULL, did[0], NULL), 0);
	for (i = 0; i < 6; i++)
		memcpy(ids[i], id, 32);
	base.kind = 0;
	base.ids = ids;
	base.nids = 6;
	e.name = "victim";
	e.kind = TREE_FILE;
	e.mode = 0644;
	e.size = 1000;
	e.mtime_sec = 1700000000;
	e.content.kind = 1;
	e.content.depth = 1;
	e.content.base = &base;
	e.content.ids = did;
	e.content.nids = 1;
	ck_assert_int_eq(tree_entry_encode(&t.ents, &e), 0);
	t.n++;
	tb_finish(&t, root);
	tb_commit(&t, root, snap);
	opts_init(&o, snap, "/", &c);
	errors[0] = 0;
	log_set_sink(all_errors, NULL);
	ck_assert_int_eq(restore_run(r, &o, &st), BW_ERR_CORRUPT);
	ck_assert_uint_eq(st.damaged, 1);
	ck_assert_int_ge(find_item(&c, "/victim", RESTORE_DAMAGED), 0);
	ck_assert_msg(strstr(errors, "delta chain grows beyond"), "%s", errors);
	snprintf(p, sizeof(p), "%s/victim", target);
	ck_assert_int_eq(access(p, F_OK), -1);
	free(chunk);
	repo_free(r);
}
END_TEST

START_TEST(damaged_object_fails_only_its_files)
{
	struct repo *r;
	struct tb t = { 0 };
	struct restore_opts o;
	struct restore_stats st;
	struct items c = { 0 };
	uint8_t a[5000], b[5000], root[32], snap[32];
	char pack_a[2048], p[1024];
	struct stat sb;
	uint8_t *d;
	size_t n;
	int fd, i;
	char ch;

	fill_obj(a, sizeof(a), 1);
	fill_obj(b, sizeof(b), 2);
	ck_assert_int_eq(repo_open(repodir, "pw", 2, &r), 0);
	t.r = r;
	ck_assert_int_eq(repo_writer_start(r, &t.w), 0);
	tb_file(&t, "a.bin", a, sizeof(a), 0644);
	ck_assert_int_eq(repo_writer_flush(t.w), 0);
	newest_pack(pack_a, sizeof(pack_a), NULL);
	ck_assert(pack_a[0]);
	tb_file(&t, "b.bin", b, sizeof(b), 0600);
	tb_finish(&t, root);
	tb_commit(&t, root, snap);
	/* flip a byte in the middle of a.bin's pack */
	ck_assert_int_eq(stat(pack_a, &sb), 0);
	ck_assert_int_ge(fd = open(pack_a, O_RDWR), 0);
	ck_assert_int_eq(pread(fd, &ch, 1, sb.st_size / 2), 1);
	ch ^= 0x10;
	ck_assert_int_eq(pwrite(fd, &ch, 1, sb.st_size / 2), 1);
	close(fd);
	repo_free(r);
	ck_assert_int_eq(repo_open(repodir, "pw", 2, &r), 0);

	opts_init(&o, snap, "/", &c);
	ck_assert_int_eq(restore_run(r, &o, &st), BW_ERR_CORRUPT);
	ck_assert_uint_eq(st.damaged, 1);
	ck_assert_uint_eq(st.files, 1);
	ck_assert_int_ge(i = find_item(&c, "/a.bin", RESTORE_DAMAGED), 0);
	ck_assert_ptr_nonnull(strstr(c.reason[i], "damaged"));
	snprintf(p, sizeof(p), "%s/a.bin", target);
	ck_assert_int_ne(lstat(p, &sb), 0);
	snprintf(p, sizeof(p), "%s/b.bin", target);
	ck_assert_ptr_nonnull(d = read_all(p, &n));
	ck_assert_uint_eq(n, sizeof(b));
	ck_assert(memcmp(d, b, n) == 0);
	free(d);
	ck_assert_int_eq(count_entries(target), 1);	/* no temporary file left */
	repo_free(r);
}
END_TEST

/* A file whose chunks are all sound but whose recorded hash is not theirs
 * (a tree that lies about its content) is damaged: not left in place. */
START_TEST(file_hash_not_of_its_chunks_is_damaged)
{
	struct repo *r;
	struct tb t = { 0 };
	struct restore_opts o;
	struct restore_stats st;
	struct items c = { 0 };
	uint8_t root[32], snap[32];
	char p[1024];
	struct stat sb;

	ck_assert_int_eq(repo_open(repodir, "pw", 2, &r), 0);
	t.r = r;
	ck_assert_int_eq(repo_writer_start(r, &t.w), 0);
	t.forge = 1;
	tb_file(&t, "forged.txt", "not what the hash says\n", 23, 0644);
	t.forge = 0;
	tb_file(&t, "ok.txt", "fine\n", 5, 0644);
	tb_finish(&t, root);
	tb_commit(&t, root, snap);
	opts_init(&o, snap, "/", &c);
	ck_assert_int_eq(restore_run(r, &o, &st), BW_ERR_CORRUPT);
	ck_assert_uint_eq(st.damaged, 1);
	ck_assert_uint_eq(st.files, 1);
	ck_assert_int_ge(find_item(&c, "/forged.txt", RESTORE_DAMAGED), 0);
	snprintf(p, sizeof(p), "%s/forged.txt", target);
	ck_assert_int_ne(lstat(p, &sb), 0);
	ck_assert_int_eq(count_entries(target), 1);	/* no temporary file left */
	repo_free(r);
}
END_TEST

START_TEST(hostile_snapshot_writes_nothing_outside)
{
	struct repo *r;
	struct tb t = { 0 };
	struct restore_opts o;
	struct restore_stats st;
	struct items c = { 0 };
	uint8_t bad[32], evil[32], deep[32], root[32], snap[32];
	char longname[301], comp[201], p[1024], outside[1024];
	struct stat sb;
	int i;

	ck_assert_int_eq(repo_open(repodir, "pw", 2, &r), 0);
	t.r = r;
	ck_assert_int_eq(repo_writer_start(r, &t.w), 0);
	/* a directory whose tree holds "..": a damaged tree */
	tb_file(&t, "..", "pwned", 5, 0644);
	tb_finish(&t, bad);
	/* links that point away */
	tb_link(&t, "h1", TREE_HARDLINK, "/etc/passwd");
	tb_link(&t, "h2", TREE_HARDLINK, "../../x");
	tb_link(&t, "h3", TREE_HARDLINK, "/evil/sym/passwd");
	tb_file(&t, "ok.txt", "fine\n", 5, 0644);
	tb_link(&t, "sym", TREE_SYMLINK, "/etc");
	tb_finish(&t, evil);
	/* a path deeper than PATH_MAX: 25 levels of 200-byte names */
	memset(comp, 'd', 200);
	comp[200] = 0;
	tb_file(&t, "leaf", "deep\n", 5, 0644);
	tb_finish(&t, deep);
	for (i = 0; i < 25; i++) {
		tb_dir(&t, comp, deep);
		tb_finish(&t, deep);
	}
	memset(longname, 'n', 300);
	longname[300] = 0;
	tb_dir(&t, "bad", bad);
	tb_dir(&t, "deep", deep);
	tb_dir(&t, "evil", evil);
	tb_file(&t, "good.txt", "good\n", 5, 0644);
	tb_file(&t, longname, "long\n", 5, 0644);
	tb_finish(&t, root);
	tb_commit(&t, root, snap);

	snprintf(outside, sizeof(outside), "%s/x", top);
	opts_init(&o, snap, "/", &c);
	ck_assert_int_eq(restore_run(r, &o, &st), BW_ERR_CORRUPT);
	/* the damaged tree: its directory is reported, its siblings restored */
	ck_assert_int_ge(i = find_item(&c, "/bad", RESTORE_DAMAGED), 0);
	ck_assert_ptr_nonnull(strstr(c.reason[i], "directory listing"));
	snprintf(p, sizeof(p), "%s/good.txt", target);
	ck_assert_int_eq(lstat(p, &sb), 0);
	snprintf(p, sizeof(p), "%s/evil/ok.txt", target);
	ck_assert_int_eq(lstat(p, &sb), 0);
	/* links away are refused and say why */
	ck_assert_int_ge(i = find_item(&c, "/evil/h1", RESTORE_REFUSED), 0);
	ck_assert_ptr_nonnull(strstr(c.reason[i], "not a file in the snapshot"));
	ck_assert_int_ge(i = find_item(&c, "/evil/h2", RESTORE_REFUSED), 0);
	ck_assert_ptr_nonnull(strstr(c.reason[i], "relative"));
	ck_assert_int_ge(find_item(&c, "/evil/h3", RESTORE_REFUSED), 0);
	snprintf(p, sizeof(p), "%s/evil/h1", target);
	ck_assert_int_ne(lstat(p, &sb), 0);
	/* the over-long name and the too-deep path are refused */
	snprintf(p, sizeof(p), "/%s", longname);
	ck_assert_int_ge(find_item(&c, p, RESTORE_REFUSED), 0);
	for (i = 0; i < c.n; i++)
		if (c.what[i] == RESTORE_REFUSED && strstr(c.path[i], "/deep/"))
			break;
	ck_assert_msg(i < c.n, "nothing below /deep was refused");
	ck_assert_uint_ge(st.refused, 4 + 1);
	ck_assert_uint_eq(st.damaged, 1);
	ck_assert_uint_eq(st.files, 2);
	/* nothing outside the target */
	ck_assert_int_ne(lstat(outside, &sb), 0);
	ck_assert_int_eq(count_entries(top), count_entries(repodir) + 1 + count_entries(target) + 1);
	repo_free(r);
}
END_TEST

static Suite *
suite(void)
{
	Suite *s = suite_create("restore");
	TCase *tc = tcase_create("restore");

	tcase_add_checked_fixture(tc, setup, teardown);
	tcase_set_timeout(tc, 60);
	tcase_add_test(tc, everything_restores_equal);
	tcase_add_test(tc, one_path_and_one_file_land_in_the_target);
	tcase_add_test(tc, patterns_and_selection);
	tcase_add_test(tc, dry_run_writes_nothing_and_counts_the_same);
	tcase_add_test(tc, interrupted_restore_finishes_on_a_second_run);
	tcase_add_test(tc, interrupted_between_hard_links_finishes);
	tcase_add_test(tc, many_small_files_through_the_read_ahead);
	tcase_add_test(tc, stop_in_the_middle_of_a_file_leaves_nothing_half_written);
	tcase_add_test(tc, overwrite_modes);
	tcase_add_test(tc, existing_symlink_is_not_replaced_by_a_directory);
	tcase_add_test(tc, damaged_file_with_the_same_size_and_time_is_not_kept_silently);
	tcase_add_test(tc, delta_stored_files_restore_exactly);
	tcase_add_test(tc, sparse_file_keeps_its_holes);
	tcase_add_test(tc, damaged_object_fails_only_its_files);
	tcase_add_test(tc, file_hash_not_of_its_chunks_is_damaged);
	tcase_add_test(tc, hostile_snapshot_writes_nothing_outside);
	tcase_add_test(tc, hostile_delta_chain_is_cut_off);
	suite_add_tcase(s, tc);
	return s;
}

int
main(void)
{
	SRunner *sr;
	int failed;

	bwcrypto_init();
	sr = srunner_create(suite());
	srunner_run_all(sr, CK_NORMAL);
	failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}
