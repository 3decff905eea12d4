/*
 * bench-wal-mark: what the WAL mark costs a commit (daemon/store/store_wal.h,
 * the mark that catches a WAL cut exactly at a commit).
 *
 *     bench-wal-mark --dir DIR [--seconds S]
 *
 * Commits one small write at a time to a new store in DIR (each commit
 * fsyncs the WAL and runs the WAL hook, which writes the mark), and writes
 * the mark alone, in alternating slices over S seconds.
 *
 * Prints one line: "commits C marks M" (per second, one thread); the mark's
 * share of a commit is C / M.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <noaber/error.h>

#include "bench/timed_args.h"
#include "daemon/store/store.h"
#include "daemon/store/store_wal.h"

static double commit_rate(struct nbd_store *s, double seconds)
{
    unsigned long long done = 0;
    double t0 = now_seconds(), t = t0;
    while (t - t0 < seconds) {
        uint8_t v[8];
        memcpy(v, &done, sizeof(v));
        if (nbd_store_begin(s) < 0 || nbd_store_meta_set(s, "bench", v, sizeof(v)) < 0 ||
            nbd_store_commit(s) < 0) {
            fprintf(stderr, "bench-wal-mark: a commit failed\n");
            exit(1);
        }
        done++;
        t = now_seconds();
    }
    return (double)done / (t - t0);
}

static double mark_rate(struct nbd_wal_mark *m, double seconds)
{
    unsigned long long done = 0;
    double t0 = now_seconds(), t = t0;
    while (t - t0 < seconds) {
        for (int i = 0; i < 256; i++, done++)
            nbd_wal_mark_commit(m, 1000 + done); /* growing: no salts to re-read */
        t = now_seconds();
    }
    return (double)done / (t - t0);
}

int main(int argc, char **argv)
{
    const char *dir;
    double seconds;
    if (timed_args(argc, argv, "--dir", "bench-wal-mark --dir DIR [--seconds S]", &dir, &seconds) <
        0)
        return 2;
    char path[4096], mark_path[4096], err[1024];
    snprintf(path, sizeof(path), "%s/store.sqlite", dir);
    snprintf(mark_path, sizeof(mark_path), "%s/bench", dir);
    struct nbd_store *s;
    if (nbd_store_open(path, &s, err, sizeof(err)) < 0) {
        fprintf(stderr, "bench-wal-mark: %s\n", err);
        return 1;
    }
    /* A mark of its own, so that the store's stays true. */
    struct nbd_wal_mark m;
    nbd_wal_mark_open(&m, mark_path);
    if (m.fd < 0) {
        fprintf(stderr, "bench-wal-mark: cannot write in %s\n", dir);
        return 1;
    }
    double commits = 0, marks = 0;
    for (int round = 0; round < 10; round++) {
        double c = commit_rate(s, seconds / 10);
        double k = mark_rate(&m, seconds / 20);
        commits = c > commits ? c : commits;
        marks = k > marks ? k : marks;
    }
    printf("commits %.0f marks %.0f\n", commits, marks);
    nbd_wal_mark_close(&m);
    nbd_store_close(s);
    return 0;
}
