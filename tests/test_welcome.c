/*
 * Welcome links and admitted devices (daemon/store/store_welcome.c) as the operator and
 * a neighbour's browser see them, on a store migrated from schema 3.
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <cmocka.h>

#include <sqlite3.h>

#include <noaber/error.h>

#include "daemon/store/store.h"
#include "daemon/store/store_welcome.h"

struct world {
    char dir[64];
    char path[128];
    struct nbd_store *store;
};

/* A store as schema 3 left it (this schema without the welcome tables),
 * opened again so that the migration to 4 runs. */
static int setup(void **state)
{
    struct world *w = calloc(1, sizeof(*w));
    char err[512] = "";
    sqlite3 *db;

    snprintf(w->dir, sizeof(w->dir), "/tmp/noaber-test-welcome-XXXXXX");
    if (mkdtemp(w->dir) == NULL)
        return -1;
    snprintf(w->path, sizeof(w->path), "%s/store.sqlite", w->dir);
    if (nbd_store_open(w->path, &w->store, err, sizeof(err)) != 0)
        return -1;
    nbd_store_close(w->store);
    if (sqlite3_open(w->path, &db) != SQLITE_OK ||
        sqlite3_exec(db,
                     "DROP TABLE welcome_tokens; DROP TABLE devices; DROP TABLE report_tallies;"
                     " DROP TABLE report_delays; PRAGMA user_version = 4;",
                     NULL, NULL, NULL) != SQLITE_OK)
        return -1;
    sqlite3_close(db);
    if (nbd_store_open(w->path, &w->store, err, sizeof(err)) != 0) {
        fprintf(stderr, "%s\n", err);
        return -1;
    }
    *state = w;
    return 0;
}

static int teardown(void **state)
{
    struct world *w = *state;
    char cmd[128];

    nbd_store_close(w->store);
    snprintf(cmd, sizeof(cmd), "rm -rf '%s'", w->dir);
    if (system(cmd) != 0)
        return -1;
    free(w);
    return 0;
}

struct seen {
    size_t n;
    bool revoked[4];
    char name[4][16];
};

static int collect(void *ctx, const struct nbd_device *d)
{
    struct seen *s = ctx;
    if (s->n < 4) {
        s->revoked[s->n] = d->revoked;
        snprintf(s->name[s->n], sizeof(s->name[0]), "%s", d->name ? d->name : "-");
    }
    s->n++;
    return 0;
}

static void a_link_admits_one_browser_once(void **state)
{
    struct world *w = *state;
    char token[NBD_WELCOME_TOKEN_LEN + 1], second[NBD_WELCOME_TOKEN_LEN + 1];
    uint8_t maria[32], thief[32];
    struct seen seen = { 0 };
    int64_t id;

    assert_int_equal(nbd_store_schema_version(w->store), NBD_STORE_SCHEMA_VERSION);
    memset(maria, 1, sizeof(maria));
    memset(thief, 2, sizeof(thief));
    assert_int_equal(nbd_welcome_admitted(w->store, maria), 0);
    assert_int_equal(nbd_welcome_make(w->store, "Maria", 1000, 2000, token), 0);
    assert_int_equal(strlen(token), NBD_WELCOME_TOKEN_LEN);
    assert_int_equal(nbd_welcome_make(w->store, NULL, 1000, 2000, second), 0);
    assert_string_not_equal(token, second);

    id = nbd_welcome_redeem(w->store, token, maria, "Android", 1500);
    assert_true(id > 0);
    assert_int_equal(nbd_welcome_admitted(w->store, maria), 1);
    /* Used up: the same link admits nobody else. */
    assert_int_equal(nbd_welcome_redeem(w->store, token, thief, NULL, 1501), NB_ENOENT);
    assert_int_equal(nbd_welcome_admitted(w->store, thief), 0);
    /* A link past its expiry admits nobody; nor does a made-up one. */
    assert_int_equal(nbd_welcome_redeem(w->store, second, thief, NULL, 2000), NB_EEXPIRED);
    assert_int_equal(nbd_welcome_redeem(w->store, "00", thief, NULL, 1500), NB_ENOENT);
    second[0] = second[0] == 'a' ? 'b' : 'a';
    assert_int_equal(nbd_welcome_redeem(w->store, second, thief, NULL, 1500), NB_ENOENT);

    assert_int_equal(nbd_welcome_foreach_device(w->store, collect, &seen), 0);
    assert_int_equal(seen.n, 1);
    assert_string_equal(seen.name[0], "Maria");
    assert_false(seen.revoked[0]);

    assert_int_equal(nbd_welcome_revoke(w->store, id, 1600), 0);
    assert_int_equal(nbd_welcome_admitted(w->store, maria), 0);
    assert_int_equal(nbd_welcome_revoke(w->store, id, 1601), NB_ENOENT);
    assert_int_equal(nbd_welcome_revoke(w->store, id + 100, 1601), NB_ENOENT);
    seen.n = 0;
    assert_int_equal(nbd_welcome_foreach_device(w->store, collect, &seen), 0);
    assert_int_equal(seen.n, 1);
    assert_true(seen.revoked[0]);
}

static void the_store_keeps_no_usable_token(void **state)
{
    struct world *w = *state;
    char token[NBD_WELCOME_TOKEN_LEN + 1];
    sqlite3 *db;
    sqlite3_stmt *st;
    int found = 0;

    assert_int_equal(nbd_welcome_make(w->store, "Youssef", 1000, 2000, token), 0);
    assert_int_equal(sqlite3_open(w->path, &db), SQLITE_OK);
    assert_int_equal(sqlite3_prepare_v2(db, "SELECT hash FROM welcome_tokens", -1, &st, NULL),
                     SQLITE_OK);
    while (sqlite3_step(st) == SQLITE_ROW) {
        char hex[65];
        const unsigned char *h = sqlite3_column_blob(st, 0);
        for (int i = 0; i < sqlite3_column_bytes(st, 0) && i < 32; i++)
            snprintf(hex + 2 * i, 3, "%02x", h[i]);
        assert_null(strstr(hex, token));
        assert_false(strncmp(hex, token, NBD_WELCOME_TOKEN_LEN) == 0);
        found++;
    }
    sqlite3_finalize(st);
    sqlite3_close(db);
    assert_int_equal(found, 1);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(a_link_admits_one_browser_once, setup, teardown),
        cmocka_unit_test_setup_teardown(the_store_keeps_no_usable_token, setup, teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
