/*
 * JSON writer, aligned tables, relative times and durations.
 *
 * The JSON escaper passes UTF-8 through untouched (records only carry valid
 * UTF-8, libnoaber checks that) and escapes quotes, backslashes and every
 * control character, so a title can never break the line-per-event output of
 * `noaber --json watch`.
 */
#include "i18n.h"
#include "output.h"
#include "common/duration.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

void json_init(struct json *j, FILE *out)
{
    memset(j, 0, sizeof(*j));
    j->out = out;
    j->first[0] = true;
}

/* Writes the comma that separates this value from the previous one, if any. */
static void before_value(struct json *j)
{
    if (j->after_key) {
        j->after_key = false;
        return;
    }
    if (!j->first[j->depth]) {
        fputc(',', j->out);
    }
    j->first[j->depth] = false;
}

static void open_container(struct json *j, char c)
{
    before_value(j);
    fputc(c, j->out);
    if (j->depth + 1 < JSON_DEPTH_MAX) {
        j->depth++;
    }
    j->first[j->depth] = true;
}

static void close_container(struct json *j, char c)
{
    fputc(c, j->out);
    if (j->depth > 0) {
        j->depth--;
    }
}

void json_object_begin(struct json *j)
{
    open_container(j, '{');
}

void json_object_end(struct json *j)
{
    close_container(j, '}');
}

void json_array_begin(struct json *j)
{
    open_container(j, '[');
}

void json_array_end(struct json *j)
{
    close_container(j, ']');
}

void json_write_escaped(FILE *out, const char *s, size_t len)
{
    fputc('"', out);
    for (size_t i = 0; i < len; i++) {
        unsigned char c = (unsigned char)s[i];
        switch (c) {
        case '"':
            fputs("\\\"", out);
            break;
        case '\\':
            fputs("\\\\", out);
            break;
        case '\n':
            fputs("\\n", out);
            break;
        case '\r':
            fputs("\\r", out);
            break;
        case '\t':
            fputs("\\t", out);
            break;
        case '\b':
            fputs("\\b", out);
            break;
        case '\f':
            fputs("\\f", out);
            break;
        default:
            if (c < 0x20 || c == 0x7f) {
                fprintf(out, "\\u%04x", c);
            } else {
                fputc(c, out);
            }
        }
    }
    fputc('"', out);
}

void json_key(struct json *j, const char *key)
{
    before_value(j);
    json_write_escaped(j->out, key, strlen(key));
    fputc(':', j->out);
    j->after_key = true;
}

void json_string(struct json *j, const char *s)
{
    json_string_n(j, s, strlen(s));
}

void json_string_n(struct json *j, const char *s, size_t len)
{
    before_value(j);
    json_write_escaped(j->out, s != NULL ? s : "", s != NULL ? len : 0);
}

void json_uint(struct json *j, uint64_t v)
{
    before_value(j);
    fprintf(j->out, "%llu", (unsigned long long)v);
}

void json_bool(struct json *j, bool v)
{
    before_value(j);
    fputs(v ? "true" : "false", j->out);
}

void json_null(struct json *j)
{
    before_value(j);
    fputs("null", j->out);
}

void json_finish(struct json *j)
{
    fputc('\n', j->out);
    fflush(j->out);
    j->depth = 0;
    j->first[0] = true;
    j->after_key = false;
}

void format_date(uint64_t t, char *buf, size_t size)
{
    time_t tt = (time_t)t;
    struct tm tm;
    if (localtime_r(&tt, &tm) == NULL || strftime(buf, size, "%Y-%m-%d %H:%M", &tm) == 0) {
        snprintf(buf, size, "%llu", (unsigned long long)t);
    }
}

/*
 * "5 min ago", "in 7 days", "il y a 2 heures": in the neighbour's language
 * (i18n.h), with its plural forms.
 */
void format_relative(uint64_t now, uint64_t t, char *buf, size_t size)
{
    bool future = t > now;
    uint64_t d = future ? t - now : now - t;
    unsigned long long n;
    char amount[48];

    if (d < 60) {
        snprintf(buf, size, "%s",
                 future ? P_("cli_time_soon", "in less than a minute")
                        : P_("cli_time_now", "just now"));
        return;
    }
    /*
     * A request posted a few seconds ago with the default expiry must read
     * "in 7 days", as `noaber ask` said, not "in 6 days": a time less than a
     * minute short of a whole unit counts as that unit.
     */
    if (future) {
        d += 59;
    }
    if (d < 3600) {
        n = d / 60;
        snprintf(amount, sizeof(amount), NP_("cli_time_minutes", "%llu min", "%llu min", n), n);
    } else if (d < 86400) {
        n = d / 3600;
        snprintf(amount, sizeof(amount), NP_("cli_time_hours", "%llu hour", "%llu hours", n), n);
    } else if (d < 14 * 86400) {
        n = d / 86400;
        snprintf(amount, sizeof(amount), NP_("cli_time_days", "%llu day", "%llu days", n), n);
    } else {
        n = d / (7 * 86400);
        snprintf(amount, sizeof(amount), NP_("cli_time_weeks", "%llu week", "%llu weeks", n), n);
    }
    snprintf(buf, size, future ? P_("cli_time_in", "in %s") : P_("cli_time_ago", "%s ago"), amount);
}

int parse_duration(const char *text, uint64_t *ret_seconds)
{
    uint64_t seconds;

    /* The syntax is the daemon's (common/duration.h); a client option's
     * duration is never zero, and anything beyond a year is a typo (the
     * daemon refuses more than 90 days anyway). */
    if (nb_duration_parse(text, &seconds) != 0 || seconds == 0 || seconds > 366ull * 86400) {
        return -1;
    }
    *ret_seconds = seconds;
    return 0;
}

const char *spelled(const char *name, char *buf, size_t size)
{
    snprintf(buf, size, "%s", name != NULL ? name : "?");
    for (char *p = buf; *p != '\0'; p++) {
        if (*p == '_') {
            *p = '-';
        }
    }
    return buf;
}

int parse_spelled(int (*parse)(const char *), const char *text)
{
    char alt[32];
    int v = parse(text);

    if (v >= 0 || strlen(text) >= sizeof(alt)) {
        return v;
    }
    snprintf(alt, sizeof(alt), "%s", text);
    for (char *p = alt; *p != '\0'; p++) {
        if (*p == '-') {
            *p = '_';
        }
    }
    return parse(alt);
}

size_t utf8_width(const char *s)
{
    size_t n = 0;
    for (; *s != '\0'; s++) {
        if (((unsigned char)*s & 0xc0) != 0x80) {
            n++;
        }
    }
    return n;
}

/* The byte offset just past the first `chars` characters of s[0..len). */
static size_t char_offset(const char *s, size_t len, size_t chars)
{
    size_t i = 0;
    while (i < len && chars > 0) {
        i++;
        while (i < len && ((unsigned char)s[i] & 0xc0) == 0x80) {
            i++;
        }
        chars--;
    }
    return i;
}

void shorten(const char *s, size_t len, size_t max_chars, char *buf, size_t size)
{
    size_t n = strnlen(s, len);
    size_t total = 0;
    size_t keep, off;
    bool cut;

    if (size == 0) {
        return;
    }
    for (size_t i = 0; i < n; i++) {
        total += ((unsigned char)s[i] & 0xc0) != 0x80;
    }
    cut = total > max_chars;
    /* One character of the budget goes to the ellipsis when the text is cut. */
    keep = cut ? (max_chars > 0 ? max_chars - 1 : 0) : total;
    off = char_offset(s, n, keep);
    while (off > 0 && off + (cut ? 3 : 0) + 1 > size) {
        off--;
        while (off > 0 && ((unsigned char)s[off] & 0xc0) == 0x80) {
            off--;
        }
    }
    memcpy(buf, s, off);
    if (cut && off + 4 <= size) {
        memcpy(buf + off, "\xe2\x80\xa6", 3); /* U+2026 HORIZONTAL ELLIPSIS */
        off += 3;
    }
    buf[off] = '\0';
}

void table_init(struct table *t, size_t ncols)
{
    memset(t, 0, sizeof(*t));
    t->ncols = ncols > TABLE_COLS_MAX ? TABLE_COLS_MAX : ncols;
}

int table_add(struct table *t, const char *const *cells)
{
    if (t->nrows == t->cap) {
        size_t cap = t->cap == 0 ? 16 : t->cap * 2;
        char **grown = realloc(t->cells, cap * t->ncols * sizeof(*grown));
        if (grown == NULL) {
            return -1;
        }
        t->cells = grown;
        t->cap = cap;
    }
    for (size_t c = 0; c < t->ncols; c++) {
        char *copy = strdup(cells[c] != NULL ? cells[c] : "");
        if (copy == NULL) {
            for (size_t k = 0; k < c; k++) {
                free(t->cells[t->nrows * t->ncols + k]);
            }
            return -1;
        }
        t->cells[t->nrows * t->ncols + c] = copy;
    }
    t->nrows++;
    return 0;
}

void table_print(const struct table *t, FILE *out)
{
    size_t width[TABLE_COLS_MAX] = { 0 };

    for (size_t r = 0; r < t->nrows; r++) {
        for (size_t c = 0; c < t->ncols; c++) {
            size_t w = utf8_width(t->cells[r * t->ncols + c]);
            if (w > width[c]) {
                width[c] = w;
            }
        }
    }
    for (size_t r = 0; r < t->nrows; r++) {
        for (size_t c = 0; c < t->ncols; c++) {
            const char *cell = t->cells[r * t->ncols + c];
            fputs(cell, out);
            /* The last column is not padded, so lines carry no trailing spaces. */
            if (c + 1 < t->ncols) {
                for (size_t pad = utf8_width(cell); pad < width[c] + 2; pad++) {
                    fputc(' ', out);
                }
            }
        }
        fputc('\n', out);
    }
}

void table_free(struct table *t)
{
    for (size_t i = 0; i < t->nrows * t->ncols; i++) {
        free(t->cells[i]);
    }
    free(t->cells);
    memset(t, 0, sizeof(*t));
}
