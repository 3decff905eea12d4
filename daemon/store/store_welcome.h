/*
 * Welcome links: how a neighbour's browser is admitted on this node.
 *
 * The operator makes a one-time token (`noaber welcome`); the neighbour opens
 * the link, the page makes a member key in the browser and redeems the token
 * for that key (noaber-web, op welcome.redeem).  noaber-web signs a member in
 * only while one of the member's devices is admitted; the operator lists and
 * revokes devices.  Only a BLAKE2b hash of each token is stored, so a copy
 * of the store does not hold usable links.  Tables: migration 3 -> 4 in
 * store.c.
 */
#ifndef NOABERD_WELCOME_H
#define NOABERD_WELCOME_H

#include <stdbool.h>
#include <stdint.h>

#include <noaber/record.h>

#include "daemon/store/store.h"

#define NBD_WELCOME_TOKEN_SIZE 20
#define NBD_WELCOME_TOKEN_LEN  (2 * NBD_WELCOME_TOKEN_SIZE) /* lowercase hex */
#define NBD_DEVICE_NAME_MAX    64

/* A new token valid until `expires_at`; `name` (may be NULL) is how the
 * operator knows whom it is for.  ret_token gets the hex text. */
int nbd_welcome_make(struct nbd_store *s, const char *name, uint64_t now, uint64_t expires_at,
                     char ret_token[NBD_WELCOME_TOKEN_LEN + 1]);

/*
 * Redeems a token for `member`: the token is used up and the device admitted.
 * `device_key` (NULL for a browser of before device keys) is the key the
 * browser proves it is this device with; `device` a label the browser gives
 * itself (may be NULL).  Returns the new device id, NB_ENOENT (unknown or
 * already used), NB_EEXPIRED, NB_EEXIST (the device key is taken), NB_EIO.
 */
int64_t nbd_welcome_redeem(struct nbd_store *s, const char *token,
                           const uint8_t member[NB_KEY_SIZE], const uint8_t *device_key,
                           const char *device, uint64_t now);

/* 1 when the member's device `device_key` is admitted and not revoked, 0 if
 * not, NB_EIO.  device_key NULL asks about a device admitted without a key. */
int nbd_welcome_admitted(struct nbd_store *s, const uint8_t member[NB_KEY_SIZE],
                         const uint8_t *device_key);

/*
 * A member's admitted device `by_key` admits another of the member's devices
 * (a recovery card: see docs/web.md).  Returns the new device id, NB_EPERM
 * (`by_key` is not an admitted device of the member), NB_EEXIST, NB_EIO.
 */
int64_t nbd_device_add(struct nbd_store *s, const uint8_t member[NB_KEY_SIZE],
                       const uint8_t *by_key, const uint8_t device_key[NB_KEY_SIZE],
                       const char *device, uint64_t now);

/* The largest ciphertext a transfer link carries. */
#define NBD_TRANSFER_SEALED_MAX 256

/*
 * A one-time link from the member's admitted device `by_key` to their next
 * device, valid until `expires_at`: the node keeps a hash of the token and
 * the browser's ciphertext (which it cannot open: the key is in the link's
 * fragment only).  0, NB_EPERM (`by_key` is not admitted), NB_EIO.
 */
int nbd_transfer_put(struct nbd_store *s, const uint8_t member[NB_KEY_SIZE], const uint8_t *by_key,
                     const uint8_t *sealed, size_t len, uint64_t now, uint64_t expires_at,
                     char ret_token[NBD_WELCOME_TOKEN_LEN + 1]);

/*
 * Uses up a transfer link: admits `device_key` as a new device of the
 * link's member and hands back the member and the ciphertext.  Returns the
 * new device id, NB_ENOENT (unknown, used, or its device was revoked),
 * NB_EEXPIRED, NB_EEXIST, NB_EIO.
 */
int64_t nbd_transfer_take(struct nbd_store *s, const char *token,
                          const uint8_t device_key[NB_KEY_SIZE], const char *device, uint64_t now,
                          uint8_t ret_member[NB_KEY_SIZE], uint8_t *ret_sealed, size_t max,
                          size_t *ret_len);

struct nbd_device {
    int64_t id;
    uint8_t member[NB_KEY_SIZE];
    const char *name;          /* from the welcome token; NULL when none */
    const char *device;        /* NULL when none */
    const uint8_t *device_key; /* NB_KEY_SIZE bytes; NULL for a device without one */
    uint64_t admitted_at;
    bool revoked;
    uint64_t revoked_at;
};
typedef int (*nbd_device_cb)(void *ctx, const struct nbd_device *d);

/* Every device (member NULL) or every device of `member`, oldest first;
 * stops at the first non-zero return of cb. */
int nbd_welcome_foreach_device(struct nbd_store *s, const uint8_t *member, nbd_device_cb cb,
                               void *ctx);

/* Revokes a device: 0, NB_ENOENT (no such device, or already revoked), NB_EIO. */
int nbd_welcome_revoke(struct nbd_store *s, int64_t id, uint64_t now);

/*
 * The member's admitted device `by_key` (NULL: a device admitted without a
 * key) revokes device `id`, which must be the same member's: 0, NB_EPERM
 * (`by_key` is not an admitted device of the member), NB_ENOENT (the member
 * has no admitted device `id`: another member's device is not found
 * either), NB_EIO.
 */
int nbd_device_revoke_own(struct nbd_store *s, const uint8_t member[NB_KEY_SIZE],
                          const uint8_t *by_key, int64_t id, uint64_t now);

#endif
