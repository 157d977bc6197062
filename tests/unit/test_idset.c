#include "config.h"

#include <check.h>
#include <stdlib.h>
#include <string.h>

#include "lib/repo/idset.h"

static void
mkid(uint8_t id[32], uint32_t i)
{
	uint64_t x = 0x9e3779b97f4a7c15ULL * (i + 1);
	int k;

	for (k = 0; k < 32; k++) {
		x ^= x << 13;
		x ^= x >> 7;
		x ^= x << 17;
		id[k] = (uint8_t)x;
	}
}

START_TEST(put_get_grow)
{
	struct idset *s = idset_new();
	uint8_t id[32];
	uint64_t v;
	uint32_t i;
	int added;

	ck_assert_ptr_nonnull(s);
	for (i = 0; i < 100000; i++) {
		mkid(id, i);
		ck_assert_int_eq(idset_put(s, id, i * 3, &added), 0);
		ck_assert_int_eq(added, 1);
	}
	ck_assert_uint_eq(idset_count(s), 100000);
	for (i = 0; i < 100000; i++) {
		mkid(id, i);
		ck_assert_int_eq(idset_get(s, id, &v), 1);
		ck_assert_uint_eq(v, (uint64_t)i * 3);
	}
	mkid(id, 100001);
	ck_assert_int_eq(idset_get(s, id, NULL), 0);
	/* update keeps the count */
	mkid(id, 5);
	ck_assert_int_eq(idset_put(s, id, 7, &added), 0);
	ck_assert_int_eq(added, 0);
	ck_assert_int_eq(idset_get(s, id, &v), 1);
	ck_assert_uint_eq(v, 7);
	ck_assert_uint_eq(idset_count(s), 100000);
	idset_free(s);
	idset_free(NULL);
}
END_TEST

START_TEST(same_prefix)
{
	/* ids that share their first 8 bytes collide on the hash */
	struct idset *s = idset_new();
	uint8_t id[32];
	uint64_t v;
	int i;

	memset(id, 0xab, 32);
	for (i = 0; i < 200; i++) {
		id[31] = (uint8_t)i;
		id[30] = (uint8_t)(i >> 8);
		ck_assert_int_eq(idset_put(s, id, (uint64_t)i, NULL), 0);
	}
	for (i = 0; i < 200; i++) {
		id[31] = (uint8_t)i;
		id[30] = (uint8_t)(i >> 8);
		ck_assert_int_eq(idset_get(s, id, &v), 1);
		ck_assert_uint_eq(v, (uint64_t)i);
	}
	idset_free(s);
}
END_TEST

START_TEST(iterate)
{
	struct idset *s = idset_new();
	uint8_t id[32];
	const uint8_t *p;
	uint64_t v, sum = 0, want = 0;
	size_t pos = 0, n = 0;
	uint32_t i;

	for (i = 0; i < 1000; i++) {
		mkid(id, i);
		idset_put(s, id, i, NULL);
		want += i;
	}
	while (idset_next(s, &pos, &p, &v)) {
		ck_assert_int_eq(idset_get(s, p, NULL), 1);
		sum += v;
		n++;
	}
	ck_assert_uint_eq(n, 1000);
	ck_assert_uint_eq(sum, want);
	idset_free(s);
}
END_TEST

int
main(void)
{
	Suite *s = suite_create("idset");
	TCase *tc = tcase_create("core");
	SRunner *sr;
	int failed;

	tcase_add_test(tc, put_get_grow);
	tcase_add_test(tc, same_prefix);
	tcase_add_test(tc, iterate);
	suite_add_tcase(s, tc);
	sr = srunner_create(s);
	srunner_run_all(sr, CK_NORMAL);
	failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}
