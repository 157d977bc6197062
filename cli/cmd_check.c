/*
 * check: the store below the trees (repo_check_store), then every
 * snapshot's trees, so that a damaged or missing object is named together
 * with the snapshots and files that use it.
 */
#include "config.h"

#include <stdlib.h>
#include <string.h>

#include "cli/cli.h"
#include "lib/repo/walk.h"
#include "lib/util/err.h"
#include "lib/util/log.h"

static const char help[] =
    "usage: bulwark check [--repo DIR] [--read-data]\n\n"
    "Verifies the repository's structure: config and key slot signatures, index\n"
    "files, that every pack exists with the right size, every snapshot signature,\n"
    "and (with a key that can read) every tree and that every file's data is\n"
    "present.  --read-data also decrypts and verifies every stored object.\n"
    "Each problem names the object and the snapshots and files it touches.\n";

struct ck {
	struct repo *r;
	struct idset *bad;	/* damaged objects found by the store check */
	const char *snap;	/* short id of the snapshot being walked */
	uint64_t problems;
	uint64_t files;
};

static void
on_bad(const uint8_t id[OBJ_ID_LEN], const char *what, void *arg)
{
	struct ck *k = arg;

	(void)what;	/* already logged by the store check */
	idset_put(k->bad, id, 0, NULL);
}

struct id_ctx { struct ck *k; const char *path; };

static int
check_id(const uint8_t id[32], int type, void *arg)
{
	struct id_ctx *x = arg;
	char hex[65];

	(void)type;
	if (idset_get(x->k->bad, id, NULL) || !repo_has(x->k->r, id)) {
		hex_encode(hex, id, 32);
		log_error("snapshot %s: %s: object %.16s %s", x->k->snap, x->path, hex,
		    repo_has(x->k->r, id) ? "is damaged" : "is missing");
		x->k->problems++;
	}
	return 0;
}

static int
on_entry(const char *path, const struct tree_entry *e, void *arg)
{
	struct id_ctx x = { arg, path };

	if (e->kind == TREE_FILE) {
		x.k->files++;
		tree_content_each_id(&e->content, check_id, &x);
	} else if (e->kind == TREE_DIR) {
		/* the directory's own objects: a tree already walked under the
		 * same id through another descriptor is not fetched again */
		tree_content_each_id(&e->content, check_id, &x);
	}
	return 0;
}

static int
on_tree_err(const char *path, const uint8_t id[32], int err, void *arg)
{
	struct ck *k = arg;
	char hex[65];

	hex_encode(hex, id, 32);
	log_error("snapshot %s: directory %s: tree object %.16s %s; its contents cannot be "
	    "checked", k->snap, path, hex, err == BW_ERR_NOENT ? "is missing" : "is damaged");
	k->problems++;
	return 0;
}

int
cmd_check(struct cli *c, int argc, char **argv)
{
	static const struct option lo[] = {
		CLI_COMMON_LONGOPTS, { "read-data", no_argument, NULL, 'D' }, { NULL, 0, NULL, 0 }
	};
	struct repo_check_stats st;
	struct ck k = { 0 };
	struct snap_info *s = NULL, full;
	struct idset *seen = NULL;
	size_t n = 0, bad = 0, i;
	int ch, rc, x, read_data = 0;
	char *rp = NULL;

	memset(&st, 0, sizeof(st));
	while ((ch = getopt_long(argc, argv, CLI_COMMON_SHORTOPTS, lo, NULL)) != -1) {
		if (ch == 'h')
			return cli_usage(stdout, help, EXIT_OK);
		if (ch == 'D')
			read_data = 1;
		else if (!cli_common_opt(c, ch, optarg))
			return cli_usage(stderr, help, EXIT_USAGE);
	}
	if (optind != argc)
		return cli_usage(stderr, help, EXIT_USAGE);
	if ((rc = cli_open_repo(c, &k.r)) != 0)
		return rc;
	rp = strdup(repo_path(k.r));
	if (read_data && !(repo_caps(k.r) & REPO_CAP_READ)) {
		log_error("repository %s: this key cannot read data (write-only); check "
		    "--read-data needs a read or admin key", rp);
		rc = EXIT_AUTH;
		goto out;
	}
	if ((x = repo_lock(k.r, 0)) != 0) {
		rc = cli_exit(x);
		goto out;
	}
	k.bad = idset_new();
	seen = idset_new();
	if (!k.bad || !seen) {
		rc = EXIT_ERROR;
		goto out;
	}
	x = repo_check_store(k.r, read_data, on_bad, &k, &st);
	if (x && x != BW_ERR_CORRUPT) {
		rc = cli_exit(x);
		goto out;
	}
	if ((x = repo_snapshots(k.r, &s, &n, &bad)) != 0) {
		rc = cli_exit(x);
		goto out;
	}
	if (repo_caps(k.r) & REPO_CAP_READ) {
		for (i = 0; i < n; i++) {
			char sid[9];
			struct walk_opts wo = { on_entry, on_tree_err, &k, NULL };

			cli_id_short(sid, s[i].id);
			k.snap = sid;
			memset(&full, 0, sizeof(full));
			if ((x = repo_snapshot_load(k.r, s[i].id, &full)) != 0) {
				k.problems++;
				continue;
			}
			/* shared subtrees are walked once, unless something is damaged:
			 * then every snapshot is walked whole to name every file */
			if (idset_count(k.bad) == 0)
				wo.seen = seen;
			if ((x = walk_tree(k.r, full.root, &wo)) != 0) {
				log_error("snapshot %s: the walk stopped early (%s); not every "
				    "file was checked", sid, bw_strerror(x));
				k.problems++;
			}
			snap_info_clear(&full);
		}
	} else if (!c->quiet) {
		log_warn("this key cannot read trees (write-only): files were not checked");
	}
	repo_unlock(k.r);
	k.problems += st.problems + bad;
	if (c->json) {
		printf("{\"ok\":%s", k.problems ? "false" : "true");
		json_kv_u64(stdout, "problems", k.problems, 1);
		json_kv_u64(stdout, "snapshots", n, 1);
		json_kv_u64(stdout, "packs", st.packs, 1);
		json_kv_u64(stdout, "objects", st.objects, 1);
		json_kv_u64(stdout, "bytes", st.bytes, 1);
		json_kv_u64(stdout, "files_checked", k.files, 1);
		json_kv_u64(stdout, "unreferenced_packs", st.unreferenced_packs, 1);
		printf(",\"read_data\":%s}\n", read_data ? "true" : "false");
	} else if (!c->quiet) {
		printf("checked %zu snapshots, %llu packs, %llu objects%s, %llu file entries: %s\n",
		    n, (unsigned long long)st.packs, (unsigned long long)st.objects,
		    read_data ? " (all data read and verified)" : "",
		    (unsigned long long)k.files,
		    k.problems ? "PROBLEMS FOUND" : "no problems found");
		if (st.unreferenced_packs)
			printf("%llu packs without index (left by an interrupted backup) will be "
			    "removed by 'bulwark prune'\n", (unsigned long long)st.unreferenced_packs);
	}
	cli_audit(c, read_data ? "check --read-data" : "check", rp, k.problems ? "failed" : "ok",
	    "%llu problems", (unsigned long long)k.problems);
	rc = k.problems ? EXIT_DAMAGED : EXIT_OK;
out:
	snap_list_free(s, n);
	idset_free(k.bad);
	idset_free(seen);
	repo_free(k.r);
	free(rp);
	return rc;
}
