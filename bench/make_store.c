/*
 * bench-make-store: fills a node's store with signed records, fast, for the
 * benchmarks (bench/run.py), or writes them to a records file for a client
 * to submit.
 *
 *     bench-make-store --store PATH --count N [--first I] [--time T]
 *                      [--members M] [--out FILE] [--name NAME] [--retract R]
 *     bench-make-store --store PATH --accept FILE [--quota-hour H --quota-day D]
 *                      [--order file|id] [--old-indexes]
 *
 * The store is noaberd's own (daemon/store/store.h), opened with the daemon's code;
 * if it has no neighbourhood yet one is created exactly as
 * `neighbourhood.create` does.  Record i (first <= i < first + count) is a
 * request signed by member i % M with a key derived from i % M, dated T +
 * (i mod 2^20) / 8 seconds (T defaults to five days ago): the same (i, T, neighbourhood) always
 * gives the same bytes, so two stores filled with overlapping ranges share exactly those records.
 * With --retract R the last R records of the range are instead retractions of
 * records 0 .. R-1, each by that record's author (dated as the record it
 * replaces): a neighbourhood where authors took back old posts meanwhile.
 *
 * Without --out the records are inserted with nbd_store_insert in large
 * transactions.  That skips what the node checks on arrival (signature,
 * rules): filling a store is not what is being measured, and the records are
 * valid by construction.  With --out nothing is inserted and the records go
 * to FILE as: the 32-byte neighbourhood id, then for each record a u32
 * big-endian length and the signed bytes.
 *
 * --accept FILE instead hands every record of such a file to nbd_node_accept,
 * the function behind the control socket's `submit`, in this process: the
 * node's whole ingest path without the socket, to tell the two apart.  The
 * records go in batches of ACCEPT_BATCH (nbd_node_batch_begin/end, one
 * commit each), as noaberd commits the submits of one read of a client that
 * keeps 64 outstanding.  With --order id the records go in the order of their
 * ids, as an empty node fetches them in a sync (it asks for what it needs in
 * id order, daemon/net/sync.c), rather than in the file's order (by
 * created_at), and the node is told how many are still to come, as noaberd's
 * network tells it during a catch-up (nbd_node_catching_up); the time
 * includes building the indexes set aside meanwhile.  --old-indexes puts back
 * the indexes of schemas 2-6 (the author's and the kind's with the id in the key)
 * and never sets any aside: the write path as it was, for comparison in the
 * same run.  It prints "accepted N seconds S rate R pages
 * P": P is the pages SQLite wrote to the WAL per record (SQLITE_DBSTATUS_CACHE_WRITE), each of
 * which a checkpoint later copies into the database once more.
 */
#include <errno.h>
#include <stdbool.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <sodium.h>
#include <sqlite3.h>

#include <noaber/error.h>
#include <noaber/identity.h>
#include <noaber/record.h>

#include "daemon/node.h"
#include "daemon/store/store.h"

#define BATCH       20000
#define MEMBERS_MAX 4096

static const char usage[] =
    "usage: bench-make-store --store PATH --count N [--first I] [--time T]\n"
    "                        [--members M] [--out FILE] [--name NAME] [--retract R]\n"
    "       bench-make-store --store PATH --accept FILE [--quota-hour H --quota-day D]\n"
    "                        [--order file|id] [--old-indexes]\n";

static const char *const areas[] = { "Marollen", "Sint-Gillis", "Kuregem", "Molenbeek", "Elsene" };
static const char *const titles[] = {
    "Groceries from the market", "A lift to the hospital",   "Help with a form in Dutch",
    "A warm meal on Sunday",     "Company for an afternoon", "Fixing a dripping tap",
};
static const char details[] =
    "I broke my wrist last week and cannot carry bags. A few things from the Saturday "
    "market would help a lot; I can pay back at the door.";

struct options {
    const char *store;
    const char *out;
    const char *accept;
    const char *name;
    uint64_t count;
    uint64_t first;
    uint64_t time;
    uint64_t retract; /* the last `retract` records retract records 0 .. retract-1 */
    unsigned members;
    uint64_t quota_hour, quota_day; /* --accept: the node's quotas, 0 = none */
    bool by_id;                     /* --accept: in the order of the ids */
    bool old_indexes;               /* --accept: the indexes before schema 7, none set aside */
};

static int parse_u64(const char *s, uint64_t *ret)
{
    char *end;
    errno = 0;
    unsigned long long v = strtoull(s, &end, 10);
    if (errno != 0 || end == s || *end != '\0' || s[0] == '-')
        return NB_EINVAL;
    *ret = v;
    return 0;
}

static int parse_options(int argc, char **argv, struct options *o)
{
    memset(o, 0, sizeof(*o));
    o->name = "Benchmark";
    o->members = 64;
    o->time = (uint64_t)time(NULL) - 5 * 24 * 3600;
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i];
        if (strcmp(a, "--old-indexes") == 0) {
            o->old_indexes = true;
            continue;
        }
        const char *v = i + 1 < argc ? argv[i + 1] : NULL;
        uint64_t n;
        if (v == NULL)
            return NB_EINVAL;
        if (strcmp(a, "--store") == 0) {
            o->store = v;
        } else if (strcmp(a, "--out") == 0) {
            o->out = v;
        } else if (strcmp(a, "--accept") == 0) {
            o->accept = v;
        } else if (strcmp(a, "--name") == 0) {
            o->name = v;
        } else if (strcmp(a, "--count") == 0 && parse_u64(v, &n) == 0) {
            o->count = n;
        } else if (strcmp(a, "--retract") == 0 && parse_u64(v, &n) == 0) {
            o->retract = n;
        } else if (strcmp(a, "--first") == 0 && parse_u64(v, &n) == 0) {
            o->first = n;
        } else if (strcmp(a, "--time") == 0 && parse_u64(v, &n) == 0) {
            o->time = n;
        } else if (strcmp(a, "--quota-hour") == 0 && parse_u64(v, &n) == 0 && n <= UINT32_MAX) {
            o->quota_hour = n;
        } else if (strcmp(a, "--quota-day") == 0 && parse_u64(v, &n) == 0 && n <= UINT32_MAX) {
            o->quota_day = n;
        } else if (strcmp(a, "--order") == 0 && (strcmp(v, "id") == 0 || strcmp(v, "file") == 0)) {
            o->by_id = strcmp(v, "id") == 0;
        } else if (strcmp(a, "--members") == 0 && parse_u64(v, &n) == 0 && n >= 1 &&
                   n <= MEMBERS_MAX) {
            o->members = (unsigned)n;
        } else {
            return NB_EINVAL;
        }
        i++;
    }
    return o->store != NULL && o->retract <= o->count && o->retract <= o->first ? 0 : NB_EINVAL;
}

struct member {
    uint8_t pk[NB_KEY_SIZE];
    uint8_t sk[NB_SECRET_KEY_SIZE];
};

static int make_members(struct member *m, unsigned n)
{
    for (unsigned i = 0; i < n; i++) {
        uint8_t seed[NB_SEED_SIZE];
        char text[64];
        snprintf(text, sizeof(text), "noaber/bench/member/%u", i);
        crypto_generichash(seed, sizeof(seed), (const uint8_t *)text, strlen(text), NULL, 0);
        int r = nb_member_from_seed(seed, m[i].pk, m[i].sk);
        sodium_memzero(seed, sizeof(seed));
        if (r < 0)
            return r;
    }
    return 0;
}

static int make_request(const struct options *o, const struct member *members, uint64_t i,
                        const uint8_t nid[NB_NEIGHBOURHOOD_ID_SIZE], struct nb_record *rec,
                        uint8_t *out, size_t *ret_len);

/* Signs record number i into out: a request, or with --retract one of the
 * last records of the range, the retraction of an early one. */
static int make_record(const struct options *o, const struct member *members, uint64_t i,
                       const uint8_t nid[NB_NEIGHBOURHOOD_ID_SIZE], struct nb_record *rec,
                       uint8_t *out, size_t *ret_len)
{
    uint64_t from = o->first + o->count - o->retract;
    if (i < from)
        return make_request(o, members, i, nid, rec, out, ret_len);
    uint64_t j = i - from;
    int r = make_request(o, members, j, nid, rec, out, ret_len);
    if (r < 0)
        return r;
    uint8_t target[NB_ID_SIZE];
    nb_record_id(out, *ret_len, target);
    const struct member *m = &members[j % o->members];
    memset(rec, 0, sizeof(*rec));
    rec->kind = NB_KIND_RETRACTION;
    memcpy(rec->author, m->pk, NB_KEY_SIZE);
    rec->created_at = o->time + (i % (1u << 20)) / 8;
    memcpy(rec->target, target, NB_ID_SIZE);
    NB_SET(rec, NB_F_TARGET);
    return nb_record_sign(rec, m->sk, nid, out, ret_len);
}

static int make_request(const struct options *o, const struct member *members, uint64_t i,
                        const uint8_t nid[NB_NEIGHBOURHOOD_ID_SIZE], struct nb_record *rec,
                        uint8_t *out, size_t *ret_len)
{
    char title[NB_TITLE_MAX + 1];
    const struct member *m = &members[i % o->members];
    const char *area = areas[i % (sizeof(areas) / sizeof(areas[0]))];

    int n = snprintf(title, sizeof(title), "%s (#%" PRIu64 ")",
                     titles[i % (sizeof(titles) / sizeof(titles[0]))], i);
    memset(rec, 0, sizeof(*rec));
    rec->kind = NB_KIND_REQUEST;
    memcpy(rec->author, m->pk, NB_KEY_SIZE);
    /* Eight records a second, wrapping after about 1.5 days so that records
     * numbered far apart (the benchmarks use separate ranges) are still
     * dated within the last few days. */
    rec->created_at = o->time + (i % (1u << 20)) / 8;
    rec->title = (struct nb_text){ title, (size_t)n };
    NB_SET(rec, NB_F_TITLE);
    rec->details = (struct nb_text){ details, sizeof(details) - 1 };
    NB_SET(rec, NB_F_DETAILS);
    rec->category = (uint8_t)(i % NB_CAT_COUNT);
    NB_SET(rec, NB_F_CATEGORY);
    rec->urgency = (uint8_t)(i % NB_URGENCY_COUNT);
    NB_SET(rec, NB_F_URGENCY);
    rec->area = (struct nb_text){ area, strlen(area) };
    NB_SET(rec, NB_F_AREA);
    rec->expires_at = rec->created_at + 60 * 24 * 3600;
    NB_SET(rec, NB_F_EXPIRES_AT);
    return nb_record_sign(rec, m->sk, nid, out, ret_len);
}

static double now_seconds(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

#define ACCEPT_BATCH 64

struct slice {
    uint8_t id[NB_ID_SIZE];
    size_t off, len;
};

static int slice_by_id(const void *a, const void *b)
{
    return memcmp(((const struct slice *)a)->id, ((const struct slice *)b)->id, NB_ID_SIZE);
}

/* Feeds every record of a records file to nbd_node_accept, timing it and
 * counting the pages the store writes. */
static int accept_file(struct nbd_node *node, const char *path, bool by_id, bool old_indexes)
{
    FILE *f = fopen(path, "rb");
    if (f == NULL) {
        fprintf(stderr, "bench-make-store: %s: %s\n", path, strerror(errno));
        return NB_EIO;
    }
    uint8_t nid[NB_NEIGHBOURHOOD_ID_SIZE];
    uint8_t *all = NULL;
    struct slice *recs = NULL;
    size_t len = 0, cap = 0, count = 0;
    int r = 0;
    if (fread(nid, 1, sizeof(nid), f) != sizeof(nid) ||
        memcmp(nid, node->neighbourhood_id, sizeof(nid)) != 0) {
        fprintf(stderr, "bench-make-store: %s is not for this store's neighbourhood\n", path);
        fclose(f);
        return NB_EINVAL;
    }
    for (;;) {
        if (len == cap) {
            cap = cap ? cap * 2 : 1 << 20;
            uint8_t *p = realloc(all, cap);
            if (p == NULL) {
                r = NB_ENOMEM;
                goto out;
            }
            all = p;
        }
        size_t n = fread(all + len, 1, cap - len, f);
        if (n == 0)
            break;
        len += n;
    }
    /* Each record's place in the file (with at least 5 bytes a record there
     * are at most len / 5 of them), so they can be fed in another order. */
    recs = malloc((len / 5 + 1) * sizeof(*recs));
    if (recs == NULL) {
        r = NB_ENOMEM;
        goto out;
    }
    for (size_t pos = 0; pos + 4 <= len;) {
        size_t n = (size_t)all[pos] << 24 | (size_t)all[pos + 1] << 16 | (size_t)all[pos + 2] << 8 |
                   all[pos + 3];
        if (n == 0 || n > len - pos - 4) {
            r = NB_EMALFORMED;
            goto out;
        }
        recs[count] = (struct slice){ .off = pos + 4, .len = n };
        nb_record_id(all + pos + 4, n, recs[count].id);
        count++;
        pos += 4 + n;
    }
    if (by_id)
        qsort(recs, count, sizeof(*recs), slice_by_id);

    sqlite3 *db = nbd_store_db(node->store);
    if (old_indexes &&
        sqlite3_exec(db,
                     "DROP INDEX records_author;"
                     "CREATE INDEX records_author ON records(author, created_at, id);"
                     "DROP INDEX records_kind;"
                     "CREATE INDEX records_kind ON records(kind, created_at, id);",
                     NULL, NULL, NULL) != SQLITE_OK) {
        fprintf(stderr, "bench-make-store: cannot put the old indexes back: %s\n",
                sqlite3_errmsg(db));
        r = NB_EIO;
        goto out;
    }
    bool catching_up = by_id && !old_indexes;
    int pages_before = 0, high = 0;
    sqlite3_db_status(db, SQLITE_DBSTATUS_CACHE_WRITE, &pages_before, &high, 0);
    uint64_t now = (uint64_t)time(NULL);
    double t0 = now_seconds();
    for (size_t i = 0; i < count; i++) {
        struct nbd_accept_report why;
        /* Between reads noaberd's network tells the node how many records
         * it still fetches (daemon/net/net.c, on_tick), as here. */
        if (i % ACCEPT_BATCH == 0 && catching_up)
            nbd_node_catching_up(node, count - i, 1);
        if (i % ACCEPT_BATCH == 0)
            nbd_node_batch_begin(node);
        if (nbd_node_accept(node, all + recs[i].off, recs[i].len, recs[i].id, now, NBD_FROM_CLIENT,
                            &why) != NBD_ACCEPTED) {
            r = why.code;
            fprintf(stderr, "bench-make-store: record %zu refused: %s\n", i, why.message);
            nbd_node_batch_end(node);
            goto out;
        }
        if ((i + 1) % ACCEPT_BATCH == 0 || i + 1 == count) {
            r = nbd_node_batch_end(node);
            if (r < 0) {
                fprintf(stderr, "bench-make-store: commit failed: %s\n", nb_strerror(r));
                goto out;
            }
        }
    }
    /* The catch-up is over: the indexes it set aside are built again, in
     * the time measured. */
    if (catching_up) {
        nbd_node_catching_up(node, 0, 1);
        nbd_node_catching_up(node, 0, 1 + NBD_CATCHUP_SETTLE_MS);
    }
    double dt = now_seconds() - t0;
    int pages = 0;
    sqlite3_db_status(db, SQLITE_DBSTATUS_CACHE_WRITE, &pages, &high, 0);
    printf("accepted %zu seconds %.6f rate %.1f pages %.3f\n", count, dt,
           dt > 0 ? (double)count / dt : 0.0,
           count > 0 ? (double)(pages - pages_before) / (double)count : 0.0);
out:
    fclose(f);
    free(recs);
    free(all);
    return r;
}

static int write_all(FILE *f, const void *p, size_t n)
{
    return fwrite(p, 1, n, f) == n ? 0 : NB_EIO;
}

int main(int argc, char **argv)
{
    struct options o;
    struct nbd_store *store = NULL;
    struct nbd_node node;
    struct member *members = NULL;
    FILE *out = NULL;
    char err[512];
    int status = 1;
    int r;

    memset(&node, 0, sizeof(node));
    if (parse_options(argc, argv, &o) < 0) {
        fputs(usage, stderr);
        return 2;
    }
    if (nb_init() < 0) {
        fprintf(stderr, "bench-make-store: cannot initialise libsodium\n");
        return 1;
    }
    r = nbd_store_open(o.store, &store, err, sizeof(err));
    if (r < 0) {
        fprintf(stderr, "bench-make-store: %s\n", err);
        return 1;
    }
    r = nbd_node_init(&node, store, 24 * 3600);
    if (r < 0) {
        fprintf(stderr, "bench-make-store: cannot read the neighbourhood: %s\n", nb_strerror(r));
        goto out;
    }
    /* A synthetic store has few authors with many records each: the quota
     * per author is off unless asked for (to measure what it costs, with
     * enough --members that none goes over it). */
    nbd_node_set_quota(&node, (uint32_t)o.quota_hour, (uint32_t)o.quota_day);
    if (!node.has_neighbourhood) {
        struct nbd_verdict v;
        r = nbd_node_create_neighbourhood(&node, o.name, strlen(o.name), &v);
        if (r < 0) {
            fprintf(stderr, "bench-make-store: %s\n", v.message);
            goto out;
        }
    }
    if (o.accept != NULL) {
        status = accept_file(&node, o.accept, o.by_id, o.old_indexes) < 0 ? 1 : 0;
        goto out;
    }
    members = calloc(o.members, sizeof(*members));
    if (members == NULL || make_members(members, o.members) < 0) {
        fprintf(stderr, "bench-make-store: cannot make member keys\n");
        goto out;
    }
    if (o.out != NULL) {
        out = fopen(o.out, "wb");
        if (out == NULL) {
            fprintf(stderr, "bench-make-store: %s: %s\n", o.out, strerror(errno));
            goto out;
        }
        if (write_all(out, node.neighbourhood_id, NB_NEIGHBOURHOOD_ID_SIZE) < 0)
            goto write_failed;
    }

    uint64_t inserted = 0, present = 0;
    bool in_tx = false;
    for (uint64_t i = o.first; i < o.first + o.count; i++) {
        uint8_t bytes[NB_RECORD_MAX];
        struct nb_record rec;
        size_t len = 0;
        r = make_record(&o, members, i, node.neighbourhood_id, &rec, bytes, &len);
        if (r < 0) {
            fprintf(stderr, "bench-make-store: record %" PRIu64 ": %s\n", i, nb_strerror(r));
            goto out;
        }
        if (out != NULL) {
            uint8_t head[4] = { (uint8_t)(len >> 24), (uint8_t)(len >> 16), (uint8_t)(len >> 8),
                                (uint8_t)len };
            if (write_all(out, head, 4) < 0 || write_all(out, bytes, len) < 0)
                goto write_failed;
            continue;
        }
        struct nbd_store_record row;
        memset(&row, 0, sizeof(row));
        nb_record_id(bytes, len, row.id);
        row.kind = rec.kind;
        memcpy(row.author, rec.author, NB_KEY_SIZE);
        row.created_at = rec.created_at;
        row.has_expiry = true;
        row.expires_at = rec.expires_at;
        row.bytes = bytes;
        row.len = len;
        if (!in_tx) {
            r = nbd_store_begin(store);
            if (r < 0)
                goto store_failed;
            in_tx = true;
        }
        r = nbd_store_insert(store, &row);
        if (r == NB_EEXIST) {
            present++;
        } else if (r < 0) {
            goto store_failed;
        } else {
            inserted++;
        }
        if ((inserted + present) % BATCH == 0) {
            r = nbd_store_commit(store);
            in_tx = false;
            if (r < 0)
                goto store_failed;
        }
    }
    if (in_tx) {
        r = nbd_store_commit(store);
        in_tx = false;
        if (r < 0)
            goto store_failed;
    }
    if (out != NULL) {
        if (fclose(out) != 0) {
            out = NULL;
            goto write_failed;
        }
        out = NULL;
        printf("wrote %" PRIu64 " records to %s\n", o.count, o.out);
    } else {
        printf("inserted %" PRIu64 " records (%" PRIu64 " already present) into %s\n", inserted,
               present, o.store);
    }
    status = 0;
    goto out;

store_failed:
    if (in_tx)
        nbd_store_rollback(store);
    fprintf(stderr, "bench-make-store: the store failed: %s\n", nb_strerror(r));
    goto out;
write_failed:
    fprintf(stderr, "bench-make-store: cannot write %s\n", o.out);
out:
    if (out != NULL)
        fclose(out);
    if (members != NULL) {
        sodium_memzero(members, o.members * sizeof(*members));
        free(members);
    }
    nbd_node_clear(&node);
    nbd_store_close(store);
    return status;
}
