/*
 * The control API's operations on welcome links and admitted devices
 * (docs/control-api.md, docs/web.md): the operator makes a one-time link
 * (`welcome`) and lists and revokes the browsers it admitted (`devices`,
 * `device.revoke`); noaber-web, on the member socket, redeems a link for the
 * key a browser made (`welcome.redeem`) and asks whether a key is admitted
 * (`welcome.check`); a member's admitted browser admits their next one
 * (`device.transfer.put` and `.take`, `device.add`).  The tokens and devices live in the store
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

/* {token, expires_at}: the reply of the ops that make a one-time token,
 * which is wiped here once packed. */
static int reply_token(struct nbd_request *rq, char token[NBD_WELCOME_TOKEN_LEN + 1],
                       uint64_t expires_at)
{
    struct nbd_reply fr;

    if (nbd_reply_begin(&fr, rq) < 0) {
        sodium_memzero(token, NBD_WELCOME_TOKEN_LEN + 1);
        return NB_ENOMEM;
    }
    msgpack_pack_map(&fr.pk, 2);
    nb_mp_pack_cstr(&fr.pk, "token");
    nb_mp_pack_cstr(&fr.pk, token);
    nb_mp_pack_cstr(&fr.pk, "expires_at");
    msgpack_pack_uint64(&fr.pk, expires_at);
    sodium_memzero(token, NBD_WELCOME_TOKEN_LEN + 1);
    return nbd_reply_end(&fr);
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
    return reply_token(rq, token, now + seconds);
}

/* An optional device key: 0 with *ret NULL when absent, 0 with *ret = buf,
 * or < 0 when it is not 32 bytes. */
static int arg_device_key(const msgpack_object *map, const char *key, uint8_t buf[NB_KEY_SIZE],
                          const uint8_t **ret)
{
    int r = nb_mp_map_bin_exact(map, key, NB_KEY_SIZE, buf);

    *ret = NULL;
    if (r == NB_ENOENT)
        return 0;
    if (r < 0)
        return r;
    *ret = buf;
    return 0;
}

static const char msg_device_arg[] = "`device` is 1 to 64 bytes of text without control characters";
static const char msg_device_key_arg[] = "`device_key` is the browser's device key (bin 32)";
static const char msg_by_arg[] = "`by` is the device key of the member's admitted device (bin 32)";
static const char msg_key_taken[] =
    "this device key is already admitted: the browser makes a new one for each device";

/* {admitted: true, device_id}: the reply of every op that admits a device. */
static int reply_admitted(struct nbd_request *rq, int64_t id, const uint8_t *member,
                          const uint8_t *sealed, size_t sealed_len)
{
    struct nbd_reply fr;

    nbd_info("device %lld admitted", (long long)id);
    if (nbd_reply_begin(&fr, rq) < 0)
        return NB_ENOMEM;
    msgpack_pack_map(&fr.pk, member != NULL ? 4 : 2);
    nb_mp_pack_cstr(&fr.pk, "admitted");
    msgpack_pack_true(&fr.pk);
    nb_mp_pack_cstr(&fr.pk, "device_id");
    msgpack_pack_uint64(&fr.pk, (uint64_t)id);
    if (member != NULL) {
        nb_mp_pack_cstr(&fr.pk, "member");
        nb_mp_pack_bin(&fr.pk, member, NB_KEY_SIZE);
        nb_mp_pack_cstr(&fr.pk, "sealed");
        nb_mp_pack_bin(&fr.pk, sealed, sealed_len);
    }
    return nbd_reply_end(&fr);
}

/* welcome.redeem {token, member, device_key?, device?}: the browser's key is admitted. */
int nbd_op_welcome_redeem(struct nbd_request *rq)
{
    char token[NBD_WELCOME_TOKEN_LEN + 8], device[NBD_DEVICE_NAME_MAX + 1];
    uint8_t member[NB_KEY_SIZE], key_buf[NB_KEY_SIZE];
    const uint8_t *device_key;
    int64_t id;

    if (nbd_request_word(rq->map, "token", token, sizeof(token)) < 0)
        return nbd_reply_error(rq, NB_CTL_E_BAD_REQUEST, "`token` is the welcome token");
    if (nb_mp_map_bin_exact(rq->map, "member", NB_KEY_SIZE, member) < 0)
        return nbd_reply_error(rq, NB_CTL_E_BAD_REQUEST, nbd_msg_member_arg);
    if (arg_device_key(rq->map, "device_key", key_buf, &device_key) < 0)
        return nbd_reply_error(rq, NB_CTL_E_BAD_REQUEST, msg_device_key_arg);
    if (arg_optional_text(rq->map, "device", NBD_DEVICE_NAME_MAX, device) < 0)
        return nbd_reply_error(rq, NB_CTL_E_BAD_REQUEST, msg_device_arg);
    id = nbd_welcome_redeem(rq->ctx->node->store, token, member, device_key, device,
                            rq->ctx->clock());
    sodium_memzero(token, sizeof(token));
    if (id == NB_ENOENT)
        return nbd_reply_error(
            rq, NB_CTL_E_NOT_FOUND,
            "this welcome link is unknown or was already used: ask for a new one");
    if (id == NB_EEXPIRED)
        return nbd_reply_error(rq, NB_CTL_E_GONE,
                               "this welcome link has expired: ask for a new one");
    if (id == NB_EEXIST)
        return nbd_reply_error(rq, NB_CTL_E_REFUSED, msg_key_taken);
    if (id < 0) {
        nbd_error("redeeming a welcome token failed");
        return nbd_reply_error(rq, NB_CTL_E_INTERNAL, nbd_msg_store_failed);
    }
    nbd_info("a welcome link was used");
    return reply_admitted(rq, id, NULL, NULL, 0);
}

/* welcome.check {member, device_key?}: whether that device of the member is
 * admitted (without device_key: a device admitted without one). */
int nbd_op_welcome_check(struct nbd_request *rq)
{
    uint8_t member[NB_KEY_SIZE], key_buf[NB_KEY_SIZE];
    const uint8_t *device_key;
    int r;

    if (nb_mp_map_bin_exact(rq->map, "member", NB_KEY_SIZE, member) < 0)
        return nbd_reply_error(rq, NB_CTL_E_BAD_REQUEST, nbd_msg_member_arg);
    if (arg_device_key(rq->map, "device_key", key_buf, &device_key) < 0)
        return nbd_reply_error(rq, NB_CTL_E_BAD_REQUEST, msg_device_key_arg);
    r = nbd_welcome_admitted(rq->ctx->node->store, member, device_key);
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

static const char msg_not_admitted[] =
    "this device is not admitted on this node (revoked, or never welcomed)";

/* device.add {member, by?, device_key, device?}: the member's admitted device
 * `by` admits another device of the member (a recovery card). */
int nbd_op_device_add(struct nbd_request *rq)
{
    uint8_t member[NB_KEY_SIZE], by_buf[NB_KEY_SIZE], device_key[NB_KEY_SIZE];
    char device[NBD_DEVICE_NAME_MAX + 1];
    const uint8_t *by;
    int64_t id;

    if (nb_mp_map_bin_exact(rq->map, "member", NB_KEY_SIZE, member) < 0)
        return nbd_reply_error(rq, NB_CTL_E_BAD_REQUEST, nbd_msg_member_arg);
    if (arg_device_key(rq->map, "by", by_buf, &by) < 0)
        return nbd_reply_error(rq, NB_CTL_E_BAD_REQUEST, msg_by_arg);
    if (nb_mp_map_bin_exact(rq->map, "device_key", NB_KEY_SIZE, device_key) < 0)
        return nbd_reply_error(rq, NB_CTL_E_BAD_REQUEST, msg_device_key_arg);
    if (arg_optional_text(rq->map, "device", NBD_DEVICE_NAME_MAX, device) < 0)
        return nbd_reply_error(rq, NB_CTL_E_BAD_REQUEST, msg_device_arg);
    id = nbd_device_add(rq->ctx->node->store, member, by, device_key, device, rq->ctx->clock());
    if (id == NB_EPERM)
        return nbd_reply_error(rq, NB_CTL_E_REFUSED, msg_not_admitted);
    if (id == NB_EEXIST)
        return nbd_reply_error(rq, NB_CTL_E_REFUSED, msg_key_taken);
    if (id < 0)
        return nbd_reply_error(rq, NB_CTL_E_INTERNAL, nbd_msg_store_failed);
    return reply_admitted(rq, id, NULL, NULL, 0);
}

#define TRANSFER_DEFAULT_SECONDS 600ull

/* device.transfer.put {member, by?, sealed, expires?}: a one-time link for
 * the member's next device (docs/web.md, "Another phone or computer"). */
int nbd_op_transfer_put(struct nbd_request *rq)
{
    uint8_t member[NB_KEY_SIZE], by_buf[NB_KEY_SIZE];
    char token[NBD_WELCOME_TOKEN_LEN + 1];
    uint64_t seconds = TRANSFER_DEFAULT_SECONDS, now = rq->ctx->clock();
    const uint8_t *by;
    struct nb_bytes sealed;
    int r;

    if (nb_mp_map_bin_exact(rq->map, "member", NB_KEY_SIZE, member) < 0)
        return nbd_reply_error(rq, NB_CTL_E_BAD_REQUEST, nbd_msg_member_arg);
    if (arg_device_key(rq->map, "by", by_buf, &by) < 0)
        return nbd_reply_error(rq, NB_CTL_E_BAD_REQUEST, msg_by_arg);
    if (nb_mp_map_bin(rq->map, "sealed", 1, NBD_TRANSFER_SEALED_MAX, &sealed) < 0)
        return nbd_reply_error(rq, NB_CTL_E_BAD_REQUEST,
                               "`sealed` is the browser's ciphertext, 1 to 256 bytes");
    r = nb_mp_map_uint(rq->map, "expires", TRANSFER_DEFAULT_SECONDS, &seconds);
    if ((r < 0 && r != NB_ENOENT) || seconds < 1)
        return nbd_reply_error(rq, NB_CTL_E_BAD_REQUEST,
                               "`expires` is a number of seconds from 1 to 600");
    r = nbd_transfer_put(rq->ctx->node->store, member, by, sealed.ptr, sealed.len, now,
                         now + seconds, token);
    if (r == NB_EPERM)
        return nbd_reply_error(rq, NB_CTL_E_REFUSED, msg_not_admitted);
    if (r < 0)
        return nbd_reply_error(rq, NB_CTL_E_INTERNAL, nbd_msg_store_failed);
    nbd_info("a device made a transfer link (valid %llu s)", (unsigned long long)seconds);
    return reply_token(rq, token, now + seconds);
}

/* device.transfer.take {token, device_key, device?}: uses up the link,
 * admits the new device, and gives back the member and the ciphertext. */
int nbd_op_transfer_take(struct nbd_request *rq)
{
    char token[NBD_WELCOME_TOKEN_LEN + 8], device[NBD_DEVICE_NAME_MAX + 1];
    uint8_t device_key[NB_KEY_SIZE], member[NB_KEY_SIZE], sealed[NBD_TRANSFER_SEALED_MAX];
    size_t len = 0;
    int64_t id;

    if (nbd_request_word(rq->map, "token", token, sizeof(token)) < 0)
        return nbd_reply_error(rq, NB_CTL_E_BAD_REQUEST, "`token` is the transfer token");
    if (nb_mp_map_bin_exact(rq->map, "device_key", NB_KEY_SIZE, device_key) < 0)
        return nbd_reply_error(rq, NB_CTL_E_BAD_REQUEST, msg_device_key_arg);
    if (arg_optional_text(rq->map, "device", NBD_DEVICE_NAME_MAX, device) < 0)
        return nbd_reply_error(rq, NB_CTL_E_BAD_REQUEST, msg_device_arg);
    id = nbd_transfer_take(rq->ctx->node->store, token, device_key, device, rq->ctx->clock(),
                           member, sealed, sizeof(sealed), &len);
    sodium_memzero(token, sizeof(token));
    if (id == NB_ENOENT)
        return nbd_reply_error(rq, NB_CTL_E_NOT_FOUND,
                               "this link is unknown or was already used: make a new one on "
                               "the other device");
    if (id == NB_EEXPIRED)
        return nbd_reply_error(rq, NB_CTL_E_GONE,
                               "this link has expired: make a new one on the other device");
    if (id == NB_EEXIST)
        return nbd_reply_error(rq, NB_CTL_E_REFUSED, msg_key_taken);
    if (id < 0)
        return nbd_reply_error(rq, NB_CTL_E_INTERNAL, nbd_msg_store_failed);
    return reply_admitted(rq, id, member, sealed, len);
}

static void pack_text_or_nil(msgpack_packer *pk, const char *key, const char *value)
{
    nb_mp_pack_cstr(pk, key);
    if (value != NULL)
        nb_mp_pack_cstr(pk, value);
    else
        msgpack_pack_nil(pk);
}

/* {device_id}: the reply of the ops that revoke a device. */
static int reply_device_id(struct nbd_request *rq, uint64_t id)
{
    struct nbd_reply fr;

    if (nbd_reply_begin(&fr, rq) < 0)
        return NB_ENOMEM;
    msgpack_pack_map(&fr.pk, 1);
    nb_mp_pack_cstr(&fr.pk, "device_id");
    msgpack_pack_uint64(&fr.pk, id);
    return nbd_reply_end(&fr);
}

static int count_device(void *ctx, const struct nbd_device *d)
{
    (void)d;
    (*(uint32_t *)ctx)++;
    return 0;
}

/* The label the page gives the device it admits for a recovery card or a
 * copy of the key kept in a file (web/page/js/devices.js, makeCopy). */
#define DEVICE_LABEL_COPY "recovery card"

/* What kind of device this is, for a person: a copy of the key on paper or
 * in a file, or a browser (the only other kind that has device rows:
 * `noaber` signs with its identity file and is not admitted per device). */
static const char *device_kind(const struct nbd_device *d)
{
    return d->device != NULL && strcmp(d->device, DEVICE_LABEL_COPY) == 0 ? "copy" : "browser";
}

/* The fields both lists of devices have: five map entries. */
static void pack_device_common(msgpack_packer *pk, const struct nbd_device *d)
{
    nb_mp_pack_cstr(pk, "device_id");
    msgpack_pack_uint64(pk, (uint64_t)d->id);
    pack_text_or_nil(pk, "device", d->device);
    nb_mp_pack_cstr(pk, "kind");
    nb_mp_pack_cstr(pk, device_kind(d));
    nb_mp_pack_cstr(pk, "admitted_at");
    msgpack_pack_uint64(pk, d->admitted_at);
    nb_mp_pack_cstr(pk, "revoked_at");
    if (d->revoked)
        msgpack_pack_uint64(pk, d->revoked_at);
    else
        msgpack_pack_nil(pk);
}

/* What the packing callbacks get: the reply's packer, and for a member's
 * own list the key of the device asking (NULL for a device without one). */
struct pack_ctx {
    msgpack_packer *pk;
    const uint8_t *this_key;
};

static int pack_device(void *ctx, const struct nbd_device *d)
{
    msgpack_packer *pk = ((struct pack_ctx *)ctx)->pk;
    msgpack_pack_map(pk, 7);
    pack_device_common(pk, d);
    nb_mp_pack_cstr(pk, "member");
    nb_mp_pack_bin(pk, d->member, NB_KEY_SIZE);
    pack_text_or_nil(pk, "name", d->name);
    return 0;
}

/* A member's own device: whether it is the one asking, instead of the
 * member and the operator's name for them. */
static int pack_own_device(void *ctx, const struct nbd_device *d)
{
    const struct pack_ctx *pc = ctx;
    bool asking = pc->this_key != NULL ? d->device_key != NULL &&
                                             memcmp(d->device_key, pc->this_key, NB_KEY_SIZE) == 0
                                       : d->device_key == NULL && !d->revoked;
    msgpack_pack_map(pc->pk, 6);
    pack_device_common(pc->pk, d);
    nb_mp_pack_cstr(pc->pk, "this");
    if (asking)
        msgpack_pack_true(pc->pk);
    else
        msgpack_pack_false(pc->pk);
    return 0;
}

/* A list of devices, counted and then packed as op_blocked does: every
 * device (member NULL), or the member's. */
static int reply_devices(struct nbd_request *rq, const uint8_t *member, nbd_device_cb pack,
                         struct pack_ctx *pc)
{
    struct nbd_store *store = rq->ctx->node->store;
    uint32_t n = 0;

    if (nbd_welcome_foreach_device(store, member, count_device, &n) < 0)
        return nbd_reply_error(rq, NB_CTL_E_INTERNAL, nbd_msg_store_failed);
    struct nbd_reply fr;
    if (nbd_reply_begin(&fr, rq) < 0)
        return NB_ENOMEM;
    pc->pk = &fr.pk;
    msgpack_pack_map(&fr.pk, 1);
    nb_mp_pack_cstr(&fr.pk, "devices");
    msgpack_pack_array(&fr.pk, n);
    if (nbd_welcome_foreach_device(store, member, pack, pc) < 0)
        return NB_ENOMEM;
    return nbd_reply_end(&fr);
}

int nbd_op_devices(struct nbd_request *rq)
{
    struct pack_ctx pc = { 0 };

    return reply_devices(rq, NULL, pack_device, &pc);
}

/* The member and the asking device of a member's op on their own devices:
 * NULL, or what is wrong with them. */
static const char *own_device_args(struct nbd_request *rq, uint8_t member[NB_KEY_SIZE],
                                   uint8_t by_buf[NB_KEY_SIZE], const uint8_t **by)
{
    if (nb_mp_map_bin_exact(rq->map, "member", NB_KEY_SIZE, member) < 0)
        return nbd_msg_member_arg;
    if (arg_device_key(rq->map, "by", by_buf, by) < 0)
        return msg_by_arg;
    return NULL;
}

/* devices.own {member, by?}: the member's own devices, for the member's
 * admitted device `by` (docs/web.md, "You": switching off a lost phone). */
int nbd_op_devices_own(struct nbd_request *rq)
{
    uint8_t member[NB_KEY_SIZE], by_buf[NB_KEY_SIZE];
    struct pack_ctx pc = { 0 };
    int r;

    const char *bad = own_device_args(rq, member, by_buf, &pc.this_key);
    if (bad != NULL)
        return nbd_reply_error(rq, NB_CTL_E_BAD_REQUEST, bad);
    r = nbd_welcome_admitted(rq->ctx->node->store, member, pc.this_key);
    if (r < 0)
        return nbd_reply_error(rq, NB_CTL_E_INTERNAL, nbd_msg_store_failed);
    if (r == 0)
        return nbd_reply_error(rq, NB_CTL_E_REFUSED, msg_not_admitted);
    return reply_devices(rq, member, pack_own_device, &pc);
}

/* Whether `signature` is the member's over NB_CTL_DEVICE_REVOKE_CONTEXT,
 * the neighbourhood id and the device id. */
static bool revoke_signed(const uint8_t nid[NB_NEIGHBOURHOOD_ID_SIZE], uint64_t id,
                          const uint8_t member[NB_KEY_SIZE], const uint8_t signature[64])
{
    uint8_t msg[sizeof(NB_CTL_DEVICE_REVOKE_CONTEXT) - 1 + NB_NEIGHBOURHOOD_ID_SIZE + 8];
    size_t n = sizeof(NB_CTL_DEVICE_REVOKE_CONTEXT) - 1;

    memcpy(msg, NB_CTL_DEVICE_REVOKE_CONTEXT, n);
    memcpy(msg + n, nid, NB_NEIGHBOURHOOD_ID_SIZE);
    n += NB_NEIGHBOURHOOD_ID_SIZE;
    for (int i = 7; i >= 0; i--)
        msg[n++] = (uint8_t)(id >> (8 * i));
    return crypto_sign_verify_detached(signature, msg, sizeof(msg), member) == 0;
}

/*
 * device.revoke.own {member, by?, device_id, signature}: the member's
 * admitted device `by` switches off another device of the same member.
 * The member's key signs which device (noaber-web has no key and cannot
 * make the signature); a device of another member is not found.
 */
int nbd_op_device_revoke_own(struct nbd_request *rq)
{
    uint8_t member[NB_KEY_SIZE], by_buf[NB_KEY_SIZE], signature[64];
    const uint8_t *by;
    uint64_t id;
    int r;

    const char *bad = own_device_args(rq, member, by_buf, &by);
    if (bad != NULL)
        return nbd_reply_error(rq, NB_CTL_E_BAD_REQUEST, bad);
    if (nb_mp_map_uint(rq->map, "device_id", INT64_MAX, &id) < 0)
        return nbd_reply_error(rq, NB_CTL_E_BAD_REQUEST,
                               "`device_id` is the number `devices.own` shows");
    if (nb_mp_map_bin_exact(rq->map, "signature", sizeof(signature), signature) < 0)
        return nbd_reply_error(rq, NB_CTL_E_BAD_REQUEST,
                               "`signature` is the member's signature (bin 64) over "
                               "\"" NB_CTL_DEVICE_REVOKE_CONTEXT
                               "\", the neighbourhood id and the device id");
    if (!rq->ctx->node->has_neighbourhood)
        return nbd_reply_error(rq, NB_CTL_E_REFUSED, "this node has no neighbourhood yet");
    if (!revoke_signed(rq->ctx->node->neighbourhood_id, id, member, signature))
        return nbd_reply_error(rq, NB_CTL_E_REFUSED,
                               "the signature is not the member's over this device's number");
    r = nbd_device_revoke_own(rq->ctx->node->store, member, by, (int64_t)id, rq->ctx->clock());
    if (r == NB_EPERM)
        return nbd_reply_error(rq, NB_CTL_E_REFUSED, msg_not_admitted);
    if (r == NB_ENOENT)
        return nbd_reply_error(rq, NB_CTL_E_NOT_FOUND,
                               "you have no device with that number that is still switched on");
    if (r < 0)
        return nbd_reply_error(rq, NB_CTL_E_INTERNAL, nbd_msg_store_failed);
    nbd_info("device %llu was switched off by its member", (unsigned long long)id);
    return reply_device_id(rq, id);
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
    return reply_device_id(rq, id);
}
