/* The worker pool of the workerpool architecture.
 *
 * One I/O loop hands a connection's bytes to W worker threads through a
 * bounded queue; a worker runs the protocol's on_data (which may block);
 * its output goes back to the loop through the loop's queue. A connection
 * is in at most one job at a time (the loop stops reading it while a job
 * holds it), so no two workers ever handle one connection. When the queue
 * is full the loop parks connections in a FIFO and stops reading them: the
 * backpressure reaches the clients through TCP, memory does not grow.
 *
 * Hand-offs are batched both ways so that their cost is paid per loop
 * iteration, not per message: the loop collects the jobs of one
 * epoll_wait round and submits them under one lock with at most one
 * wake-up per idle worker; a worker takes its fair share of the queue at
 * once (up to C1M_WORKER_BATCH) and posts all of its results back to the
 * loop as one message (one eventfd write). */
#ifndef C1M_ENGINE_WORKERS_H
#define C1M_ENGINE_WORKERS_H

#include <pthread.h>
#include <stdbool.h>
#include <stdint.h>

#include "core/buf.h"
#include "engine/conn.h"

typedef struct c1m_job {
    struct c1m_job *next; /* in a batch, the queue or a result chain */
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

/* Most jobs a worker takes from the queue at once. */
#define C1M_WORKER_BATCH 32

struct c1m_workers {
    pthread_mutex_t mu;
    pthread_cond_t nonempty;
    c1m_job_t *head, *tail; /* FIFO of queued jobs */
    uint32_t cap, n;        /* n: queued (written under mu) */
    uint32_t idle;          /* workers waiting on `nonempty` */
    bool stop;
    uint32_t nthreads;
    pthread_t *threads;
};

int c1m_workers_start(c1m_workers_t *w, uint32_t nthreads, uint32_t queue_cap);
/* Non-blocking: 0, or -EAGAIN when the queue is full. */
int c1m_workers_submit(c1m_workers_t *w, c1m_job_t *job);
/* Queue a chain of n jobs (linked by next) at once: one lock, one wake-up
 * per idle worker at most. The caller made sure they fit (the loop is the
 * only producer, so a free count it read stays free); returns -EAGAIN
 * without queueing anything if they do not. */
int c1m_workers_submit_batch(c1m_workers_t *w, c1m_job_t *head, c1m_job_t *tail, uint32_t n);
/* Free slots in the queue (exact for the only producer, else a hint). */
uint32_t c1m_workers_room(c1m_workers_t *w);
/* Finish queued jobs, stop and join the threads. */
void c1m_workers_stop(c1m_workers_t *w);

/* The job the calling worker thread is running (NULL on a loop thread). */
c1m_job_t *c1m_workers_current(void);

/* The loop side: a chain of u finished jobs (linked by next) came back,
 * posted to the loop's queue. */
void c1m__jobs_done(c1m_loop_t *loop, void *arg, uint64_t u);

#endif
