/*
 * The control API's operations on welcome links and admitted devices
 * (docs/control-api.md, docs/web.md): the operator makes a one-time link
 * (`welcome`) and lists and revokes the browsers it admitted (`devices`,
 * `device.revoke`); noaber-web, on the member socket, redeems a link for the
 * key a browser made (`welcome.redeem`) and asks whether a key is admitted
 * (`welcome.check`).  The tokens and devices live in the store
 * (daemon/store/store_welcome.c).
 */
#include "daemon/control/ops.h"

#include <string.h>

#include <sodium.h>

#include <noaber/error.h>

#include "daemon/log.h"
#include "daemon/store/store_welcome.h"
#include "proto/mp.h"

#define WELCOME_DEFAULT_SECONDS (7 * 86400ull)
#define WELCOME_MAX_SECONDS     (90 * 86400ull)

/* An optional text argument: 0 (absent: buf is ""), or < 0 when malformed. */
static int arg_optional_text(const msgpack_object *map, const char *key, size_t max, char *buf)
{
    struct nb_text t;
    int r = nb_mp_map_text(map, key, 1, max, 0, &t);

    buf[0] = '\0';
    if (r == NB_ENOENT)
        return 0;
    if (r < 0)
        return r;
    memcpy(buf, t.ptr, t.len);
    buf[t.len] = '\0';
    return 0;
}

/* welcome {name?, expires?}: a one-time token that admits one browser. */
int nbd_op_welcome(struct nbd_request *rq)
{
    char name[NB_NAME_MAX + 1], token[NBD_WELCOME_TOKEN_LEN + 1];
    uint64_t seconds = WELCOME_DEFAULT_SECONDS, now = rq->ctx->clock();
    int r;

    if (arg_optional_text(rq->map, "name", NB_NAME_MAX, name) < 0)
        return nbd_reply_error(rq, NB_CTL_E_BAD_REQUEST,
                               "`name` is 1 to 64 bytes of text without control characters");
    r = nb_mp_map_uint(rq->map, "expires", WELCOME_MAX_SECONDS, &seconds);
    if ((r < 0 && r != NB_ENOENT) || seconds < 1)
        return nbd_reply_error(rq, NB_CTL_E_BAD_REQUEST,
                               "`expires` is a number of seconds from 1 to 7776000 (90 days)");
    if (!rq->ctx->node->has_neighbourhood)
        return nbd_reply_error(rq, NB_CTL_E_REFUSED,
                               "this node has no neighbourhood yet: run `noaber neighbourhood "
                               "create NAME` or `noaber join CODE` first");
    if (nbd_welcome_make(rq->ctx->node->store, name, now, now + seconds, token) < 0) {
        nbd_error("making a welcome token failed");
        return nbd_reply_error(rq, NB_CTL_E_INTERNAL, nbd_msg_store_failed);
    }
    nbd_info("a welcome link was made (valid %llu s)", (unsigned long long)seconds);
    struct nbd_reply fr;
    if (nbd_reply_begin(&fr, rq) < 0)
        return NB_ENOMEM;
    msgpack_pack_map(&fr.pk, 2);
    nb_mp_pack_cstr(&fr.pk, "token");
    nb_mp_pack_cstr(&fr.pk, token);
    nb_mp_pack_cstr(&fr.pk, "expires_at");
    msgpack_pack_uint64(&fr.pk, now + seconds);
    sodium_memzero(token, sizeof(token));
    return nbd_reply_end(&fr);
}

/* welcome.redeem {token, member, device?}: the browser's key is admitted. */
int nbd_op_welcome_redeem(struct nbd_request *rq)
{
    char token[NBD_WELCOME_TOKEN_LEN + 8], device[NBD_DEVICE_NAME_MAX + 1];
    uint8_t member[NB_KEY_SIZE];
    int64_t id;

    if (nbd_request_word(rq->map, "token", token, sizeof(token)) < 0)
        return nbd_reply_error(rq, NB_CTL_E_BAD_REQUEST, "`token` is the welcome token");
    if (nb_mp_map_bin_exact(rq->map, "member", NB_KEY_SIZE, member) < 0)
        return nbd_reply_error(rq, NB_CTL_E_BAD_REQUEST, nbd_msg_member_arg);
    if (arg_optional_text(rq->map, "device", NBD_DEVICE_NAME_MAX, device) < 0)
        return nbd_reply_error(rq, NB_CTL_E_BAD_REQUEST,
                               "`device` is 1 to 64 bytes of text without control characters");
    id = nbd_welcome_redeem(rq->ctx->node->store, token, member, device, rq->ctx->clock());
    sodium_memzero(token, sizeof(token));
    if (id == NB_ENOENT)
        return nbd_reply_error(
            rq, NB_CTL_E_NOT_FOUND,
            "this welcome link is unknown or was already used: ask for a new one");
    if (id == NB_EEXPIRED)
        return nbd_reply_error(rq, NB_CTL_E_GONE,
                               "this welcome link has expired: ask for a new one");
    if (id < 0) {
        nbd_error("redeeming a welcome token failed");
        return nbd_reply_error(rq, NB_CTL_E_INTERNAL, nbd_msg_store_failed);
    }
    nbd_info("a welcome link was used: device %lld admitted", (long long)id);
    struct nbd_reply fr;
    if (nbd_reply_begin(&fr, rq) < 0)
        return NB_ENOMEM;
    msgpack_pack_map(&fr.pk, 2);
    nb_mp_pack_cstr(&fr.pk, "admitted");
    msgpack_pack_true(&fr.pk);
    nb_mp_pack_cstr(&fr.pk, "device_id");
    msgpack_pack_uint64(&fr.pk, (uint64_t)id);
    return nbd_reply_end(&fr);
}

/* welcome.check {member}: whether one of the member's devices is admitted. */
int nbd_op_welcome_check(struct nbd_request *rq)
{
    uint8_t member[NB_KEY_SIZE];
    int r;

    if (nb_mp_map_bin_exact(rq->map, "member", NB_KEY_SIZE, member) < 0)
        return nbd_reply_error(rq, NB_CTL_E_BAD_REQUEST, nbd_msg_member_arg);
    r = nbd_welcome_admitted(rq->ctx->node->store, member);
    if (r < 0)
        return nbd_reply_error(rq, NB_CTL_E_INTERNAL, nbd_msg_store_failed);
    struct nbd_reply fr;
    if (nbd_reply_begin(&fr, rq) < 0)
        return NB_ENOMEM;
    msgpack_pack_map(&fr.pk, 1);
    nb_mp_pack_cstr(&fr.pk, "admitted");
    if (r == 1)
        msgpack_pack_true(&fr.pk);
    else
        msgpack_pack_false(&fr.pk);
    return nbd_reply_end(&fr);
}

static void pack_text_or_nil(msgpack_packer *pk, const char *key, const char *value)
{
    nb_mp_pack_cstr(pk, key);
    if (value != NULL)
        nb_mp_pack_cstr(pk, value);
    else
        msgpack_pack_nil(pk);
}

static int count_device(void *ctx, const struct nbd_device *d)
{
    (void)d;
    (*(uint32_t *)ctx)++;
    return 0;
}

static int pack_device(void *ctx, const struct nbd_device *d)
{
    msgpack_packer *pk = ctx;
    msgpack_pack_map(pk, 6);
    nb_mp_pack_cstr(pk, "device_id");
    msgpack_pack_uint64(pk, (uint64_t)d->id);
    nb_mp_pack_cstr(pk, "member");
    nb_mp_pack_bin(pk, d->member, NB_KEY_SIZE);
    pack_text_or_nil(pk, "name", d->name);
    pack_text_or_nil(pk, "device", d->device);
    nb_mp_pack_cstr(pk, "admitted_at");
    msgpack_pack_uint64(pk, d->admitted_at);
    nb_mp_pack_cstr(pk, "revoked_at");
    if (d->revoked)
        msgpack_pack_uint64(pk, d->revoked_at);
    else
        msgpack_pack_nil(pk);
    return 0;
}

int nbd_op_devices(struct nbd_request *rq)
{
    struct nbd_store *store = rq->ctx->node->store;
    uint32_t n = 0;

    /* Counted, then packed, as op_blocked does. */
    if (nbd_welcome_foreach_device(store, count_device, &n) < 0)
        return nbd_reply_error(rq, NB_CTL_E_INTERNAL, nbd_msg_store_failed);
    struct nbd_reply fr;
    if (nbd_reply_begin(&fr, rq) < 0)
        return NB_ENOMEM;
    msgpack_pack_map(&fr.pk, 1);
    nb_mp_pack_cstr(&fr.pk, "devices");
    msgpack_pack_array(&fr.pk, n);
    if (nbd_welcome_foreach_device(store, pack_device, &fr.pk) < 0)
        return NB_ENOMEM;
    return nbd_reply_end(&fr);
}

int nbd_op_device_revoke(struct nbd_request *rq)
{
    uint64_t id;
    int r;

    if (nb_mp_map_uint(rq->map, "device_id", INT64_MAX, &id) < 0)
        return nbd_reply_error(rq, NB_CTL_E_BAD_REQUEST,
                               "`device_id` is the number `devices` shows");
    r = nbd_welcome_revoke(rq->ctx->node->store, (int64_t)id, rq->ctx->clock());
    if (r == NB_ENOENT)
        return nbd_reply_error(rq, NB_CTL_E_NOT_FOUND, "no admitted device has that number");
    if (r < 0)
        return nbd_reply_error(rq, NB_CTL_E_INTERNAL, nbd_msg_store_failed);
    nbd_info("device %llu was revoked", (unsigned long long)id);
    struct nbd_reply fr;
    if (nbd_reply_begin(&fr, rq) < 0)
        return NB_ENOMEM;
    msgpack_pack_map(&fr.pk, 1);
    nb_mp_pack_cstr(&fr.pk, "device_id");
    msgpack_pack_uint64(&fr.pk, id);
    return nbd_reply_end(&fr);
}
