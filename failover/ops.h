/*
 * The drivers failoverd acts on the machine through: the service address
 * (failover/addr.h) and the site's service (failover/service.h).  Each has
 * a real, a null (dry run: logs what it would do and reports success) and
 * a fake implementation (tests: scripted results, calls recorded), behind
 * one small table, so the daemon and the placement tests pick one at start.
 * Health checks (failover/health.h) need no table: they only look.
 *
 * Every action is asynchronous and bounded: it returns 0 once started (or
 * a negative code, logged, if it could not start), and later calls its
 * ops_done_fn exactly once from the loop, never from inside the call.
 */
#ifndef BW_FAILOVER_OPS_H
#define BW_FAILOVER_OPS_H

struct loop;
struct addr_ops;
struct service_ops;

/* err: 0 when the action succeeded, else a negative BW_ERR_* code; reason
 * says what was seen ("start command exited with status 3", "192.0.2.10
 * in use by 52:54:00:12:34:56"), already logged; NULL when err is 0. */
typedef void ops_done_fn(struct loop *l, int err, const char *reason, void *arg);

struct site_ops {
	const struct addr_ops *addr;
	const struct service_ops *service;
};

/* Real drivers, dry-run drivers, and the test fakes. */
extern const struct site_ops site_ops_real;
extern const struct site_ops site_ops_null;
extern const struct site_ops site_ops_fake;

#endif
