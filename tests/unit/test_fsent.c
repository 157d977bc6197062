/*
 * fsent: walks a tree built fresh under mkdtemp and checks what a user of a
 * backup would: every entry is there, in order, with its metadata, and the
 * bytes read back are the file's bytes.
 */
#include "config.h"

#include <check.h>
#include <errno.h>
#include <fcntl.h>
#include <pwd.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mount.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>
#include <sys/wait.h>
#include <sys/xattr.h>
#include <unistd.h>

#include "lib/fsent/fsent.h"
#include "lib/util/err.h"
#include "lib/util/log.h"

#define SPARSE_SIZE	(4u << 20)
#define SPARSE_B_OFF	(1u << 20)
#define CACHEDIR_SIG	"Signature: 8a477f597d28d172789f06886806bc55"

static char root[64];

/* Messages logged during a test, one string, lines separated by '\n'. */
static char logged[16384];

static void
sink(enum log_level lvl, const char *msg, void *arg)
{
	size_t n = strlen(logged);

	(void)lvl;
	(void)arg;
	snprintf(logged + n, sizeof(logged) - n, "%s\n", msg);
}

static void
put(const char *rel, const void *p, size_t n)
{
	char path[512];
	int fd;

	snprintf(path, sizeof(path), "%s/%s", root, rel);
	fd = open(path, O_WRONLY | O_CREAT | O_TRUNC, 0644);
	ck_assert_msg(fd >= 0, "create %s: %s", path, strerror(errno));
	ck_assert_int_eq(write(fd, p, n), (ssize_t)n);
	close(fd);
}

static void
mkd(const char *rel)
{
	char path[512];

	snprintf(path, sizeof(path), "%s/%s", root, rel);
	ck_assert_msg(mkdir(path, 0755) == 0, "mkdir %s", path);
}

static char *
at(const char *rel)
{
	static char path[4][512];
	static int k;

	k = (k + 1) % 4;
	snprintf(path[k], sizeof(path[k]), "%s/%s", root, rel);
	return path[k];
}

static int
have_setfacl(void)
{
	return system("command -v setfacl >/dev/null 2>&1") == 0;
}

static void
rm_tree(void)
{
	char cmd[256];

	snprintf(cmd, sizeof(cmd), "chmod -R u+rwx '%s' 2>/dev/null; "
	    "rm -rf '%s'", root, root);
	ck_assert_int_eq(system(cmd), 0);
}

static void
setup(void)
{
	strcpy(root, "/tmp/test_fsent.XXXXXX");
	ck_assert_ptr_nonnull(mkdtemp(root));
	logged[0] = '\0';
	log_set_sink(sink, NULL);
}

static void
teardown(void)
{
	log_set_sink(NULL, NULL);
	rm_tree();
}

/* What the walk yielded for one path. */
struct got {
	char *rel;		/* path relative to root, "" for the root */
	struct fsent_entry *e;
	int err;
	uint8_t *data;		/* file bytes read back, holes as zeros */
	uint64_t datalen;	/* end of the last byte read */
	uint64_t nread;		/* bytes actually returned by fsent_read */
};

struct walk_result {
	struct got *g;
	size_t n;
	int nerr;
};

static void
walk_all(const char *top, const struct fsent_walk_opts *o,
    struct walk_result *r)
{
	struct fsent_walk *w;
	struct fsent_entry *e;
	static uint8_t buf[1 << 20];
	size_t cap = 0, rl = strlen(root);
	int rc;

	memset(r, 0, sizeof(*r));
	ck_assert_int_eq(fsent_walk_open(top, o, &w), 0);
	while ((rc = fsent_walk_next(w, &e)) != 1) {
		struct got *g;

		if (r->n == cap) {
			cap = cap ? cap * 2 : 64;
			r->g = realloc(r->g, cap * sizeof(*r->g));
			ck_assert_ptr_nonnull(r->g);
		}
		g = &r->g[r->n++];
		memset(g, 0, sizeof(*g));
		if (rc < 0) {
			g->err = rc;
			r->nerr++;
			continue;
		}
		ck_assert_int_eq(rc, 0);
		g->e = e;
		ck_assert_msg(strncmp(e->path, root, rl) == 0, "%s", e->path);
		g->rel = strdup(e->path[rl] ? e->path + rl + 1 : "");
		if (e->type != FSENT_FILE)
			continue;
		ck_assert_int_eq(fsent_open_data(w), 0);
		for (;;) {
			uint64_t off = UINT64_MAX;
			long n = fsent_read(w, buf, sizeof(buf), &off);

			ck_assert_int_ge(n, 0);
			if (n == 0)
				break;
			if (off + (uint64_t)n > g->datalen) {
				g->data = realloc(g->data, off + (uint64_t)n);
				ck_assert_ptr_nonnull(g->data);
				memset(g->data + g->datalen, 0,
				    off + (uint64_t)n - g->datalen);
				g->datalen = off + (uint64_t)n;
			}
			memcpy(g->data + off, buf, (size_t)n);
			g->nread += (uint64_t)n;
		}
	}
	fsent_walk_free(w);
}

static void
walk_result_free(struct walk_result *r)
{
	size_t i;

	for (i = 0; i < r->n; i++) {
		free(r->g[i].rel);
		free(r->g[i].data);
		fsent_entry_free(r->g[i].e);
	}
	free(r->g);
}

static const struct got *
find(const struct walk_result *r, const char *rel)
{
	size_t i;

	for (i = 0; i < r->n; i++)
		if (r->g[i].rel && strcmp(r->g[i].rel, rel) == 0)
			return &r->g[i];
	return NULL;
}

static const struct fsent_entry *
must(const struct walk_result *r, const char *rel)
{
	const struct got *g = find(r, rel);

	ck_assert_msg(g != NULL, "entry '%s' missing from the walk", rel);
	return g->e;
}

static void
set_mtime(const char *rel, time_t sec, long nsec)
{
	struct timespec ts[2] = { { sec, nsec }, { sec, nsec } };

	ck_assert_int_eq(utimensat(AT_FDCWD, at(rel), ts, AT_SYMLINK_NOFOLLOW),
	    0);
}

/* The tree most tests walk.  Returns whether xattrs and ACLs were set. */
static void
build_tree(int *have_xattr, int *have_acl)
{
	static const char tag_bad[] = "Signature: not a real cache tag......";
	uint8_t blk[4096];
	char cmd[1200];
	int fd;

	put("a.txt", "hello\n", 6);
	put("empty", "", 0);
	mkd("dir");
	put("dir/B", "upper", 5);
	put("dir/a", "lower", 5);
	mkd("dir/sub");
	put("dir/sub/deep.txt", "deep", 4);
	put("dir/y.o", "obj", 3);
	put("x.o", "obj", 3);
	mkd("skipdir");
	put("skipdir/inner", "never seen", 10);
	ck_assert_int_eq(symlink("/etc/passwd", at("link_abs")), 0);
	ck_assert_int_eq(symlink("a.txt", at("link_rel")), 0);
	ck_assert_int_eq(symlink("no/such/target", at("link_dangling")), 0);
	ck_assert_int_eq(symlink("odd\ntarget\xff", at("link_odd")), 0);
	put("hl1", "shared", 6);
	ck_assert_int_eq(link(at("hl1"), at("hl2")), 0);
	ck_assert_int_eq(mkfifo(at("fifo"), 0640), 0);

	/* Sparse: data at 0 and at 1 MiB, a hole up to 4 MiB. */
	fd = open(at("sparse"), O_WRONLY | O_CREAT | O_TRUNC, 0644);
	ck_assert_int_ge(fd, 0);
	memset(blk, 'A', sizeof(blk));
	ck_assert_int_eq(pwrite(fd, blk, sizeof(blk), 0), sizeof(blk));
	memset(blk, 'B', sizeof(blk));
	ck_assert_int_eq(pwrite(fd, blk, sizeof(blk), SPARSE_B_OFF),
	    sizeof(blk));
	ck_assert_int_eq(ftruncate(fd, SPARSE_SIZE), 0);
	close(fd);

	put("xattr", "x", 1);
	*have_xattr = setxattr(at("xattr"), "user.bulwark", "v\0\xff", 3, 0) ==
	    0;
	if (!*have_xattr)
		printf("test_fsent: skipping xattr checks: setxattr: %s\n",
		    strerror(errno));

	put("acl", "acl", 3);
	mkd("acldir");
	*have_acl = 0;
	if (!have_setfacl()) {
		printf("test_fsent: skipping ACL checks: no setfacl\n");
	} else {
		snprintf(cmd, sizeof(cmd), "setfacl -m u:nobody:rw- '%s' && "
		    "setfacl -d -m u:nobody:r-x '%s'", at("acl"), at("acldir"));
		*have_acl = system(cmd) == 0;
		if (!*have_acl)
			printf("test_fsent: skipping ACL checks: setfacl "
			    "failed (file system without ACLs?)\n");
	}

	put("mode000", "locked", 6);
	ck_assert_int_eq(chmod(at("mode000"), 0), 0);
	put("setuid", "#!", 2);
	ck_assert_int_eq(chmod(at("setuid"), 04755), 0);
	mkd("sticky");
	ck_assert_int_eq(chmod(at("sticky"), 01777), 0);

	put("nl\nname", "newline", 7);
	put("tab\tname", "tab", 3);
	put("\xff\xfe", "invalid utf8", 12);

	mkd("cache");
	put("cache/CACHEDIR.TAG", CACHEDIR_SIG "\n# a cache\n",
	    sizeof(CACHEDIR_SIG) + 11);
	put("cache/junk", "junk", 4);
	mkd("fakecache");
	put("fakecache/CACHEDIR.TAG", tag_bad, sizeof(tag_bad) - 1);
	put("fakecache/kept", "kept", 4);

	set_mtime("a.txt", 1700000000, 123456789);
	set_mtime("link_rel", 1600000000, 987654321);
}

/* Everything in the tree, in the order the contract promises. */
static const char *const expect_order[] = {
	"", "a.txt", "acl", "acldir", "cache",
	"cache/CACHEDIR.TAG", "dir", "dir/B", "dir/a", "dir/sub",
	"dir/sub/deep.txt", "empty", "fakecache", "fakecache/CACHEDIR.TAG",
	"fakecache/kept", "fifo", "hl1", "hl2", "link_abs", "link_dangling",
	"link_odd", "link_rel", "mode000", "nl\nname", "setuid", "sparse", "sticky",
	"tab\tname", "xattr", "\xff\xfe",
};

static const char *const excludes[] = { "*.o", "*/skipdir" };

static const struct fsent_walk_opts opts = {
	.excludes = excludes, .nexcludes = 2, .exclude_caches = 1,
};

START_TEST(test_walk_order_and_excludes)
{
	struct walk_result r;
	int hx, ha;
	size_t i;

	build_tree(&hx, &ha);
	walk_all(root, &opts, &r);
	ck_assert_int_eq(r.nerr, 0);
	for (i = 0; i < r.n && i < sizeof(expect_order) / sizeof(*expect_order);
	    i++)
		ck_assert_msg(strcmp(r.g[i].rel, expect_order[i]) == 0,
		    "entry %zu: got '%s', want '%s'", i, r.g[i].rel,
		    expect_order[i]);
	ck_assert_uint_eq(r.n, sizeof(expect_order) / sizeof(*expect_order));
	ck_assert_str_eq(r.g[0].e->path, root);
	ck_assert_int_eq(r.g[0].e->type, FSENT_DIR);
	walk_result_free(&r);

	/* Without options, everything is there, and caches are descended. */
	walk_all(root, NULL, &r);
	ck_assert_int_eq(r.nerr, 0);
	must(&r, "x.o");
	must(&r, "dir/y.o");
	must(&r, "skipdir/inner");
	must(&r, "cache/junk");
	walk_result_free(&r);

	/* A trailing slash on the root changes nothing. */
	{
		char top[80];

		snprintf(top, sizeof(top), "%s/dir/", root);
		walk_all(top, NULL, &r);
		ck_assert_uint_eq(r.n, 6);
		ck_assert_str_eq(r.g[0].rel, "dir");
		ck_assert_str_eq(r.g[5].rel, "dir/y.o");
		walk_result_free(&r);
	}
}
END_TEST

START_TEST(test_metadata)
{
	struct walk_result r;
	const struct fsent_entry *e, *e2;
	const struct got *g;
	struct stat st;
	int hx, ha;

	build_tree(&hx, &ha);
	walk_all(root, &opts, &r);
	ck_assert_int_eq(r.nerr, 0);

	g = find(&r, "a.txt");
	ck_assert_ptr_nonnull(g);
	e = g->e;
	ck_assert_int_eq(e->type, FSENT_FILE);
	ck_assert_uint_eq(e->size, 6);
	ck_assert_uint_eq(e->mode, 0644);
	ck_assert_int_eq(e->mtime_sec, 1700000000);
	ck_assert_uint_eq(e->mtime_nsec, 123456789);
	ck_assert_ptr_null(e->regions);
	ck_assert_ptr_null(e->acl_access);
	ck_assert_uint_eq(g->nread, 6);
	ck_assert_mem_eq(g->data, "hello\n", 6);
	ck_assert_int_eq(lstat(at("a.txt"), &st), 0);
	ck_assert_uint_eq(e->uid, st.st_uid);
	ck_assert_uint_eq(e->gid, st.st_gid);
	ck_assert_uint_eq(e->ino, st.st_ino);
	ck_assert_uint_eq(e->dev, st.st_dev);
	ck_assert_uint_eq(e->nlink, 1);
	ck_assert_int_eq(e->ctime_sec, st.st_ctim.tv_sec);
	ck_assert_uint_eq(e->ctime_nsec, (uint32_t)st.st_ctim.tv_nsec);
	ck_assert_int_eq(e->atime_sec, st.st_atim.tv_sec);
	if (getpwuid(st.st_uid))
		ck_assert_str_eq(e->uname, getpwuid(st.st_uid)->pw_name);

	g = find(&r, "empty");
	ck_assert_ptr_nonnull(g);
	ck_assert_uint_eq(g->e->size, 0);
	ck_assert_uint_eq(g->nread, 0);

	e = must(&r, "link_abs");
	ck_assert_int_eq(e->type, FSENT_SYMLINK);
	ck_assert_str_eq(e->link, "/etc/passwd");
	e = must(&r, "link_rel");
	ck_assert_str_eq(e->link, "a.txt");
	ck_assert_int_eq(e->mtime_sec, 1600000000);
	ck_assert_uint_eq(e->mtime_nsec, 987654321);
	e = must(&r, "link_dangling");
	ck_assert_int_eq(e->type, FSENT_SYMLINK);
	ck_assert_str_eq(e->link, "no/such/target");
	ck_assert_str_eq(must(&r, "link_odd")->link, "odd\ntarget\xff");

	e = must(&r, "hl1");
	ck_assert_int_eq(e->type, FSENT_FILE);
	ck_assert_uint_eq(e->nlink, 2);
	ck_assert_mem_eq(find(&r, "hl1")->data, "shared", 6);
	e2 = must(&r, "hl2");
	ck_assert_int_eq(e2->type, FSENT_HARDLINK);
	ck_assert_str_eq(e2->link, e->path);
	ck_assert_uint_eq(e2->ino, e->ino);

	e = must(&r, "fifo");
	ck_assert_int_eq(e->type, FSENT_FIFO);
	ck_assert_uint_eq(e->mode, 0640);

	e = must(&r, "setuid");
	ck_assert_uint_eq(e->mode, 04755);
	e = must(&r, "sticky");
	ck_assert_int_eq(e->type, FSENT_DIR);
	ck_assert_uint_eq(e->mode, 01777);
	e = must(&r, "mode000");
	ck_assert_uint_eq(e->mode, 0);
	if (geteuid() == 0)
		ck_assert_mem_eq(find(&r, "mode000")->data, "locked", 6);

	ck_assert_mem_eq(find(&r, "nl\nname")->data, "newline", 7);
	ck_assert_mem_eq(find(&r, "tab\tname")->data, "tab", 3);
	ck_assert_mem_eq(find(&r, "\xff\xfe")->data, "invalid utf8", 12);
	ck_assert_str_eq(must(&r, "nl\nname")->path, at("nl\nname"));

	if (hx) {
		e = must(&r, "xattr");
		ck_assert_uint_eq(e->nxattrs, 1);
		ck_assert_str_eq(e->xattrs[0].name, "user.bulwark");
		ck_assert_uint_eq(e->xattrs[0].len, 3);
		ck_assert_mem_eq(e->xattrs[0].value, "v\0\xff", 3);
	}
	ck_assert_uint_eq(must(&r, "a.txt")->nxattrs, 0);
	if (ha) {
		e = must(&r, "acl");
		ck_assert_ptr_nonnull(e->acl_access);
		ck_assert_msg(strstr(e->acl_access, "user:nobody:rw-"),
		    "access ACL: %s", e->acl_access);
		ck_assert_ptr_null(e->acl_default);
		e = must(&r, "acldir");
		ck_assert_ptr_nonnull(e->acl_default);
		ck_assert_msg(strstr(e->acl_default, "user:nobody:r-x"),
		    "default ACL: %s", e->acl_default);
		ck_assert_ptr_null(must(&r, "dir")->acl_default);
	}
	walk_result_free(&r);
}
END_TEST

START_TEST(test_sparse)
{
	struct walk_result r;
	const struct got *g;
	uint8_t *want;
	int hx, ha;

	build_tree(&hx, &ha);
	walk_all(root, &opts, &r);
	g = find(&r, "sparse");
	ck_assert_ptr_nonnull(g);
	ck_assert_uint_eq(g->e->size, SPARSE_SIZE);
	if (g->e->nregions == 0) {
		printf("test_fsent: skipping sparse region checks: the file "
		    "system does not report holes\n");
		ck_assert_uint_eq(g->nread, SPARSE_SIZE);
	} else {
		/* Holes are skipped: only the two written blocks come back. */
		ck_assert_uint_eq(g->e->nregions, 2);
		ck_assert_uint_eq(g->e->regions[0].off, 0);
		ck_assert_uint_eq(g->e->regions[0].len, 4096);
		ck_assert_uint_eq(g->e->regions[1].off, SPARSE_B_OFF);
		ck_assert_uint_eq(g->e->regions[1].len, 4096);
		ck_assert_uint_eq(g->nread, 8192);
	}
	want = calloc(1, SPARSE_SIZE);
	memset(want, 'A', 4096);
	memset(want + SPARSE_B_OFF, 'B', 4096);
	ck_assert_uint_le(g->datalen, SPARSE_SIZE);
	ck_assert_mem_eq(g->data, want, g->datalen);
	free(want);
	walk_result_free(&r);
}
END_TEST

START_TEST(test_size_change_warned)
{
	struct fsent_walk *w;
	struct fsent_entry *e;
	static char big[200000];
	uint8_t buf[65536];
	uint64_t off, total = 0;
	long n;

	memset(big, 'z', sizeof(big));
	put("grows", big, sizeof(big));
	ck_assert_int_eq(fsent_walk_open(at("grows"), NULL, &w), 0);
	ck_assert_int_eq(fsent_walk_next(w, &e), 0);
	ck_assert_uint_eq(e->size, sizeof(big));
	ck_assert_int_eq(truncate(at("grows"), 1000), 0);
	ck_assert_int_eq(fsent_open_data(w), 0);
	while ((n = fsent_read(w, buf, sizeof(buf), &off)) > 0)
		total += (uint64_t)n;
	ck_assert_int_eq(n, 0);
	ck_assert_uint_eq(total, 1000);
	ck_assert_msg(strstr(logged, "changed size while being read"),
	    "log: %s", logged);
	fsent_entry_free(e);
	ck_assert_int_eq(fsent_walk_next(w, &e), 1);
	fsent_walk_free(w);

	/* A file that grows is read to its new end. */
	logged[0] = '\0';
	ck_assert_int_eq(fsent_walk_open(at("grows"), NULL, &w), 0);
	ck_assert_int_eq(fsent_walk_next(w, &e), 0);
	ck_assert_uint_eq(e->size, 1000);
	put("grows", big, sizeof(big));
	ck_assert_int_eq(fsent_open_data(w), 0);
	total = 0;
	while ((n = fsent_read(w, buf, sizeof(buf), &off)) > 0) {
		ck_assert_uint_eq(off, total);
		total += (uint64_t)n;
	}
	ck_assert_uint_eq(total, sizeof(big));
	ck_assert_msg(strstr(logged, "changed size while being read"),
	    "log: %s", logged);
	fsent_entry_free(e);
	fsent_walk_free(w);

	/* Only a regular file has data. */
	ck_assert_int_eq(fsent_walk_open(root, NULL, &w), 0);
	ck_assert_int_eq(fsent_walk_next(w, &e), 0);
	ck_assert_int_eq(e->type, FSENT_DIR);
	ck_assert_int_eq(fsent_open_data(w), BW_ERR_INVAL);
	fsent_entry_free(e);
	fsent_walk_free(w);
}
END_TEST

START_TEST(test_stat)
{
	struct fsent_entry *e;
	int hx, ha;

	build_tree(&hx, &ha);
	ck_assert_int_eq(fsent_stat(at("a.txt"), &e), 0);
	ck_assert_int_eq(e->type, FSENT_FILE);
	ck_assert_uint_eq(e->size, 6);
	ck_assert_uint_eq(e->mtime_nsec, 123456789);
	ck_assert_str_eq(e->path, at("a.txt"));
	fsent_entry_free(e);
	ck_assert_int_eq(fsent_stat(at("link_dangling"), &e), 0);
	ck_assert_int_eq(e->type, FSENT_SYMLINK);
	ck_assert_str_eq(e->link, "no/such/target");
	fsent_entry_free(e);
	ck_assert_int_eq(fsent_stat(at("sticky"), &e), 0);
	ck_assert_uint_eq(e->mode, 01777);
	fsent_entry_free(e);
	if (ha) {
		ck_assert_int_eq(fsent_stat(at("acldir"), &e), 0);
		ck_assert_ptr_nonnull(e->acl_default);
		fsent_entry_free(e);
	}
	ck_assert_int_eq(fsent_stat(at("missing"), &e), BW_ERR_NOENT);
	ck_assert_ptr_null(e);
	ck_assert_int_eq(fsent_walk_open("relative/path", NULL,
	    &(struct fsent_walk *){ NULL }), BW_ERR_INVAL);
}
END_TEST

START_TEST(test_device)
{
	struct walk_result r;
	const struct fsent_entry *e;

	if (geteuid() != 0 || mknod(at("null"), S_IFCHR | 0600,
	    makedev(1, 3)) != 0) {
		printf("test_fsent: skipping device checks: mknod needs "
		    "root\n");
		return;
	}
	walk_all(root, NULL, &r);
	e = must(&r, "null");
	ck_assert_int_eq(e->type, FSENT_CHR);
	ck_assert_uint_eq(e->rdev, makedev(1, 3));
	ck_assert_uint_eq(e->mode, 0600);
	walk_result_free(&r);
}
END_TEST

START_TEST(test_one_file_system)
{
	struct walk_result r;

	mkd("mnt");
	put("before", "b", 1);
	if (geteuid() != 0 ||
	    mount("bwtest", at("mnt"), "tmpfs", 0, "size=64k") != 0) {
		printf("test_fsent: skipping one_file_system: cannot mount a "
		    "tmpfs here (%s)\n", strerror(errno));
		return;
	}
	put("mnt/inside", "i", 1);
	walk_all(root, &(struct fsent_walk_opts){ .one_file_system = 1 }, &r);
	ck_assert_int_eq(r.nerr, 0);
	must(&r, "mnt");		/* the mount point itself is kept */
	ck_assert_ptr_null(find(&r, "mnt/inside"));
	walk_result_free(&r);
	walk_all(root, NULL, &r);
	must(&r, "mnt/inside");
	walk_result_free(&r);
	ck_assert_int_eq(umount2(at("mnt"), MNT_DETACH), 0);
}
END_TEST

/* A tree deeper than the descriptors a process may hold: each level has
 * a file "a", a directory "d" and a file "z"; every "z" comes after the
 * whole "d" below it. */
#define DEEP	300

static int
deep_walk(void)
{
	struct walk_result r;
	struct rlimit rl = { 100, 100 };
	char want[DEEP * 2 + 8];
	size_t i, i2;
	int k;

	if (setrlimit(RLIMIT_NOFILE, &rl) != 0)
		return 2;
	walk_all(root, NULL, &r);
	if (r.nerr || r.n != 1 + DEEP * 3) {
		fprintf(stderr, "deep walk: %d errors, %zu entries\n", r.nerr,
		    r.n);
		return 1;
	}
	for (k = 0, i = 1; k < DEEP; k++, i += 2) {
		for (i2 = 0; i2 < (size_t)k; i2++)
			memcpy(want + i2 * 2, "d/", 2);
		memcpy(want + k * 2, "a", 2);
		if (strcmp(r.g[i].rel, want) != 0) {
			fprintf(stderr, "deep walk: entry %zu is %s, want %s\n",
			    i, r.g[i].rel, want);
			return 1;
		}
		/* ...and the z of this level comes back after all below. */
		want[k * 2] = 'z';
		if (strcmp(r.g[r.n - 1 - (size_t)k].rel, want) != 0) {
			fprintf(stderr, "deep walk: entry %zu is %s, want %s\n",
			    r.n - 1 - (size_t)k, r.g[r.n - 1 - (size_t)k].rel,
			    want);
			return 1;
		}
	}
	walk_result_free(&r);
	return 0;
}

START_TEST(test_deep)
{
	pid_t pid;
	int fd, dfd, status, k;

	dfd = open(root, O_RDONLY | O_DIRECTORY);
	ck_assert_int_ge(dfd, 0);
	for (k = 0; k < DEEP; k++) {
		ck_assert_int_ge(fd = openat(dfd, "a", O_CREAT | O_WRONLY, 0644),
		    0);
		close(fd);
		ck_assert_int_ge(fd = openat(dfd, "z", O_CREAT | O_WRONLY, 0644),
		    0);
		close(fd);
		ck_assert_int_eq(mkdirat(dfd, "d", 0755), 0);
		fd = openat(dfd, "d", O_RDONLY | O_DIRECTORY);
		ck_assert_int_ge(fd, 0);
		close(dfd);
		dfd = fd;
	}
	close(dfd);
	/* In a child: the descriptor limit must not outlive the test. */
	pid = fork();
	ck_assert_int_ge(pid, 0);
	if (pid == 0)
		_exit(deep_walk());
	ck_assert_int_eq(waitpid(pid, &status, 0), pid);
	ck_assert_msg(WIFEXITED(status) && WEXITSTATUS(status) == 0,
	    "deep walk failed (status %d)", status);
}
END_TEST

/* Runs as a user who cannot read everything: the unreadable entries are
 * errors naming them, the rest of the walk goes on. */
static int
unreadable_walk(void)
{
	struct walk_result r;

	walk_all(root, NULL, &r);
	if (r.nerr != 2) {
		fprintf(stderr, "want 2 errors, got %d\n", r.nerr);
		return 1;
	}
	if (!find(&r, "z_after") || !find(&r, "a_before") ||
	    find(&r, "closed/inner")) {
		fprintf(stderr, "walk did not go on past the errors\n");
		return 1;
	}
	/* The hostile name is quoted in the log: not split over lines, no
	 * terminal escape, no right-to-left override; plain UTF-8 kept. */
	if (!strstr(logged, "secret\\x0afile\\x1b[1m\\xe2\\x80\\xae\xc3\xa9: "
	    "cannot read: Permission denied")
	    || !strstr(logged, "closed: cannot read: Permission denied")) {
		fprintf(stderr, "log does not name the paths: %s\n", logged);
		return 1;
	}
	walk_result_free(&r);
	return 0;
}

START_TEST(test_unreadable)
{
	struct passwd *pw;
	pid_t pid;
	int status;

	put("a_before", "a", 1);
	put("secret\nfile\x1b[1m\xe2\x80\xae\xc3\xa9", "s", 1);
	ck_assert_int_eq(chmod(at("secret\nfile\x1b[1m\xe2\x80\xae\xc3\xa9"),
	    0), 0);
	mkd("closed");
	put("closed/inner", "i", 1);
	ck_assert_int_eq(chmod(at("closed"), 0), 0);
	put("z_after", "z", 1);
	if (geteuid() != 0) {
		ck_assert_int_eq(unreadable_walk(), 0);
		return;
	}
	/* As root everything is readable: check as nobody instead. */
	if ((pw = getpwnam("nobody")) == NULL) {
		printf("test_fsent: skipping unreadable checks: no user "
		    "nobody\n");
		return;
	}
	ck_assert_int_eq(chmod(root, 0755), 0);
	pid = fork();
	ck_assert_int_ge(pid, 0);
	if (pid == 0) {
		if (setgid(pw->pw_gid) != 0 || setuid(pw->pw_uid) != 0)
			_exit(2);
		_exit(unreadable_walk());
	}
	ck_assert_int_eq(waitpid(pid, &status, 0), pid);
	ck_assert_msg(WIFEXITED(status) && WEXITSTATUS(status) == 0,
	    "walk as nobody failed (status %d)", status);
}
END_TEST

/* The one quoting of names for log lines (the walker, the writer and
 * restore use it). */
START_TEST(test_quote)
{
	char buf[64], small[16];

	ck_assert_str_eq(fsent_quote("a\nb\\c\x7f", buf, sizeof(buf)), "a\\x0ab\\x5cc\\x7f");
	ck_assert_str_eq(fsent_quote("caf\xc3\xa9", buf, sizeof(buf)), "caf\xc3\xa9");
	ck_assert_str_eq(fsent_quote("\xff\xc2\x9b", buf, sizeof(buf)), "\\xff\\xc2\\x9b");
	ck_assert_str_eq(fsent_quote(NULL, buf, sizeof(buf)), "(null)");
	ck_assert_str_eq(fsent_quote("0123456789abcdef", small, sizeof(small)), "01234567...");
}
END_TEST

struct asked {
	char names[64][64];
	int n;
};

/* stat_only: says yes for a.txt and xattr, and notes every name asked. */
static int
stat_only_cb(void *arg, const char *path, const struct stat *st)
{
	struct asked *a = arg;
	const char *base = strrchr(path, '/') + 1;

	ck_assert(S_ISREG(st->st_mode));
	if (a->n < 64)
		snprintf(a->names[a->n++], sizeof(a->names[0]), "%s", base);
	return strcmp(base, "a.txt") == 0 || strcmp(base, "xattr") == 0;
}

static int
was_asked(const struct asked *a, const char *name)
{
	int i;

	for (i = 0; i < a->n; i++)
		if (strcmp(a->names[i], name) == 0)
			return 1;
	return 0;
}

/*
 * With stat_only, a regular file of one link that cannot be sparse is
 * first offered by its stat: one the caller takes comes without opening
 * (no data, no xattrs), the others are read in full as usual.  Hard links
 * and sparse files are never offered.
 */
START_TEST(test_stat_only)
{
	struct asked asked = { .n = 0 };
	struct fsent_walk_opts o = { .stat_only = stat_only_cb, .stat_only_arg = &asked };
	struct fsent_walk *w;
	struct fsent_entry *e;
	size_t rl = strlen(root);
	int rc, hx, ha, seen = 0;

	build_tree(&hx, &ha);
	ck_assert_int_eq(fsent_walk_open(root, &o, &w), 0);
	while ((rc = fsent_walk_next(w, &e)) != 1) {
		const char *rel;

		if (rc < 0)
			continue;	/* mode000: unreadable, as without stat_only */
		rel = e->path[rl] ? e->path + rl + 1 : "";
		if (strcmp(rel, "a.txt") == 0 || strcmp(rel, "xattr") == 0) {
			seen++;
			ck_assert_int_eq(e->type, FSENT_FILE);
			ck_assert_uint_eq(e->nxattrs, 0);
			ck_assert_int_eq(fsent_open_data(w), BW_ERR_INVAL);
			if (strcmp(rel, "a.txt") == 0) {
				ck_assert_uint_eq(e->size, 6);
				ck_assert_uint_eq(e->mtime_nsec, 123456789);
				ck_assert_uint_eq(e->nlink, 1);
			}
		} else if (e->type == FSENT_FILE) {
			ck_assert_int_eq(fsent_open_data(w), 0);
			if (strcmp(rel, "acl") == 0 && ha)
				ck_assert_ptr_nonnull(e->acl_access);
		}
		fsent_entry_free(e);
	}
	fsent_walk_free(w);
	ck_assert_int_eq(seen, 2);
	ck_assert(was_asked(&asked, "acl"));
	ck_assert(!was_asked(&asked, "hl1") && !was_asked(&asked, "hl2"));
	ck_assert(!was_asked(&asked, "sparse"));
}
END_TEST

static int
stat_only_never(void *arg, const char *path, const struct stat *st)
{
	(void)path;
	(void)st;
	++*(int *)arg;
	return -1;
}

/* A negative answer: the walk goes on opening files and stops asking. */
START_TEST(test_stat_only_stop)
{
	int calls = 0, files = 0, rc, hx, ha;
	struct fsent_walk_opts o = { .stat_only = stat_only_never, .stat_only_arg = &calls };
	struct fsent_walk *w;
	struct fsent_entry *e;

	build_tree(&hx, &ha);
	ck_assert_int_eq(fsent_walk_open(root, &o, &w), 0);
	while ((rc = fsent_walk_next(w, &e)) != 1) {
		if (rc < 0)
			continue;
		if (e->type == FSENT_FILE) {
			files++;
			ck_assert_int_eq(fsent_open_data(w), 0);
		}
		fsent_entry_free(e);
	}
	fsent_walk_free(w);
	ck_assert_int_gt(files, 3);
	ck_assert_int_eq(calls, 1);
}
END_TEST

static Suite *
suite(void)
{
	Suite *s = suite_create("fsent");
	TCase *tc = tcase_create("core");

	tcase_add_checked_fixture(tc, setup, teardown);
	tcase_add_test(tc, test_walk_order_and_excludes);
	tcase_add_test(tc, test_metadata);
	tcase_add_test(tc, test_sparse);
	tcase_add_test(tc, test_size_change_warned);
	tcase_add_test(tc, test_stat);
	tcase_add_test(tc, test_stat_only);
	tcase_add_test(tc, test_stat_only_stop);
	tcase_add_test(tc, test_device);
	tcase_add_test(tc, test_one_file_system);
	tcase_add_test(tc, test_unreadable);
	tcase_add_test(tc, test_deep);
	tcase_add_test(tc, test_quote);
	suite_add_tcase(s, tc);
	return s;
}

int
main(void)
{
	SRunner *sr = srunner_create(suite());
	int failed;

	srunner_run_all(sr, CK_NORMAL);
	failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}
