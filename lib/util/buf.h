/*
 * Bounds-checked byte buffers.  Every untrusted byte (repository objects,
 * manifests, key slots, cluster and control messages) is parsed through a
 * struct bufr; every on-disk or on-wire record is built with a struct buf.
 * All integers are little-endian.  A "str" is a u32 length then the bytes.
 *
 * Errors are sticky: after the first failure every later call is a no-op and
 * returns the same code, so a parser can read a whole record and check once.
 */
#ifndef BW_UTIL_BUF_H
#define BW_UTIL_BUF_H

#include <stddef.h>
#include <stdint.h>

/* Growable writer.  Zero-initialise (struct buf b = {0};) or buf_init(). */
struct buf {
	uint8_t *data;
	size_t len;
	size_t cap;
	int err;	/* 0 or BW_ERR_NOMEM */
	int secret;	/* wipe memory on every free/realloc */
};

void buf_init(struct buf *b);
/* Like buf_init, but old allocations are wiped before they are released. */
void buf_init_secret(struct buf *b);
/* Releases the memory (wiping it first for a secret buffer). */
void buf_free(struct buf *b);
/* Empties the buffer, keeping its memory. */
void buf_reset(struct buf *b);
/* Makes room for n more bytes; 0 or BW_ERR_NOMEM. */
int buf_reserve(struct buf *b, size_t n);
/* Appends n uninitialised bytes and returns a pointer to them, or NULL. */
uint8_t *buf_extend(struct buf *b, size_t n);
int buf_put(struct buf *b, const void *p, size_t n);
int buf_put_u8(struct buf *b, uint8_t v);
int buf_put_u16(struct buf *b, uint16_t v);
int buf_put_u32(struct buf *b, uint32_t v);
int buf_put_u64(struct buf *b, uint64_t v);
int buf_put_i64(struct buf *b, int64_t v);
/* u32 length, then the bytes. */
int buf_put_str(struct buf *b, const void *p, size_t n);
int buf_put_cstr(struct buf *b, const char *s);
/* Appends formatted text (no NUL), whatever its length.  0 or
 * BW_ERR_NOMEM/BW_ERR_INVAL (also left in b->err). */
int buf_printf(struct buf *b, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
/* Detaches the data (caller frees with free()); the buffer is left empty. */
uint8_t *buf_steal(struct buf *b, size_t *len);

/* Reader over borrowed memory.  Never reads past len. */
struct bufr {
	const uint8_t *p;
	size_t len;
	size_t off;
	int err;	/* 0 or BW_ERR_CORRUPT (ran out of bytes or bad value) */
};

void bufr_init(struct bufr *r, const void *p, size_t len);
size_t bufr_left(const struct bufr *r);
/* Returns a pointer to the next n bytes and advances, or NULL (sets err). */
const uint8_t *bufr_get(struct bufr *r, size_t n);
int bufr_copy(struct bufr *r, void *out, size_t n);
uint8_t bufr_u8(struct bufr *r);
uint16_t bufr_u16(struct bufr *r);
uint32_t bufr_u32(struct bufr *r);
uint64_t bufr_u64(struct bufr *r);
int64_t bufr_i64(struct bufr *r);
/* A str of at most max bytes; returns a pointer into the buffer, or NULL. */
const uint8_t *bufr_str(struct bufr *r, size_t max, size_t *n);
/* A str copied into a new NUL-terminated string; refuses embedded NULs.
 * Caller frees.  NULL on error (err set). */
char *bufr_strdup(struct bufr *r, size_t max);
/* Marks the reader failed (for semantic errors found by the caller). */
void bufr_fail(struct bufr *r);
/* 0 if no error and every byte was consumed, else BW_ERR_CORRUPT. */
int bufr_done(const struct bufr *r);

/* Little-endian helpers for fixed layouts. */
static inline void le32enc(uint8_t *p, uint32_t v)
{ p[0] = v; p[1] = v >> 8; p[2] = v >> 16; p[3] = v >> 24; }
static inline uint32_t le32dec(const uint8_t *p)
{ return p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 | (uint32_t)p[3] << 24; }
static inline void le64enc(uint8_t *p, uint64_t v)
{ le32enc(p, (uint32_t)v); le32enc(p + 4, (uint32_t)(v >> 32)); }
static inline uint64_t le64dec(const uint8_t *p)
{ return le32dec(p) | (uint64_t)le32dec(p + 4) << 32; }

/* Lower-case hex of n bytes into out (2n+1 bytes, NUL-terminated). */
void hex_encode(char *out, const uint8_t *in, size_t n);
/* Parses exactly 2n hex digits; 0 or BW_ERR_INVAL. */
int hex_decode(uint8_t *out, size_t n, const char *hex);

#endif
