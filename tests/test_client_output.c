/*
 * What noaber prints: the JSON escaper, relative times, durations, cutting
 * text to a width and aligned tables.
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include "client/output.h"

/* Runs `fn` with a memory stream and returns what it wrote (caller frees). */
static char *capture(void (*fn)(FILE *, const void *), const void *arg)
{
    char *buf = NULL;
    size_t len = 0;
    FILE *f = open_memstream(&buf, &len);
    assert_non_null(f);
    fn(f, arg);
    fclose(f);
    return buf;
}

static void write_escaped(FILE *f, const void *arg)
{
    const char *s = arg;
    json_write_escaped(f, s, strlen(s));
}

static void json_escapes_quotes_backslashes_and_control_characters(void **state)
{
    (void)state;
    char *out = capture(write_escaped, "say \"hi\"\\ now");
    assert_string_equal(out, "\"say \\\"hi\\\"\\\\ now\"");
    free(out);
    out = capture(write_escaped, "a\nb\tc\rd\x01\x1f\x7f");
    assert_string_equal(out, "\"a\\nb\\tc\\rd\\u0001\\u001f\\u007f\"");
    free(out);
}

static void json_passes_utf8_through(void **state)
{
    (void)state;
    const char *text =
        "Cr\xc3\xa8me br\xc3\xbbl\xc3\xa9\x65 \xe2\x80\x94 f\xc3\xbcr Oma \xf0\x9f\x91\xb5";
    char *out = capture(write_escaped, text);
    size_t n = strlen(out);
    assert_int_equal(n, strlen(text) + 2);
    assert_memory_equal(out + 1, text, strlen(text));
    free(out);
}

static void write_document(FILE *f, const void *arg)
{
    (void)arg;
    struct json j;
    json_init(&j, f);
    json_object_begin(&j);
    json_key(&j, "id");
    json_string(&j, "ab");
    json_key(&j, "list");
    json_array_begin(&j);
    json_uint(&j, 1);
    json_bool(&j, true);
    json_null(&j);
    json_object_begin(&j);
    json_object_end(&j);
    json_array_end(&j);
    json_key(&j, "n");
    json_string_n(&j, "xyz", 2);
    json_object_end(&j);
    json_finish(&j);
}

static void json_writer_places_commas_and_colons(void **state)
{
    (void)state;
    char *out = capture(write_document, NULL);
    assert_string_equal(out, "{\"id\":\"ab\",\"list\":[1,true,null,{}],\"n\":\"xy\"}\n");
    free(out);
}

static void relative_times_read_like_speech(void **state)
{
    (void)state;
    char buf[64];
    const uint64_t now = 1700000000;
    struct {
        int64_t delta;
        const char *text;
    } cases[] = {
        { 0, "just now" },
        { -59, "just now" },
        { -300, "5 min ago" },
        { -3600, "1 hour ago" },
        { -7300, "2 hours ago" },
        { -86400, "1 day ago" },
        { 6 * 86400, "in 6 days" },
        { 7 * 86400 - 5, "in 7 days" },
        { 3600 - 30, "in 1 hour" },
        { 30, "in less than a minute" },
        { 21 * 86400, "in 3 weeks" },
        { 90 * 60, "in 1 hour" },
    };
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        format_relative(now, (uint64_t)((int64_t)now + cases[i].delta), buf, sizeof(buf));
        assert_string_equal(buf, cases[i].text);
    }
}

static void durations_take_one_number_and_one_unit(void **state)
{
    (void)state;
    uint64_t s = 7;
    assert_int_equal(parse_duration("3d", &s), 0);
    assert_int_equal(s, 3 * 86400);
    assert_int_equal(parse_duration("12h", &s), 0);
    assert_int_equal(s, 12 * 3600);
    assert_int_equal(parse_duration("90m", &s), 0);
    assert_int_equal(s, 90 * 60);
    assert_int_equal(parse_duration("2w", &s), 0);
    assert_int_equal(s, 14 * 86400);
    assert_int_equal(parse_duration("45s", &s), 0);
    assert_int_equal(s, 45);

    assert_int_equal(parse_duration("3", &s), 0);
    assert_int_equal(s, 3);

    const char *bad[] = { "",    "d",   "0",  "3x",  "3dd",
                          "-3d", " 3d", "0d", "3 d", "99999999999999999999d",
                          "400d" };
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        s = 7;
        assert_int_equal(parse_duration(bad[i], &s), -1);
        assert_int_equal(s, 7);
    }
}

static void shorten_cuts_whole_characters_and_adds_an_ellipsis(void **state)
{
    (void)state;
    char buf[64];
    shorten("Groceries", 9, 20, buf, sizeof(buf));
    assert_string_equal(buf, "Groceries");
    shorten("Groceries", 9, 5, buf, sizeof(buf));
    assert_string_equal(buf, "Groc\xe2\x80\xa6");
    /* "été à" cut at 3 characters keeps two whole characters and the ellipsis. */
    shorten("\xc3\xa9t\xc3\xa9 \xc3\xa0", 9, 3, buf, sizeof(buf));
    assert_string_equal(buf, "\xc3\xa9t\xe2\x80\xa6");
    /* A small buffer never gets half a character. */
    shorten("\xc3\xa9\xc3\xa9\xc3\xa9\xc3\xa9", 8, 10, buf, 4);
    assert_string_equal(buf, "\xc3\xa9");
    assert_int_equal(utf8_width("\xc3\xa9t\xc3\xa9"), 3);
}

static void print_table(FILE *f, const void *arg)
{
    const struct table *t = arg;
    table_print(t, f);
}

static void tables_align_columns_by_characters(void **state)
{
    (void)state;
    struct table t;
    const char *r1[] = { "ID", "TITLE", "AREA" };
    const char *r2[] = { "abcd", "Caf\xc3\xa9", "Marollen" };
    const char *r3[] = { "ef", "Soup", "X" };
    table_init(&t, 3);
    assert_int_equal(table_add(&t, r1), 0);
    assert_int_equal(table_add(&t, r2), 0);
    assert_int_equal(table_add(&t, r3), 0);
    char *out = capture(print_table, &t);
    assert_string_equal(out, "ID    TITLE  AREA\n"
                             "abcd  Caf\xc3\xa9   Marollen\n"
                             "ef    Soup   X\n");
    free(out);
    table_free(&t);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(json_escapes_quotes_backslashes_and_control_characters),
        cmocka_unit_test(json_passes_utf8_through),
        cmocka_unit_test(json_writer_places_commas_and_colons),
        cmocka_unit_test(relative_times_read_like_speech),
        cmocka_unit_test(durations_take_one_number_and_one_unit),
        cmocka_unit_test(shorten_cuts_whole_characters_and_adds_an_ellipsis),
        cmocka_unit_test(tables_align_columns_by_characters),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
