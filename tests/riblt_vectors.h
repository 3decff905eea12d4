/*
 * The inputs of tests/vectors/riblt.txt, shared by its generator
 * (make_riblt_vectors.c) and its checker (test_riblt.c).
 */
#ifndef NOABER_TESTS_RIBLT_VECTORS_H
#define NOABER_TESTS_RIBLT_VECTORS_H

#include <noaber/riblt.h>

#include <sodium.h>

#include <stdio.h>
#include <string.h>

#define RIBLT_VECTOR_MAPPED  5  /* ids whose hash and indices are listed */
#define RIBLT_VECTOR_INDICES 12 /* indices listed per id */
#define RIBLT_VECTOR_SET     10 /* ids 0..9 in the encoded set */
#define RIBLT_VECTOR_SYMBOLS 8  /* coded symbols in the message */

/* id(j) = SHA-256 of the decimal digits of j. */
static inline void riblt_vector_id(unsigned j, uint8_t id[NB_RIBLT_ID_SIZE])
{
    char text[16];
    int n = snprintf(text, sizeof(text), "%u", j);
    crypto_hash_sha256(id, (const unsigned char *)text, (unsigned long long)n);
}

/* Alice holds ids 0..99 and Bob ids 3..102: how many of Alice's coded
 * symbols Bob takes before his decoder is done (and it finds 0..2 only at
 * Alice's, 100..102 only at his). */
static inline int riblt_vector_decode(size_t *ret_needed)
{
    struct nb_riblt_encoder alice, bob;
    struct nb_riblt_decoder dec;
    uint8_t id[NB_RIBLT_ID_SIZE];
    int r = -1;
    if (nb_riblt_encoder_init(&alice, 64) < 0)
        return -1;
    if (nb_riblt_encoder_init(&bob, 64) < 0)
        goto out_alice;
    for (unsigned j = 0; j < 103; j++) {
        riblt_vector_id(j, id);
        if (j < 100)
            nb_riblt_encoder_add(&alice, id);
        if (j >= 3)
            nb_riblt_encoder_add(&bob, id);
    }
    if (nb_riblt_decoder_init(&dec, &bob) < 0)
        goto out_bob;
    while (!nb_riblt_decoder_done(&dec))
        if (nb_riblt_decoder_add(&dec, &alice.symbols[dec.m]) < 0)
            goto out_dec;
    if (dec.n_decoded != 6)
        goto out_dec;
    for (size_t k = 0; k < dec.n_decoded; k++) {
        bool found = false;
        for (unsigned j = 0; j < 103 && !found; j++) {
            riblt_vector_id(j, id);
            found = memcmp(id, dec.decoded[k].id, NB_RIBLT_ID_SIZE) == 0 &&
                    dec.decoded[k].side == (j < 3 ? 1 : -1) && (j < 3 || j >= 100);
        }
        if (!found)
            goto out_dec;
    }
    *ret_needed = dec.m;
    r = 0;
out_dec:
    nb_riblt_decoder_free(&dec);
out_bob:
    nb_riblt_encoder_free(&bob);
out_alice:
    nb_riblt_encoder_free(&alice);
    return r;
}

#endif
