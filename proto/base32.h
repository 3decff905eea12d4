/*
 * Checked base32 text: the shape shared by every Noaber key or code that a
 * person copies, pastes or reads aloud.
 *
 *     prefix || base32(payload || checksum)
 *
 * The alphabet is "0123456789abcdefghjkmnpqrstvwxyz" (Crockford's, without
 * i, l, o and u, written in lowercase), bits are taken most significant
 * first, and the last character is padded with zero bits.  The checksum is
 * the first NB_BASE32_CHECKSUM_SIZE bytes of BLAKE2b-256(context || payload),
 * where the context string names the kind of thing encoded, so a member key
 * pasted where a node key is expected fails even if the prefix were edited.
 *
 * Decoding is lenient where people are sloppy and strict where a mistake
 * would change the meaning: surrounding ASCII whitespace is ignored, case is
 * ignored, and 'o' is read as '0' and 'i' or 'l' as '1' (as Crockford
 * specifies); but a wrong prefix, a wrong length, any other character,
 * non-zero padding bits and a checksum mismatch are all errors.
 *
 * This header is internal to libnoaber (proto/); the public wrappers are in
 * include/noaber/identity.h.
 */
#ifndef NOABER_PROTO_BASE32_H
#define NOABER_PROTO_BASE32_H

#include <stddef.h>
#include <stdint.h>

#define NB_BASE32_CHECKSUM_SIZE 4
/* The largest payload we encode; invite codes are the longest user. */
#define NB_BASE32_PAYLOAD_MAX 512

/* Number of base32 characters for `n` bytes. */
#define NB_BASE32_CHARS(n) ((((size_t)(n)) * 8 + 4) / 5)
/* Length of the whole text, without the NUL, for a `payload_len`-byte payload. */
#define NB_BASE32_TEXT_LEN(prefix_len, payload_len)                                                \
    ((size_t)(prefix_len) + NB_BASE32_CHARS((size_t)(payload_len) + NB_BASE32_CHECKSUM_SIZE))

/*
 * Writes prefix || base32(payload || checksum) and a NUL into `out`.
 * Returns 0, NB_ETOOBIG if `len` exceeds NB_BASE32_PAYLOAD_MAX, or NB_EINVAL
 * if `out_size` is smaller than NB_BASE32_TEXT_LEN(strlen(prefix), len) + 1.
 */
int nb_base32_encode_checked(const char *prefix, const char *context, const uint8_t *payload,
                             size_t len, char *out, size_t out_size);

/*
 * Decodes `text_len` bytes of `text` (no NUL needed) into a payload of any
 * length up to `out_size`.  Returns 0 and the payload length in *ret_len, or
 * NB_EPREFIX, NB_EMALFORMED (length, character or padding), NB_ECHECKSUM, or
 * NB_ETOOBIG if the payload does not fit `out_size`.  `out` and `ret_len` are
 * not written on failure.
 */
int nb_base32_decode_checked(const char *prefix, const char *context, const char *text,
                             size_t text_len, uint8_t *out, size_t out_size, size_t *ret_len);

/*
 * Decodes a payload of exactly `len` bytes; any other length is
 * NB_EMALFORMED.  Otherwise as nb_base32_decode_checked.
 */
int nb_base32_decode_checked_exact(const char *prefix, const char *context, const char *text,
                                   size_t text_len, uint8_t *out, size_t len);

/*
 * Sized text, for codes whose payload length varies (invite codes):
 *
 *     prefix || L1 L2 || base32(payload || checksum)
 *
 * where L1 L2 are two alphabet characters holding the payload length in
 * bytes (0..1023, the most significant five bits first).  The length comes
 * from the code itself, so a decoder tells a text that was cut short from
 * one with a typo before it looks at the checksum.  The checksum covers the
 * payload only, as in the plain form.
 */
#define NB_BASE32_LENGTH_CHARS 2
#define NB_BASE32_SIZED_TEXT_LEN(prefix_len, payload_len)                                          \
    (NB_BASE32_TEXT_LEN(prefix_len, payload_len) + NB_BASE32_LENGTH_CHARS)

/* Writes the sized text of `payload`; returns as nb_base32_encode_checked. */
int nb_base32_encode_sized(const char *prefix, const char *context, const uint8_t *payload,
                           size_t len, char *out, size_t out_size);

/*
 * Decodes a sized text.  Returns 0 and the payload length in *ret_len, or
 * NB_EPREFIX, NB_ETRUNCATED (fewer characters than the length announces, or
 * a text cut off inside the prefix), NB_EMALFORMED (more characters than it
 * announces, a character outside the alphabet, non-zero padding bits),
 * NB_ECHECKSUM (a typo), or NB_ETOOBIG (longer than any sized text, or a
 * payload that does not fit `out_size`).
 */
int nb_base32_decode_sized(const char *prefix, const char *context, const char *text,
                           size_t text_len, uint8_t *out, size_t out_size, size_t *ret_len);

#endif
