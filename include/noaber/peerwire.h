/*
 * The messages of Noaber's peer network (docs/protocol.md, "Peer network"):
 * the hello carried in handshake payloads 2 and 3, and the messages carried
 * one per transport frame once the session is up.
 *
 * Pure code: encoders write into the caller's buffer, decoders read a
 * peer's bytes with bounded msgpack decoding (at most one frame, depth 4)
 * and copy what they keep, so a decoded message does not point into the
 * input except for the `bin` of `neg` and `record`.
 */
#ifndef NOABER_PEERWIRE_H
#define NOABER_PEERWIRE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

#define NB_PEER_VERSION 1
/* The largest plaintext of one transport frame (NB_FRAME_MAX_PLAINTEXT). */
#define NB_PEER_MSG_MAX 65519
/* Nesting of a peer message: [6, [[key, addr], ...]] is 3 deep. */
#define NB_PEER_DEPTH    4
#define NB_PEER_ID_SIZE  32
#define NB_PEER_KEY_SIZE 32
/* ids in one `want` or `missing` */
#define NB_PEER_IDS_MAX 256
/* entries in one `peers` */
#define NB_PEER_ADDRS_MAX 32
/* "HOST:PORT": a DNS name of 253 bytes, ':' and 5 digits, with room for
 * brackets around an IPv6 host. */
#define NB_PEER_ADDRESS_MAX  260
#define NB_PEER_SOFTWARE_MAX 64
/* A hello is small; anything longer is not one. */
#define NB_PEER_HELLO_MAX 1024

enum nb_peer_type {
    NB_PEER_NEG = 1,
    NB_PEER_WANT = 2,
    NB_PEER_RECORD = 3,
    NB_PEER_MISSING = 4,
    NB_PEER_SYNCED = 5,
    NB_PEER_PEERS = 6,
    NB_PEER_PING = 7,
    NB_PEER_PONG = 8,
    NB_PEER_RBL = 9,
};

/* The hello's `riblt`: rateless reconciliation messages of version 1. */
#define NB_PEER_RIBLT_VERSION 1

/* The hello of handshake payloads 2 and 3. */
struct nb_peer_hello {
    uint64_t version;
    bool has_listen;
    char listen[NB_PEER_ADDRESS_MAX + 1];
    char software[NB_PEER_SOFTWARE_MAX + 1];
    bool has_time;
    uint64_t time; /* the sender's clock, seconds since the epoch */
    /* The version of rateless reconciliation the sender speaks
     * (NB_PEER_RIBLT_VERSION), 0 if none. */
    uint64_t riblt;
};

struct nb_peer_addr {
    uint8_t node_key[NB_PEER_KEY_SIZE];
    char address[NB_PEER_ADDRESS_MAX + 1];
};

/*
 * One decoded message.  `type` is the message type; for a type this version
 * does not know, nothing else is set (the receiver ignores it).  `bin`
 * points into the decoded input (neg: the negentropy message; record: the
 * signed record).
 */
struct nb_peer_msg {
    uint64_t type;
    const uint8_t *bin;
    size_t bin_len;
    size_t n_ids;
    uint8_t ids[NB_PEER_IDS_MAX][NB_PEER_ID_SIZE];
    size_t n_addrs;
    struct nb_peer_addr addrs[NB_PEER_ADDRS_MAX];
    uint64_t nonce; /* ping, pong */
};

/*
 * Checks an address "HOST:PORT": HOST is a DNS name or IPv4 address (letters,
 * digits, '.', '-', '_') or an IPv6 address in brackets (hex digits, ':' and
 * '.'), 1..253 bytes; PORT is 1..65535 in decimal without leading zeros
 * (0 as well when allow_port_0).  Copies the host without brackets into
 * ret_host (NB_PEER_ADDRESS_MAX + 1 bytes) and the port into ret_port;
 * either may be NULL.  Returns 0 or NB_EINVAL.
 */
int nb_peer_address_parse(const char *text, size_t len, bool allow_port_0, char *ret_host,
                          uint16_t *ret_port);

/* Encodes a hello ({v, listen?, software, time?}).  listen may be NULL;
 * `now` is the sender's clock (0: not sent).  Returns 0, NB_EINVAL (a bad
 * listen address or software text) or NB_ETOOBIG (out_cap too small). */
int nb_peer_hello_encode(const char *listen, const char *software, uint64_t now, uint8_t *out,
                         size_t out_cap, size_t *ret_len);
/* The same, with `riblt` = NB_PEER_RIBLT_VERSION when `riblt`. */
int nb_peer_hello_encode_riblt(const char *listen, const char *software, uint64_t now, bool riblt,
                               uint8_t *out, size_t out_cap, size_t *ret_len);

/*
 * Decodes a hello: a map with `v` (uint) and `software` (str), optionally
 * `listen` (a valid address), `time` and `riblt` (uint); other keys are ignored.  A version other
 * than 1 is returned as is: the caller decides.  Returns 0, NB_ETOOBIG, NB_EMALFORMED, NB_EDEPTH,
 * NB_ETRAILING, NB_EFIELD (a missing or out-of-bounds key) or NB_ENOMEM.
 */
int nb_peer_hello_decode(const uint8_t *buf, size_t len, struct nb_peer_hello *ret);

/* Encoders of each message into out (out_cap bytes).  They return 0,
 * NB_EINVAL (arguments outside the message's row: a count out of range, a
 * bad address) or NB_ETOOBIG (out_cap too small). */
int nb_peer_encode_neg(const uint8_t *msg, size_t len, uint8_t *out, size_t out_cap,
                       size_t *ret_len);
/* A rateless reconciliation message (include/noaber/riblt.h). */
int nb_peer_encode_rbl(const uint8_t *msg, size_t len, uint8_t *out, size_t out_cap,
                       size_t *ret_len);
int nb_peer_encode_ids(enum nb_peer_type type, const uint8_t (*ids)[NB_PEER_ID_SIZE], size_t n,
                       uint8_t *out, size_t out_cap, size_t *ret_len); /* want, missing */
int nb_peer_encode_record(const uint8_t *record, size_t len, uint8_t *out, size_t out_cap,
                          size_t *ret_len);
int nb_peer_encode_synced(uint8_t *out, size_t out_cap, size_t *ret_len);
int nb_peer_encode_peers(const struct nb_peer_addr *addrs, size_t n, uint8_t *out, size_t out_cap,
                         size_t *ret_len);
int nb_peer_encode_ping(enum nb_peer_type type, uint64_t nonce, uint8_t *out, size_t out_cap,
                        size_t *ret_len); /* ping, pong */

/*
 * Decodes one message.  Returns 0 (check ret->type), or NB_ETOOBIG (longer
 * than NB_PEER_MSG_MAX), NB_EMALFORMED, NB_EDEPTH, NB_ETRAILING (not one
 * msgpack array whose first element is a uint), NB_EFIELD (a known type
 * whose elements do not match its row: wrong count, an id that is not 32
 * bytes, an empty list where one is required, a bad address) or NB_ENOMEM.
 * A `record` bin of 1..8192 bytes and a `neg` or `rbl` bin of 1..NB_PEER_MSG_MAX
 * bytes are accepted here; the record itself is checked by its own decoder.
 */
int nb_peer_msg_decode(const uint8_t *buf, size_t len, struct nb_peer_msg *ret);

#ifdef __cplusplus
}
#endif

#endif
