/*
 * Reconciliation and record exchange over one link (daemon/net/sync.c): the
 * state a link carries for it and what daemon/net/net.c calls.
 */
#ifndef NOABERD_SYNC_H
#define NOABERD_SYNC_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <noaber/negentropy.h>
#include <noaber/peerwire.h>
#include <noaber/record.h>
#include <noaber/riblt.h>

#include "daemon/node.h"

struct nbd_link;
struct nbd_coded;
struct nbd_net;
struct nbd_rx_batch;

/* A refcounted, sorted snapshot of the node's items for negentropy. */
struct nbd_items {
    unsigned refs;
    struct nb_negentropy_item *items;
    size_t count;
    struct nb_negentropy_storage storage;
};

/* ids waiting to be pushed on one link, a ring that grows. */
struct nbd_push_queue {
    uint8_t (*ids)[NB_ID_SIZE];
    size_t head, len, cap;
};

struct nbd_inbox_record {
    size_t off, len;
    bool solicited;
    uint8_t id[NB_ID_SIZE];
};

/* How a round reconciled (docs/protocol.md, "Rateless reconciliation"). */
enum nbd_reconcile_mode {
    NBD_RECONCILE_NONE = 0,
    NBD_RECONCILE_NEGENTROPY,
    NBD_RECONCILE_RIBLT,
};

/* "negentropy", "riblt", or NULL for none yet. */
const char *nbd_reconcile_mode_name(enum nbd_reconcile_mode mode);

/* Reconciliation and record exchange over one link (daemon/net/sync.c). */
struct nbd_sync {
    /* Both: how the current round reconciles (the initiator's round, or the
     * session the responder answers), and how the last completed one did. */
    enum nbd_reconcile_mode mode, last_mode;
    /* Initiator, rateless: its coded symbols as the round began, how many
     * it sent, and how many the responder lets it send. */
    struct nbd_coded *rb_enc;
    size_t rb_sent, rb_allowed;
    /* Initiator: the round waits for the node's coded symbols, being
     * built beside the loop. */
    bool rb_waiting;
    /* Initiator: the rateless round failed to decode, so this round goes
     * on with Negentropy. */
    bool rb_fell_back;
    /* Responder, rateless: the session it decodes (its own coded symbols as
     * the session began, and the decoder), NULL outside one. */
    struct nbd_coded *rb_local;
    struct nb_riblt_decoder *rb_dec;
    /* Responder: the symbols of a session that came while the node's coded
     * symbols were being built (from index 0, contiguous; NULL outside),
     * and the end of the flight the last of them named. */
    struct nb_riblt_symbol *rb_held;
    size_t rb_held_n;
    uint64_t rb_held_end;
    /* Initiator: one reconciliation at a time. */
    bool reconciling;
    /* Initiator: a round is due but waits while another link's first
     * reconciliation, or the many fetches it found, are under way (since
     * due_since); meanwhile this link fetches a share of them. */
    bool round_due;
    uint64_t due_since;
    /* Ids this link's peer said it lacks when this link asked it for a
     * share of another link's fetches: past NET_HELP_MISSING_MAX it stops. */
    unsigned help_missing;
    /* Bytes of reconciliation messages (Negentropy's and the rateless
     * ones, without framing) received and sent on this link. */
    uint64_t reconcile_in, reconcile_out;
    bool round_open; /* reconciled; `synced` not yet sent for this round */
    uint64_t round_started;
    struct nbd_items *snap;
    struct nb_negentropy ne;
    bool ne_open;
    struct nb_negentropy_ids have, need;
    size_t need_pos;
    uint8_t (*wanted)[NB_ID_SIZE]; /* sorted */
    size_t wanted_n;
    uint64_t fetch_progress; /* uv_now() of the last wanted record or missing */
    /* Needed ids another link had already asked its peer for: this link
     * asks for them only if that one does not deliver (each record is
     * fetched from one peer). */
    uint8_t (*deferred)[NB_ID_SIZE];
    size_t deferred_n, deferred_cap;
    /* Wanted records this link delivered since rate_at, and its rate in
     * records a second (sets how many ids are in flight: want_window). */
    unsigned fetched_since;
    uint64_t rate_at;
    double fetch_rate;
    /* The records of the current read, kept until its end (or the next
     * message of another kind) and then handed to the verifier's threads
     * as one batch (daemon/verify.h); offsets into `inbox`. */
    uint8_t *inbox;
    size_t inbox_used, inbox_cap;
    struct nbd_inbox_record *inbox_records;
    size_t inbox_n, inbox_records_cap;
    /* Records of this link handed to the verifier and not accepted yet
     * (a round's fetches are not done while any are), and the newest of
     * its batches there (daemon/net/sync.c, "Records on their way in"). */
    size_t verifying;
    struct nbd_rx_batch *rx_last;
    /* Records of this link were accepted into the node's open batch: told
     * if its commit fails. */
    bool rx_uncommitted;
    /* Both: records to push, oldest first, paced by the send bucket.  Live
     * records (a client's, a peer's push) go before the backlog (what a
     * reconciliation showed the peer lacks), which waits for the round's
     * fetches so that what they retract is not pushed. */
    struct nbd_push_queue live, backlog;
    double tx_tokens;
    uint64_t tx_at;
    double rx_tokens;
    uint64_t rx_at;
    bool rx_drop_logged;
    bool synced; /* a reconciliation completed on this link */
    /* The round stopped at NET_RECONCILE_IDS_MAX differences: once they
     * are fetched and pushed, another round starts at once. */
    bool partial;
    /* Nanoseconds of reconciliation work this peer may still make us do
     * (a bucket, see NET_RECONCILE_CPU_SHARE). */
    double cpu_tokens;
    uint64_t cpu_at;
    /* Records of this round the node could not keep: its store failed (a
     * full disk) or they were created in its future (a clock apart).  A
     * round with any is not in sync, and the next starts after
     * retry_ms, doubling up to the sync interval, not a whole interval on. */
    uint64_t unstored;
    int unstored_code;
    uint64_t retry_ms;
    /* The initiator's figures for the current round, logged at `synced`. */
    unsigned rounds;
    uint64_t round_bytes_in, round_bytes_out, round_pushed, round_fetched;
};

void sync_link_up(struct nbd_link *link);
void sync_link_closed(struct nbd_link *link);
void sync_tick(struct nbd_link *link, uint64_t now);
void sync_drain(struct nbd_link *link);
/* Records of `link` were not kept (a failed commit, `code`): the link is not
 * in sync, and a round comes again after a backoff. */
void sync_not_kept(struct nbd_link *link, int code);
void sync_on_message(struct nbd_link *link, const struct nb_peer_msg *msg);
/* Hands the records the link has read so far to the verifier (at the end
 * of each read); they are accepted when their signatures are checked, in
 * the order they were read. */
void sync_submit_records(struct nbd_link *link);
/* Checks and accepts the records the link has read so far, and those still
 * with the verifier, before returning: before a message whose meaning may
 * follow from them. */
void sync_flush_records(struct nbd_link *link);
/* Ends the node's batch opened around a read or around accepting checked
 * records; if its commit failed, every link whose records were in it is
 * told (they are fetched again).  `link`, if not NULL, is told in any case. */
void sync_batch_end(struct nbd_net *net, struct nbd_link *link);
/* Waits for the records still with the verifier and stops its threads
 * (the node is stopping: the links are closed, the records dropped). */
void sync_stop(struct nbd_net *net);
uint64_t sync_fetching(const struct nbd_link *link);
void sync_on_accept(void *ctx, const uint8_t id[NB_ID_SIZE], const uint8_t *bytes, size_t len,
                    const struct nb_record *rec, const struct nbd_origin *origin);
int sync_items_get(struct nbd_net *net, struct nbd_items **ret);
void sync_items_put(struct nbd_items *items);
void sync_free(struct nbd_net *net);
void sync_expire_pending(struct nbd_net *net, uint64_t now);

#endif
