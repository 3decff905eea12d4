/*
 * `noaber block MEMBER`, `noaber unblock MEMBER` and `noaber blocked`: the
 * node's operator keeps a member's records off this node.  Blocking is the
 * node's alone; other nodes keep what they hold.
 */
#include <stdio.h>
#include <string.h>
#include <time.h>

#include <noaber/identity.h>

#include "client.h"

/* Parses MEMBER; prints a usage error and returns EXIT_USAGE if it is not a key. */
static int member_arg(const char *text, uint8_t member[NB_KEY_SIZE])
{
    if (nb_member_key_from_text(text, member) != 0)
        return fail(EXIT_USAGE,
                    "\"%s\" is not a member key; it starts with nbm1 (`noaber show ID` and "
                    "`noaber list --json` show the authors of records).",
                    text);
    return EXIT_OK;
}

/* Sends `op` with the member and returns the reply; an exit code on failure. */
static int member_call(struct ctx *ctx, const char *op, const uint8_t member[NB_KEY_SIZE],
                       struct ctl_reply *ret)
{
    struct ctl_req req;
    int rc = session_open(ctx, false);
    if (rc != EXIT_OK)
        return rc;
    ctl_req_begin(&ctx->ctl, &req, op, 1);
    ctl_req_bin(&req, "member", member, NB_KEY_SIZE);
    rc = ctl_call(&ctx->ctl, &req, ret);
    if (rc != 0)
        return call_failure(ctx, rc);
    return EXIT_OK;
}

static void json_member_result(struct ctx *ctx, const char *text, bool has_deleted,
                               uint64_t deleted)
{
    json_object_begin(&ctx->j);
    json_key(&ctx->j, "member");
    json_string(&ctx->j, text);
    if (has_deleted) {
        json_key(&ctx->j, "deleted");
        json_uint(&ctx->j, deleted);
    }
    json_object_end(&ctx->j);
    json_finish(&ctx->j);
}

int cmd_block(struct ctx *ctx, int argc, char **argv)
{
    const char *pos[1];
    uint8_t member[NB_KEY_SIZE];
    struct ctl_reply reply;
    int rc;

    rc = parse_args(ctx, argc, argv, NULL, pos, 1, 1, "block MEMBER");
    if (rc != 0)
        return rc;
    rc = member_arg(pos[0], member);
    if (rc != EXIT_OK)
        return rc;
    rc = member_call(ctx, NB_CTL_OP_BLOCK, member, &reply);
    if (rc != EXIT_OK)
        return rc;
    if (!reply.ok) {
        rc = reply_failure(ctx, &reply, "the block");
        ctl_reply_free(&reply);
        return rc;
    }
    uint64_t deleted = reply.result != NULL ? ctl_get_uint(reply.result, "deleted", 0) : 0;
    ctl_reply_free(&reply);
    if (ctx->json) {
        json_member_result(ctx, pos[0], true, deleted);
        return EXIT_OK;
    }
    printf("Blocked %s on this node.\n"
           "%llu record%s deleted: the member's own and everything that acted on them.\n"
           "This node now refuses the member's records, from their device or from other nodes.\n"
           "Other nodes are not told: they keep what they hold.\n",
           pos[0], (unsigned long long)deleted, deleted == 1 ? " was" : "s were");
    return EXIT_OK;
}

int cmd_unblock(struct ctx *ctx, int argc, char **argv)
{
    const char *pos[1];
    uint8_t member[NB_KEY_SIZE];
    struct ctl_reply reply;
    int rc;

    rc = parse_args(ctx, argc, argv, NULL, pos, 1, 1, "unblock MEMBER");
    if (rc != 0)
        return rc;
    rc = member_arg(pos[0], member);
    if (rc != EXIT_OK)
        return rc;
    rc = member_call(ctx, NB_CTL_OP_UNBLOCK, member, &reply);
    if (rc != EXIT_OK)
        return rc;
    if (!reply.ok) {
        if (reply.error == NB_CTL_E_NOT_FOUND)
            rc = fail(EXIT_ERROR, "%s is not blocked on this node (`noaber blocked` lists who is).",
                      pos[0]);
        else
            rc = reply_failure(ctx, &reply, "the unblock");
        ctl_reply_free(&reply);
        return rc;
    }
    ctl_reply_free(&reply);
    if (ctx->json) {
        json_member_result(ctx, pos[0], false, 0);
        return EXIT_OK;
    }
    printf("Unblocked %s: this node accepts the member's new records again.\n"
           "What was deleted when they were blocked stays deleted; it does not come back.\n",
           pos[0]);
    return EXIT_OK;
}

/* "2026-11-29 06:15", local time, or the number if it cannot be shown. */
static void when(uint64_t t, char *buf, size_t size)
{
    time_t tt = (time_t)t;
    struct tm tm;
    if (localtime_r(&tt, &tm) == NULL || strftime(buf, size, "%Y-%m-%d %H:%M", &tm) == 0)
        snprintf(buf, size, "%llu", (unsigned long long)t);
}

int cmd_blocked(struct ctx *ctx, int argc, char **argv)
{
    struct ctl_req req;
    struct ctl_reply reply;
    int rc;

    rc = parse_args(ctx, argc, argv, NULL, NULL, 0, 0, "blocked");
    if (rc != 0)
        return rc;
    rc = session_open(ctx, false);
    if (rc != EXIT_OK)
        return rc;
    ctl_req_begin(&ctx->ctl, &req, NB_CTL_OP_BLOCKED, 0);
    rc = ctl_call(&ctx->ctl, &req, &reply);
    if (rc != 0)
        return call_failure(ctx, rc);
    if (!reply.ok) {
        rc = reply_failure(ctx, &reply, "the block list");
        ctl_reply_free(&reply);
        return rc;
    }
    const msgpack_object *members = reply.result != NULL ? ctl_get(reply.result, "members") : NULL;
    if (members == NULL || members->type != MSGPACK_OBJECT_ARRAY) {
        ctl_reply_free(&reply);
        return fail(EXIT_ERROR, "noaberd's block list reply is not a list.");
    }
    const msgpack_object *rows = members->via.array.ptr;
    uint32_t n = members->via.array.size;
    if (ctx->json) {
        json_object_begin(&ctx->j);
        json_key(&ctx->j, "members");
        json_array_begin(&ctx->j);
    } else if (n == 0) {
        printf("No member is blocked on this node.\n");
    } else {
        printf("%-62s %s\n", "MEMBER", "BLOCKED SINCE");
    }
    for (uint32_t i = 0; i < n; i++) {
        uint8_t member[NB_KEY_SIZE];
        char text[NB_MEMBER_KEY_TEXT_LEN + 1];
        char since[32];
        if (rows[i].type != MSGPACK_OBJECT_MAP ||
            ctl_get_bin_exact(&rows[i], "member", member, sizeof(member)) != 0)
            continue;
        nb_member_key_to_text(member, text);
        uint64_t t = ctl_get_uint(&rows[i], "since", 0);
        if (ctx->json) {
            json_object_begin(&ctx->j);
            json_key(&ctx->j, "member");
            json_string(&ctx->j, text);
            json_key(&ctx->j, "since");
            json_uint(&ctx->j, t);
            json_object_end(&ctx->j);
        } else {
            when(t, since, sizeof(since));
            printf("%-62s %s\n", text, since);
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
