/*
 * Member identities, their textual form, and sealing to one member.
 *
 * A member is an Ed25519 key pair.  The public key has a textual form that
 * people copy, paste and read aloud:
 *
 *     "nbm1" || base32(public_key || checksum)
 *
 * with the lowercase alphabet "0123456789abcdefghjkmnpqrstvwxyz" (no i, l, o,
 * u) and a 4-byte checksum, the first four bytes of
 * BLAKE2b-256("noaber/member-key/v1" || public_key).  A typo changes the
 * checksum and the text is rejected instead of naming somebody else.
 *
 * Sealing converts the recipient's Ed25519 key to X25519 and uses libsodium's
 * sealed boxes (crypto_box_seal): only the recipient's secret key opens it.
 */
#ifndef NOABER_IDENTITY_H
#define NOABER_IDENTITY_H

#include <stddef.h>
#include <stdint.h>

#include <noaber/record.h>

#ifdef __cplusplus
extern "C" {
#endif

#define NB_MEMBER_KEY_PREFIX   "nbm1"
#define NB_MEMBER_KEY_TEXT_LEN 62 /* 4 + 58, without the NUL */
#define NB_SEAL_OVERHEAD       48 /* crypto_box_SEALBYTES */

/* Initialises libsodium; safe to call many times.  Returns 0 or NB_ECRYPTO. */
int nb_init(void);

/* Makes a key pair from a 32-byte seed (deterministic; used for vectors). */
int nb_member_from_seed(const uint8_t seed[NB_SEED_SIZE], uint8_t ret_pk[NB_KEY_SIZE],
                        uint8_t ret_sk[NB_SECRET_KEY_SIZE]);
/* Makes a fresh random key pair. */
int nb_member_new(uint8_t ret_pk[NB_KEY_SIZE], uint8_t ret_sk[NB_SECRET_KEY_SIZE]);

/* Writes the NUL-terminated textual form; `out` holds NB_MEMBER_KEY_TEXT_LEN + 1. */
void nb_member_key_to_text(const uint8_t pk[NB_KEY_SIZE], char out[NB_MEMBER_KEY_TEXT_LEN + 1]);
/* Parses the textual form (case-insensitive, surrounding spaces ignored). */
int nb_member_key_from_text(const char *text, uint8_t ret_pk[NB_KEY_SIZE]);

/* Seals `len` bytes to the member; `out` holds len + NB_SEAL_OVERHEAD. */
int nb_seal(const uint8_t *msg, size_t len, const uint8_t recipient_pk[NB_KEY_SIZE], uint8_t *out);
/* Opens a sealed box with the member's key pair; `out` holds len - NB_SEAL_OVERHEAD. */
int nb_unseal(const uint8_t *box, size_t len, const uint8_t pk[NB_KEY_SIZE],
              const uint8_t sk[NB_SECRET_KEY_SIZE], uint8_t *out, size_t *ret_len);

/* Lowercase hex, NUL-terminated: `out` holds 2 * len + 1. */
void nb_hex(const uint8_t *bytes, size_t len, char *out);
/* Parses exactly 2 * len hex digits. */
int nb_unhex(const char *hex, uint8_t *out, size_t len);

#ifdef __cplusplus
}
#endif

#endif
