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

#define MSG_VERSION 1
#define MSG_NAME_MAX 64		/* site names, as in bulwark.conf */
#define MSG_REASON_MAX 200	/* bytes of a reason, printable text */
#define MSG_HELLO_MAX_SITES 256
#define MSG_MAX_SIZE 65536	/* a larger message is refused unread */
#define MSG_AGE_UNKNOWN UINT32_MAX

enum msg_type {
	MSG_HEALTH = 1,		/* site, ok, reason: the sender's health for the site
				 * changed (rise/fall already applied) */
	MSG_STATE,		/* site, state, gen, reason: what the sender did */
	MSG_DATA_AGE,		/* site, seconds: age of the sender's newest replica */
	MSG_MOVE,		/* site, node: an operator's planned switch */
	MSG_STANDBY,		/* node: gives up its sites and takes none */
	MSG_ONLINE,		/* node: may serve again (clears its health failures) */
	MSG_CONFIRM,		/* site, node, ok (yes/no), gen: an operator's answer */
	MSG_DECIDE,		/* site, decision, node, gen, reason: a time-based
				 * decision made by one member for all */
	MSG_HELLO,		/* ring, standby, per-site summary: after a join */
	MSG__MAX = MSG_HELLO
};

/* What a node does with a site (STATE, and HELLO's summary). */
enum msg_site_state {
	MSG_SITE_NONE = 0,	/* not involved */
	MSG_SITE_STARTING,	/* starting the service */
	MSG_SITE_READY,		/* service started, waiting to take the address */
	MSG_SITE_SERVING,	/* service and address up */
	MSG_SITE_RELEASED,	/* address removed (the service is being stopped) */
	MSG_SITE_FAILED,	/* an action failed: needs another node */
	MSG_SITE__MAX = MSG_SITE_FAILED
};

enum msg_decision {
	MSG_DECIDE_MOVE = 1,	/* move the site to node now (health) */
	MSG_DECIDE_CONFIRM_TIMEOUT,	/* nobody answered: apply the default */
	MSG_DECIDE__MAX = MSG_DECIDE_CONFIRM_TIMEOUT
};

struct msg_hello_site {
	char site[MSG_NAME_MAX + 1];
	uint8_t state;		/* enum msg_site_state */
	uint8_t healthy;
	uint32_t data_age_s;	/* MSG_AGE_UNKNOWN if never measured */
	uint32_t gen;		/* the sender's generation of the site */
};

struct msg {
	enum msg_type type;
	char site[MSG_NAME_MAX + 1];	/* all but STANDBY, ONLINE, HELLO */
	uint32_t node;		/* MOVE: to; STANDBY, ONLINE: which; CONFIRM,
				 * DECIDE: the node the site goes to (or 0) */
	uint8_t ok;		/* HEALTH: healthy; CONFIRM: yes */
	uint8_t state;		/* STATE: enum msg_site_state */
	uint8_t decision;	/* DECIDE: enum msg_decision */
	uint32_t gen;		/* STATE, CONFIRM, DECIDE: the site's generation
				 * it refers to (stale ones are ignored) */
	uint32_t seconds;	/* DATA_AGE */
	char reason[MSG_REASON_MAX + 1];	/* HEALTH, STATE, DECIDE */
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
