#include "config.h"

#include <stdlib.h>
#include <string.h>

#include "lib/crypto/bwcrypto.h"
#include "lib/repo/repo.h"
#include "lib/repo/repo_internal.h"
#include "lib/util/err.h"
#include "lib/util/fsio.h"
#include "lib/util/log.h"

/*
 * Snapshot manifests (docs/FORMAT.md, "Snapshots"):
 *
 *   magic "BWSNAP\0\0" | u32 version | e_pk[32] |
 *   str AEAD(meta_key, "BWSS", summary) | str AEAD(session_key, "BWSB", body) |
 *   sig[64] = Ed25519(write_sk, every byte before it)
 *
 * The file name is H(file bytes).  A reader checks the name, then the
 * signature with the config's write_pk, then decrypts.
 */

#define MAX_STR 65536
#define SNAP_DIR "snapshots"

static void
free_strv(char **v, size_t n)
{
	size_t i;

	if (!v)
		return;
	for (i = 0; i < n; i++)
		free(v[i]);
	free(v);
}

void
snap_info_clear(struct snap_info *s)
{
	if (!s)
		return;
	free(s->host);
	free(s->user);
	free(s->set);
	free_strv(s->paths, s->npaths);
	free_strv(s->tags, s->ntags);
	free_strv(s->errors, s->nerrors_list);
	memset(s, 0, sizeof(*s));
}

void
snap_list_free(struct snap_info *s, size_t n)
{
	size_t i;

	if (!s)
		return;
	for (i = 0; i < n; i++)
		snap_info_clear(&s[i]);
	free(s);
}

static char **
read_strv(struct bufr *r, size_t *n)
{
	uint32_t c = bufr_u32(r), i;
	char **v;

	*n = 0;
	/* each str takes at least its 4-byte length */
	if (r->err || c > bufr_left(r) / 4) {
		bufr_fail(r);
		return NULL;
	}
	if ((v = calloc(c + 1, sizeof(*v))) == NULL) {
		bufr_fail(r);
		return NULL;
	}
	for (i = 0; i < c && !r->err; i++)
		v[i] = bufr_strdup(r, MAX_STR);
	if (r->err) {
		free_strv(v, c);
		return NULL;
	}
	*n = c;
	return v;
}

static void
put_strv(struct buf *b, char *const *v, size_t n)
{
	size_t i;

	buf_put_u32(b, (uint32_t)n);
	for (i = 0; i < n; i++)
		buf_put_cstr(b, v[i]);
}

int
repo_parse_summary(const uint8_t *p, size_t n, struct snap_info *s)
{
	struct bufr r;

	bufr_init(&r, p, n);
	if (bufr_u8(&r) != 1)
		bufr_fail(&r);
	s->time_ns = bufr_i64(&r);
	s->end_ns = bufr_i64(&r);
	s->host = bufr_strdup(&r, MAX_STR);
	s->user = bufr_strdup(&r, MAX_STR);
	s->set = bufr_strdup(&r, MAX_STR);
	if (s->set && !s->set[0]) {
		free(s->set);
		s->set = NULL;
	}
	s->paths = read_strv(&r, &s->npaths);
	s->tags = read_strv(&r, &s->ntags);
	bufr_copy(&r, s->parent, OBJ_ID_LEN);
	s->files = bufr_u64(&r);
	s->dirs = bufr_u64(&r);
	s->bytes = bufr_u64(&r);
	s->files_new = bufr_u64(&r);
	s->files_changed = bufr_u64(&r);
	s->files_unchanged = bufr_u64(&r);
	s->bytes_read = bufr_u64(&r);
	s->bytes_added = bufr_u64(&r);
	s->nerrors = bufr_u32(&r);
	if (bufr_done(&r)) {
		snap_info_clear(s);
		return BW_ERR_CORRUPT;
	}
	return 0;
}

int
repo_parse_body(const uint8_t *p, size_t n, struct snap_info *s)
{
	struct bufr r;

	bufr_init(&r, p, n);
	if (bufr_u8(&r) != 1)
		bufr_fail(&r);
	bufr_copy(&r, s->root, OBJ_ID_LEN);
	s->errors = read_strv(&r, &s->nerrors_list);
	if (bufr_done(&r)) {
		free_strv(s->errors, s->nerrors_list);
		s->errors = NULL;
		s->nerrors_list = 0;
		return BW_ERR_CORRUPT;
	}
	s->have_body = 1;
	return 0;
}

int
repo_parse_snapfile(const uint8_t *p, size_t n, struct repo_snapfile *f)
{
	struct bufr r;
	const uint8_t *m;

	bufr_init(&r, p, n);
	m = bufr_get(&r, REPO_MAGIC_LEN);
	if (!m || memcmp(m, REPO_SNAP_MAGIC, REPO_MAGIC_LEN) != 0)
		return BW_ERR_CORRUPT;
	if (bufr_u32(&r) != REPO_FORMAT_VERSION)
		return r.err ? BW_ERR_CORRUPT : BW_ERR_VERSION;
	bufr_copy(&r, f->e_pk, BWC_BOX_PK);
	f->summary = bufr_str(&r, REPO_MAX_META, &f->summary_len);
	f->body = bufr_str(&r, REPO_MAX_META, &f->body_len);
	f->signed_len = r.off;
	f->sig = bufr_get(&r, BWC_SIG);
	return bufr_done(&r);
}

int
repo_snap_write(struct repo *r, const uint8_t e_pk[static BWC_BOX_PK],
    const uint8_t key[static BWC_KEY], struct snap_info *s)
{
	struct buf sum = { 0 }, body = { 0 }, ss = { 0 }, sb = { 0 }, file = { 0 };
	uint8_t sig[BWC_SIG], id[OBJ_ID_LEN];
	char hex[2 * OBJ_ID_LEN + 1], rel[2 * OBJ_ID_LEN + 16], *path = NULL;
	int rc;

	buf_put_u8(&sum, 1);
	buf_put_i64(&sum, s->time_ns);
	buf_put_i64(&sum, s->end_ns);
	buf_put_cstr(&sum, s->host);
	buf_put_cstr(&sum, s->user);
	buf_put_cstr(&sum, s->set);
	put_strv(&sum, s->paths, s->npaths);
	put_strv(&sum, s->tags, s->ntags);
	buf_put(&sum, s->parent, OBJ_ID_LEN);
	buf_put_u64(&sum, s->files);
	buf_put_u64(&sum, s->dirs);
	buf_put_u64(&sum, s->bytes);
	buf_put_u64(&sum, s->files_new);
	buf_put_u64(&sum, s->files_changed);
	buf_put_u64(&sum, s->files_unchanged);
	buf_put_u64(&sum, s->bytes_read);
	buf_put_u64(&sum, s->bytes_added);
	buf_put_u32(&sum, s->nerrors);

	buf_put_u8(&body, 1);
	buf_put(&body, s->root, OBJ_ID_LEN);
	put_strv(&body, s->errors, s->nerrors_list);
	if ((rc = sum.err) != 0 || (rc = body.err) != 0)
		goto out;
	if ((rc = bwcrypto_aead_seal(&ss, r->k->meta_key, "BWSS", 4, sum.data, sum.len)) != 0 ||
	    (rc = bwcrypto_aead_seal(&sb, key, "BWSB", 4, body.data, body.len)) != 0)
		goto out;
	buf_put(&file, REPO_SNAP_MAGIC, REPO_MAGIC_LEN);
	buf_put_u32(&file, REPO_FORMAT_VERSION);
	buf_put(&file, e_pk, BWC_BOX_PK);
	buf_put_str(&file, ss.data, ss.len);
	buf_put_str(&file, sb.data, sb.len);
	if ((rc = file.err) != 0)
		goto out;
	bwcrypto_sign(sig, file.data, file.len, r->k->write_sk);
	if ((rc = buf_put(&file, sig, BWC_SIG)) != 0)
		goto out;
	bwcrypto_hash_plain(id, file.data, file.len);
	hex_encode(hex, id, OBJ_ID_LEN);
	snprintf(rel, sizeof(rel), SNAP_DIR "/%s", hex);
	if ((path = repo_join(r->path, rel)) == NULL) {
		rc = BW_ERR_NOMEM;
		goto out;
	}
	if ((rc = fsio_write_atomic(path, file.data, file.len, 0600)) != 0)
		goto out;
	memcpy(s->id, id, OBJ_ID_LEN);
out:
	buf_free(&sum);
	buf_free(&body);
	buf_free(&ss);
	buf_free(&sb);
	buf_free(&file);
	free(path);
	return rc;
}

/*
 * Reads and verifies one manifest; the body only when want_body and READ.
 * Logs and returns BW_ERR_CORRUPT / BW_ERR_AUTH on any mismatch.
 */
int
repo_snap_read(struct repo *r, const char *hex, int want_body, struct snap_info *s)
{
	char rel[2 * OBJ_ID_LEN + 16], *path = NULL;
	uint8_t *p = NULL, id[OBJ_ID_LEN], got[OBJ_ID_LEN], *key = NULL;
	size_t n;
	struct repo_snapfile f;
	struct buf pt = { 0 };
	const char *why = NULL;
	int rc;

	memset(s, 0, sizeof(*s));
	if (hex_decode(id, OBJ_ID_LEN, hex) != 0)
		return BW_ERR_INVAL;
	snprintf(rel, sizeof(rel), SNAP_DIR "/%s", hex);
	if ((path = repo_join(r->path, rel)) == NULL)
		return BW_ERR_NOMEM;
	if ((rc = fsio_read_all(path, REPO_MAX_META, &p, &n)) != 0) {
		if (rc == BW_ERR_NOENT)
			log_error("repository %s: snapshot %s does not exist (see 'bulwark snapshots')",
			    r->path, hex);
		else if (rc == BW_ERR_CORRUPT)
			log_error("repository %s: snapshot %s is too large; run 'bulwark check'",
			    r->path, hex);
		goto out;
	}
	bwcrypto_hash_plain(got, p, n);
	rc = BW_ERR_CORRUPT;
	if (!bwcrypto_memeq(got, id, OBJ_ID_LEN)) {
		why = "its contents do not match its name";
		goto out;
	}
	if ((rc = repo_parse_snapfile(p, n, &f)) != 0) {
		why = rc == BW_ERR_VERSION ? "unknown format version" : "malformed";
		goto out;
	}
	if (bwcrypto_verify(f.sig, p, f.signed_len, r->cfg.write_pk) != 0) {
		rc = BW_ERR_AUTH;
		why = "signature does not verify";
		goto out;
	}
	if (bwcrypto_aead_open(&pt, r->k->meta_key, "BWSS", 4, f.summary, f.summary_len) != 0) {
		rc = BW_ERR_AUTH;
		why = "summary does not decrypt";
		goto out;
	}
	if ((rc = repo_parse_summary(pt.data, pt.len, s)) != 0) {
		why = "summary is malformed";
		goto out;
	}
	memcpy(s->id, id, OBJ_ID_LEN);
	if (want_body && (r->k->caps & REPO_CAP_READ)) {
		if ((key = bwcrypto_secalloc(BWC_KEY)) == NULL) {
			rc = BW_ERR_NOMEM;
			goto out;
		}
		buf_reset(&pt);
		if ((rc = bwcrypto_session_open(key, f.e_pk, r->k->read_sk, r->k->read_pk)) != 0 ||
		    (rc = bwcrypto_aead_open(&pt, key, "BWSB", 4, f.body, f.body_len)) != 0) {
			rc = BW_ERR_AUTH;
			why = "body does not decrypt";
			goto out;
		}
		if ((rc = repo_parse_body(pt.data, pt.len, s)) != 0) {
			why = "body is malformed";
			goto out;
		}
	}
	rc = 0;
out:
	if (rc && why) {
		log_error("repository %s: snapshot %s: %s (damaged or tampered); run 'bulwark check'",
		    r->path, hex, why);
		snap_info_clear(s);
	}
	bwcrypto_secfree(key);
	buf_free(&pt);
	free(path);
	free(p);
	return rc;
}

static int
cmp_snap(const void *a, const void *b)
{
	const struct snap_info *x = a, *y = b;

	if (x->time_ns != y->time_ns)
		return x->time_ns < y->time_ns ? -1 : 1;
	return memcmp(x->id, y->id, OBJ_ID_LEN);
}

int
repo_snapshots(struct repo *r, struct snap_info **out, size_t *n, size_t *bad)
{
	char **names = NULL, *dir = NULL;
	size_t nn = 0, i, m = 0, nbad = 0;
	struct snap_info *v = NULL;
	int rc;

	*out = NULL;
	*n = 0;
	if ((dir = repo_join(r->path, SNAP_DIR)) == NULL)
		return BW_ERR_NOMEM;
	if ((rc = repo_list_hex(dir, 2 * OBJ_ID_LEN, &names, &nn)) != 0)
		goto out;
	if ((v = calloc(nn + 1, sizeof(*v))) == NULL) {
		rc = BW_ERR_NOMEM;
		goto out;
	}
	for (i = 0; i < nn; i++) {
		rc = repo_snap_read(r, names[i], 0, &v[m]);
		if (rc == 0)
			m++;
		else if (rc == BW_ERR_CORRUPT || rc == BW_ERR_AUTH || rc == BW_ERR_VERSION)
			nbad++;
		else if (rc != BW_ERR_NOENT)	/* removed meanwhile */
			goto out;
	}
	rc = 0;
	if (m)
		qsort(v, m, sizeof(*v), cmp_snap);
	*out = v;
	*n = m;
	v = NULL;
out:
	if (bad)
		*bad = nbad;
	snap_list_free(v, m);
	repo_list_free(names, nn);
	free(dir);
	return rc;
}

int
repo_snapshot_resolve(struct repo *r, const char *spec, uint8_t id[static OBJ_ID_LEN])
{
	struct snap_info *v = NULL;
	size_t n = 0, i, len, hits = 0, hit = 0;
	char hex[2 * OBJ_ID_LEN + 1];
	struct buf msg = { 0 };
	int rc;

	len = strlen(spec);
	if (strcmp(spec, "latest") != 0) {
		for (i = 0; i < len; i++)
			if (!((spec[i] >= '0' && spec[i] <= '9') || (spec[i] >= 'a' && spec[i] <= 'f')))
				break;
		if (len == 0 || len > 2 * OBJ_ID_LEN || i != len) {
			log_error("repository %s: '%s' is not a snapshot id; give 'latest' or a "
			    "lower-case hex prefix of an id (see 'bulwark snapshots')", r->path, spec);
			return BW_ERR_INVAL;
		}
	}
	if ((rc = repo_snapshots(r, &v, &n, NULL)) != 0)
		return rc;
	if (strcmp(spec, "latest") == 0) {
		if (n == 0) {
			log_error("repository %s: there are no snapshots yet", r->path);
			rc = BW_ERR_NOENT;
			goto out;
		}
		memcpy(id, v[n - 1].id, OBJ_ID_LEN);
		goto out;
	}
	for (i = 0; i < n; i++) {
		hex_encode(hex, v[i].id, OBJ_ID_LEN);
		if (strncmp(hex, spec, len) == 0) {
			if (hits++)
				buf_put(&msg, ", ", 2);
			buf_put(&msg, hex, 16);
			hit = i;
		}
	}
	buf_put_u8(&msg, 0);
	if (hits == 0) {
		log_error("repository %s: no snapshot matches '%s' (see 'bulwark snapshots')",
		    r->path, spec);
		rc = BW_ERR_NOENT;
	} else if (hits > 1) {
		log_error("repository %s: '%s' matches %zu snapshots (%s); give more digits",
		    r->path, spec, hits, msg.err ? "?" : (char *)msg.data);
		rc = BW_ERR_INVAL;
	} else {
		memcpy(id, v[hit].id, OBJ_ID_LEN);
	}
out:
	buf_free(&msg);
	snap_list_free(v, n);
	return rc;
}

int
repo_snapshot_load(struct repo *r, const uint8_t id[static OBJ_ID_LEN], struct snap_info *out)
{
	char hex[2 * OBJ_ID_LEN + 1];

	hex_encode(hex, id, OBJ_ID_LEN);
	return repo_snap_read(r, hex, 1, out);
}

int
repo_snapshot_forget(struct repo *r, const uint8_t id[static OBJ_ID_LEN])
{
	char hex[2 * OBJ_ID_LEN + 1], rel[2 * OBJ_ID_LEN + 16], *path = NULL, *dir = NULL;
	int rc, took = 0;

	if ((rc = repo_need(r, REPO_CAP_ADMIN, "forget snapshots")) != 0)
		return rc;
	if (!repo_lock_held(r, 1)) {
		if ((rc = repo_lock(r, 1)) != 0)
			return rc;
		took = 1;
	}
	hex_encode(hex, id, OBJ_ID_LEN);
	snprintf(rel, sizeof(rel), SNAP_DIR "/%s", hex);
	if ((path = repo_join(r->path, rel)) == NULL || (dir = repo_join(r->path, SNAP_DIR)) == NULL) {
		rc = BW_ERR_NOMEM;
		goto out;
	}
	rc = fsio_unlink(path);
	if (rc == BW_ERR_NOENT)
		log_error("repository %s: snapshot %s does not exist (see 'bulwark snapshots')",
		    r->path, hex);
	if (rc == 0)
		rc = fsio_sync_dir(dir);
out:
	if (took)
		repo_unlock(r);
	free(path);
	free(dir);
	return rc;
}
