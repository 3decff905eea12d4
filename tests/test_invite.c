/*
 * Invite codes as the person who pastes one sees them: the documented test
 * vector decodes and re-encodes exactly, typos and truncation are caught
 * instead of joining the wrong network, codes from a later version say so,
 * and a code whose structure is wrong in any field is refused.
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <cmocka.h>

#include <msgpack.h>

#include <noaber/error.h>
#include <noaber/identity.h>
#include <noaber/invite.h>

#include "proto/base32.h"
#include "proto/mp.h"

/*
 * The vector of docs/protocol.md ("Invites"), computed with an independent
 * implementation (Python's hashlib and a hand-written msgpack encoder).
 */
static const char vector_code[] =
    "nbi14wjm0tgkb1e9qprv35dv220001081g81860w40j2gb1g6gw3rg2491650n2rbhg68t3ce1t7gzssmnbe80ja9c"
    "884543r0k29gmxa792vxvjt3xxtt1pzkm39670df9tx4n67an6tedaqk2e9j5rr2wche64r3mdsm6gvs5h10vtfdpz"
    "bvfq0v9mtvc71ess1n6wzr6gy8bdw6ekddzhz18vw85d7v4psj60r32ek4c8w3mehhbmx3ed1m6zyjcycr";
static const char vector_alice[] =
    "8520f0098930a754748b7ddcb43ef75a0dbf3a0d26381af4eba4a98eaa9b4e6a";
static const char vector_bob[] = "de9edb7d7b7dc1b4d35b61c2ece435373f8343c85b78674dadfc7e146f882b4f";
#define VECTOR_EXPIRES 1767225600u /* 2026-01-01T00:00:00Z */

static int setup(void **state)
{
    (void)state;
    return nb_init();
}

static void vector_invite(struct nb_invite *inv)
{
    memset(inv, 0, sizeof(*inv));
    strcpy(inv->name, "Marollen");
    for (int i = 0; i < 32; i++)
        inv->key[i] = (uint8_t)i;
    inv->expires_at = VECTOR_EXPIRES;
    assert_int_equal(nb_unhex(vector_alice, inv->addresses[0].node_key, 32), 0);
    strcpy(inv->addresses[0].address, "192.0.2.10:7447");
    assert_int_equal(nb_unhex(vector_bob, inv->addresses[1].node_key, 32), 0);
    strcpy(inv->addresses[1].address, "[2001:db8::1]:7447");
    inv->n_addresses = 2;
}

static void assert_same_invite(const struct nb_invite *a, const struct nb_invite *b)
{
    assert_string_equal(a->name, b->name);
    assert_memory_equal(a->key, b->key, sizeof(a->key));
    assert_int_equal(a->expires_at, b->expires_at);
    assert_int_equal(a->n_addresses, b->n_addresses);
    for (size_t i = 0; i < a->n_addresses; i++) {
        assert_memory_equal(a->addresses[i].node_key, b->addresses[i].node_key, NB_KEY_SIZE);
        assert_string_equal(a->addresses[i].address, b->addresses[i].address);
    }
}

static void the_vector_decodes_and_encodes_exactly(void **state)
{
    (void)state;
    struct nb_invite want, got;
    char code[NB_INVITE_TEXT_MAX + 1];

    vector_invite(&want);
    assert_int_equal(nb_invite_decode(vector_code, strlen(vector_code), &got), 0);
    assert_same_invite(&got, &want);
    assert_int_equal(nb_invite_encode(&want, code, sizeof(code)), 0);
    assert_string_equal(code, vector_code);
}

static void people_may_paste_it_sloppily(void **state)
{
    (void)state;
    struct nb_invite want, got;
    char text[NB_INVITE_TEXT_MAX + 16];

    vector_invite(&want);
    /* Upper case, surrounding whitespace and a trailing newline (as a
     * terminal copy gives it) are all the same code. */
    snprintf(text, sizeof(text), "  %s\r\n", vector_code);
    for (char *p = text; *p != '\0'; p++) {
        if (*p >= 'a' && *p <= 'z')
            *p = (char)(*p - 'a' + 'A');
    }
    assert_int_equal(nb_invite_decode(text, strlen(text), &got), 0);
    assert_same_invite(&got, &want);
}

static void typos_and_truncation_are_caught(void **state)
{
    (void)state;
    struct nb_invite got;
    char text[NB_INVITE_TEXT_MAX + 1];
    size_t n = strlen(vector_code);
    const char *alphabet = "0123456789abcdefghjkmnpqrstvwxyz";

    memset(&got, 0xa5, sizeof(got));
    /* Every single-character change after the length is a typo.  A change
     * in the last character may only touch padding bits, which must be
     * zero; either way it is not accepted as a code. */
    for (size_t i = 6; i < n; i++) {
        memcpy(text, vector_code, n + 1);
        const char *at = strchr(alphabet, text[i]);
        text[i] = alphabet[(at - alphabet + 1) % 32];
        int r = nb_invite_decode(text, n, &got);
        if (i < n - 1)
            assert_int_equal(r, NB_ECHECKSUM);
        else
            assert_true(r == NB_ECHECKSUM || r == NB_EMALFORMED);
    }
    /* A change in the two length characters makes the length disagree with
     * the text: damaged (announces less) or incomplete (announces more). */
    for (size_t i = 4; i < 6; i++) {
        for (size_t v = 0; v < 32; v++) {
            if (alphabet[v] == vector_code[i])
                continue;
            memcpy(text, vector_code, n + 1);
            text[i] = alphabet[v];
            int r = nb_invite_decode(text, n, &got);
            assert_true(r == NB_ETRUNCATED || r == NB_EMALFORMED);
        }
    }
    /* Two neighbouring characters swapped. */
    memcpy(text, vector_code, n + 1);
    text[20] = vector_code[21];
    text[21] = vector_code[20];
    assert_int_equal(nb_invite_decode(text, n, &got), NB_ECHECKSUM);
    /* Cut anywhere, even where the rest would be a valid length for a
     * shorter payload: reported as cut short, never as a typo or another
     * code (docs/protocol.md, "Invites"). */
    for (size_t cut = 1; cut < n; cut++)
        assert_int_equal(nb_invite_decode(vector_code, cut, &got), NB_ETRUNCATED);
    /* Characters added at the end: damaged, not a typo. */
    memcpy(text, vector_code, n + 1);
    text[n] = 'a';
    assert_int_equal(nb_invite_decode(text, n + 1, &got), NB_EMALFORMED);
    /* A space inside, a character outside the alphabet. */
    memcpy(text, vector_code, n + 1);
    text[30] = ' ';
    assert_int_equal(nb_invite_decode(text, n, &got), NB_EMALFORMED);
    text[30] = 'u';
    assert_int_equal(nb_invite_decode(text, n, &got), NB_EMALFORMED);
    /* Nothing was written on failure. */
    for (size_t i = 0; i < sizeof(got); i++)
        assert_int_equal(((uint8_t *)&got)[i], 0xa5);
}

static void other_keys_are_not_invites(void **state)
{
    (void)state;
    struct nb_invite got;
    const char member[] = "nbm1txd9g0c2p45bfnabzv9wjs07787e2wqkvak269df08d6hxr7a4dajwkks4";
    assert_int_equal(nb_invite_decode(member, strlen(member), &got), NB_EPREFIX);
    assert_int_equal(nb_invite_decode("", 0, &got), NB_ETRUNCATED);
    assert_int_equal(nb_invite_decode("nbi", 3, &got), NB_ETRUNCATED);
    assert_int_equal(nb_invite_decode("hello", 5, &got), NB_EPREFIX);
    /* Checked base32 of the right length under another context: a member
     * key's payload dressed up with the invite prefix. */
    uint8_t pk[32] = { 1 };
    char text[128];
    assert_int_equal(
        nb_base32_encode_sized("nbi1", "noaber/member-key/v1", pk, sizeof(pk), text, sizeof(text)),
        0);
    assert_int_equal(nb_invite_decode(text, strlen(text), &got), NB_ECHECKSUM);
}

static void a_full_invite_round_trips(void **state)
{
    (void)state;
    struct nb_invite want, got;
    char code[NB_INVITE_TEXT_MAX + 1];

    memset(&want, 0, sizeof(want));
    /* A name in another script, of the longest length: 32 two-byte characters. */
    for (int i = 0; i < 32; i++)
        memcpy(want.name + 2 * i, "\xc3\xa9", 2);
    want.name[64] = '\0';
    for (int i = 0; i < 32; i++)
        want.key[i] = (uint8_t)(0xff - i);
    want.expires_at = UINT64_MAX;
    want.n_addresses = NB_INVITE_ADDRESSES_MAX;
    for (size_t i = 0; i < want.n_addresses; i++) {
        memset(want.addresses[i].node_key, (int)i + 1, NB_KEY_SIZE);
        snprintf(want.addresses[i].address, sizeof(want.addresses[i].address), "10.0.0.%zu:%zu",
                 i + 1, 7447 + i);
    }
    assert_int_equal(nb_invite_encode(&want, code, sizeof(code)), 0);
    assert_int_equal(strncmp(code, "nbi1", 4), 0);
    assert_true(strlen(code) <= NB_INVITE_TEXT_MAX);
    assert_int_equal(nb_invite_decode(code, strlen(code), &got), 0);
    assert_same_invite(&got, &want);

    /* Eight long DNS names do not fit a code: the encoder says so, and the
     * caller passes fewer addresses. */
    for (size_t i = 0; i < want.n_addresses; i++) {
        memset(want.addresses[i].address, 'a', 58);
        want.addresses[i].address[0] = (char)('b' + i);
        memcpy(want.addresses[i].address + 58, ":7447", 6);
    }
    assert_int_equal(nb_invite_encode(&want, code, sizeof(code)), NB_ETOOBIG);
    want.n_addresses = 3;
    assert_int_equal(nb_invite_encode(&want, code, sizeof(code)), 0);
    assert_int_equal(nb_invite_decode(code, strlen(code), &got), 0);
    assert_same_invite(&got, &want);
}

static void the_encoder_refuses_what_no_decoder_would_accept(void **state)
{
    (void)state;
    struct nb_invite inv;
    char code[NB_INVITE_TEXT_MAX + 1];

    vector_invite(&inv);
    inv.n_addresses = 0;
    assert_int_equal(nb_invite_encode(&inv, code, sizeof(code)), NB_EINVAL);
    vector_invite(&inv);
    inv.n_addresses = NB_INVITE_ADDRESSES_MAX + 1;
    assert_int_equal(nb_invite_encode(&inv, code, sizeof(code)), NB_EINVAL);
    vector_invite(&inv);
    inv.name[0] = '\0';
    assert_int_equal(nb_invite_encode(&inv, code, sizeof(code)), NB_EINVAL);
    vector_invite(&inv);
    strcpy(inv.name, "Line\nbreak");
    assert_int_equal(nb_invite_encode(&inv, code, sizeof(code)), NB_EINVAL);
    vector_invite(&inv);
    strcpy(inv.addresses[1].address, "192.0.2.10");
    assert_int_equal(nb_invite_encode(&inv, code, sizeof(code)), NB_EINVAL);
    vector_invite(&inv);
    assert_int_equal(nb_invite_encode(&inv, code, strlen(vector_code)), NB_EINVAL);
    assert_int_equal(nb_invite_encode(&inv, code, strlen(vector_code) + 1), 0);
}

static void addresses_have_the_documented_shape(void **state)
{
    (void)state;
    static const char *const good[] = {
        "127.0.0.1:7447",   "node.example.org:1",      "a:65535",        "[::1]:7447",
        "[2001:db8::1]:80", "[::ffff:192.0.2.1]:7447", "localhost:7447",
    };
    static const char *const bad[] = {
        "",
        "127.0.0.1",
        "127.0.0.1:",
        "127.0.0.1:0",
        "127.0.0.1:65536",
        "host:07447",
        "host:+80",
        ":7447",
        "[::1]",
        "[::1]7447",
        "::1:7447",
        "[1]:7447",
        "[::1:7447",
        "ho st:7447",
        "host:7447 ",
        "host:74a7",
        "h\xc3\xa9:7447",
        "host:7447:7447",
        "[::g]:7447",
        "a:1234567",
        "[::1]:7447]",
    };
    for (size_t i = 0; i < sizeof(good) / sizeof(good[0]); i++)
        assert_int_equal(nb_invite_address_check(good[i], strlen(good[i])), 0);
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        if (nb_invite_address_check(bad[i], strlen(bad[i])) != NB_EINVAL)
            fail_msg("accepted \"%s\"", bad[i]);
    }
    char longest[NB_INVITE_ADDRESS_MAX + 2];
    memset(longest, 'a', sizeof(longest));
    memcpy(longest + NB_INVITE_ADDRESS_MAX - 5, ":7447", 5);
    assert_int_equal(nb_invite_address_check(longest, NB_INVITE_ADDRESS_MAX), 0);
    memcpy(longest + NB_INVITE_ADDRESS_MAX - 4, ":7447", 5);
    assert_int_equal(nb_invite_address_check(longest, NB_INVITE_ADDRESS_MAX + 1), NB_EINVAL);
}

static void expiry_is_the_callers_clock(void **state)
{
    (void)state;
    struct nb_invite inv;
    vector_invite(&inv);
    assert_int_equal(nb_invite_check_expiry(&inv, 0), 0);
    assert_int_equal(nb_invite_check_expiry(&inv, VECTOR_EXPIRES - 1), 0);
    assert_int_equal(nb_invite_check_expiry(&inv, VECTOR_EXPIRES), NB_EEXPIRED);
    assert_int_equal(nb_invite_check_expiry(&inv, UINT64_MAX), NB_EEXPIRED);
}

/* ---- hand-made payloads, for structures the encoder never makes ---------- */

struct payload {
    uint8_t bytes[NB_INVITE_PAYLOAD_MAX + 64];
    struct nb_mp_buf b;
    msgpack_packer pk;
};

static void payload_begin(struct payload *p)
{
    nb_mp_buf_init(&p->b, p->bytes, sizeof(p->bytes));
    msgpack_packer_init(&p->pk, &p->b, nb_mp_buf_write);
}

static void put_str(struct payload *p, const char *s)
{
    msgpack_pack_str(&p->pk, strlen(s));
    msgpack_pack_str_body(&p->pk, s, strlen(s));
}

static void put_bin(struct payload *p, uint8_t fill, size_t n)
{
    uint8_t b[64];
    memset(b, fill, sizeof(b));
    msgpack_pack_bin(&p->pk, n);
    msgpack_pack_bin_body(&p->pk, b, n);
}

/* [version, name, key, expires_at] followed by `n` addresses "10.0.0.1:7447". */
static void put_head(struct payload *p, uint64_t version, size_t fields, size_t n)
{
    msgpack_pack_array(&p->pk, fields);
    msgpack_pack_uint64(&p->pk, version);
    put_str(p, "Marollen");
    put_bin(p, 7, 32);
    msgpack_pack_uint64(&p->pk, VECTOR_EXPIRES);
    msgpack_pack_array(&p->pk, n);
    for (size_t i = 0; i < n; i++) {
        msgpack_pack_array(&p->pk, 2);
        put_bin(p, 9, 32);
        put_str(p, "10.0.0.1:7447");
    }
}

static int decode_payload(const struct payload *p)
{
    char text[NB_BASE32_SIZED_TEXT_LEN(4, sizeof(p->bytes)) + 1];
    struct nb_invite got;
    assert_false(p->b.overflow);
    int r =
        nb_base32_encode_sized("nbi1", "noaber/invite/v1", p->bytes, p->b.len, text, sizeof(text));
    if (r == NB_ETOOBIG)
        return r;
    assert_int_equal(r, 0);
    return nb_invite_decode(text, strlen(text), &got);
}

static void malformed_structures_are_refused(void **state)
{
    (void)state;
    struct payload p;

    payload_begin(&p);
    put_head(&p, 1, 5, 1);
    assert_int_equal(decode_payload(&p), 0);

    /* A later version is reported as such, whatever follows. */
    payload_begin(&p);
    put_head(&p, 2, 5, 1);
    assert_int_equal(decode_payload(&p), NB_EVERSION);
    payload_begin(&p);
    msgpack_pack_array(&p.pk, 1);
    msgpack_pack_uint64(&p.pk, 2);
    assert_int_equal(decode_payload(&p), NB_EVERSION);

    /* Appended elements are a compatible addition and are ignored. */
    payload_begin(&p);
    put_head(&p, 1, 6, 1);
    put_str(&p, "a later field");
    assert_int_equal(decode_payload(&p), 0);

    /* A missing field, no addresses, too many addresses. */
    payload_begin(&p);
    msgpack_pack_array(&p.pk, 4);
    msgpack_pack_uint64(&p.pk, 1);
    put_str(&p, "Marollen");
    put_bin(&p, 7, 32);
    msgpack_pack_uint64(&p.pk, VECTOR_EXPIRES);
    assert_int_equal(decode_payload(&p), NB_EMALFORMED);
    payload_begin(&p);
    put_head(&p, 1, 5, 0);
    assert_int_equal(decode_payload(&p), NB_EFIELD);
    payload_begin(&p);
    put_head(&p, 1, 5, NB_INVITE_ADDRESSES_MAX + 1);
    assert_int_equal(decode_payload(&p), NB_EFIELD);

    /* Not an array; trailing bytes after the array. */
    payload_begin(&p);
    put_str(&p, "Marollen");
    assert_int_equal(decode_payload(&p), NB_EMALFORMED);
    payload_begin(&p);
    put_head(&p, 1, 5, 1);
    msgpack_pack_nil(&p.pk);
    assert_int_equal(decode_payload(&p), NB_EMALFORMED);

    /* Each field of the wrong type or size. */
    payload_begin(&p);
    msgpack_pack_array(&p.pk, 5);
    msgpack_pack_uint64(&p.pk, 1);
    put_str(&p, "Line\nbreak");
    put_bin(&p, 7, 32);
    msgpack_pack_uint64(&p.pk, 1);
    msgpack_pack_array(&p.pk, 0);
    assert_int_equal(decode_payload(&p), NB_EUTF8);

    payload_begin(&p);
    msgpack_pack_array(&p.pk, 5);
    msgpack_pack_uint64(&p.pk, 1);
    put_str(&p, "Marollen");
    put_bin(&p, 7, 31);
    msgpack_pack_uint64(&p.pk, 1);
    msgpack_pack_array(&p.pk, 0);
    assert_int_equal(decode_payload(&p), NB_EFIELD);

    payload_begin(&p);
    msgpack_pack_array(&p.pk, 5);
    msgpack_pack_uint64(&p.pk, 1);
    put_str(&p, "Marollen");
    put_bin(&p, 7, 32);
    put_str(&p, "tomorrow");
    msgpack_pack_array(&p.pk, 0);
    assert_int_equal(decode_payload(&p), NB_EMALFORMED);

    /* An address entry with a bad address, a short node key, three items. */
    static const struct {
        size_t key_len, items;
        const char *address;
    } entries[] = {
        { 32, 2, "10.0.0.1" },
        { 31, 2, "10.0.0.1:7447" },
        { 32, 3, "10.0.0.1:7447" },
        { 32, 1, NULL },
    };
    for (size_t i = 0; i < sizeof(entries) / sizeof(entries[0]); i++) {
        payload_begin(&p);
        msgpack_pack_array(&p.pk, 5);
        msgpack_pack_uint64(&p.pk, 1);
        put_str(&p, "Marollen");
        put_bin(&p, 7, 32);
        msgpack_pack_uint64(&p.pk, 1);
        msgpack_pack_array(&p.pk, 1);
        msgpack_pack_array(&p.pk, entries[i].items);
        put_bin(&p, 9, entries[i].key_len);
        if (entries[i].address != NULL)
            put_str(&p, entries[i].address);
        if (entries[i].items == 3)
            msgpack_pack_nil(&p.pk);
        int r = decode_payload(&p);
        assert_true(r == NB_EFIELD || r == NB_EMALFORMED);
    }

    /* Nesting deeper than an invite ever needs. */
    payload_begin(&p);
    put_head(&p, 1, 6, 1);
    for (int i = 0; i < 8; i++)
        msgpack_pack_array(&p.pk, 1);
    msgpack_pack_nil(&p.pk);
    assert_int_equal(decode_payload(&p), NB_EMALFORMED);

    /* A text longer than any invite (a pasted file, say) is too big,
     * whether or not its length could be checked base32. */
    static char long_text[12000];
    memcpy(long_text, "nbi1", 4);
    memset(long_text + 4, '0', 2000);
    struct nb_invite got;
    assert_int_equal(nb_invite_decode(long_text, 4 + 2000, &got), NB_ETOOBIG);
    memset(long_text + 4, '0', sizeof(long_text) - 4);
    assert_int_equal(nb_invite_decode(long_text, sizeof(long_text), &got), NB_ETOOBIG);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(the_vector_decodes_and_encodes_exactly),
        cmocka_unit_test(people_may_paste_it_sloppily),
        cmocka_unit_test(typos_and_truncation_are_caught),
        cmocka_unit_test(other_keys_are_not_invites),
        cmocka_unit_test(a_full_invite_round_trips),
        cmocka_unit_test(the_encoder_refuses_what_no_decoder_would_accept),
        cmocka_unit_test(addresses_have_the_documented_shape),
        cmocka_unit_test(expiry_is_the_callers_clock),
        cmocka_unit_test(malformed_structures_are_refused),
    };
    return cmocka_run_group_tests(tests, setup, NULL);
}
