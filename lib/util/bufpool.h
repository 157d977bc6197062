/*
 * A small, bounded, thread-safe free list of large buffers of one size.
 *
 * Why: the CLI sets glibc's mmap threshold to 1 MiB (cli/main.c), so every
 * buffer of that size or more is a fresh mmap, faulted in and zeroed by the
 * kernel page by page, and unmapped (a TLB shootdown on every thread) after
 * a single use.  Hot paths that need such a buffer per chunk or per object
 * take it from a pool and give it back instead.
 *
 * Memory bound: a pool keeps at most max_idle idle buffers; anything given
 * back beyond that is freed at once.  Buffers in use are the caller's to
 * bound (the backup engine counts them against its MAX_INFLIGHT), so a pool
 * adds at most max_idle * size bytes to what the program held without it.
 *
 * Idle buffers are poisoned when built with AddressSanitizer, so a buffer
 * used after it was given back is reported as it would be after free().
 */
#ifndef BW_UTIL_BUFPOOL_H
#define BW_UTIL_BUFPOOL_H

#include <stddef.h>

struct bufpool;

/* A pool of buffers of size bytes keeping at most max_idle idle ones.
 * NULL without memory. */
struct bufpool *bufpool_new(size_t size, unsigned max_idle);
/* Frees the idle buffers and the pool (NULL: nothing).  Buffers still in use
 * stay valid: the caller frees them with free(). */
void bufpool_free(struct bufpool *p);
/* The pool's buffer size. */
size_t bufpool_size(const struct bufpool *p);
/* A buffer of bufpool_size(p) bytes (contents undefined): an idle one, or a
 * new one.  NULL without memory.  It is ordinary malloc() memory: the
 * caller may realloc or free it instead of giving it back. */
void *bufpool_get(struct bufpool *p);
/* Gives back b (NULL: nothing), a malloc'd buffer of cap bytes: kept for
 * reuse if cap is the pool's size and fewer than max_idle buffers are idle,
 * freed otherwise.  The caller must not touch b again. */
void bufpool_put(struct bufpool *p, void *b, size_t cap);

#endif
