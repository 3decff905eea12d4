/*
 * The bounded msgpack helpers that every decoder (records, peer protocol,
 * control API) builds on: the pre-check accepts every msgpack type and
 * refuses every truncation, the getters enforce their maxima, and the map
 * helpers read a control-API style request.
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <string.h>
#include <cmocka.h>

#include <msgpack.h>

#include <noaber/error.h>

#include "proto/mp.h"

/* One of every msgpack type, in an array of 35. */
static const uint8_t every_type[] = {
    0xdc, 0x00, 35,                                                        /* array 16 of 35 */
    0x05,                                                                  /* positive fixint */
    0xf0,                                                                  /* negative fixint */
    0xc0,                                                                  /* nil */
    0xc2, 0xc3,                                                            /* false, true */
    0xca, 0x3f, 0x80, 0x00, 0x00,                                          /* float 32 */
    0xcb, 0x3f, 0xf0, 0,    0,    0,    0,    0,    0,                     /* float 64 */
    0xcc, 0xff, 0xcd, 0xff, 0xff,                                          /* uint 8, 16 */
    0xce, 0xff, 0xff, 0xff, 0xff,                                          /* uint 32 */
    0xcf, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff,                  /* uint 64 */
    0xd0, 0x80, 0xd1, 0x80, 0x00,                                          /* int 8, 16 */
    0xd2, 0x80, 0,    0,    0,    0xd3, 0x80, 0,    0,    0, 0, 0,  0,  0, /* int 32, 64 */
    0xa3, 'a',  'b',  'c',                                                 /* fixstr */
    0xd9, 0x01, 'x',  0xda, 0x00, 0x01, 'y',                               /* str 8, 16 */
    0xdb, 0x00, 0x00, 0x00, 0x01, 'z',                                     /* str 32 */
    0xc4, 0x01, 0x01, 0xc5, 0x00, 0x01, 0x02,                              /* bin 8, 16 */
    0xc6, 0x00, 0x00, 0x00, 0x01, 0x03,                                    /* bin 32 */
    0xd4, 0x01, 0xaa,                                                      /* fixext 1 */
    0xd5, 0x01, 0xaa, 0xbb,                                                /* fixext 2 */
    0xd6, 0x01, 1,    2,    3,    4,                                       /* fixext 4 */
    0xd7, 0x01, 1,    2,    3,    4,    5,    6,    7,    8,               /* fixext 8 */
    0xd8, 0x01, 1,    2,    3,    4,    5,    6,    7,    8, 9, 10, 11, 12,
    13,   14,   15,   16,                     /* fixext 16 */
    0xc7, 0x01, 0x01, 0xee,                   /* ext 8 */
    0xc8, 0x00, 0x01, 0x01, 0xee,             /* ext 16 */
    0xc9, 0x00, 0x00, 0x00, 0x01, 0x01, 0xee, /* ext 32 */
    0x90, 0x80,                               /* empty fixarray, fixmap */
    0xdd, 0x00, 0x00, 0x00, 0x01, 0x01,       /* array 32 of 1 */
    0xde, 0x00, 0x01, 0x01, 0x02,             /* map 16 of 1 */
    0xdf, 0x00, 0x00, 0x00, 0x01, 0x01, 0x02, /* map 32 of 1 */
};

static void every_msgpack_type_passes_the_check(void **state)
{
    (void)state;
    size_t end = 0;
    assert_int_equal(nb_mp_check(every_type, sizeof(every_type), 4096, 2, &end), 0);
    assert_int_equal(end, sizeof(every_type));

    struct nb_mp_doc doc;
    assert_int_equal(nb_mp_decode(every_type, sizeof(every_type), 4096, 2, &doc), 0);
    const msgpack_object *root = nb_mp_root(&doc);
    assert_int_equal(root->type, MSGPACK_OBJECT_ARRAY);
    assert_int_equal(root->via.array.size, 35);
    assert_int_equal(root->via.array.ptr[34].type, MSGPACK_OBJECT_MAP);
    nb_mp_doc_free(&doc);
}

static void every_truncation_is_refused(void **state)
{
    (void)state;
    for (size_t n = 0; n < sizeof(every_type); n++) {
        size_t end = 12345;
        struct nb_mp_doc doc;
        assert_int_equal(nb_mp_check(every_type, n, 4096, 2, &end), NB_EMALFORMED);
        assert_int_equal(end, 12345);
        assert_int_equal(nb_mp_decode(every_type, n, 4096, 2, &doc), NB_EMALFORMED);
    }
}

static void limits_are_enforced(void **state)
{
    (void)state;
    size_t end;
    struct nb_mp_doc doc;
    /* Size. */
    assert_int_equal(nb_mp_check(every_type, sizeof(every_type), sizeof(every_type) - 1, 2, &end),
                     NB_ETOOBIG);
    /* Depth: the root array is level 1, the arrays inside it level 2. */
    assert_int_equal(nb_mp_check(every_type, sizeof(every_type), 4096, 1, &end), NB_EDEPTH);
    assert_int_equal(nb_mp_check(every_type, sizeof(every_type), 4096, NB_MP_DEPTH_LIMIT + 1, &end),
                     NB_EINVAL);
    const uint8_t nested[] = { 0x91, 0x91, 0x91, 0x01 };
    assert_int_equal(nb_mp_check(nested, sizeof(nested), 64, 3, &end), 0);
    assert_int_equal(nb_mp_check(nested, sizeof(nested), 64, 2, &end), NB_EDEPTH);
    /* An empty container still counts as a level. */
    const uint8_t empty_inner[] = { 0x91, 0x90 };
    assert_int_equal(nb_mp_check(empty_inner, sizeof(empty_inner), 64, 1, &end), NB_EDEPTH);
    /* The unused type byte. */
    const uint8_t unused[] = { 0x92, 0x01, 0xc1 };
    assert_int_equal(nb_mp_check(unused, sizeof(unused), 64, 4, &end), NB_EMALFORMED);
    /* An empty input holds no object. */
    assert_int_equal(nb_mp_decode(unused, 0, 64, 4, &doc), NB_EMALFORMED);
}

static void objects_in_a_stream_end_where_they_end(void **state)
{
    (void)state;
    const uint8_t two[] = { 0x92, 0x01, 0xa1, 'x', 0xc3 };
    size_t end = 0;
    struct nb_mp_doc doc;
    assert_int_equal(nb_mp_check(two, sizeof(two), 64, 1, &end), 0);
    assert_int_equal(end, 4);
    assert_int_equal(nb_mp_check(two + end, sizeof(two) - end, 64, 1, &end), 0);
    assert_int_equal(end, 1);
    assert_int_equal(nb_mp_decode(two, sizeof(two), 64, 1, &doc), NB_ETRAILING);
}

/* Packs a control-API style request into buf. */
static size_t pack_request(uint8_t *buf, size_t cap, bool duplicate)
{
    struct nb_mp_buf b;
    msgpack_packer pk;
    nb_mp_buf_init(&b, buf, cap);
    msgpack_packer_init(&pk, &b, nb_mp_buf_write);
    msgpack_pack_map(&pk, duplicate ? 7 : 6);
    msgpack_pack_str_with_body(&pk, "v", 1);
    msgpack_pack_uint64(&pk, 1);
    msgpack_pack_str_with_body(&pk, "id", 2);
    msgpack_pack_uint64(&pk, 70000);
    msgpack_pack_str_with_body(&pk, "op", 2);
    msgpack_pack_str_with_body(&pk, "post", 4);
    msgpack_pack_str_with_body(&pk, "title", 5);
    msgpack_pack_str_with_body(&pk, "caf\xc3\xa9", 5);
    msgpack_pack_str_with_body(&pk, "record", 6);
    msgpack_pack_bin_with_body(&pk, "\x01\x02\x03", 3);
    msgpack_pack_str_with_body(&pk, "dry_run", 7);
    msgpack_pack_true(&pk);
    if (duplicate) {
        msgpack_pack_str_with_body(&pk, "op", 2);
        msgpack_pack_str_with_body(&pk, "delete", 6);
    }
    assert_false(b.overflow);
    return b.len;
}

static void map_helpers_read_a_control_request(void **state)
{
    (void)state;
    uint8_t buf[256];
    size_t len = pack_request(buf, sizeof(buf), false);
    struct nb_mp_doc doc;
    assert_int_equal(nb_mp_decode(buf, len, sizeof(buf), 2, &doc), 0);
    const msgpack_object *m = nb_mp_root(&doc);
    assert_int_equal(nb_mp_map_check_keys(m), 0);

    uint64_t u = 99;
    assert_int_equal(nb_mp_map_uint(m, "v", 1, &u), 0);
    assert_int_equal(u, 1);
    assert_int_equal(nb_mp_map_uint(m, "id", UINT32_MAX, &u), 0);
    assert_int_equal(u, 70000);
    u = 99;
    assert_int_equal(nb_mp_map_uint(m, "id", 65535, &u), NB_EFIELD);
    assert_int_equal(nb_mp_map_uint(m, "op", 10, &u), NB_EMALFORMED);
    assert_int_equal(nb_mp_map_uint(m, "missing", 10, &u), NB_ENOENT);
    assert_int_equal(u, 99);

    struct nb_text t = { NULL, 0 };
    assert_int_equal(nb_mp_map_text(m, "op", 1, 16, 0, &t), 0);
    assert_int_equal(t.len, 4);
    assert_memory_equal(t.ptr, "post", 4);
    assert_int_equal(nb_mp_map_text(m, "title", 1, 5, 0, &t), 0);
    assert_int_equal(nb_mp_map_text(m, "title", 1, 4, 0, &t), NB_EFIELD);
    assert_int_equal(nb_mp_map_text(m, "title", 6, 10, 0, &t), NB_EFIELD);
    /* Prefixes of a key are other keys. */
    assert_null(nb_mp_map_get(m, "o"));
    assert_null(nb_mp_map_get(m, "opx"));
    assert_null(nb_mp_map_get(&m->via.map.ptr[0].val, "v"));

    struct nb_bytes bytes;
    uint8_t exact[3];
    assert_int_equal(nb_mp_map_bin(m, "record", 1, 8, &bytes), 0);
    assert_int_equal(bytes.len, 3);
    assert_int_equal(nb_mp_map_bin_exact(m, "record", 3, exact), 0);
    assert_memory_equal(exact, "\x01\x02\x03", 3);
    assert_int_equal(nb_mp_map_bin_exact(m, "record", 4, exact), NB_EFIELD);
    assert_int_equal(nb_mp_map_bin(m, "op", 0, 8, &bytes), NB_EMALFORMED);

    bool flag = false;
    assert_int_equal(nb_mp_map_bool(m, "dry_run", &flag), 0);
    assert_true(flag);
    assert_int_equal(nb_mp_map_bool(m, "v", &flag), NB_EMALFORMED);
    nb_mp_doc_free(&doc);

    /* The same key twice is ambiguous and refused. */
    len = pack_request(buf, sizeof(buf), true);
    assert_int_equal(nb_mp_decode(buf, len, sizeof(buf), 2, &doc), 0);
    assert_int_equal(nb_mp_map_check_keys(nb_mp_root(&doc)), NB_EMALFORMED);
    nb_mp_doc_free(&doc);

    /* So are keys that are not str. */
    const uint8_t int_key[] = { 0x81, 0x01, 0x02 };
    assert_int_equal(nb_mp_decode(int_key, sizeof(int_key), 64, 1, &doc), 0);
    assert_int_equal(nb_mp_map_check_keys(nb_mp_root(&doc)), NB_EMALFORMED);
    nb_mp_doc_free(&doc);
}

static void getters_enforce_types_and_maxima(void **state)
{
    (void)state;
    struct nb_mp_doc doc;
    assert_int_equal(nb_mp_decode(every_type, sizeof(every_type), 4096, 2, &doc), 0);
    const msgpack_object *o = nb_mp_root(&doc)->via.array.ptr;
    uint64_t u = 7;
    assert_int_equal(nb_mp_get_uint(&o[0], 5, &u), 0);
    assert_int_equal(u, 5);
    assert_int_equal(nb_mp_get_uint(&o[0], 4, &u), NB_EFIELD);
    assert_int_equal(nb_mp_get_uint(&o[1], UINT64_MAX, &u), NB_EMALFORMED); /* negative */
    assert_int_equal(nb_mp_get_uint(&o[5], UINT64_MAX, &u), NB_EMALFORMED); /* float */
    assert_int_equal(nb_mp_get_uint(&o[10], UINT64_MAX, &u), 0);
    assert_int_equal(u, UINT64_MAX);
    assert_int_equal(nb_mp_get_uint(NULL, 1, &u), NB_EMALFORMED);

    bool b = true;
    assert_int_equal(nb_mp_get_bool(&o[3], &b), 0);
    assert_false(b);
    assert_int_equal(nb_mp_get_bool(&o[2], &b), NB_EMALFORMED); /* nil is not false */

    struct nb_text t;
    assert_int_equal(nb_mp_get_str(&o[15], 3, 3, &t), 0);
    assert_memory_equal(t.ptr, "abc", 3);
    /* The str points into the input, not into a copy. */
    assert_true((const uint8_t *)t.ptr > every_type &&
                (const uint8_t *)t.ptr < every_type + sizeof(every_type));
    assert_int_equal(nb_mp_get_str(&o[15], 4, 8, &t), NB_EFIELD);
    assert_int_equal(nb_mp_get_str(&o[19], 0, 8, &t), NB_EMALFORMED); /* bin is not str */

    struct nb_bytes bytes;
    uint8_t one;
    assert_int_equal(nb_mp_get_bin(&o[21], 1, 1, &bytes), 0);
    assert_int_equal(nb_mp_get_bin_exact(&o[21], 1, &one), 0);
    assert_int_equal(one, 0x03);
    assert_int_equal(nb_mp_get_bin(&o[22], 0, 8, &bytes), NB_EMALFORMED); /* ext */

    const msgpack_object *items;
    size_t n = 99;
    assert_int_equal(nb_mp_get_array(nb_mp_root(&doc), 35, &items, &n), 0);
    assert_int_equal(n, 35);
    n = 99;
    assert_int_equal(nb_mp_get_array(nb_mp_root(&doc), 34, &items, &n), NB_EFIELD);
    assert_int_equal(n, 99);
    const msgpack_object_kv *pairs;
    assert_int_equal(nb_mp_get_map(&o[33], 1, &pairs, &n), 0);
    assert_int_equal(n, 1);
    assert_int_equal(nb_mp_get_map(&o[33], 0, &pairs, &n), NB_EFIELD);
    assert_int_equal(nb_mp_get_map(&o[30], 0, &pairs, &n), NB_EMALFORMED);
    nb_mp_doc_free(&doc);
}

static void utf8_rules(void **state)
{
    (void)state;
    assert_int_equal(nb_utf8_check("", 0, 0), 0);
    assert_int_equal(nb_utf8_check("a\nb", 3, 0), NB_EUTF8);
    assert_int_equal(nb_utf8_check("a\nb", 3, NB_UTF8_NEWLINE), 0);
    assert_int_equal(nb_utf8_check("\xe2\x80\xa8", 3, 0), 0); /* U+2028 is not C0/C1 */
    assert_int_equal(nb_utf8_check("\xef\xbf\xbd", 3, 0), 0); /* U+FFFD */
    assert_int_equal(nb_utf8_check("\xc1\xbf", 2, 0), NB_EUTF8);
    assert_int_equal(nb_utf8_check("\xe0\x9f\xbf", 3, 0), NB_EUTF8); /* overlong U+07FF */
    assert_int_equal(nb_utf8_check("\xe0\xa0\x80", 3, 0), 0);        /* U+0800 */
    assert_int_equal(nb_utf8_check("\xf0\x8f\xbf\xbf", 4, 0), NB_EUTF8);
    assert_int_equal(nb_utf8_check("\xf0\x90\x80\x80", 4, 0), 0); /* U+10000 */
    assert_int_equal(nb_utf8_check("\xed\x9f\xbf", 3, 0), 0);     /* U+D7FF */
    assert_int_equal(nb_utf8_check("\xee\x80\x80", 3, 0), 0);     /* U+E000 */
    assert_int_equal(nb_utf8_check("\xc2", 1, 0), NB_EUTF8);
}

static void the_output_buffer_refuses_to_overflow(void **state)
{
    (void)state;
    uint8_t buf[4];
    struct nb_mp_buf b;
    msgpack_packer pk;
    nb_mp_buf_init(&b, buf, sizeof(buf));
    msgpack_packer_init(&pk, &b, nb_mp_buf_write);
    msgpack_pack_uint64(&pk, 1);
    msgpack_pack_str_with_body(&pk, "toolong", 7);
    msgpack_pack_uint64(&pk, 2);
    assert_true(b.overflow);
    assert_int_equal(b.len, 2); /* the str header fitted, its body did not */
    assert_int_equal(buf[0], 0x01);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(every_msgpack_type_passes_the_check),
        cmocka_unit_test(every_truncation_is_refused),
        cmocka_unit_test(limits_are_enforced),
        cmocka_unit_test(objects_in_a_stream_end_where_they_end),
        cmocka_unit_test(map_helpers_read_a_control_request),
        cmocka_unit_test(getters_enforce_types_and_maxima),
        cmocka_unit_test(utf8_rules),
        cmocka_unit_test(the_output_buffer_refuses_to_overflow),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
