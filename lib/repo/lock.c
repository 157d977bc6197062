#include "config.h"

#include <errno.h>
#include <pwd.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "lib/crypto/bwcrypto.h"
#include "lib/repo/repo.h"
#include "lib/repo/repo_internal.h"
#include "lib/util/err.h"
#include "lib/util/fsio.h"
#include "lib/util/log.h"

/*
 * Locks (docs/FORMAT.md, "Locks"): locks/<32 hex>, holding
 *   magic "BWLOCK\0\0" | u32 version | u8 exclusive | str host | u32 pid |
 *   str user | i64 created
 * The file's mtime is the heartbeat: a thread rewrites the file (atomically,
 * through fsio) every minute.  Taking a lock: break stale locks, refuse on a
 * conflict, write ours, then look again so that two racing takers cannot both
 * win (the later one backs off).
 */

#define STALE_SECONDS (30 * 60)
#define HEARTBEAT_SECONDS 60

struct repo_lockstate {
	char *path;
	int exclusive;
	uint8_t *bytes;
	size_t len;
	pthread_t th;
	int running;
	int stop;
	pthread_mutex_t mu;
	pthread_cond_t cv;
};

int
repo_parse_lock(const uint8_t *p, size_t n, struct repo_lockinfo *l)
{
	struct bufr r;
	const uint8_t *m;

	memset(l, 0, sizeof(*l));
	bufr_init(&r, p, n);
	m = bufr_get(&r, REPO_MAGIC_LEN);
	if (!m || memcmp(m, REPO_LOCK_MAGIC, REPO_MAGIC_LEN) != 0)
		return BW_ERR_CORRUPT;
	if (bufr_u32(&r) != REPO_FORMAT_VERSION)
		return r.err ? BW_ERR_CORRUPT : BW_ERR_VERSION;
	l->exclusive = bufr_u8(&r) != 0;
	l->host = bufr_strdup(&r, 256);
	l->pid = bufr_u32(&r);
	l->user = bufr_strdup(&r, 256);
	l->created = bufr_i64(&r);
	if (bufr_done(&r)) {
		repo_lockinfo_clear(l);
		return BW_ERR_CORRUPT;
	}
	return 0;
}

void
repo_lockinfo_clear(struct repo_lockinfo *l)
{
	free(l->host);
	free(l->user);
	l->host = l->user = NULL;
}

static void
this_host(char *h, size_t n)
{
	if (gethostname(h, n) != 0)
		snprintf(h, n, "unknown");
	h[n - 1] = 0;
}

static const char *
this_user(void)
{
	struct passwd *pw = getpwuid(getuid());
	const char *u = getenv("USER");

	return pw && pw->pw_name ? pw->pw_name : u ? u : "unknown";
}

/* Breaks stale locks; returns BW_ERR_LOCKED (logged) on a conflict. */
static int
scan(struct repo *r, int exclusive, const char *ours)
{
	char **names = NULL, *dir = NULL, *path = NULL, host[256];
	size_t nn = 0, i, n;
	uint8_t *p = NULL;
	struct repo_lockinfo l;
	struct stat st;
	time_t now = time(NULL);
	int rc, stale, parsed;

	this_host(host, sizeof(host));
	if ((dir = repo_join(r->path, "locks")) == NULL)
		return BW_ERR_NOMEM;
	if ((rc = repo_list_hex(dir, 32, &names, &nn)) != 0) {
		if (rc == BW_ERR_NOENT)
			log_error("repository %s: the locks directory is missing; run 'bulwark check'",
			    r->path);
		goto out;
	}
	for (i = 0; i < nn; i++) {
		if (ours && strcmp(names[i], ours) == 0)
			continue;
		free(path);
		free(p);
		p = NULL;
		if ((path = repo_join(dir, names[i])) == NULL) {
			rc = BW_ERR_NOMEM;
			goto out;
		}
		if (stat(path, &st) != 0 || fsio_read_all(path, 4096, &p, &n) != 0)
			continue;	/* released meanwhile */
		parsed = repo_parse_lock(p, n, &l) == 0;
		stale = now - st.st_mtime > STALE_SECONDS;
		if (parsed && strcmp(l.host, host) == 0 && l.pid > 0 &&
		    kill((pid_t)l.pid, 0) != 0 && errno == ESRCH)
			stale = 1;
		if (stale) {
			log_warn("repository %s: breaking stale lock %s (%s, host %s, pid %u, last "
			    "heartbeat %lld s ago)", r->path, names[i],
			    parsed ? (l.exclusive ? "exclusive" : "shared") : "unreadable",
			    parsed ? l.host : "?", parsed ? l.pid : 0, (long long)(now - st.st_mtime));
			if (parsed)
				repo_lockinfo_clear(&l);
			if ((rc = fsio_unlink(path)) != 0 && rc != BW_ERR_NOENT)
				goto out;
			continue;
		}
		if (exclusive || !parsed || l.exclusive) {
			log_error("repository %s: locked by %s (%s lock, user %s, host %s, pid %u, "
			    "taken %lld s ago); wait for it to finish, or remove %s if that process "
			    "is certainly gone", r->path, names[i],
			    parsed ? (l.exclusive ? "exclusive" : "shared") : "unreadable",
			    parsed ? l.user : "?", parsed ? l.host : "?", parsed ? l.pid : 0,
			    parsed ? (long long)(now - l.created) : 0LL, path);
			if (parsed)
				repo_lockinfo_clear(&l);
			rc = BW_ERR_LOCKED;
			goto out;
		}
		repo_lockinfo_clear(&l);
	}
	rc = 0;
out:
	repo_list_free(names, nn);
	free(dir);
	free(path);
	free(p);
	return rc;
}

static void *
heartbeat(void *arg)
{
	struct repo_lockstate *ls = arg;
	struct timespec ts;

	pthread_mutex_lock(&ls->mu);
	while (!ls->stop) {
		clock_gettime(CLOCK_REALTIME, &ts);
		ts.tv_sec += HEARTBEAT_SECONDS;
		if (pthread_cond_timedwait(&ls->cv, &ls->mu, &ts) == ETIMEDOUT && !ls->stop)
			(void)fsio_write_atomic(ls->path, ls->bytes, ls->len, 0600);
	}
	pthread_mutex_unlock(&ls->mu);
	return NULL;
}

int
repo_lock_held(const struct repo *r, int exclusive)
{
	return r->lock && (r->lock->exclusive || !exclusive);
}

int
repo_lock(struct repo *r, int exclusive)
{
	struct repo_lockstate *ls = NULL;
	struct buf b = { 0 };
	uint8_t rnd[16];
	char hex[33], rel[64], host[256];
	int rc;

	if (r->lock) {
		if (repo_lock_held(r, exclusive))
			return 0;
		log_error("repository %s: this process holds a shared lock; release it before "
		    "taking an exclusive one", r->path);
		return BW_ERR_INVAL;
	}
	if ((rc = scan(r, exclusive, NULL)) != 0)
		return rc;
	this_host(host, sizeof(host));
	buf_put(&b, REPO_LOCK_MAGIC, REPO_MAGIC_LEN);
	buf_put_u32(&b, REPO_FORMAT_VERSION);
	buf_put_u8(&b, exclusive ? 1 : 0);
	buf_put_cstr(&b, host);
	buf_put_u32(&b, (uint32_t)getpid());
	buf_put_cstr(&b, this_user());
	buf_put_i64(&b, (int64_t)time(NULL));
	if ((rc = b.err) != 0)
		goto fail;
	if ((ls = calloc(1, sizeof(*ls))) == NULL) {
		rc = BW_ERR_NOMEM;
		goto fail;
	}
	pthread_mutex_init(&ls->mu, NULL);
	pthread_cond_init(&ls->cv, NULL);
	ls->exclusive = exclusive;
	bwcrypto_random(rnd, sizeof(rnd));
	hex_encode(hex, rnd, sizeof(rnd));
	snprintf(rel, sizeof(rel), "locks/%s", hex);
	if ((ls->path = repo_join(r->path, rel)) == NULL) {
		rc = BW_ERR_NOMEM;
		goto fail;
	}
	if ((rc = fsio_write_atomic(ls->path, b.data, b.len, 0600)) != 0)
		goto fail;
	if ((rc = scan(r, exclusive, hex)) != 0) {
		fsio_unlink(ls->path);
		goto fail;
	}
	ls->bytes = buf_steal(&b, &ls->len);
	if (pthread_create(&ls->th, NULL, heartbeat, ls) == 0)
		ls->running = 1;
	else
		log_warn("repository %s: cannot start the lock heartbeat; the lock may be broken "
		    "by others after 30 minutes", r->path);
	r->lock = ls;
	return 0;
fail:
	if (ls) {
		pthread_mutex_destroy(&ls->mu);
		pthread_cond_destroy(&ls->cv);
		free(ls->path);
		free(ls);
	}
	buf_free(&b);
	return rc;
}

void
repo_unlock(struct repo *r)
{
	struct repo_lockstate *ls = r->lock;
	char *dir;

	if (!ls)
		return;
	r->lock = NULL;
	if (ls->running) {
		pthread_mutex_lock(&ls->mu);
		ls->stop = 1;
		pthread_cond_signal(&ls->cv);
		pthread_mutex_unlock(&ls->mu);
		pthread_join(ls->th, NULL);
	}
	if (fsio_unlink(ls->path) == 0 && (dir = repo_join(r->path, "locks")) != NULL) {
		fsio_sync_dir(dir);
		free(dir);
	}
	pthread_mutex_destroy(&ls->mu);
	pthread_cond_destroy(&ls->cv);
	free(ls->path);
	free(ls->bytes);
	free(ls);
}

void repo_lock_release(struct repo *r) { repo_unlock(r); }
