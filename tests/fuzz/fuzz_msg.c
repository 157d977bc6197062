/*
 * libFuzzer harness for failoverd's CPG messages (msg_decode).  Beyond
 * memory safety: a message that decodes encodes back to the same bytes
 * (the format has one spelling for each message), and what decodes holds
 * only values in range.
 */
#include "config.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "failover/msg.h"
#include "lib/util/buf.h"
#include "lib/util/err.h"
#include "lib/util/log.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void
sink(enum log_level lvl, const char *msg, void *arg)
{
	(void)lvl;
	(void)msg;
	(void)arg;
	abort();	/* a decoded message always encodes */
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct buf b = { 0 };
	struct msg m;
	size_t i;
	int r;

	log_set_sink(sink, NULL);
	r = msg_decode(data, size, &m);
	if (r != 0) {
		if (r != BW_ERR_CORRUPT && r != BW_ERR_VERSION && r != BW_ERR_NOMEM)
			abort();
		if (m.sites != NULL)
			abort();
		return 0;
	}
	if (m.type < 1 || m.type > FMSG__MAX || m.state > FMSG_SITE__MAX ||
	    m.decision > FMSG_DECIDE__MAX || strlen(m.reason) > FMSG_REASON_MAX)
		abort();
	for (i = 0; i < m.nsites; i++)
		if (m.sites[i].site[0] == '\0' || m.sites[i].state > FMSG_SITE__MAX)
			abort();
	if (msg_encode(&m, &b) != 0 || b.len != size || memcmp(b.data, data, size) != 0)
		abort();
	buf_free(&b);
	msg_free(&m);
	return 0;
}
