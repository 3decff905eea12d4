/*
 * The base-128 varints of Negentropy and of the rateless reconciliation
 * (docs/protocol.md, "Set reconciliation"): most significant digit first,
 * the high bit set on every byte but the last.
 */
#ifndef NOABER_PROTO_VARINT_H
#define NOABER_PROTO_VARINT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define NB_VARINT_MAX 10

/* Writes n in as few bytes as possible; returns how many. */
size_t nb_varint_encode(uint64_t n, uint8_t out[NB_VARINT_MAX]);

/*
 * Reads a varint from *p (*left bytes), advancing both.  Values that do not
 * fit 64 bits are rejected; so are non-minimal encodings (a leading 0x80
 * byte) when `minimal`.  Returns 0 or NB_EMALFORMED.
 */
int nb_varint_read(const uint8_t **p, size_t *left, bool minimal, uint64_t *ret);

#endif
