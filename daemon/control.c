#include "daemon/control.h"

#include <errno.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#include <sodium.h>

#include <noaber/error.h>
#include <noaber/identity.h>
#include <noaber/invite.h>
#include <noaber/state.h>

#include "daemon/log.h"
#include "daemon/welcome.h"
#include "proto/mp.h"

#define container_of(ptr, type, member) ((type *)((char *)(ptr)-offsetof(type, member)))

/* Requests are flat maps; a little nesting is tolerated for later ops. */
#define REQUEST_DEPTH 4

/* ---- framing ---------------------------------------------------------- */

void nbd_framer_clear(struct nbd_framer *f)
{
    free(f->body);
    memset(f, 0, sizeof(*f));
}

int nbd_framer_feed(struct nbd_framer *f, const uint8_t *data, size_t n, size_t *ret_used,
                    uint8_t **ret_body, size_t *ret_len)
{
    size_t used = 0;
    while (f->header_len < 4 && used < n)
        f->header[f->header_len++] = data[used++];
    if (f->header_len < 4) {
        *ret_used = used;
        return 0;
    }
    if (f->body == NULL) {
        /* The length is checked before a single body byte is buffered. */
        uint32_t len = (uint32_t)f->header[0] << 24 | (uint32_t)f->header[1] << 16 |
                       (uint32_t)f->header[2] << 8 | f->header[3];
        if (len == 0 || len > NBD_FRAME_MAX)
            return NB_ETOOBIG;
        f->body = malloc(len);
        if (f->body == NULL)
            return NB_ENOMEM;
        f->body_len = len;
        f->body_got = 0;
    }
    size_t take = f->body_len - f->body_got;
    if (take > n - used)
        take = n - used;
    memcpy(f->body + f->body_got, data + used, take);
    f->body_got += take;
    used += take;
    *ret_used = used;
    if (f->body_got < f->body_len)
        return 0;
    *ret_body = f->body;
    *ret_len = f->body_len;
    f->body = NULL;
    f->header_len = 0;
    f->body_len = f->body_got = 0;
    return 1;
}

/* ---- reply encoding ------------------------------------------------------ */

/* A reply under construction: the frame's length prefix is patched in by
 * frame_end once the body is complete. */
struct frame {
    msgpack_sbuffer *out;
    size_t start;
    msgpack_packer pk;
};

static int frame_begin(struct frame *fr, msgpack_sbuffer *out)
{
    static const char zero[4] = { 0 };
    fr->out = out;
    fr->start = out->size;
    msgpack_packer_init(&fr->pk, out, msgpack_sbuffer_write);
    return msgpack_sbuffer_write(out, zero, 4) == 0 ? 0 : NB_ENOMEM;
}

static int frame_end(struct frame *fr)
{
    /* msgpack_sbuffer_write returns -1 when it cannot grow; the reply is
     * then short, which the size check below cannot see, so callers check
     * allocation by the buffer's data pointer staying valid.  A reply
     * larger than a frame may hold is replaced by an error. */
    size_t len = fr->out->size - fr->start - 4;
    if (fr->out->data == NULL)
        return NB_ENOMEM;
    if (len > NBD_FRAME_MAX)
        return NB_ETOOBIG;
    uint8_t *p = (uint8_t *)fr->out->data + fr->start;
    p[0] = (uint8_t)(len >> 24);
    p[1] = (uint8_t)(len >> 16);
    p[2] = (uint8_t)(len >> 8);
    p[3] = (uint8_t)len;
    return 0;
}

static void pack_id(msgpack_packer *pk, bool has_id, uint64_t id)
{
    nb_mp_pack_cstr(pk, "id");
    if (has_id)
        msgpack_pack_uint64(pk, id);
    else
        msgpack_pack_nil(pk);
}

static int error_reply(msgpack_sbuffer *out, bool has_id, uint64_t id, const char *error,
                       const char *message)
{
    struct frame fr;
    if (frame_begin(&fr, out) < 0)
        return NB_ENOMEM;
    msgpack_pack_map(&fr.pk, 4);
    pack_id(&fr.pk, has_id, id);
    nb_mp_pack_cstr(&fr.pk, "ok");
    msgpack_pack_false(&fr.pk);
    nb_mp_pack_cstr(&fr.pk, "error");
    nb_mp_pack_cstr(&fr.pk, error);
    nb_mp_pack_cstr(&fr.pk, "message");
    nb_mp_pack_cstr(&fr.pk, message);
    return frame_end(&fr);
}

int nbd_control_error_frame(msgpack_sbuffer *out, const char *error, const char *message)
{
    return error_reply(out, false, 0, error, message);
}

int nbd_control_event_frame(msgpack_sbuffer *out, const uint8_t id[NB_ID_SIZE],
                            const uint8_t *bytes, size_t len)
{
    struct frame fr;
    if (frame_begin(&fr, out) < 0)
        return NB_ENOMEM;
    msgpack_pack_map(&fr.pk, 3);
    nb_mp_pack_cstr(&fr.pk, "event");
    nb_mp_pack_cstr(&fr.pk, "record");
    nb_mp_pack_cstr(&fr.pk, "id");
    nb_mp_pack_bin(&fr.pk, id, NB_ID_SIZE);
    nb_mp_pack_cstr(&fr.pk, "record");
    nb_mp_pack_bin(&fr.pk, bytes, len);
    return frame_end(&fr);
}

/* Starts an ok reply: the caller packs the result value next. */
static int ok_begin(struct frame *fr, msgpack_sbuffer *out, uint64_t id)
{
    if (frame_begin(fr, out) < 0)
        return NB_ENOMEM;
    msgpack_pack_map(&fr->pk, 3);
    pack_id(&fr->pk, true, id);
    nb_mp_pack_cstr(&fr->pk, "ok");
    msgpack_pack_true(&fr->pk);
    nb_mp_pack_cstr(&fr->pk, "result");
    return 0;
}

/* ---- requests ---------------------------------------------------------- */

enum op {
    OP_HELLO,
    OP_NEIGHBOURHOOD_CREATE,
    OP_SUBMIT,
    OP_GET,
    OP_LIST,
    OP_WATCH,
    OP_STATUS,
    OP_PEERS,
    OP_PEER_ADD,
    OP_INVITE,
    OP_JOIN,
    OP_BLOCK,
    OP_UNBLOCK,
    OP_BLOCKED,
    OP_COUNT_,
};

static const char *const op_names[OP_COUNT_] = {
    [OP_HELLO] = "hello",       [OP_NEIGHBOURHOOD_CREATE] = "neighbourhood.create",
    [OP_SUBMIT] = "submit",     [OP_GET] = "get",
    [OP_LIST] = "list",         [OP_WATCH] = "watch",
    [OP_STATUS] = "status",     [OP_PEERS] = "peers",
    [OP_PEER_ADD] = "peer.add", [OP_INVITE] = "invite",
    [OP_JOIN] = "join",         [OP_BLOCK] = "block",
    [OP_UNBLOCK] = "unblock",   [OP_BLOCKED] = "blocked",
};

struct request {
    uint64_t id;
    const msgpack_object *map;
    const struct nbd_control_ctx *ctx;
    msgpack_sbuffer *out;
};

/* Copies a short str argument into a NUL-terminated buffer. */
static int arg_word(const msgpack_object *map, const char *key, char *buf, size_t cap)
{
    struct nb_text t;
    int r = nb_mp_map_text(map, key, 1, cap - 1, 0, &t);
    if (r < 0)
        return r;
    memcpy(buf, t.ptr, t.len);
    buf[t.len] = '\0';
    return 0;
}

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

static int op_hello(struct request *rq)
{
    struct frame fr;
    if (ok_begin(&fr, rq->out, rq->id) < 0)
        return NB_ENOMEM;
    msgpack_pack_map(&fr.pk, 5);
    nb_mp_pack_cstr(&fr.pk, "version");
    msgpack_pack_uint32(&fr.pk, NBD_CONTROL_VERSION);
    nb_mp_pack_cstr(&fr.pk, "software");
    nb_mp_pack_cstr(&fr.pk, "noaberd " NOABER_VERSION);
    nb_mp_pack_cstr(&fr.pk, "now");
    msgpack_pack_uint64(&fr.pk, rq->ctx->clock());
    pack_neighbourhood(&fr.pk, rq->ctx->node);
    return frame_end(&fr);
}

static int op_status(struct request *rq)
{
    uint64_t records = 0, tombstones = 0;
    if (nbd_store_count(rq->ctx->node->store, &records, &tombstones) < 0)
        return error_reply(rq->out, true, rq->id, "internal",
                           "the node's store failed; see the daemon's log");
    struct frame fr;
    if (ok_begin(&fr, rq->out, rq->id) < 0)
        return NB_ENOMEM;
    struct nbd_net_status ns;
    nbd_net_status(rq->ctx->net, &ns);
    msgpack_pack_map(&fr.pk, 10);
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
    nb_mp_pack_cstr(&fr.pk, "data_dir");
    nb_mp_pack_cstr(&fr.pk, rq->ctx->data_dir);
    return frame_end(&fr);
}

/* One row of `peers` (docs/control-api.md). */
static int pack_peer(void *ctx, const struct nbd_peer_info *p)
{
    msgpack_packer *pk = ctx;
    msgpack_pack_map(pk, 12);
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
    nb_mp_pack_cstr(pk, "fetching");
    msgpack_pack_uint64(pk, p->fetching);
    nb_mp_pack_cstr(pk, "records_in");
    msgpack_pack_uint64(pk, p->records_in);
    nb_mp_pack_cstr(pk, "records_out");
    msgpack_pack_uint64(pk, p->records_out);
    nb_mp_pack_cstr(pk, "invalid");
    msgpack_pack_uint64(pk, p->invalid);
    nb_mp_pack_cstr(pk, "last_error");
    if (p->last_error != NULL)
        nb_mp_pack_cstr(pk, p->last_error);
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

static int op_peers(struct request *rq)
{
    uint32_t n = 0;
    if (rq->ctx->net != NULL)
        nbd_net_foreach_peer(rq->ctx->net, count_peer, &n);
    struct frame fr;
    if (ok_begin(&fr, rq->out, rq->id) < 0)
        return NB_ENOMEM;
    msgpack_pack_array(&fr.pk, n);
    if (rq->ctx->net != NULL)
        nbd_net_foreach_peer(rq->ctx->net, pack_peer, &fr.pk);
    return frame_end(&fr);
}

static int op_peer_add(struct request *rq)
{
    char address[NBD_NET_ADDRESS_MAX + 1];
    if (arg_word(rq->map, "address", address, sizeof(address)) < 0)
        return error_reply(rq->out, true, rq->id, "bad_request",
                           "`address` must be HOST:PORT, e.g. 192.168.1.20:7447");
    if (rq->ctx->net == NULL)
        return error_reply(rq->out, true, rq->id, "refused", "this noaberd has no peer network");
    int r = nbd_net_add_address(rq->ctx->net, address, NULL, NBD_SOURCE_MANUAL);
    if (r == NB_EINVAL)
        return error_reply(rq->out, true, rq->id, "bad_request",
                           "`address` must be HOST:PORT (an IPv6 host in brackets), e.g. "
                           "192.168.1.20:7447");
    if (r == NB_EEXIST)
        return error_reply(rq->out, true, rq->id, "refused", "that is this node's own address");
    if (r == NB_ETOOBIG)
        return error_reply(rq->out, true, rq->id, "refused",
                           "this node already knows as many addresses as it keeps");
    if (r < 0)
        return error_reply(rq->out, true, rq->id, "internal", nb_strerror(r));
    nbd_info("peer address %s added by a client", address);
    struct frame fr;
    if (ok_begin(&fr, rq->out, rq->id) < 0)
        return NB_ENOMEM;
    msgpack_pack_map(&fr.pk, 1);
    nb_mp_pack_cstr(&fr.pk, "address");
    nb_mp_pack_cstr(&fr.pk, address);
    return frame_end(&fr);
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

static int op_invite(struct request *rq)
{
    struct nbd_node *node = rq->ctx->node;
    struct nbd_net *net = rq->ctx->net;
    struct nb_invite inv;
    char code[NB_INVITE_TEXT_MAX + 1];
    uint64_t seconds = INVITE_EXPIRES_DEFAULT;
    int r;

    if (!node->has_neighbourhood)
        return error_reply(rq->out, true, rq->id, "refused",
                           "this node has no neighbourhood yet: run `noaber neighbourhood create "
                           "NAME` or join one with `noaber join CODE`");
    r = nb_mp_map_uint(rq->map, "expires", INVITE_EXPIRES_MAX, &seconds);
    if ((r < 0 && r != NB_ENOENT) || seconds == 0)
        return error_reply(rq->out, true, rq->id, "bad_request",
                           "`expires` must be 1 second to 90 days, in seconds");
    if (net == NULL || !nbd_net_running(net))
        return error_reply(rq->out, true, rq->id, "refused",
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
        return error_reply(rq->out, true, rq->id, "refused",
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
        return error_reply(rq->out, true, rq->id, "internal",
                           "the invite could not be encoded; see the daemon's log");
    }
    /* The code itself is never logged: it holds the neighbourhood key. */
    nbd_info("made an invite naming %zu address%s, valid for %llu s", n_addresses,
             n_addresses == 1 ? "" : "es", (unsigned long long)seconds);
    struct frame fr;
    r = ok_begin(&fr, rq->out, rq->id);
    if (r == 0) {
        msgpack_pack_map(&fr.pk, 2);
        nb_mp_pack_cstr(&fr.pk, "code");
        nb_mp_pack_cstr(&fr.pk, code);
        nb_mp_pack_cstr(&fr.pk, "expires_at");
        msgpack_pack_uint64(&fr.pk, expires_at);
        r = frame_end(&fr);
    }
    sodium_memzero(code, sizeof(code));
    return r;
}

static int op_join(struct request *rq)
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
        return error_reply(rq->out, true, rq->id, "bad_request",
                           "`code` must be the invite code (nbi1...) as a string");
    r = nb_invite_decode(code.ptr, code.len, &inv);
    if (r < 0)
        return error_reply(rq->out, true, rq->id, "bad_request", nb_invite_problem(r));
    if (nb_invite_check_expiry(&inv, rq->ctx->clock()) < 0) {
        sodium_memzero(&inv, sizeof(inv));
        return error_reply(rq->out, true, rq->id, "refused",
                           "this invite code has expired; ask the member who gave it for a new "
                           "one");
    }
    r = nbd_node_join_neighbourhood(node, inv.name, strlen(inv.name), inv.key, &already, &v);
    if (r < 0) {
        sodium_memzero(&inv, sizeof(inv));
        if (strcmp(v.error, "internal") == 0)
            nbd_error("joining a neighbourhood failed: %s", nb_strerror(r));
        return error_reply(rq->out, true, rq->id, v.error, v.message);
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
    struct frame fr;
    if (ok_begin(&fr, rq->out, rq->id) < 0)
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
    return frame_end(&fr);
}

static int op_neighbourhood_create(struct request *rq)
{
    struct nb_text name;
    int r = nb_mp_map_text(rq->map, "name", 1, NB_NAME_MAX, 0, &name);
    if (r < 0)
        return error_reply(rq->out, true, rq->id, "bad_request",
                           "`name` must be 1 to 64 bytes of text without control characters");
    struct nbd_verdict v;
    r = nbd_node_create_neighbourhood(rq->ctx->node, name.ptr, name.len, &v);
    if (r < 0)
        return error_reply(rq->out, true, rq->id, v.error, v.message);
    nbd_info("created the neighbourhood; its id starts %02x%02x%02x%02x",
             rq->ctx->node->neighbourhood_id[0], rq->ctx->node->neighbourhood_id[1],
             rq->ctx->node->neighbourhood_id[2], rq->ctx->node->neighbourhood_id[3]);
    nbd_net_start(rq->ctx->net);
    struct frame fr;
    if (ok_begin(&fr, rq->out, rq->id) < 0)
        return NB_ENOMEM;
    msgpack_pack_map(&fr.pk, 2);
    nb_mp_pack_cstr(&fr.pk, "name");
    nb_mp_pack_str(&fr.pk, name.ptr, name.len);
    nb_mp_pack_cstr(&fr.pk, "neighbourhood_id");
    nb_mp_pack_bin(&fr.pk, rq->ctx->node->neighbourhood_id, NB_NEIGHBOURHOOD_ID_SIZE);
    return frame_end(&fr);
}

static int op_submit(struct request *rq)
{
    struct nb_bytes record;
    int r = nb_mp_map_bin(rq->map, "record", 1, NB_RECORD_MAX, &record);
    if (r == NB_EFIELD)
        return error_reply(rq->out, true, rq->id, "invalid_record",
                           "the record is larger than 8192 bytes");
    if (r < 0)
        return error_reply(rq->out, true, rq->id, "bad_request",
                           "`record` must be the signed record as msgpack bin");
    uint8_t id[NB_ID_SIZE];
    struct nbd_verdict v;
    r = nbd_node_accept(rq->ctx->node, record.ptr, record.len, rq->ctx->clock(), NBD_ORIGIN_LOCAL,
                        id, &v);
    if (r < 0) {
        /* Only the code is logged, never the record. */
        nbd_debug("submit refused: %s (%s)", v.error, nb_error_name(v.code));
        if (strcmp(v.error, "internal") == 0)
            nbd_error("storing a record failed: %s", nb_strerror(v.code));
        return error_reply(rq->out, true, rq->id, v.error, v.message);
    }
    struct frame fr;
    if (ok_begin(&fr, rq->out, rq->id) < 0)
        return NB_ENOMEM;
    msgpack_pack_map(&fr.pk, 1);
    nb_mp_pack_cstr(&fr.pk, "id");
    nb_mp_pack_bin(&fr.pk, id, NB_ID_SIZE);
    return frame_end(&fr);
}

/* Collects the bytes of records for the `timeline` of get. */
struct timeline {
    msgpack_sbuffer buf;
    msgpack_packer pk;
    size_t n;
};

static int timeline_add(void *ctx, const struct nbd_store_record *rec)
{
    struct timeline *t = ctx;
    nb_mp_pack_bin(&t->pk, rec->bytes, rec->len);
    t->n++;
    return 0;
}

/* The status word of a stored record: derived for requests and offers, the
 * response's own status for responses, "stored" for everything else. */
static int record_status(struct nbd_node *node, const struct nbd_store_record *row, uint64_t now,
                         const char **ret_status)
{
    uint8_t root_buf[NB_RECORD_MAX];
    struct nbd_store_record root;
    struct nb_state st;
    int r;

    *ret_status = "stored";
    if (row->kind == NB_KIND_REQUEST || row->kind == NB_KIND_OFFER) {
        r = nbd_node_derive(node, row, now, &st);
        if (r < 0)
            return r;
        *ret_status = nb_status_name(st.status);
        nb_state_free(&st);
        return 0;
    }
    if (row->kind != NB_KIND_RESPONSE || !row->has_root)
        return 0;
    r = nbd_store_get(node->store, row->root, &root, root_buf);
    if (r < 0)
        return r == NB_ENOENT ? 0 : r;
    r = nbd_node_derive(node, &root, now, &st);
    if (r < 0)
        return r == NB_EINVAL ? 0 : r;
    for (size_t i = 0; i < st.n_responses; i++) {
        if (memcmp(st.responses[i].id, row->id, NB_ID_SIZE) == 0)
            *ret_status = nb_response_status_name(st.responses[i].status);
    }
    nb_state_free(&st);
    return 0;
}

static int op_get(struct request *rq)
{
    struct nbd_node *node = rq->ctx->node;
    uint8_t id[NB_ID_SIZE];
    int r;

    /* `id` is taken by the request id itself, so the record id travels as
     * `record_id` (bin) or `prefix` (str). */
    const msgpack_object *by_id = nb_mp_map_get(rq->map, "record_id");
    const msgpack_object *by_prefix = nb_mp_map_get(rq->map, "prefix");
    if ((by_id == NULL) == (by_prefix == NULL))
        return error_reply(rq->out, true, rq->id, "bad_request",
                           "get needs either `record_id` (32 bytes) or `prefix` (hex)");
    if (by_id != NULL) {
        if (nb_mp_get_bin_exact(by_id, NB_ID_SIZE, id) < 0)
            return error_reply(rq->out, true, rq->id, "bad_request",
                               "`record_id` must be 32 bytes of bin");
    } else {
        char prefix[2 * NB_ID_SIZE + 1];
        struct nb_text t;
        if (nb_mp_get_str(by_prefix, 4, 2 * NB_ID_SIZE, &t) < 0)
            return error_reply(rq->out, true, rq->id, "bad_request",
                               "`prefix` must be 4 to 64 hex digits");
        memcpy(prefix, t.ptr, t.len);
        prefix[t.len] = '\0';
        r = nbd_store_find_prefix(node->store, prefix, id);
        if (r == NB_EINVAL)
            return error_reply(rq->out, true, rq->id, "bad_request",
                               "`prefix` must be 4 to 64 hex digits");
        if (r == NB_EAMBIGUOUS)
            return error_reply(rq->out, true, rq->id, "ambiguous",
                               "several records start with this prefix; give more digits");
        if (r == NB_ENOENT)
            return error_reply(rq->out, true, rq->id, "not_found",
                               "no record on this node starts with this prefix");
        if (r < 0)
            goto store_failed;
    }

    uint8_t buf[NB_RECORD_MAX];
    struct nbd_store_record row;
    r = nbd_store_get(node->store, id, &row, buf);
    if (r == NB_ENOENT) {
        r = nbd_store_is_tombstoned(node->store, id);
        if (r == 1)
            return error_reply(rq->out, true, rq->id, "gone",
                               "this record was retracted or has expired and was deleted");
        if (r < 0)
            goto store_failed;
        return error_reply(rq->out, true, rq->id, "not_found", "no such record on this node");
    }
    if (r < 0)
        goto store_failed;

    const char *status;
    uint64_t now = rq->ctx->clock();
    r = record_status(node, &row, now, &status);
    if (r < 0)
        goto store_failed;

    struct timeline t = { .n = 0 };
    msgpack_sbuffer_init(&t.buf);
    msgpack_packer_init(&t.pk, &t.buf, msgpack_sbuffer_write);
    if (row.kind == NB_KIND_REQUEST || row.kind == NB_KIND_OFFER) {
        r = nbd_store_foreach_in_root(node->store, id, timeline_add, &t);
        if (r < 0) {
            msgpack_sbuffer_destroy(&t.buf);
            goto store_failed;
        }
    }
    struct frame fr;
    r = ok_begin(&fr, rq->out, rq->id);
    if (r == 0) {
        msgpack_pack_map(&fr.pk, 4);
        nb_mp_pack_cstr(&fr.pk, "record");
        nb_mp_pack_bin(&fr.pk, row.bytes, row.len);
        nb_mp_pack_cstr(&fr.pk, "id");
        nb_mp_pack_bin(&fr.pk, id, NB_ID_SIZE);
        nb_mp_pack_cstr(&fr.pk, "status");
        nb_mp_pack_cstr(&fr.pk, status);
        nb_mp_pack_cstr(&fr.pk, "timeline");
        msgpack_pack_array(&fr.pk, t.n);
        if (t.n > 0 && msgpack_sbuffer_write(rq->out, t.buf.data, t.buf.size) != 0)
            r = NB_ENOMEM;
        if (r == 0)
            r = frame_end(&fr);
    }
    msgpack_sbuffer_destroy(&t.buf);
    return r;

store_failed:
    nbd_error("reading the store failed: %s", nb_strerror(r));
    return error_reply(rq->out, true, rq->id, "internal",
                       "the node's store failed; see the daemon's log");
}

struct list_query {
    struct nbd_node *node;
    uint64_t now;
    int status;   /* enum nb_status, or -1 */
    int category; /* or -1 */
    struct nb_text area;
    size_t limit;
    size_t n;
    msgpack_sbuffer items;
    msgpack_packer pk;
};

static int list_add(void *ctx, const struct nbd_store_record *row)
{
    struct list_query *q = ctx;
    struct nb_record rec;
    if (nb_record_decode(row->bytes, row->len, &rec) < 0)
        return 0; /* a damaged row is not listed */
    if (q->category >= 0 && (!NB_HAS(&rec, NB_F_CATEGORY) || rec.category != q->category))
        return 0;
    if (q->area.ptr != NULL && (!NB_HAS(&rec, NB_F_AREA) || rec.area.len != q->area.len ||
                                memcmp(rec.area.ptr, q->area.ptr, q->area.len) != 0))
        return 0;

    const char *status = "stored";
    uint32_t responses = 0;
    bool has_assignee = false;
    uint8_t assignee[NB_KEY_SIZE];
    int status_code = -1;
    if (row->kind == NB_KIND_REQUEST || row->kind == NB_KIND_OFFER) {
        struct nb_state st;
        int r = nbd_node_derive(q->node, row, q->now, &st);
        if (r < 0)
            return r;
        status_code = (int)st.status;
        status = nb_status_name(st.status);
        for (size_t i = 0; i < st.n_responses; i++) {
            if (st.responses[i].status != NB_RESPONSE_WITHDRAWN)
                responses++;
        }
        if (st.has_assignee) {
            has_assignee = true;
            memcpy(assignee, st.assignee, NB_KEY_SIZE);
        }
        nb_state_free(&st);
    }
    if (q->status >= 0 && status_code != q->status)
        return 0;

    msgpack_pack_map(&q->pk, 5);
    nb_mp_pack_cstr(&q->pk, "id");
    nb_mp_pack_bin(&q->pk, row->id, NB_ID_SIZE);
    nb_mp_pack_cstr(&q->pk, "record");
    nb_mp_pack_bin(&q->pk, row->bytes, row->len);
    nb_mp_pack_cstr(&q->pk, "status");
    nb_mp_pack_cstr(&q->pk, status);
    nb_mp_pack_cstr(&q->pk, "responses");
    msgpack_pack_uint32(&q->pk, responses);
    nb_mp_pack_cstr(&q->pk, "assigned");
    if (has_assignee)
        nb_mp_pack_bin(&q->pk, assignee, NB_KEY_SIZE);
    else
        msgpack_pack_nil(&q->pk);
    q->n++;
    /* Stop while the reply still fits one frame: the largest record and
     * its item keys take well under the margin. */
    if (q->items.size > NBD_FRAME_MAX - 64 * 1024)
        return 1;
    return q->n >= q->limit ? 1 : 0;
}

static int op_list(struct request *rq)
{
    struct list_query q = { .node = rq->ctx->node, .status = -1, .category = -1 };
    char word[40];
    unsigned kind = 0;
    uint8_t author[NB_KEY_SIZE];
    bool has_author = false;
    uint64_t limit = NBD_LIST_LIMIT;
    int r;

    if (nb_mp_map_get(rq->map, "kind") != NULL) {
        if (arg_word(rq->map, "kind", word, sizeof(word)) < 0 || (r = nb_kind_parse(word)) < 0)
            return error_reply(rq->out, true, rq->id, "bad_request",
                               "`kind` must be a record kind such as request or offer");
        kind = (unsigned)r;
    }
    if (nb_mp_map_get(rq->map, "status") != NULL) {
        if (arg_word(rq->map, "status", word, sizeof(word)) < 0 || (r = nb_status_parse(word)) < 0)
            return error_reply(rq->out, true, rq->id, "bad_request",
                               "`status` must be a status such as open or available");
        q.status = r;
    }
    if (nb_mp_map_get(rq->map, "category") != NULL) {
        if (arg_word(rq->map, "category", word, sizeof(word)) < 0 ||
            (r = nb_category_parse(word)) < 0)
            return error_reply(rq->out, true, rq->id, "bad_request",
                               "`category` must be a category such as groceries or transport");
        q.category = r;
    }
    if (nb_mp_map_get(rq->map, "area") != NULL &&
        nb_mp_map_text(rq->map, "area", 1, NB_AREA_MAX, 0, &q.area) < 0)
        return error_reply(rq->out, true, rq->id, "bad_request",
                           "`area` must be 1 to 64 bytes of text");
    if (nb_mp_map_get(rq->map, "author") != NULL) {
        if (nb_mp_map_bin_exact(rq->map, "author", NB_KEY_SIZE, author) < 0)
            return error_reply(rq->out, true, rq->id, "bad_request",
                               "`author` must be a 32-byte member key as bin");
        has_author = true;
    }
    if (nb_mp_map_get(rq->map, "limit") != NULL) {
        if (nb_mp_map_uint(rq->map, "limit", UINT32_MAX, &limit) < 0 || limit == 0)
            return error_reply(rq->out, true, rq->id, "bad_request",
                               "`limit` must be a positive integer");
        if (limit > NBD_LIST_LIMIT_MAX)
            limit = NBD_LIST_LIMIT_MAX;
    }
    q.limit = (size_t)limit;
    q.now = rq->ctx->clock();
    msgpack_sbuffer_init(&q.items);
    msgpack_packer_init(&q.pk, &q.items, msgpack_sbuffer_write);
    r = nbd_store_foreach_newest(q.node->store, kind, has_author ? author : NULL, list_add, &q);
    if (r < 0) {
        msgpack_sbuffer_destroy(&q.items);
        nbd_error("listing the store failed: %s", nb_strerror(r));
        return error_reply(rq->out, true, rq->id, "internal",
                           "the node's store failed; see the daemon's log");
    }
    struct frame fr;
    r = ok_begin(&fr, rq->out, rq->id);
    if (r == 0) {
        msgpack_pack_map(&fr.pk, 1);
        nb_mp_pack_cstr(&fr.pk, "items");
        msgpack_pack_array(&fr.pk, q.n);
        if (q.n > 0 && msgpack_sbuffer_write(rq->out, q.items.data, q.items.size) != 0)
            r = NB_ENOMEM;
        if (r == 0)
            r = frame_end(&fr);
    }
    msgpack_sbuffer_destroy(&q.items);
    return r;
}

static int op_watch(struct request *rq)
{
    struct frame fr;
    if (ok_begin(&fr, rq->out, rq->id) < 0)
        return NB_ENOMEM;
    msgpack_pack_map(&fr.pk, 1);
    nb_mp_pack_cstr(&fr.pk, "watching");
    msgpack_pack_true(&fr.pk);
    int r = frame_end(&fr);
    return r < 0 ? r : NBD_AFTER_WATCH;
}

/* ---- blocking members ----------------------------------------------------- */

static const char msg_member_arg[] = "`member` must be a member key: 32 bytes as msgpack bin";

static int op_block(struct request *rq)
{
    uint8_t member[NB_KEY_SIZE];
    if (nb_mp_map_bin_exact(rq->map, "member", NB_KEY_SIZE, member) < 0)
        return error_reply(rq->out, true, rq->id, "bad_request", msg_member_arg);
    uint64_t deleted = 0;
    struct nbd_verdict v;
    if (nbd_node_block(rq->ctx->node, member, rq->ctx->clock(), &deleted, &v) < 0) {
        nbd_error("blocking a member failed: %s", nb_strerror(v.code));
        return error_reply(rq->out, true, rq->id, v.error, v.message);
    }
    /* The network layer's cached item set still lists what was deleted. */
    if (deleted > 0)
        nbd_net_records_deleted(rq->ctx->net);
    nbd_info("a member was blocked by a client; %llu records deleted", (unsigned long long)deleted);
    struct frame fr;
    if (ok_begin(&fr, rq->out, rq->id) < 0)
        return NB_ENOMEM;
    msgpack_pack_map(&fr.pk, 2);
    nb_mp_pack_cstr(&fr.pk, "member");
    nb_mp_pack_bin(&fr.pk, member, NB_KEY_SIZE);
    nb_mp_pack_cstr(&fr.pk, "deleted");
    msgpack_pack_uint64(&fr.pk, deleted);
    return frame_end(&fr);
}

static int op_unblock(struct request *rq)
{
    uint8_t member[NB_KEY_SIZE];
    if (nb_mp_map_bin_exact(rq->map, "member", NB_KEY_SIZE, member) < 0)
        return error_reply(rq->out, true, rq->id, "bad_request", msg_member_arg);
    struct nbd_verdict v;
    if (nbd_node_unblock(rq->ctx->node, member, &v) < 0) {
        if (strcmp(v.error, "internal") == 0)
            nbd_error("unblocking a member failed: %s", nb_strerror(v.code));
        return error_reply(rq->out, true, rq->id, v.error, v.message);
    }
    nbd_info("a member was unblocked by a client");
    struct frame fr;
    if (ok_begin(&fr, rq->out, rq->id) < 0)
        return NB_ENOMEM;
    msgpack_pack_map(&fr.pk, 1);
    nb_mp_pack_cstr(&fr.pk, "member");
    nb_mp_pack_bin(&fr.pk, member, NB_KEY_SIZE);
    return frame_end(&fr);
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

static int op_blocked(struct request *rq)
{
    uint32_t n = 0;
    /* Counted, then packed: requests run to completion on the loop
     * thread, so nothing changes the table in between. */
    struct nbd_store *store = rq->ctx->node->store;
    if (nbd_store_foreach_blocked(store, count_blocked, &n) < 0)
        return error_reply(rq->out, true, rq->id, "internal",
                           "the node's store failed; see the daemon's log");
    struct frame fr;
    if (ok_begin(&fr, rq->out, rq->id) < 0)
        return NB_ENOMEM;
    msgpack_pack_map(&fr.pk, 1);
    nb_mp_pack_cstr(&fr.pk, "members");
    msgpack_pack_array(&fr.pk, n);
    /* A failure here would leave a short array: the reply is replaced by
     * an error instead (NB_ENOMEM drops what was packed). */
    if (nbd_store_foreach_blocked(store, pack_blocked, &fr.pk) < 0)
        return NB_ENOMEM;
    return frame_end(&fr);
}

/* ---- welcome links and devices (daemon/welcome.c) ----------------------- */

#define WELCOME_DEFAULT_SECONDS (7 * 86400ull)
#define WELCOME_MAX_SECONDS     (90 * 86400ull)

static const char msg_store_failed[] = "the node's store failed; see the daemon's log";

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
static int op_welcome(struct request *rq)
{
    char name[NB_NAME_MAX + 1], token[NBD_WELCOME_TOKEN_LEN + 1];
    uint64_t seconds = WELCOME_DEFAULT_SECONDS, now = rq->ctx->clock();
    int r;

    if (arg_optional_text(rq->map, "name", NB_NAME_MAX, name) < 0)
        return error_reply(rq->out, true, rq->id, "bad_request",
                           "`name` is 1 to 64 bytes of text without control characters");
    r = nb_mp_map_uint(rq->map, "expires", WELCOME_MAX_SECONDS, &seconds);
    if ((r < 0 && r != NB_ENOENT) || seconds < 1)
        return error_reply(rq->out, true, rq->id, "bad_request",
                           "`expires` is a number of seconds from 1 to 7776000 (90 days)");
    if (!rq->ctx->node->has_neighbourhood)
        return error_reply(rq->out, true, rq->id, "refused",
                           "this node has no neighbourhood yet: run `noaber neighbourhood "
                           "create NAME` or `noaber join CODE` first");
    if (nbd_welcome_make(rq->ctx->node->store, name, now, now + seconds, token) < 0) {
        nbd_error("making a welcome token failed");
        return error_reply(rq->out, true, rq->id, "internal", msg_store_failed);
    }
    nbd_info("a welcome link was made (valid %llu s)", (unsigned long long)seconds);
    struct frame fr;
    if (ok_begin(&fr, rq->out, rq->id) < 0)
        return NB_ENOMEM;
    msgpack_pack_map(&fr.pk, 2);
    nb_mp_pack_cstr(&fr.pk, "token");
    nb_mp_pack_cstr(&fr.pk, token);
    nb_mp_pack_cstr(&fr.pk, "expires_at");
    msgpack_pack_uint64(&fr.pk, now + seconds);
    sodium_memzero(token, sizeof(token));
    return frame_end(&fr);
}

/* welcome.redeem {token, member, device?}: the browser's key is admitted. */
static int op_welcome_redeem(struct request *rq)
{
    char token[NBD_WELCOME_TOKEN_LEN + 8], device[NBD_DEVICE_NAME_MAX + 1];
    uint8_t member[NB_KEY_SIZE];
    int64_t id;

    if (arg_word(rq->map, "token", token, sizeof(token)) < 0)
        return error_reply(rq->out, true, rq->id, "bad_request", "`token` is the welcome token");
    if (nb_mp_map_bin_exact(rq->map, "member", NB_KEY_SIZE, member) < 0)
        return error_reply(rq->out, true, rq->id, "bad_request", msg_member_arg);
    if (arg_optional_text(rq->map, "device", NBD_DEVICE_NAME_MAX, device) < 0)
        return error_reply(rq->out, true, rq->id, "bad_request",
                           "`device` is 1 to 64 bytes of text without control characters");
    id = nbd_welcome_redeem(rq->ctx->node->store, token, member, device, rq->ctx->clock());
    sodium_memzero(token, sizeof(token));
    if (id == NB_ENOENT)
        return error_reply(rq->out, true, rq->id, "not_found",
                           "this welcome link is unknown or was already used: ask for a new one");
    if (id == NB_EEXPIRED)
        return error_reply(rq->out, true, rq->id, "gone",
                           "this welcome link has expired: ask for a new one");
    if (id < 0) {
        nbd_error("redeeming a welcome token failed");
        return error_reply(rq->out, true, rq->id, "internal", msg_store_failed);
    }
    nbd_info("a welcome link was used: device %lld admitted", (long long)id);
    struct frame fr;
    if (ok_begin(&fr, rq->out, rq->id) < 0)
        return NB_ENOMEM;
    msgpack_pack_map(&fr.pk, 2);
    nb_mp_pack_cstr(&fr.pk, "admitted");
    msgpack_pack_true(&fr.pk);
    nb_mp_pack_cstr(&fr.pk, "device_id");
    msgpack_pack_uint64(&fr.pk, (uint64_t)id);
    return frame_end(&fr);
}

/* welcome.check {member}: whether one of the member's devices is admitted. */
static int op_welcome_check(struct request *rq)
{
    uint8_t member[NB_KEY_SIZE];
    int r;

    if (nb_mp_map_bin_exact(rq->map, "member", NB_KEY_SIZE, member) < 0)
        return error_reply(rq->out, true, rq->id, "bad_request", msg_member_arg);
    r = nbd_welcome_admitted(rq->ctx->node->store, member);
    if (r < 0)
        return error_reply(rq->out, true, rq->id, "internal", msg_store_failed);
    struct frame fr;
    if (ok_begin(&fr, rq->out, rq->id) < 0)
        return NB_ENOMEM;
    msgpack_pack_map(&fr.pk, 1);
    nb_mp_pack_cstr(&fr.pk, "admitted");
    if (r == 1)
        msgpack_pack_true(&fr.pk);
    else
        msgpack_pack_false(&fr.pk);
    return frame_end(&fr);
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

static int op_devices(struct request *rq)
{
    struct nbd_store *store = rq->ctx->node->store;
    uint32_t n = 0;

    /* Counted, then packed, as op_blocked does. */
    if (nbd_welcome_foreach_device(store, count_device, &n) < 0)
        return error_reply(rq->out, true, rq->id, "internal", msg_store_failed);
    struct frame fr;
    if (ok_begin(&fr, rq->out, rq->id) < 0)
        return NB_ENOMEM;
    msgpack_pack_map(&fr.pk, 1);
    nb_mp_pack_cstr(&fr.pk, "devices");
    msgpack_pack_array(&fr.pk, n);
    if (nbd_welcome_foreach_device(store, pack_device, &fr.pk) < 0)
        return NB_ENOMEM;
    return frame_end(&fr);
}

static int op_device_revoke(struct request *rq)
{
    uint64_t id;
    int r;

    if (nb_mp_map_uint(rq->map, "device_id", INT64_MAX, &id) < 0)
        return error_reply(rq->out, true, rq->id, "bad_request",
                           "`device_id` is the number `devices` shows");
    r = nbd_welcome_revoke(rq->ctx->node->store, (int64_t)id, rq->ctx->clock());
    if (r == NB_ENOENT)
        return error_reply(rq->out, true, rq->id, "not_found",
                           "no admitted device has that number");
    if (r < 0)
        return error_reply(rq->out, true, rq->id, "internal", msg_store_failed);
    nbd_info("device %llu was revoked", (unsigned long long)id);
    struct frame fr;
    if (ok_begin(&fr, rq->out, rq->id) < 0)
        return NB_ENOMEM;
    msgpack_pack_map(&fr.pk, 1);
    nb_mp_pack_cstr(&fr.pk, "device_id");
    msgpack_pack_uint64(&fr.pk, id);
    return frame_end(&fr);
}

static const struct {
    const char *name;
    int (*run)(struct request *rq);
} welcome_ops[] = {
    { "welcome", op_welcome },
    { "welcome.redeem", op_welcome_redeem },
    { "welcome.check", op_welcome_check },
    { "devices", op_devices },
    { "device.revoke", op_device_revoke },
};

/* Runs a welcome op; false when `op` is not one of them. */
static bool welcome_op(struct request *rq, const char *op, int *ret)
{
    for (size_t i = 0; i < sizeof(welcome_ops) / sizeof(welcome_ops[0]); i++) {
        if (strcmp(op, welcome_ops[i].name) == 0) {
            *ret = welcome_ops[i].run(rq);
            return true;
        }
    }
    return false;
}

int nbd_control_handle(const struct nbd_control_ctx *ctx, const uint8_t *body, size_t len,
                       msgpack_sbuffer *out)
{
    struct nb_mp_doc doc;
    struct request rq = { .ctx = ctx, .out = out };
    size_t mark = out->size;
    bool has_id = false;
    uint64_t v;
    char op[32];
    int r;

    memset(&doc, 0, sizeof(doc));
    r = nb_mp_decode(body, len, NBD_FRAME_MAX, REQUEST_DEPTH, &doc);
    if (r == NB_ENOMEM)
        return r;
    if (r < 0 || nb_mp_root(&doc)->type != MSGPACK_OBJECT_MAP) {
        r = error_reply(out, false, 0, "bad_request", "a request must be exactly one msgpack map");
        nb_mp_doc_free(&doc);
        return r < 0 ? r : NBD_AFTER_CLOSE;
    }
    rq.map = nb_mp_root(&doc);
    if (nb_mp_map_check_keys(rq.map) < 0) {
        r = error_reply(out, false, 0, "bad_request", "request keys must be distinct strings");
        goto out;
    }
    if (nb_mp_map_uint(rq.map, "id", UINT64_MAX, &rq.id) < 0) {
        r = error_reply(out, false, 0, "bad_request", "`id` must be an unsigned integer");
        goto out;
    }
    has_id = true;
    r = nb_mp_map_uint(rq.map, "v", UINT64_MAX, &v);
    if (r == NB_ENOENT || r == NB_EMALFORMED) {
        r = error_reply(out, true, rq.id, "bad_request", "`v` (the protocol version) is missing");
        goto out;
    }
    if (v != NBD_CONTROL_VERSION) {
        r = error_reply(out, true, rq.id, "version", "this noaberd speaks version 1 only");
        goto out;
    }
    if (arg_word(rq.map, "op", op, sizeof(op)) < 0) {
        r = error_reply(out, true, rq.id, "bad_request", "`op` must be a short string");
        goto out;
    }
    enum op which = OP_COUNT_;
    for (int i = 0; i < OP_COUNT_; i++) {
        if (strcmp(op, op_names[i]) == 0)
            which = (enum op)i;
    }
    switch (which) {
    case OP_HELLO:
        r = op_hello(&rq);
        break;
    case OP_NEIGHBOURHOOD_CREATE:
        r = op_neighbourhood_create(&rq);
        break;
    case OP_SUBMIT:
        r = op_submit(&rq);
        break;
    case OP_GET:
        r = op_get(&rq);
        break;
    case OP_LIST:
        r = op_list(&rq);
        break;
    case OP_WATCH:
        r = op_watch(&rq);
        break;
    case OP_STATUS:
        r = op_status(&rq);
        break;
    case OP_PEERS:
        r = op_peers(&rq);
        break;
    case OP_PEER_ADD:
        r = op_peer_add(&rq);
        break;
    case OP_INVITE:
        r = op_invite(&rq);
        break;
    case OP_JOIN:
        r = op_join(&rq);
        break;
    case OP_BLOCK:
        r = op_block(&rq);
        break;
    case OP_UNBLOCK:
        r = op_unblock(&rq);
        break;
    case OP_BLOCKED:
        r = op_blocked(&rq);
        break;
    default:
        /* Welcome links and devices (daemon/welcome.c). */
        if (welcome_op(&rq, op, &r))
            break;
        r = error_reply(out, true, rq.id, "unknown_op", "this noaberd does not know that op");
        break;
    }
out:
    nb_mp_doc_free(&doc);
    if (r == NB_ETOOBIG || r == NB_ENOMEM) {
        /* The reply did not fit a frame (or memory): drop what was packed
         * and say so instead of sending a broken frame. */
        out->size = mark;
        int e = error_reply(out, has_id, rq.id, "internal",
                            r == NB_ETOOBIG ? "the reply is larger than a frame; ask for less"
                                            : "out of memory");
        return e < 0 ? e : NBD_AFTER_NOTHING;
    }
    return r;
}

/* ---- the server ---------------------------------------------------------- */

struct nbd_connection {
    uv_pipe_t pipe; /* embedded: recovered with container_of, freed in on_close */
    struct nbd_control *ctl;
    struct nbd_connection *prev, *next;
    struct nbd_framer framer;
    size_t out_pending; /* bytes handed to uv_write and not yet written */
    bool watching;
    bool closing;
    bool close_after_flush;
};

struct write_req {
    uv_write_t req;
    uv_buf_t buf;
    size_t len;
};

/* One read buffer for every connection: the loop is single-threaded and each
 * read is consumed (its frames copied out) before the next one starts. */
static char read_scratch[64 * 1024];

static void on_conn_close(uv_handle_t *h)
{
    struct nbd_connection *c = container_of((uv_pipe_t *)h, struct nbd_connection, pipe);
    struct nbd_control *ctl = c->ctl;
    if (c->prev != NULL)
        c->prev->next = c->next;
    else
        ctl->connections = c->next;
    if (c->next != NULL)
        c->next->prev = c->prev;
    ctl->n_connections--;
    nbd_framer_clear(&c->framer);
    free(c);
}

static void conn_close(struct nbd_connection *c)
{
    if (c->closing)
        return;
    c->closing = true;
    c->watching = false;
    uv_close((uv_handle_t *)&c->pipe, on_conn_close);
}

static void on_write(uv_write_t *req, int status)
{
    struct write_req *w = container_of(req, struct write_req, req);
    struct nbd_connection *c = container_of((uv_pipe_t *)req->handle, struct nbd_connection, pipe);
    c->out_pending -= w->len;
    free(w->buf.base);
    free(w);
    if (status < 0 || (c->close_after_flush && c->out_pending == 0))
        conn_close(c);
}

/* Sends (and takes) the frames in `out`.  A connection that lets more than
 * NBD_OUTPUT_MAX bytes pile up (a watcher that stopped reading) is closed. */
static void conn_send(struct nbd_connection *c, msgpack_sbuffer *out)
{
    if (out->size == 0 || c->closing) {
        msgpack_sbuffer_destroy(out);
        return;
    }
    if (c->out_pending + out->size > NBD_OUTPUT_MAX) {
        nbd_debug("closing a control connection that does not read its replies");
        msgpack_sbuffer_destroy(out);
        conn_close(c);
        return;
    }
    struct write_req *w = malloc(sizeof(*w));
    if (w == NULL) {
        msgpack_sbuffer_destroy(out);
        conn_close(c);
        return;
    }
    w->len = out->size;
    w->buf = uv_buf_init(msgpack_sbuffer_release(out), (unsigned)w->len);
    int r = uv_write(&w->req, (uv_stream_t *)&c->pipe, &w->buf, 1, on_write);
    if (r < 0) {
        free(w->buf.base);
        free(w);
        conn_close(c);
        return;
    }
    c->out_pending += w->len;
}

static void on_alloc(uv_handle_t *h, size_t suggested, uv_buf_t *buf)
{
    (void)h;
    (void)suggested;
    *buf = uv_buf_init(read_scratch, sizeof(read_scratch));
}

static void on_read(uv_stream_t *s, ssize_t nread, const uv_buf_t *buf)
{
    struct nbd_connection *c = container_of((uv_pipe_t *)s, struct nbd_connection, pipe);
    if (nread < 0) {
        conn_close(c);
        return;
    }
    const uint8_t *data = (const uint8_t *)buf->base;
    size_t left = (size_t)nread;
    msgpack_sbuffer out, events;
    msgpack_sbuffer_init(&out);
    msgpack_sbuffer_init(&events);
    c->ctl->serving = c;
    c->ctl->serving_events = &events;
    /* Group commit: the submits in one read (a pipelining client's) are
     * committed together, with one fsync, and every reply of the read is
     * held in `out` until then, so no acknowledgement leaves before its
     * record is durable (daemon/node.h, docs/control-api.md). */
    struct nbd_node *node = c->ctl->ctx.node;
    nbd_node_batch_begin(node);
    while (left > 0 && !c->close_after_flush && !c->closing) {
        size_t used = 0;
        uint8_t *body = NULL;
        size_t len = 0;
        int r = nbd_framer_feed(&c->framer, data, left, &used, &body, &len);
        if (r == NB_ETOOBIG) {
            nbd_debug("control frame with a bad length: closing the connection");
            nbd_control_error_frame(&out, "bad_request",
                                    "a frame's length must be 1 to 1048576 bytes");
            c->close_after_flush = true;
            break;
        }
        if (r < 0) {
            conn_close(c);
            break;
        }
        data += used;
        left -= used;
        if (r == 0)
            break;
        r = nbd_control_handle(&c->ctl->ctx, body, len, &out);
        free(body);
        if (events.size > 0) {
            if (msgpack_sbuffer_write(&out, events.data, events.size) != 0)
                r = NB_ENOMEM;
            events.size = 0;
        }
        if (r < 0) {
            conn_close(c);
            break;
        }
        /* Many small requests in one read can ask for far more output
         * than they take to send; the bound applies as replies are made. */
        if (c->out_pending + out.size > NBD_OUTPUT_MAX) {
            nbd_debug("closing a control connection that asks faster than it reads");
            conn_close(c);
            break;
        }
        if (r == NBD_AFTER_WATCH)
            c->watching = true;
        if (r == NBD_AFTER_CLOSE)
            c->close_after_flush = true;
    }
    /* The accept hooks run here, after the commit: watch events of this
     * connection land in `events`. */
    int committed = nbd_node_batch_end(node);
    if (committed < 0) {
        /* Nothing the replies of this read say may stand: drop them all,
         * say why once and close, so the client sees every request of the
         * read fail and none acknowledged. */
        nbd_error("committing submitted records failed: %s", nb_strerror(committed));
        out.size = 0;
        events.size = 0;
        nbd_control_error_frame(&out, "internal",
                                "the node's store failed to commit; nothing of the last requests "
                                "is acknowledged (see the daemon's log)");
        c->close_after_flush = true;
    } else if (events.size > 0 && msgpack_sbuffer_write(&out, events.data, events.size) != 0) {
        conn_close(c);
    }
    c->ctl->serving = NULL;
    c->ctl->serving_events = NULL;
    msgpack_sbuffer_destroy(&events);
    conn_send(c, &out);
    if (c->close_after_flush && !c->closing) {
        uv_read_stop((uv_stream_t *)&c->pipe);
        if (c->out_pending == 0)
            conn_close(c);
    }
}

static void on_record(void *ctx, const uint8_t id[NB_ID_SIZE], const uint8_t *bytes, size_t len,
                      const struct nb_record *rec, enum nbd_origin origin)
{
    struct nbd_control *ctl = ctx;
    (void)rec;
    (void)origin;
    for (struct nbd_connection *c = ctl->connections; c != NULL; c = c->next) {
        if (!c->watching || c->closing)
            continue;
        if (c == ctl->serving) {
            if (nbd_control_event_frame(ctl->serving_events, id, bytes, len) < 0)
                conn_close(c);
            continue;
        }
        msgpack_sbuffer out;
        msgpack_sbuffer_init(&out);
        if (nbd_control_event_frame(&out, id, bytes, len) < 0) {
            msgpack_sbuffer_destroy(&out);
            conn_close(c);
            continue;
        }
        conn_send(c, &out);
    }
}

static void on_connection(uv_stream_t *server, int status)
{
    struct nbd_control *ctl = container_of((uv_pipe_t *)server, struct nbd_control, server);
    if (status < 0) {
        nbd_warn("accepting a control connection failed: %s", uv_strerror(status));
        return;
    }
    struct nbd_connection *c = calloc(1, sizeof(*c));
    if (c == NULL)
        return;
    c->ctl = ctl;
    uv_pipe_init(ctl->loop, &c->pipe, 0);
    c->next = ctl->connections;
    if (c->next != NULL)
        c->next->prev = c;
    ctl->connections = c;
    ctl->n_connections++;
    if (uv_accept(server, (uv_stream_t *)&c->pipe) < 0) {
        conn_close(c);
        return;
    }
    if (ctl->n_connections > NBD_CONNECTIONS_MAX) {
        nbd_warn("too many control connections (%d): refusing one", NBD_CONNECTIONS_MAX);
        conn_close(c);
        return;
    }
    if (uv_read_start((uv_stream_t *)&c->pipe, on_alloc, on_read) < 0)
        conn_close(c);
}

/* Creates the socket's directory 0700 if missing, and refuses one that other
 * users could enter (the socket is the node's whole API) or that is not ours. */
static int prepare_dir(const char *socket_path, char *err, size_t err_size)
{
    char dir[4096];
    size_t n = strlen(socket_path);
    if (n >= sizeof(dir) || n >= sizeof(((struct sockaddr_un *)0)->sun_path)) {
        snprintf(err, err_size, "socket path %s is too long for a Unix socket", socket_path);
        return NB_EINVAL;
    }
    memcpy(dir, socket_path, n + 1);
    char *slash = strrchr(dir, '/');
    if (slash == NULL)
        snprintf(dir, sizeof(dir), ".");
    else if (slash == dir)
        dir[1] = '\0';
    else
        *slash = '\0';
    if (mkdir(dir, 0700) < 0 && errno != EEXIST) {
        snprintf(err, err_size, "cannot create the socket directory %s: %s", dir, strerror(errno));
        return NB_EIO;
    }
    struct stat st;
    if (stat(dir, &st) < 0 || !S_ISDIR(st.st_mode)) {
        snprintf(err, err_size, "the socket directory %s is not a directory", dir);
        return NB_EIO;
    }
    if (st.st_uid != geteuid()) {
        snprintf(err, err_size,
                 "refusing the socket directory %s: it belongs to uid %u, not to this user", dir,
                 (unsigned)st.st_uid);
        return NB_EPERM;
    }
    if ((st.st_mode & 0007) != 0) {
        snprintf(err, err_size,
                 "refusing the socket directory %s: every user can enter it (mode %04o); "
                 "make it 0700 or choose another --socket",
                 dir, (unsigned)(st.st_mode & 07777));
        return NB_EPERM;
    }
    return 0;
}

/* Removes a socket file left by a daemon that died, but never one that a
 * live daemon (on another data directory) is serving. */
static int remove_stale(const char *path, char *err, size_t err_size)
{
    struct stat st;
    if (lstat(path, &st) < 0)
        return errno == ENOENT ? 0 : NB_EIO;
    if (!S_ISSOCK(st.st_mode)) {
        snprintf(err, err_size, "%s exists and is not a socket; not touching it", path);
        return NB_EEXIST;
    }
    int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
    if (fd < 0) {
        snprintf(err, err_size, "cannot make a socket: %s", strerror(errno));
        return NB_EIO;
    }
    struct sockaddr_un sa = { .sun_family = AF_UNIX };
    memcpy(sa.sun_path, path, strlen(path) + 1);
    int live = connect(fd, (struct sockaddr *)&sa, sizeof(sa)) == 0;
    close(fd);
    if (live) {
        snprintf(err, err_size, "another noaberd is already listening on %s", path);
        return NB_EEXIST;
    }
    if (unlink(path) < 0 && errno != ENOENT) {
        snprintf(err, err_size, "cannot remove the stale socket %s: %s", path, strerror(errno));
        return NB_EIO;
    }
    return 0;
}

int nbd_control_start(struct nbd_control *ctl, uv_loop_t *loop, const struct nbd_control_ctx *ctx,
                      const char *socket_path, char *err, size_t err_size)
{
    int r;
    memset(ctl, 0, sizeof(*ctl));
    ctl->loop = loop;
    ctl->ctx = *ctx;
    r = prepare_dir(socket_path, err, err_size);
    if (r < 0)
        return r;
    r = remove_stale(socket_path, err, err_size);
    if (r < 0)
        return r;
    ctl->socket_path = strdup(socket_path);
    if (ctl->socket_path == NULL) {
        snprintf(err, err_size, "out of memory");
        return NB_ENOMEM;
    }
    r = nbd_node_add_hook(ctx->node, on_record, ctl);
    if (r < 0) {
        snprintf(err, err_size, "too many record hooks");
        goto fail;
    }
    uv_pipe_init(loop, &ctl->server, 0);
    /* bind() creates the socket file with the umask's mode; 0177 makes it
     * 0600 from the start instead of fixing it after a window.  The system
     * service lets its group in (0660): operators in group noaber. */
    mode_t mode = ctx->socket_group_access ? 0660 : 0600;
    mode_t old = umask(0777 & ~mode);
    r = uv_pipe_bind(&ctl->server, socket_path);
    umask(old);
    if (r == 0 && chmod(socket_path, mode) < 0)
        r = -errno;
    if (r == 0)
        r = uv_listen((uv_stream_t *)&ctl->server, 16, on_connection);
    if (r < 0) {
        snprintf(err, err_size, "cannot listen on %s: %s", socket_path, uv_strerror(r));
        uv_close((uv_handle_t *)&ctl->server, NULL);
        unlink(socket_path);
        nbd_node_remove_hook(ctx->node, on_record, ctl);
        r = NB_EIO;
        goto fail;
    }
    ctl->listening = true;
    return 0;
fail:
    free(ctl->socket_path);
    ctl->socket_path = NULL;
    return r;
}

void nbd_control_stop(struct nbd_control *ctl)
{
    if (ctl->stopping || !ctl->listening)
        return;
    ctl->stopping = true;
    nbd_node_remove_hook(ctl->ctx.node, on_record, ctl);
    uv_close((uv_handle_t *)&ctl->server, NULL);
    for (struct nbd_connection *c = ctl->connections; c != NULL; c = c->next)
        conn_close(c);
    unlink(ctl->socket_path);
    free(ctl->socket_path);
    ctl->socket_path = NULL;
}
