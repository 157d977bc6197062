#include "config.h"

#include <sys/stat.h>
#include <sys/types.h>
#include <check.h>
#include <ftw.h>
#include <pthread.h>
#include <pwd.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "lib/audit/audit.h"
#include "lib/crypto/bwcrypto.h"
#include "lib/util/buf.h"
#include "lib/util/err.h"
#include "lib/util/fsio.h"
#include "lib/util/log.h"

/* 2026-11-24T13:51:46.123Z */
#define T0 1795528306123000000LL

static char dir[64];
static char lastmsg[2048];

static void
sink(enum log_level lvl, const char *msg, void *arg)
{
	(void)arg;
	if (lvl <= LOG_LVL_WARN)
		snprintf(lastmsg, sizeof(lastmsg), "%s", msg);
}

static void
setup(void)
{
	strcpy(dir, "/tmp/bw-audit-XXXXXX");
	ck_assert_ptr_nonnull(mkdtemp(dir));
	strcat(dir, "/audit");	/* audit_open creates it */
	log_set_sink(sink, NULL);
	lastmsg[0] = 0;
	audit_test_set_time(T0);
}

static int
rm_cb(const char *p, const struct stat *st, int t, struct FTW *f)
{
	(void)st;
	(void)t;
	(void)f;
	remove(p);
	return 0;
}

static void
teardown(void)
{
	*strrchr(dir, '/') = 0;
	nftw(dir, rm_cb, 16, FTW_DEPTH | FTW_PHYS);
}

static const char *
P(const char *name)
{
	static char buf[4][256];
	static int i;

	i = (i + 1) % 4;
	snprintf(buf[i], sizeof(buf[i]), "%s/%s", dir, name);
	return buf[i];
}

/* ---- the log as an array of lines, for tampering ---- */

struct lines {
	char *l[64];
	int n;
};

static void
lines_read(struct lines *ls)
{
	FILE *f = fopen(P("log"), "r");
	char *line = NULL;
	size_t cap = 0;

	ck_assert_ptr_nonnull(f);
	ls->n = 0;
	while (getline(&line, &cap, f) > 0) {
		ck_assert_int_lt(ls->n, 64);
		ls->l[ls->n++] = strdup(line);
	}
	free(line);
	fclose(f);
}

static void
lines_write(struct lines *ls)
{
	FILE *f = fopen(P("log"), "w");
	int i;

	ck_assert_ptr_nonnull(f);
	for (i = 0; i < ls->n; i++) {
		fputs(ls->l[i], f);
		free(ls->l[i]);
	}
	fclose(f);
	ls->n = 0;
}

static void
lines_remove(struct lines *ls, int i)
{
	free(ls->l[i]);
	memmove(&ls->l[i], &ls->l[i + 1], (size_t)(ls->n - i - 1) * sizeof(char *));
	ls->n--;
}

/* What a forger without the key can do: recompute every prev and hash. */
static void
rechain(struct lines *ls)
{
	uint8_t prev[BWC_ID] = {0}, h[BWC_ID];
	char hex[2 * BWC_ID + 1], *t;
	struct buf b = {0};
	int i, tabs;

	for (i = 0; i < ls->n; i++) {
		/* cut after the 8th tab: fields seq..detail */
		for (t = ls->l[i], tabs = 0; tabs < 8; t++)
			if (*t == '\t')
				tabs++;
		buf_reset(&b);
		buf_put(&b, prev, BWC_ID);
		buf_put(&b, ls->l[i], (size_t)(t - ls->l[i]));
		hex_encode(hex, prev, BWC_ID);
		buf_put(&b, hex, 2 * BWC_ID);
		bwcrypto_hash_plain(h, b.data, b.len);
		buf_put_u8(&b, '\t');
		hex_encode(hex, h, BWC_ID);
		buf_put(&b, hex, 2 * BWC_ID);
		buf_put(&b, "\n", 2);
		free(ls->l[i]);
		ls->l[i] = strdup((char *)b.data + BWC_ID);
		memcpy(prev, h, BWC_ID);
	}
	buf_free(&b);
}

/* Runs verify; returns its code and the report (caller frees). */
static int
verify(struct audit *a, char **report, uint64_t *n)
{
	size_t len;
	FILE *f = open_memstream(report, &len);
	int err;

	err = audit_verify(a, f, n);
	fclose(f);
	return err;
}

static void
assert_verify_finds(struct audit *a, const char *what)
{
	char *rep;
	uint64_t n;

	ck_assert_msg(verify(a, &rep, &n) == BW_ERR_CORRUPT,
	    "verify passed, expected '%s':\n%s", what, rep);
	ck_assert_msg(strstr(rep, what) != NULL, "report lacks '%s':\n%s", what, rep);
	free(rep);
}

static struct audit *
open_with(int nappends)
{
	struct audit *a;
	char obj[32];
	int i;

	ck_assert_int_eq(audit_open(dir, &a), 0);
	for (i = 1; i <= nappends; i++) {
		snprintf(obj, sizeof(obj), "/srv/repo%d", i);
		ck_assert_int_eq(audit_append(a, "backup", obj, AUDIT_OK, "42 files"), 0);
	}
	return a;
}

/* ---- collecting records ---- */

struct seen {
	int n;
	uint64_t seq[16];
	char *time[16], *user[16], *host[16], *action[16], *object[16];
	char *outcome[16], *detail[16];
};

static int
collect(const struct audit_record *r, void *arg)
{
	struct seen *s = arg;

	ck_assert_int_lt(s->n, 16);
	s->seq[s->n] = r->seq;
	s->time[s->n] = strdup(r->time);
	s->user[s->n] = strdup(r->user);
	s->host[s->n] = strdup(r->host);
	s->action[s->n] = strdup(r->action);
	s->object[s->n] = strdup(r->object);
	s->outcome[s->n] = strdup(r->outcome);
	s->detail[s->n] = strdup(r->detail);
	s->n++;
	return 0;
}

static void
seen_free(struct seen *s)
{
	int i;

	for (i = 0; i < s->n; i++) {
		free(s->time[i]);
		free(s->user[i]);
		free(s->host[i]);
		free(s->action[i]);
		free(s->object[i]);
		free(s->outcome[i]);
		free(s->detail[i]);
	}
	s->n = 0;
}

START_TEST(append_show_round_trip)
{
	struct audit *a;
	struct seen s = {0};
	char host[256];
	struct passwd *pw = getpwuid(geteuid());
	struct stat st;

	ck_assert_int_eq(audit_open(dir, &a), 0);
	ck_assert_int_eq(stat(P("key"), &st), 0);
	ck_assert_int_eq(st.st_mode & 0777, 0600);
	ck_assert_int_eq(stat(P("key.pub"), &st), 0);
	ck_assert_int_eq(audit_append(a, "backup", "/srv/www", AUDIT_OK, "1203 files"), 0);
	audit_test_set_time(T0 + 1000000000LL);
	ck_assert_int_eq(audit_append(a, "restore", "snapshot 3fa1", AUDIT_FAIL, NULL), 0);
	ck_assert_int_eq(audit_each(a, collect, &s), 0);
	ck_assert_int_eq(s.n, 2);
	ck_assert_uint_eq(s.seq[0], 1);
	ck_assert_uint_eq(s.seq[1], 3);	/* 2 is the first checkpoint */
	ck_assert_str_eq(s.time[0], "2026-11-24T13:51:46.123Z");
	ck_assert_str_eq(s.time[1], "2026-11-24T13:51:47.123Z");
	ck_assert_str_eq(s.user[0], pw ? pw->pw_name : "");
	gethostname(host, sizeof(host));
	ck_assert_str_eq(s.host[0], host);
	ck_assert_str_eq(s.action[0], "backup");
	ck_assert_str_eq(s.object[0], "/srv/www");
	ck_assert_str_eq(s.outcome[0], "ok");
	ck_assert_str_eq(s.detail[0], "1203 files");
	ck_assert_str_eq(s.action[1], "restore");
	ck_assert_str_eq(s.object[1], "snapshot 3fa1");
	ck_assert_str_eq(s.outcome[1], "failed");
	ck_assert_str_eq(s.detail[1], "");
	audit_free(a);

	/* reopened: same key, the chain goes on */
	ck_assert_int_eq(audit_open(dir, &a), 0);
	ck_assert_int_eq(audit_append(a, "drill", "power-loss", AUDIT_PARTIAL, "x"), 0);
	seen_free(&s);
	ck_assert_int_eq(audit_each(a, collect, &s), 0);
	ck_assert_int_eq(s.n, 3);
	ck_assert_uint_eq(s.seq[2], 5);
	seen_free(&s);
	audit_free(a);
}
END_TEST

/* An independent reading of docs/FORMAT.md, "Audit log". */
START_TEST(format_matches_the_documentation)
{
	struct audit *a = open_with(2);
	struct lines ls, again;
	uint8_t pk[BWC_SIGN_PK], sig[BWC_SIG], msg[27 + 8 + BWC_ID], prev[BWC_ID];
	char pub[200], sighex[129], prevhex[65], headseq[8];
	FILE *f;
	char *t, *rep;
	int i;

	lines_read(&ls);
	ck_assert_int_eq(ls.n, 4);
	ck_assert(!strncmp(ls.l[0], "1\t2026-11-24T13:51:46.123Z\t", 27));
	ck_assert_ptr_nonnull(strstr(ls.l[0], "\tbackup\t/srv/repo1\tok\t42 files\t"
	    "0000000000000000000000000000000000000000000000000000000000000000\t"));
	/* the chain rule: recomputing every hash changes nothing */
	lines_read(&again);
	rechain(&again);
	for (i = 0; i < 4; i++)
		ck_assert_str_eq(again.l[i], ls.l[i]);
	lines_write(&again);
	/* the checkpoint signs "bulwark-audit-checkpoint-v1" || u64 seq || hash */
	f = fopen(P("key.pub"), "r");
	ck_assert_ptr_nonnull(fgets(pub, sizeof(pub), f));
	fclose(f);
	ck_assert(!strncmp(pub, "bulwark-audit-pub-v1 ", 21));
	pub[21 + 64] = 0;
	ck_assert_int_eq(hex_decode(pk, sizeof(pk), pub + 21), 0);
	ck_assert(!strncmp(ls.l[3], "4\t", 2));
	t = ls.l[3];
	for (i = 0; i < 7; i++)
		t = strchr(t, '\t') + 1;
	memcpy(sighex, t, 128);
	sighex[128] = 0;
	memcpy(prevhex, t + 129, 64);
	prevhex[64] = 0;
	ck_assert_int_eq(hex_decode(sig, sizeof(sig), sighex), 0);
	ck_assert_int_eq(hex_decode(prev, sizeof(prev), prevhex), 0);
	memcpy(msg, "bulwark-audit-checkpoint-v1", 27);
	le64enc(msg + 27, 3);
	memcpy(msg + 35, prev, BWC_ID);
	ck_assert_int_eq(bwcrypto_verify(sig, msg, sizeof(msg), pk), 0);
	ck_assert(!strncmp(ls.l[2] + strlen(ls.l[2]) - 65, prevhex, 64));
	/* head: tag, seq, hash, signature */
	f = fopen(P("head"), "r");
	ck_assert_int_eq(fscanf(f, "bulwark-audit-head-v1\t%7[0-9]\t", headseq), 1);
	fclose(f);
	ck_assert_str_eq(headseq, "3");
	for (i = 0; i < 4; i++)
		free(ls.l[i]);
	ck_assert_int_eq(verify(a, &rep, NULL), 0);
	free(rep);
	audit_free(a);
}
END_TEST

START_TEST(refuses_bad_records)
{
	struct audit *a = open_with(0);

	ck_assert_int_eq(audit_append(a, "", "x", AUDIT_OK, NULL), BW_ERR_INVAL);
	ck_assert_int_eq(audit_append(a, "backup", "x", NULL, NULL), BW_ERR_INVAL);
	ck_assert_int_eq(audit_append(a, "checkpoint", "x", AUDIT_OK, NULL), BW_ERR_INVAL);
	audit_free(a);
}
END_TEST

START_TEST(verify_intact)
{
	struct audit *a;
	char *rep;
	uint64_t n = 99;

	ck_assert_int_eq(audit_open(dir, &a), 0);
	ck_assert_int_eq(verify(a, &rep, &n), 0);	/* empty log */
	ck_assert_uint_eq(n, 0);
	free(rep);
	audit_free(a);
	a = open_with(3);
	ck_assert_int_eq(verify(a, &rep, &n), 0);
	ck_assert_str_eq(rep, "");
	ck_assert_uint_eq(n, 6);
	free(rep);
	ck_assert_int_eq(audit_verify(a, NULL, NULL), 0);
	audit_free(a);
}
END_TEST

START_TEST(verify_finds_edited_field)
{
	struct audit *a = open_with(3);
	struct lines ls;
	char *p;

	lines_read(&ls);
	p = strstr(ls.l[2], "/srv/repo2");
	ck_assert_ptr_nonnull(p);
	p[9] = '7';
	lines_write(&ls);
	assert_verify_finds(a, "record 3: edited (chain hash mismatch)");

	/* and when the forger recomputes the chain, the signatures fail */
	lines_read(&ls);
	rechain(&ls);
	lines_write(&ls);
	assert_verify_finds(a, "record 4: checkpoint signature invalid");
	audit_free(a);
}
END_TEST

START_TEST(verify_finds_removed_record)
{
	struct audit *a = open_with(3);
	struct lines ls;

	lines_read(&ls);
	lines_remove(&ls, 2);	/* record 3 */
	lines_write(&ls);
	assert_verify_finds(a, "record 4: out of order, expected record 3");

	/* a whole append removed and the rest renumbered and re-chained */
	audit_free(a);
	teardown();
	setup();
	a = open_with(3);
	lines_read(&ls);
	lines_remove(&ls, 0);
	lines_remove(&ls, 0);
	ls.l[0][0] = '1';
	ls.l[1][0] = '2';
	ls.l[2][0] = '3';
	ls.l[3][0] = '4';
	rechain(&ls);
	lines_write(&ls);
	assert_verify_finds(a, "checkpoint signature invalid");
	audit_free(a);
}
END_TEST

START_TEST(verify_finds_swapped_records)
{
	struct audit *a = open_with(3);
	struct lines ls;
	char *t;

	lines_read(&ls);
	t = ls.l[0];
	ls.l[0] = ls.l[2];
	ls.l[2] = t;
	lines_write(&ls);
	assert_verify_finds(a, "record 3: out of order, expected record 1");
	assert_verify_finds(a, "record 1: out of order, expected record 3");
	audit_free(a);
}
END_TEST

START_TEST(verify_finds_truncation)
{
	struct audit *a = open_with(3);
	struct lines ls;

	lines_read(&ls);
	lines_remove(&ls, 5);
	lines_remove(&ls, 4);
	lines_write(&ls);
	assert_verify_finds(a, "log truncated after record 4: head names record 5");

	/* cut inside the last append: the record has no checkpoint */
	audit_free(a);
	teardown();
	setup();
	a = open_with(3);
	lines_read(&ls);
	lines_remove(&ls, 5);
	lines_write(&ls);
	assert_verify_finds(a, "records 5..5: not covered by a signed checkpoint");
	assert_verify_finds(a, "log truncated after record 5: head names record 5");

	/* cut in the middle of a line */
	lines_read(&ls);
	ls.l[4][10] = 0;
	lines_write(&ls);
	assert_verify_finds(a, "line 5 (after record 4): incomplete record");

	/* and with head gone too */
	lines_read(&ls);
	lines_remove(&ls, 4);
	lines_write(&ls);
	ck_assert_int_eq(unlink(P("head")), 0);
	assert_verify_finds(a, "head: missing");
	audit_free(a);
}
END_TEST

START_TEST(verify_finds_head_rollback_to_a_cut)
{
	struct audit *a = open_with(2);
	struct lines ls;
	char *rep;
	uint8_t *old;
	size_t n;
	FILE *f;

	/* keep head after two appends, then cut the third append's checkpoint
	 * and put the old head back: the unsigned record is still found */
	f = fopen(P("head"), "r");
	old = malloc(1024);
	n = fread(old, 1, 1024, f);
	fclose(f);
	ck_assert_int_eq(audit_append(a, "prune", "/srv/repo", AUDIT_OK, NULL), 0);
	lines_read(&ls);
	lines_remove(&ls, 5);
	lines_write(&ls);
	f = fopen(P("head"), "w");
	fwrite(old, 1, n, f);
	fclose(f);
	free(old);
	assert_verify_finds(a, "records 5..5: not covered by a signed checkpoint");

	/* a stale head alone (crash before head was replaced) is not damage */
	audit_free(a);
	teardown();
	setup();
	a = open_with(2);
	f = fopen(P("head"), "r");
	old = malloc(1024);
	n = fread(old, 1, 1024, f);
	fclose(f);
	ck_assert_int_eq(audit_append(a, "prune", "/srv/repo", AUDIT_OK, NULL), 0);
	f = fopen(P("head"), "w");
	fwrite(old, 1, n, f);
	fclose(f);
	free(old);
	ck_assert_int_eq(verify(a, &rep, NULL), 0);
	ck_assert_ptr_nonnull(strstr(rep, "note: head names record 3"));
	free(rep);
	audit_free(a);
}
END_TEST

START_TEST(verify_finds_forged_signatures)
{
	struct audit *a = open_with(2);
	struct lines ls;
	char *p;
	FILE *f;
	char head[1024];
	size_t n;

	lines_read(&ls);
	p = strchr(ls.l[1], '\t');
	for (int i = 0; i < 6; i++)
		p = strchr(p + 1, '\t');
	p[1] = p[1] == '0' ? '1' : '0';	/* first digit of the signature */
	rechain(&ls);
	lines_write(&ls);
	assert_verify_finds(a, "record 2: checkpoint signature invalid");
	audit_free(a);

	teardown();
	setup();
	a = open_with(2);
	f = fopen(P("head"), "r");
	n = fread(head, 1, sizeof(head) - 1, f);
	fclose(f);
	head[n - 2] = head[n - 2] == '0' ? '1' : '0';	/* last signature digit */
	f = fopen(P("head"), "w");
	fwrite(head, 1, n, f);
	fclose(f);
	assert_verify_finds(a, "head: signature invalid");
	audit_free(a);
}
END_TEST

START_TEST(verify_with_other_key_fails)
{
	struct audit *a = open_with(1), *b;
	char other[128];

	snprintf(other, sizeof(other), "%s2", dir);
	ck_assert_int_eq(audit_open(other, &b), 0);
	/* swap in the other log's public key */
	audit_free(a);
	{
		char from[160];

		snprintf(from, sizeof(from), "%s/key.pub", other);
		ck_assert_int_eq(unlink(P("key.pub")), 0);
		ck_assert_int_eq(link(from, P("key.pub")), 0);
	}
	ck_assert_int_eq(audit_open(dir, &a), 0);
	assert_verify_finds(a, "checkpoint signature invalid");
	ck_assert_int_eq(audit_append(a, "backup", "x", AUDIT_OK, NULL), BW_ERR_AUTH);
	audit_free(a);
	audit_free(b);
	nftw(other, rm_cb, 16, FTW_DEPTH | FTW_PHYS);
}
END_TEST

START_TEST(hostile_values_stay_in_their_field)
{
	static const char *evil =
	    "x\t2\t2026-01-01T00:00:00.000Z\troot\th\tforget\t/\tok\t\t00\t00\n"
	    "3\t%41%\r\x7f\xc3\xa9";
	struct audit *a = open_with(0);
	struct seen s = {0};
	struct lines ls;
	char *rep;
	uint64_t n;

	ck_assert_int_eq(audit_append(a, "backup", evil, AUDIT_OK, evil), 0);
	ck_assert_int_eq(audit_append(a, "backup", "plain", AUDIT_OK, "%%"), 0);
	lines_read(&ls);
	ck_assert_int_eq(ls.n, 4);
	lines_write(&ls);
	ck_assert_int_eq(verify(a, &rep, &n), 0);
	ck_assert_uint_eq(n, 4);
	free(rep);
	ck_assert_int_eq(audit_each(a, collect, &s), 0);
	ck_assert_int_eq(s.n, 2);
	ck_assert_str_eq(s.object[0], evil);
	ck_assert_str_eq(s.detail[0], evil);
	ck_assert_str_eq(s.detail[1], "%%");
	seen_free(&s);
	audit_free(a);
}
END_TEST

START_TEST(refuses_readable_key)
{
	struct audit *a = open_with(1);

	ck_assert_int_eq(chmod(P("key"), 0640), 0);
	audit_free(a);
	ck_assert_int_eq(audit_open(dir, &a), 0);
	ck_assert_int_eq(audit_append(a, "backup", "x", AUDIT_OK, NULL), BW_ERR_PERM);
	ck_assert_ptr_nonnull(strstr(lastmsg, "chmod 600"));
	ck_assert_ptr_nonnull(strstr(lastmsg, P("key")));
	/* verifying needs only the public key */
	ck_assert_int_eq(audit_verify(a, NULL, NULL), 0);
	ck_assert_int_eq(chmod(P("key"), 0600), 0);
	ck_assert_int_eq(audit_append(a, "backup", "x", AUDIT_OK, NULL), 0);
	audit_free(a);
}
END_TEST

START_TEST(append_after_torn_line)
{
	struct audit *a = open_with(2);
	struct seen s = {0};
	FILE *f;

	f = fopen(P("log"), "a");
	fputs("5\t2026-", f);	/* a crash in the middle of an append */
	fclose(f);
	assert_verify_finds(a, "line 5 (after record 4): incomplete record");
	ck_assert_int_eq(audit_append(a, "backup", "after", AUDIT_OK, NULL), 0);
	ck_assert_ptr_nonnull(strstr(lastmsg, "cut short"));
	/* the scar stays visible; the new records chain to the last good one */
	assert_verify_finds(a, "line 5 (after record 4): malformed record");
	{
		char *rep;

		ck_assert_int_eq(verify(a, &rep, NULL), BW_ERR_CORRUPT);
		ck_assert_ptr_null(strstr(rep, "record 5:"));
		free(rep);
	}
	ck_assert_int_eq(audit_each(a, collect, &s), BW_ERR_CORRUPT);
	ck_assert_int_eq(s.n, 3);
	ck_assert_str_eq(s.object[2], "after");
	seen_free(&s);
	audit_free(a);
}
END_TEST

START_TEST(append_after_damaged_line)
{
	struct audit *a = open_with(2);
	FILE *f;
	char *rep;

	f = fopen(P("log"), "a");
	fputs("garbage\tline\n", f);
	fclose(f);
	ck_assert_int_eq(audit_append(a, "backup", "after", AUDIT_OK, NULL), 0);
	ck_assert_ptr_nonnull(strstr(lastmsg, "1 damaged lines"));
	ck_assert_int_eq(verify(a, &rep, NULL), BW_ERR_CORRUPT);
	ck_assert_str_eq(rep, "line 5 (after record 4): malformed record\n");
	free(rep);
	audit_free(a);
}
END_TEST

START_TEST(power_cut_at_any_point_of_an_append)
{
	struct audit *a;
	unsigned long nth, fired = 0;
	uint64_t n, before, first;
	char *rep;
	int err;

	for (first = 0; first <= 1; first++) {
		a = open_with((int)first);
		for (nth = 1; nth <= 12; nth++) {
			ck_assert_int_eq(audit_verify(a, NULL, &before), 0);
			fsio_fault_arm(FSIO_OP_ANY, nth, BW_ERR_IO);
			err = audit_append(a, "backup", "cut", AUDIT_OK, NULL);
			ck_assert_int_eq(err != 0, fsio_fault_fired());
			fired += fsio_fault_fired();
			fsio_fault_power_cut();
			ck_assert_msg(verify(a, &rep, &n) == 0,
			    "cut at op %lu left a damaged log:\n%s", nth, rep);
			/* a failed append may or may not have reached the disk,
			 * a successful one must have */
			ck_assert(err ? (n == before || n == before + 2) :
			    n == before + 2);
			free(rep);
		}
		audit_free(a);
		teardown();
		setup();
	}
	ck_assert_uint_ge(fired, 14);
}
END_TEST

/* With arg, appends through that shared handle; else through its own. */
static void *
appender(void *arg)
{
	struct audit *a = arg;
	int i;

	if (a == NULL && audit_open(dir, &a))
		return (void *)1;
	for (i = 0; i < 20; i++)
		if (audit_append(a, "backup", "concurrent", AUDIT_OK, NULL))
			return (void *)1;
	if (arg == NULL)
		audit_free(a);
	return NULL;
}

START_TEST(concurrent_appenders_keep_the_chain)
{
	struct audit *a = open_with(1), *shared;
	pthread_t t[4];
	void *r;
	uint64_t n;
	char *rep;
	int i;

	ck_assert_int_eq(audit_open(dir, &shared), 0);	/* key not loaded yet */
	for (i = 0; i < 4; i++)
		pthread_create(&t[i], NULL, appender, i < 2 ? NULL : shared);
	for (i = 0; i < 4; i++) {
		pthread_join(t[i], &r);
		ck_assert_ptr_null(r);
	}
	ck_assert_int_eq(verify(a, &rep, &n), 0);
	ck_assert_str_eq(rep, "");
	ck_assert_uint_eq(n, 2 + 4 * 40);
	free(rep);
	audit_free(shared);
	audit_free(a);
}
END_TEST

static Suite *
audit_suite(void)
{
	Suite *s = suite_create("audit");
	TCase *tc = tcase_create("audit");

	tcase_add_checked_fixture(tc, setup, teardown);
	tcase_add_test(tc, append_show_round_trip);
	tcase_add_test(tc, format_matches_the_documentation);
	tcase_add_test(tc, refuses_bad_records);
	tcase_add_test(tc, verify_intact);
	tcase_add_test(tc, verify_finds_edited_field);
	tcase_add_test(tc, verify_finds_removed_record);
	tcase_add_test(tc, verify_finds_swapped_records);
	tcase_add_test(tc, verify_finds_truncation);
	tcase_add_test(tc, verify_finds_head_rollback_to_a_cut);
	tcase_add_test(tc, verify_finds_forged_signatures);
	tcase_add_test(tc, verify_with_other_key_fails);
	tcase_add_test(tc, hostile_values_stay_in_their_field);
	tcase_add_test(tc, refuses_readable_key);
	tcase_add_test(tc, append_after_torn_line);
	tcase_add_test(tc, append_after_damaged_line);
	tcase_add_test(tc, power_cut_at_any_point_of_an_append);
	tcase_add_test(tc, concurrent_appenders_keep_the_chain);
	suite_add_tcase(s, tc);
	return s;
}

int
main(void)
{
	SRunner *sr = srunner_create(audit_suite());
	int failed;

	srunner_run_all(sr, CK_NORMAL);
	failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}
