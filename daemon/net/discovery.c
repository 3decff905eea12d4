/*
 * LAN discovery over UDP multicast (see discovery.h).
 */
#include "daemon/net/discovery.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>

#include <sodium.h>

#include <noaber/beacon.h>
#include <noaber/error.h>
#include <noaber/identity.h>

#include "daemon/log.h"

#define container_of(ptr, type, member) ((type *)((char *)(ptr)-offsetof(type, member)))

/* Node keys whose beacons were already reported, so the log says once
 * that a node was discovered rather than every 30 seconds. */
#define SEEN_MAX 64
/* How often the timer checks whether the node is ready to send. */
#define TICK_MS 1000
/* At most one log line a minute about beacons that do not verify. */
#define FOREIGN_LOG_INTERVAL_MS 60000

struct nbd_discovery {
    uv_udp_t udp;     /* embedded: closed by nbd_discovery_stop */
    uv_timer_t timer; /* embedded */
    uv_loop_t *loop;
    struct nbd_node *node;
    struct nbd_net *net;
    uint64_t (*clock)(void);
    char interface[INET_ADDRSTRLEN]; /* "" = the kernel's default */

    bool have_key;
    uint8_t beacon_key[NB_NEIGHBOURHOOD_BEACON_KEY_SIZE];

    bool ready_before;    /* the node was ready at the last tick */
    uint64_t next_send;   /* uv_now() of the next regular beacon */
    uint64_t last_answer; /* uv_now() of the last answering beacon, 0 = never */
    bool send_failed;     /* a send failure was already logged */
    uint64_t last_foreign_log;

    uint8_t seen[SEEN_MAX][NB_KEY_SIZE];
    size_t n_seen, seen_next;

    bool udp_open, timer_open, stopping;
};

/* The IPv4 address to use as the multicast interface, if `listen` names a
 * specific one; "" for a wildcard, a name, IPv6 or no listen address. */
static void interface_of(const char *listen, char out[INET_ADDRSTRLEN])
{
    struct in_addr a;
    char host[INET_ADDRSTRLEN];

    out[0] = '\0';
    if (listen == NULL)
        return;
    const char *colon = strrchr(listen, ':');
    if (colon == NULL || (size_t)(colon - listen) >= sizeof(host))
        return;
    memcpy(host, listen, (size_t)(colon - listen));
    host[colon - listen] = '\0';
    if (inet_pton(AF_INET, host, &a) != 1 || a.s_addr == htonl(INADDR_ANY))
        return;
    memcpy(out, host, strlen(host) + 1);
}

/* The node can send beacons once it has a neighbourhood (the beacon key)
 * and listens (the port a beacon announces). */
static bool ready(struct nbd_discovery *d)
{
    if (!d->node->has_neighbourhood || !nbd_net_running(d->net) || nbd_net_port(d->net) == 0)
        return false;
    if (!d->have_key) {
        if (nb_neighbourhood_beacon_key(d->node->neighbourhood_key, d->beacon_key) < 0)
            return false;
        d->have_key = true;
    }
    return true;
}

static void send_beacon(struct nbd_discovery *d, const char *why)
{
    uint8_t beacon[NB_BEACON_SIZE];
    struct sockaddr_in to;

    if (nb_beacon_build(d->beacon_key, d->clock(), nbd_net_node_key(d->net), nbd_net_port(d->net),
                        beacon) < 0)
        return;
    uv_ip4_addr(NBD_DISCOVERY_GROUP, NBD_DISCOVERY_PORT, &to);
    uv_buf_t buf = uv_buf_init((char *)beacon, sizeof(beacon));
    int r = uv_udp_try_send(&d->udp, &buf, 1, (const struct sockaddr *)&to);
    if (r < 0) {
        /* Logged once as a warning: a machine without a multicast route
         * keeps failing, and the node works without discovery. */
        if (!d->send_failed)
            nbd_warn("cannot send LAN discovery beacons to %s:%d: %s; other nodes will not "
                     "discover this one (configure peers or use invites)",
                     NBD_DISCOVERY_GROUP, NBD_DISCOVERY_PORT, uv_strerror(r));
        else
            nbd_debug("sending a discovery beacon failed: %s", uv_strerror(r));
        d->send_failed = true;
        return;
    }
    if (d->send_failed)
        nbd_info("LAN discovery beacons are going out again");
    d->send_failed = false;
    nbd_debug("sent a discovery beacon (%s) for port %u", why, (unsigned)nbd_net_port(d->net));
}

static void on_tick(uv_timer_t *t)
{
    struct nbd_discovery *d = container_of(t, struct nbd_discovery, timer);
    if (d->stopping)
        return;
    if (!ready(d)) {
        d->ready_before = false;
        return;
    }
    uint64_t now = uv_now(d->loop);
    if (!d->ready_before || now >= d->next_send) {
        send_beacon(d, d->ready_before ? "every 30 s" : "the node is ready");
        d->next_send = now + NBD_DISCOVERY_INTERVAL * 1000ull;
    }
    d->ready_before = true;
}

/* Remembers a node key; returns true if it was not remembered before. */
static bool remember(struct nbd_discovery *d, const uint8_t key[NB_KEY_SIZE])
{
    for (size_t i = 0; i < d->n_seen; i++) {
        if (memcmp(d->seen[i], key, NB_KEY_SIZE) == 0)
            return false;
    }
    memcpy(d->seen[d->seen_next], key, NB_KEY_SIZE);
    d->seen_next = (d->seen_next + 1) % SEEN_MAX;
    if (d->n_seen < SEEN_MAX)
        d->n_seen++;
    return true;
}

static void on_alloc(uv_handle_t *h, size_t suggested, uv_buf_t *buf)
{
    /* One datagram at a time; anything larger than a beacon is not one,
     * and a truncated datagram is flagged UV_UDP_PARTIAL. */
    static char scratch[NB_BEACON_SIZE + 1];
    (void)h;
    (void)suggested;
    *buf = uv_buf_init(scratch, sizeof(scratch));
}

static void on_recv(uv_udp_t *h, ssize_t nread, const uv_buf_t *buf, const struct sockaddr *addr,
                    unsigned flags)
{
    struct nbd_discovery *d = container_of(h, struct nbd_discovery, udp);
    struct nb_beacon b;
    char ip[INET_ADDRSTRLEN];
    char address[INET_ADDRSTRLEN + 8];

    if (nread <= 0 || addr == NULL || addr->sa_family != AF_INET || d->stopping)
        return;
    if (!ready(d))
        return;
    const struct sockaddr_in *from = (const struct sockaddr_in *)addr;
    if (uv_ip4_name(from, ip, sizeof(ip)) < 0)
        return;
    int r = (flags & UV_UDP_PARTIAL) != 0
                ? NB_EMALFORMED
                : nb_beacon_verify(d->beacon_key, (const uint8_t *)buf->base, (size_t)nread,
                                   d->clock(), &b);
    if (r < 0) {
        /* Other neighbourhoods' beacons arrive here all the time on a
         * shared network; they are not worth more than a debug line a
         * minute. */
        uint64_t now = uv_now(d->loop);
        if (d->last_foreign_log == 0 || now - d->last_foreign_log >= FOREIGN_LOG_INTERVAL_MS) {
            d->last_foreign_log = now;
            nbd_debug("ignoring a discovery beacon from %s: %s", ip,
                      r == NB_EBADSIG ? "another neighbourhood's (it does not verify with ours)"
                      : r == NB_EEXPIRED || r == NB_EFUTURE
                          ? "its time is more than 5 minutes from our clock"
                          : "not a beacon");
        }
        return;
    }
    if (sodium_memcmp(b.node_key, nbd_net_node_key(d->net), NB_KEY_SIZE) == 0)
        return; /* our own, looped back */
    snprintf(address, sizeof(address), "%s:%u", ip, (unsigned)b.port);
    bool is_new = remember(d, b.node_key);
    r = nbd_net_add_address(d->net, address, b.node_key, NBD_SOURCE_DISCOVERY);
    if (is_new) {
        char key[NB_NODE_KEY_TEXT_LEN + 1];
        nb_node_key_to_text(b.node_key, key);
        if (r < 0 && r != NB_EEXIST)
            nbd_warn("discovered node %s at %s, but cannot add it: %s", key, address,
                     nb_strerror(r));
        else
            nbd_info("discovered node %s at %s on the local network", key, address);
        /* Answer at once, so that a node that just started does not wait
         * up to 30 s for our next beacon to learn about us too. */
        uint64_t now = uv_now(d->loop);
        if (d->last_answer == 0 ||
            now - d->last_answer >= NBD_DISCOVERY_ANSWER_INTERVAL * 1000ull) {
            d->last_answer = now;
            send_beacon(d, "answering a new node");
        }
    }
}

static void free_on_close(uv_handle_t *h)
{
    free(container_of((uv_udp_t *)h, struct nbd_discovery, udp));
}

int nbd_discovery_start(uv_loop_t *loop, struct nbd_node *node, struct nbd_net *net,
                        const struct nbd_discovery_config *cfg, struct nbd_discovery **ret,
                        char *err, size_t err_size)
{
    struct sockaddr_in any;
    const char *step = "open a UDP socket";
    int r;

    struct nbd_discovery *d = calloc(1, sizeof(*d));
    if (d == NULL) {
        snprintf(err, err_size, "out of memory");
        return NB_ENOMEM;
    }
    d->loop = loop;
    d->node = node;
    d->net = net;
    d->clock = cfg->clock;
    interface_of(cfg->listen, d->interface);
    const char *iface = d->interface[0] != '\0' ? d->interface : NULL;

    r = uv_udp_init(loop, &d->udp);
    if (r < 0)
        goto fail;
    d->udp_open = true;
    /* Every node on the machine binds the same port; each receives every
     * beacon (SO_REUSEADDR lets multicast receivers share a port). */
    uv_ip4_addr("0.0.0.0", NBD_DISCOVERY_PORT, &any);
    step = "bind UDP port 7448";
    r = uv_udp_bind(&d->udp, (const struct sockaddr *)&any, UV_UDP_REUSEADDR);
    if (r < 0)
        goto fail;
#ifdef IP_MULTICAST_ALL
    /* Linux otherwise delivers the group's datagrams from every interface
     * that any socket on the machine joined, not only from ours. */
    uv_os_fd_t fd;
    int off = 0;
    if (uv_fileno((uv_handle_t *)&d->udp, &fd) == 0)
        setsockopt(fd, IPPROTO_IP, IP_MULTICAST_ALL, &off, sizeof(off));
#endif
    step = "join the multicast group " NBD_DISCOVERY_GROUP;
    r = uv_udp_set_membership(&d->udp, NBD_DISCOVERY_GROUP, iface, UV_JOIN_GROUP);
    if (r < 0)
        goto fail;
    step = "choose the multicast interface";
    if (iface != NULL && (r = uv_udp_set_multicast_interface(&d->udp, iface)) < 0)
        goto fail;
    /* Other nodes on the same machine are neighbours too; beacons stay on
     * the local network. */
    uv_udp_set_multicast_loop(&d->udp, 1);
    uv_udp_set_multicast_ttl(&d->udp, 1);
    step = "receive";
    r = uv_udp_recv_start(&d->udp, on_alloc, on_recv);
    if (r < 0)
        goto fail;
    uv_timer_init(loop, &d->timer);
    d->timer_open = true;
    uv_timer_start(&d->timer, on_tick, 0, TICK_MS);
    nbd_info("LAN discovery on %s:%d (interface %s)", NBD_DISCOVERY_GROUP, NBD_DISCOVERY_PORT,
             iface != NULL ? iface : "default");
    *ret = d;
    return 0;
fail:
    snprintf(err, err_size, "LAN discovery is off: cannot %s: %s", step, uv_strerror(r));
    /* The half-made handle closes in the loop; the struct is freed with
     * it, since nobody else holds it. */
    if (d->udp_open) {
        uv_close((uv_handle_t *)&d->udp, free_on_close);
    } else {
        free(d);
    }
    return NB_EIO;
}

void nbd_discovery_stop(struct nbd_discovery *d)
{
    if (d == NULL || d->stopping)
        return;
    d->stopping = true;
    if (d->timer_open) {
        uv_timer_stop(&d->timer);
        uv_close((uv_handle_t *)&d->timer, NULL);
    }
    if (d->udp_open) {
        uv_udp_recv_stop(&d->udp);
        uv_close((uv_handle_t *)&d->udp, NULL);
    }
}

void nbd_discovery_free(struct nbd_discovery *d)
{
    if (d == NULL)
        return;
    sodium_memzero(d->beacon_key, sizeof(d->beacon_key));
    free(d);
}
