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
#define CONFIG_MAX_KEYS		16	/* keys in one section's table */
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
};

/* Sections that later versions will read; named so that an operator who
 * writes one gets told it is not supported yet rather than that it is a typo. */
static const char *const reserved_sections[] = {
	"site", "cluster", "node", "drill", "alert"
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
	  1, 19, 0, "3", "zstd level" },
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

#define KEYS(a) a, sizeof(a) / sizeof(a[0])
_Static_assert(sizeof(repository_keys) / sizeof(repository_keys[0]) <= CONFIG_MAX_KEYS, "");
_Static_assert(sizeof(backup_keys) / sizeof(backup_keys[0]) <= CONFIG_MAX_KEYS, "");
_Static_assert(sizeof(audit_keys) / sizeof(audit_keys[0]) <= CONFIG_MAX_KEYS, "");

static const struct sectdef sections[] = {
	{ "repository", 0, KEYS(repository_keys), open_repository,
	  "the repository this node writes its snapshots to" },
	{ "backup", 1, KEYS(backup_keys), open_backup,
	  "a backup set: what to back up, when, and how long to keep it" },
	{ "audit", 0, KEYS(audit_keys), open_audit,
	  "the audit log" },
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
	c->repo.compression_level = 3;
	c->repo.pack_size_mib = 16;
	if ((c->repo.cache_dir = strdup(LOCALSTATEDIR "/cache/bulwark")) == NULL ||
	    (c->audit.dir = strdup(LOCALSTATEDIR "/lib/bulwark/audit")) == NULL) {
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
