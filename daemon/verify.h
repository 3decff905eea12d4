/*
 * Signature checks on worker threads (daemon/verify.c).  The loop thread
 * hands a job (a batch of records) to the workers and goes on reading and
 * storing; when a job's last record is checked, the verifier wakes the loop
 * (a uv_async_t) and its `finished` callback runs there.  Jobs are checked
 * in the order they were submitted, a few records at a time, so the oldest
 * job finishes first and several threads share a large one.
 *
 * Only the signature, the one check that costs, is done here; whether a
 * record may be stored depends on what the node holds and on the order the
 * records arrive in, and stays on the loop thread (nbd_node_accept with
 * NBD_ORIGIN_PEER and `signature_checked`).
 */
#ifndef NOABERD_VERIFY_H
#define NOABERD_VERIFY_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <uv.h>

#include <noaber/identity.h>

struct nbd_verify_item {
    const uint8_t *bytes;
    size_t len;
    bool ok; /* set by the verifier: decodes, and the signature holds */
};

/* A batch of records to check.  The caller fills the first three fields
 * and keeps the job, its items and their bytes alive and unchanged until
 * the job is finished; the rest belongs to the verifier. */
struct nbd_verify_job {
    const uint8_t *neighbourhood_id; /* NB_NEIGHBOURHOOD_ID_SIZE bytes */
    struct nbd_verify_item *items;
    size_t n;
    struct nbd_verify_job *next;
    size_t claimed, checked;
    bool finished;
};

struct nbd_verifier;

/*
 * A verifier with `workers` threads (0: every job is checked by the thread
 * that submits it).  With a loop, `finished(ctx)` runs on the loop's thread
 * after one or more jobs finished (several finishing close together may
 * wake it once); loop NULL: no callback, for callers that only wait.
 * NB_ENOMEM, or NB_EIO when a thread or the wake-up cannot be started.
 */
int nbd_verifier_new(uv_loop_t *loop, unsigned workers, void (*finished)(void *ctx), void *ctx,
                     struct nbd_verifier **ret);
/* Worker threads: one per core this process may use, so the loop thread's
 * own time goes to reading and storing. */
unsigned nbd_verifier_default_workers(void);
/* Stops and joins the threads; jobs not finished are left unchecked (the
 * caller waits for those it needs first).  With a loop, the wake-up handle
 * is closed and the memory freed when the loop runs next.  NULL is fine. */
void nbd_verifier_free(struct nbd_verifier *v);

/* Queues the job behind those submitted before it. */
void nbd_verify_submit(struct nbd_verifier *v, struct nbd_verify_job *job);
/* Whether every item of the job is checked (their `ok` may be read). */
bool nbd_verify_finished(struct nbd_verifier *v, struct nbd_verify_job *job);
/* Returns once the job is finished; the caller checks records of the
 * oldest jobs meanwhile rather than sleep. */
void nbd_verify_wait(struct nbd_verifier *v, struct nbd_verify_job *job);

/* Checks every item's signature against the neighbourhood id and returns
 * when all are checked: submit and wait (with v NULL, the caller alone). */
void nbd_verify_batch(struct nbd_verifier *v,
                      const uint8_t neighbourhood_id[NB_NEIGHBOURHOOD_ID_SIZE],
                      struct nbd_verify_item *items, size_t n);

#endif
