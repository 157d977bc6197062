/*
 * corosync.conf for a Bulwark cluster, generated from bulwark.conf's
 * [cluster] and [node] sections, so that the two never disagree about the
 * nodes, their ids and addresses, or the token.
 */
#ifndef BW_FAILOVER_COROSYNC_CONF_H
#define BW_FAILOVER_COROSYNC_CONF_H

#include "config/config.h"
#include "lib/util/buf.h"

/*
 * Appends the text of a corosync.conf to out (not NUL-terminated), then
 * comment lines on distributing the authkey.  source names the file the
 * configuration came from, in the header comment (or NULL).  0;
 * BW_ERR_INVAL (logged) when cfg has no [node] sections; BW_ERR_NOMEM.
 */
int corosync_conf_render(const struct config *cfg, const char *source, struct buf *out);

#endif
