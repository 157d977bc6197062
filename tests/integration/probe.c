#include "config.h"

/*
 * The failover tests' client: what a user of the public site sees.
 *
 *   probe run HOST PORT LOG [INTERVAL_MS [TIMEOUT_MS]]
 *	starts "GET /" every INTERVAL_MS (default 20) without waiting for the
 *	earlier ones, each bounded by TIMEOUT_MS (default 200), until SIGTERM
 *	or SIGINT; appends one line per request to LOG:
 *	    START_MS END_MS RESULT
 *	times on CLOCK_MONOTONIC in ms; RESULT is the node named by the page
 *	("node:NAME" in a 200 answer) or ERR:<why>.
 *   probe get HOST PORT [TIMEOUT_MS]
 *	one request; prints RESULT; exit 0 when a node answered, 1 if not.
 *   probe now
 *	prints CLOCK_MONOTONIC in ms, to mark a fault on the log's clock.
 *   probe summary LOG FAULT_MS
 *	prints key=value pairs: outage_ms (longest gap between correct answers
 *	across the fault; -1 if none came after it), rto_ms (fault to the
 *	first answer by another node than the one before; -1 if none),
 *	before, after (the last node to answer), sequence (answering nodes in
 *	order, repeats folded), split (how often a node answered again after
 *	another one had: A..A B..B A is one), probes, errors, tail_errors
 *	(failures after the last answer).
 *
 * Requests run concurrently so the log's resolution is the interval, not
 * the timeout: a dead address costs a timeout per request, not a stall.
 */

#include <errno.h>
#include <fcntl.h>
#include <netdb.h>
#include <poll.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#define PROBE_MAX_INFLIGHT	64
#define PROBE_RESP_MAX		2048
#define PROBE_NAME_MAX		32

struct req {
	int fd;
	int sent;
	int64_t start, deadline;
	size_t len;
	char resp[PROBE_RESP_MAX];
};

static volatile sig_atomic_t stop_flag;

static void
on_stop(int sig)
{
	(void)sig;
	stop_flag = 1;
}

static int64_t
now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static int
resolve(const char *host, const char *port, struct sockaddr_storage *ss, socklen_t *sslen)
{
	struct addrinfo hints, *ai = NULL;
	int rc;

	memset(&hints, 0, sizeof(hints));
	hints.ai_flags = AI_NUMERICHOST | AI_NUMERICSERV;
	hints.ai_socktype = SOCK_STREAM;
	rc = getaddrinfo(host, port, &hints, &ai);
	if (rc != 0) {
		fprintf(stderr, "probe: %s port %s: %s (give an address, not a name)\n",
		    host, port, gai_strerror(rc));
		return -1;
	}
	memcpy(ss, ai->ai_addr, ai->ai_addrlen);
	*sslen = ai->ai_addrlen;
	freeaddrinfo(ai);
	return 0;
}

/* Starts a request; on a failure that is immediate, fills result. */
static int
req_start(struct req *r, const struct sockaddr_storage *ss, socklen_t sslen,
    int timeout_ms, char *result, size_t rsize)
{
	r->start = now_ms();
	r->deadline = r->start + timeout_ms;
	r->sent = 0;
	r->len = 0;
	r->fd = socket(ss->ss_family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	if (r->fd < 0) {
		snprintf(result, rsize, "ERR:socket");
		return -1;
	}
	if (connect(r->fd, (const struct sockaddr *)ss, sslen) < 0 && errno != EINPROGRESS) {
		snprintf(result, rsize, "ERR:%s", errno == ECONNREFUSED ? "refused" :
		    errno == ENETUNREACH || errno == EHOSTUNREACH ? "unreachable" : "connect");
		close(r->fd);
		r->fd = -1;
		return -1;
	}
	return 0;
}

/* What the answer says: the node name, or why not. */
static void
req_result(const struct req *r, char *result, size_t rsize)
{
	const char *body, *mark;
	size_t i;
	int status;

	if (r->len < 12 || sscanf(r->resp, "HTTP/1.%*d %d", &status) != 1) {
		snprintf(result, rsize, "ERR:badreply");
		return;
	}
	if (status != 200) {
		snprintf(result, rsize, "ERR:status%d", status);
		return;
	}
	body = strstr(r->resp, "\r\n\r\n");
	mark = body ? strstr(body, "node:") : NULL;
	if (!mark) {
		snprintf(result, rsize, "ERR:nomarker");
		return;
	}
	mark += 5;
	for (i = 0; i + 1 < rsize && i < PROBE_NAME_MAX; i++) {
		char c = mark[i];

		if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
		    (c >= '0' && c <= '9') || c == '-' || c == '_' || c == '.'))
			break;
		result[i] = c;
	}
	result[i] = '\0';
	if (i == 0)
		snprintf(result, rsize, "ERR:nomarker");
}

/* Advances r on readiness; returns 1 when done (result filled), else 0. */
static int
req_step(struct req *r, short revents, const char *host, char *result, size_t rsize)
{
	char out[256];
	ssize_t n;
	int err = 0;
	socklen_t elen = sizeof(err);

	if (!r->sent) {
		if (getsockopt(r->fd, SOL_SOCKET, SO_ERROR, &err, &elen) < 0)
			err = errno;
		if (err) {
			snprintf(result, rsize, "ERR:%s", err == ECONNREFUSED ? "refused" :
			    err == ENETUNREACH || err == EHOSTUNREACH ? "unreachable" : "connect");
			return 1;
		}
		if (!(revents & POLLOUT))
			return 0;
		n = snprintf(out, sizeof(out), "GET / HTTP/1.0\r\nHost: %s\r\n"
		    "User-Agent: bulwark-probe\r\nConnection: close\r\n\r\n", host);
		if (send(r->fd, out, (size_t)n, MSG_NOSIGNAL) != n) {
			snprintf(result, rsize, "ERR:send");
			return 1;
		}
		r->sent = 1;
		return 0;
	}
	n = recv(r->fd, r->resp + r->len, sizeof(r->resp) - 1 - r->len, 0);
	if (n < 0) {
		if (errno == EAGAIN || errno == EINTR)
			return 0;
		snprintf(result, rsize, "ERR:%s", errno == ECONNRESET ? "reset" : "recv");
		return 1;
	}
	r->len += (size_t)n;
	r->resp[r->len] = '\0';
	if (n == 0 || r->len == sizeof(r->resp) - 1) {
		req_result(r, result, rsize);
		return 1;
	}
	return 0;
}

static void
req_end(struct req *r)
{
	if (r->fd >= 0)
		close(r->fd);
	r->fd = -1;
}

static int
cmd_run(const char *host, const char *port, const char *logpath, int interval, int timeout,
    int once)
{
	struct sockaddr_storage ss;
	socklen_t sslen;
	struct req *reqs = NULL;
	struct pollfd pfd[PROBE_MAX_INFLIGHT];
	int map[PROBE_MAX_INFLIGHT];
	struct sigaction sa;
	char result[64];
	FILE *log = NULL;
	int64_t next, now;
	int i, n, rc = 1, done_once = 0, once_ok = 0;

	if (resolve(host, port, &ss, &sslen) < 0)
		goto out;
	reqs = calloc(PROBE_MAX_INFLIGHT, sizeof(*reqs));
	if (!reqs)
		goto out;
	for (i = 0; i < PROBE_MAX_INFLIGHT; i++)
		reqs[i].fd = -1;
	if (!once) {
		log = fopen(logpath, "a");
		if (!log) {
			fprintf(stderr, "probe: %s: %s\n", logpath, strerror(errno));
			goto out;
		}
		setvbuf(log, NULL, _IOLBF, 0);
	}
	memset(&sa, 0, sizeof(sa));
	sa.sa_handler = on_stop;	/* no SA_RESTART: poll returns on a signal */
	sigaction(SIGTERM, &sa, NULL);
	sigaction(SIGINT, &sa, NULL);
	signal(SIGPIPE, SIG_IGN);

	next = now_ms();
	while (!stop_flag && !(once && done_once)) {
		now = now_ms();
		if (now >= next && !(once && next < 0)) {
			for (i = 0; i < PROBE_MAX_INFLIGHT && reqs[i].fd >= 0; i++)
				;
			if (i < PROBE_MAX_INFLIGHT &&
			    req_start(&reqs[i], &ss, sslen, timeout, result, sizeof(result)) < 0) {
				if (once) {
					printf("%s\n", result);
					done_once = 1;
					break;
				}
				fprintf(log, "%lld %lld %s\n", (long long)reqs[i].start,
				    (long long)now_ms(), result);
			}
			next = once ? -1 : next + interval;
			if (!once && next < now)	/* late (a stall): no burst */
				next = now + interval;
		}
		n = 0;
		for (i = 0; i < PROBE_MAX_INFLIGHT; i++) {
			if (reqs[i].fd < 0)
				continue;
			pfd[n].fd = reqs[i].fd;
			pfd[n].events = reqs[i].sent ? POLLIN : POLLOUT;
			pfd[n].revents = 0;
			map[n++] = i;
		}
		now = now_ms();
		{
			int64_t wait = once ? timeout : next - now;

			for (i = 0; i < n; i++)
				if (reqs[map[i]].deadline - now < wait)
					wait = reqs[map[i]].deadline - now;
			if (wait < 0)
				wait = 0;
			if (poll(pfd, (nfds_t)n, (int)wait) < 0 && errno != EINTR)
				goto out;
		}
		now = now_ms();
		for (i = 0; i < n; i++) {
			struct req *r = &reqs[map[i]];
			int done = 0;

			if (pfd[i].revents)
				done = req_step(r, pfd[i].revents, host, result, sizeof(result));
			if (!done && now >= r->deadline) {
				snprintf(result, sizeof(result), "ERR:timeout");
				done = 1;
			}
			if (!done)
				continue;
			if (once) {
				printf("%s\n", result);
				once_ok = strncmp(result, "ERR:", 4) != 0;
				done_once = 1;
			} else {
				fprintf(log, "%lld %lld %s\n", (long long)r->start,
				    (long long)now, result);
			}
			req_end(r);
		}
	}
	rc = once ? !once_ok : 0;
out:
	if (reqs)
		for (i = 0; i < PROBE_MAX_INFLIGHT; i++)
			req_end(&reqs[i]);
	free(reqs);
	if (log)
		fclose(log);
	return rc;
}

struct ent {
	int64_t start;
	char res[64];
};

static int
ent_cmp(const void *a, const void *b)
{
	const struct ent *x = a, *y = b;

	return (x->start > y->start) - (x->start < y->start);
}

static int
cmd_summary(const char *logpath, int64_t fault)
{
	struct ent *e = NULL, *t;
	size_t n = 0, cap = 0, i;
	char line[256], seq[1024] = "", before[64] = "-", last[64] = "-";
	char seen[32][64];
	size_t nseen = 0;
	long long s, f;
	int64_t prev = -1, gap, outage = -1, rto = -1;
	unsigned errors = 0, tail = 0, split = 0;
	FILE *fp;
	int rc = 1;

	fp = fopen(logpath, "r");
	if (!fp) {
		fprintf(stderr, "probe: %s: %s\n", logpath, strerror(errno));
		return 1;
	}
	while (fgets(line, sizeof(line), fp)) {
		if (n == cap) {
			cap = cap ? cap * 2 : 1024;
			t = realloc(e, cap * sizeof(*e));
			if (!t)
				goto out;
			e = t;
		}
		if (sscanf(line, "%lld %lld %63s", &s, &f, e[n].res) != 3)
			continue;
		e[n++].start = s;
	}
	if (n)
		qsort(e, n, sizeof(*e), ent_cmp);
	for (i = 0; i < n; i++) {
		if (strncmp(e[i].res, "ERR:", 4) == 0) {
			errors++;
			tail++;
			continue;
		}
		tail = 0;
		if (e[i].start < fault) {
			snprintf(before, sizeof(before), "%s", e[i].res);
			prev = e[i].start;
		} else {
			if (prev < 0)
				prev = fault;
			gap = e[i].start - prev;
			if (gap > outage)
				outage = gap;
			prev = e[i].start;
			if (rto < 0 && strcmp(e[i].res, before) != 0)
				rto = e[i].start - fault;
		}
		if (strcmp(e[i].res, last) != 0) {
			size_t k;

			/* a node answering again after another one did */
			for (k = 0; k < nseen; k++)
				if (strcmp(seen[k], e[i].res) == 0)
					break;
			if (k < nseen)
				split++;
			else if (nseen < 32)
				snprintf(seen[nseen++], sizeof(seen[0]), "%s", e[i].res);
			if (strlen(seq) + strlen(e[i].res) + 2 < sizeof(seq)) {
				if (seq[0])
					strcat(seq, ">");
				strcat(seq, e[i].res);
			}
			snprintf(last, sizeof(last), "%s", e[i].res);
		}
	}
	printf("outage_ms=%lld rto_ms=%lld before=%s after=%s sequence=%s split=%u "
	    "probes=%zu errors=%u tail_errors=%u\n", (long long)outage, (long long)rto,
	    before, last, seq[0] ? seq : "-", split, n, errors, tail);
	rc = 0;
out:
	free(e);
	fclose(fp);
	return rc;
}

static void
usage(void)
{
	fprintf(stderr, "usage: probe run HOST PORT LOG [INTERVAL_MS [TIMEOUT_MS]]\n"
	    "       probe get HOST PORT [TIMEOUT_MS]\n"
	    "       probe now\n"
	    "       probe summary LOG FAULT_MS\n");
}

int
main(int argc, char **argv)
{
	int interval = 20, timeout = 200;

	if (argc >= 2 && strcmp(argv[1], "now") == 0) {
		printf("%lld\n", (long long)now_ms());
		return 0;
	}
	if (argc >= 5 && strcmp(argv[1], "run") == 0) {
		if (argc >= 6)
			interval = atoi(argv[5]);
		if (argc >= 7)
			timeout = atoi(argv[6]);
		if (interval < 1 || timeout < 1) {
			usage();
			return 2;
		}
		return cmd_run(argv[2], argv[3], argv[4], interval, timeout, 0);
	}
	if (argc >= 4 && strcmp(argv[1], "get") == 0) {
		if (argc >= 5)
			timeout = atoi(argv[4]);
		if (timeout < 1) {
			usage();
			return 2;
		}
		return cmd_run(argv[2], argv[3], NULL, 1, timeout, 1);
	}
	if (argc == 4 && strcmp(argv[1], "summary") == 0)
		return cmd_summary(argv[2], strtoll(argv[3], NULL, 10));
	usage();
	return 2;
}
