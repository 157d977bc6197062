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
 * Index files (docs/FORMAT.md, "Index"):
 *
 *   magic "BWINDEX\0" | u32 version |
 *   AEAD(meta_key, ad = "BWIX" || pack_id, pack_id | u32 count | entries)
 *
 * In memory, every object is one struct repo_entry in r->ent and one idset
 * slot mapping its id to that entry (about 80 bytes per object together).
 * A pack's objects are added only after its index file is durable.
 */

#define INDEX_HDR (REPO_MAGIC_LEN + 4)

static void
index_ad(uint8_t ad[4 + OBJ_ID_LEN], const uint8_t pack_id[static OBJ_ID_LEN])
{
	memcpy(ad, "BWIX", 4);
	memcpy(ad + 4, pack_id, OBJ_ID_LEN);
}

int
repo_index_write(struct repo *r, const uint8_t pack_id[static OBJ_ID_LEN],
    const struct repo_dirent *d, size_t n)
{
	struct buf body = { 0 }, file = { 0 };
	uint8_t ad[4 + OBJ_ID_LEN];
	char *path = NULL;
	size_t i;
	int rc;

	buf_put(&body, pack_id, OBJ_ID_LEN);
	buf_put_u32(&body, (uint32_t)n);
	for (i = 0; i < n; i++) {
		buf_put(&body, d[i].id, OBJ_ID_LEN);
		buf_put_u8(&body, d[i].type);
		buf_put_u64(&body, d[i].offset);
		buf_put_u32(&body, d[i].length);
		buf_put_u32(&body, d[i].plain);
	}
	buf_put(&file, REPO_INDEX_MAGIC, REPO_MAGIC_LEN);
	buf_put_u32(&file, REPO_FORMAT_VERSION);
	index_ad(ad, pack_id);
	if ((rc = body.err) != 0 || (rc = file.err) != 0 ||
	    (rc = bwcrypto_aead_seal(&file, r->k->meta_key, ad, sizeof(ad), body.data, body.len)) != 0)
		goto out;
	if ((path = repo_index_path(r, pack_id)) == NULL) {
		rc = BW_ERR_NOMEM;
		goto out;
	}
	rc = fsio_write_atomic(path, file.data, file.len, 0600);
out:
	buf_free(&body);
	buf_free(&file);
	free(path);
	return rc;
}

int
repo_index_read(struct repo *r, const char *hex, uint8_t pack_id[static OBJ_ID_LEN],
    struct repo_dirent **out, size_t *count)
{
	char rel[2 * OBJ_ID_LEN + 8], *path = NULL;
	uint8_t *p = NULL, name[OBJ_ID_LEN], ad[4 + OBJ_ID_LEN];
	size_t n;
	struct buf body = { 0 };
	struct bufr br;
	const uint8_t *m;
	int rc;

	*out = NULL;
	*count = 0;
	if (hex_decode(name, OBJ_ID_LEN, hex) != 0)
		return BW_ERR_INVAL;
	snprintf(rel, sizeof(rel), "index/%s", hex);
	if ((path = repo_join(r->path, rel)) == NULL)
		return BW_ERR_NOMEM;
	if ((rc = fsio_read_all(path, REPO_MAX_META, &p, &n)) != 0)
		goto out;
	bufr_init(&br, p, n);
	m = bufr_get(&br, REPO_MAGIC_LEN);
	if (!m || memcmp(m, REPO_INDEX_MAGIC, REPO_MAGIC_LEN) != 0 ||
	    bufr_u32(&br) != REPO_FORMAT_VERSION || br.err) {
		rc = BW_ERR_CORRUPT;
		goto out;
	}
	index_ad(ad, name);
	if ((rc = bwcrypto_aead_open(&body, r->k->meta_key, ad, sizeof(ad), p + INDEX_HDR,
	    n - INDEX_HDR)) != 0) {
		rc = BW_ERR_CORRUPT;
		goto out;
	}
	if ((rc = repo_parse_index_body(body.data, body.len, pack_id, out, count)) != 0)
		goto out;
	if (memcmp(pack_id, name, OBJ_ID_LEN) != 0) {
		free(*out);
		*out = NULL;
		*count = 0;
		rc = BW_ERR_CORRUPT;
	}
out:
	free(path);
	free(p);
	buf_free(&body);
	return rc;
}

/* Caller holds r->mu. */
int
repo_index_add_pack(struct repo *r, const uint8_t pack_id[static OBJ_ID_LEN],
    const struct repo_dirent *d, size_t n)
{
	size_t i;
	int rc;

	if (!r->idx && (r->idx = idset_new()) == NULL)
		return BW_ERR_NOMEM;
	if (r->npacks == r->cappacks) {
		size_t cap = r->cappacks ? r->cappacks * 2 : 64;
		void *np = realloc(r->packs, cap * sizeof(*r->packs));

		if (!np)
			return BW_ERR_NOMEM;
		r->packs = np;
		r->cappacks = cap;
	}
	if (r->nent + n > r->capent) {
		size_t cap = r->capent ? r->capent : 1024;
		void *ne;

		while (cap < r->nent + n)
			cap *= 2;
		if ((ne = realloc(r->ent, cap * sizeof(*r->ent))) == NULL)
			return BW_ERR_NOMEM;
		r->ent = ne;
		r->capent = cap;
	}
	memcpy(r->packs[r->npacks], pack_id, OBJ_ID_LEN);
	for (i = 0; i < n; i++) {
		struct repo_entry *e = &r->ent[r->nent];

		e->pack = (uint32_t)r->npacks;
		e->type = d[i].type;
		e->offset = d[i].offset;
		e->length = d[i].length;
		e->plain = d[i].plain;
		/* The first copy of a duplicated object wins; prune drops the rest. */
		if (!idset_get(r->idx, d[i].id, NULL) &&
		    (rc = idset_put(r->idx, d[i].id, r->nent, NULL)) != 0)
			return rc;
		r->nent++;
	}
	r->npacks++;
	return 0;
}

void
repo_index_drop(struct repo *r)
{
	idset_free(r->idx);
	r->idx = NULL;
	free(r->ent);
	r->ent = NULL;
	r->nent = r->capent = 0;
	free(r->packs);
	r->packs = NULL;
	r->npacks = r->cappacks = 0;
	r->index_loaded = 0;
	memset(r->kc, 0, sizeof(r->kc));
	/* pack numbers change with the index; no repo_get runs meanwhile */
	for (size_t i = 0; i < sizeof(r->pf) / sizeof(r->pf[0]); i++)
		if (r->pf[i].fd1)
			close(r->pf[i].fd1 - 1);
	memset(r->pf, 0, sizeof(r->pf));
}

/* An open descriptor of pack number pack (path), shared through r->pf
 * when a slot is free: *slot is its slot, or -1 when the caller owns the
 * descriptor.  Release with pack_fd_put.  -1 with errno on failure. */
static int
pack_fd_get(struct repo *r, uint32_t pack, const char *path, int *slot)
{
	const size_t n = sizeof(r->pf) / sizeof(r->pf[0]);
	size_t i, pick = n;
	int fd;

	*slot = -1;
	pthread_mutex_lock(&r->mu);
	for (i = 0; i < n; i++)
		if (r->pf[i].fd1 && r->pf[i].pack == pack) {
			r->pf[i].users++;
			r->pf[i].used = ++r->pf_clock;
			*slot = (int)i;
			fd = r->pf[i].fd1 - 1;
			pthread_mutex_unlock(&r->mu);
			return fd;
		}
	pthread_mutex_unlock(&r->mu);
	if ((fd = open(path, O_RDONLY | O_CLOEXEC)) < 0)
		return -1;
	pthread_mutex_lock(&r->mu);
	/* a free slot, else the least recently used one nobody reads */
	for (i = 0; i < n; i++) {
		if (r->pf[i].users)
			continue;
		if (!r->pf[i].fd1) {
			pick = i;
			break;
		}
		if (pick == n || r->pf[i].used < r->pf[pick].used)
			pick = i;
	}
	if (pick < n) {
		if (r->pf[pick].fd1)
			close(r->pf[pick].fd1 - 1);
		r->pf[pick].pack = pack;
		r->pf[pick].fd1 = fd + 1;
		r->pf[pick].users = 1;
		r->pf[pick].used = ++r->pf_clock;
		*slot = (int)pick;
	}
	pthread_mutex_unlock(&r->mu);
	return fd;
}

static void
pack_fd_put(struct repo *r, int fd, int slot)
{
	if (slot < 0) {
		close(fd);
		return;
	}
	pthread_mutex_lock(&r->mu);
	r->pf[slot].users--;
	pthread_mutex_unlock(&r->mu);
}

int
repo_load_index(struct repo *r)
{
	char **names = NULL, *dir = NULL;
	size_t nn = 0, i, cnt;
	struct repo_dirent *d;
	uint8_t pack_id[OBJ_ID_LEN];
	int rc = 0;

	pthread_mutex_lock(&r->mu);
	if (r->index_loaded)
		goto out;
	repo_index_drop(r);
	if ((r->idx = idset_new()) == NULL || (dir = repo_join(r->path, "index")) == NULL) {
		rc = BW_ERR_NOMEM;
		goto out;
	}
	if ((rc = repo_list_hex(dir, 2 * OBJ_ID_LEN, &names, &nn)) != 0)
		goto out;
	for (i = 0; i < nn; i++) {
		rc = repo_index_read(r, names[i], pack_id, &d, &cnt);
		if (rc == BW_ERR_NOENT || rc == BW_ERR_CORRUPT) {
			/* Its objects are simply unknown: a writer stores them again. */
			if (rc == BW_ERR_CORRUPT)
				log_error("repository %s: index file %s is damaged; its objects are "
				    "ignored; run 'bulwark check --read-data'", r->path, names[i]);
			rc = 0;
			continue;
		}
		if (rc)
			goto out;
		rc = repo_index_add_pack(r, pack_id, d, cnt);
		free(d);
		if (rc)
			goto out;
	}
	r->index_loaded = 1;
out:
	pthread_mutex_unlock(&r->mu);
	repo_list_free(names, nn);
	free(dir);
	return rc;
}

int
repo_has(struct repo *r, const uint8_t id[static OBJ_ID_LEN])
{
	int has;

	if (repo_load_index(r) != 0)
		return 0;
	pthread_mutex_lock(&r->mu);
	has = idset_get(r->idx, id, NULL);
	pthread_mutex_unlock(&r->mu);
	return has;
}

int
repo_get(struct repo *r, enum obj_type type, const uint8_t id[static OBJ_ID_LEN],
    struct buf *out)
{
	char hex[2 * OBJ_ID_LEN + 1], phex[2 * OBJ_ID_LEN + 1], *path = NULL;
	uint8_t key[BWC_KEY], *blob = NULL;
	struct repo_entry e;
	uint64_t v;
	int fd = -1, slot = -1, rc;

	if ((rc = repo_need(r, REPO_CAP_READ, "decrypt stored objects")) != 0)
		return rc;
	if ((rc = repo_load_index(r)) != 0)
		return rc;
	hex_encode(hex, id, OBJ_ID_LEN);
	pthread_mutex_lock(&r->mu);
	if (!idset_get(r->idx, id, &v)) {
		pthread_mutex_unlock(&r->mu);
		log_error("repository %s: object %s is missing (not in any index); run "
		    "'bulwark check'", r->path, hex);
		return BW_ERR_NOENT;
	}
	e = r->ent[v];
	hex_encode(phex, r->packs[e.pack], OBJ_ID_LEN);
	path = repo_pack_path(r, r->packs[e.pack]);
	pthread_mutex_unlock(&r->mu);
	if (!path)
		return BW_ERR_NOMEM;
	if (e.type != type) {
		log_error("repository %s: object %s has type %u, expected %u", r->path, hex,
		    e.type, (unsigned)type);
		rc = BW_ERR_NOENT;
		goto out;
	}
	if ((rc = repo_pack_key(r, e.pack, key)) != 0)
		goto out;
	if ((fd = pack_fd_get(r, e.pack, path, &slot)) < 0) {
		rc = errno == ENOENT ? BW_ERR_NOENT : BW_ERR_IO;
		log_error("repository %s: object %s: pack %s: %s; run 'bulwark check'", r->path, hex,
		    phex, strerror(errno));
		goto out;
	}
	if ((blob = malloc(e.length)) == NULL) {
		rc = BW_ERR_NOMEM;
		goto out;
	}
	if ((rc = repo_pread(fd, path, blob, e.length, e.offset)) != 0) {
		if (rc == BW_ERR_CORRUPT)
			log_error("repository %s: object %s: pack %s is truncated; run "
			    "'bulwark check --read-data'", r->path, hex, phex);
		goto out;
	}
	rc = repo_blob_open(out, r->k, key, type, id, blob, e.length);
	if (rc == BW_ERR_AUTH || rc == BW_ERR_CORRUPT)
		log_error("repository %s: object %s in pack %s: %s (damaged or wrong key); run "
		    "'bulwark check --read-data'", r->path, hex, phex,
		    rc == BW_ERR_AUTH ? "authentication failed" : "content does not match its id");
out:
	bwcrypto_wipe(key, sizeof(key));
	if (fd >= 0)
		pack_fd_put(r, fd, slot);
	free(blob);
	free(path);
	return rc;
}
