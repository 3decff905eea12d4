/*
 * `noaber invite` and `noaber join`: how a neighbourhood grows by one node.
 *
 * A member on a node of the neighbourhood runs `noaber invite` and hands the
 * code to the operator of the new node, who runs `noaber join CODE` there.
 * The code holds the neighbourhood key, so the client says plainly that it
 * must be kept like a house key.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <sodium.h>

#include <noaber/error.h>
#include <noaber/invite.h>

#include "client.h"
#include "qr.h"

#define INVITE_DEFAULT_SECONDS (7 * 86400ull)

int cmd_invite(struct ctx *ctx, int argc, char **argv)
{
    const char *expires = NULL;
    bool qr = false;
    const struct opt opts[] = {
        { "expires", &expires, NULL },
        { "qr", NULL, &qr },
        { NULL, NULL, NULL },
    };
    uint64_t seconds = INVITE_DEFAULT_SECONDS;
    struct ctl_req req;
    struct ctl_reply reply;
    char code[NB_INVITE_TEXT_MAX + 1];
    char when[96], rel[64];
    int rc;

    rc = parse_args(ctx, argc, argv, opts, NULL, 0, 0, "invite [--expires DURATION] [--qr]");
    if (rc != 0) {
        return rc;
    }
    /* An invite lasts as long as a record may: 1 second to 90 days. */
    rc = expires_option(expires, &seconds);
    if (rc != EXIT_OK) {
        return rc;
    }
    rc = session_open(ctx, true);
    if (rc != EXIT_OK) {
        return rc;
    }
    ctl_req_begin(&ctx->ctl, &req, NB_CTL_OP_INVITE, 1);
    ctl_req_uint(&req, "expires", seconds);
    rc = call_daemon(ctx, &req, &reply, "the invite");
    if (rc != EXIT_OK) {
        return rc;
    }
    ctl_get_str(reply.result, "code", code, sizeof(code));
    uint64_t expires_at = ctl_get_uint(reply.result, "expires_at", 0);
    ctl_reply_free(&reply);
    if (strncmp(code, NB_INVITE_PREFIX, strlen(NB_INVITE_PREFIX)) != 0) {
        sodium_memzero(code, sizeof(code));
        return fail(EXIT_ERROR, "noaberd made an invite but did not send its code.");
    }
    if (ctx->json) {
        json_object_begin(&ctx->j);
        json_key(&ctx->j, "code");
        json_string(&ctx->j, code);
        json_key(&ctx->j, "expires_at");
        json_uint(&ctx->j, expires_at);
        json_object_end(&ctx->j);
        json_finish(&ctx->j);
    } else {
        format_date(expires_at, when, sizeof(when));
        format_relative(ctx->daemon_now, expires_at, rel, sizeof(rel));
        printf("An invite to the neighbourhood \"%s\", valid until %s (%s).\n"
               "\n"
               "The operator of a new node joins with `noaber join CODE` on that node.  The\n"
               "code holds the neighbourhood's key: whoever has it can join, read everything\n"
               "posted here and post in the neighbourhood.  Keep it as secret as a house key:\n"
               "give it to one person you trust, in person or over a private channel, never\n"
               "in a group chat or on the web.  A node that joined stays in the neighbourhood\n"
               "after the code expires.\n"
               "\n",
               ctx->neighbourhood, when, rel);
        if (qr) {
            printf("The same code for a phone to scan (the code is below it in text):\n\n");
            rc = qr_print_terminal(code, stdout);
            printf("\n");
        }
        /* The code alone on the last line: `noaber invite | tail -n 1`. */
        printf("%s\n", code);
        fflush(stdout);
    }
    sodium_memzero(code, sizeof(code));
    return rc;
}

/* Reads one code from standard input (so it stays out of shell history). */
static int read_code(char *buf, size_t size)
{
    size_t n = fread(buf, 1, size - 1, stdin);
    if (n == size - 1 && !feof(stdin)) {
        return -1;
    }
    buf[n] = '\0';
    return 0;
}

int cmd_join(struct ctx *ctx, int argc, char **argv)
{
    const char *pos[1];
    static char text[NB_INVITE_TEXT_MAX + 4096];
    struct nb_invite inv;
    struct ctl_req req;
    struct ctl_reply reply;
    char name[NB_NAME_MAX * 4 + 1];
    int rc, r;

    rc = parse_args(ctx, argc, argv, NULL, pos, 1, 1,
                    "join CODE   (or `join -` to read it from stdin)");
    if (rc != 0) {
        return rc;
    }
    if (strcmp(pos[0], "-") == 0) {
        if (read_code(text, sizeof(text)) != 0) {
            return fail(EXIT_USAGE, "%s.", nb_invite_problem(NB_ETOOBIG));
        }
    } else if (strlen(pos[0]) < sizeof(text)) {
        memcpy(text, pos[0], strlen(pos[0]) + 1);
    } else {
        return fail(EXIT_USAGE, "%s.", nb_invite_problem(NB_ETOOBIG));
    }
    /* Checked here first, so that a typo is explained before anything is
     * sent; the daemon checks again, and checks the expiry with its clock. */
    r = nb_invite_decode(text, strlen(text), &inv);
    sodium_memzero(&inv, sizeof(inv));
    if (r < 0) {
        sodium_memzero(text, sizeof(text));
        return fail(EXIT_USAGE, "%s.", nb_invite_problem(r));
    }
    rc = session_open(ctx, false);
    if (rc != EXIT_OK) {
        sodium_memzero(text, sizeof(text));
        return rc;
    }
    /* Only the code's own characters travel; trailing newlines stay here. */
    size_t start = strspn(text, " \t\r\n\v\f");
    size_t len = strcspn(text + start, " \t\r\n\v\f");
    text[start + len] = '\0';
    ctl_req_begin(&ctx->ctl, &req, NB_CTL_OP_JOIN, 1);
    ctl_req_str(&req, "code", text + start);
    sodium_memzero(text, sizeof(text));
    rc = call_daemon(ctx, &req, &reply, "the invite");
    if (rc != EXIT_OK) {
        return rc;
    }
    ctl_get_str(reply.result, "neighbourhood", name, sizeof(name));
    uint64_t peers = ctl_get_uint(reply.result, "peers", 0);
    bool already = ctl_get_bool(reply.result, "already", false);
    ctl_reply_free(&reply);
    if (ctx->json) {
        json_object_begin(&ctx->j);
        json_key(&ctx->j, "neighbourhood");
        json_string(&ctx->j, name);
        json_key(&ctx->j, "peers");
        json_uint(&ctx->j, peers);
        json_key(&ctx->j, "already");
        json_bool(&ctx->j, already);
        json_object_end(&ctx->j);
        json_finish(&ctx->j);
    } else if (already) {
        printf("This node already belongs to the neighbourhood \"%s\"; it now also knows the %llu "
               "address%s in the invite.\n",
               name, (unsigned long long)peers, peers == 1 ? "" : "es");
    } else if (peers == 0) {
        printf("This node joined the neighbourhood \"%s\".\n"
               "The invite names no other node: this one finds the neighbourhood's nodes on the\n"
               "local network by itself (LAN discovery), or connect it with\n"
               "`noaber peer add HOST:PORT`.\n",
               name);
    } else {
        printf("This node joined the neighbourhood \"%s\" and is connecting to the %llu node%s in "
               "the invite.\n"
               "`noaber status` says when it has caught up; `noaber peers` shows the links.\n"
               "Neighbours make an identity with `noaber id new` and post with `noaber ask`.\n",
               name, (unsigned long long)peers, peers == 1 ? "" : "s");
    }
    return EXIT_OK;
}
