/*
 * rsync deltas over librsync's streaming job API.  This is the only file
 * that includes <librsync.h>; everything runs on memory, nothing touches the
 * disk.
 *
 * Formats are librsync's own (integers big-endian):
 *   signature: u32 magic = RS_BLAKE2_SIG_MAGIC | u32 block_len |
 *              u32 strong_len | { u32 weak | strong[strong_len] } per block
 *   delta:     u32 magic = RS_DELTA_MAGIC | commands (LITERAL, COPY, END)
 * Both come back from the repository, so they are untrusted: the signature
 * header is checked here before librsync sees it, and a delta may only copy
 * from inside the basis (the copy callback refuses anything else) and may
 * not carry bytes after its END command.
 */
#include "config.h"

#include <librsync.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>

#include "lib/chunk/delta.h"
#include "lib/util/buf.h"
#include "lib/util/err.h"
#include "lib/util/log.h"

#define DELTA_SMALL_FILE (64ULL << 20)
#define DELTA_BLOCK_SMALL 256u
#define DELTA_BLOCK_LARGE 2048u
#define DELTA_BLOCK_HIGHEST (1u << 20)
#define DELTA_MAX_BLOCKS (1ULL << 20)
#define DELTA_STRONG_LEN 8u
#define DELTA_SIG_HEADER 12u
#define DELTA_OUT_STEP (256u << 10)
#define DELTA_DERIVE_READ (256u << 10)

/*
 * Every block costs 4 (weak) + strong_len (8 or a little more) bytes of
 * signature.  256-byte blocks keep a small edit's delta small (a change
 * costs at most itself plus two blocks: a 4 KiB overwrite at any offset
 * 4352 bytes, where 512-byte blocks made it 4608) at 4.7% of the file, in
 * the local files cache only: at most 3 MiB for a 64 MiB file.  Matching
 * and hashing cost about the same per byte either way (measured: 62 ms
 * against 60 for the signature of 32 MiB, 82 against 79 for a delta).
 * Above 64 MiB, blocks of at least 2048 bytes keep
 * the signature under ~0.6% (below the 1% we allow), and the block grows in
 * powers of two so that a file has at most 2^20 blocks: the loaded
 * signature and its hash table then stay around 20-30 MiB of memory up to
 * 1 TiB files, where the block length stops at 1 MiB.
 */
uint32_t
delta_block_len(uint64_t file_size)
{
	uint32_t bl = DELTA_BLOCK_LARGE;

	if (file_size <= DELTA_SMALL_FILE)
		return DELTA_BLOCK_SMALL;
	while (bl < DELTA_BLOCK_HIGHEST && file_size / bl > DELTA_MAX_BLOCKS)
		bl <<= 1;
	return bl;
}

/*
 * librsync's minimum strong sum for this size (it assumes a worst case of
 * every byte position of a 16 MiB larger file compared against every block,
 * plus 16 bits of margin), but never less than 8 bytes.  A false match can
 * only corrupt the restored file, and the tree's whole-file hash catches
 * that; 8 bytes keeps the signature small.
 */
static uint32_t
delta_strong_len(uint64_t file_size, uint32_t block_len)
{
	rs_magic_number magic = RS_BLAKE2_SIG_MAGIC;
	size_t bl = block_len, sl = (size_t)-1;

	if (file_size > INT64_MAX / 2)
		file_size = INT64_MAX / 2;
	if (rs_sig_args((rs_long_t)file_size, &magic, &bl, &sl) != RS_DONE)
		return 16;
	return sl < DELTA_STRONG_LEN ? DELTA_STRONG_LEN : (uint32_t)sl;
}

static void
delta_trace(rs_loglevel level, char const *msg)
{
	/* librsync's own words stay at debug level: we report errors once, in
	 * our terms, where we see them. */
	log_debug("librsync: %s", msg);
}

static pthread_once_t delta_once = PTHREAD_ONCE_INIT;

static void
delta_lib_init(void)
{
	rs_trace_to(delta_trace);
	rs_trace_set_level(RS_LOG_ERR);
}

/* Errors parsing stored bytes mean damage; errors making a signature or a
 * delta from local data can only be librsync's own trouble. */
static int
delta_err(rs_result r)
{
	return r == RS_MEM_ERROR ? BW_ERR_NOMEM : BW_ERR_CORRUPT;
}

static int
delta_gen_err(const char *what, rs_result r)
{
	log_error("%s: librsync failed: %s", what, rs_strerror(r));
	return r == RS_MEM_ERROR ? BW_ERR_NOMEM : BW_ERR_INVAL;
}

/*
 * Runs job over p[0..n), appending its output to out, until the job has
 * taken all the input (eof == 0) or finished (eof != 0).  Returns RS_BLOCKED
 * or RS_DONE, or the librsync error.
 */
static rs_result
delta_pump(rs_job_t *job, const void *p, size_t n, int eof, struct buf *out)
{
	rs_buffers_t b;
	rs_result r;
	size_t in0, len0;

	memset(&b, 0, sizeof(b));
	b.next_in = (char *)(uintptr_t)p;
	b.avail_in = n;
	b.eof_in = eof;
	for (;;) {
		if (buf_reserve(out, DELTA_OUT_STEP))
			return RS_MEM_ERROR;
		b.next_out = (char *)out->data + out->len;
		b.avail_out = out->cap - out->len;
		in0 = b.avail_in;
		len0 = out->len;
		r = rs_job_iter(job, &b);
		out->len = (size_t)((uint8_t *)b.next_out - out->data);
		if (r != RS_BLOCKED)
			return r;
		if (!eof && b.avail_in == 0)
			return RS_BLOCKED;
		/* Blocked with input left, or at the end: it wants more output
		 * space, so it must have filled some. */
		if (b.avail_in == in0 && out->len == len0)
			return RS_INTERNAL_ERROR;
	}
}

/* ---- signatures ---- */

struct delta_sig_job {
	rs_job_t *job;
	struct buf out;
};

struct delta_sig_job *
delta_sig_start(uint64_t file_size)
{
	return delta_sig_start_block(file_size, delta_block_len(file_size));
}

struct delta_sig_job *
delta_sig_start_block(uint64_t file_size, uint32_t bl)
{
	struct delta_sig_job *j;

	if (bl < 64 || bl > (1u << 20) || (bl & (bl - 1))) {
		log_error("rsync signature: block length %u is not a power of two from 64 "
		    "to 1 MiB", bl);
		return NULL;
	}

	pthread_once(&delta_once, delta_lib_init);
	if ((j = calloc(1, sizeof(*j))) == NULL) {
		log_error("rsync signature: out of memory");
		return NULL;
	}
	j->job = rs_sig_begin(bl, delta_strong_len(file_size, bl), RS_BLAKE2_SIG_MAGIC);
	if (j->job == NULL) {
		log_error("rsync signature: cannot start (out of memory?)");
		free(j);
		return NULL;
	}
	return j;
}

int
delta_sig_feed(struct delta_sig_job *j, const void *p, size_t n)
{
	rs_result r = delta_pump(j->job, p, n, 0, &j->out);

	if (r != RS_BLOCKED && r != RS_DONE)
		return delta_gen_err("rsync signature", r);
	return 0;
}

int
delta_sig_finish(struct delta_sig_job *j, struct buf *out)
{
	rs_result r = delta_pump(j->job, NULL, 0, 1, &j->out);
	int err = 0;

	if (r != RS_DONE) {
		err = delta_gen_err("rsync signature", r);
	} else if (buf_put(out, j->out.data, j->out.len)) {
		log_error("rsync signature: out of memory");
		err = BW_ERR_NOMEM;
	}
	delta_sig_abort(j);
	return err;
}

void
delta_sig_abort(struct delta_sig_job *j)
{
	if (j == NULL)
		return;
	rs_job_free(j->job);
	buf_free(&j->out);
	free(j);
}

struct delta_sig {
	rs_signature_t *sig;
	uint8_t *sums;		/* the block sums as stored: weak | strong */
	uint64_t nblocks;
	uint32_t magic, bl, sl;
};

static uint32_t
be32(const uint8_t *p)
{
	return (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 | (uint32_t)p[2] << 8 | p[3];
}

static void
be32put(uint8_t *p, uint32_t v)
{
	p[0] = (uint8_t)(v >> 24);
	p[1] = (uint8_t)(v >> 16);
	p[2] = (uint8_t)(v >> 8);
	p[3] = (uint8_t)v;
}

int
delta_sig_load(const void *p, size_t n, struct delta_sig **out)
{
	struct delta_sig *s = NULL;
	rs_signature_t *sig = NULL;
	rs_job_t *job = NULL;
	struct buf scratch = { 0 };
	const uint8_t *h;
	struct bufr r;
	uint32_t magic, bl, sl;
	rs_result rr;
	int err = BW_ERR_CORRUPT;

	pthread_once(&delta_once, delta_lib_init);
	*out = NULL;
	bufr_init(&r, p, n);
	if ((h = bufr_get(&r, DELTA_SIG_HEADER)) == NULL) {
		log_error("rsync signature: %zu bytes, too short for a header; the "
		    "object is damaged: run 'bulwark check --read-data'", n);
		goto out;
	}
	magic = be32(h);
	bl = be32(h + 4);
	sl = be32(h + 8);
	/* Only what delta_sig_start writes, so librsync never sees absurd
	 * parameters; also the RabinKarp variant and the powers of two a
	 * later version might choose, so switching the writer to them does
	 * not orphan stored signatures. */
	if ((magic != RS_BLAKE2_SIG_MAGIC && magic != RS_RK_BLAKE2_SIG_MAGIC) ||
	    bl < 64 || bl > (16u << 20) || (bl & (bl - 1)) != 0 ||
	    sl < DELTA_STRONG_LEN || sl > 32 || bufr_left(&r) % (4 + sl) != 0) {
		log_error("rsync signature: bad header (magic %#x, block %u, strong %u, "
		    "%zu bytes); the object is damaged: run 'bulwark check --read-data'",
		    magic, bl, sl, n);
		goto out;
	}
	if ((job = rs_loadsig_begin(&sig)) == NULL) {
		err = BW_ERR_NOMEM;
		log_error("rsync signature: out of memory");
		goto out;
	}
	rr = delta_pump(job, p, n, 1, &scratch);
	if (rr == RS_DONE && scratch.len == 0)
		rr = rs_build_hash_table(sig);
	else if (rr == RS_DONE)
		rr = RS_CORRUPT;
	if (rr != RS_DONE) {
		err = delta_err(rr);
		if (err == BW_ERR_NOMEM)
			log_error("rsync signature: out of memory");
		else
			log_error("rsync signature: %s; the object is damaged: run "
			    "'bulwark check --read-data'", rs_strerror(rr));
		goto out;
	}
	if ((s = calloc(1, sizeof(*s))) == NULL ||
	    (s->sums = malloc(n - DELTA_SIG_HEADER + 1)) == NULL) {
		free(s);
		err = BW_ERR_NOMEM;
		log_error("rsync signature: out of memory");
		goto out;
	}
	memcpy(s->sums, (const uint8_t *)p + DELTA_SIG_HEADER, n - DELTA_SIG_HEADER);
	s->nblocks = (n - DELTA_SIG_HEADER) / (4 + sl);
	s->magic = magic;
	s->bl = bl;
	s->sl = sl;
	s->sig = sig;
	sig = NULL;
	*out = s;
	err = 0;
out:
	if (job)
		rs_job_free(job);
	if (sig)
		rs_free_sumset(sig);
	buf_free(&scratch);
	return err;
}

void
delta_sig_free(struct delta_sig *s)
{
	if (s == NULL)
		return;
	rs_free_sumset(s->sig);
	free(s->sums);
	free(s);
}

/* ---- deltas ---- */

static void diff_literal(struct buf *b, const uint8_t *p, size_t n);
static void diff_copy(struct buf *b, uint64_t pos, uint64_t len);

struct delta_job {
	rs_job_t *job;
	const struct delta_sig *sig;
	size_t start;		/* where the delta begins in out */
	int started;
};

/*
 * librsync matches a block by its sums and takes the first block in its
 * table with those sums, so a run of equal blocks (zeros, padding) in the
 * new version becomes one COPY per block, each from the same place: a few
 * bytes of commands per block.  A block with the same weak and strong sums
 * as the one librsync chose is, by the very test librsync relied on, the
 * same bytes; so a COPY may as well read from right after the previous one
 * when the sums there are equal, and the two merge.  Only full blocks are
 * compared (the last block of the old version may be short).
 */
static int
delta_same_blocks(const struct delta_sig *s, uint64_t a, uint64_t b, uint64_t len)
{
	uint64_t k = len / s->bl, ia = a / s->bl, ib = b / s->bl;
	size_t w = 4 + s->sl;

	if (len == 0 || a % s->bl || b % s->bl || len % s->bl ||
	    ia >= s->nblocks || ib >= s->nblocks ||
	    k > s->nblocks - 1 - ia || k > s->nblocks - 1 - ib)
		return 0;
	return memcmp(s->sums + ia * w, s->sums + ib * w, (size_t)k * w) == 0;
}

static int
delta_rd(const uint8_t *p, size_t n, size_t *i, int w, uint64_t *v)
{
	int k = 1 << w;

	if ((size_t)k > n - *i)
		return -1;
	for (*v = 0; k > 0; k--)
		*v = *v << 8 | p[(*i)++];
	return 0;
}

/* One command of a delta (the format is described above delta_diff). */
enum delta_op { DELTA_END, DELTA_LITERAL, DELTA_COPY };
struct delta_cmd {
	enum delta_op op;
	uint64_t pos, len;	/* COPY: from pos; both: len bytes of output */
	const uint8_t *lit;	/* LITERAL: its bytes */
};

/* Reads the command at p[*i..n) and moves *i past it; -1 if it is
 * malformed or runs past n. */
static int
delta_cmd_next(const uint8_t *p, size_t n, size_t *i, struct delta_cmd *c)
{
	uint8_t op;

	if (*i >= n)
		return -1;
	op = p[(*i)++];
	memset(c, 0, sizeof(*c));
	if (op == 0) {
		c->op = DELTA_END;
	} else if (op <= 0x44) {
		c->op = DELTA_LITERAL;
		c->len = op;
		if (op > 0x40 && delta_rd(p, n, i, op - 0x41, &c->len))
			return -1;
		if (c->len > n - *i)
			return -1;
		c->lit = p + *i;
		*i += (size_t)c->len;
	} else if (op <= 0x54) {
		c->op = DELTA_COPY;
		if (delta_rd(p, n, i, (op - 0x45) / 4, &c->pos) ||
		    delta_rd(p, n, i, (op - 0x45) % 4, &c->len))
			return -1;
	} else {
		return -1;
	}
	return 0;
}

/* Rewrites the delta at out[start..) with such COPYs merged.  Leaves it as
 * it is if it does not parse (it always should: librsync wrote it). */
static int
delta_coalesce(const struct delta_sig *s, struct buf *out, size_t start)
{
	const uint8_t *p = out->data + start;
	size_t n = out->len - start, i = 4;
	struct buf nb = { 0 };
	struct delta_cmd c;
	uint64_t pp = 0, pl = 0;
	int pending = 0;

	if (n < 5)
		return 0;
	buf_put(&nb, p, 4);
	do {
		if (delta_cmd_next(p, n, &i, &c))
			goto keep;
		if (c.op == DELTA_LITERAL) {
			if (pending)
				diff_copy(&nb, pp, pl);
			pending = 0;
			diff_literal(&nb, c.lit, (size_t)c.len);
		} else if (c.op == DELTA_COPY) {
			if (pending && c.pos != pp + pl &&
			    delta_same_blocks(s, pp + pl, c.pos, c.len))
				c.pos = pp + pl;
			if (pending && c.pos == pp + pl && pl + c.len >= pl) {
				pl += c.len;
				continue;
			}
			if (pending)
				diff_copy(&nb, pp, pl);
			pp = c.pos;
			pl = c.len;
			pending = 1;
		}
	} while (c.op != DELTA_END);
	if (i != n)
		goto keep;
	if (pending)
		diff_copy(&nb, pp, pl);
	buf_put_u8(&nb, 0);
	if (nb.err || nb.len > n)
		goto keep;
	memcpy(out->data + start, nb.data, nb.len);
	out->len = start + nb.len;
keep:
	buf_free(&nb);
	return 0;
}

struct delta_job *
delta_start(struct delta_sig *s)
{
	struct delta_job *j;

	if ((j = calloc(1, sizeof(*j))) == NULL) {
		log_error("rsync delta: out of memory");
		return NULL;
	}
	j->sig = s;
	if ((j->job = rs_delta_begin(s->sig)) == NULL) {
		log_error("rsync delta: cannot start (out of memory?)");
		free(j);
		return NULL;
	}
	return j;
}

int
delta_feed(struct delta_job *j, const void *p, size_t n, struct buf *out)
{
	rs_result r;

	if (!j->started) {
		j->start = out->len;
		j->started = 1;
	}
	r = delta_pump(j->job, p, n, 0, out);

	if (r != RS_BLOCKED && r != RS_DONE)
		return delta_gen_err("rsync delta", r);
	return 0;
}

int
delta_finish(struct delta_job *j, struct buf *out, uint64_t *literal)
{
	rs_result r;
	int err = 0;

	if (!j->started) {
		j->start = out->len;
		j->started = 1;
	}
	r = delta_pump(j->job, NULL, 0, 1, out);
	if (r != RS_DONE) {
		err = delta_gen_err("rsync delta", r);
	} else {
		if (literal)
			*literal = (uint64_t)rs_job_statistics(j->job)->lit_bytes;
		err = delta_coalesce(j->sig, out, j->start);
	}
	delta_abort(j);
	return err;
}

void
delta_abort(struct delta_job *j)
{
	if (j == NULL)
		return;
	rs_job_free(j->job);
	free(j);
}

int
delta_splice(const struct delta_sig *s, const struct delta_piece *pc, size_t npc,
    struct buf *out)
{
	size_t start = out->len, i, k;
	struct delta_cmd c;
	uint8_t magic[4];

	be32put(magic, RS_DELTA_MAGIC);
	buf_put(out, magic, sizeof(magic));
	for (k = 0; k < npc; k++) {
		const uint8_t *p = pc[k].p;
		size_t n = pc[k].n;

		if (pc[k].kind == DP_COPY) {
			if (pc[k].len)
				diff_copy(out, pc[k].pos, pc[k].len);
			continue;
		}
		if (pc[k].kind == DP_LITERAL) {
			diff_literal(out, p, n);
			continue;
		}
		if (n < 5 || be32(p) != RS_DELTA_MAGIC)
			goto bad;
		/* its commands up to its END, checked and copied as they are */
		i = 4;
		do {
			if (delta_cmd_next(p, n, &i, &c))
				goto bad;
		} while (c.op != DELTA_END);
		if (i != n)
			goto bad;
		buf_put(out, p + 4, n - 5);
	}
	buf_put_u8(out, 0);
	if (out->err) {
		out->len = start;
		return BW_ERR_NOMEM;
	}
	return delta_coalesce(s, out, start);
bad:
	log_error("rsync delta: a piece to join is malformed (a bug)");
	out->len = start;
	return BW_ERR_INVAL;
}

/* ---- signatures derived from a delta ---- */

/*
 * A block's entry in a signature (weak and strong sum) depends only on the
 * block's bytes, the block and strong lengths and the magic.  So when the
 * old signature was made with the parameters the new one gets, a new block
 * that the delta copies whole from a block-aligned place of the old version
 * has the old block's entry.  The other blocks come in runs that start on
 * a block boundary, and a signature job over such a run makes exactly their
 * entries: librsync computes every sum, nothing here hashes by itself.
 */
int
delta_sig_fits(const struct delta_sig *s, uint64_t file_size)
{
	uint32_t bl = delta_block_len(file_size);

	return s->magic == RS_BLAKE2_SIG_MAGIC && s->bl == bl &&
	    s->sl == delta_strong_len(file_size, bl);
}

/* The number of bytes the delta makes, or -1 if it does not parse (or
 * copies from impossible places). */
static int
delta_out_len(const uint8_t *p, size_t n, uint64_t *total)
{
	struct delta_cmd c;
	size_t i = 4;

	*total = 0;
	if (n < 4 || be32(p) != RS_DELTA_MAGIC)
		return -1;
	do {
		if (delta_cmd_next(p, n, &i, &c) ||
		    c.len > UINT64_MAX - *total ||
		    (c.op == DELTA_COPY && c.pos > UINT64_MAX - c.len))
			return -1;
		*total += c.len;
	} while (c.op != DELTA_END);
	return i == n ? 0 : -1;
}

struct derive {
	const struct delta_sig *old;
	uint64_t file_size;
	uint32_t bl;
	size_t w;		/* bytes of one block's entry */
	delta_read_fn *read;
	void *arg;
	uint8_t *rbuf;		/* DELTA_DERIVE_READ bytes */
	struct buf *out;
	/* the delta command that makes the new data at [cat, cat + cc.len);
	 * ci: where the next one starts */
	const uint8_t *p;
	size_t dn, ci;
	struct delta_cmd cc;
	uint64_t cat;
};

/* Moves to the command that makes new position pos (pos never goes back).
 * 1 if the delta ends before it. */
static int
derive_seek(struct derive *d, uint64_t pos)
{
	while (d->cat + d->cc.len <= pos) {
		d->cat += d->cc.len;
		if (delta_cmd_next(d->p, d->dn, &d->ci, &d->cc) || d->cc.op == DELTA_END)
			return 1;
	}
	return 0;
}

/*
 * Bytes a COPY made, read again from the new data at [at, end), fed to the
 * signature job j, and checked against the old blocks they came from: the
 * data may have changed since the delta was made (a write in the same
 * clock tick leaves size and times alone), and a signature must describe
 * the bytes that were stored, or the next delta would copy what is not
 * there.  src is the old position, on a block boundary.  0, 1 if they are
 * not the old blocks' bytes (or the data ends), or a negative code.
 */
static int
derive_copied(struct derive *d, struct delta_sig_job *j, uint64_t at, uint64_t end,
    uint64_t src)
{
	struct delta_sig_job *v;
	struct buf got = { 0 };
	uint64_t blocks = (end - at + d->bl - 1) / d->bl;
	size_t want;
	long r;
	int rc = 0;

	if (src % d->bl || src / d->bl + blocks > d->old->nblocks)
		return 1;
	if ((v = delta_sig_start(d->file_size)) == NULL)
		return BW_ERR_NOMEM;
	for (; at < end && rc == 0; at += (uint64_t)r) {
		want = end - at < DELTA_DERIVE_READ ? (size_t)(end - at) : DELTA_DERIVE_READ;
		if ((r = d->read(d->arg, at, d->rbuf, want)) < 0) {
			rc = (int)r;	/* reported by the reader */
			break;
		}
		if (r == 0 || (size_t)r > want) {
			rc = 1;
			break;
		}
		if ((rc = delta_sig_feed(j, d->rbuf, (size_t)r)) == 0)
			rc = delta_sig_feed(v, d->rbuf, (size_t)r);
	}
	if (rc == 0) {
		rc = delta_sig_finish(v, &got);
		v = NULL;
	}
	if (rc == 0 && (got.len != DELTA_SIG_HEADER + blocks * d->w ||
	    memcmp(got.data + DELTA_SIG_HEADER, d->old->sums + src / d->bl * d->w,
	    blocks * d->w) != 0))
		rc = 1;
	delta_sig_abort(v);
	buf_free(&got);
	return rc;
}

/* Appends the entries of the blocks of the new data [from, to), where from
 * is on a block boundary and to is one or the end: literal bytes from the
 * delta, copied ones read again and checked (derive_copied).  0, 1 if
 * that check fails, or a negative code. */
static int
derive_run(struct derive *d, uint64_t from, uint64_t to)
{
	struct delta_sig_job *j = NULL;
	struct buf sig = { 0 };
	uint64_t at, end, blocks = (to - from + d->bl - 1) / d->bl;
	int rc = 0;

	if (from == to)
		return 0;
	if ((j = delta_sig_start(d->file_size)) == NULL)
		return BW_ERR_NOMEM;
	for (at = from; at < to && rc == 0; at = end) {
		if (derive_seek(d, at)) {
			rc = 1;
			break;
		}
		end = d->cat + d->cc.len < to ? d->cat + d->cc.len : to;
		if (d->cc.op == DELTA_LITERAL)
			rc = delta_sig_feed(j, d->cc.lit + (at - d->cat), (size_t)(end - at));
		else
			rc = derive_copied(d, j, at, end, d->cc.pos + (at - d->cat));
	}
	if (rc)
		goto out;
	rc = delta_sig_finish(j, &sig);
	j = NULL;
	if (rc)
		goto out;
	if (sig.len != DELTA_SIG_HEADER + blocks * d->w) {
		log_error("rsync signature: %zu bytes for %llu blocks of %u (a bug)", sig.len,
		    (unsigned long long)blocks, d->bl);
		rc = BW_ERR_INVAL;
	} else if (buf_put(d->out, sig.data + DELTA_SIG_HEADER, sig.len - DELTA_SIG_HEADER)) {
		log_error("rsync signature: out of memory");
		rc = BW_ERR_NOMEM;
	}
out:
	delta_sig_abort(j);
	buf_free(&sig);
	return rc;
}

int
delta_sig_derive(const struct delta_sig *old, const void *delta, size_t dn,
    uint64_t file_size, uint64_t new_len, delta_read_fn *read_new, void *arg,
    struct buf *out, uint64_t *reused)
{
	const uint8_t *p = delta;
	struct derive d = { 0 };
	struct delta_cmd c;
	size_t start = out->len, i = 4;
	uint64_t total, at = 0, done = 0, j, src, bl, nre = 0;
	uint8_t hdr[DELTA_SIG_HEADER];
	int rc = 1;

	pthread_once(&delta_once, delta_lib_init);
	/* only what the old signature and the delta say can be checked */
	if (!delta_sig_fits(old, file_size) || delta_out_len(p, dn, &total) || total != new_len)
		goto out;
	d.old = old;
	d.file_size = file_size;
	d.bl = delta_block_len(file_size);
	d.w = 4 + delta_strong_len(file_size, d.bl);
	d.read = read_new;
	d.arg = arg;
	d.out = out;
	d.p = p;
	d.dn = dn;
	d.ci = 4;
	d.cc.op = DELTA_LITERAL;	/* of length 0: derive_seek reads the first */
	bl = d.bl;
	rc = BW_ERR_NOMEM;
	if ((d.rbuf = malloc(DELTA_DERIVE_READ)) == NULL) {
		log_error("rsync signature: out of memory");
		goto out;
	}
	/* the header, as librsync writes it */
	be32put(hdr, RS_BLAKE2_SIG_MAGIC);
	be32put(hdr + 4, d.bl);
	be32put(hdr + 8, (uint32_t)(d.w - 4));
	if (buf_put(out, hdr, sizeof(hdr))) {
		log_error("rsync signature: out of memory");
		goto out;
	}
	do {
		(void)delta_cmd_next(p, dn, &i, &c);	/* parsed above */
		if (c.op != DELTA_COPY || c.len < bl)
			goto next;
		/* the first new block wholly inside the copy, and where it
		 * comes from */
		j = (at + bl - 1) / bl;
		src = c.pos + (j * bl - at);
		if (src % bl)
			goto next;
		/* the old version's last block may be short: recompute it */
		for (; (j + 1) * bl <= at + c.len && src / bl + 1 < old->nblocks; j++, src += bl) {
			if ((rc = derive_run(&d, done, j * bl)) != 0)
				goto out;
			if (buf_put(out, old->sums + src / bl * d.w, d.w)) {
				log_error("rsync signature: out of memory");
				rc = BW_ERR_NOMEM;
				goto out;
			}
			done = (j + 1) * bl;
			nre++;
		}
next:
		at += c.len;
	} while (c.op != DELTA_END);
	rc = derive_run(&d, done, new_len);
out:
	if (rc)
		out->len = start;
	if (reused)
		*reused = rc ? 0 : nre;
	free(d.rbuf);
	return rc;
}

/* ---- exact deltas (both versions at hand) ---- */

/*
 * librsync's delta commands (big-endian integers of 1, 2, 4 or 8 bytes):
 *   0x00                END
 *   0x01..0x40          LITERAL of that many bytes, which follow
 *   0x41..0x44          LITERAL, length in 1/2/4/8 bytes, then the bytes
 *   0x45 + 4*p + l      COPY, position in (1,2,4,8)[p] bytes, then length
 *                       in (1,2,4,8)[l] bytes
 * A copy may start anywhere in the basis; librsync only writes block-sized
 * ones because it knows the basis by its block sums, but it reads any.
 */
#define DIFF_WINDOW 16u		/* shortest match looked for */
#define DIFF_STEP 8u		/* old is indexed every DIFF_STEP bytes, so
				 * every match of WINDOW + STEP - 1 is found */

static int
diff_width(uint64_t v)
{
	return v <= 0xff ? 0 : v <= 0xffff ? 1 : v <= 0xffffffffu ? 2 : 3;
}

static void
diff_put_int(struct buf *b, uint64_t v, int w)
{
	uint8_t x[8];
	int n = 1 << w, i;

	for (i = 0; i < n; i++)
		x[i] = (uint8_t)(v >> (8 * (n - 1 - i)));
	buf_put(b, x, (size_t)n);
}

static void
diff_literal(struct buf *b, const uint8_t *p, size_t n)
{
	int w;

	if (n == 0)
		return;
	if (n <= 64) {
		buf_put_u8(b, (uint8_t)n);
	} else {
		w = diff_width(n);
		buf_put_u8(b, (uint8_t)(0x41 + w));
		diff_put_int(b, n, w);
	}
	buf_put(b, p, n);
}

static void
diff_copy(struct buf *b, uint64_t pos, uint64_t len)
{
	int wp = diff_width(pos), wl = diff_width(len);

	buf_put_u8(b, (uint8_t)(0x45 + 4 * wp + wl));
	diff_put_int(b, pos, wp);
	diff_put_int(b, len, wl);
}

static uint32_t
diff_hash(const uint8_t *p, unsigned bits)
{
	uint64_t a, c;

	memcpy(&a, p, 8);
	memcpy(&c, p + 8, 8);
	a = (a ^ (c * 0x9E3779B97F4A7C15ULL)) * 0xBF58476D1CE4E5B9ULL;
	return (uint32_t)(a >> (64 - bits));
}

struct diff_check {
	const uint8_t *old, *new;
	size_t on, nn, at;
	int same;
};

static long
diff_check_read(void *arg, uint64_t pos, void *buf, size_t len)
{
	struct diff_check *c = arg;

	if (pos >= c->on)
		return 0;
	if (len > c->on - pos)
		len = (size_t)(c->on - pos);
	memcpy(buf, c->old + pos, len);
	return (long)len;
}

static int
diff_check_write(void *arg, const void *buf, size_t len)
{
	struct diff_check *c = arg;

	if (len > c->nn - c->at || memcmp(c->new + c->at, buf, len) != 0)
		c->same = 0;
	else
		c->at += len;
	return 0;
}

int
delta_diff(const void *oldp, size_t on, const void *newp, size_t nn, struct buf *out)
{
	const uint8_t *o = oldp, *n = newp;
	struct diff_check chk = { o, n, on, nn, 0, 1 };
	uint32_t *tab = NULL;
	size_t start = out->len, i = 0, lit = 0, slots;
	unsigned bits = 10;
	int rc = BW_ERR_NOMEM;

	buf_put_u32(out, 0);
	if (out->err)
		goto out;
	be32put(out->data + start, RS_DELTA_MAGIC);
	if (on >= DIFF_WINDOW && nn >= DIFF_WINDOW && on / DIFF_STEP < (1u << 30)) {
		/* about two slots per indexed position */
		while (bits < 31 && ((size_t)1 << bits) < on / DIFF_STEP * 2)
			bits++;
		slots = (size_t)1 << bits;
		if ((tab = calloc(slots, sizeof(*tab))) == NULL)
			goto out;
		/* the first position keeps a slot: in a run of equal bytes
		 * the match then extends over the whole run */
		for (size_t p = 0; p + DIFF_WINDOW <= on; p += DIFF_STEP) {
			uint32_t *t = &tab[diff_hash(o + p, bits)];

			if (!*t)
				*t = (uint32_t)(p / DIFF_STEP) + 1;
		}
		while (i + DIFF_WINDOW <= nn) {
			uint32_t t = tab[diff_hash(n + i, bits)];
			size_t p = t ? (size_t)(t - 1) * DIFF_STEP : 0, b = 0, f = DIFF_WINDOW;

			if (!t || memcmp(o + p, n + i, DIFF_WINDOW) != 0) {
				i++;
				continue;
			}
			/* grow the match both ways: back into the pending
			 * literal, forward as far as the bytes agree */
			while (b < i - lit && b < p && o[p - b - 1] == n[i - b - 1])
				b++;
			while (i + f < nn && p + f < on && o[p + f] == n[i + f])
				f++;
			diff_literal(out, n + lit, i - b - lit);
			diff_copy(out, p - b, b + f);
			i += f;
			lit = i;
		}
	}
	diff_literal(out, n + lit, nn - lit);
	buf_put_u8(out, 0);
	if (out->err)
		goto out;
	/* our own encoder: prove the delta rebuilds the new bytes before
	 * anybody stores it */
	rc = delta_apply(out->data + start, out->len - start, diff_check_read, &chk,
	    diff_check_write, &chk);
	if (rc != 0 || !chk.same || chk.at != nn) {
		log_error("rsync delta: the exact delta of %zu bytes on %zu does not rebuild "
		    "them (a bug); stored whole instead", nn, on);
		rc = BW_ERR_INVAL;
	}
out:
	if (rc)
		out->len = start;
	free(tab);
	return rc;
}

/* ---- patching ---- */

struct delta_apply_ctx {
	delta_read_fn *read;
	void *arg;
	int err;	/* why the copy callback failed */
};

/* Fills exactly *len bytes from the basis at pos into *buf, or fails: a
 * short copy would make librsync spin, and reading past the end of the
 * basis means the delta does not belong to it. */
static rs_result
delta_copy(void *opaque, rs_long_t pos, size_t *len, void **buf)
{
	struct delta_apply_ctx *a = opaque;
	uint8_t *dst = *buf;
	size_t want = *len, got = 0;
	long r;

	if (pos < 0 || (uint64_t)pos > UINT64_MAX - want) {
		a->err = BW_ERR_CORRUPT;
		log_error("rsync delta: copies from impossible offset %lld; the delta "
		    "is damaged: run 'bulwark check --read-data'", (long long)pos);
		return RS_CORRUPT;
	}
	while (got < want) {
		r = a->read(a->arg, (uint64_t)pos + got, dst + got, want - got);
		if (r < 0) {
			a->err = (int)r;
			return RS_IO_ERROR;
		}
		if (r == 0 || (size_t)r > want - got) {
			a->err = BW_ERR_CORRUPT;
			log_error("rsync delta: copies bytes %llu..%llu, past the end of its "
			    "basis; the delta does not belong to this basis or is damaged: "
			    "run 'bulwark check --read-data'", (unsigned long long)pos,
			    (unsigned long long)pos + want);
			return RS_CORRUPT;
		}
		got += (size_t)r;
	}
	return RS_DONE;
}

int
delta_apply(const void *delta, size_t n, delta_read_fn *read_basis, void *rarg,
    delta_write_fn *write_out, void *warg)
{
	struct delta_apply_ctx a = { read_basis, rarg, 0 };
	rs_job_t *job = NULL;
	uint8_t *obuf = NULL;
	rs_buffers_t b;
	rs_result r;
	size_t made, in0;
	int err = BW_ERR_NOMEM;

	pthread_once(&delta_once, delta_lib_init);
	if ((obuf = malloc(DELTA_OUT_STEP)) == NULL ||
	    (job = rs_patch_begin(delta_copy, &a)) == NULL) {
		log_error("rsync delta: out of memory");
		goto out;
	}
	memset(&b, 0, sizeof(b));
	b.next_in = (char *)(uintptr_t)delta;
	b.avail_in = n;
	b.eof_in = 1;
	do {
		b.next_out = (char *)obuf;
		b.avail_out = DELTA_OUT_STEP;
		in0 = b.avail_in;
		r = rs_job_iter(job, &b);
		if (r != RS_DONE && r != RS_BLOCKED) {
			if (a.err) {
				err = a.err;	/* reported by the callback or reader */
			} else {
				err = delta_err(r);
				log_error("rsync delta: %s at byte %zu of %zu; the delta is "
				    "damaged: run 'bulwark check --read-data'",
				    rs_strerror(r), n - b.avail_in, n);
			}
			goto out;
		}
		made = DELTA_OUT_STEP - b.avail_out;
		if (made && (err = write_out(warg, obuf, made)) != 0)
			goto out;
		if (r == RS_BLOCKED && made == 0 && b.avail_in == in0) {
			/* All input is there, so blocking without progress
			 * means the delta cannot go on. */
			err = BW_ERR_CORRUPT;
			log_error("rsync delta: stalls at byte %zu of %zu; the delta is "
			    "damaged: run 'bulwark check --read-data'", n - b.avail_in, n);
			goto out;
		}
	} while (r != RS_DONE);
	if (b.avail_in) {
		err = BW_ERR_CORRUPT;
		log_error("rsync delta: %zu stray bytes after its end; the delta is "
		    "damaged: run 'bulwark check --read-data'", b.avail_in);
		goto out;
	}
	err = 0;
out:
	if (job)
		rs_job_free(job);
	free(obuf);
	return err;
}
