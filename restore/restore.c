/*
 * The restore engine (restore/restore.h).
 *
 * One thread walks the snapshot's trees in order and writes every entry
 * through lib/fsent's writer; worker threads fetch and decode the data
 * chunks (decrypt, decompress, verify id) of the files it will write next,
 * queued by a read-ahead thread that walks the same trees (see "the
 * decode workers" below).  A file stored as an rsync delta is rebuilt
 * from its chain: each base is materialised in an unlinked temporary file
 * (random access for the patch), the last patch streams straight into the
 * restored file.
 *
 * Every restored file is verified before it gets its final name: the
 * keyed hash of "file" || chunk ids of its bytes (the data regions
 * concatenated, cut by the repository's chunker) must equal the entry's
 * recorded hash (docs/FORMAT.md, "Trees").  For a file stored as chunks
 * those ids are the stored ones, each checked against its bytes as it
 * was decoded; the output of a delta, and a file already in the target
 * (resume, --verify), are cut again and hashed.
 */
#include "config.h"

#include <errno.h>
#include <fcntl.h>
#include <fnmatch.h>
#include <limits.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include <sodium.h>

#include "lib/chunk/cdc.h"
#include "lib/chunk/delta.h"
#include "lib/crypto/bwcrypto.h"
#include "lib/fsent/fsout.h"
#include "lib/repo/idset.h"
#include "lib/repo/walk.h"
#include "lib/util/err.h"
#include "lib/util/log.h"
#include "restore/restore.h"

/* Memory held by decoded data waiting for the writer, at most: a few
 * average chunks, or thousands of small files, keep the writer fed.  With
 * the decoders' own buffers and the allocator's slack the pipeline stays
 * under the key unlock (48 MiB by default), which is the peak (16 MiB here
 * took the pipeline to 61-65 MiB). */
#define RESTORE_INFLIGHT_MAX (8u << 20)
/* Chunks queued ahead of the writer (a small file is one chunk). */
#define RESTORE_QUEUE_MAX 4096
/* A delta level is held in memory while it is applied; the format stores
 * a version whole rather than a delta above 8 MiB (docs/FORMAT.md). */
#define RESTORE_DELTA_MAX (16u << 20)
#define RESTORE_IO_BLOCK (1u << 20)

/* ---- file hash from bytes ---- */

struct verifier {
	struct repo *r;
	struct cdc *cdc;
	struct bwcrypto_hasher *h;
	struct buf chunk;		/* the chunk being cut */
	uint64_t total;
	int err;
};

static int
verifier_init(struct verifier *v, struct repo *r)
{
	struct cdc_params cp;
	uint8_t seed[32];

	memset(v, 0, sizeof(*v));
	v->r = r;
	repo_chunk_params(r, &cp.min, &cp.avg, &cp.max);
	repo_gear_seed(r, seed);
	v->cdc = cdc_new(seed, &cp);
	sodium_memzero(seed, sizeof(seed));
	v->h = bwcrypto_hasher_new(repo_id_key(r));
	if (!v->cdc || !v->h)
		return BW_ERR_NOMEM;
	return 0;
}

static void
verifier_fini(struct verifier *v)
{
	cdc_free(v->cdc);
	bwcrypto_hasher_free(v->h);
	buf_free(&v->chunk);
	memset(v, 0, sizeof(*v));
}

static void
verifier_start(struct verifier *v)
{
	cdc_reset(v->cdc);
	bwcrypto_hasher_reset(v->h);
	bwcrypto_hasher_update(v->h, "file", 4);
	buf_reset(&v->chunk);
	v->total = 0;
	v->err = 0;
}

static void
verifier_cut(struct verifier *v)
{
	uint8_t id[OBJ_ID_LEN];

	if (repo_object_id(v->r, OBJ_DATA, v->chunk.data, v->chunk.len, id) != 0)
		v->err = BW_ERR_NOMEM;	/* not a mismatch: nothing is called damaged */
	else
		bwcrypto_hasher_update(v->h, id, sizeof(id));
	buf_reset(&v->chunk);
}

static int
verifier_feed(struct verifier *v, const void *p, size_t n)
{
	const uint8_t *b = p;
	size_t k;
	int cut;

	v->total += n;
	while (n > 0 && v->err == 0) {
		k = cdc_next(v->cdc, b, n, &cut);
		if (buf_put(&v->chunk, b, k) != 0)
			v->err = BW_ERR_NOMEM;
		else if (cut)
			verifier_cut(v);
		b += k;
		n -= k;
	}
	return v->err;
}

/* 0 when the bytes fed hash to want. */
static int
verifier_check(struct verifier *v, const uint8_t want[32])
{
	uint8_t got[32];

	if (v->err)
		return v->err;
	if (v->chunk.len)
		verifier_cut(v);
	if (v->err)
		return v->err;
	bwcrypto_hasher_final(v->h, got);
	return sodium_memcmp(got, want, 32) == 0 ? 0 : BW_ERR_CORRUPT;
}

/* 0 when the file hash of chunks c (their ids, as stored) is want. */
static int
ids_check(struct verifier *v, const struct tree_content *c, const uint8_t want[32])
{
	uint8_t got[32];

	bwcrypto_hasher_reset(v->h);
	bwcrypto_hasher_update(v->h, "file", 4);
	if (c->nids)
		bwcrypto_hasher_update(v->h, c->ids, (size_t)c->nids * 32);
	bwcrypto_hasher_final(v->h, got);
	return sodium_memcmp(got, want, 32) == 0 ? 0 : BW_ERR_CORRUPT;
}

/* Keeps only the bytes of a file's logical content that lie in its data
 * regions (what the file hash covers), for files read back whole. */
struct region_filter {
	const struct tree_entry *e;
	struct verifier *v;
	uint64_t pos;			/* logical offset */
	size_t i;			/* first region not behind pos */
};

/* region_filter_fn: past the last region, nothing more to read */
#define REGION_FILTER_DONE 1

/* Regions sorted, apart and inside the file (what the writer requires);
 * the filter below relies on it. */
static int
regions_sorted(const struct tree_entry *e)
{
	uint64_t end = 0;
	size_t i;

	for (i = 0; i < e->nregions; i++) {
		const struct tree_region *r = &e->regions[i];

		if (r->off < end || r->len > e->size || r->off > e->size - r->len)
			return 0;
		end = r->off + r->len;
	}
	return 1;
}

/* Regions must be sorted (regions_sorted): one pass over them in all. */
static int
region_filter_fn(const void *p, size_t n, void *arg)
{
	struct region_filter *f = arg;
	const struct tree_entry *e = f->e;
	const uint8_t *b = p;
	uint64_t lo = f->pos, hi = f->pos + n, s, t;
	int rc = 0;

	if (e->nregions == 0)
		return verifier_feed(f->v, p, n);
	for (; f->i < e->nregions && rc == 0; f->i++) {
		s = e->regions[f->i].off;
		t = s + e->regions[f->i].len;
		if (s >= hi)
			break;
		if (s < lo)
			s = lo;
		if (t > hi) {
			rc = verifier_feed(f->v, b + (s - lo), (size_t)(hi - s));
			break;		/* the region goes on in the next read */
		}
		if (t > s)
			rc = verifier_feed(f->v, b + (s - lo), (size_t)(t - s));
	}
	f->pos = hi;
	if (rc == 0 && f->i == e->nregions)
		return REGION_FILTER_DONE;
	return rc;
}

/* ---- the decode workers, ahead of the writer ----
 *
 * Creating files is the slow part of a restore, so the one writing thread
 * must never wait for decoding.  A reader thread walks the snapshot ahead
 * of the writer, in the same order, and queues the data chunks of every
 * file taken (a delta chain's bases first, as the writer needs them); the
 * workers decode them in that order, across as many files as the queue
 * holds.  The writer takes each chunk from the queue's head by id: the
 * chunks of files it has passed (skipped, refused, already there) are
 * dropped, and a chunk the queue does not hold (a hard link copied from
 * its first path, the reader still behind) is fetched by the writer
 * itself.  Decoded data waiting is bounded in bytes and in chunks, so
 * memory stays small whatever the snapshot.
 */

enum { SLOT_QUEUED = 1, SLOT_BUSY, SLOT_DONE };

/* A file's path, shared by its queued chunks. */
struct qpath {
	unsigned refs;
	char path[];
};

struct slot {
	uint8_t id[OBJ_ID_LEN];
	struct qpath *path;
	struct buf data;
	uint64_t charge;		/* bytes counted against the budget */
	int state, rc;
};

struct rs;

struct pool {
	struct repo *r;
	const struct rs *s;		/* what the reader walks and selects */
	pthread_mutex_t mu;
	pthread_cond_t work, done, room;
	struct slot *ring;		/* RESTORE_QUEUE_MAX */
	uint64_t head, taken, issued;	/* writer <= workers <= reader */
	uint64_t charged;		/* decoded (or expected) bytes queued */
	char *wpath;			/* the file the writer is at */
	uint32_t avg, max;		/* chunk sizes: estimates before decoding */
	int quit;
	int reader_on;
	int reader_waits;		/* the reader sleeps until pool_low */
	pthread_t reader;
	pthread_t *thr;
	int nthr;
};

static int walk_before(const char *a, const char *b);
static void pool_read(struct pool *p, const struct walk_opts *wo);
static int selected(const struct rs *s, const char *path, int is_dir);

static void
qpath_unref(struct qpath *q)
{
	if (q && --q->refs == 0)
		free(q);
}

static void
pool_worker_decode(struct pool *p, struct slot *sl)
{
	struct buf b;
	int rc;

	sl->state = SLOT_BUSY;
	pthread_mutex_unlock(&p->mu);
	buf_init(&b);
	rc = repo_get(p->r, OBJ_DATA, sl->id, &b);
	pthread_mutex_lock(&p->mu);
	sl->data = b;
	sl->rc = rc;
	sl->state = SLOT_DONE;
	/* the estimate becomes the memory really held */
	p->charged = p->charged - sl->charge + b.cap;
	sl->charge = b.cap;
	pthread_cond_broadcast(&p->done);
}

static void *
pool_worker(void *arg)
{
	struct pool *p = arg;

	pthread_mutex_lock(&p->mu);
	for (;;) {
		while (!p->quit && p->taken == p->issued)
			pthread_cond_wait(&p->work, &p->mu);
		if (p->quit)
			break;
		pool_worker_decode(p, &p->ring[p->taken++ % RESTORE_QUEUE_MAX]);
	}
	pthread_mutex_unlock(&p->mu);
	return NULL;
}

/* The queue is full: the reader waits (under the lock). */
static int
pool_full(const struct pool *p)
{
	return p->issued - p->head == RESTORE_QUEUE_MAX ||
	    (p->charged >= RESTORE_INFLIGHT_MAX && p->issued > p->head);
}

/* The queue has drained to half: a waiting reader goes on.  Waking it for
 * every chunk taken would cost two context switches per small file (one
 * chunk queued, one decoded, back to sleep), which on two cores preempts
 * the writer tens of thousands of times in a restore. */
static int
pool_low(const struct pool *p)
{
	return p->issued - p->head <= RESTORE_QUEUE_MAX / 2 &&
	    (p->charged <= RESTORE_INFLIGHT_MAX / 2 || p->issued == p->head);
}

/* Wakes the reader if it waits and the queue is low (under the lock). */
static void
pool_room(struct pool *p)
{
	if (p->reader_waits && pool_low(p))
		pthread_cond_broadcast(&p->room);
}

static void
slot_release(struct pool *p, struct slot *sl)
{
	buf_free(&sl->data);
	p->charged -= sl->charge;
	sl->charge = 0;
	qpath_unref(sl->path);
	sl->path = NULL;
	sl->state = 0;
}

/* Drops the queued chunks before sequence number end (under the lock);
 * those not yet decoded never will be, those being decoded are waited
 * for. */
static void
pool_drop(struct pool *p, uint64_t end)
{
	struct slot *sl;

	if (p->head >= end)
		return;
	if (p->taken < end)
		p->taken = end;
	while (p->head < end) {
		sl = &p->ring[p->head % RESTORE_QUEUE_MAX];
		while (sl->state == SLOT_BUSY)
			pthread_cond_wait(&p->done, &p->mu);
		slot_release(p, sl);
		p->head++;
	}
	pool_room(p);
}

/* The writer is at the file path: what was queued for files before it
 * goes, and the reader no longer queues those. */
static void
pool_at(struct pool *p, const char *path)
{
	struct qpath *last = NULL;
	char *w = strdup(path);		/* without it the reader only queues more */
	uint64_t q;

	pthread_mutex_lock(&p->mu);
	free(p->wpath);
	p->wpath = w;
	for (q = p->head; q < p->issued; q++) {
		struct qpath *qp = p->ring[q % RESTORE_QUEUE_MAX].path;

		if (qp != last && !walk_before(qp->path, path))
			break;
		last = qp;
	}
	pool_drop(p, q);
	pthread_mutex_unlock(&p->mu);
}

/* Chunk id of the file at path, decoded, into b (its old data freed):
 * from the queue's head, else decoded here.  repo_get's codes. */
static int
pool_take(struct pool *p, const char *path, const uint8_t *id, struct buf *b)
{
	struct slot *sl = NULL;
	uint64_t q;
	int rc;

	pthread_mutex_lock(&p->mu);
	for (q = p->head; q < p->issued; q++) {
		sl = &p->ring[q % RESTORE_QUEUE_MAX];
		if (strcmp(sl->path->path, path) != 0) {
			q = p->issued;
			break;
		}
		if (memcmp(sl->id, id, OBJ_ID_LEN) == 0)
			break;
	}
	if (q == p->issued) {
		pthread_mutex_unlock(&p->mu);
		buf_reset(b);
		return repo_get(p->r, OBJ_DATA, id, b);
	}
	/* chunks of this file queued before it (asked for elsewhere) */
	pool_drop(p, q);
	if (sl->state == SLOT_QUEUED) {
		/* the workers are behind: decode it here rather than wait */
		p->taken++;
		pool_worker_decode(p, sl);
	}
	while (sl->state != SLOT_DONE)
		pthread_cond_wait(&p->done, &p->mu);
	rc = sl->rc;
	buf_free(b);
	*b = sl->data;
	buf_init(&sl->data);
	slot_release(p, sl);
	p->head++;
	pool_room(p);
	pthread_mutex_unlock(&p->mu);
	return rc;
}

/* Queues c's chunks (a delta's bases: the writer fetches the deltas). */
static int
pool_queue(struct pool *p, struct qpath *qp, const struct tree_content *c,
    uint64_t est, int depth)
{
	struct slot *sl;
	uint32_t i;

	if (c->kind == 1) {
		if (!c->base || depth > TREE_DELTA_DEPTH_MAX)
			return 0;	/* the writer finds it damaged */
		return pool_queue(p, qp, c->base, p->avg, depth + 1);
	}
	for (i = 0; i < c->nids; i++) {
		pthread_mutex_lock(&p->mu);
		if (!p->quit && pool_full(p)) {
			p->reader_waits = 1;
			while (!p->quit && !pool_low(p))
				pthread_cond_wait(&p->room, &p->mu);
			p->reader_waits = 0;
		}
		if (p->quit) {
			pthread_mutex_unlock(&p->mu);
			return BW_ERR_INTR;
		}
		sl = &p->ring[p->issued++ % RESTORE_QUEUE_MAX];
		memcpy(sl->id, c->ids[i], OBJ_ID_LEN);
		sl->path = qp;
		qp->refs++;
		sl->charge = est;
		p->charged += est;
		sl->rc = 0;
		buf_init(&sl->data);
		sl->state = SLOT_QUEUED;
		pthread_cond_signal(&p->work);
		pthread_mutex_unlock(&p->mu);
	}
	return 0;
}

static int
reader_visit(const char *path, const struct tree_entry *e, void *arg)
{
	struct pool *p = arg;
	struct qpath *qp;
	uint64_t est;
	size_t n;
	int sel, rc, passed;

	sel = selected(p->s, path, e->kind == TREE_DIR);
	if (sel < 0)
		return 1;
	if (sel == 0 || e->kind != TREE_FILE)
		return 0;
	pthread_mutex_lock(&p->mu);
	passed = p->wpath && !walk_before(p->wpath, path);
	rc = p->quit ? BW_ERR_INTR : 0;
	pthread_mutex_unlock(&p->mu);
	if (rc || passed)
		return rc;
	n = strlen(path);
	if ((qp = malloc(sizeof(*qp) + n + 1)) == NULL)
		return BW_ERR_NOMEM;	/* the writer fetches on its own */
	memcpy(qp->path, path, n + 1);
	qp->refs = 1;
	est = p->avg;
	if (e->content.kind == 0 && e->content.nids)
		est = e->size / e->content.nids + 1;
	if (est > p->max)
		est = p->max;
	rc = pool_queue(p, qp, &e->content, est, 0);
	pthread_mutex_lock(&p->mu);
	qpath_unref(qp);
	pthread_mutex_unlock(&p->mu);
	return rc;
}

static int
reader_failed(const char *path, const uint8_t id[32], int err, void *arg)
{
	(void)path;
	(void)id;
	(void)err;
	(void)arg;
	return 0;	/* the writer's own walk reports it */
}

static void *
pool_reader(void *arg)
{
	struct pool *p = arg;
	struct walk_opts wo = { reader_visit, reader_failed, p, NULL };

	pool_read(p, &wo);
	return NULL;
}

static int
pool_start(struct pool *p, struct repo *r, const struct rs *s, int nthr)
{
	sigset_t block, old;
	uint32_t mn;
	int i, e, rc = 0;

	memset(p, 0, sizeof(*p));
	p->r = r;
	p->s = s;
	repo_chunk_params(r, &mn, &p->avg, &p->max);
	pthread_mutex_init(&p->mu, NULL);
	pthread_cond_init(&p->work, NULL);
	pthread_cond_init(&p->done, NULL);
	pthread_cond_init(&p->room, NULL);
	if ((p->thr = calloc((size_t)nthr, sizeof(*p->thr))) == NULL ||
	    (p->ring = calloc(RESTORE_QUEUE_MAX, sizeof(*p->ring))) == NULL)
		return BW_ERR_NOMEM;
	/* signals go to the writing thread, which checks o->stop; a worker's
	 * read is never cut short by one */
	sigemptyset(&block);
	sigaddset(&block, SIGINT);
	sigaddset(&block, SIGTERM);
	pthread_sigmask(SIG_BLOCK, &block, &old);
	for (i = 0; i < nthr; i++) {
		if ((e = pthread_create(&p->thr[i], NULL, pool_worker, p)) != 0) {
			log_error("restore: cannot start a decode thread: %s", strerror(e));
			rc = BW_ERR_NOMEM;
			goto out;
		}
		p->nthr++;
	}
	/* without the reader, the writer fetches every chunk itself */
	if ((e = pthread_create(&p->reader, NULL, pool_reader, p)) != 0)
		log_warn("restore: cannot start the read-ahead thread: %s", strerror(e));
	else
		p->reader_on = 1;
out:
	pthread_sigmask(SIG_SETMASK, &old, NULL);
	return rc;
}

static void
pool_stop(struct pool *p)
{
	int k;

	if (!p->thr)
		return;
	pthread_mutex_lock(&p->mu);
	p->quit = 1;
	pthread_cond_broadcast(&p->work);
	pthread_cond_broadcast(&p->room);
	pthread_mutex_unlock(&p->mu);
	if (p->reader_on)
		pthread_join(p->reader, NULL);
	for (k = 0; k < p->nthr; k++)
		pthread_join(p->thr[k], NULL);
	for (; p->ring && p->head < p->issued; p->head++)
		slot_release(p, &p->ring[p->head % RESTORE_QUEUE_MAX]);
	free(p->ring);
	free(p->thr);
	free(p->wpath);
	p->thr = NULL;
	p->ring = NULL;
	p->wpath = NULL;
	pthread_mutex_destroy(&p->mu);
	pthread_cond_destroy(&p->work);
	pthread_cond_destroy(&p->done);
	pthread_cond_destroy(&p->room);
}

/* ---- one restore ---- */

struct rs {
	struct repo *r;
	const struct restore_opts *o;
	struct restore_stats *st;
	int plan;
	struct fsout *out;
	uint8_t root[32];
	char *base;			/* the snapshot path restored ("" for "/") */
	int base_file;			/* it is a file: lands as target/NAME */
	struct verifier v;
	struct pool pool;
	int pool_on;
	const char *wpath;		/* the file being written (the queue's key) */
	struct idset *lost;		/* files not restored (hard links copy them) */
	/* a hard link whose first path is not restored becomes a copy; the
	 * inode's later paths link to that copy: first path -> its rel */
	struct idset *copies;
	/* first paths that hard links name (from the first pass) */
	struct idset *linked;
	int links_known;
	char **copy_rel;
	size_t ncopies;
	/* directories looked into but not taken themselves (patterns, a
	 * selection): written with their own metadata once something below
	 * them is taken */
	struct pending { char *path; struct tree *t; int done; } *pend;
	size_t npend, cappend;
	char **bad_dirs;		/* directories whose tree failed */
	size_t nbad_dirs;
	int fatal;			/* stops the walk: INTR, NOSPC, NOMEM */
	int any_io;
	struct timespec t0, last;
	struct restore_progress prog;
	int counting;			/* the totals pass before a run */
};

static uint64_t
elapsed_ns(const struct rs *s)
{
	struct timespec t;

	clock_gettime(CLOCK_MONOTONIC, &t);
	return (uint64_t)(t.tv_sec - s->t0.tv_sec) * 1000000000u +
	    (uint64_t)(t.tv_nsec - s->t0.tv_nsec);
}

static int
stopped(const struct rs *s)
{
	return s->o->stop && *s->o->stop;
}

/* Names come from the repository: quoted (fsent_quote) so that a name can
 * neither start a new log line nor drive a terminal; never cut. */
static char *
quote(const char *p)
{
	size_t cap = 4 * strlen(p) + 9;
	char *out;

	if ((out = malloc(cap)) == NULL)
		return NULL;
	return (char *)fsent_quote(p, out, cap);
}

static void
report(struct rs *s, const char *path, const char *dest, enum restore_what what,
    const struct tree_entry *e, const char *reason)
{
	struct restore_item it;

	switch (what) {
	case RESTORE_REPLACED: s->st->replaced++; break;
	case RESTORE_SKIPPED_EXISTS: s->st->skipped++; break;
	case RESTORE_UNCHANGED: s->st->unchanged++; break;
	case RESTORE_REFUSED: s->st->refused++; break;
	case RESTORE_DAMAGED: s->st->damaged++; break;
	case RESTORE_FAILED: s->st->failed++; break;
	default: break;
	}
	if (what == RESTORE_REFUSED || what == RESTORE_DAMAGED) {
		char *q = quote(path);

		log_error("restore: %s: %s: %s", q ? q : "(out of memory)",
		    what == RESTORE_REFUSED ? "refused" : "damaged", reason ? reason : "");
		free(q);
	}
	if (!s->o->item || (what == RESTORE_NEW && !s->plan))
		return;
	memset(&it, 0, sizeof(it));
	it.path = path;
	it.dest = dest;
	it.what = what;
	it.kind = e ? e->kind : TREE_DIR;
	it.size = e && e->kind == TREE_FILE ? e->size : 0;
	it.reason = reason;
	s->o->item(&it, s->o->item_arg);
}

static void
progress(struct rs *s)
{
	if (!s->o->progress || s->plan || s->counting)
		return;
	s->prog.elapsed_ns = elapsed_ns(s);
	s->o->progress(&s->prog, s->o->progress_arg);
}

static int
lost_add(struct rs *s, const char *path)
{
	uint8_t k[32];

	bwcrypto_hash_plain(k, path, strlen(path));
	return idset_put(s->lost, k, 0, NULL);
}

/* ---- selection ---- */

static int
pat_match(const char *pat, const char *path)
{
	const char *bn = strrchr(path, '/');

	return fnmatch(pat, strchr(pat, '/') ? path : (bn ? bn + 1 : path), 0) == 0;
}

/* Does path or one of its ancestors (below "/") match one of pats? */
static int
match_any_prefix(const char *const *pats, size_t n, const char *path)
{
	char *tmp;
	size_t i, len = strlen(path), k;
	int hit = 0;

	if (!n)
		return 0;
	if ((tmp = strdup(path)) == NULL)
		return 0;
	for (k = 1; k <= len && !hit; k++) {
		if (k < len && tmp[k] != '/')
			continue;
		tmp[k] = '\0';
		for (i = 0; i < n && !hit; i++)
			hit = pat_match(pats[i], tmp);
		if (k < len)
			tmp[k] = '/';
	}
	free(tmp);
	return hit;
}

static int
under(const char *path, const char *dir)
{
	size_t n = strlen(dir);

	if (n == 1 && dir[0] == '/')
		return path[0] == '/';
	return strncmp(path, dir, n) == 0 && (path[n] == '\0' || path[n] == '/');
}

/* 1 take, 0 do not take but look below (a directory), -1 neither. */
static int
selected(const struct rs *s, const char *path, int is_dir)
{
	const struct restore_opts *o = s->o;
	size_t i;
	int inside = 0, above = 0;

	if (o->nexcludes && match_any_prefix(o->excludes, o->nexcludes, path))
		return -1;
	if (o->nselect) {
		for (i = 0; i < o->nselect; i++) {
			if (under(path, o->select[i]))
				inside = 1;
			else if (is_dir && under(o->select[i], path))
				above = 1;
		}
		if (!inside)
			return above ? 0 : -1;
	}
	if (o->nincludes && !match_any_prefix(o->includes, o->nincludes, path))
		return is_dir ? 0 : -1;
	return 1;
}

/* Target-relative path of a snapshot path; NULL if outside the base. */
static char *
dest_of(const struct rs *s, const char *path)
{
	size_t n = strlen(s->base);
	const char *bn;

	if (s->base_file) {
		if (strcmp(path, s->base) != 0)
			return NULL;
		bn = strrchr(path, '/');
		return strdup(bn ? bn + 1 : path);
	}
	if (n == 0)
		return path[0] == '/' && path[1] ? strdup(path + 1) : NULL;
	if (strncmp(path, s->base, n) != 0 || path[n] != '/' || !path[n + 1])
		return NULL;
	return strdup(path + n + 1);
}

/* ---- tree entry -> writer entry ---- */

static int
to_fsent(const char *path, const struct tree_entry *t, struct fsent_entry *f,
    struct fsent_xattr *xa)
{
	size_t i;

	memset(f, 0, sizeof(*f));
	f->path = (char *)path;
	f->type = (enum fsent_type)t->kind;
	f->mode = t->mode;
	f->uid = t->uid;
	f->gid = t->gid;
	f->uname = t->uname && *t->uname ? t->uname : NULL;
	f->gname = t->gname && *t->gname ? t->gname : NULL;
	f->mtime_sec = t->mtime_sec;
	f->mtime_nsec = t->mtime_nsec;
	/* atime is not recorded: a restore sets it to the mtime (FORMAT.md) */
	f->atime_sec = t->mtime_sec;
	f->atime_nsec = t->mtime_nsec;
	f->size = t->size;
	f->rdev = t->rdev;
	f->nlink = 0;		/* unknown (do_file knows better) */
	f->link = t->link && *t->link ? t->link : NULL;
	/* xa (room for t->nxattrs) NULL: no xattrs wanted */
	for (i = 0; xa && i < t->nxattrs; i++) {
		xa[i].name = t->xattrs[i].name;
		xa[i].value = t->xattrs[i].value;
		xa[i].len = t->xattrs[i].len;
	}
	f->xattrs = xa && t->nxattrs ? xa : NULL;
	f->nxattrs = xa ? t->nxattrs : 0;
	f->acl_access = t->acl_access && *t->acl_access ? t->acl_access : NULL;
	f->acl_default = t->acl_default && *t->acl_default ? t->acl_default : NULL;
	f->regions = (struct fsent_region *)t->regions;
	f->nregions = t->nregions;
	return 0;
}

/* ---- writing a file's bytes ---- */

struct sink {
	struct rs *s;
	const struct tree_entry *e;
	struct fsout_file *f;		/* NULL: only hashed */
	uint64_t pos;			/* offset in the regions concatenated */
	size_t reg;			/* current region */
	uint64_t reg_off;		/* offset inside it */
	uint64_t want;			/* total length expected */
	int by_ids;			/* the file hash comes from the chunk ids */
	int err;
};

static uint64_t
content_len(const struct tree_entry *e)
{
	uint64_t n = 0;
	size_t i;

	if (e->nregions == 0)
		return e->size;
	for (i = 0; i < e->nregions; i++)
		n += e->regions[i].len;
	return n;
}

static int
sink_write(void *arg, const void *p, size_t n)
{
	struct sink *k = arg;
	const struct tree_entry *e = k->e;
	const uint8_t *b = p;
	uint64_t room;
	size_t m;
	int rc;

	if (k->err)
		return k->err;
	if (n > k->want - k->pos) {
		k->err = BW_ERR_CORRUPT;	/* more bytes than the entry has */
		return k->err;
	}
	if (!k->by_ids && (rc = verifier_feed(&k->s->v, p, n)) != 0)
		return k->err = rc;
	while (n > 0) {
		if (e->nregions == 0) {
			m = n;
			rc = k->f ? fsout_file_write(k->f, k->pos, b, m) : 0;
		} else {
			while (k->reg < e->nregions && k->reg_off == e->regions[k->reg].len) {
				k->reg++;
				k->reg_off = 0;
			}
			if (k->reg == e->nregions)
				return k->err = BW_ERR_CORRUPT;
			room = e->regions[k->reg].len - k->reg_off;
			m = n < room ? n : (size_t)room;
			rc = k->f ? fsout_file_write(k->f, e->regions[k->reg].off + k->reg_off,
			    b, m) : 0;
			k->reg_off += m;
		}
		if (rc)
			return k->err = rc;
		k->pos += m;
		k->s->prog.bytes_done += m;
		b += m;
		n -= m;
	}
	return 0;
}

/* Decodes chunks (taken from the workers' queue) and hands them to out in
 * order (a restored file, or a delta chain's base in a temporary file).
 * A chunk that fails makes the file damaged (BW_ERR_CORRUPT / NOENT / AUTH). */
static int
write_chunks(struct rs *s, const struct tree_content *c, delta_write_fn *out, void *arg)
{
	struct buf b = { 0 };
	uint32_t i;
	int rc = 0;

	for (i = 0; i < c->nids && rc == 0; i++) {
		if (stopped(s)) {
			rc = BW_ERR_INTR;
			break;
		}
		if (s->pool_on) {
			rc = pool_take(&s->pool, s->wpath, c->ids[i], &b);
		} else {
			buf_reset(&b);
			rc = repo_get(s->r, OBJ_DATA, c->ids[i], &b);
		}
		if (rc == 0)
			rc = out(arg, b.data, b.len);
		if (rc == 0 && out == sink_write)
			progress(s);	/* a big file moves the line too */
	}
	buf_free(&b);
	return rc;
}

static long
read_fd(void *arg, uint64_t pos, void *buf, size_t len)
{
	int fd = *(int *)arg;
	ssize_t n;

	do
		n = pread(fd, buf, len, (off_t)pos);
	while (n < 0 && errno == EINTR);
	return n < 0 ? BW_ERR_IO : (long)n;
}

static int
write_fd(void *arg, const void *p, size_t n)
{
	int fd = *(int *)arg;
	const uint8_t *b = p;
	ssize_t w;

	while (n > 0) {
		if ((w = write(fd, b, n)) < 0) {
			if (errno == EINTR)
				continue;
			return bw_err_from_errno(errno);
		}
		b += w;
		n -= (size_t)w;
	}
	return 0;
}

static int
tmp_fd(void)
{
	const char *dir = getenv("TMPDIR");
	char path[PATH_MAX];
	int fd;

	snprintf(path, sizeof(path), "%s/bulwark-restore-XXXXXX", dir && *dir ? dir : "/tmp");
	if ((fd = mkstemp(path)) < 0) {
		log_error("restore: cannot create a temporary file in %s: %s (set TMPDIR)",
		    dir && *dir ? dir : "/tmp", strerror(errno));
		return bw_err_from_errno(errno);
	}
	unlink(path);
	return fd;
}

static int
fetch_delta(struct rs *s, const struct tree_content *c, struct buf *d)
{
	struct buf b = { 0 };
	uint32_t i;
	int rc = 0;

	for (i = 0; i < c->nids && rc == 0; i++) {
		buf_reset(&b);
		if ((rc = repo_get(s->r, OBJ_DELTA, c->ids[i], &b)) != 0)
			break;
		if (b.len > RESTORE_DELTA_MAX - d->len)
			rc = BW_ERR_CORRUPT;
		else
			rc = buf_put(d, b.data, b.len);
	}
	buf_free(&b);
	return rc;
}

/*
 * Temporary bytes of one file's delta chain, bounded: each level is an
 * older version of the same file, and the backup stores a delta only when
 * it reuses at least a quarter of the older version (backupd/engine.c), so
 * a version is at most 4 times the next one: the base d levels below the
 * file is at most 4^d times its size (plus 1 MiB for small files).  A
 * hostile chain cannot fill $TMPDIR beyond that, nor run on for ever.
 */
struct chain_budget {
	uint64_t n, cap;		/* all levels of the file */
};

struct tmp_cap {
	int fd;
	uint64_t n, cap;		/* this level */
	struct chain_budget *b;
};

#define RESTORE_LEVEL_SLACK (1ull << 20)

static uint64_t
level_cap(uint64_t size, int depth)
{
	uint64_t c = size + RESTORE_LEVEL_SLACK;

	if (c < size)
		return UINT64_MAX / 4;
	while (depth-- > 0) {
		if (c > UINT64_MAX / 16)
			return UINT64_MAX / 4;
		c *= 4;
	}
	return c;
}

static int
write_capped(void *arg, const void *p, size_t n)
{
	struct tmp_cap *t = arg;

	if (n > t->cap - t->n || n > t->b->cap - t->b->n) {
		log_error("restore: a version in a delta chain grows beyond %llu "
		    "bytes (%llu for the whole chain), more than the backup ever "
		    "stores for this file: damaged or hostile snapshot",
		    (unsigned long long)t->cap, (unsigned long long)t->b->cap);
		return BW_ERR_CORRUPT;
	}
	t->n += n;
	t->b->n += n;
	return write_fd(&t->fd, p, n);
}

/* The content c describes, in an unlinked temporary file (a delta's
 * basis), depth levels below a file of size bytes; b counts the chain's
 * bytes. */
static int
content_to_fd(struct rs *s, const struct tree_content *c, int depth, uint64_t size,
    struct chain_budget *b, int *out)
{
	struct buf d = { 0 };
	struct tmp_cap t;
	int fd = -1, base = -1, rc;

	*out = -1;
	if (depth > TREE_DELTA_DEPTH_MAX || (c->kind == 1 && !c->base))
		return BW_ERR_CORRUPT;
	if ((fd = tmp_fd()) < 0)
		return fd;
	memset(&t, 0, sizeof(t));
	t.fd = fd;
	t.cap = level_cap(size, depth);
	t.b = b;
	if (c->kind == 0) {
		rc = write_chunks(s, c, write_capped, &t);
	} else if ((rc = content_to_fd(s, c->base, depth + 1, size, b, &base)) == 0 &&
	    (rc = fetch_delta(s, c, &d)) == 0) {
		rc = delta_apply(d.data, d.len, read_fd, &base, write_capped, &t);
	}
	buf_free(&d);
	if (base >= 0)
		close(base);
	if (rc) {
		close(fd);
		return rc;
	}
	*out = fd;
	return 0;
}

/* Streams the file's content into k (verifying as it goes). */
static int
write_content(struct rs *s, const struct tree_entry *e, struct sink *k)
{
	const struct tree_content *c = &e->content;
	struct buf d = { 0 };
	struct chain_budget b = { 0, 0 };
	int base = -1, rc;

	/* the levels together: at most 4/3 of the deepest one */
	b.cap = level_cap(e->size, c->depth) / 3 * 4;

	/* Stored as chunks: each chunk's bytes were checked against its id as
	 * it was decoded (repo_get), and the file hash is that of the ids of
	 * the data's chunks (docs/FORMAT.md), so the ids prove the bytes
	 * without cutting them again on the writing thread.  A delta's
	 * output has no ids: it is cut and hashed as it streams. */
	k->by_ids = c->kind == 0 && k->f != NULL;
	if (c->kind == 0)
		rc = write_chunks(s, c, sink_write, k);
	else if (!c->base || c->depth > TREE_DELTA_DEPTH_MAX)
		rc = BW_ERR_CORRUPT;
	else if ((rc = content_to_fd(s, c->base, 1, e->size, &b, &base)) == 0 &&
	    (rc = fetch_delta(s, c, &d)) == 0)
		rc = delta_apply(d.data, d.len, read_fd, &base, sink_write, k);
	buf_free(&d);
	if (base >= 0)
		close(base);
	if (rc == 0 && k->err)
		rc = k->err;
	if (rc == 0 && k->pos != k->want)
		rc = BW_ERR_CORRUPT;
	if (rc == 0 && k->by_ids)
		rc = ids_check(&s->v, c, e->hash);
	else if (rc == 0)
		rc = verifier_check(&s->v, e->hash);
	return rc;
}

/* ---- existing files ---- */

/* Does the file at rel (already known to exist with the entry's size and
 * mtime) hash to the entry's recorded hash?  1 yes, 0 no, or an error. */
static int
existing_matches(struct rs *s, const char *rel, const struct tree_entry *e)
{
	struct region_filter rf = { e, &s->v, 0, 0 };
	char path[PATH_MAX], *buf = NULL;
	ssize_t n;
	int fd = -1, rc = 0;

	if (!regions_sorted(e))
		return 0;	/* the writer refuses such a map too */
	verifier_start(&s->v);
	if (s->out) {
		rc = fsout_read(s->out, rel, region_filter_fn, &rf);
	} else {
		if ((size_t)snprintf(path, sizeof(path), "%s/%s", s->o->target, rel) >= sizeof(path))
			return 0;
		if ((fd = open(path, O_RDONLY | O_NOFOLLOW | O_CLOEXEC)) < 0)
			return 0;
		if ((buf = malloc(RESTORE_IO_BLOCK)) == NULL) {
			close(fd);
			return BW_ERR_NOMEM;
		}
		while (rc == 0 && (n = read(fd, buf, RESTORE_IO_BLOCK)) > 0)
			rc = region_filter_fn(buf, (size_t)n, &rf);
		if (rc == 0 && n < 0)
			rc = BW_ERR_IO;
		free(buf);
		close(fd);
	}
	if (rc == REGION_FILTER_DONE)
		rc = 0;
	if (rc == BW_ERR_NOMEM)
		return rc;
	if (rc)
		return 0;
	if (s->v.total != content_len(e))
		return 0;
	rc = verifier_check(&s->v, e->hash);
	return rc == BW_ERR_NOMEM ? rc : rc == 0;
}

/* What is at rel now: 1 with type/size/mtime/link filled, 0 nothing. */
struct cur {
	int type;
	uint64_t dev, ino;
	uint64_t size;
	int64_t msec;
	uint32_t mnsec;
	char link[PATH_MAX];
};

static int
existing(struct rs *s, const char *rel, struct cur *c)
{
	struct fsent_entry *fe = NULL;
	char path[PATH_MAX];
	struct stat sb;
	ssize_t n;
	int rc;

	memset(c, 0, sizeof(*c));
	if (s->out) {
		if ((rc = fsout_existing(s->out, rel, &fe)) <= 0)
			return rc;
		c->type = fe->type;
		c->dev = fe->dev;
		c->ino = fe->ino;
		c->size = fe->size;
		c->msec = fe->mtime_sec;
		c->mnsec = fe->mtime_nsec;
		if (fe->link)
			snprintf(c->link, sizeof(c->link), "%s", fe->link);
		fsent_entry_free(fe);
		return 1;
	}
	if (!s->o->target)
		return 0;
	if ((size_t)snprintf(path, sizeof(path), "%s/%s", s->o->target, rel) >= sizeof(path))
		return 0;
	if (lstat(path, &sb) != 0)
		return 0;
	c->type = S_ISREG(sb.st_mode) ? TREE_FILE : S_ISDIR(sb.st_mode) ? TREE_DIR :
	    S_ISLNK(sb.st_mode) ? TREE_SYMLINK : S_ISCHR(sb.st_mode) ? TREE_CHR :
	    S_ISBLK(sb.st_mode) ? TREE_BLK : S_ISFIFO(sb.st_mode) ? TREE_FIFO : TREE_SOCK;
	c->dev = sb.st_dev;
	c->ino = sb.st_ino;
	c->size = (uint64_t)sb.st_size;
	c->msec = sb.st_mtim.tv_sec;
	c->mnsec = (uint32_t)sb.st_mtim.tv_nsec;
	if (c->type == TREE_SYMLINK && (n = readlink(path, c->link, sizeof(c->link) - 1)) > 0)
		c->link[n] = '\0';
	return 1;
}

static const char *
why_failed(int rc)
{
	switch (rc) {
	case BW_ERR_NOENT: return "an object it needs is missing from the repository";
	case BW_ERR_AUTH: return "an object it needs failed authentication (damaged or tampered)";
	case BW_ERR_CORRUPT: return "its content failed to verify (damaged repository)";
	default: return bw_strerror(rc);
	}
}

static int
is_damage(int rc)
{
	return rc == BW_ERR_NOENT || rc == BW_ERR_AUTH || rc == BW_ERR_CORRUPT;
}

/* Notes an error that ends the run (the walk stops with it). */
static int
fatal(struct rs *s, int rc)
{
	if (!s->fatal)
		s->fatal = rc;
	return rc;
}

/* Reports what the writer said when it did not write an entry; returns
 * 0 to go on, or the code that stops the run. */
static int
not_written(struct rs *s, const char *path, const char *rel, const struct tree_entry *e,
    int rc)
{
	switch (rc) {
	case 1:
		report(s, path, rel, RESTORE_SKIPPED_EXISTS, e, "exists (--overwrite never)");
		return 0;
	case BW_ERR_INVAL:
		report(s, path, rel, RESTORE_REFUSED, e, "unsafe path, name or link (see the log)");
		return 0;
	case BW_ERR_EXIST:
		report(s, path, rel, RESTORE_SKIPPED_EXISTS, e, e && e->kind == TREE_DIR ?
		    "a symlink or file is in the way (see the log)" :
		    "a directory is in the way");
		return 0;
	case BW_ERR_UNSUPP:
		report(s, path, rel, RESTORE_FAILED, e,
		    "the archive format cannot hold it (use .tar or .tar.zst)");
		return 0;
	case BW_ERR_NOSPC:
	case BW_ERR_NOMEM:
		return fatal(s, rc);
	}
	report(s, path, rel, RESTORE_FAILED, e, bw_strerror(rc));
	s->any_io = 1;
	return 0;
}

/* A regular file (e may be the first path's entry for a copied hard link). */
static int
do_file(struct rs *s, const char *path, const char *rel, const struct tree_entry *e,
    const struct tree_entry *meta)
{
	struct fsent_xattr *xa = NULL;
	struct fsent_entry fe, m;
	struct sink k;
	struct cur cur;
	enum restore_what what = RESTORE_NEW;
	const char *why = NULL;
	int rc, ex;

	if (s->plan && fsout_check_path(rel, &why) != 0) {
		report(s, path, rel, RESTORE_REFUSED, meta, why);
		return lost_add(s, path);
	}
	if ((ex = existing(s, rel, &cur)) < 0) {
		if (ex == BW_ERR_INVAL) {
			report(s, path, rel, RESTORE_REFUSED, meta, "unsafe path");
			return lost_add(s, path);
		}
		report(s, path, rel, RESTORE_FAILED, meta, bw_strerror(ex));
		s->any_io = 1;
		return lost_add(s, path);
	}
	if (ex) {
		int looks_same = 0;

		/* size and mtime alone do not say the file is whole (a crash
		 * may leave a damaged one looking so): its content must hash
		 * to the entry's */
		if (s->o->overwrite != RESTORE_OVERWRITE_ALWAYS && cur.type == TREE_FILE &&
		    cur.size == e->size && cur.msec == meta->mtime_sec &&
		    cur.mnsec == meta->mtime_nsec) {
			looks_same = 1;
			if ((rc = existing_matches(s, rel, e)) < 0)
				return fatal(s, rc);
			if (rc == 1) {
				/* a hard link to it, still to come, links to it
				 * as to one written now (a rerun after an
				 * interruption between the two) */
				if (s->out && s->links_known && e == meta) {
					uint8_t hk[32];

					bwcrypto_hash_plain(hk, path, strlen(path));
					if (idset_get(s->linked, hk, NULL) &&
					    (rc = fsout_note_existing(s->out, rel)) < 0)
						return fatal(s, rc);
				}
				report(s, path, rel, RESTORE_UNCHANGED, meta, "already restored");
				s->prog.files_done++;
				s->prog.bytes_done += e->size;
				return 0;
			}
		}
		if (s->o->overwrite == RESTORE_OVERWRITE_NEVER) {
			if (looks_same) {
				char *q = quote(path);

				log_warn("restore: %s: exists with the snapshot's size and "
				    "time but its content differs (damaged?); kept: use "
				    "--overwrite if-changed", q ? q : "(out of memory)");
				free(q);
			}
			report(s, path, rel, RESTORE_SKIPPED_EXISTS, meta, looks_same ?
			    "exists but differs: use --overwrite if-changed" :
			    "exists (--overwrite never)");
			return lost_add(s, path);
		}
		what = RESTORE_REPLACED;
	}
	if (s->plan) {
		report(s, path, rel, what, meta, what == RESTORE_REPLACED ? "exists, differs" : NULL);
		s->st->files++;
		s->st->bytes += e->size;
		return 0;
	}
	if (e->nxattrs && (xa = calloc(e->nxattrs, sizeof(*xa))) == NULL)
		return fatal(s, BW_ERR_NOMEM);
	/* a hard link's data, xattrs and ACLs are its first path's (fsent.h) */
	to_fsent(path, e, &fe, xa);
	to_fsent(path, meta, &m, NULL);
	fe.mode = m.mode;
	fe.uid = m.uid;
	fe.gid = m.gid;
	fe.uname = m.uname;
	fe.gname = m.gname;
	fe.mtime_sec = m.mtime_sec;
	fe.mtime_nsec = m.mtime_nsec;
	fe.atime_sec = m.atime_sec;
	fe.atime_nsec = m.atime_nsec;
	fe.type = FSENT_FILE;
	fe.link = NULL;
	/* 1: no hard link names it, so the writer need not remember it; a
	 * copy made for a hard link (e != meta) is named by later paths */
	if (s->links_known && e == meta) {
		uint8_t hk[32];

		bwcrypto_hash_plain(hk, path, strlen(path));
		fe.nlink = idset_get(s->linked, hk, NULL) ? 2 : 1;
	}
	memset(&k, 0, sizeof(k));
	k.s = s;
	k.e = e;
	k.want = content_len(e);
	rc = fsout_file_open(s->out, rel, &fe, &k.f);
	free(xa);
	if (rc) {
		if ((rc = not_written(s, path, rel, meta, rc)) != 0)
			return rc;
		return lost_add(s, path);
	}
	verifier_start(&s->v);
	s->wpath = path;
	rc = write_content(s, e, &k);
	if (rc) {
		fsout_file_abort(k.f);
		if (rc == BW_ERR_INTR || rc == BW_ERR_NOSPC || rc == BW_ERR_NOMEM)
			return fatal(s, rc);
		if (is_damage(rc))
			report(s, path, rel, RESTORE_DAMAGED, meta, why_failed(rc));
		else {
			report(s, path, rel, RESTORE_FAILED, meta, bw_strerror(rc));
			s->any_io = 1;
		}
		return lost_add(s, path);
	}
	if ((rc = fsout_file_commit(k.f)) != 0) {
		if (rc == BW_ERR_NOSPC)
			return fatal(s, rc);
		report(s, path, rel, RESTORE_FAILED, meta, bw_strerror(rc));
		s->any_io = 1;
		return lost_add(s, path);
	}
	if (s->o->verify && !s->o->archive) {
		rc = existing_matches(s, rel, e);
		if (rc < 0)
			return fatal(s, rc);
		if (rc == 1) {
			s->st->verified++;
		} else {
			s->st->verify_failed++;
			report(s, path, rel, RESTORE_FAILED, meta,
			    "read back, it differs from the snapshot (disk or file system problem)");
			s->any_io = 1;
		}
	}
	if (what == RESTORE_REPLACED)
		report(s, path, rel, what, meta, "replaced");
	s->st->files++;
	s->st->bytes += e->size;
	s->prog.files_done++;
	return 0;
}

/* Does the walk (names in byte order, a directory's contents right after
 * it) reach a before b? */
static int
walk_before(const char *a, const char *b)
{
	unsigned ca, cb;

	while (*a && *a == *b) {
		a++;
		b++;
	}
	ca = *a == '/' ? 1 : *a ? (unsigned char)*a + 1u : 0;
	cb = *b == '/' ? 1 : *b ? (unsigned char)*b + 1u : 0;
	return ca < cb;
}

/* Was the first path of a hard link restored by this run? */
static int
link_restored(struct rs *s, const char *first)
{
	uint8_t k[32];
	size_t i;

	if (selected(s, first, 0) != 1)
		return 0;
	for (i = 0; i < s->nbad_dirs; i++)
		if (under(first, s->bad_dirs[i]))
			return 0;
	bwcrypto_hash_plain(k, first, strlen(first));
	return !idset_get(s->lost, k, NULL);
}

static int
do_link(struct rs *s, const char *path, const char *rel, const struct tree_entry *e,
    char *first_rel)
{
	struct fsent_entry fe;
	struct cur cur, first;
	int rc, ex;

	if ((ex = existing(s, rel, &cur)) > 0 && cur.type == TREE_FILE &&
	    s->o->overwrite != RESTORE_OVERWRITE_ALWAYS &&
	    existing(s, first_rel, &first) > 0 && first.dev == cur.dev && first.ino == cur.ino) {
		report(s, path, rel, RESTORE_UNCHANGED, e, "already restored");
		return 0;
	}
	if (s->plan) {
		if (ex > 0 && s->o->overwrite == RESTORE_OVERWRITE_NEVER) {
			report(s, path, rel, RESTORE_SKIPPED_EXISTS, e, "exists (--overwrite never)");
			return 0;
		}
		s->st->links++;
		report(s, path, rel, ex > 0 ? RESTORE_REPLACED : RESTORE_NEW, e, NULL);
		return 0;
	}
	to_fsent(path, e, &fe, NULL);
	fe.type = FSENT_HARDLINK;
	fe.link = first_rel;
	rc = fsout_entry(s->out, rel, &fe);
	if (rc == 0) {
		s->st->links++;
		if (ex > 0)
			report(s, path, rel, RESTORE_REPLACED, e, "replaced");
		return 0;
	}
	if (rc == BW_ERR_UNSUPP)
		return rc;	/* zip: the caller stores a copy instead */
	return not_written(s, path, rel, e, rc);
}

static int
copy_add(struct rs *s, const uint8_t k[32], const char *rel)
{
	char **n;

	if ((n = realloc(s->copy_rel, (s->ncopies + 1) * sizeof(*n))) == NULL)
		return fatal(s, BW_ERR_NOMEM);
	s->copy_rel = n;
	if ((n[s->ncopies] = strdup(rel)) == NULL)
		return fatal(s, BW_ERR_NOMEM);
	if (idset_put(s->copies, k, s->ncopies, NULL) != 0) {
		free(n[s->ncopies]);
		return fatal(s, BW_ERR_NOMEM);
	}
	s->ncopies++;
	return 0;
}

static int
do_hardlink(struct rs *s, const char *path, const char *rel, const struct tree_entry *e)
{
	struct tree *parent = NULL;
	char *first_rel = NULL;
	uint8_t k[32], k2[32];
	uint64_t ci;
	size_t idx;
	int rc;

	if (e->link[0] != '/') {
		report(s, path, rel, RESTORE_REFUSED, e,
		    "hard link to a relative path (damaged or tampered repository)");
		return 0;
	}
	/* the first path must be a file of this snapshot (a tree can claim
	 * anything) */
	rc = walk_lookup(s->r, s->root, e->link, &parent, &idx, NULL);
	if (rc == 0 && (!parent || parent->e[idx].kind != TREE_FILE))
		rc = BW_ERR_NOENT;
	if (rc) {
		if (rc == BW_ERR_NOENT || rc == BW_ERR_INVAL)
			report(s, path, rel, RESTORE_REFUSED, e, "hard link to a path that is "
			    "not a file in the snapshot (damaged or tampered repository)");
		else if (is_damage(rc))
			report(s, path, rel, RESTORE_DAMAGED, e, why_failed(rc));
		else
			fatal(s, rc);
		tree_free(parent);
		return s->fatal;
	}
	first_rel = dest_of(s, e->link);
	bwcrypto_hash_plain(k, e->link, strlen(e->link));
	rc = BW_ERR_UNSUPP;
	if (first_rel && walk_before(e->link, path) && link_restored(s, e->link))
		rc = do_link(s, path, rel, e, first_rel);
	else if (idset_get(s->copies, k, &ci))
		rc = do_link(s, path, rel, e, s->copy_rel[ci]);
	if (rc == BW_ERR_UNSUPP) {
		/* the first path is not restored here: a full copy of its
		 * content, which the inode's later paths then link to */
		rc = do_file(s, path, rel, &parent->e[idx], e);
		bwcrypto_hash_plain(k2, path, strlen(path));
		if (rc == 0 && !s->fatal && !idset_get(s->lost, k2, NULL))
			rc = copy_add(s, k, rel);
	}
	free(first_rel);
	tree_free(parent);
	return s->fatal;
}

static int
do_other(struct rs *s, const char *path, const char *rel, const struct tree_entry *e)
{
	struct fsent_xattr *xa = NULL;
	struct fsent_entry fe;
	struct cur cur;
	const char *why = NULL;
	int rc, ex = 0;

	if (e->kind == TREE_SOCK)
		return 0;	/* a socket is made by its server, not restored */
	if (s->plan) {
		if (fsout_check_path(rel, &why) != 0) {
			report(s, path, rel, RESTORE_REFUSED, e, why);
			return 0;
		}
		ex = existing(s, rel, &cur);
		if (ex > 0 && e->kind == TREE_DIR && cur.type == TREE_DIR) {
			s->st->dirs++;		/* its metadata is applied again */
			return 0;
		}
		if (ex > 0 && e->kind == TREE_DIR) {
			/* never replaced by a directory (fsout.h) */
			report(s, path, rel, RESTORE_SKIPPED_EXISTS, e,
			    "a symlink or file is in the way");
			return 1;
		}
		if (ex > 0 && e->kind == TREE_SYMLINK && cur.type == TREE_SYMLINK &&
		    s->o->overwrite != RESTORE_OVERWRITE_ALWAYS && strcmp(cur.link, e->link) == 0) {
			report(s, path, rel, RESTORE_UNCHANGED, e, "already restored");
			return 0;
		}
		if (ex > 0 && s->o->overwrite == RESTORE_OVERWRITE_NEVER) {
			report(s, path, rel, RESTORE_SKIPPED_EXISTS, e, "exists (--overwrite never)");
			return 0;
		}
		report(s, path, rel, ex > 0 ? RESTORE_REPLACED : RESTORE_NEW, e, NULL);
	} else {
		if ((ex = existing(s, rel, &cur)) > 0 && e->kind == TREE_SYMLINK &&
		    cur.type == TREE_SYMLINK && s->o->overwrite != RESTORE_OVERWRITE_ALWAYS &&
		    strcmp(cur.link, e->link) == 0) {
			report(s, path, rel, RESTORE_UNCHANGED, e, "already restored");
			return 0;
		}
		if (e->nxattrs && (xa = calloc(e->nxattrs, sizeof(*xa))) == NULL)
			return fatal(s, BW_ERR_NOMEM);
		to_fsent(path, e, &fe, xa);
		rc = fsout_entry(s->out, rel, &fe);
		free(xa);
		if (rc == 1 && e->kind == TREE_DIR) {
			s->st->dirs++;
			return 0;
		}
		if (rc) {
			if ((rc = not_written(s, path, rel, e, rc)) != 0)
				return rc;
			return e->kind == TREE_DIR ? 1 : 0;
		}
		if (ex > 0 && !(e->kind == TREE_DIR && cur.type == TREE_DIR))
			report(s, path, rel, RESTORE_REPLACED, e, "replaced");
	}
	switch (e->kind) {
	case TREE_DIR: s->st->dirs++; break;
	case TREE_SYMLINK: s->st->links++; break;
	default: s->st->specials++; break;
	}
	return 0;
}

/* ---- directories on the way to what is taken ---- */

/* A copy of one entry (as a one-entry tree) that outlives the walk's. */
static int
entry_copy(const struct tree_entry *e, struct tree **out)
{
	struct buf b = { 0 }, t = { 0 };
	int rc;

	if ((rc = tree_entry_encode(&b, e)) == 0 && (rc = tree_finish(&t, 1, b.data, b.len)) == 0)
		rc = tree_decode(t.data, t.len, out);
	buf_free(&b);
	buf_free(&t);
	return rc;
}

/* Drops the directories path is not below (their walk is over). */
static void
pend_trim(struct rs *s, const char *path)
{
	while (s->npend > 0 && !under(path, s->pend[s->npend - 1].path)) {
		s->npend--;
		free(s->pend[s->npend].path);
		tree_free(s->pend[s->npend].t);
	}
}

static int
pend_push(struct rs *s, const char *path, const struct tree_entry *e)
{
	struct pending *n;
	int rc;

	if (s->npend == s->cappend) {
		size_t cap = s->cappend ? 2 * s->cappend : 16;

		if ((n = realloc(s->pend, cap * sizeof(*n))) == NULL)
			return fatal(s, BW_ERR_NOMEM);
		s->pend = n;
		s->cappend = cap;
	}
	n = &s->pend[s->npend];
	memset(n, 0, sizeof(*n));
	if ((n->path = strdup(path)) == NULL)
		return fatal(s, BW_ERR_NOMEM);
	if ((rc = entry_copy(e, &n->t)) != 0) {
		free(n->path);
		return fatal(s, rc == BW_ERR_NOMEM ? rc : BW_ERR_CORRUPT);
	}
	s->npend++;
	return 0;
}

/* Writes the pending directories above an entry being taken. */
static int
pend_write(struct rs *s)
{
	char *rel;
	size_t i;
	int rc = 0;

	for (i = 0; i < s->npend && rc == 0 && !s->fatal; i++) {
		if (s->pend[i].done)
			continue;
		s->pend[i].done = 1;
		if ((rel = dest_of(s, s->pend[i].path)) == NULL)
			continue;	/* the base directory: the target itself */
		rc = do_other(s, s->pend[i].path, rel, &s->pend[i].t->e[0]);
		free(rel);
	}
	return rc < 0 ? rc : s->fatal;
}

static int
visit(const char *path, const struct tree_entry *e, void *arg)
{
	struct rs *s = arg;
	char *rel = NULL;
	int sel, rc = 0;

	if (stopped(s))
		return fatal(s, BW_ERR_INTR);
	if (s->fatal)
		return s->fatal;
	sel = selected(s, path, e->kind == TREE_DIR);
	if (!s->counting)
		pend_trim(s, path);
	if (sel < 0)
		return 1;
	if (sel == 0)
		return s->counting ? 0 : pend_push(s, path, e);
	if ((rel = dest_of(s, path)) == NULL)
		return 0;	/* the base directory itself: the target */
	if (!s->counting && s->npend && !s->pend[s->npend - 1].done &&
	    (rc = pend_write(s)) != 0) {
		free(rel);
		return rc;
	}
	if (s->counting) {
		if (e->kind == TREE_FILE) {
			s->prog.files_total++;
			s->prog.bytes_total += e->size;
		}
		if (e->kind == TREE_HARDLINK && e->link && *e->link) {
			uint8_t k[32];

			bwcrypto_hash_plain(k, e->link, strlen(e->link));
			if (idset_put(s->linked, k, 0, NULL) != 0) {
				free(rel);
				return fatal(s, BW_ERR_NOMEM);
			}
		}
		free(rel);
		return 0;
	}
	if (s->pool_on && (e->kind == TREE_FILE || e->kind == TREE_HARDLINK))
		pool_at(&s->pool, path);
	switch (e->kind) {
	case TREE_FILE:
		rc = do_file(s, path, rel, e, e);
		break;
	case TREE_HARDLINK:
		rc = do_hardlink(s, path, rel, e);
		break;
	default:
		rc = do_other(s, path, rel, e);
		break;
	}
	free(rel);
	if (rc == 0 && e->kind != TREE_DIR)
		progress(s);
	return s->fatal ? s->fatal : rc < 0 ? fatal(s, rc) : rc;
}

static int
walk_failed(const char *path, const uint8_t id[32], int err, void *arg)
{
	struct rs *s = arg;
	char **n, *rel;

	(void)id;	/* repo_get named the object when it failed */
	if (!is_damage(err))
		return fatal(s, err);
	if (s->counting)
		return 0;
	if ((n = realloc(s->bad_dirs, (s->nbad_dirs + 1) * sizeof(*n))) == NULL)
		return fatal(s, BW_ERR_NOMEM);
	s->bad_dirs = n;
	if ((n[s->nbad_dirs] = strdup(path)) == NULL)
		return fatal(s, BW_ERR_NOMEM);
	s->nbad_dirs++;
	rel = dest_of(s, path);
	report(s, path, rel ? rel : "", RESTORE_DAMAGED, NULL, err == BW_ERR_NOENT ?
	    "its directory listing (tree object) is missing: its contents are not restored" :
	    "its directory listing (tree object) failed to verify: its contents are not restored");
	free(rel);
	return 0;
}

static int
walk_all(struct rs *s)
{
	struct walk_opts wo = { visit, walk_failed, s, NULL };
	struct walk_stop stop;
	struct tree *parent = NULL;
	size_t idx;
	int rc;

	if (!*s->base)
		return walk_tree(s->r, s->root, &wo);
	if ((rc = walk_lookup(s->r, s->root, s->base, &parent, &idx, &stop)) != 0) {
		if (rc == BW_ERR_NOENT)
			log_error("restore: %s: no such path in the snapshot (paths are "
			    "absolute, as backed up: see 'bulwark snapshots')", s->base);
		else if (is_damage(rc))
			log_error("restore: %s: directory %s on the way to it cannot be read "
			    "(%s); run 'bulwark check --read-data', or restore it from "
			    "another snapshot", s->base, stop.path ? stop.path : "(unknown)",
			    bw_strerror(rc));
		free(stop.path);
		return rc;
	}
	if (parent->e[idx].kind == TREE_DIR) {
		rc = visit(s->base, &parent->e[idx], s);
		if (rc == 0)
			rc = walk_subtree(s->r, s->base, &parent->e[idx], &wo);
		else if (rc > 0)
			rc = 0;
	} else {
		s->base_file = 1;
		rc = visit(s->base, &parent->e[idx], s);
		if (rc > 0)
			rc = 0;
	}
	tree_free(parent);
	return rc;
}

/* The read-ahead thread's walk: the same entries as walk_all, in the same
 * order; errors are the writer's to report. */
static void
pool_read(struct pool *p, const struct walk_opts *wo)
{
	const struct rs *s = p->s;
	struct tree *parent = NULL;
	size_t idx;

	if (!*s->base) {
		walk_tree(p->r, s->root, wo);
		return;
	}
	if (walk_lookup(p->r, s->root, s->base, &parent, &idx, NULL) != 0)
		return;
	if (parent->e[idx].kind == TREE_DIR)
		walk_subtree(p->r, s->base, &parent->e[idx], wo);
	else
		wo->fn(s->base, &parent->e[idx], wo->arg);
	tree_free(parent);
}

static char *
norm_path(const char *p)
{
	char *out, *q;

	if (!p || p[0] != '/')
		return NULL;
	if ((out = malloc(strlen(p) + 1)) == NULL)
		return NULL;
	q = out;
	while (*p) {
		if (*p == '/' && (q > out && q[-1] == '/')) {
			p++;
			continue;
		}
		*q++ = *p++;
	}
	while (q > out && q[-1] == '/')
		q--;
	*q = '\0';
	return out;
}

static int
run(struct repo *r, const struct restore_opts *o, struct restore_stats *st, int plan)
{
	struct snap_info si = { 0 };
	struct fsout_opts fo = { 0 };
	struct rs s;
	size_t i;
	int rc, nthr;

	memset(st, 0, sizeof(*st));
	memset(&s, 0, sizeof(s));
	s.r = r;
	s.o = o;
	s.st = st;
	s.plan = plan || o->dry_run;
	clock_gettime(CLOCK_MONOTONIC, &s.t0);
	if (!o->path || (s.base = norm_path(o->path)) == NULL) {
		log_error("restore: the path to restore must be absolute (\"/\" for everything)");
		rc = BW_ERR_INVAL;
		goto out;
	}
	if (!s.plan && !!o->target == !!o->archive) {
		log_error("restore: give a target directory or an archive file (one of them)");
		rc = BW_ERR_INVAL;
		goto out;
	}
	if ((rc = repo_snapshot_load(r, o->snapshot, &si)) != 0)
		goto out;
	if (!si.have_body) {
		log_error("repository %s: this key cannot read snapshots; restore needs a "
		    "key with read access", repo_path(r));
		rc = BW_ERR_PERM;
		goto out;
	}
	memcpy(s.root, si.root, 32);
	if ((rc = verifier_init(&s.v, r)) != 0 || (s.lost = idset_new()) == NULL ||
	    (s.copies = idset_new()) == NULL || (s.linked = idset_new()) == NULL) {
		rc = rc ? rc : BW_ERR_NOMEM;
		goto out;
	}
	if (!s.plan) {
		/* a quick pass over the trees: the totals for the progress
		 * line, and the files that hard links name (only those need
		 * remembering while writing: ~80 bytes a file otherwise) */
		s.counting = 1;
		rc = walk_all(&s);
		s.counting = 0;
		s.base_file = 0;
		s.fatal = 0;
		if (rc)
			goto out;
		s.links_known = 1;
	}
	if (!s.plan) {
		fo.target = o->target;
		fo.archive = o->archive;
		/* if-changed compares content here; fsout keeps its other
		 * rules (an empty directory is not replaced by a file) */
		fo.overwrite = o->overwrite == RESTORE_OVERWRITE_NEVER ? FSOUT_NEVER :
		    o->overwrite == RESTORE_OVERWRITE_IF_CHANGED ? FSOUT_IF_CHANGED :
		    FSOUT_ALWAYS;
		fo.caller_compares = 1;
		fo.numeric_owner = o->numeric_owner;
		fo.owner = geteuid() == 0;
		/* the workers start first: the writer moves its own thread's
		 * working directory during its calls (fsout.h) */
		nthr = o->threads > 0 ? o->threads : (int)sysconf(_SC_NPROCESSORS_ONLN);
		if (nthr < 1)
			nthr = 2;
		if (nthr > 16)
			nthr = 16;
		s.pool_on = 1;
		if ((rc = pool_start(&s.pool, r, &s, nthr)) != 0)
			goto out;
		if ((rc = fsout_open(&fo, &s.out)) != 0)
			goto out;
	}
	rc = walk_all(&s);
	if (s.fatal)
		rc = s.fatal;
	if (s.pool_on)
		pool_stop(&s.pool);
	s.pool_on = 0;
	/* a target keeps (and syncs) what was restored; an archive cut short
	 * is removed by fsout_free rather than left looking whole */
	if (s.out && (!o->archive || rc == 0)) {
		int rc2 = fsout_close(s.out);

		if (rc == 0 && rc2)
			rc = rc2;
	}
	if (rc == 0) {
		if (st->damaged)
			rc = BW_ERR_CORRUPT;
		else if (st->refused)
			rc = BW_ERR_INVAL;
		else if (s.any_io)
			rc = BW_ERR_IO;
	}
	if (rc == BW_ERR_INTR)
		log_error("restore: interrupted; files already restored are complete, run "
		    "the same command again to finish");
out:
	if (s.pool_on)
		pool_stop(&s.pool);
	fsout_free(s.out);
	progress(&s);
	st->elapsed_ns = elapsed_ns(&s);
	verifier_fini(&s.v);
	idset_free(s.lost);
	idset_free(s.copies);
	idset_free(s.linked);
	for (i = 0; i < s.ncopies; i++)
		free(s.copy_rel[i]);
	free(s.copy_rel);
	pend_trim(&s, "");
	free(s.pend);
	for (i = 0; i < s.nbad_dirs; i++)
		free(s.bad_dirs[i]);
	free(s.bad_dirs);
	free(s.base);
	snap_info_clear(&si);
	return rc;
}

int
restore_plan(struct repo *r, const struct restore_opts *o, struct restore_stats *st)
{
	return run(r, o, st, 1);
}

int
restore_run(struct repo *r, const struct restore_opts *o, struct restore_stats *st)
{
	return run(r, o, st, 0);
}
