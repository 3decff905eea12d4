/*
 * Member and node identities, their textual form, sealing to one member,
 * neighbourhood key derivations and the text of key files.
 */
#include <noaber/identity.h>

#include <noaber/error.h>

#include "proto/base32.h"

#include <sodium.h>
#include <stdbool.h>
#include <stdio.h>
#include <string.h>

#define MEMBER_KEY_CONTEXT  "noaber/member-key/v1"
#define NODE_KEY_CONTEXT    "noaber/node-key/v1"
#define SECRET_SEED_CONTEXT "noaber/secret-seed/v1"

#define NEIGHBOURHOOD_ID_CONTEXT "noaber/neighbourhood-id/v1"
#define NOISE_PSK_CONTEXT        "noaber/noise-psk/v1"
#define BEACON_KEY_CONTEXT       "noaber/beacon/v1"

_Static_assert(NB_MEMBER_KEY_TEXT_LEN ==
                   NB_BASE32_TEXT_LEN(sizeof(NB_MEMBER_KEY_PREFIX) - 1, NB_KEY_SIZE),
               "NB_MEMBER_KEY_TEXT_LEN must match the encoding");
_Static_assert(NB_NODE_KEY_TEXT_LEN ==
                   NB_BASE32_TEXT_LEN(sizeof(NB_NODE_KEY_PREFIX) - 1, NB_KEY_SIZE),
               "NB_NODE_KEY_TEXT_LEN must match the encoding");
_Static_assert(NB_SEAL_OVERHEAD == crypto_box_SEALBYTES, "NB_SEAL_OVERHEAD");
_Static_assert(NB_SECRET_KEY_SIZE == crypto_sign_SECRETKEYBYTES, "NB_SECRET_KEY_SIZE");
_Static_assert(NB_SEED_SIZE == crypto_sign_SEEDBYTES, "NB_SEED_SIZE");

#define SECRET_TEXT_LEN NB_BASE32_TEXT_LEN(sizeof(NB_SECRET_PREFIX) - 1, NB_SEED_SIZE)

int nb_init(void)
{
    /* sodium_init returns 1 when it was already initialised: not an error. */
    return sodium_init() < 0 ? NB_ECRYPTO : 0;
}

int nb_member_from_seed(const uint8_t seed[NB_SEED_SIZE], uint8_t ret_pk[NB_KEY_SIZE],
                        uint8_t ret_sk[NB_SECRET_KEY_SIZE])
{
    uint8_t pk[NB_KEY_SIZE], sk[NB_SECRET_KEY_SIZE];
    int r = NB_ECRYPTO;

    if (crypto_sign_seed_keypair(pk, sk, seed) != 0) {
        goto out;
    }
    memcpy(ret_pk, pk, sizeof(pk));
    memcpy(ret_sk, sk, sizeof(sk));
    r = 0;
out:
    sodium_memzero(sk, sizeof(sk));
    return r;
}

int nb_member_new(uint8_t ret_pk[NB_KEY_SIZE], uint8_t ret_sk[NB_SECRET_KEY_SIZE])
{
    uint8_t seed[NB_SEED_SIZE];
    int r = nb_init();

    if (r < 0) {
        return r;
    }
    randombytes_buf(seed, sizeof(seed));
    r = nb_member_from_seed(seed, ret_pk, ret_sk);
    sodium_memzero(seed, sizeof(seed));
    return r;
}

void nb_member_key_to_text(const uint8_t pk[NB_KEY_SIZE], char out[NB_MEMBER_KEY_TEXT_LEN + 1])
{
    /* Cannot fail: the sizes are fixed and checked at compile time above. */
    (void)nb_base32_encode_checked(NB_MEMBER_KEY_PREFIX, MEMBER_KEY_CONTEXT, pk, NB_KEY_SIZE, out,
                                   NB_MEMBER_KEY_TEXT_LEN + 1);
}

int nb_member_key_from_text(const char *text, uint8_t ret_pk[NB_KEY_SIZE])
{
    if (text == NULL) {
        return NB_EINVAL;
    }
    return nb_base32_decode_checked_exact(NB_MEMBER_KEY_PREFIX, MEMBER_KEY_CONTEXT, text,
                                          strlen(text), ret_pk, NB_KEY_SIZE);
}

int nb_node_from_seed(const uint8_t seed[NB_SEED_SIZE], uint8_t ret_pk[NB_KEY_SIZE],
                      uint8_t ret_sk[NB_NODE_SECRET_KEY_SIZE])
{
    uint8_t pk[NB_KEY_SIZE];

    /* X25519 clamps the scalar itself, so the seed is the private key as is. */
    if (crypto_scalarmult_curve25519_base(pk, seed) != 0) {
        return NB_ECRYPTO;
    }
    memcpy(ret_pk, pk, sizeof(pk));
    memcpy(ret_sk, seed, NB_NODE_SECRET_KEY_SIZE);
    return 0;
}

void nb_node_key_to_text(const uint8_t pk[NB_KEY_SIZE], char out[NB_NODE_KEY_TEXT_LEN + 1])
{
    (void)nb_base32_encode_checked(NB_NODE_KEY_PREFIX, NODE_KEY_CONTEXT, pk, NB_KEY_SIZE, out,
                                   NB_NODE_KEY_TEXT_LEN + 1);
}

int nb_node_key_from_text(const char *text, uint8_t ret_pk[NB_KEY_SIZE])
{
    if (text == NULL) {
        return NB_EINVAL;
    }
    return nb_base32_decode_checked_exact(NB_NODE_KEY_PREFIX, NODE_KEY_CONTEXT, text, strlen(text),
                                          ret_pk, NB_KEY_SIZE);
}

int nb_seal(const uint8_t *msg, size_t len, const uint8_t recipient_pk[NB_KEY_SIZE], uint8_t *out)
{
    uint8_t xpk[crypto_box_PUBLICKEYBYTES];
    int r = nb_init();

    if (r < 0) {
        return r;
    }
    /* Fails for keys that are not valid Ed25519 points (e.g. small order). */
    if (crypto_sign_ed25519_pk_to_curve25519(xpk, recipient_pk) != 0) {
        return NB_ECRYPTO;
    }
    if (crypto_box_seal(out, msg, len, xpk) != 0) {
        return NB_ECRYPTO;
    }
    return 0;
}

int nb_unseal(const uint8_t *box, size_t len, const uint8_t pk[NB_KEY_SIZE],
              const uint8_t sk[NB_SECRET_KEY_SIZE], uint8_t *out, size_t *ret_len)
{
    uint8_t xpk[crypto_box_PUBLICKEYBYTES], xsk[crypto_box_SECRETKEYBYTES];
    int r;

    /* A box shorter than its own overhead cannot be opened by anyone. */
    if (len < NB_SEAL_OVERHEAD) {
        return NB_EDECRYPT;
    }
    if (crypto_sign_ed25519_pk_to_curve25519(xpk, pk) != 0 ||
        crypto_sign_ed25519_sk_to_curve25519(xsk, sk) != 0) {
        r = NB_ECRYPTO;
        goto out;
    }
    if (crypto_box_seal_open(out, box, len, xpk, xsk) != 0) {
        r = NB_EDECRYPT;
        goto out;
    }
    *ret_len = len - NB_SEAL_OVERHEAD;
    r = 0;
out:
    sodium_memzero(xsk, sizeof(xsk));
    return r;
}

void nb_hex(const uint8_t *bytes, size_t len, char *out)
{
    static const char digits[] = "0123456789abcdef";

    for (size_t i = 0; i < len; i++) {
        out[2 * i] = digits[bytes[i] >> 4];
        out[2 * i + 1] = digits[bytes[i] & 15];
    }
    out[2 * len] = '\0';
}

static int hex_value(char c)
{
    if (c >= '0' && c <= '9') {
        return c - '0';
    }
    if (c >= 'a' && c <= 'f') {
        return c - 'a' + 10;
    }
    if (c >= 'A' && c <= 'F') {
        return c - 'A' + 10;
    }
    return -1;
}

int nb_unhex(const char *hex, uint8_t *out, size_t len)
{
    if (hex == NULL) {
        return NB_EINVAL;
    }
    /* Validate everything first so that `out` is untouched on failure. */
    for (size_t i = 0; i < 2 * len; i++) {
        if (hex_value(hex[i]) < 0) {
            return NB_EMALFORMED;
        }
    }
    if (hex[2 * len] != '\0') {
        return NB_EMALFORMED;
    }
    for (size_t i = 0; i < len; i++) {
        out[i] = (uint8_t)(hex_value(hex[2 * i]) << 4 | hex_value(hex[2 * i + 1]));
    }
    return 0;
}

/* Neighbourhoods. */

static int derive(const uint8_t key[NB_NEIGHBOURHOOD_KEY_SIZE], const char *context,
                  uint8_t ret_out[32])
{
    uint8_t out[32];

    if (crypto_generichash(out, sizeof(out), (const uint8_t *)context, strlen(context), key,
                           NB_NEIGHBOURHOOD_KEY_SIZE) != 0) {
        return NB_ECRYPTO;
    }
    memcpy(ret_out, out, sizeof(out));
    sodium_memzero(out, sizeof(out));
    return 0;
}

int nb_neighbourhood_key_new(uint8_t ret_key[NB_NEIGHBOURHOOD_KEY_SIZE])
{
    int r = nb_init();

    if (r < 0) {
        return r;
    }
    randombytes_buf(ret_key, NB_NEIGHBOURHOOD_KEY_SIZE);
    return 0;
}

int nb_neighbourhood_id(const uint8_t key[NB_NEIGHBOURHOOD_KEY_SIZE],
                        uint8_t ret_id[NB_NEIGHBOURHOOD_ID_SIZE])
{
    return derive(key, NEIGHBOURHOOD_ID_CONTEXT, ret_id);
}

int nb_neighbourhood_psk(const uint8_t key[NB_NEIGHBOURHOOD_KEY_SIZE],
                         uint8_t ret_psk[NB_NEIGHBOURHOOD_PSK_SIZE])
{
    return derive(key, NOISE_PSK_CONTEXT, ret_psk);
}

int nb_neighbourhood_beacon_key(const uint8_t key[NB_NEIGHBOURHOOD_KEY_SIZE],
                                uint8_t ret_key[NB_NEIGHBOURHOOD_BEACON_KEY_SIZE])
{
    return derive(key, BEACON_KEY_CONTEXT, ret_key);
}

/* Key files. */

struct key_file_shape {
    const char *header; /* the first line, without the version */
    int (*derive_public)(const uint8_t seed[NB_SEED_SIZE], uint8_t ret_pk[NB_KEY_SIZE]);
    const char *public_word;
    const char *public_prefix;
    const char *public_context;
    const char *comment;
};

static int member_public(const uint8_t seed[NB_SEED_SIZE], uint8_t ret_pk[NB_KEY_SIZE])
{
    uint8_t sk[NB_SECRET_KEY_SIZE];
    int r = nb_member_from_seed(seed, ret_pk, sk);

    sodium_memzero(sk, sizeof(sk));
    return r;
}

static int node_public(const uint8_t seed[NB_SEED_SIZE], uint8_t ret_pk[NB_KEY_SIZE])
{
    uint8_t sk[NB_NODE_SECRET_KEY_SIZE];
    int r = nb_node_from_seed(seed, ret_pk, sk);

    sodium_memzero(sk, sizeof(sk));
    return r;
}

static const struct key_file_shape *shape_of(enum nb_key_file_kind kind)
{
    static const struct key_file_shape member = {
        "noaber-identity",
        member_public,
        "member",
        NB_MEMBER_KEY_PREFIX,
        MEMBER_KEY_CONTEXT,
        "# A Noaber member's identity: whoever has this file can post as this member.\n"
        "# Keep it private (chmod 600) and keep a backup: it cannot be recovered.\n",
    };
    static const struct key_file_shape node = {
        "noaber-node-key",
        node_public,
        "node",
        NB_NODE_KEY_PREFIX,
        NODE_KEY_CONTEXT,
        "# The key of a Noaber node (noaberd).  Keep it private (chmod 600).\n",
    };

    switch (kind) {
    case NB_KEY_FILE_MEMBER:
        return &member;
    case NB_KEY_FILE_NODE:
        return &node;
    }
    return NULL;
}

int nb_key_file_format(enum nb_key_file_kind kind, const uint8_t seed[NB_SEED_SIZE], char *out,
                       size_t out_size)
{
    const struct key_file_shape *shape = shape_of(kind);
    uint8_t pk[NB_KEY_SIZE];
    char public_text[NB_MEMBER_KEY_TEXT_LEN + 1];
    char secret_text[SECRET_TEXT_LEN + 1];
    int r, n;

    if (shape == NULL || out_size < NB_KEY_FILE_MAX) {
        return NB_EINVAL;
    }
    r = shape->derive_public(seed, pk);
    if (r < 0) {
        goto out;
    }
    r = nb_base32_encode_checked(shape->public_prefix, shape->public_context, pk, sizeof(pk),
                                 public_text, sizeof(public_text));
    if (r < 0) {
        goto out;
    }
    r = nb_base32_encode_checked(NB_SECRET_PREFIX, SECRET_SEED_CONTEXT, seed, NB_SEED_SIZE,
                                 secret_text, sizeof(secret_text));
    if (r < 0) {
        goto out;
    }
    n = snprintf(out, out_size, "%s 1\n%s%s %s\nsecret %s\n", shape->header, shape->comment,
                 shape->public_word, public_text, secret_text);
    r = (n > 0 && (size_t)n < out_size) ? 0 : NB_EINVAL;
out:
    sodium_memzero(secret_text, sizeof(secret_text));
    return r;
}

static bool is_blank(char c)
{
    return c == ' ' || c == '\t';
}

/* Compares the line [p, p + len) with a NUL-terminated word followed by a blank. */
static bool starts_with_word(const char *p, size_t len, const char *word)
{
    size_t n = strlen(word);
    return len > n && memcmp(p, word, n) == 0 && is_blank(p[n]);
}

/*
 * Checks the first line.  Returns 0, NB_EVERSION for a version of this kind
 * other than 1, NB_EPREFIX for the other kind of key file, or NB_EMALFORMED.
 */
static int check_header(enum nb_key_file_kind kind, const char *line, size_t len)
{
    const struct key_file_shape *shape = shape_of(kind);
    const struct key_file_shape *other =
        shape_of(kind == NB_KEY_FILE_MEMBER ? NB_KEY_FILE_NODE : NB_KEY_FILE_MEMBER);
    size_t n = strlen(shape->header);
    size_t i;

    if (starts_with_word(line, len, other->header)) {
        return NB_EPREFIX;
    }
    if (!starts_with_word(line, len, shape->header)) {
        return NB_EMALFORMED;
    }
    i = n;
    while (i < len && is_blank(line[i])) {
        i++;
    }
    if (len - i == 1 && line[i] == '1') {
        return 0;
    }
    /* A number other than 1 is a later format; anything else is damage. */
    for (size_t j = i; j < len; j++) {
        if (line[j] < '0' || line[j] > '9') {
            return NB_EMALFORMED;
        }
    }
    return i < len ? NB_EVERSION : NB_EMALFORMED;
}

int nb_key_file_parse(enum nb_key_file_kind kind, const char *text, size_t len,
                      uint8_t ret_seed[NB_SEED_SIZE])
{
    const struct key_file_shape *shape = shape_of(kind);
    uint8_t seed[NB_SEED_SIZE], stated_pk[NB_KEY_SIZE];
    uint8_t pk[NB_KEY_SIZE];
    bool have_seed = false, have_pk = false;
    size_t pos = 0, lineno = 0;
    int r;

    if (shape == NULL || (text == NULL && len > 0)) {
        return NB_EINVAL;
    }
    if (len > NB_KEY_FILE_MAX) {
        return NB_ETOOBIG;
    }

    while (pos < len) {
        const char *line = text + pos;
        size_t n = 0, start = 0, end;
        const char *value;
        size_t value_len;

        while (pos + n < len && text[pos + n] != '\n') {
            n++;
        }
        pos += n + (pos + n < len ? 1 : 0);
        lineno++;

        /* Printable ASCII and tabs only; a CR before the LF is tolerated. */
        end = n;
        if (end > 0 && line[end - 1] == '\r') {
            end--;
        }
        for (size_t i = 0; i < end; i++) {
            if ((line[i] < 0x20 || line[i] > 0x7e) && line[i] != '\t') {
                r = NB_EMALFORMED;
                goto out;
            }
        }
        while (start < end && is_blank(line[start])) {
            start++;
        }
        while (end > start && is_blank(line[end - 1])) {
            end--;
        }

        if (lineno == 1) {
            r = check_header(kind, line + start, end - start);
            if (r < 0) {
                goto out;
            }
            continue;
        }
        if (start == end || line[start] == '#') {
            continue;
        }

        if (starts_with_word(line + start, end - start, "secret")) {
            value = line + start + strlen("secret");
            value_len = end - start - strlen("secret");
            if (have_seed) {
                r = NB_EMALFORMED;
                goto out;
            }
            r = nb_base32_decode_checked_exact(NB_SECRET_PREFIX, SECRET_SEED_CONTEXT, value,
                                               value_len, seed, sizeof(seed));
            have_seed = true;
        } else if (starts_with_word(line + start, end - start, shape->public_word)) {
            value = line + start + strlen(shape->public_word);
            value_len = end - start - strlen(shape->public_word);
            if (have_pk) {
                r = NB_EMALFORMED;
                goto out;
            }
            r = nb_base32_decode_checked_exact(shape->public_prefix, shape->public_context, value,
                                               value_len, stated_pk, sizeof(stated_pk));
            have_pk = true;
        } else {
            r = NB_EMALFORMED;
            goto out;
        }
        if (r < 0) {
            /*
             * NB_EPREFIX is kept for "the other kind of key file"; a value
             * with a wrong prefix is simply damage.
             */
            if (r == NB_EPREFIX || r == NB_ETOOBIG) {
                r = NB_EMALFORMED;
            }
            goto out;
        }
    }

    /* An empty file, or one cut off before its secret line. */
    if (lineno == 0 || !have_seed) {
        r = NB_EMALFORMED;
        goto out;
    }
    if (have_pk) {
        /* The stated public key guards against a secret corrupted yet valid. */
        r = shape->derive_public(seed, pk);
        if (r < 0) {
            goto out;
        }
        if (sodium_memcmp(pk, stated_pk, sizeof(pk)) != 0) {
            r = NB_ECHECKSUM;
            goto out;
        }
    }
    memcpy(ret_seed, seed, sizeof(seed));
    r = 0;
out:
    sodium_memzero(seed, sizeof(seed));
    return r;
}
