#include "config.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "lib/util/buf.h"
#include "lib/util/err.h"

static void
wipe(void *p, size_t n)
{
	volatile uint8_t *v = p;

	while (n--)
		*v++ = 0;
}

void buf_init(struct buf *b) { memset(b, 0, sizeof(*b)); }
void buf_init_secret(struct buf *b) { buf_init(b); b->secret = 1; }

void
buf_free(struct buf *b)
{
	if (b->secret && b->data)
		wipe(b->data, b->cap);
	free(b->data);
	b->data = NULL;
	b->len = b->cap = 0;
	b->err = 0;
}

void
buf_reset(struct buf *b)
{
	if (b->secret && b->data)
		wipe(b->data, b->len);
	b->len = 0;
	b->err = 0;
}

int
buf_reserve(struct buf *b, size_t n)
{
	size_t cap;
	uint8_t *p;

	if (b->err)
		return b->err;
	if (n <= b->cap - b->len)
		return 0;
	if (n > SIZE_MAX / 2 - b->len)
		return b->err = BW_ERR_NOMEM;
	cap = b->cap ? b->cap : 64;
	while (cap - b->len < n)
		cap *= 2;
	if (b->secret) {
		if ((p = malloc(cap)) == NULL)
			return b->err = BW_ERR_NOMEM;
		if (b->data) {
			memcpy(p, b->data, b->len);
			wipe(b->data, b->cap);
			free(b->data);
		}
	} else if ((p = realloc(b->data, cap)) == NULL) {
		return b->err = BW_ERR_NOMEM;
	}
	b->data = p;
	b->cap = cap;
	return 0;
}

uint8_t *
buf_extend(struct buf *b, size_t n)
{
	uint8_t *p;

	if (buf_reserve(b, n))
		return NULL;
	p = b->data + b->len;
	b->len += n;
	return p;
}

int
buf_put(struct buf *b, const void *src, size_t n)
{
	uint8_t *p;

	if (n == 0)
		return b->err;
	if ((p = buf_extend(b, n)) == NULL)
		return b->err;
	memcpy(p, src, n);
	return 0;
}

int buf_put_u8(struct buf *b, uint8_t v) { return buf_put(b, &v, 1); }

int
buf_put_u16(struct buf *b, uint16_t v)
{
	uint8_t p[2] = { v, v >> 8 };

	return buf_put(b, p, 2);
}

int
buf_put_u32(struct buf *b, uint32_t v)
{
	uint8_t p[4];

	le32enc(p, v);
	return buf_put(b, p, 4);
}

int
buf_put_u64(struct buf *b, uint64_t v)
{
	uint8_t p[8];

	le64enc(p, v);
	return buf_put(b, p, 8);
}

int buf_put_i64(struct buf *b, int64_t v) { return buf_put_u64(b, (uint64_t)v); }

int
buf_put_str(struct buf *b, const void *p, size_t n)
{
	if (b->err)
		return b->err;
	if (n > UINT32_MAX)
		return b->err = BW_ERR_INVAL;
	buf_put_u32(b, (uint32_t)n);
	return buf_put(b, p, n);
}

int buf_put_cstr(struct buf *b, const char *s) { return buf_put_str(b, s, s ? strlen(s) : 0); }

int
buf_printf(struct buf *b, const char *fmt, ...)
{
	va_list ap;
	uint8_t *p;
	int n;

	if (b->err)
		return b->err;
	va_start(ap, fmt);
	n = vsnprintf(NULL, 0, fmt, ap);
	va_end(ap);
	if (n < 0)
		return b->err = BW_ERR_INVAL;
	/* one byte more for vsnprintf's NUL, then dropped */
	if ((p = buf_extend(b, (size_t)n + 1)) == NULL)
		return b->err ? b->err : BW_ERR_NOMEM;
	va_start(ap, fmt);
	vsnprintf((char *)p, (size_t)n + 1, fmt, ap);
	va_end(ap);
	b->len--;
	return 0;
}

uint8_t *
buf_steal(struct buf *b, size_t *len)
{
	uint8_t *p = b->data;

	if (len)
		*len = b->len;
	b->data = NULL;
	b->len = b->cap = 0;
	return p;
}

void
bufr_init(struct bufr *r, const void *p, size_t len)
{
	r->p = p;
	r->len = len;
	r->off = 0;
	r->err = 0;
}

size_t bufr_left(const struct bufr *r) { return r->err ? 0 : r->len - r->off; }
void bufr_fail(struct bufr *r) { if (!r->err) r->err = BW_ERR_CORRUPT; }

const uint8_t *
bufr_get(struct bufr *r, size_t n)
{
	const uint8_t *p;

	if (r->err)
		return NULL;
	if (n > r->len - r->off) {
		r->err = BW_ERR_CORRUPT;
		return NULL;
	}
	p = r->p + r->off;
	r->off += n;
	return p;
}

int
bufr_copy(struct bufr *r, void *out, size_t n)
{
	const uint8_t *p = bufr_get(r, n);

	if (!p)
		return r->err;
	if (n)
		memcpy(out, p, n);
	return 0;
}

uint8_t
bufr_u8(struct bufr *r)
{
	const uint8_t *p = bufr_get(r, 1);

	return p ? p[0] : 0;
}

uint16_t
bufr_u16(struct bufr *r)
{
	const uint8_t *p = bufr_get(r, 2);

	return p ? (uint16_t)(p[0] | p[1] << 8) : 0;
}

uint32_t
bufr_u32(struct bufr *r)
{
	const uint8_t *p = bufr_get(r, 4);

	return p ? le32dec(p) : 0;
}

uint64_t
bufr_u64(struct bufr *r)
{
	const uint8_t *p = bufr_get(r, 8);

	return p ? le64dec(p) : 0;
}

int64_t bufr_i64(struct bufr *r) { return (int64_t)bufr_u64(r); }

const uint8_t *
bufr_str(struct bufr *r, size_t max, size_t *n)
{
	uint32_t len = bufr_u32(r);

	if (r->err)
		return NULL;
	if (len > max) {
		r->err = BW_ERR_CORRUPT;
		return NULL;
	}
	*n = len;
	return bufr_get(r, len);
}

char *
bufr_strdup(struct bufr *r, size_t max)
{
	size_t n;
	const uint8_t *p = bufr_str(r, max, &n);
	char *s;

	if (!p)
		return NULL;
	if (memchr(p, 0, n)) {
		r->err = BW_ERR_CORRUPT;
		return NULL;
	}
	if ((s = malloc(n + 1)) == NULL) {
		r->err = BW_ERR_NOMEM;
		return NULL;
	}
	memcpy(s, p, n);
	s[n] = 0;
	return s;
}

int
bufr_done(const struct bufr *r)
{
	if (r->err)
		return r->err;
	return r->off == r->len ? 0 : BW_ERR_CORRUPT;
}

void
hex_encode(char *out, const uint8_t *in, size_t n)
{
	static const char d[] = "0123456789abcdef";
	size_t i;

	for (i = 0; i < n; i++) {
		out[2 * i] = d[in[i] >> 4];
		out[2 * i + 1] = d[in[i] & 15];
	}
	out[2 * n] = 0;
}

static int
hexval(char c)
{
	if (c >= '0' && c <= '9')
		return c - '0';
	if (c >= 'a' && c <= 'f')
		return c - 'a' + 10;
	if (c >= 'A' && c <= 'F')
		return c - 'A' + 10;
	return -1;
}

int
hex_decode(uint8_t *out, size_t n, const char *hex)
{
	size_t i;
	int hi, lo;

	for (i = 0; i < n; i++) {
		if ((hi = hexval(hex[2 * i])) < 0 || (lo = hexval(hex[2 * i + 1])) < 0)
			return BW_ERR_INVAL;
		out[i] = (uint8_t)(hi << 4 | lo);
	}
	return hex[2 * n] == 0 ? 0 : BW_ERR_INVAL;
}
