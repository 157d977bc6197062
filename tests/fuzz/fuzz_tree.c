/* libFuzzer: tree objects and content descriptors are untrusted bytes. */
#include "config.h"

#include <stddef.h>
#include <stdint.h>

#include "lib/repo/tree.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct tree *t = NULL;
	struct tree_content c;
	struct bufr r;

	if (tree_decode(data, size, &t) == 0) {
		/* what parses must encode again without trouble */
		struct buf b = { 0 };
		size_t i;

		for (i = 0; i < t->n; i++)
			(void)tree_entry_encode(&b, &t->e[i]);
		buf_free(&b);
		tree_free(t);
	}
	bufr_init(&r, data, size);
	if (tree_content_decode(&r, &c, TREE_DELTA_DEPTH_MAX) == 0)
		tree_content_clear(&c);
	return 0;
}
