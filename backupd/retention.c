#include "config.h"

#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "backupd/retention.h"
#include "lib/util/err.h"
#include "lib/util/log.h"

#define NS_PER_SEC INT64_C(1000000000)
#define NS_PER_DAY (INT64_C(86400) * NS_PER_SEC)

enum { B_LAST, B_HOURLY, B_DAILY, B_WEEKLY, B_MONTHLY, B_YEARLY, B_COUNT };

static const char *const bucket_name[B_COUNT] = {
	"last", "hourly", "daily", "weekly", "monthly", "yearly"
};

/* A calendar view of one instant, in UTC. */
struct civil {
	int64_t days;		/* days since 1970-01-01 */
	int64_t year;
	int month, day, hour;
	int64_t iso_year;
	int iso_week;
};

static int64_t
floor_div(int64_t a, int64_t b)
{
	int64_t q = a / b;

	return (a % b != 0 && (a < 0) != (b < 0)) ? q - 1 : q;
}

/* Proleptic Gregorian calendar by 400-year eras (146097 days each), so
 * that no libc time zone state is involved. */
static int64_t
days_from_civil(int64_t y, int m, int d)
{
	int64_t era, yoe, doy, doe;

	y -= m <= 2;
	era = floor_div(y, 400);
	yoe = y - era * 400;
	doy = (153 * (m > 2 ? m - 3 : m + 9) + 2) / 5 + d - 1;
	doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
	return era * 146097 + doe - 719468;
}

static void
civil_from_days(int64_t z, int64_t *y, int *m, int *d)
{
	int64_t era, doe, yoe, doy, mp;

	z += 719468;
	era = floor_div(z, 146097);
	doe = z - era * 146097;
	yoe = (doe - doe / 1460 + doe / 36524 - doe / 146096) / 365;
	doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
	mp = (5 * doy + 2) / 153;
	*d = (int)(doy - (153 * mp + 2) / 5 + 1);
	*m = (int)(mp < 10 ? mp + 3 : mp - 9);
	*y = yoe + era * 400 + (*m <= 2);
}

static void
civil_from_ns(int64_t t, struct civil *c)
{
	int64_t thu, wd, jan1;
	int tm, td;

	c->days = floor_div(t, NS_PER_DAY);
	c->hour = (int)((t - c->days * NS_PER_DAY) / (3600 * NS_PER_SEC));
	civil_from_days(c->days, &c->year, &c->month, &c->day);
	/* ISO 8601: weeks start on Monday and belong to the year that holds
	 * their Thursday.  1970-01-01 was a Thursday (weekday 4). */
	wd = floor_div(c->days + 3, 7);
	wd = c->days + 3 - wd * 7 + 1;
	thu = c->days + (4 - wd);
	civil_from_days(thu, &c->iso_year, &tm, &td);
	jan1 = days_from_civil(c->iso_year, 1, 1);
	c->iso_week = (int)((thu - jan1) / 7 + 1);
}

static int64_t
bucket_key(int b, const struct civil *c, size_t nr)
{
	switch (b) {
	case B_LAST: return (int64_t)nr;
	case B_HOURLY: return c->days * 24 + c->hour;
	case B_DAILY: return c->days;
	case B_WEEKLY: return c->iso_year * 100 + c->iso_week;
	case B_MONTHLY: return c->year * 100 + c->month;
	default: return c->year;
	}
}

static void
bucket_label(char *out, size_t sz, int b, const struct civil *c, int nth)
{
	switch (b) {
	case B_LAST:
		snprintf(out, sz, "%d", nth);
		break;
	case B_HOURLY:
		snprintf(out, sz, "%04" PRId64 "-%02d-%02d %02d:00", c->year,
		    c->month, c->day, c->hour);
		break;
	case B_DAILY:
		snprintf(out, sz, "%04" PRId64 "-%02d-%02d", c->year, c->month,
		    c->day);
		break;
	case B_WEEKLY:
		snprintf(out, sz, "%04" PRId64 "-W%02d", c->iso_year, c->iso_week);
		break;
	case B_MONTHLY:
		snprintf(out, sz, "%04" PRId64 "-%02d", c->year, c->month);
		break;
	default:
		snprintf(out, sz, "%04" PRId64, c->year);
		break;
	}
}

/* "7d", "1d2h30m", "90s", "1s500000000ns": what the operator typed, or
 * close to it. */
static void
duration_label(char *out, size_t sz, int64_t ns)
{
	static const struct { int64_t unit; const char *sfx; } u[] = {
		{ NS_PER_DAY, "d" }, { 3600 * NS_PER_SEC, "h" },
		{ 60 * NS_PER_SEC, "m" }, { NS_PER_SEC, "s" }, { 1, "ns" },
	};
	size_t i, len = 0;

	out[0] = 0;
	for (i = 0; i < sizeof(u) / sizeof(u[0]) && len < sz; i++) {
		if (ns / u[i].unit == 0)
			continue;
		len += (size_t)snprintf(out + len, sz - len, "%" PRId64 "%s",
		    ns / u[i].unit, u[i].sfx);
		ns %= u[i].unit;
	}
}

static int
snap_has_tag(const struct retention_snap *s, const char *tag, size_t len)
{
	size_t i;

	for (i = 0; i < s->ntags; i++)
		if (s->tags[i] && strlen(s->tags[i]) == len &&
		    memcmp(s->tags[i], tag, len) == 0)
			return 1;
	return 0;
}

/* A snapshot matches the list "a,b" if it has every tag in it; an empty
 * tag matches a snapshot without tags (as restic does). */
static int
snap_has_taglist(const struct retention_snap *s, const char *list)
{
	const char *p = list, *comma;
	size_t len;

	for (;;) {
		comma = strchr(p, ',');
		len = comma ? (size_t)(comma - p) : strlen(p);
		if (len == 0 && s->ntags == 0)
			return 1;
		if (!snap_has_tag(s, p, len))
			return 0;
		if (!comma)
			return 1;
		p = comma + 1;
	}
}

int
retention_policy_empty(const struct retention_policy *p)
{
	return p->keep_last == 0 && p->keep_hourly == 0 &&
	    p->keep_daily == 0 && p->keep_weekly == 0 &&
	    p->keep_monthly == 0 && p->keep_yearly == 0 &&
	    p->keep_within_ns == 0 && p->nkeep_tags == 0;
}

static int
policy_check(const struct retention_policy *p)
{
	const int v[B_COUNT] = { p->keep_last, p->keep_hourly, p->keep_daily,
	    p->keep_weekly, p->keep_monthly, p->keep_yearly };
	size_t i;

	if (retention_policy_empty(p)) {
		log_error("no keep option given; refusing to forget everything");
		return BW_ERR_INVAL;
	}
	for (i = 0; i < B_COUNT; i++) {
		if (v[i] < RETENTION_UNLIMITED) {
			log_error("keep-%s %d: must be a count, 'unlimited' or 0",
			    bucket_name[i], v[i]);
			return BW_ERR_INVAL;
		}
	}
	if (p->keep_within_ns < 0) {
		log_error("keep-within: the duration must not be negative");
		return BW_ERR_INVAL;
	}
	for (i = 0; i < p->nkeep_tags; i++) {
		if (p->keep_tags[i] == NULL) {
			log_error("keep-tag: tag list %zu is missing", i + 1);
			return BW_ERR_INVAL;
		}
	}
	return 0;
}

struct sort_ctx {
	const struct retention_snap *s;
	size_t pos;
};

static const char *
group_of(const struct retention_snap *s)
{
	return s->group ? s->group : "";
}

/* Group key, then newest first, then input order (a stable sort). */
static int
cmp_snap(const void *a, const void *b)
{
	const struct sort_ctx *x = a, *y = b;
	int c = strcmp(group_of(x->s), group_of(y->s));

	if (c)
		return c;
	if (x->s->time_ns != y->s->time_ns)
		return x->s->time_ns > y->s->time_ns ? -1 : 1;
	return x->pos < y->pos ? -1 : x->pos > y->pos;
}

static int
add_reason(struct retention_decision *d, const char *a, const char *b)
{
	size_t n = strlen(a) + (b ? strlen(b) + 1 : 0) + 1;
	char *s = malloc(n);

	if (!s)
		return BW_ERR_NOMEM;
	snprintf(s, n, b ? "%s %s" : "%s", a, b);
	d->reasons[d->nreasons++] = s;
	return 0;
}

struct bucket {
	int count;		/* left; RETENTION_UNLIMITED never runs out */
	int have_last;
	int64_t last;
	int kept;		/* periods kept so far (for "last N") */
};

/* Applies the policy to one group, sorted newest first. */
static int
apply_group(const struct retention_policy *p, const struct sort_ctx *g,
    size_t n, struct retention_decision *out)
{
	const int counts[B_COUNT] = { p->keep_last, p->keep_hourly,
	    p->keep_daily, p->keep_weekly, p->keep_monthly, p->keep_yearly };
	struct bucket bk[B_COUNT];
	char label[64], name[32], within[64];
	const int64_t latest = g[0].s->time_ns;
	struct retention_decision *d;
	const struct retention_snap *s;
	struct civil c;
	size_t nr, i;
	int64_t key;
	int b, err, oldest;

	for (b = 0; b < B_COUNT; b++) {
		bk[b].count = counts[b];
		bk[b].have_last = 0;
		bk[b].last = 0;
		bk[b].kept = 0;
	}
	duration_label(within, sizeof(within), p->keep_within_ns);

	for (nr = 0; nr < n; nr++) {
		s = g[nr].s;
		d = &out[nr];
		d->index = s->index;
		d->group = group_of(s);
		d->time_ns = s->time_ns;
		d->reasons = calloc(p->nkeep_tags + 1 + B_COUNT, sizeof(char *));
		if (!d->reasons)
			return BW_ERR_NOMEM;
		civil_from_ns(s->time_ns, &c);

		for (i = 0; i < p->nkeep_tags; i++)
			if (snap_has_taglist(s, p->keep_tags[i]) &&
			    (err = add_reason(d, "tags", p->keep_tags[i])))
				return err;

		/* Unsigned, because newest minus oldest may not fit in int64. */
		if (p->keep_within_ns > 0 && (uint64_t)latest -
		    (uint64_t)s->time_ns < (uint64_t)p->keep_within_ns &&
		    (err = add_reason(d, "within", within)))
			return err;

		for (b = 0; b < B_COUNT; b++) {
			if (bk[b].count == 0)
				continue;
			key = bucket_key(b, &c, nr);
			oldest = bk[b].have_last && key == bk[b].last;
			if (oldest && nr != n - 1)
				continue;
			bk[b].have_last = 1;
			bk[b].last = key;
			bk[b].kept++;
			if (bk[b].count > 0)
				bk[b].count--;
			bucket_label(label, sizeof(label), b, &c, bk[b].kept);
			snprintf(name, sizeof(name), "%s%s",
			    oldest ? "oldest " : "", bucket_name[b]);
			if ((err = add_reason(d, name, label)))
				return err;
		}
		d->keep = d->nreasons > 0;
	}
	return 0;
}

int
retention_apply(const struct retention_policy *p,
    const struct retention_snap *snaps, size_t n, struct retention_result *out)
{
	struct sort_ctx *order = NULL;
	size_t i, start;
	int err;

	memset(out, 0, sizeof(*out));
	if ((err = policy_check(p)))
		return err;
	if (n == 0)
		return 0;
	order = calloc(n, sizeof(*order));
	out->d = calloc(n, sizeof(*out->d));
	if (!order || !out->d) {
		err = BW_ERR_NOMEM;
		goto out;
	}
	out->n = n;
	for (i = 0; i < n; i++) {
		order[i].s = &snaps[i];
		order[i].pos = i;
	}
	qsort(order, n, sizeof(*order), cmp_snap);

	for (start = 0; start < n; start = i) {
		for (i = start + 1; i < n; i++)
			if (strcmp(group_of(order[i].s), group_of(order[start].s)))
				break;
		if ((err = apply_group(p, order + start, i - start, out->d + start)))
			goto out;
	}
	for (i = 0; i < n; i++) {
		if (out->d[i].keep)
			out->nkeep++;
		else
			out->nforget++;
	}
	err = 0;
out:
	free(order);
	if (err) {
		if (err == BW_ERR_NOMEM)
			log_error("forget: out of memory applying the policy "
			    "to %zu snapshots", n);
		retention_result_free(out);
	}
	return err;
}

void
retention_result_free(struct retention_result *r)
{
	size_t i, j;

	if (!r)
		return;
	for (i = 0; i < r->n && r->d; i++) {
		for (j = 0; j < r->d[i].nreasons; j++)
			free(r->d[i].reasons[j]);
		free(r->d[i].reasons);
	}
	free(r->d);
	memset(r, 0, sizeof(*r));
}
