/*
 * failoverd's one event loop: file descriptors, timers, signals (through a
 * self-pipe, handled in the loop, never in the handler) and child
 * processes with timeouts.  Single-threaded; nothing here blocks.  Time is
 * CLOCK_MONOTONIC in milliseconds.  Callbacks may add and remove fds,
 * timers and children, including their own.
 */
#ifndef BW_FAILOVER_LOOP_H
#define BW_FAILOVER_LOOP_H

#include <stdint.h>
#include <sys/types.h>

struct loop;
struct loop_timer;

typedef void loop_fd_fn(struct loop *l, int fd, short revents, void *arg);
typedef void loop_timer_fn(struct loop *l, void *arg);
typedef void loop_signal_fn(struct loop *l, int sig, void *arg);
/* status: the wait status; timed_out: the child ran past its bound and was
 * killed (its whole process group: SIGTERM, then SIGKILL a second later). */
typedef void loop_child_fn(struct loop *l, pid_t pid, int status, int timed_out, void *arg);

struct loop *loop_new(void);
void loop_free(struct loop *l);		/* kills children still running */

uint64_t loop_now_ms(const struct loop *l);	/* monotonic, updated each turn */

/* events: POLLIN/POLLOUT.  0 or BW_ERR_NOMEM/BW_ERR_EXIST (fd already in). */
int loop_fd_add(struct loop *l, int fd, short events, loop_fd_fn *fn, void *arg);
int loop_fd_events(struct loop *l, int fd, short events);
void loop_fd_del(struct loop *l, int fd);

/* One-shot timer after ms; NULL on no memory.  Cancel before it fires, or
 * not at all (a fired timer is freed by the loop). */
struct loop_timer *loop_timer_add(struct loop *l, uint64_t ms, loop_timer_fn *fn, void *arg);
void loop_timer_cancel(struct loop *l, struct loop_timer *t);

/* Delivers sig to fn from the loop (SIGTERM, SIGHUP, SIGINT...). */
int loop_signal(struct loop *l, int sig, loop_signal_fn *fn, void *arg);

/* Runs "/bin/sh -c cmd" in its own process group with stdin from
 * /dev/null and stdout/stderr to the daemon's log (each line prefixed
 * with tag); fn is called when it ends or is killed after timeout_ms.
 * env: extra "NAME=value" strings (NULL-terminated) or NULL.  0 and *pid,
 * or a negative code. */
int loop_spawn(struct loop *l, const char *cmd, const char *const *env, const char *tag,
    uint64_t timeout_ms, loop_child_fn *fn, void *arg, pid_t *pid);
/* Kills a child early (fn is still called, with timed_out set). */
void loop_kill(struct loop *l, pid_t pid);
/* Kills a child and drops its callback: for an owner that goes away
 * before the child ends.  Its remaining output is still logged. */
void loop_forget(struct loop *l, pid_t pid);

/* Runs until loop_stop; 0, or a negative code if poll fails. */
int loop_run(struct loop *l);
void loop_stop(struct loop *l);

#endif
