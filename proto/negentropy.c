/*
 * Negentropy v1 set reconciliation (see include/noaber/negentropy.h and
 * docs/protocol.md, "Set reconciliation").
 *
 * The algorithm follows the reference implementation's choices wherever the
 * specification leaves room (when to split a range, into how many buckets,
 * where to cut a message that reaches the frame size limit), because peers
 * compare messages byte for byte: a different but valid choice would still
 * reconcile, but could not be tested against the reference's traces.
 */
#include <noaber/error.h>
#include <noaber/negentropy.h>

#include "proto/varint.h"

#include <sodium.h>

#include <stdlib.h>
#include <string.h>

enum mode {
    MODE_SKIP = 0,
    MODE_FINGERPRINT = 1,
    MODE_IDLIST = 2,
};

/*
 * Every message reserves this many bytes below the frame size limit: a
 * range is only added while the message stays under limit - 200, so the
 * closing fingerprint range (at most 1 + 1 + 1 + 16 bytes) always fits.
 * The reference uses the same margin, and the cut points are part of the
 * bytes on the wire.
 */
#define FRAME_MARGIN 200

/* Buckets a mismatching range is split into, and the size below which the
 * ids are listed instead. */
#define BUCKETS 16

/* ---- Storage ---------------------------------------------------------- */

static uint64_t load_le64(const uint8_t *p)
{
    uint64_t v = 0;
    for (int i = 7; i >= 0; i--) {
        v = (v << 8) | p[i];
    }
    return v;
}

static void store_le64(uint8_t *p, uint64_t v)
{
    for (int i = 0; i < 8; i++) {
        p[i] = (uint8_t)(v >> (8 * i));
    }
}

/* 256-bit little-endian accumulators for id sums, as four 64-bit limbs. */
static void acc_add(uint64_t acc[4], const uint64_t v[4])
{
    uint64_t carry = 0;
    for (int k = 0; k < 4; k++) {
        uint64_t sum = acc[k] + v[k];
        uint64_t c1 = sum < v[k];
        uint64_t sum2 = sum + carry;
        uint64_t c2 = sum2 < sum;
        acc[k] = sum2;
        carry = c1 | c2;
    }
}

static void acc_sub(uint64_t acc[4], const uint64_t v[4])
{
    uint64_t borrow = 0;
    for (int k = 0; k < 4; k++) {
        uint64_t diff = acc[k] - v[k];
        uint64_t b1 = acc[k] < v[k];
        uint64_t diff2 = diff - borrow;
        uint64_t b2 = diff < borrow;
        acc[k] = diff2;
        borrow = b1 | b2;
    }
}

static void acc_add_id(uint64_t acc[4], const uint8_t id[NB_NEGENTROPY_ID_SIZE])
{
    uint64_t v[4];
    for (int k = 0; k < 4; k++) {
        v[k] = load_le64(id + 8 * k);
    }
    acc_add(acc, v);
}

/* Items between checkpoints; a fingerprint sums at most 2 * STRIDE ids. */
#define STRIDE 16

/* checkpoints[j] = sum of the ids of items [0, j * STRIDE). */
static int build_checkpoints(struct nb_negentropy_storage *s)
{
    size_t n = s->count / STRIDE + 1;
    uint64_t(*cp)[4] = calloc(n, sizeof(*cp));
    if (cp == NULL) {
        return NB_ENOMEM;
    }
    uint64_t acc[4] = { 0, 0, 0, 0 };
    for (size_t i = 0; i < s->count; i++) {
        if (i % STRIDE == 0) {
            memcpy(cp[i / STRIDE], acc, sizeof(acc));
        }
        acc_add_id(acc, s->items[i].id);
    }
    if (s->count % STRIDE == 0) {
        memcpy(cp[s->count / STRIDE], acc, sizeof(acc));
    }
    free(s->checkpoints);
    s->checkpoints = cp;
    return NB_OK;
}

static int item_cmp(const struct nb_negentropy_item *a, const struct nb_negentropy_item *b)
{
    if (a->created_at != b->created_at) {
        return a->created_at < b->created_at ? -1 : 1;
    }
    return memcmp(a->id, b->id, NB_NEGENTROPY_ID_SIZE);
}

static int item_qsort_cmp(const void *a, const void *b)
{
    return item_cmp(a, b);
}

void nb_negentropy_storage_init(struct nb_negentropy_storage *storage)
{
    memset(storage, 0, sizeof(*storage));
}

int nb_negentropy_storage_init_sorted(struct nb_negentropy_storage *storage,
                                      const struct nb_negentropy_item *items, size_t count)
{
    if (storage == NULL || (items == NULL && count > 0)) {
        return NB_EINVAL;
    }
    for (size_t i = 0; i < count; i++) {
        if (items[i].created_at == NB_NEGENTROPY_TIMESTAMP_INFINITY) {
            return NB_EINVAL;
        }
        if (i > 0 && item_cmp(&items[i - 1], &items[i]) >= 0) {
            return NB_EINVAL;
        }
    }
    memset(storage, 0, sizeof(*storage));
    /* The storage never writes through this pointer; it is only non-const
     * because owned storages share the field. */
    storage->items = (struct nb_negentropy_item *)items;
    storage->count = count;
    storage->capacity = count;
    storage->sealed = true;
    storage->borrowed = true;
    int r = build_checkpoints(storage);
    if (r != NB_OK) {
        memset(storage, 0, sizeof(*storage));
    }
    return r;
}

int nb_negentropy_storage_add(struct nb_negentropy_storage *storage, uint64_t created_at,
                              const uint8_t id[NB_NEGENTROPY_ID_SIZE])
{
    if (storage == NULL || id == NULL || created_at == NB_NEGENTROPY_TIMESTAMP_INFINITY) {
        return NB_EINVAL;
    }
    if (storage->sealed || storage->borrowed) {
        return NB_ESTATE;
    }
    if (storage->count == storage->capacity) {
        size_t cap = storage->capacity == 0 ? 64 : storage->capacity;
        if (cap > SIZE_MAX / 2 / sizeof(struct nb_negentropy_item)) {
            return NB_ENOMEM;
        }
        cap *= 2;
        struct nb_negentropy_item *grown = realloc(storage->items, cap * sizeof(*grown));
        if (grown == NULL) {
            return NB_ENOMEM;
        }
        storage->items = grown;
        storage->capacity = cap;
    }
    struct nb_negentropy_item *it = &storage->items[storage->count++];
    it->created_at = created_at;
    memcpy(it->id, id, NB_NEGENTROPY_ID_SIZE);
    return NB_OK;
}

int nb_negentropy_storage_seal(struct nb_negentropy_storage *storage)
{
    if (storage == NULL) {
        return NB_EINVAL;
    }
    if (storage->sealed) {
        return NB_ESTATE;
    }
    if (storage->count > 1) {
        qsort(storage->items, storage->count, sizeof(storage->items[0]), item_qsort_cmp);
    }
    for (size_t i = 1; i < storage->count; i++) {
        if (item_cmp(&storage->items[i - 1], &storage->items[i]) == 0) {
            return NB_EEXIST;
        }
    }
    int r = build_checkpoints(storage);
    if (r != NB_OK) {
        return r;
    }
    storage->sealed = true;
    return NB_OK;
}

void nb_negentropy_storage_free(struct nb_negentropy_storage *storage)
{
    if (storage == NULL) {
        return;
    }
    if (!storage->borrowed) {
        free(storage->items);
    }
    free(storage->checkpoints);
    memset(storage, 0, sizeof(*storage));
}

void nb_negentropy_ids_free(struct nb_negentropy_ids *ids)
{
    if (ids == NULL) {
        return;
    }
    free(ids->ids);
    memset(ids, 0, sizeof(*ids));
}

static int id_cmp(const void *a, const void *b)
{
    return memcmp(a, b, NB_NEGENTROPY_ID_SIZE);
}

void nb_negentropy_ids_sort_unique(struct nb_negentropy_ids *ids)
{
    if (ids == NULL || ids->count < 2) {
        return;
    }
    qsort(ids->ids, ids->count, NB_NEGENTROPY_ID_SIZE, id_cmp);
    size_t kept = 1;
    for (size_t i = 1; i < ids->count; i++) {
        if (memcmp(ids->ids[kept - 1], ids->ids[i], NB_NEGENTROPY_ID_SIZE) != 0) {
            memmove(ids->ids[kept++], ids->ids[i], NB_NEGENTROPY_ID_SIZE);
        }
    }
    ids->count = kept;
}

int nb_negentropy_ids_add(struct nb_negentropy_ids *ids, const uint8_t *id)
{
    if (ids->count == ids->capacity) {
        size_t cap = ids->capacity == 0 ? 16 : ids->capacity;
        if (cap > SIZE_MAX / 2 / NB_NEGENTROPY_ID_SIZE) {
            return NB_ENOMEM;
        }
        cap *= 2;
        uint8_t(*grown)[NB_NEGENTROPY_ID_SIZE] = realloc(ids->ids, cap * NB_NEGENTROPY_ID_SIZE);
        if (grown == NULL) {
            return NB_ENOMEM;
        }
        ids->ids = grown;
        ids->capacity = cap;
    }
    memcpy(ids->ids[ids->count++], id, NB_NEGENTROPY_ID_SIZE);
    return NB_OK;
}

/* ---- Bounds and fingerprints ------------------------------------------ */

/*
 * A range boundary: a timestamp and an id prefix of id_len bytes, the
 * remaining bytes of id being zero.  It sorts like an item with that id.
 */
struct bound {
    uint64_t created_at;
    uint8_t id[NB_NEGENTROPY_ID_SIZE];
    size_t id_len;
};

static struct bound bound_of_timestamp(uint64_t created_at)
{
    struct bound b;
    memset(&b, 0, sizeof(b));
    b.created_at = created_at;
    return b;
}

static struct bound bound_of_item(const struct nb_negentropy_item *item)
{
    struct bound b;
    b.created_at = item->created_at;
    memcpy(b.id, item->id, NB_NEGENTROPY_ID_SIZE);
    b.id_len = NB_NEGENTROPY_ID_SIZE;
    return b;
}

/*
 * The shortest bound that separates prev from curr (prev < curr): the
 * timestamp alone if they differ, else curr's id up to and including the
 * first byte where the two differ.
 */
static struct bound minimal_bound(const struct nb_negentropy_item *prev,
                                  const struct nb_negentropy_item *curr)
{
    if (prev->created_at != curr->created_at) {
        return bound_of_timestamp(curr->created_at);
    }
    size_t shared = 0;
    while (shared < NB_NEGENTROPY_ID_SIZE && prev->id[shared] == curr->id[shared]) {
        shared++;
    }
    struct bound b = bound_of_timestamp(curr->created_at);
    /* Sealed storages hold no duplicates, so shared < 32 here. */
    b.id_len = shared + 1 <= NB_NEGENTROPY_ID_SIZE ? shared + 1 : NB_NEGENTROPY_ID_SIZE;
    memcpy(b.id, curr->id, b.id_len);
    return b;
}

static bool item_below_bound(const struct nb_negentropy_item *item, const struct bound *b)
{
    if (item->created_at != b->created_at) {
        return item->created_at < b->created_at;
    }
    return memcmp(item->id, b->id, NB_NEGENTROPY_ID_SIZE) < 0;
}

/* The first index in [first, last) whose item is not below b, or last. */
static size_t lower_bound(const struct nb_negentropy_storage *s, size_t first, size_t last,
                          const struct bound *b)
{
    size_t count = last - first;
    while (count > 0) {
        size_t step = count / 2;
        size_t mid = first + step;
        if (item_below_bound(&s->items[mid], b)) {
            first = mid + 1;
            count -= step + 1;
        } else {
            count = step;
        }
    }
    return first;
}

/*
 * SHA-256 over (the sum of the ids of items [lo, hi) as a 256-bit
 * little-endian number mod 2^256, then varint(hi - lo)), truncated to 16
 * bytes.  The sum is order-independent, which is what lets two sides with
 * the same set agree without exchanging it.
 */
/* The sum of the ids of items [0, i). */
static void prefix_sum(const struct nb_negentropy_storage *s, size_t i, uint64_t acc[4])
{
    memcpy(acc, s->checkpoints[i / STRIDE], 4 * sizeof(uint64_t));
    for (size_t k = i - i % STRIDE; k < i; k++) {
        acc_add_id(acc, s->items[k].id);
    }
}

static void fingerprint(const struct nb_negentropy_storage *s, size_t lo, size_t hi,
                        uint8_t out[NB_NEGENTROPY_FINGERPRINT_SIZE])
{
    uint64_t limb[4] = { 0, 0, 0, 0 };
    if (hi - lo <= 2 * STRIDE) {
        for (size_t i = lo; i < hi; i++) {
            acc_add_id(limb, s->items[i].id);
        }
    } else {
        /* Sums mod 2^256 subtract exactly: sum[lo, hi) = P(hi) - P(lo). */
        uint64_t below[4];
        prefix_sum(s, hi, limb);
        prefix_sum(s, lo, below);
        acc_sub(limb, below);
    }
    uint8_t input[NB_NEGENTROPY_ID_SIZE + 10];
    for (int k = 0; k < 4; k++) {
        store_le64(input + 8 * k, limb[k]);
    }
    size_t n = NB_NEGENTROPY_ID_SIZE + nb_varint_encode((uint64_t)(hi - lo), input + 32);
    uint8_t hash[crypto_hash_sha256_BYTES];
    crypto_hash_sha256(hash, input, n);
    memcpy(out, hash, NB_NEGENTROPY_FINGERPRINT_SIZE);
}

/* ---- Output buffers ----------------------------------------------------- */

struct obuf {
    uint8_t *data;
    size_t len;
    size_t cap;
};

static int obuf_put(struct obuf *b, const void *bytes, size_t n)
{
    if (n > SIZE_MAX - b->len) {
        return NB_ENOMEM;
    }
    if (b->len + n > b->cap) {
        size_t cap = b->cap == 0 ? 256 : b->cap;
        while (cap < b->len + n) {
            if (cap > SIZE_MAX / 2) {
                return NB_ENOMEM;
            }
            cap *= 2;
        }
        uint8_t *grown = realloc(b->data, cap);
        if (grown == NULL) {
            return NB_ENOMEM;
        }
        b->data = grown;
        b->cap = cap;
    }
    if (n > 0) {
        memcpy(b->data + b->len, bytes, n);
    }
    b->len += n;
    return NB_OK;
}

static int obuf_varint(struct obuf *b, uint64_t n)
{
    uint8_t tmp[10];
    return obuf_put(b, tmp, nb_varint_encode(n, tmp));
}

/* ---- Input -------------------------------------------------------------- */

struct reader {
    const uint8_t *p;
    size_t left;
};

static int read_bytes(struct reader *r, size_t n, const uint8_t **ret)
{
    if (n > r->left) {
        return NB_EMALFORMED;
    }
    *ret = r->p;
    r->p += n;
    r->left -= n;
    return NB_OK;
}

/*
 * Reads a varint.  Non-minimal encodings (leading 0x80 bytes) are accepted
 * as the reference does; their length is bounded by the message.
 */
static int read_varint(struct reader *r, uint64_t *ret)
{
    return nb_varint_read(&r->p, &r->left, false, ret);
}

/* ---- Reconciliation ----------------------------------------------------- */

/* Per-message state: timestamps are delta-encoded within one message. */
struct codec {
    const struct nb_negentropy *ne;
    uint64_t last_in;
    uint64_t last_out;
};

static int put_timestamp(struct codec *c, struct obuf *o, uint64_t ts)
{
    if (ts == NB_NEGENTROPY_TIMESTAMP_INFINITY) {
        c->last_out = NB_NEGENTROPY_TIMESTAMP_INFINITY;
        return obuf_varint(o, 0);
    }
    /* Unsigned wrap-around matches the reference for any input. */
    uint64_t delta = ts - c->last_out;
    c->last_out = ts;
    return obuf_varint(o, delta + 1);
}

static int put_bound(struct codec *c, struct obuf *o, const struct bound *b)
{
    int r = put_timestamp(c, o, b->created_at);
    if (r == NB_OK) {
        r = obuf_varint(o, b->id_len);
    }
    if (r == NB_OK) {
        r = obuf_put(o, b->id, b->id_len);
    }
    return r;
}

static int read_bound(struct codec *c, struct reader *rd, struct bound *ret)
{
    uint64_t enc, len;
    const uint8_t *prefix;
    int r = read_varint(rd, &enc);
    if (r != NB_OK) {
        return r;
    }
    uint64_t ts = enc == 0 ? NB_NEGENTROPY_TIMESTAMP_INFINITY : enc - 1;
    ts += c->last_in;
    if (ts < c->last_in) {
        ts = NB_NEGENTROPY_TIMESTAMP_INFINITY; /* saturate at infinity */
    }
    c->last_in = ts;
    r = read_varint(rd, &len);
    if (r != NB_OK) {
        return r;
    }
    if (len > NB_NEGENTROPY_ID_SIZE) {
        return NB_EMALFORMED;
    }
    r = read_bytes(rd, (size_t)len, &prefix);
    if (r != NB_OK) {
        return r;
    }
    *ret = bound_of_timestamp(ts);
    ret->id_len = (size_t)len;
    memcpy(ret->id, prefix, ret->id_len);
    return NB_OK;
}

static bool exceeds_frame(const struct nb_negentropy *ne, size_t n)
{
    return ne->frame_size_limit != 0 && n > ne->frame_size_limit - FRAME_MARGIN;
}

/*
 * Describes items [lo, hi), which end at upper, to the other side: the ids
 * themselves if there are fewer than 2 * BUCKETS, else BUCKETS fingerprints
 * over near-equal slices (the first count % BUCKETS slices one item larger).
 */
static int split_range(struct codec *c, struct obuf *o, size_t lo, size_t hi,
                       const struct bound *upper)
{
    const struct nb_negentropy_storage *s = c->ne->storage;
    size_t n = hi - lo;
    int r;

    if (n < 2 * BUCKETS) {
        r = put_bound(c, o, upper);
        if (r == NB_OK) {
            r = obuf_varint(o, MODE_IDLIST);
        }
        if (r == NB_OK) {
            r = obuf_varint(o, n);
        }
        for (size_t i = lo; r == NB_OK && i < hi; i++) {
            r = obuf_put(o, s->items[i].id, NB_NEGENTROPY_ID_SIZE);
        }
        return r;
    }

    size_t per_bucket = n / BUCKETS;
    size_t with_extra = n % BUCKETS;
    size_t curr = lo;
    for (size_t i = 0; i < BUCKETS; i++) {
        size_t size = per_bucket + (i < with_extra ? 1 : 0);
        uint8_t fp[NB_NEGENTROPY_FINGERPRINT_SIZE];
        fingerprint(s, curr, curr + size, fp);
        curr += size;
        struct bound next =
            curr == hi ? *upper : minimal_bound(&s->items[curr - 1], &s->items[curr]);
        r = put_bound(c, o, &next);
        if (r == NB_OK) {
            r = obuf_varint(o, MODE_FINGERPRINT);
        }
        if (r == NB_OK) {
            r = obuf_put(o, fp, sizeof(fp));
        }
        if (r != NB_OK) {
            return r;
        }
    }
    return NB_OK;
}

static int id_sort_cmp(const void *a, const void *b)
{
    const uint8_t *const *x = a;
    const uint8_t *const *y = b;
    int c = memcmp(*x, *y, NB_NEGENTROPY_ID_SIZE);
    if (c != 0) {
        return c;
    }
    /* Equal ids keep message order, so the first copy heads its run. */
    return *x < *y ? -1 : (*x > *y ? 1 : 0);
}

/*
 * The initiator's side of an IdList range: ids of ours the list lacks are
 * "have", listed ids we lack are "need" (each once, in message order).
 * Sorting pointers to the listed ids keeps this O((k + m) log k) for k
 * listed and m local ids; the pointer array is bounded by the message size.
 */
static int compare_id_list(const struct nb_negentropy_storage *s, size_t lo, size_t hi,
                           const uint8_t *list, size_t count, struct nb_negentropy_ids *have,
                           struct nb_negentropy_ids *need)
{
    const uint8_t **sorted = NULL;
    bool *matched = NULL;
    int r = NB_OK;

    if (count > 0) {
        sorted = malloc(count * sizeof(*sorted));
        matched = calloc(count, sizeof(*matched));
        if (sorted == NULL || matched == NULL) {
            r = NB_ENOMEM;
            goto out;
        }
        for (size_t i = 0; i < count; i++) {
            sorted[i] = list + i * NB_NEGENTROPY_ID_SIZE;
        }
        qsort(sorted, count, sizeof(*sorted), id_sort_cmp);
    }

    for (size_t i = lo; i < hi; i++) {
        const uint8_t *id = s->items[i].id;
        size_t a = 0, b = count;
        while (a < b) {
            size_t mid = a + (b - a) / 2;
            if (memcmp(sorted[mid], id, NB_NEGENTROPY_ID_SIZE) < 0) {
                a = mid + 1;
            } else {
                b = mid;
            }
        }
        if (a < count && memcmp(sorted[a], id, NB_NEGENTROPY_ID_SIZE) == 0) {
            matched[(size_t)(sorted[a] - list) / NB_NEGENTROPY_ID_SIZE] = true;
        } else if (have != NULL) {
            r = nb_negentropy_ids_add(have, id);
            if (r != NB_OK) {
                goto out;
            }
        }
    }

    if (need != NULL && count > 0) {
        /* Mark, by position in the message, the first copy of each listed
         * id that we lack. */
        bool *emit = calloc(count, sizeof(*emit));
        if (emit == NULL) {
            r = NB_ENOMEM;
            goto out;
        }
        for (size_t i = 0; i < count; i++) {
            bool head = i == 0 || memcmp(sorted[i - 1], sorted[i], NB_NEGENTROPY_ID_SIZE) != 0;
            size_t pos = (size_t)(sorted[i] - list) / NB_NEGENTROPY_ID_SIZE;
            if (head && !matched[pos]) {
                emit[pos] = true;
            }
        }
        for (size_t i = 0; r == NB_OK && i < count; i++) {
            if (emit[i]) {
                r = nb_negentropy_ids_add(need, list + i * NB_NEGENTROPY_ID_SIZE);
            }
        }
        free(emit);
    }

out:
    free(sorted);
    free(matched);
    return r;
}

int nb_negentropy_init(struct nb_negentropy *ne, const struct nb_negentropy_storage *storage,
                       uint64_t frame_size_limit)
{
    if (ne == NULL || storage == NULL) {
        return NB_EINVAL;
    }
    if (frame_size_limit != 0 && frame_size_limit < NB_NEGENTROPY_MIN_FRAME_SIZE) {
        return NB_EINVAL;
    }
    if (!storage->sealed) {
        return NB_ESTATE;
    }
    ne->storage = storage;
    ne->frame_size_limit = frame_size_limit;
    ne->initiator = false;
    return NB_OK;
}

int nb_negentropy_initiate(struct nb_negentropy *ne, uint8_t **ret_msg, size_t *ret_len)
{
    if (ne == NULL || ne->storage == NULL || ret_msg == NULL || ret_len == NULL) {
        return NB_EINVAL;
    }
    if (ne->initiator) {
        return NB_ESTATE;
    }
    struct codec c = { .ne = ne };
    struct obuf o = { 0 };
    uint8_t version = NB_NEGENTROPY_PROTOCOL_VERSION;
    struct bound all = bound_of_timestamp(NB_NEGENTROPY_TIMESTAMP_INFINITY);
    int r = obuf_put(&o, &version, 1);
    if (r == NB_OK) {
        r = split_range(&c, &o, 0, ne->storage->count, &all);
    }
    if (r != NB_OK) {
        free(o.data);
        return r;
    }
    ne->initiator = true;
    *ret_msg = o.data;
    *ret_len = o.len;
    return NB_OK;
}

/*
 * Walks the incoming ranges in order.  Ranges the two sides agree on (equal
 * fingerprints, or skips) are coalesced into one Skip written lazily before
 * the next range that needs an answer, and a trailing Skip is left implicit.
 */
static int reconcile_ranges(struct codec *c, struct reader *rd, struct obuf *full, struct obuf *o,
                            struct nb_negentropy_ids *have, struct nb_negentropy_ids *need)
{
    const struct nb_negentropy *ne = c->ne;
    const struct nb_negentropy_storage *s = ne->storage;
    size_t size = s->count;
    struct bound prev_bound = bound_of_timestamp(0);
    size_t prev_index = 0;
    bool skip = false;
    int r;

    while (rd->left > 0) {
        struct bound curr_bound;
        uint64_t mode;
        o->len = 0;

        r = read_bound(c, rd, &curr_bound);
        if (r == NB_OK) {
            r = read_varint(rd, &mode);
        }
        if (r != NB_OK) {
            return r;
        }

        size_t lower = prev_index;
        size_t upper = lower_bound(s, prev_index, size, &curr_bound);

        /* A pending skip must precede any range we answer. */
        bool flush_skip = false;

        if (mode == MODE_SKIP) {
            skip = true;
        } else if (mode == MODE_FINGERPRINT) {
            const uint8_t *theirs;
            uint8_t ours[NB_NEGENTROPY_FINGERPRINT_SIZE];
            r = read_bytes(rd, NB_NEGENTROPY_FINGERPRINT_SIZE, &theirs);
            if (r != NB_OK) {
                return r;
            }
            fingerprint(s, lower, upper, ours);
            if (memcmp(theirs, ours, sizeof(ours)) != 0) {
                flush_skip = true;
            } else {
                skip = true;
            }
        } else if (mode == MODE_IDLIST) {
            uint64_t count;
            const uint8_t *list;
            r = read_varint(rd, &count);
            if (r != NB_OK) {
                return r;
            }
            /* Checked against what remains before anything is allocated. */
            if (count > rd->left / NB_NEGENTROPY_ID_SIZE) {
                return NB_EMALFORMED;
            }
            r = read_bytes(rd, (size_t)count * NB_NEGENTROPY_ID_SIZE, &list);
            if (r != NB_OK) {
                return r;
            }
            if (ne->initiator) {
                r = compare_id_list(s, lower, upper, list, (size_t)count, have, need);
                if (r != NB_OK) {
                    return r;
                }
                skip = true;
            } else {
                flush_skip = true;
            }
        } else {
            return NB_EMALFORMED;
        }

        if (flush_skip && skip) {
            skip = false;
            r = put_bound(c, o, &prev_bound);
            if (r == NB_OK) {
                r = obuf_varint(o, MODE_SKIP);
            }
            if (r != NB_OK) {
                return r;
            }
        }

        if (flush_skip && mode == MODE_FINGERPRINT) {
            r = split_range(c, o, lower, upper, &curr_bound);
            if (r != NB_OK) {
                return r;
            }
        } else if (flush_skip && mode == MODE_IDLIST) {
            /*
             * The responder answers an id list with all of its ids in the
             * range, as many as fit.  If the frame fills up first, the list
             * ends at the first id left out (a full-length bound), and the
             * rest of the set is summarised by the closing fingerprint below.
             */
            size_t end = lower;
            while (end < upper &&
                   !exceeds_frame(ne, full->len + (end - lower) * NB_NEGENTROPY_ID_SIZE)) {
                end++;
            }
            struct bound end_bound = end < upper ? bound_of_item(&s->items[end]) : curr_bound;
            upper = end;
            r = put_bound(c, o, &end_bound);
            if (r == NB_OK) {
                r = obuf_varint(o, MODE_IDLIST);
            }
            if (r == NB_OK) {
                r = obuf_varint(o, end - lower);
            }
            for (size_t i = lower; r == NB_OK && i < end; i++) {
                r = obuf_put(o, s->items[i].id, NB_NEGENTROPY_ID_SIZE);
            }
            if (r == NB_OK) {
                r = obuf_put(full, o->data, o->len);
            }
            if (r != NB_OK) {
                return r;
            }
            o->len = 0;
        }

        if (exceeds_frame(ne, full->len + o->len)) {
            /*
             * The frame is full: drop this range's answer and close the
             * message with one fingerprint from here to infinity, so the
             * other side asks again about whatever differs there.
             */
            uint8_t fp[NB_NEGENTROPY_FINGERPRINT_SIZE];
            struct bound inf = bound_of_timestamp(NB_NEGENTROPY_TIMESTAMP_INFINITY);
            fingerprint(s, upper, size, fp);
            r = put_bound(c, full, &inf);
            if (r == NB_OK) {
                r = obuf_varint(full, MODE_FINGERPRINT);
            }
            if (r == NB_OK) {
                r = obuf_put(full, fp, sizeof(fp));
            }
            return r;
        }
        r = obuf_put(full, o->data, o->len);
        if (r != NB_OK) {
            return r;
        }

        prev_index = upper;
        prev_bound = curr_bound;
    }
    return NB_OK;
}

int nb_negentropy_reconcile(struct nb_negentropy *ne, const uint8_t *msg, size_t len,
                            uint8_t **ret_msg, size_t *ret_len, struct nb_negentropy_ids *have,
                            struct nb_negentropy_ids *need)
{
    if (ne == NULL || ne->storage == NULL || (msg == NULL && len > 0) || ret_msg == NULL ||
        ret_len == NULL) {
        return NB_EINVAL;
    }
    size_t have_before = have != NULL ? have->count : 0;
    size_t need_before = need != NULL ? need->count : 0;
    struct codec c = { .ne = ne };
    struct reader rd = { .p = msg, .left = len };
    struct obuf full = { 0 };
    struct obuf o = { 0 };
    const uint8_t *version;
    uint8_t ours = NB_NEGENTROPY_PROTOCOL_VERSION;

    int r = read_bytes(&rd, 1, &version);
    if (r != NB_OK) {
        goto out;
    }
    /* 0x60..0x6f are Negentropy versions; anything else is not Negentropy. */
    if (*version < 0x60 || *version > 0x6f) {
        r = NB_EVERSION;
        goto out;
    }
    r = obuf_put(&full, &ours, 1);
    if (r != NB_OK) {
        goto out;
    }
    if (*version != NB_NEGENTROPY_PROTOCOL_VERSION) {
        /*
         * A responder answers an unknown version with just its own version
         * byte so the initiator can retry in it; an initiator has nobody to
         * negotiate with.
         */
        if (ne->initiator) {
            r = NB_EVERSION;
        }
        goto out;
    }
    r = reconcile_ranges(&c, &rd, &full, &o, have, need);

out:
    free(o.data);
    if (r != NB_OK) {
        free(full.data);
        if (have != NULL) {
            have->count = have_before;
        }
        if (need != NULL) {
            need->count = need_before;
        }
        return r;
    }
    if (ne->initiator && full.len == 1) {
        free(full.data);
        *ret_msg = NULL;
        *ret_len = 0;
        return NB_OK;
    }
    *ret_msg = full.data;
    *ret_len = full.len;
    return NB_OK;
}
