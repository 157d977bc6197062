/*
 * diff: what changed between two snapshots.  The trees are compared
 * directory by directory; a directory whose subtree id is the same in both
 * (the id of its tree's plaintext: equal ids, equal contents all the way
 * down) is skipped without loading it, so the cost follows the changes, not
 * the size of the snapshots.
 */
#include "config.h"

#include <stdarg.h>
#include <stdlib.h>
#include <string.h>

#include "cli/cli.h"
#include "lib/repo/walk.h"
#include "lib/util/err.h"
#include "lib/util/log.h"

static const char help[] =
    "usage: bulwark diff [--repo DIR] [--set NAME] [--tag TAG] [--json] SNAPSHOT1 SNAPSHOT2\n\n"
    "Shows what changed from SNAPSHOT1 to SNAPSHOT2, one path a line:\n"
    "  +  added            -  removed\n"
    "  M  contents changed (old and new size; a symbolic link's target)\n"
    "  U  metadata only: which of mode, owner, mtime, xattrs, acl changed\n"
    "  T  type changed (e.g. file -> dir)\n"
    "Directories end with '/'; the contents of an added or removed directory are\n"
    "listed too.  A directory's own mtime is not reported (it changes whenever\n"
    "its contents do).  The totals go to stderr.  --json prints one object with\n"
    "\"changes\" and \"totals\".\n\n"
    "A SNAPSHOT is 'latest', a hex id prefix, or a time 'YYYY-MM-DD[ HH:MM[:SS]]'\n"
    "(local time; end with Z for UTC) meaning the newest snapshot at or before\n"
    "it; --set and --tag choose among one backup set's or one tag's snapshots.\n\n"
    "Needs a key with the read (or admin) capability.  Exit codes: 0 compared,\n"
    "2 usage or malformed snapshot, 4 snapshot not found, 5 wrong passphrase or\n"
    "write-only key, 6 a directory's tree is damaged (named).\n";

/* Directory nesting beyond what a file system allows: a hostile tree. */
#define DIFF_DEPTH_MAX 4096

struct totals {
	uint64_t added, removed, changed, meta, type;
	uint64_t bytes_added, bytes_removed;
};

struct diff {
	struct repo *r;
	const char *sid[2];
	int json;
	struct totals t;
	uint64_t loaded, skipped;	/* directories compared / skipped by id */
	unsigned damaged;
	struct buf path;
	char sign;			/* for listing added or removed contents */
};

static void
emit(struct diff *d, char what, const char *path, const struct tree_entry *o,
    const struct tree_entry *n, const char *detail)
{
	static const char *const names[] = { "added", "removed", "modified", "metadata", "type" };
	const struct tree_entry *e = n ? n : o;
	int which = what == '+' ? 0 : what == '-' ? 1 : what == 'M' ? 2 : what == 'U' ? 3 : 4;
	int dir = e->kind == TREE_DIR;

	switch (what) {
	case '+': d->t.added++; break;
	case '-': d->t.removed++; break;
	case 'M': d->t.changed++; break;
	case 'U': d->t.meta++; break;
	default: d->t.type++; break;
	}
	/* sizes of files that appear or disappear; a modified file's change
	 * in size is in its line */
	if (o && o->kind == TREE_FILE && (what == '-' || what == 'T'))
		d->t.bytes_removed += o->size;
	if (n && n->kind == TREE_FILE && (what == '+' || what == 'T'))
		d->t.bytes_added += n->size;
	if (d->json) {
		printf("%s{", d->t.added + d->t.removed + d->t.changed + d->t.meta + d->t.type > 1 ?
		    ",\n" : "");
		json_kv_str(stdout, "change", names[which], 0);
		json_kv_str(stdout, "path", path, 1);
		json_kv_str(stdout, "type", cli_kind_name(e->kind), 1);
		if (o && o->kind != e->kind)
			json_kv_str(stdout, "old_type", cli_kind_name(o->kind), 1);
		if (o && o->kind == TREE_FILE)
			json_kv_u64(stdout, "old_size", o->size, 1);
		if (n && n->kind == TREE_FILE)
			json_kv_u64(stdout, "new_size", n->size, 1);
		if (detail)
			json_kv_str(stdout, "detail", detail, 1);
		putchar('}');
		return;
	}
	printf("%c  %s%s%s%s%s\n", what, path, dir && strcmp(path, "/") ? "/" : "",
	    detail ? "  (" : "", detail ? detail : "", detail ? ")" : "");
}

static int
on_tree_err(const char *path, const uint8_t id[32], int err, void *arg)
{
	struct diff *d = arg;
	char hex[65];

	hex_encode(hex, id, 32);
	log_error("snapshot %s: directory %s: tree object %.16s %s (%s); its contents are not "
	    "compared; run 'bulwark check'", d->sid[d->sign == '+'], path, hex,
	    err == BW_ERR_NOENT ? "is missing" : "cannot be read", bw_strerror(err));
	d->damaged++;
	return 0;
}

static int
on_listed(const char *path, const struct tree_entry *e, void *arg)
{
	struct diff *d = arg;

	emit(d, d->sign, path, d->sign == '-' ? e : NULL, d->sign == '+' ? e : NULL, NULL);
	return 0;
}

/* Lists everything below an added or removed directory. */
static int
list_below(struct diff *d, char sign, const char *path, const struct tree_entry *dir)
{
	struct walk_opts wo = { on_listed, on_tree_err, d, NULL };

	d->sign = sign;
	return walk_subtree(d->r, path, dir, &wo);
}

static int
same_xattrs(const struct tree_entry *a, const struct tree_entry *b)
{
	size_t i;

	if (a->nxattrs != b->nxattrs)
		return 0;
	for (i = 0; i < a->nxattrs; i++)
		if (strcmp(a->xattrs[i].name, b->xattrs[i].name) != 0 ||
		    a->xattrs[i].len != b->xattrs[i].len ||
		    memcmp(a->xattrs[i].value, b->xattrs[i].value, a->xattrs[i].len) != 0)
			return 0;
	return 1;
}

/* The metadata that differs, as "mode -rw-r--r-- -> -rw-------, mtime";
 * empty if none.  A directory's mtime is left out on purpose. */
static void
meta_changes(char *out, size_t n, const struct tree_entry *a, const struct tree_entry *b)
{
	char ma[11], mb[11];
	size_t len = 0;

	out[0] = 0;
#define ADD(...) do { \
	snprintf(out + len, n - len, "%s", len ? ", " : ""); \
	len = strlen(out); \
	snprintf(out + len, n - len, __VA_ARGS__); \
	len = strlen(out); \
} while (0)
	if (a->mode != b->mode) {
		cli_mode_string(ma, a->kind, a->mode);
		cli_mode_string(mb, b->kind, b->mode);
		ADD("mode %s -> %s", ma, mb);
	}
	if (a->uid != b->uid || a->gid != b->gid || strcmp(a->uname, b->uname) != 0 ||
	    strcmp(a->gname, b->gname) != 0)
		ADD("owner");
	if (a->kind != TREE_DIR && (a->mtime_sec != b->mtime_sec || a->mtime_nsec != b->mtime_nsec))
		ADD("mtime");
	if (!same_xattrs(a, b))
		ADD("xattrs");
	if (strcmp(a->acl_access, b->acl_access) != 0 || strcmp(a->acl_default, b->acl_default) != 0)
		ADD("acl");
#undef ADD
}

/* snprintf whose truncation of a very long link target is accepted. */
static void __attribute__((format(printf, 3, 4)))
fmt(char *out, size_t n, const char *f, ...)
{
	va_list ap;

	va_start(ap, f);
	vsnprintf(out, n, f, ap);
	va_end(ap);
}

static int cmp_dirs(struct diff *d, const struct tree_entry *a, const struct tree_entry *b,
    const uint8_t *ra, const uint8_t *rb, int depth);

/* Compares two entries of one kind other than a directory. */
static void
cmp_leaf(struct diff *d, const char *path, const struct tree_entry *a,
    const struct tree_entry *b, const char *meta)
{
	char detail[8192], sa[32], sb[32];
	int content;

	switch (a->kind) {
	case TREE_FILE:
		content = a->size != b->size || memcmp(a->hash, b->hash, 32) != 0;
		cli_human_bytes(sa, sizeof(sa), a->size);
		cli_human_bytes(sb, sizeof(sb), b->size);
		fmt(detail, sizeof(detail), "%s -> %s%s%s", sa, sb, *meta ? "; " : "", meta);
		break;
	case TREE_SYMLINK:
	case TREE_HARDLINK:
		content = strcmp(a->link, b->link) != 0;
		fmt(detail, sizeof(detail), "%s -> %s%s%s", a->link, b->link,
		    *meta ? "; " : "", meta);
		break;
	default:
		content = a->rdev != b->rdev;
		fmt(detail, sizeof(detail), "device number%s%s", *meta ? "; " : "", meta);
		break;
	}
	if (content)
		emit(d, 'M', path, a, b, detail);
	else if (*meta)
		emit(d, 'U', path, a, b, meta);
}

/* Recursive through cmp_dirs: kept small on the stack (the link targets'
 * buffer is in cmp_leaf), since a tree may nest DIFF_DEPTH_MAX deep. */
static int
cmp_entry(struct diff *d, const char *path, const struct tree_entry *a,
    const struct tree_entry *b, int depth)
{
	char detail[64], meta[200];

	if (a->kind != b->kind) {
		snprintf(detail, sizeof(detail), "%s -> %s", cli_kind_name(a->kind),
		    cli_kind_name(b->kind));
		emit(d, 'T', path, a, b, detail);
		if (a->kind == TREE_DIR)
			return list_below(d, '-', path, a);
		if (b->kind == TREE_DIR)
			return list_below(d, '+', path, b);
		return 0;
	}
	meta_changes(meta, sizeof(meta), a, b);
	if (a->kind != TREE_DIR) {
		cmp_leaf(d, path, a, b, meta);
		return 0;
	}
	if (*meta)
		emit(d, 'U', path, a, b, meta);
	return cmp_dirs(d, a, b, NULL, NULL, depth + 1);
}

/* Loads one side's tree; a failure is reported once and counted. */
static int
load_side(struct diff *d, int side, const uint8_t *root, const struct tree_entry *e,
    struct tree **t)
{
	int rc = walk_load(d->r, root ? root : e->subtree, root ? NULL : &e->content, t);

	if (rc == 0 || rc == BW_ERR_NOMEM)
		return rc;
	d->sign = side ? '+' : '-';
	if (buf_put_u8(&d->path, 0) != 0)
		return BW_ERR_NOMEM;
	d->path.len--;
	on_tree_err(d->path.len ? (char *)d->path.data : "/", root ? root : e->subtree, rc, d);
	return 1;	/* reported: the directory is left out */
}

/* Compares two directories (entries a and b, or the roots ra and rb);
 * d->path holds their path. */
static int
cmp_dirs(struct diff *d, const struct tree_entry *a, const struct tree_entry *b,
    const uint8_t *ra, const uint8_t *rb, int depth)
{
	struct tree *ta = NULL, *tb = NULL;
	size_t i = 0, j = 0, base = d->path.len;
	int rc, c;

	if (memcmp(ra ? ra : a->subtree, rb ? rb : b->subtree, 32) == 0) {
		d->skipped++;
		return 0;
	}
	if (depth > DIFF_DEPTH_MAX) {
		log_error("snapshots %s and %s: directories nested deeper than %d; the repository "
		    "is damaged; run 'bulwark check'", d->sid[0], d->sid[1], DIFF_DEPTH_MAX);
		d->damaged++;
		return 0;
	}
	if ((rc = load_side(d, 0, ra, a, &ta)) != 0 || (rc = load_side(d, 1, rb, b, &tb)) != 0) {
		rc = rc > 0 ? 0 : rc;
		goto out;
	}
	d->loaded++;
	while (i < ta->n || j < tb->n) {
		const struct tree_entry *x = i < ta->n ? &ta->e[i] : NULL;
		const struct tree_entry *y = j < tb->n ? &tb->e[j] : NULL;

		c = !x ? 1 : !y ? -1 : strcmp(x->name, y->name);
		d->path.len = base;
		buf_put_u8(&d->path, '/');
		buf_put(&d->path, (c <= 0 ? x : y)->name, strlen((c <= 0 ? x : y)->name));
		buf_put_u8(&d->path, 0);
		if ((rc = d->path.err) != 0)
			goto out;
		d->path.len--;
		if (c < 0) {
			emit(d, '-', (char *)d->path.data, x, NULL, NULL);
			if (x->kind == TREE_DIR)
				rc = list_below(d, '-', (char *)d->path.data, x);
			i++;
		} else if (c > 0) {
			emit(d, '+', (char *)d->path.data, NULL, y, NULL);
			if (y->kind == TREE_DIR)
				rc = list_below(d, '+', (char *)d->path.data, y);
			j++;
		} else {
			rc = cmp_entry(d, (char *)d->path.data, x, y, depth);
			i++;
			j++;
		}
		if (rc)
			goto out;
	}
	rc = 0;
out:
	d->path.len = base;
	tree_free(ta);
	tree_free(tb);
	return rc;
}

static void
json_snap(const char *key, const struct snap_info *s, int comma)
{
	char hex[65], when[32];

	hex_encode(hex, s->id, 32);
	cli_time_utc(when, sizeof(when), s->time_ns);
	printf("%s\"%s\":{", comma ? "," : "", key);
	json_kv_str(stdout, "id", hex, 0);
	json_kv_str(stdout, "time", when, 1);
	printf("}");
}

int
cmd_diff(struct cli *c, int argc, char **argv)
{
	struct diff d;
	struct snap_info s[2];
	const char *set = NULL, *tag = NULL;
	char sid[2][9], ba[32], br[32];
	int ch, rc, x, k;

	memset(&d, 0, sizeof(d));
	memset(s, 0, sizeof(s));
	if ((ch = cli_parse_snapsel(c, argc, argv, help, &set, &tag)) >= 0)
		return ch;
	if (optind != argc - 2)
		return cli_usage(stderr, help, EXIT_USAGE);
	d.json = c->json;
	if ((rc = cli_open_repo(c, &d.r)) != 0)
		goto out;
	if ((rc = cli_need_read(d.r, "compare snapshots' files")) != 0)
		goto out;
	if ((x = repo_lock(d.r, 0)) != 0) {
		rc = cli_exit(x);
		goto out;
	}
	for (k = 0; k < 2; k++) {
		if ((rc = cli_load_snapshot(c, d.r, argv[optind + k], set, tag, &s[k])) != 0)
			goto out;
		cli_id_short(sid[k], s[k].id);
		d.sid[k] = sid[k];
	}
	if (d.json) {
		putchar('{');
		json_snap("from", &s[0], 0);
		json_snap("to", &s[1], 1);
		printf(",\"changes\":[");
	}
	x = cmp_dirs(&d, NULL, NULL, s[0].root, s[1].root, 0);
	if (x) {
		log_error("snapshots %s and %s: the comparison stopped: %s", sid[0], sid[1],
		    bw_strerror(x));
		rc = cli_exit(x);
	} else if (d.damaged) {
		rc = EXIT_DAMAGED;
	}
	log_debug("diff: %llu directories compared, %llu unchanged ones skipped by id",
	    (unsigned long long)d.loaded, (unsigned long long)d.skipped);
	cli_human_bytes(ba, sizeof(ba), d.t.bytes_added);
	cli_human_bytes(br, sizeof(br), d.t.bytes_removed);
	if (d.json) {
		printf("],\"totals\":{");
		json_kv_u64(stdout, "added", d.t.added, 0);
		json_kv_u64(stdout, "removed", d.t.removed, 1);
		json_kv_u64(stdout, "modified", d.t.changed, 1);
		json_kv_u64(stdout, "metadata", d.t.meta, 1);
		json_kv_u64(stdout, "type", d.t.type, 1);
		json_kv_u64(stdout, "bytes_added", d.t.bytes_added, 1);
		json_kv_u64(stdout, "bytes_removed", d.t.bytes_removed, 1);
		printf("},\"complete\":%s}\n", rc ? "false" : "true");
	} else if (!c->quiet) {
		fprintf(stderr, "%s -> %s: %llu added, %llu removed, %llu modified, %llu metadata "
		    "only, %llu type changed; %s in added files, %s in removed ones%s\n", sid[0], sid[1],
		    (unsigned long long)d.t.added, (unsigned long long)d.t.removed,
		    (unsigned long long)d.t.changed, (unsigned long long)d.t.meta,
		    (unsigned long long)d.t.type, ba, br,
		    rc ? " (incomplete: see the errors above)" : "");
	}
out:
	if (d.r)
		cli_audit(c, "diff", repo_path(d.r), rc ? "failed" : "ok", "snapshots %s and %s",
		    s[0].have_body ? sid[0] : argv[optind],
		    s[1].have_body ? sid[1] : argv[optind + 1]);
	buf_free(&d.path);
	snap_info_clear(&s[0]);
	snap_info_clear(&s[1]);
	repo_free(d.r);
	return rc;
}
