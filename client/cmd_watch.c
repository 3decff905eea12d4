/*
 * `noaber watch`: one line (or one JSON object) per record the node stores,
 * as it stores it, until the daemon goes away or the user stops it.  The
 * filters of `list` select the requests and offers (and the records about
 * them) to show, and a member is told what concerns them: a message sealed
 * to them, a done claim waiting for their confirmation, an assignment that
 * replaced theirs.
 *
 * The events arrive on a connection of their own; the lookups each event
 * needs (the request or offer it is about) go over the session's connection,
 * so their replies never mix with the events.
 */
#include <stdio.h>
#include <string.h>
#include <time.h>

#include <noaber/error.h>

#include "client.h"

static const char watch_usage[] = "watch [--kind request|offer] [--category C] [--area A] "
                                  "[--trusted]";

/* Responses, assignments and the rest point at their root through targets. */
#define WATCH_HOPS_MAX 3

/* What an event means for the member watching, if anything. */
enum for_you {
    FOR_YOU_NOTHING,
    FOR_YOU_MESSAGE,    /* a message sealed to them */
    FOR_YOU_CONFIRM,    /* a done claim they are to confirm */
    FOR_YOU_REASSIGNED, /* they were assigned, and now someone else is */
};

static const char *const for_you_names[] = { NULL, "message", "confirm", "reassigned" };

/* One event: the record, the request or offer it is about, and what it means. */
struct event {
    struct nb_record rec;
    char hex[NB_ID_SIZE * 2 + 1];
    struct looked_up root; /* when the record is not itself the root */
    const struct nb_record *root_rec;
    uint8_t root_id[NB_ID_SIZE];
    enum for_you for_you;
};

/* Follows targets to the request or offer; false when there is none. */
static bool find_root(struct ctx *ctx, struct event *e, const uint8_t id[NB_ID_SIZE],
                      bool *ret_target_assigned_me)
{
    uint8_t next[NB_ID_SIZE];

    *ret_target_assigned_me = false;
    if (e->rec.kind == NB_KIND_REQUEST || e->rec.kind == NB_KIND_OFFER) {
        e->root_rec = &e->rec;
        memcpy(e->root_id, id, NB_ID_SIZE);
        return true;
    }
    if (!NB_HAS(&e->rec, NB_F_TARGET)) {
        return false;
    }
    memcpy(next, e->rec.target, NB_ID_SIZE);
    for (int hop = 0; hop < WATCH_HOPS_MAX; hop++) {
        if (!lookup_quiet(ctx, next, &e->root)) {
            return false;
        }
        if (hop == 0 && e->root.rec.kind == NB_KIND_ASSIGNMENT && ctx->have_key) {
            *ret_target_assigned_me = memcmp(e->root.rec.member, ctx->pk, NB_KEY_SIZE) == 0;
        }
        if (e->root.rec.kind == NB_KIND_REQUEST || e->root.rec.kind == NB_KIND_OFFER) {
            e->root_rec = &e->root.rec;
            memcpy(e->root_id, next, NB_ID_SIZE);
            return true;
        }
        if (!NB_HAS(&e->root.rec, NB_F_TARGET)) {
            break;
        }
        memcpy(next, e->root.rec.target, NB_ID_SIZE);
        looked_up_free(&e->root);
    }
    looked_up_free(&e->root);
    return false;
}

static enum for_you what_for_you(struct ctx *ctx, const struct event *e, bool target_assigned_me)
{
    bool root_mine;

    if (!ctx->have_key) {
        return FOR_YOU_NOTHING;
    }
    if (e->rec.kind == NB_KIND_MESSAGE && memcmp(e->rec.member, ctx->pk, NB_KEY_SIZE) == 0) {
        return FOR_YOU_MESSAGE;
    }
    if (e->root_rec == NULL) {
        return FOR_YOU_NOTHING;
    }
    root_mine = memcmp(e->root_rec->author, ctx->pk, NB_KEY_SIZE) == 0;
    if (e->rec.kind == NB_KIND_DONE_CLAIM &&
        (e->root_rec->kind == NB_KIND_REQUEST ? root_mine : target_assigned_me)) {
        return FOR_YOU_CONFIRM;
    }
    if (e->rec.kind == NB_KIND_ASSIGNMENT && e->root_rec->kind == NB_KIND_REQUEST &&
        memcmp(e->rec.member, ctx->pk, NB_KEY_SIZE) != 0 && !root_mine) {
        /* Whether this assignment replaced one of this member's: the
         * derived state, as `show` tells it. */
        char hex[NB_ID_SIZE * 2 + 1];
        struct root_view v;
        bool reassigned = false;
        nb_hex(e->root_id, NB_ID_SIZE, hex);
        if (root_load(ctx, hex, &v) == EXIT_OK) {
            reassigned = reassigned_from_me(ctx, &v);
            root_free(&v);
        }
        return reassigned ? FOR_YOU_REASSIGNED : FOR_YOU_NOTHING;
    }
    return FOR_YOU_NOTHING;
}

static void print_json(struct ctx *ctx, const struct event *e)
{
    struct json *j = &ctx->j;
    char member[NB_MEMBER_KEY_TEXT_LEN + 1], hex[NB_ID_SIZE * 2 + 1];
    const char *kind = nb_kind_name(e->rec.kind);

    nb_member_key_to_text(e->rec.author, member);
    json_object_begin(j);
    json_key(j, "event");
    json_string(j, "record");
    json_key(j, "id");
    json_string(j, e->hex);
    json_key(j, "kind");
    json_string(j, kind != NULL ? kind : "record");
    json_key(j, "author");
    json_string(j, member);
    json_key(j, "created_at");
    json_uint(j, e->rec.created_at);
    json_key(j, "target");
    if (NB_HAS(&e->rec, NB_F_TARGET)) {
        nb_hex(e->rec.target, NB_ID_SIZE, hex);
        json_string(j, hex);
    } else {
        json_null(j);
    }
    json_key(j, "root");
    if (e->root_rec != NULL) {
        nb_hex(e->root_id, NB_ID_SIZE, hex);
        json_string(j, hex);
    } else {
        json_null(j);
    }
    json_key(j, "title");
    if (e->root_rec != NULL && NB_HAS(e->root_rec, NB_F_TITLE)) {
        json_string_n(j, e->root_rec->title.ptr, e->root_rec->title.len);
    } else {
        json_null(j);
    }
    json_key(j, "for_you");
    if (e->for_you != FOR_YOU_NOTHING) {
        json_string(j, for_you_names[e->for_you]);
    } else {
        json_null(j);
    }
    json_object_end(j);
    json_finish(j);
}

static void print_human(struct ctx *ctx, const struct event *e)
{
    char when[16], who[64], title[200], target[NB_ID_SIZE * 2 + 1], root[NB_ID_SIZE * 2 + 1];
    const char *kind = nb_kind_name(e->rec.kind) != NULL ? nb_kind_name(e->rec.kind) : "record";
    char word[32];
    time_t t = (time_t)e->rec.created_at;
    struct tm tm;

    localtime_r(&t, &tm);
    strftime(when, sizeof(when), "%H:%M", &tm);
    short_member(e->rec.author, who, sizeof(who));
    spelled(kind, word, sizeof(word));
    nb_hex(e->root_id, NB_ID_SIZE, root);
    if (e->root_rec != NULL) {
        shorten(e->root_rec->title.ptr, e->root_rec->title.len, 50, title, sizeof(title));
    }
    if (e->root_rec == &e->rec) {
        printf("%s  %-12s  %.8s  %s  \"%s\"\n", when, word, e->hex, who, title);
    } else if (e->root_rec != NULL) {
        printf("%s  %-12s  %.8s  %s  on %.8s \"%s\"\n", when, word, e->hex, who, root, title);
    } else if (NB_HAS(&e->rec, NB_F_TARGET)) {
        nb_hex(e->rec.target, NB_ID_SIZE, target);
        printf("%s  %-12s  %.8s  %s  on %.8s\n", when, word, e->hex, who, target);
    } else {
        printf("%s  %-12s  %.8s  %s\n", when, word, e->hex, who);
    }
    switch (e->for_you) {
    case FOR_YOU_MESSAGE:
        printf("       A message sealed to you: `noaber inbox` opens it.\n");
        break;
    case FOR_YOU_CONFIRM:
        printf("       Marked done; it waits for your confirmation: `noaber confirm %.8s`.\n",
               root);
        break;
    case FOR_YOU_REASSIGNED:
        printf("       You are no longer assigned to %.8s: the requester assigned someone "
               "else.\n",
               root);
        break;
    case FOR_YOU_NOTHING:
        break;
    }
    fflush(stdout);
}

static void on_event(struct ctx *ctx, const struct list_filters *f, bool filtering,
                     const struct trust *trust, const struct ctl_reply *ev)
{
    struct event e;
    const uint8_t *bytes;
    size_t len;
    uint8_t id[NB_ID_SIZE];
    bool target_assigned_me;

    memset(&e, 0, sizeof(e));
    if (ctl_get_bin(ev->root, "record", &bytes, &len) != 0 ||
        nb_record_decode(bytes, len, &e.rec) != 0) {
        return;
    }
    if (ctl_get_bin_exact(ev->root, "id", id, sizeof(id)) != 0) {
        nb_record_id(bytes, len, id);
    }
    nb_hex(id, sizeof(id), e.hex);
    find_root(ctx, &e, id, &target_assigned_me);
    e.for_you = what_for_you(ctx, &e, target_assigned_me);
    /* A filter selects requests and offers, and what is about them; what is
     * for this member is shown whatever the filters. */
    if (filtering && e.for_you == FOR_YOU_NOTHING &&
        (e.root_rec == NULL || !list_filters_match(ctx, f, trust, e.root_rec))) {
        looked_up_free(&e.root);
        return;
    }
    if (ctx->json) {
        print_json(ctx, &e);
    } else {
        print_human(ctx, &e);
    }
    looked_up_free(&e.root);
}

int cmd_watch(struct ctx *ctx, int argc, char **argv)
{
    struct list_filters f = { 0 };
    const struct opt opts[] = {
        { "kind", &f.kind, NULL }, { "category", &f.category, NULL },
        { "area", &f.area, NULL }, { "trusted", NULL, &f.trusted },
        { NULL, NULL, NULL },
    };
    struct trust trust;
    struct ctl stream;
    struct ctl_req req;
    struct ctl_reply reply;
    bool filtering;
    int rc;

    rc = parse_args(ctx, argc, argv, opts, NULL, 0, 0, watch_usage);
    if (rc != 0) {
        return rc;
    }
    rc = list_filters_check(&f);
    if (rc != EXIT_OK) {
        return rc;
    }
    filtering = f.kind != NULL || f.category != NULL || f.area != NULL || f.trusted;
    /* Without an identity nothing is "for you", but watching works, on a
     * node without a neighbourhood too (it may be joining one). */
    rc = session_with_trust(ctx, f.trusted, false, &trust);
    if (rc != EXIT_OK) {
        return rc;
    }
    if (ctl_connect(&stream, ctx->ctl.path) != 0) {
        trust_free(&trust);
        ctl_print_unreachable(&stream);
        return EXIT_UNREACHABLE;
    }
    ctl_req_begin(&stream, &req, NB_CTL_OP_WATCH, 0);
    rc = ctl_call(&stream, &req, &reply);
    if (rc != 0) {
        rc = call_failure(ctx, rc);
        goto out;
    }
    if (!reply.ok) {
        rc = reply_failure(ctx, &reply, "watching");
        ctl_reply_free(&reply);
        goto out;
    }
    ctl_reply_free(&reply);
    ctl_no_timeout(&stream);
    if (!ctx->json) {
        printf("Watching %s for new records; Ctrl-C stops.\n", stream.path);
        fflush(stdout);
    }
    for (;;) {
        char event[32];
        rc = ctl_read(&stream, &reply);
        if (rc == CTL_ECLOSED) {
            rc = fail(EXIT_UNREACHABLE, "noaberd at %s closed the connection (did it stop?).",
                      stream.path);
            break;
        }
        if (rc != 0) {
            rc = call_failure(ctx, rc);
            break;
        }
        ctl_get_str(reply.root, "event", event, sizeof(event));
        if (strcmp(event, "record") == 0) {
            on_event(ctx, &f, filtering, &trust, &reply);
        }
        ctl_reply_free(&reply);
    }
out:
    ctl_close(&stream);
    trust_free(&trust);
    return rc;
}
