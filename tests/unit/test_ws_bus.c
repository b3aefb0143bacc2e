/* Unit tests for the prefork broadcast bus (proto/ws/bus.h): records come
 * out in order with their bytes, topic and opcode; a reader that falls
 * more than the ring behind skips to the newest and the number it missed
 * is counted exactly; a record over max_msg is refused; a record
 * published by another process (fork) is read here. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cmocka.h>

#include "proto/ws/bus.h"
#include "proto/ws/frame.h"

static void fill(uint8_t *p, size_t n, uint32_t seed)
{
    for (size_t i = 0; i < n; i++)
        p[i] = (uint8_t)(seed * 31 + i * 7);
}

static void test_in_order(void **state)
{
    c1m_ws_bus_t *b;
    assert_int_equal(c1m_ws_bus_new(&b, 1000), 0);
    c1m__ws_bus_cursor_t cur;
    c1m__ws_bus_cursor_init(b, &cur);
    uint8_t in[1000], out[1000];
    c1m__ws_bus_rec_t rec;
    assert_int_equal(c1m__ws_bus_next(b, &cur, out, &rec), 0); /* nothing yet */
    /* sizes that do not fill the 8-byte padding, and 0 */
    size_t sizes[] = { 0, 1, 7, 8, 9, 999, 1000 };
    for (size_t i = 0; i < 7; i++) {
        fill(in, sizes[i], (uint32_t)i);
        int topic = i == 3 ? C1M_WS_ALL : (int)i;
        assert_int_equal(c1m_ws_bus_publish(b, topic, i & 1 ? C1M_WS_OP_TEXT : C1M_WS_OP_BINARY,
                                            in, sizes[i]), 0);
    }
    for (size_t i = 0; i < 7; i++) {
        assert_int_equal(c1m__ws_bus_next(b, &cur, out, &rec), 1);
        assert_int_equal(rec.len, sizes[i]);
        assert_int_equal(rec.topic, i == 3 ? C1M_WS_ALL : (int)i);
        assert_int_equal(rec.opcode, i & 1 ? C1M_WS_OP_TEXT : C1M_WS_OP_BINARY);
        fill(in, sizes[i], (uint32_t)i);
        assert_memory_equal(out, in, sizes[i]);
    }
    assert_int_equal(c1m__ws_bus_next(b, &cur, out, &rec), 0);
    assert_int_equal(c1m_ws_bus_publish(b, 15, C1M_WS_OP_BINARY, in, 1), -EINVAL);
    assert_int_equal(c1m_ws_bus_publish(b, 0, C1M_WS_OP_BINARY, in, 1001), -EMSGSIZE);
    c1m_ws_bus_stats_t st;
    c1m_ws_bus_stats(b, &st);
    assert_int_equal(st.published, 7);
    assert_int_equal(st.too_big, 1);
    assert_int_equal(st.lapped, 0);
}

/* The ring holds 1 MiB: 3 MiB of 1000-byte records (1,016 bytes each with
 * header and padding) laps a reader that read none; it gets the newest
 * record next, and lapped says exactly how many it missed. */
static void test_lapped(void **state)
{
    c1m_ws_bus_t *b;
    assert_int_equal(c1m_ws_bus_new(&b, 1000), 0);
    c1m__ws_bus_cursor_t cur;
    c1m__ws_bus_cursor_init(b, &cur);
    uint8_t in[1000], out[1000];
    const uint32_t n = 3 * 1032; /* > 3 MiB / 1016 */
    for (uint32_t i = 0; i < n; i++) {
        fill(in, sizeof in, i);
        assert_int_equal(c1m_ws_bus_publish(b, 0, C1M_WS_OP_BINARY, in, sizeof in), 0);
    }
    c1m__ws_bus_rec_t rec;
    uint32_t got = 0;
    while (c1m__ws_bus_next(b, &cur, out, &rec) == 1)
        got++;
    /* it jumped to the head: nothing old is read as new */
    assert_int_equal(got, 0);
    fill(in, sizeof in, n);
    assert_int_equal(c1m_ws_bus_publish(b, 0, C1M_WS_OP_BINARY, in, sizeof in), 0);
    assert_int_equal(c1m__ws_bus_next(b, &cur, out, &rec), 1);
    assert_memory_equal(out, in, sizeof in);
    c1m_ws_bus_stats_t st;
    c1m_ws_bus_stats(b, &st);
    assert_int_equal(st.lapped, n);
    assert_int_equal(c1m__ws_bus_next(b, &cur, out, &rec), 0);
}

/* A reader that keeps up never loses one, however many pass. */
static void test_keeps_up(void **state)
{
    c1m_ws_bus_t *b;
    assert_int_equal(c1m_ws_bus_new(&b, 64), 0);
    c1m__ws_bus_cursor_t cur;
    c1m__ws_bus_cursor_init(b, &cur);
    uint8_t in[64], out[64];
    c1m__ws_bus_rec_t rec;
    for (uint32_t i = 0; i < 100000; i++) {
        memcpy(in, &i, sizeof i);
        assert_int_equal(c1m_ws_bus_publish(b, 0, C1M_WS_OP_BINARY, in, 4 + i % 60), 0);
        if (i % 1000 == 999) /* 1000 x 80 B at a time, well inside 1 MiB */
            for (uint32_t j = i - 999; j <= i; j++) {
                assert_int_equal(c1m__ws_bus_next(b, &cur, out, &rec), 1);
                assert_int_equal(rec.len, 4 + j % 60);
                assert_memory_equal(out, &j, sizeof j);
            }
    }
    c1m_ws_bus_stats_t st;
    c1m_ws_bus_stats(b, &st);
    assert_int_equal(st.lapped, 0);
}

/* Made before the fork, written by the child, read by the parent. */
static void test_across_fork(void **state)
{
    c1m_ws_bus_t *b;
    assert_int_equal(c1m_ws_bus_new(&b, 64), 0);
    c1m__ws_bus_cursor_t cur;
    c1m__ws_bus_cursor_init(b, &cur);
    pid_t pid = fork();
    assert_true(pid >= 0);
    if (pid == 0)
        _exit(c1m_ws_bus_publish(b, 2, C1M_WS_OP_BINARY, "from the child", 14) == 0 ? 0 : 1);
    int st;
    assert_int_equal(waitpid(pid, &st, 0), pid);
    assert_true(WIFEXITED(st) && WEXITSTATUS(st) == 0);
    uint8_t out[64];
    c1m__ws_bus_rec_t rec;
    assert_int_equal(c1m__ws_bus_next(b, &cur, out, &rec), 1);
    assert_int_equal(rec.topic, 2);
    assert_int_equal(rec.len, 14);
    assert_memory_equal(out, "from the child", 14);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_in_order),
        cmocka_unit_test(test_lapped),
        cmocka_unit_test(test_keeps_up),
        cmocka_unit_test(test_across_fork),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
