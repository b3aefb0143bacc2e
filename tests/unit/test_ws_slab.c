/* Unit tests for the WebSocket state's slab (proto/ws/slab.h): objects do
 * not overlap and keep what is written into them, freed slots are reused,
 * indexes lead back to their objects, chunks are unmapped when they empty,
 * and a released slab lives until its last object is freed. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "proto/ws/slab.h"

#if defined(__SANITIZE_ADDRESS__)
#include <sanitizer/asan_interface.h>
#define POISONED(p) __asan_address_is_poisoned(p)
#endif

#define OBJ 48
#define N 5000 /* several chunks: (64 KiB - header) / 48 = 1364 per chunk */

/* Fill an object with a pattern of its own. */
static void fill(void *p, unsigned k) { memset(p, (int)(k * 7 + 1) & 0xFF, OBJ); }

static void check_fill(const void *p, unsigned k)
{
    const uint8_t *b = p;
    for (unsigned i = 0; i < OBJ; i++)
        assert_int_equal(b[i], (k * 7 + 1) & 0xFF);
}

static int cmp_ptr(const void *a, const void *b)
{
    uintptr_t x = *(const uintptr_t *)a, y = *(const uintptr_t *)b;
    return x < y ? -1 : x > y;
}

static void test_alloc_no_overlap(void **state)
{
    (void)state;
    c1m_ws_slab_t *s = c1m__ws_slab_new(OBJ);
    assert_non_null(s);
    void **p = calloc(N, sizeof *p);
    for (unsigned i = 0; i < N; i++) {
        p[i] = c1m__ws_slab_alloc(s);
        assert_non_null(p[i]);
        assert_int_equal((uintptr_t)p[i] % 8, 0);
        fill(p[i], i);
    }
    assert_int_equal(s->live, N);
    assert_true(s->nchunks >= (N + 1363) / 1364);
    /* every object still holds its own pattern: none was handed out twice
     * or overlaps another */
    for (unsigned i = 0; i < N; i++)
        check_fill(p[i], i);
    uintptr_t *sorted = malloc(N * sizeof *sorted);
    for (unsigned i = 0; i < N; i++)
        sorted[i] = (uintptr_t)p[i];
    qsort(sorted, N, sizeof *sorted, cmp_ptr);
    for (unsigned i = 1; i < N; i++)
        assert_true(sorted[i] - sorted[i - 1] >= OBJ);
    /* indexes: unique, never NONE, and lead back */
    for (unsigned i = 0; i < N; i++) {
        uint32_t ix = c1m__ws_slab_index(p[i]);
        assert_int_not_equal(ix, C1M_WS_SLAB_NONE);
        assert_ptr_equal(c1m__ws_slab_ptr(s, ix), p[i]);
        assert_ptr_equal(c1m__ws_slab_of(p[i]), s);
    }
    free(sorted);
    for (unsigned i = 0; i < N; i++)
        c1m__ws_slab_free(p[i]);
    assert_int_equal(s->live, 0);
    assert_int_equal(s->nchunks, 0); /* every chunk went back */
    free(p);
    c1m__ws_slab_release(s);
}

static void test_reuse(void **state)
{
    (void)state;
    c1m_ws_slab_t *s = c1m__ws_slab_new(OBJ);
    void *keep = c1m__ws_slab_alloc(s); /* keeps the chunk mapped */
    fill(keep, 99);
    void *a = c1m__ws_slab_alloc(s);
    void *b = c1m__ws_slab_alloc(s);
    assert_ptr_not_equal(a, b);
    c1m__ws_slab_free(a);
#ifdef POISONED /* ASan: a freed slot is poisoned, as malloc's would be */
    assert_true(POISONED(a));
    assert_true(POISONED((char *)a + OBJ - 1));
    assert_false(POISONED(b));
#endif
    void *c = c1m__ws_slab_alloc(s);
    assert_ptr_equal(c, a); /* the freed slot comes back first */
#ifdef POISONED
    assert_false(POISONED(c));
    assert_false(POISONED((char *)c + OBJ - 1));
#endif
    fill(b, 2);
    fill(c, 3);
    check_fill(b, 2);
    check_fill(c, 3);
    check_fill(keep, 99);
    assert_int_equal(s->nchunks, 1);
    c1m__ws_slab_free(b);
    c1m__ws_slab_free(c);
    check_fill(keep, 99);
    assert_int_equal(s->live, 1);
    c1m__ws_slab_free(keep);
    assert_int_equal(s->nchunks, 0);
    c1m__ws_slab_release(s);
}

/* Free in a scattered order, reallocate: the live objects are untouched,
 * and the slab does not grow past what the live count needs. */
static void test_churn(void **state)
{
    (void)state;
    c1m_ws_slab_t *s = c1m__ws_slab_new(OBJ);
    void **p = calloc(N, sizeof *p);
    for (unsigned i = 0; i < N; i++)
        fill(p[i] = c1m__ws_slab_alloc(s), i);
    uint32_t chunks = s->nchunks;
    for (int round = 0; round < 3; round++) {
        for (unsigned i = (unsigned)round; i < N; i += 3) {
            c1m__ws_slab_free(p[i]);
            p[i] = NULL;
        }
        for (unsigned i = 0; i < N; i++)
            if (p[i])
                check_fill(p[i], i);
        for (unsigned i = (unsigned)round; i < N; i += 3)
            fill(p[i] = c1m__ws_slab_alloc(s), i);
        assert_int_equal(s->live, N);
        assert_true(s->nchunks <= chunks);
    }
    for (unsigned i = 0; i < N; i++)
        check_fill(p[i], i);
    for (unsigned i = 0; i < N; i++)
        c1m__ws_slab_free(p[i]);
    assert_int_equal(s->nchunks, 0);
    free(p);
    c1m__ws_slab_release(s);
}

/* Two slabs: an object is freed into its own (the chunk knows it), and a
 * released slab stays usable for its objects until the last is freed
 * (ASan reports a use after free or a leak otherwise). */
static void test_owner_and_release(void **state)
{
    (void)state;
    c1m_ws_slab_t *s1 = c1m__ws_slab_new(OBJ), *s2 = c1m__ws_slab_new(OBJ);
    void *a = c1m__ws_slab_alloc(s1), *b = c1m__ws_slab_alloc(s2);
    void *a2 = c1m__ws_slab_alloc(s1);
    c1m__ws_slab_free(b);
    assert_int_equal(s1->live, 2);
    assert_int_equal(s2->live, 0);
    c1m__ws_slab_release(s2); /* empty: freed now */
    c1m__ws_slab_release(s1); /* two left */
    c1m__ws_slab_free(a);
    fill(a2, 5);
    check_fill(a2, 5);
    c1m__ws_slab_free(a2); /* the last: the slab goes with it */
}

static void test_bad_size(void **state)
{
    (void)state;
    assert_null(c1m__ws_slab_new(0));
    assert_null(c1m__ws_slab_new(4097));
    c1m_ws_slab_t *s = c1m__ws_slab_new(13);
    assert_int_equal(s->size, 16);
    c1m__ws_slab_release(s);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_alloc_no_overlap),
        cmocka_unit_test(test_reuse),
        cmocka_unit_test(test_churn),
        cmocka_unit_test(test_owner_and_release),
        cmocka_unit_test(test_bad_size),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
