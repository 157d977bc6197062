/*
 * The event loop.  One turn: poll every fd (with the self-pipe among them)
 * until the nearest timer, then fire the timers that are due, then the fds
 * that are ready.  Signals only set a flag and write a byte to the
 * self-pipe; the loop reads the flags and calls the handlers, so handlers
 * may do anything.  SIGCHLD is the loop's own: it reaps its children with
 * waitpid(WNOHANG), drains their output pipe and then calls their callback,
 * so a command's last lines are logged before its result is acted on.
 *
 * Timers are a list sorted by (deadline, creation order): a daemon has a
 * few dozen, and equal deadlines fire in the order they were set.  A timer
 * set by a callback during a turn never fires in that same turn, so a
 * zero-delay timer that sets itself again cannot starve the fds.
 *
 * Only one loop may exist in a process at a time: signal handlers are
 * process-wide.
 */
#include "config.h"

#include <sys/types.h>
#include <sys/wait.h>
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "failover/loop.h"
#include "lib/util/err.h"
#include "lib/util/log.h"

#define LOOP_KILL_GRACE_MS 1000
#define LOOP_LINE_MAX 1024	/* a longer output line is logged in pieces */

struct loop_fd {
	int fd;
	short events;
	uint64_t gen;		/* tells a re-added fd number from the old one */
	loop_fd_fn *fn;
	void *arg;
};

struct loop_timer {
	struct loop_timer *next;
	uint64_t when;
	uint64_t seq;
	loop_timer_fn *fn;
	void *arg;
};

struct loop_child {
	struct loop_child *next;
	pid_t pid;
	int out;		/* read end of its stdout+stderr pipe, or -1 */
	char *tag;
	char line[LOOP_LINE_MAX];
	size_t linelen;
	struct loop_timer *deadline;	/* timeout, then the SIGKILL grace */
	int term_sent;
	int timed_out;
	loop_child_fn *fn;
	void *arg;
};

struct loop_sig {
	loop_signal_fn *fn;
	void *arg;
	int installed;
	struct sigaction old;
};

struct loop {
	struct loop_fd *fds;
	size_t nfds, capfds;
	uint64_t gen;
	struct pollfd *pfd;	/* this turn's poll set */
	uint64_t *pgen;
	size_t cappfd;

	struct loop_timer *timers;
	uint64_t seq;

	struct loop_child *children;

	int sigpipe[2];
	struct loop_sig sigs[NSIG];
	struct sigaction oldchld;

	uint64_t now;
	int stop;
};

/* The handler's view: it may touch only these. */
static volatile sig_atomic_t sig_pending[NSIG];
static volatile sig_atomic_t sig_wfd = -1;

static void
on_signal(int sig)
{
	int saved = errno;
	int fd = sig_wfd;
	char c = 0;

	if (sig > 0 && sig < NSIG)
		sig_pending[sig] = 1;
	/* A full pipe already holds a wake-up: losing this byte is fine. */
	if (fd >= 0 && write(fd, &c, 1) < 0) {
		/* nothing to do */
	}
	errno = saved;
}

static uint64_t
mono_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000 + (uint64_t)ts.tv_nsec / 1000000;
}

uint64_t loop_now_ms(const struct loop *l) { return l->now; }

static struct loop_fd *
fd_find(struct loop *l, int fd)
{
	size_t i;

	for (i = 0; i < l->nfds; i++)
		if (l->fds[i].fd == fd)
			return &l->fds[i];
	return NULL;
}

int
loop_fd_add(struct loop *l, int fd, short events, loop_fd_fn *fn, void *arg)
{
	struct loop_fd *n;

	if (fd < 0 || fn == NULL)
		return BW_ERR_INVAL;
	if (fd_find(l, fd))
		return BW_ERR_EXIST;
	if (l->nfds == l->capfds) {
		size_t cap = l->capfds ? 2 * l->capfds : 16;

		if ((n = realloc(l->fds, cap * sizeof(*n))) == NULL)
			return BW_ERR_NOMEM;
		l->fds = n;
		l->capfds = cap;
	}
	n = &l->fds[l->nfds++];
	n->fd = fd;
	n->events = events;
	n->gen = ++l->gen;
	n->fn = fn;
	n->arg = arg;
	return 0;
}

int
loop_fd_events(struct loop *l, int fd, short events)
{
	struct loop_fd *f = fd_find(l, fd);

	if (f == NULL)
		return BW_ERR_NOENT;
	f->events = events;
	return 0;
}

void
loop_fd_del(struct loop *l, int fd)
{
	struct loop_fd *f = fd_find(l, fd);
	size_t i;

	if (f == NULL)
		return;
	i = (size_t)(f - l->fds);
	memmove(&l->fds[i], &l->fds[i + 1], (l->nfds - i - 1) * sizeof(*f));
	l->nfds--;
}

struct loop_timer *
loop_timer_add(struct loop *l, uint64_t ms, loop_timer_fn *fn, void *arg)
{
	struct loop_timer *t, **pp;

	if ((t = calloc(1, sizeof(*t))) == NULL)
		return NULL;
	/* From the present, not from the start of the turn: a slow callback
	 * must not make its timers fire early. */
	l->now = mono_ms();
	t->when = ms > UINT64_MAX - l->now ? UINT64_MAX : l->now + ms;
	t->seq = ++l->seq;
	t->fn = fn;
	t->arg = arg;
	for (pp = &l->timers; *pp && (*pp)->when <= t->when; pp = &(*pp)->next)
		;
	t->next = *pp;
	*pp = t;
	return t;
}

void
loop_timer_cancel(struct loop *l, struct loop_timer *t)
{
	struct loop_timer **pp;

	if (t == NULL)
		return;
	for (pp = &l->timers; *pp; pp = &(*pp)->next) {
		if (*pp == t) {
			*pp = t->next;
			free(t);
			return;
		}
	}
}

static void
run_timers(struct loop *l)
{
	uint64_t last = l->seq;
	struct loop_timer **pp, *t;
	loop_timer_fn *fn;
	void *arg;

	/* Callbacks change the list: look again from its head each time. */
	while (!l->stop) {
		for (pp = &l->timers; (t = *pp) != NULL && t->when <= l->now; pp = &t->next)
			if (t->seq <= last)
				break;
		if (t == NULL || t->when > l->now)
			return;
		*pp = t->next;
		fn = t->fn;
		arg = t->arg;
		free(t);
		fn(l, arg);
	}
}

/* ---- children ---- */

static struct loop_child *
child_find(struct loop *l, pid_t pid)
{
	struct loop_child *c;

	for (c = l->children; c; c = c->next)
		if (c->pid == pid)
			return c;
	return NULL;
}

static void
child_log_line(struct loop_child *c)
{
	size_t i;

	/* Commands print what they like: keep the log one line per line. */
	for (i = 0; i < c->linelen; i++)
		if ((unsigned char)c->line[i] < 0x20 || c->line[i] == 0x7f)
			c->line[i] = '?';
	log_info("%s: %.*s", c->tag, (int)c->linelen, c->line);
	c->linelen = 0;
}

/* Reads what the pipe holds; 1 at end of file or error, else 0. */
static int
child_read(struct loop_child *c)
{
	char b[4096];
	ssize_t n, i;

	for (;;) {
		n = read(c->out, b, sizeof(b));
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK))
			return 0;
		if (n <= 0)
			return 1;
		for (i = 0; i < n; i++) {
			if (b[i] == '\n') {
				child_log_line(c);
				continue;
			}
			if (c->linelen == sizeof(c->line))
				child_log_line(c);
			c->line[c->linelen++] = b[i];
		}
	}
}

static void
child_close_out(struct loop *l, struct loop_child *c)
{
	if (c->out < 0)
		return;
	child_read(c);
	if (c->linelen)
		child_log_line(c);
	loop_fd_del(l, c->out);
	close(c->out);
	c->out = -1;
}

static void
child_out_ready(struct loop *l, int fd, short revents, void *arg)
{
	struct loop_child *c = arg;

	if (child_read(c))
		child_close_out(l, c);
}

static void
child_kill_now(struct loop *l, void *arg)
{
	struct loop_child *c = arg;

	c->deadline = NULL;
	log_warn("%s: process %ld still running 1 s after SIGTERM; sending SIGKILL",
	    c->tag, (long)c->pid);
	kill(-c->pid, SIGKILL);
}

static void
child_terminate(struct loop *l, struct loop_child *c)
{
	if (c->term_sent)
		return;
	c->term_sent = 1;
	c->timed_out = 1;
	loop_timer_cancel(l, c->deadline);
	kill(-c->pid, SIGTERM);
	kill(-c->pid, SIGCONT);	/* a stopped group would never see SIGTERM */
	c->deadline = loop_timer_add(l, LOOP_KILL_GRACE_MS, child_kill_now, c);
	if (c->deadline == NULL)
		kill(-c->pid, SIGKILL);
}

static void
child_timeout(struct loop *l, void *arg)
{
	struct loop_child *c = arg;

	c->deadline = NULL;
	log_warn("%s: process %ld timed out; stopping its process group",
	    c->tag, (long)c->pid);
	child_terminate(l, c);
}

void
loop_kill(struct loop *l, pid_t pid)
{
	struct loop_child *c = child_find(l, pid);

	if (c)
		child_terminate(l, c);
}

static void
child_ignore(struct loop *l, pid_t pid, int status, int timed_out, void *arg)
{
}

void
loop_forget(struct loop *l, pid_t pid)
{
	struct loop_child *c = child_find(l, pid);

	if (c == NULL)
		return;
	c->fn = child_ignore;
	c->arg = NULL;
	child_terminate(l, c);
}

static void
child_reap(struct loop *l)
{
	struct loop_child **pp, *c;
	pid_t r;
	int status;

	pp = &l->children;
	while ((c = *pp) != NULL) {
		do
			r = waitpid(c->pid, &status, WNOHANG);
		while (r < 0 && errno == EINTR);
		if (r == 0 || (r < 0 && errno != ECHILD)) {
			pp = &c->next;
			continue;
		}
		if (r < 0)	/* reaped by someone else: nothing to report */
			status = 0;
		*pp = c->next;
		loop_timer_cancel(l, c->deadline);
		/* What was left of a killed group must not outlive it.  The
		 * group id cannot be reused while a member lives. */
		if (c->timed_out)
			kill(-c->pid, SIGKILL);
		child_close_out(l, c);
		c->fn(l, c->pid, status, c->timed_out, c->arg);
		free(c->tag);
		free(c);
		/* The callback may have changed the list. */
		pp = &l->children;
	}
}

/* Builds the child's environment before fork: no malloc after it. */
static char **
make_env(const char *const *extra)
{
	extern char **environ;
	size_t n = 0, m = 0, i, j, k = 0;
	char **env;

	while (environ[n])
		n++;
	while (extra && extra[m])
		m++;
	if ((env = calloc(n + m + 1, sizeof(*env))) == NULL)
		return NULL;
	for (i = 0; i < n; i++) {
		const char *eq = strchr(environ[i], '=');
		size_t len = eq ? (size_t)(eq - environ[i]) + 1 : strlen(environ[i]);

		for (j = 0; j < m; j++)
			if (strncmp(extra[j], environ[i], len) == 0)
				break;
		if (j == m)
			env[k++] = environ[i];
	}
	for (j = 0; j < m; j++)
		env[k++] = (char *)extra[j];
	env[k] = NULL;
	return env;
}

int
loop_spawn(struct loop *l, const char *cmd, const char *const *env, const char *tag,
    uint64_t timeout_ms, loop_child_fn *fn, void *arg, pid_t *pidp)
{
	struct loop_child *c = NULL;
	char **envp = NULL;
	int p[2] = { -1, -1 }, devnull = -1, err = 0, sig;
	char *const argv[] = { "sh", "-c", (char *)cmd, NULL };
	sigset_t all, old;
	pid_t pid;

	if (cmd == NULL || fn == NULL)
		return BW_ERR_INVAL;
	if ((c = calloc(1, sizeof(*c))) == NULL ||
	    (c->tag = strdup(tag ? tag : "command")) == NULL ||
	    (envp = make_env(env)) == NULL) {
		err = BW_ERR_NOMEM;
		goto out;
	}
	c->out = -1;
	if (pipe2(p, O_CLOEXEC) < 0 ||
	    (devnull = open("/dev/null", O_RDONLY | O_CLOEXEC)) < 0) {
		err = bw_err_from_errno(errno);
		log_error("%s: cannot start '%s': %s", c->tag, cmd, strerror(errno));
		goto out;
	}
	if (fcntl(p[0], F_SETFL, O_NONBLOCK) < 0 ||
	    (err = loop_fd_add(l, p[0], POLLIN, child_out_ready, c)) != 0) {
		err = err ? err : BW_ERR_IO;
		log_error("%s: cannot watch the output of '%s'", c->tag, cmd);
		goto out;
	}
	/* No handler may run in the child between fork and exec. */
	sigfillset(&all);
	sigprocmask(SIG_BLOCK, &all, &old);
	pid = fork();
	if (pid == 0) {
		struct sigaction dfl;

		setpgid(0, 0);
		memset(&dfl, 0, sizeof(dfl));
		dfl.sa_handler = SIG_DFL;
		for (sig = 1; sig < NSIG; sig++)
			sigaction(sig, &dfl, NULL);
		sigemptyset(&all);
		sigprocmask(SIG_SETMASK, &all, NULL);
		if (dup2(devnull, 0) < 0 || dup2(p[1], 1) < 0 || dup2(p[1], 2) < 0)
			_exit(127);
		/* Other modules' descriptors (corosync, sockets) stay ours. */
		if (close_range(3, ~0U, 0) < 0) {
			long fd, max = sysconf(_SC_OPEN_MAX);

			for (fd = 3; fd < (max > 0 ? max : 1024); fd++)
				close((int)fd);
		}
		execve("/bin/sh", argv, envp);
		_exit(127);
	}
	err = errno;
	sigprocmask(SIG_SETMASK, &old, NULL);
	if (pid < 0) {
		log_error("%s: cannot start '%s': fork: %s", c->tag, cmd, strerror(err));
		loop_fd_del(l, p[0]);
		err = bw_err_from_errno(err);
		goto out;
	}
	/* Both sides set the group, so a kill right after spawn finds it. */
	setpgid(pid, pid);
	c->pid = pid;
	c->out = p[0];
	p[0] = -1;
	c->fn = fn;
	c->arg = arg;
	if (timeout_ms) {
		c->deadline = loop_timer_add(l, timeout_ms, child_timeout, c);
		if (c->deadline == NULL)
			log_warn("%s: out of memory: process %ld runs without a timeout",
			    c->tag, (long)pid);
	}
	c->next = l->children;
	l->children = c;
	if (pidp)
		*pidp = pid;
	c = NULL;
	err = 0;
out:
	if (p[0] >= 0)
		close(p[0]);
	if (p[1] >= 0)
		close(p[1]);
	if (devnull >= 0)
		close(devnull);
	free(envp);
	if (c)
		free(c->tag);
	free(c);
	return err;
}

/* ---- signals ---- */

static void
sigpipe_ready(struct loop *l, int fd, short revents, void *arg)
{
	char b[64];
	int sig;

	while (read(fd, b, sizeof(b)) > 0)
		;
	for (sig = 1; sig < NSIG && !l->stop; sig++) {
		if (!sig_pending[sig])
			continue;
		sig_pending[sig] = 0;
		if (sig == SIGCHLD)
			child_reap(l);
		else if (l->sigs[sig].fn)
			l->sigs[sig].fn(l, sig, l->sigs[sig].arg);
	}
}

static int
install(int sig, struct sigaction *old)
{
	struct sigaction sa;

	memset(&sa, 0, sizeof(sa));
	sa.sa_handler = on_signal;
	sa.sa_flags = SA_RESTART | (sig == SIGCHLD ? SA_NOCLDSTOP : 0);
	sigemptyset(&sa.sa_mask);
	return sigaction(sig, &sa, old);
}

int
loop_signal(struct loop *l, int sig, loop_signal_fn *fn, void *arg)
{
	struct loop_sig *s;

	if (sig <= 0 || sig >= NSIG || sig == SIGCHLD || sig == SIGKILL || sig == SIGSTOP)
		return BW_ERR_INVAL;
	s = &l->sigs[sig];
	if (fn == NULL) {
		if (s->installed)
			sigaction(sig, &s->old, NULL);
		memset(s, 0, sizeof(*s));
		return 0;
	}
	if (!s->installed) {
		if (install(sig, &s->old) < 0) {
			log_error("cannot handle signal %d: %s", sig, strerror(errno));
			return BW_ERR_INVAL;
		}
		s->installed = 1;
	}
	s->fn = fn;
	s->arg = arg;
	return 0;
}

/* ---- the loop ---- */

struct loop *
loop_new(void)
{
	struct loop *l;
	int sig;

	if ((l = calloc(1, sizeof(*l))) == NULL)
		return NULL;
	l->sigpipe[0] = l->sigpipe[1] = -1;
	if (pipe2(l->sigpipe, O_CLOEXEC | O_NONBLOCK) < 0) {
		log_error("event loop: cannot create its signal pipe: %s", strerror(errno));
		goto fail;
	}
	if (loop_fd_add(l, l->sigpipe[0], POLLIN, sigpipe_ready, NULL) != 0)
		goto fail;
	for (sig = 0; sig < NSIG; sig++)
		sig_pending[sig] = 0;
	sig_wfd = l->sigpipe[1];
	if (install(SIGCHLD, &l->oldchld) < 0) {
		log_error("event loop: cannot handle SIGCHLD: %s", strerror(errno));
		goto fail;
	}
	l->now = mono_ms();
	return l;
fail:
	sig_wfd = -1;
	if (l->sigpipe[0] >= 0)
		close(l->sigpipe[0]);
	if (l->sigpipe[1] >= 0)
		close(l->sigpipe[1]);
	free(l->fds);
	free(l);
	return NULL;
}

void
loop_free(struct loop *l)
{
	struct loop_child *c;
	struct loop_timer *t;
	int sig, status;

	if (l == NULL)
		return;
	while ((c = l->children) != NULL) {
		l->children = c->next;
		kill(-c->pid, SIGKILL);
		while (waitpid(c->pid, &status, 0) < 0 && errno == EINTR)
			;
		if (c->out >= 0)
			close(c->out);
		free(c->tag);
		free(c);
	}
	while ((t = l->timers) != NULL) {
		l->timers = t->next;
		free(t);
	}
	for (sig = 1; sig < NSIG; sig++)
		if (l->sigs[sig].installed)
			sigaction(sig, &l->sigs[sig].old, NULL);
	sigaction(SIGCHLD, &l->oldchld, NULL);
	sig_wfd = -1;
	close(l->sigpipe[0]);
	close(l->sigpipe[1]);
	free(l->fds);
	free(l->pfd);
	free(l->pgen);
	free(l);
}

void loop_stop(struct loop *l) { l->stop = 1; }

static int
poll_timeout(struct loop *l)
{
	uint64_t d;

	if (l->timers == NULL)
		return -1;
	if (l->timers->when <= l->now)
		return 0;
	d = l->timers->when - l->now;
	return d > 60000 ? 60000 : (int)d;
}

int
loop_run(struct loop *l)
{
	size_t i, n;
	int r;

	l->stop = 0;
	while (!l->stop) {
		if (l->nfds > l->cappfd) {
			struct pollfd *p = realloc(l->pfd, l->nfds * sizeof(*p));
			uint64_t *g;

			if (p == NULL)
				return BW_ERR_NOMEM;
			l->pfd = p;
			if ((g = realloc(l->pgen, l->nfds * sizeof(*g))) == NULL)
				return BW_ERR_NOMEM;
			l->pgen = g;
			l->cappfd = l->nfds;
		}
		n = l->nfds;
		for (i = 0; i < n; i++) {
			l->pfd[i].fd = l->fds[i].fd;
			l->pfd[i].events = l->fds[i].events;
			l->pfd[i].revents = 0;
			l->pgen[i] = l->fds[i].gen;
		}
		l->now = mono_ms();
		r = poll(l->pfd, n, poll_timeout(l));
		if (r < 0 && errno != EINTR) {
			log_error("event loop: poll failed: %s", strerror(errno));
			return BW_ERR_IO;
		}
		l->now = mono_ms();
		run_timers(l);
		for (i = 0; r > 0 && i < n && !l->stop; i++) {
			struct loop_fd *f;

			if (l->pfd[i].revents == 0)
				continue;
			/* Skip an fd a callback removed (or removed and
			 * added anew) during this turn. */
			f = fd_find(l, l->pfd[i].fd);
			if (f == NULL || f->gen != l->pgen[i])
				continue;
			f->fn(l, f->fd, l->pfd[i].revents, f->arg);
		}
	}
	return 0;
}
