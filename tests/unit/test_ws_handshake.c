/* Unit tests for the WebSocket opening handshake (proto/ws/handshake.h):
 * the accept key of RFC 6455's example, and a table of requests, each
 * with the HTTP status it must get (0 = accepted). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <errno.h>
#include <stdio.h>
#include <string.h>

#include <cmocka.h>

#include "proto/ws/handshake.h"

static void test_accept_key(void **state)
{
    char acc[C1M_WS_ACCEPT_LEN + 1];
    /* RFC 6455 section 1.3 */
    assert_int_equal(c1m_ws_accept_key("dGhlIHNhbXBsZSBub25jZQ==", 24, acc), 0);
    assert_string_equal(acc, "s3pPLMBiTxaQ9kYGzzhZRbK+xOo=");
    char big[300];
    memset(big, 'a', sizeof big);
    assert_int_equal(c1m_ws_accept_key(big, sizeof big, acc), -EINVAL);
}

#define KEY "Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n"
#define VER "Sec-WebSocket-Version: 13\r\n"
#define UPG "Upgrade: websocket\r\nConnection: Upgrade\r\n"

static const struct {
    const char *name, *req;
    int status;
} cases[] = {
    { "valid", "GET /ws HTTP/1.1\r\nHost: x\r\n" UPG KEY VER "\r\n", 0 },
    { "token lists, any case", "GET /ws HTTP/1.1\r\nHost: x\r\nUpgrade: foo, WebSocket\r\n"
      "Connection: keep-alive, upgrade\r\n" KEY VER "\r\n", 0 },
    { "version 8", "GET /ws HTTP/1.1\r\nHost: x\r\n" UPG KEY "Sec-WebSocket-Version: 8\r\n\r\n", 426 },
    { "version 130", "GET /ws HTTP/1.1\r\nHost: x\r\n" UPG KEY "Sec-WebSocket-Version: 130\r\n\r\n", 426 },
    { "no version", "GET /ws HTTP/1.1\r\nHost: x\r\n" UPG KEY "\r\n", 426 },
    { "no key", "GET /ws HTTP/1.1\r\nHost: x\r\n" UPG VER "\r\n", 400 },
    { "short key", "GET /ws HTTP/1.1\r\nHost: x\r\n" UPG "Sec-WebSocket-Key: abc=\r\n" VER "\r\n", 400 },
    { "key not base64", "GET /ws HTTP/1.1\r\nHost: x\r\n" UPG
      "Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25j*Q==\r\n" VER "\r\n", 400 },
    { "no Upgrade", "GET /ws HTTP/1.1\r\nHost: x\r\nConnection: Upgrade\r\n" KEY VER "\r\n", 400 },
    { "Upgrade: h2c", "GET /ws HTTP/1.1\r\nHost: x\r\nUpgrade: h2c\r\nConnection: Upgrade\r\n" KEY VER "\r\n", 400 },
    { "no Connection: upgrade", "GET /ws HTTP/1.1\r\nHost: x\r\nUpgrade: websocket\r\n" KEY VER "\r\n", 400 },
    { "POST", "POST /ws HTTP/1.1\r\nHost: x\r\n" UPG KEY VER "\r\n", 400 },
    { "HTTP/1.0", "GET /ws HTTP/1.0\r\nHost: x\r\n" UPG KEY VER "\r\n", 400 },
    { "a body", "GET /ws HTTP/1.1\r\nHost: x\r\nContent-Length: 3\r\n" UPG KEY VER "\r\nabc", 400 },
};

static void test_requests(void **state)
{
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        c1m_http_parser_t p;
        c1m_http_parser_init(&p, NULL);
        c1m_http_header_t hdrs[32];
        c1m_http_request_t req = { .headers = hdrs, .headers_cap = 32 };
        c1m_http_event_t ev;
        ssize_t n = c1m_http_parse(&p, cases[i].req, strlen(cases[i].req), &req, &ev);
        assert_true(n > 0);
        assert_int_equal(ev, C1M_HTTP_EV_HEAD);
        char acc[C1M_WS_ACCEPT_LEN + 1] = "";
        const char *why = NULL;
        int st = c1m_ws_handshake_check(&req, acc, &why);
        print_message("  %-24s -> %d %s\n", cases[i].name, st, why ? why : "");
        assert_int_equal(st, cases[i].status);
        if (!st) {
            assert_string_equal(acc, "s3pPLMBiTxaQ9kYGzzhZRbK+xOo=");
            char out[256];
            size_t len = c1m_ws_handshake_response(out, sizeof out, acc);
            assert_true(len > 0);
            assert_non_null(strstr(out, "HTTP/1.1 101 Switching Protocols\r\n"));
            assert_non_null(strstr(out, "Sec-WebSocket-Accept: s3pPLMBiTxaQ9kYGzzhZRbK+xOo=\r\n"));
        } else {
            assert_non_null(why);
        }
    }
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_accept_key),
        cmocka_unit_test(test_requests),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
