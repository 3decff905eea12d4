/*
 * The control protocol between noaberd and the programs on its machine
 * (docs/control-api.md), in one place: both the daemon and the client
 * include this header, so the version, the limits, the names of the
 * operations and roles, the error codes and the framing exist once.
 *
 * Everything here is pure: no sockets, no files, no allocation.
 */
#ifndef NOABER_CONTROL_PROTO_H
#define NOABER_CONTROL_PROTO_H

#include <stddef.h>
#include <stdint.h>

#define NB_CTL_VERSION 1
/* A frame's body: 1 byte to 1 MiB, after a u32 big-endian length. */
#define NB_CTL_FRAME_MAX    (1024u * 1024u)
#define NB_CTL_HEADER_SIZE  4
#define NB_CTL_OP_NAME_MAX  31  /* the longest op name a request may carry */
#define NB_CTL_ERROR_MAX    47  /* the longest error code */
#define NB_CTL_LIST_DEFAULT 50  /* `limit` of list when absent */
#define NB_CTL_LIST_MAX     500 /* larger limits are clamped */

/* The operations, as they travel in `op`. */
#define NB_CTL_OP_HELLO                "hello"
#define NB_CTL_OP_NEIGHBOURHOOD_CREATE "neighbourhood.create"
#define NB_CTL_OP_SUBMIT               "submit"
#define NB_CTL_OP_GET                  "get"
#define NB_CTL_OP_LIST                 "list"
#define NB_CTL_OP_WATCH                "watch"
#define NB_CTL_OP_STATUS               "status"
#define NB_CTL_OP_PEERS                "peers"
#define NB_CTL_OP_PEER_ADD             "peer.add"
#define NB_CTL_OP_PEER_REMOVE          "peer.remove"
#define NB_CTL_OP_WELCOME              "welcome"
#define NB_CTL_OP_WELCOME_REDEEM       "welcome.redeem"
#define NB_CTL_OP_WELCOME_CHECK        "welcome.check"
#define NB_CTL_OP_DEVICES              "devices"
#define NB_CTL_OP_DEVICE_REVOKE        "device.revoke"
#define NB_CTL_OP_DEVICE_ADD           "device.add"
#define NB_CTL_OP_TRANSFER_PUT         "device.transfer.put"
#define NB_CTL_OP_TRANSFER_TAKE        "device.transfer.take"
#define NB_CTL_OP_DEVICES_OWN          "devices.own"
#define NB_CTL_OP_DEVICE_REVOKE_OWN    "device.revoke.own"
#define NB_CTL_OP_INVITE               "invite"
#define NB_CTL_OP_JOIN                 "join"
#define NB_CTL_OP_BLOCK                "block"
#define NB_CTL_OP_UNBLOCK              "unblock"
#define NB_CTL_OP_BLOCKED              "blocked"
#define NB_CTL_OP_REPORT               "report"

/* What a member signs to switch off one of their own devices, followed by
 * the neighbourhood id and the device id (8 bytes, big-endian): a signature
 * says which device, on which neighbourhood, and nothing else. */
#define NB_CTL_DEVICE_REVOKE_CONTEXT "noaber/device-revoke/v1"

/*
 * Who is on the other end of a connection, by the socket it came in on.
 * The operator runs the node (every op); a member's program (a neighbour's
 * client, the web page) may read and post records but never manage the
 * node, learn the neighbourhood key or a peer's address.  A role allows
 * everything the roles below it allow.
 */
enum nb_ctl_role {
    NB_CTL_ROLE_MEMBER = 0,
    NB_CTL_ROLE_OPERATOR = 1,
};

const char *nb_ctl_role_name(enum nb_ctl_role role);

/* The error codes of a reply's `error`; the wire string is nb_ctl_error_name. */
enum nb_ctl_error {
    NB_CTL_E_UNKNOWN = 0, /* a code this side does not know (from a newer peer) */
    NB_CTL_E_BAD_REQUEST,
    NB_CTL_E_VERSION,
    NB_CTL_E_UNKNOWN_OP,
    NB_CTL_E_FORBIDDEN,
    NB_CTL_E_INVALID_RECORD,
    NB_CTL_E_REFUSED,
    NB_CTL_E_NOT_FOUND,
    NB_CTL_E_AMBIGUOUS,
    NB_CTL_E_GONE,
    NB_CTL_E_INTERNAL,
    NB_CTL_E_DAMAGED,  /* the node's store is damaged: the operator runs noaberd fsck */
    NB_CTL_E_NO_SPACE, /* the node cannot write: its disk is full, over quota or read-only */
    NB_CTL_E_COUNT_,
};

/* The wire string of an error code ("bad_request", ...); "unknown" for
 * NB_CTL_E_UNKNOWN or a value out of range. */
const char *nb_ctl_error_name(enum nb_ctl_error e);
/* The code of a wire string of `len` bytes; NB_CTL_E_UNKNOWN when no code has it. */
enum nb_ctl_error nb_ctl_error_parse(const char *s, size_t len);

/* Writes the 4-byte length prefix of a body of `len` bytes (big-endian). */
void nb_ctl_header_encode(uint32_t len, uint8_t out[NB_CTL_HEADER_SIZE]);
/*
 * Reads a length prefix.  Returns 0 with *ret_len set, or NB_ETOOBIG for a
 * length of 0 or above NB_CTL_FRAME_MAX: the stream cannot be
 * resynchronised after it.
 */
int nb_ctl_header_decode(const uint8_t in[NB_CTL_HEADER_SIZE], uint32_t *ret_len);

#endif
