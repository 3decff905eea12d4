/*
 * noaber-web's HTTP API (docs/web.md) as pure functions: which route a
 * request names, whether it may proceed (session, same origin, content type,
 * size), the control request it becomes (docs/control-api.md, member role),
 * and the JSON that a control reply becomes.  No sockets, no clock, no
 * globals: tests/fuzz/fuzz_web_api.c drives all of it from bytes.
 */
#ifndef NOABER_WEB_API_H
#define NOABER_WEB_API_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <msgpack.h>

#include <noaber/record.h>

/* The largest request body: a record of 8192 bytes is 10924 in base64, plus
 * the JSON around it. */
#define WEB_BODY_MAX 16384
/* The largest control reply turned into JSON (one frame). */
#define WEB_REPLY_MAX     (1024u * 1024u)
#define WEB_CONTROL_DEPTH 16
#define WEB_JSON_FIELDS   8
#define WEB_TOKEN_MAX     128
#define WEB_DEVICE_MAX    64
/* The largest ciphertext of a transfer link (NBD_TRANSFER_SEALED_MAX). */
#define WEB_SEALED_MAX 256

enum web_route {
    WEB_ROUTE_NONE,          /* not an API path: a static file, or 404 */
    WEB_ROUTE_UNKNOWN,       /* under /api/ but no such endpoint */
    WEB_ROUTE_INFO,          /* GET /api/info */
    WEB_ROUTE_CHALLENGE,     /* POST /api/session/challenge */
    WEB_ROUTE_SESSION,       /* POST /api/session (sign in), DELETE (sign out) */
    WEB_ROUTE_WELCOME,       /* POST /api/welcome: redeem a welcome token */
    WEB_ROUTE_SUBMIT,        /* POST /api/records */
    WEB_ROUTE_GET,           /* GET /api/records/ID */
    WEB_ROUTE_LIST,          /* GET /api/list */
    WEB_ROUTE_EVENTS,        /* GET /api/events (server-sent events) */
    WEB_ROUTE_STATUS,        /* GET /api/status */
    WEB_ROUTE_REPORT,        /* GET /api/report: the unmet-need overview */
    WEB_ROUTE_QR,            /* GET /api/qr: a QR code (SVG) of the page's address */
    WEB_ROUTE_TRANSFER,      /* POST /api/transfer: a link for the member's next device */
    WEB_ROUTE_TRANSFER_TAKE, /* POST /api/transfer/take: that link used on the new device */
    WEB_ROUTE_DEVICES,       /* POST /api/devices: a recovery card admits this browser;
                              * GET: the member's own devices */
    WEB_ROUTE_DEVICE_REVOKE, /* POST /api/devices/revoke: the member switches one off */
};

/* An HTTP request as far as the API looks at it.  Absent headers are NULL. */
struct web_input {
    const char *method;
    const char *path;
    const char *content_type;
    const char *origin;
    const char *sec_fetch_site;
    const char *host;
    /* Query arguments of GET /api/list (NULL when absent). */
    const char *q_kind, *q_status, *q_category, *q_area, *q_author, *q_limit;
    /* Of GET /api/report and GET /api/qr. */
    const char *q_by, *q_since, *q_url;
    const uint8_t *body;
    size_t body_len;
    bool body_too_big; /* more than WEB_BODY_MAX bytes arrived (or announced) */
    bool has_session;
    uint8_t member[NB_KEY_SIZE]; /* the session's member, if has_session */
    bool has_device_key;         /* whether the session's device has a key */
    uint8_t device_key[NB_KEY_SIZE];
};

/* A refusal: HTTP status, a stable code and a sentence for a person. */
struct web_error {
    unsigned status;
    const char *code;
    const char *message;
};

/* What the server does with a request that passed the checks. */
enum web_action {
    WEB_DO_CONTROL,   /* send `req` on the control socket, reply with web_api_reply */
    WEB_DO_CHALLENGE, /* make a session challenge */
    WEB_DO_SIGN_IN,   /* check `sign_in`, then ask the node whether the member is admitted */
    WEB_DO_SIGN_OUT,
    WEB_DO_EVENTS, /* stream the node's watch as server-sent events */
    WEB_DO_QR,     /* draw `qr_url` as a QR code (no control request) */
};

/* The fields of a sign-in or welcome body, decoded. */
struct web_sign_in {
    uint8_t member[NB_KEY_SIZE];
    uint8_t challenge[32];
    uint8_t signature[64];
    /* The device's own key and its signature over the same challenge;
     * absent for a browser admitted before device keys. */
    bool has_device_key;
    uint8_t device_key[NB_KEY_SIZE];
    uint8_t device_signature[64];
    char token[WEB_TOKEN_MAX + 1]; /* welcome only */
    char device[WEB_DEVICE_MAX + 1];
};

struct web_plan {
    enum web_route route;
    enum web_action action;
    struct web_sign_in sign_in;
    const char *qr_url; /* WEB_DO_QR: the checked address, in `in` */
};

/* Which route `method` and `path` name; path is without the query. */
enum web_route web_route_of(const char *path);

/*
 * Checks a request and plans it.  For WEB_DO_CONTROL the control request (a
 * msgpack map with `v`, `id` = `id`, `op` and arguments) is packed into
 * `req`, which the caller initialised.  Returns 0, or -1 with `err` filled.
 */
int web_api_plan(const struct web_input *in, uint64_t id, msgpack_sbuffer *req,
                 struct web_plan *ret_plan, struct web_error *err);

/* A growable text buffer for JSON. */
struct web_buf {
    char *data;
    size_t len, cap;
    bool failed; /* an allocation failed: the content is incomplete */
};
void web_buf_free(struct web_buf *b);
void web_buf_put(struct web_buf *b, const char *s, size_t n);
void web_buf_puts(struct web_buf *b, const char *s);
/* A JSON string (quoted and escaped). */
void web_json_str(struct web_buf *b, const char *s, size_t n);
void web_json_hex(struct web_buf *b, const uint8_t *p, size_t n);
void web_json_base64(struct web_buf *b, const uint8_t *p, size_t n);
/* {"error": code, "message": message} */
void web_json_error(struct web_buf *b, const struct web_error *err);

/*
 * Turns one control reply frame (the msgpack body) into the JSON reply of
 * `route` and its HTTP status.  A control error becomes its status and
 * {"error","message"}; bin values become hex, except records (base64).
 * Returns 0, or -1 when the frame is not a well-formed reply (then `out`
 * holds an error with status 502).
 */
int web_api_reply(enum web_route route, const uint8_t *frame, size_t len, struct web_buf *out,
                  unsigned *ret_status);

/* The largest address GET /api/qr draws: a page's address, not a text. */
#define WEB_QR_URL_MAX 256

/* A watch event frame as one server-sent event ("data: {...}\n\n");
 * returns 0, or -1 when the frame is not an event. */
int web_api_event(const uint8_t *frame, size_t len, struct web_buf *out);

/* Packs a control request {v, id, op} with an optional `member` (bin 32). */
void web_api_pack_op(msgpack_sbuffer *req, uint64_t id, const char *op,
                     const uint8_t member[NB_KEY_SIZE]);

/* The neighbourhood id of a hello reply; -1 when the node has none. */
int web_api_hello_neighbourhood(const uint8_t *frame, size_t len, uint8_t ret_id[NB_ID_SIZE]);

/* Packs welcome.check {member, device_key?} (device_key may be NULL). */
void web_api_pack_check(msgpack_sbuffer *req, uint64_t id, const uint8_t member[NB_KEY_SIZE],
                        const uint8_t *device_key);

/* 1 when a welcome.check reply says the member is admitted, 0 when it says
 * not, -1 when it is not such a reply. */
int web_api_admitted(const uint8_t *frame, size_t len);

/* The HTTP status of a control error code. */
unsigned web_status_of_control_error(const char *code, size_t len);

#endif
