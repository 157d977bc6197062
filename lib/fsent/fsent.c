/*
 * File system entries through libarchive.
 *
 * The walk is our own (openat/readdir per directory, names sorted with
 * strcmp) because libarchive's disk walker yields readdir order and the
 * engine needs a deterministic one.  Per entry, libarchive's
 * archive_read_disk_entry_from_file() fills the metadata (owner names,
 * symlink target, ACLs, xattrs, sparse map) from our stat and, for regular
 * files and directories, our open descriptor.  Entries without a descriptor
 * are named to libarchive as /proc/self/fd/DIRFD/NAME, so that lookups do not
 * depend on the length of the full path nor race with renames of its
 * ancestors (the full path is used when /proc is not mounted).
 *
 * Memory: a stack of frames, one per directory being walked, each holding
 * that directory's sorted names; plus the hard link table, which holds only
 * inodes with links not yet seen.  Open descriptors: one per frame, plus
 * the regular file last returned.
 */
#include "config.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <fnmatch.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/xattr.h>
#include <unistd.h>

#include <archive.h>
#include <archive_entry.h>

#include "lib/fsent/fsent.h"
#include "lib/fsent/fsent_internal.h"
#include "lib/util/err.h"
#include "lib/util/log.h"

#define CACHEDIR_SIG	"Signature: 8a477f597d28d172789f06886806bc55"
#define CACHEDIR_NAME	"CACHEDIR.TAG"

struct dname {
	char *name;
	unsigned char type;	/* d_type, DT_UNKNOWN when the fs does not say */
};

/*
 * Descriptors are kept for the innermost FD_KEEP directories only, so that
 * a hostile depth cannot exhaust them; an outer one is opened again through
 * ".." of its child when the walk comes back to it (and checked to be the
 * same directory).
 */
#define FD_KEEP		64

struct frame {
	int fd;			/* the directory being listed, or -1 (FD_KEEP) */
	uint64_t dev, ino;
	size_t plen;		/* its path is w->path[0..plen) */
	struct dname *names;	/* sorted, into blob */
	char *blob;
	size_t n, i;
};

struct hlink {			/* an inode with nlink > 1, links still to see */
	uint64_t dev, ino, left;
	struct hlink *next;
	char path[];
};

struct fsent_walk {
	struct archive *ar;
	struct archive_entry *ae;
	struct fsent_walk_opts opts;
	int use_proc;
	dev_t root_dev;
	int started;

	char *path;		/* path of the current entry */
	size_t pathcap;

	struct frame *frames;
	size_t nframes, framecap;
	int pending_fd;		/* directory returned last, to descend next */
	size_t pending_plen;
	uint64_t pending_dev, pending_ino;

	struct hlink **hl;
	size_t nhl, hlcap;

	/* data of the regular file last returned */
	int file_fd;
	char *file_path;
	uint64_t file_size;
	struct fsent_region *regions;
	size_t nregions;
	int data_open;
	size_t ri;		/* region being read; nregions: the tail */
	uint64_t pos;
	int shrunk;
};

/*
 * Length of the printable UTF-8 character at p, or 0: invalid, overlong,
 * a surrogate, a C1 control or a bidirectional override (which could make a
 * name read as another on a terminal).
 */
static size_t
utf8_printable(const unsigned char *p)
{
	uint32_t c;
	size_t n, k;

	if (*p >= 0xc2 && *p <= 0xdf) {
		n = 2;
		c = *p & 0x1f;
	} else if (*p >= 0xe0 && *p <= 0xef) {
		n = 3;
		c = *p & 0x0f;
	} else if (*p >= 0xf0 && *p <= 0xf4) {
		n = 4;
		c = *p & 0x07;
	} else {
		return 0;
	}
	for (k = 1; k < n; k++) {
		if ((p[k] & 0xc0) != 0x80)
			return 0;
		c = c << 6 | (p[k] & 0x3f);
	}
	if ((n == 3 && c < 0x800) || (n == 4 && (c < 0x10000 || c > 0x10ffff)) ||
	    (c >= 0xd800 && c <= 0xdfff) || c < 0xa0 ||
	    (c >= 0x202a && c <= 0x202e) || (c >= 0x2066 && c <= 0x2069))
		return 0;
	return n;
}

const char *
fsent_quote(const char *s, char *buf, size_t cap)
{
	const unsigned char *p = (const unsigned char *)(s ? s : "(null)");
	size_t o = 0;

	while (*p && o + 8 < cap) {
		size_t n = utf8_printable(p);

		if (n && o + n < cap) {
			memcpy(buf + o, p, n);
			o += n;
			p += n;
			continue;
		}
		if (*p < 0x20 || *p >= 0x7f || *p == '\\')
			o += (size_t)snprintf(buf + o, cap - o, "\\x%02x", *p);
		else
			buf[o++] = (char)*p;
		p++;
	}
	if (*p && o + 4 <= cap)
		o += (size_t)snprintf(buf + o, cap - o, "...");
	buf[o] = '\0';
	return buf;
}

#define VISIT_GONE	2	/* vanished since readdir: skip quietly */

#define Q(s)	fsent_quote((s), (char[1024]){0}, 1024)

void
fsent_entry_free(struct fsent_entry *e)
{
	size_t i;

	if (e == NULL)
		return;
	free(e->path);
	free(e->uname);
	free(e->gname);
	free(e->link);
	for (i = 0; i < e->nxattrs; i++) {
		free(e->xattrs[i].name);
		free(e->xattrs[i].value);
	}
	free(e->xattrs);
	free(e->acl_access);
	free(e->acl_default);
	free(e->regions);
	free(e);
}

/* Copies what libarchive gathered into a new entry owned by the caller;
 * BW_ERR_NOMEM is the only failure (not logged here). */
static int
convert(struct archive_entry *ae, const char *path, struct fsent_entry **out)
{
	struct fsent_entry *e;
	const char *name;
	const void *val;
	size_t len, n, i;
	la_int64_t off, rlen;
	int rc = BW_ERR_NOMEM, flags;

	if ((e = calloc(1, sizeof(*e))) == NULL)
		goto out;
	e->type = fsent_type_of(archive_entry_filetype(ae));
	e->mode = archive_entry_perm(ae) & 07777;
	e->uid = (uint64_t)archive_entry_uid(ae);
	e->gid = (uint64_t)archive_entry_gid(ae);
	e->mtime_sec = archive_entry_mtime(ae);
	e->mtime_nsec = (uint32_t)archive_entry_mtime_nsec(ae);
	e->atime_sec = archive_entry_atime(ae);
	e->atime_nsec = (uint32_t)archive_entry_atime_nsec(ae);
	e->ctime_sec = archive_entry_ctime(ae);
	e->ctime_nsec = (uint32_t)archive_entry_ctime_nsec(ae);
	e->size = e->type == FSENT_FILE ? (uint64_t)archive_entry_size(ae) : 0;
	e->dev = archive_entry_dev(ae);
	e->ino = (uint64_t)archive_entry_ino64(ae);
	e->nlink = archive_entry_nlink(ae);
	e->rdev = archive_entry_rdev(ae);
	if ((e->path = strdup(path)) == NULL)
		goto out;
	if ((name = archive_entry_uname(ae)) && !(e->uname = strdup(name)))
		goto out;
	if ((name = archive_entry_gname(ae)) && !(e->gname = strdup(name)))
		goto out;
	if ((name = archive_entry_symlink(ae)) && !(e->link = strdup(name)))
		goto out;

	if ((n = (size_t)archive_entry_xattr_reset(ae)) > 0) {
		if ((e->xattrs = calloc(n, sizeof(*e->xattrs))) == NULL)
			goto out;
		for (i = 0; i < n && archive_entry_xattr_next(ae, &name, &val,
		    &len) == ARCHIVE_OK; i++) {
			e->nxattrs++;
			e->xattrs[i].len = len;
			if ((e->xattrs[i].name = strdup(name)) == NULL ||
			    (e->xattrs[i].value = malloc(len ? len : 1)) == NULL)
				goto out;
			memcpy(e->xattrs[i].value, val, len);
		}
	}

	/* Numeric ids after the names let a restore on another host map
	 * owners that have no name there. */
	flags = ARCHIVE_ENTRY_ACL_STYLE_EXTRA_ID |
	    ARCHIVE_ENTRY_ACL_STYLE_SEPARATOR_COMMA;
	if (archive_entry_acl_count(ae, ARCHIVE_ENTRY_ACL_TYPE_ACCESS) > 0 &&
	    (e->acl_access = archive_entry_acl_to_text(ae, NULL,
	    flags | ARCHIVE_ENTRY_ACL_TYPE_ACCESS)) == NULL)
		goto out;
	if (archive_entry_acl_count(ae, ARCHIVE_ENTRY_ACL_TYPE_DEFAULT) > 0 &&
	    (e->acl_default = archive_entry_acl_to_text(ae, NULL,
	    flags | ARCHIVE_ENTRY_ACL_TYPE_DEFAULT)) == NULL)
		goto out;

	if (e->type == FSENT_FILE &&
	    (n = (size_t)archive_entry_sparse_reset(ae)) > 0) {
		if ((e->regions = calloc(n, sizeof(*e->regions))) == NULL)
			goto out;
		for (i = 0; i < n &&
		    archive_entry_sparse_next(ae, &off, &rlen) == ARCHIVE_OK;
		    i++) {
			e->regions[i].off = (uint64_t)off;
			e->regions[i].len = (uint64_t)rlen;
		}
		e->nregions = i;
	}
	*out = e;
	e = NULL;
	rc = 0;
out:
	fsent_entry_free(e);
	return rc;
}

static struct archive *
disk_new(void)
{
	struct archive *a;

	if ((a = archive_read_disk_new()) == NULL)
		return NULL;
	/* Physical walk, no atime restore (we open with O_NOATIME), and no
	 * file flags: they are not part of the entry, save the ioctl. */
	if (archive_read_disk_set_symlink_physical(a) != ARCHIVE_OK ||
	    archive_read_disk_set_standard_lookup(a) != ARCHIVE_OK ||
	    archive_read_disk_set_behavior(a, ARCHIVE_READDISK_NO_FFLAGS) !=
	    ARCHIVE_OK) {
		archive_read_free(a);
		return NULL;
	}
	return a;
}

/*
 * What libarchive may skip for this entry.  Most files have no extended
 * attributes, hence no ACL either (Linux keeps ACLs in system.posix_acl_*):
 * one list call saves libarchive's separate ACL and xattr probes.  A file
 * whose blocks cover its size has no holes (GNU tar's test), which saves
 * the SEEK_HOLE probes.  Together they halve the system calls per file.
 */
static int
skip_flags(int fd, const char *accpath, const struct stat *st)
{
	int fl = ARCHIVE_READDISK_NO_FFLAGS;
	ssize_t n;

	n = fd >= 0 ? flistxattr(fd, NULL, 0) : llistxattr(accpath, NULL, 0);
	if (n == 0 || (n < 0 && (errno == ENOTSUP || errno == ENOSYS)))
		fl |= ARCHIVE_READDISK_NO_XATTR | ARCHIVE_READDISK_NO_ACL;
	if (!S_ISREG(st->st_mode) ||
	    (uint64_t)st->st_blocks * 512 >= (uint64_t)st->st_size)
		fl |= ARCHIVE_READDISK_NO_SPARSE;
	return fl;
}

/*
 * Fills ae from st (and fd when >= 0; accpath names the object for lookups
 * that libarchive does by name).  A partial failure (one xattr unreadable)
 * is a warning and the entry is kept: 1 then, else 0 or a negative code.
 */
static int
gather(struct archive *a, struct archive_entry *ae, const char *path,
    const char *accpath, int fd, const struct stat *st)
{
	struct stat lst;
	int r;

	/* libarchive sizes its readlink buffer by st_size, which is 0 for
	 * the links of /proc and /sys. */
	if (S_ISLNK(st->st_mode) && st->st_size < PATH_MAX) {
		lst = *st;
		lst.st_size = PATH_MAX;
		st = &lst;
	}
	archive_entry_clear(ae);
	archive_entry_copy_pathname(ae, path);
	archive_entry_copy_sourcepath(ae, accpath);
	archive_read_disk_set_behavior(a, skip_flags(fd, accpath, st));
	r = archive_read_disk_entry_from_file(a, ae, fd, st);
	if (r == ARCHIVE_OK)
		return 0;
	if (r == ARCHIVE_WARN) {
		log_warn("%s: some metadata could not be read: %s; the entry "
		    "is kept without it", Q(path), archive_error_string(a));
		return 1;
	}
	log_error("%s: cannot read metadata: %s", Q(path),
	    archive_error_string(a) ? archive_error_string(a) : "unknown error");
	return archive_errno(a) > 0 ? bw_err_from_errno(archive_errno(a)) :
	    BW_ERR_IO;
}

/* Opens a regular file or directory for reading, without changing its
 * atime when we are allowed to ask for that. */
static int
open_at(int dirfd, const char *name, int dir)
{
	int fl = O_RDONLY | O_NOFOLLOW | O_NONBLOCK | O_CLOEXEC | O_NOCTTY;
	int fd;

	if (dir)
		fl |= O_DIRECTORY;
	fd = openat(dirfd, name, fl | O_NOATIME);
	if (fd < 0 && errno == EPERM)
		fd = openat(dirfd, name, fl);
	return fd;
}

/* ---- hard links ---- */

static size_t
hl_hash(uint64_t dev, uint64_t ino, size_t cap)
{
	uint64_t h = (ino ^ (dev << 32 | dev >> 32)) * 0x9e3779b97f4a7c15ULL;

	return (size_t)(h >> 20) & (cap - 1);
}

/* The record of (dev, ino) if an earlier link was returned, else NULL.
 * Counts this link; the record is unlinked from the table at the last one
 * (*last set: the caller frees it once it has copied the path). */
static struct hlink *
hl_find(struct fsent_walk *w, const struct stat *st, int *last)
{
	struct hlink **pp, *h;

	*last = 0;
	if (w->hlcap == 0)
		return NULL;
	for (pp = &w->hl[hl_hash(st->st_dev, st->st_ino, w->hlcap)];
	    (h = *pp) != NULL; pp = &h->next) {
		if (h->dev != st->st_dev || h->ino != st->st_ino)
			continue;
		if (--h->left == 0) {
			*pp = h->next;
			w->nhl--;
			*last = 1;
		}
		return h;
	}
	return NULL;
}

/* Records path as the first link of an inode with more links to come. */
static int
hl_add(struct fsent_walk *w, const struct stat *st, const char *path)
{
	struct hlink **pp, *h, *next;
	size_t i;

	if (w->nhl >= w->hlcap / 2) {
		size_t cap = w->hlcap ? w->hlcap * 2 : 256;
		struct hlink **nb = calloc(cap, sizeof(*nb));

		if (nb == NULL)
			return BW_ERR_NOMEM;
		for (i = 0; i < w->hlcap; i++)
			for (h = w->hl[i]; h; h = next) {
				next = h->next;
				pp = &nb[hl_hash(h->dev, h->ino, cap)];
				h->next = *pp;
				*pp = h;
			}
		free(w->hl);
		w->hl = nb;
		w->hlcap = cap;
	}
	if ((h = malloc(sizeof(*h) + strlen(path) + 1)) == NULL)
		return BW_ERR_NOMEM;
	h->dev = st->st_dev;
	h->ino = st->st_ino;
	h->left = st->st_nlink - 1;
	strcpy(h->path, path);
	pp = &w->hl[hl_hash(h->dev, h->ino, w->hlcap)];
	h->next = *pp;
	*pp = h;
	w->nhl++;
	return 0;
}

/* ---- the walk ---- */

static int
path_set(struct fsent_walk *w, size_t plen, const char *name)
{
	size_t n = strlen(name), need = plen + 1 + n + 1;
	char *p;

	if (need > w->pathcap) {
		size_t cap = w->pathcap ? w->pathcap : 256;

		while (cap < need)
			cap *= 2;
		if ((p = realloc(w->path, cap)) == NULL)
			return BW_ERR_NOMEM;
		w->path = p;
		w->pathcap = cap;
	}
	w->path[plen] = '/';
	memcpy(w->path + plen + 1, name, n + 1);
	return 0;
}

static int
excluded(const struct fsent_walk *w, const char *path, const char *name)
{
	size_t i;

	for (i = 0; i < w->opts.nexcludes; i++) {
		const char *pat = w->opts.excludes[i];

		if (fnmatch(pat, strchr(pat, '/') ? path : name, 0) == 0)
			return 1;
	}
	return 0;
}

static int
dname_cmp(const void *a, const void *b)
{
	return strcmp(((const struct dname *)a)->name,
	    ((const struct dname *)b)->name);
}

/* A cache directory tag as in https://bford.info/cachedir/ */
static int
is_cachedir_tag(int dirfd)
{
	char sig[sizeof(CACHEDIR_SIG) - 1];
	struct stat st;
	ssize_t n;
	int fd, ok = 0;

	if ((fd = open_at(dirfd, CACHEDIR_NAME, 0)) < 0)
		return 0;
	if (fstat(fd, &st) == 0 && S_ISREG(st.st_mode)) {
		do
			n = pread(fd, sig, sizeof(sig), 0);
		while (n < 0 && errno == EINTR);
		ok = n == (ssize_t)sizeof(sig) &&
		    memcmp(sig, CACHEDIR_SIG, sizeof(sig)) == 0;
	}
	close(fd);
	return ok;
}

static void
frame_free(struct frame *f)
{
	if (f->fd >= 0)
		close(f->fd);
	free(f->names);
	free(f->blob);
}

/* Lists directory fd (taking it) and pushes it as a frame. */
static int
frame_push(struct fsent_walk *w, int fd, size_t plen)
{
	struct frame f = { .fd = fd, .plen = plen, .dev = w->pending_dev,
	    .ino = w->pending_ino };
	struct dirent *d;
	DIR *dir = NULL;
	size_t bloblen = 0, blobcap = 0, namecap = 0, i, k;
	int ldf, rc = BW_ERR_NOMEM, e;
	void *p;

	/* List through a duplicate so the DIR and its buffer go away now,
	 * while fd stays open for the openat of the entries. */
	if ((ldf = dup(fd)) < 0 || (dir = fdopendir(ldf)) == NULL) {
		e = errno;
		if (ldf >= 0)
			close(ldf);
		goto fail_errno;
	}
	for (;;) {
		size_t n;

		errno = 0;
		if ((d = readdir(dir)) == NULL) {
			if ((e = errno) != 0)
				goto fail_errno;
			break;
		}
		if (d->d_name[0] == '.' && (d->d_name[1] == '\0' ||
		    (d->d_name[1] == '.' && d->d_name[2] == '\0')))
			continue;
		n = strlen(d->d_name) + 1;
		if (bloblen + n > blobcap) {
			blobcap = blobcap ? blobcap * 2 : 4096;
			while (blobcap < bloblen + n)
				blobcap *= 2;
			if ((p = realloc(f.blob, blobcap)) == NULL)
				goto out;
			f.blob = p;
		}
		if (f.n == namecap) {
			namecap = namecap ? namecap * 2 : 64;
			if ((p = realloc(f.names, namecap * sizeof(*f.names))) ==
			    NULL)
				goto out;
			f.names = p;
		}
		memcpy(f.blob + bloblen, d->d_name, n);
		/* Offsets now, pointers once the blob stops moving. */
		f.names[f.n].name = (char *)(uintptr_t)bloblen;
		f.names[f.n].type = d->d_type;
		f.n++;
		bloblen += n;
	}
	for (i = 0; i < f.n; i++)
		f.names[i].name = f.blob + (uintptr_t)f.names[i].name;
	if (f.n > 1)
		qsort(f.names, f.n, sizeof(*f.names), dname_cmp);

	if (w->opts.exclude_caches && f.n) {
		struct dname key = { .name = CACHEDIR_NAME };
		struct dname *tag = bsearch(&key, f.names, f.n,
		    sizeof(*f.names), dname_cmp);

		if (tag && is_cachedir_tag(fd)) {
			/* Keep the tag itself so a restore shows why the
			 * directory is empty. */
			k = (size_t)(tag - f.names);
			f.names[0] = f.names[k];
			f.n = 1;
		}
	}

	if (w->nframes == w->framecap) {
		size_t cap = w->framecap ? w->framecap * 2 : 16;

		if ((p = realloc(w->frames, cap * sizeof(*w->frames))) == NULL)
			goto out;
		w->frames = p;
		w->framecap = cap;
	}
	w->frames[w->nframes++] = f;
	if (w->nframes > FD_KEEP) {
		struct frame *old = &w->frames[w->nframes - 1 - FD_KEEP];

		close(old->fd);
		old->fd = -1;
	}
	f.fd = -1;
	f.names = NULL;
	f.blob = NULL;
	rc = 0;
	goto out;
fail_errno:
	w->path[plen] = '\0';
	log_error("%s: cannot list directory: %s; its contents are not "
	    "backed up", Q(plen ? w->path : "/"), strerror(e));
	rc = bw_err_from_errno(e);
out:
	if (dir)
		closedir(dir);
	if (rc == BW_ERR_NOMEM) {
		w->path[plen] = '\0';
		log_error("%s: out of memory listing the directory",
		    Q(plen ? w->path : "/"));
	}
	frame_free(&f);
	return rc;
}

static void
file_close(struct fsent_walk *w)
{
	if (w->file_fd >= 0)
		close(w->file_fd);
	w->file_fd = -1;
	free(w->file_path);
	w->file_path = NULL;
	free(w->regions);
	w->regions = NULL;
	w->nregions = 0;
	w->data_open = 0;
}

/* Keeps what fsent_open_data needs of the regular file just returned. */
static int
file_keep(struct fsent_walk *w, int fd, const struct fsent_entry *e)
{
	w->file_fd = fd;
	w->file_size = e->size;
	if ((w->file_path = strdup(e->path)) == NULL)
		return BW_ERR_NOMEM;
	if (e->nregions) {
		w->regions = malloc(e->nregions * sizeof(*w->regions));
		if (w->regions == NULL)
			return BW_ERR_NOMEM;
		memcpy(w->regions, e->regions, e->nregions * sizeof(*w->regions));
		w->nregions = e->nregions;
	}
	return 0;
}

static const char *
accpath_of(struct fsent_walk *w, int dirfd, const char *name, char *buf,
    size_t cap)
{
	if (!w->use_proc)
		return w->path;
	snprintf(buf, cap, "/proc/self/fd/%d%s%s", dirfd, name ? "/" : "",
	    name ? name : "");
	return buf;
}

/* An entry from st alone, with the owner's names: no xattrs, ACLs or
 * sparse map. */
static int
entry_from_stat(struct fsent_walk *w, const struct stat *st, struct fsent_entry **out)
{
	const char *name;

	archive_entry_clear(w->ae);
	archive_entry_copy_stat(w->ae, st);
	if ((name = archive_read_disk_uname(w->ar, st->st_uid)))
		archive_entry_copy_uname(w->ae, name);
	if ((name = archive_read_disk_gname(w->ar, st->st_gid)))
		archive_entry_copy_gname(w->ae, name);
	return convert(w->ae, w->path, out);
}

/*
 * One entry: name in directory dirfd, whose full path is in w->path.  On
 * success *out is set, and a directory to descend is left in pending_fd.
 */
static int
visit(struct fsent_walk *w, int dirfd, const char *name, unsigned char dtype,
    struct fsent_entry **out)
{
	char acc[64 + NAME_MAX];
	const char *accpath;
	struct hlink *first, *done = NULL;
	struct stat st;
	int fd = -1, rc, e, isdir, last, have_st = 0, partial;

	/* A file the caller may know already: its lstat first, and only if
	 * the caller needs more, an open (and a stat of what was opened). */
	if (dtype == DT_REG && w->opts.stat_only) {
		if (fstatat(dirfd, name, &st, AT_SYMLINK_NOFOLLOW) != 0) {
			e = errno;
			goto fail_errno;
		}
		have_st = 1;
		if (S_ISREG(st.st_mode) && st.st_nlink == 1 &&
		    (uint64_t)st.st_blocks * 512 >= (uint64_t)st.st_size) {
			rc = w->opts.stat_only(w->opts.stat_only_arg, w->path, &st);
			if (rc < 0)
				w->opts.stat_only = NULL;	/* asked not to ask again */
			if (rc == 1) {
				rc = entry_from_stat(w, &st, out);
				goto out;
			}
		}
	}
	/* Open first when readdir tells us what it is: one syscall fewer. */
	if (!have_st && (dtype == DT_REG || dtype == DT_DIR)) {
		fd = open_at(dirfd, name, dtype == DT_DIR);
		if (fd >= 0 && fstat(fd, &st) != 0) {
			e = errno;
			goto fail_errno;
		}
		if (fd < 0 && errno != ELOOP && errno != ENOTDIR) {
			e = errno;
			goto fail_errno;
		}
	}
	if (fd < 0) {
		if (!have_st && fstatat(dirfd, name, &st, AT_SYMLINK_NOFOLLOW) != 0) {
			e = errno;
			goto fail_errno;
		}
		if (S_ISREG(st.st_mode) || S_ISDIR(st.st_mode)) {
			fd = open_at(dirfd, name, S_ISDIR(st.st_mode));
			/* replaced by a symlink since its lstat (stat_only):
			 * take it as it is now */
			if (fd < 0 && have_st && (errno == ELOOP || errno == ENOTDIR) &&
			    fstatat(dirfd, name, &st, AT_SYMLINK_NOFOLLOW) == 0 &&
			    !S_ISREG(st.st_mode) && !S_ISDIR(st.st_mode)) {
				/* not opened: a symlink or special file */
			} else if (fd < 0 || fstat(fd, &st) != 0) {
				e = errno;
				goto fail_errno;
			}
		}
	}
	isdir = S_ISDIR(st.st_mode);

	if (!isdir && st.st_nlink > 1 &&
	    (first = hl_find(w, &st, &last)) != NULL) {
		/* The inode's xattrs, ACLs and data went with its first
		 * path; this one carries its stat and the first path. */
		if (last)
			done = first;
		if ((rc = entry_from_stat(w, &st, out)) != 0)
			goto out;
		(*out)->type = FSENT_HARDLINK;
		(*out)->size = 0;
		free((*out)->link);
		if (((*out)->link = strdup(first->path)) == NULL) {
			fsent_entry_free(*out);
			*out = NULL;
			rc = BW_ERR_NOMEM;
		}
		goto out;
	}

	if (isdir)
		accpath = accpath_of(w, fd, NULL, acc, sizeof(acc));
	else
		accpath = accpath_of(w, dirfd, name, acc, sizeof(acc));
	if ((rc = gather(w->ar, w->ae, w->path, accpath, fd, &st)) < 0)
		goto out;
	partial = rc;
	if ((rc = convert(w->ae, w->path, out)) != 0)
		goto out;
	(*out)->partial = partial;
	if (!isdir && st.st_nlink > 1 &&
	    (rc = hl_add(w, &st, w->path)) != 0) {
		fsent_entry_free(*out);
		*out = NULL;
		goto out;
	}

	if (S_ISREG(st.st_mode)) {
		rc = file_keep(w, fd, *out);
		fd = -1;
		if (rc) {
			fsent_entry_free(*out);
			*out = NULL;
		}
	} else if (isdir) {
		if (w->opts.one_file_system && st.st_dev != w->root_dev)
			goto out;
		w->pending_fd = fd;
		w->pending_plen = strlen(w->path);
		w->pending_dev = st.st_dev;
		w->pending_ino = st.st_ino;
		fd = -1;
	}
	goto out;
fail_errno:
	if (e == ENOENT && w->started > 1) {
		/* Deleted between readdir and now: nothing to back up. */
		log_warn("%s: removed during the walk; skipped", Q(w->path));
		rc = VISIT_GONE;
		goto out;
	}
	log_error("%s: cannot read: %s; skipped (check its permissions or "
	    "exclude it)", Q(w->path), strerror(e));
	rc = bw_err_from_errno(e);
out:
	if (rc == BW_ERR_NOMEM)
		log_error("%s: out of memory", Q(w->path));
	free(done);
	if (fd >= 0)
		close(fd);
	return rc;
}

int
fsent_walk_open(const char *root, const struct fsent_walk_opts *o,
    struct fsent_walk **out)
{
	struct fsent_walk *w = NULL;
	struct stat st;
	size_t n;
	int rc = BW_ERR_NOMEM;

	*out = NULL;
	if (root == NULL || root[0] != '/') {
		log_error("backup path '%s' is not absolute; give a full path",
		    root ? Q(root) : "(null)");
		return BW_ERR_INVAL;
	}
	if ((w = calloc(1, sizeof(*w))) == NULL)
		goto out;
	w->pending_fd = -1;
	w->file_fd = -1;
	if (o)
		w->opts = *o;
	if ((w->ar = disk_new()) == NULL || (w->ae = archive_entry_new()) == NULL)
		goto out;
	w->use_proc = stat("/proc/self/fd", &st) == 0;
	n = strlen(root);
	while (n > 1 && root[n - 1] == '/')
		n--;
	w->pathcap = n + 256;
	if ((w->path = malloc(w->pathcap)) == NULL)
		goto out;
	memcpy(w->path, root, n);
	w->path[n] = '\0';
	*out = w;
	w = NULL;
	rc = 0;
out:
	if (rc)
		log_error("walk of %s: out of memory", Q(root));
	fsent_walk_free(w);
	return rc;
}

/* The root: visited by its parent's descriptor, like any other entry. */
static int
visit_root(struct fsent_walk *w, struct fsent_entry **out)
{
	struct stat st;
	char *slash = strrchr(w->path, '/'), *name;
	int pfd, rc, e;

	if (lstat(w->path, &st) != 0) {
		e = errno;
		log_error("%s: cannot read: %s", Q(w->path), strerror(e));
		return bw_err_from_errno(e);
	}
	w->root_dev = st.st_dev;
	if (slash[1] == '\0') {		/* the root is "/" itself */
		pfd = open("/", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
		e = errno;
		name = strdup(".");
	} else {
		*slash = '\0';
		pfd = open(slash == w->path ? "/" : w->path,
		    O_RDONLY | O_DIRECTORY | O_CLOEXEC);
		e = errno;
		*slash = '/';
		name = strdup(slash + 1);
	}
	if (pfd < 0) {
		free(name);
		log_error("%s: cannot open the parent directory: %s",
		    Q(w->path), strerror(e));
		return bw_err_from_errno(e);
	}
	if (name == NULL) {
		close(pfd);
		log_error("%s: out of memory", Q(w->path));
		return BW_ERR_NOMEM;
	}
	rc = visit(w, pfd, name, DT_UNKNOWN, out);
	/* A root of "/" is kept as "/", its children get "" as prefix. */
	if (w->pending_fd >= 0 && strcmp(w->path, "/") == 0)
		w->pending_plen = 0;
	free(name);
	close(pfd);
	return rc;
}

/* Opens the parent frame of f again (see FD_KEEP). */
static int
frame_reopen(struct fsent_walk *w, struct frame *f)
{
	struct frame *p = f - 1;
	struct stat st;
	int fd;

	if (f->fd >= 0 && (fd = open_at(f->fd, "..", 1)) >= 0) {
		if (fstat(fd, &st) == 0 && st.st_dev == p->dev &&
		    st.st_ino == p->ino) {
			p->fd = fd;
			return 0;
		}
		close(fd);
	}
	w->path[p->plen] = '\0';
	if ((fd = open_at(AT_FDCWD, p->plen ? w->path : "/", 1)) >= 0) {
		if (fstat(fd, &st) == 0 && st.st_dev == p->dev &&
		    st.st_ino == p->ino) {
			p->fd = fd;
			return 0;
		}
		close(fd);
	}
	/* Moved while we were inside it: its remaining entries are not
	 * where they were, so they are not walked (the next backup will). */
	p->i = p->n;
	log_error("%s: directory moved during the walk; the rest of it is "
	    "skipped", Q(p->plen ? w->path : "/"));
	return BW_ERR_IO;
}

int
fsent_walk_next(struct fsent_walk *w, struct fsent_entry **out)
{
	struct frame *f;
	int rc;

	*out = NULL;
	file_close(w);
	if (!w->started) {
		w->started = 1;
		rc = visit_root(w, out);
		w->started = 2;
		return rc;
	}
	if (w->pending_fd >= 0) {
		int fd = w->pending_fd;

		w->pending_fd = -1;
		if ((rc = frame_push(w, fd, w->pending_plen)) != 0)
			return rc;
	}
	while (w->nframes) {
		const char *name;

		f = &w->frames[w->nframes - 1];
		if (f->i == f->n) {
			rc = 0;
			if (w->nframes > 1 && f[-1].fd < 0)
				rc = frame_reopen(w, f);
			frame_free(f);
			w->nframes--;
			if (rc)
				return rc;
			continue;
		}
		name = f->names[f->i].name;
		if ((rc = path_set(w, f->plen, name)) != 0) {
			f->i++;
			log_error("%s: out of memory", Q(name));
			return rc;
		}
		if (excluded(w, w->path, name)) {
			f->i++;
			continue;
		}
		rc = visit(w, f->fd, name, f->names[f->i].type, out);
		f->i++;
		if (rc == VISIT_GONE)
			continue;
		return rc;
	}
	return 1;
}

int
fsent_open_data(struct fsent_walk *w)
{
	if (w->file_fd < 0) {
		log_error("fsent_open_data: the last entry is not a regular file that was "
		    "opened (a bug)");
		return BW_ERR_INVAL;
	}
	w->data_open = 1;
	w->ri = 0;
	w->pos = w->nregions ? w->regions[0].off : 0;
	w->shrunk = 0;
	return 0;
}

/* Where the current read stops; UINT64_MAX: at the end of the file. */
static uint64_t
read_end(const struct fsent_walk *w)
{
	if (w->ri < w->nregions)
		return w->regions[w->ri].off + w->regions[w->ri].len;
	return UINT64_MAX;
}

static void
check_size(struct fsent_walk *w)
{
	struct stat st;
	uint64_t now;

	now = fstat(w->file_fd, &st) == 0 ? (uint64_t)st.st_size : w->pos;
	if (w->shrunk || now != w->file_size || w->pos != w->file_size)
		log_warn("%s: changed size while being read (%llu bytes when "
		    "listed, %llu now); backed up what was there",
		    Q(w->file_path), (unsigned long long)w->file_size,
		    (unsigned long long)now);
}

long
fsent_read(struct fsent_walk *w, void *buf, size_t len, uint64_t *off)
{
	uint64_t end;
	long n;

	if (!w->data_open) {
		log_error("fsent_read: no file data open");
		return BW_ERR_INVAL;
	}
	if (len > LONG_MAX)
		len = LONG_MAX;
	for (;;) {
		end = read_end(w);
		if (w->pos >= end) {
			/* Next region; after the last, read on to the end in
			 * case the file grew. */
			w->ri++;
			if (w->ri < w->nregions)
				w->pos = w->regions[w->ri].off;
			else if (w->pos < w->file_size)
				w->pos = w->file_size;
			continue;
		}
		if (end - w->pos < len)
			len = (size_t)(end - w->pos);
		if (len == 0)
			return 0;
		if ((n = fsent_pread(w, w->pos, buf, len)) < 0)
			return n;
		if (n == 0) {
			if (end != UINT64_MAX)
				w->shrunk = 1;
			check_size(w);
			w->data_open = 0;
			return 0;
		}
		*off = w->pos;
		w->pos += (uint64_t)n;
		return (long)n;
	}
}

long
fsent_pread(struct fsent_walk *w, uint64_t off, void *buf, size_t len)
{
	ssize_t n;

	if (w->file_fd < 0) {
		log_error("fsent_pread: the last entry is not a regular file");
		return BW_ERR_INVAL;
	}
	if (len > LONG_MAX)
		len = LONG_MAX;
	if (off > (uint64_t)INT64_MAX)
		return 0;
	do
		n = pread(w->file_fd, buf, len, (off_t)off);
	while (n < 0 && errno == EINTR);
	if (n < 0) {
		int e = errno;

		log_error("%s: read error at offset %llu: %s", Q(w->file_path),
		    (unsigned long long)off, strerror(e));
		return BW_ERR_IO;
	}
	return (long)n;
}

int
fsent_fstat(struct fsent_walk *w, struct stat *st)
{
	if (w->file_fd < 0) {
		log_error("fsent_fstat: the last entry is not a regular file");
		return BW_ERR_INVAL;
	}
	if (fstat(w->file_fd, st) != 0) {
		int e = errno;

		log_error("%s: cannot stat: %s", Q(w->file_path), strerror(e));
		return bw_err_from_errno(e);
	}
	return 0;
}

void
fsent_walk_free(struct fsent_walk *w)
{
	size_t i;
	struct hlink *h, *next;

	if (w == NULL)
		return;
	file_close(w);
	if (w->pending_fd >= 0)
		close(w->pending_fd);
	for (i = 0; i < w->nframes; i++)
		frame_free(&w->frames[i]);
	free(w->frames);
	for (i = 0; i < w->hlcap; i++)
		for (h = w->hl[i]; h; h = next) {
			next = h->next;
			free(h);
		}
	free(w->hl);
	free(w->path);
	if (w->ae)
		archive_entry_free(w->ae);
	if (w->ar)
		archive_read_free(w->ar);
	free(w);
}

int
fsent_stat(const char *path, struct fsent_entry **out)
{
	struct archive *a = NULL;
	struct archive_entry *ae = NULL;
	struct stat st;
	int fd = -1, rc = BW_ERR_NOMEM, e, partial;

	*out = NULL;
	if (lstat(path, &st) != 0) {
		e = errno;
		log_error("%s: cannot read: %s", Q(path), strerror(e));
		return bw_err_from_errno(e);
	}
	if ((a = disk_new()) == NULL || (ae = archive_entry_new()) == NULL) {
		log_error("%s: out of memory", Q(path));
		goto out;
	}
	if (S_ISREG(st.st_mode) || S_ISDIR(st.st_mode)) {
		if ((fd = open_at(AT_FDCWD, path, S_ISDIR(st.st_mode))) < 0 ||
		    fstat(fd, &st) != 0) {
			e = errno;
			log_error("%s: cannot read: %s", Q(path), strerror(e));
			rc = bw_err_from_errno(e);
			goto out;
		}
	}
	if ((rc = gather(a, ae, path, path, fd, &st)) < 0)
		goto out;
	partial = rc;
	if ((rc = convert(ae, path, out)) != 0)
		log_error("%s: out of memory", Q(path));
	else
		(*out)->partial = partial;
out:
	if (fd >= 0)
		close(fd);
	if (ae)
		archive_entry_free(ae);
	if (a)
		archive_read_free(a);
	return rc;
}

const char *
fsent_walk_error_path(const struct fsent_walk *w)
{
	return w && w->path && *w->path ? w->path : NULL;
}
