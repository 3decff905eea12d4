#include "daemon/store/store.h"

#include <errno.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <sqlite3.h>

#include <noaber/error.h>

#include "daemon/store/store_wal.h"

/*
 * Schema migrations, oldest first.  migrations[i] takes the database from
 * user_version i to i + 1; each runs in its own transaction together with
 * the version bump, so a crash in the middle leaves the older version.
 * Never edit a published step: add a new one.
 */
static const char *const migrations[] = {
    /* 0 -> 1: records, tombstones, meta. */
    "CREATE TABLE records ("
    "  id BLOB NOT NULL UNIQUE,"
    "  kind INTEGER NOT NULL,"
    "  author BLOB NOT NULL,"
    "  created_at INTEGER NOT NULL,"
    "  expires_at INTEGER,"
    "  target BLOB,"
    "  bytes BLOB NOT NULL);"
    "CREATE INDEX records_order ON records(created_at, id);"
    "CREATE TABLE tombstones (id BLOB PRIMARY KEY NOT NULL, until INTEGER);"
    "CREATE TABLE meta (key TEXT PRIMARY KEY NOT NULL, value BLOB NOT NULL);",

    /* 1 -> 2: each record knows its root, so a request's whole timeline
     * (and its purge) is one indexed query; indexes for the list filters. */
    "ALTER TABLE records ADD COLUMN root BLOB;"
    "UPDATE records SET root = target WHERE target IS NOT NULL;"
    /* A chain is at most withdrawal -> response -> request; three passes
     * leave room for longer ones. */
    "UPDATE records SET root = (SELECT p.root FROM records p WHERE p.id = records.root)"
    "  WHERE root IN (SELECT id FROM records WHERE root IS NOT NULL);"
    "UPDATE records SET root = (SELECT p.root FROM records p WHERE p.id = records.root)"
    "  WHERE root IN (SELECT id FROM records WHERE root IS NOT NULL);"
    "UPDATE records SET root = (SELECT p.root FROM records p WHERE p.id = records.root)"
    "  WHERE root IN (SELECT id FROM records WHERE root IS NOT NULL);"
    "CREATE INDEX records_root ON records(root, created_at, id) WHERE root IS NOT NULL;"
    "CREATE INDEX records_target ON records(target) WHERE target IS NOT NULL;"
    "CREATE INDEX records_kind ON records(kind, created_at, id);"
    "CREATE INDEX records_author ON records(author, created_at, id);"
    "CREATE INDEX records_expiry ON records(expires_at) WHERE expires_at IS NOT NULL;"
    "CREATE INDEX tombstones_until ON tombstones(until) WHERE until IS NOT NULL;",

    /* 2 -> 3: members this node's operator blocked, and since when. */
    "CREATE TABLE blocked (author BLOB PRIMARY KEY NOT NULL, since INTEGER NOT NULL);",

    /* 3 -> 4: a tombstone keeps the author of what it stands for, so that a
     * retraction arriving after its target was purged is judged as one
     * arriving before.  Version 3 tombstoned the target of a peer's
     * retraction it did not hold, whoever signed the retraction; those
     * tombstones go, and the stored retraction decides when its target
     * arrives (daemon/node.c, settle_retractions). */
    "ALTER TABLE tombstones ADD COLUMN author BLOB;"
    "DELETE FROM tombstones WHERE id IN (SELECT target FROM records WHERE kind = 9"
    "  AND target IS NOT NULL) AND id NOT IN (SELECT id FROM records);",
    /* 4 -> 5: welcome links the operator handed out (only a hash of each
     * token is kept) and the browsers they admitted (daemon/store/store_welcome.c). */
    "CREATE TABLE welcome_tokens (hash BLOB PRIMARY KEY NOT NULL, name TEXT,"
    "  created_at INTEGER NOT NULL, expires_at INTEGER NOT NULL);"
    "CREATE TABLE devices (id INTEGER PRIMARY KEY, member BLOB NOT NULL, name TEXT,"
    "  device TEXT, admitted_at INTEGER NOT NULL, revoked_at INTEGER);"
    "CREATE INDEX devices_member ON devices(member);",
    /* 5 -> 6: anonymous tallies of purged requests for the unmet-need
     * overview (daemon/store/store_tally.h): no ids, no authors. */
    "CREATE TABLE report_tallies (month TEXT NOT NULL, category TEXT NOT NULL,"
    "  area TEXT NOT NULL, posted INTEGER NOT NULL, helped INTEGER NOT NULL,"
    "  cancelled INTEGER NOT NULL, expired_unhelped INTEGER NOT NULL, open INTEGER NOT NULL,"
    "  on_behalf INTEGER NOT NULL, PRIMARY KEY (month, category, area)) WITHOUT ROWID;"
    "CREATE TABLE report_delays (month TEXT NOT NULL, category TEXT NOT NULL,"
    "  area TEXT NOT NULL, first_response INTEGER, assignment INTEGER);"
    "CREATE INDEX report_delays_month ON report_delays(month);",

    /* 6 -> 7: narrower indexes for a cheaper write per record (bench/README.md,
     * "Page writes per record").  The quota's count and the author's
     * listing need an author's records by created_at, a kind's listing the
     * kind's by created_at; neither needs the id in the key (the listings
     * sort ties by id themselves), and an entry half the size is half the
     * leaves a batch of records dirties. */
    "DROP INDEX records_author;"
    "CREATE INDEX records_author ON records(author, created_at);"
    "DROP INDEX records_kind;"
    "CREATE INDEX records_kind ON records(kind, created_at);",
    /* 7 -> 8: each browser proves which device it is with a key of its own
     * (a device admitted before has none, and is known by its member key
     * alone), and the one-time links a member's device hands to their next
     * one (only a hash of each token is kept, with the browser's ciphertext). */
    "ALTER TABLE devices ADD COLUMN device_key BLOB;"
    "CREATE UNIQUE INDEX devices_key ON devices(device_key) WHERE device_key IS NOT NULL;"
    "CREATE TABLE device_transfers (hash BLOB PRIMARY KEY NOT NULL, member BLOB NOT NULL,"
    "  by_device INTEGER NOT NULL, sealed BLOB NOT NULL, expires_at INTEGER NOT NULL);",
};
#define N_MIGRATIONS ((int)(sizeof(migrations) / sizeof(migrations[0])))

_Static_assert(N_MIGRATIONS == NBD_STORE_SCHEMA_VERSION, "one migration per schema version");

/*
 * The indexes that no check on an arriving record reads: the (created_at,
 * id) order for reconciliation snapshots and the ordered walk, the kinds for
 * the listings, the expiry for the purge.  Records arrive from a peer in the
 * order of their ids, so each of these takes a random leaf per record; during
 * a large catch-up the node drops them (nbd_store_defer_indexes) and builds
 * them again by sorting once it is over (nbd_store_build_indexes).  They are
 * the same statements as in the migrations above, and the current schema's:
 * a store opened without them (a node stopped during a catch-up) gets them
 * back at open.
 */
static const char build_indexes_sql[] =
    "CREATE INDEX IF NOT EXISTS records_order ON records(created_at, id);"
    "CREATE INDEX IF NOT EXISTS records_kind ON records(kind, created_at);"
    "CREATE INDEX IF NOT EXISTS records_expiry ON records(expires_at)"
    "  WHERE expires_at IS NOT NULL;";
static const char defer_indexes_sql[] = "DROP INDEX IF EXISTS records_order;"
                                        "DROP INDEX IF EXISTS records_kind;"
                                        "DROP INDEX IF EXISTS records_expiry;";

#define COLUMNS "id, kind, author, created_at, expires_at, target, root, bytes"

enum stmt {
    ST_BEGIN,
    ST_COMMIT,
    ST_ROLLBACK,
    ST_META_GET,
    ST_META_SET,
    ST_INSERT,
    ST_GET,
    ST_HAS,
    ST_TOMBSTONED,
    ST_PREFIX,
    ST_IN_ROOT,
    ST_NEWEST_ROOTS,
    ST_NEWEST_KIND,
    ST_NEWEST_ROOTS_AUTHOR,
    ST_NEWEST_KIND_AUTHOR,
    ST_ORDERED_FIRST,
    ST_ORDERED_AFTER,
    ST_COUNT,
    ST_TREE,
    ST_TOMBSTONE,
    ST_DELETE,
    ST_EXPIRED,
    ST_DROP_TOMBSTONES,
    ST_BY_AUTHOR,
    ST_BLOCK_ADD,
    ST_BLOCK_REMOVE,
    ST_BLOCKED,
    ST_TOMBSTONE_GET,
    ST_RETRACTIONS_OF,
    ST_HAS_RETRACTION,
    ST_SET_PLACE,
    ST_COUNT_AUTHOR,
    ST_INDEX_NEAR,
    ST_COUNT_,
};

static const char *const stmt_sql[ST_COUNT_] = {
    [ST_BEGIN] = "BEGIN IMMEDIATE",
    [ST_COMMIT] = "COMMIT",
    [ST_ROLLBACK] = "ROLLBACK",
    [ST_META_GET] = "SELECT value FROM meta WHERE key = ?1",
    [ST_META_SET] = "INSERT OR REPLACE INTO meta(key, value) VALUES (?1, ?2)",
    [ST_INSERT] = "INSERT INTO records(" COLUMNS ") VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8)",
    [ST_GET] = "SELECT " COLUMNS " FROM records WHERE id = ?1",
    [ST_HAS] = "SELECT 1 FROM records WHERE id = ?1",
    [ST_TOMBSTONED] = "SELECT 1 FROM tombstones WHERE id = ?1",
    /* Ids are compared as blobs in the range [prefix, prefix + 1). */
    [ST_PREFIX] = "SELECT id FROM records WHERE id >= ?1 AND (?2 IS NULL OR id < ?2)"
                  " ORDER BY id LIMIT ?3",
    [ST_IN_ROOT] = "SELECT " COLUMNS " FROM records WHERE root = ?1 ORDER BY created_at, id",
    [ST_NEWEST_ROOTS] = "SELECT " COLUMNS " FROM records WHERE kind IN (1, 2)"
                        " ORDER BY created_at DESC, id DESC",
    [ST_NEWEST_KIND] = "SELECT " COLUMNS " FROM records WHERE kind = ?1"
                       " ORDER BY created_at DESC, id DESC",
    [ST_NEWEST_ROOTS_AUTHOR] = "SELECT " COLUMNS " FROM records WHERE kind IN (1, 2)"
                               " AND author = ?2 ORDER BY created_at DESC, id DESC",
    [ST_NEWEST_KIND_AUTHOR] = "SELECT " COLUMNS " FROM records WHERE kind = ?1 AND author = ?2"
                              " ORDER BY created_at DESC, id DESC",
    [ST_ORDERED_FIRST] = "SELECT " COLUMNS " FROM records ORDER BY created_at, id",
    [ST_ORDERED_AFTER] = "SELECT " COLUMNS " FROM records WHERE (created_at, id) > (?1, ?2)"
                         " ORDER BY created_at, id",
    [ST_COUNT] = "SELECT (SELECT count(*) FROM records), (SELECT count(*) FROM tombstones)",
    /* The record, everything whose root it is, and the subtree of target
     * links below it (a retracted response takes its withdrawal along). */
    [ST_TREE] = "WITH RECURSIVE tree(id) AS ("
                "  SELECT id FROM records WHERE id = ?1"
                "  UNION SELECT r.id FROM records r JOIN tree t ON r.target = t.id)"
                " SELECT id, author FROM records WHERE id IN"
                " (SELECT id FROM tree UNION SELECT id FROM records WHERE root = ?1)",
    [ST_TOMBSTONE] = "INSERT OR REPLACE INTO tombstones(id, until, author) VALUES (?1, ?2, ?3)",
    [ST_DELETE] = "DELETE FROM records WHERE id = ?1",
    [ST_EXPIRED] = "SELECT id, expires_at FROM records WHERE expires_at IS NOT NULL"
                   " AND expires_at < ?1 LIMIT 256",
    [ST_DROP_TOMBSTONES] = "DELETE FROM tombstones WHERE until IS NOT NULL AND until < ?1",
    [ST_BY_AUTHOR] = "SELECT id, created_at FROM records WHERE author = ?1",
    [ST_BLOCK_ADD] = "INSERT OR IGNORE INTO blocked(author, since) VALUES (?1, ?2)",
    [ST_BLOCK_REMOVE] = "DELETE FROM blocked WHERE author = ?1",
    [ST_BLOCKED] = "SELECT 1 FROM blocked WHERE author = ?1",
    [ST_TOMBSTONE_GET] = "SELECT until, author FROM tombstones WHERE id = ?1",
    [ST_RETRACTIONS_OF] = "SELECT " COLUMNS " FROM records WHERE target = ?1 AND kind = 9"
                          " ORDER BY created_at, id",
    [ST_HAS_RETRACTION] = "SELECT 1 FROM records WHERE target = ?1 AND kind = 9 LIMIT 1",
    [ST_SET_PLACE] = "UPDATE records SET root = ?2, expires_at = ?3 WHERE id = ?1",
    [ST_COUNT_AUTHOR] = "SELECT count(*) FROM records WHERE author = ?1"
                        " AND created_at >= ?2 AND created_at < ?3",
    /* The id index's entries either side of ?1 (the index holds the id and
     * the rowid), each compared with the id of the table row it leads to. */
    [ST_INDEX_NEAR] = "SELECT count(*) FROM ("
                      "  SELECT * FROM (SELECT id AS iid, rowid AS rid FROM records"
                      "    INDEXED BY sqlite_autoindex_records_1 WHERE id < ?1"
                      "    ORDER BY id DESC LIMIT 16)"
                      "  UNION ALL SELECT * FROM (SELECT id AS iid, rowid AS rid FROM records"
                      "    INDEXED BY sqlite_autoindex_records_1 WHERE id >= ?1"
                      "    ORDER BY id LIMIT 16)) AS near"
                      " JOIN records AS t ON t.rowid = near.rid WHERE t.id IS NOT near.iid",
};

/* How many damaged records the store remembers until nbd_store_repair
 * removes them; more wait for the next read that meets them. */
#define DAMAGED_MAX 64

struct nbd_store {
    sqlite3 *db;
    sqlite3_stmt *stmts[ST_COUNT_];
    unsigned depth; /* open nbd_store_begin calls: 1 = the transaction */
    char *path;
    int fault_errno; /* the system's errno behind the last NB_ENOSPC */
    /* The id columns of rows whose bytes do not match their id, found by
     * reads and waiting for nbd_store_repair. */
    uint8_t damaged[DAMAGED_MAX][NB_ID_SIZE];
    size_t n_damaged;
    /* What the write-ahead log held that SQLite dropped when it opened. */
    struct nbd_wal_report wal;
    struct nbd_wal_mark mark;
    int autocheckpoint; /* WAL frames; the WAL hook checkpoints in SQLite's place */
};

/*
 * The store's error code for the statement that just failed: damage
 * (SQLITE_CORRUPT, SQLITE_NOTADB) and a disk that takes no more writes (full,
 * over quota, read-only) are told apart from other I/O errors, because the
 * operator does something different about each.
 */
static int fault(struct nbd_store *s)
{
    int rc = sqlite3_extended_errcode(s->db);
    int sys = sqlite3_system_errno(s->db);
    switch (rc & 0xff) {
    case SQLITE_CORRUPT:
    case SQLITE_NOTADB:
        return NB_EDAMAGED;
    case SQLITE_FULL:
        s->fault_errno = sys == EDQUOT ? EDQUOT : ENOSPC;
        return NB_ENOSPC;
    case SQLITE_READONLY:
        s->fault_errno = EROFS;
        return NB_ENOSPC;
    case SQLITE_IOERR:
        if (sys == ENOSPC || sys == EDQUOT || sys == EROFS) {
            s->fault_errno = sys;
            return NB_ENOSPC;
        }
        break;
    }
    return NB_EIO;
}

static int stmt_get(struct nbd_store *s, enum stmt which, sqlite3_stmt **ret)
{
    if (s->stmts[which] == NULL) {
        if (sqlite3_prepare_v3(s->db, stmt_sql[which], -1, SQLITE_PREPARE_PERSISTENT,
                               &s->stmts[which], NULL) != SQLITE_OK)
            return fault(s);
    }
    sqlite3_reset(s->stmts[which]);
    sqlite3_clear_bindings(s->stmts[which]);
    *ret = s->stmts[which];
    return 0;
}

static int exec_simple(struct nbd_store *s, enum stmt which)
{
    sqlite3_stmt *st;
    int r = stmt_get(s, which, &st);
    if (r < 0)
        return r;
    int rc = sqlite3_step(st);
    r = rc == SQLITE_DONE ? 0 : fault(s);
    sqlite3_reset(st);
    return r;
}

static int exec_sql(struct nbd_store *s, const char *sql)
{
    return sqlite3_exec(s->db, sql, NULL, NULL, NULL) == SQLITE_OK ? 0 : fault(s);
}

static void say(char *err, size_t err_size, const char *path, const char *what, sqlite3 *db)
{
    snprintf(err, err_size,
             "%s: %s: %s (if the file is corrupted or is not a Noaber store, move it aside and "
             "restore a backup)",
             path, what, db != NULL ? sqlite3_errmsg(db) : "cannot allocate");
}

static int pragma_int(sqlite3 *db, const char *sql, int *ret)
{
    sqlite3_stmt *st = NULL;
    int r = NB_EIO;
    if (sqlite3_prepare_v2(db, sql, -1, &st, NULL) != SQLITE_OK)
        goto out;
    if (sqlite3_step(st) != SQLITE_ROW)
        goto out;
    *ret = sqlite3_column_int(st, 0);
    r = 0;
out:
    sqlite3_finalize(st);
    return r;
}

/* SQLite's WAL hook, after every commit: the mark, and the checkpoint
 * SQLite's own hook would have run (a passive one, as it does). */
static int on_wal(void *ctx, sqlite3 *db, const char *name, int frames)
{
    struct nbd_store *s = ctx;
    nbd_wal_mark_commit(&s->mark, frames > 0 ? (uint64_t)frames : 0);
    if (s->autocheckpoint > 0 && frames >= s->autocheckpoint)
        sqlite3_wal_checkpoint_v2(db, name, SQLITE_CHECKPOINT_PASSIVE, NULL, NULL);
    return SQLITE_OK;
}

static int migrate(sqlite3 *db, int from, const char *path, char *err, size_t err_size)
{
    for (int v = from; v < N_MIGRATIONS; v++) {
        char bump[64];
        snprintf(bump, sizeof(bump), "PRAGMA user_version = %d", v + 1);
        if (sqlite3_exec(db, "BEGIN IMMEDIATE", NULL, NULL, NULL) != SQLITE_OK ||
            sqlite3_exec(db, migrations[v], NULL, NULL, NULL) != SQLITE_OK ||
            sqlite3_exec(db, bump, NULL, NULL, NULL) != SQLITE_OK) {
            char what[64];
            snprintf(what, sizeof(what), "cannot migrate the store to version %d", v + 1);
            say(err, err_size, path, what, db);
            sqlite3_exec(db, "ROLLBACK", NULL, NULL, NULL);
            return NB_EIO;
        }
        if (sqlite3_exec(db, "COMMIT", NULL, NULL, NULL) != SQLITE_OK) {
            say(err, err_size, path, "cannot commit a migration", db);
            sqlite3_exec(db, "ROLLBACK", NULL, NULL, NULL);
            return NB_EIO;
        }
    }
    return 0;
}

/*
 * quick_check reads every page and checks each b-tree's structure: a damaged
 * store is reported before it serves anything rather than as an error in the
 * middle of some later request.  It grows with the store (about 0.6 s at a
 * million records), so noaberd runs it beside its loop on a connection of its
 * own (NBD_STORE_CHECK_LATER, nbd_store_check) and starts in a time that does
 * not grow with the store.  The full integrity_check (indexes against tables,
 * several times slower) is `noaberd fsck`'s.
 */
static int quick_check(sqlite3 *db, const char *path, char *err, size_t err_size)
{
    sqlite3_stmt *st = NULL;
    int r = NB_EIO;
    if (sqlite3_prepare_v2(db, "PRAGMA quick_check", -1, &st, NULL) != SQLITE_OK ||
        sqlite3_step(st) != SQLITE_ROW) {
        say(err, err_size, path, "cannot check the store", db);
        goto out;
    }
    const char *verdict = (const char *)sqlite3_column_text(st, 0);
    if (verdict == NULL || strcmp(verdict, "ok") != 0) {
        snprintf(err, err_size,
                 "%s: the store is corrupted (%.200s); move it aside and restore a backup", path,
                 verdict != NULL ? verdict : "?");
        goto out;
    }
    r = 0;
out:
    sqlite3_finalize(st);
    return r;
}

int nbd_store_check(const char *path, char *err, size_t err_size)
{
    sqlite3 *db = NULL;
    int r = NB_EIO;
    if (sqlite3_open_v2(path, &db, SQLITE_OPEN_READONLY, NULL) != SQLITE_OK) {
        say(err, err_size, path, "cannot open the store to check it", db);
        goto out;
    }
    sqlite3_busy_timeout(db, 5000);
    r = quick_check(db, path, err, err_size) < 0 ? NB_EDAMAGED : 0;
out:
    sqlite3_close(db);
    return r;
}

int nbd_store_open(const char *path, struct nbd_store **ret, char *err, size_t err_size)
{
    return nbd_store_open_with(path, 0, ret, err, err_size);
}

int nbd_store_open_with(const char *path, unsigned flags, struct nbd_store **ret, char *err,
                        size_t err_size)
{
    struct nbd_store *s = calloc(1, sizeof(*s));
    sqlite3_stmt *st = NULL;
    int version = 0;
    int r = NB_EIO;

    if (s == NULL || (s->path = strdup(path)) == NULL) {
        free(s);
        snprintf(err, err_size, "%s: out of memory", path);
        return NB_ENOMEM;
    }
    /* Before SQLite replays the WAL and silently drops whatever follows a
     * damaged frame: see what it will drop, and keep a copy of it. */
    s->mark.fd = -1;
    if (strcmp(path, ":memory:") != 0) {
        r = nbd_wal_check(path, (uint64_t)time(NULL), true, &s->wal, err, err_size);
        if (r < 0)
            goto out;
        r = NB_EIO;
        nbd_wal_mark_open(&s->mark, path);
    }
    if (sqlite3_open_v2(path, &s->db, SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE, NULL) !=
        SQLITE_OK) {
        say(err, err_size, path, "cannot open the store", s->db);
        goto out;
    }
    sqlite3_extended_result_codes(s->db, 1);
    sqlite3_busy_timeout(s->db, 5000);

    /* The first read of the header is where a file that is not a database
     * (or is damaged at the start) shows itself. */
    if (pragma_int(s->db, "PRAGMA user_version", &version) < 0) {
        say(err, err_size, path, "cannot read the store", s->db);
        goto out;
    }
    if (version > N_MIGRATIONS) {
        snprintf(err, err_size,
                 "%s: the store has schema version %d, newer than this noaberd knows (%d); "
                 "run a newer noaberd",
                 path, version, N_MIGRATIONS);
        goto out;
    }

    /* WAL lets readers proceed during a commit; synchronous=FULL fsyncs the
     * WAL at every commit, so an acknowledged record survives power loss,
     * not only a killed process (NORMAL could lose the last commits). */
    bool in_memory = strcmp(path, ":memory:") == 0; /* tests and fuzzers only */
    const unsigned char *mode = NULL;
    if (sqlite3_prepare_v2(s->db, "PRAGMA journal_mode = WAL", -1, &st, NULL) != SQLITE_OK ||
        sqlite3_step(st) != SQLITE_ROW || (mode = sqlite3_column_text(st, 0)) == NULL ||
        strcmp((const char *)mode, in_memory ? "memory" : "wal") != 0) {
        say(err, err_size, path, "cannot switch the store to WAL mode", s->db);
        goto out;
    }
    sqlite3_finalize(st);
    st = NULL;
    if (sqlite3_exec(s->db, "PRAGMA synchronous = FULL", NULL, NULL, NULL) != SQLITE_OK) {
        say(err, err_size, path, "cannot configure the store", s->db);
        goto out;
    }

    /* A store that is about to be migrated is checked first, whatever the
     * caller asked: a migration is no place to meet damage. */
    if ((!(flags & NBD_STORE_CHECK_LATER) || version < N_MIGRATIONS) &&
        quick_check(s->db, path, err, err_size) < 0)
        goto out;

    if (migrate(s->db, version, path, err, err_size) < 0)
        goto out;
    if (sqlite3_exec(s->db, build_indexes_sql, NULL, NULL, NULL) != SQLITE_OK) {
        say(err, err_size, path, "cannot build the store's indexes", s->db);
        goto out;
    }

    /* Tuned for group commit (bench/README.md, "where the store's time
     * goes"); set after quick_check so its walk over every page does not
     * fill the cache.  Ids are hashes, so a record lands in a random leaf
     * of each id-keyed index: a 64 MiB cache (it grows only as pages are
     * used) keeps those leaves in memory instead of reading them back
     * through the kernel.  That is for the tools (bench-make-store,
     * admin); noaberd sets its own with `store_cache`, small by default
     * for small machines (nbd_store_set_cache).  A checkpoint copies each page once however many
     * commits changed it, so checkpointing every 16 384 WAL pages (64 MiB)
     * rather than every 1 000 writes a hot index leaf back once per burst
     * instead of once every few batches; journal_size_limit truncates the
     * WAL back to that size after a checkpoint so it stays bounded on
     * disk.  temp_store keeps the temporary b-trees of queries such as a
     * purge's tree walk in memory.  None of this touches durability: commits still fsync the WAL
     * (synchronous=FULL above). */
    if (sqlite3_exec(s->db,
                     "PRAGMA cache_size = -65536;"
                     "PRAGMA wal_autocheckpoint = 16384;"
                     "PRAGMA journal_size_limit = 67108864;"
                     "PRAGMA temp_store = MEMORY;"
                     /* A transaction's pages reach the WAL only when it
                      * commits: then frames of a transaction that did not
                      * commit can only be the torn end of the WAL, never
                      * lie between later frames, and store_wal.c can tell
                      * those from damage. */
                     "PRAGMA cache_spill = OFF;",
                     NULL, NULL, NULL) != SQLITE_OK) {
        say(err, err_size, path, "cannot configure the store", s->db);
        goto out;
    }
    /* The replay dropped frames: move what it kept into the store and
     * empty the WAL, so that the dropped frames (still in the file, with
     * this generation's salts) never lie after new ones. */
    if (s->wal.verdict != NBD_WAL_CLEAN) {
        if (sqlite3_exec(s->db, "PRAGMA wal_checkpoint(TRUNCATE)", NULL, NULL, NULL) != SQLITE_OK) {
            say(err, err_size, path, "cannot checkpoint the store's write-ahead log", s->db);
            goto out;
        }
        nbd_wal_mark_reset(&s->mark);
    }
    /* The mark of how many frames each commit left in the WAL
     * (store_wal.h) comes from SQLite's WAL hook, which takes the place of
     * its automatic checkpoint: the hook checkpoints at the same size. */
    if (!in_memory) {
        if (pragma_int(s->db, "PRAGMA wal_autocheckpoint", &s->autocheckpoint) < 0)
            s->autocheckpoint = 1000;
        sqlite3_wal_hook(s->db, on_wal, s);
    }
    r = 0;
out:
    sqlite3_finalize(st);
    if (r < 0) {
        nbd_store_close(s);
        return r;
    }
    *ret = s;
    return 0;
}

int nbd_store_set_cache(struct nbd_store *s, unsigned mib)
{
    char sql[64];
    snprintf(sql, sizeof(sql), "PRAGMA cache_size = -%llu", (unsigned long long)mib * 1024);
    return sqlite3_exec(s->db, sql, NULL, NULL, NULL) == SQLITE_OK ? 0 : NB_EIO;
}

uint64_t nbd_store_changes(const struct nbd_store *s)
{
    return (uint64_t)sqlite3_total_changes64(s->db);
}

static size_t cache_used(sqlite3 *db)
{
    int used = 0, high = 0;
    if (sqlite3_db_status(db, SQLITE_DBSTATUS_CACHE_USED, &used, &high, 0) != SQLITE_OK)
        return 0;
    return used > 0 ? (size_t)used : 0;
}

size_t nbd_store_release_memory(struct nbd_store *s)
{
    /* Only pages no statement holds are freed, so this is safe between
     * any two calls on the loop. */
    size_t before = cache_used(s->db);
    sqlite3_db_release_memory(s->db);
    size_t after = cache_used(s->db);
    return before > after ? before - after : 0;
}

int nbd_store_defer_indexes(struct nbd_store *s)
{
    return exec_sql(s, defer_indexes_sql);
}

int nbd_store_build_indexes(struct nbd_store *s)
{
    return exec_sql(s, build_indexes_sql);
}

void nbd_store_close(struct nbd_store *s)
{
    if (s == NULL)
        return;
    for (int i = 0; i < ST_COUNT_; i++)
        sqlite3_finalize(s->stmts[i]);
    /* The last connection checkpoints and removes the WAL as it closes;
     * the mark then has no frames to stand for. */
    if (sqlite3_close(s->db) == SQLITE_OK && s->mark.fd >= 0 &&
        access(s->mark.wal_path, F_OK) < 0 && errno == ENOENT)
        nbd_wal_mark_reset(&s->mark);
    nbd_wal_mark_close(&s->mark);
    free(s->path);
    free(s);
}

int nbd_store_repair(struct nbd_store *s, nbd_store_damaged_cb cb, void *ctx)
{
    int removed = 0;
    while (s->n_damaged > 0) {
        const uint8_t *id = s->damaged[s->n_damaged - 1];
        sqlite3_stmt *st;
        int r = nbd_store_begin(s);
        if (r == 0)
            r = stmt_get(s, ST_DELETE, &st);
        if (r == 0) {
            sqlite3_bind_blob(st, 1, id, NB_ID_SIZE, SQLITE_STATIC);
            r = sqlite3_step(st) == SQLITE_DONE ? 0 : fault(s);
            sqlite3_reset(st);
        }
        if (r == 0)
            r = nbd_store_commit(s);
        else
            nbd_store_rollback(s);
        /* A failed delete (a full disk) leaves the row for the next read to
         * find again; it is still never served. */
        if (r < 0)
            return r;
        if (cb != NULL)
            cb(ctx, id);
        s->n_damaged--;
        removed++;
    }
    return removed;
}

const char *nbd_store_explain(const struct nbd_store *s, int code, char *buf, size_t size)
{
    /* The directory, not the file: it is where space is freed or a mount
     * fixed, and where the WAL lives beside the store. */
    const char *slash = strrchr(s->path, '/');
    int dir_len = slash != NULL ? (int)(slash - s->path) : 1;
    const char *dir = slash != NULL ? s->path : ".";
    if (code == NB_ENOSPC && s->fault_errno == EROFS)
        snprintf(buf, size,
                 "the file system holding %.*s is read-only (EROFS): remount it read-write; the "
                 "node keeps serving what it holds and stores again by itself",
                 dir_len, dir);
    else if (code == NB_ENOSPC && s->fault_errno == EDQUOT)
        snprintf(buf, size,
                 "the disk quota for %.*s is used up (EDQUOT): raise the quota or free space "
                 "there; the node keeps serving what it holds and stores again by itself",
                 dir_len, dir);
    else if (code == NB_ENOSPC)
        snprintf(buf, size,
                 "the disk holding %.*s is full (ENOSPC): free space there; the node keeps "
                 "serving what it holds and stores again by itself",
                 dir_len, dir);
    else if (code == NB_EDAMAGED)
        snprintf(buf, size,
                 "the store %s is damaged: stop noaberd and run `noaberd fsck` (docs/operating.md, "
                 "\"A damaged store\")",
                 s->path);
    else
        snprintf(buf, size, "the store %s failed: %s", s->path, nb_strerror(code));
    return buf;
}

const struct nbd_wal_report *nbd_store_wal(const struct nbd_store *s)
{
    return &s->wal;
}

sqlite3 *nbd_store_db(struct nbd_store *s)
{
    return s->db;
}

int nbd_store_schema_version(struct nbd_store *s)
{
    int v = -1;
    if (pragma_int(s->db, "PRAGMA user_version", &v) < 0)
        return NB_EIO;
    return v;
}

/*
 * Transactions nest: the node keeps one transaction open for a batch of
 * records (group commit, daemon/node.h) and each record's writes, or any
 * other operation run meanwhile, become a savepoint inside it.  An inner
 * commit only releases its savepoint; it is durable when the outermost
 * commit returns.  An inner rollback undoes only its own writes.
 */

int nbd_store_begin(struct nbd_store *s)
{
    int r = s->depth == 0 ? exec_simple(s, ST_BEGIN) : exec_sql(s, "SAVEPOINT nbd");
    if (r == 0)
        s->depth++;
    return r;
}

int nbd_store_commit(struct nbd_store *s)
{
    if (s->depth == 0)
        return NB_EIO;
    int r = s->depth == 1 ? exec_simple(s, ST_COMMIT) : exec_sql(s, "RELEASE nbd");
    if (r < 0) {
        nbd_store_rollback(s);
        return r;
    }
    s->depth--;
    return 0;
}

void nbd_store_rollback(struct nbd_store *s)
{
    if (s->depth == 0)
        return;
    s->depth--;
    if (sqlite3_get_autocommit(s->db)) {
        /* SQLite already rolled the whole transaction back (an I/O error,
         * a full disk): the outer commit must fail, not start afresh. */
        return;
    }
    if (s->depth == 0) {
        exec_simple(s, ST_ROLLBACK);
    } else {
        exec_sql(s, "ROLLBACK TO nbd");
        exec_sql(s, "RELEASE nbd");
    }
}

int nbd_store_meta_get(struct nbd_store *s, const char *key, uint8_t *buf, size_t cap,
                       size_t *ret_len)
{
    sqlite3_stmt *st;
    int r = stmt_get(s, ST_META_GET, &st);
    if (r < 0)
        return r;
    sqlite3_bind_text(st, 1, key, -1, SQLITE_STATIC);
    int rc = sqlite3_step(st);
    if (rc == SQLITE_DONE) {
        r = NB_ENOENT;
        goto out;
    }
    if (rc != SQLITE_ROW) {
        r = fault(s);
        goto out;
    }
    size_t n = (size_t)sqlite3_column_bytes(st, 0);
    if (n > cap) {
        r = NB_ETOOBIG;
        goto out;
    }
    if (n > 0)
        memcpy(buf, sqlite3_column_blob(st, 0), n);
    *ret_len = n;
out:
    sqlite3_reset(st);
    return r;
}

int nbd_store_meta_set(struct nbd_store *s, const char *key, const uint8_t *val, size_t len)
{
    sqlite3_stmt *st;
    int r = stmt_get(s, ST_META_SET, &st);
    if (r < 0)
        return r;
    sqlite3_bind_text(st, 1, key, -1, SQLITE_STATIC);
    sqlite3_bind_blob(st, 2, len > 0 ? (const void *)val : "", (int)len, SQLITE_STATIC);
    r = sqlite3_step(st) == SQLITE_DONE ? 0 : fault(s);
    sqlite3_reset(st);
    return r;
}

int nbd_store_insert(struct nbd_store *s, const struct nbd_store_record *rec)
{
    sqlite3_stmt *st;
    int r = stmt_get(s, ST_INSERT, &st);
    if (r < 0)
        return r;
    if (rec->len == 0 || rec->len > NB_RECORD_MAX || rec->created_at > INT64_MAX ||
        (rec->has_expiry && rec->expires_at > INT64_MAX))
        return NB_EINVAL;
    sqlite3_bind_blob(st, 1, rec->id, NB_ID_SIZE, SQLITE_STATIC);
    sqlite3_bind_int(st, 2, rec->kind);
    sqlite3_bind_blob(st, 3, rec->author, NB_KEY_SIZE, SQLITE_STATIC);
    sqlite3_bind_int64(st, 4, (sqlite3_int64)rec->created_at);
    if (rec->has_expiry)
        sqlite3_bind_int64(st, 5, (sqlite3_int64)rec->expires_at);
    if (rec->has_target)
        sqlite3_bind_blob(st, 6, rec->target, NB_ID_SIZE, SQLITE_STATIC);
    if (rec->has_root)
        sqlite3_bind_blob(st, 7, rec->root, NB_ID_SIZE, SQLITE_STATIC);
    sqlite3_bind_blob(st, 8, rec->bytes, (int)rec->len, SQLITE_STATIC);
    int rc = sqlite3_step(st);
    if (rc == SQLITE_DONE)
        r = 0;
    else if (rc == SQLITE_CONSTRAINT_UNIQUE)
        r = NB_EEXIST;
    else
        r = fault(s);
    sqlite3_reset(st);
    return r;
}

static bool blob32(sqlite3_stmt *st, int col, uint8_t *out)
{
    if (sqlite3_column_type(st, col) != SQLITE_BLOB || sqlite3_column_bytes(st, col) != 32)
        return false;
    memcpy(out, sqlite3_column_blob(st, col), 32);
    return true;
}

/* Remembers a row whose bytes do not match its id for nbd_store_repair,
 * once however often it is read. */
static void note_damaged(struct nbd_store *s, const uint8_t id[NB_ID_SIZE])
{
    for (size_t i = 0; i < s->n_damaged; i++)
        if (memcmp(s->damaged[i], id, NB_ID_SIZE) == 0)
            return;
    if (s->n_damaged < DAMAGED_MAX)
        memcpy(s->damaged[s->n_damaged++], id, NB_ID_SIZE);
}

/*
 * Reads one row of COLUMNS; `bytes` points into the statement's row.  With
 * `check`, the bytes are hashed and compared with the row's id, so a record
 * changed on disk is never handed to a client or a peer: NB_EDAMAGED, and
 * the row waits for nbd_store_repair.  (About a microsecond per record:
 * bench/read_check.c.)
 */
static int read_row(struct nbd_store *s, sqlite3_stmt *st, bool check, struct nbd_store_record *rec)
{
    memset(rec, 0, sizeof(*rec));
    if (!blob32(st, 0, rec->id) || !blob32(st, 2, rec->author))
        return NB_EDAMAGED;
    rec->kind = (uint8_t)sqlite3_column_int(st, 1);
    rec->created_at = (uint64_t)sqlite3_column_int64(st, 3);
    if (sqlite3_column_type(st, 4) != SQLITE_NULL) {
        rec->has_expiry = true;
        rec->expires_at = (uint64_t)sqlite3_column_int64(st, 4);
    }
    rec->has_target = blob32(st, 5, rec->target);
    rec->has_root = blob32(st, 6, rec->root);
    rec->bytes = sqlite3_column_blob(st, 7);
    rec->len = (size_t)sqlite3_column_bytes(st, 7);
    if (rec->bytes == NULL || rec->len == 0 || rec->len > NB_RECORD_MAX) {
        note_damaged(s, rec->id);
        return NB_EDAMAGED;
    }
    if (check) {
        uint8_t id[NB_ID_SIZE];
        nb_record_id(rec->bytes, rec->len, id);
        if (memcmp(id, rec->id, NB_ID_SIZE) != 0) {
            note_damaged(s, rec->id);
            return NB_EDAMAGED;
        }
    }
    return 0;
}

int nbd_store_get(struct nbd_store *s, const uint8_t id[NB_ID_SIZE], struct nbd_store_record *ret,
                  uint8_t *buf)
{
    sqlite3_stmt *st;
    struct nbd_store_record rec;
    int r = stmt_get(s, ST_GET, &st);
    if (r < 0)
        return r;
    sqlite3_bind_blob(st, 1, id, NB_ID_SIZE, SQLITE_STATIC);
    int rc = sqlite3_step(st);
    if (rc != SQLITE_ROW) {
        r = rc == SQLITE_DONE ? NB_ENOENT : fault(s);
        goto out;
    }
    r = read_row(s, st, true, &rec);
    if (r < 0)
        goto out;
    /* A damaged index can lead the lookup to another row. */
    if (memcmp(rec.id, id, NB_ID_SIZE) != 0) {
        r = NB_EDAMAGED;
        goto out;
    }
    memcpy(buf, rec.bytes, rec.len);
    rec.bytes = buf;
    *ret = rec;
out:
    sqlite3_reset(st);
    return r;
}

static int exists(struct nbd_store *s, enum stmt which, const uint8_t id[NB_ID_SIZE])
{
    sqlite3_stmt *st;
    int r = stmt_get(s, which, &st);
    if (r < 0)
        return r;
    sqlite3_bind_blob(st, 1, id, NB_ID_SIZE, SQLITE_STATIC);
    int rc = sqlite3_step(st);
    r = rc == SQLITE_ROW ? 1 : rc == SQLITE_DONE ? 0 : fault(s);
    sqlite3_reset(st);
    return r;
}

int nbd_store_has(struct nbd_store *s, const uint8_t id[NB_ID_SIZE])
{
    return exists(s, ST_HAS, id);
}

int nbd_store_is_tombstoned(struct nbd_store *s, const uint8_t id[NB_ID_SIZE])
{
    return exists(s, ST_TOMBSTONED, id);
}

static int hexval(char c)
{
    if (c >= '0' && c <= '9')
        return c - '0';
    if (c >= 'a' && c <= 'f')
        return c - 'a' + 10;
    if (c >= 'A' && c <= 'F')
        return c - 'A' + 10;
    return -1;
}

int nbd_store_prefix_matches(struct nbd_store *s, const char *hex, uint8_t (*ret_ids)[NB_ID_SIZE],
                             size_t max, size_t *ret_n)
{
    size_t n = strlen(hex);
    if (n < 4 || n > 2 * NB_ID_SIZE)
        return NB_EINVAL;
    /* lo = the prefix padded with zero nibbles; hi = lo + one unit in the
     * prefix's last nibble (NULL when that overflows: no upper bound). */
    uint8_t lo[NB_ID_SIZE] = { 0 };
    for (size_t i = 0; i < n; i++) {
        int v = hexval(hex[i]);
        if (v < 0)
            return NB_EINVAL;
        lo[i / 2] |= (uint8_t)(i % 2 == 0 ? v << 4 : v);
    }
    uint8_t hi[NB_ID_SIZE];
    memcpy(hi, lo, sizeof(hi));
    bool has_hi = false;
    size_t byte = (n - 1) / 2;
    unsigned add = n % 2 == 1 ? 0x10 : 0x01;
    for (size_t i = byte + 1; i-- > 0;) {
        unsigned sum = hi[i] + add;
        hi[i] = (uint8_t)sum;
        if (sum < 0x100) {
            has_hi = true;
            break;
        }
        add = 1;
    }

    sqlite3_stmt *st;
    int r = stmt_get(s, ST_PREFIX, &st);
    if (r < 0)
        return r;
    sqlite3_bind_blob(st, 1, lo, NB_ID_SIZE, SQLITE_STATIC);
    if (has_hi)
        sqlite3_bind_blob(st, 2, hi, NB_ID_SIZE, SQLITE_STATIC);
    sqlite3_bind_int64(st, 3, (sqlite3_int64)max);
    size_t count = 0;
    for (;;) {
        int rc = sqlite3_step(st);
        if (rc == SQLITE_DONE)
            break;
        if (rc != SQLITE_ROW) {
            r = fault(s);
            break;
        }
        /* The index hands out ids in order and at most `max` of them: anything
         * else is a damaged index. */
        if (count == max || !blob32(st, 0, ret_ids[count]) ||
            (count > 0 && memcmp(ret_ids[count - 1], ret_ids[count], NB_ID_SIZE) >= 0)) {
            r = NB_EDAMAGED;
            break;
        }
        count++;
    }
    sqlite3_reset(st);
    *ret_n = count;
    return r;
}

int nbd_store_find_prefix(struct nbd_store *s, const char *hex, uint8_t ret_id[NB_ID_SIZE])
{
    uint8_t found[2][NB_ID_SIZE];
    size_t n = 0;
    int r = nbd_store_prefix_matches(s, hex, found, 2, &n);
    if (r < 0)
        return r;
    if (n == 0)
        return NB_ENOENT;
    if (n > 1)
        return NB_EAMBIGUOUS;
    memcpy(ret_id, found[0], NB_ID_SIZE);
    return 0;
}

int nbd_store_check_absent(struct nbd_store *s, const uint8_t id[NB_ID_SIZE])
{
    sqlite3_stmt *st;
    int r = stmt_get(s, ST_INDEX_NEAR, &st);
    if (r < 0)
        return r;
    sqlite3_bind_blob(st, 1, id, NB_ID_SIZE, SQLITE_STATIC);
    if (sqlite3_step(st) == SQLITE_ROW)
        r = sqlite3_column_int64(st, 0) == 0 ? 0 : NB_EDAMAGED;
    else
        r = fault(s);
    sqlite3_reset(st);
    return r;
}

/*
 * Steps a bound statement of COLUMNS rows through cb.  With `check` (rows
 * that go to a client or a peer), a damaged record is left out rather than
 * failing the whole listing; it waits for nbd_store_repair.
 */
static int run_rows(struct nbd_store *s, sqlite3_stmt *st, bool check, nbd_store_cb cb, void *ctx)
{
    int r = 0;
    for (;;) {
        int rc = sqlite3_step(st);
        if (rc == SQLITE_DONE)
            break;
        if (rc != SQLITE_ROW) {
            r = fault(s);
            break;
        }
        struct nbd_store_record rec;
        r = read_row(s, st, check, &rec);
        if (r == NB_EDAMAGED && check) {
            r = 0;
            continue;
        }
        if (r < 0)
            break;
        r = cb(ctx, &rec);
        if (r != 0)
            break;
    }
    sqlite3_reset(st);
    return r < 0 ? r : 0;
}

int nbd_store_foreach_in_root(struct nbd_store *s, const uint8_t root[NB_ID_SIZE], nbd_store_cb cb,
                              void *ctx)
{
    sqlite3_stmt *st;
    int r = stmt_get(s, ST_IN_ROOT, &st);
    if (r < 0)
        return r;
    sqlite3_bind_blob(st, 1, root, NB_ID_SIZE, SQLITE_STATIC);
    return run_rows(s, st, true, cb, ctx);
}

/*
 * The listing statements are not cached: a callback may run other cached
 * statements (a request's timeline for its status) while this one is
 * stepping, and a listing must not be reset underneath itself by a nested
 * listing either.
 */
int nbd_store_foreach_newest(struct nbd_store *s, unsigned kind, const uint8_t *author,
                             nbd_store_cb cb, void *ctx)
{
    enum stmt which = kind == 0 ? (author ? ST_NEWEST_ROOTS_AUTHOR : ST_NEWEST_ROOTS)
                                : (author ? ST_NEWEST_KIND_AUTHOR : ST_NEWEST_KIND);
    sqlite3_stmt *st = NULL;
    if (sqlite3_prepare_v2(s->db, stmt_sql[which], -1, &st, NULL) != SQLITE_OK)
        return fault(s);
    if (kind != 0)
        sqlite3_bind_int(st, 1, (int)kind);
    if (author != NULL)
        sqlite3_bind_blob(st, 2, author, NB_KEY_SIZE, SQLITE_STATIC);
    int r = run_rows(s, st, true, cb, ctx);
    sqlite3_finalize(st);
    return r;
}

int nbd_store_foreach_ordered(struct nbd_store *s, uint64_t after_created_at,
                              const uint8_t *after_id, nbd_store_cb cb, void *ctx)
{
    enum stmt which = after_id != NULL ? ST_ORDERED_AFTER : ST_ORDERED_FIRST;
    sqlite3_stmt *st = NULL;
    if (sqlite3_prepare_v2(s->db, stmt_sql[which], -1, &st, NULL) != SQLITE_OK)
        return fault(s);
    if (after_id != NULL) {
        sqlite3_bind_int64(st, 1, (sqlite3_int64)after_created_at);
        sqlite3_bind_blob(st, 2, after_id, NB_ID_SIZE, SQLITE_STATIC);
    }
    int r = run_rows(s, st, false, cb, ctx);
    sqlite3_finalize(st);
    return r;
}

int nbd_store_count(struct nbd_store *s, uint64_t *ret_records, uint64_t *ret_tombstones)
{
    sqlite3_stmt *st;
    int r = stmt_get(s, ST_COUNT, &st);
    if (r < 0)
        return r;
    if (sqlite3_step(st) != SQLITE_ROW) {
        r = fault(s);
        goto out;
    }
    if (ret_records != NULL)
        *ret_records = (uint64_t)sqlite3_column_int64(st, 0);
    if (ret_tombstones != NULL)
        *ret_tombstones = (uint64_t)sqlite3_column_int64(st, 1);
out:
    sqlite3_reset(st);
    return r;
}

/*
 * Ids to purge, each with the second column of the query: an integer (a
 * created_at or an until) or an author key.  They are collected before
 * anything is deleted: deleting while a statement steps through the same
 * table would change it under the statement.
 */
struct idlist {
    uint8_t (*ids)[NB_ID_SIZE];
    uint64_t *values;
    uint8_t (*authors)[NB_KEY_SIZE];
    size_t n, cap;
};

static int idlist_add(struct idlist *l, const uint8_t id[NB_ID_SIZE], uint64_t value,
                      const uint8_t *author)
{
    if (l->n == l->cap) {
        size_t cap = l->cap ? l->cap * 2 : 16;
        void *ids = realloc(l->ids, cap * NB_ID_SIZE);
        if (ids == NULL)
            return NB_ENOMEM;
        l->ids = ids;
        void *values = realloc(l->values, cap * sizeof(*l->values));
        if (values == NULL)
            return NB_ENOMEM;
        l->values = values;
        void *authors = realloc(l->authors, cap * NB_KEY_SIZE);
        if (authors == NULL)
            return NB_ENOMEM;
        l->authors = authors;
        l->cap = cap;
    }
    memcpy(l->ids[l->n], id, NB_ID_SIZE);
    l->values[l->n] = value;
    if (author != NULL)
        memcpy(l->authors[l->n], author, NB_KEY_SIZE);
    else
        memset(l->authors[l->n], 0, NB_KEY_SIZE);
    l->n++;
    return 0;
}

/* Steps `st` to its end, adding column 0 (an id) and column 1 if present. */
static int idlist_collect(sqlite3_stmt *st, struct idlist *l)
{
    bool has_value = sqlite3_column_count(st) > 1;
    int r = 0;
    for (;;) {
        int rc = sqlite3_step(st);
        if (rc == SQLITE_DONE)
            break;
        uint8_t one[NB_ID_SIZE], author[NB_KEY_SIZE];
        if (rc != SQLITE_ROW || !blob32(st, 0, one)) {
            r = NB_EIO;
            break;
        }
        bool has_author = has_value && blob32(st, 1, author);
        uint64_t value = has_value && !has_author ? (uint64_t)sqlite3_column_int64(st, 1) : 0;
        r = idlist_add(l, one, value, has_author ? author : NULL);
        if (r < 0)
            break;
    }
    sqlite3_reset(st);
    return r;
}

static void idlist_free(struct idlist *l)
{
    free(l->ids);
    free(l->values);
    free(l->authors);
}

/* Writes one tombstone; author NULL when it is not known. */
static int tombstone(struct nbd_store *s, const uint8_t id[NB_ID_SIZE], const uint8_t *author,
                     bool has_until, uint64_t until)
{
    sqlite3_stmt *st;
    int r = stmt_get(s, ST_TOMBSTONE, &st);
    if (r < 0)
        return r;
    sqlite3_bind_blob(st, 1, id, NB_ID_SIZE, SQLITE_STATIC);
    if (has_until)
        sqlite3_bind_int64(st, 2, (sqlite3_int64)(until > INT64_MAX ? INT64_MAX : until));
    if (author != NULL)
        sqlite3_bind_blob(st, 3, author, NB_KEY_SIZE, SQLITE_STATIC);
    int rc = sqlite3_step(st);
    r = rc == SQLITE_DONE ? 0 : fault(s);
    sqlite3_reset(st);
    return r;
}

int nbd_store_tombstone(struct nbd_store *s, const uint8_t id[NB_ID_SIZE],
                        const uint8_t author[NB_KEY_SIZE], bool has_until, uint64_t until)
{
    return tombstone(s, id, author, has_until, until);
}

int nbd_store_tombstone_get(struct nbd_store *s, const uint8_t id[NB_ID_SIZE],
                            struct nbd_tombstone *ret)
{
    sqlite3_stmt *st;
    int r = stmt_get(s, ST_TOMBSTONE_GET, &st);
    if (r < 0)
        return r;
    sqlite3_bind_blob(st, 1, id, NB_ID_SIZE, SQLITE_STATIC);
    int rc = sqlite3_step(st);
    if (rc == SQLITE_ROW) {
        memset(ret, 0, sizeof(*ret));
        ret->has_until = sqlite3_column_type(st, 0) != SQLITE_NULL;
        ret->until = ret->has_until ? (uint64_t)sqlite3_column_int64(st, 0) : 0;
        ret->has_author = blob32(st, 1, ret->author);
        r = 0;
    } else {
        r = rc == SQLITE_DONE ? NB_ENOENT : NB_EIO;
    }
    sqlite3_reset(st);
    return r;
}

int nbd_store_purge_tree(struct nbd_store *s, const uint8_t id[NB_ID_SIZE], bool has_until,
                         uint64_t until, uint64_t *ret_n)
{
    struct idlist l = { 0 };
    sqlite3_stmt *st;
    int r = stmt_get(s, ST_TREE, &st);
    if (r < 0)
        return r;
    sqlite3_bind_blob(st, 1, id, NB_ID_SIZE, SQLITE_STATIC);
    r = idlist_collect(st, &l);
    if (r < 0)
        goto out;
    /* The tombstone goes in even when the record itself is not stored (its
     * author unknown): a blocked author's record from a peer. */
    if (l.n == 0) {
        r = tombstone(s, id, NULL, has_until, until);
        goto out;
    }
    uint64_t deleted = 0;
    for (size_t i = 0; i < l.n; i++) {
        r = tombstone(s, l.ids[i], l.authors[i], has_until, until);
        if (r < 0)
            goto out;
        r = stmt_get(s, ST_DELETE, &st);
        if (r < 0)
            goto out;
        sqlite3_bind_blob(st, 1, l.ids[i], NB_ID_SIZE, SQLITE_STATIC);
        int rc = sqlite3_step(st);
        sqlite3_reset(st);
        if (rc != SQLITE_DONE) {
            r = NB_EIO;
            goto out;
        }
        deleted += (uint64_t)sqlite3_changes(s->db);
    }
    if (ret_n != NULL)
        *ret_n = deleted;
out:
    if (r == 0 && l.n == 0 && ret_n != NULL)
        *ret_n = 0;
    idlist_free(&l);
    return r;
}

int nbd_store_foreach_retraction_of(struct nbd_store *s, const uint8_t target[NB_ID_SIZE],
                                    nbd_store_cb cb, void *ctx)
{
    /* The node asks this of every record it accepts, and almost always
     * there is none: a cached statement answers that without preparing the
     * listing anew each time (SQLite's parser alone took 1.4% of an initial
     * sync's time on the loop, bench/README.md). */
    int r = exists(s, ST_HAS_RETRACTION, target);
    if (r <= 0)
        return r;
    /* Not cached: the callback may purge, which runs cached statements. */
    sqlite3_stmt *st = NULL;
    if (sqlite3_prepare_v2(s->db, stmt_sql[ST_RETRACTIONS_OF], -1, &st, NULL) != SQLITE_OK)
        return NB_EIO;
    sqlite3_bind_blob(st, 1, target, NB_ID_SIZE, SQLITE_STATIC);
    r = run_rows(s, st, true, cb, ctx);
    sqlite3_finalize(st);
    return r;
}

int nbd_store_set_place(struct nbd_store *s, const uint8_t id[NB_ID_SIZE], const uint8_t *root,
                        bool has_expiry, uint64_t expires_at)
{
    sqlite3_stmt *st;
    int r = stmt_get(s, ST_SET_PLACE, &st);
    if (r < 0)
        return r;
    if (has_expiry && expires_at > INT64_MAX)
        return NB_EINVAL;
    sqlite3_bind_blob(st, 1, id, NB_ID_SIZE, SQLITE_STATIC);
    if (root != NULL)
        sqlite3_bind_blob(st, 2, root, NB_ID_SIZE, SQLITE_STATIC);
    if (has_expiry)
        sqlite3_bind_int64(st, 3, (sqlite3_int64)expires_at);
    int rc = sqlite3_step(st);
    sqlite3_reset(st);
    if (rc != SQLITE_DONE)
        return NB_EIO;
    return sqlite3_changes(s->db) == 1 ? 0 : NB_ENOENT;
}

int nbd_store_count_author(struct nbd_store *s, const uint8_t author[NB_KEY_SIZE], uint64_t from,
                           uint64_t until, uint64_t *ret_n)
{
    sqlite3_stmt *st;
    int r = stmt_get(s, ST_COUNT_AUTHOR, &st);
    if (r < 0)
        return r;
    if (until > INT64_MAX)
        until = INT64_MAX;
    if (from > until)
        from = until;
    sqlite3_bind_blob(st, 1, author, NB_KEY_SIZE, SQLITE_STATIC);
    sqlite3_bind_int64(st, 2, (sqlite3_int64)from);
    sqlite3_bind_int64(st, 3, (sqlite3_int64)until);
    if (sqlite3_step(st) == SQLITE_ROW)
        *ret_n = (uint64_t)sqlite3_column_int64(st, 0);
    else
        r = NB_EIO;
    sqlite3_reset(st);
    return r;
}

int nbd_store_purge_expired(struct nbd_store *s, uint64_t now, uint64_t grace,
                            nbd_store_purging_cb purging, void *ctx, uint64_t *ret_records,
                            uint64_t *ret_tombstones)
{
    uint64_t purged = 0, dropped = 0;
    uint64_t horizon = now > grace ? now - grace : 0;
    int r = nbd_store_begin(s);
    if (r < 0)
        return r;

    /* Tombstones first, so the ones written below survive until the next
     * pass; they only matter while their record could still be accepted. */
    sqlite3_stmt *st;
    r = stmt_get(s, ST_DROP_TOMBSTONES, &st);
    if (r < 0)
        goto out;
    sqlite3_bind_int64(st, 1, (sqlite3_int64)(horizon > INT64_MAX ? INT64_MAX : horizon));
    int rc = sqlite3_step(st);
    sqlite3_reset(st);
    if (rc != SQLITE_DONE) {
        r = NB_EIO;
        goto out;
    }
    dropped = (uint64_t)sqlite3_changes(s->db);

    /* Expired records in batches: collect ids, then purge each tree. */
    for (;;) {
        struct idlist l = { 0 };
        r = stmt_get(s, ST_EXPIRED, &st);
        if (r < 0)
            goto out;
        sqlite3_bind_int64(st, 1, (sqlite3_int64)(horizon > INT64_MAX ? INT64_MAX : horizon));
        r = idlist_collect(st, &l);
        for (size_t i = 0; i < l.n && r == 0; i++) {
            uint64_t n = 0;
            if (purging != NULL)
                r = purging(ctx, l.ids[i]);
            if (r < 0)
                break;
            r = nbd_store_purge_tree(s, l.ids[i], true, l.values[i], &n);
            purged += n;
        }
        size_t batch = l.n;
        idlist_free(&l);
        if (r < 0)
            goto out;
        if (batch == 0)
            break;
    }
    r = nbd_store_commit(s);
out:
    if (r < 0) {
        nbd_store_rollback(s);
        return r;
    }
    if (ret_records != NULL)
        *ret_records = purged;
    if (ret_tombstones != NULL)
        *ret_tombstones = dropped;
    return 0;
}

int nbd_store_purge_author(struct nbd_store *s, const uint8_t author[NB_KEY_SIZE], bool has_until,
                           uint64_t keep_for, uint64_t *ret_authored, uint64_t *ret_n)
{
    struct idlist l = { 0 };
    uint64_t deleted = 0;
    sqlite3_stmt *st;

    /* The ids are collected first: purging while the author's rows are
     * being stepped through would change the table under the statement. */
    int r = stmt_get(s, ST_BY_AUTHOR, &st);
    if (r < 0)
        return r;
    sqlite3_bind_blob(st, 1, author, NB_KEY_SIZE, SQLITE_STATIC);
    r = idlist_collect(st, &l);
    if (r < 0)
        goto out;
    for (size_t i = 0; i < l.n; i++) {
        uint64_t n = 0;
        /* A record already deleted with an earlier one of the author's
         * (a withdrawal of their own response) gets its own tombstone
         * again, which is harmless. */
        r = nbd_store_purge_tree(s, l.ids[i], has_until, l.values[i] + keep_for, &n);
        if (r < 0)
            goto out;
        deleted += n;
    }
    if (ret_authored != NULL)
        *ret_authored = l.n;
    if (ret_n != NULL)
        *ret_n = deleted;
out:
    idlist_free(&l);
    return r;
}

int nbd_store_block_add(struct nbd_store *s, const uint8_t author[NB_KEY_SIZE], uint64_t since)
{
    sqlite3_stmt *st;
    int r = stmt_get(s, ST_BLOCK_ADD, &st);
    if (r < 0)
        return r;
    if (since > INT64_MAX)
        return NB_EINVAL;
    sqlite3_bind_blob(st, 1, author, NB_KEY_SIZE, SQLITE_STATIC);
    sqlite3_bind_int64(st, 2, (sqlite3_int64)since);
    int rc = sqlite3_step(st);
    r = rc != SQLITE_DONE ? NB_EIO : sqlite3_changes(s->db) == 0 ? NB_EEXIST : 0;
    sqlite3_reset(st);
    return r;
}

int nbd_store_block_remove(struct nbd_store *s, const uint8_t author[NB_KEY_SIZE])
{
    sqlite3_stmt *st;
    int r = stmt_get(s, ST_BLOCK_REMOVE, &st);
    if (r < 0)
        return r;
    sqlite3_bind_blob(st, 1, author, NB_KEY_SIZE, SQLITE_STATIC);
    int rc = sqlite3_step(st);
    r = rc != SQLITE_DONE ? NB_EIO : sqlite3_changes(s->db) == 0 ? NB_ENOENT : 0;
    sqlite3_reset(st);
    return r;
}

int nbd_store_is_blocked(struct nbd_store *s, const uint8_t author[NB_KEY_SIZE])
{
    sqlite3_stmt *st;
    int r = stmt_get(s, ST_BLOCKED, &st);
    if (r < 0)
        return r;
    sqlite3_bind_blob(st, 1, author, NB_KEY_SIZE, SQLITE_STATIC);
    int rc = sqlite3_step(st);
    r = rc == SQLITE_ROW ? 1 : rc == SQLITE_DONE ? 0 : fault(s);
    sqlite3_reset(st);
    return r;
}

int nbd_store_foreach_blocked(struct nbd_store *s, nbd_store_blocked_cb cb, void *ctx)
{
    /* Not cached, like the listings: the callback may use the store. */
    sqlite3_stmt *st = NULL;
    int r = 0;
    if (sqlite3_prepare_v2(s->db, "SELECT author, since FROM blocked ORDER BY since, author", -1,
                           &st, NULL) != SQLITE_OK)
        return NB_EIO;
    for (;;) {
        int rc = sqlite3_step(st);
        if (rc == SQLITE_DONE)
            break;
        uint8_t author[NB_KEY_SIZE];
        if (rc != SQLITE_ROW || !blob32(st, 0, author)) {
            r = NB_EIO;
            break;
        }
        r = cb(ctx, author, (uint64_t)sqlite3_column_int64(st, 1));
        if (r != 0)
            break;
    }
    sqlite3_finalize(st);
    return r < 0 ? r : 0;
}
