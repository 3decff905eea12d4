/*
 * `noaber neighbourhood create NAME`: an operator starts a neighbourhood on
 * their node.  The node makes and keeps the neighbourhood key; the client
 * only learns its public id.
 */
#include <stdio.h>
#include <string.h>

#include <noaber/error.h>

#include "client.h"

int cmd_neighbourhood_create(struct ctx *ctx, int argc, char **argv)
{
    const char *pos[1];
    struct ctl_req req;
    struct ctl_reply reply;
    uint8_t id[NB_NEIGHBOURHOOD_ID_SIZE];
    char hex[NB_NEIGHBOURHOOD_ID_SIZE * 2 + 1];
    int rc;

    rc = parse_args(ctx, argc, argv, NULL, pos, 1, 1, "neighbourhood create NAME");
    if (rc != 0) {
        return rc;
    }
    if (pos[0][0] == '\0' || strlen(pos[0]) > NB_NAME_MAX ||
        nb_utf8_check(pos[0], strlen(pos[0]), 0) != 0) {
        return fail(EXIT_USAGE, "a neighbourhood name is 1 to %d bytes of text.", NB_NAME_MAX);
    }
    rc = session_open(ctx, false);
    if (rc != EXIT_OK) {
        return rc;
    }
    ctl_req_begin(&ctx->ctl, &req, NB_CTL_OP_NEIGHBOURHOOD_CREATE, 1);
    ctl_req_str(&req, "name", pos[0]);
    rc = call_daemon(ctx, &req, &reply, "the new neighbourhood");
    if (rc != EXIT_OK) {
        return rc;
    }
    if (ctl_get_bin_exact(reply.result, "neighbourhood_id", id, sizeof(id)) != 0) {
        ctl_reply_free(&reply);
        return fail(EXIT_ERROR, "noaberd created the neighbourhood but did not say its id.");
    }
    ctl_reply_free(&reply);
    nb_hex(id, sizeof(id), hex);
    if (ctx->json) {
        json_object_begin(&ctx->j);
        json_key(&ctx->j, "name");
        json_string(&ctx->j, pos[0]);
        json_key(&ctx->j, "neighbourhood_id");
        json_string(&ctx->j, hex);
        json_object_end(&ctx->j);
        json_finish(&ctx->j);
    } else {
        printf("Created the neighbourhood \"%s\" on this node (id %.16s).\n"
               "Neighbours now make an identity with `noaber id new` and post with "
               "`noaber ask`.\n",
               pos[0], hex);
    }
    return EXIT_OK;
}
