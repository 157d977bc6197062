/*
 * The audit log (format: docs/FORMAT.md, "Audit log").
 *
 * One record per line, ten tab-separated fields, each percent-escaped:
 *   seq time user host action object outcome detail prev hash
 * hash = BLAKE2b-256(prev hash bytes || the line up to, not including, the
 * tab before hash).  Every append writes the record and then a checkpoint
 * record (action "checkpoint") whose detail is an Ed25519 signature over
 * (seq, hash) of the record before it, both in one write and one fsync,
 * and then replaces head with that checkpoint's (seq, hash, signature).
 *
 * Appenders serialise on an flock of the log (other bulwark commands, other
 * threads) and chain from the last complete line; a line cut short by a
 * crash is closed with a newline so the next record starts cleanly, and
 * verify names it.
 */
#include "config.h"

#include <sys/file.h>
#include <sys/stat.h>
#include <sys/types.h>
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <pthread.h>
#include <pwd.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "lib/audit/audit.h"
#include "lib/crypto/bwcrypto.h"
#include "lib/util/buf.h"
#include "lib/util/err.h"
#include "lib/util/fsio.h"
#include "lib/util/log.h"

#define NFIELDS 10
enum { F_SEQ, F_TIME, F_USER, F_HOST, F_ACTION, F_OBJECT, F_OUTCOME, F_DETAIL,
	F_PREV, F_HASH };

#define CHECKPOINT "checkpoint"
#define CP_DOMAIN "bulwark-audit-checkpoint-v1"
#define HEAD_TAG "bulwark-audit-head-v1"
#define KEY_TAG "bulwark-audit-key-v1 "
#define PUB_TAG "bulwark-audit-pub-v1 "

#define LOG_MAX ((size_t)1 << 30)	/* far more than 184 days of records */
#define TAIL_WINDOW ((size_t)128 << 10)	/* holds the longest possible line */
#define WORD_MAX 64			/* action, outcome */
#define TEXT_MAX 4096			/* object, detail (longer is cut) */

struct audit {
	char *dir, *log, *head, *key, *pub;
	uint8_t pk[BWC_SIGN_PK];
	uint8_t *sk;		/* guarded memory, loaded at the first append */
	pthread_mutex_t sk_lock;	/* threads may share one handle */
};

static int64_t test_time_ns;

void
audit_test_set_time(int64_t ns)
{
	__atomic_store_n(&test_time_ns, ns, __ATOMIC_RELAXED);
}

static char *
join(const char *dir, const char *name)
{
	size_t n = strlen(dir) + strlen(name) + 2;
	char *p = malloc(n);

	if (p)
		snprintf(p, n, "%s/%s", dir, name);
	return p;
}

static void
fmt_time(char out[32])
{
	int64_t ns = __atomic_load_n(&test_time_ns, __ATOMIC_RELAXED);
	struct timespec ts;
	struct tm tm;
	size_t n;

	if (ns == 0) {
		clock_gettime(CLOCK_REALTIME, &ts);
	} else {
		ts.tv_sec = (time_t)(ns / 1000000000);
		ts.tv_nsec = (long)(ns % 1000000000);
		if (ts.tv_nsec < 0) {
			ts.tv_sec--;
			ts.tv_nsec += 1000000000;
		}
	}
	gmtime_r(&ts.tv_sec, &tm);
	n = strftime(out, 32, "%Y-%m-%dT%H:%M:%S", &tm);
	snprintf(out + n, 32 - n, ".%03ldZ", ts.tv_nsec / 1000000);
}

/* ---------------------------------------------------------------- fields */

static int
must_escape(uint8_t c)
{
	return c < 0x20 || c == '%' || c == 0x7f || c >= 0x80;
}

/* Appends s escaped, cut to max bytes of the original. */
static void
put_field(struct buf *b, const char *s, size_t max)
{
	static const char hx[] = "0123456789ABCDEF";
	size_t i, n = s ? strlen(s) : 0;
	uint8_t c;

	if (n > max)
		n = max;
	for (i = 0; i < n; i++) {
		c = (uint8_t)s[i];
		if (must_escape(c)) {	/* covers '\t' and '\n' */
			buf_put_u8(b, '%');
			buf_put_u8(b, (uint8_t)hx[c >> 4]);
			buf_put_u8(b, (uint8_t)hx[c & 15]);
		} else {
			buf_put_u8(b, c);
		}
	}
}

static int
hexdig(uint8_t c)
{
	if (c >= '0' && c <= '9')
		return c - '0';
	if (c >= 'a' && c <= 'f')
		return c - 'a' + 10;
	if (c >= 'A' && c <= 'F')
		return c - 'A' + 10;
	return -1;
}

/* Unescapes a field into a new C string; NULL if malformed or NUL inside. */
static char *
unescape(const uint8_t *p, size_t n)
{
	struct bufr r;
	char *s, *o;
	const uint8_t *c;
	int hi, lo;

	if ((s = o = malloc(n + 1)) == NULL)
		return NULL;
	bufr_init(&r, p, n);
	while (bufr_left(&r) > 0) {
		c = bufr_get(&r, 1);
		if (*c != '%') {
			*o++ = (char)*c;
			continue;
		}
		if ((c = bufr_get(&r, 2)) == NULL ||
		    (hi = hexdig(c[0])) < 0 || (lo = hexdig(c[1])) < 0 ||
		    (hi == 0 && lo == 0)) {
			free(s);
			return NULL;
		}
		*o++ = (char)(hi << 4 | lo);
	}
	*o = 0;
	return s;
}

struct line {
	const uint8_t *f[NFIELDS];
	size_t n[NFIELDS];
	const uint8_t *text;	/* fields F_SEQ..F_PREV with their tabs */
	size_t textlen;
	uint64_t seq;
	uint8_t prev[BWC_ID], hash[BWC_ID];
};

static int
parse_u64(const uint8_t *p, size_t n, uint64_t *v)
{
	size_t i;

	*v = 0;
	if (n == 0 || n > 20 || (n > 1 && p[0] == '0'))
		return -1;
	for (i = 0; i < n; i++) {
		if (p[i] < '0' || p[i] > '9' || *v > (UINT64_MAX - (p[i] - '0')) / 10)
			return -1;
		*v = *v * 10 + (p[i] - '0');
	}
	return 0;
}

static int
parse_hex(const uint8_t *p, size_t n, uint8_t *out, size_t outlen)
{
	char tmp[2 * BWC_SIG + 1];

	if (n != 2 * outlen || n >= sizeof(tmp))
		return -1;
	memcpy(tmp, p, n);
	tmp[n] = 0;
	return hex_decode(out, outlen, tmp) ? -1 : 0;
}

/* Splits and checks the fixed-format fields of one line (no '\n'). */
static int
split_line(const uint8_t *p, size_t n, struct line *l)
{
	struct bufr r;
	const uint8_t *tab;
	size_t i, len;

	bufr_init(&r, p, n);
	for (i = 0; i < NFIELDS; i++) {
		tab = memchr(r.p + r.off, '\t', bufr_left(&r));
		if ((i < NFIELDS - 1) != (tab != NULL))
			return -1;
		len = tab ? (size_t)(tab - (r.p + r.off)) : bufr_left(&r);
		if ((l->f[i] = bufr_get(&r, len)) == NULL)
			return -1;
		l->n[i] = len;
		if (tab && bufr_get(&r, 1) == NULL)
			return -1;
	}
	if (bufr_done(&r))
		return -1;
	l->text = p;
	l->textlen = (size_t)(l->f[F_PREV] - p) + l->n[F_PREV];
	if (parse_u64(l->f[F_SEQ], l->n[F_SEQ], &l->seq) || l->seq == 0 ||
	    parse_hex(l->f[F_PREV], l->n[F_PREV], l->prev, BWC_ID) ||
	    parse_hex(l->f[F_HASH], l->n[F_HASH], l->hash, BWC_ID) ||
	    l->n[F_TIME] >= sizeof(((struct audit_record *)0)->time))
		return -1;
	return 0;
}

static int
is_checkpoint(const struct line *l)
{
	return l->n[F_ACTION] == strlen(CHECKPOINT) &&
	    !memcmp(l->f[F_ACTION], CHECKPOINT, l->n[F_ACTION]);
}

static void
chain_hash(uint8_t out[BWC_ID], const uint8_t prev[BWC_ID], const uint8_t *text,
    size_t n)
{
	struct bwcrypto_hasher *h = bwcrypto_hasher_new(NULL);

	if (h == NULL) {	/* out of memory: a hash that matches nothing */
		memset(out, 0xff, BWC_ID);
		return;
	}
	bwcrypto_hasher_update(h, prev, BWC_ID);
	bwcrypto_hasher_update(h, text, n);
	bwcrypto_hasher_final(h, out);
	bwcrypto_hasher_free(h);
}

/* What a checkpoint (and head) signs: the domain, seq (u64 LE), hash. */
static void
cp_msg(uint8_t m[sizeof(CP_DOMAIN) - 1 + 8 + BWC_ID], uint64_t seq,
    const uint8_t hash[BWC_ID])
{
	memcpy(m, CP_DOMAIN, sizeof(CP_DOMAIN) - 1);
	le64enc(m + sizeof(CP_DOMAIN) - 1, seq);
	memcpy(m + sizeof(CP_DOMAIN) - 1 + 8, hash, BWC_ID);
}

#define CP_MSG_LEN (sizeof(CP_DOMAIN) - 1 + 8 + BWC_ID)

static int
cp_verify(const struct audit *a, uint64_t seq, const uint8_t hash[BWC_ID],
    const uint8_t sig[BWC_SIG])
{
	uint8_t m[CP_MSG_LEN];

	cp_msg(m, seq, hash);
	return bwcrypto_verify(sig, m, sizeof(m), a->pk);
}

/* Next line without its '\n'; *complete is 0 for a last line without one. */
static const uint8_t *
next_line(struct bufr *r, size_t *n, int *complete)
{
	const uint8_t *start, *nl;
	size_t left = bufr_left(r);

	if (left == 0)
		return NULL;
	start = r->p + r->off;
	nl = memchr(start, '\n', left);
	*complete = nl != NULL;
	*n = nl ? (size_t)(nl - start) : left;
	bufr_get(r, *n + (nl != NULL));
	return start;
}

/* ------------------------------------------------------------------ keys */

static int
write_head(struct audit *a, uint64_t seq, const uint8_t hash[BWC_ID],
    const uint8_t sig[BWC_SIG])
{
	char line[sizeof(HEAD_TAG) + 24 + 2 * BWC_ID + 2 * BWC_SIG + 8];
	char hashhex[2 * BWC_ID + 1], sighex[2 * BWC_SIG + 1];
	int len;

	hex_encode(hashhex, hash, BWC_ID);
	hex_encode(sighex, sig, BWC_SIG);
	len = snprintf(line, sizeof(line), "%s\t%" PRIu64 "\t%s\t%s\n", HEAD_TAG,
	    seq, hashhex, sighex);
	return fsio_write_atomic(a->head, line, (size_t)len, 0644);
}

static int
write_keys(struct audit *a, const uint8_t *sk, int with_secret)
{
	struct buf b;
	char hex[2 * BWC_SIGN_SK + 1];
	int err = 0;

	buf_init_secret(&b);
	if (with_secret) {
		hex_encode(hex, sk, BWC_SIGN_SK);
		buf_put(&b, KEY_TAG, strlen(KEY_TAG));
		buf_put(&b, hex, strlen(hex));
		buf_put_u8(&b, '\n');
		bwcrypto_wipe(hex, sizeof(hex));
		if (b.err) {
			err = b.err;
			goto out;
		}
		if ((err = fsio_write_atomic(a->key, b.data, b.len, 0600)) != 0)
			goto out;
		buf_reset(&b);
	}
	hex_encode(hex, a->pk, BWC_SIGN_PK);
	buf_put(&b, PUB_TAG, strlen(PUB_TAG));
	buf_put(&b, hex, strlen(hex));
	buf_put_u8(&b, '\n');
	if ((err = b.err) == 0)
		err = fsio_write_atomic(a->pub, b.data, b.len, 0644);
out:
	if (err == BW_ERR_NOMEM)
		log_error("audit log %s: out of memory writing the key", a->dir);
	buf_free(&b);
	return err;
}

/* Parses "TAG <hex>\n" into out; 0 or BW_ERR_CORRUPT (logged). */
static int
parse_keyfile(const char *path, const uint8_t *p, size_t n, const char *tag,
    uint8_t *out, size_t outlen)
{
	size_t tl = strlen(tag);

	if (n != tl + 2 * outlen + 1 || memcmp(p, tag, tl) || p[n - 1] != '\n' ||
	    parse_hex(p + tl, 2 * outlen, out, outlen)) {
		log_error("%s: not a Bulwark audit key file (damaged?); restore it "
		    "from your copy", path);
		return BW_ERR_CORRUPT;
	}
	return 0;
}

/* Loads the secret key; with derive, takes the public key from it instead
 * of checking that the two belong together. */
static int
load_secret(struct audit *a, int derive)
{
	struct stat st;
	uint8_t *p = NULL;
	size_t n = 0;
	int err;

	if (a->sk)
		return 0;
	if (stat(a->key, &st) < 0) {
		err = bw_err_from_errno(errno);
		log_error("%s: cannot use the audit signing key: %s", a->key,
		    strerror(errno));
		return err;
	}
	if (st.st_mode & 077) {
		log_error("%s: audit signing key is accessible by group or others; "
		    "run 'chmod 600 %s'", a->key, a->key);
		return BW_ERR_PERM;
	}
	if ((err = fsio_read_all(a->key, 1024, &p, &n)) != 0) {
		if (err == BW_ERR_NOENT)
			log_error("%s: audit signing key missing", a->key);
		goto out;
	}
	if ((a->sk = bwcrypto_secalloc(BWC_SIGN_SK)) == NULL) {
		log_error("%s: out of memory for the audit key", a->key);
		err = BW_ERR_NOMEM;
		goto out;
	}
	if ((err = parse_keyfile(a->key, p, n, KEY_TAG, a->sk, BWC_SIGN_SK)) != 0)
		goto out;
	/* an Ed25519 secret key ends with its public key */
	if (derive)
		memcpy(a->pk, a->sk + BWC_SIGN_SK - BWC_SIGN_PK, BWC_SIGN_PK);
	else if (!bwcrypto_memeq(a->sk + BWC_SIGN_SK - BWC_SIGN_PK, a->pk, BWC_SIGN_PK)) {
		log_error("%s: audit signing key does not belong to %s; restore "
		    "the matching pair", a->key, a->pub);
		err = BW_ERR_AUTH;
	}
out:
	if (p) {
		bwcrypto_wipe(p, n);
		free(p);
	}
	if (err && a->sk) {
		bwcrypto_secfree(a->sk);
		a->sk = NULL;
	}
	return err;
}

static int
load_public(struct audit *a)
{
	uint8_t *p = NULL;
	size_t n = 0;
	int err;

	if ((err = fsio_read_all(a->pub, 1024, &p, &n)) == 0)
		err = parse_keyfile(a->pub, p, n, PUB_TAG, a->pk, BWC_SIGN_PK);
	free(p);
	return err;
}

/* Under an flock of the directory, so two first uses make one key. */
static int
setup_keys(struct audit *a)
{
	uint8_t *sk = NULL, m[CP_MSG_LEN], sig[BWC_SIG], zero[BWC_ID] = {0};
	struct stat st;
	int dfd = -1, err = 0;

	if ((dfd = open(a->dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC)) < 0 ||
	    flock(dfd, LOCK_EX) < 0) {
		err = bw_err_from_errno(errno);
		log_error("audit log %s: cannot open: %s", a->dir, strerror(errno));
		goto out;
	}
	if ((err = load_public(a)) != BW_ERR_NOENT)
		goto out;
	if (stat(a->key, &st) == 0) {
		/* public half lost: the secret key holds it */
		if ((err = load_secret(a, 1)) == 0)
			err = write_keys(a, NULL, 0);
		goto out;
	}
	if ((sk = bwcrypto_secalloc(BWC_SIGN_SK)) == NULL) {
		log_error("audit log %s: out of memory", a->dir);
		err = BW_ERR_NOMEM;
		goto out;
	}
	bwcrypto_sign_keypair(a->pk, sk);
	if ((err = write_keys(a, sk, 1)) != 0)
		goto out;
	/* a head for the empty log, so that a missing head is always damage */
	cp_msg(m, 0, zero);
	bwcrypto_sign(sig, m, sizeof(m), sk);
	if ((err = write_head(a, 0, zero, sig)) != 0)
		goto out;
	log_info("audit log %s: new signing key; keep a copy of %s off this "
	    "machine to verify the log independently", a->dir, a->pub);
out:
	if (sk)
		bwcrypto_secfree(sk);
	if (dfd >= 0)
		close(dfd);
	return err;
}

int
audit_open(const char *dir, struct audit **out)
{
	struct audit *a = NULL;
	char *parent = NULL, *slash;
	int err;

	*out = NULL;
	if (dir == NULL && (dir = getenv("BULWARK_AUDIT_DIR")) == NULL)
		dir = LOCALSTATEDIR "/lib/bulwark/audit";
	if ((err = bwcrypto_init()) != 0)
		return err;
	if ((a = calloc(1, sizeof(*a))) != NULL)
		pthread_mutex_init(&a->sk_lock, NULL);
	if (a == NULL || (a->dir = strdup(dir)) == NULL ||
	    (a->log = join(dir, "log")) == NULL ||
	    (a->head = join(dir, "head")) == NULL ||
	    (a->key = join(dir, "key")) == NULL ||
	    (a->pub = join(dir, "key.pub")) == NULL ||
	    (parent = strdup(dir)) == NULL) {
		log_error("audit log %s: out of memory", dir);
		err = BW_ERR_NOMEM;
		goto out;
	}
	err = fsio_mkdir(dir, 0700);
	if (err == 0) {
		if ((slash = strrchr(parent, '/')) != NULL)
			slash[slash == parent] = 0;
		else
			strcpy(parent, ".");
		if ((err = fsio_sync_dir(parent)) != 0)
			goto out;
	} else if (err != BW_ERR_EXIST) {
		goto out;
	}
	if ((err = setup_keys(a)) != 0)
		goto out;
	*out = a;
	a = NULL;
out:
	free(parent);
	audit_free(a);
	return err;
}

void
audit_free(struct audit *a)
{
	if (a == NULL)
		return;
	if (a->sk)
		bwcrypto_secfree(a->sk);
	pthread_mutex_destroy(&a->sk_lock);
	free(a->dir);
	free(a->log);
	free(a->head);
	free(a->key);
	free(a->pub);
	free(a);
}

/* ---------------------------------------------------------------- append */

static void
who(char *user, size_t un, char *host, size_t hn)
{
	struct passwd pw, *res = NULL;
	char pwbuf[1024];

	if (getpwuid_r(geteuid(), &pw, pwbuf, sizeof(pwbuf), &res) == 0 && res)
		snprintf(user, un, "%s", res->pw_name);
	else
		snprintf(user, un, "%lu", (unsigned long)geteuid());
	if (gethostname(host, hn) < 0)
		snprintf(host, hn, "unknown");
	host[hn - 1] = 0;
}

/* Seq and hash of the newest intact record, read from the end of the log;
 * *torn if the log ends inside a line. */
static int
read_tail(struct audit *a, int fd, uint64_t *seq, uint8_t hash[BWC_ID], int *torn)
{
	struct line l;
	struct stat st;
	uint8_t *p = NULL;
	size_t n, off, want, end, start, skipped = 0;
	ssize_t r;
	int err = 0;

	*seq = 0;
	memset(hash, 0, BWC_ID);
	*torn = 0;
	if (fstat(fd, &st) < 0) {
		err = bw_err_from_errno(errno);
		log_error("%s: cannot stat: %s", a->log, strerror(errno));
		return err;
	}
	if (st.st_size == 0)
		return 0;
	want = (size_t)st.st_size < TAIL_WINDOW ? (size_t)st.st_size : TAIL_WINDOW;
	if ((p = malloc(want)) == NULL) {
		log_error("%s: out of memory", a->log);
		return BW_ERR_NOMEM;
	}
	for (n = 0; n < want; n += (size_t)r) {
		r = pread(fd, p + n, want - n, st.st_size - (off_t)want + (off_t)n);
		if (r < 0 && errno == EINTR) {
			r = 0;
			continue;
		}
		if (r <= 0) {
			err = r < 0 ? bw_err_from_errno(errno) : BW_ERR_IO;
			log_error("%s: cannot read: %s", a->log,
			    r < 0 ? strerror(errno) : "file shrank");
			goto out;
		}
	}
	end = want;
	if (p[end - 1] != '\n') {
		*torn = 1;
		while (end > 0 && p[end - 1] != '\n')
			end--;
	}
	/* Chain to the newest line that parses: damage is verify's to report,
	 * and auditing must not stop because of it. */
	while (end > 0) {
		off = end - 1;	/* the '\n' of this line */
		start = off;
		while (start > 0 && p[start - 1] != '\n')
			start--;
		if (start == 0 && want < (size_t)st.st_size)
			goto corrupt;	/* longer than any record can be */
		if (split_line(p + start, off - start, &l) == 0) {
			*seq = l.seq;
			memcpy(hash, l.hash, BWC_ID);
			break;
		}
		skipped++;
		end = start;
	}
	if (end == 0 && want < (size_t)st.st_size)
		goto corrupt;
	if (skipped)
		log_warn("%s: %zu damaged lines at the end of the log; new records "
		    "follow record %" PRIu64 "; run 'bulwark audit verify'",
		    a->log, skipped, *seq);
	goto out;
corrupt:
	log_error("%s: no intact record in the last %zu KiB of the log, so new "
	    "records cannot be chained; run 'bulwark audit verify' and keep the "
	    "log as evidence", a->log, TAIL_WINDOW >> 10);
	err = BW_ERR_CORRUPT;
out:
	free(p);
	return err;
}

static void
put_line(struct buf *b, uint64_t seq, const char *time, const char *user,
    const char *host, const char *action, const char *object,
    const char *outcome, const char *detail, const uint8_t prev[BWC_ID],
    uint8_t hash[BWC_ID])
{
	char num[24], hex[2 * BWC_ID + 1];
	size_t start = b->len;

	snprintf(num, sizeof(num), "%" PRIu64, seq);
	put_field(b, num, sizeof(num));
	buf_put_u8(b, '\t');
	put_field(b, time, 32);
	buf_put_u8(b, '\t');
	put_field(b, user, TEXT_MAX);
	buf_put_u8(b, '\t');
	put_field(b, host, TEXT_MAX);
	buf_put_u8(b, '\t');
	put_field(b, action, WORD_MAX);
	buf_put_u8(b, '\t');
	put_field(b, object, TEXT_MAX);
	buf_put_u8(b, '\t');
	put_field(b, outcome, WORD_MAX);
	buf_put_u8(b, '\t');
	put_field(b, detail, TEXT_MAX);
	buf_put_u8(b, '\t');
	hex_encode(hex, prev, BWC_ID);
	buf_put(b, hex, 2 * BWC_ID);
	if (b->err)
		return;
	chain_hash(hash, prev, b->data + start, b->len - start);
	hex_encode(hex, hash, BWC_ID);
	buf_put_u8(b, '\t');
	buf_put(b, hex, 2 * BWC_ID);
	buf_put_u8(b, '\n');
}

static int
valid_word(const char *w)
{
	return w && *w && strlen(w) <= WORD_MAX;
}

int
audit_append(struct audit *a, const char *action, const char *object,
    const char *outcome, const char *detail)
{
	struct fsio_file *f = NULL;
	struct buf b = {0};
	char time[32], user[256], host[256], sighex[2 * BWC_SIG + 1];
	uint8_t prev[BWC_ID], hash[BWC_ID], cphash[BWC_ID], sig[BWC_SIG];
	uint8_t m[CP_MSG_LEN];
	uint64_t seq;
	int lockfd = -1, torn, err, e, r;

	if (!valid_word(action) || !valid_word(outcome) ||
	    !strcmp(action, CHECKPOINT)) {
		log_error("audit log %s: invalid record (action '%s', outcome "
		    "'%s')", a->dir, action ? action : "", outcome ? outcome : "");
		return BW_ERR_INVAL;
	}
	pthread_mutex_lock(&a->sk_lock);
	err = load_secret(a, 0);
	pthread_mutex_unlock(&a->sk_lock);
	if (err)
		return err;
	if ((err = fsio_open_append(a->log, &f)) != 0)
		return err;
	if ((lockfd = open(a->log, O_RDONLY | O_CLOEXEC)) < 0) {
		e = errno;
		err = bw_err_from_errno(e);
		log_error("%s: cannot open: %s", a->log, strerror(e));
		goto out;
	}
	do
		r = flock(lockfd, LOCK_EX);
	while (r < 0 && errno == EINTR);
	if (r < 0) {
		e = errno;
		err = bw_err_from_errno(e);
		log_error("%s: cannot lock: %s", a->log, strerror(e));
		goto out;
	}
	if ((err = read_tail(a, lockfd, &seq, prev, &torn)) != 0)
		goto out;
	if (torn) {
		log_warn("%s: the last record was cut short (a crash during an "
		    "append?); closing it and carrying on", a->log);
		buf_put_u8(&b, '\n');
	}
	fmt_time(time);
	who(user, sizeof(user), host, sizeof(host));
	put_line(&b, seq + 1, time, user, host, action, object, outcome, detail,
	    prev, hash);
	cp_msg(m, seq + 1, hash);
	bwcrypto_sign(sig, m, sizeof(m), a->sk);
	hex_encode(sighex, sig, BWC_SIG);
	put_line(&b, seq + 2, time, user, host, CHECKPOINT, "", AUDIT_OK, sighex,
	    hash, cphash);
	if (b.err) {
		log_error("audit log %s: out of memory", a->dir);
		err = b.err;
		goto out;
	}
	if ((err = fsio_write(f, b.data, b.len)) != 0 ||
	    (err = fsio_sync(f)) != 0)
		goto out;
	/* the log's own directory entry must be durable too */
	if (seq == 0 && !torn && (err = fsio_sync_dir(a->dir)) != 0)
		goto out;
	err = write_head(a, seq + 1, hash, sig);
out:
	if (f && (e = fsio_close(f)) != 0 && err == 0)
		err = e;
	if (lockfd >= 0)
		close(lockfd);	/* releases the flock */
	buf_free(&b);
	return err;
}

/* ------------------------------------------------------------------ read */

static int
read_log(struct audit *a, uint8_t **p, size_t *n)
{
	int err = fsio_read_all(a->log, LOG_MAX, p, n);

	if (err == BW_ERR_NOENT) {
		*p = NULL;
		*n = 0;
		return 0;
	}
	return err;
}

int
audit_each(struct audit *a, audit_each_fn *fn, void *arg)
{
	struct audit_record rec;
	struct line l;
	struct bufr r;
	uint8_t *p = NULL;
	const uint8_t *s;
	char *fld[NFIELDS] = {0};
	size_t n, len, i;
	unsigned long bad = 0;
	int err, complete;

	if ((err = read_log(a, &p, &n)) != 0)
		return err;
	bufr_init(&r, p, n);
	while ((s = next_line(&r, &len, &complete)) != NULL) {
		if (!complete || split_line(s, len, &l) != 0) {
			bad++;
			continue;
		}
		if (is_checkpoint(&l))
			continue;
		for (i = F_TIME; i <= F_DETAIL; i++)
			if ((fld[i] = unescape(l.f[i], l.n[i])) == NULL)
				break;
		if (i <= F_DETAIL) {
			bad++;
		} else {
			memset(&rec, 0, sizeof(rec));
			rec.seq = l.seq;
			snprintf(rec.time, sizeof(rec.time), "%s", fld[F_TIME]);
			rec.user = fld[F_USER];
			rec.host = fld[F_HOST];
			rec.action = fld[F_ACTION];
			rec.object = fld[F_OBJECT];
			rec.outcome = fld[F_OUTCOME];
			rec.detail = fld[F_DETAIL];
			err = fn(&rec, arg);
		}
		for (i = 0; i < NFIELDS; i++) {
			free(fld[i]);
			fld[i] = NULL;
		}
		if (err)
			goto out;
	}
	if (bad) {
		log_error("%s: %lu damaged lines skipped; run 'bulwark audit "
		    "verify'", a->log, bad);
		err = BW_ERR_CORRUPT;
	}
out:
	free(p);
	return err;
}

struct head {
	int present, valid;
	uint64_t seq;
	uint8_t hash[BWC_ID], sig[BWC_SIG];
};

static int
read_head(struct audit *a, struct head *h)
{
	uint8_t *p = NULL;
	size_t n, i, start, f = 0;
	const uint8_t *fs[4];
	size_t fl[4];
	int err;

	memset(h, 0, sizeof(*h));
	if ((err = fsio_read_all(a->head, 1024, &p, &n)) != 0)
		return err == BW_ERR_NOENT ? 0 : err;
	h->present = 1;
	if (n == 0 || p[n - 1] != '\n')
		goto out;
	for (i = start = 0; i < n && f < 4; i++) {
		if (p[i] == '\t' || p[i] == '\n') {
			fs[f] = p + start;
			fl[f++] = i - start;
			start = i + 1;
		}
	}
	if (f != 4 || start != n || fl[0] != strlen(HEAD_TAG) ||
	    memcmp(fs[0], HEAD_TAG, fl[0]) || parse_u64(fs[1], fl[1], &h->seq) ||
	    parse_hex(fs[2], fl[2], h->hash, BWC_ID) ||
	    parse_hex(fs[3], fl[3], h->sig, BWC_SIG))
		goto out;
	h->valid = 1;
out:
	free(p);
	return 0;
}

#define PROBLEM(...) do { problems++; if (report) { fprintf(report, __VA_ARGS__); fputc('\n', report); } } while (0)

int
audit_verify(struct audit *a, FILE *report, uint64_t *nrecords)
{
	struct head h;
	struct line l;
	struct bufr r;
	uint8_t *p = NULL, want[BWC_ID], sig[BWC_SIG], last_hash[BWC_ID] = {0};
	static const uint8_t zero[BWC_ID];
	const uint8_t *s;
	size_t n, len;
	unsigned long lineno = 0, problems = 0;
	uint64_t nrec = 0, last_seq = 0, last_cp = 0;
	int err, complete, head_rec_ok = 0, head_cp_ok = 0;

	if (nrecords)
		*nrecords = 0;
	if ((err = read_log(a, &p, &n)) != 0 || (err = read_head(a, &h)) != 0)
		goto out;
	bufr_init(&r, p, n);
	while ((s = next_line(&r, &len, &complete)) != NULL) {
		lineno++;
		if (!complete) {
			PROBLEM("line %lu (after record %" PRIu64 "): incomplete "
			    "record at the end of the log (cut, or a crash during "
			    "an append)", lineno, last_seq);
			break;
		}
		if (split_line(s, len, &l) != 0) {
			PROBLEM("line %lu (after record %" PRIu64 "): malformed "
			    "record", lineno, last_seq);
			continue;
		}
		nrec++;
		if (l.seq != last_seq + 1)
			PROBLEM("record %" PRIu64 ": out of order, expected record "
			    "%" PRIu64 " (records removed, reordered or inserted)",
			    l.seq, last_seq + 1);
		else if (memcmp(l.prev, last_hash, BWC_ID))
			PROBLEM("record %" PRIu64 ": chain broken (the record "
			    "before it was removed, reordered or edited)", l.seq);
		chain_hash(want, l.prev, l.text, l.textlen);
		if (memcmp(want, l.hash, BWC_ID))
			PROBLEM("record %" PRIu64 ": edited (chain hash mismatch)",
			    l.seq);
		if (is_checkpoint(&l)) {
			if (parse_hex(l.f[F_DETAIL], l.n[F_DETAIL], sig, BWC_SIG) ||
			    cp_verify(a, l.seq - 1, l.prev, sig))
				PROBLEM("record %" PRIu64 ": checkpoint signature "
				    "invalid (forged, or signed with another key)",
				    l.seq);
			else
				last_cp = l.seq;
			if (h.valid && l.seq == h.seq + 1 &&
			    !memcmp(sig, h.sig, BWC_SIG))
				head_cp_ok = 1;
		}
		if (h.valid && l.seq == h.seq && !memcmp(l.hash, h.hash, BWC_ID))
			head_rec_ok = 1;
		last_seq = l.seq;
		memcpy(last_hash, l.hash, BWC_ID);
	}
	if (last_seq > last_cp)
		PROBLEM("records %" PRIu64 "..%" PRIu64 ": not covered by a "
		    "signed checkpoint (added by something other than bulwark)",
		    last_cp + 1, last_seq);
	if (!h.present) {
		if (nrec > 0)
			PROBLEM("head: missing, so truncation cannot be ruled out");
	} else if (!h.valid) {
		PROBLEM("head: malformed");
	} else if (cp_verify(a, h.seq, h.hash, h.sig) != 0) {
		PROBLEM("head: signature invalid (forged, or signed with another "
		    "key)");
	} else if (h.seq == 0) {
		/* written with the key: the log was empty then */
		if (memcmp(h.hash, zero, BWC_ID))
			PROBLEM("head: malformed");
	} else if (last_seq < h.seq + 1) {
		PROBLEM("log truncated after record %" PRIu64 ": head names "
		    "record %" PRIu64, last_seq, h.seq);
	} else if (!head_rec_ok || !head_cp_ok) {
		PROBLEM("record %" PRIu64 ": differs from the signed head (the "
		    "log was rewritten)", h.seq);
	}
	if (h.valid && h.seq + 1 < last_cp && problems == 0 && report)
		fprintf(report, "note: head names record %" PRIu64 " but the log "
		    "has checkpoints up to record %" PRIu64 " (an append was "
		    "interrupted before head was replaced)\n", h.seq, last_cp);
	if (nrecords)
		*nrecords = nrec;
	err = problems ? BW_ERR_CORRUPT : 0;
out:
	free(p);
	return err;
}
