#include "config.h"

#include <dirent.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>

#include "lib/chunk/cdc.h"
#include "lib/crypto/bwcrypto.h"
#include "lib/repo/repo.h"
#include "lib/repo/repo_internal.h"
#include "lib/util/err.h"
#include "lib/util/fsio.h"
#include "lib/util/log.h"

/*
 * The config file (docs/FORMAT.md, "config"):
 *
 *   magic "BWREPO\0\0" | u32 version | repo_id[16] | i64 created |
 *   u32 chunk_min | u32 chunk_avg | u32 chunk_max | i32 zstd_level |
 *   read_pk[32] | write_pk[32] | admin_pk[32] | sig[64]
 *
 * It is trusted only after it verifies with the admin_pk of an unlocked slot
 * and carries that slot's repo_id.
 */

static const char *const subdirs[] = { "keys", "data", "index", "snapshots", "locks" };

char *
repo_join(const char *a, const char *b)
{
	size_t la = strlen(a), lb = strlen(b);
	char *p = malloc(la + lb + 2);

	if (!p)
		return NULL;
	memcpy(p, a, la);
	p[la] = '/';
	memcpy(p + la + 1, b, lb + 1);
	return p;
}

char *
repo_pack_path(const struct repo *r, const uint8_t id[static OBJ_ID_LEN])
{
	char hex[2 * OBJ_ID_LEN + 1], rel[2 * OBJ_ID_LEN + 16];

	hex_encode(hex, id, OBJ_ID_LEN);
	snprintf(rel, sizeof(rel), "data/%.2s/%s", hex, hex);
	return repo_join(r->path, rel);
}

char *
repo_index_path(const struct repo *r, const uint8_t id[static OBJ_ID_LEN])
{
	char hex[2 * OBJ_ID_LEN + 1], rel[2 * OBJ_ID_LEN + 16];

	hex_encode(hex, id, OBJ_ID_LEN);
	snprintf(rel, sizeof(rel), "index/%s", hex);
	return repo_join(r->path, rel);
}

static int
is_hex_name(const char *s, size_t n)
{
	size_t i;

	for (i = 0; i < n; i++)
		if (!((s[i] >= '0' && s[i] <= '9') || (s[i] >= 'a' && s[i] <= 'f')))
			return 0;
	return s[n] == 0;
}

static int
cmpstr(const void *a, const void *b)
{
	return strcmp(*(char *const *)a, *(char *const *)b);
}

int
repo_list_hex(const char *dir, size_t hexlen, char ***out, size_t *n)
{
	DIR *d;
	struct dirent *e;
	char **v = NULL, **nv;
	size_t cnt = 0, cap = 0;

	*out = NULL;
	*n = 0;
	if ((d = opendir(dir)) == NULL) {
		if (errno == ENOENT)
			return BW_ERR_NOENT;
		log_error("%s: cannot list: %s", dir, strerror(errno));
		return bw_err_from_errno(errno);
	}
	while ((e = readdir(d)) != NULL) {
		if (!is_hex_name(e->d_name, hexlen))
			continue;
		if (cnt == cap) {
			cap = cap ? cap * 2 : 16;
			if ((nv = realloc(v, cap * sizeof(*v))) == NULL)
				goto nomem;
			v = nv;
		}
		if ((v[cnt] = strdup(e->d_name)) == NULL)
			goto nomem;
		cnt++;
	}
	closedir(d);
	if (cnt)
		qsort(v, cnt, sizeof(*v), cmpstr);
	*out = v;
	*n = cnt;
	return 0;
nomem:
	closedir(d);
	repo_list_free(v, cnt);
	return BW_ERR_NOMEM;
}

void
repo_list_free(char **v, size_t n)
{
	size_t i;

	if (!v)
		return;
	for (i = 0; i < n; i++)
		free(v[i]);
	free(v);
}

int
repo_need(const struct repo *r, unsigned cap, const char *what)
{
	if ((r->k->caps & cap) == cap)
		return 0;
	log_error("repository %s: this key cannot %s (it lacks the %s capability); use a key "
	    "that has it", r->path, what,
	    cap & REPO_CAP_ADMIN ? "admin" : cap & REPO_CAP_READ ? "read" : "write");
	return BW_ERR_PERM;
}

int
repo_parse_config(const uint8_t *p, size_t n, struct repo_config *c)
{
	struct bufr r;
	const uint8_t *m;

	memset(c, 0, sizeof(*c));
	bufr_init(&r, p, n);
	m = bufr_get(&r, REPO_MAGIC_LEN);
	if (!m || memcmp(m, REPO_CONFIG_MAGIC, REPO_MAGIC_LEN) != 0)
		return BW_ERR_NOTREPO;
	c->version = bufr_u32(&r);
	if (r.err)
		return BW_ERR_CORRUPT;
	if (c->version != REPO_FORMAT_VERSION)
		return BW_ERR_VERSION;
	bufr_copy(&r, c->repo_id, REPO_ID_LEN);
	c->created = bufr_i64(&r);
	c->chunk_min = bufr_u32(&r);
	c->chunk_avg = bufr_u32(&r);
	c->chunk_max = bufr_u32(&r);
	c->zstd_level = (int32_t)bufr_u32(&r);
	bufr_copy(&r, c->read_pk, BWC_BOX_PK);
	bufr_copy(&r, c->write_pk, BWC_SIGN_PK);
	bufr_copy(&r, c->admin_pk, BWC_SIGN_PK);
	c->signed_len = r.off;
	bufr_copy(&r, c->sig, BWC_SIG);
	if (!r.err && (c->chunk_min == 0 || c->chunk_min >= c->chunk_avg ||
	    c->chunk_avg >= c->chunk_max || c->chunk_max > REPO_MAX_OBJECT ||
	    c->zstd_level < -7 || c->zstd_level > 22))
		bufr_fail(&r);
	return bufr_done(&r);
}

static int
config_build(struct buf *b, const struct repo_config *c, const uint8_t admin_sk[static BWC_SIGN_SK])
{
	uint8_t sig[BWC_SIG];

	buf_put(b, REPO_CONFIG_MAGIC, REPO_MAGIC_LEN);
	buf_put_u32(b, REPO_FORMAT_VERSION);
	buf_put(b, c->repo_id, REPO_ID_LEN);
	buf_put_i64(b, c->created);
	buf_put_u32(b, c->chunk_min);
	buf_put_u32(b, c->chunk_avg);
	buf_put_u32(b, c->chunk_max);
	buf_put_u32(b, (uint32_t)c->zstd_level);
	buf_put(b, c->read_pk, BWC_BOX_PK);
	buf_put(b, c->write_pk, BWC_SIGN_PK);
	buf_put(b, c->admin_pk, BWC_SIGN_PK);
	if (b->err)
		return b->err;
	bwcrypto_sign(sig, b->data, b->len, admin_sk);
	return buf_put(b, sig, BWC_SIG);
}

static int
dir_is_empty(const char *path)
{
	DIR *d = opendir(path);
	struct dirent *e;
	int empty = 1;

	if (!d)
		return 0;
	while ((e = readdir(d)) != NULL)
		if (strcmp(e->d_name, ".") && strcmp(e->d_name, ".."))
			empty = 0;
	closedir(d);
	return empty;
}

static char *
parent_dir(const char *path)
{
	const char *s = strrchr(path, '/');

	if (!s)
		return strdup(".");
	if (s == path)
		return strdup("/");
	return strndup(path, (size_t)(s - path));
}

static int
mkdir_in(const char *base, const char *rel)
{
	char *p = repo_join(base, rel);
	int rc;

	if (!p)
		return BW_ERR_NOMEM;
	rc = fsio_mkdir(p, 0700);
	free(p);
	return rc;
}

int
repo_init(const char *path, const char *slot_name, const char *pass, size_t passlen,
    const struct repo_kdf *kdf)
{
	struct repo_keys *k = NULL;
	struct repo_config c;
	struct buf cb = { 0 }, sb = { 0 };
	uint8_t slot[REPO_SLOT_LEN];
	char hex[2 * REPO_SLOT_LEN + 1], rel[64], *p = NULL, *parent = NULL;
	struct stat st;
	size_t i;
	int rc;

	if (stat(path, &st) == 0) {
		if (!S_ISDIR(st.st_mode) || !dir_is_empty(path)) {
			log_error("%s: exists and is not an empty directory; choose a new path for "
			    "the repository", path);
			return BW_ERR_EXIST;
		}
	} else if ((rc = fsio_mkdir(path, 0700)) != 0) {
		if (rc == BW_ERR_EXIST)
			log_error("%s: appeared while creating the repository", path);
		return rc;
	}
	if ((k = bwcrypto_secalloc(sizeof(*k))) == NULL)
		return BW_ERR_NOMEM;
	memset(k, 0, sizeof(*k));
	k->caps = REPO_CAP_ALL;
	bwcrypto_random(k->repo_id, REPO_ID_LEN);
	bwcrypto_random(k->id_key, BWC_KEY);
	bwcrypto_random(k->meta_key, BWC_KEY);
	bwcrypto_box_keypair(k->read_pk, k->read_sk);
	bwcrypto_sign_keypair(k->write_pk, k->write_sk);
	bwcrypto_sign_keypair(k->admin_pk, k->admin_sk);

	memset(&c, 0, sizeof(c));
	c.version = REPO_FORMAT_VERSION;
	memcpy(c.repo_id, k->repo_id, REPO_ID_LEN);
	c.created = (int64_t)time(NULL);
	c.chunk_min = CDC_MIN_DEFAULT;
	c.chunk_avg = CDC_AVG_DEFAULT;
	c.chunk_max = CDC_MAX_DEFAULT;
	c.zstd_level = REPO_ZSTD_LEVEL_DEFAULT;
	memcpy(c.read_pk, k->read_pk, BWC_BOX_PK);
	memcpy(c.write_pk, k->write_pk, BWC_SIGN_PK);
	memcpy(c.admin_pk, k->admin_pk, BWC_SIGN_PK);

	for (i = 0; i < sizeof(subdirs) / sizeof(subdirs[0]); i++)
		if ((rc = mkdir_in(path, subdirs[i])) != 0 && rc != BW_ERR_EXIST)
			goto out;
	/* All 256 fan-out directories up front: writing a pack then never
	 * creates a directory, which keeps the durable sequence short. */
	for (i = 0; i < 256; i++) {
		snprintf(rel, sizeof(rel), "data/%02x", (unsigned)i);
		if ((rc = mkdir_in(path, rel)) != 0 && rc != BW_ERR_EXIST)
			goto out;
	}
	if ((p = repo_join(path, "data")) == NULL) {
		rc = BW_ERR_NOMEM;
		goto out;
	}
	if ((rc = fsio_sync_dir(p)) != 0)
		goto out;

	bwcrypto_random(slot, sizeof(slot));
	hex_encode(hex, slot, sizeof(slot));
	if ((rc = repo_slot_build(&sb, k, slot, slot_name, REPO_CAP_ALL, c.created, pass, passlen,
	    kdf, k->admin_sk)) != 0)
		goto out;
	snprintf(rel, sizeof(rel), "keys/%s", hex);
	free(p);
	if ((p = repo_join(path, rel)) == NULL) {
		rc = BW_ERR_NOMEM;
		goto out;
	}
	if ((rc = fsio_write_atomic(p, sb.data, sb.len, 0600)) != 0)
		goto out;
	free(p);
	if ((p = repo_join(path, "generation")) == NULL) {
		rc = BW_ERR_NOMEM;
		goto out;
	}
	if ((rc = fsio_write_atomic(p, "0\n", 2, 0600)) != 0)
		goto out;
	/* The config last: a directory without it is not yet a repository. */
	if ((rc = config_build(&cb, &c, k->admin_sk)) != 0)
		goto out;
	free(p);
	if ((p = repo_join(path, "config")) == NULL) {
		rc = BW_ERR_NOMEM;
		goto out;
	}
	if ((rc = fsio_write_atomic(p, cb.data, cb.len, 0600)) != 0)
		goto out;
	if ((rc = fsio_sync_dir(path)) != 0)
		goto out;
	if ((parent = parent_dir(path)) == NULL) {
		rc = BW_ERR_NOMEM;
		goto out;
	}
	rc = fsio_sync_dir(parent);
out:
	bwcrypto_secfree(k);
	buf_free(&cb);
	buf_free(&sb);
	free(p);
	free(parent);
	return rc;
}

static int
read_config(const char *path, struct repo_config *c)
{
	char *cp = repo_join(path, "config");
	uint8_t *p = NULL;
	size_t n;
	int rc;

	if (!cp)
		return BW_ERR_NOMEM;
	rc = fsio_read_all(cp, 65536, &p, &n);
	if (rc == BW_ERR_NOENT) {
		log_error("%s is not a Bulwark repository (it has no config file); check the path, "
		    "or run 'bulwark init --repo %s' to create one", path, path);
		rc = BW_ERR_NOTREPO;
		goto out;
	}
	if (rc == BW_ERR_CORRUPT) {
		log_error("%s is not a Bulwark repository (its config file is too large)", path);
		rc = BW_ERR_NOTREPO;
		goto out;
	}
	if (rc)
		goto out;
	rc = repo_parse_config(p, n, c);
	if (rc == BW_ERR_NOTREPO)
		log_error("%s is not a Bulwark repository (its config file is something else); "
		    "check the path, or run 'bulwark init --repo DIR' to create one", path);
	else if (rc == BW_ERR_VERSION && c->version < REPO_FORMAT_VERSION)
		log_error("repository %s uses format version %u of a development release (before "
		    "0.1.0), which this Bulwark cannot read (it reads version %d): restore its data "
		    "with the Bulwark that wrote it and back up into a new repository",
		    path, c->version, REPO_FORMAT_VERSION);
	else if (rc == BW_ERR_VERSION)
		log_error("repository %s uses format version %u, but this Bulwark only reads version "
		    "%d; upgrade Bulwark to open it", path, c->version, REPO_FORMAT_VERSION);
	else if (rc)
		log_error("repository %s: config file is damaged; restore it from a replica or run "
		    "'bulwark check'", path);
out:
	free(cp);
	free(p);
	return rc;
}

int
repo_open(const char *path, const char *pass, size_t passlen, struct repo **out)
{
	struct repo *r = NULL;
	struct stat st;
	char **names = NULL, *dir = NULL, *sp = NULL;
	size_t nn = 0, i, n;
	uint8_t *p = NULL;
	int rc, damaged = 0;

	*out = NULL;
	if (stat(path, &st) != 0) {
		if (errno == ENOENT || errno == ENOTDIR) {
			log_error("repository %s does not exist; check the path, or run "
			    "'bulwark init --repo %s' to create one", path, path);
			return BW_ERR_NOENT;
		}
		log_error("repository %s: %s", path, strerror(errno));
		return bw_err_from_errno(errno);
	}
	if (!S_ISDIR(st.st_mode)) {
		log_error("%s is not a Bulwark repository (not a directory); check the path", path);
		return BW_ERR_NOTREPO;
	}
	if ((r = calloc(1, sizeof(*r))) == NULL)
		return BW_ERR_NOMEM;
	pthread_mutex_init(&r->mu, NULL);
	r->pack_target = REPO_PACK_TARGET_DEFAULT;
	if ((r->path = strdup(path)) == NULL || (r->k = bwcrypto_secalloc(sizeof(*r->k))) == NULL) {
		rc = BW_ERR_NOMEM;
		goto out;
	}
	memset(r->k, 0, sizeof(*r->k));
	if ((rc = read_config(path, &r->cfg)) != 0)
		goto out;
	if ((dir = repo_join(path, "keys")) == NULL) {
		rc = BW_ERR_NOMEM;
		goto out;
	}
	rc = repo_list_hex(dir, 2 * REPO_SLOT_LEN, &names, &nn);
	if (rc && rc != BW_ERR_NOENT)
		goto out;
	rc = BW_ERR_AUTH;
	for (i = 0; i < nn && rc == BW_ERR_AUTH; i++) {
		free(sp);
		free(p);
		p = NULL;
		if ((sp = repo_join(dir, names[i])) == NULL) {
			rc = BW_ERR_NOMEM;
			goto out;
		}
		if (fsio_read_all(sp, 65536, &p, &n) != 0) {
			damaged++;
			continue;
		}
		rc = repo_slot_unlock(p, n, pass, passlen, r->k);
		if (rc == BW_ERR_CORRUPT || rc == BW_ERR_VERSION) {
			log_warn("repository %s: key slot %s is damaged; skipping it", path, names[i]);
			damaged++;
			rc = BW_ERR_AUTH;
		} else if (rc == 0) {
			memcpy(r->slot, names[i], sizeof(r->slot));
		}
	}
	if (rc == BW_ERR_AUTH && (size_t)damaged == nn) {
		/* no passphrase can help: say so instead of blaming it */
		log_error("repository %s: %s; restore %s from a copy, or run 'bulwark key import "
		    "FILE' with the paper key", path, nn ? "every key slot is damaged" :
		    "has no key slot", dir);
		rc = BW_ERR_CORRUPT;
		goto out;
	}
	if (rc == BW_ERR_AUTH) {
		log_error("repository %s: no key slot accepts this passphrase (%zu slots tried%s); "
		    "check the passphrase", path, nn, damaged ? ", some damaged" : "");
		goto out;
	}
	if (rc)
		goto out;
	{
		char *cp = repo_join(path, "config");
		uint8_t *cfgb = NULL;
		size_t cn = 0;

		rc = cp ? fsio_read_all(cp, 65536, &cfgb, &cn) : BW_ERR_NOMEM;
		free(cp);
		if (rc == 0 && (cn < r->cfg.signed_len ||
		    bwcrypto_verify(r->cfg.sig, cfgb, r->cfg.signed_len, r->k->admin_pk) != 0 ||
		    !bwcrypto_memeq(r->cfg.repo_id, r->k->repo_id, REPO_ID_LEN) ||
		    !bwcrypto_memeq(r->cfg.admin_pk, r->k->admin_pk, BWC_SIGN_PK)))
			rc = BW_ERR_CORRUPT;
		free(cfgb);
		if (rc == BW_ERR_CORRUPT)
			log_error("repository %s: config does not verify with the key (damaged, "
			    "tampered, or a key of another repository); run 'bulwark check'", path);
		if (rc)
			goto out;
	}
	/* The public keys the slot holds must be the repository's. */
	if (!bwcrypto_memeq(r->cfg.read_pk, r->k->read_pk, BWC_BOX_PK) ||
	    !bwcrypto_memeq(r->cfg.write_pk, r->k->write_pk, BWC_SIGN_PK)) {
		log_error("repository %s: key slot %s does not match the config; run 'bulwark check'",
		    path, r->slot);
		rc = BW_ERR_CORRUPT;
		goto out;
	}
	*out = r;
	r = NULL;
out:
	repo_free(r);
	repo_list_free(names, nn);
	free(dir);
	free(sp);
	free(p);
	return rc;
}

void
repo_free(struct repo *r)
{
	if (!r)
		return;
	repo_lock_release(r);
	repo_index_drop(r);
	bwcrypto_wipe(r->kc, sizeof(r->kc));
	bwcrypto_secfree(r->k);
	pthread_mutex_destroy(&r->mu);
	free(r->path);
	free(r);
}

unsigned repo_caps(const struct repo *r) { return r->k->caps; }
const char *repo_path(const struct repo *r) { return r->path; }
const uint8_t *repo_id(const struct repo *r) { return r->k->repo_id; }
const uint8_t *repo_id_key(const struct repo *r) { return r->k->id_key; }
void repo_set_pack_target(struct repo *r, uint64_t bytes) { r->pack_target = bytes; }

void
repo_set_write_options(struct repo *r, int zstd_level, uint64_t pack_bytes)
{
	r->zstd_level = zstd_level;
	r->pack_target = pack_bytes ? pack_bytes : REPO_PACK_TARGET_DEFAULT;
}

void
repo_gear_seed(const struct repo *r, uint8_t seed[static 32])
{
	bwcrypto_kdf(seed, 32, r->k->id_key, "gear");
}

void
repo_chunk_params(const struct repo *r, uint32_t *min, uint32_t *avg, uint32_t *max)
{
	*min = r->cfg.chunk_min;
	*avg = r->cfg.chunk_avg;
	*max = r->cfg.chunk_max;
}

uint64_t
repo_generation(struct repo *r)
{
	char *p = repo_join(r->path, "generation");
	uint8_t *b = NULL;
	size_t n;
	uint64_t g = 0;
	char tmp[32];

	if (p && fsio_read_all(p, 31, &b, &n) == 0) {
		memcpy(tmp, b, n);
		tmp[n] = 0;
		g = strtoull(tmp, NULL, 10);
	}
	free(p);
	free(b);
	return g;
}

int
repo_object_id(const struct repo *r, enum obj_type type, const void *p, size_t n,
    uint8_t id[static OBJ_ID_LEN])
{
	int rc = repo_id_compute(r->k->id_key, type, p, n, id);

	if (rc == BW_ERR_NOMEM)
		log_error("repository %s: no memory to compute an object id", r->path);
	return rc;
}
