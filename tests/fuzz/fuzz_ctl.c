/*
 * libFuzzer harness: arbitrary bytes as a control-socket frame, read as a
 * request and as a response, must give a verdict, never a crash; whatever
 * decodes must encode back to the same bytes.
 */
#include "config.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "lib/ctl/ctl.h"
#include "lib/util/buf.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct ctl_req req;
	struct ctl_resp resp;
	struct buf b = { 0 };
	uint8_t kind;
	uint32_t len;

	if (size >= CTL_HDR_LEN)
		(void)ctl_frame_head(data, size, &kind, &len);
	if (ctl_req_decode(data, size, &req) == 0) {
		if (ctl_req_encode(&b, &req) != 0 || b.len != size || memcmp(b.data, data, size))
			abort();
		ctl_req_clear(&req);
	}
	buf_reset(&b);
	if (ctl_resp_decode(data, size, &resp) == 0) {
		if (ctl_resp_encode(&b, resp.code, resp.message, resp.data) != 0 || b.len != size ||
		    memcmp(b.data, data, size))
			abort();
		ctl_resp_clear(&resp);
	}
	buf_free(&b);
	return 0;
}
