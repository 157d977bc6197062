/*
 * corosync.conf, as corosync 3 (knet) reads it.  Choices that are not the
 * operator's:
 *   - token_coefficient 0: the token is what [cluster] token says, however
 *     many nodes there are (failover timings in docs/FAILOVER.md count on
 *     it);
 *   - crypto aes256/sha256 with the shared authkey: cluster traffic is
 *     authenticated and private;
 *   - two_node only when the operator forced it (force_two_node) and there
 *     is no qdevice: with two_node both halves of a cut link stay quorate;
 *   - a qdevice uses model net with ffsplit for an even number of nodes
 *     and lms for an odd one.
 */
#include "config.h"

#include <stdarg.h>
#include <stdio.h>

#include "failover/corosync_conf.h"
#include "lib/util/err.h"
#include "lib/util/log.h"

int
corosync_conf_render(const struct config *cfg, const char *source, struct buf *b)
{
	const struct config_cluster *cl = &cfg->cluster;
	size_t i, j, links = 0;
	int two_node;

	if (cfg->nnodes == 0) {
		log_error("%s: no [node NAME] section; corosync.conf needs every "
		    "cluster node, with its nodeid and address", source ? source :
		    "the configuration");
		return BW_ERR_INVAL;
	}
	for (i = 0; i < cfg->nnodes; i++)
		if (cfg->nodes[i].naddrs > links)
			links = cfg->nodes[i].naddrs;
	two_node = cfg->nnodes == 2 && cl->qdevice == NULL && cl->force_two_node;

	buf_printf(b, "# corosync.conf of the Bulwark cluster %s, made by\n"
	    "# \"bulwark failover corosync-conf\"%s%s.\n", cl->name,
	    source ? " from " : "", source ? source : "");
	buf_printf(b, "# Install it as /etc/corosync/corosync.conf on every node; change\n"
	    "# bulwark.conf and generate it again rather than editing this file.\n\n");

	buf_printf(b, "totem {\n");
	buf_printf(b, "\tversion: 2\n");
	buf_printf(b, "\tcluster_name: %s\n", cl->name);
	buf_printf(b, "\ttransport: knet\n");
	buf_printf(b, "\ttoken: %u\n", cl->token_ms);
	buf_printf(b, "\ttoken_coefficient: 0\n");
	buf_printf(b, "\tcrypto_cipher: aes256\n");
	buf_printf(b, "\tcrypto_hash: sha256\n");
	buf_printf(b, "\tkeyfile: %s\n", cl->authkey);
	for (j = 0; j < links; j++)
		buf_printf(b, "\tinterface {\n\t\tlinknumber: %zu\n\t}\n", j);
	buf_printf(b, "}\n\n");

	buf_printf(b, "nodelist {\n");
	for (i = 0; i < cfg->nnodes; i++) {
		const struct config_node *n = &cfg->nodes[i];

		buf_printf(b, "\tnode {\n");
		buf_printf(b, "\t\tname: %s\n", n->name);
		buf_printf(b, "\t\tnodeid: %u\n", n->nodeid);
		for (j = 0; j < n->naddrs; j++)
			buf_printf(b, "\t\tring%zu_addr: %s\n", j, n->addrs[j]);
		buf_printf(b, "\t}\n");
	}
	buf_printf(b, "}\n\n");

	buf_printf(b, "quorum {\n");
	buf_printf(b, "\tprovider: corosync_votequorum\n");
	if (two_node)
		buf_printf(b, "\t# force_two_node: both halves of a cut link stay "
		    "quorate (split brain)\n\ttwo_node: 1\n");
	if (cl->qdevice) {
		buf_printf(b, "\tdevice {\n");
		buf_printf(b, "\t\tmodel: net\n");
		buf_printf(b, "\t\tvotes: 1\n");
		buf_printf(b, "\t\tnet {\n");
		buf_printf(b, "\t\t\thost: %s\n", cl->qdevice);
		buf_printf(b, "\t\t\talgorithm: %s\n", cfg->nnodes % 2 ? "lms" : "ffsplit");
		buf_printf(b, "\t\t}\n");
		buf_printf(b, "\t}\n");
	}
	buf_printf(b, "}\n\n");

	buf_printf(b, "logging {\n");
	buf_printf(b, "\tto_stderr: yes\n");
	buf_printf(b, "\tto_syslog: yes\n");
	buf_printf(b, "\tto_logfile: no\n");
	buf_printf(b, "\ttimestamp: on\n");
	buf_printf(b, "}\n\n");

	buf_printf(b, "# The key %s authenticates and encrypts all cluster traffic;\n"
	    "# every node needs the same one:\n"
	    "#   1. on one node only: corosync-keygen -k %s\n"
	    "#   2. copy it to every other node over a secure channel (scp or a\n"
	    "#      USB stick, never plain e-mail or HTTP), then on each:\n"
	    "#      install -m 0400 -o root -g root authkey %s\n"
	    "#   3. keep it only there (mode 0400, owned by root); whoever has it\n"
	    "#      can join the cluster and take its sites.\n",
	    cl->authkey, cl->authkey, cl->authkey);
	if (b->err == BW_ERR_INVAL)
		log_error("%s: a value is too long for corosync.conf", source ?
		    source : "the configuration");
	return b->err;
}
