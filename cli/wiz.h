/*
 * The restore wizard's logic, kept apart from the terminal so that it can
 * be tested: backup sets and points in time from the snapshot list, which
 * snapshots a read of all data has verified (from audit records), the
 * browse shell over any directory lister, destination checks, the
 * summary's time estimate, and the restore options and the equivalent
 * non-interactive command line built from the operator's choices.
 * cli/wizard.c asks the questions and does the I/O.
 */
#ifndef BW_CLI_WIZ_H
#define BW_CLI_WIZ_H

#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <time.h>

#include "lib/repo/repo.h"
#include "lib/util/buf.h"
#include "restore/restore.h"

/* ---- backup sets ---- */

struct wiz_set {
	const char *name;	/* borrowed from the snapshot list; NULL: no set */
	size_t count;
	int64_t newest_ns;
};
/*
 * Groups the snapshots s (any order) by backup set, newest set first
 * (the set of the newest snapshot, the wizard's default, is (*out)[0]).
 * Caller frees *out.  0 or BW_ERR_NOMEM.
 */
int wiz_sets(const struct snap_info *s, size_t n, struct wiz_set **out, size_t *nout);
/* Nonzero if s belongs to set (NULL: the snapshots that have no set). */
int wiz_in_set(const struct snap_info *s, const char *set);
/* Stores in idx (room for n) the indices of set's snapshots, newest first;
 * returns how many. */
size_t wiz_set_snaps(const struct snap_info *s, size_t n, const char *set, size_t *idx);

/* ---- points in time ---- */

/* Among idx[0..n) (newest first), the position of the newest snapshot
 * taken at or before ns (a cutoff from snapsel_parse_time, so that the
 * wizard and 'bulwark restore TIME' agree); -1 if all are later. */
long wiz_pick_before(const struct snap_info *s, const size_t *idx, size_t n, int64_t ns);

/* ---- verified snapshots ---- */

enum wiz_verified { WIZ_VERIFY_UNKNOWN = 0, WIZ_VERIFY_NO, WIZ_VERIFY_YES };

/* Successful reads of all data recorded in the audit log. */
struct wiz_proofs {
	struct wiz_proof {
		int64_t ns;		/* when it was recorded */
		char snap[65];		/* a snapshot id (prefix), "" for all */
	} *v;
	size_t n;
	int unreadable;		/* the log could not be read: "unknown" */
};
/*
 * Looks at one audit record (fields as struct audit_record) and keeps it
 * if it proves data of repository repo readable: "check --read-data" with
 * outcome ok on that repository proves every snapshot older than the
 * record; a successful restore with verification proves its snapshot.
 * 0 or BW_ERR_NOMEM.
 */
int wiz_proof_note(struct wiz_proofs *p, const char *repo, const char *time,
    const char *action, const char *object, const char *outcome, const char *detail);
/* Whether a proof recorded after s covers it; UNKNOWN if unreadable. */
enum wiz_verified wiz_verified(const struct wiz_proofs *p, const struct snap_info *s);
void wiz_proofs_clear(struct wiz_proofs *p);

/* ---- the browse shell ---- */

struct wiz_dirent {
	char *name;
	int kind;		/* enum tree_kind */
	uint32_t mode;
	uint64_t size;
	int64_t mtime;		/* seconds */
	char *link;		/* symlink target, or NULL */
};
/*
 * Lists the directory dir (absolute, normalised) of the snapshot being
 * browsed, sorted by name.  0; BW_ERR_NOENT if there is no such path,
 * BW_ERR_INVAL if it is not a directory (neither logged); any other code
 * after the lister logged the problem.  *out is freed with
 * wiz_dirents_free.
 */
typedef int wiz_list_fn(void *arg, const char *dir, struct wiz_dirent **out, size_t *n);
void wiz_dirents_free(struct wiz_dirent *d, size_t n);

struct wiz_shell {
	wiz_list_fn *list;
	void *arg;
	char *cwd;		/* absolute, normalised */
	char **marks;		/* absolute paths, sorted; none inside another */
	size_t nmarks;
};
enum { WIZ_SHELL_MORE = 0, WIZ_SHELL_DONE, WIZ_SHELL_QUIT };

/* Starts in directory start ("/" if NULL).  0 or BW_ERR_NOMEM. */
int wiz_shell_init(struct wiz_shell *sh, wiz_list_fn *list, void *arg, const char *start);
void wiz_shell_clear(struct wiz_shell *sh);
/*
 * Runs one command line (ls [-l] [PATH], cd PATH, mark PATH|GLOB,
 * unmark PATH|GLOB, marked, find PATTERN, done, help, q), writing what
 * the operator sees to out.  Returns WIZ_SHELL_MORE, WIZ_SHELL_DONE (done,
 * with something marked), WIZ_SHELL_QUIT (q), or BW_ERR_NOMEM.  Mistakes
 * (no such path, bad glob) are reported on out and return MORE.
 */
int wiz_shell_run(struct wiz_shell *sh, const char *line, FILE *out);
/* Normalises arg against cwd: absolute, no ".", "..", empty components or
 * trailing slash; ".." at "/" stays at "/".  Malloc'd, or NULL. */
char *wiz_path_join(const char *cwd, const char *arg);
/* The help text of the browse shell. */
extern const char wiz_shell_help[];

/* ---- destination ---- */

/* "BASE/restore-SNAPID8-YYYYMMDD-HHMM" (local time of now). */
void wiz_default_target(char *out, size_t n, const char *base, const uint8_t id[static 32],
    time_t now);
/* A restore directory: absolute, its parent an existing directory, itself
 * missing or a directory.  0, or BW_ERR_INVAL with the reason in why. */
int wiz_check_dir(const char *path, char *why, size_t whylen);
/* An archive file: absolute, ending in .tar, .tar.zst or .zip, its parent
 * an existing directory, itself missing.  0 or BW_ERR_INVAL and why. */
int wiz_check_archive(const char *path, char *why, size_t whylen);

/* ---- summary ---- */

/* Seconds at a conservative 150 MB/s plus 5,000 files/s, rounded up. */
uint64_t wiz_estimate_sec(uint64_t bytes, uint64_t files);
/* "about 3 min" */
void wiz_duration(char *out, size_t n, uint64_t sec);

/* ---- the operator's choices ---- */

struct wiz_choice {
	const char *config;	/* -c FILE if one was given, else NULL */
	const char *repo;
	uint8_t snap[OBJ_ID_LEN];
	const char *target;	/* a directory, "/" for in place, or NULL */
	const char *archive;	/* or an archive file */
	char **includes; size_t nincludes;
	char **excludes; size_t nexcludes;
	char **select; size_t nselect;	/* marked paths */
	enum restore_overwrite overwrite;
	int verify;
};
/* Appends s quoted for a POSIX shell (bare when only safe characters). */
int wiz_shell_quote(struct buf *b, const char *s);
/* Appends path as an fnmatch pattern matching only itself. */
int wiz_glob_escape(struct buf *b, const char *path);
/*
 * The non-interactive command that does what w says, NUL-terminated in
 * out: bulwark restore --repo R SNAPID --target T --overwrite X --verify
 * --include P...  Marked paths become --include patterns matching exactly
 * them.  0 or BW_ERR_NOMEM.
 */
int wiz_cmdline(const struct wiz_choice *w, struct buf *out);
/* Fills o from w (pointers borrowed from w; callbacks and stop left as
 * they were); the whole snapshot ("/") with the marks as selection. */
void wiz_restore_opts(const struct wiz_choice *w, struct restore_opts *o);
void wiz_choice_clear(struct wiz_choice *w);
/* Splits a line of whitespace-separated words into *v (appended, each
 * malloc'd).  0 or BW_ERR_NOMEM. */
int wiz_words(const char *line, char ***v, size_t *n);

#endif
