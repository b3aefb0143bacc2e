/* core/parse: the one grammar of command-line values (counts k/M/G, sizes
 * KiB/MiB/GiB, durations us/ms/s/m/h) and the messages for wrong spellings. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <errno.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "core/parse.h"

static uint64_t count(const char *s)
{
    uint64_t v = 12345;
    assert_int_equal(c1m_parse_count(s, 0, UINT64_MAX / 2, &v), 0);
    return v;
}

static void counts_are_decimal(void **state)
{
    assert_int_equal(count("0"), 0);
    assert_int_equal(count("20000"), 20000);
    assert_int_equal(count("20k"), 20000);
    assert_int_equal(count("20K"), 20000);
    assert_int_equal(count("1M"), 1000000);
    assert_int_equal(count("1.5M"), 1500000);
    assert_int_equal(count("2G"), 2000000000ull);
    uint64_t v;
    /* m and g: minutes? MiB? refused */
    assert_int_equal(c1m_parse_count("1m", 0, UINT64_MAX, &v), -EINVAL);
    assert_int_equal(c1m_parse_count("1g", 0, UINT64_MAX, &v), -EINVAL);
    assert_int_equal(c1m_parse_count("1MiB", 0, UINT64_MAX, &v), -EINVAL);
    assert_int_equal(c1m_parse_count("1.5", 0, UINT64_MAX, &v), -EINVAL);
    assert_int_equal(c1m_parse_count("-1", 0, UINT64_MAX, &v), -EINVAL);
    assert_int_equal(c1m_parse_count("+1", 0, UINT64_MAX, &v), -EINVAL);
    assert_int_equal(c1m_parse_count("", 0, UINT64_MAX, &v), -EINVAL);
    assert_int_equal(c1m_parse_count("10x", 0, UINT64_MAX, &v), -EINVAL);
    assert_int_equal(c1m_parse_count("0x10", 0, UINT64_MAX, &v), -EINVAL);
    assert_int_equal(c1m_parse_count("1e3", 0, UINT64_MAX, &v), -EINVAL);
    assert_int_equal(c1m_parse_count("1025", 1, 1024, &v), -ERANGE);
    assert_int_equal(c1m_parse_count("0", 1, 1024, &v), -ERANGE);
    assert_int_equal(c1m_parse_count("1024", 1, 1024, &v), 0);
    assert_int_equal(v, 1024);
}

static void sizes_are_binary(void **state)
{
    uint64_t v;
    assert_int_equal(c1m_parse_size("512", 0, UINT64_MAX, &v), 0);
    assert_int_equal(v, 512);
    assert_int_equal(c1m_parse_size("64KiB", 0, UINT64_MAX, &v), 0);
    assert_int_equal(v, 65536);
    assert_int_equal(c1m_parse_size("1MiB", 0, UINT64_MAX, &v), 0);
    assert_int_equal(v, 1 << 20);
    assert_int_equal(c1m_parse_size("2GiB", 0, UINT64_MAX, &v), 0);
    assert_int_equal(v, 2ull << 30);
    static const char *const ambiguous[] = { "64k", "64K", "64KB", "1m", "1M", "1MB", "1g", "1G" };
    for (size_t i = 0; i < sizeof ambiguous / sizeof ambiguous[0]; i++)
        assert_int_equal(c1m_parse_size(ambiguous[i], 0, UINT64_MAX, &v), -EINVAL);
    assert_int_equal(c1m_parse_size("2MiB", 1, 1 << 20, &v), -ERANGE);
}

static void durations(void **state)
{
    uint64_t v;
    assert_int_equal(c1m_parse_duration_us("250us", &v), 0);
    assert_int_equal(v, 250);
    assert_int_equal(c1m_parse_duration_us("500ms", &v), 0);
    assert_int_equal(v, 500000);
    assert_int_equal(c1m_parse_duration_us("1.5", &v), 0);
    assert_int_equal(v, 1500000);
    assert_int_equal(c1m_parse_duration_us("2m", &v), 0);
    assert_int_equal(v, 120000000);
    assert_int_equal(c1m_parse_duration_us("1h", &v), 0);
    assert_int_equal(v, 3600000000ull);
    assert_int_equal(c1m_parse_duration_us("5sec", &v), -EINVAL);
    assert_int_equal(c1m_parse_duration_us("-1s", &v), -EINVAL);
    assert_int_equal(c1m_parse_duration_range("0", 1000, 10000000, &v), -ERANGE);
}

static void messages_name_the_right_spelling(void **state)
{
    char b[256];
    c1m_parse_want(C1M_VAL_COUNT, "1024", 1, 1024, b, sizeof b);
    assert_string_equal(b, "a count from 1 to 1024");
    c1m_parse_want(C1M_VAL_COUNT, "2m", 1, 10000000, b, sizeof b);
    assert_non_null(strstr(b, "from 1 to 10M"));
    assert_non_null(strstr(b, "write 2M for 2000000"));
    c1m_parse_want(C1M_VAL_SIZE, "64k", 1, 1 << 30, b, sizeof b);
    assert_non_null(strstr(b, "from 1 to 1GiB"));
    assert_non_null(strstr(b, "write 64KiB (65536 bytes)"));
    c1m_parse_want(C1M_VAL_DURATION, "5sec", 1000, 3600000000ull, b, sizeof b);
    assert_non_null(strstr(b, "from 1ms to 1h"));
    assert_non_null(strstr(b, "write 5s"));
    char f[32];
    assert_string_equal(c1m_fmt_count(1000000, f, sizeof f), "1M");
    assert_string_equal(c1m_fmt_count(65535, f, sizeof f), "65535");
    assert_string_equal(c1m_fmt_size(65536, f, sizeof f), "64KiB");
    assert_string_equal(c1m_fmt_size(300, f, sizeof f), "300");
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(counts_are_decimal),
        cmocka_unit_test(sizes_are_binary),
        cmocka_unit_test(durations),
        cmocka_unit_test(messages_name_the_right_spelling),
    };
    return cmocka_run_group_tests_name("parse", tests, NULL, NULL);
}
