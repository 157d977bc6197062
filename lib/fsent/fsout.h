/*
 * Writing entries back (restore): into a target directory through
 * libarchive's disk writer with its secure flags (no "..", no absolute
 * paths, no writing through a symlink) plus our own checks, or into an
 * archive file (tar, tar.zst, zip) through libarchive's archive writer.
 * This is the only other door to libarchive besides fsent.c.
 *
 * Paths given here are relative to the target ("srv/www/index.html") and
 * come from an untrusted repository: each is checked before anything is
 * written and refused (BW_ERR_INVAL, logged with the path and the reason)
 * when it is absolute, has an empty, "." or ".." component, a component
 * longer than NAME_MAX or a total longer than PATH_MAX, or when an
 * existing component on disk is a symlink or not a directory.  A refused
 * entry does not stop the restore: the caller goes on with the next.
 *
 * Entries come parents first.  A missing parent directory is created
 * (0700, fixed later if the snapshot has it).  Directory metadata (mode,
 * times, ACLs) is applied at fsout_close, deepest first, so read-only
 * directories can still be filled.  One thread uses a handle.
 */
#ifndef BW_FSENT_FSOUT_H
#define BW_FSENT_FSOUT_H

#include <stddef.h>
#include <stdint.h>

#include "lib/fsent/fsent.h"

enum fsout_overwrite {
	FSOUT_NEVER = 0,	/* an existing path is left alone: returns 1 */
	FSOUT_IF_CHANGED,	/* replaced unless type, size and mtime match */
	FSOUT_ALWAYS
};

struct fsout_opts {
	const char *target;		/* directory (created if missing), or NULL */
	const char *archive;		/* archive to create, or NULL; format from
					 * the name: .tar, .tar.zst, .zip */
	enum fsout_overwrite overwrite;
	int numeric_owner;		/* owners by id, names ignored */
	int owner;			/* set owners (default: when root) */
};

struct fsout;
struct fsout_file;

/* Opens the target or creates the archive.  0, or BW_ERR_INVAL (neither or
 * both given, unknown archive suffix), BW_ERR_EXIST (the archive file
 * exists), BW_ERR_IO/NOSPC/PERM; logged with the path. */
int fsout_open(const struct fsout_opts *o, struct fsout **out);

/* The checks every path goes through (exported for tests and dry runs):
 * 0 or BW_ERR_INVAL with *why set to a static reason. */
int fsout_check_path(const char *rel, const char **why);

/* What is at rel in the target now, not following symlinks: 1 and *cur
 * (caller frees with fsent_entry_free), 0 if nothing, or a negative code.
 * Always 0 for an archive. */
int fsout_existing(struct fsout *o, const char *rel, struct fsent_entry **cur);

/* A directory, symlink, hard link (e->link: relative path of an entry
 * already written by this handle), device, fifo; sockets are skipped.
 * 0 written, 1 left alone (exists and the policy keeps it), BW_ERR_INVAL
 * refused as unsafe, BW_ERR_IO/NOSPC/PERM. */
int fsout_entry(struct fsout *o, const char *rel, const struct fsent_entry *e);

/* A regular file: a temporary file next to rel (or the archive member).
 * 1 left alone (policy), 0 with *f set, or a negative code as above. */
int fsout_file_open(struct fsout *o, const char *rel, const struct fsent_entry *e,
    struct fsout_file **f);
/* Writes data at off; bytes never written stay holes (sparse files keep
 * them).  For an archive, offsets must increase. */
int fsout_file_write(struct fsout_file *f, uint64_t off, const void *p, size_t n);
/* Applies the metadata and renames the temporary file into place (the
 * caller has verified the content).  Frees f in every case. */
int fsout_file_commit(struct fsout_file *f);
/* Removes the temporary file and frees f (NULL does nothing). */
void fsout_file_abort(struct fsout_file *f);

/* Reads back a file written in the target (for --verify): calls fn with
 * consecutive data in order, holes as zeros.  BW_ERR_UNSUPP for an archive. */
typedef int fsout_read_fn(const void *p, size_t n, void *arg);
int fsout_read(struct fsout *o, const char *rel, fsout_read_fn *fn, void *arg);

/* Applies deferred directory metadata, flushes and syncs everything
 * written (one sync for the whole restore, not one per file), and closes
 * the archive.  Until it returns 0 the restore is not durable. */
int fsout_close(struct fsout *o);
void fsout_free(struct fsout *o);

#endif
