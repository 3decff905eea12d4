/*
 * One node: its store, its neighbourhood, and the rules it applies before a
 * record is stored.  The control socket calls in here; so will the peer sync
 * layer (nbd_node_accept with NBD_ORIGIN_PEER, and an accept hook to learn of
 * records to announce).
 *
 * Everything here runs on the loop thread; store transactions are
 * synchronous and committed before a function returns.
 */
#ifndef NOABERD_NODE_H
#define NOABERD_NODE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <noaber/identity.h>
#include <noaber/record.h>
#include <noaber/state.h>

#include "daemon/store.h"

#define NBD_HOOKS_MAX 8

/* Where a record came from decides which rules apply (see noaber/state.h). */
enum nbd_origin {
    NBD_ORIGIN_LOCAL = 0, /* a client on the control socket: full state checks */
    NBD_ORIGIN_PEER = 1,  /* another node: only order-independent checks */
};

/*
 * Called after a record has been committed (never for duplicates).  `bytes`
 * and `rec` are valid during the call only.
 */
typedef void (*nbd_accept_hook)(void *ctx, const uint8_t id[NB_ID_SIZE], const uint8_t *bytes,
                                size_t len, const struct nb_record *rec, enum nbd_origin origin);

struct nbd_node {
    struct nbd_store *store;
    uint64_t purge_grace;

    bool has_neighbourhood;
    char neighbourhood_name[NB_NAME_MAX + 1];
    uint8_t neighbourhood_key[NB_NEIGHBOURHOOD_KEY_SIZE];
    uint8_t neighbourhood_id[NB_NEIGHBOURHOOD_ID_SIZE];

    struct {
        nbd_accept_hook fn;
        void *ctx;
    } hooks[NBD_HOOKS_MAX];
    size_t n_hooks;
};

/*
 * The outcome of an operation for the person or peer that asked: an nb_error
 * code plus a sentence that is safe to show and to log (it never quotes a
 * record's contents).
 */
struct nbd_verdict {
    int code;            /* 0 or an nb_error code */
    const char *error;   /* the control API's error code: "refused", "gone", ... */
    const char *message; /* static */
};

/* Opens the node on an open store (loads the neighbourhood, if any). */
int nbd_node_init(struct nbd_node *node, struct nbd_store *store, uint64_t purge_grace);
/* Wipes the neighbourhood key; does not close the store. */
void nbd_node_clear(struct nbd_node *node);

int nbd_node_add_hook(struct nbd_node *node, nbd_accept_hook fn, void *ctx);
void nbd_node_remove_hook(struct nbd_node *node, nbd_accept_hook fn, void *ctx);

/*
 * Creates the node's neighbourhood with a fresh random key.  NB_EEXIST if it
 * already has one; NB_EINVAL for a bad name (1..64 bytes of UTF-8 text).
 */
int nbd_node_create_neighbourhood(struct nbd_node *node, const char *name, size_t len,
                                  struct nbd_verdict *ret);

/*
 * Makes the node a member of the neighbourhood of an invite: stores name
 * and key as nbd_node_create_neighbourhood does.  Joining the neighbourhood
 * the node already has (same key) succeeds with *ret_already true and
 * changes nothing; another neighbourhood is NB_EEXIST ("refused"); a bad
 * name NB_EINVAL.
 */
int nbd_node_join_neighbourhood(struct nbd_node *node, const char *name, size_t len,
                                const uint8_t key[NB_NEIGHBOURHOOD_KEY_SIZE], bool *ret_already,
                                struct nbd_verdict *ret);

/*
 * Accepts a signed record: decode + verify + validate against `now`, the
 * node's rules, then commit.  Returns 0 with ret_id set (also for a record
 * the node already holds), or a negative code with v->error set to the
 * control API's code and v->message to the reason:
 *   refused         the node has no neighbourhood yet, or the lifecycle
 *                   rules refuse the record (the reason from noaber/state.h)
 *   invalid_record  decoding, signature or validation failed
 *   not_found       the target is not stored
 *   gone            the record (or its target) was retracted or expired and
 *                   purged: it is never stored again
 *   internal        the store failed
 */
int nbd_node_accept(struct nbd_node *node, const uint8_t *bytes, size_t len, uint64_t now,
                    enum nbd_origin origin, uint8_t ret_id[NB_ID_SIZE], struct nbd_verdict *v);

/*
 * The derived state of the stored request or offer `root`.  Release with
 * nb_state_free().  NB_EINVAL if the record is not a request or an offer.
 */
int nbd_node_derive(struct nbd_node *node, const struct nbd_store_record *root, uint64_t now,
                    struct nb_state *ret);

/* Runs the periodic purge (expiry + tombstone cleanup). */
int nbd_node_purge(struct nbd_node *node, uint64_t now, uint64_t *ret_records,
                   uint64_t *ret_tombstones);

#endif
