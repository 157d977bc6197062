/*
 * rsync deltas: the only door to librsync.  Used for large files changed in
 * place: the backup keeps the signature of the version it stored; when the
 * file changes, a delta against that signature is usually far smaller than
 * the changed chunks.  Restore applies the delta to the previous version.
 *
 * All functions work on memory or file descriptors with explicit sizes; none
 * reads or writes repository files.  Block length is chosen by
 * delta_block_len() so small edits give small deltas.
 */
#ifndef BW_CHUNK_DELTA_H
#define BW_CHUNK_DELTA_H

#include <stddef.h>
#include <stdint.h>

#include "lib/util/buf.h"

/* Block length used for a file of this size (256 for files up to 64 MiB,
 * growing slowly above). */
uint32_t delta_block_len(uint64_t file_size);

/* Signature of a file, built incrementally from its bytes as they are read. */
struct delta_sig_job;
struct delta_sig_job *delta_sig_start(uint64_t file_size);
/* The same with an explicit block length (a power of two, 64 to 1 MiB):
 * small blocks suit small, dense records such as directory trees. */
struct delta_sig_job *delta_sig_start_block(uint64_t file_size, uint32_t block_len);
int delta_sig_feed(struct delta_sig_job *j, const void *p, size_t n);
/* Finishes and appends the signature bytes to out.  Frees the job. */
int delta_sig_finish(struct delta_sig_job *j, struct buf *out);
void delta_sig_abort(struct delta_sig_job *j);

/* A loaded signature, ready to compute deltas against.  It serves one
 * delta job at a time: librsync keeps match statistics inside it. */
struct delta_sig;
/* Parses signature bytes (untrusted: bounds-checked); BW_ERR_CORRUPT. */
int delta_sig_load(const void *p, size_t n, struct delta_sig **out);
void delta_sig_free(struct delta_sig *s);

/* Random access to data: fills buf with up to len bytes at pos; returns
 * the bytes read (0 at the end) or a negative BW_ERR_*. */
typedef long delta_read_fn(void *arg, uint64_t pos, void *buf, size_t len);

/* 1 if s has the parameters (magic, block and strong length) that
 * delta_sig_start(file_size) gives a signature, so that delta_sig_derive
 * can reuse its entries; else 0. */
int delta_sig_fits(const struct delta_sig *s, uint64_t file_size);

/* Delta of new data (fed in pieces) against a loaded signature. */
struct delta_job;
struct delta_job *delta_start(struct delta_sig *s);
/* Appends delta bytes to out as they are produced. */
int delta_feed(struct delta_job *j, const void *p, size_t n, struct buf *out);
/* Appends the rest of the delta; *literal gets the literal bytes it
 * carries (its cost).  COPYs that librsync made block by block from equal
 * blocks (same sums) are merged first, so the delta must have been fed
 * into this one out buffer.  Frees the job. */
int delta_finish(struct delta_job *j, struct buf *out, uint64_t *literal);
void delta_abort(struct delta_job *j);

/*
 * Joins the delta of a file from its parts, in file order: a COPY of len
 * bytes at pos in the basis, literal bytes (p, n), or the commands of a
 * whole delta (p, n, as delta_finish made it) of that part of the file
 * against the same signature s.  Adjacent COPYs merge (as in
 * delta_finish).  Appends to out; 0, BW_ERR_NOMEM, or BW_ERR_INVAL
 * (logged) if a part does not parse.
 */
enum delta_piece_kind { DP_COPY, DP_LITERAL, DP_DELTA };
struct delta_piece {
	enum delta_piece_kind kind;
	const uint8_t *p;
	size_t n;
	uint64_t pos, len;
};
int delta_splice(const struct delta_sig *s, const struct delta_piece *pc, size_t npc,
    struct buf *out);

/*
 * The signature that delta_sig_start(file_size) would make of new data
 * (new_len bytes, read through read_new: random access, as for delta_apply
 * below), without hashing what the old version's signature already has:
 * delta is the new data's delta against old (as delta_finish made it), and
 * the signature describes the bytes the delta makes.  Blocks the delta
 * copies whole from old's block boundaries take old's entries; the others
 * are hashed from the delta's literal bytes and from copied bytes read
 * again through read_new, which must be the old blocks' bytes (checked
 * against old's entries: the data may have changed since the delta was
 * made without a visible change of size or times).  Appends to out and
 * sets *reused (unless NULL) to the blocks taken from old.  0; 1 (out as
 * it was) if the bytes read again are not the ones the delta copied, the
 * data ends early, or old does not fit (delta_sig_fits) or the delta does
 * not make new_len bytes; or a negative code (out as it was): read_new's
 * own, or BW_ERR_NOMEM.
 */
int delta_sig_derive(const struct delta_sig *old, const void *delta, size_t dn,
    uint64_t file_size, uint64_t new_len, delta_read_fn *read_new, void *arg,
    struct buf *out, uint64_t *reused);

/*
 * Delta of new bytes against old bytes that are both at hand (a directory
 * tree whose previous version the writer keeps): byte-exact matching, so a
 * changed record costs about its changed bytes, not whole blocks.  The
 * result is in librsync's delta format (delta_apply reads it) and is
 * checked by applying it before it is returned.  Appends to out; 0,
 * BW_ERR_NOMEM, or BW_ERR_INVAL if the check fails (logged: a bug).
 */
int delta_diff(const void *old, size_t on, const void *new, size_t nn, struct buf *out);

/*
 * Applies a delta to a basis available through read_basis (random access:
 * fill buf with up to len bytes at pos, return bytes read or a negative
 * BW_ERR_*), writing the result through write_out.  BW_ERR_CORRUPT if the
 * delta is malformed or refers past the basis.
 */
typedef int delta_write_fn(void *arg, const void *buf, size_t len);
int delta_apply(const void *delta, size_t n, delta_read_fn *read_basis, void *rarg,
    delta_write_fn *write_out, void *warg);

#endif
