/*
 * The control API's operations on this node's blocks: block, unblock and
 * the list of blocked members (docs/control-api.md).
 */
#include "daemon/control/ops.h"

#include <noaber/error.h>

#include "daemon/log.h"
#include "proto/mp.h"

/* ---- blocking members ----------------------------------------------------- */

int nbd_op_block(struct nbd_request *rq)
{
    uint8_t member[NB_KEY_SIZE];
    if (nb_mp_map_bin_exact(rq->map, "member", NB_KEY_SIZE, member) < 0)
        return nbd_reply_error(rq, NB_CTL_E_BAD_REQUEST, nbd_msg_member_arg);
    uint64_t deleted = 0;
    struct nbd_verdict v;
    if (nbd_node_block(rq->ctx->node, member, rq->ctx->clock(), &deleted, &v) < 0) {
        nbd_error("blocking a member failed: %s", nb_strerror(v.code));
        return nbd_reply_verdict(rq, &v);
    }
    /* The network layer's cached item set still lists what was deleted. */
    if (deleted > 0)
        nbd_net_records_deleted(rq->ctx->net);
    nbd_info("a member was blocked by a client; %llu records deleted", (unsigned long long)deleted);
    struct nbd_reply fr;
    if (nbd_reply_begin(&fr, rq) < 0)
        return NB_ENOMEM;
    msgpack_pack_map(&fr.pk, 2);
    nb_mp_pack_cstr(&fr.pk, "member");
    nb_mp_pack_bin(&fr.pk, member, NB_KEY_SIZE);
    nb_mp_pack_cstr(&fr.pk, "deleted");
    msgpack_pack_uint64(&fr.pk, deleted);
    return nbd_reply_end(&fr);
}

int nbd_op_unblock(struct nbd_request *rq)
{
    uint8_t member[NB_KEY_SIZE];
    if (nb_mp_map_bin_exact(rq->map, "member", NB_KEY_SIZE, member) < 0)
        return nbd_reply_error(rq, NB_CTL_E_BAD_REQUEST, nbd_msg_member_arg);
    struct nbd_verdict v;
    if (nbd_node_unblock(rq->ctx->node, member, &v) < 0) {
        if (nbd_verdict_error(&v) == NB_CTL_E_INTERNAL)
            nbd_error("unblocking a member failed: %s", nb_strerror(v.code));
        return nbd_reply_verdict(rq, &v);
    }
    nbd_info("a member was unblocked by a client");
    struct nbd_reply fr;
    if (nbd_reply_begin(&fr, rq) < 0)
        return NB_ENOMEM;
    msgpack_pack_map(&fr.pk, 1);
    nb_mp_pack_cstr(&fr.pk, "member");
    nb_mp_pack_bin(&fr.pk, member, NB_KEY_SIZE);
    return nbd_reply_end(&fr);
}

static int count_blocked(void *ctx, const uint8_t author[NB_KEY_SIZE], uint64_t since)
{
    (void)author;
    (void)since;
    (*(uint32_t *)ctx)++;
    return 0;
}

static int pack_blocked(void *ctx, const uint8_t author[NB_KEY_SIZE], uint64_t since)
{
    msgpack_packer *pk = ctx;
    msgpack_pack_map(pk, 2);
    nb_mp_pack_cstr(pk, "member");
    nb_mp_pack_bin(pk, author, NB_KEY_SIZE);
    nb_mp_pack_cstr(pk, "since");
    msgpack_pack_uint64(pk, since);
    return 0;
}

int nbd_op_blocked(struct nbd_request *rq)
{
    uint32_t n = 0;
    /* Counted, then packed: requests run to completion on the loop
     * thread, so nothing changes the table in between. */
    struct nbd_store *store = rq->ctx->node->store;
    if (nbd_store_foreach_blocked(store, count_blocked, &n) < 0)
        return nbd_reply_error(rq, NB_CTL_E_INTERNAL, nbd_msg_store_failed);
    struct nbd_reply fr;
    if (nbd_reply_begin(&fr, rq) < 0)
        return NB_ENOMEM;
    msgpack_pack_map(&fr.pk, 1);
    nb_mp_pack_cstr(&fr.pk, "members");
    msgpack_pack_array(&fr.pk, n);
    /* A failure here would leave a short array: the reply is replaced by
     * an error instead (NB_ENOMEM drops what was packed). */
    if (nbd_store_foreach_blocked(store, pack_blocked, &fr.pk) < 0)
        return NB_ENOMEM;
    return nbd_reply_end(&fr);
}
