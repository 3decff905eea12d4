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

/*
 * Splits a comma list in place into `out`; empty items are skipped.  Returns
 * the count, or -1 when there are more than `max` items.
 */
static int split_list(char *list, struct nb_text *out, size_t max)
{
    size_t n = 0;
    char *save = NULL;

    for (char *item = strtok_r(list, ",", &save); item != NULL; item = strtok_r(NULL, ",", &save)) {
        while (*item == ' ') {
            item++;
        }
        size_t len = strlen(item);
        while (len > 0 && item[len - 1] == ' ') {
            item[--len] = '\0';
        }
        if (len == 0) {
            continue;
        }
        if (n == max) {
            return -1;
        }
        set_text(&out[n++], item);
    }
    return (int)n;
}

/*
 * The record's own check names no field; this one says which option is too
 * long or empty, before anything is signed.
 */
static int check_length(const char *option, const char *value, size_t min, size_t max)
{
    size_t n = value != NULL ? strlen(value) : min;

    if (n >= min && n <= max) {
        return EXIT_OK;
    }
    if (min == 0) {
        return fail(EXIT_USAGE, "--%s takes at most %zu bytes of text; this one has %zu.", option,
                    max, n);
    }
    return fail(EXIT_USAGE, "--%s takes %zu to %zu bytes of text; this one has %zu.", option, min,
                max, n);
}

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
    if (title == NULL || category == NULL || area == NULL) {
        fail(EXIT_USAGE, "%s needs --title, --category and --area.", ctx->command);
        fprintf(stderr, "usage: noaber %s\n", usage);
        return EXIT_USAGE;
    }
    rc = check_length("title", title, 1, NB_TITLE_MAX);
    if (rc == EXIT_OK) {
        rc = check_length("area", area, 1, NB_AREA_MAX);
    }
    if (rc == EXIT_OK) {
        rc = check_length("details", details, 0, NB_DETAILS_MAX);
    }
    if (rc == EXIT_OK) {
        rc = check_length("when", when, 1, NB_WHEN_MAX);
    }
    if (rc == EXIT_OK) {
        rc = check_length("on-behalf-of", on_behalf_of, 1, NB_NAME_MAX);
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
                    "unknown category \"%s\"; use one of groceries, transport, meals, company, "
                    "paperwork, repairs, care, childcare, pets, other (and --tags for more).",
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
                        "unknown urgency \"%s\"; use today, this-week, this-month or whenever.",
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
            return fail(EXIT_USAGE, "unknown mode \"%s\"; use in-person, remote or either.", mode);
        }
        rec.mode = (uint8_t)v;
        NB_SET(&rec, NB_F_MODE);
    }
    if (languages != NULL) {
        snprintf(languages_buf, sizeof(languages_buf), "%s", languages);
        v = split_list(languages_buf, rec.languages, NB_LANGUAGES_MAX);
        if (v < 0 || strlen(languages) >= sizeof(languages_buf)) {
            return fail(EXIT_USAGE, "--languages takes at most %d languages, like nl,fr,en.",
                        NB_LANGUAGES_MAX);
        }
        rec.n_languages = (uint8_t)v;
        NB_SET(&rec, NB_F_LANGUAGES);
    }
    if (tags != NULL) {
        snprintf(tags_buf, sizeof(tags_buf), "%s", tags);
        v = split_list(tags_buf, rec.tags, NB_TAGS_MAX);
        if (v < 0 || strlen(tags) >= sizeof(tags_buf)) {
            return fail(EXIT_USAGE, "--tags takes at most %d tags of up to %d bytes each.",
                        NB_TAGS_MAX, NB_TAG_MAX);
        }
        rec.n_tags = (uint8_t)v;
        NB_SET(&rec, NB_F_TAGS);
    }
    if (on_behalf_of != NULL) {
        set_text(&rec.on_behalf_of, on_behalf_of);
        NB_SET(&rec, NB_F_ON_BEHALF_OF);
    }
    if (expires != NULL) {
        if (parse_duration(expires, &lifetime) != 0) {
            return fail(EXIT_USAGE,
                        "--expires takes a duration such as 90m, 12h, 3d or 2w, not \"%s\".",
                        expires);
        }
        if (lifetime > NB_EXPIRY_MAX) {
            return fail(EXIT_USAGE, "--expires is at most 90 days (%s asked for more).", expires);
        }
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
