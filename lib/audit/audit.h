/*
 * The audit log: append-only, hash-chained, signed at checkpoints.
 *
 * A log is a directory (default /var/lib/bulwark/audit, or BULWARK_AUDIT_DIR,
 * or [audit] dir in the config) holding:
 *   log       one record per line (format in docs/FORMAT.md, "Audit log")
 *   head      the newest checkpoint, replaced atomically
 *   key       the host's Ed25519 audit signing key (0600)
 *   key.pub   its public key
 * Every record carries the BLAKE2b-256 chain hash of the previous one; every
 * append ends with a signed checkpoint record and a new head, so that edits,
 * removals, reordering and truncation are all found by audit_verify.
 */
#ifndef BW_AUDIT_AUDIT_H
#define BW_AUDIT_AUDIT_H

#include <stdint.h>
#include <stdio.h>

/* A handle may be shared by threads.  Appends from threads and processes
 * are serialised by an flock of the log. */
struct audit;

/* Outcome words used in records. */
#define AUDIT_OK "ok"
#define AUDIT_FAIL "failed"
#define AUDIT_PARTIAL "partial"

/* Opens (creating on first use, with a new key) the log in dir; NULL dir
 * means $BULWARK_AUDIT_DIR or the default above.  Only the public key is
 * read here, so a user who may read the log can verify it.
 * 0 or a negative code (logged). */
int audit_open(const char *dir, struct audit **out);
void audit_free(struct audit *a);

/*
 * Appends one record and a checkpoint, durably.  time is taken from the
 * clock seam (UTC); user and host from the process.  action is a word
 * ("backup"), object names what it acted on (a repository path, snapshot
 * id...), outcome is AUDIT_OK/AUDIT_FAIL/AUDIT_PARTIAL, detail is free text
 * (may be NULL).  Fields are escaped so no value can forge a record.
 */
int audit_append(struct audit *a, const char *action, const char *object,
    const char *outcome, const char *detail);

/* One parsed record, for audit_show. */
struct audit_record {
	uint64_t seq;
	char time[32];		/* 2026-11-24T13:51:46.123Z */
	const char *user, *host, *action, *object, *outcome, *detail;
};
typedef int audit_each_fn(const struct audit_record *r, void *arg);
/* Calls fn for each record in order (checkpoints are not shown); the
 * strings live until fn returns.  Stops at fn's first nonzero return and
 * returns it.  Damaged lines are skipped and make the result
 * BW_ERR_CORRUPT (logged once). */
int audit_each(struct audit *a, audit_each_fn *fn, void *arg);

/*
 * Checks the whole chain, every checkpoint signature and the head.  Writes
 * one line per problem to report (may be NULL) ("record 17: edited (chain
 * hash mismatch)", "log truncated after record 40: head names record 52"),
 * and "note: ..." lines for things that are not damage.  *nrecords (may be
 * NULL) gets the number of records read, checkpoints included.
 * Returns 0 if intact, BW_ERR_CORRUPT if any problem was found, or the
 * code of a read error (logged).  Cutting the log just after a checkpoint
 * and putting back an older head is not visible here: compare the newest
 * record and head with copies kept off this machine.
 */
int audit_verify(struct audit *a, FILE *report, uint64_t *nrecords);

/* Clock seam for tests: fixed UTC time in ns since the epoch (0 = real). */
void audit_test_set_time(int64_t ns);

#endif
