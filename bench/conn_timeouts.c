/* conn_timeouts: the per-request cost of connection timeout bookkeeping,
 * without I/O, for each --timers design (the macro-benchmark is
 * bench/timeouts.sh; this isolates what it measures).
 *
 *   build/bench/conn_timeouts [-n CONNS] [-r ROUNDS]
 *
 * CONNS connections (socketpairs, adopted by a loop that is never run for
 * I/O) each do ROUNDS requests, round-robin, with the calls an echo request
 * makes when all four timeouts are on (engine: arm READ; echo: request
 * begin, header done, end; engine: arm IDLE). The loop's clock moves 1 ms
 * every 64 requests and the timers are expired then, as a loop iteration
 * would. global-heap x2 runs two loops on two threads sharing the heap
 * (Go 1.9's lock contention). Prints ns per request for each design.
 */
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "core/clock.h"
#include "engine/loop.h"
#include "engine/timeouts.h"

static ssize_t nop_data(c1m_conn_t *c, const char *d, size_t n) { return (ssize_t)n; }
static const c1m_proto_t nop = { .name = "nop", .on_data = nop_data };

typedef struct run {
    c1m_loop_t loop;
    c1m_conn_t **conns;
    int *peers;
    int n, rounds;
    double ns_per_req;
} run_t;

static int setup(run_t *r, uint32_t id, c1m_timers_mode_t mode, bool on, c1m_gtimers_t *g)
{
    c1m_loop_cfg_t cfg;
    c1m_loop_cfg_defaults(&cfg);
    cfg.timers = mode;
    cfg.gtimers = g;
    if (on) {
        cfg.timeout_ms[C1M_TO_READ] = 5000;
        cfg.timeout_ms[C1M_TO_WRITE] = 10000;
        cfg.timeout_ms[C1M_TO_IDLE] = 10000;
        cfg.timeout_ms[C1M_TO_HEADER] = 10000;
    }
    if (c1m_loop_init(&r->loop, id, &cfg, &nop) < 0)
        return -1;
    r->conns = calloc((size_t)r->n, sizeof *r->conns);
    r->peers = calloc((size_t)r->n, sizeof *r->peers);
    for (int i = 0; i < r->n; i++) {
        int sv[2];
        if (socketpair(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK, 0, sv) < 0)
            return -1;
        r->conns[i] = c1m_loop_adopt(&r->loop, sv[0], &nop);
        r->peers[i] = sv[1];
        if (!r->conns[i])
            return -1;
    }
    return 0;
}

static void teardown(run_t *r)
{
    c1m_loop_destroy(&r->loop);
    for (int i = 0; i < r->n; i++)
        close(r->peers[i]);
    free(r->conns);
    free(r->peers);
}

static void *work(void *arg)
{
    run_t *r = arg;
    c1m_loop_t *loop = &r->loop;
    uint64_t t0 = c1m_now_ns();
    long reqs = 0;
    for (int k = 0; k < r->rounds; k++)
        for (int i = 0; i < r->n; i++) {
            c1m_conn_t *c = r->conns[i];
            c1m_conn_timeout_arm(c, C1M_TO_READ); /* engine: bytes arrived */
            c1m_conn_request_begin(c);            /* echo: a request ... */
            c1m_conn_request_header_done(c);
            c1m_conn_request_end(c);              /* ... answered */
            c1m_conn_timeout_arm(c, C1M_TO_IDLE); /* engine: nothing in progress */
            if ((++reqs & 63) == 0) {             /* a loop iteration */
                loop->now_ms++;
                c1m__timeouts_run(loop);
            }
        }
    r->ns_per_req = (double)(c1m_now_ns() - t0) / (double)reqs;
    return NULL;
}

int main(int argc, char **argv)
{
    int n = 4000, rounds = 100;
    for (int i = 1; i + 1 < argc; i += 2) {
        if (!strcmp(argv[i], "-n"))
            n = atoi(argv[i + 1]);
        else if (!strcmp(argv[i], "-r"))
            rounds = atoi(argv[i + 1]);
    }
    struct { const char *name; c1m_timers_mode_t mode; bool on; int threads; } cases[] = {
        { "off", C1M_TIMERS_WHEEL, false, 1 },
        { "wheel", C1M_TIMERS_WHEEL, true, 1 },
        { "heap", C1M_TIMERS_HEAP, true, 1 },
        { "global-heap", C1M_TIMERS_GLOBAL_HEAP, true, 1 },
        { "global-heap x2", C1M_TIMERS_GLOBAL_HEAP, true, 2 },
    };
    printf("# %d connections per loop, %d requests each; 5 timeout calls per request\n", n,
           rounds);
    for (size_t k = 0; k < sizeof cases / sizeof cases[0]; k++) {
        run_t runs[2];
        memset(runs, 0, sizeof runs);
        c1m_gtimers_t g;
        bool global = cases[k].mode == C1M_TIMERS_GLOBAL_HEAP;
        if (global && c1m_gtimers_init(&g, 2) < 0)
            return 1;
        for (int t = 0; t < cases[k].threads; t++) {
            runs[t].n = n;
            runs[t].rounds = rounds;
            if (setup(&runs[t], (uint32_t)t, cases[k].mode, cases[k].on, global ? &g : NULL) < 0) {
                perror("setup");
                return 1;
            }
        }
        uint64_t ins0 = runs[0].loop.stats.timer_inserts;
        pthread_t th[2];
        for (int t = 0; t < cases[k].threads; t++)
            pthread_create(&th[t], NULL, work, &runs[t]);
        for (int t = 0; t < cases[k].threads; t++)
            pthread_join(th[t], NULL);
        double worst = 0;
        for (int t = 0; t < cases[k].threads; t++)
            worst = runs[t].ns_per_req > worst ? runs[t].ns_per_req : worst;
        printf("%-15s %7.1f ns/request  structure ops/request %.2f  lazy stores/request %.2f\n",
               cases[k].name, worst,
               (double)(runs[0].loop.stats.timer_inserts - ins0) / ((double)n * rounds),
               (double)runs[0].loop.stats.timer_lazy / ((double)n * rounds));
        for (int t = 0; t < cases[k].threads; t++)
            teardown(&runs[t]);
        if (global)
            c1m_gtimers_destroy(&g);
    }
    return 0;
}
