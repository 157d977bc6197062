/*
 * What the real and the fake membership drivers share: the driver ops and
 * the ordered, bounded queue of outgoing messages.
 */
#ifndef BW_FAILOVER_CLUSTER_INTERNAL_H
#define BW_FAILOVER_CLUSTER_INTERNAL_H

#include "failover/cluster.h"

struct cluster_qmsg {
	struct cluster_qmsg *next;
	size_t n;
	uint8_t p[];
};

struct cluster_ops {
	int (*start)(struct cluster *c);
	/* CS_OK-like: 0 sent, 1 try again later, negative: lost */
	int (*mcast)(struct cluster *c, const void *p, size_t n);
	/* a retry of the queue is wanted later (a timer, or nothing: the fake) */
	void (*want_flush)(struct cluster *c);
	void (*leave)(struct cluster *c);
	void (*free)(struct cluster *c);
};

struct cluster_names {
	uint32_t nodeid;
	char name[CLUSTER_NAME_MAX];
};

struct cluster {
	const struct cluster_ops *ops;
	const struct cluster_cb *cb;
	void *arg;
	struct cluster_info info;
	struct cluster_qmsg *qhead, **qtail;
	size_t qlen;
	int in_dispatch;		/* sends only queue inside corosync callbacks */
	struct cluster_names *names;
	size_t nnames;
};

void cluster_base_init(struct cluster *c, const struct cluster_ops *ops,
    const struct cluster_cb *cb, void *arg);
void cluster_queue_clear(struct cluster *c);
/* Hands queued messages to ops->mcast until it says try again; 0, 1 (some
 * left) or the negative code of a lost connection. */
int cluster_queue_flush(struct cluster *c);

#endif
