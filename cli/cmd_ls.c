/*
 * ls: the entries of a directory in a snapshot, the single entry of a
 * file, or (without a path) the paths the snapshot backed up.  Directories
 * are loaded one at a time; -R walks below them.
 */
#include "config.h"

#include <stdlib.h>
#include <string.h>
#include <sys/sysmacros.h>

#include "cli/cli.h"
#include "lib/repo/walk.h"
#include "lib/util/err.h"
#include "lib/util/log.h"

static const char help[] =
    "usage: bulwark ls [--repo DIR] [-l] [-R|--recursive] [--set NAME] [--tag TAG] [--json]\n"
    "                  SNAPSHOT[:PATH]\n\n"
    "Lists the entries of the directory PATH in a snapshot (the entry itself when\n"
    "PATH is not a directory), one full path a line.  Without PATH: the paths the\n"
    "snapshot backed up.  -R lists everything below, -l shows the mode, owner and\n"
    "group (names, or ids when there is no name), size, modification time (UTC),\n"
    "path, '-> target' for symbolic links and 'link to PATH' for hard links.\n"
    "--json prints an array with one object per entry.\n\n"
    "SNAPSHOT is 'latest', a hex id prefix, or a time 'YYYY-MM-DD[ HH:MM[:SS]]'\n"
    "(local time; end with Z for UTC) meaning the newest snapshot at or before\n"
    "it; --set and --tag choose among one backup set's or one tag's snapshots.\n"
    "A PATH follows the first ':/', e.g. 'latest:/etc' or '2026-11-20 14:00:/srv'.\n\n"
    "Needs a key with the read (or admin) capability.  Exit codes: 0 listed,\n"
    "2 usage or malformed snapshot, 4 snapshot or path not found, 5 wrong\n"
    "passphrase or write-only key, 6 a directory's tree is damaged (named).\n";

struct ls {
	struct repo *r;
	const char *sid;
	int longfmt, recursive, json;
	uint64_t entries, bytes;
	unsigned damaged;
};

static void
print_json(const char *path, const struct tree_entry *e)
{
	char when[32], perm[11];
	const char *slash = strrchr(path, '/');

	cli_time_utc(when, sizeof(when), (long long)e->mtime_sec * 1000000000LL);
	cli_mode_string(perm, e->kind, e->mode);
	putchar('{');
	json_kv_str(stdout, "path", path, 0);
	json_kv_str(stdout, "name", slash ? slash + 1 : path, 1);
	json_kv_str(stdout, "type", cli_kind_name(e->kind), 1);
	printf(",\"mode\":%u", e->mode);
	json_kv_str(stdout, "perm", perm, 1);
	json_kv_u64(stdout, "uid", e->uid, 1);
	json_kv_u64(stdout, "gid", e->gid, 1);
	json_kv_str(stdout, "user", *e->uname ? e->uname : NULL, 1);
	json_kv_str(stdout, "group", *e->gname ? e->gname : NULL, 1);
	json_kv_u64(stdout, "size", e->size, 1);
	json_kv_str(stdout, "mtime", when, 1);
	printf(",\"mtime_ns\":%lld", (long long)e->mtime_sec * 1000000000LL + e->mtime_nsec);
	if (e->kind == TREE_SYMLINK || e->kind == TREE_HARDLINK)
		json_kv_str(stdout, "link", e->link, 1);
	if (e->kind == TREE_CHR || e->kind == TREE_BLK)
		printf(",\"rdev_major\":%u,\"rdev_minor\":%u", major((dev_t)e->rdev),
		    minor((dev_t)e->rdev));
	putchar('}');
}

static void
print_long(const char *path, const struct tree_entry *e)
{
	char perm[11], when[32], user[24], group[24], size[48];

	cli_mode_string(perm, e->kind, e->mode);
	cli_time_utc(when, sizeof(when), (long long)e->mtime_sec * 1000000000LL);
	if (*e->uname)
		snprintf(user, sizeof(user), "%s", e->uname);
	else
		snprintf(user, sizeof(user), "%llu", (unsigned long long)e->uid);
	if (*e->gname)
		snprintf(group, sizeof(group), "%s", e->gname);
	else
		snprintf(group, sizeof(group), "%llu", (unsigned long long)e->gid);
	if (e->kind == TREE_CHR || e->kind == TREE_BLK)
		snprintf(size, sizeof(size), "%u, %u", major((dev_t)e->rdev), minor((dev_t)e->rdev));
	else
		snprintf(size, sizeof(size), "%llu", (unsigned long long)e->size);
	printf("%s  %-8s %-8s %12s  %s  %s", perm, user, group, size, when, path);
	if (e->kind == TREE_SYMLINK)
		printf(" -> %s", e->link);
	else if (e->kind == TREE_HARDLINK)
		printf(" link to %s", e->link);
	putchar('\n');
}

static void
show(struct ls *l, const char *path, const struct tree_entry *e)
{
	if (l->json) {
		if (l->entries)
			fputs(",\n", stdout);
		print_json(path, e);
	} else if (l->longfmt) {
		print_long(path, e);
	} else {
		puts(path);
	}
	l->entries++;
	l->bytes += e->kind == TREE_FILE ? e->size : 0;
}

static int
on_entry(const char *path, const struct tree_entry *e, void *arg)
{
	struct ls *l = arg;

	show(l, path, e);
	return l->recursive ? 0 : 1;
}

static int
on_tree_err(const char *path, const uint8_t id[32], int err, void *arg)
{
	struct ls *l = arg;
	char hex[65];

	hex_encode(hex, id, 32);
	log_error("snapshot %s: directory %s: tree object %.16s %s (%s); its contents are not "
	    "listed; run 'bulwark check'", l->sid, path, hex,
	    err == BW_ERR_NOENT ? "is missing" : "cannot be read", bw_strerror(err));
	l->damaged++;
	return 0;
}

/* Lists path: its contents when a directory, else the entry itself.  With
 * self, a directory is shown too (the snapshot's backed-up paths). */
static int
list_path(struct ls *l, const struct snap_info *s, const char *path, int self)
{
	struct walk_opts wo = { on_entry, on_tree_err, l, NULL };
	struct tree *parent = NULL;
	const struct tree_entry *e;
	size_t idx;
	int rc, x;

	if ((rc = cli_tree_lookup(l->r, l->sid, s->root, path, &parent, &idx)) != 0)
		return rc;
	if (!parent) {
		x = walk_tree(l->r, s->root, &wo);
		goto done;
	}
	e = &parent->e[idx];
	if (self || e->kind != TREE_DIR)
		show(l, path, e);
	if (e->kind != TREE_DIR || (self && !l->recursive)) {
		tree_free(parent);
		return 0;
	}
	x = walk_subtree(l->r, path, e, &wo);
	tree_free(parent);
done:
	if (x) {
		log_error("snapshot %s: listing %s stopped: %s", l->sid, path, bw_strerror(x));
		return cli_tree_exit(x);
	}
	return 0;
}

int
cmd_ls(struct cli *c, int argc, char **argv)
{
	static const struct option lo[] = {
		CLI_COMMON_LONGOPTS,
		{ "long", no_argument, NULL, 'l' },
		{ "recursive", no_argument, NULL, 'R' },
		{ "set", required_argument, NULL, 'S' },
		{ "tag", required_argument, NULL, 'T' },
		{ NULL, 0, NULL, 0 }
	};
	struct ls l = { 0 };
	struct snap_info s = { 0 };
	const char *set = NULL, *tag = NULL;
	char *spec = NULL, *path = NULL, sid[9], when[32], size[32];
	int ch, rc, given, x;
	size_t i;

	while ((ch = getopt_long(argc, argv, CLI_COMMON_SHORTOPTS "lR", lo, NULL)) != -1) {
		switch (ch) {
		case 'h': return cli_usage(stdout, help, EXIT_OK);
		case 'l': l.longfmt = 1; break;
		case 'R': l.recursive = 1; break;
		case 'S': set = optarg; break;
		case 'T': tag = optarg; break;
		default:
			if (!cli_common_opt(c, ch, optarg))
				return cli_usage(stderr, help, EXIT_USAGE);
		}
	}
	if (optind != argc - 1)
		return cli_usage(stderr, help, EXIT_USAGE);
	l.json = c->json;
	given = strstr(argv[optind], ":/") != NULL;
	if ((rc = cli_split_snapspec(argv[optind], &spec, &path)) != 0)
		return rc;
	if ((rc = cli_open_repo(c, &l.r)) != 0)
		goto out;
	if ((rc = cli_need_read(l.r, "list files in snapshots")) != 0)
		goto out;
	if ((x = repo_lock(l.r, 0)) != 0) {
		rc = cli_exit(x);
		goto out;
	}
	if ((rc = cli_load_snapshot(c, l.r, spec, set, tag, &s)) != 0)
		goto out;
	cli_id_short(sid, s.id);
	l.sid = sid;
	if (l.json)
		putchar('[');
	if (given) {
		rc = list_path(&l, &s, path, 0);
	} else {
		for (i = 0; i < s.npaths; i++)
			if ((x = list_path(&l, &s, s.paths[i], 1)) != 0 && rc == 0)
				rc = x;
	}
	if (l.json)
		puts("]");
	if (rc == 0 && l.damaged)
		rc = EXIT_DAMAGED;
	if (rc == 0 || rc == EXIT_DAMAGED) {
		cli_time_utc(when, sizeof(when), s.time_ns);
		cli_human_bytes(size, sizeof(size), l.bytes);
		if (!l.json && !c->quiet)
			fprintf(stderr, "%llu entr%s, %s in files, snapshot %s of %s UTC%s\n",
			    (unsigned long long)l.entries, l.entries == 1 ? "y" : "ies", size, sid,
			    when, l.damaged ? "; some directories are damaged" : "");
	}
out:
	/* reading file names out of backups is a use of the key: audited */
	if (l.r)
		cli_audit(c, "ls", repo_path(l.r), rc ? "failed" : "ok", "snapshot %s, path %s",
		    s.have_body ? sid : spec, given ? path : "(backed-up paths)");
	snap_info_clear(&s);
	repo_free(l.r);
	free(spec);
	free(path);
	return rc;
}
