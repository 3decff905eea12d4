/*
 * Negentropy set reconciliation: Alice (initiator) and Bob (responder) each
 * hold some records' (created_at, id); after reconciling, Alice's "have" must
 * be exactly what only she holds and her "need" exactly what only Bob holds.
 */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <noaber/error.h>
#include <noaber/negentropy.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "tests/random_ids.h"

/* ---- helpers ------------------------------------------------------------ */

static size_t unhex(const char *hex, uint8_t *out, size_t cap)
{
    size_t n = strlen(hex) / 2;
    assert_true(n <= cap);
    for (size_t i = 0; i < n; i++) {
        unsigned v;
        assert_int_equal(sscanf(hex + 2 * i, "%2x", &v), 1);
        out[i] = (uint8_t)v;
    }
    return n;
}

static void assert_bytes_hex(const uint8_t *got, size_t got_len, const char *hex)
{
    static uint8_t want[8192];
    size_t want_len = unhex(hex, want, sizeof(want));
    assert_int_equal(got_len, want_len);
    assert_memory_equal(got, want, want_len);
}

static int id_cmp(const void *a, const void *b)
{
    return memcmp(a, b, NB_NEGENTROPY_ID_SIZE);
}

static void sort_ids(uint8_t (*ids)[NB_NEGENTROPY_ID_SIZE], size_t n)
{
    if (n > 1) {
        qsort(ids, n, NB_NEGENTROPY_ID_SIZE, id_cmp);
    }
}

/* The outcome of one full reconciliation between two storages. */
struct outcome {
    struct nb_negentropy_ids have;
    struct nb_negentropy_ids need;
    size_t rounds;
    size_t largest_msg;
};

/*
 * Runs Alice's storage against Bob's until Alice is done, checking that no
 * message is larger than the sender's frame size limit.
 */
static void reconcile_all(const struct nb_negentropy_storage *alice_store, uint64_t alice_limit,
                          const struct nb_negentropy_storage *bob_store, uint64_t bob_limit,
                          struct outcome *out)
{
    struct nb_negentropy alice, bob;
    uint8_t *msg = NULL;
    size_t len = 0;

    memset(out, 0, sizeof(*out));
    assert_int_equal(nb_negentropy_init(&alice, alice_store, alice_limit), NB_OK);
    assert_int_equal(nb_negentropy_init(&bob, bob_store, bob_limit), NB_OK);
    assert_int_equal(nb_negentropy_initiate(&alice, &msg, &len), NB_OK);

    for (;;) {
        assert_non_null(msg);
        assert_int_equal(msg[0], NB_NEGENTROPY_PROTOCOL_VERSION);
        if (alice_limit != 0) {
            assert_true(len <= alice_limit);
        }
        if (len > out->largest_msg) {
            out->largest_msg = len;
        }

        uint8_t *reply = NULL;
        size_t reply_len = 0;
        assert_int_equal(nb_negentropy_reconcile(&bob, msg, len, &reply, &reply_len, NULL, NULL),
                         NB_OK);
        free(msg);
        assert_non_null(reply);
        if (bob_limit != 0) {
            assert_true(reply_len <= bob_limit);
        }
        if (reply_len > out->largest_msg) {
            out->largest_msg = reply_len;
        }

        msg = NULL;
        len = 0;
        assert_int_equal(
            nb_negentropy_reconcile(&alice, reply, reply_len, &msg, &len, &out->have, &out->need),
            NB_OK);
        free(reply);
        out->rounds++;
        assert_true(out->rounds < 100000);
        if (msg == NULL) {
            assert_int_equal(len, 0);
            break;
        }
    }
}

static void outcome_free(struct outcome *out)
{
    nb_negentropy_ids_free(&out->have);
    nb_negentropy_ids_free(&out->need);
}

static void add_item(struct nb_negentropy_storage *s, uint64_t created_at, const uint8_t *id)
{
    assert_int_equal(nb_negentropy_storage_add(s, created_at, id), NB_OK);
}

static void add_filled(struct nb_negentropy_storage *s, uint64_t created_at, uint8_t fill)
{
    uint8_t id[NB_NEGENTROPY_ID_SIZE];
    memset(id, fill, sizeof(id));
    add_item(s, created_at, id);
}

/*
 * Splits `total` random items between Alice and Bob: with probability
 * only_alice/1000 only Alice has it, only_bob/1000 only Bob, else both.
 * Timestamps are drawn from a narrow window so many items share one and
 * the id-prefix bounds are exercised.  Reconciles and checks the result.
 */
static void check_random_split(size_t total, unsigned only_alice, unsigned only_bob,
                               uint64_t alice_limit, uint64_t bob_limit, uint64_t seed)
{
    struct nb_negentropy_storage alice_store, bob_store;
    uint8_t(*want_have)[NB_NEGENTROPY_ID_SIZE] = malloc((total + 1) * NB_NEGENTROPY_ID_SIZE);
    uint8_t(*want_need)[NB_NEGENTROPY_ID_SIZE] = malloc((total + 1) * NB_NEGENTROPY_ID_SIZE);
    size_t n_have = 0, n_need = 0;
    uint64_t state = seed;
    struct outcome out;

    assert_non_null(want_have);
    assert_non_null(want_need);
    nb_negentropy_storage_init(&alice_store);
    nb_negentropy_storage_init(&bob_store);

    uint64_t window = total / 4 + 1;
    for (size_t i = 0; i < total; i++) {
        uint8_t id[NB_NEGENTROPY_ID_SIZE];
        uint64_t created_at = 1700000000 + splitmix(&state) % window;
        random_id(&state, id);
        unsigned roll = (unsigned)(splitmix(&state) % 1000);
        if (roll < only_alice) {
            add_item(&alice_store, created_at, id);
            memcpy(want_have[n_have++], id, sizeof(id));
        } else if (roll < only_alice + only_bob) {
            add_item(&bob_store, created_at, id);
            memcpy(want_need[n_need++], id, sizeof(id));
        } else {
            add_item(&alice_store, created_at, id);
            add_item(&bob_store, created_at, id);
        }
    }
    assert_int_equal(nb_negentropy_storage_seal(&alice_store), NB_OK);
    assert_int_equal(nb_negentropy_storage_seal(&bob_store), NB_OK);

    reconcile_all(&alice_store, alice_limit, &bob_store, bob_limit, &out);

    /*
     * Without frame limits every range is answered in full, so each id is
     * reported exactly once.  A cut frame makes the initiator ask again
     * about ranges it already settled, so ids may repeat (as with the
     * reference implementation); as sets the result must still be exact.
     */
    if (alice_limit == 0 && bob_limit == 0) {
        sort_ids(out.have.ids, out.have.count);
        sort_ids(out.need.ids, out.need.count);
    } else {
        nb_negentropy_ids_sort_unique(&out.have);
        nb_negentropy_ids_sort_unique(&out.need);
    }
    assert_int_equal(out.have.count, n_have);
    assert_int_equal(out.need.count, n_need);
    sort_ids(want_have, n_have);
    sort_ids(want_need, n_need);
    if (n_have > 0) {
        assert_memory_equal(out.have.ids, want_have, n_have * NB_NEGENTROPY_ID_SIZE);
    }
    if (n_need > 0) {
        assert_memory_equal(out.need.ids, want_need, n_need * NB_NEGENTROPY_ID_SIZE);
    }

    outcome_free(&out);
    nb_negentropy_storage_free(&alice_store);
    nb_negentropy_storage_free(&bob_store);
    free(want_have);
    free(want_need);
}

/* ---- known answers ------------------------------------------------------ */

/*
 * An empty set's first message, derived by hand from the spec:
 *   61        protocol version 1
 *   00        bound timestamp: 0 encodes infinity (the whole space)
 *   00        bound id prefix length 0
 *   02        mode IdList (fewer than 32 items are listed, not split)
 *   00        zero ids
 */
static void test_empty_initiate_bytes(void **state)
{
    struct nb_negentropy_storage s;
    struct nb_negentropy ne;
    uint8_t *msg;
    size_t len;

    nb_negentropy_storage_init(&s);
    assert_int_equal(nb_negentropy_storage_seal(&s), NB_OK);
    assert_int_equal(nb_negentropy_init(&ne, &s, 0), NB_OK);
    assert_int_equal(nb_negentropy_initiate(&ne, &msg, &len), NB_OK);
    assert_bytes_hex(msg, len, "6100000200");
    free(msg);
    /* A session initiates once. */
    assert_int_equal(nb_negentropy_initiate(&ne, &msg, &len), NB_ESTATE);
    nb_negentropy_storage_free(&s);
}

/*
 * Bob holds one record (12345, ee..ee) and receives Alice's empty-set
 * message.  He answers the one range with his id list, which equally
 * follows from the spec: 61, bound infinity (00 00), IdList (02), one id
 * (01), the 32 id bytes.  Alice then needs that id and is done (her reply
 * would be the bare version byte, which the API reports as "no message").
 */
static void test_one_item_exchange_bytes(void **state)
{
    struct nb_negentropy_storage alice_store, bob_store;
    struct nb_negentropy alice, bob;
    struct nb_negentropy_ids have = { 0 }, need = { 0 };
    uint8_t *msg, *reply;
    size_t len, reply_len;

    nb_negentropy_storage_init(&alice_store);
    nb_negentropy_storage_init(&bob_store);
    add_filled(&bob_store, 12345, 0xee);
    assert_int_equal(nb_negentropy_storage_seal(&alice_store), NB_OK);
    assert_int_equal(nb_negentropy_storage_seal(&bob_store), NB_OK);
    assert_int_equal(nb_negentropy_init(&alice, &alice_store, 0), NB_OK);
    assert_int_equal(nb_negentropy_init(&bob, &bob_store, 0), NB_OK);

    assert_int_equal(nb_negentropy_initiate(&alice, &msg, &len), NB_OK);
    assert_int_equal(nb_negentropy_reconcile(&bob, msg, len, &reply, &reply_len, NULL, NULL),
                     NB_OK);
    assert_bytes_hex(reply, reply_len,
                     "6100000201"
                     "eeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeee");
    free(msg);

    msg = (uint8_t *)"sentinel";
    assert_int_equal(nb_negentropy_reconcile(&alice, reply, reply_len, &msg, &len, &have, &need),
                     NB_OK);
    assert_null(msg);
    assert_int_equal(len, 0);
    assert_int_equal(have.count, 0);
    assert_int_equal(need.count, 1);
    uint8_t ee[NB_NEGENTROPY_ID_SIZE];
    memset(ee, 0xee, sizeof(ee));
    assert_memory_equal(need.ids[0], ee, sizeof(ee));

    free(reply);
    nb_negentropy_ids_free(&have);
    nb_negentropy_ids_free(&need);
    nb_negentropy_storage_free(&alice_store);
    nb_negentropy_storage_free(&bob_store);
}

/*
 * 32 items split into 16 buckets of 2.  Item i has created_at 1000 + i and
 * an id of 32 bytes of value i + 1.  Each bucket's bound is the next
 * bucket's first timestamp (timestamps differ, so the prefix length is 0),
 * delta-encoded plus one: the first is 1002 + 1 = 1003 = varint 87 6b, the
 * others 2 + 1 = 03; the last bound is infinity (00 00).  Each range is
 * mode 01 followed by SHA-256(sum of its two ids as a little-endian 256-bit
 * number, then varint(2))[0..16], computed independently with Python's
 * hashlib from the spec text.
 */
static void test_split_bytes_distinct_timestamps(void **state)
{
    struct nb_negentropy_storage s;
    struct nb_negentropy ne;
    uint8_t *msg;
    size_t len;

    nb_negentropy_storage_init(&s);
    /* Added in reverse to show that sealing sorts. */
    for (int i = 31; i >= 0; i--) {
        add_filled(&s, 1000 + (uint64_t)i, (uint8_t)(i + 1));
    }
    assert_int_equal(nb_negentropy_storage_seal(&s), NB_OK);
    assert_int_equal(nb_negentropy_init(&ne, &s, 0), NB_OK);
    assert_int_equal(nb_negentropy_initiate(&ne, &msg, &len), NB_OK);
    assert_bytes_hex(msg, len,
                     "61876b000112a7b248579deb04f68dac6d3db20efd030001b8ea736abfbf609781fff6727eb"
                     "9cd040300017f2da089f1f529e21695158e4a2d6f43030001b7d83b680dbdf04ad2be2d723a"
                     "d764b4030001d7f6aef48c8105c6a8d1edb11bc1f61d0300015a3b9f41ebacbc3c88d623fa1"
                     "1abd2c4030001078bc773005f176ba644460bd77f43d1030001c1d8d25dd3ad8c37678e17df"
                     "ce54df610300011b3faf13785b65bf5c6debbef6eb3b8b03000113fc235ac2e2604d7730473"
                     "528b646910300016db32635642a41b8167e4346e59ce8f2030001af9e87dc5ace9af9766108"
                     "aeea1cd582030001cd20b9f83aa18e89dd323257ca0a6e090300012198850980141c511aed1"
                     "75878f65040030001ca3d66888b97cac95e08951fff742c9700000115e52dde58a3e1e3e713"
                     "e9cd6524dd88");
    free(msg);
    nb_negentropy_storage_free(&s);
}

/*
 * 32 items that all share created_at 1000, with ids ab ii 00.. (i = 0..31).
 * Neighbouring items share the one-byte prefix ab, so each bound carries a
 * two-byte prefix: timestamp delta (1001 = 87 69 first, then 01 for "same
 * timestamp"), length 02, then ab and the next item's second byte.
 */
static void test_split_bytes_shared_timestamp(void **state)
{
    struct nb_negentropy_storage s;
    struct nb_negentropy ne;
    uint8_t *msg;
    size_t len;

    nb_negentropy_storage_init(&s);
    for (int i = 0; i < 32; i++) {
        uint8_t id[NB_NEGENTROPY_ID_SIZE] = { 0xab, (uint8_t)i };
        add_item(&s, 1000, id);
    }
    assert_int_equal(nb_negentropy_storage_seal(&s), NB_OK);
    assert_int_equal(nb_negentropy_init(&ne, &s, 0), NB_OK);
    assert_int_equal(nb_negentropy_initiate(&ne, &msg, &len), NB_OK);
    assert_bytes_hex(msg, len,
                     "61876902ab02017fa0dae35789ea31c4f8ebd0cbf357840102ab040111564a208f34797a75a8"
                     "c1758fb530240102ab0601b325581da27d559eaab047568f7919b80102ab08010351073c9c2e"
                     "6e836e9025238233ca520102ab0a018995d6d7ba9e1f21c524f3046ad510b30102ab0c016829"
                     "dd624260595f73b0d02f7d46523d0102ab0e015fea913f7b3b82847d14ca112e7d102b0102ab"
                     "10018dc6c5cdd1f2951f10bf0cbed6703bdb0102ab1201d1c672a848f45b9ee12578e1ca9198"
                     "f40102ab140181f434ac6ed5a0def3447f308cb5fa430102ab1601f0f8c767185f96c3490b3d"
                     "37f678f5460102ab18011a2e327cefc66a985b5ec712c9d0019a0102ab1a0146e5ee789b93f3"
                     "35efcc4d808d0835c10102ab1c01bb959b81d128196680a9b2ed192edebf0102ab1e0149f4a6"
                     "dc614597427dbbca36d7665323000001424c63357e00496d2435163c544ae2b0");
    free(msg);
    nb_negentropy_storage_free(&s);
}

/*
 * The id sum wraps mod 2^256: ff..ff + 01 00..00 = 0.  Bob holds those two
 * ids; a whole-space fingerprint of SHA-256(32 zero bytes || varint 2)[0..16]
 * matches his, so he has nothing to say and replies with the version byte
 * alone (the agreed range is an implicit trailing Skip).
 */
static void test_fingerprint_wraps_mod_2_256(void **state)
{
    struct nb_negentropy_storage s;
    struct nb_negentropy bob;
    uint8_t query[64], *reply;
    size_t qlen, reply_len;
    uint8_t one[NB_NEGENTROPY_ID_SIZE] = { 1 };

    nb_negentropy_storage_init(&s);
    add_filled(&s, 5, 0xff);
    add_item(&s, 9, one);
    assert_int_equal(nb_negentropy_storage_seal(&s), NB_OK);
    assert_int_equal(nb_negentropy_init(&bob, &s, 0), NB_OK);

    qlen = unhex("61000001"
                 "58cc2f44d3a27866874701fbad573da9",
                 query, sizeof(query));
    assert_int_equal(nb_negentropy_reconcile(&bob, query, qlen, &reply, &reply_len, NULL, NULL),
                     NB_OK);
    assert_bytes_hex(reply, reply_len, "61");
    free(reply);

    /* The empty set's fingerprint (sum 0, count 0) differs, so Bob lists
     * both his ids for the whole space. */
    qlen = unhex("61000001"
                 "7f9c9e31ac8256ca2f258583df262dbc",
                 query, sizeof(query));
    assert_int_equal(nb_negentropy_reconcile(&bob, query, qlen, &reply, &reply_len, NULL, NULL),
                     NB_OK);
    assert_bytes_hex(reply, reply_len,
                     "6100000202"
                     "ffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffff"
                     "0100000000000000000000000000000000000000000000000000000000000000");
    free(reply);
    nb_negentropy_storage_free(&s);
}

/*
 * Fingerprints of long ranges, which the implementation computes from
 * running sums rather than item by item, must equal the plain definition.
 * Bob holds 100 items, created_at 2000 + i, id byte k = (53 i + 29 k + 7)
 * mod 256 (the sums carry between bytes).  Alice's message, built with
 * Python's hashlib from the spec text: Skip to 2003 (varint 2004 = 8f 54),
 * a fingerprint of items 3..89 (87 items, bound 2090 = delta 87, encoded
 * 58), a fingerprint of items 90..99 to infinity.  All match, so Bob's reply
 * is the bare version byte.
 */
static void test_long_range_fingerprints(void **state)
{
    struct nb_negentropy_storage s;
    struct nb_negentropy bob;
    uint8_t query[128], *reply;
    size_t qlen, reply_len;

    nb_negentropy_storage_init(&s);
    for (int i = 0; i < 100; i++) {
        uint8_t id[NB_NEGENTROPY_ID_SIZE];
        for (int k = 0; k < NB_NEGENTROPY_ID_SIZE; k++) {
            id[k] = (uint8_t)(i * 53 + k * 29 + 7);
        }
        add_item(&s, 2000 + (uint64_t)i, id);
    }
    assert_int_equal(nb_negentropy_storage_seal(&s), NB_OK);
    assert_int_equal(nb_negentropy_init(&bob, &s, 0), NB_OK);
    qlen = unhex("618f54000058000110133bd02722e1ffffda4b090cb7087a"
                 "0000016a0b708bded01e4a823de8b7463b115f",
                 query, sizeof(query));
    assert_int_equal(nb_negentropy_reconcile(&bob, query, qlen, &reply, &reply_len, NULL, NULL),
                     NB_OK);
    assert_bytes_hex(reply, reply_len, "61");
    free(reply);

    /* One flipped bit in the middle fingerprint: Bob now splits that range
     * (after a Skip up to its start), so he has something to say. */
    query[10] ^= 1;
    assert_int_equal(nb_negentropy_reconcile(&bob, query, qlen, &reply, &reply_len, NULL, NULL),
                     NB_OK);
    assert_true(reply_len > 16 * 17);
    assert_int_equal(reply[1], 0x8f);
    assert_int_equal(reply[2], 0x54);
    assert_int_equal(reply[3], 0);
    assert_int_equal(reply[4], 0); /* Skip */
    free(reply);
    nb_negentropy_storage_free(&s);
}

/*
 * Version negotiation per the spec: a responder offered another version
 * (0x62) replies with the single byte of its own version; an initiator
 * cannot downgrade and fails; a byte outside 0x60..0x6f is not Negentropy.
 */
static void test_version_negotiation(void **state)
{
    struct nb_negentropy_storage s;
    struct nb_negentropy bob, alice;
    uint8_t *reply, *msg;
    size_t reply_len, len;
    const uint8_t newer[] = { 0x62, 0xaa, 0xbb, 0xcc };
    const uint8_t alien[] = { 0x50, 0x00, 0x00, 0x02, 0x00 };

    nb_negentropy_storage_init(&s);
    add_filled(&s, 12345, 0xee);
    assert_int_equal(nb_negentropy_storage_seal(&s), NB_OK);
    assert_int_equal(nb_negentropy_init(&bob, &s, 0), NB_OK);
    assert_int_equal(
        nb_negentropy_reconcile(&bob, newer, sizeof(newer), &reply, &reply_len, NULL, NULL), NB_OK);
    assert_bytes_hex(reply, reply_len, "61");
    free(reply);
    assert_int_equal(
        nb_negentropy_reconcile(&bob, alien, sizeof(alien), &reply, &reply_len, NULL, NULL),
        NB_EVERSION);

    assert_int_equal(nb_negentropy_init(&alice, &s, 0), NB_OK);
    assert_int_equal(nb_negentropy_initiate(&alice, &msg, &len), NB_OK);
    free(msg);
    assert_int_equal(nb_negentropy_reconcile(&alice, newer, sizeof(newer), &msg, &len, NULL, NULL),
                     NB_EVERSION);
    nb_negentropy_storage_free(&s);
}

/* ---- reconciliation ----------------------------------------------------- */

static void test_both_empty(void **state)
{
    struct nb_negentropy_storage a, b;
    struct outcome out;
    nb_negentropy_storage_init(&a);
    nb_negentropy_storage_init(&b);
    assert_int_equal(nb_negentropy_storage_seal(&a), NB_OK);
    assert_int_equal(nb_negentropy_storage_seal(&b), NB_OK);
    reconcile_all(&a, 0, &b, 0, &out);
    assert_int_equal(out.have.count, 0);
    assert_int_equal(out.need.count, 0);
    assert_int_equal(out.rounds, 1);
    outcome_free(&out);
    nb_negentropy_storage_free(&a);
    nb_negentropy_storage_free(&b);
}

static void test_identical_sets_finish_in_one_round(void **state)
{
    /* 5000 shared items, nothing differs: Bob's fingerprints all match,
     * his reply is the bare version byte and Alice is done at once. */
    check_random_split(5000, 0, 0, 0, 0, 1);

    struct nb_negentropy_storage a, b;
    struct outcome out;
    uint64_t st = 7;
    nb_negentropy_storage_init(&a);
    nb_negentropy_storage_init(&b);
    for (int i = 0; i < 3000; i++) {
        uint8_t id[NB_NEGENTROPY_ID_SIZE];
        random_id(&st, id);
        add_item(&a, 1000 + (uint64_t)i / 3, id);
        add_item(&b, 1000 + (uint64_t)i / 3, id);
    }
    assert_int_equal(nb_negentropy_storage_seal(&a), NB_OK);
    assert_int_equal(nb_negentropy_storage_seal(&b), NB_OK);
    reconcile_all(&a, 0, &b, 0, &out);
    assert_int_equal(out.rounds, 1);
    assert_int_equal(out.have.count + out.need.count, 0);
    outcome_free(&out);
    nb_negentropy_storage_free(&a);
    nb_negentropy_storage_free(&b);
}

static void test_one_side_empty(void **state)
{
    check_random_split(3000, 1000, 0, 0, 0, 2); /* only Alice has items */
    check_random_split(3000, 0, 1000, 0, 0, 3); /* only Bob has items */
    check_random_split(3000, 1000, 0, 4096, 4096, 4);
    check_random_split(3000, 0, 1000, 4096, 4096, 5);
}

static void test_random_sets_of_several_sizes(void **state)
{
    static const size_t sizes[] = { 1, 2, 31, 32, 33, 100, 511, 1000, 10000 };
    for (size_t i = 0; i < sizeof(sizes) / sizeof(sizes[0]); i++) {
        check_random_split(sizes[i], 100, 100, 0, 0, 100 + i);
        check_random_split(sizes[i], 10, 300, 0, 0, 200 + i);
        check_random_split(sizes[i], 450, 450, 0, 0, 300 + i);
    }
}

static void test_large_set_small_difference(void **state)
{
    /* 10^5 items, about 1% only on each side. */
    check_random_split(100000, 10, 10, 0, 0, 42);
}

static void test_frame_size_limit_honoured(void **state)
{
    /* reconcile_all() asserts every message fits its sender's limit. */
    check_random_split(20000, 50, 50, 4096, 4096, 11);
    check_random_split(20000, 200, 200, 60000, 4096, 12);
    check_random_split(20000, 200, 200, 4096, 60000, 13);
    check_random_split(100000, 5, 5, NB_NEGENTROPY_FRAME_SIZE_LIMIT, NB_NEGENTROPY_FRAME_SIZE_LIMIT,
                       14);
}

static void test_sort_unique(void **state)
{
    struct nb_negentropy_ids ids = { 0 };
    nb_negentropy_ids_sort_unique(&ids);
    assert_int_equal(ids.count, 0);
    const uint8_t fills[] = { 3, 1, 3, 2, 1, 3 };
    for (size_t i = 0; i < sizeof(fills); i++) {
        ids.ids = realloc(ids.ids, (i + 1) * NB_NEGENTROPY_ID_SIZE);
        assert_non_null(ids.ids);
        memset(ids.ids[i], fills[i], NB_NEGENTROPY_ID_SIZE);
        ids.count = ids.capacity = i + 1;
    }
    nb_negentropy_ids_sort_unique(&ids);
    assert_int_equal(ids.count, 3);
    for (size_t i = 0; i < 3; i++) {
        assert_int_equal(ids.ids[i][0], i + 1);
        assert_int_equal(ids.ids[i][31], i + 1);
    }
    nb_negentropy_ids_free(&ids);
}

/*
 * Bob has 1000 items and Alice none, with a 4096-byte limit.  Alice's one
 * range is an empty id list; Bob lists ids while his message stays within
 * 4096 - 200 bytes, which is 122 ids (1 + 122 * 32 = 3905 > 3896 stops the
 * 123rd), ends that list at a bound equal to the 123rd item, and closes with
 * a fingerprint of the remaining 878 items up to infinity.
 */
static void test_frame_cut_shape(void **state)
{
    struct nb_negentropy_storage s;
    struct nb_negentropy bob;
    const uint8_t query[] = { 0x61, 0x00, 0x00, 0x02, 0x00 };
    uint8_t *reply;
    size_t reply_len;

    nb_negentropy_storage_init(&s);
    for (int i = 0; i < 1000; i++) {
        uint8_t id[NB_NEGENTROPY_ID_SIZE] = { (uint8_t)(i >> 8), (uint8_t)i };
        add_item(&s, 100, id);
    }
    assert_int_equal(nb_negentropy_storage_seal(&s), NB_OK);
    assert_int_equal(nb_negentropy_init(&bob, &s, 100), NB_EINVAL);
    assert_int_equal(nb_negentropy_init(&bob, &s, 4096), NB_OK);
    assert_int_equal(
        nb_negentropy_reconcile(&bob, query, sizeof(query), &reply, &reply_len, NULL, NULL), NB_OK);
    /* 61 | 65 20 <id 122> | 02 | 7a | 122 ids | 00 00 01 <fp> */
    assert_int_equal(reply_len, 1 + 2 + 32 + 1 + 1 + 122 * 32 + 3 + 16);
    assert_int_equal(reply[1], 101);
    assert_int_equal(reply[2], 32);
    assert_memory_equal(reply + 3, s.items[122].id, 32);
    assert_int_equal(reply[35], 2);
    assert_int_equal(reply[36], 122);
    assert_memory_equal(reply + 37, s.items[0].id, 32);
    size_t tail = 37 + 122 * 32;
    assert_int_equal(reply[tail], 0);
    assert_int_equal(reply[tail + 1], 0);
    assert_int_equal(reply[tail + 2], 1);
    free(reply);
    nb_negentropy_storage_free(&s);
}

/* ---- storage ------------------------------------------------------------ */

static void test_storage_rules(void **state)
{
    struct nb_negentropy_storage s;
    struct nb_negentropy ne;
    uint8_t id[NB_NEGENTROPY_ID_SIZE] = { 1 };

    nb_negentropy_storage_init(&s);
    assert_int_equal(nb_negentropy_init(&ne, &s, 0), NB_ESTATE);
    assert_int_equal(nb_negentropy_storage_add(&s, UINT64_MAX, id), NB_EINVAL);
    add_item(&s, 5, id);
    add_item(&s, 5, id);
    assert_int_equal(nb_negentropy_storage_seal(&s), NB_EEXIST);
    nb_negentropy_storage_free(&s);

    nb_negentropy_storage_init(&s);
    add_item(&s, 5, id);
    assert_int_equal(nb_negentropy_storage_seal(&s), NB_OK);
    assert_int_equal(nb_negentropy_storage_seal(&s), NB_ESTATE);
    assert_int_equal(nb_negentropy_storage_add(&s, 6, id), NB_ESTATE);
    nb_negentropy_storage_free(&s);

    struct nb_negentropy_item sorted[3] = { { 1, { 9 } }, { 2, { 1 } }, { 2, { 2 } } };
    assert_int_equal(nb_negentropy_storage_init_sorted(&s, sorted, 3), NB_OK);
    assert_int_equal(s.count, 3);
    assert_int_equal(nb_negentropy_init(&ne, &s, 0), NB_OK);
    nb_negentropy_storage_free(&s);
    struct nb_negentropy_item unsorted[2] = { { 2, { 1 } }, { 1, { 9 } } };
    assert_int_equal(nb_negentropy_storage_init_sorted(&s, unsorted, 2), NB_EINVAL);
    struct nb_negentropy_item dup[2] = { { 2, { 1 } }, { 2, { 1 } } };
    assert_int_equal(nb_negentropy_storage_init_sorted(&s, dup, 2), NB_EINVAL);
    struct nb_negentropy_item inf[1] = { { UINT64_MAX, { 1 } } };
    assert_int_equal(nb_negentropy_storage_init_sorted(&s, inf, 1), NB_EINVAL);
}

/* ---- malformed input ---------------------------------------------------- */

static void expect_rejected(struct nb_negentropy *ne, const char *hex, int want)
{
    uint8_t buf[256];
    uint8_t *out = (uint8_t *)"untouched";
    size_t out_len = 12345;
    struct nb_negentropy_ids have = { 0 }, need = { 0 };
    size_t n = unhex(hex, buf, sizeof(buf));
    int r = nb_negentropy_reconcile(ne, buf, n, &out, &out_len, &have, &need);
    if (r != want) {
        fail_msg("message %s: got %s, want %s", hex, nb_error_name(r), nb_error_name(want));
    }
    assert_string_equal((const char *)out, "untouched");
    assert_int_equal(out_len, 12345);
    assert_int_equal(have.count, 0);
    assert_int_equal(need.count, 0);
    nb_negentropy_ids_free(&have);
    nb_negentropy_ids_free(&need);
}

static void test_malformed_messages_rejected(void **state)
{
    struct nb_negentropy_storage s;
    struct nb_negentropy bob, alice;
    uint8_t *msg;
    size_t len;

    nb_negentropy_storage_init(&s);
    for (int i = 0; i < 40; i++) {
        add_filled(&s, 1000 + (uint64_t)i, (uint8_t)i);
    }
    assert_int_equal(nb_negentropy_storage_seal(&s), NB_OK);
    assert_int_equal(nb_negentropy_init(&bob, &s, 0), NB_OK);
    assert_int_equal(nb_negentropy_init(&alice, &s, 0), NB_OK);
    assert_int_equal(nb_negentropy_initiate(&alice, &msg, &len), NB_OK);
    free(msg);

    struct nb_negentropy *sides[2] = { &bob, &alice };
    for (int i = 0; i < 2; i++) {
        struct nb_negentropy *ne = sides[i];
        expect_rejected(ne, "", NB_EMALFORMED);                 /* no version byte */
        expect_rejected(ne, "ff", NB_EVERSION);                 /* not Negentropy */
        expect_rejected(ne, "6180", NB_EMALFORMED);             /* varint cut short */
        expect_rejected(ne, "6100", NB_EMALFORMED);             /* bound without length */
        expect_rejected(ne, "610021", NB_EMALFORMED);           /* prefix of 33 bytes */
        expect_rejected(ne, "610005aabb", NB_EMALFORMED);       /* prefix cut short */
        expect_rejected(ne, "610000", NB_EMALFORMED);           /* no mode */
        expect_rejected(ne, "61000003", NB_EMALFORMED);         /* unknown mode */
        expect_rejected(ne, "610000ffffffff0f", NB_EMALFORMED); /* huge mode */
        expect_rejected(ne, "61000001aabbcc", NB_EMALFORMED);   /* fingerprint cut short */
        expect_rejected(ne, "61000002", NB_EMALFORMED);         /* id list without count */
        /* A count far beyond the bytes that follow must not allocate. */
        expect_rejected(ne, "61000002ffffffff0f", NB_EMALFORMED);
        expect_rejected(ne, "6100000202aabb", NB_EMALFORMED);
        /* A varint wider than 64 bits. */
        expect_rejected(ne, "61ffffffffffffffffffff7f0002", NB_EMALFORMED);
        /* A valid Skip range followed by garbage. */
        expect_rejected(ne, "61850100000a", NB_EMALFORMED);
    }

    /*
     * Alice gets a valid id list (an unknown id she needs) followed by a
     * truncated range: the whole message is rejected and what the first
     * range taught her is not reported.
     */
    expect_rejected(&alice,
                    "6185070002" /* bound 646, IdList */
                    "01"
                    "7777777777777777777777777777777777777777777777777777777777777777"
                    "0000",
                    NB_EMALFORMED);

    /* The sessions still work after rejecting garbage. */
    const uint8_t ok[] = { 0x61, 0x00, 0x00, 0x02, 0x00 };
    assert_int_equal(nb_negentropy_reconcile(&bob, ok, sizeof(ok), &msg, &len, NULL, NULL), NB_OK);
    assert_true(len > 40 * 32);
    free(msg);
    nb_negentropy_storage_free(&s);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_empty_initiate_bytes),
        cmocka_unit_test(test_one_item_exchange_bytes),
        cmocka_unit_test(test_split_bytes_distinct_timestamps),
        cmocka_unit_test(test_split_bytes_shared_timestamp),
        cmocka_unit_test(test_fingerprint_wraps_mod_2_256),
        cmocka_unit_test(test_long_range_fingerprints),
        cmocka_unit_test(test_version_negotiation),
        cmocka_unit_test(test_both_empty),
        cmocka_unit_test(test_identical_sets_finish_in_one_round),
        cmocka_unit_test(test_one_side_empty),
        cmocka_unit_test(test_random_sets_of_several_sizes),
        cmocka_unit_test(test_large_set_small_difference),
        cmocka_unit_test(test_frame_size_limit_honoured),
        cmocka_unit_test(test_frame_cut_shape),
        cmocka_unit_test(test_sort_unique),
        cmocka_unit_test(test_storage_rules),
        cmocka_unit_test(test_malformed_messages_rejected),
    };
    return cmocka_run_group_tests_name("negentropy", tests, NULL, NULL);
}
