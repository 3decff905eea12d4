/*
 * Rateless reconciliation: Alice streams the coded symbols of the ids she
 * holds, Bob subtracts his own and peels; when his decoder is done he knows
 * exactly which ids only Alice holds and which only he holds, after about
 * 1.35 to 1.7 coded symbols per difference whatever the sets' size.
 */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <noaber/error.h>
#include <noaber/riblt.h>

#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "tests/random_ids.h"
#include "tests/riblt_vectors.h"

static int id_cmp(const void *a, const void *b)
{
    return memcmp(a, b, NB_RIBLT_ID_SIZE);
}

/* ---- the vectors of tests/vectors/riblt.txt ------------------------------- */

static void hex_of(const uint8_t *p, size_t n, char *out)
{
    for (size_t i = 0; i < n; i++)
        sprintf(out + 2 * i, "%02x", p[i]);
}

static void test_vectors(void **state)
{
    (void)state;
    const char *dir = getenv("NOABER_TEST_VECTORS");
    assert_non_null(dir);
    char path[4096];
    snprintf(path, sizeof(path), "%s/riblt.txt", dir);
    FILE *f = fopen(path, "r");
    assert_non_null(f);
    static char line[16384];
    static char want[16384];
    unsigned checked = 0;
    while (fgets(line, sizeof(line), f) != NULL) {
        line[strcspn(line, "\n")] = '\0';
        unsigned j;
        uint8_t id[NB_RIBLT_ID_SIZE];
        if (sscanf(line, "id %u", &j) == 1) {
            riblt_vector_id(j, id);
            hex_of(id, sizeof(id), want);
            assert_string_equal(strchr(line + 3, ' ') + 1, want);
            checked++;
        } else if (sscanf(line, "hash %u", &j) == 1) {
            riblt_vector_id(j, id);
            snprintf(want, sizeof(want), "hash %u %016" PRIx64, j, nb_riblt_hash(id));
            assert_string_equal(line, want);
            checked++;
        } else if (sscanf(line, "indices %u", &j) == 1) {
            riblt_vector_id(j, id);
            struct nb_riblt_mapping m;
            nb_riblt_mapping_init(&m, nb_riblt_hash(id));
            int n = snprintf(want, sizeof(want), "indices %u %" PRIu64, j, m.index);
            for (int i = 1; i < RIBLT_VECTOR_INDICES; i++)
                n += snprintf(want + n, sizeof(want) - (size_t)n, " %" PRIu64,
                              nb_riblt_mapping_next(&m));
            assert_string_equal(line, want);
            checked++;
        } else if (strncmp(line, "symbols ", 8) == 0) {
            struct nb_riblt_encoder enc;
            assert_int_equal(nb_riblt_encoder_init(&enc, RIBLT_VECTOR_SYMBOLS), 0);
            for (unsigned k = 0; k < RIBLT_VECTOR_SET; k++) {
                riblt_vector_id(k, id);
                nb_riblt_encoder_add(&enc, id);
            }
            uint8_t msg[4096];
            size_t len;
            assert_int_equal(nb_riblt_encode_symbols(&enc, 0, RIBLT_VECTOR_SYMBOLS,
                                                     RIBLT_VECTOR_SYMBOLS, msg, sizeof(msg), &len),
                             0);
            hex_of(msg, len, want);
            assert_string_equal(line + 8, want);
            nb_riblt_encoder_free(&enc);
            checked++;
        } else if (strncmp(line, "decode_needed ", 14) == 0) {
            size_t needed;
            assert_int_equal(riblt_vector_decode(&needed), 0);
            assert_int_equal(needed, strtoul(line + 14, NULL, 10));
            checked++;
        }
    }
    fclose(f);
    assert_int_equal(checked, 3 * RIBLT_VECTOR_MAPPED + 2);
}

/* ---- the index mapping ------------------------------------------------------ */

/* Index i is mapped to with probability about 1/(1 + i/2): over many ids,
 * the share of ids at a few indices is near that. */
static void test_mapping_density(void **state)
{
    (void)state;
    enum { IDS = 20000 };
    static unsigned hits[64];
    memset(hits, 0, sizeof(hits));
    uint64_t seed = 7;
    for (int n = 0; n < IDS; n++) {
        uint8_t id[NB_RIBLT_ID_SIZE];
        random_id(&seed, id);
        struct nb_riblt_mapping m;
        nb_riblt_mapping_init(&m, nb_riblt_hash(id));
        uint64_t last = 0;
        assert_int_equal(m.index, 0);
        for (uint64_t i = 0; i < 64; i = nb_riblt_mapping_next(&m)) {
            if (i > 0)
                assert_true(i > last); /* strictly increasing */
            last = i;
            hits[i]++;
        }
    }
    assert_int_equal(hits[0], IDS);
    for (int i = 1; i < 64; i += 9) {
        double want = 1.0 / (1.0 + i / 2.0), got = (double)hits[i] / IDS;
        assert_true(got > want * 0.85 && got < want * 1.15);
    }
}

/* ---- decoding differences --------------------------------------------------- */

/*
 * Alice and Bob share `common` ids; k more are split between them, about
 * half each.  Bob decodes Alice's stream; returns how many symbols it took
 * and checks that what he decoded is exactly the difference.
 */
static size_t reconcile(uint64_t seed, size_t common, size_t k)
{
    struct nb_riblt_encoder alice, bob;
    assert_int_equal(nb_riblt_encoder_init(&alice, NB_RIBLT_SYMBOLS_MAX), 0);
    assert_int_equal(nb_riblt_encoder_init(&bob, NB_RIBLT_SYMBOLS_MAX), 0);
    uint8_t(*only_alice)[NB_RIBLT_ID_SIZE] = calloc(k + 1, NB_RIBLT_ID_SIZE);
    uint8_t(*only_bob)[NB_RIBLT_ID_SIZE] = calloc(k + 1, NB_RIBLT_ID_SIZE);
    assert_non_null(only_alice);
    assert_non_null(only_bob);
    size_t na = 0, nb = 0;
    uint8_t id[NB_RIBLT_ID_SIZE];
    for (size_t i = 0; i < common; i++) {
        random_id(&seed, id);
        nb_riblt_encoder_add(&alice, id);
        nb_riblt_encoder_add(&bob, id);
    }
    for (size_t i = 0; i < k; i++) {
        random_id(&seed, id);
        if (splitmix(&seed) & 1) {
            nb_riblt_encoder_add(&alice, id);
            memcpy(only_alice[na++], id, NB_RIBLT_ID_SIZE);
        } else {
            nb_riblt_encoder_add(&bob, id);
            memcpy(only_bob[nb++], id, NB_RIBLT_ID_SIZE);
        }
    }
    struct nb_riblt_decoder dec;
    assert_int_equal(nb_riblt_decoder_init(&dec, &bob), 0);
    while (!nb_riblt_decoder_done(&dec))
        assert_int_equal(nb_riblt_decoder_add(&dec, &alice.symbols[dec.m]), 0);
    size_t needed = dec.m;
    /* What Bob decoded, by side, is exactly what each holds alone. */
    assert_int_equal(dec.n_decoded, k);
    uint8_t(*got_alice)[NB_RIBLT_ID_SIZE] = calloc(k + 1, NB_RIBLT_ID_SIZE);
    uint8_t(*got_bob)[NB_RIBLT_ID_SIZE] = calloc(k + 1, NB_RIBLT_ID_SIZE);
    size_t ga = 0, gb = 0;
    for (size_t i = 0; i < dec.n_decoded; i++) {
        assert_true(dec.decoded[i].side == 1 || dec.decoded[i].side == -1);
        memcpy(dec.decoded[i].side == 1 ? got_alice[ga++] : got_bob[gb++], dec.decoded[i].id,
               NB_RIBLT_ID_SIZE);
    }
    assert_int_equal(ga, na);
    assert_int_equal(gb, nb);
    qsort(only_alice, na, NB_RIBLT_ID_SIZE, id_cmp);
    qsort(only_bob, nb, NB_RIBLT_ID_SIZE, id_cmp);
    qsort(got_alice, ga, NB_RIBLT_ID_SIZE, id_cmp);
    qsort(got_bob, gb, NB_RIBLT_ID_SIZE, id_cmp);
    if (na > 0)
        assert_memory_equal(only_alice, got_alice, na * NB_RIBLT_ID_SIZE);
    if (nb > 0)
        assert_memory_equal(only_bob, got_bob, nb * NB_RIBLT_ID_SIZE);
    free(only_alice);
    free(only_bob);
    free(got_alice);
    free(got_bob);
    nb_riblt_decoder_free(&dec);
    nb_riblt_encoder_free(&alice);
    nb_riblt_encoder_free(&bob);
    return needed;
}

static int size_cmp(const void *a, const void *b)
{
    size_t x = *(const size_t *)a, y = *(const size_t *)b;
    return x < y ? -1 : x > y;
}

/* k = 1 .. 1000 differences decode; the overhead (symbols / k) is printed
 * as a distribution, and stays in the range the paper reports once k is
 * large enough for averages to hold. */
static void test_differences_decode(void **state)
{
    (void)state;
    static const size_t ks[] = { 1, 2, 5, 10, 20, 50, 100, 200, 500, 1000 };
    enum { TRIALS = 12 };
    printf("# k  trials  symbols/k: min  median  p90  max  mean\n");
    for (size_t t = 0; t < sizeof(ks) / sizeof(ks[0]); t++) {
        size_t k = ks[t];
        size_t trials = k >= 500 ? TRIALS / 3 : TRIALS;
        size_t needed[TRIALS];
        double sum = 0;
        for (size_t i = 0; i < trials; i++) {
            needed[i] = reconcile(1000 * k + i, 2000, k);
            sum += (double)needed[i];
        }
        qsort(needed, trials, sizeof(needed[0]), size_cmp);
        double kk = (double)k;
        printf("# %4zu  %2zu  %.2f  %.2f  %.2f  %.2f  %.2f\n", k, trials, (double)needed[0] / kk,
               (double)needed[trials / 2] / kk, (double)needed[trials * 9 / 10] / kk,
               (double)needed[trials - 1] / kk, sum / (double)trials / kk);
        if (k >= 100) {
            double mean = sum / (double)trials / kk;
            assert_true(mean > 1.2 && mean < 1.8);
        }
    }
}

/* Bob's set equal to Alice's: decoded at the first symbol. */
static void test_equal_sets(void **state)
{
    (void)state;
    assert_int_equal(reconcile(42, 500, 0), 1);
}

/* A difference beyond what the prefix can carry fails cleanly. */
static void test_too_large(void **state)
{
    (void)state;
    struct nb_riblt_encoder alice, bob;
    assert_int_equal(nb_riblt_encoder_init(&alice, 256), 0);
    assert_int_equal(nb_riblt_encoder_init(&bob, 256), 0);
    uint64_t seed = 5;
    uint8_t id[NB_RIBLT_ID_SIZE];
    for (int i = 0; i < 2000; i++) {
        random_id(&seed, id);
        nb_riblt_encoder_add(&alice, id);
    }
    struct nb_riblt_decoder dec;
    assert_int_equal(nb_riblt_decoder_init(&dec, &bob), 0);
    int r = 0;
    while (r == 0 && !nb_riblt_decoder_done(&dec))
        r = nb_riblt_decoder_add(&dec, &alice.symbols[dec.m < 255 ? dec.m : 255]);
    assert_int_equal(r, NB_ETOOBIG);
    assert_false(nb_riblt_decoder_done(&dec));
    nb_riblt_decoder_free(&dec);
    nb_riblt_encoder_free(&alice);
    nb_riblt_encoder_free(&bob);
}

/* The prefix kept up to date through additions and removals is the prefix
 * of the set that remains. */
static void test_incremental(void **state)
{
    (void)state;
    struct nb_riblt_encoder kept, fresh;
    assert_int_equal(nb_riblt_encoder_init(&kept, 512), 0);
    assert_int_equal(nb_riblt_encoder_init(&fresh, 512), 0);
    uint64_t seed = 9;
    uint8_t ids[300][NB_RIBLT_ID_SIZE];
    for (int i = 0; i < 300; i++) {
        random_id(&seed, ids[i]);
        nb_riblt_encoder_add(&kept, ids[i]);
    }
    for (int i = 0; i < 300; i += 3)
        nb_riblt_encoder_remove(&kept, ids[i]);
    for (int i = 0; i < 300; i++)
        if (i % 3 != 0)
            nb_riblt_encoder_add(&fresh, ids[i]);
    assert_int_equal(kept.ids, fresh.ids);
    assert_memory_equal(kept.symbols, fresh.symbols, 512 * sizeof(*kept.symbols));
    nb_riblt_encoder_free(&kept);
    nb_riblt_encoder_free(&fresh);
}

/* ---- the wire form ------------------------------------------------------------ */

static void test_symbols_round_trip(void **state)
{
    (void)state;
    struct nb_riblt_encoder enc;
    assert_int_equal(nb_riblt_encoder_init(&enc, 64), 0);
    uint64_t seed = 3;
    uint8_t id[NB_RIBLT_ID_SIZE];
    for (int i = 0; i < 1000; i++) {
        random_id(&seed, id);
        nb_riblt_encoder_add(&enc, id);
    }
    enc.symbols[5].count = -3; /* a difference travels too */
    static uint8_t msg[NB_RIBLT_BATCH_MAX * 64];
    size_t len;
    assert_int_equal(nb_riblt_encode_symbols(&enc, 32, 32, 64, msg, sizeof(msg), &len), 0);
    static struct nb_riblt_symbol got[NB_RIBLT_BATCH_MAX];
    struct nb_riblt_msg m;
    assert_int_equal(nb_riblt_msg_decode(msg, len, &m, got), 0);
    assert_int_equal(m.type, NB_RIBLT_SYMBOLS);
    assert_int_equal(m.first, 32);
    assert_int_equal(m.n_symbols, 32);
    assert_int_equal(m.end, 64);
    for (int i = 0; i < 32; i++) {
        assert_memory_equal(got[i].sum, enc.symbols[32 + i].sum, NB_RIBLT_ID_SIZE);
        assert_true(got[i].hash == enc.symbols[32 + i].hash);
        assert_true(got[i].count == enc.symbols[32 + i].count);
    }
    /* Every truncation is an error, and so is one byte more. */
    for (size_t cut = 0; cut < len; cut++)
        assert_int_equal(nb_riblt_msg_decode(msg, cut, &m, got), NB_EMALFORMED);
    msg[len] = 0;
    assert_int_equal(nb_riblt_msg_decode(msg, len + 1, &m, got), NB_EMALFORMED);
    /* A flight's end before the message's own end is no flight. */
    assert_int_equal(nb_riblt_encode_symbols(&enc, 0, 8, 7, msg, sizeof(msg), &len), NB_EINVAL);
    assert_int_equal(nb_riblt_encode_symbols(&enc, 0, 8, 8, msg, sizeof(msg), &len), 0);
    msg[4] = 7; /* first 0, n 8, end 7 */
    assert_int_equal(nb_riblt_msg_decode(msg, len, &m, got), NB_EMALFORMED);
    msg[4] = 8;
    assert_int_equal(nb_riblt_msg_decode(msg, len, &m, got), 0);
    assert_true(got[5].count == -3);
    nb_riblt_encoder_free(&enc);
}

static void test_strict_decoding(void **state)
{
    (void)state;
    static struct nb_riblt_symbol syms[NB_RIBLT_BATCH_MAX];
    struct nb_riblt_msg m;
    /* another version */
    static const uint8_t v2[] = { 0x02, 0x04 };
    assert_int_equal(nb_riblt_msg_decode(v2, sizeof(v2), &m, syms), NB_EVERSION);
    /* an unknown type */
    static const uint8_t t9[] = { 0x01, 0x09 };
    assert_int_equal(nb_riblt_msg_decode(t9, sizeof(t9), &m, syms), NB_EMALFORMED);
    /* fallback, and fallback with a byte too many */
    static const uint8_t fb[] = { 0x01, 0x04, 0x00 };
    assert_int_equal(nb_riblt_msg_decode(fb, 2, &m, syms), 0);
    assert_int_equal(m.type, NB_RIBLT_FALLBACK);
    assert_int_equal(nb_riblt_msg_decode(fb, 3, &m, syms), NB_EMALFORMED);
    /* more: a minimal varint is read, a padded one is not, nor 0 or past the bound */
    static const uint8_t more[] = { 0x01, 0x02, 0x81, 0x00 };
    assert_int_equal(nb_riblt_msg_decode(more, sizeof(more), &m, syms), 0);
    assert_int_equal(m.total, 128);
    static const uint8_t padded[] = { 0x01, 0x02, 0x80, 0x05 };
    assert_int_equal(nb_riblt_msg_decode(padded, sizeof(padded), &m, syms), NB_EMALFORMED);
    static const uint8_t zero[] = { 0x01, 0x02, 0x00 };
    assert_int_equal(nb_riblt_msg_decode(zero, sizeof(zero), &m, syms), NB_EMALFORMED);
    static const uint8_t over[] = { 0x01, 0x02, 0xa0, 0x01 }; /* 4097 */
    assert_int_equal(nb_riblt_msg_decode(over, sizeof(over), &m, syms), NB_EMALFORMED);
    /* a varint past 64 bits */
    static const uint8_t huge[] = { 0x01, 0x02, 0xff, 0xff, 0xff, 0xff, 0xff,
                                    0xff, 0xff, 0xff, 0xff, 0xff, 0x7f };
    assert_int_equal(nb_riblt_msg_decode(huge, sizeof(huge), &m, syms), NB_EMALFORMED);
    /* symbols: a count of symbols the bytes cannot hold, and past the end */
    static const uint8_t many[] = { 0x01, 0x01, 0x00, 0x88, 0x00 };
    assert_int_equal(nb_riblt_msg_decode(many, sizeof(many), &m, syms), NB_EMALFORMED);
    static const uint8_t late[] = { 0x01, 0x01, 0x9f, 0x7f, 0x02 }; /* first 4095, 2 */
    assert_int_equal(nb_riblt_msg_decode(late, sizeof(late), &m, syms), NB_EMALFORMED);
    /* diff: one id each side, the last part */
    uint8_t diff[2 + 1 + 1 + 32 + 1 + 32];
    uint8_t a[1][NB_RIBLT_ID_SIZE], b[1][NB_RIBLT_ID_SIZE];
    memset(a, 0xaa, sizeof(a));
    memset(b, 0xbb, sizeof(b));
    size_t len;
    assert_int_equal(nb_riblt_encode_diff(true, (const uint8_t(*)[32])a, 1, (const uint8_t(*)[32])b,
                                          1, diff, sizeof(diff), &len),
                     0);
    assert_int_equal(len, sizeof(diff));
    assert_int_equal(nb_riblt_msg_decode(diff, len, &m, syms), 0);
    assert_true(m.last);
    assert_int_equal(m.n_have, 1);
    assert_int_equal(m.n_need, 1);
    assert_memory_equal(m.have, a, 32);
    assert_memory_equal(m.need, b, 32);
    /* an id count larger than the bytes that remain */
    diff[3] = 2;
    assert_int_equal(nb_riblt_msg_decode(diff, len, &m, syms), NB_EMALFORMED);
    diff[3] = 1;
    diff[2] = 2; /* a flag that is neither 0 nor 1 */
    assert_int_equal(nb_riblt_msg_decode(diff, len, &m, syms), NB_EMALFORMED);
}

int main(void)
{
    if (sodium_init() < 0)
        return 1;
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_vectors),
        cmocka_unit_test(test_mapping_density),
        cmocka_unit_test(test_differences_decode),
        cmocka_unit_test(test_equal_sets),
        cmocka_unit_test(test_too_large),
        cmocka_unit_test(test_incremental),
        cmocka_unit_test(test_symbols_round_trip),
        cmocka_unit_test(test_strict_decoding),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
