/*
 * Crypto adapter: libsodium for everything but the bulk hashes, OpenSSL's
 * libcrypto for SHA-256 (object ids, pack names).  The constructions are
 * specified in docs/FORMAT.md; this file is the only one that includes
 * <sodium.h> or OpenSSL's headers.
 */
#include "config.h"

#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <sodium.h>
#include <openssl/core_names.h>
#include <openssl/evp.h>

#include "lib/crypto/bwcrypto.h"
#include "lib/util/err.h"
#include "lib/util/log.h"

/* ---- the OpenSSL algorithms (fetched by bwcrypto_init) ---- */

/* Fetched once: an implicit fetch on every init takes a global lock in
 * OpenSSL 3, which the workers would contend on.  HMAC's init still looks
 * SHA-256 up by name (its digest is a string parameter): measured at
 * 0.64 us per keyed hash against 0.34 for a copied keyed template, about
 * 0.3% of a backup's CPU, so it is left so. */
static EVP_MD *sha256_md;
static EVP_MAC *hmac_mac;

static pthread_once_t sha_once = PTHREAD_ONCE_INIT;

static void
sha_fetch(void)
{
	sha256_md = EVP_MD_fetch(NULL, "SHA256", NULL);
	hmac_mac = EVP_MAC_fetch(NULL, "HMAC", NULL);
}

/* ---- randomness (with a deterministic test mode) ---- */

static int test_rng;
static uint8_t test_key[crypto_stream_chacha20_KEYBYTES];
static uint64_t test_ctr;

int
bwcrypto_init(void)
{
	if (sodium_init() < 0) {
		log_error("cannot initialise libsodium (no system randomness?)");
		return BW_ERR_IO;
	}
	pthread_once(&sha_once, sha_fetch);
	if (!sha256_md || !hmac_mac) {
		log_error("OpenSSL's libcrypto offers no SHA-256 or no HMAC (check its "
		    "configuration, openssl.cnf)");
		return BW_ERR_IO;
	}
	return 0;
}

void
bwcrypto_test_seed(uint64_t seed)
{
	uint8_t s[8];

	test_rng = seed != 0;
	le64enc(s, seed);
	crypto_generichash(test_key, sizeof(test_key), s, sizeof(s), NULL, 0);
	test_ctr = 0;
}

void
bwcrypto_random(void *p, size_t n)
{
	uint8_t nonce[crypto_stream_chacha20_NONCEBYTES] = { 0 };

	if (!test_rng) {
		randombytes_buf(p, n);
		return;
	}
	le64enc(nonce, test_ctr++);
	crypto_stream_chacha20(p, n, nonce, test_key);
}

/* ---- hashing ---- */

void
bwcrypto_hash(uint8_t out[static BWC_ID], const uint8_t key[static BWC_KEY],
    const void *p, size_t n)
{
	crypto_generichash(out, BWC_ID, p, n, key, BWC_KEY);
}

void
bwcrypto_hash_plain(uint8_t out[static BWC_ID], const void *p, size_t n)
{
	crypto_generichash(out, BWC_ID, p, n, NULL, 0);
}

struct bwcrypto_hasher {
	crypto_generichash_state st;
	uint8_t key[BWC_KEY];
	int keyed;
};

/* Plain heap memory, wiped on free: hashers are made per file, and guarded
 * pages (sodium_malloc) cost an mmap, two mprotects and a TLB shootdown
 * across every thread each time. */
struct bwcrypto_hasher *
bwcrypto_hasher_new(const uint8_t *key)
{
	struct bwcrypto_hasher *h = malloc(sizeof(*h));

	if (!h)
		return NULL;
	h->keyed = key != NULL;
	if (key)
		memcpy(h->key, key, BWC_KEY);
	bwcrypto_hasher_reset(h);
	return h;
}

void
bwcrypto_hasher_reset(struct bwcrypto_hasher *h)
{
	crypto_generichash_init(&h->st, h->keyed ? h->key : NULL,
	    h->keyed ? BWC_KEY : 0, BWC_ID);
}

void
bwcrypto_hasher_update(struct bwcrypto_hasher *h, const void *p, size_t n)
{
	crypto_generichash_update(&h->st, p, n);
}

void
bwcrypto_hasher_final(struct bwcrypto_hasher *h, uint8_t out[static BWC_ID])
{
	crypto_generichash_final(&h->st, out, BWC_ID);
}

void
bwcrypto_hasher_free(struct bwcrypto_hasher *h)
{
	if (h) {
		sodium_memzero(h, sizeof(*h));
		free(h);
	}
}

/* ---- SHA-256 and HMAC-SHA-256 (bulk hashing) ---- */

struct bwcrypto_sha {
	EVP_MD_CTX *md;		/* unkeyed */
	EVP_MAC_CTX *mac;	/* keyed */
	int err;		/* an OpenSSL call failed */
};

struct bwcrypto_sha *
bwcrypto_sha_new(const uint8_t *key)
{
	struct bwcrypto_sha *h = calloc(1, sizeof(*h));
	OSSL_PARAM params[] = {
		OSSL_PARAM_construct_utf8_string(OSSL_MAC_PARAM_DIGEST, (char *)"SHA256", 0),
		OSSL_PARAM_construct_end()
	};

	pthread_once(&sha_once, sha_fetch);	/* for callers that skipped bwcrypto_init */
	if (!h || !sha256_md || !hmac_mac) {
		free(h);
		return NULL;
	}
	if (key ? (h->mac = EVP_MAC_CTX_new(hmac_mac)) == NULL ||
	    !EVP_MAC_init(h->mac, key, BWC_KEY, params) :
	    (h->md = EVP_MD_CTX_new()) == NULL || !EVP_DigestInit_ex(h->md, sha256_md, NULL)) {
		bwcrypto_sha_free(h);
		return NULL;
	}
	return h;
}

void
bwcrypto_sha_update(struct bwcrypto_sha *h, const void *p, size_t n)
{
	if (n && !(h->mac ? EVP_MAC_update(h->mac, p, n) : EVP_DigestUpdate(h->md, p, n)))
		h->err = 1;
}

int
bwcrypto_sha_final(struct bwcrypto_sha *h, uint8_t out[static BWC_ID])
{
	unsigned int ul = 0;
	size_t l = 0;

	if (!h->err && !(h->mac ? EVP_MAC_final(h->mac, out, &l, BWC_ID) && l == BWC_ID :
	    EVP_DigestFinal_ex(h->md, out, &ul) && ul == BWC_ID))
		h->err = 1;
	if (h->err) {
		memset(out, 0, BWC_ID);
		log_error("SHA-256 failed in OpenSSL's libcrypto (out of memory?)");
		return BW_ERR_NOMEM;
	}
	return 0;
}

void
bwcrypto_sha_free(struct bwcrypto_sha *h)
{
	if (h) {
		EVP_MAC_CTX_free(h->mac);	/* wipes the key */
		EVP_MD_CTX_free(h->md);
		free(h);
	}
}

int
bwcrypto_sha(uint8_t out[static BWC_ID], const uint8_t *key, const void *p, size_t n)
{
	struct bwcrypto_sha *h = bwcrypto_sha_new(key);
	int rc;

	if (!h) {
		memset(out, 0, BWC_ID);
		log_error("cannot start SHA-256 in OpenSSL's libcrypto (out of memory?)");
		return BW_ERR_NOMEM;
	}
	bwcrypto_sha_update(h, p, n);
	rc = bwcrypto_sha_final(h, out);
	bwcrypto_sha_free(h);
	return rc;
}

uint64_t
bwcrypto_shorthash(const uint8_t key[static BWC_SHORTKEY], const void *p, size_t n)
{
	uint8_t h[crypto_shorthash_BYTES];

	crypto_shorthash(h, p, n, key);
	return le64dec(h);
}

void
bwcrypto_kdf(uint8_t *out, size_t outlen, const uint8_t key[static BWC_KEY],
    const char *context)
{
	static const char prefix[] = "bulwark-kdf-v1:";
	crypto_generichash_state st;

	crypto_generichash_init(&st, key, BWC_KEY, outlen);
	crypto_generichash_update(&st, (const uint8_t *)prefix, sizeof(prefix) - 1);
	crypto_generichash_update(&st, (const uint8_t *)context, strlen(context));
	crypto_generichash_final(&st, out, outlen);
	sodium_memzero(&st, sizeof(st));
}

/* ---- AEAD ---- */

int
bwcrypto_aead_seal_placed(uint8_t *b, size_t ptlen, const uint8_t key[static BWC_KEY],
    const void *ad, size_t adlen)
{
	bwcrypto_random(b, BWC_NONCE);
	/* ciphertext overlaps plaintext exactly (libsodium allows m == c) */
	crypto_aead_xchacha20poly1305_ietf_encrypt(b + BWC_NONCE, NULL, b + BWC_NONCE, ptlen,
	    ad, adlen, NULL, b, key);
	return 0;
}

int
bwcrypto_aead_seal(struct buf *out, const uint8_t key[static BWC_KEY],
    const void *ad, size_t adlen, const void *pt, size_t n)
{
	uint8_t *p;

	if ((p = buf_extend(out, n + BWC_AEAD_OVERHEAD)) == NULL)
		return BW_ERR_NOMEM;
	bwcrypto_random(p, BWC_NONCE);
	crypto_aead_xchacha20poly1305_ietf_encrypt(p + BWC_NONCE, NULL, pt, n,
	    ad, adlen, NULL, p, key);
	return 0;
}

int
bwcrypto_aead_open(struct buf *out, const uint8_t key[static BWC_KEY],
    const void *ad, size_t adlen, const void *ct, size_t n)
{
	const uint8_t *c = ct;
	size_t len;
	uint8_t *p;

	if (n < BWC_AEAD_OVERHEAD)
		return BW_ERR_CORRUPT;
	len = n - BWC_AEAD_OVERHEAD;
	if ((p = buf_extend(out, len)) == NULL)
		return BW_ERR_NOMEM;
	if (crypto_aead_xchacha20poly1305_ietf_decrypt(p, NULL, NULL, c + BWC_NONCE,
	    n - BWC_NONCE, ad, adlen, c, key) != 0) {
		out->len -= len;
		return BW_ERR_AUTH;
	}
	return 0;
}

/* ---- sessions ---- */

void
bwcrypto_box_keypair(uint8_t pk[static BWC_BOX_PK], uint8_t sk[static BWC_BOX_SK])
{
	bwcrypto_random(sk, BWC_BOX_SK);
	crypto_scalarmult_base(pk, sk);
}

static void
session_key(uint8_t key[static BWC_KEY], const uint8_t shared[32],
    const uint8_t eph_pk[static BWC_BOX_PK], const uint8_t read_pk[static BWC_BOX_PK])
{
	static const char label[] = "bulwark-session-v1";
	crypto_generichash_state st;

	crypto_generichash_init(&st, shared, 32, BWC_KEY);
	crypto_generichash_update(&st, (const uint8_t *)label, sizeof(label) - 1);
	crypto_generichash_update(&st, eph_pk, BWC_BOX_PK);
	crypto_generichash_update(&st, read_pk, BWC_BOX_PK);
	crypto_generichash_final(&st, key, BWC_KEY);
	sodium_memzero(&st, sizeof(st));
}

int
bwcrypto_session_new(uint8_t eph_pk[static BWC_BOX_PK], uint8_t key[static BWC_KEY],
    const uint8_t read_pk[static BWC_BOX_PK])
{
	uint8_t eph_sk[BWC_BOX_SK], shared[32];
	int rc = 0;

	bwcrypto_box_keypair(eph_pk, eph_sk);
	if (crypto_scalarmult(shared, eph_sk, read_pk) != 0) {
		log_error("repository read key is not a valid X25519 public key");
		rc = BW_ERR_CORRUPT;
	} else {
		session_key(key, shared, eph_pk, read_pk);
	}
	sodium_memzero(eph_sk, sizeof(eph_sk));
	sodium_memzero(shared, sizeof(shared));
	return rc;
}

int
bwcrypto_session_open(uint8_t key[static BWC_KEY], const uint8_t eph_pk[static BWC_BOX_PK],
    const uint8_t read_sk[static BWC_BOX_SK], const uint8_t read_pk[static BWC_BOX_PK])
{
	uint8_t shared[32];

	if (crypto_scalarmult(shared, read_sk, eph_pk) != 0)
		return BW_ERR_AUTH;
	session_key(key, shared, eph_pk, read_pk);
	sodium_memzero(shared, sizeof(shared));
	return 0;
}

/* ---- signatures ---- */

void
bwcrypto_sign_keypair(uint8_t pk[static BWC_SIGN_PK], uint8_t sk[static BWC_SIGN_SK])
{
	uint8_t seed[crypto_sign_SEEDBYTES];

	bwcrypto_random(seed, sizeof(seed));
	crypto_sign_seed_keypair(pk, sk, seed);
	sodium_memzero(seed, sizeof(seed));
}

void
bwcrypto_sign(uint8_t sig[static BWC_SIG], const void *msg, size_t n,
    const uint8_t sk[static BWC_SIGN_SK])
{
	crypto_sign_detached(sig, NULL, msg, n, sk);
}

int
bwcrypto_verify(const uint8_t sig[static BWC_SIG], const void *msg, size_t n,
    const uint8_t pk[static BWC_SIGN_PK])
{
	return crypto_sign_verify_detached(sig, msg, n, pk) == 0 ? 0 : BW_ERR_AUTH;
}

/* ---- passphrases ---- */

int
bwcrypto_pwhash(uint8_t out[static BWC_KEY], const char *pass, size_t passlen,
    const uint8_t salt[static BWC_SALT], uint64_t ops, uint64_t mem)
{
	if (crypto_pwhash(out, BWC_KEY, pass, passlen, salt, ops, (size_t)mem,
	    crypto_pwhash_ALG_ARGON2ID13) != 0) {
		log_error("key derivation (Argon2id, %llu MiB) ran out of memory",
		    (unsigned long long)(mem >> 20));
		return BW_ERR_NOMEM;
	}
	return 0;
}

/* ---- secret memory ---- */

void *bwcrypto_secalloc(size_t n) { return sodium_malloc(n); }
void bwcrypto_secfree(void *p) { if (p) sodium_free(p); }
void bwcrypto_wipe(void *p, size_t n) { sodium_memzero(p, n); }
int bwcrypto_memeq(const void *a, const void *b, size_t n) { return sodium_memcmp(a, b, n) == 0; }

/* ---- base64 ---- */

size_t
bwcrypto_b64_len(size_t n)
{
	return sodium_base64_ENCODED_LEN(n, sodium_base64_VARIANT_ORIGINAL);
}

void
bwcrypto_b64_encode(char *out, const void *in, size_t n)
{
	sodium_bin2base64(out, bwcrypto_b64_len(n), in, n, sodium_base64_VARIANT_ORIGINAL);
}

int
bwcrypto_b64_decode(uint8_t *out, size_t max, size_t *outlen, const char *in)
{
	if (sodium_base642bin(out, max, in, strlen(in), " \t\r\n", outlen, NULL,
	    sodium_base64_VARIANT_ORIGINAL) != 0)
		return BW_ERR_INVAL;
	return 0;
}
