/*
 * The control API's operations on the peer network: the peer table and
 * adding an address by hand (docs/control-api.md, "peers").
 */
#include "daemon/control/ops.h"

#include <noaber/error.h>

#include "daemon/log.h"
#include "proto/mp.h"

/* One row of `peers` (docs/control-api.md). */
static int pack_peer(void *ctx, const struct nbd_peer_info *p)
{
    msgpack_packer *pk = ctx;
    msgpack_pack_map(pk, 16);
    nb_mp_pack_cstr(pk, "node");
    if (p->has_node)
        nb_mp_pack_bin(pk, p->node, NB_KEY_SIZE);
    else
        msgpack_pack_nil(pk);
    nb_mp_pack_cstr(pk, "address");
    nb_mp_pack_cstr(pk, p->address);
    nb_mp_pack_cstr(pk, "source");
    nb_mp_pack_cstr(pk, nbd_peer_source_name(p->source));
    nb_mp_pack_cstr(pk, "state");
    nb_mp_pack_cstr(pk, nbd_peer_state_name(p->state));
    nb_mp_pack_cstr(pk, "direction");
    nb_mp_pack_cstr(pk, p->outbound ? "out" : "in");
    nb_mp_pack_cstr(pk, "last_contact");
    if (p->has_last_contact)
        msgpack_pack_uint64(pk, p->last_contact);
    else
        msgpack_pack_nil(pk);
    nb_mp_pack_cstr(pk, "synced");
    if (p->synced)
        msgpack_pack_true(pk);
    else
        msgpack_pack_false(pk);
    nb_mp_pack_cstr(pk, "silent");
    if (p->silent)
        msgpack_pack_true(pk);
    else
        msgpack_pack_false(pk);
    nb_mp_pack_cstr(pk, "fetching");
    msgpack_pack_uint64(pk, p->fetching);
    nb_mp_pack_cstr(pk, "records_in");
    msgpack_pack_uint64(pk, p->records_in);
    nb_mp_pack_cstr(pk, "records_out");
    msgpack_pack_uint64(pk, p->records_out);
    nb_mp_pack_cstr(pk, "invalid");
    msgpack_pack_uint64(pk, p->invalid);
    nb_mp_pack_cstr(pk, "reconcile_bytes_in");
    msgpack_pack_uint64(pk, p->reconcile_bytes_in);
    nb_mp_pack_cstr(pk, "reconcile_bytes_out");
    msgpack_pack_uint64(pk, p->reconcile_bytes_out);
    nb_mp_pack_cstr(pk, "last_error");
    if (p->last_error != NULL)
        nb_mp_pack_cstr(pk, p->last_error);
    else
        msgpack_pack_nil(pk);
    nb_mp_pack_cstr(pk, "reconcile");
    if (p->reconcile != NULL)
        nb_mp_pack_cstr(pk, p->reconcile);
    else
        msgpack_pack_nil(pk);
    return 0;
}

static int count_peer(void *ctx, const struct nbd_peer_info *p)
{
    (void)p;
    (*(uint32_t *)ctx)++;
    return 0;
}

int nbd_op_peers(struct nbd_request *rq)
{
    uint32_t n = 0;
    if (rq->ctx->net != NULL)
        nbd_net_foreach_peer(rq->ctx->net, count_peer, &n);
    struct nbd_reply fr;
    if (nbd_reply_begin(&fr, rq) < 0)
        return NB_ENOMEM;
    msgpack_pack_array(&fr.pk, n);
    if (rq->ctx->net != NULL)
        nbd_net_foreach_peer(rq->ctx->net, pack_peer, &fr.pk);
    return nbd_reply_end(&fr);
}

/* The answer of peer.add and peer.remove: {address}. */
static int address_reply(struct nbd_request *rq, const char *address)
{
    struct nbd_reply fr;
    if (nbd_reply_begin(&fr, rq) < 0)
        return NB_ENOMEM;
    msgpack_pack_map(&fr.pk, 1);
    nb_mp_pack_cstr(&fr.pk, "address");
    nb_mp_pack_cstr(&fr.pk, address);
    return nbd_reply_end(&fr);
}

int nbd_op_peer_add(struct nbd_request *rq)
{
    char address[NBD_NET_ADDRESS_MAX + 1];
    if (nbd_request_word(rq->map, "address", address, sizeof(address)) < 0)
        return nbd_reply_error(rq, NB_CTL_E_BAD_REQUEST,
                               "`address` must be HOST:PORT, e.g. 192.168.1.20:7447");
    if (rq->ctx->net == NULL)
        return nbd_reply_error(rq, NB_CTL_E_REFUSED, "this noaberd has no peer network");
    int r = nbd_net_add_address(rq->ctx->net, address, NULL, NBD_SOURCE_MANUAL);
    if (r == NB_EINVAL)
        return nbd_reply_error(rq, NB_CTL_E_BAD_REQUEST,
                               "`address` must be HOST:PORT (an IPv6 host in brackets), e.g. "
                               "192.168.1.20:7447");
    if (r == NB_EEXIST)
        return nbd_reply_error(rq, NB_CTL_E_REFUSED, "that is this node's own address");
    if (r == NB_ETOOBIG)
        return nbd_reply_error(rq, NB_CTL_E_REFUSED,
                               "this node already knows as many addresses as it keeps");
    if (r < 0)
        return nbd_reply_error(rq, NB_CTL_E_INTERNAL, nb_strerror(r));
    nbd_info("peer address %s added by a client", address);
    return address_reply(rq, address);
}

/* peer.remove: the operator forgets an address (docs/control-api.md). */
int nbd_op_peer_remove(struct nbd_request *rq)
{
    char address[NBD_NET_ADDRESS_MAX + 1];
    if (nbd_request_word(rq->map, "address", address, sizeof(address)) < 0)
        return nbd_reply_error(rq, NB_CTL_E_BAD_REQUEST, "`address` must be HOST:PORT");
    if (rq->ctx->net == NULL)
        return nbd_reply_error(rq, NB_CTL_E_REFUSED, "this noaberd has no peer network");
    int r = nbd_net_remove_address(rq->ctx->net, address);
    if (r == NB_EINVAL)
        return nbd_reply_error(rq, NB_CTL_E_BAD_REQUEST,
                               "`address` must be HOST:PORT (an IPv6 host in brackets)");
    if (r == NB_ENOENT)
        return nbd_reply_error(rq, NB_CTL_E_REFUSED,
                               "this node does not know that address (`noaber peers` lists them)");
    if (r < 0)
        return nbd_reply_error(rq, NB_CTL_E_INTERNAL, nb_strerror(r));
    nbd_info("peer address %s removed by a client", address);
    return address_reply(rq, address);
}
