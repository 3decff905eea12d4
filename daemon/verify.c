/*
 * Signature checks on worker threads.  Jobs wait in one queue, oldest
 * first; a worker takes the next few items of the oldest job under the
 * lock, checks them without it, and counts them back in.  The thread that
 * counts a job's last item marks it finished and wakes the loop.  An item's
 * `ok` is written by the one thread that claimed it and read only after the
 * job is seen finished under the lock, so the results are the same
 * whatever the threads' timing.
 */
#include <stdlib.h>

#include <uv.h>

#include <noaber/error.h>
#include <noaber/record.h>

#include "daemon/verify.h"

/* Items claimed at a time: a few signatures' worth, so the claims cost
 * little next to the checks and the threads finish a job close together. */
#define CLAIM       8
#define WORKERS_MAX 64

struct nbd_verifier {
    uv_mutex_t lock;
    uv_cond_t work; /* a job was queued, or stop */
    uv_cond_t done; /* a job finished */
    uv_thread_t threads[WORKERS_MAX];
    unsigned n_threads;
    bool stop;
    /* Jobs with items nobody has claimed yet, oldest first. */
    struct nbd_verify_job *queue, **queue_tail;
    bool has_async;
    uv_async_t async;
    void (*finished)(void *ctx);
    void *ctx;
};

/* The next few items of the oldest job; false when no job has any left.
 * With the lock held. */
static bool claim(struct nbd_verifier *v, struct nbd_verify_job **job, size_t *from, size_t *to)
{
    struct nbd_verify_job *j = v->queue;
    if (j == NULL)
        return false;
    *job = j;
    *from = j->claimed;
    *to = j->claimed + CLAIM < j->n ? j->claimed + CLAIM : j->n;
    j->claimed = *to;
    if (j->claimed == j->n) {
        v->queue = j->next;
        if (v->queue == NULL)
            v->queue_tail = &v->queue;
    }
    return true;
}

static void check(struct nbd_verify_job *job, size_t from, size_t to)
{
    for (size_t i = from; i < to; i++)
        job->items[i].ok =
            nb_record_verify(job->items[i].bytes, job->items[i].len, job->neighbourhood_id) == 0;
}

/* With the lock held. */
static void count_checked(struct nbd_verifier *v, struct nbd_verify_job *job, size_t n)
{
    job->checked += n;
    if (job->checked < job->n)
        return;
    job->finished = true;
    uv_cond_broadcast(&v->done);
    if (v->has_async)
        uv_async_send(&v->async);
}

/* Claims and checks one share of the oldest job; false when none is left.
 * Entered and left with the lock held. */
static bool check_one_claim(struct nbd_verifier *v)
{
    struct nbd_verify_job *job;
    size_t from, to;
    if (!claim(v, &job, &from, &to))
        return false;
    uv_mutex_unlock(&v->lock);
    check(job, from, to);
    uv_mutex_lock(&v->lock);
    count_checked(v, job, to - from);
    return true;
}

static void worker(void *arg)
{
    struct nbd_verifier *v = arg;
    uv_mutex_lock(&v->lock);
    while (!v->stop)
        if (!check_one_claim(v))
            uv_cond_wait(&v->work, &v->lock);
    uv_mutex_unlock(&v->lock);
}

static void on_async(uv_async_t *a)
{
    struct nbd_verifier *v = a->data;
    if (v->finished != NULL)
        v->finished(v->ctx);
}

unsigned nbd_verifier_default_workers(void)
{
    unsigned cores = uv_available_parallelism();
    if (cores < 1)
        cores = 1;
    return cores < WORKERS_MAX ? cores : WORKERS_MAX;
}

int nbd_verifier_new(uv_loop_t *loop, unsigned workers, void (*finished)(void *ctx), void *ctx,
                     struct nbd_verifier **ret)
{
    struct nbd_verifier *v = calloc(1, sizeof(*v));
    if (v == NULL)
        return NB_ENOMEM;
    if (workers > WORKERS_MAX)
        workers = WORKERS_MAX;
    v->queue_tail = &v->queue;
    v->finished = finished;
    v->ctx = ctx;
    if (uv_mutex_init(&v->lock) != 0) {
        free(v);
        return NB_EIO;
    }
    if (uv_cond_init(&v->work) != 0 || uv_cond_init(&v->done) != 0) {
        /* uv_cond_destroy of a condition that failed to initialise is not
         * allowed; a failure here is rare enough to leak one. */
        uv_mutex_destroy(&v->lock);
        free(v);
        return NB_EIO;
    }
    if (loop != NULL) {
        if (uv_async_init(loop, &v->async, on_async) != 0) {
            v->n_threads = 0;
            nbd_verifier_free(v);
            return NB_EIO;
        }
        v->async.data = v;
        v->has_async = true;
    }
    for (unsigned i = 0; i < workers; i++) {
        if (uv_thread_create(&v->threads[i], worker, v) != 0) {
            nbd_verifier_free(v);
            return NB_EIO;
        }
        v->n_threads++;
    }
    *ret = v;
    return 0;
}

static void on_async_closed(uv_handle_t *h)
{
    free(h->data);
}

void nbd_verifier_free(struct nbd_verifier *v)
{
    if (v == NULL)
        return;
    uv_mutex_lock(&v->lock);
    v->stop = true;
    uv_cond_broadcast(&v->work);
    uv_mutex_unlock(&v->lock);
    for (unsigned i = 0; i < v->n_threads; i++)
        uv_thread_join(&v->threads[i]);
    uv_cond_destroy(&v->work);
    uv_cond_destroy(&v->done);
    uv_mutex_destroy(&v->lock);
    if (v->has_async)
        uv_close((uv_handle_t *)&v->async, on_async_closed);
    else
        free(v);
}

void nbd_verify_submit(struct nbd_verifier *v, struct nbd_verify_job *job)
{
    job->next = NULL;
    job->claimed = job->checked = 0;
    job->finished = false;
    uv_mutex_lock(&v->lock);
    if (v->n_threads == 0 || job->n == 0) {
        /* No thread to hand it to: checked here, and the loop woken as
         * when a worker finishes one. */
        job->claimed = job->n;
        uv_mutex_unlock(&v->lock);
        check(job, 0, job->n);
        uv_mutex_lock(&v->lock);
        count_checked(v, job, job->n);
    } else {
        *v->queue_tail = job;
        v->queue_tail = &job->next;
        uv_cond_broadcast(&v->work);
    }
    uv_mutex_unlock(&v->lock);
}

bool nbd_verify_finished(struct nbd_verifier *v, struct nbd_verify_job *job)
{
    uv_mutex_lock(&v->lock);
    bool finished = job->finished;
    uv_mutex_unlock(&v->lock);
    return finished;
}

void nbd_verify_wait(struct nbd_verifier *v, struct nbd_verify_job *job)
{
    uv_mutex_lock(&v->lock);
    while (!job->finished)
        if (!check_one_claim(v))
            uv_cond_wait(&v->done, &v->lock);
    uv_mutex_unlock(&v->lock);
}

void nbd_verify_batch(struct nbd_verifier *v,
                      const uint8_t neighbourhood_id[NB_NEIGHBOURHOOD_ID_SIZE],
                      struct nbd_verify_item *items, size_t n)
{
    struct nbd_verify_job job = { .neighbourhood_id = neighbourhood_id, .items = items, .n = n };
    if (v == NULL) {
        check(&job, 0, n);
        return;
    }
    nbd_verify_submit(v, &job);
    nbd_verify_wait(v, &job);
}
