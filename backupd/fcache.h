/*
 * The files cache: lets a backup skip files that have not changed since the
 * previous backup, without reading them.  A local file per repository (never
 * stored in the repository): DIR/<repo id hex>/files (0600, in a 0700
 * directory), with large rsync signatures kept apart in DIR/<repo id
 * hex>/sigs so that they are streamed, not held in memory.
 *
 * A backup opens the cache (which loads the previous one), looks up every
 * file it walks, puts an entry for every regular file it stores (carrying
 * unchanged ones forward with fcache_put_hit), and commits with the backup's
 * start time.  The committed cache holds exactly the entries put during that
 * backup, so deleted files vanish.
 *
 * The cache is only a hint: a missing, damaged or foreign-version cache is
 * discarded with a warning and the backup reads every file.  Entries from a
 * different repository generation (the repository was pruned since) are
 * dropped, because the content they name may be gone.
 */
#ifndef BW_BACKUPD_FCACHE_H
#define BW_BACKUPD_FCACHE_H

#include <stddef.h>
#include <stdint.h>

#include "lib/util/buf.h"

struct fcache;

/* What must be unchanged for a cached entry to be trusted (from lstat). */
struct fcache_meta {
	uint64_t dev;
	uint64_t ino;
	uint64_t size;
	int64_t mtime_ns;	/* ns since the epoch */
	int64_t ctime_ns;
};

/* An entry found by fcache_lookup.  The pointers are borrowed from the
 * cache and stay valid until fcache_commit or fcache_free. */
struct fcache_hit {
	struct fcache_meta meta;
	uint64_t generation;	/* repository generation it was recorded under */
	const uint8_t *content;	/* the engine's opaque content blob */
	size_t content_len;
	uint64_t sig_len;	/* size of the stored signature, 0 if none */
	const void *priv;	/* fcache's own; do not touch */
};

/*
 * Opens the files cache of repository repo_id_hex (lower-case hex, as in
 * the repository's id) under the cache directory dir, creating dir and
 * dir/<repo_id_hex> (0700) if needed, and loads the previous cache when it
 * was written under the same repository generation.  A missing cache is
 * empty; a damaged or foreign-version one is discarded with a warning.
 * Returns 0 and a handle in *out (free with fcache_free), BW_ERR_INVAL for
 * a repository id that is not hex, BW_ERR_NOMEM, or the fsio error when the
 * directory cannot be made (logged); a backup can then go on uncached.
 */
int fcache_open(const char *dir, const char *repo_id_hex, uint64_t generation,
    struct fcache **out);

/* Number of entries loaded from the previous cache. */
size_t fcache_count_old(const struct fcache *c);
/* Number of entries put so far (each path once). */
size_t fcache_count_new(const struct fcache *c);
/* Start time (ns) of the backup that wrote the previous cache; 0 if none. */
int64_t fcache_prev_start(const struct fcache *c);

/*
 * Looks up path (absolute, as walked) in the previous cache.  Returns 0 and
 * fills *hit only if dev, ino, size, mtime and ctime all equal m, and the
 * ctime is at least 1 s older than the start of the previous backup: a file
 * changed in the same second as it was recorded may have changed after it
 * was read ("racy" file), so it must be read again.  Otherwise
 * BW_ERR_NOENT.
 */
int fcache_lookup(struct fcache *c, const char *path,
    const struct fcache_meta *m, struct fcache_hit *hit);

/*
 * Finds the previous entry for path whatever its metadata, for a file that
 * changed: its signature (fcache_sig_read) lets the engine store an rsync
 * delta against the previous version.  Its content must not be reused as
 * the file's content.  0 and *hit filled, or BW_ERR_NOENT.
 */
int fcache_find(struct fcache *c, const char *path, struct fcache_hit *hit);

/*
 * Appends the signature of a hit (from fcache_lookup or fcache_find) to
 * out.  0; BW_ERR_NOENT if the entry has
 * none; BW_ERR_CORRUPT if the stored signature is damaged (warned; treat
 * the file as having no signature); BW_ERR_IO or BW_ERR_NOMEM.
 */
int fcache_sig_read(struct fcache *c, const struct fcache_hit *hit,
    struct buf *out);

/*
 * Records path for the new cache with metadata m, the content blob and an
 * optional signature (sig NULL or sig_len 0: none).  The signature is
 * written out at once, not kept in memory.  Putting a path again replaces
 * the earlier entry.  0, BW_ERR_INVAL (path not absolute or too long, blob
 * too large), BW_ERR_NOMEM, or an fsio error writing the signature.  After
 * an error the cache can still be used and committed without that entry.
 */
int fcache_put(struct fcache *c, const char *path, const struct fcache_meta *m,
    const void *content, size_t content_len, const void *sig, size_t sig_len);

/*
 * Carries a hit from fcache_lookup forward unchanged into the new cache,
 * copying its signature from the old file without loading it whole.
 * Returns as fcache_put; a damaged signature is dropped with a warning and
 * the entry is kept without it.
 */
int fcache_put_hit(struct fcache *c, const char *path,
    const struct fcache_hit *hit);
/* The same with another content blob (content_len bytes) in the entry. */
int fcache_put_hit_as(struct fcache *c, const char *path, const struct fcache_hit *hit,
    const void *content, size_t content_len);

/*
 * Replaces the cache on disk with the entries put since fcache_open,
 * recording backup_start_ns (when the backup began its walk) for the racy
 * rule of the next backup.  Atomic and durable: temp file, fsync, rename,
 * fsync the directory.  0 or an fsio error (logged; the old cache stays,
 * perhaps without its signatures).  Afterwards, whatever the outcome, the
 * handle can only be freed; hits are no longer valid.
 */
int fcache_commit(struct fcache *c, int64_t backup_start_ns);

/* Releases c; without a commit, the cache on disk is left as it was. NULL
 * does nothing. */
void fcache_free(struct fcache *c);

#endif
