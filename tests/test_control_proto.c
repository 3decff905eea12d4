/*
 * The control protocol's shared pieces (common/control_proto.h): the
 * length prefix both sides write and read, and the error codes the client
 * maps instead of message text.
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <string.h>
#include <cmocka.h>

#include <noaber/error.h>

#include "common/control_proto.h"

static void the_length_prefix_is_big_endian_and_bounded(void **state)
{
    (void)state;
    uint8_t h[NB_CTL_HEADER_SIZE];
    uint32_t len = 0;

    nb_ctl_header_encode(0x01020304u, h);
    assert_memory_equal(h, "\x01\x02\x03\x04", 4);
    nb_ctl_header_encode(1, h);
    assert_int_equal(nb_ctl_header_decode(h, &len), 0);
    assert_int_equal(len, 1);
    nb_ctl_header_encode(NB_CTL_FRAME_MAX, h);
    assert_memory_equal(h, "\x00\x10\x00\x00", 4);
    assert_int_equal(nb_ctl_header_decode(h, &len), 0);
    assert_int_equal(len, NB_CTL_FRAME_MAX);

    /* Nothing else is a length: the stream cannot be resynchronised. */
    len = 7;
    assert_int_equal(nb_ctl_header_decode((const uint8_t *)"\x00\x00\x00\x00", &len), NB_ETOOBIG);
    assert_int_equal(nb_ctl_header_decode((const uint8_t *)"\x00\x10\x00\x01", &len), NB_ETOOBIG);
    assert_int_equal(nb_ctl_header_decode((const uint8_t *)"\xff\xff\xff\xff", &len), NB_ETOOBIG);
    assert_int_equal(len, 7);
}

static void every_error_code_has_one_wire_name(void **state)
{
    (void)state;
    static const char *const documented[] = {
        "bad_request", "version",   "unknown_op", "forbidden", "invalid_record", "refused",
        "not_found",   "ambiguous", "gone",       "internal",  "damaged",        "no_space",
    };
    /* docs/control-api.md lists these; each parses to a code that prints
     * as itself, and no two codes share a name. */
    for (size_t i = 0; i < sizeof(documented) / sizeof(documented[0]); i++) {
        enum nb_ctl_error e = nb_ctl_error_parse(documented[i], strlen(documented[i]));
        assert_int_not_equal(e, NB_CTL_E_UNKNOWN);
        assert_string_equal(nb_ctl_error_name(e), documented[i]);
    }
    assert_int_equal(NB_CTL_E_COUNT_ - 1, sizeof(documented) / sizeof(documented[0]));
    /* A code from a newer daemon is unknown, not mistaken for another. */
    assert_int_equal(nb_ctl_error_parse("overloaded", 10), NB_CTL_E_UNKNOWN);
    assert_int_equal(nb_ctl_error_parse("gon", 3), NB_CTL_E_UNKNOWN);
    assert_int_equal(nb_ctl_error_parse("gone2", 5), NB_CTL_E_UNKNOWN);
    assert_string_equal(nb_ctl_error_name((enum nb_ctl_error)99), "unknown");
    assert_string_equal(nb_ctl_role_name(NB_CTL_ROLE_MEMBER), "member");
    assert_string_equal(nb_ctl_role_name(NB_CTL_ROLE_OPERATOR), "operator");
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(the_length_prefix_is_big_endian_and_bounded),
        cmocka_unit_test(every_error_code_has_one_wire_name),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
