#include "config.h"

#include <sys/wait.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "failover/loop.h"
#include "failover/service.h"
#include "lib/util/err.h"
#include "lib/util/log.h"

#define SERVICE_REASON_MAX 256

static const char *const action_names[SERVICE__COUNT] = {
	"start", "stop", "status", "after_take", "after_release"
};

const char *
service_action_name(enum service_action a)
{
	return (unsigned)a < SERVICE__COUNT ? action_names[a] : "unknown";
}

/* One action under way: what its callback needs once the command ends. */
struct job {
	enum service_action action;
	const struct config_site *site;
	uint64_t timeout_ms;
	int err;		/* for actions that end without a command */
	ops_done_fn *fn;
	void *arg;
};

static void
job_finish(struct loop *l, struct job *j, int err, const char *reason)
{
	ops_done_fn *fn = j->fn;
	void *arg = j->arg;

	free(j);
	fn(l, err, err ? reason : NULL, arg);
}

static void
job_immediate(struct loop *l, void *arg)
{
	struct job *j = arg;
	char reason[SERVICE_REASON_MAX];

	snprintf(reason, sizeof(reason), "site %s: %s: %s", j->site->name,
	    service_action_name(j->action), bw_strerror(j->err));
	job_finish(l, j, j->err, reason);
}

/* Reports err from the loop, never from inside the caller's call. */
static int
later(struct loop *l, const struct config_site *site, enum service_action a, int err,
    ops_done_fn *fn, void *arg)
{
	struct job *j;

	if ((j = calloc(1, sizeof(*j))) == NULL ||
	    loop_timer_add(l, 0, job_immediate, j) == NULL) {
		free(j);
		log_error("site %s: %s: out of memory", site->name, service_action_name(a));
		return BW_ERR_NOMEM;
	}
	j->action = a;
	j->site = site;
	j->err = err;
	j->fn = fn;
	j->arg = arg;
	return 0;
}

static void
job_done(struct loop *l, pid_t pid, int status, int timed_out, void *arg)
{
	struct job *j = arg;
	char reason[SERVICE_REASON_MAX];
	const char *what = service_action_name(j->action);
	int err = 0;

	if (timed_out) {
		snprintf(reason, sizeof(reason), "site %s: %s timed out after %llu ms",
		    j->site->name, what, (unsigned long long)j->timeout_ms);
		err = BW_ERR_INTR;
	} else if (WIFSIGNALED(status)) {
		snprintf(reason, sizeof(reason), "site %s: %s command killed by signal %d",
		    j->site->name, what, WTERMSIG(status));
		err = BW_ERR_INTR;
	} else if (WEXITSTATUS(status) != 0) {
		snprintf(reason, sizeof(reason), "site %s: %s command exited with status %d",
		    j->site->name, what, WEXITSTATUS(status));
		/* For status, a non-zero exit is the answer "not running". */
		err = j->action == SERVICE_STATUS ? BW_ERR_NOENT : BW_ERR_IO;
	}
	if (err && j->action != SERVICE_STATUS)
		log_error("%s; the site is given up here", reason);
	else if (err == BW_ERR_INTR)
		log_warn("%s", reason);
	job_finish(l, j, err, reason);
}

/* The shell command for action a, in a new string; NULL with *none set
 * when the site configures nothing for it. */
static char *
command_for(const struct config_site *site, enum service_action a, int *none)
{
	static const char *const verb[] = { "start", "stop", "is-active --quiet" };
	const char *cmd = NULL;
	const char *p;
	size_t n;
	char *s, *q;

	*none = 0;
	switch (a) {
	case SERVICE_START: cmd = site->start; break;
	case SERVICE_STOP: cmd = site->stop; break;
	case SERVICE_STATUS: cmd = site->status; break;
	case SERVICE_AFTER_TAKE: cmd = site->after_take; break;
	case SERVICE_AFTER_RELEASE: cmd = site->after_release; break;
	default: break;
	}
	if (cmd)
		return strdup(cmd);
	if (site->unit == NULL || a > SERVICE_STATUS) {
		*none = 1;
		return NULL;
	}
	/* systemctl VERB -- 'UNIT', the unit quoted for the shell. */
	n = strlen(verb[a]) + 32;
	for (p = site->unit; *p; p++)
		n += *p == '\'' ? 4 : 1;
	if ((s = malloc(n)) == NULL)
		return NULL;
	q = s + sprintf(s, "systemctl %s -- '", verb[a]);
	for (p = site->unit; *p; p++) {
		if (*p == '\'') {
			memcpy(q, "'\\''", 4);
			q += 4;
		} else {
			*q++ = *p;
		}
	}
	*q++ = '\'';
	*q = 0;
	return s;
}

static int
real_run(struct loop *l, const struct config_site *site, const char *node,
    enum service_action a, ops_done_fn *fn, void *arg)
{
	char e_site[256], e_node[256], e_addr[128], e_event[64], tag[300];
	const char *env[] = { e_site, e_node, e_addr, e_event, NULL };
	struct job *j = NULL;
	char *cmd = NULL;
	size_t alen;
	int none, err;

	if ((unsigned)a >= SERVICE__COUNT)
		return BW_ERR_INVAL;
	if ((cmd = command_for(site, a, &none)) == NULL)
		return later(l, site, a, none ? (a == SERVICE_STATUS ? BW_ERR_UNSUPP : 0) :
		    BW_ERR_NOMEM, fn, arg);
	alen = site->address ? strcspn(site->address, "/") : 0;
	snprintf(e_site, sizeof(e_site), "BULWARK_SITE=%s", site->name);
	snprintf(e_node, sizeof(e_node), "BULWARK_NODE=%s", node ? node : "");
	snprintf(e_addr, sizeof(e_addr), "BULWARK_ADDRESS=%.*s", (int)alen,
	    site->address ? site->address : "");
	snprintf(e_event, sizeof(e_event), "BULWARK_EVENT=%s", service_action_name(a));
	snprintf(tag, sizeof(tag), "site %s: %s", site->name, service_action_name(a));
	if ((j = calloc(1, sizeof(*j))) == NULL) {
		log_error("%s: out of memory", tag);
		err = BW_ERR_NOMEM;
		goto out;
	}
	j->action = a;
	j->site = site;
	j->timeout_ms = site->action_timeout_ms ? site->action_timeout_ms : 10000;
	j->fn = fn;
	j->arg = arg;
	log_debug("%s: running '%s'", tag, cmd);
	if ((err = loop_spawn(l, cmd, env, tag, j->timeout_ms, job_done, j, NULL)) != 0)
		goto out;
	j = NULL;
out:
	free(j);
	free(cmd);
	return err;
}

static int
null_run(struct loop *l, const struct config_site *site, const char *node,
    enum service_action a, ops_done_fn *fn, void *arg)
{
	char *cmd;
	int none;

	if ((unsigned)a >= SERVICE__COUNT)
		return BW_ERR_INVAL;
	cmd = command_for(site, a, &none);
	if (cmd)
		log_info("dry run: site %s: would run %s: %s", site->name,
		    service_action_name(a), cmd);
	free(cmd);
	return later(l, site, a, 0, fn, arg);
}

const struct service_ops service_real = { "real", real_run };
const struct service_ops service_null = { "null", null_run };

/* ---- the fake ---- */

static int fake_result[SERVICE__COUNT];
static char fake_calls[4096];

void
service_fake_reset(void)
{
	memset(fake_result, 0, sizeof(fake_result));
	fake_calls[0] = 0;
}

void
service_fake_set(enum service_action a, int err)
{
	if ((unsigned)a < SERVICE__COUNT)
		fake_result[a] = err;
}

const char *service_fake_calls(void) { return fake_calls; }

static int
fake_run(struct loop *l, const struct config_site *site, const char *node,
    enum service_action a, ops_done_fn *fn, void *arg)
{
	size_t n = strlen(fake_calls);

	if ((unsigned)a >= SERVICE__COUNT)
		return BW_ERR_INVAL;
	snprintf(fake_calls + n, sizeof(fake_calls) - n, "%s:%s\n", site->name,
	    service_action_name(a));
	return later(l, site, a, fake_result[a], fn, arg);
}

const struct service_ops service_fake = { "fake", fake_run };
