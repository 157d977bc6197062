/*
 * The restore wizard's logic (see wiz.h).  The browse shell's state is a
 * current directory and a set of marks: absolute snapshot paths, sorted,
 * none inside another (marking a directory absorbs the marks below it;
 * marking something inside a marked directory changes nothing).
 */
#include "config.h"

#include <ctype.h>
#include <errno.h>
#include <fnmatch.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>

#include "cli/wiz.h"
#include "lib/repo/tree.h"
#include "lib/util/err.h"

#define NS INT64_C(1000000000)
#define FIND_MAX 200

/* ---- backup sets ---- */

static int
same_set(const char *a, const char *b)
{
	if (!a || !b)
		return a == b;
	return strcmp(a, b) == 0;
}

int
wiz_in_set(const struct snap_info *s, const char *set)
{
	return same_set(s->set, set);
}

int
wiz_sets(const struct snap_info *s, size_t n, struct wiz_set **out, size_t *nout)
{
	struct wiz_set *v = NULL, t;
	size_t i, j, k = 0;

	*out = NULL;
	*nout = 0;
	if (n && (v = calloc(n, sizeof(*v))) == NULL)
		return BW_ERR_NOMEM;
	for (i = 0; i < n; i++) {
		for (j = 0; j < k && !same_set(v[j].name, s[i].set); j++)
			;
		if (j == k) {
			v[k].name = s[i].set;
			v[k].newest_ns = s[i].time_ns;
			k++;
		}
		v[j].count++;
		if (s[i].time_ns > v[j].newest_ns)
			v[j].newest_ns = s[i].time_ns;
	}
	/* few sets: insertion sort, newest first, stable */
	for (i = 1; i < k; i++)
		for (j = i; j > 0 && v[j].newest_ns > v[j - 1].newest_ns; j--) {
			t = v[j];
			v[j] = v[j - 1];
			v[j - 1] = t;
		}
	*out = v;
	*nout = k;
	return 0;
}

size_t
wiz_set_snaps(const struct snap_info *s, size_t n, const char *set, size_t *idx)
{
	size_t i, j, k = 0, t;

	for (i = 0; i < n; i++)
		if (wiz_in_set(&s[i], set))
			idx[k++] = i;
	for (i = 1; i < k; i++)
		for (j = i; j > 0 && s[idx[j]].time_ns > s[idx[j - 1]].time_ns; j--) {
			t = idx[j];
			idx[j] = idx[j - 1];
			idx[j - 1] = t;
		}
	return k;
}

/* ---- points in time ---- */

static int
digits(const char *p, int n, int *v)
{
	int i;

	*v = 0;
	for (i = 0; i < n; i++) {
		if (!isdigit((unsigned char)p[i]))
			return -1;
		*v = *v * 10 + (p[i] - '0');
	}
	return 0;
}

long
wiz_pick_before(const struct snap_info *s, const size_t *idx, size_t n, int64_t ns)
{
	size_t i;

	for (i = 0; i < n; i++)
		if (s[idx[i]].time_ns <= ns)
			return (long)i;
	return -1;
}

/* ---- verified snapshots ---- */

/*
 * An audit record's own time, "2026-11-24T13:51:46.123Z" (UTC) -> ns; -1
 * when malformed.  Exact, unlike an operator's time (snapsel_parse_time),
 * which names a whole day, minute or second.
 */
static int64_t
audit_time(const char *t)
{
	struct tm tm;
	const char *p;
	time_t s;
	int ms = 0;

	memset(&tm, 0, sizeof(tm));
	if (strlen(t) < 19 || (p = strptime(t, "%Y-%m-%dT%H:%M:%S", &tm)) != t + 19 ||
	    (*p == '.' && digits(p + 1, 3, &ms) != 0))
		return -1;
	if ((s = timegm(&tm)) < 0)
		return -1;
	return (int64_t)s * NS + (int64_t)ms * 1000000;
}

/* The first run of 8 to 64 hex digits after "snapshot " in s, if any. */
static int
snap_in(const char *s, char out[static 65])
{
	const char *p;
	size_t n;

	for (p = s; p && (p = strstr(p, "snapshot ")) != NULL; p++) {
		p += strlen("snapshot ");
		for (n = 0; n < 64 && isxdigit((unsigned char)p[n]); n++)
			;
		if (n >= 8 && !isxdigit((unsigned char)p[n])) {
			memcpy(out, p, n);
			out[n] = 0;
			for (; n; n--)
				out[n - 1] = (char)tolower((unsigned char)out[n - 1]);
			return 1;
		}
	}
	return 0;
}

int
wiz_proof_note(struct wiz_proofs *p, const char *repo, const char *time,
    const char *action, const char *object, const char *outcome, const char *detail)
{
	struct wiz_proof pr, *v;
	char *a = NULL, *b = NULL;
	int same;

	memset(&pr, 0, sizeof(pr));
	if (!action || !outcome || strcmp(outcome, "ok") != 0 || !time)
		return 0;
	if (!strcmp(action, "check --read-data")) {
		if (!object || !repo)
			return 0;
		same = strcmp(object, repo) == 0;
		if (!same && (a = realpath(object, NULL)) && (b = realpath(repo, NULL)))
			same = strcmp(a, b) == 0;
		free(a);
		free(b);
		if (!same)
			return 0;
	} else if (!strncmp(action, "restore", 7)) {
		/* a verified restore proves its own snapshot */
		if (!strstr(action, "verif") && !(detail && strstr(detail, "verif")))
			return 0;
		if (!(object && snap_in(object, pr.snap)) && !(detail && snap_in(detail, pr.snap)))
			return 0;
	} else {
		return 0;
	}
	if ((pr.ns = audit_time(time)) < 0)
		return 0;
	if ((v = realloc(p->v, (p->n + 1) * sizeof(*v))) == NULL)
		return BW_ERR_NOMEM;
	p->v = v;
	p->v[p->n++] = pr;
	return 0;
}

enum wiz_verified
wiz_verified(const struct wiz_proofs *p, const struct snap_info *s)
{
	char hex[65];
	size_t i;

	if (p->unreadable)
		return WIZ_VERIFY_UNKNOWN;
	hex_encode(hex, s->id, 32);
	for (i = 0; i < p->n; i++) {
		if (p->v[i].ns < (s->end_ns > s->time_ns ? s->end_ns : s->time_ns))
			continue;
		if (!p->v[i].snap[0] ||
		    !strncmp(hex, p->v[i].snap, strlen(p->v[i].snap)))
			return WIZ_VERIFY_YES;
	}
	return WIZ_VERIFY_NO;
}

void
wiz_proofs_clear(struct wiz_proofs *p)
{
	free(p->v);
	memset(p, 0, sizeof(*p));
}

/* ---- the browse shell ---- */

const char wiz_shell_help[] =
    "  ls [-l] [PATH]     list a directory (* marks what will be restored)\n"
    "  cd PATH            change directory (.. goes up, / is the top)\n"
    "  mark PATH|GLOB     select a file or directory (with everything below it)\n"
    "  unmark PATH|GLOB   drop a selection\n"
    "  marked             show what is selected\n"
    "  find PATTERN       search below the current directory (* ? [ ] globs)\n"
    "  done               restore what is marked\n"
    "  help               this text; q stops the wizard, nothing is written\n";

void
wiz_dirents_free(struct wiz_dirent *d, size_t n)
{
	size_t i;

	for (i = 0; d && i < n; i++) {
		free(d[i].name);
		free(d[i].link);
	}
	free(d);
}

char *
wiz_path_join(const char *cwd, const char *arg)
{
	char *out, *p;
	const char *s, *e;
	size_t len, n;

	len = strlen(cwd) + strlen(arg) + 3;
	if ((out = malloc(len)) == NULL)
		return NULL;
	out[0] = 0;
	n = 0;
	/* components of cwd (unless arg is absolute), then of arg */
	for (int pass = arg[0] == '/' ? 1 : 0; pass < 2; pass++) {
		for (s = pass ? arg : cwd; *s; s = e) {
			while (*s == '/')
				s++;
			if (!*s)
				break;
			for (e = s; *e && *e != '/'; e++)
				;
			if (e - s == 1 && s[0] == '.')
				continue;
			if (e - s == 2 && s[0] == '.' && s[1] == '.') {
				if ((p = strrchr(out, '/')) != NULL) {
					*p = 0;
					n = (size_t)(p - out);
				}
				continue;
			}
			out[n++] = '/';
			memcpy(out + n, s, (size_t)(e - s));
			n += (size_t)(e - s);
			out[n] = 0;
		}
	}
	if (n == 0) {
		out[0] = '/';
		out[1] = 0;
	}
	return out;
}

int
wiz_shell_init(struct wiz_shell *sh, wiz_list_fn *list, void *arg, const char *start)
{
	memset(sh, 0, sizeof(*sh));
	sh->list = list;
	sh->arg = arg;
	if ((sh->cwd = wiz_path_join("/", start ? start : "/")) == NULL)
		return BW_ERR_NOMEM;
	return 0;
}

void
wiz_shell_clear(struct wiz_shell *sh)
{
	size_t i;

	for (i = 0; i < sh->nmarks; i++)
		free(sh->marks[i]);
	free(sh->marks);
	free(sh->cwd);
	memset(sh, 0, sizeof(*sh));
}

/* Nonzero if path is dir or below it. */
static int
is_below(const char *path, const char *dir)
{
	size_t n = strlen(dir);

	if (!strcmp(dir, "/"))
		return 1;
	return !strncmp(path, dir, n) && (path[n] == 0 || path[n] == '/');
}

/* The mark that covers path (itself or an ancestor), or NULL. */
static const char *
marked_by(const struct wiz_shell *sh, const char *path)
{
	size_t i;

	for (i = 0; i < sh->nmarks; i++)
		if (is_below(path, sh->marks[i]))
			return sh->marks[i];
	return NULL;
}

static int
mark_add(struct wiz_shell *sh, const char *path, FILE *out)
{
	const char *by = marked_by(sh, path);
	char **v, *dup;
	size_t i, j, absorbed = 0;

	if (by) {
		if (strcmp(by, path))
			fprintf(out, "%s is already selected (inside %s)\n", path, by);
		else
			fprintf(out, "%s is already marked\n", path);
		return 0;
	}
	if ((dup = strdup(path)) == NULL)
		return BW_ERR_NOMEM;
	for (i = j = 0; i < sh->nmarks; i++) {
		if (is_below(sh->marks[i], path)) {
			free(sh->marks[i]);
			absorbed++;
		} else {
			sh->marks[j++] = sh->marks[i];
		}
	}
	sh->nmarks = j;
	if ((v = realloc(sh->marks, (sh->nmarks + 1) * sizeof(*v))) == NULL) {
		free(dup);
		return BW_ERR_NOMEM;
	}
	sh->marks = v;
	for (i = sh->nmarks; i > 0 && strcmp(v[i - 1], dup) > 0; i--)
		v[i] = v[i - 1];
	v[i] = dup;
	sh->nmarks++;
	fprintf(out, "marked %s", path);
	if (absorbed)
		fprintf(out, " (replaces %zu mark%s below it)", absorbed, absorbed == 1 ? "" : "s");
	fputc('\n', out);
	return 0;
}

static void
mark_del(struct wiz_shell *sh, const char *path, FILE *out)
{
	const char *by;
	size_t i;

	for (i = 0; i < sh->nmarks; i++)
		if (!strcmp(sh->marks[i], path)) {
			free(sh->marks[i]);
			memmove(&sh->marks[i], &sh->marks[i + 1],
			    (sh->nmarks - i - 1) * sizeof(*sh->marks));
			sh->nmarks--;
			fprintf(out, "unmarked %s\n", path);
			return;
		}
	if ((by = marked_by(sh, path)) != NULL)
		fprintf(out, "%s is selected as part of %s: unmark %s, then mark what you "
		    "want inside it\n", path, by, by);
	else
		fprintf(out, "%s is not marked\n", path);
}

/* Splits abs into its directory (malloc'd) and last component (pointer
 * into abs).  abs is not "/". */
static char *
split_dir(const char *abs, const char **base)
{
	const char *slash = strrchr(abs, '/');
	char *dir;

	*base = slash + 1;
	if (slash == abs)
		return strdup("/");
	if ((dir = malloc((size_t)(slash - abs) + 1)) == NULL)
		return NULL;
	memcpy(dir, abs, (size_t)(slash - abs));
	dir[slash - abs] = 0;
	return dir;
}

static void
say_list_error(FILE *out, const char *path, int rc)
{
	if (rc == BW_ERR_NOENT)
		fprintf(out, "%s: no such file or directory in this snapshot\n", path);
	else if (rc == BW_ERR_INVAL)
		fprintf(out, "%s: not a directory\n", path);
	else
		fprintf(out, "%s: cannot be read (%s)\n", path, bw_strerror(rc));
}

/*
 * Finds the entry for abs (not "/"): 0 with *kind set, or BW_ERR_NOENT,
 * or the lister's error.
 */
static int
stat_path(struct wiz_shell *sh, const char *abs, int *kind)
{
	struct wiz_dirent *d = NULL;
	const char *base;
	char *dir;
	size_t n = 0, i;
	int rc;

	if (!strcmp(abs, "/")) {
		*kind = TREE_DIR;
		return 0;
	}
	if ((dir = split_dir(abs, &base)) == NULL)
		return BW_ERR_NOMEM;
	rc = sh->list(sh->arg, dir, &d, &n);
	if (rc == BW_ERR_INVAL)
		rc = BW_ERR_NOENT;
	for (i = 0; rc == 0 && i < n && strcmp(d[i].name, base); i++)
		;
	if (rc == 0 && i == n)
		rc = BW_ERR_NOENT;
	if (rc == 0)
		*kind = d[i].kind;
	wiz_dirents_free(d, n);
	free(dir);
	return rc;
}

static int
is_marked(const struct wiz_shell *sh, const char *path)
{
	size_t i;

	for (i = 0; i < sh->nmarks; i++)
		if (!strcmp(sh->marks[i], path))
			return 1;
	return 0;
}

static int
has_glob(const char *s)
{
	return strpbrk(s, "*?[") != NULL;
}

static void
mode_string(char out[11], const struct wiz_dirent *e)
{
	static const char kinds[] = "?-dl-cbps";
	uint32_t m = e->mode;

	out[0] = e->kind > 0 && e->kind <= TREE_SOCK ? kinds[e->kind] : '?';
	out[1] = m & 0400 ? 'r' : '-';
	out[2] = m & 0200 ? 'w' : '-';
	out[3] = m & 04000 ? (m & 0100 ? 's' : 'S') : (m & 0100 ? 'x' : '-');
	out[4] = m & 040 ? 'r' : '-';
	out[5] = m & 020 ? 'w' : '-';
	out[6] = m & 02000 ? (m & 010 ? 's' : 'S') : (m & 010 ? 'x' : '-');
	out[7] = m & 04 ? 'r' : '-';
	out[8] = m & 02 ? 'w' : '-';
	out[9] = m & 01000 ? (m & 01 ? 't' : 'T') : (m & 01 ? 'x' : '-');
	out[10] = 0;
}

static int
child(const char *dir, const char *name, char **out)
{
	return asprintf(out, "%s%s%s", dir, strcmp(dir, "/") ? "/" : "", name) < 0 ?
	    BW_ERR_NOMEM : 0;
}

static int
cmd_ls(struct wiz_shell *sh, int longfmt, const char *arg, FILE *out)
{
	struct wiz_dirent *d = NULL;
	char *abs, *p = NULL, mode[11], when[32];
	size_t n = 0, i;
	int rc, kind;

	if ((abs = wiz_path_join(sh->cwd, arg ? arg : ".")) == NULL)
		return BW_ERR_NOMEM;
	rc = sh->list(sh->arg, abs, &d, &n);
	if (rc == BW_ERR_INVAL && stat_path(sh, abs, &kind) == 0) {
		/* a file: show the file itself */
		wiz_dirents_free(d, n);
		d = NULL;
		n = 0;
		fprintf(out, "%s%s\n", marked_by(sh, abs) ? "* " : "  ", abs);
		rc = 0;
		goto out;
	}
	if (rc != 0) {
		if (rc != BW_ERR_NOMEM)
			say_list_error(out, abs, rc);
		rc = rc == BW_ERR_NOMEM ? rc : 0;
		goto out;
	}
	if (n == 0)
		fprintf(out, "(empty directory)\n");
	for (i = 0; i < n; i++) {
		if ((rc = child(abs, d[i].name, &p)) != 0)
			goto out;
		fputs(marked_by(sh, p) ? "* " : "  ", out);
		if (longfmt) {
			time_t t = (time_t)d[i].mtime;
			struct tm tm;

			mode_string(mode, &d[i]);
			gmtime_r(&t, &tm);
			strftime(when, sizeof(when), "%Y-%m-%d %H:%M", &tm);
			fprintf(out, "%s %12llu %s ", mode, (unsigned long long)d[i].size, when);
		}
		fprintf(out, "%s%s", d[i].name, d[i].kind == TREE_DIR ? "/" : "");
		if (longfmt && d[i].link && *d[i].link)
			fprintf(out, " %s %s", d[i].kind == TREE_HARDLINK ? "=>" : "->",
			    d[i].link);
		fputc('\n', out);
		free(p);
		p = NULL;
	}
out:
	free(p);
	wiz_dirents_free(d, n);
	free(abs);
	return rc;
}

static int
cmd_cd(struct wiz_shell *sh, const char *arg, FILE *out)
{
	struct wiz_dirent *d = NULL;
	size_t n = 0;
	char *abs;
	int rc;

	if ((abs = wiz_path_join(sh->cwd, arg ? arg : "/")) == NULL)
		return BW_ERR_NOMEM;
	/* listing it proves it is a directory that can be read */
	if ((rc = sh->list(sh->arg, abs, &d, &n)) != 0) {
		say_list_error(out, abs, rc);
		free(abs);
		return rc == BW_ERR_NOMEM ? rc : 0;
	}
	wiz_dirents_free(d, n);
	free(sh->cwd);
	sh->cwd = abs;
	return 0;
}

/* mark / unmark: one path, or a glob in its last component. */
static int
cmd_mark(struct wiz_shell *sh, int add, const char *arg, FILE *out)
{
	struct wiz_dirent *d = NULL;
	const char *base;
	char *abs, *dir = NULL, *p = NULL;
	size_t n = 0, i, hits = 0;
	int rc = 0, kind;

	if ((abs = wiz_path_join(sh->cwd, arg)) == NULL)
		return BW_ERR_NOMEM;
	/* a name that exists as typed is taken literally, brackets and all */
	if (!has_glob(abs) || (add ? stat_path(sh, abs, &kind) == 0 :
	    is_marked(sh, abs))) {
		if (!add) {
			mark_del(sh, abs, out);
		} else if ((rc = stat_path(sh, abs, &kind)) == 0) {
			rc = mark_add(sh, abs, out);
		} else if (rc != BW_ERR_NOMEM) {
			say_list_error(out, abs, rc);
			rc = 0;
		}
		goto out;
	}
	if (!strcmp(abs, "/") || (dir = split_dir(abs, &base)) == NULL) {
		rc = BW_ERR_NOMEM;
		goto out;
	}
	if (has_glob(dir)) {
		fprintf(out, "%s: patterns work in the last part of a path only; cd there "
		    "first\n", arg);
		goto out;
	}
	if ((rc = sh->list(sh->arg, dir, &d, &n)) != 0) {
		if (rc != BW_ERR_NOMEM)
			say_list_error(out, dir, rc);
		rc = rc == BW_ERR_NOMEM ? rc : 0;
		goto out;
	}
	for (i = 0; i < n && rc == 0; i++) {
		if (fnmatch(base, d[i].name, FNM_PERIOD) != 0)
			continue;
		if ((rc = child(dir, d[i].name, &p)) != 0)
			break;
		hits++;
		if (add)
			rc = mark_add(sh, p, out);
		else
			mark_del(sh, p, out);
		free(p);
		p = NULL;
	}
	if (rc == 0 && hits == 0)
		fprintf(out, "nothing in %s matches %s\n", dir, base);
out:
	free(dir);
	wiz_dirents_free(d, n);
	free(abs);
	return rc;
}

struct find_state {
	struct wiz_shell *sh;
	const char *pat;
	int full;	/* the pattern has a '/': match whole paths */
	size_t hits;
	FILE *out;
};

static int
find_in(struct find_state *f, const char *dir, int depth)
{
	struct wiz_dirent *d = NULL;
	size_t n = 0, i;
	char *p = NULL;
	int rc;

	if (depth > 256)
		return 0;
	if ((rc = f->sh->list(f->sh->arg, dir, &d, &n)) != 0)
		return rc == BW_ERR_NOMEM ? rc : 0;	/* the lister said why */
	for (i = 0; i < n && rc == 0; i++) {
		if ((rc = child(dir, d[i].name, &p)) != 0)
			break;
		if (fnmatch(f->pat, f->full ? p : d[i].name, 0) == 0) {
			if (++f->hits <= FIND_MAX)
				fprintf(f->out, "%s%s%s\n", marked_by(f->sh, p) ? "* " : "  ", p,
				    d[i].kind == TREE_DIR ? "/" : "");
		}
		if (d[i].kind == TREE_DIR)
			rc = find_in(f, p, depth + 1);
		free(p);
		p = NULL;
	}
	wiz_dirents_free(d, n);
	return rc;
}

static int
cmd_find(struct wiz_shell *sh, const char *pat, FILE *out)
{
	struct find_state f = { sh, pat, strchr(pat, '/') != NULL, 0, out };
	char *abs = NULL;
	int rc;

	if (f.full && pat[0] != '/') {
		/* a relative path pattern is relative to the current directory */
		if (asprintf(&abs, "%s%s%s", sh->cwd, strcmp(sh->cwd, "/") ? "/" : "", pat) < 0)
			return BW_ERR_NOMEM;
		f.pat = abs;
	}
	rc = find_in(&f, sh->cwd, 0);
	if (rc == 0) {
		if (f.hits > FIND_MAX)
			fprintf(out, "... and %zu more; narrow the pattern or cd lower\n",
			    f.hits - FIND_MAX);
		fprintf(out, "%zu match%s below %s\n", f.hits, f.hits == 1 ? "" : "es", sh->cwd);
	}
	free(abs);
	return rc;
}

int
wiz_shell_run(struct wiz_shell *sh, const char *line, FILE *out)
{
	char *w[4] = { NULL }, *copy, *s, *save = NULL;
	size_t n = 0, i;
	int rc = WIZ_SHELL_MORE, longfmt = 0;

	if ((copy = strdup(line)) == NULL)
		return BW_ERR_NOMEM;
	for (s = strtok_r(copy, " \t\r\n", &save); s && n < 4; s = strtok_r(NULL, " \t\r\n", &save))
		w[n++] = s;
	if (n == 0)
		goto out;
	if (!strcmp(w[0], "ls")) {
		i = 1;
		if (n > 1 && !strcmp(w[1], "-l")) {
			longfmt = 1;
			i++;
		}
		if (n > i + 1)
			fprintf(out, "ls takes one path\n");
		else
			rc = cmd_ls(sh, longfmt, n > i ? w[i] : NULL, out);
	} else if (!strcmp(w[0], "cd")) {
		if (n > 2)
			fprintf(out, "cd takes one path\n");
		else
			rc = cmd_cd(sh, n > 1 ? w[1] : "/", out);
	} else if (!strcmp(w[0], "mark") || !strcmp(w[0], "unmark")) {
		if (n < 2)
			fprintf(out, "%s what? give a path or a pattern such as *.conf\n", w[0]);
		for (i = 1; i < n && rc == 0; i++)
			rc = cmd_mark(sh, w[0][0] == 'm', w[i], out);
	} else if (!strcmp(w[0], "marked")) {
		for (i = 0; i < sh->nmarks; i++)
			fprintf(out, "  %s\n", sh->marks[i]);
		fprintf(out, "%zu marked\n", sh->nmarks);
	} else if (!strcmp(w[0], "find")) {
		if (n != 2)
			fprintf(out, "find takes one pattern, such as find '*.conf'\n");
		else
			rc = cmd_find(sh, w[1], out);
	} else if (!strcmp(w[0], "done")) {
		if (sh->nmarks)
			rc = WIZ_SHELL_DONE;
		else
			fprintf(out, "nothing is marked yet: mark something first, or q to stop\n");
	} else if (!strcmp(w[0], "help") || !strcmp(w[0], "?")) {
		fputs(wiz_shell_help, out);
	} else if (!strcmp(w[0], "q") || !strcmp(w[0], "quit")) {
		rc = WIZ_SHELL_QUIT;
	} else {
		fprintf(out, "unknown command '%s'; type help\n", w[0]);
	}
out:
	free(copy);
	return rc;
}

/* ---- destination ---- */

void
wiz_default_target(char *out, size_t n, const char *base, const uint8_t id[static 32],
    time_t now)
{
	char hex[9], when[32];
	struct tm tm;

	hex_encode(hex, id, 4);
	localtime_r(&now, &tm);
	strftime(when, sizeof(when), "%Y%m%d-%H%M", &tm);
	snprintf(out, n, "%s/restore-%s-%s", base, hex, when);
}

static int
check_parent(const char *path, char *why, size_t whylen)
{
	const char *slash;
	struct stat st;
	char *dir;
	int rc = 0;

	if (path[0] != '/') {
		snprintf(why, whylen, "%s is not an absolute path (start it with /)", path);
		return BW_ERR_INVAL;
	}
	slash = strrchr(path, '/');
	if ((dir = strndup(path, slash == path ? 1 : (size_t)(slash - path))) == NULL) {
		snprintf(why, whylen, "out of memory");
		return BW_ERR_NOMEM;
	}
	if (stat(dir, &st) != 0) {
		snprintf(why, whylen, "%s does not exist (create it first, or choose another "
		    "place)", dir);
		rc = BW_ERR_INVAL;
	} else if (!S_ISDIR(st.st_mode)) {
		snprintf(why, whylen, "%s is not a directory", dir);
		rc = BW_ERR_INVAL;
	}
	free(dir);
	return rc;
}

int
wiz_check_dir(const char *path, char *why, size_t whylen)
{
	struct stat st;
	int rc;

	if (!strcmp(path, "/")) {
		snprintf(why, whylen, "/ means restoring in place; choose that option instead");
		return BW_ERR_INVAL;
	}
	if ((rc = check_parent(path, why, whylen)) != 0)
		return rc;
	if (stat(path, &st) == 0 && !S_ISDIR(st.st_mode)) {
		snprintf(why, whylen, "%s exists and is not a directory", path);
		return BW_ERR_INVAL;
	}
	return 0;
}

static int
ends_with(const char *s, const char *tail)
{
	size_t a = strlen(s), b = strlen(tail);

	return a > b && !strcmp(s + a - b, tail);
}

int
wiz_check_archive(const char *path, char *why, size_t whylen)
{
	struct stat st;
	int rc;

	if (!ends_with(path, ".tar") && !ends_with(path, ".tar.zst") && !ends_with(path, ".zip")) {
		snprintf(why, whylen, "%s: the name must end in .tar, .tar.zst or .zip", path);
		return BW_ERR_INVAL;
	}
	if ((rc = check_parent(path, why, whylen)) != 0)
		return rc;
	if (lstat(path, &st) == 0) {
		snprintf(why, whylen, "%s already exists; choose a new name", path);
		return BW_ERR_INVAL;
	}
	return 0;
}

/* ---- summary ---- */

uint64_t
wiz_estimate_sec(uint64_t bytes, uint64_t files)
{
	/* bytes / 150e6 + files / 5e3 = (bytes + 30,000 files) / 150e6 */
	uint64_t work = files > (UINT64_MAX - bytes) / 30000 ? UINT64_MAX :
	    bytes + files * 30000;

	return work / 150000000 + (work % 150000000 != 0);
}

void
wiz_duration(char *out, size_t n, uint64_t sec)
{
	if (sec <= 1)
		snprintf(out, n, "about a second");
	else if (sec < 90)
		snprintf(out, n, "about %llu s", (unsigned long long)sec);
	else if (sec < 90 * 60)
		snprintf(out, n, "about %llu min", (unsigned long long)((sec + 30) / 60));
	else
		snprintf(out, n, "about %llu h %llu min", (unsigned long long)(sec / 3600),
		    (unsigned long long)((sec % 3600 + 30) / 60 % 60));
}

/* ---- the operator's choices ---- */

int
wiz_shell_quote(struct buf *b, const char *s)
{
	const char *p;

	if (*s && strspn(s, "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz"
	    "0123456789_-./:=@%+,") == strlen(s))
		return buf_put(b, s, strlen(s));
	buf_put_u8(b, '\'');
	for (p = s; *p; p++) {
		if (*p == '\'')
			buf_put(b, "'\\''", 4);
		else
			buf_put_u8(b, (uint8_t)*p);
	}
	return buf_put_u8(b, '\'');
}

int
wiz_glob_escape(struct buf *b, const char *path)
{
	const char *p;

	for (p = path; *p; p++) {
		if (strchr("*?[]\\", *p))
			buf_put_u8(b, '\\');
		buf_put_u8(b, (uint8_t)*p);
	}
	return b->err;
}

static void
arg(struct buf *b, const char *flag, const char *v)
{
	buf_put_u8(b, ' ');
	buf_put(b, flag, strlen(flag));
	if (v) {
		buf_put_u8(b, ' ');
		wiz_shell_quote(b, v);
	}
}

int
wiz_cmdline(const struct wiz_choice *w, struct buf *out)
{
	static const char *const ow[] = { "never", "if-changed", "always" };
	struct buf pat = { 0 };
	char hex[65];
	size_t i;

	buf_reset(out);
	buf_put(out, "bulwark", 7);
	if (w->config)
		arg(out, "-c", w->config);
	arg(out, "restore", NULL);
	if (w->repo)
		arg(out, "--repo", w->repo);
	hex_encode(hex, w->snap, 32);
	arg(out, hex, NULL);
	if (w->archive)
		arg(out, "--to-archive", w->archive);
	else
		arg(out, "--target", w->target ? w->target : "/");
	arg(out, "--overwrite", ow[w->overwrite <= RESTORE_OVERWRITE_ALWAYS ? w->overwrite : 0]);
	if (w->verify)
		arg(out, "--verify", NULL);
	for (i = 0; i < w->nselect; i++) {
		buf_reset(&pat);
		wiz_glob_escape(&pat, w->select[i]);
		buf_put_u8(&pat, 0);
		if (pat.err)
			break;
		arg(out, "--include", (const char *)pat.data);
	}
	for (i = 0; i < w->nincludes; i++)
		arg(out, "--include", w->includes[i]);
	for (i = 0; i < w->nexcludes; i++)
		arg(out, "--exclude", w->excludes[i]);
	if (pat.err)
		out->err = pat.err;
	buf_free(&pat);
	return buf_put_u8(out, 0);
}

void
wiz_restore_opts(const struct wiz_choice *w, struct restore_opts *o)
{
	memcpy(o->snapshot, w->snap, OBJ_ID_LEN);
	o->path = "/";
	o->target = w->archive ? NULL : (w->target ? w->target : "/");
	o->archive = w->archive;
	o->includes = (const char *const *)w->includes;
	o->nincludes = w->nincludes;
	o->excludes = (const char *const *)w->excludes;
	o->nexcludes = w->nexcludes;
	o->select = (const char *const *)w->select;
	o->nselect = w->nselect;
	o->overwrite = w->overwrite;
	o->verify = w->verify;
}

static void
free_words(char **v, size_t n)
{
	size_t i;

	for (i = 0; i < n; i++)
		free(v[i]);
	free(v);
}

void
wiz_choice_clear(struct wiz_choice *w)
{
	free_words(w->includes, w->nincludes);
	free_words(w->excludes, w->nexcludes);
	free_words(w->select, w->nselect);
	w->includes = w->excludes = w->select = NULL;
	w->nincludes = w->nexcludes = w->nselect = 0;
}

int
wiz_words(const char *line, char ***v, size_t *n)
{
	const char *s = line, *e;
	char **nv;

	for (;;) {
		while (*s && isspace((unsigned char)*s))
			s++;
		if (!*s)
			return 0;
		for (e = s; *e && !isspace((unsigned char)*e); e++)
			;
		if ((nv = realloc(*v, (*n + 1) * sizeof(*nv))) == NULL)
			return BW_ERR_NOMEM;
		*v = nv;
		if ((nv[*n] = strndup(s, (size_t)(e - s))) == NULL)
			return BW_ERR_NOMEM;
		(*n)++;
		s = e;
	}
}
