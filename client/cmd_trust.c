/*
 * `noaber vouch`, `noaber vouches` and `noaber profile`: members vouch for
 * each other and say who they are, and the trust that `list --trusted` and
 * `show` use is derived from the vouches a node holds.
 *
 * Trust is computed here, in the client, from the member's own point of
 * view: the same records give Alice and Dave different trusted sets, so it
 * cannot be a property the daemon stores.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <noaber/identity.h>

#include "client.h"

/* The most records of one kind a `list` call returns. */
#define TRUST_LIST_LIMIT NB_CTL_LIST_MAX

static const uint8_t *key_at(const uint8_t (*keys)[NB_KEY_SIZE], size_t n,
                             const uint8_t pk[NB_KEY_SIZE])
{
    for (size_t i = 0; i < n; i++) {
        if (memcmp(keys[i], pk, NB_KEY_SIZE) == 0) {
            return keys[i];
        }
    }
    return NULL;
}

/* Lists the records of one kind; the caller frees the reply. */
static int list_kind(struct ctx *ctx, const char *kind, struct ctl_reply *ret,
                     const msgpack_object **ret_items)
{
    struct ctl_req req;

    ctl_req_begin(&ctx->ctl, &req, NB_CTL_OP_LIST, 2);
    ctl_req_str(&req, "kind", kind);
    ctl_req_uint(&req, "limit", TRUST_LIST_LIMIT);
    return call_list(ctx, &req, ret, kind[0] == 'v' ? "the vouches" : "the profiles", ret_items);
}

/* Decodes the i-th listed record of `kind`; returns 0 or -1 (skip it). */
static int listed_record(const msgpack_object *items, uint32_t i, unsigned kind,
                         struct nb_record *ret_rec, uint8_t ret_id[NB_ID_SIZE])
{
    const msgpack_object *it = &items->via.array.ptr[i];
    const uint8_t *bytes;
    size_t len;

    if (it->type != MSGPACK_OBJECT_MAP || ctl_get_bin(it, "record", &bytes, &len) != 0 ||
        nb_record_decode(bytes, len, ret_rec) != 0 || ret_rec->kind != kind ||
        ctl_get_bin_exact(it, "id", ret_id, NB_ID_SIZE) != 0) {
        return -1;
    }
    return 0;
}

static int load_vouches(struct ctx *ctx, struct trust *t)
{
    struct ctl_reply reply;
    const msgpack_object *items;
    int rc = list_kind(ctx, "vouch", &reply, &items);

    if (rc != EXIT_OK) {
        return rc;
    }
    if (items->via.array.size > 0) {
        t->vouches = calloc(items->via.array.size, sizeof(*t->vouches));
        if (t->vouches == NULL) {
            ctl_reply_free(&reply);
            return fail(EXIT_ERROR, "out of memory.");
        }
    }
    for (uint32_t i = 0; i < items->via.array.size; i++) {
        struct vouch_edge *e = &t->vouches[t->n_vouches];
        struct nb_record rec;

        if (listed_record(items, i, NB_KIND_VOUCH, &rec, e->id) != 0) {
            continue;
        }
        memcpy(e->by, rec.author, NB_KEY_SIZE);
        memcpy(e->member, rec.member, NB_KEY_SIZE);
        e->created_at = rec.created_at;
        if (NB_HAS(&rec, NB_F_NOTE)) {
            memcpy(e->note, rec.note.ptr, rec.note.len);
        }
        e->note[NB_HAS(&rec, NB_F_NOTE) ? rec.note.len : 0] = '\0';
        t->n_vouches++;
    }
    ctl_reply_free(&reply);
    return EXIT_OK;
}

static int load_names(struct ctx *ctx, struct trust *t)
{
    struct ctl_reply reply;
    const msgpack_object *items;
    int rc = list_kind(ctx, "profile", &reply, &items);

    if (rc != EXIT_OK) {
        return rc;
    }
    if (items->via.array.size > 0) {
        t->names = calloc(items->via.array.size, sizeof(*t->names));
        if (t->names == NULL) {
            ctl_reply_free(&reply);
            return fail(EXIT_ERROR, "out of memory.");
        }
    }
    /* The list comes newest first, so the first profile of a member is the
     * one that wins. */
    for (uint32_t i = 0; i < items->via.array.size; i++) {
        struct member_name *m = &t->names[t->n_names];
        struct nb_record rec;
        uint8_t id[NB_ID_SIZE];

        if (listed_record(items, i, NB_KIND_PROFILE, &rec, id) != 0 ||
            trust_name(t, rec.author) != NULL) {
            continue;
        }
        memcpy(m->member, rec.author, NB_KEY_SIZE);
        memcpy(m->name, rec.name.ptr, rec.name.len);
        m->name[rec.name.len] = '\0';
        t->n_names++;
    }
    ctl_reply_free(&reply);
    return EXIT_OK;
}

static void add_trusted(struct trust *t, const uint8_t pk[NB_KEY_SIZE])
{
    if (key_at((const uint8_t(*)[NB_KEY_SIZE])t->trusted, t->n_trusted, pk) == NULL) {
        memcpy(t->trusted[t->n_trusted++], pk, NB_KEY_SIZE);
    }
}

/*
 * Me, the members I vouch for, and the members they vouch for: two hops.
 * A longer chain would let a stranger in through a friend of a friend of a
 * friend, whom nobody the member knows can answer for.
 */
static int derive_trusted(struct trust *t)
{
    size_t first_hop_end;

    t->trusted = calloc(t->n_vouches + 1, NB_KEY_SIZE);
    if (t->trusted == NULL) {
        return fail(EXIT_ERROR, "out of memory.");
    }
    add_trusted(t, t->me);
    for (size_t i = 0; i < t->n_vouches; i++) {
        if (memcmp(t->vouches[i].by, t->me, NB_KEY_SIZE) == 0) {
            add_trusted(t, t->vouches[i].member);
        }
    }
    first_hop_end = t->n_trusted;
    for (size_t i = 0; i < t->n_vouches; i++) {
        const struct vouch_edge *e = &t->vouches[i];
        if (key_at((const uint8_t(*)[NB_KEY_SIZE])t->trusted + 1, first_hop_end - 1, e->by) !=
            NULL) {
            add_trusted(t, e->member);
        }
    }
    return EXIT_OK;
}

int trust_load(struct ctx *ctx, struct trust *ret)
{
    struct trust t;
    int rc;

    memset(&t, 0, sizeof(t));
    t.have_me = ctx->have_key;
    if (t.have_me) {
        memcpy(t.me, ctx->pk, NB_KEY_SIZE);
    }
    rc = load_vouches(ctx, &t);
    if (rc == EXIT_OK) {
        rc = load_names(ctx, &t);
    }
    if (rc == EXIT_OK && t.have_me) {
        rc = derive_trusted(&t);
    }
    if (rc != EXIT_OK) {
        trust_free(&t);
        return rc;
    }
    *ret = t;
    return EXIT_OK;
}

void trust_free(struct trust *t)
{
    free(t->vouches);
    free(t->names);
    free(t->trusted);
    memset(t, 0, sizeof(*t));
}

bool trust_is_trusted(const struct trust *t, const uint8_t pk[NB_KEY_SIZE])
{
    return key_at((const uint8_t(*)[NB_KEY_SIZE])t->trusted, t->n_trusted, pk) != NULL;
}

size_t trust_vouchers(const struct trust *t, const uint8_t pk[NB_KEY_SIZE])
{
    size_t n = 0;

    for (size_t i = 0; i < t->n_vouches; i++) {
        const struct vouch_edge *e = &t->vouches[i];
        bool counted = false;

        if (memcmp(e->member, pk, NB_KEY_SIZE) != 0 || !trust_is_trusted(t, e->by)) {
            continue;
        }
        /* A member who vouched twice is still one person. */
        for (size_t k = 0; k < i && !counted; k++) {
            counted = memcmp(t->vouches[k].member, pk, NB_KEY_SIZE) == 0 &&
                      memcmp(t->vouches[k].by, e->by, NB_KEY_SIZE) == 0;
        }
        n += !counted;
    }
    return n;
}

const char *trust_name(const struct trust *t, const uint8_t pk[NB_KEY_SIZE])
{
    for (size_t i = 0; i < t->n_names; i++) {
        if (memcmp(t->names[i].member, pk, NB_KEY_SIZE) == 0) {
            return t->names[i].name;
        }
    }
    return NULL;
}

void member_label(const struct trust *t, const uint8_t pk[NB_KEY_SIZE], bool full, char *buf,
                  size_t size)
{
    char key[NB_MEMBER_KEY_TEXT_LEN + 8];
    const char *name = t != NULL ? trust_name(t, pk) : NULL;

    if (full) {
        nb_member_key_to_text(pk, key);
    } else {
        short_member(pk, key, sizeof(key));
    }
    /* A label is cut to the column it goes in; a cut label is still useful,
     * so a short buffer is not an error (checking the length says so). */
    int n =
        name != NULL ? snprintf(buf, size, "%s (%s)", key, name) : snprintf(buf, size, "%s", key);
    if (n < 0 && size > 0) {
        buf[0] = '\0';
    }
}

/* ---- commands -------------------------------------------------------------- */

static int member_arg(const char *text, uint8_t member[NB_KEY_SIZE])
{
    if (nb_member_key_from_text(text, member) != 0) {
        return fail(EXIT_USAGE,
                    "\"%s\" is not a member key; it starts with nbm1 (`noaber id show` prints "
                    "yours, `noaber show ID` the authors of a request).",
                    text);
    }
    return EXIT_OK;
}

static int retract_vouches(struct ctx *ctx, const struct trust *t, const uint8_t member[],
                           const char *text)
{
    size_t n = 0, done = 0;
    char label[NB_MEMBER_KEY_TEXT_LEN + NB_NAME_MAX + 8];
    char human[256];
    bool json = ctx->json;
    int rc = EXIT_OK;

    for (size_t i = 0; i < t->n_vouches; i++) {
        const struct vouch_edge *e = &t->vouches[i];
        if (memcmp(e->by, ctx->pk, NB_KEY_SIZE) == 0 &&
            memcmp(e->member, member, NB_KEY_SIZE) == 0) {
            n++;
            if (e->created_at + 1 > ctx->min_created_at) {
                ctx->min_created_at = e->created_at + 1;
            }
        }
    }
    if (n == 0) {
        return fail(EXIT_ERROR, "you do not vouch for %s (`noaber vouches` lists whom you do).",
                    text);
    }
    member_label(t, member, false, label, sizeof(label));
    snprintf(human, sizeof(human), "You no longer vouch for %s; nodes delete your vouch", label);
    /* A member who vouched twice retracts both; only the last one is told. */
    for (size_t i = 0; i < t->n_vouches && rc == EXIT_OK; i++) {
        const struct vouch_edge *e = &t->vouches[i];
        struct nb_record rec;
        bool last;

        if (memcmp(e->by, ctx->pk, NB_KEY_SIZE) != 0 ||
            memcmp(e->member, member, NB_KEY_SIZE) != 0) {
            continue;
        }
        last = ++done == n;
        memset(&rec, 0, sizeof(rec));
        rec.kind = NB_KIND_RETRACTION;
        memcpy(rec.target, e->id, NB_ID_SIZE);
        NB_SET(&rec, NB_F_TARGET);
        ctx->json = json && last;
        rc = submit_record(ctx, &rec, last ? human : NULL, NULL);
    }
    ctx->json = json;
    return rc;
}

int cmd_vouch(struct ctx *ctx, int argc, char **argv)
{
    static const char usage[] = "vouch MEMBER [--note TEXT] | vouch --retract MEMBER";
    const char *note = NULL;
    bool retract = false;
    const struct opt opts[] = {
        { "note", &note, NULL },
        { "retract", NULL, &retract },
        { NULL, NULL, NULL },
    };
    const char *pos[1];
    uint8_t member[NB_KEY_SIZE];
    char label[NB_MEMBER_KEY_TEXT_LEN + NB_NAME_MAX + 8];
    char human[256];
    struct trust t;
    struct nb_record rec;
    int rc;

    rc = parse_args(ctx, argc, argv, opts, pos, 1, 1, usage);
    if (rc != 0) {
        return rc;
    }
    if (retract && note != NULL) {
        return fail(EXIT_USAGE, "--note is for a new vouch, not with --retract.");
    }
    rc = text_option("--note", note, 0, NB_NOTE_MAX, true);
    if (rc == EXIT_OK) {
        rc = member_arg(pos[0], member);
    }
    if (rc == EXIT_OK) {
        rc = identity_load(ctx);
    }
    if (rc != EXIT_OK) {
        return rc;
    }
    if (memcmp(member, ctx->pk, NB_KEY_SIZE) == 0) {
        return fail(EXIT_USAGE, "you cannot vouch for yourself; others vouch for you.");
    }
    rc = session_open(ctx, true);
    if (rc == EXIT_OK) {
        rc = trust_load(ctx, &t);
    }
    if (rc != EXIT_OK) {
        return rc;
    }
    if (retract) {
        rc = retract_vouches(ctx, &t, member, pos[0]);
        trust_free(&t);
        return rc;
    }
    member_label(&t, member, false, label, sizeof(label));
    for (size_t i = 0; i < t.n_vouches; i++) {
        const struct vouch_edge *e = &t.vouches[i];
        if (memcmp(e->by, ctx->pk, NB_KEY_SIZE) == 0 &&
            memcmp(e->member, member, NB_KEY_SIZE) == 0) {
            char hex[NB_ID_SIZE * 2 + 1];
            char already[sizeof(label) + 32];
            nb_hex(e->id, NB_ID_SIZE, hex);
            snprintf(already, sizeof(already), "You already vouch for %s", label);
            print_record_id(ctx, hex, already);
            trust_free(&t);
            return EXIT_OK;
        }
    }
    memset(&rec, 0, sizeof(rec));
    rec.kind = NB_KIND_VOUCH;
    memcpy(rec.member, member, NB_KEY_SIZE);
    NB_SET(&rec, NB_F_MEMBER);
    if (note != NULL) {
        set_text(&rec.note, note);
        NB_SET(&rec, NB_F_NOTE);
    }
    snprintf(human, sizeof(human), "You vouch for %s", label);
    rc = submit_record(ctx, &rec, human, NULL);
    if (rc == EXIT_OK && !ctx->json) {
        printf("You now trust this member and the members they vouch for "
               "(`noaber list --trusted`).\n");
    }
    trust_free(&t);
    return rc;
}

static void vouch_json(struct ctx *ctx, const struct trust *t, const struct vouch_edge *e)
{
    struct json *j = &ctx->j;
    char hex[NB_ID_SIZE * 2 + 1];
    char key[NB_MEMBER_KEY_TEXT_LEN + 1];
    const char *name;

    nb_hex(e->id, NB_ID_SIZE, hex);
    json_object_begin(j);
    json_key(j, "id");
    json_string(j, hex);
    json_key(j, "by");
    nb_member_key_to_text(e->by, key);
    json_string(j, key);
    json_key(j, "by_name");
    name = trust_name(t, e->by);
    name != NULL ? json_string(j, name) : json_null(j);
    json_key(j, "member");
    nb_member_key_to_text(e->member, key);
    json_string(j, key);
    json_key(j, "member_name");
    name = trust_name(t, e->member);
    name != NULL ? json_string(j, name) : json_null(j);
    json_key(j, "note");
    e->note[0] != '\0' ? json_string(j, e->note) : json_null(j);
    json_key(j, "created_at");
    json_uint(j, e->created_at);
    json_object_end(j);
}

int cmd_vouches(struct ctx *ctx, int argc, char **argv)
{
    const char *pos[1] = { NULL };
    uint8_t who[NB_KEY_SIZE];
    struct trust t;
    struct table tab;
    int rc;

    rc = parse_args(ctx, argc, argv, NULL, pos, 0, 1, "vouches [MEMBER]");
    if (rc != 0) {
        return rc;
    }
    if (pos[0] != NULL) {
        rc = member_arg(pos[0], who);
        /* Without an identity the list still works; "you" is just not marked. */
        identity_try_load(ctx);
    } else {
        rc = identity_load(ctx);
        if (rc == EXIT_OK) {
            memcpy(who, ctx->pk, NB_KEY_SIZE);
        }
    }
    if (rc == EXIT_OK) {
        rc = session_open(ctx, true);
    }
    if (rc == EXIT_OK) {
        rc = trust_load(ctx, &t);
    }
    if (rc != EXIT_OK) {
        return rc;
    }
    table_init(&tab, 5);
    if (ctx->json) {
        json_array_begin(&ctx->j);
    } else {
        const char *head[] = { "ID", "BY", "FOR", "WHEN", "NOTE" };
        table_add(&tab, head);
    }
    for (size_t i = 0; i < t.n_vouches; i++) {
        const struct vouch_edge *e = &t.vouches[i];
        char hex[NB_ID_SIZE * 2 + 1], rel[48], note[200];
        char by[NB_MEMBER_KEY_TEXT_LEN + NB_NAME_MAX + 16];
        char member[NB_MEMBER_KEY_TEXT_LEN + NB_NAME_MAX + 16];
        const char *row[5];

        if (memcmp(e->by, who, NB_KEY_SIZE) != 0 && memcmp(e->member, who, NB_KEY_SIZE) != 0) {
            continue;
        }
        if (ctx->json) {
            vouch_json(ctx, &t, e);
            continue;
        }
        nb_hex(e->id, NB_ID_SIZE, hex);
        hex[8] = '\0';
        member_label(&t, e->by, false, by, sizeof(by));
        member_label(&t, e->member, false, member, sizeof(member));
        if (ctx->have_key && memcmp(e->by, ctx->pk, NB_KEY_SIZE) == 0) {
            strcat(by, " (you)");
        }
        if (ctx->have_key && memcmp(e->member, ctx->pk, NB_KEY_SIZE) == 0) {
            strcat(member, " (you)");
        }
        format_relative(ctx->now, e->created_at < ctx->now ? e->created_at : ctx->now, rel,
                        sizeof(rel));
        shorten(e->note, strlen(e->note), 40, note, sizeof(note));
        row[0] = hex;
        row[1] = by;
        row[2] = member;
        row[3] = rel;
        row[4] = note;
        table_add(&tab, row);
    }
    if (ctx->json) {
        json_array_end(&ctx->j);
        json_finish(&ctx->j);
    } else if (tab.nrows <= 1) {
        printf("No vouches by or for %s.  `noaber vouch MEMBER` vouches for a member.\n",
               pos[0] != NULL ? pos[0] : "you");
    } else {
        table_print(&tab, stdout);
        if (pos[0] == NULL) {
            printf("\nYou trust %zu member%s besides yourself: those you vouch for and those "
                   "they vouch for.\n",
                   t.n_trusted - 1, t.n_trusted == 2 ? "" : "s");
        }
    }
    table_free(&tab);
    trust_free(&t);
    return EXIT_OK;
}

/*
 * The newest profile wins, and created_at has one-second resolution: a new
 * profile must come at least a second after the member's previous one, or
 * two made in the same second would be ordered by id, at random.
 */
static int after_my_profile(struct ctx *ctx)
{
    struct ctl_req req;
    struct ctl_reply reply;
    const msgpack_object *items;
    struct nb_record rec;
    uint8_t id[NB_ID_SIZE];
    int rc;

    ctl_req_begin(&ctx->ctl, &req, NB_CTL_OP_LIST, 3);
    ctl_req_str(&req, "kind", "profile");
    ctl_req_bin(&req, "author", ctx->pk, NB_KEY_SIZE);
    ctl_req_uint(&req, "limit", 1);
    rc = call_daemon(ctx, &req, &reply, "your profile");
    if (rc != EXIT_OK) {
        return rc;
    }
    items = ctl_get(reply.result, "items");
    if (items != NULL && items->type == MSGPACK_OBJECT_ARRAY && items->via.array.size > 0 &&
        listed_record(items, 0, NB_KIND_PROFILE, &rec, id) == 0 &&
        rec.created_at + 1 > ctx->min_created_at) {
        ctx->min_created_at = rec.created_at + 1;
    }
    ctl_reply_free(&reply);
    return EXIT_OK;
}

int cmd_profile(struct ctx *ctx, int argc, char **argv)
{
    static const char usage[] = "profile --name NAME [--about TEXT] [--languages L,L] [--area A]";
    const char *name = NULL, *about = NULL, *languages = NULL, *area = NULL;
    const struct opt opts[] = {
        { "name", &name, NULL }, { "about", &about, NULL }, { "languages", &languages, NULL },
        { "area", &area, NULL }, { NULL, NULL, NULL },
    };
    char languages_buf[NB_LANGUAGES_MAX * (NB_LANGUAGE_MAX + 2) + 64];
    char human[256];
    struct nb_record rec;
    int rc;

    rc = parse_args(ctx, argc, argv, opts, NULL, 0, 0, usage);
    if (rc != 0) {
        return rc;
    }
    if (name == NULL) {
        fail(EXIT_USAGE, "profile needs --name: the name your neighbours see next to your key.");
        fprintf(stderr, "usage: noaber %s\n", usage);
        return EXIT_USAGE;
    }
    rc = text_option("--name", name, 1, NB_NAME_MAX, false);
    if (rc == EXIT_OK) {
        rc = text_option("--about", about, 0, NB_ABOUT_MAX, true);
    }
    if (rc == EXIT_OK) {
        rc = text_option("--area", area, 1, NB_AREA_MAX, false);
    }
    if (rc != EXIT_OK) {
        return rc;
    }
    memset(&rec, 0, sizeof(rec));
    rec.kind = NB_KIND_PROFILE;
    set_text(&rec.name, name);
    NB_SET(&rec, NB_F_NAME);
    if (about != NULL) {
        set_text(&rec.about, about);
        NB_SET(&rec, NB_F_ABOUT);
    }
    if (area != NULL) {
        set_text(&rec.area, area);
        NB_SET(&rec, NB_F_AREA);
    }
    rc = list_option("languages", languages, LIST_LANGUAGES, languages_buf, sizeof(languages_buf),
                     rec.languages, NB_LANGUAGES_MAX, &rec.n_languages);
    if (rc != EXIT_OK) {
        return rc;
    }
    if (languages != NULL) {
        NB_SET(&rec, NB_F_LANGUAGES);
    }
    rc = identity_load(ctx);
    if (rc == EXIT_OK) {
        rc = session_open(ctx, true);
    }
    if (rc != EXIT_OK) {
        return rc;
    }
    rc = after_my_profile(ctx);
    if (rc != EXIT_OK) {
        return rc;
    }
    snprintf(human, sizeof(human), "Published your profile as \"%s\"", name);
    rc = submit_record(ctx, &rec, human, NULL);
    if (rc == EXIT_OK && !ctx->json) {
        printf("Your neighbours see this name next to your key; the newest profile counts.\n");
    }
    return rc;
}
