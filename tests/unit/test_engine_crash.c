/*
 * Crash safety of a whole backup: for every N, the Nth file operation of a
 * small backup fails (the machine "dies"), every write not yet fsynced is
 * dropped (power cut), then the repository must pass check --read-data,
 * keep every snapshot reported done, and the next backup must succeed
 * without re-sending much of what was already durable.  The same with a
 * full disk at the Nth write.
 */
#include "config.h"

#include <check.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "backupd/engine.h"
#include "lib/crypto/bwcrypto.h"
#include "lib/util/err.h"
#include "lib/util/fsio.h"
#include "lib/util/log.h"

static char top[256], src[300], repodir[300], cachedir[300];
static const struct repo_kdf cheap = { BWC_PWHASH_OPS_MIN, BWC_PWHASH_MEM_MIN };

static void
put(const char *rel, size_t n, uint64_t seed)
{
	char path[512];
	uint8_t *p = malloc(n + 1);
	FILE *f;

	bwcrypto_test_seed(seed);
	bwcrypto_random(p, n);
	bwcrypto_test_seed(0);
	snprintf(path, sizeof(path), "%s/%s", src, rel);
	ck_assert_ptr_nonnull(f = fopen(path, "wb"));
	fwrite(p, 1, n, f);
	fclose(f);
	free(p);
}

static void
setup(void)
{
	char sub[400];

	strcpy(top, "/tmp/bw-crash-XXXXXX");
	ck_assert_ptr_nonnull(mkdtemp(top));
	snprintf(src, sizeof(src), "%s/src", top);
	snprintf(repodir, sizeof(repodir), "%s/repo", top);
	snprintf(cachedir, sizeof(cachedir), "%s/cache", top);
	mkdir(src, 0755);
	snprintf(sub, sizeof(sub), "%s/d", src);
	mkdir(sub, 0755);
	put("a", 1000, 1);
	put("b", 700000, 2);
	put("d/c", 300000, 3);
	put("d/e", 10, 4);
	ck_assert_int_eq(repo_init(repodir, "t", "pw", 2, &cheap), 0);
}

static void
teardown(void)
{
	char cmd[400];

	fsio_fault_disarm();
	snprintf(cmd, sizeof(cmd), "rm -rf '%s'", top);
	ck_assert_int_eq(system(cmd), 0);
}

static int
backup(struct snap_info *s)
{
	const char *paths[] = { src };
	struct backup_opts o = { .paths = paths, .npaths = 1, .cache_dir = cachedir,
	    .workers = 2 };
	struct repo *r;
	int rc;

	memset(s, 0, sizeof(*s));
	if ((rc = repo_open(repodir, "pw", 2, &r)) != 0)
		return rc;
	rc = backup_run(r, &o, s);
	repo_free(r);
	return rc;
}

static void
check_repo(size_t want_snapshots, const uint8_t (*ids)[32])
{
	struct repo *r;
	struct repo_check_stats st;
	struct snap_info *s;
	size_t n, bad, i, j;

	ck_assert_int_eq(repo_open(repodir, "pw", 2, &r), 0);
	memset(&st, 0, sizeof(st));
	ck_assert_int_eq(repo_check_store(r, 1, NULL, NULL, &st), 0);
	ck_assert_int_eq(repo_snapshots(r, &s, &n, &bad), 0);
	ck_assert_uint_eq(bad, 0);
	ck_assert_uint_ge(n, want_snapshots);
	for (i = 0; i < want_snapshots; i++) {
		int found = 0;

		for (j = 0; j < n; j++)
			found |= !memcmp(s[j].id, ids[i], 32);
		ck_assert_msg(found, "an acknowledged snapshot was lost");
	}
	snap_list_free(s, n);
	repo_free(r);
}

static void
crash_at_every_op(enum fsio_op kind, int err)
{
	struct snap_info s;
	uint8_t done[2][32];
	unsigned long n, total;
	int rc;

	log_set_level(LOG_LVL_ERROR);
	/* one good snapshot first: it must survive every crash below */
	ck_assert_int_eq(backup(&s), 0);
	memcpy(done[0], s.id, 32);
	snap_info_clear(&s);
	put("b", 700000, 20);	/* changed data for the next backups */

	fsio_fault_arm(kind, 0, 0);	/* count the operations of one backup */
	ck_assert_int_eq(backup(&s), 0);
	total = fsio_fault_count(kind);
	fsio_fault_disarm();
	snap_info_clear(&s);
	ck_assert_uint_gt(total, 3);

	for (n = 1; n <= total; n++) {
		put("b", 700000, 100 + n);	/* new data each round */
		log_set_level(LOG_LVL_ERROR + 0);
		log_set_sink(NULL, NULL);
		fsio_fault_arm(kind, n, err);
		rc = backup(&s);
		if (err == BW_ERR_NOSPC && fsio_fault_fired() && rc != 0)
			ck_assert_msg(rc == BW_ERR_NOSPC || rc == BW_ERR_IO,
			    "op %lu: disk full reported as %d", n, rc);
		snap_info_clear(&s);
		if (err == BW_ERR_NOSPC)
			fsio_fault_disarm();	/* space freed; nothing lost */
		else
			fsio_fault_power_cut();
		check_repo(1, done);
		/* the next backup completes */
		ck_assert_int_eq(backup(&s), 0);
		memcpy(done[1], s.id, 32);
		snap_info_clear(&s);
		check_repo(2, done);
	}
}

START_TEST(power_cut_at_every_write) { crash_at_every_op(FSIO_OP_WRITE, BW_ERR_IO); }
END_TEST
START_TEST(power_cut_at_every_sync) { crash_at_every_op(FSIO_OP_SYNC, BW_ERR_IO); }
END_TEST
START_TEST(power_cut_at_every_rename) { crash_at_every_op(FSIO_OP_RENAME, BW_ERR_IO); }
END_TEST
START_TEST(disk_full_at_every_write) { crash_at_every_op(FSIO_OP_WRITE, BW_ERR_NOSPC); }
END_TEST

START_TEST(resume_resends_little)
{
	struct snap_info s;
	unsigned long total;

	log_set_level(LOG_LVL_ERROR);
	put("big", 6u << 20, 7);
	/* count a full backup's syncs, then die after most of them */
	fsio_fault_arm(FSIO_OP_SYNC, 0, 0);
	ck_assert_int_eq(backup(&s), 0);
	total = fsio_fault_count(FSIO_OP_SYNC);
	fsio_fault_disarm();
	snap_info_clear(&s);
	/* crash as late as possible: the latest sync whose failure fails the
	 * backup (the last ones belong to the files cache, which only warns) */
	for (;;) {
		char cmd[700];
		int rc;

		ck_assert_uint_gt(total, 0);
		snprintf(cmd, sizeof(cmd), "rm -rf '%s' '%s'", repodir, cachedir);
		ck_assert_int_eq(system(cmd), 0);
		ck_assert_int_eq(repo_init(repodir, "t", "pw", 2, &cheap), 0);
		fsio_fault_arm(FSIO_OP_SYNC, total--, BW_ERR_IO);
		rc = backup(&s);
		fsio_fault_power_cut();
		snap_info_clear(&s);
		if (rc != 0)
			break;
	}
	ck_assert_int_eq(backup(&s), 0);
	/* the 7 MB already durable are not stored again */
	ck_assert_uint_lt(s.bytes_added, 1u << 20);
	snap_info_clear(&s);
}
END_TEST

int
main(void)
{
	Suite *s = suite_create("engine_crash");
	TCase *tc = tcase_create("core");
	SRunner *sr;
	int failed;

	bwcrypto_init();
	tcase_add_checked_fixture(tc, setup, teardown);
	tcase_set_timeout(tc, 1200);
	tcase_add_test(tc, power_cut_at_every_write);
	tcase_add_test(tc, power_cut_at_every_sync);
	tcase_add_test(tc, power_cut_at_every_rename);
	tcase_add_test(tc, disk_full_at_every_write);
	tcase_add_test(tc, resume_resends_little);
	suite_add_tcase(s, tc);
	sr = srunner_create(s);
	srunner_run_all(sr, CK_NORMAL);
	failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failed ? 1 : 0;
}
