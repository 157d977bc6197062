/*
 * Files cache, on-disk format version 2 (version 1 hashed with BLAKE2b and
 * is dropped).  All integers little-endian; str is a u32 length then the
 * bytes (lib/util/buf.h).
 *
 *   files:
 *     magic      "BWFCACHE" (8 bytes)
 *     version    u32 = 2
 *     generation u64   repository generation the cache was written under
 *     start_ns   i64   start of the backup that wrote it (racy rule)
 *     sigs_id    u64   random; must equal the id in the sigs file
 *     count      u64   number of entries
 *     entries    count times:
 *       path       str   absolute path, bytes, no NUL, unique in the file
 *       dev, ino, size               u64 each
 *       mtime_ns, ctime_ns           i64 each
 *       generation u64
 *       content    str   opaque to the cache (the engine's content blob)
 *       has_sig    u8    0 or 1; if 1:
 *         sig_off  u64   offset of the signature in the sigs file
 *         sig_len  u64   its length (> 0)
 *         sig_hash 32    SHA-256 of the signature bytes
 *     hash       32 bytes: SHA-256 of everything before it
 *
 *   sigs:
 *     magic "BWFCSIGS", version u32 = 2, sigs_id u64, then the signatures
 *     back to back.  Each is checked against its sig_hash when read, so the
 *     hash of files covers them too.
 *
 * In memory, the previous cache is the files buffer itself, indexed by an
 * open-addressing table of (offset, hash tag) pairs.  The new cache is not
 * held in memory (it grows with the number of files: ~15 MiB for 70,000):
 * its entries, already in file format, go to an unlinked scratch file next
 * to the cache, and commit copies them out behind the header.  Its index
 * keeps each path's full 64-bit keyed hash, offset and length only; two
 * paths with equal hashes (about 2^-64 for any pair; the key is random per
 * handle, so file names chosen by someone else cannot aim for it) would
 * count as one, which only costs the first of them its entry: the file is
 * read again next time.  Offsets are 32-bit: a cache file is limited to
 * 4 GiB.
 */
#include "config.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "backupd/fcache.h"
#include "lib/crypto/bwcrypto.h"
#include "lib/util/err.h"
#include "lib/util/fsio.h"
#include "lib/util/log.h"

#define FC_MAGIC "BWFCACHE"
#define FC_SIGS_MAGIC "BWFCSIGS"
#define FC_VERSION 2
#define FC_HDR_LEN (8 + 4 + 8 + 8 + 8 + 8)
#define FC_SIGS_HDR_LEN (8 + 4 + 8)
#define FC_MAX_FILE ((size_t)UINT32_MAX - 1)
#define FC_MAX_PATH 65536
#define FC_MAX_CONTENT ((size_t)64 << 20)
#define FC_MAX_SIG ((uint64_t)1 << 40)
/* The smallest entry: path "/", the fixed fields, empty content, no sig. */
#define FC_MIN_ENTRY (4 + 1 + 6 * 8 + 4 + 1)
#define FC_SIGREF_LEN (8 + 8 + BWC_ID)
#define FC_COPY_CHUNK 65536
/* New entries are written to the scratch file in pieces of this size. */
#define FC_FLUSH (1u << 20)

/* off1 is the entry's offset + 1 (0: empty slot); tag is the hash's high
 * half, to skip most entries without parsing them. */
struct slot {
	uint32_t off1;
	uint32_t tag;
};

struct index {
	struct slot *s;
	size_t cap;		/* a power of two, or 0 */
	size_t n;
};

/* A new entry: where it is in the body (off1 = offset + 1; 0: empty slot)
 * and its keyed path hash. */
struct nslot {
	uint64_t h;
	uint32_t off1;
	uint32_t len;
};

struct nindex {
	struct nslot *s;
	size_t cap;		/* a power of two */
	size_t n;
};

/* A byte range of the body superseded by a later put of the same path. */
struct range {
	uint64_t off, len;
};

/* One parsed entry; pointers into the buffer it was parsed from. */
struct rec {
	const uint8_t *path;
	size_t path_len;
	struct fcache_meta m;
	uint64_t generation;
	const uint8_t *content;
	size_t content_len;
	int has_sig;
	uint64_t sig_off, sig_len;
	const uint8_t *sig_hash;
};

struct fcache {
	char *dir;		/* DIR/<repo id hex> */
	char *files_path, *files_tmp;
	char *sigs_path, *sigs_tmp;
	uint64_t generation;
	uint8_t hkey[BWC_SHORTKEY];

	/* The previous cache. */
	uint8_t *old;
	size_t old_len;
	struct index old_ix;
	int64_t prev_start;
	uint64_t old_sigs_id;
	int old_sigs_fd;	/* -1: no usable signatures */
	uint64_t old_sigs_size;

	/* The new cache: body_len bytes of entries in file format, the first
	 * body_flushed of them in the scratch file body_fd, the rest in
	 * pending. */
	int body_fd;		/* -1 until the first flush */
	uint64_t body_len, body_flushed;
	struct buf pending;
	int body_err;		/* a flush failed: the new cache is lost */
	struct nindex new_ix;
	struct range *dead;	/* superseded entries (sorted at commit) */
	size_t ndead, dead_cap;
	struct fsio_file *sigs;	/* sigs_tmp, opened at the first signature */
	uint64_t sigs_id;
	int committed;
};

static char *
path_join(const char *a, const char *b)
{
	size_t n = strlen(a) + strlen(b) + 2;
	char *p = malloc(n);

	if (p)
		snprintf(p, n, "%s/%s", a, b);
	return p;
}

static uint64_t
path_hash(const struct fcache *c, const void *path, size_t len)
{
	return bwcrypto_shorthash(c->hkey, path, len);
}

static int
rec_parse(struct bufr *r, struct rec *e)
{
	memset(e, 0, sizeof(*e));
	e->path = bufr_str(r, FC_MAX_PATH, &e->path_len);
	e->m.dev = bufr_u64(r);
	e->m.ino = bufr_u64(r);
	e->m.size = bufr_u64(r);
	e->m.mtime_ns = bufr_i64(r);
	e->m.ctime_ns = bufr_i64(r);
	e->generation = bufr_u64(r);
	e->content = bufr_str(r, FC_MAX_CONTENT, &e->content_len);
	e->has_sig = bufr_u8(r);
	if (e->has_sig == 1) {
		e->sig_off = bufr_u64(r);
		e->sig_len = bufr_u64(r);
		e->sig_hash = bufr_get(r, BWC_ID);
	}
	if (r->err)
		return r->err;
	if (e->path_len == 0 || e->path[0] != '/' ||
	    memchr(e->path, 0, e->path_len) != NULL || e->has_sig > 1 ||
	    (e->has_sig && (e->sig_len == 0 || e->sig_len > FC_MAX_SIG ||
	    e->sig_off < FC_SIGS_HDR_LEN || e->sig_off > UINT64_MAX - e->sig_len))) {
		bufr_fail(r);
		return r->err;
	}
	return 0;
}

static void
rec_encode(struct buf *b, const struct rec *e)
{
	buf_put_str(b, e->path, e->path_len);
	buf_put_u64(b, e->m.dev);
	buf_put_u64(b, e->m.ino);
	buf_put_u64(b, e->m.size);
	buf_put_i64(b, e->m.mtime_ns);
	buf_put_i64(b, e->m.ctime_ns);
	buf_put_u64(b, e->generation);
	buf_put_str(b, e->content, e->content_len);
	buf_put_u8(b, (uint8_t)e->has_sig);
	if (e->has_sig) {
		buf_put_u64(b, e->sig_off);
		buf_put_u64(b, e->sig_len);
		buf_put(b, e->sig_hash, BWC_ID);
	}
}

/* The path of the entry at off in base (already validated). */
static int
path_at(const uint8_t *base, size_t len, size_t off, const uint8_t **p,
    size_t *n)
{
	struct bufr r;

	bufr_init(&r, base, len);
	if (off > len || !bufr_get(&r, off))
		return BW_ERR_CORRUPT;
	*p = bufr_str(&r, FC_MAX_PATH, n);
	return *p ? 0 : BW_ERR_CORRUPT;
}

/* A zeroed open-addressing table for n entries of size each: its
 * capacity, a power of two, in *cap.  Load factor at most 0.7: linear
 * probing stays short.  NULL without memory. */
static void *
table_new(size_t n, size_t size, size_t *cap)
{
	size_t c = 16;

	while (c / 10 * 7 < n + 1) {
		if (c > SIZE_MAX / size / 4)
			return NULL;
		c *= 2;
	}
	*cap = c;
	return calloc(c, size);
}

static int
ix_init(struct index *ix, size_t n)
{
	ix->n = 0;
	return (ix->s = table_new(n, sizeof(*ix->s), &ix->cap)) ? 0 : BW_ERR_NOMEM;
}

/* The slot holding path, or the empty slot where it would go. */
static struct slot *
ix_find(const struct index *ix, const uint8_t *base, size_t len, uint64_t h,
    const void *path, size_t plen)
{
	size_t i = (size_t)h & (ix->cap - 1);
	uint32_t tag = (uint32_t)(h >> 32);
	const uint8_t *p;
	size_t n;

	for (;; i = (i + 1) & (ix->cap - 1)) {
		struct slot *s = &ix->s[i];

		if (s->off1 == 0)
			return s;
		if (s->tag == tag && path_at(base, len, s->off1 - 1, &p, &n) == 0 &&
		    n == plen && memcmp(p, path, plen) == 0)
			return s;
	}
}

static int
nix_init(struct nindex *ix, size_t n)
{
	ix->n = 0;
	return (ix->s = table_new(n, sizeof(*ix->s), &ix->cap)) ? 0 : BW_ERR_NOMEM;
}

/* The slot of the path with hash h, or the empty slot where it would go. */
static struct nslot *
nix_find(const struct nindex *ix, uint64_t h)
{
	size_t i = (size_t)h & (ix->cap - 1);

	while (ix->s[i].off1 != 0 && ix->s[i].h != h)
		i = (i + 1) & (ix->cap - 1);
	return &ix->s[i];
}

static int
nix_grow(struct nindex *ix)
{
	struct nindex nx;
	size_t i;
	int err;

	if (ix->cap / 10 * 7 >= ix->n + 1)
		return 0;
	if ((err = nix_init(&nx, ix->n * 2)))
		return err;
	for (i = 0; i < ix->cap; i++)
		if (ix->s[i].off1 != 0)
			*nix_find(&nx, ix->s[i].h) = ix->s[i];
	nx.n = ix->n;
	free(ix->s);
	*ix = nx;
	return 0;
}

static void
old_drop(struct fcache *c)
{
	free(c->old);
	c->old = NULL;
	c->old_len = 0;
	free(c->old_ix.s);
	memset(&c->old_ix, 0, sizeof(c->old_ix));
	c->prev_start = 0;
	if (c->old_sigs_fd >= 0)
		close(c->old_sigs_fd);
	c->old_sigs_fd = -1;
	c->old_sigs_size = 0;
}

/* Opens the previous sigs file if it belongs to the previous files file;
 * otherwise the old entries are used without their signatures. */
static void
old_sigs_open(struct fcache *c)
{
	uint8_t hdr[FC_SIGS_HDR_LEN];
	struct stat st;
	struct bufr r;
	int fd;

	if ((fd = open(c->sigs_path, O_RDONLY | O_CLOEXEC)) < 0)
		return;
	if (fstat(fd, &st) != 0 || st.st_size < 0 ||
	    pread(fd, hdr, sizeof(hdr), 0) != (ssize_t)sizeof(hdr))
		goto bad;
	bufr_init(&r, hdr, sizeof(hdr));
	if (memcmp(bufr_get(&r, 8), FC_SIGS_MAGIC, 8) != 0 ||
	    bufr_u32(&r) != FC_VERSION || bufr_u64(&r) != c->old_sigs_id)
		goto bad;
	c->old_sigs_fd = fd;
	c->old_sigs_size = (uint64_t)st.st_size;
	return;
bad:
	log_debug("files cache %s: does not match the files cache; "
	    "signatures are computed again", c->sigs_path);
	close(fd);
}

/* Loads the previous cache; on any problem leaves it empty. */
static int
old_load(struct fcache *c)
{
	uint8_t h[BWC_ID];
	uint8_t *data = NULL;
	size_t len = 0, i, off;
	uint64_t count, gen, hv;
	uint32_t version;
	struct slot *s;
	struct bufr r;
	struct rec e;
	int err;

	err = fsio_read_all(c->files_path, FC_MAX_FILE, &data, &len);
	if (err == BW_ERR_NOENT)
		return 0;
	if (err == BW_ERR_NOMEM)
		return err;
	if (err)
		goto damaged;
	if (len < FC_HDR_LEN + BWC_ID || memcmp(data, FC_MAGIC, 8) != 0)
		goto damaged;
	bufr_init(&r, data, len - BWC_ID);
	bufr_get(&r, 8);
	if ((version = bufr_u32(&r)) != FC_VERSION) {
		log_warn("files cache %s: unknown version %u; the next backup "
		    "reads every file", c->files_path, version);
		goto drop;
	}
	if ((err = bwcrypto_sha(h, NULL, data, len - BWC_ID)) != 0)
		goto out;
	if (memcmp(h, data + len - BWC_ID, BWC_ID) != 0)
		goto damaged;
	gen = bufr_u64(&r);
	c->prev_start = bufr_i64(&r);
	c->old_sigs_id = bufr_u64(&r);
	count = bufr_u64(&r);
	if (gen != c->generation) {
		log_info("files cache %s: the repository was pruned since "
		    "(generation %llu, now %llu); the next backup reads every "
		    "file", c->files_path, (unsigned long long)gen,
		    (unsigned long long)c->generation);
		goto drop;
	}
	if (count > bufr_left(&r) / FC_MIN_ENTRY)
		goto damaged;
	if ((err = ix_init(&c->old_ix, (size_t)count)))
		goto out;
	for (i = 0; i < count; i++) {
		off = r.off;
		if (rec_parse(&r, &e))
			goto damaged;
		if (e.generation != c->generation)
			continue;
		hv = path_hash(c, e.path, e.path_len);
		s = ix_find(&c->old_ix, data, len - BWC_ID, hv, e.path,
		    e.path_len);
		if (s->off1 != 0)
			goto damaged;	/* a path twice: never written so */
		s->off1 = (uint32_t)off + 1;
		s->tag = (uint32_t)(hv >> 32);
		c->old_ix.n++;
	}
	if (bufr_done(&r))
		goto damaged;
	c->old = data;
	c->old_len = len - BWC_ID;
	data = NULL;
	old_sigs_open(c);
	err = 0;
	goto out;
damaged:
	log_warn("files cache %s damaged; the next backup reads every file",
	    c->files_path);
drop:
	err = 0;
	free(data);
	data = NULL;
	old_drop(c);
out:
	free(data);
	return err;
}

static int
hex_ok(const char *s)
{
	size_t i, n = strlen(s);

	if (n == 0 || n > 128)
		return 0;
	for (i = 0; i < n; i++)
		if (!((s[i] >= '0' && s[i] <= '9') || (s[i] >= 'a' && s[i] <= 'f')))
			return 0;
	return 1;
}

int
fcache_open(const char *dir, const char *repo_id_hex, uint64_t generation,
    struct fcache **out)
{
	struct fcache *c = NULL;
	char name[64];
	int err;

	*out = NULL;
	if (!hex_ok(repo_id_hex)) {
		log_error("files cache: repository id '%s' is not lower-case hex",
		    repo_id_hex);
		return BW_ERR_INVAL;
	}
	if ((c = calloc(1, sizeof(*c))) == NULL) {
		err = BW_ERR_NOMEM;
		goto out;
	}
	c->old_sigs_fd = -1;
	c->body_fd = -1;
	c->generation = generation;
	buf_init(&c->pending);
	bwcrypto_random(c->hkey, sizeof(c->hkey));
	bwcrypto_random(&c->sigs_id, sizeof(c->sigs_id));
	err = BW_ERR_NOMEM;
	if ((c->dir = path_join(dir, repo_id_hex)) == NULL ||
	    (c->files_path = path_join(c->dir, "files")) == NULL ||
	    (c->sigs_path = path_join(c->dir, "sigs")) == NULL)
		goto out;
	snprintf(name, sizeof(name), ".tmp-files-%ld", (long)getpid());
	if ((c->files_tmp = path_join(c->dir, name)) == NULL)
		goto out;
	snprintf(name, sizeof(name), ".tmp-sigs-%ld", (long)getpid());
	if ((c->sigs_tmp = path_join(c->dir, name)) == NULL)
		goto out;

	if ((err = fsio_mkdir(dir, 0700)) && err != BW_ERR_EXIST)
		goto out;
	if ((err = fsio_mkdir(c->dir, 0700)) && err != BW_ERR_EXIST)
		goto out;
	if ((err = old_load(c)))
		goto out;
	/* The new cache will hold about as many entries as the old one. */
	if ((err = nix_init(&c->new_ix, c->old_ix.n)))
		goto out;
	*out = c;
	c = NULL;
	err = 0;
out:
	if (err == BW_ERR_NOMEM)
		log_error("files cache %s/%s: out of memory", dir, repo_id_hex);
	fcache_free(c);
	return err;
}

size_t fcache_count_old(const struct fcache *c) { return c->old_ix.n; }
size_t fcache_count_new(const struct fcache *c) { return c->new_ix.n; }
int64_t fcache_prev_start(const struct fcache *c) { return c->prev_start; }

/* The previous entry for path, whatever its metadata. */
static int
old_find(struct fcache *c, const char *path, struct rec *e, size_t *off)
{
	size_t len = strlen(path);
	struct slot *s;
	struct bufr r;

	if (c->committed || c->old_ix.n == 0)
		return BW_ERR_NOENT;
	s = ix_find(&c->old_ix, c->old, c->old_len, path_hash(c, path, len),
	    path, len);
	if (s->off1 == 0)
		return BW_ERR_NOENT;
	*off = s->off1 - 1;
	bufr_init(&r, c->old, c->old_len);
	bufr_get(&r, *off);
	if (rec_parse(&r, e))
		return BW_ERR_NOENT;	/* cannot happen: checked at load */
	return 0;
}

static void
hit_fill(const struct fcache *c, const struct rec *e, size_t off,
    struct fcache_hit *hit)
{
	memset(hit, 0, sizeof(*hit));
	hit->meta = e->m;
	hit->generation = e->generation;
	hit->content = e->content;
	hit->content_len = e->content_len;
	hit->sig_len = (e->has_sig && c->old_sigs_fd >= 0) ? e->sig_len : 0;
	hit->priv = c->old + off;
}

int
fcache_lookup(struct fcache *c, const char *path, const struct fcache_meta *m,
    struct fcache_hit *hit)
{
	struct rec e;
	size_t off;

	if (old_find(c, path, &e, &off))
		return BW_ERR_NOENT;
	if (e.m.dev != m->dev || e.m.ino != m->ino || e.m.size != m->size ||
	    e.m.mtime_ns != m->mtime_ns || e.m.ctime_ns != m->ctime_ns)
		return BW_ERR_NOENT;
	/* Racy: changed less than 1 s before the previous backup started. */
	if (e.m.ctime_ns >= c->prev_start ||
	    (uint64_t)c->prev_start - (uint64_t)e.m.ctime_ns < 1000000000u)
		return BW_ERR_NOENT;
	hit_fill(c, &e, off, hit);
	return 0;
}

int
fcache_find(struct fcache *c, const char *path, struct fcache_hit *hit)
{
	struct rec e;
	size_t off;

	if (old_find(c, path, &e, &off))
		return BW_ERR_NOENT;
	hit_fill(c, &e, off, hit);
	return 0;
}

/* The entry behind a hit, checked to come from this cache. */
static int
hit_rec(const struct fcache *c, const struct fcache_hit *hit, struct rec *e)
{
	const uint8_t *p = hit->priv;
	struct bufr r;

	if (c->committed || !c->old || p < c->old || p >= c->old + c->old_len)
		return BW_ERR_INVAL;
	bufr_init(&r, p, (size_t)(c->old + c->old_len - p));
	return rec_parse(&r, e) ? BW_ERR_INVAL : 0;
}

static int
sig_pread(struct fcache *c, void *p, size_t n, uint64_t off)
{
	ssize_t k;

	while (n > 0) {
		k = pread(c->old_sigs_fd, p, n, (off_t)off);
		if (k < 0 && errno == EINTR)
			continue;
		if (k < 0) {
			log_error("files cache %s: read: %s", c->sigs_path,
			    strerror(errno));
			return BW_ERR_IO;
		}
		if (k == 0)
			return BW_ERR_CORRUPT;	/* truncated */
		p = (uint8_t *)p + k;
		n -= (size_t)k;
		off += (uint64_t)k;
	}
	return 0;
}

/* A signature that lies past the end of the sigs file is damaged; checked
 * before anything is allocated for it. */
static int
sig_in_file(const struct fcache *c, const struct rec *e)
{
	return e->sig_off <= c->old_sigs_size &&
	    e->sig_len <= c->old_sigs_size - e->sig_off;
}

static void
sig_damaged(const struct fcache *c, const struct rec *e)
{
	log_warn("files cache %s: signature of %.*s damaged; it is computed "
	    "again", c->sigs_path, (int)(e->path_len > 4096 ? 4096 : e->path_len),
	    (const char *)e->path);
}

int
fcache_sig_read(struct fcache *c, const struct fcache_hit *hit, struct buf *out)
{
	uint8_t h[BWC_ID];
	struct rec e;
	uint8_t *p;
	size_t start = out->len;
	int err;

	if ((err = hit_rec(c, hit, &e)))
		return err;
	if (!e.has_sig || c->old_sigs_fd < 0)
		return BW_ERR_NOENT;
	if (!sig_in_file(c, &e)) {
		sig_damaged(c, &e);
		return BW_ERR_CORRUPT;
	}
	if (e.sig_len > SIZE_MAX / 2 || (p = buf_extend(out, (size_t)e.sig_len)) == NULL) {
		log_error("files cache %s: out of memory reading a signature of "
		    "%llu bytes", c->sigs_path, (unsigned long long)e.sig_len);
		return BW_ERR_NOMEM;
	}
	if ((err = sig_pread(c, p, (size_t)e.sig_len, e.sig_off)) == 0) {
		if ((err = bwcrypto_sha(h, NULL, p, (size_t)e.sig_len)) == 0 &&
		    memcmp(h, e.sig_hash, BWC_ID) != 0)
			err = BW_ERR_CORRUPT;
	}
	if (err) {
		out->len = start;
		if (err == BW_ERR_CORRUPT)
			sig_damaged(c, &e);
	}
	return err;
}

static int
sigs_start(struct fcache *c)
{
	uint8_t hdr[FC_SIGS_HDR_LEN];
	int err;

	if (c->sigs)
		return 0;
	memcpy(hdr, FC_SIGS_MAGIC, 8);
	le32enc(hdr + 8, FC_VERSION);
	le64enc(hdr + 12, c->sigs_id);
	if ((err = fsio_create(c->sigs_tmp, 0, 0600, &c->sigs)))
		return err;
	if ((err = fsio_write(c->sigs, hdr, sizeof(hdr)))) {
		fsio_abort(c->sigs, c->sigs_tmp);
		c->sigs = NULL;
	}
	return err;
}

/* Copies the signature of e from the old sigs file to the new one. */
static int
sig_copy(struct fcache *c, const struct rec *e, uint64_t *off, uint8_t hash[BWC_ID])
{
	struct bwcrypto_sha *h = NULL;
	uint8_t *chunk = NULL;
	uint64_t left = e->sig_len, at = e->sig_off;
	size_t n;
	int err;

	if (!sig_in_file(c, e))
		return BW_ERR_CORRUPT;
	if ((err = sigs_start(c)))
		return err;
	if ((chunk = malloc(FC_COPY_CHUNK)) == NULL ||
	    (h = bwcrypto_sha_new(NULL)) == NULL) {
		err = BW_ERR_NOMEM;
		goto out;
	}
	*off = fsio_size(c->sigs);
	while (left > 0) {
		n = left < FC_COPY_CHUNK ? (size_t)left : FC_COPY_CHUNK;
		if ((err = sig_pread(c, chunk, n, at)))
			goto out;
		bwcrypto_sha_update(h, chunk, n);
		if ((err = fsio_write(c->sigs, chunk, n)))
			goto out;
		left -= n;
		at += n;
	}
	if ((err = bwcrypto_sha_final(h, hash)) == 0)
		err = memcmp(hash, e->sig_hash, BWC_ID) ? BW_ERR_CORRUPT : 0;
out:
	bwcrypto_sha_free(h);
	free(chunk);
	return err;
}

/* An unnamed file in dir: O_TMPFILE, or where the file system lacks it a
 * named one removed at once.  -1 with errno. */
static int
scratch_open(const char *dir)
{
	char *tmpl;
	int fd, e;

	fd = open(dir, O_TMPFILE | O_RDWR | O_CLOEXEC, 0600);
	if (fd >= 0 || (errno != EOPNOTSUPP && errno != EISDIR && errno != EINVAL))
		return fd;
	if ((tmpl = path_join(dir, ".tmp-scratch-XXXXXX")) == NULL) {
		errno = ENOMEM;
		return -1;
	}
	if ((fd = mkostemp(tmpl, O_CLOEXEC)) >= 0 && unlink(tmpl) != 0) {
		e = errno;
		close(fd);
		unlink(tmpl);
		errno = e;
		fd = -1;
	}
	free(tmpl);
	return fd;
}

/* Moves the pending entries to the scratch file, creating it unlinked in
 * the cache directory (nothing is left behind by a crash).  Not fsio: it
 * is a scratch copy; the cache itself is written by fcache_commit. */
static int
body_flush(struct fcache *c)
{
	const uint8_t *p = c->pending.data;
	size_t n = c->pending.len;
	ssize_t w;

	if (c->body_err)
		return c->body_err;
	if (n == 0)
		return 0;
	if (c->body_fd < 0 && (c->body_fd = scratch_open(c->dir)) < 0) {
		log_error("files cache %s: cannot make a scratch file: %s; this "
		    "backup's cache is not saved (the next backup reads every file)",
		    c->dir, strerror(errno));
		return c->body_err = BW_ERR_IO;
	}
	while (n > 0) {
		w = write(c->body_fd, p, n);
		if (w < 0 && errno == EINTR)
			continue;
		if (w <= 0) {
			log_error("files cache %s: writing its scratch file: %s; this "
			    "backup's cache is not saved (the next backup reads every "
			    "file)", c->dir, w < 0 ? strerror(errno) : "no progress");
			return c->body_err = w < 0 && (errno == ENOSPC ||
			    errno == EDQUOT) ? BW_ERR_NOSPC : BW_ERR_IO;
		}
		p += w;
		n -= (size_t)w;
	}
	c->body_flushed += c->pending.len;
	buf_reset(&c->pending);
	return 0;
}

/* Appends e to the new cache, replacing an earlier entry for its path. */
static int
new_add(struct fcache *c, const struct rec *e)
{
	size_t before = c->pending.len, len;
	struct nslot *s;
	struct range *d;
	uint64_t hv;
	int err;

	if (c->body_err)
		return c->body_err;
	if ((err = nix_grow(&c->new_ix)))
		return err;
	rec_encode(&c->pending, e);
	len = c->pending.len - before;
	if (c->pending.err || c->body_len + len > FC_MAX_FILE - FC_HDR_LEN - BWC_ID) {
		err = c->pending.err ? c->pending.err : BW_ERR_NOSPC;
		c->pending.len = before;
		c->pending.err = 0;
		log_error("files cache %s: %s; %.*s is not cached",
		    c->files_path, err == BW_ERR_NOMEM ? "out of memory" :
		    "the cache is full (4 GiB)", (int)(e->path_len > 4096 ?
		    4096 : e->path_len), (const char *)e->path);
		return err;
	}
	hv = path_hash(c, e->path, e->path_len);
	s = nix_find(&c->new_ix, hv);
	if (s->off1 != 0) {
		if (c->ndead == c->dead_cap) {
			size_t cap = c->dead_cap ? c->dead_cap * 2 : 16;

			if ((d = realloc(c->dead, cap * sizeof(*d))) == NULL) {
				c->pending.len = before;
				return BW_ERR_NOMEM;
			}
			c->dead = d;
			c->dead_cap = cap;
		}
		c->dead[c->ndead++] = (struct range){ s->off1 - 1, s->len };
	} else {
		c->new_ix.n++;
	}
	s->h = hv;
	s->off1 = (uint32_t)c->body_len + 1;
	s->len = (uint32_t)len;
	c->body_len += len;
	if (c->pending.len >= FC_FLUSH)
		return body_flush(c);
	return 0;
}

static int
path_check(const struct fcache *c, const char *path, size_t len)
{
	if (len == 0 || path[0] != '/' || len > FC_MAX_PATH) {
		log_error("files cache %s: '%.*s' is not an absolute path of at "
		    "most %d bytes", c->files_path, (int)(len > 4096 ? 4096 : len),
		    path, FC_MAX_PATH);
		return BW_ERR_INVAL;
	}
	return 0;
}

int
fcache_put(struct fcache *c, const char *path, const struct fcache_meta *m,
    const void *content, size_t content_len, const void *sig, size_t sig_len)
{
	uint8_t hash[BWC_ID];
	struct rec e;
	int err;

	memset(&e, 0, sizeof(e));
	e.path = (const uint8_t *)path;
	e.path_len = strlen(path);
	if (c->committed)
		return BW_ERR_INVAL;
	if ((err = path_check(c, path, e.path_len)))
		return err;
	if (content_len > FC_MAX_CONTENT || (uint64_t)sig_len > FC_MAX_SIG) {
		log_error("files cache %s: entry for %s too large", c->files_path,
		    path);
		return BW_ERR_INVAL;
	}
	e.m = *m;
	e.generation = c->generation;
	e.content = content;
	e.content_len = content_len;
	if (sig && sig_len > 0) {
		if ((err = sigs_start(c)))
			return err;
		e.sig_off = fsio_size(c->sigs);
		if ((err = fsio_write(c->sigs, sig, sig_len)))
			return err;
		if ((err = bwcrypto_sha(hash, NULL, sig, sig_len)))
			return err;
		e.has_sig = 1;
		e.sig_len = sig_len;
		e.sig_hash = hash;
	}
	return new_add(c, &e);
}

int
fcache_put_hit(struct fcache *c, const char *path, const struct fcache_hit *hit)
{
	return fcache_put_hit_as(c, path, hit, NULL, 0);
}

int
fcache_put_hit_as(struct fcache *c, const char *path, const struct fcache_hit *hit,
    const void *content, size_t content_len)
{
	uint8_t hash[BWC_ID];
	uint64_t off = 0;
	struct rec e;
	int err;

	if ((err = path_check(c, path, strlen(path))))
		return err;
	if (content && content_len > FC_MAX_CONTENT) {
		log_error("files cache %s: entry for %s too large", c->files_path, path);
		return BW_ERR_INVAL;
	}
	if ((err = hit_rec(c, hit, &e))) {
		log_error("files cache %s: put of %s with a hit that is not from "
		    "this cache", c->files_path, path);
		return err;
	}
	if (e.path_len != strlen(path) || memcmp(e.path, path, e.path_len)) {
		log_error("files cache %s: put of %s with the hit of another path",
		    c->files_path, path);
		return BW_ERR_INVAL;
	}
	e.generation = c->generation;
	if (content) {
		e.content = content;
		e.content_len = content_len;
	}
	if (e.has_sig && c->old_sigs_fd < 0)
		e.has_sig = 0;
	if (e.has_sig) {
		err = sig_copy(c, &e, &off, hash);
		if (err == BW_ERR_CORRUPT) {
			sig_damaged(c, &e);
			e.has_sig = 0;
		} else if (err) {
			return err;
		} else {
			e.sig_off = off;
			e.sig_hash = hash;
		}
	}
	return new_add(c, &e);
}

struct out {
	struct fsio_file *f;
	struct bwcrypto_sha *h;
};

static int
out_write(struct out *o, const void *p, size_t n)
{
	if (n == 0)
		return 0;
	bwcrypto_sha_update(o->h, p, n);
	return fsio_write(o->f, p, n);
}

/* Copies body bytes [off, off + n) to o. */
static int
body_copy(struct fcache *c, struct out *o, uint8_t *tmp, uint64_t off, uint64_t n)
{
	size_t k;
	ssize_t r;
	int err;

	while (n > 0) {
		k = n < FC_FLUSH ? (size_t)n : FC_FLUSH;
		r = pread(c->body_fd, tmp, k, (off_t)off);
		if (r < 0 && errno == EINTR)
			continue;
		if (r <= 0) {
			log_error("files cache %s: reading back its scratch file: %s",
			    c->dir, r < 0 ? strerror(errno) : "it is shorter than written");
			return BW_ERR_IO;
		}
		if ((err = out_write(o, tmp, (size_t)r)))
			return err;
		off += (uint64_t)r;
		n -= (uint64_t)r;
	}
	return 0;
}

static int
range_cmp(const void *a, const void *b)
{
	const struct range *x = a, *y = b;

	return x->off < y->off ? -1 : x->off > y->off;
}

/* Writes the live entries of the body: all of it but the superseded ones. */
static int
body_write(struct fcache *c, struct out *o)
{
	uint64_t at = 0;
	uint8_t *tmp = NULL;
	size_t i;
	int err;

	if (c->body_fd < 0 && c->ndead == 0)	/* small: all still pending */
		return out_write(o, c->pending.data, c->pending.len);
	if ((err = body_flush(c)))
		return err;
	if ((tmp = malloc(FC_FLUSH)) == NULL)
		return BW_ERR_NOMEM;
	if (c->ndead)	/* qsort must not be given a null array */
		qsort(c->dead, c->ndead, sizeof(*c->dead), range_cmp);
	for (i = 0; i < c->ndead; i++) {
		if ((err = body_copy(c, o, tmp, at, c->dead[i].off - at)))
			goto out;
		at = c->dead[i].off + c->dead[i].len;
	}
	err = body_copy(c, o, tmp, at, c->body_len - at);
out:
	free(tmp);
	return err;
}

int
fcache_commit(struct fcache *c, int64_t backup_start_ns)
{
	uint8_t hdr[FC_HDR_LEN], hash[BWC_ID];
	struct out o = { NULL, NULL };
	int err;

	if (c->committed)
		return BW_ERR_INVAL;
	if (c->body_err) {
		err = c->body_err;
		goto out;
	}
	/* Signatures first: a crash before the files rename leaves the old
	 * files file with a sigs file of another id, which is ignored. */
	if ((err = sigs_start(c)) || (err = fsio_sync(c->sigs)))
		goto out;
	err = fsio_close(c->sigs);
	c->sigs = NULL;
	if (err || (err = fsio_rename(c->sigs_tmp, c->sigs_path))) {
		fsio_unlink(c->sigs_tmp);
		goto out;
	}

	if ((o.h = bwcrypto_sha_new(NULL)) == NULL) {
		err = BW_ERR_NOMEM;
		log_error("files cache %s: out of memory", c->files_path);
		goto out;
	}
	memcpy(hdr, FC_MAGIC, 8);
	le32enc(hdr + 8, FC_VERSION);
	le64enc(hdr + 12, c->generation);
	le64enc(hdr + 20, (uint64_t)backup_start_ns);
	le64enc(hdr + 28, c->sigs_id);
	le64enc(hdr + 36, (uint64_t)c->new_ix.n);
	if ((err = fsio_create(c->files_tmp, 0, 0600, &o.f)))
		goto out;
	if ((err = out_write(&o, hdr, sizeof(hdr))) ||
	    (err = body_write(c, &o)))
		goto out;
	if ((err = bwcrypto_sha_final(o.h, hash)) ||
	    (err = fsio_write(o.f, hash, sizeof(hash))) ||
	    (err = fsio_sync(o.f)))
		goto out;
	err = fsio_close(o.f);
	o.f = NULL;
	if (err || (err = fsio_rename(c->files_tmp, c->files_path))) {
		fsio_unlink(c->files_tmp);
		goto out;
	}
	err = fsio_sync_dir(c->dir);
out:
	/* Even a failed commit is final: the signatures were handed over. */
	c->committed = 1;
	old_drop(c);
	if (o.f)
		fsio_abort(o.f, c->files_tmp);
	bwcrypto_sha_free(o.h);
	return err;
}

void
fcache_free(struct fcache *c)
{
	if (!c)
		return;
	if (c->sigs)
		fsio_abort(c->sigs, c->sigs_tmp);
	old_drop(c);
	if (c->body_fd >= 0)
		close(c->body_fd);
	buf_free(&c->pending);
	free(c->new_ix.s);
	free(c->dead);
	free(c->dir);
	free(c->files_path);
	free(c->files_tmp);
	free(c->sigs_path);
	free(c->sigs_tmp);
	free(c);
}
