/* The tree codec: round trips, ordering rules, and hostile input. */
#include "config.h"

#include <check.h>
#include <stdlib.h>
#include <string.h>

#include "lib/repo/tree.h"
#include "lib/repo/walk.h"
#include "lib/util/err.h"
#include "tests/unit/repo_testutil.h"

static struct tree_entry
file_entry(const char *name)
{
	struct tree_entry e;
	static uint8_t ids[2][32] = { { 1 }, { 2 } };

	memset(&e, 0, sizeof(e));
	e.name = (char *)name;
	e.kind = TREE_FILE;
	e.mode = 04755;
	e.uid = 1000;
	e.gid = 100;
	e.uname = "alice";
	e.gname = "users";
	e.mtime_sec = -5;	/* before 1970 */
	e.mtime_nsec = 999999999;
	e.size = 12345;
	e.content.kind = 0;
	e.content.nids = 2;
	e.content.ids = ids;
	e.hash[0] = 0xaa;
	return e;
}

static void
encode(struct buf *out, struct tree_entry *e, size_t n)
{
	struct buf ents = { 0 };
	size_t i;

	for (i = 0; i < n; i++)
		ck_assert_int_eq(tree_entry_encode(&ents, &e[i]), 0);
	ck_assert_int_eq(tree_finish(out, (uint32_t)n, ents.data, ents.len), 0);
	buf_free(&ents);
}

START_TEST(round_trip_all_kinds)
{
	struct tree_entry e[3];
	struct tree_xattr xa = { "user.k", (uint8_t *)"v\0x", 3 };
	struct tree_region rg[2] = { { 0, 4096 }, { 1 << 20, 10 } };
	struct tree_content base = { 0, 0, NULL, NULL, 0 };
	uint8_t did[1][32] = { { 9 } };
	struct buf b = { 0 };
	struct tree *t;

	e[0] = file_entry("a\nb");	/* hostile but legal name */
	e[0].xattrs = &xa;
	e[0].nxattrs = 1;
	e[0].regions = rg;
	e[0].nregions = 2;
	e[0].acl_access = "user::rw-,user:bob:r--:1001,group::r--,mask::r--,other::---";
	e[1] = file_entry("delta");
	e[1].content = (struct tree_content){ 1, 1, &base, did, 1 };
	memset(&e[2], 0, sizeof(e[2]));
	e[2].name = "z";
	e[2].kind = TREE_SYMLINK;
	e[2].link = "../target";
	encode(&b, e, 3);
	ck_assert_int_eq(tree_decode(b.data, b.len, &t), 0);
	ck_assert_uint_eq(t->n, 3);
	ck_assert_str_eq(t->e[0].name, "a\nb");
	ck_assert_uint_eq(t->e[0].mode, 04755);
	ck_assert_int_eq(t->e[0].mtime_sec, -5);
	ck_assert_uint_eq(t->e[0].mtime_nsec, 999999999);
	ck_assert_str_eq(t->e[0].uname, "alice");
	ck_assert_uint_eq(t->e[0].nxattrs, 1);
	ck_assert_uint_eq(t->e[0].xattrs[0].len, 3);
	ck_assert_mem_eq(t->e[0].xattrs[0].value, "v\0x", 3);
	ck_assert_uint_eq(t->e[0].nregions, 2);
	ck_assert_uint_eq(t->e[0].regions[1].off, 1 << 20);
	ck_assert_str_eq(t->e[0].acl_access, e[0].acl_access);
	ck_assert_uint_eq(t->e[0].content.nids, 2);
	ck_assert_int_eq(t->e[0].content.ids[1][0], 2);
	ck_assert_int_eq(t->e[1].content.kind, 1);
	ck_assert_int_eq(t->e[1].content.depth, 1);
	ck_assert_ptr_nonnull(t->e[1].content.base);
	ck_assert_int_eq(t->e[1].content.ids[0][0], 9);
	ck_assert_str_eq(t->e[2].link, "../target");
	tree_free(t);
	buf_free(&b);
}
END_TEST

START_TEST(refuses_unsorted_duplicate_and_dot_names)
{
	const char *bad[][2] = { { "b", "a" }, { "a", "a" }, { ".", "x" }, { "..", "x" } };
	size_t i;

	for (i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		struct tree_entry e[2] = { file_entry(bad[i][0]), file_entry(bad[i][1]) };
		struct buf b = { 0 };
		struct tree *t = NULL;

		encode(&b, e, 2);
		ck_assert_int_eq(tree_decode(b.data, b.len, &t), BW_ERR_CORRUPT);
		ck_assert_ptr_null(t);
		buf_free(&b);
	}
}
END_TEST

START_TEST(refuses_slash_names_on_encode)
{
	struct tree_entry e = file_entry("a/b");
	struct buf b = { 0 };

	ck_assert_int_eq(tree_entry_encode(&b, &e), BW_ERR_INVAL);
	buf_free(&b);
}
END_TEST

START_TEST(every_truncation_and_bit_flip_is_safe)
{
	struct tree_entry e[2] = { file_entry("a"), file_entry("b") };
	struct buf b = { 0 };
	struct tree *t;
	size_t i;

	encode(&b, e, 2);
	for (i = 0; i < b.len; i++) {
		ck_assert_int_eq(tree_decode(b.data, i, &t), BW_ERR_CORRUPT);
		b.data[i] ^= 0x80;
		if (tree_decode(b.data, b.len, &t) == 0)
			tree_free(t);	/* a flip inside a value can still parse */
		b.data[i] ^= 0x80;
	}
	buf_free(&b);
}
END_TEST

START_TEST(delta_depth_is_capped)
{
	struct tree_content c[TREE_DELTA_DEPTH_MAX + 2];
	uint8_t id[1][32] = { { 0 } };
	struct buf b = { 0 };
	int i;

	memset(c, 0, sizeof(c));
	for (i = 1; i < TREE_DELTA_DEPTH_MAX + 2; i++)
		c[i] = (struct tree_content){ 1, (uint8_t)i, &c[i - 1], id, 1 };
	ck_assert_int_eq(tree_content_encode(&b, &c[TREE_DELTA_DEPTH_MAX]), 0);
	buf_reset(&b);
	ck_assert_int_eq(tree_content_encode(&b, &c[TREE_DELTA_DEPTH_MAX + 1]), BW_ERR_INVAL);
	buf_free(&b);
}
END_TEST

/* A hostile writer stores a root tree whose directory entries are a delta
 * on a base naming no tree object at all, and a whole tree stored under
 * another id than the entry's: the walk reports both directories as
 * corrupt, never reads past the descriptor. */
static int
walk_err_count(const char *path, const uint8_t id[32], int err, void *arg)
{
	(void)path;
	(void)id;
	ck_assert_int_eq(err, BW_ERR_CORRUPT);
	(*(int *)arg)++;
	return 0;
}

START_TEST(walk_refuses_bad_directory_descriptors)
{
	struct tree_content base = { 0 }, delta = { 0 };
	struct tree_entry e[2];
	struct repo_writer *w = NULL;
	struct repo *r = NULL;
	struct snap_info s;
	struct walk_opts wo = { NULL, walk_err_count, NULL, NULL };
	struct buf tree = { 0 };
	uint8_t root[32], sub[32];
	char *tmp, *rp;
	int errs = 0;

	ck_assert_int_eq(bwcrypto_init(), 0);
	quiet_logs();
	tmp = make_tmp(&rp);
	ck_assert_int_eq(repo_init(rp, "admin", "pw", 2, &test_kdf), 0);
	ck_assert_int_eq(repo_open(rp, "pw", 2, &r), 0);
	ck_assert_int_eq(repo_writer_start(r, &w), 0);
	/* an empty tree, stored */
	encode(&tree, NULL, 0);
	ck_assert_int_eq(repo_writer_put(w, OBJ_TREE, tree.data, tree.len, NULL, sub, NULL), 0);
	buf_reset(&tree);
	delta.kind = 1;
	delta.depth = 1;
	delta.base = &base;	/* kind 0 with no ids */
	memset(e, 0, sizeof(e));
	e[0].name = "d";
	e[0].kind = TREE_DIR;
	e[0].content = delta;
	/* a whole tree under an id that is not its own */
	e[1].name = "e";
	e[1].kind = TREE_DIR;
	e[1].subtree[0] = 1;
	e[1].content.nids = 1;
	e[1].content.ids = &sub;
	encode(&tree, e, 2);
	ck_assert_int_eq(repo_writer_put(w, OBJ_TREE, tree.data, tree.len, NULL, root, NULL), 0);
	fill_snap(&s, root, 1);
	ck_assert_int_eq(repo_writer_commit(w, &s), 0);
	repo_writer_free(w);
	wo.arg = &errs;
	ck_assert_int_eq(walk_tree(r, root, &wo), 0);
	ck_assert_int_eq(errs, 2);
	buf_free(&tree);
	repo_free(r);
	rm_rf(tmp);
	free(tmp);
	free(rp);
}
END_TEST

int
main(void)
{
	Suite *s = suite_create("tree");
	TCase *tc = tcase_create("core");
	SRunner *sr;
	int failed;

	tcase_add_test(tc, round_trip_all_kinds);
	tcase_add_test(tc, refuses_unsorted_duplicate_and_dot_names);
	tcase_add_test(tc, refuses_slash_names_on_encode);
	tcase_add_test(tc, every_truncation_and_bit_flip_is_safe);
	tcase_add_test(tc, delta_depth_is_capped);
	tcase_add_test(tc, walk_refuses_bad_directory_descriptors);
	suite_add_tcase(s, tc);
	sr = srunner_create(s);
	srunner_run_all(sr, CK_NORMAL);
	failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failed ? 1 : 0;
}
