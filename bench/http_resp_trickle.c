/* The load generator's response parser (proto/http1/response.c) fed a head
 * that arrives one byte at a time, as from a server that trickles it: the
 * caller keeps what was not consumed and presents it again with one more
 * byte (the engine's contract). Prints the time per head byte for heads of
 * 4 to 60 KiB: constant when parsing is linear, growing with the head size
 * when the incomplete head is rescanned from its start on every read.
 *
 *     build/bench/http_resp_trickle [ROUNDS]
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "proto/http1/response.h"

static double now_s(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec * 1e-9;
}

/* A response head of about `size` bytes: short header lines, the common
 * shape, so a rescan re-reads many lines per byte. */
static size_t make_head(char *s, size_t size)
{
    size_t n = (size_t)sprintf(s, "HTTP/1.1 200 OK\r\nContent-Length: 0\r\n");
    for (int i = 0; n + 40 < size; i++)
        n += (size_t)sprintf(s + n, "X-Field-%d: some value here\r\n", i);
    n += (size_t)sprintf(s + n, "\r\n");
    return n;
}

int main(int argc, char **argv)
{
    int rounds = argc > 1 ? atoi(argv[1]) : 3;
    static char head[C1M_HTTP_RESP_MAX_HEAD];
    static const size_t sizes[] = {4096, 8192, 16384, 32768, 61440};
    printf("%-10s %12s %12s\n", "head", "ms/head", "ns/byte");
    for (size_t k = 0; k < sizeof sizes / sizeof sizes[0]; k++) {
        size_t n = make_head(head, sizes[k]);
        double best = 1e9;
        for (int r = 0; r < rounds; r++) {
            c1m_http_resp_t resp;
            c1m_http_resp_init(&resp, false);
            double t0 = now_s();
            bool done = false;
            for (size_t have = 1; have <= n && !done; have++) {
                ssize_t u = c1m_http_resp_feed(&resp, head, have, &done);
                if (u < 0 || (u > 0 && (size_t)u != have)) {
                    fprintf(stderr, "http_resp_trickle: parse error at %zu: %zd\n", have, u);
                    return 1;
                }
            }
            double t = now_s() - t0;
            if (!done) {
                fprintf(stderr, "http_resp_trickle: head of %zu bytes not complete\n", n);
                return 1;
            }
            if (t < best)
                best = t;
        }
        printf("%-10zu %12.3f %12.1f\n", n, best * 1e3, best * 1e9 / (double)n);
    }
    return 0;
}
