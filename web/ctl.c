/*
 * noaber-web's control-socket connection (see ctl.h).
 */
#include "web/ctl.h"

#include "common/control_proto.h"

#include "proto/mp.h"

#include <stdlib.h>
#include <string.h>

struct web_ctl_call {
    struct web_ctl_call *next;
    uint64_t id;
    web_ctl_reply_cb cb;
    void *arg;
    uint8_t *frame; /* while queued: the framed request */
    size_t len;
};

struct write_req {
    uv_write_t req;
    uint8_t *data;
};

void web_ctl_init(struct web_ctl *c, uv_loop_t *loop, const char *path)
{
    memset(c, 0, sizeof(*c));
    c->loop = loop;
    c->path = path;
    c->next_id = 1;
    c->state = WEB_CTL_CLOSED;
}

uint64_t web_ctl_next_id(struct web_ctl *c)
{
    return c->next_id;
}

static void fail_all(struct web_ctl_call **list)
{
    struct web_ctl_call *call = *list;

    *list = NULL;
    while (call != NULL) {
        struct web_ctl_call *next = call->next;
        if (call->cb != NULL) {
            call->cb(call->arg, NULL, 0);
        }
        free(call->frame);
        free(call);
        call = next;
    }
}

static void on_closed(uv_handle_t *h)
{
    struct web_ctl *c = h->data;

    c->state = WEB_CTL_CLOSED;
    free(c->in);
    c->in = NULL;
    c->in_len = c->in_cap = 0;
    fail_all(&c->calls);
    fail_all(&c->queued);
    if (c->on_close != NULL) {
        c->on_close(c->event_arg);
    }
}

static void shut(struct web_ctl *c)
{
    if (c->state == WEB_CTL_OPEN || c->state == WEB_CTL_CONNECTING) {
        c->state = WEB_CTL_CLOSING;
        uv_close((uv_handle_t *)&c->pipe, on_closed);
    }
}

void web_ctl_fail_pending(struct web_ctl *c)
{
    fail_all(&c->calls);
    fail_all(&c->queued);
}

void web_ctl_close(struct web_ctl *c)
{
    shut(c);
}

static void on_written(uv_write_t *req, int status)
{
    struct write_req *w = (struct write_req *)req;
    struct web_ctl *c = req->handle->data;

    free(w->data);
    free(w);
    if (status < 0) {
        shut(c);
    }
}

static void send_frame(struct web_ctl *c, uint8_t *frame, size_t len)
{
    struct write_req *w = malloc(sizeof(*w));
    uv_buf_t buf = uv_buf_init((char *)frame, (unsigned)len);

    if (w == NULL) {
        free(frame);
        shut(c);
        return;
    }
    w->data = frame;
    if (uv_write(&w->req, (uv_stream_t *)&c->pipe, &buf, 1, on_written) != 0) {
        free(frame);
        free(w);
        shut(c);
    }
}

static void on_alloc(uv_handle_t *h, size_t suggested, uv_buf_t *buf)
{
    struct web_ctl *c = h->data;

    if (c->in_cap - c->in_len < 65536) {
        size_t cap = c->in_cap ? c->in_cap * 2 : 131072;
        uint8_t *p = realloc(c->in, cap);
        if (p == NULL) {
            *buf = uv_buf_init(NULL, 0);
            return;
        }
        c->in = p;
        c->in_cap = cap;
    }
    *buf = uv_buf_init((char *)c->in + c->in_len, (unsigned)(c->in_cap - c->in_len));
}

/* The id of a reply, read without decoding the rest: replies are maps whose
 * `id` the caller's decoder checks again. */
static int reply_id(const uint8_t *frame, size_t len, uint64_t *ret)
{
    msgpack_unpacked u;
    size_t off = 0;
    int r = -1;

    msgpack_unpacked_init(&u);
    /* The frame was checked by nb_mp_check in on_read, so unpacking it is bounded. */
    if (msgpack_unpack_next(&u, (const char *)frame, len, &off) == MSGPACK_UNPACK_SUCCESS &&
        u.data.type == MSGPACK_OBJECT_MAP) {
        for (uint32_t i = 0; i < u.data.via.map.size; i++) {
            const msgpack_object_kv *kv = &u.data.via.map.ptr[i];
            if (kv->key.type == MSGPACK_OBJECT_STR && kv->key.via.str.size == 2 &&
                memcmp(kv->key.via.str.ptr, "id", 2) == 0 &&
                kv->val.type == MSGPACK_OBJECT_POSITIVE_INTEGER) {
                *ret = kv->val.via.u64;
                r = 0;
            }
        }
    }
    msgpack_unpacked_destroy(&u);
    return r;
}

static void dispatch(struct web_ctl *c, const uint8_t *frame, size_t len)
{
    uint64_t id = 0;
    size_t end;

    if (nb_mp_check(frame, len, NB_CTL_FRAME_MAX, 16, &end) != 0 || end != len) {
        shut(c);
        return;
    }
    if (reply_id(frame, len, &id) == 0) {
        for (struct web_ctl_call **p = &c->calls; *p != NULL; p = &(*p)->next) {
            if ((*p)->id == id) {
                struct web_ctl_call *call = *p;
                *p = call->next;
                if (call->cb != NULL) {
                    call->cb(call->arg, frame, len);
                }
                free(call);
                return;
            }
        }
    }
    if (c->on_event != NULL) {
        c->on_event(c->event_arg, frame, len);
    }
}

static void on_read(uv_stream_t *s, ssize_t n, const uv_buf_t *buf)
{
    struct web_ctl *c = s->data;
    size_t off = 0;

    if (n < 0) {
        shut(c);
        return;
    }
    c->in_len += (size_t)n;
    while (c->state == WEB_CTL_OPEN && c->in_len - off >= NB_CTL_HEADER_SIZE) {
        const uint8_t *p = c->in + off;
        uint32_t len;
        if (nb_ctl_header_decode(p, &len) < 0) {
            shut(c);
            return;
        }
        if (c->in_len - off - NB_CTL_HEADER_SIZE < len) {
            break;
        }
        dispatch(c, p + NB_CTL_HEADER_SIZE, len);
        off += NB_CTL_HEADER_SIZE + (size_t)len;
    }
    if (c->state != WEB_CTL_OPEN) {
        return;
    }
    memmove(c->in, c->in + off, c->in_len - off);
    c->in_len -= off;
}

static void flush_queue(struct web_ctl *c)
{
    struct web_ctl_call *q = c->queued, **tail = &c->calls;

    c->queued = NULL;
    while (*tail != NULL) {
        tail = &(*tail)->next;
    }
    while (q != NULL) {
        struct web_ctl_call *next = q->next;
        uint8_t *frame = q->frame;
        q->frame = NULL;
        q->next = NULL;
        *tail = q;
        tail = &q->next;
        send_frame(c, frame, q->len);
        q = next;
    }
}

static void on_connect(uv_connect_t *req, int status)
{
    struct web_ctl *c = req->handle->data;

    if (c->state != WEB_CTL_CONNECTING) {
        return;
    }
    if (status < 0 || uv_read_start((uv_stream_t *)&c->pipe, on_alloc, on_read) != 0) {
        shut(c);
        return;
    }
    c->state = WEB_CTL_OPEN;
    flush_queue(c);
}

void web_ctl_call(struct web_ctl *c, const char *body, size_t len, web_ctl_reply_cb cb, void *arg)
{
    struct web_ctl_call *call = calloc(1, sizeof(*call));
    uint8_t *frame = len <= NB_CTL_FRAME_MAX ? malloc(len + NB_CTL_HEADER_SIZE) : NULL;

    if (call == NULL || frame == NULL || c->state == WEB_CTL_CLOSING) {
        free(call);
        free(frame);
        cb(arg, NULL, 0);
        return;
    }
    nb_ctl_header_encode((uint32_t)len, frame);
    memcpy(frame + NB_CTL_HEADER_SIZE, body, len);
    call->id = c->next_id++;
    call->cb = cb;
    call->arg = arg;
    call->frame = frame;
    call->len = len + NB_CTL_HEADER_SIZE;
    if (c->state == WEB_CTL_OPEN) {
        struct web_ctl_call **tail = &c->calls;
        while (*tail != NULL) {
            tail = &(*tail)->next;
        }
        *tail = call;
        call->frame = NULL;
        send_frame(c, frame, len + NB_CTL_HEADER_SIZE);
        return;
    }
    call->next = c->queued;
    c->queued = call;
    if (c->state == WEB_CTL_CLOSED) {
        uv_pipe_init(c->loop, &c->pipe, 0);
        c->pipe.data = c;
        c->state = WEB_CTL_CONNECTING;
        uv_pipe_connect(&c->connect, &c->pipe, c->path, on_connect);
    }
}

void web_ctl_cancel(struct web_ctl *c, void *arg)
{
    for (struct web_ctl_call *p = c->calls; p != NULL; p = p->next) {
        if (p->arg == arg) {
            p->cb = NULL;
        }
    }
    for (struct web_ctl_call *p = c->queued; p != NULL; p = p->next) {
        if (p->arg == arg) {
            p->cb = NULL;
        }
    }
}
