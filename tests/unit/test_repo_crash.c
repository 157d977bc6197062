/*
 * Crash safety: a session that dies at any fsio operation, followed by a
 * power cut, leaves a repository that passes check --read-data, keeps every
 * snapshot committed before, and lets the next session finish while sending
 * again only what had not become durable.  Also disk full at any write, and
 * a prune that dies at any operation: live objects stay, and the next prune
 * finishes the job.
 */
#include "config.h"

#include <check.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "lib/repo/repo.h"
#include "lib/repo/repo_internal.h"
#include "lib/util/fsio.h"
#include "tests/unit/repo_testutil.h"

#define PASS "pw"
#define NOBJ 50
#define OBJ_SIZE 1000
#define PACK_TARGET 17500	/* 17 objects per pack: 3 packs */

static char *tmp, *base, *work;
static uint8_t base_snap[OBJ_ID_LEN];
static uint8_t base_obj[OBJ_ID_LEN];

static struct repo *
open_repo(const char *path)
{
	struct repo *r = NULL;

	ck_assert_int_eq(repo_open(path, PASS, strlen(PASS), &r), 0);
	repo_set_pack_target(r, PACK_TARGET);
	return r;
}

/* Puts the NOBJ objects and commits; returns the first error.  *sent
 * counts the objects that were actually written. */
static int
session(struct repo *r, int *sent, uint8_t snap[OBJ_ID_LEN])
{
	struct repo_writer *w = NULL;
	uint8_t p[OBJ_SIZE], id[OBJ_ID_LEN];
	uint64_t added;
	struct snap_info s;
	int i, rc;

	*sent = 0;
	if ((rc = repo_writer_start(r, &w)) != 0)
		return rc;
	for (i = 0; i < NOBJ; i++) {
		fill_obj(p, sizeof(p), 1000 + (uint32_t)i);
		if ((rc = repo_writer_put(w, OBJ_DATA, p, sizeof(p), NULL, id, &added)) != 0)
			goto out;
		if (added)
			(*sent)++;
	}
	fill_snap(&s, id, 2000);
	if ((rc = repo_writer_commit(w, &s)) == 0 && snap)
		memcpy(snap, s.id, OBJ_ID_LEN);
out:
	repo_writer_free(w);
	return rc;
}

struct half {
	struct repo_writer *w;
	int first, sent, rc;
	uint8_t last[OBJ_ID_LEN];
};

static void *
put_half(void *arg)
{
	struct half *h = arg;
	uint8_t p[OBJ_SIZE];
	uint64_t added;
	int i;

	for (i = h->first; i < NOBJ; i += 2) {
		fill_obj(p, sizeof(p), 1000 + (uint32_t)i);
		if ((h->rc = repo_writer_put(h->w, OBJ_DATA, p, sizeof(p), NULL, h->last,
		    &added)) != 0)
			break;
		if (added)
			h->sent++;
	}
	return NULL;
}

/* session() with the objects put by two threads at once, as the engine's
 * workers do: packs fill while another is being finished. */
static int
session_two_threads(struct repo *r)
{
	struct repo_writer *w = NULL;
	struct half h[2];
	pthread_t t[2];
	struct snap_info s;
	int i, rc;

	if ((rc = repo_writer_start(r, &w)) != 0)
		return rc;
	memset(h, 0, sizeof(h));
	for (i = 0; i < 2; i++) {
		h[i].w = w;
		h[i].first = i;
		ck_assert_int_eq(pthread_create(&t[i], NULL, put_half, &h[i]), 0);
	}
	for (i = 0; i < 2; i++)
		pthread_join(t[i], NULL);
	if ((rc = h[0].rc ? h[0].rc : h[1].rc) == 0) {
		fill_snap(&s, h[0].last, 2000);
		rc = repo_writer_commit(w, &s);
	}
	repo_writer_free(w);
	return rc;
}

static void
setup(void)
{
	struct repo *r;
	struct repo_writer *w = NULL;
	struct snap_info s;
	uint8_t p[OBJ_SIZE];

	ck_assert_int_eq(bwcrypto_init(), 0);
	quiet_logs();
	tmp = make_tmp(&base);
	ck_assert_int_gt(asprintf(&work, "%s/work", tmp), 0);
	ck_assert_int_eq(repo_init(base, "admin", PASS, strlen(PASS), &test_kdf), 0);
	r = open_repo(base);
	ck_assert_int_eq(repo_writer_start(r, &w), 0);
	fill_obj(p, sizeof(p), 7);
	ck_assert_int_eq(repo_writer_put(w, OBJ_DATA, p, sizeof(p), NULL, base_obj, NULL), 0);
	fill_snap(&s, base_obj, 1000);
	ck_assert_int_eq(repo_writer_commit(w, &s), 0);
	memcpy(base_snap, s.id, OBJ_ID_LEN);
	repo_writer_free(w);
	repo_free(r);
}

static void
teardown(void)
{
	rm_rf(tmp);
	free(tmp);
	free(base);
	free(work);
}

/* What must hold after any failure: check passes, the earlier snapshot is
 * there and whole, and a new session completes sending only what is
 * missing.  Returns the number of the session's objects that survived. */
static int
verify_after(unsigned long n)
{
	struct repo *r = open_repo(work);
	struct repo_check_stats st;
	struct snap_info *v = NULL, l;
	struct buf out = { 0 };
	uint8_t p[OBJ_SIZE], id[OBJ_ID_LEN];
	size_t nv, bad, i;
	int sent, have = 0, found = 0;

	ck_assert_msg(repo_check_store(r, 1, NULL, NULL, &st) == 0,
	    "check failed after a fault at op %lu: %s", n, last_error);
	ck_assert_int_eq(repo_snapshots(r, &v, &nv, &bad), 0);
	ck_assert_uint_eq(bad, 0);
	for (i = 0; i < nv; i++)
		found += memcmp(v[i].id, base_snap, OBJ_ID_LEN) == 0;
	snap_list_free(v, nv);
	ck_assert_msg(found == 1, "earlier snapshot lost after a fault at op %lu", n);
	ck_assert_int_eq(repo_snapshot_load(r, base_snap, &l), 0);
	ck_assert_mem_eq(l.root, base_obj, OBJ_ID_LEN);
	snap_info_clear(&l);
	ck_assert_int_eq(repo_get(r, OBJ_DATA, base_obj, &out), 0);

	for (i = 0; i < NOBJ; i++) {
		fill_obj(p, sizeof(p), 1000 + (uint32_t)i);
		repo_object_id(r, OBJ_DATA, p, sizeof(p), id);
		have += repo_has(r, id);
	}
	ck_assert_int_eq(session(r, &sent, NULL), 0);
	ck_assert_msg(sent == NOBJ - have, "fault at op %lu: %d objects survived, but %d were "
	    "sent again", n, have, sent);
	repo_free(r);

	r = open_repo(work);
	for (i = 0; i < NOBJ; i++) {
		fill_obj(p, sizeof(p), 1000 + (uint32_t)i);
		repo_object_id(r, OBJ_DATA, p, sizeof(p), id);
		buf_reset(&out);
		ck_assert_int_eq(repo_get(r, OBJ_DATA, id, &out), 0);
		ck_assert_mem_eq(out.data, p, sizeof(p));
	}
	ck_assert_int_eq(repo_check_store(r, 0, NULL, NULL, NULL), 0);
	repo_free(r);
	buf_free(&out);
	return have;
}

static int
one_thread(struct repo *r)
{
	int sent;

	return session(r, &sent, NULL);
}

/*
 * Runs sess on a copy of the base with a power cut at each operation
 * 1..total, and checks what is left (verify_after).  A fault that fires
 * must fail the session; one that does not (past the end of a shorter
 * run) leaves it to succeed.  *fired counts the runs where it fired;
 * returns the runs that kept some of the session's objects.
 */
static int
cut_at_every_op(int (*sess)(struct repo *), unsigned long total, unsigned long *fired)
{
	struct repo *r;
	unsigned long n;
	int rc, partial = 0;

	*fired = 0;
	for (n = 1; n <= total; n++) {
		copy_tree(base, work);
		r = open_repo(work);
		fsio_fault_arm(FSIO_OP_ANY, n, BW_ERR_IO);
		rc = sess(r);
		if (fsio_fault_fired()) {
			++*fired;
			ck_assert_msg(rc != 0, "session succeeded despite a fault at op %lu", n);
		} else {
			ck_assert_int_eq(rc, 0);
		}
		repo_free(r);
		fsio_fault_power_cut();
		if (verify_after(n) > 0)
			partial++;
		rm_rf(work);
	}
	return partial;
}

START_TEST(power_cut_at_every_op)
{
	struct repo *r;
	unsigned long total, fired;
	uint8_t snap[OBJ_ID_LEN];
	struct snap_info l;
	struct repo_check_stats st;
	int sent;

	/* Count the operations of a whole session; a power cut right after a
	 * successful commit keeps the snapshot. */
	copy_tree(base, work);
	r = open_repo(work);
	fsio_fault_arm(FSIO_OP_ANY, 0, 0);
	ck_assert_int_eq(session(r, &sent, snap), 0);
	total = fsio_fault_count(FSIO_OP_ANY);
	fsio_fault_power_cut();
	repo_free(r);
	ck_assert_int_eq(sent, NOBJ);
	r = open_repo(work);
	ck_assert_int_eq(repo_snapshot_load(r, snap, &l), 0);
	snap_info_clear(&l);
	ck_assert_int_eq(repo_check_store(r, 1, NULL, NULL, &st), 0);
	ck_assert_uint_ge(st.packs, 1 + 3);	/* the earlier one and the session's */
	repo_free(r);
	rm_rf(work);
	ck_assert_uint_gt(total, 60);

	/* some runs kept whole packs and did not send them again */
	ck_assert_int_gt(cut_at_every_op(one_thread, total, &fired), 0);
	ck_assert_uint_eq(fired, total);
}
END_TEST

/* The same with two writing threads.  Their interleaving changes the pack
 * boundaries (a pack grows while the previous one is being finished), so
 * the count of operations varies a little from run to run: a fault past
 * the end of a shorter run does not fire, and then the session succeeds. */
START_TEST(power_cut_two_writers)
{
	struct repo *r;
	unsigned long total, fired;

	copy_tree(base, work);
	r = open_repo(work);
	fsio_fault_arm(FSIO_OP_ANY, 0, 0);
	ck_assert_int_eq(session_two_threads(r), 0);
	total = fsio_fault_count(FSIO_OP_ANY);
	fsio_fault_disarm();
	repo_free(r);
	rm_rf(work);
	ck_assert_uint_gt(total, 60);

	(void)cut_at_every_op(session_two_threads, total, &fired);
	ck_assert_uint_gt(fired, total * 9 / 10);
}
END_TEST

START_TEST(disk_full_at_every_write)
{
	struct repo *r;
	unsigned long total, n;
	int sent, rc;

	copy_tree(base, work);
	r = open_repo(work);
	fsio_fault_arm(FSIO_OP_WRITE, 0, 0);
	ck_assert_int_eq(session(r, &sent, NULL), 0);
	total = fsio_fault_count(FSIO_OP_WRITE);
	fsio_fault_disarm();
	repo_free(r);
	rm_rf(work);

	for (n = 1; n <= total; n++) {
		copy_tree(base, work);
		r = open_repo(work);
		fsio_fault_arm(FSIO_OP_WRITE, n, BW_ERR_NOSPC);
		rc = session(r, &sent, NULL);
		ck_assert_msg(rc == BW_ERR_NOSPC, "write %lu: got %d, expected BW_ERR_NOSPC", n, rc);
		fsio_fault_disarm();
		repo_free(r);
		verify_after(n);
		rm_rf(work);
	}
}
END_TEST

/* The live set for the prune test: pack 1 (objects 0..16) stays, pack 2
 * (17..33) keeps 3 of 17 and is rewritten, pack 3 (34..49) goes. */
static int
is_live(int i)
{
	return i < 10 || (i >= 17 && i < 34 && i % 8 == 0);
}

static struct idset *
live_set(struct repo *r)
{
	struct idset *live = idset_new();
	uint8_t p[OBJ_SIZE], id[OBJ_ID_LEN];
	int i;

	idset_put(live, base_obj, 0, NULL);
	for (i = 0; i < NOBJ; i++) {
		if (!is_live(i))
			continue;
		fill_obj(p, sizeof(p), 1000 + (uint32_t)i);
		repo_object_id(r, OBJ_DATA, p, sizeof(p), id);
		idset_put(live, id, 0, NULL);
	}
	return live;
}

/* A process that died holding a lock leaves it behind; a real one would be
 * broken as stale (dead pid), but this test's pid is alive. */
static void
drop_locks(const char *repo)
{
	char *dir = repo_join(repo, "locks"), **names = NULL, *p;
	size_t n = 0, i;

	ck_assert_int_eq(repo_list_hex(dir, 32, &names, &n), 0);
	for (i = 0; i < n; i++) {
		p = repo_join(dir, names[i]);
		unlink(p);
		free(p);
	}
	repo_list_free(names, n);
	free(dir);
}

static void
verify_live(unsigned long n, int pruned_again)
{
	struct repo *r = open_repo(work);
	struct repo_check_stats st;
	struct snap_info l;
	struct buf out = { 0 };
	uint8_t p[OBJ_SIZE], id[OBJ_ID_LEN];
	int i;

	ck_assert_msg(repo_check_store(r, 1, NULL, NULL, &st) == 0,
	    "check failed after a prune fault at op %lu: %s", n, last_error);
	if (pruned_again)
		ck_assert_uint_eq(st.unreferenced_packs, 0);
	ck_assert_int_eq(repo_snapshot_load(r, base_snap, &l), 0);
	snap_info_clear(&l);
	ck_assert_int_eq(repo_get(r, OBJ_DATA, base_obj, &out), 0);
	for (i = 0; i < NOBJ; i++) {
		fill_obj(p, sizeof(p), 1000 + (uint32_t)i);
		repo_object_id(r, OBJ_DATA, p, sizeof(p), id);
		if (!is_live(i)) {
			/* dead objects of the kept first pack stay */
			if (pruned_again && i >= 17)
				ck_assert_int_eq(repo_has(r, id), 0);
			continue;
		}
		buf_reset(&out);
		ck_assert_msg(repo_get(r, OBJ_DATA, id, &out) == 0,
		    "live object %d lost after a prune fault at op %lu", i, n);
		ck_assert_mem_eq(out.data, p, sizeof(p));
	}
	buf_free(&out);
	repo_free(r);
}

START_TEST(prune_power_cut_at_every_op)
{
	struct repo *r;
	struct idset *live;
	struct repo_prune_stats ps;
	unsigned long total, n;
	char *pbase;
	int sent, rc;

	ck_assert_int_gt(asprintf(&pbase, "%s/pbase", tmp), 0);
	copy_tree(base, pbase);
	free(base);
	base = NULL;
	r = open_repo(pbase);
	ck_assert_int_eq(session(r, &sent, NULL), 0);
	repo_free(r);

	copy_tree(pbase, work);
	r = open_repo(work);
	live = live_set(r);
	ck_assert_int_eq(repo_lock(r, 1), 0);
	fsio_fault_arm(FSIO_OP_ANY, 0, 0);
	ck_assert_int_eq(repo_prune(r, live, &ps), 0);
	total = fsio_fault_count(FSIO_OP_ANY);
	fsio_fault_power_cut();
	ck_assert_uint_eq(ps.packs_removed, 2);
	ck_assert_uint_eq(ps.packs_rewritten, 1);
	ck_assert_uint_ge(total, 15);
	repo_free(r);
	drop_locks(work);
	verify_live(0, 1);
	rm_rf(work);

	for (n = 1; n <= total; n++) {
		copy_tree(pbase, work);
		r = open_repo(work);
		ck_assert_int_eq(repo_lock(r, 1), 0);
		fsio_fault_arm(FSIO_OP_ANY, n, BW_ERR_IO);
		rc = repo_prune(r, live, &ps);
		/* The rewritten pack's name is random, and so whether its
		 * directory is one a removed pack leaves (one directory sync
		 * less): a last n may be past this run's operations. */
		if (!fsio_fault_fired()) {
			ck_assert_int_eq(rc, 0);
			ck_assert_uint_lt(fsio_fault_count(FSIO_OP_ANY), n);
			repo_free(r);
			fsio_fault_power_cut();
			drop_locks(work);
			verify_live(n, 1);
			rm_rf(work);
			continue;
		}
		ck_assert_msg(rc != 0, "prune succeeded despite a fault at %lu", n);
		repo_free(r);
		fsio_fault_power_cut();
		drop_locks(work);
		verify_live(n, 0);
		/* and the next prune finishes the job */
		r = open_repo(work);
		ck_assert_int_eq(repo_prune(r, live, &ps), 0);
		repo_free(r);
		verify_live(n, 1);
		rm_rf(work);
	}
	idset_free(live);
	free(pbase);
}
END_TEST

int
main(void)
{
	Suite *s = suite_create("repo_crash");
	TCase *tc = tcase_create("core");
	SRunner *sr;
	int failed;

	tcase_add_checked_fixture(tc, setup, teardown);
	tcase_set_timeout(tc, 1200);
	tcase_add_test(tc, power_cut_at_every_op);
	tcase_add_test(tc, power_cut_two_writers);
	tcase_add_test(tc, disk_full_at_every_write);
	suite_add_tcase(s, tc);
	tc = tcase_create("prune");
	tcase_add_checked_fixture(tc, setup, teardown);
	tcase_set_timeout(tc, 1200);
	tcase_add_test(tc, prune_power_cut_at_every_op);
	suite_add_tcase(s, tc);
	sr = srunner_create(s);
	srunner_run_all(sr, CK_NORMAL);
	failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}
