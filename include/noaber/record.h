/*
 * Signed records: the one data type Noaber nodes store and replicate.
 *
 * A record is a canonical msgpack array
 *
 *     [format, kind, author, created_at, body, signature]
 *
 * where body is a map from small field numbers to values.  Field numbers are
 * global: a number has one type and one bound in every kind, and each kind
 * says which fields it requires and which it allows (docs/protocol.md,
 * "Records").  The signature is Ed25519 by the author over
 *
 *     "noaber/record/v1" || neighbourhood_id || bytes[0 .. end of body]
 *
 * so a record signed for one neighbourhood does not verify in another.  The
 * record id is BLAKE2b-256 of all the signed bytes.
 *
 * Decoding never allocates more than a small multiple of the input size, and
 * a decoded struct nb_record points into the caller's input buffer: keep the
 * buffer alive as long as the record.
 */
#ifndef NOABER_RECORD_H
#define NOABER_RECORD_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

#define NB_RECORD_FORMAT         1
#define NB_RECORD_MAX            8192 /* bytes of a whole signed record */
#define NB_ID_SIZE               32
#define NB_KEY_SIZE              32 /* member public key (Ed25519) */
#define NB_SECRET_KEY_SIZE       64 /* libsodium Ed25519 secret key (seed || pk) */
#define NB_SEED_SIZE             32
#define NB_SIG_SIZE              64
#define NB_NEIGHBOURHOOD_ID_SIZE 32

/* Bounds, in bytes of UTF-8 unless stated otherwise. */
#define NB_TITLE_MAX      120
#define NB_DETAILS_MAX    2000
#define NB_TAG_MAX        32
#define NB_TAGS_MAX       8  /* count */
#define NB_LANGUAGE_MAX   35 /* a BCP 47 tag */
#define NB_LANGUAGES_MAX  8  /* count */
#define NB_AREA_MAX       64
#define NB_WHEN_MAX       100
#define NB_NAME_MAX       64 /* on_behalf_of, profile name */
#define NB_NOTE_MAX       500
#define NB_ABOUT_MAX      500
#define NB_SEALED_MAX     2048 /* bytes of a sealed box */
#define NB_FUTURE_SKEW    600  /* seconds created_at may be ahead of now */
#define NB_EXPIRY_MAX     (90u * 24 * 3600)
#define NB_EXPIRY_DEFAULT (7u * 24 * 3600)

enum nb_kind {
    NB_KIND_REQUEST = 1,
    NB_KIND_OFFER = 2,
    NB_KIND_RESPONSE = 3,     /* to a request: "I can help"; to an offer: "may I?" */
    NB_KIND_WITHDRAWAL = 4,   /* withdraws the author's response, or the author's offer */
    NB_KIND_ASSIGNMENT = 5,   /* requester (or offerer) picks a member */
    NB_KIND_DONE_CLAIM = 6,   /* the helper says the task is done */
    NB_KIND_CONFIRMATION = 7, /* the one helped confirms, optionally with thanks */
    NB_KIND_CANCELLATION = 8, /* the requester cancels a request */
    NB_KIND_RETRACTION = 9,   /* the author deletes one of their own records */
    NB_KIND_PROFILE = 10,
    NB_KIND_VOUCH = 11,
    NB_KIND_MESSAGE = 12, /* a sealed message between two members */
    NB_KIND_PAUSE = 13,   /* the offerer pauses or resumes a standing offer */
    NB_KIND_MAX_ = 13,
};

/* Body field numbers (keys of the body map), in canonical order. */
enum nb_field {
    NB_F_TITLE = 1,         /* str 1..120 */
    NB_F_DETAILS = 2,       /* str 0..2000 */
    NB_F_CATEGORY = 3,      /* uint, enum nb_category */
    NB_F_TAGS = 4,          /* array 0..8 of str 1..32 */
    NB_F_URGENCY = 5,       /* uint, enum nb_urgency */
    NB_F_WHEN = 6,          /* str 1..100, the time window in words */
    NB_F_MODE = 7,          /* uint, enum nb_mode */
    NB_F_LANGUAGES = 8,     /* array 0..8 of str 2..35 (BCP 47) */
    NB_F_AREA = 9,          /* str 1..64, a coarse area, never an address */
    NB_F_EXPIRES_AT = 10,   /* uint, seconds since the epoch */
    NB_F_ON_BEHALF_OF = 11, /* str 1..64 */
    NB_F_TARGET = 12,       /* bin 32, the id of the record this one acts on */
    NB_F_MEMBER = 13,       /* bin 32, assignee / vouched member / recipient */
    NB_F_NOTE = 14,         /* str 0..500 */
    NB_F_SEALED = 15,       /* bin 49..2048, a sealed box to NB_F_MEMBER */
    NB_F_PAUSED = 16,       /* bool */
    NB_F_NAME = 17,         /* str 1..64 */
    NB_F_ABOUT = 18,        /* str 0..500 */
    NB_F_MAX_ = 18,
};

enum nb_category {
    NB_CAT_GROCERIES = 0,
    NB_CAT_TRANSPORT = 1,
    NB_CAT_MEALS = 2,
    NB_CAT_COMPANY = 3,
    NB_CAT_PAPERWORK = 4,
    NB_CAT_REPAIRS = 5,
    NB_CAT_CARE = 6,
    NB_CAT_CHILDCARE = 7,
    NB_CAT_PETS = 8,
    NB_CAT_OTHER = 9,
    NB_CAT_COUNT = 10,
};

enum nb_urgency {
    NB_URGENCY_TODAY = 0,
    NB_URGENCY_THIS_WEEK = 1,
    NB_URGENCY_THIS_MONTH = 2,
    NB_URGENCY_WHENEVER = 3,
    NB_URGENCY_COUNT = 4,
};

enum nb_mode {
    NB_MODE_IN_PERSON = 0,
    NB_MODE_REMOTE = 1,
    NB_MODE_EITHER = 2,
    NB_MODE_COUNT = 3,
};

/* A view of UTF-8 text; not NUL-terminated. */
struct nb_text {
    const char *ptr;
    size_t len;
};

struct nb_bytes {
    const uint8_t *ptr;
    size_t len;
};

/*
 * The decoded (or to-be-encoded) form of a record.  `fields` is a bitmask of
 * the body fields present: bit (1u << NB_F_x).  Members for absent fields are
 * ignored when encoding and zero after decoding.
 */
struct nb_record {
    uint8_t kind;
    uint8_t author[NB_KEY_SIZE];
    uint64_t created_at;
    uint32_t fields;

    struct nb_text title;
    struct nb_text details;
    uint8_t category;
    struct nb_text tags[NB_TAGS_MAX];
    uint8_t n_tags;
    uint8_t urgency;
    struct nb_text when;
    uint8_t mode;
    struct nb_text languages[NB_LANGUAGES_MAX];
    uint8_t n_languages;
    struct nb_text area;
    uint64_t expires_at;
    struct nb_text on_behalf_of;
    uint8_t target[NB_ID_SIZE];
    uint8_t member[NB_KEY_SIZE];
    struct nb_text note;
    struct nb_bytes sealed;
    bool paused;
    struct nb_text name;
    struct nb_text about;

    uint8_t signature[NB_SIG_SIZE];
};

#define NB_HAS(rec, f) (((rec)->fields >> (f)) & 1u)
#define NB_SET(rec, f) ((rec)->fields |= (1u << (f)))

/* Returns "request", "offer", ... or NULL for an unknown kind. */
const char *nb_kind_name(unsigned kind);
/* Parses a kind name; returns the kind or NB_EKIND. */
int nb_kind_parse(const char *name);
const char *nb_category_name(unsigned category);
int nb_category_parse(const char *name);
const char *nb_urgency_name(unsigned urgency);
int nb_urgency_parse(const char *name);
const char *nb_mode_name(unsigned mode);
int nb_mode_parse(const char *name);

/*
 * Checks everything that needs only the record itself: field presence per
 * kind, every bound, UTF-8, expiry bounds.  `now` is the caller's clock; a
 * created_at more than NB_FUTURE_SKEW seconds ahead of it is refused.  Does
 * not check the signature.
 */
int nb_record_validate(const struct nb_record *rec, uint64_t now);

/*
 * Signs `rec` (whose author must match the secret key) for the given
 * neighbourhood and writes the canonical signed bytes to `out`.  On success
 * *ret_len is the length and rec->signature is set.  `out` must hold
 * NB_RECORD_MAX bytes.  Validates first (with now = rec->created_at).
 */
int nb_record_sign(struct nb_record *rec, const uint8_t secret_key[NB_SECRET_KEY_SIZE],
                   const uint8_t neighbourhood_id[NB_NEIGHBOURHOOD_ID_SIZE], uint8_t *out,
                   size_t *ret_len);

/*
 * Decodes untrusted bytes into *ret.  Rejects anything that is not exactly
 * the canonical encoding of a record (NB_ENONCANONICAL, NB_ETRAILING, ...).
 * Does not verify the signature nor validate bounds against a clock; call
 * nb_record_verify and nb_record_validate for that, or nb_record_open for
 * all three.  *ret points into `buf`.
 */
int nb_record_decode(const uint8_t *buf, size_t len, struct nb_record *ret);

/* Verifies the signature of canonical record bytes for the neighbourhood. */
int nb_record_verify(const uint8_t *buf, size_t len,
                     const uint8_t neighbourhood_id[NB_NEIGHBOURHOOD_ID_SIZE]);

/* decode + verify + validate(now): what a node does with any incoming record. */
int nb_record_open(const uint8_t *buf, size_t len,
                   const uint8_t neighbourhood_id[NB_NEIGHBOURHOOD_ID_SIZE], uint64_t now,
                   struct nb_record *ret);

/* The record id: BLAKE2b-256 of the signed bytes. */
void nb_record_id(const uint8_t *buf, size_t len, uint8_t ret_id[NB_ID_SIZE]);

/*
 * Writes the canonical bytes of `rec` as it is, rec->signature included,
 * without validating or signing: for re-encoding a decoded record (a decoded
 * record re-encodes to exactly its input).  Writes at most min(cap,
 * NB_RECORD_MAX) bytes; NB_ETOOBIG if the record does not fit.
 */
int nb_record_encode(const struct nb_record *rec, uint8_t *out, size_t cap, size_t *ret_len);

#ifdef __cplusplus
}
#endif

#endif
