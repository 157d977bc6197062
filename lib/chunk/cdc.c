/*
 * FastCDC (Xia et al., USENIX ATC 2016) with normalised chunking, level 2.
 *
 * A chunk of length L is cut after byte L-1 where, with the gear hash
 *   h = (h << 1) + gear[byte]        (h = 0 at the chunk's byte min),
 * the first of these holds:
 *   - min <= L < avg  and h & mask_s == 0     (mask_s: log2(avg) + 2 bits)
 *   - avg <= L < max  and h & mask_l == 0     (mask_l: log2(avg) - 2 bits)
 *   - L == max.
 * Bytes 0..min-1 of a chunk are never hashed (cut-point skipping): no cut
 * can fall there, so hashing them is wasted work.  The masks use the top
 * bits of h because bit k of a gear hash depends only on the last k+1
 * bytes; the top bits see a full 43..64-byte window.
 *
 * The state between calls is just (bytes into the chunk, h), so feeding the
 * stream in any pieces gives the same cuts.
 *
 * The gear table is keyed (docs/FORMAT.md, "Gear table") so that chunk
 * sizes, which the storage host sees, do not let it test for known content.
 */
#include "config.h"

#include <stdlib.h>
#include <string.h>

#include "lib/chunk/cdc.h"
#include "lib/crypto/bwcrypto.h"
#include "lib/util/buf.h"
#include "lib/util/log.h"

/* Bounds on parameters: avg large enough that mask_l has a few bits, max
 * small enough that a chunk fits comfortably in memory and in a u32. */
#define CDC_AVG_LOWEST 256u
#define CDC_MAX_HIGHEST (256u << 20)

struct cdc {
	uint64_t gear[256];
	uint64_t mask_s, mask_l;
	size_t min, avg, max;
	size_t len;	/* bytes of the current chunk seen so far */
	uint64_t h;
};

static int
cdc_params_ok(const struct cdc_params *p)
{
	if (p->avg < CDC_AVG_LOWEST || (p->avg & (p->avg - 1)) != 0) {
		log_error("chunker: average chunk size %u must be a power of two of at least %u",
		    p->avg, CDC_AVG_LOWEST);
		return 0;
	}
	if (p->min == 0 || p->min >= p->avg || p->max <= p->avg || p->max > CDC_MAX_HIGHEST) {
		log_error("chunker: chunk sizes min %u, avg %u, max %u must satisfy "
		    "0 < min < avg < max <= %u", p->min, p->avg, p->max, CDC_MAX_HIGHEST);
		return 0;
	}
	return 1;
}

static uint64_t
top_bits(unsigned bits)
{
	return ~(uint64_t)0 << (64 - bits);
}

struct cdc *
cdc_new(const uint8_t seed[static 32], const struct cdc_params *p)
{
	uint8_t key[BWC_KEY], digest[BWC_ID];
	struct cdc *c;
	unsigned bits;
	int i;

	if (!cdc_params_ok(p))
		return NULL;
	if ((c = calloc(1, sizeof(*c))) == NULL) {
		log_error("chunker: out of memory");
		return NULL;
	}
	bwcrypto_kdf(key, sizeof(key), seed, "gear");
	for (i = 0; i < 256; i++) {
		uint8_t b = (uint8_t)i;

		bwcrypto_hash(digest, key, &b, 1);
		c->gear[i] = le64dec(digest);
	}
	bwcrypto_wipe(key, sizeof(key));
	bwcrypto_wipe(digest, sizeof(digest));

	bits = (unsigned)__builtin_ctz(p->avg);
	c->mask_s = top_bits(bits + 2);
	c->mask_l = top_bits(bits - 2);
	c->min = p->min;
	c->avg = p->avg;
	c->max = p->max;
	cdc_reset(c);
	return c;
}

void
cdc_free(struct cdc *c)
{
	if (c == NULL)
		return;
	/* The table is derived from the id key: treat it as secret. */
	bwcrypto_wipe(c, sizeof(*c));
	free(c);
}

void
cdc_reset(struct cdc *c)
{
	c->len = 0;
	c->h = 0;
}

size_t
cdc_next(struct cdc *c, const uint8_t *p, size_t n, int *cut)
{
	const uint64_t *gear = c->gear;
	const uint64_t mask_s = c->mask_s, mask_l = c->mask_l;
	size_t base = c->len;	/* chunk bytes before p[0] */
	uint64_t h = c->h;
	size_t i = 0, lim;

	*cut = 0;
	if (base < c->min) {
		if (c->min - base >= n) {
			c->len = base + n;
			return n;
		}
		i = c->min - base;
	}
	if (base + i < c->avg) {
		lim = c->avg - base < n ? c->avg - base : n;
		for (; i < lim; i++) {
			h = (h << 1) + gear[p[i]];
			if (!(h & mask_s))
				goto found;
		}
	}
	lim = c->max - base < n ? c->max - base : n;
	for (; i < lim; i++) {
		h = (h << 1) + gear[p[i]];
		if (!(h & mask_l))
			goto found;
	}
	if (base + i == c->max) {
		cdc_reset(c);
		*cut = 1;
		return i;
	}
	c->len = base + n;
	c->h = h;
	return n;
found:
	cdc_reset(c);
	*cut = 1;
	return i + 1;
}
