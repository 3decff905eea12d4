/*
 * LAN discovery beacons as a receiving node sees them: the documented test
 * vector, beacons of another neighbourhood and tampered ones refused,
 * replays limited by the clock, and every wrong length refused.
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <string.h>
#include <cmocka.h>

#include <noaber/beacon.h>
#include <noaber/error.h>
#include <noaber/identity.h>

/*
 * docs/protocol.md ("LAN discovery"): neighbourhood key 00 01 .. 1f, the
 * node key of RFC 7748's Alice, port 7447, at 2026-01-01T00:00:00Z.
 * Computed with an independent implementation (Python's hashlib).
 */
static const char vector_beacon[] =
    "4e424231000000006955b9008520f0098930a754748b7ddcb43ef75a0dbf3a0d26381af4eba4a98eaa9b4e6a1d17"
    "295bc1a757f869300c5a20287d2aa314fff50fed7559cebd5497d844d19914b5";
static const char vector_node[] =
    "8520f0098930a754748b7ddcb43ef75a0dbf3a0d26381af4eba4a98eaa9b4e6a";
#define VECTOR_TIME 1767225600u

static uint8_t beacon_key[32], other_key[32], node_key[32];

static int setup(void **state)
{
    (void)state;
    uint8_t nk[32];
    if (nb_init() != 0)
        return -1;
    for (int i = 0; i < 32; i++)
        nk[i] = (uint8_t)i;
    if (nb_neighbourhood_beacon_key(nk, beacon_key) != 0)
        return -1;
    nk[0] ^= 1;
    if (nb_neighbourhood_beacon_key(nk, other_key) != 0)
        return -1;
    return nb_unhex(vector_node, node_key, sizeof(node_key));
}

static void the_vector_builds_and_verifies(void **state)
{
    (void)state;
    uint8_t want[NB_BEACON_SIZE], got[NB_BEACON_SIZE];
    struct nb_beacon b;

    assert_int_equal(nb_unhex(vector_beacon, want, sizeof(want)), 0);
    assert_int_equal(nb_beacon_build(beacon_key, VECTOR_TIME, node_key, 7447, got), 0);
    assert_memory_equal(got, want, NB_BEACON_SIZE);
    assert_int_equal(nb_beacon_verify(beacon_key, want, sizeof(want), VECTOR_TIME, &b), 0);
    assert_int_equal(b.timestamp, VECTOR_TIME);
    assert_memory_equal(b.node_key, node_key, 32);
    assert_int_equal(b.port, 7447);
}

static void another_neighbourhood_cannot_read_or_forge_it(void **state)
{
    (void)state;
    uint8_t beacon[NB_BEACON_SIZE];
    struct nb_beacon b;

    assert_int_equal(nb_beacon_build(beacon_key, VECTOR_TIME, node_key, 7447, beacon), 0);
    assert_int_equal(nb_beacon_verify(other_key, beacon, sizeof(beacon), VECTOR_TIME, &b),
                     NB_EBADSIG);
    /* Its own beacons do not verify here either. */
    assert_int_equal(nb_beacon_build(other_key, VECTOR_TIME, node_key, 7447, beacon), 0);
    assert_int_equal(nb_beacon_verify(beacon_key, beacon, sizeof(beacon), VECTOR_TIME, &b),
                     NB_EBADSIG);
}

static void every_tampered_bit_is_refused(void **state)
{
    (void)state;
    uint8_t good[NB_BEACON_SIZE], bad[NB_BEACON_SIZE];
    struct nb_beacon b;

    assert_int_equal(nb_beacon_build(beacon_key, VECTOR_TIME, node_key, 7447, good), 0);
    memset(&b, 0xa5, sizeof(b));
    for (size_t bit = 0; bit < 8 * NB_BEACON_SIZE; bit++) {
        memcpy(bad, good, sizeof(bad));
        bad[bit / 8] ^= (uint8_t)(1u << (bit % 8));
        int r = nb_beacon_verify(beacon_key, bad, sizeof(bad), VECTOR_TIME, &b);
        /* The magic is checked first; everything after it is under the mac. */
        assert_int_equal(r, bit < 32 ? NB_EMALFORMED : NB_EBADSIG);
    }
    uint8_t *untouched = (uint8_t *)&b;
    for (size_t i = 0; i < sizeof(b); i++)
        assert_int_equal(untouched[i], 0xa5);
}

static void only_78_bytes_are_a_beacon(void **state)
{
    (void)state;
    uint8_t buf[NB_BEACON_SIZE + 1];
    struct nb_beacon b;

    assert_int_equal(nb_beacon_build(beacon_key, VECTOR_TIME, node_key, 7447, buf), 0);
    buf[NB_BEACON_SIZE] = 0;
    for (size_t len = 0; len <= sizeof(buf); len++) {
        int r = nb_beacon_verify(beacon_key, buf, len, VECTOR_TIME, &b);
        assert_int_equal(r, len == NB_BEACON_SIZE ? 0 : NB_EMALFORMED);
    }
}

static void old_and_future_beacons_are_dropped(void **state)
{
    (void)state;
    uint8_t beacon[NB_BEACON_SIZE];
    struct nb_beacon b;
    const uint64_t t = VECTOR_TIME;

    assert_int_equal(nb_beacon_build(beacon_key, t, node_key, 7447, beacon), 0);
    assert_int_equal(nb_beacon_verify(beacon_key, beacon, sizeof(beacon), t + 300, &b), 0);
    assert_int_equal(nb_beacon_verify(beacon_key, beacon, sizeof(beacon), t - 300, &b), 0);
    assert_int_equal(nb_beacon_verify(beacon_key, beacon, sizeof(beacon), t + 301, &b),
                     NB_EEXPIRED);
    assert_int_equal(nb_beacon_verify(beacon_key, beacon, sizeof(beacon), t - 301, &b), NB_EFUTURE);
    /* The ends of the clock do not wrap around. */
    assert_int_equal(nb_beacon_build(beacon_key, 0, node_key, 1, beacon), 0);
    assert_int_equal(nb_beacon_verify(beacon_key, beacon, sizeof(beacon), UINT64_MAX, &b),
                     NB_EEXPIRED);
    assert_int_equal(nb_beacon_build(beacon_key, UINT64_MAX, node_key, 65535, beacon), 0);
    assert_int_equal(nb_beacon_verify(beacon_key, beacon, sizeof(beacon), 0, &b), NB_EFUTURE);
    assert_int_equal(nb_beacon_verify(beacon_key, beacon, sizeof(beacon), UINT64_MAX - 1, &b), 0);
    assert_int_equal(b.timestamp, UINT64_MAX);
    assert_int_equal(b.port, 65535);
}

static void port_zero_is_no_port(void **state)
{
    (void)state;
    uint8_t beacon[NB_BEACON_SIZE];
    assert_int_equal(nb_beacon_build(beacon_key, VECTOR_TIME, node_key, 0, beacon), NB_EINVAL);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(the_vector_builds_and_verifies),
        cmocka_unit_test(another_neighbourhood_cannot_read_or_forge_it),
        cmocka_unit_test(every_tampered_bit_is_refused),
        cmocka_unit_test(only_78_bytes_are_a_beacon),
        cmocka_unit_test(old_and_future_beacons_are_dropped),
        cmocka_unit_test(port_zero_is_no_port),
    };
    return cmocka_run_group_tests(tests, setup, NULL);
}
