/*
 * Signed records: canonical encoding, decoding, signing, verification and
 * self-contained validation.  docs/protocol.md ("Records") is the normative
 * description; this file is one implementation of it.
 */
#include <noaber/record.h>

#include <string.h>

#include <sodium.h>

#include <noaber/error.h>
#include <noaber/identity.h>

#include "proto/mp.h"

#define SIGN_CONTEXT     "noaber/record/v1"
#define SIGN_CONTEXT_LEN 16
/* The signature element: bin8 header (0xc4, 64) and the 64 signature bytes. */
#define SIG_ELEMENT_LEN (2 + NB_SIG_SIZE)
/* created_at may not be before 2020-01-01T00:00:00Z: Noaber did not exist. */
#define CREATED_AT_MIN 1577836800u
/* Record nesting: the record array, the body map, a tags/languages array. */
#define RECORD_DEPTH 3

#define BIT(f) (1u << (f))

enum field_type {
    T_TEXT,    /* str, one line */
    T_TEXT_NL, /* str, may contain \n */
    T_UINT,
    T_TEXTS, /* array of str */
    T_ID,    /* bin 32 */
    T_BIN,
    T_BOOL,
};

static const enum field_type field_types[NB_F_MAX_ + 1] = {
    [NB_F_TITLE] = T_TEXT,      [NB_F_DETAILS] = T_TEXT_NL,   [NB_F_CATEGORY] = T_UINT,
    [NB_F_TAGS] = T_TEXTS,      [NB_F_URGENCY] = T_UINT,      [NB_F_WHEN] = T_TEXT,
    [NB_F_MODE] = T_UINT,       [NB_F_LANGUAGES] = T_TEXTS,   [NB_F_AREA] = T_TEXT,
    [NB_F_EXPIRES_AT] = T_UINT, [NB_F_ON_BEHALF_OF] = T_TEXT, [NB_F_TARGET] = T_ID,
    [NB_F_MEMBER] = T_ID,       [NB_F_NOTE] = T_TEXT_NL,      [NB_F_SEALED] = T_BIN,
    [NB_F_PAUSED] = T_BOOL,     [NB_F_NAME] = T_TEXT,         [NB_F_ABOUT] = T_TEXT_NL,
};

struct kind_rule {
    const char *name;
    uint32_t required;
    uint32_t optional;
};

#define LISTING_REQUIRED                                                                           \
    (BIT(NB_F_TITLE) | BIT(NB_F_CATEGORY) | BIT(NB_F_AREA) | BIT(NB_F_EXPIRES_AT))
#define LISTING_OPTIONAL                                                                           \
    (BIT(NB_F_DETAILS) | BIT(NB_F_TAGS) | BIT(NB_F_URGENCY) | BIT(NB_F_WHEN) | BIT(NB_F_MODE) |    \
     BIT(NB_F_LANGUAGES) | BIT(NB_F_ON_BEHALF_OF))

static const struct kind_rule kinds[NB_KIND_MAX_ + 1] = {
    [NB_KIND_REQUEST] = { "request", LISTING_REQUIRED, LISTING_OPTIONAL },
    [NB_KIND_OFFER] = { "offer", LISTING_REQUIRED, LISTING_OPTIONAL },
    [NB_KIND_RESPONSE] = { "response", BIT(NB_F_TARGET), BIT(NB_F_NOTE) },
    [NB_KIND_WITHDRAWAL] = { "withdrawal", BIT(NB_F_TARGET), 0 },
    [NB_KIND_ASSIGNMENT] = { "assignment", BIT(NB_F_TARGET) | BIT(NB_F_MEMBER), BIT(NB_F_SEALED) },
    [NB_KIND_DONE_CLAIM] = { "done_claim", BIT(NB_F_TARGET), BIT(NB_F_NOTE) },
    [NB_KIND_CONFIRMATION] = { "confirmation", BIT(NB_F_TARGET), BIT(NB_F_NOTE) },
    [NB_KIND_CANCELLATION] = { "cancellation", BIT(NB_F_TARGET), BIT(NB_F_NOTE) },
    [NB_KIND_RETRACTION] = { "retraction", BIT(NB_F_TARGET), 0 },
    [NB_KIND_PROFILE] = { "profile", BIT(NB_F_NAME),
                          BIT(NB_F_ABOUT) | BIT(NB_F_LANGUAGES) | BIT(NB_F_AREA) },
    [NB_KIND_VOUCH] = { "vouch", BIT(NB_F_MEMBER), BIT(NB_F_NOTE) },
    [NB_KIND_MESSAGE] = { "message", BIT(NB_F_MEMBER) | BIT(NB_F_SEALED) | BIT(NB_F_EXPIRES_AT),
                          BIT(NB_F_TARGET) },
    [NB_KIND_PAUSE] = { "pause", BIT(NB_F_TARGET) | BIT(NB_F_PAUSED), 0 },
};

static const char *const category_names[NB_CAT_COUNT] = {
    "groceries", "transport", "meals",     "company", "paperwork",
    "repairs",   "care",      "childcare", "pets",    "other",
};

static const char *const urgency_names[NB_URGENCY_COUNT] = {
    "today",
    "this_week",
    "this_month",
    "whenever",
};

static const char *const mode_names[NB_MODE_COUNT] = {
    "in_person",
    "remote",
    "either",
};

static int parse_name(const char *const *names, unsigned count, const char *name)
{
    if (name == NULL) {
        return NB_EINVAL;
    }
    for (unsigned i = 0; i < count; i++) {
        if (names[i] != NULL && strcmp(names[i], name) == 0) {
            return (int)i;
        }
    }
    return NB_EINVAL;
}

const char *nb_kind_name(unsigned kind)
{
    return kind >= 1 && kind <= NB_KIND_MAX_ ? kinds[kind].name : NULL;
}

int nb_kind_parse(const char *name)
{
    for (unsigned k = 1; name != NULL && k <= NB_KIND_MAX_; k++) {
        if (strcmp(kinds[k].name, name) == 0) {
            return (int)k;
        }
    }
    return NB_EKIND;
}

const char *nb_category_name(unsigned category)
{
    return category < NB_CAT_COUNT ? category_names[category] : NULL;
}

int nb_category_parse(const char *name)
{
    return parse_name(category_names, NB_CAT_COUNT, name);
}

const char *nb_urgency_name(unsigned urgency)
{
    return urgency < NB_URGENCY_COUNT ? urgency_names[urgency] : NULL;
}

int nb_urgency_parse(const char *name)
{
    return parse_name(urgency_names, NB_URGENCY_COUNT, name);
}

const char *nb_mode_name(unsigned mode)
{
    return mode < NB_MODE_COUNT ? mode_names[mode] : NULL;
}

int nb_mode_parse(const char *name)
{
    return parse_name(mode_names, NB_MODE_COUNT, name);
}

/* Pointers to the members of a record that hold each kind of field. */
static const struct nb_text *text_field(const struct nb_record *rec, unsigned f)
{
    switch (f) {
    case NB_F_TITLE:
        return &rec->title;
    case NB_F_DETAILS:
        return &rec->details;
    case NB_F_WHEN:
        return &rec->when;
    case NB_F_AREA:
        return &rec->area;
    case NB_F_ON_BEHALF_OF:
        return &rec->on_behalf_of;
    case NB_F_NOTE:
        return &rec->note;
    case NB_F_NAME:
        return &rec->name;
    case NB_F_ABOUT:
        return &rec->about;
    default:
        return NULL;
    }
}

static uint64_t uint_field(const struct nb_record *rec, unsigned f)
{
    switch (f) {
    case NB_F_CATEGORY:
        return rec->category;
    case NB_F_URGENCY:
        return rec->urgency;
    case NB_F_MODE:
        return rec->mode;
    default:
        return rec->expires_at;
    }
}

/* ---- encoding ---------------------------------------------------------- */

static int pack_text(msgpack_packer *pk, const struct nb_text *t)
{
    if (t->len > 0 && t->ptr == NULL) {
        return NB_EINVAL;
    }
    msgpack_pack_str(pk, t->len);
    msgpack_pack_str_body(pk, t->ptr, t->len);
    return 0;
}

static int pack_texts(msgpack_packer *pk, const struct nb_text *items, size_t n, size_t max)
{
    if (n > max) {
        return NB_EFIELD;
    }
    msgpack_pack_array(pk, n);
    for (size_t i = 0; i < n; i++) {
        int r = pack_text(pk, &items[i]);
        if (r < 0) {
            return r;
        }
    }
    return 0;
}

/*
 * Writes the canonical encoding of `rec`.  Without the signature, the output
 * is exactly the signing input's record part (an array header announcing six
 * elements followed by the first five).  Checks only what it must to produce
 * well-defined bytes; nb_record_validate checks the rest.
 */
static int encode(const struct nb_record *rec, bool with_signature, uint8_t *out, size_t cap,
                  size_t *ret_len)
{
    struct nb_mp_buf b;
    msgpack_packer pk;
    int r;

    if (rec->kind < 1 || rec->kind > NB_KIND_MAX_) {
        return NB_EKIND;
    }
    if ((rec->fields & ~((BIT(NB_F_MAX_) << 1) - 2)) != 0) {
        return NB_EFIELD;
    }
    nb_mp_buf_init(&b, out, cap);
    msgpack_packer_init(&pk, &b, nb_mp_buf_write);

    msgpack_pack_array(&pk, 6);
    msgpack_pack_uint64(&pk, NB_RECORD_FORMAT);
    msgpack_pack_uint64(&pk, rec->kind);
    msgpack_pack_bin_with_body(&pk, rec->author, NB_KEY_SIZE);
    msgpack_pack_uint64(&pk, rec->created_at);
    msgpack_pack_map(&pk, (size_t)__builtin_popcount(rec->fields));
    for (unsigned f = 1; f <= NB_F_MAX_; f++) {
        if (!NB_HAS(rec, f)) {
            continue;
        }
        msgpack_pack_uint64(&pk, f);
        r = 0;
        switch (field_types[f]) {
        case T_TEXT:
        case T_TEXT_NL:
            r = pack_text(&pk, text_field(rec, f));
            break;
        case T_UINT:
            msgpack_pack_uint64(&pk, uint_field(rec, f));
            break;
        case T_TEXTS:
            if (f == NB_F_TAGS) {
                r = pack_texts(&pk, rec->tags, rec->n_tags, NB_TAGS_MAX);
            } else {
                r = pack_texts(&pk, rec->languages, rec->n_languages, NB_LANGUAGES_MAX);
            }
            break;
        case T_ID:
            msgpack_pack_bin_with_body(&pk, f == NB_F_TARGET ? rec->target : rec->member,
                                       NB_ID_SIZE);
            break;
        case T_BIN:
            if (rec->sealed.len > 0 && rec->sealed.ptr == NULL) {
                return NB_EINVAL;
            }
            msgpack_pack_bin_with_body(&pk, rec->sealed.ptr, rec->sealed.len);
            break;
        case T_BOOL:
            if (rec->paused) {
                msgpack_pack_true(&pk);
            } else {
                msgpack_pack_false(&pk);
            }
            break;
        }
        if (r < 0) {
            return r;
        }
    }
    if (with_signature) {
        msgpack_pack_bin_with_body(&pk, rec->signature, NB_SIG_SIZE);
    }
    if (b.overflow) {
        return NB_ETOOBIG;
    }
    *ret_len = b.len;
    return 0;
}

int nb_record_encode(const struct nb_record *rec, uint8_t *out, size_t cap, size_t *ret_len)
{
    if (rec == NULL || out == NULL || ret_len == NULL) {
        return NB_EINVAL;
    }
    return encode(rec, true, out, cap > NB_RECORD_MAX ? NB_RECORD_MAX : cap, ret_len);
}

/* ---- validation -------------------------------------------------------- */

static int check_text(const struct nb_text *t, size_t min, size_t max, unsigned flags)
{
    if (t->len < min || t->len > max) {
        return NB_EFIELD;
    }
    if (t->len > 0 && t->ptr == NULL) {
        return NB_EINVAL;
    }
    return nb_utf8_check(t->ptr, t->len, flags);
}

/* A BCP 47 tag is ASCII letters, digits and hyphens; we do not check its
 * grammar, only that it cannot smuggle anything else into a client. */
static int check_language(const struct nb_text *t)
{
    if (t->len < 2 || t->len > NB_LANGUAGE_MAX || t->ptr == NULL) {
        return NB_EFIELD;
    }
    for (size_t i = 0; i < t->len; i++) {
        char c = t->ptr[i];
        bool ok =
            (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '-';
        if (!ok) {
            return NB_EFIELD;
        }
    }
    return 0;
}

static int check_field(const struct nb_record *rec, unsigned f)
{
    int r;
    switch (f) {
    case NB_F_TITLE:
        return check_text(&rec->title, 1, NB_TITLE_MAX, 0);
    case NB_F_DETAILS:
        return check_text(&rec->details, 0, NB_DETAILS_MAX, NB_UTF8_NEWLINE);
    case NB_F_CATEGORY:
        return rec->category < NB_CAT_COUNT ? 0 : NB_EFIELD;
    case NB_F_TAGS:
        if (rec->n_tags > NB_TAGS_MAX) {
            return NB_EFIELD;
        }
        for (unsigned i = 0; i < rec->n_tags; i++) {
            r = check_text(&rec->tags[i], 1, NB_TAG_MAX, 0);
            if (r < 0) {
                return r;
            }
        }
        return 0;
    case NB_F_URGENCY:
        return rec->urgency < NB_URGENCY_COUNT ? 0 : NB_EFIELD;
    case NB_F_WHEN:
        return check_text(&rec->when, 1, NB_WHEN_MAX, 0);
    case NB_F_MODE:
        return rec->mode < NB_MODE_COUNT ? 0 : NB_EFIELD;
    case NB_F_LANGUAGES:
        if (rec->n_languages > NB_LANGUAGES_MAX) {
            return NB_EFIELD;
        }
        for (unsigned i = 0; i < rec->n_languages; i++) {
            r = check_language(&rec->languages[i]);
            if (r < 0) {
                return r;
            }
        }
        return 0;
    case NB_F_AREA:
        return check_text(&rec->area, 1, NB_AREA_MAX, 0);
    case NB_F_EXPIRES_AT:
        if (rec->expires_at <= rec->created_at ||
            rec->expires_at - rec->created_at > NB_EXPIRY_MAX) {
            return NB_EEXPIRY;
        }
        return 0;
    case NB_F_ON_BEHALF_OF:
        return check_text(&rec->on_behalf_of, 1, NB_NAME_MAX, 0);
    case NB_F_NOTE:
        return check_text(&rec->note, 0, NB_NOTE_MAX, NB_UTF8_NEWLINE);
    case NB_F_SEALED:
        if (rec->sealed.len < NB_SEAL_OVERHEAD + 1 || rec->sealed.len > NB_SEALED_MAX ||
            rec->sealed.ptr == NULL) {
            return NB_EFIELD;
        }
        return 0;
    case NB_F_NAME:
        return check_text(&rec->name, 1, NB_NAME_MAX, 0);
    case NB_F_ABOUT:
        return check_text(&rec->about, 0, NB_ABOUT_MAX, NB_UTF8_NEWLINE);
    default: /* TARGET, MEMBER (fixed size), PAUSED (any bool) */
        return 0;
    }
}

int nb_record_validate(const struct nb_record *rec, uint64_t now)
{
    if (rec == NULL) {
        return NB_EINVAL;
    }
    if (rec->kind < 1 || rec->kind > NB_KIND_MAX_) {
        return NB_EKIND;
    }
    const struct kind_rule *rule = &kinds[rec->kind];
    if ((rec->fields & rule->required) != rule->required ||
        (rec->fields & ~(rule->required | rule->optional)) != 0) {
        return NB_EFIELD;
    }
    if (rec->created_at < CREATED_AT_MIN) {
        return NB_EFIELD;
    }
    if (rec->created_at > now && rec->created_at - now > NB_FUTURE_SKEW) {
        return NB_EFUTURE;
    }
    for (unsigned f = 1; f <= NB_F_MAX_; f++) {
        if (NB_HAS(rec, f)) {
            int r = check_field(rec, f);
            if (r < 0) {
                return r;
            }
        }
    }
    /* Assigning, vouching for or writing to oneself means nothing, and a
     * self-vouch would let anyone inflate their own standing. */
    if (NB_HAS(rec, NB_F_MEMBER) && sodium_memcmp(rec->member, rec->author, NB_KEY_SIZE) == 0) {
        return NB_EFIELD;
    }
    /* The whole record must fit the size every node accepts. */
    uint8_t tmp[NB_RECORD_MAX];
    size_t len;
    return encode(rec, true, tmp, sizeof(tmp), &len);
}

/* ---- decoding ---------------------------------------------------------- */

static int decode_texts(const msgpack_object *o, size_t max, struct nb_text *items, uint8_t *ret_n)
{
    const msgpack_object *elems;
    size_t n;
    int r = nb_mp_get_array(o, max, &elems, &n);
    if (r < 0) {
        return r;
    }
    for (size_t i = 0; i < n; i++) {
        r = nb_mp_get_str(&elems[i], 0, SIZE_MAX, &items[i]);
        if (r < 0) {
            return r;
        }
    }
    *ret_n = (uint8_t)n;
    return 0;
}

static int decode_field(const msgpack_object *v, unsigned f, struct nb_record *rec)
{
    uint64_t u;
    int r;
    switch (f) {
    case NB_F_CATEGORY:
        r = nb_mp_get_uint(v, NB_CAT_COUNT - 1, &u);
        rec->category = (uint8_t)u;
        return r;
    case NB_F_URGENCY:
        r = nb_mp_get_uint(v, NB_URGENCY_COUNT - 1, &u);
        rec->urgency = (uint8_t)u;
        return r;
    case NB_F_MODE:
        r = nb_mp_get_uint(v, NB_MODE_COUNT - 1, &u);
        rec->mode = (uint8_t)u;
        return r;
    case NB_F_EXPIRES_AT:
        return nb_mp_get_uint(v, UINT64_MAX, &rec->expires_at);
    case NB_F_TAGS:
        return decode_texts(v, NB_TAGS_MAX, rec->tags, &rec->n_tags);
    case NB_F_LANGUAGES:
        return decode_texts(v, NB_LANGUAGES_MAX, rec->languages, &rec->n_languages);
    case NB_F_TARGET:
        return nb_mp_get_bin_exact(v, NB_ID_SIZE, rec->target);
    case NB_F_MEMBER:
        return nb_mp_get_bin_exact(v, NB_KEY_SIZE, rec->member);
    case NB_F_SEALED:
        return nb_mp_get_bin(v, 0, SIZE_MAX, &rec->sealed);
    case NB_F_PAUSED:
        return nb_mp_get_bool(v, &rec->paused);
    default:
        return nb_mp_get_str(v, 0, SIZE_MAX, (struct nb_text *)text_field(rec, f));
    }
}

static int decode_body(const msgpack_object *o, struct nb_record *rec)
{
    const msgpack_object_kv *pairs;
    size_t n;
    unsigned last = 0;
    int r = nb_mp_get_map(o, NB_F_MAX_, &pairs, &n);
    if (r < 0) {
        return r;
    }
    for (size_t i = 0; i < n; i++) {
        uint64_t f;
        if (pairs[i].key.type != MSGPACK_OBJECT_POSITIVE_INTEGER) {
            return NB_EMALFORMED;
        }
        f = pairs[i].key.via.u64;
        if (f < 1 || f > NB_F_MAX_) {
            return NB_EFIELD;
        }
        /* Keys strictly ascending: no duplicates, one possible order. */
        if (f <= last) {
            return NB_ENONCANONICAL;
        }
        last = (unsigned)f;
        r = decode_field(&pairs[i].val, (unsigned)f, rec);
        if (r < 0) {
            return r;
        }
        NB_SET(rec, (unsigned)f);
    }
    return 0;
}

int nb_record_decode(const uint8_t *buf, size_t len, struct nb_record *ret)
{
    struct nb_mp_doc doc;
    struct nb_record rec;
    const msgpack_object *items;
    size_t n;
    uint64_t u;
    int r;

    if (buf == NULL || ret == NULL) {
        return NB_EINVAL;
    }
    r = nb_mp_decode(buf, len, NB_RECORD_MAX, RECORD_DEPTH, &doc);
    if (r < 0) {
        return r;
    }
    memset(&rec, 0, sizeof(rec));

    r = nb_mp_get_array(nb_mp_root(&doc), 6, &items, &n);
    if (r < 0 || n != 6) {
        r = NB_EMALFORMED;
        goto out;
    }
    r = nb_mp_get_uint(&items[0], UINT64_MAX, &u);
    if (r < 0) {
        goto out;
    }
    if (u != NB_RECORD_FORMAT) {
        r = NB_EVERSION;
        goto out;
    }
    r = nb_mp_get_uint(&items[1], UINT64_MAX, &u);
    if (r < 0) {
        goto out;
    }
    if (u < 1 || u > NB_KIND_MAX_) {
        r = NB_EKIND;
        goto out;
    }
    rec.kind = (uint8_t)u;
    if (nb_mp_get_bin_exact(&items[2], NB_KEY_SIZE, rec.author) < 0 ||
        nb_mp_get_uint(&items[3], UINT64_MAX, &rec.created_at) < 0 ||
        nb_mp_get_bin_exact(&items[5], NB_SIG_SIZE, rec.signature) < 0) {
        r = NB_EMALFORMED;
        goto out;
    }
    r = decode_body(&items[4], &rec);
    if (r < 0) {
        goto out;
    }

    /* The explicit checks above catch the common deviations with a precise
     * code; re-encoding catches every other one (longer integer or length
     * forms, a signed integer type for a positive value). */
    uint8_t again[NB_RECORD_MAX];
    size_t again_len;
    if (encode(&rec, true, again, sizeof(again), &again_len) < 0 || again_len != len ||
        memcmp(again, buf, len) != 0) {
        r = NB_ENONCANONICAL;
        goto out;
    }
    *ret = rec;
    r = 0;
out:
    nb_mp_doc_free(&doc);
    return r;
}

/* ---- signatures -------------------------------------------------------- */

/* Builds "noaber/record/v1" || neighbourhood_id || record part in msg. */
static size_t
signing_input(const uint8_t *part, size_t part_len,
              const uint8_t neighbourhood_id[NB_NEIGHBOURHOOD_ID_SIZE],
              uint8_t msg[SIGN_CONTEXT_LEN + NB_NEIGHBOURHOOD_ID_SIZE + NB_RECORD_MAX])
{
    memcpy(msg, SIGN_CONTEXT, SIGN_CONTEXT_LEN);
    memcpy(msg + SIGN_CONTEXT_LEN, neighbourhood_id, NB_NEIGHBOURHOOD_ID_SIZE);
    memcpy(msg + SIGN_CONTEXT_LEN + NB_NEIGHBOURHOOD_ID_SIZE, part, part_len);
    return SIGN_CONTEXT_LEN + NB_NEIGHBOURHOOD_ID_SIZE + part_len;
}

int nb_record_sign(struct nb_record *rec, const uint8_t secret_key[NB_SECRET_KEY_SIZE],
                   const uint8_t neighbourhood_id[NB_NEIGHBOURHOOD_ID_SIZE], uint8_t *out,
                   size_t *ret_len)
{
    uint8_t msg[SIGN_CONTEXT_LEN + NB_NEIGHBOURHOOD_ID_SIZE + NB_RECORD_MAX];
    uint8_t sig[NB_SIG_SIZE];
    size_t part_len;
    int r;

    if (rec == NULL || secret_key == NULL || neighbourhood_id == NULL || out == NULL ||
        ret_len == NULL) {
        return NB_EINVAL;
    }
    if (sodium_init() < 0) {
        return NB_ECRYPTO;
    }
    /* libsodium's secret key is seed || public key. */
    if (sodium_memcmp(secret_key + NB_SEED_SIZE, rec->author, NB_KEY_SIZE) != 0) {
        return NB_EINVAL;
    }
    r = nb_record_validate(rec, rec->created_at);
    if (r < 0) {
        return r;
    }
    r = encode(rec, false, out, NB_RECORD_MAX - SIG_ELEMENT_LEN, &part_len);
    if (r < 0) {
        return r;
    }
    size_t msg_len = signing_input(out, part_len, neighbourhood_id, msg);
    if (crypto_sign_detached(sig, NULL, msg, msg_len, secret_key) != 0) {
        return NB_ECRYPTO;
    }
    out[part_len] = 0xc4;
    out[part_len + 1] = NB_SIG_SIZE;
    memcpy(out + part_len + 2, sig, NB_SIG_SIZE);
    memcpy(rec->signature, sig, NB_SIG_SIZE);
    *ret_len = part_len + SIG_ELEMENT_LEN;
    return 0;
}

/* Verifies canonical bytes already decoded into rec. */
static int verify_decoded(const uint8_t *buf, size_t len, const struct nb_record *rec,
                          const uint8_t neighbourhood_id[NB_NEIGHBOURHOOD_ID_SIZE])
{
    uint8_t msg[SIGN_CONTEXT_LEN + NB_NEIGHBOURHOOD_ID_SIZE + NB_RECORD_MAX];

    if (sodium_init() < 0) {
        return NB_ECRYPTO;
    }
    /* Canonical bytes end with exactly the signature element. */
    size_t msg_len = signing_input(buf, len - SIG_ELEMENT_LEN, neighbourhood_id, msg);
    if (crypto_sign_verify_detached(rec->signature, msg, msg_len, rec->author) != 0) {
        return NB_EBADSIG;
    }
    return 0;
}

int nb_record_verify(const uint8_t *buf, size_t len,
                     const uint8_t neighbourhood_id[NB_NEIGHBOURHOOD_ID_SIZE])
{
    struct nb_record rec;
    if (neighbourhood_id == NULL) {
        return NB_EINVAL;
    }
    int r = nb_record_decode(buf, len, &rec);
    if (r < 0) {
        return r;
    }
    return verify_decoded(buf, len, &rec, neighbourhood_id);
}

int nb_record_open(const uint8_t *buf, size_t len,
                   const uint8_t neighbourhood_id[NB_NEIGHBOURHOOD_ID_SIZE], uint64_t now,
                   struct nb_record *ret)
{
    struct nb_record rec;
    if (neighbourhood_id == NULL || ret == NULL) {
        return NB_EINVAL;
    }
    int r = nb_record_decode(buf, len, &rec);
    if (r < 0) {
        return r;
    }
    r = verify_decoded(buf, len, &rec, neighbourhood_id);
    if (r < 0) {
        return r;
    }
    r = nb_record_validate(&rec, now);
    if (r < 0) {
        return r;
    }
    *ret = rec;
    return 0;
}

void nb_record_id(const uint8_t *buf, size_t len, uint8_t ret_id[NB_ID_SIZE])
{
    crypto_generichash(ret_id, NB_ID_SIZE, buf, len, NULL, 0);
}
