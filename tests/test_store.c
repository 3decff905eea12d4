/*
 * The node's store and the rules it applies before storing a record.
 *
 * Ann asks for help with groceries, Bob responds, Cas tries things he may
 * not do.  Every record is really signed, so these tests go through the
 * same decode/verify/validate path as a record from the control socket.
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
#include <noaber/identity.h>
#include <noaber/record.h>
#include <noaber/state.h>

#include "daemon/node.h"
#include "daemon/store/store.h"
#include "daemon/store/store_tally.h"
#include "tests/fixture.h"

#define GRACE (24u * 3600)

struct world {
    char dir[64];
    char path[128];
    struct nbd_store *store;
    struct nbd_node node;
    struct member ann, bob, cas;
    size_t accepted; /* hook calls */
};

static void on_accept(void *ctx, const uint8_t id[NB_ID_SIZE], const uint8_t *bytes, size_t len,
                      const struct nb_record *rec, const struct nbd_origin *origin)
{
    struct world *w = ctx;
    (void)id;
    (void)bytes;
    (void)len;
    (void)rec;
    (void)origin;
    w->accepted++;
}

static void open_store(struct world *w)
{
    char err[1024] = "";
    int r = nbd_store_open(w->path, &w->store, err, sizeof(err));
    if (r != 0)
        fail_msg("%s", err);
    assert_int_equal(nbd_node_init(&w->node, w->store, GRACE), 0);
    assert_int_equal(nbd_node_add_hook(&w->node, on_accept, w), 0);
}

static int setup(void **state)
{
    struct world *w = calloc(1, sizeof(*w));
    assert_non_null(w);
    assert_int_equal(nb_init(), 0);
    tmpdir_make(w->dir, sizeof(w->dir), "store");
    snprintf(w->path, sizeof(w->path), "%s/store.sqlite", w->dir);
    member(&w->ann, 'a');
    member(&w->bob, 'b');
    member(&w->cas, 'c');
    open_store(w);
    *state = w;
    return 0;
}

static void close_store(struct world *w)
{
    nbd_node_clear(&w->node);
    nbd_store_close(w->store);
    w->store = NULL;
}

static int teardown(void **state)
{
    struct world *w = *state;
    if (w->store != NULL)
        close_store(w);
    tmpdir_remove(w->dir);
    free(w);
    return 0;
}

static void create_neighbourhood(struct world *w)
{
    struct nbd_verdict v;
    assert_int_equal(nbd_node_create_neighbourhood(&w->node, "Marollen", 8, &v), 0);
}

static void request(struct world *w, const struct member *m, uint64_t created_at,
                    uint64_t expires_at, const char *title, struct blob *out)
{
    make_request(m, w->node.neighbourhood_id, created_at, expires_at, title, out);
}

/* A record that only names a target (response, withdrawal, retraction, ...). */
static void acting(struct world *w, const struct member *m, unsigned kind, uint64_t created_at,
                   const uint8_t target[NB_ID_SIZE], const struct member *who, struct blob *out)
{
    make_acting(m, w->node.neighbourhood_id, kind, created_at, target, who, out);
}

/* What the node answered, as the control API or a peer link sees it. */
struct said {
    enum nbd_accept_verdict verdict;
    const char *error; /* the control API's code, NULL when accepted */
    struct nbd_accept_report why;
};

/* Hands a record in as a client (link NULL) or from the peer link `link`. */
static enum nbd_accept_verdict hand_in(struct world *w, const struct blob *b, uint64_t now,
                                       struct nbd_origin origin, struct said *s)
{
    s->verdict = nbd_node_accept(&w->node, b->bytes, b->len, b->id, now, origin, &s->why);
    s->error = nbd_accept_error(s->verdict);
    return s->verdict;
}

static enum nbd_accept_verdict from_peer(struct world *w, const struct blob *b, uint64_t now,
                                         struct said *s)
{
    static const int link = 1; /* any address stands for the link */
    return hand_in(w, b, now, NBD_FROM_PEER(&link), s);
}

static void assert_ok(struct world *w, const struct blob *b, uint64_t now)
{
    struct said s;
    if (hand_in(w, b, now, NBD_FROM_CLIENT, &s) != NBD_ACCEPTED)
        fail_msg("refused: %s: %s", s.error, s.why.message);
}

static void assert_refused(struct world *w, const struct blob *b, uint64_t now, const char *error,
                           const char *message)
{
    struct said s;
    assert_int_not_equal(hand_in(w, b, now, NBD_FROM_CLIENT, &s), NBD_ACCEPTED);
    assert_string_equal(s.error, error);
    if (message != NULL)
        assert_string_equal(s.why.message, message);
}

static const char *status_of(struct world *w, const uint8_t id[NB_ID_SIZE], uint64_t now)
{
    uint8_t buf[NB_RECORD_MAX];
    struct nbd_store_record row;
    struct nb_state st;
    assert_int_equal(nbd_store_get(w->store, id, &row, buf), 0);
    assert_int_equal(nbd_node_derive(&w->node, &row, now, &st), 0);
    const char *name = nb_status_name(st.status);
    nb_state_free(&st);
    return name;
}

static uint64_t count_records(struct world *w)
{
    uint64_t n = 99;
    assert_int_equal(nbd_store_count(w->store, &n, NULL), 0);
    return n;
}

/* ---- the store alone ---------------------------------------------------- */

/*
 * A row that is not a record but whose id is its bytes' hash, as the store
 * checks on every read: the payload plus a counter, counted up until the id
 * starts with `first` (and `second`, unless that is 0: some 65 000 hashes
 * instead of 256), so tests still choose where a row sorts.  The bytes live in a small ring, long
 * enough for a row to be inserted.
 */
static void fake_row(struct nbd_store_record *row, uint8_t first, uint8_t second, unsigned kind,
                     uint64_t created_at, const uint8_t *payload)
{
    static uint8_t ring[16][7];
    static size_t next;
    uint8_t *bytes = ring[next++ % 16];
    memset(row, 0, sizeof(*row));
    memcpy(bytes, payload, 3);
    for (uint32_t n = 0;; n++) {
        memcpy(bytes + 3, &n, sizeof(n));
        nb_record_id(bytes, 7, row->id);
        if (row->id[0] == first && (second == 0 || row->id[1] == second))
            break;
    }
    row->kind = (uint8_t)kind;
    row->author[0] = 0xaa;
    row->created_at = created_at;
    row->bytes = bytes;
    row->len = 7;
}

static void insert_get_and_duplicates(void **state)
{
    struct world *w = *state;
    static const uint8_t payload[3] = { 1, 2, 3 };
    struct nbd_store_record row, got;
    uint8_t buf[NB_RECORD_MAX];

    fake_row(&row, 0x12, 0x34, NB_KIND_REQUEST, T0, payload);
    row.has_expiry = true;
    row.expires_at = T0 + 60;
    assert_int_equal(nbd_store_insert(w->store, &row), 0);
    assert_int_equal(nbd_store_insert(w->store, &row), NB_EEXIST);
    assert_int_equal(nbd_store_has(w->store, row.id), 1);
    assert_int_equal(nbd_store_get(w->store, row.id, &got, buf), 0);
    assert_memory_equal(got.id, row.id, NB_ID_SIZE);
    assert_int_equal(got.kind, NB_KIND_REQUEST);
    assert_int_equal(got.created_at, T0);
    assert_true(got.has_expiry);
    assert_int_equal(got.expires_at, T0 + 60);
    assert_false(got.has_target);
    assert_int_equal(got.len, 7);
    assert_memory_equal(got.bytes, payload, 3);

    uint8_t other[NB_ID_SIZE] = { 0x99 };
    assert_int_equal(nbd_store_get(w->store, other, &got, buf), NB_ENOENT);
    assert_int_equal(nbd_store_has(w->store, other), 0);
    assert_int_equal(count_records(w), 1);
    assert_int_equal(nbd_store_schema_version(w->store), NBD_STORE_SCHEMA_VERSION);
}

static void id_prefixes(void **state)
{
    struct world *w = *state;
    static const uint8_t payload[3] = { 1, 2, 3 };
    struct nbd_store_record row;
    uint8_t id[NB_ID_SIZE];

    fake_row(&row, 0xab, 0xcd, NB_KIND_REQUEST, T0, payload);
    row.id[2] = 0x01;
    assert_int_equal(nbd_store_insert(w->store, &row), 0);
    row.id[2] = 0x02;
    assert_int_equal(nbd_store_insert(w->store, &row), 0);
    fake_row(&row, 0xff, 0xff, NB_KIND_OFFER, T0, payload);
    assert_int_equal(nbd_store_insert(w->store, &row), 0);

    assert_int_equal(nbd_store_find_prefix(w->store, "abcd", id), NB_EAMBIGUOUS);
    assert_int_equal(nbd_store_find_prefix(w->store, "ABCD02", id), 0);
    assert_int_equal(id[2], 0x02);
    assert_int_equal(nbd_store_find_prefix(w->store, "abcd0", id), NB_EAMBIGUOUS);
    assert_int_equal(nbd_store_find_prefix(w->store, "abcd03", id), NB_ENOENT);
    assert_int_equal(nbd_store_find_prefix(w->store, "ffff", id), 0); /* no upper bound */
    assert_int_equal(id[0], 0xff);
    assert_int_equal(nbd_store_find_prefix(w->store, "abc", id), NB_EINVAL);
    assert_int_equal(nbd_store_find_prefix(w->store, "abcz", id), NB_EINVAL);
}

struct seen {
    uint8_t first[16];
    size_t n;
};

static int see(void *ctx, const struct nbd_store_record *rec)
{
    struct seen *s = ctx;
    if (s->n < sizeof(s->first))
        s->first[s->n] = rec->id[0];
    s->n++;
    return 0;
}

static void listing_is_newest_first_and_filtered(void **state)
{
    struct world *w = *state;
    static const uint8_t payload[3] = { 1, 2, 3 };
    struct nbd_store_record row;
    struct seen s = { .n = 0 };

    fake_row(&row, 1, 0, NB_KIND_REQUEST, T0 + 1, payload);
    assert_int_equal(nbd_store_insert(w->store, &row), 0);
    fake_row(&row, 2, 0, NB_KIND_OFFER, T0 + 3, payload);
    row.author[0] = 0xbb;
    assert_int_equal(nbd_store_insert(w->store, &row), 0);
    fake_row(&row, 3, 0, NB_KIND_RESPONSE, T0 + 2, payload);
    assert_int_equal(nbd_store_insert(w->store, &row), 0);
    uint8_t after[NB_ID_SIZE];
    memcpy(after, row.id, NB_ID_SIZE);
    fake_row(&row, 4, 0, NB_KIND_REQUEST, T0 + 2, payload);
    assert_int_equal(nbd_store_insert(w->store, &row), 0);

    assert_int_equal(nbd_store_foreach_newest(w->store, 0, NULL, see, &s), 0);
    assert_int_equal(s.n, 3); /* requests and offers only */
    assert_int_equal(s.first[0], 2);
    assert_int_equal(s.first[1], 4);
    assert_int_equal(s.first[2], 1);

    s.n = 0;
    assert_int_equal(nbd_store_foreach_newest(w->store, NB_KIND_RESPONSE, NULL, see, &s), 0);
    assert_int_equal(s.n, 1);
    assert_int_equal(s.first[0], 3);

    uint8_t author[NB_KEY_SIZE] = { 0xbb };
    s.n = 0;
    assert_int_equal(nbd_store_foreach_newest(w->store, 0, author, see, &s), 0);
    assert_int_equal(s.n, 1);
    assert_int_equal(s.first[0], 2);

    /* (created_at, id) order, resumable after a given position. */
    s.n = 0;
    assert_int_equal(nbd_store_foreach_ordered(w->store, T0 + 2, after, see, &s), 0);
    assert_int_equal(s.n, 2);
    assert_int_equal(s.first[0], 4);
    assert_int_equal(s.first[1], 2);
}

static void purged_trees_leave_tombstones(void **state)
{
    struct world *w = *state;
    static const uint8_t payload[3] = { 1, 2, 3 };
    struct nbd_store_record root, resp, wd, other;
    uint64_t n = 0, tomb = 0;

    fake_row(&root, 1, 0, NB_KIND_REQUEST, T0, payload);
    root.has_expiry = true;
    root.expires_at = T0 + 100;
    fake_row(&resp, 2, 0, NB_KIND_RESPONSE, T0 + 1, payload);
    resp.has_target = resp.has_root = true;
    memcpy(resp.target, root.id, NB_ID_SIZE);
    memcpy(resp.root, root.id, NB_ID_SIZE);
    fake_row(&wd, 3, 0, NB_KIND_WITHDRAWAL, T0 + 2, payload);
    wd.has_target = wd.has_root = true;
    memcpy(wd.target, resp.id, NB_ID_SIZE);
    memcpy(wd.root, root.id, NB_ID_SIZE);
    fake_row(&other, 4, 0, NB_KIND_REQUEST, T0, payload);
    other.has_expiry = true;
    other.expires_at = T0 + 10 * GRACE;
    assert_int_equal(nbd_store_insert(w->store, &root), 0);
    assert_int_equal(nbd_store_insert(w->store, &resp), 0);
    assert_int_equal(nbd_store_insert(w->store, &wd), 0);
    assert_int_equal(nbd_store_insert(w->store, &other), 0);

    /* Retracting the response takes its withdrawal along, not the request. */
    assert_int_equal(nbd_store_begin(w->store), 0);
    assert_int_equal(nbd_store_purge_tree(w->store, resp.id, true, T0 + 100, &n), 0);
    assert_int_equal(nbd_store_commit(w->store), 0);
    assert_int_equal(n, 2);
    assert_int_equal(nbd_store_has(w->store, resp.id), 0);
    assert_int_equal(nbd_store_has(w->store, wd.id), 0);
    assert_int_equal(nbd_store_is_tombstoned(w->store, resp.id), 1);
    assert_int_equal(nbd_store_is_tombstoned(w->store, wd.id), 1);
    assert_int_equal(nbd_store_has(w->store, root.id), 1);

    /* Within the grace period nothing expires. */
    assert_int_equal(
        nbd_store_purge_expired(w->store, T0 + 100 + GRACE, GRACE, NULL, NULL, &n, &tomb), 0);
    assert_int_equal(n, 0);
    assert_int_equal(count_records(w), 2);

    /* After it the request goes, leaving a tombstone until the next pass;
     * the response's tombstones (until the request's expiry) are dropped. */
    assert_int_equal(
        nbd_store_purge_expired(w->store, T0 + 101 + GRACE, GRACE, NULL, NULL, &n, &tomb), 0);
    assert_int_equal(n, 1);
    assert_int_equal(tomb, 2);
    assert_int_equal(count_records(w), 1);
    assert_int_equal(nbd_store_is_tombstoned(w->store, root.id), 1);
    assert_int_equal(nbd_store_is_tombstoned(w->store, resp.id), 0);
    assert_int_equal(
        nbd_store_purge_expired(w->store, T0 + 102 + GRACE, GRACE, NULL, NULL, &n, &tomb), 0);
    assert_int_equal(tomb, 1);
    assert_int_equal(nbd_store_is_tombstoned(w->store, root.id), 0);
    assert_int_equal(nbd_store_has(w->store, other.id), 1);
}

/* A row as version 1 stored it; its bytes are the one byte `n`, and its
 * id (and a target's) is the hash of those bytes, as every read checks. */
static void insert_v1(sqlite3 *db, uint8_t n, unsigned kind, int64_t created_at, uint8_t target)
{
    uint8_t id[NB_ID_SIZE], tid[NB_ID_SIZE], author[NB_KEY_SIZE] = { 0 };
    sqlite3_stmt *st;
    nb_record_id(&n, 1, id);
    nb_record_id(&target, 1, tid);
    assert_int_equal(sqlite3_prepare_v2(db,
                                        "INSERT INTO records(id, kind, author, created_at, target,"
                                        " bytes) VALUES (?1, ?2, ?3, ?4, ?5, ?6)",
                                        -1, &st, NULL),
                     SQLITE_OK);
    sqlite3_bind_blob(st, 6, &n, 1, SQLITE_STATIC);
    sqlite3_bind_blob(st, 1, id, sizeof(id), SQLITE_STATIC);
    sqlite3_bind_int(st, 2, (int)kind);
    sqlite3_bind_blob(st, 3, author, sizeof(author), SQLITE_STATIC);
    sqlite3_bind_int64(st, 4, created_at);
    if (target != 0)
        sqlite3_bind_blob(st, 5, tid, sizeof(tid), SQLITE_STATIC);
    assert_int_equal(sqlite3_step(st), SQLITE_DONE);
    sqlite3_finalize(st);
}

static void exec_sql(sqlite3 *db, const char *sql)
{
    char *msg = NULL;
    if (sqlite3_exec(db, sql, NULL, NULL, &msg) != SQLITE_OK)
        fail_msg("%s: %s", sql, msg);
}

static void a_version_1_store_is_migrated(void **state)
{
    struct world *w = *state;
    char path[160];
    char err[1024] = "";
    sqlite3 *db;
    struct nbd_store *s;

    /* Version 1 as it was published: no root column. */
    snprintf(path, sizeof(path), "%s/old.sqlite", w->dir);
    assert_int_equal(sqlite3_open(path, &db), SQLITE_OK);
    exec_sql(db, "CREATE TABLE records (id BLOB NOT NULL UNIQUE, kind INTEGER NOT NULL,"
                 " author BLOB NOT NULL, created_at INTEGER NOT NULL, expires_at INTEGER,"
                 " target BLOB, bytes BLOB NOT NULL);"
                 "CREATE INDEX records_order ON records(created_at, id);"
                 "CREATE TABLE tombstones (id BLOB PRIMARY KEY NOT NULL, until INTEGER);"
                 "CREATE TABLE meta (key TEXT PRIMARY KEY NOT NULL, value BLOB NOT NULL);"
                 "PRAGMA user_version = 1;");
    insert_v1(db, 1, NB_KIND_REQUEST, 10, 0);
    insert_v1(db, 2, NB_KIND_RESPONSE, 11, 1);
    insert_v1(db, 3, NB_KIND_WITHDRAWAL, 12, 2);
    sqlite3_close(db);

    int r = nbd_store_open(path, &s, err, sizeof(err));
    if (r != 0)
        fail_msg("%s", err);
    assert_int_equal(nbd_store_schema_version(s), NBD_STORE_SCHEMA_VERSION);
    uint8_t root[NB_ID_SIZE];
    nb_record_id((const uint8_t[]){ 1 }, 1, root);
    struct seen seen = { .n = 0 };
    assert_int_equal(nbd_store_foreach_in_root(s, root, see, &seen), 0);
    assert_int_equal(seen.n, 2); /* the response and, through it, the withdrawal */
    /* Version 3's block list is there too. */
    uint8_t author[NB_KEY_SIZE] = { 0 };
    assert_int_equal(nbd_store_block_add(s, author, 10), 0);
    assert_int_equal(nbd_store_is_blocked(s, author), 1);
    nbd_store_close(s);
}

static int count_blocked(void *ctx, const uint8_t author[NB_KEY_SIZE], uint64_t since)
{
    (void)author;
    (void)since;
    (*(size_t *)ctx)++;
    return 0;
}

static void a_version_2_store_gains_the_block_list(void **state)
{
    struct world *w = *state;
    char path[160];
    char err[1024] = "";
    sqlite3 *db;
    struct nbd_store *s;

    /* A store as version 2 left it: this version's schema without the
     * block list, holding a record. */
    snprintf(path, sizeof(path), "%s/v2.sqlite", w->dir);
    assert_int_equal(nbd_store_open(path, &s, err, sizeof(err)), 0);
    uint8_t payload[3] = { 1, 2, 3 };
    struct nbd_store_record row;
    fake_row(&row, 7, 7, NB_KIND_REQUEST, 100, payload);
    assert_int_equal(nbd_store_insert(s, &row), 0);
    nbd_store_close(s);
    assert_int_equal(sqlite3_open(path, &db), SQLITE_OK);
    exec_sql(db, "DROP TABLE blocked; DROP TABLE welcome_tokens; DROP TABLE devices;"
                 " DROP TABLE report_tallies; DROP TABLE report_delays;"
                 " ALTER TABLE tombstones DROP COLUMN author;"
                 "PRAGMA user_version = 2;");
    sqlite3_close(db);

    int r = nbd_store_open(path, &s, err, sizeof(err));
    if (r != 0)
        fail_msg("%s", err);
    assert_int_equal(nbd_store_schema_version(s), NBD_STORE_SCHEMA_VERSION);
    assert_int_equal(nbd_store_has(s, row.id), 1);
    size_t n = 0;
    assert_int_equal(nbd_store_foreach_blocked(s, count_blocked, &n), 0);
    assert_int_equal(n, 0);
    assert_int_equal(nbd_store_block_add(s, row.author, 200), 0);
    assert_int_equal(nbd_store_foreach_blocked(s, count_blocked, &n), 0);
    assert_int_equal(n, 1);
    nbd_store_close(s);
}

/*
 * Version 3 tombstoned the target of any peer's retraction it did not hold.
 * Version 4 lets the retraction decide when the target arrives: those
 * tombstones go, other tombstones stay, and every tombstone gains an
 * author column.
 */
static void a_version_3_store_lets_waiting_retractions_decide(void **state)
{
    struct world *w = *state;
    struct blob req, bogus;
    struct said v;
    sqlite3 *db;
    create_neighbourhood(w);
    request(w, &w->ann, T0, T0 + 7200, "help with a form", &req);
    acting(w, &w->cas, NB_KIND_RETRACTION, T0 + 1, req.id, NULL, &bogus);
    assert_int_equal(from_peer(w, &bogus, T0 + 1, &v), NBD_ACCEPTED);
    close_store(w);

    /* The store as version 3 left it. */
    assert_int_equal(sqlite3_open(w->path, &db), SQLITE_OK);
    exec_sql(db, "DROP TABLE welcome_tokens; DROP TABLE devices;"
                 " DROP TABLE report_tallies; DROP TABLE report_delays;"
                 " ALTER TABLE tombstones DROP COLUMN author; PRAGMA user_version = 3;");
    sqlite3_stmt *st;
    uint8_t other[NB_ID_SIZE];
    memset(other, 0x77, sizeof(other));
    assert_int_equal(sqlite3_prepare_v2(db, "INSERT INTO tombstones(id, until) VALUES (?1, NULL)",
                                        -1, &st, NULL),
                     SQLITE_OK);
    sqlite3_bind_blob(st, 1, req.id, NB_ID_SIZE, SQLITE_STATIC);
    assert_int_equal(sqlite3_step(st), SQLITE_DONE);
    sqlite3_reset(st);
    sqlite3_bind_blob(st, 1, other, NB_ID_SIZE, SQLITE_STATIC);
    assert_int_equal(sqlite3_step(st), SQLITE_DONE);
    sqlite3_finalize(st);
    sqlite3_close(db);

    open_store(w);
    assert_int_equal(nbd_store_schema_version(w->store), NBD_STORE_SCHEMA_VERSION);
    assert_int_equal(nbd_store_is_tombstoned(w->store, req.id), 0);
    struct nbd_tombstone tomb;
    assert_int_equal(nbd_store_tombstone_get(w->store, other, &tomb), 0);
    assert_false(tomb.has_author);
    assert_false(tomb.has_until);
    /* Ann's request arrives: Cas's retraction could never apply. */
    assert_int_equal(from_peer(w, &req, T0 + 2, &v), NBD_ACCEPTED);
    assert_int_equal(nbd_store_has(w->store, bogus.id), 0);
    assert_int_equal(nbd_store_is_tombstoned(w->store, bogus.id), 1);
}

static int collect_tally(void *ctx, const struct nbd_tally *t)
{
    struct nbd_tally *sum = ctx;
    sum->posted += t->posted;
    sum->helped += t->helped;
    sum->expired_unhelped += t->expired_unhelped;
    sum->first_response += t->has_first_response ? t->first_response : 0;
    sum->assignment += t->has_assignment ? 1 : 0;
    snprintf(sum->area, sizeof(sum->area), "%s", t->area);
    return 0;
}

/* Version 5 had no tallies: the migration adds them, and purged requests
 * add up by month, category and area. */
static void a_version_5_store_gains_the_report_tallies(void **state)
{
    struct world *w = *state;
    char path[160];
    char err[1024] = "";
    sqlite3 *db;
    struct nbd_store *s;

    snprintf(path, sizeof(path), "%s/v5.sqlite", w->dir);
    assert_int_equal(nbd_store_open(path, &s, err, sizeof(err)), 0);
    nbd_store_close(s);
    assert_int_equal(sqlite3_open(path, &db), SQLITE_OK);
    exec_sql(db, "DROP TABLE report_tallies; DROP TABLE report_delays; PRAGMA user_version = 5;");
    sqlite3_close(db);
    int r = nbd_store_open(path, &s, err, sizeof(err));
    if (r != 0)
        fail_msg("%s", err);
    assert_int_equal(nbd_store_schema_version(s), NBD_STORE_SCHEMA_VERSION);

    struct nbd_tally helped = { .month = "2026-11",
                                .category = "groceries",
                                .area = "Zavel",
                                .posted = 1,
                                .helped = 1,
                                .has_first_response = true,
                                .first_response = 60,
                                .has_assignment = true,
                                .assignment = 90 };
    struct nbd_tally unhelped = { .month = "2026-11",
                                  .category = "groceries",
                                  .area = "Zavel",
                                  .posted = 1,
                                  .expired_unhelped = 1 };
    struct nbd_tally older = {
        .month = "2026-10", .category = "groceries", .area = "Zavel", .posted = 1, .helped = 1
    };
    assert_int_equal(nbd_store_tally_add(s, &helped), 0);
    assert_int_equal(nbd_store_tally_add(s, &unhelped), 0);
    assert_int_equal(nbd_store_tally_add(s, &older), 0);
    struct nbd_tally sum = { .posted = 0 };
    assert_int_equal(nbd_store_foreach_tally(s, "2026-11", collect_tally, &sum), 0);
    assert_int_equal(sum.posted, 2);
    assert_int_equal(sum.helped, 1);
    assert_int_equal(sum.expired_unhelped, 1);
    assert_int_equal(sum.first_response, 60);
    assert_int_equal(sum.assignment, 1);
    assert_string_equal(sum.area, "Zavel");
    memset(&sum, 0, sizeof(sum));
    assert_int_equal(nbd_store_foreach_tally(s, "", collect_tally, &sum), 0);
    assert_int_equal(sum.posted, 3);
    nbd_store_close(s);
}

static void a_store_from_a_newer_noaberd_is_refused(void **state)
{
    struct world *w = *state;
    char path[160];
    char err[1024] = "";
    sqlite3 *db;
    struct nbd_store *s = NULL;

    snprintf(path, sizeof(path), "%s/new.sqlite", w->dir);
    assert_int_equal(sqlite3_open(path, &db), SQLITE_OK);
    exec_sql(db, "PRAGMA user_version = 99;");
    sqlite3_close(db);
    assert_int_equal(nbd_store_open(path, &s, err, sizeof(err)), NB_EIO);
    assert_null(s);
    assert_non_null(strstr(err, "schema version 99, newer than this noaberd knows"));
}

static void write_file(const char *path, const void *data, size_t len, long offset)
{
    FILE *f = fopen(path, offset < 0 ? "wb" : "r+b");
    assert_non_null(f);
    if (offset > 0)
        assert_int_equal(fseek(f, offset, SEEK_SET), 0);
    assert_int_equal(fwrite(data, 1, len, f), len);
    fclose(f);
}

static void a_corrupted_store_is_an_error_not_a_crash(void **state)
{
    struct world *w = *state;
    char path[160];
    char err[1024] = "";
    struct nbd_store *s = NULL;

    /* Not a database at all. */
    snprintf(path, sizeof(path), "%s/garbage.sqlite", w->dir);
    char junk[8192];
    memset(junk, 'x', sizeof(junk));
    write_file(path, junk, sizeof(junk), -1);
    assert_int_equal(nbd_store_open(path, &s, err, sizeof(err)), NB_EIO);
    assert_null(s);
    assert_non_null(strstr(err, path));
    assert_non_null(strstr(err, "not a database"));

    /* A real store with damaged pages. */
    create_neighbourhood(w);
    for (unsigned i = 0; i < 200; i++) {
        struct blob b;
        char title[32];
        snprintf(title, sizeof(title), "groceries %u", i);
        /* Spread out, as one member's records are (the quota per hour). */
        request(w, &w->ann, T0 + i * 600, T0 + 7 * 24 * 3600, title, &b);
        assert_ok(w, &b, T0 + i * 600);
    }
    close_store(w);
    memset(junk, 0x5a, sizeof(junk));
    write_file(w->path, junk, sizeof(junk), 3 * 4096);
    err[0] = '\0';
    assert_int_equal(nbd_store_open(w->path, &s, err, sizeof(err)), NB_EIO);
    assert_null(s);
    assert_non_null(strstr(err, w->path));
}

/* How many of the store's indexes exist, among the names given. */
static int indexes_present(struct nbd_store *s, const char *names)
{
    sqlite3_stmt *st;
    char sql[256];
    snprintf(sql, sizeof(sql),
             "SELECT count(*) FROM sqlite_master WHERE type = 'index' AND name IN (%s)", names);
    assert_int_equal(sqlite3_prepare_v2(nbd_store_db(s), sql, -1, &st, NULL), SQLITE_OK);
    assert_int_equal(sqlite3_step(st), SQLITE_ROW);
    int n = sqlite3_column_int(st, 0);
    sqlite3_finalize(st);
    return n;
}

#define DEFERRABLE "'records_order', 'records_kind', 'records_expiry'"

/* Newest first, as a listing shows them: the ids' first bytes. */
static void newest_requests(struct world *w, struct seen *seen)
{
    memset(seen, 0, sizeof(*seen));
    assert_int_equal(nbd_store_foreach_newest(w->store, NB_KIND_REQUEST, NULL, see, seen), 0);
}

/*
 * Version 6 kept the author's and the kind's indexes with the id in the key;
 * version 7 narrows them.  The records, listings and the quota's counts are
 * the same after the migration.
 */
static void a_version_6_store_is_migrated(void **state)
{
    struct world *w = *state;
    struct blob b[3];
    create_neighbourhood(w);
    request(w, &w->ann, T0, T0 + 7200, "help with a form", &b[0]);
    request(w, &w->ann, T0 + 10, T0 + 7200, "soup on Sunday", &b[1]);
    request(w, &w->bob, T0 + 20, T0 + 7200, "a ladder", &b[2]);
    for (int i = 0; i < 3; i++)
        assert_ok(w, &b[i], T0 + 30);
    struct seen before;
    newest_requests(w, &before);
    close_store(w);

    /* The store as version 6 left it. */
    sqlite3 *db;
    assert_int_equal(sqlite3_open(w->path, &db), SQLITE_OK);
    exec_sql(db, "DROP INDEX records_author;"
                 "CREATE INDEX records_author ON records(author, created_at, id);"
                 "DROP INDEX records_kind;"
                 "CREATE INDEX records_kind ON records(kind, created_at, id);"
                 "PRAGMA user_version = 6;");
    sqlite3_close(db);

    open_store(w);
    assert_int_equal(nbd_store_schema_version(w->store), NBD_STORE_SCHEMA_VERSION);
    sqlite3_stmt *st;
    assert_int_equal(sqlite3_prepare_v2(nbd_store_db(w->store),
                                        "SELECT sql FROM sqlite_master WHERE name IN"
                                        " ('records_author', 'records_kind') ORDER BY name",
                                        -1, &st, NULL),
                     SQLITE_OK);
    assert_int_equal(sqlite3_step(st), SQLITE_ROW);
    assert_string_equal((const char *)sqlite3_column_text(st, 0),
                        "CREATE INDEX records_author ON records(author, created_at)");
    assert_int_equal(sqlite3_step(st), SQLITE_ROW);
    assert_string_equal((const char *)sqlite3_column_text(st, 0),
                        "CREATE INDEX records_kind ON records(kind, created_at)");
    sqlite3_finalize(st);
    for (int i = 0; i < 3; i++)
        assert_int_equal(nbd_store_has(w->store, b[i].id), 1);
    struct seen after;
    newest_requests(w, &after);
    assert_int_equal(after.n, 3);
    assert_memory_equal(after.first, before.first, 3);
    uint64_t n = 0;
    assert_int_equal(nbd_store_count_author(w->store, w->ann.pk, T0, T0 + 3600, &n), 0);
    assert_int_equal(n, 2);
}

/*
 * A large catch-up sets the order, kind and expiry indexes aside and builds
 * them once nothing has been left to fetch for a while; meanwhile the node
 * answers the same.  A node stopped during a catch-up gets them back at its
 * next start.
 */
static void a_large_catch_up_builds_its_indexes_after(void **state)
{
    struct world *w = *state;
    struct blob b[4];
    create_neighbourhood(w);
    request(w, &w->ann, T0, T0 + 60, "help with a form", &b[0]);
    request(w, &w->bob, T0 + 10, T0 + 7200, "soup on Sunday", &b[1]);
    assert_ok(w, &b[0], T0 + 20);
    assert_ok(w, &b[1], T0 + 20);
    assert_int_equal(indexes_present(w->store, DEFERRABLE), 3);

    /* Too few records to come: nothing changes. */
    nbd_node_catching_up(&w->node, NBD_CATCHUP_MIN - 1, 1000);
    assert_int_equal(indexes_present(w->store, DEFERRABLE), 3);
    nbd_node_catching_up(&w->node, NBD_CATCHUP_MIN, 1250);
    assert_int_equal(indexes_present(w->store, DEFERRABLE), 0);

    /* Records arrive and everything answers as before. */
    request(w, &w->cas, T0 + 30, T0 + 7200, "a ladder", &b[2]);
    assert_ok(w, &b[2], T0 + 40);
    struct seen seen;
    newest_requests(w, &seen);
    assert_int_equal(seen.n, 3);
    assert_int_equal(seen.first[0], b[2].id[0]);
    assert_int_equal(seen.first[2], b[0].id[0]);
    memset(&seen, 0, sizeof(seen));
    assert_int_equal(nbd_store_foreach_ordered(w->store, 0, NULL, see, &seen), 0);
    assert_int_equal(seen.n, 3);
    assert_int_equal(seen.first[0], b[0].id[0]);
    uint64_t purged = 0;
    assert_int_equal(nbd_store_purge_expired(w->store, T0 + 61, 0, NULL, NULL, &purged, NULL), 0);
    assert_int_equal(purged, 1);
    assert_int_equal(nbd_store_has(w->store, b[0].id), 0);

    /* Nothing left to fetch, but not for long enough yet. */
    nbd_node_catching_up(&w->node, 0, 1500);
    nbd_node_catching_up(&w->node, 0, 1500 + NBD_CATCHUP_SETTLE_MS - 1);
    assert_int_equal(indexes_present(w->store, DEFERRABLE), 0);
    nbd_node_catching_up(&w->node, 0, 1500 + NBD_CATCHUP_SETTLE_MS);
    assert_int_equal(indexes_present(w->store, DEFERRABLE), 3);

    /* Stopped in the middle of the next one. */
    nbd_node_catching_up(&w->node, NBD_CATCHUP_MIN, 9000);
    assert_int_equal(indexes_present(w->store, DEFERRABLE), 0);
    close_store(w);
    open_store(w);
    assert_int_equal(indexes_present(w->store, DEFERRABLE), 3);
    newest_requests(w, &seen);
    assert_int_equal(seen.n, 2);
}

/*
 * noaberd opens its store without reading every page and checks them beside
 * its loop (nbd_store_check), which finds damage that opening did not read.
 */
static void a_store_is_checked_beside_its_use(void **state)
{
    struct world *w = *state;
    char err[1024] = "";
    create_neighbourhood(w);
    assert_int_equal(nbd_store_check(w->path, err, sizeof(err)), 0);
    close_store(w);

    sqlite3 *db;
    sqlite3_stmt *st;
    assert_int_equal(sqlite3_open(w->path, &db), SQLITE_OK);
    assert_int_equal(sqlite3_prepare_v2(db,
                                        "SELECT rootpage FROM sqlite_master"
                                        " WHERE name = 'devices_member'",
                                        -1, &st, NULL),
                     SQLITE_OK);
    assert_int_equal(sqlite3_step(st), SQLITE_ROW);
    long page = sqlite3_column_int(st, 0);
    sqlite3_finalize(st);
    sqlite3_close(db);
    char junk[4096];
    memset(junk, 0x5a, sizeof(junk));
    write_file(w->path, junk, sizeof(junk), (page - 1) * 4096);

    struct nbd_store *s = NULL;
    assert_int_equal(nbd_store_open_with(w->path, NBD_STORE_CHECK_LATER, &s, err, sizeof(err)), 0);
    assert_int_equal(nbd_store_check(w->path, err, sizeof(err)), NB_EDAMAGED);
    assert_non_null(strstr(err, w->path));
    assert_non_null(strstr(err, "the store is corrupted"));
    nbd_store_close(s);
    s = NULL;
    /* Opened with the check, it is refused at once. */
    assert_int_equal(nbd_store_open(w->path, &s, err, sizeof(err)), NB_EIO);
    assert_null(s);
}

/* ---- the node's rules ---------------------------------------------------- */

static void without_a_neighbourhood_nothing_is_accepted(void **state)
{
    struct world *w = *state;
    struct blob b;
    request(w, &w->ann, T0, T0 + 3600, "a lift to Saint-Pierre", &b);
    assert_refused(w, &b, T0, "refused",
                   "this node has no neighbourhood yet: run `noaber neighbourhood create NAME` "
                   "first");
    assert_int_equal(w->accepted, 0);
}

static void a_node_has_one_neighbourhood_and_keeps_it(void **state)
{
    struct world *w = *state;
    struct nbd_verdict v;
    uint8_t id[NB_NEIGHBOURHOOD_ID_SIZE];
    create_neighbourhood(w);
    memcpy(id, w->node.neighbourhood_id, sizeof(id));
    assert_int_equal(nbd_node_create_neighbourhood(&w->node, "Other", 5, &v), NB_EEXIST);
    assert_string_equal(v.error, "refused");
    close_store(w);
    open_store(w);
    assert_true(w->node.has_neighbourhood);
    assert_string_equal(w->node.neighbourhood_name, "Marollen");
    assert_memory_equal(w->node.neighbourhood_id, id, sizeof(id));
}

static void a_request_is_stored_once(void **state)
{
    struct world *w = *state;
    struct blob b;
    create_neighbourhood(w);
    request(w, &w->ann, T0, T0 + 3600, "groceries on Friday", &b);
    assert_ok(w, &b, T0 + 5);
    assert_ok(w, &b, T0 + 6); /* the same bytes again: ok, stored once */
    assert_int_equal(w->accepted, 1);
    assert_int_equal(count_records(w), 1);
    assert_string_equal(status_of(w, b.id, T0 + 7), "open");
    assert_string_equal(status_of(w, b.id, T0 + 3600), "expired");
}

static void records_signed_elsewhere_or_broken_are_invalid(void **state)
{
    struct world *w = *state;
    struct blob b;
    create_neighbourhood(w);
    struct nb_record rec;
    memset(&rec, 0, sizeof(rec));
    rec.kind = NB_KIND_PROFILE;
    rec.created_at = T0;
    rec.name = (struct nb_text){ "Ann", 3 };
    NB_SET(&rec, NB_F_NAME);
    uint8_t elsewhere[NB_NEIGHBOURHOOD_ID_SIZE] = { 7 };
    sign_for(&rec, &w->ann, elsewhere, &b);
    assert_refused(w, &b, T0, "invalid_record", nb_strerror(NB_EBADSIG));

    sign_for(&rec, &w->ann, w->node.neighbourhood_id, &b);
    b.bytes[b.len - 1] ^= 1; /* the signature */
    nb_record_id(b.bytes, b.len, b.id);
    assert_refused(w, &b, T0, "invalid_record", nb_strerror(NB_EBADSIG));
    b.len -= 10;
    assert_refused(w, &b, T0, "invalid_record", NULL);

    /* Created an hour in the node's future. */
    rec.created_at = T0 + 3600;
    sign_for(&rec, &w->ann, w->node.neighbourhood_id, &b);
    assert_refused(w, &b, T0, "invalid_record", nb_strerror(NB_EFUTURE));
    assert_int_equal(count_records(w), 0);
}

static void responses_need_their_request_and_the_rules(void **state)
{
    struct world *w = *state;
    struct blob req, resp, own, assign, cancel, late;
    uint8_t nowhere[NB_ID_SIZE] = { 0x42 };
    create_neighbourhood(w);

    acting(w, &w->bob, NB_KIND_RESPONSE, T0, nowhere, NULL, &resp);
    assert_refused(w, &resp, T0, "not_found", "the record this one acts on is not on this node");

    request(w, &w->ann, T0, T0 + 7200, "help with a form in Dutch", &req);
    assert_ok(w, &req, T0);
    acting(w, &w->ann, NB_KIND_RESPONSE, T0 + 1, req.id, NULL, &own);
    assert_refused(w, &own, T0 + 1, "refused", "you cannot respond to your own request");

    acting(w, &w->bob, NB_KIND_RESPONSE, T0 + 2, req.id, NULL, &resp);
    assert_ok(w, &resp, T0 + 2);
    acting(w, &w->ann, NB_KIND_ASSIGNMENT, T0 + 3, req.id, &w->bob, &assign);
    assert_ok(w, &assign, T0 + 3);
    assert_string_equal(status_of(w, req.id, T0 + 4), "assigned");

    acting(w, &w->cas, NB_KIND_CANCELLATION, T0 + 4, req.id, NULL, &cancel);
    assert_refused(w, &cancel, T0 + 4, "refused", "only the requester can cancel this request");
    acting(w, &w->ann, NB_KIND_CANCELLATION, T0 + 5, req.id, NULL, &cancel);
    assert_ok(w, &cancel, T0 + 5);
    assert_string_equal(status_of(w, req.id, T0 + 6), "cancelled");

    acting(w, &w->cas, NB_KIND_RESPONSE, T0 + 6, req.id, NULL, &late);
    assert_refused(w, &late, T0 + 6, "refused", "this request was cancelled");
    assert_int_equal(w->accepted, 4);
}

static void a_retraction_deletes_for_good(void **state)
{
    struct world *w = *state;
    struct blob req, resp, wrong, retract;
    uint8_t buf[NB_RECORD_MAX];
    struct nbd_store_record row;
    create_neighbourhood(w);

    request(w, &w->ann, T0, T0 + 7200, "company for an afternoon", &req);
    assert_ok(w, &req, T0);
    acting(w, &w->bob, NB_KIND_RESPONSE, T0 + 1, req.id, NULL, &resp);
    assert_ok(w, &resp, T0 + 1);

    acting(w, &w->bob, NB_KIND_RETRACTION, T0 + 2, req.id, NULL, &wrong);
    assert_refused(w, &wrong, T0 + 2, "refused", NULL);
    assert_int_equal(nbd_store_has(w->store, req.id), 1);

    acting(w, &w->ann, NB_KIND_RETRACTION, T0 + 3, req.id, NULL, &retract);
    assert_ok(w, &retract, T0 + 3);
    assert_int_equal(nbd_store_get(w->store, req.id, &row, buf), NB_ENOENT);
    assert_int_equal(nbd_store_has(w->store, resp.id), 0);
    assert_int_equal(nbd_store_is_tombstoned(w->store, req.id), 1);
    assert_int_equal(nbd_store_is_tombstoned(w->store, resp.id), 1);
    assert_int_equal(count_records(w), 1); /* the retraction, so peers learn of it */

    /* Neither comes back, whoever offers them again. */
    assert_refused(w, &req, T0 + 4, "gone", NULL);
    assert_refused(w, &resp, T0 + 4, "gone", NULL);
    struct blob again;
    acting(w, &w->cas, NB_KIND_RESPONSE, T0 + 5, req.id, NULL, &again);
    assert_refused(w, &again, T0 + 5, "gone", NULL);

    /* The retraction itself goes when the request would have expired. */
    uint64_t n = 0;
    assert_int_equal(nbd_node_purge(&w->node, T0 + 7200 + GRACE + 1, &n, NULL), 0);
    assert_int_equal(count_records(w), 0);
}

static void expired_requests_are_purged_with_their_timeline(void **state)
{
    struct world *w = *state;
    struct blob req, resp, old;
    create_neighbourhood(w);
    request(w, &w->ann, T0, T0 + 3600, "a lift to the hospital", &req);
    assert_ok(w, &req, T0);
    acting(w, &w->bob, NB_KIND_RESPONSE, T0 + 1, req.id, NULL, &resp);
    assert_ok(w, &resp, T0 + 1);

    uint64_t n = 0;
    assert_int_equal(nbd_node_purge(&w->node, T0 + 3600 + GRACE, &n, NULL), 0);
    assert_int_equal(n, 0);
    assert_string_equal(status_of(w, req.id, T0 + 3600 + GRACE), "expired");
    assert_int_equal(nbd_node_purge(&w->node, T0 + 3601 + GRACE, &n, NULL), 0);
    assert_int_equal(n, 2);
    assert_int_equal(count_records(w), 0);
    assert_refused(w, &req, T0 + 3602 + GRACE, "gone", NULL);

    /* A request whose purge time passed before it arrived is not stored:
     * from a peer it is gone; from a member's program, a new post already
     * expired, it says that the clocks disagree, never "retracted". */
    request(w, &w->cas, T0, T0 + 60, "old news", &old);
    struct said s;
    assert_refused(w, &old, T0 + 61 + GRACE, "refused", NULL);
    assert_int_equal(hand_in(w, &old, T0 + 61 + GRACE, NBD_FROM_CLIENT, &s), NBD_REFUSED);
    assert_null(strstr(s.why.message, "retracted"));
    assert_non_null(strstr(s.why.message, "clock"));
    assert_int_equal(from_peer(w, &old, T0 + 61 + GRACE, &s), NBD_GONE);
}

/*
 * Ann's request is done: Bob helped and Ann confirmed.  The sealed contact
 * and everything else about it go purge_grace after the confirmation, long
 * before the request would have expired, and stay out.  Cas cancels hers:
 * the same.  An open request of Ann's stays.
 */
static void ended_requests_go_a_grace_after_they_end(void **state)
{
    struct world *w = *state;
    struct blob req, resp, assign, done, confirm, other, cancel, open;
    struct nb_record rec;
    static const uint8_t sealed[64] = { 1 };
    create_neighbourhood(w);
    request(w, &w->ann, T0, T0 + 30u * 24 * 3600, "groceries", &req);
    assert_ok(w, &req, T0);
    acting(w, &w->bob, NB_KIND_RESPONSE, T0 + 1, req.id, NULL, &resp);
    assert_ok(w, &resp, T0 + 1);
    memset(&rec, 0, sizeof(rec));
    rec.kind = NB_KIND_ASSIGNMENT;
    rec.created_at = T0 + 2;
    memcpy(rec.target, req.id, NB_ID_SIZE);
    NB_SET(&rec, NB_F_TARGET);
    memcpy(rec.member, w->bob.pk, NB_KEY_SIZE);
    NB_SET(&rec, NB_F_MEMBER);
    rec.sealed = (struct nb_bytes){ sealed, sizeof(sealed) };
    NB_SET(&rec, NB_F_SEALED);
    sign_for(&rec, &w->ann, w->node.neighbourhood_id, &assign);
    assert_ok(w, &assign, T0 + 2);
    acting(w, &w->bob, NB_KIND_DONE_CLAIM, T0 + 3, req.id, NULL, &done);
    assert_ok(w, &done, T0 + 3);
    acting(w, &w->ann, NB_KIND_CONFIRMATION, T0 + 4, req.id, NULL, &confirm);
    assert_ok(w, &confirm, T0 + 4);

    request(w, &w->cas, T0 + 5, T0 + 30u * 24 * 3600, "a lift", &other);
    assert_ok(w, &other, T0 + 5);
    acting(w, &w->cas, NB_KIND_CANCELLATION, T0 + 6, other.id, NULL, &cancel);
    assert_ok(w, &cancel, T0 + 6);
    request(w, &w->ann, T0 + 7, T0 + 30u * 24 * 3600, "company", &open);
    assert_ok(w, &open, T0 + 7);
    assert_int_equal(count_records(w), 8);

    uint64_t n = 0;
    assert_int_equal(nbd_node_purge(&w->node, T0 + 3 + GRACE, &n, NULL), 0);
    assert_int_equal(n, 0);
    assert_string_equal(status_of(w, req.id, T0 + 3 + GRACE), "done");

    assert_int_equal(nbd_node_purge(&w->node, T0 + 6 + GRACE, &n, NULL), 0);
    assert_int_equal(n, 7);
    assert_int_equal(count_records(w), 1);
    assert_int_equal(nbd_store_has(w->store, open.id), 1);
    assert_int_equal(nbd_store_has(w->store, assign.id), 0);
    assert_int_equal(nbd_store_is_tombstoned(w->store, assign.id), 1);
    assert_refused(w, &req, T0 + 7 + GRACE, "gone", NULL);
    assert_refused(w, &assign, T0 + 7 + GRACE, "gone", NULL);
}

/*
 * Two nodes may see a cancellation and a response in either order; a node
 * that refused the late response from a peer would keep the sets apart
 * forever.  Peers' records get only the order-independent checks.
 */
static void peers_records_skip_the_state_checks(void **state)
{
    struct world *w = *state;
    struct blob req, cancel, late, selfish;
    struct said v;
    create_neighbourhood(w);
    request(w, &w->ann, T0, T0 + 7200, "repairs to a bicycle", &req);
    assert_ok(w, &req, T0);
    acting(w, &w->ann, NB_KIND_CANCELLATION, T0 + 1, req.id, NULL, &cancel);
    assert_ok(w, &cancel, T0 + 1);

    acting(w, &w->bob, NB_KIND_RESPONSE, T0 + 2, req.id, NULL, &late);
    assert_refused(w, &late, T0 + 2, "refused", "this request was cancelled");
    assert_int_equal(from_peer(w, &late, T0 + 2, &v), NBD_ACCEPTED);
    assert_string_equal(status_of(w, req.id, T0 + 3), "cancelled");

    /* What no order can make right is refused from peers too. */
    acting(w, &w->ann, NB_KIND_RESPONSE, T0 + 3, req.id, NULL, &selfish);
    assert_int_equal(from_peer(w, &selfish, T0 + 3, &v), NBD_REFUSED);
    assert_string_equal(v.error, "refused");
}

/* The row of a stored record (its root and expiry as the node placed it). */
static struct nbd_store_record row_of(struct world *w, const uint8_t id[NB_ID_SIZE])
{
    static uint8_t buf[NB_RECORD_MAX];
    struct nbd_store_record row;
    assert_int_equal(nbd_store_get(w->store, id, &row, buf), 0);
    return row;
}

#define KEEP_UNSEEN ((uint64_t)NB_EXPIRY_MAX + NB_FUTURE_SKEW)

/*
 * A node that never saw a request still learns of its author's retraction
 * from a peer and keeps it (so it passes it on); when a node that was away
 * offers the request later, it is refused: the deletion sticks everywhere.
 */
static void an_authors_retraction_before_its_target_sticks(void **state)
{
    struct world *w = *state;
    struct blob req, retract;
    struct said v;
    create_neighbourhood(w);
    request(w, &w->ann, T0, T0 + 7200, "help with a form", &req);
    acting(w, &w->ann, NB_KIND_RETRACTION, T0 + 1, req.id, NULL, &retract);

    /* From a client the target must be here first. */
    assert_refused(w, &retract, T0 + 1, "not_found", NULL);
    assert_int_equal(from_peer(w, &retract, T0 + 1, &v), NBD_ACCEPTED);
    assert_int_equal(nbd_store_has(w->store, retract.id), 1);
    /* Kept for as long as its target could still arrive, and not deciding
     * anything yet: the target is not tombstoned. */
    struct nbd_store_record row = row_of(w, retract.id);
    assert_true(row.has_expiry);
    assert_int_equal(row.expires_at, T0 + 1 + KEEP_UNSEEN);
    assert_int_equal(nbd_store_is_tombstoned(w->store, req.id), 0);

    size_t hooks = w->accepted;
    assert_int_equal(from_peer(w, &req, T0 + 2, &v), NBD_GONE);
    assert_string_equal(v.error, "gone");
    assert_int_equal(w->accepted, hooks); /* not announced, not relayed */
    assert_int_equal(nbd_store_has(w->store, req.id), 0);
    assert_int_equal(nbd_store_is_tombstoned(w->store, req.id), 1);
    assert_int_equal(count_records(w), 1);
    /* The retraction now lives as long as the request would have, as on a
     * node that held the request when the retraction came. */
    row = row_of(w, retract.id);
    assert_false(row.has_root);
    assert_true(row.has_expiry);
    assert_int_equal(row.expires_at, T0 + 7200);
    assert_refused(w, &req, T0 + 3, "gone", NULL);
}

/*
 * Cas retracts Ann's request on a node that has not seen it yet.  The
 * retraction is kept but cannot erase the request: when the request comes,
 * it is stored and announced, and Cas's retraction is deleted and kept out
 * for good.  On a node that held the request first, the retraction is
 * refused and kept out too: both end with the same records.
 */
static void a_retraction_by_another_member_cannot_censor(void **state)
{
    struct world *w = *state;
    struct blob req, bogus, resp, bogus_resp;
    struct said v;
    create_neighbourhood(w);
    request(w, &w->ann, T0, T0 + 7200, "help with a form", &req);
    acting(w, &w->cas, NB_KIND_RETRACTION, T0 + 1, req.id, NULL, &bogus);

    assert_int_equal(from_peer(w, &bogus, T0 + 1, &v), NBD_ACCEPTED);
    size_t hooks = w->accepted;
    assert_int_equal(from_peer(w, &req, T0 + 2, &v), NBD_ACCEPTED);
    assert_int_equal(w->accepted, hooks + 1); /* announced: relayed to peers */
    assert_int_equal(nbd_store_has(w->store, req.id), 1);
    assert_int_equal(nbd_store_has(w->store, bogus.id), 0);
    assert_int_equal(nbd_store_is_tombstoned(w->store, bogus.id), 1);
    assert_string_equal(status_of(w, req.id, T0 + 3), "open");
    /* A peer that still holds the retraction cannot hand it back. */
    assert_int_equal(from_peer(w, &bogus, T0 + 3, &v), NBD_GONE);
    assert_int_equal(count_records(w), 1);

    /* After the target: refused, and from a peer kept out as well. */
    acting(w, &w->bob, NB_KIND_RESPONSE, T0 + 4, req.id, NULL, &resp);
    assert_ok(w, &resp, T0 + 4);
    acting(w, &w->cas, NB_KIND_RETRACTION, T0 + 5, resp.id, NULL, &bogus_resp);
    assert_refused(w, &bogus_resp, T0 + 5, "refused", "only the author of a record can retract it");
    assert_int_equal(nbd_store_is_tombstoned(w->store, bogus_resp.id), 0);
    assert_int_equal(from_peer(w, &bogus_resp, T0 + 5, &v), NBD_REFUSED);
    assert_int_equal(nbd_store_is_tombstoned(w->store, bogus_resp.id), 1);
    assert_int_equal(from_peer(w, &bogus_resp, T0 + 6, &v), NBD_GONE);
    assert_int_equal(nbd_store_has(w->store, resp.id), 1);
    assert_int_equal(count_records(w), 2);
}

/*
 * After a record was deleted, its tombstone remembers who signed it: a
 * retraction by its author is still kept (to pass the deletion on), one by
 * anyone else is refused as it would have been while the record was here.
 */
static void a_tombstone_remembers_whose_record_it_was(void **state)
{
    struct world *w = *state;
    struct blob req, resp, first, second, bogus;
    struct said v;
    create_neighbourhood(w);
    request(w, &w->bob, T0, T0 + 7200, "a meal on Sunday", &req);
    assert_ok(w, &req, T0);
    acting(w, &w->cas, NB_KIND_RESPONSE, T0 + 1, req.id, NULL, &resp);
    assert_ok(w, &resp, T0 + 1);
    acting(w, &w->bob, NB_KIND_RETRACTION, T0 + 2, req.id, NULL, &first);
    assert_ok(w, &first, T0 + 2);

    struct nbd_tombstone tomb;
    assert_int_equal(nbd_store_tombstone_get(w->store, resp.id, &tomb), 0);
    assert_true(tomb.has_author);
    assert_memory_equal(tomb.author, w->cas.pk, NB_KEY_SIZE);
    assert_true(tomb.has_until);
    assert_int_equal(tomb.until, T0 + 7200);

    acting(w, &w->cas, NB_KIND_RETRACTION, T0 + 3, resp.id, NULL, &second);
    assert_refused(w, &second, T0 + 3, "gone", NULL);
    assert_int_equal(from_peer(w, &second, T0 + 3, &v), NBD_ACCEPTED);
    assert_int_equal(nbd_store_has(w->store, second.id), 1);
    struct nbd_store_record row = row_of(w, second.id);
    assert_true(row.has_expiry);
    assert_int_equal(row.expires_at, T0 + 7200); /* it outlives the tombstone, no more */

    acting(w, &w->ann, NB_KIND_RETRACTION, T0 + 4, resp.id, NULL, &bogus);
    assert_int_equal(from_peer(w, &bogus, T0 + 4, &v), NBD_REFUSED);
    assert_string_equal(v.why.message, "only the author of a record can retract it");
    assert_int_equal(nbd_store_is_tombstoned(w->store, bogus.id), 1);

    /* A record acting on the deleted request can never be stored: a
     * peer's is kept out so reconciliation stops offering it. */
    struct blob late;
    acting(w, &w->ann, NB_KIND_RESPONSE, T0 + 5, req.id, NULL, &late);
    assert_refused(w, &late, T0 + 5, "gone", NULL);
    assert_int_equal(nbd_store_is_tombstoned(w->store, late.id), 0);
    assert_int_equal(from_peer(w, &late, T0 + 5, &v), NBD_GONE);
    assert_int_equal(nbd_store_is_tombstoned(w->store, late.id), 1);
}

/* A retraction of something that never arrives goes after its bound. */
static void a_retraction_of_what_never_arrives_is_purged(void **state)
{
    struct world *w = *state;
    struct blob req, retract;
    struct said v;
    uint64_t records = 0, tombstones = 0;
    create_neighbourhood(w);
    request(w, &w->ann, T0, T0 + 7200, "help with a form", &req);
    acting(w, &w->cas, NB_KIND_RETRACTION, T0 + 1, req.id, NULL, &retract);
    assert_int_equal(from_peer(w, &retract, T0 + 1, &v), NBD_ACCEPTED);
    uint64_t bound = T0 + 1 + KEEP_UNSEEN;
    assert_int_equal(nbd_node_purge(&w->node, bound + GRACE, &records, &tombstones), 0);
    assert_int_equal(nbd_store_has(w->store, retract.id), 1);
    assert_int_equal(nbd_node_purge(&w->node, bound + GRACE + 1, &records, &tombstones), 0);
    assert_int_equal(records, 1);
    assert_int_equal(nbd_store_has(w->store, retract.id), 0);
    /* Past its bound it is refused by its date alone. */
    assert_int_equal(from_peer(w, &retract, bound + 2 * GRACE + 2, &v), NBD_GONE);
}

/* ---- every order through a node ----------------------------------------- */

/* A node of its own, for one order of arrival. */
struct fresh_node {
    struct nbd_store *store;
    struct nbd_node node;
};

static void fresh_node_open(struct world *w, struct fresh_node *f)
{
    char err[256] = "";
    struct nbd_verdict v;
    bool already = false;
    if (nbd_store_open(":memory:", &f->store, err, sizeof(err)) != 0)
        fail_msg("%s", err);
    assert_int_equal(nbd_node_init(&f->node, f->store, GRACE), 0);
    assert_int_equal(nbd_node_join_neighbourhood(&f->node, "Marollen", 8, w->node.neighbourhood_key,
                                                 &already, &v),
                     0);
}

static void fresh_node_close(struct fresh_node *f)
{
    nbd_node_clear(&f->node);
    nbd_store_close(f->store);
}

/* The ids a node holds, in (created_at, id) order, one after the other. */
struct held {
    uint8_t ids[16][NB_ID_SIZE];
    size_t n;
};

static int collect_held(void *ctx, const struct nbd_store_record *rec)
{
    struct held *h = ctx;
    assert_true(h->n < 16);
    memcpy(h->ids[h->n++], rec->id, NB_ID_SIZE);
    return 0;
}

/* Hands the records to a node from a peer in `order`, retrying those that
 * waited for their target after each acceptance, as the sync layer does. */
static void deliver(struct fresh_node *f, const struct blob *const *recs, const size_t *order,
                    size_t n, uint64_t now)
{
    static const int link = 1;
    bool waiting[16] = { false };
    for (size_t k = 0; k < n; k++) {
        struct nbd_accept_report why;
        const struct blob *b = recs[order[k]];
        enum nbd_accept_verdict v =
            nbd_node_accept(&f->node, b->bytes, b->len, b->id, now, NBD_FROM_PEER(&link), &why);
        if (v == NBD_NOT_FOUND)
            waiting[order[k]] = true;
        assert_int_not_equal(v, NBD_INTERNAL);
        assert_int_not_equal(v, NBD_INVALID_RECORD);
        for (bool progress = v == NBD_ACCEPTED; progress;) {
            progress = false;
            for (size_t i = 0; i < n; i++) {
                if (!waiting[i])
                    continue;
                v = nbd_node_accept(&f->node, recs[i]->bytes, recs[i]->len, recs[i]->id, now,
                                    NBD_FROM_PEER(&link), &why);
                if (v != NBD_NOT_FOUND) {
                    waiting[i] = false;
                    progress = progress || v == NBD_ACCEPTED;
                }
            }
        }
    }
}

static bool next_order(size_t *order, size_t n)
{
    size_t i = n - 1;
    while (i > 0 && order[i - 1] >= order[i])
        i--;
    if (i == 0)
        return false;
    size_t j = n - 1;
    while (order[j] <= order[i - 1])
        j--;
    size_t t = order[i - 1];
    order[i - 1] = order[j];
    order[j] = t;
    for (size_t a = i, b = n - 1; a < b; a++, b--) {
        t = order[a];
        order[a] = order[b];
        order[b] = t;
    }
    return true;
}

/* The fold over every record of the history, whatever any node kept. */
static void fold_all(const struct blob *root, const struct blob *const *recs, size_t n,
                     uint64_t now, struct nb_state *st)
{
    struct nb_record root_rec, rel[16];
    uint8_t ids[16][NB_ID_SIZE];
    size_t m = 0;
    assert_int_equal(nb_record_decode(root->bytes, root->len, &root_rec), 0);
    for (size_t i = 0; i < n; i++) {
        if (recs[i] == root)
            continue;
        assert_int_equal(nb_record_decode(recs[i]->bytes, recs[i]->len, &rel[m]), 0);
        memcpy(ids[m++], recs[i]->id, NB_ID_SIZE);
    }
    assert_int_equal(
        nb_state_derive(&root_rec, root->id, rel, (const uint8_t(*)[NB_ID_SIZE])ids, m, now, st),
        0);
}

/*
 * Hostile histories through real nodes: Cas (and Ann, against Bob's
 * response) retract records they did not sign, dated before and after
 * their targets, with duplicates, next to real retractions.  Every order of
 * arrival must leave a node with the same records, and what it derives from
 * them must be what the fold derives from the whole history.
 */
static void every_order_through_a_node_ends_with_the_same_records(void **state)
{
    struct world *w = *state;
    struct blob req, resp, cas_req_early, cas_req, ann_req, bob_req, cas_resp_early, bob_resp,
        ann_resp;
    uint64_t now = T0 + 60;
    create_neighbourhood(w);
    request(w, &w->ann, T0, T0 + 7200, "help with a form", &req);
    acting(w, &w->bob, NB_KIND_RESPONSE, T0 + 10, req.id, NULL, &resp);
    acting(w, &w->cas, NB_KIND_RETRACTION, T0 - 5, req.id, NULL, &cas_req_early);
    acting(w, &w->cas, NB_KIND_RETRACTION, T0 + 20, req.id, NULL, &cas_req);
    acting(w, &w->ann, NB_KIND_RETRACTION, T0 + 30, req.id, NULL, &ann_req);
    acting(w, &w->bob, NB_KIND_RETRACTION, T0 + 25, req.id, NULL, &bob_req);
    acting(w, &w->cas, NB_KIND_RETRACTION, T0 + 5, resp.id, NULL, &cas_resp_early);
    acting(w, &w->bob, NB_KIND_RETRACTION, T0 + 40, resp.id, NULL, &bob_resp);
    acting(w, &w->ann, NB_KIND_RETRACTION, T0 + 35, resp.id, NULL, &ann_resp);

    const struct {
        const struct blob *recs[8];
        size_t n;
        bool retracted; /* whether the request ends retracted */
    } histories[] = {
        { { &req, &cas_req_early }, 2, false },
        { { &req, &cas_req, &ann_req }, 3, true },
        { { &req, &resp, &cas_resp_early, &bob_resp }, 4, false },
        { { &req, &resp, &ann_resp, &cas_req, &cas_req }, 5, false },
        { { &req, &resp, &ann_req, &cas_req_early, &bob_req }, 5, true },
        { { &req, &cas_req_early, &bob_req, &cas_req, &cas_req_early, &resp }, 6, false },
        { { &req, &resp, &cas_resp_early, &ann_resp, &bob_resp, &cas_req }, 6, false },
    };
    size_t n_histories = sizeof(histories) / sizeof(histories[0]);
    unsigned orders = 0;

    for (size_t hi = 0; hi < n_histories; hi++) {
        size_t n = histories[hi].n;
        size_t order[8];
        struct held first = { .n = 0 };
        struct nb_state all;
        fold_all(&req, histories[hi].recs, n, now, &all);
        assert_int_equal(all.status == NB_STATUS_RETRACTED, histories[hi].retracted);
        for (size_t i = 0; i < n; i++)
            order[i] = i;
        bool more = true;
        for (unsigned o = 0; more; o++, orders++) {
            struct fresh_node f;
            struct held held = { .n = 0 };
            fresh_node_open(w, &f);
            deliver(&f, histories[hi].recs, order, n, now);
            assert_int_equal(nbd_store_foreach_ordered(f.store, 0, NULL, collect_held, &held), 0);
            if (o == 0) {
                first = held;
            } else if (held.n != first.n || memcmp(held.ids, first.ids, held.n * NB_ID_SIZE) != 0) {
                fail_msg("history %zu, order %u: %zu records held, %zu in the first order", hi, o,
                         held.n, first.n);
            }
            /* No retraction by anyone but its target's author survives
             * where the target is known. */
            for (size_t i = 0; i < held.n; i++) {
                assert_memory_not_equal(held.ids[i], cas_req.id, NB_ID_SIZE);
                assert_memory_not_equal(held.ids[i], cas_req_early.id, NB_ID_SIZE);
                assert_memory_not_equal(held.ids[i], cas_resp_early.id, NB_ID_SIZE);
                assert_memory_not_equal(held.ids[i], ann_resp.id, NB_ID_SIZE);
                assert_memory_not_equal(held.ids[i], bob_req.id, NB_ID_SIZE);
            }
            uint8_t buf[NB_RECORD_MAX];
            struct nbd_store_record root;
            int r = nbd_store_get(f.store, req.id, &root, buf);
            if (histories[hi].retracted) {
                assert_int_equal(r, NB_ENOENT);
            } else {
                struct nb_state st;
                assert_int_equal(r, 0);
                assert_int_equal(nbd_node_derive(&f.node, &root, now, &st), 0);
                assert_int_equal(st.status, all.status);
                assert_int_equal(st.n_responses, all.n_responses);
                assert_int_equal(st.n_applied, all.n_applied);
                assert_int_equal(st.n_ignored, all.n_ignored);
                assert_int_equal(st.updated_at, all.updated_at);
                nb_state_free(&st);
            }
            fresh_node_close(&f);
            more = next_order(order, n);
        }
        nb_state_free(&all);
    }
    print_message("%zu hostile histories, %u orders of arrival through a node\n", n_histories,
                  orders);
}

/*
 * A request that reaches a node only after its purge time is not stored,
 * but still clears a retraction by someone else that was waiting for it:
 * as on the nodes that held the request.
 */
static void a_late_target_still_clears_a_bogus_retraction(void **state)
{
    struct world *w = *state;
    struct blob req, bogus, own;
    struct said v;
    create_neighbourhood(w);
    request(w, &w->ann, T0, T0 + 100, "help with a form", &req);
    acting(w, &w->cas, NB_KIND_RETRACTION, T0 + 1, req.id, NULL, &bogus);
    acting(w, &w->ann, NB_KIND_RETRACTION, T0 + 2, req.id, NULL, &own);
    assert_int_equal(from_peer(w, &bogus, T0 + 2, &v), NBD_ACCEPTED);
    assert_int_equal(from_peer(w, &own, T0 + 2, &v), NBD_ACCEPTED);
    uint64_t late = T0 + 100 + GRACE + 1;
    assert_int_equal(from_peer(w, &req, late, &v), NBD_GONE);
    assert_int_equal(nbd_store_has(w->store, req.id), 0);
    assert_int_equal(nbd_store_has(w->store, bogus.id), 0);
    assert_int_equal(nbd_store_is_tombstoned(w->store, bogus.id), 1);
    assert_int_equal(nbd_store_has(w->store, own.id), 1); /* goes at its own bound */
}

/*
 * Cas floods: three records dated in one hour are the most the node keeps
 * (a small quota for the test), five in one day.  The rest are refused
 * with the reason, from a client or a peer (a peer's kept out for good, so
 * reconciliation does not fetch them again), and the node remembers Cas
 * once per window for the operator.  Ann, posting in the same hour, is not
 * affected.
 */
static void a_member_over_the_quota_is_refused(void **state)
{
    struct world *w = *state;
    struct blob b, annb;
    struct said v;
    char title[32];
    create_neighbourhood(w);
    nbd_node_set_quota(&w->node, 3, 5);
    uint64_t hour = T0 - T0 % 3600;

    for (unsigned i = 0; i < 3; i++) {
        snprintf(title, sizeof(title), "a lift, %u", i);
        request(w, &w->cas, hour + i, hour + 7200, title, &b);
        assert_ok(w, &b, hour + 10);
    }
    request(w, &w->cas, hour + 3, hour + 7200, "one more lift", &b);
    assert_refused(w, &b, hour + 10, "refused",
                   "this member has signed 3 records dated in this hour (UTC), the most a node "
                   "accepts; wait for the next hour");
    assert_int_equal(nbd_store_is_tombstoned(w->store, b.id), 0);
    request(w, &w->cas, hour + 4, hour + 7200, "and another", &b);
    assert_int_equal(from_peer(w, &b, hour + 10, &v), NBD_OVER_QUOTA);
    assert_string_equal(v.error, "refused");
    assert_int_equal(nbd_store_is_tombstoned(w->store, b.id), 1);
    assert_int_equal(from_peer(w, &b, hour + 10, &v), NBD_GONE);

    /* Someone else in the same hour. */
    request(w, &w->ann, hour + 5, hour + 7200, "help with a form", &annb);
    assert_ok(w, &annb, hour + 10);

    /* The next hour has room, until the day is full. */
    for (unsigned i = 0; i < 2; i++) {
        snprintf(title, sizeof(title), "a meal, %u", i);
        request(w, &w->cas, hour + 3600 + i, hour + 7200, title, &b);
        assert_ok(w, &b, hour + 3610);
    }
    request(w, &w->cas, hour + 3602, hour + 7200, "a third meal", &b);
    assert_refused(w, &b, hour + 3610, "refused",
                   "this member has signed 5 records dated in this day (UTC), the most a node "
                   "accepts; wait for the next day");

    /* The operator sees Cas, each window once with its count. */
    struct nbd_over_quota over[4];
    size_t n = nbd_node_over_quota(&w->node, hour + 3610, over, 4);
    assert_int_equal(hour / 86400, (hour + 3600) / 86400); /* both hours in one UTC day */
    assert_int_equal(n, 2);
    assert_memory_equal(over[0].author, w->cas.pk, NB_KEY_SIZE);
    assert_int_equal(over[0].window, 86400);
    assert_int_equal(over[0].refused, 1);
    assert_memory_equal(over[1].author, w->cas.pk, NB_KEY_SIZE);
    assert_int_equal(over[1].window, 3600);
    assert_int_equal(over[1].window_start, hour);
    assert_int_equal(over[1].refused, 2);
    /* A day later the list is empty again. */
    assert_int_equal(nbd_node_over_quota(&w->node, hour + 3610 + 86401, over, 4), 0);
}

static void a_message_about_a_request_can_be_retracted(void **state)
{
    struct world *w = *state;
    struct blob req, msg, retract;
    uint8_t sealed[64];
    create_neighbourhood(w);
    request(w, &w->ann, T0, T0 + 7200, "a lift to the station", &req);
    assert_ok(w, &req, T0);

    struct nb_record rec;
    memset(&rec, 0, sizeof(rec));
    rec.kind = NB_KIND_MESSAGE;
    rec.created_at = T0 + 1;
    memcpy(rec.member, w->ann.pk, NB_KEY_SIZE);
    NB_SET(&rec, NB_F_MEMBER);
    memset(sealed, 0x5e, sizeof(sealed)); /* opaque to the node */
    rec.sealed = (struct nb_bytes){ sealed, sizeof(sealed) };
    NB_SET(&rec, NB_F_SEALED);
    rec.expires_at = T0 + 3600;
    NB_SET(&rec, NB_F_EXPIRES_AT);
    memcpy(rec.target, req.id, NB_ID_SIZE);
    NB_SET(&rec, NB_F_TARGET);
    sign_for(&rec, &w->bob, w->node.neighbourhood_id, &msg);
    assert_ok(w, &msg, T0 + 1);

    acting(w, &w->bob, NB_KIND_RETRACTION, T0 + 2, msg.id, NULL, &retract);
    assert_ok(w, &retract, T0 + 2);
    assert_int_equal(nbd_store_has(w->store, msg.id), 0);
    assert_int_equal(nbd_store_is_tombstoned(w->store, msg.id), 1);
    assert_int_equal(nbd_store_has(w->store, req.id), 1);
    assert_string_equal(status_of(w, req.id, T0 + 3), "open");

    /* A message expires on its own, before its request. */
    rec.created_at = T0 + 3;
    sign_for(&rec, &w->bob, w->node.neighbourhood_id, &msg);
    assert_ok(w, &msg, T0 + 3);
    uint64_t n = 0;
    assert_int_equal(nbd_node_purge(&w->node, T0 + 3601 + GRACE, &n, NULL), 0);
    assert_int_equal(n, 1);
    assert_int_equal(nbd_store_has(w->store, msg.id), 0);
    assert_int_equal(nbd_store_has(w->store, req.id), 1);
}

/* ---- purging a member's records and blocking them -------------------------- */

/*
 * Ann asks for groceries and Bob responds, then withdraws; Bob asks for a
 * lift and Cas responds.  Everything Bob signed goes, with Cas's response
 * that rests on his request; Ann's request stays.
 */
struct timelines {
    struct blob ann_req, bob_resp, bob_withdrawal, bob_req, cas_resp;
};

static void bob_takes_part(struct world *w, struct timelines *t)
{
    request(w, &w->ann, T0, T0 + 7200, "groceries on Friday", &t->ann_req);
    assert_ok(w, &t->ann_req, T0);
    acting(w, &w->bob, NB_KIND_RESPONSE, T0 + 1, t->ann_req.id, NULL, &t->bob_resp);
    assert_ok(w, &t->bob_resp, T0 + 1);
    acting(w, &w->bob, NB_KIND_WITHDRAWAL, T0 + 2, t->bob_resp.id, NULL, &t->bob_withdrawal);
    assert_ok(w, &t->bob_withdrawal, T0 + 2);
    request(w, &w->bob, T0 + 3, T0 + 7200, "a lift to the station", &t->bob_req);
    assert_ok(w, &t->bob_req, T0 + 3);
    acting(w, &w->cas, NB_KIND_RESPONSE, T0 + 4, t->bob_req.id, NULL, &t->cas_resp);
    assert_ok(w, &t->cas_resp, T0 + 4);
    assert_int_equal(count_records(w), 5);
}

static void purging_an_author_takes_what_rests_on_their_records(void **state)
{
    struct world *w = *state;
    struct timelines t;
    create_neighbourhood(w);
    bob_takes_part(w, &t);

    uint64_t authored = 0, deleted = 0;
    assert_int_equal(nbd_store_begin(w->store), 0);
    assert_int_equal(nbd_store_purge_author(w->store, w->bob.pk, true, 3600, &authored, &deleted),
                     0);
    assert_int_equal(nbd_store_commit(w->store), 0);
    assert_int_equal(authored, 3);
    assert_int_equal(deleted, 4);
    assert_int_equal(count_records(w), 1);
    assert_int_equal(nbd_store_has(w->store, t.ann_req.id), 1);
    const struct blob *gone[] = { &t.bob_resp, &t.bob_withdrawal, &t.bob_req, &t.cas_resp };
    for (size_t i = 0; i < 4; i++) {
        assert_int_equal(nbd_store_is_tombstoned(w->store, gone[i]->id), 1);
        assert_refused(w, gone[i], T0 + 10, "gone", NULL);
    }
    assert_string_equal(status_of(w, t.ann_req.id, T0 + 10), "open");

    /* The tombstones last as long as asked: an hour after each of Bob's
     * records, then the purge drops them. */
    uint64_t tombstones = 0;
    uint64_t records = 0;
    assert_int_equal(nbd_store_count(w->store, NULL, &tombstones), 0);
    assert_int_equal(tombstones, 4);
    assert_int_equal(nbd_node_purge(&w->node, T0 + 3 + 3600 + GRACE + 1, &records, &tombstones), 0);
    assert_int_equal(tombstones, 4);

    /* An author with nothing stored is no error. */
    assert_int_equal(nbd_store_begin(w->store), 0);
    assert_int_equal(nbd_store_purge_author(w->store, w->bob.pk, false, 0, &authored, &deleted), 0);
    assert_int_equal(nbd_store_commit(w->store), 0);
    assert_int_equal(authored, 0);
    assert_int_equal(deleted, 0);
}

static void an_erased_members_tombstones_last(void **state)
{
    struct world *w = *state;
    struct timelines t;
    create_neighbourhood(w);
    bob_takes_part(w, &t);
    assert_int_equal(nbd_store_begin(w->store), 0);
    assert_int_equal(nbd_store_purge_author(w->store, w->bob.pk, false, 0, NULL, NULL), 0);
    assert_int_equal(nbd_store_commit(w->store), 0);
    uint64_t records = 0, tombstones = 0;
    assert_int_equal(nbd_node_purge(&w->node, T0 + 400u * 24 * 3600, &records, &tombstones), 0);
    assert_int_equal(tombstones, 0);
    assert_int_equal(nbd_store_is_tombstoned(w->store, t.bob_req.id), 1);
    assert_int_equal(nbd_store_is_tombstoned(w->store, t.cas_resp.id), 1);
}

static const char msg_blocked[] = "this node's operator blocked this member";

struct blocked_list {
    size_t n;
    uint8_t author[4][NB_KEY_SIZE];
    uint64_t since[4];
};

static int list_blocked(void *ctx, const uint8_t author[NB_KEY_SIZE], uint64_t since)
{
    struct blocked_list *l = ctx;
    assert_true(l->n < 4);
    memcpy(l->author[l->n], author, NB_KEY_SIZE);
    l->since[l->n] = since;
    l->n++;
    return 0;
}

static void a_blocked_member_is_deleted_and_refused(void **state)
{
    struct world *w = *state;
    struct timelines t;
    struct nbd_verdict v;
    struct said said;
    create_neighbourhood(w);
    bob_takes_part(w, &t);

    uint64_t deleted = 0;
    assert_int_equal(nbd_node_block(&w->node, w->bob.pk, T0 + 5, &deleted, &v), 0);
    assert_int_equal(deleted, 4);
    assert_int_equal(count_records(w), 1);
    assert_int_equal(nbd_store_is_tombstoned(w->store, t.cas_resp.id), 1);

    /* From his own device: refused with the reason. */
    struct blob fresh;
    request(w, &w->bob, T0 + 6, T0 + 7200, "a ladder for a day", &fresh);
    assert_refused(w, &fresh, T0 + 6, "refused", msg_blocked);
    assert_int_equal(nbd_store_is_tombstoned(w->store, fresh.id), 0);

    /* From a peer: refused and remembered, so it is not fetched again. */
    struct blob relayed;
    request(w, &w->bob, T0 + 7, T0 + 7200, "a drill for an hour", &relayed);
    assert_int_equal(from_peer(w, &relayed, T0 + 7, &said), NBD_REFUSED);
    assert_string_equal(said.error, "refused");
    assert_string_equal(said.why.message, msg_blocked);
    assert_int_equal(nbd_store_is_tombstoned(w->store, relayed.id), 1);
    assert_int_equal(nbd_store_has(w->store, relayed.id), 0);

    /* Others' records that act on his deleted ones do not come back. */
    struct blob late;
    acting(w, &w->ann, NB_KIND_RESPONSE, T0 + 8, t.bob_req.id, NULL, &late);
    assert_refused(w, &late, T0 + 8, "gone", NULL);
    assert_int_equal(from_peer(w, &t.cas_resp, T0 + 8, &said), NBD_GONE);

    /* Blocking again keeps the first date; the list says who and since. */
    assert_int_equal(nbd_node_block(&w->node, w->bob.pk, T0 + 9, &deleted, &v), 0);
    assert_int_equal(deleted, 0);
    assert_int_equal(nbd_node_block(&w->node, w->cas.pk, T0 + 10, &deleted, &v), 0);
    struct blocked_list l = { .n = 0 };
    assert_int_equal(nbd_store_foreach_blocked(w->store, list_blocked, &l), 0);
    assert_int_equal(l.n, 2);
    assert_memory_equal(l.author[0], w->bob.pk, NB_KEY_SIZE);
    assert_int_equal(l.since[0], T0 + 5);
    assert_memory_equal(l.author[1], w->cas.pk, NB_KEY_SIZE);
    assert_int_equal(l.since[1], T0 + 10);
    assert_int_equal(nbd_store_is_blocked(w->store, w->ann.pk), 0);

    /* Unblocking lets new records in; what was deleted stays deleted. */
    assert_int_equal(nbd_node_unblock(&w->node, w->bob.pk, &v), 0);
    assert_ok(w, &fresh, T0 + 11);
    assert_refused(w, &t.bob_req, T0 + 11, "gone", NULL);
    assert_int_equal(nbd_node_unblock(&w->node, w->bob.pk, &v), NB_ENOENT);
    assert_string_equal(v.error, "not_found");

    /* The block list survives a restart. */
    close_store(w);
    open_store(w);
    assert_int_equal(nbd_store_is_blocked(w->store, w->cas.pk), 1);
    assert_int_equal(nbd_store_is_blocked(w->store, w->bob.pk), 0);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(insert_get_and_duplicates, setup, teardown),
        cmocka_unit_test_setup_teardown(id_prefixes, setup, teardown),
        cmocka_unit_test_setup_teardown(listing_is_newest_first_and_filtered, setup, teardown),
        cmocka_unit_test_setup_teardown(purged_trees_leave_tombstones, setup, teardown),
        cmocka_unit_test_setup_teardown(a_version_1_store_is_migrated, setup, teardown),
        cmocka_unit_test_setup_teardown(a_version_2_store_gains_the_block_list, setup, teardown),
        cmocka_unit_test_setup_teardown(a_version_3_store_lets_waiting_retractions_decide, setup,
                                        teardown),
        cmocka_unit_test_setup_teardown(a_version_5_store_gains_the_report_tallies, setup,
                                        teardown),
        cmocka_unit_test_setup_teardown(a_store_from_a_newer_noaberd_is_refused, setup, teardown),
        cmocka_unit_test_setup_teardown(a_corrupted_store_is_an_error_not_a_crash, setup, teardown),
        cmocka_unit_test_setup_teardown(a_version_6_store_is_migrated, setup, teardown),
        cmocka_unit_test_setup_teardown(a_large_catch_up_builds_its_indexes_after, setup, teardown),
        cmocka_unit_test_setup_teardown(a_store_is_checked_beside_its_use, setup, teardown),
        cmocka_unit_test_setup_teardown(without_a_neighbourhood_nothing_is_accepted, setup,
                                        teardown),
        cmocka_unit_test_setup_teardown(a_node_has_one_neighbourhood_and_keeps_it, setup, teardown),
        cmocka_unit_test_setup_teardown(a_request_is_stored_once, setup, teardown),
        cmocka_unit_test_setup_teardown(records_signed_elsewhere_or_broken_are_invalid, setup,
                                        teardown),
        cmocka_unit_test_setup_teardown(responses_need_their_request_and_the_rules, setup,
                                        teardown),
        cmocka_unit_test_setup_teardown(a_retraction_deletes_for_good, setup, teardown),
        cmocka_unit_test_setup_teardown(expired_requests_are_purged_with_their_timeline, setup,
                                        teardown),
        cmocka_unit_test_setup_teardown(ended_requests_go_a_grace_after_they_end, setup, teardown),
        cmocka_unit_test_setup_teardown(peers_records_skip_the_state_checks, setup, teardown),
        cmocka_unit_test_setup_teardown(an_authors_retraction_before_its_target_sticks, setup,
                                        teardown),
        cmocka_unit_test_setup_teardown(a_retraction_by_another_member_cannot_censor, setup,
                                        teardown),
        cmocka_unit_test_setup_teardown(a_tombstone_remembers_whose_record_it_was, setup, teardown),
        cmocka_unit_test_setup_teardown(a_retraction_of_what_never_arrives_is_purged, setup,
                                        teardown),
        cmocka_unit_test_setup_teardown(every_order_through_a_node_ends_with_the_same_records,
                                        setup, teardown),
        cmocka_unit_test_setup_teardown(a_late_target_still_clears_a_bogus_retraction, setup,
                                        teardown),
        cmocka_unit_test_setup_teardown(a_member_over_the_quota_is_refused, setup, teardown),
        cmocka_unit_test_setup_teardown(purging_an_author_takes_what_rests_on_their_records, setup,
                                        teardown),
        cmocka_unit_test_setup_teardown(an_erased_members_tombstones_last, setup, teardown),
        cmocka_unit_test_setup_teardown(a_blocked_member_is_deleted_and_refused, setup, teardown),
        cmocka_unit_test_setup_teardown(a_message_about_a_request_can_be_retracted, setup,
                                        teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
