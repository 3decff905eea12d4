/*
 * bench-reconcile: what set reconciliation costs between two nodes, with
 * libnoaber's Negentropy or its rateless reconciliation (the code noaberd
 * runs on its peer links), over two in-memory sets.
 *
 *     bench-reconcile --n N --k K [--mode negentropy|riblt] [--flight F]
 *                     [--limit BYTES] [--seed S] [--dump PREFIX]
 *
 * The two sets: node A holds N items; ceil(K/2) of them are missing on node
 * B, which holds floor(K/2) items of its own instead, so the sets differ in
 * exactly K items (the symmetric difference) and both hold about N.  Items
 * are (created_at, id) with random ids and created_at spread over N/8
 * seconds, as records arriving at a steady rate would be; which items differ
 * is chosen at random.  A initiates, as the node that opened the link does.
 *
 * --limit is the frame size limit of both sides (default
 * NB_NEGENTROPY_FRAME_SIZE_LIMIT, what peer links use; 0 for none).
 * --dump writes PREFIX.a and PREFIX.b, the two sets as lines
 * "item,CREATED,IDHEX" of the reference harness protocol, so another
 * implementation can reconcile the very same sets.
 *
 * --mode riblt runs the rateless reconciliation as noaberd does
 * (docs/protocol.md, "Rateless reconciliation"): A streams coded symbols in
 * `symbols` messages of 32, first a flight of F (default 192, what noaberd
 * sends on a link's first round); B answers the difference or `fallback` as
 * soon as it can, or `more` at the end of a flight, and after a fallback the
 * two go on with Negentropy.  A flight takes one round trip, and every
 * symbol of it is counted as sent even when B decoded at its first message:
 * the rest was on its way.  Both sides' coded symbols are built
 * before the clock starts: noaberd keeps them as records arrive.
 *
 * Prints one line of "key value" pairs: rounds (initiator messages, each
 * answered once; riblt: flights, plus Negentropy's after a fallback),
 * bytes_up (A to B), bytes_down (B to A), have, need (the ids A learnt;
 * checked against the construction, the tool fails if they differ), seconds
 * (the reconciliation alone, both sides on this thread); riblt adds symbols
 * (coded symbols B took), fallback (1 if it went on with Negentropy) and
 * build_seconds (the CPU time of building A's coded symbols from scratch).
 */
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <noaber/error.h>
#include <noaber/identity.h>
#include <noaber/negentropy.h>
#include <noaber/riblt.h>

/* As noaberd sends them (daemon/net/net_internal.h: NET_RIBLT_BATCH and
 * NET_RIBLT_FLIGHT_FIRST). */
#define RIBLT_BATCH  32
#define RIBLT_FLIGHT 192

#define BASE_TIME 1767225600u /* 2026-01-01 */

static uint64_t rng_state;

/* splitmix64: small, fast, and the same sets for the same seed everywhere. */
static uint64_t rng_next(void)
{
    uint64_t z = (rng_state += 0x9e3779b97f4a7c15ull);
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
    return z ^ (z >> 31);
}

/* The CPU time of this process: what building the coded symbols costs,
 * whatever else the machine runs meanwhile. */
static double cpu_seconds(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static double now_seconds(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static int parse_u64(const char *s, uint64_t *ret)
{
    char *end;
    if (*s < '0' || *s > '9')
        return NB_EINVAL;
    unsigned long long v = strtoull(s, &end, 10);
    if (*end != '\0')
        return NB_EINVAL;
    *ret = v;
    return 0;
}

static int cmp_id(const void *a, const void *b)
{
    return memcmp(a, b, NB_NEGENTROPY_ID_SIZE);
}

static int dump(const char *prefix, const char *suffix, const struct nb_negentropy_item *items,
                const uint8_t *where, size_t total, uint8_t side)
{
    char path[4096];
    snprintf(path, sizeof(path), "%s.%s", prefix, suffix);
    FILE *f = fopen(path, "w");
    if (f == NULL)
        return NB_EIO;
    for (size_t i = 0; i < total; i++) {
        if (!(where[i] & side))
            continue;
        char hex[2 * NB_NEGENTROPY_ID_SIZE + 1];
        nb_hex(items[i].id, NB_NEGENTROPY_ID_SIZE, hex);
        fprintf(f, "item,%" PRIu64 ",%s\n", items[i].created_at, hex);
    }
    return fclose(f) == 0 ? 0 : NB_EIO;
}

struct riblt_run {
    uint64_t rounds, up, down, symbols;
    bool fallback;
    double build_seconds;
};

/* Adds the ids of a decoded difference to have (+1: only at A) and need. */
static int riblt_result(const struct nb_riblt_decoder *dec, struct nb_negentropy_ids *have,
                        struct nb_negentropy_ids *need)
{
    for (size_t i = 0; i < dec->n_decoded; i++) {
        int r = nb_negentropy_ids_add(dec->decoded[i].side > 0 ? have : need, dec->decoded[i].id);
        if (r < 0)
            return r;
    }
    return 0;
}

/*
 * The rateless rounds between A and B (see the header): every message goes
 * through its encoder and decoder, so the bytes are the wire's.  Returns 0
 * with the result in have/need and run->fallback set when B asked for
 * Negentropy (the caller then runs it), or an error.
 */
static int riblt_reconcile(const struct nb_riblt_encoder *ea, const struct nb_riblt_encoder *eb,
                           size_t flight, struct riblt_run *run, struct nb_negentropy_ids *have,
                           struct nb_negentropy_ids *need)
{
    static uint8_t msg[NB_RIBLT_DIFF_IDS_MAX * NB_RIBLT_ID_SIZE + 64];
    static struct nb_riblt_symbol symbols[NB_RIBLT_BATCH_MAX];
    struct nb_riblt_decoder dec;
    size_t sent = 0, allowed = flight < ea->m ? flight : ea->m;
    int r = nb_riblt_decoder_init(&dec, eb);
    if (r < 0)
        return r;
    bool answered = false;
    while (!answered && sent < allowed) {
        run->rounds++;
        size_t flight_end = allowed;
        while (sent < flight_end) {
            size_t n = flight_end - sent < RIBLT_BATCH ? flight_end - sent : RIBLT_BATCH, len;
            struct nb_riblt_msg m;
            if ((r = nb_riblt_encode_symbols(ea, sent, n, flight_end, msg, sizeof(msg), &len)) < 0)
                goto out;
            run->up += len;
            sent += n;
            if (answered)
                continue; /* in flight when B's answer left: sent, ignored */
            if ((r = nb_riblt_msg_decode(msg, len, &m, symbols)) < 0)
                goto out;
            int added = 0;
            for (size_t i = 0; i < m.n_symbols && added == 0 && !nb_riblt_decoder_done(&dec); i++)
                added = nb_riblt_decoder_add(&dec, &symbols[i]);
            uint64_t total = 0;
            switch (nb_riblt_answer(&dec, added, m.first + m.n_symbols == m.end, &total)) {
            case NB_RIBLT_WAIT:
                break;
            case NB_RIBLT_DIFF:
                for (size_t pos = 0; pos < dec.n_decoded || pos == 0;) {
                    if ((r = nb_riblt_encode_answer(&dec, &pos, msg, sizeof(msg), &len)) < 0)
                        goto out;
                    run->down += len;
                    if (dec.n_decoded == 0)
                        break;
                }
                run->symbols = dec.m;
                r = riblt_result(&dec, have, need);
                if (r < 0)
                    goto out;
                answered = true;
                break;
            case NB_RIBLT_MORE:
                if ((r = nb_riblt_encode_more(total, msg, sizeof(msg), &len)) < 0)
                    goto out;
                run->down += len;
                if (total > allowed)
                    allowed = (size_t)total;
                break;
            case NB_RIBLT_FALLBACK:
            case NB_RIBLT_SYMBOLS:
                if ((r = nb_riblt_encode_fallback(msg, sizeof(msg), &len)) < 0)
                    goto out;
                run->down += len;
                run->symbols = dec.m;
                run->fallback = true;
                answered = true;
                break;
            }
        }
    }
    r = answered ? 0 : NB_ESTATE;
out:
    nb_riblt_decoder_free(&dec);
    return r;
}

int main(int argc, char **argv)
{
    uint64_t n = 0, k = 0, limit = NB_NEGENTROPY_FRAME_SIZE_LIMIT, seed = 1, flight = RIBLT_FLIGHT;
    const char *prefix = NULL;
    bool riblt = false;
    bool have_n = false;
    for (int i = 1; i + 1 < argc; i += 2) {
        int r = 0;
        if (strcmp(argv[i], "--n") == 0) {
            r = parse_u64(argv[i + 1], &n);
            have_n = true;
        } else if (strcmp(argv[i], "--k") == 0) {
            r = parse_u64(argv[i + 1], &k);
        } else if (strcmp(argv[i], "--limit") == 0) {
            r = parse_u64(argv[i + 1], &limit);
        } else if (strcmp(argv[i], "--seed") == 0) {
            r = parse_u64(argv[i + 1], &seed);
        } else if (strcmp(argv[i], "--dump") == 0) {
            prefix = argv[i + 1];
        } else if (strcmp(argv[i], "--flight") == 0) {
            r = parse_u64(argv[i + 1], &flight);
            if (r == 0 && (flight < 1 || flight > NB_RIBLT_SYMBOLS_MAX))
                r = NB_EINVAL;
        } else if (strcmp(argv[i], "--mode") == 0) {
            if (strcmp(argv[i + 1], "riblt") == 0)
                riblt = true;
            else if (strcmp(argv[i + 1], "negentropy") != 0)
                r = NB_EINVAL;
        } else {
            r = NB_EINVAL;
        }
        if (r < 0)
            have_n = false;
    }
    if (!have_n || argc % 2 == 0 || k > n || n > 100000000) {
        fputs("usage: bench-reconcile --n N --k K [--mode negentropy|riblt] [--flight F] "
              "[--limit BYTES] [--seed S] [--dump PREFIX]\n",
              stderr);
        return 2;
    }

    uint64_t only_a = (k + 1) / 2, only_b = k / 2;
    size_t total = (size_t)(n + only_b);
    struct nb_negentropy_item *items = calloc(total ? total : 1, sizeof(*items));
    uint8_t *where = malloc(total ? total : 1); /* bit 1: A holds it, bit 2: B */
    struct nb_negentropy_storage sa, sb;
    struct nb_negentropy a, b;
    struct nb_negentropy_ids have = { 0 }, need = { 0 };
    struct riblt_run rb = { 0 };
    struct nb_riblt_encoder ea = { 0 }, eb = { 0 };
    uint8_t *msg = NULL;
    size_t msg_len = 0;
    int status = 1, r;

    nb_negentropy_storage_init(&sa);
    nb_negentropy_storage_init(&sb);
    if (items == NULL || where == NULL)
        goto oom;
    rng_state = seed;
    uint64_t spread = n / 8 + 1;
    for (size_t i = 0; i < total; i++) {
        items[i].created_at = BASE_TIME + rng_next() % spread;
        for (size_t j = 0; j < NB_NEGENTROPY_ID_SIZE; j += 8) {
            uint64_t v = rng_next();
            memcpy(items[i].id + j, &v, 8);
        }
        where[i] = i < n ? 3 : 2;
    }
    /* Pick the items only A holds among A's n, at random without repeats. */
    for (uint64_t picked = 0; picked < only_a;) {
        size_t i = (size_t)(rng_next() % n);
        if (where[i] == 3) {
            where[i] = 1;
            picked++;
        }
    }
    for (size_t i = 0; i < total; i++) {
        if ((where[i] & 1) && nb_negentropy_storage_add(&sa, items[i].created_at, items[i].id) < 0)
            goto oom;
        if ((where[i] & 2) && nb_negentropy_storage_add(&sb, items[i].created_at, items[i].id) < 0)
            goto oom;
    }
    if (prefix != NULL && (dump(prefix, "a", items, where, total, 1) < 0 ||
                           dump(prefix, "b", items, where, total, 2) < 0)) {
        fprintf(stderr, "bench-reconcile: cannot write %s.a/.b\n", prefix);
        goto out;
    }
    if ((r = nb_negentropy_storage_seal(&sa)) < 0 || (r = nb_negentropy_storage_seal(&sb)) < 0 ||
        (r = nb_negentropy_init(&a, &sa, limit)) < 0 ||
        (r = nb_negentropy_init(&b, &sb, limit)) < 0) {
        fprintf(stderr, "bench-reconcile: %s\n", nb_strerror(r));
        goto out;
    }

    uint64_t rounds = 0, up = 0, down = 0;
    double t0 = now_seconds();
    r = 0;
    if (riblt) {
        if ((r = nb_riblt_encoder_init(&ea, NB_RIBLT_SYMBOLS_MAX)) < 0 ||
            (r = nb_riblt_encoder_init(&eb, NB_RIBLT_SYMBOLS_MAX)) < 0)
            goto oom;
        double c0 = cpu_seconds();
        for (size_t i = 0; i < total; i++)
            if (where[i] & 1)
                nb_riblt_encoder_add(&ea, items[i].id);
        rb.build_seconds = cpu_seconds() - c0;
        for (size_t i = 0; i < total; i++)
            if (where[i] & 2)
                nb_riblt_encoder_add(&eb, items[i].id);
        t0 = now_seconds();
        r = riblt_reconcile(&ea, &eb, (size_t)flight, &rb, &have, &need);
        rounds = rb.rounds;
        up = rb.up;
        down = rb.down;
        if (r == 0 && !rb.fallback)
            msg = NULL;
    }
    if (r == 0 && (!riblt || rb.fallback))
        r = nb_negentropy_initiate(&a, &msg, &msg_len);
    while (r == 0 && msg != NULL) {
        uint8_t *reply = NULL;
        size_t reply_len = 0;
        rounds++;
        up += msg_len;
        r = nb_negentropy_reconcile(&b, msg, msg_len, &reply, &reply_len, NULL, NULL);
        free(msg);
        msg = NULL;
        if (r < 0)
            break;
        down += reply_len;
        r = nb_negentropy_reconcile(&a, reply, reply_len, &msg, &msg_len, &have, &need);
        free(reply);
    }
    double seconds = now_seconds() - t0;
    if (r < 0) {
        fprintf(stderr, "bench-reconcile: reconciliation failed: %s\n", nb_strerror(r));
        goto out;
    }

    /* The answer must be exactly the construction's difference. */
    nb_negentropy_ids_sort_unique(&have);
    nb_negentropy_ids_sort_unique(&need);
    uint8_t(*want_have)[NB_NEGENTROPY_ID_SIZE] = calloc(only_a + 1, NB_NEGENTROPY_ID_SIZE);
    uint8_t(*want_need)[NB_NEGENTROPY_ID_SIZE] = calloc(only_b + 1, NB_NEGENTROPY_ID_SIZE);
    if (want_have == NULL || want_need == NULL) {
        free(want_have);
        free(want_need);
        goto oom;
    }
    size_t nh = 0, nn = 0;
    for (size_t i = 0; i < total; i++) {
        if (where[i] == 1)
            memcpy(want_have[nh++], items[i].id, NB_NEGENTROPY_ID_SIZE);
        else if (where[i] == 2)
            memcpy(want_need[nn++], items[i].id, NB_NEGENTROPY_ID_SIZE);
    }
    qsort(want_have, nh, NB_NEGENTROPY_ID_SIZE, cmp_id);
    qsort(want_need, nn, NB_NEGENTROPY_ID_SIZE, cmp_id);
    bool right = have.count == nh && need.count == nn &&
                 (nh == 0 || memcmp(have.ids, want_have, nh * NB_NEGENTROPY_ID_SIZE) == 0) &&
                 (nn == 0 || memcmp(need.ids, want_need, nn * NB_NEGENTROPY_ID_SIZE) == 0);
    free(want_have);
    free(want_need);
    if (!right) {
        fprintf(stderr, "bench-reconcile: wrong result: have %zu (want %zu), need %zu (want %zu)\n",
                have.count, nh, need.count, nn);
        goto out;
    }
    printf("rounds %" PRIu64 " bytes_up %" PRIu64 " bytes_down %" PRIu64
           " have %zu need %zu seconds %.6f",
           rounds, up, down, have.count, need.count, seconds);
    if (riblt)
        printf(" symbols %" PRIu64 " fallback %d build_seconds %.6f", rb.symbols,
               rb.fallback ? 1 : 0, rb.build_seconds);
    printf("\n");
    status = 0;
    goto out;
oom:
    fprintf(stderr, "bench-reconcile: out of memory\n");
out:
    nb_riblt_encoder_free(&ea);
    nb_riblt_encoder_free(&eb);
    free(msg);
    nb_negentropy_ids_free(&have);
    nb_negentropy_ids_free(&need);
    nb_negentropy_storage_free(&sa);
    nb_negentropy_storage_free(&sb);
    free(items);
    free(where);
    return status;
}
