/*
 * failoverd's glue (contract in daemon.h).  The decisions are placement's
 * (failover/placement.c, rules in docs/FAILOVER.md); this file only moves
 * events and results in and carries actions out:
 *
 *   cluster driver   connected / disconnected / view / quorum / message
 *                    -> CONN_RESTORED / CONN_LOST / MEMBERSHIP / QUORUM /
 *                    MESSAGE
 *   health checks    a change of a site's health (rise/fall already
 *                    applied) -> that many CHECK rounds, so placement's own
 *                    count reaches the same verdict
 *   site drivers     an action's end -> ACTION_DONE
 *   loop timer       placement_next_ms -> TICK
 *
 * Placement's actions, per site, one after the other in the order given:
 *   START     start the service
 *   ADDR_ADD  probe the address (somebody answers: ADDR_IN_USE), add it,
 *             announce it, run after_take, then verify that the site's
 *             checks pass (bounded by action_timeout)
 *   ADDR_DEL  remove the address, run after_release
 *   STOP      stop the service
 *   SEND      multicast; LOG: log, audit, history; ASK: shown by status
 * An ADDR_ADD that is running when an ADDR_DEL is queued behind it (quorum
 * or corosync lost) stops after its current step and reports FAILED, so the
 * address is removed as early as possible.
 *
 * Every message delivered in agreed order is also read here (msg_decode)
 * for the history and for status: STATE, HEALTH, MOVE, STANDBY, ONLINE,
 * CONFIRM and DECIDE of every node are recorded as they are agreed.
 */
#include "config.h"

#include <sys/stat.h>
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "failover/addr.h"
#include "failover/cluster.h"
#include "failover/daemon.h"
#include "failover/health.h"
#include "failover/loop.h"
#include "failover/msg.h"
#include "failover/placement.h"
#include "failover/service.h"
#include "lib/audit/audit.h"
#include "lib/ctl/ctl.h"
#include "lib/util/buf.h"
#include "lib/util/err.h"
#include "lib/util/log.h"

#define MAX_NODES 64
#define HISTORY_MAX 200			/* transitions kept in memory */
#define REASON_MAX 320
#define CONN_TIMEOUT_MS 5000
#define SHUTDOWN_BOUND_MS 30000
#define SITE_QUEUE 8

struct dnode {
	const struct config_node *cfg;
	int member;
	int standby;
};

struct dsite {
	const struct config_site *cfg;
	size_t idx;
	struct daemon *d;
	int queue[SITE_QUEUE];		/* placement actions waiting, in order;
					 * negative: the daemon's own (start-up
					 * clean-up), not reported to placement */
	int own;			/* the running action is the daemon's own */
	size_t nq;
	int act;			/* the action running, or 0 */
	int step;			/* its step */
	int result;			/* enum placement_result so far */
	struct addr_spec *addr;		/* NULL: the site has no address */
	struct health *health;
	int health_up;			/* -1 unknown, 0, 1 */
	int8_t peer_health[MAX_NODES];	/* by node index, from HEALTH messages */
	struct loop_timer *timer;	/* verify polling, the next announcement,
					 * or a deferred result */
	unsigned announced;		/* ADDR_ADD: announcements sent */
	uint64_t verify_deadline;
	time_t since;
	char why[REASON_MAX];
	char ask[REASON_MAX];
};

struct dconn {
	struct dconn *next;
	struct ctl_conn *c;
	struct loop_timer *timeout;
	struct daemon *d;
	int replied;			/* the answer is queued: now writing */
};

struct hist {
	time_t t;
	char site[64], node[64], event[32], reason[REASON_MAX];
};

struct daemon {
	struct loop *loop;
	struct config *cfg;
	/* Configurations replaced by a reload: an action or check started
	 * before it may still point into one, so they live until the end. */
	struct config **retired;
	size_t nretired;
	int started;			/* daemon_start succeeded */
	struct daemon_opts o;
	char *self_name;
	uint32_t self_id;
	int self_idx;
	struct cluster *cl;
	struct cluster_cb cb;
	struct placement *pl;
	struct placement_out out;
	struct loop_timer *tick;
	struct audit *audit;
	struct dnode *nodes;
	size_t nnodes;
	struct dsite *sites;
	size_t nsites;
	int connected;
	int quorate;
	struct cluster_ring ring;
	int lfd;
	char *sock_path;
	struct dconn *conns;
	struct hist hist[HISTORY_MAX];
	size_t nhist, hist_head;
	char *hist_path;
	int shutting_down;
	struct loop_timer *shutdown_timer;
};

static void feed(struct daemon *d, struct placement_event *ev);
static void site_next(struct dsite *s);

/* ---- nodes and sites ---- */

static int
node_idx(const struct daemon *d, uint32_t id)
{
	size_t i;

	for (i = 0; i < d->nnodes; i++)
		if (d->nodes[i].cfg->nodeid == id)
			return (int)i;
	return -1;
}

static int
node_idx_name(const struct daemon *d, const char *name)
{
	size_t i;

	for (i = 0; i < d->nnodes; i++)
		if (strcmp(d->nodes[i].cfg->name, name) == 0)
			return (int)i;
	return -1;
}

static const char *
node_name(const struct daemon *d, uint32_t id)
{
	int i = node_idx(d, id);

	return i >= 0 ? d->nodes[i].cfg->name : id ? "(unknown node)" : "";
}

static struct dsite *
site_find(const struct daemon *d, const char *name)
{
	size_t i;

	for (i = 0; i < d->nsites; i++)
		if (strcmp(d->sites[i].cfg->name, name) == 0)
			return &d->sites[i];
	return NULL;
}

/* ---- history and audit ---- */

static void
history(struct daemon *d, struct dsite *s, uint32_t node, const char *event, const char *fmt, ...)
{
	struct hist *h;
	char line[REASON_MAX + 256], ts[32];
	va_list ap;
	struct tm tm;
	int fd, n;

	h = &d->hist[(d->hist_head + d->nhist) % HISTORY_MAX];
	if (d->nhist < HISTORY_MAX)
		d->nhist++;
	else
		d->hist_head = (d->hist_head + 1) % HISTORY_MAX;
	h->t = time(NULL);
	snprintf(h->site, sizeof(h->site), "%s", s ? s->cfg->name : "-");
	snprintf(h->node, sizeof(h->node), "%s", node_name(d, node));
	snprintf(h->event, sizeof(h->event), "%s", event);
	va_start(ap, fmt);
	vsnprintf(h->reason, sizeof(h->reason), fmt, ap);
	va_end(ap);
	if (s) {
		s->since = h->t;
		snprintf(s->why, sizeof(s->why), "%s: %s", event, h->reason);
	}
	gmtime_r(&h->t, &tm);
	strftime(ts, sizeof(ts), "%Y-%m-%dT%H:%M:%SZ", &tm);
	n = snprintf(line, sizeof(line), "%s\t%s\t%s\t%s\t%s\n", ts, h->site, h->node, h->event,
	    h->reason);
	if (n < 0)
		n = 0;
	if ((size_t)n >= sizeof(line))
		n = (int)sizeof(line) - 1;
	if (d->hist_path && (fd = open(d->hist_path, O_WRONLY | O_APPEND | O_CREAT | O_CLOEXEC,
	    0600)) >= 0) {
		if (write(fd, line, (size_t)n) < 0)
			log_warn("history %s: %s", d->hist_path, strerror(errno));
		close(fd);
	}
}

/* ---- carrying out placement's actions ---- */

enum {
	S_PROBE = 0, S_ADD, S_ANNOUNCE, S_HOOK, S_VERIFY, S_END	/* ADDR_ADD */
};

static const char *
act_name(int a)
{
	switch (a) {
	case PLACEMENT_ACT_START: return "start";
	case PLACEMENT_ACT_ADDR_ADD: return "take the address";
	case PLACEMENT_ACT_ADDR_DEL: return "release the address";
	case PLACEMENT_ACT_STOP: return "stop";
	}
	return "?";
}

static void
report(struct dsite *s, int act, enum placement_result res)
{
	struct placement_event ev = { .type = PLACEMENT_EV_ACTION_DONE };

	ev.u.done.site = s->idx;
	ev.u.done.action = act;
	ev.u.done.result = res;
	feed(s->d, &ev);
}

/* The running action ended: answer placement, then run the next one. */
static void
act_end(struct dsite *s, enum placement_result res)
{
	int act = s->act;

	s->act = 0;
	if (s->timer) {
		loop_timer_cancel(s->d->loop, s->timer);
		s->timer = NULL;
	}
	if (s->own) {
		s->own = 0;
		if (res != PLACEMENT_OK)
			log_warn("site %s: start-up clean-up: could not %s; check the node by hand",
			    s->cfg->name, act_name(act));
	} else {
		report(s, act, res);
	}
	site_next(s);
}

static int
queued(const struct dsite *s, int act)
{
	size_t i;

	for (i = 0; i < s->nq; i++)
		if (s->queue[i] == act)
			return 1;
	return 0;
}

static void addr_step(struct dsite *s);

static unsigned
announce_count(const struct config_site *c)
{
	return c->announce_count;
}

static unsigned
announce_interval(const struct config_site *c)
{
	return c->announce_interval_ms ? c->announce_interval_ms : 200;
}

static void
announce_next(struct loop *l, void *arg)
{
	struct dsite *s = arg;

	(void)l;
	s->timer = NULL;
	addr_step(s);
}

static void
step_done(struct loop *l, int err, const char *reason, void *arg)
{
	struct dsite *s = arg;

	(void)l;
	(void)reason;	/* the driver logged it */
	switch (s->act) {
	case PLACEMENT_ACT_START:
	case PLACEMENT_ACT_STOP:
		act_end(s, err ? PLACEMENT_FAILED : PLACEMENT_OK);
		return;
	case PLACEMENT_ACT_ADDR_DEL:
		if (err)
			s->result = PLACEMENT_FAILED;
		if (s->step++ == 0) {	/* the address is gone: the hook next */
			addr_step(s);
			return;
		}
		act_end(s, s->result);
		return;
	case PLACEMENT_ACT_ADDR_ADD:
		if (err == BW_ERR_EXIST && s->step == S_PROBE) {	/* in use */
			act_end(s, PLACEMENT_ADDR_IN_USE);
			return;
		}
		if (err) {
			act_end(s, PLACEMENT_FAILED);
			return;
		}
		/* A release waits behind: stop taking now. */
		if (queued(s, PLACEMENT_ACT_ADDR_DEL)) {
			log_warn("site %s: take interrupted by a release", s->cfg->name);
			act_end(s, PLACEMENT_FAILED);
			return;
		}
		/* One announcement at a time, the next from a timer that a
		 * release cancels: a node that loses quorum while announcing
		 * lets go at once, well within the others' release grace,
		 * instead of after every announcement. */
		if (s->step == S_ANNOUNCE && s->addr &&
		    ++s->announced < announce_count(s->cfg)) {
			if ((s->timer = loop_timer_add(s->d->loop,
			    announce_interval(s->cfg), announce_next, s)) == NULL)
				act_end(s, PLACEMENT_FAILED);
			return;
		}
		s->step++;
		addr_step(s);
		return;
	}
}

static void
deferred_end(struct loop *l, void *arg)
{
	struct dsite *s = arg;

	(void)l;
	s->timer = NULL;
	act_end(s, (enum placement_result)s->result);
}

/* An action that could not start, or had nothing to do, ends from the loop
 * (never inside placement_event). */
static void
end_later(struct dsite *s, enum placement_result res)
{
	s->result = res;
	if ((s->timer = loop_timer_add(s->d->loop, 0, deferred_end, s)) == NULL) {
		log_error("site %s: out of memory ending %s", s->cfg->name, act_name(s->act));
		act_end(s, res);
	}
}

static void
verify_poll(struct loop *l, void *arg)
{
	struct dsite *s = arg;

	s->timer = NULL;
	if (s->health_up == 1) {
		act_end(s, PLACEMENT_OK);
		return;
	}
	if (queued(s, PLACEMENT_ACT_ADDR_DEL) || loop_now_ms(l) >= s->verify_deadline) {
		if (!queued(s, PLACEMENT_ACT_ADDR_DEL))
			log_error("site %s does not pass its checks after the take (%s); giving "
			    "it up here", s->cfg->name, s->health ? health_last(s->health) :
			    "no check");
		act_end(s, PLACEMENT_FAILED);
		return;
	}
	s->timer = loop_timer_add(l, 50, verify_poll, s);
}

static void
addr_step(struct dsite *s)
{
	struct daemon *d = s->d;
	const struct config_site *c = s->cfg;
	uint64_t tmo = c->action_timeout_ms ? c->action_timeout_ms : 10000;
	int rc = 0;

	if (s->act == PLACEMENT_ACT_ADDR_DEL) {
		if (s->step == 0 && s->addr)
			rc = d->o.ops->addr->del(d->loop, s->addr, tmo, step_done, s);
		else if (s->step == 0 || s->own)
			rc = 1;	/* no address; or the start-up clean-up: no hook,
				 * this node may never have served the site */
		else
			rc = d->o.ops->service->run(d->loop, c, d->self_name, SERVICE_AFTER_RELEASE,
			    step_done, s);
	} else {
		switch (s->step) {
		case S_PROBE:	/* quorum is not fencing: nobody may answer on it */
		case S_ADD:
		case S_ANNOUNCE:
			if (!s->addr)
				rc = 1;
			else if (s->step == S_PROBE)
				rc = d->o.ops->addr->probe(d->loop, s->addr, tmo, step_done, s);
			else if (s->step == S_ADD)
				rc = d->o.ops->addr->add(d->loop, s->addr, tmo, step_done, s);
			else if (announce_count(c) == 0)
				rc = 1;
			else
				rc = d->o.ops->addr->announce(d->loop, s->addr, 1,
				    announce_interval(c), step_done, s);
			break;
		case S_HOOK:
			rc = d->o.ops->service->run(d->loop, c, d->self_name, SERVICE_AFTER_TAKE,
			    step_done, s);
			break;
		case S_VERIFY:
			if (c->nchecks == 0 || d->o.no_health ||
			    strcmp(d->o.ops->service->name, "null") == 0) {
				end_later(s, PLACEMENT_OK);
				return;
			}
			s->verify_deadline = loop_now_ms(d->loop) + tmo;
			if ((s->timer = loop_timer_add(d->loop, 0, verify_poll, s)) == NULL)
				end_later(s, PLACEMENT_FAILED);
			return;
		default:
			end_later(s, PLACEMENT_OK);
			return;
		}
	}
	if (rc == 1) {
		/* nothing to do in this step */
		s->step++;
		if (s->act == PLACEMENT_ACT_ADDR_DEL && s->step > 1) {
			end_later(s, (enum placement_result)s->result);
			return;
		}
		addr_step(s);
		return;
	}
	if (rc < 0)
		end_later(s, PLACEMENT_FAILED);
}

/* Starts the next queued action of the site, if none runs. */
static void
site_next(struct dsite *s)
{
	struct daemon *d = s->d;
	int rc = 0;

	if (s->act || s->nq == 0)
		return;
	s->act = s->queue[0] < 0 ? -s->queue[0] : s->queue[0];
	s->own = s->queue[0] < 0;
	memmove(s->queue, s->queue + 1, (s->nq - 1) * sizeof(s->queue[0]));
	s->nq--;
	s->step = 0;
	s->announced = 0;
	s->result = PLACEMENT_OK;
	log_debug("site %s: %s", s->cfg->name, act_name(s->act));
	switch (s->act) {
	case PLACEMENT_ACT_START:
		rc = d->o.ops->service->run(d->loop, s->cfg, d->self_name, SERVICE_START,
		    step_done, s);
		break;
	case PLACEMENT_ACT_STOP:
		rc = d->o.ops->service->run(d->loop, s->cfg, d->self_name, SERVICE_STOP,
		    step_done, s);
		break;
	case PLACEMENT_ACT_ADDR_ADD:
	case PLACEMENT_ACT_ADDR_DEL:
		addr_step(s);
		return;
	default:
		end_later(s, PLACEMENT_FAILED);
		return;
	}
	if (rc < 0)
		end_later(s, PLACEMENT_FAILED);
}

static int
busy(const struct daemon *d)
{
	size_t i;

	for (i = 0; i < d->nsites; i++)
		if (d->sites[i].act || d->sites[i].nq)
			return 1;
	return 0;
}

static void
on_note(struct daemon *d, const struct placement_action *a)
{
	struct dsite *s = a->site < d->nsites ? &d->sites[a->site] : NULL;

	/* placement's text names the site already */
	if (a->level == LOG_LVL_ERROR)
		log_error("%s", a->text);
	else if (a->level == LOG_LVL_WARN)
		log_warn("%s", a->text);
	else if (a->level == LOG_LVL_INFO)
		log_info("%s", a->text);
	else
		log_debug("%s", a->text);
	/* What this node decided and did, in its audit log. */
	if (d->audit && a->level <= LOG_LVL_INFO)
		audit_append(d->audit, "failover", s ? s->cfg->name : "cluster",
		    a->level == LOG_LVL_ERROR ? AUDIT_FAIL : AUDIT_OK, a->text);
}

static void
execute(struct daemon *d, struct placement_out *o)
{
	struct dsite *s;
	size_t i;
	int rc;

	for (i = 0; i < o->n; i++) {
		const struct placement_action *a = &o->v[i];

		switch (a->type) {
		case PLACEMENT_ACT_START:
		case PLACEMENT_ACT_ADDR_ADD:
		case PLACEMENT_ACT_ADDR_DEL:
		case PLACEMENT_ACT_STOP:
			if (a->site >= d->nsites)
				break;
			s = &d->sites[a->site];
			if (d->o.ops == NULL || s->nq >= SITE_QUEUE) {
				log_error("site %s: too many actions queued; %s refused",
				    s->cfg->name, act_name(a->type));
				break;
			}
			s->queue[s->nq++] = a->type;
			/* Between two announcements: the take ends now. */
			if (a->type == PLACEMENT_ACT_ADDR_DEL && s->act == PLACEMENT_ACT_ADDR_ADD &&
			    s->step == S_ANNOUNCE && s->timer) {
				loop_timer_cancel(d->loop, s->timer);
				s->timer = NULL;
				log_warn("site %s: take interrupted by a release", s->cfg->name);
				end_later(s, PLACEMENT_FAILED);
			}
			break;
		case PLACEMENT_ACT_SEND:
			if (!d->connected)
				break;
			if ((rc = cluster_send(d->cl, a->data, a->len)) != 0)
				log_warn("a placement message was not sent (%s)", bw_strerror(rc));
			break;
		case PLACEMENT_ACT_LOG:
			on_note(d, a);
			break;
		case PLACEMENT_ACT_ASK:
			if (a->site < d->nsites) {
				s = &d->sites[a->site];
				snprintf(s->ask, sizeof(s->ask), "%s", a->text);
				log_warn("site %s: %s (answer with 'bulwark failover confirm %s "
				    "yes|no')", s->cfg->name, a->text, s->cfg->name);
				history(d, s, d->self_id, "ask", "%s", a->text);
			}
			break;
		}
	}
	for (i = 0; i < d->nsites; i++)
		site_next(&d->sites[i]);
}

static void
tick(struct loop *l, void *arg)
{
	struct daemon *d = arg;
	struct placement_event ev = { .type = PLACEMENT_EV_TICK };

	(void)l;
	d->tick = NULL;
	feed(d, &ev);
}

/* One event into placement; its actions out.  Re-entry (an action ending
 * at once) is avoided: actions end from the loop, never inside here. */
static void
feed(struct daemon *d, struct placement_event *ev)
{
	struct placement_out o;
	uint64_t next, now = loop_now_ms(d->loop);

	if (d->pl == NULL)
		return;
	ev->now_ms = now;
	if (placement_event(d->pl, ev, &d->out) != 0)
		log_error("placement: out of memory; some actions were lost (restart "
		    "bulwark-failoverd if sites stay wrong)");
	/* Take the list: executing may feed more events. */
	o = d->out;
	memset(&d->out, 0, sizeof(d->out));
	execute(d, &o);
	placement_out_free(&o);
	next = placement_next_ms(d->pl);
	if (d->tick) {
		loop_timer_cancel(d->loop, d->tick);
		d->tick = NULL;
	}
	if (next != UINT64_MAX)
		d->tick = loop_timer_add(d->loop, next > now ? next - now : 0, tick, d);
	if (d->shutting_down)
		daemon_shutdown(d);
}

/* ---- cluster events ---- */

/* Placement's parameters from [cluster]. */
static void
params_from(struct placement_params *pp, const struct config *cfg)
{
	placement_params_default(pp);
	if (cfg->cluster.release_grace_ms)
		pp->release_grace_ms = cfg->cluster.release_grace_ms;
	/* The real probe's shortest run (failover/addr.c): probes - 1 gaps,
	 * then the listening.  Only sites with an address use it. */
	if (cfg->cluster.dad_probes)
		pp->addr_probe_ms = (uint64_t)(cfg->cluster.dad_probes - 1) *
		    cfg->cluster.dad_interval_ms + cfg->cluster.dad_wait_ms;
}

static int
make_placement(struct daemon *d)
{
	struct placement_event ev = { .type = PLACEMENT_EV_CONN_LOST };
	struct placement_params pp;

	params_from(&pp, d->cfg);
	if ((d->pl = placement_new(d->cfg, d->self_id, d->o.pp ? d->o.pp : &pp)) == NULL)
		return BW_ERR_NOMEM;
	/* It starts out connected; it is not until the driver says so. */
	if (!d->connected)
		feed(d, &ev);
	return 0;
}

static void
ev_connected(void *arg, uint32_t id)
{
	struct daemon *d = arg;
	struct placement_event ev = { .type = PLACEMENT_EV_CONN_RESTORED };

	d->connected = 1;
	if (d->self_id == 0) {
		d->self_idx = node_idx(d, id);
		if (d->self_idx < 0) {
			log_error("corosync node id %u is not the nodeid of any [node] section of "
			    "%s; add it, or start with --node NAME (this node takes no site)",
			    id, d->cfg->file ? d->cfg->file : "the configuration");
			return;
		}
		d->self_id = id;
		free(d->self_name);
		d->self_name = strdup(d->nodes[d->self_idx].cfg->name);
		log_info("this node is %s (corosync node id %u)", d->self_name, id);
	}
	if (d->self_id != id) {
		log_error("corosync says this is node id %u but [node %s] has nodeid %u; fix "
		    "the [node] sections or --node (this node takes no site meanwhile)", id,
		    d->self_name ? d->self_name : "?", d->self_id);
		return;
	}
	if (d->pl == NULL && make_placement(d) != 0)
		return;
	history(d, NULL, id, "connected", "connected to corosync");
	feed(d, &ev);
}

static void
ev_disconnected(void *arg)
{
	struct daemon *d = arg;
	struct placement_event ev = { .type = PLACEMENT_EV_CONN_LOST };
	size_t i;

	d->connected = 0;
	d->quorate = 0;
	for (i = 0; i < d->nnodes; i++)
		d->nodes[i].member = 0;
	history(d, NULL, d->self_id, "disconnected", "lost corosync; membership unknown");
	feed(d, &ev);
}

static void
ev_view(void *arg, const uint32_t *m, size_t n, struct cluster_ring ring)
{
	struct daemon *d = arg;
	struct placement_event ev = { .type = PLACEMENT_EV_MEMBERSHIP };
	size_t i;
	int k;

	for (i = 0; i < d->nnodes; i++)
		d->nodes[i].member = 0;
	for (i = 0; i < n; i++) {
		if ((k = node_idx(d, m[i])) >= 0)
			d->nodes[k].member = 1;
		else
			log_warn("node id %u joined the group but no [node] section has that "
			    "nodeid; it gets no site", m[i]);
	}
	d->ring = ring;
	log_info("view: %zu member(s), ring %u.%llu", n, ring.nodeid,
	    (unsigned long long)ring.seq);
	ev.u.membership.ring.nodeid = ring.nodeid;
	ev.u.membership.ring.seq = ring.seq;
	ev.u.membership.members = m;
	ev.u.membership.nmembers = n;
	feed(d, &ev);
}

static void
ev_quorum(void *arg, int quorate, struct cluster_ring ring)
{
	struct daemon *d = arg;
	struct placement_event ev = { .type = PLACEMENT_EV_QUORUM };

	if (quorate != d->quorate)
		history(d, NULL, d->self_id, quorate ? "quorate" : "inquorate", "ring %u.%llu",
		    ring.nodeid, (unsigned long long)ring.seq);
	d->quorate = quorate;
	ev.u.quorum.ring.nodeid = ring.nodeid;
	ev.u.quorum.ring.seq = ring.seq;
	ev.u.quorum.quorate = quorate;
	feed(d, &ev);
}

/* Reads an agreed message for status and history (placement acts on it). */
static void
observe(struct daemon *d, uint32_t from, const uint8_t *p, size_t n)
{
	struct msg m;
	struct dsite *s;
	int fi = node_idx(d, from), ti;
	size_t i;

	if (fi < 0 || msg_decode(p, n, &m) != 0)
		return;		/* placement logs what is malformed */
	s = m.type != FMSG_STANDBY && m.type != FMSG_ONLINE && m.type != FMSG_HELLO ?
	    site_find(d, m.site) : NULL;
	ti = node_idx(d, m.node);
	switch (m.type) {
	case FMSG_STATE:
		if (s)
			history(d, s, from, msg_state_name(m.state), "%s",
			    m.reason[0] ? m.reason : "reported by the node");
		break;
	case FMSG_HEALTH:
		if (s) {
			s->peer_health[fi] = (int8_t)!!m.ok;
			history(d, s, from, m.ok ? "healthy" : "unhealthy", "%s",
			    m.reason[0] ? m.reason : "checks pass");
		}
		break;
	case FMSG_MOVE:
		if (s)
			history(d, s, m.node, "move", "operator request, sent by %s",
			    node_name(d, from));
		break;
	case FMSG_STANDBY:
	case FMSG_ONLINE:
		if (ti >= 0) {
			d->nodes[ti].standby = m.type == FMSG_STANDBY;
			history(d, NULL, m.node, m.type == FMSG_STANDBY ? "standby" : "online",
			    "operator request, sent by %s", node_name(d, from));
		}
		break;
	case FMSG_CONFIRM:
		if (s) {
			s->ask[0] = 0;
			history(d, s, m.node, m.ok ? "confirmed" : "declined",
			    "operator answer, sent by %s", node_name(d, from));
		}
		break;
	case FMSG_DECIDE:
		if (s)
			history(d, s, m.node, "decided", "%s", m.reason);
		break;
	case FMSG_HELLO:
		d->nodes[fi].standby = m.standby;
		for (i = 0; i < m.nsites; i++)
			if ((s = site_find(d, m.sites[i].site)) != NULL)
				s->peer_health[fi] = (int8_t)!!m.sites[i].healthy;
		break;
	default:
		break;
	}
	msg_free(&m);
}

static void
ev_message(void *arg, uint32_t from, const uint8_t *p, size_t n)
{
	struct daemon *d = arg;
	struct placement_event ev = { .type = PLACEMENT_EV_MESSAGE };

	observe(d, from, p, n);
	ev.u.message.from = from;
	ev.u.message.data = p;
	ev.u.message.len = n;
	feed(d, &ev);
}

/* ---- health ---- */

static void
health_changed(struct health *h, enum health_state state, const char *reason, void *arg)
{
	struct dsite *s = arg;
	struct placement_event ev = { .type = PLACEMENT_EV_CHECK };
	unsigned i, rounds;

	(void)h;
	s->health_up = state == HEALTH_UNKNOWN ? -1 : state == HEALTH_UP;
	if (state == HEALTH_UNKNOWN)
		return;
	/* health already counted rise/fall; placement counts again, so it gets
	 * that many rounds of the verdict. */
	rounds = state == HEALTH_UP ? s->cfg->rise : s->cfg->fall;
	if (rounds == 0)
		rounds = 1;
	ev.u.check.site = s->idx;
	ev.u.check.ok = state == HEALTH_UP;
	ev.u.check.reason = reason;
	for (i = 0; i < rounds; i++)
		feed(s->d, &ev);
}

void
daemon_test_health(struct daemon *d, const char *site, int up)
{
	struct dsite *s = site_find(d, site);

	if (s)
		health_changed(NULL, up ? HEALTH_UP : HEALTH_DOWN, "scripted", s);
}

/* ---- status and requests ---- */

static void
js(struct buf *b, const char *s)
{
	const unsigned char *p = (const unsigned char *)(s ? s : "");
	char e[8];

	buf_put(b, "\"", 1);
	for (; *p; p++) {
		if (*p == '"' || *p == '\\') {
			buf_put(b, "\\", 1);
			buf_put(b, p, 1);
		} else if (*p < 0x20 || *p == 0x7f) {
			snprintf(e, sizeof(e), "\\u%04x", *p);
			buf_put(b, e, 6);
		} else {
			buf_put(b, p, 1);
		}
	}
	buf_put(b, "\"", 1);
}

static const char *
node_state(const struct daemon *d, size_t i)
{
	if (!d->connected)
		return "unknown";
	if (!d->nodes[i].member)
		return "offline";
	return d->nodes[i].standby ? "standby" : "online";
}

static const char *
hname(int h)
{
	return h < 0 ? "unknown" : h ? "up" : "down";
}

static void
iso(char *out, size_t n, time_t t)
{
	struct tm tm;

	if (t == 0) {
		snprintf(out, n, "-");
		return;
	}
	gmtime_r(&t, &tm);
	strftime(out, n, "%Y-%m-%dT%H:%M:%SZ", &tm);
}

static int8_t
health_of(const struct daemon *d, const struct dsite *s, size_t i)
{
	if ((int)i == d->self_idx)
		return (int8_t)s->health_up;
	return d->nodes[i].member ? s->peer_health[i] : -1;
}

static const char *
local_name(const struct daemon *d, size_t si)
{
	static const char *const n[] = { "idle", "starting", "ready", "adding", "serving",
		"releasing" };
	unsigned k;

	if (d->pl == NULL)
		return "idle";
	k = (unsigned)placement_local_state(d->pl, si);
	return k < 6 ? n[k] : "?";
}

static uint32_t
owner_of(const struct daemon *d, size_t si)
{
	return d->pl && d->connected ? placement_owner(d->pl, si) : 0;
}

static uint32_t
moving_to(const struct daemon *d, size_t si)
{
	return d->pl && d->connected ? placement_move_target(d->pl, si) : 0;
}

static void
status_json(struct daemon *d, struct buf *b)
{
	struct cluster_info ci;
	char ts[32];
	size_t i, k;
	uint32_t o, t;

	cluster_get_info(d->cl, &ci);
	buf_printf(b, "{\"node\":");
	js(b, d->self_name);
	buf_printf(b, ",\"nodeid\":%u,\"corosync\":\"%s\",\"quorate\":%s,\"ready\":%s,"
	    "\"ring\":\"%u.%llu\",\"token_ms\":%u,\"expected_votes\":%u,\"total_votes\":%u,"
	    "\"qdevice\":%s,\"nodes\":[", d->self_id, d->connected ? "connected" : "disconnected",
	    d->connected && d->quorate ? "true" : "false",
	    d->pl && placement_ready(d->pl) ? "true" : "false", d->ring.nodeid,
	    (unsigned long long)d->ring.seq, ci.token_ms, ci.expected_votes, ci.total_votes,
	    ci.qdevice ? "true" : "false");
	for (i = 0; i < d->nnodes; i++) {
		buf_printf(b, "%s{\"name\":", i ? "," : "");
		js(b, d->nodes[i].cfg->name);
		buf_printf(b, ",\"nodeid\":%u,\"state\":\"%s\",\"witness\":%s}", d->nodes[i].cfg->nodeid,
		    node_state(d, i), d->nodes[i].cfg->witness ? "true" : "false");
	}
	buf_printf(b, "],\"sites\":[");
	for (i = 0; i < d->nsites; i++) {
		struct dsite *s = &d->sites[i];

		o = owner_of(d, i);
		t = moving_to(d, i);
		buf_printf(b, "%s{\"name\":", i ? "," : "");
		js(b, s->cfg->name);
		buf_printf(b, ",\"serving\":");
		if (o)
			js(b, node_name(d, o));
		else
			buf_printf(b, "null");
		buf_printf(b, ",\"moving_to\":");
		if (t)
			js(b, node_name(d, t));
		else
			buf_printf(b, "null");
		buf_printf(b, ",\"state_here\":\"%s\",\"mode\":\"%s\",\"health\":{", local_name(d, i),
		    s->cfg->mode == CONFIG_SITE_MANUAL ? "manual" :
		    s->cfg->mode == CONFIG_SITE_CONFIRM ? "confirm" : "automatic");
		for (k = 0; k < d->nnodes; k++) {
			if (k)
				buf_printf(b, ",");
			js(b, d->nodes[k].cfg->name);
			buf_printf(b, ":\"%s\"", hname(health_of(d, s, k)));
		}
		iso(ts, sizeof(ts), s->since);
		buf_printf(b, "},\"data_age_s\":null,\"since\":\"%s\",\"why\":", ts);
		js(b, s->why);
		if (d->pl && placement_asking(d->pl, i)) {
			buf_printf(b, ",\"asking\":");
			js(b, s->ask);
		}
		buf_printf(b, "}");
	}
	buf_printf(b, "]}\n");
}

static void
status_text(struct daemon *d, struct buf *b)
{
	struct cluster_info ci;
	char ts[32];
	size_t i, k, nserved = 0;
	uint32_t o, t;

	cluster_get_info(d->cl, &ci);
	buf_printf(b, "node %s (id %u): corosync %s, %s%s, token %u ms, votes %u of %u expected%s\n",
	    d->self_name ? d->self_name : "?", d->self_id,
	    d->connected ? "connected" : "DISCONNECTED",
	    d->connected && d->quorate ? "quorate" : "NOT QUORATE",
	    d->pl && placement_ready(d->pl) ? "" : " (not in sync: takes nothing new)",
	    ci.token_ms, ci.total_votes, ci.expected_votes, ci.qdevice ? ", qdevice" : "");
	buf_printf(b, "\nnodes:\n");
	for (i = 0; i < d->nnodes; i++)
		buf_printf(b, "  %-16s id %-5u %s%s\n", d->nodes[i].cfg->name, d->nodes[i].cfg->nodeid,
		    node_state(d, i), d->nodes[i].cfg->witness ? " (witness)" : "");
	buf_printf(b, "\nsites:\n");
	for (i = 0; i < d->nsites; i++) {
		struct dsite *s = &d->sites[i];

		o = owner_of(d, i);
		t = moving_to(d, i);
		if (o)
			nserved++;
		iso(ts, sizeof(ts), s->since);
		buf_printf(b, "  %-16s served by %s", s->cfg->name, o ? node_name(d, o) : "NOBODY");
		if (t)
			buf_printf(b, " (moving to %s)", node_name(d, t));
		buf_printf(b, "; here: %s; since %s: %s\n", local_name(d, i), ts, s->why[0] ? s->why : "-");
		buf_printf(b, "  %-16s health:", "");
		for (k = 0; k < d->nnodes; k++)
			buf_printf(b, " %s=%s", d->nodes[k].cfg->name, hname(health_of(d, s, k)));
		buf_printf(b, "; data age: unknown\n");
		if (d->pl && placement_asking(d->pl, i))
			buf_printf(b, "  %-16s waiting for 'bulwark failover confirm %s yes|no': %s\n", "",
			    s->cfg->name, s->ask);
	}
	buf_printf(b, "\n%zu of %zu site(s) served; %s\n", nserved, d->nsites,
	    d->connected && d->quorate ? "cluster quorate" : "this node is not quorate");
}

static void
history_out(struct daemon *d, struct buf *b, int json)
{
	char ts[32];
	size_t i;

	if (json)
		buf_printf(b, "[");
	for (i = 0; i < d->nhist; i++) {
		struct hist *h = &d->hist[(d->hist_head + i) % HISTORY_MAX];

		iso(ts, sizeof(ts), h->t);
		if (json) {
			buf_printf(b, "%s{\"time\":\"%s\",\"site\":", i ? "," : "", ts);
			js(b, h->site);
			buf_printf(b, ",\"node\":");
			js(b, h->node);
			buf_printf(b, ",\"event\":");
			js(b, h->event);
			buf_printf(b, ",\"reason\":");
			js(b, h->reason);
			buf_printf(b, "}");
		} else {
			buf_printf(b, "%s  %-12s %-12s %-12s %s\n", ts, h->site, h->node, h->event, h->reason);
		}
	}
	if (json)
		buf_printf(b, "]\n");
}

static char *
fmt(const char *f, ...)
{
	char *s = NULL;
	va_list ap;

	va_start(ap, f);
	if (vasprintf(&s, f, ap) < 0)
		s = NULL;
	va_end(ap);
	return s;
}

int
daemon_request(struct daemon *d, int op, int json, char *const *args, char **out)
{
	struct buf b = { 0 };
	struct msg m;
	struct dsite *s = NULL;
	int rc = 0, ni = -1;

	*out = NULL;
	memset(&m, 0, sizeof(m));
	switch (op) {
	case CTL_OP_STATUS:
		if (json)
			status_json(d, &b);
		else
			status_text(d, &b);
		break;
	case CTL_OP_HISTORY:
		history_out(d, &b, json);
		break;
	case CTL_OP_MOVE:
	case CTL_OP_CONFIRM:
		if ((s = site_find(d, args[0])) == NULL) {
			*out = fmt("no site '%s' in %s; 'bulwark status' lists the sites", args[0],
			    d->cfg->file ? d->cfg->file : "the configuration");
			return BW_ERR_NOENT;
		}
		if (op == CTL_OP_MOVE && (ni = node_idx_name(d, args[1])) < 0) {
			*out = fmt("no node '%s' in the configuration", args[1]);
			return BW_ERR_NOENT;
		}
		if (op == CTL_OP_MOVE && d->nodes[ni].cfg->witness) {
			*out = fmt("node %s is a witness: it never serves a site", args[1]);
			return BW_ERR_INVAL;
		}
		if (op == CTL_OP_CONFIRM && strcmp(args[1], "yes") && strcmp(args[1], "no")) {
			*out = fmt("confirm %s: answer yes or no, not '%s'", args[0], args[1]);
			return BW_ERR_INVAL;
		}
		if (op == CTL_OP_CONFIRM && (d->pl == NULL ||
		    placement_asking(d->pl, s->idx) == 0)) {
			*out = fmt("site %s is not waiting for a confirmation", s->cfg->name);
			return BW_ERR_NOENT;
		}
		m.type = op == CTL_OP_MOVE ? FMSG_MOVE : FMSG_CONFIRM;
		msg_set_str(m.site, sizeof(m.site), s->cfg->name);
		if (op == CTL_OP_MOVE) {
			m.node = d->nodes[ni].cfg->nodeid;
		} else {
			m.node = placement_asking(d->pl, s->idx);
			m.ok = strcmp(args[1], "yes") == 0;
			m.gen = placement_gen(d->pl, s->idx);
		}
		goto send;
	case CTL_OP_STANDBY:
	case CTL_OP_ONLINE:
		if ((ni = node_idx_name(d, args[0])) < 0) {
			*out = fmt("no node '%s' in the configuration", args[0]);
			return BW_ERR_NOENT;
		}
		m.type = op == CTL_OP_STANDBY ? FMSG_STANDBY : FMSG_ONLINE;
		m.node = d->nodes[ni].cfg->nodeid;
		goto send;
	default:
		*out = fmt("unknown request %d", op);
		return BW_ERR_INVAL;
	}
	buf_put_u8(&b, 0);
	if (b.err) {
		buf_free(&b);
		return BW_ERR_NOMEM;
	}
	*out = (char *)buf_steal(&b, NULL);
	return 0;
send:
	if (!d->connected || !d->quorate || d->pl == NULL) {
		*out = fmt("this node is %s; run the request on a node of the quorate "
		    "partition", d->connected ? "not quorate" : "not connected to corosync");
		return BW_ERR_IO;
	}
	if ((rc = msg_encode(&m, &b)) == 0)
		rc = cluster_send(d->cl, b.data, b.len);
	buf_free(&b);
	if (rc != 0) {
		*out = fmt("could not send the request to the cluster (%s)", bw_strerror(rc));
		return rc;
	}
	*out = fmt("requested; 'bulwark status' shows the result");
	return 0;
}

/* ---- control socket ---- */

static void
conn_close(struct daemon *d, struct dconn *k)
{
	struct dconn **pp;

	for (pp = &d->conns; *pp; pp = &(*pp)->next)
		if (*pp == k) {
			*pp = k->next;
			break;
		}
	if (k->timeout)
		loop_timer_cancel(d->loop, k->timeout);
	loop_fd_del(d->loop, ctl_conn_fd(k->c));
	ctl_conn_free(k->c);
	free(k);
}

static void
conn_timeout(struct loop *l, void *arg)
{
	struct dconn *k = arg;

	(void)l;
	k->timeout = NULL;
	conn_close(k->d, k);
}

static void
conn_ready(struct loop *l, int fd, short revents, void *arg)
{
	struct dconn *k = arg;
	struct daemon *d = k->d;
	const struct ctl_req *req;
	char *out = NULL;
	int rc;

	(void)fd;
	(void)revents;
	if (k->replied) {
		if (ctl_conn_write(k->c) != 0)
			conn_close(d, k);
		return;
	}
	rc = ctl_conn_read(k->c, &req);
	if (rc == 0)
		return;
	if (rc < 0) {
		if (rc != BW_ERR_IO)
			log_warn("control socket: malformed request (%s); closed", bw_strerror(rc));
		conn_close(d, k);
		return;
	}
	rc = daemon_request(d, req->op, req->flags & CTL_F_JSON, req->args, &out);
	if (ctl_conn_reply(k->c, rc, rc ? out : "", rc ? "" : out) != 0) {
		free(out);
		conn_close(d, k);
		return;
	}
	free(out);
	k->replied = 1;
	loop_fd_events(l, ctl_conn_fd(k->c), POLLOUT);
	if ((rc = ctl_conn_write(k->c)) != 0)
		conn_close(d, k);
}

static void
listen_ready(struct loop *l, int fd, short revents, void *arg)
{
	struct daemon *d = arg;
	struct ctl_conn *c;
	struct dconn *k;

	(void)revents;
	while ((c = ctl_accept(fd)) != NULL) {
		if ((k = calloc(1, sizeof(*k))) == NULL) {
			ctl_conn_free(c);
			continue;
		}
		k->c = c;
		k->d = d;
		if (loop_fd_add(l, ctl_conn_fd(c), POLLIN, conn_ready, k) != 0) {
			ctl_conn_free(c);
			free(k);
			continue;
		}
		k->timeout = loop_timer_add(l, CONN_TIMEOUT_MS, conn_timeout, k);
		k->next = d->conns;
		d->conns = k;
	}
}

/* ---- life cycle ---- */

/* A site's address on its interface; NULL (logged, naming the file and
 * the site) when it does not parse or on no memory. */
static struct addr_spec *
site_addr_new(const char *file, const struct config_cluster *cl, const struct config_site *c)
{
	struct addr_spec *a;

	if ((a = calloc(1, sizeof(*a))) == NULL)
		return NULL;
	if (addr_parse(c->address, c->interface, a) != 0) {
		log_error("%s: [site %s] address %s on %s: not an ADDRESS/PREFIX on an "
		    "interface name", file ? file : "configuration", c->name, c->address,
		    c->interface);
		free(a);
		return NULL;
	}
	a->probes = cl->dad_probes;
	a->probe_gap_ms = cl->dad_interval_ms;
	a->probe_wait_ms = cl->dad_wait_ms;
	return a;
}

static int
build_tables(struct daemon *d, struct config *cfg)
{
	struct dnode *nodes;
	struct dsite *sites;
	size_t i;

	if (cfg->nnodes > MAX_NODES) {
		log_error("%s: %zu [node] sections; at most %d are supported", cfg->file,
		    cfg->nnodes, MAX_NODES);
		return BW_ERR_INVAL;
	}
	if ((nodes = calloc(cfg->nnodes + 1, sizeof(*nodes))) == NULL ||
	    (sites = calloc(cfg->nsites + 1, sizeof(*sites))) == NULL) {
		free(nodes);
		return BW_ERR_NOMEM;
	}
	for (i = 0; i < cfg->nnodes; i++)
		nodes[i].cfg = &cfg->nodes[i];
	for (i = 0; i < cfg->nsites; i++) {
		sites[i].cfg = &cfg->sites[i];
		sites[i].idx = i;
		sites[i].health_up = -1;
		sites[i].d = d;
		if (cfg->sites[i].address && cfg->sites[i].interface &&
		    (sites[i].addr = site_addr_new(cfg->file, &cfg->cluster,
		    &cfg->sites[i])) == NULL) {
			while (i--)
				free(sites[i].addr);
			free(nodes);
			free(sites);
			return BW_ERR_INVAL;
		}
		memset(sites[i].peer_health, -1, sizeof(sites[i].peer_health));
	}
	d->nodes = nodes;
	d->nnodes = cfg->nnodes;
	d->sites = sites;
	d->nsites = cfg->nsites;
	return 0;
}

struct daemon *
daemon_new(struct loop *l, struct config *cfg, const struct daemon_opts *o)
{
	struct daemon *d;

	if ((d = calloc(1, sizeof(*d))) == NULL)
		return NULL;
	d->loop = l;
	d->o = *o;
	d->lfd = -1;
	d->self_idx = -1;
	d->cb = (struct cluster_cb){ ev_connected, ev_disconnected, ev_view, ev_quorum, ev_message };
	if (build_tables(d, cfg) != 0) {
		free(d);
		return NULL;
	}
	d->cfg = cfg;
	if (o->node) {
		d->self_idx = node_idx_name(d, o->node);
		if (d->self_idx >= 0)
			d->self_id = d->nodes[d->self_idx].cfg->nodeid;
		d->self_name = strdup(o->node);
	}
	return d;
}

uint32_t daemon_nodeid(const struct daemon *d) { return d->self_id; }

int
daemon_site_state(const struct daemon *d, const char *site)
{
	struct dsite *s = site_find(d, site);

	return s ? (int)(d->pl ? placement_local_state(d->pl, s->idx) : PLACEMENT_LOCAL_IDLE) :
	    -1;
}

const char *
daemon_site_owner(const struct daemon *d, const char *site)
{
	struct dsite *s = site_find(d, site);

	return s ? node_name(d, owner_of(d, s->idx)) : "";
}

static void
start_health(struct daemon *d)
{
	size_t i;

	if (d->o.no_health)
		return;
	for (i = 0; i < d->nsites; i++)
		if (d->sites[i].cfg->nchecks && d->sites[i].health == NULL)
			d->sites[i].health = health_new(d->loop, d->sites[i].cfg, health_changed,
			    &d->sites[i]);
}

/*
 * A previous run of this daemon may have died (SIGKILL, OOM, a crash)
 * while serving: its address and service are still up, and the others,
 * seeing it leave, may already have moved the site.  Before joining, make
 * sure no site is served here: remove each address, stop each service
 * (without the after_release hook, which is for a real hand-over).  These
 * run ahead of anything placement asks for, in the same per-site queue.
 */
static void
cleanup_sites(struct daemon *d)
{
	size_t i;

	if (d->self_idx >= 0 && d->nodes[d->self_idx].cfg->witness)
		return;		/* a witness never serves */
	for (i = 0; i < d->nsites; i++) {
		struct dsite *s = &d->sites[i];

		if (s->nq + 2 > SITE_QUEUE)
			continue;
		log_info("site %s: making sure it is not served here before joining",
		    s->cfg->name);
		s->queue[s->nq++] = -PLACEMENT_ACT_ADDR_DEL;
		s->queue[s->nq++] = -PLACEMENT_ACT_STOP;
		site_next(s);
	}
}

int
daemon_start(struct daemon *d)
{
	const struct config_cluster *cc = &d->cfg->cluster;
	int rc;

	if (d->o.node && d->self_idx < 0) {
		log_error("--node %s: no [node %s] section in %s", d->o.node, d->o.node,
		    d->cfg->file ? d->cfg->file : "the configuration");
		return BW_ERR_INVAL;
	}
	if (d->self_id && (rc = make_placement(d)) != 0)
		return rc;
	if (cc->state_dir) {
		if (mkdir(cc->state_dir, 0700) != 0 && errno != EEXIST)
			log_warn("state directory %s: %s (the history is kept in memory only)",
			    cc->state_dir, strerror(errno));
		if (asprintf(&d->hist_path, "%s/history", cc->state_dir) < 0)
			d->hist_path = NULL;
	}
	if ((rc = audit_open(d->o.audit_dir ? d->o.audit_dir : d->cfg->audit.dir,
	    &d->audit)) != 0)
		log_warn("audit log: not open (%s); transitions go to the history and the "
		    "log only", bw_strerror(rc));
	if (!d->o.no_socket) {
		if ((rc = ctl_listen(cc->socket, &d->lfd)) != 0)
			return rc;
		if ((d->sock_path = strdup(cc->socket)) == NULL)
			return BW_ERR_NOMEM;
		if ((rc = loop_fd_add(d->loop, d->lfd, POLLIN, listen_ready, d)) != 0)
			return rc;
	}
	d->cl = d->o.cluster_new ? d->o.cluster_new(d->loop, &d->cb, d, d->o.cluster_arg) :
	    cluster_corosync_new(d->loop, &d->cb, d);
	if (d->cl == NULL)
		return BW_ERR_NOMEM;
	start_health(d);
	d->started = 1;
	cleanup_sites(d);
	return cluster_start(d->cl);
}

/*
 * Reload.  What every node's placement decides with must be the same on
 * every node, so a change to it is refused (it is made by restarting each
 * daemon in turn, with the same file everywhere): the [node] sections, and
 * of each [site] its name, order, priorities, mode, max_data_age,
 * confirm_default and backup_set; and its address and interface, which a
 * node serving the site holds and would otherwise never remove.  Anything
 * else is this node's own (commands, hooks, checks, timeouts, damping,
 * announcements, [cluster] grace and probes) and is swapped in at once.
 */

static int
str_same(const char *a, const char *b)
{
	return (a == NULL && b == NULL) || (a && b && strcmp(a, b) == 0);
}

/* NULL when new can replace old, else what differs (for the message). */
static const char *
reload_refusal(const struct config *old, const struct config *new, char *why, size_t n)
{
	size_t i, k;

	if (old->nnodes != new->nnodes) {
		snprintf(why, n, "the [node] sections (%zu, now %zu)", old->nnodes, new->nnodes);
		return why;
	}
	for (i = 0; i < old->nnodes; i++) {
		const struct config_node *a = &old->nodes[i], *b = &new->nodes[i];

		if (strcmp(a->name, b->name) != 0 || a->nodeid != b->nodeid ||
		    a->witness != b->witness) {
			snprintf(why, n, "[node %s] (name, nodeid or witness)", a->name);
			return why;
		}
	}
	if (old->nsites != new->nsites) {
		snprintf(why, n, "the [site] sections (%zu, now %zu)", old->nsites, new->nsites);
		return why;
	}
	for (i = 0; i < old->nsites; i++) {
		const struct config_site *a = &old->sites[i], *b = &new->sites[i];
		const char *key = NULL;

		if (strcmp(a->name, b->name) != 0)
			key = "its name or place in the file";
		else if (!str_same(a->address, b->address) || !str_same(a->interface, b->interface))
			key = "address or interface";
		else if (a->mode != b->mode)
			key = "mode";
		else if (a->max_data_age_s != b->max_data_age_s)
			key = "max_data_age";
		else if (a->confirm_default_take != b->confirm_default_take)
			key = "confirm_default";
		else if (!str_same(a->backup_set, b->backup_set))
			key = "backup_set";
		else if (a->nprios != b->nprios)
			key = "priority";
		for (k = 0; key == NULL && k < a->nprios; k++)
			if (strcmp(a->prios[k].node, b->prios[k].node) != 0 ||
			    a->prios[k].priority != b->prios[k].priority)
				key = "priority";
		if (key) {
			snprintf(why, n, "[site %s] %s", a->name, key);
			return why;
		}
	}
	return NULL;
}

int
daemon_reload(struct daemon *d, struct config *cfg)
{
	struct placement_params pp;
	struct config **r;
	char why[160];
	size_t i;

	if (reload_refusal(d->cfg, cfg, why, sizeof(why)) != NULL) {
		log_error("reload: %s changes %s, which every node's placement must agree on; "
		    "that is applied by restarting bulwark-failoverd on every node, one at a "
		    "time, with the same file (systemctl restart bulwark-failoverd); the "
		    "running configuration is kept", cfg->file, why);
		config_free(cfg);
		return BW_ERR_UNSUPP;
	}
	if ((r = realloc(d->retired, (d->nretired + 1) * sizeof(*r))) == NULL) {
		log_error("reload: out of memory; the running configuration is kept");
		config_free(cfg);
		return BW_ERR_NOMEM;
	}
	d->retired = r;
	if (!str_same(d->cfg->cluster.name, cfg->cluster.name) ||
	    d->cfg->cluster.token_ms != cfg->cluster.token_ms ||
	    !str_same(d->cfg->cluster.authkey, cfg->cluster.authkey) ||
	    !str_same(d->cfg->cluster.qdevice, cfg->cluster.qdevice))
		log_warn("reload: %s changes corosync's settings ([cluster] name, token, authkey "
		    "or qdevice); corosync applies them: write corosync.conf with bulwark "
		    "failover corosync-conf on every node and restart corosync one node at a "
		    "time", cfg->file);
	if (!str_same(d->cfg->cluster.socket, cfg->cluster.socket) ||
	    !str_same(d->cfg->cluster.state_dir, cfg->cluster.state_dir))
		log_warn("reload: [cluster] socket and state_dir take effect when "
		    "bulwark-failoverd restarts");
	for (i = 0; i < d->nnodes; i++)
		d->nodes[i].cfg = &cfg->nodes[i];
	for (i = 0; i < d->nsites; i++) {
		struct dsite *s = &d->sites[i];

		/* New checks, intervals and thresholds: start them afresh. */
		health_free(s->health);
		s->health = NULL;
		s->cfg = &cfg->sites[i];
		if (s->addr) {
			s->addr->probes = cfg->cluster.dad_probes;
			s->addr->probe_gap_ms = cfg->cluster.dad_interval_ms;
			s->addr->probe_wait_ms = cfg->cluster.dad_wait_ms;
		}
	}
	params_from(&pp, cfg);
	if (d->pl)
		placement_set_config(d->pl, cfg, d->o.pp ? NULL : &pp);
	d->retired[d->nretired++] = d->cfg;
	d->cfg = cfg;
	if (d->started)
		start_health(d);
	log_info("reload: %s applied (commands, hooks, checks, timeouts, damping, "
	    "announcements, release grace and address probes)", cfg->file);
	return 0;
}

static void
shutdown_bound(struct loop *l, void *arg)
{
	struct daemon *d = arg;

	d->shutdown_timer = NULL;
	log_error("shutdown: actions still running after %d ms; leaving anyway",
	    SHUTDOWN_BOUND_MS);
	cluster_leave(d->cl);
	loop_stop(l);
}

void
daemon_shutdown(struct daemon *d)
{
	struct placement_event ev = { .type = PLACEMENT_EV_CONN_LOST };
	size_t i;

	if (!d->shutting_down) {
		log_info("shutting down: giving up every site");
		history(d, NULL, d->self_id, "stopping", "bulwark-failoverd is stopping");
		d->shutdown_timer = loop_timer_add(d->loop, SHUTDOWN_BOUND_MS, shutdown_bound, d);
		/* Placement releases everything at once when it is told the
		 * connection is gone; the others take over once this node has
		 * left the group. */
		feed(d, &ev);
		d->shutting_down = 1;
	}
	if (busy(d))
		return;
	for (i = 0; d->pl && i < d->nsites; i++)
		if (placement_local_state(d->pl, i) != PLACEMENT_LOCAL_IDLE)
			return;
	if (d->shutdown_timer) {
		loop_timer_cancel(d->loop, d->shutdown_timer);
		d->shutdown_timer = NULL;
	}
	cluster_leave(d->cl);
	d->connected = 0;
	loop_stop(d->loop);
}

void
daemon_free(struct daemon *d)
{
	size_t i;

	if (d == NULL)
		return;
	while (d->conns)
		conn_close(d, d->conns);
	if (d->lfd >= 0) {
		loop_fd_del(d->loop, d->lfd);
		ctl_unlisten(d->sock_path, d->lfd);
	}
	for (i = 0; i < d->nsites; i++) {
		health_free(d->sites[i].health);
		free(d->sites[i].addr);
		if (d->sites[i].timer)
			loop_timer_cancel(d->loop, d->sites[i].timer);
	}
	if (d->tick)
		loop_timer_cancel(d->loop, d->tick);
	if (d->shutdown_timer)
		loop_timer_cancel(d->loop, d->shutdown_timer);
	cluster_free(d->cl);
	placement_free(d->pl);
	placement_out_free(&d->out);
	audit_free(d->audit);
	free(d->sites);
	free(d->nodes);
	free(d->self_name);
	free(d->sock_path);
	free(d->hist_path);
	config_free(d->cfg);
	for (i = 0; i < d->nretired; i++)
		config_free(d->retired[i]);
	free(d->retired);
	free(d);
}
