/*
 * `noaber ask` and `noaber offer`: a new request for help or a standing
 * offer, signed here with the member's key and submitted to the node.
 */
#include <stdio.h>
#include <string.h>

#include "client.h"

static const char ask_usage[] =
    "ask --title T --category C --area A [--details D] [--urgency U] [--when W]\n"
    "       [--expires DURATION] [--languages L,L] [--tags T,T]\n"
    "       [--mode in-person|remote|either] [--on-behalf-of NAME]";
static const char offer_usage[] =
    "offer --title T --category C --area A [--details D] [--urgency U] [--when W]\n"
    "       [--expires DURATION] [--languages L,L] [--tags T,T]\n"
    "       [--mode in-person|remote|either] [--on-behalf-of NAME]";

static int post(struct ctx *ctx, int argc, char **argv, uint8_t kind, const char *usage)
{
    const char *title = NULL, *category = NULL, *area = NULL, *details = NULL;
    const char *urgency = NULL, *when = NULL, *expires = NULL, *languages = NULL;
    const char *tags = NULL, *mode = NULL, *on_behalf_of = NULL;
    const struct opt opts[] = {
        { "title", &title, NULL },
        { "category", &category, NULL },
        { "area", &area, NULL },
        { "details", &details, NULL },
        { "urgency", &urgency, NULL },
        { "when", &when, NULL },
        { "expires", &expires, NULL },
        { "languages", &languages, NULL },
        { "tags", &tags, NULL },
        { "mode", &mode, NULL },
        { "on-behalf-of", &on_behalf_of, NULL },
        { NULL, NULL, NULL },
    };
    char languages_buf[NB_LANGUAGES_MAX * (NB_LANGUAGE_MAX + 2) + 64];
    char tags_buf[NB_TAGS_MAX * (NB_TAG_MAX + 2) + 64];
    const char *what = kind == NB_KIND_REQUEST ? "request" : "offer";
    struct nb_record rec;
    uint64_t lifetime = NB_EXPIRY_DEFAULT;
    int rc, v;

    rc = parse_args(ctx, argc, argv, opts, NULL, 0, 0, usage);
    if (rc != 0) {
        return rc;
    }
    {
        const char *const names[] = { "title", "category", "area" };
        const char *const values[] = { title, category, area };
        rc = missing_options(ctx, usage, names, values, 3);
    }
    if (rc == EXIT_OK) {
        rc = text_option("--title", title, 1, NB_TITLE_MAX, false);
    }
    if (rc == EXIT_OK) {
        rc = text_option("--area", area, 1, NB_AREA_MAX, false);
    }
    if (rc == EXIT_OK) {
        rc = text_option("--details", details, 0, NB_DETAILS_MAX, true);
    }
    if (rc == EXIT_OK) {
        rc = text_option("--when", when, 1, NB_WHEN_MAX, false);
    }
    if (rc == EXIT_OK) {
        rc = text_option("--on-behalf-of", on_behalf_of, 1, NB_NAME_MAX, false);
    }
    if (rc != EXIT_OK) {
        return rc;
    }

    memset(&rec, 0, sizeof(rec));
    rec.kind = kind;
    set_text(&rec.title, title);
    NB_SET(&rec, NB_F_TITLE);
    v = parse_spelled(nb_category_parse, category);
    if (v < 0) {
        return fail(EXIT_USAGE,
                    "--category: \"%s\" is not a category; use one of groceries, transport, "
                    "meals, company, paperwork, repairs, care, childcare, pets, other (and --tags "
                    "for more).",
                    category);
    }
    rec.category = (uint8_t)v;
    NB_SET(&rec, NB_F_CATEGORY);
    set_text(&rec.area, area);
    NB_SET(&rec, NB_F_AREA);
    if (details != NULL) {
        set_text(&rec.details, details);
        NB_SET(&rec, NB_F_DETAILS);
    }
    if (urgency != NULL) {
        v = parse_spelled(nb_urgency_parse, urgency);
        if (v < 0) {
            return fail(EXIT_USAGE,
                        "--urgency: \"%s\" is not an urgency; use today, this-week, "
                        "this-month or whenever.",
                        urgency);
        }
        rec.urgency = (uint8_t)v;
        NB_SET(&rec, NB_F_URGENCY);
    }
    if (when != NULL) {
        set_text(&rec.when, when);
        NB_SET(&rec, NB_F_WHEN);
    }
    if (mode != NULL) {
        v = parse_spelled(nb_mode_parse, mode);
        if (v < 0) {
            return fail(EXIT_USAGE,
                        "--mode: \"%s\" is not a mode; use in-person, remote or either.", mode);
        }
        rec.mode = (uint8_t)v;
        NB_SET(&rec, NB_F_MODE);
    }
    rc = list_option("languages", languages, LIST_LANGUAGES, languages_buf, sizeof(languages_buf),
                     rec.languages, NB_LANGUAGES_MAX, &rec.n_languages);
    if (rc == EXIT_OK) {
        rc = list_option("tags", tags, LIST_TAGS, tags_buf, sizeof(tags_buf), rec.tags, NB_TAGS_MAX,
                         &rec.n_tags);
    }
    if (rc != EXIT_OK) {
        return rc;
    }
    if (languages != NULL) {
        NB_SET(&rec, NB_F_LANGUAGES);
    }
    if (tags != NULL) {
        NB_SET(&rec, NB_F_TAGS);
    }
    if (on_behalf_of != NULL) {
        set_text(&rec.on_behalf_of, on_behalf_of);
        NB_SET(&rec, NB_F_ON_BEHALF_OF);
    }
    rc = expires_option(expires, &lifetime);
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
        rc = submit_record(ctx, &rec, human, NULL);
    }
    if (rc == EXIT_OK && !ctx->json) {
        char rel[48];
        format_relative(ctx->now, rec.expires_at, rel, sizeof(rel));
        printf("It expires %s.  Neighbours see the area \"%s\", never an address; you share\n"
               "contact details later, sealed to the helper you assign.\n",
               rel, area);
        if (kind == NB_KIND_REQUEST) {
            print_safety_hints(stdout);
        }
    }
    return rc;
}

int cmd_ask(struct ctx *ctx, int argc, char **argv)
{
    return post(ctx, argc, argv, NB_KIND_REQUEST, ask_usage);
}

int cmd_offer(struct ctx *ctx, int argc, char **argv)
{
    return post(ctx, argc, argv, NB_KIND_OFFER, offer_usage);
}
