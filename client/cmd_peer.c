/*
 * `noaber peer add HOST:PORT`, `noaber peer remove HOST:PORT` and `noaber
 * peers`: an operator tells the node about another node, makes it forget
 * one, and sees how its links are doing.
 */
#include <stdio.h>
#include <string.h>

#include <noaber/error.h>
#include <noaber/identity.h>
#include <noaber/peerwire.h>

#include "client.h"

/* `peer add` and `peer remove`: one address to the daemon, {address} back;
 * `done` and `after` frame the address in what the operator reads. */
static int peer_address_op(struct ctx *ctx, int argc, char **argv, const char *op,
                           const char *usage, const char *done, const char *after)
{
    const char *pos[1];
    struct ctl_req req;
    struct ctl_reply reply;
    int rc;

    rc = parse_args(ctx, argc, argv, NULL, pos, 1, 1, usage);
    if (rc != 0)
        return rc;
    if (nb_peer_address_parse(pos[0], strlen(pos[0]), false, NULL, NULL) != 0)
        return fail(EXIT_USAGE,
                    "\"%s\" is not HOST:PORT (for example 192.168.1.20:7447, an IPv6 "
                    "address in brackets: [2001:db8::1]:7447).",
                    pos[0]);
    rc = session_open(ctx, false);
    if (rc != EXIT_OK)
        return rc;
    ctl_req_begin(&ctx->ctl, &req, op, 1);
    ctl_req_str(&req, "address", pos[0]);
    rc = call_daemon(ctx, &req, &reply, "the peer address");
    if (rc != EXIT_OK) {
        return rc;
    }
    ctl_reply_free(&reply);
    if (ctx->json) {
        json_object_begin(&ctx->j);
        json_key(&ctx->j, "address");
        json_string(&ctx->j, pos[0]);
        json_object_end(&ctx->j);
        json_finish(&ctx->j);
    } else {
        printf("%s %s%s", done, pos[0], after);
    }
    return EXIT_OK;
}

int cmd_peer_add(struct ctx *ctx, int argc, char **argv)
{
    return peer_address_op(ctx, argc, argv, "peer.add", "peer add HOST:PORT",
                           "The node will connect to",
                           " and keep it among its peers.\n"
                           "`noaber peers` shows how the link is doing.\n");
}

int cmd_peer_remove(struct ctx *ctx, int argc, char **argv)
{
    return peer_address_op(ctx, argc, argv, "peer.remove", "peer remove HOST:PORT",
                           "The node has forgotten",
                           " and closed its link there, if any.\n"
                           "An address from the config file comes back when noaberd restarts.\n");
}

/* "12s ago", "3m ago", "2h ago", "4d ago", or "never". */
static void ago(const msgpack_object *row, uint64_t now, char *buf, size_t size)
{
    const msgpack_object *o = ctl_get(row, "last_contact");
    if (o == NULL || o->type != MSGPACK_OBJECT_POSITIVE_INTEGER) {
        snprintf(buf, size, "never");
        return;
    }
    uint64_t t = o->via.u64;
    uint64_t d = now > t ? now - t : 0;
    if (d < 60)
        snprintf(buf, size, "%llus ago", (unsigned long long)d);
    else if (d < 3600)
        snprintf(buf, size, "%llum ago", (unsigned long long)(d / 60));
    else if (d < 86400)
        snprintf(buf, size, "%lluh ago", (unsigned long long)(d / 3600));
    else
        snprintf(buf, size, "%llud ago", (unsigned long long)(d / 86400));
}

static void json_row(struct json *j, const msgpack_object *row)
{
    static const char *const strs[] = { "address",   "source",     "state",
                                        "direction", "last_error", "reconcile" };
    static const char *const uints[] = { "last_contact",       "fetching", "records_in",
                                         "records_out",        "invalid",  "reconcile_bytes_in",
                                         "reconcile_bytes_out" };
    uint8_t node[NB_KEY_SIZE];
    char text[NB_NODE_KEY_TEXT_LEN + 1];
    char buf[NB_PEER_ADDRESS_MAX + 200];

    json_object_begin(j);
    json_key(j, "node");
    if (ctl_get_bin_exact(row, "node", node, sizeof(node)) == 0) {
        nb_node_key_to_text(node, text);
        json_string(j, text);
    } else {
        json_null(j);
    }
    for (size_t i = 0; i < sizeof(strs) / sizeof(strs[0]); i++) {
        const msgpack_object *o = ctl_get(row, strs[i]);
        json_key(j, strs[i]);
        if (o != NULL && o->type == MSGPACK_OBJECT_STR) {
            ctl_get_str(row, strs[i], buf, sizeof(buf));
            json_string(j, buf);
        } else {
            json_null(j);
        }
    }
    for (size_t i = 0; i < sizeof(uints) / sizeof(uints[0]); i++) {
        const msgpack_object *o = ctl_get(row, uints[i]);
        json_key(j, uints[i]);
        if (o != NULL && o->type == MSGPACK_OBJECT_POSITIVE_INTEGER)
            json_uint(j, o->via.u64);
        else
            json_null(j);
    }
    json_key(j, "synced");
    json_bool(j, ctl_get_bool(row, "synced", false));
    json_key(j, "silent");
    json_bool(j, ctl_get_bool(row, "silent", false));
    json_object_end(j);
}

int cmd_peers(struct ctx *ctx, int argc, char **argv)
{
    struct ctl_req req;
    struct ctl_reply reply;
    int rc;

    rc = parse_args(ctx, argc, argv, NULL, NULL, 0, 0, "peers");
    if (rc != 0)
        return rc;
    rc = session_open(ctx, false);
    if (rc != EXIT_OK)
        return rc;
    ctl_req_begin(&ctx->ctl, &req, NB_CTL_OP_PEERS, 0);
    rc = call_daemon(ctx, &req, &reply, "the peers");
    if (rc != EXIT_OK)
        return rc;
    if (reply.result == NULL || reply.result->type != MSGPACK_OBJECT_ARRAY) {
        ctl_reply_free(&reply);
        return fail(EXIT_ERROR, "noaberd's peers reply is not a list.");
    }
    const msgpack_object *rows = reply.result->via.array.ptr;
    uint32_t n = reply.result->via.array.size;
    if (ctx->json) {
        json_array_begin(&ctx->j);
        for (uint32_t i = 0; i < n; i++)
            if (rows[i].type == MSGPACK_OBJECT_MAP)
                json_row(&ctx->j, &rows[i]);
        json_array_end(&ctx->j);
        json_finish(&ctx->j);
        ctl_reply_free(&reply);
        return EXIT_OK;
    }
    if (n == 0) {
        printf("This node knows no other node yet.  Add one with `noaber peer add HOST:PORT`,\n"
               "or join a neighbourhood with an invite (`noaber join CODE`).\n");
        ctl_reply_free(&reply);
        return EXIT_OK;
    }
    printf("%-22s %-16s %-11s %-9s %-14s %7s %7s\n", "ADDRESS", "NODE", "STATE", "CONTACT", "SYNC",
           "IN", "OUT");
    for (uint32_t i = 0; i < n; i++) {
        const msgpack_object *row = &rows[i];
        char address[NB_PEER_ADDRESS_MAX + 1], state[16], direction[8], error[200];
        char node_short[20] = "-", contact[24], sync[32], mode[16];
        int node_width = 1; /* columns on screen: "…" is one column, three bytes */
        uint8_t node[NB_KEY_SIZE];
        char text[NB_NODE_KEY_TEXT_LEN + 1];
        if (row->type != MSGPACK_OBJECT_MAP)
            continue;
        ctl_get_str(row, "address", address, sizeof(address));
        ctl_get_str(row, "state", state, sizeof(state));
        ctl_get_str(row, "direction", direction, sizeof(direction));
        ctl_get_str(row, "last_error", error, sizeof(error));
        if (ctl_get_bin_exact(row, "node", node, sizeof(node)) == 0) {
            nb_node_key_to_text(node, text);
            snprintf(node_short, sizeof(node_short), "%.12s…", text);
            node_width = 13;
        }
        ago(row, ctx->daemon_now, contact, sizeof(contact));
        uint64_t fetching = ctl_get_uint(row, "fetching", 0);
        if (strcmp(state, "connected") != 0)
            snprintf(sync, sizeof(sync), "-");
        else if (ctl_get_bool(row, "silent", false))
            snprintf(sync, sizeof(sync), "silent");
        else if (fetching > 0)
            snprintf(sync, sizeof(sync), "fetching %llu", (unsigned long long)fetching);
        else if (!ctl_get_bool(row, "synced", false))
            snprintf(sync, sizeof(sync), "syncing");
        else {
            /* Which reconciliation the last round used: rateless, or
             * Negentropy (a peer without it, or a large difference). */
            ctl_get_str(row, "reconcile", mode, sizeof(mode));
            snprintf(sync, sizeof(sync), "%s",
                     strcmp(mode, "riblt") == 0 ? "synced (riblt)" : "synced");
        }
        printf("%-22s %s%*s %-11s %-9s %-14s %7llu %7llu\n", address, node_short, 16 - node_width,
               "", state, contact, sync, (unsigned long long)ctl_get_uint(row, "records_in", 0),
               (unsigned long long)ctl_get_uint(row, "records_out", 0));
        if (error[0] != '\0' && strcmp(state, "connected") != 0)
            printf("    last error: %s\n", error);
    }
    ctl_reply_free(&reply);
    return EXIT_OK;
}
