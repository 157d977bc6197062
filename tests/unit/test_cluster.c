/*
 * The membership drivers' shared part (ordered, bounded send queue) and the
 * fake bus the daemon's tests are built on: one agreed order for everyone,
 * own messages delivered back, nothing delivered across a partition.
 */
#include "config.h"

#include <check.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "failover/cluster.h"
#include "lib/util/err.h"
#include "lib/util/log.h"

struct rec {
	char log[4096];
	uint32_t local;
};

static void
add(struct rec *r, const char *fmt, ...)
{
	va_list ap;
	size_t n = strlen(r->log);

	va_start(ap, fmt);
	vsnprintf(r->log + n, sizeof(r->log) - n, fmt, ap);
	va_end(ap);
}

static void
on_connected(void *arg, uint32_t id)
{
	struct rec *r = arg;

	r->local = id;
	add(r, "connected %u;", id);
}

static void on_disconnected(void *arg) { add(arg, "disconnected;"); }

static void
on_view(void *arg, const uint32_t *m, size_t n, struct cluster_ring ring)
{
	size_t i;

	add(arg, "view %llu", (unsigned long long)ring.seq);
	for (i = 0; i < n; i++)
		add(arg, " %u", m[i]);
	add(arg, ";");
}

static void
on_quorum(void *arg, int q, struct cluster_ring ring)
{
	add(arg, "quorum %d %llu;", q, (unsigned long long)ring.seq);
}

static void
on_message(void *arg, uint32_t from, const uint8_t *p, size_t n)
{
	add(arg, "msg %u %.*s;", from, (int)n, (const char *)p);
}

static const struct cluster_cb cb = {
	on_connected, on_disconnected, on_view, on_quorum, on_message
};

static void
quiet(enum log_level lvl, const char *msg, void *arg)
{
	(void)lvl;
	(void)msg;
	(void)arg;
}

START_TEST(agreed_order_and_own_messages)
{
	struct cluster_fakebus *bus = cluster_fakebus_new();
	struct rec a = { "", 0 }, b = { "", 0 };
	struct cluster *ca = cluster_fake_new(bus, 1, &cb, &a);
	struct cluster *cb2 = cluster_fake_new(bus, 2, &cb, &b);
	const uint32_t both[] = { 1, 2 };

	cluster_fake_connect(ca);
	cluster_fake_connect(cb2);
	cluster_fake_view(ca, both, 2, 8);
	cluster_fake_view(cb2, both, 2, 8);
	cluster_fake_quorum(ca, 1, 8);
	ck_assert_int_eq(cluster_send(ca, "x1", 2), 0);
	ck_assert_int_eq(cluster_send(cb2, "y1", 2), 0);
	ck_assert_int_eq(cluster_send(ca, "x2", 2), 0);
	ck_assert_uint_eq(cluster_fakebus_deliver(bus), 3);
	/* both see the same stream, each its own messages included */
	ck_assert_str_eq(a.log, "connected 1;view 8 1 2;quorum 1 8;msg 1 x1;msg 2 y1;msg 1 x2;");
	ck_assert_str_eq(b.log, "connected 2;view 8 1 2;msg 1 x1;msg 2 y1;msg 1 x2;");
	cluster_free(ca);
	cluster_free(cb2);
	cluster_fakebus_free(bus);
}
END_TEST

START_TEST(partition_delivers_within_view_only)
{
	struct cluster_fakebus *bus = cluster_fakebus_new();
	struct rec a = { "", 0 }, b = { "", 0 };
	struct cluster *ca = cluster_fake_new(bus, 1, &cb, &a);
	struct cluster *cb2 = cluster_fake_new(bus, 2, &cb, &b);
	const uint32_t one[] = { 1 }, two[] = { 2 };

	cluster_fake_connect(ca);
	cluster_fake_connect(cb2);
	cluster_fake_view(ca, one, 1, 9);
	cluster_fake_view(cb2, two, 1, 9);
	cluster_send(ca, "a", 1);
	cluster_fakebus_deliver(bus);
	ck_assert_ptr_nonnull(strstr(a.log, "msg 1 a;"));
	ck_assert_ptr_null(strstr(b.log, "msg"));
	cluster_free(ca);
	cluster_free(cb2);
	cluster_fakebus_free(bus);
}
END_TEST

START_TEST(flow_control_keeps_order)
{
	struct cluster_fakebus *bus = cluster_fakebus_new();
	struct rec a = { "", 0 };
	struct cluster *c = cluster_fake_new(bus, 1, &cb, &a);
	const uint32_t one[] = { 1 };

	cluster_fake_connect(c);
	cluster_fake_view(c, one, 1, 1);
	cluster_fake_try_again(c, 2);
	ck_assert_int_eq(cluster_send(c, "1", 1), 0);	/* try again: queued */
	ck_assert_int_eq(cluster_send(c, "2", 1), 0);	/* behind it, not before */
	ck_assert_uint_eq(cluster_pending(c), 2);
	ck_assert_uint_eq(cluster_fakebus_deliver(bus), 0);
	cluster_fake_flush(c);				/* second try again */
	ck_assert_uint_eq(cluster_pending(c), 2);
	cluster_fake_flush(c);
	ck_assert_uint_eq(cluster_pending(c), 0);
	ck_assert_int_eq(cluster_send(c, "3", 1), 0);
	cluster_fakebus_deliver(bus);
	ck_assert_str_eq(a.log, "connected 1;view 1 1;msg 1 1;msg 1 2;msg 1 3;");
	cluster_free(c);
	cluster_fakebus_free(bus);
}
END_TEST

START_TEST(queue_is_bounded_and_needs_connection)
{
	struct cluster_fakebus *bus = cluster_fakebus_new();
	struct rec a = { "", 0 };
	struct cluster *c = cluster_fake_new(bus, 1, &cb, &a);
	static uint8_t big[CLUSTER_MSG_MAX + 1];
	size_t i;

	log_set_sink(quiet, NULL);
	ck_assert_int_eq(cluster_send(c, "x", 1), BW_ERR_IO);
	cluster_fake_connect(c);
	ck_assert_int_eq(cluster_send(c, big, sizeof(big)), BW_ERR_INVAL);
	ck_assert_int_eq(cluster_send(c, big, 0), BW_ERR_INVAL);
	cluster_fake_try_again(c, ~0u);
	for (i = 0; i < CLUSTER_QUEUE_MAX; i++)
		ck_assert_int_eq(cluster_send(c, "q", 1), 0);
	ck_assert_int_eq(cluster_send(c, "q", 1), BW_ERR_NOSPC);
	/* losing corosync drops the queue: the new view starts afresh */
	cluster_fake_disconnect(c);
	ck_assert_uint_eq(cluster_pending(c), 0);
	ck_assert_ptr_nonnull(strstr(a.log, "disconnected;"));
	log_set_sink(NULL, NULL);
	cluster_free(c);
	cluster_fakebus_free(bus);
}
END_TEST

START_TEST(names_and_info)
{
	struct cluster_fakebus *bus = cluster_fakebus_new();
	struct rec a = { "", 0 };
	struct cluster *c = cluster_fake_new(bus, 3, &cb, &a);
	struct cluster_info ci;

	cluster_fake_set_name(c, 3, "node-c");
	cluster_fake_set_token(c, 1000);
	cluster_fake_connect(c);
	cluster_get_info(c, &ci);
	ck_assert_int_eq(ci.connected, 1);
	ck_assert_uint_eq(ci.local_nodeid, 3);
	ck_assert_uint_eq(ci.token_ms, 1000);
	ck_assert_str_eq(cluster_node_name(c, 3), "node-c");
	ck_assert_ptr_null(cluster_node_name(c, 4));
	cluster_free(c);
	cluster_fakebus_free(bus);
}
END_TEST

int
main(void)
{
	Suite *s = suite_create("cluster");
	TCase *tc = tcase_create("fake");
	SRunner *sr;
	int nf;

	tcase_add_test(tc, agreed_order_and_own_messages);
	tcase_add_test(tc, partition_delivers_within_view_only);
	tcase_add_test(tc, flow_control_keeps_order);
	tcase_add_test(tc, queue_is_bounded_and_needs_connection);
	tcase_add_test(tc, names_and_info);
	suite_add_tcase(s, tc);
	sr = srunner_create(s);
	srunner_run_all(sr, CK_NORMAL);
	nf = srunner_ntests_failed(sr);
	srunner_free(sr);
	return nf ? 1 : 0;
}
