/*
 * `noaber welcome`, `noaber devices` and `noaber device revoke`: how a
 * neighbour's browser is admitted to this node's page (noaber-web) and how
 * the operator takes that back.
 *
 * The welcome link carries a one-time token in its fragment (after `#`), so
 * that it reaches the neighbour's browser but never a web server's log.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <sodium.h>

#include <noaber/error.h>
#include <noaber/identity.h>

#include "client.h"

#define WELCOME_DEFAULT_SECONDS (7 * 86400ull)
#define WELCOME_MAX_SECONDS     (90 * 86400ull)
#define WEB_DEFAULT_PORT        "7480"

int cmd_welcome(struct ctx *ctx, int argc, char **argv)
{
    const char *name = NULL, *expires = NULL, *host = NULL;
    const struct opt opts[] = { { "name", &name, NULL },
                                { "expires", &expires, NULL },
                                { "host", &host, NULL },
                                { NULL, NULL, NULL } };
    uint64_t seconds = WELCOME_DEFAULT_SECONDS;
    struct ctl_req req;
    struct ctl_reply reply;
    char token[96], hostname[256], address[300], link[512], rel[64];
    int rc;

    rc = parse_args(ctx, argc, argv, opts, NULL, 0, 0,
                    "welcome [--name NAME] [--expires DURATION] [--host HOST[:PORT]]");
    if (rc != 0) {
        return rc;
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
    if (host[0] == '\0' || strpbrk(host, "/#?@ \t") != NULL) {
        return fail(EXIT_USAGE, "--host takes a host name or address, optionally with :PORT.");
    }
    if (strchr(host, ':') != NULL && host[0] != '[') {
        snprintf(address, sizeof(address), "%s", host);
    } else {
        snprintf(address, sizeof(address), "%s:" WEB_DEFAULT_PORT, host);
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
    snprintf(link, sizeof(link), "http://%s/#welcome=%s", address, token);
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
    }
    sodium_memzero(token, sizeof(token));
    sodium_memzero(link, sizeof(link));
    return EXIT_OK;
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
        printf("%-4s %-20s %-20s %-10s %s\n", "ID", "NAME", "DEVICE", "STATE", "MEMBER");
    }
    for (uint32_t i = 0; i < list->via.array.size; i++) {
        const msgpack_object *d = &list->via.array.ptr[i];
        uint8_t member[NB_KEY_SIZE];
        char text[NB_MEMBER_KEY_TEXT_LEN + 1], who[NB_NAME_MAX + 1], device[65];
        if (d->type != MSGPACK_OBJECT_MAP ||
            ctl_get_bin_exact(d, "member", member, sizeof(member)) != 0) {
            continue;
        }
        nb_member_key_to_text(member, text);
        ctl_get_str(d, "name", who, sizeof(who));
        ctl_get_str(d, "device", device, sizeof(device));
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
            json_key(&ctx->j, "admitted_at");
            json_uint(&ctx->j, ctl_get_uint(d, "admitted_at", 0));
            json_key(&ctx->j, "revoked");
            json_bool(&ctx->j, revoked);
            json_object_end(&ctx->j);
        } else {
            printf("%-4llu %-20.20s %-20.20s %-10s %s\n", (unsigned long long)id,
                   who[0] ? who : "-", device[0] ? device : "-", revoked ? "revoked" : "admitted",
                   text);
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
