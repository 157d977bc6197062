/*
 * failoverd's CPG messages, version 1.  All integers little-endian; a str
 * is a u32 length and that many bytes (lib/util/buf.h).
 *
 *   message  = magic version type body
 *   magic    = "BWFM"                  4 bytes
 *   version  = u8 (1)                  another version is refused
 *   type     = u8                      enum msg_type
 *   HEALTH   = site u8:ok reason
 *   STATE    = site u8:state u32:gen reason
 *   DATA_AGE = site u32:seconds
 *   MOVE     = site u32:node
 *   STANDBY  = u32:node
 *   ONLINE   = u32:node
 *   CONFIRM  = site u32:node u8:yes u32:gen
 *   DECIDE   = site u8:decision u32:node u32:gen reason
 *   HELLO    = u32:ring_node u64:ring_seq u8:standby u16:count
 *              count * ( site u8:state u8:healthy u32:data_age u32:gen )
 *   site     = str, 1..64 bytes of [A-Za-z0-9._-], not starting with . or -
 *   reason   = str, 0..200 printable bytes (no control characters)
 *
 * Booleans are 0 or 1; enums within their range; a message ends exactly
 * where its body does.  Anything else is refused as corrupt: a peer that
 * sends it runs another build, or is not a failoverd.
 */
#include "config.h"

#include <stdlib.h>
#include <string.h>

#include "failover/msg.h"
#include "lib/util/err.h"
#include "lib/util/log.h"

static const uint8_t magic[4] = { 'B', 'W', 'F', 'M' };

void
msg_set_str(char *dst, size_t size, const char *s)
{
	size_t n = strlen(s);

	if (n >= size)
		n = size - 1;
	memcpy(dst, s, n);
	dst[n] = '\0';
}

static int
valid_site(const char *s, size_t n)
{
	size_t i;

	if (n == 0 || n > FMSG_NAME_MAX || s[0] == '.' || s[0] == '-')
		return 0;
	for (i = 0; i < n; i++) {
		unsigned char c = (unsigned char)s[i];

		if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
		    (c >= '0' && c <= '9') || c == '.' || c == '_' || c == '-'))
			return 0;
	}
	return 1;
}

static int
valid_reason(const char *s, size_t n)
{
	size_t i;

	if (n > FMSG_REASON_MAX)
		return 0;
	for (i = 0; i < n; i++)
		if ((unsigned char)s[i] < 0x20 || s[i] == 0x7f)
			return 0;
	return 1;
}

static int
put_site(struct buf *b, const char *site)
{
	if (!valid_site(site, strlen(site))) {
		log_error("failover message: site name \"%.80s\" cannot be sent; "
		    "expected a name as in bulwark.conf", site);
		return BW_ERR_INVAL;
	}
	return buf_put_cstr(b, site);
}

static int
put_reason(struct buf *b, const char *reason)
{
	if (!valid_reason(reason, strlen(reason))) {
		log_error("failover message: reason \"%.80s\" cannot be sent; "
		    "expected at most %d printable bytes", reason, FMSG_REASON_MAX);
		return BW_ERR_INVAL;
	}
	return buf_put_cstr(b, reason);
}

int
msg_encode(const struct msg *m, struct buf *b)
{
	size_t i, start = b->len;
	int r = 0;

	buf_put(b, magic, sizeof(magic));
	buf_put_u8(b, FMSG_VERSION);
	buf_put_u8(b, (uint8_t)m->type);
	switch (m->type) {
	case FMSG_HEALTH:
		if ((r = put_site(b, m->site)) == 0) {
			buf_put_u8(b, m->ok ? 1 : 0);
			r = put_reason(b, m->reason);
		}
		break;
	case FMSG_STATE:
		if (m->state > FMSG_SITE__MAX)
			goto inval;
		if ((r = put_site(b, m->site)) == 0) {
			buf_put_u8(b, m->state);
			buf_put_u32(b, m->gen);
			r = put_reason(b, m->reason);
		}
		break;
	case FMSG_DATA_AGE:
		if ((r = put_site(b, m->site)) == 0)
			buf_put_u32(b, m->seconds);
		break;
	case FMSG_MOVE:
		if ((r = put_site(b, m->site)) == 0)
			buf_put_u32(b, m->node);
		break;
	case FMSG_STANDBY:
	case FMSG_ONLINE:
		buf_put_u32(b, m->node);
		break;
	case FMSG_CONFIRM:
		if ((r = put_site(b, m->site)) == 0) {
			buf_put_u32(b, m->node);
			buf_put_u8(b, m->ok ? 1 : 0);
			buf_put_u32(b, m->gen);
		}
		break;
	case FMSG_DECIDE:
		if (m->decision < 1 || m->decision > FMSG_DECIDE__MAX)
			goto inval;
		if ((r = put_site(b, m->site)) == 0) {
			buf_put_u8(b, m->decision);
			buf_put_u32(b, m->node);
			buf_put_u32(b, m->gen);
			r = put_reason(b, m->reason);
		}
		break;
	case FMSG_HELLO:
		if (m->nsites > FMSG_HELLO_MAX_SITES)
			goto inval;
		buf_put_u32(b, m->ring_node);
		buf_put_u64(b, m->ring_seq);
		buf_put_u8(b, m->standby ? 1 : 0);
		buf_put_u16(b, (uint16_t)m->nsites);
		for (i = 0; i < m->nsites && r == 0; i++) {
			const struct msg_hello_site *s = &m->sites[i];

			if (s->state > FMSG_SITE__MAX)
				goto inval;
			if ((r = put_site(b, s->site)) == 0) {
				buf_put_u8(b, s->state);
				buf_put_u8(b, s->healthy ? 1 : 0);
				buf_put_u32(b, s->data_age_s);
				buf_put_u32(b, s->gen);
			}
		}
		break;
	default:
		goto inval;
	}
	if (r == 0 && b->err)
		r = b->err;
	if (r == 0 && b->len - start > FMSG_MAX_SIZE) {
		log_error("failover message: %s message of %zu bytes is larger "
		    "than %d", msg_type_name(m->type), b->len - start, FMSG_MAX_SIZE);
		r = BW_ERR_INVAL;
	}
	if (r && !b->err)
		b->len = start;
	return r;
inval:
	log_error("failover message: a %s message with a field out of range "
	    "cannot be sent", msg_type_name(m->type));
	b->len = start;
	return BW_ERR_INVAL;
}

/* A site name into dst; marks r failed when it is not one. */
static void
get_site(struct bufr *r, char *dst)
{
	const uint8_t *p;
	size_t n;

	if ((p = bufr_str(r, FMSG_NAME_MAX, &n)) == NULL)
		return;
	if (!valid_site((const char *)p, n)) {
		bufr_fail(r);
		return;
	}
	memcpy(dst, p, n);
	dst[n] = '\0';
}

static void
get_reason(struct bufr *r, char *dst)
{
	const uint8_t *p;
	size_t n;

	if ((p = bufr_str(r, FMSG_REASON_MAX, &n)) == NULL)
		return;
	if (!valid_reason((const char *)p, n)) {
		bufr_fail(r);
		return;
	}
	memcpy(dst, p, n);
	dst[n] = '\0';
}

static uint8_t
get_bool(struct bufr *r)
{
	uint8_t v = bufr_u8(r);

	if (v > 1)
		bufr_fail(r);
	return v;
}

static uint8_t
get_enum(struct bufr *r, unsigned lo, unsigned hi)
{
	uint8_t v = bufr_u8(r);

	if (v < lo || v > hi)
		bufr_fail(r);
	return v;
}

int
msg_decode(const void *data, size_t len, struct msg *m)
{
	const uint8_t *p;
	struct bufr r;
	size_t i, n;
	uint8_t version;

	memset(m, 0, sizeof(*m));
	if (len > FMSG_MAX_SIZE)
		return BW_ERR_CORRUPT;
	bufr_init(&r, data, len);
	if ((p = bufr_get(&r, sizeof(magic))) == NULL ||
	    memcmp(p, magic, sizeof(magic)) != 0)
		return BW_ERR_CORRUPT;
	version = bufr_u8(&r);
	if (r.err)
		return BW_ERR_CORRUPT;
	if (version != FMSG_VERSION)
		return BW_ERR_VERSION;
	m->type = (enum msg_type)get_enum(&r, 1, FMSG__MAX);
	if (r.err)
		return BW_ERR_CORRUPT;
	switch (m->type) {
	case FMSG_HEALTH:
		get_site(&r, m->site);
		m->ok = get_bool(&r);
		get_reason(&r, m->reason);
		break;
	case FMSG_STATE:
		get_site(&r, m->site);
		m->state = get_enum(&r, 0, FMSG_SITE__MAX);
		m->gen = bufr_u32(&r);
		get_reason(&r, m->reason);
		break;
	case FMSG_DATA_AGE:
		get_site(&r, m->site);
		m->seconds = bufr_u32(&r);
		break;
	case FMSG_MOVE:
		get_site(&r, m->site);
		m->node = bufr_u32(&r);
		break;
	case FMSG_STANDBY:
	case FMSG_ONLINE:
		m->node = bufr_u32(&r);
		break;
	case FMSG_CONFIRM:
		get_site(&r, m->site);
		m->node = bufr_u32(&r);
		m->ok = get_bool(&r);
		m->gen = bufr_u32(&r);
		break;
	case FMSG_DECIDE:
		get_site(&r, m->site);
		m->decision = get_enum(&r, 1, FMSG_DECIDE__MAX);
		m->node = bufr_u32(&r);
		m->gen = bufr_u32(&r);
		get_reason(&r, m->reason);
		break;
	case FMSG_HELLO:
		m->ring_node = bufr_u32(&r);
		m->ring_seq = bufr_u64(&r);
		m->standby = get_bool(&r);
		n = bufr_u16(&r);
		if (r.err || n > FMSG_HELLO_MAX_SITES)
			return BW_ERR_CORRUPT;
		/* Each entry takes at least 15 bytes: no allocation for a
		 * count the message cannot hold. */
		if (n > bufr_left(&r) / 15)
			return BW_ERR_CORRUPT;
		if (n && (m->sites = calloc(n, sizeof(*m->sites))) == NULL)
			return BW_ERR_NOMEM;
		m->nsites = n;
		for (i = 0; i < n && !r.err; i++) {
			struct msg_hello_site *s = &m->sites[i];

			get_site(&r, s->site);
			s->state = get_enum(&r, 0, FMSG_SITE__MAX);
			s->healthy = get_bool(&r);
			s->data_age_s = bufr_u32(&r);
			s->gen = bufr_u32(&r);
		}
		break;
	}
	if (bufr_done(&r) != 0) {
		msg_free(m);
		return BW_ERR_CORRUPT;
	}
	return 0;
}

void
msg_free(struct msg *m)
{
	free(m->sites);
	m->sites = NULL;
	m->nsites = 0;
}

const char *
msg_type_name(int type)
{
	static const char *const names[] = {
		"?", "health", "state", "data-age", "move", "standby", "online",
		"confirm", "decide", "hello"
	};

	return type >= 1 && type <= FMSG__MAX ? names[type] : "unknown";
}

const char *
msg_state_name(int state)
{
	static const char *const names[] = {
		"none", "starting", "ready", "serving", "released", "failed"
	};

	return state >= 0 && state <= FMSG_SITE__MAX ? names[state] : "unknown";
}
