/*
 * Durable file I/O, and the fault layer that tests put under it.
 *
 * Real path: thin wrappers over open/write/fsync/rename/unlink/mkdir that
 * retry EINTR and short writes, report each failure once (path and errno
 * text) and map errno to BW_ERR_*.
 *
 * Fault layer (tests only; all of its state is behind one mutex, held for
 * the whole of each fsio call while armed, so that two threads writing a
 * repository see a consistent model).
 *
 *  Counting.  Every mutating call counts once under its kind and under
 *  FSIO_OP_ANY: create and open_append are CREATE, write is WRITE (one per
 *  call, however many write(2)s it takes), sync and sync_dir are SYNC,
 *  rename, unlink (also the one inside fsio_abort) and mkdir count under
 *  their own kinds.  Close and read_all are not counted.  The Nth call of the
 *  armed kind fails with the chosen error and does nothing; from then on
 *  every fsio call (reads and closes too; a close still releases the fd)
 *  fails with BW_ERR_IO: the machine is dead until power_cut or disarm.
 *
 *  Durability model.  The disk is modelled as inodes and directories.
 *   - An inode (known by dev/ino while it has a name) has a durable content:
 *     what fsio_sync last made durable.  A file created while armed starts
 *     durable-empty.  A file that existed before has the content it had when
 *     first touched, captured lazily just before the first change: when it is
 *     opened for writing or appending, renamed (from or over) or unlinked, or
 *     at the first write through a handle opened before arming.  A file
 *     never changed through fsio is left as it is.
 *   - A directory (known by dev/ino, restored through the absolute path it
 *     had when first touched) has a durable set of entries, name -> inode,
 *     name -> directory, or name -> other (left alone): its listing when
 *     first touched while armed, then its listing at each fsio_sync_dir.
 *  fsio_fault_power_cut() visits every touched directory, parents first,
 *  and makes it match its durable set: names not in it are removed
 *  (directories recursively), names in it are recreated, and every file
 *  name gets its inode's durable content (rewritten unless the name still
 *  holds that inode untouched).  So an unsynced write is dropped, a file
 *  whose creation was not followed by a directory sync disappears, and a
 *  rename or unlink not followed by a directory sync is undone with the
 *  durable content restored.  Then the layer is disarmed.
 *  Not modelled: renaming directories (a directory is restored at its first
 *  path), hard links (restored as separate files), metadata other than the
 *  mode, and changes made behind fsio's back.  Handles open across a power
 *  cut may only be closed.
 *  Everything is kept in memory: test repositories are small.
 */
#include "config.h"

#include <sys/types.h>
#include <sys/random.h>
#include <sys/stat.h>
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <ftw.h>
#include <limits.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "lib/util/err.h"
#include "lib/util/fsio.h"
#include "lib/util/log.h"

struct fnode;

struct fsio_file {
	int fd;
	char *path;
	uint64_t size;
	struct fnode *node;	/* fault model; valid while gen == fault.gen */
	unsigned long gen;
};

/* Not an fsio_op: a call that is refused when dead but never counted. */
#define OP_UNCOUNTED (-1)

/* ---------------------------------------------------------------- helpers */

static int
sys_fail(const char *path, const char *what, int e)
{
	int err;

	if (e == 0)
		e = EIO;
	err = bw_err_from_errno(e);
	if (err == BW_ERR_NOSPC)
		log_error("%s: cannot %s: %s; free space on that file system "
		    "and retry", path, what, strerror(e));
	else
		log_error("%s: cannot %s: %s", path, what, strerror(e));
	return err;
}

/* Parent directory of path (malloc'd): "a/b" -> "a", "b" -> ".", "/b" -> "/". */
static char *
path_dir(const char *path)
{
	size_t n = strlen(path);
	char *d;

	while (n > 1 && path[n - 1] == '/')
		n--;
	while (n > 0 && path[n - 1] != '/')
		n--;
	if (n == 0)
		return strdup(".");
	while (n > 1 && path[n - 1] == '/')
		n--;
	if ((d = malloc(n + 1)) == NULL)
		return NULL;
	memcpy(d, path, n);
	d[n] = 0;
	return d;
}

/* Reads everything from fd (from offset 0) into a malloc'd buffer. */
static int
read_fd(int fd, uint8_t **out, size_t *outlen, size_t max, int *toobig)
{
	uint8_t *p = NULL, *np;
	size_t len = 0, cap = 0;
	ssize_t r;

	*toobig = 0;
	for (;;) {
		if (len == cap) {
			cap = cap ? cap * 2 : 4096;
			if ((np = realloc(p, cap)) == NULL) {
				free(p);
				return ENOMEM;
			}
			p = np;
		}
		r = pread(fd, p + len, cap - len, (off_t)len);
		if (r < 0) {
			if (errno == EINTR)
				continue;
			r = errno;
			free(p);
			return (int)r;
		}
		if (r == 0)
			break;
		len += (size_t)r;
		if (len > max) {
			free(p);
			*toobig = 1;
			return 0;
		}
	}
	*out = p;
	*outlen = len;
	return 0;
}

static int
open_retry(const char *path, int flags, mode_t mode)
{
	int fd;

	do
		fd = open(path, flags, mode);
	while (fd < 0 && errno == EINTR);
	return fd;
}

/* ------------------------------------------------------------ fault model */

struct fnode {
	dev_t dev;
	ino_t ino;
	int live;	/* (dev, ino) still names this inode */
	int captured;	/* data holds the durable content (else: as on disk) */
	mode_t mode;
	uint8_t *data;
	size_t len;
};

enum fent_type { FENT_FILE, FENT_DIR, FENT_OTHER };

struct fent {
	char *name;
	enum fent_type type;
	struct fnode *node;	/* FENT_FILE */
	mode_t mode;
};

struct fdir {
	dev_t dev;
	ino_t ino;
	char *path;		/* absolute, as first touched */
	struct fent *ents;	/* the durable set */
	size_t nents;
};

static struct {
	pthread_mutex_t lock;
	int armed, dead, fired, err;
	enum fsio_op kind;
	unsigned long nth;
	unsigned long count[FSIO_OP_MKDIR + 1];
	unsigned long gen;
	struct fnode **nodes;
	size_t nnodes;
	struct fdir **dirs;
	size_t ndirs;
} fault = { .lock = PTHREAD_MUTEX_INITIALIZER };

static const char *const op_name[] = {
	"operate on", "write", "sync", "rename", "create", "unlink", "create directory"
};

static void
ents_free(struct fent *e, size_t n)
{
	size_t i;

	for (i = 0; i < n; i++)
		free(e[i].name);
	free(e);
}

static void
model_free(void)
{
	size_t i;

	for (i = 0; i < fault.nnodes; i++) {
		free(fault.nodes[i]->data);
		free(fault.nodes[i]);
	}
	free(fault.nodes);
	fault.nodes = NULL;
	fault.nnodes = 0;
	for (i = 0; i < fault.ndirs; i++) {
		ents_free(fault.dirs[i]->ents, fault.dirs[i]->nents);
		free(fault.dirs[i]->path);
		free(fault.dirs[i]);
	}
	free(fault.dirs);
	fault.dirs = NULL;
	fault.ndirs = 0;
	fault.gen++;
}

static struct fnode *
node_find(const struct stat *st)
{
	size_t i;

	for (i = 0; i < fault.nnodes; i++)
		if (fault.nodes[i]->live && fault.nodes[i]->dev == st->st_dev &&
		    fault.nodes[i]->ino == st->st_ino)
			return fault.nodes[i];
	return NULL;
}

/* The node for st; fresh means the inode was just created (durable-empty,
 * and any old node with the same number is stale). */
static struct fnode *
node_get(const struct stat *st, int fresh)
{
	struct fnode *n, **nv;

	if ((n = node_find(st)) != NULL) {
		if (!fresh)
			return n;
		n->live = 0;
	}
	nv = realloc(fault.nodes, (fault.nnodes + 1) * sizeof(*nv));
	if (nv == NULL)
		return NULL;
	fault.nodes = nv;
	if ((n = calloc(1, sizeof(*n))) == NULL)
		return NULL;
	n->dev = st->st_dev;
	n->ino = st->st_ino;
	n->live = 1;
	n->captured = fresh;
	n->mode = st->st_mode & 07777;
	fault.nodes[fault.nnodes++] = n;
	return n;
}

static int
node_capture_fd(struct fnode *n, int fd)
{
	int e, toobig;

	if (n->captured)
		return 0;
	if ((e = read_fd(fd, &n->data, &n->len, SIZE_MAX / 2, &toobig)) != 0)
		return e;
	n->captured = 1;
	return 0;
}

/* Captures the content of a write-only handle by reopening it for reading. */
static int
node_capture_file(struct fnode *n, struct fsio_file *f)
{
	char proc[64];
	int fd, e;

	if (n->captured)
		return 0;
	snprintf(proc, sizeof(proc), "/proc/self/fd/%d", f->fd);
	if ((fd = open_retry(proc, O_RDONLY | O_CLOEXEC, 0)) < 0 &&
	    (fd = open_retry(f->path, O_RDONLY | O_CLOEXEC | O_NOFOLLOW, 0)) < 0)
		return errno;
	e = node_capture_fd(n, fd);
	close(fd);
	return e;
}

/* Updates n's durable content to what the file holds now (fsio_sync). */
static int
node_sync(struct fnode *n, struct fsio_file *f)
{
	free(n->data);
	n->data = NULL;
	n->len = 0;
	n->captured = 0;
	return node_capture_file(n, f);
}

/* Node of the regular file at path with its content captured; NULL and 0
 * if there is no regular file there.  *nlink gets its link count. */
static int
node_at(const char *path, struct fnode **out, nlink_t *nlink)
{
	struct stat st;
	struct fnode *n;
	int fd, e;

	*out = NULL;
	if (lstat(path, &st) < 0 || !S_ISREG(st.st_mode))
		return 0;
	if (nlink)
		*nlink = st.st_nlink;
	if ((n = node_get(&st, 0)) == NULL)
		return ENOMEM;
	if (!n->captured) {
		if ((fd = open_retry(path, O_RDONLY | O_CLOEXEC | O_NOFOLLOW, 0)) < 0)
			return errno;
		e = node_capture_fd(n, fd);
		close(fd);
		if (e)
			return e;
	}
	*out = n;
	return 0;
}

/* The current listing of path, as durable-set entries. */
static int
list_dir(const char *path, struct fent **out, size_t *nout)
{
	struct fent *ents = NULL, *ne;
	size_t n = 0;
	struct dirent *de;
	struct stat st;
	DIR *d;
	int e = 0;

	if ((d = opendir(path)) == NULL)
		return errno;
	while ((errno = 0, de = readdir(d)) != NULL) {
		if (!strcmp(de->d_name, ".") || !strcmp(de->d_name, ".."))
			continue;
		if (fstatat(dirfd(d), de->d_name, &st, AT_SYMLINK_NOFOLLOW) < 0)
			continue;	/* gone meanwhile */
		if ((ne = realloc(ents, (n + 1) * sizeof(*ne))) == NULL) {
			e = ENOMEM;
			goto out;
		}
		ents = ne;
		memset(&ents[n], 0, sizeof(ents[n]));
		if ((ents[n].name = strdup(de->d_name)) == NULL) {
			e = ENOMEM;
			goto out;
		}
		ents[n].mode = st.st_mode & 07777;
		if (S_ISREG(st.st_mode)) {
			ents[n].type = FENT_FILE;
			if ((ents[n].node = node_get(&st, 0)) == NULL) {
				free(ents[n].name);
				e = ENOMEM;
				goto out;
			}
		} else {
			ents[n].type = S_ISDIR(st.st_mode) ? FENT_DIR : FENT_OTHER;
		}
		n++;
	}
	e = errno;
out:
	closedir(d);
	if (e) {
		ents_free(ents, n);
		return e;
	}
	*out = ents;
	*nout = n;
	return 0;
}

/* The tracked directory at path, starting to track it if new. */
static int
dir_track(const char *path, struct fdir **out)
{
	struct fdir *d = NULL, **dv;
	struct stat st;
	size_t i;
	int e;

	if (stat(path, &st) < 0)
		return errno;
	for (i = 0; i < fault.ndirs; i++)
		if (fault.dirs[i]->dev == st.st_dev && fault.dirs[i]->ino == st.st_ino) {
			if (out)
				*out = fault.dirs[i];
			return 0;
		}
	if ((dv = realloc(fault.dirs, (fault.ndirs + 1) * sizeof(*dv))) == NULL)
		return ENOMEM;
	fault.dirs = dv;
	if ((d = calloc(1, sizeof(*d))) == NULL)
		return ENOMEM;
	d->dev = st.st_dev;
	d->ino = st.st_ino;
	if ((d->path = realpath(path, NULL)) == NULL) {
		e = errno;
		goto fail;
	}
	if ((e = list_dir(path, &d->ents, &d->nents)) != 0)
		goto fail;
	fault.dirs[fault.ndirs++] = d;
	if (out)
		*out = d;
	return 0;
fail:
	free(d->path);
	free(d);
	return e;
}

static int
dir_track_parent(const char *path)
{
	char *dir = path_dir(path);
	int e;

	if (dir == NULL)
		return ENOMEM;
	e = dir_track(dir, NULL);
	free(dir);
	return e;
}

/* Attaches a handle opened before arming (or before the last power cut's
 * new arming) to the model, capturing its content before the first change. */
static int
file_attach(struct fsio_file *f)
{
	struct stat st;
	int e;

	if (f->node && f->gen == fault.gen)
		return 0;
	if ((e = dir_track_parent(f->path)) != 0)
		return e;
	if (fstat(f->fd, &st) < 0)
		return errno;
	if ((f->node = node_get(&st, 0)) == NULL)
		return ENOMEM;
	f->gen = fault.gen;
	return node_capture_file(f->node, f);
}

/*
 * Entry of every fsio call.  Returns 0 to go on, with *held set if the layer
 * is armed (the lock then stays held until fault_leave), or the injected
 * error (logged).
 */
static int
fault_enter(int kind, const char *path, int *held)
{
	int err;

	*held = 0;
	pthread_mutex_lock(&fault.lock);
	if (!fault.armed) {
		pthread_mutex_unlock(&fault.lock);
		return 0;
	}
	if (fault.dead) {
		pthread_mutex_unlock(&fault.lock);
		log_error("%s: cannot %s: %s (simulated dead machine)", path,
		    kind > 0 ? op_name[kind] : "access", bw_strerror(BW_ERR_IO));
		return BW_ERR_IO;
	}
	if (kind >= 0) {
		fault.count[kind]++;
		fault.count[FSIO_OP_ANY]++;
		if (fault.nth && (fault.kind == FSIO_OP_ANY || (int)fault.kind == kind) &&
		    fault.count[fault.kind] == fault.nth) {
			fault.dead = fault.fired = 1;
			err = fault.err;
			pthread_mutex_unlock(&fault.lock);
			log_error("%s: cannot %s: %s (injected fault)", path,
			    op_name[kind], bw_strerror(err));
			return err;
		}
	}
	*held = 1;
	return 0;
}

static void
fault_leave(int held)
{
	if (held)
		pthread_mutex_unlock(&fault.lock);
}

/* A model failure is reported like the I/O error it stands for. */
static int
model_fail(const char *path, int e)
{
	log_error("%s: fault layer cannot track the file: %s", path, strerror(e));
	return bw_err_from_errno(e) ? bw_err_from_errno(e) : BW_ERR_IO;
}

/* ---------------------------------------------------------------- files */

static int
open_file(const char *path, int flags, mode_t mode, int kind_exist_quiet,
    struct fsio_file **out)
{
	struct fsio_file *f = NULL;
	struct fnode *old = NULL;
	struct stat st;
	int fd = -1, held, err, e;

	*out = NULL;
	if ((err = fault_enter(FSIO_OP_CREATE, path, &held)) != 0)
		return err;
	if (held) {
		if ((e = dir_track_parent(path)) != 0 ||
		    (e = node_at(path, &old, NULL)) != 0) {
			err = model_fail(path, e);
			goto out;
		}
	}
	if ((fd = open_retry(path, flags | O_CLOEXEC, mode)) < 0) {
		e = errno;
		if (e == EEXIST && kind_exist_quiet)
			err = BW_ERR_EXIST;
		else
			err = sys_fail(path, "open for writing", e);
		goto out;
	}
	if ((f = calloc(1, sizeof(*f))) == NULL ||
	    (f->path = strdup(path)) == NULL) {
		err = sys_fail(path, "open for writing", ENOMEM);
		goto out;
	}
	f->fd = fd;
	if (fstat(fd, &st) < 0) {
		err = sys_fail(path, "stat", errno);
		goto out;
	}
	f->size = (flags & O_APPEND) ? (uint64_t)st.st_size : 0;
	if (held) {
		/* a new inode is durable-empty; an old one was captured above */
		if ((f->node = old ? old : node_get(&st, 1)) == NULL) {
			err = model_fail(path, ENOMEM);
			goto out;
		}
		if (old && (old->dev != st.st_dev || old->ino != st.st_ino))
			f->node = node_get(&st, 1);	/* replaced meanwhile */
		f->gen = fault.gen;
	}
	*out = f;
	f = NULL;
	fd = -1;
	err = 0;
out:
	fault_leave(held);
	if (f) {
		free(f->path);
		free(f);
	}
	if (fd >= 0)
		close(fd);
	return err;
}

int
fsio_create(const char *path, int excl, mode_t mode, struct fsio_file **out)
{
	int flags = O_WRONLY | O_CREAT | (excl ? O_EXCL : O_TRUNC);

	return open_file(path, flags, mode ? mode : 0600, excl, out);
}

int
fsio_open_append(const char *path, struct fsio_file **out)
{
	return open_file(path, O_WRONLY | O_CREAT | O_APPEND, 0600, 0, out);
}

int
fsio_write(struct fsio_file *f, const void *p, size_t n)
{
	const uint8_t *c = p;
	ssize_t r;
	int held, err, e;

	if ((err = fault_enter(FSIO_OP_WRITE, f->path, &held)) != 0)
		return err;
	if (held && (e = file_attach(f)) != 0) {
		err = model_fail(f->path, e);
		goto out;
	}
	while (n > 0) {
		r = write(f->fd, c, n);
		if (r < 0 && errno == EINTR)
			continue;
		if (r <= 0) {
			err = sys_fail(f->path, "write", r < 0 ? errno : EIO);
			goto out;
		}
		c += r;
		n -= (size_t)r;
		f->size += (uint64_t)r;
	}
out:
	fault_leave(held);
	return err;
}

int
fsio_sync(struct fsio_file *f)
{
	int held, err, e, r;

	if ((err = fault_enter(FSIO_OP_SYNC, f->path, &held)) != 0)
		return err;
	if (held && (e = file_attach(f)) != 0) {
		err = model_fail(f->path, e);
		goto out;
	}
	do
		r = fsync(f->fd);
	while (r < 0 && errno == EINTR);
	if (r < 0) {
		err = sys_fail(f->path, "fsync", errno);
		goto out;
	}
	if (held && (e = node_sync(f->node, f)) != 0)
		err = model_fail(f->path, e);
out:
	fault_leave(held);
	return err;
}

uint64_t
fsio_size(const struct fsio_file *f)
{
	return f->size;
}

int
fsio_close(struct fsio_file *f)
{
	int held, err;

	if (f == NULL)
		return 0;
	err = fault_enter(OP_UNCOUNTED, f->path, &held);
	fault_leave(held);
	/* Linux releases the fd even when close fails; never retry. */
	if (close(f->fd) < 0 && errno != EINTR && err == 0)
		err = sys_fail(f->path, "close", errno);
	free(f->path);
	free(f);
	return err;
}

void
fsio_abort(struct fsio_file *f, const char *path)
{
	if (f == NULL)
		return;
	close(f->fd);
	free(f->path);
	free(f);
	(void)fsio_unlink(path);
}

/* ----------------------------------------------------------- directories */

int
fsio_rename(const char *from, const char *to)
{
	struct fnode *src = NULL, *dst = NULL;
	nlink_t dlinks = 0;
	int held, err, e;

	if ((err = fault_enter(FSIO_OP_RENAME, to, &held)) != 0)
		return err;
	if (held) {
		if ((e = dir_track_parent(from)) != 0 ||
		    (e = dir_track_parent(to)) != 0 ||
		    (e = node_at(from, &src, NULL)) != 0 ||
		    (e = node_at(to, &dst, &dlinks)) != 0) {
			err = model_fail(from, e);
			goto out;
		}
	}
	if (rename(from, to) < 0) {
		e = errno;
		log_error("%s: cannot rename to %s: %s", from, to, strerror(e));
		err = bw_err_from_errno(e);
		goto out;
	}
	if (dst && dst != src && dlinks == 1)
		dst->live = 0;	/* freed once closed: its number may come back */
out:
	fault_leave(held);
	return err;
}

int
fsio_unlink(const char *path)
{
	struct fnode *n = NULL;
	nlink_t links = 0;
	int held, err, e;

	if ((err = fault_enter(FSIO_OP_UNLINK, path, &held)) != 0)
		return err;
	if (held) {
		if ((e = dir_track_parent(path)) != 0 ||
		    (e = node_at(path, &n, &links)) != 0) {
			err = model_fail(path, e);
			goto out;
		}
	}
	if (unlink(path) < 0) {
		e = errno;
		err = e == ENOENT ? BW_ERR_NOENT : sys_fail(path, "remove", e);
		goto out;
	}
	if (n && links == 1)
		n->live = 0;
out:
	fault_leave(held);
	return err;
}

int
fsio_mkdir(const char *path, mode_t mode)
{
	int held, err, e;

	if ((err = fault_enter(FSIO_OP_MKDIR, path, &held)) != 0)
		return err;
	if (held && (e = dir_track_parent(path)) != 0) {
		err = model_fail(path, e);
		goto out;
	}
	if (mkdir(path, mode) < 0) {
		e = errno;
		err = e == EEXIST ? BW_ERR_EXIST : sys_fail(path, "create directory", e);
	}
out:
	fault_leave(held);
	return err;
}

int
fsio_sync_dir(const char *dir)
{
	struct fdir *d;
	struct fent *ents;
	size_t nents;
	int held, err, e, fd = -1, r;

	if ((err = fault_enter(FSIO_OP_SYNC, dir, &held)) != 0)
		return err;
	if ((fd = open_retry(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC, 0)) < 0) {
		err = sys_fail(dir, "open directory", errno);
		goto out;
	}
	do
		r = fsync(fd);
	while (r < 0 && errno == EINTR);
	if (r < 0) {
		err = sys_fail(dir, "fsync directory", errno);
		goto out;
	}
	if (held) {
		if ((e = dir_track(dir, &d)) != 0 ||
		    (e = list_dir(dir, &ents, &nents)) != 0) {
			err = model_fail(dir, e);
			goto out;
		}
		ents_free(d->ents, d->nents);
		d->ents = ents;
		d->nents = nents;
	}
out:
	fault_leave(held);
	if (fd >= 0)
		close(fd);
	return err;
}

static int
random_hex(char out[17])
{
	uint8_t r[8];
	size_t got = 0;
	ssize_t n;

	while (got < sizeof(r)) {
		n = getrandom(r + got, sizeof(r) - got, 0);
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0)
			return errno;
		got += (size_t)n;
	}
	for (n = 0; n < 8; n++)
		snprintf(out + 2 * n, 3, "%02x", r[n]);
	return 0;
}

int
fsio_write_atomic(const char *path, const void *p, size_t n, mode_t mode)
{
	struct fsio_file *f = NULL;
	char *dir = NULL, *tmp = NULL, hex[17];
	const char *base;
	size_t plen = strlen(path), blen;
	int err, e, created = 0, renamed = 0;

	base = strrchr(path, '/');
	base = base ? base + 1 : path;
	if (*base == 0) {
		log_error("%s: cannot write: not a file name", path);
		return BW_ERR_INVAL;
	}
	blen = strlen(base);
	if ((e = random_hex(hex)) != 0) {
		err = sys_fail(path, "get random bytes for a temporary name", e);
		goto out;
	}
	if ((dir = path_dir(path)) == NULL ||
	    (tmp = malloc(plen + 32)) == NULL) {
		err = sys_fail(path, "write", ENOMEM);
		goto out;
	}
	snprintf(tmp, plen + 32, "%.*s.tmp-%s-%s", (int)(plen - blen), path,
	    base, hex);
	if ((err = fsio_create(tmp, 1, mode, &f)) != 0)
		goto out;
	created = 1;
	if ((err = fsio_write(f, p, n)) != 0 || (err = fsio_sync(f)) != 0)
		goto out;
	err = fsio_close(f);
	f = NULL;
	if (err)
		goto out;
	if ((err = fsio_rename(tmp, path)) != 0)
		goto out;
	renamed = 1;
	err = fsio_sync_dir(dir);
out:
	if (f)
		fsio_abort(f, tmp);
	else if (err && created && !renamed)
		(void)fsio_unlink(tmp);
	free(dir);
	free(tmp);
	return err;
}

int
fsio_read_all(const char *path, size_t max, uint8_t **out, size_t *n)
{
	uint8_t *p = NULL;
	size_t len = 0;
	struct stat st;
	int fd = -1, held, err, e, toobig;

	*out = NULL;
	*n = 0;
	err = fault_enter(OP_UNCOUNTED, path, &held);
	fault_leave(held);
	if (err)
		return err;
	if ((fd = open_retry(path, O_RDONLY | O_CLOEXEC, 0)) < 0) {
		e = errno;
		return e == ENOENT ? BW_ERR_NOENT : sys_fail(path, "open", e);
	}
	/* the size is only a hint (the file may grow), but spares reading a
	 * huge file just to refuse it */
	toobig = fstat(fd, &st) == 0 && (uint64_t)st.st_size > max;
	if (!toobig && (e = read_fd(fd, &p, &len, max, &toobig)) != 0) {
		err = sys_fail(path, "read", e);
		goto out;
	}
	if (toobig) {
		log_error("%s: larger than %zu bytes; the file is damaged or "
		    "not what it should be", path, max);
		err = BW_ERR_CORRUPT;
		goto out;
	}
	*out = p;
	*n = len;
	p = NULL;
out:
	free(p);
	close(fd);
	return err;
}

/* ------------------------------------------------------------ power cut */

static int
rm_cb(const char *path, const struct stat *st, int type, struct FTW *ftw)
{
	(void)st;
	(void)type;
	(void)ftw;
	if (remove(path) < 0)
		log_warn("%s: power cut: cannot remove: %s", path, strerror(errno));
	return 0;
}

static void
rm_rf(const char *path)
{
	nftw(path, rm_cb, 16, FTW_DEPTH | FTW_PHYS);
}

static void
restore_file(const char *path, const struct fent *ent)
{
	struct fnode *n = ent->node;
	struct stat st;
	size_t off = 0;
	ssize_t r;
	int fd, same;

	same = lstat(path, &st) == 0 && S_ISREG(st.st_mode) && n->live &&
	    st.st_dev == n->dev && st.st_ino == n->ino;
	if (same && !n->captured)
		return;		/* never changed */
	if (!n->captured) {
		log_warn("%s: power cut: content was never seen, cannot restore", path);
		return;
	}
	if (!same) {
		if (lstat(path, &st) == 0 && S_ISDIR(st.st_mode))
			rm_rf(path);
		else
			unlink(path);
	}
	if ((fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_NOFOLLOW |
	    O_CLOEXEC, n->mode)) < 0) {
		log_warn("%s: power cut: cannot restore: %s", path, strerror(errno));
		return;
	}
	while (off < n->len) {
		r = write(fd, n->data + off, n->len - off);
		if (r < 0 && errno == EINTR)
			continue;
		if (r <= 0) {
			log_warn("%s: power cut: cannot restore: %s", path,
			    strerror(r < 0 ? errno : EIO));
			break;
		}
		off += (size_t)r;
	}
	close(fd);
}

static void
restore_dir(const struct fdir *d)
{
	struct fent *now = NULL;
	size_t nnow = 0, i, j;
	struct stat st;
	char *p;
	size_t plen;

	if (stat(d->path, &st) < 0 || !S_ISDIR(st.st_mode))
		return;		/* its own parent's restore removed it */
	if (list_dir(d->path, &now, &nnow) != 0) {
		log_warn("%s: power cut: cannot list directory", d->path);
		return;
	}
	plen = strlen(d->path) + NAME_MAX + 2;
	if ((p = malloc(plen)) == NULL)
		goto out;
	for (i = 0; i < nnow; i++) {
		for (j = 0; j < d->nents; j++)
			if (!strcmp(now[i].name, d->ents[j].name))
				break;
		if (j < d->nents)
			continue;
		snprintf(p, plen, "%s/%s", d->path, now[i].name);
		if (now[i].type == FENT_DIR)
			rm_rf(p);
		else
			unlink(p);
	}
	for (j = 0; j < d->nents; j++) {
		snprintf(p, plen, "%s/%s", d->path, d->ents[j].name);
		switch (d->ents[j].type) {
		case FENT_FILE:
			restore_file(p, &d->ents[j]);
			break;
		case FENT_DIR:
			if (lstat(p, &st) == 0 && S_ISDIR(st.st_mode))
				break;
			unlink(p);
			if (mkdir(p, d->ents[j].mode) < 0)
				log_warn("%s: power cut: cannot recreate: %s", p,
				    strerror(errno));
			break;
		case FENT_OTHER:
			break;
		}
	}
out:
	free(p);
	ents_free(now, nnow);
}

static int
dir_cmp(const void *a, const void *b)
{
	size_t la = strlen((*(struct fdir *const *)a)->path);
	size_t lb = strlen((*(struct fdir *const *)b)->path);

	return la < lb ? -1 : la > lb;
}

/* ------------------------------------------------------------- controls */

void
fsio_fault_arm(enum fsio_op kind, unsigned long nth, int err)
{
	pthread_mutex_lock(&fault.lock);
	model_free();
	fault.kind = kind;
	fault.nth = nth;
	fault.err = err ? err : BW_ERR_IO;
	memset(fault.count, 0, sizeof(fault.count));
	fault.dead = fault.fired = 0;
	fault.armed = 1;
	pthread_mutex_unlock(&fault.lock);
}

unsigned long
fsio_fault_count(enum fsio_op kind)
{
	unsigned long n;

	if ((int)kind < 0 || kind > FSIO_OP_MKDIR)
		return 0;
	pthread_mutex_lock(&fault.lock);
	n = fault.count[kind];
	pthread_mutex_unlock(&fault.lock);
	return n;
}

int
fsio_fault_fired(void)
{
	int r;

	pthread_mutex_lock(&fault.lock);
	r = fault.fired;
	pthread_mutex_unlock(&fault.lock);
	return r;
}

void
fsio_fault_power_cut(void)
{
	size_t i;

	pthread_mutex_lock(&fault.lock);
	if (fault.armed) {
		if (fault.ndirs)
			qsort(fault.dirs, fault.ndirs, sizeof(*fault.dirs), dir_cmp);
		for (i = 0; i < fault.ndirs; i++)
			restore_dir(fault.dirs[i]);
	}
	model_free();
	fault.armed = fault.dead = 0;
	pthread_mutex_unlock(&fault.lock);
}

void
fsio_fault_disarm(void)
{
	pthread_mutex_lock(&fault.lock);
	model_free();
	fault.armed = fault.dead = 0;
	pthread_mutex_unlock(&fault.lock);
}
