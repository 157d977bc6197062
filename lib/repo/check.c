#include "config.h"

#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "lib/crypto/bwcrypto.h"
#include "lib/repo/repo.h"
#include "lib/repo/repo_internal.h"
#include "lib/util/err.h"
#include "lib/util/fsio.h"
#include "lib/util/log.h"

/*
 * repo_check_store reads everything again from the disk (never the
 * in-memory index of the handle), so that it sees what a fresh reader would.
 * Problems are logged once each and counted; objects affected by damaged
 * packs or index files are named through bad().  Packs without an index
 * file (left by a crash between the two) are counted, not problems.
 */

struct cpack {
	uint8_t id[OBJ_ID_LEN];
	char hex[2 * OBJ_ID_LEN + 1];
	struct repo_dirent *d;
	size_t n;
	int index_ok;		/* index file read fine */
	int seen;		/* pack file found */
};

struct ctx {
	struct repo *r;
	int read_data;
	repo_bad_fn *bad;
	void *arg;
	struct repo_check_stats *st;
	struct cpack *p;
	size_t np, capp;
};

static void
problem(struct ctx *c)
{
	c->st->problems++;
}

static void
bad_obj(struct ctx *c, const uint8_t id[OBJ_ID_LEN], const char *what)
{
	char hex[2 * OBJ_ID_LEN + 1];

	hex_encode(hex, id, OBJ_ID_LEN);
	log_error("repository %s: object %s: %s", c->r->path, hex, what);
	if (c->bad)
		c->bad(id, what, c->arg);
}

static void
bad_all(struct ctx *c, const struct cpack *p, const char *what)
{
	size_t i;

	for (i = 0; i < p->n; i++)
		bad_obj(c, p->d[i].id, what);
}

static void
check_config(struct ctx *c)
{
	struct repo *r = c->r;
	char *path = repo_join(r->path, "config");
	uint8_t *p = NULL;
	size_t n;
	struct repo_config cfg;
	int rc;

	if (!path || (rc = fsio_read_all(path, 65536, &p, &n)) != 0) {
		log_error("repository %s: config is missing or unreadable", r->path);
		problem(c);
		goto out;
	}
	if (repo_parse_config(p, n, &cfg) != 0 ||
	    bwcrypto_verify(cfg.sig, p, cfg.signed_len, r->k->admin_pk) != 0 ||
	    memcmp(cfg.repo_id, r->k->repo_id, REPO_ID_LEN) != 0) {
		log_error("repository %s: config is damaged (does not verify with the admin key); "
		    "restore it from a replica", r->path);
		problem(c);
	}
out:
	free(path);
	free(p);
}

static void
check_keys(struct ctx *c)
{
	struct repo *r = c->r;
	char **names = NULL, *dir = repo_join(r->path, "keys"), *path = NULL;
	size_t nn = 0, i, n;
	uint8_t *p = NULL;

	if (!dir || repo_list_hex(dir, 2 * REPO_SLOT_LEN, &names, &nn) != 0) {
		log_error("repository %s: keys directory is missing or unreadable", r->path);
		problem(c);
		goto out;
	}
	for (i = 0; i < nn; i++) {
		free(path);
		free(p);
		p = NULL;
		c->st->key_slots++;
		if ((path = repo_join(dir, names[i])) == NULL ||
		    fsio_read_all(path, 65536, &p, &n) != 0 ||
		    repo_slot_verify(p, n, r->k->admin_pk) != 0) {
			log_error("repository %s: key slot %s is damaged (does not verify with the "
			    "admin key); remove it and add it again, or import its paper copy",
			    r->path, names[i]);
			problem(c);
		}
	}
out:
	repo_list_free(names, nn);
	free(dir);
	free(path);
	free(p);
}

static struct cpack *
add_pack(struct ctx *c, const uint8_t id[OBJ_ID_LEN])
{
	struct cpack *p;

	if (c->np == c->capp) {
		size_t cap = c->capp ? c->capp * 2 : 64;

		if ((p = realloc(c->p, cap * sizeof(*p))) == NULL)
			return NULL;
		c->p = p;
		c->capp = cap;
	}
	p = &c->p[c->np++];
	memset(p, 0, sizeof(*p));
	memcpy(p->id, id, OBJ_ID_LEN);
	hex_encode(p->hex, id, OBJ_ID_LEN);
	return p;
}

static struct cpack *
find_pack(struct ctx *c, const uint8_t id[OBJ_ID_LEN])
{
	size_t i;

	for (i = 0; i < c->np; i++)
		if (memcmp(c->p[i].id, id, OBJ_ID_LEN) == 0)
			return &c->p[i];
	return NULL;
}

static int
check_index(struct ctx *c)
{
	struct repo *r = c->r;
	char **names = NULL, *dir = repo_join(r->path, "index");
	size_t nn = 0, i;
	uint8_t pid[OBJ_ID_LEN];
	struct cpack *p;
	int rc = 0;

	if (!dir || repo_list_hex(dir, 2 * OBJ_ID_LEN, &names, &nn) != 0) {
		log_error("repository %s: index directory is missing or unreadable", r->path);
		problem(c);
		goto out;
	}
	for (i = 0; i < nn; i++) {
		c->st->index_files++;
		hex_decode(pid, OBJ_ID_LEN, names[i]);
		if ((p = add_pack(c, pid)) == NULL) {
			rc = BW_ERR_NOMEM;
			goto out;
		}
		rc = repo_index_read(r, names[i], pid, &p->d, &p->n);
		if (rc == BW_ERR_NOMEM)
			goto out;
		p->index_ok = rc == 0;
		rc = 0;
	}
out:
	repo_list_free(names, nn);
	free(dir);
	return rc;
}

static int
hash_file(int fd, const char *path, uint64_t size, uint8_t out[OBJ_ID_LEN])
{
	struct bwcrypto_sha *h = bwcrypto_sha_new(NULL);
	uint8_t *b = malloc(1 << 20);
	uint64_t off = 0;
	int rc = 0;

	if (!h || !b) {
		rc = BW_ERR_NOMEM;
		goto out;
	}
	while (off < size) {
		size_t n = size - off < (1 << 20) ? (size_t)(size - off) : (1 << 20);

		if ((rc = repo_pread(fd, path, b, n, off)) != 0)
			goto out;
		bwcrypto_sha_update(h, b, n);
		off += n;
	}
	rc = bwcrypto_sha_final(h, out);
out:
	bwcrypto_sha_free(h);
	free(b);
	return rc;
}

static int
same_dir(const struct cpack *p, const struct repo_dirent *d, size_t n)
{
	size_t i;

	if (n != p->n)
		return 0;
	for (i = 0; i < n; i++)
		if (memcmp(d[i].id, p->d[i].id, OBJ_ID_LEN) || d[i].type != p->d[i].type ||
		    d[i].offset != p->d[i].offset || d[i].length != p->d[i].length ||
		    d[i].plain != p->d[i].plain)
			return 0;
	return 1;
}

/* Reads the whole pack: hash, trailer, every object. */
static int
read_pack(struct ctx *c, struct cpack *p, int fd, const char *path, uint64_t size)
{
	struct repo *r = c->r;
	uint8_t h[OBJ_ID_LEN], key[BWC_KEY], *blob = NULL;
	struct repo_dirent *d = NULL;
	size_t nd = 0, i, nbad = 0;
	struct buf out = { 0 };
	int hash_ok, key_ok, dir_ok, rc;

	if ((rc = hash_file(fd, path, size, h)) != 0 && rc != BW_ERR_CORRUPT)
		return rc;
	hash_ok = rc == 0 && memcmp(h, p->id, OBJ_ID_LEN) == 0;
	key_ok = repo_pack_key_fd(r, fd, path, key) == 0;
	dir_ok = key_ok && repo_pack_read_dir(r, fd, path, size, key, &d, &nd) == 0;
	if (!hash_ok)
		log_error("repository %s: pack %s: contents do not match its name (damaged)",
		    r->path, p->hex);
	if (!dir_ok)
		log_error("repository %s: pack %s: header or directory is damaged", r->path, p->hex);
	if (!hash_ok || !dir_ok)
		problem(c);
	if (!p->index_ok) {
		/* The index is lost: name what the pack says it holds. */
		if (dir_ok) {
			for (i = 0; i < nd; i++)
				bad_obj(c, d[i].id, "its index file is damaged");
		}
		goto out;
	}
	if (dir_ok && !same_dir(p, d, nd)) {
		log_error("repository %s: pack %s: directory differs from its index file",
		    r->path, p->hex);
		problem(c);
		dir_ok = 0;
	}
	for (i = 0; i < p->n; i++) {
		const struct repo_dirent *e = &p->d[i];
		const char *why = NULL;

		free(blob);
		if ((blob = malloc(e->length)) == NULL) {
			rc = BW_ERR_NOMEM;
			goto out;
		}
		buf_reset(&out);
		if (!key_ok)
			why = "pack header is damaged";
		else if ((rc = repo_pread(fd, path, blob, e->length, e->offset)) != 0)
			why = rc == BW_ERR_CORRUPT ? "pack is truncated" : "read error";
		else if ((rc = repo_blob_open(&out, r->k, key, e->type, e->id, blob, e->length)) != 0)
			why = rc == BW_ERR_AUTH ? "does not decrypt (damaged)" :
			    "content does not match its id (damaged)";
		else if (out.len != e->plain)
			why = "length differs from the index";
		if (rc == BW_ERR_NOMEM)
			goto out;
		if (why) {
			bad_obj(c, e->id, why);
			nbad++;
		}
	}
	if (nbad)
		problem(c);
	else if (!hash_ok || !dir_ok)
		bad_all(c, p, "its pack is damaged outside the object");
	rc = 0;
out:
	bwcrypto_wipe(key, sizeof(key));
	buf_free(&out);
	free(blob);
	free(d);
	return rc;
}

static int
check_pack_file(struct ctx *c, const char *path, const uint8_t id[OBJ_ID_LEN])
{
	struct repo *r = c->r;
	struct cpack *p = find_pack(c, id);
	uint8_t tail[REPO_PACK_TAIL];
	uint32_t tlen;
	uint64_t end;
	struct stat st;
	int fd, rc = 0;

	c->st->packs++;
	if (!p) {
		c->st->unreferenced_packs++;
		return 0;
	}
	p->seen = 1;
	if ((fd = open(path, O_RDONLY | O_CLOEXEC)) >= 0 && fstat(fd, &st) == 0)
		c->st->bytes += (uint64_t)st.st_size;
	if (fd < 0 || fstat(fd, &st) != 0) {
		log_error("repository %s: pack %s: %s", r->path, p->hex, strerror(errno));
		problem(c);
		bad_all(c, p, "its pack cannot be read");
		if (fd >= 0)
			close(fd);
		return 0;
	}
	if (p->index_ok) {
		end = p->n ? p->d[p->n - 1].offset + p->d[p->n - 1].length : REPO_PACK_HDR;
		if ((uint64_t)st.st_size < end + REPO_PACK_TAIL ||
		    repo_pread(fd, path, tail, sizeof(tail), (uint64_t)st.st_size - sizeof(tail)) ||
		    repo_parse_pack_tail(tail, sizeof(tail), &tlen) ||
		    end + tlen + REPO_PACK_TAIL != (uint64_t)st.st_size) {
			log_error("repository %s: pack %s: size or end does not match its index "
			    "(truncated or damaged)", r->path, p->hex);
			problem(c);
			if (!c->read_data)
				bad_all(c, p, "its pack is truncated or damaged");
		}
	} else if (!c->read_data) {
		log_error("repository %s: pack %s: its index file is damaged; run 'bulwark check "
		    "--read-data' to name the objects", r->path, p->hex);
	}
	if (c->read_data)
		rc = read_pack(c, p, fd, path, (uint64_t)st.st_size);
	close(fd);
	return rc;
}

static int
check_packs(struct ctx *c)
{
	struct repo *r = c->r;
	char rel[16], **names = NULL, *dir = NULL, *path = NULL;
	size_t nn = 0, i, j;
	uint8_t id[OBJ_ID_LEN];
	int rc = 0;

	for (i = 0; i < 256; i++) {
		snprintf(rel, sizeof(rel), "data/%02zx", i);
		free(dir);
		repo_list_free(names, nn);
		names = NULL;
		nn = 0;
		if ((dir = repo_join(r->path, rel)) == NULL) {
			rc = BW_ERR_NOMEM;
			goto out;
		}
		if ((rc = repo_list_hex(dir, 2 * OBJ_ID_LEN, &names, &nn)) != 0) {
			if (rc == BW_ERR_NOENT) {
				log_error("repository %s: directory %s is missing", r->path, rel);
				problem(c);
				rc = 0;
				continue;
			}
			goto out;
		}
		for (j = 0; j < nn; j++) {
			hex_decode(id, OBJ_ID_LEN, names[j]);
			if (strncmp(names[j], rel + 5, 2) != 0)
				continue;
			free(path);
			if ((path = repo_join(dir, names[j])) == NULL) {
				rc = BW_ERR_NOMEM;
				goto out;
			}
			if ((rc = check_pack_file(c, path, id)) != 0)
				goto out;
		}
	}
	for (i = 0; i < c->np; i++) {
		if (c->p[i].seen)
			continue;
		log_error("repository %s: pack %s named by an index file is missing", r->path,
		    c->p[i].hex);
		problem(c);
		bad_all(c, &c->p[i], "its pack is missing");
	}
out:
	repo_list_free(names, nn);
	free(dir);
	free(path);
	return rc;
}

static void
check_snapshots(struct ctx *c)
{
	struct repo *r = c->r;
	char **names = NULL, *dir = repo_join(r->path, "snapshots");
	size_t nn = 0, i;
	struct snap_info s;

	if (!dir || repo_list_hex(dir, 2 * OBJ_ID_LEN, &names, &nn) != 0) {
		log_error("repository %s: snapshots directory is missing or unreadable", r->path);
		problem(c);
		goto out;
	}
	for (i = 0; i < nn; i++) {
		c->st->snapshots++;
		if (repo_snap_read(r, names[i], c->read_data, &s) != 0)
			problem(c);
		snap_info_clear(&s);
	}
out:
	repo_list_free(names, nn);
	free(dir);
}

int
repo_check_store(struct repo *r, int read_data, repo_bad_fn *bad, void *arg,
    struct repo_check_stats *st)
{
	struct repo_check_stats dummy;
	struct ctx c;
	size_t i;
	int rc;

	if (!st)
		st = &dummy;
	memset(st, 0, sizeof(*st));
	if (read_data && (rc = repo_need(r, REPO_CAP_READ, "read stored data (check --read-data)")) != 0)
		return rc;
	memset(&c, 0, sizeof(c));
	c.r = r;
	c.read_data = read_data;
	c.bad = bad;
	c.arg = arg;
	c.st = st;
	check_config(&c);
	check_keys(&c);
	if ((rc = check_index(&c)) != 0)
		goto out;
	for (i = 0; i < c.np; i++) {
		st->objects += c.p[i].n;
		if (!c.p[i].index_ok) {
			log_error("repository %s: index file %s is damaged", r->path, c.p[i].hex);
			problem(&c);
		}
	}
	if ((rc = check_packs(&c)) != 0)
		goto out;
	check_snapshots(&c);
	rc = st->problems ? BW_ERR_CORRUPT : 0;
	if (rc)
		log_error("repository %s: check found %llu problems", r->path,
		    (unsigned long long)st->problems);
out:
	for (i = 0; i < c.np; i++)
		free(c.p[i].d);
	free(c.p);
	return rc;
}
