#include "config.h"

#include <sys/stat.h>
#include <sys/types.h>
#include <check.h>
#include <dirent.h>
#include <ftw.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "lib/util/err.h"
#include "lib/util/fsio.h"
#include "lib/util/log.h"

static char dir[64];

static void
quiet(enum log_level lvl, const char *msg, void *arg)
{
	(void)lvl;
	(void)msg;
	(void)arg;
}

static void
setup(void)
{
	strcpy(dir, "/tmp/bw-fsio-XXXXXX");
	ck_assert_ptr_nonnull(mkdtemp(dir));
	umask(022);
	log_set_sink(quiet, NULL);
	log_reset_count();
}

static int
rm_cb(const char *p, const struct stat *st, int t, struct FTW *f)
{
	(void)st;
	(void)t;
	(void)f;
	remove(p);
	return 0;
}

static void
teardown(void)
{
	fsio_fault_disarm();
	nftw(dir, rm_cb, 16, FTW_DEPTH | FTW_PHYS);
}

static const char *
P(const char *name)
{
	static char buf[4][256];
	static int i;

	i = (i + 1) % 4;
	snprintf(buf[i], sizeof(buf[i]), "%s/%s", dir, name);
	return buf[i];
}

/* Content of a file as a string, or NULL if it does not exist. */
static char *
content(const char *path)
{
	uint8_t *p;
	size_t n;
	char *s;

	if (fsio_read_all(path, 1 << 20, &p, &n) != 0)
		return NULL;
	s = malloc(n + 1);
	memcpy(s, p, n);
	s[n] = 0;
	free(p);
	return s;
}

static void
assert_content(const char *path, const char *want)
{
	char *got = content(path);

	if (want == NULL) {
		ck_assert_msg(got == NULL, "%s should not exist, holds '%s'", path, got);
		return;
	}
	ck_assert_msg(got != NULL, "%s should exist", path);
	ck_assert_str_eq(got, want);
	free(got);
}

/* Number of entries in a directory (without . and ..). */
static int
nentries(const char *d)
{
	DIR *dh = opendir(d);
	struct dirent *de;
	int n = 0;

	ck_assert_ptr_nonnull(dh);
	while ((de = readdir(dh)) != NULL)
		if (strcmp(de->d_name, ".") && strcmp(de->d_name, ".."))
			n++;
	closedir(dh);
	return n;
}

static void
put(const char *path, const char *s, int durable)
{
	struct fsio_file *f;

	ck_assert_int_eq(fsio_create(path, 0, 0, &f), 0);
	ck_assert_int_eq(fsio_write(f, s, strlen(s)), 0);
	if (durable)
		ck_assert_int_eq(fsio_sync(f), 0);
	ck_assert_int_eq(fsio_close(f), 0);
}

START_TEST(atomic_write_replaces_and_leaves_no_temp)
{
	struct stat st;

	ck_assert_int_eq(fsio_write_atomic(P("config"), "first", 5, 0640), 0);
	assert_content(P("config"), "first");
	ck_assert_int_eq(fsio_write_atomic(P("config"), "second!", 7, 0640), 0);
	assert_content(P("config"), "second!");
	ck_assert_int_eq(nentries(dir), 1);
	ck_assert_int_eq(stat(P("config"), &st), 0);
	ck_assert_int_eq(st.st_mode & 07777, 0640);
	/* empty content and the default mode */
	ck_assert_int_eq(fsio_write_atomic(P("empty"), "", 0, 0), 0);
	assert_content(P("empty"), "");
	ck_assert_int_eq(stat(P("empty"), &st), 0);
	ck_assert_int_eq(st.st_mode & 07777, 0600);
	ck_assert_int_eq(log_error_count(), 0);
}
END_TEST

START_TEST(atomic_write_into_missing_dir_fails_logged)
{
	ck_assert_int_eq(fsio_write_atomic(P("nodir/x"), "a", 1, 0), BW_ERR_NOENT);
	ck_assert_uint_eq(log_error_count(), 1);
	ck_assert_int_eq(fsio_write_atomic(P("trailing/"), "a", 1, 0), BW_ERR_INVAL);
}
END_TEST

START_TEST(read_all_limits)
{
	uint8_t *p = (uint8_t *)"x";
	size_t n = 99;

	put(P("ten"), "0123456789", 0);
	ck_assert_int_eq(fsio_read_all(P("ten"), 10, &p, &n), 0);
	ck_assert_uint_eq(n, 10);
	ck_assert_mem_eq(p, "0123456789", 10);
	free(p);
	ck_assert_int_eq(fsio_read_all(P("ten"), 9, &p, &n), BW_ERR_CORRUPT);
	ck_assert_ptr_null(p);
	ck_assert_uint_eq(log_error_count(), 1);
	/* missing: a code, not a message */
	ck_assert_int_eq(fsio_read_all(P("none"), 10, &p, &n), BW_ERR_NOENT);
	ck_assert_uint_eq(log_error_count(), 1);
	put(P("empty"), "", 0);
	ck_assert_int_eq(fsio_read_all(P("empty"), 0, &p, &n), 0);
	ck_assert_uint_eq(n, 0);
	free(p);
}
END_TEST

START_TEST(create_append_size_and_codes)
{
	struct fsio_file *f;

	put(P("a"), "abc", 1);
	ck_assert_int_eq(fsio_create(P("a"), 1, 0, &f), BW_ERR_EXIST);
	ck_assert_ptr_null(f);
	ck_assert_int_eq(fsio_open_append(P("a"), &f), 0);
	ck_assert_uint_eq(fsio_size(f), 3);
	ck_assert_int_eq(fsio_write(f, "de", 2), 0);
	ck_assert_uint_eq(fsio_size(f), 5);
	ck_assert_int_eq(fsio_close(f), 0);
	assert_content(P("a"), "abcde");
	ck_assert_int_eq(fsio_unlink(P("a")), 0);
	ck_assert_int_eq(fsio_unlink(P("a")), BW_ERR_NOENT);
	ck_assert_int_eq(fsio_mkdir(P("d"), 0700), 0);
	ck_assert_int_eq(fsio_mkdir(P("d"), 0700), BW_ERR_EXIST);
	ck_assert_int_eq(fsio_sync_dir(P("d")), 0);
	ck_assert_uint_eq(log_error_count(), 0);
	ck_assert_int_eq(fsio_close(NULL), 0);
	ck_assert_int_eq(fsio_rename(P("nope"), P("b")), BW_ERR_NOENT);
	ck_assert_uint_eq(log_error_count(), 1);
}
END_TEST

START_TEST(abort_removes_file)
{
	struct fsio_file *f;

	ck_assert_int_eq(fsio_create(P("t"), 1, 0, &f), 0);
	ck_assert_int_eq(fsio_write(f, "zz", 2), 0);
	fsio_abort(f, P("t"));
	ck_assert_int_eq(nentries(dir), 0);
	fsio_abort(NULL, P("t"));
}
END_TEST

START_TEST(nospc_on_nth_write)
{
	ck_assert_int_eq(fsio_write_atomic(P("head"), "old", 3, 0), 0);
	fsio_fault_arm(FSIO_OP_WRITE, 2, BW_ERR_NOSPC);
	ck_assert_int_eq(fsio_write_atomic(P("a"), "one", 3, 0), 0);
	ck_assert(!fsio_fault_fired());
	ck_assert_int_eq(fsio_write_atomic(P("head"), "new", 3, 0), BW_ERR_NOSPC);
	ck_assert(fsio_fault_fired());
	ck_assert_uint_eq(fsio_fault_count(FSIO_OP_WRITE), 2);
	fsio_fault_power_cut();
	assert_content(P("head"), "old");
	assert_content(P("a"), "one");
	ck_assert_int_eq(nentries(dir), 2);	/* no temporary left */
}
END_TEST

START_TEST(dead_after_fault)
{
	struct fsio_file *f;
	uint8_t *p;
	size_t n;

	ck_assert_int_eq(fsio_open_append(P("log"), &f), 0);
	fsio_fault_arm(FSIO_OP_SYNC, 1, BW_ERR_IO);
	ck_assert_int_eq(fsio_write(f, "x", 1), 0);
	ck_assert_int_eq(fsio_sync(f), BW_ERR_IO);
	ck_assert(fsio_fault_fired());
	/* every later call fails, counted or not */
	ck_assert_int_eq(fsio_write(f, "y", 1), BW_ERR_IO);
	ck_assert_int_eq(fsio_write_atomic(P("b"), "b", 1, 0), BW_ERR_IO);
	ck_assert_int_eq(fsio_mkdir(P("d"), 0700), BW_ERR_IO);
	ck_assert_int_eq(fsio_read_all(P("log"), 10, &p, &n), BW_ERR_IO);
	ck_assert_int_eq(fsio_close(f), BW_ERR_IO);
	ck_assert_uint_eq(fsio_fault_count(FSIO_OP_WRITE), 1);
	fsio_fault_disarm();
	/* disarmed: the disk is as the dead machine left it, and usable */
	ck_assert(fsio_fault_fired());
	assert_content(P("log"), "x");
	ck_assert_int_eq(fsio_write_atomic(P("b"), "b", 1, 0), 0);
	ck_assert_int_eq(nentries(dir), 2);
}
END_TEST

START_TEST(fault_on_any_kind)
{
	fsio_fault_arm(FSIO_OP_ANY, 4, BW_ERR_IO);	/* 4th op: the rename */
	ck_assert_int_eq(fsio_write_atomic(P("f"), "abc", 3, 0), BW_ERR_IO);
	ck_assert_uint_eq(fsio_fault_count(FSIO_OP_RENAME), 1);
	ck_assert_uint_eq(fsio_fault_count(FSIO_OP_ANY), 4);
	fsio_fault_power_cut();
	ck_assert_int_eq(nentries(dir), 0);
}
END_TEST

START_TEST(counts_operations)
{
	struct fsio_file *f;

	fsio_fault_arm(FSIO_OP_ANY, 0, 0);
	ck_assert_int_eq(fsio_write_atomic(P("f"), "abc", 3, 0), 0);
	ck_assert_uint_eq(fsio_fault_count(FSIO_OP_CREATE), 1);
	ck_assert_uint_eq(fsio_fault_count(FSIO_OP_WRITE), 1);
	ck_assert_uint_eq(fsio_fault_count(FSIO_OP_SYNC), 2);
	ck_assert_uint_eq(fsio_fault_count(FSIO_OP_RENAME), 1);
	ck_assert_uint_eq(fsio_fault_count(FSIO_OP_UNLINK), 0);
	ck_assert_uint_eq(fsio_fault_count(FSIO_OP_ANY), 5);
	ck_assert_int_eq(fsio_open_append(P("g"), &f), 0);
	ck_assert_int_eq(fsio_write(f, "1", 1), 0);
	ck_assert_int_eq(fsio_write(f, "2", 1), 0);
	ck_assert_int_eq(fsio_close(f), 0);
	ck_assert_int_eq(fsio_mkdir(P("d"), 0700), 0);
	ck_assert_int_eq(fsio_unlink(P("g")), 0);
	ck_assert_uint_eq(fsio_fault_count(FSIO_OP_CREATE), 2);
	ck_assert_uint_eq(fsio_fault_count(FSIO_OP_WRITE), 3);
	ck_assert_uint_eq(fsio_fault_count(FSIO_OP_MKDIR), 1);
	ck_assert_uint_eq(fsio_fault_count(FSIO_OP_UNLINK), 1);
	ck_assert_uint_eq(fsio_fault_count(FSIO_OP_ANY), 10);
	ck_assert(!fsio_fault_fired());
	/* re-arming starts counting again */
	fsio_fault_arm(FSIO_OP_WRITE, 0, 0);
	ck_assert_uint_eq(fsio_fault_count(FSIO_OP_ANY), 0);
}
END_TEST

START_TEST(power_cut_drops_unsynced_write)
{
	struct fsio_file *f;

	put(P("old"), "before", 1);
	fsio_fault_arm(FSIO_OP_ANY, 0, 0);
	/* durable file, then an unsynced append */
	ck_assert_int_eq(fsio_create(P("new"), 1, 0, &f), 0);
	ck_assert_int_eq(fsio_write(f, "A", 1), 0);
	ck_assert_int_eq(fsio_sync(f), 0);
	ck_assert_int_eq(fsio_write(f, "B", 1), 0);
	ck_assert_int_eq(fsio_close(f), 0);
	ck_assert_int_eq(fsio_sync_dir(dir), 0);
	/* pre-existing file appended and truncated without sync */
	ck_assert_int_eq(fsio_open_append(P("old"), &f), 0);
	ck_assert_int_eq(fsio_write(f, "+more", 5), 0);
	ck_assert_int_eq(fsio_close(f), 0);
	assert_content(P("new"), "AB");
	assert_content(P("old"), "before+more");
	fsio_fault_power_cut();
	assert_content(P("new"), "A");
	assert_content(P("old"), "before");

	fsio_fault_arm(FSIO_OP_ANY, 0, 0);
	put(P("old"), "x", 0);	/* truncate and rewrite, no sync */
	fsio_fault_power_cut();
	assert_content(P("old"), "before");
}
END_TEST

START_TEST(power_cut_created_file_unsynced_is_empty)
{
	fsio_fault_arm(FSIO_OP_ANY, 0, 0);
	put(P("f"), "data", 0);
	ck_assert_int_eq(fsio_sync_dir(dir), 0);
	fsio_fault_power_cut();
	assert_content(P("f"), "");
}
END_TEST

START_TEST(power_cut_new_file_without_dir_sync_disappears)
{
	fsio_fault_arm(FSIO_OP_ANY, 0, 0);
	put(P("f"), "data", 1);
	ck_assert_int_eq(fsio_mkdir(P("sub"), 0700), 0);
	put(P("sub/g"), "more", 1);
	ck_assert_int_eq(fsio_sync_dir(P("sub")), 0);
	fsio_fault_power_cut();
	assert_content(P("f"), NULL);
	ck_assert_int_eq(nentries(dir), 0);	/* sub went with its parent entry */
}
END_TEST

START_TEST(power_cut_undoes_rename_without_dir_sync)
{
	put(P("a"), "alpha", 1);
	put(P("b"), "beta", 1);
	fsio_fault_arm(FSIO_OP_ANY, 0, 0);
	ck_assert_int_eq(fsio_rename(P("a"), P("b")), 0);
	assert_content(P("a"), NULL);
	assert_content(P("b"), "alpha");
	fsio_fault_power_cut();
	assert_content(P("a"), "alpha");
	assert_content(P("b"), "beta");
	ck_assert_int_eq(nentries(dir), 2);

	/* the same rename made durable survives */
	fsio_fault_arm(FSIO_OP_ANY, 0, 0);
	ck_assert_int_eq(fsio_rename(P("a"), P("b")), 0);
	ck_assert_int_eq(fsio_sync_dir(dir), 0);
	fsio_fault_power_cut();
	assert_content(P("a"), NULL);
	assert_content(P("b"), "alpha");
}
END_TEST

START_TEST(power_cut_undoes_unlink_without_dir_sync)
{
	put(P("a"), "alpha", 1);
	put(P("b"), "beta", 1);
	fsio_fault_arm(FSIO_OP_ANY, 0, 0);
	ck_assert_int_eq(fsio_unlink(P("a")), 0);
	ck_assert_int_eq(fsio_unlink(P("b")), 0);
	ck_assert_int_eq(nentries(dir), 0);
	fsio_fault_power_cut();
	assert_content(P("a"), "alpha");
	assert_content(P("b"), "beta");

	fsio_fault_arm(FSIO_OP_ANY, 0, 0);
	ck_assert_int_eq(fsio_unlink(P("a")), 0);
	ck_assert_int_eq(fsio_sync_dir(dir), 0);
	fsio_fault_power_cut();
	assert_content(P("a"), NULL);
	assert_content(P("b"), "beta");
}
END_TEST

START_TEST(power_cut_keeps_durable_sequence)
{
	struct fsio_file *f;

	put(P("log"), "1\n", 1);
	fsio_fault_arm(FSIO_OP_ANY, 0, 0);
	ck_assert_int_eq(fsio_write_atomic(P("head"), "h1", 2, 0), 0);
	ck_assert_int_eq(fsio_write_atomic(P("head"), "h2", 2, 0), 0);
	ck_assert_int_eq(fsio_mkdir(P("sub"), 0700), 0);
	ck_assert_int_eq(fsio_sync_dir(dir), 0);
	ck_assert_int_eq(fsio_write_atomic(P("sub/x"), "xx", 2, 0), 0);
	ck_assert_int_eq(fsio_open_append(P("log"), &f), 0);
	ck_assert_int_eq(fsio_write(f, "2\n", 2), 0);
	ck_assert_int_eq(fsio_sync(f), 0);
	ck_assert_int_eq(fsio_close(f), 0);
	/* then work that is cut short */
	ck_assert_int_eq(fsio_open_append(P("log"), &f), 0);
	ck_assert_int_eq(fsio_write(f, "3\n", 2), 0);
	ck_assert_int_eq(fsio_close(f), 0);
	put(P("sub/y"), "yy", 1);
	fsio_fault_power_cut();
	assert_content(P("head"), "h2");
	assert_content(P("sub/x"), "xx");
	assert_content(P("sub/y"), NULL);
	assert_content(P("log"), "1\n2\n");
	ck_assert_int_eq(nentries(dir), 3);
	ck_assert_int_eq(nentries(P("sub")), 1);
}
END_TEST

START_TEST(power_cut_midway_atomic_write_keeps_old)
{
	unsigned long nth;

	/* fail each op of write_atomic in turn: the old file always survives */
	for (nth = 1; nth <= 5; nth++) {
		ck_assert_int_eq(fsio_write_atomic(P("cfg"), "old", 3, 0), 0);
		fsio_fault_arm(FSIO_OP_ANY, nth, BW_ERR_IO);
		ck_assert_int_eq(fsio_write_atomic(P("cfg"), "new", 3, 0), BW_ERR_IO);
		fsio_fault_power_cut();
		assert_content(P("cfg"), "old");
		ck_assert_int_eq(nentries(dir), 1);
	}
}
END_TEST

START_TEST(power_cut_handle_opened_before_arming)
{
	struct fsio_file *f;

	put(P("log"), "keep", 1);
	ck_assert_int_eq(fsio_open_append(P("log"), &f), 0);
	fsio_fault_arm(FSIO_OP_ANY, 0, 0);
	ck_assert_int_eq(fsio_write(f, "-lost", 5), 0);
	ck_assert_int_eq(fsio_close(f), 0);
	fsio_fault_power_cut();
	assert_content(P("log"), "keep");
}
END_TEST

struct appender {
	const char *path;
	int n;
};

static void *
append_many(void *arg)
{
	struct appender *a = arg;
	struct fsio_file *f;
	int i;

	if (fsio_create(a->path, 1, 0, &f))
		return (void *)1;
	for (i = 0; i < a->n; i++)
		if (fsio_write(f, "x", 1) || (i % 10 == 9 && fsio_sync(f)))
			return (void *)1;
	return (void *)(intptr_t)fsio_close(f);
}

START_TEST(power_cut_two_threads)
{
	struct appender a = { NULL, 95 }, b = { NULL, 57 };
	pthread_t ta, tb;
	void *ra, *rb;
	char *s;

	a.path = strdup(P("a"));
	b.path = strdup(P("b"));
	fsio_fault_arm(FSIO_OP_ANY, 0, 0);
	ck_assert_int_eq(pthread_create(&ta, NULL, append_many, &a), 0);
	ck_assert_int_eq(pthread_create(&tb, NULL, append_many, &b), 0);
	pthread_join(ta, &ra);
	pthread_join(tb, &rb);
	ck_assert_ptr_null(ra);
	ck_assert_ptr_null(rb);
	ck_assert_uint_eq(fsio_fault_count(FSIO_OP_WRITE), 95 + 57);
	ck_assert_int_eq(fsio_sync_dir(dir), 0);
	fsio_fault_power_cut();
	s = content(a.path);
	ck_assert_uint_eq(strlen(s), 90);
	free(s);
	s = content(b.path);
	ck_assert_uint_eq(strlen(s), 50);
	free(s);
	free((void *)a.path);
	free((void *)b.path);
}
END_TEST

static Suite *
fsio_suite(void)
{
	Suite *s = suite_create("fsio");
	TCase *tc = tcase_create("fsio");

	tcase_add_checked_fixture(tc, setup, teardown);
	tcase_add_test(tc, atomic_write_replaces_and_leaves_no_temp);
	tcase_add_test(tc, atomic_write_into_missing_dir_fails_logged);
	tcase_add_test(tc, read_all_limits);
	tcase_add_test(tc, create_append_size_and_codes);
	tcase_add_test(tc, abort_removes_file);
	tcase_add_test(tc, nospc_on_nth_write);
	tcase_add_test(tc, dead_after_fault);
	tcase_add_test(tc, fault_on_any_kind);
	tcase_add_test(tc, counts_operations);
	tcase_add_test(tc, power_cut_drops_unsynced_write);
	tcase_add_test(tc, power_cut_created_file_unsynced_is_empty);
	tcase_add_test(tc, power_cut_new_file_without_dir_sync_disappears);
	tcase_add_test(tc, power_cut_undoes_rename_without_dir_sync);
	tcase_add_test(tc, power_cut_undoes_unlink_without_dir_sync);
	tcase_add_test(tc, power_cut_keeps_durable_sequence);
	tcase_add_test(tc, power_cut_midway_atomic_write_keeps_old);
	tcase_add_test(tc, power_cut_handle_opened_before_arming);
	tcase_add_test(tc, power_cut_two_threads);
	suite_add_tcase(s, tc);
	return s;
}

int
main(void)
{
	SRunner *sr = srunner_create(fsio_suite());
	int failed;

	srunner_run_all(sr, CK_NORMAL);
	failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}
