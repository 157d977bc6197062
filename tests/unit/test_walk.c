/* Walking stored trees: walk_load, walk_lookup, walk_subtree and walk_tree
 * with a seen set, on a small repository built here. */
#include "config.h"

#include <check.h>
#include <stdlib.h>
#include <string.h>

#include "lib/repo/idset.h"
#include "lib/repo/tree.h"
#include "lib/repo/walk.h"
#include "lib/util/err.h"
#include "tests/unit/repo_testutil.h"

/*
 * The snapshot's tree:
 *   /srv/            dir
 *   /srv/f           file
 *   /srv/www/        dir (the same tree as /srv/copy/)
 *   /srv/www/a.txt   file
 *   /srv/www/link    symlink -> a.txt
 *   /srv/www/sub/    dir
 *   /srv/www/sub/b   file
 *   /srv/copy/       dir, same contents as www
 *   /srv/gone/       dir whose tree object was never stored
 */
static char *tmp, *rp;
static struct repo *r;
static uint8_t root[32], www[32], sub[32], gone[32];

static void
put_tree(struct repo_writer *w, struct tree_entry *e, size_t n, uint8_t id[32])
{
	struct buf ents = { 0 }, t = { 0 };
	size_t i;

	for (i = 0; i < n; i++)
		ck_assert_int_eq(tree_entry_encode(&ents, &e[i]), 0);
	ck_assert_int_eq(tree_finish(&t, (uint32_t)n, ents.data, ents.len), 0);
	ck_assert_int_eq(repo_writer_put(w, OBJ_TREE, t.data, t.len, NULL, id, NULL), 0);
	buf_free(&ents);
	buf_free(&t);
}

static struct tree_entry
ent(const char *name, int kind, uint8_t (*id)[32])
{
	struct tree_entry e;

	memset(&e, 0, sizeof(e));
	e.name = (char *)name;
	e.kind = (uint8_t)kind;
	e.mode = kind == TREE_DIR ? 0755 : 0644;
	e.size = kind == TREE_FILE ? 7 : 0;
	if (kind == TREE_SYMLINK)
		e.link = "a.txt";
	if (kind == TREE_DIR) {
		memcpy(e.subtree, *id, 32);
		e.content.nids = 1;
		e.content.ids = id;
	}
	return e;
}

static void
setup(void)
{
	static uint8_t ids[4][32];
	struct repo_writer *w = NULL;
	struct tree_entry e[5];
	struct snap_info s;
	uint8_t srv[32];

	ck_assert_int_eq(bwcrypto_init(), 0);
	quiet_logs();
	tmp = make_tmp(&rp);
	ck_assert_int_eq(repo_init(rp, "admin", "pw", 2, &test_kdf), 0);
	ck_assert_int_eq(repo_open(rp, "pw", 2, &r), 0);
	ck_assert_int_eq(repo_writer_start(r, &w), 0);
	e[0] = ent("b", TREE_FILE, NULL);
	put_tree(w, e, 1, sub);
	memcpy(ids[0], sub, 32);
	e[0] = ent("a.txt", TREE_FILE, NULL);
	e[1] = ent("link", TREE_SYMLINK, NULL);
	e[2] = ent("sub", TREE_DIR, &ids[0]);
	put_tree(w, e, 3, www);
	memcpy(ids[1], www, 32);
	memset(gone, 0x5a, 32);
	memcpy(ids[2], gone, 32);
	e[0] = ent("copy", TREE_DIR, &ids[1]);
	e[1] = ent("f", TREE_FILE, NULL);
	e[2] = ent("gone", TREE_DIR, &ids[2]);
	e[3] = ent("www", TREE_DIR, &ids[1]);
	put_tree(w, e, 4, srv);
	memcpy(ids[3], srv, 32);
	e[0] = ent("srv", TREE_DIR, &ids[3]);
	put_tree(w, e, 1, root);
	fill_snap(&s, root, 1);
	ck_assert_int_eq(repo_writer_commit(w, &s), 0);
	repo_writer_free(w);
}

static void
teardown(void)
{
	repo_free(r);
	rm_rf(tmp);
	free(tmp);
	free(rp);
}

START_TEST(load_root_and_a_directory)
{
	struct tree *t = NULL, *u = NULL;

	ck_assert_int_eq(walk_load(r, root, NULL, &t), 0);
	ck_assert_uint_eq(t->n, 1);
	ck_assert_str_eq(t->e[0].name, "srv");
	ck_assert_int_eq(walk_load(r, t->e[0].subtree, &t->e[0].content, &u), 0);
	ck_assert_uint_eq(u->n, 4);
	ck_assert_str_eq(u->e[3].name, "www");
	tree_free(u);
	/* a tree that is not in the repository */
	ck_assert_int_eq(walk_load(r, gone, NULL, &u), BW_ERR_NOENT);
	ck_assert_ptr_null(u);
	tree_free(t);
}
END_TEST

START_TEST(lookup_paths)
{
	struct tree *p = NULL;
	size_t i = 99;

	ck_assert_int_eq(walk_lookup(r, root, "/", &p, &i, NULL), 0);
	ck_assert_ptr_null(p);	/* the root has no entry */
	ck_assert_int_eq(walk_lookup(r, root, "/srv/www/a.txt", &p, &i, NULL), 0);
	ck_assert_ptr_nonnull(p);
	ck_assert_str_eq(p->e[i].name, "a.txt");
	ck_assert_uint_eq(p->e[i].size, 7);
	tree_free(p);
	/* repeated and trailing slashes */
	ck_assert_int_eq(walk_lookup(r, root, "//srv///www/", &p, &i, NULL), 0);
	ck_assert_str_eq(p->e[i].name, "www");
	ck_assert_int_eq(p->e[i].kind, TREE_DIR);
	ck_assert_mem_eq(p->e[i].subtree, www, 32);
	tree_free(p);
	ck_assert_int_eq(walk_lookup(r, root, "/srv/copy/sub/b", &p, &i, NULL), 0);
	ck_assert_str_eq(p->e[i].name, "b");
	tree_free(p);
	ck_assert_int_eq(walk_lookup(r, root, "/srv/www/link", &p, &i, NULL), 0);
	ck_assert_str_eq(p->e[i].link, "a.txt");
	tree_free(p);
}
END_TEST

START_TEST(lookup_failures)
{
	struct tree *p = (struct tree *)1;
	size_t i;

	ck_assert_int_eq(walk_lookup(r, root, "/srv/nope", &p, &i, NULL), BW_ERR_NOENT);
	ck_assert_ptr_null(p);
	ck_assert_int_eq(walk_lookup(r, root, "/srv/f/x", &p, &i, NULL), BW_ERR_NOENT);	/* a file */
	ck_assert_int_eq(walk_lookup(r, root, "/srv/www/link/x", &p, &i, NULL), BW_ERR_NOENT);
	ck_assert_int_eq(walk_lookup(r, root, "srv", &p, &i, NULL), BW_ERR_INVAL);
	ck_assert_int_eq(walk_lookup(r, root, "", &p, &i, NULL), BW_ERR_INVAL);
	/* a name longer than any allowed */
	{
		char *big = malloc(TREE_NAME_MAX + 10);

		ck_assert_ptr_nonnull(big);
		big[0] = '/';
		memset(big + 1, 'x', TREE_NAME_MAX + 5);
		big[TREE_NAME_MAX + 6] = 0;
		ck_assert_int_eq(walk_lookup(r, root, big, &p, &i, NULL), BW_ERR_NOENT);
		free(big);
	}
	/* the entry itself is found even though its tree is missing; only
	 * going through it fails, and as damage, not as "no such path": its
	 * verified parent names that tree */
	ck_assert_int_eq(walk_lookup(r, root, "/srv/gone", &p, &i, NULL), 0);
	tree_free(p);
	ck_assert_int_eq(walk_lookup(r, root, "/srv/gone/x", &p, &i, NULL), BW_ERR_CORRUPT);
	ck_assert_ptr_null(p);
}
END_TEST

/* A failed lookup says where it stopped, so that the message names it. */
START_TEST(lookup_says_where_it_stopped)
{
	struct walk_stop st;
	struct tree *p = NULL;
	size_t i;

	ck_assert_int_eq(walk_lookup(r, root, "//srv//nope/deeper", &p, &i, &st), BW_ERR_NOENT);
	ck_assert_str_eq(st.path, "/srv/nope");
	ck_assert_uint_eq(st.kind, 0);
	free(st.path);
	ck_assert_int_eq(walk_lookup(r, root, "/nope", &p, &i, &st), BW_ERR_NOENT);
	ck_assert_str_eq(st.path, "/nope");
	free(st.path);
	/* a file in the way */
	ck_assert_int_eq(walk_lookup(r, root, "/srv/f/x", &p, &i, &st), BW_ERR_NOENT);
	ck_assert_str_eq(st.path, "/srv/f");
	ck_assert_uint_eq(st.kind, TREE_FILE);
	free(st.path);
	ck_assert_int_eq(walk_lookup(r, root, "/srv/www/link/x", &p, &i, &st), BW_ERR_NOENT);
	ck_assert_str_eq(st.path, "/srv/www/link");
	ck_assert_uint_eq(st.kind, TREE_SYMLINK);
	free(st.path);
	/* damage names the directory whose tree is missing */
	ck_assert_int_eq(walk_lookup(r, root, "/srv/gone/x", &p, &i, &st), BW_ERR_CORRUPT);
	ck_assert_str_eq(st.path, "/srv/gone");
	ck_assert_uint_eq(st.kind, 0);
	free(st.path);
	ck_assert_int_eq(walk_lookup(r, gone, "/x", &p, &i, &st), BW_ERR_CORRUPT);
	ck_assert_str_eq(st.path, "/");
	free(st.path);
	/* success and a relative path leave nothing to free */
	ck_assert_int_eq(walk_lookup(r, root, "/srv/f", &p, &i, &st), 0);
	ck_assert_ptr_null(st.path);
	tree_free(p);
	ck_assert_int_eq(walk_lookup(r, root, "srv", &p, &i, &st), BW_ERR_INVAL);
	ck_assert_ptr_null(st.path);
}
END_TEST

struct seen_paths { char buf[2048]; int stop_at; int skip_dirs; int n; };

static int
collect(const char *path, const struct tree_entry *e, void *arg)
{
	struct seen_paths *s = arg;

	strncat(s->buf, path, sizeof(s->buf) - strlen(s->buf) - 2);
	strcat(s->buf, " ");
	if (++s->n == s->stop_at)
		return BW_ERR_INTR;
	return s->skip_dirs && e->kind == TREE_DIR ? 1 : 0;
}

struct errs { char path[256]; int err; int n; };

static int
collect_err(const char *path, const uint8_t id[32], int err, void *arg)
{
	struct errs *x = arg;

	(void)id;
	snprintf(x->path, sizeof(x->path), "%s", path);
	x->err = err;
	x->n++;
	return 0;
}

START_TEST(subtree_walks_below_a_path)
{
	struct seen_paths sp = { "", 0, 0, 0 };
	struct walk_opts wo = { collect, NULL, &sp, NULL };
	struct tree *p = NULL;
	size_t i;

	ck_assert_int_eq(walk_lookup(r, root, "/srv/www", &p, &i, NULL), 0);
	ck_assert_int_eq(walk_subtree(r, "/srv/www", &p->e[i], &wo), 0);
	ck_assert_str_eq(sp.buf, "/srv/www/a.txt /srv/www/link /srv/www/sub /srv/www/sub/b ");
	/* returning 1 skips a directory's contents */
	memset(&sp, 0, sizeof(sp));
	sp.skip_dirs = 1;
	ck_assert_int_eq(walk_subtree(r, "/srv/www", &p->e[i], &wo), 0);
	ck_assert_str_eq(sp.buf, "/srv/www/a.txt /srv/www/link /srv/www/sub ");
	/* a negative code stops the walk and is returned */
	memset(&sp, 0, sizeof(sp));
	sp.stop_at = 2;
	ck_assert_int_eq(walk_subtree(r, "/srv/www", &p->e[i], &wo), BW_ERR_INTR);
	ck_assert_str_eq(sp.buf, "/srv/www/a.txt /srv/www/link ");
	/* a directory given as "/" yields paths from the root */
	memset(&sp, 0, sizeof(sp));
	ck_assert_int_eq(walk_subtree(r, "/", &p->e[i], &wo), 0);
	ck_assert_str_eq(sp.buf, "/a.txt /link /sub /sub/b ");
	tree_free(p);
	/* not a directory */
	ck_assert_int_eq(walk_lookup(r, root, "/srv/f", &p, &i, NULL), 0);
	ck_assert_int_eq(walk_subtree(r, "/srv/f", &p->e[i], &wo), BW_ERR_INVAL);
	tree_free(p);
}
END_TEST

START_TEST(missing_tree_is_reported_with_its_directory)
{
	struct errs x = { "", 0, 0 };
	struct walk_opts wo = { collect, collect_err, NULL, NULL };
	struct tree *p = NULL;
	size_t i;

	ck_assert_int_eq(walk_lookup(r, root, "/srv", &p, &i, NULL), 0);
	/* fn and err share arg: walk with err alone */
	wo.fn = NULL;
	wo.arg = &x;
	ck_assert_int_eq(walk_subtree(r, "/srv", &p->e[i], &wo), 0);
	ck_assert_int_eq(x.n, 1);
	ck_assert_str_eq(x.path, "/srv/gone");
	ck_assert_int_eq(x.err, BW_ERR_NOENT);
	/* without an error callback the walk stops with the error */
	wo.err = NULL;
	ck_assert_int_eq(walk_subtree(r, "/srv", &p->e[i], &wo), BW_ERR_NOENT);
	tree_free(p);
}
END_TEST

START_TEST(seen_set_visits_shared_trees_once)
{
	struct seen_paths sp = { "", 0, 0, 0 };
	struct walk_opts wo = { collect, NULL, &sp, NULL };
	struct idset *seen = idset_new();

	ck_assert_ptr_nonnull(seen);
	/* gone is marked seen so that a walk without an error callback
	 * does not stop there */
	wo.seen = seen;
	ck_assert_int_eq(idset_put(seen, gone, 0, NULL), 0);
	/* www has the same tree as copy, walked first: not descended */
	ck_assert_int_eq(walk_tree(r, root, &wo), 0);
	ck_assert_str_eq(sp.buf, "/srv /srv/copy /srv/copy/a.txt /srv/copy/link /srv/copy/sub "
	    "/srv/copy/sub/b /srv/f /srv/gone /srv/www ");
	ck_assert(idset_get(seen, root, NULL));
	ck_assert(idset_get(seen, www, NULL));
	ck_assert(idset_get(seen, sub, NULL));
	/* a second walk of the same snapshot visits nothing */
	memset(&sp, 0, sizeof(sp));
	ck_assert_int_eq(walk_tree(r, root, &wo), 0);
	ck_assert_str_eq(sp.buf, "");
	idset_free(seen);
}
END_TEST

int
main(void)
{
	Suite *s = suite_create("walk");
	TCase *tc = tcase_create("core");
	SRunner *sr;
	int failed;

	tcase_add_checked_fixture(tc, setup, teardown);
	tcase_add_test(tc, load_root_and_a_directory);
	tcase_add_test(tc, lookup_paths);
	tcase_add_test(tc, lookup_failures);
	tcase_add_test(tc, lookup_says_where_it_stopped);
	tcase_add_test(tc, subtree_walks_below_a_path);
	tcase_add_test(tc, missing_tree_is_reported_with_its_directory);
	tcase_add_test(tc, seen_set_visits_shared_trees_once);
	suite_add_tcase(s, tc);
	sr = srunner_create(s);
	srunner_run_all(sr, CK_NORMAL);
	failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}
