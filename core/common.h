/* c1m — common definitions shared by every layer.
 *
 * Conventions (libuv/nginx style): public names start with c1m_, private
 * ones with c1m__ or are static; types end in _t; functions that can fail
 * return 0 (or a count) on success and a negative errno value on failure.
 */
#ifndef C1M_CORE_COMMON_H
#define C1M_CORE_COMMON_H

#include <stddef.h>
#include <stdint.h>

#define C1M_LIKELY(x)   __builtin_expect(!!(x), 1)
#define C1M_UNLIKELY(x) __builtin_expect(!!(x), 0)

#define C1M_ARRAY_LEN(a) (sizeof(a) / sizeof((a)[0]))

#define c1m_container_of(ptr, type, member) \
    ((type *)(void *)((char *)(ptr) - offsetof(type, member)))

#define C1M_MIN(a, b) ((a) < (b) ? (a) : (b))
#define C1M_MAX(a, b) ((a) > (b) ? (a) : (b))

/* Relaxed single-writer counters: one thread writes, others may read a
 * possibly stale value. Compiles to plain loads and stores on x86-64: no
 * locked instruction on the hot path. */
#define C1M_RELAXED_LOAD(p)     __atomic_load_n((p), __ATOMIC_RELAXED)
#define C1M_RELAXED_STORE(p, v) __atomic_store_n((p), (v), __ATOMIC_RELAXED)
/* The writer's side of such a counter: x += d as a relaxed store (the
 * read of x is its own thread's), so that a reader's relaxed load is not a
 * data race (ThreadSanitizer); the same instructions as x += d on x86-64. */
#define C1M_BUMP(x, d) __atomic_store_n(&(x), (x) + (d), __ATOMIC_RELAXED)

#endif
