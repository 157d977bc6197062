/*
 * The only door to libsodium and OpenSSL's libcrypto.  No other file
 * includes <sodium.h> or an OpenSSL header.
 *
 * Constructions (docs/FORMAT.md, "Cryptography"):
 *  - object ids: HMAC-SHA-256; pack names: SHA-256 (the bulk of all
 *    hashing: with the SHA extensions of current x86 and ARM CPUs it runs
 *    at ~2 GB/s, where BLAKE2b does 0.7 here)
 *  - everything else hashed: BLAKE2b-256, keyed where a key is named
 *  - AEAD: XChaCha20-Poly1305-IETF, random 24-byte nonce stored in front
 *  - write sessions: X25519 between an ephemeral key and the repository's
 *    read public key, key = BLAKE2b-256(key = shared secret,
 *    msg = "bulwark-session-v1" || eph_pk || read_pk)
 *  - signatures: Ed25519
 *  - passphrases: Argon2id v1.3
 */
#ifndef BW_CRYPTO_BWCRYPTO_H
#define BW_CRYPTO_BWCRYPTO_H

#include <stddef.h>
#include <stdint.h>

#include "lib/util/buf.h"

#define BWC_KEY 32		/* symmetric key */
#define BWC_ID 32		/* object id / hash */
#define BWC_NONCE 24
#define BWC_TAG 16
#define BWC_AEAD_OVERHEAD (BWC_NONCE + BWC_TAG)
#define BWC_BOX_PK 32		/* X25519 */
#define BWC_BOX_SK 32
#define BWC_SIGN_PK 32		/* Ed25519 */
#define BWC_SIGN_SK 64
#define BWC_SIG 64
#define BWC_SALT 16

/* Must be called once before anything else; 0 or BW_ERR_IO. */
int bwcrypto_init(void);

/* Fills p with n random bytes. */
void bwcrypto_random(void *p, size_t n);
/* Tests only: make bwcrypto_random deterministic from seed (0 restores the
 * system generator). */
void bwcrypto_test_seed(uint64_t seed);

/* Keyed BLAKE2b-256 of one buffer. */
void bwcrypto_hash(uint8_t out[static BWC_ID], const uint8_t key[static BWC_KEY],
    const void *p, size_t n);
/* Unkeyed BLAKE2b-256 (snapshot file names, key export lines, table keys). */
void bwcrypto_hash_plain(uint8_t out[static BWC_ID], const void *p, size_t n);

/* Streaming keyed (key may be NULL) BLAKE2b-256. */
struct bwcrypto_hasher;
struct bwcrypto_hasher *bwcrypto_hasher_new(const uint8_t *key /* BWC_KEY or NULL */);
void bwcrypto_hasher_update(struct bwcrypto_hasher *h, const void *p, size_t n);
/* Writes the digest; the hasher can be reused after bwcrypto_hasher_reset. */
void bwcrypto_hasher_final(struct bwcrypto_hasher *h, uint8_t out[static BWC_ID]);
void bwcrypto_hasher_reset(struct bwcrypto_hasher *h);
void bwcrypto_hasher_free(struct bwcrypto_hasher *h);

/* SHA-256 (key NULL) or HMAC-SHA-256 (key of BWC_KEY bytes), streaming,
 * one digest per hasher.  new returns NULL without memory; final writes
 * the digest, or zeros and BW_ERR_NOMEM (logged) if an OpenSSL call
 * failed.  One hasher per thread. */
struct bwcrypto_sha;
struct bwcrypto_sha *bwcrypto_sha_new(const uint8_t *key);
void bwcrypto_sha_update(struct bwcrypto_sha *h, const void *p, size_t n);
int bwcrypto_sha_final(struct bwcrypto_sha *h, uint8_t out[static BWC_ID]);
void bwcrypto_sha_free(struct bwcrypto_sha *h);
/* One buffer; 0 or BW_ERR_NOMEM (logged, out zeroed). */
int bwcrypto_sha(uint8_t out[static BWC_ID], const uint8_t *key, const void *p, size_t n);
/* SipHash-2-4 of a short input (hash tables of names an outsider may
 * choose: without the key nobody can aim for collisions). */
#define BWC_SHORTKEY 16
uint64_t bwcrypto_shorthash(const uint8_t key[static BWC_SHORTKEY], const void *p, size_t n);
/* Derives an outlen-byte subkey (16..64) from key for a context string. */
void bwcrypto_kdf(uint8_t *out, size_t outlen, const uint8_t key[static BWC_KEY],
    const char *context);

/* Appends nonce || ciphertext || tag of pt to out.  0 or BW_ERR_NOMEM. */
int bwcrypto_aead_seal(struct buf *out, const uint8_t key[static BWC_KEY],
    const void *ad, size_t adlen, const void *pt, size_t n);
/* Verifies and decrypts nonce || ciphertext || tag; appends plaintext to
 * out.  BW_ERR_AUTH if it does not verify (nothing appended),
 * BW_ERR_CORRUPT if too short. */
int bwcrypto_aead_open(struct buf *out, const uint8_t key[static BWC_KEY],
    const void *ad, size_t adlen, const void *ct, size_t n);
/* Seals in place (the writer's hot path): the plaintext is already where
 * its ciphertext goes, at buf + BWC_NONCE, so no byte is moved; buf has
 * room for ptlen + BWC_AEAD_OVERHEAD bytes and holds nonce||ct||tag on
 * return. */
int bwcrypto_aead_seal_placed(uint8_t *buf, size_t ptlen,
    const uint8_t key[static BWC_KEY], const void *ad, size_t adlen);

/* X25519 key pair. */
void bwcrypto_box_keypair(uint8_t pk[static BWC_BOX_PK], uint8_t sk[static BWC_BOX_SK]);
/* A writer's session: new ephemeral pair, derive key, forget eph secret. */
int bwcrypto_session_new(uint8_t eph_pk[static BWC_BOX_PK], uint8_t key[static BWC_KEY],
    const uint8_t read_pk[static BWC_BOX_PK]);
/* A reader re-derives a session key.  BW_ERR_AUTH on a degenerate point. */
int bwcrypto_session_open(uint8_t key[static BWC_KEY], const uint8_t eph_pk[static BWC_BOX_PK],
    const uint8_t read_sk[static BWC_BOX_SK], const uint8_t read_pk[static BWC_BOX_PK]);

/* Ed25519. */
void bwcrypto_sign_keypair(uint8_t pk[static BWC_SIGN_PK], uint8_t sk[static BWC_SIGN_SK]);
void bwcrypto_sign(uint8_t sig[static BWC_SIG], const void *msg, size_t n,
    const uint8_t sk[static BWC_SIGN_SK]);
/* 0 or BW_ERR_AUTH. */
int bwcrypto_verify(const uint8_t sig[static BWC_SIG], const void *msg, size_t n,
    const uint8_t pk[static BWC_SIGN_PK]);

/* Argon2id.  ops/mem as in libsodium.  0, or BW_ERR_NOMEM.
 * The default for new key slots is m = 48 MiB, t = 4: the same work (192
 * MiB of memory passes) as RFC 9106's second recommended option (64 MiB,
 * t = 3), well above OWASP's minimums (46 MiB with t = 1, or 19 MiB with
 * t = 2), and it keeps a whole backup or restore within the appliance's
 * 64 MiB memory budget: the unlock is the peak of both.  MODERATE (256 MiB)
 * and stronger stay available with --kdf; a slot stores its own costs. */
#define BWC_PWHASH_OPS_DEFAULT 4ULL
#define BWC_PWHASH_MEM_DEFAULT (48ULL << 20)
#define BWC_PWHASH_OPS_MODERATE 3ULL
#define BWC_PWHASH_MEM_MODERATE (256ULL << 20)
#define BWC_PWHASH_OPS_MIN 1ULL
#define BWC_PWHASH_MEM_MIN (8ULL << 10)
int bwcrypto_pwhash(uint8_t out[static BWC_KEY], const char *pass, size_t passlen,
    const uint8_t salt[static BWC_SALT], uint64_t ops, uint64_t mem);

/* Guarded memory for secrets (sodium_malloc); NULL on failure.  Free wipes. */
void *bwcrypto_secalloc(size_t n);
void bwcrypto_secfree(void *p);
void bwcrypto_wipe(void *p, size_t n);
/* Constant-time comparison: 1 if equal. */
int bwcrypto_memeq(const void *a, const void *b, size_t n);

/* Standard base64 (with padding) of n bytes into out, which must hold
 * bwcrypto_b64_len(n) bytes including the NUL. */
size_t bwcrypto_b64_len(size_t n);
void bwcrypto_b64_encode(char *out, const void *in, size_t n);
/* 0 or BW_ERR_INVAL; *outlen set to the decoded length. */
int bwcrypto_b64_decode(uint8_t *out, size_t max, size_t *outlen, const char *in);

#endif
