/*
 * `noaber welcome`, `noaber devices` and `noaber device revoke`: how a
 * neighbour's browser is admitted to this node's page (noaber-web) and how
 * the operator takes that back.
 *
 * The welcome link carries a one-time token in its fragment (after `#`), so
 * that it reaches the neighbour's browser but never a web server's log.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <sodium.h>

#include <noaber/error.h>
#include <noaber/identity.h>

#include "client.h"
#include "qr.h"

#define WELCOME_DEFAULT_SECONDS (7 * 86400ull)
#define WELCOME_MAX_SECONDS     (90 * 86400ull)
#define WEB_DEFAULT_PORT        "7480"

#define WELCOME_USAGE                                                                              \
    "welcome [--name NAME] [--expires DURATION] [--host HOST[:PORT]|https://NAME] [--qr]\n"        \
    "        [--print FILE.html]"

/* Writes `s` with HTML's five special characters escaped. */
static void html_text(FILE *out, const char *s)
{
    for (; *s != '\0'; s++) {
        const char *entity = *s == '&'    ? "&amp;"
                             : *s == '<'  ? "&lt;"
                             : *s == '>'  ? "&gt;"
                             : *s == '"'  ? "&quot;"
                             : *s == '\'' ? "&#39;"
                                          : NULL;
        if (entity != NULL) {
            fputs(entity, out);
        } else {
            fputc(*s, out);
        }
    }
}

/*
 * Writes the printable welcome page: the link, the same link as a QR code
 * (inline SVG, so the page needs nothing from anywhere) and a few plain
 * sentences for the neighbour who gets it on paper.  The file holds the
 * token, so only its owner may read it (0600).
 */
static int print_welcome_page(const char *path, const char *name, const char *neighbourhood,
                              const char *link, uint64_t expires_at)
{
    char when[64];
    int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
    FILE *out = fd >= 0 ? fdopen(fd, "w") : NULL;
    if (out == NULL) {
        if (fd >= 0) {
            close(fd);
        }
        return fail(EXIT_ERROR, "cannot write %s: %s.", path, strerror(errno));
    }
    format_date(expires_at, when, sizeof(when));
    fputs("<!DOCTYPE html>\n<html lang=\"en\">\n<head>\n<meta charset=\"utf-8\">\n"
          "<title>Welcome to ",
          out);
    html_text(out, neighbourhood);
    fputs("</title>\n<style>\n"
          "body { font: 14pt/1.5 sans-serif; max-width: 40em; margin: 2em auto; padding: 0 1em; "
          "color: #000; background: #fff; }\n"
          "h1 { font-size: 1.6em; }\n"
          ".code { text-align: center; margin: 1.5em 0; }\n"
          ".link { font: 12pt monospace; overflow-wrap: anywhere; border: 1px solid #000; "
          "padding: 0.5em; }\n"
          "</style>\n</head>\n<body>\n<h1>Welcome",
          out);
    if (name != NULL) {
        fputs(", ", out);
        html_text(out, name);
    }
    fputs("</h1>\n<p>You are invited to the neighbourhood page of <strong>", out);
    html_text(out, neighbourhood);
    fputs("</strong>, where neighbours ask each other for help and offer it.</p>\n"
          "<p>Point your phone's camera at the square below and open the page it shows, "
          "or type the link under it into your phone's or computer's browser.</p>\n"
          "<div class=\"code\">",
          out);
    int rc = qr_write_svg(link, "7cm", out);
    fputs("</div>\n<p class=\"link\">", out);
    html_text(out, link);
    fputs("</p>\n<p>The link works once, on one phone or computer, until ", out);
    html_text(out, when);
    fputs(".  Whoever opens it first can read and post in the neighbourhood, so keep this "
          "sheet to yourself until you have used it, then tear it up.</p>\n"
          "<p>On the page you can add it to your home screen, so that it opens like an app.</p>\n"
          "</body>\n</html>\n",
          out);
    if (fclose(out) != 0 && rc == EXIT_OK) {
        rc = fail(EXIT_ERROR, "cannot write %s: %s.", path, strerror(errno));
    }
    return rc;
}

/*
 * The link's start: "https://NAME" as it was given (a TLS reverse proxy in
 * front of noaber-web), else "http://HOST:PORT" with 7480 as the port.
 */
static int link_base(const char *host, char *buf, size_t size)
{
    bool url = strncmp(host, "https://", 8) == 0 || strncmp(host, "http://", 7) == 0;
    const char *name = url ? strstr(host, "//") + 2 : host;
    size_t len = strlen(name);

    if (url && len > 0 && name[len - 1] == '/') {
        len--;
    }
    if (len == 0 || strcspn(name, "/#?@ \t") < len) {
        return fail(EXIT_USAGE, "--host takes a host name or address, optionally with :PORT, or "
                                "an address such as https://noaber.example.org.");
    }
    if (url || (strchr(name, ':') != NULL && name[0] != '[')) {
        snprintf(buf, size, "%s%.*s", url ? "" : "http://", (int)(name - host + len), host);
    } else {
        snprintf(buf, size, "http://%s:" WEB_DEFAULT_PORT, name);
    }
    return EXIT_OK;
}

int cmd_welcome(struct ctx *ctx, int argc, char **argv)
{
    const char *name = NULL, *expires = NULL, *host = NULL, *print = NULL;
    bool qr = false;
    const struct opt opts[] = { { "name", &name, NULL },   { "expires", &expires, NULL },
                                { "host", &host, NULL },   { "qr", NULL, &qr },
                                { "print", &print, NULL }, { NULL, NULL, NULL } };
    uint64_t seconds = WELCOME_DEFAULT_SECONDS;
    struct ctl_req req;
    struct ctl_reply reply;
    char token[96], hostname[256], address[300], link[512], rel[64];
    int rc;

    rc = parse_args(ctx, argc, argv, opts, NULL, 0, 0, WELCOME_USAGE);
    if (rc != 0) {
        return rc;
    }
    if (print != NULL && print[0] == '\0') {
        return fail(EXIT_USAGE, "--print takes the name of the HTML file to write.");
    }
    if (expires != NULL &&
        (parse_duration(expires, &seconds) != 0 || seconds < 1 || seconds > WELCOME_MAX_SECONDS)) {
        return fail(EXIT_USAGE,
                    "--expires takes a duration such as 90m, 12h, 3d or 2w, at most 90 days.");
    }
    if (host == NULL) {
        /* The name neighbours' phones reach this machine by, on the LAN. */
        if (gethostname(hostname, sizeof(hostname)) != 0) {
            snprintf(hostname, sizeof(hostname), "localhost");
        }
        hostname[sizeof(hostname) - 1] = '\0';
        host = hostname;
    }
    rc = link_base(host, address, sizeof(address));
    if (rc != EXIT_OK) {
        return rc;
    }
    rc = session_open(ctx, true);
    if (rc != EXIT_OK) {
        return rc;
    }
    ctl_req_begin(&ctx->ctl, &req, NB_CTL_OP_WELCOME, name != NULL ? 2 : 1);
    ctl_req_uint(&req, "expires", seconds);
    if (name != NULL) {
        ctl_req_str(&req, "name", name);
    }
    rc = call_daemon(ctx, &req, &reply, "the welcome link");
    if (rc != EXIT_OK) {
        return rc;
    }
    ctl_get_str(reply.result, "token", token, sizeof(token));
    uint64_t expires_at = ctl_get_uint(reply.result, "expires_at", 0);
    ctl_reply_free(&reply);
    if (token[0] == '\0') {
        return fail(EXIT_ERROR, "noaberd made a welcome link but did not send its token.");
    }
    snprintf(link, sizeof(link), "%s/#welcome=%s", address, token);
    if (print != NULL) {
        rc = print_welcome_page(print, name, ctx->neighbourhood, link, expires_at);
    }
    if (ctx->json) {
        json_object_begin(&ctx->j);
        json_key(&ctx->j, "link");
        json_string(&ctx->j, link);
        json_key(&ctx->j, "token");
        json_string(&ctx->j, token);
        json_key(&ctx->j, "expires_at");
        json_uint(&ctx->j, expires_at);
        json_object_end(&ctx->j);
        json_finish(&ctx->j);
    } else {
        format_relative(ctx->daemon_now, expires_at, rel, sizeof(rel));
        printf("A welcome link for %s, to be opened once, on one phone or computer (%s):\n"
               "\n"
               "    %s\n"
               "\n"
               "Whoever opens it first can read and post in \"%s\" through this node's page.\n"
               "Hand it to the person in person or in a private message.\n",
               name != NULL ? name : "a neighbour", rel, link, ctx->neighbourhood);
        if (qr && rc == EXIT_OK) {
            printf("\nThe same link for a phone to scan:\n\n");
            rc = qr_print_terminal(link, stdout);
        }
        if (print != NULL && rc == EXIT_OK) {
            printf("\nA page to print with the link and its QR code: %s\n", print);
        }
    }
    sodium_memzero(token, sizeof(token));
    sodium_memzero(link, sizeof(link));
    return rc;
}

int cmd_devices(struct ctx *ctx, int argc, char **argv)
{
    struct ctl_req req;
    struct ctl_reply reply;
    int rc;

    rc = parse_args(ctx, argc, argv, NULL, NULL, 0, 0, "devices");
    if (rc != 0) {
        return rc;
    }
    rc = session_open(ctx, false);
    if (rc != EXIT_OK) {
        return rc;
    }
    ctl_req_begin(&ctx->ctl, &req, NB_CTL_OP_DEVICES, 0);
    rc = call_daemon(ctx, &req, &reply, "the list of devices");
    if (rc != EXIT_OK) {
        return rc;
    }
    const msgpack_object *list = ctl_get(reply.result, "devices");
    if (list == NULL || list->type != MSGPACK_OBJECT_ARRAY) {
        ctl_reply_free(&reply);
        return fail(EXIT_ERROR, "noaberd's list of devices is not a list.");
    }
    if (ctx->json) {
        json_object_begin(&ctx->j);
        json_key(&ctx->j, "devices");
        json_array_begin(&ctx->j);
    } else if (list->via.array.size == 0) {
        printf("No browser has been welcomed on this node yet (`noaber welcome` makes a link).\n");
    } else {
        printf("%-4s %-20s %-20s %-8s %-10s %s\n", "ID", "NAME", "DEVICE", "KIND", "STATE",
               "MEMBER");
    }
    for (uint32_t i = 0; i < list->via.array.size; i++) {
        const msgpack_object *d = &list->via.array.ptr[i];
        uint8_t member[NB_KEY_SIZE];
        char text[NB_MEMBER_KEY_TEXT_LEN + 1], who[NB_NAME_MAX + 1], device[65], kind[16];
        if (d->type != MSGPACK_OBJECT_MAP ||
            ctl_get_bin_exact(d, "member", member, sizeof(member)) != 0) {
            continue;
        }
        nb_member_key_to_text(member, text);
        ctl_get_str(d, "name", who, sizeof(who));
        ctl_get_str(d, "device", device, sizeof(device));
        /* A browser, or a recovery card or copy of the key (`copy`); a
         * node of before kinds says none, and had browsers and cards only
         * by their label. */
        ctl_get_str(d, "kind", kind, sizeof(kind));
        if (kind[0] == '\0') {
            snprintf(kind, sizeof(kind), "%s", "browser");
        }
        uint64_t id = ctl_get_uint(d, "device_id", 0);
        const msgpack_object *rev = ctl_get(d, "revoked_at");
        bool revoked = rev != NULL && rev->type == MSGPACK_OBJECT_POSITIVE_INTEGER;
        if (ctx->json) {
            json_object_begin(&ctx->j);
            json_key(&ctx->j, "device_id");
            json_uint(&ctx->j, id);
            json_key(&ctx->j, "member");
            json_string(&ctx->j, text);
            json_key(&ctx->j, "name");
            json_string(&ctx->j, who);
            json_key(&ctx->j, "device");
            json_string(&ctx->j, device);
            json_key(&ctx->j, "kind");
            json_string(&ctx->j, kind);
            json_key(&ctx->j, "admitted_at");
            json_uint(&ctx->j, ctl_get_uint(d, "admitted_at", 0));
            json_key(&ctx->j, "revoked");
            json_bool(&ctx->j, revoked);
            json_object_end(&ctx->j);
        } else {
            printf("%-4llu %-20.20s %-20.20s %-8s %-10s %s\n", (unsigned long long)id,
                   who[0] ? who : "-", device[0] ? device : "-", kind,
                   revoked ? "revoked" : "admitted", text);
        }
    }
    if (ctx->json) {
        json_array_end(&ctx->j);
        json_object_end(&ctx->j);
        json_finish(&ctx->j);
    }
    ctl_reply_free(&reply);
    return EXIT_OK;
}

int cmd_device_revoke(struct ctx *ctx, int argc, char **argv)
{
    const char *pos[1];
    struct ctl_req req;
    struct ctl_reply reply;
    char *end = NULL;
    int rc;

    rc = parse_args(ctx, argc, argv, NULL, pos, 1, 1, "device revoke ID");
    if (rc != 0) {
        return rc;
    }
    unsigned long long id = strtoull(pos[0], &end, 10);
    if (pos[0][0] < '0' || pos[0][0] > '9' || *end != '\0') {
        return fail(EXIT_USAGE, "device revoke takes the number `noaber devices` shows.");
    }
    rc = session_open(ctx, false);
    if (rc != EXIT_OK) {
        return rc;
    }
    ctl_req_begin(&ctx->ctl, &req, NB_CTL_OP_DEVICE_REVOKE, 1);
    ctl_req_uint(&req, "device_id", id);
    rc = call_daemon(ctx, &req, &reply, "revoking the device");
    if (rc != EXIT_OK) {
        return rc;
    }
    ctl_reply_free(&reply);
    if (ctx->json) {
        json_object_begin(&ctx->j);
        json_key(&ctx->j, "device_id");
        json_uint(&ctx->j, id);
        json_object_end(&ctx->j);
        json_finish(&ctx->j);
    } else {
        printf("Device %llu is revoked: it cannot sign in to this node's page any more.\n", id);
    }
    return EXIT_OK;
}
