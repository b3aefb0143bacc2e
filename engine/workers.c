#include "engine/workers.h"

#include <errno.h>
#include <stdlib.h>

#include "core/log.h"
#include "engine/loop.h"

static __thread c1m_job_t *c1m__current_job;

c1m_job_t *c1m_workers_current(void) { return c1m__current_job; }

static void *worker_main(void *arg)
{
    c1m_workers_t *w = arg;
    for (;;) {
        pthread_mutex_lock(&w->mu);
        while (w->n == 0 && !w->stop)
            pthread_cond_wait(&w->nonempty, &w->mu);
        if (w->n == 0 && w->stop) {
            pthread_mutex_unlock(&w->mu);
            return NULL;
        }
        c1m_job_t *job = w->ring[w->head];
        w->head = (w->head + 1) % w->cap;
        w->n--;
        pthread_mutex_unlock(&w->mu);

        c1m_conn_t *c = job->conn;
        c1m__current_job = job;
        job->consumed = c->proto->on_data(c, c1m_buf_data(job->in), c1m_buf_size(job->in));
        c1m__current_job = NULL;
        if (c1m_loop_post(job->loop, c1m__job_done, job, 0) < 0)
            c1m_error("worker: cannot post a result back to loop %u (out of memory)",
                      job->loop->id); /* cannot happen short of ENOMEM; the conn stays busy */
    }
}

int c1m_workers_start(c1m_workers_t *w, uint32_t nthreads, uint32_t queue_cap)
{
    *w = (c1m_workers_t){ 0 };
    w->ring = calloc(queue_cap, sizeof *w->ring);
    w->threads = calloc(nthreads, sizeof *w->threads);
    if (!w->ring || !w->threads) {
        free(w->ring);
        free(w->threads);
        return -ENOMEM;
    }
    w->cap = queue_cap;
    pthread_mutex_init(&w->mu, NULL);
    pthread_cond_init(&w->nonempty, NULL);
    for (uint32_t i = 0; i < nthreads; i++) {
        int rc = pthread_create(&w->threads[i], NULL, worker_main, w);
        if (rc) {
            w->nthreads = i;
            c1m_workers_stop(w);
            return -rc;
        }
    }
    w->nthreads = nthreads;
    return 0;
}

int c1m_workers_submit(c1m_workers_t *w, c1m_job_t *job)
{
    pthread_mutex_lock(&w->mu);
    if (w->n == w->cap) {
        pthread_mutex_unlock(&w->mu);
        return -EAGAIN;
    }
    w->ring[(w->head + w->n) % w->cap] = job;
    w->n++;
    pthread_cond_signal(&w->nonempty);
    pthread_mutex_unlock(&w->mu);
    return 0;
}

void c1m_workers_stop(c1m_workers_t *w)
{
    pthread_mutex_lock(&w->mu);
    w->stop = true;
    pthread_cond_broadcast(&w->nonempty);
    pthread_mutex_unlock(&w->mu);
    for (uint32_t i = 0; i < w->nthreads; i++)
        pthread_join(w->threads[i], NULL);
    free(w->ring);
    free(w->threads);
    w->ring = NULL;
    w->threads = NULL;
    pthread_mutex_destroy(&w->mu);
    pthread_cond_destroy(&w->nonempty);
}
