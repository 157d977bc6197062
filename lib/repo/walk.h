/*
 * Walking a snapshot's trees (needs READ): used by check (to name the files
 * a damaged object belongs to), prune (to find live objects), ls and
 * restore.  Trees are fetched and verified through repo_get.
 */
#ifndef BW_REPO_WALK_H
#define BW_REPO_WALK_H

#include "lib/repo/idset.h"
#include "lib/repo/repo.h"
#include "lib/repo/tree.h"

/*
 * Called for every entry, parents before children, with the entry's
 * absolute path in the snapshot.  Return 0 to go on, 1 to skip a
 * directory's contents, or a negative code to stop the walk with it.
 */
typedef int walk_fn(const char *path, const struct tree_entry *e, void *arg);
/* Called when a tree cannot be fetched or parsed: path is the directory
 * it belongs to.  Return 0 to go on (the subtree is skipped). */
typedef int walk_err_fn(const char *path, const uint8_t id[32], int err, void *arg);

struct walk_opts {
	walk_fn *fn;
	walk_err_fn *err;
	void *arg;
	/* Trees whose ids are in this set are not descended (and are added
	 * to it once walked): walks of many snapshots visit shared subtrees
	 * once.  May be NULL. */
	struct idset *seen;
};

/* Walks the tree root (the snapshot's "/").  Returns 0, or the first
 * negative code returned by a callback, or a repository error when err is
 * NULL. */
int walk_tree(struct repo *r, const uint8_t root[static 32], const struct walk_opts *o);
/* Walks the contents of the directory entry dir found at path (as given
 * by walk_lookup); callbacks see paths below path.  BW_ERR_INVAL if dir is
 * not a directory. */
int walk_subtree(struct repo *r, const char *path, const struct tree_entry *dir,
    const struct walk_opts *o);

/* Loads and verifies one directory's tree: the root (desc NULL) or a
 * directory entry's (e->subtree, &e->content).  Caller frees *out with
 * tree_free.  Repository errors as repo_get; BW_ERR_CORRUPT if it does not
 * parse. */
int walk_load(struct repo *r, const uint8_t id[static 32], const struct tree_content *desc,
    struct tree **out);
/* Where a failed walk_lookup stopped, for its caller's message. */
struct walk_stop {
	char *path;	/* normalised ("/srv/www"; "/" for the root); caller frees */
	unsigned kind;	/* the tree_kind of path when it is not a directory, else 0 */
};

/*
 * Finds an absolute path ("/srv/www", repeated slashes allowed) in the
 * snapshot whose root tree is root.  On success *parent is the tree that
 * holds it (caller frees) and (*parent)->e[*idx] is its entry; for "/"
 * itself *parent is NULL (the root has no entry).  Not logged: the caller
 * knows the snapshot.  Returns 0;
 *   BW_ERR_NOENT: path is not in the snapshot: stop->path is the first
 *     component missing, or one that is not a directory yet has more
 *     below it in path (stop->kind says what it is);
 *   damage: a tree on the way (the root's included) cannot be read:
 *     BW_ERR_CORRUPT when it is missing or does not parse (a tree that a
 *     verified parent names must exist), else repo_get's code
 *     (BW_ERR_AUTH, BW_ERR_VERSION, BW_ERR_IO, ...); stop->path is the
 *     directory whose tree it is;
 *   BW_ERR_INVAL if path is not absolute; BW_ERR_NOMEM.
 * stop may be NULL; when given, stop->path is set on NOENT and on damage
 * (NULL otherwise, and when out of memory).
 */
int walk_lookup(struct repo *r, const uint8_t root[static 32], const char *path,
    struct tree **parent, size_t *idx, struct walk_stop *stop);

#endif
