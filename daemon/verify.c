/*
 * Signature checks on every core.  The workers sleep on a condition
 * variable; a batch wakes them, every thread (the caller's included) claims
 * the next few items until none are left, and the caller waits for the
 * workers to finish before it reads the results.  The items are only read
 * and their `ok` written by the thread that claimed them, so the results
 * are the same whatever the threads' timing.
 */
#include <stdatomic.h>
#include <stdlib.h>

#include <uv.h>

#include <noaber/error.h>
#include <noaber/record.h>

#include "daemon/verify.h"

/* Items claimed at a time: a few signatures' worth, so the claims cost
 * little next to the checks and the threads finish close together. */
#define CLAIM 8
/* Below this many items the caller checks them alone: waking a thread
 * costs more than a few checks. */
#define BATCH_MIN   16
#define WORKERS_MAX 64

struct nbd_verifier {
    uv_mutex_t lock;
    uv_cond_t work, done;
    uv_thread_t threads[WORKERS_MAX];
    unsigned n_threads;
    bool stop;
    uint64_t generation; /* one per batch */
    unsigned busy;       /* workers still on the current batch */
    /* The current batch. */
    const uint8_t *neighbourhood_id;
    struct nbd_verify_item *items;
    size_t n;
    atomic_size_t next;
};

static void check_claims(struct nbd_verifier *v)
{
    for (;;) {
        size_t i = atomic_fetch_add(&v->next, CLAIM);
        if (i >= v->n)
            return;
        size_t end = i + CLAIM < v->n ? i + CLAIM : v->n;
        for (; i < end; i++)
            v->items[i].ok =
                nb_record_verify(v->items[i].bytes, v->items[i].len, v->neighbourhood_id) == 0;
    }
}

static void worker(void *arg)
{
    struct nbd_verifier *v = arg;
    uint64_t seen = 0;
    uv_mutex_lock(&v->lock);
    for (;;) {
        while (!v->stop && v->generation == seen)
            uv_cond_wait(&v->work, &v->lock);
        if (v->stop)
            break;
        seen = v->generation;
        uv_mutex_unlock(&v->lock);
        check_claims(v);
        uv_mutex_lock(&v->lock);
        if (--v->busy == 0)
            uv_cond_signal(&v->done);
    }
    uv_mutex_unlock(&v->lock);
}

unsigned nbd_verifier_default_workers(void)
{
    unsigned cores = uv_available_parallelism();
    if (cores <= 1)
        return 0;
    return cores - 1 < WORKERS_MAX ? cores - 1 : WORKERS_MAX;
}

int nbd_verifier_new(unsigned workers, struct nbd_verifier **ret)
{
    struct nbd_verifier *v = calloc(1, sizeof(*v));
    if (v == NULL)
        return NB_ENOMEM;
    if (workers > WORKERS_MAX)
        workers = WORKERS_MAX;
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
    atomic_init(&v->next, 0);
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
    free(v);
}

void nbd_verify_batch(struct nbd_verifier *v,
                      const uint8_t neighbourhood_id[NB_NEIGHBOURHOOD_ID_SIZE],
                      struct nbd_verify_item *items, size_t n)
{
    if (v == NULL) {
        for (size_t i = 0; i < n; i++)
            items[i].ok = nb_record_verify(items[i].bytes, items[i].len, neighbourhood_id) == 0;
        return;
    }
    bool share = v->n_threads > 0 && n >= BATCH_MIN;
    v->neighbourhood_id = neighbourhood_id;
    v->items = items;
    v->n = n;
    atomic_store(&v->next, 0);
    if (share) {
        uv_mutex_lock(&v->lock);
        v->busy = v->n_threads;
        v->generation++;
        uv_cond_broadcast(&v->work);
        uv_mutex_unlock(&v->lock);
    }
    check_claims(v);
    if (share) {
        uv_mutex_lock(&v->lock);
        while (v->busy > 0)
            uv_cond_wait(&v->done, &v->lock);
        uv_mutex_unlock(&v->lock);
    }
}
