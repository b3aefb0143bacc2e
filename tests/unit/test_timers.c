/* Unit tests for core/timer_wheel, core/timer_heap and core/timer.
 *
 * Property test: random sequences of arm / re-arm (earlier and later) /
 * lazy postpone / cancel / advance (1 ms .. 50 h steps, driven either like
 * an event loop - advancing exactly to each next timeout - or by blind
 * jumps) against a reference model (an array of deadline, armed, latest
 * allowed fire time). Asserted: every armed timer fires exactly once, never
 * before its deadline, never after its documented bound (in loop-driven
 * mode: the advance's now <= deadline + C1M_WHEEL_LATENESS_MAX(delay); in
 * jump mode: no armed timer is left overdue after an advance); cancelled
 * timers never fire; next_timeout never exceeds the earliest bound; counts
 * match. The heaps are held to lateness 0.
 */
#include <errno.h>
#include <inttypes.h>
#include <limits.h>
#include <pthread.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "core/timer.h"
#include "core/timer_heap.h"
#include "core/timer_wheel.h"

#define CHECK(cond, ...)                                                    \
    do {                                                                    \
        if (!(cond)) {                                                      \
            print_message("check failed: %s\n  ", #cond);                   \
            print_message(__VA_ARGS__);                                     \
            print_message("\n");                                            \
            fail();                                                         \
        }                                                                   \
    } while (0)

static uint64_t rng_state;

static uint64_t rng_next(void)
{
    uint64_t x = rng_state;     /* xorshift64* */
    x ^= x >> 12;
    x ^= x << 25;
    x ^= x >> 27;
    rng_state = x;
    return x * 0x2545f4914f6cdd1dull;
}

static uint64_t rng_below(uint64_t n) { return n ? rng_next() % n : 0; }

#define H_MS  (3600u * 1000u)

/* ---- implementations under test, behind one interface ---------------- */

#define NT 1000

typedef struct {
    c1m_wheel_entry_t e;
    int id;
} wobj_t;

typedef struct {
    c1m_heap_entry_t e;
    int id;
} hobj_t;

static c1m_wheel_t *W;
static wobj_t WO[NT];
static c1m_heap_t H;
static hobj_t HO[NT];
static c1m_gheap_t G;
static bool use_gheap;

/* reference model */
typedef struct {
    bool armed;
    uint64_t deadline;
    uint64_t latest;    /* latest allowed fire time (the advance's now) */
    uint64_t armed_at;  /* now of the last eager arm (0: lazily postponed) */
} model_t;

static model_t M[NT];
static uint64_t now;            /* model time = the now of the last advance */
static bool strict;             /* loop-driven advance: check lateness */
static uint64_t fires;
static bool lateness_allowed;   /* wheel: yes; heaps: no */
static double max_ratio;        /* observed max lateness / delay (eager arms) */
static uint64_t max_late;       /* observed max lateness, ms */

static void model_fire(int id)
{
    CHECK(id >= 0 && id < NT, "id %d", id);
    CHECK(M[id].armed, "timer %d fired but is not armed (twice, or cancelled) now=%" PRIu64,
          id, now);
    CHECK(now >= M[id].deadline, "timer %d fired early: now=%" PRIu64 " deadline=%" PRIu64,
          id, now, M[id].deadline);
    if (strict)
        CHECK(now <= M[id].latest,
              "timer %d fired late: now=%" PRIu64 " deadline=%" PRIu64 " latest=%" PRIu64,
              id, now, M[id].deadline, M[id].latest);
    if (strict && M[id].armed_at && M[id].deadline > M[id].armed_at) {
        uint64_t late = now - M[id].deadline;
        double ratio = (double)late / (double)(M[id].deadline - M[id].armed_at);
        if (ratio > max_ratio)
            max_ratio = ratio;
        if (late > max_late)
            max_late = late;
    }
    M[id].armed = false;
    fires++;
}

static void wheel_cb(c1m_wheel_entry_t *e, void *arg)
{
    (void)arg;
    CHECK(!c1m_wheel_armed(e), "entry armed inside its callback");
    model_fire(c1m_container_of(e, wobj_t, e)->id);
}

static void heap_cb(c1m_heap_entry_t *e, void *arg)
{
    (void)arg;
    CHECK(!c1m_heap_armed(e), "entry armed inside its callback");
    model_fire(c1m_container_of(e, hobj_t, e)->id);
}

typedef struct {
    const char *name;
    bool lateness;
    bool lazy;
    void (*init)(uint64_t now);
    void (*fini)(void);
    void (*arm)(int id, uint64_t e);
    void (*postpone)(int id, uint64_t e);
    void (*cancel)(int id);
    bool (*armed)(int id);
    size_t (*advance)(uint64_t now);
    int (*next_timeout)(uint64_t now);
    size_t (*count)(void);
} impl_t;

static void w_init(uint64_t t)
{
    W = malloc(sizeof(*W));
    assert_non_null(W);
    memset(W, 0x5a, sizeof(*W));    /* init must clear everything */
    c1m_wheel_init(W, t);
    for (int i = 0; i < NT; i++) {
        c1m_wheel_entry_init(&WO[i].e);
        WO[i].id = i;
    }
}
static void w_fini(void) { free(W); W = NULL; }
static void w_arm(int id, uint64_t e) { c1m_wheel_arm(W, &WO[id].e, e); }
static void w_postpone(int id, uint64_t e) { c1m_wheel_postpone(W, &WO[id].e, e); }
static void w_cancel(int id) { c1m_wheel_cancel(W, &WO[id].e); }
static bool w_armed(int id) { return c1m_wheel_armed(&WO[id].e); }
static size_t w_advance(uint64_t t) { return c1m_wheel_advance(W, t, wheel_cb, NULL); }
static int w_next(uint64_t t) { return c1m_wheel_next_timeout_ms(W, t); }
static size_t w_count(void) { return c1m_wheel_count(W); }

static void h_init(uint64_t t)
{
    (void)t;
    if (use_gheap)
        assert_int_equal(c1m_gheap_init(&G), 0);
    else
        c1m_heap_init(&H);
    for (int i = 0; i < NT; i++) {
        c1m_heap_entry_init(&HO[i].e, (uint32_t)i % 2);
        HO[i].id = i;
    }
}
static void h_fini(void)
{
    if (use_gheap)
        c1m_gheap_destroy(&G);
    else
        c1m_heap_destroy(&H);
}
static void h_arm(int id, uint64_t e)
{
    int rc = use_gheap ? c1m_gheap_arm(&G, &HO[id].e, e) : c1m_heap_arm(&H, &HO[id].e, e);
    assert_int_equal(rc, 0);
}
static void h_cancel(int id)
{
    if (use_gheap)
        c1m_gheap_cancel(&G, &HO[id].e);
    else
        c1m_heap_cancel(&H, &HO[id].e);
}
static bool h_armed(int id) { return c1m_heap_armed(&HO[id].e); }
static size_t h_advance(uint64_t t)
{
    return use_gheap ? c1m_gheap_advance(&G, t, heap_cb, NULL)
                     : c1m_heap_advance(&H, t, heap_cb, NULL);
}
static int h_next(uint64_t t)
{
    return use_gheap ? c1m_gheap_next_timeout_ms(&G, t) : c1m_heap_next_timeout_ms(&H, t);
}
static size_t h_count(void) { return use_gheap ? c1m_gheap_count(&G) : c1m_heap_count(&H); }

static const impl_t WHEEL = { "wheel", true, true, w_init, w_fini, w_arm, w_postpone,
                              w_cancel, w_armed, w_advance, w_next, w_count };
static const impl_t HEAP = { "heap", false, false, h_init, h_fini, h_arm, NULL,
                             h_cancel, h_armed, h_advance, h_next, h_count };

/* ---- the property test ------------------------------------------------ */

/* Latest allowed fire time of a deadline armed at `now`. */
static uint64_t latest_for(uint64_t deadline)
{
    if (deadline <= now)
        return now;     /* due: fires at the next advance, whatever its now */
    if (!lateness_allowed)
        return deadline;
    return deadline + C1M_WHEEL_LATENESS_MAX(deadline - now);
}

static uint64_t rand_deadline(void)
{
    unsigned r = (unsigned)rng_below(100);
    if (r < 5)
        return now;
    if (r < 10)
        return now - rng_below(now < 5000 ? now + 1 : 5000);
    if (r < 40)
        return now + rng_below(100);
    if (r < 65)
        return now + rng_below(10000);
    if (r < 80)
        return now + rng_below(600000);
    if (r < 92)
        return now + rng_below(10ull * H_MS);
    if (r < 98)
        return now + rng_below(100ull * H_MS);      /* beyond the ~37 h horizon */
    return now + rng_below(UINT64_C(1) << 36);     /* ~2 years */
}

static uint64_t rand_step(void)
{
    unsigned r = (unsigned)rng_below(100);
    if (r < 40)
        return rng_below(4);
    if (r < 70)
        return rng_below(64);
    if (r < 85)
        return rng_below(2000);
    if (r < 95)
        return rng_below(600000);
    if (r < 99)
        return rng_below(4ull * H_MS);
    return rng_below(50ull * H_MS);
}

static void check_state(const impl_t *im)
{
    size_t armed = 0;
    uint64_t min_latest = UINT64_MAX;
    for (int i = 0; i < NT; i++) {
        CHECK(im->armed(i) == M[i].armed, "%s: timer %d armed=%d model=%d",
              im->name, i, im->armed(i), M[i].armed);
        if (!M[i].armed)
            continue;
        armed++;
        if (M[i].latest < min_latest)
            min_latest = M[i].latest;
    }
    CHECK(im->count() == armed, "%s: count %zu model %zu", im->name, im->count(), armed);
    int t = im->next_timeout(now);
    if (armed == 0) {
        CHECK(t == -1, "%s: next_timeout %d on an empty structure", im->name, t);
    } else {
        CHECK(t >= 0, "%s: next_timeout -1 with %zu armed", im->name, armed);
        CHECK(now + (uint64_t)t <= min_latest,
              "%s: next_timeout %d at now=%" PRIu64 " beyond earliest bound %" PRIu64,
              im->name, t, now, min_latest);
    }
}

/* After an advance to `now`, nothing may be left overdue. */
static void check_not_overdue(const impl_t *im)
{
    for (int i = 0; i < NT; i++)
        CHECK(!M[i].armed || M[i].latest > now,
              "%s: timer %d overdue: now=%" PRIu64 " deadline=%" PRIu64 " latest=%" PRIu64,
              im->name, i, now, M[i].deadline, M[i].latest);
}

static void do_advance(const impl_t *im, uint64_t to, bool loop_driven)
{
    uint64_t before = fires;
    size_t n;
    if (!loop_driven) {
        strict = false;
        now = to;
        n = im->advance(now);
        CHECK(n == fires - before, "%s: advance returned %zu, fired %" PRIu64,
              im->name, n, fires - before);
        check_not_overdue(im);
        return;
    }
    /* As the event loop will: sleep exactly next_timeout, then advance. */
    strict = true;
    for (unsigned guard = 0;; guard++) {
        CHECK(guard < 1000000, "%s: loop-driven advance does not converge", im->name);
        int t = im->next_timeout(now);
        uint64_t next = t < 0 ? to : now + (uint64_t)t;
        if (next > to)
            next = to;
        now = next;
        before = fires;
        n = im->advance(now);
        CHECK(n == fires - before, "%s: advance count", im->name);
        check_not_overdue(im);
        if (now == to)
            break;
    }
}

static void property_run(const impl_t *im, uint64_t seed, unsigned ops, uint64_t t0)
{
    rng_state = seed;
    now = t0;
    fires = 0;
    max_ratio = 0;
    max_late = 0;
    lateness_allowed = im->lateness;
    memset(M, 0, sizeof(M));
    im->init(now);

    uint64_t n_arm = 0, n_post = 0, n_cancel = 0, n_adv = 0;
    for (unsigned op = 0; op < ops; op++) {
        unsigned r = (unsigned)rng_below(100);
        int id = (int)rng_below(NT);
        if (r < 35) {                               /* arm or re-arm */
            uint64_t d = rand_deadline();
            im->arm(id, d);
            M[id].armed = true;
            M[id].deadline = d;
            M[id].latest = latest_for(d);
            M[id].armed_at = now;
            n_arm++;
        } else if (r < 50) {                        /* lazy postpone */
            uint64_t d;
            if (M[id].armed && rng_below(4) != 0)
                d = M[id].deadline + rng_below(rng_below(2) ? 1000 : 10ull * H_MS);
            else
                d = rand_deadline();                /* earlier, or not armed */
            if (im->lazy)
                im->postpone(id, d);
            else
                im->arm(id, d);
            if (im->lazy && M[id].armed && d >= M[id].deadline) {
                /* Stays in its old slot (fires by the old bound) or is
                 * re-filed later, by the new deadline's bound. */
                uint64_t l = latest_for(d);
                M[id].latest = l > M[id].latest ? l : M[id].latest;
            } else {
                M[id].latest = latest_for(d);
            }
            M[id].armed = true;
            M[id].deadline = d;
            M[id].armed_at = 0;
            n_post++;
        } else if (r < 62) {                        /* cancel */
            im->cancel(id);
            M[id].armed = false;
            n_cancel++;
        } else {                                    /* advance */
            uint64_t step = rand_step();
            do_advance(im, now + step, rng_below(2) == 0);
            n_adv++;
        }
        CHECK(im->armed(id) == M[id].armed, "%s: op %u timer %d armed mismatch",
              im->name, op, id);
        if ((op & 15) == 0 || r >= 62)
            check_state(im);
    }
    /* Drain: every remaining timer fires exactly once within its bound. */
    uint64_t far = now;
    for (int i = 0; i < NT; i++)
        if (M[i].armed && M[i].latest > far)
            far = M[i].latest;
    do_advance(im, far, true);
    check_state(im);
    CHECK(im->count() == 0, "%s: %zu left after drain", im->name, im->count());
    print_message("  %-6s seed %016" PRIx64 ": %u ops (%" PRIu64 " arm, %" PRIu64
                  " postpone, %" PRIu64 " cancel, %" PRIu64 " advance), %" PRIu64
                  " fired; max lateness %.3f %% of delay, %" PRIu64 " ms\n",
                  im->name, seed, ops, n_arm, n_post, n_cancel, n_adv, fires,
                  100.0 * max_ratio, max_late);
    im->fini();
}

static const uint64_t SEEDS[] = {
    0x9e3779b97f4a7c15ull, 0x0123456789abcdefull, 0xdeadbeefcafef00dull,
    0x1ull, 0x5851f42d4c957f2dull, 0xa0761d6478bd642full,
};

/* Start times: 0-ish, a large unaligned one, and one near 2^40. */
static const uint64_t T0[] = { 1, 1000000007ull, (UINT64_C(1) << 40) - 12345 };

static void test_wheel_property(void **state)
{
    (void)state;
    for (size_t i = 0; i < C1M_ARRAY_LEN(SEEDS); i++)
        property_run(&WHEEL, SEEDS[i], 60000, T0[i % C1M_ARRAY_LEN(T0)]);
}

static void test_heap_property(void **state)
{
    (void)state;
    use_gheap = false;
    for (size_t i = 0; i < C1M_ARRAY_LEN(SEEDS); i++)
        property_run(&HEAP, SEEDS[i], 40000, T0[i % C1M_ARRAY_LEN(T0)]);
}

static void test_gheap_property(void **state)
{
    (void)state;
    use_gheap = true;
    property_run(&HEAP, SEEDS[0], 40000, T0[1]);
    use_gheap = false;
}

/* ---- deterministic wheel cases ---------------------------------------- */

typedef struct {
    c1m_wheel_entry_t e;
    int fired;
    uint64_t fired_at;
} tobj_t;

static c1m_wheel_t *tw;     /* the wheel of the deterministic cases */

static void tobj_cb(c1m_wheel_entry_t *e, void *arg)
{
    (void)arg;
    tobj_t *o = c1m_container_of(e, tobj_t, e);
    o->fired++;
    o->fired_at = c1m_wheel_now(tw);
}

static c1m_wheel_t *new_wheel(uint64_t t)
{
    tw = malloc(sizeof(*tw));
    assert_non_null(tw);
    memset(tw, 0xa5, sizeof(*tw));
    c1m_wheel_init(tw, t);
    return tw;
}

static void test_wheel_sizes(void **state)
{
    (void)state;
    assert_true(sizeof(c1m_wheel_entry_t) <= 24);
    assert_true(sizeof(c1m_heap_entry_t) <= 24);
    print_message("  sizeof(c1m_wheel_entry_t)=%zu sizeof(c1m_heap_entry_t)=%zu "
                  "sizeof(c1m_timer_t)=%zu sizeof(c1m_wheel_t)=%zu horizon=%.1f h\n",
                  sizeof(c1m_wheel_entry_t), sizeof(c1m_heap_entry_t), sizeof(c1m_timer_t),
                  sizeof(c1m_wheel_t), (double)C1M_WHEEL_HORIZON_MS / H_MS);
}

static void test_wheel_now_and_past(void **state)
{
    (void)state;
    c1m_wheel_t *w = new_wheel(1000);
    tobj_t a = { 0 }, b = { 0 }, c = { 0 };
    assert_int_equal(c1m_wheel_next_timeout_ms(w, 1000), -1);
    assert_false(c1m_wheel_armed(&a.e));
    c1m_wheel_cancel(w, &a.e);                      /* not armed: no-op */
    c1m_wheel_arm(w, &a.e, 1000);                   /* at now */
    c1m_wheel_arm(w, &b.e, 10);                     /* in the past */
    c1m_wheel_arm(w, &c.e, 1001);
    assert_true(c1m_wheel_armed(&a.e));
    assert_int_equal(c1m_wheel_count(w), 3);
    assert_int_equal(c1m_wheel_next_timeout_ms(w, 1000), 0);
    /* Due entries fire at the next advance, even with the same now. */
    assert_int_equal(c1m_wheel_advance(w, 1000, tobj_cb, NULL), 2);
    assert_int_equal(a.fired, 1);
    assert_int_equal(b.fired, 1);
    assert_int_equal(c.fired, 0);
    assert_false(c1m_wheel_armed(&a.e));
    assert_int_equal(c1m_wheel_next_timeout_ms(w, 1000), 1);
    /* A now earlier than the wheel's time expires only the due list. */
    c1m_wheel_arm(w, &a.e, 900);
    assert_int_equal(c1m_wheel_advance(w, 999, tobj_cb, NULL), 1);
    assert_int_equal(a.fired, 2);
    assert_int_equal(c.fired, 0);
    assert_int_equal(c1m_wheel_advance(w, 1001, tobj_cb, NULL), 1);
    assert_int_equal(c.fired, 1);
    assert_int_equal(c.fired_at, 1001);
    assert_int_equal(c1m_wheel_count(w), 0);
    assert_int_equal(c1m_wheel_next_timeout_ms(w, 1001), -1);
    free(w);
}

/* Each level's boundary: 64 G' is the last deadline of level L-1 (fires
 * exactly), 64 G' + 1 the first of level L (fires at 72 G'). */
static void test_wheel_level_boundaries(void **state)
{
    (void)state;
    for (unsigned L = 1; L < C1M_WHEEL_LEVELS; L++) {
        uint64_t g = C1M_WHEEL_GRAN(L - 1);
        c1m_wheel_t *w = new_wheel(0);
        tobj_t x = { 0 }, y = { 0 };
        c1m_wheel_arm(w, &x.e, 64 * g);
        assert_int_equal(c1m_wheel_next_timeout_ms(w, 0), 64 * g);
        assert_int_equal(c1m_wheel_advance(w, 64 * g - 1, tobj_cb, NULL), 0);
        assert_int_equal(c1m_wheel_advance(w, 64 * g, tobj_cb, NULL), 1);
        assert_int_equal(x.fired_at, 64 * g);
        free(w);

        w = new_wheel(0);
        c1m_wheel_arm(w, &y.e, 64 * g + 1);
        assert_int_equal(c1m_wheel_next_timeout_ms(w, 0), 72 * g);
        assert_int_equal(c1m_wheel_advance(w, 72 * g - 1, tobj_cb, NULL), 0);
        assert_int_equal(y.fired, 0);
        assert_int_equal(c1m_wheel_next_timeout_ms(w, 72 * g - 1), 1);
        assert_int_equal(c1m_wheel_advance(w, 72 * g, tobj_cb, NULL), 1);
        assert_int_equal(y.fired_at, 72 * g);
        free(w);
    }
    /* Level 0 is exact for every delay 1..64 from any start. */
    for (uint64_t t0 = 0; t0 < 70; t0 += 7) {
        for (uint64_t d = 0; d <= 64; d++) {
            c1m_wheel_t *w = new_wheel(t0);
            tobj_t x = { 0 };
            c1m_wheel_arm(w, &x.e, t0 + d);
            assert_int_equal(c1m_wheel_next_timeout_ms(w, t0), d);
            if (d)
                assert_int_equal(c1m_wheel_advance(w, t0 + d - 1, tobj_cb, NULL), 0);
            assert_int_equal(c1m_wheel_advance(w, t0 + d, tobj_cb, NULL), 1);
            free(w);
        }
    }
}

/* The worst case of each level: d = 63 G' + 2, lateness = 8 G' - 1, just
 * under the documented 8/63 of d. */
static void test_wheel_worst_lateness(void **state)
{
    (void)state;
    for (unsigned L = 1; L < C1M_WHEEL_LEVELS; L++) {
        uint64_t g = C1M_WHEEL_GRAN(L - 1), t0 = g - 1, e = 64 * g + 1;
        uint64_t d = e - t0, fire = 72 * g, late = fire - e;
        c1m_wheel_t *w = new_wheel(t0);
        tobj_t x = { 0 };
        c1m_wheel_arm(w, &x.e, e);
        assert_int_equal(c1m_wheel_next_timeout_ms(w, t0), fire - t0);
        assert_int_equal(c1m_wheel_advance(w, fire - 1, tobj_cb, NULL), 0);
        assert_int_equal(c1m_wheel_advance(w, fire, tobj_cb, NULL), 1);
        /* what the wheel did: fired once, at `fire`, within the bound */
        assert_int_equal(x.fired, 1);
        assert_int_equal(x.fired_at, fire);
        assert_true(x.fired_at - e <= C1M_WHEEL_LATENESS_MAX(d));
        print_message("  level %u: delay %" PRIu64 " ms fires %" PRIu64
                      " ms late (%.3f %%, bound 8/63 = 12.698 %%)\n",
                      L, d, late, 100.0 * (double)late / (double)d);
        free(w);
    }
}

static void test_wheel_beyond_horizon(void **state)
{
    (void)state;
    uint64_t t0 = 5, e = t0 + 100ull * H_MS;
    c1m_wheel_t *w = new_wheel(t0);
    tobj_t x = { 0 }, far = { 0 };
    c1m_wheel_arm(w, &x.e, e);
    c1m_wheel_arm(w, &far.e, UINT64_C(1) << 62);
    uint64_t t = t0;
    unsigned wakeups = 0;
    while (!x.fired) {
        int to = c1m_wheel_next_timeout_ms(w, t);
        assert_true(to > 0);
        t += (uint64_t)to;
        c1m_wheel_advance(w, t, tobj_cb, NULL);
        wakeups++;
        assert_true(wakeups < 20);
    }
    assert_true(x.fired_at >= e);
    assert_true(x.fired_at <= e + C1M_WHEEL_LATENESS_MAX(e - t0));
    assert_true(c1m_wheel_armed(&far.e));
    assert_int_equal(far.fired, 0);
    /* A jump far beyond: re-filed, never early. */
    c1m_wheel_advance(w, (UINT64_C(1) << 62) - 1, tobj_cb, NULL);
    assert_int_equal(far.fired, 0);
    assert_int_equal(c1m_wheel_next_timeout_ms(w, (UINT64_C(1) << 62) - 1), 1);
    c1m_wheel_advance(w, UINT64_C(1) << 62, tobj_cb, NULL);
    assert_int_equal(far.fired, 1);
    print_message("  100 h timer: %u wake-ups, %" PRIu64 " ms late\n", wakeups,
                  x.fired_at - e);
    free(w);
}

static void test_wheel_cancel_bitmap(void **state)
{
    (void)state;
    c1m_wheel_t *w = new_wheel(0);
    tobj_t a = { 0 }, b = { 0 }, c = { 0 };
    c1m_wheel_arm(w, &a.e, 30);
    c1m_wheel_arm(w, &b.e, 30);     /* same slot */
    c1m_wheel_arm(w, &c.e, 5000);
    assert_int_equal(c1m_wheel_next_timeout_ms(w, 0), 30);
    c1m_wheel_cancel(w, &a.e);
    assert_int_equal(c1m_wheel_next_timeout_ms(w, 0), 30);
    c1m_wheel_cancel(w, &b.e);      /* slot empties: the bit must go */
    assert_true(c1m_wheel_next_timeout_ms(w, 0) >= 5000);
    c1m_wheel_cancel(w, &b.e);      /* twice: no-op */
    c1m_wheel_cancel(w, &c.e);
    assert_int_equal(c1m_wheel_next_timeout_ms(w, 0), -1);
    assert_int_equal(c1m_wheel_count(w), 0);
    /* Move: re-arm an armed entry, earlier then later. */
    c1m_wheel_arm(w, &a.e, 400);
    c1m_wheel_arm(w, &a.e, 20);
    assert_int_equal(c1m_wheel_next_timeout_ms(w, 0), 20);
    c1m_wheel_arm(w, &a.e, 50);
    assert_int_equal(c1m_wheel_next_timeout_ms(w, 0), 50);
    assert_int_equal(c1m_wheel_count(w), 1);
    assert_int_equal(c1m_wheel_advance(w, 49, tobj_cb, NULL), 0);
    assert_int_equal(c1m_wheel_advance(w, 50, tobj_cb, NULL), 1);
    assert_int_equal(a.fired_at, 50);
    free(w);
}

/* Callbacks that cancel a sibling due in the same advance, re-arm
 * themselves at now (fires next advance, no livelock), arm others. */
typedef struct {
    c1m_wheel_entry_t e;
    int fired;
    int action;         /* 0 none, 1 cancel peer, 2 re-arm self at now */
    c1m_wheel_entry_t *peer;
} robj_t;

static void robj_cb(c1m_wheel_entry_t *e, void *arg)
{
    c1m_wheel_t *w = arg;
    robj_t *o = c1m_container_of(e, robj_t, e);
    o->fired++;
    if (o->action == 1)
        c1m_wheel_cancel(w, o->peer);
    else if (o->action == 2 && o->fired == 1)
        c1m_wheel_arm(w, e, c1m_wheel_now(w));
}

static void test_wheel_callback_reentrancy(void **state)
{
    (void)state;
    for (int order = 0; order < 2; order++) {
        c1m_wheel_t *w = new_wheel(0);
        robj_t a = { .action = 1 }, b = { .action = 1 }, c = { .action = 2 };
        a.peer = &b.e;
        b.peer = &a.e;
        /* Same tick; whichever runs first cancels the other. */
        c1m_wheel_arm(w, order ? &b.e : &a.e, 10);
        c1m_wheel_arm(w, order ? &a.e : &b.e, 10);
        c1m_wheel_arm(w, &c.e, 7);
        assert_int_equal(c1m_wheel_advance(w, 100, robj_cb, w), 2);
        assert_int_equal(a.fired + b.fired, 1);
        assert_int_equal(c.fired, 1);
        assert_true(c1m_wheel_armed(&c.e));         /* re-armed at 100 */
        assert_int_equal(c1m_wheel_next_timeout_ms(w, 100), 0);
        assert_int_equal(c1m_wheel_advance(w, 100, robj_cb, w), 1);
        assert_int_equal(c.fired, 2);
        assert_int_equal(c1m_wheel_count(w), 0);
        free(w);
    }
}

static void test_wheel_postpone(void **state)
{
    (void)state;
    c1m_wheel_t *w = new_wheel(0);
    tobj_t a = { 0 };
    c1m_wheel_postpone(w, &a.e, 50);            /* not armed: arms */
    assert_true(c1m_wheel_armed(&a.e));
    c1m_wheel_postpone(w, &a.e, 5000);          /* later: a store */
    assert_int_equal(a.e.expires, 5000);
    assert_int_equal(c1m_wheel_next_timeout_ms(w, 0), 50);    /* under-estimate */
    assert_int_equal(c1m_wheel_advance(w, 50, tobj_cb, NULL), 0);
    assert_true(c1m_wheel_armed(&a.e));         /* re-filed, not fired */
    assert_int_equal(c1m_wheel_count(w), 1);
    int to = c1m_wheel_next_timeout_ms(w, 50);
    assert_true(to > 0);
    assert_true(50 + (uint64_t)to >= 5000);
    assert_true(50 + (uint64_t)to <= 5000 + C1M_WHEEL_LATENESS_MAX(5000 - 50));
    c1m_wheel_postpone(w, &a.e, 100);           /* earlier: moves */
    assert_int_equal(c1m_wheel_next_timeout_ms(w, 50), 50);
    assert_int_equal(c1m_wheel_advance(w, 99, tobj_cb, NULL), 0);
    assert_int_equal(c1m_wheel_advance(w, 100, tobj_cb, NULL), 1);
    assert_int_equal(a.fired_at, 100);
    assert_int_equal(c1m_wheel_count(w), 0);
    free(w);
}

/* ---- general timers ------------------------------------------------- */

typedef struct {
    c1m_timer_t t;
    int runs;
    uint64_t max_late;
    uint64_t last_due;      /* deadline of the run (due before re-arm) */
    bool grid_ok;
    int stop_after;
} utimer_t;

static c1m_wheel_t *uw;

static void utimer_fn(c1m_timer_t *t)
{
    utimer_t *u = t->data;
    uint64_t now_ = c1m_wheel_now(uw);
    u->runs++;
    if (t->period_ms) {
        uint64_t next = c1m_timer_due(t);   /* already re-armed */
        if (next % t->period_ms != 0 || next <= now_ || next > now_ + t->period_ms)
            u->grid_ok = false;
        u->last_due = next;
    }
    if (u->stop_after && u->runs >= u->stop_after)
        c1m_timer_stop(uw, t);
}

static void drive(c1m_wheel_t *w, uint64_t *t, uint64_t until)
{
    for (;;) {
        int to = c1m_wheel_next_timeout_ms(w, *t);
        uint64_t next = to < 0 ? until : *t + (uint64_t)to;
        if (next > until)
            next = until;
        *t = next;
        c1m_timer_run(w, *t);
        if (*t == until)
            return;
    }
}

static void test_timer_oneshot_periodic(void **state)
{
    (void)state;
    uint64_t t = 0;
    c1m_wheel_t *w = uw = new_wheel(0);
    utimer_t one = { .grid_ok = true }, p10 = { .grid_ok = true },
             p1000 = { .grid_ok = true }, stopper = { .grid_ok = true, .stop_after = 3 };
    c1m_timer_init(&one.t, utimer_fn, &one);
    c1m_timer_init(&p10.t, utimer_fn, &p10);
    c1m_timer_init(&p1000.t, utimer_fn, &p1000);
    c1m_timer_init(&stopper.t, utimer_fn, &stopper);
    c1m_timer_start(w, &one.t, 250, 0);
    c1m_timer_start(w, &p10.t, 10, 10);
    c1m_timer_start(w, &p1000.t, 1000, 1000);
    c1m_timer_start(w, &stopper.t, 5, 5);
    assert_true(c1m_timer_active(&one.t));
    drive(w, &t, 100000);
    assert_int_equal(one.runs, 1);
    assert_false(c1m_timer_active(&one.t));
    assert_int_equal(p10.runs, 10000);      /* exact: level 0 */
    assert_true(p10.grid_ok);
    assert_int_equal(stopper.runs, 3);
    assert_false(c1m_timer_active(&stopper.t));
    c1m_timer_stop(w, &p10.t);
    drive(w, &t, 100500);                   /* the 100th may be late by < 127 ms */
    assert_int_equal(p1000.runs, 100);      /* no drift over 100 periods */
    assert_true(p1000.grid_ok);
    assert_int_equal(p1000.last_due, 101000);
    /* Stall over 10.5 periods: one run, the grid is kept. */
    c1m_timer_run(w, 110500);
    assert_int_equal(p1000.runs, 101);
    assert_int_equal(c1m_timer_due(&p1000.t), 111000);
    c1m_timer_stop(w, &p1000.t);
    assert_int_equal(c1m_wheel_count(w), 0);
    free(w);
}

/* ---- deterministic heap cases ------------------------------------- */

typedef struct {
    c1m_heap_entry_t e;
    int id;
    int fired;
    int rearm;
} hrec_t;

static int horder[16];
static int nhorder;
static c1m_heap_t *hh;

static void hrec_cb(c1m_heap_entry_t *e, void *arg)
{
    (void)arg;
    hrec_t *r = c1m_container_of(e, hrec_t, e);
    r->fired++;
    if (nhorder < 16)
        horder[nhorder++] = r->id;
    if (r->rearm && r->fired == 1)
        assert_int_equal(c1m_heap_arm(hh, e, 0), 0);    /* in the past */
}

static void test_heap_basic(void **state)
{
    (void)state;
    c1m_heap_t h;
    hrec_t r[6];
    hh = &h;
    c1m_heap_init(&h);
    assert_int_equal(c1m_heap_next_timeout_ms(&h, 0), -1);
    for (int i = 0; i < 6; i++) {
        c1m_heap_entry_init(&r[i].e, 7);
        r[i].id = i;
        r[i].fired = 0;
        r[i].rearm = 0;
    }
    assert_int_equal(c1m_heap_arm(&h, &r[0].e, 50), 0);
    assert_int_equal(c1m_heap_arm(&h, &r[1].e, 20), 0);
    assert_int_equal(c1m_heap_arm(&h, &r[2].e, 20), 0);     /* FIFO after 1 */
    assert_int_equal(c1m_heap_arm(&h, &r[3].e, 90), 0);
    assert_int_equal(c1m_heap_arm(&h, &r[4].e, 30), 0);
    assert_int_equal(c1m_heap_arm(&h, &r[5].e, 40), 0);
    assert_int_equal(c1m_heap_count(&h), 6);
    assert_int_equal(c1m_heap_next_timeout_ms(&h, 0), 20);
    c1m_heap_cancel(&h, &r[4].e);
    c1m_heap_cancel(&h, &r[4].e);
    assert_false(c1m_heap_armed(&r[4].e));
    assert_int_equal(c1m_heap_arm(&h, &r[3].e, 10), 0);     /* earlier */
    assert_int_equal(c1m_heap_arm(&h, &r[0].e, 45), 0);     /* earlier */
    assert_int_equal(c1m_heap_arm(&h, &r[5].e, 60), 0);     /* later */
    assert_int_equal(r[0].e.owner, 7);
    nhorder = 0;
    assert_int_equal(c1m_heap_advance(&h, 44, hrec_cb, NULL), 3);
    assert_int_equal(c1m_heap_advance(&h, 60, hrec_cb, NULL), 2);
    int want[] = { 3, 1, 2, 0, 5 };
    assert_int_equal(nhorder, 5);
    assert_memory_equal(horder, want, sizeof(want));
    assert_int_equal(c1m_heap_count(&h), 0);
    /* A callback re-arming in the past fires at the next advance. */
    r[1].rearm = 1;
    r[1].fired = 0;
    assert_int_equal(c1m_heap_arm(&h, &r[1].e, 70), 0);
    assert_int_equal(c1m_heap_advance(&h, 100, hrec_cb, NULL), 1);
    assert_int_equal(c1m_heap_next_timeout_ms(&h, 100), 0);
    assert_int_equal(c1m_heap_advance(&h, 100, hrec_cb, NULL), 1);
    assert_int_equal(r[1].fired, 2);
    /* Growth past the initial capacity and reserve. */
    assert_int_equal(c1m_heap_reserve(&h, 1000), 0);
    assert_true(h.cap >= 1000);
    c1m_heap_destroy(&h);
}

/* Two threads hammer one global heap; each timer fires exactly once and
 * carries its owner. */
#define GT_N 20000
static c1m_gheap_t gh;
static hobj_t gobj[2][GT_N];
static int gfired[2][GT_N];

static void *gheap_thread(void *arg)
{
    uint32_t me = (uint32_t)(uintptr_t)arg;
    uint64_t s = 0x1234567 + me;
    for (int i = 0; i < GT_N; i++) {
        c1m_heap_entry_init(&gobj[me][i].e, me);
        gobj[me][i].id = i;
        s = s * 6364136223846793005ull + 1442695040888963407ull;
        if (c1m_gheap_arm(&gh, &gobj[me][i].e, 1 + (s >> 40) % 100000) != 0)
            return (void *)1;
        if (i % 3 == 0)
            c1m_gheap_cancel(&gh, &gobj[me][i].e);
        else if (i % 3 == 1 && c1m_gheap_arm(&gh, &gobj[me][i].e, 200000 + (s >> 50)) != 0)
            return (void *)1;
    }
    return NULL;
}

static void gheap_cb(c1m_heap_entry_t *e, void *arg)
{
    (void)arg;
    hobj_t *o = c1m_container_of(e, hobj_t, e);
    assert_true(e->owner < 2);
    gfired[e->owner][o->id]++;
}

static void test_gheap_threads(void **state)
{
    (void)state;
    pthread_t th[2];
    assert_int_equal(c1m_gheap_init(&gh), 0);
    memset(gfired, 0, sizeof(gfired));
    for (uintptr_t i = 0; i < 2; i++)
        assert_int_equal(pthread_create(&th[i], NULL, gheap_thread, (void *)i), 0);
    for (int i = 0; i < 2; i++) {
        void *rv;
        pthread_join(th[i], &rv);
        assert_null(rv);
    }
    size_t want = 2 * (GT_N - (GT_N + 2) / 3);
    assert_int_equal(c1m_gheap_count(&gh), want);
    assert_int_equal(c1m_gheap_advance(&gh, UINT64_MAX, gheap_cb, NULL), want);
    for (int t = 0; t < 2; t++)
        for (int i = 0; i < GT_N; i++)
            assert_int_equal(gfired[t][i], i % 3 != 0);
    assert_int_equal(c1m_gheap_next_timeout_ms(&gh, 0), -1);
    c1m_gheap_destroy(&gh);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_wheel_sizes),
        cmocka_unit_test(test_wheel_now_and_past),
        cmocka_unit_test(test_wheel_level_boundaries),
        cmocka_unit_test(test_wheel_worst_lateness),
        cmocka_unit_test(test_wheel_beyond_horizon),
        cmocka_unit_test(test_wheel_cancel_bitmap),
        cmocka_unit_test(test_wheel_callback_reentrancy),
        cmocka_unit_test(test_wheel_postpone),
        cmocka_unit_test(test_timer_oneshot_periodic),
        cmocka_unit_test(test_heap_basic),
        cmocka_unit_test(test_gheap_threads),
        cmocka_unit_test(test_wheel_property),
        cmocka_unit_test(test_heap_property),
        cmocka_unit_test(test_gheap_property),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
