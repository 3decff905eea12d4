/*
 * One TCP link to another node: the Noise handshake with hellos, encrypted
 * frames, keepalive and the bound on queued output.  What happens on the
 * link is reported to its host's events (daemon/net/link.h); this file calls
 * nothing in daemon/net/net.c or daemon/net/sync.c.
 */
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#include <sodium.h>

#include <noaber/error.h>

#include "daemon/log.h"
#include "daemon/net/link.h"

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

static void __attribute__((format(printf, 2, 0)))
warn_v(struct nbd_link *link, const char *fmt, va_list ap)
{
    char buf[512];
    vsnprintf(buf, sizeof(buf), fmt, ap);
    /* Warnings about a peer are written once per link, never per message:
     * a broken or hostile peer must not be able to flood the log. */
    if (link->warned) {
        nbd_debug("peer %s: %s", link->remote, buf);
        return;
    }
    link->warned = true;
    nbd_warn("peer %s: %s", link->remote, buf);
}

void link_warn(struct nbd_link *link, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    warn_v(link, fmt, ap);
    va_end(ap);
}

void link_invalid(struct nbd_link *link, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    warn_v(link, fmt, ap);
    va_end(ap);
    link->invalid++;
    /* Malformed messages, invalid records and broken rules all count: a
     * peer that keeps sending what we cannot use is cut off, whatever
     * kind of garbage it sends. */
    if (link->invalid > NET_INVALID_MAX && link->state != LINK_CLOSING) {
        nbd_warn("peer %s: more than %d invalid messages; closing and refusing it for a while",
                 link->remote, NET_INVALID_MAX);
        link->long_backoff = true;
        link_close(link, "too many invalid messages");
    }
}

size_t link_queued(const struct nbd_link *link)
{
    return uv_stream_get_write_queue_size((const uv_stream_t *)&link->tcp);
}

static void on_link_closed(uv_handle_t *h)
{
    struct nbd_link *link = container_of((uv_tcp_t *)h, struct nbd_link, tcp);
    struct nbd_link_host *host = link->host;
    for (struct nbd_link **p = &host->links; *p != NULL; p = &(*p)->next) {
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
    struct nbd_link_host *host = link->host;
    if (link->state == LINK_CLOSING)
        return;
    enum link_state was = link->state;
    link->state = LINK_CLOSING;
    if (was == LINK_UP)
        nbd_info("peer %s: link closed: %s", link->remote, why);
    else
        nbd_debug("peer %s: connection closed: %s", link->remote, why);
    host->ev.closed(host->ev.ctx, link, was == LINK_UP, why);
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
        link->host->ev.written(link->host->ev.ctx, link);
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
    link->last_tx = uv_now(link->host->loop);
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
    link->last_tx = uv_now(link->host->loop);
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

void link_ip_name(const struct sockaddr *sa, char *ip, size_t ip_size, uint16_t *port)
{
    ip[0] = '\0';
    if (sa->sa_family == AF_INET) {
        const struct sockaddr_in *a = (const struct sockaddr_in *)sa;
        uv_ip4_name(a, ip, ip_size);
        if (port != NULL)
            *port = ntohs(a->sin_port);
    } else if (sa->sa_family == AF_INET6) {
        const struct sockaddr_in6 *a = (const struct sockaddr_in6 *)sa;
        uv_ip6_name(a, ip, ip_size);
        if (port != NULL)
            *port = ntohs(a->sin6_port);
    }
}

static void remote_name(struct nbd_link *link)
{
    struct sockaddr_storage ss;
    int len = sizeof(ss);
    uint16_t port = 0;
    snprintf(link->remote, sizeof(link->remote), "unknown");
    if (uv_tcp_getpeername(&link->tcp, (struct sockaddr *)&ss, &len) < 0)
        return;
    link_ip_name((const struct sockaddr *)&ss, link->remote_ip, sizeof(link->remote_ip), &port);
    if (ss.ss_family == AF_INET)
        snprintf(link->remote, sizeof(link->remote), "%s:%u", link->remote_ip, port);
    else if (ss.ss_family == AF_INET6)
        snprintf(link->remote, sizeof(link->remote), "[%s]:%u", link->remote_ip, port);
}

/* ---- handshake ------------------------------------------------------------ */

static int write_handshake(struct nbd_link *link, bool with_hello)
{
    uint8_t payload[NB_PEER_HELLO_MAX];
    uint8_t out[NB_FRAME_HEADER_SIZE + NB_FRAME_MAX_BODY];
    size_t plen = 0, n;
    int r;
    if (with_hello) {
        const char *adv = link->host->advertise;
        const char *listen = adv != NULL && adv[0] != '\0' ? adv : NULL;
        r = nb_peer_hello_encode_riblt(listen, "noaberd " NOABER_VERSION, link->host->clock(),
                                       link->host->riblt, payload, sizeof(payload), &plen);
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

/* Says so once per link when the peer's clock is further from ours than a
 * record's created_at may be ahead (NB_FUTURE_SKEW): records made on the
 * faster clock are then refused by the slower node. */
static void compare_clocks(struct nbd_link *link)
{
    if (!link->hello.has_time)
        return;
    int64_t now = (int64_t)link->host->clock();
    link->has_clock_offset = true;
    link->clock_offset = (int64_t)link->hello.time - now;
    int64_t apart = link->clock_offset < 0 ? -link->clock_offset : link->clock_offset;
    if (apart <= NB_FUTURE_SKEW)
        return;
    link_warn(link,
              "its clock is %lld s %s this node's, more than the %d s records may be ahead: "
              "records are refused between the two until the wrong clock is set right "
              "(`noaber status` on each node compares its clock with its peers')",
              (long long)apart, link->clock_offset > 0 ? "ahead of" : "behind", NB_FUTURE_SKEW);
}

static void established(struct nbd_link *link)
{
    compare_clocks(link);
    link->state = LINK_UP;
    link->up_since = uv_now(link->host->loop);
    link->host->ev.up(link->host->ev.ctx, link);
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
    /* Message 1 travels before any key is agreed, so its payload must be
     * empty; messages 2 and 3 must carry the sender's hello
     * (docs/protocol.md, "Connections").  A peer that breaks either rule
     * is not one we can speak with. */
    bool first = link->hs_reads++ == 0 && responder;
    if (first && plen > 0) {
        link_warn(link, "sent a payload in handshake message 1; closing");
        link_close(link, "payload in handshake message 1");
        return;
    }
    if (!first) {
        if (plen == 0) {
            link_warn(link, "sent no hello in its handshake; closing");
            link_close(link, "no hello");
            return;
        }
        if (plen > NB_PEER_HELLO_MAX || nb_peer_hello_decode(payload, plen, &link->hello) < 0) {
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
        link_invalid(link, "sent a malformed message (%s)", nb_error_name(r));
        return;
    }
    switch (link->msg.type) {
    case NB_PEER_PING:
        send_small(link, NB_PEER_PONG, link->msg.nonce);
        break;
    case NB_PEER_PONG:
        break;
    default:
        link->host->ev.message(link->host->ev.ctx, link, &link->msg);
        break;
    }
}

static void on_alloc(uv_handle_t *h, size_t suggested, uv_buf_t *buf)
{
    (void)suggested;
    struct nbd_link *link = container_of((uv_tcp_t *)h, struct nbd_link, tcp);
    *buf = uv_buf_init((char *)link->host->rbuf, sizeof(link->host->rbuf));
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
    struct nbd_link_host *host = link->host;
    link->last_rx = uv_now(host->loop);
    link->last_contact = host->clock();
    link->bytes_in += (uint64_t)nread;
    if (nread > NET_BURST_READ) {
        link->buffers_touched = true;
        link->last_burst = link->last_rx;
    }
    host->ev.read_begin(host->ev.ctx, link);
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
        on_message(link, plain, plen);
    }
    host->ev.read_end(host->ev.ctx, link);
}

/* ---- opening ----------------------------------------------------------- */

static struct nbd_link *link_new(struct nbd_link_host *host, bool outbound)
{
    struct nbd_link *link = calloc(1, sizeof(*link));
    if (link == NULL)
        return NULL;
    link->host = host;
    link->outbound = outbound;
    link->started = link->last_rx = link->last_tx = uv_now(host->loop);
    uv_tcp_init(host->loop, &link->tcp);
    nb_frame_decoder_init(&link->fl.dec, NB_FRAME_MAX_BODY);
    link->next = host->links;
    host->links = link;
    return link;
}

static int start_handshake(struct nbd_link *link)
{
    struct nbd_link_host *host = link->host;
    int r = nb_noise_handshake_init_peer(&link->hs,
                                         link->outbound ? NB_NOISE_INITIATOR : NB_NOISE_RESPONDER,
                                         host->node_sk, host->psk);
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

struct nbd_link *link_accept(struct nbd_link_host *host, uv_stream_t *server)
{
    struct nbd_link *link = link_new(host, false);
    if (link == NULL)
        return NULL;
    link->state = LINK_HANDSHAKE;
    if (uv_accept(server, (uv_stream_t *)&link->tcp) < 0) {
        link_close(link, "accept failed");
        return NULL;
    }
    remote_name(link);
    nbd_debug("peer %s: incoming connection", link->remote);
    if (start_handshake(link) < 0) {
        link_close(link, "cannot start the handshake");
        return NULL;
    }
    return link;
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

struct nbd_link *link_dial(struct nbd_link_host *host, const char *remote,
                           const struct sockaddr *addr)
{
    struct nbd_link *link = link_new(host, true);
    if (link == NULL)
        return NULL;
    snprintf(link->remote, sizeof(link->remote), "%s", remote);
    link_ip_name(addr, link->remote_ip, sizeof(link->remote_ip), NULL);
    int r = uv_tcp_connect(&link->connect, &link->tcp, addr, on_connected);
    if (r < 0) {
        link->no_backoff = true; /* the host has not taken it yet */
        link_close(link, uv_strerror(r));
        return NULL;
    }
    nbd_debug("peer %s: connecting", link->remote);
    return link;
}

/* Hands the whole pages inside [p, p + len) back to the kernel: they stay
 * ours and read as zeros (or as they were) when next touched. */
static void give_back(void *p, size_t len)
{
#ifdef MADV_DONTNEED
    long page = sysconf(_SC_PAGESIZE);
    if (page <= 0)
        return;
    uintptr_t mask = (uintptr_t)page - 1;
    uintptr_t start = ((uintptr_t)p + mask) & ~mask;
    uintptr_t end = ((uintptr_t)p + len) & ~mask;
    if (end > start)
        madvise((void *)start, end - start, MADV_DONTNEED);
#else
    (void)p;
    (void)len;
#endif
}

/*
 * A link's frame decoder and message scratch take some 82 KiB (the read
 * buffer is the node's, one for every link), which a burst (a catch-up, a large reconciliation)
 * fills and a quiet link never needs again until the next one: on a small machine with many quiet
 * links that is most of what the links hold.  Their contents matter only within a read, except for
 * the part of a frame that has arrived, which is kept.
 */
static void give_back_buffers(struct nbd_link *link)
{
    struct nb_frame_decoder *d = &link->fl.dec;
    size_t keep = d->delivered ? 0 : d->have;
    give_back(d->buf + keep, sizeof(d->buf) - keep);
    give_back(&link->msg, sizeof(link->msg));
    link->buffers_touched = false;
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
        link_warn(link, "answered no ping for %u s; closing the link and dialing again",
                  NET_SILENT_MS / 1000);
        link->went_silent = true;
        link_close(link, "answered no ping");
        return;
    }
    if (now - link->last_rx >= NET_PING_IDLE_MS && now - link->last_ping >= NET_PING_IDLE_MS) {
        link->last_ping = now;
        send_small(link, NB_PEER_PING, ++link->ping_nonce);
    }
    if (link->buffers_touched && now - link->last_burst >= NET_PING_IDLE_MS)
        give_back_buffers(link);
}
