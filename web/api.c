/*
 * The HTTP API of noaber-web as pure functions (see api.h).
 */
#include "web/api.h"

#include <noaber/error.h>

#include "common/control_proto.h"
#include "proto/mp.h"

#include <errno.h>
#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#define CONTROL_VERSION 1
#define LIST_LIMIT_MAX  500

/* ------------------------------------------------------------------------ */
/* Text buffers and JSON output                                              */

void web_buf_free(struct web_buf *b)
{
    free(b->data);
    b->data = NULL;
    b->len = b->cap = 0;
}

/* Room for `n` more bytes (and the terminating NUL) at the end of `b`; NULL
 * once an allocation failed.  The caller writes there, then adds n to len. */
static char *reserve(struct web_buf *b, size_t n)
{
    if (b->failed) {
        return NULL;
    }
    if (b->len + n + 1 > b->cap) {
        size_t cap = b->cap ? b->cap : 256;
        while (cap < b->len + n + 1) {
            cap *= 2;
        }
        char *p = realloc(b->data, cap);
        if (p == NULL) {
            b->failed = true;
            return NULL;
        }
        b->data = p;
        b->cap = cap;
    }
    return b->data + b->len;
}

static void grow(struct web_buf *b, size_t n)
{
    b->len += n;
    b->data[b->len] = '\0';
}

void web_buf_put(struct web_buf *b, const char *s, size_t n)
{
    char *p = reserve(b, n);

    if (p != NULL) {
        memcpy(p, s, n);
        grow(b, n);
    }
}

void web_buf_puts(struct web_buf *b, const char *s)
{
    web_buf_put(b, s, strlen(s));
}

/* Whether a byte goes into a JSON string as it is. */
static bool json_plain(unsigned char c)
{
    return c >= 0x20 && c != 0x7f && c != '"' && c != '\\';
}

/* Runs of plain bytes are copied at once: a list's texts are mostly plain,
 * and a call per byte was a tenth of noaber-web's time (bench/README.md,
 * "7. The page"). */
void web_json_str(struct web_buf *b, const char *s, size_t n)
{
    static const char hex[] = "0123456789abcdef";
    size_t i = 0;

    web_buf_put(b, "\"", 1);
    while (i < n) {
        size_t run = i;
        while (run < n && json_plain((unsigned char)s[run])) {
            run++;
        }
        web_buf_put(b, s + i, run - i);
        if (run == n) {
            break;
        }
        unsigned char c = (unsigned char)s[run];
        if (c == '"' || c == '\\') {
            char esc[2] = { '\\', (char)c };
            web_buf_put(b, esc, 2);
        } else {
            char esc[6] = { '\\', 'u', '0', '0', hex[c >> 4], hex[c & 15] };
            web_buf_put(b, esc, 6);
        }
        i = run + 1;
    }
    web_buf_put(b, "\"", 1);
}

/*
 * Hex and base64 by table lookup, not with libsodium's sodium_bin2hex and
 * sodium_bin2base64: those take the same time whatever the bytes, which
 * secrets need and a list of public records does not; they were a third of
 * noaber-web's time when it answers `list` (bench/README.md, "7. The page").
 * Nothing secret goes through these two.
 */
void web_json_hex(struct web_buf *b, const uint8_t *p, size_t n)
{
    static const char digits[] = "0123456789abcdef";
    char *out = reserve(b, 2 * n + 2);

    if (out == NULL) {
        return;
    }
    *out++ = '"';
    for (size_t i = 0; i < n; i++) {
        *out++ = digits[p[i] >> 4];
        *out++ = digits[p[i] & 15];
    }
    *out = '"';
    grow(b, 2 * n + 2);
}

void web_json_base64(struct web_buf *b, const uint8_t *p, size_t n)
{
    static const char abc[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    size_t len = 4 * ((n + 2) / 3) + 2;
    char *out = reserve(b, len);
    size_t i = 0;

    if (out == NULL) {
        return;
    }
    *out++ = '"';
    for (; i + 3 <= n; i += 3) {
        uint32_t v = (uint32_t)p[i] << 16 | (uint32_t)p[i + 1] << 8 | p[i + 2];
        *out++ = abc[v >> 18];
        *out++ = abc[(v >> 12) & 63];
        *out++ = abc[(v >> 6) & 63];
        *out++ = abc[v & 63];
    }
    if (i < n) {
        uint32_t v = (uint32_t)p[i] << 16 | (i + 1 < n ? (uint32_t)p[i + 1] << 8 : 0);
        *out++ = abc[v >> 18];
        *out++ = abc[(v >> 12) & 63];
        *out++ = i + 1 < n ? abc[(v >> 6) & 63] : '=';
        *out++ = '=';
    }
    *out = '"';
    grow(b, len);
}

void web_json_error(struct web_buf *b, const struct web_error *err)
{
    web_buf_puts(b, "{\"error\":");
    web_json_str(b, err->code, strlen(err->code));
    web_buf_puts(b, ",\"message\":");
    web_json_str(b, err->message, strlen(err->message));
    web_buf_puts(b, "}");
}

/* ------------------------------------------------------------------------ */
/* JSON input: the API's bodies are one flat object of string values.        */

struct json_field {
    char key[24]; /* the longest key is "device_signature" */
    char *value;  /* NUL-terminated, unescaped, in the caller's scratch */
    size_t len;
};

struct json_object {
    struct json_field f[WEB_JSON_FIELDS];
    size_t n;
    char scratch[WEB_BODY_MAX + 1];
    size_t used;
};

static void skip_ws(const uint8_t *p, size_t len, size_t *i)
{
    while (*i < len && (p[*i] == ' ' || p[*i] == '\t' || p[*i] == '\n' || p[*i] == '\r')) {
        (*i)++;
    }
}

static int hex4(const uint8_t *p, size_t len, size_t i, unsigned *ret)
{
    unsigned v = 0;

    if (len - i < 4) {
        return -1;
    }
    for (size_t k = 0; k < 4; k++) {
        unsigned c = p[i + k], d;
        if (c >= '0' && c <= '9') {
            d = c - '0';
        } else if (c >= 'a' && c <= 'f') {
            d = c - 'a' + 10;
        } else if (c >= 'A' && c <= 'F') {
            d = c - 'A' + 10;
        } else {
            return -1;
        }
        v = v * 16 + d;
    }
    *ret = v;
    return 0;
}

/* Appends the UTF-8 of code point `cp` to the scratch. */
static int put_utf8(struct json_object *o, unsigned cp)
{
    uint8_t u[4];
    size_t n;

    if (cp < 0x80) {
        u[0] = (uint8_t)cp;
        n = 1;
    } else if (cp < 0x800) {
        u[0] = (uint8_t)(0xc0 | (cp >> 6));
        u[1] = (uint8_t)(0x80 | (cp & 0x3f));
        n = 2;
    } else if (cp < 0x10000) {
        u[0] = (uint8_t)(0xe0 | (cp >> 12));
        u[1] = (uint8_t)(0x80 | ((cp >> 6) & 0x3f));
        u[2] = (uint8_t)(0x80 | (cp & 0x3f));
        n = 3;
    } else {
        u[0] = (uint8_t)(0xf0 | (cp >> 18));
        u[1] = (uint8_t)(0x80 | ((cp >> 12) & 0x3f));
        u[2] = (uint8_t)(0x80 | ((cp >> 6) & 0x3f));
        u[3] = (uint8_t)(0x80 | (cp & 0x3f));
        n = 4;
    }
    if (o->used + n >= sizeof(o->scratch)) {
        return -1;
    }
    memcpy(o->scratch + o->used, u, n);
    o->used += n;
    return 0;
}

/* Reads one JSON string at p[*i] (the opening quote) into the scratch. */
static int json_string(const uint8_t *p, size_t len, size_t *i, struct json_object *o, char **ret,
                       size_t *ret_len)
{
    size_t start = o->used;

    if (*i >= len || p[*i] != '"') {
        return -1;
    }
    (*i)++;
    while (*i < len && p[*i] != '"') {
        unsigned c = p[*i];
        if (c < 0x20) {
            return -1;
        }
        if (c != '\\') {
            /* Bytes are copied as they are; the node checks text is UTF-8. */
            if (o->used + 1 >= sizeof(o->scratch)) {
                return -1;
            }
            o->scratch[o->used++] = (char)c;
            (*i)++;
            continue;
        }
        if (++(*i) >= len) {
            return -1;
        }
        c = p[(*i)++];
        switch (c) {
        case '"':
        case '\\':
        case '/':
            break;
        case 'b':
            c = '\b';
            break;
        case 'f':
            c = '\f';
            break;
        case 'n':
            c = '\n';
            break;
        case 'r':
            c = '\r';
            break;
        case 't':
            c = '\t';
            break;
        case 'u': {
            unsigned cp, lo;
            if (hex4(p, len, *i, &cp) != 0) {
                return -1;
            }
            *i += 4;
            if (cp >= 0xd800 && cp <= 0xdbff) {
                /* A high surrogate must be followed by its low half. */
                if (len - *i < 6 || p[*i] != '\\' || p[*i + 1] != 'u' ||
                    hex4(p, len, *i + 2, &lo) != 0 || lo < 0xdc00 || lo > 0xdfff) {
                    return -1;
                }
                *i += 6;
                cp = 0x10000 + ((cp - 0xd800) << 10) + (lo - 0xdc00);
            } else if (cp >= 0xdc00 && cp <= 0xdfff) {
                return -1;
            }
            if (put_utf8(o, cp) != 0) {
                return -1;
            }
            continue;
        }
        default:
            return -1;
        }
        if (put_utf8(o, c) != 0) {
            return -1;
        }
    }
    if (*i >= len || o->used + 1 >= sizeof(o->scratch)) {
        return -1;
    }
    (*i)++;
    o->scratch[o->used++] = '\0';
    *ret = o->scratch + start;
    *ret_len = o->used - 1 - start;
    return 0;
}

/* Parses {"key": "value", ...}: at most WEB_JSON_FIELDS keys, each once. */
static int json_parse(const uint8_t *p, size_t len, struct json_object *o)
{
    size_t i = 0;

    o->n = 0;
    o->used = 0;
    skip_ws(p, len, &i);
    if (i >= len || p[i++] != '{') {
        return -1;
    }
    skip_ws(p, len, &i);
    if (i < len && p[i] == '}') {
        i++;
        goto end;
    }
    for (;;) {
        char *key, *value;
        size_t klen, vlen;

        if (o->n == WEB_JSON_FIELDS) {
            return -1;
        }
        skip_ws(p, len, &i);
        if (json_string(p, len, &i, o, &key, &klen) != 0 || klen == 0 ||
            klen >= sizeof(o->f[0].key)) {
            return -1;
        }
        skip_ws(p, len, &i);
        if (i >= len || p[i++] != ':') {
            return -1;
        }
        skip_ws(p, len, &i);
        if (json_string(p, len, &i, o, &value, &vlen) != 0) {
            return -1;
        }
        for (size_t k = 0; k < o->n; k++) {
            if (strcmp(o->f[k].key, key) == 0) {
                return -1;
            }
        }
        memcpy(o->f[o->n].key, key, klen + 1);
        o->f[o->n].value = value;
        o->f[o->n].len = vlen;
        o->n++;
        skip_ws(p, len, &i);
        if (i < len && p[i] == ',') {
            i++;
            continue;
        }
        if (i < len && p[i] == '}') {
            i++;
            break;
        }
        return -1;
    }
end:
    skip_ws(p, len, &i);
    return i == len ? 0 : -1;
}

static const struct json_field *json_get(const struct json_object *o, const char *key)
{
    for (size_t k = 0; k < o->n; k++) {
        if (strcmp(o->f[k].key, key) == 0) {
            return &o->f[k];
        }
    }
    return NULL;
}

static int json_hex(const struct json_object *o, const char *key, uint8_t *out, size_t want)
{
    const struct json_field *f = json_get(o, key);
    size_t n = 0;

    if (f == NULL || f->len != 2 * want ||
        sodium_hex2bin(out, want, f->value, f->len, NULL, &n, NULL) != 0 || n != want) {
        return -1;
    }
    return 0;
}

static int json_base64(const struct json_object *o, const char *key, uint8_t *out, size_t max,
                       size_t *ret_len)
{
    const struct json_field *f = json_get(o, key);

    if (f == NULL || sodium_base642bin(out, max, f->value, f->len, NULL, ret_len, NULL,
                                       sodium_base64_VARIANT_ORIGINAL) != 0) {
        return -1;
    }
    return 0;
}

/* Printable text of 1..max bytes without control characters. */
static int json_text(const struct json_object *o, const char *key, char *out, size_t max)
{
    const struct json_field *f = json_get(o, key);

    if (f == NULL || f->len == 0 || f->len > max) {
        return -1;
    }
    for (size_t i = 0; i < f->len; i++) {
        unsigned char c = (unsigned char)f->value[i];
        if (c < 0x20 || c == 0x7f) {
            return -1;
        }
    }
    memcpy(out, f->value, f->len + 1);
    return 0;
}

/* ------------------------------------------------------------------------ */
/* Routes and checks                                                        */

enum web_route web_route_of(const char *path)
{
    static const struct {
        const char *path;
        enum web_route route;
    } routes[] = {
        { "/api/info", WEB_ROUTE_INFO },         { "/api/session/challenge", WEB_ROUTE_CHALLENGE },
        { "/api/session", WEB_ROUTE_SESSION },   { "/api/welcome", WEB_ROUTE_WELCOME },
        { "/api/records", WEB_ROUTE_SUBMIT },    { "/api/list", WEB_ROUTE_LIST },
        { "/api/events", WEB_ROUTE_EVENTS },     { "/api/status", WEB_ROUTE_STATUS },
        { "/api/report", WEB_ROUTE_REPORT },     { "/api/qr", WEB_ROUTE_QR },
        { "/api/transfer", WEB_ROUTE_TRANSFER }, { "/api/transfer/take", WEB_ROUTE_TRANSFER_TAKE },
        { "/api/devices", WEB_ROUTE_DEVICES },   { "/api/devices/revoke", WEB_ROUTE_DEVICE_REVOKE },
    };

    if (strncmp(path, "/api/", 5) != 0 && strcmp(path, "/api") != 0) {
        return WEB_ROUTE_NONE;
    }
    for (size_t i = 0; i < sizeof(routes) / sizeof(routes[0]); i++) {
        if (strcmp(path, routes[i].path) == 0) {
            return routes[i].route;
        }
    }
    if (strncmp(path, "/api/records/", 13) == 0) {
        return WEB_ROUTE_GET;
    }
    return WEB_ROUTE_UNKNOWN;
}

static int refuse(struct web_error *err, unsigned status, const char *code, const char *message)
{
    err->status = status;
    err->code = code;
    err->message = message;
    return -1;
}

/* The method each route accepts; SESSION also takes DELETE (sign out). */
static bool method_ok(enum web_route r, const char *method)
{
    bool get = strcmp(method, "GET") == 0, post = strcmp(method, "POST") == 0;

    switch (r) {
    case WEB_ROUTE_INFO:
    case WEB_ROUTE_GET:
    case WEB_ROUTE_LIST:
    case WEB_ROUTE_EVENTS:
    case WEB_ROUTE_STATUS:
    case WEB_ROUTE_REPORT:
    case WEB_ROUTE_QR:
        return get;
    case WEB_ROUTE_SESSION:
        return post || strcmp(method, "DELETE") == 0;
    case WEB_ROUTE_DEVICES:
        return get || post;
    default:
        return post;
    }
}

/*
 * A state-changing request must come from this page.  Browsers say where a
 * request comes from in Sec-Fetch-Site, which no page can set: when it is
 * there, it decides (a reverse proxy may rewrite Host, so Origin cannot be
 * compared then).  Browsers that do not send it (plain HTTP on a LAN
 * address) send Origin, which must be this server's scheme and Host.  A
 * request with neither is not from a browser that protects its user, and is
 * refused too.
 */
static bool same_origin(const struct web_input *in)
{
    const char *rest;

    if (in->sec_fetch_site != NULL) {
        return strcmp(in->sec_fetch_site, "same-origin") == 0;
    }
    if (in->origin == NULL || in->host == NULL) {
        return false;
    }
    if (strncmp(in->origin, "http://", 7) == 0) {
        rest = in->origin + 7;
    } else if (strncmp(in->origin, "https://", 8) == 0) {
        rest = in->origin + 8;
    } else {
        return false;
    }
    return strcasecmp(rest, in->host) == 0;
}

static bool is_json(const char *content_type)
{
    size_t n = strlen("application/json");

    return content_type != NULL && strncasecmp(content_type, "application/json", n) == 0 &&
           (content_type[n] == '\0' || content_type[n] == ';' || content_type[n] == ' ');
}

/* ------------------------------------------------------------------------ */
/* Control requests                                                         */

static void pack_str(msgpack_packer *pk, const char *s)
{
    size_t n = strlen(s);
    msgpack_pack_str(pk, n);
    msgpack_pack_str_body(pk, s, n);
}

static void begin(msgpack_packer *pk, uint64_t id, const char *op, size_t nargs)
{
    msgpack_pack_map(pk, 3 + nargs);
    pack_str(pk, "v");
    msgpack_pack_uint64(pk, CONTROL_VERSION);
    pack_str(pk, "id");
    msgpack_pack_uint64(pk, id);
    pack_str(pk, "op");
    pack_str(pk, op);
}

static void arg_str(msgpack_packer *pk, const char *key, const char *value)
{
    pack_str(pk, key);
    pack_str(pk, value);
}

static void arg_bin(msgpack_packer *pk, const char *key, const uint8_t *p, size_t n)
{
    pack_str(pk, key);
    msgpack_pack_bin(pk, n);
    msgpack_pack_bin_body(pk, p, n);
}

/* A word of letters, digits and '_': the kind, status and category names. */
static bool is_word(const char *s, size_t max)
{
    size_t n = strlen(s);

    if (n == 0 || n > max) {
        return false;
    }
    for (size_t i = 0; i < n; i++) {
        char c = s[i];
        if (!((c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '_')) {
            return false;
        }
    }
    return true;
}

/* A number of decimal digits only, at most `max`: 0, or -1 for a sign,
 * junk after the digits or an overflow. */
static int number_of(const char *s, uint64_t max, uint64_t *ret)
{
    char *end = NULL;

    if (s[0] < '0' || s[0] > '9') {
        return -1;
    }
    errno = 0;
    unsigned long long v = strtoull(s, &end, 10);
    if (*end != '\0' || errno != 0 || v > max) {
        return -1;
    }
    *ret = v;
    return 0;
}

static int plan_list(const struct web_input *in, msgpack_packer *pk, uint64_t id,
                     struct web_error *err)
{
    uint8_t author[NB_KEY_SIZE];
    uint64_t limit = 50;
    size_t nargs = 1, n = 0;
    const char *words[3] = { in->q_kind, in->q_status, in->q_category };

    for (size_t i = 0; i < 3; i++) {
        if (words[i] != NULL) {
            if (!is_word(words[i], 32)) {
                return refuse(err, 400, "bad_request",
                              "kind, status and category are names like request or open.");
            }
            nargs++;
        }
    }
    if (in->q_area != NULL) {
        if (in->q_area[0] == '\0' || strlen(in->q_area) > NB_AREA_MAX) {
            return refuse(err, 400, "bad_request", "area is 1 to 64 bytes of text.");
        }
        nargs++;
    }
    if (in->q_author != NULL) {
        if (strlen(in->q_author) != 2 * NB_KEY_SIZE ||
            sodium_hex2bin(author, sizeof(author), in->q_author, strlen(in->q_author), NULL, &n,
                           NULL) != 0 ||
            n != sizeof(author)) {
            return refuse(err, 400, "bad_request", "author is a member key in 64 hex digits.");
        }
        nargs++;
    }
    if (in->q_limit != NULL && (number_of(in->q_limit, LIST_LIMIT_MAX, &limit) != 0 || limit < 1)) {
        return refuse(err, 400, "bad_request", "limit is a number from 1 to 500.");
    }
    begin(pk, id, NB_CTL_OP_LIST, nargs);
    pack_str(pk, "limit");
    msgpack_pack_uint64(pk, limit);
    if (in->q_kind != NULL) {
        arg_str(pk, "kind", in->q_kind);
    }
    if (in->q_status != NULL) {
        arg_str(pk, "status", in->q_status);
    }
    if (in->q_category != NULL) {
        arg_str(pk, "category", in->q_category);
    }
    if (in->q_area != NULL) {
        arg_str(pk, "area", in->q_area);
    }
    if (in->q_author != NULL) {
        arg_bin(pk, "author", author, sizeof(author));
    }
    return 0;
}

/* The overview (op `report`), by none, category, area or month, since a
 * time in seconds; the node checks the words and says whether it shares. */
static int plan_report(const struct web_input *in, msgpack_packer *pk, uint64_t id,
                       struct web_error *err)
{
    uint64_t since = 0;
    size_t nargs = 0;

    if (in->q_by != NULL) {
        if (!is_word(in->q_by, 16)) {
            return refuse(err, 400, "bad_request", "by is none, category, area or month.");
        }
        nargs++;
    }
    if (in->q_since != NULL) {
        if (number_of(in->q_since, UINT64_MAX, &since) != 0) {
            return refuse(err, 400, "bad_request", "since is a time in seconds since 1970.");
        }
        nargs++;
    }
    begin(pk, id, NB_CTL_OP_REPORT, nargs);
    if (in->q_by != NULL) {
        arg_str(pk, "by", in->q_by);
    }
    if (in->q_since != NULL) {
        pack_str(pk, "since");
        msgpack_pack_uint64(pk, since);
    }
    return 0;
}

/*
 * The address GET /api/qr draws: an http or https address of printable
 * ASCII, as the page sends its own (location's origin and path).  The code
 * holds only what the signed-in member already sees in their address bar;
 * the session keeps noaber-web from drawing codes for the whole internet.
 */
static int plan_qr(const struct web_input *in, struct web_plan *plan, struct web_error *err)
{
    const char *u = in->q_url;
    size_t n = u != NULL ? strlen(u) : 0;

    if (n == 0 || n > WEB_QR_URL_MAX ||
        (strncmp(u, "https://", 8) != 0 && strncmp(u, "http://", 7) != 0)) {
        return refuse(err, 400, "bad_request",
                      "url is the page's http or https address, at most 256 bytes.");
    }
    for (size_t i = 0; i < n; i++) {
        if (u[i] <= ' ' || u[i] > '~') {
            return refuse(err, 400, "bad_request",
                          "url is the page's http or https address, at most 256 bytes.");
        }
    }
    plan->action = WEB_DO_QR;
    plan->qr_url = u;
    return 0;
}

static int plan_get(const struct web_input *in, msgpack_packer *pk, uint64_t id,
                    struct web_error *err)
{
    const char *hex = in->path + strlen("/api/records/");
    size_t n = strlen(hex);

    if (n < 4 || n > 64) {
        return refuse(err, 400, "bad_request", "a record id is 4 to 64 hex digits.");
    }
    for (size_t i = 0; i < n; i++) {
        char c = hex[i];
        if (!((c >= '0' && c <= '9') || (c >= 'a' && c <= 'f'))) {
            return refuse(err, 400, "bad_request", "a record id is 4 to 64 hex digits.");
        }
    }
    begin(pk, id, NB_CTL_OP_GET, 1);
    arg_str(pk, "prefix", hex);
    return 0;
}

static int plan_submit(const struct web_input *in, const struct json_object *o, msgpack_packer *pk,
                       uint64_t id, struct web_error *err)
{
    uint8_t rec[NB_RECORD_MAX];
    struct nb_record r;
    size_t n = 0;

    if (json_base64(o, "record", rec, sizeof(rec), &n) != 0) {
        return refuse(err, 400, "bad_request",
                      "the body is {\"record\": the signed record in base64, at most 8192 bytes}.");
    }
    if (nb_record_decode(rec, n, &r) != 0) {
        return refuse(err, 422, "invalid_record", "this is not a record.");
    }
    if (sodium_memcmp(r.author, in->member, NB_KEY_SIZE) != 0) {
        return refuse(err, 403, "not_your_record",
                      "a record can only be sent by the member who signed it.");
    }
    begin(pk, id, NB_CTL_OP_SUBMIT, 1);
    arg_bin(pk, "record", rec, n);
    return 0;
}

/* An optional "device" label: 0 (absent: ""), or -1 when it is not 1 to 64 bytes. */
static int json_device(const struct json_object *o, char device[WEB_DEVICE_MAX + 1])
{
    device[0] = '\0';
    return json_get(o, "device") != NULL && json_text(o, "device", device, WEB_DEVICE_MAX) != 0 ? -1
                                                                                                : 0;
}

/* An optional "device_key" (64 hex digits): 0 (has is false when absent) or -1. */
static int json_device_key(const struct json_object *o, uint8_t key[NB_KEY_SIZE], bool *has)
{
    *has = json_get(o, "device_key") != NULL;
    return *has && json_hex(o, "device_key", key, NB_KEY_SIZE) != 0 ? -1 : 0;
}

/* The device key and label of a request that admits a device, packed. */
static void arg_device(msgpack_packer *pk, const struct web_sign_in *s)
{
    if (s->has_device_key) {
        arg_bin(pk, "device_key", s->device_key, NB_KEY_SIZE);
    }
    if (s->device[0]) {
        arg_str(pk, "device", s->device);
    }
}

/* The session's member and, when it has one, its device key as `by`: the
 * arguments of the ops a member's device makes about the member's devices. */
static void arg_member_by(msgpack_packer *pk, const struct web_input *in)
{
    arg_bin(pk, "member", in->member, NB_KEY_SIZE);
    if (in->has_device_key) {
        arg_bin(pk, "by", in->device_key, NB_KEY_SIZE);
    }
}

static int plan_welcome(const struct json_object *o, msgpack_packer *pk, uint64_t id,
                        struct web_plan *plan, struct web_error *err)
{
    struct web_sign_in *s = &plan->sign_in;

    if (json_text(o, "token", s->token, WEB_TOKEN_MAX) != 0 ||
        json_hex(o, "member", s->member, sizeof(s->member)) != 0 ||
        json_device_key(o, s->device_key, &s->has_device_key) != 0) {
        return refuse(err, 400, "bad_request",
                      "the body is {\"token\", \"member\" and \"device_key\" (64 hex digits), "
                      "\"device\"}.");
    }
    if (json_device(o, s->device) != 0) {
        return refuse(err, 400, "bad_request", "device is 1 to 64 bytes of text.");
    }
    begin(pk, id, NB_CTL_OP_WELCOME_REDEEM, 2 + s->has_device_key + (s->device[0] != '\0'));
    arg_str(pk, "token", s->token);
    arg_bin(pk, "member", s->member, sizeof(s->member));
    arg_device(pk, s);
    return 0;
}

/* POST /api/transfer {sealed (base64), expires?}: device.transfer.put for
 * the session's member and device. */
static int plan_transfer(const struct web_input *in, const struct json_object *o,
                         msgpack_packer *pk, uint64_t id, struct web_error *err)
{
    uint8_t sealed[WEB_SEALED_MAX];
    char expires[8] = "";
    unsigned long seconds = 0;
    size_t n = 0;

    if (json_base64(o, "sealed", sealed, sizeof(sealed), &n) != 0 || n == 0) {
        return refuse(err, 400, "bad_request",
                      "the body is {\"sealed\": the ciphertext in base64, at most 256 bytes}.");
    }
    if (json_get(o, "expires") != NULL) {
        char *end = NULL;
        if (json_text(o, "expires", expires, sizeof(expires) - 1) != 0 || expires[0] < '1' ||
            expires[0] > '9' || (seconds = strtoul(expires, &end, 10)) > 600 || *end != '\0') {
            return refuse(err, 400, "bad_request", "expires is a number of seconds, 1 to 600.");
        }
    }
    begin(pk, id, NB_CTL_OP_TRANSFER_PUT, 2 + in->has_device_key + (seconds > 0));
    arg_member_by(pk, in);
    arg_bin(pk, "sealed", sealed, n);
    if (seconds > 0) {
        pack_str(pk, "expires");
        msgpack_pack_uint64(pk, seconds);
    }
    return 0;
}

/* POST /api/transfer/take {token, device_key, device?}: device.transfer.take. */
static int plan_transfer_take(const struct json_object *o, msgpack_packer *pk, uint64_t id,
                              struct web_plan *plan, struct web_error *err)
{
    struct web_sign_in *s = &plan->sign_in;

    if (json_text(o, "token", s->token, WEB_TOKEN_MAX) != 0 ||
        json_device_key(o, s->device_key, &s->has_device_key) != 0 || !s->has_device_key ||
        json_device(o, s->device) != 0) {
        return refuse(err, 400, "bad_request",
                      "the body is {\"token\", \"device_key\" (64 hex digits), \"device\"}.");
    }
    begin(pk, id, NB_CTL_OP_TRANSFER_TAKE, 2 + (s->device[0] != '\0'));
    arg_str(pk, "token", s->token);
    arg_device(pk, s);
    return 0;
}

/* POST /api/devices {device_key, device?}: device.add, the session's device
 * admitting another of the member's (a recovery card, docs/web.md). */
static int plan_device_add(const struct web_input *in, const struct json_object *o,
                           msgpack_packer *pk, uint64_t id, struct web_plan *plan,
                           struct web_error *err)
{
    struct web_sign_in *s = &plan->sign_in;

    if (json_device_key(o, s->device_key, &s->has_device_key) != 0 || !s->has_device_key ||
        json_device(o, s->device) != 0) {
        return refuse(err, 400, "bad_request",
                      "the body is {\"device_key\" (64 hex digits), \"device\"}.");
    }
    begin(pk, id, NB_CTL_OP_DEVICE_ADD, 2 + in->has_device_key + (s->device[0] != '\0'));
    arg_member_by(pk, in);
    arg_device(pk, s);
    return 0;
}

/* GET /api/devices: devices.own, the session member's devices as the
 * session's device sees them. */
static void plan_devices_own(const struct web_input *in, msgpack_packer *pk, uint64_t id)
{
    begin(pk, id, NB_CTL_OP_DEVICES_OWN, 1 + in->has_device_key);
    arg_member_by(pk, in);
}

/* POST /api/devices/revoke {device_id, signature}: device.revoke.own.  The
 * member's signature over the device's number is checked by the node. */
static int plan_device_revoke(const struct web_input *in, const struct json_object *o,
                              msgpack_packer *pk, uint64_t id, struct web_error *err)
{
    char text[21];
    uint8_t signature[64];
    uint64_t device_id = 0;
    size_t n = 0;

    if (json_text(o, "device_id", text, sizeof(text) - 1) != 0 ||
        number_of(text, INT64_MAX, &device_id) != 0 || device_id == 0 ||
        json_base64(o, "signature", signature, sizeof(signature), &n) != 0 ||
        n != sizeof(signature)) {
        return refuse(err, 400, "bad_request",
                      "the body is {\"device_id\" (a number, as text), \"signature\" (base64)}.");
    }
    begin(pk, id, NB_CTL_OP_DEVICE_REVOKE_OWN, 3 + in->has_device_key);
    arg_member_by(pk, in);
    pack_str(pk, "device_id");
    msgpack_pack_uint64(pk, device_id);
    arg_bin(pk, "signature", signature, sizeof(signature));
    return 0;
}

static int plan_sign_in(const struct json_object *o, struct web_plan *plan, struct web_error *err)
{
    struct web_sign_in *s = &plan->sign_in;
    size_t n = 0;

    if (json_hex(o, "member", s->member, sizeof(s->member)) != 0 ||
        json_base64(o, "challenge", s->challenge, sizeof(s->challenge), &n) != 0 ||
        n != sizeof(s->challenge) ||
        json_base64(o, "signature", s->signature, sizeof(s->signature), &n) != 0 ||
        n != sizeof(s->signature) || json_device_key(o, s->device_key, &s->has_device_key) != 0 ||
        (s->has_device_key && (json_base64(o, "device_signature", s->device_signature,
                                           sizeof(s->device_signature), &n) != 0 ||
                               n != sizeof(s->device_signature)))) {
        return refuse(err, 400, "bad_request",
                      "the body is {\"member\" and \"device_key\" (64 hex digits), \"challenge\", "
                      "\"signature\" and \"device_signature\" (base64)}.");
    }
    return 0;
}

static bool needs_session(enum web_route r)
{
    return r == WEB_ROUTE_SUBMIT || r == WEB_ROUTE_GET || r == WEB_ROUTE_LIST ||
           r == WEB_ROUTE_EVENTS || r == WEB_ROUTE_STATUS || r == WEB_ROUTE_REPORT ||
           r == WEB_ROUTE_QR || r == WEB_ROUTE_TRANSFER || r == WEB_ROUTE_DEVICES ||
           r == WEB_ROUTE_DEVICE_REVOKE;
}

int web_api_plan(const struct web_input *in, uint64_t id, msgpack_sbuffer *req,
                 struct web_plan *ret_plan, struct web_error *err)
{
    /* The parsed body holds a copy of the whole body: on the heap, not on
     * the stack of a fuzzer or of the loop. */
    struct json_object *o = NULL;
    struct web_plan plan;
    msgpack_packer pk;
    bool changes = strcmp(in->method, "GET") != 0 && strcmp(in->method, "HEAD") != 0;
    int r = -1;

    memset(&plan, 0, sizeof(plan));
    plan.route = web_route_of(in->path);
    plan.action = WEB_DO_CONTROL;
    msgpack_packer_init(&pk, req, msgpack_sbuffer_write);

    if (plan.route == WEB_ROUTE_NONE || plan.route == WEB_ROUTE_UNKNOWN) {
        return refuse(err, 404, "not_found", "there is no such page.");
    }
    if (!method_ok(plan.route, in->method)) {
        return refuse(err, 405, "method", "this address does not take that method.");
    }
    if (changes) {
        if (!same_origin(in)) {
            return refuse(err, 403, "cross_origin",
                          "only this page may change anything (Origin or Sec-Fetch-Site).");
        }
        /* Signing out (DELETE) has no body; everything else sends JSON. */
        if (strcmp(in->method, "DELETE") != 0 && !is_json(in->content_type)) {
            return refuse(err, 415, "content_type", "the body must be application/json.");
        }
        if (in->body_too_big || in->body_len > WEB_BODY_MAX) {
            return refuse(err, 413, "too_big", "the body is larger than 16384 bytes.");
        }
    }
    if (needs_session(plan.route) && !in->has_session) {
        return refuse(err, 401, "no_session", "sign in first: this page has no session.");
    }
    if (changes && !(plan.route == WEB_ROUTE_SESSION && strcmp(in->method, "DELETE") == 0)) {
        o = malloc(sizeof(*o));
        if (o == NULL) {
            return refuse(err, 503, "busy", "the server is out of memory.");
        }
        if (json_parse(in->body, in->body_len, o) != 0) {
            refuse(err, 400, "bad_json", "the body is not a JSON object of strings.");
            goto out;
        }
    }

    switch (plan.route) {
    case WEB_ROUTE_INFO:
        begin(&pk, id, NB_CTL_OP_HELLO, 0);
        break;
    case WEB_ROUTE_STATUS:
        begin(&pk, id, NB_CTL_OP_STATUS, 0);
        break;
    case WEB_ROUTE_CHALLENGE:
        plan.action = WEB_DO_CHALLENGE;
        break;
    case WEB_ROUTE_SESSION:
        if (strcmp(in->method, "DELETE") == 0) {
            plan.action = WEB_DO_SIGN_OUT;
            break;
        }
        plan.action = WEB_DO_SIGN_IN;
        if (plan_sign_in(o, &plan, err) != 0) {
            goto out;
        }
        /* The node's hello gives the neighbourhood the challenge is signed for. */
        begin(&pk, id, NB_CTL_OP_HELLO, 0);
        break;
    case WEB_ROUTE_WELCOME:
        if (plan_welcome(o, &pk, id, &plan, err) != 0) {
            goto out;
        }
        break;
    case WEB_ROUTE_SUBMIT:
        if (plan_submit(in, o, &pk, id, err) != 0) {
            goto out;
        }
        break;
    case WEB_ROUTE_TRANSFER:
        if (plan_transfer(in, o, &pk, id, err) != 0) {
            goto out;
        }
        break;
    case WEB_ROUTE_TRANSFER_TAKE:
        if (plan_transfer_take(o, &pk, id, &plan, err) != 0) {
            goto out;
        }
        break;
    case WEB_ROUTE_DEVICES:
        if (!changes) {
            plan_devices_own(in, &pk, id);
        } else if (plan_device_add(in, o, &pk, id, &plan, err) != 0) {
            goto out;
        }
        break;
    case WEB_ROUTE_DEVICE_REVOKE:
        if (plan_device_revoke(in, o, &pk, id, err) != 0) {
            goto out;
        }
        break;
    case WEB_ROUTE_GET:
        if (plan_get(in, &pk, id, err) != 0) {
            goto out;
        }
        break;
    case WEB_ROUTE_LIST:
        if (plan_list(in, &pk, id, err) != 0) {
            goto out;
        }
        break;
    case WEB_ROUTE_EVENTS:
        plan.action = WEB_DO_EVENTS;
        begin(&pk, id, NB_CTL_OP_WATCH, 0);
        break;
    case WEB_ROUTE_REPORT:
        if (plan_report(in, &pk, id, err) != 0) {
            goto out;
        }
        break;
    case WEB_ROUTE_QR:
        if (plan_qr(in, &plan, err) != 0) {
            goto out;
        }
        break;
    default:
        refuse(err, 404, "not_found", "there is no such page.");
        goto out;
    }
    *ret_plan = plan;
    r = 0;
out:
    if (o != NULL) {
        sodium_memzero(o, sizeof(*o));
        free(o);
    }
    return r;
}

/* ------------------------------------------------------------------------ */
/* Control replies to JSON                                                  */

unsigned web_status_of_control_error(const char *code, size_t len)
{
    static const struct {
        const char *code;
        unsigned status;
    } map[] = {
        { "bad_request", 400 }, { "invalid_record", 422 }, { "refused", 409 },
        { "not_found", 404 },   { "ambiguous", 409 },      { "gone", 410 },
        { "unknown_op", 501 },  { "forbidden", 403 },
    };

    for (size_t i = 0; i < sizeof(map) / sizeof(map[0]); i++) {
        if (strlen(map[i].code) == len && memcmp(map[i].code, code, len) == 0) {
            return map[i].status;
        }
    }
    return 502;
}

static bool key_is(const msgpack_object *k, const char *s)
{
    return k->type == MSGPACK_OBJECT_STR && k->via.str.size == strlen(s) &&
           memcmp(k->via.str.ptr, s, k->via.str.size) == 0;
}

/* Any msgpack value as JSON; bin under the key "record" as base64, other
 * bin (ids, member keys) as hex.  Depth is bounded by nb_mp_decode. */
static void to_json(struct web_buf *b, const msgpack_object *o, bool record)
{
    char num[32];

    switch (o->type) {
    case MSGPACK_OBJECT_NIL:
        web_buf_puts(b, "null");
        break;
    case MSGPACK_OBJECT_BOOLEAN:
        web_buf_puts(b, o->via.boolean ? "true" : "false");
        break;
    case MSGPACK_OBJECT_POSITIVE_INTEGER:
        snprintf(num, sizeof(num), "%llu", (unsigned long long)o->via.u64);
        web_buf_puts(b, num);
        break;
    case MSGPACK_OBJECT_NEGATIVE_INTEGER:
        snprintf(num, sizeof(num), "%lld", (long long)o->via.i64);
        web_buf_puts(b, num);
        break;
    case MSGPACK_OBJECT_STR:
        web_json_str(b, o->via.str.ptr, o->via.str.size);
        break;
    case MSGPACK_OBJECT_BIN:
        if (record) {
            web_json_base64(b, (const uint8_t *)o->via.bin.ptr, o->via.bin.size);
        } else {
            web_json_hex(b, (const uint8_t *)o->via.bin.ptr, o->via.bin.size);
        }
        break;
    case MSGPACK_OBJECT_ARRAY:
        web_buf_puts(b, "[");
        for (uint32_t i = 0; i < o->via.array.size; i++) {
            if (i > 0) {
                web_buf_puts(b, ",");
            }
            /* The timeline is a list of records. */
            to_json(b, &o->via.array.ptr[i], record);
        }
        web_buf_puts(b, "]");
        break;
    case MSGPACK_OBJECT_MAP: {
        bool first = true;
        web_buf_puts(b, "{");
        for (uint32_t i = 0; i < o->via.map.size; i++) {
            const msgpack_object *k = &o->via.map.ptr[i].key;
            if (k->type != MSGPACK_OBJECT_STR) {
                continue; /* JSON keys are text; the control API's are too. */
            }
            if (!first) {
                web_buf_puts(b, ",");
            }
            first = false;
            web_json_str(b, k->via.str.ptr, k->via.str.size);
            web_buf_puts(b, ":");
            to_json(b, &o->via.map.ptr[i].val, key_is(k, "record") || key_is(k, "timeline"));
        }
        web_buf_puts(b, "}");
        break;
    }
    default:
        /* Floats and extensions are not in the control API. */
        web_buf_puts(b, "null");
        break;
    }
}

static const msgpack_object *map_get(const msgpack_object *map, const char *key)
{
    if (map->type != MSGPACK_OBJECT_MAP) {
        return NULL;
    }
    for (uint32_t i = 0; i < map->via.map.size; i++) {
        if (key_is(&map->via.map.ptr[i].key, key)) {
            return &map->via.map.ptr[i].val;
        }
    }
    return NULL;
}

/*
 * The overview as the page reads it: the signed body (a msgpack map inside
 * the reply's `report` bin) as JSON, with `signed` and, when signed, the
 * report key and signature in hex.  The numbers are the node's: suppressed
 * cells stay null.  0, or -1 (nothing written) when it is not a report.
 */
static int report_json(const msgpack_object *res, struct web_buf *out)
{
    const msgpack_object *body = res != NULL ? map_get(res, "report") : NULL;
    const msgpack_object *key = res != NULL ? map_get(res, "key") : NULL;
    const msgpack_object *sig = res != NULL ? map_get(res, "signature") : NULL;
    struct nb_mp_doc inner;

    if (body == NULL || body->type != MSGPACK_OBJECT_BIN ||
        nb_mp_decode((const uint8_t *)body->via.bin.ptr, body->via.bin.size, WEB_REPLY_MAX,
                     WEB_CONTROL_DEPTH, &inner) != 0) {
        return -1;
    }
    if (inner.unpacked.data.type != MSGPACK_OBJECT_MAP) {
        nb_mp_doc_free(&inner);
        return -1;
    }
    web_buf_puts(out, "{\"report\":");
    to_json(out, &inner.unpacked.data, false);
    nb_mp_doc_free(&inner);
    if (key != NULL && sig != NULL && key->type == MSGPACK_OBJECT_BIN &&
        sig->type == MSGPACK_OBJECT_BIN) {
        web_buf_puts(out, ",\"signed\":true,\"key\":");
        web_json_hex(out, (const uint8_t *)key->via.bin.ptr, key->via.bin.size);
        web_buf_puts(out, ",\"signature\":");
        web_json_hex(out, (const uint8_t *)sig->via.bin.ptr, sig->via.bin.size);
    } else {
        web_buf_puts(out, ",\"signed\":false");
    }
    web_buf_puts(out, "}");
    return 0;
}

int web_api_reply(enum web_route route, const uint8_t *frame, size_t len, struct web_buf *out,
                  unsigned *ret_status)
{
    static const struct web_error bad = { 502, "node",
                                          "the node sent a reply this page cannot read." };
    struct nb_mp_doc doc;
    const msgpack_object *ok, *res;
    int r = -1;

    if (nb_mp_decode(frame, len, WEB_REPLY_MAX, WEB_CONTROL_DEPTH, &doc) != 0) {
        web_json_error(out, &bad);
        *ret_status = bad.status;
        return -1;
    }
    ok = map_get(&doc.unpacked.data, "ok");
    if (ok == NULL || ok->type != MSGPACK_OBJECT_BOOLEAN) {
        web_json_error(out, &bad);
        *ret_status = bad.status;
        goto out;
    }
    if (!ok->via.boolean) {
        const msgpack_object *code = map_get(&doc.unpacked.data, "error");
        const msgpack_object *msg = map_get(&doc.unpacked.data, "message");
        web_buf_puts(out, "{\"error\":");
        if (code != NULL && code->type == MSGPACK_OBJECT_STR) {
            web_json_str(out, code->via.str.ptr, code->via.str.size);
            *ret_status = web_status_of_control_error(code->via.str.ptr, code->via.str.size);
        } else {
            web_buf_puts(out, "\"node\"");
            *ret_status = 502;
        }
        web_buf_puts(out, ",\"message\":");
        if (msg != NULL && msg->type == MSGPACK_OBJECT_STR) {
            web_json_str(out, msg->via.str.ptr, msg->via.str.size);
        } else {
            web_buf_puts(out, "\"\"");
        }
        web_buf_puts(out, "}");
        r = 0;
        goto out;
    }
    res = map_get(&doc.unpacked.data, "result");
    if (route == WEB_ROUTE_REPORT) {
        r = report_json(res, out);
        *ret_status = r == 0 ? 200 : bad.status;
        if (r != 0) {
            web_json_error(out, &bad);
        }
        goto out;
    }
    if (res == NULL) {
        web_buf_puts(out, "{}");
    } else {
        to_json(out, res, false);
    }
    *ret_status = 200;
    r = 0;
out:
    nb_mp_doc_free(&doc);
    return r;
}

int web_api_event(const uint8_t *frame, size_t len, struct web_buf *out)
{
    struct nb_mp_doc doc;
    const msgpack_object *ev;
    int r = -1;

    if (nb_mp_decode(frame, len, WEB_REPLY_MAX, WEB_CONTROL_DEPTH, &doc) != 0) {
        return -1;
    }
    ev = map_get(&doc.unpacked.data, "event");
    if (ev != NULL && ev->type == MSGPACK_OBJECT_STR) {
        web_buf_puts(out, "data: ");
        to_json(out, &doc.unpacked.data, false);
        web_buf_puts(out, "\n\n");
        r = 0;
    }
    nb_mp_doc_free(&doc);
    return r;
}

void web_api_pack_op(msgpack_sbuffer *req, uint64_t id, const char *op,
                     const uint8_t member[NB_KEY_SIZE])
{
    msgpack_packer pk;

    msgpack_packer_init(&pk, req, msgpack_sbuffer_write);
    begin(&pk, id, op, member != NULL ? 1 : 0);
    if (member != NULL) {
        arg_bin(&pk, "member", member, NB_KEY_SIZE);
    }
}

void web_api_pack_check(msgpack_sbuffer *req, uint64_t id, const uint8_t member[NB_KEY_SIZE],
                        const uint8_t *device_key)
{
    msgpack_packer pk;

    msgpack_packer_init(&pk, req, msgpack_sbuffer_write);
    begin(&pk, id, NB_CTL_OP_WELCOME_CHECK, device_key != NULL ? 2 : 1);
    arg_bin(&pk, "member", member, NB_KEY_SIZE);
    if (device_key != NULL) {
        arg_bin(&pk, "device_key", device_key, NB_KEY_SIZE);
    }
}

/* Decodes a reply into `doc` and returns the value of `key` in its result
 * map; NULL (and `doc` freed) when the frame is not an ok reply with it. */
static const msgpack_object *result_field(const uint8_t *frame, size_t len, const char *key,
                                          struct nb_mp_doc *doc)
{
    const msgpack_object *ok, *res, *v = NULL;

    if (nb_mp_decode(frame, len, WEB_REPLY_MAX, WEB_CONTROL_DEPTH, doc) != 0) {
        return NULL;
    }
    ok = map_get(&doc->unpacked.data, "ok");
    res = map_get(&doc->unpacked.data, "result");
    if (ok != NULL && ok->type == MSGPACK_OBJECT_BOOLEAN && ok->via.boolean && res != NULL) {
        v = map_get(res, key);
    }
    if (v == NULL) {
        nb_mp_doc_free(doc);
    }
    return v;
}

int web_api_hello_neighbourhood(const uint8_t *frame, size_t len, uint8_t ret_id[NB_ID_SIZE])
{
    struct nb_mp_doc doc;
    const msgpack_object *nid = result_field(frame, len, "neighbourhood_id", &doc);
    int r = -1;

    if (nid == NULL) {
        return -1;
    }
    if (nid->type == MSGPACK_OBJECT_BIN && nid->via.bin.size == NB_ID_SIZE) {
        memcpy(ret_id, nid->via.bin.ptr, NB_ID_SIZE);
        r = 0;
    }
    nb_mp_doc_free(&doc);
    return r;
}

int web_api_admitted(const uint8_t *frame, size_t len)
{
    struct nb_mp_doc doc;
    const msgpack_object *adm = result_field(frame, len, "admitted", &doc);
    int r = -1;

    if (adm == NULL) {
        return -1;
    }
    if (adm->type == MSGPACK_OBJECT_BOOLEAN) {
        r = adm->via.boolean ? 1 : 0;
    }
    nb_mp_doc_free(&doc);
    return r;
}
