/*
 * Health probes.  Each check of a site is a struct probe with its own
 * timer: idle -> running (a socket being connected, written, read; or a
 * command) -> ended (result counted, next run scheduled) -> idle.  A
 * probe's deadline timer ends a run that takes too long.  Sockets are
 * non-blocking and driven by the loop; nothing here waits.
 */
#include "config.h"

#include <sys/socket.h>
#include <sys/wait.h>
#include <arpa/inet.h>
#include <netinet/in.h>
#include <errno.h>
#include <poll.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "failover/health.h"
#include "failover/loop.h"
#include "lib/util/buf.h"
#include "lib/util/err.h"
#include "lib/util/log.h"

#define HEALTH_REASON_MAX 256
#define HEALTH_PATH_MAX 1024

struct probe {
	struct health *h;
	const struct config_check *ck;
	char name[300];		/* "http://10.0.0.1/", "tcp 10.0.0.1:80", "command 'x'" */
	struct sockaddr_storage sa;
	socklen_t salen;
	struct buf req;		/* the HTTP request, built once */
	size_t sent;
	struct buf resp;
	int fd;
	int connected;
	pid_t pid;
	struct loop_timer *next, *deadline;
	unsigned ok_run, fail_run;
	enum health_state state;
	char last[HEALTH_REASON_MAX];
};

struct health {
	struct loop *l;
	const struct config_site *site;
	struct probe *probes;
	size_t nprobes;
	enum health_state state;
	char last[HEALTH_REASON_MAX];
	health_change_fn *fn;
	void *arg;
};

/* ---- parsing ---- */

/* The next line up to CRLF, without it; NULL if there is no complete
 * line (or a bare LF or a NUL in it), the reader failed. */
static const uint8_t *
next_line(struct bufr *r, size_t *len)
{
	const uint8_t *start = r->p + r->off, *lf;
	size_t left = bufr_left(r);

	if (r->err)
		return NULL;
	lf = memchr(start, '\n', left);
	if (lf == NULL || lf == start || lf[-1] != '\r' ||
	    memchr(start, 0, (size_t)(lf - start)) != NULL) {
		bufr_fail(r);
		return NULL;
	}
	*len = (size_t)(lf - start) - 1;
	return bufr_get(r, *len + 2);
}

static int
is_tchar(uint8_t c)
{
	return (c >= '0' && c <= '9') || (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
	    (c != 0 && strchr("!#$%&'*+-.^_`|~", c) != NULL);
}

int
health_http_parse(const uint8_t *p, size_t n, unsigned *status, const uint8_t **body,
    size_t *bodylen)
{
	struct bufr r;
	const uint8_t *line;
	size_t len, i;
	unsigned st = 0;

	bufr_init(&r, p, n);
	line = next_line(&r, &len);
	/* "HTTP/1.D DDD" then nothing, or a space and a reason phrase. */
	if (line == NULL || len < 12 || memcmp(line, "HTTP/1.", 7) != 0 ||
	    line[7] < '0' || line[7] > '9' || line[8] != ' ' || (len > 12 && line[12] != ' '))
		return BW_ERR_CORRUPT;
	for (i = 9; i < 12; i++) {
		if (line[i] < '0' || line[i] > '9')
			return BW_ERR_CORRUPT;
		st = st * 10 + (unsigned)(line[i] - '0');
	}
	if (st < 100 || st > 599)
		return BW_ERR_CORRUPT;
	for (i = 13; i < len; i++)
		if ((line[i] < 0x20 && line[i] != '\t') || line[i] == 0x7f)
			return BW_ERR_CORRUPT;
	*status = st;
	*body = p + n;
	*bodylen = 0;
	for (;;) {
		const uint8_t *lf;

		/* A response cut at the size bound before the headers end
		 * still has its status. */
		lf = memchr(r.p + r.off, '\n', bufr_left(&r));
		if (lf == NULL)
			return 0;
		if ((line = next_line(&r, &len)) == NULL)
			return BW_ERR_CORRUPT;
		if (len == 0)
			break;
		for (i = 0; i < len && is_tchar(line[i]); i++)
			;
		if (i == 0 || i == len || line[i] != ':')
			return BW_ERR_CORRUPT;
		for (i++; i < len; i++)
			if ((line[i] < 0x20 && line[i] != '\t') || line[i] == 0x7f)
				return BW_ERR_CORRUPT;
	}
	*body = r.p + r.off;
	*bodylen = bufr_left(&r);
	return 0;
}

int
health_url_parse(const char *url, struct sockaddr *sa, unsigned *salen, char *path,
    size_t pathmax)
{
	char host[64];
	const char *p, *end;
	unsigned long port = 80;
	size_t n;

	if (strncmp(url, "http://", 7) != 0)
		return BW_ERR_INVAL;
	p = url + 7;
	if (*p == '[') {
		if ((end = strchr(p, ']')) == NULL)
			return BW_ERR_INVAL;
		n = (size_t)(end - p - 1);
		p++;
		end++;
	} else {
		end = p + strcspn(p, ":/");
		n = (size_t)(end - p);
	}
	if (n == 0 || n >= sizeof(host))
		return BW_ERR_INVAL;
	memcpy(host, p, n);
	host[n] = 0;
	if (*end == ':') {
		char *e;

		if (end[1] < '0' || end[1] > '9')
			return BW_ERR_INVAL;
		port = strtoul(end + 1, &e, 10);
		if (port == 0 || port > 65535 || (*e != '/' && *e != 0))
			return BW_ERR_INVAL;
		end = e;
	}
	if (*end != '/' && *end != 0)
		return BW_ERR_INVAL;
	/* The path goes into the request line: no spaces or controls. */
	for (p = end; *p; p++)
		if ((unsigned char)*p <= 0x20 || *p == 0x7f)
			return BW_ERR_INVAL;
	if (strlen(*end ? end : "/") >= pathmax)
		return BW_ERR_INVAL;
	strcpy(path, *end ? end : "/");
	if (strchr(host, ':')) {
		struct sockaddr_in6 s6;

		memset(&s6, 0, sizeof(s6));
		s6.sin6_family = AF_INET6;
		s6.sin6_port = htons((uint16_t)port);
		if (inet_pton(AF_INET6, host, &s6.sin6_addr) != 1 || *salen < sizeof(s6))
			return BW_ERR_INVAL;
		memcpy(sa, &s6, sizeof(s6));
		*salen = sizeof(s6);
	} else {
		struct sockaddr_in s4;

		memset(&s4, 0, sizeof(s4));
		s4.sin_family = AF_INET;
		s4.sin_port = htons((uint16_t)port);
		if (inet_pton(AF_INET, host, &s4.sin_addr) != 1 || *salen < sizeof(s4))
			return BW_ERR_INVAL;
		memcpy(sa, &s4, sizeof(s4));
		*salen = sizeof(s4);
	}
	return 0;
}

/* ---- results ---- */

static void probe_start(struct loop *l, void *arg);

static const char *
state_name(enum health_state s)
{
	return s == HEALTH_UP ? "healthy" : s == HEALTH_DOWN ? "unhealthy" : "unknown";
}

static void
probe_stop_io(struct probe *p)
{
	struct loop *l = p->h->l;

	if (p->fd >= 0) {
		loop_fd_del(l, p->fd);
		close(p->fd);
		p->fd = -1;
	}
	loop_timer_cancel(l, p->deadline);
	p->deadline = NULL;
	buf_reset(&p->resp);
	p->sent = 0;
	p->connected = 0;
}

/* Counts one result and tells the owner if the site's state changed.
 * Last thing a handler does: the owner may free h from its callback. */
static void
probe_end(struct probe *p, int ok, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));

static void
probe_end(struct probe *p, int ok, const char *fmt, ...)
{
	struct health *h = p->h;
	const struct config_site *site = h->site;
	unsigned rise = site->rise ? site->rise : 2, fall = site->fall ? site->fall : 3;
	unsigned interval = site->check_interval_ms ? site->check_interval_ms : 1000;
	enum health_state was = h->state, now;
	size_t i, n;
	va_list ap;

	probe_stop_io(p);
	n = (size_t)snprintf(p->last, sizeof(p->last), "%s: ", p->name);
	if (n >= sizeof(p->last))
		n = sizeof(p->last) - 1;
	va_start(ap, fmt);
	vsnprintf(p->last + n, sizeof(p->last) - n, fmt, ap);
	va_end(ap);
	log_debug("site %s: check %s", site->name, p->last);
	if (ok) {
		p->fail_run = 0;
		if (++p->ok_run >= rise)
			p->state = HEALTH_UP;
	} else {
		p->ok_run = 0;
		if (++p->fail_run >= fall)
			p->state = HEALTH_DOWN;
	}
	p->next = loop_timer_add(h->l, interval, probe_start, p);
	if (p->next == NULL)
		log_error("site %s: check %s: out of memory; the check stops", site->name,
		    p->name);

	now = HEALTH_UP;
	for (i = 0; i < h->nprobes; i++) {
		if (h->probes[i].state == HEALTH_DOWN) {
			now = HEALTH_DOWN;
			break;
		}
		if (h->probes[i].state == HEALTH_UNKNOWN)
			now = HEALTH_UNKNOWN;
	}
	snprintf(h->last, sizeof(h->last), "%s", p->last);
	if (now == was)
		return;
	h->state = now;
	if (now == HEALTH_DOWN)
		log_warn("site %s: unhealthy: %s", site->name, p->last);
	else
		log_info("site %s: %s: %s", site->name, state_name(now), p->last);
	h->fn(h, now, p->last, h->arg);
}

static void
probe_timeout(struct loop *l, void *arg)
{
	struct probe *p = arg;
	const struct config_site *site = p->h->site;

	p->deadline = NULL;
	probe_end(p, 0, "timeout after %u ms",
	    site->check_timeout_ms ? site->check_timeout_ms : 2000);
}

static void
http_judge(struct probe *p)
{
	const struct config_check *ck = p->ck;
	unsigned want = ck->expect_status ? ck->expect_status : 200, status;
	const uint8_t *body;
	size_t blen, slen;

	if (p->resp.len == 0) {
		probe_end(p, 0, "connection closed without a response");
		return;
	}
	if (health_http_parse(p->resp.data, p->resp.len, &status, &body, &blen) != 0) {
		probe_end(p, 0, "malformed response");
		return;
	}
	if (status != want) {
		probe_end(p, 0, "status %u", status);
		return;
	}
	if (ck->expect_body && *ck->expect_body) {
		slen = strlen(ck->expect_body);
		if (blen < slen || memmem(body, blen, ck->expect_body, slen) == NULL) {
			probe_end(p, 0, "status %u, but the body lacks \"%s\"", status,
			    ck->expect_body);
			return;
		}
	}
	probe_end(p, 1, "status %u", status);
}

static void
sock_ready(struct loop *l, int fd, short revents, void *arg)
{
	struct probe *p = arg;
	int soerr = 0;
	socklen_t sl = sizeof(soerr);
	ssize_t n;

	if (!p->connected) {
		if (getsockopt(fd, SOL_SOCKET, SO_ERROR, &soerr, &sl) < 0)
			soerr = errno;
		if (soerr == 0 && !(revents & (POLLOUT | POLLERR | POLLHUP)))
			return;
		if (soerr) {
			probe_end(p, 0, "%s", soerr == ECONNREFUSED ? "connection refused" :
			    strerror(soerr));
			return;
		}
		if (p->ck->kind == CONFIG_CHECK_TCP) {
			probe_end(p, 1, "connected");
			return;
		}
		p->connected = 1;
	}
	if (p->sent < p->req.len) {
		n = send(fd, p->req.data + p->sent, p->req.len - p->sent, MSG_NOSIGNAL);
		if (n < 0 && (errno == EAGAIN || errno == EINTR))
			return;
		if (n < 0) {
			probe_end(p, 0, "sending the request: %s", strerror(errno));
			return;
		}
		p->sent += (size_t)n;
		if (p->sent == p->req.len)
			loop_fd_events(l, fd, POLLIN);
		return;
	}
	for (;;) {
		uint8_t *dst;
		size_t room = HEALTH_HTTP_MAX - p->resp.len;

		if (room == 0) {
			http_judge(p);	/* enough to judge: the rest is not read */
			return;
		}
		if (room > 16384)
			room = 16384;
		if ((dst = buf_extend(&p->resp, room)) == NULL) {
			probe_end(p, 0, "out of memory");
			return;
		}
		n = recv(fd, dst, room, 0);
		p->resp.len -= room - (n > 0 ? (size_t)n : 0);
		if (n < 0 && (errno == EAGAIN || errno == EINTR))
			return;
		if (n < 0 && p->resp.len == 0) {
			probe_end(p, 0, "%s", strerror(errno));
			return;
		}
		if (n <= 0) {
			http_judge(p);
			return;
		}
	}
}

static void
cmd_done(struct loop *l, pid_t pid, int status, int timed_out, void *arg)
{
	struct probe *p = arg;
	const struct config_site *site = p->h->site;

	p->pid = 0;
	if (timed_out)
		probe_end(p, 0, "timeout after %u ms",
		    site->check_timeout_ms ? site->check_timeout_ms : 2000);
	else if (WIFSIGNALED(status))
		probe_end(p, 0, "killed by signal %d", WTERMSIG(status));
	else if (WEXITSTATUS(status) != 0)
		probe_end(p, 0, "exit status %d", WEXITSTATUS(status));
	else
		probe_end(p, 1, "exit status 0");
}

static void
probe_start(struct loop *l, void *arg)
{
	struct probe *p = arg;
	const struct config_site *site = p->h->site;
	unsigned timeout = site->check_timeout_ms ? site->check_timeout_ms : 2000;
	char tag[320];
	int fd;

	p->next = NULL;
	if (p->ck->kind == CONFIG_CHECK_COMMAND) {
		snprintf(tag, sizeof(tag), "site %s: check", site->name);
		if (loop_spawn(l, p->ck->command, NULL, tag, timeout, cmd_done, p, &p->pid) != 0)
			probe_end(p, 0, "could not be started");
		return;
	}
	fd = socket(p->sa.ss_family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	if (fd < 0) {
		probe_end(p, 0, "socket: %s", strerror(errno));
		return;
	}
	if (connect(fd, (struct sockaddr *)&p->sa, p->salen) < 0 && errno != EINPROGRESS) {
		int e = errno;

		close(fd);
		probe_end(p, 0, "%s", e == ECONNREFUSED ? "connection refused" : strerror(e));
		return;
	}
	if (loop_fd_add(l, fd, POLLOUT, sock_ready, p) != 0) {
		close(fd);
		probe_end(p, 0, "out of memory");
		return;
	}
	p->fd = fd;
	if ((p->deadline = loop_timer_add(l, timeout, probe_timeout, p)) == NULL)
		probe_end(p, 0, "out of memory");
}

static void put(struct buf *b, const char *s) { buf_put(b, s, strlen(s)); }

static int
probe_init(struct health *h, struct probe *p, const struct config_check *ck)
{
	const struct config_site *site = h->site;
	char path[HEALTH_PATH_MAX], host[128];
	unsigned salen = sizeof(p->sa);
	const char *hs, *he;

	p->h = h;
	p->ck = ck;
	p->fd = -1;
	p->state = HEALTH_UNKNOWN;
	switch (ck->kind) {
	case CONFIG_CHECK_HTTP:
		if (ck->url == NULL ||
		    health_url_parse(ck->url, (struct sockaddr *)&p->sa, &salen, path,
		    sizeof(path)) != 0) {
			log_error("site %s: check url '%s': not http://ADDRESS[:PORT]/PATH with "
			    "an address literal", site->name, ck->url ? ck->url : "");
			return BW_ERR_INVAL;
		}
		p->salen = salen;
		snprintf(p->name, sizeof(p->name), "%s", ck->url);
		/* Host: the URL's authority as written. */
		hs = ck->url + 7;
		he = hs + strcspn(hs, "/");
		snprintf(host, sizeof(host), "%.*s", (int)(he - hs), hs);
		put(&p->req, "GET ");
		put(&p->req, path);
		put(&p->req, " HTTP/1.1\r\nHost: ");
		put(&p->req, host);
		put(&p->req, "\r\nUser-Agent: bulwark-failoverd\r\nConnection: close\r\n\r\n");
		if (p->req.err)
			return p->req.err;
		return 0;
	case CONFIG_CHECK_TCP: {
		struct sockaddr_in *s4 = (struct sockaddr_in *)&p->sa;
		struct sockaddr_in6 *s6 = (struct sockaddr_in6 *)&p->sa;

		if (ck->host && inet_pton(AF_INET, ck->host, &s4->sin_addr) == 1) {
			s4->sin_family = AF_INET;
			s4->sin_port = htons(ck->port);
			p->salen = sizeof(*s4);
			snprintf(p->name, sizeof(p->name), "tcp %s:%u", ck->host, ck->port);
		} else if (ck->host && inet_pton(AF_INET6, ck->host, &s6->sin6_addr) == 1) {
			s6->sin6_family = AF_INET6;
			s6->sin6_port = htons(ck->port);
			p->salen = sizeof(*s6);
			snprintf(p->name, sizeof(p->name), "tcp [%s]:%u", ck->host, ck->port);
		} else {
			log_error("site %s: tcp check host '%s': not an address literal",
			    site->name, ck->host ? ck->host : "");
			return BW_ERR_INVAL;
		}
		if (ck->port == 0) {
			log_error("site %s: check %s: no port", site->name, p->name);
			return BW_ERR_INVAL;
		}
		return 0;
	}
	case CONFIG_CHECK_COMMAND:
		if (ck->command == NULL) {
			log_error("site %s: command check without a command", site->name);
			return BW_ERR_INVAL;
		}
		snprintf(p->name, sizeof(p->name), "command '%s'", ck->command);
		return 0;
	}
	log_error("site %s: check of unknown kind %d", site->name, (int)ck->kind);
	return BW_ERR_INVAL;
}

struct health *
health_new(struct loop *l, const struct config_site *site, health_change_fn *fn, void *arg)
{
	struct health *h;
	size_t i;

	if ((h = calloc(1, sizeof(*h))) == NULL ||
	    (site->nchecks && (h->probes = calloc(site->nchecks, sizeof(*h->probes))) == NULL)) {
		log_error("site %s: health checks: out of memory", site->name);
		free(h);
		return NULL;
	}
	h->l = l;
	h->site = site;
	h->fn = fn;
	h->arg = arg;
	h->state = site->nchecks ? HEALTH_UNKNOWN : HEALTH_UP;
	snprintf(h->last, sizeof(h->last), "%s", site->nchecks ? "not checked yet" : "no checks");
	for (i = 0; i < site->nchecks; i++) {
		h->nprobes = i + 1;
		if (probe_init(h, &h->probes[i], &site->checks[i]) != 0)
			goto fail;
	}
	for (i = 0; i < h->nprobes; i++)
		if ((h->probes[i].next = loop_timer_add(l, 0, probe_start, &h->probes[i])) == NULL)
			goto fail;
	return h;
fail:
	health_free(h);
	return NULL;
}

void
health_free(struct health *h)
{
	size_t i;

	if (h == NULL)
		return;
	for (i = 0; i < h->nprobes; i++) {
		struct probe *p = &h->probes[i];

		probe_stop_io(p);
		loop_timer_cancel(h->l, p->next);
		if (p->pid > 0)
			loop_forget(h->l, p->pid);
		buf_free(&p->req);
		buf_free(&p->resp);
	}
	free(h->probes);
	free(h);
}

enum health_state health_state(const struct health *h) { return h->state; }
const char *health_last(const struct health *h) { return h->last; }
