#include "config.h"

#include <sys/socket.h>
#include <check.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "failover/addr.h"
#include "failover/loop.h"
#include "failover/ops.h"
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
	log_reset_count();
	addr_fake_reset();
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

static void
finish(struct loop *l, struct result *r)
{
	int expired = 0;

	ck_assert_int_eq(r->called, 0);	/* never from inside the call */
	loop_timer_add(l, 20000, guard, &expired);
	ck_assert_int_eq(loop_run(l), 0);
	ck_assert_int_eq(expired, 0);
	ck_assert_int_eq(r->called, 1);
}

START_TEST(addresses_parse_with_their_prefix)
{
	struct addr_spec a;

	ck_assert_int_eq(addr_parse("192.0.2.10/24", "eth0", &a), 0);
	ck_assert_int_eq(a.family, AF_INET);
	ck_assert_uint_eq(a.prefix, 24);
	ck_assert_mem_eq(a.addr, "\xc0\x00\x02\x0a", 4);
	ck_assert_str_eq(a.text, "192.0.2.10/24 on eth0");
	ck_assert_int_eq(addr_parse("2001:db8::10/64", "eth1", &a), 0);
	ck_assert_int_eq(a.family, AF_INET6);
	ck_assert_uint_eq(a.prefix, 64);
	ck_assert_uint_eq(a.addr[15], 0x10);

	ck_assert_int_eq(addr_parse("192.0.2.10", "eth0", &a), BW_ERR_INVAL);
	ck_assert_int_eq(addr_parse("192.0.2.10/33", "eth0", &a), BW_ERR_INVAL);
	ck_assert_int_eq(addr_parse("192.0.2.10/0", "eth0", &a), BW_ERR_INVAL);
	ck_assert_int_eq(addr_parse("192.0.2.10/24x", "eth0", &a), BW_ERR_INVAL);
	ck_assert_int_eq(addr_parse("2001:db8::10/129", "eth0", &a), BW_ERR_INVAL);
	ck_assert_int_eq(addr_parse("www.example/24", "eth0", &a), BW_ERR_INVAL);
	ck_assert_int_eq(addr_parse("192.0.2.10/24", "", &a), BW_ERR_INVAL);
	ck_assert_int_eq(addr_parse("192.0.2.10/24", "an-interface-name-too-long", &a),
	    BW_ERR_INVAL);
}
END_TEST

START_TEST(present_reads_the_loopback_interface)
{
	struct loop *l = loop_new();
	struct addr_spec a;
	struct result r = {0};

	ck_assert_int_eq(addr_parse("127.0.0.1/8", "lo", &a), 0);
	ck_assert_int_eq(addr_real.present(l, &a, 5000, done, &r), 0);
	finish(l, &r);
	ck_assert_int_eq(r.err, 0);

	memset(&r, 0, sizeof(r));
	ck_assert_int_eq(addr_parse("127.0.0.99/8", "lo", &a), 0);
	ck_assert_int_eq(addr_real.present(l, &a, 5000, done, &r), 0);
	finish(l, &r);
	ck_assert_int_eq(r.err, BW_ERR_NOENT);
	ck_assert_str_eq(r.reason, "address 127.0.0.99/8 on lo: not configured here");
	/* An answer, not an error. */
	ck_assert_uint_eq(log_error_count(), 0);
	loop_free(l);
}
END_TEST

START_TEST(a_missing_interface_is_named)
{
	struct loop *l = loop_new();
	struct addr_spec a;
	struct result r = {0};

	ck_assert_int_eq(addr_parse("192.0.2.10/24", "bwt-none0", &a), 0);
	ck_assert_int_eq(addr_real.add(l, &a, 5000, done, &r), BW_ERR_NOENT);
	ck_assert_int_eq(addr_real.probe(l, &a, 5000, done, &r), BW_ERR_NOENT);
	ck_assert_ptr_nonnull(strstr(logged, "no interface bwt-none0"));
	ck_assert_int_eq(r.called, 0);
	loop_free(l);
}
END_TEST

START_TEST(dry_run_changes_nothing_and_says_so)
{
	struct loop *l = loop_new();
	struct addr_spec a;
	struct result r = {0};

	ck_assert_int_eq(addr_parse("127.0.0.98/8", "lo", &a), 0);
	ck_assert_int_eq(site_ops_null.addr->add(l, &a, 5000, done, &r), 0);
	finish(l, &r);
	ck_assert_int_eq(r.err, 0);
	ck_assert_ptr_nonnull(strstr(logged, "dry run: address 127.0.0.98/8 on lo: would add it"));
	memset(&r, 0, sizeof(r));
	ck_assert_int_eq(site_ops_null.addr->present(l, &a, 5000, done, &r), 0);
	finish(l, &r);
	ck_assert_int_eq(r.err, BW_ERR_NOENT);
	loop_free(l);
}
END_TEST

START_TEST(the_fake_keeps_a_table_and_plays_conflicts)
{
	struct loop *l = loop_new();
	struct addr_spec a;
	struct result r = {0};

	ck_assert_int_eq(addr_parse("192.0.2.10/24", "eth0", &a), 0);
	ck_assert_int_eq(addr_fake.add(l, &a, 0, done, &r), 0);
	finish(l, &r);
	memset(&r, 0, sizeof(r));
	ck_assert_int_eq(addr_fake.present(l, &a, 0, done, &r), 0);
	finish(l, &r);
	ck_assert_int_eq(r.err, 0);
	memset(&r, 0, sizeof(r));
	ck_assert_int_eq(addr_fake.del(l, &a, 0, done, &r), 0);
	finish(l, &r);
	memset(&r, 0, sizeof(r));
	ck_assert_int_eq(addr_fake.present(l, &a, 0, done, &r), 0);
	finish(l, &r);
	ck_assert_int_eq(r.err, BW_ERR_NOENT);

	addr_fake_set_probe(BW_ERR_EXIST);
	memset(&r, 0, sizeof(r));
	ck_assert_int_eq(addr_fake.probe(l, &a, 0, done, &r), 0);
	finish(l, &r);
	ck_assert_int_eq(r.err, BW_ERR_EXIST);
	ck_assert_ptr_nonnull(strstr(r.reason, "in use by"));
	ck_assert_str_eq(addr_fake_calls(),
	    "add 192.0.2.10/24 on eth0\npresent 192.0.2.10/24 on eth0\n"
	    "del 192.0.2.10/24 on eth0\npresent 192.0.2.10/24 on eth0\n"
	    "probe 192.0.2.10/24 on eth0\n");
	loop_free(l);
}
END_TEST

static Suite *
addr_suite(void)
{
	Suite *s = suite_create("addr");
	TCase *tc = tcase_create("core");

	tcase_add_checked_fixture(tc, setup, NULL);
	tcase_add_test(tc, addresses_parse_with_their_prefix);
	tcase_add_test(tc, present_reads_the_loopback_interface);
	tcase_add_test(tc, a_missing_interface_is_named);
	tcase_add_test(tc, dry_run_changes_nothing_and_says_so);
	tcase_add_test(tc, the_fake_keeps_a_table_and_plays_conflicts);
	suite_add_tcase(s, tc);
	return s;
}

int
main(void)
{
	SRunner *sr = srunner_create(addr_suite());
	int failed;

	srunner_run_all(sr, CK_NORMAL);
	failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}
