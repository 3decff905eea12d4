/*
 * What a hostile peer can send as a record: arbitrary bytes.
 *
 * Every input goes through the generic bounded decoder (as a control-API or
 * peer message would) and through the record decoder.  An input the record
 * decoder accepts must be canonical, so re-encoding the decoded record must
 * give back exactly the input: anything else means two encodings of one
 * record exist, and the harness aborts.  Accepted records are also verified
 * and validated, to exercise those paths on decoder output.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <noaber/error.h>
#include <noaber/record.h>

#include "proto/mp.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

/* Walks a decoded document with the getters, as a control-API handler would. */
static void walk(const msgpack_object *o, unsigned depth)
{
    uint64_t u;
    bool b;
    struct nb_text t;
    struct nb_bytes bytes;
    const msgpack_object *items;
    const msgpack_object_kv *pairs;
    size_t n;

    if (depth > NB_MP_DEPTH_LIMIT) {
        abort(); /* the pre-check let something too deep through */
    }
    (void)nb_mp_get_uint(o, UINT64_MAX, &u);
    (void)nb_mp_get_bool(o, &b);
    (void)nb_mp_get_text(o, 0, SIZE_MAX, NB_UTF8_NEWLINE, &t);
    (void)nb_mp_get_bin(o, 0, SIZE_MAX, &bytes);
    if (nb_mp_get_array(o, SIZE_MAX, &items, &n) == 0) {
        for (size_t i = 0; i < n; i++) {
            walk(&items[i], depth + 1);
        }
    }
    if (nb_mp_get_map(o, SIZE_MAX, &pairs, &n) == 0) {
        (void)nb_mp_map_check_keys(o);
        (void)nb_mp_map_get(o, "op");
        for (size_t i = 0; i < n; i++) {
            walk(&pairs[i].key, depth + 1);
            walk(&pairs[i].val, depth + 1);
        }
    }
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    static const uint8_t neighbourhood[NB_NEIGHBOURHOOD_ID_SIZE] = {
        0xa0, 0xa1, 0xa2, 0xa3, 0xa4, 0xa5, 0xa6, 0xa7, 0xa8, 0xa9, 0xaa,
        0xab, 0xac, 0xad, 0xae, 0xaf, 0xb0, 0xb1, 0xb2, 0xb3, 0xb4, 0xb5,
        0xb6, 0xb7, 0xb8, 0xb9, 0xba, 0xbb, 0xbc, 0xbd, 0xbe, 0xbf,
    };
    struct nb_mp_doc doc;
    if (nb_mp_decode(data, size, 1024 * 1024, 8, &doc) == 0) {
        walk(nb_mp_root(&doc), 0);
        nb_mp_doc_free(&doc);
    }

    struct nb_record rec;
    if (nb_record_decode(data, size, &rec) != 0) {
        return 0;
    }
    uint8_t again[NB_RECORD_MAX];
    size_t len = 0;
    if (nb_record_encode(&rec, again, sizeof(again), &len) != 0 || len != size ||
        memcmp(again, data, size) != 0) {
        abort(); /* an accepted record that is not canonical */
    }
    (void)nb_record_verify(data, size, neighbourhood);
    (void)nb_record_validate(&rec, rec.created_at);
    struct nb_record opened;
    if (nb_record_open(data, size, neighbourhood, rec.created_at, &opened) == 0) {
        if (nb_record_encode(&opened, again, sizeof(again), &len) != 0 || len != size ||
            memcmp(again, data, size) != 0) {
            abort(); /* open and decode disagree */
        }
    }
    return 0;
}
