/*
 * Checked base32 text (see base32.h for the format).
 */
#include "proto/base32.h"

#include <noaber/error.h>

#include <sodium.h>
#include <stdint.h>
#include <string.h>

static const char alphabet[] = "0123456789abcdefghjkmnpqrstvwxyz";

/* Returns the 5-bit value of a character, or -1 if it is not base32. */
static int digit_value(unsigned char c)
{
    if (c >= 'A' && c <= 'Z') {
        c = (unsigned char)(c - 'A' + 'a');
    }
    /* Crockford's aliases: the letters people confuse with digits. */
    if (c == 'o') {
        return 0;
    }
    if (c == 'i' || c == 'l') {
        return 1;
    }
    for (int v = 0; v < 32; v++) {
        if ((unsigned char)alphabet[v] == c) {
            return v;
        }
    }
    return -1;
}

static int is_space(char c)
{
    return c == ' ' || c == '\t' || c == '\n' || c == '\r' || c == '\v' || c == '\f';
}

static char lower(char c)
{
    return (c >= 'A' && c <= 'Z') ? (char)(c - 'A' + 'a') : c;
}

static int checksum(const char *context, const uint8_t *payload, size_t len,
                    uint8_t ret_sum[NB_BASE32_CHECKSUM_SIZE])
{
    crypto_generichash_state st;
    uint8_t digest[32];

    if (crypto_generichash_init(&st, NULL, 0, sizeof(digest)) != 0 ||
        crypto_generichash_update(&st, (const uint8_t *)context, strlen(context)) != 0 ||
        crypto_generichash_update(&st, payload, len) != 0 ||
        crypto_generichash_final(&st, digest, sizeof(digest)) != 0) {
        sodium_memzero(&st, sizeof(st));
        return NB_ECRYPTO;
    }
    memcpy(ret_sum, digest, NB_BASE32_CHECKSUM_SIZE);
    /* The payload may be a secret seed; its hash state is wiped with it. */
    sodium_memzero(&st, sizeof(st));
    sodium_memzero(digest, sizeof(digest));
    return 0;
}

int nb_base32_encode_checked(const char *prefix, const char *context, const uint8_t *payload,
                             size_t len, char *out, size_t out_size)
{
    uint8_t buf[NB_BASE32_PAYLOAD_MAX + NB_BASE32_CHECKSUM_SIZE];
    size_t prefix_len = strlen(prefix);
    size_t total = len + NB_BASE32_CHECKSUM_SIZE;
    size_t pos = 0;
    uint32_t acc = 0;
    unsigned bits = 0;
    int r;

    if (len > NB_BASE32_PAYLOAD_MAX) {
        return NB_ETOOBIG;
    }
    if (out_size < NB_BASE32_TEXT_LEN(prefix_len, len) + 1) {
        return NB_EINVAL;
    }
    if (len > 0) {
        memcpy(buf, payload, len);
    }
    r = checksum(context, payload, len, buf + len);
    if (r < 0) {
        goto out;
    }

    memcpy(out, prefix, prefix_len);
    pos = prefix_len;
    for (size_t i = 0; i < total; i++) {
        acc = (acc << 8) | buf[i];
        bits += 8;
        while (bits >= 5) {
            bits -= 5;
            out[pos++] = alphabet[(acc >> bits) & 31];
        }
        acc &= (1u << bits) - 1;
    }
    if (bits > 0) {
        /* The last character carries the remaining bits followed by zeros. */
        out[pos++] = alphabet[(acc << (5 - bits)) & 31];
    }
    out[pos] = '\0';
    r = 0;
out:
    sodium_memzero(buf, sizeof(buf));
    return r;
}

/*
 * Finds the characters after the prefix: skips surrounding whitespace and
 * checks the prefix.  A text shorter than the prefix that agrees with it so
 * far was cut off (NB_ETRUNCATED); anything else that does not start with the
 * prefix is a different kind of key or code (NB_EPREFIX).
 */
static int after_prefix(const char *prefix, const char *text, size_t text_len, size_t *ret_start,
                        size_t *ret_end)
{
    size_t prefix_len = strlen(prefix);
    size_t start = 0, end = text_len;

    while (start < end && is_space(text[start])) {
        start++;
    }
    while (end > start && is_space(text[end - 1])) {
        end--;
    }
    for (size_t i = 0; i < prefix_len; i++) {
        if (start + i >= end) {
            return NB_ETRUNCATED;
        }
        if (lower(text[start + i]) != lower(prefix[i])) {
            return NB_EPREFIX;
        }
    }
    *ret_start = start + prefix_len;
    *ret_end = end;
    return 0;
}

/*
 * Decodes the `nchars` characters of base32(payload || checksum) at `text`
 * into `out`.  With `want` other than SIZE_MAX, any payload length other
 * than `want` is NB_EMALFORMED, checked before the checksum so that a
 * truncated key is reported as such rather than as a typo.
 */
static int decode_body(const char *context, const char *text, size_t nchars, size_t want,
                       uint8_t *out, size_t out_size, size_t *ret_len)
{
    uint8_t buf[NB_BASE32_PAYLOAD_MAX + NB_BASE32_CHECKSUM_SIZE];
    uint8_t sum[NB_BASE32_CHECKSUM_SIZE];
    size_t total, payload_len, n = 0;
    uint32_t acc = 0;
    unsigned bits = 0;
    int r;

    total = nchars * 5 / 8;
    if (total < NB_BASE32_CHECKSUM_SIZE || NB_BASE32_CHARS(total) != nchars) {
        /* Not a length that any payload encodes to. */
        return NB_EMALFORMED;
    }
    payload_len = total - NB_BASE32_CHECKSUM_SIZE;
    if (want != SIZE_MAX && payload_len != want) {
        return NB_EMALFORMED;
    }
    if (total > sizeof(buf) || payload_len > out_size) {
        return NB_ETOOBIG;
    }

    for (size_t i = 0; i < nchars; i++) {
        int v = digit_value((unsigned char)text[i]);
        if (v < 0) {
            r = NB_EMALFORMED;
            goto out;
        }
        acc = (acc << 5) | (uint32_t)v;
        bits += 5;
        if (bits >= 8) {
            bits -= 8;
            buf[n++] = (uint8_t)(acc >> bits);
        }
        acc &= (1u << bits) - 1;
    }
    /*
     * The bits left over must be zero: otherwise two different texts would
     * decode to the same key, and a typo in the last character could go
     * unnoticed.
     */
    if (acc != 0) {
        r = NB_EMALFORMED;
        goto out;
    }

    r = checksum(context, buf, payload_len, sum);
    if (r < 0) {
        goto out;
    }
    if (sodium_memcmp(sum, buf + payload_len, NB_BASE32_CHECKSUM_SIZE) != 0) {
        r = NB_ECHECKSUM;
        goto out;
    }
    if (payload_len > 0) {
        memcpy(out, buf, payload_len);
    }
    *ret_len = payload_len;
    r = 0;
out:
    sodium_memzero(buf, sizeof(buf));
    sodium_memzero(sum, sizeof(sum));
    return r;
}

static int decode(const char *prefix, const char *context, const char *text, size_t text_len,
                  size_t want, uint8_t *out, size_t out_size, size_t *ret_len)
{
    size_t start, end;
    int r = after_prefix(prefix, text, text_len, &start, &end);

    if (r < 0) {
        /* Keys have a fixed length: a cut-off key is simply malformed. */
        return r == NB_ETRUNCATED ? NB_EMALFORMED : r;
    }
    return decode_body(context, text + start, end - start, want, out, out_size, ret_len);
}

int nb_base32_decode_checked(const char *prefix, const char *context, const char *text,
                             size_t text_len, uint8_t *out, size_t out_size, size_t *ret_len)
{
    return decode(prefix, context, text, text_len, SIZE_MAX, out, out_size, ret_len);
}

int nb_base32_decode_checked_exact(const char *prefix, const char *context, const char *text,
                                   size_t text_len, uint8_t *out, size_t len)
{
    size_t got;

    if (len > NB_BASE32_PAYLOAD_MAX) {
        return NB_EINVAL;
    }
    return decode(prefix, context, text, text_len, len, out, len, &got);
}

int nb_base32_encode_sized(const char *prefix, const char *context, const uint8_t *payload,
                           size_t len, char *out, size_t out_size)
{
    size_t prefix_len = strlen(prefix);
    char sized_prefix[32];

    if (len > NB_BASE32_PAYLOAD_MAX) {
        return NB_ETOOBIG;
    }
    if (prefix_len + NB_BASE32_LENGTH_CHARS >= sizeof(sized_prefix)) {
        return NB_EINVAL;
    }
    /* The length characters, most significant first, stand between the
     * prefix and the body: the checked encoding then sees one longer prefix. */
    memcpy(sized_prefix, prefix, prefix_len);
    sized_prefix[prefix_len] = alphabet[(len >> 5) & 31];
    sized_prefix[prefix_len + 1] = alphabet[len & 31];
    sized_prefix[prefix_len + 2] = '\0';
    return nb_base32_encode_checked(sized_prefix, context, payload, len, out, out_size);
}

int nb_base32_decode_sized(const char *prefix, const char *context, const char *text,
                           size_t text_len, uint8_t *out, size_t out_size, size_t *ret_len)
{
    size_t start, end, declared, have, need;
    int high, low;
    int r = after_prefix(prefix, text, text_len, &start, &end);

    if (r < 0) {
        return r;
    }
    have = end - start;
    /* A text far longer than any code is refused before it is read. */
    if (have >
        NB_BASE32_LENGTH_CHARS + NB_BASE32_CHARS(NB_BASE32_PAYLOAD_MAX + NB_BASE32_CHECKSUM_SIZE)) {
        return NB_ETOOBIG;
    }
    if (have < NB_BASE32_LENGTH_CHARS) {
        return NB_ETRUNCATED;
    }
    high = digit_value((unsigned char)text[start]);
    low = digit_value((unsigned char)text[start + 1]);
    if (high < 0 || low < 0) {
        return NB_EMALFORMED;
    }
    declared = (size_t)high << 5 | (size_t)low;
    if (declared > NB_BASE32_PAYLOAD_MAX) {
        return NB_EMALFORMED;
    }
    /*
     * The length is checked before anything else: fewer characters than it
     * announces means the text was cut short, more means it was damaged
     * (characters added, or a typo in the length itself).  Only a text of the
     * right length gets to the checksum, so a checksum failure is a typo.
     */
    have -= NB_BASE32_LENGTH_CHARS;
    need = NB_BASE32_CHARS(declared + NB_BASE32_CHECKSUM_SIZE);
    if (have < need) {
        return NB_ETRUNCATED;
    }
    if (have > need) {
        return NB_EMALFORMED;
    }
    return decode_body(context, text + start + NB_BASE32_LENGTH_CHARS, have, declared, out,
                       out_size, ret_len);
}
