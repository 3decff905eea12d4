/*
 * bench-read-check: what checking a record against its id costs on every
 * read for a client or a peer (daemon/store/store.c, read_row).
 *
 *     bench-read-check --store PATH [--seconds S]
 *
 * Reads the store's records by id, round robin, through nbd_store_get (the
 * row, its bytes copied out, and BLAKE2b-256 of the bytes compared with the
 * id), and hashes one record's bytes alone, in alternating slices over S
 * seconds.  A read without the check takes 1/R - 1/H seconds (bench/run.py
 * reports it, and the ratio): the store has no way to read without checking,
 * and a second SQLite connection, tried first, measured its own cache rather
 * than the hash.
 *
 * Prints one line: "checked R hash H records N" (reads and hashes per
 * second, one thread).
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <noaber/error.h>
#include <noaber/identity.h>
#include <noaber/record.h>

#include "bench/timed_args.h"
#include "daemon/store/store.h"

#define IDS_MAX 100000

static uint8_t (*ids)[NB_ID_SIZE];
static size_t n_ids;

static int collect(void *ctx, const struct nbd_store_record *rec)
{
    (void)ctx;
    memcpy(ids[n_ids++], rec->id, NB_ID_SIZE);
    return n_ids == IDS_MAX ? 1 : 0;
}

static double checked_rate(struct nbd_store *s, double seconds)
{
    static uint8_t buf[NB_RECORD_MAX];
    struct nbd_store_record row;
    unsigned long long done = 0;
    double t0 = now_seconds(), t = t0;
    while (t - t0 < seconds) {
        for (int i = 0; i < 256; i++, done++) {
            if (nbd_store_get(s, ids[done % n_ids], &row, buf) != 0) {
                fprintf(stderr, "bench-read-check: a record does not read back\n");
                exit(1);
            }
        }
        t = now_seconds();
    }
    return (double)done / (t - t0);
}

/* The check alone: BLAKE2b-256 of the same records' bytes, per second. */
static double hash_rate(struct nbd_store *s, double seconds)
{
    static uint8_t buf[NB_RECORD_MAX];
    struct nbd_store_record row;
    uint8_t id[NB_ID_SIZE];
    if (nbd_store_get(s, ids[0], &row, buf) != 0)
        exit(1);
    unsigned long long done = 0;
    double t0 = now_seconds(), t = t0;
    while (t - t0 < seconds) {
        for (int i = 0; i < 256; i++, done++) {
            buf[0] ^= (uint8_t)done; /* not a constant the compiler could fold */
            nb_record_id(buf, row.len, id);
        }
        t = now_seconds();
    }
    return (double)done / (t - t0);
}

int main(int argc, char **argv)
{
    const char *path;
    double seconds;
    if (timed_args(argc, argv, "--store", "bench-read-check --store PATH [--seconds S]", &path,
                   &seconds) < 0)
        return 2;
    if (nb_init() < 0)
        return 1;
    char err[1024];
    struct nbd_store *s;
    if (nbd_store_open(path, &s, err, sizeof(err)) < 0) {
        fprintf(stderr, "bench-read-check: %s\n", err);
        return 1;
    }
    ids = malloc(IDS_MAX * sizeof(*ids));
    if (ids == NULL || nbd_store_foreach_ordered(s, 0, NULL, collect, NULL) < 0 || n_ids == 0) {
        fprintf(stderr, "bench-read-check: no records in %s\n", path);
        return 1;
    }
    /* Short alternating slices, the best of each: on a shared machine a
     * long run measures the neighbours as much as the store. */
    double checked = 0, hashes = 0;
    for (int round = 0; round < 10; round++) {
        double c = checked_rate(s, seconds / 10);
        double h = hash_rate(s, seconds / 20);
        checked = c > checked ? c : checked;
        hashes = h > hashes ? h : hashes;
    }
    printf("checked %.0f hash %.0f records %zu\n", checked, hashes, n_ids);
    nbd_store_close(s);
    free(ids);
    return 0;
}
