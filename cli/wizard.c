/*
 * The guided restore wizard: `bulwark restore` on a terminal without a
 * snapshot.  Steps, each a short question with a default in [brackets]
 * (Enter takes it, "?" explains, "q" or Ctrl-C stops with exit 130 and
 * nothing written):
 *   1 backup set       (skipped when there is only one)
 *   2 point in time    newest / newest before a time / from a list
 *   3 what             everything / browse and mark / patterns
 *   4 where            in place (typed confirmation) / a directory / an archive
 *   5 existing files   never / if changed / always
 *   6 summary          a dry run's figures, free space, estimate, command line
 *   7 confirmation     "yes"
 *   8 the restore      cli_restore_exec: progress, verification, audit record
 * The decisions live in cli/wiz.c; this file asks and prints.
 */
#include "config.h"

#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/statvfs.h>
#include <time.h>
#include <unistd.h>

#include "cli/cli.h"
#include "cli/wiz.h"
#include "lib/audit/audit.h"
#include "lib/repo/snapsel.h"
#include "lib/repo/tree.h"
#include "lib/repo/walk.h"
#include "lib/util/err.h"
#include "lib/util/log.h"
#include "restore/restore.h"

#define WZ_QUIT 1		/* the operator stopped the wizard */
#define LIST_MAX 30		/* snapshots shown in the list */

static const char help[] =
    "usage: bulwark restore [--repo DIR]    (on a terminal, without a snapshot)\n\n"
    "Starts the restore wizard: it asks for the backup set, the point in time,\n"
    "what to restore (everything, files marked while browsing, or patterns),\n"
    "where (in place, another directory or an archive file) and what to do with\n"
    "existing files, shows a dry run's summary with the equivalent command line,\n"
    "and restores after you type yes, verifying every file.  Enter takes the\n"
    "default shown in [brackets], ? explains a question, q or Ctrl-C stops\n"
    "(exit 130, nothing written).\n";

static volatile sig_atomic_t interrupted;
static int wake[2] = { -1, -1 };	/* the handler's pipe: wakes a waiting read */

static void
on_sigint(int sig)
{
	int e = errno;
	ssize_t n = 0;

	(void)sig;
	interrupted = 1;
	/* a full pipe already holds a wake-up */
	if (wake[1] >= 0)
		n = write(wake[1], "", 1);
	(void)n;
	errno = e;
}

struct wz {
	struct cli *c;
	struct repo *r;
	struct snap_info *s;
	size_t n;
	size_t *idx, nidx;		/* the chosen set's snapshots, newest first */
	const char *set;
	int have_set;
	size_t pick;			/* index into s */
	uint8_t root[OBJ_ID_LEN];
	int have_root;
	struct wiz_proofs proofs;
	struct wiz_choice w;
	char target[4096];
};

/*
 * Reads one line from the terminal.  Returns 0 with a malloc'd line
 * (without its newline), or WZ_QUIT on Ctrl-C or end of input.  The
 * signal may be taken by any thread (the lock's heartbeat has one), so
 * the wait watches the handler's pipe too, not only for EINTR.
 */
static int
read_line(char **out)
{
	struct pollfd pfd[2] = {
		{ .fd = STDIN_FILENO, .events = POLLIN },
		{ .fd = wake[0], .events = POLLIN },
	};
	struct buf b = { 0 };
	ssize_t got;
	char ch;
	int rc = WZ_QUIT;

	fflush(stdout);
	while (!interrupted) {
		if (poll(pfd, 2, -1) < 0) {
			if (errno == EINTR)
				continue;
			break;
		}
		if (pfd[1].revents)
			break;
		if ((got = read(STDIN_FILENO, &ch, 1)) < 0 && errno == EINTR)
			continue;
		if (got <= 0)
			break;
		if (ch == '\n') {
			if (buf_put_u8(&b, 0) != 0)
				break;
			*out = (char *)b.data;
			b.data = NULL;
			rc = 0;
			break;
		}
		if (ch != '\r')
			buf_put_u8(&b, (uint8_t)ch);
	}
	buf_free(&b);
	return rc;
}

/*
 * Asks a question.  Returns 0 with the answer (the default for an empty
 * line; leading and trailing blanks removed) in *out, or WZ_QUIT.
 */
static int
ask(const char *question, const char *def, const char *explain, char **out)
{
	char *line, *s, *e;

	for (;;) {
		if (def)
			printf("%s [%s]: ", question, def);
		else
			printf("%s: ", question);
		if (read_line(&line) != 0)
			return WZ_QUIT;
		for (s = line; *s == ' ' || *s == '\t'; s++)
			;
		for (e = s + strlen(s); e > s && (e[-1] == ' ' || e[-1] == '\t'); e--)
			;
		*e = 0;
		if (!strcmp(s, "q") || !strcmp(s, "quit")) {
			free(line);
			return WZ_QUIT;
		}
		if (!strcmp(s, "?")) {
			free(line);
			fputs(explain, stdout);
			continue;
		}
		if (!*s && !def) {
			free(line);
			continue;
		}
		*out = strdup(*s ? s : def);
		free(line);
		return *out ? 0 : WZ_QUIT;
	}
}

/* Asks for a number 1..max; 0 with *v, or WZ_QUIT. */
static int
ask_number(const char *question, unsigned def, unsigned max, const char *explain, unsigned *v)
{
	char d[16], *a, *end;
	unsigned long x;

	snprintf(d, sizeof(d), "%u", def);
	for (;;) {
		if (ask(question, d, explain, &a) != 0)
			return WZ_QUIT;
		x = strtoul(a, &end, 10);
		if (*end == 0 && x >= 1 && x <= max) {
			free(a);
			*v = (unsigned)x;
			return 0;
		}
		printf("  please answer with a number from 1 to %u (? explains, q stops)\n", max);
		free(a);
	}
}

static void
local_time(char *out, size_t n, int64_t ns)
{
	time_t t = (time_t)(ns / 1000000000);
	struct tm tm;

	localtime_r(&t, &tm);
	strftime(out, n, "%Y-%m-%d %H:%M:%S", &tm);
}

static const char *
set_name(const char *s)
{
	return s ? s : "(none)";
}

/* ---- the audit log's verification records ---- */

static int
proof_one(const struct audit_record *rec, void *arg)
{
	struct wz *z = arg;

	return wiz_proof_note(&z->proofs, repo_path(z->r), rec->time, rec->action,
	    rec->object, rec->outcome, rec->detail);
}

static void
load_proofs(struct wz *z)
{
	struct audit *a = NULL;
	char *dir = cli_audit_dir(z->c);
	enum log_level lvl = log_get_level();

	/* opening a missing log would create it: only read one that exists */
	if (!dir || access(dir, R_OK) != 0) {
		z->proofs.unreadable = 1;
		goto out;
	}
	log_set_level(LOG_LVL_ERROR);
	if (audit_open(dir, &a) != 0 || audit_each(a, proof_one, z) != 0)
		z->proofs.unreadable = 1;
	log_set_level(lvl);
out:
	audit_free(a);
	free(dir);
}

/* ---- step 1: backup set ---- */

static int
step_set(struct wz *z)
{
	static const char explain[] =
	    "  A backup set is one configured [backup NAME] job (a site's data).  The\n"
	    "  default is the set of the newest snapshot.\n";
	struct wiz_set *sets = NULL;
	size_t nsets = 0, i;
	unsigned pick;
	char when[32];
	int rc;

	if (wiz_sets(z->s, z->n, &sets, &nsets) != 0)
		return BW_ERR_NOMEM;
	if (nsets > 1) {
		printf("\nStep 1: backup set\n");
		for (i = 0; i < nsets; i++) {
			local_time(when, sizeof(when), sets[i].newest_ns);
			printf("  %zu) %-20s %4zu snapshot%s, newest %s\n", i + 1,
			    set_name(sets[i].name), sets[i].count, sets[i].count == 1 ? "" : "s",
			    when);
		}
		if ((rc = ask_number("Which backup set?", 1, (unsigned)nsets, explain, &pick)) != 0) {
			free(sets);
			return rc;
		}
	} else {
		pick = 1;
	}
	z->set = sets[pick - 1].name;
	z->have_set = 1;
	free(sets);
	z->nidx = wiz_set_snaps(z->s, z->n, z->set, z->idx);
	if (nsets == 1)
		printf("Backup set: %s (%zu snapshot%s)\n", set_name(z->set), z->nidx,
		    z->nidx == 1 ? "" : "s");
	return 0;
}

/* ---- step 2: point in time ---- */

static void
show_snap(struct wz *z, size_t i, const char *lead)
{
	static const char *const ver[] = { "unknown", "no", "yes" };
	const struct snap_info *s = &z->s[i];
	char when[32], id[9], size[32];

	local_time(when, sizeof(when), s->time_ns);
	cli_id_short(id, s->id);
	cli_human_bytes(size, sizeof(size), s->bytes);
	printf("%s%s  %s  %10s  %8llu files  verified: %s%s\n", lead, when, id, size,
	    (unsigned long long)s->files, ver[wiz_verified(&z->proofs, s)],
	    s->nerrors ? "  (partial)" : "");
}

static int
step_time(struct wz *z)
{
	static const char explain[] =
	    "  1 takes the newest snapshot of the set.  2 asks for a date and time\n"
	    "  and takes the newest snapshot at or before it (to go back to just\n"
	    "  before a problem started).  3 lists the snapshots to pick from.\n"
	    "  'verified' says whether a successful 'check --read-data' or verified\n"
	    "  restore recorded in the audit log proves its data readable.\n";
	static const char explain_time[] =
	    "  Local time as YYYY-MM-DD or YYYY-MM-DD HH:MM (add Z for UTC).  The\n"
	    "  newest snapshot taken at or before it is used; a date alone means\n"
	    "  the end of that day, HH:MM the end of that minute.\n";
	static const char explain_list[] = "  The number in front of the snapshot to restore.\n";
	unsigned how, k;
	size_t i, shown;
	int64_t ns;
	long at;
	int rc, utc;
	char *a;

	printf("\nStep 2: point in time\n");
	printf("  1) the newest snapshot: ");
	show_snap(z, z->idx[0], "");
	printf("  2) the newest before a date and time you give\n");
	printf("  3) choose from a list\n");
	if (ask_number("Point in time?", 1, 3, explain, &how) != 0)
		return WZ_QUIT;
	if (how == 1) {
		z->pick = z->idx[0];
		return 0;
	}
	if (how == 2) {
		for (;;) {
			if (ask("Newest before (YYYY-MM-DD [HH:MM], local time)", NULL, explain_time,
			    &a) != 0)
				return WZ_QUIT;
			/* a malformed time is explained by snapsel, logged */
			if ((rc = snapsel_parse_time(a, &ns, &utc)) != 0) {
				if (rc == 1)
					printf("  '%s' is not a date and time like 2026-11-20 or "
					    "2026-11-20 14:30\n", a);
			} else if ((at = wiz_pick_before(z->s, z->idx, z->nidx, ns)) < 0) {
				char oldest[32];

				local_time(oldest, sizeof(oldest), z->s[z->idx[z->nidx - 1]].time_ns);
				printf("  no snapshot at or before %s (the oldest is from %s)\n", a,
				    oldest);
			} else {
				free(a);
				z->pick = z->idx[at];
				show_snap(z, z->pick, "  chosen: ");
				return 0;
			}
			free(a);
		}
	}
	shown = z->nidx < LIST_MAX ? z->nidx : LIST_MAX;
	printf("      %-19s  %-8s  %10s  %14s\n", "TIME", "ID", "SIZE", "FILES");
	for (i = 0; i < shown; i++) {
		char lead[16];

		snprintf(lead, sizeof(lead), "  %2zu) ", i + 1);
		show_snap(z, z->idx[i], lead);
	}
	if (shown < z->nidx)
		printf("  (%zu older snapshots not shown: choose 2 to go back further)\n",
		    z->nidx - shown);
	if (ask_number("Snapshot number?", 1, (unsigned)shown, explain_list, &k) != 0)
		return WZ_QUIT;
	z->pick = z->idx[k - 1];
	return 0;
}

/* ---- step 3: what ---- */

/* The browse shell's view of the chosen snapshot. */
static int
list_dir(void *arg, const char *dir, struct wiz_dirent **out, size_t *n)
{
	struct wz *z = arg;
	struct tree *parent = NULL, *t = NULL;
	struct wiz_dirent *d = NULL;
	const struct tree_entry *e;
	size_t idx = 0, i;
	int rc;

	*out = NULL;
	*n = 0;
	if (!strcmp(dir, "/")) {
		rc = walk_load(z->r, z->root, NULL, &t);
	} else if ((rc = walk_lookup(z->r, z->root, dir, &parent, &idx, NULL)) == 0) {
		e = &parent->e[idx];
		rc = e->kind == TREE_DIR ? walk_load(z->r, e->subtree, &e->content, &t) :
		    BW_ERR_INVAL;
	}
	if (rc != 0)
		goto out;
	if (t->n && (d = calloc(t->n, sizeof(*d))) == NULL) {
		rc = BW_ERR_NOMEM;
		goto out;
	}
	for (i = 0; i < t->n; i++) {
		e = &t->e[i];
		d[i].kind = e->kind;
		d[i].mode = e->mode;
		d[i].size = e->size;
		d[i].mtime = e->mtime_sec;
		if ((d[i].name = strdup(e->name)) == NULL ||
		    (e->link && *e->link && (d[i].link = strdup(e->link)) == NULL)) {
			wiz_dirents_free(d, t->n);
			d = NULL;
			rc = BW_ERR_NOMEM;
			goto out;
		}
	}
	*out = d;
	*n = t->n;
out:
	tree_free(parent);
	tree_free(t);
	return rc;
}

static int
browse(struct wz *z)
{
	struct wiz_shell sh;
	const struct snap_info *s = &z->s[z->pick];
	char *line = NULL, prompt[64];
	size_t len;
	int rc;

	/* start where the data is: the one backed-up path, if there is one */
	if ((rc = wiz_shell_init(&sh, list_dir, z, s->npaths == 1 ? s->paths[0] : "/")) != 0)
		return rc;
	printf("Browse the snapshot: ls, cd, mark, unmark, marked, find, done (help lists "
	    "them)\n");
	for (;;) {
		/* deep paths: the end says where one is */
		len = strlen(sh.cwd);
		snprintf(prompt, sizeof(prompt), "browse %s%s> ", len > 48 ? "..." : "",
		    len > 48 ? sh.cwd + len - 45 : sh.cwd);
		fputs(prompt, stdout);
		if (read_line(&line) != 0) {
			rc = WZ_QUIT;
			break;
		}
		rc = wiz_shell_run(&sh, line, stdout);
		free(line);
		if (rc == WIZ_SHELL_QUIT) {
			rc = WZ_QUIT;
			break;
		}
		if (rc == WIZ_SHELL_DONE) {
			/* the marks become the selection */
			z->w.select = sh.marks;
			z->w.nselect = sh.nmarks;
			sh.marks = NULL;
			sh.nmarks = 0;
			rc = 0;
			break;
		}
		if (rc < 0)
			break;
	}
	wiz_shell_clear(&sh);
	return rc;
}

static int
step_what(struct wz *z)
{
	static const char explain[] =
	    "  1 restores the whole snapshot.  2 opens a small shell to look around\n"
	    "  the snapshot and mark files and directories.  3 asks for patterns:\n"
	    "  *.conf matches names anywhere; a pattern with a / matches whole paths\n"
	    "  (/srv/www/*); a directory that matches brings everything below it.\n";
	static const char explain_pat[] =
	    "  Patterns separated by spaces, such as *.conf /srv/www/img.\n";
	struct snap_info full;
	unsigned how;
	char *a = NULL;
	int rc;

	printf("\nStep 3: what to restore\n"
	    "  1) everything\n  2) browse the snapshot and mark files\n"
	    "  3) patterns (include / exclude)\n");
	if (ask_number("What?", 1, 3, explain, &how) != 0)
		return WZ_QUIT;
	if (how == 1)
		return 0;
	if (how == 2) {
		memset(&full, 0, sizeof(full));
		if ((rc = repo_snapshot_load(z->r, z->s[z->pick].id, &full)) != 0)
			return rc;
		memcpy(z->root, full.root, sizeof(z->root));
		snap_info_clear(&full);
		return browse(z);
	}
	if (ask("Include patterns (empty: everything)", "", explain_pat, &a) != 0)
		return WZ_QUIT;
	rc = wiz_words(a, &z->w.includes, &z->w.nincludes);
	free(a);
	if (rc == 0 && ask("Exclude patterns (empty: none)", "", explain_pat, &a) != 0)
		return WZ_QUIT;
	if (rc == 0) {
		rc = wiz_words(a, &z->w.excludes, &z->w.nexcludes);
		free(a);
	}
	return rc;
}

/* ---- step 4: where ---- */

static int
step_where(struct wz *z)
{
	static const char explain[] =
	    "  1 writes the files back to where they were backed up from: live files\n"
	    "  can be replaced.  2 restores below a directory of your choice, with\n"
	    "  the full original paths (safe: compare, then copy what you need).\n"
	    "  3 writes one archive file (.tar, .tar.zst or .zip) instead.\n";
	static const char explain_dir[] =
	    "  An absolute path; its parent must exist.  It is created if missing.\n";
	static const char explain_arc[] =
	    "  An absolute path ending in .tar, .tar.zst or .zip; it must not exist.\n";
	static const char explain_inplace[] =
	    "  Type the words restore in place to write into the live file system,\n"
	    "  anything else to choose again.\n";
	const struct snap_info *s = &z->s[z->pick];
	char def[4096], why[4200], *a = NULL;
	unsigned how;
	size_t i;
	struct stat st;

	for (;;) {
		printf("\nStep 4: where to restore\n"
		    "  1) the original location (in place: overwrites live files)\n"
		    "  2) another directory\n  3) an archive file (.tar, .tar.zst, .zip)\n");
		if (ask_number("Where?", 2, 3, explain, &how) != 0)
			return WZ_QUIT;
		if (how == 1) {
			printf("  WARNING: this writes into the live file system at the snapshot's "
			    "own paths (");
			for (i = 0; i < s->npaths && i < 3; i++)
				printf("%s%s", i ? " " : "", s->paths[i]);
			printf("%s).\n  Files changed since the snapshot may be replaced, "
			    "depending on the next question.\n", s->npaths > 3 ? " ..." : "");
			if (ask("Type 'restore in place' to confirm", "no", explain_inplace, &a) != 0)
				return WZ_QUIT;
			if (!strcmp(a, "restore in place")) {
				free(a);
				snprintf(z->target, sizeof(z->target), "/");
				z->w.target = z->target;
				return 0;
			}
			free(a);
			printf("  not confirmed; choose again\n");
			continue;
		}
		wiz_default_target(def, sizeof(def), "/var/tmp", s->id, time(NULL));
		if (how == 3)
			strncat(def, ".tar.zst", sizeof(def) - strlen(def) - 1);
		for (;;) {
			if (ask(how == 2 ? "Directory" : "Archive file", def,
			    how == 2 ? explain_dir : explain_arc, &a) != 0)
				return WZ_QUIT;
			if ((how == 2 ? wiz_check_dir(a, why, sizeof(why)) :
			    wiz_check_archive(a, why, sizeof(why))) == 0)
				break;
			printf("  %s\n", why);
			free(a);
		}
		snprintf(z->target, sizeof(z->target), "%s", a);
		free(a);
		if (how == 2) {
			z->w.target = z->target;
			if (stat(z->target, &st) == 0)
				printf("  %s exists: what is in it follows the next question\n",
				    z->target);
		} else {
			/* an archive is checked as it is written; nothing to read back */
			z->w.archive = z->target;
			z->w.verify = 0;
		}
		return 0;
	}
}

/* ---- step 5: existing files ---- */

static int
step_overwrite(struct wz *z)
{
	static const char explain[] =
	    "  What to do when a file to restore already exists at the destination:\n"
	    "  1 keeps it (and lists it), 2 replaces it when its size, time or\n"
	    "  content differ, 3 always replaces it.\n";
	unsigned how;

	if (z->w.archive)
		return 0;
	printf("\nStep 5: existing files at the destination\n"
	    "  1) never overwrite\n  2) overwrite if changed\n  3) always overwrite\n");
	if (ask_number("Existing files?", 1, 3, explain, &how) != 0)
		return WZ_QUIT;
	z->w.overwrite = how == 1 ? RESTORE_OVERWRITE_NEVER : how == 2 ?
	    RESTORE_OVERWRITE_IF_CHANGED : RESTORE_OVERWRITE_ALWAYS;
	return 0;
}

/* ---- step 6: summary ---- */

/* Free bytes where path will be written (its nearest existing ancestor). */
static int
free_space(const char *path, unsigned long long *bytes, char *where, size_t n)
{
	struct statvfs sv;
	char *p, *slash;
	int rc = -1;

	if ((p = strdup(path)) == NULL)
		return -1;
	for (;;) {
		if (statvfs(p, &sv) == 0) {
			*bytes = (unsigned long long)sv.f_bavail * sv.f_frsize;
			snprintf(where, n, "%s", p);
			rc = 0;
			break;
		}
		if ((slash = strrchr(p, '/')) == NULL || !strcmp(p, "/"))
			break;
		slash[slash == p ? 1 : 0] = 0;
	}
	free(p);
	return rc;
}

static int
step_summary(struct wz *z, struct buf *cmd)
{
	const struct snap_info *s = &z->s[z->pick];
	struct restore_opts o;
	struct restore_stats st;
	unsigned long long avail = 0;
	char when[32], id[9], size[32], room[32], where[4096], est[64];
	size_t i;
	int rc;

	memset(&o, 0, sizeof(o));
	memset(&st, 0, sizeof(st));
	wiz_restore_opts(&z->w, &o);
	o.dry_run = 1;
	o.stop = &interrupted;
	printf("\nStep 6: summary (a dry run, nothing written yet)\n");
	fflush(stdout);
	if ((rc = restore_plan(z->r, &o, &st)) != 0)
		return interrupted ? WZ_QUIT : rc;
	if (interrupted)
		return WZ_QUIT;
	if ((rc = wiz_cmdline(&z->w, cmd)) != 0)
		return rc;
	local_time(when, sizeof(when), s->time_ns);
	cli_id_short(id, s->id);
	cli_human_bytes(size, sizeof(size), st.bytes);
	printf("  snapshot     %s from %s (backup set %s)\n", id, when, set_name(s->set));
	if (z->w.nselect) {
		printf("  what         %zu marked:", z->w.nselect);
		for (i = 0; i < z->w.nselect && i < 5; i++)
			printf(" %s", z->w.select[i]);
		printf("%s\n", z->w.nselect > 5 ? " ..." : "");
	} else if (z->w.nincludes || z->w.nexcludes) {
		printf("  what         %zu include and %zu exclude pattern%s\n", z->w.nincludes,
		    z->w.nexcludes, z->w.nexcludes == 1 ? "" : "s");
	} else {
		printf("  what         everything\n");
	}
	printf("  to           %s%s\n", z->w.archive ? "archive " : "",
	    !strcmp(z->target, "/") ? "/ (IN PLACE, over the live files)" : z->target);
	printf("  files        %llu file%s (%s), %llu director%s, %llu link%s, %llu other%s\n",
	    (unsigned long long)st.files, st.files == 1 ? "" : "s", size,
	    (unsigned long long)st.dirs, st.dirs == 1 ? "y" : "ies",
	    (unsigned long long)st.links, st.links == 1 ? "" : "s",
	    (unsigned long long)st.specials, st.specials == 1 ? "" : "s");
	if (!z->w.archive)
		printf("  existing     %llu would be overwritten, %llu skipped (kept), "
		    "%llu already identical\n", (unsigned long long)st.replaced,
		    (unsigned long long)st.skipped, (unsigned long long)st.unchanged);
	if (free_space(z->target, &avail, where, sizeof(where)) == 0) {
		cli_human_bytes(room, sizeof(room), avail);
		printf("  free space   %s at %s", room, where);
		if (avail < st.bytes)
			printf("\n  WARNING      NOT ENOUGH FREE SPACE: %s needed; the restore would "
			    "fail part way: free space or choose another place\n", size);
		else
			printf(" (enough)\n");
	} else {
		printf("  free space   unknown (cannot read the file system of %s)\n", z->target);
	}
	wiz_duration(est, sizeof(est), wiz_estimate_sec(st.bytes,
	    st.files + st.dirs + st.links + st.specials));
	printf("  time         %s (an estimate at 150 MB/s and 5,000 files/s)\n", est);
	if (z->w.archive)
		printf("  verification each file is checked against its recorded hash as it is "
		    "written\n");
	else
		printf("  verification every restored file is read back and compared\n");
	printf("  command      %s\n", (const char *)cmd->data);
	return 0;
}

/* ---- step 8's last line: the audit record just written ---- */

static int
last_record(const struct audit_record *rec, void *arg)
{
	char *line = arg;

	snprintf(line, 512, "audit record %llu at %s: %s %s", (unsigned long long)rec->seq,
	    rec->time, rec->action, rec->outcome);
	return 0;
}

static void
show_audit_record(struct cli *c)
{
	struct audit *a = NULL;
	char *dir = cli_audit_dir(c), line[512] = "";

	if (dir && access(dir, R_OK) == 0 && audit_open(dir, &a) == 0 &&
	    audit_each(a, last_record, line) == 0 && *line)
		printf("%s (see 'bulwark audit show')\n", line);
	audit_free(a);
	free(dir);
}

/* ---- the whole wizard ---- */

int
cmd_restore_wizard(struct cli *c, int argc, char **argv)
{
	static const char explain_yes[] =
	    "  yes starts the restore as summed up above; anything else cancels\n"
	    "  without writing anything.\n";
	struct sigaction sa, old_int, old_term;
	struct wz z;
	struct buf cmd = { 0 }, summary = { 0 };
	struct restore_opts o;
	size_t bad = 0;
	char *a = NULL;
	int rc, x, locked = 0;

	if (argc > 1) {
		optind = 0;
		if ((rc = cli_parse_common(c, argc, argv, help)) >= 0)
			return rc;
		if (optind != argc)
			return cli_usage(stderr, help, EXIT_USAGE);
	}
	memset(&z, 0, sizeof(z));
	z.c = c;
	z.w.verify = 1;
	interrupted = 0;
	if (pipe2(wake, O_CLOEXEC | O_NONBLOCK) != 0) {
		log_error("restore wizard: cannot make a pipe: %s", strerror(errno));
		return EXIT_ERROR;
	}
	memset(&sa, 0, sizeof(sa));
	sa.sa_handler = on_sigint;
	sigemptyset(&sa.sa_mask);
	/* no SA_RESTART: a read from the terminal returns at Ctrl-C */
	sigaction(SIGINT, &sa, &old_int);
	sigaction(SIGTERM, &sa, &old_term);
	printf("Bulwark restore wizard: Enter takes the [default], ? explains, q stops.\n");
	fflush(stdout);
	/* the passphrase comes first, as for every command */
	if ((rc = cli_open_repo(c, &z.r)) != 0)
		goto out_rc;
	if (!(repo_caps(z.r) & REPO_CAP_READ)) {
		log_error("repository %s: this key cannot read snapshots; restore needs a read "
		    "or admin key", repo_path(z.r));
		rc = EXIT_AUTH;
		goto out_rc;
	}
	if ((x = repo_snapshots(z.r, &z.s, &z.n, &bad)) != 0) {
		rc = cli_exit(x);
		goto out_rc;
	}
	if (z.n == 0) {
		log_error("repository %s has no snapshot to restore%s; run 'bulwark backup' "
		    "first", repo_path(z.r), bad ? " that verifies" : "");
		rc = bad ? EXIT_DAMAGED : EXIT_NOTFOUND;
		goto out_rc;
	}
	if ((z.idx = calloc(z.n, sizeof(*z.idx))) == NULL) {
		rc = EXIT_ERROR;
		goto out_rc;
	}
	load_proofs(&z);
	z.w.config = c->config_given ? c->config_path : NULL;
	z.w.repo = repo_path(z.r);
	if ((x = step_set(&z)) != 0 || (x = step_time(&z)) != 0)
		goto out;
	memcpy(z.w.snap, z.s[z.pick].id, OBJ_ID_LEN);
	if ((x = step_what(&z)) != 0 || (x = step_where(&z)) != 0 ||
	    (x = step_overwrite(&z)) != 0)
		goto out;
	/* as the restore command: a prune must not remove objects while they are read */
	if ((x = repo_lock(z.r, 0)) != 0)
		goto out;
	locked = 1;
	if ((x = step_summary(&z, &cmd)) != 0)
		goto out;
	printf("\nStep 7: confirm\n");
	if ((x = ask("Type yes to restore, anything else cancels", "no", explain_yes, &a)) != 0)
		goto out;
	/* cli_restore_exec handles Ctrl-C from here on: the engine stops cleanly */
	sigaction(SIGINT, &old_int, NULL);
	sigaction(SIGTERM, &old_term, NULL);
	if (strcmp(a, "yes") != 0 || interrupted) {
		printf("cancelled: nothing was written\n");
		rc = EXIT_INTERRUPTED;
		goto out_rc;
	}
	if (z.w.target && strcmp(z.w.target, "/") && access(z.w.target, F_OK) != 0 &&
	    cli_mkdirs(z.w.target) != 0) {
		log_error("cannot create %s: %s; choose another directory", z.w.target,
		    strerror(errno));
		rc = EXIT_IO;
		goto out_rc;
	}
	printf("\nStep 8: restoring\n");
	fflush(stdout);
	memset(&o, 0, sizeof(o));
	wiz_restore_opts(&z.w, &o);
	if (buf_put(&summary, "wizard; ", 8) == 0 && buf_put(&summary, cmd.data, cmd.len) == 0)
		rc = cli_restore_exec(c, z.r, &o, (const char *)summary.data);
	else
		rc = EXIT_ERROR;
	if (rc == EXIT_OK)
		printf("verification: %s\n", z.w.archive ? "every file matched its recorded hash "
		    "as it was written" : "every restored file was read back and matches the "
		    "snapshot");
	else if (rc != EXIT_INTERRUPTED)
		printf("the restore did not finish cleanly (exit code %d): see the messages "
		    "above\n", rc);
	show_audit_record(c);
	goto out_free;
out:
	if (x == WZ_QUIT) {
		printf("\nstopped: nothing was written\n");
		rc = EXIT_INTERRUPTED;
	} else {
		rc = x < 0 ? cli_exit(x) : EXIT_ERROR;
	}
out_rc:
out_free:
	fflush(stdout);
	sigaction(SIGINT, &old_int, NULL);
	sigaction(SIGTERM, &old_term, NULL);
	if (locked)
		repo_unlock(z.r);
	close(wake[0]);
	close(wake[1]);
	wake[0] = wake[1] = -1;
	free(a);
	buf_free(&cmd);
	buf_free(&summary);
	wiz_choice_clear(&z.w);
	wiz_proofs_clear(&z.proofs);
	free(z.idx);
	snap_list_free(z.s, z.n);
	repo_free(z.r);
	return rc;
}
