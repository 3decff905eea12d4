/* The area rule of noaber/area.h, as a neighbour meets it. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <string.h>
#include <cmocka.h>

#include <noaber/area.h>

static bool match(const char *query, const char *area)
{
    return nb_area_match(query, strlen(query), area, strlen(area));
}

static void a_word_or_a_postcode_matches_the_whole_area(void **state)
{
    (void)state;
    assert_true(match("Schaerbeek", "Schaerbeek 1030"));
    assert_true(match("1030", "Schaerbeek 1030"));
    assert_true(match("schaerbeek", "1030 SCHAERBEEK"));
    assert_true(match("Schaerbeek 1030", "Schaerbeek (1030)"));
    assert_true(match("Sint-Joost", "Sint-Joost-ten-Node"));
    assert_true(match("Marollen", "Marollen"));
    assert_false(match("Schaerbeek", "Schaerbeekstraat"));
    assert_false(match("103", "Schaerbeek 1030"));
    assert_false(match("Schaerbeek 1000", "Schaerbeek 1030"));
    assert_false(match("Elsene", "Ixelles 1050"));
}

static void case_and_accents_do_not_count(void **state)
{
    (void)state;
    assert_true(match("Etterbeek", "ETTERBEEK"));
    assert_true(match("Vorst", "Forêt / Vorst"));
    assert_false(match("Forest", "Forêt / Vorst"));
    assert_true(match("foret", "Forêt"));
    assert_true(match("FORÊT", "foret"));
    assert_true(match("Koekelberg", "Koekelberg, Basilique"));
    assert_true(match("oeuvre", "Œuvre"));
    assert_true(match("strasse", "Straße 5"));
    assert_true(match("Zoniën", "zonien"));
    /* Other scripts compare as they are, still word by word. */
    assert_true(match("مولنبيك", "حي مولنبيك"));
    assert_false(match("مولن", "حي مولنبيك"));
}

static void no_word_matches_nothing(void **state)
{
    (void)state;
    assert_false(match("", "Schaerbeek"));
    assert_false(match(" - / ", "Schaerbeek"));
    assert_false(match("Schaerbeek", ""));
    /* Invalid UTF-8 separates words; it never crashes nor joins them. */
    assert_true(nb_area_match("ab", 2, "ab\xff\xfe", 4));
    assert_false(nb_area_match("\xc3", 1, "\xc3", 1));
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(a_word_or_a_postcode_matches_the_whole_area),
        cmocka_unit_test(case_and_accents_do_not_count),
        cmocka_unit_test(no_word_matches_nothing),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
