/*
 * One TCP link to another node: the Noise handshake with hellos, encrypted
 * frames, keepalive, the bound on queued output, and dispatch of decoded
 * messages to daemon/sync.c and daemon/net.c.
 */
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <sodium.h>

#include <noaber/error.h>

#include "daemon/log.h"
#include "daemon/net/net_internal.h"

struct wreq {
    uv_write_t req;
    struct nbd_link *link;
    size_t len;
    uint8_t data[];
};

const char *link_name(const struct nbd_link *link)
{
    return link->remote;
}

void link_warn(struct nbd_link *link, const char *fmt, ...)
{
    char buf[512];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(buf, sizeof(buf), fmt, ap);
    va_end(ap);
    /* Warnings about a peer are written once per link, never per message:
     * a broken or hostile peer must not be able to flood the log. */
    if (link->warned) {
        nbd_debug("peer %s: %s", link->remote, buf);
        return;
    }
    link->warned = true;
    nbd_warn("peer %s: %s", link->remote, buf);
}

size_t link_queued(const struct nbd_link *link)
{
    return uv_stream_get_write_queue_size((const uv_stream_t *)&link->tcp);
}

static void on_link_closed(uv_handle_t *h)
{
    struct nbd_link *link = container_of((uv_tcp_t *)h, struct nbd_link, tcp);
    struct nbd_net *net = link->net;
    for (struct nbd_link **p = &net->links; *p != NULL; p = &(*p)->next) {
        if (*p == link) {
            *p = link->next;
            break;
        }
    }
    nb_noise_handshake_wipe(&link->hs);
    nb_frame_link_wipe(&link->fl);
    free(link);
}

void link_close(struct nbd_link *link, const char *why)
{
    struct nbd_net *net = link->net;
    if (link->state == LINK_CLOSING)
        return;
    enum link_state was = link->state;
    link->state = LINK_CLOSING;
    uint64_t now = uv_now(net->loop);
    if (was == LINK_UP)
        nbd_info("peer %s: link closed: %s", link->remote, why);
    else
        nbd_debug("peer %s: connection closed: %s", link->remote, why);
    sync_link_closed(link);
    if (link->long_backoff && link->has_node && !net->stopping)
        net_ban(net, link->node);
    struct nbd_peer *peer = link->peer;
    if (peer != NULL && peer->link == link) {
        peer->link = NULL;
        peer->records_in += link->records_in;
        peer->records_out += link->records_out;
        peer->invalid += link->invalid;
        snprintf(peer->last_error, sizeof(peer->last_error), "%s", why);
        if (!net->stopping && !link->no_backoff) {
            /* A link that stayed up long enough proves the address good:
             * the next attempt starts again from the shortest delay. */
            if (was == LINK_UP && now - link->up_since >= NET_STABLE_MS)
                peer->failures = 0;
            net_peer_failed(net, peer, why, link->long_backoff);
        }
    }
    link->peer = NULL;
    uv_read_stop((uv_stream_t *)&link->tcp);
    uv_close((uv_handle_t *)&link->tcp, on_link_closed);
}

static void on_written(uv_write_t *req, int status)
{
    struct wreq *w = container_of(req, struct wreq, req);
    struct nbd_link *link = w->link;
    free(w);
    if (status < 0 && status != UV_ECANCELED) {
        link_close(link, uv_strerror(status));
        return;
    }
    if (status == 0 && link->state == LINK_UP)
        sync_drain(link);
}

/* Queues `len` bytes that are already a frame. */
static int write_raw(struct nbd_link *link, const uint8_t *bytes, size_t len)
{
    struct wreq *w = malloc(sizeof(*w) + len);
    if (w == NULL)
        return NB_ENOMEM;
    w->link = link;
    w->len = len;
    link->bytes_out += len;
    memcpy(w->data, bytes, len);
    uv_buf_t b = uv_buf_init((char *)w->data, (unsigned)len);
    int r = uv_write(&w->req, (uv_stream_t *)&link->tcp, &b, 1, on_written);
    if (r < 0) {
        free(w);
        return NB_EIO;
    }
    link->last_tx = uv_now(link->net->loop);
    return 0;
}

int link_send(struct nbd_link *link, const uint8_t *msg, size_t len)
{
    if (link->state != LINK_UP && link->state != LINK_HANDSHAKE)
        return NB_ESTATE;
    struct wreq *w = malloc(sizeof(*w) + len + NB_FRAME_OVERHEAD);
    if (w == NULL) {
        link_close(link, "out of memory");
        return NB_ENOMEM;
    }
    size_t n;
    int r = nb_frame_link_seal(&link->fl, msg, len, w->data, len + NB_FRAME_OVERHEAD, &n);
    if (r < 0) {
        free(w);
        link_close(link, "cannot seal a frame");
        return r;
    }
    w->link = link;
    w->len = n;
    link->bytes_out += n;
    uv_buf_t b = uv_buf_init((char *)w->data, (unsigned)n);
    r = uv_write(&w->req, (uv_stream_t *)&link->tcp, &b, 1, on_written);
    if (r < 0) {
        free(w);
        link_close(link, uv_strerror(r));
        return NB_EIO;
    }
    link->last_tx = uv_now(link->net->loop);
    /* A peer that does not read its input holds our memory hostage; it
     * catches up at the next reconciliation instead. */
    if (link_queued(link) > NET_OUTPUT_MAX) {
        link_warn(link, "more than 8 MiB of output queued; closing");
        link_close(link, "output queue full");
        return NB_ETOOBIG;
    }
    return 0;
}

static int send_small(struct nbd_link *link, enum nb_peer_type type, uint64_t nonce)
{
    uint8_t buf[16];
    size_t n;
    int r = nb_peer_encode_ping(type, nonce, buf, sizeof(buf), &n);
    return r < 0 ? r : link_send(link, buf, n);
}

static void remote_name(struct nbd_link *link)
{
    struct sockaddr_storage ss;
    int len = sizeof(ss);
    char ip[64] = "?";
    uint16_t port = 0;
    if (uv_tcp_getpeername(&link->tcp, (struct sockaddr *)&ss, &len) == 0) {
        if (ss.ss_family == AF_INET) {
            struct sockaddr_in *a = (struct sockaddr_in *)&ss;
            uv_ip4_name(a, ip, sizeof(ip));
            port = ntohs(a->sin_port);
            snprintf(link->remote, sizeof(link->remote), "%s:%u", ip, port);
            return;
        }
        if (ss.ss_family == AF_INET6) {
            struct sockaddr_in6 *a = (struct sockaddr_in6 *)&ss;
            uv_ip6_name(a, ip, sizeof(ip));
            port = ntohs(a->sin6_port);
            snprintf(link->remote, sizeof(link->remote), "[%s]:%u", ip, port);
            return;
        }
    }
    snprintf(link->remote, sizeof(link->remote), "unknown");
}

/* ---- handshake ------------------------------------------------------------ */

static int write_handshake(struct nbd_link *link, bool with_hello)
{
    uint8_t payload[NB_PEER_HELLO_MAX];
    uint8_t out[NB_FRAME_HEADER_SIZE + NB_FRAME_MAX_BODY];
    size_t plen = 0, n;
    int r;
    if (with_hello) {
        const char *listen = link->net->advertise[0] != '\0' ? link->net->advertise : NULL;
        r = nb_peer_hello_encode(listen, "noaberd " NOABER_VERSION, payload, sizeof(payload),
                                 &plen);
        if (r < 0)
            return r;
    }
    r = nb_frame_handshake_write(&link->hs, payload, plen, out, sizeof(out), &n);
    if (r < 0)
        return r;
    return write_raw(link, out, n);
}

static int split(struct nbd_link *link)
{
    struct nb_noise_cipher send, recv;
    int r = nb_noise_handshake_remote_static(&link->hs, link->node);
    if (r < 0)
        return r;
    link->has_node = true;
    r = nb_noise_handshake_split(&link->hs, &send, &recv, NULL);
    if (r < 0)
        return r;
    /* nb_frame_link_init resets the decoder; the bytes that followed the
     * last handshake frame in the same read are fed again by the caller. */
    return nb_frame_link_init(&link->fl, &send, &recv, 0);
}

static void established(struct nbd_link *link)
{
    link->state = LINK_UP;
    link->up_since = uv_now(link->net->loop);
    net_link_up(link);
}

/* One handshake frame from the peer. */
static void on_handshake_frame(struct nbd_link *link, const uint8_t *body, size_t len)
{
    uint8_t payload[NB_FRAME_MAX_BODY];
    size_t plen;
    bool responder = !link->outbound;
    int r = nb_noise_handshake_read(&link->hs, body, len, payload, sizeof(payload), &plen);
    if (r < 0) {
        /* Message 3 is the first that depends on the PSK: failing it means
         * the initiator holds another neighbourhood's key. */
        if (responder && link->hs_reads >= 1) {
            nbd_warn("peer %s does not hold this neighbourhood's key (different neighbourhood "
                     "or stale invite); closing",
                     link->remote);
            link->warned = true;
            link_close(link, "does not hold this neighbourhood's key");
        } else {
            link_warn(link, "handshake failed: %s; closing", nb_strerror(r));
            link_close(link, "handshake failed");
        }
        return;
    }
    link->hs_reads++;
    if (plen > 0) {
        if (nb_peer_hello_decode(payload, plen, &link->hello) < 0) {
            link_warn(link, "sent a malformed hello; closing");
            link_close(link, "malformed hello");
            return;
        }
        if (link->hello.version != NB_PEER_VERSION) {
            link_warn(link, "speaks peer protocol version %llu, not %d; closing",
                      (unsigned long long)link->hello.version, NB_PEER_VERSION);
            link_close(link, "unsupported peer protocol version");
            return;
        }
    }
    if (nb_noise_handshake_next(&link->hs) == NB_NOISE_WRITE) {
        r = write_handshake(link, true);
        if (r < 0) {
            link_close(link, "cannot write a handshake message");
            return;
        }
    }
    if (nb_noise_handshake_next(&link->hs) != NB_NOISE_SPLIT)
        return;
    r = split(link);
    if (r < 0) {
        link_close(link, "handshake split failed");
        return;
    }
    if (responder) {
        /* The first transport frame tells the initiator that we read its
         * message 3, i.e. that it holds the neighbourhood key. */
        if (send_small(link, NB_PEER_PING, 0) < 0)
            return;
        established(link);
    } else {
        link->state = LINK_WAIT_FIRST;
    }
}

/* ---- reading ------------------------------------------------------------- */

static void on_message(struct nbd_link *link, const uint8_t *plain, size_t len)
{
    if (len == 0)
        return; /* an empty frame is a keepalive */
    int r = nb_peer_msg_decode(plain, len, &link->msg);
    if (r < 0) {
        link->invalid++;
        link_warn(link, "sent a malformed message (%s)", nb_error_name(r));
        if (link->invalid > NET_INVALID_MAX) {
            link->long_backoff = true;
            link_close(link, "too many invalid messages");
        }
        return;
    }
    switch (link->msg.type) {
    case NB_PEER_PING:
        send_small(link, NB_PEER_PONG, link->msg.nonce);
        break;
    case NB_PEER_PONG:
        break;
    case NB_PEER_PEERS:
        net_learn_addresses(link->net, &link->msg);
        break;
    case NB_PEER_NEG:
    case NB_PEER_WANT:
    case NB_PEER_RECORD:
    case NB_PEER_MISSING:
    case NB_PEER_SYNCED:
        sync_on_message(link, &link->msg);
        break;
    default:
        break; /* later versions' messages */
    }
}

static void on_alloc(uv_handle_t *h, size_t suggested, uv_buf_t *buf)
{
    (void)suggested;
    struct nbd_link *link = container_of((uv_tcp_t *)h, struct nbd_link, tcp);
    *buf = uv_buf_init((char *)link->rbuf, sizeof(link->rbuf));
}

static void on_read(uv_stream_t *s, ssize_t nread, const uv_buf_t *buf)
{
    struct nbd_link *link = container_of((uv_tcp_t *)s, struct nbd_link, tcp);
    if (nread < 0) {
        if (link->state == LINK_WAIT_FIRST) {
            nbd_warn("peer %s refused our handshake: it most likely belongs to another "
                     "neighbourhood",
                     link->remote);
            link->warned = true;
            link_close(link, "refused our handshake (most likely another neighbourhood)");
        } else {
            link_close(link, nread == UV_EOF ? "closed by the peer" : uv_strerror((int)nread));
        }
        return;
    }
    const uint8_t *p = (const uint8_t *)buf->base;
    size_t left = (size_t)nread;
    struct nbd_net *net = link->net;
    link->last_rx = uv_now(net->loop);
    link->last_contact = net->clock();
    link->bytes_in += (uint64_t)nread;
    /* Group commit: the records in one read (dozens during a sync) are
     * committed together, with one fsync, before any of them is pushed on
     * to other peers (daemon/node.h).  A failed commit loses nothing a peer
     * was promised: the records are fetched again at the next round. */
    nbd_node_batch_begin(net->node);
    while (left > 0 && link->state != LINK_CLOSING) {
        size_t used = 0;
        if (link->state == LINK_HANDSHAKE) {
            const uint8_t *body;
            size_t blen;
            int r = nb_frame_decoder_feed(&link->fl.dec, p, left, &used, &body, &blen);
            if (r < 0) {
                link_warn(link, "sent a bad handshake frame; closing");
                link_close(link, "bad handshake frame");
                break;
            }
            p += used;
            left -= used;
            if (body != NULL)
                on_handshake_frame(link, body, blen);
            continue;
        }
        const uint8_t *plain;
        size_t plen;
        int r = nb_frame_link_open(&link->fl, p, left, &used, &plain, &plen);
        if (r < 0) {
            link_warn(link, "sent a frame that does not authenticate; closing");
            link_close(link, "bad frame");
            break;
        }
        p += used;
        left -= used;
        if (plain == NULL)
            continue;
        if (link->state == LINK_WAIT_FIRST) {
            established(link);
            if (link->state != LINK_UP)
                break;
        }
        if (link->peer != NULL) {
            link->peer->has_last_contact = true;
            link->peer->last_contact = link->last_contact;
        }
        on_message(link, plain, plen);
    }
    int r = nbd_node_batch_end(net->node);
    if (r < 0)
        nbd_error("storing records from peer %s failed: %s; they are fetched again at the next "
                  "round",
                  link_name(link), nb_strerror(r));
}

/* ---- opening ----------------------------------------------------------- */

static struct nbd_link *link_new(struct nbd_net *net, bool outbound)
{
    struct nbd_link *link = calloc(1, sizeof(*link));
    if (link == NULL)
        return NULL;
    link->net = net;
    link->outbound = outbound;
    link->started = link->last_rx = link->last_tx = uv_now(net->loop);
    uv_tcp_init(net->loop, &link->tcp);
    nb_frame_decoder_init(&link->fl.dec, NB_FRAME_MAX_BODY);
    link->next = net->links;
    net->links = link;
    return link;
}

static int start_handshake(struct nbd_link *link)
{
    struct nbd_net *net = link->net;
    int r = nb_noise_handshake_init_peer(&link->hs,
                                         link->outbound ? NB_NOISE_INITIATOR : NB_NOISE_RESPONDER,
                                         net->node_sk, net->psk);
    if (r < 0)
        return r;
    link->state = LINK_HANDSHAKE;
    uv_tcp_nodelay(&link->tcp, 1);
    r = uv_read_start((uv_stream_t *)&link->tcp, on_alloc, on_read);
    if (r < 0)
        return NB_EIO;
    /* Payload 1 is empty: anyone watching can read it. */
    if (link->outbound)
        return write_handshake(link, false);
    return 0;
}

static unsigned count_links(const struct nbd_net *net)
{
    unsigned n = 0;
    for (const struct nbd_link *l = net->links; l != NULL; l = l->next)
        if (l->state != LINK_CLOSING)
            n++;
    return n;
}

int link_accept(struct nbd_net *net)
{
    struct nbd_link *link = link_new(net, false);
    if (link == NULL)
        return NB_ENOMEM;
    link->state = LINK_HANDSHAKE;
    if (uv_accept((uv_stream_t *)&net->server, (uv_stream_t *)&link->tcp) < 0) {
        link_close(link, "accept failed");
        return NB_EIO;
    }
    remote_name(link);
    if (count_links(net) > net->max_peers) {
        nbd_debug("peer %s: refused, already %u links (max_peers)", link->remote, net->max_peers);
        link_close(link, "max_peers reached");
        return 0;
    }
    nbd_debug("peer %s: incoming connection", link->remote);
    if (start_handshake(link) < 0)
        link_close(link, "cannot start the handshake");
    return 0;
}

static void on_connected(uv_connect_t *req, int status)
{
    struct nbd_link *link = container_of(req, struct nbd_link, connect);
    if (link->state == LINK_CLOSING)
        return;
    if (status < 0) {
        link_close(link, uv_strerror(status));
        return;
    }
    if (start_handshake(link) < 0)
        link_close(link, "cannot start the handshake");
}

int link_dial(struct nbd_net *net, struct nbd_peer *peer, const struct sockaddr *addr)
{
    struct nbd_link *link = link_new(net, true);
    if (link == NULL)
        return NB_ENOMEM;
    link->peer = peer;
    peer->link = link;
    snprintf(link->remote, sizeof(link->remote), "%s", peer->address);
    int r = uv_tcp_connect(&link->connect, &link->tcp, addr, on_connected);
    if (r < 0) {
        link_close(link, uv_strerror(r));
        return NB_EIO;
    }
    nbd_debug("peer %s: connecting", link->remote);
    return 0;
}

void link_tick(struct nbd_link *link, uint64_t now)
{
    if (link->state == LINK_CLOSING)
        return;
    if (link->state != LINK_UP) {
        if (now - link->started > NET_HANDSHAKE_MS)
            link_close(link, "connection or handshake timed out");
        return;
    }
    if (now - link->last_rx >= NET_SILENT_MS) {
        link_warn(link, "silent for 90 s; closing");
        link_close(link, "silent for 90 s");
        return;
    }
    if (now - link->last_rx >= NET_PING_IDLE_MS && now - link->last_ping >= NET_PING_IDLE_MS) {
        link->last_ping = now;
        send_small(link, NB_PEER_PING, ++link->ping_nonce);
    }
}
