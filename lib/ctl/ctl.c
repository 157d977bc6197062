#include "config.h"

#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/types.h>
#include <sys/un.h>
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "lib/ctl/ctl.h"
#include "lib/util/err.h"
#include "lib/util/log.h"

enum { KIND_REQ = 1, KIND_RESP = 2 };

/* ---- format ---- */

int
ctl_frame_head(const uint8_t *p, size_t n, uint8_t *kind, uint32_t *body_len)
{
	struct bufr r;
	const uint8_t *magic;
	uint8_t ver;
	uint16_t flags;

	bufr_init(&r, p, n < CTL_HDR_LEN ? n : CTL_HDR_LEN);
	magic = bufr_get(&r, 4);
	ver = bufr_u8(&r);
	*kind = bufr_u8(&r);
	flags = bufr_u16(&r);
	*body_len = bufr_u32(&r);
	if (r.err || memcmp(magic, CTL_MAGIC, 4) != 0)
		return BW_ERR_CORRUPT;
	if (ver != CTL_VERSION)
		return BW_ERR_VERSION;
	if (flags != 0 || (*kind != KIND_REQ && *kind != KIND_RESP) || *body_len > CTL_BODY_MAX)
		return BW_ERR_CORRUPT;
	return 0;
}

static void
put_head(struct buf *b, uint8_t kind, uint32_t len)
{
	buf_put(b, CTL_MAGIC, 4);
	buf_put_u8(b, CTL_VERSION);
	buf_put_u8(b, kind);
	buf_put_u16(b, 0);
	buf_put_u32(b, len);
}

/* The body is built after a placeholder header whose length is then set. */
static int
finish(struct buf *b, size_t start)
{
	size_t body;

	if (b->err)
		return b->err;
	body = b->len - start - CTL_HDR_LEN;
	if (body > CTL_BODY_MAX)
		return BW_ERR_INVAL;
	le32enc(b->data + start + 8, (uint32_t)body);
	return 0;
}

static int
op_arity(uint8_t op)
{
	switch (op) {
	case CTL_OP_STATUS: case CTL_OP_HISTORY: return 0;
	case CTL_OP_STANDBY: case CTL_OP_ONLINE: return 1;
	case CTL_OP_MOVE: case CTL_OP_CONFIRM: return 2;
	}
	return -1;
}

int
ctl_req_encode(struct buf *b, const struct ctl_req *r)
{
	size_t start = b->len, i;

	if (op_arity(r->op) != r->nargs)
		return BW_ERR_INVAL;
	for (i = 0; i < r->nargs; i++)
		if (r->args[i] == NULL || strlen(r->args[i]) > CTL_ARG_MAX)
			return BW_ERR_INVAL;
	put_head(b, KIND_REQ, 0);
	buf_put_u8(b, r->op);
	buf_put_u8(b, r->flags);
	buf_put_u8(b, r->nargs);
	for (i = 0; i < r->nargs; i++)
		buf_put_cstr(b, r->args[i]);
	return finish(b, start);
}

int
ctl_resp_encode(struct buf *b, int32_t code, const char *message, const char *data)
{
	size_t start = b->len;

	put_head(b, KIND_RESP, 0);
	buf_put_u32(b, (uint32_t)code);
	buf_put_cstr(b, message ? message : "");
	buf_put_cstr(b, data ? data : "");
	return finish(b, start);
}

void
ctl_req_clear(struct ctl_req *r)
{
	size_t i;

	for (i = 0; i < CTL_ARGS_MAX; i++)
		free(r->args[i]);
	memset(r, 0, sizeof(*r));
}

void
ctl_resp_clear(struct ctl_resp *r)
{
	free(r->message);
	free(r->data);
	memset(r, 0, sizeof(*r));
}

/* Checks the header and returns a reader over exactly the body. */
static int
open_frame(const uint8_t *p, size_t n, uint8_t want, struct bufr *body)
{
	uint8_t kind;
	uint32_t len;
	int rc;

	if (n < CTL_HDR_LEN)
		return BW_ERR_CORRUPT;
	if ((rc = ctl_frame_head(p, n, &kind, &len)) != 0)
		return rc;
	if (kind != want || n - CTL_HDR_LEN != len)
		return BW_ERR_CORRUPT;
	bufr_init(body, p + CTL_HDR_LEN, len);
	return 0;
}

int
ctl_req_decode(const uint8_t *p, size_t n, struct ctl_req *r)
{
	struct bufr b;
	size_t i;
	int rc;

	memset(r, 0, sizeof(*r));
	if ((rc = open_frame(p, n, KIND_REQ, &b)) != 0)
		return rc;
	r->op = bufr_u8(&b);
	r->flags = bufr_u8(&b);
	r->nargs = bufr_u8(&b);
	if (!b.err && (op_arity(r->op) < 0 || op_arity(r->op) != r->nargs ||
	    (r->flags & ~CTL_F_JSON)))
		bufr_fail(&b);
	for (i = 0; !b.err && i < r->nargs; i++)
		r->args[i] = bufr_strdup(&b, CTL_ARG_MAX);
	if ((rc = bufr_done(&b)) != 0) {
		ctl_req_clear(r);
		return rc;
	}
	return 0;
}

int
ctl_resp_decode(const uint8_t *p, size_t n, struct ctl_resp *r)
{
	struct bufr b;
	int rc;

	memset(r, 0, sizeof(*r));
	if ((rc = open_frame(p, n, KIND_RESP, &b)) != 0)
		return rc;
	r->code = (int32_t)bufr_u32(&b);
	if (!b.err && (r->code > 0 || r->code < BW_ERR__MIN))
		bufr_fail(&b);
	r->message = bufr_strdup(&b, CTL_BODY_MAX);
	r->data = bufr_strdup(&b, CTL_BODY_MAX);
	if ((rc = bufr_done(&b)) != 0) {
		ctl_resp_clear(r);
		return rc;
	}
	return 0;
}

/* ---- server ---- */

static int
sock_addr(const char *path, struct sockaddr_un *sa)
{
	memset(sa, 0, sizeof(*sa));
	sa->sun_family = AF_UNIX;
	if (strlen(path) >= sizeof(sa->sun_path)) {
		log_error("control socket %s: path too long (at most %zu bytes); set a shorter "
		    "[cluster] socket", path, sizeof(sa->sun_path) - 1);
		return BW_ERR_INVAL;
	}
	memcpy(sa->sun_path, path, strlen(path));
	return 0;
}

static int
mkparent(const char *path)
{
	char *d, *s;
	int rc = 0;

	if ((d = strdup(path)) == NULL)
		return BW_ERR_NOMEM;
	for (s = d + 1; (s = strchr(s, '/')) != NULL; s++) {
		*s = 0;
		if (mkdir(d, 0755) != 0 && errno != EEXIST) {
			log_error("control socket %s: cannot create directory %s: %s", path, d,
			    strerror(errno));
			rc = bw_err_from_errno(errno);
			break;
		}
		*s = '/';
	}
	free(d);
	return rc;
}

int
ctl_listen(const char *path, int *out)
{
	struct sockaddr_un sa;
	mode_t old;
	int fd = -1, probe = -1, rc;

	if ((rc = sock_addr(path, &sa)) != 0 || (rc = mkparent(path)) != 0)
		return rc;
	/* A live daemon answers connect; a stale socket file refuses. */
	if ((probe = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0)) >= 0 &&
	    connect(probe, (struct sockaddr *)&sa, sizeof(sa)) == 0) {
		log_error("control socket %s: another bulwark-failoverd is running on this node "
		    "(stop it first: systemctl stop bulwark-failoverd)", path);
		rc = BW_ERR_LOCKED;
		goto out;
	}
	if (unlink(path) != 0 && errno != ENOENT) {
		log_error("control socket %s: cannot remove the old socket: %s", path,
		    strerror(errno));
		rc = bw_err_from_errno(errno);
		goto out;
	}
	if ((fd = socket(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0)) < 0) {
		rc = bw_err_from_errno(errno);
		log_error("control socket %s: socket: %s", path, strerror(errno));
		goto out;
	}
	old = umask(0177);
	rc = bind(fd, (struct sockaddr *)&sa, sizeof(sa));
	umask(old);
	if (rc != 0 || chmod(path, 0600) != 0 || listen(fd, 16) != 0) {
		log_error("control socket %s: %s", path, strerror(errno));
		rc = bw_err_from_errno(errno);
		goto out;
	}
	*out = fd;
	fd = -1;
	rc = 0;
out:
	if (probe >= 0)
		close(probe);
	if (fd >= 0)
		close(fd);
	return rc;
}

void
ctl_unlisten(const char *path, int fd)
{
	struct stat a, b;

	if (fd < 0)
		return;
	/* Only remove the file if it is still the socket we bound. */
	if (path && stat(path, &a) == 0 && fstat(fd, &b) == 0 && S_ISSOCK(a.st_mode))
		unlink(path);
	close(fd);
}

struct ctl_conn {
	int fd;
	struct buf in;
	struct buf out;
	size_t outoff;
	struct ctl_req req;
	int have_req;
};

struct ctl_conn *
ctl_accept(int lfd)
{
	struct ctl_conn *c;
	struct ucred cr;
	socklen_t crlen = sizeof(cr);
	int fd;

	if ((fd = accept4(lfd, NULL, NULL, SOCK_NONBLOCK | SOCK_CLOEXEC)) < 0)
		return NULL;
	/* The socket is 0600 already; this also holds if it was chmod'ed. */
	if (getsockopt(fd, SOL_SOCKET, SO_PEERCRED, &cr, &crlen) != 0 ||
	    (cr.uid != 0 && cr.uid != geteuid())) {
		log_warn("control socket: refused a request from uid %ld (root only)",
		    (long)cr.uid);
		close(fd);
		return NULL;
	}
	if ((c = calloc(1, sizeof(*c))) == NULL) {
		close(fd);
		return NULL;
	}
	c->fd = fd;
	return c;
}

int ctl_conn_fd(const struct ctl_conn *c) { return c->fd; }

int
ctl_conn_read(struct ctl_conn *c, const struct ctl_req **req)
{
	uint8_t kind;
	uint32_t blen;
	size_t want;
	ssize_t n;
	uint8_t *p;
	int rc;

	if (c->have_req) {
		*req = &c->req;
		return 1;
	}
	for (;;) {
		want = CTL_HDR_LEN;
		if (c->in.len >= CTL_HDR_LEN) {
			if ((rc = ctl_frame_head(c->in.data, c->in.len, &kind, &blen)) != 0)
				return rc;
			want += blen;
		}
		if (c->in.len >= want)
			break;
		if ((p = buf_extend(&c->in, want - c->in.len)) == NULL)
			return BW_ERR_NOMEM;
		n = read(c->fd, p, want - (size_t)(p - c->in.data));
		if (n < 0 && (errno == EAGAIN || errno == EINTR)) {
			c->in.len = (size_t)(p - c->in.data);
			return 0;
		}
		if (n <= 0) {
			c->in.len = (size_t)(p - c->in.data);
			return BW_ERR_IO;
		}
		c->in.len = (size_t)(p - c->in.data) + (size_t)n;
	}
	if ((rc = ctl_req_decode(c->in.data, c->in.len, &c->req)) != 0)
		return rc;
	c->have_req = 1;
	*req = &c->req;
	return 1;
}

int
ctl_conn_reply(struct ctl_conn *c, int32_t code, const char *message, const char *data)
{
	buf_reset(&c->out);
	c->outoff = 0;
	return ctl_resp_encode(&c->out, code, message, data);
}

int
ctl_conn_write(struct ctl_conn *c)
{
	ssize_t n;

	while (c->outoff < c->out.len) {
		n = send(c->fd, c->out.data + c->outoff, c->out.len - c->outoff, MSG_NOSIGNAL);
		if (n < 0 && (errno == EAGAIN || errno == EINTR))
			return 0;
		if (n <= 0)
			return BW_ERR_IO;
		c->outoff += (size_t)n;
	}
	return 1;
}

void
ctl_conn_free(struct ctl_conn *c)
{
	if (c == NULL)
		return;
	close(c->fd);
	buf_free(&c->in);
	buf_free(&c->out);
	ctl_req_clear(&c->req);
	free(c);
}

/* ---- client ---- */

static int64_t
now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* Waits for fd to be ready for ev until the deadline; 0, or BW_ERR_IO. */
static int
wait_fd(int fd, short ev, int64_t deadline)
{
	struct pollfd pfd = { fd, ev, 0 };
	int64_t left;
	int n;

	for (;;) {
		left = deadline - now_ms();
		if (left <= 0)
			return BW_ERR_IO;
		n = poll(&pfd, 1, (int)left);
		if (n > 0)
			return 0;
		if (n < 0 && errno != EINTR)
			return BW_ERR_IO;
	}
}

int
ctl_call(const char *path, const struct ctl_req *r, int timeout_ms, struct ctl_resp *resp)
{
	struct sockaddr_un sa;
	struct buf b = { 0 };
	int64_t deadline = now_ms() + timeout_ms;
	size_t off = 0, want;
	uint8_t kind, *p;
	uint32_t blen;
	ssize_t n;
	int fd = -1, rc;

	memset(resp, 0, sizeof(*resp));
	if ((rc = sock_addr(path, &sa)) != 0)
		goto out;
	if ((fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0)) < 0) {
		rc = bw_err_from_errno(errno);
		goto out;
	}
	if (connect(fd, (struct sockaddr *)&sa, sizeof(sa)) != 0) {
		rc = errno == EACCES || errno == EPERM ? BW_ERR_PERM : BW_ERR_NOENT;
		if (rc == BW_ERR_PERM)
			log_error("control socket %s: permission denied (run as root)", path);
		goto out;
	}
	fcntl(fd, F_SETFL, fcntl(fd, F_GETFL) | O_NONBLOCK);
	if ((rc = ctl_req_encode(&b, r)) != 0)
		goto out;
	while (off < b.len) {
		if ((rc = wait_fd(fd, POLLOUT, deadline)) != 0)
			goto timeout;
		n = send(fd, b.data + off, b.len - off, MSG_NOSIGNAL);
		if (n < 0 && (errno == EAGAIN || errno == EINTR))
			continue;
		if (n <= 0)
			goto broken;
		off += (size_t)n;
	}
	buf_reset(&b);
	for (;;) {
		want = CTL_HDR_LEN;
		if (b.len >= CTL_HDR_LEN) {
			if ((rc = ctl_frame_head(b.data, b.len, &kind, &blen)) != 0)
				goto bad;
			want += blen;
		}
		if (b.len >= want)
			break;
		if ((rc = wait_fd(fd, POLLIN, deadline)) != 0)
			goto timeout;
		if ((p = buf_extend(&b, want - b.len)) == NULL) {
			rc = BW_ERR_NOMEM;
			goto out;
		}
		n = read(fd, p, want - (size_t)(p - b.data));
		b.len = (size_t)(p - b.data) + (n > 0 ? (size_t)n : 0);
		if (n < 0 && (errno == EAGAIN || errno == EINTR))
			continue;
		if (n <= 0)
			goto broken;
	}
	if ((rc = ctl_resp_decode(b.data, b.len, resp)) != 0)
		goto bad;
	rc = 0;
	goto out;
timeout:
	log_error("control socket %s: no answer within %d ms (the daemon is busy or stuck; "
	    "see journalctl -u bulwark-failoverd)", path, timeout_ms);
	rc = BW_ERR_IO;
	goto out;
broken:
	log_error("control socket %s: the daemon closed the connection without an answer "
	    "(see journalctl -u bulwark-failoverd)", path);
	rc = BW_ERR_IO;
	goto out;
bad:
	log_error("control socket %s: malformed answer (%s); are bulwark and "
	    "bulwark-failoverd the same version?", path, bw_strerror(rc));
out:
	if (fd >= 0)
		close(fd);
	buf_free(&b);
	return rc;
}
