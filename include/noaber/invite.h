/*
 * Invite codes: how a new node joins a neighbourhood.
 *
 * An invite code is one line of text that a member copies from
 * `noaber invite` on a node of the neighbourhood and pastes into
 * `noaber join` on the new node.  It carries everything the new node needs:
 * the neighbourhood's name and SECRET key, when the code stops being valid,
 * and the addresses (with node keys) of nodes to reach first.  Whoever holds
 * a code holds the neighbourhood key, so it is as secret as a house key.
 *
 *     code    = "nbi1" || length || base32(payload || checksum)
 *
 * (docs/protocol.md, "Invites": the two length characters give the payload's
 * size, so a code cut short is told apart from one with a typo)
 *     payload = msgpack [1, name, key, expires_at, [[node key, "HOST:PORT"], ...]]
 *
 * with the checksum context "noaber/invite/v1".  docs/protocol.md
 * ("Invites") is normative; tests/test_invite.c checks its test vector.
 *
 * These functions are pure: the caller passes the clock.  Decoding is
 * bounded (proto/mp.h) and never trusts a count in the code.
 */
#ifndef NOABER_INVITE_H
#define NOABER_INVITE_H

#include <stddef.h>
#include <stdint.h>

#include <noaber/identity.h>
#include <noaber/record.h>

#ifdef __cplusplus
extern "C" {
#endif

#define NB_INVITE_PREFIX  "nbi1"
#define NB_INVITE_CONTEXT "noaber/invite/v1"
#define NB_INVITE_VERSION 1

/* At most this many addresses to reach first, each 3..260 bytes (a DNS
 * name of up to 253 bytes and a port).  The payload bound below keeps a
 * code short enough to paste: long names mean fewer addresses. */
#define NB_INVITE_ADDRESSES_MAX 8
#define NB_INVITE_ADDRESS_MAX   260
/* The largest payload (msgpack bytes) and code text (without the NUL). */
#define NB_INVITE_PAYLOAD_MAX 512
#define NB_INVITE_TEXT_MAX    (4 + 2 + ((NB_INVITE_PAYLOAD_MAX + 4) * 8 + 4) / 5)

struct nb_invite_address {
    uint8_t node_key[NB_KEY_SIZE];           /* the node's X25519 public key */
    char address[NB_INVITE_ADDRESS_MAX + 1]; /* "HOST:PORT", NUL-terminated */
};

struct nb_invite {
    char name[NB_NAME_MAX + 1]; /* the neighbourhood's name, NUL-terminated */
    uint8_t key[NB_NEIGHBOURHOOD_KEY_SIZE];
    uint64_t expires_at; /* seconds since the epoch */
    struct nb_invite_address addresses[NB_INVITE_ADDRESSES_MAX];
    size_t n_addresses;
};

/*
 * Checks that `address` is "HOST:PORT" as Noaber writes addresses: HOST an
 * IPv4 address or a DNS name (letters, digits, '-' and '.'), or an IPv6
 * address in brackets ("[2001:db8::1]"); PORT 1..65535 in decimal without
 * leading zeros; 3..NB_INVITE_ADDRESS_MAX bytes in all.  It checks the shape
 * only, not that the host exists.  Returns 0 or NB_EINVAL.
 */
int nb_invite_address_check(const char *address, size_t len);

/*
 * Writes the NUL-terminated code for `inv` into `out`.  Returns 0,
 * NB_EINVAL (a name that is not 1..64 bytes of text, no address or more
 * than NB_INVITE_ADDRESSES_MAX, an address nb_invite_address_check refuses,
 * or `out_size` too small for the code), NB_ETOOBIG (the payload exceeds
 * NB_INVITE_PAYLOAD_MAX: pass fewer addresses) or NB_ECRYPTO.  Callers wipe
 * `out` after use: it holds the neighbourhood key.
 */
int nb_invite_encode(const struct nb_invite *inv, char *out, size_t out_size);

/*
 * Parses `len` bytes of code text.  Surrounding whitespace is ignored and
 * case does not matter (see docs/protocol.md, "Textual form").  Returns 0
 * and fills *ret, or:
 *   NB_EPREFIX     the text is not an invite code (another kind of key)
 *   NB_ETRUNCATED  cut short: fewer characters than its length announces
 *   NB_EMALFORMED  more characters than announced, a character outside the
 *                  alphabet, or a payload that is not the invite structure
 *   NB_ECHECKSUM   a typo: the checksum does not match
 *   NB_ETOOBIG     longer than any invite code can be
 *   NB_EVERSION    an invite of a later version
 *   NB_EFIELD      a field out of its bounds (name, address, count)
 * The expiry is not checked here: see nb_invite_check_expiry.  *ret is not
 * written on failure; the caller wipes it after use.
 */
int nb_invite_decode(const char *text, size_t len, struct nb_invite *ret);

/* Returns 0 while `now` is before inv->expires_at, else NB_EEXPIRED. */
/*
 * A sentence for a person who pasted a code that nb_invite_decode refused,
 * saying what to do about it.
 */
const char *nb_invite_problem(int err);

int nb_invite_check_expiry(const struct nb_invite *inv, uint64_t now);

#ifdef __cplusplus
}
#endif

#endif
