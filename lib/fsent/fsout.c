/*
 * Writing entries back: into a target directory, or into an archive file.
 *
 * Target directory.  Paths come from a repository we do not trust, so the
 * directories an entry goes into are found by ourselves, one verified
 * descriptor at a time: openat2(RESOLVE_BENEATH | RESOLVE_NO_SYMLINKS) from
 * the target, or, where that fails (a missing component to create, a
 * symlink to name in the message, an old kernel), component by component
 * with O_NOFOLLOW | O_DIRECTORY.  A symlink met on the way refuses the
 * entry; nothing is ever resolved through one.  The last verified parent
 * is kept, so the files of one directory cost no lookup at all.
 *
 * The objects themselves are made by libarchive's disk writer (with
 * ARCHIVE_EXTRACT_SECURE_* flags on top of our checks), which knows how to
 * give back owners by name, nanosecond times, xattrs and POSIX ACLs.
 * It only takes path names, relative to the working directory, so around
 * each call the working directory is the verified parent and the name is a
 * single component: libarchive never resolves a directory itself.  The
 * calling thread first gets a working directory of its own with
 * unshare(CLONE_FS) (which also keeps libarchive's umask(0) dance away from
 * other threads), and goes back to where it was after every call.
 *
 * Holes: the caller writes only a file's data regions, at their offsets,
 * and libarchive seeks over what is skipped and truncates the file to its
 * size at the end, so holes stay holes.  ARCHIVE_EXTRACT_SPARSE is not
 * used: it makes libarchive look for zeros in every 4 KiB block and write
 * block by block (thousands of small writes per big file, which stall
 * under dirty-page throttling), to find holes we already know.
 *
 * Regular files: ARCHIVE_EXTRACT_SAFE_WRITES would write a temporary file
 * and rename it at archive_write_finish_entry, before our caller has
 * checked the content.  So we name the entry ".bw-restore.XXXXXX" in the
 * final directory ourselves, let libarchive create it, fill it and set its
 * metadata, and renameat() it over the final name, within the same
 * verified directory, only after fsout_file_commit and once its bytes are
 * durable (Durability, below).  A crash before that leaves a temporary
 * file, never a half-written file under its name.
 *
 * Directories are created at once with mode 0700 (so a read-only directory
 * can still be filled, and nobody else looks in before its ACLs are set);
 * their metadata goes through libarchive at fsout_close, deepest first,
 * one writer per parent directory (entered as above), whose fixups at
 * archive_write_close apply modes and ACLs.  A default ACL set only then
 * is not inherited by the restored children, which carry their own.
 *
 * Hard links are made with linkat() between two verified directories, and
 * only to a path this handle wrote, or one its caller verified as the
 * snapshot's (fsout_note_existing; its device and inode are remembered).
 *
 * Durability: no fsync per file.  Committed files wait under their
 * temporary names in a batch (struct pending); one syncfs() per file
 * system written makes the batch durable, and only then are the files
 * renamed, so a power cut never leaves an empty or short file under a
 * final name (which a rerun would keep).  A sync thread syncs and renames
 * one batch while the writer fills the next.  A last syncfs() at
 * fsout_close covers the renames and directory metadata.
 *
 * Archive file: libarchive's archive writer (pax, pax + zstd, zip) into a
 * temporary file next to the archive, renamed (never over an existing
 * file) at fsout_close.  The pax writer keeps xattrs, ACLs and the sparse
 * map (holes are fed as zeros and dropped by the writer).
 */
#include "config.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <grp.h>
#include <limits.h>
#include <linux/openat2.h>
#include <pthread.h>
#include <pwd.h>
#include <sched.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <time.h>
#include <unistd.h>

#include <archive.h>
#include <archive_entry.h>

#include "lib/fsent/fsent_internal.h"
#include "lib/fsent/fsout.h"
#include "lib/util/err.h"
#include "lib/util/log.h"

#define TMP_PREFIX	".bw-restore."
#define TMP_RAND	6
#define TMP_LEN		(sizeof(TMP_PREFIX) - 1 + TMP_RAND)
#define ZERO_CHUNK	65536

/* A verified directory of the target, shared by the cache and open files. */
struct pdir {
	int fd;			/* O_PATH; the target's own for "" */
	unsigned refs;
	int fresh;		/* made by this handle (struct fsout, made) */
	size_t len;
	char path[];		/* relative to the target, "" for the target */
};

/* A non-directory this handle wrote, that a hard link may name. */
struct wrote {
	struct wrote *next;
	uint64_t dev, ino;
	char path[];
};

/* A directory whose metadata is applied at fsout_close. */
struct defdir {
	char *rel;
	struct fsent_entry *meta;
	uint64_t dev, ino;
};

/*
 * A committed file waiting for its rename: the final name appears only
 * once its data is durable, after one sync for the whole batch (a power
 * cut must not leave an empty or short file under a final name, which a
 * rerun would then keep).  A batch is PEND_FILES files or PEND_BYTES.
 */
struct pending {
	struct pdir *pd;
	char *rel;
	char tmp[TMP_LEN + 1];
	uint64_t nlink;
	int renamed;		/* by the sync thread: 1 done, -1 failed */
	int err;		/* its errno when -1 */
};
#define PEND_FILES	256
#define PEND_BYTES	(64ull << 20)
#define PEND_BLOOM	8192

/* A set of directories by device and inode number (exact: whether a
 * directory was made here decides whether its names are looked up). */
struct dirid {
	uint64_t dev, ino;
	int used;
};
struct keyset {
	struct dirid *v;	/* open addressing */
	size_t n, cap;
};

/*
 * Names this handle made or is making (a Bloom filter, bits of
 * name_hash).  A directory it made itself stays mode 0700, its owner's
 * alone, until fsout_close, so a name there that is not in the filter is
 * not looked up: it can only be absent (one lookup per restored file
 * saved, and no wait on the directory lock a rename holds).  Anything
 * that appeared all the same is replaced by the rename, never followed;
 * a directory makes the rename fail, reported.  A false positive only
 * costs the lookup; a filter that fills up (millions of names) degrades
 * to looking up every name.
 */
#define WRITTEN_BITS	(1u << 20)

/* A user or group name looked up on this host (shared by all writers). */
struct idname {
	struct idname *next;
	int group;
	int found;
	la_int64_t id;
	char name[];
};
#define IDNAMES_MAX	1024

struct fsout {
	struct fsout_opts opts;
	struct idname *ids;
	size_t nids;
	char *target;
	int flags;		/* ARCHIVE_EXTRACT_* */
	int tfd;		/* the target, O_PATH */
	int cwdfd;		/* where the writing thread goes back to */
	pthread_t fs_thread;
	int fs_private;
	int no_openat2;
	struct pdir *root, *cur;
	struct archive **pool;	/* idle disk writers */
	size_t npool, poolcap;
	struct archive_entry *ae;
	struct wrote **wt;
	size_t nwt, wtcap;
	uint64_t wtseed;
	struct defdir *dirs;
	size_t ndirs, dircap;
	/* fsout_existing found nothing at absent (in absent_pd, held): the
	 * entry made next for that path need not look again */
	char *absent;
	struct pdir *absent_pd;
	struct keyset seen;	/* directories swept */
	struct keyset made;	/* directories this handle made */
	uint64_t written[WRITTEN_BITS / 64];
	struct pending *pend;	/* committed files not renamed yet */
	size_t npend, pendcap;
	uint64_t pendbytes;
	uint64_t pendbloom[PEND_BLOOM / 64];	/* names in pend */
	int *syncfd;		/* one descriptor per file system written */
	uint64_t *syncdev;
	size_t nsync;
	/* The batch before pend, made durable and renamed into place by the
	 * sync thread while the writer goes on (struct syncer). */
	struct pending *spend;
	size_t nspend, spendcap;
	uint64_t spendbloom[PEND_BLOOM / 64];
	struct syncer *syncer;
	uint64_t rnd;

	/* archive output */
	struct archive *ar;
	char *apath, *atmp;
	const char *abase;
	int afd, adirfd;
	int zip;
	struct fsout_file *member;	/* the member being written */
	int closed;
};

struct fsout_file {
	struct fsout *o;
	struct archive *a;	/* disk writer; NULL for an archive member */
	struct pdir *pd;
	char *rel;
	const char *base;	/* in rel */
	char tmp[TMP_LEN + 1];
	int replace_dir;	/* an empty directory is in the way */
	uint64_t nlink;
	uint64_t pos, size;	/* archive member: bytes fed, size */
	int failed;
};

static const unsigned char zeros[ZERO_CHUNK];

static struct pending *pend_find(struct fsout *o, const char *rel);
static int pend_flush(struct fsout *o);
static int pend_settle(struct fsout *o, const char *rel);

#define Q(s)	fsent_quote((s), (char[1024]){0}, 1024)

int (*fsout_syncfs)(int fd) = syncfs;

/* A refused entry: one line with the path, the reason and a hint. */
static void
refuse(const char *rel, const char *why)
{
	log_error("%s: refused: %s; entry skipped (a damaged or hostile "
	    "snapshot?)", Q(rel), why);
}

static void
refuse_dir(const char *rel, const char *why)
{
	log_error("%s: refused: %s; entry skipped (nothing is written "
	    "through a symlink, whether it came from the snapshot or was in "
	    "the target: check it)", Q(rel), why);
}

int
fsout_check_path(const char *rel, const char **why)
{
	const char *s, *p;
	size_t n;

	*why = NULL;
	if (rel == NULL || *rel == '\0')
		*why = "empty path";
	else if (*rel == '/')
		*why = "absolute path";
	else if (strnlen(rel, PATH_MAX) >= PATH_MAX)
		*why = "path longer than PATH_MAX";
	if (*why)
		return BW_ERR_INVAL;
	for (s = rel;; s = p + 1) {
		p = strchr(s, '/');
		n = p ? (size_t)(p - s) : strlen(s);
		if (n == 0)
			*why = "empty path component";
		else if (n == 1 && s[0] == '.')
			*why = "'.' path component";
		else if (n == 2 && s[0] == '.' && s[1] == '.')
			*why = "'..' path component";
		else if (n > NAME_MAX)
			*why = "path component longer than NAME_MAX (255) bytes";
		if (*why)
			return BW_ERR_INVAL;
		if (p == NULL)
			return 0;
	}
}

static const char *
base_of(const char *rel)
{
	const char *s = strrchr(rel, '/');

	return s ? s + 1 : rel;
}

/* For the Bloom filters of names (a collision costs a lookup, never a
 * wrong answer, so it need not resist chosen names). */
static uint64_t
name_hash(const char *rel)
{
	uint64_t h = 1469598103934665603ULL;

	while (*rel)
		h = (h ^ (unsigned char)*rel++) * 1099511628211ULL;
	return h ^ (h >> 29);
}

static void
written_add(struct fsout *o, const char *rel)
{
	uint64_t h = name_hash(rel), a = h % WRITTEN_BITS,
	    b = (h >> 32) % WRITTEN_BITS;

	o->written[a / 64] |= 1ull << (a % 64);
	o->written[b / 64] |= 1ull << (b % 64);
}

/* 0: this handle has never made rel. */
static int
written_maybe(const struct fsout *o, const char *rel)
{
	uint64_t h = name_hash(rel), a = h % WRITTEN_BITS,
	    b = (h >> 32) % WRITTEN_BITS;

	return (o->written[a / 64] >> (a % 64) & 1) &&
	    (o->written[b / 64] >> (b % 64) & 1);
}

/* ---- the working directory of the writing thread ---- */

/*
 * Gives the calling thread a working directory and umask of its own.
 * Without it every thread would see ours move (a relative repository
 * path in another thread would then name something else) and
 * libarchive's umask(0) dance: refuse rather than go on.
 */
static int
fs_own(struct fsout *o)
{
	int e;

	if (unshare(CLONE_FS) != 0) {
		e = errno;
		log_error("restore: cannot give the writing thread a working "
		    "directory of its own (unshare: %s); is a seccomp filter "
		    "in the way?", strerror(e));
		return bw_err_from_errno(e);
	}
	o->fs_thread = pthread_self();
	o->fs_private = 1;
	return 0;
}

/* Makes dirfd the working directory for one libarchive call. */
static int
enter(struct fsout *o, int dirfd, const char *rel)
{
	int e;

	if (!o->fs_private || !pthread_equal(o->fs_thread, pthread_self())) {
		if ((e = fs_own(o)) != 0)
			return e;
	}
	if (fchdir(dirfd) != 0) {
		e = errno;
		log_error("%s: cannot enter its directory: %s", Q(rel),
		    strerror(e));
		return bw_err_from_errno(e);
	}
	return 0;
}

static void
leave(struct fsout *o)
{
	if (fchdir(o->cwdfd) != 0)
		log_warn("restore: cannot return to the working directory: %s",
		    strerror(errno));
}

/* ---- verified directories ---- */

static struct pdir *
pdir_ref(struct pdir *d)
{
	d->refs++;
	return d;
}

static void
pdir_unref(struct fsout *o, struct pdir *d)
{
	if (d == NULL || --d->refs > 0)
		return;
	if (d->fd >= 0 && d->fd != o->tfd)
		close(d->fd);
	free(d);
}

/*
 * The sync thread.  A batch of committed files becomes durable with one
 * syncfs() per file system; waiting for it in the writing thread kept the
 * disk idle while the writer worked and the writer idle while the disk
 * worked (272 syncs took 4.5 s of a 1 GiB restore on ext4).  The thread
 * syncs batch N while the writer fills batch N+1, then renames batch N's
 * files into place; the writer settles what it keeps of them when it hands
 * over N+1 (or earlier, when it needs one of their names).  A file still
 * gets its final name only after its bytes are durable.
 */
struct syncer {
	pthread_t thread;
	pthread_mutex_t mu;
	pthread_cond_t cv;
	int *fds;		/* copies of syncfd for the request */
	size_t nfds;
	struct pending *batch;	/* renamed once the sync succeeds */
	size_t nbatch;
	int busy;		/* a request is being served */
	int quit;
	int err;		/* errno of the failed syncfs, or 0 */
};

/*
 * Renames a durable batch into place, in the sync thread: a rename costs
 * the writer as much as creating the file did.  Only the system call is
 * made here; what the writer keeps (the directory cache, the names a hard
 * link may use, the messages) is settled by it afterwards (pend_rename).
 * An empty directory in a file's way was removed at its commit.  The
 * writer does not touch the batch until syncer_wait, and its pdirs stay
 * open: each entry holds a reference.
 */
static void
syncer_rename(struct pending *batch, size_t n)
{
	struct pending *p;
	size_t i;

	for (i = 0; i < n; i++) {
		p = &batch[i];
		if (renameat(p->pd->fd, p->tmp, p->pd->fd, base_of(p->rel)) == 0) {
			p->renamed = 1;
		} else {
			p->renamed = -1;
			p->err = errno;
		}
	}
}

static void *
syncer_main(void *arg)
{
	struct syncer *y = arg;
	size_t i;
	int err;

	pthread_mutex_lock(&y->mu);
	for (;;) {
		while (!y->busy && !y->quit)
			pthread_cond_wait(&y->cv, &y->mu);
		if (!y->busy)
			break;
		pthread_mutex_unlock(&y->mu);
		err = 0;
		for (i = 0; i < y->nfds && !err; i++)
			if (fsout_syncfs(y->fds[i]) != 0)
				err = errno;
		if (!err)
			syncer_rename(y->batch, y->nbatch);
		pthread_mutex_lock(&y->mu);
		y->err = err;
		y->busy = 0;
		pthread_cond_broadcast(&y->cv);
	}
	pthread_mutex_unlock(&y->mu);
	return NULL;
}

/* Waits for the request in flight; its errno or 0. */
static int
syncer_wait(struct syncer *y)
{
	int err;

	pthread_mutex_lock(&y->mu);
	while (y->busy)
		pthread_cond_wait(&y->cv, &y->mu);
	err = y->err;
	y->err = 0;
	pthread_mutex_unlock(&y->mu);
	return err;
}

static void
syncer_stop(struct syncer *y)
{
	if (!y)
		return;
	pthread_mutex_lock(&y->mu);
	y->quit = 1;
	pthread_cond_broadcast(&y->cv);
	pthread_mutex_unlock(&y->mu);
	pthread_join(y->thread, NULL);
	pthread_mutex_destroy(&y->mu);
	pthread_cond_destroy(&y->cv);
	free(y->fds);
	free(y);
}

/* The running thread, started on first use; NULL if it cannot start
 * (the caller then syncs itself). */
static struct syncer *
syncer_get(struct fsout *o)
{
	struct syncer *y;

	if (o->syncer)
		return o->syncer;
	if ((y = calloc(1, sizeof(*y))) == NULL)
		return NULL;
	pthread_mutex_init(&y->mu, NULL);
	pthread_cond_init(&y->cv, NULL);
	if (pthread_create(&y->thread, NULL, syncer_main, y) != 0) {
		pthread_mutex_destroy(&y->mu);
		pthread_cond_destroy(&y->cv);
		free(y);
		return NULL;
	}
	return o->syncer = y;
}

/* Remembers the file system of fd, for the syncs of the batches. */
static int
note_fs(struct fsout *o, int fd, const struct stat *st, const char *rel)
{
	size_t i;
	int sfd, e, *nfd;
	uint64_t *ndev;

	for (i = 0; i < o->nsync; i++)
		if (o->syncdev[i] == (uint64_t)st->st_dev)
			return 0;
	/* syncfs() wants a real descriptor, not an O_PATH one. */
	if ((sfd = openat(fd, ".", O_RDONLY | O_DIRECTORY | O_CLOEXEC)) < 0)
		goto fail;
	nfd = realloc(o->syncfd, (o->nsync + 1) * sizeof(*nfd));
	if (nfd)
		o->syncfd = nfd;
	ndev = realloc(o->syncdev, (o->nsync + 1) * sizeof(*ndev));
	if (ndev)
		o->syncdev = ndev;
	if (nfd == NULL || ndev == NULL) {
		close(sfd);
		log_error("%s: out of memory", Q(rel));
		return BW_ERR_NOMEM;
	}
	o->syncfd[o->nsync] = sfd;
	o->syncdev[o->nsync++] = (uint64_t)st->st_dev;
	return 0;
fail:
	e = errno;
	log_error("%s: cannot open its directory: %s", Q(rel), strerror(e));
	return bw_err_from_errno(e);
}

/*
 * Opens directory dir (relative to the target: the parent of path) without
 * following any symlink; with create, makes missing components (0700).
 * 0 and *out, BW_ERR_NOENT (missing, not logged), BW_ERR_INVAL (a symlink
 * or non-directory on the way: refused and logged), or an error (logged).
 * Messages name the entry rel; path differs for a hard link's target.
 */
static int
resolve(struct fsout *o, const char *rel, const char *path, const char *dir,
    int create, int *out)
{
	struct open_how how = {
		.flags = O_PATH | O_DIRECTORY | O_CLOEXEC,
		.resolve = RESOLVE_BENEATH | RESOLVE_NO_SYMLINKS |
		    RESOLVE_NO_MAGICLINKS,
	};
	char name[NAME_MAX + 1], why[PATH_MAX + 2048];
	const char *s, *p;
	struct stat st;
	size_t n;
	long r;
	int fd, nfd, e;

	if (!o->no_openat2) {
		do
			r = syscall(SYS_openat2, o->tfd, dir, &how, sizeof(how));
		while (r < 0 && errno == EAGAIN);
		if (r >= 0) {
			*out = (int)r;
			return 0;
		}
		if (errno == ENOSYS || errno == EPERM || errno == E2BIG)
			o->no_openat2 = 1;
	}
	fd = o->tfd;
	for (s = dir; *s; s = p + (*p == '/')) {
		p = strchr(s, '/');
		if (p == NULL)
			p = s + strlen(s);
		n = (size_t)(p - s);
		memcpy(name, s, n);
		name[n] = '\0';
		nfd = openat(fd, name, O_PATH | O_DIRECTORY | O_NOFOLLOW |
		    O_CLOEXEC);
		if (nfd < 0 && errno == ENOENT && create && (o->npend || o->nspend)) {
			/* A file of a batch may wait for this name (or be
			 * being renamed to it): put it in place rather than
			 * make a directory there. */
			memcpy(why, dir, (size_t)(p - dir));
			why[p - dir] = '\0';
			if (pend_find(o, why)) {
				if ((r = pend_settle(o, why)) != 0)
					goto out;
				nfd = openat(fd, name, O_PATH | O_DIRECTORY |
				    O_NOFOLLOW | O_CLOEXEC);
			}
		}
		if (nfd < 0 && errno == ENOENT && create) {
			if (mkdirat(fd, name, 0700) != 0 && errno != EEXIST) {
				e = errno;
				log_error("%s: cannot create directory %s: %s",
				    Q(rel), Q(dir), strerror(e));
				r = bw_err_from_errno(e);
				goto out;
			}
			nfd = openat(fd, name, O_PATH | O_DIRECTORY |
			    O_NOFOLLOW | O_CLOEXEC);
		}
		if (nfd < 0) {
			e = errno;
			if (e == ENOENT && !create) {
				r = BW_ERR_NOENT;
			} else if (e == ENOTDIR || e == ELOOP) {
				int lnk = fstatat(fd, name, &st,
				    AT_SYMLINK_NOFOLLOW) == 0 &&
				    S_ISLNK(st.st_mode);

				/* The component in the way, quoted. */
				memcpy(why, dir, (size_t)(p - dir));
				why[p - dir] = '\0';
				snprintf(why, sizeof(why), "%s%s%s '%s' is %s",
				    path != rel ? "hard link target " : "",
				    path != rel ? Q(path) : "",
				    lnk ? " beneath a symlink:" :
				    " beneath a non-directory:", Q(why),
				    lnk ? "a symlink" : "not a directory");
				refuse_dir(rel, why + (path == rel));
				r = BW_ERR_INVAL;
			} else {
				log_error("%s: cannot open directory %s: %s",
				    Q(rel), Q(dir), strerror(e));
				r = bw_err_from_errno(e);
			}
			goto out;
		}
		if (fd != o->tfd)
			close(fd);
		fd = nfd;
	}
	*out = fd;
	fd = -1;
	r = 0;
out:
	if (fd >= 0 && fd != o->tfd)
		close(fd);
	return (int)r;
}

/* ---- temporaries left by an interrupted restore ---- */

/* Is name exactly one of our temporary names (TMP_PREFIX + TMP_RAND
 * characters of the alphabet fsout_file_open draws from)? */
static int
is_our_tmp(const char *name)
{
	size_t i;

	if (strncmp(name, TMP_PREFIX, sizeof(TMP_PREFIX) - 1) != 0 ||
	    strlen(name) != TMP_LEN)
		return 0;
	for (i = sizeof(TMP_PREFIX) - 1; i < TMP_LEN; i++)
		if (!strchr("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ"
		    "0123456789-_", name[i]))
			return 0;
	return 1;
}

/* The slot of directory (dev, ino) in v, or the free one where it would
 * go (cap > 0, and v never full). */
static size_t
keyset_slot(const struct dirid *v, size_t cap, uint64_t dev, uint64_t ino)
{
	size_t i;

	for (i = ((dev * 0x100000001b3ULL ^ ino) * 0x9e3779b97f4a7c15ULL) % cap; v[i].used;
	    i = (i + 1) % cap)
		if (v[i].dev == dev && v[i].ino == ino)
			break;
	return i;
}

/* Adds st's directory to the set; 1 if it was already there, or if there
 * is no memory for it (the callers then do the safe thing: not sweep, not
 * trust a directory as made here). */
static int
keyset_add(struct keyset *s, const struct stat *st)
{
	size_t i, cap;
	struct dirid *n;

	if (2 * (s->n + 1) > s->cap) {
		cap = s->cap ? 2 * s->cap : 64;
		if ((n = calloc(cap, sizeof(*n))) == NULL)
			return 1;
		for (i = 0; i < s->cap; i++)
			if (s->v[i].used)
				n[keyset_slot(n, cap, s->v[i].dev, s->v[i].ino)] = s->v[i];
		free(s->v);
		s->v = n;
		s->cap = cap;
	}
	i = keyset_slot(s->v, s->cap, (uint64_t)st->st_dev, (uint64_t)st->st_ino);
	if (s->v[i].used)
		return 1;
	s->v[i] = (struct dirid){ (uint64_t)st->st_dev, (uint64_t)st->st_ino, 1 };
	s->n++;
	return 0;
}

static int
keyset_has(const struct keyset *s, const struct stat *st)
{
	return s->cap &&
	    s->v[keyset_slot(s->v, s->cap, (uint64_t)st->st_dev, (uint64_t)st->st_ino)].used;
}

/*
 * The first time a directory is entered, removes the temporary files an
 * interrupted restore (SIGKILL, power cut) left in it: regular files of
 * ours by their exact name, owned by us.  This handle's own are made only
 * after, and a directory is swept once.
 */
static void
sweep(struct fsout *o, int fd, const struct stat *dst, const char *dir)
{
	struct dirent *de;
	struct stat st;
	DIR *d;
	int rfd;

	if (keyset_add(&o->seen, dst))
		return;
	if ((rfd = openat(fd, ".", O_RDONLY | O_DIRECTORY | O_CLOEXEC)) < 0)
		return;
	if ((d = fdopendir(rfd)) == NULL) {
		close(rfd);
		return;
	}
	while ((de = readdir(d)) != NULL) {
		if (!is_our_tmp(de->d_name) ||
		    fstatat(fd, de->d_name, &st, AT_SYMLINK_NOFOLLOW) != 0 ||
		    !S_ISREG(st.st_mode) || st.st_uid != geteuid())
			continue;
		if (unlinkat(fd, de->d_name, 0) == 0)
			log_info("%s%s%s: removed a temporary file left by an "
			    "interrupted restore", *dir ? Q(dir) : "", *dir ? "/" : "",
			    Q(de->d_name));
	}
	closedir(d);
}

/* The verified parent directory of rel (a reference: pdir_unref);
 * messages name who (rel itself when NULL). */
static int
parent_get(struct fsout *o, const char *rel, const char *who, int create,
    struct pdir **out)
{
	const char *slash = strrchr(rel, '/');
	size_t len = slash ? (size_t)(slash - rel) : 0;
	struct pdir *d;
	struct stat st;
	int rc, fd = -1;

	*out = NULL;
	if (len == 0) {
		*out = pdir_ref(o->root);
		return 0;
	}
	if (o->cur && o->cur->len == len && memcmp(o->cur->path, rel, len) == 0) {
		*out = pdir_ref(o->cur);
		return 0;
	}
	if ((d = malloc(sizeof(*d) + len + 1)) == NULL) {
		log_error("%s: out of memory", Q(rel));
		return BW_ERR_NOMEM;
	}
	memcpy(d->path, rel, len);
	d->path[len] = '\0';
	d->len = len;
	d->refs = 1;
	d->fd = -1;
	if ((rc = resolve(o, who ? who : rel, rel, d->path, create, &fd)) != 0) {
		free(d);
		return rc;
	}
	d->fd = fd;
	if (fstat(fd, &st) != 0) {
		rc = errno;
		log_error("%s: cannot open its directory: %s", Q(rel),
		    strerror(rc));
		pdir_unref(o, d);
		return bw_err_from_errno(rc);
	}
	if ((rc = note_fs(o, fd, &st, rel)) != 0) {
		pdir_unref(o, d);
		return rc;
	}
	sweep(o, fd, &st, d->path);
	d->fresh = keyset_has(&o->made, &st);
	pdir_unref(o, o->cur);
	o->cur = d;
	*out = pdir_ref(d);
	return 0;
}

/* ---- what this handle wrote (hard link targets) ---- */

/* Seeded, so that a hostile snapshot cannot pick colliding names. */
static size_t
wt_hash(const char *s, uint64_t seed, size_t cap)
{
	uint64_t h = 0xcbf29ce484222325ULL ^ seed;

	while (*s)
		h = (h ^ (unsigned char)*s++) * 0x100000001b3ULL;
	return (size_t)(h ^ (h >> 29)) & (cap - 1);
}

static struct wrote *
wt_find(struct fsout *o, const char *rel)
{
	struct wrote *w;

	if (o->wtcap == 0)
		return NULL;
	for (w = o->wt[wt_hash(rel, o->wtseed, o->wtcap)]; w; w = w->next)
		if (strcmp(w->path, rel) == 0)
			return w;
	return NULL;
}

static int
wt_add(struct fsout *o, const char *rel, uint64_t dev, uint64_t ino)
{
	struct wrote *w, **nb, *next;
	size_t i, cap, h;

	if ((w = wt_find(o, rel)) != NULL) {
		w->dev = dev;
		w->ino = ino;
		return 0;
	}
	if (o->nwt >= o->wtcap / 2) {
		cap = o->wtcap ? o->wtcap * 2 : 256;
		if ((nb = calloc(cap, sizeof(*nb))) == NULL)
			goto nomem;
		for (i = 0; i < o->wtcap; i++)
			for (w = o->wt[i]; w; w = next) {
				next = w->next;
				h = wt_hash(w->path, o->wtseed, cap);
				w->next = nb[h];
				nb[h] = w;
			}
		free(o->wt);
		o->wt = nb;
		o->wtcap = cap;
	}
	if ((w = malloc(sizeof(*w) + strlen(rel) + 1)) == NULL)
		goto nomem;
	strcpy(w->path, rel);
	w->dev = dev;
	w->ino = ino;
	h = wt_hash(rel, o->wtseed, o->wtcap);
	w->next = o->wt[h];
	o->wt[h] = w;
	o->nwt++;
	return 0;
nomem:
	log_error("%s: out of memory", Q(rel));
	return BW_ERR_NOMEM;
}

/* Records a written non-directory that a later hard link may name: only
 * those with more than one link (0: unknown), to keep memory small. */
static int
wt_note(struct fsout *o, struct pdir *pd, const char *rel, uint64_t nlink)
{
	struct stat st;

	if (nlink == 1)
		return 0;
	if (o->ar)
		return wt_add(o, rel, 0, 0);
	if (fstatat(pd->fd, base_of(rel), &st, AT_SYMLINK_NOFOLLOW) != 0)
		return 0;
	return wt_add(o, rel, (uint64_t)st.st_dev, (uint64_t)st.st_ino);
}

/* ---- libarchive entries ---- */

static unsigned
ae_type(enum fsent_type t)
{
	switch (t) {
	case FSENT_DIR: return AE_IFDIR;
	case FSENT_SYMLINK: return AE_IFLNK;
	case FSENT_CHR: return AE_IFCHR;
	case FSENT_BLK: return AE_IFBLK;
	case FSENT_FIFO: return AE_IFIFO;
	case FSENT_SOCK: return AE_IFSOCK;
	default: return AE_IFREG;
	}
}

/* Regions sorted, apart and inside the file: else the map is not used. */
static int
regions_ok(const struct fsent_entry *e)
{
	uint64_t end = 0;
	size_t i;

	for (i = 0; i < e->nregions; i++) {
		const struct fsent_region *r = &e->regions[i];

		if (r->off < end || r->len > e->size ||
		    r->off > e->size - r->len)
			return 0;
		end = r->off + r->len;
	}
	return 1;
}

/* Fills ae with e's metadata under the name name (for the log: rel). */
static void
to_ae(struct fsout *o, struct archive_entry *ae, const char *name,
    const char *rel, const struct fsent_entry *e)
{
	size_t i;

	archive_entry_clear(ae);
	archive_entry_copy_pathname(ae, name);
	archive_entry_set_filetype(ae, ae_type(e->type));
	archive_entry_set_perm(ae, e->mode & 07777);
	archive_entry_set_uid(ae, (la_int64_t)e->uid);
	archive_entry_set_gid(ae, (la_int64_t)e->gid);
	if (!o->opts.numeric_owner) {
		/* libarchive's standard lookup maps a name that exists
		 * here to its id, else keeps the id. */
		if (e->uname)
			archive_entry_copy_uname(ae, e->uname);
		if (e->gname)
			archive_entry_copy_gname(ae, e->gname);
	}
	archive_entry_set_mtime(ae, (time_t)e->mtime_sec, e->mtime_nsec);
	archive_entry_set_atime(ae, (time_t)e->atime_sec, e->atime_nsec);
	if (e->type == FSENT_FILE)
		archive_entry_set_size(ae, (la_int64_t)e->size);
	if (e->type == FSENT_SYMLINK && e->link)
		archive_entry_copy_symlink(ae, e->link);
	if (e->type == FSENT_CHR || e->type == FSENT_BLK)
		archive_entry_set_rdev(ae, (dev_t)e->rdev);
	for (i = 0; i < e->nxattrs; i++)
		if (e->xattrs[i].name && e->xattrs[i].value)
			archive_entry_xattr_add_entry(ae, e->xattrs[i].name,
			    e->xattrs[i].value, e->xattrs[i].len);
	if (e->acl_access && archive_entry_acl_from_text(ae, e->acl_access,
	    ARCHIVE_ENTRY_ACL_TYPE_ACCESS) != ARCHIVE_OK)
		log_warn("%s: access ACL '%s' not understood in full; restored "
		    "what could be read", Q(rel), Q(e->acl_access));
	if (e->acl_default && archive_entry_acl_from_text(ae, e->acl_default,
	    ARCHIVE_ENTRY_ACL_TYPE_DEFAULT) != ARCHIVE_OK)
		log_warn("%s: default ACL '%s' not understood in full; restored "
		    "what could be read", Q(rel), Q(e->acl_default));
	if (o->ar && e->type == FSENT_FILE && e->nregions) {
		if (!regions_ok(e)) {
			log_warn("%s: sparse map out of order or beyond the "
			    "size; stored without holes", Q(rel));
		} else {
			for (i = 0; i < e->nregions; i++)
				if (e->regions[i].len)
					archive_entry_sparse_add_entry(ae,
					    (la_int64_t)e->regions[i].off,
					    (la_int64_t)e->regions[i].len);
		}
	}
}

/* A libarchive result: 0, or the error logged and mapped. */
static int
ar_result(struct archive *a, int r, const char *rel, const char *what)
{
	const char *msg = archive_error_string(a);
	int e;

	if (r == ARCHIVE_OK)
		return 0;
	if (r == ARCHIVE_WARN) {
		log_warn("%s: %s: %s", Q(rel), what, msg ? msg : "warning");
		return 0;
	}
	e = archive_errno(a);
	log_error("%s: cannot %s: %s", Q(rel), what, msg ? msg : "unknown error");
	return e > 0 ? bw_err_from_errno(e) : BW_ERR_IO;
}

/*
 * libarchive's standard lookup keeps its cache per writer, and a writer
 * is made per group of directories at fsout_close: one cache for all.
 */
static la_int64_t
lookup(struct fsout *o, int group, const char *name, la_int64_t id)
{
	struct idname *n;
	struct passwd pw, *pwp = NULL;
	struct group gr, *grp = NULL;
	char buf[16384];
	size_t len;

	if (name == NULL || *name == '\0')
		return id;
	for (n = o->ids; n; n = n->next)
		if (n->group == group && strcmp(n->name, name) == 0)
			return n->found ? n->id : id;
	len = strlen(name);
	if (group) {
		if (getgrnam_r(name, &gr, buf, sizeof(buf), &grp) != 0)
			grp = NULL;
	} else if (getpwnam_r(name, &pw, buf, sizeof(buf), &pwp) != 0) {
		pwp = NULL;
	}
	if (o->nids < IDNAMES_MAX &&
	    (n = malloc(sizeof(*n) + len + 1)) != NULL) {
		n->group = group;
		n->found = group ? grp != NULL : pwp != NULL;
		n->id = group ? (grp ? grp->gr_gid : 0) : (pwp ? pwp->pw_uid : 0);
		memcpy(n->name, name, len + 1);
		n->next = o->ids;
		o->ids = n;
		o->nids++;
	}
	if (group)
		return grp ? (la_int64_t)grp->gr_gid : id;
	return pwp ? (la_int64_t)pwp->pw_uid : id;
}

static la_int64_t
lookup_user(void *arg, const char *name, la_int64_t id)
{
	return lookup(arg, 0, name, id);
}

static la_int64_t
lookup_group(void *arg, const char *name, la_int64_t id)
{
	return lookup(arg, 1, name, id);
}

static struct archive *
disk_new(struct fsout *o)
{
	struct archive *a;

	if ((a = archive_write_disk_new()) == NULL)
		return NULL;
	/* Without a lookup, libarchive takes the ids: numeric_owner then
	 * also holds for the users and groups named in ACLs. */
	if (archive_write_disk_set_options(a, o->flags) != ARCHIVE_OK ||
	    (!o->opts.numeric_owner &&
	    (archive_write_disk_set_user_lookup(a, o, lookup_user, NULL) !=
	    ARCHIVE_OK ||
	    archive_write_disk_set_group_lookup(a, o, lookup_group, NULL) !=
	    ARCHIVE_OK))) {
		archive_write_free(a);
		return NULL;
	}
	return a;
}

/* A disk writer ready for a header: pooled, one per open file. */
static struct archive *
pool_get(struct fsout *o, const char *rel)
{
	struct archive *a;

	if (o->npool)
		return o->pool[--o->npool];
	if ((a = disk_new(o)) == NULL)
		log_error("%s: out of memory (disk writer)", Q(rel));
	return a;
}

static void
pool_put(struct fsout *o, struct archive *a, int dead)
{
	struct archive **np;

	if (a == NULL)
		return;
	if (!dead && o->npool == o->poolcap) {
		np = realloc(o->pool, (o->poolcap + 4) * sizeof(*np));
		if (np) {
			o->pool = np;
			o->poolcap += 4;
		}
	}
	if (dead || o->npool == o->poolcap) {
		archive_write_free(a);
		return;
	}
	o->pool[o->npool++] = a;
}

/* ---- overwrite policy ---- */

/* Is what exists (st, in directory pd) what e would write? */
static int
same(struct pdir *pd, const char *base, const struct stat *st,
    const struct fsent_entry *e)
{
	char buf[PATH_MAX];
	ssize_t n;

	if (fsent_type_of(st->st_mode) != e->type ||
	    st->st_mtim.tv_sec != e->mtime_sec ||
	    (uint32_t)st->st_mtim.tv_nsec != e->mtime_nsec)
		return 0;
	if (e->type == FSENT_FILE)
		return (uint64_t)st->st_size == e->size;
	if (e->type == FSENT_SYMLINK) {
		n = readlinkat(pd->fd, base, buf, sizeof(buf));
		return e->link && n >= 0 && (size_t)n == strlen(e->link) &&
		    memcmp(buf, e->link, (size_t)n) == 0;
	}
	return 1;
}

static void
absent_clear(struct fsout *o)
{
	free(o->absent);
	o->absent = NULL;
	pdir_unref(o, o->absent_pd);
	o->absent_pd = NULL;
}

/* 1 if fsout_existing has just found nothing at rel in pd; the hint is
 * used once.  Saves the second lookup of every new entry (restore asks
 * fsout_existing first); whatever appears between the two calls is what
 * could appear after the second one as well. */
static int
absent_hint(struct fsout *o, struct pdir *pd, const char *rel)
{
	int hit = o->absent && o->absent_pd == pd && strcmp(o->absent, rel) == 0;

	absent_clear(o);
	return hit;
}

/*
 * What to do about what is at base in pd for entry e (not a directory):
 * 0 go on (nothing there, or it is removed by the caller: *rm set to
 * 1 unlink, 2 rmdir), 1 keep it, or a negative code (logged).
 */
static int
policy(struct fsout *o, struct pdir *pd, const char *rel,
    const struct fsent_entry *e, int *rm)
{
	const char *base = base_of(rel);
	struct stat st;
	int e2;

	*rm = 0;
	if (absent_hint(o, pd, rel))
		return 0;
	if (fstatat(pd->fd, base, &st, AT_SYMLINK_NOFOLLOW) != 0) {
		if (errno == ENOENT)
			return 0;
		e2 = errno;
		log_error("%s: cannot look at the existing entry: %s", Q(rel),
		    strerror(e2));
		return bw_err_from_errno(e2);
	}
	if (o->opts.overwrite == FSOUT_NEVER)
		return 1;
	if (S_ISDIR(st.st_mode)) {
		if (o->opts.overwrite != FSOUT_ALWAYS) {
			log_error("%s: is a directory in the target; not "
			    "replaced by a %s (move it away, or overwrite "
			    "always to replace an empty one)", Q(rel),
			    e->type == FSENT_FILE ? "file" : "non-directory");
			return BW_ERR_EXIST;
		}
		*rm = 2;
		return 0;
	}
	if (o->opts.overwrite == FSOUT_IF_CHANGED && !o->opts.caller_compares &&
	    same(pd, base, &st, e))
		return 1;
	*rm = 1;
	return 0;
}

/* Removes what is in the way (see policy). */
static int
remove_old(struct pdir *pd, const char *rel, int rm)
{
	int e;

	if (rm == 0)
		return 0;
	if (unlinkat(pd->fd, base_of(rel), rm == 2 ? AT_REMOVEDIR : 0) == 0 ||
	    errno == ENOENT)
		return 0;
	e = errno;
	if (rm == 2 && (e == ENOTEMPTY || e == EEXIST)) {
		log_error("%s: is a non-empty directory in the target; not "
		    "replaced (move it away first)", Q(rel));
		return BW_ERR_EXIST;
	}
	log_error("%s: cannot remove the existing entry: %s", Q(rel),
	    strerror(e));
	return bw_err_from_errno(e);
}

/* ---- entries in the target ---- */

static struct fsent_entry *
meta_dup(const struct fsent_entry *e)
{
	struct fsent_entry *m;
	size_t i;

	if ((m = calloc(1, sizeof(*m))) == NULL)
		return NULL;
	m->type = e->type;
	m->mode = e->mode;
	m->uid = e->uid;
	m->gid = e->gid;
	m->mtime_sec = e->mtime_sec;
	m->mtime_nsec = e->mtime_nsec;
	m->atime_sec = e->atime_sec;
	m->atime_nsec = e->atime_nsec;
	if ((e->uname && !(m->uname = strdup(e->uname))) ||
	    (e->gname && !(m->gname = strdup(e->gname))) ||
	    (e->acl_access && !(m->acl_access = strdup(e->acl_access))) ||
	    (e->acl_default && !(m->acl_default = strdup(e->acl_default))))
		goto fail;
	if (e->nxattrs) {
		if ((m->xattrs = calloc(e->nxattrs, sizeof(*m->xattrs))) == NULL)
			goto fail;
		for (i = 0; i < e->nxattrs; i++) {
			if (e->xattrs[i].name == NULL || e->xattrs[i].value == NULL)
				continue;
			m->nxattrs = i + 1;
			if ((m->xattrs[i].name = strdup(e->xattrs[i].name)) ==
			    NULL || (m->xattrs[i].value =
			    malloc(e->xattrs[i].len ? e->xattrs[i].len : 1)) ==
			    NULL)
				goto fail;
			memcpy(m->xattrs[i].value, e->xattrs[i].value,
			    e->xattrs[i].len);
			m->xattrs[i].len = e->xattrs[i].len;
		}
	}
	return m;
fail:
	fsent_entry_free(m);
	return NULL;
}

/* Says why a non-directory at rel is not replaced by a directory. */
static void
dir_in_the_way(struct pdir *pd, const char *rel, const struct stat *st)
{
	char to[PATH_MAX];
	ssize_t n;

	if (S_ISLNK(st->st_mode)) {
		n = readlinkat(pd->fd, base_of(rel), to, sizeof(to) - 1);
		to[n > 0 ? n : 0] = '\0';
		log_error("%s: is a symlink on this host (-> %s) where the "
		    "snapshot has a directory; not replaced, nor anything "
		    "beneath it restored: restore into another directory, or "
		    "remove the link first", Q(rel), Q(n > 0 ? to : "?"));
		return;
	}
	log_error("%s: is a %s on this host where the snapshot has a "
	    "directory; not replaced, nor anything beneath it restored: "
	    "restore into another directory, or move it away first", Q(rel),
	    S_ISREG(st->st_mode) ? "file" : "special file");
}

static int
dir_entry(struct fsout *o, const char *rel, const struct fsent_entry *e)
{
	const char *base = base_of(rel);
	struct pdir *pd = NULL;
	struct defdir *d;
	struct stat st;
	int rc, e2, isdir = 0, made = 0;

	if ((rc = parent_get(o, rel, NULL, 1, &pd)) != 0)
		return rc;
	/* known to be absent: make it at once (if it appeared meanwhile,
	 * look at it as usual) */
	if (absent_hint(o, pd, rel))
		made = mkdirat(pd->fd, base, 0700) == 0;
	if (!made && fstatat(pd->fd, base, &st, AT_SYMLINK_NOFOLLOW) == 0) {
		if (o->opts.overwrite == FSOUT_NEVER) {
			rc = 1;
			goto out;
		}
		/* A directory is reused.  Anything else is never replaced
		 * by one: a symlink there may be the host's own layout
		 * (merged /usr: lib -> usr/lib), and filling a new empty
		 * directory in its place would break the host.  The
		 * entries beneath are then refused as beneath it. */
		isdir = S_ISDIR(st.st_mode);
		if (!isdir) {
			dir_in_the_way(pd, rel, &st);
			rc = BW_ERR_EXIST;
			goto out;
		}
	} else if (!made && errno != ENOENT) {
		e2 = errno;
		log_error("%s: cannot look at the existing entry: %s", Q(rel),
		    strerror(e2));
		rc = bw_err_from_errno(e2);
		goto out;
	}
	if (!isdir) {
		if (!made)
			made = mkdirat(pd->fd, base, 0700) == 0;
		if (!made && errno != EEXIST) {
			e2 = errno;
			log_error("%s: cannot create directory: %s", Q(rel),
			    strerror(e2));
			rc = bw_err_from_errno(e2);
			goto out;
		}
		if (fstatat(pd->fd, base, &st, AT_SYMLINK_NOFOLLOW) != 0 ||
		    !S_ISDIR(st.st_mode)) {
			log_error("%s: directory vanished as it was created",
			    Q(rel));
			rc = BW_ERR_IO;
			goto out;
		}
		/* made just now: no interrupted restore left anything in
		 * it, so entering it need not sweep (one listing saved per
		 * directory; the same inode is what a later entry opens, or
		 * the sweep runs after all) */
		if (made) {
			(void)keyset_add(&o->seen, &st);
			(void)keyset_add(&o->made, &st);
		}
	}
	if (o->ndirs == o->dircap) {
		size_t cap = o->dircap ? o->dircap * 2 : 64;

		if ((d = realloc(o->dirs, cap * sizeof(*d))) == NULL)
			goto nomem;
		o->dirs = d;
		o->dircap = cap;
	}
	d = &o->dirs[o->ndirs];
	d->dev = (uint64_t)st.st_dev;
	d->ino = (uint64_t)st.st_ino;
	if ((d->rel = strdup(rel)) == NULL)
		goto nomem;
	if ((d->meta = meta_dup(e)) == NULL) {
		free(d->rel);
		goto nomem;
	}
	o->ndirs++;
	rc = 0;
	goto out;
nomem:
	log_error("%s: out of memory", Q(rel));
	rc = BW_ERR_NOMEM;
out:
	pdir_unref(o, pd);
	return rc;
}

/* The inode at path (a target-relative path), through verified parents;
 * messages name rel.  0 and *st, BW_ERR_NOENT (not logged), or a code. */
static int
stat_at(struct fsout *o, const char *path, const char *rel, struct pdir **pd,
    struct stat *st)
{
	int rc;

	if ((rc = parent_get(o, path, rel, 0, pd)) != 0)
		return rc;
	if (fstatat((*pd)->fd, base_of(path), st, AT_SYMLINK_NOFOLLOW) != 0)
		return BW_ERR_NOENT;
	return 0;
}

/*
 * A hard link is made only to a path this handle wrote, checked to be
 * the same inode still.  On a second run the link may already be there:
 * NEVER keeps whatever is at rel, IF_CHANGED keeps a link to the same
 * inode, without the target having been written this time.
 */
static int
link_entry(struct fsout *o, const char *rel, const struct fsent_entry *e)
{
	struct pdir *spd = NULL, *dpd = NULL;
	struct wrote *w;
	struct stat sst, dst;
	const char *why;
	char buf[PATH_MAX + 64];
	int rc, rm = 0, e2, have_dst;

	if (e->link == NULL) {
		refuse(rel, "hard link without a target");
		return BW_ERR_INVAL;
	}
	if (fsout_check_path(e->link, &why) != 0) {
		snprintf(buf, sizeof(buf), "hard link target: %s", why);
		refuse(rel, buf);
		return BW_ERR_INVAL;
	}
	if ((rc = parent_get(o, rel, NULL, 1, &dpd)) != 0)
		goto out;
	have_dst = fstatat(dpd->fd, base_of(rel), &dst, AT_SYMLINK_NOFOLLOW) ==
	    0;
	if (have_dst && o->opts.overwrite == FSOUT_NEVER) {
		rc = 1;
		goto out;
	}
	if ((w = wt_find(o, e->link)) == NULL) {
		if (have_dst && o->opts.overwrite == FSOUT_IF_CHANGED) {
			rc = stat_at(o, e->link, rel, &spd, &sst);
			if (rc == BW_ERR_INVAL)
				goto out;
			if (rc == 0 && sst.st_dev == dst.st_dev &&
			    sst.st_ino == dst.st_ino && !S_ISDIR(sst.st_mode)) {
				rc = 1;
				goto out;
			}
		}
		snprintf(buf, sizeof(buf), "hard link target %s was not "
		    "written by this restore", Q(e->link));
		refuse(rel, buf);
		rc = BW_ERR_INVAL;
		goto out;
	}
	if ((rc = stat_at(o, e->link, rel, &spd, &sst)) == BW_ERR_INVAL)
		goto out;
	if (rc != 0 || (uint64_t)sst.st_dev != w->dev ||
	    (uint64_t)sst.st_ino != w->ino) {
		snprintf(buf, sizeof(buf), "hard link target %s %s since this "
		    "restore wrote it", Q(e->link), rc ? "is gone" : "changed");
		refuse(rel, buf);
		rc = BW_ERR_INVAL;
		goto out;
	}
	if (have_dst && dst.st_dev == sst.st_dev && dst.st_ino == sst.st_ino) {
		rc = 1;		/* already this link */
		goto out;
	}
	{
		struct fsent_entry fake = *e;

		/* Compared as the file it links to. */
		fake.type = FSENT_FILE;
		fake.size = (uint64_t)sst.st_size;
		if ((rc = policy(o, dpd, rel, &fake, &rm)) != 0)
			goto out;
	}
	if ((rc = remove_old(dpd, rel, rm)) != 0)
		goto out;
	if (linkat(spd->fd, base_of(e->link), dpd->fd, base_of(rel), 0) != 0) {
		e2 = errno;
		log_error("%s: cannot link to %s: %s", Q(rel), Q(e->link),
		    strerror(e2));
		rc = bw_err_from_errno(e2);
	}
out:
	pdir_unref(o, spd);
	pdir_unref(o, dpd);
	return rc;
}

/* A symlink, device or fifo, made by libarchive under its final name. */
static int
special_entry(struct fsout *o, const char *rel, const struct fsent_entry *e)
{
	struct pdir *pd = NULL;
	struct archive *a = NULL;
	int rc, r, rm, dead = 0;

	if (e->type == FSENT_SYMLINK && (e->link == NULL || *e->link == '\0')) {
		refuse(rel, "symlink without a target");
		return BW_ERR_INVAL;
	}
	if ((rc = parent_get(o, rel, NULL, 1, &pd)) != 0)
		return rc;
	if ((rc = policy(o, pd, rel, e, &rm)) != 0 ||
	    (rc = remove_old(pd, rel, rm)) != 0)
		goto out;
	if ((a = pool_get(o, rel)) == NULL) {
		rc = BW_ERR_NOMEM;
		goto out;
	}
	archive_write_disk_set_options(a, o->flags);	/* all secure flags */
	to_ae(o, o->ae, base_of(rel), rel, e);
	if ((rc = enter(o, pd->fd, rel)) != 0)
		goto out;
	r = archive_write_header(a, o->ae);
	if (r >= ARCHIVE_WARN) {
		if ((rc = ar_result(a, r, rel, "restore")) == 0) {
			r = archive_write_finish_entry(a);
			rc = ar_result(a, r, rel, "restore metadata");
		}
	} else {
		rc = ar_result(a, r, rel, "create");
	}
	dead = r == ARCHIVE_FATAL;
	leave(o);
	if (rc == 0)
		rc = wt_note(o, pd, rel, e->nlink);
out:
	pool_put(o, a, dead);
	pdir_unref(o, pd);
	return rc;
}

/* ---- archive output ---- */

static int
arch_result(struct fsout *o, int r, const char *rel, const char *what)
{
	return ar_result(o->ar, r, rel, what);
}

/* Feeds n zeros to the member being written. */
static int
arch_zeros(struct fsout_file *f, uint64_t n)
{
	la_ssize_t w;
	size_t k;

	while (n > 0) {
		k = n < ZERO_CHUNK ? (size_t)n : ZERO_CHUNK;
		if ((w = archive_write_data(f->o->ar, zeros, k)) < 0)
			return arch_result(f->o, (int)w, f->rel, "write");
		n -= k;
		f->pos += k;
	}
	return 0;
}

/*
 * A stream cannot take a member back: the rest of it is filled with zeros
 * so that the archive stays readable (if libarchive itself failed, the
 * archive is lost anyway and fsout_close says so).
 */
static void
arch_abandon(struct fsout_file *f)
{
	f->o->member = NULL;
	log_warn("%s: abandoned; the rest of its member in archive %s is "
	    "filled with zeros", Q(f->rel), Q(f->o->apath));
	if (arch_zeros(f, f->size - f->pos) == 0)
		archive_write_finish_entry(f->o->ar);
}

/* An archive takes one member at a time: nonzero (logged, naming both)
 * while a file is still open for writing. */
static int
arch_busy(const struct fsout *o, const char *rel)
{
	if (!o->member)
		return 0;
	log_error("%s: archive %s: a file is still being written (%s); entries go one at "
	    "a time", Q(rel), Q(o->apath), Q(o->member->rel));
	return 1;
}

static int
arch_entry(struct fsout *o, const char *rel, const struct fsent_entry *e)
{
	const char *what;
	struct wrote *w;
	char buf[PATH_MAX + 64];
	int r;

	if (arch_busy(o, rel))
		return BW_ERR_INVAL;
	if (o->zip && e->type != FSENT_DIR && e->type != FSENT_SYMLINK &&
	    e->type != FSENT_FILE) {
		what = e->type == FSENT_HARDLINK ? "hard links" :
		    "devices, fifos or sockets";
		log_error("%s: a zip archive cannot hold %s; not stored (use "
		    ".tar)", Q(rel), what);
		return BW_ERR_UNSUPP;
	}
	if (e->type == FSENT_SOCK)
		return 1;
	to_ae(o, o->ae, rel, rel, e);
	if (e->type == FSENT_HARDLINK) {
		const char *why;

		if (e->link == NULL || fsout_check_path(e->link, &why) != 0) {
			snprintf(buf, sizeof(buf), "hard link target: %s",
			    e->link ? why : "missing");
			refuse(rel, buf);
			return BW_ERR_INVAL;
		}
		if ((w = wt_find(o, e->link)) == NULL) {
			snprintf(buf, sizeof(buf), "hard link target %s was "
			    "not written by this restore", Q(e->link));
			refuse(rel, buf);
			return BW_ERR_INVAL;
		}
		archive_entry_set_filetype(o->ae, AE_IFREG);
		archive_entry_copy_hardlink(o->ae, e->link);
		archive_entry_set_size(o->ae, 0);
	}
	r = archive_write_header(o->ar, o->ae);
	if (r < ARCHIVE_WARN)
		return arch_result(o, r, rel, "add to the archive");
	arch_result(o, r, rel, "add to the archive");
	r = archive_write_finish_entry(o->ar);
	if ((r = arch_result(o, r, rel, "add to the archive")) != 0)
		return r;
	if (e->type != FSENT_DIR && e->type != FSENT_HARDLINK)
		return wt_note(o, NULL, rel, e->nlink);
	return 0;
}

static int
arch_file_open(struct fsout *o, const char *rel, const struct fsent_entry *e,
    struct fsout_file **out)
{
	struct fsout_file *f;
	int r;

	if (arch_busy(o, rel))
		return BW_ERR_INVAL;
	if ((f = calloc(1, sizeof(*f))) == NULL ||
	    (f->rel = strdup(rel)) == NULL) {
		free(f);
		log_error("%s: out of memory", Q(rel));
		return BW_ERR_NOMEM;
	}
	f->o = o;
	f->size = e->size;
	f->nlink = e->nlink;
	to_ae(o, o->ae, rel, rel, e);
	r = archive_write_header(o->ar, o->ae);
	if (r < ARCHIVE_WARN) {
		r = arch_result(o, r, rel, "add to the archive");
		free(f->rel);
		free(f);
		return r;
	}
	arch_result(o, r, rel, "add to the archive");
	o->member = f;
	*out = f;
	return 0;
}

static int
arch_open(struct fsout *o)
{
	const char *path = o->opts.archive, *slash;
	size_t n = strlen(path);
	char *dir = NULL;
	struct stat st;
	int rc = BW_ERR_NOMEM, e, i, r;

	o->afd = o->adirfd = -1;
	if (n > 8 && strcmp(path + n - 8, ".tar.zst") == 0) {
		o->zip = 0;
	} else if (n > 4 && strcmp(path + n - 4, ".tar") == 0) {
		o->zip = 0;
	} else if (n > 4 && strcmp(path + n - 4, ".zip") == 0) {
		o->zip = 1;
	} else {
		log_error("archive %s: unknown kind; name it .tar, .tar.zst "
		    "or .zip", Q(path));
		return BW_ERR_INVAL;
	}
	if ((o->apath = strdup(path)) == NULL)
		goto out;
	slash = strrchr(o->apath, '/');
	o->abase = slash ? slash + 1 : o->apath;
	if (*o->abase == '\0') {
		log_error("archive %s: not a file name", Q(path));
		rc = BW_ERR_INVAL;
		goto out;
	}
	if ((dir = slash ? strndup(o->apath, (size_t)(slash - o->apath)) :
	    strdup(".")) == NULL)
		goto out;
	if ((o->adirfd = open(*dir ? dir : "/", O_RDONLY | O_DIRECTORY |
	    O_CLOEXEC)) < 0) {
		e = errno;
		log_error("archive %s: cannot open its directory: %s", Q(path),
		    strerror(e));
		rc = bw_err_from_errno(e);
		goto out;
	}
	if (fstatat(o->adirfd, o->abase, &st, AT_SYMLINK_NOFOLLOW) == 0) {
		log_error("archive %s: exists; give a new file name (an "
		    "archive is never overwritten)", Q(path));
		rc = BW_ERR_EXIST;
		goto out;
	}
	if ((o->atmp = malloc(strlen(o->abase) + 32)) == NULL)
		goto out;
	for (i = 0; i < 100 && o->afd < 0; i++) {
		sprintf(o->atmp, ".%s.bw-tmp.%06x", o->abase,
		    (unsigned)(o->rnd = o->rnd * 6364136223846793005ULL +
		    1442695040888963407ULL) >> 8 & 0xffffff);
		o->afd = openat(o->adirfd, o->atmp, O_WRONLY | O_CREAT | O_EXCL |
		    O_CLOEXEC | O_NOFOLLOW, 0600);
		if (o->afd < 0 && errno != EEXIST)
			break;
	}
	if (o->afd < 0) {
		e = errno;
		log_error("archive %s: cannot create a temporary file next to "
		    "it: %s", Q(path), strerror(e));
		rc = bw_err_from_errno(e);
		goto out;
	}
	if ((o->ar = archive_write_new()) == NULL)
		goto out;
	r = o->zip ? archive_write_set_format_zip(o->ar) :
	    archive_write_set_format_pax(o->ar);
	if (r == ARCHIVE_OK && n > 8 && strcmp(path + n - 8, ".tar.zst") == 0)
		r = archive_write_add_filter_zstd(o->ar);
	if (r == ARCHIVE_OK)
		r = archive_write_open_fd(o->ar, o->afd);
	if (r != ARCHIVE_OK) {
		rc = arch_result(o, r, path, "start the archive");
		if (rc == 0)
			rc = BW_ERR_IO;
		goto out;
	}
	rc = 0;
out:
	if (rc == BW_ERR_NOMEM)
		log_error("archive %s: out of memory", Q(path));
	free(dir);
	return rc;
}

static int
arch_close(struct fsout *o)
{
	int r, rc, e;

	if (o->member) {
		log_error("archive %s: %s was never committed", Q(o->apath),
		    Q(o->member->rel));
		return BW_ERR_INVAL;
	}
	r = archive_write_close(o->ar);
	if ((rc = arch_result(o, r, o->apath, "finish the archive")) != 0)
		return rc;
	if (fsync(o->afd) != 0 || close(o->afd) != 0) {
		e = errno;
		o->afd = -1;
		log_error("archive %s: cannot write: %s", Q(o->apath),
		    strerror(e));
		return bw_err_from_errno(e);
	}
	o->afd = -1;
	/* Never over a file that appeared meanwhile. */
	if (renameat2(o->adirfd, o->atmp, o->adirfd, o->abase,
	    RENAME_NOREPLACE) != 0) {
		e = errno;
		log_error("archive %s: cannot put it in place: %s", Q(o->apath),
		    strerror(e));
		return e == EEXIST ? BW_ERR_EXIST : bw_err_from_errno(e);
	}
	free(o->atmp);
	o->atmp = NULL;
	if (fsync(o->adirfd) != 0) {
		e = errno;
		log_error("archive %s: cannot sync its directory: %s",
		    Q(o->apath), strerror(e));
		return bw_err_from_errno(e);
	}
	return 0;
}

/* ---- renames waiting for a sync ---- */

static uint64_t
pend_hash(const char *rel)
{
	return name_hash(rel) % PEND_BLOOM;
}

/* The pending entry for rel, or NULL. */
static struct pending *
pend_find(struct fsout *o, const char *rel)
{
	uint64_t h;
	size_t i;

	if (o->npend == 0 && o->nspend == 0)
		return NULL;
	h = pend_hash(rel);
	if (o->pendbloom[h / 64] & (1ull << (h % 64)))
		for (i = o->npend; i-- > 0;)
			if (strcmp(o->pend[i].rel, rel) == 0)
				return &o->pend[i];
	if (o->spendbloom[h / 64] & (1ull << (h % 64)))
		for (i = o->nspend; i-- > 0;)
			if (strcmp(o->spend[i].rel, rel) == 0)
				return &o->spend[i];
	return NULL;
}

/* Renames a durable batch into place and empties it.  0 or the first
 * error (each logged with its path). */
static int
pend_rename(struct fsout *o, struct pending *batch, size_t *n)
{
	struct pending *p;
	size_t i;
	int rc = 0, rc2, e;

	for (i = 0; i < *n; i++) {
		p = &batch[i];
		rc2 = 0;
		e = p->renamed < 0 ? p->err : 0;
		if (p->renamed == 0 && renameat(p->pd->fd, p->tmp, p->pd->fd,
		    base_of(p->rel)) != 0)
			e = errno;
		if (e != 0) {
			log_error("%s: cannot rename the restored file into "
			    "place: %s", Q(p->rel), strerror(e));
			rc2 = bw_err_from_errno(e);
		}
		if (rc2 != 0)
			unlinkat(p->pd->fd, p->tmp, 0);
		else
			rc2 = wt_note(o, p->pd, p->rel, p->nlink);
		if (rc2 != 0 && rc == 0)
			rc = rc2;
		pdir_unref(o, p->pd);
		free(p->rel);
	}
	*n = 0;
	return rc;
}

/* Drops a batch that is not to be renamed: temporaries removed (a file
 * the sync thread already put in place, durable, stays). */
static void
pend_discard(struct fsout *o, struct pending *batch, size_t *n)
{
	size_t i;

	for (i = 0; i < *n; i++) {
		if (batch[i].renamed != 1)
			unlinkat(batch[i].pd->fd, batch[i].tmp, 0);
		pdir_unref(o, batch[i].pd);
		free(batch[i].rel);
	}
	*n = 0;
}

/* A batch whose sync failed is dropped, never renamed: after a failed
 * syncfs a later one can succeed without the lost writes having reached
 * the disk.  Each file is named, for the operator to restore again. */
static void
sync_failed(struct fsout *o, int e, struct pending *batch, size_t *n)
{
	size_t i;

	log_error("target %s: cannot sync the file system: %s; %zu restored files are not "
	    "put in place (run the restore again once the disk is sound):", Q(o->target),
	    strerror(e), *n);
	for (i = 0; i < *n; i++)
		log_error("%s: not put in place (its data may not be on the disk)",
		    Q(batch[i].rel));
	pend_discard(o, batch, n);
}

/* Settles the batch at the sync thread: waits for its sync and renames,
 * then finishes them (or, if the sync failed, removes its
 * temporaries). */
static int
pend_settle_synced(struct fsout *o)
{
	int e;

	if (o->nspend == 0)
		return 0;
	memset(o->spendbloom, 0, sizeof(o->spendbloom));
	if ((e = syncer_wait(o->syncer)) != 0) {
		sync_failed(o, e, o->spend, &o->nspend);
		return bw_err_from_errno(e);
	}
	return pend_rename(o, o->spend, &o->nspend);
}

/*
 * Makes every committed file durable (one syncfs per file system) and only
 * then renames it into place, now.  A failed sync renames nothing: the
 * batch is dropped (sync_failed).  0 or the first error (each logged with
 * its path).
 */
static int
pend_flush(struct fsout *o)
{
	size_t i;
	int rc, rc2, e;

	rc = pend_settle_synced(o);
	if (o->npend == 0)
		return rc;
	for (i = 0; i < o->nsync; i++) {
		if (fsout_syncfs(o->syncfd[i]) != 0) {
			e = errno;
			sync_failed(o, e, o->pend, &o->npend);
			o->pendbytes = 0;
			memset(o->pendbloom, 0, sizeof(o->pendbloom));
			return rc ? rc : bw_err_from_errno(e);
		}
	}
	rc2 = pend_rename(o, o->pend, &o->npend);
	o->pendbytes = 0;
	memset(o->pendbloom, 0, sizeof(o->pendbloom));
	return rc ? rc : rc2;
}

/* A full batch: renames the one synced before, hands this one to the sync
 * thread and starts a new one. */
static int
pend_handover(struct fsout *o)
{
	struct syncer *y = syncer_get(o);
	struct pending *t;
	size_t cap;
	int *fds, rc;

	if (!y)
		return pend_flush(o);	/* no thread: sync here */
	/* the thread is idle from here on */
	if ((rc = pend_settle_synced(o)) != 0)
		return rc;
	if ((fds = realloc(y->fds, o->nsync * sizeof(*fds) + 1)) == NULL)
		return pend_flush(o);
	y->fds = fds;
	memcpy(y->fds, o->syncfd, o->nsync * sizeof(*fds));
	y->nfds = o->nsync;
	y->batch = o->pend;
	y->nbatch = o->npend;
	t = o->spend;
	cap = o->spendcap;
	o->spend = o->pend;
	o->spendcap = o->pendcap;
	o->nspend = o->npend;
	memcpy(o->spendbloom, o->pendbloom, sizeof(o->spendbloom));
	o->pend = t;
	o->pendcap = cap;
	o->npend = 0;
	o->pendbytes = 0;
	memset(o->pendbloom, 0, sizeof(o->pendbloom));
	pthread_mutex_lock(&y->mu);
	y->busy = 1;
	pthread_cond_signal(&y->cv);
	pthread_mutex_unlock(&y->mu);
	return 0;
}

/* 1 if p is an entry of the batch at the sync thread. */
static int
pend_synced(const struct fsout *o, const struct pending *p)
{
	return p >= o->spend && p < o->spend + o->nspend;
}

/* Puts rel (a name about to be looked at or written) in place first if a
 * batch holds it: the sync thread's batch is only waited for, the
 * writer's own is synced and renamed now. */
static int
pend_settle(struct fsout *o, const char *rel)
{
	struct pending *p = rel ? pend_find(o, rel) : NULL;

	if (!p)
		return 0;
	return pend_synced(o, p) ? pend_settle_synced(o) : pend_flush(o);
}

/* Drops the pending files (no successful close): temporaries removed;
 * what the sync thread had already synced and renamed stays in place. */
static void
pend_drop(struct fsout *o)
{
	if (o->syncer)
		(void)syncer_wait(o->syncer);
	pend_discard(o, o->spend, &o->nspend);
	pend_discard(o, o->pend, &o->npend);
	syncer_stop(o->syncer);
	o->syncer = NULL;
	free(o->spend);
	free(o->pend);
	o->spend = o->pend = NULL;
}

/* Queues f's rename (takes its directory and name); flushes a full batch. */
static int
pend_add(struct fsout *o, struct fsout_file *f)
{
	struct pending *p;
	uint64_t h;

	if (o->npend == o->pendcap) {
		size_t cap = o->pendcap ? o->pendcap * 2 : 16;

		if ((p = realloc(o->pend, cap * sizeof(*p))) == NULL) {
			log_error("%s: out of memory", Q(f->rel));
			unlinkat(f->pd->fd, f->tmp, 0);
			return BW_ERR_NOMEM;
		}
		o->pend = p;
		o->pendcap = cap;
	}
	p = &o->pend[o->npend++];
	p->pd = f->pd;
	p->rel = f->rel;
	memcpy(p->tmp, f->tmp, sizeof(p->tmp));
	p->nlink = f->nlink;
	p->renamed = 0;
	p->err = 0;
	f->pd = NULL;
	f->rel = NULL;
	h = pend_hash(p->rel);
	o->pendbloom[h / 64] |= 1ull << (h % 64);
	o->pendbytes += f->size;
	if (o->npend >= PEND_FILES || o->pendbytes >= PEND_BYTES)
		return pend_handover(o);
	return 0;
}

/* ---- the handle ---- */

/* The target directory: made (with parents) if missing. */
static int
target_open(struct fsout *o)
{
	char *p;
	size_t i;
	int e;

	struct stat st;
	int rc;

	if ((o->target = strdup(o->opts.target)) == NULL) {
		log_error("target %s: out of memory", Q(o->opts.target));
		return BW_ERR_NOMEM;
	}
	/* The target itself is never reached through a symlink: one planted
	 * at a predictable name would send the restore anywhere. */
	o->tfd = open(o->target, O_PATH | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
	if (o->tfd < 0 && (errno == ENOTDIR || errno == ELOOP) &&
	    lstat(o->target, &st) == 0 && S_ISLNK(st.st_mode)) {
		char to[PATH_MAX];
		ssize_t n = readlink(o->target, to, sizeof(to) - 1);

		to[n > 0 ? n : 0] = '\0';
		log_error("target %s is a symlink (-> %s); not followed: give the "
		    "directory it points to, or another one", Q(o->target),
		    Q(n > 0 ? to : "?"));
		return BW_ERR_INVAL;
	}
	if (o->tfd < 0 && errno == ENOENT) {
		p = o->target;
		for (i = 1; p[i]; i++) {
			if (p[i] != '/')
				continue;
			p[i] = '\0';
			if (mkdir(p, 0700) != 0 && errno != EEXIST) {
				e = errno;
				log_error("target %s: cannot create %s: %s",
				    Q(o->opts.target), Q(p), strerror(e));
				return bw_err_from_errno(e);
			}
			p[i] = '/';
		}
		if (mkdir(p, 0700) != 0 && errno != EEXIST) {
			e = errno;
			log_error("target %s: cannot create it: %s", Q(p),
			    strerror(e));
			return bw_err_from_errno(e);
		}
		o->tfd = open(o->target, O_PATH | O_DIRECTORY | O_NOFOLLOW |
		    O_CLOEXEC);
	}
	if (o->tfd < 0) {
		e = errno;
		log_error("target %s: cannot open: %s", Q(o->target),
		    strerror(e));
		return bw_err_from_errno(e);
	}
	/* Somebody else's directory (a name planted in /var/tmp before us,
	 * or made between our look and our mkdir) could be changed under the
	 * restore by its owner.  One made here is ours. */
	if (fstat(o->tfd, &st) != 0) {
		rc = errno;
		log_error("target %s: cannot open it: %s", Q(o->target),
		    strerror(rc));
		return bw_err_from_errno(rc);
	}
	if (st.st_uid != 0 && st.st_uid != geteuid()) {
		log_error("target %s belongs to user %lu, neither you nor root; "
		    "not used (another user could change it during the "
		    "restore): choose a directory of your own", Q(o->target),
		    (unsigned long)st.st_uid);
		return BW_ERR_PERM;
	}
	if ((o->root = calloc(1, sizeof(*o->root) + 1)) == NULL) {
		log_error("target %s: out of memory", Q(o->target));
		return BW_ERR_NOMEM;
	}
	o->root->fd = o->tfd;
	o->root->refs = 1;
	if ((rc = note_fs(o, o->tfd, &st, o->target)) != 0)
		return rc;
	sweep(o, o->tfd, &st, "");
	return 0;
}

int
fsout_open(const struct fsout_opts *opts, struct fsout **out)
{
	struct fsout *o = NULL;
	uint64_t seed = 0;
	int rc = BW_ERR_NOMEM;

	*out = NULL;
	if (opts == NULL || !opts->target == !opts->archive) {
		log_error("restore: give either a target directory or an "
		    "archive file");
		return BW_ERR_INVAL;
	}
	if ((o = calloc(1, sizeof(*o))) == NULL)
		goto out;
	o->opts = *opts;
	o->tfd = o->cwdfd = o->afd = o->adirfd = -1;
	if (getrandom(&seed, sizeof(seed), GRND_NONBLOCK) != sizeof(seed))
		seed = (uint64_t)getpid() << 32 ^ (uint64_t)time(NULL);
	o->rnd = seed | 1;
	o->wtseed = seed * 0x9e3779b97f4a7c15ULL;
	if ((o->ae = archive_entry_new()) == NULL)
		goto out;
	if (opts->archive) {
		rc = arch_open(o);
		goto out;
	}
	/* Before any disk writer exists (it reads the umask by setting it). */
	if ((rc = fs_own(o)) != 0)
		goto out;
	o->flags = ARCHIVE_EXTRACT_SECURE_SYMLINKS |
	    ARCHIVE_EXTRACT_SECURE_NODOTDOT |
	    ARCHIVE_EXTRACT_SECURE_NOABSOLUTEPATHS |
	    ARCHIVE_EXTRACT_PERM | ARCHIVE_EXTRACT_TIME |
	    ARCHIVE_EXTRACT_XATTR | ARCHIVE_EXTRACT_ACL;
	if (opts->owner || geteuid() == 0)
		o->flags |= ARCHIVE_EXTRACT_OWNER;
	if ((o->cwdfd = open(".", O_PATH | O_DIRECTORY | O_CLOEXEC)) < 0 &&
	    (o->cwdfd = open("/", O_PATH | O_DIRECTORY | O_CLOEXEC)) < 0) {
		rc = bw_err_from_errno(errno);
		log_error("restore: cannot open the working directory: %s",
		    strerror(errno));
		goto out;
	}
	rc = target_open(o);
out:
	if (rc == BW_ERR_NOMEM)
		log_error("restore: out of memory");
	if (rc == 0)
		*out = o;
	else
		fsout_free(o);
	return rc;
}

int
fsout_existing(struct fsout *o, const char *rel, struct fsent_entry **cur)
{
	struct pdir *pd = NULL;
	struct stat st;
	const char *why;
	char *path = NULL;
	int rc;

	*cur = NULL;
	if (o->ar)
		return 0;
	absent_clear(o);
	if (fsout_check_path(rel, &why) != 0) {
		refuse(rel, why);
		return BW_ERR_INVAL;
	}
	if ((rc = pend_settle(o, rel)) != 0)
		return rc;
	if ((rc = parent_get(o, rel, NULL, 0, &pd)) != 0)
		return rc == BW_ERR_NOENT ? 0 : rc;
	/* in a directory made by this handle, only what it made is there */
	if (pd->fresh && !written_maybe(o, rel)) {
		if ((o->absent = strdup(rel)) != NULL)
			o->absent_pd = pdir_ref(pd);
		goto out;
	}
	if (fstatat(pd->fd, base_of(rel), &st, AT_SYMLINK_NOFOLLOW) != 0) {
		rc = errno == ENOENT ? 0 : bw_err_from_errno(errno);
		if (rc)
			log_error("%s: cannot look at the existing entry: %s",
			    Q(rel), strerror(errno));
		else if ((o->absent = strdup(rel)) != NULL)
			o->absent_pd = pdir_ref(pd);
		goto out;
	}
	/* The parents were verified just now; fsent_stat gathers the
	 * full metadata (lstat semantics for the last component). */
	if (asprintf(&path, "%s/%s", o->target, rel) < 0) {
		path = NULL;
		log_error("%s: out of memory", Q(rel));
		rc = BW_ERR_NOMEM;
		goto out;
	}
	if ((rc = fsent_stat(path, cur)) == 0)
		rc = 1;
out:
	free(path);
	pdir_unref(o, pd);
	return rc;
}

int
fsout_note_existing(struct fsout *o, const char *rel)
{
	struct pdir *pd = NULL;
	int rc;

	if (o->ar)
		return 0;
	if ((rc = pend_settle(o, rel)) != 0 ||
	    (rc = parent_get(o, rel, NULL, 0, &pd)) != 0)
		return rc;
	rc = wt_note(o, pd, rel, 0);
	pdir_unref(o, pd);
	return rc;
}

int
fsout_entry(struct fsout *o, const char *rel, const struct fsent_entry *e)
{
	struct fsout_file *f;
	const char *why;
	int rc;

	if (fsout_check_path(rel, &why) != 0) {
		refuse(rel, why);
		return BW_ERR_INVAL;
	}
	if (e->type == FSENT_FILE) {
		if ((rc = fsout_file_open(o, rel, e, &f)) != 0)
			return rc;
		return fsout_file_commit(f);
	}
	if (o->ar)
		return arch_entry(o, rel, e);
	written_add(o, rel);
	if ((rc = pend_settle(o, rel)) != 0 ||
	    (e->type == FSENT_HARDLINK && (rc = pend_settle(o, e->link)) != 0))
		return rc;
	switch (e->type) {
	case FSENT_DIR:
		return dir_entry(o, rel, e);
	case FSENT_HARDLINK:
		return link_entry(o, rel, e);
	case FSENT_SOCK:
		log_info("%s: socket not restored (a program makes it when it "
		    "starts)", Q(rel));
		return 1;
	case FSENT_SYMLINK: case FSENT_CHR: case FSENT_BLK: case FSENT_FIFO:
		return special_entry(o, rel, e);
	default:
		refuse(rel, "unknown entry type");
		return BW_ERR_INVAL;
	}
}

static void
file_free(struct fsout_file *f)
{
	if (f == NULL)
		return;
	pdir_unref(f->o, f->pd);
	free(f->rel);
	free(f);
}

int
fsout_file_open(struct fsout *o, const char *rel, const struct fsent_entry *e,
    struct fsout_file **out)
{
	struct fsout_file *f = NULL;
	struct pdir *pd = NULL;
	const char *why;
	uint64_t x;
	size_t i;
	int rc, r, rm, dead = 0;

	*out = NULL;
	if (fsout_check_path(rel, &why) != 0) {
		refuse(rel, why);
		return BW_ERR_INVAL;
	}
	if (e->type != FSENT_FILE) {
		log_error("%s: not a regular file; use fsout_entry", Q(rel));
		return BW_ERR_INVAL;
	}
	if (o->ar)
		return arch_file_open(o, rel, e, out);
	written_add(o, rel);
	/* Data goes where the map says: overlapping or unsorted regions
	 * would write one place twice and leave another a hole. */
	if (e->nregions && !regions_ok(e)) {
		refuse(rel, "sparse map out of order, overlapping or beyond the "
		    "file's size");
		return BW_ERR_INVAL;
	}
	if ((rc = pend_settle(o, rel)) != 0)
		return rc;
	if ((rc = parent_get(o, rel, NULL, 1, &pd)) != 0)
		return rc;
	if ((rc = policy(o, pd, rel, e, &rm)) != 0)
		goto out;
	if ((f = calloc(1, sizeof(*f))) == NULL ||
	    (f->rel = strdup(rel)) == NULL) {
		log_error("%s: out of memory", Q(rel));
		rc = BW_ERR_NOMEM;
		goto out;
	}
	f->o = o;
	f->pd = pd;
	pd = NULL;
	f->base = base_of(f->rel);
	f->replace_dir = rm == 2;
	f->nlink = e->nlink;
	f->size = e->size;
	/* Unpredictable, so nobody can plant something there first (and
	 * creation is O_EXCL anyway). */
	memcpy(f->tmp, TMP_PREFIX, sizeof(TMP_PREFIX) - 1);
	o->rnd = o->rnd * 6364136223846793005ULL + 1442695040888963407ULL;
	x = o->rnd >> 16;
	for (i = 0; i < TMP_RAND; i++, x >>= 6)
		f->tmp[sizeof(TMP_PREFIX) - 1 + i] =
		    "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789-_"
		    [x & 63];
	f->tmp[TMP_LEN] = '\0';
	if ((f->a = pool_get(o, rel)) == NULL) {
		rc = BW_ERR_NOMEM;
		goto out;
	}
	/* libarchive's symlink check would open "." and look at the name:
	 * it is one fresh random component in a verified directory, and
	 * created O_EXCL, which never follows a symlink.  Four system calls
	 * per file saved; the other secure flags stay. */
	archive_write_disk_set_options(f->a,
	    o->flags & ~ARCHIVE_EXTRACT_SECURE_SYMLINKS);
	to_ae(o, o->ae, f->tmp, rel, e);
	if ((rc = enter(o, f->pd->fd, rel)) != 0)
		goto out;
	r = archive_write_header(f->a, o->ae);
	leave(o);
	if (r < ARCHIVE_WARN) {
		rc = ar_result(f->a, r, rel, "create");
		dead = r == ARCHIVE_FATAL;
		unlinkat(f->pd->fd, f->tmp, 0);
		goto out;
	}
	ar_result(f->a, r, rel, "create");
	*out = f;
	f = NULL;
	rc = 0;
out:
	if (f) {
		pool_put(o, f->a, dead);
		file_free(f);
	}
	pdir_unref(o, pd);
	return rc;
}

int
fsout_file_write(struct fsout_file *f, uint64_t off, const void *p, size_t n)
{
	int r, rc;

	if (f->failed)
		return BW_ERR_INVAL;
	if (off > f->size || n > f->size - off) {
		log_error("%s: data beyond the recorded size (%llu bytes at "
		    "%llu, size %llu)", Q(f->rel), (unsigned long long)n,
		    (unsigned long long)off, (unsigned long long)f->size);
		f->failed = 1;
		return BW_ERR_CORRUPT;
	}
	if (f->a == NULL) {
		la_ssize_t w;

		if (off < f->pos) {
			log_error("%s: archive member written out of order "
			    "(offset %llu after %llu)", Q(f->rel),
			    (unsigned long long)off,
			    (unsigned long long)f->pos);
			f->failed = 1;
			return BW_ERR_INVAL;
		}
		if ((rc = arch_zeros(f, off - f->pos)) != 0)
			goto fail;
		while (n > 0) {
			if ((w = archive_write_data(f->o->ar, p, n)) <= 0) {
				rc = w < 0 ? arch_result(f->o, (int)w, f->rel,
				    "write") : BW_ERR_IO;
				if (rc == 0)
					rc = BW_ERR_IO;
				goto fail;
			}
			p = (const char *)p + w;
			n -= (size_t)w;
			f->pos += (uint64_t)w;
		}
		return 0;
	}
	r = (int)archive_write_data_block(f->a, p, n, (la_int64_t)off);
	if (r == ARCHIVE_OK)
		return 0;
	if ((rc = ar_result(f->a, r, f->rel, "write")) == 0 && r != ARCHIVE_WARN)
		rc = BW_ERR_IO;
	if (rc == 0)
		return 0;
fail:
	f->failed = 1;
	return rc;
}

int
fsout_file_commit(struct fsout_file *f)
{
	struct fsout *o = f->o;
	int rc, r, dead = 0;

	if (f->a == NULL) {		/* archive member */
		if (f->failed) {
			arch_abandon(f);
			rc = BW_ERR_IO;
			goto out;
		}
		o->member = NULL;
		if ((rc = arch_zeros(f, f->size - f->pos)) != 0)
			goto out;
		r = archive_write_finish_entry(o->ar);
		if ((rc = arch_result(o, r, f->rel, "add to the archive")) == 0)
			rc = wt_note(o, NULL, f->rel, f->nlink);
		goto out;
	}
	if ((rc = enter(o, f->pd->fd, f->rel)) != 0) {
		unlinkat(f->pd->fd, f->tmp, 0);
		goto out;
	}
	r = archive_write_finish_entry(f->a);
	leave(o);
	dead = r == ARCHIVE_FATAL;
	rc = ar_result(f->a, r, f->rel, "restore metadata");
	if (rc == 0 && f->failed)
		rc = BW_ERR_IO;
	/* Now, so that a non-empty directory is reported for this file. */
	if (rc == 0 && f->replace_dir)
		rc = remove_old(f->pd, f->rel, 2);
	f->replace_dir = 0;
	if (rc != 0)
		unlinkat(f->pd->fd, f->tmp, 0);
	else
		rc = pend_add(o, f);	/* renamed once durable */
out:
	if (f->a)
		pool_put(o, f->a, dead);
	file_free(f);
	return rc;
}

void
fsout_file_abort(struct fsout_file *f)
{
	struct fsout *o;
	int r;

	if (f == NULL)
		return;
	o = f->o;
	if (f->a == NULL) {
		arch_abandon(f);
		file_free(f);
		return;
	}
	if (enter(o, f->pd->fd, f->rel) == 0) {
		r = archive_write_finish_entry(f->a);
		leave(o);
	} else {
		r = ARCHIVE_FATAL;
	}
	unlinkat(f->pd->fd, f->tmp, 0);
	pool_put(o, f->a, r == ARCHIVE_FATAL);
	file_free(f);
}

int
fsout_read(struct fsout *o, const char *rel, fsout_read_fn *fn, void *arg)
{
	struct pending *p;
	struct pdir *pd = NULL;
	struct stat st;
	const char *why;
	char *buf = NULL;
	ssize_t n;
	const int flags = O_RDONLY | O_NOFOLLOW | O_NOCTTY | O_NONBLOCK | O_CLOEXEC;
	int fd = -1, rc, e;

	if (o->ar) {
		log_error("%s: cannot be read back from archive %s", Q(rel),
		    Q(o->apath));
		return BW_ERR_UNSUPP;
	}
	if (fsout_check_path(rel, &why) != 0) {
		refuse(rel, why);
		return BW_ERR_INVAL;
	}
	if ((rc = parent_get(o, rel, NULL, 0, &pd)) != 0) {
		if (rc == BW_ERR_NOENT)
			log_error("%s: not in the target", Q(rel));
		return rc;
	}
	/* A committed file may still wait for its rename (no sync for a
	 * read back).  One of the batch at the sync thread may be renamed
	 * at any moment: if its temporary name is gone, it is under its
	 * final one (a rename is atomic), and nothing waits for the sync. */
	p = pend_find(o, rel);
	fd = openat(p ? p->pd->fd : pd->fd, p ? p->tmp : base_of(rel), flags);
	if (fd < 0 && errno == ENOENT && p && pend_synced(o, p))
		fd = openat(p->pd->fd, base_of(rel), flags);
	if (fd < 0 || fstat(fd, &st) != 0) {
		e = errno;
		log_error("%s: cannot read back: %s", Q(rel), strerror(e));
		rc = bw_err_from_errno(e);
		goto out;
	}
	if (!S_ISREG(st.st_mode)) {
		log_error("%s: not a regular file in the target", Q(rel));
		rc = BW_ERR_INVAL;
		goto out;
	}
	if ((buf = malloc(1 << 20)) == NULL) {
		log_error("%s: out of memory", Q(rel));
		rc = BW_ERR_NOMEM;
		goto out;
	}
	for (;;) {
		do
			n = read(fd, buf, 1 << 20);
		while (n < 0 && errno == EINTR);
		if (n < 0) {
			e = errno;
			log_error("%s: read error: %s", Q(rel), strerror(e));
			rc = BW_ERR_IO;
			goto out;
		}
		if (n == 0)
			break;
		if ((rc = fn(buf, (size_t)n, arg)) != 0)
			goto out;
	}
	rc = 0;
out:
	free(buf);
	if (fd >= 0)
		close(fd);
	pdir_unref(o, pd);
	return rc;
}

static size_t
depth_of(const char *rel)
{
	size_t n = 0;

	while ((rel = strchr(rel, '/')) != NULL) {
		rel++;
		n++;
	}
	return n;
}

static size_t
parent_len(const char *rel)
{
	const char *s = strrchr(rel, '/');

	return s ? (size_t)(s - rel) : 0;
}

/* Deepest first; siblings next to each other (a common prefix keeps
 * names together in byte order). */
static int
defdir_cmp(const void *a, const void *b)
{
	const struct defdir *x = a, *y = b;
	size_t dx = depth_of(x->rel), dy = depth_of(y->rel);

	if (dx != dy)
		return dx > dy ? -1 : 1;
	return strcmp(x->rel, y->rel);
}

/*
 * The metadata of the sibling directories dirs[i..j), through one disk
 * writer whose working directory is their verified parent, so that
 * libarchive (and its fixups at archive_write_close, which apply modes
 * and ACLs) only ever resolves a single name.
 */
static int
dirs_group(struct fsout *o, size_t i, size_t j)
{
	struct archive *a = NULL;
	struct pdir *pd = NULL;
	struct stat st;
	const char *rel = o->dirs[i].rel;
	int rc, rc2, r = ARCHIVE_OK;

	if ((rc = parent_get(o, rel, NULL, 0, &pd)) != 0) {
		if (rc == BW_ERR_NOENT)
			log_warn("%s: removed during the restore; its metadata "
			    "is not applied", Q(rel));
		return rc == BW_ERR_NOENT ? 0 : rc;
	}
	if ((a = disk_new(o)) == NULL) {
		log_error("%s: out of memory (disk writer)", Q(rel));
		rc = BW_ERR_NOMEM;
		goto out;
	}
	if ((rc = enter(o, pd->fd, rel)) != 0)
		goto out;
	for (; i < j && r != ARCHIVE_FATAL; i++) {
		struct defdir *d = &o->dirs[i];
		const char *base = base_of(d->rel);

		/* Still the directory we made or reused? */
		if (fstatat(pd->fd, base, &st, AT_SYMLINK_NOFOLLOW) != 0 ||
		    !S_ISDIR(st.st_mode) || (uint64_t)st.st_dev != d->dev ||
		    (uint64_t)st.st_ino != d->ino) {
			log_warn("%s: replaced during the restore; its "
			    "metadata is not applied", Q(d->rel));
			continue;
		}
		to_ae(o, o->ae, base, d->rel, d->meta);
		r = archive_write_header(a, o->ae);
		if (r >= ARCHIVE_WARN) {
			ar_result(a, r, d->rel, "restore metadata");
			r = archive_write_finish_entry(a);
		}
		if ((rc2 = ar_result(a, r, d->rel, "restore metadata")) != 0 &&
		    rc == 0)
			rc = rc2;
	}
	r = archive_write_close(a);
	leave(o);
	if ((rc2 = ar_result(a, r, pd->len ? pd->path : o->target,
	    "restore directory metadata")) != 0 && rc == 0)
		rc = rc2;
out:
	if (a)
		archive_write_free(a);
	pdir_unref(o, pd);
	return rc;
}

/* Directory metadata, deepest first (see dirs_group). */
static int
dirs_apply(struct fsout *o)
{
	size_t i, j, plen;
	int rc = 0, rc2;

	if (o->ndirs > 1)
		qsort(o->dirs, o->ndirs, sizeof(*o->dirs), defdir_cmp);
	for (i = 0; i < o->ndirs; i = j) {
		plen = parent_len(o->dirs[i].rel);
		for (j = i + 1; j < o->ndirs &&
		    parent_len(o->dirs[j].rel) == plen &&
		    memcmp(o->dirs[j].rel, o->dirs[i].rel, plen) == 0; j++)
			;
		if ((rc2 = dirs_group(o, i, j)) != 0 && rc == 0)
			rc = rc2;
	}
	return rc;
}

int
fsout_close(struct fsout *o)
{
	size_t i;
	int rc = 0, rc2, e;

	if (o->closed) {
		log_error("restore: fsout_close called twice");
		return BW_ERR_INVAL;
	}
	o->closed = 1;
	if (o->ar)
		return arch_close(o);
	rc = pend_flush(o);
	if ((rc2 = dirs_apply(o)) != 0 && rc == 0)
		rc = rc2;
	for (i = 0; i < o->nsync; i++) {
		if (fsout_syncfs(o->syncfd[i]) != 0) {
			e = errno;
			log_error("target %s: cannot sync the file system: %s; "
			    "the restore is not durable", Q(o->target),
			    strerror(e));
			rc2 = bw_err_from_errno(e);
			if (rc == 0)
				rc = rc2;
		}
	}
	return rc;
}

void
fsout_free(struct fsout *o)
{
	size_t i;
	struct wrote *w, *next;

	if (o == NULL)
		return;
	if (o->ar)
		archive_write_free(o->ar);
	if (o->afd >= 0)
		close(o->afd);
	if (o->atmp && o->adirfd >= 0)
		unlinkat(o->adirfd, o->atmp, 0);
	if (o->adirfd >= 0)
		close(o->adirfd);
	free(o->atmp);
	free(o->apath);
	for (i = 0; i < o->npool; i++)
		archive_write_free(o->pool[i]);
	free(o->pool);
	pend_drop(o);
	if (o->ae)
		archive_entry_free(o->ae);
	while (o->ids) {
		struct idname *n = o->ids->next;

		free(o->ids);
		o->ids = n;
	}
	for (i = 0; i < o->wtcap; i++)
		for (w = o->wt[i]; w; w = next) {
			next = w->next;
			free(w);
		}
	free(o->wt);
	for (i = 0; i < o->ndirs; i++) {
		free(o->dirs[i].rel);
		fsent_entry_free(o->dirs[i].meta);
	}
	free(o->dirs);
	for (i = 0; i < o->nsync; i++)
		close(o->syncfd[i]);
	free(o->syncfd);
	free(o->syncdev);
	free(o->seen.v);
	free(o->made.v);
	absent_clear(o);
	pdir_unref(o, o->cur);
	if (o->root) {
		o->root->fd = -1;
		pdir_unref(o, o->root);
	}
	if (o->tfd >= 0)
		close(o->tfd);
	if (o->cwdfd >= 0)
		close(o->cwdfd);
	free(o->target);
	free(o);
}
