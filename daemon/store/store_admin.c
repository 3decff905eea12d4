#include "daemon/store/store_admin.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <sqlite3.h>

#include <noaber/error.h>

#include "common/message.h"

struct nbd_store_ro {
    sqlite3 *db;
    sqlite3_stmt *root_of; /* kept: fsck asks once per record */
};

bool nbd_raw_is_blob(const struct nbd_raw *c, const uint8_t *want, size_t len)
{
    return c->type == NBD_RAW_BLOB && c->len == len &&
           (want == NULL || (c->p != NULL && memcmp(c->p, want, len) == 0));
}

static struct nbd_raw raw_column(sqlite3_stmt *st, int col)
{
    struct nbd_raw c = { .type = NBD_RAW_OTHER };
    switch (sqlite3_column_type(st, col)) {
    case SQLITE_NULL:
        c.type = NBD_RAW_NULL;
        break;
    case SQLITE_INTEGER:
        c.type = NBD_RAW_INT;
        c.i = sqlite3_column_int64(st, col);
        break;
    case SQLITE_BLOB:
        c.type = NBD_RAW_BLOB;
        c.p = sqlite3_column_blob(st, col);
        c.len = (size_t)sqlite3_column_bytes(st, col);
        break;
    default:
        break;
    }
    return c;
}

static int open_readonly(const char *path, sqlite3 **ret, char *err, size_t err_size)
{
    sqlite3 *db = NULL;
    if (sqlite3_open_v2(path, &db, SQLITE_OPEN_READONLY, NULL) != SQLITE_OK) {
        nb_say(err, err_size, "%s: cannot open: %s", path,
               db != NULL ? sqlite3_errmsg(db) : "no memory");
        sqlite3_close(db);
        return NB_EIO;
    }
    sqlite3_extended_result_codes(db, 1);
    /* A running daemon may hold a write lock for a moment. */
    sqlite3_busy_timeout(db, 10000);
    *ret = db;
    return 0;
}

int nbd_store_ro_open(const char *path, struct nbd_store_ro **ret, char *err, size_t err_size)
{
    struct nbd_store_ro *s = calloc(1, sizeof(*s));
    if (s == NULL) {
        nb_say(err, err_size, "out of memory");
        return NB_ENOMEM;
    }
    int r = open_readonly(path, &s->db, err, err_size);
    if (r < 0) {
        free(s);
        return r;
    }
    *ret = s;
    return 0;
}

void nbd_store_ro_close(struct nbd_store_ro *s)
{
    if (s == NULL)
        return;
    sqlite3_finalize(s->root_of);
    sqlite3_close(s->db);
    free(s);
}

int nbd_store_ro_integrity(struct nbd_store_ro *s, void (*cb)(void *ctx, const char *line),
                           void *ctx, char *err, size_t err_size)
{
    sqlite3_stmt *st = NULL;
    if (sqlite3_prepare_v2(s->db, "PRAGMA integrity_check(100)", -1, &st, NULL) != SQLITE_OK) {
        nb_say(err, err_size, "cannot run integrity_check: %s", sqlite3_errmsg(s->db));
        return NB_EIO;
    }
    int rc;
    while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
        const char *line = (const char *)sqlite3_column_text(st, 0);
        if (line == NULL || strcmp(line, "ok") != 0)
            cb(ctx, line != NULL ? line : "?");
    }
    int r = 0;
    if (rc != SQLITE_DONE) {
        nb_say(err, err_size, "integrity_check failed: %s", sqlite3_errmsg(s->db));
        r = NB_EIO;
    }
    sqlite3_finalize(st);
    return r;
}

static uint64_t count_rows(sqlite3 *db, const char *sql)
{
    sqlite3_stmt *st = NULL;
    uint64_t n = 0;
    if (sqlite3_prepare_v2(db, sql, -1, &st, NULL) == SQLITE_OK && sqlite3_step(st) == SQLITE_ROW)
        n = (uint64_t)sqlite3_column_int64(st, 0);
    sqlite3_finalize(st);
    return n;
}

uint64_t nbd_store_ro_schema_version(struct nbd_store_ro *s)
{
    return count_rows(s->db, "PRAGMA user_version");
}

uint64_t nbd_store_ro_tombstones(struct nbd_store_ro *s)
{
    return count_rows(s->db, "SELECT count(*) FROM tombstones");
}

int nbd_store_ro_meta(struct nbd_store_ro *s, const char *key, uint8_t *out, size_t len)
{
    sqlite3_stmt *st = NULL;
    int r = NB_EIO;
    if (sqlite3_prepare_v2(s->db, "SELECT value FROM meta WHERE key = ?1", -1, &st, NULL) !=
        SQLITE_OK)
        goto out;
    sqlite3_bind_text(st, 1, key, -1, SQLITE_STATIC);
    int rc = sqlite3_step(st);
    if (rc == SQLITE_DONE) {
        r = NB_ENOENT;
    } else if (rc == SQLITE_ROW) {
        if ((size_t)sqlite3_column_bytes(st, 0) == len) {
            memcpy(out, sqlite3_column_blob(st, 0), len);
            r = 0;
        } else {
            r = NB_EMALFORMED;
        }
    }
out:
    sqlite3_finalize(st);
    return r;
}

int nbd_store_ro_foreach_row(struct nbd_store_ro *s,
                             int (*cb)(void *ctx, const struct nbd_store_raw_row *row), void *ctx,
                             char *err, size_t err_size)
{
    sqlite3_stmt *st = NULL;
    if (sqlite3_prepare_v2(s->db,
                           "SELECT rowid, id, kind, author, created_at, expires_at, target, root,"
                           " bytes FROM records ORDER BY rowid",
                           -1, &st, NULL) != SQLITE_OK) {
        nb_say(err, err_size, "cannot read the records: %s", sqlite3_errmsg(s->db));
        return NB_EIO;
    }
    int rc, r = 0;
    while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
        struct nbd_store_raw_row row = {
            .rowid = sqlite3_column_int64(st, 0),
            .id = raw_column(st, 1),
            .kind = raw_column(st, 2),
            .author = raw_column(st, 3),
            .created_at = raw_column(st, 4),
            .expires_at = raw_column(st, 5),
            .target = raw_column(st, 6),
            .root = raw_column(st, 7),
            .bytes = raw_column(st, 8),
        };
        r = cb(ctx, &row);
        if (r < 0)
            break;
    }
    if (r == 0 && rc != SQLITE_DONE) {
        nb_say(err, err_size, "reading the records stopped: %s", sqlite3_errmsg(s->db));
        r = NB_EIO;
    }
    sqlite3_finalize(st);
    return r;
}

int nbd_store_ro_root_of(struct nbd_store_ro *s, const uint8_t target[NB_ID_SIZE],
                         uint8_t ret_root[NB_ID_SIZE])
{
    if (s->root_of == NULL &&
        sqlite3_prepare_v2(s->db, "SELECT id, root FROM records WHERE id = ?1", -1, &s->root_of,
                           NULL) != SQLITE_OK)
        return NB_EIO;
    sqlite3_stmt *st = s->root_of;
    int r = NB_EIO;
    sqlite3_reset(st);
    sqlite3_bind_blob(st, 1, target, NB_ID_SIZE, SQLITE_STATIC);
    int rc = sqlite3_step(st);
    if (rc == SQLITE_DONE) {
        r = NB_ENOENT;
    } else if (rc == SQLITE_ROW) {
        struct nbd_raw root = raw_column(st, 1);
        if (root.type == NBD_RAW_NULL)
            root = raw_column(st, 0);
        if (nbd_raw_is_blob(&root, NULL, NB_ID_SIZE)) {
            memcpy(ret_root, root.p, NB_ID_SIZE);
            r = 0;
        }
    }
    sqlite3_reset(st);
    return r;
}

int nbd_store_ro_foreach_stored_tombstone(struct nbd_store_ro *s,
                                          void (*cb)(void *ctx, const uint8_t *id), void *ctx)
{
    sqlite3_stmt *st = NULL;
    if (sqlite3_prepare_v2(s->db, "SELECT id FROM records WHERE id IN (SELECT id FROM tombstones)",
                           -1, &st, NULL) != SQLITE_OK)
        return NB_EIO;
    while (sqlite3_step(st) == SQLITE_ROW) {
        struct nbd_raw id = raw_column(st, 0);
        cb(ctx, nbd_raw_is_blob(&id, NULL, NB_ID_SIZE) ? id.p : NULL);
    }
    sqlite3_finalize(st);
    return 0;
}

int nbd_store_backup(const char *src_path, const char *dst_path, uint64_t *ret_records, char *err,
                     size_t err_size)
{
    sqlite3 *src = NULL, *dst = NULL;
    sqlite3_backup *b = NULL;
    int r = open_readonly(src_path, &src, err, err_size);
    if (r < 0)
        return r;
    r = NB_EIO;
    if (sqlite3_open_v2(dst_path, &dst, SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE, NULL) !=
        SQLITE_OK) {
        nb_say(err, err_size, "%s: cannot create: %s", dst_path,
               dst != NULL ? sqlite3_errmsg(dst) : "no memory");
        goto out;
    }
    b = sqlite3_backup_init(dst, "main", src, "main");
    if (b == NULL) {
        nb_say(err, err_size, "cannot start the backup: %s", sqlite3_errmsg(dst));
        goto out;
    }
    int rc;
    /* The daemon's writes make a step busy now and then: retry for a minute. */
    for (int tries = 0;; tries++) {
        rc = sqlite3_backup_step(b, -1);
        if (rc == SQLITE_DONE || tries >= 600 ||
            (rc != SQLITE_OK && rc != SQLITE_BUSY && rc != SQLITE_LOCKED))
            break;
        sqlite3_sleep(100);
    }
    sqlite3_backup_finish(b);
    if (rc != SQLITE_DONE) {
        nb_say(err, err_size, "copying %s failed: %s", src_path, sqlite3_errstr(rc));
        goto out;
    }
    /* The copy is checked before it is called a backup. */
    sqlite3_stmt *st = NULL;
    const char *verdict = NULL;
    if (sqlite3_prepare_v2(dst, "PRAGMA quick_check", -1, &st, NULL) == SQLITE_OK &&
        sqlite3_step(st) == SQLITE_ROW)
        verdict = (const char *)sqlite3_column_text(st, 0);
    bool ok = verdict != NULL && strcmp(verdict, "ok") == 0;
    sqlite3_finalize(st);
    if (!ok) {
        nb_say(err, err_size,
               "the copy fails SQLite's quick_check; the store itself may be damaged (run noaberd "
               "fsck)");
        goto out;
    }
    /* A backup is a single file: out of WAL mode, reading it later leaves
     * no -wal or -shm beside it.  The daemon switches a restored store back. */
    if (sqlite3_exec(dst, "PRAGMA journal_mode = DELETE", NULL, NULL, NULL) != SQLITE_OK) {
        nb_say(err, err_size, "%s: %s", dst_path, sqlite3_errmsg(dst));
        goto out;
    }
    sqlite3_stmt *count = NULL;
    if (sqlite3_prepare_v2(dst, "SELECT count(*) FROM records", -1, &count, NULL) != SQLITE_OK ||
        sqlite3_step(count) != SQLITE_ROW) {
        sqlite3_finalize(count);
        nb_say(err, err_size, "%s is not a Noaber store (it has no records table)", src_path);
        goto out;
    }
    *ret_records = (uint64_t)sqlite3_column_int64(count, 0);
    sqlite3_finalize(count);
    r = 0;
out:
    sqlite3_close(src);
    if (sqlite3_close(dst) != SQLITE_OK && r == 0) {
        nb_say(err, err_size, "%s: cannot close the copy", dst_path);
        r = NB_EIO;
    }
    return r;
}

int nbd_store_compact(const char *path)
{
    sqlite3 *db = NULL;
    int r = NB_EIO;
    if (sqlite3_open_v2(path, &db, SQLITE_OPEN_READWRITE, NULL) == SQLITE_OK &&
        sqlite3_exec(db, "VACUUM", NULL, NULL, NULL) == SQLITE_OK &&
        sqlite3_exec(db, "PRAGMA wal_checkpoint(TRUNCATE)", NULL, NULL, NULL) == SQLITE_OK)
        r = 0;
    sqlite3_close(db);
    return r;
}
