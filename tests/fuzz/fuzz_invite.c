/*
 * Feeds arbitrary bytes to the invite code decoder and the beacon check.
 *
 * Random text almost never passes a checksum, so the input is used three
 * ways: as pasted text; as an invite payload wrapped in a valid checksum
 * (which reaches the bounded msgpack decoding of every field); and as a
 * received beacon.  Beyond "no crash", whatever decodes must re-encode to a
 * code that decodes to the same invite, and a beacon built from the input's
 * fields must verify to those fields.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <noaber/beacon.h>
#include <noaber/error.h>
#include <noaber/identity.h>
#include <noaber/invite.h>

#include "proto/base32.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void check(int ok)
{
    if (!ok) {
        abort();
    }
}

static void same(const struct nb_invite *a, const struct nb_invite *b)
{
    check(strcmp(a->name, b->name) == 0);
    check(memcmp(a->key, b->key, sizeof(a->key)) == 0);
    check(a->expires_at == b->expires_at);
    check(a->n_addresses == b->n_addresses);
    for (size_t i = 0; i < a->n_addresses; i++) {
        check(memcmp(a->addresses[i].node_key, b->addresses[i].node_key, NB_KEY_SIZE) == 0);
        check(strcmp(a->addresses[i].address, b->addresses[i].address) == 0);
    }
}

/* A decoded invite re-encodes (never larger than what it came from) and
 * decodes to itself. */
static void round_trip(const struct nb_invite *inv)
{
    static char code[NB_INVITE_TEXT_MAX + 1];
    struct nb_invite again;
    check(nb_invite_encode(inv, code, sizeof(code)) == 0);
    check(nb_invite_decode(code, strlen(code), &again) == 0);
    same(inv, &again);
    check(nb_invite_check_expiry(inv, inv->expires_at) == NB_EEXPIRED);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    static char text[NB_BASE32_SIZED_TEXT_LEN(4, NB_BASE32_PAYLOAD_MAX) + 1];
    static const uint8_t beacon_key[32] = { 1, 2, 3 };
    struct nb_invite inv;
    struct nb_beacon b;

    /* 1. The input as text someone pasted. */
    if (nb_invite_decode((const char *)data, size, &inv) == 0)
        round_trip(&inv);

    /* 2. The input as a payload with a valid checksum. */
    if (size <= NB_BASE32_PAYLOAD_MAX) {
        check(nb_base32_encode_sized(NB_INVITE_PREFIX, NB_INVITE_CONTEXT, data, size, text,
                                     sizeof(text)) == 0);
        if (nb_invite_decode(text, strlen(text), &inv) == 0)
            round_trip(&inv);
    }

    /* 3. The input as a received beacon, and as the fields of one. */
    uint64_t now = 0;
    for (size_t i = 0; i < 8 && i < size; i++)
        now = now << 8 | data[i];
    int r = nb_beacon_verify(beacon_key, data, size, now, &b);
    check(r == 0 || r == NB_EMALFORMED || r == NB_EBADSIG || r == NB_EEXPIRED || r == NB_EFUTURE);
    if (size >= 42) {
        uint8_t beacon[NB_BEACON_SIZE];
        uint16_t port = (uint16_t)(data[40] << 8 | data[41]);
        r = nb_beacon_build(beacon_key, now, data + 8, port, beacon);
        check(r == (port == 0 ? NB_EINVAL : 0));
        if (r == 0) {
            check(nb_beacon_verify(beacon_key, beacon, sizeof(beacon), now, &b) == 0);
            check(b.timestamp == now && b.port == port);
            check(memcmp(b.node_key, data + 8, NB_KEY_SIZE) == 0);
        }
    }
    return 0;
}
