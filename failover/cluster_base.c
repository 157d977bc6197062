/*
 * What every membership driver shares: the public entry points, which call
 * the driver's ops, and the ordered, bounded queue of outgoing messages.
 */
#include "config.h"

#include <stdlib.h>
#include <string.h>

#include "failover/cluster.h"
#include "failover/cluster_internal.h"
#include "lib/util/err.h"
#include "lib/util/log.h"

void
cluster_base_init(struct cluster *c, const struct cluster_ops *ops,
    const struct cluster_cb *cb, void *arg)
{
	c->ops = ops;
	c->cb = cb;
	c->arg = arg;
	c->qtail = &c->qhead;
}

void
cluster_queue_clear(struct cluster *c)
{
	struct cluster_qmsg *m;

	while ((m = c->qhead) != NULL) {
		c->qhead = m->next;
		free(m);
	}
	c->qtail = &c->qhead;
	c->qlen = 0;
}

int
cluster_queue_flush(struct cluster *c)
{
	struct cluster_qmsg *m;
	int rc;

	while ((m = c->qhead) != NULL) {
		if ((rc = c->ops->mcast(c, m->p, m->n)) != 0)
			return rc;
		c->qhead = m->next;
		if (c->qhead == NULL)
			c->qtail = &c->qhead;
		c->qlen--;
		free(m);
	}
	return 0;
}

int
cluster_start(struct cluster *c)
{
	return c->ops->start(c);
}

int
cluster_send(struct cluster *c, const void *p, size_t n)
{
	struct cluster_qmsg *m;

	if (n == 0 || n > CLUSTER_MSG_MAX)
		return BW_ERR_INVAL;
	if (!c->info.connected) {
		log_error("cluster: not connected to corosync; message not sent (it is "
		    "retried by the caller once corosync is back)");
		return BW_ERR_IO;
	}
	if (c->qlen >= CLUSTER_QUEUE_MAX) {
		log_error("cluster: %zu messages wait for corosync's flow control; message "
		    "dropped (is corosync overloaded? see corosync's log)", c->qlen);
		return BW_ERR_NOSPC;
	}
	if ((m = malloc(sizeof(*m) + n)) == NULL)
		return BW_ERR_NOMEM;
	m->next = NULL;
	m->n = n;
	memcpy(m->p, p, n);
	*c->qtail = m;
	c->qtail = &m->next;
	c->qlen++;
	/* Inside a corosync callback the library is busy: send from the loop. */
	if (c->in_dispatch || c->qlen > 1 || cluster_queue_flush(c) != 0)
		c->ops->want_flush(c);
	return 0;
}

size_t cluster_pending(const struct cluster *c) { return c->qlen; }

void
cluster_get_info(const struct cluster *c, struct cluster_info *out)
{
	*out = c->info;
}

const char *
cluster_node_name(const struct cluster *c, uint32_t nodeid)
{
	size_t i;

	for (i = 0; i < c->nnames; i++)
		if (c->names[i].nodeid == nodeid)
			return c->names[i].name;
	return NULL;
}

void
cluster_leave(struct cluster *c)
{
	if (c)
		c->ops->leave(c);
}

void
cluster_free(struct cluster *c)
{
	if (c == NULL)
		return;
	cluster_queue_clear(c);
	free(c->names);
	c->ops->free(c);
}

