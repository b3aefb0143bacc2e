/* The worker pool of the workerpool architecture.
 *
 * One I/O loop hands a connection's bytes to W worker threads through a
 * bounded queue; a worker runs the protocol's on_data (which may block);
 * its output goes back to the loop through the loop's queue. A connection
 * is in at most one job at a time (the loop stops reading it while a job
 * holds it), so no two workers ever handle one connection. When the queue
 * is full the loop parks connections in a FIFO and stops reading them: the
 * backpressure reaches the clients through TCP, memory does not grow. */
#ifndef C1M_ENGINE_WORKERS_H
#define C1M_ENGINE_WORKERS_H

#include <pthread.h>
#include <stdbool.h>
#include <stdint.h>

#include "core/buf.h"
#include "engine/conn.h"

typedef struct c1m_job {
    c1m_conn_t *conn;
    c1m_loop_t *loop;
    c1m_buf_t *in;       /* the bytes to handle (owned by the job) */
    c1m_buf_t *out;      /* output the handler wrote */
    ssize_t consumed;    /* on_data's result */
    int close_reason;    /* -1, or a close the handler asked for */
    uint32_t msgs;       /* c1m_conn_count() calls made by the handler */
    bool out_failed;     /* output could not be buffered (ENOMEM) */
} c1m_job_t;

typedef struct c1m_workers c1m_workers_t;

struct c1m_workers {
    pthread_mutex_t mu;
    pthread_cond_t nonempty;
    c1m_job_t **ring;
    uint32_t cap, head, n;
    bool stop;
    uint32_t nthreads;
    pthread_t *threads;
};

int c1m_workers_start(c1m_workers_t *w, uint32_t nthreads, uint32_t queue_cap);
/* Non-blocking: 0, or -EAGAIN when the queue is full. */
int c1m_workers_submit(c1m_workers_t *w, c1m_job_t *job);
/* Finish queued jobs, stop and join the threads. */
void c1m_workers_stop(c1m_workers_t *w);

/* The job the calling worker thread is running (NULL on a loop thread). */
c1m_job_t *c1m_workers_current(void);

/* The loop side: a job came back (posted to the loop's queue). */
void c1m__job_done(c1m_loop_t *loop, void *arg, uint64_t u);

#endif
