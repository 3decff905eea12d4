/*
 * Framing of Noaber's peer link over a byte stream (TCP).
 *
 * Every frame, in both directions and in both phases, is
 *
 *     length: u16, big-endian, 1 .. 65535
 *     body:   `length` bytes
 *
 * During the handshake the body is one Noise handshake message.  After it,
 * the body is one Noise transport message: the ChaCha20-Poly1305 ciphertext
 * of one plaintext message of 0 .. NB_FRAME_MAX_PLAINTEXT bytes, so a
 * transport body is 16 .. 65535 bytes.  A length of 0, a transport body
 * shorter than 16 bytes, a body longer than the receiver's bound, or a body
 * that does not authenticate ends the link: there is no resynchronisation.
 *
 * Each direction rekeys (nb_noise_cipher_rekey) after every
 * NB_FRAME_REKEY_INTERVAL messages it has carried: the message with nonce n
 * is sealed with the key rekeyed floor(n / interval) times.  Both ends count
 * the same messages, so no signal goes over the wire.
 *
 * The code is pure: the daemon feeds it the bytes it read and writes out the
 * bytes it is given.  The decoder never buffers more than one frame, so a
 * link holds at most NB_FRAME_HEADER_SIZE + max_body bytes of a peer's input.
 */
#ifndef NOABER_FRAME_H
#define NOABER_FRAME_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <noaber/noise.h>

#ifdef __cplusplus
extern "C" {
#endif

#define NB_FRAME_HEADER_SIZE   2
#define NB_FRAME_MAX_BODY      NB_NOISE_MAX_MSG                       /* 65535 */
#define NB_FRAME_MAX_PLAINTEXT (NB_NOISE_MAX_MSG - NB_NOISE_TAG_SIZE) /* 65519 */
#define NB_FRAME_OVERHEAD      (NB_FRAME_HEADER_SIZE + NB_NOISE_TAG_SIZE)
/* Messages per direction between two rekeys: 2^20. */
#define NB_FRAME_REKEY_INTERVAL ((uint64_t)1 << 20)

/*
 * Incremental frame decoder.  Feed it whatever arrived; it consumes bytes up
 * to the end of the frame it is assembling and hands the frame's body out as
 * soon as it is complete.  The caller feeds the unconsumed rest again.
 */
struct nb_frame_decoder {
    size_t max_body; /* longer frames are refused once their header arrives */
    size_t have;     /* bytes of the current frame held, header included */
    bool delivered;  /* the frame in buf was handed out; start afresh */
    bool failed;     /* a frame was refused; the stream is not usable */
    uint8_t buf[NB_FRAME_HEADER_SIZE + NB_FRAME_MAX_BODY];
};

/* Sets up a decoder for bodies of 1 .. max_body bytes (max_body at most
 * NB_FRAME_MAX_BODY).  Returns 0 or NB_EINVAL. */
int nb_frame_decoder_init(struct nb_frame_decoder *d, size_t max_body);

/* Consumes up to `len` bytes from `in` and reports how many in
 * *ret_consumed.  If a frame completed, *ret_body points to its body inside
 * the decoder (valid until the next call) and *ret_body_len is its length;
 * otherwise *ret_body is NULL and all `len` bytes were consumed.
 * Returns 0, NB_EMALFORMED (length 0), NB_ETOOBIG (length above max_body) or
 * NB_ESTATE (an earlier frame was refused). */
int nb_frame_decoder_feed(struct nb_frame_decoder *d, const uint8_t *in, size_t len,
                          size_t *ret_consumed, const uint8_t **ret_body, size_t *ret_body_len);

/* Writes the next handshake message, carrying `payload`, as one frame into
 * `out`.  Returns what nb_noise_handshake_write() returns. */
int nb_frame_handshake_write(struct nb_noise_handshake *hs, const uint8_t *payload,
                             size_t payload_len, uint8_t *out, size_t out_cap, size_t *ret_len);

/* An established link: the two transport ciphers and the decoder of the
 * peer's frames.  Caller-owned; about 64 KiB. */
struct nb_frame_link {
    struct nb_noise_cipher send;
    struct nb_noise_cipher recv;
    uint64_t rekey_interval;
    bool failed;
    struct nb_frame_decoder dec;
};

/* Takes over the ciphers from nb_noise_handshake_split() (the originals are
 * wiped).  rekey_interval 0 means NB_FRAME_REKEY_INTERVAL, which is what
 * Noaber peers use; other values exist for tests.  Returns 0 or NB_EINVAL. */
int nb_frame_link_init(struct nb_frame_link *l, struct nb_noise_cipher *send,
                       struct nb_noise_cipher *recv, uint64_t rekey_interval);

/* Encrypts one message of 0 .. NB_FRAME_MAX_PLAINTEXT bytes into one frame in
 * `out` (len + NB_FRAME_OVERHEAD bytes, not overlapping `msg`).  Returns 0, NB_ETOOBIG or NB_ESTATE
 * (failed link, or the nonce space is exhausted). */
int nb_frame_link_seal(struct nb_frame_link *l, const uint8_t *msg, size_t len, uint8_t *out,
                       size_t out_cap, size_t *ret_len);

/* Consumes received bytes like nb_frame_decoder_feed().  When a frame
 * completes and authenticates, *ret_msg points to its plaintext inside the
 * link (valid until the next call) and *ret_msg_len is its length; otherwise
 * *ret_msg is NULL.  Returns 0, NB_EMALFORMED (length 0 or under 16),
 * NB_EDECRYPT (tampered, reordered or not from this peer), or NB_ESTATE
 * (failed link).  Every error fails the link for good. */
int nb_frame_link_open(struct nb_frame_link *l, const uint8_t *in, size_t len, size_t *ret_consumed,
                       const uint8_t **ret_msg, size_t *ret_msg_len);

/* Wipes keys and buffered bytes; the link is then failed. */
void nb_frame_link_wipe(struct nb_frame_link *l);

#ifdef __cplusplus
}
#endif

#endif
