/*
 * A plain stand-in for lib/fsent's writer (lib/fsent/fsout.h) for the
 * restore engine's unit tests: the same contract for a target directory
 * (path checks, temporary file then rename, "left alone" answers), none of
 * libarchive's metadata work (no owners, xattrs or ACLs; no archives).
 * The engine's own behaviour is what these tests look at; the integration
 * test drives the real writer through the bulwark command.
 */
#include "config.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>
#include <unistd.h>

#include "lib/fsent/fsout.h"
#include "lib/util/err.h"
#include "lib/util/log.h"

struct fsout {
	char *target;
	enum fsout_overwrite ow;
	struct dmeta { char *path; uint32_t mode; struct timespec ts[2]; } *dirs;
	size_t ndirs;
};

struct fsout_file {
	struct fsout *o;
	char tmp[PATH_MAX + 32], path[PATH_MAX];
	int fd;
	uint32_t mode;
	uint64_t size;
	struct timespec ts[2];
};

int
fsout_open(const struct fsout_opts *o, struct fsout **out)
{
	struct fsout *w;

	if (!o->target || o->archive)
		return BW_ERR_INVAL;
	if (mkdir(o->target, 0700) != 0 && errno != EEXIST)
		return bw_err_from_errno(errno);
	if ((w = calloc(1, sizeof(*w))) == NULL || (w->target = strdup(o->target)) == NULL) {
		free(w);
		return BW_ERR_NOMEM;
	}
	w->ow = o->overwrite;
	*out = w;
	return 0;
}

int
fsout_check_path(const char *rel, const char **why)
{
	const char *p = rel, *q;
	size_t n;

	if (!*rel || rel[0] == '/') {
		*why = "absolute or empty path";
		return BW_ERR_INVAL;
	}
	if (strlen(rel) >= PATH_MAX) {
		*why = "path longer than PATH_MAX";
		return BW_ERR_INVAL;
	}
	for (;;) {
		q = strchr(p, '/');
		n = q ? (size_t)(q - p) : strlen(p);
		if (n == 0 || (n == 1 && p[0] == '.') || (n == 2 && p[0] == '.' && p[1] == '.')) {
			*why = "empty, \".\" or \"..\" component";
			return BW_ERR_INVAL;
		}
		if (n > NAME_MAX) {
			*why = "name longer than NAME_MAX";
			return BW_ERR_INVAL;
		}
		if (!q)
			return 0;
		p = q + 1;
	}
}

/* Checks rel and makes its missing parents; full path into out. */
static int
prepare(struct fsout *o, const char *rel, char *out)
{
	const char *why = NULL;
	struct stat sb;
	char *s;

	if (fsout_check_path(rel, &why) != 0 ||
	    (size_t)snprintf(out, PATH_MAX, "%s/%s", o->target, rel) >= PATH_MAX) {
		log_error("fake fsout: %s: refused: %s", rel, why ? why : "too long");
		return BW_ERR_INVAL;
	}
	for (s = out + strlen(o->target) + 1; (s = strchr(s, '/')) != NULL; s++) {
		*s = '\0';
		if (lstat(out, &sb) != 0) {
			if (mkdir(out, 0700) != 0) {
				*s = '/';
				return bw_err_from_errno(errno);
			}
		} else if (!S_ISDIR(sb.st_mode)) {
			log_error("fake fsout: %s: refused: a parent is not a directory", rel);
			*s = '/';
			return BW_ERR_INVAL;
		}
		*s = '/';
	}
	return 0;
}

int
fsout_existing(struct fsout *o, const char *rel, struct fsent_entry **cur)
{
	char path[PATH_MAX], lnk[PATH_MAX];
	const char *why;
	struct fsent_entry *e;
	struct stat sb;
	ssize_t n;

	if (fsout_check_path(rel, &why) != 0)
		return BW_ERR_INVAL;
	snprintf(path, sizeof(path), "%s/%s", o->target, rel);
	if (lstat(path, &sb) != 0)
		return 0;
	if ((e = calloc(1, sizeof(*e))) == NULL)
		return BW_ERR_NOMEM;
	e->type = S_ISREG(sb.st_mode) ? FSENT_FILE : S_ISDIR(sb.st_mode) ? FSENT_DIR :
	    S_ISLNK(sb.st_mode) ? FSENT_SYMLINK : FSENT_FIFO;
	e->size = (uint64_t)sb.st_size;
	e->dev = sb.st_dev;
	e->ino = sb.st_ino;
	e->mtime_sec = sb.st_mtim.tv_sec;
	e->mtime_nsec = (uint32_t)sb.st_mtim.tv_nsec;
	if (S_ISLNK(sb.st_mode) && (n = readlink(path, lnk, sizeof(lnk) - 1)) >= 0) {
		lnk[n] = '\0';
		e->link = strdup(lnk);
	}
	*cur = e;
	return 1;
}

static void
times_of(const struct fsent_entry *e, struct timespec ts[2])
{
	ts[0].tv_sec = e->atime_sec;
	ts[0].tv_nsec = e->atime_nsec;
	ts[1].tv_sec = e->mtime_sec;
	ts[1].tv_nsec = e->mtime_nsec;
}

int
fsout_entry(struct fsout *o, const char *rel, const struct fsent_entry *e)
{
	char path[PATH_MAX], lp[PATH_MAX];
	struct timespec ts[2];
	struct stat sb;
	struct dmeta *d;
	int rc;

	if ((rc = prepare(o, rel, path)) != 0)
		return rc;
	times_of(e, ts);
	if (lstat(path, &sb) == 0) {
		if (e->type == FSENT_DIR && S_ISDIR(sb.st_mode))
			goto dir;
		if (o->ow == FSOUT_NEVER)
			return 1;
		if (S_ISDIR(sb.st_mode) ? rmdir(path) : unlink(path))
			return bw_err_from_errno(errno);
	}
	switch (e->type) {
	case FSENT_DIR:
		if (mkdir(path, 0700) != 0)
			return bw_err_from_errno(errno);
		goto dir;
	case FSENT_SYMLINK:
		if (symlink(e->link ? e->link : "", path) != 0)
			return bw_err_from_errno(errno);
		utimensat(AT_FDCWD, path, ts, AT_SYMLINK_NOFOLLOW);
		return 0;
	case FSENT_HARDLINK:
		if (!e->link || fsout_check_path(e->link, &(const char *){ NULL }) != 0)
			return BW_ERR_INVAL;
		snprintf(lp, sizeof(lp), "%s/%s", o->target, e->link);
		if (lstat(lp, &sb) != 0 || !S_ISREG(sb.st_mode))
			return BW_ERR_INVAL;
		return link(lp, path) == 0 ? 0 : bw_err_from_errno(errno);
	case FSENT_FIFO:
		if (mkfifo(path, e->mode & 07777) != 0)
			return bw_err_from_errno(errno);
		break;
	default:
		return 0;	/* devices need root: not in these tests */
	}
	chmod(path, e->mode & 07777);
	utimensat(AT_FDCWD, path, ts, 0);
	return 0;
dir:
	if ((d = realloc(o->dirs, (o->ndirs + 1) * sizeof(*d))) == NULL)
		return BW_ERR_NOMEM;
	o->dirs = d;
	d[o->ndirs].path = strdup(path);
	d[o->ndirs].mode = e->mode & 07777;
	memcpy(d[o->ndirs].ts, ts, sizeof(ts));
	o->ndirs++;
	return 0;
}

int
fsout_file_open(struct fsout *o, const char *rel, const struct fsent_entry *e,
    struct fsout_file **out)
{
	struct fsout_file *f;
	struct stat sb;
	int rc;

	if ((f = calloc(1, sizeof(*f))) == NULL)
		return BW_ERR_NOMEM;
	if ((rc = prepare(o, rel, f->path)) != 0) {
		free(f);
		return rc;
	}
	if (lstat(f->path, &sb) == 0 && o->ow == FSOUT_NEVER) {
		free(f);
		return 1;
	}
	snprintf(f->tmp, sizeof(f->tmp), "%s.bwtmp-XXXXXX", f->path);
	if ((f->fd = mkstemp(f->tmp)) < 0) {
		rc = bw_err_from_errno(errno);
		free(f);
		return rc;
	}
	f->o = o;
	f->mode = e->mode & 07777;
	f->size = e->size;
	times_of(e, f->ts);
	*out = f;
	return 0;
}

int
fsout_file_write(struct fsout_file *f, uint64_t off, const void *p, size_t n)
{
	return pwrite(f->fd, p, n, (off_t)off) == (ssize_t)n ? 0 : BW_ERR_IO;
}

int
fsout_file_commit(struct fsout_file *f)
{
	int rc = 0;

	if (ftruncate(f->fd, (off_t)f->size) != 0 || fchmod(f->fd, f->mode) != 0 ||
	    futimens(f->fd, f->ts) != 0 || rename(f->tmp, f->path) != 0) {
		rc = bw_err_from_errno(errno);
		unlink(f->tmp);
	}
	close(f->fd);
	free(f);
	return rc;
}

void
fsout_file_abort(struct fsout_file *f)
{
	if (!f)
		return;
	close(f->fd);
	unlink(f->tmp);
	free(f);
}

int
fsout_read(struct fsout *o, const char *rel, fsout_read_fn *fn, void *arg)
{
	char path[PATH_MAX], buf[65536];
	ssize_t n;
	int fd, rc = 0;

	snprintf(path, sizeof(path), "%s/%s", o->target, rel);
	if ((fd = open(path, O_RDONLY | O_NOFOLLOW)) < 0)
		return bw_err_from_errno(errno);
	while (rc == 0 && (n = read(fd, buf, sizeof(buf))) > 0)
		rc = fn(buf, (size_t)n, arg);
	close(fd);
	return rc;
}

int
fsout_close(struct fsout *o)
{
	size_t i;

	for (i = o->ndirs; i-- > 0;) {
		chmod(o->dirs[i].path, o->dirs[i].mode);
		utimensat(AT_FDCWD, o->dirs[i].path, o->dirs[i].ts, 0);
	}
	return 0;
}

void
fsout_free(struct fsout *o)
{
	size_t i;

	if (!o)
		return;
	for (i = 0; i < o->ndirs; i++)
		free(o->dirs[i].path);
	free(o->dirs);
	free(o->target);
	free(o);
}
