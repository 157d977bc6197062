/*
 * fsout: restores entries into a fresh target under mkdtemp and checks what
 * an operator would: the restored tree walks back with the same metadata
 * and bytes as the source; a hostile path or link writes nothing outside
 * the target and does not stop the entries after it; a file shows up under
 * its name only once committed; archives list what went in.
 */
#include "config.h"

#include <check.h>
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <grp.h>
#include <pthread.h>
#include <pwd.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>
#include <sys/xattr.h>
#include <unistd.h>

#include "lib/fsent/fsent.h"
#include "lib/fsent/fsent_internal.h"
#include "lib/fsent/fsout.h"
#include "lib/util/err.h"
#include "lib/util/log.h"

static char root[64];
static char logged[65536];

static void
sink(enum log_level lvl, const char *msg, void *arg)
{
	size_t n = strlen(logged);

	(void)lvl;
	(void)arg;
	snprintf(logged + n, sizeof(logged) - n, "%s\n", msg);
}

static char *
at(const char *rel)
{
	static char path[8][1024];
	static int k;

	k = (k + 1) % 8;
	snprintf(path[k], sizeof(path[k]), "%s/%s", root, rel);
	return path[k];
}

static void
put(const char *rel, const void *p, size_t n)
{
	int fd = open(at(rel), O_WRONLY | O_CREAT | O_TRUNC, 0644);

	ck_assert_msg(fd >= 0, "create %s: %s", rel, strerror(errno));
	ck_assert_int_eq(write(fd, p, n), (ssize_t)n);
	close(fd);
}

static void
mkd(const char *rel)
{
	ck_assert_msg(mkdir(at(rel), 0755) == 0, "mkdir %s: %s", rel,
	    strerror(errno));
}

static void
setup(void)
{
	strcpy(root, "/tmp/test_fsout.XXXXXX");
	ck_assert_ptr_nonnull(mkdtemp(root));
	mkd("src");
	mkd("outside");
	logged[0] = '\0';
	log_set_sink(sink, NULL);
	log_reset_count();
}

static void
teardown(void)
{
	char cmd[256];

	log_set_sink(NULL, NULL);
	snprintf(cmd, sizeof(cmd), "chmod -R u+rwx '%s' 2>/dev/null; "
	    "rm -rf '%s'", root, root);
	ck_assert_int_eq(system(cmd), 0);
}

static int
have_cmd(const char *name)
{
	char cmd[128];

	snprintf(cmd, sizeof(cmd), "command -v %s >/dev/null 2>&1", name);
	return system(cmd) == 0;
}

/* Number of names in a directory (not . and ..); -1 if it cannot be read. */
static int
count_dir(const char *rel)
{
	DIR *d = opendir(at(rel));
	struct dirent *de;
	int n = 0;

	if (d == NULL)
		return -1;
	while ((de = readdir(d)) != NULL)
		if (strcmp(de->d_name, ".") && strcmp(de->d_name, ".."))
			n++;
	closedir(d);
	return n;
}

/* Whether a temporary name of the restore is left in a directory. */
static int
has_temp(const char *rel)
{
	DIR *d = opendir(at(rel));
	struct dirent *de;
	int n = 0;

	ck_assert_ptr_nonnull(d);
	while ((de = readdir(d)) != NULL)
		if (strncmp(de->d_name, ".bw-restore.", 12) == 0)
			n++;
	closedir(d);
	return n;
}

static void
assert_outside_empty(void)
{
	ck_assert_msg(count_dir("outside") == 0, "something was written "
	    "outside the target");
}

static struct fsout *
open_target(enum fsout_overwrite ow, int numeric)
{
	struct fsout_opts o = { .target = at("t"), .overwrite = ow,
	    .numeric_owner = numeric };
	struct fsout *out;

	ck_assert_int_eq(fsout_open(&o, &out), 0);
	return out;
}

/* A hand-made entry (the fields a snapshot carries). */
static struct fsent_entry *
ent(enum fsent_type t, uint32_t mode)
{
	struct fsent_entry *e = calloc(1, sizeof(*e));

	ck_assert_ptr_nonnull(e);
	e->type = t;
	e->mode = mode;
	e->uid = geteuid();
	e->gid = getegid();
	e->mtime_sec = 1500000000;
	e->mtime_nsec = 111222333;
	e->atime_sec = 1500000100;
	e->atime_nsec = 444555666;
	e->nlink = 1;
	return e;
}

static struct fsent_entry *
ent_link(enum fsent_type t, const char *target)
{
	struct fsent_entry *e = ent(t, 0777);

	e->link = strdup(target);
	return e;
}

/* Writes a whole file; returns what fsout_file_open/commit said. */
static int
write_file(struct fsout *o, const char *rel, struct fsent_entry *e,
    const void *p, size_t n)
{
	struct fsout_file *f;
	int rc;

	e->size = n;
	if ((rc = fsout_file_open(o, rel, e, &f)) != 0)
		return rc;
	ck_assert_int_eq(fsout_file_write(f, 0, p, n), 0);
	return fsout_file_commit(f);
}

/* Whatever waits for a rename at rel is put in place (fsout_existing
 * settles the batch first), as a second entry for rel would see it. */
static void
settle(struct fsout *o, const char *rel)
{
	struct fsent_entry *cur = NULL;

	ck_assert_int_ge(fsout_existing(o, rel, &cur), 0);
	fsent_entry_free(cur);
}

static void
slurp(const char *rel, char *buf, size_t cap, ssize_t *n)
{
	int fd = open(at(rel), O_RDONLY);

	ck_assert_msg(fd >= 0, "open %s: %s", rel, strerror(errno));
	*n = read(fd, buf, cap);
	close(fd);
}

/* ---- restoring a real tree and walking it back ---- */

struct item {
	char *rel;
	struct fsent_entry *e;
	uint8_t *data;
	uint64_t datalen;
};

struct tree {
	struct item *it;
	size_t n;
};

static void
walk_tree(const char *top, struct tree *t)
{
	struct fsent_walk *w;
	struct fsent_entry *e;
	static uint8_t buf[1 << 16];
	size_t cap = 0, tl = strlen(top);
	int rc;

	memset(t, 0, sizeof(*t));
	ck_assert_int_eq(fsent_walk_open(top, NULL, &w), 0);
	while ((rc = fsent_walk_next(w, &e)) != 1) {
		struct item *it;

		ck_assert_int_eq(rc, 0);
		if (e->path[tl] == '\0') {	/* the top itself */
			fsent_entry_free(e);
			continue;
		}
		if (t->n == cap) {
			cap = cap ? cap * 2 : 64;
			t->it = realloc(t->it, cap * sizeof(*t->it));
			ck_assert_ptr_nonnull(t->it);
		}
		it = &t->it[t->n++];
		memset(it, 0, sizeof(*it));
		it->e = e;
		it->rel = strdup(e->path + tl + 1);
		if (e->type == FSENT_HARDLINK) {
			/* The first path, relative to the top. */
			char *l = strdup(e->link + tl + 1);

			free(e->link);
			e->link = l;
		}
		if (e->type != FSENT_FILE)
			continue;
		it->datalen = e->size;
		it->data = calloc(1, e->size ? e->size : 1);
		ck_assert_int_eq(fsent_open_data(w), 0);
		for (;;) {
			uint64_t off;
			long n = fsent_read(w, buf, sizeof(buf), &off);

			ck_assert_int_ge(n, 0);
			if (n == 0)
				break;
			ck_assert_uint_le(off + (uint64_t)n, e->size);
			memcpy(it->data + off, buf, (size_t)n);
		}
	}
	fsent_walk_free(w);
}

static void
tree_free(struct tree *t)
{
	size_t i;

	for (i = 0; i < t->n; i++) {
		free(t->it[i].rel);
		free(t->it[i].data);
		fsent_entry_free(t->it[i].e);
	}
	free(t->it);
}

static const struct item *
tree_find(const struct tree *t, const char *rel)
{
	size_t i;

	for (i = 0; i < t->n; i++)
		if (strcmp(t->it[i].rel, rel) == 0)
			return &t->it[i];
	return NULL;
}

/* Restores every item of t into o, file data in the source's regions. */
static void
restore_tree(struct fsout *o, const struct tree *t)
{
	size_t i, k;

	for (i = 0; i < t->n; i++) {
		const struct item *it = &t->it[i];
		struct fsout_file *f;

		if (it->e->type != FSENT_FILE) {
			ck_assert_msg(fsout_entry(o, it->rel, it->e) == 0,
			    "%s: %s", it->rel, logged);
			continue;
		}
		ck_assert_msg(fsout_file_open(o, it->rel, it->e, &f) == 0,
		    "%s: %s", it->rel, logged);
		if (it->e->nregions == 0) {
			ck_assert_int_eq(fsout_file_write(f, 0, it->data,
			    it->datalen), 0);
		}
		for (k = 0; k < it->e->nregions; k++) {
			const struct fsent_region *r = &it->e->regions[k];

			ck_assert_int_eq(fsout_file_write(f, r->off,
			    it->data + r->off, r->len), 0);
		}
		ck_assert_msg(fsout_file_commit(f) == 0, "%s: %s", it->rel,
		    logged);
	}
}

static int
xattr_cmp(const void *a, const void *b)
{
	return strcmp(((const struct fsent_xattr *)a)->name,
	    ((const struct fsent_xattr *)b)->name);
}

/* Compares a restored entry with its source, field by field. */
static void
same_entry(const struct item *s, const struct item *d)
{
	const struct fsent_entry *a = s->e, *b = d->e;
	size_t i;

	ck_assert_msg(a->type == b->type, "%s: type %d, restored %d", s->rel,
	    a->type, b->type);
	ck_assert_msg(a->mode == b->mode, "%s: mode %o, restored %o", s->rel,
	    a->mode, b->mode);
	ck_assert_msg(a->uid == b->uid && a->gid == b->gid, "%s: owner", s->rel);
	if (a->type != FSENT_HARDLINK) {
		ck_assert_msg(a->mtime_sec == b->mtime_sec &&
		    a->mtime_nsec == b->mtime_nsec, "%s: mtime %lld.%09u, "
		    "restored %lld.%09u", s->rel, (long long)a->mtime_sec,
		    a->mtime_nsec, (long long)b->mtime_sec, b->mtime_nsec);
	}
	if (a->type == FSENT_FILE || a->type == FSENT_SYMLINK) {
		ck_assert_msg(a->atime_sec == b->atime_sec &&
		    a->atime_nsec == b->atime_nsec, "%s: atime", s->rel);
	}
	ck_assert_uint_eq(a->size, b->size);
	ck_assert_uint_eq(a->rdev, b->rdev);
	if (a->type == FSENT_SYMLINK || a->type == FSENT_HARDLINK)
		ck_assert_str_eq(a->link, b->link);
	if (a->type == FSENT_HARDLINK)
		ck_assert_uint_eq(a->nlink, b->nlink);
	ck_assert_msg(a->nxattrs == b->nxattrs, "%s: %zu xattrs, restored %zu",
	    s->rel, a->nxattrs, b->nxattrs);
	if (a->nxattrs) {
		qsort(a->xattrs, a->nxattrs, sizeof(*a->xattrs), xattr_cmp);
		qsort(b->xattrs, b->nxattrs, sizeof(*b->xattrs), xattr_cmp);
	}
	for (i = 0; i < a->nxattrs; i++) {
		ck_assert_str_eq(a->xattrs[i].name, b->xattrs[i].name);
		ck_assert_uint_eq(a->xattrs[i].len, b->xattrs[i].len);
		ck_assert_mem_eq(a->xattrs[i].value, b->xattrs[i].value,
		    a->xattrs[i].len);
	}
	ck_assert_msg((a->acl_access == NULL) == (b->acl_access == NULL),
	    "%s: access ACL %s, restored %s", s->rel, a->acl_access,
	    b->acl_access);
	if (a->acl_access)
		ck_assert_str_eq(a->acl_access, b->acl_access);
	ck_assert_msg((a->acl_default == NULL) == (b->acl_default == NULL),
	    "%s: default ACL %s, restored %s", s->rel, a->acl_default,
	    b->acl_default);
	if (a->acl_default)
		ck_assert_str_eq(a->acl_default, b->acl_default);
	ck_assert_msg(a->nregions == b->nregions, "%s: %zu regions, restored "
	    "%zu", s->rel, a->nregions, b->nregions);
	for (i = 0; i < a->nregions; i++) {
		ck_assert_uint_eq(a->regions[i].off, b->regions[i].off);
		ck_assert_uint_eq(a->regions[i].len, b->regions[i].len);
	}
	if (a->type == FSENT_FILE) {
		ck_assert_uint_eq(s->datalen, d->datalen);
		ck_assert_msg(memcmp(s->data, d->data, s->datalen) == 0,
		    "%s: restored bytes differ", s->rel);
	}
}

static void
set_times(const char *rel, time_t sec, long nsec)
{
	struct timespec ts[2] = { { sec - 7, nsec / 3 }, { sec, nsec } };

	ck_assert_int_eq(utimensat(AT_FDCWD, at(rel), ts, AT_SYMLINK_NOFOLLOW),
	    0);
}

/* The source tree of the fidelity test.  Returns what could be set. */
static void
build_src(int *hx, int *ha)
{
	uint8_t blk[4096];
	char cmd[1200];
	int fd;

	mkd("src/dir");
	put("src/dir/a.txt", "hello\n", 6);
	put("src/dir/empty", "", 0);
	mkd("src/dir/sub");
	put("src/dir/sub/deep", "deep", 4);
	ck_assert_int_eq(symlink("/etc/passwd", at("src/abs")), 0);
	ck_assert_int_eq(symlink("dir/a.txt", at("src/rel")), 0);
	ck_assert_int_eq(symlink("no/such/target", at("src/dangling")), 0);
	put("src/hl1", "shared", 6);
	ck_assert_int_eq(link(at("src/hl1"), at("src/hl2")), 0);
	mkd("src/hldir");
	ck_assert_int_eq(link(at("src/hl1"), at("src/hldir/hl3")), 0);
	ck_assert_int_eq(mkfifo(at("src/fifo"), 0640), 0);

	fd = open(at("src/sparse"), O_WRONLY | O_CREAT | O_TRUNC, 0644);
	ck_assert_int_ge(fd, 0);
	memset(blk, 'A', sizeof(blk));
	ck_assert_int_eq(pwrite(fd, blk, sizeof(blk), 0), sizeof(blk));
	memset(blk, 'B', sizeof(blk));
	ck_assert_int_eq(pwrite(fd, blk, sizeof(blk), 1 << 20), sizeof(blk));
	ck_assert_int_eq(ftruncate(fd, 4 << 20), 0);
	close(fd);

	put("src/xattr", "x", 1);
	*hx = setxattr(at("src/xattr"), "user.bulwark", "v\0\xff", 3, 0) == 0 &&
	    setxattr(at("src/xattr"), "user.second", "", 0, 0) == 0;
	if (!*hx)
		printf("test_fsout: skipping xattr checks: setxattr: %s\n",
		    strerror(errno));
	if (*hx && geteuid() == 0)
		ck_assert_int_eq(setxattr(at("src/xattr"), "trusted.bulwark",
		    "root", 4, 0), 0);

	put("src/acl", "acl", 3);
	mkd("src/acldir");
	put("src/acldir/inner", "inner", 5);
	*ha = 0;
	if (!have_cmd("setfacl")) {
		printf("test_fsout: skipping ACL checks: no setfacl\n");
	} else {
		snprintf(cmd, sizeof(cmd), "setfacl -m u:nobody:rw-,g:nogroup:r-- "
		    "'%s' && setfacl -m u:nobody:rwx '%s' && "
		    "setfacl -d -m u:nobody:r-x '%s'", at("src/acl"),
		    at("src/acldir"), at("src/acldir"));
		*ha = system(cmd) == 0;
		if (!*ha)
			printf("test_fsout: skipping ACL checks: setfacl "
			    "failed (file system without ACLs?)\n");
	}

	/* Only root can read it back from the source (test_readonly writes
	 * one as anybody). */
	if (geteuid() == 0) {
		put("src/mode000", "locked", 6);
		ck_assert_int_eq(chmod(at("src/mode000"), 0), 0);
		set_times("src/mode000", 1234567890, 500000000);
	}
	put("src/setuid", "#!", 2);
	ck_assert_int_eq(chmod(at("src/setuid"), 04755), 0);
	put("src/setgid", "#!", 2);
	ck_assert_int_eq(chmod(at("src/setgid"), 02750), 0);
	mkd("src/sticky");
	ck_assert_int_eq(chmod(at("src/sticky"), 01777), 0);
	mkd("src/ro");
	put("src/ro/f", "in a read-only dir", 18);
	mkd("src/ro/sub");
	ck_assert_int_eq(chmod(at("src/ro/sub"), 0500), 0);
	ck_assert_int_eq(chmod(at("src/ro"), 0555), 0);
	put("src/nl\nname", "newline", 7);

	/* Times last: directories' after their contents. */
	set_times("src/dir/a.txt", 1700000000, 123456789);
	set_times("src/dir/empty", 1000000000, 1);
	set_times("src/rel", 1600000000, 987654321);
	set_times("src/dangling", 1600000001, 5);
	set_times("src/sparse", 1650000000, 999999999);
	set_times("src/dir/sub", 1400000000, 42);
	set_times("src/dir", 1300000000, 7);
	set_times("src/ro/sub", 1200000000, 8);
	set_times("src/ro", 1100000000, 9);
	set_times("src/sticky", 1000000001, 10);
	set_times("src/acldir", 1000000002, 11);
}

START_TEST(test_fidelity)
{
	struct tree s, d;
	struct fsout *o;
	size_t i;
	int hx, ha;

	build_src(&hx, &ha);
	walk_tree(at("src"), &s);
	o = open_target(FSOUT_NEVER, 0);
	restore_tree(o, &s);
	ck_assert_int_eq(fsout_close(o), 0);
	fsout_free(o);
	ck_assert_msg(log_error_count() == 0, "errors: %s", logged);

	walk_tree(at("t"), &d);
	ck_assert_uint_eq(s.n, d.n);
	for (i = 0; i < s.n; i++) {
		const struct item *di = tree_find(&d, s.it[i].rel);

		ck_assert_msg(di != NULL, "%s not restored", s.it[i].rel);
		same_entry(&s.it[i], di);
	}
	if (hx)
		ck_assert_uint_eq(tree_find(&d, "xattr")->e->nxattrs,
		    geteuid() == 0 ? 3 : 2);
	if (ha) {
		ck_assert_ptr_nonnull(tree_find(&d, "acl")->e->acl_access);
		ck_assert_ptr_nonnull(tree_find(&d, "acldir")->e->acl_default);
		/* Restored children carry their own ACL, not the default's. */
		ck_assert_ptr_null(tree_find(&d, "acldir/inner")->e->acl_access);
	}
	ck_assert_uint_eq(tree_find(&d, "hl1")->e->nlink, 3);
	ck_assert_uint_eq(tree_find(&d, "hldir/hl3")->e->ino,
	    tree_find(&d, "hl1")->e->ino);
	ck_assert_int_eq(has_temp("t"), 0);
	ck_assert_int_eq(has_temp("t/dir"), 0);
	tree_free(&s);
	tree_free(&d);
}
END_TEST

/* ---- hand-made entries ---- */

START_TEST(test_basic)
{
	struct fsout *o = open_target(FSOUT_NEVER, 0);
	struct fsent_entry *e;
	struct stat st;
	char buf[64], lnk[64];
	ssize_t n;

	e = ent(FSENT_DIR, 0750);
	ck_assert_int_eq(fsout_entry(o, "d", e), 0);
	fsent_entry_free(e);
	e = ent(FSENT_FILE, 0640);
	ck_assert_int_eq(write_file(o, "d/f", e, "content", 7), 0);
	fsent_entry_free(e);
	/* A parent the snapshot does not carry is made 0700. */
	e = ent(FSENT_FILE, 0600);
	ck_assert_int_eq(write_file(o, "x/y/z", e, "zz", 2), 0);
	fsent_entry_free(e);
	/* An empty file through fsout_entry. */
	e = ent(FSENT_FILE, 0644);
	ck_assert_int_eq(fsout_entry(o, "d/empty", e), 0);
	fsent_entry_free(e);
	e = ent_link(FSENT_SYMLINK, "/etc/passwd");
	ck_assert_int_eq(fsout_entry(o, "d/abs", e), 0);
	fsent_entry_free(e);
	e = ent_link(FSENT_SYMLINK, "../nowhere/at/all");
	ck_assert_int_eq(fsout_entry(o, "d/dangling", e), 0);
	fsent_entry_free(e);
	ck_assert_int_eq(fsout_close(o), 0);
	fsout_free(o);

	ck_assert_int_eq(stat(at("t/d/f"), &st), 0);
	ck_assert_uint_eq(st.st_mode & 07777, 0640);
	ck_assert_int_eq(st.st_mtim.tv_sec, 1500000000);
	ck_assert_int_eq(st.st_mtim.tv_nsec, 111222333);
	ck_assert_int_eq(st.st_atim.tv_sec, 1500000100);
	ck_assert_int_eq(st.st_atim.tv_nsec, 444555666);
	slurp("t/d/f", buf, sizeof(buf), &n);
	ck_assert_int_eq(n, 7);
	ck_assert_mem_eq(buf, "content", 7);
	ck_assert_int_eq(stat(at("t/d"), &st), 0);
	ck_assert_uint_eq(st.st_mode & 07777, 0750);
	ck_assert_int_eq(st.st_mtim.tv_sec, 1500000000);
	ck_assert_int_eq(st.st_mtim.tv_nsec, 111222333);
	ck_assert_int_eq(stat(at("t/x/y"), &st), 0);
	ck_assert_uint_eq(st.st_mode & 07777, 0700);
	ck_assert_int_eq(stat(at("t/d/empty"), &st), 0);
	ck_assert_int_eq(st.st_size, 0);
	n = readlink(at("t/d/abs"), lnk, sizeof(lnk));
	ck_assert_int_eq(n, 11);
	ck_assert_mem_eq(lnk, "/etc/passwd", 11);
	ck_assert_int_eq(lstat(at("t/d/dangling"), &st), 0);
	ck_assert(S_ISLNK(st.st_mode));
	ck_assert_int_eq(st.st_mtim.tv_nsec, 111222333);
	ck_assert_int_eq(has_temp("t/d"), 0);
	ck_assert_msg(log_error_count() == 0, "errors: %s", logged);
}
END_TEST

START_TEST(test_check_path)
{
	static const struct { const char *p, *why; } bad[] = {
		{ "", "empty path" },
		{ "/etc/passwd", "absolute" },
		{ "a/../../b", "'..'" },
		{ "..", "'..'" },
		{ "a/./b", "'.'" },
		{ ".", "'.'" },
		{ "a//b", "empty path component" },
		{ "a/", "empty path component" },
	};
	char name[300], path[PATH_MAX + 10];
	const char *why;
	size_t i;

	for (i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		ck_assert_msg(fsout_check_path(bad[i].p, &why) == BW_ERR_INVAL,
		    "'%s' accepted", bad[i].p);
		ck_assert_msg(strstr(why, bad[i].why), "'%s': %s", bad[i].p,
		    why);
	}
	memset(name, 'n', 256);
	name[256] = '\0';
	ck_assert_int_eq(fsout_check_path(name, &why), BW_ERR_INVAL);
	ck_assert_ptr_nonnull(strstr(why, "NAME_MAX"));
	name[255] = '\0';
	ck_assert_int_eq(fsout_check_path(name, &why), 0);
	for (i = 0; i + 2 < sizeof(path) - 1; i += 2)
		memcpy(path + i, "a/", 2);
	path[i] = 'a';
	path[i + 1] = '\0';
	ck_assert_int_eq(fsout_check_path(path, &why), BW_ERR_INVAL);
	ck_assert_ptr_nonnull(strstr(why, "PATH_MAX"));
	ck_assert_int_eq(fsout_check_path("a/b/.hidden/..x/c", &why), 0);
	ck_assert_int_eq(fsout_check_path("...", &why), 0);
}
END_TEST

/* Each hostile entry is refused with a line naming it, nothing lands
 * outside, and the entry after it is still written. */
START_TEST(test_hostile)
{
	static char longname[300], longpath[PATH_MAX + 16];
	static const char *const bad[] = {
		"/tmp/x", "../outside/x", "a/../../outside/x", "./x", "a//x",
		"x/", longname, longpath,
	};
	struct fsout *o = open_target(FSOUT_ALWAYS, 0);
	struct fsent_entry *e, *f;
	char rel[64], out[600];
	size_t i;
	int k = 0;

	memset(longname, 'n', 256);
	for (i = 0; i + 2 < sizeof(longpath) - 1; i += 2)
		memcpy(longpath + i, "d/", 2);
	longpath[i] = 'f';

	f = ent(FSENT_FILE, 0644);
	f->nlink = 2;		/* so that a hard link may name it */
	for (i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		logged[0] = '\0';
		ck_assert_int_eq(write_file(o, bad[i], f, "evil", 4),
		    BW_ERR_INVAL);
		ck_assert_msg(strstr(logged, "refused"), "%s: %s", bad[i], logged);
		snprintf(rel, sizeof(rel), "after%d", k++);
		ck_assert_int_eq(write_file(o, rel, f, "ok", 2), 0);
	}

	/* The snapshot has symlink "a" -> outside, then "a/x". */
	snprintf(out, sizeof(out), "%s", at("outside"));
	e = ent_link(FSENT_SYMLINK, out);
	ck_assert_int_eq(fsout_entry(o, "a", e), 0);
	fsent_entry_free(e);
	logged[0] = '\0';
	ck_assert_int_eq(write_file(o, "a/x", f, "evil", 4), BW_ERR_INVAL);
	ck_assert_msg(strstr(logged, "a/x: refused: beneath a symlink: 'a' is a "
	    "symlink"), "%s", logged);
	e = ent(FSENT_DIR, 0755);
	ck_assert_int_eq(fsout_entry(o, "a/sub", e), BW_ERR_INVAL);
	ck_assert_int_eq(fsout_entry(o, "a/sub/deeper", e), BW_ERR_INVAL);
	fsent_entry_free(e);
	e = ent_link(FSENT_SYMLINK, "/etc/shadow");
	ck_assert_int_eq(fsout_entry(o, "a/y", e), BW_ERR_INVAL);
	fsent_entry_free(e);
	ck_assert_int_eq(write_file(o, "after-symlink", f, "ok", 2), 0);

	/* A symlink to a relative place above the target. */
	e = ent_link(FSENT_SYMLINK, "../outside");
	ck_assert_int_eq(fsout_entry(o, "up", e), 0);
	fsent_entry_free(e);
	ck_assert_int_eq(write_file(o, "up/x", f, "evil", 4), BW_ERR_INVAL);

	/* A file where a directory is expected. */
	ck_assert_int_eq(write_file(o, "plain", f, "p", 1), 0);
	logged[0] = '\0';
	ck_assert_int_eq(write_file(o, "plain/x", f, "x", 1), BW_ERR_INVAL);
	ck_assert_ptr_nonnull(strstr(logged, "not a directory"));

	/* Hard links: absolute, '..', through a symlink, not ours. */
	e = ent_link(FSENT_HARDLINK, at("outside/victim"));
	put("outside/victim", "v", 1);
	logged[0] = '\0';
	ck_assert_int_eq(fsout_entry(o, "hl-abs", e), BW_ERR_INVAL);
	ck_assert_ptr_nonnull(strstr(logged, "absolute"));
	fsent_entry_free(e);
	ck_assert_int_eq(unlink(at("outside/victim")), 0);
	e = ent_link(FSENT_HARDLINK, "../outside/victim");
	ck_assert_int_eq(fsout_entry(o, "hl-dotdot", e), BW_ERR_INVAL);
	fsent_entry_free(e);
	/* A target this restore wrote, whose directory was then swapped
	 * for a symlink (by somebody else in the target). */
	e = ent(FSENT_DIR, 0755);
	ck_assert_int_eq(fsout_entry(o, "b", e), 0);
	fsent_entry_free(e);
	ck_assert_int_eq(write_file(o, "b/f", f, "bf", 2), 0);
	ck_assert_int_eq(write_file(o, "c/other", f, "c", 1), 0);
	ck_assert_int_eq(rename(at("t/b"), at("t/b2")), 0);
	ck_assert_int_eq(symlink(at("outside"), at("t/b")), 0);
	e = ent_link(FSENT_HARDLINK, "b/f");
	logged[0] = '\0';
	ck_assert_int_eq(fsout_entry(o, "hl-symlink", e), BW_ERR_INVAL);
	ck_assert_msg(strstr(logged, "hl-symlink: refused: hard link target "
	    "b/f beneath a symlink: 'b' is a symlink"), "%s", logged);
	fsent_entry_free(e);
	put("t/planted", "not ours", 8);
	e = ent_link(FSENT_HARDLINK, "planted");
	logged[0] = '\0';
	ck_assert_int_eq(fsout_entry(o, "hl-planted", e), BW_ERR_INVAL);
	ck_assert_ptr_nonnull(strstr(logged, "not written by this restore"));
	fsent_entry_free(e);
	e = ent_link(FSENT_HARDLINK, "after0");
	ck_assert_int_eq(fsout_entry(o, "hl-ok", e), 0);
	fsent_entry_free(e);
	ck_assert_int_eq(fsout_close(o), 0);
	fsout_free(o);
	fsent_entry_free(f);

	assert_outside_empty();
	ck_assert_int_eq(access(at("t/after7"), F_OK), 0);
	ck_assert_int_eq(access(at("t/after-symlink"), F_OK), 0);
	ck_assert_int_eq(access(at("t/hl-ok"), F_OK), 0);
	ck_assert_int_eq(access(at("t/hl-planted"), F_OK), -1);
	ck_assert_int_eq(access(at("t/hl-symlink"), F_OK), -1);
}
END_TEST

/* An attacker pre-creates target/srv -> outside (or the host has its own
 * link, merged /usr's lib -> usr/lib); restoring "srv/passwd" never
 * touches outside nor replaces the link, whatever the policy. */
START_TEST(test_planted_symlink)
{
	static const enum fsout_overwrite ow[] = {
		FSOUT_NEVER, FSOUT_IF_CHANGED, FSOUT_ALWAYS
	};
	struct fsent_entry *d = ent(FSENT_DIR, 0755), *f = ent(FSENT_FILE, 0644);
	struct fsout *o;
	struct stat st;
	size_t i;
	int rc;

	mkd("t");
	for (i = 0; i < 3; i++) {
		unlink(at("t/srv/passwd"));
		unlink(at("t/srv"));
		rmdir(at("t/srv"));
		ck_assert_int_eq(symlink(at("outside"), at("t/srv")), 0);
		o = open_target(ow[i], 0);
		logged[0] = '\0';
		rc = fsout_entry(o, "srv", d);
		ck_assert_int_eq(rc, ow[i] == FSOUT_NEVER ? 1 : BW_ERR_EXIST);
		if (ow[i] != FSOUT_NEVER)
			ck_assert_msg(strstr(logged, "srv: is a symlink on this "
			    "host (-> ") && strstr(logged, "remove the link"),
			    "%s", logged);
		/* The symlink stays, and nothing goes beneath it. */
		rc = write_file(o, "srv/passwd", f, "root::0:0", 9);
		ck_assert_int_eq(rc, BW_ERR_INVAL);
		ck_assert_int_eq(lstat(at("t/srv"), &st), 0);
		ck_assert(S_ISLNK(st.st_mode));
		/* Written, then kept as unchanged, then replaced. */
		ck_assert_int_eq(write_file(o, "later", f, "ok", 2),
		    ow[i] == FSOUT_IF_CHANGED);
		ck_assert_int_eq(fsout_close(o), 0);
		fsout_free(o);
		assert_outside_empty();
	}
	fsent_entry_free(d);
	fsent_entry_free(f);
}
END_TEST

struct readback {
	char buf[64];
	size_t n;
};

static int
readback_cb(const void *p, size_t n, void *arg)
{
	struct readback *rb = arg;

	ck_assert_uint_le(rb->n + n, sizeof(rb->buf));
	memcpy(rb->buf + rb->n, p, n);
	rb->n += n;
	return 0;
}

/* Another thread, started before the restore: where is its working
 * directory once the restoring thread has opened a handle and moved? */
struct other {
	pthread_mutex_t mu;
	pthread_cond_t cv;
	int go;
	char cwd[1024];
};

static void *
other_thread(void *arg)
{
	struct other *t = arg;

	pthread_mutex_lock(&t->mu);
	while (!t->go)
		pthread_cond_wait(&t->cv, &t->mu);
	pthread_mutex_unlock(&t->mu);
	if (getcwd(t->cwd, sizeof(t->cwd)) == NULL)
		t->cwd[0] = '\0';
	return NULL;
}

/* From fsout_open on, the writing thread's working directory is its own
 * (a relative repository path in the decode threads keeps its meaning). */
START_TEST(test_private_cwd_from_open)
{
	struct other t = { PTHREAD_MUTEX_INITIALIZER, PTHREAD_COND_INITIALIZER, 0, "" };
	char before[1024];
	pthread_t th;
	struct fsout *o;

	ck_assert_ptr_nonnull(getcwd(before, sizeof(before)));
	ck_assert_int_eq(pthread_create(&th, NULL, other_thread, &t), 0);
	o = open_target(FSOUT_NEVER, 0);
	ck_assert_int_eq(chdir(at("outside")), 0);
	pthread_mutex_lock(&t.mu);
	t.go = 1;
	pthread_cond_signal(&t.cv);
	pthread_mutex_unlock(&t.mu);
	ck_assert_int_eq(pthread_join(th, NULL), 0);
	ck_assert_str_eq(t.cwd, before);
	ck_assert_int_eq(fsout_close(o), 0);
	fsout_free(o);
}
END_TEST

/* The target itself: a symlink at its name is never followed, and a
 * directory of another (non-root) user is not used. */
START_TEST(test_target_symlink_and_owner)
{
	struct fsout_opts op = { .target = at("t-link") };
	struct passwd *pw = getpwnam("nobody");
	struct fsout *o = NULL;

	ck_assert_int_eq(symlink(at("outside"), at("t-link")), 0);
	logged[0] = '\0';
	ck_assert_int_eq(fsout_open(&op, &o), BW_ERR_INVAL);
	ck_assert_ptr_null(o);
	ck_assert_msg(strstr(logged, "t-link is a symlink (-> ") &&
	    strstr(logged, "not followed"), "%s", logged);
	/* a missing target is made, then opened the same way */
	op.target = at("t-new/deeper");
	ck_assert_int_eq(fsout_open(&op, &o), 0);
	ck_assert_int_eq(fsout_close(o), 0);
	fsout_free(o);
	if (geteuid() != 0 || pw == NULL || pw->pw_uid == 0) {
		printf("test_fsout: skipping the owner check: chown needs root\n");
		return;
	}
	mkd("t-theirs");
	ck_assert_int_eq(chown(at("t-theirs"), pw->pw_uid, pw->pw_gid), 0);
	op.target = at("t-theirs");
	logged[0] = '\0';
	ck_assert_int_eq(fsout_open(&op, &o), BW_ERR_PERM);
	ck_assert_msg(strstr(logged, "belongs to user") &&
	    strstr(logged, "choose a directory of your own"), "%s", logged);
	ck_assert_int_eq(count_dir("outside"), 0);
}
END_TEST

/* Temporaries a killed restore left (power cut, SIGKILL) go away when a
 * later restore first enters their directory; names that only look like
 * ours stay. */
START_TEST(test_stale_temporaries_removed)
{
	struct fsout *o;
	struct fsent_entry *e = ent(FSENT_FILE, 0644);

	mkd("t");
	mkd("t/d");
	put("t/.bw-restore.aB3-_z", "stale", 5);
	put("t/d/.bw-restore.Qx9k2L", "stale", 5);
	put("t/d/.bw-restore.toolong1", "mine", 4);
	put("t/d/x.bw-restore.abcdef", "mine", 4);
	mkd("t/d/.bw-restore.dir123");
	o = open_target(FSOUT_NEVER, 0);
	ck_assert_int_eq(access(at("t/.bw-restore.aB3-_z"), F_OK), -1);
	ck_assert_int_eq(write_file(o, "d/f", e, "new", 3), 0);
	ck_assert_int_eq(fsout_close(o), 0);
	fsout_free(o);
	ck_assert_int_eq(access(at("t/d/.bw-restore.Qx9k2L"), F_OK), -1);
	ck_assert_int_eq(access(at("t/d/.bw-restore.toolong1"), F_OK), 0);
	ck_assert_int_eq(access(at("t/d/x.bw-restore.abcdef"), F_OK), 0);
	ck_assert_int_eq(access(at("t/d/.bw-restore.dir123"), F_OK), 0);
	ck_assert_int_eq(access(at("t/d/f"), F_OK), 0);
	fsent_entry_free(e);
}
END_TEST

/* More files than one batch: the first batch is synced by the sync thread
 * while the next one is written, and its names are still settled before
 * anything looks at them again (a second version, a hard link); a handle
 * freed without a close leaves no temporary file. */
/* syncfs failing at its fail_at-th call (counted from 1), from any thread */
static int sync_calls, sync_fail_at;

static int
failing_syncfs(int fd)
{
	if (__atomic_add_fetch(&sync_calls, 1, __ATOMIC_SEQ_CST) == sync_fail_at) {
		errno = EIO;
		return -1;
	}
	return syncfs(fd);
}

/*
 * A batch whose sync fails is never put in place, not even when a later
 * sync succeeds (the lost writes may not have reached the disk): its files
 * are each named, their temporaries removed, and the batches after it are
 * restored as usual.  First the batch the sync thread syncs, then the one
 * the writer syncs itself at the close.
 */
START_TEST(test_sync_failure)
{
	struct fsent_entry *e = ent(FSENT_FILE, 0644);
	struct fsout *o;
	char rel[32], buf[16];
	ssize_t n;
	int i, failed, pass, nfiles[2] = { 600, 100 };

	fsout_syncfs = failing_syncfs;
	for (pass = 0; pass < 2; pass++) {
		o = open_target(FSOUT_ALWAYS, 0);
		sync_calls = 0;
		sync_fail_at = 1;	/* the first batch's */
		logged[0] = 0;
		for (i = failed = 0; i < nfiles[pass]; i++) {
			snprintf(rel, sizeof(rel), "s%d-%03d", pass, i);
			failed += write_file(o, rel, e, rel + 3, 4) != 0;
		}
		ck_assert_int_eq(failed, pass == 0);	/* the next handover says so */
		ck_assert_int_eq(fsout_close(o), pass == 0 ? 0 : BW_ERR_IO);
		fsout_free(o);
		ck_assert_int_eq(has_temp("t"), 0);
		ck_assert_ptr_nonnull(strstr(logged, "cannot sync"));
		for (i = 0; i < nfiles[pass]; i++) {
			snprintf(rel, sizeof(rel), "t/s%d-%03d", pass, i);
			if (pass == 1 || i < 256) {
				ck_assert_int_ne(access(at(rel), F_OK), 0);
				ck_assert_msg(strstr(logged, rel + 2), "%s not named", rel + 2);
			} else {
				slurp(rel, buf, sizeof(buf), &n);
				ck_assert_int_eq(n, 4);
				ck_assert_mem_eq(buf, rel + 5, 4);
			}
		}
	}
	fsout_syncfs = syncfs;
	fsent_entry_free(e);
}
END_TEST

START_TEST(test_batches_overlap)
{
	struct fsout *o = open_target(FSOUT_ALWAYS, 0);
	struct fsent_entry *e = ent(FSENT_FILE, 0644), *l;
	struct readback rb;
	char rel[32], buf[16];
	ssize_t n;
	int i;

	e->nlink = 2;		/* so that a hard link may name them */
	for (i = 0; i < 700; i++) {
		snprintf(rel, sizeof(rel), "f%03d", i);
		ck_assert_int_eq(write_file(o, rel, e, rel, 4), 0);
	}
	/* f256-f511 are the batch at the sync thread now */
	ck_assert_int_eq(write_file(o, "f300", e, "new!", 4), 0);
	l = ent_link(FSENT_HARDLINK, "f301");
	logged[0] = 0;
	ck_assert_msg(fsout_entry(o, "link", l) == 0, "%s", logged);
	fsent_entry_free(l);
	ck_assert_int_eq(fsout_close(o), 0);
	fsout_free(o);
	ck_assert_int_eq(has_temp("t"), 0);
	for (i = 0; i < 700; i++) {
		if (i == 300)
			continue;
		snprintf(rel, sizeof(rel), "t/f%03d", i);
		slurp(rel, buf, sizeof(buf), &n);
		ck_assert_int_eq(n, 4);
		ck_assert_mem_eq(buf, rel + 2, 4);
	}
	slurp("t/f300", buf, sizeof(buf), &n);
	ck_assert_mem_eq(buf, "new!", 4);
	slurp("t/link", buf, sizeof(buf), &n);
	ck_assert_mem_eq(buf, "f301", 4);

	/* Read back (restore --verify does it right after each commit) a file
	 * of the batch the sync thread has already renamed, before the writer
	 * has settled that batch: it is read under its final name. */
	o = open_target(FSOUT_ALWAYS, 0);
	for (i = 0; i < 256; i++) {
		snprintf(rel, sizeof(rel), "r%03d", i);
		ck_assert_int_eq(write_file(o, rel, e, rel, 4), 0);
	}
	for (i = 0; i < 1000 && access(at("t/r255"), F_OK) != 0; i++)
		usleep(10000);	/* the sync thread puts the batch in place */
	ck_assert_int_eq(access(at("t/r255"), F_OK), 0);
	rb.n = 0;
	logged[0] = 0;
	ck_assert_msg(fsout_read(o, "r255", readback_cb, &rb) == 0, "%s", logged);
	ck_assert_uint_eq(rb.n, 4);
	ck_assert_mem_eq(rb.buf, "r255", 4);
	ck_assert_int_eq(fsout_close(o), 0);
	fsout_free(o);

	/* A rename the sync thread cannot make (a directory planted at the
	 * final name after the file was committed) fails that file alone,
	 * named in the message; its temporary is removed and the rest of
	 * its batch is in place. */
	o = open_target(FSOUT_ALWAYS, 0);
	for (i = 0; i < 300; i++) {
		snprintf(rel, sizeof(rel), "h%03d", i);
		ck_assert_int_eq(write_file(o, rel, e, rel, 4), 0);
		if (i == 0) {
			ck_assert_int_eq(mkdir(at("t/h000"), 0755), 0);
			ck_assert_int_eq(mkdir(at("t/h000/planted"), 0755), 0);
		}
	}
	logged[0] = 0;
	ck_assert_int_ne(fsout_close(o), 0);
	ck_assert_msg(strstr(logged, "h000") && strstr(logged, "cannot rename"),
	    "%s", logged);
	fsout_free(o);
	ck_assert_int_eq(has_temp("t"), 0);
	ck_assert_int_eq(access(at("t/h000/planted"), F_OK), 0);
	for (i = 1; i < 300; i++) {
		snprintf(rel, sizeof(rel), "t/h%03d", i);
		slurp(rel, buf, sizeof(buf), &n);
		ck_assert_int_eq(n, 4);
		ck_assert_mem_eq(buf, rel + 2, 4);
	}

	/* no close: the batch being filled is dropped; the two handed to
	 * the sync thread (g000-g511) are durable and in place, whole */
	o = open_target(FSOUT_ALWAYS, 0);
	for (i = 0; i < 600; i++) {
		snprintf(rel, sizeof(rel), "g%03d", i);
		ck_assert_int_eq(write_file(o, rel, e, rel, 4), 0);
	}
	fsout_free(o);
	ck_assert_int_eq(has_temp("t"), 0);
	for (i = 0; i < 600; i++) {
		snprintf(rel, sizeof(rel), "t/g%03d", i);
		if (i < 512) {
			slurp(rel, buf, sizeof(buf), &n);
			ck_assert_int_eq(n, 4);
			ck_assert_mem_eq(buf, rel + 2, 4);
		} else {
			ck_assert_int_eq(access(at(rel), F_OK), -1);
		}
	}
	fsent_entry_free(e);
}
END_TEST

START_TEST(test_temp_rename_abort)
{
	struct readback rb;
	struct fsout *o = open_target(FSOUT_ALWAYS, 0);
	struct fsent_entry *e = ent(FSENT_FILE, 0644);
	struct fsout_file *f;
	char buf[16];
	ssize_t n;

	e->size = 5;
	ck_assert_int_eq(fsout_file_open(o, "f", e, &f), 0);
	ck_assert_int_eq(fsout_file_write(f, 0, "hello", 5), 0);
	/* Before the commit: a temporary name only. */
	ck_assert_int_eq(access(at("t/f"), F_OK), -1);
	ck_assert_int_eq(has_temp("t"), 1);
	ck_assert_int_eq(fsout_file_commit(f), 0);
	/* Committed: the final name waits until the batch is durable (a
	 * power cut must not leave a short file under it); reading back
	 * already sees the bytes. */
	ck_assert_int_eq(access(at("t/f"), F_OK), -1);
	ck_assert_int_eq(has_temp("t"), 1);
	rb.n = 0;
	ck_assert_int_eq(fsout_read(o, "f", readback_cb, &rb), 0);
	ck_assert_uint_eq(rb.n, 5);
	ck_assert_mem_eq(rb.buf, "hello", 5);
	/* Looking at the name again puts the batch in place first. */
	settle(o, "f");
	ck_assert_int_eq(has_temp("t"), 0);
	slurp("t/f", buf, sizeof(buf), &n);
	ck_assert_int_eq(n, 5);

	/* Abort: the old file stays, no temporary file is left. */
	ck_assert_int_eq(fsout_file_open(o, "f", e, &f), 0);
	ck_assert_int_eq(fsout_file_write(f, 0, "XXXXX", 5), 0);
	fsout_file_abort(f);
	ck_assert_int_eq(has_temp("t"), 0);
	settle(o, "f");
	slurp("t/f", buf, sizeof(buf), &n);
	ck_assert_mem_eq(buf, "hello", 5);
	fsout_file_abort(NULL);

	/* Data beyond the recorded size is refused. */
	ck_assert_int_eq(fsout_file_open(o, "g", e, &f), 0);
	ck_assert_int_eq(fsout_file_write(f, 3, "toolong", 7), BW_ERR_CORRUPT);
	ck_assert_int_ne(fsout_file_commit(f), 0);
	ck_assert_int_eq(access(at("t/g"), F_OK), -1);
	ck_assert_int_eq(has_temp("t"), 0);

	/* A "crash": the handle goes away without a commit. */
	ck_assert_int_eq(fsout_file_open(o, "crash", e, &f), 0);
	ck_assert_int_eq(fsout_file_write(f, 0, "half", 4), 0);
	ck_assert_int_eq(access(at("t/crash"), F_OK), -1);
	fsout_file_abort(f);
	ck_assert_int_eq(fsout_close(o), 0);
	fsout_free(o);
	fsent_entry_free(e);
}
END_TEST

/* In a directory this handle made, names it has not made are known to be
 * absent without a lookup; what it made is still seen, and the overwrite
 * policy still applies to it. */
START_TEST(test_made_directory)
{
	struct fsout *o = open_target(FSOUT_NEVER, 0);
	struct fsent_entry *d = ent(FSENT_DIR, 0755), *e = ent(FSENT_FILE, 0644);
	struct fsent_entry *cur = NULL;
	char rel[32], buf[16];
	ssize_t n;
	int i;

	ck_assert_int_eq(fsout_entry(o, "d", d), 0);
	ck_assert_int_eq(fsout_existing(o, "d/a", &cur), 0);
	ck_assert_int_eq(write_file(o, "d/a", e, "one", 3), 0);
	ck_assert_int_eq(fsout_existing(o, "d/a", &cur), 1);
	ck_assert_uint_eq(cur->size, 3);
	fsent_entry_free(cur);
	cur = NULL;
	ck_assert_int_eq(write_file(o, "d/a", e, "two", 3), 1);	/* never */
	/* Many more names: every one is still seen once written. */
	for (i = 0; i < 2000; i++) {
		snprintf(rel, sizeof(rel), "d/n%04d", i);
		ck_assert_int_eq(fsout_existing(o, rel, &cur), 0);
		ck_assert_int_eq(write_file(o, rel, e, rel, 4), 0);
	}
	for (i = 0; i < 2000; i += 97) {
		snprintf(rel, sizeof(rel), "d/n%04d", i);
		ck_assert_int_eq(fsout_existing(o, rel, &cur), 1);
		fsent_entry_free(cur);
		cur = NULL;
	}
	/* The lookup is skipped in a directory the handle made, for a name
	 * it has not written: a file planted there behind its back (only
	 * the directory's owner can, mode 0700 until the close) is not
	 * seen.  With the shortcut broken, this would answer 1. */
	ck_assert_int_eq(close(open(at("t/d/planted"), O_CREAT | O_WRONLY, 0644)), 0);
	ck_assert_int_eq(fsout_existing(o, "d/planted", &cur), 0);
	/* A directory that was there before is looked in as before. */
	mkd("t/old");
	ck_assert_int_eq(close(open(at("t/old/x"), O_CREAT | O_WRONLY, 0644)), 0);
	ck_assert_int_eq(fsout_entry(o, "old", d), 1);	/* there: kept */
	ck_assert_int_eq(fsout_existing(o, "old/x", &cur), 1);
	fsent_entry_free(cur);
	ck_assert_int_eq(fsout_close(o), 0);
	fsout_free(o);
	slurp("t/d/a", buf, sizeof(buf), &n);
	ck_assert_int_eq(n, 3);
	ck_assert_mem_eq(buf, "one", 3);
	fsent_entry_free(d);
	fsent_entry_free(e);
}
END_TEST

START_TEST(test_overwrite)
{
	struct fsout *o;
	struct fsent_entry *e = ent(FSENT_FILE, 0644), *cur;
	char buf[16];
	ssize_t n;

	o = open_target(FSOUT_NEVER, 0);
	ck_assert_int_eq(write_file(o, "f", e, "one", 3), 0);
	ck_assert_int_eq(write_file(o, "f", e, "two", 3), 1);
	ck_assert_int_eq(fsout_existing(o, "f", &cur), 1);
	ck_assert_int_eq(cur->type, FSENT_FILE);
	ck_assert_uint_eq(cur->size, 3);
	ck_assert_int_eq(cur->mtime_sec, e->mtime_sec);
	ck_assert_uint_eq(cur->mtime_nsec, e->mtime_nsec);
	fsent_entry_free(cur);
	ck_assert_int_eq(fsout_existing(o, "nothing", &cur), 0);
	ck_assert_ptr_null(cur);
	ck_assert_int_eq(fsout_existing(o, "no/such/dir", &cur), 0);
	/* lstat semantics: a symlink is reported as itself */
	ck_assert_int_eq(symlink("/etc/passwd", at("t/sl")), 0);
	ck_assert_int_eq(fsout_existing(o, "sl", &cur), 1);
	ck_assert_int_eq(cur->type, FSENT_SYMLINK);
	ck_assert_str_eq(cur->link, "/etc/passwd");
	fsent_entry_free(cur);
	ck_assert_int_eq(fsout_existing(o, "sl/passwd", &cur), BW_ERR_INVAL);
	ck_assert_int_eq(fsout_existing(o, "../x", &cur), BW_ERR_INVAL);
	ck_assert_int_eq(fsout_close(o), 0);
	fsout_free(o);
	slurp("t/f", buf, sizeof(buf), &n);
	ck_assert_mem_eq(buf, "one", 3);

	o = open_target(FSOUT_IF_CHANGED, 0);
	/* Same type, size and mtime: kept. */
	ck_assert_int_eq(write_file(o, "f", e, "ONE", 3), 1);
	e->mtime_nsec++;
	ck_assert_int_eq(write_file(o, "f", e, "new", 3), 0);
	settle(o, "f");
	slurp("t/f", buf, sizeof(buf), &n);
	ck_assert_mem_eq(buf, "new", 3);
	ck_assert_int_eq(write_file(o, "f", e, "longer", 6), 0);
	settle(o, "f");
	slurp("t/f", buf, sizeof(buf), &n);
	ck_assert_int_eq(n, 6);
	/* A directory is not replaced by a file. */
	mkd("t/dir");
	logged[0] = '\0';
	ck_assert_int_eq(write_file(o, "dir", e, "x", 1), BW_ERR_EXIST);
	ck_assert_msg(strstr(logged, "dir") && strstr(logged, "directory"),
	    "%s", logged);
	ck_assert_int_eq(fsout_close(o), 0);
	fsout_free(o);

	o = open_target(FSOUT_ALWAYS, 0);
	ck_assert_int_eq(write_file(o, "f", e, "always", 6), 0);
	settle(o, "f");
	slurp("t/f", buf, sizeof(buf), &n);
	ck_assert_mem_eq(buf, "always", 6);
	/* An empty directory gives way; a non-empty one does not. */
	ck_assert_int_eq(write_file(o, "dir", e, "was a dir", 9), 0);
	settle(o, "dir");
	slurp("t/dir", buf, sizeof(buf), &n);
	ck_assert_int_eq(n, 9);
	mkd("t/full");
	put("t/full/keep", "k", 1);
	logged[0] = '\0';
	ck_assert_int_eq(write_file(o, "full", e, "x", 1), BW_ERR_EXIST);
	ck_assert_ptr_nonnull(strstr(logged, "non-empty directory"));
	ck_assert_int_eq(access(at("t/full/keep"), F_OK), 0);
	ck_assert_int_eq(has_temp("t"), 0);
	ck_assert_int_eq(fsout_close(o), 0);
	fsout_free(o);
	fsent_entry_free(e);
}
END_TEST

/* A second run over a finished restore: what is there is kept, hard
 * links included; ALWAYS makes them again. */
START_TEST(test_resume)
{
	static const enum fsout_overwrite ow[] = {
		FSOUT_ALWAYS, FSOUT_NEVER, FSOUT_IF_CHANGED, FSOUT_ALWAYS
	};
	struct fsent_entry *f = ent(FSENT_FILE, 0644), *h;
	struct fsout *o;
	struct stat a, b;
	size_t i;

	f->nlink = 2;
	h = ent_link(FSENT_HARDLINK, "d/h1");
	for (i = 0; i < 4; i++) {
		o = open_target(ow[i], 0);
		ck_assert_int_eq(write_file(o, "d/h1", f, "linked", 6),
		    i == 1 || i == 2);
		ck_assert_int_eq(fsout_entry(o, "e/h2", h), i == 1 || i == 2);
		ck_assert_int_eq(fsout_close(o), 0);
		fsout_free(o);
		ck_assert_int_eq(stat(at("t/d/h1"), &a), 0);
		ck_assert_int_eq(stat(at("t/e/h2"), &b), 0);
		ck_assert_uint_eq(a.st_ino, b.st_ino);
		ck_assert_uint_eq(a.st_nlink, 2);
	}
	ck_assert_msg(log_error_count() == 0, "%s", logged);
	fsent_entry_free(f);
	fsent_entry_free(h);
}
END_TEST

START_TEST(test_owner)
{
	struct fsout *o;
	struct fsent_entry *e;
	struct passwd *pw = getpwnam("nobody");
	struct group *gr = getgrnam("nogroup");
	struct stat st;

	if (geteuid() != 0) {
		printf("test_fsout: skipping owner checks: chown needs root\n");
		return;
	}
	ck_assert_ptr_nonnull(pw);
	o = open_target(FSOUT_NEVER, 0);
	/* A name that exists here wins over the stored id. */
	e = ent(FSENT_FILE, 0644);
	e->uid = 4321;
	e->gid = 4322;
	e->uname = strdup("nobody");
	e->gname = gr ? strdup("nogroup") : NULL;
	ck_assert_int_eq(write_file(o, "byname", e, "n", 1), 0);
	/* An unknown name: the id. */
	free(e->uname);
	e->uname = strdup("no-such-user-bulwark");
	free(e->gname);
	e->gname = strdup("no-such-group-bulwark");
	ck_assert_int_eq(write_file(o, "byid", e, "i", 1), 0);
	fsent_entry_free(e);
	e = ent_link(FSENT_SYMLINK, "byname");
	e->uid = 4323;
	e->gid = 4324;
	ck_assert_int_eq(fsout_entry(o, "link", e), 0);
	fsent_entry_free(e);
	ck_assert_int_eq(fsout_close(o), 0);
	fsout_free(o);
	ck_assert_int_eq(lstat(at("t/byname"), &st), 0);
	ck_assert_uint_eq(st.st_uid, pw->pw_uid);
	if (gr)
		ck_assert_uint_eq(st.st_gid, gr->gr_gid);
	ck_assert_int_eq(lstat(at("t/byid"), &st), 0);
	ck_assert_uint_eq(st.st_uid, 4321);
	ck_assert_uint_eq(st.st_gid, 4322);
	ck_assert_int_eq(lstat(at("t/link"), &st), 0);
	ck_assert_uint_eq(st.st_uid, 4323);
	ck_assert_uint_eq(st.st_gid, 4324);

	/* numeric_owner: the ids, names ignored. */
	o = open_target(FSOUT_NEVER, 1);
	e = ent(FSENT_FILE, 04755);
	e->uid = 4321;
	e->gid = 4322;
	e->uname = strdup("nobody");
	e->gname = gr ? strdup("nogroup") : NULL;
	e->acl_access = strdup("user::rwx,user:nobody:r--:4444,group::r-x,"
	    "mask::r-x,other::r-x");
	ck_assert_int_eq(write_file(o, "numeric", e, "n", 1), 0);
	fsent_entry_free(e);
	ck_assert_int_eq(fsout_close(o), 0);
	fsout_free(o);
	ck_assert_int_eq(fsent_stat(at("t/numeric"), &e), 0);
	ck_assert_ptr_nonnull(e->acl_access);
	/* The id, not nobody's: no name lookups with numeric_owner. */
	ck_assert_msg(strstr(e->acl_access, "user:4444:r--"), "%s",
	    e->acl_access);
	ck_assert_ptr_null(strstr(e->acl_access, "nobody"));
	fsent_entry_free(e);
	ck_assert_int_eq(lstat(at("t/numeric"), &st), 0);
	ck_assert_uint_eq(st.st_uid, 4321);
	ck_assert_uint_eq(st.st_gid, 4322);
	/* setuid survives the chown (set after it). */
	ck_assert_uint_eq(st.st_mode & 07777, 04755);
}
END_TEST

START_TEST(test_devices)
{
	struct fsout *o;
	struct fsent_entry *e;
	struct stat st;

	if (geteuid() != 0) {
		printf("test_fsout: skipping device checks: mknod needs "
		    "root\n");
		return;
	}
	o = open_target(FSOUT_NEVER, 0);
	e = ent(FSENT_CHR, 0620);
	e->rdev = makedev(1, 3);
	ck_assert_int_eq(fsout_entry(o, "null", e), 0);
	fsent_entry_free(e);
	e = ent(FSENT_BLK, 0660);
	e->rdev = makedev(7, 200);
	ck_assert_int_eq(fsout_entry(o, "loop", e), 0);
	fsent_entry_free(e);
	e = ent(FSENT_FIFO, 0604);
	ck_assert_int_eq(fsout_entry(o, "fifo", e), 0);
	fsent_entry_free(e);
	e = ent(FSENT_SOCK, 0755);
	ck_assert_int_eq(fsout_entry(o, "sock", e), 1);
	fsent_entry_free(e);
	ck_assert_int_eq(fsout_close(o), 0);
	fsout_free(o);
	ck_assert_int_eq(lstat(at("t/null"), &st), 0);
	ck_assert(S_ISCHR(st.st_mode));
	ck_assert_uint_eq(st.st_rdev, makedev(1, 3));
	ck_assert_uint_eq(st.st_mode & 07777, 0620);
	ck_assert_int_eq(st.st_mtim.tv_nsec, 111222333);
	ck_assert_int_eq(lstat(at("t/loop"), &st), 0);
	ck_assert(S_ISBLK(st.st_mode));
	ck_assert_uint_eq(st.st_rdev, makedev(7, 200));
	ck_assert_int_eq(lstat(at("t/fifo"), &st), 0);
	ck_assert(S_ISFIFO(st.st_mode));
	ck_assert_uint_eq(st.st_mode & 07777, 0604);
	ck_assert_int_eq(access(at("t/sock"), F_OK), -1);
}
END_TEST

struct rb {
	uint8_t *p;
	size_t n;
};

static int
read_cb(const void *p, size_t n, void *arg)
{
	struct rb *b = arg;

	b->p = realloc(b->p, b->n + n);
	memcpy(b->p + b->n, p, n);
	b->n += n;
	return 0;
}

/* A sparse map that overlaps or runs backwards would write one place
 * twice and leave another a hole: refused, with the reason. */
START_TEST(test_bad_sparse_map)
{
	struct fsout *o = open_target(FSOUT_NEVER, 0);
	struct fsent_entry *e = ent(FSENT_FILE, 0644);
	struct fsent_region bad[2][2] = {
		{ { 0, 4096 }, { 2048, 4096 } },	/* overlapping */
		{ { 8192, 10 }, { 0, 10 } },		/* out of order */
	};
	struct fsout_file *f = NULL;
	int i;

	e->size = 16384;
	e->nregions = 2;
	for (i = 0; i < 2; i++) {
		e->regions = bad[i];
		logged[0] = '\0';
		ck_assert_int_eq(fsout_file_open(o, "sparse", e, &f), BW_ERR_INVAL);
		ck_assert_ptr_null(f);
		ck_assert_msg(strstr(logged, "sparse") &&
		    strstr(logged, "sparse map out of order"), "%s", logged);
	}
	e->regions = NULL;
	e->nregions = 0;
	ck_assert_int_eq(fsout_close(o), 0);
	fsout_free(o);
	ck_assert_int_eq(access(at("t/sparse"), F_OK), -1);
	ck_assert_int_eq(has_temp("t"), 0);
	fsent_entry_free(e);
}
END_TEST

START_TEST(test_sparse_and_read)
{
	struct fsout *o = open_target(FSOUT_NEVER, 0);
	struct fsent_entry *e = ent(FSENT_FILE, 0644);
	struct fsout_file *f;
	struct rb b = { 0 };
	uint8_t blk[8192];
	struct stat st;
	off_t d, h;
	int fd;

	/* 16 MiB with 8 KiB at 0 and at 8 MiB: the rest holes. */
	e->size = 16 << 20;
	memset(blk, 'S', sizeof(blk));
	ck_assert_int_eq(fsout_file_open(o, "sparse", e, &f), 0);
	ck_assert_int_eq(fsout_file_write(f, 0, blk, sizeof(blk)), 0);
	ck_assert_int_eq(fsout_file_write(f, 8 << 20, blk, sizeof(blk)), 0);
	ck_assert_int_eq(fsout_file_commit(f), 0);
	/* All hole. */
	e->size = 1 << 20;
	ck_assert_int_eq(fsout_file_open(o, "hole", e, &f), 0);
	ck_assert_int_eq(fsout_file_commit(f), 0);

	ck_assert_int_eq(fsout_read(o, "sparse", read_cb, &b), 0);
	ck_assert_uint_eq(b.n, 16 << 20);
	ck_assert_mem_eq(b.p, blk, sizeof(blk));
	ck_assert_mem_eq(b.p + (8 << 20), blk, sizeof(blk));
	ck_assert_uint_eq(b.p[sizeof(blk)], 0);
	ck_assert_uint_eq(b.p[(16 << 20) - 1], 0);
	free(b.p);
	ck_assert_int_eq(fsout_read(o, "missing", read_cb, &b), BW_ERR_NOENT);
	ck_assert_int_eq(fsout_close(o), 0);
	fsout_free(o);
	fsent_entry_free(e);

	ck_assert_int_eq(stat(at("t/sparse"), &st), 0);
	ck_assert_int_eq(st.st_size, 16 << 20);
	ck_assert_msg(st.st_blocks * 512 <= 64 * 1024, "holes filled: %lld "
	    "blocks", (long long)st.st_blocks);
	fd = open(at("t/sparse"), O_RDONLY);
	ck_assert_int_ge(fd, 0);
	d = lseek(fd, 0, SEEK_DATA);
	h = lseek(fd, 0, SEEK_HOLE);
	ck_assert_int_eq(d, 0);
	ck_assert_int_ge(h, (off_t)sizeof(blk));
	ck_assert_int_lt(h, 8 << 20);
	ck_assert_int_eq(lseek(fd, h, SEEK_DATA), 8 << 20);
	close(fd);
	ck_assert_int_eq(stat(at("t/hole"), &st), 0);
	ck_assert_int_eq(st.st_size, 1 << 20);
	ck_assert_int_eq(st.st_blocks, 0);
}
END_TEST

/* Mode 000 and read-only directories, as anybody (not only root). */
START_TEST(test_readonly)
{
	struct fsout *o = open_target(FSOUT_NEVER, 0);
	struct fsent_entry *e;
	struct stat st;

	e = ent(FSENT_DIR, 0555);
	ck_assert_int_eq(fsout_entry(o, "ro", e), 0);
	ck_assert_int_eq(fsout_entry(o, "ro/sub", e), 0);
	fsent_entry_free(e);
	e = ent(FSENT_FILE, 0);
	ck_assert_int_eq(write_file(o, "ro/sub/locked", e, "secret", 6), 0);
	fsent_entry_free(e);
	e = ent(FSENT_DIR, 0);
	ck_assert_int_eq(fsout_entry(o, "ro/closed", e), 0);
	fsent_entry_free(e);
	e = ent(FSENT_FILE, 0400);
	ck_assert_int_eq(write_file(o, "ro/closed/inside", e, "in", 2), 0);
	fsent_entry_free(e);
	e = ent(FSENT_DIR, 0751);
	e->mtime_nsec = 7;
	ck_assert_int_eq(fsout_entry(o, "ro/closed/sub", e), 0);
	fsent_entry_free(e);
	ck_assert_int_eq(fsout_close(o), 0);
	fsout_free(o);
	ck_assert_int_eq(stat(at("t/ro"), &st), 0);
	ck_assert_uint_eq(st.st_mode & 07777, 0555);
	ck_assert_int_eq(st.st_mtim.tv_nsec, 111222333);
	ck_assert_int_eq(stat(at("t/ro/sub"), &st), 0);
	ck_assert_uint_eq(st.st_mode & 07777, 0555);
	ck_assert_int_eq(stat(at("t/ro/closed"), &st), 0);
	ck_assert_uint_eq(st.st_mode & 07777, 0);
	if (geteuid() == 0) {	/* others cannot look into a mode 0 dir */
		ck_assert_int_eq(stat(at("t/ro/closed/sub"), &st), 0);
		ck_assert_uint_eq(st.st_mode & 07777, 0751);
		ck_assert_int_eq(st.st_mtim.tv_nsec, 7);
	}
	ck_assert_int_eq(stat(at("t/ro/sub/locked"), &st), 0);
	ck_assert_uint_eq(st.st_mode & 07777, 0);
	ck_assert_int_eq(st.st_size, 6);
}
END_TEST

/* ---- archives ---- */

/* Runs "prog 'arg'" and keeps its output. */
static int
run(const char *prog, const char *arg, char *out, size_t cap)
{
	char cmd[1024];
	FILE *p;
	size_t n;

	snprintf(cmd, sizeof(cmd), "%s '%s' 2>&1", prog, arg);
	p = popen(cmd, "r");
	ck_assert_ptr_nonnull(p);
	n = fread(out, 1, cap - 1, p);
	out[n] = '\0';
	return pclose(p);
}

static void
write_archive(const char *name)
{
	struct fsout_opts oo = { .archive = at(name) };
	struct fsout *o;
	struct fsent_entry *e;
	struct fsout_file *f;
	static uint8_t big[1 << 16];

	ck_assert_int_eq(fsout_open(&oo, &o), 0);
	e = ent(FSENT_DIR, 0750);
	ck_assert_int_eq(fsout_entry(o, "srv", e), 0);
	fsent_entry_free(e);
	e = ent(FSENT_FILE, 0640);
	e->nlink = 2;
	e->uname = strdup("root");
	e->xattrs = calloc(1, sizeof(*e->xattrs));
	e->xattrs[0].name = strdup("user.note");
	e->xattrs[0].value = (uint8_t *)strdup("kept");
	e->xattrs[0].len = 4;
	e->nxattrs = 1;
	ck_assert_int_eq(write_file(o, "srv/index.html", e, "<html>", 6), 0);
	fsent_entry_free(e);
	/* Sparse: 8 KiB of data at 1 MiB in 2 MiB. */
	e = ent(FSENT_FILE, 0600);
	e->size = 2 << 20;
	e->regions = calloc(1, sizeof(*e->regions));
	e->regions[0].off = 1 << 20;
	e->regions[0].len = sizeof(big);
	e->nregions = 1;
	memset(big, 'z', sizeof(big));
	ck_assert_int_eq(fsout_file_open(o, "srv/sparse", e, &f), 0);
	/* One member at a time. */
	{
		struct fsent_entry *d = ent(FSENT_DIR, 0755);

		ck_assert_int_eq(fsout_entry(o, "other", d), BW_ERR_INVAL);
		fsent_entry_free(d);
	}
	ck_assert_int_eq(fsout_file_write(f, 1 << 20, big, sizeof(big)), 0);
	ck_assert_int_eq(fsout_file_commit(f), 0);
	fsent_entry_free(e);
	/* Abandoned members are filled up: the archive stays readable. */
	e = ent(FSENT_FILE, 0600);
	e->size = 100;
	ck_assert_int_eq(fsout_file_open(o, "srv/abandoned", e, &f), 0);
	ck_assert_int_eq(fsout_file_write(f, 0, "zz", 2), 0);
	fsout_file_abort(f);
	ck_assert_int_eq(fsout_file_open(o, "srv/too-long", e, &f), 0);
	ck_assert_int_eq(fsout_file_write(f, 90, big, 20), BW_ERR_CORRUPT);
	ck_assert_int_eq(fsout_file_commit(f), BW_ERR_IO);
	fsent_entry_free(e);
	e = ent_link(FSENT_SYMLINK, "index.html");
	ck_assert_int_eq(fsout_entry(o, "srv/link", e), 0);
	fsent_entry_free(e);
	e = ent_link(FSENT_HARDLINK, "srv/index.html");
	ck_assert_int_eq(fsout_entry(o, "srv/hard", e),
	    strstr(name, ".zip") ? BW_ERR_UNSUPP : 0);
	fsent_entry_free(e);
	e = ent(FSENT_FILE, 0644);
	ck_assert_int_eq(write_file(o, "../escape", e, "x", 1), BW_ERR_INVAL);
	fsent_entry_free(e);
	ck_assert_int_eq(fsout_existing(o, "srv", &e), 0);
	ck_assert_int_eq(fsout_read(o, "srv/index.html", read_cb, NULL),
	    BW_ERR_UNSUPP);
	/* Not there until closed. */
	ck_assert_int_eq(access(at(name), F_OK), -1);
	ck_assert_int_eq(fsout_close(o), 0);
	fsout_free(o);
	ck_assert_int_eq(access(at(name), F_OK), 0);
	ck_assert_int_eq(count_dir(""), 3);	/* src, outside, the archive */

	/* An existing archive is never overwritten. */
	ck_assert_int_eq(fsout_open(&oo, &o), BW_ERR_EXIST);
	ck_assert_ptr_nonnull(strstr(logged, "exists"));
}

static const char pyscript_tar[] =
    "python3 -c 'import tarfile,sys\n"
    "t=tarfile.open(sys.argv[1])\n"
    "for m in t:\n"
    "  x=m.pax_headers.get(\"SCHILY.xattr.user.note\",\"-\")\n"
    "  d=t.extractfile(m).read() if m.isfile() else b\"\"\n"
    "  print(m.name,oct(m.mode),m.type.decode(),m.size,m.mtime,m.linkname or \"-\",x,d.count(b\"z\"),d[:6].decode(\"latin1\") if m.isfile() and m.size < 100 else \"\")\n"
    "'";

START_TEST(test_archive_tar)
{
	char out[4096];

	if (!have_cmd("python3")) {
		printf("test_fsout: skipping tar checks: no python3\n");
		return;
	}
	write_archive("out.tar");
	ck_assert_int_eq(run(pyscript_tar, at("out.tar"), out, sizeof(out)), 0);
	/* name mode type size mtime link xattr z-count head */
	ck_assert_msg(strstr(out, "srv 0o750 5 0 1500000000.111"), "%s", out);
	ck_assert_msg(strstr(out, "srv/index.html 0o640 0 6 1500000000.111"),
	    "%s", out);
	ck_assert_msg(strstr(out, " - kept 0 <html>"), "%s", out);
	ck_assert_msg(strstr(out, "srv/sparse 0o600 0 2097152"), "%s", out);
	ck_assert_msg(strstr(out, " - - 65536 "), "sparse data: %s", out);
	ck_assert_msg(strstr(out, "srv/link 0o777 2 0 1500000000.111"), "%s",
	    out);
	ck_assert_msg(strstr(out, " index.html - 0"), "%s", out);
	ck_assert_msg(strstr(out, "srv/abandoned 0o600 0 100 1500000000.111"),
	    "%s", out);
	ck_assert_msg(strstr(out, " - - 2 "), "%s", out);
	ck_assert_msg(strstr(out, "srv/too-long 0o600 0 100 1500000000.111"),
	    "%s", out);
	ck_assert_msg(strstr(out, "srv/hard 0o777 1 0 1500000000.111"), "%s",
	    out);
	ck_assert_msg(strstr(out, " srv/index.html - 0"), "%s", out);
}
END_TEST

START_TEST(test_archive_zst)
{
	char out[4096];

	if (!have_cmd("tar") || !have_cmd("zstd")) {
		printf("test_fsout: skipping tar.zst checks: no tar or zstd\n");
		return;
	}
	write_archive("out.tar.zst");
	ck_assert_int_eq(run("tar --zstd -tvf", at("out.tar.zst"),
	    out, sizeof(out)), 0);
	ck_assert_msg(strstr(out, "srv/index.html"), "%s", out);
	ck_assert_msg(strstr(out, "srv/link -> index.html"), "%s", out);
	ck_assert_msg(strstr(out, "srv/hard link to srv/index.html"), "%s", out);
	ck_assert_int_eq(run("tar --zstd -xO srv/index.html -f", at("out.tar.zst"), out,
	    sizeof(out)), 0);
	ck_assert_msg(strstr(out, "<html>"), "%s", out);
}
END_TEST

START_TEST(test_archive_zip)
{
	char out[4096];

	if (!have_cmd("python3")) {
		printf("test_fsout: skipping zip checks: no python3\n");
		return;
	}
	write_archive("out.zip");
	ck_assert_int_eq(run("python3 -c 'import zipfile,sys\n"
	    "z=zipfile.ZipFile(sys.argv[1])\n"
	    "for i in z.infolist():\n"
	    "  d=z.read(i)\n"
	    "  print(i.filename,oct(i.external_attr>>16),i.file_size,d.count(b\"z\"),d[:10].replace(b\"\\0\",b\"\").decode(\"latin1\"))\n"
	    "'", at("out.zip"), out, sizeof(out)), 0);
	ck_assert_msg(strstr(out, "srv/ 0o40750"), "%s", out);
	ck_assert_msg(strstr(out, "srv/index.html 0o100640 6 0 <html>"), "%s",
	    out);
	ck_assert_msg(strstr(out, "srv/sparse 0o100600 2097152 65536"),
	    "%s", out);
	ck_assert_msg(strstr(out, "srv/link 0o120777 10 0 index.html"), "%s",
	    out);
	ck_assert_ptr_null(strstr(out, "srv/hard"));
}
END_TEST

START_TEST(test_open_errors)
{
	struct fsout_opts oo = { 0 };
	struct fsout *o;

	ck_assert_int_eq(fsout_open(&oo, &o), BW_ERR_INVAL);
	oo.archive = at("x.rar");
	logged[0] = '\0';
	ck_assert_int_eq(fsout_open(&oo, &o), BW_ERR_INVAL);
	ck_assert_ptr_nonnull(strstr(logged, "x.rar"));
	oo.target = at("t");
	ck_assert_int_eq(fsout_open(&oo, &o), BW_ERR_INVAL);
	oo.archive = NULL;
	oo.target = at("new/deeper/target");
	ck_assert_int_eq(fsout_open(&oo, &o), 0);
	ck_assert_int_eq(fsout_close(o), 0);
	fsout_free(o);
	ck_assert_int_eq(access(at("new/deeper/target"), F_OK), 0);
	fsout_free(NULL);
}
END_TEST

static Suite *
suite(void)
{
	Suite *s = suite_create("fsout");
	TCase *tc = tcase_create("core");

	tcase_add_checked_fixture(tc, setup, teardown);
	tcase_add_test(tc, test_check_path);
	tcase_add_test(tc, test_basic);
	tcase_add_test(tc, test_fidelity);
	tcase_add_test(tc, test_hostile);
	tcase_add_test(tc, test_planted_symlink);
	tcase_add_test(tc, test_bad_sparse_map);
	tcase_add_test(tc, test_private_cwd_from_open);
	tcase_add_test(tc, test_target_symlink_and_owner);
	tcase_add_test(tc, test_stale_temporaries_removed);
	tcase_add_test(tc, test_temp_rename_abort);
	tcase_add_test(tc, test_batches_overlap);
	tcase_add_test(tc, test_sync_failure);
	tcase_add_test(tc, test_made_directory);
	tcase_add_test(tc, test_overwrite);
	tcase_add_test(tc, test_resume);
	tcase_add_test(tc, test_owner);
	tcase_add_test(tc, test_devices);
	tcase_add_test(tc, test_sparse_and_read);
	tcase_add_test(tc, test_readonly);
	tcase_add_test(tc, test_archive_tar);
	tcase_add_test(tc, test_archive_zst);
	tcase_add_test(tc, test_archive_zip);
	tcase_add_test(tc, test_open_errors);
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
