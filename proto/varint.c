#include "proto/varint.h"

#include <noaber/error.h>

size_t nb_varint_encode(uint64_t n, uint8_t out[NB_VARINT_MAX])
{
    uint8_t rev[NB_VARINT_MAX];
    size_t len = 0;
    do {
        rev[len++] = (uint8_t)(n & 0x7f);
        n >>= 7;
    } while (n != 0);
    for (size_t i = 0; i < len; i++)
        out[i] = rev[len - 1 - i] | (i + 1 < len ? 0x80 : 0);
    return len;
}

int nb_varint_read(const uint8_t **p, size_t *left, bool minimal, uint64_t *ret)
{
    uint64_t v = 0;
    bool first = true;
    for (;;) {
        if (*left == 0)
            return NB_EMALFORMED;
        uint8_t byte = *(*p)++;
        (*left)--;
        if (first && minimal && byte == 0x80)
            return NB_EMALFORMED;
        first = false;
        if (v > (UINT64_MAX >> 7))
            return NB_EMALFORMED;
        v = (v << 7) | (byte & 0x7f);
        if ((byte & 0x80) == 0)
            break;
    }
    *ret = v;
    return 0;
}
