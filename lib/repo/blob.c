#include "config.h"

#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <zstd.h>

#include "lib/crypto/bwcrypto.h"
#include "lib/repo/repo.h"
#include "lib/repo/repo_internal.h"
#include "lib/util/err.h"

/*
 * An object's stored form (docs/FORMAT.md, "Objects and packs"):
 *   AEAD(session_key, ad = "BWOB" || u8 type || id, u8 comp || payload)
 * comp 0: payload is the plaintext; comp 1: one zstd frame of it.  The only
 * file that includes zstd.h.
 */

#define COMP_NONE 0
#define COMP_ZSTD 1
#define AD_LEN (4 + 1 + OBJ_ID_LEN)

static void
make_ad(uint8_t ad[AD_LEN], enum obj_type type, const uint8_t id[static OBJ_ID_LEN])
{
	memcpy(ad, "BWOB", 4);
	ad[4] = (uint8_t)type;
	memcpy(ad + 5, id, OBJ_ID_LEN);
}

/* One compression context per thread: making one per object costs more
 * than compressing a small object.  Freed when the thread exits. */
static pthread_key_t cctx_key;
static pthread_once_t cctx_once = PTHREAD_ONCE_INIT;

static void
cctx_free(void *p)
{
	ZSTD_freeCCtx(p);
}

static void
cctx_init(void)
{
	pthread_key_create(&cctx_key, cctx_free);
}

static ZSTD_CCtx *
cctx_get(void)
{
	ZSTD_CCtx *c;

	pthread_once(&cctx_once, cctx_init);
	if ((c = pthread_getspecific(cctx_key)) == NULL &&
	    (c = ZSTD_createCCtx()) != NULL && pthread_setspecific(cctx_key, c) != 0) {
		ZSTD_freeCCtx(c);
		c = NULL;
	}
	return c;
}

size_t
repo_blob_seal_bound(size_t n)
{
	/* compressed output is kept only when smaller than n (below), so
	 * the plaintext's room is enough for it */
	return BWC_NONCE + 1 + n + BWC_TAG;
}

int
repo_blob_seal_to(uint8_t *dst, size_t *len, const uint8_t key[static BWC_KEY], int zlevel,
    enum obj_type type, const uint8_t id[static OBJ_ID_LEN], const void *p, size_t n)
{
	uint8_t ad[AD_LEN], *in = dst + BWC_NONCE;	/* u8 comp || payload */
	ZSTD_CCtx *cctx;
	size_t cn = 0;

	make_ad(ad, type, id);
	/* Compress only when it saves more than 1/16: below that the
	 * decompression cost on restore is not worth it.  zstd gets exactly
	 * that much room, so it gives up on incompressible data instead of
	 * writing past what would be kept. */
	if (n >= 64) {
		cctx = cctx_get();
		cn = cctx ? ZSTD_compressCCtx(cctx, in + 1, n - n / 16 - 1, p, n, zlevel) :
		    ZSTD_compress(in + 1, n - n / 16 - 1, p, n, zlevel);
	}
	if (n >= 64 && !ZSTD_isError(cn) && cn < n - n / 16) {
		in[0] = COMP_ZSTD;
	} else {
		in[0] = COMP_NONE;
		if (n)
			memcpy(in + 1, p, n);
		cn = n;
	}
	*len = 1 + cn + BWC_AEAD_OVERHEAD;
	return bwcrypto_aead_seal_placed(dst, 1 + cn, key, ad, sizeof(ad));
}

static int
unpack_inner(struct buf *out, const uint8_t *in, size_t n)
{
	unsigned long long sz;
	uint8_t *dst;
	size_t got;

	if (n < 1)
		return BW_ERR_CORRUPT;
	if (in[0] == COMP_NONE) {
		if (n - 1 > REPO_MAX_OBJECT)
			return BW_ERR_CORRUPT;
		return buf_put(out, in + 1, n - 1);
	}
	if (in[0] != COMP_ZSTD)
		return BW_ERR_CORRUPT;
	sz = ZSTD_getFrameContentSize(in + 1, n - 1);
	if (sz == ZSTD_CONTENTSIZE_ERROR || sz == ZSTD_CONTENTSIZE_UNKNOWN || sz > REPO_MAX_OBJECT)
		return BW_ERR_CORRUPT;
	if ((dst = buf_extend(out, (size_t)sz)) == NULL)
		return BW_ERR_NOMEM;
	got = ZSTD_decompress(dst, (size_t)sz, in + 1, n - 1);
	if (ZSTD_isError(got) || got != sz) {
		out->len -= (size_t)sz;
		return BW_ERR_CORRUPT;
	}
	return 0;
}

int
repo_id_compute(const uint8_t id_key[static BWC_KEY], enum obj_type type, const void *p,
    size_t n, uint8_t id[static OBJ_ID_LEN])
{
	struct bwcrypto_sha *h = bwcrypto_sha_new(id_key);
	uint8_t t = (uint8_t)type;
	int rc;

	if (!h) {
		memset(id, 0, OBJ_ID_LEN);
		return BW_ERR_NOMEM;
	}
	bwcrypto_sha_update(h, &t, 1);
	bwcrypto_sha_update(h, p, n);
	rc = bwcrypto_sha_final(h, id);
	bwcrypto_sha_free(h);
	return rc;
}

int
repo_blob_open(struct buf *out, const struct repo_keys *k, const uint8_t key[static BWC_KEY],
    enum obj_type type, const uint8_t id[static OBJ_ID_LEN], const uint8_t *blob, size_t n)
{
	uint8_t ad[AD_LEN], got[OBJ_ID_LEN];
	struct buf in = { 0 };
	size_t start = out->len;
	int rc;

	make_ad(ad, type, id);
	if ((rc = bwcrypto_aead_open(&in, key, ad, sizeof(ad), blob, n)) != 0)
		goto out;
	if ((rc = unpack_inner(out, in.data, in.len)) != 0)
		goto out;
	if ((rc = repo_id_compute(k->id_key, type, out->data + start, out->len - start,
	    got)) == 0 && !bwcrypto_memeq(got, id, OBJ_ID_LEN))
		rc = BW_ERR_CORRUPT;
out:
	if (rc)
		out->len = start;
	buf_free(&in);
	return rc;
}

int
repo_blob_reseal(struct buf *out, const uint8_t okey[static BWC_KEY],
    const uint8_t nkey[static BWC_KEY], enum obj_type type,
    const uint8_t id[static OBJ_ID_LEN], const uint8_t *blob, size_t n)
{
	uint8_t ad[AD_LEN];
	struct buf in = { 0 };
	int rc;

	make_ad(ad, type, id);
	if ((rc = bwcrypto_aead_open(&in, okey, ad, sizeof(ad), blob, n)) == 0)
		rc = bwcrypto_aead_seal(out, nkey, ad, sizeof(ad), in.data, in.len);
	buf_free(&in);
	return rc;
}
