/*
 * libFuzzer harness: arbitrary bytes as an HTTP response (what a health
 * check reads from the site, at most HEALTH_HTTP_MAX of them) must only
 * ever give a status or a refusal, with the body inside the input.
 */
#include "config.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "failover/health.h"
#include "lib/util/err.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	const uint8_t *body = NULL;
	size_t blen = 0;
	unsigned status = 0;
	uint8_t *copy;

	if (size > HEALTH_HTTP_MAX)
		size = HEALTH_HTTP_MAX;
	/* An exact-size copy, so ASan sees any read past the end. */
	if ((copy = malloc(size ? size : 1)) == NULL)
		return 0;
	memcpy(copy, data, size);
	if (health_http_parse(copy, size, &status, &body, &blen) == 0) {
		if (status < 100 || status > 599)
			abort();
		if (body < copy || body > copy + size || blen > (size_t)(copy + size - body))
			abort();
		if (blen && memchr(body, 0, blen) == (void *)-1)
			abort();
	}
	free(copy);
	return 0;
}
