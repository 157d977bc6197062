#include "config.h"

#include <sys/types.h>
#include <sys/wait.h>
#include <check.h>
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "failover/loop.h"
#include "lib/util/err.h"
#include "lib/util/log.h"

static char logged[8192];

static void
capture(enum log_level lvl, const char *msg, void *arg)
{
	size_t n = strlen(logged);

	snprintf(logged + n, sizeof(logged) - n, "%s\n", msg);
}

static void
setup(void)
{
	logged[0] = 0;
	log_set_sink(capture, NULL);
	log_set_level(LOG_LVL_DEBUG);
}

/* A guard so that a broken loop fails the test instead of hanging it. */
static void
guard(struct loop *l, void *arg)
{
	*(int *)arg = 1;
	loop_stop(l);
}

struct done {
	int called;
	pid_t pid;
	int status;
	int timed_out;
};

static void
child_done(struct loop *l, pid_t pid, int status, int timed_out, void *arg)
{
	struct done *d = arg;

	d->called++;
	d->pid = pid;
	d->status = status;
	d->timed_out = timed_out;
	loop_stop(l);
}

static struct done
run_cmd(const char *cmd, const char *const *env, uint64_t timeout_ms)
{
	struct loop *l = loop_new();
	struct done d = {0};
	int expired = 0;
	pid_t pid = 0;

	ck_assert_ptr_nonnull(l);
	ck_assert_int_eq(loop_spawn(l, cmd, env, "job", timeout_ms, child_done, &d, &pid), 0);
	ck_assert_int_gt(pid, 0);
	loop_timer_add(l, 20000, guard, &expired);
	ck_assert_int_eq(loop_run(l), 0);
	ck_assert_int_eq(expired, 0);
	ck_assert_int_eq(d.called, 1);
	ck_assert_int_eq(d.pid, pid);
	loop_free(l);
	return d;
}

START_TEST(exit_codes_are_reported)
{
	struct done d;

	d = run_cmd("true", NULL, 5000);
	ck_assert(WIFEXITED(d.status) && WEXITSTATUS(d.status) == 0);
	ck_assert_int_eq(d.timed_out, 0);
	d = run_cmd("false", NULL, 5000);
	ck_assert(WIFEXITED(d.status) && WEXITSTATUS(d.status) == 1);
	d = run_cmd("sh -c 'exit 3'", NULL, 5000);
	ck_assert(WIFEXITED(d.status) && WEXITSTATUS(d.status) == 3);
	ck_assert_int_eq(d.timed_out, 0);
	d = run_cmd("/nonexistent/command", NULL, 0);
	ck_assert(WIFEXITED(d.status) && WEXITSTATUS(d.status) == 127);
}
END_TEST

START_TEST(a_command_past_its_timeout_is_killed)
{
	struct done d = run_cmd("sleep 10", NULL, 50);

	ck_assert_int_eq(d.timed_out, 1);
	ck_assert(WIFSIGNALED(d.status));
	ck_assert_int_eq(WTERMSIG(d.status), SIGTERM);
	ck_assert_ptr_nonnull(strstr(logged, "timed out"));
}
END_TEST

START_TEST(a_command_ignoring_sigterm_gets_sigkill)
{
	/* The shell ignores TERM and keeps its child from being killed by
	 * it too; only the SIGKILL a second later ends the group. */
	struct done d = run_cmd("trap '' TERM; echo ready; sleep 10", NULL, 50);

	ck_assert_int_eq(d.timed_out, 1);
	ck_assert(WIFSIGNALED(d.status));
	ck_assert_int_eq(WTERMSIG(d.status), SIGKILL);
	ck_assert_ptr_nonnull(strstr(logged, "SIGKILL"));
}
END_TEST

START_TEST(output_lines_are_logged_with_the_tag)
{
	struct done d = run_cmd("echo hello; echo oops >&2; printf 'no newline'", NULL, 5000);

	ck_assert(WIFEXITED(d.status) && WEXITSTATUS(d.status) == 0);
	ck_assert_ptr_nonnull(strstr(logged, "job: hello\n"));
	ck_assert_ptr_nonnull(strstr(logged, "job: oops\n"));
	ck_assert_ptr_nonnull(strstr(logged, "job: no newline\n"));
}
END_TEST

START_TEST(extra_environment_reaches_the_command)
{
	const char *env[] = { "BULWARK_SITE=www", "HOME=/elsewhere", NULL };
	struct done d = run_cmd("echo \"site=$BULWARK_SITE home=$HOME\"", env, 5000);

	ck_assert(WIFEXITED(d.status) && WEXITSTATUS(d.status) == 0);
	ck_assert_ptr_nonnull(strstr(logged, "job: site=www home=/elsewhere\n"));
}
END_TEST

static void
kill_it(struct loop *l, void *arg)
{
	loop_kill(l, *(pid_t *)arg);
}

START_TEST(loop_kill_stops_a_child_early)
{
	struct loop *l = loop_new();
	struct done d = {0};
	pid_t pid;
	int expired = 0;

	ck_assert_int_eq(loop_spawn(l, "sleep 10", NULL, "job", 0, child_done, &d, &pid), 0);
	loop_timer_add(l, 10, kill_it, &pid);
	loop_timer_add(l, 20000, guard, &expired);
	ck_assert_int_eq(loop_run(l), 0);
	ck_assert_int_eq(expired, 0);
	ck_assert_int_eq(d.called, 1);
	ck_assert_int_eq(d.timed_out, 1);
	loop_free(l);
}
END_TEST

START_TEST(loop_free_kills_children_still_running)
{
	struct loop *l = loop_new();
	struct done d = {0};
	pid_t pid;

	ck_assert_int_eq(loop_spawn(l, "sleep 10", NULL, "job", 0, child_done, &d, &pid), 0);
	loop_free(l);
	ck_assert_int_eq(d.called, 0);
	/* Reaped, so the pid names nothing now. */
	ck_assert_int_eq(kill(pid, 0), -1);
	ck_assert_int_eq(errno, ESRCH);
}
END_TEST

static char order[16];

static void
mark(struct loop *l, void *arg)
{
	size_t n = strlen(order);

	order[n] = *(const char *)arg;
	order[n + 1] = 0;
	if (n + 1 == 4)
		loop_stop(l);
}

START_TEST(timers_fire_in_deadline_order)
{
	struct loop *l = loop_new();
	struct loop_timer *t;

	order[0] = 0;
	loop_timer_add(l, 30, mark, "d");
	loop_timer_add(l, 10, mark, "b");
	t = loop_timer_add(l, 15, mark, "x");
	loop_timer_add(l, 0, mark, "a");
	loop_timer_add(l, 20, mark, "c");
	loop_timer_cancel(l, t);
	ck_assert_int_eq(loop_run(l), 0);
	ck_assert_str_eq(order, "abcd");
	loop_free(l);
}
END_TEST

struct again {
	int n;
};

static void
rearm(struct loop *l, void *arg)
{
	struct again *a = arg;

	if (++a->n < 100)
		loop_timer_add(l, 0, rearm, a);
}

static int fd_seen;

static void
on_fd_seen(struct loop *l, int fd, short revents, void *arg)
{
	char c;

	if (read(fd, &c, 1) == 1)
		fd_seen++;
	loop_stop(l);
}

START_TEST(zero_delay_timers_do_not_starve_fds)
{
	struct loop *l = loop_new();
	struct again a = {0};
	int p[2];

	ck_assert_int_eq(pipe(p), 0);
	ck_assert_int_eq(write(p[1], "x", 1), 1);
	fd_seen = 0;
	loop_fd_add(l, p[0], POLLIN, on_fd_seen, NULL);
	loop_timer_add(l, 0, rearm, &a);
	ck_assert_int_eq(loop_run(l), 0);
	ck_assert_int_eq(fd_seen, 1);
	ck_assert_int_lt(a.n, 100);
	loop_free(l);
	close(p[0]);
	close(p[1]);
}
END_TEST

struct two {
	int p[2], q[2];
	int calls;
	int reads;
};

static void
del_self(struct loop *l, int fd, short revents, void *arg)
{
	struct two *t = arg;
	char c;

	t->calls++;
	if (read(fd, &c, 1) == 1)
		t->reads++;
	loop_fd_del(l, fd);
}

static void
del_both(struct loop *l, int fd, short revents, void *arg)
{
	struct two *t = arg;

	t->calls++;
	loop_fd_del(l, t->p[0]);
	loop_fd_del(l, t->q[0]);
}

static void
write_more(struct loop *l, void *arg)
{
	struct two *t = arg;

	ck_assert_int_eq(write(t->p[1], "y", 1), 1);
}

START_TEST(fd_callbacks_remove_themselves_and_others)
{
	struct loop *l = loop_new();
	struct two t = {0};
	int expired = 0;

	ck_assert_int_eq(pipe(t.p), 0);
	ck_assert_int_eq(pipe(t.q), 0);
	ck_assert_int_eq(write(t.p[1], "x", 1), 1);
	ck_assert_int_eq(loop_fd_add(l, t.p[0], POLLIN, del_self, &t), 0);
	ck_assert_int_eq(loop_fd_add(l, t.p[0], POLLIN, del_self, &t), BW_ERR_EXIST);
	/* More data after the callback removed itself: never seen. */
	loop_timer_add(l, 5, write_more, &t);
	loop_timer_add(l, 30, guard, &expired);
	ck_assert_int_eq(loop_run(l), 0);
	ck_assert_int_eq(t.calls, 1);
	ck_assert_int_eq(t.reads, 1);

	/* Two ready fds; the first callback removes both: one call only. */
	t.calls = 0;
	ck_assert_int_eq(write(t.q[1], "x", 1), 1);
	ck_assert_int_eq(loop_fd_add(l, t.p[0], POLLIN, del_both, &t), 0);
	ck_assert_int_eq(loop_fd_add(l, t.q[0], POLLIN, del_both, &t), 0);
	loop_timer_add(l, 30, guard, &expired);
	ck_assert_int_eq(loop_run(l), 0);
	ck_assert_int_eq(t.calls, 1);
	ck_assert_int_eq(loop_fd_events(l, t.p[0], POLLIN), BW_ERR_NOENT);
	loop_free(l);
	close(t.p[0]);
	close(t.p[1]);
	close(t.q[0]);
	close(t.q[1]);
}
END_TEST

static int got_sig;

static void
on_sig(struct loop *l, int sig, void *arg)
{
	got_sig = sig;
	loop_stop(l);
}

static void
raise_hup(struct loop *l, void *arg)
{
	raise(SIGHUP);
}

START_TEST(signals_are_delivered_in_the_loop)
{
	struct loop *l = loop_new();
	int expired = 0;

	got_sig = 0;
	ck_assert_int_eq(loop_signal(l, SIGHUP, on_sig, NULL), 0);
	ck_assert_int_eq(loop_signal(l, SIGCHLD, on_sig, NULL), BW_ERR_INVAL);
	loop_timer_add(l, 0, raise_hup, NULL);
	loop_timer_add(l, 20000, guard, &expired);
	ck_assert_int_eq(loop_run(l), 0);
	ck_assert_int_eq(expired, 0);
	ck_assert_int_eq(got_sig, SIGHUP);
	loop_free(l);
}
END_TEST

static void
many_done(struct loop *l, pid_t pid, int status, int timed_out, void *arg)
{
	int *left = arg;

	ck_assert(WIFEXITED(status));
	if (--*left == 0)
		loop_stop(l);
}

START_TEST(many_children_at_once)
{
	struct loop *l = loop_new();
	int left = 8, i, expired = 0;

	for (i = 0; i < 8; i++)
		ck_assert_int_eq(loop_spawn(l, "echo line", NULL, "job", 5000, many_done,
		    &left, NULL), 0);
	loop_timer_add(l, 20000, guard, &expired);
	ck_assert_int_eq(loop_run(l), 0);
	ck_assert_int_eq(expired, 0);
	ck_assert_int_eq(left, 0);
	loop_free(l);
}
END_TEST

static Suite *
loop_suite(void)
{
	Suite *s = suite_create("loop");
	TCase *tc = tcase_create("core");

	tcase_add_checked_fixture(tc, setup, NULL);
	tcase_add_test(tc, exit_codes_are_reported);
	tcase_add_test(tc, a_command_past_its_timeout_is_killed);
	tcase_add_test(tc, a_command_ignoring_sigterm_gets_sigkill);
	tcase_add_test(tc, output_lines_are_logged_with_the_tag);
	tcase_add_test(tc, extra_environment_reaches_the_command);
	tcase_add_test(tc, loop_kill_stops_a_child_early);
	tcase_add_test(tc, loop_free_kills_children_still_running);
	tcase_add_test(tc, timers_fire_in_deadline_order);
	tcase_add_test(tc, zero_delay_timers_do_not_starve_fds);
	tcase_add_test(tc, fd_callbacks_remove_themselves_and_others);
	tcase_add_test(tc, signals_are_delivered_in_the_loop);
	tcase_add_test(tc, many_children_at_once);
	suite_add_tcase(s, tc);
	return s;
}

int
main(void)
{
	SRunner *sr = srunner_create(loop_suite());
	int failed;

	srunner_run_all(sr, CK_NORMAL);
	failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}
