#include "config.h"

#include <stdio.h>
#include <pthread.h>

#include "lib/util/log.h"

static log_sink_fn *sink;
static void *sink_arg;
static const char *prog = "bulwark";
static enum log_level level = LOG_LVL_INFO;
static unsigned long errors;
static pthread_mutex_t lock = PTHREAD_MUTEX_INITIALIZER;
static __thread int muted;

void log_thread_mute(int on) { muted = on; }

/* Settings may change while another thread logs: sink and arg change
 * together under the lock, the rest are single words read atomically. */
void
log_set_sink(log_sink_fn *fn, void *arg)
{
	pthread_mutex_lock(&lock);
	sink = fn;
	sink_arg = arg;
	pthread_mutex_unlock(&lock);
}

void
log_set_prog(const char *p)
{
	pthread_mutex_lock(&lock);
	prog = p;
	pthread_mutex_unlock(&lock);
}

void log_set_level(enum log_level l) { __atomic_store_n(&level, l, __ATOMIC_RELAXED); }
enum log_level log_get_level(void) { return __atomic_load_n(&level, __ATOMIC_RELAXED); }
unsigned long log_error_count(void) { return __atomic_load_n(&errors, __ATOMIC_RELAXED); }
void log_reset_count(void) { __atomic_store_n(&errors, 0, __ATOMIC_RELAXED); }

void
log_vmsg(enum log_level lvl, const char *fmt, va_list ap)
{
	static const char *const tag[] = { "error: ", "warning: ", "", "debug: " };
	char buf[2048];

	if ((unsigned)lvl > LOG_LVL_DEBUG)
		lvl = LOG_LVL_ERROR;
	if (lvl == LOG_LVL_ERROR)
		__atomic_add_fetch(&errors, 1, __ATOMIC_RELAXED);
	if (lvl > log_get_level())
		return;
	vsnprintf(buf, sizeof(buf), fmt, ap);
	pthread_mutex_lock(&lock);
	if (sink)
		sink(lvl, buf, sink_arg);
	else
		fprintf(stderr, "%s: %s%s\n", prog, tag[lvl], buf);
	pthread_mutex_unlock(&lock);
}

#define LOG_FN(name, lvl) \
	void name(const char *fmt, ...) \
	{ va_list ap; va_start(ap, fmt); log_vmsg(lvl, fmt, ap); va_end(ap); }
LOG_FN(log_error, LOG_LVL_ERROR)
LOG_FN(log_warn, LOG_LVL_WARN)
LOG_FN(log_info, LOG_LVL_INFO)
LOG_FN(log_debug, LOG_LVL_DEBUG)
