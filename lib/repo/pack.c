#include "config.h"

#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "lib/crypto/bwcrypto.h"
#include "lib/repo/repo.h"
#include "lib/repo/repo_internal.h"
#include "lib/util/err.h"
#include "lib/util/fsio.h"
#include "lib/util/log.h"

/*
 * Packs (docs/FORMAT.md, "Objects and packs"):
 *
 *   magic "BWPACK\0\0" | u32 version | e_pk[32]      header (REPO_PACK_HDR)
 *   blob | blob | ...                                 contiguous
 *   trailer = AEAD(session_key, "BWPT" || header, directory)
 *   u32 trailer_len | magic "BWPKEND\0"
 *
 *   directory = u32 count, then count * (id[32] u8 type u64 offset
 *               u32 length u32 plain_length)
 *
 * A pack is streamed to data/.tmp-pack-RANDOM while its SHA-256 is computed,
 * so only its directory is held in memory; then it is fsynced and renamed to
 * data/<xx>/<hash>, and only after that is durable is its index written.
 */

struct repo_packw {
	struct repo *r;
	char *tmp;
	struct fsio_file *f;
	struct bwcrypto_sha *h;
	uint8_t header[REPO_PACK_HDR];
	uint8_t key[BWC_KEY];
	struct repo_dirent *d;
	size_t n, cap;
	uint64_t size;
};

static int
packw_write(struct repo_packw *w, const void *p, size_t n)
{
	int rc = fsio_write(w->f, p, n);

	if (rc == 0) {
		bwcrypto_sha_update(w->h, p, n);
		w->size += n;
	}
	return rc;
}

int
repo_packw_new(struct repo *r, const uint8_t e_pk[static BWC_BOX_PK],
    const uint8_t key[static BWC_KEY], struct repo_packw **out)
{
	struct repo_packw *w;
	uint8_t rnd[8];
	char hex[17], rel[64];
	int rc;

	*out = NULL;
	if ((w = calloc(1, sizeof(*w))) == NULL)
		return BW_ERR_NOMEM;
	w->r = r;
	memcpy(w->key, key, BWC_KEY);
	bwcrypto_random(rnd, sizeof(rnd));
	hex_encode(hex, rnd, sizeof(rnd));
	snprintf(rel, sizeof(rel), "data/.tmp-pack-%s", hex);
	if ((w->tmp = repo_join(r->path, rel)) == NULL || (w->h = bwcrypto_sha_new(NULL)) == NULL) {
		rc = BW_ERR_NOMEM;
		goto fail;
	}
	if ((rc = fsio_create(w->tmp, 1, 0600, &w->f)) != 0) {
		w->f = NULL;
		goto fail;
	}
	memcpy(w->header, REPO_PACK_MAGIC, REPO_MAGIC_LEN);
	le32enc(w->header + REPO_MAGIC_LEN, REPO_FORMAT_VERSION);
	memcpy(w->header + REPO_MAGIC_LEN + 4, e_pk, BWC_BOX_PK);
	if ((rc = packw_write(w, w->header, sizeof(w->header))) != 0)
		goto fail;
	*out = w;
	return 0;
fail:
	repo_packw_abort(w);
	return rc;
}

int
repo_packw_add(struct repo_packw *w, enum obj_type type, const uint8_t id[static OBJ_ID_LEN],
    const uint8_t *blob, size_t n, uint32_t plain)
{
	struct repo_dirent *nd;
	int rc;

	if (w->n == w->cap) {
		size_t cap = w->cap ? w->cap * 2 : 64;

		if ((nd = realloc(w->d, cap * sizeof(*nd))) == NULL)
			return BW_ERR_NOMEM;
		w->d = nd;
		w->cap = cap;
	}
	nd = &w->d[w->n];
	memcpy(nd->id, id, OBJ_ID_LEN);
	nd->type = (uint8_t)type;
	nd->offset = w->size;
	nd->length = (uint32_t)n;
	nd->plain = plain;
	if ((rc = packw_write(w, blob, n)) != 0)
		return rc;
	w->n++;
	return 0;
}

uint64_t repo_packw_size(const struct repo_packw *w) { return w->size; }
size_t repo_packw_count(const struct repo_packw *w) { return w->n; }

void
repo_packw_abort(struct repo_packw *w)
{
	if (!w)
		return;
	if (w->f)
		fsio_abort(w->f, w->tmp);
	bwcrypto_sha_free(w->h);
	bwcrypto_wipe(w->key, sizeof(w->key));
	free(w->tmp);
	free(w->d);
	free(w);
}

static void
put_dirents(struct buf *b, const struct repo_dirent *d, size_t n)
{
	size_t i;

	for (i = 0; i < n; i++) {
		buf_put(b, d[i].id, OBJ_ID_LEN);
		buf_put_u8(b, d[i].type);
		buf_put_u64(b, d[i].offset);
		buf_put_u32(b, d[i].length);
		buf_put_u32(b, d[i].plain);
	}
}

int
repo_packw_finish(struct repo_packw *w)
{
	struct repo *r = w->r;
	struct buf dir = { 0 }, tr = { 0 };
	uint8_t ad[4 + REPO_PACK_HDR], tail[REPO_PACK_TAIL], id[OBJ_ID_LEN];
	char *dst = NULL, *ddir = NULL, *data = NULL;
	int rc;

	buf_put_u32(&dir, (uint32_t)w->n);
	put_dirents(&dir, w->d, w->n);
	memcpy(ad, "BWPT", 4);
	memcpy(ad + 4, w->header, REPO_PACK_HDR);
	if ((rc = dir.err) != 0 ||
	    (rc = bwcrypto_aead_seal(&tr, w->key, ad, sizeof(ad), dir.data, dir.len)) != 0)
		goto out;
	le32enc(tail, (uint32_t)tr.len);
	memcpy(tail + 4, REPO_PACKEND_MAGIC, REPO_MAGIC_LEN);
	if ((rc = packw_write(w, tr.data, tr.len)) != 0 ||
	    (rc = packw_write(w, tail, sizeof(tail))) != 0)
		goto out;
	if ((rc = bwcrypto_sha_final(w->h, id)) != 0 || (rc = fsio_sync(w->f)) != 0)
		goto out;
	rc = fsio_close(w->f);
	w->f = NULL;
	if (rc) {
		log_error("repository %s: closing %s failed", r->path, w->tmp);
		fsio_unlink(w->tmp);
		goto out;
	}
	if ((dst = repo_pack_path(r, id)) == NULL || (data = repo_join(r->path, "data")) == NULL) {
		rc = BW_ERR_NOMEM;
		fsio_unlink(w->tmp);
		goto out;
	}
	ddir = strndup(dst, strlen(dst) - 2 * OBJ_ID_LEN - 1);
	if (!ddir) {
		rc = BW_ERR_NOMEM;
		fsio_unlink(w->tmp);
		goto out;
	}
	if ((rc = fsio_rename(w->tmp, dst)) != 0) {
		fsio_unlink(w->tmp);
		goto out;
	}
	/* The pack's entry must be durable before an index names it. */
	if ((rc = fsio_sync_dir(ddir)) != 0 || (rc = fsio_sync_dir(data)) != 0)
		goto out;
	if ((rc = repo_index_write(r, id, w->d, w->n)) != 0)
		goto out;
	pthread_mutex_lock(&r->mu);
	rc = repo_index_add_pack(r, id, w->d, w->n);
	pthread_mutex_unlock(&r->mu);
out:
	buf_free(&dir);
	buf_free(&tr);
	free(dst);
	free(ddir);
	free(data);
	repo_packw_abort(w);
	return rc;
}

int
repo_pread(int fd, const char *path, void *p, size_t n, uint64_t off)
{
	uint8_t *b = p;
	ssize_t got;

	while (n) {
		got = pread(fd, b, n, (off_t)off);
		if (got < 0 && errno == EINTR)
			continue;
		if (got < 0) {
			log_error("%s: read failed: %s", path, strerror(errno));
			return BW_ERR_IO;
		}
		if (got == 0)
			return BW_ERR_CORRUPT;	/* truncated */
		b += got;
		n -= (size_t)got;
		off += (uint64_t)got;
	}
	return 0;
}

int
repo_parse_pack_header(const uint8_t *p, size_t n, uint8_t e_pk[static BWC_BOX_PK])
{
	struct bufr r;
	const uint8_t *m;

	bufr_init(&r, p, n);
	m = bufr_get(&r, REPO_MAGIC_LEN);
	if (!m || memcmp(m, REPO_PACK_MAGIC, REPO_MAGIC_LEN) != 0)
		return BW_ERR_CORRUPT;
	if (bufr_u32(&r) != REPO_FORMAT_VERSION)
		return r.err ? BW_ERR_CORRUPT : BW_ERR_VERSION;
	bufr_copy(&r, e_pk, BWC_BOX_PK);
	return bufr_done(&r);
}

int
repo_parse_pack_tail(const uint8_t *p, size_t n, uint32_t *trailer_len)
{
	struct bufr r;
	const uint8_t *m;

	bufr_init(&r, p, n);
	*trailer_len = bufr_u32(&r);
	m = bufr_get(&r, REPO_MAGIC_LEN);
	if (!m || memcmp(m, REPO_PACKEND_MAGIC, REPO_MAGIC_LEN) != 0)
		return BW_ERR_CORRUPT;
	if (*trailer_len < BWC_AEAD_OVERHEAD + 4)
		return BW_ERR_CORRUPT;
	return bufr_done(&r);
}

static int
parse_entries(struct bufr *r, uint32_t count, uint64_t data_end, struct repo_dirent **out,
    size_t *n)
{
	struct repo_dirent *d = NULL;
	uint64_t next = REPO_PACK_HDR;
	uint32_t i;

	*out = NULL;
	*n = 0;
	if (r->err || (uint64_t)count * REPO_DIRENT_LEN != bufr_left(r))
		return BW_ERR_CORRUPT;
	if (count && (d = calloc(count, sizeof(*d))) == NULL)
		return BW_ERR_NOMEM;
	for (i = 0; i < count; i++) {
		bufr_copy(r, d[i].id, OBJ_ID_LEN);
		d[i].type = bufr_u8(r);
		d[i].offset = bufr_u64(r);
		d[i].length = bufr_u32(r);
		d[i].plain = bufr_u32(r);
		if (d[i].type < OBJ_DATA || d[i].type > OBJ_DELTA || d[i].offset != next ||
		    d[i].length < BWC_AEAD_OVERHEAD + 1 || d[i].length > REPO_MAX_BLOB ||
		    d[i].plain > REPO_MAX_OBJECT)
			bufr_fail(r);
		next = d[i].offset + d[i].length;
	}
	if (!r->err && data_end && next != data_end)
		bufr_fail(r);
	if (bufr_done(r)) {
		free(d);
		return BW_ERR_CORRUPT;
	}
	*out = d;
	*n = count;
	return 0;
}

int
repo_parse_directory(const uint8_t *p, size_t n, uint64_t data_end,
    struct repo_dirent **out, size_t *count)
{
	struct bufr r;
	uint32_t c;

	bufr_init(&r, p, n);
	c = bufr_u32(&r);
	return parse_entries(&r, c, data_end, out, count);
}

int
repo_parse_index_body(const uint8_t *p, size_t n, uint8_t pack_id[static OBJ_ID_LEN],
    struct repo_dirent **out, size_t *count)
{
	struct bufr r;
	uint32_t c;

	bufr_init(&r, p, n);
	bufr_copy(&r, pack_id, OBJ_ID_LEN);
	c = bufr_u32(&r);
	return parse_entries(&r, c, 0, out, count);
}

int
repo_pack_key_fd(struct repo *r, int fd, const char *path, uint8_t key[static BWC_KEY])
{
	uint8_t hdr[REPO_PACK_HDR], e_pk[BWC_BOX_PK];
	int rc;

	if ((rc = repo_pread(fd, path, hdr, sizeof(hdr), 0)) != 0)
		return rc == BW_ERR_CORRUPT ? BW_ERR_CORRUPT : rc;
	if ((rc = repo_parse_pack_header(hdr, sizeof(hdr), e_pk)) != 0)
		return rc;
	return bwcrypto_session_open(key, e_pk, r->k->read_sk, r->k->read_pk);
}

int
repo_pack_key(struct repo *r, uint32_t pack, uint8_t key[static BWC_KEY])
{
	char *path;
	int fd, rc;
	unsigned i;

	pthread_mutex_lock(&r->mu);
	for (i = 0; i < 4; i++) {
		if (r->kc[i].valid && r->kc[i].pack == pack) {
			memcpy(key, r->kc[i].key, BWC_KEY);
			pthread_mutex_unlock(&r->mu);
			return 0;
		}
	}
	path = repo_pack_path(r, r->packs[pack]);
	pthread_mutex_unlock(&r->mu);
	if (!path)
		return BW_ERR_NOMEM;
	if ((fd = open(path, O_RDONLY | O_CLOEXEC)) < 0) {
		rc = errno == ENOENT ? BW_ERR_NOENT : BW_ERR_IO;
		log_error("repository %s: pack %s: %s; run 'bulwark check'", r->path, path,
		    strerror(errno));
		free(path);
		return rc;
	}
	rc = repo_pack_key_fd(r, fd, path, key);
	close(fd);
	if (rc) {
		log_error("repository %s: pack %s: header is damaged; run 'bulwark check --read-data'",
		    r->path, path);
	} else {
		pthread_mutex_lock(&r->mu);
		i = r->kc_next++ % 4;
		r->kc[i].valid = 1;
		r->kc[i].pack = pack;
		memcpy(r->kc[i].key, key, BWC_KEY);
		pthread_mutex_unlock(&r->mu);
	}
	free(path);
	return rc;
}

int
repo_pack_read_dir(struct repo *r, int fd, const char *path, uint64_t size,
    const uint8_t key[static BWC_KEY], struct repo_dirent **out, size_t *count)
{
	uint8_t tail[REPO_PACK_TAIL], ad[4 + REPO_PACK_HDR], *tr = NULL;
	uint32_t tlen;
	uint64_t data_end;
	struct buf dir = { 0 };
	int rc;

	*out = NULL;
	*count = 0;
	if (size < REPO_PACK_HDR + REPO_PACK_TAIL)
		return BW_ERR_CORRUPT;
	if ((rc = repo_pread(fd, path, tail, sizeof(tail), size - sizeof(tail))) != 0)
		return rc;
	if ((rc = repo_parse_pack_tail(tail, sizeof(tail), &tlen)) != 0)
		return rc;
	if (tlen > size - REPO_PACK_HDR - REPO_PACK_TAIL)
		return BW_ERR_CORRUPT;
	data_end = size - REPO_PACK_TAIL - tlen;
	memcpy(ad, "BWPT", 4);
	if ((rc = repo_pread(fd, path, ad + 4, REPO_PACK_HDR, 0)) != 0)
		return rc;
	if ((tr = malloc(tlen)) == NULL)
		return BW_ERR_NOMEM;
	if ((rc = repo_pread(fd, path, tr, tlen, data_end)) != 0)
		goto out;
	if ((rc = bwcrypto_aead_open(&dir, key, ad, sizeof(ad), tr, tlen)) != 0)
		goto out;
	rc = repo_parse_directory(dir.data, dir.len, data_end, out, count);
out:
	free(tr);
	buf_free(&dir);
	return rc;
}
