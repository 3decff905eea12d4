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
    uint8_t token[NBD_WELCOME_TOKEN_SIZE], hash[32];
    sqlite3_stmt *st;
    int r;

    randombytes_buf(token, sizeof(token));
    token_hash(token, hash);
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
        sodium_bin2hex(ret_token, NBD_WELCOME_TOKEN_LEN + 1, token, sizeof(token));
    }
    sodium_memzero(token, sizeof(token));
    return r;
}

int64_t nbd_welcome_redeem(struct nbd_store *s, const char *token,
                           const uint8_t member[NB_KEY_SIZE], const char *device, uint64_t now)
{
    uint8_t raw[NBD_WELCOME_TOKEN_SIZE], hash[32];
    char name[NB_NAME_MAX + 1] = "";
    bool has_name = false;
    uint64_t expires_at;
    sqlite3_stmt *st;
    size_t n = 0;
    int64_t r;
    int rc;

    if (strlen(token) != NBD_WELCOME_TOKEN_LEN ||
        sodium_hex2bin(raw, sizeof(raw), token, NBD_WELCOME_TOKEN_LEN, NULL, &n, NULL) != 0 ||
        n != sizeof(raw)) {
        return NB_ENOENT;
    }
    token_hash(raw, hash);
    if (prepare(s, "SELECT name, expires_at FROM welcome_tokens WHERE hash = ?", &st) != 0) {
        return NB_EIO;
    }
    sqlite3_bind_blob(st, 1, hash, sizeof(hash), SQLITE_TRANSIENT);
    rc = sqlite3_step(st);
    if (rc != SQLITE_ROW) {
        sqlite3_finalize(st);
        return rc == SQLITE_DONE ? NB_ENOENT : NB_EIO;
    }
    if (sqlite3_column_type(st, 0) == SQLITE_TEXT) {
        const char *t = (const char *)sqlite3_column_text(st, 0);
        has_name = true;
        snprintf(name, sizeof(name), "%s", t);
    }
    expires_at = (uint64_t)sqlite3_column_int64(st, 1);
    sqlite3_finalize(st);
    if (expires_at <= now) {
        return NB_EEXPIRED;
    }
    /* Used up and admitted in one transaction: a token admits one device. */
    if (nbd_store_begin(s) < 0) {
        return NB_EIO;
    }
    r = prepare(s, "DELETE FROM welcome_tokens WHERE hash = ?", &st);
    if (r == 0) {
        sqlite3_bind_blob(st, 1, hash, sizeof(hash), SQLITE_TRANSIENT);
        r = step_done(st);
    }
    if (r == 0) {
        r = prepare(
            s, "INSERT INTO devices (member, name, device, admitted_at) VALUES (?, ?, ?, ?)", &st);
    }
    if (r == 0) {
        sqlite3_bind_blob(st, 1, member, NB_KEY_SIZE, SQLITE_TRANSIENT);
        bind_text_or_null(st, 2, has_name ? name : NULL);
        bind_text_or_null(st, 3, device);
        sqlite3_bind_int64(st, 4, (sqlite3_int64)now);
        r = step_done(st);
    }
    if (r == 0) {
        r = sqlite3_last_insert_rowid(nbd_store_db(s));
        if (nbd_store_commit(s) < 0) {
            return NB_EIO;
        }
        return r;
    }
    nbd_store_rollback(s);
    return r;
}

int nbd_welcome_admitted(struct nbd_store *s, const uint8_t member[NB_KEY_SIZE])
{
    sqlite3_stmt *st;
    int rc;

    if (prepare(s, "SELECT 1 FROM devices WHERE member = ? AND revoked_at IS NULL LIMIT 1", &st) !=
        0) {
        return NB_EIO;
    }
    sqlite3_bind_blob(st, 1, member, NB_KEY_SIZE, SQLITE_TRANSIENT);
    rc = sqlite3_step(st);
    sqlite3_finalize(st);
    if (rc == SQLITE_ROW) {
        return 1;
    }
    return rc == SQLITE_DONE ? 0 : NB_EIO;
}

int nbd_welcome_foreach_device(struct nbd_store *s, nbd_device_cb cb, void *ctx)
{
    sqlite3_stmt *st;
    int rc, r = 0;

    if (prepare(s,
                "SELECT id, member, name, device, admitted_at, revoked_at FROM devices "
                "ORDER BY id",
                &st) != 0) {
        return NB_EIO;
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

int nbd_welcome_revoke(struct nbd_store *s, int64_t id, uint64_t now)
{
    sqlite3_stmt *st;
    int r;

    r = prepare(s, "UPDATE devices SET revoked_at = ? WHERE id = ? AND revoked_at IS NULL", &st);
    if (r != 0) {
        return r;
    }
    sqlite3_bind_int64(st, 1, (sqlite3_int64)now);
    sqlite3_bind_int64(st, 2, id);
    r = step_done(st);
    if (r == 0 && sqlite3_changes(nbd_store_db(s)) == 0) {
        return NB_ENOENT;
    }
    return r;
}
