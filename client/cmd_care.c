/*
 * The coordinator's commands: `noaber intake` (a request taken by phone),
 * `noaber people` (my people and their requests) and `noaber calls` (who
 * to phone, and about what).  The private part lives in the caseload
 * (client/caseload.c); the neighbourhood sees only the label.
 */
#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include <sodium.h>

#include "care.h"

static const char intake_usage[] =
    "intake LABEL TITLE --category C [--area A] [--urgency U] [--expires DURATION]\n"
    "       [--details D] [--name N] [--phone P] [--address A] [--notes TEXT]\n"
    "       [--contact person|me]";

/*
 * A label is what the whole neighbourhood reads: initials or a first name,
 * one word of letters (dots, hyphens and apostrophes allowed), so that no
 * surname, phone number or address slips into it.
 */
static int label_check(const char *label)
{
    size_t n = strlen(label);
    bool letters = false;
    if (n == 0 || n > CASE_LABEL_MAX) {
        return fail(EXIT_USAGE,
                    "LABEL \"%s\" must be initials or a first name of at most %d bytes.", label,
                    CASE_LABEL_MAX);
    }
    for (const unsigned char *p = (const unsigned char *)label; *p != '\0'; p++) {
        if (*p >= 0x80 || isalpha(*p)) {
            letters = true;
        } else if (*p != '.' && *p != '-' && *p != '\'') {
            return fail(EXIT_USAGE,
                        "LABEL \"%s\" is what the neighbourhood reads: use initials or a first "
                        "name only (one word, no digits or spaces); keep the rest in --name, "
                        "--phone and --address, which stay in your caseload.",
                        label);
        }
    }
    if (!letters || text_option("LABEL", label, 1, CASE_LABEL_MAX, false) != EXIT_OK) {
        return fail(EXIT_USAGE, "LABEL \"%s\" needs letters: initials or a first name.", label);
    }
    return EXIT_OK;
}

/* Copies an option into a caseload field, checked as one line of text. */
static int set_field(const char *option, const char *value, char *field, size_t size,
                     bool multiline)
{
    if (value == NULL) {
        return EXIT_OK;
    }
    int rc = text_option(option, value, 0, size - 1, multiline);
    if (rc == EXIT_OK) {
        snprintf(field, size, "%s", value);
    }
    return rc;
}

int cmd_intake(struct ctx *ctx, int argc, char **argv)
{
    struct post_fields f;
    const char *name = NULL, *phone = NULL, *address = NULL, *notes = NULL, *contact = NULL;
    const char *pos[2];
    struct caseload cl;
    struct case_person *p;
    uint8_t id[NB_ID_SIZE];
    int rc;

    memset(&f, 0, sizeof(f));
    const struct opt opts[] = {
        { "category", &f.category, NULL },
        { "area", &f.area, NULL },
        { "urgency", &f.urgency, NULL },
        { "expires", &f.expires, NULL },
        { "details", &f.details, NULL },
        { "name", &name, NULL },
        { "phone", &phone, NULL },
        { "address", &address, NULL },
        { "notes", &notes, NULL },
        { "contact", &contact, NULL },
        { NULL, NULL, NULL },
    };
    rc = parse_args(ctx, argc, argv, opts, pos, 2, 2, intake_usage);
    if (rc != 0) {
        return rc;
    }
    rc = label_check(pos[0]);
    if (rc == EXIT_OK && f.category == NULL) {
        rc = missing_options(ctx, intake_usage, (const char *const[]){ "category" },
                             (const char *const[]){ NULL }, 1);
    }
    if (rc == EXIT_OK && contact != NULL && strcmp(contact, "person") != 0 &&
        strcmp(contact, "me") != 0) {
        rc = fail(EXIT_USAGE,
                  "--contact: \"%s\" is neither person (the helper gets the person's phone and "
                  "address) nor me (the helper gets your phone).",
                  contact);
    }
    if (rc == EXIT_OK) {
        rc = identity_load(ctx);
    }
    if (rc != EXIT_OK) {
        return rc;
    }
    rc = caseload_load(ctx, &cl);
    if (rc != EXIT_OK) {
        return rc;
    }
    p = caseload_find(&cl, pos[0]);
    if (p == NULL) {
        if (cl.n_people == CASE_PEOPLE_MAX) {
            rc = fail(EXIT_ERROR, "your caseload is full (%d people).", CASE_PEOPLE_MAX);
            goto out;
        }
        if (cl.people == NULL && (cl.people = calloc(CASE_PEOPLE_MAX, sizeof(*p))) == NULL) {
            rc = fail(EXIT_ERROR, "out of memory.");
            goto out;
        }
        if (f.area == NULL) {
            rc = fail(EXIT_USAGE,
                      "%s is new in your caseload: say once where they live with --area (a "
                      "neighbourhood or postcode, never a street).",
                      pos[0]);
            goto out;
        }
        p = &cl.people[cl.n_people++];
        memset(p, 0, sizeof(*p));
        snprintf(p->label, sizeof(p->label), "%s", pos[0]);
    }
    rc = set_field("--name", name, p->name, sizeof(p->name), false);
    if (rc == EXIT_OK) {
        rc = set_field("--phone", phone, p->phone, sizeof(p->phone), false);
    }
    if (rc == EXIT_OK) {
        rc = set_field("--address", address, p->address, sizeof(p->address), false);
    }
    if (rc == EXIT_OK) {
        rc = set_field("--notes", notes, p->notes, sizeof(p->notes), true);
    }
    if (rc == EXIT_OK) {
        rc = set_field("--area", f.area, p->area, sizeof(p->area), false);
    }
    if (rc != EXIT_OK) {
        goto out;
    }
    if (contact != NULL) {
        p->contact = strcmp(contact, "me") == 0 ? CASE_CONTACT_ME : CASE_CONTACT_PERSON;
    }
    if (p->n_asks == CASE_ASKS_MAX) {
        /* The oldest request makes room: it ended long ago. */
        memmove(&p->asks[0], &p->asks[1], (CASE_ASKS_MAX - 1) * sizeof(p->asks[0]));
        p->n_asks--;
    }
    f.title = pos[1];
    f.area = p->area;
    f.on_behalf_of = p->label;
    rc = post_submit(ctx, NB_KIND_REQUEST, &f, id);
    if (rc != EXIT_OK) {
        goto out;
    }
    memset(&p->asks[p->n_asks], 0, sizeof(p->asks[0]));
    memcpy(p->asks[p->n_asks].id, id, NB_ID_SIZE);
    p->n_asks++;
    rc = caseload_save(ctx, &cl);
    if (rc != EXIT_OK) {
        char hex[NB_ID_SIZE * 2 + 1];
        nb_hex(id, NB_ID_SIZE, hex);
        fail(EXIT_ERROR, "the request %.8s was posted for %s, but your caseload could not keep it.",
             hex, p->label);
    } else if (!ctx->json) {
        printf("Kept in your caseload for %s (only you can read it); `noaber calls` says when to "
               "phone.\n",
               p->label);
    }
out:
    caseload_free(&cl);
    return rc;
}

/* What to phone a person about for one request: the step to announce. */
enum call_reason {
    CALL_NONE = 0,
    CALL_ASSIGNED,  /* a helper was assigned: give the person their name */
    CALL_DONE,      /* the helper says it is done: ask, then confirm */
    CALL_EXPIRED,   /* nobody helped in time */
    CALL_CANCELLED, /* for completeness: the coordinator cancelled it */
};

struct ask_view {
    bool found;
    char hex[NB_ID_SIZE * 2 + 1];
    char title[NB_TITLE_MAX + 1];
    char status[32];
    char helper[128];
    enum call_reason reason;
    uint8_t event[NB_ID_SIZE]; /* the record the call is about */
};

/* Looks a request up and says what, if anything, needs a call. */
static void ask_view_load(struct ctx *ctx, const struct trust *trust, const struct case_ask *a,
                          struct ask_view *ret)
{
    struct looked_up l;
    struct root_view v;

    memset(ret, 0, sizeof(*ret));
    nb_hex(a->id, NB_ID_SIZE, ret->hex);
    snprintf(ret->status, sizeof(ret->status), "gone");
    /* A request the node no longer holds (purged after it ended) is gone
     * quietly; root_load would print an error for it. */
    if (!lookup_quiet(ctx, a->id, &l)) {
        return;
    }
    looked_up_free(&l);
    if (root_load(ctx, ret->hex, &v) != EXIT_OK) {
        return;
    }
    ret->found = true;
    snprintf(ret->title, sizeof(ret->title), "%.*s", (int)v.root.rec.title.len,
             v.root.rec.title.ptr);
    spelled(nb_status_name(v.st.status), ret->status, sizeof(ret->status));
    if (v.st.has_assignee) {
        member_label(trust, v.st.assignee, false, ret->helper, sizeof(ret->helper));
    }
    if (v.st.status == NB_STATUS_ASSIGNED && v.st.assignment.present) {
        ret->reason = CALL_ASSIGNED;
        memcpy(ret->event, v.st.assignment.id, NB_ID_SIZE);
    } else if (v.st.status == NB_STATUS_DONE_CLAIMED && v.st.done_claim.present) {
        ret->reason = CALL_DONE;
        memcpy(ret->event, v.st.done_claim.id, NB_ID_SIZE);
    } else if (v.st.status == NB_STATUS_EXPIRED && !v.st.has_assignee) {
        ret->reason = CALL_EXPIRED;
        memcpy(ret->event, a->id, NB_ID_SIZE);
    }
    if (ret->reason != CALL_NONE && a->has_called &&
        memcmp(a->called, ret->event, NB_ID_SIZE) == 0) {
        ret->reason = CALL_NONE; /* phoned already */
    }
    root_free(&v);
}

static const char *reason_word(enum call_reason r)
{
    switch (r) {
    case CALL_ASSIGNED:
        return "assigned";
    case CALL_DONE:
        return "done_claimed";
    case CALL_EXPIRED:
        return "expired";
    default:
        return "none";
    }
}

static void say_call(const struct case_person *p, const struct ask_view *av)
{
    char who[CASE_FIELD_MAX * 2 + 16];
    snprintf(who, sizeof(who), "%s%s%s%s", p->name[0] != '\0' ? p->name : p->label,
             p->phone[0] != '\0' ? " (" : "", p->phone, p->phone[0] != '\0' ? ")" : "");
    switch (av->reason) {
    case CALL_ASSIGNED:
        printf("%s was assigned to \"%s\" (%.8s): phone %s with their name.\n", av->helper,
               av->title, av->hex, who);
        break;
    case CALL_DONE:
        printf("%s says \"%s\" (%.8s) is done: phone %s to ask, then `noaber confirm %.8s`.\n",
               av->helper, av->title, av->hex, who, av->hex);
        break;
    case CALL_EXPIRED:
        printf("Nobody could help with \"%s\" (%.8s) before it expired: phone %s.\n", av->title,
               av->hex, who);
        break;
    default:
        return;
    }
}

/* `people` and `calls`: the caseload with each request's state. */
static int care_view(struct ctx *ctx, bool calls_only, const char *only_label)
{
    struct caseload cl;
    struct trust trust;
    size_t n_calls = 0, shown = 0;
    int rc = session_with_trust(ctx, true, true, &trust);
    if (rc != EXIT_OK) {
        return rc;
    }
    rc = caseload_load(ctx, &cl);
    if (rc != EXIT_OK) {
        trust_free(&trust);
        return rc;
    }
    if (ctx->json) {
        json_object_begin(&ctx->j);
        json_key(&ctx->j, calls_only ? "calls" : "people");
        json_array_begin(&ctx->j);
    }
    for (size_t i = 0; i < cl.n_people; i++) {
        const struct case_person *p = &cl.people[i];
        if (only_label != NULL && strcasecmp(p->label, only_label) != 0) {
            continue;
        }
        shown++;
        if (!calls_only && ctx->json) {
            json_object_begin(&ctx->j);
            json_key(&ctx->j, "label");
            json_string(&ctx->j, p->label);
            json_key(&ctx->j, "name");
            json_string(&ctx->j, p->name);
            json_key(&ctx->j, "phone");
            json_string(&ctx->j, p->phone);
            json_key(&ctx->j, "address");
            json_string(&ctx->j, p->address);
            json_key(&ctx->j, "area");
            json_string(&ctx->j, p->area);
            json_key(&ctx->j, "notes");
            json_string(&ctx->j, p->notes);
            json_key(&ctx->j, "contact");
            json_string(&ctx->j, p->contact == CASE_CONTACT_ME ? "me" : "person");
            json_key(&ctx->j, "requests");
            json_array_begin(&ctx->j);
        } else if (!calls_only) {
            printf("%s%s%s%s%s  (%s, the helper gets %s)\n", p->label,
                   p->name[0] != '\0' ? ": " : "", p->name, p->phone[0] != '\0' ? ", " : "",
                   p->phone, p->area, p->contact == CASE_CONTACT_ME ? "your phone" : "theirs");
            if (p->notes[0] != '\0') {
                printf("    notes: %s\n", p->notes);
            }
        }
        for (size_t k = 0; k < p->n_asks; k++) {
            struct ask_view av;
            ask_view_load(ctx, &trust, &p->asks[k], &av);
            if (calls_only && av.reason == CALL_NONE) {
                continue;
            }
            n_calls += av.reason != CALL_NONE;
            if (ctx->json) {
                json_object_begin(&ctx->j);
                if (calls_only) {
                    json_key(&ctx->j, "label");
                    json_string(&ctx->j, p->label);
                    json_key(&ctx->j, "phone");
                    json_string(&ctx->j, p->phone);
                }
                json_key(&ctx->j, "id");
                json_string(&ctx->j, av.hex);
                json_key(&ctx->j, "title");
                json_string(&ctx->j, av.title);
                json_key(&ctx->j, "status");
                json_string(&ctx->j, av.status);
                json_key(&ctx->j, "helper");
                json_string(&ctx->j, av.helper);
                json_key(&ctx->j, "call");
                json_string(&ctx->j, reason_word(av.reason));
                json_object_end(&ctx->j);
            } else if (calls_only) {
                say_call(p, &av);
            } else {
                printf("    %.8s  %-12s %s%s%s%s\n", av.hex, av.status,
                       av.found ? av.title : "(no longer on the node)",
                       av.helper[0] != '\0' ? " -- helper " : "", av.helper,
                       av.reason != CALL_NONE ? "  [phone them]" : "");
            }
        }
        if (!calls_only && ctx->json) {
            json_array_end(&ctx->j);
            json_object_end(&ctx->j);
        }
    }
    if (ctx->json) {
        json_array_end(&ctx->j);
        json_object_end(&ctx->j);
        json_finish(&ctx->j);
    } else if (shown == 0) {
        printf(only_label != NULL ? "Nobody called %s is in your caseload.\n"
                                  : "Your caseload is empty; `noaber intake` takes a request "
                                    "by phone.\n",
               only_label);
    } else if (calls_only && n_calls == 0) {
        printf("Nobody needs a call right now.\n");
    } else if (calls_only) {
        printf("After a call: `noaber calls --done ID`.\n");
    }
    caseload_free(&cl);
    trust_free(&trust);
    return EXIT_OK;
}

/* Changes the caseload itself: the coordinator's phone, or forgets a person. */
static int people_edit(struct ctx *ctx, const char *my_phone, const char *forget)
{
    struct caseload cl;
    char phone[CASE_FIELD_MAX + 1] = "";
    int rc = set_field("--my-phone", my_phone, phone, sizeof(phone), false);
    if (rc == EXIT_OK) {
        rc = identity_load(ctx);
    }
    if (rc == EXIT_OK) {
        rc = caseload_load(ctx, &cl);
    }
    if (rc != EXIT_OK) {
        return rc;
    }
    if (forget != NULL) {
        struct case_person *p = caseload_find(&cl, forget);
        if (p == NULL) {
            caseload_free(&cl);
            return fail(EXIT_USAGE, "nobody called %s is in your caseload.", forget);
        }
        /* Their requests stay on the nodes (under the label) until they end;
         * what the caseload knew about the person is gone. */
        size_t i = (size_t)(p - cl.people);
        sodium_memzero(p, sizeof(*p));
        memmove(p, p + 1, (cl.n_people - i - 1) * sizeof(*p));
        cl.n_people--;
    } else {
        snprintf(cl.my_phone, sizeof(cl.my_phone), "%s", phone);
    }
    rc = caseload_save(ctx, &cl);
    caseload_free(&cl);
    if (rc == EXIT_OK && ctx->json) {
        json_object_begin(&ctx->j);
        json_key(&ctx->j, forget != NULL ? "forgot" : "my_phone");
        json_string(&ctx->j, forget != NULL ? forget : phone);
        json_object_end(&ctx->j);
        json_finish(&ctx->j);
    } else if (rc == EXIT_OK && forget != NULL) {
        printf("%s is no longer in your caseload: their name, phone, address and notes are "
               "deleted.\n",
               forget);
    } else if (rc == EXIT_OK) {
        printf("Your phone number is kept in your caseload: helpers of people who chose "
               "--contact me get it, and `noaber sheet` prints it.\n");
    }
    return rc;
}

int cmd_people(struct ctx *ctx, int argc, char **argv)
{
    const char *my_phone = NULL, *forget = NULL;
    const char *pos[1] = { NULL };
    const struct opt opts[] = {
        { "my-phone", &my_phone, NULL },
        { "forget", &forget, NULL },
        { NULL, NULL, NULL },
    };
    int rc = parse_args(ctx, argc, argv, opts, pos, 0, 1,
                        "people [LABEL] [--my-phone NUMBER] [--forget LABEL]");
    if (rc != 0) {
        return rc;
    }
    if (my_phone != NULL && forget != NULL) {
        return fail(EXIT_USAGE, "--my-phone and --forget go in separate commands.");
    }
    if (my_phone != NULL || forget != NULL) {
        return people_edit(ctx, my_phone, forget);
    }
    return care_view(ctx, false, pos[0]);
}

int cmd_calls(struct ctx *ctx, int argc, char **argv)
{
    const char *done = NULL;
    const struct opt opts[] = {
        { "done", &done, NULL },
        { NULL, NULL, NULL },
    };
    struct caseload cl;
    struct trust trust;
    int rc = parse_args(ctx, argc, argv, opts, NULL, 0, 0, "calls [--done ID]");
    if (rc != 0) {
        return rc;
    }
    if (done == NULL) {
        return care_view(ctx, true, NULL);
    }
    rc = check_id(done);
    if (rc == EXIT_OK) {
        rc = session_with_trust(ctx, true, true, &trust);
    }
    if (rc != EXIT_OK) {
        return rc;
    }
    rc = caseload_load(ctx, &cl);
    if (rc == EXIT_OK) {
        bool marked = false;
        for (size_t i = 0; i < cl.n_people && !marked; i++) {
            for (size_t k = 0; k < cl.people[i].n_asks && !marked; k++) {
                struct case_ask *a = &cl.people[i].asks[k];
                struct ask_view av;
                char hex[NB_ID_SIZE * 2 + 1];
                nb_hex(a->id, NB_ID_SIZE, hex);
                if (strncasecmp(hex, done, strlen(done)) != 0) {
                    continue;
                }
                ask_view_load(ctx, &trust, a, &av);
                if (av.reason == CALL_NONE) {
                    rc = fail(EXIT_USAGE, "%.8s needs no call right now.", hex);
                } else {
                    memcpy(a->called, av.event, NB_ID_SIZE);
                    a->has_called = true;
                    rc = caseload_save(ctx, &cl);
                    if (rc == EXIT_OK && ctx->json) {
                        json_object_begin(&ctx->j);
                        json_key(&ctx->j, "called");
                        json_string(&ctx->j, hex);
                        json_object_end(&ctx->j);
                        json_finish(&ctx->j);
                    } else if (rc == EXIT_OK) {
                        printf("Noted: %s was phoned about %.8s.\n", cl.people[i].label, hex);
                    }
                }
                marked = true;
            }
        }
        if (!marked) {
            rc = fail(EXIT_USAGE, "no request of your caseload starts with %s.", done);
        }
        caseload_free(&cl);
    }
    trust_free(&trust);
    return rc;
}
