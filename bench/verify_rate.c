/*
 * bench-verify: the ceiling for ingest.  How many signatures libsodium's
 * crypto_sign_verify_detached checks per second on this machine, over the
 * very records the ingest benchmark submits, and how many of them
 * nb_record_open (decode + verify + validate, what a node does before it
 * looks at its store) opens per second.
 *
 *     bench-verify --records FILE [--seconds S]
 *
 * FILE is what `bench-make-store --out` writes.  The signed message of each
 * record is rebuilt here as docs/protocol.md defines it ("noaber/record/v1"
 * || neighbourhood id || the record up to the end of its body) so the raw
 * rate uses libsodium alone; every signature must verify, or the tool fails
 * rather than report a rate for a wrong message.
 *
 * Prints one line: "verify_rate R open_rate R2" (per second, one thread).
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <sodium.h>

#include <noaber/error.h>
#include <noaber/record.h>

#include "bench/timed_args.h"

#define CONTEXT "noaber/record/v1"
/* A canonical record ends with its signature as msgpack bin 8 of 64 bytes. */
#define SIG_ELEMENT_LEN (2 + NB_SIG_SIZE)
#define SAMPLE_MAX      4096

struct sample {
    uint8_t msg[sizeof(CONTEXT) - 1 + NB_NEIGHBOURHOOD_ID_SIZE + NB_RECORD_MAX];
    size_t msg_len;
    uint8_t sig[NB_SIG_SIZE];
    uint8_t pk[NB_KEY_SIZE];
    const uint8_t *bytes;
    size_t len;
};

int main(int argc, char **argv)
{
    const char *path;
    double seconds;
    if (timed_args(argc, argv, "--records", "bench-verify --records FILE [--seconds S]", &path,
                   &seconds) < 0)
        return 2;
    if (sodium_init() < 0)
        return 1;

    FILE *f = fopen(path, "rb");
    if (f == NULL) {
        perror(path);
        return 1;
    }
    static uint8_t file[SAMPLE_MAX * (NB_RECORD_MAX + 4)];
    size_t file_len = fread(file, 1, sizeof(file), f);
    fclose(f);

    static struct sample samples[SAMPLE_MAX];
    size_t n = 0, pos = NB_NEIGHBOURHOOD_ID_SIZE;
    const uint8_t *nid = file;
    while (n < SAMPLE_MAX && file_len >= pos + 4) {
        size_t len = (size_t)file[pos] << 24 | (size_t)file[pos + 1] << 16 |
                     (size_t)file[pos + 2] << 8 | file[pos + 3];
        if (len <= SIG_ELEMENT_LEN || len > NB_RECORD_MAX || len > file_len - pos - 4)
            break;
        struct nb_record rec;
        struct sample *s = &samples[n];
        s->bytes = file + pos + 4;
        s->len = len;
        if (nb_record_decode(s->bytes, len, &rec) < 0) {
            fprintf(stderr, "bench-verify: record %zu does not decode\n", n);
            return 1;
        }
        memcpy(s->pk, rec.author, NB_KEY_SIZE);
        memcpy(s->sig, rec.signature, NB_SIG_SIZE);
        memcpy(s->msg, CONTEXT, sizeof(CONTEXT) - 1);
        memcpy(s->msg + sizeof(CONTEXT) - 1, nid, NB_NEIGHBOURHOOD_ID_SIZE);
        memcpy(s->msg + sizeof(CONTEXT) - 1 + NB_NEIGHBOURHOOD_ID_SIZE, s->bytes,
               len - SIG_ELEMENT_LEN);
        s->msg_len = sizeof(CONTEXT) - 1 + NB_NEIGHBOURHOOD_ID_SIZE + len - SIG_ELEMENT_LEN;
        pos += 4 + len;
        n++;
    }
    if (n == 0) {
        fprintf(stderr, "bench-verify: no records in %s\n", path);
        return 1;
    }

    /* Raw libsodium, checking the clock every 256 verifications. */
    unsigned long long done = 0;
    double t0 = now_seconds(), t = t0;
    while (t - t0 < seconds) {
        for (int j = 0; j < 256; j++, done++) {
            const struct sample *s = &samples[done % n];
            if (crypto_sign_verify_detached(s->sig, s->msg, s->msg_len, s->pk) != 0) {
                fprintf(stderr, "bench-verify: signature %llu does not verify\n", done % n);
                return 1;
            }
        }
        t = now_seconds();
    }
    double verify_rate = (double)done / (t - t0);

    /* What a node does before its store: decode, verify, validate. */
    uint64_t clock_now = (uint64_t)time(NULL);
    done = 0;
    t0 = now_seconds();
    t = t0;
    while (t - t0 < seconds) {
        for (int j = 0; j < 256; j++, done++) {
            const struct sample *s = &samples[done % n];
            struct nb_record rec;
            int r = nb_record_open(s->bytes, s->len, nid, clock_now, &rec);
            if (r < 0) {
                fprintf(stderr, "bench-verify: record %llu: %s\n", done % n, nb_strerror(r));
                return 1;
            }
        }
        t = now_seconds();
    }
    double open_rate = (double)done / (t - t0);
    printf("verify_rate %.1f open_rate %.1f\n", verify_rate, open_rate);
    return 0;
}
