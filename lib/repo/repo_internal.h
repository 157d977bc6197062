/*
 * Internals shared by the files of lib/repo and their unit tests and fuzz
 * harnesses.  Nothing outside lib/repo and tests/ includes this.
 *
 * The pure parsers (repo_parse_*) take untrusted bytes and never touch the
 * disk, so that the fuzz harnesses can drive them directly.
 */
#ifndef BW_REPO_REPO_INTERNAL_H
#define BW_REPO_REPO_INTERNAL_H

#include <pthread.h>
#include <stddef.h>
#include <stdint.h>

#include "lib/crypto/bwcrypto.h"
#include "lib/repo/idset.h"
#include "lib/repo/repo.h"
#include "lib/util/buf.h"

#define REPO_MAGIC_LEN 8
#define REPO_CONFIG_MAGIC "BWREPO\0\0"
#define REPO_KEY_MAGIC "BWKEY\0\0\0"
#define REPO_PACK_MAGIC "BWPACK\0\0"
#define REPO_PACKEND_MAGIC "BWPKEND\0"
#define REPO_INDEX_MAGIC "BWINDEX\0"
#define REPO_SNAP_MAGIC "BWSNAP\0\0"
#define REPO_LOCK_MAGIC "BWLOCK\0\0"

#define REPO_SLOT_LEN 8
#define REPO_PACK_HDR (REPO_MAGIC_LEN + 4 + BWC_BOX_PK)
#define REPO_PACK_TAIL (4 + REPO_MAGIC_LEN)
#define REPO_DIRENT_LEN (OBJ_ID_LEN + 1 + 8 + 4 + 4)
#define REPO_MAX_OBJECT (64u << 20)		/* plaintext limit */
#define REPO_MAX_BLOB (REPO_MAX_OBJECT + 1024)	/* stored form limit */
#define REPO_MAX_META (64u << 20)		/* index, snapshot, key files */
#define REPO_PACK_TARGET_DEFAULT (16u << 20)
/* zstd level of new repositories: on the benchmark's 1 GiB of /usr, level
 * 2 compresses 40% faster than 3 for 3% more bytes (1 MiB blocks: 572 vs
 * 408 MB/s, 365.6 vs 355.4 MB); level 1 gives up 8%. */
#define REPO_ZSTD_LEVEL_DEFAULT 2

/* Secret key material of an unlocked slot (lives in guarded memory). */
struct repo_keys {
	unsigned caps;
	uint8_t repo_id[REPO_ID_LEN];
	uint8_t id_key[BWC_KEY], meta_key[BWC_KEY];
	uint8_t read_pk[BWC_BOX_PK], read_sk[BWC_BOX_SK];
	uint8_t write_pk[BWC_SIGN_PK], write_sk[BWC_SIGN_SK];
	uint8_t admin_pk[BWC_SIGN_PK], admin_sk[BWC_SIGN_SK];
};

struct repo_config {
	uint32_t version;
	uint8_t repo_id[REPO_ID_LEN];
	int64_t created;
	uint32_t chunk_min, chunk_avg, chunk_max;
	int32_t zstd_level;
	uint8_t read_pk[BWC_BOX_PK], write_pk[BWC_SIGN_PK], admin_pk[BWC_SIGN_PK];
	size_t signed_len;		/* bytes covered by sig */
	uint8_t sig[BWC_SIG];
};

/* A parsed key slot file; sealed points into the parsed bytes. */
struct repo_slot {
	uint8_t slot[REPO_SLOT_LEN];
	char *name;
	unsigned caps;
	int64_t created;
	uint64_t ops, mem;
	uint8_t salt[BWC_SALT];
	const uint8_t *sealed;
	size_t sealed_len;
	size_t ad_len;			/* bytes before the sealed str's length */
	size_t signed_len;
	const uint8_t *sig;
};

/* One object of a pack directory or index body. */
struct repo_dirent {
	uint8_t id[OBJ_ID_LEN];
	uint8_t type;
	uint64_t offset;
	uint32_t length, plain;
};

/* What the in-memory index holds per object (~24 bytes + idset slot). */
struct repo_entry {
	uint32_t pack;			/* index into repo.packs */
	uint8_t type;
	uint64_t offset;
	uint32_t length, plain;
};

struct repo_lockstate;

struct repo {
	char *path;
	struct repo_keys *k;		/* guarded memory */
	struct repo_config cfg;
	char slot[2 * REPO_SLOT_LEN + 1];
	uint64_t pack_target;
	int32_t zstd_level;		/* this host's writers; 0: cfg.zstd_level */

	pthread_mutex_t mu;		/* index and pack-key cache */
	int index_loaded;
	struct idset *idx;		/* id -> index into ent */
	struct repo_entry *ent;
	size_t nent, capent;
	uint8_t (*packs)[OBJ_ID_LEN];
	size_t npacks, cappacks;

	/* small cache of per-pack session keys for repo_get */
	struct { uint32_t pack; int valid; uint8_t key[BWC_KEY]; } kc[4];
	unsigned kc_next;
	/* packs kept open for repo_get (fd1 = fd + 1, 0: a free slot): a
	 * restore reads thousands of objects from each pack, on several
	 * threads, and opening a pack by its path costs more than the read */
	struct { uint32_t pack; int fd1; unsigned users; uint64_t used; } pf[8];
	uint64_t pf_clock;

	struct repo_lockstate *lock;
};

/* ---- pure parsers of untrusted bytes (fuzzed) ---- */
int repo_parse_config(const uint8_t *p, size_t n, struct repo_config *c);
int repo_parse_slot(const uint8_t *p, size_t n, struct repo_slot *s);
void repo_slot_clear(struct repo_slot *s);
int repo_parse_material(const uint8_t *p, size_t n, struct repo_keys *k);
/* Pack tail: from the last REPO_PACK_TAIL bytes, the trailer length. */
int repo_parse_pack_tail(const uint8_t *p, size_t n, uint32_t *trailer_len);
/* A pack header (REPO_PACK_HDR bytes): e_pk. */
int repo_parse_pack_header(const uint8_t *p, size_t n, uint8_t e_pk[static BWC_BOX_PK]);
/* A decrypted directory (pack trailer) or index body.  *out malloc'd.
 * Entries must be ordered, non-overlapping and lie in [REPO_PACK_HDR,
 * data_end) when data_end is nonzero. */
int repo_parse_directory(const uint8_t *p, size_t n, uint64_t data_end,
    struct repo_dirent **out, size_t *count);
int repo_parse_index_body(const uint8_t *p, size_t n, uint8_t pack_id[static OBJ_ID_LEN],
    struct repo_dirent **out, size_t *count);
/* A snapshot file: header fields and the two sealed strs. */
struct repo_snapfile {
	uint8_t e_pk[BWC_BOX_PK];
	const uint8_t *summary, *body;
	size_t summary_len, body_len;
	size_t signed_len;
	const uint8_t *sig;
};
int repo_parse_snapfile(const uint8_t *p, size_t n, struct repo_snapfile *f);
int repo_parse_summary(const uint8_t *p, size_t n, struct snap_info *s);
int repo_parse_body(const uint8_t *p, size_t n, struct snap_info *s);
struct repo_lockinfo {
	int exclusive;
	char *host, *user;
	uint32_t pid;
	int64_t created;
};
int repo_parse_lock(const uint8_t *p, size_t n, struct repo_lockinfo *l);
void repo_lockinfo_clear(struct repo_lockinfo *l);

/* ---- shared helpers ---- */
/* path joined with parts; malloc'd, NULL on ENOMEM. */
char *repo_join(const char *a, const char *b);
char *repo_pack_path(const struct repo *r, const uint8_t id[static OBJ_ID_LEN]);
char *repo_index_path(const struct repo *r, const uint8_t id[static OBJ_ID_LEN]);
/* Lists the names in dir/ that are exactly hexlen lower-case hex digits;
 * *out is a malloc'd array of malloc'd strings. */
int repo_list_hex(const char *dir, size_t hexlen, char ***out, size_t *n);
void repo_list_free(char **v, size_t n);
int repo_need(const struct repo *r, unsigned cap, const char *what);

/* keys.c */
int repo_slot_build(struct buf *out, const struct repo_keys *k, const uint8_t slot[REPO_SLOT_LEN],
    const char *name, unsigned caps, int64_t created, const char *pass, size_t passlen,
    const struct repo_kdf *kdf, const uint8_t admin_sk[static BWC_SIGN_SK]);
/* Tries pass on one slot file's bytes.  0 and *k filled, BW_ERR_AUTH if the
 * passphrase does not open it, BW_ERR_CORRUPT if malformed. */
int repo_slot_unlock(const uint8_t *p, size_t n, const char *pass, size_t passlen,
    struct repo_keys *k);
int repo_slot_verify(const uint8_t *p, size_t n, const uint8_t admin_pk[static BWC_SIGN_PK]);

/* blob.c: an object's id, the HMAC-SHA-256 of type || data under id_key
 * (repo_object_id; 0, or BW_ERR_NOMEM with id all zeros, or an error
 * OpenSSL reported, logged). */
int repo_id_compute(const uint8_t id_key[static BWC_KEY], enum obj_type type, const void *p,
    size_t n, uint8_t id[static OBJ_ID_LEN]);
/* The stored form of one object under a session key, into dst,
 * which holds repo_blob_seal_bound(n) bytes and is the only memory used
 * (compressed and sealed in place); *len receives the stored form's
 * length.  0, or BW_ERR_NOMEM. */
size_t repo_blob_seal_bound(size_t n);
int repo_blob_seal_to(uint8_t *dst, size_t *len, const uint8_t key[static BWC_KEY], int zlevel,
    enum obj_type type, const uint8_t id[static OBJ_ID_LEN], const void *p, size_t n);
/* Opens, decompresses (at most REPO_MAX_OBJECT bytes) and verifies the id.
 * BW_ERR_AUTH (does not decrypt), BW_ERR_CORRUPT (bad content or id). */
int repo_blob_open(struct buf *out, const struct repo_keys *k, const uint8_t key[static BWC_KEY],
    enum obj_type type, const uint8_t id[static OBJ_ID_LEN], const uint8_t *blob, size_t n);
/* Re-seals a blob under a new session key without decompressing. */
int repo_blob_reseal(struct buf *out, const uint8_t okey[static BWC_KEY],
    const uint8_t nkey[static BWC_KEY], enum obj_type type,
    const uint8_t id[static OBJ_ID_LEN], const uint8_t *blob, size_t n);

/* pack.c: a pack being written. */
struct repo_packw;
int repo_packw_new(struct repo *r, const uint8_t e_pk[static BWC_BOX_PK],
    const uint8_t key[static BWC_KEY], struct repo_packw **out);
int repo_packw_add(struct repo_packw *w, enum obj_type type, const uint8_t id[static OBJ_ID_LEN],
    const uint8_t *blob, size_t n, uint32_t plain);
uint64_t repo_packw_size(const struct repo_packw *w);
size_t repo_packw_count(const struct repo_packw *w);
/* Writes the trailer, makes the pack and then its index durable, and adds
 * its objects to the in-memory index.  Frees w in all cases. */
int repo_packw_finish(struct repo_packw *w);
void repo_packw_abort(struct repo_packw *w);
/* Reads the header of a pack and derives its session key (needs READ). */
int repo_pack_key(struct repo *r, uint32_t pack, uint8_t key[static BWC_KEY]);
int repo_pack_key_fd(struct repo *r, int fd, const char *path, uint8_t key[static BWC_KEY]);
/* Reads and decrypts the directory of an open pack of size size. */
int repo_pack_read_dir(struct repo *r, int fd, const char *path, uint64_t size,
    const uint8_t key[static BWC_KEY], struct repo_dirent **out, size_t *count);
int repo_pread(int fd, const char *path, void *p, size_t n, uint64_t off);

/* idx.c */
int repo_index_write(struct repo *r, const uint8_t pack_id[static OBJ_ID_LEN],
    const struct repo_dirent *d, size_t n);
/* Reads and decrypts one index file. */
int repo_index_read(struct repo *r, const char *hex, uint8_t pack_id[static OBJ_ID_LEN],
    struct repo_dirent **out, size_t *count);
int repo_index_add_pack(struct repo *r, const uint8_t pack_id[static OBJ_ID_LEN],
    const struct repo_dirent *d, size_t n);
void repo_index_drop(struct repo *r);

/* snap.c: reads and verifies snapshots/<hex> (body if want_body and READ);
 * logs what is wrong. */
int repo_snap_read(struct repo *r, const char *hex, int want_body, struct snap_info *s);
int repo_snap_write(struct repo *r, const uint8_t e_pk[static BWC_BOX_PK],
    const uint8_t key[static BWC_KEY], struct snap_info *s);

/* lock.c */
void repo_lock_release(struct repo *r);
int repo_lock_held(const struct repo *r, int exclusive);

/* Tests: pack size target (default 16 MiB). */
void repo_set_pack_target(struct repo *r, uint64_t bytes);

#endif
