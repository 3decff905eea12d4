/*
 * Allocation bombs: a few bytes whose headers claim gigabytes.  msgpack-c's
 * unpacker would allocate for those claims before reading any element, so
 * every decoder must refuse them in the bounded pre-check, with
 * NB_EMALFORMED or NB_EDEPTH, and never with NB_ENOMEM (which would mean the
 * allocation was attempted).
 *
 * The address space is capped at 512 MiB so that an attempted allocation
 * fails rather than succeeds on a large machine.  Under AddressSanitizer the
 * cap is skipped (its shadow memory needs terabytes of address space), but an
 * attempted huge allocation then aborts the test, which is just as visible.
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include <sys/resource.h>

#include <noaber/error.h>
#include <noaber/record.h>

#include "proto/mp.h"

#if defined(__SANITIZE_ADDRESS__)
#define UNDER_ASAN 1
#elif defined(__has_feature)
#if __has_feature(address_sanitizer)
#define UNDER_ASAN 1
#endif
#endif
#ifndef UNDER_ASAN
#define UNDER_ASAN 0
#endif

#define CONTROL_MAX (1024 * 1024) /* the control API's frame bound */

struct bomb {
    const char *what;
    const uint8_t *bytes;
    size_t len;
};

#define BOMB(what, ...)                                                                            \
    {                                                                                              \
        what, (const uint8_t[]){ __VA_ARGS__ }, sizeof((const uint8_t[]){ __VA_ARGS__ })           \
    }

static const struct bomb bombs[] = {
    BOMB("array 32 of 4278190080", 0xdd, 0xff, 0x00, 0x00, 0x00),
    BOMB("array 32 of 2^32-1", 0xdd, 0xff, 0xff, 0xff, 0xff),
    BOMB("array 16 of 65535", 0xdc, 0xff, 0xff),
    BOMB("map 32 of 2^32-1", 0xdf, 0xff, 0xff, 0xff, 0xff),
    BOMB("map 16 of 65535", 0xde, 0xff, 0xff),
    BOMB("str 32 of 2^32-1", 0xdb, 0xff, 0xff, 0xff, 0xff),
    BOMB("bin 32 of 2^32-1", 0xc6, 0xff, 0xff, 0xff, 0xff),
    BOMB("ext 32 of 2^32-1", 0xc9, 0xff, 0xff, 0xff, 0xff, 0x01),
    /* A small array whose elements each claim a huge array. */
    BOMB("array of huge arrays", 0x93, 0xdd, 0x10, 0x00, 0x00, 0x00, 0xdd, 0x10, 0x00, 0x00, 0x00,
         0xdd, 0x10, 0x00, 0x00, 0x00),
    /* A map that claims two pairs but has only three bytes for them. */
    BOMB("map 2 with 3 bytes", 0x82, 0x01, 0x02, 0x03),
    /* A record-shaped prefix with a huge body map. */
    BOMB("record with map 32 body", 0x96, 0x01, 0x01, 0xc4, 0x20, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0,
         0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xce, 0x69, 0x2a, 0xa8,
         0x00, 0xdf, 0x7f, 0xff, 0xff, 0xff),
    BOMB("record with huge tags", 0x96, 0x01, 0x01, 0xc4, 0x20, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0,
         0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xce, 0x69, 0x2a, 0xa8, 0x00,
         0x81, 0x04, 0xdd, 0x7f, 0xff, 0xff, 0xff),
};

static int cap_address_space(void **state)
{
    (void)state;
    if (UNDER_ASAN) {
        return 0;
    }
    struct rlimit lim = { 512u * 1024 * 1024, 512u * 1024 * 1024 };
    return setrlimit(RLIMIT_AS, &lim) == 0 ? 0 : -1;
}

static void bombs_fail_fast_in_the_generic_decoder(void **state)
{
    (void)state;
    for (size_t i = 0; i < sizeof(bombs) / sizeof(bombs[0]); i++) {
        struct nb_mp_doc doc;
        int r = nb_mp_decode(bombs[i].bytes, bombs[i].len, CONTROL_MAX, NB_MP_DEPTH_LIMIT, &doc);
        if (r != NB_EMALFORMED) {
            fail_msg("%s: got %s, want NB_EMALFORMED", bombs[i].what, nb_error_name(r));
        }
    }
}

static void bombs_fail_fast_as_records(void **state)
{
    (void)state;
    for (size_t i = 0; i < sizeof(bombs) / sizeof(bombs[0]); i++) {
        struct nb_record rec;
        int r = nb_record_decode(bombs[i].bytes, bombs[i].len, &rec);
        if (r != NB_EMALFORMED) {
            fail_msg("%s: got %s, want NB_EMALFORMED", bombs[i].what, nb_error_name(r));
        }
    }
}

static void deep_nesting_is_refused(void **state)
{
    (void)state;
    /* 100 000 nested one-element arrays: would exhaust a recursive parser's
     * stack; here it stops at the depth limit. */
    size_t n = 100000;
    uint8_t *deep = malloc(n + 1);
    assert_non_null(deep);
    memset(deep, 0x91, n);
    deep[n] = 0xc0;
    struct nb_mp_doc doc;
    assert_int_equal(nb_mp_decode(deep, n + 1, CONTROL_MAX, NB_MP_DEPTH_LIMIT, &doc), NB_EDEPTH);
    struct nb_record rec;
    assert_int_equal(nb_record_decode(deep, 4000, &rec), NB_EDEPTH);
    free(deep);
}

static void honest_large_inputs_still_decode(void **state)
{
    (void)state;
    /* One control-API frame of 1 MiB holding an array of nils: the largest
     * object count a 1 MiB input can carry, and it decodes within the cap. */
    size_t n = CONTROL_MAX - 5;
    uint8_t *buf = malloc(CONTROL_MAX);
    assert_non_null(buf);
    buf[0] = 0xdd;
    buf[1] = (uint8_t)(n >> 24);
    buf[2] = (uint8_t)(n >> 16);
    buf[3] = (uint8_t)(n >> 8);
    buf[4] = (uint8_t)n;
    memset(buf + 5, 0xc0, n);
    struct nb_mp_doc doc;
    assert_int_equal(nb_mp_decode(buf, CONTROL_MAX, CONTROL_MAX, 1, &doc), 0);
    assert_int_equal(nb_mp_root(&doc)->type, MSGPACK_OBJECT_ARRAY);
    assert_int_equal(nb_mp_root(&doc)->via.array.size, n);
    nb_mp_doc_free(&doc);

    /* One byte more than the frame bound is refused before it is read. */
    assert_int_equal(nb_mp_decode(buf, CONTROL_MAX, CONTROL_MAX - 1, 1, &doc), NB_ETOOBIG);
    free(buf);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(bombs_fail_fast_in_the_generic_decoder),
        cmocka_unit_test(bombs_fail_fast_as_records),
        cmocka_unit_test(deep_nesting_is_refused),
        cmocka_unit_test(honest_large_inputs_still_decode),
    };
    return cmocka_run_group_tests(tests, cap_address_space, NULL);
}
