/*
 * Site placement: the decision core of bulwark-failoverd, a pure state
 * machine.  No I/O, no clock, no corosync: the daemon feeds it events,
 * each with the monotonic time, and carries out the actions it returns
 * for THIS node.  Every member feeds its own instance the same agreed
 * stream (CPG membership changes and messages in agreed order), so all of
 * them compute the same owner for each site.  The rules, the message
 * protocol and the safety argument are in docs/FAILOVER.md and at the top
 * of placement.c.
 *
 * Sites are named by their index in the configuration's sites[]; every
 * node must have the same [node] and [site] sections (messages carry names
 * and are checked against it).
 */
#ifndef BW_FAILOVER_PLACEMENT_H
#define BW_FAILOVER_PLACEMENT_H

#include <stddef.h>
#include <stdint.h>

#include "config/config.h"

struct placement;

/* A corosync ring id (totem: the representative's node id and a sequence). */
struct placement_ring {
	uint32_t nodeid;
	uint64_t seq;
};

enum placement_ev_type {
	PLACEMENT_EV_MEMBERSHIP = 1,	/* CPG confchg: the group's members */
	PLACEMENT_EV_QUORUM,		/* quorum notification */
	PLACEMENT_EV_MESSAGE,		/* a message delivered in agreed order */
	PLACEMENT_EV_CONN_LOST,		/* the corosync connection is gone */
	PLACEMENT_EV_CONN_RESTORED,	/* reconnected (membership follows) */
	PLACEMENT_EV_ACTION_DONE,	/* a START/ADDR_ADD/ADDR_DEL/STOP ended */
	PLACEMENT_EV_CHECK,		/* one local health check round of a site
					 * (all its checks); counted only while
					 * this node serves the site */
	PLACEMENT_EV_DATA_AGE,		/* the local replica's age changed */
	PLACEMENT_EV_TICK		/* time passed (see placement_next_ms) */
};

enum placement_result {
	PLACEMENT_OK = 0,
	PLACEMENT_FAILED,		/* the action failed or timed out */
	PLACEMENT_ADDR_IN_USE		/* ADDR_ADD: another host answers on the
					 * address (duplicate address detection) */
};

struct placement_event {
	enum placement_ev_type type;
	uint64_t now_ms;		/* monotonic, never decreasing */
	union {
		struct {		/* MEMBERSHIP */
			struct placement_ring ring;
			const uint32_t *members;	/* node ids, any order */
			size_t nmembers;
		} membership;
		struct {		/* QUORUM */
			struct placement_ring ring;
			int quorate;
		} quorum;
		struct {		/* MESSAGE */
			uint32_t from;	/* the sender's node id (from CPG) */
			const void *data;
			size_t len;
		} message;
		struct {		/* ACTION_DONE */
			size_t site;
			int action;	/* enum placement_act_type */
			enum placement_result result;
		} done;
		struct {		/* CHECK */
			size_t site;
			int ok;
			const char *reason;	/* why it failed, or NULL */
		} check;
		struct {		/* DATA_AGE */
			size_t site;
			uint32_t age_s;
		} data_age;
	} u;
};

enum placement_act_type {
	PLACEMENT_ACT_START = 1,	/* start the site's service (no address) */
	PLACEMENT_ACT_ADDR_ADD,		/* check nobody answers on the address,
					 * add it, announce it, run after_take;
					 * answer PLACEMENT_ADDR_IN_USE if taken */
	PLACEMENT_ACT_ADDR_DEL,		/* remove the address, run after_release */
	PLACEMENT_ACT_STOP,		/* stop the service */
	PLACEMENT_ACT_SEND,		/* multicast data in agreed order */
	PLACEMENT_ACT_LOG,		/* a transition and its reason */
	PLACEMENT_ACT_ASK		/* ask the operator (text says what) */
};

/* Every START, ADDR_ADD, ADDR_DEL and STOP is answered by exactly one
 * ACTION_DONE for the same site and action, bounded by the site's
 * action_timeout (the daemon kills what runs longer and answers FAILED).
 * For a site without an address, ADDR_ADD and ADDR_DEL only run the
 * after_take and after_release hooks.  ADDR_DEL and STOP may be asked for
 * while a START or ADDR_ADD still runs (on losing quorum): the driver
 * must then stop what runs and still answer each. */
struct placement_action {
	enum placement_act_type type;
	size_t site;			/* START..STOP, ASK; LOG: or SIZE_MAX */
	int level;			/* LOG: enum log_level */
	char text[320];			/* LOG, ASK */
	uint8_t *data;			/* SEND: an encoded message (malloc'd) */
	size_t len;
};

/* The actions one event produced, in order.  Zero-initialise. */
struct placement_out {
	struct placement_action *v;
	size_t n, cap;
	int err;			/* BW_ERR_NOMEM: some were lost */
};
/* Empties the list (frees SEND data), keeping its memory. */
void placement_out_reset(struct placement_out *o);
void placement_out_free(struct placement_out *o);

struct placement_params {
	/* After the previous holder vanished from the membership, wait this
	 * long before adding the address: the holder releases on its own
	 * when it loses quorum or its corosync connection (docs/FAILOVER.md
	 * bounds that), so this covers the removal itself (milliseconds)
	 * plus a margin; the address probe still catches a holder that is
	 * late.  Default 100 ([cluster] release_grace). */
	uint64_t release_grace_ms;
	/* While an ADDR_ADD answers ADDR_IN_USE, retry after this; give up
	 * after the site's action_timeout.  Default 250. */
	uint64_t addr_retry_ms;
	/* How long ADDR_ADD's duplicate address probe takes at least, before
	 * it adds anything: ADDR_ADD is asked for that much before the grace
	 * ends, so the probe overlaps the grace and its listening ends when
	 * the grace does (the address is still added no earlier).  A holder
	 * that has the address when the grace ends had it all through the
	 * probe, and answers.  Default 0 (the probe follows the grace). */
	uint64_t addr_probe_ms;
};
void placement_params_default(struct placement_params *pp);

/* A state machine for node self_id (a [node] of cfg; cfg must outlive it).
 * NULL when out of memory or self_id is not in cfg (logged).  It starts
 * connected (send CONN_LOST if the first connection fails) and knowing
 * nothing: it takes no site until it is quorate and has heard every
 * member's HELLO.  pp NULL: placement_params_default. */
struct placement *placement_new(const struct config *cfg, uint32_t self_id,
    const struct placement_params *pp);
void placement_free(struct placement *p);

/* Points p at cfg, a reload of the configuration it was made with: the
 * same [node] sections and the same [site] sections in the same order,
 * equal in what every node's placement must agree on (names, node ids,
 * witnesses, priorities, mode, max_data_age, confirm_default, address);
 * the caller checks that (daemon_reload does).  What only this node uses
 * (damp and confirm_timeout when it decides for all, rise, fall,
 * action_timeout) applies from the next event.  pp NULL: the parameters
 * stay.  cfg must outlive p. */
void placement_set_config(struct placement *p, const struct config *cfg,
    const struct placement_params *pp);

/* Feeds one event; appends the resulting actions to out.  0, or
 * BW_ERR_NOMEM (out->err is set too).  A malformed message or an event
 * that does not fit the state is logged (a LOG action) and ignored. */
int placement_event(struct placement *p, const struct placement_event *ev,
    struct placement_out *out);

/* The earliest time a TICK is needed (absolute, as now_ms), or UINT64_MAX. */
uint64_t placement_next_ms(const struct placement *p);

/*
 * Read-only views for status output and tests.
 */
enum placement_local {
	PLACEMENT_LOCAL_IDLE = 0,	/* holds nothing of the site */
	PLACEMENT_LOCAL_STARTING,	/* START running */
	PLACEMENT_LOCAL_READY,		/* service up, waiting to add the address */
	PLACEMENT_LOCAL_ADDING,		/* ADDR_ADD running (or waiting to retry) */
	PLACEMENT_LOCAL_SERVING,	/* service and address up */
	PLACEMENT_LOCAL_RELEASING	/* ADDR_DEL or STOP running */
};
/* What this node does with the site right now. */
enum placement_local placement_local_state(const struct placement *p, size_t site);
/* The node the agreed stream gives the site to (0: none), and whether
 * a planned move is under way (its target, or 0). */
uint32_t placement_owner(const struct placement *p, size_t site);
uint32_t placement_move_target(const struct placement *p, size_t site);
/* The site's generation (an operator's CONFIRM must carry it) and the
 * node an operator is being asked about (0: no question pending). */
uint32_t placement_gen(const struct placement *p, size_t site);
uint32_t placement_asking(const struct placement *p, size_t site);
/* Quorate, connected and in sync with every member (it may take sites). */
int placement_ready(const struct placement *p);

#endif
