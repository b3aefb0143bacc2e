#include "engine/workers.h"

#include <errno.h>
#include <stdlib.h>

#include "core/common.h"
#include "core/log.h"
#include "engine/loop.h"

static __thread c1m_job_t *c1m__current_job;

c1m_job_t *c1m_workers_current(void) { return c1m__current_job; }

/* Post a chain of finished jobs of one loop back to it. */
static void post_results(c1m_loop_t *loop, c1m_job_t *head, uint32_t n)
{
    if (c1m_loop_post(loop, c1m__jobs_done, head, n) < 0)
        c1m_error("worker: cannot post %u results back to loop %u (out of memory)", n,
                  loop->id); /* cannot happen short of ENOMEM; the conns stay busy */
}

static void *worker_main(void *arg)
{
    c1m_workers_t *w = arg;
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
            c1m__current_job = job;
            job->consumed = c->proto->on_data(c, c1m_buf_data(job->in), c1m_buf_size(job->in));
            c1m__current_job = NULL;
            if (done && done->loop != job->loop) {
                post_results(done->loop, done, ndone);
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
        post_results(done->loop, done, ndone);
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

int c1m_workers_submit(c1m_workers_t *w, c1m_job_t *job)
{
    return c1m_workers_submit_batch(w, job, job, 1);
}

void c1m_workers_stop(c1m_workers_t *w)
{
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
