/*
 * Shared plumbing of the bulwark command: global options, passphrases,
 * opening the repository, exit codes, JSON output and audit records.
 * Each subcommand lives in its own cli/cmd_*.c behind the table in main.c.
 */
#ifndef BW_CLI_CLI_H
#define BW_CLI_CLI_H

#include <stdio.h>

#include "config/config.h"
#include "lib/repo/repo.h"

/* Exit codes (documented in README.md and bulwark --help). */
enum {
	EXIT_OK = 0,
	EXIT_ERROR = 1,		/* any other failure */
	EXIT_USAGE = 2,		/* bad command line or configuration */
	EXIT_PARTIAL = 3,	/* backup done but some files were unreadable */
	EXIT_NOTFOUND = 4,	/* repository, snapshot or path not found */
	EXIT_AUTH = 5,		/* wrong passphrase or key, or lacking capability */
	EXIT_DAMAGED = 6,	/* repository damaged (check failed, bad object) */
	EXIT_IO = 7,		/* I/O error, disk full */
	EXIT_LOCKED = 8,	/* repository locked by a live process */
	EXIT_INTERRUPTED = 130
};

struct cli {
	const char *prog;
	const char *config_path;	/* -c FILE */
	int config_given;
	struct config *cfg;		/* loaded lazily, may stay NULL */
	const char *repo_path;		/* --repo, BULWARK_REPO, or the config */
	const char *pass_file;		/* --passphrase-file */
	int json;
	int quiet;
	int verbose;
	int tty;			/* stderr is a terminal: progress lines */
};

struct cli_cmd {
	const char *name;
	int (*run)(struct cli *c, int argc, char **argv);
	const char *summary;
};

/* Maps a BW_ERR_* code to an exit code. */
int cli_exit(int err);

/* Loads the configuration if -c was given or the default file exists.
 * Returns 0, or an exit code after the errors were printed. */
int cli_load_config(struct cli *c);
/* The repository path: --repo, BULWARK_REPO, or [repository] path.
 * NULL after printing an error saying how to give one. */
const char *cli_repo_path(struct cli *c);

/* Reads a passphrase: BULWARK_PASSPHRASE, --passphrase-file, the config's
 * passphrase_file, or a prompt on the terminal (twice when confirm).
 * Returned in guarded memory: free with cli_pass_free. */
int cli_passphrase(struct cli *c, const char *prompt, int confirm, char **out, size_t *len);
void cli_pass_free(char *p, size_t len);
/* Like cli_passphrase but for a second secret (a new key's): from the
 * environment variable env, the file given, or a prompt. */
int cli_new_passphrase(struct cli *c, const char *env, const char *file, const char *prompt,
    char **out, size_t *len);

/* Opens the repository with the passphrase; returns 0 or an exit code. */
int cli_open_repo(struct cli *c, struct repo **out);

/* Appends an audit record (failure to audit is reported, not fatal). */
void cli_audit(struct cli *c, const char *action, const char *object, const char *outcome,
    const char *detail_fmt, ...) __attribute__((format(printf, 5, 6)));

/* A local directory of this host: the environment variable env, else the
 * configured value, else root_default for root, else $xdg/leaf or
 * $HOME/home_rel/leaf.  Malloc'd (caller frees), or NULL. */
char *cli_local_dir(const char *env, const char *configured, const char *root_default,
    const char *xdg, const char *home_rel, const char *leaf);
/* Where the audit log lives: BULWARK_AUDIT_DIR, [audit] dir, or the default.
 * Caller frees. */
char *cli_audit_dir(struct cli *c);

/* Splits "SNAPSHOT[:PATH]" at the first ":/" (times hold colons, paths are
 * absolute); no PATH gives "/"; repeated and trailing slashes are dropped.  *spec and *path are malloc'd (caller
 * frees).  Returns 0, or an exit code after printing the error. */
int cli_split_snapspec(const char *arg, char **spec, char **path);
/* Resolves a snapshot spec (lib/repo/snapsel.h: 'latest', a hex id prefix,
 * or a time meaning the newest at or before it) among the snapshots in set
 * and with tag (NULL: any) into id.  Returns 0, or an exit code after the
 * error was printed: EXIT_USAGE (malformed spec, ambiguous prefix),
 * EXIT_NOTFOUND (nothing matches), others from the repository. */
int cli_snapshot_arg(struct cli *c, struct repo *r, const char *spec, const char *set,
    const char *tag, uint8_t id[32]);

/* ---- looking inside snapshots (ls, find, diff, restore) ---- */
struct tree;
/* 0, or EXIT_AUTH after saying that this key cannot read snapshot
 * contents (a write-only key) and what to use instead. */
int cli_need_read(struct repo *r, const char *what);
/* Resolves spec (as cli_snapshot_arg) and loads that snapshot with its
 * body into *out (caller clears with snap_info_clear).  0 or an exit code. */
int cli_load_snapshot(struct cli *c, struct repo *r, const char *spec, const char *set,
    const char *tag, struct snap_info *out);
/* walk_lookup with its failure said to the operator, naming the snapshot
 * (sid) and the directory where the lookup stopped: EXIT_NOTFOUND if path
 * is not in the snapshot, EXIT_DAMAGED if a tree on the way cannot be
 * read, EXIT_USAGE if path is not absolute.  "/" gives *parent NULL. */
int cli_tree_lookup(struct repo *r, const char *sid, const uint8_t root[32], const char *path,
    struct tree **parent, size_t *idx);
/* The exit code for a tree that could not be loaded (missing or damaged
 * objects are damage, not "not found"). */
int cli_tree_exit(int err);
/* "drwxr-sr-x" from a tree entry's kind and permission bits. */
void cli_mode_string(char out[11], unsigned kind, unsigned mode);
/* "file", "dir", "symlink", "hardlink", "chr", "blk", "fifo", "sock". */
const char *cli_kind_name(unsigned kind);

/* Parses --kdf interactive|standard|moderate|sensitive into Argon2id costs. */
int cli_parse_kdf(const char *s, struct repo_kdf *k);

/* mkdir -p: missing parents 0755, the directory itself 0700; 0 or -1. */
int cli_mkdirs(const char *path);

/* Formatting helpers. */
void cli_human_bytes(char *out, size_t n, unsigned long long bytes);
void cli_time_utc(char *out, size_t n, long long ns);	/* 2026-11-24 13:51:46 */
void cli_id_short(char *out, const unsigned char id[32]);	/* 8 hex digits */

/* JSON output (strings escaped per RFC 8259). */
void json_str(FILE *f, const char *s);
void json_kv_str(FILE *f, const char *k, const char *v, int comma);
void json_kv_u64(FILE *f, const char *k, unsigned long long v, int comma);

/* Subcommands. */
int cmd_init(struct cli *c, int argc, char **argv);
int cmd_backup(struct cli *c, int argc, char **argv);
int cmd_snapshots(struct cli *c, int argc, char **argv);
int cmd_check(struct cli *c, int argc, char **argv);
int cmd_forget(struct cli *c, int argc, char **argv);
int cmd_prune(struct cli *c, int argc, char **argv);
/* The work of `bulwark prune` on an open repository (left open); an exit
 * code.  forget --prune uses it with the key it already unlocked. */
int cli_prune(struct cli *c, struct repo *r);
int cmd_stats(struct cli *c, int argc, char **argv);
int cmd_key(struct cli *c, int argc, char **argv);
int cmd_audit(struct cli *c, int argc, char **argv);
int cmd_config(struct cli *c, int argc, char **argv);
int cmd_ls(struct cli *c, int argc, char **argv);
int cmd_find(struct cli *c, int argc, char **argv);
int cmd_diff(struct cli *c, int argc, char **argv);
int cmd_failover(struct cli *c, int argc, char **argv);
int cmd_status(struct cli *c, int argc, char **argv);

/* One request to this node's bulwark-failoverd ([cluster] socket); -c's
 * config is loaded for the path.  EXIT_OK and *resp (ctl_resp_clear it),
 * or an exit code after the error was printed (not running: EXIT_NOTFOUND,
 * with how to start it). */
struct ctl_resp;
int cli_ctl_call(struct cli *c, int op, char *const *args, int nargs, struct ctl_resp *resp);
int cmd_restore(struct cli *c, int argc, char **argv);

/* Runs a restore (or with o->dry_run its plan) and reports it: a live
 * progress line on a terminal, the skipped, refused and damaged items (all
 * of them in a dry run), a one-line summary or JSON (c->json), and an
 * audit record carrying cmdline_summary.  SIGINT and SIGTERM stop it
 * cleanly while it runs (o->stop is replaced).  Returns the exit code:
 * EXIT_OK, EXIT_DAMAGED (damaged or unsafe entries; the rest restored),
 * EXIT_NOTFOUND, EXIT_AUTH, EXIT_IO, EXIT_INTERRUPTED. */
struct restore_opts;
int cli_restore_exec(struct cli *c, struct repo *r, const struct restore_opts *o,
    const char *cmdline_summary);
/* The guided restore wizard (cli/wizard.c): `bulwark restore` on a
 * terminal without a snapshot.  Asks, shows a dry run's summary, restores
 * through cli_restore_exec after a typed "yes".  Returns its exit code, or
 * EXIT_INTERRUPTED when the operator stopped it (nothing written). */
int cmd_restore_wizard(struct cli *c, int argc, char **argv);

#endif

/* Options every subcommand accepts (before or after its name). */
#include <getopt.h>
#define CLI_OPT_REPO 1001
#define CLI_OPT_PASSFILE 1002
#define CLI_OPT_JSON 1003
#define CLI_COMMON_LONGOPTS \
	{ "repo", required_argument, NULL, CLI_OPT_REPO }, \
	{ "passphrase-file", required_argument, NULL, CLI_OPT_PASSFILE }, \
	{ "json", no_argument, NULL, CLI_OPT_JSON }, \
	{ "config", required_argument, NULL, 'c' }, \
	{ "quiet", no_argument, NULL, 'q' }, \
	{ "verbose", no_argument, NULL, 'v' }, \
	{ "help", no_argument, NULL, 'h' }
#define CLI_COMMON_SHORTOPTS "c:r:qvh"
/* Handles a common option; returns 1 if it was one, 0 if not. */
int cli_common_opt(struct cli *c, int ch, const char *arg);
/* Parses the options of a command that has only the common ones.  Returns
 * -1 to go on (optind at the first operand), or an exit code to return. */
int cli_parse_common(struct cli *c, int argc, char **argv, const char *help);
/* The same for a command that also takes --set NAME and --tag TAG (which
 * snapshots it works on); *set and *tag stay NULL when not given. */
int cli_parse_snapsel(struct cli *c, int argc, char **argv, const char *help,
    const char **set, const char **tag);
/* Prints "bulwark CMD: ..." usage text and returns EXIT_USAGE or EXIT_OK. */
int cli_usage(FILE *f, const char *text, int rc);

/* Collects the ids every snapshot uses (cmd_prune.c).  0 or BW_ERR_*. */
#include "lib/repo/idset.h"
int prune_live_set(struct repo *r, struct idset *live);
