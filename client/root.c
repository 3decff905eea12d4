/*
 * Loading a request or offer with its timeline and deriving its state with
 * libnoaber, so the client shows exactly what every node would derive.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <noaber/error.h>

#include "client.h"

/* Responses, assignments and the rest point at their root through targets. */
#define TARGET_HOPS_MAX 3

int root_load(struct ctx *ctx, const char *prefix, struct root_view *ret)
{
    struct fetched cur;
    int rc;

    memset(ret, 0, sizeof(*ret));
    rc = fetch_record(ctx, prefix, &cur);
    if (rc != EXIT_OK) {
        return rc;
    }
    for (int hop = 0; cur.rec.kind != NB_KIND_REQUEST && cur.rec.kind != NB_KIND_OFFER; hop++) {
        char target[NB_ID_SIZE * 2 + 1];
        struct fetched next;

        if (!NB_HAS(&cur.rec, NB_F_TARGET) || hop == TARGET_HOPS_MAX) {
            rc = fail(EXIT_ERROR, "%.8s is a %s, not a request or an offer.", cur.hex,
                      kind_words(cur.rec.kind));
            fetched_free(&cur);
            goto fail;
        }
        nb_hex(cur.rec.target, NB_ID_SIZE, target);
        rc = fetch_record(ctx, target, &next);
        if (rc != EXIT_OK) {
            fetched_free(&cur);
            goto fail;
        }
        /* Keep the record the user named; intermediate hops are not needed. */
        if (!ret->has_given) {
            ret->given = cur;
            ret->has_given = true;
        } else {
            fetched_free(&cur);
        }
        cur = next;
    }
    ret->root = cur;

    ret->n_related = ret->root.ntimeline;
    ret->related = calloc(ret->n_related + 1, sizeof(*ret->related));
    ret->related_ids = calloc(ret->n_related + 1, sizeof(*ret->related_ids));
    if (ret->related == NULL || ret->related_ids == NULL) {
        rc = fail(EXIT_ERROR, "out of memory.");
        goto fail;
    }
    ret->n_related = 0;
    for (size_t i = 0; i < ret->root.ntimeline; i++) {
        if (timeline_record(&ret->root, i, &ret->related[ret->n_related],
                            ret->related_ids[ret->n_related]) == 0) {
            ret->n_related++;
        }
    }
    rc = nb_state_derive(&ret->root.rec, ret->root.id, ret->related,
                         (const uint8_t(*)[NB_ID_SIZE])ret->related_ids, ret->n_related,
                         ctx->daemon_now != 0 ? ctx->daemon_now : ctx->now, &ret->st);
    if (rc != 0) {
        rc = fail(EXIT_ERROR, "the state of %.8s cannot be derived: %s.", ret->root.hex,
                  nb_strerror(rc));
        goto fail;
    }
    return EXIT_OK;
fail:
    root_free(ret);
    return rc;
}

void root_free(struct root_view *v)
{
    nb_state_free(&v->st);
    free(v->related);
    free(v->related_ids);
    fetched_free(&v->root);
    if (v->has_given) {
        fetched_free(&v->given);
    }
    memset(v, 0, sizeof(*v));
}

const struct nb_record *root_find(const struct root_view *v, const uint8_t id[NB_ID_SIZE])
{
    for (size_t i = 0; i < v->n_related; i++) {
        if (memcmp(v->related_ids[i], id, NB_ID_SIZE) == 0) {
            return &v->related[i];
        }
    }
    return NULL;
}

bool lookup_quiet(struct ctx *ctx, const uint8_t id[NB_ID_SIZE], struct looked_up *ret)
{
    struct ctl_req req;
    const uint8_t *bytes;
    size_t len;

    memset(ret, 0, sizeof(*ret));
    ctl_req_begin(&ctx->ctl, &req, NB_CTL_OP_GET, 1);
    ctl_req_bin(&req, "record_id", id, NB_ID_SIZE);
    if (ctl_call(&ctx->ctl, &req, &ret->reply) != 0) {
        return false;
    }
    ret->ok = ret->reply.ok && ctl_get_bin(ret->reply.result, "record", &bytes, &len) == 0 &&
              nb_record_decode(bytes, len, &ret->rec) == 0;
    if (!ret->ok) {
        ctl_reply_free(&ret->reply);
    }
    return ret->ok;
}

void looked_up_free(struct looked_up *l)
{
    if (l->ok) {
        ctl_reply_free(&l->reply);
    }
    l->ok = false;
}

int ambiguous_failure(struct ctx *ctx, const struct ctl_reply *reply, const char *prefix)
{
    const msgpack_object *matches = ctl_get(reply->root, "matches");
    uint32_t n =
        matches != NULL && matches->type == MSGPACK_OBJECT_ARRAY ? matches->via.array.size : 0;

    fail(EXIT_USAGE, "several records start with %s; type more digits of the one you mean%s",
         prefix, n > 0 ? ":" : ".");
    for (uint32_t i = 0; i < n; i++) {
        const msgpack_object *m = &matches->via.array.ptr[i];
        char hex[NB_ID_SIZE * 2 + 1], title[200];
        struct looked_up l;
        const char *kind;

        if (m->type != MSGPACK_OBJECT_BIN || m->via.bin.size != NB_ID_SIZE) {
            continue;
        }
        nb_hex((const uint8_t *)m->via.bin.ptr, NB_ID_SIZE, hex);
        if (!lookup_quiet(ctx, (const uint8_t *)m->via.bin.ptr, &l)) {
            fprintf(stderr, "  %.16s\n", hex);
            continue;
        }
        kind = kind_words(l.rec.kind);
        if (NB_HAS(&l.rec, NB_F_TITLE)) {
            shorten(l.rec.title.ptr, l.rec.title.len, 40, title, sizeof(title));
            fprintf(stderr, "  %.16s  %s \"%s\"\n", hex, kind, title);
        } else {
            fprintf(stderr, "  %.16s  %s\n", hex, kind);
        }
        looked_up_free(&l);
    }
    return EXIT_USAGE;
}

int call_list(struct ctx *ctx, struct ctl_req *req, struct ctl_reply *ret, const char *what,
              const msgpack_object **ret_items)
{
    const msgpack_object *items;
    int rc = call_daemon(ctx, req, ret, what);

    if (rc != EXIT_OK) {
        return rc;
    }
    items = ctl_get(ret->result, "items");
    if (items == NULL || items->type != MSGPACK_OBJECT_ARRAY) {
        ctl_reply_free(ret);
        return fail(EXIT_ERROR, "noaberd's list reply has no items.");
    }
    *ret_items = items;
    return EXIT_OK;
}

int session_with_trust(struct ctx *ctx, bool need_key, bool need_neighbourhood, struct trust *ret)
{
    int rc = EXIT_OK;

    if (need_key) {
        rc = identity_load(ctx);
    } else {
        /* Without an identity nobody is trusted, but reading works. */
        identity_try_load(ctx);
    }
    if (rc == EXIT_OK) {
        rc = session_open(ctx, need_neighbourhood);
    }
    if (rc == EXIT_OK) {
        rc = trust_load(ctx, ret);
    }
    return rc;
}
