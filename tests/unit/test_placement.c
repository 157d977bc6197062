/*
 * Site placement, played through 2 to 4 state machines at once by a fake
 * membership driver: one agreed message stream per connected component
 * (every message sent in a view is delivered to that view's members before
 * the next membership change, as CPG does), quorum by majority of votes,
 * a fake site driver whose actions take simulated time, and duplicate
 * address detection that answers ADDR_IN_USE while another node holds the
 * address.  After every single event the safety invariant is checked: at
 * most one node is taking or serving each site.  Scenarios then check
 * liveness: eventually exactly one node serves, the one the rules name.
 */
#include "config.h"

#include <check.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "config/config.h"
#include "failover/msg.h"
#include "failover/placement.h"
#include "lib/util/buf.h"
#include "lib/util/err.h"
#include "lib/util/log.h"

#define MAXN 4
#define MAXS 2
#define MAXQ 4096
#define MAXA 64

struct pend {			/* a site action the fake driver runs */
	size_t site;
	int action;
	uint64_t due;
};

struct node {
	struct placement *pl;
	uint32_t id;
	int alive, connected, part;
	int in_view;		/* counted in the last membership it was given */
	uint32_t view[MAXN];	/* the members it was last given */
	size_t nview;
	struct pend pend[MAXA];
	size_t npend;
	int holds[MAXS];	/* the fake: holds the site's address */
	int broken_start[MAXS];	/* the fake: START fails */
};

struct qmsg {
	int from;		/* node index */
	unsigned recip;		/* bitmask of node indexes */
	uint8_t *data;
	size_t len;
};

struct sim {
	struct config *cfg;
	struct placement_params pp;
	struct node n[MAXN];
	size_t nn;
	uint64_t now, seq;
	struct qmsg q[MAXQ];
	size_t qhead, qtail;
	int quorum_first;	/* order of the two callbacks */
	uint64_t act_ms;	/* how long START/ADDR_ADD take */
	uint64_t release_ms;	/* how long ADDR_DEL/STOP take */
	unsigned dad;		/* ADDR_ADD answered ADDR_IN_USE */
	unsigned asks[MAXS];
	unsigned damped;	/* "damped" log lines, any node */
	char damped_text[320];	/* the latest of them */
	unsigned steps;
	int verbose;
	uint64_t started[MAXN][MAXS];	/* when START last ended well */
	uint64_t del_sent[MAXN][MAXS];	/* when ADDR_DEL was last asked for */
};

static struct sim S;
/* placement_params.addr_probe_ms for the next sim_start: at most act_ms,
 * since the fake's ADDR_ADD "probes" for all of its act_ms. */
static uint64_t next_probe_lead;

static void
quiet(enum log_level lvl, const char *msg, void *arg)
{
	(void)lvl;
	(void)arg;
	if (S.verbose)
		fprintf(stderr, "log: %s\n", msg);
}

static void check_safety(void);
static void deliver_all(void);

/* Carries out what node i's state machine asked for. */
static void
handle(size_t i, struct placement_out *o)
{
	struct node *nd = &S.n[i];
	size_t k, j;

	ck_assert_int_eq(o->err, 0);
	for (k = 0; k < o->n; k++) {
		struct placement_action *a = &o->v[k];

		switch (a->type) {
		case PLACEMENT_ACT_SEND: {
			struct qmsg *m;
			unsigned recip = 0;

			ck_assert(nd->connected);
			ck_assert_uint_lt(S.qtail - S.qhead, MAXQ);
			for (j = 0; j < S.nn; j++)
				if (S.n[j].alive && S.n[j].connected &&
				    S.n[j].part == nd->part)
					recip |= 1u << j;
			m = &S.q[S.qtail++ % MAXQ];
			m->from = (int)i;
			m->recip = recip;
			m->len = a->len;
			m->data = malloc(a->len);
			ck_assert_ptr_nonnull(m->data);
			memcpy(m->data, a->data, a->len);
			break;
		}
		case PLACEMENT_ACT_START:
		case PLACEMENT_ACT_ADDR_ADD:
		case PLACEMENT_ACT_ADDR_DEL:
		case PLACEMENT_ACT_STOP:
			ck_assert_uint_lt(nd->npend, MAXA);
			ck_assert_uint_lt(a->site, S.cfg->nsites);
			nd->pend[nd->npend].site = a->site;
			nd->pend[nd->npend].action = a->type;
			nd->pend[nd->npend].due = S.now +
			    (a->type == PLACEMENT_ACT_START ||
			    a->type == PLACEMENT_ACT_ADDR_ADD ? S.act_ms : S.release_ms);
			nd->npend++;
			if (a->type == PLACEMENT_ACT_ADDR_DEL)
				S.del_sent[i][a->site] = S.now;
			break;
		case PLACEMENT_ACT_LOG:
			if (strstr(a->text, "damped") != NULL) {
				S.damped++;
				snprintf(S.damped_text, sizeof(S.damped_text),
				    "%s", a->text);
			}
			if (S.verbose)
				fprintf(stderr, "%6llu %s: %s\n",
				    (unsigned long long)S.now,
				    S.cfg->nodes[i].name, a->text);
			break;
		case PLACEMENT_ACT_ASK:
			S.asks[a->site]++;
			if (S.verbose)
				fprintf(stderr, "%6llu %s: ASK %s\n",
				    (unsigned long long)S.now,
				    S.cfg->nodes[i].name, a->text);
			break;
		}
	}
	placement_out_reset(o);
}

static void
feed(size_t i, struct placement_event *ev)
{
	struct placement_out o = { 0 };

	if (!S.n[i].alive)
		return;
	ev->now_ms = S.now;
	ck_assert_int_eq(placement_event(S.n[i].pl, ev, &o), 0);
	handle(i, &o);
	placement_out_free(&o);
	S.steps++;
	check_safety();
}

/* At most one node takes or serves each site, whatever happened. */
static void
check_safety(void)
{
	size_t si, i;

	for (si = 0; si < S.cfg->nsites; si++) {
		unsigned busy = 0, holders = 0;

		for (i = 0; i < S.nn; i++) {
			enum placement_local l;

			if (!S.n[i].alive)
				continue;
			l = placement_local_state(S.n[i].pl, si);
			if (l == PLACEMENT_LOCAL_ADDING || l == PLACEMENT_LOCAL_SERVING)
				busy++;
			holders += S.n[i].holds[si] ? 1 : 0;
		}
		ck_assert_msg(busy <= 1, "site %s: %u nodes take or serve it "
		    "at %llu ms", S.cfg->sites[si].name, busy,
		    (unsigned long long)S.now);
		ck_assert_msg(holders <= 1, "site %s: %u nodes hold its address",
		    S.cfg->sites[si].name, holders);
	}
}

/* Delivers every queued message, in order, to its view's members. */
static void
deliver_all(void)
{
	struct placement_event ev;
	size_t j;

	while (S.qhead != S.qtail) {
		struct qmsg m = S.q[S.qhead++ % MAXQ];

		for (j = 0; j < S.nn; j++) {
			if (!(m.recip & (1u << j)) || !S.n[j].alive || !S.n[j].connected)
				continue;
			memset(&ev, 0, sizeof(ev));
			ev.type = PLACEMENT_EV_MESSAGE;
			ev.u.message.from = S.n[m.from].id;
			ev.u.message.data = m.data;
			ev.u.message.len = m.len;
			feed(j, &ev);
		}
		free(m.data);
	}
}

/* Recomputes the components; gives changed ones a membership and quorum. */
static void
topology(void)
{
	struct placement_event ev;
	size_t i, j, k;
	int done[MAXN] = { 0 };

	deliver_all();	/* virtual synchrony: the old view's messages first */
	for (i = 0; i < S.nn; i++) {
		uint32_t mem[MAXN];
		size_t nm = 0, want_same;
		int changed = 0;

		if (done[i] || !S.n[i].alive || !S.n[i].connected)
			continue;
		for (j = 0; j < S.nn; j++)
			if (S.n[j].alive && S.n[j].connected && S.n[j].part == S.n[i].part)
				mem[nm++] = S.n[j].id;
		for (j = 0; j < S.nn; j++) {
			if (!S.n[j].alive || !S.n[j].connected || S.n[j].part != S.n[i].part)
				continue;
			done[j] = 1;
			want_same = S.n[j].nview == nm && S.n[j].in_view;
			for (k = 0; want_same && k < nm; k++)
				if (S.n[j].view[k] != mem[k])
					want_same = 0;
			if (!want_same)
				changed = 1;
		}
		if (!changed)
			continue;
		S.seq++;
		for (j = 0; j < S.nn; j++) {
			int pass;

			if (!S.n[j].alive || !S.n[j].connected || S.n[j].part != S.n[i].part)
				continue;
			memcpy(S.n[j].view, mem, sizeof(mem));
			S.n[j].nview = nm;
			S.n[j].in_view = 1;
			for (pass = 0; pass < 2; pass++) {
				memset(&ev, 0, sizeof(ev));
				if ((pass == 0) == (S.quorum_first != 0)) {
					ev.type = PLACEMENT_EV_QUORUM;
					ev.u.quorum.ring.nodeid = mem[0];
					ev.u.quorum.ring.seq = S.seq;
					ev.u.quorum.quorate = nm * 2 > S.cfg->nnodes;
				} else {
					ev.type = PLACEMENT_EV_MEMBERSHIP;
					ev.u.membership.ring.nodeid = mem[0];
					ev.u.membership.ring.seq = S.seq;
					ev.u.membership.members = mem;
					ev.u.membership.nmembers = nm;
				}
				feed(j, &ev);
			}
		}
	}
	deliver_all();
}

/* Runs simulated time forward by ms: actions finish, timers tick. */
static void
run(uint64_t ms)
{
	uint64_t end = S.now + ms, next;
	struct placement_event ev;
	size_t i, k;

	deliver_all();
	for (;;) {
		next = UINT64_MAX;
		for (i = 0; i < S.nn; i++) {
			if (!S.n[i].alive)
				continue;
			for (k = 0; k < S.n[i].npend; k++)
				if (S.n[i].pend[k].due < next)
					next = S.n[i].pend[k].due;
			if (placement_next_ms(S.n[i].pl) < next)
				next = placement_next_ms(S.n[i].pl);
		}
		if (next > end)
			break;
		if (next > S.now)
			S.now = next;
		for (i = 0; i < S.nn; i++) {
			struct node *nd = &S.n[i];

			if (!nd->alive)
				continue;
			for (k = 0; k < nd->npend; k++) {
				struct pend pd = nd->pend[k];
				enum placement_result res = PLACEMENT_OK;
				size_t j;

				if (pd.due > S.now)
					continue;
				memmove(&nd->pend[k], &nd->pend[k + 1],
				    (nd->npend - k - 1) * sizeof(nd->pend[0]));
				nd->npend--;
				k--;
				if (pd.action == PLACEMENT_ACT_START &&
				    nd->broken_start[pd.site])
					res = PLACEMENT_FAILED;
				if (pd.action == PLACEMENT_ACT_ADDR_ADD) {
					for (j = 0; j < S.nn; j++)
						if (j != i && S.n[j].alive &&
						    S.n[j].holds[pd.site])
							res = PLACEMENT_ADDR_IN_USE;
					if (res == PLACEMENT_OK)
						nd->holds[pd.site] = 1;
					else
						S.dad++;
				}
				if (pd.action == PLACEMENT_ACT_ADDR_DEL)
					nd->holds[pd.site] = 0;
				if (pd.action == PLACEMENT_ACT_START && res == PLACEMENT_OK)
					S.started[i][pd.site] = S.now;
				memset(&ev, 0, sizeof(ev));
				ev.type = PLACEMENT_EV_ACTION_DONE;
				ev.u.done.site = pd.site;
				ev.u.done.action = pd.action;
				ev.u.done.result = res;
				feed(i, &ev);
				deliver_all();
			}
			if (nd->alive && placement_next_ms(nd->pl) <= S.now) {
				memset(&ev, 0, sizeof(ev));
				ev.type = PLACEMENT_EV_TICK;
				feed(i, &ev);
				deliver_all();
			}
		}
	}
	S.now = end;
	deliver_all();
}

static void
boot(size_t i)
{
	struct node *nd = &S.n[i];

	memset(nd->holds, 0, sizeof(nd->holds));
	nd->npend = 0;
	nd->pl = placement_new(S.cfg, nd->id, &S.pp);
	ck_assert_ptr_nonnull(nd->pl);
	nd->alive = 1;
	nd->connected = 1;
	nd->in_view = 0;
}

static void
sim_start(const char *conf, size_t nodes_up)
{
	size_t i;

	memset(&S, 0, sizeof(S));
	S.verbose = getenv("PLACEMENT_VERBOSE") != NULL;
	log_set_sink(quiet, NULL);
	ck_assert_int_eq(config_load_mem("test.conf", conf, strlen(conf), &S.cfg), 0);
	ck_assert_uint_le(S.cfg->nnodes, MAXN);
	ck_assert_uint_le(S.cfg->nsites, MAXS);
	placement_params_default(&S.pp);
	S.pp.addr_probe_ms = next_probe_lead;
	S.act_ms = 50;
	S.release_ms = 30;
	S.nn = S.cfg->nnodes;
	for (i = 0; i < S.nn; i++)
		S.n[i].id = S.cfg->nodes[i].nodeid;
	for (i = 0; i < nodes_up && i < S.nn; i++)
		boot(i);
	topology();
}

static void
sim_end(void)
{
	size_t i;

	deliver_all();
	for (i = 0; i < S.nn; i++)
		placement_free(S.n[i].pl);
	config_free(S.cfg);
	log_set_sink(NULL, NULL);
	memset(&S, 0, sizeof(S));
	next_probe_lead = 0;
}

static void
kill_node(size_t i)
{
	deliver_all();
	placement_free(S.n[i].pl);
	S.n[i].pl = NULL;
	S.n[i].alive = 0;	/* power loss: its address goes with it */
	memset(S.n[i].holds, 0, sizeof(S.n[i].holds));
	S.n[i].npend = 0;
	topology();
}

static void
conn_lost(size_t i)
{
	struct placement_event ev;

	deliver_all();
	memset(&ev, 0, sizeof(ev));
	ev.type = PLACEMENT_EV_CONN_LOST;
	feed(i, &ev);
	S.n[i].connected = 0;
	S.n[i].in_view = 0;
}

static void
conn_back(size_t i)
{
	struct placement_event ev;

	memset(&ev, 0, sizeof(ev));
	ev.type = PLACEMENT_EV_CONN_RESTORED;
	feed(i, &ev);
	S.n[i].connected = 1;
	topology();
}

static void
check_round(size_t i, size_t site, int ok)
{
	struct placement_event ev;

	memset(&ev, 0, sizeof(ev));
	ev.type = PLACEMENT_EV_CHECK;
	ev.u.check.site = site;
	ev.u.check.ok = ok;
	ev.u.check.reason = ok ? NULL : "http://127.0.0.1/: status 503";
	feed(i, &ev);
	deliver_all();
}

static void
data_age(size_t i, size_t site, uint32_t age)
{
	struct placement_event ev;

	memset(&ev, 0, sizeof(ev));
	ev.type = PLACEMENT_EV_DATA_AGE;
	ev.u.data_age.site = site;
	ev.u.data_age.age_s = age;
	feed(i, &ev);
	deliver_all();
}

/* An operator's command, multicast by node i's daemon. */
static void
op(size_t i, enum msg_type type, size_t site, uint32_t node, int yes)
{
	struct buf b = { 0 };
	struct qmsg *m;
	struct msg msg;
	size_t j;

	memset(&msg, 0, sizeof(msg));
	msg.type = type;
	if (type != FMSG_STANDBY && type != FMSG_ONLINE)
		msg_set_str(msg.site, sizeof(msg.site), S.cfg->sites[site].name);
	msg.node = node;
	msg.ok = (uint8_t)yes;
	ck_assert_int_eq(msg_encode(&msg, &b), 0);
	m = &S.q[S.qtail++ % MAXQ];
	m->from = (int)i;
	m->recip = 0;
	for (j = 0; j < S.nn; j++)
		if (S.n[j].alive && S.n[j].connected && S.n[j].part == S.n[i].part)
			m->recip |= 1u << j;
	m->data = buf_steal(&b, &m->len);
	deliver_all();
}

/* The node serving site si (index), or -1; checks it is the only one
 * and that every in-sync member of its component agrees on the owner. */
static int
server(size_t si)
{
	size_t i;
	int who = -1;

	for (i = 0; i < S.nn; i++) {
		if (!S.n[i].alive)
			continue;
		if (placement_local_state(S.n[i].pl, si) == PLACEMENT_LOCAL_SERVING) {
			ck_assert_int_eq(who, -1);
			who = (int)i;
		}
	}
	if (who >= 0)
		for (i = 0; i < S.nn; i++)
			if (S.n[i].alive && S.n[i].connected &&
			    S.n[i].part == S.n[who].part &&
			    placement_ready(S.n[i].pl))
				ck_assert_msg(placement_owner(S.n[i].pl, si) ==
				    S.n[who].id, "%s thinks %u owns %s, %s serves it",
				    S.cfg->nodes[i].name,
				    placement_owner(S.n[i].pl, si),
				    S.cfg->sites[si].name, S.cfg->nodes[who].name);
	return who;
}

#define SERVES(si, idx) ck_assert_msg(server(si) == (idx), \
	"site %zu: served by %d, expected %d (at %llu ms)", (size_t)(si), \
	server(si), (idx), (unsigned long long)S.now)

/* Three nodes: a prefers the site, then b, then c. */
static const char three[] =
	"[node a]\nnodeid = 1\naddress = 10.0.0.1\n"
	"[node b]\nnodeid = 2\naddress = 10.0.0.2\n"
	"[node c]\nnodeid = 3\naddress = 10.0.0.3\n"
	"[site www]\nunit = www.service\naddress = 192.0.2.10/24\n"
	"interface = eth0\npriority = a:100 b:50 c:10\ndamp = 30s\n"
	"fall = 2\nrise = 2\n";

START_TEST(test_start_and_priority)
{
	sim_start(three, 3);
	run(5000);
	SERVES(0, 0);			/* highest priority */
	ck_assert_uint_eq(S.dad, 0);
	sim_end();

	/* Equal priorities: the lowest node id. */
	sim_start("[node x]\nnodeid = 9\naddress = 10.0.0.9\n"
	    "[node y]\nnodeid = 4\naddress = 10.0.0.4\n"
	    "[node z]\nnodeid = 7\naddress = 10.0.0.7\n"
	    "[site www]\nunit = www.service\n", 3);
	run(5000);
	SERVES(0, 1);
	sim_end();
}
END_TEST

/* The first quorum notice is "inquorate, only me": nothing is taken until
 * a majority is there and in sync. */
START_TEST(test_first_inquorate)
{
	sim_start(three, 1);
	run(5000);
	SERVES(0, -1);
	ck_assert_int_eq(placement_ready(S.n[0].pl), 0);
	boot(1);
	topology();
	run(5000);
	SERVES(0, 0);
	boot(2);
	topology();
	run(5000);
	SERVES(0, 0);			/* no failback and no change */
	sim_end();
}
END_TEST

START_TEST(test_kill_holder_no_failback)
{
	int order;

	for (order = 0; order < 2; order++) {
		uint64_t t0;

		sim_start(three, 3);
		S.quorum_first = order;
		run(5000);
		SERVES(0, 0);
		t0 = S.now;
		kill_node(0);
		run(S.pp.release_grace_ms - 1);
		SERVES(0, -1);		/* the grace first */
		run(2000);
		SERVES(0, 1);
		ck_assert_uint_eq(S.dad, 0);
		(void)t0;
		/* a comes back: b keeps the site. */
		boot(0);
		topology();
		run(5000);
		SERVES(0, 1);
		sim_end();
	}
}
END_TEST

START_TEST(test_partition_and_merge)
{
	int order;

	for (order = 0; order < 2; order++) {
		sim_start(three, 3);
		S.quorum_first = order;
		run(5000);
		SERVES(0, 0);
		/* a alone: it loses quorum and releases; b takes. */
		S.n[0].part = 1;
		topology();
		ck_assert_int_ne(placement_local_state(S.n[0].pl, 0),
		    PLACEMENT_LOCAL_SERVING);
		run(3000);
		SERVES(0, 1);
		ck_assert_uint_eq(S.dad, 0);
		/* Healed: HELLOs tell a that b serves. */
		S.n[0].part = 0;
		topology();
		run(3000);
		SERVES(0, 1);
		ck_assert_uint_eq(placement_owner(S.n[0].pl, 0), 2);
		sim_end();
	}
}
END_TEST

/* A holder whose release is slower than the grace: duplicate address
 * detection holds the taker back until the address is free. */
START_TEST(test_slow_release_dad)
{
	sim_start(three, 3);
	run(5000);
	SERVES(0, 0);
	S.release_ms = 900;
	S.n[0].part = 1;
	topology();
	run(5000);
	SERVES(0, 1);
	ck_assert_uint_ge(S.dad, 1);
	sim_end();

	/* Never free within action_timeout: the taker gives up and says so. */
	sim_start(three, 3);
	run(5000);
	SERVES(0, 0);
	S.release_ms = 60000;
	S.n[0].part = 1;
	topology();
	run(15000);
	ck_assert_int_ne(server(0), 1);
	ck_assert_uint_ge(S.dad, 2);
	sim_end();
}
END_TEST

START_TEST(test_corosync_restart)
{
	sim_start(three, 3);
	run(5000);
	SERVES(0, 0);
	conn_lost(0);
	/* Released at once, long before the others notice (2.2 x token). */
	run(100);
	SERVES(0, -1);
	ck_assert_int_eq(S.n[0].holds[0], 0);
	run(2100);
	topology();			/* the others see a leave */
	run(3000);
	SERVES(0, 1);
	conn_back(0);
	run(3000);
	SERVES(0, 1);			/* a learns, and takes nothing */
	ck_assert_uint_eq(placement_owner(S.n[0].pl, 0), 2);
	sim_end();
}
END_TEST

/* The probe overlaps the grace: ADDR_ADD starts addr_probe_ms before the
 * grace ends, and the address is still added no earlier than the grace;
 * a holder that is slow to release is still found by the probe. */
START_TEST(test_probe_overlaps_grace)
{
	next_probe_lead = 50;
	sim_start(three, 3);
	run(5000);
	SERVES(0, 0);
	kill_node(0);			/* b starts at once: 50 ms */
	run(S.pp.release_grace_ms - 1);
	ck_assert_int_eq(S.n[1].holds[0], 0);	/* never before the grace */
	run(1);
	ck_assert_int_eq(S.n[1].holds[0], 1);	/* but right when it ends */
	run(1000);
	SERVES(0, 1);
	ck_assert_uint_eq(S.dad, 0);
	sim_end();

	/* The holder is cut off and takes 900 ms to let go: the probe finds
	 * it, the take is retried, nobody ever holds the address twice. */
	next_probe_lead = 50;
	sim_start(three, 3);
	run(5000);
	S.release_ms = 900;
	S.n[0].part = 1;
	topology();
	run(5000);
	SERVES(0, 1);
	ck_assert_uint_ge(S.dad, 1);
	sim_end();
}
END_TEST

/* Health: fall failures move the site; a flapping site is damped.  The
 * initial placement is not a move: the first failure moves at once. */
START_TEST(test_health_damped)
{
	sim_start(three, 3);
	run(5000);
	SERVES(0, 0);
	/* One failure is not enough (fall = 2). */
	check_round(0, 0, 0);
	check_round(0, 0, 1);
	run(1000);
	SERVES(0, 0);
	/* The first take was no move: fall failures move it at once. */
	check_round(0, 0, 0);
	check_round(0, 0, 0);
	run(1000);
	SERVES(0, 1);
	ck_assert_uint_eq(S.damped, 0);
	/* b fails right after the move: damped (30 s), with the reason. */
	check_round(1, 0, 0);
	check_round(1, 0, 0);
	run(5000);
	SERVES(0, 1);
	ck_assert_uint_ge(S.damped, 1);
	ck_assert_msg(strstr(S.damped_text, "unhealthy on b") != NULL &&
	    strstr(S.damped_text, "damped for 30s") != NULL,
	    "damping logged as: %s", S.damped_text);
	/* When the window ends it moves (a failed here: to c). */
	run(30000);
	SERVES(0, 2);
	/* c fails too, within damp: held; it recovers (rise = 2) before
	 * damping ends: no move at all. */
	check_round(2, 0, 0);
	check_round(2, 0, 0);
	run(5000);
	SERVES(0, 2);
	check_round(2, 0, 1);
	check_round(2, 0, 1);
	run(40000);
	SERVES(0, 2);
	sim_end();
}
END_TEST

/* The site's first owner fails its start: that is a move like any other,
 * so the next node's health failure within damp is held. */
START_TEST(test_damp_initial_failed_start)
{
	sim_start(three, 3);
	S.n[0].broken_start[0] = 1;
	run(5000);
	SERVES(0, 1);
	check_round(1, 0, 0);
	check_round(1, 0, 0);
	run(5000);
	SERVES(0, 1);
	ck_assert_uint_ge(S.damped, 1);
	run(30000);
	SERVES(0, 2);
	sim_end();
}
END_TEST

/* A planned move: the new node is ready before the old one lets go. */
START_TEST(test_planned_move)
{
	uint64_t gap_start = 0, gap = 0;

	sim_start(three, 3);
	run(5000);
	SERVES(0, 0);
	op(1, FMSG_MOVE, 0, 3, 0);
	while (server(0) != 2 && S.now < 20000 + 5000) {
		if (server(0) == -1 && gap_start == 0)
			gap_start = S.now;
		run(5);
	}
	gap = S.now - gap_start;
	SERVES(0, 2);
	/* c's service was up before a was asked to let the address go. */
	ck_assert_uint_gt(S.started[2][0], 0);
	ck_assert_uint_gt(S.del_sent[0][0], 0);
	ck_assert_uint_le(S.started[2][0], S.del_sent[0][0]);
	/* The outage is the address move: release + add, not a start. */
	ck_assert_uint_le(gap, S.release_ms + S.act_ms + 20);
	ck_assert_uint_eq(S.dad, 0);
	/* Moving to a node in standby is refused. */
	op(0, FMSG_STANDBY, 0, 2, 0);
	run(2000);
	op(0, FMSG_MOVE, 0, 2, 0);
	run(2000);
	SERVES(0, 2);
	sim_end();
}
END_TEST

START_TEST(test_standby_online)
{
	sim_start(three, 3);
	run(5000);
	SERVES(0, 0);
	op(2, FMSG_STANDBY, 0, 1, 0);
	run(3000);
	SERVES(0, 1);
	op(2, FMSG_ONLINE, 0, 1, 0);
	run(3000);
	SERVES(0, 1);			/* no failback */
	/* Standby of every other node, then the holder dies: nobody. */
	op(2, FMSG_STANDBY, 0, 1, 0);
	op(2, FMSG_STANDBY, 0, 3, 0);
	run(3000);
	kill_node(1);
	run(3000);
	SERVES(0, -1);
	op(2, FMSG_ONLINE, 0, 3, 0);
	run(3000);
	SERVES(0, 2);
	sim_end();
}
END_TEST

static const char manual[] =
	"[node a]\nnodeid = 1\naddress = 10.0.0.1\n"
	"[node b]\nnodeid = 2\naddress = 10.0.0.2\n"
	"[node c]\nnodeid = 3\naddress = 10.0.0.3\n"
	"[site www]\nunit = www.service\nmode = manual\n";

START_TEST(test_manual)
{
	sim_start(manual, 3);
	run(5000);
	SERVES(0, -1);			/* never by itself */
	op(2, FMSG_MOVE, 0, 2, 0);
	run(3000);
	SERVES(0, 1);
	kill_node(1);
	run(5000);
	SERVES(0, -1);
	op(0, FMSG_MOVE, 0, 1, 0);
	run(3000);
	SERVES(0, 0);
	sim_end();
}
END_TEST

static const char confirm[] =
	"[node a]\nnodeid = 1\naddress = 10.0.0.1\n"
	"[node b]\nnodeid = 2\naddress = 10.0.0.2\n"
	"[node c]\nnodeid = 3\naddress = 10.0.0.3\n"
	"[site www]\nunit = www.service\nmode = confirm\n"
	"priority = a:3 b:2 c:1\nconfirm_timeout = 60s\n"
	"confirm_default = take\n"
	"[site db]\nunit = db.service\nmode = confirm\n"
	"priority = a:3 b:2 c:1\nconfirm_timeout = 60s\n";

/* An operator answers the question node from shows. */
static void
confirm_answer(size_t from, size_t si, uint32_t node, int yes)
{
	struct buf b = { 0 };
	struct qmsg *m;
	struct msg msg;
	size_t k;

	ck_assert_uint_eq(placement_asking(S.n[from].pl, si), node);
	memset(&msg, 0, sizeof(msg));
	msg.type = FMSG_CONFIRM;
	msg_set_str(msg.site, sizeof(msg.site), S.cfg->sites[si].name);
	msg.node = node;
	msg.ok = (uint8_t)yes;
	msg.gen = placement_gen(S.n[from].pl, si);
	ck_assert_int_eq(msg_encode(&msg, &b), 0);
	m = &S.q[S.qtail++ % MAXQ];
	m->from = (int)from;
	m->recip = 0;
	for (k = 0; k < S.nn; k++)
		if (S.n[k].alive && S.n[k].connected && S.n[k].part == S.n[from].part)
			m->recip |= 1u << k;
	m->data = buf_steal(&b, &m->len);
	deliver_all();
}

START_TEST(test_confirm)
{
	sim_start(confirm, 3);
	run(1000);
	SERVES(0, -1);
	SERVES(1, -1);
	ck_assert_uint_eq(S.asks[0], 1);	/* once, by the lowest id */
	ck_assert_uint_eq(S.asks[1], 1);
	confirm_answer(1, 0, 1, 1);		/* www: yes, on a */
	run(2000);
	SERVES(0, 0);
	SERVES(1, -1);
	run(60000);				/* db: timeout, default stay */
	SERVES(1, -1);
	sim_end();

	/* Nobody answers: www's default is take. */
	sim_start(confirm, 3);
	run(61000);
	run(2000);
	SERVES(0, 0);
	SERVES(1, -1);
	sim_end();

	/* The node asked about goes into standby before anyone answers: it
	 * is not given the site; the next one is asked, and its default
	 * (take) places the site there. */
	sim_start(confirm, 3);
	run(1000);
	ck_assert_uint_eq(placement_asking(S.n[0].pl, 0), 1);
	op(2, FMSG_STANDBY, 0, 1, 0);
	run(1000);
	ck_assert_uint_eq(placement_asking(S.n[0].pl, 0), 2);
	run(61000);
	run(2000);
	SERVES(0, 1);
	sim_end();

	/* An operator declines: it stays down, and is not asked again. */
	sim_start(confirm, 3);
	run(1000);
	confirm_answer(2, 0, 1, 0);
	run(70000);
	SERVES(0, -1);
	ck_assert_uint_eq(S.asks[0], 1);
	sim_end();
}
END_TEST

static const char aged[] =
	"[node a]\nnodeid = 1\naddress = 10.0.0.1\n"
	"[node b]\nnodeid = 2\naddress = 10.0.0.2\n"
	"[node c]\nnodeid = 3\naddress = 10.0.0.3\n"
	"[backup www]\npaths = /srv/www\n"
	"[site www]\nunit = www.service\npriority = a:3 b:2 c:1\n"
	"max_data_age = 10m\nbackup_set = www\n";

START_TEST(test_data_age)
{
	sim_start(aged, 3);
	run(2000);
	SERVES(0, -1);			/* nobody's age is known */
	ck_assert_uint_eq(S.asks[0], 1);
	data_age(1, 0, 3600);		/* b: an hour, too old */
	data_age(2, 0, 60);		/* c: fresh */
	run(3000);
	SERVES(0, 2);
	sim_end();
}
END_TEST

/* Two sites, four nodes, the holder killed and a partition 2+2 (nobody
 * has a majority: both halves release). */
START_TEST(test_four_nodes)
{
	static const char four[] =
	    "[node a]\nnodeid = 1\naddress = 10.0.0.1\n"
	    "[node b]\nnodeid = 2\naddress = 10.0.0.2\n"
	    "[node c]\nnodeid = 3\naddress = 10.0.0.3\n"
	    "[node d]\nnodeid = 4\naddress = 10.0.0.4\n"
	    "[site www]\nunit = www.service\npriority = a:2 b:1\n"
	    "[site db]\nunit = db.service\npriority = c:2 d:1\n";

	sim_start(four, 4);
	run(5000);
	SERVES(0, 0);
	SERVES(1, 2);
	S.n[0].part = S.n[2].part = 1;
	topology();
	run(5000);
	SERVES(0, -1);
	SERVES(1, -1);
	S.n[0].part = S.n[2].part = 0;
	topology();
	run(5000);
	ck_assert_int_ge(server(0), 0);
	ck_assert_int_ge(server(1), 0);
	kill_node((size_t)server(1));
	run(5000);
	ck_assert_int_ge(server(1), 0);
	sim_end();
}
END_TEST

/* Two nodes with plain votequorum (no two_node, no qdevice): one alone has
 * no majority, so it holds nothing; together they serve.  (failoverd
 * refuses to run this without a tie-breaker: config_cluster_tiebreak.) */
START_TEST(test_two_nodes)
{
	static const char two[] =
	    "[node a]\nnodeid = 1\naddress = 10.0.0.1\n"
	    "[node b]\nnodeid = 2\naddress = 10.0.0.2\n"
	    "[site www]\nunit = www.service\npriority = b:1\n";

	sim_start(two, 2);
	run(3000);
	SERVES(0, 1);
	S.n[1].part = 1;
	topology();
	run(3000);
	SERVES(0, -1);			/* neither half has a majority */
	S.n[1].part = 0;
	topology();
	run(3000);
	ck_assert_int_ge(server(0), 0);
	sim_end();
}
END_TEST

/* A service that does not start: the next node takes the site. */
START_TEST(test_start_fails)
{
	sim_start(three, 3);
	S.n[0].broken_start[0] = 1;
	run(5000);
	SERVES(0, 1);
	sim_end();
}
END_TEST

/*
 * Scenarios as tables: each row is one step; every scenario runs twice,
 * with the quorum notice before and after the CPG membership.
 */
enum sop {
	S_END = 0,
	S_RUN,		/* a: milliseconds */
	S_KILL,		/* a: node index (power loss) */
	S_BOOT,		/* a: node index */
	S_PART,		/* a: node index, b: partition */
	S_LOST,		/* a: node index loses its corosync connection */
	S_BACK,		/* a: node index reconnects */
	S_SEEN,		/* the others notice membership changes (topology) */
	S_CHECK,	/* a: node index, b: site, c: ok; one check round */
	S_MOVE,		/* a: from node index, b: site, c: to node id */
	S_STANDBY,	/* a: from node index, c: node id */
	S_ONLINE,	/* a: from node index, c: node id */
	S_AGE,		/* a: node index, b: site, c: seconds */
	S_RELEASE,	/* a: milliseconds a release takes from now on */
	S_SERVES,	/* b: site, c: node index serving it, -1 for nobody */
	S_DAD		/* a: duplicate address detections so far, exactly */
};

struct sstep {
	enum sop op;
	int a, b, c;
};

struct scenario {
	const char *name;
	const char *conf;
	size_t up;		/* nodes booted at the start */
	struct sstep steps[24];
};

static const struct scenario scenarios[] = {
	{ "join one by one, no failback", three, 1, {
		{ S_RUN, 3000, 0, 0 }, { S_SERVES, 0, 0, -1 },
		{ S_BOOT, 2, 0, 0 }, { S_SEEN, 0, 0, 0 }, { S_RUN, 3000, 0, 0 },
		{ S_SERVES, 0, 0, 0 },
		{ S_BOOT, 1, 0, 0 }, { S_SEEN, 0, 0, 0 }, { S_RUN, 3000, 0, 0 },
		{ S_SERVES, 0, 0, 0 }, { S_DAD, 0, 0, 0 } } },
	{ "kill the holder, then the next", three, 3, {
		{ S_RUN, 3000, 0, 0 }, { S_SERVES, 0, 0, 0 },
		{ S_KILL, 0, 0, 0 }, { S_RUN, 99, 0, 0 }, { S_SERVES, 0, 0, -1 },
		{ S_RUN, 2000, 0, 0 }, { S_SERVES, 0, 0, 1 },
		{ S_KILL, 1, 0, 0 }, { S_RUN, 3000, 0, 0 },
		{ S_SERVES, 0, 0, -1 },		/* c alone: no quorum */
		{ S_BOOT, 0, 0, 0 }, { S_SEEN, 0, 0, 0 }, { S_RUN, 3000, 0, 0 },
		{ S_SERVES, 0, 0, 0 }, { S_DAD, 0, 0, 0 } } },
	{ "partition 2+1 and merge", three, 3, {
		{ S_RUN, 3000, 0, 0 }, { S_SERVES, 0, 0, 0 },
		{ S_PART, 0, 1, 0 }, { S_SEEN, 0, 0, 0 }, { S_RUN, 3000, 0, 0 },
		{ S_SERVES, 0, 0, 1 },
		{ S_PART, 0, 0, 0 }, { S_SEEN, 0, 0, 0 }, { S_RUN, 3000, 0, 0 },
		{ S_SERVES, 0, 0, 1 },
		/* the other way: the holder's side is the majority */
		{ S_PART, 2, 1, 0 }, { S_SEEN, 0, 0, 0 }, { S_RUN, 3000, 0, 0 },
		{ S_SERVES, 0, 0, 1 },
		{ S_PART, 2, 0, 0 }, { S_SEEN, 0, 0, 0 }, { S_RUN, 3000, 0, 0 },
		{ S_SERVES, 0, 0, 1 }, { S_DAD, 0, 0, 0 } } },
	{ "corosync restart on the holder", three, 3, {
		{ S_RUN, 3000, 0, 0 }, { S_SERVES, 0, 0, 0 },
		{ S_LOST, 0, 0, 0 }, { S_RUN, 100, 0, 0 }, { S_SERVES, 0, 0, -1 },
		{ S_RUN, 2100, 0, 0 }, { S_SEEN, 0, 0, 0 }, { S_RUN, 3000, 0, 0 },
		{ S_SERVES, 0, 0, 1 },
		{ S_BACK, 0, 0, 0 }, { S_RUN, 3000, 0, 0 }, { S_SERVES, 0, 0, 1 },
		{ S_DAD, 0, 0, 0 } } },
	{ "corosync restart on a standby node", three, 3, {
		{ S_RUN, 3000, 0, 0 }, { S_LOST, 2, 0, 0 }, { S_RUN, 2200, 0, 0 },
		{ S_SEEN, 0, 0, 0 }, { S_RUN, 1000, 0, 0 }, { S_SERVES, 0, 0, 0 },
		{ S_BACK, 2, 0, 0 }, { S_RUN, 3000, 0, 0 }, { S_SERVES, 0, 0, 0 } } },
	{ "health flap damped, then moved", three, 3, {
		{ S_RUN, 3000, 0, 0 }, { S_SERVES, 0, 0, 0 },
		{ S_CHECK, 0, 0, 0 }, { S_CHECK, 0, 0, 0 }, { S_RUN, 1000, 0, 0 },
		{ S_SERVES, 0, 0, 1 },		/* first take: no damping */
		{ S_CHECK, 1, 0, 0 }, { S_CHECK, 1, 0, 0 }, { S_RUN, 1000, 0, 0 },
		{ S_SERVES, 0, 0, 1 },		/* moved just now: damped */
		{ S_CHECK, 1, 0, 1 }, { S_CHECK, 1, 0, 1 },	/* recovers */
		{ S_RUN, 40000, 0, 0 }, { S_SERVES, 0, 0, 1 },
		{ S_CHECK, 1, 0, 0 }, { S_CHECK, 1, 0, 0 }, { S_RUN, 1000, 0, 0 },
		{ S_SERVES, 0, 0, 2 },		/* after damp: moved */
		{ S_DAD, 0, 0, 0 } } },
	{ "standby and online", three, 3, {
		{ S_RUN, 3000, 0, 0 }, { S_STANDBY, 1, 0, 1 }, { S_RUN, 2000, 0, 0 },
		{ S_SERVES, 0, 0, 1 }, { S_ONLINE, 1, 0, 1 }, { S_RUN, 2000, 0, 0 },
		{ S_SERVES, 0, 0, 1 }, { S_DAD, 0, 0, 0 } } },
	{ "operator moves", three, 3, {
		{ S_RUN, 3000, 0, 0 }, { S_MOVE, 2, 0, 3 }, { S_RUN, 2000, 0, 0 },
		{ S_SERVES, 0, 0, 2 }, { S_MOVE, 0, 0, 3 }, { S_RUN, 2000, 0, 0 },
		{ S_SERVES, 0, 0, 2 },		/* already there */
		{ S_MOVE, 0, 0, 9 }, { S_RUN, 2000, 0, 0 },
		{ S_SERVES, 0, 0, 2 },		/* no such node */
		{ S_MOVE, 0, 0, 1 }, { S_RUN, 2000, 0, 0 }, { S_SERVES, 0, 0, 0 },
		{ S_DAD, 0, 0, 0 } } },
	{ "slow release: the address is probed", three, 3, {
		{ S_RUN, 3000, 0, 0 }, { S_RELEASE, 900, 0, 0 },
		{ S_PART, 0, 1, 0 }, { S_SEEN, 0, 0, 0 }, { S_RUN, 5000, 0, 0 },
		{ S_SERVES, 0, 0, 1 } } },
	{ "data age", aged, 3, {
		{ S_RUN, 3000, 0, 0 }, { S_SERVES, 0, 0, -1 },
		{ S_AGE, 0, 0, 900 }, { S_AGE, 1, 0, 300 }, { S_RUN, 2000, 0, 0 },
		{ S_SERVES, 0, 0, 1 },
		{ S_AGE, 0, 0, 30 }, { S_RUN, 2000, 0, 0 },
		{ S_SERVES, 0, 0, 1 },		/* fresher a: no failback */
		{ S_KILL, 1, 0, 0 }, { S_RUN, 3000, 0, 0 }, { S_SERVES, 0, 0, 0 } } },
	{ "manual", manual, 3, {
		{ S_RUN, 3000, 0, 0 }, { S_SERVES, 0, 0, -1 },
		{ S_MOVE, 0, 0, 3 }, { S_RUN, 2000, 0, 0 }, { S_SERVES, 0, 0, 2 },
		{ S_KILL, 2, 0, 0 }, { S_RUN, 3000, 0, 0 }, { S_SERVES, 0, 0, -1 } } },
};

START_TEST(test_scenarios)
{
	const struct scenario *sc;
	const struct sstep *st;
	size_t k;
	int order;

	for (k = 0; k < sizeof(scenarios) / sizeof(scenarios[0]); k++) {
		for (order = 0; order < 2; order++) {
			sc = &scenarios[k];
			sim_start(sc->conf, sc->up);
			S.quorum_first = order;
			for (st = sc->steps; st->op != S_END; st++) {
				switch (st->op) {
				case S_END:
					break;
				case S_RUN:
					run((uint64_t)st->a);
					break;
				case S_KILL:
					kill_node((size_t)st->a);
					break;
				case S_BOOT:
					boot((size_t)st->a);
					break;
				case S_PART:
					S.n[st->a].part = st->b;
					break;
				case S_LOST:
					conn_lost((size_t)st->a);
					break;
				case S_BACK:
					conn_back((size_t)st->a);
					break;
				case S_SEEN:
					topology();
					break;
				case S_CHECK:
					check_round((size_t)st->a, (size_t)st->b, st->c);
					break;
				case S_MOVE:
					op((size_t)st->a, FMSG_MOVE, (size_t)st->b,
					    (uint32_t)st->c, 0);
					break;
				case S_STANDBY:
				case S_ONLINE:
					op((size_t)st->a, st->op == S_STANDBY ?
					    FMSG_STANDBY : FMSG_ONLINE, 0,
					    (uint32_t)st->c, 0);
					break;
				case S_AGE:
					data_age((size_t)st->a, (size_t)st->b,
					    (uint32_t)st->c);
					break;
				case S_RELEASE:
					S.release_ms = (uint64_t)st->a;
					break;
				case S_SERVES:
					ck_assert_msg(server((size_t)st->b) == st->c,
					    "%s (order %d), step %zu: site %d served "
					    "by %d, expected %d", sc->name, order,
					    (size_t)(st - sc->steps), st->b,
					    server((size_t)st->b), st->c);
					break;
				case S_DAD:
					ck_assert_msg(S.dad == (unsigned)st->a,
					    "%s: %u address probes answered",
					    sc->name, S.dad);
					break;
				}
			}
			sim_end();
		}
	}
}
END_TEST

/*
 * Random steps with fixed seeds: the safety invariant holds after every
 * event (check_safety, in feed), and the cluster settles with one server
 * whenever a majority is up and healthy.
 */
static uint64_t rng;

static unsigned
rnd(unsigned n)
{
	rng ^= rng << 13;
	rng ^= rng >> 7;
	rng ^= rng << 17;
	return (unsigned)(rng % n);
}

START_TEST(test_random)
{
	static const uint64_t seeds[] = { 1, 42, 1234567, 0xdecafbad, 7, 99 };
	static const char *const confs[] = { three, confirm };
	size_t sidx, i;
	unsigned step;

	for (sidx = 0; sidx < sizeof(seeds) / sizeof(seeds[0]); sidx++) {
		rng = seeds[sidx] * 2654435761u + 1;
		next_probe_lead = sidx % 3 == 2 ? 50 : 0;
		sim_start(confs[sidx % 2], 3);
		for (step = 0; step < 2500; step++) {
			size_t n = rnd((unsigned)S.nn);
			size_t si = rnd((unsigned)S.cfg->nsites);

			S.quorum_first = (int)rnd(2);
			switch (rnd(12)) {
			case 0:
				if (S.n[n].alive)
					kill_node(n);
				else {
					boot(n);
					topology();
				}
				break;
			case 1:
				S.n[n].part = (int)rnd(2);
				topology();
				break;
			case 2:
				for (i = 0; i < S.nn; i++)
					S.n[i].part = 0;
				topology();
				break;
			case 3:
				if (S.n[n].alive && S.n[n].connected)
					conn_lost(n);
				else if (S.n[n].alive)
					conn_back(n);
				break;
			case 4:
				if (S.n[n].alive)
					check_round(n, si, (int)rnd(2));
				break;
			case 5:
				if (S.n[n].alive && S.n[n].connected)
					op(n, FMSG_MOVE, si, 1 + rnd(3), 0);
				break;
			case 6:
				if (S.n[n].alive && S.n[n].connected)
					op(n, rnd(2) ? FMSG_STANDBY : FMSG_ONLINE, 0,
					    1 + rnd(3), 0);
				break;
			case 7:
				topology();	/* a late leave after a lost connection */
				break;
			case 8:
				S.release_ms = 10 + rnd(800);
				S.act_ms = 10 + rnd(300);
				break;
			default:
				run(rnd(3000));
				break;
			}
		}
		/* Heal everything, bring every node up: one server for www
		 * (automatic mode), whatever happened. */
		S.release_ms = 30;
		S.act_ms = 50;
		for (i = 0; i < S.nn; i++) {
			if (!S.n[i].alive)
				boot(i);
			else if (!S.n[i].connected)
				conn_back(i);
			S.n[i].part = 0;
		}
		topology();
		for (i = 0; i < S.nn; i++)
			if (S.n[i].connected)
				op(i, FMSG_ONLINE, 0, S.n[i].id, 0);
		run(120000);
		if (sidx % 2 == 0)
			ck_assert_int_ge(server(0), 0);
		else
			(void)server(0);	/* confirm mode: agreement only */
		if (S.verbose)
			fprintf(stderr, "seed %zu: %u events\n", sidx, S.steps);
		ck_assert_uint_gt(S.steps, 1000);
		sim_end();
	}
}
END_TEST

START_TEST(test_bad_input)
{
	struct placement_event ev;
	struct placement_out o = { 0 };
	static const uint8_t junk[] = { 'B', 'W', 'F', 'M', 9, 1 };
	struct placement *pl;

	sim_start(three, 3);
	run(3000);
	memset(&ev, 0, sizeof(ev));
	ev.type = PLACEMENT_EV_MESSAGE;
	ev.u.message.from = 2;
	ev.u.message.data = junk;
	ev.u.message.len = sizeof(junk);
	ck_assert_int_eq(placement_event(S.n[0].pl, &ev, &o), 0);
	ck_assert_uint_eq(o.n, 1);
	ck_assert_int_eq(o.v[0].type, PLACEMENT_ACT_LOG);
	ck_assert_str_eq(o.v[0].text, "message from node b refused: another "
	    "message version; every node must run the same version of bulwark");
	placement_out_reset(&o);
	ev.u.message.from = 77;
	ck_assert_int_eq(placement_event(S.n[0].pl, &ev, &o), 0);
	ck_assert_str_eq(o.v[0].text, "message from node id 77, which has no "
	    "[node] section; ignored");
	placement_out_free(&o);
	SERVES(0, 0);
	pl = placement_new(S.cfg, 99, NULL);
	ck_assert_ptr_null(pl);
	sim_end();
}
END_TEST

static Suite *
placement_suite(void)
{
	Suite *s = suite_create("placement");
	TCase *tc = tcase_create("core");

	tcase_add_test(tc, test_start_and_priority);
	tcase_add_test(tc, test_first_inquorate);
	tcase_add_test(tc, test_kill_holder_no_failback);
	tcase_add_test(tc, test_partition_and_merge);
	tcase_add_test(tc, test_slow_release_dad);
	tcase_add_test(tc, test_corosync_restart);
	tcase_add_test(tc, test_probe_overlaps_grace);
	tcase_add_test(tc, test_health_damped);
	tcase_add_test(tc, test_damp_initial_failed_start);
	tcase_add_test(tc, test_planned_move);
	tcase_add_test(tc, test_standby_online);
	tcase_add_test(tc, test_manual);
	tcase_add_test(tc, test_confirm);
	tcase_add_test(tc, test_data_age);
	tcase_add_test(tc, test_four_nodes);
	tcase_add_test(tc, test_start_fails);
	tcase_add_test(tc, test_two_nodes);
	tcase_add_test(tc, test_bad_input);
	tcase_add_test(tc, test_scenarios);
	tcase_add_test(tc, test_random);
	suite_add_tcase(s, tc);
	return s;
}

int
main(void)
{
	SRunner *sr = srunner_create(placement_suite());
	int failed;

	srunner_run_all(sr, CK_NORMAL);
	failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}
