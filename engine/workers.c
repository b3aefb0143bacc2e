/* The worker pool: threads and bounded queue first, then the layer above
 * the loop (hold, record, replay, release). See engine/workers.h. */
#include "engine/workers.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "core/common.h"
#include "core/log.h"
#include "engine/loop.h"
#include "engine/timeouts.h"

/* One recorded call. WRITE's bytes are the next `b` bytes of job->out. */
typedef struct rec {
    uint8_t op;
    int32_t a;
    uint32_t b;
} rec_t;

/* The loop side of the pool: one per loop it serves (loop thread only). */
struct c1m_pool_loop {
    c1m_workers_t *w;
    c1m_loop_t *loop;
    c1m_job_t *batch_head, *batch_tail; /* jobs of this batch, submitted together */
    uint32_t batch_n;
    c1m_job_t *wait_head, *wait_tail;   /* jobs waiting for room in the queue */
    uint32_t in_flight;                 /* submitted, not back yet */
    c1m_job_t *job_pool;                /* finished jobs kept for reuse, with */
    uint32_t job_pool_n;                /* their (small, emptied) buffers */
};

#define C1M_JOB_POOL_MAX 1024
#define C1M_JOB_BUF_KEEP 4096

/* ---- recording, on the worker thread ------------------------------------ */

typedef struct worker_rec {
    c1m_recorder_t r; /* first: the engine calls back with &r */
    c1m_job_t *job;
} worker_rec_t;

static int rec_add(c1m_job_t *job, c1m_rec_op_t op, int a, uint32_t b)
{
    rec_t e = { .op = (uint8_t)op, .a = a, .b = b };
    if (c1m_buf_append(&job->ops, &e, sizeof e) < 0) {
        job->failed = true;
        return -ENOMEM;
    }
    return 0;
}

static int worker_record(c1m_recorder_t *r, c1m_rec_op_t op, int a, uint32_t b,
                         const struct iovec *iov, int iovcnt)
{
    c1m_job_t *job = ((worker_rec_t *)r)->job;
    if (job->failed)
        return -ENOMEM;
    if (op != C1M_REC_WRITE)
        return rec_add(job, op, a, b);
    size_t total = 0;
    for (int i = 0; i < iovcnt; i++) {
        if (c1m_buf_append(&job->out, iov[i].iov_base, iov[i].iov_len) < 0) {
            job->failed = true;
            return -ENOMEM;
        }
        total += iov[i].iov_len;
    }
    return total ? rec_add(job, op, 0, (uint32_t)total) : 0;
}

static size_t worker_pending_out(c1m_recorder_t *r)
{
    return c1m_buf_size(((worker_rec_t *)r)->job->out);
}

/* ---- threads and the bounded queue --------------------------------------- */

/* Post a chain of finished jobs of one loop back to it. */
static void jobs_done(c1m_loop_t *loop, void *arg, uint64_t u);

static void post_results(c1m_job_t *head, uint32_t n)
{
    c1m_loop_t *loop = head->pl->loop;
    if (c1m_loop_post(loop, jobs_done, head, n) < 0)
        c1m_error("worker: cannot post %u results back to loop %u (out of memory)", n,
                  loop->id); /* cannot happen short of ENOMEM; the conns stay held */
}

static void *worker_main(void *arg)
{
    c1m_workers_t *w = arg;
    worker_rec_t wr = { .r = { .record = worker_record, .pending_out = worker_pending_out } };
    for (;;) {
        pthread_mutex_lock(&w->mu);
        while (w->n == 0 && !w->stop) {
            w->idle++;
            pthread_cond_wait(&w->nonempty, &w->mu);
            w->idle--;
        }
        if (w->n == 0 && w->stop) {
            pthread_mutex_unlock(&w->mu);
            return NULL;
        }
        /* Take a fair share: the other workers get the rest. */
        uint32_t take = (w->n + w->nthreads - 1) / w->nthreads;
        if (take > C1M_WORKER_BATCH)
            take = C1M_WORKER_BATCH;
        c1m_job_t *batch = w->head, *last = w->head;
        for (uint32_t i = 1; i < take; i++)
            last = last->next;
        w->head = last->next;
        if (!w->head)
            w->tail = NULL;
        last->next = NULL;
        C1M_RELAXED_STORE(&w->n, w->n - take);
        pthread_mutex_unlock(&w->mu);

        /* Run them; results go back one chain per run of the same loop. */
        c1m_job_t *done = NULL, *done_tail = NULL;
        uint32_t ndone = 0;
        while (batch) {
            c1m_job_t *job = batch;
            batch = job->next;
            job->next = NULL;
            c1m_conn_t *c = job->conn;
            wr.job = job;
            wr.r.conn = c;
            c1m__recorder = &wr.r;
            job->consumed = c->proto->on_data(c, c1m_buf_data(job->in), c1m_buf_size(job->in));
            c1m__recorder = NULL;
            if (done && done->pl != job->pl) {
                post_results(done, ndone);
                done = NULL;
                ndone = 0;
            }
            if (done)
                done_tail->next = job;
            else
                done = job;
            done_tail = job;
            ndone++;
        }
        post_results(done, ndone);
    }
}

int c1m_workers_start(c1m_workers_t *w, uint32_t nthreads, uint32_t queue_cap)
{
    *w = (c1m_workers_t){ 0 };
    if (!nthreads || !queue_cap)
        return -EINVAL;
    w->threads = calloc(nthreads, sizeof *w->threads);
    if (!w->threads)
        return -ENOMEM;
    w->cap = queue_cap;
    w->nthreads = nthreads; /* read by workers for their share */
    pthread_mutex_init(&w->mu, NULL);
    pthread_cond_init(&w->nonempty, NULL);
    for (uint32_t i = 0; i < nthreads; i++) {
        int rc = pthread_create(&w->threads[i], NULL, worker_main, w);
        if (rc) {
            pthread_mutex_lock(&w->mu);
            w->nthreads = i;
            pthread_mutex_unlock(&w->mu);
            c1m_workers_stop(w);
            return -rc;
        }
    }
    return 0;
}

uint32_t c1m_workers_room(c1m_workers_t *w)
{
    uint32_t n = C1M_RELAXED_LOAD(&w->n);
    return n >= w->cap ? 0 : w->cap - n;
}

int c1m_workers_submit_batch(c1m_workers_t *w, c1m_job_t *head, c1m_job_t *tail, uint32_t n)
{
    if (!n)
        return 0;
    pthread_mutex_lock(&w->mu);
    if (w->n + n > w->cap) {
        pthread_mutex_unlock(&w->mu);
        return -EAGAIN;
    }
    tail->next = NULL;
    if (w->tail)
        w->tail->next = head;
    else
        w->head = head;
    w->tail = tail;
    C1M_RELAXED_STORE(&w->n, w->n + n);
    /* Wake as many idle workers as there are shares of work for them. */
    uint32_t wake = w->idle;
    if (wake > n)
        wake = n;
    if (wake && wake == w->idle)
        pthread_cond_broadcast(&w->nonempty); /* one futex call for all */
    else
        for (uint32_t i = 0; i < wake; i++)
            pthread_cond_signal(&w->nonempty);
    pthread_mutex_unlock(&w->mu);
    return 0;
}

void c1m_workers_stop(c1m_workers_t *w)
{
    if (!w->threads)
        return;
    pthread_mutex_lock(&w->mu);
    w->stop = true;
    pthread_cond_broadcast(&w->nonempty);
    pthread_mutex_unlock(&w->mu);
    for (uint32_t i = 0; i < w->nthreads; i++)
        pthread_join(w->threads[i], NULL);
    free(w->threads);
    w->threads = NULL;
    w->head = w->tail = NULL;
    pthread_mutex_destroy(&w->mu);
    pthread_cond_destroy(&w->nonempty);
}

/* ---- the layer, on the loop thread ---------------------------------------- */

static void job_free(c1m_job_t *job)
{
    c1m_buf_free(&job->in);
    c1m_buf_free(&job->out);
    c1m_buf_free(&job->ops);
    free(job);
}

static void job_keep_buf(c1m_buf_t **bp)
{
    if (*bp && (*bp)->cap > C1M_JOB_BUF_KEEP)
        c1m_buf_free(bp);
    else if (*bp)
        (*bp)->off = (*bp)->len = 0;
}

/* Keep a finished job and its small buffers (emptied) for the next one. */
static void job_recycle(c1m_pool_loop_t *pl, c1m_job_t *job)
{
    if (pl->job_pool_n >= C1M_JOB_POOL_MAX) {
        job_free(job);
        return;
    }
    job_keep_buf(&job->in);
    job_keep_buf(&job->out);
    job_keep_buf(&job->ops);
    job->next = pl->job_pool;
    pl->job_pool = job;
    pl->job_pool_n++;
}

static c1m_job_t *job_get(c1m_pool_loop_t *pl, c1m_conn_t *c)
{
    c1m_job_t *job = pl->job_pool;
    if (job) {
        pl->job_pool = job->next;
        pl->job_pool_n--;
    } else if (!(job = calloc(1, sizeof *job))) {
        return NULL;
    }
    job->next = NULL;
    job->conn = c;
    job->pl = pl;
    job->consumed = 0;
    job->failed = false;
    return job;
}

static void fifo_push(c1m_job_t **head, c1m_job_t **tail, c1m_job_t *job)
{
    job->next = NULL;
    if (*tail)
        (*tail)->next = job;
    else
        *head = job;
    *tail = job;
}

/* Move waiting jobs into the batch while the queue has room (FIFO order). */
static void pump_waiting(c1m_pool_loop_t *pl)
{
    while (pl->wait_head && c1m_workers_room(pl->w) > pl->batch_n) {
        c1m_job_t *job = pl->wait_head;
        pl->wait_head = job->next;
        if (!pl->wait_head)
            pl->wait_tail = NULL;
        fifo_push(&pl->batch_head, &pl->batch_tail, job);
        pl->batch_n++;
    }
}

static ssize_t pool_on_data(void *arg, c1m_conn_t *c, const char *data, size_t len)
{
    c1m_pool_loop_t *pl = arg;
    c1m_job_t *job = job_get(pl, c);
    if (!job || c1m_buf_append(&job->in, data, len) < 0) {
        if (job)
            job_recycle(pl, job);
        c1m_conn_close(c, C1M_CLOSE_NOMEM);
        return (ssize_t)len;
    }
    c1m__conn_hold(c);
    pl->in_flight++;
    /* Keep FIFO order behind those already waiting; when the queue is
     * full, park the job (its connection stays held: backpressure). */
    if (pl->wait_head || c1m_workers_room(pl->w) <= pl->batch_n) {
        fifo_push(&pl->wait_head, &pl->wait_tail, job);
    } else {
        fifo_push(&pl->batch_head, &pl->batch_tail, job);
        pl->batch_n++;
    }
    return (ssize_t)len; /* the job has the bytes; a tail comes back at release */
}

static void submit_batch(c1m_pool_loop_t *pl)
{
    if (!pl->batch_n)
        return;
    /* The loop is the only producer and the batch was counted against the
     * free room, so this fits; if it ever did not, the jobs stay batched
     * and go at the next batch (a worker's result wakes the loop). */
    if (c1m_workers_submit_batch(pl->w, pl->batch_head, pl->batch_tail, pl->batch_n) < 0)
        return;
    pl->batch_head = pl->batch_tail = NULL;
    pl->batch_n = 0;
}

/* Apply the recorded calls on the loop thread, in the order they were
 * made. The connection is still held: closes are deferred to the release,
 * output goes out at once. */
static void replay(c1m_job_t *job)
{
    c1m_conn_t *c = job->conn;
    const char *out = c1m_buf_size(job->out) ? c1m_buf_data(job->out) : "";
    const rec_t *e = c1m_buf_size(job->ops) ? (const rec_t *)(void *)c1m_buf_data(job->ops) : NULL;
    size_t n = c1m_buf_size(job->ops) / sizeof(rec_t);
    for (size_t i = 0; i < n && !(c->flags & C1M_CONN_DEAD); i++, e++) {
        c1m_timeout_kind_t k = (c1m_timeout_kind_t)e->a;
        switch (e->op) {
        case C1M_REC_WRITE:
            c1m_conn_write(c, out, e->b);
            out += e->b;
            break;
        case C1M_REC_CLOSE:
            c1m_conn_close(c, e->a);
            break;
        case C1M_REC_CLOSE_FLUSH:
            c1m_conn_close_after_flush(c, e->a);
            break;
        case C1M_REC_SHUTDOWN_WR:
            c1m_conn_shutdown_after_flush(c);
            break;
        case C1M_REC_COUNT:
            c1m_conn_count(c, e->b);
            break;
        case C1M_REC_TMO_ARM:
            c1m_conn_timeout_arm(c, k);
            break;
        case C1M_REC_TMO_CLEAR:
            /* On the worker, c1m_conn_pending_out said 0 (the output had
             * not left yet); what is still pending now keeps its write
             * deadline, which the engine clears when it drains. */
            if (k != C1M_TO_WRITE || !c1m_conn_pending_out(c))
                c1m_conn_timeout_clear(c, k);
            break;
        case C1M_REC_TMO_SET:
            c1m_conn_set_timeout(c, k, e->b);
            break;
        case C1M_REC_REQ_BEGIN:
            c1m_conn_request_begin(c);
            break;
        case C1M_REC_REQ_HEADER_DONE:
            c1m_conn_request_header_done(c);
            break;
        case C1M_REC_REQ_END:
            c1m_conn_request_end(c);
            break;
        }
    }
}

static void job_done(c1m_pool_loop_t *pl, c1m_job_t *job)
{
    c1m_conn_t *c = job->conn;
    bool more = false;
    pl->in_flight--;
    if (job->failed) {
        c1m_conn_close(c, C1M_CLOSE_NOMEM); /* deferred: closed at release */
    } else {
        replay(job);
        if (job->consumed < 0) {
            c1m_conn_close(c, C1M_CLOSE_PROTO);
        } else if ((size_t)job->consumed < c1m_buf_size(job->in)) {
            /* the unconsumed tail (a partial frame) goes back to the engine */
            more = job->consumed > 0; /* it stopped early: it may take more */
            c1m_buf_consume(&job->in, (size_t)job->consumed);
            c1m__conn_keep_input(c, job->in);
            job->in = NULL;
        }
    }
    job_recycle(pl, job);
    c1m__conn_release(c);
    if (more)
        c1m__conn_redeliver(c);
}

static void jobs_done(c1m_loop_t *loop, void *arg, uint64_t u)
{
    c1m_job_t *job = arg;
    c1m_pool_loop_t *pl = job ? job->pl : NULL;
    for (uint64_t i = 0; i < u && job; i++) {
        c1m_job_t *next = job->next;
        job_done(pl, job);
        job = next;
    }
    if (pl)
        pump_waiting(pl);
}

/* Jobs never handed to a worker (the loop stops): let their connections
 * go; the loop closes them. */
static void drop_chain(c1m_pool_loop_t *pl, c1m_job_t *job)
{
    while (job) {
        c1m_job_t *next = job->next;
        c1m_conn_t *c = job->conn;
        pl->in_flight--;
        job_free(job);
        c1m_conn_close(c, C1M_CLOSE_SHUTDOWN);
        c1m__conn_release(c);
        job = next;
    }
}

static void pool_batch(void *arg, c1m_loop_t *loop, int why)
{
    c1m_pool_loop_t *pl = arg;
    if (why == C1M_LAYER_STOP) {
        drop_chain(pl, pl->batch_head);
        drop_chain(pl, pl->wait_head);
        pl->batch_head = pl->batch_tail = pl->wait_head = pl->wait_tail = NULL;
        pl->batch_n = 0;
        return;
    }
    submit_batch(pl);
    if (c1m_queue_pending(&loop->queue))
        c1m_queue_drain(&loop->queue, loop); /* finished jobs, while sockets are hot */
}

static const c1m_layer_ops_t pool_layer = { .on_data = pool_on_data, .batch = pool_batch };

int c1m_workers_attach(c1m_workers_t *w, c1m_loop_t *loop)
{
    c1m_pool_loop_t *pl = calloc(1, sizeof *pl);
    if (!pl)
        return -ENOMEM;
    pl->w = w;
    pl->loop = loop;
    c1m__loop_set_layer(loop, &pool_layer, pl);
    return 0;
}

void c1m_workers_detach(c1m_loop_t *loop)
{
    if (loop->layer != &pool_layer)
        return;
    c1m_pool_loop_t *pl = loop->layer_arg;
    c1m_queue_run(&loop->queue, loop); /* results that came after the loop stopped */
    while (pl->job_pool) {
        c1m_job_t *job = pl->job_pool;
        pl->job_pool = job->next;
        job_free(job);
    }
    free(pl);
    c1m__loop_set_layer(loop, NULL, NULL);
}

void c1m__workers_info(c1m_loop_t *loop, c1m_workers_info_t *out)
{
    *out = (c1m_workers_info_t){ 0 };
    if (loop->layer != &pool_layer)
        return;
    c1m_pool_loop_t *pl = loop->layer_arg;
    out->in_flight = pl->in_flight;
    out->pooled = pl->job_pool_n;
    for (c1m_job_t *j = pl->wait_head; j; j = j->next)
        out->waiting++;
}
