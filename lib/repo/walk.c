#include "config.h"

#include <stdlib.h>
#include <string.h>

#include "lib/repo/walk.h"
#include "lib/util/err.h"

static int
walk_dir(struct repo *r, const uint8_t id[32], struct buf *path, const struct walk_opts *o)
{
	struct buf obj = { 0 };
	struct tree *t = NULL;
	size_t base = path->len, i;
	int rc, added = 0;

	if (o->seen) {
		if (idset_get(o->seen, id, NULL))
			return 0;
		if ((rc = idset_put(o->seen, id, 0, &added)) != 0)
			return rc;
	}
	rc = repo_get(r, OBJ_TREE, id, &obj);
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
		if (rc == 0 && e->kind == TREE_DIR && (rc = walk_dir(r, e->subtree, path, o)) < 0)
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
	int rc = walk_dir(r, root, &path, o);

	buf_free(&path);
	return rc;
}
