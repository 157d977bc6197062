#include "config.h"

#include <check.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "config/config.h"
#include "failover/corosync_conf.h"
#include "lib/util/buf.h"
#include "lib/util/err.h"
#include "lib/util/log.h"

static char logged[4096];

static void
capture(enum log_level lvl, const char *msg, void *arg)
{
	size_t n = strlen(logged);

	(void)arg;
	if (lvl == LOG_LVL_ERROR)
		snprintf(logged + n, sizeof(logged) - n, "%s\n", msg);
}

static void
setup(void)
{
	logged[0] = '\0';
	log_set_sink(capture, NULL);
}

static void
teardown(void)
{
	log_set_sink(NULL, NULL);
}

/* Renders the corosync.conf of a bulwark.conf text, NUL-terminated. */
static char *
render(const char *text)
{
	struct config *c = NULL;
	struct buf b = { 0 };
	char *s;

	ck_assert_int_eq(config_load_mem("bulwark.conf", text, strlen(text), &c), 0);
	ck_assert_int_eq(corosync_conf_render(c, "/etc/bulwark/bulwark.conf", &b), 0);
	ck_assert_int_eq(buf_put_u8(&b, 0), 0);
	s = (char *)buf_steal(&b, NULL);
	config_free(c);
	return s;
}

static char *
slurp(const char *rel)
{
	const char *top = getenv("top_srcdir");
	char path[4096];
	FILE *f;
	char *s;
	long n;

	snprintf(path, sizeof(path), "%s/%s", top ? top : ".", rel);
	f = fopen(path, "r");
	ck_assert_msg(f != NULL, "cannot open %s", path);
	ck_assert_int_eq(fseek(f, 0, SEEK_END), 0);
	n = ftell(f);
	rewind(f);
	s = malloc((size_t)n + 1);
	ck_assert_ptr_nonnull(s);
	ck_assert_uint_eq(fread(s, 1, (size_t)n, f), (size_t)n);
	s[n] = '\0';
	fclose(f);
	return s;
}

#define THREE_NODES \
	"[cluster]\nname = prod\ntoken = 750ms\nqdevice = qnetd.example.org\n" \
	"[node alpha]\nnodeid = 1\naddress = 192.0.2.11, 2001:db8::11\n" \
	"[node beta]\nnodeid = 2\naddress = 192.0.2.12, 2001:db8::12\n" \
	"[node gamma]\nnodeid = 3\naddress = 192.0.2.13, 2001:db8::13\n" \
	"witness = yes\n"

/* The whole text, byte for byte. */
START_TEST(test_golden)
{
	char *got = render(THREE_NODES), *want;

	want = slurp("tests/unit/corosync.conf.golden");
	ck_assert_str_eq(got, want);
	free(want);
	free(got);
}
END_TEST

START_TEST(test_quorum)
{
	char *s;

	/* Two nodes, forced: two_node, and no device. */
	s = render("[cluster]\nforce_two_node = yes\n[node a]\nnodeid = 1\n"
	    "address = 10.0.0.1\n[node b]\nnodeid = 2\naddress = 10.0.0.2\n");
	ck_assert_ptr_nonnull(strstr(s, "\ttwo_node: 1\n"));
	ck_assert_ptr_null(strstr(s, "device {"));
	ck_assert_ptr_nonnull(strstr(s, "\ttoken: 500\n"));
	ck_assert_ptr_nonnull(strstr(s, "\tcluster_name: bulwark\n"));
	ck_assert_ptr_nonnull(strstr(s, "\tkeyfile: /etc/corosync/authkey\n"));
	ck_assert_ptr_nonnull(strstr(s, "\t\tlinknumber: 0\n"));
	ck_assert_ptr_null(strstr(s, "linknumber: 1"));
	free(s);

	/* Two nodes with a qdevice: the device breaks ties, not two_node. */
	s = render("[cluster]\nforce_two_node = yes\nqdevice = 192.0.2.99\n"
	    "[node a]\nnodeid = 1\naddress = 10.0.0.1\n[node b]\nnodeid = 2\n"
	    "address = 10.0.0.2\n");
	ck_assert_ptr_null(strstr(s, "two_node"));
	ck_assert_ptr_nonnull(strstr(s, "\t\t\thost: 192.0.2.99\n\t\t\talgorithm: ffsplit\n"));
	free(s);

	/* Not forced: no two_node (failoverd refuses to run it instead). */
	s = render("[node a]\nnodeid = 1\naddress = 10.0.0.1\n[node b]\n"
	    "nodeid = 2\naddress = 10.0.0.2\n");
	ck_assert_ptr_null(strstr(s, "two_node"));
	free(s);
}
END_TEST

START_TEST(test_no_nodes)
{
	struct config *c = NULL;
	struct buf b = { 0 };

	ck_assert_int_eq(config_load_mem("bulwark.conf", "", 0, &c), 0);
	ck_assert_int_eq(corosync_conf_render(c, "/etc/bulwark/bulwark.conf", &b),
	    BW_ERR_INVAL);
	ck_assert_str_eq(logged, "/etc/bulwark/bulwark.conf: no [node NAME] "
	    "section; corosync.conf needs every cluster node, with its nodeid "
	    "and address\n");
	buf_free(&b);
	config_free(c);
}
END_TEST

static Suite *
corosync_conf_suite(void)
{
	Suite *s = suite_create("corosync_conf");
	TCase *tc = tcase_create("core");

	tcase_add_checked_fixture(tc, setup, teardown);
	tcase_add_test(tc, test_golden);
	tcase_add_test(tc, test_quorum);
	tcase_add_test(tc, test_no_nodes);
	suite_add_tcase(s, tc);
	return s;
}

int
main(void)
{
	SRunner *sr = srunner_create(corosync_conf_suite());
	int failed;

	srunner_run_all(sr, CK_NORMAL);
	failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}
