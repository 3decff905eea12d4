/*
 * The fields of the record test vectors, shared by the generator
 * (make_record_vectors.c, which wrote tests/vectors/records.txt) and the unit
 * test (test_record.c, which checks that today's code still produces exactly
 * the committed bytes).
 *
 * The vectors tell one small story in one neighbourhood: Alice asks for help
 * with groceries, Bob responds, is assigned, says it is done and Alice
 * confirms.  Every kind appears once.  Records that act on another record
 * target the id of an earlier vector, so the ids chain.
 */
#ifndef NOABER_TESTS_RECORD_VECTORS_H
#define NOABER_TESTS_RECORD_VECTORS_H

#include <stdbool.h>
#include <stdint.h>
#include <string.h>

#include <sodium.h>

#include <noaber/error.h>
#include <noaber/record.h>

#define VECTOR_COUNT   NB_KIND_MAX_
#define VECTOR_T0      1764403200u /* 2025-11-29T08:00:00Z */
#define VECTOR_DAY     (24u * 3600)
#define VECTOR_SEALED1 80 /* a 32-byte message sealed to Bob */
#define VECTOR_SEALED2 68 /* a 20-byte message sealed to Bob */

struct vector {
    uint8_t kind;
    uint8_t author_seed[NB_SEED_SIZE];
    bool has_member;
    uint8_t member_seed[NB_SEED_SIZE];
    struct nb_record rec;
    uint8_t bytes[NB_RECORD_MAX];
    size_t len;
    uint8_t id[NB_ID_SIZE];
};

/* Seeds and the neighbourhood id are simple byte patterns so that anyone can
 * type them into another implementation. */
static inline void vector_alice_seed(uint8_t seed[NB_SEED_SIZE])
{
    for (unsigned i = 0; i < NB_SEED_SIZE; i++) {
        seed[i] = (uint8_t)i; /* 00 01 02 ... 1f */
    }
}

static inline void vector_bob_seed(uint8_t seed[NB_SEED_SIZE])
{
    for (unsigned i = 0; i < NB_SEED_SIZE; i++) {
        seed[i] = (uint8_t)(0x20 + i); /* 20 21 ... 3f */
    }
}

static inline void vector_neighbourhood(uint8_t id[NB_NEIGHBOURHOOD_ID_SIZE])
{
    for (unsigned i = 0; i < NB_NEIGHBOURHOOD_ID_SIZE; i++) {
        id[i] = (uint8_t)(0xa0 + i); /* a0 a1 ... bf */
    }
}

/* Sealed boxes are randomised, so the vectors carry fixed stand-in bytes of a
 * realistic length: byte i is (i * 7 + 3) mod 256. */
static inline const uint8_t *vector_sealed(size_t len)
{
    static uint8_t bytes[NB_SEALED_MAX];
    for (size_t i = 0; i < len; i++) {
        bytes[i] = (uint8_t)(i * 7 + 3);
    }
    return bytes;
}

static inline struct nb_text vector_text(const char *s)
{
    struct nb_text t = { s, strlen(s) };
    return t;
}

static inline void vector_fill(struct vector *v, unsigned kind, const struct vector *all)
{
    struct nb_record *r = &v->rec;
    uint8_t pk[NB_KEY_SIZE];
    uint8_t sk[NB_SECRET_KEY_SIZE];
    /* Who writes what: Alice asks, Bob helps. */
    bool by_bob = kind == NB_KIND_OFFER || kind == NB_KIND_RESPONSE || kind == NB_KIND_WITHDRAWAL ||
                  kind == NB_KIND_DONE_CLAIM || kind == NB_KIND_PROFILE || kind == NB_KIND_PAUSE;
    const uint8_t *request_id = all[NB_KIND_REQUEST - 1].id;

    memset(v, 0, sizeof(*v));
    v->kind = (uint8_t)kind;
    if (by_bob) {
        vector_bob_seed(v->author_seed);
    } else {
        vector_alice_seed(v->author_seed);
    }
    crypto_sign_seed_keypair(pk, sk, v->author_seed);
    r->kind = (uint8_t)kind;
    memcpy(r->author, pk, NB_KEY_SIZE);
    r->created_at = VECTOR_T0 + 60u * (kind - 1);

    switch (kind) {
    case NB_KIND_REQUEST:
        r->title = vector_text("Groceries from the Saturday market");
        r->details = vector_text("Maria broke her wrist and cannot carry bags.\n"
                                 "The list follows once someone is assigned.");
        r->category = NB_CAT_GROCERIES;
        r->tags[0] = vector_text("market");
        r->tags[1] = vector_text("heavy bags");
        r->n_tags = 2;
        r->urgency = NB_URGENCY_THIS_WEEK;
        r->when = vector_text("Saturday morning, before noon");
        r->mode = NB_MODE_IN_PERSON;
        r->languages[0] = vector_text("nl");
        r->languages[1] = vector_text("fr-BE");
        r->n_languages = 2;
        r->area = vector_text("Schaerbeek 1030 \xe2\x80\x93 Josaphat");
        r->expires_at = r->created_at + 7 * VECTOR_DAY;
        r->on_behalf_of = vector_text("Maria (84), via the buurthuis");
        r->fields = 0x0fff & ~1u; /* fields 1..11 */
        break;
    case NB_KIND_OFFER:
        r->title = vector_text("Lifts to the hospital on Tuesday mornings");
        r->category = NB_CAT_TRANSPORT;
        r->mode = NB_MODE_IN_PERSON;
        r->area = vector_text("Schaerbeek 1030");
        r->expires_at = r->created_at + 30 * VECTOR_DAY;
        NB_SET(r, NB_F_TITLE);
        NB_SET(r, NB_F_CATEGORY);
        NB_SET(r, NB_F_MODE);
        NB_SET(r, NB_F_AREA);
        NB_SET(r, NB_F_EXPIRES_AT);
        break;
    case NB_KIND_RESPONSE:
        memcpy(r->target, request_id, NB_ID_SIZE);
        r->note = vector_text("I can go at ten.");
        NB_SET(r, NB_F_TARGET);
        NB_SET(r, NB_F_NOTE);
        break;
    case NB_KIND_WITHDRAWAL:
        memcpy(r->target, all[NB_KIND_RESPONSE - 1].id, NB_ID_SIZE);
        NB_SET(r, NB_F_TARGET);
        break;
    case NB_KIND_ASSIGNMENT:
    case NB_KIND_VOUCH:
    case NB_KIND_MESSAGE:
        v->has_member = true;
        vector_bob_seed(v->member_seed);
        crypto_sign_seed_keypair(pk, sk, v->member_seed);
        memcpy(r->member, pk, NB_KEY_SIZE);
        NB_SET(r, NB_F_MEMBER);
        if (kind == NB_KIND_ASSIGNMENT) {
            memcpy(r->target, request_id, NB_ID_SIZE);
            r->sealed.ptr = vector_sealed(VECTOR_SEALED1);
            r->sealed.len = VECTOR_SEALED1;
            NB_SET(r, NB_F_TARGET);
            NB_SET(r, NB_F_SEALED);
        } else if (kind == NB_KIND_VOUCH) {
            r->note = vector_text("Neighbours for twenty years.");
            NB_SET(r, NB_F_NOTE);
        } else {
            memcpy(r->target, request_id, NB_ID_SIZE);
            r->sealed.ptr = vector_sealed(VECTOR_SEALED2);
            r->sealed.len = VECTOR_SEALED2;
            r->expires_at = r->created_at + 7 * VECTOR_DAY;
            NB_SET(r, NB_F_TARGET);
            NB_SET(r, NB_F_SEALED);
            NB_SET(r, NB_F_EXPIRES_AT);
        }
        break;
    case NB_KIND_DONE_CLAIM:
        memcpy(r->target, request_id, NB_ID_SIZE);
        r->note = vector_text("Delivered; the receipt is in the bag.");
        NB_SET(r, NB_F_TARGET);
        NB_SET(r, NB_F_NOTE);
        break;
    case NB_KIND_CONFIRMATION:
        memcpy(r->target, request_id, NB_ID_SIZE);
        r->note = vector_text("Dank je wel, Bob!");
        NB_SET(r, NB_F_TARGET);
        NB_SET(r, NB_F_NOTE);
        break;
    case NB_KIND_CANCELLATION:
        memcpy(r->target, request_id, NB_ID_SIZE);
        r->note = vector_text("My daughter will come after all.");
        NB_SET(r, NB_F_TARGET);
        NB_SET(r, NB_F_NOTE);
        break;
    case NB_KIND_RETRACTION:
        memcpy(r->target, all[NB_KIND_CANCELLATION - 1].id, NB_ID_SIZE);
        NB_SET(r, NB_F_TARGET);
        break;
    case NB_KIND_PROFILE:
        r->name = vector_text("Bob");
        r->about = vector_text("Retired bus driver.\nHappy to drive or carry.");
        r->languages[0] = vector_text("nl");
        r->languages[1] = vector_text("en");
        r->n_languages = 2;
        r->area = vector_text("Schaerbeek");
        NB_SET(r, NB_F_NAME);
        NB_SET(r, NB_F_ABOUT);
        NB_SET(r, NB_F_LANGUAGES);
        NB_SET(r, NB_F_AREA);
        break;
    case NB_KIND_PAUSE:
        memcpy(r->target, all[NB_KIND_OFFER - 1].id, NB_ID_SIZE);
        r->paused = true;
        NB_SET(r, NB_F_TARGET);
        NB_SET(r, NB_F_PAUSED);
        break;
    default:
        break;
    }
}

/* Builds and signs all vectors in kind order; all[k - 1] is kind k. */
static inline int vectors_build(struct vector all[VECTOR_COUNT])
{
    uint8_t nid[NB_NEIGHBOURHOOD_ID_SIZE];
    vector_neighbourhood(nid);
    for (unsigned kind = 1; kind <= VECTOR_COUNT; kind++) {
        struct vector *v = &all[kind - 1];
        uint8_t pk[NB_KEY_SIZE];
        uint8_t sk[NB_SECRET_KEY_SIZE];
        vector_fill(v, kind, all);
        crypto_sign_seed_keypair(pk, sk, v->author_seed);
        int r = nb_record_sign(&v->rec, sk, nid, v->bytes, &v->len);
        sodium_memzero(sk, sizeof(sk));
        if (r < 0) {
            return r;
        }
        nb_record_id(v->bytes, v->len, v->id);
    }
    return 0;
}

#endif
