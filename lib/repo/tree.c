/*
 * Tree object codec.  Layout (docs/FORMAT.md, "Trees"):
 *
 *   "BWTREE\0\0" | u32 version=1 | u32 count | { u32 len | entry[len] } * count
 *
 * Each entry is length-prefixed so a later version can append fields that
 * this reader skips.  Every field is bounds-checked; names must be sorted
 * strictly (byte order), which also rules out duplicates.
 */
#include "config.h"

#include <stdlib.h>
#include <string.h>

#include "lib/repo/tree.h"
#include "lib/util/err.h"

#define TREE_MAGIC "BWTREE\0\0"
#define TREE_VERSION 1
#define XATTR_MAX 65536
#define ACL_MAX 65536
#define MAX_IDS (1u << 24)

static int
put_s(struct buf *b, const char *s)
{
	return buf_put_cstr(b, s ? s : "");
}

int
tree_content_encode(struct buf *b, const struct tree_content *c)
{
	buf_put_u8(b, c->kind);
	if (c->kind == 1) {
		if (!c->base || c->depth == 0 || c->depth > TREE_DELTA_DEPTH_MAX)
			return BW_ERR_INVAL;
		buf_put_u8(b, c->depth);
		if (tree_content_encode(b, c->base) != 0)
			return BW_ERR_INVAL;
	}
	buf_put_u32(b, c->nids);
	return buf_put(b, c->ids, (size_t)c->nids * 32);
}

int
tree_entry_encode(struct buf *b, const struct tree_entry *e)
{
	size_t start = b->len, i;

	if (!e->name || !*e->name || strchr(e->name, '/'))
		return BW_ERR_INVAL;
	buf_put_u32(b, 0);		/* length, patched below */
	put_s(b, e->name);
	buf_put_u8(b, e->kind);
	buf_put_u32(b, e->mode);
	buf_put_u64(b, e->uid);
	buf_put_u64(b, e->gid);
	put_s(b, e->uname);
	put_s(b, e->gname);
	buf_put_i64(b, e->mtime_sec);
	buf_put_u32(b, e->mtime_nsec);
	buf_put_i64(b, e->atime_sec);
	buf_put_u32(b, e->atime_nsec);
	buf_put_u64(b, e->size);
	buf_put_u64(b, e->rdev);
	put_s(b, e->link);
	buf_put_u32(b, (uint32_t)e->nxattrs);
	for (i = 0; i < e->nxattrs; i++) {
		put_s(b, e->xattrs[i].name);
		buf_put_str(b, e->xattrs[i].value, e->xattrs[i].len);
	}
	put_s(b, e->acl_access);
	put_s(b, e->acl_default);
	buf_put_u32(b, (uint32_t)e->nregions);
	for (i = 0; i < e->nregions; i++) {
		buf_put_u64(b, e->regions[i].off);
		buf_put_u64(b, e->regions[i].len);
	}
	if (e->kind == TREE_DIR) {
		buf_put(b, e->subtree, 32);
		if (tree_content_encode(b, &e->content))
			return BW_ERR_INVAL;
	} else if (e->kind == TREE_FILE) {
		buf_put(b, e->hash, 32);
		if (tree_content_encode(b, &e->content))
			return BW_ERR_INVAL;
	}
	if (b->err)
		return b->err;
	le32enc(b->data + start, (uint32_t)(b->len - start - 4));
	return 0;
}

int
tree_finish(struct buf *out, uint32_t count, const void *entries, size_t len)
{
	buf_put(out, TREE_MAGIC, 8);
	buf_put_u32(out, TREE_VERSION);
	buf_put_u32(out, count);
	return buf_put(out, entries, len);
}

void
tree_content_clear(struct tree_content *c)
{
	if (c->base) {
		tree_content_clear(c->base);
		free(c->base);
	}
	free(c->ids);
	memset(c, 0, sizeof(*c));
}

int
tree_content_decode(struct bufr *r, struct tree_content *c, int depth_left)
{
	memset(c, 0, sizeof(*c));
	c->kind = bufr_u8(r);
	if (c->kind == 1) {
		c->depth = bufr_u8(r);
		if (r->err || depth_left <= 0 || c->depth == 0 || c->depth > TREE_DELTA_DEPTH_MAX)
			goto bad;
		if ((c->base = calloc(1, sizeof(*c->base))) == NULL)
			goto bad;
		if (tree_content_decode(r, c->base, depth_left - 1))
			goto bad;
		if (c->base->depth != c->depth - 1)
			goto bad;
	} else if (c->kind != 0) {
		goto bad;
	}
	c->nids = bufr_u32(r);
	if (r->err || c->nids > MAX_IDS || (size_t)c->nids * 32 > bufr_left(r))
		goto bad;
	if (c->nids) {
		if ((c->ids = malloc((size_t)c->nids * 32)) == NULL)
			goto bad;
		bufr_copy(r, c->ids, (size_t)c->nids * 32);
	}
	if (r->err)
		goto bad;
	return 0;
bad:
	bufr_fail(r);
	tree_content_clear(c);
	return BW_ERR_CORRUPT;
}

int
tree_content_each_id(const struct tree_content *c, tree_id_fn *fn, void *arg)
{
	uint32_t i;
	int rc;

	for (i = 0; i < c->nids; i++)
		if ((rc = fn(c->ids[i], c->kind == 1 ? 3 : 1, arg)) != 0)
			return rc;
	return c->base ? tree_content_each_id(c->base, fn, arg) : 0;
}

void
tree_entry_clear(struct tree_entry *e)
{
	size_t i;

	free(e->name);
	free(e->uname);
	free(e->gname);
	free(e->link);
	for (i = 0; i < e->nxattrs; i++) {
		free(e->xattrs[i].name);
		free(e->xattrs[i].value);
	}
	free(e->xattrs);
	free(e->acl_access);
	free(e->acl_default);
	free(e->regions);
	tree_content_clear(&e->content);
	memset(e, 0, sizeof(*e));
}

void
tree_free(struct tree *t)
{
	size_t i;

	if (!t)
		return;
	for (i = 0; i < t->n; i++)
		tree_entry_clear(&t->e[i]);
	free(t->e);
	free(t);
}

static int
decode_entry(struct bufr *r, struct tree_entry *e)
{
	size_t i, n;
	const uint8_t *v;

	if ((e->name = bufr_strdup(r, TREE_NAME_MAX)) == NULL)
		return BW_ERR_CORRUPT;
	if (!*e->name || strchr(e->name, '/') || !strcmp(e->name, ".") || !strcmp(e->name, ".."))
		return BW_ERR_CORRUPT;
	e->kind = bufr_u8(r);
	if (e->kind < TREE_FILE || e->kind > TREE_SOCK)
		return BW_ERR_CORRUPT;
	e->mode = bufr_u32(r);
	e->uid = bufr_u64(r);
	e->gid = bufr_u64(r);
	e->uname = bufr_strdup(r, 256);
	e->gname = bufr_strdup(r, 256);
	e->mtime_sec = bufr_i64(r);
	e->mtime_nsec = bufr_u32(r);
	e->atime_sec = bufr_i64(r);
	e->atime_nsec = bufr_u32(r);
	e->size = bufr_u64(r);
	e->rdev = bufr_u64(r);
	e->link = bufr_strdup(r, TREE_LINK_MAX);
	n = bufr_u32(r);
	if (r->err || n > 4096 || n * 8 > bufr_left(r))
		return BW_ERR_CORRUPT;
	if (n && (e->xattrs = calloc(n, sizeof(*e->xattrs))) == NULL)
		return BW_ERR_NOMEM;
	e->nxattrs = n;
	for (i = 0; i < n; i++) {
		if ((e->xattrs[i].name = bufr_strdup(r, 255)) == NULL)
			return BW_ERR_CORRUPT;
		if ((v = bufr_str(r, XATTR_MAX, &e->xattrs[i].len)) == NULL)
			return BW_ERR_CORRUPT;
		if ((e->xattrs[i].value = malloc(e->xattrs[i].len + 1)) == NULL)
			return BW_ERR_NOMEM;
		memcpy(e->xattrs[i].value, v, e->xattrs[i].len);
	}
	e->acl_access = bufr_strdup(r, ACL_MAX);
	e->acl_default = bufr_strdup(r, ACL_MAX);
	n = bufr_u32(r);
	if (r->err || n > bufr_left(r) / 16)
		return BW_ERR_CORRUPT;
	if (n && (e->regions = calloc(n, sizeof(*e->regions))) == NULL)
		return BW_ERR_NOMEM;
	e->nregions = n;
	for (i = 0; i < n; i++) {
		e->regions[i].off = bufr_u64(r);
		e->regions[i].len = bufr_u64(r);
	}
	if (e->kind == TREE_DIR) {
		bufr_copy(r, e->subtree, 32);
		if (!r->err && tree_content_decode(r, &e->content, TREE_DELTA_DEPTH_MAX))
			return BW_ERR_CORRUPT;
		if (e->content.kind == 0 && e->content.nids != 1)
			return BW_ERR_CORRUPT;
	} else if (e->kind == TREE_FILE) {
		bufr_copy(r, e->hash, 32);
		if (!r->err && tree_content_decode(r, &e->content, TREE_DELTA_DEPTH_MAX))
			return BW_ERR_CORRUPT;
	}
	return r->err ? BW_ERR_CORRUPT : 0;
}

int
tree_decode(const void *p, size_t n, struct tree **out)
{
	struct bufr r, er;
	struct tree *t = NULL;
	const uint8_t *m, *ep;
	uint32_t count, i, len;
	int rc = BW_ERR_CORRUPT;

	*out = NULL;
	bufr_init(&r, p, n);
	m = bufr_get(&r, 8);
	if (!m || memcmp(m, TREE_MAGIC, 8) || bufr_u32(&r) != TREE_VERSION)
		return BW_ERR_CORRUPT;
	count = bufr_u32(&r);
	if (r.err || count > bufr_left(&r) / 4)
		return BW_ERR_CORRUPT;
	if ((t = calloc(1, sizeof(*t))) == NULL ||
	    (count && (t->e = calloc(count, sizeof(*t->e))) == NULL)) {
		rc = BW_ERR_NOMEM;
		goto out;
	}
	for (i = 0; i < count; i++) {
		len = bufr_u32(&r);
		if ((ep = bufr_get(&r, len)) == NULL)
			goto out;
		bufr_init(&er, ep, len);
		t->n = i + 1;
		if ((rc = decode_entry(&er, &t->e[i])) != 0)
			goto out;
		rc = BW_ERR_CORRUPT;
		if (i > 0 && strcmp(t->e[i - 1].name, t->e[i].name) >= 0)
			goto out;
	}
	if (bufr_done(&r))
		goto out;
	*out = t;
	return 0;
out:
	tree_free(t);
	return rc;
}
