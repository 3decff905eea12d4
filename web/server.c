/*
 * noaber-web's HTTP server (see server.h).  The decisions about a request
 * are in api.c; this file moves bytes between libmicrohttpd, the files of
 * the page and the control socket.
 */
#include "web/server.h"

#include "common/control_proto.h"

#include <noaber/record.h>

#include "common/qr.h"
#include "daemon/log.h"
#include "web/api.h"

#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <microhttpd.h>
#include <netinet/in.h>
#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#define CONNECTIONS_MAX  256
#define STREAMS_MAX      128
#define STREAM_QUEUE_MAX (4u * 1024u * 1024u)
#define PATH_MAX_LEN     200
/* How often an idle event stream gets a comment line: it keeps proxies from
 * closing it, and finds browsers that went away (their write fails). */
#define KEEPALIVE_MS 30000

#define CLEAR_COOKIE WEB_COOKIE_NAME "=; Path=/; HttpOnly; SameSite=Strict; Max-Age=0"

/*
 * What the page may do, for every reply: its own scripts and styles only (no
 * inline script or style), WebAssembly for libsodium.js, requests to this
 * server only, never inside another site's frame.
 */
#define CSP                                                                                        \
    "default-src 'none'; script-src 'self' 'wasm-unsafe-eval'; style-src 'self'; "                 \
    "img-src 'self' data:; connect-src 'self'; manifest-src 'self'; form-action 'self'; "          \
    "frame-ancestors 'none'; base-uri 'none'"

struct sse_client {
    struct sse_client *next;
    struct web_server *srv;
    struct MHD_Connection *conn;
    struct web_buf queue;
    size_t sent;
    bool suspended;
    bool closed;                         /* the node's watch ended: end the stream */
    char cookie[2 * WEB_TOKEN_SIZE + 1]; /* the session the stream was opened with */
};

struct web_req {
    struct web_server *srv;
    struct MHD_Connection *conn;
    /* REQ_CHECKED: the node confirmed the session's member; plan again. */
    enum { REQ_BODY, REQ_WAITING, REQ_CHECKED, REQ_READY } state;
    uint8_t body[WEB_BODY_MAX];
    size_t body_len;
    bool too_big;
    struct web_plan plan;
    unsigned status;
    struct web_buf json;
    char set_cookie[160];
    struct sse_client *stream;
};

static uint64_t wall_now(void)
{
    return (uint64_t)time(NULL);
}

static void secure_headers(struct MHD_Response *r)
{
    MHD_add_response_header(r, "Content-Security-Policy", CSP);
    MHD_add_response_header(r, "X-Content-Type-Options", "nosniff");
    MHD_add_response_header(r, "Referrer-Policy", "no-referrer");
    MHD_add_response_header(r, "X-Frame-Options", "DENY");
    MHD_add_response_header(r, "Cross-Origin-Opener-Policy", "same-origin");
}

static enum MHD_Result reply_buf(struct MHD_Connection *conn, unsigned status,
                                 const struct web_buf *json, const char *cookie)
{
    struct MHD_Response *r;
    enum MHD_Result ret;

    r = MHD_create_response_from_buffer(json->len, json->data ? json->data : (void *)"",
                                        MHD_RESPMEM_MUST_COPY);
    if (r == NULL) {
        return MHD_NO;
    }
    secure_headers(r);
    MHD_add_response_header(r, "Content-Type", "application/json");
    MHD_add_response_header(r, "Cache-Control", "no-store");
    if (cookie != NULL && cookie[0] != '\0') {
        MHD_add_response_header(r, "Set-Cookie", cookie);
    }
    ret = MHD_queue_response(conn, status, r);
    MHD_destroy_response(r);
    return ret;
}

static enum MHD_Result reply_error(struct MHD_Connection *conn, const struct web_error *err)
{
    struct web_buf b = { 0 };
    enum MHD_Result ret;

    web_json_error(&b, err);
    ret = reply_buf(conn, err->status, &b, NULL);
    web_buf_free(&b);
    return ret;
}

/*
 * GET /api/qr: the page's address as an SVG QR code, level M as on
 * `noaber sheet` (paper gets folded and stained).  Drawn here rather than
 * in the page, whose code holds no QR encoder.
 */
static enum MHD_Result reply_qr(struct MHD_Connection *conn, const char *url)
{
    struct web_error too_long = { 400, "bad_request", "the address is too long for a QR code." };
    struct web_error busy = { 503, "busy", "the server is out of memory." };
    struct MHD_Response *r;
    enum MHD_Result ret;
    char *svg = NULL;
    size_t len = 0;
    FILE *f = open_memstream(&svg, &len);
    int rc;

    if (f == NULL) {
        return reply_error(conn, &busy);
    }
    rc = qr_svg(url, QR_ECLEVEL_M, "100%", f);
    if (fclose(f) != 0 || rc != 0) {
        free(svg);
        return reply_error(conn, rc != 0 ? &too_long : &busy);
    }
    r = MHD_create_response_from_buffer(len, svg, MHD_RESPMEM_MUST_FREE);
    if (r == NULL) {
        free(svg);
        return MHD_NO;
    }
    secure_headers(r);
    MHD_add_response_header(r, "Content-Type", "image/svg+xml");
    MHD_add_response_header(r, "Cache-Control", "no-store");
    ret = MHD_queue_response(conn, 200, r);
    MHD_destroy_response(r);
    return ret;
}

/* ------------------------------------------------------------------------ */
/* Driving libmicrohttpd from the loop                                       */

static void on_timer(uv_timer_t *t);

/* Runs libmicrohttpd, then wakes up when its next timeout falls due. */
static void drive(struct web_server *s)
{
    MHD_UNSIGNED_LONG_LONG timeout;

    if (s->mhd == NULL) {
        return;
    }
    MHD_run(s->mhd);
    if (MHD_get_timeout(s->mhd, &timeout) == MHD_YES) {
        uv_timer_start(&s->timer, on_timer, timeout, 0);
    } else {
        uv_timer_stop(&s->timer);
    }
}

static void on_timer(uv_timer_t *t)
{
    drive(t->data);
}

static void on_poll(uv_poll_t *p, int status, int events)
{
    drive(p->data);
}

/* After a resume: libmicrohttpd handles the connection on its next run. */
static void kick(struct web_server *s)
{
    uv_timer_start(&s->timer, on_timer, 0, 0);
}

/* ------------------------------------------------------------------------ */
/* Server-sent events                                                        */

static void stream_resume(struct sse_client *c)
{
    if (c->suspended) {
        c->suspended = false;
        MHD_resume_connection(c->conn);
        kick(c->srv);
    }
}

static void on_watch_event(void *arg, const uint8_t *frame, size_t len)
{
    struct web_server *s = arg;
    struct web_buf ev = { 0 };

    if (web_api_event(frame, len, &ev) != 0 || ev.failed) {
        web_buf_free(&ev);
        return;
    }
    for (struct sse_client *c = s->streams; c != NULL; c = c->next) {
        if (c->queue.len - c->sent + ev.len > STREAM_QUEUE_MAX) {
            /* A browser that does not read: end its stream; it reconnects. */
            c->closed = true;
        } else {
            web_buf_put(&c->queue, ev.data, ev.len);
        }
        stream_resume(c);
    }
    web_buf_free(&ev);
}

static void on_keepalive(uv_timer_t *t)
{
    struct web_server *s = t->data;
    uint8_t member[NB_KEY_SIZE];

    for (struct sse_client *c = s->streams; c != NULL; c = c->next) {
        /* A stream whose admission is due to be confirmed again ends; the
         * browser reconnects, and the new request asks the node. */
        if (web_session_needs_check(s->sessions, c->cookie, wall_now()) ||
            web_session_find(s->sessions, c->cookie, wall_now(), member, NULL, NULL) != 0) {
            c->closed = true;
        } else {
            web_buf_puts(&c->queue, ": keepalive\n\n");
        }
        stream_resume(c);
    }
}

static void on_watch_closed(void *arg)
{
    struct web_server *s = arg;

    s->watching = false;
    for (struct sse_client *c = s->streams; c != NULL; c = c->next) {
        c->closed = true;
        stream_resume(c);
    }
}

static void on_watch_reply(void *arg, const uint8_t *frame, size_t len)
{
    if (frame == NULL) {
        return; /* on_watch_closed ends the streams */
    }
    nbd_debug("watching the node's new records");
}

static void ensure_watch(struct web_server *s)
{
    msgpack_sbuffer req;
    struct web_plan plan;
    struct web_error err;
    struct web_input in = { .method = "GET", .path = "/api/events", .has_session = true };

    if (s->watching) {
        return;
    }
    msgpack_sbuffer_init(&req);
    if (web_api_plan(&in, web_ctl_next_id(&s->watch), &req, &plan, &err) == 0) {
        s->watching = true;
        web_ctl_call(&s->watch, req.data, req.size, on_watch_reply, s);
    }
    msgpack_sbuffer_destroy(&req);
}

static ssize_t stream_read(void *cls, uint64_t pos, char *buf, size_t max)
{
    struct sse_client *c = cls;
    size_t n = c->queue.len - c->sent;

    if (n == 0) {
        if (c->closed || c->srv->stopping) {
            return MHD_CONTENT_READER_END_OF_STREAM;
        }
        c->queue.len = c->sent = 0;
        c->suspended = true;
        MHD_suspend_connection(c->conn);
        return 0;
    }
    if (n > max) {
        n = max;
    }
    memcpy(buf, c->queue.data + c->sent, n);
    c->sent += n;
    return (ssize_t)n;
}

static void stream_free(void *cls)
{
    struct sse_client *c = cls;

    for (struct sse_client **p = &c->srv->streams; *p != NULL; p = &(*p)->next) {
        if (*p == c) {
            *p = c->next;
            break;
        }
    }
    web_buf_free(&c->queue);
    free(c);
}

static enum MHD_Result start_stream(struct web_req *q, const char *cookie)
{
    struct web_server *s = q->srv;
    struct sse_client *c;
    struct MHD_Response *r;
    enum MHD_Result ret;
    unsigned n = 0;

    for (struct sse_client *p = s->streams; p != NULL; p = p->next) {
        n++;
    }
    if (n >= STREAMS_MAX) {
        struct web_error err = { 503, "busy", "too many pages are open; try again later." };
        return reply_error(q->conn, &err);
    }
    c = calloc(1, sizeof(*c));
    if (c == NULL) {
        return MHD_NO;
    }
    c->srv = s;
    c->conn = q->conn;
    snprintf(c->cookie, sizeof(c->cookie), "%s", cookie != NULL ? cookie : "");
    /* A first comment line, so that the browser sees the stream open. */
    web_buf_puts(&c->queue, ": noaber\n\n");
    r = MHD_create_response_from_callback(MHD_SIZE_UNKNOWN, 4096, stream_read, c, stream_free);
    if (r == NULL) {
        web_buf_free(&c->queue);
        free(c);
        return MHD_NO;
    }
    c->next = s->streams;
    s->streams = c;
    secure_headers(r);
    MHD_add_response_header(r, "Content-Type", "text/event-stream");
    MHD_add_response_header(r, "Cache-Control", "no-store");
    ret = MHD_queue_response(q->conn, 200, r);
    MHD_destroy_response(r);
    ensure_watch(s);
    return ret;
}

/* ------------------------------------------------------------------------ */
/* API requests                                                              */

static void resume(struct web_req *q)
{
    q->state = REQ_READY;
    MHD_resume_connection(q->conn);
    kick(q->srv);
}

static void set_error(struct web_req *q, unsigned status, const char *code, const char *message)
{
    struct web_error err = { status, code, message };

    q->json.len = 0;
    q->status = status;
    web_json_error(&q->json, &err);
}

static void on_reply(void *arg, const uint8_t *frame, size_t len)
{
    struct web_req *q = arg;

    if (frame == NULL) {
        set_error(q, 502, "node", "the node cannot be reached; try again in a moment.");
    } else {
        web_api_reply(q->plan.route, frame, len, &q->json, &q->status);
    }
    if (q->plan.route == WEB_ROUTE_DEVICE_REVOKE && q->status == 200) {
        const char *cookie = MHD_lookup_connection_value(q->conn, MHD_COOKIE_KIND, WEB_COOKIE_NAME);
        uint8_t member[NB_KEY_SIZE];
        if (web_session_find(q->srv->sessions, cookie, wall_now(), member, NULL, NULL) == 0) {
            web_sessions_recheck_member(q->srv->sessions, member);
        }
    }
    resume(q);
}

/* The node's answer to welcome.check: a session if the member is admitted. */
static void on_admitted(void *arg, const uint8_t *frame, size_t len)
{
    struct web_req *q = arg;
    struct web_buf tmp = { 0 };
    unsigned status = 502;
    uint8_t token[WEB_TOKEN_SIZE];
    char hex[2 * WEB_TOKEN_SIZE + 1];

    if (frame == NULL) {
        set_error(q, 502, "node", "the node cannot be reached; try again in a moment.");
        goto out;
    }
    web_api_reply(q->plan.route, frame, len, &tmp, &status);
    if (status != 200) {
        q->status = status;
        q->json.len = 0;
        web_buf_put(&q->json, tmp.data, tmp.len);
        goto out;
    }
    if (web_api_admitted(frame, len) != 1) {
        set_error(q, 403, "not_admitted",
                  "this device is not welcomed on this node: ask the coordinator for a link.");
        goto out;
    }
    if (web_session_new(q->srv->sessions, q->plan.sign_in.member,
                        q->plan.sign_in.has_device_key ? q->plan.sign_in.device_key : NULL,
                        wall_now(), token) != 0) {
        set_error(q, 503, "busy", "too many sessions; try again later.");
        goto out;
    }
    sodium_bin2hex(hex, sizeof(hex), token, sizeof(token));
    snprintf(q->set_cookie, sizeof(q->set_cookie),
             WEB_COOKIE_NAME "=%s; Path=/; HttpOnly; SameSite=Strict; Max-Age=%d", hex,
             WEB_SESSION_SECONDS);
    q->status = 200;
    q->json.len = 0;
    web_buf_puts(&q->json, "{\"member\":");
    web_json_hex(&q->json, q->plan.sign_in.member, NB_KEY_SIZE);
    web_buf_puts(&q->json, "}");
    sodium_memzero(token, sizeof(token));
out:
    web_buf_free(&tmp);
    resume(q);
}

static void send_control(struct web_req *q, msgpack_sbuffer *req, web_ctl_reply_cb cb)
{
    q->state = REQ_WAITING;
    MHD_suspend_connection(q->conn);
    web_ctl_call(&q->srv->ctl, req->data, req->size, cb, q);
}

/*
 * Sign-in, second step: the node's hello says which neighbourhood the
 * challenge was signed for (the node may have joined one since noaber-web
 * started); if the signature holds, the node is asked whether the member is
 * admitted (on_admitted).
 */
static void on_hello_for_sign_in(void *arg, const uint8_t *frame, size_t len)
{
    struct web_req *q = arg;
    uint8_t nid[NB_ID_SIZE];
    msgpack_sbuffer req;

    if (frame == NULL) {
        set_error(q, 502, "node", "the node cannot be reached; try again in a moment.");
        resume(q);
        return;
    }
    if (web_api_hello_neighbourhood(frame, len, nid) != 0) {
        set_error(q, 503, "no_neighbourhood", "this node has no neighbourhood yet.");
        resume(q);
        return;
    }
    /* The member key says who signs in; the device key, which device of
     * theirs: the node admits (and revokes) each device on its own. */
    if (!web_challenge_signed(nid, q->plan.sign_in.challenge, q->plan.sign_in.member,
                              q->plan.sign_in.signature) ||
        (q->plan.sign_in.has_device_key &&
         !web_challenge_signed(nid, q->plan.sign_in.challenge, q->plan.sign_in.device_key,
                               q->plan.sign_in.device_signature))) {
        set_error(q, 403, "bad_signature", "the challenge was not signed by this member.");
        resume(q);
        return;
    }
    msgpack_sbuffer_init(&req);
    web_api_pack_check(&req, web_ctl_next_id(&q->srv->ctl), q->plan.sign_in.member,
                       q->plan.sign_in.has_device_key ? q->plan.sign_in.device_key : NULL);
    web_ctl_call(&q->srv->ctl, req.data, req.size, on_admitted, q);
    msgpack_sbuffer_destroy(&req);
}

/* The node's answer to welcome.check for a session whose admission was
 * confirmed more than WEB_RECHECK_SECONDS ago. */
static void on_recheck(void *arg, const uint8_t *frame, size_t len)
{
    struct web_req *q = arg;
    const char *cookie = MHD_lookup_connection_value(q->conn, MHD_COOKIE_KIND, WEB_COOKIE_NAME);
    int admitted = frame != NULL ? web_api_admitted(frame, len) : -1;

    if (admitted == 1) {
        web_session_checked(q->srv->sessions, cookie, wall_now());
        q->state = REQ_CHECKED;
        MHD_resume_connection(q->conn);
        kick(q->srv);
        return;
    }
    if (admitted == 0) {
        web_session_drop(q->srv->sessions, cookie);
        snprintf(q->set_cookie, sizeof(q->set_cookie), "%s", CLEAR_COOKIE);
        set_error(q, 403, "not_admitted",
                  "this device is not welcomed on this node any more: ask the coordinator for a "
                  "new link.");
    } else {
        set_error(q, 502, "node", "the node cannot be reached; try again in a moment.");
    }
    resume(q);
}

static enum MHD_Result handle_api(struct web_req *q, const char *url, const char *method)
{
    struct MHD_Connection *c = q->conn;
    struct web_server *s = q->srv;
    struct web_input in = { 0 };
    struct web_error err;
    msgpack_sbuffer req;
    const char *cookie = MHD_lookup_connection_value(c, MHD_COOKIE_KIND, WEB_COOKIE_NAME);
    enum MHD_Result ret = MHD_YES;

    in.method = method;
    in.path = url;
    in.content_type = MHD_lookup_connection_value(c, MHD_HEADER_KIND, "Content-Type");
    in.origin = MHD_lookup_connection_value(c, MHD_HEADER_KIND, "Origin");
    in.sec_fetch_site = MHD_lookup_connection_value(c, MHD_HEADER_KIND, "Sec-Fetch-Site");
    in.host = MHD_lookup_connection_value(c, MHD_HEADER_KIND, "Host");
    in.q_kind = MHD_lookup_connection_value(c, MHD_GET_ARGUMENT_KIND, "kind");
    in.q_status = MHD_lookup_connection_value(c, MHD_GET_ARGUMENT_KIND, "status");
    in.q_category = MHD_lookup_connection_value(c, MHD_GET_ARGUMENT_KIND, "category");
    in.q_area = MHD_lookup_connection_value(c, MHD_GET_ARGUMENT_KIND, "area");
    in.q_author = MHD_lookup_connection_value(c, MHD_GET_ARGUMENT_KIND, "author");
    in.q_limit = MHD_lookup_connection_value(c, MHD_GET_ARGUMENT_KIND, "limit");
    in.q_by = MHD_lookup_connection_value(c, MHD_GET_ARGUMENT_KIND, "by");
    in.q_since = MHD_lookup_connection_value(c, MHD_GET_ARGUMENT_KIND, "since");
    in.q_url = MHD_lookup_connection_value(c, MHD_GET_ARGUMENT_KIND, "url");
    in.body = q->body;
    in.body_len = q->body_len;
    in.body_too_big = q->too_big;
    in.has_session = web_session_find(s->sessions, cookie, wall_now(), in.member, in.device_key,
                                      &in.has_device_key) == 0;
    if (in.has_session && web_session_needs_check(s->sessions, cookie, wall_now())) {
        /* Asked before anything else: a revoked device reads nothing more. */
        msgpack_sbuffer_init(&req);
        web_api_pack_check(&req, web_ctl_next_id(&s->ctl), in.member,
                           in.has_device_key ? in.device_key : NULL);
        send_control(q, &req, on_recheck);
        msgpack_sbuffer_destroy(&req);
        return MHD_YES;
    }

    msgpack_sbuffer_init(&req);
    if (web_api_plan(&in, web_ctl_next_id(&s->ctl), &req, &q->plan, &err) != 0) {
        ret = reply_error(c, &err);
        goto out;
    }
    switch (q->plan.action) {
    case WEB_DO_CONTROL:
        send_control(q, &req, on_reply);
        break;
    case WEB_DO_CHALLENGE: {
        uint8_t ch[WEB_CHALLENGE_SIZE];
        struct web_buf b = { 0 };
        web_challenge_new(s->sessions, wall_now(), ch);
        web_buf_puts(&b, "{\"challenge\":");
        web_json_base64(&b, ch, sizeof(ch));
        web_buf_puts(&b, ",\"context\":\"" WEB_SESSION_CONTEXT "\"}");
        ret = reply_buf(c, 200, &b, NULL);
        web_buf_free(&b);
        break;
    }
    case WEB_DO_SIGN_IN:
        if (web_challenge_take(s->sessions, q->plan.sign_in.challenge, wall_now()) != 0) {
            err = (struct web_error){ 403, "bad_challenge",
                                      "this challenge was not given, was used, or expired." };
            ret = reply_error(c, &err);
            break;
        }
        send_control(q, &req, on_hello_for_sign_in);
        break;
    case WEB_DO_SIGN_OUT: {
        struct web_buf b = { 0 };
        web_session_drop(s->sessions, cookie);
        web_buf_puts(&b, "{}");
        ret = reply_buf(c, 200, &b, CLEAR_COOKIE);
        web_buf_free(&b);
        break;
    }
    case WEB_DO_EVENTS:
        ret = start_stream(q, cookie);
        break;
    case WEB_DO_QR:
        ret = reply_qr(c, q->plan.qr_url);
        break;
    }
out:
    msgpack_sbuffer_destroy(&req);
    return ret;
}

/* ------------------------------------------------------------------------ */
/* Static files                                                              */

static const char *content_type_of(const char *path)
{
    static const struct {
        const char *ext, *type;
    } types[] = {
        { ".html", "text/html; charset=utf-8" },
        { ".js", "text/javascript; charset=utf-8" },
        { ".mjs", "text/javascript; charset=utf-8" },
        { ".css", "text/css; charset=utf-8" },
        { ".svg", "image/svg+xml" },
        { ".png", "image/png" },
        { ".json", "application/json" },
        { ".webmanifest", "application/manifest+json" },
        { "/LICENSE", "text/plain; charset=utf-8" },
    };
    size_t n = strlen(path);

    for (size_t i = 0; i < sizeof(types) / sizeof(types[0]); i++) {
        size_t e = strlen(types[i].ext);
        if (n > e && strcmp(path + n - e, types[i].ext) == 0) {
            return types[i].type;
        }
    }
    return NULL;
}

/* Only plain names under the page directory: no "..", no hidden files. */
static bool safe_path(const char *url)
{
    size_t n = strlen(url);

    if (n == 0 || n > PATH_MAX_LEN || url[0] != '/') {
        return false;
    }
    for (size_t i = 0; i < n; i++) {
        char c = url[i];
        if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
              c == '/' || c == '.' || c == '-' || c == '_')) {
            return false;
        }
        if (c == '/' && (url[i + 1] == '.' || url[i + 1] == '/')) {
            return false;
        }
    }
    return true;
}

static bool accepts_gzip(struct MHD_Connection *c)
{
    const char *ae = MHD_lookup_connection_value(c, MHD_HEADER_KIND, "Accept-Encoding");
    return ae != NULL && strstr(ae, "gzip") != NULL;
}

static enum MHD_Result serve_file(struct web_server *s, struct MHD_Connection *c, const char *url,
                                  const char *method)
{
    char path[PATH_MAX_LEN + 512], etag[64];
    const char *type, *inm;
    struct web_error nf = { 404, "not_found", "there is no such page." };
    struct MHD_Response *r;
    struct stat st;
    bool gz = false;
    enum MHD_Result ret;
    int fd = -1;

    if (strcmp(method, "GET") != 0 && strcmp(method, "HEAD") != 0) {
        struct web_error e = { 405, "method", "this address does not take that method." };
        return reply_error(c, &e);
    }
    if (strcmp(url, "/") == 0) {
        url = "/index.html";
    }
    type = content_type_of(url);
    if (!safe_path(url) || type == NULL || strncmp(url, "/vendor/SHA256SUMS", 18) == 0) {
        return reply_error(c, &nf);
    }
    if (accepts_gzip(c) &&
        (size_t)snprintf(path, sizeof(path), "%s%s.gz", s->cfg->page_dir, url) < sizeof(path)) {
        fd = open(path, O_RDONLY | O_CLOEXEC);
        gz = fd >= 0;
    }
    if (fd < 0 &&
        (size_t)snprintf(path, sizeof(path), "%s%s", s->cfg->page_dir, url) < sizeof(path)) {
        fd = open(path, O_RDONLY | O_CLOEXEC);
    }
    if (fd < 0 || fstat(fd, &st) != 0 || !S_ISREG(st.st_mode)) {
        if (fd >= 0) {
            close(fd);
        }
        return reply_error(c, &nf);
    }
    /* The page's files change only with an upgrade: their size and time
     * make a validator, and the browser asks again each time (no-cache). */
    snprintf(etag, sizeof(etag), "\"%llx-%llx%s\"", (unsigned long long)st.st_mtime,
             (unsigned long long)st.st_size, gz ? "-gz" : "");
    inm = MHD_lookup_connection_value(c, MHD_HEADER_KIND, "If-None-Match");
    if (inm != NULL && strcmp(inm, etag) == 0) {
        close(fd);
        r = MHD_create_response_from_buffer(0, (void *)"", MHD_RESPMEM_PERSISTENT);
        if (r == NULL) {
            return MHD_NO;
        }
        secure_headers(r);
        MHD_add_response_header(r, "ETag", etag);
        MHD_add_response_header(r, "Cache-Control", "no-cache");
        ret = MHD_queue_response(c, MHD_HTTP_NOT_MODIFIED, r);
        MHD_destroy_response(r);
        return ret;
    }
    r = MHD_create_response_from_fd((size_t)st.st_size, fd);
    if (r == NULL) {
        close(fd);
        return MHD_NO;
    }
    secure_headers(r);
    MHD_add_response_header(r, "Content-Type", type);
    MHD_add_response_header(r, "Cache-Control", "no-cache");
    MHD_add_response_header(r, "ETag", etag);
    MHD_add_response_header(r, "Vary", "Accept-Encoding");
    if (gz) {
        MHD_add_response_header(r, "Content-Encoding", "gzip");
    }
    ret = MHD_queue_response(c, MHD_HTTP_OK, r);
    MHD_destroy_response(r);
    return ret;
}

/* ------------------------------------------------------------------------ */

static enum MHD_Result on_request(void *cls, struct MHD_Connection *c, const char *url,
                                  const char *method, const char *version, const char *upload_data,
                                  size_t *upload_data_size, void **con_cls)
{
    struct web_server *s = cls;
    struct web_req *q = *con_cls;
    enum MHD_Result ret;

    if (q == NULL) {
        const char *cl = MHD_lookup_connection_value(c, MHD_HEADER_KIND, "Content-Length");
        q = calloc(1, sizeof(*q));
        if (q == NULL) {
            return MHD_NO;
        }
        q->srv = s;
        q->conn = c;
        *con_cls = q;
        /* A body announced larger than the limit is refused before it is read. */
        if (cl != NULL && strtoull(cl, NULL, 10) > WEB_BODY_MAX &&
            web_route_of(url) != WEB_ROUTE_NONE) {
            q->too_big = true;
            return handle_api(q, url, method);
        }
        return MHD_YES;
    }
    if (*upload_data_size > 0) {
        if (!q->too_big && *upload_data_size <= WEB_BODY_MAX - q->body_len) {
            memcpy(q->body + q->body_len, upload_data, *upload_data_size);
            q->body_len += *upload_data_size;
        } else {
            q->too_big = true;
        }
        *upload_data_size = 0;
        return MHD_YES;
    }
    switch (q->state) {
    case REQ_BODY:
        if (web_route_of(url) == WEB_ROUTE_NONE) {
            return serve_file(s, c, url, method);
        }
        return handle_api(q, url, method);
    case REQ_WAITING:
        return MHD_YES; /* spurious: still waiting for the node */
    case REQ_CHECKED:
        q->state = REQ_BODY;
        return handle_api(q, url, method);
    case REQ_READY:
        ret = reply_buf(c, q->status, &q->json, q->set_cookie);
        return ret;
    }
    return MHD_NO;
}

static void on_completed(void *cls, struct MHD_Connection *c, void **con_cls,
                         enum MHD_RequestTerminationCode toe)
{
    struct web_req *q = *con_cls;

    if (q == NULL) {
        return;
    }
    web_ctl_cancel(&q->srv->ctl, q);
    web_buf_free(&q->json);
    sodium_memzero(q, sizeof(*q));
    free(q);
    *con_cls = NULL;
}

static int parse_listen(const char *text, struct sockaddr_storage *ss)
{
    char host[64];
    const char *colon = strrchr(text, ':');
    char *end = NULL;
    unsigned long port;
    size_t hl;

    if (colon == NULL) {
        return -1;
    }
    port = strtoul(colon + 1, &end, 10);
    if (*end != '\0' || port == 0 || port > 65535 || colon[1] < '0' || colon[1] > '9') {
        return -1;
    }
    hl = (size_t)(colon - text);
    if (hl >= sizeof(host)) {
        return -1;
    }
    memcpy(host, text, hl);
    host[hl] = '\0';
    memset(ss, 0, sizeof(*ss));
    if (hl > 2 && host[0] == '[' && host[hl - 1] == ']') {
        struct sockaddr_in6 *a6 = (struct sockaddr_in6 *)ss;
        host[hl - 1] = '\0';
        a6->sin6_family = AF_INET6;
        a6->sin6_port = htons((uint16_t)port);
        return inet_pton(AF_INET6, host + 1, &a6->sin6_addr) == 1 ? 0 : -1;
    }
    struct sockaddr_in *a4 = (struct sockaddr_in *)ss;
    a4->sin_family = AF_INET;
    a4->sin_port = htons((uint16_t)port);
    return inet_pton(AF_INET, host, &a4->sin_addr) == 1 ? 0 : -1;
}

static void mhd_log(void *cls, const char *fmt, va_list ap)
{
    char line[512];

    vsnprintf(line, sizeof(line), fmt, ap);
    line[strcspn(line, "\n")] = '\0';
    nbd_debug("http: %s", line);
}

int web_server_start(struct web_server *s, uv_loop_t *loop, const struct web_config *cfg)
{
    struct sockaddr_storage ss;
    const union MHD_DaemonInfo *info;
    unsigned flags = MHD_USE_EPOLL | MHD_ALLOW_SUSPEND_RESUME | MHD_USE_ERROR_LOG;

    s->loop = loop;
    s->cfg = cfg;
    if (parse_listen(cfg->listen, &ss) != 0) {
        nbd_error("--listen %s: not HOST:PORT with a numeric IPv4 or [IPv6] host", cfg->listen);
        return -EINVAL;
    }
    if (ss.ss_family == AF_INET6) {
        flags |= MHD_USE_IPv6;
    }
    web_ctl_init(&s->ctl, loop, cfg->control);
    web_ctl_init(&s->watch, loop, cfg->control);
    s->watch.on_event = on_watch_event;
    s->watch.on_close = on_watch_closed;
    s->watch.event_arg = s;
    s->mhd =
        MHD_start_daemon(flags, 0, NULL, NULL, on_request, s, MHD_OPTION_EXTERNAL_LOGGER, mhd_log,
                         s, MHD_OPTION_SOCK_ADDR, &ss, MHD_OPTION_CONNECTION_LIMIT,
                         (unsigned)CONNECTIONS_MAX, MHD_OPTION_CONNECTION_TIMEOUT, (unsigned)60,
                         MHD_OPTION_NOTIFY_COMPLETED, on_completed, s, MHD_OPTION_END);
    if (s->mhd == NULL) {
        nbd_error("cannot listen on %s (in use, or not an address of this machine)", cfg->listen);
        return -EADDRINUSE;
    }
    info = MHD_get_daemon_info(s->mhd, MHD_DAEMON_INFO_EPOLL_FD);
    uv_timer_init(loop, &s->timer);
    s->timer.data = s;
    uv_timer_init(loop, &s->keepalive);
    s->keepalive.data = s;
    uv_timer_start(&s->keepalive, on_keepalive, KEEPALIVE_MS, KEEPALIVE_MS);
    uv_poll_init(loop, &s->poll, info->epoll_fd);
    s->poll.data = s;
    uv_poll_start(&s->poll, UV_READABLE, on_poll);
    drive(s);
    return 0;
}

void web_server_stop(struct web_server *s)
{
    s->stopping = true;
    /* Requests waiting for the node are answered (502) and resumed first:
     * libmicrohttpd must not stop with a connection suspended. */
    web_ctl_fail_pending(&s->ctl);
    for (struct sse_client *c = s->streams; c != NULL; c = c->next) {
        c->closed = true;
        stream_resume(c);
    }
    if (s->mhd != NULL) {
        MHD_stop_daemon(s->mhd);
        s->mhd = NULL;
    }
    uv_poll_stop(&s->poll);
    uv_close((uv_handle_t *)&s->poll, NULL);
    uv_close((uv_handle_t *)&s->timer, NULL);
    uv_timer_stop(&s->keepalive);
    uv_close((uv_handle_t *)&s->keepalive, NULL);
    web_ctl_close(&s->ctl);
    web_ctl_close(&s->watch);
}
