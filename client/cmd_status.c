/*
 * `noaber status`: what the node holds and whether it is in sync with its peers.
 */
#include <stdio.h>
#include <string.h>
#include <time.h>

#include <noaber/error.h>

#include "client.h"

/* Writes any reply value as JSON: bin as lowercase hex, nil as null. */
static void json_value(struct json *j, const msgpack_object *o, int depth)
{
    char hex[2 * 64 + 1];

    switch (o->type) {
    case MSGPACK_OBJECT_NIL:
        json_null(j);
        break;
    case MSGPACK_OBJECT_BOOLEAN:
        json_bool(j, o->via.boolean);
        break;
    case MSGPACK_OBJECT_POSITIVE_INTEGER:
        json_uint(j, o->via.u64);
        break;
    case MSGPACK_OBJECT_STR:
        if (nb_utf8_check(o->via.str.ptr, o->via.str.size, NB_UTF8_NEWLINE) == 0) {
            json_string_n(j, o->via.str.ptr, o->via.str.size);
        } else {
            json_null(j);
        }
        break;
    case MSGPACK_OBJECT_BIN:
        if (o->via.bin.size <= 64) {
            nb_hex((const uint8_t *)o->via.bin.ptr, o->via.bin.size, hex);
            json_string(j, hex);
        } else {
            json_null(j);
        }
        break;
    case MSGPACK_OBJECT_ARRAY:
        json_array_begin(j);
        for (uint32_t i = 0; i < o->via.array.size && depth < 8; i++) {
            json_value(j, &o->via.array.ptr[i], depth + 1);
        }
        json_array_end(j);
        break;
    case MSGPACK_OBJECT_MAP:
        json_object_begin(j);
        for (uint32_t i = 0; i < o->via.map.size && depth < 8; i++) {
            const msgpack_object *k = &o->via.map.ptr[i].key;
            char key[64];
            if (k->type != MSGPACK_OBJECT_STR || k->via.str.size >= sizeof(key)) {
                continue;
            }
            memcpy(key, k->via.str.ptr, k->via.str.size);
            key[k->via.str.size] = '\0';
            json_key(j, key);
            json_value(j, &o->via.map.ptr[i].val, depth + 1);
        }
        json_object_end(j);
        break;
    default:
        json_null(j);
    }
}

int cmd_status(struct ctx *ctx, int argc, char **argv)
{
    struct ctl_req req;
    struct ctl_reply reply;
    const msgpack_object *r;
    int rc;

    rc = parse_args(ctx, argc, argv, NULL, NULL, 0, 0, "status");
    if (rc != 0) {
        return rc;
    }
    rc = session_open(ctx, false);
    if (rc != EXIT_OK) {
        return rc;
    }
    ctl_req_begin(&ctx->ctl, &req, NB_CTL_OP_STATUS, 0);
    rc = call_daemon(ctx, &req, &reply, "the status");
    if (rc != EXIT_OK) {
        return rc;
    }
    if (reply.result == NULL || reply.result->type != MSGPACK_OBJECT_MAP) {
        ctl_reply_free(&reply);
        return fail(EXIT_ERROR, "noaberd's status reply is not a map.");
    }
    r = reply.result;
    if (ctx->json) {
        /* Every field the daemon reports, then what only the client knows. */
        json_object_begin(&ctx->j);
        for (uint32_t i = 0; i < r->via.map.size; i++) {
            const msgpack_object *k = &r->via.map.ptr[i].key;
            char key[64];
            if (k->type != MSGPACK_OBJECT_STR || k->via.str.size >= sizeof(key)) {
                continue;
            }
            memcpy(key, k->via.str.ptr, k->via.str.size);
            key[k->via.str.size] = '\0';
            if (strcmp(key, "socket") == 0) {
                continue;
            }
            json_key(&ctx->j, key);
            json_value(&ctx->j, &r->via.map.ptr[i].val, 1);
        }
        json_key(&ctx->j, "socket");
        json_string(&ctx->j, ctx->ctl.path);
        json_object_end(&ctx->j);
        json_finish(&ctx->j);
    } else {
        char name[NB_NAME_MAX * 4 + 1], dir[1024];
        uint8_t id[NB_NEIGHBOURHOOD_ID_SIZE];
        char hex[NB_NEIGHBOURHOOD_ID_SIZE * 2 + 1];
        ctl_get_str(r, "neighbourhood", name, sizeof(name));
        ctl_get_str(r, "data_dir", dir, sizeof(dir));
        if (ctl_get_bin_exact(r, "neighbourhood_id", id, sizeof(id)) == 0) {
            nb_hex(id, sizeof(id), hex);
            printf("%-15s %s (id %.16s)\n", "Neighbourhood:", name, hex);
        } else {
            printf("%-15s none yet (`noaber neighbourhood create NAME`)\n", "Neighbourhood:");
        }
        printf("%-15s %llu\n", "Records:", (unsigned long long)ctl_get_uint(r, "records", 0));
        unsigned long long peers = ctl_get_uint(r, "peers", 0);
        unsigned long long known = ctl_get_uint(r, "peers_known", 0);
        unsigned long long fetching = ctl_get_uint(r, "fetching", 0);
        unsigned long long from = ctl_get_uint(r, "fetching_from", peers);
        /* Whether the node is up to date, in words: people check this
         * after joining and after an outage. */
        if (peers == 0 && known == 0)
            printf("%-15s no peers connected (`noaber peer add HOST:PORT` or `noaber join`)\n",
                   "Peers:");
        else if (peers == 0)
            printf("%-15s no peers connected (%llu known; retrying)\n", "Peers:", known);
        else if (ctl_get_uint(r, "peers_retrying", 0) > 0) {
            char reason[256] = "";
            ctl_get_str(r, "retry_reason", reason, sizeof(reason));
            printf("%-15s not up to date: records from %llu peer%s could not be kept (%s); "
                   "fetching again\n",
                   "Peers:", (unsigned long long)ctl_get_uint(r, "peers_retrying", 0),
                   ctl_get_uint(r, "peers_retrying", 0) == 1 ? "" : "s", reason);
        } else if (ctl_get_uint(r, "peers_silent", 0) > 0)
            printf("%-15s not up to date: %llu of %llu peer%s silent for over 15 s (`noaber "
                   "peers` shows when each last answered)\n",
                   "Peers:", (unsigned long long)ctl_get_uint(r, "peers_silent", 0), peers,
                   peers == 1 ? "" : "s");
        else if (ctl_get_bool(r, "in_sync", false))
            printf("%-15s up to date with %llu peer%s\n", "Peers:", peers, peers == 1 ? "" : "s");
        else if (fetching > 0)
            printf("%-15s catching up: fetching %llu record%s from %llu peer%s\n",
                   "Peers:", fetching, fetching == 1 ? "" : "s", from, from == 1 ? "" : "s");
        else
            printf("%-15s catching up with %llu peer%s\n", "Peers:", peers, peers == 1 ? "" : "s");
        /* Members whose records the node refused for their quota lately:
         * a flood the operator may want to block. */
        const msgpack_object *over = ctl_get(r, "over_quota");
        for (uint32_t i = 0;
             over != NULL && over->type == MSGPACK_OBJECT_ARRAY && i < over->via.array.size; i++) {
            const msgpack_object *o = &over->via.array.ptr[i];
            uint8_t author[NB_KEY_SIZE];
            char member[NB_KEY_SIZE * 2 + 1], window[8];
            if (ctl_get_bin_exact(o, "author", author, sizeof(author)) < 0) {
                continue;
            }
            nb_hex(author, sizeof(author), member);
            ctl_get_str(o, "window", window, sizeof(window));
            printf("%-15s member %.16s: over %llu records in one %s, %llu refused\n",
                   i == 0 ? "Over quota:" : "", member,
                   (unsigned long long)ctl_get_uint(o, "limit", 0), window,
                   (unsigned long long)ctl_get_uint(o, "refused", 0));
        }
        const msgpack_object *wal = ctl_get(r, "store_wal_lost");
        if (wal != NULL && wal->type == MSGPACK_OBJECT_MAP) {
            char what[600] = "", kept[1024] = "";
            ctl_get_str(wal, "what", what, sizeof(what));
            ctl_get_str(wal, "kept", kept, sizeof(kept));
            printf("%-15s committed records were lost at start: the write-ahead log was damaged "
                   "(%s)%s%s; they are fetched again from peers\n",
                   "Store:", what, kept[0] != '\0' ? "; a copy is kept in " : "", kept);
        }
        char clocks[400];
        uint64_t node_now = ctl_get_uint(r, "now", 0);
        if (node_now != 0 &&
            clock_problem(ctx->now, node_now, ctl_get_uint(r, "peers_now", 0),
                          ctl_get_uint(r, "peers_clocks", 0), clocks, sizeof(clocks)) != NULL)
            printf("%-15s %s\n", "Clock:", clocks);
        if (dir[0] != '\0') {
            printf("%-15s %s\n", "Data:", dir);
        }
        printf("%-15s %s\n", "Socket:", ctx->ctl.path);
    }
    ctl_reply_free(&reply);
    return EXIT_OK;
}
