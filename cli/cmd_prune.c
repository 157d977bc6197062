/*
 * prune: find every object a snapshot still uses (walking all trees, delta
 * bases included) and let the repository drop the rest.
 */
#include "config.h"

#include <stdlib.h>
#include <string.h>

#include "cli/cli.h"
#include "lib/repo/walk.h"
#include "lib/util/err.h"
#include "lib/util/log.h"

static const char help[] =
    "usage: bulwark prune [--repo DIR]\n\n"
    "Removes data that no snapshot uses any more (after 'bulwark forget'), and\n"
    "packs left by interrupted backups.  Needs an admin key.  Takes an exclusive\n"
    "lock; backups wait until it is done.  Crash-safe: new packs are durable\n"
    "before old ones are removed.\n";

struct live { struct idset *set; int rc; };

static int
add_id(const uint8_t id[32], int type, void *arg)
{
	struct live *l = arg;

	(void)type;
	return l->rc = idset_put(l->set, id, 0, NULL);
}

static int
on_entry(const char *path, const struct tree_entry *e, void *arg)
{
	struct live *l = arg;

	(void)path;
	/* a directory's tree object, or its delta chain */
	if (e->kind == TREE_DIR || e->kind == TREE_FILE)
		return tree_content_each_id(&e->content, add_id, l);
	return 0;
}

static int
on_err(const char *path, const uint8_t id[32], int err, void *arg)
{
	char hex[65];

	(void)arg;
	hex_encode(hex, id, 32);
	log_error("directory %s: tree %.16s: %s; refusing to prune a damaged repository "
	    "(run 'bulwark check --read-data')", path, hex, bw_strerror(err));
	return err;
}

int
prune_live_set(struct repo *r, struct idset *set)
{
	struct live l = { set, 0 };
	/* a subtree shared by many snapshots is walked once: its objects are
	 * in the live set after the first time */
	struct walk_opts wo = { on_entry, on_err, &l, idset_new() };
	struct snap_info *s = NULL, full;
	size_t n = 0, bad = 0, i;
	int rc;

	if (!wo.seen)
		return BW_ERR_NOMEM;
	if ((rc = repo_snapshots(r, &s, &n, &bad)) != 0) {
		idset_free(wo.seen);
		return rc;
	}
	if (bad) {
		log_error("%zu snapshot(s) failed verification; refusing to prune (run "
		    "'bulwark check')", bad);
		snap_list_free(s, n);
		idset_free(wo.seen);
		return BW_ERR_CORRUPT;
	}
	for (i = 0; i < n && rc == 0; i++) {
		memset(&full, 0, sizeof(full));
		if ((rc = repo_snapshot_load(r, s[i].id, &full)) != 0)
			break;
		if ((rc = add_id(full.root, OBJ_TREE, &l)) == 0)
			rc = walk_tree(r, full.root, &wo);
		snap_info_clear(&full);
	}
	snap_list_free(s, n);
	idset_free(wo.seen);
	return rc;
}

int
cli_prune(struct cli *c, struct repo *r)
{
	struct repo_prune_stats st;
	struct idset *live = NULL;
	const char *rp = repo_path(r);
	char freed[32];
	int rc, x;

	memset(&st, 0, sizeof(st));
	if ((repo_caps(r) & (REPO_CAP_ADMIN | REPO_CAP_READ)) != (REPO_CAP_ADMIN | REPO_CAP_READ)) {
		log_error("repository %s: this key cannot prune (it needs the admin capability); "
		    "use an admin key", rp);
		cli_audit(c, "prune", rp, "failed", "key lacks the admin capability");
		return EXIT_AUTH;
	}
	if ((x = repo_lock(r, 1)) != 0)
		return cli_exit(x);
	if ((live = idset_new()) == NULL) {
		rc = EXIT_ERROR;
		goto unlock;
	}
	if ((x = prune_live_set(r, live)) == 0)
		x = repo_prune(r, live, &st);
	if (x) {
		cli_audit(c, "prune", rp, "failed", "%s", bw_strerror(x));
		rc = cli_exit(x);
		goto unlock;
	}
	cli_human_bytes(freed, sizeof(freed), st.bytes_freed);
	if (c->json)
		printf("{\"packs_removed\":%llu,\"packs_rewritten\":%llu,\"objects_removed\":%llu,"
		    "\"bytes_freed\":%llu}\n", (unsigned long long)st.packs_removed,
		    (unsigned long long)st.packs_rewritten, (unsigned long long)st.objects_removed,
		    (unsigned long long)st.bytes_freed);
	else if (!c->quiet)
		printf("pruned: %llu objects removed, %llu packs removed, %llu rewritten, %s freed\n",
		    (unsigned long long)st.objects_removed, (unsigned long long)st.packs_removed,
		    (unsigned long long)st.packs_rewritten, freed);
	cli_audit(c, "prune", rp, "ok", "%llu objects removed, %llu bytes freed",
	    (unsigned long long)st.objects_removed, (unsigned long long)st.bytes_freed);
	rc = EXIT_OK;
unlock:
	repo_unlock(r);
	idset_free(live);
	return rc;
}

int
cmd_prune(struct cli *c, int argc, char **argv)
{
	struct repo *r = NULL;
	int ch, rc;

	if ((ch = cli_parse_common(c, argc, argv, help)) >= 0)
		return ch;
	if (optind != argc)
		return cli_usage(stderr, help, EXIT_USAGE);
	if ((rc = cli_open_repo(c, &r)) != 0)
		return rc;
	rc = cli_prune(c, r);
	repo_free(r);
	return rc;
}
