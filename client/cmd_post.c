/*
 * `noaber ask` and `noaber offer`: a new request for help or a standing
 * offer, signed here with the member's key and submitted to the node.
 */
#include <stdio.h>
#include <string.h>

#include "care.h"

static const char ask_usage[] =
    "ask --title T --category C --area A [--details D] [--urgency U] [--when W]\n"
    "       [--expires DURATION] [--languages L,L] [--tags T,T]\n"
    "       [--mode in-person|remote|either] [--on-behalf-of NAME]";
static const char offer_usage[] =
    "offer --title T --category C --area A [--details D] [--urgency U] [--when W]\n"
    "       [--expires DURATION] [--languages L,L] [--tags T,T]\n"
    "       [--mode in-person|remote|either] [--on-behalf-of NAME]";

int post_submit(struct ctx *ctx, uint8_t kind, const struct post_fields *f,
                uint8_t ret_id[NB_ID_SIZE])
{
    char languages_buf[NB_LANGUAGES_MAX * (NB_LANGUAGE_MAX + 2) + 64];
    char tags_buf[NB_TAGS_MAX * (NB_TAG_MAX + 2) + 64];
    const char *what = kind == NB_KIND_REQUEST ? "request" : "offer";
    struct nb_record rec;
    uint64_t lifetime = NB_EXPIRY_DEFAULT;
    int rc, v;

    rc = text_option("--title", f->title, 1, NB_TITLE_MAX, false);
    if (rc == EXIT_OK) {
        rc = text_option("--area", f->area, 1, NB_AREA_MAX, false);
    }
    if (rc == EXIT_OK) {
        rc = text_option("--details", f->details, 0, NB_DETAILS_MAX, true);
    }
    if (rc == EXIT_OK) {
        rc = text_option("--when", f->when, 1, NB_WHEN_MAX, false);
    }
    if (rc == EXIT_OK) {
        rc = text_option("--on-behalf-of", f->on_behalf_of, 1, NB_NAME_MAX, false);
    }
    if (rc != EXIT_OK) {
        return rc;
    }

    memset(&rec, 0, sizeof(rec));
    rec.kind = kind;
    set_text(&rec.title, f->title);
    NB_SET(&rec, NB_F_TITLE);
    v = parse_spelled(nb_category_parse, f->category);
    if (v < 0) {
        return fail(EXIT_USAGE,
                    "--category: \"%s\" is not a category; use one of groceries, transport, "
                    "meals, company, paperwork, repairs, care, childcare, pets, other (and --tags "
                    "for more).",
                    f->category);
    }
    rec.category = (uint8_t)v;
    NB_SET(&rec, NB_F_CATEGORY);
    set_text(&rec.area, f->area);
    NB_SET(&rec, NB_F_AREA);
    if (f->details != NULL) {
        set_text(&rec.details, f->details);
        NB_SET(&rec, NB_F_DETAILS);
    }
    if (f->urgency != NULL) {
        v = parse_spelled(nb_urgency_parse, f->urgency);
        if (v < 0) {
            return fail(EXIT_USAGE,
                        "--urgency: \"%s\" is not an urgency; use today, this-week, "
                        "this-month or whenever.",
                        f->urgency);
        }
        rec.urgency = (uint8_t)v;
        NB_SET(&rec, NB_F_URGENCY);
    }
    if (f->when != NULL) {
        set_text(&rec.when, f->when);
        NB_SET(&rec, NB_F_WHEN);
    }
    if (f->mode != NULL) {
        v = parse_spelled(nb_mode_parse, f->mode);
        if (v < 0) {
            return fail(EXIT_USAGE,
                        "--mode: \"%s\" is not a mode; use in-person, remote or either.", f->mode);
        }
        rec.mode = (uint8_t)v;
        NB_SET(&rec, NB_F_MODE);
    }
    rc = list_option("languages", f->languages, LIST_LANGUAGES, languages_buf,
                     sizeof(languages_buf), rec.languages, NB_LANGUAGES_MAX, &rec.n_languages);
    if (rc == EXIT_OK) {
        rc = list_option("tags", f->tags, LIST_TAGS, tags_buf, sizeof(tags_buf), rec.tags,
                         NB_TAGS_MAX, &rec.n_tags);
    }
    if (rc != EXIT_OK) {
        return rc;
    }
    if (f->languages != NULL) {
        NB_SET(&rec, NB_F_LANGUAGES);
    }
    if (f->tags != NULL) {
        NB_SET(&rec, NB_F_TAGS);
    }
    if (f->on_behalf_of != NULL) {
        set_text(&rec.on_behalf_of, f->on_behalf_of);
        NB_SET(&rec, NB_F_ON_BEHALF_OF);
    }
    rc = expires_option(f->expires, &lifetime);
    if (rc != EXIT_OK) {
        return rc;
    }
    rec.expires_at = ctx->now + lifetime;
    NB_SET(&rec, NB_F_EXPIRES_AT);

    rc = identity_load(ctx);
    if (rc == EXIT_OK) {
        rc = session_open(ctx, true);
    }
    if (rc == EXIT_OK) {
        char human[64];
        snprintf(human, sizeof(human), "Posted your %s", what);
        rc = submit_record(ctx, &rec, human, ret_id);
    }
    if (rc == EXIT_OK && !ctx->json) {
        char rel[48];
        format_relative(ctx->now, rec.expires_at, rel, sizeof(rel));
        printf("It expires %s.  Neighbours see the area \"%s\", never an address; you share\n"
               "contact details later, sealed to the helper you assign.\n",
               rel, f->area);
        if (kind == NB_KIND_REQUEST) {
            print_safety_hints(stdout);
        }
    }
    return rc;
}

static int post(struct ctx *ctx, int argc, char **argv, uint8_t kind, const char *usage)
{
    struct post_fields f;
    memset(&f, 0, sizeof(f));
    const struct opt opts[] = {
        { "title", &f.title, NULL },
        { "category", &f.category, NULL },
        { "area", &f.area, NULL },
        { "details", &f.details, NULL },
        { "urgency", &f.urgency, NULL },
        { "when", &f.when, NULL },
        { "expires", &f.expires, NULL },
        { "languages", &f.languages, NULL },
        { "tags", &f.tags, NULL },
        { "mode", &f.mode, NULL },
        { "on-behalf-of", &f.on_behalf_of, NULL },
        { NULL, NULL, NULL },
    };
    int rc = parse_args(ctx, argc, argv, opts, NULL, 0, 0, usage);
    if (rc != 0) {
        return rc;
    }
    {
        const char *const names[] = { "title", "category", "area" };
        const char *const values[] = { f.title, f.category, f.area };
        rc = missing_options(ctx, usage, names, values, 3);
    }
    if (rc != EXIT_OK) {
        return rc;
    }
    return post_submit(ctx, kind, &f, NULL);
}

int cmd_ask(struct ctx *ctx, int argc, char **argv)
{
    return post(ctx, argc, argv, NB_KIND_REQUEST, ask_usage);
}

int cmd_offer(struct ctx *ctx, int argc, char **argv)
{
    return post(ctx, argc, argv, NB_KIND_OFFER, offer_usage);
}
