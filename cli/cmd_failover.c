#include "config.h"

#include <stdio.h>
#include <string.h>

#include "cli/cli.h"
#include "failover/corosync_conf.h"
#include "lib/audit/audit.h"
#include "lib/ctl/ctl.h"
#include "lib/util/buf.h"
#include "lib/util/err.h"
#include "lib/util/log.h"

static const char help[] =
    "usage: bulwark failover corosync-conf [-c FILE]\n"
    "       bulwark failover move SITE NODE\n"
    "       bulwark failover standby NODE\n"
    "       bulwark failover online NODE\n"
    "       bulwark failover confirm SITE yes|no\n"
    "       bulwark failover history [--json]\n\n"
    "move           a planned switch: SITE's node gives it up, then NODE takes it\n"
    "               (there is no automatic failback; this is how a site moves back)\n"
    "standby        NODE gives up its sites and takes none until 'online'\n"
    "online         NODE may serve again (also clears its failed takes)\n"
    "confirm        answers a site in confirm mode that waits to move\n"
    "history        the transitions this node's bulwark-failoverd has seen\n"
    "               (also in the audit log and the state directory)\n"
    "These ask this node's bulwark-failoverd through its control socket; it passes\n"
    "the request to every node in agreed order.  'bulwark status' shows the result.\n\n"
    "corosync-conf  prints the corosync.conf of the cluster that the [cluster] and\n"
    "               [node] sections of the configuration describe (default -c FILE\n"
    "               or " SYSCONFDIR "/bulwark/bulwark.conf), then how to distribute\n"
    "               corosync's authkey.  Install the same file on every node as\n"
    "               /etc/corosync/corosync.conf.  A one-line summary goes to stderr.\n\n"
    "exit codes: 0 done, 2 bad configuration, usage, or no [node] sections,\n"
    "  4 configuration file, site or node not found, or bulwark-failoverd not\n"
    "  running, 7 this node cannot reach the cluster, 1 other errors\n";

static int
corosync_conf(struct cli *c)
{
	const struct config *cfg;
	struct buf b = { 0 };
	const char *why = NULL;
	size_t i, links = 0, witnesses = 0;
	int rc, x;

	c->config_given = 1;	/* the file is required, default or not */
	if ((rc = cli_load_config(c)) != 0)
		return rc;
	cfg = c->cfg;
	if ((x = corosync_conf_render(cfg, c->config_path, &b)) != 0) {
		rc = x == BW_ERR_INVAL ? EXIT_USAGE : cli_exit(x);
		goto out;
	}
	if (fwrite(b.data, 1, b.len, stdout) != b.len || fflush(stdout) != 0) {
		log_error("cannot write corosync.conf to standard output");
		rc = EXIT_IO;
		goto out;
	}
	/* Generating is allowed; failoverd refuses to run on it (or warns). */
	if (config_cluster_tiebreak(cfg, &why) || why)
		log_warn("%s: %s", c->config_path, why);
	for (i = 0; i < cfg->nnodes; i++) {
		if (cfg->nodes[i].naddrs > links)
			links = cfg->nodes[i].naddrs;
		witnesses += cfg->nodes[i].witness ? 1 : 0;
	}
	if (!c->quiet)
		fprintf(stderr, "corosync.conf for cluster %s: %zu node%s (%zu "
		    "witness%s), %zu link%s, token %ums, tie-breaker: %s\n",
		    cfg->cluster.name, cfg->nnodes, cfg->nnodes == 1 ? "" : "s",
		    witnesses, witnesses == 1 ? "" : "es", links,
		    links == 1 ? "" : "s", cfg->cluster.token_ms,
		    cfg->cluster.qdevice ? "qdevice" : cfg->nnodes >= 3 ?
		    "third voting node" : cfg->cluster.force_two_node ?
		    "none (two_node forced)" : "none");
	rc = EXIT_OK;
out:
	buf_free(&b);
	return rc;
}

/* The requests that go through failoverd's control socket. */
static int
failover_ctl(struct cli *c, int n, char **a)
{
	static const struct { const char *name; int op, nargs; } reqs[] = {
		{ "move", CTL_OP_MOVE, 2 },
		{ "standby", CTL_OP_STANDBY, 1 },
		{ "online", CTL_OP_ONLINE, 1 },
		{ "confirm", CTL_OP_CONFIRM, 2 },
		{ "history", CTL_OP_HISTORY, 0 },
	};
	struct ctl_resp resp;
	char action[32];
	size_t i;
	int rc;

	for (i = 0; i < sizeof(reqs) / sizeof(reqs[0]); i++)
		if (strcmp(a[0], reqs[i].name) == 0)
			break;
	if (i == sizeof(reqs) / sizeof(reqs[0]) || n - 1 != reqs[i].nargs)
		return cli_usage(stderr, help, EXIT_USAGE);
	if (reqs[i].op == CTL_OP_CONFIRM && strcmp(a[2], "yes") && strcmp(a[2], "no")) {
		log_error("confirm %s: answer yes or no, not '%s'", a[1], a[2]);
		return EXIT_USAGE;
	}
	rc = cli_ctl_call(c, reqs[i].op, a + 1, reqs[i].nargs, &resp);
	if (reqs[i].op == CTL_OP_HISTORY) {
		if (rc == EXIT_OK) {
			fputs(resp.data, stdout);
			ctl_resp_clear(&resp);
		}
		return rc;
	}
	snprintf(action, sizeof(action), "failover-%s", a[0]);
	cli_audit(c, action, a[1], rc == EXIT_OK ? AUDIT_OK : AUDIT_FAIL, "%s%s%s",
	    reqs[i].nargs == 2 ? a[0] : "", reqs[i].nargs == 2 ? " " : "",
	    reqs[i].nargs == 2 ? a[2] : a[0]);
	if (rc != EXIT_OK)
		return rc;
	if (!c->quiet)
		printf("failover %s %s%s%s: %s\n", a[0], a[1], reqs[i].nargs == 2 ? " " : "",
		    reqs[i].nargs == 2 ? a[2] : "", resp.message[0] ? resp.message : resp.data);
	ctl_resp_clear(&resp);
	return EXIT_OK;
}

int
cmd_failover(struct cli *c, int argc, char **argv)
{
	int ch;

	if ((ch = cli_parse_common(c, argc, argv, help)) >= 0)
		return ch;
	if (optind >= argc)
		return cli_usage(stderr, help, EXIT_USAGE);
	if (strcmp(argv[optind], "corosync-conf") == 0 && argc - optind == 1)
		return corosync_conf(c);
	return failover_ctl(c, argc - optind, argv + optind);
}
