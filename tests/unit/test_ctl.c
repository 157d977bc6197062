/*
 * The control socket: frames round-trip, anything malformed is refused,
 * and a real request/response over a unix socket in a fresh directory.
 */
#include "config.h"

#include <sys/stat.h>
#include <check.h>
#include <poll.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "lib/ctl/ctl.h"
#include "lib/util/buf.h"
#include "lib/util/err.h"
#include "lib/util/log.h"

static char lastmsg[1024];

static void
sink(enum log_level lvl, const char *msg, void *arg)
{
	(void)arg;
	if (lvl <= LOG_LVL_WARN)
		snprintf(lastmsg, sizeof(lastmsg), "%s", msg);
}

START_TEST(request_round_trip)
{
	struct ctl_req r = { CTL_OP_MOVE, CTL_F_JSON, 2, { "www", "node-b" } }, d;
	struct buf b = { 0 };

	ck_assert_int_eq(ctl_req_encode(&b, &r), 0);
	ck_assert_int_eq(ctl_req_decode(b.data, b.len, &d), 0);
	ck_assert_uint_eq(d.op, CTL_OP_MOVE);
	ck_assert_uint_eq(d.flags, CTL_F_JSON);
	ck_assert_str_eq(d.args[0], "www");
	ck_assert_str_eq(d.args[1], "node-b");
	ctl_req_clear(&d);
	/* a trailing byte, a short frame: refused */
	buf_put_u8(&b, 0);
	ck_assert_int_eq(ctl_req_decode(b.data, b.len, &d), BW_ERR_CORRUPT);
	ck_assert_int_eq(ctl_req_decode(b.data, b.len - 2, &d), BW_ERR_CORRUPT);
	buf_free(&b);
}
END_TEST

START_TEST(response_round_trip)
{
	struct buf b = { 0 };
	struct ctl_resp d;

	ck_assert_int_eq(ctl_resp_encode(&b, BW_ERR_NOENT, "no site 'x'", ""), 0);
	ck_assert_int_eq(ctl_resp_decode(b.data, b.len, &d), 0);
	ck_assert_int_eq(d.code, BW_ERR_NOENT);
	ck_assert_str_eq(d.message, "no site 'x'");
	ck_assert_str_eq(d.data, "");
	ctl_resp_clear(&d);
	/* a request is not a response */
	buf_reset(&b);
	ctl_req_encode(&b, &(struct ctl_req){ CTL_OP_STATUS, 0, 0, { 0 } });
	ck_assert_int_eq(ctl_resp_decode(b.data, b.len, &d), BW_ERR_CORRUPT);
	buf_free(&b);
}
END_TEST

START_TEST(malformed_refused)
{
	struct ctl_req r = { CTL_OP_STANDBY, 0, 1, { "n1" } }, d;
	struct buf b = { 0 };

	/* wrong arity cannot even be encoded */
	ck_assert_int_eq(ctl_req_encode(&b, &(struct ctl_req){ CTL_OP_MOVE, 0, 1, { "x" } }),
	    BW_ERR_INVAL);
	buf_reset(&b);
	ck_assert_int_eq(ctl_req_encode(&b, &r), 0);
	b.data[4] = 2;		/* a newer version */
	ck_assert_int_eq(ctl_req_decode(b.data, b.len, &d), BW_ERR_VERSION);
	b.data[4] = 1;
	b.data[0] = 'X';	/* magic */
	ck_assert_int_eq(ctl_req_decode(b.data, b.len, &d), BW_ERR_CORRUPT);
	b.data[0] = 'B';
	b.data[6] = 1;		/* reserved flags */
	ck_assert_int_eq(ctl_req_decode(b.data, b.len, &d), BW_ERR_CORRUPT);
	b.data[6] = 0;
	b.data[CTL_HDR_LEN] = 99;	/* unknown op */
	ck_assert_int_eq(ctl_req_decode(b.data, b.len, &d), BW_ERR_CORRUPT);
	b.data[CTL_HDR_LEN] = CTL_OP_STANDBY;
	b.data[CTL_HDR_LEN + 2] = 2;	/* more args than the op takes */
	ck_assert_int_eq(ctl_req_decode(b.data, b.len, &d), BW_ERR_CORRUPT);
	b.data[CTL_HDR_LEN + 2] = 1;
	b.data[b.len - 1] = 0;		/* embedded NUL in an argument */
	ck_assert_int_eq(ctl_req_decode(b.data, b.len, &d), BW_ERR_CORRUPT);
	/* a body length above the bound is refused from the header alone */
	le32enc(b.data + 8, CTL_BODY_MAX + 1);
	ck_assert_int_eq(ctl_req_decode(b.data, b.len, &d), BW_ERR_CORRUPT);
	buf_free(&b);
}
END_TEST

struct srv {
	int lfd;
	int served;
};

/* Answers one request, reading and writing through the non-blocking conn
 * the way the daemon's loop does. */
static void *
serve_one(void *arg)
{
	struct srv *s = arg;
	struct pollfd p;
	struct ctl_conn *c;
	const struct ctl_req *req;
	char data[600];
	int rc;

	/* Connections that close without a request (the probe of a second
	 * ctl_listen) are dropped, as the daemon drops them. */
	while (!s->served) {
		p = (struct pollfd){ s->lfd, POLLIN, 0 };
		poll(&p, 1, 5000);
		if ((c = ctl_accept(s->lfd)) == NULL)
			continue;
		p.fd = ctl_conn_fd(c);
		while ((rc = ctl_conn_read(c, &req)) == 0)
			poll(&p, 1, 5000);
		if (rc == 1) {
			snprintf(data, sizeof(data), "op %u args %s %s", req->op, req->args[0],
			    req->args[1]);
			ctl_conn_reply(c, 0, "done", data);
			p.events = POLLOUT;
			while (ctl_conn_write(c) == 0)
				poll(&p, 1, 5000);
			s->served = 1;
		}
		ctl_conn_free(c);
	}
	return NULL;
}

START_TEST(socket_round_trip)
{
	char dir[64] = "/tmp/bw-ctl-XXXXXX", path[128];
	struct ctl_req r = { CTL_OP_CONFIRM, 0, 2, { "www", "yes" } };
	struct ctl_resp resp;
	struct srv s = { -1, 0 };
	struct stat st;
	pthread_t th;
	int fd2;

	ck_assert_ptr_nonnull(mkdtemp(dir));
	snprintf(path, sizeof(path), "%s/run/failoverd.sock", dir);
	log_set_sink(sink, NULL);
	/* nobody listening: NOENT, so the CLI can say "not running" */
	ck_assert_int_eq(ctl_call(path, &r, 1000, &resp), BW_ERR_NOENT);
	ck_assert_int_eq(ctl_listen(path, &s.lfd), 0);
	ck_assert_int_eq(stat(path, &st), 0);
	ck_assert_uint_eq(st.st_mode & 0777, 0600);
	/* a second daemon on the same socket is refused, and says why */
	ck_assert_int_eq(ctl_listen(path, &fd2), BW_ERR_LOCKED);
	ck_assert_ptr_nonnull(strstr(lastmsg, "another bulwark-failoverd is running"));
	ck_assert_int_eq(pthread_create(&th, NULL, serve_one, &s), 0);
	ck_assert_int_eq(ctl_call(path, &r, 5000, &resp), 0);
	pthread_join(th, NULL);
	ck_assert_int_eq(s.served, 1);
	ck_assert_int_eq(resp.code, 0);
	ck_assert_str_eq(resp.message, "done");
	ck_assert_str_eq(resp.data, "op 5 args www yes");
	ctl_resp_clear(&resp);
	ctl_unlisten(path, s.lfd);
	ck_assert_int_ne(access(path, F_OK), 0);
	/* a stale socket file (daemon killed) does not block the next start */
	ck_assert_int_eq(ctl_listen(path, &s.lfd), 0);
	close(s.lfd);
	ck_assert_int_eq(ctl_listen(path, &s.lfd), 0);
	ctl_unlisten(path, s.lfd);
	snprintf(path, sizeof(path), "%s/run", dir);
	rmdir(path);
	rmdir(dir);
	log_set_sink(NULL, NULL);
}
END_TEST

int
main(void)
{
	Suite *s = suite_create("ctl");
	TCase *tc = tcase_create("ctl");
	SRunner *sr;
	int nf;

	tcase_add_test(tc, request_round_trip);
	tcase_add_test(tc, response_round_trip);
	tcase_add_test(tc, malformed_refused);
	tcase_add_test(tc, socket_round_trip);
	suite_add_tcase(s, tc);
	sr = srunner_create(s);
	srunner_run_all(sr, CK_NORMAL);
	nf = srunner_ntests_failed(sr);
	srunner_free(sr);
	return nf ? 1 : 0;
}
