#include "config.h"

#include <check.h>
#include <errno.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "lib/util/buf.h"
#include "lib/util/err.h"

START_TEST(integers_round_trip_little_endian)
{
	struct buf b = {0};
	struct bufr r;
	static const uint8_t want[] = {
		0xab,
		0x34, 0x12,
		0x78, 0x56, 0x34, 0x12,
		0x08, 0x07, 0x06, 0x05, 0x04, 0x03, 0x02, 0x01,
		0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff,
	};

	ck_assert_int_eq(buf_put_u8(&b, 0xab), 0);
	ck_assert_int_eq(buf_put_u16(&b, 0x1234), 0);
	ck_assert_int_eq(buf_put_u32(&b, 0x12345678), 0);
	ck_assert_int_eq(buf_put_u64(&b, 0x0102030405060708ULL), 0);
	ck_assert_int_eq(buf_put_i64(&b, -1), 0);
	ck_assert_uint_eq(b.len, sizeof(want));
	ck_assert_mem_eq(b.data, want, sizeof(want));

	bufr_init(&r, b.data, b.len);
	ck_assert_uint_eq(bufr_u8(&r), 0xab);
	ck_assert_uint_eq(bufr_u16(&r), 0x1234);
	ck_assert_uint_eq(bufr_u32(&r), 0x12345678);
	ck_assert_uint_eq(bufr_u64(&r), 0x0102030405060708ULL);
	ck_assert_int_eq(bufr_i64(&r), -1);
	ck_assert_int_eq(bufr_done(&r), 0);
	buf_free(&b);
	ck_assert_ptr_null(b.data);
	ck_assert_uint_eq(b.len, 0);
}
END_TEST

START_TEST(grows_across_many_puts)
{
	struct buf b;
	size_t i;

	buf_init(&b);
	for (i = 0; i < 10000; i++)
		ck_assert_int_eq(buf_put_u32(&b, (uint32_t)i), 0);
	ck_assert_uint_eq(b.len, 40000);
	ck_assert_uint_ge(b.cap, b.len);
	for (i = 0; i < 10000; i++)
		ck_assert_uint_eq(le32dec(b.data + 4 * i), i);
	buf_reset(&b);
	ck_assert_uint_eq(b.len, 0);
	ck_assert_ptr_nonnull(b.data);
	buf_free(&b);
}
END_TEST

/* Formatted text of any length lands whole: a status line or a config
 * file is never cut at some internal buffer size. */
START_TEST(printf_is_not_truncated)
{
	struct buf b = { 0 };
	char big[5000];
	size_t i;

	memset(big, 'x', sizeof(big) - 1);
	big[sizeof(big) - 1] = 0;
	ck_assert_int_eq(buf_printf(&b, "[%s]", "a"), 0);
	ck_assert_int_eq(buf_printf(&b, "%s|%d", big, 42), 0);
	ck_assert_uint_eq(b.len, 3 + sizeof(big) - 1 + 3);
	ck_assert(memcmp(b.data, "[a]x", 4) == 0);
	for (i = 3; i < 3 + sizeof(big) - 1; i++)
		ck_assert_int_eq(b.data[i], 'x');
	ck_assert(memcmp(b.data + b.len - 3, "|42", 3) == 0);
	buf_free(&b);
}
END_TEST

START_TEST(strings_round_trip)
{
	struct buf b = {0};
	struct bufr r;
	const uint8_t *p;
	size_t n;
	char *s;

	ck_assert_int_eq(buf_put_cstr(&b, "hello"), 0);
	ck_assert_int_eq(buf_put_str(&b, "", 0), 0);
	ck_assert_int_eq(buf_put_cstr(&b, NULL), 0);	/* as empty */
	ck_assert_int_eq(buf_put_cstr(&b, "world"), 0);
	ck_assert_uint_eq(b.len, 4 + 5 + 4 + 4 + 4 + 5);
	ck_assert_uint_eq(le32dec(b.data), 5);

	bufr_init(&r, b.data, b.len);
	p = bufr_str(&r, 5, &n);
	ck_assert_ptr_nonnull(p);
	ck_assert_uint_eq(n, 5);
	ck_assert_mem_eq(p, "hello", 5);
	s = bufr_strdup(&r, 10);
	ck_assert_str_eq(s, "");
	free(s);
	s = bufr_strdup(&r, 0);
	ck_assert_str_eq(s, "");
	free(s);
	s = bufr_strdup(&r, 5);
	ck_assert_str_eq(s, "world");
	free(s);
	ck_assert_int_eq(bufr_done(&r), 0);
	buf_free(&b);
}
END_TEST

START_TEST(str_longer_than_max_is_corrupt)
{
	struct buf b = {0};
	struct bufr r;
	size_t n = 77;

	buf_put_cstr(&b, "toolong");
	bufr_init(&r, b.data, b.len);
	ck_assert_ptr_null(bufr_str(&r, 6, &n));
	ck_assert_int_eq(r.err, BW_ERR_CORRUPT);
	ck_assert_uint_eq(n, 77);	/* untouched on error */
	ck_assert_int_eq(bufr_done(&r), BW_ERR_CORRUPT);
	buf_free(&b);
}
END_TEST

START_TEST(str_length_past_end_is_corrupt)
{
	/* claims 100 bytes, holds 3 */
	static const uint8_t bad[] = { 100, 0, 0, 0, 'a', 'b', 'c' };
	struct bufr r;
	size_t n;

	bufr_init(&r, bad, sizeof(bad));
	ck_assert_ptr_null(bufr_str(&r, 1000, &n));
	ck_assert_int_eq(bufr_done(&r), BW_ERR_CORRUPT);
	bufr_init(&r, bad, sizeof(bad));
	ck_assert_ptr_null(bufr_strdup(&r, 1000));
	ck_assert_int_eq(r.err, BW_ERR_CORRUPT);
}
END_TEST

START_TEST(strdup_refuses_embedded_nul)
{
	struct buf b = {0};
	struct bufr r;

	buf_put_str(&b, "ab\0cd", 5);
	bufr_init(&r, b.data, b.len);
	ck_assert_ptr_null(bufr_strdup(&r, 100));
	ck_assert_int_eq(r.err, BW_ERR_CORRUPT);
	buf_reset(&b);
	buf_put_str(&b, "abcd\0", 5);
	bufr_init(&r, b.data, b.len);
	ck_assert_ptr_null(bufr_strdup(&r, 100));
	ck_assert_int_eq(bufr_done(&r), BW_ERR_CORRUPT);
	buf_free(&b);
}
END_TEST

START_TEST(reader_never_reads_past_end_and_errors_stick)
{
	static const uint8_t three[] = { 1, 2, 3 };
	struct bufr r;
	uint8_t out[4] = { 9, 9, 9, 9 };

	bufr_init(&r, three, sizeof(three));
	ck_assert_uint_eq(bufr_left(&r), 3);
	ck_assert_uint_eq(bufr_u32(&r), 0);
	ck_assert_int_eq(r.err, BW_ERR_CORRUPT);
	/* sticky: even a read that would fit now fails */
	ck_assert_uint_eq(bufr_u8(&r), 0);
	ck_assert_ptr_null(bufr_get(&r, 0));
	ck_assert_uint_eq(bufr_left(&r), 0);
	ck_assert_int_eq(bufr_copy(&r, out, 1), BW_ERR_CORRUPT);
	ck_assert_uint_eq(out[0], 9);
	ck_assert_int_eq(bufr_done(&r), BW_ERR_CORRUPT);

	bufr_init(&r, three, sizeof(three));
	ck_assert_int_eq(bufr_copy(&r, out, 2), 0);
	ck_assert_mem_eq(out, "\1\2", 2);
	ck_assert_uint_eq(bufr_left(&r), 1);
	ck_assert_int_eq(bufr_done(&r), BW_ERR_CORRUPT);	/* a byte left over */
	ck_assert_ptr_null(bufr_get(&r, SIZE_MAX));		/* no overflow */
	ck_assert_int_eq(r.err, BW_ERR_CORRUPT);

	bufr_init(&r, three, sizeof(three));
	ck_assert_uint_eq(bufr_u16(&r), 0x0201);
	bufr_fail(&r);
	ck_assert_uint_eq(bufr_u8(&r), 0);
	ck_assert_int_eq(bufr_done(&r), BW_ERR_CORRUPT);

	bufr_init(&r, NULL, 0);
	ck_assert_int_eq(bufr_done(&r), 0);
	ck_assert_uint_eq(bufr_u8(&r), 0);
	ck_assert_int_eq(bufr_done(&r), BW_ERR_CORRUPT);
}
END_TEST

START_TEST(writer_errors_stick)
{
	struct buf b = {0};

	ck_assert_int_eq(buf_put_u8(&b, 1), 0);
	/* a reservation that cannot be met fails without touching the data */
	ck_assert_int_eq(buf_reserve(&b, SIZE_MAX - 8), BW_ERR_NOMEM);
	ck_assert_int_eq(b.err, BW_ERR_NOMEM);
	ck_assert_int_eq(buf_put_u8(&b, 2), BW_ERR_NOMEM);
	ck_assert_int_eq(buf_put(&b, "", 0), BW_ERR_NOMEM);
	ck_assert_ptr_null(buf_extend(&b, 1));
	/* the first code is kept, not replaced by a later one */
	ck_assert_int_eq(buf_put_str(&b, "x", (size_t)UINT32_MAX + 1), BW_ERR_NOMEM);
	ck_assert_int_eq(b.err, BW_ERR_NOMEM);
	ck_assert_uint_eq(b.len, 1);
	ck_assert_uint_eq(b.data[0], 1);
	buf_reset(&b);
	ck_assert_int_eq(b.err, 0);
	ck_assert_int_eq(buf_put_u8(&b, 3), 0);
	buf_free(&b);

	/* a str too long for its u32 length is refused, nothing written */
	ck_assert_int_eq(buf_put_str(&b, "x", (size_t)UINT32_MAX + 1), BW_ERR_INVAL);
	ck_assert_uint_eq(b.len, 0);
	buf_free(&b);
}
END_TEST

START_TEST(steal_detaches)
{
	struct buf b;
	uint8_t *p;
	size_t n = 0;

	buf_init_secret(&b);
	buf_put(&b, "secret", 6);
	buf_put(&b, "-and-more-to-force-a-reallocation-of-the-secret-buffer-"
	    "beyond-sixty-four-bytes", 78);
	ck_assert_uint_eq(b.len, 84);
	ck_assert_mem_eq(b.data, "secret-and", 10);
	p = buf_steal(&b, &n);
	ck_assert_uint_eq(n, 84);
	ck_assert_mem_eq(p, "secret", 6);
	ck_assert_ptr_null(b.data);
	ck_assert_uint_eq(b.len, 0);
	free(p);
	buf_free(&b);
	buf_free(&b);	/* twice is harmless */
}
END_TEST

START_TEST(extend_returns_room)
{
	struct buf b = {0};
	uint8_t *p;

	buf_put_u8(&b, 7);
	p = buf_extend(&b, 3);
	ck_assert_ptr_nonnull(p);
	memcpy(p, "abc", 3);
	ck_assert_uint_eq(b.len, 4);
	ck_assert_mem_eq(b.data, "\7abc", 4);
	buf_free(&b);
}
END_TEST

START_TEST(hex_round_trips)
{
	uint8_t in[256], out[256];
	char hex[513];
	size_t i;

	for (i = 0; i < sizeof(in); i++)
		in[i] = (uint8_t)i;
	hex_encode(hex, in, sizeof(in));
	ck_assert_uint_eq(strlen(hex), 512);
	ck_assert(!strncmp(hex, "000102030405", 12));
	ck_assert(!strcmp(hex + 506, "fdfeff"));
	ck_assert_int_eq(hex_decode(out, sizeof(out), hex), 0);
	ck_assert_mem_eq(out, in, sizeof(in));

	hex_encode(hex, in, 0);
	ck_assert_str_eq(hex, "");
	ck_assert_int_eq(hex_decode(out, 0, ""), 0);

	ck_assert_int_eq(hex_decode(out, 2, "DEad"), 0);
	ck_assert_mem_eq(out, "\xde\xad", 2);
}
END_TEST

START_TEST(hex_decode_refuses_bad_input)
{
	uint8_t out[4];

	ck_assert_int_eq(hex_decode(out, 2, "abc"), BW_ERR_INVAL);	/* short */
	ck_assert_int_eq(hex_decode(out, 2, "a"), BW_ERR_INVAL);
	ck_assert_int_eq(hex_decode(out, 2, ""), BW_ERR_INVAL);
	ck_assert_int_eq(hex_decode(out, 2, "abcde"), BW_ERR_INVAL);	/* long */
	ck_assert_int_eq(hex_decode(out, 2, "abcg"), BW_ERR_INVAL);
	ck_assert_int_eq(hex_decode(out, 2, "ab c"), BW_ERR_INVAL);
	ck_assert_int_eq(hex_decode(out, 2, "0x12"), BW_ERR_INVAL);
}
END_TEST

START_TEST(err_codes_and_messages)
{
	int e;

	ck_assert_int_eq(bw_err_from_errno(0), BW_OK);
	ck_assert_int_eq(bw_err_from_errno(ENOSPC), BW_ERR_NOSPC);
	ck_assert_int_eq(bw_err_from_errno(EDQUOT), BW_ERR_NOSPC);
	ck_assert_int_eq(bw_err_from_errno(ENOENT), BW_ERR_NOENT);
	ck_assert_int_eq(bw_err_from_errno(EEXIST), BW_ERR_EXIST);
	ck_assert_int_eq(bw_err_from_errno(EACCES), BW_ERR_PERM);
	ck_assert_int_eq(bw_err_from_errno(EIO), BW_ERR_IO);
	ck_assert_int_eq(bw_err_from_errno(EWOULDBLOCK), BW_ERR_LOCKED);
	for (e = BW_OK; e >= BW_ERR__MIN; e--)
		ck_assert_str_ne(bw_strerror(e), "unknown error");
	ck_assert_str_eq(bw_strerror(BW_ERR__MIN - 1), "unknown error");
	ck_assert_str_eq(bw_strerror(1), "unknown error");
}
END_TEST

static Suite *
buf_suite(void)
{
	Suite *s = suite_create("buf");
	TCase *tc = tcase_create("buf");

	tcase_add_test(tc, integers_round_trip_little_endian);
	tcase_add_test(tc, grows_across_many_puts);
	tcase_add_test(tc, strings_round_trip);
	tcase_add_test(tc, printf_is_not_truncated);
	tcase_add_test(tc, str_longer_than_max_is_corrupt);
	tcase_add_test(tc, str_length_past_end_is_corrupt);
	tcase_add_test(tc, strdup_refuses_embedded_nul);
	tcase_add_test(tc, reader_never_reads_past_end_and_errors_stick);
	tcase_add_test(tc, writer_errors_stick);
	tcase_add_test(tc, steal_detaches);
	tcase_add_test(tc, extend_returns_room);
	tcase_add_test(tc, hex_round_trips);
	tcase_add_test(tc, hex_decode_refuses_bad_input);
	tcase_add_test(tc, err_codes_and_messages);
	suite_add_tcase(s, tc);
	return s;
}

int
main(void)
{
	SRunner *sr = srunner_create(buf_suite());
	int failed;

	srunner_run_all(sr, CK_NORMAL);
	failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}
