#include "config.h"

#include <check.h>
#include <stdio.h>
#include <string.h>

#include "lib/crypto/bwcrypto.h"
#include "lib/util/err.h"

START_TEST(aead_round_trip_and_tamper)
{
	uint8_t key[BWC_KEY], other[BWC_KEY];
	struct buf ct = { 0 }, pt = { 0 };
	const char msg[] = "the records of the city";

	bwcrypto_random(key, sizeof(key));
	bwcrypto_random(other, sizeof(other));
	ck_assert_int_eq(bwcrypto_aead_seal(&ct, key, "ad", 2, msg, sizeof(msg)), 0);
	ck_assert_uint_eq(ct.len, sizeof(msg) + BWC_AEAD_OVERHEAD);
	ck_assert_int_eq(bwcrypto_aead_open(&pt, key, "ad", 2, ct.data, ct.len), 0);
	ck_assert_mem_eq(pt.data, msg, sizeof(msg));
	buf_reset(&pt);
	ck_assert_int_eq(bwcrypto_aead_open(&pt, other, "ad", 2, ct.data, ct.len), BW_ERR_AUTH);
	ck_assert_int_eq(bwcrypto_aead_open(&pt, key, "AD", 2, ct.data, ct.len), BW_ERR_AUTH);
	for (size_t i = 0; i < ct.len; i++) {
		ct.data[i] ^= 1;
		ck_assert_int_eq(bwcrypto_aead_open(&pt, key, "ad", 2, ct.data, ct.len), BW_ERR_AUTH);
		ct.data[i] ^= 1;
	}
	ck_assert_uint_eq(pt.len, 0);
	ck_assert_int_eq(bwcrypto_aead_open(&pt, key, "ad", 2, ct.data, 10), BW_ERR_CORRUPT);
	buf_free(&ct);
	buf_free(&pt);
}
END_TEST

START_TEST(aead_placed_seals_where_the_plaintext_lies)
{
	uint8_t key[BWC_KEY], b[100 + BWC_AEAD_OVERHEAD];
	struct buf pt = { 0 };

	bwcrypto_random(key, sizeof(key));
	memset(b + BWC_NONCE, 'y', 100);
	ck_assert_int_eq(bwcrypto_aead_seal_placed(b, 100, key, "a", 1), 0);
	ck_assert_int_eq(bwcrypto_aead_open(&pt, key, "a", 1, b, sizeof(b)), 0);
	ck_assert_uint_eq(pt.len, 100);
	ck_assert_int_eq(pt.data[0], 'y');
	ck_assert_int_eq(pt.data[99], 'y');
	ck_assert_int_eq(bwcrypto_aead_open(&pt, key, "b", 1, b, sizeof(b)), BW_ERR_AUTH);
	buf_free(&pt);
}
END_TEST

START_TEST(session_reader_derives_writer_key)
{
	uint8_t rpk[BWC_BOX_PK], rsk[BWC_BOX_SK], epk[BWC_BOX_PK], k1[BWC_KEY], k2[BWC_KEY];
	uint8_t wrong[BWC_BOX_SK];

	bwcrypto_box_keypair(rpk, rsk);
	ck_assert_int_eq(bwcrypto_session_new(epk, k1, rpk), 0);
	ck_assert_int_eq(bwcrypto_session_open(k2, epk, rsk, rpk), 0);
	ck_assert(bwcrypto_memeq(k1, k2, BWC_KEY));
	bwcrypto_random(wrong, sizeof(wrong));
	ck_assert_int_eq(bwcrypto_session_open(k2, epk, wrong, rpk), 0);
	ck_assert(!bwcrypto_memeq(k1, k2, BWC_KEY));
}
END_TEST

START_TEST(sign_verify)
{
	uint8_t pk[BWC_SIGN_PK], sk[BWC_SIGN_SK], sig[BWC_SIG];

	bwcrypto_sign_keypair(pk, sk);
	bwcrypto_sign(sig, "abc", 3, sk);
	ck_assert_int_eq(bwcrypto_verify(sig, "abc", 3, pk), 0);
	ck_assert_int_eq(bwcrypto_verify(sig, "abd", 3, pk), BW_ERR_AUTH);
}
END_TEST

START_TEST(hashes_and_kdf)
{
	uint8_t k[BWC_KEY] = { 1 }, a[BWC_ID], b[BWC_ID], c[BWC_ID];
	struct bwcrypto_hasher *h = bwcrypto_hasher_new(k);

	bwcrypto_hash(a, k, "hello world", 11);
	bwcrypto_hasher_update(h, "hello ", 6);
	bwcrypto_hasher_update(h, "world", 5);
	bwcrypto_hasher_final(h, b);
	ck_assert_mem_eq(a, b, BWC_ID);
	bwcrypto_hash_plain(c, "hello world", 11);
	ck_assert(memcmp(a, c, BWC_ID) != 0);
	bwcrypto_hasher_free(h);
	bwcrypto_kdf(a, 32, k, "gear");
	bwcrypto_kdf(b, 32, k, "gear");
	bwcrypto_kdf(c, 32, k, "other");
	ck_assert_mem_eq(a, b, 32);
	ck_assert(memcmp(a, c, 32) != 0);
}
END_TEST

static void
unhex(uint8_t *out, const char *hex)
{
	size_t i;

	for (i = 0; hex[2 * i]; i++)
		ck_assert_int_eq(sscanf(hex + 2 * i, "%2hhx", &out[i]), 1);
}

/* Object ids and pack names: known answers (FIPS 180-4 "abc"; HMAC from
 * Python's hmac module); streaming equals one-shot. */
START_TEST(sha256_and_hmac)
{
	static const char msg[] = "what do ya want for nothing?";
	uint8_t k[BWC_KEY], want[BWC_ID], got[BWC_ID];
	struct bwcrypto_sha *h;
	size_t i;

	for (i = 0; i < sizeof(k); i++)
		k[i] = (uint8_t)i;
	unhex(want, "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad");
	ck_assert_int_eq(bwcrypto_sha(got, NULL, "abc", 3), 0);
	ck_assert_mem_eq(got, want, BWC_ID);

	unhex(want, "099805f4ac310786968565c098db515cc50862b420ae31e20238312344bed36a");
	ck_assert_int_eq(bwcrypto_sha(got, k, msg, strlen(msg)), 0);
	ck_assert_mem_eq(got, want, BWC_ID);
	ck_assert_ptr_nonnull(h = bwcrypto_sha_new(k));
	bwcrypto_sha_update(h, msg, 10);
	bwcrypto_sha_update(h, "", 0);
	bwcrypto_sha_update(h, msg + 10, strlen(msg) - 10);
	ck_assert_int_eq(bwcrypto_sha_final(h, got), 0);
	ck_assert_mem_eq(got, want, BWC_ID);
	bwcrypto_sha_free(h);

	ck_assert_ptr_nonnull(h = bwcrypto_sha_new(NULL));
	bwcrypto_sha_update(h, "ab", 2);
	bwcrypto_sha_update(h, "c", 1);
	ck_assert_int_eq(bwcrypto_sha_final(h, got), 0);
	unhex(want, "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad");
	ck_assert_mem_eq(got, want, BWC_ID);
	bwcrypto_sha_free(h);
}
END_TEST

START_TEST(pwhash_and_test_rng)
{
	uint8_t salt[BWC_SALT] = { 0 }, a[BWC_KEY], b[BWC_KEY], r1[16], r2[16];

	ck_assert_int_eq(bwcrypto_pwhash(a, "pw", 2, salt, BWC_PWHASH_OPS_MIN, BWC_PWHASH_MEM_MIN), 0);
	ck_assert_int_eq(bwcrypto_pwhash(b, "pw", 2, salt, BWC_PWHASH_OPS_MIN, BWC_PWHASH_MEM_MIN), 0);
	ck_assert_mem_eq(a, b, BWC_KEY);
	ck_assert_int_eq(bwcrypto_pwhash(b, "pX", 2, salt, BWC_PWHASH_OPS_MIN, BWC_PWHASH_MEM_MIN), 0);
	ck_assert(memcmp(a, b, BWC_KEY) != 0);
	bwcrypto_test_seed(42);
	bwcrypto_random(r1, 16);
	bwcrypto_test_seed(42);
	bwcrypto_random(r2, 16);
	ck_assert_mem_eq(r1, r2, 16);
	bwcrypto_test_seed(0);
}
END_TEST

START_TEST(base64_round_trip)
{
	const uint8_t in[5] = { 0, 1, 2, 250, 255 };
	char enc[32];
	uint8_t out[8];
	size_t n;

	bwcrypto_b64_encode(enc, in, sizeof(in));
	ck_assert_int_eq(bwcrypto_b64_decode(out, sizeof(out), &n, enc), 0);
	ck_assert_uint_eq(n, 5);
	ck_assert_mem_eq(out, in, 5);
	ck_assert_int_eq(bwcrypto_b64_decode(out, sizeof(out), &n, "!!!"), BW_ERR_INVAL);
}
END_TEST

int
main(void)
{
	Suite *s = suite_create("bwcrypto");
	TCase *tc = tcase_create("core");
	SRunner *sr;
	int failed;

	bwcrypto_init();
	tcase_add_test(tc, sha256_and_hmac);
	tcase_add_test(tc, aead_round_trip_and_tamper);
	tcase_add_test(tc, aead_placed_seals_where_the_plaintext_lies);
	tcase_add_test(tc, session_reader_derives_writer_key);
	tcase_add_test(tc, sign_verify);
	tcase_add_test(tc, hashes_and_kdf);
	tcase_add_test(tc, pwhash_and_test_rng);
	tcase_add_test(tc, base64_round_trip);
	suite_add_tcase(s, tc);
	sr = srunner_create(s);
	srunner_run_all(sr, CK_NORMAL);
	failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failed ? 1 : 0;
}
