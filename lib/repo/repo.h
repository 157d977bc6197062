/*
 * The repository: an encrypted, authenticated, content-addressed object
 * store in a directory, with key slots, snapshots, locks, check and prune.
 * The format is specified in docs/FORMAT.md; this header is the contract the
 * engine, restore and the CLI rely on.
 *
 * Capabilities (REPO_CAP_*) come from the key slot that was unlocked:
 *   WRITE  store objects, write snapshots, list snapshot summaries
 *   READ   decrypt objects and snapshot bodies (restore, check --read-data)
 *   ADMIN  forget, prune, key management (an admin key holds all three)
 * A call that needs a capability the key lacks returns BW_ERR_PERM after
 * logging "repository DIR: this key cannot ...".
 */
#ifndef BW_REPO_REPO_H
#define BW_REPO_REPO_H

#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#include "lib/util/buf.h"

#define REPO_FORMAT_VERSION 2
#define REPO_ID_LEN 16
#define OBJ_ID_LEN 32

enum repo_cap { REPO_CAP_WRITE = 1, REPO_CAP_READ = 2, REPO_CAP_ADMIN = 4 };
#define REPO_CAP_ALL (REPO_CAP_WRITE | REPO_CAP_READ | REPO_CAP_ADMIN)

/* Object types; part of the object id and of the AEAD associated data. */
enum obj_type { OBJ_DATA = 1, OBJ_TREE = 2, OBJ_DELTA = 3 };

struct repo;

struct repo_kdf { uint64_t ops, mem; };	/* Argon2id cost; {0,0} = the default (BWC_PWHASH_*_DEFAULT) */

/*
 * Creates a repository at path (which must not exist, or be an empty
 * directory) with one admin key slot named slot_name protected by pass.
 * Durable on success.  BW_ERR_EXIST if path is a non-empty directory.
 */
int repo_init(const char *path, const char *slot_name, const char *pass,
    size_t passlen, const struct repo_kdf *kdf);

/*
 * Opens a repository and unlocks the first key slot that pass opens.
 * BW_ERR_NOENT (missing directory), BW_ERR_NOTREPO (no Bulwark config),
 * BW_ERR_VERSION (newer format), BW_ERR_AUTH (no slot accepts pass),
 * BW_ERR_CORRUPT (config or slot damaged).  Logged with the path.
 */
int repo_open(const char *path, const char *pass, size_t passlen, struct repo **out);
void repo_free(struct repo *r);

unsigned repo_caps(const struct repo *r);
const char *repo_path(const struct repo *r);
/* This host's writers (its config's [repository] compression and
 * pack_size): the zstd level of new objects (0: the level in the
 * repository's config) and the target pack size in bytes (0: 16 MiB).
 * Readers do not depend on either. */
void repo_set_write_options(struct repo *r, int zstd_level, uint64_t pack_bytes);
const uint8_t *repo_id(const struct repo *r);		/* REPO_ID_LEN bytes */
/* The id key (keyed hashes of contents) and the chunker's gear seed. */
const uint8_t *repo_id_key(const struct repo *r);	/* 32 bytes, secret */
void repo_gear_seed(const struct repo *r, uint8_t seed[static 32]);
/* Chunker parameters recorded in the config. */
void repo_chunk_params(const struct repo *r, uint32_t *min, uint32_t *avg, uint32_t *max);
/* The repository's generation, bumped by every prune (cache validity). */
uint64_t repo_generation(struct repo *r);
/* Computes the id of an object's plaintext (HMAC-SHA-256 of type||data,
 * docs/FORMAT.md).  0, or BW_ERR_NOMEM (logged): then id is all zeros and
 * must not be used. */
int repo_object_id(const struct repo *r, enum obj_type type, const void *p, size_t n,
    uint8_t id[static OBJ_ID_LEN]);

/* ---- key slots (admin) ---- */
struct repo_keyinfo {
	char slot[17];		/* 16 hex digits */
	char *name;
	unsigned caps;
	int64_t created;	/* seconds since the epoch */
	int current;		/* the slot this handle was opened with */
};
/* Adds a slot holding the capabilities caps (a subset of this key's). */
int repo_key_add(struct repo *r, const char *name, unsigned caps, const char *pass,
    size_t passlen, const struct repo_kdf *kdf, char slot_out[static 17]);
int repo_key_list(struct repo *r, struct repo_keyinfo **out, size_t *n);
void repo_keyinfo_free(struct repo_keyinfo *k, size_t n);
/* Removes a slot; refuses to remove the last admin slot. */
int repo_key_remove(struct repo *r, const char *slot);
/* Re-encrypts the current slot under a new passphrase (atomic). */
int repo_key_passwd(struct repo *r, const char *pass, size_t passlen,
    const struct repo_kdf *kdf);
/* Writes a paper backup of a slot file (lines of base64 with per-line
 * checksums, and how to restore it) to f.  slot NULL: the slot this handle
 * was opened with. */
int repo_key_export(struct repo *r, const char *slot, FILE *f);
/* Reads a paper backup back into the repository's keys/ directory. */
int repo_key_import(const char *path, FILE *f);

/* ---- locks ---- */
/*
 * Takes a shared (backups, check) or exclusive (prune, forget) lock.  A lock
 * whose holder is gone (same host: dead pid; other host: heartbeat older
 * than 30 minutes) is broken with a log line.  A heartbeat thread refreshes
 * the lock every minute until repo_unlock or repo_free.
 * BW_ERR_LOCKED (logged, naming holder, host, pid, age) if it cannot.
 */
int repo_lock(struct repo *r, int exclusive);
void repo_unlock(struct repo *r);

/* ---- writing ---- */
struct repo_writer;
struct bufpool;
/* Starts a write session (needs WRITE; loads the index). */
int repo_writer_start(struct repo *r, struct repo_writer **out);
/*
 * Stores an object unless the repository (or this session) already has it.
 * Thread-safe: several workers may call it at once.  id may be given
 * (precomputed with repo_object_id) or NULL (computed here); id_out gets it.
 * *added (may be NULL) receives the bytes written to the repository.
 */
int repo_writer_put(struct repo_writer *w, enum obj_type type, const void *p, size_t n,
    const uint8_t *id, uint8_t id_out[static OBJ_ID_LEN], uint64_t *added);
/* Nonzero if the repository or this session holds id (thread-safe). */
int repo_writer_has(struct repo_writer *w, const uint8_t id[static OBJ_ID_LEN]);
/* 1 and *plain set to its plaintext length if the repository's index (as
 * of the session's start, or a pack it finished) holds id; else 0.
 * Thread-safe. */
int repo_writer_plain_len(struct repo_writer *w, const uint8_t id[static OBJ_ID_LEN],
    uint32_t *plain);
/* Makes every object put so far durable (packs, then their index files). */
int repo_writer_flush(struct repo_writer *w);
/* The pool of buffers the session seals objects in (lib/util/bufpool.h):
 * each has room for a chunk of twice the repository's average size and its
 * stored form.  A caller cutting chunks may take its chunk buffers from it,
 * so that one set of idle buffers serves both.  Valid until
 * repo_writer_free; not to be freed by the caller. */
struct bufpool *repo_writer_pool(struct repo_writer *w);

/* What a snapshot says about itself.  Strings owned by the struct. */
struct snap_info {
	uint8_t id[OBJ_ID_LEN];		/* filled by commit / load */
	int64_t time_ns;		/* start of the backup, UTC */
	int64_t end_ns;
	char *host, *user;
	char *set;			/* backup set name or NULL */
	char **paths; size_t npaths;	/* backed-up absolute paths */
	char **tags; size_t ntags;
	uint8_t parent[OBJ_ID_LEN];	/* zero if none */
	uint64_t files, dirs, bytes;	/* totals in the snapshot */
	uint64_t files_new, files_changed, files_unchanged;
	uint64_t bytes_read, bytes_added;
	uint32_t nerrors;		/* unreadable inputs: partial if > 0 */
	/* body, READ only: */
	int have_body;
	uint8_t root[OBJ_ID_LEN];	/* root tree */
	char **errors; size_t nerrors_list;	/* "path: reason" */
};
void snap_info_clear(struct snap_info *s);

/* Flushes, then writes and syncs the signed snapshot manifest; s->id is
 * set.  The snapshot is durable when this returns 0. */
int repo_writer_commit(struct repo_writer *w, struct snap_info *s);
/* Ends the session; objects flushed stay (reused by the next backup). */
void repo_writer_free(struct repo_writer *w);

/* ---- reading ---- */
/* Loads the index if needed (any capability). */
int repo_load_index(struct repo *r);
/* Fetches, decrypts and verifies an object (needs READ).  BW_ERR_NOENT if
 * not in the index, BW_ERR_CORRUPT/BW_ERR_AUTH if it fails to verify (the
 * message names the object and its pack). */
int repo_get(struct repo *r, enum obj_type type, const uint8_t id[static OBJ_ID_LEN],
    struct buf *out);
/* Nonzero if the index has id. */
int repo_has(struct repo *r, const uint8_t id[static OBJ_ID_LEN]);

/* ---- snapshots ---- */
/* All snapshot summaries, oldest first (bodies not loaded).  A snapshot
 * whose signature fails is reported and left out (its count in *bad). */
int repo_snapshots(struct repo *r, struct snap_info **out, size_t *n, size_t *bad);
void snap_list_free(struct snap_info *s, size_t n);
/* Resolves "latest", a hex id prefix (unique), into an id. */
int repo_snapshot_resolve(struct repo *r, const char *spec, uint8_t id[static OBJ_ID_LEN]);
/* Loads one snapshot with its body (body needs READ). */
int repo_snapshot_load(struct repo *r, const uint8_t id[static OBJ_ID_LEN], struct snap_info *out);
/* Removes a snapshot (needs ADMIN and an exclusive lock). */
int repo_snapshot_forget(struct repo *r, const uint8_t id[static OBJ_ID_LEN]);


/* ---- check and prune (object level; trees are walked by the caller) ---- */
#include "lib/repo/idset.h"

struct repo_check_stats {
	uint64_t packs, objects, bytes, index_files, snapshots, key_slots;
	uint64_t unreferenced_packs;	/* packs without index (left by a crash) */
	uint64_t problems;
};
/* Called once per damaged or missing object with a one-line reason. */
typedef void repo_bad_fn(const uint8_t id[OBJ_ID_LEN], const char *what, void *arg);
/*
 * Checks everything below the trees: config signature, every key slot's
 * signature, every index file, that each indexed pack exists with the right
 * size, every snapshot's signature and id.  With read_data (needs READ) it
 * also reads every pack, verifies its hash and trailer, decrypts every
 * object and verifies its id; bad() names each object that fails.
 * Returns 0, or BW_ERR_CORRUPT if any problem was found (all are logged).
 */
int repo_check_store(struct repo *r, int read_data, repo_bad_fn *bad, void *arg,
    struct repo_check_stats *st);

struct repo_prune_stats {
	uint64_t packs_removed, packs_rewritten, objects_removed, bytes_freed;
};
/*
 * Removes every object not in live (needs ADMIN and an exclusive lock):
 * packs with no live object are deleted; packs mostly dead are rewritten
 * with their live objects.  Crash-safe: new packs and index are durable
 * before anything old is removed.  Bumps the generation.
 */
int repo_prune(struct repo *r, const struct idset *live, struct repo_prune_stats *st);

#endif
