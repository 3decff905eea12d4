/*
 * What daemon/net/net.c and daemon/net/sync.c share: the network object, the table
 * of known addresses and the limits of the layers above the link.  Nothing
 * outside these files includes this header: the rest of the daemon uses
 * daemon/net/net.h, and daemon/net/link.c sees only daemon/net/link.h.
 */
#ifndef NOABERD_NET_INTERNAL_H
#define NOABERD_NET_INTERNAL_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <uv.h>

#include <noaber/negentropy.h>
#include <noaber/peerwire.h>

#include "daemon/net/link.h"
#include "daemon/net/net.h"
#include "daemon/net/sync.h"

/* Limits of docs/protocol.md, "Limits" and "Reconnecting" (milliseconds
 * where they are times). */
#define NET_TICK_MS          250
#define NET_BACKOFF_FIRST_MS 1000
#define NET_BACKOFF_MAX_MS   300000
#define NET_BACKOFF_BAD_MS   600000
#define NET_STABLE_MS        60000
/* A peer whose link went silent (a partition, a suspended machine) is
 * dialed again at most this long apart for NET_HEAL_WINDOW_MS, rather than
 * backing off to NET_BACKOFF_MAX_MS: the partition may heal any moment,
 * and the link should come back within seconds when it does. */
#define NET_BACKOFF_HEAL_MS 10000
#define NET_HEAL_WINDOW_MS  3600000
/* The receiver's bucket for unsolicited records. */
#define NET_RX_RATE  1000.0
#define NET_RX_BURST 5000.0
/* The sender paces its own unsolicited records a little below the
 * receiver's bucket, so that a peer never drops what we push because the
 * network delivered a burst. */
#define NET_TX_RATE  900.0
#define NET_TX_BURST 4500.0
/* Records are handed to the socket only while less than this is queued, so
 * pushes never approach NET_OUTPUT_MAX. */
#define NET_TX_LOW_WATER (1024u * 1024)
/* ids waiting to be pushed on one link; beyond this the next
 * reconciliation catches the peer up. */
#define NET_PUSH_QUEUE_MAX (256u * 1024)
/* Wanted ids in flight per link: about NET_WANT_WINDOW_S of what the link
 * delivers, so that a live record the peer pushes waits behind no more of
 * the backlog than that; at least NET_WANT_WINDOW_MIN and at most two
 * `want` batches.  A new link starts at NET_WANT_RATE_START records/s. */
#define NET_WANTED_MAX      (2 * NB_PEER_IDS_MAX)
#define NET_WANT_WINDOW_MIN 32
#define NET_WANT_WINDOW_S   0.5
#define NET_WANT_RATE_START 256.0
/* Backlog pushes are handed to the socket only while less than this is
 * queued on the link, so a live record finds little ahead of it. */
#define NET_BACKLOG_LOW_WATER (64u * 1024)
/* The longest one call spends looking up needed ids in the store. */
#define NET_WANT_SCAN_NS (20u * 1000 * 1000)
/* A fetch that makes no progress for this long is given up. */
#define NET_FETCH_STALL_MS 60000
/* A link's first reconciliation waits while another link's first one, or
 * more than NET_HELP_MIN ids it found to fetch, are under way, at most
 * NET_ROUND_POSTPONE_MS; meanwhile it asks its own peer for a share of those
 * ids, until that peer has said it lacks NET_HELP_MISSING_MAX of them
 * (docs/protocol.md, "Catching up from several peers"). */
#define NET_HELP_MIN          32
#define NET_ROUND_POSTPONE_MS 120000
#define NET_HELP_MISSING_MAX  256
/* The largest `neg` message a responder sends: a node that lacks much gets
 * the ids a few at a time, so that its other links start fetching them
 * early and a live record pushed on the same link does not wait behind a
 * long list (at 16 KiB/s, a second). */
#define NET_NEG_ANSWER_MAX 16384
/* Nodes and addresses refused for a while after too many invalid
 * messages (docs/protocol.md, "Limits"). */
#define NET_BANS_MAX 64
/* A ban's strikes are forgotten after this long without a new one; each
 * strike before that doubles the next ban, up to 2^4 times the first. */
#define NET_BAN_DECAY_MS  (6u * 3600 * 1000)
#define NET_BAN_DOUBLINGS 4

/* Connections still in the handshake: per address (an IPv6 /64 counts as
 * one address) and in all.  Established links count apart, against
 * max_peers. */
#define NET_HANDSHAKE_PER_ADDRESS 8
#define NET_HANDSHAKE_MAX         64
/* Outbound links the node keeps dialing for even when inbound links fill
 * max_peers: a node that is only ever dialed can be surrounded. */
#define NET_OUTBOUND_KEEP 4

/* The address table (docs/protocol.md, "Address table"): addresses other
 * nodes named are unverified until a handshake there succeeds. */
#define NET_UNVERIFIED_MAX        64
#define NET_UNVERIFIED_PER_SOURCE 8
#define NET_UNVERIFIED_TRIES      3
#define NET_UNVERIFIED_MS         (3600u * 1000)
/* A verified address learned from others with no contact this long (wall
 * clock seconds) is forgotten. */
#define NET_LEARNED_TTL_S (30u * 24 * 3600)
/* Dials to unverified addresses: one every 2 s, bursts of 4. */
#define NET_UNVERIFIED_DIAL_RATE  0.5
#define NET_UNVERIFIED_DIAL_BURST 4.0

/* Bounds on one reconciliation (docs/protocol.md, "Limits").  ids: what the
 * initiator accumulates in one round (have + need) before it ends the round
 * early, fetches and starts another; messages: `neg` messages in one round,
 * either side; CPU: the time spent on a peer's `neg` messages is taken from
 * a bucket that refills at 1/10 of wall-clock time up to 10 s. */
#define NET_RECONCILE_IDS_MAX      (1u << 17)
#define NET_RECONCILE_MSGS_MAX     1024
#define NET_RECONCILE_CPU_BURST_NS (10ull * 1000 * 1000 * 1000)
#define NET_RECONCILE_CPU_SHARE    0.1

/* Rateless reconciliation (docs/protocol.md, "Rateless reconciliation"):
 * coded symbols per `rbl` message, and the first flight of a round: large
 * enough to decode about 100 differences at once on a link's first round,
 * small on the rounds of a link kept in sync by pushes, where the
 * difference is usually none. */
#define NET_RIBLT_BATCH         32
#define NET_RIBLT_FLIGHT_FIRST  192
#define NET_RIBLT_FLIGHT_SYNCED 16
/* A node whose newest record is older than this, in sync with no peer yet,
 * was away: its first round reconciles with Negentropy (sync.c,
 * back_from_away; docs/protocol.md, "Rateless reconciliation"). */
#define NET_AWAY_S (6u * 3600)

/* The records of one read held for their signatures to be checked
 * together: a read is at most 64 KiB, so this bound is rarely reached. */
#define NET_INBOX_MAX (256u * 1024)
/* Records read and not yet accepted, over all links: beyond this the loop
 * waits for the oldest batch's signatures before it reads on.  The want
 * window (NET_WANTED_MAX) and the push bucket keep it far lower. */
#define NET_VERIFYING_MAX (8u * 1024 * 1024)
/* While more checked records are on their way, those accepted are
 * committed together once this many are held or the oldest was accepted
 * this long ago (one fsync per a few thousand records during a catch-up
 * rather than one per read). */
#define NET_COMMIT_RECORDS 2048
#define NET_COMMIT_MS      100

/* Records waiting for their target, over all links. */
#define NET_PENDING_MAX       4096
#define NET_PENDING_BYTES_MAX (4u * 1024 * 1024)
/* A pushed record whose target has not come in this long is dropped; the
 * next reconciliation brings both again. */
#define NET_PENDING_MS 120000

/* A known address (one row of `peers` with its dial state). */
struct nbd_peer {
    struct nbd_peer *next;
    char address[NBD_NET_ADDRESS_MAX + 1];
    enum nbd_peer_source source;
    bool has_node;
    uint8_t node[NB_KEY_SIZE];
    bool self; /* it turned out to be this node: never dialed */
    unsigned failures;
    uint64_t next_attempt; /* uv_now() ms */
    uint64_t silent_since; /* uv_now() ms its link went silent; 0 when it answers */
    bool resolving;
    uv_getaddrinfo_t resolve;
    struct nbd_link *link; /* the link serving this address, if any */
    bool has_last_contact;
    uint64_t last_contact;
    uint64_t records_in, records_out, invalid; /* of closed links */
    bool synced;
    char last_error[160];
    /* Learned addresses (exchange, discovery) count as unverified until a
     * handshake with a dial to them succeeds. */
    bool verified;
    uint64_t learned_at;   /* uv_now() ms */
    char learned_from[64]; /* the address group of the peer that named it */
    bool forget;           /* removed while its name was being resolved */
};

/* A record that arrived before its target. */
struct nbd_pending {
    struct nbd_link *link;
    uint64_t added; /* uv_now() ms */
    uint8_t target[NB_ID_SIZE];
    uint8_t id[NB_ID_SIZE]; /* the waiting record's, hashed when it arrived */
    size_t len;
    uint8_t *bytes;
    bool fetched; /* this node asked for it (struct nbd_origin) */
};

/* An address (group) refused for a while; see ban() in daemon/net/net.c. */
struct nbd_address_ban {
    char group[64];
    uint64_t until, last; /* uv_now() ms */
    unsigned strikes;
};

struct nbd_net {
    uv_loop_t *loop;
    struct nbd_node *node;
    uint64_t (*clock)(void);
    uv_tcp_t server;
    uv_timer_t tick;
    bool server_open, tick_open;
    bool running, stopping;
    char *listen;
    char *advertise_cfg;
    char advertise[NBD_NET_ADDRESS_MAX + 1];
    uint16_t port;
    unsigned max_peers;
    uint64_t sync_interval_ms;
    bool no_peer_exchange;
    uint8_t node_pk[NB_KEY_SIZE];
    uint8_t node_sk[NB_NODE_SECRET_KEY_SIZE];
    uint8_t psk[NB_NEIGHBOURHOOD_PSK_SIZE];
    struct nbd_peer *peers;
    size_t n_peers;
    struct nbd_link_host host; /* the links, in host.links */
    bool allow_loopback;
    struct {
        uint8_t node[NB_KEY_SIZE];
        uint64_t until; /* uv_now() ms */
    } bans[NET_BANS_MAX];
    struct nbd_address_ban address_bans[NET_BANS_MAX];
    double dial_tokens;
    uint64_t dial_at;
    struct nbd_pending pending[NET_PENDING_MAX];
    size_t n_pending, pending_bytes;
    /* Checks the signatures of peers' records on every core; made at the
     * first records (NULL then: checked on the loop thread alone). */
    struct nbd_verifier *verifier;
    bool verifier_tried;
    /* Batches of records with the verifier, in the order they were read
     * over all links, and their bytes (daemon/net/sync.c). */
    struct nbd_rx_batch *rx_head, **rx_tail;
    size_t rx_bytes;
    bool rx_accepting;
    /* Checked records accepted into a transaction left open while more
     * are with the verifier, and since when (uv_now() ms). */
    size_t rx_held;
    uint64_t rx_held_since;
    /* The item cache (daemon/net/sync.c). */
    struct nbd_items *items;
    struct nb_negentropy_item *recent;
    size_t recent_n, recent_cap;
    bool items_stale;
    /* The node's coded symbols for rateless reconciliation (daemon/net/sync.c):
     * built beside the loop at the first round that needs them, then kept
     * as records are accepted and brought along when the snapshot is
     * rebuilt.  NULL until built. */
    struct nbd_coded *coded;
    /* The build in libuv's threadpool: the snapshot it hashes (a
     * reference) and what it made; rounds that need the coded symbols
     * meanwhile wait for it (struct nbd_sync, rb_waiting and rb_held). */
    uv_work_t coded_work;
    bool coded_building;
    uint64_t coded_started; /* uv_hrtime() */
    struct nbd_items *coded_from;
    struct nbd_coded *coded_made;
};

/*
 * Coded symbols shared by the node and the rateless sessions that use them:
 * a session takes a reference to the symbols as its round began, and the
 * node copies them before changing them only while a session holds them,
 * so that 8 quiet links share one copy instead of holding one each.
 */
struct nbd_coded {
    unsigned refs;
    struct nb_riblt_encoder enc;
};

static inline struct nbd_net *link_net(const struct nbd_link *link)
{
    return container_of(link->host, struct nbd_net, host);
}

#endif
