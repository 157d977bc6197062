/*
 * Any flipped bit anywhere is found: for every file of a small repository
 * (config, key slots, packs, index files, snapshots) and every byte offset,
 * flip one bit, run check --read-data, and assert that it reports a problem;
 * for packs and index files, that bad() names objects of that pack and no
 * other.
 */
#include "config.h"

#include <check.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "lib/repo/idset.h"
#include "lib/repo/repo.h"
#include "lib/repo/repo_internal.h"
#include "lib/util/fsio.h"
#include "tests/unit/repo_testutil.h"

#define PASS "pw"

static char *tmp, *rp;

struct badlog {
	struct idset *named;
	size_t calls;
};

static void
on_bad(const uint8_t id[OBJ_ID_LEN], const char *what, void *arg)
{
	struct badlog *b = arg;

	(void)what;
	idset_put(b->named, id, 0, NULL);
	b->calls++;
}

static void
flip(const char *path, off_t off, int bit)
{
	int fd = open(path, O_RDWR);
	uint8_t c;

	ck_assert_int_ge(fd, 0);
	ck_assert_int_eq(pread(fd, &c, 1, off), 1);
	c ^= (uint8_t)(1u << bit);
	ck_assert_int_eq(pwrite(fd, &c, 1, off), 1);
	close(fd);
}

/* Objects of one pack, from its (intact) index file. */
static struct idset *
pack_objects(struct repo *r, const char *hex)
{
	struct idset *s = idset_new();
	struct repo_dirent *d = NULL;
	uint8_t pid[OBJ_ID_LEN];
	size_t n, i;

	ck_assert_int_eq(repo_index_read(r, hex, pid, &d, &n), 0);
	for (i = 0; i < n; i++)
		idset_put(s, d[i].id, 0, NULL);
	free(d);
	return s;
}

static void
sweep(struct repo *r, const char *path, const char *pack_hex, size_t stride)
{
	struct stat st;
	struct idset *objs = pack_hex ? pack_objects(r, pack_hex) : NULL;
	struct repo_check_stats cs;
	off_t off, size;
	size_t pos;
	const uint8_t *id;
	int rc;

	ck_assert_int_eq(stat(path, &st), 0);
	size = st.st_size;
	for (off = 0; off < size; off++) {
		struct badlog b = { idset_new(), 0 };

		if (off % (off_t)stride != 0 && off != size - 1)
			continue;
		flip(path, off, (int)(off % 8));
		rc = repo_check_store(r, 1, on_bad, &b, &cs);
		ck_assert_msg(rc == BW_ERR_CORRUPT && cs.problems > 0,
		    "%s: flipped bit at offset %lld not found (rc %d)", path, (long long)off, rc);
		if (objs) {
			ck_assert_msg(b.calls > 0, "%s: offset %lld: no object named", path,
			    (long long)off);
			pos = 0;
			while (idset_next(b.named, &pos, &id, NULL))
				ck_assert_msg(idset_get(objs, id, NULL),
				    "%s: offset %lld: named an object of another pack", path,
				    (long long)off);
		}
		flip(path, off, (int)(off % 8));
		idset_free(b.named);
	}
	idset_free(objs);
}

START_TEST(every_bit_is_found)
{
	struct repo *r = NULL;
	struct repo_writer *w = NULL;
	struct snap_info s;
	uint8_t p[700], id[OBJ_ID_LEN];
	char slot[17], **names = NULL, *dir, *path, rel[160];
	size_t nn, i, nfiles = 0;
	struct repo_check_stats cs;
	int k;

	ck_assert_int_eq(bwcrypto_init(), 0);
	quiet_logs();
	tmp = make_tmp(&rp);
	ck_assert_int_eq(repo_init(rp, "admin", PASS, strlen(PASS), &test_kdf), 0);
	ck_assert_int_eq(repo_open(rp, PASS, strlen(PASS), &r), 0);
	ck_assert_int_eq(repo_key_add(r, "host", REPO_CAP_WRITE, "w", 1, &test_kdf, slot), 0);
	repo_set_pack_target(r, 1500);
	ck_assert_int_eq(repo_writer_start(r, &w), 0);
	for (k = 0; k < 4; k++) {
		fill_obj(p, sizeof(p), (uint32_t)k);
		if (k == 3)
			memset(p, 'x', sizeof(p));	/* a compressed one */
		ck_assert_int_eq(repo_writer_put(w, OBJ_DATA, p, sizeof(p), NULL, id, NULL), 0);
	}
	fill_snap(&s, id, 5);
	ck_assert_int_eq(repo_writer_commit(w, &s), 0);
	repo_writer_free(w);
	ck_assert_int_eq(repo_check_store(r, 1, NULL, NULL, &cs), 0);
	ck_assert_uint_eq(cs.packs, 2);
	ck_assert_uint_eq(cs.key_slots, 2);

	path = repo_join(rp, "config");
	sweep(r, path, NULL, 1);
	free(path);
	nfiles++;
	static const char *const plain[] = { "keys", "snapshots" };
	for (k = 0; k < 2; k++) {
		dir = repo_join(rp, plain[k]);
		ck_assert_int_eq(repo_list_hex(dir, k == 0 ? 16 : 64, &names, &nn), 0);
		ck_assert_uint_gt(nn, 0);
		for (i = 0; i < nn; i++) {
			path = repo_join(dir, names[i]);
			sweep(r, path, NULL, 1);
			free(path);
			nfiles++;
		}
		repo_list_free(names, nn);
		free(dir);
	}
	dir = repo_join(rp, "index");
	ck_assert_int_eq(repo_list_hex(dir, 64, &names, &nn), 0);
	ck_assert_uint_eq(nn, 2);
	for (i = 0; i < nn; i++) {
		path = repo_join(dir, names[i]);
		sweep(r, path, names[i], 1);
		free(path);
		snprintf(rel, sizeof(rel), "data/%.2s/%s", names[i], names[i]);
		path = repo_join(rp, rel);
		sweep(r, path, names[i], 1);
		free(path);
		nfiles += 2;
	}
	repo_list_free(names, nn);
	free(dir);
	ck_assert_uint_eq(nfiles, 1 + 2 + 1 + 4);
	ck_assert_int_eq(repo_check_store(r, 1, NULL, NULL, NULL), 0);
	repo_free(r);
	rm_rf(tmp);
	free(tmp);
	free(rp);
}
END_TEST

START_TEST(missing_pack_is_named)
{
	struct repo *r = NULL;
	struct repo_writer *w = NULL;
	struct snap_info s;
	uint8_t p[100], id[OBJ_ID_LEN];
	char **names = NULL, *dir, *path, rel[160];
	size_t nn;
	struct badlog b;
	struct repo_check_stats cs;

	ck_assert_int_eq(bwcrypto_init(), 0);
	quiet_logs();
	tmp = make_tmp(&rp);
	ck_assert_int_eq(repo_init(rp, "admin", PASS, strlen(PASS), &test_kdf), 0);
	ck_assert_int_eq(repo_open(rp, PASS, strlen(PASS), &r), 0);
	ck_assert_int_eq(repo_writer_start(r, &w), 0);
	fill_obj(p, sizeof(p), 1);
	ck_assert_int_eq(repo_writer_put(w, OBJ_DATA, p, sizeof(p), NULL, id, NULL), 0);
	fill_snap(&s, id, 5);
	ck_assert_int_eq(repo_writer_commit(w, &s), 0);
	repo_writer_free(w);
	dir = repo_join(rp, "index");
	ck_assert_int_eq(repo_list_hex(dir, 64, &names, &nn), 0);
	snprintf(rel, sizeof(rel), "data/%.2s/%s", names[0], names[0]);
	path = repo_join(rp, rel);
	ck_assert_int_eq(unlink(path), 0);
	b.named = idset_new();
	b.calls = 0;
	ck_assert_int_eq(repo_check_store(r, 0, on_bad, &b, &cs), BW_ERR_CORRUPT);
	ck_assert_uint_eq(b.calls, 1);
	ck_assert_int_eq(idset_get(b.named, id, NULL), 1);
	ck_assert_ptr_nonnull(strstr(last_error, "problems"));
	idset_free(b.named);
	free(path);
	free(dir);
	repo_list_free(names, nn);
	repo_free(r);
	rm_rf(tmp);
	free(tmp);
	free(rp);
}
END_TEST

int
main(void)
{
	Suite *s = suite_create("repo_check");
	TCase *tc = tcase_create("core");
	SRunner *sr;
	int failed;

	tcase_set_timeout(tc, 1200);
	tcase_add_test(tc, missing_pack_is_named);
	tcase_add_test(tc, every_bit_is_found);
	suite_add_tcase(s, tc);
	sr = srunner_create(s);
	srunner_run_all(sr, CK_NORMAL);
	failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}
