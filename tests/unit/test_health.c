/*
 * Health checks against tiny HTTP servers on 127.0.0.1 run by the same
 * loop inside the test process: each connection gets the next response of
 * a script.
 */
#include "config.h"

#include <sys/socket.h>
#include <arpa/inet.h>
#include <netinet/in.h>
#include <check.h>
#include <errno.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "config/config.h"
#include "failover/health.h"
#include "failover/loop.h"
#include "lib/util/err.h"
#include "lib/util/log.h"

static void
quiet(enum log_level lvl, const char *msg, void *arg)
{
}

static void
setup(void)
{
	log_set_sink(quiet, NULL);
	log_set_level(LOG_LVL_DEBUG);
}

/* ---- the server ---- */

#define SILENT NULL	/* accept, read, never answer */

struct server {
	struct loop *l;
	int fd;
	uint16_t port;
	const char *const *script;	/* responses; the last repeats */
	size_t nscript;
	unsigned served;
	char request[1024];	/* the last request seen */
};

struct conn {
	struct server *srv;
	const char *resp;
	int silent;
	char in[1024];
	size_t inlen;
};

static void
conn_ready(struct loop *l, int fd, short revents, void *arg)
{
	struct conn *c = arg;
	ssize_t n;

	n = read(fd, c->in + c->inlen, sizeof(c->in) - 1 - c->inlen);
	if (n > 0) {
		c->inlen += (size_t)n;
		c->in[c->inlen] = 0;
		if (strstr(c->in, "\r\n\r\n") == NULL)
			return;
		memcpy(c->srv->request, c->in, c->inlen + 1);
		if (c->silent)
			return;
		ck_assert_int_eq(write(fd, c->resp, strlen(c->resp)), (ssize_t)strlen(c->resp));
	}
	loop_fd_del(l, fd);
	close(fd);
	free(c);
}

static void
srv_accept(struct loop *l, int fd, short revents, void *arg)
{
	struct server *s = arg;
	struct conn *c;
	int cfd = accept(fd, NULL, NULL);
	size_t i;

	if (cfd < 0)
		return;
	i = s->served < s->nscript ? s->served : s->nscript - 1;
	s->served++;
	c = calloc(1, sizeof(*c));
	c->srv = s;
	c->resp = s->script[i];
	c->silent = c->resp == SILENT;
	ck_assert_int_eq(loop_fd_add(l, cfd, POLLIN, conn_ready, c), 0);
}

static void
srv_start(struct server *s, struct loop *l, const char *const *script, size_t n)
{
	struct sockaddr_in sa;
	socklen_t sl = sizeof(sa);

	memset(s, 0, sizeof(*s));
	s->l = l;
	s->script = script;
	s->nscript = n;
	memset(&sa, 0, sizeof(sa));
	sa.sin_family = AF_INET;
	sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	s->fd = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	ck_assert_int_ge(s->fd, 0);
	ck_assert_int_eq(bind(s->fd, (struct sockaddr *)&sa, sizeof(sa)), 0);
	ck_assert_int_eq(listen(s->fd, 16), 0);
	ck_assert_int_eq(getsockname(s->fd, (struct sockaddr *)&sa, &sl), 0);
	s->port = ntohs(sa.sin_port);
	ck_assert_int_eq(loop_fd_add(l, s->fd, POLLIN, srv_accept, s), 0);
}

/* A port on 127.0.0.1 where nobody listens. */
static uint16_t
closed_port(void)
{
	struct sockaddr_in sa;
	socklen_t sl = sizeof(sa);
	int fd = socket(AF_INET, SOCK_STREAM, 0);

	memset(&sa, 0, sizeof(sa));
	sa.sin_family = AF_INET;
	sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	ck_assert_int_eq(bind(fd, (struct sockaddr *)&sa, sizeof(sa)), 0);
	ck_assert_int_eq(getsockname(fd, (struct sockaddr *)&sa, &sl), 0);
	close(fd);
	return ntohs(sa.sin_port);
}

/* ---- the site under check ---- */

#define OK200 "HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\n\r\nhello world\n"
#define E503 "HTTP/1.1 503 Service Unavailable\r\nContent-Length: 0\r\n\r\n"
#define WRONG "HTTP/1.0 200 OK\r\n\r\ngoodbye\n"
#define GARBAGE "SSH-2.0-OpenSSH_9.2\r\n"

struct watch {
	struct loop *l;
	struct server *srv;
	enum health_state states[8];
	unsigned served_at[8];	/* requests served when each change came */
	char reasons[8][256];
	size_t n, want;
	int expired;
};

static void
on_change(struct health *h, enum health_state st, const char *reason, void *arg)
{
	struct watch *w = arg;

	ck_assert_uint_lt(w->n, 8);
	w->states[w->n] = st;
	w->served_at[w->n] = w->srv ? w->srv->served : 0;
	snprintf(w->reasons[w->n], sizeof(w->reasons[0]), "%s", reason);
	if (++w->n == w->want)
		loop_stop(w->l);
}

static void
guard(struct loop *l, void *arg)
{
	*(int *)arg = 1;
	loop_stop(l);
}

static struct config_site
site_with(struct config_check *ck, size_t n, unsigned rise, unsigned fall)
{
	struct config_site s;

	memset(&s, 0, sizeof(s));
	s.name = "www";
	s.checks = ck;
	s.nchecks = n;
	s.check_interval_ms = 1;
	s.check_timeout_ms = 2000;
	s.rise = rise;
	s.fall = fall;
	return s;
}

/* Runs the site's checks against a server playing script until want
 * state changes were reported. */
static void
watch_run(struct watch *w, struct config_site *site, struct server *srv, struct loop *l)
{
	struct health *h;

	w->l = l;
	w->srv = srv;
	h = health_new(l, site, on_change, w);
	ck_assert_ptr_nonnull(h);
	ck_assert_int_eq(health_state(h), HEALTH_UNKNOWN);
	loop_timer_add(l, 20000, guard, &w->expired);
	ck_assert_int_eq(loop_run(l), 0);
	ck_assert_int_eq(w->expired, 0);
	ck_assert_uint_eq(w->n, w->want);
	ck_assert_int_eq(health_state(h), w->states[w->n - 1]);
	health_free(h);
}

static void
url_of(char *url, size_t n, const struct server *srv, const char *path)
{
	snprintf(url, n, "http://127.0.0.1:%u%s", srv->port, path);
}

START_TEST(http_200_is_healthy_after_rise_successes)
{
	static const char *const script[] = { OK200 };
	struct loop *l = loop_new();
	struct server srv;
	struct config_check ck = { .kind = CONFIG_CHECK_HTTP, .expect_body = "hello" };
	struct config_site site;
	struct watch w = { .want = 1 };
	char url[128], want[256], host[64];

	srv_start(&srv, l, script, 1);
	url_of(url, sizeof(url), &srv, "/status");
	ck.url = url;
	site = site_with(&ck, 1, 2, 3);
	watch_run(&w, &site, &srv, l);
	ck_assert_int_eq(w.states[0], HEALTH_UP);
	ck_assert_uint_eq(w.served_at[0], 2);
	snprintf(want, sizeof(want), "%s: status 200", url);
	ck_assert_str_eq(w.reasons[0], want);
	/* What a web server sees. */
	snprintf(host, sizeof(host), "Host: 127.0.0.1:%u\r\n", srv.port);
	ck_assert_ptr_nonnull(strstr(srv.request, "GET /status HTTP/1.1\r\n"));
	ck_assert_ptr_nonnull(strstr(srv.request, host));
	ck_assert_ptr_nonnull(strstr(srv.request, "Connection: close\r\n"));
	loop_free(l);
}
END_TEST

static void
expect_down(const char *resp, const char *expect_body, const char *what)
{
	const char *script[] = { resp };
	struct loop *l = loop_new();
	struct server srv;
	struct config_check ck = { .kind = CONFIG_CHECK_HTTP, .expect_body = (char *)expect_body };
	struct config_site site;
	struct watch w = { .want = 1 };
	char url[128], want[256];

	srv_start(&srv, l, script, 1);
	url_of(url, sizeof(url), &srv, "/");
	ck.url = url;
	site = site_with(&ck, 1, 2, 3);
	if (resp == SILENT) {
		site.check_timeout_ms = 50;
		site.fall = 1;
	}
	watch_run(&w, &site, &srv, l);
	ck_assert_int_eq(w.states[0], HEALTH_DOWN);
	ck_assert_uint_eq(w.served_at[0], site.fall);
	snprintf(want, sizeof(want), "%s: %s", url, what);
	ck_assert_str_eq(w.reasons[0], want);
	loop_free(l);
}

START_TEST(http_503_is_unhealthy_after_fall_failures)
{
	expect_down(E503, NULL, "status 503");
}
END_TEST

START_TEST(http_wrong_body_is_unhealthy)
{
	expect_down(WRONG, "hello", "status 200, but the body lacks \"hello\"");
}
END_TEST

START_TEST(http_garbage_is_unhealthy)
{
	expect_down(GARBAGE, NULL, "malformed response");
}
END_TEST

START_TEST(http_silence_times_out)
{
	expect_down(SILENT, NULL, "timeout after 50 ms");
}
END_TEST

START_TEST(http_closed_without_answer_is_unhealthy)
{
	expect_down("", NULL, "connection closed without a response");
}
END_TEST

START_TEST(rise_and_fall_follow_the_sequence)
{
	/* up after 2 in a row; a single failure is not enough to fall;
	 * down after the 3rd failure in a row; up again after 2. */
	static const char *const script[] = {
		OK200, OK200, E503, OK200, E503, E503, E503, OK200, E503, OK200, OK200
	};
	struct loop *l = loop_new();
	struct server srv;
	struct config_check ck = { .kind = CONFIG_CHECK_HTTP };
	struct config_site site;
	struct watch w = { .want = 3 };
	char url[128];

	srv_start(&srv, l, script, sizeof(script) / sizeof(script[0]));
	url_of(url, sizeof(url), &srv, "/");
	ck.url = url;
	site = site_with(&ck, 1, 2, 3);
	watch_run(&w, &site, &srv, l);
	ck_assert_int_eq(w.states[0], HEALTH_UP);
	ck_assert_uint_eq(w.served_at[0], 2);
	ck_assert_int_eq(w.states[1], HEALTH_DOWN);
	ck_assert_uint_eq(w.served_at[1], 7);
	ck_assert_int_eq(w.states[2], HEALTH_UP);
	ck_assert_uint_eq(w.served_at[2], 11);
	loop_free(l);
}
END_TEST

START_TEST(tcp_checks_see_refusal_and_acceptance)
{
	static const char *const script[] = { "" };
	struct loop *l = loop_new();
	struct server srv;
	struct config_check ck[2] = {
		{ .kind = CONFIG_CHECK_TCP, .host = "127.0.0.1" },
		{ .kind = CONFIG_CHECK_TCP, .host = "127.0.0.1" },
	};
	struct config_site site;
	struct watch w = { .want = 1 };
	char want[128];

	srv_start(&srv, l, script, 1);
	ck[0].port = srv.port;
	ck[1].port = closed_port();
	/* One check fails: the site is down though the other passes. */
	site = site_with(ck, 2, 1, 1);
	watch_run(&w, &site, &srv, l);
	ck_assert_int_eq(w.states[0], HEALTH_DOWN);
	snprintf(want, sizeof(want), "tcp 127.0.0.1:%u: connection refused", ck[1].port);
	ck_assert_str_eq(w.reasons[0], want);

	/* Both reach a listener: up. */
	ck[1].port = srv.port;
	memset(&w, 0, sizeof(w));
	w.want = 1;
	watch_run(&w, &site, &srv, l);
	ck_assert_int_eq(w.states[0], HEALTH_UP);
	loop_free(l);
}
END_TEST

START_TEST(command_checks_use_the_exit_status)
{
	struct loop *l = loop_new();
	struct server srv = { .l = l };
	struct config_check ck = { .kind = CONFIG_CHECK_COMMAND, .command = "true" };
	struct config_site site = site_with(&ck, 1, 1, 1);
	struct watch w = { .want = 1 };

	watch_run(&w, &site, &srv, l);
	ck_assert_int_eq(w.states[0], HEALTH_UP);
	ck_assert_str_eq(w.reasons[0], "command 'true': exit status 0");

	ck.command = "exit 4";
	memset(&w, 0, sizeof(w));
	w.want = 1;
	watch_run(&w, &site, &srv, l);
	ck_assert_int_eq(w.states[0], HEALTH_DOWN);
	ck_assert_str_eq(w.reasons[0], "command 'exit 4': exit status 4");

	ck.command = "sleep 10";
	site.check_timeout_ms = 50;
	memset(&w, 0, sizeof(w));
	w.want = 1;
	watch_run(&w, &site, &srv, l);
	ck_assert_int_eq(w.states[0], HEALTH_DOWN);
	ck_assert_str_eq(w.reasons[0], "command 'sleep 10': timeout after 50 ms");
	loop_free(l);
}
END_TEST

START_TEST(a_site_without_checks_is_healthy)
{
	struct loop *l = loop_new();
	struct config_site site = site_with(NULL, 0, 2, 3);
	struct health *h = health_new(l, &site, on_change, NULL);

	ck_assert_ptr_nonnull(h);
	ck_assert_int_eq(health_state(h), HEALTH_UP);
	health_free(h);
	loop_free(l);
}
END_TEST

START_TEST(bad_check_urls_are_refused_naming_the_site)
{
	struct loop *l = loop_new();
	struct config_check ck = { .kind = CONFIG_CHECK_HTTP, .url = "http://www.example/" };
	struct config_site site = site_with(&ck, 1, 2, 3);

	log_reset_count();
	ck_assert_ptr_null(health_new(l, &site, on_change, NULL));
	ck_assert_uint_eq(log_error_count(), 1);
	loop_free(l);
}
END_TEST

static int
parse(const char *s, unsigned *status, const char **body)
{
	const uint8_t *b;
	size_t bl;
	int r = health_http_parse((const uint8_t *)s, strlen(s), status, &b, &bl);
	static char copy[256];

	if (r == 0) {
		snprintf(copy, sizeof(copy), "%.*s", (int)bl, (const char *)b);
		*body = copy;
	}
	return r;
}

START_TEST(http_parser_is_strict)
{
	unsigned st = 0;
	const char *body;

	ck_assert_int_eq(parse(OK200, &st, &body), 0);
	ck_assert_uint_eq(st, 200);
	ck_assert_str_eq(body, "hello world\n");
	ck_assert_int_eq(parse("HTTP/1.1 204\r\n\r\n", &st, &body), 0);
	ck_assert_uint_eq(st, 204);
	/* Cut short inside the headers (the size bound): the status stands. */
	ck_assert_int_eq(parse("HTTP/1.1 503 Busy\r\nServer: x", &st, &body), 0);
	ck_assert_uint_eq(st, 503);
	ck_assert_str_eq(body, "");

	ck_assert_int_eq(parse("", &st, &body), BW_ERR_CORRUPT);
	ck_assert_int_eq(parse("HTTP/1.1 200 OK", &st, &body), BW_ERR_CORRUPT);
	ck_assert_int_eq(parse("HTTP/1.1 200 OK\n\n", &st, &body), BW_ERR_CORRUPT);
	ck_assert_int_eq(parse("HTTP/2 200 OK\r\n\r\n", &st, &body), BW_ERR_CORRUPT);
	ck_assert_int_eq(parse("HTTP/1.1 20 OK\r\n\r\n", &st, &body), BW_ERR_CORRUPT);
	ck_assert_int_eq(parse("HTTP/1.1 2000 OK\r\n\r\n", &st, &body), BW_ERR_CORRUPT);
	ck_assert_int_eq(parse("HTTP/1.1 999 OK\r\n\r\n", &st, &body), BW_ERR_CORRUPT);
	ck_assert_int_eq(parse("HTTP/1.1 200 OK\r\nno colon\r\n\r\n", &st, &body),
	    BW_ERR_CORRUPT);
	ck_assert_int_eq(parse("HTTP/1.1 200 OK\r\n: empty name\r\n\r\n", &st, &body),
	    BW_ERR_CORRUPT);
	ck_assert_int_eq(parse("http/1.1 200 OK\r\n\r\n", &st, &body), BW_ERR_CORRUPT);
}
END_TEST

START_TEST(urls_name_address_literals_only)
{
	struct sockaddr_storage ss;
	unsigned sl;
	char path[64];

	sl = sizeof(ss);
	ck_assert_int_eq(health_url_parse("http://10.0.0.1/", (struct sockaddr *)&ss, &sl,
	    path, sizeof(path)), 0);
	ck_assert_int_eq(ss.ss_family, AF_INET);
	ck_assert_uint_eq(ntohs(((struct sockaddr_in *)&ss)->sin_port), 80);
	ck_assert_str_eq(path, "/");
	sl = sizeof(ss);
	ck_assert_int_eq(health_url_parse("http://[2001:db8::1]:8080/health?x=1",
	    (struct sockaddr *)&ss, &sl, path, sizeof(path)), 0);
	ck_assert_int_eq(ss.ss_family, AF_INET6);
	ck_assert_uint_eq(ntohs(((struct sockaddr_in6 *)&ss)->sin6_port), 8080);
	ck_assert_str_eq(path, "/health?x=1");
	sl = sizeof(ss);
	ck_assert_int_eq(health_url_parse("http://10.0.0.1:81", (struct sockaddr *)&ss, &sl,
	    path, sizeof(path)), 0);
	ck_assert_str_eq(path, "/");

	sl = sizeof(ss);
	ck_assert_int_eq(health_url_parse("https://10.0.0.1/", (struct sockaddr *)&ss, &sl,
	    path, sizeof(path)), BW_ERR_INVAL);
	ck_assert_int_eq(health_url_parse("http://host.example/", (struct sockaddr *)&ss, &sl,
	    path, sizeof(path)), BW_ERR_INVAL);
	ck_assert_int_eq(health_url_parse("http://10.0.0.1:0/", (struct sockaddr *)&ss, &sl,
	    path, sizeof(path)), BW_ERR_INVAL);
	ck_assert_int_eq(health_url_parse("http://10.0.0.1:70000/", (struct sockaddr *)&ss,
	    &sl, path, sizeof(path)), BW_ERR_INVAL);
	ck_assert_int_eq(health_url_parse("http://10.0.0.1/a b", (struct sockaddr *)&ss, &sl,
	    path, sizeof(path)), BW_ERR_INVAL);
	ck_assert_int_eq(health_url_parse("http://10.0.0.1/\r\nX: y", (struct sockaddr *)&ss,
	    &sl, path, sizeof(path)), BW_ERR_INVAL);
}
END_TEST

static Suite *
health_suite(void)
{
	Suite *s = suite_create("health");
	TCase *tc = tcase_create("core");

	tcase_add_checked_fixture(tc, setup, NULL);
	tcase_add_test(tc, http_200_is_healthy_after_rise_successes);
	tcase_add_test(tc, http_503_is_unhealthy_after_fall_failures);
	tcase_add_test(tc, http_wrong_body_is_unhealthy);
	tcase_add_test(tc, http_garbage_is_unhealthy);
	tcase_add_test(tc, http_silence_times_out);
	tcase_add_test(tc, http_closed_without_answer_is_unhealthy);
	tcase_add_test(tc, rise_and_fall_follow_the_sequence);
	tcase_add_test(tc, tcp_checks_see_refusal_and_acceptance);
	tcase_add_test(tc, command_checks_use_the_exit_status);
	tcase_add_test(tc, a_site_without_checks_is_healthy);
	tcase_add_test(tc, bad_check_urls_are_refused_naming_the_site);
	tcase_add_test(tc, http_parser_is_strict);
	tcase_add_test(tc, urls_name_address_literals_only);
	suite_add_tcase(s, tc);
	return s;
}

int
main(void)
{
	SRunner *sr = srunner_create(health_suite());
	int failed;

	srunner_run_all(sr, CK_NORMAL);
	failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}
