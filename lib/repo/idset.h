/*
 * A set of 32-byte object ids with a 64-bit value each (open addressing).
 * Not thread-safe; callers lock.  Ids are keyed hashes, so the first bytes
 * are used directly as the hash.
 */
#ifndef BW_REPO_IDSET_H
#define BW_REPO_IDSET_H

#include <stddef.h>
#include <stdint.h>

struct idset;

struct idset *idset_new(void);
void idset_free(struct idset *s);
/* Adds id (or updates its value).  0, or BW_ERR_NOMEM.  *added = 1 if new. */
int idset_put(struct idset *s, const uint8_t id[static 32], uint64_t value, int *added);
/* 1 and *value (may be NULL) if present, else 0. */
int idset_get(const struct idset *s, const uint8_t id[static 32], uint64_t *value);
size_t idset_count(const struct idset *s);
/* Iterates: start with *pos = 0; returns 0 at the end. */
int idset_next(const struct idset *s, size_t *pos, const uint8_t **id, uint64_t *value);

#endif
