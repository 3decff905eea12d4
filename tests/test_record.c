/*
 * Signed records as a neighbour's node sees them: the committed vectors still
 * come out byte for byte, every kind round-trips, any deviation from the one
 * canonical encoding is refused, a single flipped bit anywhere is refused, a
 * record signed for another neighbourhood does not verify, and every bound of
 * every field holds at exactly its limit.
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include <sodium.h>

#include <noaber/error.h>
#include <noaber/identity.h>
#include <noaber/record.h>

#include "proto/mp.h"
#include "record_vectors.h"

static struct vector vectors[VECTOR_COUNT];
static uint8_t nid[NB_NEIGHBOURHOOD_ID_SIZE];

/* ---- helpers ----------------------------------------------------------- */

static int hex_value(char c)
{
    if (c >= '0' && c <= '9') {
        return c - '0';
    }
    if (c >= 'a' && c <= 'f') {
        return c - 'a' + 10;
    }
    return -1;
}

/* Parses lowercase hex into a fresh buffer; fails the test on bad input. */
static uint8_t *unhex(const char *hex, size_t *ret_len)
{
    size_t n = strlen(hex);
    assert_int_equal(n % 2, 0);
    uint8_t *out = malloc(n / 2 + 1);
    assert_non_null(out);
    for (size_t i = 0; i < n / 2; i++) {
        int hi = hex_value(hex[2 * i]);
        int lo = hex_value(hex[2 * i + 1]);
        assert_true(hi >= 0 && lo >= 0);
        out[i] = (uint8_t)(hi << 4 | lo);
    }
    *ret_len = n / 2;
    return out;
}

static char *read_file(const char *env, const char *rel)
{
    const char *dir = getenv(env);
    char path[4096];
    assert_non_null(dir);
    snprintf(path, sizeof(path), "%s/%s", dir, rel);
    FILE *f = fopen(path, "rb");
    if (f == NULL) {
        fail_msg("cannot open %s", path);
    }
    assert_int_equal(fseek(f, 0, SEEK_END), 0);
    long size = ftell(f);
    assert_true(size >= 0);
    rewind(f);
    char *text = malloc((size_t)size + 1);
    assert_non_null(text);
    assert_int_equal(fread(text, 1, (size_t)size, f), (size_t)size);
    text[size] = '\0';
    fclose(f);
    return text;
}

static void keypair(const struct vector *v, uint8_t pk[NB_KEY_SIZE], uint8_t sk[NB_SECRET_KEY_SIZE])
{
    crypto_sign_seed_keypair(pk, sk, v->author_seed);
}

/*
 * Signs a record the way docs/protocol.md describes it, independently of
 * nb_record_sign and without validating: encode, then replace the last 64
 * bytes with Ed25519 over "noaber/record/v1" || neighbourhood || the bytes
 * before the signature element.  This lets the tests hand a node records
 * that no honest client would produce.
 */
static size_t sign_raw(struct nb_record *rec, const uint8_t sk[NB_SECRET_KEY_SIZE],
                       const uint8_t neighbourhood[NB_NEIGHBOURHOOD_ID_SIZE], uint8_t *out)
{
    static uint8_t msg[16 + NB_NEIGHBOURHOOD_ID_SIZE + NB_RECORD_MAX];
    size_t len;
    memset(rec->signature, 0, NB_SIG_SIZE);
    assert_int_equal(nb_record_encode(rec, out, NB_RECORD_MAX, &len), 0);
    assert_true(len > 66);
    assert_int_equal(out[len - 66], 0xc4);
    assert_int_equal(out[len - 65], 64);
    memcpy(msg, "noaber/record/v1", 16);
    memcpy(msg + 16, neighbourhood, NB_NEIGHBOURHOOD_ID_SIZE);
    memcpy(msg + 16 + NB_NEIGHBOURHOOD_ID_SIZE, out, len - 66);
    crypto_sign_detached(rec->signature, NULL, msg, 16 + NB_NEIGHBOURHOOD_ID_SIZE + len - 66, sk);
    memcpy(out + len - 64, rec->signature, NB_SIG_SIZE);
    return len;
}

/* A copy of vector `kind`'s fields, with its author's secret key. */
static struct nb_record base(unsigned kind, uint8_t sk[NB_SECRET_KEY_SIZE])
{
    uint8_t pk[NB_KEY_SIZE];
    keypair(&vectors[kind - 1], pk, sk);
    return vectors[kind - 1].rec;
}

/* Signs (raw) and opens at the record's own creation time. */
static int open_raw(struct nb_record *rec, const uint8_t sk[NB_SECRET_KEY_SIZE])
{
    static uint8_t buf[NB_RECORD_MAX];
    struct nb_record out;
    size_t len = sign_raw(rec, sk, nid, buf);
    return nb_record_open(buf, len, nid, rec->created_at, &out);
}

/* Checks that both the signer and a receiving node enforce the same rule. */
static void expect(struct nb_record rec, const uint8_t sk[NB_SECRET_KEY_SIZE], int want)
{
    uint8_t buf[NB_RECORD_MAX];
    size_t len;
    struct nb_record copy = rec;
    assert_int_equal(nb_record_sign(&copy, sk, nid, buf, &len), want);
    copy = rec;
    assert_int_equal(open_raw(&copy, sk), want);
}

static char *repeat(char c, size_t n)
{
    static char bufs[8][NB_RECORD_MAX];
    static unsigned next;
    char *b = bufs[next++ % 8];
    memset(b, c, n);
    return b;
}

static int setup(void **state)
{
    (void)state;
    if (sodium_init() < 0) {
        return -1;
    }
    vector_neighbourhood(nid);
    return vectors_build(vectors) == 0 ? 0 : -1;
}

/* ---- vectors ----------------------------------------------------------- */

struct file_vector {
    char kind[32];
    char author_seed[65];
    char member_seed[65];
    char neighbourhood_id[65];
    char record[2 * NB_RECORD_MAX + 1];
    char id[65];
};

static void copy_value(char *dst, size_t cap, const char *value)
{
    size_t n = strlen(value);
    assert_true(n < cap);
    memcpy(dst, value, n + 1);
}

static size_t parse_vectors(struct file_vector *out, size_t max)
{
    char *text = read_file("NOABER_TEST_VECTORS", "records.txt");
    size_t n = 0;
    struct file_vector *cur = NULL;
    for (char *line = strtok(text, "\n"); line != NULL; line = strtok(NULL, "\n")) {
        char name[32];
        static char value[2 * NB_RECORD_MAX + 1];
        if (line[0] == '#' || sscanf(line, "%31s = %16384s", name, value) != 2) {
            continue;
        }
        if (strcmp(name, "kind") == 0) {
            assert_true(n < max);
            cur = &out[n++];
            memset(cur, 0, sizeof(*cur));
            copy_value(cur->kind, sizeof(cur->kind), value);
            continue;
        }
        assert_non_null(cur);
        if (strcmp(name, "author_seed") == 0) {
            copy_value(cur->author_seed, sizeof(cur->author_seed), value);
        } else if (strcmp(name, "member_seed") == 0) {
            copy_value(cur->member_seed, sizeof(cur->member_seed), value);
        } else if (strcmp(name, "neighbourhood_id") == 0) {
            copy_value(cur->neighbourhood_id, sizeof(cur->neighbourhood_id), value);
        } else if (strcmp(name, "record") == 0) {
            copy_value(cur->record, sizeof(cur->record), value);
        } else if (strcmp(name, "id") == 0) {
            copy_value(cur->id, sizeof(cur->id), value);
        } else {
            fail_msg("unknown vector line %s", name);
        }
    }
    free(text);
    return n;
}

static void vectors_match_the_committed_file(void **state)
{
    (void)state;
    static struct file_vector fv[VECTOR_COUNT + 1];
    size_t n = parse_vectors(fv, VECTOR_COUNT + 1);
    assert_int_equal(n, VECTOR_COUNT);

    for (size_t i = 0; i < n; i++) {
        const struct vector *v = &vectors[i];
        size_t len;
        int kind = nb_kind_parse(fv[i].kind);
        assert_int_equal(kind, v->kind);

        uint8_t *seed = unhex(fv[i].author_seed, &len);
        assert_int_equal(len, NB_SEED_SIZE);
        assert_memory_equal(seed, v->author_seed, NB_SEED_SIZE);
        free(seed);
        assert_int_equal(fv[i].member_seed[0] != '\0', v->has_member);
        if (v->has_member) {
            uint8_t pk[NB_KEY_SIZE], sk[NB_SECRET_KEY_SIZE];
            seed = unhex(fv[i].member_seed, &len);
            crypto_sign_seed_keypair(pk, sk, seed);
            assert_memory_equal(pk, v->rec.member, NB_KEY_SIZE);
            free(seed);
        }
        uint8_t *hood = unhex(fv[i].neighbourhood_id, &len);
        assert_int_equal(len, NB_NEIGHBOURHOOD_ID_SIZE);
        assert_memory_equal(hood, nid, NB_NEIGHBOURHOOD_ID_SIZE);

        /* Today's code re-creates the committed bytes and id exactly. */
        uint8_t *bytes = unhex(fv[i].record, &len);
        assert_int_equal(len, v->len);
        assert_memory_equal(bytes, v->bytes, len);
        uint8_t *id = unhex(fv[i].id, &len);
        uint8_t computed[NB_ID_SIZE];
        nb_record_id(bytes, v->len, computed);
        assert_memory_equal(id, computed, NB_ID_SIZE);

        /* And the file's bytes open as the record they claim to be. */
        struct nb_record rec;
        assert_int_equal(nb_record_open(bytes, v->len, hood, v->rec.created_at, &rec), 0);
        assert_int_equal(rec.kind, kind);
        assert_int_equal(rec.fields, v->rec.fields);
        free(bytes);
        free(id);
        free(hood);
    }
}

static void protocol_doc_lists_every_vector(void **state)
{
    (void)state;
    char *doc = read_file("NOABER_SOURCE_ROOT", "docs/protocol.md");
    /* The doc wraps long hex over several lines; compare without spaces. */
    size_t w = 0;
    for (size_t r = 0; doc[r] != '\0'; r++) {
        if (doc[r] != ' ' && doc[r] != '\n' && doc[r] != '\t' && doc[r] != '\r') {
            doc[w++] = doc[r];
        }
    }
    doc[w] = '\0';
    static struct file_vector fv[VECTOR_COUNT + 1];
    size_t n = parse_vectors(fv, VECTOR_COUNT + 1);
    assert_int_equal(n, VECTOR_COUNT);
    for (size_t i = 0; i < n; i++) {
        if (strstr(doc, fv[i].record) == NULL) {
            fail_msg("docs/protocol.md lacks the %s vector record", fv[i].kind);
        }
        if (strstr(doc, fv[i].id) == NULL) {
            fail_msg("docs/protocol.md lacks the %s vector id", fv[i].kind);
        }
    }
    free(doc);
}

/* ---- round trips -------------------------------------------------------- */

static void assert_text_equal(struct nb_text a, struct nb_text b)
{
    assert_int_equal(a.len, b.len);
    if (a.len > 0) {
        assert_memory_equal(a.ptr, b.ptr, a.len);
    }
}

static void every_kind_round_trips(void **state)
{
    (void)state;
    for (unsigned k = 1; k <= VECTOR_COUNT; k++) {
        const struct vector *v = &vectors[k - 1];
        const struct nb_record *a = &v->rec;
        struct nb_record b;
        uint8_t again[NB_RECORD_MAX];
        size_t len;

        assert_int_equal(nb_record_decode(v->bytes, v->len, &b), 0);
        assert_int_equal(b.kind, k);
        assert_memory_equal(b.author, a->author, NB_KEY_SIZE);
        assert_int_equal(b.created_at, a->created_at);
        assert_int_equal(b.fields, a->fields);
        assert_text_equal(b.title, a->title);
        assert_text_equal(b.details, a->details);
        assert_int_equal(b.category, a->category);
        assert_int_equal(b.n_tags, a->n_tags);
        for (unsigned i = 0; i < a->n_tags; i++) {
            assert_text_equal(b.tags[i], a->tags[i]);
        }
        assert_int_equal(b.urgency, a->urgency);
        assert_text_equal(b.when, a->when);
        assert_int_equal(b.mode, a->mode);
        assert_int_equal(b.n_languages, a->n_languages);
        for (unsigned i = 0; i < a->n_languages; i++) {
            assert_text_equal(b.languages[i], a->languages[i]);
        }
        assert_text_equal(b.area, a->area);
        assert_int_equal(b.expires_at, a->expires_at);
        assert_text_equal(b.on_behalf_of, a->on_behalf_of);
        assert_memory_equal(b.target, a->target, NB_ID_SIZE);
        assert_memory_equal(b.member, a->member, NB_KEY_SIZE);
        assert_text_equal(b.note, a->note);
        assert_int_equal(b.sealed.len, a->sealed.len);
        if (a->sealed.len > 0) {
            assert_memory_equal(b.sealed.ptr, a->sealed.ptr, a->sealed.len);
        }
        assert_int_equal(b.paused, a->paused);
        assert_text_equal(b.name, a->name);
        assert_text_equal(b.about, a->about);
        assert_memory_equal(b.signature, a->signature, NB_SIG_SIZE);

        /* Decoded text points into the caller's buffer, not a copy. */
        if (NB_HAS(&b, NB_F_NOTE) && b.note.len > 0) {
            assert_true((const uint8_t *)b.note.ptr > v->bytes &&
                        (const uint8_t *)b.note.ptr < v->bytes + v->len);
        }

        assert_int_equal(nb_record_encode(&b, again, sizeof(again), &len), 0);
        assert_int_equal(len, v->len);
        assert_memory_equal(again, v->bytes, len);
        assert_int_equal(nb_record_verify(v->bytes, v->len, nid), 0);
        assert_int_equal(nb_record_validate(&b, b.created_at), 0);
    }
}

static void signing_is_deterministic_and_ends_with_the_signature(void **state)
{
    (void)state;
    for (unsigned k = 1; k <= VECTOR_COUNT; k++) {
        uint8_t sk[NB_SECRET_KEY_SIZE];
        struct nb_record rec = base(k, sk);
        uint8_t a[NB_RECORD_MAX], b[NB_RECORD_MAX];
        size_t alen, blen;
        assert_int_equal(nb_record_sign(&rec, sk, nid, a, &alen), 0);
        assert_int_equal(alen, sign_raw(&rec, sk, nid, b));
        blen = alen;
        assert_memory_equal(a, b, blen);
        assert_memory_equal(a + alen - 64, rec.signature, 64);
    }
}

/* ---- tampering ------------------------------------------------------------ */

static void any_flipped_bit_is_refused(void **state)
{
    (void)state;
    for (unsigned k = 1; k <= VECTOR_COUNT; k++) {
        const struct vector *v = &vectors[k - 1];
        uint8_t buf[NB_RECORD_MAX];
        struct nb_record rec;
        memcpy(buf, v->bytes, v->len);
        for (size_t i = 0; i < v->len; i++) {
            for (unsigned bit = 0; bit < 8; bit++) {
                buf[i] ^= (uint8_t)(1u << bit);
                int r = nb_record_open(buf, v->len, nid, v->rec.created_at, &rec);
                if (r == 0) {
                    fail_msg("%s: flipping bit %u of byte %zu was accepted", nb_kind_name(k), bit,
                             i);
                }
                buf[i] ^= (uint8_t)(1u << bit);
            }
        }
        assert_int_equal(nb_record_open(buf, v->len, nid, v->rec.created_at, &rec), 0);
    }
}

static void records_do_not_replay_into_another_neighbourhood(void **state)
{
    (void)state;
    uint8_t other[NB_NEIGHBOURHOOD_ID_SIZE];
    memcpy(other, nid, sizeof(other));
    other[31] ^= 1;
    for (unsigned k = 1; k <= VECTOR_COUNT; k++) {
        const struct vector *v = &vectors[k - 1];
        struct nb_record rec;
        memset(&rec, 0x5a, sizeof(rec));
        struct nb_record untouched = rec;
        assert_int_equal(nb_record_verify(v->bytes, v->len, other), NB_EBADSIG);
        assert_int_equal(nb_record_open(v->bytes, v->len, other, v->rec.created_at, &rec),
                         NB_EBADSIG);
        /* ret is not written on failure. */
        assert_memory_equal(&rec, &untouched, sizeof(rec));
        assert_int_equal(nb_record_verify(v->bytes, v->len, nid), 0);
    }
}

static void signing_needs_the_authors_key(void **state)
{
    (void)state;
    uint8_t alice_sk[NB_SECRET_KEY_SIZE], bob_sk[NB_SECRET_KEY_SIZE];
    struct nb_record rec = base(NB_KIND_REQUEST, alice_sk);
    (void)base(NB_KIND_OFFER, bob_sk);
    uint8_t buf[NB_RECORD_MAX];
    size_t len = 12345;
    assert_int_equal(nb_record_sign(&rec, bob_sk, nid, buf, &len), NB_EINVAL);
    assert_int_equal(len, 12345);

    /* A record that claims Alice but is signed by Bob does not verify. */
    len = sign_raw(&rec, bob_sk, nid, buf);
    assert_int_equal(nb_record_verify(buf, len, nid), NB_EBADSIG);
}

/* ---- canonical encoding ---------------------------------------------------- */

/*
 * Replaces buf[at .. at+old_len) of vector `kind` with `repl` and decodes.
 * The signature is left as it was: decoding must refuse the bytes before any
 * signature check, for a reason that names the deviation.
 */
static int decode_spliced(unsigned kind, size_t at, size_t old_len, const uint8_t *repl,
                          size_t repl_len)
{
    const struct vector *v = &vectors[kind - 1];
    static uint8_t buf[NB_RECORD_MAX + 64];
    struct nb_record rec;
    assert_true(at + old_len <= v->len);
    assert_true(v->len - old_len + repl_len <= sizeof(buf));
    memcpy(buf, v->bytes, at);
    memcpy(buf + at, repl, repl_len);
    memcpy(buf + at + repl_len, v->bytes + at + old_len, v->len - at - old_len);
    return nb_record_decode(buf, v->len - old_len + repl_len, &rec);
}

/* Offsets in every vector: 96 | 01 | kind | c4 20 author(32) | ce created_at(4) | body */
#define OFF_FORMAT  1
#define OFF_KIND    2
#define OFF_AUTHOR  3
#define OFF_CREATED 37
#define OFF_BODY    42

static void non_canonical_encodings_are_refused(void **state)
{
    (void)state;
    const unsigned W = NB_KIND_WITHDRAWAL; /* body: 81 0c c4 20 <target> */
    const unsigned R = NB_KIND_RESPONSE;   /* body: 82 0c c4 20 <target> 0e b0 <16 bytes> */
    const struct vector *wv = &vectors[W - 1];
    const struct vector *rv = &vectors[R - 1];
    assert_int_equal(wv->bytes[OFF_CREATED], 0xce);
    assert_int_equal(wv->bytes[OFF_BODY], 0x81);
    assert_int_equal(rv->bytes[OFF_BODY], 0x82);

    /* Integers in a longer form than needed, or as a signed type. */
    assert_int_equal(decode_spliced(W, OFF_FORMAT, 1, (const uint8_t[]){ 0xcc, 0x01 }, 2),
                     NB_ENONCANONICAL);
    assert_int_equal(decode_spliced(W, OFF_FORMAT, 1, (const uint8_t[]){ 0xd0, 0x01 }, 2),
                     NB_ENONCANONICAL);
    assert_int_equal(decode_spliced(W, OFF_KIND, 1, (const uint8_t[]){ 0xcd, 0x00, 0x04 }, 3),
                     NB_ENONCANONICAL);
    uint8_t created64[9] = { 0xcf, 0, 0, 0, 0 };
    memcpy(created64 + 5, wv->bytes + OFF_CREATED + 1, 4);
    assert_int_equal(decode_spliced(W, OFF_CREATED, 5, created64, 9), NB_ENONCANONICAL);
    /* A body key in uint8 form. */
    assert_int_equal(decode_spliced(W, OFF_BODY + 1, 1, (const uint8_t[]){ 0xcc, 0x0c }, 2),
                     NB_ENONCANONICAL);

    /* Longer container and length headers than needed. */
    assert_int_equal(decode_spliced(W, 0, 1, (const uint8_t[]){ 0xdc, 0x00, 0x06 }, 3),
                     NB_ENONCANONICAL);
    assert_int_equal(decode_spliced(W, OFF_BODY, 1, (const uint8_t[]){ 0xde, 0x00, 0x01 }, 3),
                     NB_ENONCANONICAL);
    assert_int_equal(decode_spliced(W, OFF_AUTHOR, 2, (const uint8_t[]){ 0xc5, 0x00, 0x20 }, 3),
                     NB_ENONCANONICAL);
    /* str8 where a fixstr fits (the response's 16-byte note). */
    size_t note_at = OFF_BODY + 1 + 1 + 34 + 1;
    assert_int_equal(rv->bytes[note_at], 0xb0);
    assert_int_equal(decode_spliced(R, note_at, 1, (const uint8_t[]){ 0xd9, 0x10 }, 2),
                     NB_ENONCANONICAL);
    assert_int_equal(decode_spliced(R, note_at, 1, (const uint8_t[]){ 0xda, 0x00, 0x10 }, 3),
                     NB_ENONCANONICAL);

    /* Body keys out of order, and a key twice. */
    uint8_t swapped[1 + 18 + 35];
    swapped[0] = 0x82;
    memcpy(swapped + 1, rv->bytes + note_at - 1, 18);   /* 0e b0 <16> */
    memcpy(swapped + 19, rv->bytes + OFF_BODY + 1, 35); /* 0c c4 20 <32> */
    assert_int_equal(decode_spliced(R, OFF_BODY, 1 + 35 + 18, swapped, sizeof(swapped)),
                     NB_ENONCANONICAL);
    uint8_t twice[1 + 35 + 35];
    twice[0] = 0x82;
    memcpy(twice + 1, wv->bytes + OFF_BODY + 1, 35);
    memcpy(twice + 36, wv->bytes + OFF_BODY + 1, 35);
    assert_int_equal(decode_spliced(W, OFF_BODY, 36, twice, sizeof(twice)), NB_ENONCANONICAL);

    /* A byte after the end. */
    assert_int_equal(decode_spliced(W, wv->len, 0, (const uint8_t[]){ 0x00 }, 1), NB_ETRAILING);

    /* Unknown fields: 0 and 19, here as booleans after the target. */
    uint8_t unknown[1 + 35 + 2] = { 0x82 };
    memcpy(unknown + 1, wv->bytes + OFF_BODY + 1, 35);
    unknown[36] = 19;
    unknown[37] = 0xc3;
    assert_int_equal(decode_spliced(W, OFF_BODY, 36, unknown, sizeof(unknown)), NB_EFIELD);
    uint8_t zero[1 + 2 + 35] = { 0x82, 0x00, 0xc3 };
    memcpy(zero + 3, wv->bytes + OFF_BODY + 1, 35);
    assert_int_equal(decode_spliced(W, OFF_BODY, 36, zero, sizeof(zero)), NB_EFIELD);

    /* Floats and nil have no place in a record. */
    uint8_t as_float[9] = { 0xcb, 0x41, 0xda, 0x4a, 0xaa, 0x2c, 0, 0, 0 };
    assert_int_equal(decode_spliced(W, OFF_CREATED, 5, as_float, 9), NB_EMALFORMED);
    assert_int_equal(
        decode_spliced(W, OFF_FORMAT, 1, (const uint8_t[]){ 0xca, 0x3f, 0x80, 0, 0 }, 5),
        NB_EMALFORMED);
    assert_int_equal(decode_spliced(R, note_at, 17, (const uint8_t[]){ 0xc0 }, 1), NB_EMALFORMED);
    assert_int_equal(decode_spliced(W, OFF_BODY + 2, 34, (const uint8_t[]){ 0xc0 }, 1),
                     NB_EMALFORMED);
    /* A field of the wrong type: the target as a str. */
    uint8_t target_str[34] = { 0xd9, 0x20 };
    memcpy(target_str + 2, wv->bytes + OFF_BODY + 4, 32);
    assert_int_equal(decode_spliced(W, OFF_BODY + 2, 34, target_str, 34), NB_EMALFORMED);
    /* An extension type where the author belongs. */
    uint8_t ext[35] = { 0xc7, 0x20, 0x01 };
    assert_int_equal(decode_spliced(W, OFF_AUTHOR, 34, ext, 35), NB_EMALFORMED);

    /* Another format version, an unknown kind, the wrong element count. */
    assert_int_equal(decode_spliced(W, OFF_FORMAT, 1, (const uint8_t[]){ 0x02 }, 1), NB_EVERSION);
    assert_int_equal(decode_spliced(W, OFF_KIND, 1, (const uint8_t[]){ 0x00 }, 1), NB_EKIND);
    assert_int_equal(decode_spliced(W, OFF_KIND, 1, (const uint8_t[]){ 0x0e }, 1), NB_EKIND);
    assert_int_equal(decode_spliced(W, 0, 1, (const uint8_t[]){ 0x95 }, 1), NB_ETRAILING);
    assert_int_equal(decode_spliced(W, 0, 1, (const uint8_t[]){ 0x97 }, 1), NB_EMALFORMED);
    uint8_t seven[NB_RECORD_MAX];
    memcpy(seven, wv->bytes, wv->len);
    seven[0] = 0x97;
    seven[wv->len] = 0x00;
    struct nb_record rec;
    assert_int_equal(nb_record_decode(seven, wv->len + 1, &rec), NB_EMALFORMED);

    /* Truncated anywhere. */
    for (size_t n = 0; n < wv->len; n++) {
        assert_int_not_equal(nb_record_decode(wv->bytes, n, &rec), 0);
    }
}

/*
 * Every kind, every element: the objects of a record (found with the
 * pre-check's own extent walk), each re-written in the next longer msgpack
 * form, must make the record non-canonical.
 */
struct element {
    size_t at;
    size_t len;
};

/* Header length and child count of the msgpack types a record uses. */
static size_t header_of(const uint8_t *p, size_t *ret_children)
{
    uint8_t t = p[0];
    *ret_children = 0;
    if (t >= 0x80 && t <= 0x8f) {
        *ret_children = 2u * (t & 0x0f);
        return 1;
    }
    if (t >= 0x90 && t <= 0x9f) {
        *ret_children = t & 0x0f;
        return 1;
    }
    if (t == 0xdc || t == 0xde) {
        *ret_children = (size_t)(p[1] << 8 | p[2]) * (t == 0xde ? 2 : 1);
        return 3;
    }
    return 0; /* not a container */
}

static void collect(const uint8_t *buf, size_t len, size_t at, struct element *out, size_t *n)
{
    size_t end;
    assert_int_equal(nb_mp_check(buf + at, len - at, NB_RECORD_MAX, 8, &end), 0);
    out[(*n)++] = (struct element){ at, end };
    size_t children;
    size_t h = header_of(buf + at, &children);
    size_t pos = at + h;
    for (size_t i = 0; i < children; i++) {
        size_t before = *n;
        collect(buf, len, pos, out, n);
        pos += out[before].len;
    }
}

/* Writes the element's header in the next longer form; 0 if there is none. */
static size_t lengthen(const uint8_t *p, uint8_t *out, size_t *ret_old)
{
    uint8_t t = p[0];
    if (t <= 0x7f) {
        *ret_old = 1;
        out[0] = 0xcc;
        out[1] = t;
        return 2;
    }
    if ((t >= 0xa0 && t <= 0xbf) || (t >= 0x90 && t <= 0x9f) || (t >= 0x80 && t <= 0x8f)) {
        size_t n = t >= 0xa0 ? (size_t)(t & 0x1f) : (size_t)(t & 0x0f);
        *ret_old = 1;
        if (t >= 0xa0) {
            out[0] = 0xd9;
            out[1] = (uint8_t)n;
            return 2;
        }
        out[0] = t >= 0x90 ? 0xdc : 0xde;
        out[1] = 0;
        out[2] = (uint8_t)n;
        return 3;
    }
    switch (t) {
    case 0xcc: /* uint 8 -> 16 */
    case 0xd9: /* str 8 -> 16 */
    case 0xc4: /* bin 8 -> 16 */
        *ret_old = 2;
        out[0] = t == 0xcc ? 0xcd : t == 0xd9 ? 0xda : 0xc5;
        out[1] = 0;
        out[2] = p[1];
        return 3;
    case 0xcd: /* 16 -> 32 */
    case 0xda:
    case 0xc5:
        *ret_old = 3;
        out[0] = t == 0xcd ? 0xce : t == 0xda ? 0xdb : 0xc6;
        out[1] = 0;
        out[2] = 0;
        out[3] = p[1];
        out[4] = p[2];
        return 5;
    case 0xce: /* uint 32 -> 64 */
        *ret_old = 5;
        out[0] = 0xcf;
        memset(out + 1, 0, 4);
        memcpy(out + 5, p + 1, 4);
        return 9;
    default: /* booleans and uint 64 have no longer form */
        return 0;
    }
}

static void every_element_in_a_longer_form_is_refused(void **state)
{
    (void)state;
    static uint8_t buf[NB_RECORD_MAX + 16];
    for (unsigned k = 1; k <= VECTOR_COUNT; k++) {
        const struct vector *v = &vectors[k - 1];
        struct element elems[128];
        size_t n = 0;
        collect(v->bytes, v->len, 0, elems, &n);
        assert_int_equal(elems[0].len, v->len);
        size_t tried = 0;
        for (size_t i = 0; i < n; i++) {
            uint8_t head[9];
            size_t old;
            size_t repl = lengthen(v->bytes + elems[i].at, head, &old);
            if (repl == 0) {
                continue;
            }
            size_t at = elems[i].at;
            memcpy(buf, v->bytes, at);
            memcpy(buf + at, head, repl);
            memcpy(buf + at + repl, v->bytes + at + old, v->len - at - old);
            struct nb_record rec;
            int r = nb_record_decode(buf, v->len - old + repl, &rec);
            if (r != NB_ENONCANONICAL) {
                fail_msg("%s: element %zu at byte %zu in a longer form gave %s", nb_kind_name(k), i,
                         at, nb_error_name(r));
            }
            tried++;
        }
        /* At least the array, format, kind, author, created_at, body, a key,
         * a value and the signature. */
        assert_true(tried >= 8);
    }
}

static void every_kind_refuses_reordered_repeated_and_unknown_fields(void **state)
{
    (void)state;
    static uint8_t buf[NB_RECORD_MAX + 16];
    for (unsigned k = 1; k <= VECTOR_COUNT; k++) {
        const struct vector *v = &vectors[k - 1];
        struct element elems[128];
        size_t n = 0;
        struct nb_record rec;
        collect(v->bytes, v->len, 0, elems, &n);
        /* The body is the only element that starts at OFF_BODY. */
        size_t body = 0;
        for (size_t i = 0; i < n; i++) {
            if (elems[i].at == OFF_BODY) {
                body = i;
            }
        }
        assert_int_equal(elems[body].at, OFF_BODY);
        assert_int_equal(v->bytes[OFF_BODY] & 0xf0, 0x80);
        size_t pairs = v->bytes[OFF_BODY] & 0x0f;
        size_t first = OFF_BODY + 1;
        size_t body_end = OFF_BODY + elems[body].len;
        size_t key_len, val_len;
        assert_int_equal(nb_mp_check(v->bytes + first, v->len - first, NB_RECORD_MAX, 8, &key_len),
                         0);
        assert_int_equal(nb_mp_check(v->bytes + first + key_len, v->len - first - key_len,
                                     NB_RECORD_MAX, 8, &val_len),
                         0);
        size_t pair1 = key_len + val_len;

        /* The first pair twice. */
        memcpy(buf, v->bytes, first);
        buf[OFF_BODY] = (uint8_t)(0x80 | (pairs + 1));
        memcpy(buf + first, v->bytes + first, pair1);
        memcpy(buf + first + pair1, v->bytes + first, v->len - first);
        assert_int_equal(nb_record_decode(buf, v->len + pair1, &rec), NB_ENONCANONICAL);

        /* The first pair moved to the end of the body. */
        if (pairs >= 2) {
            memcpy(buf, v->bytes, first);
            memcpy(buf + first, v->bytes + first + pair1, body_end - first - pair1);
            memcpy(buf + body_end - pair1, v->bytes + first, pair1);
            memcpy(buf + body_end, v->bytes + body_end, v->len - body_end);
            assert_int_equal(nb_record_decode(buf, v->len, &rec), NB_ENONCANONICAL);
        }

        /* An unknown field 19 after the last one. */
        memcpy(buf, v->bytes, body_end);
        buf[OFF_BODY] = (uint8_t)(0x80 | (pairs + 1));
        buf[body_end] = 19;
        buf[body_end + 1] = 0xc3;
        memcpy(buf + body_end + 2, v->bytes + body_end, v->len - body_end);
        assert_int_equal(nb_record_decode(buf, v->len + 2, &rec), NB_EFIELD);

        /* The first value as nil, and as a float. */
        memcpy(buf, v->bytes, first + key_len);
        buf[first + key_len] = 0xc0;
        memcpy(buf + first + key_len + 1, v->bytes + first + pair1, v->len - first - pair1);
        assert_int_equal(nb_record_decode(buf, v->len - val_len + 1, &rec), NB_EMALFORMED);
        buf[first + key_len] = 0xca;
        memset(buf + first + key_len + 1, 0, 4);
        memcpy(buf + first + key_len + 5, v->bytes + first + pair1, v->len - first - pair1);
        assert_int_equal(nb_record_decode(buf, v->len - val_len + 5, &rec), NB_EMALFORMED);

        /* A trailing byte. */
        memcpy(buf, v->bytes, v->len);
        buf[v->len] = 0xc0;
        assert_int_equal(nb_record_decode(buf, v->len + 1, &rec), NB_ETRAILING);
    }
}

static void oversized_input_is_refused_before_parsing(void **state)
{
    (void)state;
    static uint8_t big[NB_RECORD_MAX + 1];
    struct nb_record rec;
    /* A plausible record header followed by a huge str. */
    memcpy(big, vectors[0].bytes, OFF_BODY);
    assert_int_equal(nb_record_decode(big, sizeof(big), &rec), NB_ETOOBIG);
    assert_int_equal(nb_record_verify(big, sizeof(big), nid), NB_ETOOBIG);
}

/* ---- validation: kinds and fields --------------------------------------- */

static void kinds_require_and_allow_exactly_their_fields(void **state)
{
    (void)state;
    uint8_t sk[NB_SECRET_KEY_SIZE];
    struct nb_record rec;

    /* Every required field of every kind is really required. */
    for (unsigned k = 1; k <= VECTOR_COUNT; k++) {
        const struct nb_record *v = &vectors[k - 1].rec;
        for (unsigned f = 1; f <= NB_F_MAX_; f++) {
            if (!NB_HAS(v, f)) {
                continue;
            }
            rec = base(k, sk);
            rec.fields &= ~(1u << f);
            struct nb_record copy = rec;
            int r = nb_record_validate(&copy, rec.created_at);
            /* Optional fields may go; required ones may not. */
            bool required = true;
            switch (k) {
            case NB_KIND_REQUEST:
            case NB_KIND_OFFER:
                required =
                    f == NB_F_TITLE || f == NB_F_CATEGORY || f == NB_F_AREA || f == NB_F_EXPIRES_AT;
                break;
            case NB_KIND_ASSIGNMENT:
                required = f != NB_F_SEALED;
                break;
            case NB_KIND_MESSAGE:
                required = f != NB_F_TARGET;
                break;
            case NB_KIND_PROFILE:
                required = f == NB_F_NAME;
                break;
            default:
                required = f != NB_F_NOTE;
                break;
            }
            assert_int_equal(r, required ? NB_EFIELD : 0);
            expect(rec, sk, required ? NB_EFIELD : 0);
        }
    }

    /* A field a kind does not allow: a title on a response, a note on a pause. */
    rec = base(NB_KIND_RESPONSE, sk);
    rec.title = vector_text("x");
    NB_SET(&rec, NB_F_TITLE);
    expect(rec, sk, NB_EFIELD);
    rec = base(NB_KIND_PAUSE, sk);
    rec.note = vector_text("back next week");
    NB_SET(&rec, NB_F_NOTE);
    expect(rec, sk, NB_EFIELD);
    rec = base(NB_KIND_WITHDRAWAL, sk);
    rec.fields |= 1u << 0;
    assert_int_equal(nb_record_validate(&rec, rec.created_at), NB_EFIELD);
    rec = base(NB_KIND_WITHDRAWAL, sk);
    rec.fields |= 1u << 19;
    assert_int_equal(nb_record_validate(&rec, rec.created_at), NB_EFIELD);

    /* Unknown kinds. */
    rec = base(NB_KIND_WITHDRAWAL, sk);
    rec.kind = 0;
    assert_int_equal(nb_record_validate(&rec, rec.created_at), NB_EKIND);
    rec.kind = NB_KIND_MAX_ + 1;
    assert_int_equal(nb_record_validate(&rec, rec.created_at), NB_EKIND);
    uint8_t buf[NB_RECORD_MAX];
    size_t len;
    assert_int_equal(nb_record_sign(&rec, sk, nid, buf, &len), NB_EKIND);
}

static void members_cannot_assign_vouch_for_or_message_themselves(void **state)
{
    (void)state;
    const unsigned kinds[] = { NB_KIND_ASSIGNMENT, NB_KIND_VOUCH, NB_KIND_MESSAGE };
    for (size_t i = 0; i < sizeof(kinds) / sizeof(kinds[0]); i++) {
        uint8_t sk[NB_SECRET_KEY_SIZE];
        struct nb_record rec = base(kinds[i], sk);
        expect(rec, sk, 0);
        memcpy(rec.member, rec.author, NB_KEY_SIZE);
        expect(rec, sk, NB_EFIELD);
    }
}

/* ---- validation: every bound ------------------------------------------- */

/* Sets a text field of a request/profile/response to n copies of 'a' and
 * checks the limits: max passes, max + 1 fails, and below min fails. */
static void check_text_bound(unsigned kind, unsigned field, size_t min, size_t max)
{
    uint8_t sk[NB_SECRET_KEY_SIZE];
    const size_t lens[] = { min, max, max + 1 };
    const int want[] = { 0, 0, NB_EFIELD };
    for (size_t i = 0; i < 3; i++) {
        struct nb_record rec = base(kind, sk);
        struct nb_text t = { repeat('a', lens[i]), lens[i] };
        NB_SET(&rec, field);
        switch (field) {
        case NB_F_TITLE:
            rec.title = t;
            break;
        case NB_F_DETAILS:
            rec.details = t;
            break;
        case NB_F_WHEN:
            rec.when = t;
            break;
        case NB_F_AREA:
            rec.area = t;
            break;
        case NB_F_ON_BEHALF_OF:
            rec.on_behalf_of = t;
            break;
        case NB_F_NOTE:
            rec.note = t;
            break;
        case NB_F_NAME:
            rec.name = t;
            break;
        case NB_F_ABOUT:
            rec.about = t;
            break;
        default:
            fail();
        }
        expect(rec, sk, want[i]);
    }
    if (min > 0) {
        struct nb_record rec = base(kind, sk);
        NB_SET(&rec, field);
        struct nb_text empty = { "", 0 };
        rec.title = field == NB_F_TITLE ? empty : rec.title;
        rec.when = field == NB_F_WHEN ? empty : rec.when;
        rec.area = field == NB_F_AREA ? empty : rec.area;
        rec.on_behalf_of = field == NB_F_ON_BEHALF_OF ? empty : rec.on_behalf_of;
        rec.name = field == NB_F_NAME ? empty : rec.name;
        expect(rec, sk, NB_EFIELD);
    }
}

static void text_fields_hold_exactly_their_bounds(void **state)
{
    (void)state;
    check_text_bound(NB_KIND_REQUEST, NB_F_TITLE, 1, NB_TITLE_MAX);
    check_text_bound(NB_KIND_REQUEST, NB_F_DETAILS, 0, NB_DETAILS_MAX);
    check_text_bound(NB_KIND_REQUEST, NB_F_WHEN, 1, NB_WHEN_MAX);
    check_text_bound(NB_KIND_REQUEST, NB_F_AREA, 1, NB_AREA_MAX);
    check_text_bound(NB_KIND_REQUEST, NB_F_ON_BEHALF_OF, 1, NB_NAME_MAX);
    check_text_bound(NB_KIND_OFFER, NB_F_TITLE, 1, NB_TITLE_MAX);
    check_text_bound(NB_KIND_RESPONSE, NB_F_NOTE, 0, NB_NOTE_MAX);
    check_text_bound(NB_KIND_DONE_CLAIM, NB_F_NOTE, 0, NB_NOTE_MAX);
    check_text_bound(NB_KIND_CONFIRMATION, NB_F_NOTE, 0, NB_NOTE_MAX);
    check_text_bound(NB_KIND_CANCELLATION, NB_F_NOTE, 0, NB_NOTE_MAX);
    check_text_bound(NB_KIND_VOUCH, NB_F_NOTE, 0, NB_NOTE_MAX);
    check_text_bound(NB_KIND_PROFILE, NB_F_NAME, 1, NB_NAME_MAX);
    check_text_bound(NB_KIND_PROFILE, NB_F_ABOUT, 0, NB_ABOUT_MAX);
    check_text_bound(NB_KIND_PROFILE, NB_F_AREA, 1, NB_AREA_MAX);
}

static void tags_and_languages_hold_their_bounds(void **state)
{
    (void)state;
    uint8_t sk[NB_SECRET_KEY_SIZE];
    struct nb_record rec;

    /* Count: 0 and 8 pass. 9 cannot even be represented, so a peer's record
     * with 9 is refused while decoding (checked below). */
    for (unsigned n = 0; n <= NB_TAGS_MAX; n += NB_TAGS_MAX) {
        rec = base(NB_KIND_REQUEST, sk);
        rec.n_tags = (uint8_t)n;
        for (unsigned i = 0; i < n; i++) {
            rec.tags[i] = vector_text("tag");
        }
        rec.n_languages = (uint8_t)n;
        for (unsigned i = 0; i < n; i++) {
            rec.languages[i] = vector_text("nl");
        }
        expect(rec, sk, 0);
    }
    rec = base(NB_KIND_REQUEST, sk);
    rec.n_tags = NB_TAGS_MAX + 1;
    assert_int_equal(nb_record_validate(&rec, rec.created_at), NB_EFIELD);
    rec = base(NB_KIND_REQUEST, sk);
    rec.n_languages = NB_LANGUAGES_MAX + 1;
    assert_int_equal(nb_record_validate(&rec, rec.created_at), NB_EFIELD);

    /* A tags array of nine on the wire. */
    rec = base(NB_KIND_REQUEST, sk);
    uint8_t buf[NB_RECORD_MAX];
    size_t len = sign_raw(&rec, sk, nid, buf);
    const uint8_t *tags = memmem(buf, len, "\x04\x92\xa6market", 9);
    assert_non_null(tags);
    uint8_t nine[NB_RECORD_MAX];
    size_t at = (size_t)(tags - buf) + 1;
    memcpy(nine, buf, at);
    nine[at] = 0x99;
    memcpy(nine + at + 1, buf + at + 1, len - at - 1);
    /* Insert seven one-byte tags ("a") after the array header... */
    uint8_t with[NB_RECORD_MAX];
    memcpy(with, nine, at + 1);
    for (unsigned i = 0; i < 7; i++) {
        with[at + 1 + 2 * i] = 0xa1;
        with[at + 2 + 2 * i] = 'a';
    }
    memcpy(with + at + 15, nine + at + 1, len - at - 1);
    struct nb_record out;
    assert_int_equal(nb_record_decode(with, len + 14, &out), NB_EFIELD);

    /* Tag length 1..32. */
    const size_t tag_lens[] = { 0, 1, NB_TAG_MAX, NB_TAG_MAX + 1 };
    const int tag_want[] = { NB_EFIELD, 0, 0, NB_EFIELD };
    for (size_t i = 0; i < 4; i++) {
        rec = base(NB_KIND_REQUEST, sk);
        rec.tags[1].ptr = repeat('t', tag_lens[i]);
        rec.tags[1].len = tag_lens[i];
        expect(rec, sk, tag_want[i]);
    }
    /* Language tag 2..35, ASCII letters, digits and hyphens only. */
    const size_t lang_lens[] = { 1, 2, NB_LANGUAGE_MAX, NB_LANGUAGE_MAX + 1 };
    const int lang_want[] = { NB_EFIELD, 0, 0, NB_EFIELD };
    for (size_t i = 0; i < 4; i++) {
        rec = base(NB_KIND_PROFILE, sk);
        rec.languages[0].ptr = repeat('x', lang_lens[i]);
        rec.languages[0].len = lang_lens[i];
        expect(rec, sk, lang_want[i]);
    }
    const char *bad_langs[] = { "nl_BE", "nl BE", "n\xc3\xa9", "nl\n", "zh-Hant-TW" };
    for (size_t i = 0; i < 5; i++) {
        rec = base(NB_KIND_PROFILE, sk);
        rec.languages[1] = vector_text(bad_langs[i]);
        expect(rec, sk, i == 4 ? 0 : NB_EFIELD);
    }
}

static void enumerations_hold_their_ranges(void **state)
{
    (void)state;
    uint8_t sk[NB_SECRET_KEY_SIZE];
    struct nb_record rec;
    for (unsigned c = 0; c <= NB_CAT_COUNT; c++) {
        rec = base(NB_KIND_REQUEST, sk);
        rec.category = (uint8_t)c;
        expect(rec, sk, c < NB_CAT_COUNT ? 0 : NB_EFIELD);
    }
    for (unsigned u = 0; u <= NB_URGENCY_COUNT; u++) {
        rec = base(NB_KIND_REQUEST, sk);
        rec.urgency = (uint8_t)u;
        expect(rec, sk, u < NB_URGENCY_COUNT ? 0 : NB_EFIELD);
    }
    for (unsigned m = 0; m <= NB_MODE_COUNT; m++) {
        rec = base(NB_KIND_OFFER, sk);
        rec.mode = (uint8_t)m;
        expect(rec, sk, m < NB_MODE_COUNT ? 0 : NB_EFIELD);
    }
    for (int p = 0; p <= 1; p++) {
        rec = base(NB_KIND_PAUSE, sk);
        rec.paused = p;
        expect(rec, sk, 0);
    }
}

static void sealed_parts_hold_their_bounds(void **state)
{
    (void)state;
    const size_t lens[] = { NB_SEAL_OVERHEAD, NB_SEAL_OVERHEAD + 1, NB_SEALED_MAX,
                            NB_SEALED_MAX + 1 };
    const int want[] = { NB_EFIELD, 0, 0, NB_EFIELD };
    static uint8_t sealed[NB_SEALED_MAX + 1];
    for (unsigned kind = NB_KIND_ASSIGNMENT; kind <= NB_KIND_MESSAGE;
         kind += NB_KIND_MESSAGE - NB_KIND_ASSIGNMENT) {
        for (size_t i = 0; i < 4; i++) {
            uint8_t sk[NB_SECRET_KEY_SIZE];
            struct nb_record rec = base(kind, sk);
            rec.sealed.ptr = sealed;
            rec.sealed.len = lens[i];
            expect(rec, sk, want[i]);
        }
    }
}

static void largest_legitimate_records_fit(void **state)
{
    (void)state;
    uint8_t sk[NB_SECRET_KEY_SIZE];
    uint8_t buf[NB_RECORD_MAX];
    size_t len;
    /* Every text field of a request at its maximum, in 4-byte characters. */
    static char emoji[NB_DETAILS_MAX];
    for (size_t i = 0; i + 4 <= sizeof(emoji); i += 4) {
        memcpy(emoji + i, "\xf0\x9f\x8d\x9e", 4);
    }
    struct nb_record rec = base(NB_KIND_REQUEST, sk);
    rec.title = (struct nb_text){ emoji, NB_TITLE_MAX };
    rec.details = (struct nb_text){ emoji, NB_DETAILS_MAX };
    rec.n_tags = NB_TAGS_MAX;
    for (unsigned i = 0; i < NB_TAGS_MAX; i++) {
        rec.tags[i] = (struct nb_text){ emoji, NB_TAG_MAX };
    }
    rec.when = (struct nb_text){ emoji, NB_WHEN_MAX };
    rec.n_languages = NB_LANGUAGES_MAX;
    for (unsigned i = 0; i < NB_LANGUAGES_MAX; i++) {
        rec.languages[i] = (struct nb_text){ repeat('x', NB_LANGUAGE_MAX), NB_LANGUAGE_MAX };
    }
    rec.area = (struct nb_text){ emoji, NB_AREA_MAX };
    rec.on_behalf_of = (struct nb_text){ emoji, NB_NAME_MAX };
    assert_int_equal(nb_record_sign(&rec, sk, nid, buf, &len), 0);
    assert_true(len < 3700);
    print_message("largest request: %zu bytes\n", len);
    struct nb_record out;
    assert_int_equal(nb_record_open(buf, len, nid, rec.created_at, &out), 0);

    static uint8_t sealed[NB_SEALED_MAX];
    rec = base(NB_KIND_ASSIGNMENT, sk);
    rec.sealed = (struct nb_bytes){ sealed, NB_SEALED_MAX };
    assert_int_equal(nb_record_sign(&rec, sk, nid, buf, &len), 0);
    print_message("largest assignment: %zu bytes\n", len);
    assert_int_equal(nb_record_open(buf, len, nid, rec.created_at, &out), 0);
}

/* ---- validation: text ---------------------------------------------------- */

static void text_must_be_clean_utf8(void **state)
{
    (void)state;
    uint8_t sk[NB_SECRET_KEY_SIZE];
    static const struct {
        const char *s;
        int title;   /* one-line field */
        int details; /* multi-line field */
    } cases[] = {
        { "caf\xc3\xa9 \xe2\x82\xac \xf0\x9f\x8d\x9e", 0, 0 }, /* 2, 3 and 4 byte forms */
        { "two\nlines", NB_EUTF8, 0 },
        { "tab\there", NB_EUTF8, NB_EUTF8 },
        { "cr\r\n", NB_EUTF8, NB_EUTF8 },
        { "nul\x00x", NB_EUTF8, NB_EUTF8 },
        { "del\x7f", NB_EUTF8, NB_EUTF8 },
        { "c1 \xc2\x85", NB_EUTF8, NB_EUTF8 },       /* U+0085 NEL */
        { "c1 \xc2\x9f", NB_EUTF8, NB_EUTF8 },       /* U+009F */
        { "nbsp \xc2\xa0", 0, 0 },                   /* U+00A0 is not a control */
        { "overlong \xc0\xaf", NB_EUTF8, NB_EUTF8 }, /* '/' in two bytes */
        { "overlong \xe0\x80\xaf", NB_EUTF8, NB_EUTF8 },
        { "overlong \xf0\x80\x80\xaf", NB_EUTF8, NB_EUTF8 },
        { "surrogate \xed\xa0\x80", NB_EUTF8, NB_EUTF8 },
        { "surrogate \xed\xbf\xbf", NB_EUTF8, NB_EUTF8 },
        { "max \xf4\x8f\xbf\xbf", 0, 0 }, /* U+10FFFF */
        { "too big \xf4\x90\x80\x80", NB_EUTF8, NB_EUTF8 },
        { "too big \xf5\x80\x80\x80", NB_EUTF8, NB_EUTF8 },
        { "lone \x80", NB_EUTF8, NB_EUTF8 },
        { "cut \xe2\x82", NB_EUTF8, NB_EUTF8 },
        { "cut \xe2\x82x", NB_EUTF8, NB_EUTF8 },
        { "ff \xff", NB_EUTF8, NB_EUTF8 },
    };
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        /* "nul\x00x" is 5 bytes long; strlen would stop at the NUL. */
        size_t len = i == 4 ? 5 : strlen(cases[i].s);
        struct nb_text t = { cases[i].s, len };
        struct nb_record rec = base(NB_KIND_REQUEST, sk);
        rec.title = t;
        expect(rec, sk, cases[i].title);
        rec = base(NB_KIND_REQUEST, sk);
        rec.details = t;
        expect(rec, sk, cases[i].details);
        /* The other fields follow the same rule as their kind of text. */
        rec = base(NB_KIND_REQUEST, sk);
        rec.tags[0] = t;
        expect(rec, sk, cases[i].title);
        rec = base(NB_KIND_PROFILE, sk);
        rec.name = t;
        expect(rec, sk, cases[i].title);
        rec = base(NB_KIND_PROFILE, sk);
        rec.about = t;
        expect(rec, sk, cases[i].details);
        rec = base(NB_KIND_RESPONSE, sk);
        rec.note = t;
        expect(rec, sk, cases[i].details);
    }
}

/* ---- validation: time ---------------------------------------------------- */

static void created_at_is_neither_too_old_nor_in_the_future(void **state)
{
    (void)state;
    uint8_t sk[NB_SECRET_KEY_SIZE];
    uint8_t buf[NB_RECORD_MAX];
    struct nb_record rec = base(NB_KIND_RESPONSE, sk);
    struct nb_record out;
    uint64_t t = rec.created_at;
    size_t len = sign_raw(&rec, sk, nid, buf);

    /* A receiving node whose clock is behind by up to the skew accepts it. */
    assert_int_equal(nb_record_open(buf, len, nid, t - NB_FUTURE_SKEW, &out), 0);
    assert_int_equal(nb_record_open(buf, len, nid, t - NB_FUTURE_SKEW - 1, &out), NB_EFUTURE);
    assert_int_equal(nb_record_open(buf, len, nid, t + 365 * VECTOR_DAY, &out), 0);
    assert_int_equal(nb_record_validate(&rec, t - NB_FUTURE_SKEW - 1), NB_EFUTURE);

    /* Before 2020-01-01 nothing was written with Noaber. */
    rec.created_at = 1577836800;
    assert_int_equal(open_raw(&rec, sk), 0);
    rec.created_at = 1577836799;
    assert_int_equal(open_raw(&rec, sk), NB_EFIELD);
    uint8_t ignored[NB_RECORD_MAX];
    assert_int_equal(nb_record_sign(&rec, sk, nid, ignored, &len), NB_EFIELD);
}

static void expiry_is_after_creation_and_within_ninety_days(void **state)
{
    (void)state;
    const unsigned kinds[] = { NB_KIND_REQUEST, NB_KIND_OFFER, NB_KIND_MESSAGE };
    for (size_t i = 0; i < 3; i++) {
        uint8_t sk[NB_SECRET_KEY_SIZE];
        struct nb_record rec = base(kinds[i], sk);
        uint64_t t = rec.created_at;
        const uint64_t expiries[] = {
            t - 1, t, t + 1, t + NB_EXPIRY_DEFAULT, t + NB_EXPIRY_MAX, t + NB_EXPIRY_MAX + 1
        };
        const int want[] = { NB_EEXPIRY, NB_EEXPIRY, 0, 0, 0, NB_EEXPIRY };
        for (size_t j = 0; j < 6; j++) {
            rec.expires_at = expiries[j];
            expect(rec, sk, want[j]);
        }
    }
}

/* ---- names ------------------------------------------------------------------ */

static void names_parse_back(void **state)
{
    (void)state;
    for (unsigned k = 1; k <= NB_KIND_MAX_; k++) {
        assert_int_equal(nb_kind_parse(nb_kind_name(k)), k);
    }
    assert_null(nb_kind_name(0));
    assert_null(nb_kind_name(NB_KIND_MAX_ + 1));
    assert_int_equal(nb_kind_parse("favour"), NB_EKIND);
    assert_int_equal(nb_kind_parse(NULL), NB_EKIND);
    for (unsigned c = 0; c < NB_CAT_COUNT; c++) {
        assert_int_equal(nb_category_parse(nb_category_name(c)), c);
    }
    assert_null(nb_category_name(NB_CAT_COUNT));
    assert_int_equal(nb_category_parse("Groceries"), NB_EINVAL);
    for (unsigned u = 0; u < NB_URGENCY_COUNT; u++) {
        assert_int_equal(nb_urgency_parse(nb_urgency_name(u)), u);
    }
    assert_null(nb_urgency_name(NB_URGENCY_COUNT));
    for (unsigned m = 0; m < NB_MODE_COUNT; m++) {
        assert_int_equal(nb_mode_parse(nb_mode_name(m)), m);
    }
    assert_null(nb_mode_name(NB_MODE_COUNT));
    assert_string_equal(nb_kind_name(NB_KIND_DONE_CLAIM), "done_claim");
    assert_string_equal(nb_category_name(NB_CAT_CHILDCARE), "childcare");
    assert_string_equal(nb_urgency_name(NB_URGENCY_THIS_WEEK), "this_week");
    assert_string_equal(nb_mode_name(NB_MODE_IN_PERSON), "in_person");
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(vectors_match_the_committed_file),
        cmocka_unit_test(protocol_doc_lists_every_vector),
        cmocka_unit_test(every_kind_round_trips),
        cmocka_unit_test(signing_is_deterministic_and_ends_with_the_signature),
        cmocka_unit_test(any_flipped_bit_is_refused),
        cmocka_unit_test(records_do_not_replay_into_another_neighbourhood),
        cmocka_unit_test(signing_needs_the_authors_key),
        cmocka_unit_test(non_canonical_encodings_are_refused),
        cmocka_unit_test(every_element_in_a_longer_form_is_refused),
        cmocka_unit_test(every_kind_refuses_reordered_repeated_and_unknown_fields),
        cmocka_unit_test(oversized_input_is_refused_before_parsing),
        cmocka_unit_test(kinds_require_and_allow_exactly_their_fields),
        cmocka_unit_test(members_cannot_assign_vouch_for_or_message_themselves),
        cmocka_unit_test(text_fields_hold_exactly_their_bounds),
        cmocka_unit_test(tags_and_languages_hold_their_bounds),
        cmocka_unit_test(enumerations_hold_their_ranges),
        cmocka_unit_test(sealed_parts_hold_their_bounds),
        cmocka_unit_test(largest_legitimate_records_fit),
        cmocka_unit_test(text_must_be_clean_utf8),
        cmocka_unit_test(created_at_is_neither_too_old_nor_in_the_future),
        cmocka_unit_test(expiry_is_after_creation_and_within_ninety_days),
        cmocka_unit_test(names_parse_back),
    };
    return cmocka_run_group_tests(tests, setup, NULL);
}
