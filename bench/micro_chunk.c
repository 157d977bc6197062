/*
 * Micro-benchmark of lib/chunk: chunking and rsync delta throughput on
 * memory buffers (no disk), in MB/s (10^6 bytes per second).
 *
 *   micro_chunk [cdc|delta|all] [MiB] [cpu|wall]
 *
 * Build with optimisation (CFLAGS=-O2) for meaningful numbers.  Times are
 * the thread's CPU time by default, so that other work on a busy machine
 * does not distort them; on an idle machine they match the wall clock.
 */
#include "config.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "lib/chunk/cdc.h"
#include "lib/chunk/delta.h"
#include "lib/crypto/bwcrypto.h"
#include "lib/util/buf.h"

static clockid_t bench_clock = CLOCK_THREAD_CPUTIME_ID;

static double
now(void)
{
	struct timespec ts;

	clock_gettime(bench_clock, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static void
fill(uint8_t *p, size_t n, uint64_t x)
{
	size_t i;

	for (i = 0; i + 8 <= n; i += 8) {
		uint64_t z = (x += 0x9E3779B97F4A7C15ULL);

		z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ULL;
		z = (z ^ (z >> 27)) * 0x94D049BB133111EBULL;
		le64enc(p + i, z ^ (z >> 31));
	}
}

static double
mbps(size_t bytes, double secs)
{
	return (double)bytes / secs / 1e6;
}

/* Plain gear hashing of every byte: the baseline FastCDC's skipping beats. */
static uint64_t
gear_every_byte(const uint64_t gear[256], const uint8_t *p, size_t n, size_t *cuts)
{
	uint64_t h = 0, mask = ~(uint64_t)0 << (64 - 20);
	size_t i;

	for (i = 0; i < n; i++) {
		h = (h << 1) + gear[p[i]];
		if (!(h & mask))
			++*cuts;
	}
	return h;
}

static int
bench_cdc(const uint8_t *data, size_t n)
{
	static const struct cdc_params ps[] = {
		{ 16u << 10, 64u << 10, 256u << 10 },
		{ 64u << 10, 256u << 10, 1u << 20 },
		{ CDC_MIN_DEFAULT, CDC_AVG_DEFAULT, CDC_MAX_DEFAULT },
	};
	uint8_t seed[32] = { 1, 2, 3 };
	uint64_t gear[256];
	size_t k, off, cuts, i;
	double t, best;
	int cut, rep;

	for (k = 0; k < sizeof(ps) / sizeof(ps[0]); k++) {
		struct cdc *c = cdc_new(seed, &ps[k]);

		if (c == NULL)
			return 1;
		best = 1e9;
		for (rep = 0; rep < 3; rep++) {
			t = now();
			cuts = 0;
			for (off = 0; off < n; ) {
				off += cdc_next(c, data + off, n - off, &cut);
				cuts += cut;
			}
			cdc_reset(c);
			t = now() - t;
			if (t < best)
				best = t;
		}
		printf("cdc avg %7u: %8.0f MB/s (%zu chunks, mean %zu bytes)\n", ps[k].avg,
		    mbps(n, best), cuts + 1, n / (cuts + 1));
		cdc_free(c);
	}
	for (i = 0; i < 256; i++)
		gear[i] = 0x9E3779B97F4A7C15ULL * (i + 1);
	best = 1e9;
	for (rep = 0; rep < 3; rep++) {
		uint64_t h;

		cuts = 0;
		t = now();
		h = gear_every_byte(gear, data, n, &cuts);
		t = now() - t;
		if (t < best)
			best = t;
		if (h == 42)
			printf("(unlikely)\n");
	}
	printf("gear hash of every byte (baseline): %8.0f MB/s\n", mbps(n, best));
	return 0;
}

static long
read_mem(void *arg, uint64_t pos, void *buf, size_t len)
{
	const struct buf *b = arg;

	if (pos >= b->len)
		return 0;
	if (len > b->len - pos)
		len = b->len - pos;
	memcpy(buf, b->data + pos, len);
	return (long)len;
}

static int
write_count(void *arg, const void *buf, size_t len)
{
	*(size_t *)arg += len;
	return 0;
}

static int
bench_delta(uint8_t *data, size_t n)
{
	const size_t piece = 1 << 20;
	struct buf sig = { 0 }, delta = { 0 }, basis = { 0 };
	struct delta_sig_job *sj;
	struct delta_sig *s = NULL;
	struct delta_job *dj;
	uint64_t literal = 0;
	size_t off, outlen = 0, i;
	double t;
	int err = 1;

	if ((sj = delta_sig_start(n)) == NULL)
		goto out;
	t = now();
	for (off = 0; off < n; off += piece)
		if (delta_sig_feed(sj, data + off, n - off < piece ? n - off : piece))
			goto out;
	if (delta_sig_finish(sj, &sig))
		goto out;
	t = now() - t;
	printf("signature: %8.0f MB/s (block %u, %zu bytes of signature)\n", mbps(n, t),
	    delta_block_len(n), sig.len);

	t = now();
	if (delta_sig_load(sig.data, sig.len, &s))
		goto out;
	t = now() - t;
	printf("load signature: %.3f s\n", t);

	if (buf_put(&basis, data, n))
		goto out;
	/* New version: 64 scattered 4 KiB edits. */
	for (i = 0; i < 64; i++)
		fill(data + (i * (n / 64) + 12345) % (n - 4096), 4096, i + 1000);

	if ((dj = delta_start(s)) == NULL)
		goto out;
	t = now();
	for (off = 0; off < n; off += piece)
		if (delta_feed(dj, data + off, n - off < piece ? n - off : piece, &delta))
			goto out;
	if (delta_finish(dj, &delta, &literal))
		goto out;
	t = now() - t;
	printf("delta (64 edits): %8.0f MB/s (%zu bytes of delta, %llu literal)\n",
	    mbps(n, t), delta.len, (unsigned long long)literal);

	t = now();
	if (delta_apply(delta.data, delta.len, read_mem, &basis, write_count, &outlen))
		goto out;
	t = now() - t;
	printf("patch: %8.0f MB/s of output\n", mbps(outlen, t));

	/* Worst case for delta: nothing matches. */
	fill(data, n, 777);
	buf_reset(&delta);
	if ((dj = delta_start(s)) == NULL)
		goto out;
	t = now();
	for (off = 0; off < n; off += piece)
		if (delta_feed(dj, data + off, n - off < piece ? n - off : piece, &delta))
			goto out;
	if (delta_finish(dj, &delta, &literal))
		goto out;
	t = now() - t;
	printf("delta (all new): %8.0f MB/s (%llu literal)\n", mbps(n, t),
	    (unsigned long long)literal);
	err = 0;
out:
	delta_sig_free(s);
	buf_free(&sig);
	buf_free(&delta);
	buf_free(&basis);
	return err;
}

int
main(int argc, char **argv)
{
	const char *what = argc > 1 ? argv[1] : "all";
	size_t n = (size_t)(argc > 2 ? atoi(argv[2]) : 256) << 20;
	uint8_t *data;
	int err = 0;

	if (argc > 3 && !strcmp(argv[3], "wall"))
		bench_clock = CLOCK_MONOTONIC;
	if (bwcrypto_init() != 0 || (data = malloc(n)) == NULL)
		return 1;
	printf("%zu MiB, %s time\n", n >> 20, bench_clock == CLOCK_MONOTONIC ? "wall" : "cpu");
	fill(data, n, 1);
	if (!strcmp(what, "cdc") || !strcmp(what, "all"))
		err |= bench_cdc(data, n);
	if (!strcmp(what, "delta") || !strcmp(what, "all"))
		err |= bench_delta(data, n);
	free(data);
	return err;
}
