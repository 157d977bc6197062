/*
 * failoverd's glue: membership events from the cluster driver and results
 * from the site drivers go into placement; placement's decisions for this
 * node are carried out through the drivers; every transition is kept in
 * the history (state dir) and the audit log; the control socket answers
 * the bulwark command.  All of it runs from the one loop.
 */
#ifndef BW_FAILOVER_DAEMON_H
#define BW_FAILOVER_DAEMON_H

#include <stdint.h>

#include "config/config.h"
#include "failover/cluster.h"
#include "failover/ops.h"

struct loop;
struct daemon;

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
};

/* Takes cfg (freed by daemon_free).  NULL on no memory. */
struct daemon *daemon_new(struct loop *l, struct config *cfg, const struct daemon_opts *o);

/* Opens the history and the audit log, the control socket, starts the
 * cluster driver and the health checks.  0 or a negative code (logged). */
int daemon_start(struct daemon *d);

/* A freshly parsed and validated config replaces the running one (taken;
 * on error it is freed and the old one kept).  Sites added start idle;
 * sites removed are given up first.  0 or a negative code (logged). */
int daemon_reload(struct daemon *d, struct config *cfg);

/* Gives up every site (release actions, each bounded by the site's
 * action timeout), leaves the group, then stops the loop. */
void daemon_shutdown(struct daemon *d);

void daemon_free(struct daemon *d);

/* ---- for tests and status ---- */

enum daemon_site_state {
	DSITE_IDLE = 0,		/* not served here */
	DSITE_TAKING,		/* take actions running */
	DSITE_SERVING,		/* taken and verified */
	DSITE_RELEASING,	/* release actions running */
	DSITE_FAILED		/* an action failed; given up here */
};

const char *daemon_site_state_name(enum daemon_site_state s);
/* This node's state of the site, or -1 if there is no such site. */
int daemon_site_state(const struct daemon *d, const char *site);
/* The node placement gives the site to ("" if none). */
const char *daemon_site_target(const struct daemon *d, const char *site);
/* The node id this daemon runs as (0 before corosync said). */
uint32_t daemon_nodeid(const struct daemon *d);

/* Control requests, as the socket handler runs them: 0 and *out (text or
 * JSON, malloc'd) or a negative code and *out an operator message. */
int daemon_request(struct daemon *d, int op, int json, char *const *args, char **out);

/* Scripted health (tests with no_health): the site's checks on this node. */
void daemon_test_health(struct daemon *d, const char *site, int up);

#endif
