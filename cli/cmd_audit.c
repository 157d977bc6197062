#include "config.h"

#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "cli/cli.h"
#include "lib/audit/audit.h"
#include "lib/util/err.h"
#include "lib/util/log.h"

static const char help[] =
    "usage: bulwark audit show [--json]\n"
    "       bulwark audit verify\n\n"
    "The audit log records every init, backup, check, forget, prune and key\n"
    "change (UTC time, user, host, action, object, outcome).  It is hash-chained\n"
    "and signed at checkpoints: 'verify' finds any edited, removed, reordered or\n"
    "truncated record and names it.  Location: BULWARK_AUDIT_DIR, [audit] dir,\n"
    "or " LOCALSTATEDIR "/lib/bulwark/audit.\n";

static int
show_one(const struct audit_record *r, void *arg)
{
	struct cli *c = arg;

	if (c->json) {
		printf("%s{", r->seq > 1 ? ",\n" : "");
		json_kv_u64(stdout, "seq", r->seq, 0);
		json_kv_str(stdout, "time", r->time, 1);
		json_kv_str(stdout, "user", r->user, 1);
		json_kv_str(stdout, "host", r->host, 1);
		json_kv_str(stdout, "action", r->action, 1);
		json_kv_str(stdout, "object", r->object, 1);
		json_kv_str(stdout, "outcome", r->outcome, 1);
		json_kv_str(stdout, "detail", r->detail, 1);
		printf("}");
	} else {
		printf("%6llu  %s  %s@%s  %s  %s  %s%s%s\n", (unsigned long long)r->seq, r->time,
		    r->user, r->host, r->action, r->object, r->outcome,
		    r->detail && *r->detail ? "  " : "", r->detail ? r->detail : "");
	}
	return 0;
}

int
cmd_audit(struct cli *c, int argc, char **argv)
{
	const char *sub;
	char *dir = NULL;
	struct audit *a = NULL;
	uint64_t n = 0;
	int ch, x;

	if ((ch = cli_parse_common(c, argc, argv, help)) >= 0)
		return ch;
	if (optind + 1 != argc)
		return cli_usage(stderr, help, EXIT_USAGE);
	sub = argv[optind];
	if (strcmp(sub, "show") && strcmp(sub, "verify"))
		return cli_usage(stderr, help, EXIT_USAGE);
	if ((dir = cli_audit_dir(c)) == NULL || access(dir, F_OK) != 0) {
		log_error("no audit log at %s (nothing recorded yet, or set BULWARK_AUDIT_DIR)",
		    dir ? dir : "(unknown)");
		free(dir);
		return EXIT_NOTFOUND;
	}
	if ((x = audit_open(dir, &a)) != 0) {
		free(dir);
		return cli_exit(x);
	}
	if (!strcmp(sub, "show")) {
		if (c->json)
			printf("[");
		x = audit_each(a, show_one, c);
		if (c->json)
			printf("]\n");
	} else {
		x = audit_verify(a, stderr, &n);
		if (x == 0 && !c->quiet)
			printf("audit log %s: %llu records, chain and signatures intact\n", dir,
			    (unsigned long long)n);
		else if (x == BW_ERR_CORRUPT)
			fprintf(stderr, "bulwark: audit log %s has been tampered with or damaged "
			    "(see above)\n", dir);
	}
	audit_free(a);
	free(dir);
	return cli_exit(x);
}
