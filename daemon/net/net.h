/*
 * The neighbourhood network: noaberd's links to other nodes
 * (docs/protocol.md, "Peer network").
 *
 * The layers, one file each:
 *
 *   proto/peerwire.c   pure encode/decode of hellos and peer messages
 *   daemon/net/link.c      one TCP link: Noise handshake, frames, keepalive,
 *                      output bound, rate limit, message dispatch
 *   daemon/net/sync.c      reconciliation over a link: negentropy, want/record/
 *                      missing, push of accepted records, waiting records,
 *                      the cached item set
 *   daemon/net/net.c       the table of known addresses (sources, backoff,
 *                      persistence), the listener, dialing, and this API
 *
 * Everything runs on the loop thread.  The net object is owned by main.c;
 * control.c (ops `peers`, `peer.add`, `status`, `invite` and `join`) and
 * daemon/net/discovery.c call in here.
 */
#ifndef NOABERD_NET_H
#define NOABERD_NET_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <uv.h>

#include <noaber/identity.h>

#include "daemon/node.h"

#define NBD_NET_PORT_DEFAULT          7447
#define NBD_NET_MAX_PEERS_DEFAULT     16
#define NBD_NET_SYNC_INTERVAL_DEFAULT 300 /* seconds */
/* "HOST:PORT" with a DNS name of at most 253 bytes, or a bracketed IPv6. */
#define NBD_NET_ADDRESS_MAX 260
/* Known addresses kept.  Addresses the operator gives (config, invite,
 * `peer add`) push out learned ones when the table is full; learned ones
 * (exchange, discovery) beyond it are not added (docs/protocol.md,
 * "Address table"). */
#define NBD_NET_KNOWN_MAX 256

/* Where a known address came from (docs/protocol.md, "Reconnecting"). */
enum nbd_peer_source {
    NBD_SOURCE_CONFIG = 0,    /* `peer` in the config file */
    NBD_SOURCE_INVITE = 1,    /* the invite a node joined with */
    NBD_SOURCE_MANUAL = 2,    /* `noaber peer add` */
    NBD_SOURCE_EXCHANGE = 3,  /* another node's `peers` message or hello */
    NBD_SOURCE_DISCOVERY = 4, /* a LAN beacon */
    NBD_SOURCE_INBOUND = 5,   /* listing only: a node that connected to us
                                 without telling where it listens */
};

/* "config", "invite", "manual", "exchange", "discovery", "inbound". */
const char *nbd_peer_source_name(enum nbd_peer_source source);

/* What main.c passes in (resolved settings, docs/config.md). */
struct nbd_net_config {
    const char *data_dir;  /* node.key lives here */
    const char *listen;    /* "HOST:PORT"; NULL = "0.0.0.0:7447"; port 0 = any */
    const char *advertise; /* NULL = derived from listen (see nbd_net_advertise) */
    const char *const *peers;
    size_t n_peers;
    unsigned max_peers;     /* 0 = NBD_NET_MAX_PEERS_DEFAULT */
    uint64_t sync_interval; /* seconds; 0 = NBD_NET_SYNC_INTERVAL_DEFAULT */
    /* peer_exchange = off: `peers` messages go out empty and incoming ones
     * are ignored, so the node links only to the addresses it was given. */
    bool no_peer_exchange;
    /* Dial loopback and link-local addresses that other nodes name (off
     * by default: such an address can only lead back to this machine or
     * its link; the end-to-end tests, all on 127.0.0.1, turn it on). */
    bool peer_exchange_allow_loopback;
    /* Offer rateless reconciliation in the hello (reconcile_riblt). */
    bool riblt;
    uint64_t (*clock)(void); /* wall clock, seconds since the epoch */
};

struct nbd_net;

/*
 * Creates the network layer: reads DATA_DIR/node.key (creating it, mode
 * 0600, at first start) and logs the node key as nbn1 text, loads the known
 * addresses saved in the store, adds the configured peers, and registers the
 * accept hook that pushes records.  It does not listen or dial yet: see
 * nbd_net_start.  On failure err says why.
 */
int nbd_net_new(uv_loop_t *loop, struct nbd_node *node, const struct nbd_net_config *cfg,
                struct nbd_net **ret, char *err, size_t err_size);

/*
 * Starts listening and connecting.  A node without a neighbourhood has no
 * PSK and so cannot speak to anyone: then this returns 0 and does nothing,
 * and must be called again once the node has one (after
 * neighbourhood.create or neighbourhood.join).  Calling it while running is
 * harmless.  Returns 0 or a negative code (the listen address cannot be
 * bound: logged, and the node keeps serving clients without peers).
 */
int nbd_net_start(struct nbd_net *net);

/* True once nbd_net_start has started listening. */
bool nbd_net_running(const struct nbd_net *net);

/*
 * Adds an address ("HOST:PORT", IPv6 host in brackets) to the known
 * addresses and dials it soon if there is room.  node_key is the node key
 * expected there (from an invite or a peers message) or NULL if unknown.
 * Known addresses are saved in the store so a restarted node reconnects.
 * An address already known keeps its entry (a NULL node key does not erase a
 * known one); a manual, invite or config add resets its backoff so it is
 * tried at once.  Returns 0, NB_EINVAL (not HOST:PORT), NB_ETOOBIG (table
 * full) or NB_EEXIST (the address is this node's own).
 */
int nbd_net_add_address(struct nbd_net *net, const char *address,
                        const uint8_t node_key[NB_KEY_SIZE], enum nbd_peer_source source);

/*
 * Forgets a known address (`noaber peer remove`): its link, if any, is
 * closed and it is no longer dialed or passed on.  An address from the
 * config file comes back at the next start.  Returns 0, NB_EINVAL (not
 * HOST:PORT) or NB_ENOENT (not known).
 */
int nbd_net_remove_address(struct nbd_net *net, const char *address);

/* This node's public node key (the Noise static key). */
const uint8_t *nbd_net_node_key(const struct nbd_net *net);

/*
 * The address this node tells others to reach it on (hello `listen`,
 * invites): `advertise` if set; else the listen address if its host is not a
 * wildcard; else the first non-loopback IPv4 address of the machine with the
 * listen port; else 127.0.0.1 with the listen port.  The port is the bound
 * one once listening (so port 0 gives the real port).
 */
const char *nbd_net_advertise(const struct nbd_net *net);

/* The bound TCP port, or 0 before listening. */
uint16_t nbd_net_port(const struct nbd_net *net);

/* Link states as the control API names them. */
enum nbd_peer_state {
    NBD_PEER_IDLE = 0,    /* known, not connected, may be dialed now */
    NBD_PEER_CONNECTING,  /* TCP connect (or name lookup) in progress */
    NBD_PEER_HANDSHAKING, /* Noise handshake in progress */
    NBD_PEER_CONNECTED,   /* established */
    NBD_PEER_BACKOFF,     /* waiting before the next attempt */
};
const char *nbd_peer_state_name(enum nbd_peer_state state);

/* One row of `peers`.  Strings are valid during the callback only. */
struct nbd_peer_info {
    bool has_node;
    uint8_t node[NB_KEY_SIZE];
    const char *address;
    enum nbd_peer_source source;
    enum nbd_peer_state state;
    bool outbound;
    bool has_last_contact;
    uint64_t last_contact; /* wall clock seconds of the last frame received */
    bool synced;
    bool silent;       /* connected, but nothing heard for NET_QUIET_MS */
    uint64_t fetching; /* records wanted and not yet received */
    uint64_t records_in, records_out, invalid;
    /* Bytes of reconciliation messages received and sent on the current
     * link (0 without one). */
    uint64_t reconcile_bytes_in, reconcile_bytes_out;
    const char *last_error; /* NULL if none */
    /* How the link's last completed reconciliation went: "riblt" or
     * "negentropy"; NULL before one completed. */
    const char *reconcile;
};

typedef int (*nbd_peer_cb)(void *ctx, const struct nbd_peer_info *info);

/* Calls cb for every known address and every unlisted inbound link, each
 * connected node once (by node key: an established link is shown under the
 * first known address of its node).  Stops at the first non-zero return and
 * returns it. */
int nbd_net_foreach_peer(struct nbd_net *net, nbd_peer_cb cb, void *ctx);

struct nbd_net_status {
    unsigned connected;     /* established links */
    unsigned known;         /* known addresses */
    uint64_t fetching;      /* records wanted over all links */
    unsigned fetching_from; /* links with records wanted */
    /*
     * True when every established link has finished a reconciliation
     * (`synced` sent or received) and nothing is being fetched, and at
     * least one link is established.  A node that knows no address at all
     * is alone and counts as in sync; a node that knows addresses but is
     * connected to none is not.
     */
    bool in_sync;
    unsigned silent; /* established links quiet for NET_QUIET_MS (15 s): not in sync */
    /* The median of the connected peers' clocks minus this node's, over the
     * peers whose hello said their time. */
    bool has_peers_clock;
    int64_t peers_clock_offset;
    unsigned peers_clocks;      /* how many peers it is the median of */
    unsigned retrying;          /* links whose last round brought records the node could not keep */
    int retry_code;             /* why, for one of them: NB_ENOSPC, NB_EFUTURE (a clock), ... */
    unsigned handshaking;       /* incoming connections still in their handshake */
    unsigned addresses_refused; /* addresses banned for now (docs/protocol.md, "Limits") */
};
void nbd_net_status(const struct nbd_net *net, struct nbd_net_status *ret);

/*
 * Tells the network layer that records were deleted other than by a
 * retraction it saw (the expiry purge): its cached item set is rebuilt from
 * the store before the next reconciliation.
 */
void nbd_net_records_deleted(struct nbd_net *net);

/*
 * As nbd_net_records_deleted, for records the node wants back from its
 * peers (damaged ones it removed): every link reconciles again at once
 * instead of at the next sync interval.
 */
void nbd_net_refetch(struct nbd_net *net);

/*
 * Closes every link and the listener and stops the timers; the handles
 * finish closing in the loop.  Links are closed after their queued output
 * is handed to the kernel.
 */
void nbd_net_stop(struct nbd_net *net);

/* Frees the network layer once uv_run has returned.  NULL is fine. */
void nbd_net_free(struct nbd_net *net);

#endif
