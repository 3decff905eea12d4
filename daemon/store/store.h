/*
 * The node's store: every record it holds, tombstones of purged records, and
 * the neighbourhood it belongs to, in one SQLite database in WAL mode.
 *
 * This is the API both the control socket and (later) the peer sync layer
 * use.  It knows nothing about the lifecycle rules: callers (daemon/node.c)
 * decide what is accepted and call nbd_store_insert inside a transaction.
 *
 * Each record row carries its `root`: the request or offer a response,
 * assignment, withdrawal ... ultimately acts on (NULL for records that act on
 * nothing, such as requests, offers, profiles and vouches).  Everything that
 * lives and dies with a root is found by one indexed query.
 */
#ifndef NOABERD_STORE_H
#define NOABERD_STORE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <noaber/record.h>

#define NBD_STORE_SCHEMA_VERSION 8

struct nbd_store;

/* One stored record.  In callbacks `bytes` is valid only during the call. */
struct nbd_store_record {
    uint8_t id[NB_ID_SIZE];
    uint8_t kind;
    uint8_t author[NB_KEY_SIZE];
    uint64_t created_at;
    bool has_expiry;
    uint64_t expires_at;
    bool has_target;
    uint8_t target[NB_ID_SIZE];
    bool has_root;
    uint8_t root[NB_ID_SIZE];
    const uint8_t *bytes;
    size_t len;
};

/* Iteration callback: return 0 to continue, 1 to stop, or a negative code. */
typedef int (*nbd_store_cb)(void *ctx, const struct nbd_store_record *rec);

/*
 * Opens (creating if needed) the store at `path`, migrates its schema to
 * NBD_STORE_SCHEMA_VERSION and checks its integrity.  A file that is not a
 * store, a corrupted one, or one from a newer noaberd gives NB_EIO with a
 * sentence in err; never a crash.
 */
int nbd_store_open(const char *path, struct nbd_store **ret, char *err, size_t err_size);

/*
 * The same with flags.  NBD_STORE_CHECK_LATER leaves out the check of every
 * page (PRAGMA quick_check, whose time grows with the store) unless the
 * store is about to be migrated: the caller runs nbd_store_check beside its
 * work instead, so that starting does not take longer as the store grows.
 */
#define NBD_STORE_CHECK_LATER 1u
int nbd_store_open_with(const char *path, unsigned flags, struct nbd_store **ret, char *err,
                        size_t err_size);

/*
 * Checks every page of the store at `path` on a read-only connection of its
 * own, so it may run on another thread while the store is in use: 0, or
 * NB_EDAMAGED (or NB_EIO when it cannot be read) with a sentence in err.
 */
int nbd_store_check(const char *path, char *err, size_t err_size);

/*
 * A large catch-up (daemon/node.c, nbd_node_catching_up) drops the indexes
 * that no check on an arriving record reads (the (created_at, id) order,
 * the kinds, the expiry) and builds them again, by sorting, once it is over:
 * records arrive in the order of their ids, and each of those indexes would
 * take a random page per record.  Meanwhile every query still answers the
 * same, by scanning.  A store opened without them gets them back at open.
 */
int nbd_store_defer_indexes(struct nbd_store *s);
int nbd_store_build_indexes(struct nbd_store *s);

/* What nbd_store_open found in the write-ahead log before SQLite replayed
 * it (daemon/store/store_wal.h): a verdict other than NBD_WAL_CLEAN means
 * frames were dropped, and for NBD_WAL_DAMAGED committed records with them. */
struct nbd_wal_report;
const struct nbd_wal_report *nbd_store_wal(const struct nbd_store *s);

/* Bounds the store's page cache to `mib` MiB (nbd_store_open sets 64). */
int nbd_store_set_cache(struct nbd_store *s, unsigned mib);
/* A count that moves whenever the store changed (rows written or deleted):
 * equal twice means nothing was written in between. */
uint64_t nbd_store_changes(const struct nbd_store *s);
/* Gives back the page cache's memory (the pages come back from the
 * kernel's cache when next read).  Returns the bytes freed. */
size_t nbd_store_release_memory(struct nbd_store *s);
void nbd_store_close(struct nbd_store *s);

/*
 * Failures of the store come as NB_EDAMAGED (the file or a record in it is
 * damaged: SQLite found corruption, or a record's bytes do not match its id),
 * NB_ENOSPC (the disk is full, over quota or read-only) or NB_EIO (anything
 * else).  nbd_store_explain says what happened, naming the store's
 * directory, and what the operator does about it; it returns buf.
 */
const char *nbd_store_explain(const struct nbd_store *s, int code, char *buf, size_t size);

/*
 * Reads for a client or a peer (nbd_store_get, the foreach functions except
 * foreach_ordered) check each record's bytes against its id; a damaged one
 * gives NB_EDAMAGED from get and is left out of listings, and is remembered.
 * nbd_store_repair deletes the remembered rows (without a tombstone, so that
 * the next reconciliation fetches the record again from a peer that holds it)
 * and calls cb once for each; it returns how many it removed or a negative
 * code.  Call it outside any transaction.
 */
typedef void (*nbd_store_damaged_cb)(void *ctx, const uint8_t id[NB_ID_SIZE]);
int nbd_store_repair(struct nbd_store *s, nbd_store_damaged_cb cb, void *ctx);

/* The schema version of the open database (PRAGMA user_version). */
int nbd_store_schema_version(struct nbd_store *s);

/* The database, for the daemon's modules that keep tables of their own
 * (daemon/store/store_welcome.c); their tables come from the migrations above. */
struct sqlite3;
struct sqlite3 *nbd_store_db(struct nbd_store *s);

/*
 * Transactions.  The outermost commit is durable on return
 * (synchronous=FULL).  A begin inside an open transaction makes a savepoint:
 * its commit releases it (durable with the outermost commit), its rollback
 * undoes only what was written since that begin.
 */
int nbd_store_begin(struct nbd_store *s);
int nbd_store_commit(struct nbd_store *s);
void nbd_store_rollback(struct nbd_store *s);

/* Small named values (the neighbourhood's name, key and id).  NB_ENOENT if
 * absent; NB_ETOOBIG if larger than cap. */
int nbd_store_meta_get(struct nbd_store *s, const char *key, uint8_t *buf, size_t cap,
                       size_t *ret_len);
int nbd_store_meta_set(struct nbd_store *s, const char *key, const uint8_t *val, size_t len);

/* Inserts a record; NB_EEXIST if its id is already stored. */
int nbd_store_insert(struct nbd_store *s, const struct nbd_store_record *rec);

/* Copies the record into *ret, its bytes into buf (NB_RECORD_MAX).  NB_ENOENT. */
int nbd_store_get(struct nbd_store *s, const uint8_t id[NB_ID_SIZE], struct nbd_store_record *ret,
                  uint8_t *buf);

/* 1 if stored, 0 if not, or a negative code. */
int nbd_store_has(struct nbd_store *s, const uint8_t id[NB_ID_SIZE]);
/* 1 if the id has a tombstone (it was purged), 0 if not, or a negative code. */
int nbd_store_is_tombstoned(struct nbd_store *s, const uint8_t id[NB_ID_SIZE]);

/* A tombstone: until when it keeps its record out (for good without), and
 * the author of the record it stands for, where the node knew it. */
struct nbd_tombstone {
    bool has_until;
    uint64_t until;
    bool has_author;
    uint8_t author[NB_KEY_SIZE];
};

/* The tombstone of `id`, or NB_ENOENT. */
int nbd_store_tombstone_get(struct nbd_store *s, const uint8_t id[NB_ID_SIZE],
                            struct nbd_tombstone *ret);

/* Tombstones a record the node does not hold (a peer's record it refuses
 * for good), keeping its author.  Call inside a transaction. */
int nbd_store_tombstone(struct nbd_store *s, const uint8_t id[NB_ID_SIZE],
                        const uint8_t author[NB_KEY_SIZE], bool has_until, uint64_t until);

/* The stored retractions whose target is `target`, in (created_at, id)
 * order.  The callback may purge. */
int nbd_store_foreach_retraction_of(struct nbd_store *s, const uint8_t target[NB_ID_SIZE],
                                    nbd_store_cb cb, void *ctx);

/* Sets a stored record's root (NULL for none) and expiry: a retraction kept
 * before its target arrived takes the place it would have had.  NB_ENOENT
 * if the record is not stored. */
int nbd_store_set_place(struct nbd_store *s, const uint8_t id[NB_ID_SIZE], const uint8_t *root,
                        bool has_expiry, uint64_t expires_at);

/* How many stored records `author` signed with from <= created_at < until. */
int nbd_store_count_author(struct nbd_store *s, const uint8_t author[NB_KEY_SIZE], uint64_t from,
                           uint64_t until, uint64_t *ret_n);

/*
 * Finds the one record whose lowercase-hex id starts with `hex` (4..64 hex
 * digits, either case).  NB_EINVAL for a bad prefix, NB_ENOENT, NB_EAMBIGUOUS.
 */
int nbd_store_find_prefix(struct nbd_store *s, const char *hex, uint8_t ret_id[NB_ID_SIZE]);
/*
 * The ids starting with the hex prefix, in id order, at most `max` of them,
 * into ret_ids; *ret_n is how many.  NB_EINVAL for a prefix that is not 4 to
 * 64 hex digits.
 */
int nbd_store_prefix_matches(struct nbd_store *s, const char *hex, uint8_t (*ret_ids)[NB_ID_SIZE],
                             size_t max, size_t *ret_n);

/*
 * After a lookup by full id found nothing: whether the id index near `id`
 * still agrees with the table (its 16 entries either side lead to rows with
 * their ids).  0 when it does (the record is absent as far as a bounded
 * check can tell), NB_EDAMAGED when it does not: a damaged index entry can
 * hide a record that is stored, and only `noaberd fsck` checks them all.
 */
int nbd_store_check_absent(struct nbd_store *s, const uint8_t id[NB_ID_SIZE]);

/* Records whose root is `root`, in (created_at, id) order. */
int nbd_store_foreach_in_root(struct nbd_store *s, const uint8_t root[NB_ID_SIZE], nbd_store_cb cb,
                              void *ctx);

/*
 * Records newest first ((created_at, id) descending).  kind 0 means requests
 * and offers; author NULL means anyone.
 */
int nbd_store_foreach_newest(struct nbd_store *s, unsigned kind, const uint8_t *author,
                             nbd_store_cb cb, void *ctx);

/*
 * Every record in (created_at, id) order starting after (created_at, id) —
 * pass 0 and NULL for the beginning.  This is the order range-based set
 * reconciliation (negentropy) works in.
 */
int nbd_store_foreach_ordered(struct nbd_store *s, uint64_t after_created_at,
                              const uint8_t *after_id, nbd_store_cb cb, void *ctx);

int nbd_store_count(struct nbd_store *s, uint64_t *ret_records, uint64_t *ret_tombstones);

/*
 * Deletes record `id` and every record that acts on it (directly or through
 * others: all with root = id, and the subtree of target links below id),
 * leaving a tombstone (id, until, author) for each.  has_until false keeps the
 * tombstones forever (records without an expiry, such as profiles).
 * Sets *ret_n to the number of records deleted.  Call inside a transaction.
 */
int nbd_store_purge_tree(struct nbd_store *s, const uint8_t id[NB_ID_SIZE], bool has_until,
                         uint64_t until, uint64_t *ret_n);

/*
 * Deletes every record `author` signed, each with everything that acts on
 * it (as nbd_store_purge_tree), leaving tombstones: for good when has_until
 * is false, else until the authored record's created_at + keep_for.  Sets
 * *ret_authored to the number of the author's records and *ret_n to the
 * number of records deleted in all.  Call inside a transaction.
 */
int nbd_store_purge_author(struct nbd_store *s, const uint8_t author[NB_KEY_SIZE], bool has_until,
                           uint64_t keep_for, uint64_t *ret_authored, uint64_t *ret_n);

/*
 * The members this node's operator blocked (by author key).  Adding one
 * already blocked is NB_EEXIST and keeps the first `since`; removing one
 * not blocked is NB_ENOENT.  is_blocked gives 1, 0 or a negative code.
 */
int nbd_store_block_add(struct nbd_store *s, const uint8_t author[NB_KEY_SIZE], uint64_t since);
int nbd_store_block_remove(struct nbd_store *s, const uint8_t author[NB_KEY_SIZE]);
int nbd_store_is_blocked(struct nbd_store *s, const uint8_t author[NB_KEY_SIZE]);

/* Blocked members, oldest block first.  Return 0 to continue, 1 to stop. */
typedef int (*nbd_store_blocked_cb)(void *ctx, const uint8_t author[NB_KEY_SIZE], uint64_t since);
int nbd_store_foreach_blocked(struct nbd_store *s, nbd_store_blocked_cb cb, void *ctx);

/*
 * The periodic purge, in its own transaction: records whose expires_at is
 * more than `grace` seconds before `now` go, with everything in their root,
 * each leaving a tombstone until the original expiry; tombstones whose
 * `until` is more than `grace` before now are dropped.  Returns the counts.
 * `purging` (may be NULL) is called with each expired record's id before
 * it goes, in the same transaction; a negative return undoes the purge.
 */
typedef int (*nbd_store_purging_cb)(void *ctx, const uint8_t id[NB_ID_SIZE]);
int nbd_store_purge_expired(struct nbd_store *s, uint64_t now, uint64_t grace,
                            nbd_store_purging_cb purging, void *ctx, uint64_t *ret_records,
                            uint64_t *ret_tombstones);

#endif
