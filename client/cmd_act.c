/*
 * The lifecycle actions on a request or offer: respond, withdraw, assign,
 * done, confirm, cancel, retract, pause and resume.  Each builds one record
 * (docs/protocol.md, and the target table in noaber/state.h), signs it here
 * and submits it.  The daemon applies the lifecycle rules and says why it
 * refuses; the client only works out what the record must target.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <sodium.h>

#include <noaber/error.h>

#include "care.h"

/* Checks the id, then opens the identity and the session, in that order. */
static int open_for(struct ctx *ctx, const char *prefix)
{
    int rc = check_id(prefix);
    if (rc == EXIT_OK) {
        rc = identity_load(ctx);
    }
    if (rc == EXIT_OK) {
        rc = session_open(ctx, true);
    }
    return rc;
}

/* Opens identity, session and the named root, in that order. */
static int begin(struct ctx *ctx, const char *prefix, struct root_view *v)
{
    int rc = open_for(ctx, prefix);
    if (rc == EXIT_OK) {
        rc = root_load(ctx, prefix, v);
    }
    return rc;
}

static void title_of(const struct nb_record *rec, char *buf, size_t size)
{
    char cut[168];
    shorten(rec->title.ptr, rec->title.len, 40, cut, sizeof(cut));
    snprintf(buf, size, "\"%s\"", cut);
}

static void init_record(struct nb_record *rec, uint8_t kind, const uint8_t target[NB_ID_SIZE])
{
    memset(rec, 0, sizeof(*rec));
    rec->kind = kind;
    memcpy(rec->target, target, NB_ID_SIZE);
    NB_SET(rec, NB_F_TARGET);
}

/* The member's own live response (or ask) on this root, or NULL. */
static const struct nb_state_response *my_response(const struct ctx *ctx, const struct root_view *v)
{
    for (size_t i = 0; i < v->st.n_responses; i++) {
        const struct nb_state_response *r = &v->st.responses[i];
        if (memcmp(r->author, ctx->pk, NB_KEY_SIZE) == 0 && r->status != NB_RESPONSE_WITHDRAWN) {
            return r;
        }
    }
    return NULL;
}

int cmd_respond(struct ctx *ctx, int argc, char **argv)
{
    const char *note = NULL;
    const struct opt opts[] = { { "note", &note, NULL }, { NULL, NULL, NULL } };
    const char *pos[1];
    struct root_view v;
    struct nb_record rec;
    char title[200], human[300];
    int rc;

    rc = parse_args(ctx, argc, argv, opts, pos, 1, 1, "respond ID [--note N]");
    if (rc != 0) {
        return rc;
    }
    rc = text_option("--note", note, 0, NB_NOTE_MAX, true);
    if (rc != EXIT_OK) {
        return rc;
    }
    rc = begin(ctx, pos[0], &v);
    if (rc != EXIT_OK) {
        return rc;
    }
    init_record(&rec, NB_KIND_RESPONSE, v.root.id);
    if (note != NULL) {
        set_text(&rec.note, note);
        NB_SET(&rec, NB_F_NOTE);
    }
    title_of(&v.root.rec, title, sizeof(title));
    snprintf(human, sizeof(human), "%s %s",
             v.root.rec.kind == NB_KIND_OFFER ? "Asked for the offer" : "Responded to", title);
    rc = submit_record(ctx, &rec, human, NULL);
    if (rc == EXIT_OK && !ctx->json) {
        printf("The %s will see your %s and may assign you.\n",
               v.root.rec.kind == NB_KIND_OFFER ? "offerer" : "requester",
               v.root.rec.kind == NB_KIND_OFFER ? "ask" : "response");
    }
    root_free(&v);
    return rc;
}

int cmd_withdraw(struct ctx *ctx, int argc, char **argv)
{
    const char *pos[1];
    struct root_view v;
    struct nb_record rec;
    const uint8_t *target = NULL;
    const char *human = NULL;
    int rc;

    rc = parse_args(ctx, argc, argv, NULL, pos, 1, 1, "withdraw ID");
    if (rc != 0) {
        return rc;
    }
    rc = begin(ctx, pos[0], &v);
    if (rc != EXIT_OK) {
        return rc;
    }
    if (v.has_given && v.given.rec.kind == NB_KIND_RESPONSE) {
        /* The user named the response itself. */
        target = v.given.id;
        human = "Withdrew the response";
    } else if (v.root.rec.kind == NB_KIND_OFFER &&
               memcmp(v.root.rec.author, ctx->pk, NB_KEY_SIZE) == 0) {
        target = v.root.id;
        human = "Withdrew your offer";
    } else {
        const struct nb_state_response *mine = my_response(ctx, &v);
        if (mine == NULL) {
            rc = fail(EXIT_ERROR, "you have no response on %.8s to withdraw.", v.root.hex);
            goto out;
        }
        target = mine->id;
        human = v.root.rec.kind == NB_KIND_OFFER ? "Withdrew your ask" : "Withdrew your response";
    }
    init_record(&rec, NB_KIND_WITHDRAWAL, target);
    rc = submit_record(ctx, &rec, human, NULL);
out:
    root_free(&v);
    return rc;
}

/*
 * The members who may be assigned on this root: the authors of live
 * responses (asks), with their response ids.  The arrays are the caller's to
 * free.
 */
static int responders(const struct root_view *v, struct member_candidates *ret,
                      uint8_t (**ret_keys)[NB_KEY_SIZE], uint8_t (**ret_ids)[NB_ID_SIZE])
{
    uint8_t(*keys)[NB_KEY_SIZE] = calloc(v->st.n_responses + 1, NB_KEY_SIZE);
    uint8_t(*ids)[NB_ID_SIZE] = calloc(v->st.n_responses + 1, NB_ID_SIZE);
    size_t n = 0;

    if (keys == NULL || ids == NULL) {
        free(keys);
        free(ids);
        return fail(EXIT_ERROR, "out of memory.");
    }
    for (size_t i = 0; i < v->st.n_responses; i++) {
        const struct nb_state_response *r = &v->st.responses[i];
        if (r->status == NB_RESPONSE_WITHDRAWN) {
            continue;
        }
        memcpy(keys[n], r->author, NB_KEY_SIZE);
        memcpy(ids[n], r->id, NB_ID_SIZE);
        n++;
    }
    ret->keys = (const uint8_t(*)[NB_KEY_SIZE])keys;
    ret->response_ids = (const uint8_t(*)[NB_ID_SIZE])ids;
    ret->n = n;
    *ret_keys = keys;
    *ret_ids = ids;
    return EXIT_OK;
}

/*
 * A request already assigned to someone else is re-assigned only on purpose:
 * the first helper was told they were picked and may hold the sealed
 * contact, which nobody can take back.
 */
static int check_reassign(const struct ctx *ctx, const struct root_view *v, const struct trust *t,
                          const uint8_t member[NB_KEY_SIZE], bool again)
{
    char first[NB_MEMBER_KEY_TEXT_LEN + NB_NAME_MAX + 8];

    if (v->st.kind != NB_KIND_REQUEST || !v->st.has_assignee ||
        memcmp(v->st.assignee, member, NB_KEY_SIZE) == 0) {
        return EXIT_OK;
    }
    member_label(t, v->st.assignee, false, first, sizeof(first));
    if (!again) {
        fail(EXIT_USAGE, "%.8s is already assigned to %s.", v->root.hex, first);
        fprintf(stderr,
                "%s\n"
                "To assign someone else all the same, run the command again with --again; %s\n"
                "will see that they are no longer assigned.\n",
                v->st.sealed ? "They already have the contact details you sealed to them, and "
                               "nobody can take those back."
                             : "They were told they are the helper.",
                first);
        return EXIT_USAGE;
    }
    if (!ctx->json) {
        printf("Warning: %s was assigned before%s.  They will see that they are no longer "
               "assigned.\n",
               first,
               v->st.sealed ? " and already has the contact details you sealed to them; "
                              "nobody can take those back"
                            : "");
    }
    return EXIT_OK;
}

int cmd_assign(struct ctx *ctx, int argc, char **argv)
{
    const char *contact = NULL;
    bool again = false;
    const struct opt opts[] = {
        { "contact", &contact, NULL },
        { "again", NULL, &again },
        { NULL, NULL, NULL },
    };
    const char *pos[2];
    struct root_view v;
    struct trust trust;
    struct member_candidates cands;
    uint8_t(*cand_keys)[NB_KEY_SIZE] = NULL;
    uint8_t(*cand_ids)[NB_ID_SIZE] = NULL;
    struct nb_record rec;
    uint8_t member[NB_KEY_SIZE];
    uint8_t sealed[NB_SEALED_MAX];
    char who[64], title[200], human[300], hint[96];
    char care_contact[CASE_FIELD_MAX * 3 + 64] = "";
    int rc;

    rc =
        parse_args(ctx, argc, argv, opts, pos, 2, 2, "assign ID MEMBER [--contact TEXT] [--again]");
    if (rc != 0) {
        return rc;
    }
    rc = text_option("--contact", contact, 1, NB_SEALED_MAX - NB_SEAL_OVERHEAD, true);
    if (rc != EXIT_OK) {
        return rc;
    }
    rc = begin(ctx, pos[0], &v);
    if (rc != EXIT_OK) {
        return rc;
    }
    memset(sealed, 0, sizeof(sealed));
    rc = trust_load(ctx, &trust);
    if (rc != EXIT_OK) {
        root_free(&v);
        return rc;
    }
    rc = responders(&v, &cands, &cand_keys, &cand_ids);
    if (rc != EXIT_OK) {
        goto out;
    }
    snprintf(hint, sizeof(hint), "; `noaber show %.8s` lists them", v.root.hex);
    cands.hint = hint;
    rc = member_resolve(&cands, &trust, pos[1],
                        v.root.rec.kind == NB_KIND_OFFER ? "the members who asked"
                                                         : "the members who responded",
                        member);
    if (rc != EXIT_OK) {
        goto out;
    }
    if (memcmp(member, ctx->pk, NB_KEY_SIZE) == 0) {
        rc = fail(EXIT_USAGE,
                  "you cannot assign yourself; pick a member who responded (`noaber "
                  "show %.8s` lists them).",
                  v.root.hex);
        goto out;
    }
    rc = check_reassign(ctx, &v, &trust, member, again);
    if (rc != EXIT_OK) {
        goto out;
    }
    /* A request posted for someone in the coordinator's caseload carries the
     * contact the coordinator chose for them, unless --contact says otherwise. */
    if (contact == NULL) {
        rc = caseload_assign_contact(ctx, v.root.id, care_contact, sizeof(care_contact));
        if (rc != EXIT_OK) {
            goto out;
        }
        if (care_contact[0] != '\0') {
            contact = care_contact;
        }
    }
    init_record(&rec, NB_KIND_ASSIGNMENT, v.root.id);
    memcpy(rec.member, member, NB_KEY_SIZE);
    NB_SET(&rec, NB_F_MEMBER);
    if (contact != NULL) {
        rc = seal_text(contact, member, &rec, sealed, "the contact");
        if (rc != EXIT_OK) {
            goto out;
        }
    }
    member_label(&trust, member, false, who, sizeof(who));
    title_of(&v.root.rec, title, sizeof(title));
    snprintf(human, sizeof(human), "Assigned %s to %s", who, title);
    rc = submit_record(ctx, &rec, human, NULL);
    if (rc == EXIT_OK && !ctx->json) {
        if (contact != NULL) {
            printf("Your contact details are sealed: only %s can read them.\n", who);
        } else {
            printf("Tip: --contact \"...\" passes an address or phone number sealed to them.\n");
        }
        print_safety_hints(stdout);
    }
out:
    sodium_memzero(sealed, sizeof(sealed));
    sodium_memzero(care_contact, sizeof(care_contact));
    free(cand_keys);
    free(cand_ids);
    trust_free(&trust);
    root_free(&v);
    return rc;
}

int seal_text(const char *text, const uint8_t member[NB_KEY_SIZE], struct nb_record *rec,
              uint8_t sealed[NB_SEALED_MAX], const char *what)
{
    size_t len = strlen(text);
    /* Only the member's secret key opens this: not the node, not its operator. */
    int rc = nb_seal((const uint8_t *)text, len, member, sealed);
    if (rc != 0) {
        char key[NB_MEMBER_KEY_TEXT_LEN + 1];
        nb_member_key_to_text(member, key);
        return fail(EXIT_ERROR, "%s cannot be sealed to %s: %s.", what, key, nb_strerror(rc));
    }
    rec->sealed.ptr = sealed;
    rec->sealed.len = len + NB_SEAL_OVERHEAD;
    NB_SET(rec, NB_F_SEALED);
    return EXIT_OK;
}

/*
 * For an offer, the done claim and the confirmation target one assignment.
 * Picks it: the one the user named, else the one of `member` (the asker
 * confirming), else the offerer's only open assignment.
 */
static int offer_assignment(struct ctx *ctx, const struct root_view *v, const uint8_t *member,
                            const uint8_t **ret_id)
{
    const uint8_t *found = NULL;
    size_t n = 0;

    if (v->has_given && v->given.rec.kind == NB_KIND_ASSIGNMENT) {
        *ret_id = v->given.id;
        return EXIT_OK;
    }
    for (size_t i = 0; i < v->st.n_responses; i++) {
        const struct nb_state_response *r = &v->st.responses[i];
        if (!r->assignment.present || r->status == NB_RESPONSE_WITHDRAWN) {
            continue;
        }
        if (member != NULL && memcmp(r->author, member, NB_KEY_SIZE) != 0) {
            continue;
        }
        if (member == NULL && r->status != NB_RESPONSE_ASSIGNED) {
            continue;
        }
        found = r->assignment.id;
        n++;
    }
    if (n == 0) {
        return fail(EXIT_ERROR, "nobody is assigned on offer %.8s for this.", v->root.hex);
    }
    if (n > 1) {
        return fail(EXIT_ERROR,
                    "several neighbours are assigned on offer %.8s; name the assignment id "
                    "that `noaber show %.8s` lists.",
                    v->root.hex, v->root.hex);
    }
    *ret_id = found;
    return EXIT_OK;
}

/* Which record an action on an offer targets (on a request: the request). */
enum offer_target {
    OFFER_ITSELF,   /* the offer */
    OFFER_ASSIGNED, /* the offerer's one open assignment */
    OFFER_MINE,     /* the assignment of the user, the asker */
};

/*
 * An action that is one record with no field but its target, an optional
 * note and, for pause and resume, the paused flag: done, confirm, cancel,
 * pause and resume.  The sentence printed is before, the title, after.
 */
struct simple_action {
    const char *usage;
    uint8_t kind;
    const char *note_option; /* the option that sets the note, or NULL */
    enum offer_target on_offer;
    int paused; /* NB_F_PAUSED's value, or -1 for no such field */
    const char *before, *after;
    const char *then; /* printed on success (not with --json), or NULL */
};

/*
 * Pausing a paused offer or resuming an available one changes nothing, and
 * the node refuses it; say which command the offerer meant instead.
 */
static int check_pause(const struct root_view *v, bool pause)
{
    const char *hex = v->root.hex;

    if (v->root.rec.kind != NB_KIND_OFFER) {
        return fail(EXIT_USAGE, "%.8s is a request; only a standing offer is %s.", hex,
                    pause ? "paused" : "resumed");
    }
    switch (v->st.status) {
    case NB_STATUS_AVAILABLE:
        return pause ? EXIT_OK
                     : fail(EXIT_USAGE,
                            "offer %.8s is not paused: it is available already (`noaber pause "
                            "%.8s` pauses it).",
                            hex, hex);
    case NB_STATUS_PAUSED:
        return !pause ? EXIT_OK
                      : fail(EXIT_USAGE,
                             "offer %.8s is paused already; `noaber resume %.8s` makes it "
                             "available again.",
                             hex, hex);
    case NB_STATUS_EXPIRED:
        return fail(EXIT_USAGE,
                    "offer %.8s has expired; `noaber renew %.8s` puts it up again as a new "
                    "offer.",
                    hex, hex);
    case NB_STATUS_WITHDRAWN:
        return fail(EXIT_USAGE,
                    "offer %.8s was withdrawn and stays so; `noaber offer ...` posts a new one.",
                    hex);
    default:
        return EXIT_OK;
    }
}

static int simple_action(struct ctx *ctx, int argc, char **argv, const struct simple_action *a)
{
    const char *note = NULL;
    const struct opt opts[] = { { a->note_option, &note, NULL }, { NULL, NULL, NULL } };
    const char *pos[1];
    struct root_view v;
    struct nb_record rec;
    const uint8_t *target;
    char title[200], human[300];
    int rc;

    rc = parse_args(ctx, argc, argv, a->note_option != NULL ? opts : NULL, pos, 1, 1, a->usage);
    if (rc != 0) {
        return rc;
    }
    if (a->note_option != NULL) {
        char option[32];
        snprintf(option, sizeof(option), "--%s", a->note_option);
        rc = text_option(option, note, 0, NB_NOTE_MAX, true);
        if (rc != EXIT_OK) {
            return rc;
        }
    }
    rc = begin(ctx, pos[0], &v);
    if (rc != EXIT_OK) {
        return rc;
    }
    if (a->kind == NB_KIND_PAUSE) {
        rc = check_pause(&v, a->paused != 0);
        if (rc != EXIT_OK) {
            goto out;
        }
    }
    target = v.root.id;
    if (v.root.rec.kind == NB_KIND_OFFER && a->on_offer != OFFER_ITSELF) {
        rc = offer_assignment(ctx, &v, a->on_offer == OFFER_MINE ? ctx->pk : NULL, &target);
        if (rc != EXIT_OK) {
            goto out;
        }
    }
    init_record(&rec, a->kind, target);
    if (note != NULL) {
        set_text(&rec.note, note);
        NB_SET(&rec, NB_F_NOTE);
    }
    if (a->paused >= 0) {
        rec.paused = a->paused != 0;
        NB_SET(&rec, NB_F_PAUSED);
    }
    title_of(&v.root.rec, title, sizeof(title));
    snprintf(human, sizeof(human), "%s%s%s", a->before, title, a->after);
    rc = submit_record(ctx, &rec, human, NULL);
    if (rc == EXIT_OK && !ctx->json && a->then != NULL) {
        fputs(a->then, stdout);
    }
out:
    root_free(&v);
    return rc;
}

int cmd_done(struct ctx *ctx, int argc, char **argv)
{
    static const struct simple_action done = {
        "done ID",  NB_KIND_DONE_CLAIM,
        NULL,       OFFER_ASSIGNED,
        -1,         "Marked ",
        " as done", "Thank you.  The neighbour you helped will be asked to confirm.\n",
    };
    return simple_action(ctx, argc, argv, &done);
}

int cmd_confirm(struct ctx *ctx, int argc, char **argv)
{
    static const struct simple_action confirm = {
        "confirm ID [--thanks TEXT]",
        NB_KIND_CONFIRMATION,
        "thanks",
        OFFER_MINE,
        -1,
        "Confirmed ",
        " is done",
        NULL,
    };
    return simple_action(ctx, argc, argv, &confirm);
}

int cmd_cancel(struct ctx *ctx, int argc, char **argv)
{
    static const struct simple_action cancel = {
        "cancel ID", NB_KIND_CANCELLATION, NULL, OFFER_ITSELF, -1, "Cancelled ", "", NULL,
    };
    return simple_action(ctx, argc, argv, &cancel);
}

int cmd_retract(struct ctx *ctx, int argc, char **argv)
{
    const char *pos[1];
    struct fetched f;
    struct nb_record rec;
    char human[300];
    int rc;

    rc = parse_args(ctx, argc, argv, NULL, pos, 1, 1, "retract ID");
    if (rc != 0) {
        return rc;
    }
    rc = open_for(ctx, pos[0]);
    if (rc == EXIT_OK) {
        rc = fetch_record(ctx, pos[0], &f);
    }
    if (rc != EXIT_OK) {
        return rc;
    }
    init_record(&rec, NB_KIND_RETRACTION, f.id);
    snprintf(human, sizeof(human), "Retracted your %s %.8s; nodes delete it",
             kind_words(f.rec.kind), f.hex);
    rc = submit_record(ctx, &rec, human, NULL);
    fetched_free(&f);
    return rc;
}

int cmd_pause(struct ctx *ctx, int argc, char **argv)
{
    static const struct simple_action pause = {
        "pause ID", NB_KIND_PAUSE, NULL, OFFER_ITSELF, 1, "Paused your offer ", "", NULL,
    };
    return simple_action(ctx, argc, argv, &pause);
}

int cmd_resume(struct ctx *ctx, int argc, char **argv)
{
    static const struct simple_action resume = {
        "resume ID", NB_KIND_PAUSE, NULL, OFFER_ITSELF, 0, "Resumed your offer ", "", NULL,
    };
    return simple_action(ctx, argc, argv, &resume);
}

/* Copies what a neighbour wrote in an offer; the new record points into `from`. */
static void copy_offer(const struct nb_record *from, struct nb_record *to)
{
    static const unsigned fields[] = {
        NB_F_TITLE, NB_F_DETAILS,   NB_F_CATEGORY, NB_F_TAGS, NB_F_URGENCY,
        NB_F_WHEN,  NB_F_LANGUAGES, NB_F_AREA,     NB_F_MODE, NB_F_ON_BEHALF_OF,
    };
    memset(to, 0, sizeof(*to));
    to->kind = NB_KIND_OFFER;
    to->title = from->title;
    to->details = from->details;
    to->category = from->category;
    memcpy(to->tags, from->tags, sizeof(to->tags));
    to->n_tags = from->n_tags;
    to->urgency = from->urgency;
    to->when = from->when;
    to->mode = from->mode;
    memcpy(to->languages, from->languages, sizeof(to->languages));
    to->n_languages = from->n_languages;
    to->area = from->area;
    to->on_behalf_of = from->on_behalf_of;
    for (size_t i = 0; i < sizeof(fields) / sizeof(fields[0]); i++) {
        if (NB_HAS(from, fields[i])) {
            NB_SET(to, fields[i]);
        }
    }
}

/*
 * Renewing a standing offer (docs/protocol.md, "Renewing a standing offer"):
 * a record's expiry is signed and cannot change, so the renewal is a new
 * offer with the same text and a new expiry, and a withdrawal of the old
 * one (unless it has expired already).  Help agreed on the old offer goes on
 * there; neighbours who asked and were not assigned yet ask again on the new
 * one.
 */
int cmd_renew(struct ctx *ctx, int argc, char **argv)
{
    const char *expires = NULL;
    const struct opt opts[] = { { "expires", &expires, NULL }, { NULL, NULL, NULL } };
    const char *pos[1];
    struct root_view v;
    struct nb_record rec;
    uint8_t new_id[NB_ID_SIZE];
    char new_hex[NB_ID_SIZE * 2 + 1], rel[48], title[200];
    uint64_t lifetime = 0;
    size_t pending = 0;
    bool json = ctx->json;
    int rc;

    rc = parse_args(ctx, argc, argv, opts, pos, 1, 1, "renew ID [--expires DURATION]");
    if (rc != 0) {
        return rc;
    }
    rc = expires_option(expires, &lifetime);
    if (rc != EXIT_OK) {
        return rc;
    }
    rc = begin(ctx, pos[0], &v);
    if (rc != EXIT_OK) {
        return rc;
    }
    if (v.root.rec.kind != NB_KIND_OFFER || memcmp(v.root.rec.author, ctx->pk, NB_KEY_SIZE) != 0) {
        rc = fail(EXIT_USAGE,
                  "%.8s is not a standing offer of yours; renew keeps your own offer up (a "
                  "request is posted again with `noaber ask`).",
                  v.root.hex);
        goto out;
    }
    if (v.st.status == NB_STATUS_WITHDRAWN || v.st.status == NB_STATUS_RETRACTED) {
        rc = fail(EXIT_USAGE, "offer %.8s was withdrawn; `noaber offer ...` posts a new one.",
                  v.root.hex);
        goto out;
    }
    if (lifetime == 0) {
        /* As long as the offer was meant to stand the first time. */
        lifetime = v.st.expires_at > v.root.rec.created_at ? v.st.expires_at - v.root.rec.created_at
                                                           : NB_EXPIRY_DEFAULT;
    }
    for (size_t i = 0; i < v.st.n_responses; i++) {
        pending += v.st.responses[i].status == NB_RESPONSE_PENDING;
    }
    copy_offer(&v.root.rec, &rec);
    rec.expires_at = (ctx->min_created_at > ctx->now ? ctx->min_created_at : ctx->now) + lifetime;
    NB_SET(&rec, NB_F_EXPIRES_AT);
    ctx->json = false;
    rc = submit_record(ctx, &rec, NULL, new_id);
    if (rc == EXIT_OK && v.st.status != NB_STATUS_EXPIRED) {
        struct nb_record w;
        init_record(&w, NB_KIND_WITHDRAWAL, v.root.id);
        rc = submit_record(ctx, &w, NULL, NULL);
    }
    ctx->json = json;
    if (rc != EXIT_OK) {
        goto out;
    }
    nb_hex(new_id, NB_ID_SIZE, new_hex);
    if (ctx->json) {
        json_object_begin(&ctx->j);
        json_key(&ctx->j, "id");
        json_string(&ctx->j, new_hex);
        json_key(&ctx->j, "replaces");
        json_string(&ctx->j, v.root.hex);
        json_key(&ctx->j, "expires_at");
        json_uint(&ctx->j, rec.expires_at);
        json_object_end(&ctx->j);
        json_finish(&ctx->j);
        goto out;
    }
    title_of(&v.root.rec, title, sizeof(title));
    format_relative(ctx->now, rec.expires_at, rel, sizeof(rel));
    printf("Renewed your offer %s: it is up again as %.8s until %s.\n", title, new_hex, rel);
    if (v.st.status != NB_STATUS_EXPIRED) {
        printf("The old offer %.8s is withdrawn; help agreed on it goes on there.\n", v.root.hex);
    }
    if (pending > 0) {
        printf("%zu neighbour%s asked and %s not assigned yet; they see the old offer withdrawn "
               "and can ask again on %.8s.\n",
               pending, pending == 1 ? "" : "s", pending == 1 ? "was" : "were", new_hex);
    }
    if (v.st.paused) {
        printf("The new offer is available; `noaber pause %.8s` pauses it again.\n", new_hex);
    }
out:
    root_free(&v);
    return rc;
}
