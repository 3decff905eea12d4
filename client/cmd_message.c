/*
 * `noaber message` and `noaber inbox`: sealed messages between two members
 * (record kind 12, docs/protocol.md).  The text is sealed to the recipient's
 * key exactly like the contact of an assignment: the nodes that carry it, and
 * their operators, hold only the sealed box.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <sodium.h>

#include <noaber/error.h>

#include "client.h"

static const char message_usage[] = "message MEMBER|ID TEXT [--about ID] [--expires DURATION]";

/* How long a message stays on the nodes unless --expires says otherwise. */
#define MESSAGE_LIFETIME (30u * 24 * 3600)
/* The most messages `inbox` opens: the newest ones. */
#define INBOX_MAX 500

/*
 * The other party of a request or offer for this member: the author for
 * anyone else; for the author, the member of the response or assignment
 * named, else the one assigned, else the one who responded.
 */
static int other_party(const struct ctx *ctx, const struct root_view *v, uint8_t ret[NB_KEY_SIZE])
{
    const uint8_t *found = NULL;
    size_t live = 0;

    if (memcmp(v->root.rec.author, ctx->pk, NB_KEY_SIZE) != 0) {
        memcpy(ret, v->root.rec.author, NB_KEY_SIZE);
        return EXIT_OK;
    }
    if (v->has_given && v->given.rec.kind == NB_KIND_RESPONSE) {
        memcpy(ret, v->given.rec.author, NB_KEY_SIZE);
        return EXIT_OK;
    }
    if (v->has_given && v->given.rec.kind == NB_KIND_ASSIGNMENT) {
        memcpy(ret, v->given.rec.member, NB_KEY_SIZE);
        return EXIT_OK;
    }
    if (v->st.kind == NB_KIND_REQUEST && v->st.has_assignee) {
        memcpy(ret, v->st.assignee, NB_KEY_SIZE);
        return EXIT_OK;
    }
    for (size_t i = 0; i < v->st.n_responses; i++) {
        if (v->st.responses[i].status != NB_RESPONSE_WITHDRAWN) {
            found = v->st.responses[i].author;
            live++;
        }
    }
    if (live == 1) {
        memcpy(ret, found, NB_KEY_SIZE);
        return EXIT_OK;
    }
    return fail(EXIT_USAGE,
                "%.8s is yours and %s; name the member: `noaber message MEMBER TEXT --about "
                "%.8s` (`noaber show %.8s` lists who responded).",
                v->root.hex, live == 0 ? "nobody responded to it yet" : "several responded",
                v->root.hex, v->root.hex);
}

/* Everyone with a profile, and for --about the members of that root too. */
static int known_members(const struct trust *t, const struct root_view *about,
                         struct member_candidates *ret, uint8_t (**ret_keys)[NB_KEY_SIZE])
{
    size_t cap = t->n_names + (about != NULL ? about->st.n_responses + 1 : 0) + 1;
    uint8_t(*keys)[NB_KEY_SIZE] = calloc(cap, NB_KEY_SIZE);
    size_t n = 0;

    if (keys == NULL) {
        return fail(EXIT_ERROR, "out of memory.");
    }
    if (about != NULL) {
        memcpy(keys[n++], about->root.rec.author, NB_KEY_SIZE);
        for (size_t i = 0; i < about->st.n_responses; i++) {
            memcpy(keys[n++], about->st.responses[i].author, NB_KEY_SIZE);
        }
    }
    for (size_t i = 0; i < t->n_names; i++) {
        bool seen = false;
        for (size_t k = 0; k < n && !seen; k++) {
            seen = memcmp(keys[k], t->names[i].member, NB_KEY_SIZE) == 0;
        }
        if (!seen) {
            memcpy(keys[n++], t->names[i].member, NB_KEY_SIZE);
        }
    }
    memset(ret, 0, sizeof(*ret));
    ret->keys = (const uint8_t(*)[NB_KEY_SIZE])keys;
    ret->n = n;
    *ret_keys = keys;
    return EXIT_OK;
}

int cmd_message(struct ctx *ctx, int argc, char **argv)
{
    const char *about_id = NULL, *expires = NULL;
    const struct opt opts[] = {
        { "about", &about_id, NULL },
        { "expires", &expires, NULL },
        { NULL, NULL, NULL },
    };
    const char *pos[2];
    struct root_view about;
    struct trust trust;
    struct member_candidates cands;
    uint8_t(*cand_keys)[NB_KEY_SIZE] = NULL;
    struct nb_record rec;
    uint8_t member[NB_KEY_SIZE], sealed[NB_SEALED_MAX];
    uint64_t lifetime = MESSAGE_LIFETIME;
    bool have_about = false;
    char who[NB_MEMBER_KEY_TEXT_LEN + NB_NAME_MAX + 8], human[200];
    int rc;

    rc = parse_args(ctx, argc, argv, opts, pos, 2, 2, message_usage);
    if (rc != 0) {
        return rc;
    }
    /* The text is an argument, not an option; it is named as the usage names it. */
    rc = text_option("TEXT", pos[1], 1, NB_SEALED_MAX - NB_SEAL_OVERHEAD, true);
    if (rc != EXIT_OK) {
        return rc;
    }
    rc = expires_option(expires, &lifetime);
    if (rc != EXIT_OK) {
        return rc;
    }
    if (about_id != NULL && check_id(about_id) != EXIT_OK) {
        return EXIT_USAGE;
    }
    rc = session_with_trust(ctx, true, true, &trust);
    if (rc != EXIT_OK) {
        return rc;
    }
    memset(sealed, 0, sizeof(sealed));
    memset(&about, 0, sizeof(about));
    if (strlen(pos[0]) >= 4 && strlen(pos[0]) <= NB_ID_SIZE * 2 && is_hex_text(pos[0]) &&
        about_id == NULL) {
        /* A record id: the message goes to the other party of that request or offer. */
        rc = root_load(ctx, pos[0], &about);
        have_about = rc == EXIT_OK;
        if (rc == EXIT_OK) {
            rc = other_party(ctx, &about, member);
        }
    } else {
        if (about_id != NULL) {
            rc = root_load(ctx, about_id, &about);
            have_about = rc == EXIT_OK;
        }
        if (rc == EXIT_OK) {
            rc = known_members(&trust, have_about ? &about : NULL, &cands, &cand_keys);
        }
        if (rc == EXIT_OK) {
            cands.hint = "; `noaber vouches` and `noaber show ID` show members' keys";
            rc = member_resolve(&cands, &trust, pos[0], "the members this node knows by name",
                                member);
        }
    }
    if (rc != EXIT_OK) {
        goto out;
    }
    if (memcmp(member, ctx->pk, NB_KEY_SIZE) == 0) {
        rc = fail(EXIT_USAGE, "that is you; a message goes to another member.");
        goto out;
    }
    memset(&rec, 0, sizeof(rec));
    rec.kind = NB_KIND_MESSAGE;
    memcpy(rec.member, member, NB_KEY_SIZE);
    NB_SET(&rec, NB_F_MEMBER);
    if (have_about) {
        memcpy(rec.target, about.root.id, NB_ID_SIZE);
        NB_SET(&rec, NB_F_TARGET);
    }
    rec.expires_at = (ctx->min_created_at > ctx->now ? ctx->min_created_at : ctx->now) + lifetime;
    NB_SET(&rec, NB_F_EXPIRES_AT);
    rc = seal_text(pos[1], member, &rec, sealed, "the message");
    if (rc != EXIT_OK) {
        goto out;
    }
    member_label(&trust, member, false, who, sizeof(who));
    snprintf(human, sizeof(human), "Sent a message sealed to %s", who);
    rc = submit_record(ctx, &rec, human, NULL);
    if (rc == EXIT_OK && !ctx->json) {
        printf("Only they can read it (`noaber inbox` on their side); nodes delete it when it "
               "expires.\n");
    }
out:
    sodium_memzero(sealed, sizeof(sealed));
    free(cand_keys);
    if (have_about) {
        root_free(&about);
    }
    trust_free(&trust);
    return rc;
}

int open_message(const struct ctx *ctx, const struct nb_record *rec, char *buf, size_t size)
{
    size_t len = 0;

    if (!ctx->have_key || !NB_HAS(rec, NB_F_SEALED) ||
        memcmp(rec->member, ctx->pk, NB_KEY_SIZE) != 0 || rec->sealed.len < NB_SEAL_OVERHEAD ||
        rec->sealed.len - NB_SEAL_OVERHEAD >= size) {
        return -1;
    }
    if (nb_unseal(rec->sealed.ptr, rec->sealed.len, ctx->pk, ctx->sk, (uint8_t *)buf, &len) != 0) {
        return -1;
    }
    /* The sender wrote this text; keep terminal control sequences out of it. */
    if (nb_utf8_check(buf, len, NB_UTF8_NEWLINE) != 0) {
        sodium_memzero(buf, size);
        return -1;
    }
    buf[len] = '\0';
    return 0;
}

int cmd_inbox(struct ctx *ctx, int argc, char **argv)
{
    struct ctl_req req;
    struct ctl_reply reply;
    struct trust trust;
    const msgpack_object *items;
    char text[NB_SEALED_MAX];
    size_t shown = 0;
    int rc;

    rc = parse_args(ctx, argc, argv, NULL, NULL, 0, 0, "inbox");
    if (rc != 0) {
        return rc;
    }
    rc = session_with_trust(ctx, true, true, &trust);
    if (rc != EXIT_OK) {
        return rc;
    }
    ctl_req_begin(&ctx->ctl, &req, NB_CTL_OP_LIST, 3);
    ctl_req_str(&req, "kind", "message");
    ctl_req_bin(&req, "member", ctx->pk, NB_KEY_SIZE);
    ctl_req_uint(&req, "limit", INBOX_MAX);
    rc = call_list(ctx, &req, &reply, "the messages", &items);
    if (rc != EXIT_OK) {
        trust_free(&trust);
        return rc;
    }
    if (ctx->json) {
        json_array_begin(&ctx->j);
    }
    for (uint32_t i = 0; i < items->via.array.size; i++) {
        const msgpack_object *it = &items->via.array.ptr[i];
        const uint8_t *bytes;
        size_t blen;
        struct nb_record rec;
        uint8_t id[NB_ID_SIZE];
        char hex[NB_ID_SIZE * 2 + 1], target[NB_ID_SIZE * 2 + 1], key[NB_MEMBER_KEY_TEXT_LEN + 1];
        char from[NB_MEMBER_KEY_TEXT_LEN + NB_NAME_MAX + 8], rel[48];
        bool opened;

        if (ctl_get_bin(it, "record", &bytes, &blen) != 0 ||
            nb_record_decode(bytes, blen, &rec) != 0 ||
            ctl_get_bin_exact(it, "id", id, NB_ID_SIZE) != 0 || rec.kind != NB_KIND_MESSAGE) {
            continue;
        }
        opened = open_message(ctx, &rec, text, sizeof(text)) == 0;
        nb_hex(id, NB_ID_SIZE, hex);
        if (NB_HAS(&rec, NB_F_TARGET)) {
            nb_hex(rec.target, NB_ID_SIZE, target);
        }
        shown++;
        if (ctx->json) {
            struct json *j = &ctx->j;
            const char *name = trust_name(&trust, rec.author);
            nb_member_key_to_text(rec.author, key);
            json_object_begin(j);
            json_key(j, "id");
            json_string(j, hex);
            json_key(j, "from");
            json_string(j, key);
            json_key(j, "from_name");
            if (name != NULL) {
                json_string(j, name);
            } else {
                json_null(j);
            }
            json_key(j, "created_at");
            json_uint(j, rec.created_at);
            json_key(j, "about");
            if (NB_HAS(&rec, NB_F_TARGET)) {
                json_string(j, target);
            } else {
                json_null(j);
            }
            json_key(j, "text");
            if (opened) {
                json_string(j, text);
            } else {
                json_null(j);
            }
            json_object_end(j);
        } else {
            member_label(&trust, rec.author, false, from, sizeof(from));
            format_relative(ctx->now, rec.created_at < ctx->now ? rec.created_at : ctx->now, rel,
                            sizeof(rel));
            printf("%sFrom %s, %s", shown > 1 ? "\n" : "", from, rel);
            if (NB_HAS(&rec, NB_F_TARGET)) {
                printf(", about %.8s", target);
            }
            printf(" (message %.8s):\n", hex);
            if (opened) {
                printf("%s\n", text);
            } else {
                printf("(this message does not open with your key; it is shown to no one)\n");
            }
        }
        sodium_memzero(text, sizeof(text));
    }
    if (ctx->json) {
        json_array_end(&ctx->j);
        json_finish(&ctx->j);
    } else if (shown == 0) {
        printf("No messages for you on this node.  `noaber message MEMBER TEXT` sends one.\n");
    }
    ctl_reply_free(&reply);
    trust_free(&trust);
    return EXIT_OK;
}
