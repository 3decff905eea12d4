/*
 * Checking the text a person gives in options before anything is signed, so
 * that every error names the option and says what it takes.  The record's
 * own validation (libnoaber) would refuse the same values, but it cannot say
 * which option they came from.
 */
#include <ctype.h>
#include <stdio.h>
#include <string.h>

#include "client.h"

int text_option(const char *option, const char *value, size_t min, size_t max, bool multiline)
{
    size_t bytes, chars;

    if (value == NULL) {
        return EXIT_OK;
    }
    bytes = strlen(value);
    if (nb_utf8_check(value, bytes, multiline ? NB_UTF8_NEWLINE : 0) != 0) {
        return fail(EXIT_USAGE,
                    "%s is not UTF-8 text, or it has control characters%s; check the "
                    "terminal's character set (locale) and retype it.",
                    option, multiline ? " other than line breaks" : " or line breaks");
    }
    if (bytes >= min && bytes <= max) {
        return EXIT_OK;
    }
    chars = utf8_width(value);
    if (bytes < min) {
        return fail(EXIT_USAGE, "%s needs at least %zu character%s of text.", option, min,
                    min == 1 ? "" : "s");
    }
    /* Limits are in bytes of UTF-8: a plain letter takes one, an accented
     * letter two, most other scripts two or three.  A person counts
     * characters, so both are said. */
    return fail(EXIT_USAGE,
                "%s is too long: it takes at most %zu bytes, which is %zu characters of plain "
                "letters and fewer with accented letters or other scripts (é takes 2 bytes); "
                "this one has %zu characters in %zu bytes.",
                option, max, max, chars, bytes);
}

int missing_options(const struct ctx *ctx, const char *usage, const char *const *names,
                    const char *const *values, size_t n)
{
    char list[128];
    size_t missing = 0, k = 0, used = 0;

    for (size_t i = 0; i < n; i++) {
        missing += values[i] == NULL;
    }
    if (missing == 0) {
        return EXIT_OK;
    }
    list[0] = '\0';
    for (size_t i = 0; i < n && used < sizeof(list); i++) {
        if (values[i] != NULL) {
            continue;
        }
        const char *sep = k == 0 ? "" : k + 1 == missing ? " and " : ", ";
        int w = snprintf(list + used, sizeof(list) - used, "%s--%s", sep, names[i]);
        used += w > 0 ? (size_t)w : 0;
        k++;
    }
    fail(EXIT_USAGE, "%s needs %s.", ctx->command, list);
    fprintf(stderr, "usage: noaber %s\n", usage);
    return EXIT_USAGE;
}

/*
 * A BCP 47 tag as records carry it (2 to 35 ASCII letters, digits and
 * hyphens) whose language is a code of 2 or 3 letters (fr, nl, ar, fr-BE):
 * stricter than the record's rule, because "Nederlands" passes that rule
 * but is the name of a language, which no other client can translate.
 */
static bool is_language_tag(const char *s, size_t len)
{
    size_t primary = 0;

    if (len < 2 || len > NB_LANGUAGE_MAX) {
        return false;
    }
    while (primary < len &&
           ((s[primary] >= 'a' && s[primary] <= 'z') || (s[primary] >= 'A' && s[primary] <= 'Z'))) {
        primary++;
    }
    if (primary < 2 || primary > 3 || (primary < len && s[primary] != '-')) {
        return false;
    }
    for (size_t i = 0; i < len; i++) {
        char c = s[i];
        if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
              c == '-')) {
            return false;
        }
    }
    return true;
}

int list_option(const char *option, const char *value, enum list_kind kind, char *buf, size_t size,
                struct nb_text *out, size_t max, uint8_t *ret_n)
{
    size_t n = 0;
    char *save = NULL;

    if (value == NULL) {
        return EXIT_OK;
    }
    if (strlen(value) >= size) {
        return fail(EXIT_USAGE, "--%s is too long: it takes at most %zu items.", option, max);
    }
    snprintf(buf, size, "%s", value);
    for (char *item = strtok_r(buf, ",", &save); item != NULL; item = strtok_r(NULL, ",", &save)) {
        while (*item == ' ') {
            item++;
        }
        size_t len = strlen(item);
        while (len > 0 && item[len - 1] == ' ') {
            item[--len] = '\0';
        }
        if (len == 0) {
            continue;
        }
        if (n == max) {
            return fail(EXIT_USAGE, "--%s takes at most %zu %s, separated by commas.", option, max,
                        kind == LIST_LANGUAGES ? "languages" : "tags");
        }
        if (kind == LIST_LANGUAGES && !is_language_tag(item, len)) {
            return fail(EXIT_USAGE,
                        "--%s: \"%s\" is not a language code; use two-letter codes such as fr, "
                        "nl, en, ar, tr (separated by commas).",
                        option, item);
        }
        if (kind == LIST_TAGS && (nb_utf8_check(item, len, 0) != 0 || len > NB_TAG_MAX)) {
            return fail(EXIT_USAGE,
                        "--%s: \"%s\" is not a tag: each tag is text of at most %d bytes (%d "
                        "characters of plain letters, fewer with accents).",
                        option, item, NB_TAG_MAX, NB_TAG_MAX);
        }
        set_text(&out[n++], item);
    }
    *ret_n = (uint8_t)n;
    return EXIT_OK;
}

int expires_option(const char *value, uint64_t *ret_seconds)
{
    uint64_t seconds;

    if (value == NULL) {
        return EXIT_OK;
    }
    if (parse_duration(value, &seconds) != 0 || seconds > NB_EXPIRY_MAX) {
        return fail(EXIT_USAGE,
                    "--expires: \"%s\" is not a duration from 1 second to 90 days, such as 90m, "
                    "12h, 3d or 2w.",
                    value);
    }
    *ret_seconds = seconds;
    return EXIT_OK;
}

bool is_hex_text(const char *s)
{
    for (; *s != '\0'; s++) {
        if (!isxdigit((unsigned char)*s)) {
            return false;
        }
    }
    return true;
}
