/*
 * `noaber export --valueflows`: the open requests as ValueFlows JSON-LD
 * (docs/protocol.md, "ValueFlows"), so that tools that speak it (hREA and
 * others) can read a neighbourhood's needs.  Each request is a vf:Intent
 * whose receiver is its author and whose provider is still to be found.
 */
#include <stdio.h>
#include <string.h>
#include <time.h>

#include <noaber/identity.h>

#include "care.h"

static void json_text(struct json *j, const char *key, const struct nb_text *t)
{
    json_key(j, key);
    json_string_n(j, t->ptr, t->len);
}

static int export_intent(void *arg, const struct nb_record *rec, const uint8_t id[NB_ID_SIZE])
{
    struct json *j = arg;
    char hex[NB_ID_SIZE * 2 + 1], urn[NB_ID_SIZE * 2 + 32], member[NB_MEMBER_KEY_TEXT_LEN + 1];
    char due[32], cat[64];
    time_t t = (time_t)rec->expires_at;
    struct tm tm;

    nb_hex(id, NB_ID_SIZE, hex);
    nb_member_key_to_text(rec->author, member);
    gmtime_r(&t, &tm);
    strftime(due, sizeof(due), "%Y-%m-%dT%H:%M:%SZ", &tm);
    json_object_begin(j);
    snprintf(urn, sizeof(urn), "urn:noaber:record:%s", hex);
    json_key(j, "@id");
    json_string(j, urn);
    json_key(j, "@type");
    json_string(j, "vf:Intent");
    json_key(j, "vf:action");
    json_string(j, "deliverService");
    json_text(j, "vf:name", &rec->title);
    if (NB_HAS(rec, NB_F_DETAILS)) {
        json_text(j, "vf:note", &rec->details);
    }
    snprintf(urn, sizeof(urn), "urn:noaber:member:%s", member);
    json_key(j, "vf:receiver");
    json_string(j, urn);
    json_key(j, "vf:due");
    json_string(j, due);
    json_key(j, "vf:resourceClassifiedAs");
    json_array_begin(j);
    snprintf(cat, sizeof(cat), "noaber:category/%s", nb_category_name(rec->category));
    json_string(j, cat);
    for (size_t i = 0; i < rec->n_tags; i++) {
        json_string_n(j, rec->tags[i].ptr, rec->tags[i].len);
    }
    json_array_end(j);
    json_text(j, "vf:atLocation", &rec->area);
    json_key(j, "vf:finished");
    json_bool(j, false);
    if (NB_HAS(rec, NB_F_ON_BEHALF_OF)) {
        json_text(j, "noaber:onBehalfOf", &rec->on_behalf_of);
    }
    json_object_end(j);
    return EXIT_OK;
}

int cmd_export(struct ctx *ctx, int argc, char **argv)
{
    bool valueflows = false;
    const struct opt opts[] = {
        { "valueflows", NULL, &valueflows },
        { NULL, NULL, NULL },
    };
    int rc = parse_args(ctx, argc, argv, opts, NULL, 0, 0, "export --valueflows");
    if (rc != 0) {
        return rc;
    }
    if (!valueflows) {
        return fail(EXIT_USAGE, "export needs a format: --valueflows (JSON-LD).");
    }
    rc = session_open(ctx, true);
    if (rc != EXIT_OK) {
        return rc;
    }
    /* The JSON goes to standard output whether or not --json was given. */
    json_object_begin(&ctx->j);
    json_key(&ctx->j, "@context");
    json_object_begin(&ctx->j);
    json_key(&ctx->j, "vf");
    json_string(&ctx->j, "https://w3id.org/valueflows/ont/vf#");
    json_key(&ctx->j, "noaber");
    json_string(&ctx->j, "urn:noaber:");
    json_object_end(&ctx->j);
    json_key(&ctx->j, "@graph");
    json_array_begin(&ctx->j);
    rc = list_open(ctx, "request", "open", export_intent, &ctx->j);
    json_array_end(&ctx->j);
    json_object_end(&ctx->j);
    json_finish(&ctx->j);
    return rc;
}
