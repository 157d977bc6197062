/*
 * Site placement (the user's view and the safety argument are in
 * docs/FAILOVER.md).
 *
 * Two kinds of state live here:
 *
 * The agreed state (struct site's owner, target, gen, ask; struct peer) is
 * changed only by events of the agreed stream: CPG membership changes and
 * delivered messages.  Every member applies the same stream in the same
 * order to the same configuration, so every member holds the same agreed
 * state, and nothing local (the clock, quorum notices, action results) may
 * change it directly: a node that wants to tell the others something
 * (its site started, its checks failed) sends a message and acts on it
 * when it comes back in order, like everyone else.
 *
 * The local state (struct site's local, pending, timers) is what THIS node
 * does: it moves towards what the agreed state wants of it, one action at
 * a time, and announces every step with a STATE message.
 *
 * Agreed rules:
 *   - A site's owner keeps it while it stays a member, is not in standby and
 *     no move was decided: no failback.
 *   - A site without an owner goes, in automatic mode, to the best
 *     candidate: a member (failoverd on a quorate node), not a witness, not
 *     in standby, not failed for this site, with data no older than
 *     max_data_age; highest priority, then lowest node id.  In confirm mode
 *     it is asked first; in manual mode only MOVE places it.
 *   - MOVE, STANDBY and a decided health move are planned switches: the
 *     target starts the service (STATE ready), then the owner removes the
 *     address (STATE released), then the target takes the address.
 *   - When a member joins, every member sends HELLO (what it serves); until
 *     every member's HELLO for that ring is in, nothing new is placed.  The
 *     owners are then rebuilt from the HELLOs, so a newcomer learns who
 *     serves what, and two halves of a healed partition agree again.
 *   - Time-based decisions (health moves, which damping may delay, and the
 *     confirm timeout) are made by the lowest node id of the ring and
 *     broadcast as DECIDE, tagged with the site's generation so that a
 *     stale one is ignored.
 *
 * Local rules:
 *   - Holding a site needs a corosync connection and quorum: on losing
 *     either, every site is released at once, without waiting for anyone.
 *   - Taking a site needs more: quorum for the very ring CPG reported
 *     (quorum and CPG notices come in either order), and the ring in sync.
 *   - A node that takes a site whose previous holder did not confirm its
 *     release waits release_grace_ms first (the holder releases on its own
 *     when it is cut off), and has duplicate address detection done before
 *     adding the address (the probe may start addr_probe_ms early, so that
 *     it ends as the grace does: a holder that still has the address then
 *     had it during the whole probe, and answers); while the address answers elsewhere it retries,
 *     and gives up after the site's action_timeout.
 */
#include "config.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "failover/msg.h"
#include "failover/placement.h"
#include "lib/util/buf.h"
#include "lib/util/err.h"
#include "lib/util/log.h"

/* What the agreed state wants of this node for a site. */
enum want { WANT_NONE = 0, WANT_READY, WANT_SERVE };

enum local {	/* placement_local, plus a state of its own */
	L_IDLE = PLACEMENT_LOCAL_IDLE,
	L_STARTING = PLACEMENT_LOCAL_STARTING,
	L_READY = PLACEMENT_LOCAL_READY,
	L_ADDING = PLACEMENT_LOCAL_ADDING,
	L_SERVING = PLACEMENT_LOCAL_SERVING,
	L_RELEASING = PLACEMENT_LOCAL_RELEASING,	/* ADDR_DEL, then STOP */
	L_STOPPING					/* STOP (and stragglers) */
};

/* What one member told about itself for one site. */
struct peer_site {
	uint8_t state;		/* enum msg_site_state, latest STATE or HELLO */
	int failed;		/* unhealthy or failed here: not a candidate */
	uint32_t age_s;		/* replica age, FMSG_AGE_UNKNOWN if never told */
};

struct peer {			/* one per [node], in config order */
	const struct config_node *cfg;
	int member;		/* in the current CPG membership */
	int hello;		/* its HELLO for the sync ring is in */
	int standby;
	int left;		/* scratch: left in this membership change */
	struct peer_site *sites;
};

struct site {
	const struct config_site *cfg;
	/* Agreed. */
	uint32_t owner;		/* 0: nobody */
	uint32_t target;	/* planned move under way to this node, or 0 */
	uint32_t gen;		/* bumped at every agreed change */
	int released;		/* the previous holder confirmed its release */
	uint32_t ask_node;	/* confirm mode: waiting for an answer about it */
	int health_move;	/* the owner is unhealthy: a move is wanted */
	int declined;		/* an operator (or the timeout) said stay: not
				 * asked again until the membership changes */
	uint32_t noted_gen;	/* "cannot place" already logged at this gen */
	uint32_t sync_gen;	/* the highest gen in this sync round's HELLOs */
	/* Local, from the clock of this node. */
	/* Damping is for flapping: only a site that moved (lost an owner,
	 * changed owner, a planned switch) is held back.  Its first owner,
	 * the initial placement, is not a move. */
	int has_moved;		/* moved_ms is valid */
	int had_owner;		/* an owner was ever known here */
	uint64_t moved_ms;	/* when it last moved (damping) */
	uint64_t ask_ms;	/* when the ask began (confirm timeout) */
	uint32_t decided_gen;	/* leader: DECIDE sent for this gen (+1) */
	uint64_t damp_until;	/* leader: a damped health move, re-check then */
	/* Local: this node's part. */
	enum local local;
	int pending;		/* actions sent and not yet done */
	uint64_t grace_until;	/* may add the address from then on */
	uint64_t add_deadline;	/* give up ADDR_IN_USE retries at */
	uint64_t retry_at;	/* next ADDR_ADD after ADDR_IN_USE, or 0 */
	unsigned pass_run, fail_run;	/* rise/fall */
	int healthy;		/* as last announced */
	uint32_t age_s;		/* own replica age */
};

struct placement {
	const struct config *cfg;
	struct placement_params pp;
	uint32_t self;
	size_t self_idx;
	struct peer *peers;
	struct site *sites;
	size_t nsites;
	/* Local view of corosync. */
	int connected;
	int quorate;
	int quorum_known;
	struct placement_ring quorum_ring;
	int have_ring;		/* a membership was delivered since connecting */
	struct placement_ring ring;
	/* Agreed. */
	int in_sync;		/* every member's HELLO for sync_ring is in */
	struct placement_ring sync_ring;
	int standby;		/* this node, as agreed */
	uint64_t now;
	struct placement_out *out;
};

/*
 * Output.
 */

static struct placement_action *
out_add(struct placement *p, enum placement_act_type type, size_t site)
{
	struct placement_out *o = p->out;
	struct placement_action *a;

	if (o->n == o->cap) {
		size_t cap = o->cap ? o->cap * 2 : 16;

		if ((a = realloc(o->v, cap * sizeof(*a))) == NULL) {
			o->err = BW_ERR_NOMEM;
			return NULL;
		}
		o->v = a;
		o->cap = cap;
	}
	a = &o->v[o->n++];
	memset(a, 0, sizeof(*a));
	a->type = type;
	a->site = site;
	return a;
}

static void __attribute__((format(printf, 4, 5)))
note(struct placement *p, int level, size_t site, const char *fmt, ...)
{
	struct placement_action *a;
	va_list ap;
	int n = 0;

	if ((a = out_add(p, PLACEMENT_ACT_LOG, site)) == NULL)
		return;
	a->level = level;
	if (site != SIZE_MAX)
		n = snprintf(a->text, sizeof(a->text), "site %s: ",
		    p->sites[site].cfg->name);
	va_start(ap, fmt);
	vsnprintf(a->text + n, sizeof(a->text) - (size_t)n, fmt, ap);
	va_end(ap);
}

static void __attribute__((format(printf, 3, 4)))
ask(struct placement *p, size_t site, const char *fmt, ...)
{
	struct placement_action *a;
	va_list ap;
	int n;

	if ((a = out_add(p, PLACEMENT_ACT_ASK, site)) == NULL)
		return;
	n = snprintf(a->text, sizeof(a->text), "site %s: ", p->sites[site].cfg->name);
	va_start(ap, fmt);
	vsnprintf(a->text + n, sizeof(a->text) - (size_t)n, fmt, ap);
	va_end(ap);
}

static void
send_msg(struct placement *p, const struct msg *m)
{
	struct placement_action *a;
	struct buf b = { 0 };

	if (!p->connected)
		return;		/* nobody to send to; HELLO tells after reconnecting */
	if (msg_encode(m, &b) != 0) {
		if (b.err == BW_ERR_NOMEM)
			p->out->err = BW_ERR_NOMEM;
		buf_free(&b);
		return;
	}
	if ((a = out_add(p, PLACEMENT_ACT_SEND, SIZE_MAX)) == NULL) {
		buf_free(&b);
		return;
	}
	a->data = buf_steal(&b, &a->len);
}

static void
act(struct placement *p, enum placement_act_type type, size_t site)
{
	if (out_add(p, type, site) != NULL)
		p->sites[site].pending++;
}

void
placement_out_reset(struct placement_out *o)
{
	size_t i;

	for (i = 0; i < o->n; i++)
		free(o->v[i].data);
	o->n = 0;
	o->err = 0;
}

void
placement_out_free(struct placement_out *o)
{
	placement_out_reset(o);
	free(o->v);
	o->v = NULL;
	o->cap = 0;
}

/*
 * Lookups.
 */

static struct peer *
peer_by_id(struct placement *p, uint32_t id)
{
	size_t i;

	for (i = 0; i < p->cfg->nnodes; i++)
		if (p->peers[i].cfg->nodeid == id)
			return &p->peers[i];
	return NULL;
}

static const char *
node_name(struct placement *p, uint32_t id)
{
	struct peer *pr = peer_by_id(p, id);

	return pr ? pr->cfg->name : id ? "(unknown)" : "nobody";
}

static size_t
site_by_name(struct placement *p, const char *name)
{
	size_t i;

	for (i = 0; i < p->nsites; i++)
		if (strcmp(p->sites[i].cfg->name, name) == 0)
			return i;
	return SIZE_MAX;
}

static int
priority_of(const struct config_site *s, const char *node)
{
	size_t i;

	for (i = 0; i < s->nprios; i++)
		if (strcmp(s->prios[i].node, node) == 0)
			return s->prios[i].priority;
	return 0;
}

/* The lowest node id of the ring: it makes the time-based decisions. */
static int
is_leader(struct placement *p)
{
	size_t i;

	for (i = 0; i < p->cfg->nnodes; i++)
		if (p->peers[i].member && p->peers[i].cfg->nodeid < p->self)
			return 0;
	return p->peers[p->self_idx].member;
}

/* Why node pr cannot serve site si, or NULL if it can. */
static const char *
unfit(struct placement *p, size_t si, const struct peer *pr)
{
	const struct config_site *s = p->sites[si].cfg;
	const struct peer_site *ps = &pr->sites[si];

	if (!pr->member)
		return "not in the cluster";
	if (pr->cfg->witness)
		return "a witness";
	if (pr->standby)
		return "in standby";
	if (ps->failed)
		return "failed here";
	if (s->max_data_age_s && (ps->age_s == FMSG_AGE_UNKNOWN ||
	    ps->age_s > s->max_data_age_s))
		return "data too old";
	return NULL;
}

/* The best candidate for a site other than exclude, or 0; *why says why
 * there is none ("data too old" when that is what kept the best out). */
static uint32_t
choose(struct placement *p, size_t si, uint32_t exclude, const char **why)
{
	const struct config_site *s = p->sites[si].cfg;
	const struct peer *best = NULL;
	int best_prio = -1, age_only = 0, prio;
	size_t i;

	for (i = 0; i < p->cfg->nnodes; i++) {
		const struct peer *pr = &p->peers[i];
		const char *u;

		if (pr->cfg->nodeid == exclude)
			continue;
		if ((u = unfit(p, si, pr)) != NULL) {
			if (strcmp(u, "data too old") == 0)
				age_only = 1;
			continue;
		}
		prio = priority_of(s, pr->cfg->name);
		if (prio > best_prio || (prio == best_prio &&
		    pr->cfg->nodeid < best->cfg->nodeid)) {
			best = pr;
			best_prio = prio;
		}
	}
	if (best == NULL && why)
		*why = age_only ? "no member has data younger than max_data_age" :
		    "no member can serve it (not in the cluster, witness, standby "
		    "or failed)";
	return best ? best->cfg->nodeid : 0;
}

/*
 * The local side: from what the agreed state wants, to actions.
 */

static void
announce(struct placement *p, size_t si, enum msg_site_state st, const char *reason)
{
	struct msg m;

	memset(&m, 0, sizeof(m));
	m.type = FMSG_STATE;
	msg_set_str(m.site, sizeof(m.site), p->sites[si].cfg->name);
	m.state = (uint8_t)st;
	m.gen = p->sites[si].gen;
	msg_set_str(m.reason, sizeof(m.reason), reason ? reason : "");
	send_msg(p, &m);
}

/* May hold what it holds: connected and not known to be inquorate. */
static int
may_hold(const struct placement *p)
{
	return p->connected && p->quorum_known && p->quorate;
}

/* May start something new: quorate for this very ring, and in sync. */
/* How early ADDR_ADD may start within the grace: its probe runs that
 * long before adding.  Only a site with an address probes; for one
 * without, ADDR_ADD is its after_take hook, which must not run early. */
static uint64_t
probe_lead(const struct placement *p, const struct site *s)
{
	return s->cfg->address ? p->pp.addr_probe_ms : 0;
}

static int
may_take(const struct placement *p)
{
	return may_hold(p) && p->have_ring && p->in_sync &&
	    p->quorum_ring.nodeid == p->ring.nodeid &&
	    p->quorum_ring.seq == p->ring.seq && !p->standby;
}

static enum want
want_of(struct placement *p, size_t si)
{
	struct site *s = &p->sites[si];
	struct peer *tp;

	if (!may_hold(p))
		return WANT_NONE;
	if (s->owner == p->self) {
		if (s->target == 0)
			return WANT_SERVE;
		/* Release once the target is ready (planned switch). */
		tp = peer_by_id(p, s->target);
		if (tp && tp->sites[si].state == FMSG_SITE_READY)
			return WANT_NONE;
		return WANT_SERVE;
	}
	if (s->target == p->self)
		return WANT_READY;
	return WANT_NONE;
}

static void
release_now(struct placement *p, size_t si, const char *why)
{
	struct site *s = &p->sites[si];

	switch (s->local) {
	case L_IDLE:
	case L_STOPPING:
		return;
	case L_SERVING:
	case L_ADDING:
		note(p, LOG_LVL_WARN, si, "releasing at once: %s", why);
		act(p, PLACEMENT_ACT_ADDR_DEL, si);
		act(p, PLACEMENT_ACT_STOP, si);
		break;
	case L_STARTING:
	case L_READY:
		note(p, LOG_LVL_WARN, si, "stopping at once: %s", why);
		act(p, PLACEMENT_ACT_STOP, si);
		break;
	case L_RELEASING:
		act(p, PLACEMENT_ACT_STOP, si);
		break;
	}
	s->local = L_STOPPING;
	s->retry_at = 0;
}

/* One step towards what is wanted, when no action is running. */
static void
drive(struct placement *p, size_t si)
{
	struct site *s = &p->sites[si];
	enum want w = want_of(p, si);

	if (w == WANT_NONE && !may_hold(p)) {
		release_now(p, si, p->connected ? "this node lost quorum" :
		    "this node lost its corosync connection");
		return;
	}
	if (s->pending)
		return;
	switch (s->local) {
	case L_IDLE:
		if (w != WANT_NONE && may_take(p)) {
			note(p, LOG_LVL_INFO, si, "starting the service (%s)",
			    w == WANT_READY ? "planned switch to this node" :
			    "this node was chosen");
			act(p, PLACEMENT_ACT_START, si);
			s->local = L_STARTING;
			announce(p, si, FMSG_SITE_STARTING, NULL);
		}
		break;
	case L_READY:
		if (w == WANT_NONE) {
			act(p, PLACEMENT_ACT_STOP, si);
			s->local = L_STOPPING;
		} else if (w == WANT_SERVE && may_take(p) &&
		    p->now + probe_lead(p, s) >= s->grace_until &&
		    p->now >= s->retry_at) {
			if (s->add_deadline == 0)
				s->add_deadline = p->now + s->cfg->action_timeout_ms;
			act(p, PLACEMENT_ACT_ADDR_ADD, si);
			s->local = L_ADDING;
			s->retry_at = 0;
		}
		break;
	case L_SERVING:
		if (w != WANT_SERVE) {
			note(p, LOG_LVL_INFO, si, "releasing the address (%s)",
			    s->target ? "planned switch" : "no longer the owner");
			act(p, PLACEMENT_ACT_ADDR_DEL, si);
			s->local = L_RELEASING;
		}
		break;
	default:
		break;
	}
}

static void
drive_all(struct placement *p)
{
	size_t i;

	for (i = 0; i < p->nsites; i++)
		drive(p, i);
}

static void
action_done(struct placement *p, size_t si, int action, enum placement_result res)
{
	struct site *s = &p->sites[si];

	if (s->pending == 0) {
		note(p, LOG_LVL_WARN, si, "an action ended that was not running; "
		    "ignored");
		return;
	}
	s->pending--;
	if (s->local == L_STOPPING) {
		if (action == PLACEMENT_ACT_STOP && res != PLACEMENT_OK)
			note(p, LOG_LVL_ERROR, si, "stopping the service failed; "
			    "check it by hand");
		if (s->pending == 0) {
			s->local = L_IDLE;
			s->add_deadline = 0;
			announce(p, si, FMSG_SITE_NONE, NULL);
		}
		drive(p, si);
		return;
	}
	switch (action) {
	case PLACEMENT_ACT_START:
		if (s->local != L_STARTING)
			break;
		if (res == PLACEMENT_OK) {
			s->local = L_READY;
			announce(p, si, FMSG_SITE_READY, NULL);
		} else {
			note(p, LOG_LVL_ERROR, si, "the service did not start; "
			    "another node should take the site");
			announce(p, si, FMSG_SITE_FAILED, "the service did not start");
			act(p, PLACEMENT_ACT_STOP, si);
			s->local = L_STOPPING;
		}
		break;
	case PLACEMENT_ACT_ADDR_ADD:
		if (s->local != L_ADDING)
			break;
		if (res == PLACEMENT_OK) {
			s->local = L_SERVING;
			s->add_deadline = 0;
			s->pass_run = s->fail_run = 0;
			s->healthy = 1;
			note(p, LOG_LVL_INFO, si, "serving");
			announce(p, si, FMSG_SITE_SERVING, NULL);
		} else if (res == PLACEMENT_ADDR_IN_USE &&
		    p->now + p->pp.addr_retry_ms < s->add_deadline) {
			note(p, LOG_LVL_WARN, si, "the address %s answers "
			    "elsewhere; retrying", s->cfg->address ?
			    s->cfg->address : "(none)");
			s->local = L_READY;
			s->retry_at = p->now + p->pp.addr_retry_ms;
		} else {
			const char *why = res == PLACEMENT_ADDR_IN_USE ?
			    "the address still answers elsewhere after "
			    "action_timeout" : "adding the address failed";

			note(p, LOG_LVL_ERROR, si, "giving up the take: %s; find "
			    "the host that holds %s", why, s->cfg->address ?
			    s->cfg->address : "the address");
			announce(p, si, FMSG_SITE_FAILED, why);
			act(p, PLACEMENT_ACT_ADDR_DEL, si);
			act(p, PLACEMENT_ACT_STOP, si);
			s->local = L_STOPPING;
		}
		break;
	case PLACEMENT_ACT_ADDR_DEL:
		if (s->local != L_RELEASING)
			break;
		if (res == PLACEMENT_OK) {
			announce(p, si, FMSG_SITE_RELEASED, NULL);
		} else {
			note(p, LOG_LVL_ERROR, si, "removing the address failed; "
			    "the next node checks it is free before taking it");
			announce(p, si, FMSG_SITE_FAILED, "removing the address failed");
		}
		act(p, PLACEMENT_ACT_STOP, si);
		s->local = L_STOPPING;
		break;
	default:
		break;
	}
	drive(p, si);
}

/*
 * The agreed side.
 */

static void
mark_moved(struct placement *p, struct site *s)
{
	s->has_moved = 1;
	s->moved_ms = p->now;
}

static void
set_owner(struct placement *p, size_t si, uint32_t owner, int released,
    const char *why)
{
	struct site *s = &p->sites[si];

	if (s->owner != owner)
		note(p, LOG_LVL_INFO, si, "%s -> %s: %s", node_name(p, s->owner),
		    node_name(p, owner), why);
	if (owner == p->self && s->owner != owner) {
		/* Counted from the agreed change, so it overlaps the start. */
		s->grace_until = released ? 0 : p->now + p->pp.release_grace_ms;
		s->add_deadline = 0;
		s->retry_at = 0;
	}
	if (s->had_owner && s->owner != owner)
		mark_moved(p, s);
	if (owner)
		s->had_owner = 1;
	s->owner = owner;
	s->target = 0;
	s->released = released;
	s->ask_node = 0;
	s->health_move = 0;
	s->declined = 0;
	s->damp_until = 0;
	s->gen++;
}

static void
start_move(struct placement *p, size_t si, uint32_t to, const char *why)
{
	struct site *s = &p->sites[si];

	note(p, LOG_LVL_INFO, si, "planned switch %s -> %s: %s",
	    node_name(p, s->owner), node_name(p, to), why);
	s->target = to;
	s->ask_node = 0;
	s->health_move = 0;
	s->damp_until = 0;
	mark_moved(p, s);
	s->gen++;
}

/* An operator's yes to the question asked about node, or the confirm
 * timeout's default: node takes the site, by a planned switch when
 * another node serves it (a health move), as an automatic move would.  A
 * node that can no longer serve it (standby, gone, failed since the
 * question) does not: the question is dropped and asked again. */
static void
confirm_take(struct placement *p, size_t si, uint32_t node, const char *why)
{
	struct site *s = &p->sites[si];
	const struct peer *pr = peer_by_id(p, node);
	const char *no = pr ? unfit(p, si, pr) : "not in the cluster";

	if (no != NULL) {
		note(p, LOG_LVL_WARN, si, "%s, but %s can no longer serve it (%s)",
		    why, node_name(p, node), no);
		s->ask_node = 0;
		s->health_move = 0;
		s->gen++;
	} else if (s->owner && s->owner != node) {
		start_move(p, si, node, why);
	} else {
		set_owner(p, si, node, 0, why);
	}
}

/* Places a site without an owner, or asks; agreed. */
static void
evaluate(struct placement *p, size_t si)
{
	struct site *s = &p->sites[si];
	const char *why = NULL;
	uint32_t best;

	if (!p->in_sync)
		return;
	if (s->owner || s->ask_node || s->declined)
		return;
	best = choose(p, si, 0, &why);
	if (best == 0) {
		if (s->noted_gen != s->gen + 1) {
			s->noted_gen = s->gen + 1;
			note(p, LOG_LVL_WARN, si, "not served: %s", why);
			if (is_leader(p) && strstr(why, "max_data_age"))
				ask(p, si, "no node has data younger than "
				    "max_data_age; move it to a node by hand "
				    "(bulwark failover move) to serve older data");
		}
		return;
	}
	switch (s->cfg->mode) {
	case CONFIG_SITE_AUTOMATIC:
		set_owner(p, si, best, 0, "automatic placement");
		break;
	case CONFIG_SITE_CONFIRM:
		s->ask_node = best;
		s->ask_ms = p->now;
		s->gen++;
		note(p, LOG_LVL_WARN, si, "waiting for an operator to confirm "
		    "%s (or %us for the default: %s)", node_name(p, best),
		    s->cfg->confirm_timeout_s, s->cfg->confirm_default_take ?
		    "take" : "stay");
		if (is_leader(p))
			ask(p, si, "not served; take it on %s? answer with "
			    "bulwark failover confirm within %us", node_name(p, best),
			    s->cfg->confirm_timeout_s);
		break;
	case CONFIG_SITE_MANUAL:
		if (s->noted_gen != s->gen + 1) {
			s->noted_gen = s->gen + 1;
			note(p, LOG_LVL_WARN, si, "not served; manual mode: move "
			    "it with bulwark failover move");
		}
		break;
	}
}

static void
evaluate_all(struct placement *p)
{
	size_t i;

	for (i = 0; i < p->nsites; i++)
		evaluate(p, i);
}

/* The leader's time-based decisions; local clock, broadcast results. */
static void
leader_decide(struct placement *p)
{
	size_t si;
	struct msg m;

	if (!is_leader(p) || !p->in_sync || !p->connected)
		return;
	for (si = 0; si < p->nsites; si++) {
		struct site *s = &p->sites[si];
		uint64_t damp_end = s->has_moved ? s->moved_ms +
		    (uint64_t)s->cfg->damp_s * 1000 : 0;

		if (s->decided_gen == s->gen + 1)
			continue;
		memset(&m, 0, sizeof(m));
		m.type = FMSG_DECIDE;
		msg_set_str(m.site, sizeof(m.site), s->cfg->name);
		m.gen = s->gen;
		if (s->ask_node && p->now >= s->ask_ms +
		    (uint64_t)s->cfg->confirm_timeout_s * 1000) {
			m.decision = FMSG_DECIDE_CONFIRM_TIMEOUT;
			m.node = s->ask_node;
			snprintf(m.reason, sizeof(m.reason), "nobody answered "
			    "within %us", s->cfg->confirm_timeout_s);
		} else if (s->health_move && s->owner && s->target == 0 &&
		    s->cfg->mode != CONFIG_SITE_MANUAL) {
			const char *why;

			if (p->now < damp_end) {
				if (s->damp_until != damp_end)
					note(p, LOG_LVL_WARN, si, "unhealthy on %s, "
					    "but it moved %llus ago: damped for "
					    "%us", node_name(p, s->owner),
					    (unsigned long long)(p->now - s->moved_ms) / 1000,
					    s->cfg->damp_s);
				s->damp_until = damp_end;
				continue;
			}
			if ((m.node = choose(p, si, s->owner, &why)) == 0) {
				if (s->noted_gen != s->gen + 1) {
					s->noted_gen = s->gen + 1;
					note(p, LOG_LVL_WARN, si, "unhealthy on "
					    "%s, and %s", node_name(p, s->owner), why);
				}
				continue;
			}
			m.decision = FMSG_DECIDE_MOVE;
			snprintf(m.reason, sizeof(m.reason), "unhealthy on %s",
			    node_name(p, s->owner));
		} else {
			continue;
		}
		s->decided_gen = s->gen + 1;
		send_msg(p, &m);
	}
}

/* Rebuilds the owners from every member's latest word (HELLO or STATE). */
static void
reconcile(struct placement *p)
{
	size_t si, i;

	for (si = 0; si < p->nsites; si++) {
		struct site *s = &p->sites[si];
		uint32_t serving = 0, taking = 0, old = s->owner;
		int sp = -1, tp = -1;

		for (i = 0; i < p->cfg->nnodes; i++) {
			const struct peer *pr = &p->peers[i];
			int prio = priority_of(s->cfg, pr->cfg->name);
			uint8_t st = pr->sites[si].state;

			if (!pr->member)
				continue;
			/* Two claims cannot both have come from quorate
			 * nodes; keep the best, the other releases. */
			if (st == FMSG_SITE_SERVING && (prio > sp || (prio == sp &&
			    pr->cfg->nodeid < serving))) {
				serving = pr->cfg->nodeid;
				sp = prio;
			}
			if ((st == FMSG_SITE_STARTING || st == FMSG_SITE_READY) &&
			    (prio > tp || (prio == tp && pr->cfg->nodeid < taking))) {
				taking = pr->cfg->nodeid;
				tp = prio;
			}
		}
		s->target = 0;
		s->ask_node = 0;
		s->health_move = 0;
		s->declined = 0;
		s->owner = serving ? serving : taking;
		if (s->owner && s->owner != old)
			note(p, LOG_LVL_INFO, si, "served by %s (learnt after a "
			    "join)", node_name(p, s->owner));
		if (s->owner != old) {
			if (s->owner == p->self) {
				s->grace_until = p->now + p->pp.release_grace_ms;
				s->add_deadline = 0;
				s->retry_at = 0;
			}
			s->released = 0;
			/* Learning the owner after a join is no move; a
			 * different owner than the one known here is. */
			if (old && s->owner)
				mark_moved(p, s);
		}
		if (s->owner)
			s->had_owner = 1;
		/* The same for everyone: all saw the same HELLOs. */
		s->gen = s->sync_gen + 1;
	}
}

static void
send_hello(struct placement *p)
{
	struct msg_hello_site *hs;
	struct msg m;
	size_t i;

	if (!p->connected)
		return;
	if ((hs = calloc(p->nsites ? p->nsites : 1, sizeof(*hs))) == NULL) {
		p->out->err = BW_ERR_NOMEM;
		return;
	}
	memset(&m, 0, sizeof(m));
	m.type = FMSG_HELLO;
	m.ring_node = p->ring.nodeid;
	m.ring_seq = p->ring.seq;
	m.standby = (uint8_t)p->standby;
	for (i = 0; i < p->nsites; i++) {
		const struct site *s = &p->sites[i];

		msg_set_str(hs[i].site, sizeof(hs[i].site), s->cfg->name);
		hs[i].state = s->local == L_SERVING ? FMSG_SITE_SERVING :
		    s->local == L_ADDING ? FMSG_SITE_READY :
		    s->local == L_STARTING ? FMSG_SITE_STARTING :
		    s->local == L_READY ? FMSG_SITE_READY : FMSG_SITE_NONE;
		hs[i].healthy = (uint8_t)(p->peers[p->self_idx].sites[i].failed ? 0 : 1);
		hs[i].data_age_s = s->age_s;
		hs[i].gen = s->gen;
	}
	m.sites = hs;
	m.nsites = p->nsites;
	send_msg(p, &m);
	free(hs);
}

static void
check_sync(struct placement *p)
{
	size_t i;

	if (p->in_sync)
		return;
	for (i = 0; i < p->cfg->nnodes; i++)
		if (p->peers[i].member && !p->peers[i].hello)
			return;
	p->in_sync = 1;
	note(p, LOG_LVL_INFO, SIZE_MAX, "in sync with every member of ring "
	    "%u/%llu", p->ring.nodeid, (unsigned long long)p->ring.seq);
	reconcile(p);
}

static void
on_membership(struct placement *p, const struct placement_event *ev)
{
	const uint32_t *mem = ev->u.membership.members;
	size_t n = ev->u.membership.nmembers, i, j, si;
	int joined = 0, self_in = 0;
	uint32_t id;
	struct peer *tp;

	/* New membership first, so that a target that left together
	 * with the owner is seen as gone. */
	for (i = 0; i < p->cfg->nnodes; i++) {
		struct peer *pr = &p->peers[i];
		int in = 0;

		for (j = 0; j < n; j++)
			if (mem[j] == pr->cfg->nodeid)
				in = 1;
		if (pr->cfg->nodeid == p->self)
			self_in = in;
		if (in && !pr->member) {
			joined = 1;
			note(p, LOG_LVL_INFO, SIZE_MAX, "node %s joined",
			    pr->cfg->name);
		}
		if (!in && pr->member)
			note(p, LOG_LVL_WARN, SIZE_MAX, "node %s left",
			    pr->cfg->name);
		pr->left = !in && pr->member;
		pr->member = in;
	}
	for (i = 0; i < p->cfg->nnodes; i++) {
		struct peer *pr = &p->peers[i];

		if (!pr->left)
			continue;
		pr->left = 0;
		id = pr->cfg->nodeid;
		for (si = 0; si < p->nsites; si++) {
			struct site *s = &p->sites[si];

			pr->sites[si].state = FMSG_SITE_NONE;
			if (s->owner == id) {
				tp = s->target ? peer_by_id(p, s->target) : NULL;
				if (tp && tp->member)
					/* Already starting there: it takes
					 * over, after the release grace. */
					set_owner(p, si, s->target, 0, "the owner "
					    "left during a planned switch");
				else
					set_owner(p, si, 0, 0, "the owner left");
			} else if (s->target == id) {
				s->target = 0;
				s->gen++;
			}
			if (s->ask_node == id) {
				s->ask_node = 0;
				s->gen++;
			}
		}
	}
	for (si = 0; si < p->nsites; si++)
		p->sites[si].declined = 0;
	for (j = 0; j < n; j++)
		if (peer_by_id(p, mem[j]) == NULL)
			note(p, LOG_LVL_WARN, SIZE_MAX, "node id %u is in the CPG "
			    "group but has no [node] section; it is ignored", mem[j]);
	p->ring = ev->u.membership.ring;
	p->have_ring = 1;
	if (!self_in) {
		note(p, LOG_LVL_WARN, SIZE_MAX, "this node is not in its own "
		    "membership; waiting");
		p->in_sync = 0;
		return;
	}
	if (joined || !p->in_sync) {
		/* A new sync round: every member says what it holds. */
		p->in_sync = 0;
		p->sync_ring = p->ring;
		for (i = 0; i < p->cfg->nnodes; i++)
			p->peers[i].hello = 0;
		for (si = 0; si < p->nsites; si++)
			p->sites[si].sync_gen = 0;
		send_hello(p);
		return;
	}
	evaluate_all(p);
}

static void
on_hello(struct placement *p, struct peer *from, const struct msg *m)
{
	size_t i, si;

	if (m->ring_node != p->sync_ring.nodeid || m->ring_seq != p->sync_ring.seq)
		return;		/* for an earlier round */
	from->hello = 1;
	from->standby = m->standby;
	if (from->cfg->nodeid == p->self)
		p->standby = m->standby;
	for (i = 0; i < m->nsites; i++) {
		if ((si = site_by_name(p, m->sites[i].site)) == SIZE_MAX)
			continue;
		from->sites[si].state = m->sites[i].state;
		from->sites[si].failed = !m->sites[i].healthy;
		from->sites[si].age_s = m->sites[i].data_age_s;
		if (m->sites[i].gen > p->sites[si].sync_gen)
			p->sites[si].sync_gen = m->sites[i].gen;
	}
	check_sync(p);
	evaluate_all(p);
}

static void
on_state(struct placement *p, struct peer *from, size_t si, const struct msg *m)
{
	struct site *s = &p->sites[si];
	uint32_t id = from->cfg->nodeid;

	from->sites[si].state = m->state;
	switch (m->state) {
	case FMSG_SITE_SERVING:
		if (s->owner == id)
			s->released = 0;
		break;
	case FMSG_SITE_FAILED:
		from->sites[si].failed = 1;
		note(p, LOG_LVL_WARN, si, "failed on %s: %s", from->cfg->name,
		    m->reason[0] ? m->reason : "no reason given");
		if (s->target == id) {
			s->target = 0;
			s->gen++;
		} else if (s->owner == id) {
			set_owner(p, si, 0, 0, "it failed on its owner");
		}
		break;
	case FMSG_SITE_RELEASED:
	case FMSG_SITE_NONE:
		if (s->owner != id)
			break;
		if (s->target) {
			uint32_t t = s->target;

			set_owner(p, si, t, m->state == FMSG_SITE_RELEASED,
			    "planned switch: the address is free");
		} else {
			/* It gave the site up on its own (lost quorum, its
			 * service stopped): place it again. */
			set_owner(p, si, 0, 1, "released by its owner");
		}
		break;
	default:
		break;
	}
	evaluate(p, si);
}

static void
on_message(struct placement *p, const struct placement_event *ev)
{
	struct peer *from = peer_by_id(p, ev->u.message.from);
	struct msg m;
	size_t si = SIZE_MAX;
	struct peer *pr;
	int r;

	if (from == NULL) {
		note(p, LOG_LVL_WARN, SIZE_MAX, "message from node id %u, which "
		    "has no [node] section; ignored", ev->u.message.from);
		return;
	}
	if ((r = msg_decode(ev->u.message.data, ev->u.message.len, &m)) != 0) {
		if (r == BW_ERR_NOMEM)
			p->out->err = BW_ERR_NOMEM;
		note(p, LOG_LVL_WARN, SIZE_MAX, "message from node %s refused: "
		    "%s; every node must run the same version of bulwark",
		    from->cfg->name, r == BW_ERR_VERSION ? "another message "
		    "version" : bw_strerror(r));
		return;
	}
	if (m.type != FMSG_HELLO && m.type != FMSG_STANDBY && m.type != FMSG_ONLINE &&
	    (si = site_by_name(p, m.site)) == SIZE_MAX) {
		note(p, LOG_LVL_WARN, SIZE_MAX, "%s message from node %s names "
		    "site %s, which is not configured here; every node needs the "
		    "same [site] sections", msg_type_name(m.type), from->cfg->name,
		    m.site);
		goto out;
	}
	switch (m.type) {
	case FMSG_HELLO:
		on_hello(p, from, &m);
		break;
	case FMSG_HEALTH:
		from->sites[si].failed = !m.ok;
		if (p->sites[si].owner == from->cfg->nodeid) {
			p->sites[si].health_move = !m.ok;
			note(p, m.ok ? LOG_LVL_INFO : LOG_LVL_WARN, si, "%s on its "
			    "owner %s%s%s", m.ok ? "healthy" : "unhealthy",
			    from->cfg->name, m.reason[0] ? ": " : "", m.reason);
		}
		evaluate(p, si);
		break;
	case FMSG_STATE:
		on_state(p, from, si, &m);
		break;
	case FMSG_DATA_AGE:
		from->sites[si].age_s = m.seconds;
		evaluate(p, si);
		break;
	case FMSG_MOVE:
		pr = peer_by_id(p, m.node);
		if (pr == NULL || !pr->member || pr->cfg->witness || pr->standby) {
			note(p, LOG_LVL_WARN, si, "move to node id %u refused: %s",
			    m.node, pr == NULL ? "no such node" : !pr->member ?
			    "not in the cluster" : pr->cfg->witness ? "a witness" :
			    "in standby");
			break;
		}
		pr->sites[si].failed = 0;	/* the operator's call */
		if (p->sites[si].owner == m.node) {
			if (p->sites[si].target) {
				p->sites[si].target = 0;
				p->sites[si].gen++;
			}
			break;
		}
		if (p->sites[si].owner == 0)
			set_owner(p, si, m.node, 0, "moved by an operator");
		else
			start_move(p, si, m.node, "moved by an operator");
		break;
	case FMSG_STANDBY:
	case FMSG_ONLINE:
		if ((pr = peer_by_id(p, m.node)) == NULL)
			break;
		pr->standby = m.type == FMSG_STANDBY;
		if (m.node == p->self)
			p->standby = pr->standby;
		note(p, LOG_LVL_INFO, SIZE_MAX, "node %s %s", pr->cfg->name,
		    pr->standby ? "is in standby" : "is online");
		for (si = 0; si < p->nsites; si++) {
			struct site *s = &p->sites[si];
			uint32_t to;

			if (!pr->standby) {
				pr->sites[si].failed = 0;
				continue;
			}
			if (s->target == m.node) {
				s->target = 0;
				s->gen++;
			}
			if (s->ask_node == m.node) {
				/* a pending question about it: asked again */
				s->ask_node = 0;
				s->health_move = 0;
				s->gen++;
			}
			if (s->owner != m.node || s->target)
				continue;
			if ((to = choose(p, si, m.node, NULL)) != 0)
				start_move(p, si, to, "its node went into standby");
			else
				set_owner(p, si, 0, 0, "its node went into standby "
				    "and no other node can serve it");
		}
		evaluate_all(p);
		si = SIZE_MAX;
		break;
	case FMSG_CONFIRM:
		if (p->sites[si].ask_node == 0 || m.gen != p->sites[si].gen ||
		    m.node != p->sites[si].ask_node)
			break;	/* not the question asked (anymore) */
		if (m.ok)
			confirm_take(p, si, m.node, "confirmed by an operator");
		else {
			note(p, LOG_LVL_WARN, si, "an operator declined %s",
			    node_name(p, m.node));
			p->sites[si].ask_node = 0;
			p->sites[si].gen++;
			p->sites[si].declined = 1;
			p->sites[si].health_move = 0;
		}
		break;
	case FMSG_DECIDE:
		if (m.gen != p->sites[si].gen)
			break;	/* stale: the site changed meanwhile */
		if (m.decision == FMSG_DECIDE_CONFIRM_TIMEOUT) {
			if (p->sites[si].ask_node != m.node)
				break;
			if (p->sites[si].cfg->confirm_default_take) {
				confirm_take(p, si, m.node, m.reason);
			} else {
				note(p, LOG_LVL_WARN, si, "%s; staying as it is",
				    m.reason);
				p->sites[si].ask_node = 0;
				p->sites[si].gen++;
				p->sites[si].declined = 1;
			}
		} else if (m.decision == FMSG_DECIDE_MOVE) {
			pr = peer_by_id(p, m.node);
			if (pr == NULL || unfit(p, si, pr) || p->sites[si].owner == 0)
				break;
			if (p->sites[si].cfg->mode == CONFIG_SITE_CONFIRM) {
				p->sites[si].ask_node = m.node;
				p->sites[si].ask_ms = p->now;
				p->sites[si].health_move = 0;
				p->sites[si].gen++;
				if (is_leader(p))
					ask(p, si, "%s; move it to %s? answer with "
					    "bulwark failover confirm within %us",
					    m.reason, node_name(p, m.node),
					    p->sites[si].cfg->confirm_timeout_s);
			} else {
				start_move(p, si, m.node, m.reason);
			}
		}
		break;
	}
	if (si != SIZE_MAX)
		evaluate(p, si);
out:
	msg_free(&m);
}

/* A local check round: rise/fall, then HEALTH when the verdict changes. */
static void
on_check(struct placement *p, size_t si, int ok, const char *reason)
{
	struct site *s = &p->sites[si];
	struct msg m;

	if (s->local != L_SERVING)
		return;		/* checks probe the local service: only a holder's count */
	if (ok) {
		s->pass_run++;
		s->fail_run = 0;
	} else {
		s->fail_run++;
		s->pass_run = 0;
	}
	if ((s->healthy && s->fail_run < s->cfg->fall) ||
	    (!s->healthy && s->pass_run < s->cfg->rise))
		return;
	if (s->healthy == ok)
		return;
	s->healthy = ok;
	memset(&m, 0, sizeof(m));
	m.type = FMSG_HEALTH;
	msg_set_str(m.site, sizeof(m.site), s->cfg->name);
	m.ok = (uint8_t)ok;
	msg_set_str(m.reason, sizeof(m.reason), reason ? reason : "");
	send_msg(p, &m);
}

static void
on_data_age(struct placement *p, size_t si, uint32_t age)
{
	struct site *s = &p->sites[si];
	struct msg m;

	if (s->age_s == age)
		return;
	s->age_s = age;
	memset(&m, 0, sizeof(m));
	m.type = FMSG_DATA_AGE;
	msg_set_str(m.site, sizeof(m.site), s->cfg->name);
	m.seconds = age;
	send_msg(p, &m);
}

/* After losing corosync, nothing agreed can be trusted: start over. */
static void
forget_agreed(struct placement *p)
{
	size_t i, si;

	p->in_sync = 0;
	p->have_ring = 0;
	p->quorum_known = 0;
	p->quorate = 0;
	for (i = 0; i < p->cfg->nnodes; i++) {
		p->peers[i].member = 0;
		p->peers[i].hello = 0;
		for (si = 0; si < p->nsites; si++)
			p->peers[i].sites[si].state = FMSG_SITE_NONE;
	}
	for (si = 0; si < p->nsites; si++) {
		struct site *s = &p->sites[si];

		s->owner = s->target = s->ask_node = 0;
		s->health_move = 0;
		s->gen++;
	}
}

int
placement_event(struct placement *p, const struct placement_event *ev,
    struct placement_out *out)
{
	size_t si;

	p->out = out;
	if (ev->now_ms > p->now)
		p->now = ev->now_ms;
	switch (ev->type) {
	case PLACEMENT_EV_MEMBERSHIP:
		if (p->connected)
			on_membership(p, ev);
		break;
	case PLACEMENT_EV_QUORUM:
		if (!p->connected)
			break;
		if (p->quorum_known && p->quorate && !ev->u.quorum.quorate)
			note(p, LOG_LVL_WARN, SIZE_MAX, "lost quorum: releasing "
			    "every site");
		p->quorum_known = 1;
		p->quorate = ev->u.quorum.quorate;
		p->quorum_ring = ev->u.quorum.ring;
		break;
	case PLACEMENT_EV_MESSAGE:
		if (p->connected)
			on_message(p, ev);
		break;
	case PLACEMENT_EV_CONN_LOST:
		if (p->connected)
			note(p, LOG_LVL_WARN, SIZE_MAX, "lost the corosync "
			    "connection: releasing every site");
		p->connected = 0;
		forget_agreed(p);
		break;
	case PLACEMENT_EV_CONN_RESTORED:
		p->connected = 1;
		break;
	case PLACEMENT_EV_ACTION_DONE:
		if ((si = ev->u.done.site) < p->nsites)
			action_done(p, si, ev->u.done.action, ev->u.done.result);
		break;
	case PLACEMENT_EV_CHECK:
		if ((si = ev->u.check.site) < p->nsites)
			on_check(p, si, ev->u.check.ok, ev->u.check.reason);
		break;
	case PLACEMENT_EV_DATA_AGE:
		if ((si = ev->u.data_age.site) < p->nsites)
			on_data_age(p, si, ev->u.data_age.age_s);
		break;
	case PLACEMENT_EV_TICK:
		break;
	}
	leader_decide(p);
	drive_all(p);
	p->out = NULL;
	return out->err;
}

void
placement_set_config(struct placement *p, const struct config *cfg,
    const struct placement_params *pp)
{
	size_t i;

	/* Same shape (the contract): the counts are the old ones. */
	for (i = 0; i < p->cfg->nnodes && i < cfg->nnodes; i++)
		p->peers[i].cfg = &cfg->nodes[i];
	for (i = 0; i < p->nsites && i < cfg->nsites; i++)
		p->sites[i].cfg = &cfg->sites[i];
	p->cfg = cfg;
	if (pp)
		p->pp = *pp;
}

uint64_t
placement_next_ms(const struct placement *p)
{
	uint64_t t = UINT64_MAX;
	size_t si;

	for (si = 0; si < p->nsites; si++) {
		const struct site *s = &p->sites[si];

		if (s->local == L_READY && s->owner == p->self) {
			uint64_t g = s->grace_until > probe_lead(p, s) ?
			    s->grace_until - probe_lead(p, s) : 0;

			if (g > p->now && g < t)
				t = g;
			if (s->retry_at > p->now && s->retry_at < t)
				t = s->retry_at;
		}
		if (s->ask_node && s->decided_gen != s->gen + 1) {
			uint64_t e = s->ask_ms + (uint64_t)s->cfg->confirm_timeout_s * 1000;

			if (e < t)
				t = e;
		}
		if (s->damp_until > p->now && s->damp_until < t)
			t = s->damp_until;
	}
	return t;
}

void
placement_params_default(struct placement_params *pp)
{
	pp->release_grace_ms = 100;
	pp->addr_probe_ms = 0;
	pp->addr_retry_ms = 250;
}

struct placement *
placement_new(const struct config *cfg, uint32_t self_id,
    const struct placement_params *pp)
{
	struct placement *p;
	size_t i, si;
	int found = 0;

	if ((p = calloc(1, sizeof(*p))) == NULL)
		goto nomem;
	p->cfg = cfg;
	p->self = self_id;
	if (pp)
		p->pp = *pp;
	else
		placement_params_default(&p->pp);
	p->nsites = cfg->nsites;
	if ((p->peers = calloc(cfg->nnodes ? cfg->nnodes : 1, sizeof(*p->peers))) == NULL ||
	    (p->sites = calloc(cfg->nsites ? cfg->nsites : 1, sizeof(*p->sites))) == NULL)
		goto nomem;
	for (i = 0; i < cfg->nnodes; i++) {
		p->peers[i].cfg = &cfg->nodes[i];
		if ((p->peers[i].sites = calloc(cfg->nsites ? cfg->nsites : 1,
		    sizeof(*p->peers[i].sites))) == NULL)
			goto nomem;
		for (si = 0; si < cfg->nsites; si++)
			p->peers[i].sites[si].age_s = FMSG_AGE_UNKNOWN;
		if (cfg->nodes[i].nodeid == self_id) {
			p->self_idx = i;
			found = 1;
		}
	}
	for (si = 0; si < cfg->nsites; si++) {
		p->sites[si].cfg = &cfg->sites[si];
		p->sites[si].healthy = 1;
		p->sites[si].age_s = FMSG_AGE_UNKNOWN;
	}
	if (!found) {
		log_error("%s: node id %u has no [node] section; add one for "
		    "this node to every node's configuration", cfg->file ?
		    cfg->file : "the configuration", self_id);
		placement_free(p);
		return NULL;
	}
	p->connected = 1;
	return p;
nomem:
	log_error("out of memory while setting up site placement");
	placement_free(p);
	return NULL;
}

void
placement_free(struct placement *p)
{
	size_t i;

	if (p == NULL)
		return;
	if (p->peers)
		for (i = 0; i < p->cfg->nnodes; i++)
			free(p->peers[i].sites);
	free(p->peers);
	free(p->sites);
	free(p);
}

enum placement_local
placement_local_state(const struct placement *p, size_t site)
{
	enum local l = p->sites[site].local;

	return l == L_STOPPING ? PLACEMENT_LOCAL_RELEASING : (enum placement_local)l;
}

uint32_t
placement_owner(const struct placement *p, size_t site)
{
	return p->sites[site].owner;
}

uint32_t
placement_move_target(const struct placement *p, size_t site)
{
	return p->sites[site].target;
}

uint32_t
placement_gen(const struct placement *p, size_t site)
{
	return p->sites[site].gen;
}

uint32_t
placement_asking(const struct placement *p, size_t site)
{
	return p->sites[site].ask_node;
}

int
placement_ready(const struct placement *p)
{
	return may_take(p);
}
