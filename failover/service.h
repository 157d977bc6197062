/*
 * A site's service: start, stop and status through the site's configured
 * shell commands, or through systemctl for a systemd unit; and the
 * after_take / after_release hooks.  Every command runs through loop_spawn
 * with the site's action_timeout_ms and these in its environment:
 *   BULWARK_SITE     the site's name
 *   BULWARK_NODE     this node's name
 *   BULWARK_ADDRESS  the service address without its prefix ("" if none)
 *   BULWARK_EVENT    start, stop, status, after_take or after_release
 * A command that exits non-zero, is killed or times out is a failure (the
 * daemon then gives the site up); an action or hook that is not configured
 * succeeds at once.  Status reports 0 for running, BW_ERR_NOENT for "not
 * running" (non-zero exit: systemctl is-active says 3), BW_ERR_UNSUPP when
 * the site has no way to tell, other codes when it could not be asked.
 */
#ifndef BW_FAILOVER_SERVICE_H
#define BW_FAILOVER_SERVICE_H

#include "config/config.h"
#include "failover/ops.h"

enum service_action {
	SERVICE_START = 0,
	SERVICE_STOP,
	SERVICE_STATUS,
	SERVICE_AFTER_TAKE,
	SERVICE_AFTER_RELEASE,
	SERVICE__COUNT
};

/* "start", "stop", "status", "after_take", "after_release". */
const char *service_action_name(enum service_action a);

struct service_ops {
	const char *name;	/* "real", "null", "fake" */
	/* Starts action a for site on this node (named node); fn is called
	 * once, later, from the loop.  site, node and arg must stay valid
	 * until then.  0, or a negative code (logged) and fn is not called. */
	int (*run)(struct loop *l, const struct config_site *site, const char *node,
	    enum service_action a, ops_done_fn *fn, void *arg);
};

extern const struct service_ops service_real;
extern const struct service_ops service_null;
extern const struct service_ops service_fake;

/* The fake: the result the next calls of each action report (default 0),
 * and a record of the calls made ("www:start\n" per call, in order). */
void service_fake_reset(void);
void service_fake_set(enum service_action a, int err);
const char *service_fake_calls(void);

#endif
