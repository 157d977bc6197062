/*
 * The restore engine: recreates a snapshot's entries (all of it, or the
 * contents of one path, filtered by patterns and an explicit selection)
 * in a target directory or an archive file, from a repository it does not
 * trust.  Every object is authenticated before use (repo_get); every path
 * from the repository is checked before anything is written (lib/fsent's
 * writer); each file is written under a temporary name, verified against
 * its recorded hash and renamed into place, so an interrupted restore
 * leaves no half-written file and a second run skips what already
 * verifies.  A damaged object fails only the files that use it: the run
 * goes on and the damaged paths are reported at the end.
 *
 * A first pass over the snapshot's trees (no file data) finds the totals
 * and the files that hard links name: only those are remembered while
 * writing, so memory does not grow with the number of files.
 *
 * Decryption and decompression run on worker threads, ahead of the one
 * thread that creates files and across many upcoming files (a read-ahead
 * thread walks the snapshot in the same order), so that the writer rarely
 * waits; memory stays bounded whatever the snapshot's size (at most
 * 16 MiB of decoded data or 4096 chunks in flight, 16 MiB of delta per
 * chain level).  A file stored as a delta chain is rebuilt through
 * unlinked temporary files in $TMPDIR (default /tmp), each an older
 * version of the file; a version larger than the backup could have stored
 * (4 times the next one, plus 1 MiB) marks the file damaged, so a hostile
 * chain cannot fill $TMPDIR.
 */
#ifndef BW_RESTORE_RESTORE_H
#define BW_RESTORE_RESTORE_H

#include <signal.h>
#include <stddef.h>
#include <stdint.h>

#include "lib/repo/repo.h"

enum restore_overwrite {
	RESTORE_OVERWRITE_NEVER = 0,	/* existing paths are skipped (and listed) */
	RESTORE_OVERWRITE_IF_CHANGED,	/* replaced when size, mtime or content differ */
	RESTORE_OVERWRITE_ALWAYS
};

/* What happened (or, in a dry run, would happen) to one entry. */
enum restore_what {
	RESTORE_NEW = 1,		/* created */
	RESTORE_REPLACED,		/* an existing path was replaced */
	RESTORE_SKIPPED_EXISTS,		/* exists, overwrite policy kept it */
	RESTORE_UNCHANGED,		/* exists and already matches (resume) */
	RESTORE_REFUSED,		/* unsafe name or link from the repository */
	RESTORE_DAMAGED,		/* an object it needs failed to verify or is missing */
	RESTORE_FAILED			/* could not be written (I/O, permission) */
};

struct restore_item {
	const char *path;		/* as stored in the snapshot, absolute */
	const char *dest;		/* where it goes (target path or archive member) */
	enum restore_what what;
	int kind;			/* enum tree_kind */
	uint64_t size;
	const char *reason;		/* for REFUSED/DAMAGED/FAILED/SKIPPED: why */
};
typedef void restore_item_fn(const struct restore_item *it, void *arg);

struct restore_progress {
	uint64_t files_done, files_total;	/* totals known after planning */
	uint64_t bytes_done, bytes_total;
	uint64_t elapsed_ns;
};
typedef void restore_progress_fn(const struct restore_progress *p, void *arg);

struct restore_opts {
	uint8_t snapshot[OBJ_ID_LEN];
	/* "/" restores every backed-up path under target with its full path
	 * (target/srv/www/index.html); another path restores its contents
	 * directly into target (target/index.html). */
	const char *path;
	const char *target;		/* directory ("/" restores in place) */
	const char *archive;		/* or an archive file: .tar, .tar.zst, .zip */
	/* Patterns (fnmatch) on the snapshot path: with a '/', the whole
	 * path, else the base name.  An entry is taken when it matches an
	 * include (or there are none) and no exclude; a directory that
	 * matches an include brings everything below it. */
	const char *const *includes; size_t nincludes;
	const char *const *excludes; size_t nexcludes;
	/* An explicit selection (the wizard's marks): absolute snapshot paths;
	 * each brings everything below it.  None: everything. */
	const char *const *select; size_t nselect;
	enum restore_overwrite overwrite;
	int dry_run;			/* plan only: items and totals, nothing written */
	int verify;			/* re-read every written file and compare */
	int numeric_owner;		/* owners by id only */
	int threads;			/* decode workers; 0 = one per core */
	restore_item_fn *item;		/* every entry not plainly NEW (all in a dry run); may be NULL */
	void *item_arg;
	/* After every entry written (the callee throttles its display; a
	 * test can stop after N files); files_total/bytes_total come from a
	 * quick walk made first when progress is set.  May be NULL. */
	restore_progress_fn *progress;
	void *progress_arg;
	volatile sig_atomic_t *stop;	/* set by a signal handler: stop cleanly */
};

struct restore_stats {
	uint64_t files, dirs, links, specials;	/* written (or to write) */
	uint64_t bytes;				/* file bytes written (or to write) */
	uint64_t replaced, skipped, unchanged;
	uint64_t refused, damaged, failed;
	uint64_t verified, verify_failed;	/* with opts.verify */
	uint64_t elapsed_ns;
};

/*
 * Plans the restore without writing: totals, and how many existing paths
 * would be replaced or skipped (the wizard's summary and --dry-run).  Calls
 * o->item for every entry.  0, or BW_ERR_NOENT (snapshot or path missing),
 * BW_ERR_PERM (the key cannot read), repository errors.
 */
int restore_plan(struct repo *r, const struct restore_opts *o, struct restore_stats *st);

/*
 * Restores.  Returns 0 when every selected entry was restored (or skipped
 * by the overwrite policy); BW_ERR_CORRUPT when some entries were damaged
 * (the rest were restored, each damaged one reported through o->item and
 * logged); BW_ERR_INVAL when some were refused as unsafe; BW_ERR_INTR when
 * stopped (no half-written file left under a final name); BW_ERR_IO or
 * BW_ERR_NOSPC when writing failed.  st is filled in every case.
 */
int restore_run(struct repo *r, const struct restore_opts *o, struct restore_stats *st);

#endif
