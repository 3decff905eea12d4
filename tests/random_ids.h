/*
 * Deterministic random ids for the reconciliation tests (test_negentropy.c,
 * test_riblt.c): splitmix64, so the same seed gives the same sets on every
 * machine.
 */
#ifndef NOABER_TESTS_RANDOM_IDS_H
#define NOABER_TESTS_RANDOM_IDS_H

#include <stdint.h>
#include <string.h>

static inline uint64_t splitmix(uint64_t *state)
{
    uint64_t z = (*state += 0x9e3779b97f4a7c15ULL);
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
    return z ^ (z >> 31);
}

/* Fills a 32-byte id. */
static inline void random_id(uint64_t *state, uint8_t id[32])
{
    for (int i = 0; i < 4; i++) {
        uint64_t v = splitmix(state);
        memcpy(id + 8 * i, &v, 8);
    }
}

#endif
