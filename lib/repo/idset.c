#include "config.h"

#include <stdlib.h>
#include <string.h>

#include "lib/repo/idset.h"
#include "lib/util/buf.h"
#include "lib/util/err.h"

/*
 * Open addressing with linear probing.  Ids are keyed hashes, so their first
 * eight bytes are already uniformly distributed and serve as the hash.  A
 * slot is empty when its "used" byte is zero; nothing is ever removed, so no
 * tombstones are needed.  The table grows (doubles) at 70% load.
 */
struct idslot {
	uint8_t id[32];
	uint64_t value;
};

struct idset {
	struct idslot *slot;
	uint8_t *used;
	size_t cap;		/* power of two */
	size_t count;
};

struct idset *
idset_new(void)
{
	struct idset *s = calloc(1, sizeof(*s));

	if (!s)
		return NULL;
	s->cap = 64;
	s->slot = malloc(s->cap * sizeof(*s->slot));
	s->used = calloc(s->cap, 1);
	if (!s->slot || !s->used) {
		idset_free(s);
		return NULL;
	}
	return s;
}

void
idset_free(struct idset *s)
{
	if (!s)
		return;
	free(s->slot);
	free(s->used);
	free(s);
}

static size_t
find(const struct idset *s, const uint8_t id[static 32])
{
	size_t mask = s->cap - 1;
	size_t i = (size_t)le64dec(id) & mask;

	while (s->used[i] && memcmp(s->slot[i].id, id, 32) != 0)
		i = (i + 1) & mask;
	return i;
}

static int
grow(struct idset *s)
{
	struct idset n = { 0 };
	size_t i, j;

	n.cap = s->cap * 2;
	n.slot = malloc(n.cap * sizeof(*n.slot));
	n.used = calloc(n.cap, 1);
	if (!n.slot || !n.used) {
		free(n.slot);
		free(n.used);
		return BW_ERR_NOMEM;
	}
	for (i = 0; i < s->cap; i++) {
		if (!s->used[i])
			continue;
		j = find(&n, s->slot[i].id);
		n.slot[j] = s->slot[i];
		n.used[j] = 1;
	}
	free(s->slot);
	free(s->used);
	s->slot = n.slot;
	s->used = n.used;
	s->cap = n.cap;
	return 0;
}

int
idset_put(struct idset *s, const uint8_t id[static 32], uint64_t value, int *added)
{
	size_t i;

	if (added)
		*added = 0;
	i = find(s, id);
	if (s->used[i]) {
		s->slot[i].value = value;
		return 0;
	}
	if ((s->count + 1) * 10 > s->cap * 7) {
		if (grow(s))
			return BW_ERR_NOMEM;
		i = find(s, id);
	}
	memcpy(s->slot[i].id, id, 32);
	s->slot[i].value = value;
	s->used[i] = 1;
	s->count++;
	if (added)
		*added = 1;
	return 0;
}

int
idset_get(const struct idset *s, const uint8_t id[static 32], uint64_t *value)
{
	size_t i = find(s, id);

	if (!s->used[i])
		return 0;
	if (value)
		*value = s->slot[i].value;
	return 1;
}

size_t idset_count(const struct idset *s) { return s->count; }

int
idset_next(const struct idset *s, size_t *pos, const uint8_t **id, uint64_t *value)
{
	while (*pos < s->cap) {
		size_t i = (*pos)++;

		if (!s->used[i])
			continue;
		if (id)
			*id = s->slot[i].id;
		if (value)
			*value = s->slot[i].value;
		return 1;
	}
	return 0;
}
