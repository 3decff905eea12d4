/*
 * LAN discovery beacons (see include/noaber/beacon.h and docs/protocol.md,
 * "LAN discovery").
 */
#include <noaber/beacon.h>

#include <string.h>

#include <sodium.h>

#include <noaber/error.h>

#define MAGIC_LEN  4
#define SIGNED_LEN (NB_BEACON_SIZE - NB_BEACON_MAC_SIZE) /* 46 */
#define OFF_TIME   4
#define OFF_KEY    12
#define OFF_PORT   44

_Static_assert(OFF_PORT + 2 == SIGNED_LEN, "the mac follows the port");

static int mac(const uint8_t key[NB_NEIGHBOURHOOD_BEACON_KEY_SIZE], const uint8_t *msg,
               uint8_t ret[NB_BEACON_MAC_SIZE])
{
    if (crypto_generichash(ret, NB_BEACON_MAC_SIZE, msg, SIGNED_LEN, key,
                           NB_NEIGHBOURHOOD_BEACON_KEY_SIZE) != 0)
        return NB_ECRYPTO;
    return 0;
}

int nb_beacon_build(const uint8_t beacon_key[NB_NEIGHBOURHOOD_BEACON_KEY_SIZE], uint64_t now,
                    const uint8_t node_key[NB_KEY_SIZE], uint16_t port, uint8_t out[NB_BEACON_SIZE])
{
    uint8_t b[NB_BEACON_SIZE];

    if (port == 0)
        return NB_EINVAL;
    memcpy(b, NB_BEACON_MAGIC, MAGIC_LEN);
    for (int i = 0; i < 8; i++)
        b[OFF_TIME + i] = (uint8_t)(now >> (56 - 8 * i));
    memcpy(b + OFF_KEY, node_key, NB_KEY_SIZE);
    b[OFF_PORT] = (uint8_t)(port >> 8);
    b[OFF_PORT + 1] = (uint8_t)port;
    if (mac(beacon_key, b, b + SIGNED_LEN) < 0)
        return NB_ECRYPTO;
    memcpy(out, b, sizeof(b));
    return 0;
}

int nb_beacon_verify(const uint8_t beacon_key[NB_NEIGHBOURHOOD_BEACON_KEY_SIZE],
                     const uint8_t *bytes, size_t len, uint64_t now, struct nb_beacon *ret)
{
    uint8_t expected[NB_BEACON_MAC_SIZE];
    struct nb_beacon b;

    if (len != NB_BEACON_SIZE || memcmp(bytes, NB_BEACON_MAGIC, MAGIC_LEN) != 0)
        return NB_EMALFORMED;
    if (mac(beacon_key, bytes, expected) < 0)
        return NB_ECRYPTO;
    /* Constant time, like every comparison of a secret-keyed value. */
    if (sodium_memcmp(expected, bytes + SIGNED_LEN, NB_BEACON_MAC_SIZE) != 0)
        return NB_EBADSIG;
    b.timestamp = 0;
    for (int i = 0; i < 8; i++)
        b.timestamp = b.timestamp << 8 | bytes[OFF_TIME + i];
    memcpy(b.node_key, bytes + OFF_KEY, NB_KEY_SIZE);
    b.port = (uint16_t)(bytes[OFF_PORT] << 8 | bytes[OFF_PORT + 1]);
    if (b.port == 0)
        return NB_EMALFORMED;
    if (b.timestamp < now && now - b.timestamp > NB_BEACON_MAX_SKEW)
        return NB_EEXPIRED;
    if (b.timestamp > now && b.timestamp - now > NB_BEACON_MAX_SKEW)
        return NB_EFUTURE;
    *ret = b;
    return 0;
}
