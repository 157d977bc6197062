/*
 * The control socket: a unix stream socket (mode 0600, owned by root) where
 * a daemon answers requests from the bulwark command.  One request and one
 * response per connection.
 *
 * Frame (all integers little-endian, parsed through struct bufr):
 *   magic   4 bytes "BWCT"
 *   version u8  = 1 (other versions are refused)
 *   kind    u8  1 request, 2 response
 *   flags   u16 = 0 (reserved; non-zero is refused)
 *   length  u32 body bytes, at most CTL_BODY_MAX
 *   body
 * Request body:  op u8, flags u8 (CTL_F_JSON), nargs u8 (<= CTL_ARGS_MAX),
 *                then nargs str (each <= CTL_ARG_MAX bytes, no NUL)
 * Response body: code i32 (0 or a negative BW_ERR_*), message str (for the
 *                operator, may be empty), data str (text or JSON, as asked)
 */
#ifndef BW_CTL_CTL_H
#define BW_CTL_CTL_H

#include <stddef.h>
#include <stdint.h>

#include "lib/util/buf.h"

#define CTL_MAGIC "BWCT"
#define CTL_VERSION 1
#define CTL_HDR_LEN 12
#define CTL_BODY_MAX (1u << 20)
#define CTL_ARGS_MAX 4
#define CTL_ARG_MAX 256
#define CTL_TIMEOUT_MS 5000		/* a client waits this long for an answer */

enum ctl_op {
	CTL_OP_STATUS = 1,		/* no args */
	CTL_OP_MOVE = 2,		/* SITE NODE */
	CTL_OP_STANDBY = 3,		/* NODE */
	CTL_OP_ONLINE = 4,		/* NODE */
	CTL_OP_CONFIRM = 5,		/* SITE yes|no */
	CTL_OP_HISTORY = 6,		/* no args */
	CTL_OP__MAX = 6
};

#define CTL_F_JSON 0x01			/* answer data as JSON */

struct ctl_req {
	uint8_t op;
	uint8_t flags;
	uint8_t nargs;
	char *args[CTL_ARGS_MAX];	/* owned (decoded) or borrowed (to encode) */
};

struct ctl_resp {
	int32_t code;
	char *message;			/* never NULL after a decode */
	char *data;
};

/* Header check of a frame starting at p (n >= CTL_HDR_LEN bytes): 0 and the
 * kind and body length, or BW_ERR_CORRUPT / BW_ERR_VERSION. */
int ctl_frame_head(const uint8_t *p, size_t n, uint8_t *kind, uint32_t *body_len);

/* Whole frames into b (appended).  0 or BW_ERR_NOMEM / BW_ERR_INVAL. */
int ctl_req_encode(struct buf *b, const struct ctl_req *r);
int ctl_resp_encode(struct buf *b, int32_t code, const char *message, const char *data);

/* Parses one whole frame (header and body, nothing after it).  0 and *r,
 * freed with ctl_req_clear; BW_ERR_CORRUPT, BW_ERR_VERSION, or
 * BW_ERR_NOMEM.  Arguments are checked against the op's arity. */
int ctl_req_decode(const uint8_t *p, size_t n, struct ctl_req *r);
void ctl_req_clear(struct ctl_req *r);
int ctl_resp_decode(const uint8_t *p, size_t n, struct ctl_resp *r);
void ctl_resp_clear(struct ctl_resp *r);

/* ---- server side (the daemon drives the fds from its loop) ---- */

/* Binds a listening socket at path: creates the directory (0755) if
 * needed, removes a stale socket, and refuses (BW_ERR_LOCKED, logged) when
 * another process answers there.  The socket is 0600.  0 and *fd (non-
 * blocking, close-on-exec) or a negative code (logged). */
int ctl_listen(const char *path, int *fd);
/* Closes fd and removes path (if it is still ours). */
void ctl_unlisten(const char *path, int fd);

/* One accepted connection: read a request, write a response. */
struct ctl_conn;
/* Accepts one pending connection; NULL if none (or not root: refused and
 * closed, logged).  The conn's fd is non-blocking. */
struct ctl_conn *ctl_accept(int lfd);
int ctl_conn_fd(const struct ctl_conn *c);
/* Reads what is available.  1 when *req holds a complete request (owned by
 * the conn), 0 to wait for more, or a negative code: close the conn. */
int ctl_conn_read(struct ctl_conn *c, const struct ctl_req **req);
/* Queues the response. 0 or BW_ERR_NOMEM. */
int ctl_conn_reply(struct ctl_conn *c, int32_t code, const char *message, const char *data);
/* Writes what it can: 1 when all was written (close it), 0 to wait for
 * POLLOUT, negative on error. */
int ctl_conn_write(struct ctl_conn *c);
void ctl_conn_free(struct ctl_conn *c);

/* ---- client side ---- */

/* Connects to path, sends r, waits up to timeout_ms for the response.
 * 0 and *resp (the daemon's code is in resp->code); BW_ERR_NOENT when no
 * daemon listens at path (not logged: the caller says what to do);
 * BW_ERR_IO on a timeout or a broken connection (logged);
 * BW_ERR_CORRUPT / BW_ERR_VERSION for a bad answer (logged). */
int ctl_call(const char *path, const struct ctl_req *r, int timeout_ms, struct ctl_resp *resp);

#endif
