/*
 * failoverd's glue (contract in daemon.h).
 *
 * Placement.  Every member computes the same placement from the same
 * agreed stream (CPG views and messages, in one order for all):
 *
 *   view V (ring seq S)  every member multicasts JOIN(S, standby, the sites
 *                        it is taking or serving); once JOINs from every
 *                        member of V are delivered, all members know the
 *                        same facts and the view is "synced"
 *   STATE(site, st)      a node says it is taking, serving, has released or
 *                        has failed a site: "holder" follows these
 *   MOVE / STANDBY / ONLINE / CONFIRM   operator requests, via the socket
 *   HEALTH(site, up)     a node's view of a site's checks (status only)
 *
 * For each site: the holder is the node that says it takes or serves it
 * (a holder that left the view has given the site up itself: see below);
 * the target is the holder while it stays eligible, else the eligible
 * member with the highest priority for the site (then the lowest node id):
 * eligible means a member, not a witness, not standby, not failed for the
 * site.  A node takes a site when it is the target, nobody else holds it,
 * the view is synced and this node is quorate in that ring.  A node gives a
 * site up when it is no longer the target, when another node holds it, and
 * at once, without waiting for anyone, when it loses quorum or corosync.
 * A site in manual mode gets a target only through "failover move"; in
 * confirm mode an automatic change of target waits for "failover confirm
 * SITE yes" (or the site's confirm default after confirm_timeout_s).
 *
 * Why giving up without asking is safe: the others only see this node gone
 * after corosync's detection time (~2.2 x token: token + consensus), and
 * removing the address is the first release step, well within that.
 *
 * Actions.  Take: start the service, check nobody answers on the address
 * (DAD), add the address, announce it, after_take hook, verify the site's
 * check answers, then report serving.  Release: remove the address, stop
 * the service, after_release hook, then report released.  A failed take
 * step gives the site up here (release steps, report failed) so that
 * another node takes it.
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
#include "failover/service.h"
#include "lib/audit/audit.h"
#include "lib/ctl/ctl.h"
#include "lib/util/buf.h"
#include "lib/util/err.h"
#include "lib/util/log.h"

#define MAX_NODES 64
#define HISTORY_MAX 200			/* transitions kept in memory */
#define REASON_MAX 256
#define CONN_TIMEOUT_MS 5000
#define SHUTDOWN_BOUND_MS 30000

/* ---- messages (little-endian, through struct buf / struct bufr) ---- */

#define MSG_MAGIC "BWFO"
#define MSG_VERSION 1
enum msg_type {
	FM_JOIN = 1, FM_STATE, FM_HEALTH, FM_MOVE, FM_STANDBY, FM_ONLINE, FM_CONFIRM
};
enum msg_state { MST_TAKING = 1, MST_SERVING, MST_RELEASED, MST_FAILED };

struct dnode {
	const struct config_node *cfg;
	int member;
	int standby;
	int joined;			/* its JOIN for the current view arrived */
};

struct dsite {
	char *name;
	const struct config_site *cfg;
	enum daemon_site_state st;
	uint32_t holder, target;
	uint64_t failed;		/* bit per node index: failed the site */
	uint32_t pending_target;	/* confirm mode: proposed, not yet confirmed */
	uint64_t pending_since;
	int step;			/* next action step */
	int busy;			/* an action is running */
	int give_up;			/* a take step failed: release, then report failed */
	int abort;			/* stop taking after the running step */
	struct addr_spec spec;
	int has_addr;
	struct health *health;
	int health_up;			/* -1 unknown, 0, 1 */
	int8_t peer_health[MAX_NODES];	/* by node index */
	struct loop_timer *verify_timer;
	uint64_t verify_deadline;
	time_t since;
	char why[REASON_MAX];
	struct daemon *d;
};

struct dconn {
	struct dconn *next;
	struct ctl_conn *c;
	struct loop_timer *timeout;
	struct daemon *d;
};

struct hist {
	time_t t;
	char site[64], node[64], event[32], reason[REASON_MAX];
};

struct daemon {
	struct loop *loop;
	struct config *cfg;
	struct config *next_cfg;	/* waits until no action runs */
	struct daemon_opts o;
	char *self_name;
	uint32_t self_id;
	int self_idx;
	struct cluster *cl;
	struct cluster_cb cb;
	struct audit *audit;
	struct dnode *nodes;
	size_t nnodes;
	struct dsite *sites;
	size_t nsites;
	int connected;
	int quorate;
	uint64_t qseq, vseq;
	int synced;
	int lfd;
	char *sock_path;
	struct dconn *conns;
	struct hist hist[HISTORY_MAX];
	size_t nhist, hist_head;
	char *hist_path;
	int shutting_down;
	struct loop_timer *shutdown_timer, *tick_timer;
};

static void site_eval(struct daemon *d, struct dsite *s);
static void run_step(struct dsite *s);
static void compute(struct daemon *d);
static void after_action(struct daemon *d);

const char *
daemon_site_state_name(enum daemon_site_state s)
{
	static const char *const n[] = { "idle", "taking", "serving", "releasing", "failed" };

	return (unsigned)s < 5 ? n[s] : "?";
}

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
		if (strcmp(d->sites[i].name, name) == 0)
			return &d->sites[i];
	return NULL;
}

static int
site_prio(const struct config_site *c, const char *node)
{
	size_t i;

	for (i = 0; i < c->nprios; i++)
		if (strcmp(c->prios[i].node, node) == 0)
			return c->prios[i].priority;
	return 0;
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
	snprintf(h->site, sizeof(h->site), "%s", s ? s->name : "-");
	snprintf(h->node, sizeof(h->node), "%s", node_name(d, node));
	snprintf(h->event, sizeof(h->event), "%s", event);
	va_start(ap, fmt);
	vsnprintf(h->reason, sizeof(h->reason), fmt, ap);
	va_end(ap);
	if (s) {
		s->since = h->t;
		snprintf(s->why, sizeof(s->why), "%s", h->reason);
	}
	log_info("site %s: %s on %s: %s", h->site, event, h->node, h->reason);
	gmtime_r(&h->t, &tm);
	strftime(ts, sizeof(ts), "%Y-%m-%dT%H:%M:%SZ", &tm);
	n = snprintf(line, sizeof(line), "%s\t%s\t%s\t%s\t%s\n", ts, h->site, h->node,
	    h->event, h->reason);
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
	if (n > 0)
		line[n - 1] = 0;	/* the audit record has no newline */
	/* Only what this node did goes to its audit log; the others audit theirs. */
	if (d->audit && node == d->self_id && s)
		audit_append(d->audit, "failover", s->name,
		    strcmp(event, "failed") == 0 ? AUDIT_FAIL : AUDIT_OK, line);
}

/* ---- sending ---- */

static void
msg_head(struct buf *b, uint8_t type)
{
	buf_put(b, MSG_MAGIC, 4);
	buf_put_u8(b, MSG_VERSION);
	buf_put_u8(b, type);
}

static int
send_buf(struct daemon *d, struct buf *b)
{
	int rc;

	if (b->err)
		rc = b->err;
	else if (!d->connected)
		rc = BW_ERR_IO;
	else
		rc = cluster_send(d->cl, b->data, b->len);
	buf_free(b);
	return rc;
}

static void
send_state(struct daemon *d, struct dsite *s, enum msg_state st, const char *reason)
{
	struct buf b = { 0 };

	msg_head(&b, FM_STATE);
	buf_put_cstr(&b, s->name);
	buf_put_u8(&b, st);
	buf_put_cstr(&b, reason ? reason : "");
	send_buf(d, &b);
}

static void
send_join(struct daemon *d)
{
	struct buf b = { 0 };
	size_t i, n = 0;

	msg_head(&b, FM_JOIN);
	buf_put_u64(&b, d->vseq);
	buf_put_u8(&b, d->self_idx >= 0 ? d->nodes[d->self_idx].standby : 0);
	for (i = 0; i < d->nsites; i++)
		if (d->sites[i].st == DSITE_TAKING || d->sites[i].st == DSITE_SERVING)
			n++;
	buf_put_u32(&b, (uint32_t)n);
	for (i = 0; i < d->nsites; i++)
		if (d->sites[i].st == DSITE_TAKING || d->sites[i].st == DSITE_SERVING)
			buf_put_cstr(&b, d->sites[i].name);
	send_buf(d, &b);
}

static void
send_health(struct daemon *d, struct dsite *s)
{
	struct buf b = { 0 };

	msg_head(&b, FM_HEALTH);
	buf_put_cstr(&b, s->name);
	buf_put_u8(&b, (uint8_t)(s->health_up < 0 ? 2 : s->health_up));
	send_buf(d, &b);
}

/* ---- actions ---- */

/* take: 0 start, 1 dad, 2 add address, 3 announce, 4 after_take, 5 verify, 6 done
 * release: 10 remove address, 11 stop, 12 after_release, 13 done */
enum { T_START = 0, T_DAD, T_ADDR, T_ANNOUNCE, T_HOOK, T_VERIFY, T_DONE,
	R_ADDR = 10, R_STOP, R_HOOK, R_DONE };

static void
step_done(struct loop *l, int err, const char *reason, void *arg)
{
	struct dsite *s = arg;

	(void)l;
	s->busy = 0;
	if (err && s->step < R_ADDR) {
		/* Give the site up here so that another node takes it. */
		s->give_up = 1;
		snprintf(s->why, sizeof(s->why), "%s", reason ? reason : bw_strerror(err));
		s->step = R_ADDR;
		s->st = DSITE_RELEASING;
	} else if (err) {
		/* Keep releasing: a stop that fails must not leave the address up. */
		log_warn("site %s: release step failed (%s); going on with the next one",
		    s->name, reason ? reason : bw_strerror(err));
		s->step++;
	} else {
		s->step++;
	}
	run_step(s);
}

static void
verify_timer(struct loop *l, void *arg)
{
	struct dsite *s = arg;

	s->verify_timer = NULL;
	if (s->st != DSITE_TAKING || s->step != T_VERIFY)
		return;
	if (s->health_up == 1) {
		step_done(l, 0, NULL, s);
		return;
	}
	if (loop_now_ms(l) >= s->verify_deadline) {
		char r[REASON_MAX];

		snprintf(r, sizeof(r), "site %s does not answer its check after the take (%s)",
		    s->name, s->health ? health_last(s->health) : "no check");
		log_error("%s; giving it up here", r);
		step_done(l, BW_ERR_IO, r, s);
		return;
	}
	s->verify_timer = loop_timer_add(l, 100, verify_timer, s);
}

static void
immediate(struct loop *l, void *arg)
{
	step_done(l, 0, NULL, arg);
}

static void
finish_take(struct dsite *s)
{
	struct daemon *d = s->d;

	s->st = DSITE_SERVING;
	history(d, s, d->self_id, "serving", "taken and verified");
	send_state(d, s, MST_SERVING, NULL);
}

static void
finish_release(struct dsite *s)
{
	struct daemon *d = s->d;

	if (s->give_up) {
		s->st = DSITE_FAILED;
		s->give_up = 0;
		/* Not a candidate here until an operator says so (online, move);
		 * the others learn it from the message below. */
		if (d->self_idx >= 0)
			s->failed |= 1ull << d->self_idx;
		if (s->target == d->self_id)
			s->target = 0;
		history(d, s, d->self_id, "failed", "%s", s->why);
		send_state(d, s, MST_FAILED, s->why);
	} else {
		s->st = DSITE_IDLE;
		history(d, s, d->self_id, "released", "%s", s->why);
		send_state(d, s, MST_RELEASED, NULL);
	}
}

static void
run_step(struct dsite *s)
{
	struct daemon *d = s->d;
	const struct config_site *c = s->cfg;
	uint64_t tmo;
	int rc = 0;
	enum service_action sa;

	if (s->busy)
		return;
	if (s->st == DSITE_TAKING && s->abort) {
		/* Stop taking: undo what was done, in release order. */
		s->abort = 0;
		s->st = DSITE_RELEASING;
		s->step = R_ADDR;
	}
	s->busy = 1;
	switch (s->step) {
	case T_START:
	case R_STOP:
	case T_HOOK:
	case R_HOOK:
		sa = s->step == T_START ? SERVICE_START : s->step == R_STOP ? SERVICE_STOP :
		    s->step == T_HOOK ? SERVICE_AFTER_TAKE : SERVICE_AFTER_RELEASE;
		rc = d->o.ops->service->run(d->loop, c, d->self_name, sa, step_done, s);
		break;
	case T_DAD:
	case T_ADDR:
	case T_ANNOUNCE:
	case R_ADDR:
		if (!s->has_addr) {
			rc = 1;
			break;
		}
		tmo = c->action_timeout_ms ? c->action_timeout_ms : 10000;
		if (s->step == T_DAD)	/* quorum is not fencing: nobody may answer on it */
			rc = d->o.ops->addr->probe(d->loop, &s->spec, tmo, step_done, s);
		else if (s->step == T_ADDR)
			rc = d->o.ops->addr->add(d->loop, &s->spec, tmo, step_done, s);
		else if (s->step == T_ANNOUNCE)
			rc = d->o.ops->addr->announce(d->loop, &s->spec,
			    c->announce_count ? c->announce_count : 3,
			    c->announce_interval_ms ? c->announce_interval_ms : 200, step_done, s);
		else
			rc = d->o.ops->addr->del(d->loop, &s->spec, tmo, step_done, s);
		break;
	case T_VERIFY:
		s->busy = 0;
		if (c->nchecks == 0 || strcmp(d->o.ops->service->name, "null") == 0) {
			rc = 1;
			s->busy = 1;
			break;
		}
		s->verify_deadline = loop_now_ms(d->loop) +
		    (c->action_timeout_ms ? c->action_timeout_ms : 10000);
		s->verify_timer = loop_timer_add(d->loop, 0, verify_timer, s);
		return;
	case T_DONE:
		s->busy = 0;
		finish_take(s);
		after_action(d);
		return;
	case R_DONE:
		s->busy = 0;
		finish_release(s);
		after_action(d);
		return;
	}
	if (rc == 1) {
		/* Nothing to do in this step: go on from the loop, not recursively. */
		if (loop_timer_add(d->loop, 0, immediate, s) != NULL)
			return;
		rc = BW_ERR_NOMEM;
	}
	if (rc < 0) {
		char r[REASON_MAX];

		snprintf(r, sizeof(r), "site %s: could not start a step (%s)", s->name,
		    bw_strerror(rc));
		s->busy = 1;
		step_done(d->loop, rc, r, s);
	}
}

static int any_busy(const struct daemon *d);

/* An action ended: a deferred reload or the shutdown may go on now. */
static void
after_action(struct daemon *d)
{
	struct config *c;

	if (d->shutting_down) {
		daemon_shutdown(d);
		return;
	}
	if (d->next_cfg && !any_busy(d)) {
		c = d->next_cfg;
		d->next_cfg = NULL;
		daemon_reload(d, c);
		return;
	}
	compute(d);
}

static void
begin_take(struct daemon *d, struct dsite *s, const char *why)
{
	s->st = DSITE_TAKING;
	s->step = T_START;
	s->abort = 0;
	s->give_up = 0;
	history(d, s, d->self_id, "taking", "%s", why);
	send_state(d, s, MST_TAKING, NULL);
	run_step(s);
}

static void
begin_release(struct daemon *d, struct dsite *s, const char *why)
{
	if (s->st == DSITE_TAKING) {
		s->abort = 1;
		snprintf(s->why, sizeof(s->why), "%s", why);
		if (!s->busy)
			run_step(s);
		return;
	}
	if (s->st != DSITE_SERVING)
		return;
	if (s->verify_timer) {
		loop_timer_cancel(d->loop, s->verify_timer);
		s->verify_timer = NULL;
	}
	s->st = DSITE_RELEASING;
	s->step = R_ADDR;
	history(d, s, d->self_id, "releasing", "%s", why);
	run_step(s);
}

/* This node's part for one site, from the placement. */
static void
site_eval(struct daemon *d, struct dsite *s)
{
	int mine = s->target == d->self_id && d->self_id != 0;
	int quorate = d->connected && d->quorate && d->qseq >= d->vseq;

	if (s->st == DSITE_TAKING || s->st == DSITE_SERVING) {
		if (!d->connected)
			begin_release(d, s, "lost corosync: giving up at once");
		else if (!d->quorate)
			begin_release(d, s, "lost quorum: giving up at once");
		else if (d->synced && !mine)
			begin_release(d, s, "placed on another node");
		else if (d->synced && s->holder && s->holder != d->self_id)
			begin_release(d, s, "another node holds it");
		return;
	}
	if ((s->st == DSITE_IDLE || s->st == DSITE_FAILED) && mine && quorate && d->synced &&
	    !d->shutting_down && (s->holder == 0 || s->holder == d->self_id)) {
		begin_take(d, s, s->why[0] ? s->why : "placed here");
	}
}

/* ---- placement ---- */

static int
eligible(const struct daemon *d, const struct dsite *s, int i)
{
	const struct dnode *n;

	if (i < 0)
		return 0;
	n = &d->nodes[i];
	return n->member && !n->cfg->witness && !n->standby && !(s->failed & (1ull << i));
}

static uint32_t
best_node(const struct daemon *d, const struct dsite *s)
{
	int best = -1, bp = 0, p;
	size_t i;

	for (i = 0; i < d->nnodes; i++) {
		if (!eligible(d, s, (int)i))
			continue;
		p = site_prio(s->cfg, d->nodes[i].cfg->name);
		if (best < 0 || p > bp || (p == bp && d->nodes[i].cfg->nodeid <
		    d->nodes[best].cfg->nodeid)) {
			best = (int)i;
			bp = p;
		}
	}
	return best < 0 ? 0 : d->nodes[best].cfg->nodeid;
}

static void
place(struct daemon *d, struct dsite *s)
{
	uint32_t want;

	if (s->holder && (node_idx(d, s->holder) < 0 || !d->nodes[node_idx(d, s->holder)].member))
		s->holder = 0;	/* it left the view: it has given the site up itself */
	if (s->target && !eligible(d, s, node_idx(d, s->target)))
		s->target = 0;
	if (s->target)
		return;
	if (s->holder && eligible(d, s, node_idx(d, s->holder))) {
		s->target = s->holder;
		return;
	}
	if (s->cfg->mode == CONFIG_SITE_MANUAL)
		return;
	want = best_node(d, s);
	if (want && s->cfg->mode == CONFIG_SITE_CONFIRM && s->holder == 0 &&
	    s->pending_target != want) {
		/* Confirm mode: propose, and wait for the operator. */
		s->pending_target = want;
		s->pending_since = loop_now_ms(d->loop);
		history(d, s, want, "proposed", "waiting for 'bulwark failover confirm %s yes' "
		    "(default after %us: %s)", s->name, s->cfg->confirm_timeout_s,
		    s->cfg->confirm_default_take ? "take" : "stay");
		return;
	}
	if (s->cfg->mode == CONFIG_SITE_CONFIRM)
		return;
	s->target = want;
}

static void
compute(struct daemon *d)
{
	size_t i;

	if (d->synced)
		for (i = 0; i < d->nsites; i++)
			place(d, &d->sites[i]);
	for (i = 0; i < d->nsites; i++)
		site_eval(d, &d->sites[i]);
}

static void
confirm_tick(struct loop *l, void *arg)
{
	struct daemon *d = arg;
	struct dsite *s;
	size_t i;

	d->tick_timer = loop_timer_add(l, 1000, confirm_tick, d);
	for (i = 0; i < d->nsites; i++) {
		s = &d->sites[i];
		if (!s->pending_target || s->target)
			continue;
		if (loop_now_ms(l) - s->pending_since < (uint64_t)s->cfg->confirm_timeout_s * 1000)
			continue;
		/* Only the lowest member decides, so the answer is one message. */
		if (d->synced && s->cfg->confirm_default_take && d->self_idx >= 0 &&
		    best_node(d, s) == s->pending_target) {
			struct buf b = { 0 };
			size_t k;

			for (k = 0; k < d->nnodes; k++)
				if (d->nodes[k].member)
					break;
			if (k < d->nnodes && d->nodes[k].cfg->nodeid == d->self_id) {
				msg_head(&b, FM_CONFIRM);
				buf_put_cstr(&b, s->name);
				buf_put_u8(&b, 1);
				send_buf(d, &b);
			}
		}
		s->pending_since = loop_now_ms(l);	/* once per timeout */
	}
}

/* ---- cluster events ---- */

static void
reset_placement(struct daemon *d)
{
	size_t i;

	for (i = 0; i < d->nsites; i++) {
		d->sites[i].holder = 0;
		d->sites[i].target = 0;
		d->sites[i].pending_target = 0;
	}
	for (i = 0; i < d->nnodes; i++) {
		d->nodes[i].member = 0;
		d->nodes[i].joined = 0;
	}
	d->synced = 0;
}

static void
ev_connected(void *arg, uint32_t id)
{
	struct daemon *d = arg;

	d->connected = 1;
	if (d->self_id == 0) {
		d->self_id = id;
		d->self_idx = node_idx(d, id);
		if (d->self_idx >= 0) {
			free(d->self_name);
			d->self_name = strdup(d->nodes[d->self_idx].cfg->name);
			log_info("this node is %s (corosync node id %u)",
			    d->nodes[d->self_idx].cfg->name, id);
		}
	}
	if (d->self_id != id)
		log_error("corosync says this is node id %u but [node %s] has nodeid %u; fix "
		    "the [node] sections or --node (this node takes no site meanwhile)", id,
		    d->self_name ? d->self_name : "?", d->self_id);
	history(d, NULL, id, "connected", "connected to corosync");
}

static void
ev_disconnected(void *arg)
{
	struct daemon *d = arg;

	d->connected = 0;
	d->quorate = 0;
	reset_placement(d);
	history(d, NULL, d->self_id, "disconnected", "lost corosync; membership unknown");
	compute(d);
}

static void
ev_view(void *arg, const uint32_t *m, size_t n, struct cluster_ring ring)
{
	struct daemon *d = arg;
	size_t i;
	int k;

	for (i = 0; i < d->nnodes; i++) {
		d->nodes[i].member = 0;
		d->nodes[i].joined = 0;
	}
	for (i = 0; i < n; i++) {
		if ((k = node_idx(d, m[i])) >= 0)
			d->nodes[k].member = 1;
		else
			log_warn("node id %u joined the group but no [node] section has that "
			    "nodeid; it gets no site", m[i]);
	}
	d->vseq = ring.seq;
	d->synced = 0;
	log_info("view: %zu member(s), ring %u.%llu", n, ring.nodeid,
	    (unsigned long long)ring.seq);
	send_join(d);
	compute(d);	/* releases only: no take before the view is synced */
}

static void
ev_quorum(void *arg, int quorate, struct cluster_ring ring)
{
	struct daemon *d = arg;

	if (quorate != d->quorate)
		history(d, NULL, d->self_id, quorate ? "quorate" : "inquorate", "ring %llu",
		    (unsigned long long)ring.seq);
	d->quorate = quorate;
	d->qseq = ring.seq;
	compute(d);
}

static void
on_join(struct daemon *d, int from, struct bufr *r)
{
	uint64_t seq = bufr_u64(r);
	uint8_t standby = bufr_u8(r);
	uint32_t n = bufr_u32(r), i;
	struct dsite *s;
	char *name;
	size_t k;

	if (r->err || n > 4096)
		return;
	if (seq != d->vseq || !d->nodes[from].member)
		return;		/* a JOIN of an older view */
	d->nodes[from].joined = 1;
	d->nodes[from].standby = standby;
	for (i = 0; i < n; i++) {
		if ((name = bufr_strdup(r, 255)) == NULL)
			return;
		if ((s = site_find(d, name)) != NULL) {
			/* Two holders after a merge: the lower node id keeps it. */
			if (s->holder == 0 || d->nodes[from].cfg->nodeid < s->holder)
				s->holder = d->nodes[from].cfg->nodeid;
		}
		free(name);
	}
	for (k = 0; k < d->nnodes; k++)
		if (d->nodes[k].member && !d->nodes[k].joined)
			return;
	d->synced = 1;
	log_info("view of ring %llu synced", (unsigned long long)d->vseq);
}

static void
ev_message(void *arg, uint32_t from, const uint8_t *p, size_t n)
{
	struct daemon *d = arg;
	struct bufr r;
	const uint8_t *magic;
	uint8_t ver, type, st;
	struct dsite *s = NULL;
	char *a = NULL, *b = NULL;
	int fi = node_idx(d, from), ti;

	bufr_init(&r, p, n);
	magic = bufr_get(&r, 4);
	ver = bufr_u8(&r);
	type = bufr_u8(&r);
	if (r.err || memcmp(magic, MSG_MAGIC, 4) != 0 || ver != MSG_VERSION) {
		log_warn("message from node %u: not a failoverd message of version %d; ignored "
		    "(are all nodes running the same bulwark version?)", from, MSG_VERSION);
		return;
	}
	if (fi < 0)
		return;
	switch (type) {
	case FM_JOIN:
		on_join(d, fi, &r);
		break;
	case FM_STATE:
		a = bufr_strdup(&r, 255);
		st = bufr_u8(&r);
		b = bufr_strdup(&r, REASON_MAX);
		if (r.err || (s = site_find(d, a)) == NULL)
			break;
		if (st == MST_TAKING || st == MST_SERVING) {
			s->holder = from;
		} else if (st == MST_RELEASED || st == MST_FAILED) {
			if (s->holder == from)
				s->holder = 0;
			if (st == MST_FAILED) {
				s->failed |= 1ull << fi;
				if (s->target == from)
					s->target = 0;
			}
		}
		if (from != d->self_id)
			history(d, s, from, st == MST_TAKING ? "taking" : st == MST_SERVING ?
			    "serving" : st == MST_RELEASED ? "released" : "failed", "%s",
			    b && *b ? b : "reported by the node");
		break;
	case FM_HEALTH:
		a = bufr_strdup(&r, 255);
		st = bufr_u8(&r);
		if (!r.err && (s = site_find(d, a)) != NULL)
			s->peer_health[fi] = st == 2 ? -1 : st;
		s = NULL;
		break;
	case FM_MOVE:
		a = bufr_strdup(&r, 255);
		b = bufr_strdup(&r, 255);
		if (r.err || (s = site_find(d, a)) == NULL || (ti = node_idx_name(d, b)) < 0)
			break;
		s->failed &= ~(1ull << ti);
		if (!eligible(d, s, ti)) {
			history(d, s, d->nodes[ti].cfg->nodeid, "move refused", "node %s is not "
			    "online in this partition (or is standby or a witness)", b);
			break;
		}
		s->target = d->nodes[ti].cfg->nodeid;
		s->pending_target = 0;
		history(d, s, s->target, "move", "operator request from node %s",
		    node_name(d, from));
		break;
	case FM_STANDBY:
	case FM_ONLINE:
		a = bufr_strdup(&r, 255);
		if (r.err || (ti = node_idx_name(d, a)) < 0)
			break;
		d->nodes[ti].standby = type == FM_STANDBY;
		if (type == FM_ONLINE) {
			size_t i;

			for (i = 0; i < d->nsites; i++)
				d->sites[i].failed &= ~(1ull << ti);
		}
		history(d, NULL, d->nodes[ti].cfg->nodeid, type == FM_STANDBY ? "standby" :
		    "online", "operator request from node %s", node_name(d, from));
		break;
	case FM_CONFIRM:
		a = bufr_strdup(&r, 255);
		st = bufr_u8(&r);
		if (r.err || (s = site_find(d, a)) == NULL || !s->pending_target)
			break;
		if (st)
			s->target = s->pending_target;
		history(d, s, s->pending_target, st ? "confirmed" : "declined",
		    "answer from node %s", node_name(d, from));
		if (!st)
			s->pending_since = loop_now_ms(d->loop);
		break;
	default:
		break;
	}
	free(a);
	free(b);
	compute(d);
}

/* ---- health ---- */

static void
health_changed(struct health *h, enum health_state state, const char *reason, void *arg)
{
	struct dsite *s = arg;
	struct daemon *d = s->d;

	(void)h;
	s->health_up = state == HEALTH_UNKNOWN ? -1 : state == HEALTH_UP;
	log_info("site %s: health %s (%s)", s->name, state == HEALTH_UP ? "up" :
	    state == HEALTH_DOWN ? "down" : "unknown", reason ? reason : "");
	send_health(d, s);
	if (s->st == DSITE_SERVING && state == HEALTH_DOWN) {
		/* This node serves it and it does not answer: let another node try. */
		char why[REASON_MAX];

		snprintf(why, sizeof(why), "health check failed: %s", reason ? reason : "");
		begin_release(d, s, why);
		s->give_up = 1;
	}
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

static void
bp(struct buf *b, const char *fmt, ...)
{
	char tmp[1024];
	va_list ap;
	int n;

	va_start(ap, fmt);
	n = vsnprintf(tmp, sizeof(tmp), fmt, ap);
	va_end(ap);
	if (n > 0)
		buf_put(b, tmp, (size_t)n < sizeof(tmp) ? (size_t)n : sizeof(tmp) - 1);
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

static void
status_json(struct daemon *d, struct buf *b)
{
	struct cluster_info ci;
	char ts[32];
	size_t i, k;

	cluster_get_info(d->cl, &ci);
	bp(b, "{\"node\":");
	js(b, d->self_name);
	bp(b, ",\"nodeid\":%u,\"corosync\":\"%s\",\"quorate\":%s,\"synced\":%s,"
	    "\"ring\":%llu,\"token_ms\":%u,\"expected_votes\":%u,\"total_votes\":%u,"
	    "\"qdevice\":%s,\"nodes\":[", d->self_id, d->connected ? "connected" : "disconnected",
	    d->connected && d->quorate ? "true" : "false", d->synced ? "true" : "false",
	    (unsigned long long)d->vseq, ci.token_ms, ci.expected_votes, ci.total_votes,
	    ci.qdevice ? "true" : "false");
	for (i = 0; i < d->nnodes; i++) {
		bp(b, "%s{\"name\":", i ? "," : "");
		js(b, d->nodes[i].cfg->name);
		bp(b, ",\"nodeid\":%u,\"state\":\"%s\",\"witness\":%s}", d->nodes[i].cfg->nodeid,
		    node_state(d, i), d->nodes[i].cfg->witness ? "true" : "false");
	}
	bp(b, "],\"sites\":[");
	for (i = 0; i < d->nsites; i++) {
		struct dsite *s = &d->sites[i];

		bp(b, "%s{\"name\":", i ? "," : "");
		js(b, s->name);
		bp(b, ",\"serving\":");
		if (s->holder)
			js(b, node_name(d, s->holder));
		else
			bp(b, "null");
		bp(b, ",\"target\":");
		if (s->target)
			js(b, node_name(d, s->target));
		else
			bp(b, "null");
		bp(b, ",\"state_here\":\"%s\",\"mode\":\"%s\",\"health\":{",
		    daemon_site_state_name(s->st), s->cfg->mode == CONFIG_SITE_MANUAL ? "manual" :
		    s->cfg->mode == CONFIG_SITE_CONFIRM ? "confirm" : "automatic");
		for (k = 0; k < d->nnodes; k++) {
			if (k)
				bp(b, ",");
			js(b, d->nodes[k].cfg->name);
			bp(b, ":\"%s\"", hname(health_of(d, s, k)));
		}
		iso(ts, sizeof(ts), s->since);
		bp(b, "},\"data_age_s\":null,\"since\":\"%s\",\"why\":", ts);
		js(b, s->why);
		if (s->pending_target) {
			bp(b, ",\"awaiting_confirm\":");
			js(b, node_name(d, s->pending_target));
		}
		bp(b, "}");
	}
	bp(b, "]}\n");
}

static void
status_text(struct daemon *d, struct buf *b)
{
	struct cluster_info ci;
	char ts[32];
	size_t i, k, nserved = 0;

	cluster_get_info(d->cl, &ci);
	bp(b, "node %s (id %u): corosync %s, %s, token %u ms, votes %u of %u expected%s\n",
	    d->self_name ? d->self_name : "?", d->self_id,
	    d->connected ? "connected" : "DISCONNECTED",
	    d->connected && d->quorate ? "quorate" : "NOT QUORATE", ci.token_ms, ci.total_votes,
	    ci.expected_votes, ci.qdevice ? ", qdevice" : "");
	bp(b, "\nnodes:\n");
	for (i = 0; i < d->nnodes; i++)
		bp(b, "  %-16s id %-5u %s%s\n", d->nodes[i].cfg->name, d->nodes[i].cfg->nodeid,
		    node_state(d, i), d->nodes[i].cfg->witness ? " (witness)" : "");
	bp(b, "\nsites:\n");
	for (i = 0; i < d->nsites; i++) {
		struct dsite *s = &d->sites[i];

		if (s->holder)
			nserved++;
		iso(ts, sizeof(ts), s->since);
		bp(b, "  %-16s served by %s%s; here: %s; since %s: %s\n", s->name,
		    s->holder ? node_name(d, s->holder) : "NOBODY",
		    s->target && s->target != s->holder ? " (moving)" : "",
		    daemon_site_state_name(s->st), ts, s->why[0] ? s->why : "-");
		bp(b, "  %-16s health:", "");
		for (k = 0; k < d->nnodes; k++)
			bp(b, " %s=%s", d->nodes[k].cfg->name, hname(health_of(d, s, k)));
		bp(b, "; data age: unknown\n");
		if (s->pending_target)
			bp(b, "  %-16s waiting for 'bulwark failover confirm %s yes|no' to move to "
			    "%s\n", "", s->name, node_name(d, s->pending_target));
	}
	bp(b, "\n%zu of %zu site(s) served; %s\n", nserved, d->nsites,
	    d->connected && d->quorate ? "cluster quorate" : "this node is not quorate");
}

static void
history_out(struct daemon *d, struct buf *b, int json)
{
	char ts[32];
	size_t i;

	if (json)
		bp(b, "[");
	for (i = 0; i < d->nhist; i++) {
		struct hist *h = &d->hist[(d->hist_head + i) % HISTORY_MAX];

		iso(ts, sizeof(ts), h->t);
		if (json) {
			bp(b, "%s{\"time\":\"%s\",\"site\":", i ? "," : "", ts);
			js(b, h->site);
			bp(b, ",\"node\":");
			js(b, h->node);
			bp(b, ",\"event\":");
			js(b, h->event);
			bp(b, ",\"reason\":");
			js(b, h->reason);
			bp(b, "}");
		} else {
			bp(b, "%s  %-12s %-12s %-12s %s\n", ts, h->site, h->node, h->event, h->reason);
		}
	}
	if (json)
		bp(b, "]\n");
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
	struct dsite *s = NULL;
	int rc = 0, ni;

	*out = NULL;
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
		if (op == CTL_OP_CONFIRM && strcmp(args[1], "yes") && strcmp(args[1], "no")) {
			*out = fmt("confirm %s: answer yes or no, not '%s'", args[0], args[1]);
			return BW_ERR_INVAL;
		}
		if (op == CTL_OP_CONFIRM && !s->pending_target) {
			*out = fmt("site %s is not waiting for a confirmation", s->name);
			return BW_ERR_NOENT;
		}
		msg_head(&b, op == CTL_OP_MOVE ? FM_MOVE : FM_CONFIRM);
		buf_put_cstr(&b, args[0]);
		if (op == CTL_OP_MOVE)
			buf_put_cstr(&b, args[1]);
		else
			buf_put_u8(&b, strcmp(args[1], "yes") == 0);
		goto send;
	case CTL_OP_STANDBY:
	case CTL_OP_ONLINE:
		if (node_idx_name(d, args[0]) < 0) {
			*out = fmt("no node '%s' in the configuration", args[0]);
			return BW_ERR_NOENT;
		}
		msg_head(&b, op == CTL_OP_STANDBY ? FM_STANDBY : FM_ONLINE);
		buf_put_cstr(&b, args[0]);
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
	if (!d->connected || !d->quorate) {
		buf_free(&b);
		*out = fmt("this node is %s; run the request on a node of the quorate "
		    "partition", d->connected ? "not quorate" : "not connected to corosync");
		return BW_ERR_IO;
	}
	if ((rc = send_buf(d, &b)) != 0) {
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
	if ((rc = ctl_conn_write(k->c)) == 1) {
		conn_close(d, k);
		return;
	}
	if (rc < 0) {
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
		sites[i].name = cfg->sites[i].name;
		sites[i].health_up = -1;
		sites[i].d = d;
		if (cfg->sites[i].address && cfg->sites[i].interface) {
			if (addr_parse(cfg->sites[i].address, cfg->sites[i].interface,
			    &sites[i].spec) != 0) {
				log_error("%s: [site %s] address %s on %s: not an address/prefix",
				    cfg->file, cfg->sites[i].name, cfg->sites[i].address,
				    cfg->sites[i].interface);
				free(nodes);
				free(sites);
				return BW_ERR_INVAL;
			}
			sites[i].has_addr = 1;
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

	return s ? (int)s->st : -1;
}

const char *
daemon_site_target(const struct daemon *d, const char *site)
{
	struct dsite *s = site_find(d, site);

	return s ? node_name(d, s->target) : "";
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

int
daemon_start(struct daemon *d)
{
	const struct config_cluster *cc = &d->cfg->cluster;
	char *audit_dir = NULL;
	int rc;

	if (d->o.node && d->self_idx < 0) {
		log_error("--node %s: no [node %s] section in %s", d->o.node, d->o.node,
		    d->cfg->file ? d->cfg->file : "the configuration");
		return BW_ERR_INVAL;
	}
	if (cc->state_dir) {
		if (mkdir(cc->state_dir, 0700) != 0 && errno != EEXIST)
			log_warn("state directory %s: %s (history is kept in memory only)",
			    cc->state_dir, strerror(errno));
		if (asprintf(&d->hist_path, "%s/history", cc->state_dir) < 0)
			d->hist_path = NULL;
	}
	audit_dir = (char *)(d->o.audit_dir ? d->o.audit_dir : d->cfg->audit.dir);
	if ((rc = audit_open(audit_dir, &d->audit)) != 0)
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
	d->tick_timer = loop_timer_add(d->loop, 1000, confirm_tick, d);
	return cluster_start(d->cl);
}

static int
any_busy(const struct daemon *d)
{
	size_t i;

	for (i = 0; i < d->nsites; i++)
		if (d->sites[i].st == DSITE_TAKING || d->sites[i].st == DSITE_RELEASING)
			return 1;
	return 0;
}

int
daemon_reload(struct daemon *d, struct config *cfg)
{
	struct dsite *old = d->sites, *s;
	struct dnode *oldn = d->nodes;
	size_t nold = d->nsites, nnold = d->nnodes, i;
	struct config *oldcfg = d->cfg;
	int rc, k;

	if (any_busy(d)) {
		log_warn("reload: actions are running; the new configuration is applied when "
		    "they end (send SIGHUP again if it is not)");
		config_free(d->next_cfg);
		d->next_cfg = cfg;
		return 0;
	}
	if ((rc = build_tables(d, cfg)) != 0) {
		config_free(cfg);
		return rc;
	}
	/* Carry over what is known: node states, site states and placement. */
	for (i = 0; i < d->nnodes; i++)
		for (k = 0; k < (int)nnold; k++)
			if (strcmp(oldn[k].cfg->name, d->nodes[i].cfg->name) == 0) {
				d->nodes[i].member = oldn[k].member;
				d->nodes[i].standby = oldn[k].standby;
				d->nodes[i].joined = oldn[k].joined;
			}
	for (i = 0; i < nold; i++) {
		if ((s = site_find(d, old[i].name)) == NULL) {
			/* Removed from the config: give it up with the old definition. */
			if (old[i].st == DSITE_SERVING)
				log_warn("reload: site %s was removed while served here; stop it by "
				    "hand if it still runs", old[i].name);
			health_free(old[i].health);
			continue;
		}
		s->st = old[i].st;
		s->holder = old[i].holder;
		s->target = old[i].target;
		s->since = old[i].since;
		memcpy(s->why, old[i].why, sizeof(s->why));
		memcpy(s->peer_health, old[i].peer_health, sizeof(s->peer_health));
		s->health_up = old[i].health_up;
		/* Health checks restart with the new definition. */
		health_free(old[i].health);
	}
	d->cfg = cfg;
	if (d->self_name && (k = node_idx_name(d, d->self_name)) >= 0)
		d->self_idx = k;
	free(old);
	free(oldn);
	config_free(oldcfg);
	start_health(d);
	history(d, NULL, d->self_id, "reload", "configuration %s applied",
	    cfg->file ? cfg->file : "");
	compute(d);
	return 0;
}

static void
shutdown_bound(struct loop *l, void *arg)
{
	struct daemon *d = arg;

	d->shutdown_timer = NULL;
	log_error("shutdown: release actions still running after %d ms; leaving anyway",
	    SHUTDOWN_BOUND_MS);
	cluster_leave(d->cl);
	loop_stop(l);
}

void
daemon_shutdown(struct daemon *d)
{
	size_t i;

	if (!d->shutting_down) {
		d->shutting_down = 1;
		log_info("shutting down: giving up every site");
		d->shutdown_timer = loop_timer_add(d->loop, SHUTDOWN_BOUND_MS, shutdown_bound, d);
		for (i = 0; i < d->nsites; i++)
			begin_release(d, &d->sites[i], "bulwark-failoverd is stopping");
	}
	if (any_busy(d))
		return;
	if (d->shutdown_timer) {
		loop_timer_cancel(d->loop, d->shutdown_timer);
		d->shutdown_timer = NULL;
	}
	cluster_leave(d->cl);
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
		if (d->sites[i].verify_timer)
			loop_timer_cancel(d->loop, d->sites[i].verify_timer);
	}
	if (d->tick_timer)
		loop_timer_cancel(d->loop, d->tick_timer);
	if (d->shutdown_timer)
		loop_timer_cancel(d->loop, d->shutdown_timer);
	cluster_free(d->cl);
	audit_free(d->audit);
	free(d->sites);
	free(d->nodes);
	free(d->self_name);
	free(d->sock_path);
	free(d->hist_path);
	config_free(d->cfg);
	config_free(d->next_cfg);
	free(d);
}
