/*
 * The Noise Protocol Framework (revision 34), as used by Noaber's peer
 * transport: Noise_XXpsk3_25519_ChaChaPoly_BLAKE2b.
 *
 * The code is pure: it reads and writes buffers the caller owns and never
 * touches a socket.  The handshake is a generic interpreter of the tokens
 * e, s, ee, es, se, ss and psk driven by a table of handshake patterns, so
 * every pattern of the specification's sections 7.4, 7.5 and 7.7 (with any
 * pskN modifiers) works, although Noaber itself only speaks XXpsk3.  The
 * DH function is X25519, the cipher ChaCha20-Poly1305 (IETF, nonce = 32 zero
 * bits || 64-bit little-endian counter) and the hash BLAKE2b-512, all from
 * libsodium.
 *
 * A handshake runs as a sequence of nb_noise_handshake_write() and
 * nb_noise_handshake_read() calls in the order nb_noise_handshake_next()
 * tells.  Once it says NB_NOISE_SPLIT, nb_noise_handshake_split() hands out
 * the two transport cipher states and the handshake hash.  Any failure puts
 * the handshake into NB_NOISE_FAILED for good and wipes its keys: a peer
 * cannot probe a half-failed state.
 */
#ifndef NOABER_NOISE_H
#define NOABER_NOISE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

/* The protocol Noaber's peers speak; the string is hashed into every handshake. */
#define NB_NOISE_PROTOCOL_NAME "Noise_XXpsk3_25519_ChaChaPoly_BLAKE2b"
/* The prologue of Noaber's peer handshake (without a terminating NUL). */
#define NB_NOISE_PROLOGUE     "noaber/1"
#define NB_NOISE_PROLOGUE_LEN 8

#define NB_NOISE_KEY_SIZE   32    /* X25519 keys, cipher keys and PSKs */
#define NB_NOISE_HASH_SIZE  64    /* BLAKE2b-512: HASHLEN */
#define NB_NOISE_TAG_SIZE   16    /* Poly1305 authentication tag */
#define NB_NOISE_MAX_MSG    65535 /* largest Noise message, handshake or transport */
#define NB_NOISE_MAX_PSKS   4     /* psk tokens one pattern may carry */
#define NB_NOISE_MAX_TOKENS 12    /* tokens in one message pattern, psks included */
#define NB_NOISE_MAX_MSGS   4     /* messages in one handshake pattern */

/*
 * One direction of an established session (the specification's CipherState).
 * The counter n is the nonce of the next message.  n = 2^64 - 1 is reserved
 * by the specification, so a cipher whose n has reached it refuses to work
 * (NB_ESTATE) instead of ever reusing a nonce.
 */
struct nb_noise_cipher {
    uint8_t k[NB_NOISE_KEY_SIZE];
    uint64_t n;
    bool has_key;
};

/* Encrypts `len` bytes (len <= NB_NOISE_MAX_MSG - NB_NOISE_TAG_SIZE) with
 * associated data `ad` (may be NULL when ad_len is 0) into `out`, which holds
 * out_cap bytes; *ret_len = len + NB_NOISE_TAG_SIZE.  `out` may equal `plain`.
 * Returns 0, NB_ETOOBIG or NB_ESTATE (nonce exhausted, or a cipher without
 * key: the specification's "copy the plaintext" rule applies only inside the
 * handshake, and a transport must never send or accept plaintext). */
int nb_noise_cipher_encrypt(struct nb_noise_cipher *c, const uint8_t *ad, size_t ad_len,
                            const uint8_t *plain, size_t len, uint8_t *out, size_t out_cap,
                            size_t *ret_len);

/* Decrypts and authenticates `len` bytes into `out`; *ret_len = len - 16.
 * `out` may equal `cipher`.  On NB_EDECRYPT the nonce is not advanced.
 * Returns 0, NB_EDECRYPT, NB_ETOOBIG or NB_ESTATE. */
int nb_noise_cipher_decrypt(struct nb_noise_cipher *c, const uint8_t *ad, size_t ad_len,
                            const uint8_t *cipher, size_t len, uint8_t *out, size_t out_cap,
                            size_t *ret_len);

/* REKEY(k): k = the first 32 bytes of ENCRYPT(k, 2^64 - 1, empty ad, 32 zero
 * bytes).  The nonce counter is left as it is.  Returns 0 or NB_ESTATE when
 * the cipher has no key. */
int nb_noise_cipher_rekey(struct nb_noise_cipher *c);

/* SetNonce: for tests of nonce exhaustion and for protocols that carry an
 * explicit nonce.  Noaber's framing never calls it. */
void nb_noise_cipher_set_nonce(struct nb_noise_cipher *c, uint64_t n);

/* Overwrites the key with zeros; the cipher then has no key. */
void nb_noise_cipher_wipe(struct nb_noise_cipher *c);

enum nb_noise_role {
    NB_NOISE_INITIATOR = 0,
    NB_NOISE_RESPONDER = 1,
};

/* What the handshake expects next from its caller. */
enum nb_noise_action {
    NB_NOISE_WRITE = 1, /* call nb_noise_handshake_write() */
    NB_NOISE_READ,      /* call nb_noise_handshake_read() */
    NB_NOISE_SPLIT,     /* complete: call nb_noise_handshake_split() */
    NB_NOISE_DONE,      /* split has been taken */
    NB_NOISE_FAILED,    /* a step failed; the handshake cannot continue */
};

/*
 * Parameters of a handshake.  Pointers are read during
 * nb_noise_handshake_init() only; the handshake copies what it keeps.
 */
struct nb_noise_config {
    /* Full protocol name; NULL means NB_NOISE_PROTOCOL_NAME. */
    const char *protocol_name;
    enum nb_noise_role role;
    const uint8_t *prologue; /* may be NULL when prologue_len is 0 */
    size_t prologue_len;
    /* Our static X25519 private key, or NULL if the pattern gives us none. */
    const uint8_t *static_sk;
    /* The peer's static X25519 public key when the pattern has it as a
     * pre-message (K on the initiator's side, K/N/X one-way responders' keys,
     * and so on); NULL otherwise. */
    const uint8_t *remote_static;
    /* psk_count pre-shared keys of 32 bytes each, used by the psk tokens in
     * order; psk_count must equal the number of psk tokens in the pattern. */
    const uint8_t *psks;
    size_t psk_count;
    /* Our ephemeral private key.  NULL draws one from randombytes; tests pass
     * fixed keys to reproduce published vectors. */
    const uint8_t *ephemeral_sk;
};

/* The specification's HandshakeState with its SymmetricState.  Treat the
 * members as private: they are here so callers can own the memory. */
struct nb_noise_handshake {
    /* The message patterns, psk modifiers applied, as token codes. */
    uint8_t tokens[NB_NOISE_MAX_MSGS][NB_NOISE_MAX_TOKENS];
    uint8_t token_count[NB_NOISE_MAX_MSGS];
    uint8_t msg_count;
    bool one_way;
    struct nb_noise_cipher cs;
    uint8_t ck[NB_NOISE_HASH_SIZE];
    uint8_t h[NB_NOISE_HASH_SIZE];
    uint8_t s_sk[NB_NOISE_KEY_SIZE];
    uint8_t s_pk[NB_NOISE_KEY_SIZE];
    uint8_t e_sk[NB_NOISE_KEY_SIZE];
    uint8_t e_pk[NB_NOISE_KEY_SIZE];
    uint8_t rs[NB_NOISE_KEY_SIZE];
    uint8_t re[NB_NOISE_KEY_SIZE];
    uint8_t psks[NB_NOISE_MAX_PSKS][NB_NOISE_KEY_SIZE];
    uint8_t psk_used;
    bool has_s, has_e, has_rs, has_re, psk_mode;
    enum nb_noise_role role;
    enum nb_noise_action action;
    unsigned msg_index;
};

/* Sets up a handshake.  Returns 0, NB_EINVAL (a key the pattern needs is
 * missing or one it cannot use is given, wrong psk count), NB_EVERSION
 * (unsupported protocol name) or NB_ECRYPTO. */
int nb_noise_handshake_init(struct nb_noise_handshake *hs, const struct nb_noise_config *cfg);

/* Sets up Noaber's peer handshake (docs/protocol.md, "Transport"):
 * NB_NOISE_PROTOCOL_NAME, the prologue NB_NOISE_PROLOGUE, the node's X25519
 * secret key (nb_node_from_seed) as the static key, the neighbourhood PSK
 * (nb_neighbourhood_psk) and a fresh random ephemeral.  The node that opened
 * the connection is the initiator.  Returns what nb_noise_handshake_init()
 * returns. */
int nb_noise_handshake_init_peer(struct nb_noise_handshake *hs, enum nb_noise_role role,
                                 const uint8_t node_sk[NB_NOISE_KEY_SIZE],
                                 const uint8_t neighbourhood_psk[NB_NOISE_KEY_SIZE]);

/* What the caller must do next. */
enum nb_noise_action nb_noise_handshake_next(const struct nb_noise_handshake *hs);

/* Writes the next handshake message carrying `payload` into `out` (out_cap
 * bytes; NB_NOISE_MAX_MSG always suffices).  Returns 0, NB_ESTATE (not our
 * turn), NB_ETOOBIG (the message would exceed out_cap or NB_NOISE_MAX_MSG)
 * or NB_EHANDSHAKE (a DH result was all zeros). */
int nb_noise_handshake_write(struct nb_noise_handshake *hs, const uint8_t *payload,
                             size_t payload_len, uint8_t *out, size_t out_cap, size_t *ret_len);

/* Reads the peer's next handshake message and writes its payload into
 * `payload` (payload_cap bytes; msg_len always suffices).  Returns 0,
 * NB_ESTATE (not the peer's turn), NB_ETOOBIG (msg_len > NB_NOISE_MAX_MSG or
 * payload_cap too small), or NB_EHANDSHAKE (truncated, tampered, wrong psk or
 * prologue, invalid key).  Any failure but NB_ESTATE fails the handshake. */
int nb_noise_handshake_read(struct nb_noise_handshake *hs, const uint8_t *msg, size_t msg_len,
                            uint8_t *payload, size_t payload_cap, size_t *ret_payload_len);

/* The peer's static public key once the handshake has learned it (or was
 * given it); still available after the split.  Returns 0 or NB_ESTATE. */
int nb_noise_handshake_remote_static(const struct nb_noise_handshake *hs,
                                     uint8_t ret_pk[NB_NOISE_KEY_SIZE]);

/* Our own static public key, or NB_ESTATE if the handshake has none. */
int nb_noise_handshake_local_static(const struct nb_noise_handshake *hs,
                                    uint8_t ret_pk[NB_NOISE_KEY_SIZE]);

/* Splits the completed handshake into the cipher we send with and the one we
 * receive with, and gives the handshake hash (channel binding).  ret_hash may
 * be NULL.  Wipes the handshake's secrets (the static public keys remain).
 * In a one-way pattern the responder -> initiator cipher has no key.
 * Returns 0 or NB_ESTATE. */
int nb_noise_handshake_split(struct nb_noise_handshake *hs, struct nb_noise_cipher *ret_send,
                             struct nb_noise_cipher *ret_recv,
                             uint8_t ret_hash[NB_NOISE_HASH_SIZE]);

/* Overwrites every key and hash with zeros; the handshake is then FAILED.
 * Safe on a zeroed or already wiped handshake. */
void nb_noise_handshake_wipe(struct nb_noise_handshake *hs);

/* Derives the X25519 public key of a private key (for static keys).
 * Returns 0 or NB_ECRYPTO. */
int nb_noise_public_key(const uint8_t sk[NB_NOISE_KEY_SIZE], uint8_t ret_pk[NB_NOISE_KEY_SIZE]);

#ifdef __cplusplus
}
#endif

#endif
