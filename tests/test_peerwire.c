/*
 * The peer messages as a second implementation would send them: every type
 * encodes to the bytes docs/protocol.md gives and decodes back; a message
 * that breaks its row (wrong count, short id, too many entries, bad address)
 * is refused; unknown types and unknown hello keys pass so later versions
 * can add them; lying lengths and deep nesting are refused before anything
 * is allocated.
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include <noaber/error.h>
#include <noaber/peerwire.h>
#include <noaber/record.h>

static uint8_t buf[NB_PEER_MSG_MAX + 64];
static struct nb_peer_msg msg;

static void test_address_parse(void **state)
{
    (void)state;
    char host[NB_PEER_ADDRESS_MAX + 1];
    uint16_t port = 0;
    assert_int_equal(nb_peer_address_parse("127.0.0.1:7447", 14, false, host, &port), 0);
    assert_string_equal(host, "127.0.0.1");
    assert_int_equal(port, 7447);
    assert_int_equal(nb_peer_address_parse("[2001:db8::1]:7447", 18, false, host, &port), 0);
    assert_string_equal(host, "2001:db8::1");
    assert_int_equal(nb_peer_address_parse("node-1.example.org:1", 20, false, host, &port), 0);
    assert_int_equal(port, 1);
    assert_int_equal(nb_peer_address_parse("0.0.0.0:0", 9, true, host, &port), 0);
    assert_int_equal(port, 0);

    const char *bad[] = {
        "127.0.0.1",        /* no port */
        "127.0.0.1:",       /* empty port */
        ":7447",            /* empty host */
        "127.0.0.1:65536",  /* port too large */
        "127.0.0.1:0",      /* port 0 where a real port is needed */
        "127.0.0.1:07447",  /* leading zero */
        "2001:db8::1:7447", /* IPv6 without brackets */
        "[2001:db8::1:7447",
        "[]:7447",
        "host name:7447", /* space */
        "host/x:7447",
        "[zz::1]:7447",
        "127.0.0.1:74a7",
    };
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
        assert_int_equal(nb_peer_address_parse(bad[i], strlen(bad[i]), false, NULL, NULL),
                         NB_EINVAL);
    char longhost[300];
    memset(longhost, 'a', 254);
    memcpy(longhost + 254, ":1", 3);
    assert_int_equal(nb_peer_address_parse(longhost, strlen(longhost), false, NULL, NULL),
                     NB_EINVAL);
}

static void test_hello_round_trip(void **state)
{
    (void)state;
    size_t len;
    struct nb_peer_hello h;
    assert_int_equal(
        nb_peer_hello_encode("10.0.0.2:7447", "noaberd 0.1.0", 0, buf, sizeof(buf), &len), 0);
    /* {"v": 1, "listen": "10.0.0.2:7447", "software": "noaberd 0.1.0"} */
    static const uint8_t expect[] = { 0x83, 0xa1, 'v', 0x01, 0xa6, 'l',  'i', 's', 't', 'e',
                                      'n',  0xad, '1', '0',  '.',  '0',  '.', '0', '.', '2',
                                      ':',  '7',  '4', '4',  '7',  0xa8, 's', 'o', 'f', 't',
                                      'w',  'a',  'r', 'e',  0xad, 'n',  'o', 'a', 'b', 'e',
                                      'r',  'd',  ' ', '0',  '.',  '1',  '.', '0' };
    assert_int_equal(len, sizeof(expect));
    assert_memory_equal(buf, expect, len);
    assert_int_equal(nb_peer_hello_decode(buf, len, &h), 0);
    assert_int_equal(h.version, 1);
    assert_true(h.has_listen);
    assert_string_equal(h.listen, "10.0.0.2:7447");
    assert_string_equal(h.software, "noaberd 0.1.0");

    assert_false(h.has_time);

    assert_int_equal(nb_peer_hello_encode(NULL, "x", 0, buf, sizeof(buf), &len), 0);
    assert_int_equal(nb_peer_hello_decode(buf, len, &h), 0);
    assert_false(h.has_listen);

    /* The sender's clock, a compatible addition: {"v": 1, "software": "x",
     * "time": 1767225600}. */
    assert_int_equal(nb_peer_hello_encode(NULL, "x", 1767225600, buf, sizeof(buf), &len), 0);
    static const uint8_t timed[] = { 0x83, 0xa1, 'v',  0x01, 0xa8, 's',  'o',  'f', 't',
                                     'w',  'a',  'r',  'e',  0xa1, 'x',  0xa4, 't', 'i',
                                     'm',  'e',  0xce, 0x69, 0x55, 0xb9, 0x00 };
    assert_int_equal(len, sizeof(timed));
    assert_memory_equal(buf, timed, len);
    assert_int_equal(nb_peer_hello_decode(buf, len, &h), 0);
    assert_true(h.has_time);
    assert_int_equal(h.time, 1767225600);
    assert_int_equal(nb_peer_hello_encode("nonsense", "x", 0, buf, sizeof(buf), &len), NB_EINVAL);
    assert_int_equal(nb_peer_hello_encode(NULL, "x", 0, buf, 4, &len), NB_ETOOBIG);
}

/* A node that reconciles with coded symbols says so in its hello
 * ({"v": 1, "software": "x", "riblt": 1}); one that does not send the key
 * is read as not offering it. */
static void test_hello_riblt(void **state)
{
    (void)state;
    size_t len;
    struct nb_peer_hello h;
    assert_int_equal(nb_peer_hello_encode_riblt(NULL, "x", 0, true, buf, sizeof(buf), &len), 0);
    static const uint8_t riblt[] = { 0x83, 0xa1, 'v',  0x01, 0xa8, 's', 'o', 'f', 't', 'w', 'a',
                                     'r',  'e',  0xa1, 'x',  0xa5, 'r', 'i', 'b', 'l', 't', 0x01 };
    assert_int_equal(len, sizeof(riblt));
    assert_memory_equal(buf, riblt, len);
    assert_int_equal(nb_peer_hello_decode(buf, len, &h), 0);
    assert_int_equal(h.riblt, NB_PEER_RIBLT_VERSION);
    assert_int_equal(nb_peer_hello_encode(NULL, "x", 0, buf, sizeof(buf), &len), 0);
    assert_int_equal(nb_peer_hello_decode(buf, len, &h), 0);
    assert_int_equal(h.riblt, 0);
    /* riblt = 0 is not a version: a malformed hello. */
    uint8_t zero[sizeof(riblt)];
    memcpy(zero, riblt, sizeof(riblt));
    zero[sizeof(zero) - 1] = 0x00;
    assert_int_equal(nb_peer_hello_decode(zero, sizeof(zero), &h), NB_EFIELD);

    /* The rbl message carries RIBLT's own bytes: [9, bin]. */
    static const uint8_t fallback[] = { 0x01, 0x04 };
    assert_int_equal(nb_peer_encode_rbl(fallback, sizeof(fallback), buf, sizeof(buf), &len), 0);
    static const uint8_t rbl[] = { 0x92, 0x09, 0xc4, 0x02, 0x01, 0x04 };
    assert_int_equal(len, sizeof(rbl));
    assert_memory_equal(buf, rbl, len);
    assert_int_equal(nb_peer_msg_decode(buf, len, &msg), 0);
    assert_int_equal(msg.type, NB_PEER_RBL);
    assert_int_equal(msg.bin_len, 2);
    assert_memory_equal(msg.bin, fallback, 2);
    assert_int_equal(nb_peer_encode_rbl(fallback, 0, buf, sizeof(buf), &len), NB_EINVAL);
}

static void test_hello_unknown_keys_and_bad_fields(void **state)
{
    (void)state;
    struct nb_peer_hello h;
    memset(&h, 0x5a, sizeof(h));
    /* {"v": 2, "software": "", "x": [1]} -- a later version with a new key */
    static const uint8_t later[] = { 0x83, 0xa1, 'v', 0x02, 0xa8, 's',  'o', 'f',  't',
                                     'w',  'a',  'r', 'e',  0xa0, 0xa1, 'x', 0x91, 0x01 };
    assert_int_equal(nb_peer_hello_decode(later, sizeof(later), &h), 0);
    assert_int_equal(h.version, 2);
    assert_false(h.has_listen);

    /* No software. */
    static const uint8_t no_sw[] = { 0x81, 0xa1, 'v', 0x01 };
    struct nb_peer_hello before;
    memset(&h, 0x5a, sizeof(h));
    memcpy(&before, &h, sizeof(h));
    assert_int_equal(nb_peer_hello_decode(no_sw, sizeof(no_sw), &h), NB_EFIELD);
    assert_memory_equal(&h, &before, sizeof(h)); /* untouched on failure */
    /* v as a string. */
    static const uint8_t v_str[] = { 0x82, 0xa1, 'v', 0xa1, '1', 0xa8, 's', 'o',
                                     'f',  't',  'w', 'a',  'r', 'e',  0xa0 };
    assert_int_equal(nb_peer_hello_decode(v_str, sizeof(v_str), &h), NB_EFIELD);
    /* A listen address that is not HOST:PORT. */
    static const uint8_t bad_listen[] = { 0x83, 0xa1, 'v',  0x01, 0xa6, 'l', 'i',  's', 't',
                                          'e',  'n',  0xa3, 'a',  'b',  'c', 0xa8, 's', 'o',
                                          'f',  't',  'w',  'a',  'r',  'e', 0xa0 };
    assert_int_equal(nb_peer_hello_decode(bad_listen, sizeof(bad_listen), &h), NB_EFIELD);
    /* Not a map, and a map that claims more pairs than bytes remain. */
    static const uint8_t array[] = { 0x91, 0x01 };
    assert_int_equal(nb_peer_hello_decode(array, sizeof(array), &h), NB_EMALFORMED);
    static const uint8_t lying[] = { 0xdf, 0xff, 0xff, 0xff, 0xff };
    assert_int_equal(nb_peer_hello_decode(lying, sizeof(lying), &h), NB_EMALFORMED);
    assert_int_equal(nb_peer_hello_decode(buf, NB_PEER_HELLO_MAX + 1, &h), NB_ETOOBIG);
}

static void test_neg_and_record(void **state)
{
    (void)state;
    size_t len;
    uint8_t neg[300];
    memset(neg, 0x61, sizeof(neg));
    assert_int_equal(nb_peer_encode_neg(neg, sizeof(neg), buf, sizeof(buf), &len), 0);
    /* [1, bin16(300)] */
    static const uint8_t head[] = { 0x92, 0x01, 0xc5, 0x01, 0x2c };
    assert_memory_equal(buf, head, sizeof(head));
    assert_int_equal(len, sizeof(head) + sizeof(neg));
    assert_int_equal(nb_peer_msg_decode(buf, len, &msg), 0);
    assert_int_equal(msg.type, NB_PEER_NEG);
    assert_int_equal(msg.bin_len, sizeof(neg));
    assert_memory_equal(msg.bin, neg, sizeof(neg));

    uint8_t rec[NB_RECORD_MAX];
    memset(rec, 0xab, sizeof(rec));
    assert_int_equal(nb_peer_encode_record(rec, sizeof(rec), buf, sizeof(buf), &len), 0);
    assert_int_equal(nb_peer_msg_decode(buf, len, &msg), 0);
    assert_int_equal(msg.type, NB_PEER_RECORD);
    assert_int_equal(msg.bin_len, NB_RECORD_MAX);
    assert_ptr_equal(msg.bin, buf + len - NB_RECORD_MAX); /* a view, not a copy */
    assert_int_equal(nb_peer_encode_record(rec, NB_RECORD_MAX + 1, buf, sizeof(buf), &len),
                     NB_EINVAL);

    /* A record larger than a record may be, and an empty one, are invalid. */
    static const uint8_t big_head[] = { 0x92, 0x03, 0xc5, 0x20, 0x01 };
    memcpy(buf, big_head, sizeof(big_head));
    memset(buf + sizeof(big_head), 0, NB_RECORD_MAX + 1);
    assert_int_equal(nb_peer_msg_decode(buf, sizeof(big_head) + NB_RECORD_MAX + 1, &msg),
                     NB_EFIELD);
    static const uint8_t empty[] = { 0x92, 0x03, 0xc4, 0x00 };
    assert_int_equal(nb_peer_msg_decode(empty, sizeof(empty), &msg), NB_EFIELD);
    /* A neg whose payload is a string, not bin. */
    static const uint8_t neg_str[] = { 0x92, 0x01, 0xa1, 0x61 };
    assert_int_equal(nb_peer_msg_decode(neg_str, sizeof(neg_str), &msg), NB_EFIELD);
}

static void test_want_and_missing(void **state)
{
    (void)state;
    static uint8_t ids[NB_PEER_IDS_MAX + 1][NB_PEER_ID_SIZE];
    for (size_t i = 0; i <= NB_PEER_IDS_MAX; i++)
        memset(ids[i], (int)i, NB_PEER_ID_SIZE);
    size_t len;
    assert_int_equal(nb_peer_encode_ids(NB_PEER_WANT, (const uint8_t(*)[32])ids, NB_PEER_IDS_MAX,
                                        buf, sizeof(buf), &len),
                     0);
    assert_int_equal(nb_peer_msg_decode(buf, len, &msg), 0);
    assert_int_equal(msg.type, NB_PEER_WANT);
    assert_int_equal(msg.n_ids, NB_PEER_IDS_MAX);
    assert_memory_equal(msg.ids, ids, NB_PEER_IDS_MAX * NB_PEER_ID_SIZE);

    assert_int_equal(
        nb_peer_encode_ids(NB_PEER_MISSING, (const uint8_t(*)[32])ids, 1, buf, sizeof(buf), &len),
        0);
    /* [4, [bin8(32) ...]] */
    assert_int_equal(len, 3 + 2 + 32);
    assert_int_equal(buf[0], 0x92);
    assert_int_equal(buf[1], 0x04);
    assert_int_equal(buf[2], 0x91);
    assert_int_equal(nb_peer_msg_decode(buf, len, &msg), 0);
    assert_int_equal(msg.type, NB_PEER_MISSING);
    assert_int_equal(msg.n_ids, 1);

    /* Out of the row: no ids, 257 ids, an id of 31 bytes. */
    assert_int_equal(
        nb_peer_encode_ids(NB_PEER_WANT, (const uint8_t(*)[32])ids, 0, buf, sizeof(buf), &len),
        NB_EINVAL);
    assert_int_equal(nb_peer_encode_ids(NB_PEER_WANT, (const uint8_t(*)[32])ids,
                                        NB_PEER_IDS_MAX + 1, buf, sizeof(buf), &len),
                     NB_EINVAL);
    assert_int_equal(
        nb_peer_encode_ids(NB_PEER_SYNCED, (const uint8_t(*)[32])ids, 1, buf, sizeof(buf), &len),
        NB_EINVAL);
    static const uint8_t none[] = { 0x92, 0x02, 0x90 };
    assert_int_equal(nb_peer_msg_decode(none, sizeof(none), &msg), NB_EFIELD);
    size_t n = 0;
    buf[n++] = 0x92;
    buf[n++] = 0x02;
    buf[n++] = 0xdc;
    buf[n++] = 0x01;
    buf[n++] = 0x01; /* 257 */
    for (size_t i = 0; i < 257; i++) {
        buf[n++] = 0xc4;
        buf[n++] = 32;
        memset(buf + n, 1, 32);
        n += 32;
    }
    assert_int_equal(nb_peer_msg_decode(buf, n, &msg), NB_EFIELD);
    static const uint8_t short_id[] = { 0x92, 0x02, 0x91, 0xc4, 0x01, 0x00 };
    assert_int_equal(nb_peer_msg_decode(short_id, sizeof(short_id), &msg), NB_EFIELD);
}

static void test_peers(void **state)
{
    (void)state;
    static struct nb_peer_addr addrs[NB_PEER_ADDRS_MAX + 1];
    for (size_t i = 0; i <= NB_PEER_ADDRS_MAX; i++) {
        memset(addrs[i].node_key, (int)i + 1, NB_PEER_KEY_SIZE);
        snprintf(addrs[i].address, sizeof(addrs[i].address), "192.168.1.%zu:7447", i + 1);
    }
    size_t len;
    assert_int_equal(nb_peer_encode_peers(addrs, NB_PEER_ADDRS_MAX, buf, sizeof(buf), &len), 0);
    assert_int_equal(nb_peer_msg_decode(buf, len, &msg), 0);
    assert_int_equal(msg.type, NB_PEER_PEERS);
    assert_int_equal(msg.n_addrs, NB_PEER_ADDRS_MAX);
    for (size_t i = 0; i < NB_PEER_ADDRS_MAX; i++) {
        assert_memory_equal(msg.addrs[i].node_key, addrs[i].node_key, NB_PEER_KEY_SIZE);
        assert_string_equal(msg.addrs[i].address, addrs[i].address);
    }
    assert_int_equal(nb_peer_encode_peers(addrs, NB_PEER_ADDRS_MAX + 1, buf, sizeof(buf), &len),
                     NB_EINVAL);
    /* An empty list is fine: a node that knows nobody else. */
    assert_int_equal(nb_peer_encode_peers(NULL, 0, buf, sizeof(buf), &len), 0);
    static const uint8_t empty[] = { 0x92, 0x06, 0x90 };
    assert_int_equal(len, sizeof(empty));
    assert_memory_equal(buf, empty, len);
    assert_int_equal(nb_peer_msg_decode(buf, len, &msg), 0);
    assert_int_equal(msg.n_addrs, 0);

    /* An entry with a bad address, or three elements, is invalid. */
    strcpy(addrs[0].address, "no-port");
    assert_int_equal(nb_peer_encode_peers(addrs, 1, buf, sizeof(buf), &len), NB_EINVAL);
    uint8_t raw[64];
    size_t n = 0;
    raw[n++] = 0x92;
    raw[n++] = 0x06;
    raw[n++] = 0x91;
    raw[n++] = 0x92;
    raw[n++] = 0xc4;
    raw[n++] = 32;
    memset(raw + n, 7, 32);
    n += 32;
    raw[n++] = 0xa3;
    memcpy(raw + n, "a:b", 3);
    n += 3;
    assert_int_equal(nb_peer_msg_decode(raw, n, &msg), NB_EFIELD);
    raw[n - 2] = ':';
    raw[n - 1] = '1';
    raw[n - 3] = 'a';
    assert_int_equal(nb_peer_msg_decode(raw, n, &msg), 0);
    assert_string_equal(msg.addrs[0].address, "a:1");
}

static void test_small_messages(void **state)
{
    (void)state;
    size_t len;
    assert_int_equal(nb_peer_encode_synced(buf, sizeof(buf), &len), 0);
    assert_int_equal(len, 2);
    assert_int_equal(buf[0], 0x91);
    assert_int_equal(buf[1], 0x05);
    assert_int_equal(nb_peer_msg_decode(buf, len, &msg), 0);
    assert_int_equal(msg.type, NB_PEER_SYNCED);

    assert_int_equal(nb_peer_encode_ping(NB_PEER_PING, UINT64_MAX, buf, sizeof(buf), &len), 0);
    assert_int_equal(len, 11);
    assert_int_equal(nb_peer_msg_decode(buf, len, &msg), 0);
    assert_int_equal(msg.type, NB_PEER_PING);
    assert_true(msg.nonce == UINT64_MAX);
    assert_int_equal(nb_peer_encode_ping(NB_PEER_PONG, 5, buf, sizeof(buf), &len), 0);
    static const uint8_t pong[] = { 0x92, 0x08, 0x05 };
    assert_int_equal(len, sizeof(pong));
    assert_memory_equal(buf, pong, len);
    assert_int_equal(nb_peer_msg_decode(buf, len, &msg), 0);
    assert_int_equal(msg.type, NB_PEER_PONG);
    assert_int_equal(msg.nonce, 5);
    assert_int_equal(nb_peer_encode_ping(NB_PEER_WANT, 5, buf, sizeof(buf), &len), NB_EINVAL);
    assert_int_equal(nb_peer_encode_synced(buf, 1, &len), NB_ETOOBIG);

    /* synced with an argument, ping without one or with a negative number. */
    static const uint8_t synced_arg[] = { 0x92, 0x05, 0x00 };
    assert_int_equal(nb_peer_msg_decode(synced_arg, sizeof(synced_arg), &msg), NB_EFIELD);
    static const uint8_t ping_bare[] = { 0x91, 0x07 };
    assert_int_equal(nb_peer_msg_decode(ping_bare, sizeof(ping_bare), &msg), NB_EFIELD);
    static const uint8_t ping_neg[] = { 0x92, 0x07, 0xff };
    assert_int_equal(nb_peer_msg_decode(ping_neg, sizeof(ping_neg), &msg), NB_EFIELD);
}

static void test_unknown_and_malformed(void **state)
{
    (void)state;
    /* A later version's message type: decoded as its type, nothing else. */
    static const uint8_t later[] = { 0x93, 0xcc, 0xc8, 0xa1, 'x', 0x90 };
    assert_int_equal(nb_peer_msg_decode(later, sizeof(later), &msg), 0);
    assert_int_equal(msg.type, 200);

    static const uint8_t empty_array[] = { 0x90 };
    assert_int_equal(nb_peer_msg_decode(empty_array, sizeof(empty_array), &msg), NB_EMALFORMED);
    static const uint8_t type_str[] = { 0x91, 0xa1, '1' };
    assert_int_equal(nb_peer_msg_decode(type_str, sizeof(type_str), &msg), NB_EMALFORMED);
    static const uint8_t map[] = { 0x81, 0x01, 0x02 };
    assert_int_equal(nb_peer_msg_decode(map, sizeof(map), &msg), NB_EMALFORMED);
    static const uint8_t trailing[] = { 0x91, 0x05, 0x00 };
    assert_int_equal(nb_peer_msg_decode(trailing, sizeof(trailing), &msg), NB_ETRAILING);
    /* An array header asking for 4 billion elements: refused from its size,
     * nothing allocated. */
    static const uint8_t bomb[] = { 0xdd, 0xff, 0xff, 0xff, 0xff, 0x05 };
    assert_int_equal(nb_peer_msg_decode(bomb, sizeof(bomb), &msg), NB_EMALFORMED);
    static const uint8_t deep[] = { 0x92, 0x06, 0x91, 0x91, 0x91, 0x90 };
    assert_int_equal(nb_peer_msg_decode(deep, sizeof(deep), &msg), NB_EDEPTH);
    assert_int_equal(nb_peer_msg_decode(buf, NB_PEER_MSG_MAX + 1, &msg), NB_ETOOBIG);
    assert_int_equal(nb_peer_msg_decode(buf, 0, &msg), NB_EMALFORMED);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_address_parse),
        cmocka_unit_test(test_hello_round_trip),
        cmocka_unit_test(test_hello_riblt),
        cmocka_unit_test(test_hello_unknown_keys_and_bad_fields),
        cmocka_unit_test(test_neg_and_record),
        cmocka_unit_test(test_want_and_missing),
        cmocka_unit_test(test_peers),
        cmocka_unit_test(test_small_messages),
        cmocka_unit_test(test_unknown_and_malformed),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
