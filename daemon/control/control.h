/*
 * The control socket (docs/control-api.md): length-prefixed msgpack maps on
 * a Unix domain socket.
 *
 * Three layers, so the parsing can be fuzzed without sockets:
 *   - nbd_framer: splits a byte stream into frames, checking each length
 *     before anything is buffered;
 *   - nbd_control_handle: one request body in, one reply frame out, against
 *     a node: the request is checked and dispatched through one table of
 *     {name, role, op} to the operations (daemon/control/ops.h);
 *   - nbd_control: the libuv server and its connections.
 *
 * The daemon runs two servers: the operator's socket (every op) and the
 * member socket for neighbours' programs (docs/control-api.md, "Roles").
 * The protocol's constants and framing are in common/control_proto.h.
 */
#ifndef NOABERD_CONTROL_H
#define NOABERD_CONTROL_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <msgpack.h>
#include <uv.h>

#include "common/control_proto.h"
#include "daemon/net/net.h"
#include "daemon/node.h"

#define NBD_OUTPUT_MAX      (16 * 1024 * 1024) /* queued reply bytes per connection */
#define NBD_CONNECTIONS_MAX 64                 /* per socket */
/*
 * No local user can hold the socket (docs/control-api.md, "Limits"): a
 * connection that sends no complete request for NBD_IDLE_MS is closed
 * (watchers are waiting by design and stay); one user (uid) may hold
 * NBD_CONNECTIONS_PER_UID connections; the last NBD_CONNECTIONS_RESERVED are
 * kept for the daemon's own user and root; and the replies queued for all
 * the connections of a socket stay under NBD_OUTPUT_TOTAL_MAX.
 */
#define NBD_IDLE_MS              30000
#define NBD_CONNECTIONS_PER_UID  16
#define NBD_CONNECTIONS_RESERVED 8
#define NBD_OUTPUT_TOTAL_MAX     (64 * 1024 * 1024)

/* ---- framing ---------------------------------------------------------- */

struct nbd_framer {
    uint8_t header[4];
    size_t header_len;
    uint8_t *body;
    size_t body_len;
    size_t body_got;
};

/*
 * Consumes bytes from data[0..n).  Returns 1 when a frame is complete: the
 * caller then owns *ret_body (free()) of *ret_len bytes, and *ret_used says
 * how many input bytes were consumed (feed the rest again).  Returns 0 when
 * all input was consumed without completing a frame, NB_ETOOBIG for a length
 * of 0 or above NB_CTL_FRAME_MAX (the stream cannot be resynchronised), or
 * NB_ENOMEM.
 */
int nbd_framer_feed(struct nbd_framer *f, const uint8_t *data, size_t n, size_t *ret_used,
                    uint8_t **ret_body, size_t *ret_len);
void nbd_framer_clear(struct nbd_framer *f);

/* ---- requests ---------------------------------------------------------- */

/* What a request asks besides its reply. */
enum nbd_after {
    NBD_AFTER_NOTHING = 0,
    NBD_AFTER_WATCH = 1, /* the connection now receives record events */
    NBD_AFTER_CLOSE = 2, /* the stream is unusable: close after the reply */
};

/* What nbd_control_handle needs besides the request. */
struct nbd_control_ctx {
    struct nbd_node *node;
    struct nbd_net *net; /* NULL when there is no peer network (tests) */
    const char *data_dir;
    uint64_t (*clock)(void);  /* seconds since the epoch */
    bool socket_group_access; /* socket mode 0660 instead of 0600 */
    enum nb_ctl_role role;    /* what the socket's connections may do */
    bool share_report;        /* `share_report = on`: the overview is shared and signed */
};

/*
 * Handles one request body and appends exactly one reply frame (length
 * prefix included) to `out`.  Never fails on bad input: malformed requests
 * get an error reply.  Returns NBD_AFTER_* or NB_ENOMEM.
 */
int nbd_control_handle(const struct nbd_control_ctx *ctx, const uint8_t *body, size_t len,
                       msgpack_sbuffer *out);

/* Appends an error reply frame (id nil) to `out`; for framing errors. */
int nbd_control_error_frame(msgpack_sbuffer *out, enum nb_ctl_error error, const char *message);

/* Appends a `{event: "record", id, record}` frame to `out`. */
int nbd_control_event_frame(msgpack_sbuffer *out, const uint8_t id[NB_ID_SIZE],
                            const uint8_t *bytes, size_t len);

/* ---- the server ---------------------------------------------------------- */

struct nbd_connection;

struct nbd_control {
    uv_pipe_t server; /* embedded; see nbd_control_stop */
    uv_loop_t *loop;
    struct nbd_control_ctx ctx;
    char *socket_path;
    struct nbd_connection *connections;
    size_t n_connections;
    size_t out_total;      /* reply bytes queued over every connection */
    uv_timer_t idle_timer; /* embedded; closes idle connections */
    bool listening;
    bool stopping;
    /* While a connection's request runs: events for that same connection
     * wait here so that its reply goes out first. */
    struct nbd_connection *serving;
    msgpack_sbuffer *serving_events;
};

/*
 * Prepares the socket's directory (creates it 0700; refuses one that other
 * users can enter or that is not ours), removes a stale socket, binds with
 * mode 0600 (0660 with ctx->socket_group_access) and listens.  On failure err says why.
 */
int nbd_control_start(struct nbd_control *ctl, uv_loop_t *loop, const struct nbd_control_ctx *ctx,
                      const char *socket_path, char *err, size_t err_size);

/*
 * Stops accepting, closes every connection and the server handle and
 * removes the socket file.  The handles finish closing in the loop; the
 * struct must stay alive until uv_run returns.
 */
void nbd_control_stop(struct nbd_control *ctl);

/*
 * The socket's directory: created 0700 if missing (with `create`), refused
 * when other users could enter it (the socket is the node's whole API), when
 * it is not this user's, or when the path is too long for a Unix socket.
 * Start-up and `noaberd --check-config` (create false: a missing directory
 * is fine, and root may check a directory another user owns, as for the
 * system service) check the same things.  Returns 0 or an NB_E* code with a
 * sentence in err.
 */
int nbd_control_prepare_dir(const char *socket_path, bool create, char *err, size_t err_size);

#endif
