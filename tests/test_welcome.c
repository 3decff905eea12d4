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

/* A store as schema 4 left it (this schema without the welcome and transfer
 * tables), opened again so that the migrations to 5 and 6 run. */
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
        sqlite3_exec(
            db,
            "DROP TABLE welcome_tokens; DROP TABLE devices; DROP TABLE device_transfers;"
            " DROP TABLE report_tallies; DROP TABLE report_delays; PRAGMA user_version = 4;",
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
    assert_int_equal(nbd_welcome_admitted(w->store, maria, NULL), 0);
    assert_int_equal(nbd_welcome_make(w->store, "Maria", 1000, 2000, token), 0);
    assert_int_equal(strlen(token), NBD_WELCOME_TOKEN_LEN);
    assert_int_equal(nbd_welcome_make(w->store, NULL, 1000, 2000, second), 0);
    assert_string_not_equal(token, second);

    id = nbd_welcome_redeem(w->store, token, maria, NULL, "Android", 1500);
    assert_true(id > 0);
    assert_int_equal(nbd_welcome_admitted(w->store, maria, NULL), 1);
    /* Used up: the same link admits nobody else. */
    assert_int_equal(nbd_welcome_redeem(w->store, token, thief, NULL, NULL, 1501), NB_ENOENT);
    assert_int_equal(nbd_welcome_admitted(w->store, thief, NULL), 0);
    /* A link past its expiry admits nobody; nor does a made-up one. */
    assert_int_equal(nbd_welcome_redeem(w->store, second, thief, NULL, NULL, 2000), NB_EEXPIRED);
    assert_int_equal(nbd_welcome_redeem(w->store, "00", thief, NULL, NULL, 1500), NB_ENOENT);
    second[0] = second[0] == 'a' ? 'b' : 'a';
    assert_int_equal(nbd_welcome_redeem(w->store, second, thief, NULL, NULL, 1500), NB_ENOENT);

    assert_int_equal(nbd_welcome_foreach_device(w->store, NULL, collect, &seen), 0);
    assert_int_equal(seen.n, 1);
    assert_string_equal(seen.name[0], "Maria");
    assert_false(seen.revoked[0]);

    assert_int_equal(nbd_welcome_revoke(w->store, id, 1600), 0);
    assert_int_equal(nbd_welcome_admitted(w->store, maria, NULL), 0);
    assert_int_equal(nbd_welcome_revoke(w->store, id, 1601), NB_ENOENT);
    assert_int_equal(nbd_welcome_revoke(w->store, id + 100, 1601), NB_ENOENT);
    seen.n = 0;
    assert_int_equal(nbd_welcome_foreach_device(w->store, NULL, collect, &seen), 0);
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

/*
 * Maria's phone (device key A) hands a link to her tablet (device key B):
 * the tablet is admitted as its own device, with her name; the link works
 * once and not after its expiry; revoking one device leaves the other.
 */
static void a_device_hands_a_link_to_the_next(void **state)
{
    struct world *w = *state;
    char token[NBD_WELCOME_TOKEN_LEN + 1], link[NBD_WELCOME_TOKEN_LEN + 1],
        late[NBD_WELCOME_TOKEN_LEN + 1];
    uint8_t maria[32], phone[32], tablet[32], card[32], other[32], member[32], box[256];
    const uint8_t sealed[5] = { 1, 2, 3, 4, 5 };
    struct seen seen = { 0 };
    int64_t a, b, c;
    size_t len = 0;

    memset(maria, 1, sizeof(maria));
    memset(phone, 3, sizeof(phone));
    memset(tablet, 4, sizeof(tablet));
    memset(card, 5, sizeof(card));
    memset(other, 6, sizeof(other));
    assert_int_equal(nbd_welcome_make(w->store, "Maria", 1000, 5000, token), 0);
    a = nbd_welcome_redeem(w->store, token, maria, phone, "Android", 1100);
    assert_true(a > 0);
    assert_int_equal(nbd_welcome_admitted(w->store, maria, phone), 1);
    /* Another device of the same member is not admitted by the phone's row. */
    assert_int_equal(nbd_welcome_admitted(w->store, maria, tablet), 0);
    assert_int_equal(nbd_welcome_admitted(w->store, maria, NULL), 0);

    /* Only an admitted device makes a link. */
    assert_int_equal(
        nbd_transfer_put(w->store, maria, tablet, sealed, sizeof(sealed), 1200, 1800, link),
        NB_EPERM);
    assert_int_equal(
        nbd_transfer_put(w->store, maria, phone, sealed, sizeof(sealed), 1200, 1800, link), 0);
    b = nbd_transfer_take(w->store, link, tablet, "Linux", 1300, member, box, sizeof(box), &len);
    assert_true(b > a);
    assert_memory_equal(member, maria, 32);
    assert_int_equal(len, sizeof(sealed));
    assert_memory_equal(box, sealed, sizeof(sealed));
    assert_int_equal(nbd_welcome_admitted(w->store, maria, tablet), 1);
    /* Used up. */
    assert_int_equal(
        nbd_transfer_take(w->store, link, other, NULL, 1301, member, box, sizeof(box), &len),
        NB_ENOENT);
    /* Expired. */
    assert_int_equal(
        nbd_transfer_put(w->store, maria, phone, sealed, sizeof(sealed), 1400, 1401, late), 0);
    assert_int_equal(
        nbd_transfer_take(w->store, late, other, NULL, 1401, member, box, sizeof(box), &len),
        NB_EEXPIRED);
    assert_int_equal(nbd_welcome_admitted(w->store, maria, other), 0);

    /* A recovery card is one more device, admitted by one of hers. */
    c = nbd_device_add(w->store, maria, tablet, card, "recovery card", 1500);
    assert_true(c > b);
    assert_int_equal(nbd_device_add(w->store, maria, other, other, NULL, 1500), NB_EPERM);
    /* A device key admits one device only. */
    assert_int_equal(nbd_device_add(w->store, maria, tablet, phone, NULL, 1500), NB_EEXIST);

    assert_int_equal(nbd_welcome_foreach_device(w->store, NULL, collect, &seen), 0);
    assert_int_equal(seen.n, 3);
    assert_string_equal(seen.name[1], "Maria");
    assert_string_equal(seen.name[2], "Maria");

    /* Revoking the phone leaves the tablet, and ends the phone's links. */
    assert_int_equal(
        nbd_transfer_put(w->store, maria, phone, sealed, sizeof(sealed), 1600, 2000, link), 0);
    assert_int_equal(nbd_welcome_revoke(w->store, a, 1601), 0);
    assert_int_equal(nbd_welcome_admitted(w->store, maria, phone), 0);
    assert_int_equal(nbd_welcome_admitted(w->store, maria, tablet), 1);
    assert_int_equal(
        nbd_transfer_take(w->store, link, other, NULL, 1602, member, box, sizeof(box), &len),
        NB_ENOENT);
    /* And the other way round. */
    assert_int_equal(nbd_welcome_revoke(w->store, b, 1603), 0);
    assert_int_equal(nbd_welcome_admitted(w->store, maria, tablet), 0);
    assert_int_equal(nbd_welcome_admitted(w->store, maria, card), 1);
}

/* A store as schema 7 left it, with a browser welcomed before device keys:
 * after the migration that browser still signs in by its member key alone,
 * and makes links for the next device. */
static void a_browser_of_before_device_keys_keeps_working(void **state)
{
    struct world *w = *state;
    char err[512] = "", link[NBD_WELCOME_TOKEN_LEN + 1];
    uint8_t maria[32], phone[32], tablet[32], member[32], box[256];
    const uint8_t sealed[3] = { 7, 8, 9 };
    size_t len = 0;
    sqlite3 *db;

    memset(maria, 1, sizeof(maria));
    memset(phone, 3, sizeof(phone));
    memset(tablet, 4, sizeof(tablet));
    nbd_store_close(w->store);
    assert_int_equal(sqlite3_open(w->path, &db), SQLITE_OK);
    assert_int_equal(
        sqlite3_exec(db,
                     "DROP TABLE device_transfers; DROP INDEX devices_key;"
                     " ALTER TABLE devices DROP COLUMN device_key;"
                     " INSERT INTO devices (member, name, device, admitted_at) VALUES"
                     " (x'0101010101010101010101010101010101010101010101010101010101010101',"
                     " 'Maria', 'Android', 1000); PRAGMA user_version = 7;",
                     NULL, NULL, NULL),
        SQLITE_OK);
    sqlite3_close(db);
    if (nbd_store_open(w->path, &w->store, err, sizeof(err)) != 0)
        fail_msg("%s", err);
    assert_int_equal(nbd_store_schema_version(w->store), NBD_STORE_SCHEMA_VERSION);
    assert_int_equal(nbd_welcome_admitted(w->store, maria, NULL), 1);
    assert_int_equal(nbd_welcome_admitted(w->store, maria, phone), 0);
    assert_int_equal(
        nbd_transfer_put(w->store, maria, NULL, sealed, sizeof(sealed), 1100, 1700, link), 0);
    assert_true(
        nbd_transfer_take(w->store, link, tablet, NULL, 1200, member, box, sizeof(box), &len) > 0);
    assert_int_equal(nbd_welcome_admitted(w->store, maria, tablet), 1);
}

/* A member switches off their own lost phone from their tablet, and only
 * their own devices: another member's device is "not found" for them, and
 * a device already switched off cannot switch off the others. */
static void a_member_switches_off_only_their_own_devices(void **state)
{
    struct world *w = *state;
    char token[NBD_WELCOME_TOKEN_LEN + 1];
    uint8_t maria[32], bob[32], phone[32], tablet[32], bobs[32];
    struct seen seen = { 0 };
    int64_t a, b, c;

    memset(maria, 1, sizeof(maria));
    memset(bob, 2, sizeof(bob));
    memset(phone, 3, sizeof(phone));
    memset(tablet, 4, sizeof(tablet));
    memset(bobs, 7, sizeof(bobs));
    assert_int_equal(nbd_welcome_make(w->store, "Maria", 1000, 5000, token), 0);
    a = nbd_welcome_redeem(w->store, token, maria, phone, "Android", 1100);
    b = nbd_device_add(w->store, maria, phone, tablet, "Linux", 1200);
    assert_int_equal(nbd_welcome_make(w->store, "Bob", 1000, 5000, token), 0);
    c = nbd_welcome_redeem(w->store, token, bob, bobs, "Windows", 1300);
    assert_true(a > 0 && b > a && c > b);

    /* Her own list holds her two devices, not Bob's. */
    assert_int_equal(nbd_welcome_foreach_device(w->store, maria, collect, &seen), 0);
    assert_int_equal(seen.n, 2);

    /* Bob cannot switch off her phone, nor can she his. */
    assert_int_equal(nbd_device_revoke_own(w->store, bob, bobs, a, 1400), NB_ENOENT);
    assert_int_equal(nbd_device_revoke_own(w->store, maria, tablet, c, 1400), NB_ENOENT);
    assert_int_equal(nbd_welcome_admitted(w->store, maria, phone), 1);
    assert_int_equal(nbd_welcome_admitted(w->store, bob, bobs), 1);
    /* Nor with a device that is not hers. */
    assert_int_equal(nbd_device_revoke_own(w->store, maria, bobs, a, 1400), NB_EPERM);

    /* From the tablet she switches off the phone; the tablet keeps working. */
    assert_int_equal(nbd_device_revoke_own(w->store, maria, tablet, a, 1500), 0);
    assert_int_equal(nbd_welcome_admitted(w->store, maria, phone), 0);
    assert_int_equal(nbd_welcome_admitted(w->store, maria, tablet), 1);
    assert_int_equal(nbd_device_revoke_own(w->store, maria, tablet, a, 1501), NB_ENOENT);
    /* The phone, switched off, cannot switch off the tablet. */
    assert_int_equal(nbd_device_revoke_own(w->store, maria, phone, b, 1502), NB_EPERM);
    assert_int_equal(nbd_welcome_admitted(w->store, maria, tablet), 1);
    seen.n = 0;
    assert_int_equal(nbd_welcome_foreach_device(w->store, maria, collect, &seen), 0);
    assert_int_equal(seen.n, 2);
    assert_true(seen.revoked[0]);
    assert_false(seen.revoked[1]);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(a_link_admits_one_browser_once, setup, teardown),
        cmocka_unit_test_setup_teardown(the_store_keeps_no_usable_token, setup, teardown),
        cmocka_unit_test_setup_teardown(a_device_hands_a_link_to_the_next, setup, teardown),
        cmocka_unit_test_setup_teardown(a_browser_of_before_device_keys_keeps_working, setup,
                                        teardown),
        cmocka_unit_test_setup_teardown(a_member_switches_off_only_their_own_devices, setup,
                                        teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
