/*
 * What daemon/net.c, daemon/link.c and daemon/sync.c share.  Nothing
 * outside these three files includes this header: the rest of the daemon
 * uses daemon/net.h.
 */
#ifndef NOABERD_NET_INTERNAL_H
#define NOABERD_NET_INTERNAL_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <uv.h>

#include <noaber/frame.h>
#include <noaber/negentropy.h>
#include <noaber/noise.h>
#include <noaber/peerwire.h>

#include "daemon/net/net.h"

#define container_of(ptr, type, member) ((type *)((char *)(ptr)-offsetof(type, member)))

/* Limits of docs/protocol.md, "Limits" and "Reconnecting" (milliseconds
 * where they are times). */
#define NET_TICK_MS          250
#define NET_OUTPUT_MAX       (8u * 1024 * 1024)
#define NET_PING_IDLE_MS     30000
#define NET_SILENT_MS        90000
#define NET_HANDSHAKE_MS     30000
#define NET_BACKOFF_FIRST_MS 1000
#define NET_BACKOFF_MAX_MS   300000
#define NET_BACKOFF_BAD_MS   600000
#define NET_STABLE_MS        60000
#define NET_INVALID_MAX      16
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
/* Wanted ids in flight per link: two `want` batches. */
#define NET_WANTED_MAX (2 * NB_PEER_IDS_MAX)
/* A fetch that makes no progress for this long is given up. */
#define NET_FETCH_STALL_MS 60000
/* Nodes refused for a while after sending too many invalid records. */
#define NET_BANS_MAX 32

/* Records waiting for their target, over all links. */
#define NET_PENDING_MAX       4096
#define NET_PENDING_BYTES_MAX (4u * 1024 * 1024)
/* A pushed record whose target has not come in this long is dropped; the
 * next reconciliation brings both again. */
#define NET_PENDING_MS 120000

struct nbd_link;

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
    bool resolving;
    uv_getaddrinfo_t resolve;
    struct nbd_link *link; /* the link serving this address, if any */
    bool has_last_contact;
    uint64_t last_contact;
    uint64_t records_in, records_out, invalid; /* of closed links */
    bool synced;
    char last_error[160];
};

/* A refcounted, sorted snapshot of the node's items for negentropy. */
struct nbd_items {
    unsigned refs;
    struct nb_negentropy_item *items;
    size_t count;
    struct nb_negentropy_storage storage;
};

/* Reconciliation and record exchange over one link (daemon/sync.c). */
struct nbd_sync {
    /* Initiator: one reconciliation at a time. */
    bool reconciling;
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
    /* Both: records to push, oldest first, paced by the send bucket. */
    uint8_t (*queue)[NB_ID_SIZE];
    size_t q_head, q_len, q_cap;
    double tx_tokens;
    uint64_t tx_at;
    double rx_tokens;
    uint64_t rx_at;
    bool rx_drop_logged;
    bool synced; /* a reconciliation completed on this link */
    /* The initiator's figures for the current round, logged at `synced`. */
    unsigned rounds;
    uint64_t round_bytes_in, round_bytes_out, round_pushed, round_fetched;
};

enum link_state {
    LINK_CONNECTING = 0, /* outbound TCP connect */
    LINK_HANDSHAKE,      /* Noise messages */
    LINK_WAIT_FIRST,     /* initiator: waiting for the responder's first frame */
    LINK_UP,
    LINK_CLOSING,
};

struct nbd_link {
    uv_tcp_t tcp;
    uv_connect_t connect;
    struct nbd_link *next;
    struct nbd_net *net;
    struct nbd_peer *peer; /* NULL for an inbound link not tied to an address */
    bool outbound;
    enum link_state state;
    char remote[NBD_NET_ADDRESS_MAX + 1]; /* IP:PORT as seen on the socket */
    struct nb_noise_handshake hs;
    unsigned hs_reads; /* handshake messages read from the peer */
    struct nb_frame_link fl;
    bool has_node;
    uint8_t node[NB_KEY_SIZE];
    struct nb_peer_hello hello;
    uint64_t started, up_since, last_rx, last_tx, last_ping; /* uv_now() ms */
    uint64_t last_contact;                                   /* wall clock */
    uint64_t ping_nonce;
    uint64_t records_in, records_out, invalid;
    uint64_t bytes_in, bytes_out; /* on the wire, frames and handshake included */
    bool warned;                  /* one warning per bad peer */
    bool long_backoff;
    bool no_backoff;
    struct nbd_sync sync;
    struct nb_peer_msg msg; /* decode scratch */
    uint8_t rbuf[65536];
};

/* A record that arrived before its target. */
struct nbd_pending {
    struct nbd_link *link;
    uint64_t added; /* uv_now() ms */
    uint8_t target[NB_ID_SIZE];
    uint8_t id[NB_ID_SIZE]; /* the waiting record's, hashed when it arrived */
    size_t len;
    uint8_t *bytes;
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
    struct nbd_link *links;
    struct {
        uint8_t node[NB_KEY_SIZE];
        uint64_t until; /* uv_now() ms */
    } bans[NET_BANS_MAX];
    struct nbd_pending pending[NET_PENDING_MAX];
    size_t n_pending, pending_bytes;
    /* The item cache (daemon/sync.c). */
    struct nbd_items *items;
    struct nb_negentropy_item *recent;
    size_t recent_n, recent_cap;
    bool items_stale;
};

/* net.c */
void net_peer_failed(struct nbd_net *net, struct nbd_peer *peer, const char *why,
                     bool long_backoff);
void net_link_up(struct nbd_link *link);
void net_learn_addresses(struct nbd_net *net, const struct nb_peer_msg *msg);
void net_save_peers(struct nbd_net *net);
void net_ban(struct nbd_net *net, const uint8_t node[NB_KEY_SIZE]);
int net_send_peers(struct nbd_link *link);

/* link.c */
int link_accept(struct nbd_net *net);
int link_dial(struct nbd_net *net, struct nbd_peer *peer, const struct sockaddr *addr);
int link_send(struct nbd_link *link, const uint8_t *msg, size_t len);
void link_close(struct nbd_link *link, const char *why);
void link_tick(struct nbd_link *link, uint64_t now);
void link_warn(struct nbd_link *link, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
size_t link_queued(const struct nbd_link *link);
const char *link_name(const struct nbd_link *link);

/* sync.c */
void sync_link_up(struct nbd_link *link);
void sync_link_closed(struct nbd_link *link);
void sync_tick(struct nbd_link *link, uint64_t now);
void sync_drain(struct nbd_link *link);
void sync_on_message(struct nbd_link *link, const struct nb_peer_msg *msg);
uint64_t sync_fetching(const struct nbd_link *link);
void sync_on_accept(void *ctx, const uint8_t id[NB_ID_SIZE], const uint8_t *bytes, size_t len,
                    const struct nb_record *rec, const struct nbd_origin *origin);
int sync_items_get(struct nbd_net *net, struct nbd_items **ret);
void sync_items_put(struct nbd_items *items);
void sync_free(struct nbd_net *net);
void sync_expire_pending(struct nbd_net *net, uint64_t now);

#endif
