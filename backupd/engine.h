/*
 * The backup engine: walks the given paths, stores every changed file's
 * data as deduplicated chunks, builds the trees and commits a signed
 * snapshot.  Used by `bulwark backup` and by bulwark-backupd.
 *
 * Threads: the calling thread walks, reads and chunks; worker threads hash,
 * compress and encrypt chunks (repo_writer_put), so two cores are used.
 * Trees are built in walk order from a bounded queue of pending entries, so
 * memory stays bounded by the data in flight and the directory depth.
 */
#ifndef BW_BACKUPD_ENGINE_H
#define BW_BACKUPD_ENGINE_H

#include <stddef.h>
#include <stdint.h>

#include "lib/repo/repo.h"

struct backup_progress {
	uint64_t files, dirs, bytes;		/* entries seen, logical bytes */
	uint64_t files_new, files_changed, files_unchanged;
	uint64_t bytes_read, bytes_added;
	uint64_t errors;
	double elapsed;				/* seconds since start */
	uint64_t total_files, total_bytes;	/* from a concurrent pre-scan */
	int total_known;			/* the pre-scan has finished */
};
/* Called from the calling thread, at most about five times a second, and
 * once more at the end with final = 1. */
typedef void backup_progress_fn(const struct backup_progress *p, int final, void *arg);

struct backup_opts {
	const char *const *paths;	/* absolute; at least one */
	size_t npaths;
	const char *const *excludes;
	size_t nexcludes;
	const char *const *tags;
	size_t ntags;
	const char *set;		/* backup set name, or NULL */
	int one_file_system;
	int exclude_caches;
	const char *cache_dir;		/* files cache directory, or NULL for none */
	unsigned workers;		/* 0 = number of CPUs, at most 8 */
	backup_progress_fn *progress;
	void *progress_arg;
	volatile int *stop;		/* set nonzero (e.g. by SIGINT) to stop */
	int64_t start_ns;		/* tests: the backup's start time (0 = now) */
};

/*
 * Runs one backup into r (which must be open with WRITE and locked shared).
 * On success or partial success, snap is filled (caller clears it) and the
 * snapshot is durable.  Returns 0, BW_ERR_PARTIAL (committed, but some
 * inputs could not be read: snap->errors lists them), or another code when
 * no snapshot was committed (objects already stored stay for the next
 * backup).
 */
int backup_run(struct repo *r, const struct backup_opts *o, struct snap_info *snap);

/* Sorts and de-duplicates backup roots: component-wise order, and a path
 * inside another given path is dropped.  Paths must be absolute and
 * normalised (no trailing '/', no "//", ".", ".."); BW_ERR_INVAL (logged)
 * otherwise.  Returns the new count. */
int backup_roots_normalise(char **paths, size_t n, size_t *nout);

#endif
