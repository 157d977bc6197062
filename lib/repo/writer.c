#include "config.h"

#include <stdlib.h>
#include <string.h>

#include "lib/crypto/bwcrypto.h"
#include "lib/repo/repo.h"
#include "lib/repo/repo_internal.h"
#include "lib/util/bufpool.h"
#include "lib/util/err.h"
#include "lib/util/log.h"

/*
 * A write session.  repo_writer_put runs on several worker threads: the id,
 * compression and encryption are computed without any lock; only the dedup
 * lookup/insert and the append to the current pack hold w->mu.  Lock order:
 * w->mu, then r->mu.  After any write error the session is failed for good
 * (the caller must start a new one), because objects of the abandoned pack
 * were already counted as stored.
 *
 * A full pack is finished (fsync, rename, directory syncs, index file)
 * outside w->mu by the thread that filled it, while the others go on
 * filling the next pack: held under the lock, those ~30 ms per 16 MiB pack
 * kept every other worker waiting.  One pack is finished at a time, so at
 * most two packs are ever written but not yet durable (the one being
 * finished and the one being filled) and a crash loses no more than that.
 * While a finish is under way the current pack may grow past the target; at
 * twice the target its writers wait for the finish instead.
 *
 * Each object is compressed and sealed in one buffer taken from w->pool and
 * given back once the pack has its bytes: without it, every object of a
 * megabyte or more cost two fresh mmaps (cli/main.c's mmap threshold),
 * faulted in and unmapped again.  A buffer is in use only during one
 * repo_writer_put call, so at most one per calling thread is in use, plus
 * WRITER_IDLE idle ones.  Their size is for a chunk of twice the average
 * (FastCDC's normalised chunking makes a longer one rare, ~2%); a larger
 * object gets memory of its own.
 */

/* Idle buffers kept.  One: an idle buffer is memory held at the peak too,
 * and a second one (a worker gives back its sealing buffer and its chunk
 * buffer one after the other) saved ~15% more page faults but raised the
 * incremental backup's peak RSS by ~2 MiB, above the budget. */
#define WRITER_IDLE 1

struct repo_writer {
	struct repo *r;
	pthread_mutex_t mu;
	uint8_t e_pk[BWC_BOX_PK];
	uint8_t *key;			/* session key, guarded memory */
	struct idset *session;		/* ids stored by this session */
	struct repo_packw *pw;
	struct bufpool *pool;		/* sealing buffers */
	pthread_cond_t done;		/* a finish outside mu ended */
	int finishing;			/* a pack is being finished outside mu */
	int failed;
};

static size_t
pool_chunk(const struct repo *r)
{
	size_t two = 2 * (size_t)r->cfg.chunk_avg;

	return two < r->cfg.chunk_max ? two : r->cfg.chunk_max;
}

int
repo_writer_start(struct repo *r, struct repo_writer **out)
{
	struct repo_writer *w = NULL;
	int rc;

	*out = NULL;
	if ((rc = repo_need(r, REPO_CAP_WRITE, "store new objects")) != 0)
		return rc;
	if ((rc = repo_load_index(r)) != 0)
		return rc;
	if ((w = calloc(1, sizeof(*w))) == NULL)
		return BW_ERR_NOMEM;
	w->r = r;
	pthread_mutex_init(&w->mu, NULL);
	pthread_cond_init(&w->done, NULL);
	if ((w->key = bwcrypto_secalloc(BWC_KEY)) == NULL || (w->session = idset_new()) == NULL ||
	    (w->pool = bufpool_new(repo_blob_seal_bound(pool_chunk(r)), WRITER_IDLE)) == NULL) {
		rc = BW_ERR_NOMEM;
		goto fail;
	}
	if ((rc = bwcrypto_session_new(w->e_pk, w->key, r->k->read_pk)) != 0) {
		log_error("repository %s: the read public key in the config is unusable", r->path);
		goto fail;
	}
	*out = w;
	return 0;
fail:
	repo_writer_free(w);
	return rc;
}

/* Caller holds w->mu. */
static int
known(struct repo_writer *w, const uint8_t id[static OBJ_ID_LEN])
{
	int has;

	if (idset_get(w->session, id, NULL))
		return 1;
	pthread_mutex_lock(&w->r->mu);
	has = w->r->idx && idset_get(w->r->idx, id, NULL);
	pthread_mutex_unlock(&w->r->mu);
	return has;
}

/* Caller holds w->mu and no finish is under way. */
static int
finish_pack(struct repo_writer *w)
{
	struct repo_packw *pw = w->pw;
	int rc;

	w->pw = NULL;
	if (!pw)
		return 0;
	if (repo_packw_count(pw) == 0) {
		repo_packw_abort(pw);
		return 0;
	}
	if ((rc = repo_packw_finish(pw)) != 0)
		w->failed = rc;
	return rc;
}

/*
 * Caller holds w->mu, and the current pack is at or past the target:
 * finishes it with w->mu released, unless another finish is under way (the
 * pack then grows until that one ends, up to twice the target).  Returns
 * with w->mu held.
 */
static int
finish_full_pack(struct repo_writer *w)
{
	struct repo_packw *pw;
	int rc;

	for (;;) {
		if (w->failed)
			return w->failed;
		/* another waiter may have taken the pack meanwhile */
		if (!w->pw || repo_packw_size(w->pw) < w->r->pack_target)
			return 0;
		if (!w->finishing)
			break;
		if (repo_packw_size(w->pw) < 2 * w->r->pack_target)
			return 0;
		pthread_cond_wait(&w->done, &w->mu);
	}
	pw = w->pw;
	w->pw = NULL;
	w->finishing = 1;
	pthread_mutex_unlock(&w->mu);
	rc = repo_packw_finish(pw);
	pthread_mutex_lock(&w->mu);
	w->finishing = 0;
	if (rc && !w->failed)
		w->failed = rc;
	pthread_cond_broadcast(&w->done);
	return rc;
}

/* Caller holds w->mu. */
static void
wait_finish(struct repo_writer *w)
{
	while (w->finishing)
		pthread_cond_wait(&w->done, &w->mu);
}

int
repo_writer_put(struct repo_writer *w, enum obj_type type, const void *p, size_t n,
    const uint8_t *id, uint8_t id_out[static OBJ_ID_LEN], uint64_t *added)
{
	struct repo *r = w->r;
	uint8_t oid[OBJ_ID_LEN], *blob = NULL;
	size_t cap = 0, len = 0;
	int rc = 0;

	if (added)
		*added = 0;
	if (n > REPO_MAX_OBJECT || type < OBJ_DATA || type > OBJ_DELTA) {
		log_error("repository %s: object of %zu bytes (type %d) refused: the limit is %u "
		    "bytes", r->path, n, (int)type, REPO_MAX_OBJECT);
		return BW_ERR_INVAL;
	}
	if (id)
		memcpy(oid, id, OBJ_ID_LEN);
	else if ((rc = repo_object_id(r, type, p, n, oid)) != 0)
		return rc;
	memcpy(id_out, oid, OBJ_ID_LEN);

	pthread_mutex_lock(&w->mu);
	rc = w->failed;
	if (!rc && known(w, oid)) {
		pthread_mutex_unlock(&w->mu);
		return 0;
	}
	pthread_mutex_unlock(&w->mu);
	if (rc)
		return rc;

	/* larger objects (rare long chunks, big trees and delta pieces) get
	 * memory of their own */
	if ((cap = repo_blob_seal_bound(n)) <= bufpool_size(w->pool)) {
		cap = bufpool_size(w->pool);
		blob = bufpool_get(w->pool);
	} else {
		blob = malloc(cap);
	}
	if (!blob) {
		rc = BW_ERR_NOMEM;
		goto out;
	}
	if ((rc = repo_blob_seal_to(blob, &len, w->key,
	    r->zstd_level ? r->zstd_level : r->cfg.zstd_level, type, oid, p, n)) != 0)
		goto out;

	pthread_mutex_lock(&w->mu);
	if ((rc = w->failed) != 0 || known(w, oid))
		goto unlock;
	if (!w->pw && (rc = repo_packw_new(r, w->e_pk, w->key, &w->pw)) != 0) {
		w->failed = rc;
		goto unlock;
	}
	if ((rc = repo_packw_add(w->pw, type, oid, blob, len, (uint32_t)n)) != 0 ||
	    (rc = idset_put(w->session, oid, 1, NULL)) != 0) {
		w->failed = rc;
		goto unlock;
	}
	if (added)
		*added = len;
	if (repo_packw_size(w->pw) >= r->pack_target)
		rc = finish_full_pack(w);
unlock:
	pthread_mutex_unlock(&w->mu);
out:
	bufpool_put(w->pool, blob, cap);	/* frees one of another size */
	return rc;
}

struct bufpool *
repo_writer_pool(struct repo_writer *w)
{
	return w->pool;
}

int
repo_writer_has(struct repo_writer *w, const uint8_t id[static OBJ_ID_LEN])
{
	int has;

	pthread_mutex_lock(&w->mu);
	has = known(w, id);
	pthread_mutex_unlock(&w->mu);
	return has;
}

int
repo_writer_plain_len(struct repo_writer *w, const uint8_t id[static OBJ_ID_LEN],
    uint32_t *plain)
{
	struct repo *r = w->r;
	uint64_t v;
	int has;

	pthread_mutex_lock(&r->mu);
	if ((has = r->idx && idset_get(r->idx, id, &v) && v < r->nent) != 0)
		*plain = r->ent[v].plain;
	pthread_mutex_unlock(&r->mu);
	return has;
}

int
repo_writer_flush(struct repo_writer *w)
{
	int rc;

	pthread_mutex_lock(&w->mu);
	wait_finish(w);
	if ((rc = w->failed) == 0)
		rc = finish_pack(w);
	pthread_mutex_unlock(&w->mu);
	return rc;
}

int
repo_writer_commit(struct repo_writer *w, struct snap_info *s)
{
	int rc;

	if ((rc = repo_writer_flush(w)) != 0)
		return rc;
	pthread_mutex_lock(&w->mu);
	rc = repo_snap_write(w->r, w->e_pk, w->key, s);
	if (rc)
		w->failed = rc;
	pthread_mutex_unlock(&w->mu);
	return rc;
}

void
repo_writer_free(struct repo_writer *w)
{
	if (!w)
		return;
	repo_packw_abort(w->pw);
	idset_free(w->session);
	bwcrypto_secfree(w->key);
	bufpool_free(w->pool);
	pthread_cond_destroy(&w->done);
	pthread_mutex_destroy(&w->mu);
	free(w);
}
