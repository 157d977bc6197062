#include "config.h"

#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "cli/cli.h"
#include "cli/wiz.h"
#include "lib/repo/tree.h"
#include "lib/util/err.h"
#include "lib/util/log.h"
#include "restore/restore.h"

static const char help[] =
    "usage: bulwark restore [--repo DIR] SNAPSHOT[:PATH] --target DIR [options]\n"
    "       bulwark restore [--repo DIR] SNAPSHOT[:PATH] --to-archive FILE [options]\n"
    "       bulwark restore [--repo DIR]    (on a terminal: the guided restore wizard)\n\n"
    "Restores a snapshot (\"latest\", an id prefix, or a time: the newest at or\n"
    "before it), or one PATH of it, into a directory or an archive file (.tar,\n"
    ".tar.zst, .zip).  Without PATH every\n"
    "backed-up path is recreated under DIR with its full path; with PATH its\n"
    "contents land directly in DIR (latest:/srv/www --target /tmp/www gives\n"
    "/tmp/www/index.html; a single file lands as DIR/NAME).  --target /\n"
    "restores in place.  Every file is written under a temporary name,\n"
    "verified against the snapshot and only then renamed into place; running\n"
    "the same command again after an interruption skips what is already there.\n\n"
    "  -t, --target DIR        restore into DIR (created if missing)\n"
    "  -a, --to-archive FILE   write an archive instead (must not exist)\n"
    "  -i, --include PATTERN   only matching paths (glob; repeatable); a matching\n"
    "                          directory brings everything below it\n"
    "  -e, --exclude PATTERN   skip matching paths (glob; repeatable)\n"
    "                          (patterns with a '/' match the whole snapshot\n"
    "                          path, others the name)\n"
    "      --overwrite MODE    existing files: never (default: kept and listed),\n"
    "                          if-changed (replaced unless identical), always\n"
    "  -n, --dry-run           list what would happen, with totals; write nothing\n"
    "      --verify            read every restored file back and compare again\n"
    "      --numeric-owner     set owners by id only, ignoring names\n"
    "      --set NAME          pick the snapshot among this backup set's\n"
    "      --tag TAG           pick the snapshot among those with this tag\n"
    "      --threads N         decode threads (default 2)\n"
    "      --json              statistics and items as JSON\n\n"
    "Exit codes: 0 restored; 2 usage; 4 snapshot or path not found; 5 the key\n"
    "cannot read (wrong passphrase or a write-only key); 6 some files were\n"
    "damaged in the repository or refused as unsafe (the rest was restored;\n"
    "run 'bulwark check --read-data'); 7 I/O error or disk full; 8 repository\n"
    "locked; 130 interrupted (run the same command again to finish).\n";

static volatile sig_atomic_t stop_flag;

static void
on_signal(int sig)
{
	(void)sig;
	stop_flag = 1;
}

/* Items kept for --json. */
struct jitem {
	char *path, *dest, *reason;
	enum restore_what what;
	int kind;
	uint64_t size;
};

struct run {
	struct cli *c;
	int dry_run;
	struct jitem *items;
	size_t nitems, cap;
	int progress_shown;
	struct timespec last;
	int nomem;
};

static const char *
what_name(enum restore_what w)
{
	switch (w) {
	case RESTORE_NEW: return "new";
	case RESTORE_REPLACED: return "replaced";
	case RESTORE_SKIPPED_EXISTS: return "skipped";
	case RESTORE_UNCHANGED: return "unchanged";
	case RESTORE_REFUSED: return "refused";
	case RESTORE_DAMAGED: return "damaged";
	case RESTORE_FAILED: return "failed";
	}
	return "?";
}

static const char *
kind_name(int k)
{
	static const char *const n[] = { "?", "file", "dir", "symlink", "hardlink", "chr",
		"blk", "fifo", "socket" };

	return k >= 0 && k <= TREE_SOCK ? n[k] : "?";
}

/* Names come from the repository: control bytes (C0, DEL, C1 in UTF-8)
 * are shown as \xNN so a name can neither start a new line of output nor
 * drive the terminal; one routine with the wizard's (cli/wiz.h). */
static void
put_quoted(FILE *f, const char *s)
{
	wiz_put_quoted(f, s);
}

static void
clear_progress(struct run *u)
{
	if (u->progress_shown) {
		fputs("\r\033[K", stderr);
		u->progress_shown = 0;
	}
}

static void
on_item(const struct restore_item *it, void *arg)
{
	struct run *u = arg;
	struct jitem *j;

	if (u->c->json) {
		if (u->nitems == u->cap) {
			size_t cap = u->cap ? 2 * u->cap : 64;

			if ((j = realloc(u->items, cap * sizeof(*j))) == NULL) {
				u->nomem = 1;
				return;
			}
			u->items = j;
			u->cap = cap;
		}
		j = &u->items[u->nitems++];
		j->path = strdup(it->path);
		j->dest = strdup(it->dest ? it->dest : "");
		j->reason = it->reason ? strdup(it->reason) : NULL;
		j->what = it->what;
		j->kind = it->kind;
		j->size = it->size;
		return;
	}
	/* a run lists what did not simply get restored; -v adds the rest */
	if (!u->dry_run && !u->c->verbose &&
	    (it->what == RESTORE_UNCHANGED || it->what == RESTORE_REPLACED))
		return;
	if (u->c->quiet && it->what != RESTORE_DAMAGED && it->what != RESTORE_REFUSED &&
	    it->what != RESTORE_FAILED)
		return;
	clear_progress(u);
	printf("%-9s ", what_name(it->what));
	put_quoted(stdout, it->path);
	if (it->reason && it->what != RESTORE_NEW) {
		fputs(": ", stdout);
		put_quoted(stdout, it->reason);
	}
	putchar('\n');
}

static double
secs_since(const struct timespec *t0)
{
	struct timespec t;

	clock_gettime(CLOCK_MONOTONIC, &t);
	return (double)(t.tv_sec - t0->tv_sec) + (t.tv_nsec - t0->tv_nsec) / 1e9;
}

static void
on_progress(const struct restore_progress *p, void *arg)
{
	struct run *u = arg;
	char done[32], total[32], eta[32] = "";
	double secs = p->elapsed_ns / 1e9, rate;

	if (!u->c->tty || u->c->quiet || u->c->json)
		return;
	/* called after every entry: draw a few times a second */
	if (u->last.tv_sec && secs_since(&u->last) < 0.25)
		return;
	clock_gettime(CLOCK_MONOTONIC, &u->last);
	cli_human_bytes(done, sizeof(done), p->bytes_done);
	cli_human_bytes(total, sizeof(total), p->bytes_total);
	rate = secs > 0 ? p->bytes_done / secs / 1048576.0 : 0;
	if (p->bytes_done > 0 && p->bytes_total > p->bytes_done && secs > 1) {
		double left = secs * (double)(p->bytes_total - p->bytes_done) / (double)p->bytes_done;

		snprintf(eta, sizeof(eta), ", ETA %dm%02ds", (int)left / 60, (int)left % 60);
	}
	fprintf(stderr, "\r\033[K%llu/%llu files, %s of %s (%.1f MiB/s)%s",
	    (unsigned long long)p->files_done, (unsigned long long)p->files_total, done, total,
	    rate, eta);
	u->progress_shown = 1;
}

static void
json_stats(const struct restore_stats *st, int rc, const char *outcome)
{
	printf("\"outcome\":");
	json_str(stdout, outcome);
	printf(",\"error\":");
	if (rc)
		json_str(stdout, bw_strerror(rc));
	else
		printf("null");
	json_kv_u64(stdout, "files", st->files, 1);
	json_kv_u64(stdout, "dirs", st->dirs, 1);
	json_kv_u64(stdout, "links", st->links, 1);
	json_kv_u64(stdout, "specials", st->specials, 1);
	json_kv_u64(stdout, "bytes", st->bytes, 1);
	json_kv_u64(stdout, "replaced", st->replaced, 1);
	json_kv_u64(stdout, "skipped", st->skipped, 1);
	json_kv_u64(stdout, "unchanged", st->unchanged, 1);
	json_kv_u64(stdout, "refused", st->refused, 1);
	json_kv_u64(stdout, "damaged", st->damaged, 1);
	json_kv_u64(stdout, "failed", st->failed, 1);
	json_kv_u64(stdout, "verified", st->verified, 1);
	json_kv_u64(stdout, "verify_failed", st->verify_failed, 1);
	printf(",\"seconds\":%.3f", st->elapsed_ns / 1e9);
}

static int
exit_code(int rc, const struct restore_stats *st)
{
	switch (rc) {
	case 0: return EXIT_OK;
	case BW_ERR_CORRUPT: return EXIT_DAMAGED;
	case BW_ERR_INVAL: return st->refused ? EXIT_DAMAGED : EXIT_USAGE;
	case BW_ERR_NOENT: return EXIT_NOTFOUND;
	case BW_ERR_AUTH: case BW_ERR_PERM: return EXIT_AUTH;
	case BW_ERR_IO: case BW_ERR_NOSPC: case BW_ERR_EXIST: return EXIT_IO;
	case BW_ERR_INTR: return EXIT_INTERRUPTED;
	}
	return cli_exit(rc);
}

int
cli_restore_exec(struct cli *c, struct repo *r, const struct restore_opts *opts,
    const char *cmdline_summary)
{
	struct restore_opts o = *opts;
	struct restore_stats st;
	struct sigaction sa, old_int, old_term;
	struct run u;
	char id[65], bytes[32], where[64];
	const char *outcome;
	size_t i;
	int rc, code, started;

	memset(&u, 0, sizeof(u));
	memset(&st, 0, sizeof(st));
	u.c = c;
	u.dry_run = o.dry_run;
	o.item = on_item;
	o.item_arg = &u;
	o.progress = c->tty && !c->quiet && !c->json && !o.dry_run ? on_progress : NULL;
	o.progress_arg = &u;
	stop_flag = 0;
	o.stop = &stop_flag;
	memset(&sa, 0, sizeof(sa));
	sa.sa_handler = on_signal;
	sa.sa_flags = SA_RESTART;	/* the engine polls the flag; reads go on */
	sigaction(SIGINT, &sa, &old_int);
	sigaction(SIGTERM, &sa, &old_term);

	rc = o.dry_run ? restore_plan(r, &o, &st) : restore_run(r, &o, &st);

	sigaction(SIGINT, &old_int, NULL);
	sigaction(SIGTERM, &old_term, NULL);
	clear_progress(&u);
	code = exit_code(rc, &st);
	if (rc == 0)
		outcome = o.dry_run ? "planned" : "ok";
	else if (rc == BW_ERR_CORRUPT || (rc == BW_ERR_INVAL && st.refused))
		outcome = "damaged";
	else if (rc == BW_ERR_INTR)
		outcome = "interrupted";
	else
		outcome = "failed";
	hex_encode(id, o.snapshot, 32);
	snprintf(where, sizeof(where), "%s", o.archive ? "archive" : "target");

	if (c->json) {
		printf("{");
		json_kv_str(stdout, "snapshot", id, 0);
		json_kv_str(stdout, "path", o.path, 1);
		json_kv_str(stdout, o.archive ? "archive" : "target",
		    o.archive ? o.archive : o.target ? o.target : "", 1);
		printf(",\"dry_run\":%s,", o.dry_run ? "true" : "false");
		json_stats(&st, rc, outcome);
		printf(",\"items\":[");
		for (i = 0; i < u.nitems; i++) {
			struct jitem *j = &u.items[i];

			printf("%s{", i ? "," : "");
			json_kv_str(stdout, "path", j->path, 0);
			json_kv_str(stdout, "dest", j->dest, 1);
			json_kv_str(stdout, "what", what_name(j->what), 1);
			json_kv_str(stdout, "kind", kind_name(j->kind), 1);
			json_kv_u64(stdout, "size", j->size, 1);
			printf(",\"reason\":");
			if (j->reason)
				json_str(stdout, j->reason);
			else
				printf("null");
			printf("}");
		}
		printf("]}\n");
	}
	/* nothing was restored when the snapshot, path or key failed first */
	started = rc != BW_ERR_NOENT && rc != BW_ERR_PERM && rc != BW_ERR_AUTH &&
	    rc != BW_ERR_NOMEM;
	if (!c->json && started && (!c->quiet || rc)) {
		cli_human_bytes(bytes, sizeof(bytes), st.bytes);
		printf("%s%llu files, %s, %llu dirs, %llu links, %llu special; %llu replaced, "
		    "%llu skipped, %llu unchanged, %llu damaged, %llu refused, %llu failed",
		    o.dry_run ? "dry run (nothing written): would restore " : "restored ",
		    (unsigned long long)st.files, bytes, (unsigned long long)st.dirs,
		    (unsigned long long)st.links, (unsigned long long)st.specials,
		    (unsigned long long)st.replaced, (unsigned long long)st.skipped,
		    (unsigned long long)st.unchanged, (unsigned long long)st.damaged,
		    (unsigned long long)st.refused, (unsigned long long)st.failed);
		if (o.verify && !o.dry_run)
			printf(", %llu verified", (unsigned long long)st.verified);
		printf(" in %.1fs", st.elapsed_ns / 1e9);
		if (st.damaged)
			printf("; the repository is damaged: run 'bulwark check --read-data'");
		else if (st.refused)
			printf("; unsafe entries were refused: the repository is damaged or was "
			    "tampered with");
		else if (rc == BW_ERR_INTR)
			printf("; interrupted: run the same command again to finish");
		printf("\n");
	}
	if (!o.dry_run)
		cli_audit(c, "restore", repo_path(r), outcome,
		    "by uid %ld; snapshot %s path %s to %s %s; %llu files, %llu bytes, "
		    "%llu damaged, %llu refused, %llu failed; %s%s%s", (long)getuid(), id, o.path,
		    where, o.archive ? o.archive : o.target,
		    (unsigned long long)st.files, (unsigned long long)st.bytes,
		    (unsigned long long)st.damaged, (unsigned long long)st.refused,
		    (unsigned long long)st.failed, rc ? bw_strerror(rc) : "",
		    rc && cmdline_summary && *cmdline_summary ? "; " : "",
		    cmdline_summary ? cmdline_summary : "");
	for (i = 0; i < u.nitems; i++) {
		free(u.items[i].path);
		free(u.items[i].dest);
		free(u.items[i].reason);
	}
	free(u.items);
	return code;
}

int
cmd_restore(struct cli *c, int argc, char **argv)
{
	static const struct option lo[] = {
		CLI_COMMON_LONGOPTS,
		{ "target", required_argument, NULL, 't' },
		{ "to-archive", required_argument, NULL, 'a' },
		{ "include", required_argument, NULL, 'i' },
		{ "exclude", required_argument, NULL, 'e' },
		{ "overwrite", required_argument, NULL, 'O' },
		{ "dry-run", no_argument, NULL, 'n' },
		{ "verify", no_argument, NULL, 'V' },
		{ "numeric-owner", no_argument, NULL, 'N' },
		{ "threads", required_argument, NULL, 'T' },
		{ "set", required_argument, NULL, 'S' },
		{ "tag", required_argument, NULL, 'G' },
		{ NULL, 0, NULL, 0 }
	};
	const char **inc = NULL, **exc = NULL;
	size_t ninc = 0, nexc = 0;
	struct restore_opts o;
	struct repo *r = NULL;
	char *spec = NULL, *path = NULL, summary[512];
	const char *set = NULL, *tag = NULL, *given = NULL;
	int ch, rc, x, locked = 0, li;

	memset(&o, 0, sizeof(o));
	o.overwrite = RESTORE_OVERWRITE_NEVER;
	inc = calloc((size_t)argc + 1, sizeof(*inc));
	exc = calloc((size_t)argc + 1, sizeof(*exc));
	if (!inc || !exc) {
		rc = EXIT_ERROR;
		goto out;
	}
	while ((li = -1, ch = getopt_long(argc, argv, CLI_COMMON_SHORTOPTS "t:a:i:e:n", lo,
	    &li)) != -1) {
		/* the first restore option given, for the wizard's refusal */
		if (!given && strchr("taieOnVNTSG", ch) != NULL)
			given = li >= 0 ? lo[li].name : ch == 't' ? "target" : ch == 'a' ?
			    "to-archive" : ch == 'i' ? "include" : ch == 'e' ? "exclude" :
			    "dry-run";
		switch (ch) {
		case 'h': rc = cli_usage(stdout, help, EXIT_OK); goto out;
		case 't': o.target = optarg; break;
		case 'a': o.archive = optarg; break;
		case 'i': inc[ninc++] = optarg; break;
		case 'e': exc[nexc++] = optarg; break;
		case 'n': o.dry_run = 1; break;
		case 'V': o.verify = 1; break;
		case 'N': o.numeric_owner = 1; break;
		case 'T': o.threads = atoi(optarg); break;
		case 'S': set = optarg; break;
		case 'G': tag = optarg; break;
		case 'O':
			if (strcmp(optarg, "never") == 0)
				o.overwrite = RESTORE_OVERWRITE_NEVER;
			else if (strcmp(optarg, "if-changed") == 0)
				o.overwrite = RESTORE_OVERWRITE_IF_CHANGED;
			else if (strcmp(optarg, "always") == 0)
				o.overwrite = RESTORE_OVERWRITE_ALWAYS;
			else {
				log_error("--overwrite %s: give never, if-changed or always", optarg);
				rc = EXIT_USAGE;
				goto out;
			}
			break;
		default:
			if (!cli_common_opt(c, ch, optarg)) {
				rc = cli_usage(stderr, help, EXIT_USAGE);
				goto out;
			}
		}
	}
	if (optind >= argc && given) {
		/* the wizard asks for all of these itself: silently dropping
		 * one (a --target, say) would restore somewhere else */
		log_error("restore: --%s given without a snapshot: give SNAPSHOT[:PATH] too "
		    "(e.g. latest), or run 'bulwark restore' with no options on a terminal "
		    "for the guided wizard", given);
		rc = EXIT_USAGE;
		goto out;
	}
	if (optind >= argc && isatty(STDIN_FILENO) && isatty(STDOUT_FILENO)) {
		/* an operator at a terminal without a snapshot: the guided wizard */
		rc = cmd_restore_wizard(c, 1, argv);
		goto out;
	}
	if (optind >= argc) {
		log_error("restore: which snapshot? give SNAPSHOT[:PATH] (e.g. latest or "
		    "latest:/srv/www; list them with 'bulwark snapshots') and --target DIR");
		rc = EXIT_USAGE;
		goto out;
	}
	if (optind + 1 != argc) {
		rc = cli_usage(stderr, help, EXIT_USAGE);
		goto out;
	}
	if (!o.dry_run && !!o.target == !!o.archive) {
		log_error("restore: give where to restore: --target DIR or --to-archive FILE "
		    "(one of them)");
		rc = EXIT_USAGE;
		goto out;
	}
	/* times contain colons: the path starts at the first ":/" */
	if ((rc = cli_split_snapspec(argv[optind], &spec, &path)) != 0)
		goto out;
	o.path = path;
	o.includes = inc;
	o.nincludes = ninc;
	o.excludes = exc;
	o.nexcludes = nexc;
	if ((rc = cli_open_repo(c, &r)) != 0)
		goto out;
	if ((rc = cli_need_read(r, "restore")) != 0 ||
	    (rc = cli_snapshot_arg(c, r, spec, set, tag, o.snapshot)) != 0)
		goto out;
	/* a prune must not remove objects while they are read */
	if ((x = repo_lock(r, 0)) != 0) {
		rc = cli_exit(x);
		goto out;
	}
	locked = 1;
	snprintf(summary, sizeof(summary), "overwrite %s%s%s%s",
	    o.overwrite == RESTORE_OVERWRITE_ALWAYS ? "always" :
	    o.overwrite == RESTORE_OVERWRITE_IF_CHANGED ? "if-changed" : "never",
	    o.verify ? ", verify" : "", ninc ? ", with includes" : "",
	    nexc ? ", with excludes" : "");
	rc = cli_restore_exec(c, r, &o, summary);
out:
	if (locked)
		repo_unlock(r);
	repo_free(r);
	free(spec);
	free(path);
	free(inc);
	free(exc);
	return rc;
}
