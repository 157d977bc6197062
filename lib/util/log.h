/*
 * Messages for operators.  Library code reports an error once, where it is
 * found, naming the object ("repository /srv/bw: object 3fa1..: ..."), then
 * returns a code; it never exits.  The program chooses the sink.
 */
#ifndef BW_UTIL_LOG_H
#define BW_UTIL_LOG_H

#include <stdarg.h>

enum log_level { LOG_LVL_ERROR = 0, LOG_LVL_WARN, LOG_LVL_INFO, LOG_LVL_DEBUG };

/* A sink receives one complete message without a trailing newline. */
typedef void log_sink_fn(enum log_level lvl, const char *msg, void *arg);

/* Route messages to fn (NULL restores the default: stderr, "PROG: msg"). */
void log_set_sink(log_sink_fn *fn, void *arg);
/* Name printed before messages by the default sink (default "bulwark"). */
void log_set_prog(const char *prog);
/* Messages above this level are dropped (default LOG_LVL_INFO). */
void log_set_level(enum log_level lvl);
enum log_level log_get_level(void);

void log_error(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
void log_warn(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
void log_info(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
void log_debug(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
void log_vmsg(enum log_level lvl, const char *fmt, va_list ap)
    __attribute__((format(printf, 2, 0)));

/* Drops every message from the calling thread while on (a helper thread
 * repeating work whose errors another thread reports). */
void log_thread_mute(int on);

/* Count of error messages logged since start or the last reset (tests). */
unsigned long log_error_count(void);
void log_reset_count(void);

#endif
