#include "config.h"

#include <check.h>
#include <pthread.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "lib/util/bufpool.h"

#if defined(__SANITIZE_ADDRESS__)
#define TEST_ASAN 1
#elif defined(__has_feature)
#if __has_feature(address_sanitizer)
#define TEST_ASAN 1
#endif
#endif
#ifdef TEST_ASAN
#include <sanitizer/asan_interface.h>
#endif

START_TEST(a_buffer_given_back_is_reused)
{
	struct bufpool *p = bufpool_new(4096, 2);
	uint8_t *a, *b;

	ck_assert_ptr_nonnull(p);
	ck_assert_uint_eq(bufpool_size(p), 4096);
	a = bufpool_get(p);
	ck_assert_ptr_nonnull(a);
	memset(a, 0xaa, 4096);		/* all of it is usable */
	bufpool_put(p, a, 4096);
	b = bufpool_get(p);
	ck_assert_ptr_eq(b, a);
	bufpool_put(p, b, 4096);
	bufpool_free(p);
}
END_TEST

START_TEST(idle_buffers_are_bounded)
{
	struct bufpool *p = bufpool_new(1024, 2);
	void *b[3], *again[3];
	int i, j, reused = 0;

	for (i = 0; i < 3; i++)
		ck_assert_ptr_nonnull(b[i] = bufpool_get(p));
	for (i = 0; i < 3; i++)
		bufpool_put(p, b[i], 1024);	/* the third is freed */
	for (i = 0; i < 3; i++)
		ck_assert_ptr_nonnull(again[i] = bufpool_get(p));
	/* the two kept come back, most recent first; the third is new
	 * memory (malloc may or may not hand out the freed address) */
	ck_assert_ptr_eq(again[0], b[1]);
	ck_assert_ptr_eq(again[1], b[0]);
	for (i = 0; i < 3; i++)
		for (j = 0; j < 2; j++)
			reused += again[i] == b[j];
	ck_assert_int_eq(reused, 2);
	for (i = 0; i < 3; i++)
		bufpool_put(p, again[i], 1024);
	bufpool_free(p);
}
END_TEST

START_TEST(other_sizes_are_freed_not_kept)
{
	struct bufpool *p = bufpool_new(1024, 4);
	void *grown = bufpool_get(p), *small = malloc(100), *b;

	/* a pool buffer that was grown by realloc is no longer the pool's
	 * size: giving it back frees it */
	ck_assert_ptr_nonnull(grown = realloc(grown, 4096));
	bufpool_put(p, grown, 4096);
	bufpool_put(p, small, 100);
	bufpool_put(p, NULL, 1024);	/* nothing */
	b = bufpool_get(p);		/* a new one: nothing was kept */
	ck_assert_ptr_nonnull(b);
	memset(b, 0, 1024);
	bufpool_put(p, b, 1024);
	bufpool_free(p);		/* frees the idle one (LSan would see a leak) */
	bufpool_free(NULL);
}
END_TEST

START_TEST(idle_buffers_are_poisoned_under_asan)
{
#ifdef TEST_ASAN
	struct bufpool *p = bufpool_new(512, 1);
	uint8_t *b = bufpool_get(p);

	ck_assert_int_eq(__asan_region_is_poisoned(b, 512) == NULL, 1);
	bufpool_put(p, b, 512);
	/* a use after giving it back is reported like a use after free */
	ck_assert_ptr_eq(__asan_region_is_poisoned(b, 512), b);
	b = bufpool_get(p);
	ck_assert_ptr_null(__asan_region_is_poisoned(b, 512));
	bufpool_put(p, b, 512);
	bufpool_free(p);
#endif
}
END_TEST

/* Threads take and give back buffers, each filling its buffer with its own
 * byte and checking it is still there before giving it back: a buffer
 * handed to two threads at once would show the other's byte. */
struct worker_arg {
	struct bufpool *p;
	uint8_t tag;
	int bad;
};

static void *
churn(void *arg)
{
	struct worker_arg *w = arg;
	size_t n = bufpool_size(w->p), k;
	int i;

	for (i = 0; i < 2000; i++) {
		uint8_t *b = bufpool_get(w->p);

		if (!b) {
			w->bad = 1;
			break;
		}
		memset(b, w->tag, n);
		for (k = 0; k < n; k += 97)
			if (b[k] != w->tag)
				w->bad = 1;
		bufpool_put(w->p, b, n);
	}
	return NULL;
}

START_TEST(threads_never_share_a_buffer)
{
	struct bufpool *p = bufpool_new(8192, 2);
	struct worker_arg w[4];
	pthread_t t[4];
	int i;

	for (i = 0; i < 4; i++) {
		w[i] = (struct worker_arg){ .p = p, .tag = (uint8_t)(i + 1) };
		ck_assert_int_eq(pthread_create(&t[i], NULL, churn, &w[i]), 0);
	}
	for (i = 0; i < 4; i++) {
		pthread_join(t[i], NULL);
		ck_assert_int_eq(w[i].bad, 0);
	}
	bufpool_free(p);
}
END_TEST

static Suite *
bufpool_suite(void)
{
	Suite *s = suite_create("bufpool");
	TCase *tc = tcase_create("bufpool");

	tcase_add_test(tc, a_buffer_given_back_is_reused);
	tcase_add_test(tc, idle_buffers_are_bounded);
	tcase_add_test(tc, other_sizes_are_freed_not_kept);
	tcase_add_test(tc, idle_buffers_are_poisoned_under_asan);
	tcase_add_test(tc, threads_never_share_a_buffer);
	suite_add_tcase(s, tc);
	return s;
}

int
main(void)
{
	SRunner *sr = srunner_create(bufpool_suite());
	int failed;

	srunner_run_all(sr, CK_NORMAL);
	failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}
