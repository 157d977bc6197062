#include "config.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "backupd/retention.h"
#include "cli/cli.h"
#include "lib/util/err.h"
#include "lib/util/log.h"

static const char help[] =
    "usage: bulwark forget [--repo DIR] [--dry-run] [--prune] SNAPSHOT...\n"
    "       bulwark forget [--repo DIR] [--dry-run] [--prune] --keep-last N\n"
    "                      [--keep-hourly N] [--keep-daily N] [--keep-weekly N]\n"
    "                      [--keep-monthly N] [--keep-yearly N] [--keep-within DURATION]\n"
    "                      [--keep-tag TAGS]\n\n"
    "Removes snapshots given by id (prefix) or 'latest', or those a retention\n"
    "policy does not keep (restic's semantics: per backup set, or per host and\n"
    "paths; each --keep-PERIOD keeps the newest snapshot of that many periods,\n"
    "UTC; N may be 'unlimited'; DURATION like 7d, 12h, 2w, 1m, 1y).  Prints\n"
    "which snapshots are kept and why.  Needs an admin key.  Data is freed by\n"
    "'bulwark prune' (or --prune).\n";

static int
parse_count(const char *opt, const char *s, int *out)
{
	char *end;
	long v;

	if (!strcmp(s, "unlimited")) {
		*out = RETENTION_UNLIMITED;
		return 0;
	}
	errno = 0;
	v = strtol(s, &end, 10);
	if (errno || *end || v < 0 || v > 1000000) {
		log_error("--%s %s: expected a whole number such as 7, or 'unlimited'", opt, s);
		return BW_ERR_INVAL;
	}
	*out = (int)v;
	return 0;
}

static int
parse_duration(const char *s, int64_t *ns)
{
	static const struct { char u; int64_t secs; } units[] = {
		{ 'h', 3600 }, { 'd', 86400 }, { 'w', 7 * 86400 }, { 'm', 30 * 86400 },
		{ 'y', 365 * 86400 },
	};
	char *end;
	long v;
	size_t i;

	errno = 0;
	v = strtol(s, &end, 10);
	if (!errno && v > 0 && end[0] && !end[1])
		for (i = 0; i < sizeof(units) / sizeof(units[0]); i++)
			if (end[0] == units[i].u) {
				*ns = (int64_t)v * units[i].secs * 1000000000LL;
				return 0;
			}
	log_error("--keep-within %s: expected a duration such as 12h, 7d, 2w, 6m or 1y", s);
	return BW_ERR_INVAL;
}

static char *
group_key(const struct snap_info *s)
{
	struct buf b = { 0 };
	size_t i;

	if (s->set) {
		buf_put(&b, "set:", 4);
		buf_put(&b, s->set, strlen(s->set) + 1);
	} else {
		buf_put(&b, s->host, strlen(s->host));
		for (i = 0; i < s->npaths; i++) {
			buf_put_u8(&b, ' ');
			buf_put(&b, s->paths[i], strlen(s->paths[i]));
		}
		buf_put_u8(&b, 0);
	}
	return b.err ? NULL : (char *)buf_steal(&b, NULL);
}

int
cmd_forget(struct cli *c, int argc, char **argv)
{
	static const struct option lo[] = {
		CLI_COMMON_LONGOPTS,
		{ "keep-last", required_argument, NULL, 'l' },
		{ "keep-hourly", required_argument, NULL, 'H' },
		{ "keep-daily", required_argument, NULL, 'd' },
		{ "keep-weekly", required_argument, NULL, 'w' },
		{ "keep-monthly", required_argument, NULL, 'm' },
		{ "keep-yearly", required_argument, NULL, 'y' },
		{ "keep-within", required_argument, NULL, 'W' },
		{ "keep-tag", required_argument, NULL, 'T' },
		{ "dry-run", no_argument, NULL, 'n' },
		{ "prune", no_argument, NULL, 'P' },
		{ NULL, 0, NULL, 0 }
	};
	struct retention_policy pol = { 0 };
	struct retention_result res = { 0 };
	struct retention_snap *rs = NULL;
	const char **ktags = NULL;
	struct snap_info *s = NULL;
	struct repo *r = NULL;
	uint8_t (*ids)[32] = NULL;
	char **groups = NULL, *rp = NULL, sid[9], when[32];
	size_t n = 0, bad = 0, nids = 0, i, j, forgotten = 0;
	int ch, rc = EXIT_OK, x = 0, dry = 0, prune = 0, by_policy;

	ktags = calloc((size_t)argc + 1, sizeof(*ktags));
	if (!ktags)
		return EXIT_ERROR;
	while ((ch = getopt_long(argc, argv, CLI_COMMON_SHORTOPTS "n", lo, NULL)) != -1) {
		switch (ch) {
		case 'h': free(ktags); return cli_usage(stdout, help, EXIT_OK);
		case 'l': x = parse_count("keep-last", optarg, &pol.keep_last); break;
		case 'H': x = parse_count("keep-hourly", optarg, &pol.keep_hourly); break;
		case 'd': x = parse_count("keep-daily", optarg, &pol.keep_daily); break;
		case 'w': x = parse_count("keep-weekly", optarg, &pol.keep_weekly); break;
		case 'm': x = parse_count("keep-monthly", optarg, &pol.keep_monthly); break;
		case 'y': x = parse_count("keep-yearly", optarg, &pol.keep_yearly); break;
		case 'W': x = parse_duration(optarg, &pol.keep_within_ns); break;
		case 'T': ktags[pol.nkeep_tags++] = optarg; break;
		case 'n': dry = 1; break;
		case 'P': prune = 1; break;
		default:
			if (!cli_common_opt(c, ch, optarg)) {
				free(ktags);
				return cli_usage(stderr, help, EXIT_USAGE);
			}
		}
		if (x) {
			free(ktags);
			return EXIT_USAGE;
		}
	}
	pol.keep_tags = ktags;
	by_policy = !retention_policy_empty(&pol);
	if (by_policy == (optind < argc)) {
		log_error(by_policy ? "give either snapshot ids or --keep-* options, not both" :
		    "nothing to forget: give snapshot ids or --keep-* options");
		free(ktags);
		return EXIT_USAGE;
	}
	if ((rc = cli_open_repo(c, &r)) != 0) {
		free(ktags);
		return rc;
	}
	rp = strdup(repo_path(r));
	if (!(repo_caps(r) & REPO_CAP_ADMIN)) {
		log_error("repository %s: this key cannot forget snapshots (it needs the admin "
		    "capability); use an admin key", rp);
		cli_audit(c, "forget", rp, "failed", "key lacks the admin capability");
		rc = EXIT_AUTH;
		goto out;
	}
	if (!dry && (x = repo_lock(r, 1)) != 0) {
		rc = cli_exit(x);
		goto out;
	}
	if ((x = repo_snapshots(r, &s, &n, &bad)) != 0)
		goto fail;
	if ((ids = calloc(n + (size_t)argc, 32)) == NULL) {
		x = BW_ERR_NOMEM;
		goto fail;
	}
	if (by_policy) {
		rs = calloc(n ? n : 1, sizeof(*rs));
		groups = calloc(n ? n : 1, sizeof(*groups));
		if (!rs || !groups) {
			x = BW_ERR_NOMEM;
			goto fail;
		}
		for (i = 0; i < n; i++) {
			groups[i] = group_key(&s[i]);
			rs[i] = (struct retention_snap){ s[i].time_ns, i, groups[i],
			    (const char *const *)s[i].tags, s[i].ntags };
		}
		if ((x = retention_apply(&pol, rs, n, &res)) != 0)
			goto fail;
		if (!c->json && !c->quiet)
			printf("%-8s  %-19s  %-6s  %s\n", "ID", "TIME (UTC)", "ACTION", "REASONS");
		for (i = 0; i < res.n; i++) {
			const struct retention_decision *d = &res.d[i];

			if (!d->keep)
				memcpy(ids[nids++], s[d->index].id, 32);
			if (c->json || c->quiet)
				continue;
			cli_id_short(sid, s[d->index].id);
			cli_time_utc(when, sizeof(when), d->time_ns);
			printf("%-8s  %-19s  %-6s  ", sid, when, d->keep ? "keep" : "forget");
			for (j = 0; j < d->nreasons; j++)
				printf("%s%s", j ? ", " : "", d->reasons[j]);
			putchar('\n');
		}
	} else {
		for (i = (size_t)optind; i < (size_t)argc; i++)
			if ((x = repo_snapshot_resolve(r, argv[i], ids[nids++])) != 0)
				goto fail;
	}
	for (i = 0; i < nids && !dry; i++) {
		char hex[65];

		hex_encode(hex, ids[i], 32);
		if ((x = repo_snapshot_forget(r, ids[i])) != 0) {
			cli_audit(c, "forget", rp, "failed", "snapshot %s: %s", hex, bw_strerror(x));
			goto fail;
		}
		forgotten++;
		cli_audit(c, "forget", rp, "ok", "snapshot %s", hex);
	}
	if (c->json)
		printf("{\"forgotten\":%zu,\"would_forget\":%zu,\"dry_run\":%s}\n", forgotten,
		    dry ? nids : 0, dry ? "true" : "false");
	else if (!c->quiet)
		printf(dry ? "would forget %zu snapshot%s (dry run: nothing changed)\n" :
		    "forgot %zu snapshot%s\n", dry ? nids : forgotten, (dry ? nids : forgotten) == 1 ?
		    "" : "s");
	if (!dry)
		repo_unlock(r);
	if (prune && !dry && forgotten) {
		/* the same handle: the passphrase is not asked again */
		rc = cli_prune(c, r);
		goto out;
	}
	rc = EXIT_OK;
	goto out;
fail:
	if (!dry)
		repo_unlock(r);
	rc = cli_exit(x);
out:
	retention_result_free(&res);
	for (i = 0; groups && i < n; i++)
		free(groups[i]);
	free(groups);
	free(rs);
	free(ids);
	snap_list_free(s, n);
	repo_free(r);
	free(rp);
	free(ktags);
	return rc;
}
