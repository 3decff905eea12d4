/*
 * The store as the operator's commands see it (daemon/admin/admin.c: fsck,
 * backup, erase-member): a store file opened read-only whose rows are read
 * as they are on disk, not trusted; a consistent copy of a live store;
 * compaction.
 *
 * All SQL of those commands is here, beside daemon/store/store.c, so that
 * the schema is written down in one room.  The commands decide what a row's
 * contents mean; this file only reads and copies.
 */
#ifndef NOABERD_STORE_ADMIN_H
#define NOABERD_STORE_ADMIN_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <noaber/record.h>

/* A store file opened read-only; it is never created or migrated. */
struct nbd_store_ro;

/* One column of a row as SQLite holds it: damage shows as the wrong type. */
enum nbd_raw_type {
    NBD_RAW_NULL,
    NBD_RAW_INT,
    NBD_RAW_BLOB,
    NBD_RAW_OTHER, /* text or real: never written by noaberd */
};

struct nbd_raw {
    enum nbd_raw_type type;
    int64_t i;        /* NBD_RAW_INT */
    const uint8_t *p; /* NBD_RAW_BLOB (may be NULL for an empty blob) */
    size_t len;       /* NBD_RAW_BLOB */
};

/* A row of the records table; blobs are valid only during the callback. */
struct nbd_store_raw_row {
    int64_t rowid;
    struct nbd_raw id, kind, author, created_at, expires_at, target, root, bytes;
};

/* True when the column is a blob of exactly `len` bytes equal to `want`
 * (`want` NULL: of any content). */
bool nbd_raw_is_blob(const struct nbd_raw *c, const uint8_t *want, size_t len);

/* Opens `path` read-only; on failure err says why ("PATH: cannot open: ..."). */
int nbd_store_ro_open(const char *path, struct nbd_store_ro **ret, char *err, size_t err_size);
void nbd_store_ro_close(struct nbd_store_ro *s);

/*
 * SQLite's integrity_check: `cb` gets each line that is not "ok" (at most
 * 100).  Returns 0, or NB_EIO when the check itself could not run to the end
 * (err says why).
 */
int nbd_store_ro_integrity(struct nbd_store_ro *s, void (*cb)(void *ctx, const char *line),
                           void *ctx, char *err, size_t err_size);

/* PRAGMA user_version; 0 when it cannot be read. */
uint64_t nbd_store_ro_schema_version(struct nbd_store_ro *s);

/* A meta value of exactly `len` bytes: 0, NB_ENOENT, NB_EMALFORMED (another
 * size) or NB_EIO. */
int nbd_store_ro_meta(struct nbd_store_ro *s, const char *key, uint8_t *out, size_t len);

/* Every row of the records table in rowid order.  `cb` returns 0 to go on.
 * Returns 0, the callback's negative code, or NB_EIO (err says why). */
int nbd_store_ro_foreach_row(struct nbd_store_ro *s,
                             int (*cb)(void *ctx, const struct nbd_store_raw_row *row), void *ctx,
                             char *err, size_t err_size);

/* The root a record acting on `target` must carry: the target's own root,
 * or the target itself when it has none.  0, NB_ENOENT (not stored) or
 * NB_EIO (a damaged row). */
int nbd_store_ro_root_of(struct nbd_store_ro *s, const uint8_t target[NB_ID_SIZE],
                         uint8_t ret_root[NB_ID_SIZE]);

/* Every id that is both stored and tombstoned (a deletion that did not
 * stick); `id` is NULL when the column is damaged. */
int nbd_store_ro_foreach_stored_tombstone(struct nbd_store_ro *s,
                                          void (*cb)(void *ctx, const uint8_t *id), void *ctx);

/* Number of tombstones; 0 when they cannot be counted. */
uint64_t nbd_store_ro_tombstones(struct nbd_store_ro *s);

/*
 * Copies the store at `src_path` (which a daemon may be writing) into a new
 * file `dst_path` with SQLite's online backup API: one read transaction, so
 * the copy is one consistent state.  The copy is checked (quick_check) and
 * taken out of WAL mode so that it is a single file.  Returns 0 with
 * *ret_records set, or NB_EIO with err saying why.
 */
int nbd_store_backup(const char *src_path, const char *dst_path, uint64_t *ret_records, char *err,
                     size_t err_size);

/* Rewrites the store at `path` without free pages and empties its WAL, so
 * that deleted bytes stay neither in unused pages nor in the log. */
int nbd_store_compact(const char *path);

#endif
