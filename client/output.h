/*
 * What noaber prints: a small streaming JSON writer for --json, aligned
 * tables and relative times for a person at a terminal.
 */
#ifndef NOABER_CLIENT_OUTPUT_H
#define NOABER_CLIENT_OUTPUT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#define JSON_DEPTH_MAX 16

/*
 * A JSON writer that inserts commas itself.  Call json_key() before every
 * value inside an object; values inside arrays need no key.
 */
struct json {
    FILE *out;
    int depth;
    bool first[JSON_DEPTH_MAX];
    bool after_key;
};

void json_init(struct json *j, FILE *out);
void json_object_begin(struct json *j);
void json_object_end(struct json *j);
void json_array_begin(struct json *j);
void json_array_end(struct json *j);
void json_key(struct json *j, const char *key);
void json_string(struct json *j, const char *s);
/* A string that is not NUL-terminated; bytes are passed through as UTF-8. */
void json_string_n(struct json *j, const char *s, size_t len);
void json_uint(struct json *j, uint64_t v);
void json_bool(struct json *j, bool v);
void json_null(struct json *j);
/* Ends the top-level value with a newline and flushes. */
void json_finish(struct json *j);

/* Writes `s` as a JSON string literal with quotes (the escaper on its own). */
void json_write_escaped(FILE *out, const char *s, size_t len);

/* "5 min ago", "in 6 days", "just now": `t` relative to `now`, into buf. */
void format_relative(uint64_t now, uint64_t t, char *buf, size_t size);

/* "2026-12-08 14:05" in local time, the same in every language, into buf. */
void format_date(uint64_t t, char *buf, size_t size);

/* A positive duration of at most a year in the syntax of common/duration.h
 * ("3d", "12h", "90m", "2w", "45s", "45") into seconds.  Returns 0 or -1. */
int parse_duration(const char *text, uint64_t *ret_seconds);

/*
 * A protocol name (this_week, in_person, done_claimed) as a person types it in
 * an option and reads it in noaber's text: with hyphens (this-week,
 * in-person, done-claimed).  Returns buf.
 */
const char *spelled(const char *name, char *buf, size_t size);

/*
 * Parses a name with the protocol's parser, taking the hyphens of the options
 * ("in-person") as well as the underscores of the protocol ("in_person").
 */
int parse_spelled(int (*parse)(const char *), const char *text);

/*
 * An aligned table: add rows of cells, then print.  Column widths count
 * UTF-8 characters, not bytes, so names in any script line up.
 */
#define TABLE_COLS_MAX 10

struct table {
    size_t ncols;
    size_t nrows;
    size_t cap;
    char **cells; /* nrows * ncols owned strings */
};

void table_init(struct table *t, size_t ncols);
/* Adds a row of ncols strings (copied).  Returns 0 or -1 on allocation failure. */
int table_add(struct table *t, const char *const *cells);
void table_print(const struct table *t, FILE *out);
void table_free(struct table *t);

/* Number of UTF-8 characters (code points) in s. */
size_t utf8_width(const char *s);

/*
 * Copies at most `max_chars` characters of `s` (NUL-terminated or len bytes)
 * into buf, ending with "…" when it had to cut.
 */
void shorten(const char *s, size_t len, size_t max_chars, char *buf, size_t size);

#endif
