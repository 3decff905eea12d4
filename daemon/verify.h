/*
 * Signature checks on every core (daemon/verify.c): a batch of records is
 * split between the calling thread and a few worker threads, and the call
 * returns when every record of the batch is checked.
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

#include <noaber/identity.h>

struct nbd_verify_item {
    const uint8_t *bytes;
    size_t len;
    bool ok; /* set by nbd_verify_batch: decodes, and the signature holds */
};

struct nbd_verifier;

/*
 * A verifier with `workers` threads besides the caller's (0: the caller
 * checks alone).  NB_ENOMEM, or NB_EIO when a thread cannot be started.
 */
int nbd_verifier_new(unsigned workers, struct nbd_verifier **ret);
/* Worker threads: one fewer than the cores this process may use. */
unsigned nbd_verifier_default_workers(void);
/* Stops and joins the threads; NULL is fine. */
void nbd_verifier_free(struct nbd_verifier *v);

/* Checks every item's signature against the neighbourhood id, the work
 * shared between the caller and the workers (with v NULL, the caller
 * alone). */
void nbd_verify_batch(struct nbd_verifier *v,
                      const uint8_t neighbourhood_id[NB_NEIGHBOURHOOD_ID_SIZE],
                      struct nbd_verify_item *items, size_t n);

#endif
