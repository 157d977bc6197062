#include "config.h"

#include <check.h>
#include <stdlib.h>
#include <string.h>

#include "failover/msg.h"
#include "lib/util/buf.h"
#include "lib/util/err.h"
#include "lib/util/log.h"

static unsigned long errors_logged;

static void
quiet(enum log_level lvl, const char *msg, void *arg)
{
	(void)msg;
	(void)arg;
	if (lvl == LOG_LVL_ERROR)
		errors_logged++;
}

static void
setup(void)
{
	errors_logged = 0;
	log_set_sink(quiet, NULL);
}

static void
teardown(void)
{
	log_set_sink(NULL, NULL);
}

/* Encodes m, decodes it back, and checks every byte-level promise. */
static void
roundtrip(const struct msg *m, struct msg *back)
{
	struct buf b = { 0 };
	size_t cut;

	ck_assert_int_eq(msg_encode(m, &b), 0);
	ck_assert_int_eq(msg_decode(b.data, b.len, back), 0);
	/* Every shorter prefix is refused, and so is a byte more. */
	for (cut = 0; cut < b.len; cut++) {
		struct msg x;

		ck_assert_int_eq(msg_decode(b.data, cut, &x), BW_ERR_CORRUPT);
		ck_assert_ptr_null(x.sites);
	}
	ck_assert_int_eq(buf_put_u8(&b, 0), 0);
	{
		struct msg x;

		ck_assert_int_eq(msg_decode(b.data, b.len, &x), BW_ERR_CORRUPT);
	}
	buf_free(&b);
}

START_TEST(test_roundtrip)
{
	struct msg m, r;
	struct msg_hello_site hs[2];

	memset(&m, 0, sizeof(m));
	m.type = FMSG_HEALTH;
	msg_set_str(m.site, sizeof(m.site), "www");
	m.ok = 0;
	msg_set_str(m.reason, sizeof(m.reason), "http://127.0.0.1/: status 503");
	roundtrip(&m, &r);
	ck_assert_int_eq(r.type, FMSG_HEALTH);
	ck_assert_str_eq(r.site, "www");
	ck_assert_int_eq(r.ok, 0);
	ck_assert_str_eq(r.reason, "http://127.0.0.1/: status 503");
	msg_free(&r);

	memset(&m, 0, sizeof(m));
	m.type = FMSG_STATE;
	msg_set_str(m.site, sizeof(m.site), "shop.example-1");
	m.state = FMSG_SITE_SERVING;
	m.gen = 0xfffffffe;
	roundtrip(&m, &r);
	ck_assert_int_eq(r.type, FMSG_STATE);
	ck_assert_str_eq(r.site, "shop.example-1");
	ck_assert_int_eq(r.state, FMSG_SITE_SERVING);
	ck_assert_uint_eq(r.gen, 0xfffffffe);
	ck_assert_str_eq(r.reason, "");
	msg_free(&r);

	memset(&m, 0, sizeof(m));
	m.type = FMSG_DATA_AGE;
	msg_set_str(m.site, sizeof(m.site), "www");
	m.seconds = 3600;
	roundtrip(&m, &r);
	ck_assert_uint_eq(r.seconds, 3600);
	msg_free(&r);

	memset(&m, 0, sizeof(m));
	m.type = FMSG_MOVE;
	msg_set_str(m.site, sizeof(m.site), "www");
	m.node = 65535;
	roundtrip(&m, &r);
	ck_assert_int_eq(r.type, FMSG_MOVE);
	ck_assert_uint_eq(r.node, 65535);
	msg_free(&r);

	memset(&m, 0, sizeof(m));
	m.type = FMSG_STANDBY;
	m.node = 2;
	roundtrip(&m, &r);
	ck_assert_int_eq(r.type, FMSG_STANDBY);
	ck_assert_uint_eq(r.node, 2);
	ck_assert_str_eq(r.site, "");
	m.type = FMSG_ONLINE;
	roundtrip(&m, &r);
	ck_assert_int_eq(r.type, FMSG_ONLINE);
	msg_free(&r);

	memset(&m, 0, sizeof(m));
	m.type = FMSG_CONFIRM;
	msg_set_str(m.site, sizeof(m.site), "www");
	m.node = 3;
	m.ok = 1;
	m.gen = 7;
	roundtrip(&m, &r);
	ck_assert_uint_eq(r.node, 3);
	ck_assert_int_eq(r.ok, 1);
	ck_assert_uint_eq(r.gen, 7);
	msg_free(&r);

	memset(&m, 0, sizeof(m));
	m.type = FMSG_DECIDE;
	msg_set_str(m.site, sizeof(m.site), "www");
	m.decision = FMSG_DECIDE_CONFIRM_TIMEOUT;
	m.node = 1;
	m.gen = 9;
	msg_set_str(m.reason, sizeof(m.reason), "nobody answered within 5m");
	roundtrip(&m, &r);
	ck_assert_int_eq(r.decision, FMSG_DECIDE_CONFIRM_TIMEOUT);
	ck_assert_uint_eq(r.node, 1);
	ck_assert_uint_eq(r.gen, 9);
	ck_assert_str_eq(r.reason, "nobody answered within 5m");
	msg_free(&r);

	memset(&m, 0, sizeof(m));
	memset(hs, 0, sizeof(hs));
	m.type = FMSG_HELLO;
	m.ring_node = 1;
	m.ring_seq = 0x123456789abcULL;
	m.standby = 1;
	msg_set_str(hs[0].site, sizeof(hs[0].site), "www");
	hs[0].state = FMSG_SITE_SERVING;
	hs[0].healthy = 1;
	hs[0].data_age_s = FMSG_AGE_UNKNOWN;
	hs[0].gen = 4;
	msg_set_str(hs[1].site, sizeof(hs[1].site), "db");
	hs[1].state = FMSG_SITE_NONE;
	hs[1].data_age_s = 60;
	m.sites = hs;
	m.nsites = 2;
	roundtrip(&m, &r);
	ck_assert_uint_eq(r.ring_node, 1);
	ck_assert_uint_eq(r.ring_seq, 0x123456789abcULL);
	ck_assert_int_eq(r.standby, 1);
	ck_assert_uint_eq(r.nsites, 2);
	ck_assert_str_eq(r.sites[0].site, "www");
	ck_assert_int_eq(r.sites[0].state, FMSG_SITE_SERVING);
	ck_assert_int_eq(r.sites[0].healthy, 1);
	ck_assert_uint_eq(r.sites[0].data_age_s, FMSG_AGE_UNKNOWN);
	ck_assert_uint_eq(r.sites[0].gen, 4);
	ck_assert_str_eq(r.sites[1].site, "db");
	ck_assert_uint_eq(r.sites[1].data_age_s, 60);
	msg_free(&r);

	/* An empty HELLO: a node with no sites configured yet. */
	m.nsites = 0;
	m.sites = NULL;
	roundtrip(&m, &r);
	ck_assert_uint_eq(r.nsites, 0);
	ck_assert_ptr_null(r.sites);
	msg_free(&r);
	ck_assert_uint_eq(errors_logged, 0);
}
END_TEST

/* The bytes are pinned: little-endian, the magic, the version, the type. */
START_TEST(test_golden)
{
	static const uint8_t want[] = {
		'B', 'W', 'F', 'M', 1, FMSG_MOVE,
		3, 0, 0, 0, 'w', 'w', 'w',
		2, 0, 0, 0
	};
	struct buf b = { 0 };
	struct msg m;

	memset(&m, 0, sizeof(m));
	m.type = FMSG_MOVE;
	msg_set_str(m.site, sizeof(m.site), "www");
	m.node = 2;
	ck_assert_int_eq(msg_encode(&m, &b), 0);
	ck_assert_uint_eq(b.len, sizeof(want));
	ck_assert_int_eq(memcmp(b.data, want, sizeof(want)), 0);
	buf_free(&b);
}
END_TEST

START_TEST(test_refused)
{
	uint8_t v[] = {
		'B', 'W', 'F', 'M', 1, FMSG_STANDBY, 2, 0, 0, 0
	};
	struct msg m;

	ck_assert_int_eq(msg_decode(v, sizeof(v), &m), 0);
	ck_assert_uint_eq(m.node, 2);
	/* Another version, older or newer, is refused as such. */
	v[4] = 2;
	ck_assert_int_eq(msg_decode(v, sizeof(v), &m), BW_ERR_VERSION);
	v[4] = 0;
	ck_assert_int_eq(msg_decode(v, sizeof(v), &m), BW_ERR_VERSION);
	v[4] = 1;
	v[0] = 'X';
	ck_assert_int_eq(msg_decode(v, sizeof(v), &m), BW_ERR_CORRUPT);
	v[0] = 'B';
	v[5] = 0;
	ck_assert_int_eq(msg_decode(v, sizeof(v), &m), BW_ERR_CORRUPT);
	v[5] = FMSG__MAX + 1;
	ck_assert_int_eq(msg_decode(v, sizeof(v), &m), BW_ERR_CORRUPT);
	ck_assert_int_eq(msg_decode(NULL, 0, &m), BW_ERR_CORRUPT);

	{
		/* HEALTH with ok = 2, a bad site name, a control character. */
		uint8_t h[] = {
			'B', 'W', 'F', 'M', 1, FMSG_HEALTH,
			3, 0, 0, 0, 'w', 'w', 'w', 2, 1, 0, 0, 0, 'x'
		};

		ck_assert_int_eq(msg_decode(h, sizeof(h), &m), BW_ERR_CORRUPT);
		h[13] = 1;
		ck_assert_int_eq(msg_decode(h, sizeof(h), &m), 0);
		h[18] = '\n';
		ck_assert_int_eq(msg_decode(h, sizeof(h), &m), BW_ERR_CORRUPT);
		h[18] = 'x';
		h[10] = '/';
		ck_assert_int_eq(msg_decode(h, sizeof(h), &m), BW_ERR_CORRUPT);
		h[10] = '-';
		ck_assert_int_eq(msg_decode(h, sizeof(h), &m), BW_ERR_CORRUPT);
	}
	{
		/* A HELLO that claims more sites than it holds. */
		uint8_t h[] = {
			'B', 'W', 'F', 'M', 1, FMSG_HELLO,
			1, 0, 0, 0, 5, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff
		};

		ck_assert_int_eq(msg_decode(h, sizeof(h), &m), BW_ERR_CORRUPT);
		ck_assert_ptr_null(m.sites);
		h[19] = 0;
		h[20] = 0;
		ck_assert_int_eq(msg_decode(h, sizeof(h), &m), 0);
		ck_assert_uint_eq(m.ring_seq, 5);
		msg_free(&m);
	}
}
END_TEST

START_TEST(test_encode_refuses)
{
	struct buf b = { 0 };
	struct msg m;

	memset(&m, 0, sizeof(m));
	m.type = FMSG_HEALTH;
	ck_assert_int_eq(msg_encode(&m, &b), BW_ERR_INVAL);	/* no site */
	msg_set_str(m.site, sizeof(m.site), "www");
	msg_set_str(m.reason, sizeof(m.reason), "two\nlines");
	ck_assert_int_eq(msg_encode(&m, &b), BW_ERR_INVAL);
	m.type = FMSG_DECIDE;
	m.reason[0] = '\0';
	ck_assert_int_eq(msg_encode(&m, &b), BW_ERR_INVAL);	/* no decision */
	m.type = (enum msg_type)42;
	ck_assert_int_eq(msg_encode(&m, &b), BW_ERR_INVAL);
	ck_assert_uint_eq(b.len, 0);		/* nothing half-written */
	ck_assert_uint_eq(errors_logged, 4);
	buf_free(&b);

	ck_assert_str_eq(msg_type_name(FMSG_CONFIRM), "confirm");
	ck_assert_str_eq(msg_state_name(FMSG_SITE_RELEASED), "released");
	ck_assert_str_eq(msg_type_name(0), "unknown");
}
END_TEST

static Suite *
msg_suite(void)
{
	Suite *s = suite_create("msg");
	TCase *tc = tcase_create("core");

	tcase_add_checked_fixture(tc, setup, teardown);
	tcase_add_test(tc, test_roundtrip);
	tcase_add_test(tc, test_golden);
	tcase_add_test(tc, test_refused);
	tcase_add_test(tc, test_encode_refuses);
	suite_add_tcase(s, tc);
	return s;
}

int
main(void)
{
	SRunner *sr = srunner_create(msg_suite());
	int failed;

	srunner_run_all(sr, CK_NORMAL);
	failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}
