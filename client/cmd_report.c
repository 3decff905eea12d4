/*
 * `noaber report`: the unmet-need overview as text, CSV, JSON or a PNG
 * chart, and `noaber report --verify FILE` for the organisation that
 * receives one.  The daemon builds and signs it (daemon/control/
 * ops_report.c); this file only shows it.
 *
 * The JSON form is the one to pass on: it carries the signed msgpack body
 * (base64) and the signature, and --verify checks the signature and that
 * every other byte of the file is exactly what this client renders from
 * the signed body, so nothing in it can have been changed.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <cairo.h>
#include <msgpack.h>
#include <sodium.h>

#include <noaber/identity.h>

#include "care.h"
#include "common/report.h"
#include "proto/mp.h"

static const char report_usage[] =
    "report [--since D] [--by category|area|month] [--format text|csv|json] [--png FILE]\n"
    "       [--out FILE]\n"
    "       noaber report --verify FILE [--key nbm1...]";

/* The columns of a row, in the order the report prints them. */
static const char *const columns[] = {
    "posted",
    "helped",
    "cancelled",
    "expired_unhelped",
    "open",
    "on_behalf",
    "median_first_response",
    "median_assignment",
};
#define N_COLUMNS (sizeof(columns) / sizeof(columns[0]))
#define N_COUNTS  6 /* the first six are counts, the last two seconds */

static const char suppressed_note[] =
    "Counts from 1 to 4 are suppressed (shown as <5, null in JSON), and so are medians of "
    "fewer than 5 values, so that nobody can be picked out.  No member keys, titles or texts "
    "are in this report.";

static int doc_decode(const uint8_t *bytes, size_t len, struct report_doc *d)
{
    char format[32];
    size_t end;
    d->owned = true;
    msgpack_unpacked_init(&d->u);
    d->bytes = bytes;
    d->len = len;
    /* Bounded first: msgpack-c allocates for a count before its elements. */
    if (nb_mp_check(bytes, len, NB_CTL_FRAME_MAX, 4, &end) != 0 || end != len ||
        msgpack_unpack_next(&d->u, (const char *)bytes, len, NULL) != MSGPACK_UNPACK_SUCCESS ||
        d->u.data.type != MSGPACK_OBJECT_MAP) {
        return -1;
    }
    d->body = &d->u.data;
    ctl_get_str(d->body, "format", format, sizeof(format));
    if (strcmp(format, NB_REPORT_FORMAT) != 0) {
        return -1;
    }
    return 0;
}

/* A cell: the number, or NULL when suppressed (nil). */
static bool cell(const msgpack_object *row, const char *key, uint64_t *ret)
{
    const msgpack_object *o = ctl_get(row, key);
    if (o == NULL || o->type != MSGPACK_OBJECT_POSITIVE_INTEGER) {
        return false;
    }
    *ret = o->via.u64;
    return true;
}

static void format_seconds(uint64_t s, char *buf, size_t size)
{
    if (s < 3600) {
        snprintf(buf, size, "%llum", (unsigned long long)(s + 59) / 60);
    } else if (s < 48 * 3600) {
        snprintf(buf, size, "%lluh%02llum", (unsigned long long)s / 3600,
                 (unsigned long long)(s % 3600) / 60);
    } else {
        snprintf(buf, size, "%llud", (unsigned long long)s / 86400);
    }
}

static void format_day(uint64_t t, char *buf, size_t size)
{
    time_t tt = (time_t)t;
    struct tm tm;
    gmtime_r(&tt, &tm);
    strftime(buf, size, "%Y-%m-%d %H:%M", &tm);
}

static void row_cells(const msgpack_object *row, bool csv, char cells[][24])
{
    for (size_t c = 0; c < N_COLUMNS; c++) {
        uint64_t v;
        if (!cell(row, columns[c], &v)) {
            snprintf(cells[c], 24, "%s", c < N_COUNTS ? "<5" : csv ? "" : "-");
        } else if (c < N_COUNTS || csv) {
            snprintf(cells[c], 24, "%llu", (unsigned long long)v);
        } else {
            format_seconds(v, cells[c], 24);
        }
    }
}

static void render_text(const struct report_doc *d, FILE *out)
{
    char name[NB_NAME_MAX * 4 + 1], node[128], key[128], by[16], from[32], to[32];
    const msgpack_object *rows = ctl_get(d->body, "rows");
    struct table t;

    ctl_get_str(d->body, "neighbourhood", name, sizeof(name));
    ctl_get_str(d->body, "node", node, sizeof(node));
    ctl_get_str(d->body, "report_key", key, sizeof(key));
    ctl_get_str(d->body, "by", by, sizeof(by));
    format_day(ctl_get_uint(d->body, "since", 0), from, sizeof(from));
    format_day(ctl_get_uint(d->body, "until", 0), to, sizeof(to));
    fprintf(out, "Unmet-need overview of the neighbourhood \"%s\"%s%s\n", name,
            node[0] != '\0' ? ", node " : "", node);
    if (ctl_get_uint(d->body, "since", 0) == 0) {
        fprintf(out, "Requests posted up to %s (UTC) that the node still holds.\n", to);
    } else {
        fprintf(out, "Requests posted from %s to %s (UTC) that the node still holds.\n", from, to);
    }
    if (d->is_signed) {
        fprintf(out, "Signed by the node's report key %s: the neighbourhood shares it.\n", key);
    } else {
        fprintf(out, "Not signed: this node does not share the overview (share_report is off).\n");
    }
    fprintf(out, "%s\n\n", suppressed_note);
    table_init(&t, N_COLUMNS + 1);
    {
        const char *const head[] = { strcmp(by, "none") == 0 ? "" : by,
                                     "POSTED",
                                     "HELPED",
                                     "CANCELLED",
                                     "EXPIRED-UNHELPED",
                                     "OPEN",
                                     "ON-BEHALF",
                                     "FIRST-RESPONSE",
                                     "ASSIGNED-AFTER" };
        table_add(&t, head);
    }
    for (uint32_t i = 0; rows != NULL && rows->type == MSGPACK_OBJECT_ARRAY; i++) {
        const msgpack_object *row =
            i < rows->via.array.size ? &rows->via.array.ptr[i] : ctl_get(d->body, "total");
        char cells[N_COLUMNS][24], group[80];
        const char *line[N_COLUMNS + 1];
        row_cells(row, false, cells);
        ctl_get_str(row, "group", group, sizeof(group));
        line[0] = group;
        for (size_t c = 0; c < N_COLUMNS; c++) {
            line[c + 1] = cells[c];
        }
        table_add(&t, line);
        if (i >= rows->via.array.size) {
            break;
        }
    }
    table_print(&t, out);
    table_free(&t);
}

static void render_csv(const struct report_doc *d, FILE *out)
{
    const msgpack_object *rows = ctl_get(d->body, "rows");
    fprintf(out, "group");
    for (size_t c = 0; c < N_COLUMNS; c++) {
        fprintf(out, ",%s%s", columns[c], c < N_COUNTS ? "" : "_seconds");
    }
    fputc('\n', out);
    for (uint32_t i = 0; rows != NULL && rows->type == MSGPACK_OBJECT_ARRAY; i++) {
        const msgpack_object *row =
            i < rows->via.array.size ? &rows->via.array.ptr[i] : ctl_get(d->body, "total");
        char cells[N_COLUMNS][24], group[80];
        row_cells(row, true, cells);
        ctl_get_str(row, "group", group, sizeof(group));
        /* Groups are categories, months or areas; quotes keep commas in areas. */
        fputc('"', out);
        for (const char *p = group; *p != '\0'; p++) {
            if (*p == '"') {
                fputc('"', out);
            }
            fputc(*p, out);
        }
        fputc('"', out);
        for (size_t c = 0; c < N_COLUMNS; c++) {
            fprintf(out, ",%s", cells[c]);
        }
        fputc('\n', out);
        if (i >= rows->via.array.size) {
            break;
        }
    }
}

static void json_row(struct json *j, const msgpack_object *row)
{
    char group[80];
    ctl_get_str(row, "group", group, sizeof(group));
    json_object_begin(j);
    json_key(j, "group");
    json_string(j, group);
    for (size_t c = 0; c < N_COLUMNS; c++) {
        uint64_t v;
        json_key(j, columns[c]);
        if (cell(row, columns[c], &v)) {
            json_uint(j, v);
        } else {
            json_null(j);
        }
    }
    json_object_end(j);
}

static void render_json(const struct report_doc *d, FILE *out)
{
    static const char *const texts[] = { "format", "neighbourhood", "node", "report_key", "by" };
    static const char *const numbers[] = { "since", "until", "min_cell" };
    const msgpack_object *rows = ctl_get(d->body, "rows");
    struct json j;
    char buf[NB_NAME_MAX * 4 + 1];

    json_init(&j, out);
    json_object_begin(&j);
    for (size_t i = 0; i < sizeof(texts) / sizeof(texts[0]); i++) {
        ctl_get_str(d->body, texts[i], buf, sizeof(buf));
        json_key(&j, texts[i]);
        json_string(&j, buf);
    }
    for (size_t i = 0; i < sizeof(numbers) / sizeof(numbers[0]); i++) {
        json_key(&j, numbers[i]);
        json_uint(&j, ctl_get_uint(d->body, numbers[i], 0));
    }
    json_key(&j, "suppressed");
    json_string(&j, suppressed_note);
    json_key(&j, "total");
    json_row(&j, ctl_get(d->body, "total"));
    json_key(&j, "rows");
    json_array_begin(&j);
    for (uint32_t i = 0;
         rows != NULL && rows->type == MSGPACK_OBJECT_ARRAY && i < rows->via.array.size; i++) {
        json_row(&j, &rows->via.array.ptr[i]);
    }
    json_array_end(&j);
    json_key(&j, "signature");
    if (d->is_signed) {
        size_t b64_len = sodium_base64_encoded_len(d->len, sodium_base64_VARIANT_ORIGINAL);
        char *b64 = malloc(b64_len);
        char sig[NB_SIG_SIZE * 2 + 1];
        json_object_begin(&j);
        json_key(&j, "alg");
        json_string(&j, "ed25519");
        json_key(&j, "context");
        json_string(&j, NB_REPORT_CONTEXT);
        json_key(&j, "body");
        if (b64 != NULL) {
            sodium_bin2base64(b64, b64_len, d->bytes, d->len, sodium_base64_VARIANT_ORIGINAL);
            json_string(&j, b64);
        } else {
            json_null(&j);
        }
        free(b64);
        nb_hex(d->sig, NB_SIG_SIZE, sig);
        json_key(&j, "sig");
        json_string(&j, sig);
        json_object_end(&j);
    } else {
        json_null(&j);
    }
    json_object_end(&j);
    json_finish(&j);
}

/* A bar chart of posted, helped and expired-unhelped per group (PNG). */
static int render_png(const struct report_doc *d, const char *path)
{
    const msgpack_object *rows = ctl_get(d->body, "rows");
    const char *const series[] = { "posted", "helped", "expired_unhelped" };
    const double colour[][3] = { { 0.25, 0.45, 0.75 }, { 0.2, 0.65, 0.35 }, { 0.85, 0.4, 0.2 } };
    uint32_t n = rows != NULL && rows->type == MSGPACK_OBJECT_ARRAY ? rows->via.array.size : 0;
    const msgpack_object *list = n > 0 ? rows->via.array.ptr : ctl_get(d->body, "total");
    uint64_t max = 1;
    char name[NB_NAME_MAX * 4 + 1], title[NB_NAME_MAX * 4 + 64];
    int width, height = 420;

    if (n == 0) {
        n = 1;
    }
    width = 120 + (int)n * 90;
    for (uint32_t i = 0; i < n; i++) {
        for (size_t s = 0; s < 3; s++) {
            uint64_t v;
            if (cell(&list[i], series[s], &v) && v > max) {
                max = v;
            }
        }
    }
    cairo_surface_t *surf = cairo_image_surface_create(CAIRO_FORMAT_RGB24, width, height);
    cairo_t *cr = cairo_create(surf);
    cairo_set_source_rgb(cr, 1, 1, 1);
    cairo_paint(cr);
    cairo_select_font_face(cr, "sans-serif", CAIRO_FONT_SLANT_NORMAL, CAIRO_FONT_WEIGHT_NORMAL);
    cairo_set_source_rgb(cr, 0, 0, 0);
    cairo_set_font_size(cr, 15);
    ctl_get_str(d->body, "neighbourhood", name, sizeof(name));
    snprintf(title, sizeof(title), "Requests in %s: posted, helped, expired with no helper", name);
    cairo_move_to(cr, 20, 28);
    cairo_show_text(cr, title);
    cairo_set_font_size(cr, 11);
    cairo_move_to(cr, 20, 48);
    cairo_show_text(cr, "Hatched bars: fewer than 5, suppressed.");
    for (uint32_t i = 0; i < n; i++) {
        char group[80];
        double x0 = 60 + i * 90.0;
        for (size_t s = 0; s < 3; s++) {
            uint64_t v;
            bool shown = cell(&list[i], series[s], &v);
            double h = shown ? 300.0 * (double)v / (double)max : 300.0 * 4 / (double)max;
            double x = x0 + (double)s * 24;
            cairo_set_source_rgb(cr, colour[s][0], colour[s][1], colour[s][2]);
            cairo_rectangle(cr, x, 370 - h, 20, h);
            if (shown) {
                cairo_fill(cr);
            } else {
                cairo_set_line_width(cr, 1);
                cairo_stroke(cr);
                for (double y = 370 - h; y < 370; y += 6) {
                    cairo_move_to(cr, x, y);
                    cairo_line_to(cr, x + 20, y + 6 > 370 ? 370 : y + 6);
                }
                cairo_stroke(cr);
            }
        }
        ctl_get_str(&list[i], "group", group, sizeof(group));
        cairo_set_source_rgb(cr, 0, 0, 0);
        cairo_move_to(cr, x0, 390);
        cairo_show_text(cr, group);
    }
    for (size_t s = 0; s < 3; s++) {
        cairo_set_source_rgb(cr, colour[s][0], colour[s][1], colour[s][2]);
        cairo_rectangle(cr, 20 + s * 130.0, 402, 10, 10);
        cairo_fill(cr);
        cairo_set_source_rgb(cr, 0, 0, 0);
        cairo_move_to(cr, 34 + s * 130.0, 411);
        cairo_show_text(cr, series[s]);
    }
    cairo_destroy(cr);
    cairo_status_t st = cairo_surface_write_to_png(surf, path);
    cairo_surface_destroy(surf);
    drawing_done();
    if (st != CAIRO_STATUS_SUCCESS) {
        return fail(EXIT_ERROR, "cannot write the chart %s: %s.", path, cairo_status_to_string(st));
    }
    return EXIT_OK;
}

static int read_file(const char *path, char **ret, size_t *ret_len)
{
    FILE *f = fopen(path, "rb");
    char *buf = NULL;
    size_t len = 0, cap = 0;
    if (f == NULL) {
        return fail(EXIT_ERROR, "cannot read %s.", path);
    }
    for (;;) {
        if (len + 1 >= cap) {
            char *grown = cap < (8u << 20) ? realloc(buf, cap + 65536) : NULL;
            if (grown == NULL) {
                free(buf);
                fclose(f);
                return fail(EXIT_ERROR, "%s is too large for a report.", path);
            }
            buf = grown;
            cap += 65536;
        }
        size_t got = fread(buf + len, 1, cap - len - 1, f);
        len += got;
        if (got == 0) {
            break;
        }
    }
    fclose(f);
    buf[len] = '\0';
    *ret = buf;
    *ret_len = len;
    return EXIT_OK;
}

/* The string value after `"key":"` in a JSON text, into buf. */
static bool json_field(const char *text, const char *key, char *buf, size_t size)
{
    char pat[32];
    snprintf(pat, sizeof(pat), "\"%s\":\"", key);
    const char *p = strstr(text, pat);
    if (p == NULL) {
        return false;
    }
    p += strlen(pat);
    const char *e = strchr(p, '"');
    if (e == NULL || (size_t)(e - p) >= size) {
        return false;
    }
    memcpy(buf, p, (size_t)(e - p));
    buf[e - p] = '\0';
    return true;
}

int report_check(const char *text, size_t len, struct report_doc *d, char *key_text,
                 size_t key_size)
{
    char *b64 = NULL, *again = NULL;
    char sig_hex[NB_SIG_SIZE * 2 + 8];
    uint8_t *body = NULL;
    size_t body_len = 0, again_len = 0;
    enum report_check r = REPORT_UNSIGNED;

    memset(d, 0, sizeof(*d));
    key_text[0] = '\0';
    b64 = malloc(len + 1);
    body = malloc(len + 1);
    if (b64 == NULL || body == NULL || memchr(text, '\0', len) != NULL ||
        !json_field(text, "body", b64, len + 1) ||
        !json_field(text, "sig", sig_hex, sizeof(sig_hex)) ||
        nb_unhex(sig_hex, d->sig, NB_SIG_SIZE) != 0 ||
        sodium_base642bin(body, len + 1, b64, strlen(b64), NULL, &body_len, NULL,
                          sodium_base64_VARIANT_ORIGINAL) != 0) {
        goto out;
    }
    r = REPORT_UNKNOWN;
    {
        int dr = doc_decode(body, body_len, d);
        body = NULL; /* d owns it now */
        if (dr != 0) {
            goto out;
        }
    }
    r = REPORT_BAD_SIGNATURE;
    ctl_get_str(d->body, "report_key", key_text, key_size);
    if (nb_member_key_from_text(key_text, d->key) != 0 ||
        nb_report_verify(d->bytes, d->len, d->key, d->sig) != 0) {
        goto out;
    }
    d->is_signed = true;
    /* Every other byte must be what the signed body renders to. */
    {
        FILE *mem = open_memstream(&again, &again_len);
        if (mem == NULL) {
            r = REPORT_UNKNOWN;
            goto out;
        }
        render_json(d, mem);
        fclose(mem);
    }
    r = again_len == len && memcmp(again, text, len) == 0 ? REPORT_GOOD : REPORT_CHANGED;
out:
    free(again);
    free(b64);
    free(body);
    if (r != REPORT_GOOD) {
        report_doc_free(d);
    }
    /* On success the body stays with d (d->bytes), freed by report_doc_free. */
    return (int)r;
}

void report_doc_free(struct report_doc *d)
{
    msgpack_unpacked_destroy(&d->u); /* nothing to do when zeroed */
    if (d->owned) {
        free((void *)d->bytes);
    }
    memset(d, 0, sizeof(*d));
}

static int verify(struct ctx *ctx, const char *path, const char *want_key)
{
    char *text = NULL;
    char key_text[128], name[NB_NAME_MAX * 4 + 1], from[32], to[32];
    size_t len = 0;
    struct report_doc d;
    int rc = read_file(path, &text, &len);
    if (rc != EXIT_OK) {
        return rc;
    }
    switch ((enum report_check)report_check(text, len, &d, key_text, sizeof(key_text))) {
    case REPORT_UNSIGNED:
        rc = fail(EXIT_ERROR,
                  "%s is not a signed overview: it has no signature (the node's operator has not "
                  "set share_report = on) or it is damaged.",
                  path);
        break;
    case REPORT_UNKNOWN:
        rc = fail(EXIT_ERROR, "%s: the signed part is not an overview this client knows.", path);
        break;
    case REPORT_BAD_SIGNATURE:
        rc =
            fail(EXIT_REFUSED, "%s: the signature does not match: do not trust this report.", path);
        break;
    case REPORT_CHANGED:
        rc = fail(EXIT_REFUSED,
                  "%s: the signature is good but the file was changed around it: do not trust "
                  "the numbers in it.",
                  path);
        break;
    case REPORT_GOOD:
        break;
    }
    free(text);
    if (rc != EXIT_OK) {
        return rc;
    }
    if (want_key != NULL && strcmp(want_key, key_text) != 0) {
        report_doc_free(&d);
        return fail(EXIT_REFUSED, "%s is signed by %s, not by the key %s you expected.", path,
                    key_text, want_key);
    }
    ctl_get_str(d.body, "neighbourhood", name, sizeof(name));
    format_day(ctl_get_uint(d.body, "since", 0), from, sizeof(from));
    format_day(ctl_get_uint(d.body, "until", 0), to, sizeof(to));
    report_doc_free(&d);
    if (ctx->json) {
        json_object_begin(&ctx->j);
        json_key(&ctx->j, "valid");
        json_bool(&ctx->j, true);
        json_key(&ctx->j, "report_key");
        json_string(&ctx->j, key_text);
        json_key(&ctx->j, "neighbourhood");
        json_string(&ctx->j, name);
        json_object_end(&ctx->j);
        json_finish(&ctx->j);
    } else {
        printf("Good signature by the report key %s%s.\n", key_text,
               want_key != NULL ? " (the one you expected)"
                                : "; compare it with the key the node's operator gave you");
        printf("Neighbourhood \"%s\", requests posted from %s to %s (UTC).\n", name, from, to);
    }
    return EXIT_OK;
}

/* --since: a date (YYYY-MM-DD, UTC) or a duration back from now (4w). */
static int since_option(const struct ctx *ctx, const char *value, uint64_t *ret)
{
    struct tm tm;
    uint64_t seconds;
    memset(&tm, 0, sizeof(tm));
    if (value == NULL) {
        return EXIT_OK;
    }
    const char *end = strptime(value, "%Y-%m-%d", &tm);
    if (end != NULL && *end == '\0') {
        *ret = (uint64_t)timegm(&tm);
        return EXIT_OK;
    }
    if (parse_duration(value, &seconds) == 0 && seconds <= ctx->now) {
        *ret = ctx->now - seconds;
        return EXIT_OK;
    }
    return fail(EXIT_USAGE, "--since: \"%s\" is neither a date (2026-11-01) nor a duration (4w).",
                value);
}

int cmd_report(struct ctx *ctx, int argc, char **argv)
{
    const char *since = NULL, *by = NULL, *format = NULL, *png = NULL, *out_path = NULL;
    const char *verify_path = NULL, *want_key = NULL;
    const struct opt opts[] = {
        { "since", &since, NULL },  { "by", &by, NULL },        { "format", &format, NULL },
        { "png", &png, NULL },      { "out", &out_path, NULL }, { "verify", &verify_path, NULL },
        { "key", &want_key, NULL }, { NULL, NULL, NULL },
    };
    struct ctl_req req;
    struct ctl_reply reply;
    struct report_doc d;
    const uint8_t *bytes = NULL;
    size_t len = 0;
    uint64_t since_at = 0;
    int rc = parse_args(ctx, argc, argv, opts, NULL, 0, 0, report_usage);
    if (rc != 0) {
        return rc;
    }
    if (verify_path != NULL) {
        return verify(ctx, verify_path, want_key);
    }
    if (by != NULL && nb_report_by_parse(by) < 0) {
        return fail(EXIT_USAGE, "--by: \"%s\" is not category, area or month.", by);
    }
    if (format == NULL) {
        format = ctx->json ? "json" : "text";
    }
    if (strcmp(format, "text") != 0 && strcmp(format, "csv") != 0 && strcmp(format, "json") != 0) {
        return fail(EXIT_USAGE, "--format: \"%s\" is not text, csv or json.", format);
    }
    rc = since_option(ctx, since, &since_at);
    if (rc == EXIT_OK) {
        rc = session_open(ctx, true);
    }
    if (rc != EXIT_OK) {
        return rc;
    }
    ctl_req_begin(&ctx->ctl, &req, NB_CTL_OP_REPORT, 2);
    ctl_req_uint(&req, "since", since_at);
    ctl_req_str(&req, "by", by != NULL ? by : "none");
    rc = call_daemon(ctx, &req, &reply, "the overview");
    if (rc != EXIT_OK) {
        return rc;
    }
    memset(&d, 0, sizeof(d));
    if (ctl_get_bin(reply.result, "report", &bytes, &len) != 0 || doc_decode(bytes, len, &d) != 0) {
        if (d.body != NULL || d.u.zone != NULL) {
            msgpack_unpacked_destroy(&d.u);
        }
        ctl_reply_free(&reply);
        return fail(EXIT_ERROR, "noaberd sent an overview this client cannot read.");
    }
    d.is_signed = ctl_get_bin_exact(reply.result, "key", d.key, NB_KEY_SIZE) == 0 &&
                  ctl_get_bin_exact(reply.result, "signature", d.sig, NB_SIG_SIZE) == 0;
    {
        FILE *out = stdout;
        if (out_path != NULL && (out = fopen(out_path, "w")) == NULL) {
            rc = fail(EXIT_ERROR, "cannot write %s.", out_path);
        } else {
            if (strcmp(format, "json") == 0) {
                render_json(&d, out);
            } else if (strcmp(format, "csv") == 0) {
                render_csv(&d, out);
            } else {
                render_text(&d, out);
            }
            if (out != stdout && fclose(out) != 0) {
                rc = fail(EXIT_ERROR, "cannot write %s.", out_path);
            } else if (out != stdout && ctx->json) {
                json_object_begin(&ctx->j);
                json_key(&ctx->j, "out");
                json_string(&ctx->j, out_path);
                json_key(&ctx->j, "signed");
                json_bool(&ctx->j, d.is_signed);
                json_object_end(&ctx->j);
                json_finish(&ctx->j);
            } else if (out != stdout) {
                printf("Wrote the overview to %s (%s).\n", out_path,
                       d.is_signed ? "signed; check it with `noaber report --verify FILE`"
                                   : "not signed: this node does not share it");
            }
        }
    }
    if (rc == EXIT_OK && png != NULL) {
        rc = render_png(&d, png);
    }
    d.owned = false; /* the bytes belong to the reply */
    report_doc_free(&d);
    ctl_reply_free(&reply);
    return rc;
}
