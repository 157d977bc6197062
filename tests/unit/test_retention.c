#include "config.h"

#include <check.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "backupd/retention.h"
#include "lib/util/err.h"
#include "lib/util/log.h"

#define NS INT64_C(1000000000)
#define MAXS 64

/* "YYYY-MM-DD HH:MM:SS" in UTC, to ns. */
static int64_t
T(const char *s)
{
	struct tm tm;

	memset(&tm, 0, sizeof(tm));
	ck_assert_ptr_nonnull(strptime(s, "%Y-%m-%d %H:%M:%S", &tm));
	return (int64_t)timegm(&tm) * NS;
}

struct fixture {
	struct retention_snap s[MAXS];
	size_t n;
	struct retention_result r;
	char mask[MAXS + 1];	/* by input index: K kept, F forgotten */
	char why[MAXS][256];	/* reasons joined with "; " */
};

static struct fixture fx;

static void
quiet(enum log_level lvl, const char *msg, void *arg)
{
	(void)lvl; (void)msg; (void)arg;
}

static void
setup(void)
{
	memset(&fx, 0, sizeof(fx));
	log_set_sink(quiet, NULL);
}

static void
teardown(void)
{
	retention_result_free(&fx.r);
	log_set_sink(NULL, NULL);
}

static void
add(const char *when, const char *group)
{
	ck_assert_uint_lt(fx.n, MAXS);
	fx.s[fx.n].time_ns = T(when);
	fx.s[fx.n].index = fx.n;
	fx.s[fx.n].group = group;
	fx.n++;
}

static void
add_ns(int64_t t)
{
	ck_assert_uint_lt(fx.n, MAXS);
	fx.s[fx.n].time_ns = t;
	fx.s[fx.n].index = fx.n;
	fx.n++;
}

static int
run(const struct retention_policy *p)
{
	size_t i, j;
	int err;

	retention_result_free(&fx.r);
	memset(fx.mask, 0, sizeof(fx.mask));
	memset(fx.why, 0, sizeof(fx.why));
	if ((err = retention_apply(p, fx.s, fx.n, &fx.r)))
		return err;
	ck_assert_uint_eq(fx.r.n, fx.n);
	ck_assert_uint_eq(fx.r.nkeep + fx.r.nforget, fx.n);
	for (i = 0; i < fx.r.n; i++) {
		const struct retention_decision *d = &fx.r.d[i];

		ck_assert_uint_lt(d->index, fx.n);
		ck_assert_int_eq(fx.mask[d->index], 0);	/* each once */
		fx.mask[d->index] = d->keep ? 'K' : 'F';
		ck_assert_int_eq(d->keep, d->nreasons > 0);
		for (j = 0; j < d->nreasons; j++) {
			if (j)
				strcat(fx.why[d->index], "; ");
			strcat(fx.why[d->index], d->reasons[j]);
		}
	}
	return 0;
}

START_TEST(test_empty_policy_refused)
{
	struct retention_policy p = { 0 };
	unsigned long errs = log_error_count();

	add("2026-11-20 10:00:00", NULL);
	ck_assert_int_eq(retention_policy_empty(&p), 1);
	ck_assert_int_eq(run(&p), BW_ERR_INVAL);
	ck_assert_uint_eq(log_error_count(), errs + 1);
	ck_assert_ptr_null(fx.r.d);
	ck_assert_uint_eq(fx.r.n, 0);
}
END_TEST

START_TEST(test_bad_values_refused)
{
	struct retention_policy p = { .keep_daily = -2 };
	struct retention_policy q = { .keep_within_ns = -1 };

	add("2026-11-20 10:00:00", NULL);
	ck_assert_int_eq(run(&p), BW_ERR_INVAL);
	ck_assert_int_eq(run(&q), BW_ERR_INVAL);
}
END_TEST

START_TEST(test_no_snapshots)
{
	struct retention_policy p = { .keep_last = 1 };

	ck_assert_int_eq(run(&p), 0);
	ck_assert_uint_eq(fx.r.n, 0);
}
END_TEST

START_TEST(test_keep_last)
{
	struct retention_policy p = { .keep_last = 3 };

	/* Input order is not time order. */
	add("2026-11-18 10:00:00", NULL);
	add("2026-11-20 10:00:00", NULL);
	add("2026-11-16 10:00:00", NULL);
	add("2026-11-19 10:00:00", NULL);
	add("2026-11-17 10:00:00", NULL);
	ck_assert_int_eq(run(&p), 0);
	ck_assert_str_eq(fx.mask, "KKFKF");
	ck_assert_str_eq(fx.why[1], "last 1");
	ck_assert_str_eq(fx.why[3], "last 2");
	ck_assert_str_eq(fx.why[0], "last 3");
	ck_assert_uint_eq(fx.r.nkeep, 3);
	ck_assert_uint_eq(fx.r.nforget, 2);
	/* Table order: newest first. */
	ck_assert_uint_eq(fx.r.d[0].index, 1);
	ck_assert_uint_eq(fx.r.d[4].index, 2);
}
END_TEST

START_TEST(test_keep_last_more_than_there_are)
{
	struct retention_policy p = { .keep_last = 10 };

	add("2026-11-20 10:00:00", NULL);
	add("2026-11-19 10:00:00", NULL);
	ck_assert_int_eq(run(&p), 0);
	ck_assert_str_eq(fx.mask, "KK");
	ck_assert_str_eq(fx.why[1], "last 2");
}
END_TEST

START_TEST(test_keep_daily_newest_per_day)
{
	struct retention_policy p = { .keep_daily = 2 };

	add("2026-11-20 23:59:59", NULL);	/* newest of the 20th */
	add("2026-11-20 00:00:00", NULL);
	add("2026-11-19 23:59:59", NULL);	/* newest of the 19th */
	add("2026-11-19 12:00:00", NULL);
	add("2026-11-18 12:00:00", NULL);	/* third day: out of count */
	add("2026-11-17 12:00:00", NULL);
	ck_assert_int_eq(run(&p), 0);
	ck_assert_str_eq(fx.mask, "KFKFFF");
	ck_assert_str_eq(fx.why[0], "daily 2026-11-20");
	ck_assert_str_eq(fx.why[2], "daily 2026-11-19");
}
END_TEST

START_TEST(test_day_boundary_nanoseconds)
{
	struct retention_policy p = { .keep_daily = 2 };

	/* One nanosecond apart, on two different days. */
	add_ns(T("2026-11-21 00:00:00"));
	add_ns(T("2026-11-21 00:00:00") - 1);
	add_ns(T("2026-11-20 00:00:00"));
	ck_assert_int_eq(run(&p), 0);
	ck_assert_str_eq(fx.mask, "KKF");
	ck_assert_str_eq(fx.why[0], "daily 2026-11-21");
	ck_assert_str_eq(fx.why[1], "daily 2026-11-20");
}
END_TEST

START_TEST(test_keep_hourly)
{
	struct retention_policy p = { .keep_hourly = 3 };

	add("2026-11-20 13:59:00", NULL);
	add("2026-11-20 13:01:00", NULL);
	add("2026-11-20 12:30:00", NULL);
	/* The previous day's last hour is a distinct period. */
	add("2026-11-19 23:10:00", NULL);
	add("2026-11-19 23:00:00", NULL);
	add("2026-11-19 22:00:00", NULL);
	ck_assert_int_eq(run(&p), 0);
	ck_assert_str_eq(fx.mask, "KFKKFF");
	ck_assert_str_eq(fx.why[0], "hourly 2026-11-20 13:00");
	ck_assert_str_eq(fx.why[3], "hourly 2026-11-19 23:00");
}
END_TEST

START_TEST(test_keep_weekly_iso)
{
	struct retention_policy p = { .keep_weekly = 4 };

	/* 2026 starts on a Thursday, so it has an ISO week 53 that runs from
	 * Monday 2026-12-28 to Sunday 2027-01-03. */
	add("2027-01-04 00:00:00", NULL);	/* Monday: 2027-W01 */
	add("2027-01-03 23:59:59", NULL);	/* Sunday: 2026-W53 */
	add("2027-01-01 12:00:00", NULL);	/* 2026-W53 */
	add("2026-12-28 00:00:00", NULL);	/* 2026-W53 */
	add("2026-12-27 23:59:59", NULL);	/* Sunday: 2026-W52 */
	add("2026-12-21 00:00:00", NULL);	/* 2026-W52 */
	add("2026-12-20 10:00:00", NULL);	/* 2026-W51 */
	add("2026-12-13 10:00:00", NULL);	/* 2026-W50: out of count */
	ck_assert_int_eq(run(&p), 0);
	ck_assert_str_eq(fx.mask, "KKFFKFKF");
	ck_assert_str_eq(fx.why[0], "weekly 2027-W01");
	ck_assert_str_eq(fx.why[1], "weekly 2026-W53");
	ck_assert_str_eq(fx.why[4], "weekly 2026-W52");
	ck_assert_str_eq(fx.why[6], "weekly 2026-W51");
}
END_TEST

START_TEST(test_weekly_iso_year_differs)
{
	struct retention_policy p = { .keep_weekly = RETENTION_UNLIMITED };

	/* Monday 2024-12-30 is in 2025-W01, together with 2025-01-01. */
	add("2025-01-01 08:00:00", NULL);
	add("2024-12-30 08:00:00", NULL);
	add("2024-12-29 08:00:00", NULL);	/* Sunday: 2024-W52 */
	/* 2021-01-03 (Sunday) still belongs to 2020-W53. */
	add("2021-01-03 08:00:00", NULL);
	add("2021-01-01 08:00:00", NULL);
	ck_assert_int_eq(run(&p), 0);
	ck_assert_str_eq(fx.mask, "KFKKK");
	ck_assert_str_eq(fx.why[0], "weekly 2025-W01");
	ck_assert_str_eq(fx.why[2], "weekly 2024-W52");
	ck_assert_str_eq(fx.why[3], "weekly 2020-W53");
	/* The oldest snapshot is kept while the bucket still has room. */
	ck_assert_str_eq(fx.why[4], "oldest weekly 2020-W53");
}
END_TEST

START_TEST(test_monthly_yearly_year_boundary)
{
	struct retention_policy p = { .keep_monthly = 2, .keep_yearly = 2 };

	add("2026-01-01 00:00:00", NULL);
	add("2025-12-31 23:59:59", NULL);
	add("2025-12-01 00:00:00", NULL);
	add("2025-11-30 23:59:59", NULL);
	add("2024-06-01 00:00:00", NULL);
	add("2024-01-01 00:00:00", NULL);
	ck_assert_int_eq(run(&p), 0);
	ck_assert_str_eq(fx.mask, "KKFFFF");
	ck_assert_str_eq(fx.why[0], "monthly 2026-01; yearly 2026");
	ck_assert_str_eq(fx.why[1], "monthly 2025-12; yearly 2025");
}
END_TEST

START_TEST(test_oldest_kept_when_bucket_not_full)
{
	struct retention_policy p = { .keep_daily = 5 };

	add("2026-11-20 18:00:00", NULL);
	add("2026-11-20 06:00:00", NULL);
	add("2026-11-19 18:00:00", NULL);
	add("2026-11-19 06:00:00", NULL);	/* oldest, same day as above */
	ck_assert_int_eq(run(&p), 0);
	ck_assert_str_eq(fx.mask, "KFKK");
	ck_assert_str_eq(fx.why[3], "oldest daily 2026-11-19");
}
END_TEST

START_TEST(test_oldest_not_kept_when_bucket_full)
{
	struct retention_policy p = { .keep_daily = 2 };

	add("2026-11-20 18:00:00", NULL);
	add("2026-11-19 18:00:00", NULL);
	add("2026-11-19 06:00:00", NULL);
	ck_assert_int_eq(run(&p), 0);
	ck_assert_str_eq(fx.mask, "KKF");
}
END_TEST

START_TEST(test_duplicates_same_time)
{
	struct retention_policy p = { .keep_last = 1, .keep_daily = 1 };
	struct retention_policy q = { .keep_last = 2 };

	add("2026-11-20 10:00:00", NULL);
	add("2026-11-20 10:00:00", NULL);
	add("2026-11-20 10:00:00", NULL);
	ck_assert_int_eq(run(&p), 0);
	/* Equal times keep the caller's order: the first one is "newest". */
	ck_assert_str_eq(fx.mask, "KFF");
	ck_assert_str_eq(fx.why[0], "last 1; daily 2026-11-20");
	ck_assert_int_eq(run(&q), 0);
	ck_assert_str_eq(fx.mask, "KKF");
	ck_assert_str_eq(fx.why[1], "last 2");
}
END_TEST

START_TEST(test_keep_within)
{
	struct retention_policy p = { .keep_within_ns = 2 * 86400 * NS };

	add("2026-11-20 12:00:00", NULL);
	add("2026-11-19 12:00:00", NULL);
	add("2026-11-18 12:00:01", NULL);	/* 1 s inside */
	add("2026-11-18 12:00:00", NULL);	/* exactly 2 days: not newer */
	add("2026-11-01 12:00:00", NULL);
	ck_assert_int_eq(run(&p), 0);
	ck_assert_str_eq(fx.mask, "KKKFF");
	ck_assert_str_eq(fx.why[0], "within 2d");
	ck_assert_str_eq(fx.why[2], "within 2d");
}
END_TEST

START_TEST(test_keep_within_relative_to_group_newest)
{
	struct retention_policy p = { .keep_within_ns = 3600 * NS + 30 * 60 * NS };

	/* Group "a" is old, but within counts from its own newest. */
	add("2020-01-01 12:00:00", "a");
	add("2020-01-01 11:00:00", "a");
	add("2020-01-01 10:00:00", "a");
	add("2026-11-20 12:00:00", "b");
	add("2026-11-20 09:00:00", "b");
	ck_assert_int_eq(run(&p), 0);
	ck_assert_str_eq(fx.mask, "KKFKF");
	ck_assert_str_eq(fx.why[1], "within 1h30m");
}
END_TEST

START_TEST(test_keep_tags)
{
	static const char *const ab[] = { "a", "b" };
	static const char *const a[] = { "a" };
	static const char *const c[] = { "c" };
	static const char *const lists[] = { "a,b", "c" };
	static const char *const untagged[] = { "" };
	struct retention_policy p = { .keep_tags = lists, .nkeep_tags = 2 };
	struct retention_policy q = { .keep_tags = untagged, .nkeep_tags = 1 };

	add("2026-11-20 12:00:00", NULL);
	fx.s[0].tags = a; fx.s[0].ntags = 1;
	add("2026-11-19 12:00:00", NULL);
	fx.s[1].tags = ab; fx.s[1].ntags = 2;
	add("2026-11-18 12:00:00", NULL);
	fx.s[2].tags = c; fx.s[2].ntags = 1;
	add("2026-11-17 12:00:00", NULL);
	ck_assert_int_eq(run(&p), 0);
	ck_assert_str_eq(fx.mask, "FKKF");
	ck_assert_str_eq(fx.why[1], "tags a,b");
	ck_assert_str_eq(fx.why[2], "tags c");
	ck_assert_int_eq(run(&q), 0);
	ck_assert_str_eq(fx.mask, "FFFK");
}
END_TEST

START_TEST(test_tags_do_not_use_counts)
{
	static const char *const a[] = { "a" };
	static const char *const lists[] = { "a" };
	struct retention_policy p = { .keep_last = 1, .keep_tags = lists,
	    .nkeep_tags = 1 };

	add("2026-11-20 12:00:00", NULL);
	fx.s[0].tags = a; fx.s[0].ntags = 1;
	add("2026-11-19 12:00:00", NULL);
	fx.s[1].tags = a; fx.s[1].ntags = 1;
	add("2026-11-18 12:00:00", NULL);
	ck_assert_int_eq(run(&p), 0);
	/* Tagged snapshots are kept, but the newest also uses up last 1. */
	ck_assert_str_eq(fx.mask, "KKF");
	ck_assert_str_eq(fx.why[0], "tags a; last 1");
	ck_assert_str_eq(fx.why[1], "tags a");
}
END_TEST

START_TEST(test_several_groups)
{
	struct retention_policy p = { .keep_last = 1, .keep_daily = 2 };

	add("2026-11-20 10:00:00", "web");
	add("2026-11-20 11:00:00", "db");
	add("2026-11-20 09:00:00", "web");
	add("2026-11-19 11:00:00", "db");
	add("2026-11-18 11:00:00", "db");
	add("2026-11-19 10:00:00", "web");
	add("2026-11-18 10:00:00", NULL);	/* its own group "" */
	ck_assert_int_eq(run(&p), 0);
	ck_assert_str_eq(fx.mask, "KKFKFKK");
	ck_assert_str_eq(fx.why[1], "last 1; daily 2026-11-20");
	ck_assert_str_eq(fx.why[0], "last 1; daily 2026-11-20");
	ck_assert_str_eq(fx.why[5], "daily 2026-11-19");
	ck_assert_str_eq(fx.why[6], "last 1; daily 2026-11-18");
	/* Table order: groups by key, newest first within each. */
	ck_assert_str_eq(fx.r.d[0].group, "");
	ck_assert_str_eq(fx.r.d[1].group, "db");
	ck_assert_uint_eq(fx.r.d[1].index, 1);
	ck_assert_uint_eq(fx.r.d[2].index, 3);
	ck_assert_uint_eq(fx.r.d[3].index, 4);
	ck_assert_str_eq(fx.r.d[4].group, "web");
	ck_assert_uint_eq(fx.r.d[4].index, 0);
	ck_assert_uint_eq(fx.r.d[5].index, 2);
	ck_assert_uint_eq(fx.r.d[6].index, 5);
}
END_TEST

/* The classic schedule: hourly backups for 60 days. */
START_TEST(test_combined_schedule)
{
	struct retention_policy p = { .keep_last = 2, .keep_daily = 7,
	    .keep_weekly = 4, .keep_monthly = 2 };
	struct retention_snap *s;
	struct retention_result r;
	const int64_t end = T("2026-11-20 23:00:00");
	size_t i, n = 60 * 24, kept_daily = 0, kept = 0;

	s = calloc(n, sizeof(*s));
	ck_assert_ptr_nonnull(s);
	for (i = 0; i < n; i++) {
		s[i].time_ns = end - (int64_t)i * 3600 * NS;
		s[i].index = i;
	}
	ck_assert_int_eq(retention_apply(&p, s, n, &r), 0);
	for (i = 0; i < r.n; i++) {
		if (!r.d[i].keep)
			continue;
		kept++;
		if (r.d[i].index > 0 && r.d[i].index < 7 * 24)
			kept_daily += r.d[i].index % 24 == 0;
	}
	/* last: 23:00 and 22:00 of the 20th; daily: 23:00 of the 20th..14th;
	 * weekly: W47 and W46 (Sunday the 15th) are daily already, then
	 * Sundays 23:00 of W45 (8th) and W44 (1st); monthly: November is
	 * kept already, then October 31st 23:00. */
	ck_assert_uint_eq(kept_daily, 6);
	ck_assert_uint_eq(kept, 2 + 6 + 2 + 1);
	ck_assert_int_eq(r.d[0].keep, 1);
	ck_assert_str_eq(r.d[0].reasons[0], "last 1");
	ck_assert_str_eq(r.d[0].reasons[1], "daily 2026-11-20");
	ck_assert_str_eq(r.d[0].reasons[2], "weekly 2026-W47");
	ck_assert_str_eq(r.d[0].reasons[3], "monthly 2026-11");
	retention_result_free(&r);
	retention_result_free(&r);	/* freeing twice is harmless */
	free(s);
}
END_TEST

START_TEST(test_before_epoch)
{
	struct retention_policy p = { .keep_daily = 3, .keep_hourly = 1 };

	add_ns(T("1970-01-01 00:00:00"));
	add_ns(T("1970-01-01 00:00:00") - 1);
	add_ns(T("1969-12-31 00:00:00"));
	ck_assert_int_eq(run(&p), 0);
	ck_assert_str_eq(fx.mask, "KKK");
	ck_assert_str_eq(fx.why[1], "daily 1969-12-31");
	ck_assert_str_eq(fx.why[0], "hourly 1970-01-01 00:00; daily 1970-01-01");
	ck_assert_str_eq(fx.why[2], "oldest daily 1969-12-31");
}
END_TEST

/* Every day from 1900 to 2100: our calendar labels agree with the C
 * library's (strftime %F and %G-W%V). */
START_TEST(test_calendar_matches_libc)
{
	struct retention_policy p = { .keep_daily = 1, .keep_weekly = 1 };
	struct retention_snap s = { 0 };
	struct retention_result r;
	char want[64];
	struct tm tm;
	time_t t;
	int64_t day;

	for (day = -25567; day < 47482; day++) {
		t = (time_t)(day * 86400 + 43200);
		ck_assert_ptr_nonnull(gmtime_r(&t, &tm));
		s.time_ns = (int64_t)t * NS;
		ck_assert_int_eq(retention_apply(&p, &s, 1, &r), 0);
		ck_assert_uint_eq(r.d[0].nreasons, 2);
		strftime(want, sizeof(want), "daily %Y-%m-%d", &tm);
		ck_assert_str_eq(r.d[0].reasons[0], want);
		strftime(want, sizeof(want), "weekly %G-W%V", &tm);
		ck_assert_str_eq(r.d[0].reasons[1], want);
		retention_result_free(&r);
	}
}
END_TEST

static Suite *
retention_suite(void)
{
	Suite *s = suite_create("retention");
	TCase *tc = tcase_create("policy");

	tcase_add_checked_fixture(tc, setup, teardown);
	tcase_add_test(tc, test_empty_policy_refused);
	tcase_add_test(tc, test_bad_values_refused);
	tcase_add_test(tc, test_no_snapshots);
	tcase_add_test(tc, test_keep_last);
	tcase_add_test(tc, test_keep_last_more_than_there_are);
	tcase_add_test(tc, test_keep_daily_newest_per_day);
	tcase_add_test(tc, test_day_boundary_nanoseconds);
	tcase_add_test(tc, test_keep_hourly);
	tcase_add_test(tc, test_keep_weekly_iso);
	tcase_add_test(tc, test_weekly_iso_year_differs);
	tcase_add_test(tc, test_monthly_yearly_year_boundary);
	tcase_add_test(tc, test_oldest_kept_when_bucket_not_full);
	tcase_add_test(tc, test_oldest_not_kept_when_bucket_full);
	tcase_add_test(tc, test_duplicates_same_time);
	tcase_add_test(tc, test_keep_within);
	tcase_add_test(tc, test_keep_within_relative_to_group_newest);
	tcase_add_test(tc, test_keep_tags);
	tcase_add_test(tc, test_tags_do_not_use_counts);
	tcase_add_test(tc, test_several_groups);
	tcase_add_test(tc, test_combined_schedule);
	tcase_add_test(tc, test_before_epoch);
	tcase_add_test(tc, test_calendar_matches_libc);
	suite_add_tcase(s, tc);
	return s;
}

int
main(void)
{
	SRunner *sr = srunner_create(retention_suite());
	int failed;

	srunner_run_all(sr, CK_NORMAL);
	failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}
