/*
 * The client side of noaberd's control API (docs/control-api.md): finding
 * and connecting to the socket, framing, and bounded decoding of replies.
 */
#ifndef NOABER_CLIENT_CONTROL_H
#define NOABER_CLIENT_CONTROL_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <msgpack.h>

#include "common/control_proto.h"
#include "proto/mp.h"

#define CTL_DEPTH_MAX       16
#define CTL_PATHS_MAX       4
#define CTL_PATH_LEN        512
#define CTL_TIMEOUT_SECONDS 60

/* Errors of the control layer, besides the nb_error codes. */
enum ctl_error {
    CTL_EUNREACHABLE = -1000, /* no socket accepted a connection */
    CTL_ECLOSED = -1001,      /* the daemon closed the connection */
    CTL_EPROTO = -1002,       /* the daemon's reply does not follow the control API */
    CTL_ETIMEDOUT = -1003,    /* no reply within CTL_TIMEOUT_SECONDS */
};

struct ctl {
    int fd;
    uint64_t next_id;
    char path[CTL_PATH_LEN]; /* the socket connected to */
    /* The candidates tried, for an error message a person can act on. */
    char tried[CTL_PATHS_MAX][CTL_PATH_LEN];
    size_t ntried;
    int tried_errno[CTL_PATHS_MAX]; /* why each path failed */
};

/*
 * Connects to `given` if not NULL, else to NOABER_SOCKET, else to the first
 * of the daemon's default paths that accepts: $XDG_RUNTIME_DIR/noaber/
 * noaberd.sock, $XDG_DATA_HOME/noaber/noaberd.sock (~/.local/share/...),
 * /run/noaber/noaberd.sock.  Returns 0 or CTL_EUNREACHABLE (c->tried lists
 * what was tried).
 */
int ctl_connect(struct ctl *c, const char *given);
void ctl_close(struct ctl *c);
/* Lets reads wait forever (watch). */
void ctl_no_timeout(struct ctl *c);
/* Prints the "cannot reach noaberd" sentence with the paths tried and a hint. */
void ctl_print_unreachable(const struct ctl *c);

/* A request being built: a msgpack map of `v`, `id`, `op` and the arguments. */
struct ctl_req {
    msgpack_sbuffer buf;
    msgpack_packer pk;
    uint64_t id;
};

/* Starts a request for `op` with `nargs` arguments to follow. */
void ctl_req_begin(struct ctl *c, struct ctl_req *r, const char *op, size_t nargs);
void ctl_req_str(struct ctl_req *r, const char *key, const char *value);
void ctl_req_bin(struct ctl_req *r, const char *key, const void *value, size_t len);
void ctl_req_uint(struct ctl_req *r, const char *key, uint64_t value);
void ctl_req_free(struct ctl_req *r);

/* A decoded reply.  `result` (when ok) and strings point into `frame`. */
struct ctl_reply {
    uint8_t *frame;
    struct nb_mp_doc doc;
    const msgpack_object *root;
    const msgpack_object *result;
    bool ok;
    enum nb_ctl_error error; /* when not ok; NB_CTL_E_UNKNOWN for a code this client lacks */
    char error_name[NB_CTL_ERROR_MAX + 1]; /* the code as sent, for messages */
    char message[512];
};

/*
 * Sends the request and reads its reply.  Returns 0 when a well-formed reply
 * arrived (check reply->ok), or a ctl_error / nb_error code.  Frees the
 * request either way.
 */
int ctl_call(struct ctl *c, struct ctl_req *r, struct ctl_reply *ret);
/* Reads the next message (for watch); 0, CTL_ECLOSED, or another code. */
int ctl_read(struct ctl *c, struct ctl_reply *ret);
void ctl_reply_free(struct ctl_reply *reply);

/* Looks up a key of a reply map; NULL when absent or when `map` is not a map. */
const msgpack_object *ctl_get(const msgpack_object *map, const char *key);
/* A str value copied to buf (NUL-terminated, cut to size); "" when absent. */
void ctl_get_str(const msgpack_object *map, const char *key, char *buf, size_t size);
/* A uint value, or `fallback` when absent or of another type. */
uint64_t ctl_get_uint(const msgpack_object *map, const char *key, uint64_t fallback);
bool ctl_get_bool(const msgpack_object *map, const char *key, bool fallback);
/* A bin of exactly len bytes; returns 0, or -1 when absent, nil or of another size. */
int ctl_get_bin_exact(const msgpack_object *map, const char *key, uint8_t *out, size_t len);
/* A bin of any size as a view; returns 0 or -1. */
int ctl_get_bin(const msgpack_object *map, const char *key, const uint8_t **ret_ptr,
                size_t *ret_len);

#endif
