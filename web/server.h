/*
 * noaber-web's HTTP server: libmicrohttpd in external polling mode (its
 * epoll descriptor watched by a uv_poll, its timeout by a uv_timer) on the
 * libuv loop that also carries the control connections.  Requests that need
 * the node are suspended until the node replies.
 */
#ifndef NOABER_WEB_SERVER_H
#define NOABER_WEB_SERVER_H

#include <stdbool.h>
#include <stdint.h>

#include <uv.h>

#include "web/ctl.h"
#include "web/session.h"

struct web_config {
    const char *listen;   /* HOST:PORT */
    const char *control;  /* the control socket (member role) */
    const char *page_dir; /* the page's files, with their .gz twins */
};

struct sse_client;

struct web_server {
    uv_loop_t *loop;
    const struct web_config *cfg;
    struct MHD_Daemon *mhd;
    uv_poll_t poll;
    uv_timer_t timer;
    uv_timer_t keepalive; /* a comment line on every event stream, now and then */
    struct web_ctl ctl;   /* calls */
    struct web_ctl watch; /* the node's new records, for every event stream */
    bool watching;
    struct sse_client *streams;
    struct web_sessions *sessions;
    bool stopping;
};

/* Listens and serves; 0 or a negative errno-style code (the log says why). */
int web_server_start(struct web_server *s, uv_loop_t *loop, const struct web_config *cfg);
/* Closes every connection and handle; the loop then ends. */
void web_server_stop(struct web_server *s);

#endif
