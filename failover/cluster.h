/*
 * The membership driver: corosync's CPG group "bulwark", quorum and
 * votequorum, and cmap, turned into a few events for the daemon.  Only
 * failover/cluster.c includes corosync headers; failover/cluster_fake.c is
 * the scripted driver for unit tests.
 *
 * Events, in the order the daemon sees them:
 *   connected     the handles are open and the group joined (after a start
 *                 or a reconnect); a view and a quorum event follow
 *   view          the group's members (node ids of the failoverd processes
 *                 joined to the group), with the totem ring id
 *   quorum        quorate or not, with its ring id.  View and quorum come
 *                 through separate channels and in either order: correlate
 *                 by ring id, never by arrival.
 *   message       a message multicast to the group, in agreed order; this
 *                 node's own messages come back here too, in their place
 *   disconnected  corosync went away (or was never there): membership and
 *                 quorum are unknown until the next connected.  The driver
 *                 reconnects on its own (backoff 100 ms doubling to 1 s).
 *
 * Events are called from the loop (never from a signal handler) and may
 * call cluster_send; they must not free the driver.
 */
#ifndef BW_FAILOVER_CLUSTER_H
#define BW_FAILOVER_CLUSTER_H

#include <stddef.h>
#include <stdint.h>

struct loop;
struct cluster;

#define CLUSTER_GROUP "bulwark"		/* CPG group; length counted without the NUL */
#define CLUSTER_MSG_MAX 65536		/* largest message cluster_send accepts */
#define CLUSTER_QUEUE_MAX 1024		/* messages waiting out flow control */
#define CLUSTER_NAME_MAX 64

struct cluster_ring {
	uint32_t nodeid;		/* the node that formed the ring */
	uint64_t seq;			/* grows with every membership change */
};

struct cluster_cb {
	void (*connected)(void *arg, uint32_t local_nodeid);
	void (*disconnected)(void *arg);
	void (*view)(void *arg, const uint32_t *members, size_t n, struct cluster_ring ring);
	void (*quorum)(void *arg, int quorate, struct cluster_ring ring);
	void (*message)(void *arg, uint32_t from, const uint8_t *p, size_t n);
};

/* What votequorum and cmap say, for status and for checks at start. */
struct cluster_info {
	int connected;
	uint32_t local_nodeid;		/* 0 until known */
	unsigned token_ms;		/* effective token (runtime.config.totem.token); 0 unknown */
	unsigned expected_votes, total_votes, quorum_votes;
	int two_node;			/* votequorum two_node is on */
	int qdevice;			/* a quorum device is registered */
	int qdevice_alive;
	char qdevice_name[CLUSTER_NAME_MAX];
};

/* The real driver.  Nothing happens until cluster_start.  NULL on no memory. */
struct cluster *cluster_corosync_new(struct loop *l, const struct cluster_cb *cb, void *arg);

/* Connects (now, and again after every loss, from loop timers).  Not being
 * able to reach corosync is not an error here: it is retried and reported
 * as disconnected.  0, or BW_ERR_NOMEM. */
int cluster_start(struct cluster *c);

/* Multicasts p to the group in agreed order.  Messages wait in order while
 * corosync applies flow control (CS_ERR_TRY_AGAIN) and are retried from a
 * timer.  0 when sent or queued; BW_ERR_IO when not connected (logged);
 * BW_ERR_NOSPC when CLUSTER_QUEUE_MAX messages already wait (logged);
 * BW_ERR_INVAL when n is 0 or above CLUSTER_MSG_MAX. */
int cluster_send(struct cluster *c, const void *p, size_t n);

/* Messages queued and not yet handed to corosync. */
size_t cluster_pending(const struct cluster *c);

void cluster_get_info(const struct cluster *c, struct cluster_info *out);

/* The name corosync's nodelist gives nodeid (nodelist.node.N.name), or
 * NULL.  Valid until the next event. */
const char *cluster_node_name(const struct cluster *c, uint32_t nodeid);

/* Hands what is queued to corosync (a bounded wait), leaves the group and
 * closes every handle; no event is reported after this.  For shutdown. */
void cluster_leave(struct cluster *c);

void cluster_free(struct cluster *c);

/*
 * The fake driver for unit tests.  Fakes attached to one bus form a cluster
 * in one process: cluster_send puts a message on the bus and
 * cluster_fakebus_deliver hands every message, in one order, to each
 * connected fake whose last view holds the sender (the sender included),
 * as CPG's agreed order does.  Membership and quorum are scripted.
 */
struct cluster_fakebus;
struct cluster_fakebus *cluster_fakebus_new(void);
void cluster_fakebus_free(struct cluster_fakebus *b);	/* after its fakes */
/* Delivers what is on the bus; returns the number of messages. */
size_t cluster_fakebus_deliver(struct cluster_fakebus *b);

struct cluster *cluster_fake_new(struct cluster_fakebus *b, uint32_t nodeid,
    const struct cluster_cb *cb, void *arg);
/* Names and token for cluster_node_name and cluster_get_info. */
int cluster_fake_set_name(struct cluster *c, uint32_t nodeid, const char *name);
void cluster_fake_set_token(struct cluster *c, unsigned token_ms);
/* Scripted events (each reports at once, as corosync's dispatch would). */
void cluster_fake_connect(struct cluster *c);
void cluster_fake_disconnect(struct cluster *c);
void cluster_fake_view(struct cluster *c, const uint32_t *members, size_t n, uint64_t ring_seq);
void cluster_fake_quorum(struct cluster *c, int quorate, uint64_t ring_seq);
/* Make the next k sends fail as corosync's flow control does (they queue). */
void cluster_fake_try_again(struct cluster *c, unsigned k);
/* Retries queued messages (what the real driver's timer does). */
void cluster_fake_flush(struct cluster *c);

#endif
