/*
 * failoverd's glue: membership events from the cluster driver, health
 * changes and results from the site drivers go into placement
 * (failover/placement.h); placement's actions for this node are carried out
 * through the drivers; every agreed transition is kept in the history
 * (state dir) and this node's own in the audit log; the control socket
 * answers the bulwark command.  All of it runs from the one loop.
 */
#ifndef BW_FAILOVER_DAEMON_H
#define BW_FAILOVER_DAEMON_H

#include <stdint.h>

#include "config/config.h"
#include "failover/cluster.h"
#include "failover/ops.h"

struct loop;
struct daemon;
struct placement_params;

/* Makes the membership driver; the daemon owns what it returns. */
typedef struct cluster *daemon_cluster_new_fn(struct loop *l, const struct cluster_cb *cb,
    void *cb_arg, void *arg);

struct daemon_opts {
	const char *node;		/* this node's [node] name; NULL: from corosync's node id */
	const struct site_ops *ops;	/* real, null (dry run) or fake: required */
	daemon_cluster_new_fn *cluster_new;	/* NULL: corosync */
	void *cluster_arg;
	const char *audit_dir;		/* NULL: [audit] dir or the default */
	int no_health;			/* tests: no health probes (health is scripted) */
	int no_socket;			/* tests: no control socket */
	const struct placement_params *pp;	/* NULL: placement's defaults */
};

/* Takes cfg (freed by daemon_free).  NULL on no memory. */
struct daemon *daemon_new(struct loop *l, struct config *cfg, const struct daemon_opts *o);

/* Opens the history and the audit log, the control socket, starts the
 * cluster driver and the health checks.  0 or a negative code (logged). */
int daemon_start(struct daemon *d);

/* Applies a freshly parsed and validated config (taken: kept or freed).
 * What every node's placement must agree on ([node] sections; each
 * [site]'s name and order, priorities, mode, max_data_age,
 * confirm_default, backup_set, address and interface) changes only by
 * restarting each node's daemon in turn: if it differs, that is logged,
 * naming the section and key, the running configuration stays, and the
 * answer is BW_ERR_UNSUPP.  Everything else (commands, hooks, checks and
 * their timings, rise/fall, action_timeout, damp, confirm_timeout,
 * announcements, [cluster] release_grace and dad_*) is swapped in: 0. */
int daemon_reload(struct daemon *d, struct config *cfg);

/* Gives up every site at once (release actions, each bounded by the
 * site's action timeout; all of it by 30 s), leaves the group, then stops
 * the loop. */
void daemon_shutdown(struct daemon *d);

void daemon_free(struct daemon *d);

/* ---- for tests and status ---- */

/* This node's part of the site (enum placement_local: idle, starting,
 * ready, adding, serving, releasing), or -1 if there is no such site. */
int daemon_site_state(const struct daemon *d, const char *site);
/* The node that agreed placement gives the site to ("" if none). */
const char *daemon_site_owner(const struct daemon *d, const char *site);
/* The node id this daemon runs as (0 before corosync said). */
uint32_t daemon_nodeid(const struct daemon *d);

/* Control requests, as the socket handler runs them: 0 and *out (text or
 * JSON, malloc'd) or a negative code and *out an operator message. */
int daemon_request(struct daemon *d, int op, int json, char *const *args, char **out);

/* Scripted health (tests with no_health): the site's checks on this node. */
void daemon_test_health(struct daemon *d, const char *site, int up);

#endif
