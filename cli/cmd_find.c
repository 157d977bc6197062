/*
 * find: which snapshots hold files matching a pattern, grouped by path and
 * by version (contents, size, mtime).
 *
 * Snapshots share most of their directories.  A walk's seen set would skip
 * a shared subtree in every snapshot after the first, losing its matches
 * there, so find keeps its own memo: for each directory tree it has walked
 * (keyed by the tree's id, and by its path too when the pattern looks at
 * whole paths), the matches directly in it and the subdirectories with
 * matches below.  A tree met again is replayed from the memo without being
 * fetched; a directory with no match below costs one hash table entry.
 */
#include "config.h"

#include <fnmatch.h>
#include <stdlib.h>
#include <string.h>

#include "cli/cli.h"
#include "lib/repo/snapsel.h"
#include "lib/repo/walk.h"
#include "lib/util/err.h"
#include "lib/util/log.h"

static const char help[] =
    "usage: bulwark find [--repo DIR] [--set NAME] [--tag TAG] [--json] PATTERN\n\n"
    "Searches every snapshot (or those of one backup set or with one tag) for\n"
    "entries whose name matches PATTERN (shell wildcards: * ? [...]; quote it),\n"
    "or whose whole path matches when PATTERN holds a '/' (there * also matches\n"
    "'/').  For each path found it lists each distinct version (contents, size\n"
    "and mtime) with the snapshots that hold it (short id and time, UTC).\n"
    "--json prints an array of {\"path\", \"versions\": [...]}.\n\n"
    "Needs a key with the read (or admin) capability.  Exit codes: 0 found,\n"
    "2 usage, 4 nothing matched or no snapshots (in that set or with that tag),\n"
    "5 wrong passphrase or write-only key, 6 a directory's tree is damaged\n"
    "(named; the other snapshots are still searched).\n";

/* Directory nesting beyond what a file system allows: a hostile tree. */
#define FIND_DEPTH_MAX 4096

/* One entry that matched, as it is in one directory tree. */
struct hit {
	char *name;
	uint8_t kind;
	uint8_t ver[32];		/* file hash or directory subtree id */
	uint64_t size;
	int64_t mtime_sec;
	uint32_t mtime_nsec;
	char *link;
};

struct child { char *name; uint8_t key[32]; };

/* What a directory tree holds for this pattern. */
struct node {
	struct hit *h; size_t nh;
	struct child *c; size_t nc;
};

/* One match in one snapshot: its path and version. */
struct rec {
	char *path;
	struct hit h;			/* name unused */
	size_t snap;			/* index in the snapshot list */
};

struct find {
	struct repo *r;
	const char *pattern;
	int whole_path;
	struct idset *memo;		/* key -> node index + 1, or 0: nothing below */
	struct node *nodes; size_t nnodes, capnodes;
	struct rec *recs; size_t nrecs, caprecs;
	size_t snap;
	const char *sid;
	uint64_t loaded, replayed;
	unsigned damaged;
};

static int
matches(const struct find *f, const char *path, const char *name)
{
	return fnmatch(f->pattern, f->whole_path ? path : name, 0) == 0;
}

/* The memo key of a directory: its tree id, and its path when the pattern
 * sees whole paths (the same tree elsewhere matches differently). */
static void
memo_key(const struct find *f, const uint8_t id[32], const char *path, uint8_t key[32])
{
	struct buf b = { 0 };

	/* a keyed hash used only as a table key, never stored */
	if (!f->whole_path || buf_put(&b, id, 32) != 0 || buf_put(&b, path, strlen(path)) != 0 ||
	    repo_object_id(f->r, OBJ_TREE, b.data, b.len, key) != 0)
		memcpy(key, id, 32);
	buf_free(&b);
}

static int
add_rec(struct find *f, const char *path, const struct hit *h)
{
	struct rec *v;

	if (f->nrecs == f->caprecs) {
		size_t cap = f->caprecs ? 2 * f->caprecs : 64;

		if ((v = realloc(f->recs, cap * sizeof(*v))) == NULL)
			return BW_ERR_NOMEM;
		f->recs = v;
		f->caprecs = cap;
	}
	v = &f->recs[f->nrecs];
	v->h = *h;
	v->h.name = NULL;
	v->path = strdup(path);
	v->h.link = strdup(h->link);
	if (!v->path || !v->h.link) {
		free(v->path);
		free(v->h.link);
		return BW_ERR_NOMEM;
	}
	f->recs[f->nrecs].snap = f->snap;
	f->nrecs++;
	return 0;
}

/* Appends "/name" to path; returns the old length to restore. */
static int
push(struct buf *path, const char *name, size_t *old)
{
	*old = path->len;
	buf_put_u8(path, '/');
	buf_put(path, name, strlen(name));
	buf_put_u8(path, 0);
	if (path->err)
		return BW_ERR_NOMEM;
	path->len--;
	return 0;
}

/* Records again, under path, every match below a memoised tree. */
static int
replay(struct find *f, uint64_t v, struct buf *path)
{
	const struct node *nd;
	size_t i, old;
	uint64_t cv;
	int rc = 0;

	if (v == 0)
		return 0;
	nd = &f->nodes[v - 1];
	f->replayed++;
	for (i = 0; i < nd->nh && rc == 0; i++) {
		if ((rc = push(path, nd->h[i].name, &old)) == 0)
			rc = add_rec(f, (char *)path->data, &nd->h[i]);
		path->len = old;
	}
	for (i = 0; i < nd->nc && rc == 0; i++) {
		if ((rc = push(path, nd->c[i].name, &old)) == 0 &&
		    idset_get(f->memo, nd->c[i].key, &cv))
			rc = replay(f, cv, path);
		path->len = old;
	}
	return rc;
}

static void
node_clear(struct node *nd)
{
	size_t i;

	for (i = 0; i < nd->nh; i++) {
		free(nd->h[i].name);
		free(nd->h[i].link);
	}
	for (i = 0; i < nd->nc; i++)
		free(nd->c[i].name);
	free(nd->h);
	free(nd->c);
	memset(nd, 0, sizeof(*nd));
}

static int
hit_from(struct hit *h, const struct tree_entry *e)
{
	memset(h, 0, sizeof(*h));
	h->kind = e->kind;
	memcpy(h->ver, e->kind == TREE_DIR ? e->subtree : e->hash, 32);
	h->size = e->size;
	h->mtime_sec = e->mtime_sec;
	h->mtime_nsec = e->mtime_nsec;
	h->name = strdup(e->name);
	h->link = strdup(e->link);
	return h->name && h->link ? 0 : BW_ERR_NOMEM;
}

/*
 * Searches the directory tree id (stored as desc; NULL for the root) at
 * path, recording its matches for the current snapshot; *v receives its
 * memo value.  Unreadable trees are reported and count as empty.
 */
static int
visit(struct find *f, const uint8_t id[32], const struct tree_content *desc,
    struct buf *path, int depth, uint64_t *v)
{
	struct node nd = { 0 };
	struct tree *t = NULL;
	uint8_t key[32], ckey[32];
	const char *shown;
	size_t i, old;
	uint64_t cv;
	int rc;

	*v = 0;
	if (buf_put_u8(path, 0) != 0)
		return BW_ERR_NOMEM;
	path->len--;
	shown = path->len ? (char *)path->data : "/";
	memo_key(f, id, shown, key);
	if (idset_get(f->memo, key, v))
		return replay(f, *v, path);
	if (depth > FIND_DEPTH_MAX)
		rc = BW_ERR_CORRUPT;
	else
		rc = walk_load(f->r, id, desc, &t);
	if (rc) {
		char hex[65];

		if (rc == BW_ERR_NOMEM)
			return rc;
		hex_encode(hex, id, 32);
		log_error("snapshot %s: directory %s: tree object %.16s %s (%s); not searched; "
		    "run 'bulwark check'", f->sid, shown, hex,
		    rc == BW_ERR_NOENT ? "is missing" : "cannot be read", bw_strerror(rc));
		f->damaged++;
		/* reported once: the same tree in other snapshots is skipped */
		return idset_put(f->memo, key, 0, NULL);
	}
	f->loaded++;
	for (i = 0; i < t->n; i++) {
		const struct tree_entry *e = &t->e[i];
		struct hit *nh;
		struct child *nc;

		if ((rc = push(path, e->name, &old)) != 0)
			goto out;
		if (matches(f, (char *)path->data, e->name)) {
			if ((nh = realloc(nd.h, (nd.nh + 1) * sizeof(*nh))) == NULL) {
				rc = BW_ERR_NOMEM;
				goto out;
			}
			nd.h = nh;
			rc = hit_from(&nd.h[nd.nh++], e);
			if (rc == 0)
				rc = add_rec(f, (char *)path->data, &nd.h[nd.nh - 1]);
			if (rc)
				goto out;
		}
		if (e->kind == TREE_DIR) {
			/* the key is taken while path ends here: below, the walk
			 * writes past it */
			memo_key(f, e->subtree, (char *)path->data, ckey);
			if ((rc = visit(f, e->subtree, &e->content, path, depth + 1, &cv)) != 0)
				goto out;
			if (cv) {
				if ((nc = realloc(nd.c, (nd.nc + 1) * sizeof(*nc))) == NULL ||
				    (nc[nd.nc].name = strdup(e->name)) == NULL) {
					if (nc)
						nd.c = nc;
					rc = BW_ERR_NOMEM;
					goto out;
				}
				nd.c = nc;
				memcpy(nd.c[nd.nc++].key, ckey, 32);
			}
		}
		path->len = old;
	}
	rc = 0;
	if (nd.nh || nd.nc) {
		if (f->nnodes == f->capnodes) {
			size_t cap = f->capnodes ? 2 * f->capnodes : 64;
			struct node *nn = realloc(f->nodes, cap * sizeof(*nn));

			if (!nn) {
				rc = BW_ERR_NOMEM;
				goto out;
			}
			/* records point at hits, which are not moved by this */
			f->nodes = nn;
			f->capnodes = cap;
		}
		f->nodes[f->nnodes++] = nd;
		memset(&nd, 0, sizeof(nd));
		*v = f->nnodes;
	}
	rc = idset_put(f->memo, key, *v, NULL);
out:
	node_clear(&nd);
	tree_free(t);
	return rc;
}

static int
rec_cmp(const void *a, const void *b)
{
	const struct rec *x = a, *y = b;
	int c;

	if ((c = strcmp(x->path, y->path)) != 0)
		return c;
	/* versions in the order they first appear */
	return x->snap < y->snap ? -1 : x->snap > y->snap;
}

static int
same_version(const struct hit *a, const struct hit *b)
{
	return a->kind == b->kind && memcmp(a->ver, b->ver, 32) == 0 && a->size == b->size &&
	    a->mtime_sec == b->mtime_sec && a->mtime_nsec == b->mtime_nsec &&
	    strcmp(a->link, b->link) == 0;
}

/* Prints the matches of one path, recs[0..n) sorted by snapshot. */
static void
print_path(const struct find *f, const struct snap_info *s, const struct rec *recs, size_t n,
    int json, int first, uint64_t *nver)
{
	char *done = calloc(n, 1);
	char sid[9], when[32], mt[32], size[32], hex[65];
	size_t i, j, k, count;

	(void)f;
	if (!done)
		return;
	if (json) {
		printf("%s{", first ? "" : ",\n");
		json_kv_str(stdout, "path", recs[0].path, 0);
		printf(",\"versions\":[");
	} else {
		printf("%s\n", recs[0].path);
	}
	for (i = 0, k = 0; i < n; i++) {
		const struct hit *h = &recs[i].h;

		if (done[i])
			continue;
		for (count = 0, j = i; j < n; j++)
			if (!done[j] && same_version(&recs[j].h, h))
				count++;
		cli_time_utc(mt, sizeof(mt), (long long)h->mtime_sec * 1000000000LL);
		cli_human_bytes(size, sizeof(size), h->size);
		if (json) {
			hex_encode(hex, h->ver, 32);
			printf("%s{", k ? "," : "");
			json_kv_str(stdout, "type", cli_kind_name(h->kind), 0);
			json_kv_u64(stdout, "size", h->size, 1);
			json_kv_str(stdout, "mtime", mt, 1);
			printf(",\"mtime_ns\":%lld",
			    (long long)h->mtime_sec * 1000000000LL + h->mtime_nsec);
			if (h->kind == TREE_FILE || h->kind == TREE_DIR)
				json_kv_str(stdout, "content_id", hex, 1);
			if (h->kind == TREE_SYMLINK || h->kind == TREE_HARDLINK)
				json_kv_str(stdout, "link", h->link, 1);
			printf(",\"snapshots\":[");
		} else {
			printf("  version %zu: %s", k + 1, cli_kind_name(h->kind));
			if (h->kind == TREE_FILE)
				printf(", %s", size);
			if (h->kind == TREE_SYMLINK || h->kind == TREE_HARDLINK)
				printf(" to %s", h->link);
			printf(", mtime %s, in %zu snapshot%s:", mt, count, count == 1 ? "" : "s");
		}
		for (count = 0, j = i; j < n; j++) {
			if (done[j] || !same_version(&recs[j].h, h))
				continue;
			done[j] = 1;
			cli_id_short(sid, s[recs[j].snap].id);
			cli_time_utc(when, sizeof(when), s[recs[j].snap].time_ns);
			if (json) {
				hex_encode(hex, s[recs[j].snap].id, 32);
				printf("%s{", count ? "," : "");
				json_kv_str(stdout, "id", hex, 0);
				json_kv_str(stdout, "time", when, 1);
				putchar('}');
			} else {
				printf("%s %s (%s)", count ? "," : "", sid, when);
			}
			count++;
		}
		if (json)
			printf("]}");
		else
			putchar('\n');
		k++;
	}
	if (json)
		printf("]}");
	*nver += k;
	free(done);
}

int
cmd_find(struct cli *c, int argc, char **argv)
{
	struct find f;
	struct snap_info *s = NULL, full;
	struct buf path = { 0 };
	const char *set = NULL, *tag = NULL;
	size_t n = 0, i, j, searched = 0, paths = 0;
	uint64_t v, nver = 0;
	char sid[9];
	int ch, rc, x;
	unsigned char *held = NULL;
	size_t nheld = 0;

	memset(&f, 0, sizeof(f));
	memset(&full, 0, sizeof(full));
	if ((ch = cli_parse_snapsel(c, argc, argv, help, &set, &tag)) >= 0)
		return ch;
	if (optind != argc - 1 || !*argv[optind])
		return cli_usage(stderr, help, EXIT_USAGE);
	f.pattern = argv[optind];
	f.whole_path = strchr(f.pattern, '/') != NULL;
	if ((rc = cli_open_repo(c, &f.r)) != 0)
		goto out;
	if ((rc = cli_need_read(f.r, "search snapshots' files")) != 0)
		goto out;
	if ((x = repo_lock(f.r, 0)) != 0 || (x = repo_snapshots(f.r, &s, &n, NULL)) != 0) {
		rc = cli_exit(x);
		goto out;
	}
	if ((f.memo = idset_new()) == NULL) {
		rc = EXIT_ERROR;
		goto out;
	}
	for (i = 0; i < n; i++) {
		if (!snapsel_filter(&s[i], set, tag))
			continue;
		cli_id_short(sid, s[i].id);
		f.sid = sid;
		f.snap = i;
		if ((x = repo_snapshot_load(f.r, s[i].id, &full)) != 0) {
			f.damaged++;	/* reported by the load */
			continue;
		}
		searched++;
		path.len = 0;
		x = visit(&f, full.root, NULL, &path, 0, &v);
		snap_info_clear(&full);
		if (x) {
			log_error("snapshot %s: the search stopped: %s", sid, bw_strerror(x));
			rc = cli_exit(x);
			goto out;
		}
	}
	if (searched == 0 && f.damaged == 0) {
		if (set || tag)
			log_error("no snapshot%s%s%s%s%s%s to search; list them with 'bulwark snapshots'",
			    set ? " in set '" : "", set ? set : "", set ? "'" : "",
			    tag ? " with tag '" : "", tag ? tag : "", tag ? "'" : "");
		else
			log_error("there are no snapshots yet; make one with 'bulwark backup'");
		rc = EXIT_NOTFOUND;
		goto out;
	}
	log_debug("find: %llu directory trees loaded, %llu replayed from the memo",
	    (unsigned long long)f.loaded, (unsigned long long)f.replayed);
	if (f.nrecs)
		qsort(f.recs, f.nrecs, sizeof(*f.recs), rec_cmp);
	if ((held = calloc(n + 1, 1)) == NULL) {
		rc = EXIT_ERROR;
		goto out;
	}
	if (c->json)
		putchar('[');
	for (i = 0; i < f.nrecs; i = j) {
		for (j = i; j < f.nrecs && strcmp(f.recs[j].path, f.recs[i].path) == 0; j++)
			if (!held[f.recs[j].snap]) {
				held[f.recs[j].snap] = 1;
				nheld++;
			}
		print_path(&f, s, &f.recs[i], j - i, c->json, paths == 0, &nver);
		paths++;
	}
	if (c->json)
		puts("]");
	else if (!c->quiet)
		fprintf(stderr, "'%s': %zu path%s, %llu version%s, in %zu of %zu snapshot%s "
		    "searched%s\n", f.pattern, paths, paths == 1 ? "" : "s",
		    (unsigned long long)nver, nver == 1 ? "" : "s", nheld, searched,
		    searched == 1 ? "" : "s", f.damaged ? "; some directories are damaged" : "");
	rc = f.damaged ? EXIT_DAMAGED : paths ? EXIT_OK : EXIT_NOTFOUND;
out:
	if (f.r)
		cli_audit(c, "find", repo_path(f.r), rc == EXIT_OK || rc == EXIT_NOTFOUND ? "ok" :
		    "failed", "pattern %s, %zu snapshots searched", f.pattern, searched);
	for (i = 0; i < f.nrecs; i++) {
		free(f.recs[i].path);
		free(f.recs[i].h.link);
	}
	free(f.recs);
	for (i = 0; i < f.nnodes; i++)
		node_clear(&f.nodes[i]);
	free(f.nodes);
	idset_free(f.memo);
	buf_free(&path);
	snap_list_free(s, n);
	free(held);
	repo_free(f.r);
	return rc;
}
