/*
 * failoverd's glue with the fake membership bus and the fake site drivers:
 * three daemons in one process and one loop.  Checks what an operator
 * would: which node serves the site, that a node which loses corosync or
 * quorum gives the site up before another takes it, that a failed take
 * moves the site, that move/standby requests work, and that shutdown
 * releases.  No sleeping: the loop runs zero-delay timers until the
 * awaited state holds (with a generous guard that fails the test).
 */
#include "config.h"

#include <check.h>
#include <ftw.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "config/config.h"
#include "failover/addr.h"
#include "failover/cluster.h"
#include "failover/daemon.h"
#include "failover/loop.h"
#include "failover/ops.h"
#include "failover/placement.h"
#include "failover/service.h"
#include "lib/audit/audit.h"
#include "lib/ctl/ctl.h"
#include "lib/util/err.h"
#include "lib/util/log.h"

#define N 3

static const char conf[] =
    "[cluster]\n"
    "socket = /nonexistent/failoverd.sock\n"
    "state_dir = %s/state-%s\n"
    "[node a]\nnodeid = 1\naddress = 127.0.0.1\n"
    "[node b]\nnodeid = 2\naddress = 127.0.0.2\n"
    "[node c]\nnodeid = 3\naddress = 127.0.0.3\nwitness = yes\n"
    "[site www]\nstart = true\nstop = true\npriority = a:10 b:5\n%s";

/* More lines for [site www], set by a fixture before setup(). */
static const char *site_extra = "";

static char dir[64];
static struct loop *loop;
static struct cluster_fakebus *bus;
static struct daemon *dm[N];
static struct cluster *cl[N];
static const uint32_t all[] = { 1, 2, 3 };

static struct cluster *
make_cluster(struct loop *l, const struct cluster_cb *cb, void *cb_arg, void *arg)
{
	long i = (long)arg;

	(void)l;
	cl[i] = cluster_fake_new(bus, (uint32_t)i + 1, cb, cb_arg);
	return cl[i];
}

static void
quiet(enum log_level lvl, const char *msg, void *arg)
{
	(void)lvl;
	(void)msg;
	(void)arg;
}

static int
rm_cb(const char *p, const struct stat *st, int t, struct FTW *f)
{
	(void)st;
	(void)t;
	(void)f;
	remove(p);
	return 0;
}

static char startup_svc[256], startup_addr[256];
static int run_until(int (*fn)(void *), void *arg);

/* Both serving-capable nodes (a, b; c is a witness) have stopped www, and
 * a few more turns have passed so that the fakes' answers (timers of the
 * loop) and the daemons' deferred ends have all run. */
static int
cleaned_up(void *arg)
{
	int *turns = arg;
	const char *p = service_fake_calls();
	int n = 0;

	while ((p = strstr(p, "www:stop\n")) != NULL) {
		n++;
		p++;
	}
	return n == 2 && ++*turns > 5;
}

static void
setup(void)
{
	static const char *names[N] = { "a", "b", "c" };
	char text[1024], audit[128];
	struct daemon_opts o = { 0 };
	static struct placement_params pp;
	struct config *c;
	int turns;
	long i;

	log_set_sink(quiet, NULL);
	strcpy(dir, "/tmp/bw-daemon-XXXXXX");
	ck_assert_ptr_nonnull(mkdtemp(dir));
	audit_test_set_time(1795528306123000000LL);
	service_fake_reset();
	addr_fake_reset();
	loop = loop_new();
	bus = cluster_fakebus_new();
	for (i = 0; i < N; i++) {
		snprintf(text, sizeof(text), conf, dir, names[i], site_extra);
		ck_assert_int_eq(config_load_mem("test.conf", text, strlen(text), &c), 0);
		snprintf(audit, sizeof(audit), "%s/audit-%s", dir, names[i]);
		o.node = names[i];
		o.ops = &site_ops_fake;
		o.cluster_new = make_cluster;
		o.cluster_arg = (void *)i;
		o.audit_dir = audit;
		o.no_health = 1;
		o.no_socket = 1;
		/* no waiting on the clock: the grace is placement's to test */
		placement_params_default(&pp);
		pp.release_grace_ms = 0;
		pp.addr_retry_ms = 0;
		o.pp = &pp;
		ck_assert_ptr_nonnull(dm[i] = daemon_new(loop, c, &o));
		ck_assert_int_eq(daemon_start(dm[i]), 0);
	}
	/* each daemon first makes sure it serves nothing (a previous run may
	 * have died serving); kept for startup_cleans_up, then forgotten */
	turns = 0;
	ck_assert(run_until(cleaned_up, &turns));
	snprintf(startup_svc, sizeof(startup_svc), "%s", service_fake_calls());
	snprintf(startup_addr, sizeof(startup_addr), "%s", addr_fake_calls());
	service_fake_reset();
	addr_fake_reset();
}

static void
teardown(void)
{
	int i;

	for (i = 0; i < N; i++)
		daemon_free(dm[i]);
	loop_free(loop);
	cluster_fakebus_free(bus);
	nftw(dir, rm_cb, 16, FTW_DEPTH | FTW_PHYS);
	log_set_sink(NULL, NULL);
}

/* ---- running the loop until a condition holds ---- */

typedef int cond_fn(void *arg);
struct pump {
	cond_fn *fn;
	void *arg;
	int turns;
	int met;
};

static void
pump(struct loop *l, void *arg)
{
	struct pump *p = arg;

	if (p->fn(p->arg)) {
		p->met = 1;
		loop_stop(l);
		return;
	}
	cluster_fakebus_deliver(bus);
	if (++p->turns > 20000) {	/* a guard, not a timing assumption */
		loop_stop(l);
		return;
	}
	loop_timer_add(l, 0, pump, p);
}

static int
run_until(cond_fn *fn, void *arg)
{
	struct pump p = { fn, arg, 0, 0 };

	loop_timer_add(loop, 0, pump, &p);
	loop_run(loop);
	return p.met;
}

struct want {
	int node;
	int state;
};

static int
is_state(void *arg)
{
	struct want *w = arg;

	return daemon_site_state(dm[w->node], "www") == w->state;
}

static int
await(int node, int state)
{
	struct want w = { node, state };

	return run_until(is_state, &w);
}

static void
everyone_up(void)
{
	int i;

	for (i = 0; i < N; i++)
		cluster_fake_connect(cl[i]);
	for (i = 0; i < N; i++)
		cluster_fake_view(cl[i], all, N, 4);
	for (i = 0; i < N; i++)
		cluster_fake_quorum(cl[i], 1, 4);
}

/* ---- tests ---- */

START_TEST(highest_priority_serves)
{
	char *out = NULL;

	everyone_up();
	ck_assert(await(0, PLACEMENT_LOCAL_SERVING));
	ck_assert_int_eq(daemon_site_state(dm[1], "www"), PLACEMENT_LOCAL_IDLE);
	ck_assert_int_eq(daemon_site_state(dm[2], "www"), PLACEMENT_LOCAL_IDLE);	/* witness */
	ck_assert_str_eq(daemon_site_owner(dm[1], "www"), "a");
	ck_assert_str_eq(service_fake_calls(), "www:start\nwww:after_take\n");
	/* every node's status says who serves */
	ck_assert_int_eq(daemon_request(dm[2], CTL_OP_STATUS, 1, NULL, &out), 0);
	ck_assert_ptr_nonnull(strstr(out, "\"name\":\"www\",\"serving\":\"a\""));
	ck_assert_ptr_nonnull(strstr(out, "\"state_here\":\"idle\""));
	ck_assert_ptr_nonnull(strstr(out, "\"quorate\":true"));
	free(out);
	cluster_fakebus_deliver(bus);	/* a's "serving" reaches everyone */
	ck_assert_int_eq(daemon_request(dm[0], CTL_OP_HISTORY, 0, NULL, &out), 0);
	ck_assert_ptr_nonnull(strstr(out, "serving"));
	free(out);
}
END_TEST

/* A daemon that died serving left its address and service up: the next
 * start removes them before joining, without the after_release hook. */
START_TEST(startup_cleans_up)
{
	ck_assert_str_eq(startup_svc, "www:stop\nwww:stop\n");
	ck_assert_str_eq(startup_addr, site_extra[0] ?
	    "del 192.0.2.10/24 on eth0\ndel 192.0.2.10/24 on eth0\n" : "");
}
END_TEST

START_TEST(lost_corosync_releases_then_other_takes)
{
	const uint32_t rest[] = { 2, 3 };

	everyone_up();
	ck_assert(await(0, PLACEMENT_LOCAL_SERVING));
	/* a's corosync dies: a gives the site up without waiting for anyone */
	cluster_fake_disconnect(cl[0]);
	ck_assert_int_eq(daemon_site_state(dm[0], "www"), PLACEMENT_LOCAL_RELEASING);
	ck_assert(await(0, PLACEMENT_LOCAL_IDLE));
	/* only then do the others see a gone, and b takes it */
	cluster_fake_view(cl[1], rest, 2, 8);
	cluster_fake_view(cl[2], rest, 2, 8);
	cluster_fake_quorum(cl[1], 1, 8);
	cluster_fake_quorum(cl[2], 1, 8);
	ck_assert(await(1, PLACEMENT_LOCAL_SERVING));
	ck_assert_int_eq(daemon_site_state(dm[0], "www"), PLACEMENT_LOCAL_IDLE);
}
END_TEST

START_TEST(lost_quorum_releases_at_once)
{
	const uint32_t alone[] = { 1 };

	everyone_up();
	ck_assert(await(0, PLACEMENT_LOCAL_SERVING));
	cluster_fake_quorum(cl[0], 0, 9);
	ck_assert_int_eq(daemon_site_state(dm[0], "www"), PLACEMENT_LOCAL_RELEASING);
	ck_assert(await(0, PLACEMENT_LOCAL_IDLE));
	/* alone and inquorate in a view of its own: it does not take it back */
	cluster_fake_view(cl[0], alone, 1, 9);
	ck_assert(!await(0, PLACEMENT_LOCAL_STARTING));
}
END_TEST

/* a's start was asked for (the fake answers with the result set then) */
static int
a_started(void *arg)
{
	(void)arg;
	return strstr(service_fake_calls(), "www:start\n") != NULL;
}

START_TEST(failed_take_moves_the_site)
{
	service_fake_set(SERVICE_START, BW_ERR_IO);
	everyone_up();
	ck_assert(run_until(a_started, NULL));
	service_fake_set(SERVICE_START, 0);
	ck_assert(await(1, PLACEMENT_LOCAL_SERVING));
	ck_assert(await(0, PLACEMENT_LOCAL_IDLE));
	/* a stopped what it had started: release steps ran after the failure */
	ck_assert_ptr_nonnull(strstr(service_fake_calls(), "www:start\nwww:stop\n"));
}
END_TEST

START_TEST(operator_move_and_standby)
{
	char *out = NULL;
	char *move[] = { "www", "b" }, *bad[] = { "www", "zz" }, *sb[] = { "b" };

	everyone_up();
	ck_assert(await(0, PLACEMENT_LOCAL_SERVING));
	ck_assert_int_eq(daemon_request(dm[2], CTL_OP_MOVE, 0, bad, &out), BW_ERR_NOENT);
	ck_assert_ptr_nonnull(strstr(out, "no node 'zz'"));
	free(out);
	ck_assert_int_eq(daemon_request(dm[2], CTL_OP_MOVE, 0, move, &out), 0);
	free(out);
	ck_assert(await(1, PLACEMENT_LOCAL_SERVING));
	ck_assert_int_eq(daemon_site_state(dm[0], "www"), PLACEMENT_LOCAL_IDLE);
	/* b to standby: it gives the site up and a, the other candidate, takes it */
	ck_assert_int_eq(daemon_request(dm[0], CTL_OP_STANDBY, 0, sb, &out), 0);
	free(out);
	ck_assert(await(0, PLACEMENT_LOCAL_SERVING));
	ck_assert_int_eq(daemon_site_state(dm[1], "www"), PLACEMENT_LOCAL_IDLE);
	ck_assert_int_eq(daemon_request(dm[0], CTL_OP_STATUS, 0, NULL, &out), 0);
	ck_assert_ptr_nonnull(strstr(out, "standby"));
	free(out);
}
END_TEST

static int
stopped(void *arg)
{
	(void)arg;
	return 0;
}

START_TEST(shutdown_releases)
{
	everyone_up();
	ck_assert(await(0, PLACEMENT_LOCAL_SERVING));
	daemon_shutdown(dm[0]);
	/* the loop stops once the release is done */
	run_until(stopped, NULL);
	ck_assert_int_eq(daemon_site_state(dm[0], "www"), PLACEMENT_LOCAL_IDLE);
}
END_TEST

static char captured[2048];

static void
capture(enum log_level lvl, const char *msg, void *arg)
{
	size_t n = strlen(captured);

	(void)lvl;
	(void)arg;
	snprintf(captured + n, sizeof(captured) - n, "%s\n", msg);
}

/* Node a's configuration with [site www]'s lines replaced. */
static struct config *
conf_a(const char *site)
{
	char text[1024];
	struct config *c = NULL;

	snprintf(text, sizeof(text),
	    "[cluster]\nsocket = /nonexistent/failoverd.sock\nstate_dir = %s/state-a\n"
	    "release_grace = 300ms\ndad_probes = 1\n"
	    "[node a]\nnodeid = 1\naddress = 127.0.0.1\n"
	    "[node b]\nnodeid = 2\naddress = 127.0.0.2\n"
	    "[node c]\nnodeid = 3\naddress = 127.0.0.3\nwitness = yes\n"
	    "[site www]\n%s", dir, site);
	ck_assert_int_eq(config_load_mem("new.conf", text, strlen(text), &c), 0);
	return c;
}

/* SIGHUP: this node's own settings are swapped in while it serves; what
 * every node must agree on is refused, naming it, and nothing changes. */
START_TEST(reload_swaps_local_refuses_agreed)
{
	everyone_up();
	ck_assert(await(0, PLACEMENT_LOCAL_SERVING));
	log_set_sink(capture, NULL);
	captured[0] = '\0';
	/* commands, hooks, checks, timeouts, damping, [cluster] grace */
	ck_assert_int_eq(daemon_reload(dm[0], conf_a("start = /bin/true\nstop = /bin/true\n"
	    "priority = a:10 b:5\nafter_take = /bin/true\ncheck = tcp 127.0.0.1:1\n"
	    "check_interval = 5s\nrise = 3\nfall = 4\naction_timeout = 20s\n"
	    "damp = 5m\n")), 0);
	ck_assert_msg(strstr(captured, "new.conf applied") != NULL, "logged: %s", captured);
	ck_assert_int_eq(daemon_site_state(dm[0], "www"), PLACEMENT_LOCAL_SERVING);
	/* a priority, a node, a site's address: refused with the reason */
	captured[0] = '\0';
	ck_assert_int_eq(daemon_reload(dm[0], conf_a("start = true\nstop = true\n"
	    "priority = a:1 b:5\n")), BW_ERR_UNSUPP);
	ck_assert_msg(strstr(captured, "[site www] priority") != NULL &&
	    strstr(captured, "running configuration is kept") != NULL, "logged: %s",
	    captured);
	captured[0] = '\0';
	ck_assert_int_eq(daemon_reload(dm[0], conf_a("start = true\nstop = true\n"
	    "priority = a:10 b:5\naddress = 192.0.2.10/24\ninterface = eth0\n")),
	    BW_ERR_UNSUPP);
	ck_assert_msg(strstr(captured, "[site www] address or interface") != NULL,
	    "logged: %s", captured);
	log_set_sink(quiet, NULL);
	/* the swapped configuration still carries a release and a take */
	cluster_fake_disconnect(cl[0]);
	ck_assert(await(0, PLACEMENT_LOCAL_IDLE));
	cluster_fake_view(cl[1], (const uint32_t[]){ 2, 3 }, 2, 8);
	cluster_fake_view(cl[2], (const uint32_t[]){ 2, 3 }, 2, 8);
	cluster_fake_quorum(cl[1], 1, 8);
	cluster_fake_quorum(cl[2], 1, 8);
	ck_assert(await(1, PLACEMENT_LOCAL_SERVING));
}
END_TEST

/* With an address, announced 100 times 10 s apart. */
static void
setup_announcing(void)
{
	site_extra = "address = 192.0.2.10/24\ninterface = eth0\n"
	    "announce_count = 100\nannounce_interval = 10s\n";
	setup();
}

static void
teardown_announcing(void)
{
	teardown();
	site_extra = "";
}

static int
announced_once(void *arg)
{
	(void)arg;
	return strstr(addr_fake_calls(), "announce 192.0.2.10/24 on eth0\n") != NULL;
}

/* Losing quorum in the middle of the announcements lets go at once: the
 * others take over after a grace far shorter than 100 x 10 s. */
START_TEST(release_cuts_announcements_short)
{
	everyone_up();
	ck_assert(run_until(announced_once, NULL));
	ck_assert_int_eq(daemon_site_state(dm[0], "www"), PLACEMENT_LOCAL_ADDING);
	cluster_fake_quorum(cl[0], 0, 9);
	ck_assert(await(0, PLACEMENT_LOCAL_IDLE));
	ck_assert_str_eq(addr_fake_calls(), "probe 192.0.2.10/24 on eth0\n"
	    "add 192.0.2.10/24 on eth0\nannounce 192.0.2.10/24 on eth0\n"
	    "del 192.0.2.10/24 on eth0\n");
}
END_TEST

int
main(void)
{
	Suite *s = suite_create("daemon");
	TCase *tc = tcase_create("fake cluster");
	SRunner *sr;
	int nf;

	tcase_add_checked_fixture(tc, setup, teardown);
	tcase_add_test(tc, startup_cleans_up);
	tcase_add_test(tc, highest_priority_serves);
	tcase_add_test(tc, lost_corosync_releases_then_other_takes);
	tcase_add_test(tc, lost_quorum_releases_at_once);
	tcase_add_test(tc, failed_take_moves_the_site);
	tcase_add_test(tc, operator_move_and_standby);
	tcase_add_test(tc, shutdown_releases);
	tcase_add_test(tc, reload_swaps_local_refuses_agreed);
	suite_add_tcase(s, tc);
	tc = tcase_create("announcing");
	tcase_add_checked_fixture(tc, setup_announcing, teardown_announcing);
	tcase_add_test(tc, startup_cleans_up);
	tcase_add_test(tc, release_cuts_announcements_short);
	suite_add_tcase(s, tc);
	sr = srunner_create(s);
	srunner_run_all(sr, CK_NORMAL);
	nf = srunner_ntests_failed(sr);
	srunner_free(sr);
	return nf ? 1 : 0;
}
