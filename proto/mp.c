/*
 * Bounded msgpack decoding: see mp.h for the rules and the reasons.
 */
#include "proto/mp.h"

#include <string.h>

#include <noaber/error.h>

static uint64_t load_be(const uint8_t *p, size_t n)
{
    uint64_t v = 0;
    for (size_t i = 0; i < n; i++) {
        v = (v << 8) | p[i];
    }
    return v;
}

/*
 * Describes the object whose first byte is at buf[0]: how many header bytes
 * follow the type byte (`size_bytes` of them hold a big-endian length, the
 * rest are fixed), how long a fixed payload is, and whether the length counts
 * payload bytes or child objects.
 */
struct head {
    size_t fixed;      /* bytes after the type byte that are not a length */
    size_t size_bytes; /* width of a big-endian length field, 0 if none */
    size_t inline_len; /* length given in the type byte itself */
    unsigned children; /* 0: length counts bytes; 1: array elements; 2: map pairs */
    bool has_len;      /* the object has a length (payload or child count) */
};

static int classify(uint8_t t, struct head *h)
{
    memset(h, 0, sizeof(*h));
    if (t <= 0x7f || t >= 0xe0) { /* positive / negative fixint */
        return 0;
    }
    if (t <= 0x8f) { /* fixmap */
        h->inline_len = t & 0x0f;
        h->children = 2;
        h->has_len = true;
        return 0;
    }
    if (t <= 0x9f) { /* fixarray */
        h->inline_len = t & 0x0f;
        h->children = 1;
        h->has_len = true;
        return 0;
    }
    if (t <= 0xbf) { /* fixstr */
        h->inline_len = t & 0x1f;
        h->has_len = true;
        return 0;
    }
    switch (t) {
    case 0xc0: /* nil */
    case 0xc2: /* false */
    case 0xc3: /* true */
        return 0;
    case 0xc4: /* bin 8/16/32 */
    case 0xd9: /* str 8/16/32 */
        h->size_bytes = 1;
        h->has_len = true;
        return 0;
    case 0xc5:
    case 0xda:
        h->size_bytes = 2;
        h->has_len = true;
        return 0;
    case 0xc6:
    case 0xdb:
        h->size_bytes = 4;
        h->has_len = true;
        return 0;
    case 0xc7: /* ext 8/16/32: length, then a type byte, then the payload */
    case 0xc8:
    case 0xc9:
        h->size_bytes = (size_t)1 << (t - 0xc7);
        h->fixed = 1;
        h->has_len = true;
        return 0;
    case 0xca: /* float 32 */
        h->fixed = 4;
        return 0;
    case 0xcb: /* float 64 */
        h->fixed = 8;
        return 0;
    case 0xcc: /* uint 8/16/32/64 */
    case 0xcd:
    case 0xce:
    case 0xcf:
        h->fixed = (size_t)1 << (t - 0xcc);
        return 0;
    case 0xd0: /* int 8/16/32/64 */
    case 0xd1:
    case 0xd2:
    case 0xd3:
        h->fixed = (size_t)1 << (t - 0xd0);
        return 0;
    case 0xd4: /* fixext 1/2/4/8/16: a type byte and a fixed payload */
    case 0xd5:
    case 0xd6:
    case 0xd7:
    case 0xd8:
        h->fixed = 1 + ((size_t)1 << (t - 0xd4));
        return 0;
    case 0xdc: /* array 16/32 */
    case 0xdd:
        h->size_bytes = (size_t)2 << (t - 0xdc);
        h->children = 1;
        h->has_len = true;
        return 0;
    case 0xde: /* map 16/32 */
    case 0xdf:
        h->size_bytes = (size_t)2 << (t - 0xde);
        h->children = 2;
        h->has_len = true;
        return 0;
    default: /* 0xc1 is never used */
        return NB_EMALFORMED;
    }
}

int nb_mp_check(const uint8_t *buf, size_t len, size_t max_len, unsigned max_depth, size_t *ret_end)
{
    /*
     * left[d] is the number of objects still to read at nesting level d;
     * level 0 holds the single root object.  No recursion, so hostile
     * nesting cannot exhaust the C stack either.
     */
    size_t left[NB_MP_DEPTH_LIMIT + 1];
    unsigned depth = 0;
    size_t pos = 0;

    if (max_depth > NB_MP_DEPTH_LIMIT || (len > 0 && buf == NULL)) {
        return NB_EINVAL;
    }
    if (len > max_len) {
        return NB_ETOOBIG;
    }
    left[0] = 1;
    for (;;) {
        while (depth > 0 && left[depth] == 0) {
            depth--;
        }
        if (depth == 0 && left[0] == 0) {
            break;
        }
        left[depth]--;

        if (pos >= len) {
            return NB_EMALFORMED;
        }
        struct head h;
        int r = classify(buf[pos], &h);
        if (r < 0) {
            return r;
        }
        pos++;
        uint64_t n = h.inline_len;
        if (h.size_bytes > 0) {
            if (h.size_bytes > len - pos) {
                return NB_EMALFORMED;
            }
            n = load_be(buf + pos, h.size_bytes);
            pos += h.size_bytes;
        }
        if (h.fixed > len - pos) {
            return NB_EMALFORMED;
        }
        pos += h.fixed;
        if (!h.has_len) {
            continue;
        }
        if (h.children == 0) {
            if (n > len - pos) {
                return NB_EMALFORMED;
            }
            pos += (size_t)n;
            continue;
        }
        /* Every element takes at least one byte, so a count larger than
         * what is left is a lie told to make the unpacker allocate. */
        if (n > (len - pos) / h.children) {
            return NB_EMALFORMED;
        }
        if (depth + 1 > max_depth) {
            return NB_EDEPTH;
        }
        depth++;
        left[depth] = (size_t)n * h.children;
    }
    *ret_end = pos;
    return 0;
}

int nb_mp_decode(const uint8_t *buf, size_t len, size_t max_len, unsigned max_depth,
                 struct nb_mp_doc *ret_doc)
{
    size_t end = 0;
    int r = nb_mp_check(buf, len, max_len, max_depth, &end);
    if (r < 0) {
        return r;
    }
    if (end != len) {
        return NB_ETRAILING;
    }

    struct nb_mp_doc doc;
    size_t off = 0;
    msgpack_unpacked_init(&doc.unpacked);
    msgpack_unpack_return u = msgpack_unpack_next(&doc.unpacked, (const char *)buf, len, &off);
    if (u != MSGPACK_UNPACK_SUCCESS || off != len) {
        /* The pre-check accepted the bytes, so what is left is the
         * allocator failing or msgpack-c disagreeing about the format. */
        msgpack_unpacked_destroy(&doc.unpacked);
        return u == MSGPACK_UNPACK_NOMEM_ERROR ? NB_ENOMEM : NB_EMALFORMED;
    }
    *ret_doc = doc;
    return 0;
}

const msgpack_object *nb_mp_root(const struct nb_mp_doc *doc)
{
    return &doc->unpacked.data;
}

void nb_mp_doc_free(struct nb_mp_doc *doc)
{
    if (doc != NULL) {
        msgpack_unpacked_destroy(&doc->unpacked);
    }
}

int nb_mp_get_uint(const msgpack_object *o, uint64_t max, uint64_t *ret)
{
    if (o == NULL || o->type != MSGPACK_OBJECT_POSITIVE_INTEGER) {
        return NB_EMALFORMED;
    }
    if (o->via.u64 > max) {
        return NB_EFIELD;
    }
    *ret = o->via.u64;
    return 0;
}

int nb_mp_get_bool(const msgpack_object *o, bool *ret)
{
    if (o == NULL || o->type != MSGPACK_OBJECT_BOOLEAN) {
        return NB_EMALFORMED;
    }
    *ret = o->via.boolean;
    return 0;
}

int nb_mp_get_str(const msgpack_object *o, size_t min, size_t max, struct nb_text *ret)
{
    if (o == NULL || o->type != MSGPACK_OBJECT_STR) {
        return NB_EMALFORMED;
    }
    if (o->via.str.size < min || o->via.str.size > max) {
        return NB_EFIELD;
    }
    ret->ptr = o->via.str.ptr;
    ret->len = o->via.str.size;
    return 0;
}

int nb_mp_get_text(const msgpack_object *o, size_t min, size_t max, unsigned flags,
                   struct nb_text *ret)
{
    struct nb_text t;
    int r = nb_mp_get_str(o, min, max, &t);
    if (r < 0) {
        return r;
    }
    r = nb_utf8_check(t.ptr, t.len, flags);
    if (r < 0) {
        return r;
    }
    *ret = t;
    return 0;
}

int nb_mp_get_bin(const msgpack_object *o, size_t min, size_t max, struct nb_bytes *ret)
{
    if (o == NULL || o->type != MSGPACK_OBJECT_BIN) {
        return NB_EMALFORMED;
    }
    if (o->via.bin.size < min || o->via.bin.size > max) {
        return NB_EFIELD;
    }
    ret->ptr = (const uint8_t *)o->via.bin.ptr;
    ret->len = o->via.bin.size;
    return 0;
}

int nb_mp_get_bin_exact(const msgpack_object *o, size_t len, uint8_t *ret)
{
    struct nb_bytes b;
    int r = nb_mp_get_bin(o, len, len, &b);
    if (r < 0) {
        return r;
    }
    if (len > 0) {
        memcpy(ret, b.ptr, len);
    }
    return 0;
}

int nb_mp_get_array(const msgpack_object *o, size_t max, const msgpack_object **ret_items,
                    size_t *ret_n)
{
    if (o == NULL || o->type != MSGPACK_OBJECT_ARRAY) {
        return NB_EMALFORMED;
    }
    if (o->via.array.size > max) {
        return NB_EFIELD;
    }
    *ret_items = o->via.array.ptr;
    *ret_n = o->via.array.size;
    return 0;
}

int nb_mp_get_map(const msgpack_object *o, size_t max, const msgpack_object_kv **ret_pairs,
                  size_t *ret_n)
{
    if (o == NULL || o->type != MSGPACK_OBJECT_MAP) {
        return NB_EMALFORMED;
    }
    if (o->via.map.size > max) {
        return NB_EFIELD;
    }
    *ret_pairs = o->via.map.ptr;
    *ret_n = o->via.map.size;
    return 0;
}

static bool key_is(const msgpack_object *k, const char *key, size_t key_len)
{
    return k->type == MSGPACK_OBJECT_STR && k->via.str.size == key_len &&
           (key_len == 0 || memcmp(k->via.str.ptr, key, key_len) == 0);
}

const msgpack_object *nb_mp_map_get(const msgpack_object *map, const char *key)
{
    if (map == NULL || key == NULL || map->type != MSGPACK_OBJECT_MAP) {
        return NULL;
    }
    size_t key_len = strlen(key);
    for (uint32_t i = 0; i < map->via.map.size; i++) {
        if (key_is(&map->via.map.ptr[i].key, key, key_len)) {
            return &map->via.map.ptr[i].val;
        }
    }
    return NULL;
}

int nb_mp_map_check_keys(const msgpack_object *map)
{
    if (map == NULL || map->type != MSGPACK_OBJECT_MAP) {
        return NB_EMALFORMED;
    }
    /* Quadratic, but maps are small and their size is bounded by the
     * input, which the caller has capped. */
    const msgpack_object_kv *p = map->via.map.ptr;
    for (uint32_t i = 0; i < map->via.map.size; i++) {
        if (p[i].key.type != MSGPACK_OBJECT_STR) {
            return NB_EMALFORMED;
        }
        for (uint32_t j = 0; j < i; j++) {
            if (key_is(&p[j].key, p[i].key.via.str.ptr, p[i].key.via.str.size)) {
                return NB_EMALFORMED;
            }
        }
    }
    return 0;
}

int nb_mp_map_uint(const msgpack_object *map, const char *key, uint64_t max, uint64_t *ret)
{
    const msgpack_object *v = nb_mp_map_get(map, key);
    return v == NULL ? NB_ENOENT : nb_mp_get_uint(v, max, ret);
}

int nb_mp_map_bool(const msgpack_object *map, const char *key, bool *ret)
{
    const msgpack_object *v = nb_mp_map_get(map, key);
    return v == NULL ? NB_ENOENT : nb_mp_get_bool(v, ret);
}

int nb_mp_map_text(const msgpack_object *map, const char *key, size_t min, size_t max,
                   unsigned flags, struct nb_text *ret)
{
    const msgpack_object *v = nb_mp_map_get(map, key);
    return v == NULL ? NB_ENOENT : nb_mp_get_text(v, min, max, flags, ret);
}

int nb_mp_map_bin(const msgpack_object *map, const char *key, size_t min, size_t max,
                  struct nb_bytes *ret)
{
    const msgpack_object *v = nb_mp_map_get(map, key);
    return v == NULL ? NB_ENOENT : nb_mp_get_bin(v, min, max, ret);
}

int nb_mp_map_bin_exact(const msgpack_object *map, const char *key, size_t len, uint8_t *ret)
{
    const msgpack_object *v = nb_mp_map_get(map, key);
    return v == NULL ? NB_ENOENT : nb_mp_get_bin_exact(v, len, ret);
}

int nb_utf8_check(const char *s, size_t len, unsigned flags)
{
    const uint8_t *p = (const uint8_t *)s;
    size_t i = 0;

    if (len > 0 && s == NULL) {
        return NB_EINVAL;
    }
    while (i < len) {
        uint8_t c = p[i];
        if (c < 0x80) {
            if ((c < 0x20 && !(c == '\n' && (flags & NB_UTF8_NEWLINE))) || c == 0x7f) {
                return NB_EUTF8;
            }
            i++;
            continue;
        }
        size_t n;
        uint32_t cp;
        uint32_t min;
        if (c >= 0xc2 && c <= 0xdf) { /* 0xc0 and 0xc1 only start overlong forms */
            n = 2;
            cp = c & 0x1f;
            min = 0x80;
        } else if (c >= 0xe0 && c <= 0xef) {
            n = 3;
            cp = c & 0x0f;
            min = 0x800;
        } else if (c >= 0xf0 && c <= 0xf4) {
            n = 4;
            cp = c & 0x07;
            min = 0x10000;
        } else {
            return NB_EUTF8;
        }
        if (n > len - i) {
            return NB_EUTF8;
        }
        for (size_t k = 1; k < n; k++) {
            if ((p[i + k] & 0xc0) != 0x80) {
                return NB_EUTF8;
            }
            cp = (cp << 6) | (p[i + k] & 0x3f);
        }
        if (cp < min || cp > 0x10ffff || (cp >= 0xd800 && cp <= 0xdfff)) {
            return NB_EUTF8;
        }
        if (cp >= 0x80 && cp <= 0x9f) { /* C1 controls */
            return NB_EUTF8;
        }
        i += n;
    }
    return 0;
}

void nb_mp_buf_init(struct nb_mp_buf *b, uint8_t *ptr, size_t cap)
{
    b->ptr = ptr;
    b->cap = cap;
    b->len = 0;
    b->overflow = false;
}

int nb_mp_buf_write(void *data, const char *bytes, size_t len)
{
    struct nb_mp_buf *b = data;
    if (b->overflow || len > b->cap - b->len) {
        b->overflow = true;
        return -1;
    }
    if (len > 0) {
        memcpy(b->ptr + b->len, bytes, len);
    }
    b->len += len;
    return 0;
}

void nb_mp_pack_str(msgpack_packer *pk, const char *s, size_t len)
{
    msgpack_pack_str(pk, len);
    msgpack_pack_str_body(pk, s, len);
}

void nb_mp_pack_cstr(msgpack_packer *pk, const char *s)
{
    nb_mp_pack_str(pk, s, strlen(s));
}

void nb_mp_pack_bin(msgpack_packer *pk, const uint8_t *bytes, size_t len)
{
    msgpack_pack_bin(pk, len);
    msgpack_pack_bin_body(pk, bytes, len);
}
