/*
 * What the control server hands its operations, and what they answer with.
 *
 * The server (daemon/control/server.c) reads a request, checks its version, finds
 * the op in its table and checks the connection's role; an op then reads
 * its arguments from the request map and appends exactly one reply frame,
 * an ok reply (nbd_reply_begin, the result, nbd_reply_end) or an error
 * (nbd_reply_error).  An op returns 0, an NBD_AFTER_* value, or
 * NB_ENOMEM / NB_ETOOBIG, on which the server replaces whatever the op
 * packed by an `internal` error.
 */
#ifndef NOABERD_CONTROL_OPS_H
#define NOABERD_CONTROL_OPS_H

#include <stddef.h>
#include <stdint.h>

#include <msgpack.h>

#include "common/control_proto.h"
#include "daemon/control/control.h"
#include "daemon/node.h"

struct nbd_request {
    uint64_t id;
    const msgpack_object *map;
    const struct nbd_control_ctx *ctx;
    msgpack_sbuffer *out;
};

/* An ok reply under construction: the frame's length prefix is patched in
 * by nbd_reply_end once the body is complete. */
struct nbd_reply {
    msgpack_sbuffer *out;
    size_t start;
    msgpack_packer pk;
};

/* Starts an ok reply to `rq`: the caller packs the result value next. */
int nbd_reply_begin(struct nbd_reply *fr, struct nbd_request *rq);
/* Completes the frame; NB_ETOOBIG when it is larger than a frame may be. */
int nbd_reply_end(struct nbd_reply *fr);
/* Appends an error reply to `rq`. */
int nbd_reply_error(struct nbd_request *rq, enum nb_ctl_error error, const char *message);
/* Begins an error reply to `rq` that carries `extra` more keys (packed by the
 * caller, then nbd_reply_end), such as the matches of an ambiguous prefix. */
int nbd_reply_error_begin(struct nbd_reply *fr, struct nbd_request *rq, enum nb_ctl_error error,
                          const char *message, uint32_t extra);
/* Appends the error reply a node's verdict asks for. */
int nbd_reply_verdict(struct nbd_request *rq, const struct nbd_verdict *v);
/* The error code of a node's verdict: the one place where the node's
 * decision becomes the control API's code. */
enum nb_ctl_error nbd_verdict_error(const struct nbd_verdict *v);

/*
 * The store failed with `code` while doing `doing` ("reading a record"):
 * logs it and replies `damaged`, `no_space` or `internal` with the sentence
 * nbd_store_explain gives (it names the directory and what to do).
 */
int nbd_reply_store_error(struct nbd_request *rq, int code, const char *doing);
/* The control API's code for a failure of the store. */
enum nb_ctl_error nbd_store_error_code(int code);
/* Sentences more than one op answers with. */
extern const char nbd_msg_store_failed[];
extern const char nbd_msg_member_arg[];

/* Copies a short str argument into a NUL-terminated buffer; 0 or < 0. */
int nbd_request_word(const msgpack_object *map, const char *key, char *buf, size_t cap);

/* The operations, one per op of docs/control-api.md, grouped by file:
 * the node itself (ops_node.c) */
int nbd_op_hello(struct nbd_request *rq);
int nbd_op_status(struct nbd_request *rq);
int nbd_op_neighbourhood_create(struct nbd_request *rq);
int nbd_op_invite(struct nbd_request *rq);
int nbd_op_join(struct nbd_request *rq);
/* records (ops_records.c) */
int nbd_op_submit(struct nbd_request *rq);
int nbd_op_get(struct nbd_request *rq);
int nbd_op_list(struct nbd_request *rq);
int nbd_op_watch(struct nbd_request *rq);
/* the peer network (ops_peers.c) */
int nbd_op_peers(struct nbd_request *rq);
int nbd_op_peer_add(struct nbd_request *rq);
int nbd_op_peer_remove(struct nbd_request *rq);
/* this node's blocks (ops_block.c) */
int nbd_op_block(struct nbd_request *rq);
int nbd_op_unblock(struct nbd_request *rq);
int nbd_op_blocked(struct nbd_request *rq);
/* the unmet-need overview (ops_report.c) */
int nbd_op_report(struct nbd_request *rq);
/* welcome links and admitted devices (ops_welcome.c) */
int nbd_op_welcome(struct nbd_request *rq);
int nbd_op_welcome_redeem(struct nbd_request *rq);
int nbd_op_welcome_check(struct nbd_request *rq);
int nbd_op_devices(struct nbd_request *rq);
int nbd_op_device_revoke(struct nbd_request *rq);
int nbd_op_devices_own(struct nbd_request *rq);
int nbd_op_device_revoke_own(struct nbd_request *rq);
int nbd_op_device_add(struct nbd_request *rq);
int nbd_op_transfer_put(struct nbd_request *rq);
int nbd_op_transfer_take(struct nbd_request *rq);

#endif
