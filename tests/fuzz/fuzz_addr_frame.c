/*
 * libFuzzer harness: arbitrary bytes as a frame seen on the link while
 * probing for an address (an ARP packet, or an IPv6 packet: the first
 * input byte picks which) must only ever give "conflict", "nothing" or
 * "malformed", reading nothing outside the frame.
 */
#include "config.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "failover/addr.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static const uint8_t mine[6] = { 0x02, 0, 0, 0, 0, 0x01 };
	struct addr_spec a;
	uint8_t who[6] = { 0 }, *copy;
	int r;

	if (size < 1)
		return 0;
	if (addr_parse(data[0] & 1 ? "fd00:99::6/64" : "10.99.0.6/24", "eth0", &a) != 0)
		abort();
	size--;
	if ((copy = malloc(size ? size : 1)) == NULL)
		return 0;
	memcpy(copy, data + 1, size);
	r = addr_frame_conflict(&a, mine, copy, size, who);
	if (r < -1 || r > 1)
		abort();
	free(copy);
	return 0;
}
