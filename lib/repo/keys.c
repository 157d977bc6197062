#include "config.h"

#include <dirent.h>
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "lib/crypto/bwcrypto.h"
#include "lib/repo/repo.h"
#include "lib/repo/repo_internal.h"
#include "lib/util/err.h"
#include "lib/util/fsio.h"
#include "lib/util/log.h"

/*
 * Key slots (docs/FORMAT.md, "Key slots"):
 *
 *   magic "BWKEY\0\0\0" | u32 version | slot[8] | str name | u8 caps |
 *   i64 created | u8 kdf | u64 ops | u64 mem | salt[16] |
 *   str sealed = AEAD(Argon2id(pass), ad = bytes before this str, material) |
 *   sig[64] = Ed25519(admin_sk, every byte before it)
 *
 * The slot signature can only be checked once some slot has been unlocked
 * (admin_pk is trusted only from unlocked material), so repo_open unlocks
 * first and verifies right after.
 */

#define KDF_ARGON2ID 1
#define MATERIAL_LEN (2 + REPO_ID_LEN + 2 * BWC_KEY + BWC_BOX_PK + BWC_BOX_SK + \
    2 * (BWC_SIGN_PK + BWC_SIGN_SK))
#define MAX_NAME 256
#define MAX_OPS 64
#define MAX_MEM (4ULL << 30)
#define PAPER_LINE 48

int
repo_parse_slot(const uint8_t *p, size_t n, struct repo_slot *s)
{
	struct bufr r;
	const uint8_t *m;
	uint32_t version;

	memset(s, 0, sizeof(*s));
	bufr_init(&r, p, n);
	m = bufr_get(&r, REPO_MAGIC_LEN);
	if (!m || memcmp(m, REPO_KEY_MAGIC, REPO_MAGIC_LEN) != 0)
		return BW_ERR_CORRUPT;
	version = bufr_u32(&r);
	if (!r.err && version != 1)
		return BW_ERR_VERSION;
	bufr_copy(&r, s->slot, REPO_SLOT_LEN);
	s->name = bufr_strdup(&r, MAX_NAME);
	s->caps = bufr_u8(&r);
	s->created = bufr_i64(&r);
	if (bufr_u8(&r) != KDF_ARGON2ID)
		bufr_fail(&r);
	s->ops = bufr_u64(&r);
	s->mem = bufr_u64(&r);
	bufr_copy(&r, s->salt, BWC_SALT);
	s->ad_len = r.off;
	s->sealed = bufr_str(&r, 4096, &s->sealed_len);
	s->signed_len = r.off;
	s->sig = bufr_get(&r, BWC_SIG);
	if (!r.err && (s->caps == 0 || s->caps & ~REPO_CAP_ALL ||
	    s->ops < BWC_PWHASH_OPS_MIN || s->ops > MAX_OPS ||
	    s->mem < BWC_PWHASH_MEM_MIN || s->mem > MAX_MEM))
		bufr_fail(&r);
	if (bufr_done(&r)) {
		repo_slot_clear(s);
		return BW_ERR_CORRUPT;
	}
	return 0;
}

void
repo_slot_clear(struct repo_slot *s)
{
	free(s->name);
	s->name = NULL;
}

int
repo_parse_material(const uint8_t *p, size_t n, struct repo_keys *k)
{
	struct bufr r;

	bufr_init(&r, p, n);
	if (bufr_u8(&r) != 1)
		bufr_fail(&r);
	k->caps = bufr_u8(&r);
	bufr_copy(&r, k->repo_id, REPO_ID_LEN);
	bufr_copy(&r, k->id_key, BWC_KEY);
	bufr_copy(&r, k->meta_key, BWC_KEY);
	bufr_copy(&r, k->read_pk, BWC_BOX_PK);
	bufr_copy(&r, k->read_sk, BWC_BOX_SK);
	bufr_copy(&r, k->write_pk, BWC_SIGN_PK);
	bufr_copy(&r, k->write_sk, BWC_SIGN_SK);
	bufr_copy(&r, k->admin_pk, BWC_SIGN_PK);
	bufr_copy(&r, k->admin_sk, BWC_SIGN_SK);
	if (!r.err && (k->caps == 0 || k->caps & ~REPO_CAP_ALL))
		bufr_fail(&r);
	return bufr_done(&r);
}

static int
material_build(struct buf *b, const struct repo_keys *k, unsigned caps)
{
	static const uint8_t zero[BWC_SIGN_SK];

	buf_put_u8(b, 1);
	buf_put_u8(b, (uint8_t)caps);
	buf_put(b, k->repo_id, REPO_ID_LEN);
	buf_put(b, k->id_key, BWC_KEY);
	buf_put(b, k->meta_key, BWC_KEY);
	buf_put(b, k->read_pk, BWC_BOX_PK);
	buf_put(b, caps & REPO_CAP_READ ? k->read_sk : zero, BWC_BOX_SK);
	buf_put(b, k->write_pk, BWC_SIGN_PK);
	buf_put(b, caps & REPO_CAP_WRITE ? k->write_sk : zero, BWC_SIGN_SK);
	buf_put(b, k->admin_pk, BWC_SIGN_PK);
	return buf_put(b, caps & REPO_CAP_ADMIN ? k->admin_sk : zero, BWC_SIGN_SK);
}

int
repo_slot_build(struct buf *out, const struct repo_keys *k, const uint8_t slot[REPO_SLOT_LEN],
    const char *name, unsigned caps, int64_t created, const char *pass, size_t passlen,
    const struct repo_kdf *kdf, const uint8_t admin_sk[static BWC_SIGN_SK])
{
	struct buf mat;
	uint8_t *K = NULL, salt[BWC_SALT], sig[BWC_SIG];
	uint64_t ops = BWC_PWHASH_OPS_DEFAULT, mem = BWC_PWHASH_MEM_DEFAULT;
	size_t adlen;
	struct buf sealed = { 0 };
	int rc;

	buf_init_secret(&mat);
	if (kdf && (kdf->ops || kdf->mem)) {
		ops = kdf->ops;
		mem = kdf->mem;
	}
	if ((K = bwcrypto_secalloc(BWC_KEY)) == NULL) {
		rc = BW_ERR_NOMEM;
		goto out;
	}
	bwcrypto_random(salt, sizeof(salt));
	if ((rc = bwcrypto_pwhash(K, pass, passlen, salt, ops, mem)) != 0) {
		log_error("key slot: cannot derive a key from the passphrase (out of memory?)");
		goto out;
	}
	buf_put(out, REPO_KEY_MAGIC, REPO_MAGIC_LEN);
	buf_put_u32(out, 1);
	buf_put(out, slot, REPO_SLOT_LEN);
	buf_put_cstr(out, name);
	buf_put_u8(out, (uint8_t)caps);
	buf_put_i64(out, created);
	buf_put_u8(out, KDF_ARGON2ID);
	buf_put_u64(out, ops);
	buf_put_u64(out, mem);
	buf_put(out, salt, BWC_SALT);
	adlen = out->len;
	if ((rc = material_build(&mat, k, caps)) != 0)
		goto out;
	if ((rc = bwcrypto_aead_seal(&sealed, K, out->data, adlen, mat.data, mat.len)) != 0)
		goto out;
	buf_put_str(out, sealed.data, sealed.len);
	if ((rc = out->err) != 0)
		goto out;
	bwcrypto_sign(sig, out->data, out->len, admin_sk);
	rc = buf_put(out, sig, BWC_SIG);
out:
	buf_free(&mat);
	buf_free(&sealed);
	bwcrypto_secfree(K);
	return rc;
}

int
repo_slot_unlock(const uint8_t *p, size_t n, const char *pass, size_t passlen,
    struct repo_keys *k)
{
	struct repo_slot s;
	struct buf mat;
	uint8_t *K = NULL;
	int rc;

	buf_init_secret(&mat);
	if ((rc = repo_parse_slot(p, n, &s)) != 0)
		return rc;
	if ((K = bwcrypto_secalloc(BWC_KEY)) == NULL) {
		rc = BW_ERR_NOMEM;
		goto out;
	}
	if ((rc = bwcrypto_pwhash(K, pass, passlen, s.salt, s.ops, s.mem)) != 0)
		goto out;
	if ((rc = bwcrypto_aead_open(&mat, K, p, s.ad_len, s.sealed, s.sealed_len)) != 0)
		goto out;
	if (repo_parse_material(mat.data, mat.len, k) != 0 || k->caps != s.caps) {
		rc = BW_ERR_CORRUPT;
		goto out;
	}
	rc = repo_slot_verify(p, n, k->admin_pk);
out:
	repo_slot_clear(&s);
	buf_free(&mat);
	bwcrypto_secfree(K);
	return rc;
}

int
repo_slot_verify(const uint8_t *p, size_t n, const uint8_t admin_pk[static BWC_SIGN_PK])
{
	struct repo_slot s;
	int rc;

	if ((rc = repo_parse_slot(p, n, &s)) != 0)
		return rc;
	rc = bwcrypto_verify(s.sig, p, s.signed_len, admin_pk) ? BW_ERR_CORRUPT : 0;
	repo_slot_clear(&s);
	return rc;
}

static char *
slot_path(const struct repo *r, const char *slot)
{
	char rel[64];

	snprintf(rel, sizeof(rel), "keys/%s", slot);
	return repo_join(r->path, rel);
}

static int
valid_slot_name(const char *slot)
{
	uint8_t b[REPO_SLOT_LEN];

	return slot && strlen(slot) == 2 * REPO_SLOT_LEN && hex_decode(b, REPO_SLOT_LEN, slot) == 0;
}

int
repo_key_add(struct repo *r, const char *name, unsigned caps, const char *pass,
    size_t passlen, const struct repo_kdf *kdf, char slot_out[static 17])
{
	uint8_t slot[REPO_SLOT_LEN];
	char hex[2 * REPO_SLOT_LEN + 1];
	struct buf b = { 0 };
	char *path = NULL;
	int rc;

	if ((rc = repo_need(r, REPO_CAP_ADMIN, "add keys")) != 0)
		return rc;
	if (caps == 0 || caps & ~r->k->caps) {
		log_error("repository %s: capabilities %#x are not a subset of this key's (%#x)",
		    r->path, caps, r->k->caps);
		return BW_ERR_INVAL;
	}
	bwcrypto_random(slot, sizeof(slot));
	hex_encode(hex, slot, sizeof(slot));
	if ((rc = repo_slot_build(&b, r->k, slot, name, caps, (int64_t)time(NULL), pass, passlen,
	    kdf, r->k->admin_sk)) != 0)
		goto out;
	if ((path = slot_path(r, hex)) == NULL) {
		rc = BW_ERR_NOMEM;
		goto out;
	}
	if ((rc = fsio_write_atomic(path, b.data, b.len, 0600)) != 0)
		goto out;
	memcpy(slot_out, hex, sizeof(hex));
out:
	buf_free(&b);
	free(path);
	return rc;
}

void
repo_keyinfo_free(struct repo_keyinfo *k, size_t n)
{
	size_t i;

	if (!k)
		return;
	for (i = 0; i < n; i++)
		free(k[i].name);
	free(k);
}

int
repo_key_list(struct repo *r, struct repo_keyinfo **out, size_t *n)
{
	char **names = NULL, *dir = NULL, *path = NULL;
	size_t nn = 0, i, m = 0;
	struct repo_keyinfo *v = NULL;
	uint8_t *p = NULL;
	size_t len;
	struct repo_slot s;
	int rc;

	*out = NULL;
	*n = 0;
	if ((dir = repo_join(r->path, "keys")) == NULL)
		return BW_ERR_NOMEM;
	if ((rc = repo_list_hex(dir, 2 * REPO_SLOT_LEN, &names, &nn)) != 0)
		goto out;
	if ((v = calloc(nn + 1, sizeof(*v))) == NULL) {
		rc = BW_ERR_NOMEM;
		goto out;
	}
	for (i = 0; i < nn; i++) {
		free(path);
		free(p);
		p = NULL;
		if ((path = repo_join(dir, names[i])) == NULL) {
			rc = BW_ERR_NOMEM;
			goto out;
		}
		if (fsio_read_all(path, 65536, &p, &len) != 0)
			continue;
		if (repo_parse_slot(p, len, &s) != 0 ||
		    bwcrypto_verify(s.sig, p, s.signed_len, r->k->admin_pk) != 0) {
			if (s.name)
				repo_slot_clear(&s);
			log_error("repository %s: key slot %s is damaged or not signed by this "
			    "repository's admin key; run 'bulwark check'", r->path, names[i]);
			continue;
		}
		memcpy(v[m].slot, names[i], sizeof(v[m].slot));
		v[m].name = s.name;
		v[m].caps = s.caps;
		v[m].created = s.created;
		v[m].current = strcmp(names[i], r->slot) == 0;
		m++;
	}
	*out = v;
	*n = m;
	v = NULL;
out:
	repo_keyinfo_free(v, m);
	repo_list_free(names, nn);
	free(dir);
	free(path);
	free(p);
	return rc;
}

int
repo_key_remove(struct repo *r, const char *slot)
{
	struct repo_keyinfo *v = NULL;
	size_t n = 0, i, admins = 0;
	int found = -1, rc;
	char *path = NULL, *dir = NULL;

	if ((rc = repo_need(r, REPO_CAP_ADMIN, "remove keys")) != 0)
		return rc;
	if (!valid_slot_name(slot)) {
		log_error("repository %s: '%s' is not a key slot (16 hex digits; see 'bulwark key list')",
		    r->path, slot ? slot : "");
		return BW_ERR_INVAL;
	}
	if ((rc = repo_key_list(r, &v, &n)) != 0)
		return rc;
	for (i = 0; i < n; i++) {
		if (v[i].caps & REPO_CAP_ADMIN)
			admins++;
		if (strcmp(v[i].slot, slot) == 0)
			found = (int)i;
	}
	if (found < 0) {
		log_error("repository %s: no key slot %s (see 'bulwark key list')", r->path, slot);
		rc = BW_ERR_NOENT;
		goto out;
	}
	if (v[found].caps & REPO_CAP_ADMIN && admins <= 1) {
		log_error("repository %s: refusing to remove key slot %s: it is the last admin key "
		    "(add another admin key first)", r->path, slot);
		rc = BW_ERR_PERM;
		goto out;
	}
	if ((path = slot_path(r, slot)) == NULL || (dir = repo_join(r->path, "keys")) == NULL) {
		rc = BW_ERR_NOMEM;
		goto out;
	}
	if ((rc = fsio_unlink(path)) != 0 || (rc = fsio_sync_dir(dir)) != 0)
		goto out;
	log_info("repository %s: removed key slot %s (%s)", r->path, slot, v[found].name);
out:
	repo_keyinfo_free(v, n);
	free(path);
	free(dir);
	return rc;
}

int
repo_key_passwd(struct repo *r, const char *pass, size_t passlen, const struct repo_kdf *kdf)
{
	char *path = NULL;
	uint8_t *p = NULL, slot[REPO_SLOT_LEN];
	size_t len;
	struct repo_slot s = { 0 };
	struct buf b = { 0 };
	int rc;

	/* The new file must carry the admin signature, so only an admin key can
	 * re-sign it. */
	if ((rc = repo_need(r, REPO_CAP_ADMIN, "change its passphrase (the slot must be re-signed)")) != 0)
		return rc;
	if ((path = slot_path(r, r->slot)) == NULL)
		return BW_ERR_NOMEM;
	if ((rc = fsio_read_all(path, 65536, &p, &len)) != 0) {
		if (rc == BW_ERR_NOENT)
			log_error("repository %s: key slot %s is gone", r->path, r->slot);
		goto out;
	}
	if ((rc = repo_parse_slot(p, len, &s)) != 0) {
		log_error("repository %s: key slot %s is damaged", r->path, r->slot);
		goto out;
	}
	hex_decode(slot, REPO_SLOT_LEN, r->slot);
	if ((rc = repo_slot_build(&b, r->k, slot, s.name, r->k->caps, s.created, pass, passlen,
	    kdf, r->k->admin_sk)) != 0)
		goto out;
	rc = fsio_write_atomic(path, b.data, b.len, 0600);
out:
	repo_slot_clear(&s);
	buf_free(&b);
	free(path);
	free(p);
	return rc;
}

/*
 * Paper form: the slot file in base64 lines of 48 bytes, each followed by a
 * space and the first 4 hex digits of H(the line's decoded bytes), so that a
 * mistyped line is found and named.
 */
int
repo_key_export(struct repo *r, const char *slot, FILE *f)
{
	char *path = NULL, b64[128], ck[2 * BWC_ID + 1];
	uint8_t *p = NULL, h[BWC_ID];
	size_t len, off, m;
	int rc;

	if ((rc = repo_need(r, REPO_CAP_ADMIN, "export keys")) != 0)
		return rc;
	if (slot == NULL)
		slot = r->slot;
	if (!valid_slot_name(slot)) {
		log_error("repository %s: '%s' is not a key slot (see 'bulwark key list')",
		    r->path, slot ? slot : "");
		return BW_ERR_INVAL;
	}
	if ((path = slot_path(r, slot)) == NULL)
		return BW_ERR_NOMEM;
	if ((rc = fsio_read_all(path, 65536, &p, &len)) != 0) {
		if (rc == BW_ERR_NOENT)
			log_error("repository %s: no key slot %s (see 'bulwark key list')", r->path, slot);
		goto out;
	}
	if ((rc = repo_slot_verify(p, len, r->k->admin_pk)) != 0) {
		log_error("repository %s: key slot %s is damaged; not exporting it", r->path, slot);
		goto out;
	}
	fprintf(f, "Bulwark key slot %s of repository %s.\n"
	    "Keep this page safe: with its passphrase it opens the repository.\n"
	    "To restore it, type the lines between BEGIN and END into a file and run\n"
	    "'bulwark key import --repo DIR FILE'.  The 4 hex digits after each line\n"
	    "are a checksum of that line.\n\n", slot, r->path);
	fprintf(f, "-----BEGIN BULWARK KEY %s-----\n", slot);
	for (off = 0; off < len; off += m) {
		m = len - off < PAPER_LINE ? len - off : PAPER_LINE;
		bwcrypto_b64_encode(b64, p + off, m);
		bwcrypto_hash_plain(h, p + off, m);
		hex_encode(ck, h, 2);
		fprintf(f, "%s %s\n", b64, ck);
	}
	fprintf(f, "-----END BULWARK KEY-----\n");
	if (fflush(f) != 0 || ferror(f)) {
		log_error("repository %s: cannot write the key export", r->path);
		rc = BW_ERR_IO;
	}
out:
	free(path);
	free(p);
	return rc;
}

int
repo_key_import(const char *path, FILE *f)
{
	char line[512], slot[2 * REPO_SLOT_LEN + 1] = "", *sp, rel[64], *dst = NULL;
	char ck[2 * BWC_ID + 1];
	uint8_t chunk[PAPER_LINE + 8], h[BWC_ID], sb[REPO_SLOT_LEN];
	struct buf b = { 0 };
	struct repo_slot s;
	size_t m;
	int state = 0, lineno = 0, rc = BW_ERR_INVAL;

	while (fgets(line, sizeof(line), f)) {
		lineno++;
		line[strcspn(line, "\r\n")] = 0;
		if (state == 0) {
			if (sscanf(line, "-----BEGIN BULWARK KEY %16[0-9a-f]-----", slot) == 1)
				state = 1;
			continue;
		}
		if (strcmp(line, "-----END BULWARK KEY-----") == 0) {
			state = 2;
			break;
		}
		if (line[0] == 0)
			continue;
		if ((sp = strrchr(line, ' ')) == NULL || strlen(sp + 1) != 4) {
			log_error("key import: line %d: expected base64 text, a space and 4 hex digits",
			    lineno);
			goto out;
		}
		*sp = 0;
		if (bwcrypto_b64_decode(chunk, sizeof(chunk), &m, line) != 0 || m == 0 ||
		    m > PAPER_LINE) {
			log_error("key import: line %d: not valid base64; check it against the paper",
			    lineno);
			goto out;
		}
		bwcrypto_hash_plain(h, chunk, m);
		hex_encode(ck, h, 2);
		if (strcmp(ck, sp + 1) != 0) {
			log_error("key import: line %d: checksum mismatch (%s, expected %s); check it "
			    "against the paper", lineno, sp + 1, ck);
			goto out;
		}
		if ((rc = buf_put(&b, chunk, m)) != 0)
			goto out;
		rc = BW_ERR_INVAL;
	}
	if (state != 2) {
		log_error("key import: no complete '-----BEGIN BULWARK KEY ...-----' ... "
		    "'-----END BULWARK KEY-----' block found");
		goto out;
	}
	if (repo_parse_slot(b.data, b.len, &s) != 0) {
		log_error("key import: the text decodes, but is not a Bulwark key slot");
		rc = BW_ERR_CORRUPT;
		goto out;
	}
	hex_decode(sb, REPO_SLOT_LEN, slot);
	rc = memcmp(sb, s.slot, REPO_SLOT_LEN) == 0 ? 0 : BW_ERR_CORRUPT;
	repo_slot_clear(&s);
	if (rc) {
		log_error("key import: slot name %s in the header does not match the key inside", slot);
		goto out;
	}
	snprintf(rel, sizeof(rel), "keys/%s", slot);
	if ((dst = repo_join(path, rel)) == NULL) {
		rc = BW_ERR_NOMEM;
		goto out;
	}
	rc = fsio_write_atomic(dst, b.data, b.len, 0600);
out:
	buf_free(&b);
	free(dst);
	return rc;
}
