/*
 * One node: its store, its neighbourhood, and the rules it applies before a
 * record is stored.  The control socket calls in here; so will the peer sync
 * layer (nbd_node_accept with NBD_ORIGIN_PEER, and an accept hook to learn of
 * records to announce).
 *
 * Everything here runs on the loop thread.  Outside a batch every accepted
 * record is committed before nbd_node_accept returns.  Inside a batch
 * (nbd_node_batch_begin .. nbd_node_batch_end) records go into one open
 * store transaction that is committed once, at the end: see "Group commit"
 * below.
 */
#ifndef NOABERD_NODE_H
#define NOABERD_NODE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <noaber/identity.h>
#include <noaber/record.h>
#include <noaber/state.h>

#include "daemon/store/store.h"

#define NBD_HOOKS_MAX 8

/* Where a record came from decides which rules apply (see noaber/state.h). */
enum nbd_origin_kind {
    NBD_ORIGIN_LOCAL = 0, /* a client on the control socket: full state checks */
    NBD_ORIGIN_PEER = 1,  /* another node: only order-independent checks */
};

/*
 * Who handed a record in: a client, or a peer and which link.  The node
 * keeps it with the record until the accept hooks have run, so the sync
 * layer does not push a record back to the link it came from even when the
 * hooks run at the end of a batch.
 */
struct nbd_origin {
    enum nbd_origin_kind kind;
    const void *link; /* the peer link; NULL for a client */
    /* The node asked the peer for it (a reconciliation's fetch), rather
     * than the peer pushing it: the sync layer does not push such backlog
     * on, since every other peer's own reconciliation finds it. */
    bool fetched;
    /* The signature of these very bytes was checked already (a peer's
     * records, checked on every core: daemon/verify.h); the node decodes
     * and validates them but does not verify again. */
    bool signature_checked;
};

#define NBD_FROM_CLIENT  ((struct nbd_origin){ .kind = NBD_ORIGIN_LOCAL })
#define NBD_FROM_PEER(l) ((struct nbd_origin){ .kind = NBD_ORIGIN_PEER, .link = (l) })
#define NBD_FETCHED_FROM_PEER(l)                                                                   \
    ((struct nbd_origin){ .kind = NBD_ORIGIN_PEER, .link = (l), .fetched = true })

/*
 * Called after a record has been committed (never for duplicates, never for
 * a record whose batch failed to commit).  `bytes` and `rec` are valid during
 * the call only.
 */
typedef void (*nbd_accept_hook)(void *ctx, const uint8_t id[NB_ID_SIZE], const uint8_t *bytes,
                                size_t len, const struct nb_record *rec,
                                const struct nbd_origin *origin);

/*
 * What nbd_node_accept decided.  The control API's error code for each is
 * nbd_accept_error(); nothing but the edges (the control reply, the peer
 * link's log and misbehaviour count) turns it into text.
 */
enum nbd_accept_verdict {
    NBD_ACCEPTED = 0,   /* stored now, or held already */
    NBD_REFUSED,        /* no neighbourhood, the lifecycle rules, a blocked author */
    NBD_OVER_QUOTA,     /* the author signed as many records as a node keeps per hour or day */
    NBD_INVALID_RECORD, /* decoding, signature or validation failed */
    NBD_NOT_FOUND,      /* the target is not stored (report.target names it) */
    NBD_GONE,           /* the record or its target was retracted or purged */
    NBD_INTERNAL,       /* the store failed */
};

/* "refused", "invalid_record", "not_found", "gone", "internal" (or NULL for
 * NBD_ACCEPTED). */
const char *nbd_accept_error(enum nbd_accept_verdict verdict);

/* The reason behind a verdict other than NBD_ACCEPTED. */
struct nbd_accept_report {
    int code;                   /* an nb_error code */
    const char *message;        /* safe to show and to log: never quotes a record */
    char text[192];             /* where `message` is written when it carries numbers */
    uint8_t target[NB_ID_SIZE]; /* NBD_NOT_FOUND: the record this one waits for */
};

/* Records per author per window of created_at; see nbd_node_accept. */
#define NBD_QUOTA_HOUR_DEFAULT 120
#define NBD_QUOTA_DAY_DEFAULT  600
#define NBD_OVER_QUOTA_MAX     16

/* An author whose records went over a quota, for the log and `status`. */
struct nbd_over_quota {
    uint8_t author[NB_KEY_SIZE];
    uint64_t window_start; /* created_at where the full window begins (UTC) */
    uint32_t window;       /* 3600 or 86400 seconds */
    uint32_t limit;        /* the quota of that window */
    uint64_t refused;      /* records refused in that window */
    uint64_t last_at;      /* the node's clock at the last refusal */
};

struct nbd_deferred;

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

    /* Records per author per hour and per day of created_at. */
    uint32_t quota_hour, quota_day;
    /* The authors over a quota lately, most recent refusal kept. */
    struct nbd_over_quota over_quota[NBD_OVER_QUOTA_MAX];
    size_t n_over_quota;

    /* Group commit: see nbd_node_batch_begin. */
    unsigned batch_depth;
    bool batch_open;               /* a store transaction holds records not yet committed */
    int batch_error;               /* the first failed commit in this batch, 0 if none */
    struct nbd_deferred *deferred; /* hook calls waiting for the commit */
    size_t n_deferred, cap_deferred;

    /* A large catch-up: see nbd_node_catching_up. */
    bool indexes_deferred;
    bool catchup_judged;      /* this catch-up was judged too small to defer them */
    uint64_t catchup_idle_at; /* when nothing was left to fetch, 0 while fetching */

    /* Called once for each damaged record the node removed from its store
     * (nbd_node_repair); NULL for none. */
    nbd_store_damaged_cb on_repaired;
    void *repaired_ctx;
    /* The data directory where taking a neighbourhood writes the marker
     * (daemon/marker.h); NULL for none. */
    const char *marker_dir;
};

/*
 * Removes the records that reads found damaged (nbd_store_repair), so that
 * a peer's copy takes their place.  Runs by itself at the end of each
 * outermost batch; the daemon calls it from its timer as well.  Returns how
 * many it removed or a negative code.
 */
int nbd_node_repair(struct nbd_node *node);

/*
 * Told how many records the node is still fetching from its peers (the
 * network's timer calls it; now_ms is the loop's clock).  A catch-up large
 * against the store (NBD_CATCHUP_MIN records, and a sixteenth of those held)
 * drops the indexes no arriving record's check reads, so that each record
 * writes about 1.6 pages instead of 3.7 (nbd_store_defer_indexes, bench/README.md,
 * "Page writes per record"); when
 * nothing has been left to fetch for NBD_CATCHUP_SETTLE_MS they are built
 * again by sorting.  Meanwhile the node answers as always, by scanning.
 * Does nothing inside a batch.
 */
#define NBD_CATCHUP_MIN       4096
#define NBD_CATCHUP_SETTLE_MS 2000
void nbd_node_catching_up(struct nbd_node *node, uint64_t fetching, uint64_t now_ms);

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
 * Accepts a signed record whose id (nb_record_id of `bytes`) the caller has
 * computed: decode + verify + validate against `now`, the node's rules,
 * then commit.  NBD_ACCEPTED also for a record the node already holds;
 * otherwise *ret says why (see enum nbd_accept_verdict).
 *
 * A peer's record by a blocked author, over its author's quota, or a
 * retraction by someone other than the author of what it retracts, is also
 * tombstoned, so reconciliation stops offering it.  A peer's retraction of
 * a record the node does not hold is kept; when that record arrives, it is
 * refused if its author signed the retraction and accepted otherwise (the
 * retraction is then deleted and tombstoned): docs/protocol.md,
 * "Retractions".
 *
 * Quota: no more than quota_hour records of one author with created_at in
 * one UTC hour, nor quota_day in one UTC day, are stored.  The first refusal
 * of an author in a window is logged.
 */
enum nbd_accept_verdict nbd_node_accept(struct nbd_node *node, const uint8_t *bytes, size_t len,
                                        const uint8_t id[NB_ID_SIZE], uint64_t now,
                                        struct nbd_origin origin, struct nbd_accept_report *ret);

/* Sets the quotas (records per author per hour and per day; 0 is no quota). */
void nbd_node_set_quota(struct nbd_node *node, uint32_t per_hour, uint32_t per_day);

/*
 * The authors refused for their quota in the last day (node clock), most
 * recent first; returns how many were written to ret (at most max).
 */
size_t nbd_node_over_quota(const struct nbd_node *node, uint64_t now, struct nbd_over_quota *ret,
                           size_t max);

/*
 * Blocks a member on this node: their records, and every record that acts
 * on them, are deleted at once (*ret_deleted counts them all), leaving
 * tombstones, and nbd_node_accept refuses whatever they sign from now on
 * ("refused"), from a client or a peer.  Blocking is this node's alone: it
 * sends nothing to peers.  Blocking a member already blocked succeeds and
 * keeps the first date.
 */
int nbd_node_block(struct nbd_node *node, const uint8_t member[NB_KEY_SIZE], uint64_t now,
                   uint64_t *ret_deleted, struct nbd_verdict *v);

/*
 * Lets a blocked member's new records in again; what was deleted stays
 * deleted (its tombstones remain).  NB_ENOENT ("not_found") if the member
 * is not blocked.
 */
int nbd_node_unblock(struct nbd_node *node, const uint8_t member[NB_KEY_SIZE],
                     struct nbd_verdict *v);

/*
 * Group commit.  An fsync per record (synchronous=FULL, ~400 us on a plain
 * disk) costs several times the signature check, so a caller that holds
 * many records at once (one read from a control connection with pipelined
 * submits, one read from a peer link during sync) brackets them:
 *
 *     nbd_node_batch_begin(node);
 *     ... nbd_node_accept(...) for each record, replies held back ...
 *     r = nbd_node_batch_end(node);
 *     r == 0: every record accepted in the batch is durable: send the replies
 *     r <  0: no acceptance in the batch may be acknowledged
 *
 * Inside a batch nbd_node_accept validates and inserts into one store
 * transaction (begun at the first insert, each record's writes a savepoint
 * in it) and defers the accept hooks; checks in the batch see the records
 * inserted before them (same connection).  The commit happens at the
 * outermost nbd_node_batch_end (or an earlier nbd_node_flush); the hooks run
 * only after it succeeded, so nothing a hook reveals (a push to peers, a
 * watch event) can be lost in a crash.  If the commit fails, the
 * transaction is rolled back, its hook calls are dropped and
 * nbd_node_batch_end returns the error: the caller must then fail every
 * reply it held back for the batch.  Batches nest (a depth counter);
 * outside any batch each record is its own batch.
 */
void nbd_node_batch_begin(struct nbd_node *node);
int nbd_node_batch_end(struct nbd_node *node);
/*
 * Ends a batch as nbd_node_batch_end does, except that the outermost one
 * leaves its transaction open: its records are committed (and their hooks
 * run) by the next nbd_node_flush, the end of the next batch, or the next
 * record accepted outside a batch, whichever comes first.  Only for records
 * nobody was told are stored and that come again if lost: a peer's records
 * during a catch-up, fetched again at the next reconciliation after a
 * crash.  Meanwhile the node's own reads see them.
 */
void nbd_node_batch_leave_open(struct nbd_node *node);

/*
 * Commits what the open batch holds now and runs its deferred hooks (the
 * batch stays open).  For callers about to reveal the store's contents to a
 * peer.  Returns the batch's error so far, if any.
 */
int nbd_node_flush(struct nbd_node *node);

/*
 * The derived state of the stored request or offer `root`.  Release with
 * nb_state_free().  NB_EINVAL if the record is not a request or an offer.
 */
int nbd_node_derive(struct nbd_node *node, const struct nbd_store_record *root, uint64_t now,
                    struct nb_state *ret);

/* Runs the periodic purge: requests that ended (done or cancelled) and
 * records that expired, purge_grace ago; old tombstones. */
int nbd_node_purge(struct nbd_node *node, uint64_t now, uint64_t *ret_records,
                   uint64_t *ret_tombstones);

#endif
