/*
 * The network layer's top: the node key, the table of known addresses
 * (sources, backoff, persistence in the store), the listener, dialing, the
 * periodic tick, and the API of daemon/net/net.h.
 */
#include "daemon/net/net.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include <sodium.h>

#include <noaber/error.h>

#include "common/keyfile.h"
#include "daemon/log.h"
#include "daemon/net/net_internal.h"
#include "proto/mp.h"

#define META_PEERS "net.peers"

static const char *const source_names[] = {
    [NBD_SOURCE_CONFIG] = "config",       [NBD_SOURCE_INVITE] = "invite",
    [NBD_SOURCE_MANUAL] = "manual",       [NBD_SOURCE_EXCHANGE] = "exchange",
    [NBD_SOURCE_DISCOVERY] = "discovery", [NBD_SOURCE_INBOUND] = "inbound",
};

const char *nbd_peer_source_name(enum nbd_peer_source source)
{
    if ((unsigned)source >= sizeof(source_names) / sizeof(source_names[0]))
        return "unknown";
    return source_names[source];
}

const char *nbd_peer_state_name(enum nbd_peer_state state)
{
    switch (state) {
    case NBD_PEER_IDLE:
        return "idle";
    case NBD_PEER_CONNECTING:
        return "connecting";
    case NBD_PEER_HANDSHAKING:
        return "handshaking";
    case NBD_PEER_CONNECTED:
        return "connected";
    case NBD_PEER_BACKOFF:
        return "backoff";
    }
    return "idle";
}

/* ---- the table of known addresses ------------------------------------------- */

static struct nbd_peer *find_address(struct nbd_net *net, const char *address)
{
    for (struct nbd_peer *p = net->peers; p != NULL; p = p->next)
        if (strcmp(p->address, address) == 0)
            return p;
    return NULL;
}

/* The established link with this node key, if any. */
static struct nbd_link *find_up_node(struct nbd_net *net, const uint8_t node[NB_KEY_SIZE],
                                     const struct nbd_link *except)
{
    for (struct nbd_link *l = net->host.links; l != NULL; l = l->next)
        if (l != except && l->state == LINK_UP && l->has_node &&
            sodium_memcmp(l->node, node, NB_KEY_SIZE) == 0)
            return l;
    return NULL;
}

/* Addresses other nodes told us of, as opposed to those the operator gave
 * (config, invite, `peer add`), which are never pushed out. */
static bool learned(const struct nbd_peer *p)
{
    return p->source == NBD_SOURCE_EXCHANGE || p->source == NBD_SOURCE_DISCOVERY;
}

/*
 * The group an IP counts in for the limits on handshakes, links and
 * learned addresses, and for bans: an IPv4 address alone, the /64 of an
 * IPv6 address (one machine usually holds a whole /64, so counting its
 * addresses one by one would let it take every slot).
 */
static void address_group(const char *ip, char *out, size_t size)
{
    unsigned char b[16];
    char text[INET6_ADDRSTRLEN];
    if (strchr(ip, ':') != NULL && uv_inet_pton(AF_INET6, ip, b) == 0) {
        memset(b + 8, 0, 8);
        if (uv_inet_ntop(AF_INET6, b, text, sizeof(text)) == 0) {
            snprintf(out, size, "%s/64", text);
            return;
        }
    }
    snprintf(out, size, "%s", ip);
}

static bool same_group(const struct nbd_link *l, const char *group)
{
    char g[64];
    address_group(l->remote_ip, g, sizeof(g));
    return strcmp(g, group) == 0;
}

/*
 * Loopback, link-local and unspecified addresses (and the name localhost):
 * they name this machine or its own link, so a remote peer that names one
 * either made a mistake or wants us to dial services here.  Private ranges
 * are not among them: neighbourhood nodes often share a LAN.
 */
static bool local_only_host(const char *host)
{
    unsigned char b[16];
    static const unsigned char zero[16];
    if (uv_inet_pton(AF_INET, host, b) == 0)
        return b[0] == 127 || b[0] == 0 || (b[0] == 169 && b[1] == 254);
    if (uv_inet_pton(AF_INET6, host, b) == 0) {
        if (memcmp(b, zero, 10) == 0 && b[10] == 0xff && b[11] == 0xff)
            return b[12] == 127 || b[12] == 0 || (b[12] == 169 && b[13] == 254);
        if (memcmp(b, zero, 15) == 0 && b[15] <= 1)
            return true;
        return b[0] == 0xfe && (b[1] & 0xc0) == 0x80;
    }
    size_t n = strlen(host);
    return strcasecmp(host, "localhost") == 0 ||
           (n > 10 && strcasecmp(host + n - 10, ".localhost") == 0);
}

static void net_save_peers(struct nbd_net *net)
{
    /* The table is small (at most NBD_NET_KNOWN_MAX rows): it is written
     * whole, as msgpack [[address, node key or nil, source, verified, last
     * contact], ...].  Unverified addresses are not saved: what a peer
     * named and nobody has reached yet does not outlive a restart. */
    msgpack_sbuffer sb;
    msgpack_packer pk;
    msgpack_sbuffer_init(&sb);
    msgpack_packer_init(&pk, &sb, msgpack_sbuffer_write);
    size_t n = 0;
    for (struct nbd_peer *p = net->peers; p != NULL; p = p->next)
        if (!p->self && (!learned(p) || p->verified))
            n++;
    msgpack_pack_array(&pk, n);
    for (struct nbd_peer *p = net->peers; p != NULL; p = p->next) {
        if (p->self || (learned(p) && !p->verified))
            continue;
        msgpack_pack_array(&pk, 5);
        msgpack_pack_str(&pk, strlen(p->address));
        msgpack_pack_str_body(&pk, p->address, strlen(p->address));
        if (p->has_node) {
            msgpack_pack_bin(&pk, NB_KEY_SIZE);
            msgpack_pack_bin_body(&pk, p->node, NB_KEY_SIZE);
        } else {
            msgpack_pack_nil(&pk);
        }
        msgpack_pack_uint32(&pk, (uint32_t)p->source);
        if (p->verified)
            msgpack_pack_true(&pk);
        else
            msgpack_pack_false(&pk);
        msgpack_pack_uint64(&pk, p->has_last_contact ? p->last_contact : 0);
    }
    if (sb.data != NULL &&
        nbd_store_meta_set(net->node->store, META_PEERS, (const uint8_t *)sb.data, sb.size) < 0)
        nbd_error("cannot save the known peer addresses in the store");
    msgpack_sbuffer_destroy(&sb);
}

/* Takes a row out of the table and frees it (later, if its name is being
 * resolved: on_resolved frees it). */
static void remove_peer(struct nbd_net *net, struct nbd_peer *peer)
{
    for (struct nbd_peer **pp = &net->peers; *pp != NULL; pp = &(*pp)->next) {
        if (*pp == peer) {
            *pp = peer->next;
            net->n_peers--;
            break;
        }
    }
    if (peer->link != NULL) {
        peer->link->peer = NULL;
        peer->link = NULL;
    }
    if (peer->resolving) {
        peer->forget = true;
        uv_cancel((uv_req_t *)&peer->resolve);
        return;
    }
    free(peer);
}

/* Makes room for an address the operator gave: the learned address worth
 * least goes (unverified before verified, then the one heard of longest
 * ago).  False if every row is the operator's own. */
static bool evict_learned(struct nbd_net *net)
{
    struct nbd_peer *worst = NULL;
    for (struct nbd_peer *p = net->peers; p != NULL; p = p->next) {
        if (!learned(p) || p->link != NULL)
            continue;
        if (worst == NULL || (worst->verified && !p->verified) ||
            (worst->verified == p->verified && p->last_contact < worst->last_contact))
            worst = p;
    }
    if (worst == NULL)
        return false;
    nbd_debug("forgetting peer address %s to make room", worst->address);
    remove_peer(net, worst);
    return true;
}

/*
 * Whether an address another node named may enter the table: not a local
 * address (unless peer_exchange_allow_loopback), and within the share of
 * unverified addresses one source and all sources may hold.
 */
static bool may_learn(struct nbd_net *net, const char *address, const char *from)
{
    char host[NB_PEER_ADDRESS_MAX + 1];
    if (nb_peer_address_parse(address, strlen(address), false, host, NULL) < 0)
        return false;
    if (!net->allow_loopback && local_only_host(host)) {
        nbd_debug("not learning peer address %s: loopback or link-local", address);
        return false;
    }
    unsigned all = 0, mine = 0;
    for (const struct nbd_peer *p = net->peers; p != NULL; p = p->next) {
        if (!learned(p) || p->verified)
            continue;
        all++;
        if (strcmp(p->learned_from, from) == 0)
            mine++;
    }
    if (mine >= NET_UNVERIFIED_PER_SOURCE || all >= NET_UNVERIFIED_MAX)
        return false;
    return net->n_peers < NBD_NET_KNOWN_MAX;
}

/*
 * Adds a row, or returns the row the address already has.  `from` is the
 * address group of the node that named a learned address ("" otherwise);
 * `verified` skips the limits on unverified addresses (rows read back from
 * the store were reached before).
 */
static struct nbd_peer *add_peer(struct nbd_net *net, const char *address, const uint8_t *node,
                                 enum nbd_peer_source source, const char *from, bool verified,
                                 bool *ret_new)
{
    *ret_new = false;
    struct nbd_peer *p = find_address(net, address);
    if (p != NULL) {
        if (node != NULL && !p->has_node) {
            memcpy(p->node, node, NB_KEY_SIZE);
            p->has_node = true;
            *ret_new = true;
        }
        return p;
    }
    bool is_learned = source == NBD_SOURCE_EXCHANGE || source == NBD_SOURCE_DISCOVERY;
    if (is_learned && !verified) {
        if (!may_learn(net, address, from))
            return NULL;
    } else if (net->n_peers >= NBD_NET_KNOWN_MAX && (is_learned || !evict_learned(net))) {
        return NULL;
    }
    p = calloc(1, sizeof(*p));
    if (p == NULL)
        return NULL;
    snprintf(p->address, sizeof(p->address), "%s", address);
    snprintf(p->learned_from, sizeof(p->learned_from), "%s", from);
    p->source = source;
    p->verified = verified;
    p->learned_at = uv_now(net->loop);
    if (node != NULL) {
        memcpy(p->node, node, NB_KEY_SIZE);
        p->has_node = true;
    }
    p->next_attempt = 0;
    /* New rows go at the end so the listing keeps its order. */
    struct nbd_peer **tail = &net->peers;
    while (*tail != NULL)
        tail = &(*tail)->next;
    *tail = p;
    net->n_peers++;
    *ret_new = true;
    return p;
}

static bool is_own_address(struct nbd_net *net, const char *address)
{
    return net->advertise[0] != '\0' && strcmp(address, net->advertise) == 0;
}

int nbd_net_add_address(struct nbd_net *net, const char *address,
                        const uint8_t node_key[NB_KEY_SIZE], enum nbd_peer_source source)
{
    if (address == NULL || nb_peer_address_parse(address, strlen(address), false, NULL, NULL) < 0 ||
        source >= NBD_SOURCE_INBOUND)
        return NB_EINVAL;
    if ((node_key != NULL && sodium_memcmp(node_key, net->node_pk, NB_KEY_SIZE) == 0) ||
        is_own_address(net, address))
        return NB_EEXIST;
    bool changed;
    struct nbd_peer *p =
        add_peer(net, address, node_key, source, nbd_peer_source_name(source), false, &changed);
    if (p == NULL)
        return NB_ETOOBIG;
    if (source == NBD_SOURCE_MANUAL || source == NBD_SOURCE_INVITE || source == NBD_SOURCE_CONFIG) {
        /* Someone asked for this address just now: try it at once. */
        p->failures = 0;
        p->next_attempt = 0;
        if (learned(p)) {
            p->source = source;
            changed = true;
        }
    }
    if (changed)
        net_save_peers(net);
    return 0;
}

int nbd_net_remove_address(struct nbd_net *net, const char *address)
{
    if (address == NULL || nb_peer_address_parse(address, strlen(address), false, NULL, NULL) < 0)
        return NB_EINVAL;
    struct nbd_peer *p = find_address(net, address);
    if (p == NULL || p->self)
        return NB_ENOENT;
    struct nbd_link *link = p->link;
    remove_peer(net, p);
    if (link != NULL) {
        link->no_backoff = true;
        link_close(link, "address removed by the operator");
    }
    net_save_peers(net);
    return 0;
}

static void load_peers(struct nbd_net *net)
{
    size_t cap = NBD_NET_KNOWN_MAX * (NBD_NET_ADDRESS_MAX + 64) + 16;
    uint8_t *buf = malloc(cap);
    size_t len = 0;
    struct nb_mp_doc doc = { 0 };
    if (buf == NULL)
        return;
    int r = nbd_store_meta_get(net->node->store, META_PEERS, buf, cap, &len);
    if (r < 0)
        goto out;
    const msgpack_object *rows;
    size_t n;
    if (nb_mp_decode(buf, len, cap, 3, &doc) < 0 ||
        nb_mp_get_array(nb_mp_root(&doc), NBD_NET_KNOWN_MAX, &rows, &n) < 0) {
        nbd_warn("the saved peer addresses are damaged; starting without them");
        goto out;
    }
    for (size_t i = 0; i < n; i++) {
        const msgpack_object *el;
        size_t m;
        struct nb_text addr;
        uint64_t source, contact = 0;
        uint8_t key[NB_KEY_SIZE];
        bool has_key = false, verified = false;
        char text[NBD_NET_ADDRESS_MAX + 1];
        /* Rows of three are from before addresses were verified: their
         * learned addresses were all passed on by nodes we had reached. */
        if (nb_mp_get_array(&rows[i], 5, &el, &m) < 0 || (m != 3 && m != 5) ||
            nb_mp_get_str(&el[0], 3, NBD_NET_ADDRESS_MAX, &addr) < 0 ||
            nb_mp_get_uint(&el[2], NBD_SOURCE_DISCOVERY, &source) < 0)
            continue;
        if (m == 5) {
            if (el[3].type != MSGPACK_OBJECT_BOOLEAN ||
                nb_mp_get_uint(&el[4], UINT64_MAX, &contact) < 0)
                continue;
            verified = el[3].via.boolean;
        } else {
            verified = true;
        }
        if (el[1].type != MSGPACK_OBJECT_NIL) {
            if (nb_mp_get_bin_exact(&el[1], NB_KEY_SIZE, key) < 0)
                continue;
            has_key = true;
        }
        memcpy(text, addr.ptr, addr.len);
        text[addr.len] = '\0';
        if (nb_peer_address_parse(text, addr.len, false, NULL, NULL) < 0)
            continue;
        bool added;
        struct nbd_peer *p = add_peer(net, text, has_key ? key : NULL, (enum nbd_peer_source)source,
                                      "", verified, &added);
        if (p != NULL && added && contact > 0) {
            p->has_last_contact = true;
            p->last_contact = contact;
        }
    }
out:
    nb_mp_doc_free(&doc);
    free(buf);
}

/*
 * Forgets learned addresses that did not prove themselves: unverified ones
 * after NET_UNVERIFIED_TRIES failed dials or NET_UNVERIFIED_MS, verified
 * ones after NET_LEARNED_TTL_S without contact.
 */
static void age_addresses(struct nbd_net *net, uint64_t now)
{
    uint64_t wall = net->clock();
    bool changed = false;
    for (struct nbd_peer *p = net->peers, *next; p != NULL; p = next) {
        next = p->next;
        if (!learned(p) || p->link != NULL || p->resolving)
            continue;
        bool stale;
        if (!p->verified)
            stale = p->failures >= NET_UNVERIFIED_TRIES || now - p->learned_at > NET_UNVERIFIED_MS;
        else
            stale = p->has_last_contact && wall > p->last_contact &&
                    wall - p->last_contact > NET_LEARNED_TTL_S;
        if (!stale)
            continue;
        nbd_debug("forgetting peer address %s (%s)", p->address,
                  p->verified ? "no contact for 30 days" : "never reached");
        changed = changed || p->verified;
        remove_peer(net, p);
    }
    if (changed)
        net_save_peers(net);
}

static void peer_failed(struct nbd_net *net, struct nbd_peer *peer, const char *why,
                        bool long_backoff)
{
    uint64_t now = uv_now(net->loop);
    uint64_t delay;
    if (long_backoff) {
        delay = NET_BACKOFF_BAD_MS;
    } else {
        /* 1 s after the first failure, doubling up to 300 s, times a
         * random factor in [0.8, 1.2] so that nodes restarted together do
         * not dial each other in lockstep. */
        delay = NET_BACKOFF_FIRST_MS;
        uint64_t max = NET_BACKOFF_MAX_MS;
        if (peer->silent_since != 0 && now - peer->silent_since < NET_HEAL_WINDOW_MS)
            max = NET_BACKOFF_HEAL_MS;
        for (unsigned i = 0; i < peer->failures && delay < max; i++)
            delay *= 2;
        if (delay > max)
            delay = max;
        double factor = 0.8 + 0.4 * ((double)randombytes_uniform(1000001) / 1000000.0);
        delay = (uint64_t)((double)delay * factor);
    }
    peer->failures++;
    peer->next_attempt = now + delay;
    snprintf(peer->last_error, sizeof(peer->last_error), "%s", why);
    nbd_debug("peer %s: next attempt in %llu ms", peer->address, (unsigned long long)delay);
}

/* ---- links coming up -------------------------------------------------------- */

/*
 * A node that sent too many invalid messages is refused for 10 minutes
 * whichever side dials: backing off its address alone would not stop it
 * from dialing us again at once.  Its IP (an IPv6 /64) is refused too, so a
 * fresh node key does not get it back in; each new ban of the same address
 * within NET_BAN_DECAY_MS doubles that one, and a quiet address is
 * forgiven.
 */
static void ban(struct nbd_net *net, const struct nbd_link *link)
{
    uint64_t now = uv_now(net->loop);
    size_t slot = 0;
    if (link->has_node) {
        for (size_t i = 0; i < NET_BANS_MAX; i++) {
            if (memcmp(net->bans[i].node, link->node, NB_KEY_SIZE) == 0 ||
                net->bans[i].until <= now) {
                slot = i;
                break;
            }
            if (net->bans[i].until < net->bans[slot].until)
                slot = i;
        }
        memcpy(net->bans[slot].node, link->node, NB_KEY_SIZE);
        net->bans[slot].until = now + NET_BACKOFF_BAD_MS;
    }
    if (link->remote_ip[0] == '\0')
        return;
    char group[64];
    address_group(link->remote_ip, group, sizeof(group));
    slot = NET_BANS_MAX;
    for (size_t i = 0; i < NET_BANS_MAX && slot == NET_BANS_MAX; i++)
        if (strcmp(net->address_bans[i].group, group) == 0)
            slot = i;
    if (slot == NET_BANS_MAX) {
        slot = 0;
        for (size_t i = 1; i < NET_BANS_MAX; i++)
            if (net->address_bans[i].last < net->address_bans[slot].last)
                slot = i;
        snprintf(net->address_bans[slot].group, sizeof(net->address_bans[slot].group), "%s", group);
        net->address_bans[slot].strikes = 0;
    }
    struct nbd_address_ban *b = &net->address_bans[slot];
    if (b->strikes > 0 && now - b->last >= NET_BAN_DECAY_MS)
        b->strikes = 0;
    unsigned doublings = b->strikes < NET_BAN_DOUBLINGS ? b->strikes : NET_BAN_DOUBLINGS;
    b->strikes++;
    b->last = now;
    b->until = now + ((uint64_t)NET_BACKOFF_BAD_MS << doublings);
    nbd_warn("refusing connections from %s for %llu minutes", group,
             (unsigned long long)((b->until - now) / 60000));
}

static bool banned(struct nbd_net *net, const uint8_t node[NB_KEY_SIZE])
{
    uint64_t now = uv_now(net->loop);
    for (size_t i = 0; i < NET_BANS_MAX; i++)
        if (net->bans[i].until > now && memcmp(net->bans[i].node, node, NB_KEY_SIZE) == 0)
            return true;
    return false;
}

static bool address_banned(struct nbd_net *net, const char *group)
{
    uint64_t now = uv_now(net->loop);
    for (size_t i = 0; i < NET_BANS_MAX; i++)
        if (net->address_bans[i].until > now && strcmp(net->address_bans[i].group, group) == 0)
            return true;
    return false;
}

static bool key_less(const uint8_t a[NB_KEY_SIZE], const uint8_t b[NB_KEY_SIZE])
{
    return memcmp(a, b, NB_KEY_SIZE) < 0;
}

/* The node key of the side that opened the link. */
static const uint8_t *opener_key(const struct nbd_link *l)
{
    return l->outbound ? link_net(l)->node_pk : l->node;
}

static int send_peers(struct nbd_link *link);

/* How much a link has given: records accepted from it, on this link and
 * earlier ones to the address it serves or says it listens on, if that
 * address belongs to the same node key (so a newcomer cannot take over an
 * honest node's history by naming its address). */
static uint64_t useful_records(struct nbd_net *net, const struct nbd_link *l)
{
    const struct nbd_peer *p = l->peer;
    if (p == NULL && !l->outbound && l->hello.has_listen)
        p = find_address(net, l->hello.listen);
    if (p == NULL || !p->has_node || sodium_memcmp(p->node, l->node, NB_KEY_SIZE) != 0)
        return l->records_in;
    return l->records_in + p->records_in;
}

/* Established links in the address group of l (l included). */
static unsigned group_links(struct nbd_net *net, const struct nbd_link *l)
{
    char group[64];
    unsigned n = 0;
    address_group(l->remote_ip, group, sizeof(group));
    for (const struct nbd_link *o = net->host.links; o != NULL; o = o->next)
        if ((o->state == LINK_UP || o == l) && same_group(o, group))
            n++;
    return n;
}

/*
 * A link came up while max_peers links are established: one inbound link
 * goes, the newcomer included.  The one to go is in the address group with
 * the most links (so many sessions from one place lose to one from
 * elsewhere), then the one that brought the fewest records, then the
 * youngest.  Links this node dialed are never the ones to go: an attacker
 * does not choose them.  Returns false if the newcomer itself was closed.
 */
static bool make_room(struct nbd_net *net, struct nbd_link *link)
{
    unsigned up = 0;
    for (const struct nbd_link *l = net->host.links; l != NULL; l = l->next)
        if (l != link && l->state == LINK_UP)
            up++;
    if (up < net->max_peers)
        return true;
    struct nbd_link *victim = NULL;
    unsigned vg = 0;
    uint64_t vu = 0;
    for (struct nbd_link *l = net->host.links; l != NULL; l = l->next) {
        if (l->outbound || (l->state != LINK_UP && l != link))
            continue;
        unsigned g = group_links(net, l);
        uint64_t u = useful_records(net, l);
        if (victim == NULL || g > vg || (g == vg && u < vu) ||
            (g == vg && u == vu && l->up_since >= victim->up_since)) {
            victim = l;
            vg = g;
            vu = u;
        }
    }
    if (victim == NULL)
        victim = link;
    nbd_debug("peer %s: %u links (max_peers); closing %s", link->remote, net->max_peers,
              victim->remote);
    victim->no_backoff = victim != link || !link->outbound;
    link_close(victim, victim == link ? "max_peers reached" : "made room for another node");
    return victim != link;
}

static void on_link_up(void *ctx, struct nbd_link *link)
{
    struct nbd_net *net = ctx;
    char text[NB_NODE_KEY_TEXT_LEN + 1];
    nb_node_key_to_text(link->node, text);

    if (sodium_memcmp(link->node, net->node_pk, NB_KEY_SIZE) == 0) {
        nbd_info("peer %s is this node itself; forgetting that address", link->remote);
        if (link->peer != NULL) {
            link->peer->self = true;
            net_save_peers(net);
        }
        link->no_backoff = true;
        link_close(link, "this node itself");
        return;
    }
    if (banned(net, link->node)) {
        nbd_debug("peer %s: node %s sent too many invalid records; refused for now", link->remote,
                  text);
        link->no_backoff = !link->outbound;
        link_close(link, "refused for a while after too many invalid messages");
        return;
    }
    /* At most one session per pair of nodes.  When both dialed at once,
     * both sides keep the link opened by the node with the lower key, so
     * they agree without talking about it. */
    struct nbd_link *other = find_up_node(net, link->node, link);
    if (other != NULL) {
        struct nbd_link *loser = link;
        if (other->outbound != link->outbound && key_less(opener_key(link), opener_key(other)))
            loser = other;
        nbd_debug("peer %s: second session with %.16s…; closing one", link->remote, text);
        loser->no_backoff = true;
        if (loser->peer != NULL)
            loser->peer->failures = 0;
        link_close(loser, "duplicate session");
        if (loser == link)
            return;
    }
    if (!make_room(net, link))
        return;

    /* An inbound link tells where its node listens: that address becomes
     * known (so it is dialed after a restart) and this link serves it. */
    if (!link->outbound && link->hello.has_listen) {
        bool changed = false;
        struct nbd_peer *p = NULL;
        char from[64];
        address_group(link->remote_ip, from, sizeof(from));
        if (!is_own_address(net, link->hello.listen))
            p = add_peer(net, link->hello.listen, link->node, NBD_SOURCE_EXCHANGE, from, false,
                         &changed);
        /* A known address whose node key differs stays with its node: an
         * incoming link only says where it listens, and could name anyone's
         * address. */
        if (p != NULL && p->link == NULL &&
            (!p->has_node || sodium_memcmp(p->node, link->node, NB_KEY_SIZE) == 0)) {
            p->link = link;
            link->peer = p;
        }
        if (changed)
            net_save_peers(net);
    }
    struct nbd_peer *peer = link->peer;
    if (peer != NULL) {
        if (!peer->has_node || memcmp(peer->node, link->node, NB_KEY_SIZE) != 0) {
            if (peer->has_node)
                nbd_warn("peer %s now has node key %s (a different node than before)",
                         peer->address, text);
            memcpy(peer->node, link->node, NB_KEY_SIZE);
            peer->has_node = true;
            net_save_peers(net);
        }
        peer->last_error[0] = '\0';
        peer->silent_since = 0;
        /* We dialed this address and a node of the neighbourhood answered:
         * it is no longer just something a peer said. */
        if (link->outbound && !peer->verified) {
            peer->verified = true;
            net_save_peers(net);
        }
    }
    nbd_info("peer %s: connected (%s, node %s)", link->remote,
             link->outbound ? "outgoing" : "incoming", text);
    send_peers(link);
    sync_link_up(link);
}

static int send_peers(struct nbd_link *link)
{
    struct nbd_net *net = link_net(link);
    static struct nb_peer_addr addrs[NB_PEER_ADDRS_MAX];
    uint8_t buf[NB_PEER_ADDRS_MAX * (NB_PEER_ADDRESS_MAX + 48) + 16];
    size_t n = 0, len;
    /* Only addresses whose node we have actually reached are passed on, so
     * a typo in one node's config does not spread. */
    for (struct nbd_peer *p = net->peers; p != NULL && n < NB_PEER_ADDRS_MAX; p = p->next) {
        if (net->no_peer_exchange)
            break;
        if (p->self || !p->has_node || !p->has_last_contact || (learned(p) && !p->verified) ||
            memcmp(p->node, link->node, NB_KEY_SIZE) == 0)
            continue;
        memcpy(addrs[n].node_key, p->node, NB_KEY_SIZE);
        snprintf(addrs[n].address, sizeof(addrs[n].address), "%s", p->address);
        n++;
    }
    int r = nb_peer_encode_peers(addrs, n, buf, sizeof(buf), &len);
    if (r < 0)
        return r;
    return link_send(link, buf, len);
}

static void learn_addresses(struct nbd_net *net, const struct nbd_link *link,
                            const struct nb_peer_msg *msg)
{
    bool changed = false;
    char from[64];
    if (net->no_peer_exchange)
        return;
    address_group(link->remote_ip, from, sizeof(from));
    for (size_t i = 0; i < msg->n_addrs; i++) {
        const struct nb_peer_addr *a = &msg->addrs[i];
        if (sodium_memcmp(a->node_key, net->node_pk, NB_KEY_SIZE) == 0 ||
            is_own_address(net, a->address))
            continue;
        /* A node we already know under another address is not added again:
         * one row per node keeps the table from filling with aliases. */
        bool known = false;
        for (struct nbd_peer *p = net->peers; p != NULL; p = p->next)
            if (p->has_node && memcmp(p->node, a->node_key, NB_KEY_SIZE) == 0)
                known = true;
        if (known)
            continue;
        bool added;
        if (add_peer(net, a->address, a->node_key, NBD_SOURCE_EXCHANGE, from, false, &added) !=
                NULL &&
            added)
            changed = true;
    }
    if (changed)
        net_save_peers(net);
}

/* ---- what links report ------------------------------------------------------ */

static void on_link_message(void *ctx, struct nbd_link *link, const struct nb_peer_msg *msg)
{
    if (msg->type == NB_PEER_PEERS)
        learn_addresses(ctx, link, msg);
    else
        sync_on_message(link, msg);
}

static void on_link_written(void *ctx, struct nbd_link *link)
{
    (void)ctx;
    sync_drain(link);
}

static void on_link_closed(void *ctx, struct nbd_link *link, bool was_up, const char *why)
{
    struct nbd_net *net = ctx;
    uint64_t now = uv_now(net->loop);
    sync_link_closed(link);
    if (link->long_backoff && !net->stopping)
        ban(net, link);
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
            if (was_up && now - link->up_since >= NET_STABLE_MS)
                peer->failures = 0;
            /* A link that went silent was a good one cut off: dial again
             * soon and keep dialing at short intervals (peer_failed). */
            if (link->went_silent) {
                peer->failures = 0;
                peer->silent_since = now != 0 ? now : 1;
            }
            peer_failed(net, peer, why, link->long_backoff);
        }
    }
    link->peer = NULL;
}

static void on_read_begin(void *ctx, struct nbd_link *link)
{
    struct nbd_net *net = ctx;
    (void)link;
    /* Group commit: what a read stores is committed together, with one
     * fsync, before any of it is pushed on to other peers (daemon/node.h);
     * the records whose signatures the verifier checked are committed
     * together in the same way when they come back (daemon/net/sync.c).  A
     * failed commit loses nothing a peer was promised: the records are
     * fetched again at the next round. */
    nbd_node_batch_begin(net->node);
}

static void on_read_end(void *ctx, struct nbd_link *link)
{
    struct nbd_net *net = ctx;
    if (link->state == LINK_UP && link->peer != NULL) {
        link->peer->has_last_contact = true;
        link->peer->last_contact = link->last_contact;
    }
    /* The read's records go to the verifier's threads; the loop reads on
     * and accepts them when they are checked (daemon/net/sync.c). */
    sync_submit_records(link);
    sync_batch_end(net, link);
}

/* ---- dialing -------------------------------------------------------------- */

static void on_resolved(uv_getaddrinfo_t *req, int status, struct addrinfo *res)
{
    struct nbd_peer *peer = container_of(req, struct nbd_peer, resolve);
    struct nbd_net *net = req->data;
    peer->resolving = false;
    if (peer->forget) {
        uv_freeaddrinfo(res);
        free(peer);
        return;
    }
    if (status < 0 || res == NULL) {
        if (status != UV_ECANCELED && !net->stopping) {
            nbd_warn("peer %s: cannot resolve the address: %s", peer->address, uv_strerror(status));
            peer_failed(net, peer, "cannot resolve the address", false);
        }
        uv_freeaddrinfo(res);
        return;
    }
    /* Nodes listen on IPv4 by default (0.0.0.0), so a name with both kinds
     * of address is dialed on its IPv4 one. */
    const struct addrinfo *pick = res;
    for (const struct addrinfo *ai = res; ai != NULL; ai = ai->ai_next) {
        if (ai->ai_family == AF_INET) {
            pick = ai;
            break;
        }
    }
    char ip[64];
    link_ip_name(pick->ai_addr, ip, sizeof(ip), NULL);
    if (peer->source == NBD_SOURCE_EXCHANGE && !net->allow_loopback && local_only_host(ip)) {
        /* A name another node gave us that leads back to this machine. */
        nbd_debug("peer %s: resolves to %s, a local address; forgetting it", peer->address, ip);
        uv_freeaddrinfo(res);
        remove_peer(net, peer);
        return;
    }
    if (!net->stopping && net->running && peer->link == NULL) {
        struct nbd_link *link = link_dial(&net->host, peer->address, pick->ai_addr);
        if (link != NULL) {
            link->peer = peer;
            peer->link = link;
        } else {
            peer_failed(net, peer, "cannot open a connection", false);
        }
    }
    uv_freeaddrinfo(res);
}

static void dial(struct nbd_net *net, struct nbd_peer *peer)
{
    char host[NB_PEER_ADDRESS_MAX + 1];
    char port[8];
    uint16_t p;
    if (nb_peer_address_parse(peer->address, strlen(peer->address), false, host, &p) < 0)
        return;
    snprintf(port, sizeof(port), "%u", p);
    struct addrinfo hints;
    memset(&hints, 0, sizeof(hints));
    hints.ai_family = AF_UNSPEC;
    hints.ai_socktype = SOCK_STREAM;
    peer->resolve.data = net;
    if (uv_getaddrinfo(net->loop, &peer->resolve, on_resolved, host, port, &hints) < 0) {
        peer_failed(net, peer, "cannot resolve the address", false);
        return;
    }
    peer->resolving = true;
}

/* Whether the node may dial one more address: while established links
 * and dials in progress leave room under max_peers, and always for up to
 * NET_OUTBOUND_KEEP links of its own. */
static bool room_to_dial(const struct nbd_net *net)
{
    unsigned busy = 0, out = 0;
    for (const struct nbd_link *l = net->host.links; l != NULL; l = l->next) {
        if (l->state == LINK_CLOSING)
            continue;
        if (l->outbound)
            out++;
        if (l->outbound || l->state == LINK_UP)
            busy++;
    }
    unsigned keep = net->max_peers < NET_OUTBOUND_KEEP ? net->max_peers : NET_OUTBOUND_KEEP;
    return busy < net->max_peers || out < keep;
}

/* Dials to addresses nobody has reached yet take a token: a peer that names
 * many addresses cannot make us dial them all at once. */
static bool take_dial_token(struct nbd_net *net, uint64_t now)
{
    net->dial_tokens += (double)(now - net->dial_at) * NET_UNVERIFIED_DIAL_RATE / 1000.0;
    if (net->dial_tokens > NET_UNVERIFIED_DIAL_BURST)
        net->dial_tokens = NET_UNVERIFIED_DIAL_BURST;
    net->dial_at = now;
    if (net->dial_tokens < 1.0)
        return false;
    net->dial_tokens -= 1.0;
    return true;
}

static void on_tick(uv_timer_t *t)
{
    struct nbd_net *net = container_of(t, struct nbd_net, tick);
    uint64_t now = uv_now(net->loop);
    for (struct nbd_link *l = net->host.links, *next; l != NULL; l = next) {
        next = l->next;
        link_tick(l, now);
        if (l->state == LINK_UP)
            sync_tick(l, now);
    }
    sync_expire_pending(net, now);
    struct nbd_net_status st;
    nbd_net_status(net, &st);
    nbd_node_catching_up(net->node, st.fetching, now);
    if (!net->running || net->stopping)
        return;
    age_addresses(net, now);
    for (struct nbd_peer *p = net->peers; p != NULL && room_to_dial(net); p = p->next) {
        if (p->self || p->link != NULL || p->resolving || p->next_attempt > now)
            continue;
        if (p->has_node && find_up_node(net, p->node, NULL) != NULL)
            continue;
        if (learned(p) && !p->verified && !take_dial_token(net, now))
            continue;
        dial(net, p);
        if (p->resolving)
            return; /* one new dial per tick: room_to_dial counts links, not lookups */
    }
}

/* ---- listening ------------------------------------------------------------ */

static void on_connection(uv_stream_t *server, int status)
{
    struct nbd_net *net = container_of((uv_tcp_t *)server, struct nbd_net, server);
    if (status < 0) {
        nbd_warn("accepting a peer connection failed: %s", uv_strerror(status));
        return;
    }
    struct nbd_link *link = link_accept(&net->host, server);
    if (link == NULL || link->state == LINK_CLOSING)
        return;
    char group[64];
    address_group(link->remote_ip, group, sizeof(group));
    if (address_banned(net, group)) {
        nbd_debug("peer %s: refused, address banned for now", link->remote);
        link->no_backoff = true;
        link_close(link, "address refused for a while after too many invalid messages");
        return;
    }
    /* Handshakes in progress are bounded apart from established links, per
     * address and in all, so connections that never finish their handshake
     * cannot keep honest nodes out (docs/protocol.md, "Limits"). */
    unsigned total = 0, same = 0;
    for (const struct nbd_link *l = net->host.links; l != NULL; l = l->next) {
        if (l->outbound || l->state == LINK_UP || l->state == LINK_CLOSING)
            continue;
        total++;
        if (same_group(l, group))
            same++;
    }
    if (same > NET_HANDSHAKE_PER_ADDRESS) {
        nbd_debug("peer %s: refused, %u handshakes already in progress from %s", link->remote,
                  same - 1, group);
        link_close(link, "too many handshakes from this address");
        return;
    }
    if (total > NET_HANDSHAKE_MAX) {
        /* Full: the oldest handshake of the address with the most of them
         * gives way, so a flood from a few places cannot keep out others. */
        struct nbd_link *victim = NULL;
        unsigned vn = 0;
        for (struct nbd_link *l = net->host.links; l != NULL; l = l->next) {
            if (l->outbound || l->state == LINK_UP || l->state == LINK_CLOSING)
                continue;
            char g[64];
            unsigned n = 0;
            address_group(l->remote_ip, g, sizeof(g));
            for (const struct nbd_link *o = net->host.links; o != NULL; o = o->next)
                if (!o->outbound && o->state != LINK_UP && o->state != LINK_CLOSING &&
                    same_group(o, g))
                    n++;
            if (victim == NULL || n > vn || (n == vn && l->started < victim->started)) {
                victim = l;
                vn = n;
            }
        }
        link_close(victim, "too many handshakes in progress");
    }
}

static bool wildcard_host(const char *host)
{
    return strcmp(host, "0.0.0.0") == 0 || strcmp(host, "::") == 0 || host[0] == '\0';
}

static void derive_advertise(struct nbd_net *net, const char *host)
{
    if (net->advertise_cfg != NULL) {
        snprintf(net->advertise, sizeof(net->advertise), "%s", net->advertise_cfg);
        return;
    }
    if (!wildcard_host(host)) {
        if (strchr(host, ':') != NULL)
            snprintf(net->advertise, sizeof(net->advertise), "[%.250s]:%u", host, net->port);
        else
            snprintf(net->advertise, sizeof(net->advertise), "%.250s:%u", host, net->port);
        return;
    }
    uv_interface_address_t *ifs = NULL;
    int count = 0;
    char ip[64] = "127.0.0.1";
    if (uv_interface_addresses(&ifs, &count) == 0) {
        for (int i = 0; i < count; i++) {
            if (ifs[i].is_internal || ifs[i].address.address4.sin_family != AF_INET)
                continue;
            uv_ip4_name(&ifs[i].address.address4, ip, sizeof(ip));
            break;
        }
        uv_free_interface_addresses(ifs, count);
    }
    snprintf(net->advertise, sizeof(net->advertise), "%s:%u", ip, net->port);
}

static int start_listening(struct nbd_net *net)
{
    char host[NB_PEER_ADDRESS_MAX + 1];
    uint16_t port;
    struct sockaddr_storage ss;
    int r;
    if (nb_peer_address_parse(net->listen, strlen(net->listen), true, host, &port) < 0) {
        nbd_error("listen address '%s' is not HOST:PORT", net->listen);
        return NB_EINVAL;
    }
    if (strchr(host, ':') != NULL)
        r = uv_ip6_addr(host, port, (struct sockaddr_in6 *)&ss);
    else
        r = uv_ip4_addr(host, port, (struct sockaddr_in *)&ss);
    if (r < 0) {
        nbd_error("listen address '%s' must be a numeric IP address and a port", net->listen);
        return NB_EINVAL;
    }
    uv_tcp_init(net->loop, &net->server);
    net->server_open = true;
    r = uv_tcp_bind(&net->server, (const struct sockaddr *)&ss, 0);
    if (r == 0)
        r = uv_listen((uv_stream_t *)&net->server, 64, on_connection);
    if (r < 0) {
        nbd_error("cannot listen for peers on %s: %s", net->listen, uv_strerror(r));
        uv_close((uv_handle_t *)&net->server, NULL);
        net->server_open = false;
        return NB_EIO;
    }
    int len = sizeof(ss);
    if (uv_tcp_getsockname(&net->server, (struct sockaddr *)&ss, &len) == 0)
        net->port = ntohs(ss.ss_family == AF_INET6 ? ((struct sockaddr_in6 *)&ss)->sin6_port
                                                   : ((struct sockaddr_in *)&ss)->sin_port);
    derive_advertise(net, host);
    nbd_info("listening for peers on %s port %u (advertised as %s)", host, net->port,
             net->advertise);
    return 0;
}

/* ---- the API -------------------------------------------------------------- */

int nbd_net_new(uv_loop_t *loop, struct nbd_node *node, const struct nbd_net_config *cfg,
                struct nbd_net **ret, char *err, size_t err_size)
{
    char path[4200];
    char msg[NB_KEYFILE_MSG_MAX];
    uint8_t seed[NB_SEED_SIZE];
    int r;

    struct nbd_net *net = calloc(1, sizeof(*net));
    if (net == NULL) {
        snprintf(err, err_size, "out of memory");
        return NB_ENOMEM;
    }
    net->loop = loop;
    net->node = node;
    net->clock = cfg->clock;
    net->max_peers = cfg->max_peers ? cfg->max_peers : NBD_NET_MAX_PEERS_DEFAULT;
    net->no_peer_exchange = cfg->no_peer_exchange;
    net->allow_loopback = cfg->peer_exchange_allow_loopback;
    net->dial_tokens = NET_UNVERIFIED_DIAL_BURST;
    net->dial_at = uv_now(loop);
    net->host.loop = loop;
    net->host.node_sk = net->node_sk;
    net->host.psk = net->psk;
    net->host.advertise = net->advertise;
    net->host.riblt = cfg->riblt;
    net->host.clock = cfg->clock;
    net->host.ev = (struct nbd_link_events){
        .ctx = net,
        .up = on_link_up,
        .message = on_link_message,
        .written = on_link_written,
        .closed = on_link_closed,
        .read_begin = on_read_begin,
        .read_end = on_read_end,
    };
    net->sync_interval_ms =
        1000 * (cfg->sync_interval ? cfg->sync_interval : NBD_NET_SYNC_INTERVAL_DEFAULT);
    net->listen = strdup(cfg->listen != NULL ? cfg->listen : "0.0.0.0:7447");
    net->advertise_cfg = cfg->advertise != NULL ? strdup(cfg->advertise) : NULL;
    if (net->listen == NULL || (cfg->advertise != NULL && net->advertise_cfg == NULL)) {
        snprintf(err, err_size, "out of memory");
        r = NB_ENOMEM;
        goto fail;
    }
    if (nb_peer_address_parse(net->listen, strlen(net->listen), true, NULL, NULL) < 0) {
        snprintf(err, err_size, "listen address '%s' is not HOST:PORT", net->listen);
        r = NB_EINVAL;
        goto fail;
    }
    if (net->advertise_cfg != NULL &&
        nb_peer_address_parse(net->advertise_cfg, strlen(net->advertise_cfg), false, NULL, NULL) <
            0) {
        snprintf(err, err_size, "advertise address '%s' is not HOST:PORT", net->advertise_cfg);
        r = NB_EINVAL;
        goto fail;
    }

    snprintf(path, sizeof(path), "%s/node.key", cfg->data_dir);
    r = nb_keyfile_read_seed(path, NB_KEY_FILE_NODE, seed, msg, sizeof(msg));
    if (r == NB_ENOENT) {
        r = nb_keyfile_create(path, NB_KEY_FILE_NODE, 0, net->node_pk, msg, sizeof(msg));
        if (r == 0)
            r = nb_keyfile_read_seed(path, NB_KEY_FILE_NODE, seed, msg, sizeof(msg));
    }
    if (r == 0)
        r = nb_node_from_seed(seed, net->node_pk, net->node_sk);
    sodium_memzero(seed, sizeof(seed));
    if (r < 0) {
        /* The fix, not only the file: the node key is the node's identity
         * to its peers, and a new one is a new node to them (its address
         * bans and their address books start over), which is harmless. */
        snprintf(err, err_size,
                 "node key: %s; restore %s from a backup, or move it aside to make this node a "
                 "new node key at the next start (its peers then see a new node)",
                 msg[0] ? msg : nb_strerror(r), path);
        goto fail;
    }
    char text[NB_NODE_KEY_TEXT_LEN + 1];
    nb_node_key_to_text(net->node_pk, text);
    nbd_info("node key %s", text);

    load_peers(net);
    for (size_t i = 0; i < cfg->n_peers; i++) {
        r = nbd_net_add_address(net, cfg->peers[i], NULL, NBD_SOURCE_CONFIG);
        if (r == NB_EINVAL) {
            snprintf(err, err_size, "peer address '%s' is not HOST:PORT", cfg->peers[i]);
            goto fail;
        }
    }
    r = nbd_node_add_hook(node, sync_on_accept, net);
    if (r < 0) {
        snprintf(err, err_size, "cannot register the push hook");
        goto fail;
    }
    uv_timer_init(loop, &net->tick);
    net->tick_open = true;
    *ret = net;
    return 0;
fail:
    nbd_net_free(net);
    return r;
}

bool nbd_net_running(const struct nbd_net *net)
{
    return net != NULL && net->running;
}

int nbd_net_start(struct nbd_net *net)
{
    if (net == NULL || net->running || net->stopping)
        return 0;
    if (!net->node->has_neighbourhood) {
        nbd_info("not listening for peers until this node has a neighbourhood");
        return 0;
    }
    int r = nb_neighbourhood_psk(net->node->neighbourhood_key, net->psk);
    if (r < 0)
        return r;
    r = start_listening(net);
    if (r < 0)
        return r;
    net->running = true;
    uv_timer_start(&net->tick, on_tick, NET_TICK_MS, NET_TICK_MS);
    return 0;
}

const uint8_t *nbd_net_node_key(const struct nbd_net *net)
{
    return net->node_pk;
}

const char *nbd_net_advertise(const struct nbd_net *net)
{
    return net->advertise;
}

uint16_t nbd_net_port(const struct nbd_net *net)
{
    return net->port;
}

static void fill_from_link(struct nbd_peer_info *info, const struct nbd_link *l)
{
    info->outbound = l->outbound;
    switch (l->state) {
    case LINK_CONNECTING:
        info->state = NBD_PEER_CONNECTING;
        break;
    case LINK_HANDSHAKE:
    case LINK_WAIT_FIRST:
        info->state = NBD_PEER_HANDSHAKING;
        break;
    case LINK_UP:
        info->state = NBD_PEER_CONNECTED;
        break;
    case LINK_CLOSING:
        info->state = NBD_PEER_IDLE;
        break;
    }
    if (l->has_node) {
        info->has_node = true;
        memcpy(info->node, l->node, NB_KEY_SIZE);
    }
    if (l->state == LINK_UP) {
        info->has_last_contact = true;
        info->last_contact = l->last_contact;
    }
    info->silent = l->state == LINK_UP && uv_now(l->host->loop) - l->last_rx >= NET_QUIET_MS;
    info->synced = l->sync.synced && !info->silent && l->sync.retry_ms == 0;
    info->reconcile = nbd_reconcile_mode_name(l->sync.last_mode);
    info->fetching = sync_fetching(l);
    info->records_in += l->records_in;
    info->records_out += l->records_out;
    info->invalid += l->invalid;
    info->reconcile_bytes_in = l->sync.reconcile_in;
    info->reconcile_bytes_out = l->sync.reconcile_out;
}

/*
 * The link a known address's row shows: its own link once established, else
 * the established link to the same node under another address (the node
 * dialed us, or we know it by two addresses), else its own attempt, if any.
 */
static const struct nbd_link *row_link(struct nbd_net *net, const struct nbd_peer *p)
{
    if (p->link != NULL && p->link->state == LINK_UP)
        return p->link;
    if (p->has_node) {
        const struct nbd_link *up = find_up_node(net, p->node, NULL);
        if (up != NULL)
            return up;
    }
    return p->link;
}

/* True if a row before `upto` (a known address, or NULL: all of them)
 * shows the established link l. */
static bool shown_before(struct nbd_net *net, const struct nbd_peer *upto, const struct nbd_link *l)
{
    for (const struct nbd_peer *q = net->peers; q != upto; q = q->next)
        if (!q->self && row_link(net, q) == l)
            return true;
    return false;
}

int nbd_net_foreach_peer(struct nbd_net *net, nbd_peer_cb cb, void *ctx)
{
    uint64_t now = uv_now(net->loop);
    int r;
    /* A node is listed once, by node key: an established link appears under
     * the address it serves, else under the first known address of its
     * node, and as an inbound row only when no known address names its
     * node.  Other addresses of a connected node are left out. */
    for (struct nbd_peer *p = net->peers; p != NULL; p = p->next) {
        if (p->self)
            continue;
        const struct nbd_link *l = row_link(net, p);
        if (l != NULL && l->state == LINK_UP && p->link != l &&
            (l->peer != NULL || shown_before(net, p, l)))
            continue;
        struct nbd_peer_info info;
        memset(&info, 0, sizeof(info));
        info.address = p->address;
        info.source = p->source;
        info.has_node = p->has_node;
        memcpy(info.node, p->node, NB_KEY_SIZE);
        info.outbound = true;
        info.has_last_contact = p->has_last_contact;
        info.last_contact = p->last_contact;
        info.records_in = p->records_in;
        info.records_out = p->records_out;
        info.invalid = p->invalid;
        info.synced = p->synced;
        info.state = p->resolving            ? NBD_PEER_CONNECTING
                     : p->next_attempt > now ? NBD_PEER_BACKOFF
                                             : NBD_PEER_IDLE;
        if (l != NULL)
            fill_from_link(&info, l);
        info.last_error = p->last_error[0] != '\0' ? p->last_error : NULL;
        r = cb(ctx, &info);
        if (r != 0)
            return r;
    }
    for (struct nbd_link *l = net->host.links; l != NULL; l = l->next) {
        if (l->peer != NULL || l->outbound || l->state == LINK_CLOSING)
            continue;
        if (l->state == LINK_UP && shown_before(net, NULL, l))
            continue;
        struct nbd_peer_info info;
        memset(&info, 0, sizeof(info));
        info.address = l->remote;
        info.source = NBD_SOURCE_INBOUND;
        fill_from_link(&info, l);
        r = cb(ctx, &info);
        if (r != 0)
            return r;
    }
    return 0;
}

static int offset_cmp(const void *a, const void *b)
{
    int64_t x = *(const int64_t *)a, y = *(const int64_t *)b;
    return (x > y) - (x < y);
}

/* The median offset, so that one peer with a wrong clock does not make
 * this node's look wrong. */
static void peers_clock(const struct nbd_net *net, struct nbd_net_status *ret)
{
    int64_t offsets[64];
    size_t n = 0;
    for (const struct nbd_link *l = net->host.links; l != NULL && n < 64; l = l->next)
        if (l->state == LINK_UP && l->has_clock_offset)
            offsets[n++] = l->clock_offset;
    if (n == 0)
        return;
    qsort(offsets, n, sizeof(offsets[0]), offset_cmp);
    ret->has_peers_clock = true;
    ret->peers_clocks = (unsigned)n;
    ret->peers_clock_offset =
        n % 2 == 1 ? offsets[n / 2] : (offsets[n / 2 - 1] + offsets[n / 2]) / 2;
}

void nbd_net_status(const struct nbd_net *net, struct nbd_net_status *ret)
{
    memset(ret, 0, sizeof(*ret));
    if (net == NULL) {
        ret->in_sync = true;
        return;
    }
    bool all_synced = true;
    uint64_t now = uv_now(net->loop);
    for (size_t i = 0; i < NET_BANS_MAX; i++)
        if (net->address_bans[i].until > now)
            ret->addresses_refused++;
    for (const struct nbd_link *l = net->host.links; l != NULL; l = l->next) {
        if (!l->outbound && l->state != LINK_UP && l->state != LINK_CLOSING)
            ret->handshaking++;
        if (l->state != LINK_UP)
            continue;
        ret->connected++;
        ret->fetching += sync_fetching(l);
        if (sync_fetching(l) > 0)
            ret->fetching_from++;
        if (!l->sync.synced)
            all_synced = false;
        if (now - l->last_rx >= NET_QUIET_MS) {
            ret->silent++;
            all_synced = false;
        }
        if (l->sync.retry_ms > 0) {
            ret->retrying++;
            ret->retry_code = l->sync.unstored_code;
        }
    }
    for (const struct nbd_peer *p = net->peers; p != NULL; p = p->next)
        if (!p->self)
            ret->known++;
    peers_clock(net, ret);
    if (ret->connected == 0)
        ret->in_sync = ret->known == 0;
    else
        ret->in_sync = all_synced && ret->fetching == 0;
}

void nbd_net_records_deleted(struct nbd_net *net)
{
    if (net != NULL)
        net->items_stale = true;
}

void nbd_net_refetch(struct nbd_net *net)
{
    if (net == NULL)
        return;
    net->items_stale = true;
    /* Each outbound link starts its next round at its next tick rather than
     * a whole sync interval later: the record is wanted now. */
    uint64_t now = uv_now(net->loop);
    uint64_t due = now >= net->sync_interval_ms ? now - net->sync_interval_ms : 0;
    for (struct nbd_link *l = net->host.links; l != NULL; l = l->next)
        if (l->sync.round_started > due)
            l->sync.round_started = due;
}

void nbd_net_stop(struct nbd_net *net)
{
    if (net == NULL || net->stopping)
        return;
    net->stopping = true;
    net->running = false;
    for (struct nbd_peer *p = net->peers; p != NULL; p = p->next)
        if (p->resolving)
            uv_cancel((uv_req_t *)&p->resolve);
    for (struct nbd_link *l = net->host.links, *next; l != NULL; l = next) {
        next = l->next;
        link_close(l, "the node is stopping");
    }
    sync_stop(net);
    if (net->server_open) {
        uv_close((uv_handle_t *)&net->server, NULL);
        net->server_open = false;
    }
    if (net->tick_open) {
        uv_timer_stop(&net->tick);
        uv_close((uv_handle_t *)&net->tick, NULL);
        net->tick_open = false;
    }
    nbd_node_remove_hook(net->node, sync_on_accept, net);
}

void nbd_net_free(struct nbd_net *net)
{
    if (net == NULL)
        return;
    sync_free(net);
    for (struct nbd_peer *p = net->peers, *next; p != NULL; p = next) {
        next = p->next;
        free(p);
    }
    free(net->listen);
    free(net->advertise_cfg);
    sodium_memzero(net->node_sk, sizeof(net->node_sk));
    sodium_memzero(net->psk, sizeof(net->psk));
    free(net);
}
