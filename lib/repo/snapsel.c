#include "config.h"

#include <stdio.h>
#include <string.h>
#include <time.h>

#include "lib/repo/snapsel.h"
#include "lib/util/buf.h"
#include "lib/util/err.h"
#include "lib/util/log.h"

#define NS 1000000000LL
/* Candidates named in an "ambiguous prefix" message before "...". */
#define AMBIG_LIST_MAX 8

int
snapsel_filter(const struct snap_info *s, const char *set, const char *tag)
{
	size_t i;

	if (set && (!s->set || strcmp(s->set, set) != 0))
		return 0;
	if (!tag)
		return 1;
	for (i = 0; i < s->ntags; i++)
		if (strcmp(s->tags[i], tag) == 0)
			return 1;
	return 0;
}

/* Reads exactly n decimal digits. */
static int
digits(const char **p, int n, int *out)
{
	int v = 0;

	for (; n > 0; n--, (*p)++) {
		if (**p < '0' || **p > '9')
			return -1;
		v = v * 10 + (**p - '0');
	}
	*out = v;
	return 0;
}

static int
days_in_month(int y, int m)
{
	static const int d[] = { 31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31 };

	if (m == 2 && ((y % 4 == 0 && y % 100 != 0) || y % 400 == 0))
		return 29;
	return d[m - 1];
}

int
snapsel_parse_time(const char *spec, int64_t *cutoff_ns, int *utc)
{
	const char *p = spec;
	struct tm tm, end;
	int y, mo, d, h = 0, mi = 0, s = 0, prec = 0;
	time_t t0, t1;

	if (digits(&p, 4, &y) != 0 || *p != '-')
		return 1;
	p++;
	if (digits(&p, 2, &mo) != 0 || *p++ != '-' || digits(&p, 2, &d) != 0)
		goto bad;
	if (*p == ' ' || *p == 'T') {
		p++;
		if (digits(&p, 2, &h) != 0 || *p++ != ':' || digits(&p, 2, &mi) != 0)
			goto bad;
		prec = 1;
		if (*p == ':') {
			p++;
			if (digits(&p, 2, &s) != 0)
				goto bad;
			prec = 2;
		}
	}
	*utc = 0;
	if (*p == 'Z') {
		*utc = 1;
		p++;
	}
	if (*p || y < 1900 || mo < 1 || mo > 12 || d < 1 || d > days_in_month(y, mo) ||
	    h > 23 || mi > 59 || s > 59)
		goto bad;
	memset(&tm, 0, sizeof(tm));
	tm.tm_year = y - 1900;
	tm.tm_mon = mo - 1;
	tm.tm_mday = d;
	tm.tm_hour = h;
	tm.tm_min = mi;
	tm.tm_sec = s;
	tm.tm_isdst = -1;
	/* the end of the period named: the start of the next one, less 1 ns;
	 * mktime normalises the overflowing field (and a day of 23 or 25
	 * hours around a DST change) */
	end = tm;
	if (prec == 0)
		end.tm_mday++;
	else if (prec == 1)
		end.tm_min++;
	else
		end.tm_sec++;
	t0 = *utc ? timegm(&tm) : mktime(&tm);
	t1 = *utc ? timegm(&end) : mktime(&end);
	if (t0 == (time_t)-1 || t1 == (time_t)-1)
		goto bad;
	/* past 2262 nanoseconds overflow: later than any snapshot anyway */
	*cutoff_ns = t1 > INT64_MAX / NS ? INT64_MAX : (int64_t)t1 * NS - 1;
	return 0;
bad:
	log_error("'%s' is not a valid time: give YYYY-MM-DD, 'YYYY-MM-DD HH:MM' or "
	    "'YYYY-MM-DD HH:MM:SS' (local time; end with Z for UTC)", spec);
	return BW_ERR_INVAL;
}

/* " in set 'www' with tag 'daily'", or "" with no filter. */
static void
filter_words(char *out, size_t n, const char *set, const char *tag)
{
	snprintf(out, n, "%s%s%s%s%s%s", set ? " in set '" : "", set ? set : "",
	    set ? "'" : "", tag ? " with tag '" : "", tag ? tag : "", tag ? "'" : "");
}

/* The list command that shows the same candidates. */
static void
list_hint(char *out, size_t n, const char *set, const char *tag)
{
	snprintf(out, n, "bulwark snapshots%s%s%s%s", set ? " --set " : "", set ? set : "",
	    tag ? " --tag " : "", tag ? tag : "");
}

static void
fmt_time(char *out, size_t n, int64_t ns, int utc)
{
	time_t t = (time_t)(ns / NS - (ns % NS < 0));
	struct tm tm;

	if (utc)
		gmtime_r(&t, &tm);
	else
		localtime_r(&t, &tm);
	strftime(out, n, utc ? "%Y-%m-%d %H:%M:%SZ" : "%Y-%m-%d %H:%M:%S", &tm);
}

static int
is_hex(const char *s)
{
	if (!*s)
		return 0;
	for (; *s; s++)
		if (!((*s >= '0' && *s <= '9') || (*s >= 'a' && *s <= 'f') ||
		    (*s >= 'A' && *s <= 'F')))
			return 0;
	return 1;
}

static int
pick_prefix(const struct snap_info *v, size_t n, const char *spec, const char *set,
    const char *tag, size_t *idx)
{
	char hex[2 * OBJ_ID_LEN + 1], want[2 * OBJ_ID_LEN + 1], when[40], fw[600], hint[600];
	struct buf msg = { 0 };
	size_t len = strlen(spec), i, hits = 0, hit = 0;
	int rc;

	for (i = 0; i < len; i++)
		want[i] = (char)(spec[i] >= 'A' && spec[i] <= 'F' ? spec[i] - 'A' + 'a' : spec[i]);
	want[len] = 0;
	for (i = 0; i < n; i++) {
		if (!snapsel_filter(&v[i], set, tag))
			continue;
		hex_encode(hex, v[i].id, OBJ_ID_LEN);
		if (strncmp(hex, want, len) != 0)
			continue;
		if (hits < AMBIG_LIST_MAX) {
			/* in UTC, as 'bulwark snapshots' shows them */
			fmt_time(when, sizeof(when), v[i].time_ns, 1);
			if (hits)
				buf_put(&msg, ", ", 2);
			buf_put(&msg, hex, 16);
			buf_put(&msg, " ", 1);
			buf_put(&msg, when, strlen(when));
		} else if (hits == AMBIG_LIST_MAX) {
			buf_put(&msg, ", ...", 5);
		}
		hits++;
		hit = i;
	}
	buf_put_u8(&msg, 0);
	filter_words(fw, sizeof(fw), set, tag);
	list_hint(hint, sizeof(hint), set, tag);
	if (hits == 1) {
		*idx = hit;
		rc = 0;
	} else if (hits == 0) {
		log_error("snapshot '%s': no snapshot%s has an id starting with '%s'; list them "
		    "with '%s'", spec, fw, want, hint);
		rc = BW_ERR_NOENT;
	} else {
		log_error("snapshot '%s': the id prefix matches %zu snapshots%s (%s); give more "
		    "digits", spec, hits, fw, msg.err ? "?" : (char *)msg.data);
		rc = BW_ERR_INVAL;
	}
	buf_free(&msg);
	return rc;
}

int
snapsel_pick(const struct snap_info *v, size_t n, const char *spec, const char *set,
    const char *tag, size_t *idx)
{
	char fw[600], hint[600], at[40], old[40];
	int64_t cutoff = INT64_MAX;
	size_t i, best = n, oldest = n;
	int rc, utc = 0, by_time = 0;

	filter_words(fw, sizeof(fw), set, tag);
	list_hint(hint, sizeof(hint), set, tag);
	if (strcmp(spec, "latest") != 0) {
		if ((rc = snapsel_parse_time(spec, &cutoff, &utc)) < 0)
			return rc;
		if (rc == 1) {
			if (!is_hex(spec) || strlen(spec) > 2 * OBJ_ID_LEN) {
				log_error("'%s' is not a snapshot: give 'latest', a hex prefix of an "
				    "id, or a time YYYY-MM-DD[ HH:MM[:SS]][Z]; list them with '%s'",
				    spec, hint);
				return BW_ERR_INVAL;
			}
			return pick_prefix(v, n, spec, set, tag, idx);
		}
		by_time = 1;
	}
	for (i = 0; i < n; i++) {
		if (!snapsel_filter(&v[i], set, tag))
			continue;
		if (oldest == n || v[i].time_ns < v[oldest].time_ns)
			oldest = i;
		/* ties go to the later in the list: repo_snapshots' order */
		if (v[i].time_ns <= cutoff && (best == n || v[i].time_ns >= v[best].time_ns))
			best = i;
	}
	if (best < n) {
		*idx = best;
		return 0;
	}
	if (oldest == n) {
		if (set || tag)
			log_error("snapshot '%s': there is no snapshot%s; list them with "
			    "'bulwark snapshots'", spec, fw);
		else
			log_error("snapshot '%s': there are no snapshots yet; make one with "
			    "'bulwark backup'", spec);
	} else if (by_time) {
		/* echo the time as given, trailing Z aside */
		snprintf(at, sizeof(at), "%.*s", (int)strcspn(spec, "Z"), spec);
		fmt_time(old, sizeof(old), v[oldest].time_ns, utc);
		log_error("no snapshot%s at or before %s%s (oldest is %s); list them with '%s'",
		    fw, at, utc ? " UTC" : "", old, hint);
	}
	return BW_ERR_NOENT;
}
