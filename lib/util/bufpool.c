#include "config.h"

#include <pthread.h>
#include <stdlib.h>

#include "lib/util/bufpool.h"

#if defined(__SANITIZE_ADDRESS__)
#define BUFPOOL_ASAN 1
#elif defined(__has_feature)
#if __has_feature(address_sanitizer)
#define BUFPOOL_ASAN 1
#endif
#endif

#ifdef BUFPOOL_ASAN
#include <sanitizer/asan_interface.h>
#define poison(p, n) __asan_poison_memory_region((p), (n))
#define unpoison(p, n) __asan_unpoison_memory_region((p), (n))
#else
#define poison(p, n) ((void)(p), (void)(n))
#define unpoison(p, n) ((void)(p), (void)(n))
#endif

struct bufpool {
	pthread_mutex_t mu;
	size_t size;
	unsigned max_idle, nidle;
	void *idle[];		/* max_idle slots, a stack: the most recently
				 * used buffer is the likeliest to be in cache */
};

struct bufpool *
bufpool_new(size_t size, unsigned max_idle)
{
	struct bufpool *p = calloc(1, sizeof(*p) + max_idle * sizeof(p->idle[0]));

	if (!p)
		return NULL;
	pthread_mutex_init(&p->mu, NULL);
	p->size = size;
	p->max_idle = max_idle;
	return p;
}

void
bufpool_free(struct bufpool *p)
{
	unsigned i;

	if (!p)
		return;
	for (i = 0; i < p->nidle; i++) {
		unpoison(p->idle[i], p->size);
		free(p->idle[i]);
	}
	pthread_mutex_destroy(&p->mu);
	free(p);
}

size_t
bufpool_size(const struct bufpool *p)
{
	return p->size;
}

void *
bufpool_get(struct bufpool *p)
{
	void *b = NULL;

	pthread_mutex_lock(&p->mu);
	if (p->nidle)
		b = p->idle[--p->nidle];
	pthread_mutex_unlock(&p->mu);
	if (!b)
		return malloc(p->size ? p->size : 1);
	unpoison(b, p->size);
	return b;
}

void
bufpool_put(struct bufpool *p, void *b, size_t cap)
{
	int kept = 0;

	if (!b)
		return;
	if (cap == p->size) {
		/* poisoned before another thread can take it out again */
		poison(b, cap);
		pthread_mutex_lock(&p->mu);
		if (p->nidle < p->max_idle) {
			p->idle[p->nidle++] = b;
			kept = 1;
		}
		pthread_mutex_unlock(&p->mu);
		if (!kept)
			unpoison(b, cap);
	}
	if (!kept)
		free(b);
}
