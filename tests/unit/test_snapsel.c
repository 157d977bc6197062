/* Choosing a snapshot: latest, id prefixes, times, sets and tags. */
#include "config.h"

#include <check.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "lib/repo/snapsel.h"
#include "lib/util/err.h"
#include "lib/util/log.h"

static char last_error[2048];

static void
capture(enum log_level lvl, const char *msg, void *arg)
{
	(void)arg;
	if (lvl == LOG_LVL_ERROR)
		snprintf(last_error, sizeof(last_error), "%s", msg);
}

static int64_t
utc_ns(int y, int mo, int d, int h, int mi, int s)
{
	struct tm tm = { .tm_year = y - 1900, .tm_mon = mo - 1, .tm_mday = d,
	    .tm_hour = h, .tm_min = mi, .tm_sec = s };

	return (int64_t)timegm(&tm) * 1000000000LL;
}

static char *set_www = "www", *set_db = "db";
static char *tags_daily[] = { "daily" }, *tags_dw[] = { "daily", "weekly" };
static struct snap_info v[4];

/* Four snapshots, oldest first as repo_snapshots gives them:
 *   0 ab12.. 2026-11-21 02:00:00 UTC  www  daily
 *   1 ab34.. 2026-11-22 02:00:00 UTC  www  daily,weekly
 *   2 cd56.. 2026-11-22 14:30:15 UTC  db   daily
 *   3 ef78.. 2026-11-23 02:00:00 UTC  www  (no tags) */
static void
setup(void)
{
	static const uint8_t first[4][2] = { { 0xab, 0x12 }, { 0xab, 0x34 }, { 0xcd, 0x56 },
	    { 0xef, 0x78 } };
	size_t i;

	memset(v, 0, sizeof(v));
	for (i = 0; i < 4; i++) {
		memcpy(v[i].id, first[i], 2);
		v[i].id[31] = (uint8_t)i;
	}
	v[0].time_ns = utc_ns(2026, 11, 21, 2, 0, 0);
	v[1].time_ns = utc_ns(2026, 11, 22, 2, 0, 0);
	v[2].time_ns = utc_ns(2026, 11, 22, 14, 30, 15) + 500000000;
	v[3].time_ns = utc_ns(2026, 11, 23, 2, 0, 0);
	v[0].set = v[1].set = v[3].set = set_www;
	v[2].set = set_db;
	v[0].tags = v[2].tags = tags_daily;
	v[0].ntags = v[2].ntags = 1;
	v[1].tags = tags_dw;
	v[1].ntags = 2;
	setenv("TZ", "UTC0", 1);
	tzset();
	log_set_sink(capture, NULL);
	last_error[0] = 0;
}

static size_t
pick(const char *spec, const char *set, const char *tag, int want_rc)
{
	size_t idx = 99;

	ck_assert_int_eq(snapsel_pick(v, 4, spec, set, tag, &idx), want_rc);
	return idx;
}

START_TEST(latest_within_set_and_tag)
{
	ck_assert_uint_eq(pick("latest", NULL, NULL, 0), 3);
	ck_assert_uint_eq(pick("latest", "db", NULL, 0), 2);
	ck_assert_uint_eq(pick("latest", NULL, "daily", 0), 2);
	ck_assert_uint_eq(pick("latest", "www", "daily", 0), 1);
	ck_assert_uint_eq(pick("latest", "www", "weekly", 0), 1);
	pick("latest", "www", "monthly", BW_ERR_NOENT);
	ck_assert_ptr_nonnull(strstr(last_error, "in set 'www' with tag 'monthly'"));
	ck_assert_uint_eq(snapsel_pick(v, 0, "latest", NULL, NULL, &(size_t){ 0 }), BW_ERR_NOENT);
	ck_assert_ptr_nonnull(strstr(last_error, "no snapshots yet"));
}
END_TEST

START_TEST(id_prefixes)
{
	ck_assert_uint_eq(pick("cd", NULL, NULL, 0), 2);
	ck_assert_uint_eq(pick("AB34", NULL, NULL, 0), 1);	/* either case */
	ck_assert_uint_eq(pick("ab", "www", "weekly", 0), 1);	/* unique within the filter */
	pick("ab", NULL, NULL, BW_ERR_INVAL);
	/* the message lists both candidates with their times */
	ck_assert_ptr_nonnull(strstr(last_error, "matches 2 snapshots"));
	ck_assert_ptr_nonnull(strstr(last_error, "ab12000000000000 2026-11-21 02:00:00Z"));
	ck_assert_ptr_nonnull(strstr(last_error, "ab34000000000000 2026-11-22 02:00:00Z"));
	ck_assert_ptr_nonnull(strstr(last_error, "more digits"));
	pick("99", NULL, NULL, BW_ERR_NOENT);
	ck_assert_ptr_nonnull(strstr(last_error, "'99'"));
	ck_assert_ptr_nonnull(strstr(last_error, "bulwark snapshots"));
	pick("cd", "www", NULL, BW_ERR_NOENT);
	ck_assert_ptr_nonnull(strstr(last_error, "in set 'www'"));
	pick("xyz", NULL, NULL, BW_ERR_INVAL);
	ck_assert_ptr_nonnull(strstr(last_error, "'xyz' is not a snapshot"));
	pick("", NULL, NULL, BW_ERR_INVAL);
	/* longer than an id */
	pick("ab12000000000000000000000000000000000000000000000000000000000000000",
	    NULL, NULL, BW_ERR_INVAL);
}
END_TEST

START_TEST(times_newest_at_or_before)
{
	/* a day means its end: the last snapshot of that day */
	ck_assert_uint_eq(pick("2026-11-22", NULL, NULL, 0), 2);
	ck_assert_uint_eq(pick("2026-11-22", "www", NULL, 0), 1);
	ck_assert_uint_eq(pick("2026-11-30", NULL, NULL, 0), 3);
	/* exactly at a snapshot's time, and just before it */
	ck_assert_uint_eq(pick("2026-11-22 02:00:00", NULL, NULL, 0), 1);
	ck_assert_uint_eq(pick("2026-11-22 01:59:59", NULL, NULL, 0), 0);
	ck_assert_uint_eq(pick("2026-11-22 02:00", NULL, NULL, 0), 1);
	ck_assert_uint_eq(pick("2026-11-22 01:59", NULL, NULL, 0), 0);
	/* 14:30:15.5 is within the second 14:30:15 and the minute 14:30 */
	ck_assert_uint_eq(pick("2026-11-22 14:30:15", NULL, NULL, 0), 2);
	ck_assert_uint_eq(pick("2026-11-22 14:30:14", NULL, NULL, 0), 1);
	ck_assert_uint_eq(pick("2026-11-22T14:30", NULL, NULL, 0), 2);
	ck_assert_uint_eq(pick("2026-11-22 14:30Z", "db", "daily", 0), 2);
	/* before all */
	pick("2026-11-20 14:00", NULL, NULL, BW_ERR_NOENT);
	ck_assert_str_eq(last_error, "no snapshot at or before 2026-11-20 14:00 (oldest is "
	    "2026-11-21 02:00:00); list them with 'bulwark snapshots'");
	pick("2026-11-22 03:00", "db", NULL, BW_ERR_NOENT);
	ck_assert_ptr_nonnull(strstr(last_error, "in set 'db' at or before"));
	ck_assert_ptr_nonnull(strstr(last_error, "oldest is 2026-11-22 14:30:15"));
	ck_assert_ptr_nonnull(strstr(last_error, "bulwark snapshots --set db"));
}
END_TEST

START_TEST(times_are_local_unless_z)
{
	/* two hours east of UTC: 03:59 local is 01:59 UTC */
	setenv("TZ", "XXX-2", 1);
	tzset();
	ck_assert_uint_eq(pick("2026-11-22 03:59", NULL, NULL, 0), 0);
	ck_assert_uint_eq(pick("2026-11-22 04:00", NULL, NULL, 0), 1);
	ck_assert_uint_eq(pick("2026-11-22 03:59Z", NULL, NULL, 0), 1);
	/* 02:00 UTC on the 23rd is 04:00 local */
	ck_assert_uint_eq(pick("2026-11-23 03:00", NULL, NULL, 0), 2);
	ck_assert_uint_eq(pick("2026-11-23 03:00Z", NULL, NULL, 0), 3);
	pick("2026-11-21 03:00", NULL, NULL, BW_ERR_NOENT);
	ck_assert_ptr_nonnull(strstr(last_error, "oldest is 2026-11-21 04:00:00"));
	pick("2026-11-21 01:00Z", NULL, NULL, BW_ERR_NOENT);
	ck_assert_ptr_nonnull(strstr(last_error, "at or before 2026-11-21 01:00 UTC"));
	ck_assert_ptr_nonnull(strstr(last_error, "oldest is 2026-11-21 02:00:00Z"));
}
END_TEST

START_TEST(malformed_times)
{
	static const char *bad[] = {
		"2026-13-01", "2026-02-29", "2026-11-31", "2026-11-1", "2026-11-22 24:00",
		"2026-11-22 12:60", "2026-11-22 12:00:60", "2026-11-22 12", "2026-11-22 12:00 ",
		"2026-11-22ZZ", "2026-11-22 1:00", "2026-", "0999-01-01",
	};
	int64_t ns;
	size_t i;
	int utc;

	for (i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		last_error[0] = 0;
		ck_assert_msg(snapsel_parse_time(bad[i], &ns, &utc) == BW_ERR_INVAL, "%s", bad[i]);
		ck_assert_ptr_nonnull(strstr(last_error, bad[i]));
		ck_assert_ptr_nonnull(strstr(last_error, "YYYY-MM-DD"));
	}
	ck_assert_int_eq(snapsel_parse_time("2024-02-29", &ns, &utc), 0);
	ck_assert_int_eq(snapsel_parse_time("latest", &ns, &utc), 1);
	ck_assert_int_eq(snapsel_parse_time("2026", &ns, &utc), 1);	/* an id prefix */
	ck_assert_int_eq(snapsel_parse_time("2026-11-22 00:00:00Z", &ns, &utc), 0);
	ck_assert_int_eq(utc, 1);
	ck_assert_int_eq(ns, utc_ns(2026, 11, 22, 0, 0, 1) - 1);
	pick("2026-11-31", NULL, NULL, BW_ERR_INVAL);
	/* past 2262: later than any snapshot, not an overflow */
	ck_assert_int_eq(snapsel_parse_time("2999-01-01 12:00", &ns, &utc), 0);
	ck_assert_int_eq(ns, INT64_MAX);
	ck_assert_uint_eq(pick("2999-01-01", NULL, NULL, 0), 3);
}
END_TEST

START_TEST(filter)
{
	ck_assert(snapsel_filter(&v[1], NULL, NULL));
	ck_assert(snapsel_filter(&v[1], "www", "weekly"));
	ck_assert(!snapsel_filter(&v[1], "db", NULL));
	ck_assert(!snapsel_filter(&v[3], NULL, "daily"));
	v[3].set = NULL;
	ck_assert(!snapsel_filter(&v[3], "www", NULL));
}
END_TEST

int
main(void)
{
	Suite *s = suite_create("snapsel");
	TCase *tc = tcase_create("core");
	SRunner *sr;
	int failed;

	tcase_add_checked_fixture(tc, setup, NULL);
	tcase_add_test(tc, latest_within_set_and_tag);
	tcase_add_test(tc, id_prefixes);
	tcase_add_test(tc, times_newest_at_or_before);
	tcase_add_test(tc, times_are_local_unless_z);
	tcase_add_test(tc, malformed_times);
	tcase_add_test(tc, filter);
	suite_add_tcase(s, tc);
	sr = srunner_create(s);
	srunner_run_all(sr, CK_NORMAL);
	failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}
