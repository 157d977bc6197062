/*
 * bulwark-failoverd: parse arguments, load and check the configuration,
 * start the daemon's modules in order, run the loop.  Nothing more: the
 * work is in failover/daemon.c.
 */
#include "config.h"

#include <getopt.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "config/config.h"
#include "failover/cluster.h"
#include "failover/daemon.h"
#include "failover/loop.h"
#include "failover/ops.h"
#include "lib/crypto/bwcrypto.h"
#include "lib/util/err.h"
#include "lib/util/log.h"

static const char usage[] =
    "usage: bulwark-failoverd [-c FILE] [--node NAME] [--check-config] [--foreground]\n"
    "                         [--dry-run] [--force-two-node] [-v]\n\n"
    "Joins the corosync group 'bulwark', follows quorum, places each [site] on\n"
    "one node and takes or gives up this node's sites.\n\n"
    "  -c, --config FILE   configuration (default " CONFIG_DEFAULT_PATH ")\n"
    "  --node NAME         this node's [node] name (default: from corosync's node id)\n"
    "  --check-config      load and check the configuration, then exit (0: good)\n"
    "  --foreground        log to stderr, each line prefixed with the node's name\n"
    "  --dry-run           log what would be done to services and addresses, do nothing\n"
    "  --force-two-node    run a two-node cluster without a tie-breaker (split brain\n"
    "                      is then possible; see docs/FAILOVER.md)\n"
    "  -v, --verbose       debug messages\n\n"
    "Signals: SIGHUP reloads the configuration (the old one stays on error);\n"
    "SIGTERM gives up every site, leaves the group and exits 0.\n"
    "Exit codes: 0 ok, 1 error, 2 bad command line or configuration.\n";

enum { OPT_NODE = 1000, OPT_CHECK, OPT_FG, OPT_DRY, OPT_FORCE };

struct ctx {
	const char *config_path;
	const char *node;
	int force_two_node;
	struct daemon *d;
};

static char prefix[96];

/* BULWARK_LOG_TIMES=1: each line starts with CLOCK_MONOTONIC in ms, the
 * clock the test harness's probe marks faults and answers on, so that a
 * takeover can be split into its steps (detection, grace, start, probe,
 * add, announce).  systemd's journal stamps lines itself. */
static void
timed_sink(enum log_level lvl, const char *msg, void *arg)
{
	static const char *const tag[] = { "error: ", "warning: ", "", "debug: " };
	struct timespec ts;

	(void)arg;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	fprintf(stderr, "%lld %s: %s%s\n", (long long)ts.tv_sec * 1000 + ts.tv_nsec / 1000000,
	    prefix[0] ? prefix : "bulwark-failoverd", tag[lvl <= LOG_LVL_DEBUG ? lvl : LOG_LVL_DEBUG],
	    msg);
}

/* A two-node cluster needs a tie-breaker: with two_node both halves of a
 * partition stay quorate and both would serve.  0 or BW_ERR_INVAL, logged. */
static int
check_tiebreak(const struct config *c, int force)
{
	const char *why = NULL;

	if (config_cluster_tiebreak(c, &why) && !force) {
		log_error("%s: %s", c->file, why);
		return BW_ERR_INVAL;
	}
	if (why || force)
		log_warn("%s: %s", c->file, why ? why : "two nodes forced with --force-two-node: "
		    "a partition can make both serve the same site");
	return 0;
}

static int
load(struct ctx *x, struct config **out)
{
	struct config *c = NULL;
	int rc;

	if ((rc = config_load(x->config_path, &c)) != 0)
		return rc;
	if (!c->has_cluster || c->nnodes == 0) {
		log_error("%s: no [cluster] section or no [node NAME] sections; failoverd needs "
		    "both (see bulwark.conf(5))", c->file);
		config_free(c);
		return BW_ERR_INVAL;
	}
	if ((rc = check_tiebreak(c, x->force_two_node)) != 0) {
		config_free(c);
		return rc;
	}
	*out = c;
	return 0;
}

static void
on_term(struct loop *l, int sig, void *arg)
{
	struct ctx *x = arg;

	(void)l;
	log_info("signal %d: stopping", sig);
	daemon_shutdown(x->d);
}

static void
on_hup(struct loop *l, int sig, void *arg)
{
	struct ctx *x = arg;
	struct config *c;

	(void)l;
	(void)sig;
	log_info("SIGHUP: reloading %s", x->config_path);
	if (load(x, &c) != 0) {
		log_error("reload: %s has errors (above); the running configuration is kept",
		    x->config_path);
		return;
	}
	daemon_reload(x->d, c);
}

int
main(int argc, char **argv)
{
	static const struct option lo[] = {
		{ "config", required_argument, NULL, 'c' },
		{ "node", required_argument, NULL, OPT_NODE },
		{ "check-config", no_argument, NULL, OPT_CHECK },
		{ "foreground", no_argument, NULL, OPT_FG },
		{ "dry-run", no_argument, NULL, OPT_DRY },
		{ "force-two-node", no_argument, NULL, OPT_FORCE },
		{ "verbose", no_argument, NULL, 'v' },
		{ "help", no_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 }
	};
	struct ctx x = { .config_path = CONFIG_DEFAULT_PATH };
	struct daemon_opts o = { 0 };
	struct config *cfg = NULL;
	struct loop *l = NULL;
	int ch, check = 0, dry = 0, rc = 1;

	log_set_prog("bulwark-failoverd");
	while ((ch = getopt_long(argc, argv, "c:vh", lo, NULL)) != -1) {
		switch (ch) {
		case 'c': x.config_path = optarg; break;
		case OPT_NODE: x.node = optarg; break;
		case OPT_CHECK: check = 1; break;
		case OPT_FG: break;	/* always in the foreground; systemd supervises */
		case OPT_DRY: dry = 1; break;
		case OPT_FORCE: x.force_two_node = 1; break;
		case 'v': log_set_level(LOG_LVL_DEBUG); break;
		case 'h': fputs(usage, stdout); return 0;
		default: fputs(usage, stderr); return 2;
		}
	}
	if (optind != argc) {
		fputs(usage, stderr);
		return 2;
	}
	if (x.node) {
		/* Several nodes log to one terminal in tests: say whose line it is. */
		snprintf(prefix, sizeof(prefix), "bulwark-failoverd[%s]", x.node);
		log_set_prog(prefix);
	}
	if (getenv("BULWARK_LOG_TIMES") && strcmp(getenv("BULWARK_LOG_TIMES"), "1") == 0)
		log_set_sink(timed_sink, NULL);
	if (bwcrypto_init() != 0)
		return 1;
	if (load(&x, &cfg) != 0)
		return 2;
	if (check) {
		printf("%s: configuration is valid (%zu node(s), %zu site(s))\n", cfg->file,
		    cfg->nnodes, cfg->nsites);
		config_free(cfg);
		return 0;
	}
	signal(SIGPIPE, SIG_IGN);
	o.node = x.node;
	o.ops = dry ? &site_ops_null : &site_ops_real;
	if ((l = loop_new()) == NULL) {
		config_free(cfg);
		return 1;
	}
	if ((x.d = daemon_new(l, cfg, &o)) == NULL) {
		config_free(cfg);
		goto out;
	}
	if (loop_signal(l, SIGTERM, on_term, &x) != 0 || loop_signal(l, SIGINT, on_term, &x) != 0 ||
	    loop_signal(l, SIGHUP, on_hup, &x) != 0)
		goto out;
	if (daemon_start(x.d) != 0)
		goto out;
	log_info("started%s; configuration %s", dry ? " (dry run: nothing is changed)" : "",
	    x.config_path);
	if (loop_run(l) != 0)
		goto out;
	log_info("stopped");
	rc = 0;
out:
	daemon_free(x.d);
	loop_free(l);
	return rc;
}
