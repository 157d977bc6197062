/*
 * Choosing a snapshot from the list repo_snapshots returns: by a hex id
 * prefix, "latest", or a time ("the newest at or before"), optionally within
 * one backup set and/or one tag.  Pure logic on an array of snap_info (no
 * repository), so that every rule is unit-tested without one.
 *
 * A snapshot spec is one of:
 *   latest                      the newest snapshot
 *   HEX                         a unique prefix of an id (either case)
 *   YYYY-MM-DD[ HH:MM[:SS]][Z]  the newest snapshot taken at or before the
 *                               end of that day, minute or second; local
 *                               time (TZ), or UTC with a trailing Z; 'T' may
 *                               stand for the space
 */
#ifndef BW_REPO_SNAPSEL_H
#define BW_REPO_SNAPSEL_H

#include <stddef.h>
#include <stdint.h>

#include "lib/repo/repo.h"

/* Nonzero if s is in set (NULL: any) and carries tag (NULL: any). */
int snapsel_filter(const struct snap_info *s, const char *set, const char *tag);

/*
 * Parses a time spec.  *cutoff_ns is the last nanosecond of the day,
 * minute or second it names (INT64_MAX past 2262); *utc tells whether it
 * ended in Z.  The one parser of operator times: the CLI and the wizard
 * give the same answer for the same words.
 * Returns 0, 1 if spec does not look like a time at all (no "YYYY-"
 * start), or BW_ERR_INVAL (logged, naming spec) if it looks like one but is
 * malformed or out of range.
 */
int snapsel_parse_time(const char *spec, int64_t *cutoff_ns, int *utc);

/*
 * Picks the snapshot spec names among v[0..n) (any order) that pass
 * snapsel_filter(set, tag); *idx is its index in v.  Returns 0;
 * BW_ERR_INVAL if spec is malformed or an id prefix is ambiguous (the
 * message lists the candidates); BW_ERR_NOENT if nothing matches (the
 * message names the spec, says what the oldest candidate is when a time
 * is before all, and how to list snapshots).  Errors are logged once here.
 */
int snapsel_pick(const struct snap_info *v, size_t n, const char *spec, const char *set,
    const char *tag, size_t *idx);

#endif
