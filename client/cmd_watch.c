/*
 * `noaber watch`: one line (or one JSON object) per record the node stores,
 * as it stores it, until the daemon goes away or the user stops it.
 */
#include <stdio.h>
#include <string.h>
#include <time.h>

#include <noaber/error.h>

#include "client.h"

static void print_event(struct ctx *ctx, const struct ctl_reply *ev)
{
    const uint8_t *bytes;
    size_t len;
    struct nb_record rec;
    uint8_t id[NB_ID_SIZE];
    char hex[NB_ID_SIZE * 2 + 1], target[NB_ID_SIZE * 2 + 1], member[NB_MEMBER_KEY_TEXT_LEN + 1];
    const char *kind;

    if (ctl_get_bin(ev->root, "record", &bytes, &len) != 0 ||
        nb_record_decode(bytes, len, &rec) != 0) {
        return;
    }
    if (ctl_get_bin_exact(ev->root, "id", id, sizeof(id)) != 0) {
        nb_record_id(bytes, len, id);
    }
    nb_hex(id, sizeof(id), hex);
    nb_member_key_to_text(rec.author, member);
    kind = nb_kind_name(rec.kind) != NULL ? nb_kind_name(rec.kind) : "record";
    if (NB_HAS(&rec, NB_F_TARGET)) {
        nb_hex(rec.target, NB_ID_SIZE, target);
    }
    if (ctx->json) {
        struct json *j = &ctx->j;
        json_object_begin(j);
        json_key(j, "event");
        json_string(j, "record");
        json_key(j, "id");
        json_string(j, hex);
        json_key(j, "kind");
        json_string(j, kind);
        json_key(j, "author");
        json_string(j, member);
        json_key(j, "created_at");
        json_uint(j, rec.created_at);
        json_key(j, "target");
        if (NB_HAS(&rec, NB_F_TARGET)) {
            json_string(j, target);
        } else {
            json_null(j);
        }
        json_key(j, "title");
        if (NB_HAS(&rec, NB_F_TITLE)) {
            json_string_n(j, rec.title.ptr, rec.title.len);
        } else {
            json_null(j);
        }
        json_object_end(j);
        json_finish(j);
    } else {
        char when[16], who[64], title[200];
        time_t t = (time_t)rec.created_at;
        struct tm tm;
        localtime_r(&t, &tm);
        strftime(when, sizeof(when), "%H:%M", &tm);
        short_member(rec.author, who, sizeof(who));
        if (NB_HAS(&rec, NB_F_TITLE)) {
            shorten(rec.title.ptr, rec.title.len, 50, title, sizeof(title));
            printf("%s  %-12s  %.8s  %s  \"%s\"\n", when, kind, hex, who, title);
        } else if (NB_HAS(&rec, NB_F_TARGET)) {
            printf("%s  %-12s  %.8s  %s  on %.8s\n", when, kind, hex, who, target);
        } else {
            printf("%s  %-12s  %.8s  %s\n", when, kind, hex, who);
        }
        fflush(stdout);
    }
}

int cmd_watch(struct ctx *ctx, int argc, char **argv)
{
    struct ctl_req req;
    struct ctl_reply reply;
    int rc;

    rc = parse_args(ctx, argc, argv, NULL, NULL, 0, 0, "watch");
    if (rc != 0) {
        return rc;
    }
    rc = session_open(ctx, false);
    if (rc != EXIT_OK) {
        return rc;
    }
    ctl_req_begin(&ctx->ctl, &req, NB_CTL_OP_WATCH, 0);
    rc = call_daemon(ctx, &req, &reply, "watching");
    if (rc != EXIT_OK) {
        return rc;
    }
    ctl_reply_free(&reply);
    ctl_no_timeout(&ctx->ctl);
    if (!ctx->json) {
        printf("Watching %s for new records; Ctrl-C stops.\n", ctx->ctl.path);
        fflush(stdout);
    }
    for (;;) {
        char event[32];
        rc = ctl_read(&ctx->ctl, &reply);
        if (rc == CTL_ECLOSED) {
            return fail(EXIT_UNREACHABLE, "noaberd at %s closed the connection (did it stop?).",
                        ctx->ctl.path);
        }
        if (rc != 0) {
            return call_failure(ctx, rc);
        }
        ctl_get_str(reply.root, "event", event, sizeof(event));
        if (strcmp(event, "record") == 0) {
            print_event(ctx, &reply);
        }
        ctl_reply_free(&reply);
    }
}
