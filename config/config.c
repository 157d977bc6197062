/*
 * bulwark.conf, as this file reads it (the user's view is bulwark.conf(5)):
 *
 *   file     = { line "\n" }
 *   line     = blank | comment | section | setting
 *   comment  = ( ";" | "#" ) text          first non-blank character
 *   section  = "[" type [ blanks name ] "]" [ blanks comment ]
 *   setting  = key blanks? "=" blanks? value [ blanks comment ]
 *
 * Lines are cut here, one at a time, and handed to libinih through its stream
 * reader: that is how every message gets its line number, since Debian's
 * libinih is built without INI_HANDLER_LINENO.  The reader also stops what
 * libinih would get silently wrong: a line longer than its buffer would be
 * split and its tail read as a new line, an indented line would continue the
 * previous value (INI_ALLOW_MULTILINE), a section name longer than 49 bytes
 * would be cut, and a section without settings would never be seen.  So the
 * reader parses section lines itself, rejects malformed and overlong lines
 * with a message, and gives libinih only well-formed settings, unindented,
 * with the comment removed; any other line reaches it as an empty line, so
 * its line count stays ours.  libinih splits the key from the value.
 *
 * Sections and their keys are tables (sections[] at the end): adding a
 * section is adding a key table, an open function that returns the struct to
 * fill, and its documentation in bulwark.conf.sample and bulwark.conf.5.
 */

/*
 * The build's config.h is force-included by config/local.mk: in this folder
 * #include "config.h" finds config/config.h, this module's header.
 */
#include "config/config.h"

#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <ini.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>
#include <unistd.h>

#include "lib/util/buf.h"
#include "lib/util/err.h"
#include "lib/util/log.h"

#define CONFIG_MAX_FILE		(1024 * 1024)
#define CONFIG_MAX_NAME		64	/* [backup NAME], tags */
#define CONFIG_MAX_KEYS		32	/* keys in one section's table */
#define CONFIG_LABEL_MAX	256	/* "[backup www]" */

struct parse;
struct keydef;

/* Checks val and stores it in obj; reports problems with key_error(). */
typedef void key_set_fn(struct parse *p, void *obj, const struct keydef *k,
    const char *val);

enum {
	KEY_REQUIRED = 1,	/* the section is incomplete without it */
	KEY_REPEAT = 2		/* a list: each occurrence adds to it */
};

struct keydef {
	const char *name;
	key_set_fn *set;
	size_t off;		/* the field in the section's struct */
	size_t size;		/* its size (numbers) */
	size_t off2;		/* lists: the size_t count; schedule: the parsed form */
	unsigned long long min, max;	/* numbers */
	unsigned flags;
	const char *example;	/* a valid value, quoted in messages */
	const char *doc;
};

struct sectdef {
	const char *type;
	int named;		/* [type NAME] rather than [type] */
	const struct keydef *keys;
	size_t nkeys;
	/* The struct to fill for a new section; NULL when out of memory. */
	void *(*open)(struct config *c, const char *name);
	const char *doc;
	/* Checks across the section's keys, or NULL. */
	void (*close)(struct parse *p);
};

/* A section seen in the file, kept to find duplicates. */
struct sect {
	const struct sectdef *def;
	char *name;		/* NULL for an unnamed section */
	unsigned line;
};

struct parse {
	const char *file;
	struct bufr in;
	unsigned lineno;
	struct config *c;
	struct sect *sects;
	size_t nsects;
	/* The section whose settings are being read. */
	const struct sectdef *def;
	void *obj;
	unsigned sect_line;
	unsigned key_line[CONFIG_MAX_KEYS];	/* where each key was set, 0 if not */
	int skip;		/* inside a rejected section: its settings are ignored */
	char label[CONFIG_LABEL_MAX];		/* "[backup www]", or "" */
	unsigned errors;
	int nomem;
	/* Where each [site NAME] and its references were, for cross_check. */
	struct site_lines {
		unsigned sect, priority, backup_set;
	} *site_lines;
	size_t nsite_lines;
};

/* Sections that later versions will read; named so that an operator who
 * writes one gets told it is not supported yet rather than that it is a typo. */
static const char *const reserved_sections[] = {
	"drill", "alert"
};

/*
 * Messages.  Each is "FILE:LINE: [section] key: what is wrong; what is
 * expected", with the parts that do not apply left out.
 */
static void __attribute__((format(printf, 4, 5)))
parse_error(struct parse *p, unsigned line, const char *key, const char *fmt, ...)
{
	char msg[1024];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	p->errors++;
	log_error("%s:%u: %s%s%s%s%s", p->file, line, p->label,
	    *p->label && key ? " " : "", key ? key : "",
	    *p->label || key ? ": " : "", msg);
}

static void __attribute__((format(printf, 3, 4)))
key_error(struct parse *p, const struct keydef *k, const char *fmt, ...)
{
	char msg[1024];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	parse_error(p, p->lineno, k->name, "%s", msg);
}

static void *
field(void *obj, size_t off)
{
	return (char *)obj + off;
}

static int
is_blank(int ch)
{
	return ch == ' ' || ch == '\t';
}

static int
is_name_char(int ch)
{
	return (ch >= 'a' && ch <= 'z') || (ch >= 'A' && ch <= 'Z') ||
	    (ch >= '0' && ch <= '9') || ch == '.' || ch == '_' || ch == '-';
}

static int
valid_name(const char *s, size_t len)
{
	size_t i;

	if (len == 0 || len > CONFIG_MAX_NAME || s[0] == '.' || s[0] == '-')
		return 0;
	for (i = 0; i < len; i++)
		if (!is_name_char((unsigned char)s[i]))
			return 0;
	return 1;
}

/* Appends a copy of s[0..len) to a string list. */
static int
list_add(char ***v, size_t *n, const char *s, size_t len)
{
	char **nv, *copy;

	if ((copy = strndup(s, len)) == NULL)
		return BW_ERR_NOMEM;
	if ((nv = realloc(*v, (*n + 1) * sizeof(**v))) == NULL) {
		free(copy);
		return BW_ERR_NOMEM;
	}
	nv[(*n)++] = copy;
	*v = nv;
	return 0;
}

static int
list_has(char *const *v, size_t n, const char *s, size_t len)
{
	size_t i;

	for (i = 0; i < n; i++)
		if (strlen(v[i]) == len && memcmp(v[i], s, len) == 0)
			return 1;
	return 0;
}

static void
list_free(char **v, size_t n)
{
	size_t i;

	for (i = 0; i < n; i++)
		free(v[i]);
	free(v);
}

/*
 * Value types.  Each setter checks its value, names what is wrong and what
 * would be right, and stores it only when it is valid.
 */

static void
set_path(struct parse *p, void *obj, const struct keydef *k, const char *val)
{
	char **dst = field(obj, k->off);
	char *copy;

	if (*val != '/') {
		key_error(p, k, "\"%s\" is not an absolute path; expected a "
		    "path that starts with /, such as %s", val, k->example);
		return;
	}
	if ((copy = strdup(val)) == NULL) {
		p->nomem = 1;
		return;
	}
	free(*dst);
	*dst = copy;
}

static void
set_number(struct parse *p, void *obj, const struct keydef *k, const char *val)
{
	unsigned long long v = 0;
	const char *s = val;
	int neg = 0, big = 0;

	if (*s == '-') {
		neg = 1;
		s++;
	}
	if (*s == '\0')
		goto not_number;
	for (; *s; s++) {
		if (*s < '0' || *s > '9')
			goto not_number;
		if (v > (~0ULL - 9) / 10)
			big = 1;
		else
			v = v * 10 + (unsigned)(*s - '0');
	}
	if (big || (neg && v) || v < k->min || v > k->max) {
		key_error(p, k, "\"%s\" is out of range; expected a whole number "
		    "from %llu to %llu", val, k->min, k->max);
		return;
	}
	switch (k->size) {
	case sizeof(uint32_t): {
		uint32_t x = (uint32_t)v;

		memcpy(field(obj, k->off), &x, sizeof(x));
		break;
	}
	case sizeof(uint64_t): {
		uint64_t x = v;

		memcpy(field(obj, k->off), &x, sizeof(x));
		break;
	}
	default:
		abort();	/* a key table names a field of an unknown size */
	}
	return;
not_number:
	if (k->max == UINT32_MAX)
		key_error(p, k, "\"%s\" is not a number; expected a whole number "
		    "such as %s", val, k->example);
	else
		key_error(p, k, "\"%s\" is not a number; expected a whole number "
		    "from %llu to %llu", val, k->min, k->max);
}

static void
set_bool(struct parse *p, void *obj, const struct keydef *k, const char *val)
{
	static const char *const yes[] = { "yes", "true", "on", "1" };
	static const char *const no[] = { "no", "false", "off", "0" };
	size_t i;

	for (i = 0; i < sizeof(yes) / sizeof(yes[0]); i++) {
		if (strcasecmp(val, yes[i]) == 0) {
			*(int *)field(obj, k->off) = 1;
			return;
		}
		if (strcasecmp(val, no[i]) == 0) {
			*(int *)field(obj, k->off) = 0;
			return;
		}
	}
	key_error(p, k, "\"%s\" is not yes or no; expected yes or no", val);
}

/*
 * The next item of a list: items are separated by blanks or commas, and an
 * item in double quotes may hold both.  Returns 1 and the item, 0 at the end,
 * -1 for an unterminated quote.
 */
static int
next_item(const char **sp, const char **item, size_t *len)
{
	const char *s = *sp, *end;

	while (is_blank(*s) || *s == ',')
		s++;
	if (*s == '\0')
		return 0;
	if (*s == '"') {
		if ((end = strchr(s + 1, '"')) == NULL)
			return -1;
		*item = s + 1;
		*len = (size_t)(end - s - 1);
		*sp = end + 1;
		return 1;
	}
	for (end = s; *end && !is_blank(*end) && *end != ','; end++)
		;
	*item = s;
	*len = (size_t)(end - s);
	*sp = end;
	return 1;
}

static void
set_path_list(struct parse *p, void *obj, const struct keydef *k, const char *val)
{
	char ***v = field(obj, k->off);
	size_t *n = field(obj, k->off2);
	const char *s = val, *item;
	size_t len;
	int r, any = 0;

	while ((r = next_item(&s, &item, &len)) > 0) {
		any = 1;
		if (len == 0 || item[0] != '/') {
			key_error(p, k, "\"%.*s\" is not an absolute path; expected "
			    "paths that start with /, such as %s", (int)len, item,
			    k->example);
		} else if (list_has(*v, *n, item, len)) {
			key_error(p, k, "\"%.*s\" is listed twice; expected each "
			    "path once", (int)len, item);
		} else if (list_add(v, n, item, len)) {
			p->nomem = 1;
			return;
		}
	}
	if (r < 0)
		key_error(p, k, "a quote is not closed; expected paths such as "
		    "%s, or a path with spaces in double quotes", k->example);
	else if (!any)
		key_error(p, k, "no path given; expected at least one absolute "
		    "path, such as %s", k->example);
}

static void
set_glob(struct parse *p, void *obj, const struct keydef *k, const char *val)
{
	char ***v = field(obj, k->off);
	size_t *n = field(obj, k->off2);

	if (*val == '\0') {
		key_error(p, k, "no pattern given; expected a glob pattern such "
		    "as %s", k->example);
		return;
	}
	if (list_has(*v, *n, val, strlen(val)))
		return;
	if (list_add(v, n, val, strlen(val)))
		p->nomem = 1;
}

static void
set_name_list(struct parse *p, void *obj, const struct keydef *k, const char *val)
{
	char ***v = field(obj, k->off);
	size_t *n = field(obj, k->off2);
	const char *s = val, *item;
	size_t len;
	int r;

	while ((r = next_item(&s, &item, &len)) > 0) {
		if (!valid_name(item, len)) {
			key_error(p, k, "\"%.*s\" is not a valid name; expected "
			    "letters, digits, '.', '_' or '-' (at most %d, not "
			    "starting with '.' or '-'), such as %s", (int)len,
			    item, CONFIG_MAX_NAME, k->example);
		} else if (!list_has(*v, *n, item, len) && list_add(v, n, item, len)) {
			p->nomem = 1;
			return;
		}
	}
	if (r < 0)
		key_error(p, k, "a quote is not closed; expected names such as %s",
		    k->example);
}

static void
set_schedule(struct parse *p, void *obj, const struct keydef *k, const char *val)
{
	char canon[CONFIG_SCHED_CANON_MAX], **dst = field(obj, k->off), *copy;
	struct config_schedule sched;

	if (config_schedule_parse(val, &sched, canon)) {
		key_error(p, k, "\"%s\" is not a schedule; expected hourly, daily "
		    "HH:MM, weekly DAY HH:MM or every N followed by m or h, such "
		    "as %s", val, k->example);
		return;
	}
	if ((copy = strdup(canon)) == NULL) {
		p->nomem = 1;
		return;
	}
	free(*dst);
	*dst = copy;
	memcpy(field(obj, k->off2), &sched, sizeof(sched));
}

/*
 * Cluster values: durations, addresses, checks, priorities.
 */

/* Milliseconds written compactly for messages: 500ms, 2s, 1m, 1h. */
static void
fmt_duration(char *out, size_t n, unsigned long long ms)
{
	if (ms == 0)
		snprintf(out, n, "0");
	else if (ms % 3600000 == 0)
		snprintf(out, n, "%lluh", ms / 3600000);
	else if (ms % 60000 == 0)
		snprintf(out, n, "%llum", ms / 60000);
	else if (ms % 1000 == 0)
		snprintf(out, n, "%llus", ms / 1000);
	else
		snprintf(out, n, "%llums", ms);
}

/*
 * "500ms", "2s", "1m", "1h", or a bare number in the key's own unit (unit
 * milliseconds).  0 and *ms; -1 if it is not a duration; -2 if it is one
 * but far too large.
 */
static int
parse_duration(const char *s, unsigned unit, unsigned long long *ms)
{
	unsigned long long v = 0, mul;
	int big = 0;

	if (*s < '0' || *s > '9')
		return -1;
	for (; *s >= '0' && *s <= '9'; s++) {
		if (v > 1000000000000ULL)
			big = 1;
		else
			v = v * 10 + (unsigned)(*s - '0');
	}
	if (*s == '\0')
		mul = unit;
	else if (strcmp(s, "ms") == 0)
		mul = 1;
	else if (strcmp(s, "s") == 0)
		mul = 1000;
	else if (strcmp(s, "m") == 0)
		mul = 60000;
	else if (strcmp(s, "h") == 0)
		mul = 3600000;
	else
		return -1;
	if (big)
		return -2;
	*ms = v * mul;
	return 0;
}

/* k->off2 is the unit the field holds, in milliseconds (1 or 1000). */
static void
set_duration(struct parse *p, void *obj, const struct keydef *k, const char *val)
{
	unsigned long long ms = 0, unit = k->off2;
	char lo[32], hi[32];
	uint32_t x;
	int r;

	fmt_duration(lo, sizeof(lo), k->min * unit);
	fmt_duration(hi, sizeof(hi), k->max * unit);
	r = parse_duration(val, (unsigned)unit, &ms);
	if (r == -1) {
		key_error(p, k, "\"%s\" is not a duration; expected a number "
		    "followed by ms, s, m or h from %s to %s, such as %s", val,
		    lo, hi, k->example);
		return;
	}
	if (r == 0 && ms % unit) {
		key_error(p, k, "\"%s\" is not a whole number of seconds; "
		    "expected a duration from %s to %s", val, lo, hi);
		return;
	}
	if (r < 0 || ms / unit < k->min || ms / unit > k->max) {
		key_error(p, k, "\"%s\" is out of range; expected a duration "
		    "from %s to %s", val, lo, hi);
		return;
	}
	x = (uint32_t)(ms / unit);
	memcpy(field(obj, k->off), &x, sizeof(x));
}

static int
store_string(struct parse *p, char **dst, const char *val, size_t len)
{
	char *copy;

	if ((copy = strndup(val, len)) == NULL) {
		p->nomem = 1;
		return -1;
	}
	free(*dst);
	*dst = copy;
	return 0;
}

/* A shell command: any text, run by /bin/sh -c. */
static void
set_command(struct parse *p, void *obj, const struct keydef *k, const char *val)
{
	store_string(p, field(obj, k->off), val, strlen(val));
}

static void
set_name(struct parse *p, void *obj, const struct keydef *k, const char *val)
{
	if (!valid_name(val, strlen(val))) {
		key_error(p, k, "\"%s\" is not a valid name; expected letters, "
		    "digits, '.', '_' or '-' (at most %d, not starting with '.' "
		    "or '-'), such as %s", val, CONFIG_MAX_NAME, k->example);
		return;
	}
	store_string(p, field(obj, k->off), val, strlen(val));
}

/* A host name or a literal address (the qdevice's corosync-qnetd). */
static void
set_host(struct parse *p, void *obj, const struct keydef *k, const char *val)
{
	size_t i, len = strlen(val);

	for (i = 0; i < len; i++)
		if (!is_name_char((unsigned char)val[i]) && val[i] != ':')
			break;
	if (i < len || len > 253 || val[0] == '-' || val[0] == '.') {
		key_error(p, k, "\"%s\" is not a host name or address; expected "
		    "letters, digits, '.', '-' or ':', such as %s", val,
		    k->example);
		return;
	}
	store_string(p, field(obj, k->off), val, len);
}

static void
set_ifname(struct parse *p, void *obj, const struct keydef *k, const char *val)
{
	size_t i, len = strlen(val);

	for (i = 0; i < len; i++)
		if (is_blank(val[i]) || val[i] == '/' || val[i] == ':')
			break;
	if (i < len || len > 15 || strcmp(val, ".") == 0 || strcmp(val, "..") == 0) {
		key_error(p, k, "\"%s\" is not an interface name; expected at "
		    "most 15 characters without blanks, '/' or ':', such as %s",
		    val, k->example);
		return;
	}
	store_string(p, field(obj, k->off), val, len);
}

/* A systemd unit name: systemctl is given it as one argument. */
static void
set_unit(struct parse *p, void *obj, const struct keydef *k, const char *val)
{
	size_t i, len = strlen(val);

	for (i = 0; i < len; i++)
		if (!is_name_char((unsigned char)val[i]) && val[i] != '@' &&
		    val[i] != ':' && val[i] != '\\')
			break;
	if (i < len || len > 255 || val[0] == '-' || val[0] == '.') {
		key_error(p, k, "\"%s\" is not a unit name; expected letters, "
		    "digits and '.', '_', '-', '@', ':' or '\\', such as %s",
		    val, k->example);
		return;
	}
	store_string(p, field(obj, k->off), val, len);
}

/* A literal address into its canonical spelling; AF_INET, AF_INET6 or 0. */
static int
canon_addr(const char *s, size_t len, char *out, size_t n)
{
	unsigned char bin[16];
	char tmp[INET6_ADDRSTRLEN];

	if (len == 0 || len >= sizeof(tmp))
		return 0;
	memcpy(tmp, s, len);
	tmp[len] = '\0';
	if (inet_pton(AF_INET, tmp, bin) == 1)
		return inet_ntop(AF_INET, bin, out, (socklen_t)n) ? AF_INET : 0;
	if (inet_pton(AF_INET6, tmp, bin) == 1)
		return inet_ntop(AF_INET6, bin, out, (socklen_t)n) ? AF_INET6 : 0;
	return 0;
}

/* The node that has addr among its link addresses, other than self. */
static const struct config_node *
node_with_addr(const struct config *c, const struct config_node *self, const char *addr)
{
	size_t i, j;

	for (i = 0; i < c->nnodes; i++)
		if (&c->nodes[i] != self)
			for (j = 0; j < c->nodes[i].naddrs; j++)
				if (strcmp(c->nodes[i].addrs[j], addr) == 0)
					return &c->nodes[i];
	return NULL;
}

static void
set_node_addrs(struct parse *p, void *obj, const struct keydef *k, const char *val)
{
	struct config_node *nd = obj;
	const struct config_node *other;
	char addr[INET6_ADDRSTRLEN];
	const char *s = val, *item;
	size_t len;
	int r;

	while ((r = next_item(&s, &item, &len)) > 0) {
		if (!canon_addr(item, len, addr, sizeof(addr))) {
			key_error(p, k, "\"%.*s\" is not an IPv4 or IPv6 address; "
			    "expected a literal address such as %s (not a host "
			    "name: corosync must not depend on DNS)", (int)len,
			    item, k->example);
		} else if (list_has(nd->addrs, nd->naddrs, addr, strlen(addr))) {
			key_error(p, k, "\"%.*s\" is listed twice; expected each "
			    "address once", (int)len, item);
		} else if ((other = node_with_addr(p->c, nd, addr)) != NULL) {
			key_error(p, k, "\"%.*s\" is already an address of [node "
			    "%s]; expected each address on one node only",
			    (int)len, item, other->name);
		} else if (nd->naddrs == CONFIG_NODE_MAX_ADDRS) {
			key_error(p, k, "\"%.*s\" is one address too many; "
			    "expected at most %d (one per corosync link)", (int)len,
			    item, CONFIG_NODE_MAX_ADDRS);
		} else if (list_add(&nd->addrs, &nd->naddrs, addr, strlen(addr))) {
			p->nomem = 1;
			return;
		}
	}
	if (r < 0)
		key_error(p, k, "a quote is not closed; expected addresses such "
		    "as %s", k->example);
}

static void
set_nodeid(struct parse *p, void *obj, const struct keydef *k, const char *val)
{
	struct config_node *nd = obj;
	size_t i;

	set_number(p, obj, k, val);
	if (nd->nodeid == 0)
		return;
	for (i = 0; i < p->c->nnodes; i++) {
		if (&p->c->nodes[i] != nd && p->c->nodes[i].nodeid == nd->nodeid) {
			key_error(p, k, "%u is already the id of [node %s]; "
			    "expected an id of its own from %llu to %llu",
			    nd->nodeid, p->c->nodes[i].name, k->min, k->max);
			nd->nodeid = 0;
			return;
		}
	}
}

/* "ADDRESS/PREFIX", the site's service address. */
static void
set_cidr(struct parse *p, void *obj, const struct keydef *k, const char *val)
{
	struct config_site *st = obj;
	char addr[INET6_ADDRSTRLEN], out[INET6_ADDRSTRLEN + 8];
	const char *slash = strchr(val, '/'), *s;
	unsigned long plen = 0;
	size_t i;
	int af;

	af = slash ? canon_addr(val, (size_t)(slash - val), addr, sizeof(addr)) : 0;
	if (af) {
		for (s = slash + 1; *s >= '0' && *s <= '9' && plen <= 128; s++)
			plen = plen * 10 + (unsigned)(*s - '0');
		if (s == slash + 1 || *s || plen < 1 ||
		    plen > (af == AF_INET ? 32u : 128u))
			af = 0;
	}
	if (!af) {
		key_error(p, k, "\"%s\" is not an address with a prefix length; "
		    "expected an IPv4 or IPv6 address and /N, such as %s", val,
		    k->example);
		return;
	}
	snprintf(out, sizeof(out), "%s/%lu", addr, plen);
	for (i = 0; i < p->c->nsites; i++) {
		const char *o = p->c->sites[i].address;

		if (&p->c->sites[i] != st && o && strncmp(o, addr, strlen(addr)) == 0 &&
		    o[strlen(addr)] == '/') {
			key_error(p, k, "%s is already the address of [site %s]; "
			    "expected an address of its own", addr,
			    p->c->sites[i].name);
			return;
		}
	}
	store_string(p, &st->address, out, strlen(out));
}

/* "ADDRESS:PORT" or "[IPV6]:PORT" into a canonical address and a port. */
static int
parse_hostport(const char *s, size_t len, char *addr, size_t n, uint16_t *port)
{
	const char *colon, *end = s + len;
	unsigned long v = 0;
	int af;

	if (len && s[0] == '[') {
		const char *close = memchr(s, ']', len);

		if (close == NULL || close + 1 >= end || close[1] != ':')
			return -1;
		af = canon_addr(s + 1, (size_t)(close - s - 1), addr, n);
		if (af != AF_INET6)
			return -1;
		colon = close + 1;
	} else {
		if ((colon = memchr(s, ':', len)) == NULL)
			return -1;
		if (canon_addr(s, (size_t)(colon - s), addr, n) != AF_INET)
			return -1;
	}
	if (colon + 1 == end)
		return -1;
	for (s = colon + 1; s < end; s++) {
		if (*s < '0' || *s > '9' || v > 65535)
			return -1;
		v = v * 10 + (unsigned)(*s - '0');
	}
	if (v < 1 || v > 65535)
		return -1;
	*port = (uint16_t)v;
	return 0;
}

/* http://ADDRESS[:PORT][/PATH], the address literal (a check must not
 * depend on DNS, and must probe this node's own service). */
static int
valid_http_url(const char *s, size_t len)
{
	char addr[INET6_ADDRSTRLEN];
	const char *host, *end = s + len, *hend, *path;
	uint16_t port;

	if (len < 8 || strncmp(s, "http://", 7) != 0)
		return 0;
	host = s + 7;
	path = memchr(host, '/', (size_t)(end - host));
	hend = path ? path : end;
	if (hend > host && host[0] == '[') {
		const char *close = memchr(host, ']', (size_t)(hend - host));

		if (close == NULL)
			return 0;
		if (close + 1 == hend)
			return canon_addr(host + 1, (size_t)(close - host - 1),
			    addr, sizeof(addr)) == AF_INET6;
	} else if (memchr(host, ':', (size_t)(hend - host)) == NULL) {
		return canon_addr(host, (size_t)(hend - host), addr,
		    sizeof(addr)) == AF_INET;
	}
	return parse_hostport(host, (size_t)(hend - host), addr, sizeof(addr),
	    &port) == 0;
}

static void
check_free(struct config_check *ck)
{
	free(ck->url);
	free(ck->expect_body);
	free(ck->host);
	free(ck->command);
	memset(ck, 0, sizeof(*ck));
}

#define CHECK_EXPECTED "expected http URL [status N] [body TEXT], tcp " \
	"ADDRESS:PORT or command CMD, such as"

/* "http URL [status N] [body TEXT]", "tcp HOST:PORT", "command CMD...". */
static void
set_check(struct parse *p, void *obj, const struct keydef *k, const char *val)
{
	struct config_site *st = obj;
	struct config_check ck, *nc;
	char addr[INET6_ADDRSTRLEN];
	const char *s = val, *item;
	size_t len;
	int r;

	memset(&ck, 0, sizeof(ck));
	if (next_item(&s, &item, &len) <= 0)
		goto bad_kind;
	if (len == 4 && memcmp(item, "http", 4) == 0) {
		ck.kind = CONFIG_CHECK_HTTP;
		ck.expect_status = 200;
		if (next_item(&s, &item, &len) <= 0 || !valid_http_url(item, len)) {
			key_error(p, k, "\"%s\" has no http URL with an address; "
			    "expected http://ADDRESS[:PORT]/PATH, such as "
			    "http://127.0.0.1:8080/health", val);
			goto out;
		}
		if ((ck.url = strndup(item, len)) == NULL)
			goto nomem;
		while ((r = next_item(&s, &item, &len)) > 0) {
			if (len == 6 && memcmp(item, "status", 6) == 0) {
				unsigned v = 0;
				size_t i;

				if (next_item(&s, &item, &len) <= 0)
					len = 0;
				for (i = 0; i < len && item[i] >= '0' &&
				    item[i] <= '9' && v < 1000; i++)
					v = v * 10 + (unsigned)(item[i] - '0');
				if (len == 0 || i < len || v < 100 || v > 599) {
					key_error(p, k, "\"%s\": the status is not "
					    "an HTTP status; expected status and a "
					    "number from 100 to 599, such as status "
					    "200", val);
					goto out;
				}
				ck.expect_status = v;
			} else if (len == 4 && memcmp(item, "body", 4) == 0) {
				if ((r = next_item(&s, &item, &len)) < 0)
					break;
				if (r == 0 || len == 0) {
					key_error(p, k, "\"%s\": body has no text; "
					    "expected body TEXT, or body \"TEXT WITH "
					    "SPACES\"", val);
					goto out;
				}
				free(ck.expect_body);
				if ((ck.expect_body = strndup(item, len)) == NULL)
					goto nomem;
			} else {
				key_error(p, k, "\"%s\": \"%.*s\" is not understood "
				    "after the URL; expected status N or body TEXT",
				    val, (int)len, item);
				goto out;
			}
		}
		if (r < 0) {
			key_error(p, k, "\"%s\": a quote is not closed; expected "
			    "body \"TEXT WITH SPACES\"", val);
			goto out;
		}
	} else if (len == 3 && memcmp(item, "tcp", 3) == 0) {
		ck.kind = CONFIG_CHECK_TCP;
		if (next_item(&s, &item, &len) <= 0 ||
		    parse_hostport(item, len, addr, sizeof(addr), &ck.port) ||
		    next_item(&s, &item, &len) != 0) {
			key_error(p, k, "\"%s\" is not tcp and an address and "
			    "port; expected tcp ADDRESS:PORT or tcp [IPV6]:PORT, "
			    "such as tcp 127.0.0.1:5432", val);
			goto out;
		}
		if ((ck.host = strdup(addr)) == NULL)
			goto nomem;
	} else if (len == 7 && memcmp(item, "command", 7) == 0) {
		ck.kind = CONFIG_CHECK_COMMAND;
		while (is_blank(*s))
			s++;
		if (*s == '\0') {
			key_error(p, k, "\"%s\" has no command line; expected "
			    "command CMD, such as command /usr/local/bin/check-db",
			    val);
			goto out;
		}
		if ((ck.command = strdup(s)) == NULL)
			goto nomem;
	} else {
		goto bad_kind;
	}
	if ((nc = realloc(st->checks, (st->nchecks + 1) * sizeof(*nc))) == NULL)
		goto nomem;
	st->checks = nc;
	nc[st->nchecks++] = ck;
	return;
bad_kind:
	key_error(p, k, "\"%s\" is not a check; " CHECK_EXPECTED " %s", val,
	    k->example);
	goto out;
nomem:
	p->nomem = 1;
out:
	check_free(&ck);
}

#define CONFIG_PRIO_MAX 1000

static void
set_prios(struct parse *p, void *obj, const struct keydef *k, const char *val)
{
	struct config_site *st = obj;
	struct config_site_prio *np;
	const char *s = val, *item, *colon;
	size_t len, i;
	unsigned v;
	int r;

	while ((r = next_item(&s, &item, &len)) > 0) {
		colon = memchr(item, ':', len);
		v = 0;
		if (colon)
			for (i = (size_t)(colon - item) + 1; i < len &&
			    item[i] >= '0' && item[i] <= '9' && v <= CONFIG_PRIO_MAX; i++)
				v = v * 10 + (unsigned)(item[i] - '0');
		if (colon == NULL || !valid_name(item, (size_t)(colon - item)) ||
		    colon + 1 == item + len || i < len || v > CONFIG_PRIO_MAX) {
			key_error(p, k, "\"%.*s\" is not NODE:N; expected node names "
			    "each with a priority from 0 to %d, such as %s", (int)len,
			    item, CONFIG_PRIO_MAX, k->example);
			continue;
		}
		for (i = 0; i < st->nprios; i++)
			if (strlen(st->prios[i].node) == (size_t)(colon - item) &&
			    memcmp(st->prios[i].node, item, (size_t)(colon - item)) == 0)
				break;
		if (i < st->nprios) {
			key_error(p, k, "node %.*s is listed twice; expected each "
			    "node once", (int)(colon - item), item);
			continue;
		}
		if ((np = realloc(st->prios, (st->nprios + 1) * sizeof(*np))) == NULL) {
			p->nomem = 1;
			return;
		}
		st->prios = np;
		if ((np[st->nprios].node = strndup(item, (size_t)(colon - item))) == NULL) {
			p->nomem = 1;
			return;
		}
		np[st->nprios++].priority = (int)v;
	}
	if (r < 0)
		key_error(p, k, "a quote is not closed; expected node names each "
		    "with a priority, such as %s", k->example);
}

/* One of the words of k->example ("automatic, confirm or manual"),
 * stored as its index in an int. */
static void
set_choice(struct parse *p, void *obj, const struct keydef *k, const char *val)
{
	const char *w = k->example;
	size_t len = strlen(val), wl;
	int i;

	for (i = 0; *w; i++) {
		wl = strcspn(w, ", ");
		if (wl == len && strncmp(w, val, len) == 0) {
			*(int *)field(obj, k->off) = i;
			return;
		}
		w += wl;
		w += strspn(w, ", ");
		if (strncmp(w, "or ", 3) == 0)
			w += 3;
	}
	key_error(p, k, "\"%s\" is not a choice; expected %s", val, k->example);
}

/*
 * Schedules.
 */

/* "H:MM" or "HH:MM" into minutes after midnight; -1 if it is not a time. */
static int
parse_time(const char *s, size_t len)
{
	size_t h = len == 4 ? 1 : 2;
	int hh, mm;

	if ((len != 4 && len != 5) || s[h] != ':')
		return -1;
	if (s[0] < '0' || s[0] > '9' || (h == 2 && (s[1] < '0' || s[1] > '9')) ||
	    s[h + 1] < '0' || s[h + 1] > '9' || s[h + 2] < '0' || s[h + 2] > '9')
		return -1;
	hh = h == 1 ? s[0] - '0' : (s[0] - '0') * 10 + (s[1] - '0');
	mm = (s[h + 1] - '0') * 10 + (s[h + 2] - '0');
	if (hh > 23 || mm > 59)
		return -1;
	return hh * 60 + mm;
}

static int
parse_weekday(const char *s, size_t len)
{
	static const char *const days[] = {
		"sunday", "monday", "tuesday", "wednesday", "thursday",
		"friday", "saturday"
	};
	int i;

	for (i = 0; i < 7; i++)
		if ((len == 3 || len == strlen(days[i])) &&
		    strncasecmp(s, days[i], len) == 0)
			return i;
	return -1;
}

int
config_schedule_parse(const char *s, struct config_schedule *out, char *canon)
{
	static const char *const wd[] = {
		"sun", "mon", "tue", "wed", "thu", "fri", "sat"
	};
	struct config_schedule r = { CONFIG_SCHED_NONE, 0, 0, 0 };
	const char *tok[4];
	size_t len[4], n = 0;
	unsigned long v = 0;
	size_t i;

	while (*s) {
		while (is_blank(*s))
			s++;
		if (*s == '\0')
			break;
		if (n == 4)
			return BW_ERR_INVAL;
		tok[n] = s;
		while (*s && !is_blank(*s))
			s++;
		len[n] = (size_t)(s - tok[n]);
		n++;
	}
	if (n == 0)
		return BW_ERR_INVAL;
#define IS(i, word) (len[i] == strlen(word) && strncasecmp(tok[i], word, len[i]) == 0)
	if (n == 1 && IS(0, "hourly")) {
		r.kind = CONFIG_SCHED_HOURLY;
	} else if (n == 2 && IS(0, "daily")) {
		r.kind = CONFIG_SCHED_DAILY;
		if ((r.minute = parse_time(tok[1], len[1])) < 0)
			return BW_ERR_INVAL;
	} else if (n == 3 && IS(0, "weekly")) {
		r.kind = CONFIG_SCHED_WEEKLY;
		if ((r.weekday = parse_weekday(tok[1], len[1])) < 0 ||
		    (r.minute = parse_time(tok[2], len[2])) < 0)
			return BW_ERR_INVAL;
	} else if (n == 2 && IS(0, "every")) {
		r.kind = CONFIG_SCHED_EVERY;
		if (len[1] < 2 || len[1] > 5)
			return BW_ERR_INVAL;
		for (i = 0; i + 1 < len[1]; i++) {
			if (tok[1][i] < '0' || tok[1][i] > '9')
				return BW_ERR_INVAL;
			v = v * 10 + (unsigned)(tok[1][i] - '0');
		}
		if (tok[1][i] == 'h' || tok[1][i] == 'H')
			v *= 60;
		else if (tok[1][i] != 'm' && tok[1][i] != 'M')
			return BW_ERR_INVAL;
		if (v < 1 || v > 24 * 60)
			return BW_ERR_INVAL;
		r.interval_min = (unsigned)v;
	} else {
		return BW_ERR_INVAL;
	}
#undef IS
	if (canon) {
		switch (r.kind) {
		case CONFIG_SCHED_HOURLY:
			snprintf(canon, CONFIG_SCHED_CANON_MAX, "hourly");
			break;
		case CONFIG_SCHED_DAILY:
			snprintf(canon, CONFIG_SCHED_CANON_MAX, "daily %02d:%02d",
			    r.minute / 60, r.minute % 60);
			break;
		case CONFIG_SCHED_WEEKLY:
			snprintf(canon, CONFIG_SCHED_CANON_MAX, "weekly %s %02d:%02d",
			    wd[r.weekday], r.minute / 60, r.minute % 60);
			break;
		default:
			if (r.interval_min % 60 == 0)
				snprintf(canon, CONFIG_SCHED_CANON_MAX, "every %uh",
				    r.interval_min / 60);
			else
				snprintf(canon, CONFIG_SCHED_CANON_MAX, "every %um",
				    r.interval_min);
			break;
		}
	}
	*out = r;
	return 0;
}

/*
 * The struct for each section.
 */

static void *
open_repository(struct config *c, const char *name)
{
	(void)name;
	c->has_repo = 1;
	return &c->repo;
}

static void *
open_backup(struct config *c, const char *name)
{
	struct config_backup *nb, *b;

	if ((nb = realloc(c->backups, (c->nbackups + 1) * sizeof(*nb))) == NULL)
		return NULL;
	c->backups = nb;
	b = &nb[c->nbackups];
	memset(b, 0, sizeof(*b));
	if ((b->name = strdup(name)) == NULL)
		return NULL;
	b->exclude_caches = 1;
	c->nbackups++;
	return b;
}

static void *
open_audit(struct config *c, const char *name)
{
	(void)name;
	return &c->audit;
}

static void *
open_cluster(struct config *c, const char *name)
{
	(void)name;
	c->has_cluster = 1;
	return &c->cluster;
}

static void *
open_node(struct config *c, const char *name)
{
	struct config_node *nn, *n;

	if ((nn = realloc(c->nodes, (c->nnodes + 1) * sizeof(*nn))) == NULL)
		return NULL;
	c->nodes = nn;
	n = &nn[c->nnodes];
	memset(n, 0, sizeof(*n));
	if ((n->name = strdup(name)) == NULL)
		return NULL;
	c->nnodes++;
	return n;
}

static void *
open_site(struct config *c, const char *name)
{
	struct config_site *ns, *s;

	if ((ns = realloc(c->sites, (c->nsites + 1) * sizeof(*ns))) == NULL)
		return NULL;
	c->sites = ns;
	s = &ns[c->nsites];
	memset(s, 0, sizeof(*s));
	if ((s->name = strdup(name)) == NULL)
		return NULL;
	s->announce_count = 3;
	s->announce_interval_ms = 200;
	s->check_interval_ms = 1000;
	s->check_timeout_ms = 2000;
	s->rise = 2;
	s->fall = 3;
	s->mode = CONFIG_SITE_AUTOMATIC;
	s->confirm_timeout_s = 300;
	s->confirm_default_take = 0;
	s->action_timeout_ms = 10000;
	s->damp_s = 60;
	c->nsites++;
	return s;
}

#define NUMBER(type, member) \
	set_number, offsetof(type, member), sizeof(((type *)0)->member), 0
#define LIST(type, member, count) \
	offsetof(type, member), 0, offsetof(type, count)
#define SCALAR(type, member) offsetof(type, member), 0, 0

static const struct keydef repository_keys[] = {
	{ "path", set_path, SCALAR(struct config_repository, path), 0, 0,
	  KEY_REQUIRED, "/srv/bulwark",
	  "the repository directory" },
	{ "passphrase_file", set_path,
	  SCALAR(struct config_repository, passphrase_file), 0, 0, 0,
	  "/etc/bulwark/passphrase",
	  "a file holding the key passphrase (mode 0600, checked when read)" },
	{ "cache_dir", set_path, SCALAR(struct config_repository, cache_dir),
	  0, 0, 0, "/var/cache/bulwark",
	  "where the file and chunk caches live" },
	{ "compression", NUMBER(struct config_repository, compression_level),
	  1, 19, 0, "2", "zstd level" },
	{ "pack_size", NUMBER(struct config_repository, pack_size_mib),
	  1, 256, 0, "16", "target size of a pack file, in MiB" },
};

#define KEEP(member, doc) \
	{ #member, NUMBER(struct config_backup, member), 0, UINT32_MAX, 0, "7", doc }

static const struct keydef backup_keys[] = {
	{ "paths", set_path_list, LIST(struct config_backup, paths, npaths),
	  0, 0, KEY_REQUIRED | KEY_REPEAT, "/srv/www, /var/lib/www",
	  "absolute paths to back up" },
	{ "exclude", set_glob, LIST(struct config_backup, excludes, nexcludes),
	  0, 0, KEY_REPEAT, "*.tmp",
	  "a glob of paths to leave out" },
	{ "tags", set_name_list, LIST(struct config_backup, tags, ntags),
	  0, 0, KEY_REPEAT, "www, nightly",
	  "tags given to each snapshot" },
	{ "one_file_system", set_bool,
	  SCALAR(struct config_backup, one_file_system), 0, 0, 0, "yes",
	  "stay on the file system of each path" },
	{ "exclude_caches", set_bool,
	  SCALAR(struct config_backup, exclude_caches), 0, 0, 0, "yes",
	  "skip directories that hold a CACHEDIR.TAG" },
	{ "schedule", set_schedule, offsetof(struct config_backup, schedule), 0,
	  offsetof(struct config_backup, sched), 0, 0, 0, "daily 02:30",
	  "when backupd runs this backup" },
	KEEP(keep_last, "keep the newest N snapshots"),
	KEEP(keep_hourly, "keep the newest snapshot of each of the last N hours"),
	KEEP(keep_daily, "keep the newest snapshot of each of the last N days"),
	KEEP(keep_weekly, "keep the newest snapshot of each of the last N weeks"),
	KEEP(keep_monthly, "keep the newest snapshot of each of the last N months"),
	KEEP(keep_yearly, "keep the newest snapshot of each of the last N years"),
};

static const struct keydef audit_keys[] = {
	{ "dir", set_path, SCALAR(struct config_audit, dir), 0, 0, 0,
	  "/var/lib/bulwark/audit", "the audit log directory" },
};

#define DURATION(type, member, unit) \
	set_duration, offsetof(type, member), sizeof(((type *)0)->member), unit

static const struct keydef cluster_keys[] = {
	{ "name", set_name, SCALAR(struct config_cluster, name), 0, 0, 0,
	  "bulwark", "the corosync cluster name" },
	{ "token", DURATION(struct config_cluster, token_ms, 1), 200, 60000, 0,
	  "1s", "corosync's totem token timeout" },
	{ "authkey", set_path, SCALAR(struct config_cluster, authkey), 0, 0, 0,
	  "/etc/corosync/authkey", "corosync's shared key" },
	{ "qdevice", set_host, SCALAR(struct config_cluster, qdevice), 0, 0, 0,
	  "qnetd.example.org", "the corosync-qnetd host that breaks ties" },
	{ "force_two_node", set_bool,
	  SCALAR(struct config_cluster, force_two_node), 0, 0, 0, "yes",
	  "run two nodes without a tie-breaker" },
	{ "socket", set_path, SCALAR(struct config_cluster, socket), 0, 0, 0,
	  "/run/bulwark/failoverd.sock", "failoverd's control socket" },
	{ "state_dir", set_path, SCALAR(struct config_cluster, state_dir), 0, 0,
	  0, "/var/lib/bulwark/failover", "failoverd's state and history" },
	{ "release_grace",
	  DURATION(struct config_cluster, release_grace_ms, 1), 10, 5000, 0,
	  "100ms", "wait before taking the address of a node that vanished" },
	{ "dad_probes", NUMBER(struct config_cluster, dad_probes), 1, 10, 0,
	  "2", "ARP or ND probes before taking an address" },
	{ "dad_interval",
	  DURATION(struct config_cluster, dad_interval_ms, 1), 10, 1000, 0,
	  "50ms", "time between probes" },
	{ "dad_wait", DURATION(struct config_cluster, dad_wait_ms, 1), 10, 2000,
	  0, "50ms", "listening for an answer after the last probe" },
};

static const struct keydef node_keys[] = {
	{ "nodeid", set_nodeid, offsetof(struct config_node, nodeid),
	  sizeof(uint32_t), 0, 1, 65535, KEY_REQUIRED, "1",
	  "corosync's node id" },
	{ "address", set_node_addrs, LIST(struct config_node, addrs, naddrs),
	  0, 0, KEY_REQUIRED | KEY_REPEAT, "192.0.2.11",
	  "corosync link addresses, link 0 first" },
	{ "witness", set_bool, SCALAR(struct config_node, witness), 0, 0, 0,
	  "yes", "votes but never serves a site" },
};

static const struct keydef site_keys[] = {
	{ "start", set_command, SCALAR(struct config_site, start), 0, 0, 0,
	  "systemctl start nginx", "starts the service" },
	{ "stop", set_command, SCALAR(struct config_site, stop), 0, 0, 0,
	  "systemctl stop nginx", "stops the service" },
	{ "status", set_command, SCALAR(struct config_site, status), 0, 0, 0,
	  "systemctl is-active nginx", "exits 0 while the service runs" },
	{ "unit", set_unit, SCALAR(struct config_site, unit), 0, 0, 0,
	  "nginx.service", "a systemd unit instead of the commands" },
	{ "address", set_cidr, SCALAR(struct config_site, address), 0, 0, 0,
	  "192.0.2.10/24", "the service address with its prefix length" },
	{ "interface", set_ifname, SCALAR(struct config_site, interface), 0, 0,
	  0, "eth0", "where the service address goes" },
	{ "announce_count", NUMBER(struct config_site, announce_count), 0, 100,
	  0, "3", "gratuitous ARPs or unsolicited NAs after taking" },
	{ "announce_interval",
	  DURATION(struct config_site, announce_interval_ms, 1), 10, 10000, 0,
	  "200ms", "time between announcements" },
	{ "after_take", set_command, SCALAR(struct config_site, after_take), 0,
	  0, 0, "/usr/local/sbin/dns-point-here", "hook after taking" },
	{ "after_release", set_command,
	  SCALAR(struct config_site, after_release), 0, 0, 0,
	  "/usr/local/sbin/dns-withdraw", "hook after releasing" },
	{ "check", set_check, SCALAR(struct config_site, checks), 0, 0,
	  KEY_REPEAT, "http http://127.0.0.1/ status 200",
	  "a health check" },
	{ "check_interval",
	  DURATION(struct config_site, check_interval_ms, 1), 100, 3600000, 0,
	  "1s", "time between checks" },
	{ "check_timeout",
	  DURATION(struct config_site, check_timeout_ms, 1), 100, 600000, 0,
	  "2s", "bound of one check" },
	{ "rise", NUMBER(struct config_site, rise), 1, 100, 0, "2",
	  "passes in a row that make the node healthy" },
	{ "fall", NUMBER(struct config_site, fall), 1, 100, 0, "3",
	  "failures in a row that make it unhealthy" },
	{ "priority", set_prios, SCALAR(struct config_site, prios), 0, 0, 0,
	  "alpha:100 beta:50", "which node serves, highest first" },
	{ "max_data_age",
	  DURATION(struct config_site, max_data_age_s, 1000), 0, 2592000, 0,
	  "15m", "the oldest data a node may take the site with" },
	{ "backup_set", set_name, SCALAR(struct config_site, backup_set), 0, 0,
	  0, "www", "the backup set whose replication age counts" },
	{ "mode", set_choice, SCALAR(struct config_site, mode), 0, 0, 0,
	  "automatic, confirm or manual", "who decides a move" },
	{ "confirm_timeout",
	  DURATION(struct config_site, confirm_timeout_s, 1000), 1, 86400, 0,
	  "5m", "how long an operator has to answer" },
	{ "confirm_default", set_choice,
	  SCALAR(struct config_site, confirm_default_take), 0, 0, 0,
	  "stay or take", "what happens when nobody answers" },
	{ "action_timeout",
	  DURATION(struct config_site, action_timeout_ms, 1), 1000, 3600000, 0,
	  "10s", "bound of start, stop, address and hooks" },
	{ "damp", DURATION(struct config_site, damp_s, 1000), 0, 86400, 0,
	  "1m", "no health-driven move this soon after a move" },
};

#define KEYS(a) a, sizeof(a) / sizeof(a[0])
_Static_assert(sizeof(repository_keys) / sizeof(repository_keys[0]) <= CONFIG_MAX_KEYS, "");
_Static_assert(sizeof(backup_keys) / sizeof(backup_keys[0]) <= CONFIG_MAX_KEYS, "");
_Static_assert(sizeof(audit_keys) / sizeof(audit_keys[0]) <= CONFIG_MAX_KEYS, "");
_Static_assert(sizeof(cluster_keys) / sizeof(cluster_keys[0]) <= CONFIG_MAX_KEYS, "");
_Static_assert(sizeof(node_keys) / sizeof(node_keys[0]) <= CONFIG_MAX_KEYS, "");
_Static_assert(sizeof(site_keys) / sizeof(site_keys[0]) <= CONFIG_MAX_KEYS, "");
_Static_assert(sizeof(enum config_site_mode) == sizeof(int), "set_choice stores an int");

static void close_site(struct parse *p);

static const struct sectdef sections[] = {
	{ "repository", 0, KEYS(repository_keys), open_repository,
	  "the repository this node writes its snapshots to", NULL },
	{ "backup", 1, KEYS(backup_keys), open_backup,
	  "a backup set: what to back up, when, and how long to keep it", NULL },
	{ "audit", 0, KEYS(audit_keys), open_audit,
	  "the audit log", NULL },
	{ "cluster", 0, KEYS(cluster_keys), open_cluster,
	  "the corosync cluster and failoverd", NULL },
	{ "node", 1, KEYS(node_keys), open_node,
	  "a cluster node", NULL },
	{ "site", 1, KEYS(site_keys), open_site,
	  "a public site that fails over", close_site },
};
static const size_t nsections = sizeof(sections) / sizeof(sections[0]);

/*
 * Sections.
 */

/* The checks that need the whole section: required keys. */
static void
section_close(struct parse *p)
{
	size_t i;

	if (p->def) {
		if (p->def->close)
			p->def->close(p);
		for (i = 0; i < p->def->nkeys; i++) {
			const struct keydef *k = &p->def->keys[i];

			if ((k->flags & KEY_REQUIRED) && p->key_line[i] == 0)
				parse_error(p, p->sect_line, NULL, "%s is missing; "
				    "expected a line such as \"%s = %s\"", k->name,
				    k->name, k->example);
		}
	}
	p->def = NULL;
	p->obj = NULL;
	p->skip = 0;
	p->label[0] = '\0';
}

/* "[repository], [backup NAME] or [audit]" */
static void
section_list(char *out, size_t size)
{
	size_t i, n = 0;

	out[0] = '\0';
	for (i = 0; i < nsections && n < size; i++)
		n += (size_t)snprintf(out + n, size - n, "%s[%s%s]",
		    i == 0 ? "" : i + 1 == nsections ? " or " : ", ",
		    sections[i].type, sections[i].named ? " NAME" : "");
}

static void
section_open(struct parse *p, const char *type, size_t tlen, const char *name,
    size_t nlen)
{
	const struct sectdef *def = NULL;
	char expected[256], *copy = NULL;
	struct sect *ns;
	size_t i;

	section_close(p);
	p->skip = 1;
	p->sect_line = p->lineno;
	snprintf(p->label, sizeof(p->label), "[%.*s%s%.*s]", (int)tlen, type,
	    nlen ? " " : "", (int)nlen, name);
	section_list(expected, sizeof(expected));
	if (tlen == 0) {
		parse_error(p, p->lineno, NULL, "no section name; expected %s",
		    expected);
		return;
	}
	for (i = 0; i < nsections; i++)
		if (strlen(sections[i].type) == tlen &&
		    memcmp(sections[i].type, type, tlen) == 0)
			def = &sections[i];
	if (def == NULL) {
		for (i = 0; i < sizeof(reserved_sections) / sizeof(reserved_sections[0]); i++) {
			if (strlen(reserved_sections[i]) == tlen &&
			    memcmp(reserved_sections[i], type, tlen) == 0) {
				parse_error(p, p->lineno, NULL, "this section is "
				    "not supported by this version yet");
				return;
			}
		}
		parse_error(p, p->lineno, NULL, "unknown section; expected %s",
		    expected);
		return;
	}
	if (def->named && nlen == 0) {
		parse_error(p, p->lineno, NULL, "the section has no name; expected "
		    "[%s NAME], such as [%s www]", def->type, def->type);
		return;
	}
	if (!def->named && nlen) {
		parse_error(p, p->lineno, NULL, "this section takes no name; "
		    "expected [%s]", def->type);
		return;
	}
	if (nlen && !valid_name(name, nlen)) {
		parse_error(p, p->lineno, NULL, "\"%.*s\" is not a valid name; "
		    "expected letters, digits, '.', '_' or '-' (at most %d, not "
		    "starting with '.' or '-')", (int)nlen, name, CONFIG_MAX_NAME);
		return;
	}
	for (i = 0; i < p->nsects; i++) {
		const struct sect *s = &p->sects[i];

		if (s->def == def && (!nlen || (strlen(s->name) == nlen &&
		    memcmp(s->name, name, nlen) == 0))) {
			parse_error(p, p->lineno, NULL, "the section appears again "
			    "(first at line %u); expected it once, with all its "
			    "settings", s->line);
			return;
		}
	}
	if ((nlen && (copy = strndup(name, nlen)) == NULL) ||
	    (ns = realloc(p->sects, (p->nsects + 1) * sizeof(*ns))) == NULL) {
		free(copy);
		p->nomem = 1;
		return;
	}
	p->sects = ns;
	ns[p->nsects].def = def;
	ns[p->nsects].name = copy;
	ns[p->nsects].line = p->lineno;
	p->nsects++;
	if ((p->obj = def->open(p->c, copy)) == NULL) {
		p->nomem = 1;
		return;
	}
	p->def = def;
	p->skip = 0;
	memset(p->key_line, 0, sizeof(p->key_line));
}

/* A section line, from '[' to its end without the newline. */
static void
section_line(struct parse *p, const char *s, size_t len)
{
	const char *close, *rest, *type, *name;
	size_t tlen, nlen;

	section_close(p);
	p->skip = 1;
	if ((close = memchr(s, ']', len)) == NULL) {
		parse_error(p, p->lineno, NULL, "\"%.*s\" has no closing ]; "
		    "expected a section line such as [repository]", (int)len, s);
		return;
	}
	for (rest = close + 1; rest < s + len && is_blank(*rest); rest++)
		;
	if (rest < s + len && !(rest > close + 1 && (*rest == ';' || *rest == '#'))) {
		parse_error(p, p->lineno, NULL, "\"%.*s\" follows the section "
		    "name; expected nothing after ] but a comment",
		    (int)(s + len - rest), rest);
		return;
	}
	for (type = s + 1; type < close && is_blank(*type); type++)
		;
	for (name = type; name < close && !is_blank(*name); name++)
		;
	tlen = (size_t)(name - type);
	while (name < close && is_blank(*name))
		name++;
	for (nlen = (size_t)(close - name); nlen && is_blank(name[nlen - 1]); nlen--)
		;
	section_open(p, type, tlen, name, nlen);
}

static int
key_index(const struct sectdef *def, const char *name)
{
	size_t i;

	for (i = 0; i < def->nkeys; i++)
		if (strcmp(def->keys[i].name, name) == 0)
			return (int)i;
	abort();	/* a close hook names a key its table lacks */
}

/* Keys that only make sense together; lines kept for the cross-checks. */
static void
close_site(struct parse *p)
{
	struct config_site *st = p->obj;
	struct site_lines *nl;
	size_t idx = (size_t)(st - p->c->sites);
#define SET(key) (p->key_line[key_index(p->def, key)] != 0)

	if (SET("address") && !SET("interface"))
		parse_error(p, p->sect_line, NULL, "address is set without "
		    "interface; expected both, such as \"interface = eth0\"");
	if (SET("interface") && !SET("address"))
		parse_error(p, p->sect_line, NULL, "interface is set without "
		    "address; expected both, such as \"address = "
		    "192.0.2.10/24\"");
	if (SET("unit") && (SET("start") || SET("stop") || SET("status")))
		parse_error(p, p->sect_line, NULL, "unit and start, stop or "
		    "status are all set; expected either a unit or commands");
	else if (SET("start") && !SET("stop"))
		parse_error(p, p->sect_line, NULL, "start is set without stop; "
		    "expected both, such as \"stop = systemctl stop nginx\"");
	else if (SET("stop") && !SET("start"))
		parse_error(p, p->sect_line, NULL, "stop is set without start; "
		    "expected both, such as \"start = systemctl start nginx\"");
	else if (!SET("unit") && !SET("start") && !SET("address") && !SET("stop"))
		parse_error(p, p->sect_line, NULL, "nothing to serve; expected "
		    "a unit, start and stop commands, or an address and "
		    "interface, such as \"unit = nginx.service\"");
	if (idx >= p->nsite_lines) {
		if ((nl = realloc(p->site_lines, (idx + 1) * sizeof(*nl))) == NULL) {
			p->nomem = 1;
			return;
		}
		memset(nl + p->nsite_lines, 0, (idx + 1 - p->nsite_lines) * sizeof(*nl));
		p->site_lines = nl;
		p->nsite_lines = idx + 1;
	}
	p->site_lines[idx].sect = p->sect_line;
	p->site_lines[idx].priority = p->key_line[key_index(p->def, "priority")];
	p->site_lines[idx].backup_set = p->key_line[key_index(p->def, "backup_set")];
#undef SET
}

/* What one section cannot know: the names it refers to exist. */
static void
cross_check(struct parse *p)
{
	const struct config_node *nd;
	size_t i, j;

	for (i = 0; i < p->c->nsites && i < p->nsite_lines; i++) {
		const struct config_site *st = &p->c->sites[i];
		const struct site_lines *sl = &p->site_lines[i];

		snprintf(p->label, sizeof(p->label), "[site %s]", st->name);
		for (j = 0; j < st->nprios; j++) {
			nd = config_node_find(p->c, st->prios[j].node);
			if (nd == NULL)
				parse_error(p, sl->priority, "priority", "%s is not "
				    "a node of this file; expected nodes that have a "
				    "[node NAME] section", st->prios[j].node);
			else if (nd->witness)
				parse_error(p, sl->priority, "priority", "%s is a "
				    "witness, which never serves a site; expected "
				    "nodes without witness = yes", nd->name);
		}
		if (st->backup_set && !config_backup_find(p->c, st->backup_set))
			parse_error(p, sl->backup_set, "backup_set", "%s is not a "
			    "backup set of this file; expected the NAME of a "
			    "[backup NAME] section", st->backup_set);
		if (st->address) {
			/* the take's address probe runs inside action_timeout */
			const struct config_cluster *cl = &p->c->cluster;
			uint64_t probe = (uint64_t)(cl->dad_probes - 1) * cl->dad_interval_ms +
			    cl->dad_wait_ms;

			if (probe >= st->action_timeout_ms)
				parse_error(p, sl->sect, NULL, "action_timeout (%u ms) "
				    "is not longer than the address probe ([cluster] "
				    "dad_probes, dad_interval, dad_wait: %llu ms), so "
				    "every take would fail; expected a longer "
				    "action_timeout or a shorter probe",
				    st->action_timeout_ms, (unsigned long long)probe);
		}
		if (i == 0 && p->c->nnodes == 0)
			parse_error(p, sl->sect, NULL, "no [node NAME] section is "
			    "defined; expected one for each cluster node, with its "
			    "nodeid and address");
	}
	p->label[0] = '\0';
}

/*
 * libinih's side.  The reader hands it one line per call, and only
 * settings it will accept; the handler gets each one while p->lineno is
 * still that setting's line.
 */
static char *
read_line(char *str, int num, void *arg)
{
	struct parse *p = arg;
	const char *s, *nl, *eq = NULL;
	size_t n, len, i;

	if (bufr_left(&p->in) == 0 || num < 2 || p->nomem)
		return NULL;
	s = (const char *)p->in.p + p->in.off;
	nl = memchr(s, '\n', bufr_left(&p->in));
	n = nl ? (size_t)(nl - s) + 1 : bufr_left(&p->in);
	s = (const char *)bufr_get(&p->in, n);
	p->lineno++;
	str[0] = '\n';
	str[1] = '\0';

	len = nl ? n - 1 : n;
	if (len && s[len - 1] == '\r')
		len--;
	if (p->lineno == 1 && len >= 3 && memcmp(s, "\xef\xbb\xbf", 3) == 0) {
		s += 3;
		len -= 3;
	}
	while (len && is_blank(*s)) {
		s++;
		len--;
	}
	if (len == 0 || *s == ';' || *s == '#')
		return str;
	for (i = 0; i < len; i++) {
		unsigned char ch = (unsigned char)s[i];

		if ((ch < 0x20 && ch != '\t') || ch == 0x7f) {
			if (*s == '[') {
				/* Its settings must not land in the section above. */
				section_close(p);
				p->skip = 1;
			}
			parse_error(p, p->lineno, NULL, "the line holds a control "
			    "character (byte 0x%02x); expected plain text", ch);
			return str;
		}
		/* A comment starts at ';' or '#' after a blank. */
		if ((ch == ';' || ch == '#') && i && is_blank(s[i - 1])) {
			len = i;
			break;
		}
	}
	while (len && is_blank(s[len - 1]))
		len--;
	if (*s == '[') {
		section_line(p, s, len);
		return str;
	}
	if (len > (size_t)num - 2) {
		parse_error(p, p->lineno, NULL, "the line is %zu characters long; "
		    "expected at most %d (a list key such as paths may be "
		    "repeated instead)", len, num - 2);
		return str;
	}
	for (i = 0; i < len && !eq; i++) {
		if (s[i] == ':')
			break;
		if (s[i] == '=')
			eq = s + i;
	}
	if (eq == NULL) {
		parse_error(p, p->lineno, NULL, "\"%.*s\" is not a setting; "
		    "expected key = value", (int)len, s);
		return str;
	}
	if (eq == s) {
		parse_error(p, p->lineno, NULL, "\"%.*s\" has no key before =; "
		    "expected key = value", (int)len, s);
		return str;
	}
	memcpy(str, s, len);
	str[len] = '\n';
	str[len + 1] = '\0';
	return str;
}

static void
key_list(const struct sectdef *def, char *out, size_t size)
{
	size_t i, n = 0;

	out[0] = '\0';
	for (i = 0; i < def->nkeys && n < size; i++)
		n += (size_t)snprintf(out + n, size - n, "%s%s",
		    i == 0 ? "" : i + 1 == def->nkeys ? " or " : ", ",
		    def->keys[i].name);
}

static int
on_setting(void *arg, const char *section, const char *name, const char *value)
{
	struct parse *p = arg;
	const struct keydef *k = NULL;
	char expected[512];
	size_t i;

	(void)section;		/* ours is in p: libinih never sees a section line */
	if (p->nomem || p->skip)
		return 1;
	if (p->def == NULL) {
		parse_error(p, p->lineno, name, "the setting is outside any "
		    "section; expected a section line such as [repository] "
		    "above it");
		return 1;
	}
	for (i = 0; i < p->def->nkeys; i++)
		if (strcmp(p->def->keys[i].name, name) == 0)
			k = &p->def->keys[i];
	if (k == NULL) {
		key_list(p->def, expected, sizeof(expected));
		parse_error(p, p->lineno, name, "unknown key; expected %s",
		    expected);
		return 1;
	}
	i = (size_t)(k - p->def->keys);
	if (p->key_line[i] && !(k->flags & KEY_REPEAT)) {
		parse_error(p, p->lineno, name, "set again (first at line %u); "
		    "expected it once in a section", p->key_line[i]);
		return 1;
	}
	p->key_line[i] = p->lineno;
	if (*value == '\0')
		parse_error(p, p->lineno, name, "no value given; expected a "
		    "value such as %s", k->example);
	else
		k->set(p, p->obj, k, value);
	return 1;
}

/*
 * The API.
 */

static struct config *
config_new(void)
{
	struct config *c;

	if ((c = calloc(1, sizeof(*c))) == NULL)
		return NULL;
	c->repo.compression_level = 0;	/* the repository's own */
	c->repo.pack_size_mib = 16;
	/* Measured on a loaded 2-core machine: token 500 detects a dead
	 * node in ~1.04 s with no false failures; 300 split the survivors
	 * one run in three (docs/FAILOVER.md). */
	c->cluster.token_ms = 500;
	c->cluster.release_grace_ms = 100;
	c->cluster.dad_probes = 2;
	c->cluster.dad_interval_ms = 50;
	c->cluster.dad_wait_ms = 50;
	if ((c->repo.cache_dir = strdup(LOCALSTATEDIR "/cache/bulwark")) == NULL ||
	    (c->audit.dir = strdup(LOCALSTATEDIR "/lib/bulwark/audit")) == NULL ||
	    (c->cluster.name = strdup("bulwark")) == NULL ||
	    (c->cluster.authkey = strdup("/etc/corosync/authkey")) == NULL ||
	    (c->cluster.socket = strdup("/run/bulwark/failoverd.sock")) == NULL ||
	    (c->cluster.state_dir = strdup(LOCALSTATEDIR "/lib/bulwark/failover")) == NULL) {
		config_free(c);
		return NULL;
	}
	return c;
}

int
config_load_mem(const char *name, const char *text, size_t len, struct config **out)
{
	struct parse p;
	size_t i;
	int r, ret = BW_ERR_NOMEM;

	*out = NULL;
	memset(&p, 0, sizeof(p));
	p.file = name;
	bufr_init(&p.in, text, len);
	if ((p.c = config_new()) == NULL || (p.c->file = strdup(name)) == NULL)
		goto out;
	r = ini_parse_stream(read_line, &p, on_setting, &p);
	if (p.nomem || r == -2)
		goto out;
	section_close(&p);
	if (!p.nomem)
		cross_check(&p);
	if (p.nomem)
		goto out;
	if (r > 0 && p.errors == 0)	/* the reader should have caught it */
		parse_error(&p, (unsigned)r, NULL, "the line cannot be read; "
		    "expected key = value");
	if (p.errors) {
		ret = BW_ERR_INVAL;
		goto out;
	}
	*out = p.c;
	p.c = NULL;
	ret = 0;
out:
	if (ret == BW_ERR_NOMEM)
		log_error("%s: out of memory while reading the configuration", name);
	for (i = 0; i < p.nsects; i++)
		free(p.sects[i].name);
	free(p.sects);
	free(p.site_lines);
	config_free(p.c);
	return ret;
}

int
config_load(const char *path, struct config **out)
{
	struct stat st;
	char *text = NULL;
	size_t len = 0;
	ssize_t n;
	int fd, ret;

	*out = NULL;
	if ((fd = open(path, O_RDONLY | O_CLOEXEC | O_NOCTTY)) < 0) {
		ret = bw_err_from_errno(errno);
		log_error("%s: cannot open the configuration: %s%s", path,
		    strerror(errno), errno == ENOENT ? "; create it from "
		    "bulwark.conf.sample, see bulwark.conf(5)" : "");
		goto out;
	}
	if (fstat(fd, &st) < 0) {
		ret = bw_err_from_errno(errno);
		log_error("%s: cannot stat the configuration: %s", path,
		    strerror(errno));
		goto out;
	}
	if (!S_ISREG(st.st_mode) || st.st_size > CONFIG_MAX_FILE) {
		ret = BW_ERR_INVAL;
		log_error("%s: %s; expected a regular file of at most %d bytes",
		    path, S_ISREG(st.st_mode) ? "the file is too large" :
		    "not a regular file", CONFIG_MAX_FILE);
		goto out;
	}
	/* One byte more than allowed, to notice a file that grew meanwhile. */
	if ((text = malloc(CONFIG_MAX_FILE + 1)) == NULL) {
		ret = BW_ERR_NOMEM;
		log_error("%s: out of memory while reading the configuration", path);
		goto out;
	}
	while (len <= CONFIG_MAX_FILE) {
		n = read(fd, text + len, CONFIG_MAX_FILE + 1 - len);
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0) {
			ret = bw_err_from_errno(errno);
			log_error("%s: cannot read the configuration: %s", path,
			    strerror(errno));
			goto out;
		}
		if (n == 0)
			break;
		len += (size_t)n;
	}
	if (len > CONFIG_MAX_FILE) {
		ret = BW_ERR_INVAL;
		log_error("%s: the file is too large; expected a regular file of "
		    "at most %d bytes", path, CONFIG_MAX_FILE);
		goto out;
	}
	ret = config_load_mem(path, text, len, out);
out:
	free(text);
	if (fd >= 0)
		close(fd);
	return ret;
}

void
config_free(struct config *c)
{
	size_t i;

	if (c == NULL)
		return;
	free(c->file);
	free(c->repo.path);
	free(c->repo.passphrase_file);
	free(c->repo.cache_dir);
	for (i = 0; i < c->nbackups; i++) {
		struct config_backup *b = &c->backups[i];

		free(b->name);
		list_free(b->paths, b->npaths);
		list_free(b->excludes, b->nexcludes);
		list_free(b->tags, b->ntags);
		free(b->schedule);
	}
	free(c->backups);
	free(c->audit.dir);
	free(c->cluster.name);
	free(c->cluster.authkey);
	free(c->cluster.qdevice);
	free(c->cluster.socket);
	free(c->cluster.state_dir);
	for (i = 0; i < c->nnodes; i++) {
		free(c->nodes[i].name);
		list_free(c->nodes[i].addrs, c->nodes[i].naddrs);
	}
	free(c->nodes);
	for (i = 0; i < c->nsites; i++) {
		struct config_site *s = &c->sites[i];
		size_t j;

		free(s->name);
		free(s->start);
		free(s->stop);
		free(s->status);
		free(s->unit);
		free(s->address);
		free(s->interface);
		free(s->after_take);
		free(s->after_release);
		for (j = 0; j < s->nchecks; j++)
			check_free(&s->checks[j]);
		free(s->checks);
		for (j = 0; j < s->nprios; j++)
			free(s->prios[j].node);
		free(s->prios);
		free(s->backup_set);
	}
	free(c->sites);
	free(c);
}

const struct config_backup *
config_backup_find(const struct config *c, const char *name)
{
	size_t i;

	for (i = 0; i < c->nbackups; i++)
		if (strcmp(c->backups[i].name, name) == 0)
			return &c->backups[i];
	return NULL;
}

const struct config_node *
config_node_find(const struct config *c, const char *name)
{
	size_t i;

	for (i = 0; i < c->nnodes; i++)
		if (strcmp(c->nodes[i].name, name) == 0)
			return &c->nodes[i];
	return NULL;
}

const struct config_node *
config_node_by_id(const struct config *c, uint32_t nodeid)
{
	size_t i;

	for (i = 0; i < c->nnodes; i++)
		if (c->nodes[i].nodeid == nodeid)
			return &c->nodes[i];
	return NULL;
}

const struct config_site *
config_site_find(const struct config *c, const char *name)
{
	size_t i;

	for (i = 0; i < c->nsites; i++)
		if (strcmp(c->sites[i].name, name) == 0)
			return &c->sites[i];
	return NULL;
}

int
config_cluster_tiebreak(const struct config *c, const char **why)
{
	*why = NULL;
	if (c->nnodes != 2 || c->cluster.qdevice)
		return 0;
	if (c->cluster.force_two_node) {
		*why = "two voting nodes without a tie-breaker (force_two_node = "
		    "yes): if the link between them is cut, both stay quorate "
		    "and both serve the sites (split brain)";
		return 0;
	}
	*why = "two voting nodes and no tie-breaker: when they lose sight of "
	    "each other, neither can tell a dead peer from a cut link, so "
	    "either both would serve the sites (split brain) or neither takes "
	    "over; add a tie-breaker: \"qdevice = HOST\" in [cluster] (a "
	    "corosync-qnetd on a third machine), or a third voting node, such "
	    "as a [node NAME] with \"witness = yes\"; or accept the risk with "
	    "\"force_two_node = yes\"";
	return 1;
}
