/*
 * Bounded msgpack decoding for every decoder in Noaber.
 *
 * msgpack-c's unpacker trusts the counts in its input: an array header
 * allocates room for all its elements before any element has arrived, so the
 * five bytes dd ff 00 00 00 ask for tens of GiB.  Everything that reads
 * untrusted msgpack (records, the peer protocol, the control API) therefore
 * goes through nb_mp_decode(), which first walks the bytes without allocating
 * and refuses them unless
 *
 *   - the input is at most `max_len` bytes,
 *   - every str/bin/ext payload fits in the bytes that remain,
 *   - every array of n elements has at least n bytes left after its header
 *     and every map of n pairs at least 2n (each element takes >= 1 byte),
 *   - containers nest at most `max_depth` deep (the root container is 1),
 *   - the input holds exactly one complete object (NB_ETRAILING otherwise).
 *
 * Only then does msgpack-c build the object tree, in a zone whose size is
 * bounded by a small multiple of the input length.  str and bin objects point
 * into the caller's buffer: keep it alive as long as the document.
 *
 * The typed getters below always take a maximum and report, with the codes of
 * noaber/error.h, what was wrong:
 *
 *   NB_EMALFORMED  wrong msgpack type (or not a map for the map helpers)
 *   NB_EFIELD      right type, but out of the given bounds
 *   NB_ENOENT      a map key is absent (nb_mp_map_* only)
 *   NB_EUTF8       text is not valid UTF-8 or contains control characters
 *
 * Out-parameters (ret_*) are never written on failure.
 */
#ifndef NOABER_PROTO_MP_H
#define NOABER_PROTO_MP_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <msgpack.h>

#include <noaber/record.h>

#ifdef __cplusplus
extern "C" {
#endif

/* msgpack-c's unpacker refuses more than 32 nested containers itself. */
#define NB_MP_DEPTH_LIMIT 32

/* A decoded msgpack document.  Free with nb_mp_doc_free(). */
struct nb_mp_doc {
    msgpack_unpacked unpacked;
};

/*
 * Walks the one msgpack object at the start of buf[0..len) without
 * allocating and checks the bounds listed above (except trailing bytes).
 * On success *ret_end is the offset just past the object, so a caller reading
 * a stream of objects can continue there.  Errors: NB_ETOOBIG (len > max_len),
 * NB_EMALFORMED (truncated, a count larger than the bytes left, the unused
 * byte 0xc1), NB_EDEPTH (nesting), NB_EINVAL (max_depth > NB_MP_DEPTH_LIMIT).
 */
int nb_mp_check(const uint8_t *buf, size_t len, size_t max_len, unsigned max_depth,
                size_t *ret_end);

/*
 * nb_mp_check() and then msgpack-c's unpacker.  The input must be exactly one
 * object: bytes after it give NB_ETRAILING.  NB_ENOMEM if the zone cannot be
 * allocated.
 */
int nb_mp_decode(const uint8_t *buf, size_t len, size_t max_len, unsigned max_depth,
                 struct nb_mp_doc *ret_doc);

/* The root object of a decoded document. */
const msgpack_object *nb_mp_root(const struct nb_mp_doc *doc);

/* Frees the document's zone; a zeroed or already freed document is fine. */
void nb_mp_doc_free(struct nb_mp_doc *doc);

/* A non-negative integer no larger than max. */
int nb_mp_get_uint(const msgpack_object *o, uint64_t max, uint64_t *ret);
int nb_mp_get_bool(const msgpack_object *o, bool *ret);

/*
 * A str of min..max bytes, returned as a view into the input.  No UTF-8 check:
 * use nb_mp_get_text for text meant for people.
 */
int nb_mp_get_str(const msgpack_object *o, size_t min, size_t max, struct nb_text *ret);

/* Like nb_mp_get_str, and the bytes must pass nb_utf8_check(..., flags). */
int nb_mp_get_text(const msgpack_object *o, size_t min, size_t max, unsigned flags,
                   struct nb_text *ret);

/* A bin of min..max bytes, returned as a view into the input. */
int nb_mp_get_bin(const msgpack_object *o, size_t min, size_t max, struct nb_bytes *ret);

/* A bin of exactly `len` bytes, copied to ret (keys, ids, signatures). */
int nb_mp_get_bin_exact(const msgpack_object *o, size_t len, uint8_t *ret);

/* An array of at most max elements; *ret_items points into the document. */
int nb_mp_get_array(const msgpack_object *o, size_t max, const msgpack_object **ret_items,
                    size_t *ret_n);

/* A map of at most max pairs; *ret_pairs points into the document. */
int nb_mp_get_map(const msgpack_object *o, size_t max, const msgpack_object_kv **ret_pairs,
                  size_t *ret_n);

/*
 * Maps with str keys (the control API).  nb_mp_map_get returns the value for
 * `key`, or NULL when `map` is not a map or has no such key.  A map with the
 * same str key twice is ambiguous; nb_mp_map_check_keys refuses it
 * (NB_EMALFORMED), and also refuses keys that are not str.
 */
const msgpack_object *nb_mp_map_get(const msgpack_object *map, const char *key);
int nb_mp_map_check_keys(const msgpack_object *map);

/* Typed lookups: NB_ENOENT when the key is absent, else as the getters. */
int nb_mp_map_uint(const msgpack_object *map, const char *key, uint64_t max, uint64_t *ret);
int nb_mp_map_bool(const msgpack_object *map, const char *key, bool *ret);
int nb_mp_map_text(const msgpack_object *map, const char *key, size_t min, size_t max,
                   unsigned flags, struct nb_text *ret);
int nb_mp_map_bin(const msgpack_object *map, const char *key, size_t min, size_t max,
                  struct nb_bytes *ret);
int nb_mp_map_bin_exact(const msgpack_object *map, const char *key, size_t len, uint8_t *ret);

/* Flags for nb_utf8_check. */
#define NB_UTF8_NEWLINE 1u /* allow \n (multi-line fields) */

/*
 * Checks that bytes are valid UTF-8 as RFC 3629 defines it (no overlong
 * forms, no surrogates, nothing above U+10FFFF) and contain no control
 * characters: no C0 (U+0000..U+001F) except \n with NB_UTF8_NEWLINE, no DEL
 * (U+007F) and no C1 (U+0080..U+009F).  Returns 0 or NB_EUTF8.
 */
int nb_utf8_check(const char *s, size_t len, unsigned flags);

/*
 * A bounded output buffer for msgpack_packer: writes past `cap` are refused
 * and remembered, so an encoder can pack freely and check once at the end.
 *
 *     struct nb_mp_buf b;
 *     msgpack_packer pk;
 *     nb_mp_buf_init(&b, out, sizeof(out));
 *     msgpack_packer_init(&pk, &b, nb_mp_buf_write);
 *     ... msgpack_pack_*(&pk, ...) ...
 *     if (b.overflow) return NB_ETOOBIG;
 */
struct nb_mp_buf {
    uint8_t *ptr;
    size_t cap;
    size_t len;
    bool overflow;
};

void nb_mp_buf_init(struct nb_mp_buf *b, uint8_t *ptr, size_t cap);
int nb_mp_buf_write(void *data, const char *bytes, size_t len);

/*
 * A str or bin with its header: msgpack-c packs the two separately, and every
 * encoder in Noaber wants them together.  nb_mp_pack_cstr takes a
 * NUL-terminated string.
 */
void nb_mp_pack_str(msgpack_packer *pk, const char *s, size_t len);
void nb_mp_pack_cstr(msgpack_packer *pk, const char *s);
void nb_mp_pack_bin(msgpack_packer *pk, const uint8_t *bytes, size_t len);

#ifdef __cplusplus
}
#endif

#endif
