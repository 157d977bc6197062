/*
 * libFuzzer harness for the two parsers of untrusted rsync bytes: a delta
 * applied to a small fixed basis, and a signature load (and, when it loads,
 * a delta computed against it, which walks its hash table), and the
 * exact-delta encoder, whose output must always rebuild its input.  A
 * delta that applies also has the signature of its result derived from it
 * and the basis's signature, which must be the one computed from the
 * result's bytes.
 *
 * Most of the parsing happens inside librsync, which a distribution builds
 * without coverage instrumentation, so the fuzzer is nearly blind there.
 * For a real campaign, build librsync from source with the same
 * -fsanitize=fuzzer-no-link,address,undefined flags and link this harness
 * against that static library instead; seed it with a few signatures and
 * deltas made with this module.
 */
#include "config.h"

#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include "lib/chunk/delta.h"
#include "lib/util/buf.h"
#include "lib/util/err.h"
#include "lib/util/log.h"

static uint8_t basis[4096];

struct out {
	size_t n;
	struct buf kept;	/* the first KEEP_MAX bytes */
};

#define KEEP_MAX (1u << 20)
static struct delta_sig *basis_sig;

static long
read_basis(void *arg, uint64_t pos, void *buf, size_t len)
{
	if (pos >= sizeof(basis))
		return 0;
	if (len > sizeof(basis) - pos)
		len = sizeof(basis) - pos;
	memcpy(buf, basis + pos, len);
	return (long)len;
}

static int
write_out(void *arg, const void *buf, size_t len)
{
	struct out *o = arg;

	/* Copies may repeat the basis; stop runaway outputs early. */
	o->n += len;
	if (o->kept.len + len <= KEEP_MAX)
		buf_put(&o->kept, buf, len);
	return o->n > (64u << 20) ? -5 : 0;
}

static long
read_kept(void *arg, uint64_t pos, void *buf, size_t len)
{
	const struct buf *b = arg;

	if (pos >= b->len)
		return 0;
	if (len > b->len - pos)
		len = (size_t)(b->len - pos);
	memcpy(buf, b->data + pos, len);
	return (long)len;
}

/* The result's signature derived from the delta must be the one computed
 * from its bytes. */
static void
check_derived(const uint8_t *delta, size_t n, const struct buf *res)
{
	struct delta_sig_job *j;
	struct buf want = { 0 }, got = { 0 };

	if ((j = delta_sig_start(res->len)) == NULL)
		return;
	if (delta_sig_feed(j, res->data, res->len) != 0 || delta_sig_finish(j, &want) != 0)
		goto out;
	switch (delta_sig_derive(basis_sig, delta, n, res->len, res->len, read_kept,
	    (void *)(uintptr_t)res, &got, NULL)) {
	case 0:
		break;
	case 1:			/* copies from off the basis's block grid */
	case BW_ERR_NOMEM:
		goto out;
	default:		/* nothing else can fail here */
		__builtin_trap();
	}
	if (got.len != want.len || memcmp(got.data, want.data, want.len) != 0)
		__builtin_trap();
out:
	buf_free(&want);
	buf_free(&got);
}

static void
quiet(enum log_level lvl, const char *msg, void *arg)
{
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static int init;
	struct delta_sig *s = NULL;
	struct delta_job *j;
	struct out o = { 0 };
	struct buf d = { 0 };
	uint64_t lit;
	size_t i;

	if (!init) {
		struct delta_sig_job *sj;

		for (i = 0; i < sizeof(basis); i++)
			basis[i] = (uint8_t)(i * 131 + (i >> 7));
		log_set_sink(quiet, NULL);
		if ((sj = delta_sig_start(sizeof(basis))) == NULL ||
		    delta_sig_feed(sj, basis, sizeof(basis)) != 0 ||
		    delta_sig_finish(sj, &d) != 0 ||
		    delta_sig_load(d.data, d.len, &basis_sig) != 0)
			__builtin_trap();
		buf_free(&d);
		init = 1;
	}
	if (delta_apply(data, size, read_basis, NULL, write_out, &o) == 0 && o.n == o.kept.len)
		check_derived(data, size, &o.kept);
	buf_free(&o.kept);
	if (delta_sig_load(data, size, &s) == 0) {
		if ((j = delta_start(s)) != NULL) {
			delta_feed(j, basis, sizeof(basis), &d);
			delta_finish(j, &d, &lit);
		}
		delta_sig_free(s);
	}
	buf_free(&d);
	/* the exact delta of the input's second part against its first
	 * (split where the first byte says): it checks itself by applying
	 * what it made, and must never fail that check */
	if (size > 0) {
		size_t cut = size > 1 ? 1 + (size_t)data[0] * (size - 1) / 255 : 1;

		if (delta_diff(data + 1, cut - 1, data + cut, size - cut, &d) == BW_ERR_INVAL)
			__builtin_trap();
		buf_free(&d);
	}
	return 0;
}
