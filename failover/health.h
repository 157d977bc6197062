/*
 * Health checks of a site, run by the loop and never blocking it.  Each
 * check of the site runs on its own schedule: a probe, then the next one
 * check_interval_ms after it ended; a probe that takes longer than
 * check_timeout_ms fails.  Kinds:
 *   http     connect to the URL's address literal and port, send a GET with
 *            "Connection: close", read at most HEALTH_HTTP_MAX bytes; healthy
 *            when the status is expect_status and the body holds expect_body
 *   tcp      a connection is accepted
 *   command  "/bin/sh -c COMMAND" exits 0
 * Each check counts consecutive results: it becomes healthy after `rise`
 * successes in a row and unhealthy after `fall` failures in a row.  The
 * site is healthy when all its checks are, unhealthy as soon as one is,
 * and unknown before that.  A site without checks is healthy at start.
 */
#ifndef BW_FAILOVER_HEALTH_H
#define BW_FAILOVER_HEALTH_H

#include <stddef.h>
#include <stdint.h>

#include "config/config.h"

#define HEALTH_HTTP_MAX (64 * 1024)

struct loop;
struct health;

enum health_state { HEALTH_UNKNOWN = -1, HEALTH_DOWN = 0, HEALTH_UP = 1 };

/* Called from the loop when the site's state changes; reason names the
 * check and what it saw ("http://10.0.0.1/: status 503", "tcp
 * 10.0.0.1:80: connection refused", "http://10.0.0.1/: timeout after
 * 2000 ms"). */
typedef void health_change_fn(struct health *h, enum health_state state,
    const char *reason, void *arg);

/* Checks site (borrowed: it must outlive the handle); the first probes
 * start at once.  NULL on no memory or a check it cannot run (logged,
 * naming the site and the check). */
struct health *health_new(struct loop *l, const struct config_site *site,
    health_change_fn *fn, void *arg);
/* Stops every probe (kills a running check command). */
void health_free(struct health *h);
enum health_state health_state(const struct health *h);
/* The last result's description, for status output ("ok" or a reason). */
const char *health_last(const struct health *h);

/* Parses an HTTP/1.x response (possibly cut at HEALTH_HTTP_MAX): strict
 * status line "HTTP/1.D DDD reason", header lines up to an empty line.
 * 0 with *status and the body (pointing into p; empty if the headers did
 * not end), or BW_ERR_CORRUPT. */
int health_http_parse(const uint8_t *p, size_t n, unsigned *status,
    const uint8_t **body, size_t *bodylen);

/* Splits "http://HOST[:PORT]/PATH" (HOST an IPv4 literal or [IPv6]) into
 * a socket address (sa of size *salen in, set out) and a path ("/" if
 * none).  0 or BW_ERR_INVAL, not logged. */
struct sockaddr;
int health_url_parse(const char *url, struct sockaddr *sa, unsigned *salen,
    char *path, size_t pathmax);

#endif
