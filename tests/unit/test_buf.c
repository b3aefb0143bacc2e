/* core/buf: the on-demand connection buffer. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <errno.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "core/buf.h"

static void empty_is_null(void **state)
{
    c1m_buf_t *b = NULL;
    assert_int_equal(c1m_buf_size(b), 0);
    assert_int_equal(c1m_buf_append(&b, "x", 0), 0);
    assert_null(b); /* appending nothing allocates nothing */
    c1m_buf_consume(&b, 10);
    assert_null(b);
    c1m_buf_free(&b);
}

static void append_consume_frees(void **state)
{
    c1m_buf_t *b = NULL;
    assert_int_equal(c1m_buf_append(&b, "hello", 5), 0);
    assert_non_null(b);
    assert_int_equal(c1m_buf_size(b), 5);
    assert_memory_equal(c1m_buf_data(b), "hello", 5);
    c1m_buf_consume(&b, 2);
    assert_int_equal(c1m_buf_size(b), 3);
    assert_memory_equal(c1m_buf_data(b), "llo", 3);
    c1m_buf_consume(&b, 3);
    assert_null(b); /* empty: memory returned */
}

static void grows_and_keeps_order(void **state)
{
    c1m_buf_t *b = NULL;
    unsigned char expect[100000];
    size_t n = 0;
    for (int i = 0; i < 1000; i++) {
        unsigned char chunk[100];
        for (int k = 0; k < 100; k++)
            chunk[k] = (unsigned char)(i * 7 + k);
        assert_int_equal(c1m_buf_append(&b, chunk, sizeof chunk), 0);
        memcpy(expect + n, chunk, sizeof chunk);
        n += sizeof chunk;
        if (i % 3 == 0) { /* consume from the front as a writer would */
            c1m_buf_consume(&b, 50);
            memmove(expect, expect + 50, n - 50);
            n -= 50;
        }
    }
    assert_int_equal(c1m_buf_size(b), n);
    assert_memory_equal(c1m_buf_data(b), expect, n);
    c1m_buf_free(&b);
    assert_null(b);
}

static void compaction_reuses_front_gap(void **state)
{
    c1m_buf_t *b = NULL;
    char data[64];
    memset(data, 'a', sizeof data);
    assert_int_equal(c1m_buf_append(&b, data, 64), 0);
    uint32_t cap = b->cap;
    c1m_buf_consume(&b, 60);
    /* 4 bytes left, 60 bytes of gap: 50 more fit without a new allocation */
    memset(data, 'b', sizeof data);
    assert_int_equal(c1m_buf_append(&b, data, 50), 0);
    assert_int_equal(b->cap, cap);
    assert_int_equal(c1m_buf_size(b), 54);
    assert_memory_equal(c1m_buf_data(b), "aaaabbbb", 8);
    c1m_buf_free(&b);
}

static void reserve_commit(void **state)
{
    c1m_buf_t *b = NULL;
    char *p = c1m_buf_reserve(&b, 1000);
    assert_non_null(p);
    memcpy(p, "abc", 3);
    c1m_buf_commit(b, 3);
    assert_int_equal(c1m_buf_size(b), 3);
    assert_memory_equal(c1m_buf_data(b), "abc", 3);
    c1m_buf_free(&b);
}

static void too_big_fails_without_loss(void **state)
{
    c1m_buf_t *b = NULL;
    assert_int_equal(c1m_buf_append(&b, "keep", 4), 0);
    assert_int_equal(c1m_buf_append(&b, "x", (size_t)C1M_BUF_MAX + 1), -E2BIG);
    assert_int_equal(c1m_buf_size(b), 4); /* nothing lost */
    assert_memory_equal(c1m_buf_data(b), "keep", 4);
    c1m_buf_free(&b);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(empty_is_null),
        cmocka_unit_test(append_consume_frees),
        cmocka_unit_test(grows_and_keeps_order),
        cmocka_unit_test(compaction_reuses_front_gap),
        cmocka_unit_test(reserve_commit),
        cmocka_unit_test(too_big_fails_without_loss),
    };
    return cmocka_run_group_tests_name("buf", tests, NULL, NULL);
}
