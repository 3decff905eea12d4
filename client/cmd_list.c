/*
 * `noaber list` and `noaber show`: what is open in the neighbourhood, and one
 * request or offer in full, with its responses and, for the assigned helper
 * only, the contact details sealed to them.
 */
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <sodium.h>

#include <noaber/area.h>
#include <noaber/error.h>

#include "client.h"
#include "i18n.h"

static const char list_usage[] = "list [--kind request|offer] [--status S] [--category C] "
                                 "[--area A] [--mine] [--helping] [--trusted] [--limit N] [--all]";

/* What `list` shows unless told otherwise, and the most a node lists at once. */
#define LIST_DEFAULT 50
#define LIST_MAX     500

/* An offer of one's own that ends within this long is pointed at `renew`. */
#define RENEW_NOTICE (7u * 24 * 3600)

static void json_member(struct json *j, const uint8_t pk[NB_KEY_SIZE])
{
    char text[NB_MEMBER_KEY_TEXT_LEN + 1];
    nb_member_key_to_text(pk, text);
    json_string(j, text);
}

/* "author_name": the member's profile name, or null. */
static void json_author_name(struct json *j, const struct trust *t, const uint8_t pk[NB_KEY_SIZE])
{
    const char *name = trust_name(t, pk);
    json_key(j, "author_name");
    if (name != NULL) {
        json_string(j, name);
    } else {
        json_null(j);
    }
}

static void json_text(struct json *j, const char *key, struct nb_text t)
{
    json_key(j, key);
    json_string_n(j, t.ptr, t.len);
}

static void json_id(struct json *j, const char *key, const uint8_t id[NB_ID_SIZE])
{
    char hex[NB_ID_SIZE * 2 + 1];
    nb_hex(id, NB_ID_SIZE, hex);
    json_key(j, key);
    json_string(j, hex);
}

/*
 * A request or offer's state in words for one member: "open — 2 responses",
 * "assigned to you", "done — waiting for your confirmation".  `response` is
 * the member's own response's status when they responded (list --helping),
 * else NULL.
 */
struct state_in_words {
    const char *status;
    uint64_t responses;
    const uint8_t *assigned;
    bool mine;            /* the member posted it */
    const char *response; /* the member's response's status, or NULL */
    bool is_offer;
};

static void state_words(const struct ctx *ctx, const struct state_in_words *s, char *buf,
                        size_t size)
{
    char who[64];
    bool assigned_me =
        s->assigned != NULL && ctx->have_key && memcmp(s->assigned, ctx->pk, NB_KEY_SIZE) == 0;
    const char *status = i18n_word("cli_status_", s->status, s->status);

    if (s->assigned != NULL) {
        short_member(s->assigned, who, sizeof(who));
    }
    if (confirmation_waits(s->status, s->mine, s->response, s->is_offer)) {
        snprintf(buf, size, "%s", P_("cli_state_confirm", "done — waiting for your confirmation"));
    } else if (s->response != NULL && s->is_offer) {
        /* The member asked for someone's offer: their ask is what counts. */
        snprintf(buf, size, P_("cli_state_your_ask", "%s — your ask is %s"), status,
                 i18n_word("cli_response_", s->response, s->response));
    } else if (strcmp(s->status, "open") == 0 || strcmp(s->status, "available") == 0) {
        if (s->response != NULL) {
            snprintf(buf, size, P_("cli_state_you_responded", "%s — you responded"), status);
        } else if (s->responses == 0) {
            snprintf(buf, size, P_("cli_state_no_responses", "%s — no responses yet"), status);
        } else {
            snprintf(buf, size,
                     NP_("cli_state_responses", "%s — %llu response", "%s — %llu responses",
                         (unsigned long)s->responses),
                     status, (unsigned long long)s->responses);
        }
    } else if (strcmp(s->status, "assigned") == 0 && assigned_me) {
        snprintf(buf, size, "%s", P_("cli_state_assigned_you", "assigned to you"));
    } else if (strcmp(s->status, "assigned") == 0 && s->assigned != NULL) {
        snprintf(buf, size,
                 s->response != NULL
                     ? P_("cli_state_assigned_other_not_you", "assigned to %s (not you)")
                     : P_("cli_state_assigned_other", "assigned to %s"),
                 who);
    } else if (strcmp(s->status, "done_claimed") == 0) {
        snprintf(buf, size, "%s", P_("cli_state_done_claimed", "done, waiting for confirmation"));
    } else if (strcmp(s->status, "done") == 0) {
        snprintf(buf, size, "%s", P_("cli_state_done", "done and confirmed"));
    } else {
        snprintf(buf, size, "%s", status);
    }
}

static int check_filter(int (*parse)(const char *), const char *value, const char *option,
                        const char *choices)
{
    if (value != NULL && parse_spelled(parse, value) < 0) {
        return fail(EXIT_USAGE, "--%s: \"%s\" is not one of %s.", option, value, choices);
    }
    return EXIT_OK;
}

static int parse_list_kind(const char *name)
{
    int k = nb_kind_parse(name);
    return k == NB_KIND_REQUEST || k == NB_KIND_OFFER ? k : -1;
}

int list_filters_check(const struct list_filters *f)
{
    int rc = check_filter(parse_list_kind, f->kind, "kind", "request or offer");
    if (rc == EXIT_OK) {
        rc = check_filter(nb_status_parse, f->status, "status",
                          "open, assigned, done-claimed, done, cancelled, expired, available, "
                          "paused or withdrawn");
    }
    if (rc == EXIT_OK) {
        rc = check_filter(nb_category_parse, f->category, "category",
                          "groceries, transport, meals, company, paperwork, repairs, care, "
                          "childcare, pets or other");
    }
    if (rc == EXIT_OK && f->area != NULL &&
        (f->area[0] == '\0' || strlen(f->area) > NB_AREA_MAX ||
         nb_utf8_check(f->area, strlen(f->area), 0) != 0)) {
        rc = fail(EXIT_USAGE,
                  "--area takes a neighbourhood name or a postcode of 1 to %d characters of "
                  "text (at most %d bytes).",
                  NB_AREA_MAX, NB_AREA_MAX);
    }
    return rc;
}

bool list_filters_match(const struct ctx *ctx, const struct list_filters *f,
                        const struct trust *trust, const struct nb_record *rec)
{
    if (f->kind != NULL && (int)rec->kind != parse_list_kind(f->kind)) {
        return false;
    }
    if (f->category != NULL &&
        (!NB_HAS(rec, NB_F_CATEGORY) ||
         (int)rec->category != parse_spelled(nb_category_parse, f->category))) {
        return false;
    }
    if (f->area != NULL &&
        (!NB_HAS(rec, NB_F_AREA) ||
         !nb_area_match(f->area, strlen(f->area), rec->area.ptr, rec->area.len))) {
        return false;
    }
    if (f->trusted && !trust_is_trusted(trust, rec->author)) {
        return false;
    }
    (void)ctx;
    return true;
}

bool confirmation_waits(const char *status, bool mine, const char *response, bool is_offer)
{
    if (!is_offer) {
        return mine && strcmp(status, "done_claimed") == 0;
    }
    return response != NULL && strcmp(response, "done_claimed") == 0;
}

/* The sentences printed under the table: offers near their end, confirmations. */
struct list_notes {
    char text[2048];
    size_t used;
};

static void note_add(struct list_notes *n, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));

static void note_add(struct list_notes *n, const char *fmt, ...)
{
    va_list ap;
    int w;

    if (n->used >= sizeof(n->text)) {
        return;
    }
    va_start(ap, fmt);
    w = vsnprintf(n->text + n->used, sizeof(n->text) - n->used, fmt, ap);
    va_end(ap);
    n->used += w > 0 ? (size_t)w : 0;
}

int cmd_list(struct ctx *ctx, int argc, char **argv)
{
    struct list_filters f = { 0 };
    const char *limit_text = NULL;
    bool mine = false, helping = false, all = false;
    const struct opt opts[] = {
        { "kind", &f.kind, NULL },
        { "status", &f.status, NULL },
        { "category", &f.category, NULL },
        { "area", &f.area, NULL },
        { "mine", NULL, &mine },
        { "helping", NULL, &helping },
        { "trusted", NULL, &f.trusted },
        { "limit", &limit_text, NULL },
        { "all", NULL, &all },
        { NULL, NULL, NULL },
    };
    struct trust trust;
    struct ctl_req req;
    struct ctl_reply reply;
    const msgpack_object *items;
    struct table t;
    struct list_notes notes = { .used = 0 };
    uint64_t limit = LIST_DEFAULT;
    size_t nargs = 0, shown = 0;
    bool more = false;
    char status_arg[32];
    int rc;

    rc = parse_args(ctx, argc, argv, opts, NULL, 0, 0, list_usage);
    if (rc != 0) {
        return rc;
    }
    rc = list_filters_check(&f);
    if (rc == EXIT_OK && limit_text != NULL && all) {
        rc = fail(EXIT_USAGE, "--limit and --all do not go together; use one of them.");
    }
    if (rc == EXIT_OK && mine && helping) {
        rc = fail(EXIT_USAGE,
                  "--mine (what you posted) and --helping (what you responded to) do not go "
                  "together; use one of them.");
    }
    if (rc == EXIT_OK && limit_text != NULL) {
        char *end = NULL;
        errno = 0;
        unsigned long long n = strtoull(limit_text, &end, 10);
        if (errno != 0 || end == limit_text || *end != '\0' || limit_text[0] == '-' || n == 0 ||
            n > LIST_MAX) {
            rc = fail(EXIT_USAGE, "--limit: \"%s\" is not a number from 1 to %d.", limit_text,
                      LIST_MAX);
        }
        limit = n;
    }
    if (all) {
        limit = LIST_MAX;
    }
    if (rc == EXIT_OK) {
        rc = session_with_trust(ctx, mine || helping || f.trusted, true, &trust);
    }
    if (rc != EXIT_OK) {
        return rc;
    }
    /* One more than asked: whether the list was cut is then known. */
    nargs = 1 + (f.kind != NULL) + (f.status != NULL) + (f.category != NULL) + (f.area != NULL) +
            mine + helping;
    ctl_req_begin(&ctx->ctl, &req, NB_CTL_OP_LIST, nargs);
    ctl_req_uint(&req, "limit", limit < LIST_MAX ? limit + 1 : LIST_MAX);
    if (f.kind != NULL) {
        ctl_req_str(&req, "kind", f.kind);
    }
    if (f.status != NULL) {
        /* The daemon takes the protocol's spelling (done_claimed). */
        int st = parse_spelled(nb_status_parse, f.status);
        snprintf(status_arg, sizeof(status_arg), "%s", nb_status_name((unsigned)st));
        ctl_req_str(&req, "status", status_arg);
    }
    if (f.category != NULL) {
        ctl_req_str(&req, "category", f.category);
    }
    if (f.area != NULL) {
        ctl_req_str(&req, "area", f.area);
    }
    if (mine) {
        ctl_req_bin(&req, "author", ctx->pk, NB_KEY_SIZE);
    }
    if (helping) {
        ctl_req_bin(&req, "responder", ctx->pk, NB_KEY_SIZE);
    }
    rc = call_list(ctx, &req, &reply, "the list", &items);
    if (rc != EXIT_OK) {
        trust_free(&trust);
        return rc;
    }
    more = items->via.array.size > limit;

    table_init(&t, 7);
    if (ctx->json) {
        json_array_begin(&ctx->j);
    } else {
        const char *head[] = { P_("cli_list_id", "ID"),        P_("cli_list_kind", "KIND"),
                               P_("cli_list_state", "STATE"),  P_("cli_list_title", "TITLE"),
                               P_("cli_list_area", "AREA"),    P_("cli_list_by", "BY"),
                               P_("cli_list_posted", "POSTED") };
        table_add(&t, head);
    }
    for (uint32_t i = 0; i < items->via.array.size && i < limit; i++) {
        const msgpack_object *it = &items->via.array.ptr[i];
        const uint8_t *bytes;
        size_t len;
        struct nb_record rec;
        uint8_t id[NB_ID_SIZE];
        uint8_t assigned[NB_KEY_SIZE];
        bool has_assigned, trusted, waits;
        char hex[NB_ID_SIZE * 2 + 1], st[32], response[32];
        struct state_in_words sw;
        uint64_t expires_at;

        if (ctl_get_bin(it, "record", &bytes, &len) != 0 ||
            nb_record_decode(bytes, len, &rec) != 0 ||
            ctl_get_bin_exact(it, "id", id, NB_ID_SIZE) != 0) {
            continue;
        }
        trusted = trust_is_trusted(&trust, rec.author);
        if (f.trusted && !trusted) {
            continue;
        }
        shown++;
        nb_hex(id, NB_ID_SIZE, hex);
        ctl_get_str(it, "status", st, sizeof(st));
        response[0] = '\0';
        ctl_get_str(it, "response", response, sizeof(response));
        has_assigned = ctl_get_bin_exact(it, "assigned", assigned, NB_KEY_SIZE) == 0;
        expires_at =
            NB_HAS(&rec, NB_F_EXPIRES_AT) ? rec.expires_at : rec.created_at + NB_EXPIRY_DEFAULT;
        sw.status = st;
        sw.responses = ctl_get_uint(it, "responses", 0);
        sw.assigned = has_assigned ? assigned : NULL;
        sw.mine = ctx->have_key && memcmp(rec.author, ctx->pk, NB_KEY_SIZE) == 0;
        sw.response = response[0] != '\0' ? response : NULL;
        sw.is_offer = rec.kind == NB_KIND_OFFER;
        waits = confirmation_waits(st, sw.mine, sw.response, sw.is_offer);
        if (ctx->json) {
            json_object_begin(&ctx->j);
            json_key(&ctx->j, "id");
            json_string(&ctx->j, hex);
            json_key(&ctx->j, "kind");
            json_string(&ctx->j, nb_kind_name(rec.kind) != NULL ? nb_kind_name(rec.kind) : "?");
            json_key(&ctx->j, "status");
            json_string(&ctx->j, st);
            json_text(&ctx->j, "title", rec.title);
            json_key(&ctx->j, "category");
            json_string(&ctx->j, nb_category_name(rec.category) != NULL
                                     ? nb_category_name(rec.category)
                                     : "other");
            json_text(&ctx->j, "area", rec.area);
            json_key(&ctx->j, "author");
            json_member(&ctx->j, rec.author);
            json_author_name(&ctx->j, &trust, rec.author);
            json_key(&ctx->j, "trusted");
            json_bool(&ctx->j, trusted);
            json_key(&ctx->j, "created_at");
            json_uint(&ctx->j, rec.created_at);
            json_key(&ctx->j, "expires_at");
            json_uint(&ctx->j, expires_at);
            json_key(&ctx->j, "responses");
            json_uint(&ctx->j, sw.responses);
            json_key(&ctx->j, "assigned");
            if (has_assigned) {
                json_member(&ctx->j, assigned);
            } else {
                json_null(&ctx->j);
            }
            if (helping) {
                json_key(&ctx->j, "your_response");
                json_string(&ctx->j, response);
            }
            json_key(&ctx->j, "confirmation_waiting");
            json_bool(&ctx->j, waits);
            json_object_end(&ctx->j);
        } else {
            char words[160], title[200], area_buf[100], posted[48], rel[48];
            char by[NB_MEMBER_KEY_TEXT_LEN + NB_NAME_MAX + 16];
            const char *row[7];
            state_words(ctx, &sw, words, sizeof(words));
            shorten(rec.title.ptr, rec.title.len, 40, title, sizeof(title));
            shorten(rec.area.ptr, rec.area.len, 20, area_buf, sizeof(area_buf));
            format_relative(ctx->now, rec.created_at < ctx->now ? rec.created_at : ctx->now, posted,
                            sizeof(posted));
            if (waits) {
                note_add(&notes,
                         "%.8s \"%s\" was marked done: `noaber confirm %.8s` confirms it.\n", hex,
                         title, hex);
            }
            if (sw.mine && sw.is_offer && offer_nears_end(ctx, st, expires_at)) {
                format_relative(ctx->now, expires_at, rel, sizeof(rel));
                note_add(&notes,
                         "Your offer %.8s \"%s\" ends %s: `noaber renew %.8s` keeps it up.\n", hex,
                         title, rel, hex);
            }
            hex[8] = '\0';
            row[0] = hex;
            row[1] = rec.kind == NB_KIND_OFFER ? P_("cli_kind_offer", "offer")
                                               : P_("cli_kind_request", "request");
            row[2] = words;
            row[3] = title;
            row[4] = area_buf;
            member_label(&trust, rec.author, false, by, sizeof(by));
            if (sw.mine) {
                strcat(by, " (you)");
            }
            row[5] = by;
            row[6] = posted;
            table_add(&t, (const char *const *)row);
        }
    }
    if (ctx->json) {
        json_array_end(&ctx->j);
        json_finish(&ctx->j);
    } else if (t.nrows <= 1 && f.trusted) {
        printf("%s\n", P_("cli_list_none_trusted",
                          "Nothing matches from members you trust.  `noaber vouch MEMBER` vouches "
                          "for a member; `noaber list` without --trusted shows everyone's."));
    } else if (t.nrows <= 1 && helping) {
        printf("%s\n",
               P_("cli_list_none_helping",
                  "You have not responded to anything that is still on this node.  "
                  "`noaber list` shows what is open; `noaber respond ID` offers your help."));
    } else if (t.nrows <= 1) {
        printf("%s\n",
               P_("cli_list_none",
                  "Nothing matches.  `noaber ask` posts a request, `noaber offer` an offer."));
    } else {
        table_print(&t, stdout);
        if (notes.used > 0) {
            printf("\n%s", notes.text);
        }
    }
    if (!ctx->json && more) {
        if (limit < LIST_MAX) {
            fprintf(stderr,
                    "noaber: showing the newest %zu; there are more: `--limit N` shows up to N "
                    "(at most %d), `--all` the newest %d.\n",
                    shown, LIST_MAX, LIST_MAX);
        } else {
            fprintf(stderr,
                    "noaber: showing the newest %d, the most a node lists at once; narrow the "
                    "list with --kind, --status, --category or --area.\n",
                    LIST_MAX);
        }
    }
    table_free(&t);
    ctl_reply_free(&reply);
    trust_free(&trust);
    return EXIT_OK;
}

bool offer_nears_end(const struct ctx *ctx, const char *status, uint64_t expires_at)
{
    return (strcmp(status, "available") == 0 || strcmp(status, "paused") == 0) &&
           expires_at > ctx->now && expires_at - ctx->now <= RENEW_NOTICE;
}

/*
 * The contact sealed to this member, if the member is the assignee.  The
 * plaintext goes to buf (NUL-terminated); returns true when it opened.
 */
static bool open_contact(const struct ctx *ctx, const struct root_view *v,
                         const struct nb_state_step *assignment, char *buf, size_t size)
{
    const struct nb_record *a;

    if (!ctx->have_key || !assignment->present) {
        return false;
    }
    /* Sealed like a message: one way to open what was sealed to this member. */
    a = root_find(v, assignment->id);
    return a != NULL && open_message(ctx, a, buf, size) == 0;
}

/* The assignment whose sealed part this member may open, or NULL. */
static const struct nb_state_step *my_assignment(const struct ctx *ctx, const struct root_view *v)
{
    if (!ctx->have_key) {
        return NULL;
    }
    if (v->st.kind == NB_KIND_REQUEST) {
        if (v->st.has_assignee && memcmp(v->st.assignee, ctx->pk, NB_KEY_SIZE) == 0) {
            return &v->st.assignment;
        }
        return NULL;
    }
    for (size_t i = v->st.n_responses; i-- > 0;) {
        const struct nb_state_response *r = &v->st.responses[i];
        if (r->assignment.present && memcmp(r->author, ctx->pk, NB_KEY_SIZE) == 0) {
            return &r->assignment;
        }
    }
    return NULL;
}

/* The member shown as "assigned": the request's helper, or the offer's latest asker. */
static const uint8_t *assigned_member(const struct root_view *v)
{
    if (v->st.kind == NB_KIND_REQUEST) {
        return v->st.has_assignee ? v->st.assignee : NULL;
    }
    for (size_t i = v->st.n_responses; i-- > 0;) {
        const struct nb_state_response *r = &v->st.responses[i];
        if (r->assignment.present && r->status != NB_RESPONSE_WITHDRAWN) {
            return r->author;
        }
    }
    return NULL;
}

static bool any_sealed(const struct root_view *v)
{
    if (v->st.kind == NB_KIND_REQUEST) {
        return v->st.has_assignee && v->st.sealed;
    }
    for (size_t i = 0; i < v->st.n_responses; i++) {
        if (v->st.responses[i].sealed) {
            return true;
        }
    }
    return false;
}

/* The thanks written with the confirmation, if any. */
static const struct nb_record *confirmation_of(const struct root_view *v)
{
    if (v->st.kind == NB_KIND_REQUEST) {
        return v->st.confirmation.present ? root_find(v, v->st.confirmation.id) : NULL;
    }
    for (size_t i = v->st.n_responses; i-- > 0;) {
        if (v->st.responses[i].confirmation.present) {
            return root_find(v, v->st.responses[i].confirmation.id);
        }
    }
    return NULL;
}

/* The member's own live response (or ask) on this root, or NULL. */
static const struct nb_state_response *own_response(const struct ctx *ctx,
                                                    const struct root_view *v)
{
    if (!ctx->have_key) {
        return NULL;
    }
    for (size_t i = v->st.n_responses; i-- > 0;) {
        const struct nb_state_response *r = &v->st.responses[i];
        if (memcmp(r->author, ctx->pk, NB_KEY_SIZE) == 0 && r->status != NB_RESPONSE_WITHDRAWN) {
            return r;
        }
    }
    return NULL;
}

bool reassigned_from_me(const struct ctx *ctx, const struct root_view *v)
{
    /* A helper who withdrew left by themselves: nobody replaced them. */
    if (!ctx->have_key || v->st.kind != NB_KIND_REQUEST || own_response(ctx, v) == NULL ||
        (v->st.has_assignee && memcmp(v->st.assignee, ctx->pk, NB_KEY_SIZE) == 0)) {
        return false;
    }
    for (size_t i = 0; i < v->n_related; i++) {
        const struct nb_record *a = &v->related[i];
        if (a->kind == NB_KIND_ASSIGNMENT &&
            memcmp(a->author, v->root.rec.author, NB_KEY_SIZE) == 0 &&
            memcmp(a->member, ctx->pk, NB_KEY_SIZE) == 0 && v->st.has_assignee) {
            return true;
        }
    }
    return false;
}

/* Whether this member is the one to confirm a done claim on this root. */
static bool show_confirmation_waits(const struct ctx *ctx, const struct root_view *v)
{
    const struct nb_state_response *own = own_response(ctx, v);
    bool mine = ctx->have_key && memcmp(v->root.rec.author, ctx->pk, NB_KEY_SIZE) == 0;

    return confirmation_waits(nb_status_name(v->st.status), mine,
                              own != NULL ? nb_response_status_name(own->status) : NULL,
                              v->st.kind == NB_KIND_OFFER);
}

static void show_json(struct ctx *ctx, const struct root_view *v, const struct trust *trust,
                      const char *contact)
{
    struct json *j = &ctx->j;
    const struct nb_record *r = &v->root.rec;
    const uint8_t *assigned = assigned_member(v);
    const struct nb_record *conf = confirmation_of(v);

    json_object_begin(j);
    json_key(j, "id");
    json_string(j, v->root.hex);
    json_key(j, "kind");
    json_string(j, nb_kind_name(r->kind));
    json_key(j, "status");
    json_string(j, nb_status_name(v->st.status));
    json_text(j, "title", r->title);
    json_text(j, "details", r->details);
    json_key(j, "category");
    json_string(j, nb_category_name(r->category) != NULL ? nb_category_name(r->category) : "other");
    json_key(j, "urgency");
    if (NB_HAS(r, NB_F_URGENCY)) {
        json_string(j, nb_urgency_name(r->urgency));
    } else {
        json_null(j);
    }
    json_key(j, "mode");
    if (NB_HAS(r, NB_F_MODE)) {
        json_string(j, nb_mode_name(r->mode));
    } else {
        json_null(j);
    }
    json_key(j, "when");
    if (NB_HAS(r, NB_F_WHEN)) {
        json_string_n(j, r->when.ptr, r->when.len);
    } else {
        json_null(j);
    }
    json_text(j, "area", r->area);
    json_key(j, "languages");
    json_array_begin(j);
    for (size_t i = 0; i < r->n_languages; i++) {
        json_string_n(j, r->languages[i].ptr, r->languages[i].len);
    }
    json_array_end(j);
    json_key(j, "tags");
    json_array_begin(j);
    for (size_t i = 0; i < r->n_tags; i++) {
        json_string_n(j, r->tags[i].ptr, r->tags[i].len);
    }
    json_array_end(j);
    json_key(j, "on_behalf_of");
    if (NB_HAS(r, NB_F_ON_BEHALF_OF)) {
        json_string_n(j, r->on_behalf_of.ptr, r->on_behalf_of.len);
    } else {
        json_null(j);
    }
    json_key(j, "author");
    json_member(j, r->author);
    json_author_name(j, trust, r->author);
    json_key(j, "trusted");
    json_bool(j, trust_is_trusted(trust, r->author));
    json_key(j, "created_at");
    json_uint(j, r->created_at);
    json_key(j, "expires_at");
    json_uint(j, v->st.expires_at);
    json_key(j, "responses");
    json_array_begin(j);
    for (size_t i = 0; i < v->st.n_responses; i++) {
        const struct nb_state_response *s = &v->st.responses[i];
        const struct nb_record *rr = root_find(v, s->id);
        json_object_begin(j);
        json_id(j, "id", s->id);
        json_key(j, "author");
        json_member(j, s->author);
        json_author_name(j, trust, s->author);
        json_key(j, "trusted");
        json_bool(j, trust_is_trusted(trust, s->author));
        json_key(j, "vouched_by");
        json_uint(j, trust_vouchers(trust, s->author));
        json_key(j, "note");
        if (rr != NULL && NB_HAS(rr, NB_F_NOTE)) {
            json_string_n(j, rr->note.ptr, rr->note.len);
        } else {
            json_null(j);
        }
        json_key(j, "created_at");
        json_uint(j, s->created_at);
        json_key(j, "state");
        json_string(j, nb_response_status_name(s->status));
        json_key(j, "assignment");
        if (s->assignment.present) {
            char hex[NB_ID_SIZE * 2 + 1];
            nb_hex(s->assignment.id, NB_ID_SIZE, hex);
            json_string(j, hex);
        } else {
            json_null(j);
        }
        json_object_end(j);
    }
    json_array_end(j);
    json_key(j, "assigned");
    if (assigned != NULL) {
        json_member(j, assigned);
    } else {
        json_null(j);
    }
    json_key(j, "sealed");
    json_bool(j, any_sealed(v));
    if (contact != NULL) {
        json_key(j, "contact");
        json_string(j, contact);
    }
    json_key(j, "thanks");
    if (conf != NULL && NB_HAS(conf, NB_F_NOTE) && conf->note.len > 0) {
        json_string_n(j, conf->note.ptr, conf->note.len);
    } else {
        json_null(j);
    }
    if (r->kind == NB_KIND_OFFER) {
        json_key(j, "paused");
        json_bool(j, v->st.paused);
    }
    json_key(j, "confirmation_waiting");
    json_bool(j, show_confirmation_waits(ctx, v));
    json_key(j, "reassigned_from_you");
    json_bool(j, reassigned_from_me(ctx, v));
    json_object_end(j);
    json_finish(j);
}

/* The labels of `show` line up whatever their language (13 characters wide). */
#define LABEL_WIDTH 14

static void line(const char *label, const char *value)
{
    i18n_print_label(label, LABEL_WIDTH);
    printf("%s\n", value);
}

static void line_text(const char *label, struct nb_text t)
{
    i18n_print_label(label, LABEL_WIDTH);
    printf("%.*s\n", (int)t.len, t.ptr);
}

/* "yes — vouched by 2 you trust": whether a response's author is trusted, and why. */
static void trust_words(const struct ctx *ctx, const struct trust *t, const uint8_t pk[NB_KEY_SIZE],
                        char *buf, size_t size)
{
    size_t n = trust_vouchers(t, pk);

    if (memcmp(pk, ctx->pk, NB_KEY_SIZE) == 0) {
        snprintf(buf, size, "yes — you");
    } else if (n == 0) {
        snprintf(buf, size, "%s — not vouched by anyone you trust",
                 trust_is_trusted(t, pk) ? "yes" : "no");
    } else {
        snprintf(buf, size, "%s — vouched by %zu you trust", trust_is_trusted(t, pk) ? "yes" : "no",
                 n);
    }
}

/*
 * DOMAIN.md's safe practice, where it matters: to a requester choosing a
 * helper, and to the helper they chose, before the visit.
 */
static void show_advice(void)
{
    printf("\n%s\n", P_("safety_title", "Stay safe"));
    printf("- %s\n", P_("safety_empty_house", "Do not tell anyone when your house will be empty."));
    printf("- %s\n", P_("safety_keys", "Never hand over your keys or bank cards."));
    printf("- %s\n", P_("safety_pairs", "For tasks inside a home, work in pairs when you can."));
    printf("- %s\n", P_("safety_medical", "For medical care, call a doctor or a nurse."));
}

/* What this member has to do or know about the root, in sentences. */
static void show_notices(const struct ctx *ctx, const struct root_view *v)
{
    char rel[48];
    bool mine = ctx->have_key && memcmp(v->root.rec.author, ctx->pk, NB_KEY_SIZE) == 0;
    const uint8_t *assigned = assigned_member(v);
    bool choosing = false;

    for (size_t i = 0; i < v->st.n_responses; i++) {
        choosing |= v->st.responses[i].status == NB_RESPONSE_PENDING;
    }
    if ((mine && v->st.status == NB_STATUS_OPEN && choosing) ||
        (v->st.status == NB_STATUS_ASSIGNED && assigned != NULL && ctx->have_key &&
         memcmp(assigned, ctx->pk, NB_KEY_SIZE) == 0)) {
        show_advice();
    }

    if (show_confirmation_waits(ctx, v)) {
        printf("\nThe helper marked it done and waits for you: `noaber confirm %.8s` confirms it "
               "(--thanks \"...\" adds a thank-you).\n",
               v->root.hex);
    }
    if (reassigned_from_me(ctx, v)) {
        printf("\nYou are no longer assigned: the requester assigned someone else.  If they "
               "sealed contact details to you, please forget them; you have nothing more to "
               "do.\n");
    }
    if (ctx->have_key && memcmp(v->root.rec.author, ctx->pk, NB_KEY_SIZE) == 0 &&
        v->st.kind == NB_KIND_OFFER) {
        if (offer_nears_end(ctx, nb_status_name(v->st.status), v->st.expires_at)) {
            format_relative(ctx->now, v->st.expires_at, rel, sizeof(rel));
            printf("\nYour offer ends %s: `noaber renew %.8s` keeps it up.\n", rel, v->root.hex);
        }
        if (v->st.status == NB_STATUS_EXPIRED) {
            printf("\nYour offer has expired: `noaber renew %.8s` puts it up again.\n",
                   v->root.hex);
        }
        if (v->st.status == NB_STATUS_PAUSED) {
            printf("\nYour offer is paused: `noaber resume %.8s` makes it available again.\n",
                   v->root.hex);
        }
    }
}

static void show_human(struct ctx *ctx, const struct root_view *v, const struct trust *trust,
                       const char *contact)
{
    const struct nb_record *r = &v->root.rec;
    const uint8_t *assigned = assigned_member(v);
    const struct nb_record *conf = confirmation_of(v);
    const struct nb_state_response *own = own_response(ctx, v);
    struct state_in_words sw;
    char buf[256], who[64], rel[48], word[32], shown[96];
    size_t live = 0;

    for (size_t i = 0; i < v->st.n_responses; i++) {
        live += v->st.responses[i].status != NB_RESPONSE_WITHDRAWN;
    }
    printf("%s %.8s: %.*s\n",
           r->kind == NB_KIND_OFFER ? P_("cli_show_offer", "Offer")
                                    : P_("cli_show_request", "Request"),
           v->root.hex, (int)r->title.len, r->title.ptr);
    sw.status = nb_status_name(v->st.status);
    sw.responses = live;
    sw.assigned = assigned;
    sw.mine = ctx->have_key && memcmp(r->author, ctx->pk, NB_KEY_SIZE) == 0;
    sw.response = own != NULL ? nb_response_status_name(own->status) : NULL;
    sw.is_offer = r->kind == NB_KIND_OFFER;
    state_words(ctx, &sw, buf, sizeof(buf));
    line(P_("cli_show_state", "State:"), buf);
    line(P_("cli_show_category", "Category:"),
         i18n_option_word("cli_category_", nb_category_name(r->category),
                          nb_category_name(r->category) != NULL ? nb_category_name(r->category)
                                                                : "other",
                          shown, sizeof(shown)));
    if (NB_HAS(r, NB_F_URGENCY)) {
        line(P_("cli_show_urgency", "Urgency:"),
             i18n_option_word("cli_urgency_", nb_urgency_name(r->urgency),
                              spelled(nb_urgency_name(r->urgency), word, sizeof(word)), shown,
                              sizeof(shown)));
    }
    if (NB_HAS(r, NB_F_MODE)) {
        line(P_("cli_show_help", "Help:"),
             i18n_option_word("cli_mode_", nb_mode_name(r->mode),
                              spelled(nb_mode_name(r->mode), word, sizeof(word)), shown,
                              sizeof(shown)));
    }
    line_text(P_("cli_show_area", "Area:"), r->area);
    if (NB_HAS(r, NB_F_WHEN)) {
        line_text(P_("cli_show_when", "When:"), r->when);
    }
    if (r->n_languages > 0) {
        i18n_print_label(P_("cli_show_languages", "Languages:"), LABEL_WIDTH - 1);
        for (size_t i = 0; i < r->n_languages; i++) {
            printf("%s%.*s", i == 0 ? " " : ", ", (int)r->languages[i].len, r->languages[i].ptr);
        }
        printf("\n");
    }
    if (r->n_tags > 0) {
        i18n_print_label(P_("cli_show_tags", "Tags:"), LABEL_WIDTH - 1);
        for (size_t i = 0; i < r->n_tags; i++) {
            printf("%s%.*s", i == 0 ? " " : ", ", (int)r->tags[i].len, r->tags[i].ptr);
        }
        printf("\n");
    }
    if (NB_HAS(r, NB_F_ON_BEHALF_OF)) {
        line_text(P_("cli_show_on_behalf_of", "On behalf of:"), r->on_behalf_of);
    }
    member_label(trust, r->author, true, buf, sizeof(buf));
    /* Records made in a quick succession carry created_at a second or two
     * ahead of the clock (see ctx.min_created_at): they were made "just now". */
    format_relative(ctx->now, r->created_at < ctx->now ? r->created_at : ctx->now, rel,
                    sizeof(rel));
    i18n_print_label(P_("cli_show_posted", "Posted:"), LABEL_WIDTH);
    printf(ctx->have_key && memcmp(r->author, ctx->pk, NB_KEY_SIZE) == 0
               ? P_("cli_show_posted_by_you", "%s by %s (you)")
               : P_("cli_show_posted_by", "%s by %s"),
           rel, buf);
    putchar('\n');
    format_relative(ctx->now, v->st.expires_at, rel, sizeof(rel));
    i18n_print_label(P_("cli_show_expires", "Expires:"), LABEL_WIDTH);
    printf(ctx->now >= v->st.expires_at ? P_("cli_show_expired", "expired %s") : "%s", rel);
    putchar('\n');
    if (NB_HAS(r, NB_F_DETAILS) && r->details.len > 0) {
        printf("\n%.*s\n", (int)r->details.len, r->details.ptr);
    }
    if (v->st.n_responses > 0) {
        struct table t;
        const char *head[] = { "  ID", "MEMBER", "STATE", "WHEN", "NOTE", "TRUSTED" };
        /* Without an identity there is nobody to trust from: no column. */
        size_t ncols = ctx->have_key ? 6 : 5;
        table_init(&t, ncols);
        table_add(&t, head);
        for (size_t i = 0; i < v->st.n_responses; i++) {
            const struct nb_state_response *s = &v->st.responses[i];
            const struct nb_record *rr = root_find(v, s->id);
            char id[16], member[NB_MEMBER_KEY_TEXT_LEN + NB_NAME_MAX + 16], note[200];
            char hex[NB_ID_SIZE * 2 + 1], trusted[96];
            const char *row[6];
            nb_hex(s->id, NB_ID_SIZE, hex);
            snprintf(id, sizeof(id), "  %.8s", hex);
            member_label(trust, s->author, true, member, sizeof(member));
            if (ctx->have_key && memcmp(s->author, ctx->pk, NB_KEY_SIZE) == 0) {
                strcat(member, " (you)");
            }
            format_relative(ctx->now, s->created_at < ctx->now ? s->created_at : ctx->now, rel,
                            sizeof(rel));
            note[0] = '\0';
            if (rr != NULL && NB_HAS(rr, NB_F_NOTE)) {
                shorten(rr->note.ptr, rr->note.len, 40, note, sizeof(note));
            }
            row[0] = id;
            row[1] = member;
            row[2] = i18n_word("cli_response_", nb_response_status_name(s->status),
                               spelled(nb_response_status_name(s->status), word, sizeof(word)));
            row[3] = rel;
            row[4] = note;
            if (ctx->have_key) {
                trust_words(ctx, trust, s->author, trusted, sizeof(trusted));
                row[5] = trusted;
            }
            table_add(&t, row);
        }
        printf("\n%s\n", r->kind == NB_KIND_OFFER ? P_("cli_show_asks", "Asks:")
                                                  : P_("cli_show_responses", "Responses:"));
        table_print(&t, stdout);
        table_free(&t);
    }
    if (contact != NULL) {
        printf("\n%s %s\n", P_("cli_show_contact", "Contact, sealed to you:"), contact);
        printf("%s\n", P_("cli_show_contact_keep",
                          "Keep it to yourself; it was shared only so you can help."));
    } else if (any_sealed(v)) {
        short_member(assigned != NULL ? assigned : r->author, who, sizeof(who));
        putchar('\n');
        printf(P_("cli_show_sealed_to",
                  "Contact details are sealed to %s; nobody else can read them."),
               who);
        putchar('\n');
    }
    if (conf != NULL && NB_HAS(conf, NB_F_NOTE) && conf->note.len > 0) {
        printf("%s %.*s\n", P_("cli_show_thanks", "Thanks:"), (int)conf->note.len, conf->note.ptr);
    }
    show_notices(ctx, v);
}

int cmd_show(struct ctx *ctx, int argc, char **argv)
{
    const char *pos[1];
    struct root_view v;
    struct trust trust;
    const struct nb_state_step *mine;
    char contact[NB_SEALED_MAX];
    bool opened = false;
    int rc;

    rc = parse_args(ctx, argc, argv, NULL, pos, 1, 1, "show ID");
    if (rc != 0) {
        return rc;
    }
    if (check_id(pos[0]) != EXIT_OK) {
        return EXIT_USAGE;
    }
    /* Without an identity `show` still works; it just cannot open sealed parts. */
    rc = session_with_trust(ctx, false, true, &trust);
    if (rc == EXIT_OK) {
        rc = root_load(ctx, pos[0], &v);
        if (rc != EXIT_OK) {
            trust_free(&trust);
        }
    }
    if (rc != EXIT_OK) {
        return rc;
    }
    mine = my_assignment(ctx, &v);
    if (mine != NULL) {
        opened = open_contact(ctx, &v, mine, contact, sizeof(contact));
    }
    if (ctx->json) {
        show_json(ctx, &v, &trust, opened ? contact : NULL);
    } else {
        show_human(ctx, &v, &trust, opened ? contact : NULL);
    }
    sodium_memzero(contact, sizeof(contact));
    root_free(&v);
    trust_free(&trust);
    return EXIT_OK;
}
