/*
 * Content-defined chunking (FastCDC with normalised chunking and a keyed gear
 * table, so that chunk boundaries do not reveal content to someone without
 * the repository's id key).
 *
 * The chunker is a pure function of (gear seed, parameters, bytes): it sees
 * the data as a stream fed in arbitrary pieces and reports cut points; the
 * same stream always gives the same cuts however it is split into pieces.
 */
#ifndef BW_CHUNK_CDC_H
#define BW_CHUNK_CDC_H

#include <stddef.h>
#include <stdint.h>

#define CDC_MIN_DEFAULT (256u << 10)
#define CDC_AVG_DEFAULT (1u << 20)
#define CDC_MAX_DEFAULT (4u << 20)

struct cdc_params {
	uint32_t min, avg, max;	/* min < avg < max, avg a power of two */
};

struct cdc;

/* New chunker with a 256-entry gear table derived from seed (32 bytes).
 * NULL on bad parameters (logged) or no memory. */
struct cdc *cdc_new(const uint8_t seed[static 32], const struct cdc_params *p);
void cdc_free(struct cdc *c);
/* Forget the current chunk: the next byte starts a new one. */
void cdc_reset(struct cdc *c);
/*
 * Scans p[0..n) continuing the current chunk.  Returns the number of bytes
 * of p that complete the current chunk (a cut after them), or n if no cut
 * falls inside p (the chunk continues into the next call).  After a cut the
 * chunker starts a new chunk, so call again with the rest.
 * *cut is set to 1 when the return value marks a cut, else 0.
 */
size_t cdc_next(struct cdc *c, const uint8_t *p, size_t n, int *cut);

#endif
