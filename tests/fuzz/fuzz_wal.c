/*
 * The write-ahead log reader (daemon/store/store_wal.c) on arbitrary bytes,
 * as a failing disk could leave them: it must give a verdict without
 * reading past what it was given, and its counts must agree with each
 * other.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "daemon/store/store_wal.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    struct nbd_wal_scan w;
    size_t take = size < NBD_WAL_HEADER_SIZE ? size : NBD_WAL_HEADER_SIZE;
    size_t frame = nbd_wal_scan_begin(&w, data, take);
    size_t at = take;
    if (frame > 0) {
        for (; size - at >= frame; at += frame) {
            /* A copy of exactly one frame, so that ASan sees any read
             * past it. */
            uint8_t *one = malloc(frame);
            if (one == NULL)
                return 0;
            memcpy(one, data + at, frame);
            nbd_wal_scan_frame(&w, one);
            free(one);
        }
        if (at < size) {
            uint8_t *tail = malloc(size - at);
            if (tail == NULL)
                return 0;
            memcpy(tail, data + at, size - at);
            nbd_wal_scan_tail(&w, tail, size - at);
            free(tail);
        }
    }
    enum nbd_wal_verdict v = nbd_wal_scan_end(&w, size);
    if (size == 0 && v != NBD_WAL_CLEAN)
        abort();
    if (frame == 0 && size > 0 && v != NBD_WAL_DAMAGED)
        abort();
    if (w.kept > w.valid || w.commits > w.kept || w.valid > w.frames)
        abort();
    return 0;
}
