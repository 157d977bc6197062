/*
 * The address steps of the daemon's actions, in a file of their own:
 * failover/addr.h brings <sys/socket.h>, whose MSG_CONFIRM collides with
 * failover/msg.h's, so daemon.c (which reads messages) cannot include it.
 */
#ifndef BW_FAILOVER_DAEMON_ADDR_H
#define BW_FAILOVER_DAEMON_ADDR_H

#include <stdint.h>

#include "failover/ops.h"

struct loop;
struct daemon_addr;

enum daemon_addr_op { DADDR_PROBE, DADDR_ADD, DADDR_ANNOUNCE, DADDR_DEL };

/* A site's address on an interface; NULL (logged, naming file and site)
 * when it does not parse or on no memory. */
struct daemon_addr *daemon_addr_new(const char *file, const char *site, const char *address,
    const char *ifname);
void daemon_addr_free(struct daemon_addr *a);
/* 1 if the driver reported "in use" (BW_ERR_EXIST from a probe). */
int daemon_addr_in_use(int err);

/* One step through ops->addr; contract as struct addr_ops (failover/addr.h). */
int daemon_addr_run(const struct site_ops *ops, struct loop *l, enum daemon_addr_op op,
    const struct daemon_addr *a, uint64_t timeout_ms, unsigned count, unsigned interval_ms,
    ops_done_fn *fn, void *arg);

#endif
