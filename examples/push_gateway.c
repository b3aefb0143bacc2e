/* push_gateway: thousands of connections, one line pushed to all of them
 * every second.
 *
 * Clients connect and listen. Once a second a timer on each loop writes
 * "tick N conns=M\n" to every connection of that loop. A client must send
 * something (any bytes, say "ping\n") at least every IDLE_MS, or the
 * engine's IDLE timeout closes it: silent or vanished peers do not pile up.
 *
 * The server runs LOOPS loop threads ("dispatch": an acceptor hands each
 * new connection to one of them). Each loop keeps its own connections and
 * its own timer, so a broadcast touches one thread's data and takes no
 * lock. A loop's state (struct hub) is created by the first connection
 * that opens on it and freed when the last one closes, both on that loop's
 * thread.
 *
 *   cc push_gateway.c $(pkg-config --cflags --libs c1m) -o push_gateway
 *   ./push_gateway [PORT [LOOPS [IDLE_MS]]]     (defaults: 0, 2, 10000)
 */
#include <c1m/c1m.h>

#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>

struct hub {                 /* one per loop, reached with c1m_loop_user */
    c1m_loop_t *loop;
    c1m_timer_t *tick;
    uint64_t seq;            /* ticks sent by this loop */
    uint32_t conns;          /* connections open on this loop */
    bool in_tick;            /* the broadcast is running (see push_on_close) */
};

struct line {
    const char *p;
    size_t n;
};

static void push_one(c1m_conn_t *c, void *arg)
{
    const struct line *l = arg;
    /* A client that does not read: skip it rather than queue without
     * bound (its WRITE timeout closes it if it never reads again). */
    if (c1m_conn_over_high(c))
        return;
    (void)c1m_conn_write(c, l->p, l->n); /* copies; a failure closes c */
}

static void hub_free(struct hub *h)
{
    c1m_loop_timer_stop(h->loop, h->tick);
    c1m_timer_free(h->tick);
    c1m_loop_set_user(h->loop, NULL);
    free(h);
}

/* The timer callback: runs on the loop thread, so it may visit the loop's
 * connections and write to them. */
static void on_tick(c1m_timer_t *t)
{
    struct hub *h = c1m_timer_data(t);
    char buf[64];
    int n = snprintf(buf, sizeof buf, "tick %llu conns=%u\n",
                     (unsigned long long)++h->seq, h->conns);
    struct line l = { buf, (size_t)n };
    h->in_tick = true; /* a connection closed during the visit runs on_close now */
    c1m_loop_foreach_conn(h->loop, push_one, &l);
    h->in_tick = false;
    if (h->conns == 0) /* the last one closed during the broadcast */
        hub_free(h);
}

static int push_on_open(c1m_conn_t *c)
{
    c1m_loop_t *loop = c1m_conn_loop(c);
    struct hub *h = c1m_loop_user(loop);
    if (!h) { /* the first connection of this loop: start its timer */
        h = calloc(1, sizeof *h);
        if (!h)
            return -1; /* refuse the connection (on_close still runs) */
        h->loop = loop;
        h->tick = c1m_timer_new(on_tick, h);
        if (!h->tick) {
            free(h);
            return -1;
        }
        c1m_loop_timer_start(loop, h->tick, 1000, 1000); /* in 1 s, then every 1 s */
        c1m_loop_set_user(loop, h);
    }
    h->conns++;
    c1m_conn_set_ud(c, h); /* marks the connection as counted */
    return 0;
}

/* Anything a client sends only proves it is alive: the engine re-arms the
 * IDLE timeout on every read, so consuming the bytes is all there is. */
static ssize_t push_on_data(c1m_conn_t *c, const char *data, size_t len)
{
    (void)c, (void)data;
    return (ssize_t)len;
}

static void push_on_close(c1m_conn_t *c, int reason)
{
    (void)reason; /* c1m_close_reason_name(reason) says why, for a log */
    struct hub *h = c1m_conn_ud(c);
    if (!h) /* on_open refused it */
        return;
    if (--h->conns == 0 && !h->in_tick) /* inside on_tick: it frees the hub */
        hub_free(h);
}

static const c1m_proto_t push_proto = {
    .name = "push",
    .on_open = push_on_open,
    .on_data = push_on_data,
    .on_close = push_on_close,
};

int main(int argc, char **argv)
{
    c1m_log_set_handler(c1m_log_stderr, NULL, C1M_LOG_WARN);

    c1m_server_cfg_t cfg;
    c1m_server_cfg_defaults(&cfg);
    cfg.proto = &push_proto;
    cfg.bind = "127.0.0.1";
    cfg.port = argc > 1 ? (uint16_t)atoi(argv[1]) : 0;
    cfg.arch = C1M_ARCH_DISPATCH;
    cfg.loops = argc > 2 ? (uint32_t)atoi(argv[2]) : 2;
    cfg.loop.timeout_ms[C1M_TO_IDLE] = argc > 3 ? (uint32_t)atoi(argv[3]) : 10000;
    cfg.loop.timeout_ms[C1M_TO_WRITE] = 30000; /* output stuck this long: close */

    /* Bad arguments get a sentence, not a crash. */
    char err[256] = "";
    if (c1m_server_cfg_check(&cfg, err, sizeof err) < 0) {
        fprintf(stderr, "push_gateway: %s\n", err);
        return 2;
    }

    sigset_t stop; /* the program's signals: blocked in every thread */
    sigemptyset(&stop);
    sigaddset(&stop, SIGINT);
    sigaddset(&stop, SIGTERM);
    pthread_sigmask(SIG_BLOCK, &stop, NULL);

    c1m_server_t *srv;
    int rc = c1m_server_start(&srv, &cfg, err, sizeof err);
    if (rc < 0) {
        fprintf(stderr, "push_gateway: %s\n", err[0] ? err : c1m_strerror(rc));
        return 1;
    }
    printf("push_gateway: listening on port %u, %u loops, idle timeout %u ms\n",
           (unsigned)c1m_server_port(srv), cfg.loops, cfg.loop.timeout_ms[C1M_TO_IDLE]);
    fflush(stdout);

    int sig;
    sigwait(&stop, &sig);

    c1m_loop_stats_t st;
    c1m_server_stats(srv, &st); /* summed over the loops */
    printf("push_gateway: accepted=%llu closed_idle=%llu bytes_out=%llu\n",
           (unsigned long long)st.accepted,
           (unsigned long long)st.close_reasons[C1M_CLOSE_TIMEOUT_IDLE],
           (unsigned long long)st.bytes_out);
    return c1m_server_stop(srv) < 0 ? 1 : 0;
}
