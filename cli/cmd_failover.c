#include "config.h"

#include <stdio.h>
#include <string.h>

#include "cli/cli.h"
#include "failover/corosync_conf.h"
#include "lib/util/buf.h"
#include "lib/util/err.h"
#include "lib/util/log.h"

static const char help[] =
    "usage: bulwark failover corosync-conf [-c FILE]\n\n"
    "corosync-conf  prints the corosync.conf of the cluster that the [cluster] and\n"
    "               [node] sections of the configuration describe (default -c FILE\n"
    "               or " SYSCONFDIR "/bulwark/bulwark.conf), then how to distribute\n"
    "               corosync's authkey.  Install the same file on every node as\n"
    "               /etc/corosync/corosync.conf.  A one-line summary goes to stderr.\n\n"
    "exit codes: 0 printed, 2 bad configuration or no [node] sections,\n"
    "  4 configuration file not found, 1 other errors\n";

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
	return cli_usage(stderr, help, EXIT_USAGE);
}
