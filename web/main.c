/*
 * noaber-web: serves the page every node offers its neighbours and turns
 * its HTTP API into the member role of noaberd's control socket.  It holds
 * no secret: members' keys stay in their browsers (docs/web.md).
 */
#include "daemon/log.h"
#include "web/server.h"

#include <noaber/identity.h>

#include <getopt.h>
#include <sodium.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#ifndef NOABER_WEB_PAGE_DIR
#define NOABER_WEB_PAGE_DIR "/usr/share/noaber/web"
#endif

static const char usage[] =
    "usage: noaber-web [--listen HOST:PORT] [--control-socket PATH] [--page-dir DIR]\n"
    "                  [--log-level LEVEL]\n"
    "\n"
    "  --listen HOST:PORT     where the page is served (default 127.0.0.1:7480)\n"
    "  --control-socket PATH  noaberd's member socket (default $NOABER_MEMBER_SOCKET,\n"
    "                         else /run/noaber/noaberd-member.sock)\n"
    "  --page-dir DIR         the page's files (default " NOABER_WEB_PAGE_DIR ")\n"
    "  --log-level LEVEL      error, warn, info (default) or debug\n";

struct app {
    uv_loop_t loop;
    uv_signal_t sigterm, sigint;
    struct web_server server;
    struct web_sessions sessions;
};

static void on_signal(uv_signal_t *sig, int signum)
{
    struct app *a = sig->data;

    nbd_info("stopping (signal %d)", signum);
    uv_signal_stop(&a->sigterm);
    uv_signal_stop(&a->sigint);
    uv_close((uv_handle_t *)&a->sigterm, NULL);
    uv_close((uv_handle_t *)&a->sigint, NULL);
    web_server_stop(&a->server);
}

int main(int argc, char **argv)
{
    static const struct option opts[] = {
        { "listen", required_argument, NULL, 'l' },
        { "control-socket", required_argument, NULL, 'c' },
        { "page-dir", required_argument, NULL, 'p' },
        { "log-level", required_argument, NULL, 'L' },
        { "help", no_argument, NULL, 'h' },
        { NULL, 0, NULL, 0 },
    };
    struct web_config cfg = {
        .listen = "127.0.0.1:7480",
        /* The member socket: noaber-web holds no secret and may do no more
         * than a neighbour's program (docs/control-api.md, "Roles"). */
        .control = getenv("NOABER_MEMBER_SOCKET") ? getenv("NOABER_MEMBER_SOCKET")
                                                  : "/run/noaber/noaberd-member.sock",
        .page_dir = NOABER_WEB_PAGE_DIR,
    };
    struct app *a;
    int c, level;

    nbd_log_set_program("noaber-web");
    while ((c = getopt_long(argc, argv, "h", opts, NULL)) != -1) {
        switch (c) {
        case 'l':
            cfg.listen = optarg;
            break;
        case 'c':
            cfg.control = optarg;
            break;
        case 'p':
            cfg.page_dir = optarg;
            break;
        case 'L':
            level = nbd_log_level_parse(optarg);
            if (level < 0) {
                fprintf(stderr, "noaber-web: --log-level is error, warn, info or debug\n");
                return 2;
            }
            nbd_log_set_level((enum nbd_log_level)level);
            break;
        case 'h':
            fputs(usage, stdout);
            return 0;
        default:
            fputs(usage, stderr);
            return 2;
        }
    }
    if (optind != argc) {
        fputs(usage, stderr);
        return 2;
    }
    if (nb_init() != 0) {
        nbd_error("libsodium cannot be initialised");
        return 1;
    }
    /* A browser that goes away mid-reply must not kill the server. */
    signal(SIGPIPE, SIG_IGN);
    a = calloc(1, sizeof(*a));
    if (a == NULL) {
        return 1;
    }
    uv_loop_init(&a->loop);
    web_sessions_init(&a->sessions);
    a->server.sessions = &a->sessions;
    if (web_server_start(&a->server, &a->loop, &cfg) != 0) {
        return 1;
    }
    uv_signal_init(&a->loop, &a->sigterm);
    uv_signal_init(&a->loop, &a->sigint);
    a->sigterm.data = a->sigint.data = a;
    uv_signal_start(&a->sigterm, on_signal, SIGTERM);
    uv_signal_start(&a->sigint, on_signal, SIGINT);
    nbd_info("serving %s on http://%s/ (node: %s)", cfg.page_dir, cfg.listen, cfg.control);
    uv_run(&a->loop, UV_RUN_DEFAULT);
    uv_loop_close(&a->loop);
    sodium_memzero(&a->sessions, sizeof(a->sessions));
    free(a);
    return 0;
}
