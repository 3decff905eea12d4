/*
 * Writes tests/vectors/riblt.txt: the hash and index mapping of a few ids,
 * the coded symbols of a small set as a `symbols` message, and how many
 * coded symbols a decoder needs for a small difference.  Built, not run:
 * the committed file is what test_riblt checks, and docs/protocol.md quotes
 * it.
 *
 *   make-riblt-vectors > tests/vectors/riblt.txt
 */
#include <noaber/riblt.h>

#include <sodium.h>

#include <inttypes.h>
#include <stdio.h>
#include <string.h>

#include "tests/riblt_vectors.h"

static void hex(const uint8_t *p, size_t n)
{
    for (size_t i = 0; i < n; i++)
        printf("%02x", p[i]);
}

int main(void)
{
    if (sodium_init() < 0)
        return 1;
    uint8_t id[NB_RIBLT_ID_SIZE];
    printf("# Rateless reconciliation vectors (docs/protocol.md, \"Rateless reconciliation\").\n");
    printf("# id(j) = SHA-256 of the decimal digits of j.\n");
    for (unsigned j = 0; j < RIBLT_VECTOR_MAPPED; j++) {
        riblt_vector_id(j, id);
        uint64_t h = nb_riblt_hash(id);
        printf("id %u ", j);
        hex(id, sizeof(id));
        printf("\nhash %u %016" PRIx64 "\nindices %u", j, h, j);
        struct nb_riblt_mapping m;
        nb_riblt_mapping_init(&m, h);
        printf(" %" PRIu64, m.index);
        for (int i = 1; i < RIBLT_VECTOR_INDICES; i++)
            printf(" %" PRIu64, nb_riblt_mapping_next(&m));
        printf("\n");
    }
    /* The first coded symbols of ids 0..9 as one `symbols` message. */
    struct nb_riblt_encoder enc;
    if (nb_riblt_encoder_init(&enc, RIBLT_VECTOR_SYMBOLS) < 0)
        return 1;
    for (unsigned j = 0; j < RIBLT_VECTOR_SET; j++) {
        riblt_vector_id(j, id);
        nb_riblt_encoder_add(&enc, id);
    }
    uint8_t msg[4096];
    size_t len;
    if (nb_riblt_encode_symbols(&enc, 0, RIBLT_VECTOR_SYMBOLS, RIBLT_VECTOR_SYMBOLS, msg,
                                sizeof(msg), &len) < 0)
        return 1;
    printf("symbols ");
    hex(msg, len);
    printf("\n");
    nb_riblt_encoder_free(&enc);
    /* Alice holds ids 0..99, Bob ids 3..102: Bob decodes after this many. */
    size_t needed;
    if (riblt_vector_decode(&needed) < 0)
        return 1;
    printf("decode_needed %zu\n", needed);
    return 0;
}
