/*
 * Set reconciliation with the Negentropy protocol, version 1.
 *
 * Two neighbours that both hold records of a neighbourhood find out which
 * records only one of them has, exchanging a few small messages whose size
 * grows with the difference between their sets, not with the sets.  The
 * messages are byte-for-byte those of the reference implementation
 * (hoytech/negentropy), so a Noaber node can reconcile with any conforming
 * implementation.  See docs/fragments/sync.md for the wire format.
 *
 * An item is a record's (created_at, id).  Each side puts its items into a
 * storage, seals it (which sorts it), and opens a session on it:
 *
 *   initiator                              responder
 *   nb_negentropy_initiate()  -- msg -->   nb_negentropy_reconcile()
 *   nb_negentropy_reconcile() <-- msg --   (out: reply)
 *   ... until the initiator's nb_negentropy_reconcile() returns no message.
 *
 * The initiator learns the ids it has and the responder lacks ("have") and
 * the ids the responder has and it lacks ("need").  The responder learns
 * nothing by itself; the usual arrangement is that the initiator then pushes
 * its "have" records and fetches its "need" records.
 *
 * This module is pure: no I/O and no clock.  It allocates with malloc().
 */
#ifndef NOABER_NEGENTROPY_H
#define NOABER_NEGENTROPY_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

#define NB_NEGENTROPY_ID_SIZE          32
#define NB_NEGENTROPY_FINGERPRINT_SIZE 16
/* The version byte that starts every message: 0x60 + protocol version 1. */
#define NB_NEGENTROPY_PROTOCOL_VERSION 0x61
/* A frame size limit other than 0 (unlimited) must be at least this. */
#define NB_NEGENTROPY_MIN_FRAME_SIZE 4096
/*
 * The frame size limit Noaber uses on peer links.  A Noise transport message
 * carries at most 65535 bytes including its 16-byte tag, so 60000 leaves room
 * for the peer-link envelope around a reconciliation message while one
 * message can still list about 1800 ids.  It is also the limit common in
 * other deployments (NIP-77 clients), which keeps round counts comparable.
 */
#define NB_NEGENTROPY_FRAME_SIZE_LIMIT 60000
/* created_at may not take this value: the protocol reserves it as infinity. */
#define NB_NEGENTROPY_TIMESTAMP_INFINITY UINT64_MAX

struct nb_negentropy_item {
    uint64_t created_at;
    uint8_t id[NB_NEGENTROPY_ID_SIZE];
};

/*
 * A set of items, sorted by (created_at, id) once sealed.  Either built by
 * nb_negentropy_storage_add() + nb_negentropy_storage_seal(), or wrapping a
 * caller's already sorted array with nb_negentropy_storage_init_sorted().
 * Fields are read-only for callers.
 */
struct nb_negentropy_storage {
    struct nb_negentropy_item *items;
    size_t count;
    size_t capacity;
    bool sealed;
    bool borrowed; /* items belong to the caller and are not freed */
    /*
     * Built when sealed: the sum of the ids before every 16th item, so a
     * range's fingerprint costs at most ~32 additions whatever its size
     * (2 bytes per item).  Always owned by the storage.
     */
    uint64_t (*checkpoints)[4];
};

/* Initialises an empty, unsealed storage that owns its items. */
void nb_negentropy_storage_init(struct nb_negentropy_storage *storage);

/*
 * Initialises a sealed storage over the caller's array, which must stay
 * alive and unchanged while the storage is used.  The array must be sorted
 * by (created_at, id) without duplicates and without created_at =
 * infinity: NB_EINVAL otherwise (checked in one O(count) pass).  NB_ENOMEM.
 * Free it with nb_negentropy_storage_free() (which leaves the array alone).
 */
int nb_negentropy_storage_init_sorted(struct nb_negentropy_storage *storage,
                                      const struct nb_negentropy_item *items, size_t count);

/*
 * Adds an item to an unsealed storage.  NB_ESTATE if sealed, NB_EINVAL if
 * created_at is infinity, NB_ENOMEM.
 */
int nb_negentropy_storage_add(struct nb_negentropy_storage *storage, uint64_t created_at,
                              const uint8_t id[NB_NEGENTROPY_ID_SIZE]);

/*
 * Sorts the storage and makes it usable by sessions.  NB_ESTATE if already
 * sealed, NB_EEXIST if the same (created_at, id) was added twice, NB_ENOMEM
 * (the storage then stays unsealed).
 */
int nb_negentropy_storage_seal(struct nb_negentropy_storage *storage);

/* Frees what the storage owns; safe on a zeroed or already freed storage. */
void nb_negentropy_storage_free(struct nb_negentropy_storage *storage);

/* A growable list of ids, filled by nb_negentropy_reconcile(). */
struct nb_negentropy_ids {
    uint8_t (*ids)[NB_NEGENTROPY_ID_SIZE];
    size_t count;
    size_t capacity;
};

/* Frees the list and leaves it empty and reusable. */
void nb_negentropy_ids_free(struct nb_negentropy_ids *ids);
/* Appends one id (32 bytes).  Returns 0 or NB_ENOMEM. */
int nb_negentropy_ids_add(struct nb_negentropy_ids *ids, const uint8_t *id);

/*
 * Sorts the list by id and drops repeated ids.  An initiator whose messages
 * are cut by a frame size limit can report an id again in a later round
 * (the protocol, and the reference implementation, re-examine a range whose
 * answer did not fit); this turns the accumulated lists back into sets.
 */
void nb_negentropy_ids_sort_unique(struct nb_negentropy_ids *ids);

/*
 * One reconciliation, from one side.  A session only reads its storage, so
 * many sessions may share one sealed storage.
 */
struct nb_negentropy {
    const struct nb_negentropy_storage *storage;
    uint64_t frame_size_limit;
    bool initiator;
};

/*
 * Opens a session.  frame_size_limit is 0 (no limit) or at least
 * NB_NEGENTROPY_MIN_FRAME_SIZE: every message this side produces is then at
 * most that many bytes.  NB_EINVAL for a smaller limit, NB_ESTATE if the
 * storage is not sealed.
 */
int nb_negentropy_init(struct nb_negentropy *ne, const struct nb_negentropy_storage *storage,
                       uint64_t frame_size_limit);

/*
 * Makes this side the initiator and returns its first message (malloc'd,
 * free() it).  NB_ESTATE if the session already initiated.
 */
int nb_negentropy_initiate(struct nb_negentropy *ne, uint8_t **ret_msg, size_t *ret_len);

/*
 * Processes a message from the other side and returns the reply (malloc'd,
 * free() it).
 *
 * A responder always gets a reply to send.  A responder that receives an
 * unsupported protocol version (0x60..0x6f other than 0x61) replies with the
 * single byte 0x61, which tells the initiator which version to retry with.
 *
 * An initiator appends the ids only it has to `have` and the ids only the
 * responder has to `need` (either may be NULL to ignore them); with a frame
 * size limit the same id may be appended in more than one round, see
 * nb_negentropy_ids_sort_unique().  When it has
 * nothing left to ask, *ret_msg is set to NULL and *ret_len to 0:
 * reconciliation is complete.
 *
 * Errors: NB_EVERSION (a version byte outside 0x60..0x6f, or an initiator
 * offered another version), NB_EMALFORMED (truncated or inconsistent
 * message: bad varint, id prefix longer than 32 bytes, unknown mode, a count
 * larger than the bytes that remain), NB_ENOMEM.  On error no out-parameter
 * is written and `have` and `need` hold the same ids as before (their
 * buffers may have grown: free them as usual).
 */
int nb_negentropy_reconcile(struct nb_negentropy *ne, const uint8_t *msg, size_t len,
                            uint8_t **ret_msg, size_t *ret_len, struct nb_negentropy_ids *have,
                            struct nb_negentropy_ids *need);

#ifdef __cplusplus
}
#endif

#endif
