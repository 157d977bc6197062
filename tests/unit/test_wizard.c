#include "config.h"

#include <check.h>
#include <fcntl.h>
#include <fnmatch.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "cli/wiz.h"
#include "lib/repo/snapsel.h"
#include "lib/repo/tree.h"
#include "lib/util/err.h"
#include "lib/util/log.h"

#define NS INT64_C(1000000000)

static void
use_tz(const char *tz)
{
	setenv("TZ", tz, 1);
	tzset();
}

/* ---- a fake snapshot tree for the browse shell ---- */

static const struct { const char *path; int kind; uint64_t size; } tree[] = {
	{ "/etc", TREE_DIR, 0 },
	{ "/etc/app.conf", TREE_FILE, 10 },
	{ "/srv", TREE_DIR, 0 },
	{ "/srv/bad", TREE_DIR, 0 },		/* its tree is damaged */
	{ "/srv/www", TREE_DIR, 0 },
	{ "/srv/www/.hidden", TREE_FILE, 1 },
	{ "/srv/www/img", TREE_DIR, 0 },
	{ "/srv/www/img/a.png", TREE_FILE, 100 },
	{ "/srv/www/img/b.png", TREE_FILE, 200 },
	{ "/srv/www/img/logo.svg", TREE_FILE, 300 },
	{ "/srv/www/index.html", TREE_FILE, 6 },
	{ "/srv/www/odd[1].txt", TREE_FILE, 7 },
};
#define NTREE (sizeof(tree) / sizeof(tree[0]))

static int list_calls;

static int
fake_list(void *arg, const char *dir, struct wiz_dirent **out, size_t *n)
{
	struct wiz_dirent *d;
	size_t i, k = 0, dl = strlen(dir);
	int found = !strcmp(dir, "/");

	(void)arg;
	list_calls++;
	if (!strcmp(dir, "/srv/bad"))
		return BW_ERR_CORRUPT;
	d = calloc(NTREE, sizeof(*d));
	ck_assert_ptr_nonnull(d);
	for (i = 0; i < NTREE; i++) {
		const char *p = tree[i].path, *slash = strrchr(p, '/');
		size_t plen = (size_t)(slash - p);

		if (!strcmp(p, dir)) {
			if (tree[i].kind != TREE_DIR) {
				free(d);
				return BW_ERR_INVAL;
			}
			found = 1;
		}
		/* a child: its parent part equals dir */
		if ((plen == 0 && !strcmp(dir, "/")) || (plen == dl && !strncmp(p, dir, dl) && dl > 1)) {
			d[k].name = strdup(slash + 1);
			d[k].kind = tree[i].kind;
			d[k].mode = tree[i].kind == TREE_DIR ? 0755 : 0644;
			d[k].size = tree[i].size;
			d[k].mtime = 1764000000;
			k++;
		}
	}
	if (!found) {
		wiz_dirents_free(d, k);
		return BW_ERR_NOENT;
	}
	*out = d;
	*n = k;
	return 0;
}

static struct wiz_shell sh;
static char *outbuf;
static size_t outlen;
static FILE *out;

static void
quiet(enum log_level lvl, const char *msg, void *arg)
{
	(void)lvl; (void)msg; (void)arg;
}

static void
setup(void)
{
	log_set_sink(quiet, NULL);
	ck_assert_int_eq(wiz_shell_init(&sh, fake_list, NULL, NULL), 0);
	out = open_memstream(&outbuf, &outlen);
	ck_assert_ptr_nonnull(out);
}

static void
teardown(void)
{
	wiz_shell_clear(&sh);
	fclose(out);
	free(outbuf);
	outbuf = NULL;
}

/* Runs one shell line; returns what it printed (valid until the next). */
static const char *
run(const char *line, int want)
{
	fflush(out);
	rewind(out);
	memset(outbuf, 0, outlen);
	ck_assert_int_eq(wiz_shell_run(&sh, line, out), want);
	fflush(out);
	return outbuf;
}

static void
assert_marks(const char *const *want, size_t n)
{
	size_t i;

	ck_assert_uint_eq(sh.nmarks, n);
	for (i = 0; i < n; i++)
		ck_assert_str_eq(sh.marks[i], want[i]);
}

START_TEST(test_path_join)
{
	static const char *const cases[][3] = {
		{ "/srv/www", "..", "/srv" },
		{ "/srv/www", "../..", "/" },
		{ "/", "..", "/" },
		{ "/srv", "../../../etc", "/etc" },
		{ "/a", "b//c/./d/", "/a/b/c/d" },
		{ "/a/b", "/x/../y", "/y" },
		{ "/a/b", ".", "/a/b" },
		{ "/", "", "/" },
		{ "/", "...", "/..." },
		{ "/a", "..b", "/a/..b" },
	};
	size_t i;

	for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		char *p = wiz_path_join(cases[i][0], cases[i][1]);

		ck_assert_msg(p && !strcmp(p, cases[i][2]), "join(%s, %s) = %s, wanted %s",
		    cases[i][0], cases[i][1], p ? p : "NULL", cases[i][2]);
		free(p);
	}
}
END_TEST

START_TEST(test_shell_cd_ls)
{
	const char *o;

	o = run("ls", WIZ_SHELL_MORE);
	ck_assert_ptr_nonnull(strstr(o, "  etc/\n"));
	ck_assert_ptr_nonnull(strstr(o, "  srv/\n"));
	run("cd srv/www", WIZ_SHELL_MORE);
	ck_assert_str_eq(sh.cwd, "/srv/www");
	o = run("ls img", WIZ_SHELL_MORE);
	ck_assert_ptr_nonnull(strstr(o, "a.png"));
	ck_assert_ptr_nonnull(strstr(o, "logo.svg"));
	o = run("ls -l", WIZ_SHELL_MORE);
	ck_assert_ptr_nonnull(strstr(o, "drwxr-xr-x"));
	ck_assert_ptr_nonnull(strstr(o, "-rw-r--r--            6 "));
	ck_assert_ptr_nonnull(strstr(o, "index.html"));
	run("cd ../..", WIZ_SHELL_MORE);
	ck_assert_str_eq(sh.cwd, "/");
	run("cd ..", WIZ_SHELL_MORE);
	ck_assert_str_eq(sh.cwd, "/");
	run("cd /srv/www/img", WIZ_SHELL_MORE);
	ck_assert_str_eq(sh.cwd, "/srv/www/img");
	/* mistakes say what is wrong and leave the directory as it was */
	o = run("cd nothere", WIZ_SHELL_MORE);
	ck_assert_ptr_nonnull(strstr(o, "/srv/www/img/nothere: no such file or directory"));
	o = run("cd a.png", WIZ_SHELL_MORE);
	ck_assert_ptr_nonnull(strstr(o, "/srv/www/img/a.png: not a directory"));
	ck_assert_str_eq(sh.cwd, "/srv/www/img");
	o = run("ls ../index.html", WIZ_SHELL_MORE);
	ck_assert_ptr_nonnull(strstr(o, "/srv/www/index.html"));
	o = run("ls /nope", WIZ_SHELL_MORE);
	ck_assert_ptr_nonnull(strstr(o, "/nope: no such file"));
	o = run("frob", WIZ_SHELL_MORE);
	ck_assert_ptr_nonnull(strstr(o, "unknown command 'frob'"));
	o = run("help", WIZ_SHELL_MORE);
	ck_assert_ptr_nonnull(strstr(o, "mark PATH|GLOB"));
	run("", WIZ_SHELL_MORE);
	run("q", WIZ_SHELL_QUIT);
}
END_TEST

START_TEST(test_shell_mark_unmark)
{
	static const char *const m1[] = { "/srv/www/img", "/srv/www/index.html" };
	static const char *const m2[] = { "/srv/www/img/a.png", "/srv/www/img/b.png" };
	static const char *const m3[] = { "/srv/www" };
	const char *o;

	o = run("done", WIZ_SHELL_MORE);
	ck_assert_ptr_nonnull(strstr(o, "nothing is marked"));
	run("cd /srv/www", WIZ_SHELL_MORE);
	o = run("mark img", WIZ_SHELL_MORE);
	ck_assert_ptr_nonnull(strstr(o, "marked /srv/www/img"));
	run("mark ./index.html", WIZ_SHELL_MORE);
	assert_marks(m1, 2);
	/* inside a marked directory: nothing changes, and it says why */
	o = run("mark img/a.png", WIZ_SHELL_MORE);
	ck_assert_ptr_nonnull(strstr(o, "already selected (inside /srv/www/img)"));
	o = run("unmark img/a.png", WIZ_SHELL_MORE);
	ck_assert_ptr_nonnull(strstr(o, "selected as part of /srv/www/img"));
	assert_marks(m1, 2);
	o = run("ls", WIZ_SHELL_MORE);
	ck_assert_ptr_nonnull(strstr(o, "* img/\n"));
	ck_assert_ptr_nonnull(strstr(o, "* index.html\n"));
	ck_assert_ptr_nonnull(strstr(o, "  odd[1].txt\n"));
	o = run("marked", WIZ_SHELL_MORE);
	ck_assert_ptr_nonnull(strstr(o, "/srv/www/img\n"));
	ck_assert_ptr_nonnull(strstr(o, "2 marked"));
	run("unmark img index.html", WIZ_SHELL_MORE);
	ck_assert_uint_eq(sh.nmarks, 0);
	o = run("unmark img", WIZ_SHELL_MORE);
	ck_assert_ptr_nonnull(strstr(o, "/srv/www/img is not marked"));
	/* a glob in the last component, relative to the current directory */
	run("mark img/*.png", WIZ_SHELL_MORE);
	assert_marks(m2, 2);
	o = run("mark img/*.gif", WIZ_SHELL_MORE);
	ck_assert_ptr_nonnull(strstr(o, "nothing in /srv/www/img matches *.gif"));
	o = run("mark nothere", WIZ_SHELL_MORE);
	ck_assert_ptr_nonnull(strstr(o, "no such file"));
	o = run("mark */x", WIZ_SHELL_MORE);
	ck_assert_ptr_nonnull(strstr(o, "last part of a path only"));
	assert_marks(m2, 2);
	/* marking the directory above absorbs the marks below it */
	run("cd img", WIZ_SHELL_MORE);
	o = run("mark ..", WIZ_SHELL_MORE);
	ck_assert_ptr_nonnull(strstr(o, "replaces 2 marks below it"));
	assert_marks(m3, 1);
	/* * does not take dot files, as in a shell */
	run("unmark /srv/www", WIZ_SHELL_MORE);
	run("mark /srv/www/*", WIZ_SHELL_MORE);
	ck_assert_uint_eq(sh.nmarks, 3);
	run("unmark /srv/www/*", WIZ_SHELL_MORE);
	ck_assert_uint_eq(sh.nmarks, 0);
	/* a name that exists is taken as it is, even with pattern characters */
	run("mark /srv/www/odd[1].txt", WIZ_SHELL_MORE);
	ck_assert_uint_eq(sh.nmarks, 1);
	ck_assert_str_eq(sh.marks[0], "/srv/www/odd[1].txt");
	run("unmark /srv/www/odd[1].txt", WIZ_SHELL_MORE);
	ck_assert_uint_eq(sh.nmarks, 0);
	run("mark /srv/www/odd?1?.txt", WIZ_SHELL_MORE);
	ck_assert_uint_eq(sh.nmarks, 1);
	ck_assert_str_eq(sh.marks[0], "/srv/www/odd[1].txt");
	run("done", WIZ_SHELL_DONE);
}
END_TEST

START_TEST(test_shell_damaged_directory)
{
	const char *o;

	/* the directory is named with the problem; the rest stays usable */
	o = run("cd /srv/bad", WIZ_SHELL_MORE);
	ck_assert_ptr_nonnull(strstr(o, "/srv/bad: cannot be read ("));
	ck_assert_str_eq(sh.cwd, "/");
	o = run("ls /srv", WIZ_SHELL_MORE);
	ck_assert_ptr_nonnull(strstr(o, "  bad/\n"));
	o = run("find *.png", WIZ_SHELL_MORE);
	ck_assert_ptr_nonnull(strstr(o, "2 matches below /"));
	/* a damaged directory can still be marked: the restore reports it */
	o = run("mark /srv/bad", WIZ_SHELL_MORE);
	ck_assert_ptr_nonnull(strstr(o, "marked /srv/bad"));
}
END_TEST

START_TEST(test_shell_find)
{
	const char *o;

	o = run("find *.png", WIZ_SHELL_MORE);
	ck_assert_ptr_nonnull(strstr(o, "/srv/www/img/a.png\n"));
	ck_assert_ptr_nonnull(strstr(o, "/srv/www/img/b.png\n"));
	ck_assert_ptr_nonnull(strstr(o, "2 matches below /"));
	run("cd /etc", WIZ_SHELL_MORE);
	o = run("find *.png", WIZ_SHELL_MORE);
	ck_assert_ptr_nonnull(strstr(o, "0 matches below /etc"));
	run("cd /srv", WIZ_SHELL_MORE);
	o = run("find www/img/*", WIZ_SHELL_MORE);
	ck_assert_ptr_nonnull(strstr(o, "3 matches below /srv"));
}
END_TEST

START_TEST(test_quote_and_cmdline)
{
	static const char *const cases[][2] = {
		{ "plain/path-1.2_x", "plain/path-1.2_x" },
		{ "", "''" },
		{ "a b", "'a b'" },
		{ "it's", "'it'\\''s'" },
		{ "$HOME", "'$HOME'" },
		{ "*.conf", "'*.conf'" },
		{ "new\nline", "'new\nline'" },
	};
	struct wiz_choice w;
	struct buf b = { 0 };
	char *sel[] = { strdup("/srv/www/odd[1].txt"), strdup("/srv/it's") };
	char *inc[] = { strdup("*.conf") };
	size_t i;

	for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		buf_reset(&b);
		ck_assert_int_eq(wiz_shell_quote(&b, cases[i][0]), 0);
		buf_put_u8(&b, 0);
		ck_assert_str_eq((char *)b.data, cases[i][1]);
	}
	memset(&w, 0, sizeof(w));
	w.repo = "/srv/bw repo";
	memset(w.snap, 0xab, sizeof(w.snap));
	w.target = "/var/tmp/restore-abababab-20261124-1351";
	w.select = sel;
	w.nselect = 2;
	w.includes = inc;
	w.nincludes = 1;
	w.overwrite = RESTORE_OVERWRITE_IF_CHANGED;
	w.verify = 1;
	ck_assert_int_eq(wiz_cmdline(&w, &b), 0);
	ck_assert_str_eq((char *)b.data,
	    "bulwark restore --repo '/srv/bw repo' "
	    "abababababababababababababababababababababababababababababababab "
	    "--target /var/tmp/restore-abababab-20261124-1351 --overwrite if-changed --verify "
	    "--include '/srv/www/odd\\[1\\].txt' --include '/srv/it'\\''s' --include '*.conf'");
	w.config = "/etc/bulwark/bulwark.conf";
	w.repo = NULL;
	w.archive = "/var/tmp/x.tar.zst";
	w.nselect = w.nincludes = 0;
	w.overwrite = RESTORE_OVERWRITE_NEVER;
	w.verify = 0;
	ck_assert_int_eq(wiz_cmdline(&w, &b), 0);
	ck_assert_str_eq((char *)b.data,
	    "bulwark -c /etc/bulwark/bulwark.conf restore "
	    "abababababababababababababababababababababababababababababababab "
	    "--to-archive /var/tmp/x.tar.zst --overwrite never");
	/* the escaped mark matches the marked name, and only it */
	buf_reset(&b);
	wiz_glob_escape(&b, "/srv/www/odd[1].txt");
	buf_put_u8(&b, 0);
	ck_assert_int_eq(fnmatch((char *)b.data, "/srv/www/odd[1].txt", 0), 0);
	ck_assert_int_ne(fnmatch((char *)b.data, "/srv/www/odd1.txt", 0), 0);
	buf_free(&b);
	for (i = 0; i < 2; i++)
		free(sel[i]);
	free(inc[0]);
}
END_TEST

START_TEST(test_restore_opts)
{
	struct wiz_choice w;
	struct restore_opts o;

	memset(&w, 0, sizeof(w));
	memset(&o, 0, sizeof(o));
	memset(w.snap, 7, sizeof(w.snap));
	ck_assert_int_eq(wiz_words("  /srv/www\t/etc/app.conf ", &w.select, &w.nselect), 0);
	ck_assert_int_eq(wiz_words("*.log", &w.excludes, &w.nexcludes), 0);
	ck_assert_uint_eq(w.nselect, 2);
	w.target = "/var/tmp/r";
	w.verify = 1;
	w.overwrite = RESTORE_OVERWRITE_ALWAYS;
	wiz_restore_opts(&w, &o);
	ck_assert_str_eq(o.path, "/");
	ck_assert_str_eq(o.target, "/var/tmp/r");
	ck_assert_ptr_null(o.archive);
	ck_assert_uint_eq(o.nselect, 2);
	ck_assert_str_eq(o.select[1], "/etc/app.conf");
	ck_assert_uint_eq(o.nexcludes, 1);
	ck_assert_str_eq(o.excludes[0], "*.log");
	ck_assert_int_eq(o.verify, 1);
	ck_assert_int_eq(o.dry_run, 0);
	ck_assert_int_eq(o.overwrite, RESTORE_OVERWRITE_ALWAYS);
	ck_assert_int_eq(memcmp(o.snapshot, w.snap, 32), 0);
	wiz_choice_clear(&w);
	ck_assert_uint_eq(w.nselect, 0);
}
END_TEST

/* The wizard's "newest before a time" means what 'bulwark restore TIME'
 * means (snapsel): a date is the end of that day, HH:MM the end of that
 * minute. */
START_TEST(test_point_in_time)
{
	struct snap_info v[3];
	size_t idx[3], k, pick;
	int64_t ns;
	int utc;

	use_tz("UTC0");
	memset(v, 0, sizeof(v));
	/* 2026-11-24 00:00:00, 13:05:30 and 2026-11-25 00:00:00 UTC */
	v[0].time_ns = INT64_C(1795478400) * NS;
	v[1].time_ns = (INT64_C(1795478400) + 13 * 3600 + 5 * 60 + 30) * NS;
	v[2].time_ns = (INT64_C(1795478400) + 86400) * NS;
	k = wiz_set_snaps(v, 3, NULL, idx);
	ck_assert_uint_eq(k, 3);
	ck_assert_int_eq(snapsel_parse_time("2026-11-24", &ns, &utc), 0);
	ck_assert_int_eq(wiz_pick_before(v, idx, k, ns), 1);
	ck_assert_int_eq(snapsel_pick(v, 3, "2026-11-24", NULL, NULL, &pick), 0);
	ck_assert_uint_eq(idx[1], pick);
	ck_assert_int_eq(snapsel_parse_time("2026-11-24 13:05", &ns, &utc), 0);
	ck_assert_int_eq(wiz_pick_before(v, idx, k, ns), 1);
	ck_assert_int_eq(snapsel_parse_time("2026-11-24 13:04", &ns, &utc), 0);
	ck_assert_int_eq(wiz_pick_before(v, idx, k, ns), 2);
	ck_assert_int_eq(snapsel_parse_time("2026-11-23", &ns, &utc), 0);
	ck_assert_int_eq(wiz_pick_before(v, idx, k, ns), -1);
	ck_assert_int_eq(snapsel_parse_time("2999-01-01 12:00", &ns, &utc), 0);
	ck_assert_int_eq(wiz_pick_before(v, idx, k, ns), 0);
}
END_TEST

static struct snap_info snaps[5];

static void
make_snaps(void)
{
	static char web[] = "web", db[] = "db";
	static const struct { int64_t t; char *set; } v[] = {
		{ 1000, web }, { 2000, db }, { 3000, web }, { 4000, NULL }, { 2500, web },
	};
	size_t i;

	memset(snaps, 0, sizeof(snaps));
	for (i = 0; i < 5; i++) {
		snaps[i].time_ns = v[i].t * NS;
		snaps[i].end_ns = v[i].t * NS + NS;
		snaps[i].set = v[i].set;
		memset(snaps[i].id, (int)(0x10 * (i + 1)), 32);
	}
}

START_TEST(test_sets_and_points)
{
	struct wiz_set *sets = NULL;
	size_t n = 0, idx[5], k;

	make_snaps();
	ck_assert_int_eq(wiz_sets(snaps, 5, &sets, &n), 0);
	ck_assert_uint_eq(n, 3);
	/* the newest snapshot has no set: that is the default */
	ck_assert_ptr_null(sets[0].name);
	ck_assert_uint_eq(sets[0].count, 1);
	ck_assert_str_eq(sets[1].name, "web");
	ck_assert_uint_eq(sets[1].count, 3);
	ck_assert_int_eq(sets[1].newest_ns, 3000 * NS);
	ck_assert_str_eq(sets[2].name, "db");
	free(sets);
	k = wiz_set_snaps(snaps, 5, "web", idx);
	ck_assert_uint_eq(k, 3);
	ck_assert_uint_eq(idx[0], 2);
	ck_assert_uint_eq(idx[1], 4);
	ck_assert_uint_eq(idx[2], 0);
	/* newest at or before a time, within the set */
	ck_assert_int_eq(wiz_pick_before(snaps, idx, k, 9999 * NS), 0);
	ck_assert_int_eq(wiz_pick_before(snaps, idx, k, 2999 * NS), 1);
	ck_assert_int_eq(wiz_pick_before(snaps, idx, k, 2500 * NS), 1);
	ck_assert_int_eq(wiz_pick_before(snaps, idx, k, 1000 * NS), 2);
	ck_assert_int_eq(wiz_pick_before(snaps, idx, k, 999 * NS), -1);
	ck_assert_int_eq(wiz_sets(snaps, 0, &sets, &n), 0);
	ck_assert_uint_eq(n, 0);
	free(sets);
}
END_TEST

START_TEST(test_verified)
{
	struct wiz_proofs p;
	const char *repo = "/srv/bw";

	make_snaps();
	memset(&p, 0, sizeof(p));
	/* 1970-01-01T00:41:40Z = 2500 s: proves the snapshots that ended before it */
	ck_assert_int_eq(wiz_proof_note(&p, repo, "1970-01-01T00:41:40.000Z",
	    "check --read-data", repo, "ok", "0 problems"), 0);
	/* ignored: failed, another repository, a plain check, a backup */
	wiz_proof_note(&p, repo, "1970-01-01T02:00:00.000Z", "check --read-data", repo,
	    "failed", "3 problems");
	wiz_proof_note(&p, repo, "1970-01-01T02:00:00.000Z", "check --read-data", "/other",
	    "ok", "0 problems");
	wiz_proof_note(&p, repo, "1970-01-01T02:00:00.000Z", "check", repo, "ok", NULL);
	wiz_proof_note(&p, repo, "1970-01-01T02:00:00.000Z", "backup", repo, "ok", NULL);
	wiz_proof_note(&p, repo, "garbage", "check --read-data", repo, "ok", NULL);
	ck_assert_uint_eq(p.n, 1);
	ck_assert_int_eq(wiz_verified(&p, &snaps[0]), WIZ_VERIFY_YES);	/* 1000 s */
	ck_assert_int_eq(wiz_verified(&p, &snaps[1]), WIZ_VERIFY_YES);	/* 2000 s */
	ck_assert_int_eq(wiz_verified(&p, &snaps[4]), WIZ_VERIFY_NO);	/* 2500 s, ends 2501 */
	ck_assert_int_eq(wiz_verified(&p, &snaps[2]), WIZ_VERIFY_NO);	/* 3000 s */
	/* a verified restore of snapshot 3 (ids 0x30...) proves that one only */
	wiz_proof_note(&p, repo, "1970-01-01T02:00:00.000Z", "restore", repo, "ok",
	    "by uid 0; snapshot 4040404040404040404040404040404040404040404040404040404040404040 "
	    "path / to target /r; 1 files, 1 bytes, 0 damaged, 0 refused, 0 failed; "
	    "overwrite never");
	ck_assert_int_eq(wiz_verified(&p, &snaps[3]), WIZ_VERIFY_NO);
	wiz_proof_note(&p, repo, "1970-01-01T02:00:00.000Z", "restore", repo, "interrupted",
	    "by uid 0; snapshot 3030303030303030303030303030303030303030303030303030303030303030 "
	    "path / to target /r; 1 files, 1 bytes, 0 damaged, 0 refused, 0 failed; "
	    "overwrite never, verify");
	ck_assert_int_eq(wiz_verified(&p, &snaps[2]), WIZ_VERIFY_NO);
	wiz_proof_note(&p, repo, "1970-01-01T02:00:00.000Z", "restore", repo, "ok",
	    "by uid 0; snapshot 3030303030303030303030303030303030303030303030303030303030303030 "
	    "path / to target /r; 1 files, 1 bytes, 0 damaged, 0 refused, 0 failed; "
	    "overwrite never, verify");
	ck_assert_int_eq(wiz_verified(&p, &snaps[2]), WIZ_VERIFY_YES);
	ck_assert_int_eq(wiz_verified(&p, &snaps[3]), WIZ_VERIFY_NO);
	p.unreadable = 1;
	ck_assert_int_eq(wiz_verified(&p, &snaps[0]), WIZ_VERIFY_UNKNOWN);
	wiz_proofs_clear(&p);
}
END_TEST

START_TEST(test_estimate)
{
	char s[64];

	ck_assert_uint_eq(wiz_estimate_sec(0, 0), 0);
	ck_assert_uint_eq(wiz_estimate_sec(1, 0), 1);
	ck_assert_uint_eq(wiz_estimate_sec(150000000, 0), 1);
	ck_assert_uint_eq(wiz_estimate_sec(150000001, 0), 2);
	ck_assert_uint_eq(wiz_estimate_sec(0, 5000), 1);
	ck_assert_uint_eq(wiz_estimate_sec(300000000, 10000), 4);
	ck_assert_uint_eq(wiz_estimate_sec(UINT64_MAX, UINT64_MAX), UINT64_MAX / 150000000 + 1);
	wiz_duration(s, sizeof(s), 0);
	ck_assert_str_eq(s, "about a second");
	wiz_duration(s, sizeof(s), 42);
	ck_assert_str_eq(s, "about 42 s");
	wiz_duration(s, sizeof(s), 600);
	ck_assert_str_eq(s, "about 10 min");
	wiz_duration(s, sizeof(s), 2 * 3600 + 10 * 60);
	ck_assert_str_eq(s, "about 2 h 10 min");
}
END_TEST

START_TEST(test_destination)
{
	char dir[] = "/tmp/bw-wizard.XXXXXX", p[512], why[512];
	uint8_t id[32];
	int fd;

	use_tz("UTC0");
	memset(id, 0xab, sizeof(id));
	wiz_default_target(p, sizeof(p), "/var/tmp", id, (time_t)1795527060);
	ck_assert_str_eq(p, "/var/tmp/restore-abababab-20261124-1331");

	ck_assert_ptr_nonnull(mkdtemp(dir));
	ck_assert_int_eq(wiz_check_dir("relative/dir", why, sizeof(why)), BW_ERR_INVAL);
	ck_assert_ptr_nonnull(strstr(why, "not an absolute path"));
	ck_assert_int_eq(wiz_check_dir("/", why, sizeof(why)), BW_ERR_INVAL);
	snprintf(p, sizeof(p), "%s/missing/new", dir);
	ck_assert_int_eq(wiz_check_dir(p, why, sizeof(why)), BW_ERR_INVAL);
	ck_assert_ptr_nonnull(strstr(why, "missing does not exist"));
	snprintf(p, sizeof(p), "%s/new", dir);
	ck_assert_int_eq(wiz_check_dir(p, why, sizeof(why)), 0);
	ck_assert_int_eq(wiz_check_dir(dir, why, sizeof(why)), 0);
	snprintf(p, sizeof(p), "%s/file", dir);
	ck_assert_int_ge(fd = open(p, O_CREAT | O_WRONLY, 0600), 0);
	close(fd);
	ck_assert_int_eq(wiz_check_dir(p, why, sizeof(why)), BW_ERR_INVAL);
	ck_assert_ptr_nonnull(strstr(why, "not a directory"));
	snprintf(p, sizeof(p), "%s/file/x", dir);
	ck_assert_int_eq(wiz_check_dir(p, why, sizeof(why)), BW_ERR_INVAL);

	snprintf(p, sizeof(p), "%s/out.rar", dir);
	ck_assert_int_eq(wiz_check_archive(p, why, sizeof(why)), BW_ERR_INVAL);
	ck_assert_ptr_nonnull(strstr(why, ".tar, .tar.zst or .zip"));
	snprintf(p, sizeof(p), "%s/out.tar.zst", dir);
	ck_assert_int_eq(wiz_check_archive(p, why, sizeof(why)), 0);
	ck_assert_int_eq(wiz_check_archive("out.zip", why, sizeof(why)), BW_ERR_INVAL);
	snprintf(p, sizeof(p), "%s/file", dir);
	unlink(p);
	snprintf(p, sizeof(p), "%s/old.tar", dir);
	ck_assert_int_ge(fd = open(p, O_CREAT | O_WRONLY, 0600), 0);
	close(fd);
	ck_assert_int_eq(wiz_check_archive(p, why, sizeof(why)), BW_ERR_INVAL);
	ck_assert_ptr_nonnull(strstr(why, "already exists"));
	unlink(p);
	ck_assert_int_eq(rmdir(dir), 0);
}
END_TEST

static Suite *
wizard_suite(void)
{
	Suite *s = suite_create("wizard");
	TCase *tc = tcase_create("logic");

	tcase_add_checked_fixture(tc, setup, teardown);
	tcase_add_test(tc, test_path_join);
	tcase_add_test(tc, test_shell_cd_ls);
	tcase_add_test(tc, test_shell_mark_unmark);
	tcase_add_test(tc, test_shell_damaged_directory);
	tcase_add_test(tc, test_shell_find);
	tcase_add_test(tc, test_quote_and_cmdline);
	tcase_add_test(tc, test_restore_opts);
	tcase_add_test(tc, test_point_in_time);
	tcase_add_test(tc, test_sets_and_points);
	tcase_add_test(tc, test_verified);
	tcase_add_test(tc, test_estimate);
	tcase_add_test(tc, test_destination);
	suite_add_tcase(s, tc);
	return s;
}

int
main(void)
{
	SRunner *sr = srunner_create(wizard_suite());
	int failed;

	srunner_run_all(sr, CK_NORMAL);
	failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}
