#include "config.h"

#include <check.h>
#include <stdlib.h>
#include <string.h>

#include "lib/chunk/cdc.h"
#include "lib/crypto/bwcrypto.h"
#include "lib/util/buf.h"
#include "lib/util/log.h"

/* Deterministic test data: splitmix64 output, little-endian. */
static uint64_t
splitmix(uint64_t *x)
{
	uint64_t z = (*x += 0x9E3779B97F4A7C15ULL);

	z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ULL;
	z = (z ^ (z >> 27)) * 0x94D049BB133111EBULL;
	return z ^ (z >> 31);
}

static uint8_t *
random_data(uint64_t seed, size_t n)
{
	uint8_t *p = malloc(n + 8);
	uint64_t x = seed, v;
	size_t i;

	ck_assert_ptr_nonnull(p);
	for (i = 0; i < n; i += 8) {
		v = splitmix(&x);
		le64enc(p + i, v);
	}
	return p;
}

static void
seed_from(uint8_t seed[32], uint64_t s)
{
	int i;

	for (i = 0; i < 32; i++)
		seed[i] = (uint8_t)(s + (uint64_t)i);
}

static size_t *
grow(size_t *lens, size_t cap)
{
	size_t *p = realloc(lens, cap * sizeof(*lens));

	ck_assert_ptr_nonnull(p);
	return p;
}

/* Lengths of the chunks of data[0..n), feeding it in pieces; piece sizes
 * come from rng (if nonzero) between 1 and maxpiece, else one call. */
static size_t
chunk_all(struct cdc *c, const uint8_t *data, size_t n, uint64_t rng, size_t maxpiece,
    size_t **out)
{
	size_t cap = 64, count = 0, off = 0, cur = 0, piece, k;
	size_t *lens = malloc(cap * sizeof(*lens));
	int cut;

	ck_assert_ptr_nonnull(lens);
	while (off < n) {
		piece = n - off;
		if (rng) {
			size_t want = 1 + splitmix(&rng) % maxpiece;

			/* Mix in some tiny pieces: the edge cases live there. */
			if ((splitmix(&rng) & 3) == 0)
				want = 1 + want % 7;
			if (want < piece)
				piece = want;
		}
		while (piece > 0) {
			k = cdc_next(c, data + off, piece, &cut);
			ck_assert_uint_le(k, piece);
			off += k;
			piece -= k;
			cur += k;
			if (cut) {
				if (count == cap)
					lens = grow(lens, cap *= 2);
				lens[count++] = cur;
				cur = 0;
			} else {
				ck_assert_uint_eq(piece, 0);
			}
		}
	}
	if (cur) {
		if (count == cap)
			lens = grow(lens, cap += 1);
		lens[count++] = cur;
	}
	cdc_reset(c);
	*out = lens;
	return count;
}

static const struct cdc_params small = { 2048, 8192, 32768 };

START_TEST(test_golden)
{
	/* Pinned by an independent implementation of docs/FORMAT.md: if this
	 * changes, every existing repository stops deduplicating. */
	static const size_t want[] = { 8203, 8382, 6517, 8524, 8224, 9572, 8329,
	    9461, 11474, 12754, 9477, 2468 };
	uint8_t seed[32];
	uint8_t *data = random_data(1, 1 << 20);
	size_t *lens, n, i, sum = 0;
	struct cdc *c;

	for (i = 0; i < 32; i++)
		seed[i] = (uint8_t)i;
	ck_assert_ptr_nonnull(c = cdc_new(seed, &small));
	n = chunk_all(c, data, 1 << 20, 0, 0, &lens);
	ck_assert_uint_eq(n, 110);
	for (i = 0; i < sizeof(want) / sizeof(want[0]); i++)
		ck_assert_uint_eq(lens[i], want[i]);
	for (i = 0; i < n; i++)
		sum += lens[i];
	ck_assert_uint_eq(sum, 1 << 20);
	free(lens);
	free(data);
	cdc_free(c);
}
END_TEST

START_TEST(test_split_invariance)
{
	size_t len = 2 << 20, *ref, *got, nref, ngot, i;
	uint8_t *data = random_data(42, len);
	uint8_t seed[32];
	struct cdc *c;
	uint64_t s;
	int round;

	for (s = 0; s < 8; s++) {
		seed_from(seed, s * 977);
		ck_assert_ptr_nonnull(c = cdc_new(seed, &small));
		nref = chunk_all(c, data, len, 0, 0, &ref);
		ck_assert_uint_gt(nref, 100);
		for (round = 0; round < 4; round++) {
			size_t maxpiece = round == 0 ? 64 : round == 1 ? 3000 : round == 2 ? 40000 : 1 << 20;

			ngot = chunk_all(c, data, len, s * 31 + round + 1, maxpiece, &got);
			ck_assert_uint_eq(ngot, nref);
			for (i = 0; i < nref; i++)
				ck_assert_uint_eq(got[i], ref[i]);
			free(got);
		}
		free(ref);
		cdc_free(c);
	}
	free(data);
}
END_TEST

START_TEST(test_bounds_and_average)
{
	static const struct cdc_params ps[] = {
		{ 2048, 8192, 32768 },
		{ 16384, 65536, 262144 },
		{ 16384, 65536, 65537 },	/* max binds often */
		{ 100, 4096, 200000 },		/* odd min and max */
	};
	size_t len = 32 << 20, *lens, n, i, k, sum;
	uint8_t *data = random_data(7, len);
	uint8_t seed[32];
	struct cdc *c;

	seed_from(seed, 99);
	for (k = 0; k < sizeof(ps) / sizeof(ps[0]); k++) {
		ck_assert_ptr_nonnull(c = cdc_new(seed, &ps[k]));
		n = chunk_all(c, data, len, k + 5, 1 << 16, &lens);
		sum = 0;
		for (i = 0; i < n; i++) {
			sum += lens[i];
			ck_assert_uint_le(lens[i], ps[k].max);
			if (i + 1 < n)
				ck_assert_uint_ge(lens[i], ps[k].min);
		}
		ck_assert_uint_eq(sum, len);
		if (ps[k].max > 2 * ps[k].avg) {
			/* Within 30% of the requested average. */
			ck_assert_uint_ge(len / n, ps[k].avg * 7 / 10);
			ck_assert_uint_le(len / n, ps[k].avg * 13 / 10);
		}
		free(lens);
		cdc_free(c);
	}
	free(data);
}
END_TEST

START_TEST(test_default_params)
{
	static const struct cdc_params p = { CDC_MIN_DEFAULT, CDC_AVG_DEFAULT, CDC_MAX_DEFAULT };
	size_t len = 64 << 20, *lens, n, i;
	uint8_t *data = random_data(3, len);
	uint8_t seed[32];
	struct cdc *c;

	seed_from(seed, 5);
	ck_assert_ptr_nonnull(c = cdc_new(seed, &p));
	n = chunk_all(c, data, len, 11, 1 << 20, &lens);
	for (i = 0; i + 1 < n; i++) {
		ck_assert_uint_ge(lens[i], p.min);
		ck_assert_uint_le(lens[i], p.max);
	}
	/* ~55 chunks: a loose average check only. */
	ck_assert_uint_ge(len / n, p.avg / 2);
	ck_assert_uint_le(len / n, p.avg * 2);
	free(lens);
	free(data);
	cdc_free(c);
}
END_TEST

/* Chunk end offsets of a buffer. */
static size_t
ends_of(struct cdc *c, const uint8_t *data, size_t len, uint64_t **out)
{
	size_t *lens, n, i;
	uint64_t *ends, off = 0;

	n = chunk_all(c, data, len, 0, 0, &lens);
	ck_assert_ptr_nonnull(ends = malloc(n * sizeof(*ends)));
	for (i = 0; i < n; i++)
		ends[i] = off += lens[i];
	free(lens);
	*out = ends;
	return n;
}

START_TEST(test_insertion_is_local)
{
	static const struct cdc_params p = { 16384, 65536, 262144 };
	size_t len = 32 << 20, ins = 777, at = 5000, na, nb, i, j, kept = 0, later = 0;
	uint8_t *a = random_data(11, len), *b = malloc(len + ins);
	uint64_t *ea, *eb;
	uint8_t seed[32];
	struct cdc *c;

	ck_assert_ptr_nonnull(b);
	memcpy(b, a, at);
	memset(b + at, 0x5a, ins);
	memcpy(b + at + ins, a + at, len - at);
	seed_from(seed, 17);
	ck_assert_ptr_nonnull(c = cdc_new(seed, &p));
	na = ends_of(c, a, len, &ea);
	nb = ends_of(c, b, len + ins, &eb);
	/* Every boundary of a past the first two chunks should reappear in b,
	 * shifted by the insertion. */
	for (i = 2, j = 0; i < na; i++) {
		later++;
		while (j < nb && eb[j] < ea[i] + ins)
			j++;
		if (j < nb && eb[j] == ea[i] + ins)
			kept++;
	}
	ck_assert_uint_gt(later, 300);
	ck_assert_uint_ge(kept, later - 2);
	free(ea);
	free(eb);
	free(a);
	free(b);
	cdc_free(c);
}
END_TEST

START_TEST(test_seeds_differ)
{
	size_t len = 2 << 20, *l1, *l2, n1, n2, i, same = 0;
	uint8_t *data = random_data(5, len);
	uint8_t s1[32], s2[32];
	struct cdc *c1, *c2;

	seed_from(s1, 1);
	memcpy(s2, s1, 32);
	s2[31] ^= 1;
	ck_assert_ptr_nonnull(c1 = cdc_new(s1, &small));
	ck_assert_ptr_nonnull(c2 = cdc_new(s2, &small));
	n1 = chunk_all(c1, data, len, 0, 0, &l1);
	n2 = chunk_all(c2, data, len, 0, 0, &l2);
	for (i = 0; i < n1 && i < n2; i++)
		same += l1[i] == l2[i];
	/* Runs of equal lengths would mean the seed is not used. */
	ck_assert_uint_lt(same, 10);
	free(l1);
	free(l2);
	free(data);
	cdc_free(c1);
	cdc_free(c2);
}
END_TEST

START_TEST(test_reset)
{
	size_t len = 1 << 20, *l1, *l2, n1, n2, i;
	uint8_t *data = random_data(8, len);
	uint8_t seed[32];
	struct cdc *c;
	int cut;

	seed_from(seed, 2);
	ck_assert_ptr_nonnull(c = cdc_new(seed, &small));
	n1 = chunk_all(c, data, len, 0, 0, &l1);
	/* Leave a chunk half-way, then reset: the state must be forgotten. */
	ck_assert_uint_eq(cdc_next(c, data + 12345, 3000, &cut), 3000);
	ck_assert_int_eq(cut, 0);
	cdc_reset(c);
	n2 = chunk_all(c, data, len, 0, 0, &l2);
	ck_assert_uint_eq(n1, n2);
	for (i = 0; i < n1; i++)
		ck_assert_uint_eq(l1[i], l2[i]);
	free(l1);
	free(l2);
	free(data);
	cdc_free(c);
}
END_TEST

static void
quiet(enum log_level lvl, const char *msg, void *arg)
{
}

START_TEST(test_bad_params)
{
	static const struct cdc_params bad[] = {
		{ 0, 8192, 32768 },		/* min 0 */
		{ 8192, 8192, 32768 },		/* min == avg */
		{ 9000, 8192, 32768 },		/* min > avg */
		{ 2048, 8000, 32768 },		/* avg not a power of two */
		{ 2048, 8192, 8192 },		/* max == avg */
		{ 2048, 8192, 4096 },		/* max < avg */
		{ 16, 128, 1024 },		/* avg too small */
		{ 2048, 8192, 0xffffffffu },	/* max too large */
	};
	uint8_t seed[32] = { 0 };
	size_t i;

	log_reset_count();
	log_set_sink(quiet, NULL);
	for (i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
		ck_assert_ptr_null(cdc_new(seed, &bad[i]));
	log_set_sink(NULL, NULL);
	/* Each refusal is reported to the operator. */
	ck_assert_uint_eq(log_error_count(), sizeof(bad) / sizeof(bad[0]));
	cdc_free(NULL);
}
END_TEST

static Suite *
cdc_suite(void)
{
	Suite *s = suite_create("cdc");
	TCase *tc = tcase_create("core");

	tcase_add_test(tc, test_golden);
	tcase_add_test(tc, test_split_invariance);
	tcase_add_test(tc, test_bounds_and_average);
	tcase_add_test(tc, test_default_params);
	tcase_add_test(tc, test_insertion_is_local);
	tcase_add_test(tc, test_seeds_differ);
	tcase_add_test(tc, test_reset);
	tcase_add_test(tc, test_bad_params);
	suite_add_tcase(s, tc);
	return s;
}

int
main(void)
{
	SRunner *sr;
	int failed;

	if (bwcrypto_init() != 0)
		return 99;
	sr = srunner_create(cdc_suite());
	srunner_run_all(sr, CK_NORMAL);
	failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failed ? 1 : 0;
}
