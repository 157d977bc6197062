#include "config.h"

#include <stdlib.h>
#include <string.h>

#include "cli/cli.h"
#include "lib/repo/snapsel.h"
#include "lib/util/err.h"

static const char help[] =
    "usage: bulwark snapshots [--repo DIR] [--set NAME] [--tag TAG] [--json]\n\n"
    "Lists the snapshots, oldest first: id, time (UTC), host, backup set and\n"
    "tags, paths, files and size; --set and --tag list only those of one backup\n"
    "set or carrying one tag.  Works with any key, including a write-only\n"
    "one.  A snapshot whose signature does not verify is reported, not listed.\n"
    "With --json, \"errors\" lists the files a partial snapshot could not read\n"
    "(null when the key cannot read snapshot contents, as a write-only key).\n";

/* The unreadable files recorded in a partial snapshot, as a JSON array;
 * null when this key cannot read the snapshot's body. */
static void
json_errors(struct repo *r, const struct snap_info *s)
{
	struct snap_info full;
	size_t i;

	if (s->nerrors == 0) {
		printf("[]");
		return;
	}
	memset(&full, 0, sizeof(full));
	if (!(repo_caps(r) & REPO_CAP_READ) || repo_snapshot_load(r, s->id, &full) != 0) {
		printf("null");
		snap_info_clear(&full);
		return;
	}
	putchar('[');
	for (i = 0; i < full.nerrors_list; i++) {
		if (i)
			putchar(',');
		json_str(stdout, full.errors[i]);
	}
	putchar(']');
	snap_info_clear(&full);
}

int
cmd_snapshots(struct cli *c, int argc, char **argv)
{
	struct snap_info *s = NULL;
	struct repo *r = NULL;
	size_t n = 0, bad = 0, i, j;
	char when[32], id[65], size[32];
	const char *set = NULL, *tag = NULL;
	size_t shown = 0;
	int ch, rc;

	if ((ch = cli_parse_snapsel(c, argc, argv, help, &set, &tag)) >= 0)
		return ch;
	if (optind != argc)
		return cli_usage(stderr, help, EXIT_USAGE);
	if ((rc = cli_open_repo(c, &r)) != 0)
		return rc;
	if ((rc = repo_snapshots(r, &s, &n, &bad)) != 0) {
		repo_free(r);
		return cli_exit(rc);
	}
	if (c->json) {
		printf("[");
		for (i = 0; i < n; i++) {
			if (!snapsel_filter(&s[i], set, tag))
				continue;
			hex_encode(id, s[i].id, 32);
			cli_time_utc(when, sizeof(when), s[i].time_ns);
			printf("%s{", shown++ ? "," : "");
			json_kv_str(stdout, "id", id, 0);
			json_kv_str(stdout, "time", when, 1);
			printf(",\"time_ns\":%lld", (long long)s[i].time_ns);
			json_kv_str(stdout, "host", s[i].host, 1);
			json_kv_str(stdout, "user", s[i].user, 1);
			json_kv_str(stdout, "set", s[i].set, 1);
			printf(",\"paths\":[");
			for (j = 0; j < s[i].npaths; j++) {
				if (j)
					putchar(',');
				json_str(stdout, s[i].paths[j]);
			}
			printf("],\"tags\":[");
			for (j = 0; j < s[i].ntags; j++) {
				if (j)
					putchar(',');
				json_str(stdout, s[i].tags[j]);
			}
			printf("]");
			json_kv_u64(stdout, "files", s[i].files, 1);
			json_kv_u64(stdout, "dirs", s[i].dirs, 1);
			json_kv_u64(stdout, "bytes", s[i].bytes, 1);
			json_kv_u64(stdout, "bytes_added", s[i].bytes_added, 1);
			json_kv_u64(stdout, "unreadable", s[i].nerrors, 1);
			printf(",\"partial\":%s,\"errors\":", s[i].nerrors ? "true" : "false");
			json_errors(r, &s[i]);
			putchar('}');
		}
		printf("]\n");
	} else {
		printf("%-8s  %-19s  %-16s  %-16s  %8s  %10s  %s\n", "ID", "TIME (UTC)", "HOST",
		    "SET/TAGS", "FILES", "SIZE", "PATHS");
		for (i = 0; i < n; i++) {
			char tags[64] = "";

			if (!snapsel_filter(&s[i], set, tag))
				continue;
			shown++;
			cli_id_short(id, s[i].id);
			cli_time_utc(when, sizeof(when), s[i].time_ns);
			cli_human_bytes(size, sizeof(size), s[i].bytes);
			if (s[i].set)
				snprintf(tags, sizeof(tags), "%s", s[i].set);
			for (j = 0; j < s[i].ntags; j++)
				snprintf(tags + strlen(tags), sizeof(tags) - strlen(tags), "%s%s",
				    *tags ? "," : "", s[i].tags[j]);
			printf("%-8s  %-19s  %-16.16s  %-16.16s  %8llu  %10s  ", id, when, s[i].host,
			    tags, (unsigned long long)s[i].files, size);
			for (j = 0; j < s[i].npaths; j++)
				printf("%s%s", j ? " " : "", s[i].paths[j]);
			printf("%s\n", s[i].nerrors ? "  (partial)" : "");
		}
		if (!c->quiet)
			printf("%zu snapshot%s\n", shown, shown == 1 ? "" : "s");
	}
	snap_list_free(s, n);
	repo_free(r);
	if (bad) {
		fprintf(stderr, "bulwark: %zu snapshot%s failed verification; run "
		    "'bulwark check'\n", bad, bad == 1 ? "" : "s");
		return EXIT_DAMAGED;
	}
	return EXIT_OK;
}
