/*
 * Welcome links and admitted devices (see welcome.h).
 */
#include "daemon/store/store_welcome.h"

#include <noaber/error.h>

#include <sodium.h>
#include <sqlite3.h>
#include <stdio.h>
#include <string.h>

static void token_hash(const uint8_t token[NBD_WELCOME_TOKEN_SIZE], uint8_t ret[32])
{
    crypto_generichash(ret, 32, token, NBD_WELCOME_TOKEN_SIZE, NULL, 0);
}

/* A fresh random token: the hash the store keeps and the hex text handed
 * out (which the store never keeps). */
static void token_new(uint8_t ret_hash[32], char ret_text[NBD_WELCOME_TOKEN_LEN + 1])
{
    uint8_t token[NBD_WELCOME_TOKEN_SIZE];

    randombytes_buf(token, sizeof(token));
    token_hash(token, ret_hash);
    sodium_bin2hex(ret_text, NBD_WELCOME_TOKEN_LEN + 1, token, sizeof(token));
    sodium_memzero(token, sizeof(token));
}

/* Runs one statement with the bound values; 0, or NB_EIO. */
static int step_done(sqlite3_stmt *st)
{
    int rc = sqlite3_step(st);
    sqlite3_finalize(st);
    return rc == SQLITE_DONE ? 0 : NB_EIO;
}

static int prepare(struct nbd_store *s, const char *sql, sqlite3_stmt **ret)
{
    return sqlite3_prepare_v2(nbd_store_db(s), sql, -1, ret, NULL) == SQLITE_OK ? 0 : NB_EIO;
}

static void bind_text_or_null(sqlite3_stmt *st, int i, const char *text)
{
    if (text != NULL && text[0] != '\0') {
        sqlite3_bind_text(st, i, text, -1, SQLITE_TRANSIENT);
    } else {
        sqlite3_bind_null(st, i);
    }
}

int nbd_welcome_make(struct nbd_store *s, const char *name, uint64_t now, uint64_t expires_at,
                     char ret_token[NBD_WELCOME_TOKEN_LEN + 1])
{
    char token[NBD_WELCOME_TOKEN_LEN + 1];
    uint8_t hash[32];
    sqlite3_stmt *st;
    int r;

    token_new(hash, token);
    r = prepare(s,
                "INSERT INTO welcome_tokens (hash, name, created_at, expires_at) "
                "VALUES (?, ?, ?, ?)",
                &st);
    if (r == 0) {
        sqlite3_bind_blob(st, 1, hash, sizeof(hash), SQLITE_TRANSIENT);
        bind_text_or_null(st, 2, name);
        sqlite3_bind_int64(st, 3, (sqlite3_int64)now);
        sqlite3_bind_int64(st, 4, (sqlite3_int64)expires_at);
        r = step_done(st);
    }
    if (r == 0) {
        memcpy(ret_token, token, sizeof(token));
    }
    sodium_memzero(token, sizeof(token));
    return r;
}

/*
 * Looks up a one-time token of `table` (welcome_tokens or device_transfers)
 * by its hash: 0 with `ret_hash` filled, NB_ENOENT (not hex of the right
 * length, unknown, or used), NB_EEXPIRED, NB_EIO.
 */
static int token_find(struct nbd_store *s, const char *sql, const char *token, uint64_t now,
                      uint8_t ret_hash[32], sqlite3_stmt **ret_row)
{
    uint8_t raw[NBD_WELCOME_TOKEN_SIZE];
    sqlite3_stmt *st;
    size_t n = 0;
    int rc;

    if (strlen(token) != NBD_WELCOME_TOKEN_LEN ||
        sodium_hex2bin(raw, sizeof(raw), token, NBD_WELCOME_TOKEN_LEN, NULL, &n, NULL) != 0 ||
        n != sizeof(raw)) {
        return NB_ENOENT;
    }
    token_hash(raw, ret_hash);
    sodium_memzero(raw, sizeof(raw));
    if (prepare(s, sql, &st) != 0) {
        return NB_EIO;
    }
    sqlite3_bind_blob(st, 1, ret_hash, 32, SQLITE_TRANSIENT);
    rc = sqlite3_step(st);
    if (rc != SQLITE_ROW) {
        sqlite3_finalize(st);
        return rc == SQLITE_DONE ? NB_ENOENT : NB_EIO;
    }
    /* The statement's first column is always expires_at. */
    if ((uint64_t)sqlite3_column_int64(st, 0) <= now) {
        sqlite3_finalize(st);
        return NB_EEXPIRED;
    }
    *ret_row = st;
    return 0;
}

/* Admits a device inside the caller's transaction; its id, or NB_EEXIST
 * when another device already has that device key, or NB_EIO. */
static int64_t device_insert(struct nbd_store *s, const uint8_t member[NB_KEY_SIZE],
                             const char *name, const uint8_t *device_key, const char *device,
                             uint64_t now)
{
    sqlite3_stmt *st;
    int rc;

    if (prepare(s,
                "INSERT INTO devices (member, name, device, admitted_at, device_key) "
                "VALUES (?, ?, ?, ?, ?)",
                &st) != 0) {
        return NB_EIO;
    }
    sqlite3_bind_blob(st, 1, member, NB_KEY_SIZE, SQLITE_TRANSIENT);
    bind_text_or_null(st, 2, name);
    bind_text_or_null(st, 3, device);
    sqlite3_bind_int64(st, 4, (sqlite3_int64)now);
    if (device_key != NULL) {
        sqlite3_bind_blob(st, 5, device_key, NB_KEY_SIZE, SQLITE_TRANSIENT);
    } else {
        sqlite3_bind_null(st, 5);
    }
    rc = sqlite3_step(st);
    sqlite3_finalize(st);
    if ((rc & 0xff) == SQLITE_CONSTRAINT) {
        return NB_EEXIST;
    }
    return rc == SQLITE_DONE ? sqlite3_last_insert_rowid(nbd_store_db(s)) : NB_EIO;
}

/* Deletes the used token and admits the device, in one transaction. */
static int64_t use_token_and_admit(struct nbd_store *s, const char *delete_sql,
                                   const uint8_t hash[32], const uint8_t member[NB_KEY_SIZE],
                                   const char *name, const uint8_t *device_key, const char *device,
                                   uint64_t now)
{
    sqlite3_stmt *st;
    int64_t r;

    if (nbd_store_begin(s) < 0) {
        return NB_EIO;
    }
    r = prepare(s, delete_sql, &st);
    if (r == 0) {
        sqlite3_bind_blob(st, 1, hash, 32, SQLITE_TRANSIENT);
        r = step_done(st);
    }
    if (r == 0) {
        r = device_insert(s, member, name, device_key, device, now);
    }
    if (r > 0) {
        return nbd_store_commit(s) < 0 ? NB_EIO : r;
    }
    nbd_store_rollback(s);
    return r;
}

int64_t nbd_welcome_redeem(struct nbd_store *s, const char *token,
                           const uint8_t member[NB_KEY_SIZE], const uint8_t *device_key,
                           const char *device, uint64_t now)
{
    char name[NB_NAME_MAX + 1] = "";
    uint8_t hash[32];
    sqlite3_stmt *st = NULL;
    int r = token_find(s, "SELECT expires_at, name FROM welcome_tokens WHERE hash = ?", token, now,
                       hash, &st);

    if (r < 0) {
        return r;
    }
    if (sqlite3_column_type(st, 1) == SQLITE_TEXT) {
        snprintf(name, sizeof(name), "%s", (const char *)sqlite3_column_text(st, 1));
    }
    sqlite3_finalize(st);
    /* Used up and admitted in one transaction: a token admits one device. */
    return use_token_and_admit(s, "DELETE FROM welcome_tokens WHERE hash = ?", hash, member, name,
                               device_key, device, now);
}

/* The id and name of the member's admitted device `device_key` (NULL: a
 * device admitted without a key); NB_ENOENT when it is not admitted. */
static int64_t admitted_device(struct nbd_store *s, const uint8_t member[NB_KEY_SIZE],
                               const uint8_t *device_key, char ret_name[NB_NAME_MAX + 1])
{
    sqlite3_stmt *st;
    int64_t id;
    int rc;

    if (prepare(s,
                device_key != NULL
                    ? "SELECT id, name FROM devices WHERE member = ? AND device_key = ? "
                      "AND revoked_at IS NULL"
                    : "SELECT id, name FROM devices WHERE member = ? AND device_key IS NULL "
                      "AND revoked_at IS NULL LIMIT 1",
                &st) != 0) {
        return NB_EIO;
    }
    sqlite3_bind_blob(st, 1, member, NB_KEY_SIZE, SQLITE_TRANSIENT);
    if (device_key != NULL) {
        sqlite3_bind_blob(st, 2, device_key, NB_KEY_SIZE, SQLITE_TRANSIENT);
    }
    rc = sqlite3_step(st);
    if (rc != SQLITE_ROW) {
        sqlite3_finalize(st);
        return rc == SQLITE_DONE ? NB_ENOENT : NB_EIO;
    }
    id = sqlite3_column_int64(st, 0);
    ret_name[0] = '\0';
    if (sqlite3_column_type(st, 1) == SQLITE_TEXT) {
        snprintf(ret_name, NB_NAME_MAX + 1, "%s", (const char *)sqlite3_column_text(st, 1));
    }
    sqlite3_finalize(st);
    return id;
}

/* The id of the member's admitted device `by_key` that asks for something
 * (and its name), NB_EPERM when it is not admitted, or NB_EIO. */
static int64_t admitted_by(struct nbd_store *s, const uint8_t member[NB_KEY_SIZE],
                           const uint8_t *by_key, char ret_name[NB_NAME_MAX + 1])
{
    int64_t id = admitted_device(s, member, by_key, ret_name);

    if (id == NB_ENOENT) {
        return NB_EPERM;
    }
    return id < 0 ? NB_EIO : id;
}

int nbd_welcome_admitted(struct nbd_store *s, const uint8_t member[NB_KEY_SIZE],
                         const uint8_t *device_key)
{
    char name[NB_NAME_MAX + 1];
    int64_t id = admitted_device(s, member, device_key, name);

    if (id == NB_ENOENT) {
        return 0;
    }
    return id < 0 ? NB_EIO : 1;
}

int64_t nbd_device_add(struct nbd_store *s, const uint8_t member[NB_KEY_SIZE],
                       const uint8_t *by_key, const uint8_t device_key[NB_KEY_SIZE],
                       const char *device, uint64_t now)
{
    char name[NB_NAME_MAX + 1];
    int64_t r = admitted_by(s, member, by_key, name);

    if (r < 0) {
        return r;
    }
    /* The new device is known by the name the first one was welcomed with. */
    return device_insert(s, member, name, device_key, device, now);
}

int nbd_transfer_put(struct nbd_store *s, const uint8_t member[NB_KEY_SIZE], const uint8_t *by_key,
                     const uint8_t *sealed, size_t len, uint64_t now, uint64_t expires_at,
                     char ret_token[NBD_WELCOME_TOKEN_LEN + 1])
{
    char token[NBD_WELCOME_TOKEN_LEN + 1], name[NB_NAME_MAX + 1];
    uint8_t hash[32];
    int64_t by = admitted_by(s, member, by_key, name);
    sqlite3_stmt *st;
    int r;

    if (by < 0) {
        return (int)by;
    }
    /* Links that expired are of no use to anyone: they go now. */
    r = prepare(s, "DELETE FROM device_transfers WHERE expires_at <= ?", &st);
    if (r == 0) {
        sqlite3_bind_int64(st, 1, (sqlite3_int64)now);
        r = step_done(st);
    }
    if (r != 0) {
        return r;
    }
    token_new(hash, token);
    r = prepare(s,
                "INSERT INTO device_transfers (hash, member, by_device, sealed, expires_at) "
                "VALUES (?, ?, ?, ?, ?)",
                &st);
    if (r == 0) {
        sqlite3_bind_blob(st, 1, hash, sizeof(hash), SQLITE_TRANSIENT);
        sqlite3_bind_blob(st, 2, member, NB_KEY_SIZE, SQLITE_TRANSIENT);
        sqlite3_bind_int64(st, 3, by);
        sqlite3_bind_blob(st, 4, sealed, (int)len, SQLITE_TRANSIENT);
        sqlite3_bind_int64(st, 5, (sqlite3_int64)expires_at);
        r = step_done(st);
    }
    if (r == 0) {
        memcpy(ret_token, token, sizeof(token));
    }
    sodium_memzero(token, sizeof(token));
    return r;
}

int64_t nbd_transfer_take(struct nbd_store *s, const char *token,
                          const uint8_t device_key[NB_KEY_SIZE], const char *device, uint64_t now,
                          uint8_t ret_member[NB_KEY_SIZE], uint8_t *ret_sealed, size_t max,
                          size_t *ret_len)
{
    char name[NB_NAME_MAX + 1] = "";
    uint8_t hash[32];
    sqlite3_stmt *st = NULL;
    int64_t r;
    int n;

    /* The device that made the link must still be admitted: revoking it
     * also ends the links it handed out. */
    r = token_find(s,
                   "SELECT t.expires_at, t.member, t.sealed, d.name FROM device_transfers t "
                   "JOIN devices d ON d.id = t.by_device AND d.revoked_at IS NULL "
                   "WHERE t.hash = ?",
                   token, now, hash, &st);
    if (r < 0) {
        return r;
    }
    n = sqlite3_column_bytes(st, 2);
    if (sqlite3_column_bytes(st, 1) != NB_KEY_SIZE || n < 1 || (size_t)n > max) {
        sqlite3_finalize(st);
        return NB_EDAMAGED;
    }
    memcpy(ret_member, sqlite3_column_blob(st, 1), NB_KEY_SIZE);
    memcpy(ret_sealed, sqlite3_column_blob(st, 2), (size_t)n);
    *ret_len = (size_t)n;
    if (sqlite3_column_type(st, 3) == SQLITE_TEXT) {
        snprintf(name, sizeof(name), "%s", (const char *)sqlite3_column_text(st, 3));
    }
    sqlite3_finalize(st);
    return use_token_and_admit(s, "DELETE FROM device_transfers WHERE hash = ?", hash, ret_member,
                               name, device_key, device, now);
}

int nbd_welcome_foreach_device(struct nbd_store *s, const uint8_t *member, nbd_device_cb cb,
                               void *ctx)
{
    sqlite3_stmt *st;
    int rc, r = 0;

    if (prepare(s,
                member != NULL
                    ? "SELECT id, member, name, device, admitted_at, revoked_at, device_key "
                      "FROM devices WHERE member = ? ORDER BY id"
                    : "SELECT id, member, name, device, admitted_at, revoked_at, device_key "
                      "FROM devices ORDER BY id",
                &st) != 0) {
        return NB_EIO;
    }
    if (member != NULL) {
        sqlite3_bind_blob(st, 1, member, NB_KEY_SIZE, SQLITE_TRANSIENT);
    }
    while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
        struct nbd_device d = { 0 };
        if (sqlite3_column_bytes(st, 1) != NB_KEY_SIZE) {
            continue;
        }
        d.id = sqlite3_column_int64(st, 0);
        memcpy(d.member, sqlite3_column_blob(st, 1), NB_KEY_SIZE);
        d.name = sqlite3_column_type(st, 2) == SQLITE_TEXT
                     ? (const char *)sqlite3_column_text(st, 2)
                     : NULL;
        d.device = sqlite3_column_type(st, 3) == SQLITE_TEXT
                       ? (const char *)sqlite3_column_text(st, 3)
                       : NULL;
        d.admitted_at = (uint64_t)sqlite3_column_int64(st, 4);
        d.revoked = sqlite3_column_type(st, 5) != SQLITE_NULL;
        d.revoked_at = d.revoked ? (uint64_t)sqlite3_column_int64(st, 5) : 0;
        d.device_key = sqlite3_column_bytes(st, 6) == NB_KEY_SIZE
                           ? (const uint8_t *)sqlite3_column_blob(st, 6)
                           : NULL;
        r = cb(ctx, &d);
        if (r != 0) {
            break;
        }
    }
    sqlite3_finalize(st);
    if (r != 0) {
        return r;
    }
    return rc == SQLITE_DONE ? 0 : NB_EIO;
}

/* Revokes device `id`, when `member` is not NULL only if it is that
 * member's: 0, NB_ENOENT (no such device, or already revoked), NB_EIO. */
static int revoke(struct nbd_store *s, int64_t id, const uint8_t *member, uint64_t now)
{
    sqlite3_stmt *st;
    int r;

    r = prepare(s,
                "UPDATE devices SET revoked_at = ? WHERE id = ? AND revoked_at IS NULL "
                "AND (?3 IS NULL OR member = ?3)",
                &st);
    if (r != 0) {
        return r;
    }
    sqlite3_bind_int64(st, 1, (sqlite3_int64)now);
    sqlite3_bind_int64(st, 2, id);
    if (member != NULL) {
        sqlite3_bind_blob(st, 3, member, NB_KEY_SIZE, SQLITE_TRANSIENT);
    }
    r = step_done(st);
    if (r == 0 && sqlite3_changes(nbd_store_db(s)) == 0) {
        return NB_ENOENT;
    }
    return r;
}

int nbd_welcome_revoke(struct nbd_store *s, int64_t id, uint64_t now)
{
    return revoke(s, id, NULL, now);
}

int nbd_device_revoke_own(struct nbd_store *s, const uint8_t member[NB_KEY_SIZE],
                          const uint8_t *by_key, int64_t id, uint64_t now)
{
    char name[NB_NAME_MAX + 1];
    int64_t by_id = admitted_by(s, member, by_key, name);

    if (by_id < 0) {
        return (int)by_id;
    }
    /* The member is part of the condition: a device of someone else is
     * "not found", whoever asks. */
    return revoke(s, id, member, now);
}
