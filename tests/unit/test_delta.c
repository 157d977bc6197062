#include "config.h"

#include <check.h>
#include <stdlib.h>
#include <string.h>

#include "lib/chunk/delta.h"
#include "lib/crypto/bwcrypto.h"
#include "lib/util/buf.h"
#include "lib/util/err.h"
#include "lib/util/log.h"

static uint64_t
splitmix(uint64_t *x)
{
	uint64_t z = (*x += 0x9E3779B97F4A7C15ULL);

	z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ULL;
	z = (z ^ (z >> 27)) * 0x94D049BB133111EBULL;
	return z ^ (z >> 31);
}

static void
fill(uint8_t *p, size_t n, uint64_t seed)
{
	uint8_t v[8];
	size_t i;

	for (i = 0; i < n; i += 8) {
		le64enc(v, splitmix(&seed));
		memcpy(p + i, v, n - i < 8 ? n - i : 8);
	}
}

static uint8_t *
random_data(uint64_t seed, size_t n)
{
	uint8_t *p = malloc(n ? n : 1);

	ck_assert_ptr_nonnull(p);
	fill(p, n, seed);
	return p;
}

/* Piece size for feeding: all at once (rng 0) or random, often tiny. */
static size_t
piece(uint64_t *rng, size_t left)
{
	size_t want;

	if (*rng == 0)
		return left;
	want = 1 + splitmix(rng) % 200000;
	if ((splitmix(rng) & 3) == 0)
		want = 1 + want % 13;
	return want < left ? want : left;
}

static void
make_sig(const uint8_t *p, size_t n, uint64_t rng, struct buf *sig)
{
	struct delta_sig_job *j = delta_sig_start(n);
	size_t off, k;

	ck_assert_ptr_nonnull(j);
	for (off = 0; off < n; off += k) {
		k = piece(&rng, n - off);
		ck_assert_int_eq(delta_sig_feed(j, p + off, k), 0);
	}
	ck_assert_int_eq(delta_sig_finish(j, sig), 0);
}

static uint64_t
make_delta(const struct buf *sigbytes, const uint8_t *p, size_t n, uint64_t rng,
    struct buf *delta)
{
	struct delta_sig *s;
	struct delta_job *j;
	uint64_t literal = ~0ULL;
	size_t off, k;

	ck_assert_int_eq(delta_sig_load(sigbytes->data, sigbytes->len, &s), 0);
	ck_assert_ptr_nonnull(j = delta_start(s));
	for (off = 0; off < n; off += k) {
		k = piece(&rng, n - off);
		ck_assert_int_eq(delta_feed(j, p + off, k, delta), 0);
	}
	ck_assert_int_eq(delta_finish(j, delta, &literal), 0);
	delta_sig_free(s);
	return literal;
}

struct mem {
	const uint8_t *p;
	size_t n;
	int fail;	/* return this from the next read */
};

static long
read_mem(void *arg, uint64_t pos, void *buf, size_t len)
{
	struct mem *m = arg;

	if (m->fail)
		return m->fail;
	if (pos >= m->n)
		return 0;
	if (len > m->n - pos)
		len = m->n - pos;
	/* Short reads are legal: hand out at most 1000 bytes at a time. */
	if (len > 1000)
		len = 1000;
	memcpy(buf, m->p + pos, len);
	return (long)len;
}

static int
write_buf(void *arg, const void *p, size_t n)
{
	return buf_put(arg, p, n);
}

static int
apply(const struct buf *delta, const uint8_t *basis, size_t bn, struct buf *out)
{
	struct mem m = { basis, bn, 0 };

	return delta_apply(delta->data, delta->len, read_mem, &m, write_buf, out);
}

static void
quiet(enum log_level lvl, const char *msg, void *arg)
{
}

/* Signature of old, delta of new, apply to old: must give new.  Returns the
 * literal bytes; the delta's size goes to last_delta_len. */
static size_t last_delta_len;

static uint64_t
round_trip(const uint8_t *old, size_t on, const uint8_t *new, size_t nn, uint64_t rng)
{
	struct buf sig = { 0 }, delta = { 0 }, out = { 0 };
	uint64_t literal;

	make_sig(old, on, rng, &sig);
	literal = make_delta(&sig, new, nn, rng ? rng + 1 : 0, &delta);
	ck_assert_int_eq(apply(&delta, old, on, &out), 0);
	ck_assert_uint_eq(out.len, nn);
	ck_assert(nn == 0 || memcmp(out.data, new, nn) == 0);
	/* The delta costs about its literal bytes: commands are small. */
	ck_assert_uint_le(delta.len, literal + 64 + nn / 1000);
	last_delta_len = delta.len;
	buf_free(&sig);
	buf_free(&delta);
	buf_free(&out);
	return literal;
}

#define TEN_MIB (10u << 20)

START_TEST(test_identical)
{
	uint8_t *a = random_data(1, TEN_MIB);

	ck_assert_uint_eq(round_trip(a, TEN_MIB, a, TEN_MIB, 0), 0);
	free(a);
}
END_TEST

START_TEST(test_overwrite_middle)
{
	uint8_t *a = random_data(2, TEN_MIB), *b = malloc(TEN_MIB);
	uint32_t bl = delta_block_len(TEN_MIB);
	uint64_t lit;

	ck_assert_ptr_nonnull(b);
	memcpy(b, a, TEN_MIB);
	fill(b + TEN_MIB / 2 + 123, 4096, 99);	/* not block-aligned */
	lit = round_trip(a, TEN_MIB, b, TEN_MIB, 0);
	ck_assert_uint_ge(lit, 4096);
	ck_assert_uint_le(lit, 4096 + 2 * bl);
	/* What is stored: the literal plus a few commands. */
	ck_assert_uint_le(last_delta_len, 4096 + 2 * bl + 64);
	free(a);
	free(b);
}
END_TEST

START_TEST(test_large_file)
{
	/* Past 64 MiB the block length grows: the same bound must hold. */
	size_t n = 72u << 20;
	uint8_t *a = random_data(12, n), *b = malloc(n);
	uint32_t bl = delta_block_len(n);
	uint64_t lit;

	ck_assert_uint_gt(bl, 512);
	ck_assert_ptr_nonnull(b);
	memcpy(b, a, n);
	fill(b + n / 3 + 1, 4096, 98);
	lit = round_trip(a, n, b, n, 0);
	ck_assert_uint_ge(lit, 4096);
	ck_assert_uint_le(lit, 4096 + 2 * bl);
	free(a);
	free(b);
}
END_TEST

START_TEST(test_append)
{
	size_t more = 1 << 20;
	uint8_t *b = random_data(3, TEN_MIB + more);
	uint64_t lit;

	lit = round_trip(b, TEN_MIB, b, TEN_MIB + more, 0);
	ck_assert_uint_ge(lit, more);
	ck_assert_uint_le(lit, more + delta_block_len(TEN_MIB));
	free(b);
}
END_TEST

START_TEST(test_truncate)
{
	uint8_t *a = random_data(4, TEN_MIB);

	ck_assert_uint_le(round_trip(a, TEN_MIB, a, 7 * 1000 * 1000 + 333, 0),
	    delta_block_len(TEN_MIB));
	ck_assert_uint_eq(round_trip(a, TEN_MIB, a, 0, 0), 0);
	free(a);
}
END_TEST

START_TEST(test_rewrite)
{
	uint8_t *a = random_data(5, TEN_MIB), *b = random_data(6, TEN_MIB);
	uint64_t lit;

	lit = round_trip(a, TEN_MIB, b, TEN_MIB, 0);
	ck_assert_uint_ge(lit, TEN_MIB - TEN_MIB / 100);
	ck_assert_uint_le(lit, TEN_MIB);
	free(a);
	free(b);
}
END_TEST

START_TEST(test_empty)
{
	uint8_t *a = random_data(7, 100000);

	ck_assert_uint_eq(round_trip(a, 0, a, 0, 0), 0);
	ck_assert_uint_eq(round_trip(a, 0, a, 100000, 0), 100000);
	ck_assert_uint_eq(round_trip(a, 100000, a, 0, 0), 0);
	ck_assert_uint_eq(round_trip(a, 300, a, 300, 0), 0);	/* less than a block */
	free(a);
}
END_TEST

START_TEST(test_pieces_do_not_matter)
{
	size_t n = 3 << 20;
	uint8_t *a = random_data(8, n), *b = malloc(n);
	struct buf s0 = { 0 }, s1 = { 0 }, d0 = { 0 }, d1 = { 0 };
	uint64_t rng, l0, l1;
	int i;

	ck_assert_ptr_nonnull(b);
	memcpy(b, a, n);
	for (i = 0; i < 20; i++)
		fill(b + (size_t)i * 150001, 777, (uint64_t)i);
	memmove(b + 1000000, b + 1000010, n - 1000010);	/* a deletion */
	make_sig(a, n, 0, &s0);
	l0 = make_delta(&s0, b, n, 0, &d0);
	for (rng = 1; rng <= 6; rng++) {
		make_sig(a, n, rng * 7919, &s1);
		ck_assert_uint_eq(s1.len, s0.len);
		ck_assert_mem_eq(s1.data, s0.data, s0.len);
		l1 = make_delta(&s0, b, n, rng * 104729, &d1);
		ck_assert_uint_eq(l1, l0);
		ck_assert_uint_eq(d1.len, d0.len);
		ck_assert_mem_eq(d1.data, d0.data, d0.len);
		round_trip(a, n, b, n, rng);
		buf_reset(&s1);
		buf_reset(&d1);
	}
	buf_free(&s0);
	buf_free(&s1);
	buf_free(&d0);
	buf_free(&d1);
	free(a);
	free(b);
}
END_TEST

/* A small valid delta to damage. */
static void
small_case(uint8_t **basis, size_t *bn, struct buf *delta)
{
	size_t n = 64 << 10;
	uint8_t *a = random_data(9, n), *b = malloc(n + 5000);
	struct buf sig = { 0 };

	ck_assert_ptr_nonnull(b);
	memcpy(b, a, 20000);
	fill(b + 20000, 5000, 1);
	memcpy(b + 25000, a + 20000, n - 20000);
	make_sig(a, n, 0, &sig);
	make_delta(&sig, b, n + 5000, 0, delta);
	buf_free(&sig);
	free(b);
	*basis = a;
	*bn = n;
}

START_TEST(test_corrupt_delta)
{
	struct buf delta = { 0 }, bad = { 0 }, out = { 0 };
	uint64_t rng = 12345;
	uint8_t *basis;
	size_t bn, i, cut;
	int err, trial, k;

	small_case(&basis, &bn, &delta);
	log_set_sink(quiet, NULL);
	/* Every strict prefix is refused. */
	for (cut = 0; cut < delta.len; cut += cut < 64 ? 1 : 97) {
		buf_reset(&bad);
		buf_reset(&out);
		buf_put(&bad, delta.data, cut);
		log_reset_count();
		ck_assert_int_eq(apply(&bad, basis, bn, &out), BW_ERR_CORRUPT);
		ck_assert_uint_eq(log_error_count(), 1);
	}
	/* Bytes after the end are refused. */
	buf_reset(&bad);
	buf_put(&bad, delta.data, delta.len);
	buf_put_u8(&bad, 0);
	ck_assert_int_eq(apply(&bad, basis, bn, &out), BW_ERR_CORRUPT);
	/* Damage anywhere: a wrong result or BW_ERR_CORRUPT, never a crash.
	 * Damage in the header or commands must be refused. */
	for (trial = 0; trial < 3000; trial++) {
		buf_reset(&bad);
		buf_reset(&out);
		buf_put(&bad, delta.data, delta.len);
		for (k = 0; k < 1 + trial % 4; k++) {
			i = trial < 200 ? (size_t)trial % 40 : splitmix(&rng) % delta.len;
			bad.data[i] ^= (uint8_t)(1 + splitmix(&rng) % 255);
		}
		err = apply(&bad, basis, bn, &out);
		ck_assert(err == 0 || err == BW_ERR_CORRUPT);
		if (trial < 4)	/* the magic */
			ck_assert_int_eq(err, BW_ERR_CORRUPT);
	}
	log_set_sink(NULL, NULL);
	buf_free(&delta);
	buf_free(&bad);
	buf_free(&out);
	free(basis);
}
END_TEST

START_TEST(test_past_basis)
{
	/* Magic, COPY(pos u8, len u8), END: hand-made so the test says what
	 * it means. */
	static const uint8_t outside[] = { 0x72, 0x73, 0x02, 0x36, 0x45, 0xf0, 0x10, 0x00 };
	static const uint8_t straddle[] = { 0x72, 0x73, 0x02, 0x36, 0x45, 0x08, 0x10, 0x00 };
	static const uint8_t inside[] = { 0x72, 0x73, 0x02, 0x36, 0x45, 0x04, 0x08, 0x00 };
	struct buf delta = { 0 }, out = { 0 }, d = { 0 };
	uint8_t *basis;
	size_t bn;

	log_set_sink(quiet, NULL);
	small_case(&basis, &bn, &delta);
	/* The real delta against a shorter basis. */
	log_reset_count();
	ck_assert_int_eq(apply(&delta, basis, bn / 2, &out), BW_ERR_CORRUPT);
	ck_assert_uint_eq(log_error_count(), 1);
	buf_put(&d, outside, sizeof(outside));
	ck_assert_int_eq(apply(&d, basis, 16, &out), BW_ERR_CORRUPT);
	buf_reset(&d);
	buf_put(&d, straddle, sizeof(straddle));
	ck_assert_int_eq(apply(&d, basis, 16, &out), BW_ERR_CORRUPT);
	buf_reset(&d);
	buf_reset(&out);
	buf_put(&d, inside, sizeof(inside));
	ck_assert_int_eq(apply(&d, basis, 16, &out), 0);
	ck_assert_uint_eq(out.len, 8);
	ck_assert_mem_eq(out.data, basis + 4, 8);
	log_set_sink(NULL, NULL);
	buf_free(&delta);
	buf_free(&out);
	buf_free(&d);
	free(basis);
}
END_TEST

static int
write_fail(void *arg, const void *p, size_t n)
{
	return BW_ERR_NOSPC;
}

START_TEST(test_io_errors_pass_through)
{
	struct buf delta = { 0 }, out = { 0 };
	struct mem m;
	uint8_t *basis;
	size_t bn;

	small_case(&basis, &bn, &delta);
	m.p = basis;
	m.n = bn;
	m.fail = BW_ERR_IO;
	ck_assert_int_eq(delta_apply(delta.data, delta.len, read_mem, &m, write_buf, &out),
	    BW_ERR_IO);
	m.fail = 0;
	ck_assert_int_eq(delta_apply(delta.data, delta.len, read_mem, &m, write_fail, NULL),
	    BW_ERR_NOSPC);
	buf_free(&delta);
	buf_free(&out);
	free(basis);
}
END_TEST

START_TEST(test_corrupt_sig)
{
	uint8_t *a = random_data(10, 100000);
	struct buf sig = { 0 }, bad = { 0 };
	struct delta_sig *s;
	uint64_t rng = 77;
	size_t i;
	int trial, err;

	make_sig(a, 100000, 0, &sig);
	log_set_sink(quiet, NULL);
	for (i = 0; i < 40; i++) {	/* prefixes, including a partial block */
		ck_assert_int_eq(delta_sig_load(sig.data, i < 12 ? i : sig.len - i, &s),
		    i < 12 || (i - 12) % 12 != 0 ? BW_ERR_CORRUPT : 0);
		delta_sig_free(s);
	}
	for (i = 0; i < 12; i++) {	/* every header byte matters */
		buf_reset(&bad);
		buf_put(&bad, sig.data, sig.len);
		bad.data[i] ^= 0x80;
		ck_assert_int_eq(delta_sig_load(bad.data, bad.len, &s), BW_ERR_CORRUPT);
		ck_assert_ptr_null(s);
	}
	/* The RabinKarp variant is accepted (a later writer may use it). */
	buf_reset(&bad);
	buf_put(&bad, sig.data, sig.len);
	bad.data[3] = 0x47;
	ck_assert_int_eq(delta_sig_load(bad.data, bad.len, &s), 0);
	delta_sig_free(s);
	for (trial = 0; trial < 200; trial++) {	/* damaged sums load, and work */
		struct buf d = { 0 }, out = { 0 };
		struct delta_job *j;
		uint64_t lit;

		buf_reset(&bad);
		buf_put(&bad, sig.data, sig.len);
		bad.data[12 + splitmix(&rng) % (sig.len - 12)] ^= 1;
		err = delta_sig_load(bad.data, bad.len, &s);
		ck_assert_int_eq(err, 0);
		ck_assert_ptr_nonnull(j = delta_start(s));
		ck_assert_int_eq(delta_feed(j, a, 100000, &d), 0);
		ck_assert_int_eq(delta_finish(j, &d, &lit), 0);
		ck_assert_int_eq(apply(&d, a, 100000, &out), 0);
		ck_assert_uint_eq(out.len, 100000);
		ck_assert_mem_eq(out.data, a, 100000);
		delta_sig_free(s);
		buf_free(&d);
		buf_free(&out);
	}
	log_set_sink(NULL, NULL);
	buf_free(&sig);
	buf_free(&bad);
	free(a);
}
END_TEST

START_TEST(test_golden_signature)
{
	/* Stored signatures must stay loadable and deltas against them
	 * appliable: pin the bytes this version writes (librsync 2.3), with
	 * the block length files get now (256) and had before (512), which
	 * caches still hold. */
	static const struct { uint32_t bl; size_t blocks; const char *hex; } g[] = {
		{ 256, 20, "47a61c12ffd041b146ca325c9bcc0dd7f3a511f5ef4628ba8781f98002b1dc53" },
		{ 512, 10, "97e4ceaabdc4e03be2cdc288c7b00d4ba6eebe0a8290074f2ccae6639a33b4b2" },
	};
	uint8_t hdr[12] = { 0x72, 0x73, 0x01, 0x37, 0, 0, 0, 0, 0, 0, 0, 8 };
	uint8_t d[5000], h[BWC_ID];
	struct delta_sig_job *j;
	struct delta_sig *s;
	char hex[2 * BWC_ID + 1];
	size_t i, k;

	for (i = 0; i < sizeof(d); i++)
		d[i] = (uint8_t)(i * 7 + (i >> 8));
	ck_assert_uint_eq(delta_block_len(sizeof(d)), g[0].bl);
	for (k = 0; k < 2; k++) {
		struct buf sig = { 0 };

		ck_assert_ptr_nonnull(j = delta_sig_start_block(sizeof(d), g[k].bl));
		ck_assert_int_eq(delta_sig_feed(j, d, sizeof(d)), 0);
		ck_assert_int_eq(delta_sig_finish(j, &sig), 0);
		ck_assert_uint_eq(sig.len, 12 + g[k].blocks * (4 + 8));
		hdr[6] = (uint8_t)(g[k].bl >> 8);
		ck_assert_mem_eq(sig.data, hdr, sizeof(hdr));
		bwcrypto_hash_plain(h, sig.data, sig.len);
		hex_encode(hex, h, sizeof(h));
		ck_assert_str_eq(hex, g[k].hex);
		ck_assert_int_eq(delta_sig_load(sig.data, sig.len, &s), 0);
		delta_sig_free(s);
		buf_free(&sig);
	}
}
END_TEST

START_TEST(test_block_len)
{
	static const uint64_t sizes[] = { 0, 1, 1 << 20, 64ULL << 20, (64ULL << 20) + 1,
	    1ULL << 30, 10ULL << 30, 100ULL << 30, 1ULL << 40, 1ULL << 50, UINT64_MAX };
	uint32_t prev = 0, bl;
	size_t i;

	for (i = 0; i < sizeof(sizes) / sizeof(sizes[0]); i++) {
		bl = delta_block_len(sizes[i]);
		ck_assert_uint_ge(bl, prev);
		ck_assert_uint_eq(bl & (bl - 1), 0);
		if (sizes[i] <= 64ULL << 20)
			ck_assert_uint_eq(bl, 256);
		else	/* a block costs at most 4 + 32 bytes of signature */
			ck_assert_uint_le(sizes[i] / bl * 12, sizes[i] / 100);
		prev = bl;
	}
	ck_assert_uint_le(prev, 1 << 20);
}
END_TEST

/* A run of equal blocks (zeros) that an edit leaves alone costs nothing:
 * librsync's one COPY per block (all from the first such block) are merged
 * back into one. */
START_TEST(test_equal_blocks_merge)
{
	size_t n = 4u << 20;
	uint8_t *a = random_data(23, n), *b = malloc(n);
	uint32_t bl = delta_block_len(n);

	ck_assert_ptr_nonnull(b);
	memset(a + 4096, 0, 2u << 20);
	memcpy(b, a, n);
	fill(b + (3u << 20) + 123, 4096, 24);
	round_trip(a, n, b, n, 0);
	ck_assert_uint_le(last_delta_len, 4096 + 2 * bl + 64);
	/* and an edit inside the zeros */
	memcpy(b, a, n);
	fill(b + (1u << 20) + 77, 4096, 25);
	round_trip(a, n, b, n, 0);
	ck_assert_uint_le(last_delta_len, 4096 + 2 * bl + 64);
	free(a);
	free(b);
}
END_TEST

/* Exact delta of new against old, applied to old: must give new; returns
 * the delta's size. */
static size_t
exact_round_trip(const uint8_t *old, size_t on, const uint8_t *new, size_t nn)
{
	struct buf delta = { 0 }, out = { 0 };
	size_t len;

	ck_assert_int_eq(delta_diff(old, on, new, nn, &delta), 0);
	ck_assert_int_eq(apply(&delta, old, on, &out), 0);
	ck_assert_uint_eq(out.len, nn);
	ck_assert(nn == 0 || memcmp(out.data, new, nn) == 0);
	len = delta.len;
	buf_free(&delta);
	buf_free(&out);
	return len;
}

START_TEST(test_exact_small_edits)
{
	size_t n = 300000, i;
	uint8_t *a = random_data(21, n), *b = malloc(n + 100);
	size_t len;

	ck_assert_ptr_nonnull(b);
	/* identical: a handful of bytes of commands */
	ck_assert_uint_le(exact_round_trip(a, n, a, n), 16);
	/* 32 bytes overwritten at an odd place, as a changed id in a tree
	 * entry: the delta holds those bytes, not a block around them */
	memcpy(b, a, n);
	fill(b + 100003, 32, 5);
	len = exact_round_trip(a, n, b, n);
	ck_assert_uint_ge(len, 32);
	ck_assert_uint_le(len, 32 + 32);
	/* several changes, one insertion and one deletion */
	memcpy(b, a, 5000);
	fill(b + 5000, 40, 6);			/* 40 inserted */
	memcpy(b + 5040, a + 5000, 60000);
	memcpy(b + 65040, a + 65100, n - 65100);	/* 100 deleted */
	for (i = 1; i <= 5; i++)
		b[i * 40000 + 7] ^= 0x5a;	/* single bytes */
	len = exact_round_trip(a, n, b, n - 60);
	ck_assert_uint_le(len, 40 + 5 + 7 * 24);
	free(a);
	free(b);
}
END_TEST

START_TEST(test_exact_edges)
{
	uint8_t *a = random_data(22, 70000), *z = calloc(1, 70000), *b = malloc(70000);

	ck_assert_ptr_nonnull(z);
	ck_assert_ptr_nonnull(b);
	/* empty and tiny sides */
	exact_round_trip(a, 0, a, 0);
	exact_round_trip(a, 0, a, 70000);
	exact_round_trip(a, 70000, a, 0);
	exact_round_trip(a, 15, a, 15);
	exact_round_trip(a, 70000, a + 3, 10);
	/* repeated bytes everywhere: any match will do, and must be right */
	memcpy(b, z, 70000);
	fill(b + 33333, 17, 7);
	ck_assert_uint_le(exact_round_trip(z, 70000, b, 70000), 64);
	/* unrelated data: one literal */
	ck_assert_uint_le(exact_round_trip(z, 70000, a, 70000), 70000 + 16);
	/* the new bytes at a different place of the old ones (a shifted
	 * tree) and copied twice */
	memcpy(b, a + 12345, 30000);
	memcpy(b + 30000, a + 12345, 30000);
	ck_assert_uint_le(exact_round_trip(a, 70000, b, 60000), 32);
	free(a);
	free(b);
	free(z);
}
END_TEST

/* ---- signatures derived from deltas ---- */

/* A signature as delta_sig_start(declared) makes it of p[0..n): the
 * declared size picks the parameters, as the engine's listed size does. */
static void
sig_declared(const uint8_t *p, size_t n, uint64_t declared, struct buf *sig)
{
	struct delta_sig_job *j = delta_sig_start(declared);

	ck_assert_ptr_nonnull(j);
	ck_assert_int_eq(delta_sig_feed(j, p, n), 0);
	ck_assert_int_eq(delta_sig_finish(j, sig), 0);
}

/*
 * Old version, signature, delta of the new version, signature derived from
 * it: must be byte for byte the signature made from the new bytes.  When
 * the old signature's parameters do not fit the new size, nothing can be
 * checked, so nothing is derived (1, out untouched).  Returns the blocks
 * taken from the old signature.
 */
static uint64_t
derive_check(const uint8_t *old, size_t on, uint64_t odecl, const uint8_t *new, size_t nn,
    uint64_t ndecl)
{
	struct buf osig = { 0 }, delta = { 0 }, want = { 0 }, got = { 0 };
	struct delta_sig *s;
	struct delta_job *j;
	struct mem m = { new, nn, 0 };
	uint64_t reused = ~0ULL;

	sig_declared(old, on, odecl, &osig);
	sig_declared(new, nn, ndecl, &want);
	ck_assert_int_eq(delta_sig_load(osig.data, osig.len, &s), 0);
	ck_assert_ptr_nonnull(j = delta_start(s));
	ck_assert_int_eq(delta_feed(j, new, nn, &delta), 0);
	ck_assert_int_eq(delta_finish(j, &delta, NULL), 0);
	buf_put(&got, "x", 1);	/* appends: what was there stays */
	if (!delta_sig_fits(s, ndecl)) {
		ck_assert_int_eq(delta_sig_derive(s, delta.data, delta.len, ndecl, nn, read_mem,
		    &m, &got, &reused), 1);
		ck_assert_uint_eq(got.len, 1);
		ck_assert_uint_eq(reused, 0);
		goto out;
	}
	ck_assert_int_eq(delta_sig_derive(s, delta.data, delta.len, ndecl, nn, read_mem, &m,
	    &got, &reused), 0);
	ck_assert_uint_eq(got.len, 1 + want.len);
	ck_assert_mem_eq(got.data + 1, want.data, want.len);
	ck_assert_uint_le(reused, (nn + 255) / 256);
out:
	delta_sig_free(s);
	buf_free(&osig);
	buf_free(&delta);
	buf_free(&want);
	buf_free(&got);
	return reused;
}

START_TEST(test_derive_overwrite)
{
	size_t n = 1u << 20;
	uint8_t *a = random_data(40, n), *b = malloc(n);
	uint64_t blocks = n / 256;

	ck_assert_ptr_nonnull(b);
	memcpy(b, a, n);
	fill(b + n / 2 + 123, 4096, 41);
	/* all but the 17 blocks the 4 KiB touch, and the old last block
	 * (the signature does not say whether it is whole) */
	ck_assert_uint_eq(derive_check(a, n, n, b, n, n), blocks - 17 - 1);
	/* unchanged: nothing but the last block is hashed */
	ck_assert_uint_eq(derive_check(a, n, n, a, n, n), blocks - 1);
	free(a);
	free(b);
}
END_TEST

START_TEST(test_derive_random_edits)
{
	/* Sizes around block multiples and below one block; edits of every
	 * kind at random places, at block boundaries, in the first and the
	 * last block. */
	static const size_t sizes[] = { 0, 1, 255, 256, 257, 511, 4096, 70000,
	    65536 + 256, 300001 };
	uint64_t rng = 4242, reused_total = 0, blocks_total = 0;
	size_t cap = 400000, si, t;
	uint8_t *a = random_data(42, cap), *b = malloc(cap + 70000);

	ck_assert_ptr_nonnull(b);
	for (t = 0; t < 600; t++) {
		size_t on = sizes[t % 10], nn = on, off, len, r = splitmix(&rng);
		int kind = (int)(splitmix(&rng) % 8);

		si = splitmix(&rng) % 3;
		if (si == 0 && on > 0)
			on = on - (size_t)(splitmix(&rng) % (on < 300 ? on : 300));
		memcpy(b, a, on);
		nn = on;
		off = on ? (size_t)(r % on) : 0;
		if (kind == 1 || kind == 2)
			off -= off % 256;	/* on a block boundary */
		if (kind == 3)
			off = 0;		/* the first block */
		if (kind == 4)
			off = on > 200 ? on - 200 : 0;	/* the last block */
		len = 1 + (size_t)(splitmix(&rng) % 5000);
		if (kind == 2)
			len = 256 * (1 + len % 8);
		switch (kind) {
		case 0: case 1: case 2: case 3: case 4:	/* overwrite */
			if (len > on - off)
				len = on - off;
			fill(b + off, len, splitmix(&rng));
			break;
		case 5:					/* insert */
			memmove(b + off + len, b + off, on - off);
			fill(b + off, len, splitmix(&rng));
			nn = on + len;
			break;
		case 6:					/* delete */
			if (len > on - off)
				len = on - off;
			memmove(b + off, b + off + len, on - off - len);
			nn = on - len;
			break;
		case 7:					/* append or truncate */
			if (splitmix(&rng) & 1) {
				fill(b + on, len, splitmix(&rng));
				nn = on + len;
			} else {
				nn = off;
			}
			break;
		}
		reused_total += derive_check(a, on, on, b, nn, nn);
		blocks_total += nn / 256;
	}
	/* most blocks were indeed taken from the old signatures (91%: the
	 * ones after an insert or delete are off the grid) */
	ck_assert_uint_gt(reused_total * 10, blocks_total * 8);
	free(a);
	free(b);
}
END_TEST

START_TEST(test_derive_parameters_change)
{
	size_t n = 300000;
	uint8_t *a = random_data(43, n), *b = malloc(n);
	uint64_t big = 100ULL << 20;

	ck_assert_ptr_nonnull(b);
	memcpy(b, a, n);
	fill(b + 1000, 100, 44);
	/* the block length grows past 64 MiB: nothing can be derived */
	ck_assert_uint_eq(derive_check(a, n, 64ULL << 20, b, n, (64ULL << 20) + 1), 0);
	ck_assert_uint_eq(derive_check(a, n, (64ULL << 20) + 1, b, n, 64ULL << 20), 0);
	/* both large: 2 KiB blocks, reused */
	ck_assert_uint_eq(delta_block_len(big), 2048);
	ck_assert_uint_eq(derive_check(a, n, big, b, n, big + 1000), n / 2048 - 1);
	/* the strong sum grows past about 1 GiB (same block length) */
	ck_assert_uint_eq(delta_block_len(1100000000), 2048);
	ck_assert_uint_eq(derive_check(a, n, 1000000000, b, n, 1100000000), 0);
	free(a);
	free(b);
}
END_TEST

START_TEST(test_derive_zeros)
{
	/* equal blocks: the delta's copies were redirected to merge */
	size_t n = 200000;
	uint8_t *a = calloc(1, n), *b = calloc(1, n + 5000);

	ck_assert_ptr_nonnull(a);
	ck_assert_ptr_nonnull(b);
	fill(a + 50000, 3000, 45);
	fill(b + 90000, 3000, 46);
	/* the zeros after the new random bytes resume off the block grid, so
	 * the copies there are not block-aligned: only the blocks before
	 * them (the old random bytes' included) are reused */
	ck_assert_uint_eq(derive_check(a, n, n, b, n + 5000, n + 5000), 90000 / 256);
	free(a);
	free(b);
}
END_TEST

START_TEST(test_derive_data_changed)
{
	size_t n = 100000;
	uint8_t *a = random_data(47, n), *b = random_data(47, n);
	struct buf osig = { 0 }, delta = { 0 }, got = { 0 }, want = { 0 };
	struct delta_sig *s;
	struct delta_job *j;
	struct mem m = { b, n, 0 };
	uint64_t reused;

	log_set_sink(quiet, NULL);
	fill(b + 5000, 3000, 48);
	sig_declared(a, n, n, &osig);
	ck_assert_int_eq(delta_sig_load(osig.data, osig.len, &s), 0);
	ck_assert_ptr_nonnull(j = delta_start(s));
	ck_assert_int_eq(delta_feed(j, b, n, &delta), 0);
	ck_assert_int_eq(delta_finish(j, &delta, NULL), 0);
	/* the file shrank since it was read: no signature */
	m.n = n - 10;
	buf_put(&got, "x", 1);
	ck_assert_int_eq(delta_sig_derive(s, delta.data, delta.len, n, n, read_mem, &m, &got,
	    &reused), 1);
	ck_assert_uint_eq(got.len, 1);
	/* read errors pass through */
	m.n = n;
	m.fail = BW_ERR_IO;
	ck_assert_int_eq(delta_sig_derive(s, delta.data, delta.len, n, n, read_mem, &m, &got,
	    &reused), BW_ERR_IO);
	ck_assert_uint_eq(got.len, 1);
	m.fail = 0;
	/* a delta that does not make the data's length, or does not parse:
	 * nothing to check the data against, nothing derived */
	ck_assert_int_eq(delta_sig_derive(s, delta.data, delta.len - 1, n, n, read_mem, &m,
	    &got, &reused), 1);
	ck_assert_int_eq(delta_sig_derive(s, delta.data, delta.len, n, n - 1, read_mem, &m,
	    &got, &reused), 1);
	ck_assert_uint_eq(got.len, 1);
	/* the data changed after the delta was made (size and times can stay
	 * the same): a copied block that reads differently is refused, never
	 * described as stored */
	b[n - 1] ^= 1;			/* the old last block, read again */
	ck_assert_int_eq(delta_sig_derive(s, delta.data, delta.len, n, n, read_mem, &m, &got,
	    &reused), 1);
	ck_assert_uint_eq(got.len, 1);
	b[n - 1] ^= 1;
	/* a literal block is taken from the delta, as stored, whatever the
	 * data says now */
	sig_declared(b, n, n, &want);
	b[6000] ^= 1;
	buf_reset(&got);
	ck_assert_int_eq(delta_sig_derive(s, delta.data, delta.len, n, n, read_mem, &m, &got,
	    &reused), 0);
	ck_assert_uint_eq(got.len, want.len);
	ck_assert_mem_eq(got.data, want.data, want.len);
	b[6000] ^= 1;
	delta_sig_free(s);
	buf_free(&osig);
	buf_free(&delta);
	buf_free(&got);
	buf_free(&want);
	free(a);
	free(b);
	log_set_sink(NULL, NULL);
}
END_TEST

/* After an insertion the copies are off the block grid: every block after
 * it is read again, and each copied old block is checked. */
START_TEST(test_derive_shifted_data_changed)
{
	size_t n = 100000, nn = n + 100;
	uint8_t *a = random_data(49, n), *b = malloc(nn);
	struct buf osig = { 0 }, delta = { 0 }, got = { 0 }, want = { 0 };
	struct delta_sig *s;
	struct delta_job *j;
	struct mem m = { b, nn, 0 };
	uint64_t reused;

	ck_assert_ptr_nonnull(b);
	memcpy(b, a, 5000);
	fill(b + 5000, 100, 50);
	memcpy(b + 5100, a + 5000, n - 5000);
	sig_declared(a, n, n, &osig);
	sig_declared(b, nn, nn, &want);
	ck_assert_int_eq(delta_sig_load(osig.data, osig.len, &s), 0);
	ck_assert_ptr_nonnull(j = delta_start(s));
	ck_assert_int_eq(delta_feed(j, b, nn, &delta), 0);
	ck_assert_int_eq(delta_finish(j, &delta, NULL), 0);
	ck_assert_int_eq(delta_sig_derive(s, delta.data, delta.len, nn, nn, read_mem, &m, &got,
	    &reused), 0);
	ck_assert_uint_eq(reused, 5000 / 256);
	ck_assert_uint_eq(got.len, want.len);
	ck_assert_mem_eq(got.data, want.data, want.len);
	/* one byte of the shifted copy reads differently now */
	b[50000] ^= 1;
	buf_reset(&got);
	ck_assert_int_eq(delta_sig_derive(s, delta.data, delta.len, nn, nn, read_mem, &m, &got,
	    &reused), 1);
	ck_assert_uint_eq(got.len, 0);
	delta_sig_free(s);
	buf_free(&osig);
	buf_free(&delta);
	buf_free(&got);
	buf_free(&want);
	free(a);
	free(b);
}
END_TEST

/*
 * A delta joined from pieces (the engine's chunk-guided deltas): COPYs,
 * literal bytes and whole deltas of parts, in order, make the new data,
 * and adjacent COPYs merge.  A part that is not a delta is refused.
 */
START_TEST(test_splice)
{
	size_t n = 1u << 20, part = 300000;
	uint8_t *old = random_data(31, n), *new = malloc(n), junk[8] = { 1, 2, 3 };
	struct buf sig = { 0 }, sub = { 0 }, joined = { 0 }, out = { 0 }, one = { 0 };
	struct delta_sig *s;
	struct delta_piece pc[5];
	struct delta_job *j;
	uint64_t lit;

	ck_assert_ptr_nonnull(new);
	memcpy(new, old, n);
	memset(new + 400000, 0x5a, 1000);	/* an edit inside the middle part */
	make_sig(old, n, 0, &sig);
	ck_assert_int_eq(delta_sig_load(sig.data, sig.len, &s), 0);
	ck_assert_ptr_nonnull(j = delta_start(s));
	ck_assert_int_eq(delta_feed(j, new + part, part, &sub), 0);
	ck_assert_int_eq(delta_finish(j, &sub, &lit), 0);
	/* [0, 100000) as two COPYs, [100000, 100100) literal, [100100, part)
	 * a COPY, the middle part its delta, the rest a COPY */
	pc[0] = (struct delta_piece){ DP_COPY, NULL, 0, 0, 60000 };
	pc[1] = (struct delta_piece){ DP_COPY, NULL, 0, 60000, 40000 };
	pc[2] = (struct delta_piece){ DP_LITERAL, new + 100000, 100, 0, 0 };
	pc[3] = (struct delta_piece){ DP_COPY, NULL, 0, 100100, part - 100100 };
	ck_assert_int_eq(delta_splice(s, pc, 4, &joined), 0);
	joined.len--;		/* its END: go on with the rest */
	pc[0] = (struct delta_piece){ DP_DELTA, sub.data, sub.len, 0, 0 };
	pc[1] = (struct delta_piece){ DP_COPY, NULL, 0, 2 * part, n - 2 * part };
	ck_assert_int_eq(delta_splice(s, pc, 2, &one), 0);
	ck_assert_uint_gt(one.len, 4);
	buf_put(&joined, one.data + 4, one.len - 4);
	ck_assert_int_eq(apply(&joined, old, n, &out), 0);
	ck_assert_uint_eq(out.len, n);
	ck_assert(memcmp(out.data, new, n) == 0);
	/* the two COPYs at the start merged into one: 1 + 1 + 4 bytes */
	ck_assert_uint_eq(joined.data[4], 0x45 + 4 * 0 + 2);
	/* a part that is not a delta */
	buf_reset(&one);
	pc[0] = (struct delta_piece){ DP_DELTA, junk, sizeof(junk), 0, 0 };
	log_set_sink(quiet, NULL);
	ck_assert_int_eq(delta_splice(s, pc, 1, &one), BW_ERR_INVAL);
	log_set_sink(NULL, NULL);
	ck_assert_uint_eq(one.len, 0);
	delta_sig_free(s);
	buf_free(&sig);
	buf_free(&sub);
	buf_free(&joined);
	buf_free(&one);
	buf_free(&out);
	free(old);
	free(new);
}
END_TEST

static Suite *
delta_suite(void)
{
	Suite *s = suite_create("delta");
	TCase *tc = tcase_create("core");

	tcase_add_test(tc, test_identical);
	tcase_add_test(tc, test_overwrite_middle);
	tcase_add_test(tc, test_large_file);
	tcase_add_test(tc, test_append);
	tcase_add_test(tc, test_truncate);
	tcase_add_test(tc, test_rewrite);
	tcase_add_test(tc, test_empty);
	tcase_add_test(tc, test_pieces_do_not_matter);
	tcase_add_test(tc, test_corrupt_delta);
	tcase_add_test(tc, test_past_basis);
	tcase_add_test(tc, test_io_errors_pass_through);
	tcase_add_test(tc, test_corrupt_sig);
	tcase_add_test(tc, test_golden_signature);
	tcase_add_test(tc, test_block_len);
	tcase_add_test(tc, test_equal_blocks_merge);
	tcase_add_test(tc, test_exact_small_edits);
	tcase_add_test(tc, test_exact_edges);
	tcase_add_test(tc, test_derive_overwrite);
	tcase_add_test(tc, test_derive_random_edits);
	tcase_add_test(tc, test_derive_parameters_change);
	tcase_add_test(tc, test_derive_zeros);
	tcase_add_test(tc, test_derive_data_changed);
	tcase_add_test(tc, test_derive_shifted_data_changed);
	tcase_add_test(tc, test_splice);
	suite_add_tcase(s, tc);
	return s;
}

int
main(void)
{
	SRunner *sr;
	int failed;

	if (bwcrypto_init() != 0)
		return 99;
	sr = srunner_create(delta_suite());
	srunner_run_all(sr, CK_NORMAL);
	failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failed ? 1 : 0;
}
