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
/*
 * Parses exactly 2 * len hex digits (either case) followed by the end of the
 * string.  Returns 0 or NB_EMALFORMED; `out` is not written on failure.
 */
int nb_unhex(const char *hex, uint8_t *out, size_t len);

/*
 * Node keys.
 *
 * A node (one noaberd) has its own X25519 key pair, the static key of its
 * Noise handshakes (Noise_XXpsk3_25519_...), distinct from any member's key.
 * The secret key is a 32-byte seed used as the X25519 private key; the public
 * key is X25519(seed, basepoint), exactly what peers see in the handshake.
 * Its textual form is the member key's with the prefix "nbn1" and the
 * checksum context "noaber/node-key/v1", so a node key cannot be pasted
 * where a member key is expected or the other way round.
 */
#define NB_NODE_KEY_PREFIX   "nbn1"
#define NB_NODE_KEY_TEXT_LEN 62

#define NB_NODE_SECRET_KEY_SIZE 32

/* Makes a node's X25519 key pair from a 32-byte seed. */
int nb_node_from_seed(const uint8_t seed[NB_SEED_SIZE], uint8_t ret_pk[NB_KEY_SIZE],
                      uint8_t ret_sk[NB_NODE_SECRET_KEY_SIZE]);
void nb_node_key_to_text(const uint8_t pk[NB_KEY_SIZE], char out[NB_NODE_KEY_TEXT_LEN + 1]);
int nb_node_key_from_text(const char *text, uint8_t ret_pk[NB_KEY_SIZE]);

/*
 * Neighbourhoods.
 *
 * A neighbourhood is defined by one random 32-byte key shared by its
 * members and nodes.  The key is SECRET: whoever holds it can join the
 * network (it keys the Noise handshake through the PSK below) and find its
 * nodes (beacons).  Everything else is derived from it with keyed
 * BLAKE2b-256 over a fixed context string:
 *
 *     id         = BLAKE2b-256(key = neighbourhood key, "noaber/neighbourhood-id/v1")
 *     psk        = BLAKE2b-256(key = neighbourhood key, "noaber/noise-psk/v1")
 *     beacon key = BLAKE2b-256(key = neighbourhood key, "noaber/beacon/v1")
 *
 * The id is PUBLIC: it goes into every record signature, so a record signed
 * for one neighbourhood does not verify in another, and it may be shown and
 * logged.  Knowing the id reveals nothing about the key, the PSK or the
 * beacon key.  Each function returns 0 or NB_ECRYPTO.
 */
#define NB_NEIGHBOURHOOD_KEY_SIZE        32
#define NB_NEIGHBOURHOOD_PSK_SIZE        32
#define NB_NEIGHBOURHOOD_BEACON_KEY_SIZE 32

/* Makes a fresh random neighbourhood key. */
int nb_neighbourhood_key_new(uint8_t ret_key[NB_NEIGHBOURHOOD_KEY_SIZE]);
int nb_neighbourhood_id(const uint8_t key[NB_NEIGHBOURHOOD_KEY_SIZE],
                        uint8_t ret_id[NB_NEIGHBOURHOOD_ID_SIZE]);
int nb_neighbourhood_psk(const uint8_t key[NB_NEIGHBOURHOOD_KEY_SIZE],
                         uint8_t ret_psk[NB_NEIGHBOURHOOD_PSK_SIZE]);
int nb_neighbourhood_beacon_key(const uint8_t key[NB_NEIGHBOURHOOD_KEY_SIZE],
                                uint8_t ret_key[NB_NEIGHBOURHOOD_BEACON_KEY_SIZE]);

/*
 * Key files.
 *
 * A member's identity and a node's key live in small text files that say
 * what they are and detect truncation and corruption (docs/protocol.md,
 * "Identity files"):
 *
 *     noaber-identity 1                      (or "noaber-node-key 1")
 *     # comment lines
 *     member nbm1...                         (or "node nbn1...")
 *     secret nbs1...
 *
 * The public line is optional; when present it must belong to the secret.
 * For a member the seed makes the Ed25519 pair (nb_member_from_seed), for a
 * node the X25519 pair (nb_node_from_seed). *
 * The secret line holds the 32-byte seed in checked base32 with the prefix
 * "nbs1" and the checksum context "noaber/secret-seed/v1".  These functions
 * only format and parse text; common/keyfile.h reads and writes the files.
 */
#define NB_SECRET_PREFIX "nbs1"
#define NB_KEY_FILE_MAX  4096 /* bytes; a longer file is not a key file */

enum nb_key_file_kind {
    NB_KEY_FILE_MEMBER = 1, /* "noaber-identity 1", a member's key pair */
    NB_KEY_FILE_NODE = 2,   /* "noaber-node-key 1", a node's key pair */
};

/*
 * Writes the NUL-terminated text of a key file for `seed` into `out`.
 * Returns 0, NB_EINVAL (unknown kind, or `out_size` below NB_KEY_FILE_MAX),
 * or NB_ECRYPTO.  The caller wipes `out` after use: it holds the secret.
 */
int nb_key_file_format(enum nb_key_file_kind kind, const uint8_t seed[NB_SEED_SIZE], char *out,
                       size_t out_size);
/*
 * Parses `len` bytes of key file text.  Returns 0 and the seed, or
 * NB_EMALFORMED (not this kind of key file, truncated, or a line it does not
 * know), NB_EVERSION (a later version of the format), NB_ECHECKSUM (the
 * secret is corrupted, or does not belong to the public key written next to
 * it), NB_ETOOBIG (longer than NB_KEY_FILE_MAX) or NB_EINVAL.
 */
int nb_key_file_parse(enum nb_key_file_kind kind, const char *text, size_t len,
                      uint8_t ret_seed[NB_SEED_SIZE]);

#ifdef __cplusplus
}
#endif

#endif
