/*
 * noaber-web's connection to noaberd's control socket (docs/control-api.md),
 * on the libuv loop: length-prefixed msgpack frames, replies matched to
 * their calls by id.  One connection carries the calls; a second one, opened
 * with `watch`, carries the node's new records to every server-sent event
 * stream.  A connection that closes fails its pending calls, and the next
 * call connects again.
 */
#ifndef NOABER_WEB_CTL_H
#define NOABER_WEB_CTL_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <msgpack.h>
#include <uv.h>

/* A reply frame (msgpack body), or frame == NULL when the connection failed. */
typedef void (*web_ctl_reply_cb)(void *arg, const uint8_t *frame, size_t len);
/* Every frame without a pending call (watch events). */
typedef void (*web_ctl_event_cb)(void *arg, const uint8_t *frame, size_t len);

struct web_ctl_call;

struct web_ctl {
    uv_loop_t *loop;
    const char *path;
    uv_pipe_t pipe;
    uv_connect_t connect;
    enum { WEB_CTL_CLOSED, WEB_CTL_CONNECTING, WEB_CTL_OPEN, WEB_CTL_CLOSING } state;
    uint8_t *in;
    size_t in_len, in_cap;
    uint64_t next_id;
    struct web_ctl_call *calls;  /* pending, oldest first */
    struct web_ctl_call *queued; /* waiting for the connection */
    web_ctl_event_cb on_event;
    void *event_arg;
    void (*on_close)(void *arg); /* the connection ended (the watch must be renewed) */
};

void web_ctl_init(struct web_ctl *c, uv_loop_t *loop, const char *path);
/* The id the next call will have: pack it into the request. */
uint64_t web_ctl_next_id(struct web_ctl *c);
/* Sends a request packed with id web_ctl_next_id(); `cb` runs exactly once. */
void web_ctl_call(struct web_ctl *c, const char *body, size_t len, web_ctl_reply_cb cb, void *arg);
/* Forgets the callback of pending calls with this arg (their HTTP request went away). */
void web_ctl_cancel(struct web_ctl *c, void *arg);
void web_ctl_close(struct web_ctl *c);
/* Runs the callback of every pending call now, without a reply (shutdown:
 * the HTTP requests waiting for them must be answered before libmicrohttpd
 * stops). */
void web_ctl_fail_pending(struct web_ctl *c);

#endif
