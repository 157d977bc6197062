/*
 * libFuzzer harness for the bulwark.conf parser (config_load_mem).
 * Beyond memory safety it checks the promises of config/config.h: a refused
 * file logs at least one message, each naming "FILE:LINE:"; an accepted one
 * logs none and holds only valid values.
 */
#include "config.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "config/config.h"
#include "lib/util/err.h"
#include "lib/util/log.h"

#define NAME "fuzz.conf"

static unsigned long messages;

static void
sink(enum log_level lvl, const char *msg, void *arg)
{
	const char *p = msg + strlen(NAME ":");

	(void)lvl;
	(void)arg;
	messages++;
	if (strncmp(msg, NAME ":", strlen(NAME ":")) != 0 || *p < '1' || *p > '9')
		abort();
	while (*p >= '0' && *p <= '9')
		p++;
	if (strncmp(p, ": ", 2) != 0)
		abort();
}

static void
check_path(const char *s)
{
	if (s && s[0] != '/')
		abort();
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct config_schedule sched;
	struct config *c = NULL;
	size_t i, j;
	int r;

	log_set_sink(sink, NULL);
	messages = 0;
	r = config_load_mem(NAME, (const char *)data, size, &c);
	if (r != 0) {
		if (r != BW_ERR_INVAL || c != NULL || messages == 0)
			abort();
		return 0;
	}
	if (messages != 0 || c == NULL)
		abort();
	check_path(c->repo.path);
	check_path(c->repo.passphrase_file);
	check_path(c->repo.cache_dir);
	check_path(c->audit.dir);
	if (c->has_repo && c->repo.path == NULL)
		abort();
	/* 0: unset, the repository's own level */
	if (c->repo.compression_level < 0 || c->repo.compression_level > 19 ||
	    c->repo.pack_size_mib < 1 || c->repo.pack_size_mib > 256)
		abort();
	for (i = 0; i < c->nbackups; i++) {
		const struct config_backup *b = &c->backups[i];

		if (b->npaths == 0 || config_backup_find(c, b->name) != b)
			abort();
		for (j = 0; j < b->npaths; j++)
			check_path(b->paths[j]);
		for (j = 0; j < b->nexcludes; j++)
			if (b->excludes[j][0] == '\0')
				abort();
		/* The canonical spelling parses to the same schedule. */
		if (b->schedule && (config_schedule_parse(b->schedule, &sched,
		    NULL) != 0 || memcmp(&sched, &b->sched, sizeof(sched)) != 0))
			abort();
	}
	/* Cluster: ids unique and in range, addresses literal and unique,
	 * sites refer only to nodes and backup sets that exist. */
	for (i = 0; i < c->nnodes; i++) {
		const struct config_node *n = &c->nodes[i];

		if (n->nodeid < 1 || n->nodeid > 65535 || n->naddrs < 1 ||
		    n->naddrs > CONFIG_NODE_MAX_ADDRS ||
		    config_node_by_id(c, n->nodeid) != n ||
		    config_node_find(c, n->name) != n)
			abort();
		for (j = 0; j < n->naddrs; j++)
			if (strchr(n->addrs[j], ' ') || strchr(n->addrs[j], '/'))
				abort();
	}
	if (c->cluster.token_ms < 200 || c->cluster.token_ms > 60000)
		abort();
	if (c->nsites && c->nnodes == 0)
		abort();
	for (i = 0; i < c->nsites; i++) {
		const struct config_site *s = &c->sites[i];

		if (config_site_find(c, s->name) != s)
			abort();
		if (!s->address != !s->interface || (s->unit && (s->start ||
		    s->stop || s->status)) || !s->start != !s->stop)
			abort();
		if (s->address && !strchr(s->address, '/'))
			abort();
		if (s->rise < 1 || s->fall < 1 || s->mode > CONFIG_SITE_MANUAL)
			abort();
		for (j = 0; j < s->nprios; j++) {
			const struct config_node *n = config_node_find(c,
			    s->prios[j].node);

			if (n == NULL || n->witness || s->prios[j].priority < 0 ||
			    s->prios[j].priority > CONFIG_PRIO_MAX)
				abort();
		}
		if (s->backup_set && !config_backup_find(c, s->backup_set))
			abort();
		for (j = 0; j < s->nchecks; j++) {
			const struct config_check *k = &s->checks[j];

			if ((k->kind == CONFIG_CHECK_HTTP && (k->url == NULL ||
			    k->expect_status < 100 || k->expect_status > 599)) ||
			    (k->kind == CONFIG_CHECK_TCP && (k->host == NULL ||
			    k->port == 0)) ||
			    (k->kind == CONFIG_CHECK_COMMAND && (k->command == NULL ||
			    k->command[0] == '\0')))
				abort();
		}
	}
	{
		const char *why;

		if (config_cluster_tiebreak(c, &why) && (c->nnodes != 2 || !why))
			abort();
	}
	config_free(c);
	return 0;
}
