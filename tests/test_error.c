/* Every error code has its own name and a sentence; unknown codes do not crash. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <string.h>
#include <cmocka.h>

#include <noaber/error.h>

static void every_code_has_a_distinct_name_and_text(void **state)
{
    (void)state;
    for (int a = NB_ECRYPTO; a <= NB_OK; a++) {
        assert_string_not_equal(nb_error_name(a), "NB_E?");
        assert_string_not_equal(nb_strerror(a), "unknown error");
        for (int b = NB_ECRYPTO; b < a; b++) {
            assert_string_not_equal(nb_error_name(a), nb_error_name(b));
            assert_string_not_equal(nb_strerror(a), nb_strerror(b));
        }
    }
}

static void unknown_codes_say_so(void **state)
{
    (void)state;
    assert_string_equal(nb_strerror(-9999), "unknown error");
    assert_string_equal(nb_error_name(1), "NB_E?");
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(every_code_has_a_distinct_name_and_text),
        cmocka_unit_test(unknown_codes_say_so),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
