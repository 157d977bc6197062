/*
 * The corosync driver.  Four handles (cmap, cpg, quorum, votequorum), each
 * with its fd in the daemon's loop and dispatched with CS_DISPATCH_ALL on
 * readiness.  Connecting is a sequence of steps, each of which corosync may
 * answer with CS_ERR_TRY_AGAIN (start-up, sync, flow control):
 *
 *   DOWN --init handles--> local id --> quorum/votequorum tracking
 *        --> join the group --> UP (report connected, then the view and
 *        quorum that arrived meanwhile)
 *
 * TRY_AGAIN retries the same step from a timer (10 ms doubling to 500 ms);
 * any other failure, a dispatch error or a hangup finalizes every handle,
 * reports disconnected if connected was reported, and starts again from
 * DOWN after 100 ms, doubling to 1 s.  Joining comes last so that no group
 * message can arrive before the daemon has been told "connected".
 *
 * cmap (node names, the effective token) is read when connecting; the
 * votes are read from a loop timer after quorum changes.  Neither is ever
 * asked from inside a callback: those are synchronous requests, and
 * corosync may not answer them during a membership change while this
 * process has not read its callbacks (seen: every daemon stuck in
 * cmap_get inside a CPG callback, corosync spinning, after a partition
 * healed).
 */
#include "config.h"

#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <corosync/cmap.h>
#include <corosync/corotypes.h>
#include <corosync/cpg.h>
#include <corosync/quorum.h>
#include <corosync/votequorum.h>

#include "failover/cluster.h"
#include "failover/cluster_internal.h"
#include "failover/loop.h"
#include "lib/util/err.h"
#include "lib/util/log.h"

/* ---- corosync ---- */

enum co_step { CO_DOWN, CO_LOCAL, CO_TRACK, CO_JOIN, CO_UP };

struct co {
	struct cluster base;
	struct loop *loop;
	enum co_step step;
	cmap_handle_t cmap;
	cpg_handle_t cpg;
	quorum_handle_t quorum;
	votequorum_handle_t vq;
	int fd_cmap, fd_cpg, fd_quorum, fd_vq;
	int have_cmap, have_cpg, have_quorum, have_vq;
	int qtracking, vqtracking;
	struct loop_timer *step_timer, *flush_timer;
	uint64_t step_delay, flush_delay, reconnect_delay;
	int reported;			/* "connected" was reported */
	int warned_down;		/* "cannot reach corosync" said once per outage */
	int leaving;
	/* what arrived before UP, replayed after "connected" */
	int have_view, have_quorum_ev;
	int have_ring;			/* a ring id is known since this connection */
	int view_pending;		/* a view waits for its ring id */
	struct loop_timer *view_timer;	/* ...but not for ever */
	struct loop_timer *info_timer;	/* votequorum is asked from the loop */
	struct cluster_qmsg *held, **held_tail;	/* messages behind a held view */
	uint32_t view[CPG_MEMBERS_MAX];
	size_t nview;
	int quorate;
	struct cluster_ring ring, qring;
};

#define CO_TRY_MIN 10
#define CO_TRY_MAX 500
#define CO_RECONNECT_MIN 100
#define CO_RECONNECT_MAX 1000
#define CO_VIEW_WAIT 1000	/* longest wait for the ring of a membership change */

static void co_step_timer(struct loop *l, void *arg);
static void co_vq_read(struct co *co);

/* cmap and votequorum answer requests synchronously, and corosync may not
 * answer them while it waits for this process to read its callbacks: never
 * ask them from inside a callback.  Quorum changes refresh the votes from
 * the loop instead. */
static void
co_info_timer(struct loop *l, void *arg)
{
	struct co *co = arg;

	(void)l;
	co->info_timer = NULL;
	if (co->step == CO_UP)
		co_vq_read(co);
}

static void
co_info_later(struct co *co)
{
	if (co->info_timer == NULL)
		co->info_timer = loop_timer_add(co->loop, 0, co_info_timer, co);
}
static void co_lost(struct co *co, const char *what, cs_error_t err);

static const char *
cs_str(cs_error_t e)
{
	switch (e) {
	case CS_OK: return "ok";
	case CS_ERR_LIBRARY: return "cannot reach corosync (CS_ERR_LIBRARY)";
	case CS_ERR_TRY_AGAIN: return "try again";
	case CS_ERR_BAD_HANDLE: return "bad handle";
	case CS_ERR_ACCESS: return "access denied (run as root)";
	case CS_ERR_NOT_EXIST: return "does not exist";
	case CS_ERR_EXIST: return "already exists";
	case CS_ERR_NO_MEMORY: return "out of memory";
	case CS_ERR_TIMEOUT: return "timeout";
	case CS_ERR_SECURITY: return "security";
	default: break;
	}
	return "corosync error";
}

static struct co *
co_of(struct cluster *c)
{
	return (struct co *)c;
}

static void
co_cmap_read(struct co *co)
{
	struct cluster *c = &co->base;
	struct cluster_names *names = NULL, *nn;
	size_t n = 0;
	cmap_iter_handle_t it;
	char key[CMAP_KEYNAME_MAXLEN + 1], nkey[CMAP_KEYNAME_MAXLEN + 1];
	uint32_t u, id;
	char *name;
	unsigned idx;

	if (cmap_get_uint32(co->cmap, "runtime.config.totem.token", &u) == CS_OK)
		c->info.token_ms = u;
	if (cmap_iter_init(co->cmap, "nodelist.node.", &it) != CS_OK)
		return;
	while (cmap_iter_next(co->cmap, it, key, NULL, NULL) == CS_OK) {
		char tail[16];

		if (sscanf(key, "nodelist.node.%u.%15s", &idx, tail) != 2 ||
		    strcmp(tail, "nodeid") != 0)
			continue;
		if (cmap_get_uint32(co->cmap, key, &id) != CS_OK)
			continue;
		snprintf(nkey, sizeof(nkey), "nodelist.node.%u.name", idx);
		name = NULL;
		if (cmap_get_string(co->cmap, nkey, &name) != CS_OK) {
			snprintf(nkey, sizeof(nkey), "nodelist.node.%u.ring0_addr", idx);
			if (cmap_get_string(co->cmap, nkey, &name) != CS_OK)
				continue;
		}
		if ((nn = realloc(names, (n + 1) * sizeof(*names))) == NULL) {
			free(name);
			break;
		}
		names = nn;
		names[n].nodeid = id;
		snprintf(names[n].name, sizeof(names[n].name), "%s", name);
		n++;
		free(name);
	}
	cmap_iter_finalize(co->cmap, it);
	free(c->names);
	c->names = names;
	c->nnames = n;
}

static void
co_vq_read(struct co *co)
{
	struct cluster_info *ci = &co->base.info;
	struct votequorum_info vi;

	if (!co->have_vq || ci->local_nodeid == 0)
		return;
	memset(&vi, 0, sizeof(vi));
	if (votequorum_getinfo(co->vq, ci->local_nodeid, &vi) != CS_OK)
		return;
	ci->expected_votes = vi.node_expected_votes;
	ci->total_votes = vi.total_votes;
	ci->quorum_votes = vi.quorum;
	ci->two_node = !!(vi.flags & VOTEQUORUM_INFO_TWONODE);
	ci->qdevice = !!(vi.flags & VOTEQUORUM_INFO_QDEVICE_REGISTERED);
	ci->qdevice_alive = !!(vi.flags & VOTEQUORUM_INFO_QDEVICE_ALIVE);
	snprintf(ci->qdevice_name, sizeof(ci->qdevice_name), "%.*s",
	    (int)sizeof(ci->qdevice_name) - 1, vi.qdevice_name);
}

/* -- callbacks: only record and report; nothing slow here -- */

static struct co *
co_from_cpg(cpg_handle_t h)
{
	void *ctx = NULL;

	return cpg_context_get(h, &ctx) == CS_OK ? ctx : NULL;
}

static void
co_deliver(cpg_handle_t h, const struct cpg_name *g, uint32_t nodeid, uint32_t pid,
    void *msg, size_t len)
{
	struct co *co = co_from_cpg(h);

	struct cluster_qmsg *m;

	(void)g;
	(void)pid;
	if (co == NULL || co->step != CO_UP || co->leaving)
		return;
	if (co->view_pending) {
		/* Keep the agreed order: after the view they came behind. */
		if ((m = malloc(sizeof(*m) + len + sizeof(uint32_t))) == NULL) {
			log_error("cluster: out of memory holding a message; it is lost");
			return;
		}
		m->next = NULL;
		m->n = len;
		memcpy(m->p, &nodeid, sizeof(nodeid));
		memcpy(m->p + sizeof(nodeid), msg, len);
		*co->held_tail = m;
		co->held_tail = &m->next;
		return;
	}
	co->base.cb->message(co->base.arg, nodeid, msg, len);
}

/* Reports the held view with the ring now known, then what came behind it. */
static void
co_release_view(struct co *co)
{
	struct cluster_qmsg *m;
	uint32_t from;

	if (!co->view_pending)
		return;
	co->view_pending = 0;
	if (co->view_timer) {
		loop_timer_cancel(co->loop, co->view_timer);
		co->view_timer = NULL;
	}
	if (co->step == CO_UP && co->reported && !co->leaving)
		co->base.cb->view(co->base.arg, co->view, co->nview, co->ring);
	while ((m = co->held) != NULL) {
		co->held = m->next;
		memcpy(&from, m->p, sizeof(from));
		if (co->step == CO_UP && co->reported && !co->leaving)
			co->base.cb->message(co->base.arg, from, m->p + sizeof(from), m->n);
		free(m);
	}
	co->held_tail = &co->held;
}

static void
co_view_timer(struct loop *l, void *arg)
{
	struct co *co = arg;

	(void)l;
	co->view_timer = NULL;
	log_warn("cluster: no ring id came with a membership change; using ring %u.%llu",
	    co->ring.nodeid, (unsigned long long)co->ring.seq);
	co_release_view(co);
}

static void
co_confchg(cpg_handle_t h, const struct cpg_name *g, const struct cpg_address *m, size_t nm,
    const struct cpg_address *left, size_t nleft, const struct cpg_address *joined,
    size_t njoined)
{
	struct co *co = co_from_cpg(h);
	int ring_changes = 0;
	size_t i;

	(void)g;
	if (co == NULL)
		return;
	/* A node going down or coming up changes the totem ring, and corosync
	 * reports the group's change before the new ring: hold the view (and
	 * the messages behind it) until the ring comes.  A process joining or
	 * leaving keeps the ring. */
	for (i = 0; i < nleft; i++)
		if (left[i].reason == CPG_REASON_NODEDOWN || left[i].reason == CPG_REASON_NODEUP)
			ring_changes = 1;
	for (i = 0; i < njoined; i++)
		if (joined[i].reason == CPG_REASON_NODEDOWN || joined[i].reason == CPG_REASON_NODEUP)
			ring_changes = 1;
	if (nm > CPG_MEMBERS_MAX)
		nm = CPG_MEMBERS_MAX;
	for (i = 0; i < nm; i++)
		co->view[i] = m[i].nodeid;
	co->nview = nm;
	co->have_view = 1;
	/* The first group view of a connection can come before the totem
	 * configuration that names its ring: hold it until the ring is known,
	 * so every member pairs the view with the same ring id. */
	if (!co->have_ring || ring_changes || co->view_pending) {
		/* A second change before the ring came: the newest view counts. */
		co->view_pending = 1;
		if (co->view_timer == NULL)
			co->view_timer = loop_timer_add(co->loop, CO_VIEW_WAIT, co_view_timer, co);
		return;
	}
	if (co->step == CO_UP && co->reported && !co->leaving)
		co->base.cb->view(co->base.arg, co->view, co->nview, co->ring);
}

static void
co_totem(cpg_handle_t h, struct cpg_ring_id ring, uint32_t n, const uint32_t *members)
{
	struct co *co = co_from_cpg(h);
	int moved;

	(void)n;
	(void)members;
	if (co == NULL)
		return;
	moved = co->have_ring && (co->ring.nodeid != ring.nodeid || co->ring.seq != ring.seq);
	co->ring.nodeid = ring.nodeid;
	co->ring.seq = ring.seq;
	co->have_ring = 1;
	log_debug("cluster: totem ring %u.%llu, %u node(s)", ring.nodeid,
	    (unsigned long long)ring.seq, n);
	if (co->view_pending) {
		co_release_view(co);
		return;
	}
	/* The ring moved on after the group's change was reported: a node
	 * whose corosync stops cleanly has its processes leave the group
	 * first (with the old ring), then leaves the ring.  Report the view
	 * again with the new ring, or it would never pair with the quorum
	 * notice for that ring and nobody would take that node's sites
	 * until the next membership change. */
	if (moved && co->have_view && co->step == CO_UP && co->reported && !co->leaving)
		co->base.cb->view(co->base.arg, co->view, co->nview, co->ring);
}

static void
co_quorum_cb(quorum_handle_t h, uint32_t quorate, struct quorum_ring_id ring, uint32_t n,
    const uint32_t *members)
{
	const void *ctx = NULL;
	struct co *co;

	(void)n;
	(void)members;
	if (quorum_context_get(h, &ctx) != CS_OK || (co = (struct co *)ctx) == NULL)
		return;
	co->quorate = !!quorate;
	co->qring.nodeid = ring.nodeid;
	co->qring.seq = ring.seq;
	co->have_quorum_ev = 1;
	co_info_later(co);
	if (co->step == CO_UP && co->reported && !co->leaving)
		co->base.cb->quorum(co->base.arg, co->quorate, co->qring);
}

static void
co_vq_cb(votequorum_handle_t h, uint64_t context, uint32_t quorate, uint32_t n,
    votequorum_node_t *nodes)
{
	void *ctx = NULL;

	(void)context;
	(void)quorate;
	(void)n;
	(void)nodes;
	if (votequorum_context_get(h, &ctx) == CS_OK && ctx)
		co_info_later(ctx);
}

static void
co_vq_expected_cb(votequorum_handle_t h, uint64_t context, uint32_t expected)
{
	void *ctx = NULL;

	(void)context;
	(void)expected;
	if (votequorum_context_get(h, &ctx) == CS_OK && ctx)
		co_info_later(ctx);
}

/* -- the loop side -- */

static void
co_fd_ready(struct loop *l, int fd, short revents, void *arg)
{
	struct co *co = arg;
	cs_error_t e = CS_OK;
	const char *what = "cpg";

	(void)l;
	co->base.in_dispatch = 1;
	if (co->have_cpg && fd == co->fd_cpg)
		e = cpg_dispatch(co->cpg, CS_DISPATCH_ALL);
	else if (co->have_quorum && fd == co->fd_quorum) {
		what = "quorum";
		e = quorum_dispatch(co->quorum, CS_DISPATCH_ALL);
	} else if (co->have_vq && fd == co->fd_vq) {
		what = "votequorum";
		e = votequorum_dispatch(co->vq, CS_DISPATCH_ALL);
	} else if (co->have_cmap && fd == co->fd_cmap) {
		what = "cmap";
		e = cmap_dispatch(co->cmap, CS_DISPATCH_ALL);
	}
	co->base.in_dispatch = 0;
	if (e != CS_OK && e != CS_ERR_TRY_AGAIN) {
		co_lost(co, what, e);
		return;
	}
	if (revents & (POLLHUP | POLLERR | POLLNVAL)) {
		co_lost(co, what, CS_ERR_LIBRARY);
		return;
	}
	if (co->base.qlen)
		co->base.ops->want_flush(&co->base);
}

static void
co_close(struct co *co)
{
	if (co->step_timer) {
		loop_timer_cancel(co->loop, co->step_timer);
		co->step_timer = NULL;
	}
	if (co->flush_timer) {
		loop_timer_cancel(co->loop, co->flush_timer);
		co->flush_timer = NULL;
	}
	if (co->info_timer) {
		loop_timer_cancel(co->loop, co->info_timer);
		co->info_timer = NULL;
	}
	if (co->have_cpg) {
		loop_fd_del(co->loop, co->fd_cpg);
		cpg_finalize(co->cpg);
		co->have_cpg = 0;
	}
	if (co->have_quorum) {
		loop_fd_del(co->loop, co->fd_quorum);
		quorum_finalize(co->quorum);
		co->have_quorum = 0;
	}
	if (co->have_vq) {
		loop_fd_del(co->loop, co->fd_vq);
		votequorum_finalize(co->vq);
		co->have_vq = 0;
	}
	if (co->have_cmap) {
		loop_fd_del(co->loop, co->fd_cmap);
		cmap_finalize(co->cmap);
		co->have_cmap = 0;
	}
	co->qtracking = co->vqtracking = 0;
	co->have_view = co->have_quorum_ev = 0;
	co->have_ring = co->view_pending = 0;
	memset(&co->ring, 0, sizeof(co->ring));
	if (co->view_timer) {
		loop_timer_cancel(co->loop, co->view_timer);
		co->view_timer = NULL;
	}
	while (co->held) {
		struct cluster_qmsg *m = co->held;

		co->held = m->next;
		free(m);
	}
	co->held_tail = &co->held;
	co->step = CO_DOWN;
	co->base.info.connected = 0;
	cluster_queue_clear(&co->base);
}

static void
co_schedule(struct co *co, uint64_t ms)
{
	if (co->step_timer)
		loop_timer_cancel(co->loop, co->step_timer);
	co->step_timer = loop_timer_add(co->loop, ms, co_step_timer, co);
	if (co->step_timer == NULL)
		log_error("cluster: out of memory for a retry timer; corosync is not "
		    "reconnected (restart bulwark-failoverd)");
}

static void
co_lost(struct co *co, const char *what, cs_error_t err)
{
	int was = co->reported;

	if (was)
		log_error("cluster: lost corosync (%s: %s); giving up every site until it "
		    "is back", what, cs_str(err));
	co_close(co);
	co->reported = 0;
	co->reconnect_delay = CO_RECONNECT_MIN;
	co_schedule(co, co->reconnect_delay);
	if (was)
		co->base.cb->disconnected(co->base.arg);
}

static int
co_add_fd(struct co *co, int fd)
{
	return loop_fd_add(co->loop, fd, POLLIN, co_fd_ready, co);
}

/* Opens the four handles; CS_OK or the first error. */
static cs_error_t
co_init_handles(struct co *co)
{
	static votequorum_callbacks_t vqcb = { co_vq_cb, co_vq_expected_cb, NULL };
	cpg_model_v1_data_t cm = {
		.model = CPG_MODEL_V1,
		.cpg_deliver_fn = co_deliver,
		.cpg_confchg_fn = co_confchg,
		.cpg_totem_confchg_fn = co_totem,
		.flags = CPG_MODEL_V1_DELIVER_INITIAL_TOTEM_CONF,
	};
	quorum_model_v1_data_t qm = {
		.model = QUORUM_MODEL_V1,
		.quorum_notify_fn = co_quorum_cb,
		.nodelist_notify_fn = NULL,
	};
	uint32_t qtype = 0;
	cs_error_t e;

	if ((e = cmap_initialize(&co->cmap)) != CS_OK)
		return e;
	co->have_cmap = 1;
	if ((e = cmap_fd_get(co->cmap, &co->fd_cmap)) != CS_OK)
		return e;
	if (co_add_fd(co, co->fd_cmap) != 0)
		return CS_ERR_NO_MEMORY;
	if ((e = cpg_model_initialize(&co->cpg, CPG_MODEL_V1, (cpg_model_data_t *)&cm, co)) != CS_OK)
		return e;
	co->have_cpg = 1;
	if ((e = cpg_fd_get(co->cpg, &co->fd_cpg)) != CS_OK)
		return e;
	if (co_add_fd(co, co->fd_cpg) != 0)
		return CS_ERR_NO_MEMORY;
	if ((e = quorum_model_initialize(&co->quorum, QUORUM_MODEL_V1,
	    (quorum_model_data_t *)&qm, &qtype, co)) != CS_OK)
		return e;
	co->have_quorum = 1;
	if ((e = quorum_fd_get(co->quorum, &co->fd_quorum)) != CS_OK)
		return e;
	if (co_add_fd(co, co->fd_quorum) != 0)
		return CS_ERR_NO_MEMORY;
	if ((e = votequorum_initialize(&co->vq, &vqcb)) != CS_OK)
		return e;
	co->have_vq = 1;
	votequorum_context_set(co->vq, co);
	if ((e = votequorum_fd_get(co->vq, &co->fd_vq)) != CS_OK)
		return e;
	if (co_add_fd(co, co->fd_vq) != 0)
		return CS_ERR_NO_MEMORY;
	return CS_OK;
}

/* One pass through the steps that are left. */
static void
co_advance(struct co *co)
{
	struct cluster *c = &co->base;
	struct cpg_name g;
	unsigned int nodeid = 0;
	cs_error_t e = CS_OK;
	const char *what = "init";

	if (co->step == CO_DOWN) {
		if ((e = co_init_handles(co)) != CS_OK)
			goto fail;
		co->step = CO_LOCAL;
	}
	if (co->step == CO_LOCAL) {
		what = "cpg_local_get";
		if ((e = cpg_local_get(co->cpg, &nodeid)) != CS_OK)
			goto fail;
		c->info.local_nodeid = nodeid;
		co->step = CO_TRACK;
	}
	if (co->step == CO_TRACK) {
		what = "quorum_trackstart";
		if (!co->qtracking) {
			if ((e = quorum_trackstart(co->quorum, CS_TRACK_CHANGES | CS_TRACK_CURRENT)) != CS_OK)
				goto fail;
			co->qtracking = 1;
		}
		what = "votequorum_trackstart";
		if (!co->vqtracking) {
			if ((e = votequorum_trackstart(co->vq, 0, CS_TRACK_CHANGES | CS_TRACK_CURRENT)) != CS_OK)
				goto fail;
			co->vqtracking = 1;
		}
		co->step = CO_JOIN;
	}
	if (co->step == CO_JOIN) {
		what = "cpg_join";
		memset(&g, 0, sizeof(g));
		g.length = strlen(CLUSTER_GROUP);
		memcpy(g.value, CLUSTER_GROUP, g.length);
		if ((e = cpg_join(co->cpg, &g)) != CS_OK)
			goto fail;
		co->step = CO_UP;
	}
	co_cmap_read(co);
	co_vq_read(co);
	c->info.connected = 1;
	co->reported = 1;
	co->warned_down = 0;
	co->step_delay = CO_TRY_MIN;
	co->reconnect_delay = CO_RECONNECT_MIN;
	log_info("cluster: connected to corosync as node %u (token %u ms), joined group '%s'",
	    c->info.local_nodeid, c->info.token_ms, CLUSTER_GROUP);
	c->cb->connected(c->arg, c->info.local_nodeid);
	/* What came in while connecting, in the order views come before their quorum
	 * is not promised: the daemon correlates by ring id. */
	if (co->step == CO_UP && co->have_view && co->have_ring) {
		co->view_pending = 1;
		co_release_view(co);
	}
	if (co->step == CO_UP && co->have_quorum_ev)
		c->cb->quorum(c->arg, co->quorate, co->qring);
	return;
fail:
	if (e == CS_ERR_TRY_AGAIN && co->step != CO_DOWN) {
		log_debug("cluster: %s: corosync says try again; retrying in %llu ms", what,
		    (unsigned long long)co->step_delay);
		co_schedule(co, co->step_delay);
		co->step_delay = co->step_delay * 2 > CO_TRY_MAX ? CO_TRY_MAX : co->step_delay * 2;
		return;
	}
	if (!co->warned_down) {
		log_warn("cluster: cannot connect to corosync (%s: %s); retrying every %d ms "
		    "at most (is corosync running? systemctl status corosync)", what, cs_str(e),
		    CO_RECONNECT_MAX);
		co->warned_down = 1;
	}
	co_close(co);
	co_schedule(co, co->reconnect_delay);
	co->reconnect_delay = co->reconnect_delay * 2 > CO_RECONNECT_MAX ? CO_RECONNECT_MAX :
	    co->reconnect_delay * 2;
}

static void
co_step_timer(struct loop *l, void *arg)
{
	struct co *co = arg;

	(void)l;
	co->step_timer = NULL;
	co_advance(co);
}

static int
co_start(struct cluster *c)
{
	struct co *co = co_of(c);

	co->step_delay = CO_TRY_MIN;
	co->reconnect_delay = CO_RECONNECT_MIN;
	co_advance(co);
	return 0;
}

static int
co_mcast(struct cluster *c, const void *p, size_t n)
{
	struct co *co = co_of(c);
	struct iovec iov = { (void *)p, n };
	cs_error_t e;

	if (co->step != CO_UP)
		return -1;
	e = cpg_mcast_joined(co->cpg, CPG_TYPE_AGREED, &iov, 1);
	if (e == CS_OK)
		return 0;
	if (e == CS_ERR_TRY_AGAIN)
		return 1;
	log_warn("cluster: sending to the group failed: %s", cs_str(e));
	return -1;
}

static void
co_flush_timer(struct loop *l, void *arg)
{
	struct co *co = arg;
	int rc;

	(void)l;
	co->flush_timer = NULL;
	rc = cluster_queue_flush(&co->base);
	if (rc == 0) {
		co->flush_delay = 0;
		return;
	}
	if (rc < 0) {
		co_lost(co, "cpg_mcast_joined", CS_ERR_LIBRARY);
		return;
	}
	co->flush_delay = co->flush_delay ? co->flush_delay * 2 : CO_TRY_MIN;
	if (co->flush_delay > CO_TRY_MAX)
		co->flush_delay = CO_TRY_MAX;
	co->flush_timer = loop_timer_add(co->loop, co->flush_delay, co_flush_timer, co);
}

static void
co_want_flush(struct cluster *c)
{
	struct co *co = co_of(c);

	if (co->flush_timer == NULL)
		co->flush_timer = loop_timer_add(co->loop, co->flush_delay, co_flush_timer, co);
}

static void
co_leave(struct cluster *c)
{
	struct co *co = co_of(c);
	struct cpg_name g;
	int i;

	co->leaving = 1;
	if (co->step == CO_UP) {
		/* Bounded: shutdown must not hang on a stuck corosync. */
		for (i = 0; i < 20 && cluster_queue_flush(c) == 1; i++)
			poll(NULL, 0, 5);
		if (c->qlen)
			log_warn("cluster: %zu message(s) not sent at shutdown", c->qlen);
		memset(&g, 0, sizeof(g));
		g.length = strlen(CLUSTER_GROUP);
		memcpy(g.value, CLUSTER_GROUP, g.length);
		for (i = 0; i < 20 && cpg_leave(co->cpg, &g) == CS_ERR_TRY_AGAIN; i++)
			poll(NULL, 0, 5);
	}
	co_close(co);
	co->reported = 0;
}

static void
co_free(struct cluster *c)
{
	struct co *co = co_of(c);

	co_close(co);
	free(co);
}

static const struct cluster_ops co_ops = {
	.start = co_start,
	.mcast = co_mcast,
	.want_flush = co_want_flush,
	.leave = co_leave,
	.free = co_free,
};

struct cluster *
cluster_corosync_new(struct loop *l, const struct cluster_cb *cb, void *arg)
{
	struct co *co;

	if ((co = calloc(1, sizeof(*co))) == NULL)
		return NULL;
	cluster_base_init(&co->base, &co_ops, cb, arg);
	co->loop = l;
	co->fd_cmap = co->fd_cpg = co->fd_quorum = co->fd_vq = -1;
	co->held_tail = &co->held;
	return &co->base;
}
