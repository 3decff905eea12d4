/*
 * LAN discovery (docs/protocol.md, "LAN discovery"): nodes of one
 * neighbourhood on the same network find each other without a configured
 * address.
 *
 * Once the node has a neighbourhood and its network layer listens, it
 * multicasts a beacon (noaber/beacon.h) to 239.255.74.47 port 7448 at once
 * and then every 30 seconds, and answers the first beacon of a node it has
 * not heard before with one of its own, so that two nodes started together
 * find each other in seconds.  Beacons that verify with this neighbourhood's
 * beacon key give an address (the sender's IP, the beacon's port) that is
 * handed to the network layer with the source "discovery"; all others are
 * dropped.
 *
 * Which interface: when the node listens on one IPv4 address (say
 * 127.0.0.1 or 192.168.1.10), beacons go out and are received on that
 * address's interface, the only one peers could reach it through; when it
 * listens on a wildcard, the kernel's default multicast interface is used.
 */
#ifndef NOABERD_DISCOVERY_H
#define NOABERD_DISCOVERY_H

#include <stdint.h>

#include <uv.h>

#include "daemon/net/net.h"
#include "daemon/node.h"

#define NBD_DISCOVERY_GROUP    "239.255.74.47"
#define NBD_DISCOVERY_PORT     7448
#define NBD_DISCOVERY_INTERVAL 30 /* seconds between beacons */
/* A new node's beacon is answered at once, but not more often than this. */
#define NBD_DISCOVERY_ANSWER_INTERVAL 5

struct nbd_discovery_config {
    const char *listen;      /* the node's listen address "HOST:PORT", or NULL */
    uint64_t (*clock)(void); /* wall clock, seconds since the epoch */
};

struct nbd_discovery;

/*
 * Binds the discovery socket (shared with other nodes on the machine) and
 * joins the multicast group.  Returns 0, or a negative code with the reason
 * in err (then there is no discovery, and the node runs without it).
 */
int nbd_discovery_start(uv_loop_t *loop, struct nbd_node *node, struct nbd_net *net,
                        const struct nbd_discovery_config *cfg, struct nbd_discovery **ret,
                        char *err, size_t err_size);

/* Closes the socket and the timer; they finish closing in the loop.  NULL is fine. */
void nbd_discovery_stop(struct nbd_discovery *d);

/* Frees the discovery state once uv_run has returned.  NULL is fine. */
void nbd_discovery_free(struct nbd_discovery *d);

#endif
