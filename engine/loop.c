/* The event loop. Reads top to bottom: set-up, the run loop, then the
 * handlers it dispatches to (listener, queue, connection read/write), then
 * the connection slab and close bookkeeping.
 *
 * Level-triggered (default): one read per readiness event per connection
 * (fairness between connections), EPOLLOUT registered only while output is
 * pending. Edge-triggered: every socket is registered once for
 * IN|OUT|RDHUP|ET and is read until EAGAIN. */
#include "engine/loop.h"

#include <errno.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <pthread.h>
#include <sched.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <unistd.h>

#include "core/clock.h"
#include "core/common.h"
#include "core/log.h"
#include "engine/listener.h"
#include "engine/timeouts.h"
#include "engine/workers.h"

#define C1M_EVENTS_MAX 512
#define C1M_SLAB_CHUNK 1024
#define C1M_ACCEPT_BACKOFF_MS 100

static void handle_listener(c1m_loop_t *loop, c1m_listener_t *l);
static void handle_conn(c1m_loop_t *loop, c1m_conn_t *c, uint32_t ev);
static void conn_read(c1m_conn_t *c);
static void conn_flush(c1m_conn_t *c);
static void conn_release_all(c1m_loop_t *loop);
static void accept_resume(c1m_loop_t *loop);
static void begin_drain(c1m_loop_t *loop);

void c1m_loop_cfg_defaults(c1m_loop_cfg_t *cfg)
{
    *cfg = (c1m_loop_cfg_t){
        .edge_triggered = false,
        .max_conns = 0,
        .out_high = 256 * 1024,
        .out_low = 64 * 1024,
        .in_max = 16 * 1024 * 1024,
        .accept_batch = 64,
        .rbuf_size = 64 * 1024,
        .drain_ms = 5000,
    };
}

int c1m_loop_init(c1m_loop_t *loop, uint32_t id, const c1m_loop_cfg_t *cfg,
                  const c1m_proto_t *proto)
{
    memset(loop, 0, sizeof *loop);
    loop->id = id;
    loop->cfg = *cfg;
    loop->proto = proto;
    loop->on_accept = NULL;
    loop->now_ms = c1m_now_ms();
    loop->epfd = epoll_create1(EPOLL_CLOEXEC);
    if (loop->epfd < 0)
        return -errno;
    int rc = c1m_queue_init(&loop->queue);
    if (rc < 0)
        goto err;
    loop->queue_io = (c1m_io_t){ .fd = loop->queue.efd, .kind = C1M_IO_QUEUE };
    struct epoll_event ev = { .events = EPOLLIN, .data.ptr = &loop->queue_io };
    if (epoll_ctl(loop->epfd, EPOLL_CTL_ADD, loop->queue.efd, &ev) < 0) {
        rc = -errno;
        c1m_queue_destroy(&loop->queue);
        goto err;
    }
    loop->rbuf = malloc(cfg->rbuf_size);
    if (!loop->rbuf) {
        rc = -ENOMEM;
        c1m_queue_destroy(&loop->queue);
        goto err;
    }
    rc = c1m__timeouts_loop_init(loop);
    if (rc < 0) {
        free(loop->rbuf);
        loop->rbuf = NULL;
        c1m_queue_destroy(&loop->queue);
        goto err;
    }
    return 0;
err:
    close(loop->epfd);
    loop->epfd = -1;
    return rc;
}

static void job_free(c1m_job_t *job)
{
    c1m_buf_free(&job->in);
    c1m_buf_free(&job->out);
    free(job);
}

void c1m_loop_destroy(c1m_loop_t *loop)
{
    conn_release_all(loop);
    while (loop->job_pool) {
        c1m_job_t *job = loop->job_pool;
        loop->job_pool = job->next;
        job_free(job);
    }
    loop->job_pool_n = 0;
    c1m__timeouts_loop_destroy(loop);
    for (uint32_t i = 0; i < loop->nchunks; i++)
        free(loop->chunks[i]);
    free(loop->chunks);
    free(loop->rbuf);
    c1m_queue_destroy(&loop->queue);
    if (loop->epfd >= 0)
        close(loop->epfd);
    loop->epfd = -1;
    loop->chunks = NULL;
    loop->nchunks = 0;
}

/* ---- the run loop ---------------------------------------------------- */

static int next_timeout_ms(c1m_loop_t *loop)
{
    int64_t t = -1;
    uint64_t now = loop->now_ms;
#define C1M_CONSIDER(at)                                                   \
    do {                                                                   \
        uint64_t at_ = (at);                                               \
        if (at_) {                                                         \
            int64_t d = at_ > now ? (int64_t)(at_ - now) : 0;              \
            if (t < 0 || d < t)                                            \
                t = d;                                                     \
        }                                                                  \
    } while (0)
    C1M_CONSIDER(loop->accept_resume_ms);
    C1M_CONSIDER(loop->on_tick ? loop->next_tick_ms : 0);
    C1M_CONSIDER(loop->stopping ? loop->drain_deadline_ms : 0);
#undef C1M_CONSIDER
    int tt = c1m__timeouts_next_ms(loop); /* connection deadlines, user timers */
    if (tt >= 0 && (t < 0 || tt < t))
        t = tt;
    return t > 1000000 ? 1000000 : (int)t;
}

static void run_timers(c1m_loop_t *loop)
{
    uint64_t now = loop->now_ms;
    if (loop->accept_resume_ms && now >= loop->accept_resume_ms)
        accept_resume(loop);
    if (loop->on_tick && now >= loop->next_tick_ms) {
        loop->next_tick_ms = now + loop->tick_ms;
        loop->on_tick(loop);
    }
    c1m__timeouts_run(loop);
}

void c1m_loop_timer_start(c1m_loop_t *loop, c1m_timer_t *t, uint64_t delay_ms,
                          uint64_t period_ms)
{
    c1m_timer_start_at(&loop->timers, t, loop->now_ms + delay_ms, period_ms);
}

void c1m_loop_timer_stop(c1m_loop_t *loop, c1m_timer_t *t)
{
    c1m_timer_stop(&loop->timers, t);
}

/* Close what failed during this iteration, then recycle what was closed:
 * a closed connection's memory stays valid (and marked CLOSED) until every
 * event of the batch that might still name it has been skipped. */
static void submit_batch(c1m_loop_t *loop)
{
    if (!loop->batch_n)
        return;
    /* The loop is the only producer and try_submit counted the batch
     * against the free room, so this fits; if it ever did not, the jobs
     * stay batched and go at the next iteration (a worker's result wakes
     * the loop). */
    if (c1m_workers_submit_batch(loop->workers, loop->batch_head, loop->batch_tail,
                                 loop->batch_n) < 0)
        return;
    loop->batch_head = loop->batch_tail = NULL;
    loop->batch_n = 0;
}

static void end_of_iteration(c1m_loop_t *loop)
{
    submit_batch(loop);
    while (loop->pending_close) {
        c1m_conn_t *c = loop->pending_close;
        loop->pending_close = c->next;
        c->next = NULL;
        c->flags &= (uint16_t)~C1M_CONN_ERROR;
        c1m_conn_close(c, c->close_reason);
    }
    while (loop->released) {
        c1m_conn_t *c = loop->released;
        loop->released = c->next;
        c->next = loop->free_list;
        loop->free_list = c;
    }
}

static bool drained(c1m_loop_t *loop)
{
    return loop->stats.conns == 0 && loop->jobs_in_flight == 0;
}

int c1m_loop_run_once(c1m_loop_t *loop, int timeout_ms)
{
    struct epoll_event events[C1M_EVENTS_MAX];
    int t = next_timeout_ms(loop);
    if (timeout_ms >= 0 && (t < 0 || timeout_ms < t))
        t = timeout_ms;
    int n = epoll_wait(loop->epfd, events, C1M_EVENTS_MAX, t);
    loop->now_ms = c1m_now_ms();
    if (n < 0) {
        if (errno == EINTR)
            return 0;
        c1m_error("loop %u: epoll_wait: %s", loop->id, strerror(errno));
        return -errno;
    }
    for (int i = 0; i < n; i++) {
        c1m_io_t *io = events[i].data.ptr;
        switch (io->kind) {
        case C1M_IO_CONN:
            handle_conn(loop, (c1m_conn_t *)io, events[i].events);
            break;
        case C1M_IO_LISTENER:
            handle_listener(loop, (c1m_listener_t *)io);
            break;
        case C1M_IO_QUEUE:
            c1m_queue_run(&loop->queue, loop);
            break;
        }
        if (loop->workers && (i & (C1M_WORKER_BATCH - 1)) == C1M_WORKER_BATCH - 1) {
            /* Hand off every few events and take back what the workers
             * finished, so a reply is sent while its socket is still hot
             * in the cache rather than after a whole epoll batch. */
            submit_batch(loop);
            if (c1m_queue_pending(&loop->queue))
                c1m_queue_drain(&loop->queue, loop);
        }
    }
    run_timers(loop);
    end_of_iteration(loop);
    return n;
}

/* Pin the calling thread to CPU (loop id + pid) mod ncpu, among the CPUs
 * it may use: the loops of one process get distinct CPUs, prefork children
 * are spread by pid. Worker threads stay unpinned. */
static void pin_thread(const c1m_loop_t *loop)
{
    cpu_set_t all;
    if (sched_getaffinity(0, sizeof all, &all) < 0)
        return;
    int n = CPU_COUNT(&all);
    if (n <= 1)
        return;
    int want = (int)((loop->id + (unsigned)getpid()) % (unsigned)n), seen = 0;
    for (int cpu = 0; cpu < CPU_SETSIZE; cpu++) {
        if (!CPU_ISSET(cpu, &all) || seen++ != want)
            continue;
        cpu_set_t one;
        CPU_ZERO(&one);
        CPU_SET(cpu, &one);
        int rc = pthread_setaffinity_np(pthread_self(), sizeof one, &one);
        if (rc)
            c1m_warn("loop %u: cannot pin to CPU %d: %s", loop->id, cpu, strerror(rc));
        return;
    }
}

int c1m_loop_run(c1m_loop_t *loop)
{
    if (loop->cfg.pin_cpu)
        pin_thread(loop);
    loop->now_ms = c1m_now_ms();
    loop->next_tick_ms = loop->now_ms + loop->tick_ms;
    for (;;) {
        if (loop->stopping && (drained(loop) || loop->now_ms >= loop->drain_deadline_ms))
            break;
        int rc = c1m_loop_run_once(loop, -1);
        if (rc < 0)
            return rc;
    }
    /* Drained (or the drain deadline passed): close what is left. Jobs
     * batched but not yet handed to a worker are dropped with them. */
    while (loop->batch_head) {
        c1m_job_t *job = loop->batch_head;
        loop->batch_head = job->next;
        job_free(job);
        loop->jobs_in_flight--;
    }
    loop->batch_tail = NULL;
    loop->batch_n = 0;
    conn_release_all(loop);
    end_of_iteration(loop);
    loop->stopped = true;
    return 0;
}

static void *loop_thread_main(void *arg)
{
    c1m_loop_t *loop = arg;
    intptr_t rc = c1m_loop_run(loop);
    return (void *)rc;
}

int c1m_loop_start_thread(c1m_loop_t *loop)
{
    return -pthread_create(&loop->thread, NULL, loop_thread_main, loop);
}

int c1m_loop_join(c1m_loop_t *loop)
{
    void *rv = NULL;
    int rc = pthread_join(loop->thread, &rv);
    return rc ? -rc : (int)(intptr_t)rv;
}

int c1m_loop_post(c1m_loop_t *loop, c1m_msg_fn fn, void *arg, uint64_t u)
{
    return c1m_queue_push(&loop->queue, fn, arg, u);
}

static void stop_msg(c1m_loop_t *loop, void *arg, uint64_t u)
{
    begin_drain(loop);
}

int c1m_loop_stop(c1m_loop_t *loop)
{
    return c1m_loop_post(loop, stop_msg, NULL, 0);
}

/* ---- listeners ------------------------------------------------------- */

static int listener_register(c1m_loop_t *loop, c1m_listener_t *l)
{
    struct epoll_event ev = { .events = EPOLLIN | (l->exclusive ? EPOLLEXCLUSIVE : 0),
                              .data.ptr = l };
    if (epoll_ctl(loop->epfd, EPOLL_CTL_ADD, l->io.fd, &ev) < 0)
        return -errno;
    l->registered = true;
    return 0;
}

static void listener_unregister(c1m_loop_t *loop, c1m_listener_t *l)
{
    /* EPOLLEXCLUSIVE registrations cannot be modified: remove and re-add. */
    if (l->registered)
        epoll_ctl(loop->epfd, EPOLL_CTL_DEL, l->io.fd, NULL);
    l->registered = false;
}

int c1m_loop_add_listener(c1m_loop_t *loop, c1m_listener_t *l)
{
    if (loop->nlisteners == C1M_LOOP_MAX_LISTENERS)
        return -ENOSPC;
    l->io.kind = C1M_IO_LISTENER;
    int rc = listener_register(loop, l);
    if (rc == 0)
        loop->listeners[loop->nlisteners++] = l;
    return rc;
}

static void accept_pause(c1m_loop_t *loop, uint64_t resume_ms)
{
    for (uint32_t i = 0; i < loop->nlisteners; i++)
        listener_unregister(loop, loop->listeners[i]);
    loop->accept_resume_ms = resume_ms;
    loop->stats.accept_pauses++;
}

static void accept_resume(c1m_loop_t *loop)
{
    loop->accept_resume_ms = 0;
    loop->accept_full = false;
    if (loop->stopping)
        return;
    for (uint32_t i = 0; i < loop->nlisteners; i++)
        if (!loop->listeners[i]->registered)
            listener_register(loop, loop->listeners[i]);
}

static void handle_listener(c1m_loop_t *loop, c1m_listener_t *l)
{
    for (uint32_t i = 0; i < loop->cfg.accept_batch && l->registered; i++) {
        if (loop->cfg.max_conns && loop->stats.conns >= loop->cfg.max_conns) {
            /* Full: stop accepting until a connection closes (the backlog
             * holds the rest). Re-checked every second as a safety net. */
            if (!loop->full_logged) /* once per loop: it may recur every second */
                c1m_warn("loop %u: holding %u connections, its share of this process's "
                         "open-file budget (or of --max-conns): not accepting more until "
                         "some close; more processes (--procs) hold more",
                         loop->id, loop->cfg.max_conns);
            loop->full_logged = true;
            loop->accept_full = true;
            accept_pause(loop, loop->now_ms + 1000);
            return;
        }
        int fd = accept4(l->io.fd, NULL, NULL, SOCK_NONBLOCK | SOCK_CLOEXEC);
        if (fd < 0) {
            switch (errno) {
            case EAGAIN:
                return;
            case EINTR:
            case ECONNABORTED:
            case EPROTO:
                continue;
            case EINVAL: /* no longer listening: shut down by its owner */
                listener_unregister(loop, l);
                return;
            case EMFILE:
            case ENFILE:
            case ENOBUFS:
            case ENOMEM:
                /* Out of descriptors or memory: back off instead of spinning
                 * on a listener that stays readable. Logged once per loop. */
                if (!loop->emfile_logged)
                    c1m_warn("loop %u: accept: %s: pausing accepts for %d ms "
                             "(this process reached its open-file limit, RLIMIT_NOFILE; "
                             "use more processes, --procs)",
                             loop->id, strerror(errno), C1M_ACCEPT_BACKOFF_MS);
                loop->emfile_logged = true;
                loop->stats.accept_errors++;
                accept_pause(loop, loop->now_ms + C1M_ACCEPT_BACKOFF_MS);
                return;
            default:
                loop->stats.accept_errors++;
                c1m_warn("loop %u: accept: %s", loop->id, strerror(errno));
                return;
            }
        }
        loop->stats.accepted++;
        if (loop->on_accept)
            loop->on_accept(loop, fd);
        else
            c1m_loop_adopt(loop, fd, loop->proto, 0);
    }
}

/* ---- connections: registration --------------------------------------- */

static c1m_conn_t *conn_alloc(c1m_loop_t *loop)
{
    if (!loop->free_list) {
        c1m_conn_t **chunks = realloc(loop->chunks, (loop->nchunks + 1) * sizeof *chunks);
        if (!chunks)
            return NULL;
        loop->chunks = chunks;
        c1m_conn_t *chunk = calloc(C1M_SLAB_CHUNK, sizeof *chunk);
        if (!chunk)
            return NULL;
        loop->chunks[loop->nchunks] = chunk;
        for (uint32_t i = C1M_SLAB_CHUNK; i-- > 0;) {
            chunk[i].io.fd = -1;
            chunk[i].flags = C1M_CONN_CLOSED;
            chunk[i].slot = loop->nchunks * C1M_SLAB_CHUNK + i;
            chunk[i].next = loop->free_list;
            loop->free_list = &chunk[i];
        }
        c1m__timeouts_slots_added(loop, chunk, C1M_SLAB_CHUNK);
        loop->nchunks++;
    }
    c1m_conn_t *c = loop->free_list;
    loop->free_list = c->next;
    uint32_t slot = c->slot;
    c1m_conn_timer_t tmo = c->tmo; /* set up once per slot (engine/timeouts.c) */
    memset(c, 0, sizeof *c);
    c->slot = slot;
    c->tmo = tmo;
    c->loop = loop;
    c->io.kind = C1M_IO_CONN;
    return c;
}

static int conn_epoll(c1m_conn_t *c, int op)
{
    c1m_loop_t *loop = c->loop;
    struct epoll_event ev = { .data.ptr = c };
    if (loop->cfg.edge_triggered) {
        ev.events = EPOLLIN | EPOLLOUT | EPOLLRDHUP | EPOLLET;
    } else {
        if (!(c->flags & C1M_CONN_NO_READ))
            ev.events |= EPOLLIN;
        if (c->flags & (C1M_CONN_WANT_OUT | C1M_CONN_CONNECTING))
            ev.events |= EPOLLOUT;
    }
    return epoll_ctl(loop->epfd, op, c->io.fd, &ev) < 0 ? -errno : 0;
}

/* Level-triggered: keep the registered set equal to what we want. */
static void conn_want(c1m_conn_t *c, bool read, bool write)
{
    if (c->loop->cfg.edge_triggered || !c1m_conn_is_open(c))
        return;
    uint16_t old = c->flags;
    c->flags = (uint16_t)((c->flags & ~(C1M_CONN_NO_READ | C1M_CONN_WANT_OUT)) |
                          (read ? 0 : C1M_CONN_NO_READ) | (write ? C1M_CONN_WANT_OUT : 0));
    if (old != c->flags && conn_epoll(c, EPOLL_CTL_MOD) < 0) {
        c->close_reason = C1M_CLOSE_ERROR;
        c->flags |= C1M_CONN_ERROR;
        c->next = c->loop->pending_close;
        c->loop->pending_close = c;
    }
}

static bool conn_may_read(const c1m_conn_t *c)
{
    return !(c->flags & (C1M_CONN_CLOSED | C1M_CONN_ERROR | C1M_CONN_CLOSING | C1M_CONN_PAUSED |
                         C1M_CONN_BUSY | C1M_CONN_WAITING | C1M_CONN_EOF));
}

static void conn_update_interest(c1m_conn_t *c)
{
    conn_want(c, conn_may_read(c), c1m_buf_size(c->out) > 0);
}

c1m_conn_t *c1m_loop_adopt(c1m_loop_t *loop, int fd, const c1m_proto_t *proto, uint16_t flags)
{
    c1m_conn_t *c = conn_alloc(loop);
    if (!c) {
        close(fd);
        loop->stats.accept_errors++;
        return NULL;
    }
    int one = 1;
    setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
    c->io.fd = fd;
    c->proto = proto;
    c->flags = flags;
    if (conn_epoll(c, EPOLL_CTL_ADD) < 0) {
        close(fd);
        c->io.fd = -1;
        c->flags = C1M_CONN_CLOSED;
        c->next = loop->released;
        loop->released = c;
        loop->stats.accept_errors++;
        return NULL;
    }
    loop->stats.conns++;
    c1m__timeouts_open(c);
    if (flags & C1M_CONN_CONNECTING)
        return c;
    if (proto->on_open && proto->on_open(c) < 0)
        c1m_conn_close(c, C1M_CLOSE_LOCAL);
    else
        c1m__timeouts_opened(c);
    return c;
}

c1m_conn_t *c1m_loop_connect(c1m_loop_t *loop, const struct sockaddr *src,
                             const struct sockaddr *dst, unsigned addrlen,
                             const c1m_proto_t *proto, void *ud)
{
    int fd = socket(dst->sa_family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
    if (fd < 0)
        return NULL;
    if (src) {
        int one = 1;
        setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
        if (bind(fd, src, addrlen) < 0) {
            int e = errno;
            close(fd);
            errno = e;
            return NULL;
        }
    }
    int rc = connect(fd, dst, addrlen);
    if (rc < 0 && errno != EINPROGRESS) {
        int e = errno;
        close(fd);
        errno = e;
        return NULL;
    }
    c1m_conn_t *c = c1m_loop_adopt(loop, fd, proto, C1M_CONN_CLIENT | C1M_CONN_CONNECTING);
    if (!c) {
        errno = ENOMEM;
        return NULL;
    }
    c->ud = ud;
    return c;
}

static void connect_done(c1m_conn_t *c)
{
    int err = 0;
    socklen_t len = sizeof err;
    if (getsockopt(c->io.fd, SOL_SOCKET, SO_ERROR, &err, &len) < 0)
        err = errno;
    if (err) {
        c->flags &= (uint16_t)~C1M_CONN_CONNECTING;
        errno = err; /* on_close(C1M_CLOSE_CONNECT) may read why (loop.h) */
        c1m_conn_close(c, C1M_CLOSE_CONNECT);
        return;
    }
    c->flags &= (uint16_t)~C1M_CONN_CONNECTING;
    c->loop->stats.connected++;
    /* EPOLLOUT was registered for the connect and must go (level-triggered,
     * a writable socket would be reported on every wait); conn_want only
     * re-registers on a change of the flags, so mark it wanted first. */
    c->flags |= C1M_CONN_WANT_OUT;
    conn_update_interest(c);
    if (c->proto->on_open && c->proto->on_open(c) < 0)
        c1m_conn_close(c, C1M_CLOSE_LOCAL);
    else
        c1m__timeouts_opened(c);
}

/* ---- connections: events --------------------------------------------- */

static void handle_conn(c1m_loop_t *loop, c1m_conn_t *c, uint32_t ev)
{
    if (c->flags & (C1M_CONN_CLOSED | C1M_CONN_ERROR))
        return; /* closed earlier in this batch, or failed: handled at the end */
    if (c->flags & C1M_CONN_CONNECTING) {
        if (ev & (EPOLLOUT | EPOLLERR | EPOLLHUP))
            connect_done(c);
        return;
    }
    if (c->flags & (C1M_CONN_BUSY | C1M_CONN_WAITING)) {
        /* A worker holds it (or it waits for one); EPOLLERR/EPOLLHUP are
         * reported whatever the mask, so take it out of the set and close
         * it when the job returns. */
        if (ev & (EPOLLERR | EPOLLHUP)) {
            epoll_ctl(loop->epfd, EPOLL_CTL_DEL, c->io.fd, NULL);
            c->flags |= C1M_CONN_DEAD;
        } else {
            /* Interest is dropped lazily, only when an event shows up
             * while the worker holds it (a closed-loop client sends
             * nothing then): no epoll_ctl pair per job. Both directions:
             * pending output is not flushed while busy either, so a
             * registered EPOLLOUT would only repeat. The job's return
             * restores what is wanted. */
            conn_want(c, false, false);
        }
        return;
    }
    if ((ev & EPOLLOUT) && c->out)
        conn_flush(c);
    if (!c1m_conn_is_open(c))
        return;
    if (ev & (EPOLLERR | EPOLLHUP)) {
        /* Let read() report the error (or the last bytes and EOF) unless
         * reading is paused, in which case nothing more can be done. */
        if (!conn_may_read(c)) {
            int err = 0;
            socklen_t len = sizeof err;
            getsockopt(c->io.fd, SOL_SOCKET, SO_ERROR, &err, &len);
            c1m_conn_close(c, err == ECONNRESET || err == EPIPE || !err ? C1M_CLOSE_RESET
                                                                       : C1M_CLOSE_ERROR);
            return;
        }
    }
    if (ev & (EPOLLIN | EPOLLERR | EPOLLHUP | EPOLLRDHUP))
        conn_read(c);
}

/* Hand bytes to the protocol, or to a worker. */
static void conn_deliver(c1m_conn_t *c, const char *data, size_t n);

static void conn_read(c1m_conn_t *c)
{
    c1m_loop_t *loop = c->loop;
    while (conn_may_read(c)) {
        ssize_t n = read(c->io.fd, loop->rbuf, loop->cfg.rbuf_size);
        if (n > 0) {
            loop->stats.bytes_in += (uint64_t)n;
            bool autot = !(c->proto->flags & C1M_PROTO_MANUAL_TIMEOUTS);
            if (autot) /* progress on reading */
                c1m_conn_timeout_arm(c, C1M_TO_READ);
            conn_deliver(c, loop->rbuf, (size_t)n);
            /* no request left in progress: the idle timeout runs (a worker
             * holding the connection is a request in progress) */
            if (autot && c1m_conn_is_open(c)) {
                if (c->flags & (C1M_CONN_BUSY | C1M_CONN_WAITING))
                    c1m_conn_timeout_clear(c, C1M_TO_IDLE);
                else if (!(c->flags & C1M_CONN_IN_REQ))
                    c1m_conn_timeout_arm(c, C1M_TO_IDLE);
            }
            if (!loop->cfg.edge_triggered)
                return; /* one read per event: fairness */
            continue;
        }
        if (n == 0) {
            /* Peer half-closed: finish sending what is pending, then close. */
            c->flags |= C1M_CONN_EOF;
            if (c1m_buf_size(c->out) || (c->flags & (C1M_CONN_BUSY | C1M_CONN_WAITING))) {
                c->flags |= C1M_CONN_CLOSING;
                c->close_reason = C1M_CLOSE_PEER;
                conn_update_interest(c);
            } else {
                c1m_conn_close(c, C1M_CLOSE_PEER);
            }
            return;
        }
        if (errno == EAGAIN)
            return;
        if (errno == EINTR)
            continue;
        c1m_conn_close(c, errno == ECONNRESET ? C1M_CLOSE_RESET : C1M_CLOSE_ERROR);
        return;
    }
}

static void submit_job(c1m_conn_t *c);

static void conn_deliver(c1m_conn_t *c, const char *data, size_t n)
{
    c1m_loop_t *loop = c->loop;
    if (loop->workers || c->in) {
        if (!c->in && loop->job_pool && loop->job_pool->in) {
            c->in = loop->job_pool->in; /* a pooled job's emptied buffer */
            loop->job_pool->in = NULL;
        }
        if (c1m_buf_size(c->in) + n > loop->cfg.in_max ||
            c1m_buf_append(&c->in, data, n) < 0) {
            c1m_conn_close(c, C1M_CLOSE_NOMEM);
            return;
        }
        if (loop->workers) {
            submit_job(c);
            return;
        }
        data = c1m_buf_data(c->in);
        n = c1m_buf_size(c->in);
    }
    ssize_t used = c->proto->on_data(c, data, n);
    if (!c1m_conn_is_open(c))
        return;
    if (used < 0) {
        c1m_conn_close(c, C1M_CLOSE_PROTO);
        return;
    }
    if (c->in) {
        c1m_buf_consume(&c->in, (size_t)used);
    } else if ((size_t)used < n && c1m_buf_append(&c->in, data + used, n - (size_t)used) < 0) {
        c1m_conn_close(c, C1M_CLOSE_NOMEM);
    }
}

/* ---- connections: output --------------------------------------------- */

static void conn_fail(c1m_conn_t *c, int reason)
{
    if (c->flags & (C1M_CONN_ERROR | C1M_CONN_CLOSED))
        return;
    c->flags |= C1M_CONN_ERROR;
    c->close_reason = (uint8_t)reason;
    c->next = c->loop->pending_close;
    c->loop->pending_close = c;
}

static int write_errno_reason(int e)
{
    return e == EPIPE || e == ECONNRESET ? C1M_CLOSE_RESET : C1M_CLOSE_ERROR;
}

static void conn_flush(c1m_conn_t *c)
{
    c1m_loop_t *loop = c->loop;
    while (c->out) {
        ssize_t n = send(c->io.fd, c1m_buf_data(c->out), c1m_buf_size(c->out), MSG_NOSIGNAL);
        if (n < 0) {
            if (errno == EINTR)
                continue;
            if (errno == EAGAIN)
                break;
            conn_fail(c, write_errno_reason(errno));
            return;
        }
        loop->stats.bytes_out += (uint64_t)n;
        c1m_buf_consume(&c->out, (size_t)n);
    }
    size_t left = c1m_buf_size(c->out);
    if ((c->flags & C1M_CONN_PAUSED) && left <= loop->cfg.out_low) {
        c->flags &= (uint16_t)~C1M_CONN_PAUSED;
        conn_update_interest(c);
        if (loop->cfg.edge_triggered && conn_may_read(c))
            conn_read(c); /* no new edge will announce bytes already queued */
    }
    if (left)
        return;
    c1m_conn_timeout_clear(c, C1M_TO_WRITE); /* drained */
    if (c->flags & C1M_CONN_CLOSING) {
        c1m_conn_close(c, c->close_reason);
        return;
    }
    conn_update_interest(c);
    if (c->proto->on_drained && c1m_conn_is_open(c))
        c->proto->on_drained(c);
}

static void conn_queue_out(c1m_conn_t *c)
{
    c1m_loop_t *loop = c->loop;
    if (c1m_buf_size(c->out) > loop->cfg.out_high && !(c->flags & C1M_CONN_PAUSED)) {
        c->flags |= C1M_CONN_PAUSED;
        loop->stats.read_pauses++;
    }
    if (!c->tmo_deadline[C1M_TO_WRITE]) /* output became pending */
        c1m_conn_timeout_arm(c, C1M_TO_WRITE);
    conn_update_interest(c);
}

int c1m_conn_writev(c1m_conn_t *c, const struct iovec *iov, int iovcnt)
{
    c1m_job_t *job = c1m_workers_current();
    if (job && job->conn == c) { /* on a worker: collect, the loop sends */
        for (int i = 0; i < iovcnt; i++)
            if (c1m_buf_append(&job->out, iov[i].iov_base, iov[i].iov_len) < 0) {
                job->out_failed = true;
                return -ENOMEM;
            }
        return 0;
    }
    if (!c1m_conn_is_open(c))
        return -EPIPE;
    size_t total = 0;
    for (int i = 0; i < iovcnt; i++)
        total += iov[i].iov_len;
    size_t done = 0;
    if (!c->out && !(c->flags & C1M_CONN_CONNECTING)) {
        ssize_t n;
        /* send/sendmsg with MSG_NOSIGNAL: a gone peer is an error code,
         * never a process-wide SIGPIPE. */
        struct msghdr mh = { .msg_iov = (struct iovec *)iov, .msg_iovlen = (size_t)iovcnt };
        do
            n = iovcnt == 1 ? send(c->io.fd, iov[0].iov_base, iov[0].iov_len, MSG_NOSIGNAL)
                            : sendmsg(c->io.fd, &mh, MSG_NOSIGNAL);
        while (n < 0 && errno == EINTR);
        if (n < 0 && errno != EAGAIN) {
            int e = errno;
            conn_fail(c, write_errno_reason(e));
            return -e;
        }
        done = n > 0 ? (size_t)n : 0;
        c->loop->stats.bytes_out += done;
        if (done == total)
            return 0;
    }
    /* Queue what the kernel did not take. */
    size_t skip = done;
    for (int i = 0; i < iovcnt; i++) {
        if (skip >= iov[i].iov_len) {
            skip -= iov[i].iov_len;
            continue;
        }
        if (c1m_buf_append(&c->out, (const char *)iov[i].iov_base + skip,
                           iov[i].iov_len - skip) < 0) {
            conn_fail(c, C1M_CLOSE_NOMEM);
            return -ENOMEM;
        }
        skip = 0;
    }
    conn_queue_out(c);
    return 0;
}

int c1m_conn_write(c1m_conn_t *c, const void *p, size_t n)
{
    struct iovec iov = { .iov_base = (void *)p, .iov_len = n };
    return c1m_conn_writev(c, &iov, 1);
}

void c1m_conn_count(c1m_conn_t *c, uint32_t n)
{
    c1m_job_t *job = c1m_workers_current();
    if (job && job->conn == c)
        job->msgs += n;
    else
        c->loop->stats.msgs += n;
}

/* ---- connections: close and release ---------------------------------- */

void c1m_conn_close(c1m_conn_t *c, int reason)
{
    c1m_job_t *job = c1m_workers_current();
    if (job && job->conn == c) { /* on a worker: the loop closes it */
        job->close_reason = reason;
        return;
    }
    if (c->flags & C1M_CONN_CLOSED)
        return;
    if (c->flags & C1M_CONN_BUSY) { /* a worker holds it: close when it returns */
        c->flags |= C1M_CONN_DEAD;
        c->close_reason = (uint8_t)reason;
        return;
    }
    c1m_loop_t *loop = c->loop;
    if (c->flags & C1M_CONN_ERROR) { /* closing ahead of the pending list */
        reason = c->close_reason;
        c1m_conn_t **pp = &loop->pending_close;
        while (*pp && *pp != c)
            pp = &(*pp)->next;
        if (*pp)
            *pp = c->next;
    }
    bool was_waiting = c->flags & C1M_CONN_WAITING;
    c->flags = (uint16_t)((c->flags & C1M_CONN_WAITING) | C1M_CONN_CLOSED);
    close(c->io.fd); /* also removes it from the epoll set */
    c->io.fd = -1;
    c1m__timeouts_close(c);
    loop->stats.dropped_out += c1m_buf_size(c->out);
    c1m_buf_free(&c->in);
    c1m_buf_free(&c->out);
    loop->stats.conns--;
    loop->stats.closed++;
    if (reason >= 0 && reason < C1M_CLOSE__COUNT)
        loop->stats.close_reasons[reason]++;
    if (c->proto->on_close)
        c->proto->on_close(c, reason);
    c->ud = NULL;
    if (!was_waiting) { /* a waiting conn is released when it leaves the FIFO */
        c->next = loop->released;
        loop->released = c;
    }
    if (loop->accept_full)
        accept_resume(loop);
}

void c1m_conn_close_after_flush(c1m_conn_t *c, int reason)
{
    if (!c1m_conn_is_open(c))
        return;
    if (!c1m_buf_size(c->out) && !(c->flags & C1M_CONN_BUSY)) {
        c1m_conn_close(c, reason);
        return;
    }
    c->flags |= C1M_CONN_CLOSING;
    c->close_reason = (uint8_t)reason;
    conn_update_interest(c);
}

void c1m_loop_foreach_conn(c1m_loop_t *loop, void (*fn)(c1m_conn_t *c, void *arg), void *arg)
{
    for (uint32_t i = 0; i < loop->nchunks; i++)
        for (uint32_t j = 0; j < C1M_SLAB_CHUNK; j++) {
            c1m_conn_t *c = &loop->chunks[i][j];
            if (!(c->flags & C1M_CONN_CLOSED))
                fn(c, arg);
        }
}

static void close_shutdown(c1m_conn_t *c, void *arg)
{
    if (!(c->flags & C1M_CONN_BUSY))
        c1m_conn_close(c, C1M_CLOSE_SHUTDOWN);
}

static void conn_release_all(c1m_loop_t *loop)
{
    c1m_loop_foreach_conn(loop, close_shutdown, NULL);
}

/* Shutdown: stop accepting; answer what has already arrived; close each
 * connection once its output is flushed (or at the drain deadline). */
static void drain_conn(c1m_conn_t *c, void *arg)
{
    if (c->flags & (C1M_CONN_BUSY | C1M_CONN_WAITING | C1M_CONN_CONNECTING)) {
        c->flags |= C1M_CONN_CLOSING;
        c->close_reason = C1M_CLOSE_SHUTDOWN;
        return;
    }
    if (!c1m_conn_is_open(c))
        return;
    if (conn_may_read(c) && !c->loop->cfg.edge_triggered)
        conn_read(c); /* one last read: requests already received get answers */
    if (c1m_conn_is_open(c))
        c1m_conn_close_after_flush(c, C1M_CLOSE_SHUTDOWN);
}

static void begin_drain(c1m_loop_t *loop)
{
    if (loop->stopping)
        return;
    loop->stopping = true;
    loop->drain_deadline_ms = loop->now_ms + loop->cfg.drain_ms;
    for (uint32_t i = 0; i < loop->nlisteners; i++) {
        c1m_listener_t *l = loop->listeners[i];
        listener_unregister(loop, l);
        /* Refuse new connections now (an inherited listener is the prefork
         * parent's to stop: its siblings may still be serving). */
        if (l->owned)
            shutdown(l->io.fd, SHUT_RD);
    }
    loop->accept_resume_ms = 0;
    c1m_loop_foreach_conn(loop, drain_conn, NULL);
}

/* ---- workerpool hand-off --------------------------------------------- */

static void wait_push(c1m_loop_t *loop, c1m_conn_t *c)
{
    c->flags |= C1M_CONN_WAITING;
    c->next = NULL;
    if (loop->wait_tail)
        loop->wait_tail->next = c;
    else
        loop->wait_head = c;
    loop->wait_tail = c;
}

/* Hand c to a worker; false when the queue is full (nothing changed). */
static bool try_submit(c1m_conn_t *c)
{
    c1m_loop_t *loop = c->loop;
    if (c1m_workers_room(loop->workers) <= loop->batch_n)
        return false;
    c1m_job_t *job = loop->job_pool;
    c1m_buf_t *out = NULL;
    if (job) {
        loop->job_pool = job->next;
        loop->job_pool_n--;
        c1m_buf_free(&job->in);
        out = job->out; /* emptied: the handler writes without a malloc */
    } else if (!(job = malloc(sizeof *job))) {
        return false;
    }
    *job = (c1m_job_t){ .conn = c, .loop = loop, .in = c->in, .out = out, .close_reason = -1 };
    if (loop->batch_tail) /* submitted at the end of this iteration */
        loop->batch_tail->next = job;
    else
        loop->batch_head = job;
    loop->batch_tail = job;
    loop->batch_n++;
    c->in = NULL;
    c->flags |= C1M_CONN_BUSY; /* interest: see handle_conn */
    loop->jobs_in_flight++;
    return true;
}

static void submit_job(c1m_conn_t *c)
{
    /* Keep FIFO order behind those already waiting; when the queue is
     * full, park the connection and read no more of it (backpressure). */
    if (c->loop->wait_head || !try_submit(c))
        wait_push(c->loop, c); /* interest dropped lazily: see handle_conn */
}

static void pump_waiting(c1m_loop_t *loop)
{
    while (loop->wait_head) {
        c1m_conn_t *c = loop->wait_head;
        bool closed = c->flags & C1M_CONN_CLOSED;
        if (!closed && !(c->flags & C1M_CONN_DEAD)) {
            c->flags &= (uint16_t)~C1M_CONN_WAITING;
            if (!try_submit(c)) {
                c->flags |= C1M_CONN_WAITING;
                return;
            }
        }
        loop->wait_head = c->next;
        if (!loop->wait_head)
            loop->wait_tail = NULL;
        c->next = NULL;
        c->flags &= (uint16_t)~C1M_CONN_WAITING;
        if (closed) { /* closed while waiting: release it now */
            c->next = loop->released;
            loop->released = c;
        } else if (c->flags & C1M_CONN_DEAD) {
            c1m_conn_close(c, C1M_CLOSE_RESET);
        }
    }
}

/* Keep a finished job and its small buffers (emptied) for the next one. */
#define C1M_JOB_POOL_MAX 1024
#define C1M_JOB_BUF_KEEP 4096

static void job_keep_buf(c1m_buf_t **bp)
{
    if (*bp && (*bp)->cap > C1M_JOB_BUF_KEEP)
        c1m_buf_free(bp);
    else if (*bp)
        (*bp)->off = (*bp)->len = 0;
}

static void job_recycle(c1m_loop_t *loop, c1m_job_t *job)
{
    if (loop->job_pool_n >= C1M_JOB_POOL_MAX) {
        job_free(job);
        return;
    }
    job_keep_buf(&job->in);
    job_keep_buf(&job->out);
    job->next = loop->job_pool;
    loop->job_pool = job;
    loop->job_pool_n++;
}

static void job_done(c1m_loop_t *loop, c1m_job_t *job)
{
    c1m_conn_t *c = job->conn;
    loop->jobs_in_flight--;
    loop->stats.msgs += job->msgs;
    c->flags &= (uint16_t)~C1M_CONN_BUSY;
    bool dead = c->flags & C1M_CONN_DEAD;
    int reason = C1M_CLOSE_RESET;
    if (dead && c->close_reason)
        reason = c->close_reason;
    if (job->out_failed)
        dead = true, reason = C1M_CLOSE_NOMEM;
    if (!dead && c1m_buf_size(job->out))
        c1m_conn_write(c, c1m_buf_data(job->out), c1m_buf_size(job->out));
    if (!dead && job->consumed >= 0 && (size_t)job->consumed < c1m_buf_size(job->in)) {
        /* keep the unconsumed tail (a partial frame) for the next job */
        c1m_buf_consume(&job->in, (size_t)job->consumed);
        c->in = job->in;
        job->in = NULL;
    }
    ssize_t consumed = job->consumed;
    int close_reason = job->close_reason;
    job_recycle(loop, job);
    if (dead)
        c1m_conn_close(c, reason);
    else if (consumed < 0)
        c1m_conn_close(c, C1M_CLOSE_PROTO);
    else if (close_reason >= 0)
        c1m_conn_close(c, close_reason);
    else if (c->flags & C1M_CONN_CLOSING)
        c1m_conn_close_after_flush(c, c->close_reason);
    else if (c1m_conn_is_open(c)) {
        if (!(c->proto->flags & C1M_PROTO_MANUAL_TIMEOUTS))
            c1m_conn_timeout_arm(c, C1M_TO_IDLE); /* answered: idle from now */
        conn_update_interest(c);
        if (loop->cfg.edge_triggered)
            conn_read(c);
    }
}

void c1m__jobs_done(c1m_loop_t *loop, void *arg, uint64_t u)
{
    c1m_job_t *job = arg;
    for (uint64_t i = 0; i < u && job; i++) {
        c1m_job_t *next = job->next;
        job_done(loop, job);
        job = next;
    }
    pump_waiting(loop);
}

void c1m_loop_stats_add(c1m_loop_stats_t *sum, const c1m_loop_stats_t *s)
{
    const uint64_t *src = (const uint64_t *)s;
    uint64_t *dst = (uint64_t *)sum;
    for (size_t i = 0; i < sizeof *s / sizeof(uint64_t); i++)
        dst[i] += C1M_RELAXED_LOAD(&src[i]);
}
