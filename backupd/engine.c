/*
 * The backup engine.
 *
 * Pipeline.  The calling thread walks the roots (lib/fsent gives entries in
 * a deterministic order: a directory before its contents, siblings sorted)
 * and turns them into an ordered queue of actions:
 *
 *   ENTER dir   open a new tree level
 *   ENTRY e     add an entry to the current level (a file waits for its
 *               chunks)
 *   LEAVE       close the current level: store its tree, add the directory
 *               entry (with the tree's id) to the level above
 *
 * A file's data is read and cut into chunks here; each chunk becomes a job
 * that worker threads store (hash, compress, encrypt, append to a pack).
 * Actions are applied strictly in queue order, only once the head's chunks
 * are all stored, so trees come out the same whatever the thread timing.
 * Memory is bounded by MAX_INFLIGHT bytes of chunk data and MAX_QUEUE
 * pending actions; the walk waits when either is reached.
 *
 * Large chunk buffers and the signature thread's copies are taken from
 * pools (lib/util/bufpool.h) and given back by the thread that is done with
 * them, instead of being mapped, faulted in and unmapped for every chunk.
 * Chunk buffers share the writer's pool (repo_writer_pool), so one small set
 * of idle buffers serves both the chunks and their sealing.  Memory bound:
 * a buffer in flight counts with its whole capacity (not its length: a
 * reused buffer is resident up to the most it ever held), so the buffers in
 * flight stay under MAX_INFLIGHT plus the one chunk and one copy the walker
 * adds before it next waits, as before; on top of that the pools keep a
 * fixed few idle buffers (the writer's WRITER_IDLE, COPY_IDLE here) and
 * free the rest, and the workers seal in one buffer each (they used two:
 * compressed, then sealed).
 */
#include "config.h"

#include <errno.h>
#include <pthread.h>
#include <pwd.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "backupd/engine.h"
#include "backupd/fcache.h"
#include "lib/chunk/cdc.h"
#include "lib/chunk/delta.h"
#include "lib/crypto/bwcrypto.h"
#include "lib/fsent/fsent.h"
#include "lib/repo/tree.h"
#include "lib/util/bufpool.h"
#include "lib/util/err.h"
#include "lib/util/log.h"

/* Two workers hash, compress and encrypt ~700 MB/s at best: 8 MiB in flight
 * keeps them busy (16 MiB measured no faster) and bounds the pipeline's
 * memory. */
#define MAX_INFLIGHT (8u << 20)
#define MAX_QUEUE 4096
/* Flags of a file's blob in the files cache (see blob_parse): BLOB_PLAIN
 * is stored, BLOB_FLAGGED only says the blob had its flags byte. */
#define BLOB_PLAIN 1u
#define BLOB_FLAGGED 0x100u
/* Of MAX_INFLIGHT, what the copies for the signature thread may hold
 * before the walker waits (plus the one it is adding).  Without a bound
 * of their own they filled it during an incremental backup (deltas are
 * slower than hashing), 3-4 MiB more at the peak. */
#define MAX_SIG_INFLIGHT (2u << 20)
#define READ_SIZE (1u << 20)
/* Idle copies kept: the walker takes one back as soon as the signature
 * thread gives one, so more would only sit there. */
#define COPY_IDLE 1
#define MAX_WORKERS 8
/* Files from this size on get an rsync signature in the files cache, so
 * that an in-place change can be stored as a delta. */
#define DELTA_MIN (64u << 10)
/* A delta larger than this is abandoned for plain chunks (a rewrite). */
#define DELTA_CAP (8u << 20)
#define DELTA_PIECE (4u << 20)
#define SMALL_DELTA (64u << 10)
/* A delta is joined from chunks (omap_build) only while what it keeps
 * stays small: up to two blocks of edge bytes per chunk (copy_edges) and
 * ~100 bytes of map.  With 256-byte blocks that is any file up to 64 MiB;
 * with 2 KiB blocks, up to about 1 GiB.  Larger files get one delta. */
#define JOIN_KEEP_MAX (4u << 20)

enum act_kind { ACT_ENTER = 1, ACT_ENTRY, ACT_LEAVE };

struct job {
	struct job *next;		/* work queue */
	uint8_t *data;
	size_t len, cap;		/* cap counts in flight */
	enum obj_type type;
	int store;			/* 0: only compute the id */
	struct act *owner;
	uint8_t id[32];
	/* a chunk of a file whose delta is joined from its chunks (its owner
	 * has omap), at offset at of the file: either the same bytes as the
	 * base's chunk at pos (copy), sub then holding its first hl and last
	 * tl bytes, those outside whole blocks of the file; or else sub is
	 * this chunk's own delta (sub_lit literal bytes), made by the
	 * signature thread */
	uint64_t at;
	int copy;
	uint64_t pos;
	uint32_t hl, tl;
	struct buf sub;
	uint64_t sub_lit;
};

/* Work for the signature thread: bytes of one file, in order, for its new
 * signature (job) and for its rsync delta against the old one (djob). */
enum sig_op { SIG_FEED, SIG_FINISH, SIG_ABORT, DELTA_FINISH, DELTA_ABORT, DELTA_CHUNK };
struct sigwork {
	struct sigwork *next;
	enum sig_op op;
	struct act *owner;
	struct delta_sig_job *job;
	struct delta_job *djob;
	struct job *cj;			/* DELTA_CHUNK: the chunk, its data here */
	uint8_t *data;
	size_t len, cap;		/* cap counts in flight */
};

struct act {
	struct act *next;
	enum act_kind kind;
	struct tree_entry te;		/* ENTER/ENTRY */
	char *path;			/* for messages and the files cache */
	struct job **jobs;		/* file chunks in order */
	uint32_t njobs, capjobs;
	struct job **djobs;		/* delta objects, when stored as a delta */
	uint32_t ndjobs, capdjobs;
	int delta;			/* content is a delta on delta_base */
	struct tree_content delta_base;
	struct buf sig;			/* new rsync signature for the cache */
	struct buf root_sig;		/* the delta chain's root's signature */
	struct buf small_delta;		/* a small delta, stored at apply time */
	int sig_failed;			/* set by the signature thread only */
	/* the delta being made by the signature thread: dbuf, dliteral and
	 * drc are its until DELTA_FINISH or DELTA_ABORT is done (dbusy falls
	 * to 0, under mu); dfail (atomic) tells the walker to give up early.
	 * A delta joined from chunks: drc is the signature thread's
	 * (chunk_delta) until the act's jobs are all done, then the walker
	 * joins dbuf and dliteral (chunk_delta_join). */
	struct buf dbuf;
	uint64_t dliteral;
	int drc;			/* 0, a negative code, or 1: not worth it */
	int dfail;
	int dbusy;
	/* a delta joined from chunks (see read_pass): the base's chunk ids
	 * with their offsets, and its signature (read_file's); both are read
	 * by other threads until the act's jobs are all done */
	struct idset *omap;		/* id -> index of its first place */
	uint64_t *ooff;			/* the base's chunk offsets, and its size */
	struct delta_sig *fsig;
	uint32_t dbl;			/* the file's block length */
	uint64_t next_at;		/* where the next chunk starts (walker) */
	uint64_t dsub;			/* the chunk deltas' bytes (signature thread) */
	uint64_t dkeep;			/* edge bytes kept (atomic, workers) */
	int same_as_old;		/* re-read, same bytes: old descriptor and sigs kept */
	int have_old;			/* the previous version, from the cache: */
	uint8_t old_hash[32];
	struct tree_content old_content;
	struct buf old_sigs;		/* its signatures, as stored */
	uint32_t outstanding;		/* jobs not yet stored (under lock) */
	int from_cache;			/* content and hash already set */
	struct fcache_hit hit;		/* from_cache: the entry to carry forward */
	unsigned hit_flags;		/* its blob's flags (BLOB_PLAIN) */
	int meta_partial;		/* fsent could not read all its metadata */
	struct fcache_meta meta;
	int changed;			/* was in the cache but changed */
	int failed;			/* unreadable: leave the entry out */
};

/* What fsent's stat_only found for the file fsent is about to return
 * (walker only). */
struct pre {
	int valid;
	uint64_t taken, declined;	/* its answers so far: yes, and no */
	char *path;
	size_t cap;
	struct fcache_meta meta;
	struct fcache_hit hit;
	uint8_t hash[32];
	struct tree_content content;
};

struct level {			/* a directory being built */
	struct tree_entry te;
	struct buf entries;
	uint32_t count;
	char *path;			/* NULL for the root */
};

struct engine {
	struct repo *repo;
	struct repo_writer *w;
	const struct backup_opts *o;
	struct cdc *cdc;
	uint32_t chunk_max;
	struct bwcrypto_hasher *hasher;	/* file hashes (walking thread only) */
	struct fcache *cache;
	struct pre pre;

	pthread_mutex_t mu;
	pthread_cond_t work_cv;		/* workers wait for jobs */
	pthread_cond_t done_cv;		/* the walker waits for progress */
	struct job *work_head, *work_tail;
	size_t inflight;
	size_t sig_inflight;		/* the part of it copied for the signature thread */
	int quit;
	int fatal;			/* first storage error, or 0 */
	/* chunk buffers (the writer's pool: a longer chunk than its buffers
	 * hold grows its buffer, which is then freed, not kept), and
	 * READ_SIZE copies for the signature thread */
	struct bufpool *chunks, *copies;
	pthread_t threads[MAX_WORKERS];
	unsigned nthreads;
	/* rsync signatures and deltas are computed by their own thread, in
	 * file order, from copies of what the walker reads: hashing every block
	 * of every large file would otherwise slow the walker, which feeds the
	 * workers */
	pthread_t sig_thread;
	int sig_running;
	struct sigwork *sig_head, *sig_tail;
	pthread_cond_t sig_cv;

	struct act *q_head, *q_tail;
	size_t q_len;

	/* walk side: the directories currently open, as paths */
	char **wstack;
	size_t wdepth, wcap;
	/* apply side: the tree levels */
	struct level *levels;
	size_t depth, lcap;
	uint8_t root[32];

	struct backup_progress prog;
	pthread_t scan_thread;
	int scanning;			/* the pre-scan thread runs */
	char **roots;
	size_t nroots;
	uint64_t scan_files, scan_bytes;	/* under mu */
	int scan_done;
	uint64_t bytes_added_workers;	/* under mu */
	struct timespec t0, last_report;
	char **errors;
	size_t nerrors;
	uint8_t *rbuf;
};

/* ---------- small helpers ---------- */

static double
since(const struct timespec *a)
{
	struct timespec now;

	clock_gettime(CLOCK_MONOTONIC, &now);
	return (double)(now.tv_sec - a->tv_sec) + (now.tv_nsec - a->tv_nsec) / 1e9;
}

static int64_t
now_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_REALTIME, &ts);
	return (int64_t)ts.tv_sec * 1000000000 + ts.tv_nsec;
}

static char *
xstrdup(const char *s)
{
	return s ? strdup(s) : NULL;
}

static int
add_error(struct engine *e, const char *path, const char *why)
{
	char **n = realloc(e->errors, (e->nerrors + 1) * sizeof(*n));
	size_t len = strlen(path) + strlen(why) + 3;

	if (!n)
		return BW_ERR_NOMEM;
	e->errors = n;
	if ((n[e->nerrors] = malloc(len)) == NULL)
		return BW_ERR_NOMEM;
	snprintf(n[e->nerrors], len, "%s: %s", path, why);
	e->nerrors++;
	e->prog.errors++;
	return 0;
}

static void
report(struct engine *e, int final)
{
	if (!e->o->progress)
		return;
	if (!final) {
		struct timespec now;

		clock_gettime(CLOCK_MONOTONIC, &now);
		if ((now.tv_sec - e->last_report.tv_sec) * 1000 +
		    (now.tv_nsec - e->last_report.tv_nsec) / 1000000 < 200)
			return;
		e->last_report = now;
	}
	pthread_mutex_lock(&e->mu);
	e->prog.bytes_added = e->bytes_added_workers;
	e->prog.total_files = e->scan_files;
	e->prog.total_bytes = e->scan_bytes;
	e->prog.total_known = e->scan_done;
	pthread_mutex_unlock(&e->mu);
	e->prog.elapsed = since(&e->t0);
	e->o->progress(&e->prog, final, e->o->progress_arg);
}

static const char *
base_name(const char *path)
{
	const char *s = strrchr(path, '/');

	return s ? s + 1 : path;
}

/* Length of the parent part of an absolute path ("/a/b" -> 2, "/a" -> 0). */
static size_t
parent_len(const char *path)
{
	const char *s = strrchr(path, '/');

	return s ? (size_t)(s - path) : 0;
}

/* ---------- tree entries from file system entries ---------- */

static int
entry_from_fsent(struct tree_entry *t, const struct fsent_entry *f)
{
	static const uint8_t kinds[] = {
		[FSENT_FILE] = TREE_FILE, [FSENT_DIR] = TREE_DIR,
		[FSENT_SYMLINK] = TREE_SYMLINK, [FSENT_HARDLINK] = TREE_HARDLINK,
		[FSENT_CHR] = TREE_CHR, [FSENT_BLK] = TREE_BLK,
		[FSENT_FIFO] = TREE_FIFO, [FSENT_SOCK] = TREE_SOCK,
	};
	size_t i;

	memset(t, 0, sizeof(*t));
	if ((unsigned)f->type >= sizeof(kinds) || !kinds[f->type])
		return BW_ERR_INVAL;
	t->kind = kinds[f->type];
	t->name = xstrdup(base_name(f->path));
	t->mode = f->mode;
	t->uid = f->uid;
	t->gid = f->gid;
	t->uname = xstrdup(f->uname);
	t->gname = xstrdup(f->gname);
	t->mtime_sec = f->mtime_sec;
	t->mtime_nsec = f->mtime_nsec;
	/* access times are not recorded: reading changes them, so every
	 * backup would store new trees (restore sets atime to mtime) */
	t->size = f->type == FSENT_FILE ? f->size : 0;
	t->rdev = f->rdev;
	t->link = xstrdup(f->link);
	t->acl_access = xstrdup(f->acl_access);
	t->acl_default = xstrdup(f->acl_default);
	if (f->nxattrs) {
		if ((t->xattrs = calloc(f->nxattrs, sizeof(*t->xattrs))) == NULL)
			return BW_ERR_NOMEM;
		t->nxattrs = f->nxattrs;
		for (i = 0; i < f->nxattrs; i++) {
			t->xattrs[i].name = xstrdup(f->xattrs[i].name);
			t->xattrs[i].len = f->xattrs[i].len;
			if ((t->xattrs[i].value = malloc(f->xattrs[i].len + 1)) == NULL)
				return BW_ERR_NOMEM;
			memcpy(t->xattrs[i].value, f->xattrs[i].value, f->xattrs[i].len);
		}
	}
	if (f->nregions) {
		if ((t->regions = calloc(f->nregions, sizeof(*t->regions))) == NULL)
			return BW_ERR_NOMEM;
		t->nregions = f->nregions;
		for (i = 0; i < f->nregions; i++) {
			t->regions[i].off = f->regions[i].off;
			t->regions[i].len = f->regions[i].len;
		}
	}
	if (!t->name)
		return BW_ERR_NOMEM;
	return 0;
}

/* ---------- workers ---------- */

static int chunk_delta_submit(struct engine *e, struct job *j);
static uint64_t base_pos(const struct act *a, const struct job *j, uint64_t k);

/*
 * A chunk the base has, for a delta joined from chunks, copied from pos
 * there: keeps its bytes that are not in whole blocks of the base (the
 * first up to a block boundary, the last after one, unless it ends the
 * base), so that every COPY of the joined delta starts on a block of the
 * base and copies whole blocks, as librsync's do.  That is what lets the
 * next signature be derived from the delta (delta_sig_derive): blocks
 * copied in place take the old entries, and copied bytes elsewhere (after
 * an insertion) are read again and checked against the old blocks' sums,
 * which only whole blocks can be.  Out of memory, the delta is given up.
 */
static void
copy_edges(struct job *j)
{
	struct act *a = j->owner;
	uint64_t bl = a->dbl, end = j->pos + j->len;
	uint64_t h = (bl - j->pos % bl) % bl;
	uint64_t t = end == a->ooff[a->delta_base.nids] ? 0 : end % bl;

	if (h > j->len)
		h = j->len;
	if (t > j->len - h)
		t = j->len - h;
	j->hl = (uint32_t)h;
	j->tl = (uint32_t)t;
	buf_put(&j->sub, j->data, (size_t)h);
	buf_put(&j->sub, j->data + j->len - t, (size_t)t);
	/* a new version made of the old chunks many times over could keep
	 * more than omap_build allowed for */
	if (j->sub.err || __atomic_add_fetch(&a->dkeep, h + t + 64, __ATOMIC_RELAXED) >
	    JOIN_KEEP_MAX) {
		buf_free(&j->sub);
		__atomic_store_n(&a->dfail, 1, __ATOMIC_RELAXED);
		return;
	}
	j->copy = 1;
}

static void *
worker(void *arg)
{
	struct engine *e = arg;
	struct job *j;
	uint64_t added, k;
	int rc;

	for (;;) {
		pthread_mutex_lock(&e->mu);
		while (!e->work_head && !e->quit)
			pthread_cond_wait(&e->work_cv, &e->mu);
		if (!e->work_head) {
			pthread_mutex_unlock(&e->mu);
			return NULL;
		}
		j = e->work_head;
		if ((e->work_head = j->next) == NULL)
			e->work_tail = NULL;
		rc = e->fatal;
		pthread_mutex_unlock(&e->mu);

		added = 0;
		if (rc == 0 && j->store)
			rc = repo_writer_put(e->w, j->type, j->data, j->len, NULL, j->id, &added);
		else if (rc == 0)
			rc = repo_object_id(e->repo, j->type, j->data, j->len, j->id);
		/* a chunk the base does not have goes on to the signature
		 * thread for its delta, which then ends the job */
		if (rc == 0 && j->owner->omap && j->type == OBJ_DATA) {
			if (idset_get(j->owner->omap, j->id, &k)) {
				j->pos = base_pos(j->owner, j, k);
				copy_edges(j);
			}
			else if (!__atomic_load_n(&j->owner->dfail, __ATOMIC_RELAXED) &&
			    chunk_delta_submit(e, j) == 0)
				continue;
		}
		/* back before the walker wakes up to take one */
		bufpool_put(e->chunks, j->data, j->cap);
		j->data = NULL;

		pthread_mutex_lock(&e->mu);
		if (rc && !e->fatal)
			e->fatal = rc;
		e->inflight -= j->cap;
		e->bytes_added_workers += added;
		j->owner->outstanding--;
		pthread_cond_broadcast(&e->done_cv);
		pthread_mutex_unlock(&e->mu);
	}
}

static int
job_add(struct job ***list, uint32_t *n, uint32_t *cap, struct job *j)
{
	struct job **nl;

	if (*n == *cap) {
		*cap = *cap ? *cap * 2 : 4;
		if ((nl = realloc(*list, *cap * sizeof(*nl))) == NULL)
			return BW_ERR_NOMEM;
		*list = nl;
	}
	(*list)[(*n)++] = j;
	return 0;
}

/* Gives an empty chunk buffer room for want bytes.  A large one comes from
 * the pool; a small one (most files are small) from malloc, whose heap
 * already reuses memory of that size. */
static int
chunk_buf(struct engine *e, struct buf *chunk, size_t want)
{
	size_t size = bufpool_size(e->chunks);

	if (want < size / 2)
		return buf_reserve(chunk, want);
	if ((chunk->data = bufpool_get(e->chunks)) == NULL)
		return chunk->err = BW_ERR_NOMEM;
	chunk->cap = size;
	return 0;
}

/* Hands a chunk (or a piece of a delta) to the workers; the buffer's
 * memory moves to the job.  With store == 0 only its id is computed. */
static int
submit(struct engine *e, struct act *a, struct buf *chunk, enum obj_type type, int store)
{
	struct job *j;
	int rc;

	if ((j = calloc(1, sizeof(*j))) == NULL)
		return BW_ERR_NOMEM;
	rc = type == OBJ_DELTA ? job_add(&a->djobs, &a->ndjobs, &a->capdjobs, j) :
	    job_add(&a->jobs, &a->njobs, &a->capjobs, j);
	if (rc) {
		free(j);
		return rc;
	}
	j->owner = a;
	j->type = type;
	j->store = store;
	j->cap = chunk->cap;
	j->data = buf_steal(chunk, &j->len);
	if (type == OBJ_DATA) {
		j->at = a->next_at;
		a->next_at += j->len;
	}

	pthread_mutex_lock(&e->mu);
	a->outstanding++;
	e->inflight += j->cap;
	if (e->work_tail)
		e->work_tail->next = j;
	else
		e->work_head = j;
	e->work_tail = j;
	pthread_cond_signal(&e->work_cv);
	pthread_mutex_unlock(&e->mu);
	return 0;
}

/* Waits until the workers are done with every job of a, then drops them. */
static int
forget_jobs(struct engine *e, struct act *a)
{
	uint32_t i;
	int rc;

	pthread_mutex_lock(&e->mu);
	while (a->outstanding && !e->fatal)
		pthread_cond_wait(&e->done_cv, &e->mu);
	rc = e->fatal;
	pthread_mutex_unlock(&e->mu);
	if (rc)
		return rc;
	for (i = 0; i < a->njobs; i++) {
		buf_free(&a->jobs[i]->sub);
		free(a->jobs[i]);
	}
	for (i = 0; i < a->ndjobs; i++)
		free(a->djobs[i]);
	a->njobs = a->ndjobs = 0;
	return 0;
}

/* The signature thread's part of a delta: one piece of the file.  A delta
 * that fails or grows past DELTA_CAP (a rewrite, not an edit) takes no
 * more input, and the walker is told to stop reading. */
static void
delta_step(struct sigwork *w)
{
	struct act *a = w->owner;
	int rc;

	if (__atomic_load_n(&a->dfail, __ATOMIC_RELAXED))
		return;
	if ((rc = delta_feed(w->djob, w->data, w->len, &a->dbuf)) == 0 && a->dbuf.len <= DELTA_CAP)
		return;
	a->drc = rc ? rc : 1;
	__atomic_store_n(&a->dfail, 1, __ATOMIC_RELAXED);
}

/* Ends a delta: finished (the rest of it and its literal bytes) unless it
 * already failed or is abandoned; the job is freed either way. */
static void
delta_end(struct sigwork *w)
{
	struct act *a = w->owner;

	if (w->op == DELTA_FINISH && !a->drc)
		a->drc = delta_finish(w->djob, &a->dbuf, &a->dliteral);
	else
		delta_abort(w->djob);
}

/* The signature thread's part of a delta joined from chunks: the delta of
 * one chunk that the base does not have.  A failure, or chunk deltas
 * adding up past DELTA_CAP, give the delta up as in delta_step. */
static void
chunk_delta(struct sigwork *w)
{
	struct act *a = w->owner;
	struct job *j = w->cj;
	struct delta_job *dj;
	int rc;

	if (__atomic_load_n(&a->dfail, __ATOMIC_RELAXED))
		return;
	if ((dj = delta_start(a->fsig)) == NULL)
		rc = BW_ERR_NOMEM;
	else if ((rc = delta_feed(dj, w->data, w->len, &j->sub)) != 0)
		delta_abort(dj);
	else
		rc = delta_finish(dj, &j->sub, &j->sub_lit);
	if (rc == 0 && (a->dsub += j->sub.len) <= DELTA_CAP)
		return;
	buf_free(&j->sub);
	a->drc = rc ? rc : 1;
	__atomic_store_n(&a->dfail, 1, __ATOMIC_RELAXED);
}

static void *
sig_worker(void *arg)
{
	struct engine *e = arg;
	struct sigwork *w;
	int rc;

	for (;;) {
		pthread_mutex_lock(&e->mu);
		while (!e->sig_head && !e->quit)
			pthread_cond_wait(&e->sig_cv, &e->mu);
		if (!e->sig_head) {
			pthread_mutex_unlock(&e->mu);
			return NULL;
		}
		w = e->sig_head;
		if ((e->sig_head = w->next) == NULL)
			e->sig_tail = NULL;
		pthread_mutex_unlock(&e->mu);

		switch (w->op) {
		case SIG_FEED:
			if (w->job && !w->owner->sig_failed &&
			    delta_sig_feed(w->job, w->data, w->len) != 0)
				w->owner->sig_failed = 1;	/* only this thread */
			if (w->djob)
				delta_step(w);
			break;
		case DELTA_FINISH:
		case DELTA_ABORT:
			delta_end(w);
			break;
		case SIG_FINISH:
			if (w->owner->sig_failed) {
				delta_sig_abort(w->job);
				buf_reset(&w->owner->sig);
			} else if ((rc = delta_sig_finish(w->job, &w->owner->sig)) != 0) {
				buf_reset(&w->owner->sig);	/* stored plain next time */
			}
			break;
		case SIG_ABORT:
			delta_sig_abort(w->job);
			break;
		case DELTA_CHUNK:
			chunk_delta(w);
			break;
		}
		/* a chunk's buffer goes back where the walker took it */
		bufpool_put(w->op == DELTA_CHUNK ? e->chunks : e->copies, w->data, w->cap);
		pthread_mutex_lock(&e->mu);
		e->inflight -= w->cap;
		if (w->op != DELTA_CHUNK)
			e->sig_inflight -= w->cap;
		if (w->op == DELTA_FINISH || w->op == DELTA_ABORT)
			w->owner->dbusy = 0;
		else if (w->op != SIG_FEED)
			w->owner->outstanding--;
		pthread_cond_broadcast(&e->done_cv);
		pthread_mutex_unlock(&e->mu);
		free(w);
	}
}

/* Appends w to the signature thread's queue.  Caller holds mu. */
static void
sig_enqueue(struct engine *e, struct sigwork *w)
{
	if (e->sig_tail)
		e->sig_tail->next = w;
	else
		e->sig_head = w;
	e->sig_tail = w;
	pthread_cond_signal(&e->sig_cv);
}

/* Queues signature work; FEED copies p for the signature job, the delta job
 * or both.  SIG_FINISH and SIG_ABORT count as an outstanding job of the
 * act, so it is applied only once they are done; DELTA_FINISH and
 * DELTA_ABORT set a->dbusy until done (delta_wait).  w, if not NULL, is
 * the item to use: with it, only a FEED can fail (for lack of memory). */
static int
sig_submit(struct engine *e, struct act *a, struct delta_sig_job *job, struct delta_job *djob,
    enum sig_op op, const void *p, size_t n, struct sigwork *w)
{
	if (!w && (w = calloc(1, sizeof(*w))) == NULL)
		return BW_ERR_NOMEM;
	w->op = op;
	w->owner = a;
	w->job = job;
	w->djob = djob;
	if (op == SIG_FEED) {
		/* the signature thread is the slower reader: copies queued for
		 * it would otherwise take the whole MAX_INFLIGHT */
		pthread_mutex_lock(&e->mu);
		while (e->sig_inflight >= MAX_SIG_INFLIGHT)
			pthread_cond_wait(&e->done_cv, &e->mu);
		pthread_mutex_unlock(&e->mu);
		/* a short read (a file's tail) borrows a pool buffer only when
		 * it is large: each copy counts its buffer's size in flight */
		w->cap = n >= bufpool_size(e->copies) / 2 ? bufpool_size(e->copies) : n ? n : 1;
		w->data = w->cap == bufpool_size(e->copies) ? bufpool_get(e->copies) : malloc(w->cap);
		if (!w->data) {
			free(w);
			return BW_ERR_NOMEM;
		}
		memcpy(w->data, p, n);
		w->len = n;
	}
	pthread_mutex_lock(&e->mu);
	e->inflight += w->cap;
	e->sig_inflight += w->cap;
	if (op == DELTA_FINISH || op == DELTA_ABORT)
		a->dbusy = 1;
	else if (op != SIG_FEED)
		a->outstanding++;
	sig_enqueue(e, w);
	pthread_mutex_unlock(&e->mu);
	return 0;
}

/*
 * Called by a worker for a chunk job of a delta joined from chunks: the
 * job goes on to the signature thread with its data (still counted in
 * flight and as outstanding), which makes its delta and ends it.  Not
 * bounded by MAX_SIG_INFLIGHT: the chunk is already in flight.  On failure
 * (out of memory) the delta is given up and the caller ends the job.
 */
static int
chunk_delta_submit(struct engine *e, struct job *j)
{
	struct sigwork *w = calloc(1, sizeof(*w));

	if (!w) {
		__atomic_store_n(&j->owner->dfail, 1, __ATOMIC_RELAXED);
		return BW_ERR_NOMEM;
	}
	w->op = DELTA_CHUNK;
	w->owner = j->owner;
	w->cj = j;
	w->data = j->data;
	w->len = j->len;
	w->cap = j->cap;
	j->data = NULL;
	pthread_mutex_lock(&e->mu);
	sig_enqueue(e, w);
	pthread_mutex_unlock(&e->mu);
	return 0;
}

/* Waits until the signature thread is done with a's delta. */
static void
delta_wait(struct engine *e, struct act *a)
{
	pthread_mutex_lock(&e->mu);
	while (a->dbusy)
		pthread_cond_wait(&e->done_cv, &e->mu);
	pthread_mutex_unlock(&e->mu);
}

static void cache_record(struct engine *e, struct act *a);
static int put_sync(struct engine *e, enum obj_type type, const void *p, size_t n,
    uint8_t id[32]);

/* ---------- applying actions in order ---------- */

static int
level_push(struct engine *e, struct tree_entry *te, char *path)
{
	struct level *l;

	if (e->depth == e->lcap) {
		size_t cap = e->lcap ? e->lcap * 2 : 16;

		if ((l = realloc(e->levels, cap * sizeof(*l))) == NULL)
			return BW_ERR_NOMEM;
		e->levels = l;
		e->lcap = cap;
	}
	l = &e->levels[e->depth++];
	memset(l, 0, sizeof(*l));
	l->path = path;
	if (te) {
		l->te = *te;
		memset(te, 0, sizeof(*te));
	}
	return 0;
}

static int
level_add(struct engine *e, const struct tree_entry *te)
{
	struct level *l = &e->levels[e->depth - 1];
	int rc;

	if ((rc = tree_entry_encode(&l->entries, te)) != 0)
		return rc;
	l->count++;
	return 0;
}

static int store_tree(struct engine *e, const char *path, const struct buf *tree,
    const uint8_t id[32], struct tree_content *desc);

/* Closes the innermost level: stores its tree and adds it to its parent
 * (or records the root). */
static int
level_pop(struct engine *e)
{
	struct level *l = &e->levels[e->depth - 1];
	struct buf tree = { 0 };
	uint8_t id[32];
	int rc;

	rc = tree_finish(&tree, l->count, l->entries.data, l->entries.len);
	buf_free(&l->entries);
	if (rc == 0 && (rc = repo_object_id(e->repo, OBJ_TREE, tree.data, tree.len, id)) == 0)
		rc = store_tree(e, l->path, &tree, id, &l->te.content);
	buf_free(&tree);
	if (rc == 0) {
		e->depth--;
		if (e->depth == 0) {
			memcpy(e->root, id, 32);
		} else {
			memcpy(l->te.subtree, id, 32);
			rc = level_add(e, &l->te);
		}
	}
	tree_entry_clear(&l->te);
	free(l->path);
	l->path = NULL;
	return rc;
}

/* The file hash (docs/FORMAT.md): keyed hash of "file" and the chunk ids.
 * Only the walking thread applies actions, so one hasher serves them all. */
static void
file_hash(struct engine *e, const struct tree_content *c, uint8_t out[32])
{
	bwcrypto_hasher_reset(e->hasher);
	bwcrypto_hasher_update(e->hasher, "file", 4);
	if (c->nids)
		bwcrypto_hasher_update(e->hasher, c->ids, (size_t)c->nids * 32);
	bwcrypto_hasher_final(e->hasher, out);
}

static void
act_free(struct act *a)
{
	uint32_t i;

	if (!a)
		return;
	tree_entry_clear(&a->te);
	for (i = 0; i < a->njobs; i++) {
		free(a->jobs[i]->data);
		buf_free(&a->jobs[i]->sub);
		free(a->jobs[i]);
	}
	free(a->jobs);
	for (i = 0; i < a->ndjobs; i++) {
		free(a->djobs[i]->data);
		free(a->djobs[i]);
	}
	free(a->djobs);
	tree_content_clear(&a->delta_base);
	tree_content_clear(&a->old_content);
	buf_free(&a->sig);
	buf_free(&a->root_sig);
	buf_free(&a->small_delta);
	buf_free(&a->dbuf);
	buf_free(&a->old_sigs);
	free(a->path);
	free(a);
}

/*
 * The engine's blob in the files cache: the file hash, then the content
 * descriptor exactly as in a tree entry (docs/FORMAT.md), then a byte of
 * flags (blobs written before it was added end without it).  BLOB_PLAIN:
 * the file had no extended attributes, no ACLs and no holes when it was
 * read, so while it stays unchanged (same ctime: changing any of those
 * changes it) the walk need not open it to look (fsent's stat_only).
 */
/* Parses a blob into hash and c (cleared on failure); *flags gets its
 * flags byte with BLOB_FLAGGED, or 0 if it has none.  0 or -1. */
static int
blob_parse(const uint8_t *p, size_t n, uint8_t hash[32], struct tree_content *c,
    unsigned *flags)
{
	struct bufr r;

	*flags = 0;
	bufr_init(&r, p, n);
	if (bufr_copy(&r, hash, 32) != 0 ||
	    tree_content_decode(&r, c, TREE_DELTA_DEPTH_MAX) != 0)
		goto bad;
	if (bufr_left(&r) == 1)
		*flags = BLOB_FLAGGED | bufr_u8(&r);
	if (bufr_done(&r) == 0)
		return 0;
bad:
	tree_content_clear(c);
	return -1;
}

/* Appends the blob of a file entry to b; partial: some of its metadata
 * could not be read, so it cannot be called plain. */
static void
blob_put(struct buf *b, const struct tree_entry *te, int partial)
{
	buf_put(b, te->hash, 32);
	if (tree_content_encode(b, &te->content) != 0)
		b->err = b->err ? b->err : BW_ERR_NOMEM;
	buf_put_u8(b, !partial && te->nxattrs == 0 && (!te->acl_access || !*te->acl_access) &&
	    (!te->acl_default || !*te->acl_default) && te->nregions == 0 ? BLOB_PLAIN : 0);
}

/* Carries an unchanged file's cache entry forward; one written before the
 * blob had its flags gets them, so the next walk can skip opening it. */
static void
carry_hit(struct engine *e, struct act *a)
{
	struct buf b = { 0 };

	if (a->hit_flags & BLOB_FLAGGED) {
		fcache_put_hit(e->cache, a->path, &a->hit);
		return;
	}
	blob_put(&b, &a->te, a->meta_partial);
	if (b.err || fcache_put_hit_as(e->cache, a->path, &a->hit, b.data, b.len) != 0)
		fcache_put_hit(e->cache, a->path, &a->hit);
	buf_free(&b);
}

static int
apply(struct engine *e, struct act *a)
{
	struct tree_content *c = &a->te.content;
	uint32_t i;
	int rc = 0;

	switch (a->kind) {
	case ACT_ENTER:
		rc = level_push(e, &a->te, a->path);
		a->path = NULL;
		return rc;
	case ACT_LEAVE:
		return level_pop(e);
	case ACT_ENTRY:
		break;
	}
	if (a->failed)
		return 0;
	if (a->te.kind == TREE_FILE && !a->from_cache) {
		c->kind = 0;
		c->nids = a->njobs;
		if (a->njobs && (c->ids = malloc((size_t)a->njobs * 32)) == NULL)
			return BW_ERR_NOMEM;
		for (i = 0; i < a->njobs; i++)
			memcpy(c->ids[i], a->jobs[i]->id, 32);
		/* the hash is over the chunk ids whatever the encoding */
		file_hash(e, c, a->te.hash);
		if (a->have_old && !memcmp(a->te.hash, a->old_hash, 32)) {
			/* read again (e.g. touched) but the same bytes: keep the
			 * stored version, its place in the chain and its sigs */
			tree_content_clear(c);
			*c = a->old_content;
			memset(&a->old_content, 0, sizeof(a->old_content));
			a->delta = 0;
			buf_reset(&a->sig);
			buf_put(&a->sig, a->old_sigs.data, a->old_sigs.len);
			a->same_as_old = 1;
		} else if (a->delta) {
			free(c->ids);
			c->ids = NULL;
			c->kind = 1;
			c->nids = a->ndjobs;
			if ((c->base = calloc(1, sizeof(*c->base))) == NULL ||
			    (a->ndjobs && (c->ids = malloc((size_t)a->ndjobs * 32)) == NULL))
				return BW_ERR_NOMEM;
			*c->base = a->delta_base;
			memset(&a->delta_base, 0, sizeof(a->delta_base));
			c->depth = c->base->depth + 1;
			for (i = 0; i < a->ndjobs; i++)
				memcpy(c->ids[i], a->djobs[i]->id, 32);
			if (a->small_delta.len) {
				free(c->ids);
				c->nids = 1;
				if ((c->ids = malloc(32)) == NULL)
					return BW_ERR_NOMEM;
				if ((rc = put_sync(e, OBJ_DELTA, a->small_delta.data,
				    a->small_delta.len, c->ids[0])) != 0)
					return rc;
			}
		}
		if (e->cache)
			cache_record(e, a);
		if (a->same_as_old)	/* read again, same bytes */
			e->prog.files_unchanged++;
		else if (a->changed)
			e->prog.files_changed++;
		else
			e->prog.files_new++;
	} else if (a->te.kind == TREE_FILE) {
		if (e->cache)
			carry_hit(e, a);
		e->prog.files_unchanged++;
	}
	rc = level_add(e, &a->te);
	return rc;
}

/* Applies every completed action at the head of the queue.  With wait,
 * blocks until the queue is shorter than limit (or empty when limit is 0). */
static int
drain(struct engine *e, size_t limit)
{
	struct act *a;
	int rc;

	for (;;) {
		pthread_mutex_lock(&e->mu);
		for (;;) {
			if (e->fatal) {
				rc = e->fatal;
				pthread_mutex_unlock(&e->mu);
				return rc;
			}
			a = e->q_head;
			if (a && a->outstanding == 0)
				break;
			if (e->q_len <= limit && e->inflight < MAX_INFLIGHT) {
				pthread_mutex_unlock(&e->mu);
				return 0;
			}
			pthread_cond_wait(&e->done_cv, &e->mu);
		}
		if ((e->q_head = a->next) == NULL)
			e->q_tail = NULL;
		e->q_len--;
		pthread_mutex_unlock(&e->mu);
		rc = apply(e, a);
		act_free(a);
		if (rc)
			return rc;
	}
}

static struct act *
act_new(enum act_kind kind)
{
	struct act *a = calloc(1, sizeof(*a));

	if (a)
		a->kind = kind;
	return a;
}

static int
enqueue(struct engine *e, struct act *a)
{
	if (!a)
		return BW_ERR_NOMEM;	/* act_new() failed */
	pthread_mutex_lock(&e->mu);
	if (e->q_tail)
		e->q_tail->next = a;
	else
		e->q_head = a;
	e->q_tail = a;
	e->q_len++;
	pthread_mutex_unlock(&e->mu);
	return drain(e, MAX_QUEUE);
}

/* ---------- the walk side ---------- */

static int
wpush(struct engine *e, const char *path)
{
	if (e->wdepth == e->wcap) {
		size_t cap = e->wcap ? e->wcap * 2 : 16;
		char **n = realloc(e->wstack, cap * sizeof(*n));

		if (!n)
			return BW_ERR_NOMEM;
		e->wstack = n;
		e->wcap = cap;
	}
	if ((e->wstack[e->wdepth] = strdup(path)) == NULL)
		return BW_ERR_NOMEM;
	e->wdepth++;
	return 0;
}

/* Leaves open directories until the innermost one is dir (a prefix). */
static int
leave_until(struct engine *e, const char *dir, size_t dlen)
{
	int rc;

	while (e->wdepth > 1) {
		const char *top = e->wstack[e->wdepth - 1];

		if (strlen(top) == dlen && memcmp(top, dir, dlen) == 0)
			break;
		free(e->wstack[--e->wdepth]);
		if ((rc = enqueue(e, act_new(ACT_LEAVE))) != 0)
			return rc;
	}
	return 0;
}

static int
enter_dir(struct engine *e, const struct fsent_entry *f)
{
	struct act *a = act_new(ACT_ENTER);
	int rc;

	if (!a)
		return BW_ERR_NOMEM;
	if ((rc = entry_from_fsent(&a->te, f)) != 0 || (rc = wpush(e, f->path)) != 0 ||
	    (a->path = strdup(f->path)) == NULL) {
		act_free(a);
		return rc ? rc : BW_ERR_NOMEM;
	}
	e->prog.dirs++;
	return enqueue(e, a);
}

/* Opens the ancestors of root that are not open yet (their metadata comes
 * from the file system: a snapshot of /srv/www holds srv with its owner). */
static int
enter_ancestors(struct engine *e, const char *root)
{
	char *p = strdup(root);
	size_t plen = parent_len(root), i;
	struct fsent_entry *f = NULL;
	int rc = 0;

	if (!p)
		return BW_ERR_NOMEM;
	/* leave what is not a prefix of root's parent */
	while (e->wdepth > 1) {
		const char *top = e->wstack[e->wdepth - 1];
		size_t tl = strlen(top);

		if (tl <= plen && memcmp(top, root, tl) == 0 && (root[tl] == '/'))
			break;
		free(e->wstack[--e->wdepth]);
		if ((rc = enqueue(e, act_new(ACT_LEAVE))) != 0)
			goto out;
	}
	/* enter each missing ancestor in order */
	for (i = strlen(e->wstack[e->wdepth - 1]) + 1; i < plen; i++) {
		if (p[i] != '/' || i == 0)
			continue;
		p[i] = 0;
		if ((rc = fsent_stat(p, &f)) != 0)
			goto out;
		rc = enter_dir(e, f);
		fsent_entry_free(f);
		f = NULL;
		p[i] = '/';
		if (rc)
			goto out;
	}
	if (plen > 0 && strlen(e->wstack[e->wdepth - 1]) < plen) {
		p[plen] = 0;
		if ((rc = fsent_stat(p, &f)) != 0)
			goto out;
		rc = enter_dir(e, f);
		fsent_entry_free(f);
	}
out:
	free(p);
	return rc;
}

/*
 * Reads a new or changed file.  Its chunks always go to the workers: stored
 * (the plain case) or only hashed (delta mode, where the file hash still
 * needs the chunk ids).  Files of DELTA_MIN bytes or more also get a new
 * rsync signature for the cache: made by the signature thread from what is
 * read, or, for a file kept as a delta, derived from the delta
 * (derive_sig).
 *
 * Delta mode (old is the previous version's cache entry, with a signature):
 * the rsync delta against the old signature is built alongside, on the
 * signature thread (it hashes every block the old version had: on the
 * walker it took 40% of an incremental backup's critical path), and the
 * walker waits for it at the end of the file; if it stays small (under
 * DELTA_CAP) and most of the old file was reused, the delta is stored
 * instead of the chunks.  Otherwise the file is read a second time
 * the plain way.  A delta is always smaller than the chunks it replaces;
 * the chain is capped (TREE_DELTA_DEPTH_MAX) so restores stay cheap.
 */
static int read_pass(struct engine *e, struct fsent_walk *w, struct act *a,
    struct delta_sig *old_sig, uint64_t old_size);

/*
 * The signatures kept in the files cache for a file: the newest version's
 * (deltas chain from it) and the chain's root's (the chunked version at the
 * bottom of the chain; empty when the newest version is that root):
 *   u32 n | newest[n] | u32 m | root[m]
 * When a chain reaches TREE_DELTA_DEPTH_MAX the next version is a delta
 * against the root, so an edited file never has to be stored whole again
 * unless most of it changed.
 */
static int
sigs_split(const struct buf *blob, const uint8_t **newest, size_t *nn, const uint8_t **root,
    size_t *nr)
{
	struct bufr r;

	bufr_init(&r, blob->data, blob->len);
	*newest = bufr_str(&r, blob->len, nn);
	*root = bufr_str(&r, blob->len, nr);
	return bufr_done(&r);
}

static int
sigs_join(struct buf *out, const void *newest, size_t nn, const void *root, size_t nr)
{
	buf_reset(out);
	buf_put_str(out, newest, nn);
	return buf_put_str(out, root, nr);
}

/* Deep copy of a content descriptor. */
static int
content_dup(struct tree_content *dst, const struct tree_content *src)
{
	struct buf b = { 0 };
	struct bufr r;
	int rc;

	if ((rc = tree_content_encode(&b, src)) == 0) {
		bufr_init(&r, b.data, b.len);
		rc = tree_content_decode(&r, dst, TREE_DELTA_DEPTH_MAX);
	}
	buf_free(&b);
	return rc;
}

static int
all_stored(struct engine *e, const struct tree_content *c)
{
	uint32_t i;

	for (i = 0; i < c->nids; i++)
		if (!repo_writer_has(e->w, c->ids[i]))
			return 0;
	return c->base ? all_stored(e, c->base) : 1;
}

static int
read_file(struct engine *e, struct fsent_walk *w, struct act *a, const struct fcache_hit *old)
{
	struct delta_sig *sig = NULL;
	const uint8_t *newest = NULL, *root = NULL;
	const struct tree_content *base;
	size_t nn = 0, nr = 0;
	int rc;

	if (old) {
		/* the previous version: its hash (to notice an unchanged file
		 * read again) and descriptor */
		unsigned flags;

		if (blob_parse(old->content, old->content_len, a->old_hash, &a->old_content,
		    &flags) == 0 && all_stored(e, &a->old_content))
			a->have_old = 1;
		else
			tree_content_clear(&a->old_content);
	}
	if (a->have_old && old->sig_len && a->te.size >= DELTA_MIN &&
	    fcache_sig_read(e->cache, old, &a->old_sigs) == 0 &&
	    sigs_split(&a->old_sigs, &newest, &nn, &root, &nr) == 0) {
		if (a->old_content.depth < TREE_DELTA_DEPTH_MAX) {
			base = &a->old_content;		/* chain on */
			if (delta_sig_load(newest, nn, &sig) != 0)
				sig = NULL;
			/* the root stays the root (or becomes it) */
			if (sig && buf_put(&a->root_sig, nr ? root : newest, nr ? nr : nn) != 0) {
				delta_sig_free(sig);
				sig = NULL;
			}
		} else {
			for (base = &a->old_content; base->base; base = base->base)
				;			/* rebase on the root */
			if (nr == 0 || delta_sig_load(root, nr, &sig) != 0) {
				sig = NULL;
			} else if (buf_put(&a->root_sig, root, nr) != 0) {
				delta_sig_free(sig);
				sig = NULL;
			}
		}
		if (sig && content_dup(&a->delta_base, base) != 0) {
			delta_sig_free(sig);
			sig = NULL;
		}
	}
	if (sig) {
		rc = read_pass(e, w, a, sig, old->meta.size);
		delta_sig_free(sig);
		if (rc != 1)
			goto out;
		/* the delta did not pay: read again and store chunks */
		a->delta = 0;
		buf_reset(&a->sig);
		if ((rc = forget_jobs(e, a)) != 0)
			goto out;
		a->sig_failed = 0;	/* the signature thread is done with a */
	}
	tree_content_clear(&a->delta_base);
	buf_reset(&a->root_sig);
	rc = read_pass(e, w, a, NULL, 0);
out:
	return rc;
}

/*
 * Where the bytes of a file's data stream (its data regions, one after the
 * other, as fsent_read hands them out) lie in the file: for reading parts
 * of the stream again.
 */
struct extent {
	uint64_t pos, off, len;		/* stream position, file offset */
};

struct extents {
	struct extent *x;
	size_t n, cap;
	size_t at;			/* where the last look ended */
	struct fsent_walk *w;
};

static int
extents_add(struct extents *xs, uint64_t pos, uint64_t off, uint64_t len)
{
	struct extent *x = xs->n ? &xs->x[xs->n - 1] : NULL;

	if (x && x->pos + x->len == pos && x->off + x->len == off) {
		x->len += len;
		return 0;
	}
	if (xs->n == xs->cap) {
		size_t cap = xs->cap ? xs->cap * 2 : 8;

		if ((x = realloc(xs->x, cap * sizeof(*x))) == NULL)
			return BW_ERR_NOMEM;
		xs->x = x;
		xs->cap = cap;
	}
	xs->x[xs->n++] = (struct extent){ pos, off, len };
	return 0;
}

/* delta_read_fn over the stream: reads in order are the common case. */
static long
extents_read(void *arg, uint64_t pos, void *buf, size_t len)
{
	struct extents *xs = arg;
	const struct extent *x;

	if (xs->at >= xs->n || pos < xs->x[xs->at].pos)
		xs->at = 0;
	while (xs->at < xs->n && pos >= xs->x[xs->at].pos + xs->x[xs->at].len)
		xs->at++;
	if (xs->at == xs->n)
		return 0;
	x = &xs->x[xs->at];
	if (len > x->pos + x->len - pos)
		len = (size_t)(x->pos + x->len - pos);
	return fsent_pread(xs->w, x->off + (pos - x->pos), buf, len);
}

static int
same_stat(const struct stat *a, const struct stat *b)
{
	return a->st_size == b->st_size &&
	    a->st_mtim.tv_sec == b->st_mtim.tv_sec && a->st_mtim.tv_nsec == b->st_mtim.tv_nsec &&
	    a->st_ctim.tv_sec == b->st_ctim.tv_sec && a->st_ctim.tv_nsec == b->st_ctim.tv_nsec;
}

/*
 * The new signature of a file kept as a delta: derived from the old one and
 * the delta (blocks the delta does not copy whole are hashed from its
 * literal bytes, or read again and checked against the old blocks they
 * were copied from), instead of hashing every block on the signature
 * thread.  The new signature must describe the bytes that were stored: if
 * the file changed since before the first read (st0, or bytes read again
 * that are not the copied ones), it gets no signature and the next backup
 * stores it as chunks.  A failure costs only the signature, never the
 * backup of the file.
 */
static void
derive_sig(struct fsent_walk *w, struct act *a, const struct delta_sig *old,
    const struct buf *delta, uint64_t len, struct extents *xs, const struct stat *st0)
{
	struct stat st1;
	uint64_t reused = 0;
	int rc;

	xs->w = w;
	xs->at = 0;
	buf_reset(&a->sig);
	rc = delta_sig_derive(old, delta->data, delta->len, a->te.size, len, extents_read, xs,
	    &a->sig, &reused);
	if (rc == 0 && (fsent_fstat(w, &st1) != 0 || !same_stat(st0, &st1)))
		rc = 1;
	if (rc) {
		/* the file's bytes are stored; only the next backup costs more */
		buf_reset(&a->sig);
		(rc > 0 ? log_info : log_warn)("%s: %s; no rsync signature kept, so the next "
		    "backup stores it as chunks", a->path,
		    rc > 0 ? "changed while being read" : bw_strerror(rc));
		return;
	}
	log_debug("%s: rsync signature derived (%llu of %llu blocks reused)", a->path,
	    (unsigned long long)reused,
	    (unsigned long long)((len + delta_block_len(a->te.size) - 1) /
	    delta_block_len(a->te.size)));
}

/*
 * A delta joined from chunks.  When the previous version is stored as
 * chunks (not as a delta), most of a changed file is usually still made of
 * those chunks: the workers, which hash every chunk anyway, tell which are
 * the base's (same id: the same bytes, at a known offset in the base), and
 * only the others go through librsync, each on its own.  The file's delta
 * is then a COPY for each chunk the base has and each other chunk's own
 * delta, in order.  It describes the same bytes as one delta of the whole
 * file, at a fraction of the hashing: librsync computes a strong sum for
 * every block that matches, which for an edited file is nearly all of it.
 * (A match across a chunk boundary is lost: at most two blocks of literal
 * bytes per changed chunk, one at each end.)
 *
 * Sets a->omap (the base's chunk ids, each with the index of its first
 * place) and a->ooff (their offsets) if the base qualifies: stored as
 * chunks, small enough (JOIN_KEEP_MAX), every chunk's length in the index,
 * adding up to the old size.  Otherwise (or out of memory) leaves them
 * NULL and the delta is made in one stream.
 */
static void
omap_build(struct engine *e, struct act *a, uint64_t old_size)
{
	const struct tree_content *b = &a->delta_base;
	uint64_t off = 0;
	uint32_t i, len;

	if (a->old_content.kind != 0 || b->kind != 0 || b->nids == 0 ||
	    (uint64_t)b->nids * (2 * (uint64_t)a->dbl + 100) > JOIN_KEEP_MAX ||
	    (a->omap = idset_new()) == NULL)
		return;
	if ((a->ooff = malloc(((size_t)b->nids + 1) * sizeof(*a->ooff))) == NULL)
		goto drop;
	for (i = 0; i < b->nids; i++) {
		a->ooff[i] = off;
		/* the first place of a chunk the old version has twice */
		if (!repo_writer_plain_len(e->w, b->ids[i], &len) ||
		    (!idset_get(a->omap, b->ids[i], NULL) &&
		    idset_put(a->omap, b->ids[i], i, NULL) != 0))
			break;
		off += len;
	}
	a->ooff[i] = off;
	if (i == b->nids && off == old_size)
		return;
	if (i == b->nids)
		log_debug("%s: the previous version's chunks add up to %llu bytes, not %llu; "
		    "delta made in one stream", a->path, (unsigned long long)off,
		    (unsigned long long)old_size);
drop:
	idset_free(a->omap);
	a->omap = NULL;
	free(a->ooff);
	a->ooff = NULL;
}

/* Where in the base a chunk with the id the base has (at index k there)
 * is: at the chunk's own offset if the base has it there too (a chunk
 * repeated in a file keeps its runs), else at its first place. */
static uint64_t
base_pos(const struct act *a, const struct job *j, uint64_t k)
{
	const struct tree_content *b = &a->delta_base;
	size_t lo = 0, hi = b->nids;

	while (lo < hi) {	/* the base chunk that starts at j->at, if any */
		size_t mid = lo + (hi - lo) / 2;

		if (a->ooff[mid] < j->at)
			lo = mid + 1;
		else
			hi = mid;
	}
	if (lo < b->nids && a->ooff[lo] == j->at && memcmp(b->ids[lo], j->id, 32) == 0)
		return j->at;
	return a->ooff[k];
}

/* Waits until every job of a is done (also after a storage error: the
 * workers and the signature thread end each job they take). */
static void
jobs_wait(struct engine *e, struct act *a)
{
	pthread_mutex_lock(&e->mu);
	while (a->outstanding)
		pthread_cond_wait(&e->done_cv, &e->mu);
	pthread_mutex_unlock(&e->mu);
}

/*
 * Joins the file's delta from its chunks (all done: jobs_wait) into
 * a->dbuf, or sets a->drc.  Chunks the base has that follow each other
 * there too make one run: its edges (copy_edges) as literal bytes, one
 * COPY between them.
 */
static void
chunk_delta_join(struct act *a, const struct delta_sig *base_sig)
{
	struct delta_piece *pc;
	size_t n = 0;
	uint64_t lit = 0;
	uint32_t i, k, changed = 0;
	int rc;

	if (a->drc)
		return;
	/* at most three pieces per chunk */
	if ((pc = calloc(a->njobs ? 3 * (size_t)a->njobs : 1, sizeof(*pc))) == NULL) {
		a->drc = BW_ERR_NOMEM;
		return;
	}
	for (i = 0; i < a->njobs; i = k) {
		struct job *j = a->jobs[i], *last = j;

		k = i + 1;
		if (!j->copy) {
			if (!j->sub.len) {
				a->drc = 1;	/* given up (out of memory) */
				goto out;
			}
			pc[n++] = (struct delta_piece){ DP_DELTA, j->sub.data, j->sub.len, 0, 0 };
			lit += j->sub_lit;
			changed++;
			continue;
		}
		/* a chunk with no whole block of the base between its edges
		 * (only the last of a file can be that short) is literal
		 * bytes; runs join chunks that follow each other in the base */
		while (j->hl + j->tl < j->len && k < a->njobs && a->jobs[k]->copy &&
		    a->jobs[k]->hl + a->jobs[k]->tl < a->jobs[k]->len &&
		    a->jobs[k]->pos == last->pos + last->len)
			last = a->jobs[k++];
		if (j->hl)
			pc[n++] = (struct delta_piece){ DP_LITERAL, j->sub.data, j->hl, 0, 0 };
		pc[n++] = (struct delta_piece){ DP_COPY, NULL, 0, j->pos + j->hl,
		    last->pos + last->len - last->tl - (j->pos + j->hl) };
		if (last->tl)
			pc[n++] = (struct delta_piece){ DP_LITERAL,
			    last->sub.data + last->hl, last->tl, 0, 0 };
		lit += j->hl + last->tl;
	}
	buf_reset(&a->dbuf);
	if ((rc = delta_splice(base_sig, pc, n, &a->dbuf)) == BW_ERR_NOMEM) {
		a->drc = rc;
	} else if (rc) {
		log_warn("%s: its delta could not be joined; it is stored as chunks", a->path);
		a->drc = 1;
	}
	a->dliteral = lit;
	log_debug("%s: delta joined from %u chunks, %u of them changed", a->path, a->njobs,
	    changed);
out:
	for (i = 0; i < a->njobs; i++)
		buf_free(&a->jobs[i]->sub);
	free(pc);
}

/* One pass over the file's data.  Returns 0, a negative code, or 1 when a
 * delta was tried and abandoned. */
static int
read_pass(struct engine *e, struct fsent_walk *w, struct act *a, struct delta_sig *old_sig,
    uint64_t old_size)
{
	struct buf chunk = { 0 }, *dbuf = &a->dbuf;	/* the delta */
	struct delta_sig_job *sj = NULL;
	struct delta_job *dj = NULL;
	/* the items that end the signature job and the delta: made up front,
	 * so that ending them cannot fail (the signature thread may still
	 * hold feeds that point at a) */
	struct sigwork *send = NULL, *dend = NULL;
	struct extents xs = { 0 };
	struct stat st0;
	uint64_t off, in = 0, literal = 0;
	int delta = old_sig != NULL, store = !delta, derive;
	long n;
	size_t k;
	int cut, rc;

	if ((rc = fsent_open_data(w)) != 0)
		goto unreadable;
	cdc_reset(e->cdc);
	/* a delta that is kept gives the new signature almost for free (see
	 * derive_sig): no signature job then */
	derive = delta && a->te.size >= DELTA_MIN && delta_sig_fits(old_sig, a->te.size) &&
	    fsent_fstat(w, &st0) == 0;
	if (a->te.size >= DELTA_MIN && !derive && ((send = calloc(1, sizeof(*send))) == NULL ||
	    (sj = delta_sig_start(a->te.size)) == NULL)) {
		rc = BW_ERR_NOMEM;
		goto out;
	}
	buf_reset(&a->dbuf);
	a->drc = a->dfail = 0;
	a->dsub = a->dkeep = 0;
	a->next_at = 0;
	a->dbl = delta_block_len(a->te.size);
	if (delta)
		omap_build(e, a, old_size);
	a->fsig = a->omap ? old_sig : NULL;
	if (delta && !a->omap && ((dend = calloc(1, sizeof(*dend))) == NULL ||
	    (dj = delta_start(old_sig)) == NULL)) {
		rc = BW_ERR_NOMEM;
		goto out;
	}
	for (;;) {
		const uint8_t *p = e->rbuf;

		if (e->o->stop && *e->o->stop) {
			rc = BW_ERR_INTR;
			goto out;
		}
		n = fsent_read(w, e->rbuf, READ_SIZE, &off);
		if (n == 0)
			break;
		if (n < 0) {
			rc = (int)n;
			goto unreadable;
		}
		e->prog.bytes_read += (uint64_t)n;
		if (derive && (rc = extents_add(&xs, in, off, (uint64_t)n)) != 0)
			goto out;
		in += (uint64_t)n;
		/* the delta is made on the signature thread, alongside */
		if (delta && __atomic_load_n(&a->dfail, __ATOMIC_RELAXED)) {
			log_debug("%s: delta given up after %llu bytes: rewritten, not edited",
			    a->path, (unsigned long long)in);
			rc = 1;	/* a rewrite, not an edit (or it failed) */
			goto out;
		}
		if ((sj || dj) && (rc = sig_submit(e, a, sj, dj, SIG_FEED, p, (size_t)n, NULL)) != 0)
			goto out;
		while (n > 0) {
			k = cdc_next(e->cdc, p, (size_t)n, &cut);
			/* a chunk's buffer is sized once (growing it by doubling
			 * fragments the heap): up to the rest of the file, at most
			 * the largest chunk */
			if (chunk.len == 0 && chunk.cap == 0) {
				uint64_t rest = a->te.size > in - (uint64_t)n ? a->te.size - (in - (uint64_t)n) : 0;

				chunk_buf(e, &chunk, rest < k ? k : rest > e->chunk_max ? e->chunk_max : rest);
			}
			if ((rc = buf_put(&chunk, p, k)) != 0)
				goto out;
			p += k;
			n -= (long)k;
			if (cut && (rc = submit(e, a, &chunk, OBJ_DATA, store)) != 0)
				goto out;
		}
		/* keep the walker from running far ahead of the workers */
		if ((rc = drain(e, MAX_QUEUE)) != 0)
			goto out;
		report(e, 0);
	}
	if (chunk.len && (rc = submit(e, a, &chunk, OBJ_DATA, store)) != 0)
		goto out;
	if (delta) {
		if (dj) {
			(void)sig_submit(e, a, NULL, dj, DELTA_FINISH, NULL, 0, dend);
			dj = NULL;
			dend = NULL;
			delta_wait(e, a);
		} else {
			jobs_wait(e, a);
			idset_free(a->omap);
			a->omap = NULL;
			free(a->ooff);
			a->ooff = NULL;
			a->fsig = NULL;
			chunk_delta_join(a, old_sig);
		}
		if ((rc = a->drc) != 0)
			goto out;
		literal = a->dliteral;
		/* worth it only if a good part of the old file was reused */
		if (dbuf->len > DELTA_CAP || in - (literal < in ? literal : in) < old_size / 4) {
			rc = 1;
			goto out;
		}
		if (dbuf->len <= SMALL_DELTA) {
			/* kept until the entry is applied: if the file turns
			 * out to hold the same bytes (re-read because it was
			 * touched), nothing is stored at all */
			buf_reset(&a->small_delta);
			if ((rc = buf_put(&a->small_delta, dbuf->data, dbuf->len)) != 0)
				goto out;
		}
		for (off = 0; off < dbuf->len && !a->small_delta.len; off += DELTA_PIECE) {
			struct buf piece = { 0 };
			size_t len = dbuf->len - off < DELTA_PIECE ? dbuf->len - off : DELTA_PIECE;

			if ((rc = buf_put(&piece, dbuf->data + off, len)) != 0 ||
			    (rc = submit(e, a, &piece, OBJ_DELTA, 1)) != 0) {
				buf_free(&piece);
				goto out;
			}
		}
		a->delta = 1;
		log_debug("%s: stored as a delta of %zu bytes (%llu literal) on a depth-%u base",
		    a->path, dbuf->len, (unsigned long long)literal, (unsigned)a->delta_base.depth);
		if (derive)
			derive_sig(w, a, old_sig, dbuf, in, &xs, &st0);
	}
	if (sj) {
		(void)sig_submit(e, a, sj, NULL, SIG_FINISH, NULL, 0, send);
		sj = NULL;
		send = NULL;
	}
	rc = 0;
	goto out;
unreadable:
	/* already logged by fsent with the path and reason */
	a->failed = 1;
	rc = add_error(e, a->path, bw_strerror(rc));
out:
	if (sj) {
		(void)sig_submit(e, a, sj, NULL, SIG_ABORT, NULL, 0, send);
		send = NULL;
	}
	if (dj) {
		/* the caller frees the old signature dj uses */
		(void)sig_submit(e, a, NULL, dj, DELTA_ABORT, NULL, 0, dend);
		dend = NULL;
		delta_wait(e, a);
		if (rc == 1 && a->drc < 0)
			rc = a->drc;	/* it failed rather than grew */
	}
	if (a->omap) {
		/* the workers and the signature thread use it until then */
		jobs_wait(e, a);
		idset_free(a->omap);
		a->omap = NULL;
		free(a->ooff);
		a->ooff = NULL;
		a->fsig = NULL;
		if (rc == 1 && a->drc < 0)
			rc = a->drc;
	}
	free(send);
	free(dend);
	free(xs.x);
	buf_free(dbuf);
	buf_free(&chunk);
	return rc;
}

/* ---------- the files cache ---------- */

static void
meta_from_fsent(struct fcache_meta *m, const struct fsent_entry *f)
{
	m->dev = f->dev;
	m->ino = f->ino;
	m->size = f->size;
	/* unsigned arithmetic: times past 2262 wrap instead of overflowing
	 * (the value is only compared for equality) */
	m->mtime_ns = (int64_t)((uint64_t)f->mtime_sec * 1000000000u + f->mtime_nsec);
	m->ctime_ns = (int64_t)((uint64_t)f->ctime_sec * 1000000000u + f->ctime_nsec);
}

/* The same from a stat (fsent's entries take these fields from it). */
static void
meta_from_stat(struct fcache_meta *m, const struct stat *st)
{
	m->dev = (uint64_t)st->st_dev;
	m->ino = (uint64_t)st->st_ino;
	m->size = (uint64_t)st->st_size;
	m->mtime_ns = (int64_t)((uint64_t)st->st_mtim.tv_sec * 1000000000u +
	    (uint64_t)st->st_mtim.tv_nsec);
	m->ctime_ns = (int64_t)((uint64_t)st->st_ctim.tv_sec * 1000000000u +
	    (uint64_t)st->st_ctim.tv_nsec);
}

/* 1 if the file is unchanged since the last backup and every object it
 * needs is still stored: then a->te has its content and hash. */
static int
cache_lookup(struct engine *e, struct act *a)
{
	unsigned flags;

	if (fcache_lookup(e->cache, a->path, &a->meta, &a->hit) != 0 ||
	    blob_parse(a->hit.content, a->hit.content_len, a->te.hash, &a->te.content,
	    &flags) != 0)
		return 0;
	a->hit_flags = flags;
	/* a delta's bases too: reusing the descriptor reuses its whole chain */
	if (!all_stored(e, &a->te.content)) {
		tree_content_clear(&a->te.content);
		return 0;
	}
	return 1;
}

/*
 * fsent's stat_only: 1 if path is a file the files cache has, unchanged,
 * stored, and plain (BLOB_PLAIN); its hit then waits in e->pre for the
 * entry that fsent makes of it next (add_entry).
 */
static int
stat_only(void *arg, const char *path, const struct stat *st)
{
	struct engine *e = arg;
	struct pre *p = &e->pre;
	unsigned flags;
	size_t n = strlen(path) + 1;

	p->valid = 0;
	tree_content_clear(&p->content);
	meta_from_stat(&p->meta, st);
	if (fcache_lookup(e->cache, path, &p->meta, &p->hit) != 0 ||
	    blob_parse(p->hit.content, p->hit.content_len, p->hash, &p->content, &flags) != 0 ||
	    !(flags & BLOB_PLAIN) || !all_stored(e, &p->content)) {
		tree_content_clear(&p->content);
		/* where no file qualifies (all new, or all with SELinux
		 * labels), asking only costs a stat and a lookup per file */
		return ++p->declined >= 4096 && p->taken == 0 ? -1 : 0;
	}
	p->taken++;
	if (n > p->cap) {
		char *np = realloc(p->path, n);

		if (!np) {
			tree_content_clear(&p->content);
			return 0;
		}
		p->path = np;
		p->cap = n;
	}
	memcpy(p->path, path, n);
	p->valid = 1;
	return 1;
}

static void
cache_record(struct engine *e, struct act *a)
{
	struct buf b = { 0 }, sigs = { 0 };

	if (a->sig.len && !a->same_as_old) {
		/* a plain version is its own root */
		sigs_join(&sigs, a->sig.data, a->sig.len, a->delta ? a->root_sig.data : NULL,
		    a->delta ? a->root_sig.len : 0);
		buf_reset(&a->sig);
		buf_put(&a->sig, sigs.data, sigs.len);
		buf_free(&sigs);
	}
	blob_put(&b, &a->te, a->meta_partial);
	if (!b.err)
		fcache_put(e->cache, a->path, &a->meta, b.data, b.len, a->sig.data, a->sig.len);
	buf_free(&b);
}

/*
 * Stores a directory's tree.  A changed tree is stored as a delta (in
 * librsync's format, so readers need nothing new) against the previous
 * version, which the files cache keeps whole under the directory's path
 * with "//" appended: the delta is exact, so one changed entry in a
 * directory of thousands costs about the bytes that changed in it (a new
 * subtree id or content descriptor), not the blocks around them.  Trees are
 * small (a few hundred bytes per entry) and the cache holds nothing the
 * backed-up machine does not already show, so keeping them whole is cheap.
 * An unchanged tree costs nothing.  The root tree is always stored whole.
 * desc receives how the tree is stored.
 *
 * The cache's blob for a directory is, like a file's signatures,
 *   u32 n | newest version's tree bytes[n] | u32 m | chain root's[m]
 * (m = 0 when the newest version is stored whole).  The bytes a delta is
 * made against are checked against the id its descriptor names first.
 * Versions that kept 128-byte-block signatures of trees kept them under
 * path + "/": neither version mistakes the other's blob for its own, and
 * after an upgrade each directory's tree is stored whole once.
 */
#define TREE_DELTA_MIN 512u
/* Larger trees are stored whole and their bytes are not kept: building a
 * delta holds the tree, its cached versions and the match table, several
 * times the tree in memory (FORMAT.md also caps a delta at 8 MiB). */
#define TREE_DELTA_MAX DELTA_CAP

static int
put_sync(struct engine *e, enum obj_type type, const void *p, size_t n, uint8_t id[32])
{
	uint64_t added = 0;
	int rc = repo_writer_put(e->w, type, p, n, NULL, id, &added);

	pthread_mutex_lock(&e->mu);
	e->bytes_added_workers += added;
	pthread_mutex_unlock(&e->mu);
	return rc;
}

/* 1 if p[0..n) is the tree whose id is want. */
static int
tree_bytes_are(struct engine *e, const uint8_t *p, size_t n, const uint8_t want[32])
{
	uint8_t id[32];

	return repo_object_id(e->repo, OBJ_TREE, p, n, id) == 0 && memcmp(id, want, 32) == 0;
}

static int
store_tree(struct engine *e, const char *path, const struct buf *tree, const uint8_t id[32],
    struct tree_content *desc)
{
	struct fcache_hit old;
	struct fcache_meta meta = { 0 };
	struct tree_content old_desc = { 0 };
	struct buf key = { 0 }, bases = { 0 }, delta = { 0 }, blob = { 0 };
	const uint8_t *newest = NULL, *rootb = NULL, *bp = NULL;
	const struct tree_content *base = NULL, *root = NULL;
	size_t nn = 0, nr = 0, bn = 0;
	uint8_t old_id[32];
	struct bufr r;
	int rc = 0, have_old = 0, cache = path && e->cache;

	memset(desc, 0, sizeof(*desc));
	if (cache) {
		buf_put(&key, path, strlen(path));
		buf_put(&key, "//", 3);	/* with the NUL */
		if (key.err)
			return key.err;
		if (fcache_find(e->cache, (char *)key.data, &old) == 0) {
			bufr_init(&r, old.content, old.content_len);
			if (bufr_copy(&r, old_id, 32) == 0 &&
			    tree_content_decode(&r, &old_desc, TREE_DELTA_DEPTH_MAX) == 0 &&
			    bufr_done(&r) == 0 && all_stored(e, &old_desc))
				have_old = 1;
			else
				tree_content_clear(&old_desc);
		}
	}
	if (have_old && !memcmp(old_id, id, 32)) {
		/* unchanged: same storage; the cache entry (and the tree
		 * bytes, streamed) is carried forward as it is */
		*desc = old_desc;
		memset(&old_desc, 0, sizeof(old_desc));
		fcache_put_hit(e->cache, (char *)key.data, &old);
		goto out;
	}
	if (have_old && old.sig_len && tree->len >= TREE_DELTA_MIN &&
	    tree->len <= TREE_DELTA_MAX && fcache_sig_read(e->cache, &old, &bases) == 0 &&
	    sigs_split(&bases, &newest, &nn, &rootb, &nr) == 0) {
		for (root = &old_desc; root->base; root = root->base)
			;
		if (!nr) {
			rootb = newest;
			nr = nn;
		}
		if (old_desc.depth < TREE_DELTA_DEPTH_MAX) {
			base = &old_desc;		/* chain on */
			bp = newest;
			bn = nn;
		} else {
			base = root;			/* rebase on the root */
			bp = rootb;
			bn = nr;
		}
		/* the basis must be the version its descriptor names, or the
		 * delta would rebuild something else (the root's bytes are
		 * checked when a rebase uses them) */
		if (root->kind != 0 || root->nids != 1 ||
		    !tree_bytes_are(e, bp, bn, base == root ? root->ids[0] : old_id))
			base = NULL;
	}
	if (base && delta_diff(bp, bn, tree->data, tree->len, &delta) == 0 &&
	    delta.len < tree->len / 2) {
		uint32_t i, n = (uint32_t)((delta.len + DELTA_PIECE - 1) / DELTA_PIECE);

		desc->kind = 1;
		if ((desc->base = calloc(1, sizeof(*desc->base))) == NULL ||
		    (desc->ids = calloc(n ? n : 1, 32)) == NULL ||
		    (rc = content_dup(desc->base, base)) != 0) {
			rc = rc ? rc : BW_ERR_NOMEM;
			goto out;
		}
		desc->depth = desc->base->depth + 1;
		log_debug("%s/: tree of %zu bytes stored as a delta of %zu bytes (depth %u)",
		    path, tree->len, delta.len, (unsigned)desc->depth);
		for (i = 0; i < n; i++) {
			size_t off = (size_t)i * DELTA_PIECE;
			size_t len = delta.len - off < DELTA_PIECE ? delta.len - off : DELTA_PIECE;

			if ((rc = put_sync(e, OBJ_DELTA, delta.data + off, len, desc->ids[i])) != 0)
				goto out;
			desc->nids++;
		}
		buf_free(&delta);
		/* the chain's root stays its root (the cache is only a hint:
		 * without memory for it, the next version is stored whole) */
		sigs_join(&blob, tree->data, tree->len, rootb, nr);
		goto record;
	}
	/* stored whole */
	log_debug("%s/: tree of %zu bytes stored whole", path ? path : "", tree->len);
	tree_content_clear(desc);
	desc->kind = 0;
	desc->nids = 1;
	if ((desc->ids = malloc(32)) == NULL) {
		rc = BW_ERR_NOMEM;
		goto out;
	}
	if ((rc = put_sync(e, OBJ_TREE, tree->data, tree->len, desc->ids[0])) != 0)
		goto out;
	if (tree->len >= TREE_DELTA_MIN && tree->len <= TREE_DELTA_MAX)
		sigs_join(&blob, tree->data, tree->len, NULL, 0);
record:
	/* the old bytes are not needed any more: free them before the new
	 * entry is put */
	buf_free(&bases);
	buf_free(&delta);
	if (cache && rc == 0) {
		struct buf c = { 0 };

		buf_put(&c, id, 32);
		if (tree_content_encode(&c, desc) == 0 && !c.err && !blob.err)
			fcache_put(e->cache, (char *)key.data, &meta, c.data, c.len,
			    blob.len ? blob.data : NULL, blob.len);
		buf_free(&c);
	}
out:
	tree_content_clear(&old_desc);
	buf_free(&key);
	buf_free(&bases);
	buf_free(&delta);
	buf_free(&blob);
	return rc;
}

/* Queues one non-directory entry, reading a file's data if the cache does
 * not vouch for it.  Takes f. */
static int
add_entry(struct engine *e, struct fsent_walk *w, struct fsent_entry *f)
{
	struct act *a = act_new(ACT_ENTRY);
	struct fcache_hit old;
	int rc, hit = 0, have_old = 0;

	if (!a) {
		rc = BW_ERR_NOMEM;
		goto fail;
	}
	if ((rc = entry_from_fsent(&a->te, f)) != 0 || (a->path = strdup(f->path)) == NULL) {
		rc = rc ? rc : BW_ERR_NOMEM;
		goto fail;
	}
	a->meta_partial = f->partial;
	if (f->type == FSENT_FILE) {
		e->prog.files++;
		e->prog.bytes += f->size;
		if (e->cache && e->pre.valid && strcmp(e->pre.path, f->path) == 0) {
			/* fsent made it from its stat: stat_only has its hit */
			a->meta = e->pre.meta;
			a->hit = e->pre.hit;
			a->hit_flags = BLOB_FLAGGED | BLOB_PLAIN;
			memcpy(a->te.hash, e->pre.hash, 32);
			a->te.content = e->pre.content;
			memset(&e->pre.content, 0, sizeof(e->pre.content));
			e->pre.valid = 0;
			hit = 1;
		} else if (e->cache) {
			meta_from_fsent(&a->meta, f);
			hit = cache_lookup(e, a);
			if (!hit && fcache_find(e->cache, f->path, &old) == 0) {
				a->changed = 1;
				have_old = 1;
			}
		}
		if (hit) {
			a->from_cache = 1;
		} else if ((rc = read_file(e, w, a, have_old ? &old : NULL)) != 0) {
			/* the workers may still hold jobs of this file (stopped or
			 * failed mid-way): make them skip the rest, and wait until
			 * none is left before freeing the jobs they point into */
			pthread_mutex_lock(&e->mu);
			if (!e->fatal)
				e->fatal = rc;
			while (a->outstanding)
				pthread_cond_wait(&e->done_cv, &e->mu);
			pthread_mutex_unlock(&e->mu);
			goto fail;
		}
	}
	fsent_entry_free(f);
	return enqueue(e, a);
fail:
	act_free(a);
	fsent_entry_free(f);
	return rc;
}

/* ---------- roots ---------- */

static int
cmp_components(const void *pa, const void *pb)
{
	const unsigned char *a = *(const unsigned char *const *)pa;
	const unsigned char *b = *(const unsigned char *const *)pb;

	/* '/' sorts before every other byte, so "/a/b" < "/a-b" */
	for (; *a && *a == *b; a++, b++)
		;
	if (*a == *b)
		return 0;
	if (*a == '/')
		return *b ? -1 : 1;
	if (*b == '/')
		return *a ? 1 : -1;
	return *a < *b ? -1 : 1;
}

int
backup_roots_normalise(char **paths, size_t n, size_t *nout)
{
	size_t i, j, out = 0;

	for (i = 0; i < n; i++) {
		const char *p = paths[i];
		size_t len = strlen(p);

		if (p[0] != '/' || strstr(p, "//") || strstr(p, "/./") || strstr(p, "/../") ||
		    (len > 1 && p[len - 1] == '/') ||
		    (len >= 2 && !strcmp(p + len - 2, "/.")) ||
		    (len >= 3 && !strcmp(p + len - 3, "/.."))) {
			log_error("backup path %s: must be absolute and normalised (no '.', '..' "
			    "or repeated or trailing '/')", p);
			return BW_ERR_INVAL;
		}
	}
	qsort(paths, n, sizeof(*paths), cmp_components);
	for (i = 0; i < n; i++) {
		int inside = 0;

		for (j = 0; j < out && !inside; j++) {
			size_t l = strlen(paths[j]);

			if (!strcmp(paths[j], "/") ||
			    (!strncmp(paths[i], paths[j], l) && (paths[i][l] == '/' || !paths[i][l])))
				inside = 1;
		}
		if (inside)
			free(paths[i]);
		else
			paths[out++] = paths[i];
	}
	*nout = out;
	return 0;
}

static struct fsent_walk_opts
walk_opts(const struct backup_opts *o)
{
	struct fsent_walk_opts wo = {
		.excludes = o->excludes, .nexcludes = o->nexcludes,
		.one_file_system = o->one_file_system,
		.exclude_caches = o->exclude_caches,
	};

	return wo;
}

static int
walk_root(struct engine *e, const char *root)
{
	struct fsent_walk_opts wo = walk_opts(e->o);
	struct fsent_walk *w = NULL;
	struct fsent_entry *f;
	int rc;

	if (e->cache) {
		wo.stat_only = stat_only;
		wo.stat_only_arg = e;
	}
	if (strcmp(root, "/") && (rc = enter_ancestors(e, root)) != 0)
		return rc;
	if ((rc = fsent_walk_open(root, &wo, &w)) != 0) {
		if (rc == BW_ERR_NOENT || rc == BW_ERR_PERM)
			return add_error(e, root, bw_strerror(rc));
		return rc;
	}
	for (;;) {
		if (e->o->stop && *e->o->stop) {
			rc = BW_ERR_INTR;
			break;
		}
		rc = fsent_walk_next(w, &f);
		if (rc == 1) {
			rc = 0;
			break;
		}
		if (rc < 0) {
			const char *p = fsent_walk_error_path(w);

			if (rc == BW_ERR_NOMEM || (rc = add_error(e, p ? p : root,
			    bw_strerror(rc))) != 0)
				break;
			continue;
		}
		if (!strcmp(f->path, "/")) {	/* backing up "/": the root level */
			fsent_entry_free(f);
			continue;
		}
		if ((rc = leave_until(e, f->path, parent_len(f->path) ? parent_len(f->path) : 1)) != 0) {
			fsent_entry_free(f);
			break;
		}
		if (f->type == FSENT_DIR) {
			rc = enter_dir(e, f);
			fsent_entry_free(f);
		} else {
			rc = add_entry(e, w, f);
		}
		if (rc)
			break;
		report(e, 0);
	}
	fsent_walk_free(w);
	return rc;
}

/* ---------- the pre-scan (for the progress estimate only) ---------- */

static void *
prescan(void *arg)
{
	struct engine *e = arg;
	struct fsent_walk_opts wo = walk_opts(e->o);
	size_t i;

	log_thread_mute(1);
	for (i = 0; i < e->nroots; i++) {
		struct fsent_walk *w = NULL;
		struct fsent_entry *f;
		int rc;

		if (fsent_walk_open(e->roots[i], &wo, &w) != 0)
			continue;
		while ((rc = fsent_walk_next(w, &f)) != 1) {
			if (__atomic_load_n(&e->quit, __ATOMIC_RELAXED) ||
			    (e->o->stop && *e->o->stop)) {
				fsent_entry_free(f);
				break;
			}
			if (rc < 0)
				continue;
			if (f->type == FSENT_FILE) {
				pthread_mutex_lock(&e->mu);
				e->scan_files++;
				e->scan_bytes += f->size;
				pthread_mutex_unlock(&e->mu);
			}
			fsent_entry_free(f);
		}
		fsent_walk_free(w);
	}
	pthread_mutex_lock(&e->mu);
	e->scan_done = 1;
	pthread_mutex_unlock(&e->mu);
	return NULL;
}

/* ---------- the run ---------- */

static void
fill_snapshot(struct engine *e, struct snap_info *s, int64_t start)
{
	const struct backup_opts *o = e->o;
	char host[256] = "";
	struct passwd *pw = getpwuid(geteuid());
	size_t i;

	gethostname(host, sizeof(host) - 1);
	s->time_ns = start;
	s->end_ns = now_ns();
	s->host = strdup(host);
	s->user = pw ? strdup(pw->pw_name) : NULL;
	if (!s->user && (s->user = malloc(24)) != NULL)
		snprintf(s->user, 24, "%lu", (unsigned long)geteuid());
	s->set = xstrdup(o->set);
	s->paths = calloc(o->npaths ? o->npaths : 1, sizeof(char *));
	for (i = 0; s->paths && i < o->npaths; i++)
		s->paths[i] = strdup(o->paths[i]);
	s->npaths = s->paths ? o->npaths : 0;
	s->tags = calloc(o->ntags ? o->ntags : 1, sizeof(char *));
	for (i = 0; s->tags && i < o->ntags; i++)
		s->tags[i] = strdup(o->tags[i]);
	s->ntags = s->tags ? o->ntags : 0;
	s->files = e->prog.files;
	s->dirs = e->prog.dirs;
	s->bytes = e->prog.bytes;
	s->files_new = e->prog.files_new;
	s->files_changed = e->prog.files_changed;
	s->files_unchanged = e->prog.files_unchanged;
	s->bytes_read = e->prog.bytes_read;
	s->bytes_added = e->bytes_added_workers;
	s->nerrors = (uint32_t)e->nerrors;
	s->have_body = 1;
	memcpy(s->root, e->root, 32);
	s->errors = e->errors;
	s->nerrors_list = e->nerrors;
	e->errors = NULL;
	e->nerrors = 0;
}

int
backup_run(struct repo *r, const struct backup_opts *o, struct snap_info *snap)
{
	struct engine e;
	struct cdc_params cp;
	uint8_t seed[32];
	char **roots = NULL;
	size_t nroots = 0, i;
	int64_t start = o->start_ns ? o->start_ns : now_ns();
	unsigned nw;
	int rc, rc2, x = 0;

	memset(&e, 0, sizeof(e));
	memset(snap, 0, sizeof(*snap));
	e.repo = r;
	e.o = o;
	pthread_mutex_init(&e.mu, NULL);
	pthread_cond_init(&e.work_cv, NULL);
	pthread_cond_init(&e.done_cv, NULL);
	pthread_cond_init(&e.sig_cv, NULL);
	clock_gettime(CLOCK_MONOTONIC, &e.t0);

	if (o->npaths == 0) {
		log_error("nothing to back up: give at least one path");
		rc = BW_ERR_INVAL;
		goto out;
	}
	if ((roots = calloc(o->npaths, sizeof(*roots))) == NULL) {
		rc = BW_ERR_NOMEM;
		goto out;
	}
	for (i = 0; i < o->npaths; i++)
		if ((roots[nroots++] = strdup(o->paths[i])) == NULL) {
			rc = BW_ERR_NOMEM;
			goto out;
		}
	if ((rc = backup_roots_normalise(roots, nroots, &nroots)) != 0)
		goto out;
	e.roots = roots;
	e.nroots = nroots;

	repo_chunk_params(r, &cp.min, &cp.avg, &cp.max);
	repo_gear_seed(r, seed);
	e.cdc = cdc_new(seed, &cp);
	e.chunk_max = cp.max;
	bwcrypto_wipe(seed, sizeof(seed));
	e.rbuf = malloc(READ_SIZE);
	e.hasher = bwcrypto_hasher_new(repo_id_key(r));
	e.copies = bufpool_new(READ_SIZE, COPY_IDLE);
	if (!e.cdc || !e.rbuf || !e.hasher || !e.copies) {
		rc = BW_ERR_NOMEM;
		goto out;
	}
	if ((rc = repo_writer_start(r, &e.w)) != 0)
		goto out;
	e.chunks = repo_writer_pool(e.w);
	if (o->cache_dir) {
		char idhex[2 * REPO_ID_LEN + 1];

		hex_encode(idhex, repo_id(r), REPO_ID_LEN);
		if (fcache_open(o->cache_dir, idhex, repo_generation(r), &e.cache) != 0)
			e.cache = NULL;	/* logged; back up without the cache */
	}

	nw = o->workers ? o->workers : (unsigned)sysconf(_SC_NPROCESSORS_ONLN);
	if (nw < 1)
		nw = 1;
	if (nw > MAX_WORKERS)
		nw = MAX_WORKERS;
	for (e.nthreads = 0, x = 0; e.nthreads < nw; e.nthreads++)
		if ((x = pthread_create(&e.threads[e.nthreads], NULL, worker, &e)) != 0)
			break;
	if (e.nthreads > 0 && (x = pthread_create(&e.sig_thread, NULL, sig_worker, &e)) == 0)
		e.sig_running = 1;
	if (e.nthreads == 0 || !e.sig_running) {
		log_error("cannot start the backup's threads: %s", strerror(x));
		rc = BW_ERR_NOMEM;
		goto stop;	/* joins those that started */
	}
	/* a second walk counts what there is, for the time estimate; it only
	 * reads metadata, and its errors are the main walk's to report */
	if (o->progress && pthread_create(&e.scan_thread, NULL, prescan, &e) == 0)
		e.scanning = 1;

	/* the root level: "/" */
	if ((rc = wpush(&e, "/")) != 0 || (rc = level_push(&e, NULL, NULL)) != 0)
		goto stop;
	for (i = 0; i < nroots && rc == 0; i++)
		rc = walk_root(&e, roots[i]);
	while (rc == 0 && e.wdepth > 1) {
		free(e.wstack[--e.wdepth]);
		rc = enqueue(&e, act_new(ACT_LEAVE));
	}
	if (rc == 0)
		rc = drain(&e, 0);
	if (rc == 0)
		rc = level_pop(&e);	/* the root tree */
stop:
	pthread_mutex_lock(&e.mu);
	__atomic_store_n(&e.quit, 1, __ATOMIC_RELAXED);
	if (rc && !e.fatal)
		e.fatal = rc;	/* workers skip what is left */
	pthread_cond_broadcast(&e.work_cv);
	pthread_cond_broadcast(&e.sig_cv);
	pthread_mutex_unlock(&e.mu);
	for (i = 0; i < e.nthreads; i++)
		pthread_join(e.threads[i], NULL);
	if (e.sig_running) {
		pthread_join(e.sig_thread, NULL);
		e.sig_running = 0;
	}
	if (e.scanning) {
		pthread_join(e.scan_thread, NULL);
		e.scanning = 0;
	}
	if (rc)
		goto out;

	fill_snapshot(&e, snap, start);
	if ((rc = repo_writer_commit(e.w, snap)) != 0)
		goto out;
	if (e.cache && (rc2 = fcache_commit(e.cache, start)) != 0)
		log_warn("files cache not saved (%s); the next backup reads every file",
		    bw_strerror(rc2));
	e.prog.bytes_added = snap->bytes_added = e.bytes_added_workers;
	report(&e, 1);
	rc = snap->nerrors ? BW_ERR_PARTIAL : 0;
out:
	if (e.scanning) {
		pthread_mutex_lock(&e.mu);
		__atomic_store_n(&e.quit, 1, __ATOMIC_RELAXED);
		pthread_mutex_unlock(&e.mu);
		pthread_join(e.scan_thread, NULL);
	}
	if (rc && rc != BW_ERR_PARTIAL)
		snap_info_clear(snap);
	while (e.q_head) {
		struct act *a = e.q_head;

		e.q_head = a->next;
		act_free(a);
	}
	while (e.depth > 0) {
		struct level *l = &e.levels[--e.depth];

		buf_free(&l->entries);
		tree_entry_clear(&l->te);
		free(l->path);
	}
	free(e.levels);
	for (i = 0; i < e.wdepth; i++)
		free(e.wstack[i]);
	free(e.wstack);
	for (i = 0; i < e.nerrors; i++)
		free(e.errors[i]);
	free(e.errors);
	for (i = 0; i < nroots; i++)
		free(roots[i]);
	free(roots);
	fcache_free(e.cache);
	repo_writer_free(e.w);
	cdc_free(e.cdc);
	bwcrypto_hasher_free(e.hasher);
	free(e.rbuf);
	bufpool_free(e.copies);
	pthread_mutex_destroy(&e.mu);
	pthread_cond_destroy(&e.work_cv);
	pthread_cond_destroy(&e.done_cv);
	pthread_cond_destroy(&e.sig_cv);
	free(e.pre.path);
	tree_content_clear(&e.pre.content);
	return rc;
}
