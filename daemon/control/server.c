/*
 * The control server: sockets, connections, framing, roles and dispatch.
 * The operations themselves live in ops_node.c, ops_records.c,
 * ops_peers.c and ops_block.c beside it.
 */
#include "daemon/control/control.h"

#include <errno.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#include <noaber/error.h>

#include "daemon/control/ops.h"
#include "daemon/log.h"
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
    while (f->header_len < NB_CTL_HEADER_SIZE && used < n)
        f->header[f->header_len++] = data[used++];
    if (f->header_len < NB_CTL_HEADER_SIZE) {
        *ret_used = used;
        return 0;
    }
    if (f->body == NULL) {
        /* The length is checked before a single body byte is buffered. */
        uint32_t len;
        if (nb_ctl_header_decode(f->header, &len) < 0)
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

static int frame_begin(struct nbd_reply *fr, msgpack_sbuffer *out)
{
    static const char zero[NB_CTL_HEADER_SIZE] = { 0 };
    fr->out = out;
    fr->start = out->size;
    msgpack_packer_init(&fr->pk, out, msgpack_sbuffer_write);
    return msgpack_sbuffer_write(out, zero, sizeof(zero)) == 0 ? 0 : NB_ENOMEM;
}

int nbd_reply_end(struct nbd_reply *fr)
{
    /* msgpack_sbuffer_write returns -1 when it cannot grow; the reply is
     * then short, which the size check below cannot see, so callers check
     * allocation by the buffer's data pointer staying valid.  A reply
     * larger than a frame may hold is replaced by an error. */
    size_t len = fr->out->size - fr->start - NB_CTL_HEADER_SIZE;
    if (fr->out->data == NULL)
        return NB_ENOMEM;
    if (len > NB_CTL_FRAME_MAX)
        return NB_ETOOBIG;
    nb_ctl_header_encode((uint32_t)len, (uint8_t *)fr->out->data + fr->start);
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

/* Begins an error reply whose map holds `extra` more keys after the four
 * every error has; the caller packs them and ends the frame. */
static int error_begin(struct nbd_reply *fr, msgpack_sbuffer *out, bool has_id, uint64_t id,
                       enum nb_ctl_error error, const char *message, uint32_t extra)
{
    if (frame_begin(fr, out) < 0)
        return NB_ENOMEM;
    msgpack_pack_map(&fr->pk, 4 + extra);
    pack_id(&fr->pk, has_id, id);
    nb_mp_pack_cstr(&fr->pk, "ok");
    msgpack_pack_false(&fr->pk);
    nb_mp_pack_cstr(&fr->pk, "error");
    nb_mp_pack_cstr(&fr->pk, nb_ctl_error_name(error));
    nb_mp_pack_cstr(&fr->pk, "message");
    nb_mp_pack_cstr(&fr->pk, message);
    return 0;
}

static int error_reply(msgpack_sbuffer *out, bool has_id, uint64_t id, enum nb_ctl_error error,
                       const char *message)
{
    struct nbd_reply fr;
    if (error_begin(&fr, out, has_id, id, error, message, 0) < 0)
        return NB_ENOMEM;
    return nbd_reply_end(&fr);
}

int nbd_reply_error_begin(struct nbd_reply *fr, struct nbd_request *rq, enum nb_ctl_error error,
                          const char *message, uint32_t extra)
{
    return error_begin(fr, rq->out, true, rq->id, error, message, extra);
}

int nbd_control_error_frame(msgpack_sbuffer *out, enum nb_ctl_error error, const char *message)
{
    return error_reply(out, false, 0, error, message);
}

const char nbd_msg_store_failed[] = "the node's store failed; see the daemon's log";
const char nbd_msg_member_arg[] = "`member` must be a member key: 32 bytes as msgpack bin";

int nbd_reply_error(struct nbd_request *rq, enum nb_ctl_error error, const char *message)
{
    return error_reply(rq->out, true, rq->id, error, message);
}

enum nb_ctl_error nbd_verdict_error(const struct nbd_verdict *v)
{
    if (v->error == NULL)
        return NB_CTL_E_INTERNAL;
    enum nb_ctl_error e = nb_ctl_error_parse(v->error, strlen(v->error));
    return e == NB_CTL_E_UNKNOWN ? NB_CTL_E_INTERNAL : e;
}

int nbd_reply_verdict(struct nbd_request *rq, const struct nbd_verdict *v)
{
    enum nb_ctl_error e = nbd_verdict_error(v);
    if (e == NB_CTL_E_INTERNAL && nbd_store_error_code(v->code) != NB_CTL_E_INTERNAL)
        return nbd_reply_store_error(rq, v->code, "writing to the store");
    return nbd_reply_error(rq, e, v->message);
}

enum nb_ctl_error nbd_store_error_code(int code)
{
    switch (code) {
    case NB_EDAMAGED:
        return NB_CTL_E_DAMAGED;
    case NB_ENOSPC:
        return NB_CTL_E_NO_SPACE;
    default:
        return NB_CTL_E_INTERNAL;
    }
}

int nbd_reply_store_error(struct nbd_request *rq, int code, const char *doing)
{
    char why[512];
    nbd_store_explain(rq->ctx->node->store, code, why, sizeof(why));
    nbd_error("%s failed: %s", doing, why);
    return nbd_reply_error(rq, nbd_store_error_code(code), why);
}

int nbd_control_event_frame(msgpack_sbuffer *out, const uint8_t id[NB_ID_SIZE],
                            const uint8_t *bytes, size_t len)
{
    struct nbd_reply fr;
    if (frame_begin(&fr, out) < 0)
        return NB_ENOMEM;
    msgpack_pack_map(&fr.pk, 3);
    nb_mp_pack_cstr(&fr.pk, "event");
    nb_mp_pack_cstr(&fr.pk, "record");
    nb_mp_pack_cstr(&fr.pk, "id");
    nb_mp_pack_bin(&fr.pk, id, NB_ID_SIZE);
    nb_mp_pack_cstr(&fr.pk, "record");
    nb_mp_pack_bin(&fr.pk, bytes, len);
    return nbd_reply_end(&fr);
}

int nbd_reply_begin(struct nbd_reply *fr, struct nbd_request *rq)
{
    if (frame_begin(fr, rq->out) < 0)
        return NB_ENOMEM;
    msgpack_pack_map(&fr->pk, 3);
    pack_id(&fr->pk, true, rq->id);
    nb_mp_pack_cstr(&fr->pk, "ok");
    msgpack_pack_true(&fr->pk);
    nb_mp_pack_cstr(&fr->pk, "result");
    return 0;
}

/* ---- requests ---------------------------------------------------------- */

int nbd_request_word(const msgpack_object *map, const char *key, char *buf, size_t cap)
{
    struct nb_text t;
    int r = nb_mp_map_text(map, key, 1, cap - 1, 0, &t);
    if (r < 0)
        return r;
    memcpy(buf, t.ptr, t.len);
    buf[t.len] = '\0';
    return 0;
}

/*
 * Every op, the least role that may call it, and its function.  A member's
 * program (the member socket) may read and post records; everything that
 * manages the node, reveals the neighbourhood key (invite) or a peer's
 * address (peers) needs the operator.
 */
struct op {
    const char *name;
    enum nb_ctl_role role;
    int (*fn)(struct nbd_request *rq);
};

static const struct op ops[] = {
    { NB_CTL_OP_HELLO, NB_CTL_ROLE_MEMBER, nbd_op_hello },
    { NB_CTL_OP_SUBMIT, NB_CTL_ROLE_MEMBER, nbd_op_submit },
    { NB_CTL_OP_GET, NB_CTL_ROLE_MEMBER, nbd_op_get },
    { NB_CTL_OP_LIST, NB_CTL_ROLE_MEMBER, nbd_op_list },
    { NB_CTL_OP_WATCH, NB_CTL_ROLE_MEMBER, nbd_op_watch },
    { NB_CTL_OP_STATUS, NB_CTL_ROLE_MEMBER, nbd_op_status },
    { NB_CTL_OP_NEIGHBOURHOOD_CREATE, NB_CTL_ROLE_OPERATOR, nbd_op_neighbourhood_create },
    { NB_CTL_OP_INVITE, NB_CTL_ROLE_OPERATOR, nbd_op_invite },
    { NB_CTL_OP_JOIN, NB_CTL_ROLE_OPERATOR, nbd_op_join },
    { NB_CTL_OP_PEERS, NB_CTL_ROLE_OPERATOR, nbd_op_peers },
    { NB_CTL_OP_PEER_ADD, NB_CTL_ROLE_OPERATOR, nbd_op_peer_add },
    { NB_CTL_OP_PEER_REMOVE, NB_CTL_ROLE_OPERATOR, nbd_op_peer_remove },
    { NB_CTL_OP_WELCOME, NB_CTL_ROLE_OPERATOR, nbd_op_welcome },
    { NB_CTL_OP_WELCOME_REDEEM, NB_CTL_ROLE_MEMBER, nbd_op_welcome_redeem },
    { NB_CTL_OP_WELCOME_CHECK, NB_CTL_ROLE_MEMBER, nbd_op_welcome_check },
    { NB_CTL_OP_DEVICES, NB_CTL_ROLE_OPERATOR, nbd_op_devices },
    { NB_CTL_OP_DEVICE_REVOKE, NB_CTL_ROLE_OPERATOR, nbd_op_device_revoke },
    { NB_CTL_OP_DEVICE_ADD, NB_CTL_ROLE_MEMBER, nbd_op_device_add },
    { NB_CTL_OP_TRANSFER_PUT, NB_CTL_ROLE_MEMBER, nbd_op_transfer_put },
    { NB_CTL_OP_TRANSFER_TAKE, NB_CTL_ROLE_MEMBER, nbd_op_transfer_take },
    /* A member's own devices: listed for one of them, switched off with the
     * member's signature (never another member's). */
    { NB_CTL_OP_DEVICES_OWN, NB_CTL_ROLE_MEMBER, nbd_op_devices_own },
    { NB_CTL_OP_DEVICE_REVOKE_OWN, NB_CTL_ROLE_MEMBER, nbd_op_device_revoke_own },
    { NB_CTL_OP_BLOCK, NB_CTL_ROLE_OPERATOR, nbd_op_block },
    { NB_CTL_OP_UNBLOCK, NB_CTL_ROLE_OPERATOR, nbd_op_unblock },
    { NB_CTL_OP_BLOCKED, NB_CTL_ROLE_OPERATOR, nbd_op_blocked },
    /* The member socket gets the overview only with share_report = on;
     * the op itself checks, as that is a setting and not a role. */
    { NB_CTL_OP_REPORT, NB_CTL_ROLE_MEMBER, nbd_op_report },
};

static const struct op *find_op(const char *name)
{
    for (size_t i = 0; i < sizeof(ops) / sizeof(ops[0]); i++) {
        if (strcmp(ops[i].name, name) == 0)
            return &ops[i];
    }
    return NULL;
}

static int refuse_by_role(struct nbd_request *rq, const struct op *o)
{
    char message[160];
    snprintf(message, sizeof(message),
             "this socket serves neighbours' programs; `%s` needs the operator socket", o->name);
    return error_reply(rq->out, true, rq->id, NB_CTL_E_FORBIDDEN, message);
}

int nbd_control_handle(const struct nbd_control_ctx *ctx, const uint8_t *body, size_t len,
                       msgpack_sbuffer *out)
{
    struct nb_mp_doc doc;
    struct nbd_request rq = { .ctx = ctx, .out = out };
    size_t mark = out->size;
    bool has_id = false;
    uint64_t v;
    char op[NB_CTL_OP_NAME_MAX + 1];
    int r;

    memset(&doc, 0, sizeof(doc));
    r = nb_mp_decode(body, len, NB_CTL_FRAME_MAX, REQUEST_DEPTH, &doc);
    if (r == NB_ENOMEM)
        return r;
    if (r < 0 || nb_mp_root(&doc)->type != MSGPACK_OBJECT_MAP) {
        r = error_reply(out, false, 0, NB_CTL_E_BAD_REQUEST,
                        "a request must be exactly one msgpack map");
        nb_mp_doc_free(&doc);
        return r < 0 ? r : NBD_AFTER_CLOSE;
    }
    rq.map = nb_mp_root(&doc);
    if (nb_mp_map_check_keys(rq.map) < 0) {
        r = error_reply(out, false, 0, NB_CTL_E_BAD_REQUEST,
                        "request keys must be distinct strings");
        goto out;
    }
    if (nb_mp_map_uint(rq.map, "id", UINT64_MAX, &rq.id) < 0) {
        r = error_reply(out, false, 0, NB_CTL_E_BAD_REQUEST, "`id` must be an unsigned integer");
        goto out;
    }
    has_id = true;
    r = nb_mp_map_uint(rq.map, "v", UINT64_MAX, &v);
    if (r == NB_ENOENT || r == NB_EMALFORMED) {
        r = error_reply(out, true, rq.id, NB_CTL_E_BAD_REQUEST,
                        "`v` (the protocol version) is missing");
        goto out;
    }
    if (v != NB_CTL_VERSION) {
        r = error_reply(out, true, rq.id, NB_CTL_E_VERSION, "this noaberd speaks version 1 only");
        goto out;
    }
    if (nbd_request_word(rq.map, "op", op, sizeof(op)) < 0) {
        r = error_reply(out, true, rq.id, NB_CTL_E_BAD_REQUEST, "`op` must be a short string");
        goto out;
    }
    const struct op *o = find_op(op);
    if (o == NULL)
        r = error_reply(out, true, rq.id, NB_CTL_E_UNKNOWN_OP,
                        "this noaberd does not know that op");
    else if (ctx->role < o->role)
        r = refuse_by_role(&rq, o);
    else
        r = o->fn(&rq);
out:
    nb_mp_doc_free(&doc);
    if (r == NB_ETOOBIG || r == NB_ENOMEM) {
        /* The reply did not fit a frame (or memory): drop what was packed
         * and say so instead of sending a broken frame. */
        out->size = mark;
        int e = error_reply(out, has_id, rq.id, NB_CTL_E_INTERNAL,
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
    size_t out_pending;    /* bytes handed to uv_write and not yet written */
    uint64_t last_request; /* uv_now() when the last complete request arrived */
    uid_t uid;             /* of the peer process (SO_PEERCRED) */
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
    c->ctl->out_total -= w->len;
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
    if (c->out_pending + out->size > NBD_OUTPUT_MAX ||
        c->ctl->out_total + out->size > NBD_OUTPUT_TOTAL_MAX) {
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
    c->ctl->out_total += w->len;
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
            nbd_control_error_frame(&out, NB_CTL_E_BAD_REQUEST,
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
        c->last_request = uv_now(c->ctl->loop);
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
        char why[512], message[640];
        nbd_store_explain(node->store, committed, why, sizeof(why));
        nbd_error("committing submitted records failed: %s", why);
        snprintf(message, sizeof(message),
                 "the node's store failed to commit (%s); nothing of the last requests is "
                 "acknowledged",
                 why);
        out.size = 0;
        events.size = 0;
        nbd_control_error_frame(&out, nbd_store_error_code(committed), message);
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
                      const struct nb_record *rec, const struct nbd_origin *origin)
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

/* The user of the process at the other end; (uid_t)-1 if unknown. */
static uid_t peer_uid(struct nbd_connection *c)
{
    uv_os_fd_t fd;
    struct ucred cred;
    socklen_t len = sizeof(cred);
    if (uv_fileno((uv_handle_t *)&c->pipe, &fd) < 0 ||
        getsockopt(fd, SOL_SOCKET, SO_PEERCRED, &cred, &len) < 0)
        return (uid_t)-1;
    return cred.uid;
}

/* NULL if the new connection `c` (already counted) may stay, else why not. */
static const char *admit(struct nbd_control *ctl, struct nbd_connection *c)
{
    c->uid = peer_uid(c);
    bool operator= c->uid == 0 || c->uid == geteuid();
    if (ctl->n_connections > NBD_CONNECTIONS_MAX)
        return "noaberd has too many control connections open; try again shortly";
    if (operator)
        return NULL;
    if (ctl->n_connections > NBD_CONNECTIONS_MAX - NBD_CONNECTIONS_RESERVED)
        return "noaberd's remaining control connections are kept for its operator; try again "
               "shortly";
    size_t mine = 0;
    for (const struct nbd_connection *o = ctl->connections; o != NULL; o = o->next)
        if (!o->closing && o->uid == c->uid)
            mine++;
    if (mine > NBD_CONNECTIONS_PER_UID)
        return "this user already has 16 control connections open to noaberd; close some";
    return NULL;
}

/* Closes connections that sent no complete request for NBD_IDLE_MS: a
 * connection opened and left open must not hold a slot. */
static void on_idle_timer(uv_timer_t *t)
{
    struct nbd_control *ctl = container_of(t, struct nbd_control, idle_timer);
    uint64_t now = uv_now(ctl->loop);
    for (struct nbd_connection *c = ctl->connections; c != NULL; c = c->next) {
        if (c->watching || c->closing || now - c->last_request < NBD_IDLE_MS)
            continue;
        nbd_debug("closing a control connection idle for %d s", NBD_IDLE_MS / 1000);
        conn_close(c);
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
    c->last_request = uv_now(ctl->loop);
    const char *refusal = admit(ctl, c);
    if (refusal != NULL) {
        /* Said to the client, so that its user reads why, and logged. */
        nbd_warn("refusing a control connection from uid %u: %s", (unsigned)c->uid, refusal);
        msgpack_sbuffer out;
        msgpack_sbuffer_init(&out);
        nbd_control_error_frame(&out, NB_CTL_E_REFUSED, refusal);
        c->close_after_flush = true;
        conn_send(c, &out);
        return;
    }
    if (uv_read_start((uv_stream_t *)&c->pipe, on_alloc, on_read) < 0)
        conn_close(c);
}

int nbd_control_prepare_dir(const char *socket_path, bool create, char *err, size_t err_size)
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
    if (create && mkdir(dir, 0700) < 0 && errno != EEXIST) {
        snprintf(err, err_size, "cannot create the socket directory %s: %s", dir, strerror(errno));
        return NB_EIO;
    }
    struct stat st;
    if (!create && stat(dir, &st) < 0 && errno == ENOENT)
        return 0; /* created 0700 at start-up, if its parent lets it */
    if (stat(dir, &st) < 0 || !S_ISDIR(st.st_mode)) {
        snprintf(err, err_size, "the socket directory %s is not a directory", dir);
        return NB_EIO;
    }
    /* root checking a service's config cannot know which user the
     * service runs as: only the owner that start-up compares with is. */
    if (st.st_uid != geteuid() && (create || geteuid() != 0)) {
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
    r = nbd_control_prepare_dir(socket_path, true, err, err_size);
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
    uv_timer_init(loop, &ctl->idle_timer);
    uv_timer_start(&ctl->idle_timer, on_idle_timer, NBD_IDLE_MS / 6, NBD_IDLE_MS / 6);
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
    uv_timer_stop(&ctl->idle_timer);
    uv_close((uv_handle_t *)&ctl->idle_timer, NULL);
    for (struct nbd_connection *c = ctl->connections; c != NULL; c = c->next)
        conn_close(c);
    unlink(ctl->socket_path);
    free(ctl->socket_path);
    ctl->socket_path = NULL;
}
