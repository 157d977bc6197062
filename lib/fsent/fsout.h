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
 * directories can still be filled.  One thread uses a handle at a time.
 *
 * libarchive's disk writer takes names relative to the working directory:
 * inside these calls the calling thread's working directory is the entry's
 * verified parent, and goes back after each call.  fsout_open gives the
 * calling thread a working directory and umask of its own first
 * (unshare(CLONE_FS); refused with an error when that fails), so threads
 * started before are not affected; threads it starts while a handle is
 * open share its directory during those calls (give them absolute paths).
 *
 * Owners: by name where the name exists on this host, else by id (by id
 * only with numeric_owner); set when root or opts.owner.  A hard link may
 * only name a path this handle wrote as a non-directory whose nlink was
 * not 1 (0: unknown), and that has not changed since.
 *
 * Durability: nothing is synced per file.  A committed file keeps its
 * temporary name until its batch (256 files or 64 MiB) has been synced
 * (one syncfs per file system written), and only then is renamed: a
 * final name never shows bytes that a power cut could still lose.  The
 * batch is also completed when a later call looks at or writes one of
 * its names (or a path beneath one), and at fsout_close.  The restore is
 * durable only after fsout_close returns 0.
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
	/* IF_CHANGED only: the caller has compared what exists (content
	 * included) and calls only for what differs, so a non-directory is
	 * replaced even when type, size and mtime match; directories stay
	 * as IF_CHANGED has them (never replaced by a non-directory). */
	int caller_compares;
};

struct fsout;
struct fsout_file;

/* Opens the target or creates the archive.  0, or BW_ERR_INVAL (neither or
 * both given, unknown archive suffix, the target is a symlink: never
 * followed), BW_ERR_EXIST (the archive file exists), BW_ERR_PERM (an
 * existing target owned by another user than the caller and root),
 * BW_ERR_IO/NOSPC; logged with the path. */
int fsout_open(const struct fsout_opts *o, struct fsout **out);

/* The checks every path goes through (exported for tests and dry runs):
 * 0 or BW_ERR_INVAL with *why set to a static reason. */
int fsout_check_path(const char *rel, const char **why);

/* What is at rel in the target now, not following symlinks: 1 and *cur
 * (caller frees with fsent_entry_free), 0 if nothing, or a negative code.
 * Always 0 for an archive. */
int fsout_existing(struct fsout *o, const char *rel, struct fsent_entry **cur);
/* The file at rel, already in the target, was verified by the caller as
 * the snapshot's (a restore run again): hard links of this restore may
 * name it as if this handle had written it.  0 or a negative code. */
int fsout_note_existing(struct fsout *o, const char *rel);

/* A directory, symlink, hard link (e->link: relative path of an entry
 * already written by this handle), device, fifo; sockets are skipped
 * (1); an FSENT_FILE is written empty.  0 written, 1 left alone (exists
 * and the policy keeps it), BW_ERR_INVAL refused as unsafe, BW_ERR_EXIST
 * a directory is in the way of a non-directory (kept unless ALWAYS, and
 * then only an empty one is replaced), BW_ERR_UNSUPP the archive format
 * cannot hold it (zip: hard links, devices, fifos), BW_ERR_IO/NOSPC/PERM.
 * An existing directory is reused for a directory (its metadata replaced
 * unless NEVER); anything else in its place (a symlink such as merged
 * /usr's lib -> usr/lib, a file) is never replaced by a directory: 1
 * with NEVER, else BW_ERR_EXIST (logged, naming it and the link's
 * target); the entries beneath it are then refused (BW_ERR_INVAL). */
int fsout_entry(struct fsout *o, const char *rel, const struct fsent_entry *e);

/* Temporaries that an earlier, killed restore left (".bw-restore." and
 * six characters of [A-Za-z0-9_-], a regular file of the caller's) are
 * removed, each logged, when this handle first enters their directory:
 * never run two restores into one target at once. */

/* A regular file: a temporary file ".bw-restore.XXXXXX" next to rel (or
 * the archive member).  In a target, a sparse map (e->regions) must be
 * sorted, without overlaps and inside e->size, else BW_ERR_INVAL.  1 left alone (policy), 0 with *f set, or a
 * negative code as above.  Several files may be open at once in a
 * target; an archive takes one member at a time and no other entry
 * meanwhile (BW_ERR_INVAL). */
int fsout_file_open(struct fsout *o, const char *rel, const struct fsent_entry *e,
    struct fsout_file **f);
/* Writes data at off; bytes never written stay holes (sparse files keep
 * them).  For an archive, offsets must increase.  Data beyond e->size is
 * BW_ERR_CORRUPT; after an error the file can only be aborted (commit
 * fails and removes it). */
int fsout_file_write(struct fsout_file *f, uint64_t off, const void *p, size_t n);
/* Applies the metadata and queues the rename of the temporary file into
 * place (the caller has verified the content): the final name appears
 * once the batch is durable (see Durability above), at the latest at
 * fsout_close; until then fsout_read reads the temporary file.  A full
 * batch is synced and renamed here, so an error may concern an earlier
 * file of it (logged with its path).  Frees f in every case. */
int fsout_file_commit(struct fsout_file *f);
/* Removes the temporary file and frees f (NULL does nothing).  An
 * archive member cannot be taken back: it is filled up with zeros (and
 * a warning names it) so that the rest of the archive stays readable. */
void fsout_file_abort(struct fsout_file *f);

/* Reads back a file written in the target (for --verify): calls fn with
 * consecutive data in order, holes as zeros; fn returning non-zero stops
 * the reading, and fsout_read returns that value (a positive one can say
 * "enough").  BW_ERR_UNSUPP for an archive. */
typedef int fsout_read_fn(const void *p, size_t n, void *arg);
int fsout_read(struct fsout *o, const char *rel, fsout_read_fn *fn, void *arg);

/* Applies deferred directory metadata, flushes and syncs everything
 * written (one sync for the whole restore, not one per file), and closes
 * the archive (fsync, then renamed into place, never over an existing
 * file).  Until it returns 0 the restore is not durable.  Call once. */
int fsout_close(struct fsout *o);
/* Frees the handle (NULL does nothing).  Without a successful fsout_close
 * an archive is removed, and directories keep mode 0700. */
void fsout_free(struct fsout *o);

#endif
