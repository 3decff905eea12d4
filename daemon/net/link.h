/*
 * One TCP link to another node (daemon/net/link.c): the Noise handshake with
 * hellos, encrypted frames, keepalive and the bound on queued output.
 *
 * The link knows nothing of the layers above it.  It reports upward through
 * the events of its host (struct nbd_link_events): the handshake completed,
 * a message arrived, output drained, the link closed.  daemon/net/net.c owns the
 * host and decides what each event means (admission, the address table,
 * reconciliation in daemon/net/sync.c), so the calls between the three files run
 * one way only: net.c calls link.c and sync.c, sync.c calls link.c, link.c
 * calls nothing above it.
 */
#ifndef NOABERD_LINK_H
#define NOABERD_LINK_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <uv.h>

#include <noaber/frame.h>
#include <noaber/noise.h>
#include <noaber/peerwire.h>

#include "daemon/net/net.h"
#include "daemon/net/sync.h"

#define container_of(ptr, type, member) ((type *)((char *)(ptr)-offsetof(type, member)))

/* Limits of docs/protocol.md, "Limits" (milliseconds where they are times). */
#define NET_OUTPUT_MAX   (8u * 1024 * 1024)
#define NET_PING_IDLE_MS 5000
/* A link that answered none of the pings of this long is closed and its
 * peer dialed again: with a ping every 5 s of quiet, that is four pings
 * without an answer, so a healed partition heals within seconds instead
 * of waiting for a silence timeout. */
#define NET_SILENT_MS 25000
/* A connected peer silent this long is not counted as up to date: with a
 * ping after 5 s of quiet, a live peer answers well within it. */
#define NET_QUIET_MS     15000
#define NET_HANDSHAKE_MS 30000
/* A read of more than this is a burst (keepalives are far smaller). */
#define NET_BURST_READ  256
#define NET_INVALID_MAX 16

struct nbd_link;
struct nbd_peer;

/* What a link tells its host.  Every callback runs on the loop thread. */
struct nbd_link_events {
    void *ctx;
    /* The handshake completed: the link's node key and hello are known.
     * The callee may close the link (a banned node, a duplicate session). */
    void (*up)(void *ctx, struct nbd_link *link);
    /* A decoded message other than a keepalive (ping and pong are answered
     * by the link itself). */
    void (*message)(void *ctx, struct nbd_link *link, const struct nb_peer_msg *msg);
    /* Queued output was handed to the kernel: there may be room to send. */
    void (*written)(void *ctx, struct nbd_link *link);
    /* The link is closing; `was_up` says whether its handshake had
     * completed.  Called once, before the handle closes. */
    void (*closed)(void *ctx, struct nbd_link *link, bool was_up, const char *why);
    /* Around the messages of one read, so the host can group their
     * effects (one commit for the records of a read). */
    void (*read_begin)(void *ctx, struct nbd_link *link);
    void (*read_end)(void *ctx, struct nbd_link *link);
};

/* What links share: the loop, this node's keys, the events, and the list
 * of open links (link.c adds and removes them). */
struct nbd_link_host {
    uv_loop_t *loop;
    const uint8_t *node_sk; /* NB_NODE_SECRET_KEY_SIZE */
    const uint8_t *psk;     /* NB_NEIGHBOURHOOD_PSK_SIZE */
    const char *advertise;  /* hello `listen`; "" = none */
    bool riblt;             /* hello `riblt`: offer rateless reconciliation */
    uint64_t (*clock)(void);
    struct nbd_link_events ev;
    struct nbd_link *links;
    /* One read buffer for every link: libuv never runs two reads at once,
     * and each read is consumed (decrypted into the link's frame decoder)
     * before on_read returns, so a buffer per link would only hold pages. */
    uint8_t rbuf[65536];
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
    struct nbd_link_host *host;
    bool outbound;
    enum link_state state;
    char remote[NBD_NET_ADDRESS_MAX + 1]; /* IP:PORT as seen on the socket */
    char remote_ip[64];                   /* the IP alone ("" if unknown) */
    struct nb_noise_handshake hs;
    unsigned hs_reads; /* handshake messages read from the peer */
    struct nb_frame_link fl;
    bool has_node;
    uint8_t node[NB_KEY_SIZE];
    struct nb_peer_hello hello;
    /* The peer's clock minus ours at the handshake, in seconds, where its
     * hello said its time (docs/protocol.md, "Hello"). */
    bool has_clock_offset;
    int64_t clock_offset;
    uint64_t started, up_since, last_rx, last_tx, last_ping; /* uv_now() ms */
    uint64_t last_contact;                                   /* wall clock */
    uint64_t ping_nonce;
    uint64_t records_in, records_out, invalid;
    uint64_t bytes_in, bytes_out; /* on the wire, frames and handshake included */
    bool warned;                  /* one warning per bad peer */
    /* Set by the layers above; the link only carries them. */
    bool long_backoff;     /* misbehaved: ban its node and address */
    bool no_backoff;       /* closed for a reason that says nothing of the address */
    bool went_silent;      /* closed because it answered no ping for NET_SILENT_MS */
    struct nbd_peer *peer; /* the known address this link serves, if any */
    struct nbd_sync sync;
    struct nb_peer_msg msg; /* decode scratch */
    /* The frame decoder and the scratch above hold pages since the link's
     * last burst (a read of more than a keepalive), at uv_now() last_burst;
     * link_tick gives them back once it is quiet. */
    bool buffers_touched;
    uint64_t last_burst;
};

/* Accepts a connection waiting on `server` and starts the responder's
 * handshake.  Returns the new link (in host->links) or NULL. */
struct nbd_link *link_accept(struct nbd_link_host *host, uv_stream_t *server);
/* Opens a connection to `addr` for the known address `remote`.  Returns the
 * new link or NULL (nothing is left open). */
struct nbd_link *link_dial(struct nbd_link_host *host, const char *remote,
                           const struct sockaddr *addr);
int link_send(struct nbd_link *link, const uint8_t *msg, size_t len);
void link_close(struct nbd_link *link, const char *why);
/* Timeouts and keepalive; called every NET_TICK_MS. */
void link_tick(struct nbd_link *link, uint64_t now);
void link_warn(struct nbd_link *link, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
/* A message that did not decode or broke a rule: counts toward the
 * NET_INVALID_MAX after which the link is closed and its peer banned. */
void link_invalid(struct nbd_link *link, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));
size_t link_queued(const struct nbd_link *link);
/* The IP of a socket address as text (IPv6 without brackets) and its port
 * (port may be NULL); "" for another family. */
void link_ip_name(const struct sockaddr *sa, char *ip, size_t ip_size, uint16_t *port);
const char *link_name(const struct nbd_link *link);

#endif
