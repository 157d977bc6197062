#include "config.h"

#include <check.h>
#include <dirent.h>
#include <pthread.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/time.h>
#include <sys/wait.h>
#include <unistd.h>

#include "lib/repo/repo.h"
#include "lib/repo/repo_internal.h"
#include "lib/util/buf.h"
#include "lib/util/bufpool.h"
#include "lib/util/fsio.h"
#include "tests/unit/repo_testutil.h"

#define PASS "correct horse"

static char *tmp, *rp;

static void
setup(void)
{
	ck_assert_int_eq(bwcrypto_init(), 0);
	quiet_logs();
	tmp = make_tmp(&rp);
	ck_assert_int_eq(repo_init(rp, "admin", PASS, strlen(PASS), &test_kdf), 0);
}

static void
teardown(void)
{
	rm_rf(tmp);
	free(tmp);
	free(rp);
}

static struct repo *
open_ok(const char *pass)
{
	struct repo *r = NULL;

	ck_assert_int_eq(repo_open(rp, pass, strlen(pass), &r), 0);
	return r;
}

/* Stores count objects of size bytes (seeded from base) and commits. */
static void
store(struct repo *r, uint32_t base, int count, size_t size, uint8_t ids[][OBJ_ID_LEN],
    struct snap_info *s, int64_t t)
{
	struct repo_writer *w = NULL;
	uint8_t *p = malloc(size);
	int i;

	ck_assert_int_eq(repo_writer_start(r, &w), 0);
	for (i = 0; i < count; i++) {
		fill_obj(p, size, base + (uint32_t)i);
		ck_assert_int_eq(repo_writer_put(w, OBJ_DATA, p, size, NULL, ids[i], NULL), 0);
	}
	fill_snap(s, ids[0], t);
	ck_assert_int_eq(repo_writer_commit(w, s), 0);
	repo_writer_free(w);
	free(p);
}

START_TEST(open_errors)
{
	struct repo *r = NULL;
	char p[4096];
	uint8_t *cfg;
	size_t n;
	FILE *f;

	sprintf(p, "%s/missing", tmp);
	ck_assert_int_eq(repo_open(p, PASS, strlen(PASS), &r), BW_ERR_NOENT);
	ck_assert_ptr_nonnull(strstr(last_error, "bulwark init --repo"));

	sprintf(p, "%s/plain", tmp);
	ck_assert_int_eq(mkdir(p, 0700), 0);
	ck_assert_int_eq(repo_open(p, PASS, strlen(PASS), &r), BW_ERR_NOTREPO);
	ck_assert_ptr_nonnull(strstr(last_error, "not a Bulwark repository"));
	ck_assert_ptr_nonnull(strstr(last_error, "bulwark init"));

	/* init refuses a non-empty directory */
	ck_assert_int_eq(repo_init(rp, "x", "y", 1, &test_kdf), BW_ERR_EXIST);

	ck_assert_int_eq(repo_open(rp, "wrong", 5, &r), BW_ERR_AUTH);
	ck_assert_ptr_nonnull(strstr(last_error, "passphrase"));
	ck_assert_ptr_null(r);

	/* a newer format version is named */
	sprintf(p, "%s/config", rp);
	ck_assert_int_eq(fsio_read_all(p, 65536, &cfg, &n), 0);
	cfg[8] = REPO_FORMAT_VERSION + 1;
	f = fopen(p, "wb");
	fwrite(cfg, 1, n, f);
	fclose(f);
	ck_assert_int_eq(repo_open(rp, PASS, strlen(PASS), &r), BW_ERR_VERSION);
	ck_assert_ptr_nonnull(strstr(last_error, "version 3"));
	ck_assert_ptr_nonnull(strstr(last_error, "upgrade Bulwark"));
	/* so is the development format before it, with what to do */
	cfg[8] = 1;
	f = fopen(p, "wb");
	fwrite(cfg, 1, n, f);
	fclose(f);
	free(cfg);
	ck_assert_int_eq(repo_open(rp, PASS, strlen(PASS), &r), BW_ERR_VERSION);
	ck_assert_ptr_nonnull(strstr(last_error, "version 1 of a development release"));
}
END_TEST

START_TEST(put_get_roundtrip)
{
	struct repo *r = open_ok(PASS);
	struct repo_writer *w = NULL;
	static const size_t sizes[] = { 0, 1, 100, 4096, 100000, 3 << 20 };
	uint8_t ids[6][OBJ_ID_LEN], zid[OBJ_ID_LEN], want[OBJ_ID_LEN];
	uint8_t *p = malloc(3 << 20), *z = calloc(1, 1 << 20);
	uint64_t added;
	struct buf out = { 0 };
	struct snap_info s, l;
	size_t i;

	ck_assert_int_eq(repo_caps(r), REPO_CAP_ALL);
	ck_assert_int_eq(repo_writer_start(r, &w), 0);
	for (i = 0; i < 6; i++) {
		fill_obj(p, sizes[i], (uint32_t)i);
		ck_assert_int_eq(repo_writer_put(w, OBJ_DATA, p, sizes[i], NULL, ids[i], &added), 0);
		ck_assert_uint_gt(added, sizes[i]);
		repo_object_id(r, OBJ_DATA, p, sizes[i], want);
		ck_assert_mem_eq(ids[i], want, OBJ_ID_LEN);
		/* again: deduplicated */
		ck_assert_int_eq(repo_writer_put(w, OBJ_DATA, p, sizes[i], NULL, ids[i], &added), 0);
		ck_assert_uint_eq(added, 0);
		ck_assert_int_eq(repo_writer_has(w, ids[i]), 1);
	}
	/* zeros compress */
	ck_assert_int_eq(repo_writer_put(w, OBJ_TREE, z, 1 << 20, NULL, zid, &added), 0);
	ck_assert_uint_lt(added, 1 << 16);
	fill_snap(&s, zid, 1000);
	ck_assert_int_eq(repo_writer_commit(w, &s), 0);
	repo_writer_free(w);
	repo_free(r);

	r = open_ok(PASS);
	for (i = 0; i < 6; i++) {
		buf_reset(&out);
		fill_obj(p, sizes[i], (uint32_t)i);
		ck_assert_int_eq(repo_has(r, ids[i]), 1);
		ck_assert_int_eq(repo_get(r, OBJ_DATA, ids[i], &out), 0);
		ck_assert_uint_eq(out.len, sizes[i]);
		if (sizes[i])
			ck_assert_mem_eq(out.data, p, sizes[i]);
	}
	buf_reset(&out);
	ck_assert_int_eq(repo_get(r, OBJ_TREE, zid, &out), 0);
	ck_assert_uint_eq(out.len, 1 << 20);
	ck_assert_mem_eq(out.data, z, 1 << 20);
	/* unknown id */
	memset(want, 7, sizeof(want));
	ck_assert_int_eq(repo_get(r, OBJ_DATA, want, &out), BW_ERR_NOENT);

	ck_assert_int_eq(repo_snapshot_load(r, s.id, &l), 0);
	ck_assert_int_eq(l.have_body, 1);
	ck_assert_mem_eq(l.root, zid, OBJ_ID_LEN);
	ck_assert_str_eq(l.host, "node1");
	ck_assert_str_eq(l.set, "www");
	ck_assert_uint_eq(l.npaths, 1);
	ck_assert_str_eq(l.paths[0], "/srv/www");
	ck_assert_uint_eq(l.files, 3);
	ck_assert_int_eq(l.time_ns, 1000);
	snap_info_clear(&l);
	ck_assert_int_eq(repo_check_store(r, 1, NULL, NULL, NULL), 0);
	buf_free(&out);
	free(p);
	free(z);
	repo_free(r);
}
END_TEST

/* Objects are sealed in buffers from the writer's pool, reused from one
 * object to the next; one just too large for them gets its own memory.
 * Every size, compressible or not, in any order, reads back as written. */
START_TEST(put_sizes_around_the_sealing_buffer)
{
	struct repo *r = open_ok(PASS);
	struct repo_writer *w = NULL;
	size_t fit, sizes[8], i;
	uint8_t ids[8][OBJ_ID_LEN], *p;
	struct buf out = { 0 };

	ck_assert_int_eq(repo_writer_start(r, &w), 0);
	ck_assert_ptr_nonnull(repo_writer_pool(w));
	fit = bufpool_size(repo_writer_pool(w)) - 1 - BWC_AEAD_OVERHEAD;
	ck_assert_uint_ge(fit, 2 * (size_t)r->cfg.chunk_avg);
	sizes[0] = fit;
	sizes[1] = 100;
	sizes[2] = fit + 1;
	sizes[3] = fit - 1;
	sizes[4] = 64;
	sizes[5] = fit;		/* compressible below */
	sizes[6] = 63;
	sizes[7] = 300000;
	ck_assert_ptr_nonnull(p = malloc(fit + 1));
	for (i = 0; i < 8; i++) {
		fill_obj(p, sizes[i], (uint32_t)i);
		if (i == 5)
			memset(p + 1000, 'z', sizes[i] - 1000);
		ck_assert_int_eq(repo_writer_put(w, OBJ_DATA, p, sizes[i], NULL, ids[i], NULL), 0);
	}
	ck_assert_int_eq(repo_writer_flush(w), 0);
	repo_writer_free(w);
	for (i = 0; i < 8; i++) {
		fill_obj(p, sizes[i], (uint32_t)i);
		if (i == 5)
			memset(p + 1000, 'z', sizes[i] - 1000);
		buf_reset(&out);
		ck_assert_int_eq(repo_get(r, OBJ_DATA, ids[i], &out), 0);
		ck_assert_uint_eq(out.len, sizes[i]);
		ck_assert_mem_eq(out.data, p, sizes[i]);
	}
	ck_assert_int_eq(repo_check_store(r, 1, NULL, NULL, NULL), 0);
	buf_free(&out);
	free(p);
	repo_free(r);
}
END_TEST

START_TEST(snapshots_resolve)
{
	struct repo *r = open_ok(PASS);
	uint8_t ids[1][OBJ_ID_LEN], id[OBJ_ID_LEN], first[17][OBJ_ID_LEN];
	struct snap_info s, *v = NULL;
	size_t n, bad, i, j;
	char hex[65], pre[2] = { 0 };
	int found = 0;

	for (i = 0; i < 17; i++) {
		store(r, (uint32_t)i, 1, 100, ids, &s, (int64_t)(100 - i));
		memcpy(first[i], s.id, OBJ_ID_LEN);
	}
	ck_assert_int_eq(repo_snapshots(r, &v, &n, &bad), 0);
	ck_assert_uint_eq(n, 17);
	ck_assert_uint_eq(bad, 0);
	for (i = 1; i < n; i++)
		ck_assert_int_lt(v[i - 1].time_ns, v[i].time_ns);
	snap_list_free(v, n);

	/* latest = newest time, which is the first one stored */
	ck_assert_int_eq(repo_snapshot_resolve(r, "latest", id), 0);
	ck_assert_mem_eq(id, first[0], OBJ_ID_LEN);
	hex_encode(hex, first[3], OBJ_ID_LEN);
	hex[12] = 0;
	ck_assert_int_eq(repo_snapshot_resolve(r, hex, id), 0);
	ck_assert_mem_eq(id, first[3], OBJ_ID_LEN);
	/* 17 ids, 16 first digits: some digit is shared */
	for (i = 0; i < 17 && !found; i++)
		for (j = i + 1; j < 17 && !found; j++) {
			char a[65], b[65];

			hex_encode(a, first[i], OBJ_ID_LEN);
			hex_encode(b, first[j], OBJ_ID_LEN);
			if (a[0] == b[0]) {
				pre[0] = a[0];
				found = 1;
				ck_assert_int_eq(repo_snapshot_resolve(r, pre, id), BW_ERR_INVAL);
				a[16] = 0;
				b[16] = 0;
				ck_assert_ptr_nonnull(strstr(last_error, a));
				ck_assert_ptr_nonnull(strstr(last_error, b));
			}
		}
	ck_assert_int_eq(found, 1);
	ck_assert_int_eq(repo_snapshot_resolve(r, "zz", id), BW_ERR_INVAL);

	/* forget */
	ck_assert_int_eq(repo_snapshot_forget(r, first[0]), 0);
	ck_assert_int_eq(repo_snapshot_resolve(r, "latest", id), 0);
	ck_assert_mem_eq(id, first[1], OBJ_ID_LEN);
	hex_encode(hex, first[0], OBJ_ID_LEN);
	ck_assert_int_eq(repo_snapshot_resolve(r, hex, id), BW_ERR_NOENT);
	repo_free(r);
}
END_TEST

START_TEST(capabilities)
{
	struct repo *r = open_ok(PASS), *wr = NULL, *rd = NULL;
	char wslot[17], rslot[17];
	uint8_t old[3][OBJ_ID_LEN], nw[3][OBJ_ID_LEN], id[OBJ_ID_LEN];
	struct snap_info s, s2, l, *v = NULL;
	struct repo_writer *w = NULL;
	struct buf out = { 0 };
	struct idset *live;
	size_t n, bad;

	store(r, 1, 3, 1000, old, &s, 10);
	ck_assert_int_eq(repo_key_add(r, "backup-host", REPO_CAP_WRITE, "w", 1, &test_kdf, wslot), 0);
	ck_assert_int_eq(repo_key_add(r, "restorer", REPO_CAP_READ, "r", 1, &test_kdf, rslot), 0);
	repo_free(r);

	ck_assert_int_eq(repo_open(rp, "w", 1, &wr), 0);
	ck_assert_uint_eq(repo_caps(wr), REPO_CAP_WRITE);
	store(wr, 100, 3, 1000, nw, &s2, 20);
	/* the write key cannot read back anything, not even its own */
	ck_assert_int_eq(repo_get(wr, OBJ_DATA, old[0], &out), BW_ERR_PERM);
	ck_assert_ptr_nonnull(strstr(last_error, "this key cannot"));
	ck_assert_int_eq(repo_get(wr, OBJ_DATA, nw[0], &out), BW_ERR_PERM);
	/* it dedups against what is there */
	ck_assert_int_eq(repo_has(wr, old[1]), 1);
	ck_assert_int_eq(repo_snapshot_forget(wr, s.id), BW_ERR_PERM);
	live = idset_new();
	ck_assert_int_eq(repo_prune(wr, live, NULL), BW_ERR_PERM);
	idset_free(live);
	ck_assert_int_eq(repo_key_add(wr, "x", REPO_CAP_WRITE, "x", 1, &test_kdf, rslot),
	    BW_ERR_PERM);
	ck_assert_int_eq(repo_key_remove(wr, wslot), BW_ERR_PERM);
	/* summaries are readable, bodies are not */
	ck_assert_int_eq(repo_snapshots(wr, &v, &n, &bad), 0);
	ck_assert_uint_eq(n, 2);
	ck_assert_str_eq(v[0].host, "node1");
	snap_list_free(v, n);
	ck_assert_int_eq(repo_snapshot_load(wr, s.id, &l), 0);
	ck_assert_int_eq(l.have_body, 0);
	snap_info_clear(&l);
	ck_assert_int_eq(repo_check_store(wr, 1, NULL, NULL, NULL), BW_ERR_PERM);
	ck_assert_int_eq(repo_check_store(wr, 0, NULL, NULL, NULL), 0);
	repo_free(wr);

	ck_assert_int_eq(repo_open(rp, "r", 1, &rd), 0);
	ck_assert_uint_eq(repo_caps(rd), REPO_CAP_READ);
	ck_assert_int_eq(repo_get(rd, OBJ_DATA, old[0], &out), 0);
	ck_assert_int_eq(repo_get(rd, OBJ_DATA, nw[2], &out), 0);
	ck_assert_int_eq(repo_writer_start(rd, &w), BW_ERR_PERM);
	ck_assert_int_eq(repo_snapshot_load(rd, s2.id, &l), 0);
	ck_assert_int_eq(l.have_body, 1);
	ck_assert_mem_eq(l.root, nw[0], OBJ_ID_LEN);
	snap_info_clear(&l);
	ck_assert_int_eq(repo_snapshot_forget(rd, s.id), BW_ERR_PERM);
	ck_assert_int_eq(repo_check_store(rd, 1, NULL, NULL, NULL), 0);
	(void)id;
	repo_free(rd);
	buf_free(&out);
}
END_TEST

START_TEST(key_management)
{
	struct repo *r = open_ok(PASS), *r2 = NULL;
	struct repo_keyinfo *k = NULL;
	size_t n, i;
	char s1[17], s2[17], *exp = NULL;
	size_t explen = 0;
	FILE *f;
	int cur = 0;

	ck_assert_int_eq(repo_key_list(r, &k, &n), 0);
	ck_assert_uint_eq(n, 1);
	ck_assert_str_eq(k[0].name, "admin");
	ck_assert_uint_eq(k[0].caps, REPO_CAP_ALL);
	ck_assert_int_eq(k[0].current, 1);
	/* the only admin slot cannot go */
	ck_assert_int_eq(repo_key_remove(r, k[0].slot), BW_ERR_PERM);
	ck_assert_ptr_nonnull(strstr(last_error, "last admin"));
	repo_keyinfo_free(k, n);

	ck_assert_int_eq(repo_key_add(r, "alice", REPO_CAP_ALL, "a", 1, &test_kdf, s1), 0);
	ck_assert_int_eq(repo_key_add(r, "bob", REPO_CAP_READ, "b", 1, &test_kdf, s2), 0);
	ck_assert_int_eq(repo_key_list(r, &k, &n), 0);
	ck_assert_uint_eq(n, 3);
	for (i = 0; i < n; i++)
		cur += k[i].current;
	ck_assert_int_eq(cur, 1);
	repo_keyinfo_free(k, n);

	/* passwd on the current slot */
	ck_assert_int_eq(repo_key_passwd(r, "new pass", 8, &test_kdf), 0);
	ck_assert_int_eq(repo_open(rp, PASS, strlen(PASS), &r2), BW_ERR_AUTH);
	ck_assert_int_eq(repo_open(rp, "new pass", 8, &r2), 0);
	repo_free(r2);

	/* paper round trip of bob's slot */
	f = open_memstream(&exp, &explen);
	ck_assert_int_eq(repo_key_export(r, s2, f), 0);
	fclose(f);
	ck_assert_ptr_nonnull(strstr(exp, "-----BEGIN BULWARK KEY "));
	ck_assert_int_eq(repo_key_remove(r, s2), 0);
	ck_assert_int_eq(repo_open(rp, "b", 1, &r2), BW_ERR_AUTH);
	f = fmemopen(exp, explen, "r");
	ck_assert_int_eq(repo_key_import(rp, f), 0);
	fclose(f);
	ck_assert_int_eq(repo_open(rp, "b", 1, &r2), 0);
	ck_assert_uint_eq(repo_caps(r2), REPO_CAP_READ);
	repo_free(r2);
	/* a mistyped line is found and named */
	{
		char *line = strstr(exp, "-----\n") + 6;

		line[3] = line[3] == 'A' ? 'B' : 'A';
		f = fmemopen(exp, explen, "r");
		ck_assert_int_ne(repo_key_import(rp, f), 0);
		ck_assert_ptr_nonnull(strstr(last_error, "line"));
		fclose(f);
	}
	/* now two admins: removing alice is fine */
	ck_assert_int_eq(repo_key_remove(r, s1), 0);
	ck_assert_int_eq(repo_open(rp, "a", 1, &r2), BW_ERR_AUTH);
	free(exp);
	repo_free(r);
}
END_TEST

struct tharg {
	struct repo_writer *w;
	uint32_t base;
	uint64_t added_objs;
};

static void *
worker(void *a)
{
	struct tharg *t = a;
	uint8_t p[5000], id[OBJ_ID_LEN];
	uint64_t added;
	uint32_t i;

	for (i = 0; i < 300; i++) {
		fill_obj(p, sizeof(p), t->base + i);
		if (repo_writer_put(t->w, OBJ_DATA, p, sizeof(p), NULL, id, &added) != 0)
			return (void *)1;
		if (added)
			t->added_objs++;
	}
	return NULL;
}

/* Reads the Argon2id costs stored in the one key slot of a repository. */
static void
slot_costs(const char *repo, uint64_t *ops, uint64_t *mem)
{
	char *kd = NULL, *path = NULL;
	struct dirent *de;
	uint8_t blob[4096], skip[8 + 4 + 8];
	struct bufr r;
	size_t n = 0, nl;
	DIR *d;
	FILE *f;

	ck_assert_int_gt(asprintf(&kd, "%s/keys", repo), 0);
	ck_assert_ptr_nonnull(d = opendir(kd));
	while ((de = readdir(d)) != NULL)
		if (de->d_name[0] != '.') {
			ck_assert_ptr_null(path);
			ck_assert_int_gt(asprintf(&path, "%s/%s", kd, de->d_name), 0);
		}
	closedir(d);
	ck_assert_ptr_nonnull(path);
	ck_assert_ptr_nonnull(f = fopen(path, "rb"));
	n = fread(blob, 1, sizeof(blob), f);
	fclose(f);
	/* docs/FORMAT.md, key slots: magic, version, slot, name, caps, created,
	 * kdf, opslimit, memlimit */
	bufr_init(&r, blob, n);
	bufr_copy(&r, skip, sizeof(skip));
	(void)bufr_str(&r, 4096, &nl);
	(void)bufr_u8(&r);
	(void)bufr_u64(&r);
	ck_assert_uint_eq(bufr_u8(&r), 1);	/* Argon2id */
	*ops = bufr_u64(&r);
	*mem = bufr_u64(&r);
	ck_assert_int_eq(r.err, 0);
	free(path);
	free(kd);
}

/* New slots get 48 MiB, t=4 (the work of RFC 9106's second recommended
 * cost within a 64 MiB budget) unless asked otherwise; a slot made with an
 * earlier default (256 MiB, then 64 MiB t=3) still opens. */
START_TEST(kdf_default)
{
	char *t2, *rp2;
	struct repo *r = NULL;
	char slot[17];
	uint64_t ops = 0, mem = 0;
	const struct repo_kdf old_default = { 3, 256ULL << 20 };

	t2 = make_tmp(&rp2);
	ck_assert_int_eq(repo_init(rp2, "admin", PASS, strlen(PASS), NULL), 0);
	slot_costs(rp2, &ops, &mem);
	ck_assert_uint_eq(ops, 4);
	ck_assert_uint_eq(mem, 48ULL << 20);
	ck_assert_uint_eq(ops, BWC_PWHASH_OPS_DEFAULT);
	ck_assert_uint_eq(mem, BWC_PWHASH_MEM_DEFAULT);

	ck_assert_int_eq(repo_open(rp2, PASS, strlen(PASS), &r), 0);
	ck_assert_int_eq(repo_key_add(r, "old", REPO_CAP_ALL, "old pass", 8, &old_default,
	    slot), 0);
	repo_free(r);
	r = NULL;
	ck_assert_int_eq(repo_open(rp2, "old pass", 8, &r), 0);
	repo_free(r);
	rm_rf(t2);
	free(t2);
	free(rp2);
}
END_TEST

START_TEST(two_writers_threads)
{
	struct repo *r = open_ok(PASS);
	struct repo_writer *w = NULL;
	struct tharg a = { 0 }, b = { 0 };
	pthread_t ta, tb;
	void *ra, *rb;
	struct snap_info s;
	uint8_t p[5000], id[OBJ_ID_LEN];
	struct buf out = { 0 };
	uint32_t i;
	struct repo_check_stats st;

	repo_set_pack_target(r, 64 << 10);
	ck_assert_int_eq(repo_writer_start(r, &w), 0);
	a.w = b.w = w;
	a.base = 0;
	b.base = 150;		/* half overlap */
	pthread_create(&ta, NULL, worker, &a);
	pthread_create(&tb, NULL, worker, &b);
	pthread_join(ta, &ra);
	pthread_join(tb, &rb);
	ck_assert_ptr_null(ra);
	ck_assert_ptr_null(rb);
	ck_assert_uint_eq(a.added_objs + b.added_objs, 450);
	memset(id, 0, sizeof(id));
	fill_snap(&s, id, 1);
	ck_assert_int_eq(repo_writer_commit(w, &s), 0);
	repo_writer_free(w);
	repo_free(r);
	r = open_ok(PASS);
	for (i = 0; i < 450; i++) {
		fill_obj(p, sizeof(p), i);
		repo_object_id(r, OBJ_DATA, p, sizeof(p), id);
		buf_reset(&out);
		ck_assert_int_eq(repo_get(r, OBJ_DATA, id, &out), 0);
		ck_assert_mem_eq(out.data, p, sizeof(p));
	}
	ck_assert_int_eq(repo_check_store(r, 1, NULL, NULL, &st), 0);
	ck_assert_uint_eq(st.objects, 450);
	ck_assert_uint_gt(st.packs, 10);
	buf_free(&out);
	repo_free(r);
}
END_TEST

static void
write_lock_file(const char *dir, const char *name, const char *host, uint32_t pid, int excl)
{
	struct buf b = { 0 };
	char p[4096];
	FILE *f;

	buf_put(&b, REPO_LOCK_MAGIC, REPO_MAGIC_LEN);
	buf_put_u32(&b, REPO_FORMAT_VERSION);
	buf_put_u8(&b, (uint8_t)excl);
	buf_put_cstr(&b, host);
	buf_put_u32(&b, pid);
	buf_put_cstr(&b, "someone");
	buf_put_i64(&b, 0);
	sprintf(p, "%s/locks/%s", dir, name);
	f = fopen(p, "wb");
	fwrite(b.data, 1, b.len, f);
	fclose(f);
	buf_free(&b);
}

START_TEST(locks)
{
	struct repo *r1 = open_ok(PASS), *r2 = open_ok(PASS);
	char host[256], p[4096];
	pid_t child;
	struct timeval tv[2];

	ck_assert_int_eq(repo_lock(r1, 0), 0);
	ck_assert_int_eq(repo_lock(r2, 0), 0);
	repo_unlock(r2);
	ck_assert_int_eq(repo_lock(r2, 1), BW_ERR_LOCKED);
	ck_assert_ptr_nonnull(strstr(last_error, "locked by"));
	repo_unlock(r1);
	ck_assert_int_eq(repo_lock(r2, 1), 0);
	ck_assert_int_eq(repo_lock(r1, 0), BW_ERR_LOCKED);
	repo_unlock(r2);

	/* a lock of a dead process on this host is broken */
	gethostname(host, sizeof(host));
	host[sizeof(host) - 1] = 0;
	child = fork();
	if (child == 0)
		_exit(0);
	waitpid(child, NULL, 0);
	write_lock_file(rp, "00000000000000000000000000000001", host, (uint32_t)child, 1);
	ck_assert_int_eq(repo_lock(r1, 1), 0);
	repo_unlock(r1);
	/* a live holder on another host keeps it, until its heartbeat is old */
	write_lock_file(rp, "00000000000000000000000000000002", "elsewhere", 1, 1);
	ck_assert_int_eq(repo_lock(r1, 0), BW_ERR_LOCKED);
	sprintf(p, "%s/locks/00000000000000000000000000000002", rp);
	gettimeofday(&tv[0], NULL);
	tv[0].tv_sec -= 31 * 60;
	tv[1] = tv[0];
	ck_assert_int_eq(utimes(p, tv), 0);
	ck_assert_int_eq(repo_lock(r1, 0), 0);
	repo_free(r1);
	repo_free(r2);
}
END_TEST

START_TEST(prune_keeps_live)
{
	struct repo *r = open_ok(PASS);
	uint8_t a[20][OBJ_ID_LEN], b[20][OBJ_ID_LEN];
	struct snap_info s1, s2;
	struct idset *live = idset_new();
	struct repo_prune_stats ps;
	struct repo_check_stats cs;
	struct buf out = { 0 };
	uint8_t p[3000];
	int i;

	repo_set_pack_target(r, 16 << 10);
	store(r, 0, 20, 3000, a, &s1, 1);
	store(r, 1000, 20, 3000, b, &s2, 2);
	ck_assert_uint_eq(repo_generation(r), 0);
	/* keep all of b and every fourth of a */
	for (i = 0; i < 20; i++) {
		idset_put(live, b[i], 0, NULL);
		if (i % 4 == 0)
			idset_put(live, a[i], 0, NULL);
	}
	ck_assert_int_eq(repo_snapshot_forget(r, s1.id), 0);
	ck_assert_int_eq(repo_prune(r, live, &ps), 0);
	ck_assert_uint_eq(ps.objects_removed, 15);
	ck_assert_uint_gt(ps.packs_removed, 0);
	ck_assert_uint_gt(ps.packs_rewritten, 0);
	ck_assert_uint_eq(repo_generation(r), 1);
	repo_free(r);
	r = open_ok(PASS);
	for (i = 0; i < 20; i++) {
		buf_reset(&out);
		ck_assert_int_eq(repo_get(r, OBJ_DATA, b[i], &out), 0);
		fill_obj(p, sizeof(p), 1000 + (uint32_t)i);
		ck_assert_mem_eq(out.data, p, sizeof(p));
		buf_reset(&out);
		if (i % 4 == 0) {
			ck_assert_int_eq(repo_get(r, OBJ_DATA, a[i], &out), 0);
			fill_obj(p, sizeof(p), (uint32_t)i);
			ck_assert_mem_eq(out.data, p, sizeof(p));
		} else {
			ck_assert_int_eq(repo_has(r, a[i]), 0);
		}
	}
	ck_assert_int_eq(repo_check_store(r, 1, NULL, NULL, &cs), 0);
	ck_assert_uint_eq(cs.objects, 25);
	ck_assert_uint_eq(cs.unreferenced_packs, 0);
	ck_assert_uint_eq(cs.snapshots, 1);
	idset_free(live);
	buf_free(&out);
	repo_free(r);
}
END_TEST

START_TEST(size_limits)
{
	struct repo *r = open_ok(PASS);
	struct repo_writer *w = NULL;
	size_t big = REPO_MAX_OBJECT + 1;
	uint8_t *z = calloc(1, big), key[BWC_KEY], id[OBJ_ID_LEN];
	uint8_t *sealed = malloc(repo_blob_seal_bound(big));
	size_t slen = 0;
	struct buf out = { 0 };

	ck_assert_ptr_nonnull(z);
	ck_assert_ptr_nonnull(sealed);
	/* the writer refuses objects above 64 MiB */
	ck_assert_int_eq(repo_writer_start(r, &w), 0);
	ck_assert_int_eq(repo_writer_put(w, OBJ_DATA, z, big, NULL, id, NULL), BW_ERR_INVAL);
	repo_writer_free(w);
	/* and a reader refuses a blob that would decompress to more */
	bwcrypto_random(key, sizeof(key));
	repo_object_id(r, OBJ_DATA, z, big, id);
	ck_assert_int_eq(repo_blob_seal_to(sealed, &slen, key, 3, OBJ_DATA, id, z, big), 0);
	ck_assert_uint_lt(slen, 1 << 20);
	ck_assert_int_eq(repo_blob_open(&out, r->k, key, OBJ_DATA, id, sealed, slen),
	    BW_ERR_CORRUPT);
	ck_assert_uint_eq(out.len, 0);
	/* exactly 64 MiB is fine */
	repo_object_id(r, OBJ_DATA, z, big - 1, id);
	ck_assert_int_eq(repo_blob_seal_to(sealed, &slen, key, 3, OBJ_DATA, id, z, big - 1), 0);
	ck_assert_int_eq(repo_blob_open(&out, r->k, key, OBJ_DATA, id, sealed, slen), 0);
	ck_assert_uint_eq(out.len, big - 1);
	/* a wrong type (part of the associated data) does not open */
	buf_reset(&out);
	ck_assert_int_eq(repo_blob_open(&out, r->k, key, OBJ_TREE, id, sealed, slen),
	    BW_ERR_AUTH);
	free(sealed);
	buf_free(&out);
	free(z);
	repo_free(r);
}
END_TEST

int
main(void)
{
	Suite *s = suite_create("repo");
	TCase *tc = tcase_create("core"), *tk;
	SRunner *sr;
	int failed;

	tcase_add_checked_fixture(tc, setup, teardown);
	tcase_add_test(tc, open_errors);
	tcase_add_test(tc, put_get_roundtrip);
	tcase_add_test(tc, put_sizes_around_the_sealing_buffer);
	tcase_add_test(tc, snapshots_resolve);
	tcase_add_test(tc, capabilities);
	tcase_add_test(tc, key_management);
	tcase_add_test(tc, two_writers_threads);
	tcase_add_test(tc, locks);
	tcase_add_test(tc, prune_keeps_live);
	tcase_add_test(tc, size_limits);
	suite_add_tcase(s, tc);
	/* real Argon2id costs (64 and 256 MiB): no tight time limit on a busy
	 * machine */
	tk = tcase_create("kdf");
	tcase_set_timeout(tk, 120);
	tcase_add_checked_fixture(tk, setup, teardown);
	tcase_add_test(tk, kdf_default);
	suite_add_tcase(s, tk);
	sr = srunner_create(s);
	srunner_run_all(sr, CK_NORMAL);
	failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}
