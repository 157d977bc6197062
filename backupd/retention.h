/*
 * Retention: which snapshots `forget` keeps.  A pure function of the
 * snapshot list and the policy (no I/O, no clock), with the same semantics
 * as restic's `forget --keep-*`:
 *
 *  - Snapshots are taken per group (the caller's group key: the backup set
 *    name, or host and paths when there is no set), newest first; snapshots
 *    with the same time keep the caller's order.
 *  - Each keep_<period> option is a bucket that keeps the newest snapshot of
 *    each distinct period (hour, day, ISO week, month, year, all in UTC)
 *    until it has kept that many periods.  keep_last counts snapshots.
 *    RETENTION_UNLIMITED keeps every period.  If a bucket still has counts
 *    left when the oldest snapshot of the group is reached, that snapshot is
 *    kept as well ("oldest ..."), so history reaches as far back as allowed.
 *  - keep_within_ns keeps every snapshot strictly newer than the group's
 *    newest snapshot minus the duration.
 *  - keep_tags keeps every snapshot that carries all tags of one of the
 *    lists; a list is "a,b" (comma-separated).  An empty tag in a list
 *    matches snapshots that have no tags at all.
 *  - Tags and within do not use up bucket counts.  A snapshot is kept when
 *    any rule keeps it, and every rule that keeps it is listed.
 */
#ifndef BW_BACKUPD_RETENTION_H
#define BW_BACKUPD_RETENTION_H

#include <stddef.h>
#include <stdint.h>

#define RETENTION_UNLIMITED (-1)

struct retention_snap {
	int64_t time_ns;		/* snapshot time, ns since the epoch (UTC) */
	size_t index;			/* caller's opaque index, handed back */
	const char *group;		/* group key; NULL is the same as "" */
	const char *const *tags;	/* the snapshot's tags */
	size_t ntags;
};

struct retention_policy {
	/* Each is 0 (off), a positive count or RETENTION_UNLIMITED. */
	int keep_last;
	int keep_hourly;
	int keep_daily;
	int keep_weekly;		/* ISO 8601 weeks */
	int keep_monthly;
	int keep_yearly;
	int64_t keep_within_ns;		/* 0 (off) or a positive duration */
	const char *const *keep_tags;	/* tag lists "a,b"; see above */
	size_t nkeep_tags;
};

struct retention_decision {
	size_t index;			/* retention_snap.index */
	const char *group;		/* borrowed from the input ("" for NULL) */
	int64_t time_ns;
	int keep;			/* 1 keep, 0 forget */
	char **reasons;			/* why kept: "last 1", "daily 2026-11-20",
					 * "weekly 2026-W47", "within 7d",
					 * "tags a,b", "oldest monthly 2025-03" */
	size_t nreasons;
};

struct retention_result {
	/* One per input snapshot, in table order: groups by key (strcmp),
	 * newest first inside a group. */
	struct retention_decision *d;
	size_t n;
	size_t nkeep, nforget;
};

/*
 * Applies policy p to the n snapshots.  On success fills *out (release it
 * with retention_result_free) and returns 0.  Returns BW_ERR_INVAL, logged,
 * when the policy has no keep option at all (forgetting everything is never
 * what an operator means) or has a negative count or duration, and
 * BW_ERR_NOMEM.  On error *out is empty.  The group strings in *out are
 * borrowed from snaps.
 */
int retention_apply(const struct retention_policy *p,
    const struct retention_snap *snaps, size_t n, struct retention_result *out);

/* Releases what retention_apply put in r and empties it; an empty result is
 * fine. */
void retention_result_free(struct retention_result *r);

/* Nonzero if p keeps nothing (no option set). */
int retention_policy_empty(const struct retention_policy *p);

#endif
