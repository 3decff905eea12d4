/*
 * The control API's operations on the node itself: hello, status, creating
 * or joining a neighbourhood and making invites (docs/control-api.md).
 */
#include "daemon/control/ops.h"

#include <stdbool.h>
#include <string.h>

#include <sodium.h>

#include <noaber/error.h>
#include <noaber/identity.h>
#include <noaber/invite.h>

#include "daemon/log.h"
#include "daemon/store/store_wal.h"
#include "proto/mp.h"

static void pack_neighbourhood(msgpack_packer *pk, const struct nbd_node *node)
{
    nb_mp_pack_cstr(pk, "neighbourhood");
    if (node->has_neighbourhood)
        nb_mp_pack_cstr(pk, node->neighbourhood_name);
    else
        msgpack_pack_nil(pk);
    nb_mp_pack_cstr(pk, "neighbourhood_id");
    if (node->has_neighbourhood)
        nb_mp_pack_bin(pk, node->neighbourhood_id, NB_NEIGHBOURHOOD_ID_SIZE);
    else
        msgpack_pack_nil(pk);
}

/* `peers_now`: the node's estimate of its peers' clock (the median of what
 * their hellos said), nil while no peer said; beside `now`, a client tells
 * which clock is off (docs/control-api.md, "hello"). */
static void pack_peers_now(msgpack_packer *pk, const struct nbd_request *rq, uint64_t now)
{
    struct nbd_net_status ns;
    nbd_net_status(rq->ctx->net, &ns);
    nb_mp_pack_cstr(pk, "peers_now");
    if (ns.has_peers_clock && (int64_t)now + ns.peers_clock_offset > 0)
        msgpack_pack_uint64(pk, (uint64_t)((int64_t)now + ns.peers_clock_offset));
    else
        msgpack_pack_nil(pk);
    nb_mp_pack_cstr(pk, "peers_clocks");
    msgpack_pack_uint32(pk, ns.has_peers_clock ? ns.peers_clocks : 0);
}

int nbd_op_hello(struct nbd_request *rq)
{
    struct nbd_reply fr;
    if (nbd_reply_begin(&fr, rq) < 0)
        return NB_ENOMEM;
    uint64_t now = rq->ctx->clock();
    msgpack_pack_map(&fr.pk, 8);
    nb_mp_pack_cstr(&fr.pk, "version");
    msgpack_pack_uint32(&fr.pk, NB_CTL_VERSION);
    /* A program learns what this socket lets it do before it tries. */
    nb_mp_pack_cstr(&fr.pk, "role");
    nb_mp_pack_cstr(&fr.pk, nb_ctl_role_name(rq->ctx->role));
    nb_mp_pack_cstr(&fr.pk, "software");
    nb_mp_pack_cstr(&fr.pk, "noaberd " NOABER_VERSION);
    nb_mp_pack_cstr(&fr.pk, "now");
    msgpack_pack_uint64(&fr.pk, now);
    pack_peers_now(&fr.pk, rq, now);
    pack_neighbourhood(&fr.pk, rq->ctx->node);
    return nbd_reply_end(&fr);
}

/* The members whose records went over a quota in the last day: the
 * operator's to look into, so only on the operator's socket. */
static void pack_over_quota(msgpack_packer *pk, struct nbd_node *node, uint64_t now)
{
    struct nbd_over_quota over[NBD_OVER_QUOTA_MAX];
    size_t n_over = nbd_node_over_quota(node, now, over, NBD_OVER_QUOTA_MAX);
    nb_mp_pack_cstr(pk, "over_quota");
    msgpack_pack_array(pk, (uint32_t)n_over);
    for (size_t i = 0; i < n_over; i++) {
        msgpack_pack_map(pk, 5);
        nb_mp_pack_cstr(pk, "author");
        nb_mp_pack_bin(pk, over[i].author, NB_KEY_SIZE);
        nb_mp_pack_cstr(pk, "window");
        nb_mp_pack_cstr(pk, over[i].window == 3600 ? "hour" : "day");
        nb_mp_pack_cstr(pk, "since");
        msgpack_pack_uint64(pk, over[i].window_start);
        nb_mp_pack_cstr(pk, "limit");
        msgpack_pack_uint32(pk, over[i].limit);
        nb_mp_pack_cstr(pk, "refused");
        msgpack_pack_uint64(pk, over[i].refused);
    }
}

int nbd_op_status(struct nbd_request *rq)
{
    uint64_t records = 0, tombstones = 0;
    int r = nbd_store_count(rq->ctx->node->store, &records, &tombstones);
    if (r < 0)
        return nbd_reply_store_error(rq, r, "counting the store's records");
    struct nbd_reply fr;
    if (nbd_reply_begin(&fr, rq) < 0)
        return NB_ENOMEM;
    struct nbd_net_status ns;
    nbd_net_status(rq->ctx->net, &ns);
    /* Where the node keeps its data is the operator's business; a member's
     * program sees counts only (and never a peer's address: that is `peers`). */
    bool operator= rq->ctx->role == NB_CTL_ROLE_OPERATOR;
    msgpack_pack_map(&fr.pk, operator? 20 : 18);
    pack_neighbourhood(&fr.pk, rq->ctx->node);
    nb_mp_pack_cstr(&fr.pk, "records");
    msgpack_pack_uint64(&fr.pk, records);
    nb_mp_pack_cstr(&fr.pk, "tombstones");
    msgpack_pack_uint64(&fr.pk, tombstones);
    nb_mp_pack_cstr(&fr.pk, "peers");
    msgpack_pack_uint32(&fr.pk, ns.connected);
    nb_mp_pack_cstr(&fr.pk, "peers_known");
    msgpack_pack_uint32(&fr.pk, ns.known);
    nb_mp_pack_cstr(&fr.pk, "fetching");
    msgpack_pack_uint64(&fr.pk, ns.fetching);
    nb_mp_pack_cstr(&fr.pk, "fetching_from");
    msgpack_pack_uint32(&fr.pk, ns.fetching_from);
    nb_mp_pack_cstr(&fr.pk, "in_sync");
    if (ns.in_sync)
        msgpack_pack_true(&fr.pk);
    else
        msgpack_pack_false(&fr.pk);
    uint64_t now = rq->ctx->clock();
    nb_mp_pack_cstr(&fr.pk, "now");
    msgpack_pack_uint64(&fr.pk, now);
    pack_peers_now(&fr.pk, rq, now);
    /* Why the node is not in sync, where it is something to act on. */
    nb_mp_pack_cstr(&fr.pk, "peers_silent");
    msgpack_pack_uint32(&fr.pk, ns.silent);
    nb_mp_pack_cstr(&fr.pk, "peers_retrying");
    msgpack_pack_uint32(&fr.pk, ns.retrying);
    nb_mp_pack_cstr(&fr.pk, "retry_reason");
    if (ns.retrying == 0)
        msgpack_pack_nil(&fr.pk);
    else if (ns.retry_code == NB_EFUTURE)
        nb_mp_pack_cstr(&fr.pk, "records created in this node's future: check the clocks");
    else
        nb_mp_pack_cstr(&fr.pk, nb_strerror(ns.retry_code));
    /* Committed records SQLite dropped from a damaged write-ahead log when
     * the store opened (daemon/store/store_wal.h): fetched again from
     * peers, but the operator should know, and where the copy is. */
    const struct nbd_wal_report *wal = nbd_store_wal(rq->ctx->node->store);
    nb_mp_pack_cstr(&fr.pk, "store_wal_lost");
    if (wal->verdict != NBD_WAL_DAMAGED) {
        msgpack_pack_nil(&fr.pk);
    } else {
        msgpack_pack_map(&fr.pk, operator? 2 : 1);
        nb_mp_pack_cstr(&fr.pk, "what");
        nb_mp_pack_cstr(&fr.pk, wal->what);
        if (operator) {
            nb_mp_pack_cstr(&fr.pk, "kept");
            nb_mp_pack_cstr(&fr.pk, wal->kept_copy);
        }
    }
    /* What a node under attack shows (docs/protocol.md, "Limits"). */
    nb_mp_pack_cstr(&fr.pk, "peers_handshaking");
    msgpack_pack_uint32(&fr.pk, ns.handshaking);
    nb_mp_pack_cstr(&fr.pk, "addresses_refused");
    msgpack_pack_uint32(&fr.pk, ns.addresses_refused);
    if (operator) {
        nb_mp_pack_cstr(&fr.pk, "data_dir");
        nb_mp_pack_cstr(&fr.pk, rq->ctx->data_dir);
        pack_over_quota(&fr.pk, rq->ctx->node, rq->ctx->clock());
    }
    return nbd_reply_end(&fr);
}

/* ---- invites ------------------------------------------------------------ */

#define INVITE_EXPIRES_DEFAULT (7 * 24 * 3600)
#define INVITE_EXPIRES_MAX     (90 * 24 * 3600)
/* Connected peers named in an invite besides this node, so that the new
 * node still finds the neighbourhood while this one is down. */
#define INVITE_PEERS_MAX 4

struct invite_peers {
    struct nb_invite *inv;
    const uint8_t *self;
    size_t peers;
};

static int add_invite_peer(void *ctx, const struct nbd_peer_info *p)
{
    struct invite_peers *ip = ctx;
    struct nb_invite *inv = ip->inv;

    if (ip->peers == INVITE_PEERS_MAX || inv->n_addresses == NB_INVITE_ADDRESSES_MAX)
        return 1;
    /* Only links that are up now, to nodes that said where they listen. */
    if (p->state != NBD_PEER_CONNECTED || !p->has_node || p->address == NULL ||
        p->source == NBD_SOURCE_INBOUND || memcmp(p->node, ip->self, NB_KEY_SIZE) == 0)
        return 0;
    size_t n = strlen(p->address);
    if (nb_invite_address_check(p->address, n) < 0)
        return 0;
    for (size_t i = 0; i < inv->n_addresses; i++) {
        if (strcmp(inv->addresses[i].address, p->address) == 0)
            return 0;
    }
    memcpy(inv->addresses[inv->n_addresses].node_key, p->node, NB_KEY_SIZE);
    memcpy(inv->addresses[inv->n_addresses].address, p->address, n + 1);
    inv->n_addresses++;
    ip->peers++;
    return 0;
}

int nbd_op_invite(struct nbd_request *rq)
{
    struct nbd_node *node = rq->ctx->node;
    struct nbd_net *net = rq->ctx->net;
    struct nb_invite inv;
    char code[NB_INVITE_TEXT_MAX + 1];
    uint64_t seconds = INVITE_EXPIRES_DEFAULT;
    int r;

    if (!node->has_neighbourhood)
        return nbd_reply_error(
            rq, NB_CTL_E_REFUSED,
            "this node has no neighbourhood yet: run `noaber neighbourhood create "
            "NAME` or join one with `noaber join CODE`");
    r = nb_mp_map_uint(rq->map, "expires", INVITE_EXPIRES_MAX, &seconds);
    if ((r < 0 && r != NB_ENOENT) || seconds == 0)
        return nbd_reply_error(rq, NB_CTL_E_BAD_REQUEST,
                               "`expires` must be 1 second to 90 days, in seconds");
    if (net == NULL || !nbd_net_running(net))
        return nbd_reply_error(
            rq, NB_CTL_E_REFUSED,
            "this node does not accept connections from other nodes (see its log), "
            "so an invite naming it would not work");
    memset(&inv, 0, sizeof(inv));
    memcpy(inv.name, node->neighbourhood_name, strlen(node->neighbourhood_name) + 1);
    memcpy(inv.key, node->neighbourhood_key, sizeof(inv.key));
    inv.expires_at = rq->ctx->clock() + seconds;
    const char *own = nbd_net_advertise(net);
    if (own != NULL && nb_invite_address_check(own, strlen(own)) == 0) {
        memcpy(inv.addresses[0].node_key, nbd_net_node_key(net), NB_KEY_SIZE);
        memcpy(inv.addresses[0].address, own, strlen(own) + 1);
        inv.n_addresses = 1;
    }
    struct invite_peers ip = { .inv = &inv, .self = nbd_net_node_key(net), .peers = 0 };
    nbd_net_foreach_peer(net, add_invite_peer, &ip);
    if (inv.n_addresses == 0) {
        sodium_memzero(&inv, sizeof(inv));
        return nbd_reply_error(rq, NB_CTL_E_REFUSED,
                               "this node has no address others can reach (set `advertise` in its "
                               "config) and no connected peers to name in an invite");
    }
    /* Long host names may not all fit a code: the peers go first, this
     * node's own address stays. */
    r = nb_invite_encode(&inv, code, sizeof(code));
    while (r == NB_ETOOBIG && inv.n_addresses > 1) {
        inv.n_addresses--;
        r = nb_invite_encode(&inv, code, sizeof(code));
    }
    size_t n_addresses = inv.n_addresses;
    uint64_t expires_at = inv.expires_at;
    sodium_memzero(&inv, sizeof(inv));
    if (r < 0) {
        nbd_error("making an invite failed: %s", nb_strerror(r));
        return nbd_reply_error(rq, NB_CTL_E_INTERNAL,
                               "the invite could not be encoded; see the daemon's log");
    }
    /* The code itself is never logged: it holds the neighbourhood key. */
    nbd_info("made an invite naming %zu address%s, valid for %llu s", n_addresses,
             n_addresses == 1 ? "" : "es", (unsigned long long)seconds);
    struct nbd_reply fr;
    r = nbd_reply_begin(&fr, rq);
    if (r == 0) {
        msgpack_pack_map(&fr.pk, 2);
        nb_mp_pack_cstr(&fr.pk, "code");
        nb_mp_pack_cstr(&fr.pk, code);
        nb_mp_pack_cstr(&fr.pk, "expires_at");
        msgpack_pack_uint64(&fr.pk, expires_at);
        r = nbd_reply_end(&fr);
    }
    sodium_memzero(code, sizeof(code));
    return r;
}

int nbd_op_join(struct nbd_request *rq)
{
    struct nbd_node *node = rq->ctx->node;
    struct nbd_net *net = rq->ctx->net;
    struct nb_invite inv;
    struct nbd_verdict v;
    struct nb_text code;
    bool already = false;
    uint64_t peers = 0;
    int r;

    r = nb_mp_map_text(rq->map, "code", 1, NB_INVITE_TEXT_MAX + 64, 0, &code);
    if (r < 0)
        return nbd_reply_error(rq, NB_CTL_E_BAD_REQUEST,
                               "`code` must be the invite code (nbi1...) as a string");
    r = nb_invite_decode(code.ptr, code.len, &inv);
    if (r < 0)
        return nbd_reply_error(rq, NB_CTL_E_BAD_REQUEST, nb_invite_problem(r));
    if (nb_invite_check_expiry(&inv, rq->ctx->clock()) < 0) {
        sodium_memzero(&inv, sizeof(inv));
        return nbd_reply_error(rq, NB_CTL_E_REFUSED,
                               "this invite code has expired; ask the member who gave it for a new "
                               "one");
    }
    r = nbd_node_join_neighbourhood(node, inv.name, strlen(inv.name), inv.key, &already, &v);
    if (r < 0) {
        sodium_memzero(&inv, sizeof(inv));
        if (nbd_verdict_error(&v) == NB_CTL_E_INTERNAL)
            nbd_error("joining a neighbourhood failed: %s", nb_strerror(r));
        return nbd_reply_verdict(rq, &v);
    }
    if (!already)
        nbd_info("joined the neighbourhood with an invite; its id starts %02x%02x%02x%02x",
                 node->neighbourhood_id[0], node->neighbourhood_id[1], node->neighbourhood_id[2],
                 node->neighbourhood_id[3]);
    for (size_t i = 0; net != NULL && i < inv.n_addresses; i++) {
        const struct nb_invite_address *a = &inv.addresses[i];
        if (memcmp(a->node_key, nbd_net_node_key(net), NB_KEY_SIZE) == 0)
            continue; /* an invite this node made itself */
        r = nbd_net_add_address(net, a->address, a->node_key, NBD_SOURCE_INVITE);
        if (r == 0)
            peers++;
        else if (r != NB_EEXIST)
            nbd_warn("cannot use the address %s from an invite: %s", a->address, nb_strerror(r));
    }
    sodium_memzero(&inv, sizeof(inv));
    if (net != NULL && nbd_net_start(net) < 0)
        nbd_warn("joined, but the node cannot listen for other nodes; see above");
    struct nbd_reply fr;
    if (nbd_reply_begin(&fr, rq) < 0)
        return NB_ENOMEM;
    msgpack_pack_map(&fr.pk, 3);
    nb_mp_pack_cstr(&fr.pk, "neighbourhood");
    nb_mp_pack_cstr(&fr.pk, node->neighbourhood_name);
    nb_mp_pack_cstr(&fr.pk, "peers");
    msgpack_pack_uint64(&fr.pk, peers);
    nb_mp_pack_cstr(&fr.pk, "already");
    if (already)
        msgpack_pack_true(&fr.pk);
    else
        msgpack_pack_false(&fr.pk);
    return nbd_reply_end(&fr);
}

int nbd_op_neighbourhood_create(struct nbd_request *rq)
{
    struct nb_text name;
    int r = nb_mp_map_text(rq->map, "name", 1, NB_NAME_MAX, 0, &name);
    if (r < 0)
        return nbd_reply_error(rq, NB_CTL_E_BAD_REQUEST,
                               "`name` must be 1 to 64 bytes of text without control characters");
    struct nbd_verdict v;
    r = nbd_node_create_neighbourhood(rq->ctx->node, name.ptr, name.len, &v);
    if (r < 0)
        return nbd_reply_verdict(rq, &v);
    nbd_info("created the neighbourhood; its id starts %02x%02x%02x%02x",
             rq->ctx->node->neighbourhood_id[0], rq->ctx->node->neighbourhood_id[1],
             rq->ctx->node->neighbourhood_id[2], rq->ctx->node->neighbourhood_id[3]);
    nbd_net_start(rq->ctx->net);
    struct nbd_reply fr;
    if (nbd_reply_begin(&fr, rq) < 0)
        return NB_ENOMEM;
    msgpack_pack_map(&fr.pk, 2);
    nb_mp_pack_cstr(&fr.pk, "name");
    nb_mp_pack_str(&fr.pk, name.ptr, name.len);
    nb_mp_pack_cstr(&fr.pk, "neighbourhood_id");
    nb_mp_pack_bin(&fr.pk, rq->ctx->node->neighbourhood_id, NB_NEIGHBOURHOOD_ID_SIZE);
    return nbd_reply_end(&fr);
}
