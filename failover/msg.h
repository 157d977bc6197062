/*
 * The messages failoverd members multicast to each other in CPG agreed
 * order (every member delivers the same messages in the same order, with
 * membership changes at the same points).  The wire format is in msg.c and
 * docs/FAILOVER.md.  The sender is not in the message: CPG names it.
 */
#ifndef BW_FAILOVER_MSG_H
#define BW_FAILOVER_MSG_H

#include <stddef.h>
#include <stdint.h>

#include "lib/util/buf.h"

#define FMSG_VERSION 1
#define FMSG_NAME_MAX 64		/* site names, as in bulwark.conf */
#define FMSG_REASON_MAX 200	/* bytes of a reason, printable text */
#define FMSG_HELLO_MAX_SITES 256
#define FMSG_MAX_SIZE 65536	/* a larger message is refused unread */
#define FMSG_AGE_UNKNOWN UINT32_MAX

enum msg_type {
	FMSG_HEALTH = 1,		/* site, ok, reason: the sender's health for the site
				 * changed (rise/fall already applied) */
	FMSG_STATE,		/* site, state, gen, reason: what the sender did */
	FMSG_DATA_AGE,		/* site, seconds: age of the sender's newest replica */
	FMSG_MOVE,		/* site, node: an operator's planned switch */
	FMSG_STANDBY,		/* node: gives up its sites and takes none */
	FMSG_ONLINE,		/* node: may serve again (clears its health failures) */
	FMSG_CONFIRM,		/* site, node, ok (yes/no), gen: an operator's answer */
	FMSG_DECIDE,		/* site, decision, node, gen, reason: a time-based
				 * decision made by one member for all */
	FMSG_HELLO,		/* ring, standby, per-site summary: after a join */
	FMSG__MAX = FMSG_HELLO
};

/* What a node does with a site (STATE, and HELLO's summary). */
enum msg_site_state {
	FMSG_SITE_NONE = 0,	/* not involved */
	FMSG_SITE_STARTING,	/* starting the service */
	FMSG_SITE_READY,		/* service started, waiting to take the address */
	FMSG_SITE_SERVING,	/* service and address up */
	FMSG_SITE_RELEASED,	/* address removed (the service is being stopped) */
	FMSG_SITE_FAILED,	/* an action failed: needs another node */
	FMSG_SITE__MAX = FMSG_SITE_FAILED
};

enum msg_decision {
	FMSG_DECIDE_MOVE = 1,	/* move the site to node now (health) */
	FMSG_DECIDE_CONFIRM_TIMEOUT,	/* nobody answered: apply the default */
	FMSG_DECIDE__MAX = FMSG_DECIDE_CONFIRM_TIMEOUT
};

struct msg_hello_site {
	char site[FMSG_NAME_MAX + 1];
	uint8_t state;		/* enum msg_site_state */
	uint8_t healthy;
	uint32_t data_age_s;	/* FMSG_AGE_UNKNOWN if never measured */
	uint32_t gen;		/* the sender's generation of the site */
};

struct msg {
	enum msg_type type;
	char site[FMSG_NAME_MAX + 1];	/* all but STANDBY, ONLINE, HELLO */
	uint32_t node;		/* MOVE: to; STANDBY, ONLINE: which; CONFIRM,
				 * DECIDE: the node the site goes to (or 0) */
	uint8_t ok;		/* HEALTH: healthy; CONFIRM: yes */
	uint8_t state;		/* STATE: enum msg_site_state */
	uint8_t decision;	/* DECIDE: enum msg_decision */
	uint32_t gen;		/* STATE, CONFIRM, DECIDE: the site's generation
				 * it refers to (stale ones are ignored) */
	uint32_t seconds;	/* DATA_AGE */
	char reason[FMSG_REASON_MAX + 1];	/* HEALTH, STATE, DECIDE */
	/* HELLO */
	uint32_t ring_node;	/* the ring it answers (corosync ring id) */
	uint64_t ring_seq;
	uint8_t standby;
	struct msg_hello_site *sites;	/* malloc'd; msg_free releases */
	size_t nsites;
};

/* Appends the encoding of m to out.  0, BW_ERR_INVAL (a field out of its
 * range: the caller's bug; logged), or BW_ERR_NOMEM. */
int msg_encode(const struct msg *m, struct buf *out);

/* Parses one message.  0 and *m (free with msg_free); BW_ERR_VERSION for
 * another version; BW_ERR_CORRUPT for anything malformed (wrong magic,
 * unknown type, names or reasons out of range, bytes left over);
 * BW_ERR_NOMEM.  Logs nothing: the caller knows the sender to name. */
int msg_decode(const void *data, size_t len, struct msg *m);

/* Releases what msg_decode allocated (HELLO's sites); m may be reused. */
void msg_free(struct msg *m);

/* Static names for logs: "health", "serving", "confirm-timeout"... */
const char *msg_type_name(int type);
const char *msg_state_name(int state);

/* Copies s into a name or reason field, cut to fit. */
void msg_set_str(char *dst, size_t size, const char *s);

#endif
