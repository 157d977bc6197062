/*
 * The backup engine against a real repository in a fresh directory: what
 * was stored must read back equal to the source, bytes and metadata; an
 * unchanged tree is not read again; identical data is stored once.
 */
#include "config.h"

#include <check.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/inotify.h>
#include <sys/stat.h>
#include <sys/xattr.h>
#include <time.h>
#include <unistd.h>

#include "backupd/engine.h"
#include "backupd/fcache.h"
#include "lib/chunk/delta.h"
#include "lib/crypto/bwcrypto.h"
#include "lib/repo/walk.h"
#include "lib/util/err.h"
#include "lib/util/log.h"

static char top[256], src[300], repodir[300], cachedir[300];
static const struct repo_kdf cheap = { BWC_PWHASH_OPS_MIN, BWC_PWHASH_MEM_MIN };

static void
write_file(const char *rel, const void *p, size_t n)
{
	char path[512];
	FILE *f;

	snprintf(path, sizeof(path), "%s/%s", src, rel);
	ck_assert_ptr_nonnull(f = fopen(path, "wb"));
	ck_assert_uint_eq(fwrite(p, 1, n, f), n);
	fclose(f);
}

static void
make_tree(void)
{
	uint8_t *big = malloc(3 << 20);
	char path[512];

	bwcrypto_random(big, 3 << 20);
	ck_assert_int_eq(mkdir(src, 0755), 0);
	snprintf(path, sizeof(path), "%s/sub", src);
	ck_assert_int_eq(mkdir(path, 0750), 0);
	write_file("hello.txt", "hello, city portal\n", 19);
	write_file("empty", "", 0);
	write_file("big.bin", big, 3 << 20);
	write_file("sub/copy.bin", big, 3 << 20);	/* same bytes: stored once */
	write_file("sub/x", "x", 1);
	snprintf(path, sizeof(path), "%s/link", src);
	ck_assert_int_eq(symlink("hello.txt", path), 0);
	free(big);
}

static void
setup(void)
{
	strcpy(top, "/tmp/bw-engine-XXXXXX");
	ck_assert_ptr_nonnull(mkdtemp(top));
	snprintf(src, sizeof(src), "%s/src", top);
	snprintf(repodir, sizeof(repodir), "%s/repo", top);
	snprintf(cachedir, sizeof(cachedir), "%s/cache", top);
	make_tree();
	ck_assert_int_eq(repo_init(repodir, "test", "pw", 2, &cheap), 0);
}

static void
teardown(void)
{
	char cmd[400];

	snprintf(cmd, sizeof(cmd), "rm -rf '%s'", top);
	ck_assert_int_eq(system(cmd), 0);
}

struct cmp { struct repo *r; int files, links, dirs; };

static int
compare(const char *path, const struct tree_entry *e, void *arg)
{
	struct cmp *c = arg;
	struct stat st;
	struct buf data = { 0 }, obj = { 0 };
	uint32_t i;
	uint8_t *want;
	size_t n;
	FILE *f;

	if (strncmp(path, src, strlen(src)) != 0)
		return 0;	/* the ancestors of src */
	ck_assert_int_eq(lstat(path, &st), 0);
	ck_assert_uint_eq(e->mode, st.st_mode & 07777);
	ck_assert_int_eq(e->mtime_sec, st.st_mtim.tv_sec);
	ck_assert_uint_eq(e->mtime_nsec, st.st_mtim.tv_nsec);
	ck_assert_uint_eq(e->uid, st.st_uid);
	if (e->kind == TREE_DIR) {
		c->dirs++;
		return 0;
	}
	if (e->kind == TREE_SYMLINK) {
		c->links++;
		ck_assert_str_eq(e->link, "hello.txt");
		return 0;
	}
	ck_assert_int_eq(e->kind, TREE_FILE);
	c->files++;
	for (i = 0; i < e->content.nids; i++) {
		buf_reset(&obj);
		ck_assert_int_eq(repo_get(c->r, OBJ_DATA, e->content.ids[i], &obj), 0);
		buf_put(&data, obj.data, obj.len);
	}
	ck_assert_uint_eq(data.len, (size_t)st.st_size);
	want = malloc(st.st_size + 1);
	ck_assert_ptr_nonnull(f = fopen(path, "rb"));
	n = fread(want, 1, st.st_size, f);
	fclose(f);
	ck_assert_uint_eq(n, (size_t)st.st_size);
	ck_assert(n == 0 || memcmp(want, data.data, n) == 0);
	free(want);
	buf_free(&data);
	buf_free(&obj);
	return 0;
}

/* A backup start time 10 s from now: the files the test just wrote are
 * then not "racy" for the files cache (no sleeping in tests). */
static int64_t
start_after_writes(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_REALTIME, &ts);
	return ((int64_t)ts.tv_sec + 10) * 1000000000LL;
}

static int
run(struct repo *r, int64_t start, struct snap_info *s)
{
	const char *paths[] = { src };
	struct backup_opts o = {
		.paths = paths, .npaths = 1, .cache_dir = cachedir, .workers = 2,
		.exclude_caches = 1, .start_ns = start,
	};

	memset(s, 0, sizeof(*s));
	return backup_run(r, &o, s);
}

START_TEST(backup_reads_back_equal)
{
	struct repo *r;
	struct snap_info s, full;
	struct cmp c = { 0 };
	struct walk_opts wo = { compare, NULL, &c, NULL };
	struct repo_check_stats st;

	ck_assert_int_eq(repo_open(repodir, "pw", 2, &r), 0);
	c.r = r;
	ck_assert_int_eq(run(r, 0, &s), 0);
	ck_assert_uint_eq(s.files, 5);
	ck_assert_uint_eq(s.files_new, 5);
	ck_assert_uint_eq(s.nerrors, 0);
	/* 3 MiB stored once although two files hold it */
	ck_assert_uint_lt(s.bytes_added, (3u << 20) + (256u << 10));
	memset(&full, 0, sizeof(full));
	ck_assert_int_eq(repo_snapshot_load(r, s.id, &full), 0);
	ck_assert_int_eq(walk_tree(r, full.root, &wo), 0);
	ck_assert_int_eq(c.files, 5);
	ck_assert_int_eq(c.links, 1);
	ck_assert_int_ge(c.dirs, 2);
	memset(&st, 0, sizeof(st));
	ck_assert_int_eq(repo_check_store(r, 1, NULL, NULL, &st), 0);
	snap_info_clear(&full);
	snap_info_clear(&s);
	repo_free(r);
}
END_TEST

START_TEST(unchanged_files_are_not_read_again)
{
	struct repo *r;
	struct snap_info s1, s2, s3;
	int64_t later;
	uint8_t more[4096];

	later = start_after_writes();
	ck_assert_int_eq(repo_open(repodir, "pw", 2, &r), 0);
	ck_assert_int_eq(run(r, later, &s1), 0);
	ck_assert_int_eq(run(r, later + 1000000000LL, &s2), 0);
	ck_assert_uint_eq(s2.files_unchanged, 5);
	ck_assert_uint_eq(s2.bytes_read, 0);
	/* only the trees of the changed ancestors (the test's own directory) */
	ck_assert_uint_lt(s2.bytes_added, 8192);

	memset(more, 'm', sizeof(more));
	write_file("sub/x", more, sizeof(more));
	ck_assert_int_eq(run(r, later + 2000000000LL, &s3), 0);
	ck_assert_uint_eq(s3.files_unchanged, 4);
	ck_assert_uint_eq(s3.files_changed, 1);
	ck_assert_uint_eq(s3.bytes_read, sizeof(more));
	snap_info_clear(&s1);
	snap_info_clear(&s2);
	snap_info_clear(&s3);
	repo_free(r);
}
END_TEST

/* The names of the files (not directories) opened in the watched
 * directories since the last call, space-separated, into out. */
static void
opened_files(int ifd, char *out, size_t cap)
{
	char ev[8192] __attribute__((aligned(__alignof__(struct inotify_event))));
	ssize_t n;

	out[0] = '\0';
	while ((n = read(ifd, ev, sizeof(ev))) > 0) {
		for (char *p = ev; p < ev + n;) {
			struct inotify_event *e = (struct inotify_event *)p;

			if ((e->mask & IN_OPEN) && !(e->mask & IN_ISDIR) && e->len &&
			    strlen(out) + strlen(e->name) + 2 < cap) {
				strcat(out, e->name);
				strcat(out, " ");
			}
			p += sizeof(*e) + e->len;
		}
	}
}

/*
 * The second backup of an unchanged tree opens none of its plain files
 * (fsent's stat_only): an inotify watch sees every open.  A changed file
 * is opened (and read), which shows the watch works.
 */
START_TEST(unchanged_plain_files_are_not_opened)
{
	struct repo *r;
	struct snap_info s1, s2, s3;
	char path[512], got[1024];
	int64_t later;
	int ifd;

	later = start_after_writes();
	ck_assert_int_eq(repo_open(repodir, "pw", 2, &r), 0);
	ck_assert_int_eq(run(r, later, &s1), 0);
	ck_assert_int_ge(ifd = inotify_init1(IN_NONBLOCK | IN_CLOEXEC), 0);
	ck_assert_int_ge(inotify_add_watch(ifd, src, IN_OPEN), 0);
	snprintf(path, sizeof(path), "%s/sub", src);
	ck_assert_int_ge(inotify_add_watch(ifd, path, IN_OPEN), 0);

	ck_assert_int_eq(run(r, later + 1000000000LL, &s2), 0);
	ck_assert_uint_eq(s2.files_unchanged, 5);
	opened_files(ifd, got, sizeof(got));
	ck_assert_msg(got[0] == '\0', "unchanged files opened: %s", got);

	write_file("sub/x", "y", 1);
	opened_files(ifd, got, sizeof(got));	/* the test's own open */
	ck_assert_int_eq(run(r, later + 2000000000LL, &s3), 0);
	ck_assert_uint_eq(s3.files_changed, 1);
	opened_files(ifd, got, sizeof(got));
	ck_assert_str_eq(got, "x ");
	close(ifd);
	snap_info_clear(&s1);
	snap_info_clear(&s2);
	snap_info_clear(&s3);
	repo_free(r);
}
END_TEST

/* Finds path in a snapshot and returns the value of its xattr "user.k"
 * in out (empty if it has none). */
struct xfind { const char *want; char value[64]; int found; };

static int
xattr_entry(const char *path, const struct tree_entry *e, void *arg)
{
	struct xfind *f = arg;
	size_t i;

	if (strcmp(path, f->want) != 0)
		return 0;
	f->found = 1;
	f->value[0] = '\0';
	for (i = 0; i < e->nxattrs; i++)
		if (strcmp(e->xattrs[i].name, "user.k") == 0)
			snprintf(f->value, sizeof(f->value), "%.*s", (int)e->xattrs[i].len,
			    (const char *)e->xattrs[i].value);
	return 0;
}

static const char *
xattr_in(struct repo *r, const struct snap_info *s, const char *rel, struct xfind *f)
{
	static char path[512];
	struct walk_opts wo = { xattr_entry, NULL, f, NULL };
	struct snap_info full;

	snprintf(path, sizeof(path), "%s/%s", src, rel);
	f->want = path;
	f->found = 0;
	memset(&full, 0, sizeof(full));
	ck_assert_int_eq(repo_snapshot_load(r, s->id, &full), 0);
	ck_assert_int_eq(walk_tree(r, full.root, &wo), 0);
	snap_info_clear(&full);
	ck_assert(f->found);
	return f->value;
}

/*
 * An unchanged file is taken from the files cache; one that had no
 * extended attributes is not even opened (fsent's stat_only).  Adding or
 * changing an attribute changes the ctime, so the file is looked at again
 * and the snapshot has the attribute; an unchanged one keeps it.
 */
START_TEST(xattrs_follow_the_files_cache)
{
	struct repo *r;
	struct snap_info s1, s2, s3;
	struct xfind f;
	char path[512];
	int64_t later;

	snprintf(path, sizeof(path), "%s/hello.txt", src);
	if (setxattr(path, "user.k", "v1", 2, 0) != 0) {
		printf("test_engine: skipping xattrs_follow_the_files_cache: setxattr: %s\n",
		    strerror(errno));
		return;
	}
	later = start_after_writes();
	ck_assert_int_eq(repo_open(repodir, "pw", 2, &r), 0);
	ck_assert_int_eq(run(r, later, &s1), 0);
	ck_assert_int_eq(run(r, later + 1000000000LL, &s2), 0);
	ck_assert_uint_eq(s2.files_unchanged, 5);
	ck_assert_str_eq(xattr_in(r, &s2, "hello.txt", &f), "v1");
	ck_assert_str_eq(xattr_in(r, &s2, "sub/x", &f), "");
	/* a changed attribute and a new one on a file that had none */
	ck_assert_int_eq(setxattr(path, "user.k", "v2", 2, 0), 0);
	snprintf(path, sizeof(path), "%s/sub/x", src);
	ck_assert_int_eq(setxattr(path, "user.k", "new", 3, 0), 0);
	ck_assert_int_eq(run(r, later + 2000000000LL, &s3), 0);
	ck_assert_str_eq(xattr_in(r, &s3, "hello.txt", &f), "v2");
	ck_assert_str_eq(xattr_in(r, &s3, "sub/x", &f), "new");
	ck_assert_str_eq(xattr_in(r, &s3, "big.bin", &f), "");
	snap_info_clear(&s1);
	snap_info_clear(&s2);
	snap_info_clear(&s3);
	repo_free(r);
}
END_TEST

START_TEST(write_only_key_backs_up)
{
	struct repo *admin, *w;
	struct snap_info s;
	struct buf b = { 0 };
	char slot[17];

	ck_assert_int_eq(repo_open(repodir, "pw", 2, &admin), 0);
	ck_assert_int_eq(repo_key_add(admin, "host", REPO_CAP_WRITE, "wpw", 3, &cheap, slot), 0);
	ck_assert_int_eq(repo_open(repodir, "wpw", 3, &w), 0);
	ck_assert_int_eq(run(w, 0, &s), 0);
	ck_assert_uint_eq(s.files, 5);
	/* it cannot read back what it wrote */
	ck_assert_int_eq(repo_get(w, OBJ_TREE, s.root, &b), BW_ERR_PERM);
	/* but an admin can */
	ck_assert_int_eq(repo_get(admin, OBJ_TREE, s.root, &b), 0);
	buf_free(&b);
	snap_info_clear(&s);
	repo_free(w);
	repo_free(admin);
}
END_TEST

START_TEST(roots_are_normalised)
{
	char *p[] = { strdup("/a/b-x"), strdup("/a/b/c"), strdup("/a/b"), strdup("/z"),
	    strdup("/a/b/c/d") };
	char *bad[] = { strdup("/a/../b") };
	size_t n;

	ck_assert_int_eq(backup_roots_normalise(p, 5, &n), 0);
	ck_assert_uint_eq(n, 3);
	ck_assert_str_eq(p[0], "/a/b");
	ck_assert_str_eq(p[1], "/a/b-x");
	ck_assert_str_eq(p[2], "/z");
	for (size_t i = 0; i < n; i++)
		free(p[i]);
	ck_assert_int_eq(backup_roots_normalise(bad, 1, &n), BW_ERR_INVAL);
	free(bad[0]);
}
END_TEST

/* Reassembles a file's content from the repository (chunks, or a delta
 * applied to its base), as a restore will. */
struct mem { const uint8_t *p; size_t n; };

static long
read_mem(void *arg, uint64_t pos, void *buf, size_t len)
{
	struct mem *m = arg;

	if (pos >= m->n)
		return 0;
	if (len > m->n - pos)
		len = m->n - pos;
	memcpy(buf, m->p + pos, len);
	return (long)len;
}

static int
write_buf(void *arg, const void *p, size_t n)
{
	return buf_put(arg, p, n);
}

static void
content_bytes(struct repo *r, const struct tree_content *c, struct buf *out)
{
	struct buf obj = { 0 }, base = { 0 }, delta = { 0 };
	uint32_t i;

	for (i = 0; i < c->nids; i++) {
		buf_reset(&obj);
		ck_assert_int_eq(repo_get(r, c->kind ? OBJ_DELTA : OBJ_DATA, c->ids[i], &obj), 0);
		buf_put(c->kind ? &delta : out, obj.data, obj.len);
	}
	if (c->kind == 1) {
		struct mem m;

		content_bytes(r, c->base, &base);
		m.p = base.data;
		m.n = base.len;
		ck_assert_int_eq(delta_apply(delta.data, delta.len, read_mem, &m, write_buf, out), 0);
	}
	buf_free(&obj);
	buf_free(&base);
	buf_free(&delta);
}

struct find { const char *want; struct tree_entry copy; int found; };

static int
find_entry(const char *path, const struct tree_entry *e, void *arg)
{
	struct find *f = arg;
	struct buf b = { 0 };
	struct bufr r;

	if (strcmp(path, f->want) != 0)
		return 0;
	/* deep copy of the content through its codec */
	ck_assert_int_eq(tree_content_encode(&b, &e->content), 0);
	bufr_init(&r, b.data, b.len);
	ck_assert_int_eq(tree_content_decode(&r, &f->copy.content, TREE_DELTA_DEPTH_MAX), 0);
	buf_free(&b);
	f->found = 1;
	return 0;
}

/* Checks that snapshot id holds path stored as kind (0 chunks, 1 a delta)
 * and that it reads back as want[0..n). */
static void
stored_as(struct repo *r, const uint8_t *id, const char *path, int kind, const void *want,
    size_t n)
{
	struct find fe = { 0 };
	struct walk_opts wo = { find_entry, NULL, &fe, NULL };
	struct snap_info full;
	struct buf got = { 0 };

	memset(&full, 0, sizeof(full));
	ck_assert_int_eq(repo_snapshot_load(r, id, &full), 0);
	fe.want = path;
	ck_assert_int_eq(walk_tree(r, full.root, &wo), 0);
	ck_assert_msg(fe.found, "%s: not in the snapshot", path);
	ck_assert_int_eq(fe.copy.content.kind, kind);
	content_bytes(r, &fe.copy.content, &got);
	ck_assert_uint_eq(got.len, n);
	ck_assert_msg(memcmp(got.data, want, n) == 0, "%s reads back wrong", path);
	buf_free(&got);
	tree_content_clear(&fe.copy.content);
	snap_info_clear(&full);
}

START_TEST(in_place_edit_is_stored_as_a_delta)
{
	struct repo *r;
	struct snap_info s1, s2, full;
	struct find fe = { 0 };
	struct walk_opts wo = { find_entry, NULL, &fe, NULL };
	struct buf got = { 0 };
	char path[512];
	uint8_t patch[4096], *want;
	int64_t later;
	FILE *f;

	later = start_after_writes();
	ck_assert_int_eq(repo_open(repodir, "pw", 2, &r), 0);
	ck_assert_int_eq(run(r, later, &s1), 0);
	/* overwrite 4 KiB in the middle of the 3 MiB file, in place */
	bwcrypto_random(patch, sizeof(patch));
	snprintf(path, sizeof(path), "%s/big.bin", src);
	ck_assert_ptr_nonnull(f = fopen(path, "r+b"));
	fseek(f, 1500000, SEEK_SET);
	fwrite(patch, 1, sizeof(patch), f);
	fclose(f);
	ck_assert_int_eq(run(r, later + 1000000000LL, &s2), 0);
	ck_assert_uint_eq(s2.files_changed, 1);
	/* the edit costs about its own size, not a 1 MiB chunk */
	ck_assert_uint_lt(s2.bytes_added, 3 * sizeof(patch));

	memset(&full, 0, sizeof(full));
	ck_assert_int_eq(repo_snapshot_load(r, s2.id, &full), 0);
	fe.want = path;
	ck_assert_int_eq(walk_tree(r, full.root, &wo), 0);
	ck_assert(fe.found);
	ck_assert_int_eq(fe.copy.content.kind, 1);
	ck_assert_int_eq(fe.copy.content.depth, 1);
	content_bytes(r, &fe.copy.content, &got);
	ck_assert_uint_eq(got.len, 3u << 20);
	want = malloc(3u << 20);
	ck_assert_ptr_nonnull(f = fopen(path, "rb"));
	ck_assert_uint_eq(fread(want, 1, 3u << 20, f), 3u << 20);
	fclose(f);
	ck_assert(memcmp(want, got.data, got.len) == 0);
	free(want);
	buf_free(&got);
	tree_content_clear(&fe.copy.content);
	snap_info_clear(&full);
	snap_info_clear(&s1);
	snap_info_clear(&s2);
	repo_free(r);
}
END_TEST

/*
 * A file rewritten in place is not an edit: its delta is given up and the
 * file is stored as chunks.  The 40 MiB file's delta passes DELTA_CAP
 * (8 MiB) while it is being read, so the walker stops reading it early
 * (it runs at most MAX_INFLIGHT ahead of the delta); the 3 MiB file's is
 * given up at its end (almost nothing of the old file reused).  Both read
 * back equal, and the next backup of the same bytes adds nothing.
 */
START_TEST(rewritten_file_is_stored_whole)
{
	static const struct { const char *name; size_t size; } files[] = {
		{ "huge.bin", 40u << 20 }, { "big.bin", 3u << 20 },
	};
	struct repo *r;
	struct snap_info s1, s2, s3;
	char path[512];
	uint8_t *data = malloc(40u << 20);
	int64_t later;
	size_t i;

	ck_assert_ptr_nonnull(data);
	bwcrypto_random(data, 40u << 20);
	write_file("huge.bin", data, 40u << 20);
	later = start_after_writes();
	ck_assert_int_eq(repo_open(repodir, "pw", 2, &r), 0);
	ck_assert_int_eq(run(r, later, &s1), 0);
	bwcrypto_random(data, 40u << 20);
	for (i = 0; i < 2; i++)
		write_file(files[i].name, data, files[i].size);
	ck_assert_int_eq(run(r, later + 1000000000LL, &s2), 0);
	ck_assert_uint_eq(s2.files_changed, 2);
	ck_assert_uint_gt(s2.bytes_added, 40u << 20);
	/* each read twice, but the large one not to its end the first time */
	ck_assert_uint_gt(s2.bytes_read, (40u << 20) + 2 * (3u << 20));
	ck_assert_uint_lt(s2.bytes_read, 2 * (40u << 20) + 2 * (3u << 20));

	for (i = 0; i < 2; i++) {
		snprintf(path, sizeof(path), "%s/%s", src, files[i].name);
		stored_as(r, s2.id, path, 0, data, files[i].size);	/* chunks, no delta */
	}
	/* touched, same bytes: nothing new */
	write_file("huge.bin", data, 40u << 20);
	ck_assert_int_eq(run(r, later + 2000000000LL, &s3), 0);
	ck_assert_uint_lt(s3.bytes_added, 64u << 10);
	free(data);
	snap_info_clear(&s1);
	snap_info_clear(&s2);
	snap_info_clear(&s3);
	repo_free(r);
}
END_TEST

/* The signature the files cache holds for path (the newest version's). */
static void
cached_sig(struct repo *r, const char *path, struct buf *out)
{
	char idhex[2 * REPO_ID_LEN + 1];
	struct fcache *c;
	struct fcache_hit hit;
	struct buf blob = { 0 };
	struct bufr br;
	const uint8_t *p;
	size_t n;

	hex_encode(idhex, repo_id(r), REPO_ID_LEN);
	ck_assert_int_eq(fcache_open(cachedir, idhex, repo_generation(r), &c), 0);
	ck_assert_int_eq(fcache_find(c, path, &hit), 0);
	ck_assert_int_eq(fcache_sig_read(c, &hit, &blob), 0);
	bufr_init(&br, blob.data, blob.len);
	ck_assert_ptr_nonnull(p = bufr_str(&br, blob.len, &n));
	buf_put(out, p, n);
	buf_free(&blob);
	fcache_free(c);
}

/* Checks that the files cache has the signature of want[0..n) for path. */
static void
sig_is_files(struct repo *r, const char *path, const void *want, size_t n)
{
	struct buf sig = { 0 }, fresh = { 0 };
	struct delta_sig_job *j;

	cached_sig(r, path, &sig);
	ck_assert_ptr_nonnull(j = delta_sig_start(n));
	ck_assert_int_eq(delta_sig_feed(j, want, n), 0);
	ck_assert_int_eq(delta_sig_finish(j, &fresh), 0);
	ck_assert_uint_eq(sig.len, fresh.len);
	ck_assert_msg(memcmp(sig.data, fresh.data, fresh.len) == 0, "%s: wrong signature", path);
	buf_free(&sig);
	buf_free(&fresh);
}

/* Counts the engine's debug messages that contain what. */
struct count_msg { const char *what; unsigned n; };

static void
count_msg(enum log_level lvl, const char *msg, void *arg)
{
	struct count_msg *c = arg;

	if (lvl == LOG_LVL_DEBUG && strstr(msg, c->what))
		c->n++;
}

/*
 * A file edited again and again is stored as a chain of deltas, each
 * against the signature that the previous backup derived from its own
 * delta (not hashed anew): that signature must be exactly the file's, and
 * every version must read back equal.
 */
START_TEST(derived_signatures_keep_deltas_right)
{
	static const struct { long off; size_t len; int append; } edits[] = {
		{ 1500000, 4096, 0 },	/* in the middle, off the block grid */
		{ 0, 300, 0 },		/* the first block */
		{ 0, 100000, 1 },	/* appended */
		{ 256 * 1000, 512, 0 },	/* exactly two blocks */
		{ -10, 10, 0 },		/* the last bytes */
	};
	struct repo *r;
	struct snap_info s;
	char path[512];
	uint8_t patch[100000], *bytes;
	int64_t later;
	size_t i, size = 3u << 20;
	struct count_msg derived = { "rsync signature derived", 0 };
	FILE *f;

	/* each signature below must have been derived, not hashed anew */
	log_set_level(LOG_LVL_DEBUG);
	log_set_sink(count_msg, &derived);
	later = start_after_writes();
	ck_assert_int_eq(repo_open(repodir, "pw", 2, &r), 0);
	ck_assert_int_eq(run(r, later, &s), 0);
	snap_info_clear(&s);
	snprintf(path, sizeof(path), "%s/big.bin", src);
	ck_assert_ptr_nonnull(bytes = malloc(size + sizeof(patch) * 2));
	for (i = 0; i < sizeof(edits) / sizeof(edits[0]); i++) {
		bwcrypto_random(patch, edits[i].len);
		ck_assert_ptr_nonnull(f = fopen(path, "r+b"));
		if (edits[i].append)
			fseek(f, 0, SEEK_END);
		else
			fseek(f, edits[i].off, edits[i].off < 0 ? SEEK_END : SEEK_SET);
		ck_assert_uint_eq(fwrite(patch, 1, edits[i].len, f), edits[i].len);
		fclose(f);
		if (edits[i].append)
			size += edits[i].len;
		ck_assert_int_eq(run(r, later + (int64_t)(i + 1) * 1000000000LL, &s), 0);
		ck_assert_uint_eq(s.files_changed, 1);
		ck_assert_uint_lt(s.bytes_added, edits[i].len + 8192);

		/* what the backup stored reads back as the file */
		ck_assert_ptr_nonnull(f = fopen(path, "rb"));
		ck_assert_uint_eq(fread(bytes, 1, size + 1, f), size);
		fclose(f);
		stored_as(r, s.id, path, 1, bytes, size);
		snap_info_clear(&s);
		/* and the cache has the file's own signature */
		sig_is_files(r, path, bytes, size);
		ck_assert_uint_eq(derived.n, i + 1);
	}
	log_set_sink(NULL, NULL);
	log_set_level(LOG_LVL_INFO);
	free(bytes);
	repo_free(r);
}
END_TEST

/*
 * Files whose previous version is stored as chunks get a delta joined
 * from their chunks: a COPY for each chunk the old version has, librsync
 * only over the others.  Every kind of change must read back equal, cost
 * about itself, and leave the file's own signature in the cache (derived
 * from the delta; after the insertion, from the shifted bytes read again).
 */
START_TEST(joined_delta_covers_every_edit)
{
	enum { EDIT, INSERT, APPEND, TRUNCATE, HEAD, REPEATED, NCASE };
	static const size_t size = 6u << 20;
	struct repo *r;
	struct snap_info s1, s2;
	uint8_t *orig, *now[NCASE], patch[4096];
	size_t len[NCASE], i;
	char path[512], name[32];
	struct count_msg joined = { "delta joined from", 0 };
	int64_t later;

	later = start_after_writes();
	ck_assert_ptr_nonnull(orig = malloc(size));
	bwcrypto_random(orig, size);
	bwcrypto_random(patch, sizeof(patch));
	for (i = 0; i < NCASE; i++) {
		ck_assert_ptr_nonnull(now[i] = malloc(size + 200000));
		memcpy(now[i], orig, size);
		if (i == REPEATED) {	/* the same 2 MiB three times: equal chunks */
			memcpy(now[i] + (2u << 20), orig, 2u << 20);
			memcpy(now[i] + (4u << 20), orig, 2u << 20);
		}
		snprintf(name, sizeof(name), "joined-%zu.bin", i);
		write_file(name, now[i], size);
		len[i] = size;
	}
	ck_assert_int_eq(repo_open(repodir, "pw", 2, &r), 0);
	ck_assert_int_eq(run(r, later, &s1), 0);

	memcpy(now[EDIT] + 3000000, patch, sizeof(patch));
	memmove(now[INSERT] + 2500000 + 1000, now[INSERT] + 2500000, size - 2500000);
	memcpy(now[INSERT] + 2500000, patch, 1000);
	len[INSERT] += 1000;
	bwcrypto_random(now[APPEND] + size, 100000);
	len[APPEND] += 100000;
	len[TRUNCATE] = 5000000;
	memcpy(now[HEAD], patch, 300);
	memcpy(now[REPEATED] + (3u << 20) + 12345, patch, sizeof(patch));
	for (i = 0; i < NCASE; i++) {
		snprintf(name, sizeof(name), "joined-%zu.bin", i);
		write_file(name, now[i], len[i]);
	}
	log_set_level(LOG_LVL_DEBUG);
	log_set_sink(count_msg, &joined);
	ck_assert_int_eq(run(r, later + 1000000000LL, &s2), 0);
	log_set_sink(NULL, NULL);
	log_set_level(LOG_LVL_INFO);
	ck_assert_uint_eq(joined.n, NCASE);
	ck_assert_uint_eq(s2.files_changed, NCASE);
	/* the 4 KiB edits, 1000 inserted, 300 overwritten and 100000 appended
	 * bytes, each with a few blocks around it */
	ck_assert_uint_lt(s2.bytes_added, 3 * sizeof(patch) + 1000 + 300 + 100000 + 6 * 4096);

	for (i = 0; i < NCASE; i++) {
		snprintf(path, sizeof(path), "%s/joined-%zu.bin", src, i);
		stored_as(r, s2.id, path, 1, now[i], len[i]);
		sig_is_files(r, path, now[i], len[i]);
	}
	for (i = 0; i < NCASE; i++)
		free(now[i]);
	free(orig);
	snap_info_clear(&s1);
	snap_info_clear(&s2);
	repo_free(r);
}
END_TEST

static int
count_files(const char *path, const struct tree_entry *e, void *arg)
{
	(void)path;
	if (e->kind == TREE_FILE)
		(*(int *)arg)++;
	return 0;
}

/* A directory "many" of 400 small files, so that its tree is big enough
 * to be stored as a delta; returns a backup time 10 s ahead (no file is
 * "racy" for the files cache). */
static int64_t
make_many(void)
{
	char path[512], name[64];
	int i;

	snprintf(path, sizeof(path), "%s/many", src);
	ck_assert_int_eq(mkdir(path, 0755), 0);
	for (i = 0; i < 400; i++) {
		snprintf(name, sizeof(name), "many/file-%04d", i);
		write_file(name, name, strlen(name));
	}
	return start_after_writes();
}

START_TEST(changed_directory_is_stored_as_a_delta)
{
	struct repo *r;
	struct snap_info s1, s2, full;
	struct walk_opts wo = { count_files, NULL, NULL, NULL };
	int64_t later;
	int n = 0;

	later = make_many();
	ck_assert_int_eq(repo_open(repodir, "pw", 2, &r), 0);
	ck_assert_int_eq(run(r, later, &s1), 0);
	snap_info_clear(&s1);
	/* an unchanged backup in between carries the tree's signature forward */
	ck_assert_int_eq(run(r, later + 1000000000LL, &s1), 0);
	ck_assert_uint_eq(s1.files_unchanged, 405);
	write_file("many/file-0200", "changed", 7);
	ck_assert_int_eq(run(r, later + 2000000000LL, &s2), 0);
	ck_assert_uint_eq(s2.files_changed, 1);
	/* the 400-entry tree is ~60 KB; one changed entry costs its changed
	 * bytes (plus the small ancestor trees and the changed file) */
	ck_assert_uint_lt(s2.bytes_added, 3000);
	/* and the tree rebuilds from its delta, verified against its id */
	memset(&full, 0, sizeof(full));
	wo.arg = &n;
	ck_assert_int_eq(repo_snapshot_load(r, s2.id, &full), 0);
	ck_assert_int_eq(walk_tree(r, full.root, &wo), 0);
	ck_assert_int_eq(n, 405);
	snap_info_clear(&full);
	snap_info_clear(&s1);
	snap_info_clear(&s2);
	repo_free(r);
}
END_TEST

struct chain_check {
	char file[512], dir[512];
	uint64_t file_size;
	int files, dir_depth;
};

static int
chain_visit(const char *path, const struct tree_entry *e, void *arg)
{
	struct chain_check *c = arg;

	if (e->kind == TREE_FILE)
		c->files++;
	if (!strcmp(path, c->file))
		c->file_size = e->size;
	if (!strcmp(path, c->dir))
		c->dir_depth = e->content.depth;
	return 0;
}

/* A directory changed in every backup: its tree goes down a delta chain,
 * is rebased on the chain's root after TREE_DELTA_DEPTH_MAX versions, and
 * every version still reads back (verified against its id by walk_load).
 * The deltas are exact: one changed entry costs its changed bytes. */
START_TEST(directory_chain_past_the_depth_cap)
{
	struct repo *r;
	struct snap_info s[13], full;
	struct chain_check c;
	struct walk_opts wo = { chain_visit, NULL, &c, NULL };
	char name[64], body[64];
	int64_t later;
	int k, deepest = 0;

	later = make_many();
	ck_assert_int_eq(repo_open(repodir, "pw", 2, &r), 0);
	ck_assert_int_eq(run(r, later, &s[0]), 0);
	for (k = 1; k < 13; k++) {
		snprintf(name, sizeof(name), "many/file-%04d", k * 7);
		snprintf(body, sizeof(body), "version %d of this file, %*s", k, k, "");
		write_file(name, body, strlen(body));
		ck_assert_int_eq(run(r, later + k * 1000000000LL, &s[k]), 0);
		ck_assert_uint_eq(s[k].files_changed, 1);
		/* the file (a small chunk), the 60 KB tree's delta and its
		 * ancestors' (a rebase adds the drift since the chain's root) */
		ck_assert_uint_lt(s[k].bytes_added, k > 8 ? 6000 : 4000);
	}
	for (k = 0; k < 13; k++) {
		memset(&c, 0, sizeof(c));
		memset(&full, 0, sizeof(full));
		snprintf(c.file, sizeof(c.file), "%s/many/file-%04d", src, k ? k * 7 : 7);
		snprintf(c.dir, sizeof(c.dir), "%s/many", src);
		ck_assert_int_eq(repo_snapshot_load(r, s[k].id, &full), 0);
		ck_assert_int_eq(walk_tree(r, full.root, &wo), 0);
		ck_assert_int_eq(c.files, 405);
		snprintf(body, sizeof(body), "version %d of this file, %*s", k, k, "");
		ck_assert_uint_eq(c.file_size, k ? strlen(body) : strlen("many/file-0007"));
		ck_assert_int_le(c.dir_depth, TREE_DELTA_DEPTH_MAX);
		if (c.dir_depth > deepest)
			deepest = c.dir_depth;
		/* the rebase: after the cap the chain starts again at 1 */
		if (k == TREE_DELTA_DEPTH_MAX + 1)
			ck_assert_int_eq(c.dir_depth, 1);
		snap_info_clear(&full);
	}
	ck_assert_int_eq(deepest, TREE_DELTA_DEPTH_MAX);
	for (k = 0; k < 13; k++)
		snap_info_clear(&s[k]);
	repo_free(r);
}
END_TEST

int
main(void)
{
	Suite *s = suite_create("engine");
	TCase *tc = tcase_create("core");
	SRunner *sr;
	int failed;

	bwcrypto_init();
	tcase_add_checked_fixture(tc, setup, teardown);
	tcase_add_test(tc, backup_reads_back_equal);
	tcase_add_test(tc, unchanged_files_are_not_read_again);
	tcase_add_test(tc, xattrs_follow_the_files_cache);
	tcase_add_test(tc, unchanged_plain_files_are_not_opened);
	tcase_add_test(tc, write_only_key_backs_up);
	tcase_add_test(tc, roots_are_normalised);
	tcase_add_test(tc, in_place_edit_is_stored_as_a_delta);
	tcase_add_test(tc, derived_signatures_keep_deltas_right);
	tcase_add_test(tc, joined_delta_covers_every_edit);
	tcase_add_test(tc, rewritten_file_is_stored_whole);
	tcase_add_test(tc, changed_directory_is_stored_as_a_delta);
	tcase_add_test(tc, directory_chain_past_the_depth_cap);
	suite_add_tcase(s, tc);
	sr = srunner_create(s);
	srunner_run_all(sr, CK_NORMAL);
	failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failed ? 1 : 0;
}
