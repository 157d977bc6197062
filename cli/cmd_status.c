#include "config.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli/cli.h"
#include "lib/ctl/ctl.h"
#include "lib/util/err.h"
#include "lib/util/log.h"

#define FAILOVERD_SOCKET_DEFAULT "/run/bulwark/failoverd.sock"

static const char help[] =
    "usage: bulwark status [--json] [-c FILE]\n\n"
    "Asks this node's bulwark-failoverd how the cluster stands: each node and its\n"
    "state (online, standby, offline), quorum, each site's serving node, health as\n"
    "each node sees it, data age, and since when and why the site is where it is.\n"
    "--json prints the same as one JSON object.  The daemon's control socket is\n"
    "[cluster] socket (default " FAILOVERD_SOCKET_DEFAULT ").\n\n"
    "exit codes: 0 ok, 1 error, 2 usage or configuration error,\n"
    "  4 bulwark-failoverd is not running on this node, 5 not root\n";

int
cli_ctl_call(struct cli *c, int op, char *const *args, int nargs, struct ctl_resp *resp)
{
	struct ctl_req r = { 0 };
	const char *path = FAILOVERD_SOCKET_DEFAULT;
	int i, rc;

	if ((rc = cli_load_config(c)) != 0)
		return rc;
	if (c->cfg && c->cfg->has_cluster && c->cfg->cluster.socket)
		path = c->cfg->cluster.socket;
	r.op = (uint8_t)op;
	r.flags = c->json ? CTL_F_JSON : 0;
	r.nargs = (uint8_t)nargs;
	for (i = 0; i < nargs && i < CTL_ARGS_MAX; i++)
		r.args[i] = args[i];
	rc = ctl_call(path, &r, CTL_TIMEOUT_MS, resp);
	if (rc == BW_ERR_NOENT) {
		log_error("bulwark-failoverd is not running on this node (no socket at %s); "
		    "start it with systemctl start bulwark-failoverd", path);
		return EXIT_NOTFOUND;
	}
	if (rc != 0)
		return cli_exit(rc);
	if (resp->code != 0) {
		log_error("%s", resp->message[0] ? resp->message : bw_strerror(resp->code));
		rc = cli_exit(resp->code);
		ctl_resp_clear(resp);
		return rc == EXIT_OK ? EXIT_ERROR : rc;
	}
	return EXIT_OK;
}

int
cmd_status(struct cli *c, int argc, char **argv)
{
	struct ctl_resp resp;
	int rc;

	if ((rc = cli_parse_common(c, argc, argv, help)) >= 0)
		return rc;
	if (optind != argc)
		return cli_usage(stderr, help, EXIT_USAGE);
	if ((rc = cli_ctl_call(c, CTL_OP_STATUS, NULL, 0, &resp)) != EXIT_OK)
		return rc;
	/* The daemon renders both forms; the text ends with its one-line summary. */
	fputs(resp.data, stdout);
	ctl_resp_clear(&resp);
	return EXIT_OK;
}
