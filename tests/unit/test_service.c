#include "config.h"

#include <check.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "config/config.h"
#include "failover/loop.h"
#include "failover/service.h"
#include "lib/util/err.h"
#include "lib/util/log.h"

static char logged[8192];

static void
capture(enum log_level lvl, const char *msg, void *arg)
{
	size_t n = strlen(logged);

	snprintf(logged + n, sizeof(logged) - n, "%s\n", msg);
}

static void
setup(void)
{
	logged[0] = 0;
	log_set_sink(capture, NULL);
	log_set_level(LOG_LVL_DEBUG);
}

struct result {
	int called;
	int err;
	char reason[256];
};

static void
done(struct loop *l, int err, const char *reason, void *arg)
{
	struct result *r = arg;

	r->called++;
	r->err = err;
	snprintf(r->reason, sizeof(r->reason), "%s", reason ? reason : "");
	loop_stop(l);
}

static void
guard(struct loop *l, void *arg)
{
	*(int *)arg = 1;
	loop_stop(l);
}

static struct result
act(const struct service_ops *ops, const struct config_site *site, enum service_action a)
{
	struct loop *l = loop_new();
	struct result r = {0};
	int expired = 0;

	ck_assert_int_eq(ops->run(l, site, "alpha", a, done, &r), 0);
	/* Never from inside the call. */
	ck_assert_int_eq(r.called, 0);
	loop_timer_add(l, 20000, guard, &expired);
	ck_assert_int_eq(loop_run(l), 0);
	ck_assert_int_eq(expired, 0);
	ck_assert_int_eq(r.called, 1);
	loop_free(l);
	return r;
}

static struct config_site
site_with(const char *start, const char *stop, const char *status)
{
	struct config_site s;

	memset(&s, 0, sizeof(s));
	s.name = "www";
	s.start = (char *)start;
	s.stop = (char *)stop;
	s.status = (char *)status;
	s.address = "192.0.2.10/24";
	s.action_timeout_ms = 5000;
	return s;
}

START_TEST(start_runs_the_command_with_the_site_in_its_environment)
{
	struct config_site s = site_with(
	    "echo \"$BULWARK_EVENT $BULWARK_SITE $BULWARK_NODE $BULWARK_ADDRESS\"", NULL, NULL);
	struct result r = act(&service_real, &s, SERVICE_START);

	ck_assert_int_eq(r.err, 0);
	ck_assert_ptr_nonnull(strstr(logged, "site www: start: start www alpha 192.0.2.10\n"));
}
END_TEST

START_TEST(a_failing_action_is_reported_with_its_status)
{
	struct config_site s = site_with("exit 3", NULL, NULL);
	struct result r = act(&service_real, &s, SERVICE_START);

	ck_assert_int_eq(r.err, BW_ERR_IO);
	ck_assert_str_eq(r.reason, "site www: start command exited with status 3");
	ck_assert_ptr_nonnull(strstr(logged, "exited with status 3; the site is given up here"));
}
END_TEST

START_TEST(an_action_past_its_timeout_fails)
{
	struct config_site s = site_with(NULL, "sleep 10", NULL);
	struct result r;

	s.action_timeout_ms = 50;
	r = act(&service_real, &s, SERVICE_STOP);
	ck_assert_int_eq(r.err, BW_ERR_INTR);
	ck_assert_str_eq(r.reason, "site www: stop timed out after 50 ms");
}
END_TEST

START_TEST(status_tells_running_from_not_running_from_unknown)
{
	struct config_site s = site_with(NULL, NULL, "true");

	ck_assert_int_eq(act(&service_real, &s, SERVICE_STATUS).err, 0);
	s.status = "exit 3";
	ck_assert_int_eq(act(&service_real, &s, SERVICE_STATUS).err, BW_ERR_NOENT);
	s.status = NULL;
	ck_assert_int_eq(act(&service_real, &s, SERVICE_STATUS).err, BW_ERR_UNSUPP);
}
END_TEST

START_TEST(hooks_run_and_missing_ones_succeed)
{
	struct config_site s = site_with(NULL, NULL, NULL);

	ck_assert_int_eq(act(&service_real, &s, SERVICE_AFTER_TAKE).err, 0);
	s.after_release = "echo \"released by $BULWARK_NODE: $BULWARK_EVENT\"";
	ck_assert_int_eq(act(&service_real, &s, SERVICE_AFTER_RELEASE).err, 0);
	ck_assert_ptr_nonnull(strstr(logged, "released by alpha: after_release\n"));
	s.after_take = "false";
	ck_assert_int_eq(act(&service_real, &s, SERVICE_AFTER_TAKE).err, BW_ERR_IO);
}
END_TEST

START_TEST(dry_run_says_what_it_would_do)
{
	struct config_site s = site_with(NULL, NULL, NULL);

	s.unit = "nginx.service";
	ck_assert_int_eq(act(&service_null, &s, SERVICE_START).err, 0);
	ck_assert_ptr_nonnull(strstr(logged,
	    "dry run: site www: would run start: systemctl start -- 'nginx.service'"));
	ck_assert_int_eq(act(&service_null, &s, SERVICE_STATUS).err, 0);
	ck_assert_ptr_nonnull(strstr(logged, "systemctl is-active --quiet -- 'nginx.service'"));
}
END_TEST

START_TEST(the_fake_records_calls_and_plays_results)
{
	struct config_site s = site_with("never run", NULL, NULL);

	service_fake_reset();
	service_fake_set(SERVICE_STOP, BW_ERR_IO);
	ck_assert_int_eq(act(&service_fake, &s, SERVICE_START).err, 0);
	ck_assert_int_eq(act(&service_fake, &s, SERVICE_STOP).err, BW_ERR_IO);
	ck_assert_str_eq(service_fake_calls(), "www:start\nwww:stop\n");
}
END_TEST

static Suite *
service_suite(void)
{
	Suite *s = suite_create("service");
	TCase *tc = tcase_create("core");

	tcase_add_checked_fixture(tc, setup, NULL);
	tcase_add_test(tc, start_runs_the_command_with_the_site_in_its_environment);
	tcase_add_test(tc, a_failing_action_is_reported_with_its_status);
	tcase_add_test(tc, an_action_past_its_timeout_fails);
	tcase_add_test(tc, status_tells_running_from_not_running_from_unknown);
	tcase_add_test(tc, hooks_run_and_missing_ones_succeed);
	tcase_add_test(tc, dry_run_says_what_it_would_do);
	tcase_add_test(tc, the_fake_records_calls_and_plays_results);
	suite_add_tcase(s, tc);
	return s;
}

int
main(void)
{
	SRunner *sr = srunner_create(service_suite());
	int failed;

	srunner_run_all(sr, CK_NORMAL);
	failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}
