#include "config.h"

#include <stdlib.h>
#include <string.h>

#include "lib/chunk/delta.h"
#include "lib/repo/walk.h"
#include "lib/util/err.h"

struct mem { const uint8_t *p; size_t n; };

static long
read_mem(void *arg, uint64_t pos, void *buf, size_t len)
{
	struct mem *m = arg;

	if (pos >= m->n)
		return 0;
	if (len > m->n - pos)
		len = m->n - pos;
	memcpy(buf, m->p + pos, len);
	return (long)len;
}

/* A rebuilt tree is held in memory: a hostile delta must not inflate it
 * without bound (real trees are far below this). */
#define WALK_TREE_MAX (256u << 20)
/* Deeper nesting than any file system allows is a hostile repository. */
#define WALK_DEPTH_MAX 4096

static int
write_buf(void *arg, const void *p, size_t n)
{
	struct buf *b = arg;

	if (n > WALK_TREE_MAX - b->len)
		return BW_ERR_CORRUPT;
	return buf_put(b, p, n);
}

/* The plaintext of a tree stored as desc (NULL: the object id itself). */
static int
tree_bytes(struct repo *r, const uint8_t id[32], const struct tree_content *desc,
    struct buf *out)
{
	struct buf base = { 0 }, delta = { 0 };
	struct mem m;
	uint32_t i;
	int rc = 0;

	if (!desc)
		return repo_get(r, OBJ_TREE, id, out);
	/* a chain's base is untrusted too: one tree object, nothing else */
	if (desc->kind == 0)
		return desc->nids == 1 ? repo_get(r, OBJ_TREE, desc->ids[0], out) :
		    BW_ERR_CORRUPT;
	for (i = 0; i < desc->nids && rc == 0; i++)
		rc = repo_get(r, OBJ_DELTA, desc->ids[i], &delta);
	if (rc == 0)
		rc = tree_bytes(r, NULL, desc->base, &base);
	if (rc == 0) {
		m.p = base.data;
		m.n = base.len;
		rc = delta_apply(delta.data, delta.len, read_mem, &m, write_buf, out);
	}
	buf_free(&base);
	buf_free(&delta);
	return rc;
}

/* Fetches a directory's tree and checks it is the one the entry names. */
static int
tree_fetch(struct repo *r, const uint8_t id[32], const struct tree_content *desc,
    struct buf *out)
{
	uint8_t got[32];
	int rc;

	/* a whole tree is named twice (docs/FORMAT.md): both must agree, or a
	 * walk with a seen set would skip one tree for another */
	if (desc && desc->kind == 0 && desc->nids == 1 && memcmp(desc->ids[0], id, 32) != 0)
		return BW_ERR_CORRUPT;
	if ((rc = tree_bytes(r, id, desc, out)) != 0)
		return rc;
	if (desc && desc->kind == 1) {
		if ((rc = repo_object_id(r, OBJ_TREE, out->data, out->len, got)) != 0)
			return rc;
		if (memcmp(got, id, 32) != 0)
			return BW_ERR_CORRUPT;
	}
	return 0;
}

static int
walk_dir(struct repo *r, const uint8_t id[32], const struct tree_content *desc,
    struct buf *path, const struct walk_opts *o, int depth)
{
	struct buf obj = { 0 };
	struct tree *t = NULL;
	size_t base = path->len, i;
	int rc, added = 0;

	if (depth > WALK_DEPTH_MAX) {
		buf_put_u8(path, 0);
		rc = o->err ? o->err((char *)path->data, id, BW_ERR_CORRUPT, o->arg) : BW_ERR_CORRUPT;
		path->len = base;
		return rc;
	}
	if (o->seen) {
		if (idset_get(o->seen, id, NULL))
			return 0;
		if ((rc = idset_put(o->seen, id, 0, &added)) != 0)
			return rc;
	}
	rc = tree_fetch(r, id, desc, &obj);
	if (rc == 0 && (rc = tree_decode(obj.data, obj.len, &t)) != 0)
		rc = BW_ERR_CORRUPT;
	buf_free(&obj);
	if (rc) {
		buf_put_u8(path, 0);
		if (o->err)
			rc = o->err(base ? (char *)path->data : "/", id, rc, o->arg);
		path->len = base;
		return rc;
	}
	for (i = 0; i < t->n; i++) {
		struct tree_entry *e = &t->e[i];

		path->len = base;
		buf_put_u8(path, '/');
		buf_put(path, e->name, strlen(e->name));
		buf_put_u8(path, 0);
		if (path->err) {
			rc = path->err;
			break;
		}
		path->len--;
		rc = o->fn ? o->fn((char *)path->data, e, o->arg) : 0;
		if (rc < 0)
			break;
		if (rc == 0 && e->kind == TREE_DIR && (rc = walk_dir(r, e->subtree, &e->content, path, o, depth + 1)) < 0)
			break;
		rc = 0;
	}
	path->len = base;
	tree_free(t);
	return rc;
}

int
walk_tree(struct repo *r, const uint8_t root[static 32], const struct walk_opts *o)
{
	struct buf path = { 0 };
	int rc = walk_dir(r, root, NULL, &path, o, 0);

	buf_free(&path);
	return rc;
}

int
walk_subtree(struct repo *r, const char *path, const struct tree_entry *dir,
    const struct walk_opts *o)
{
	struct buf p = { 0 };
	int rc;

	if (dir->kind != TREE_DIR)
		return BW_ERR_INVAL;
	if (strcmp(path, "/") != 0 && buf_put(&p, path, strlen(path)) != 0)
		return BW_ERR_NOMEM;
	rc = walk_dir(r, dir->subtree, &dir->content, &p, o, 0);
	buf_free(&p);
	return rc;
}

int
walk_load(struct repo *r, const uint8_t id[static 32], const struct tree_content *desc,
    struct tree **out)
{
	struct buf obj = { 0 };
	int rc;

	*out = NULL;
	rc = tree_fetch(r, id, desc, &obj);
	if (rc == 0 && tree_decode(obj.data, obj.len, out) != 0)
		rc = BW_ERR_CORRUPT;
	buf_free(&obj);
	return rc;
}

static int
name_cmp(const void *key, const void *elem)
{
	return strcmp(key, ((const struct tree_entry *)elem)->name);
}

/* Loads a tree that a verified parent names: its absence is damage. */
static int
load_named(struct repo *r, const uint8_t id[static 32], const struct tree_content *desc,
    struct tree **out)
{
	int rc = walk_load(r, id, desc, out);

	return rc == BW_ERR_NOENT ? BW_ERR_CORRUPT : rc;
}

int
walk_lookup(struct repo *r, const uint8_t root[static 32], const char *path,
    struct tree **parent, size_t *idx, struct walk_stop *stop)
{
	struct tree *t = NULL, *next;
	const struct tree_entry *e = NULL;
	char name[TREE_NAME_MAX + 1];
	const char *p = path;
	char *at = NULL;	/* path as far as it went, normalised */
	size_t len, atlen = 0;
	int rc;

	*parent = NULL;
	*idx = 0;
	if (stop) {
		stop->path = NULL;
		stop->kind = 0;
	}
	if (path[0] != '/')
		return BW_ERR_INVAL;
	/* normalised, it is never longer than path */
	if (stop && (at = malloc(strlen(path) + 2)) == NULL)
		return BW_ERR_NOMEM;
	if (at)
		strcpy(at, "/");
	if ((rc = load_named(r, root, NULL, &t)) != 0)
		goto out;
	for (;;) {
		while (*p == '/')
			p++;
		if (!*p)
			break;
		if (e) {
			/* descend into the entry found last (at names it) */
			if (e->kind != TREE_DIR) {
				if (stop)
					stop->kind = e->kind;
				rc = BW_ERR_NOENT;
				goto out;
			}
			if ((rc = load_named(r, e->subtree, &e->content, &next)) != 0)
				goto out;
			tree_free(t);
			t = next;
		}
		len = strcspn(p, "/");
		if (at) {
			if (atlen)
				at[atlen++] = '/';
			memcpy(at + atlen + !atlen, p, len);
			atlen += len + !atlen;
			at[atlen] = '\0';
		}
		if (len > TREE_NAME_MAX) {
			rc = BW_ERR_NOENT;
			goto out;
		}
		memcpy(name, p, len);
		name[len] = '\0';
		e = bsearch(name, t->e, t->n, sizeof(*t->e), name_cmp);
		if (!e) {
			rc = BW_ERR_NOENT;
			goto out;
		}
		p += len;
	}
	if (e) {
		*parent = t;
		*idx = (size_t)(e - t->e);
		t = NULL;
	}
	rc = 0;
out:
	if (rc != 0 && rc != BW_ERR_NOMEM && stop) {
		stop->path = at;
		at = NULL;
	}
	free(at);
	tree_free(t);
	return rc;
}
