/*
 * Rateless IBLT reconciliation (include/noaber/riblt.h; docs/protocol.md,
 * "Rateless reconciliation").  Written from the paper's description and the
 * specification in docs/protocol.md.
 */
#include <noaber/error.h>
#include <noaber/riblt.h>

#include "proto/varint.h"

#include <sodium.h>

#include <math.h>
#include <stdlib.h>
#include <string.h>

/* The multiplier of the mapping's generator (odd, so every state has a
 * successor and a predecessor). */
#define MAPPING_MULTIPLIER 0xda942042e4dd58b5ULL
/* 2^32: the end of the index space, and the scale of the generator. */
#define TWO_32 4294967296.0
/* The largest count magnitude a peer may send: far above any set. */
#define COUNT_MAX ((int64_t)1 << 48)

uint64_t nb_riblt_hash(const uint8_t id[NB_RIBLT_ID_SIZE])
{
    uint8_t out[crypto_shorthash_BYTES];
    crypto_shorthash(out, id, NB_RIBLT_ID_SIZE, (const unsigned char *)NB_RIBLT_HASH_KEY);
    uint64_t h = 0;
    for (int i = 7; i >= 0; i--)
        h = (h << 8) | out[i];
    return h;
}

void nb_riblt_mapping_init(struct nb_riblt_mapping *m, uint64_t hash)
{
    m->state = hash;
    m->index = 0;
}

/*
 * The gap to the next index is ceil((i + 1.5) * (2^32 / sqrt(r + 1) - 1))
 * for the current index i and the generator's next value r, i.e. (i + 1.5)
 * ((1 - u)^(-1/2) - 1) for u uniform in [0, 1): this makes index j appear
 * with probability about 1/(1 + j/2).  Every step is one correctly rounded
 * IEEE-754 binary64 operation, in this order, so any implementation gets
 * the same indices.
 */
uint64_t nb_riblt_mapping_next(struct nb_riblt_mapping *m)
{
    if (m->index == NB_RIBLT_INDEX_END)
        return NB_RIBLT_INDEX_END;
    uint64_t r = m->state * MAPPING_MULTIPLIER;
    m->state = r;
    double scale = TWO_32 / sqrt((double)r + 1.0) - 1.0;
    double gap = ceil(((double)m->index + 1.5) * scale);
    /* r within 2^11 of 2^64 rounds to a gap of 0: the next index is still
     * a new one. */
    if (gap < 1.0)
        gap = 1.0;
    double next = (double)m->index + gap;
    m->index = next < TWO_32 ? (uint64_t)next : NB_RIBLT_INDEX_END;
    return m->index;
}

void nb_riblt_symbol_apply(struct nb_riblt_symbol *s, const uint8_t id[NB_RIBLT_ID_SIZE],
                           uint64_t hash, int64_t sign)
{
    /* Eight bytes at a time: a node's whole set goes through here once. */
    for (size_t i = 0; i < NB_RIBLT_ID_SIZE; i += 8) {
        uint64_t a, b;
        memcpy(&a, s->sum + i, 8);
        memcpy(&b, id + i, 8);
        a ^= b;
        memcpy(s->sum + i, &a, 8);
    }
    s->hash ^= hash;
    s->count += sign;
}

/* ---- encoder ------------------------------------------------------------- */

int nb_riblt_encoder_init(struct nb_riblt_encoder *enc, size_t m)
{
    if (m < 1 || m > NB_RIBLT_SYMBOLS_MAX)
        return NB_EINVAL;
    enc->symbols = calloc(m, sizeof(*enc->symbols));
    if (enc->symbols == NULL)
        return NB_ENOMEM;
    enc->m = m;
    enc->ids = 0;
    return 0;
}

void nb_riblt_encoder_free(struct nb_riblt_encoder *enc)
{
    if (enc == NULL)
        return;
    free(enc->symbols);
    enc->symbols = NULL;
    enc->m = 0;
    enc->ids = 0;
}

int nb_riblt_encoder_copy(struct nb_riblt_encoder *dst, const struct nb_riblt_encoder *src)
{
    int r = nb_riblt_encoder_init(dst, src->m);
    if (r < 0)
        return r;
    memcpy(dst->symbols, src->symbols, src->m * sizeof(*src->symbols));
    dst->ids = src->ids;
    return 0;
}

static void encoder_apply(struct nb_riblt_encoder *enc, const uint8_t id[NB_RIBLT_ID_SIZE],
                          int64_t sign)
{
    uint64_t hash = nb_riblt_hash(id);
    struct nb_riblt_mapping map;
    nb_riblt_mapping_init(&map, hash);
    for (uint64_t i = map.index; i < enc->m; i = nb_riblt_mapping_next(&map))
        nb_riblt_symbol_apply(&enc->symbols[i], id, hash, sign);
}

void nb_riblt_encoder_add(struct nb_riblt_encoder *enc, const uint8_t id[NB_RIBLT_ID_SIZE])
{
    encoder_apply(enc, id, 1);
    enc->ids++;
}

void nb_riblt_encoder_remove(struct nb_riblt_encoder *enc, const uint8_t id[NB_RIBLT_ID_SIZE])
{
    encoder_apply(enc, id, -1);
    enc->ids--;
}

/* ---- decoder ------------------------------------------------------------- */

static bool symbol_empty(const struct nb_riblt_symbol *s)
{
    if (s->count != 0 || s->hash != 0)
        return false;
    for (size_t i = 0; i < NB_RIBLT_ID_SIZE; i++)
        if (s->sum[i] != 0)
            return false;
    return true;
}

int nb_riblt_decoder_init(struct nb_riblt_decoder *dec, const struct nb_riblt_encoder *local)
{
    memset(dec, 0, sizeof(*dec));
    dec->local = local;
    return 0;
}

/* Doubles *cap (from `first`, up to `max`) and reallocates each array to it:
 * a decoder holds room for what it received and decoded, not for its bounds. */
static int grow(size_t *cap, size_t first, size_t max, void **arrays[], const size_t sizes[],
                size_t n)
{
    size_t want = *cap == 0 ? first : *cap * 2;
    if (want > max)
        want = max;
    for (size_t i = 0; i < n; i++) {
        void *p = realloc(*arrays[i], want * sizes[i]);
        if (p == NULL)
            return NB_ENOMEM;
        *arrays[i] = p;
    }
    *cap = want;
    return 0;
}

void nb_riblt_decoder_free(struct nb_riblt_decoder *dec)
{
    if (dec == NULL)
        return;
    free(dec->cs);
    free(dec->queued);
    free(dec->pure);
    free(dec->decoded);
    memset(dec, 0, sizeof(*dec));
}

/* Applies an id to received symbol i, keeping the count of non-empty
 * symbols and queueing the symbol when it may have become pure. */
static void decoder_apply(struct nb_riblt_decoder *dec, size_t i, const uint8_t *id, uint64_t hash,
                          int64_t sign)
{
    struct nb_riblt_symbol *c = &dec->cs[i];
    bool was_empty = symbol_empty(c);
    nb_riblt_symbol_apply(c, id, hash, sign);
    bool empty = symbol_empty(c);
    if (was_empty && !empty)
        dec->nonempty++;
    else if (!was_empty && empty)
        dec->nonempty--;
    if (!empty && (c->count == 1 || c->count == -1) && !dec->queued[i]) {
        dec->queued[i] = true;
        dec->pure[dec->n_pure++] = (uint32_t)i;
    }
}

/* Peels every pure symbol, and those that become pure in turn. */
static int peel(struct nb_riblt_decoder *dec)
{
    while (dec->n_pure > 0) {
        size_t i = dec->pure[--dec->n_pure];
        dec->queued[i] = false;
        const struct nb_riblt_symbol *c = &dec->cs[i];
        if (c->count != 1 && c->count != -1)
            continue;
        uint64_t hash = nb_riblt_hash(c->sum);
        if (hash != c->hash)
            continue; /* more than one id, whose counts add up to one */
        if (dec->n_decoded == NB_RIBLT_DIFF_MAX)
            return NB_ETOOBIG;
        if (dec->n_decoded == dec->decoded_cap) {
            void **arrays[] = { (void **)&dec->decoded };
            const size_t sizes[] = { sizeof(*dec->decoded) };
            int r = grow(&dec->decoded_cap, 64, NB_RIBLT_DIFF_MAX, arrays, sizes, 1);
            if (r < 0)
                return r;
        }
        struct nb_riblt_decoded *d = &dec->decoded[dec->n_decoded++];
        memcpy(d->id, c->sum, NB_RIBLT_ID_SIZE);
        d->hash = hash;
        d->side = c->count;
        /* Taking the id out of every received symbol it maps to empties
         * this one and may make others pure. */
        nb_riblt_mapping_init(&d->next, hash);
        for (uint64_t j = d->next.index; j < dec->m; j = nb_riblt_mapping_next(&d->next))
            decoder_apply(dec, j, d->id, d->hash, -d->side);
    }
    return 0;
}

int nb_riblt_decoder_add(struct nb_riblt_decoder *dec, const struct nb_riblt_symbol *remote)
{
    if (dec->m >= dec->local->m)
        return NB_ETOOBIG;
    if (remote->count > COUNT_MAX || remote->count < -COUNT_MAX)
        return NB_EMALFORMED;
    if (dec->m == dec->cap) {
        void **arrays[] = { (void **)&dec->cs, (void **)&dec->queued, (void **)&dec->pure };
        const size_t sizes[] = { sizeof(*dec->cs), sizeof(*dec->queued), sizeof(*dec->pure) };
        int r = grow(&dec->cap, 64, dec->local->m, arrays, sizes, 3);
        if (r < 0)
            return r;
    }
    size_t i = dec->m++;
    dec->queued[i] = false;
    const struct nb_riblt_symbol *own = &dec->local->symbols[i];
    struct nb_riblt_symbol *c = &dec->cs[i];
    *c = *remote;
    for (size_t b = 0; b < NB_RIBLT_ID_SIZE; b++)
        c->sum[b] ^= own->sum[b];
    c->hash ^= own->hash;
    c->count -= own->count;
    if (!symbol_empty(c))
        dec->nonempty++;
    if (i == 0)
        dec->apart = c->count;
    /* The ids decoded so far that map here come out of it.  A linear pass:
     * the decoded ids are few while symbols still arrive, and bounded. */
    for (size_t k = 0; k < dec->n_decoded; k++) {
        struct nb_riblt_decoded *d = &dec->decoded[k];
        if (d->next.index != i)
            continue;
        bool was_empty = symbol_empty(c);
        nb_riblt_symbol_apply(c, d->id, d->hash, -d->side);
        if (was_empty != symbol_empty(c))
            dec->nonempty += was_empty ? 1 : (size_t)-1;
        nb_riblt_mapping_next(&d->next);
    }
    if (!symbol_empty(c) && (c->count == 1 || c->count == -1)) {
        dec->queued[i] = true;
        dec->pure[dec->n_pure++] = (uint32_t)i;
    }
    return peel(dec);
}

bool nb_riblt_decoder_done(const struct nb_riblt_decoder *dec)
{
    return dec->m > 0 && dec->nonempty == 0;
}

/* ---- messages ------------------------------------------------------------ */

struct out {
    uint8_t *p;
    size_t len, cap;
    bool overflow;
};

static void put(struct out *o, const void *bytes, size_t n)
{
    if (o->overflow || n > o->cap - o->len) {
        o->overflow = true;
        return;
    }
    memcpy(o->p + o->len, bytes, n);
    o->len += n;
}

static void put_varint(struct out *o, uint64_t n)
{
    uint8_t tmp[NB_VARINT_MAX];
    put(o, tmp, nb_varint_encode(n, tmp));
}

static void put_header(struct out *o, uint8_t *out, size_t out_cap, enum nb_riblt_msg_type type)
{
    *o = (struct out){ .p = out, .cap = out_cap };
    uint8_t head[2] = { NB_RIBLT_VERSION, (uint8_t)type };
    put(o, head, sizeof(head));
}

static int done(const struct out *o, size_t *ret_len)
{
    if (o->overflow)
        return NB_ETOOBIG;
    *ret_len = o->len;
    return 0;
}

/* Counts travel zigzag-encoded: 0, -1, 1, -2, ... as 0, 1, 2, 3, ... */
static uint64_t zigzag(int64_t v)
{
    return ((uint64_t)v << 1) ^ (uint64_t)(v >> 63);
}

static int64_t unzigzag(uint64_t v)
{
    return (int64_t)(v >> 1) ^ -(int64_t)(v & 1);
}

int nb_riblt_encode_symbols(const struct nb_riblt_encoder *enc, size_t first, size_t n, size_t end,
                            uint8_t *out, size_t out_cap, size_t *ret_len)
{
    if (n < 1 || n > NB_RIBLT_BATCH_MAX || first > enc->m || n > enc->m - first ||
        end < first + n || end > enc->m)
        return NB_EINVAL;
    struct out o;
    put_header(&o, out, out_cap, NB_RIBLT_SYMBOLS);
    put_varint(&o, first);
    put_varint(&o, n);
    put_varint(&o, end);
    for (size_t i = first; i < first + n; i++) {
        const struct nb_riblt_symbol *s = &enc->symbols[i];
        uint8_t hash[8];
        for (int b = 0; b < 8; b++)
            hash[b] = (uint8_t)(s->hash >> (8 * b));
        put(&o, s->sum, NB_RIBLT_ID_SIZE);
        put(&o, hash, sizeof(hash));
        put_varint(&o, zigzag(s->count));
    }
    return done(&o, ret_len);
}

int nb_riblt_encode_more(uint64_t total, uint8_t *out, size_t out_cap, size_t *ret_len)
{
    if (total < 1 || total > NB_RIBLT_SYMBOLS_MAX)
        return NB_EINVAL;
    struct out o;
    put_header(&o, out, out_cap, NB_RIBLT_MORE);
    put_varint(&o, total);
    return done(&o, ret_len);
}

int nb_riblt_encode_diff(bool last, const uint8_t (*have)[NB_RIBLT_ID_SIZE], size_t n_have,
                         const uint8_t (*need)[NB_RIBLT_ID_SIZE], size_t n_need, uint8_t *out,
                         size_t out_cap, size_t *ret_len)
{
    if (n_have > NB_RIBLT_DIFF_IDS_MAX || n_need > NB_RIBLT_DIFF_IDS_MAX - n_have)
        return NB_EINVAL;
    struct out o;
    put_header(&o, out, out_cap, NB_RIBLT_DIFF);
    uint8_t flag = last ? 1 : 0;
    put(&o, &flag, 1);
    put_varint(&o, n_have);
    if (n_have > 0)
        put(&o, have, n_have * NB_RIBLT_ID_SIZE);
    put_varint(&o, n_need);
    if (n_need > 0)
        put(&o, need, n_need * NB_RIBLT_ID_SIZE);
    return done(&o, ret_len);
}

int nb_riblt_encode_fallback(uint8_t *out, size_t out_cap, size_t *ret_len)
{
    struct out o;
    put_header(&o, out, out_cap, NB_RIBLT_FALLBACK);
    return done(&o, ret_len);
}

enum nb_riblt_msg_type nb_riblt_answer(const struct nb_riblt_decoder *dec, int added,
                                       bool flight_end, uint64_t *ret_total)
{
    if (added == 0 && nb_riblt_decoder_done(dec))
        return NB_RIBLT_DIFF;
    /* 1.7 symbols per differing id decode nearly always; a difference of
     * more than the prefix allows at that rate is not worth streaming. */
    uint64_t apart = (uint64_t)(dec->apart < 0 ? -dec->apart : dec->apart);
    uint64_t prefix = dec->local->m;
    if (added < 0 || dec->m >= prefix || apart > prefix * 10 / 17)
        return NB_RIBLT_FALLBACK;
    if (!flight_end)
        return NB_RIBLT_WAIT;
    uint64_t total = 2 * (uint64_t)dec->m;
    if (total < apart * 17 / 10)
        total = apart * 17 / 10;
    *ret_total = total < prefix ? total : prefix;
    return NB_RIBLT_MORE;
}

int nb_riblt_encode_answer(const struct nb_riblt_decoder *dec, size_t *pos, uint8_t *out,
                           size_t out_cap, size_t *ret_len)
{
    /* Both lists are written in place: the ids only the encoding side
     * holds first, then the others, each behind its count. */
    size_t i = *pos, n_have = 0, n_need = 0;
    for (size_t j = i; j < dec->n_decoded && n_have + n_need < NB_RIBLT_DIFF_IDS_MAX; j++) {
        if (dec->decoded[j].side > 0)
            n_have++;
        else
            n_need++;
    }
    size_t end = i + n_have + n_need;
    struct out o;
    put_header(&o, out, out_cap, NB_RIBLT_DIFF);
    uint8_t flag = end == dec->n_decoded ? 1 : 0;
    put(&o, &flag, 1);
    put_varint(&o, n_have);
    for (size_t j = i; j < end; j++)
        if (dec->decoded[j].side > 0)
            put(&o, dec->decoded[j].id, NB_RIBLT_ID_SIZE);
    put_varint(&o, n_need);
    for (size_t j = i; j < end; j++)
        if (dec->decoded[j].side < 0)
            put(&o, dec->decoded[j].id, NB_RIBLT_ID_SIZE);
    int r = done(&o, ret_len);
    if (r == 0)
        *pos = end;
    return r;
}

struct in {
    const uint8_t *p;
    size_t left;
};

static int take(struct in *in, size_t n, const uint8_t **ret)
{
    if (n > in->left)
        return NB_EMALFORMED;
    *ret = in->p;
    in->p += n;
    in->left -= n;
    return 0;
}

/* A minimal varint no larger than max. */
static int take_varint(struct in *in, uint64_t max, uint64_t *ret)
{
    uint64_t v;
    int r = nb_varint_read(&in->p, &in->left, true, &v);
    if (r < 0)
        return r;
    if (v > max)
        return NB_EMALFORMED;
    *ret = v;
    return 0;
}

/* An id list: its count, checked against the bytes that remain before it
 * is believed, then the ids. */
static int take_ids(struct in *in, uint64_t max, const uint8_t **ret, size_t *ret_n)
{
    uint64_t n;
    int r = take_varint(in, max, &n);
    if (r < 0)
        return r;
    if (n > in->left / NB_RIBLT_ID_SIZE)
        return NB_EMALFORMED;
    r = take(in, (size_t)n * NB_RIBLT_ID_SIZE, ret);
    *ret_n = (size_t)n;
    return r;
}

int nb_riblt_msg_decode(const uint8_t *buf, size_t len, struct nb_riblt_msg *ret,
                        struct nb_riblt_symbol symbols[NB_RIBLT_BATCH_MAX])
{
    struct in in = { buf, len };
    struct nb_riblt_msg m = { 0 };
    const uint8_t *head;
    uint64_t v;
    int r = take(&in, 2, &head);
    if (r < 0)
        return r;
    if (head[0] != NB_RIBLT_VERSION)
        return NB_EVERSION;
    m.type = head[1];
    switch (head[1]) {
    case NB_RIBLT_SYMBOLS: {
        uint64_t n;
        if (take_varint(&in, NB_RIBLT_SYMBOLS_MAX - 1, &m.first) < 0 ||
            take_varint(&in, NB_RIBLT_BATCH_MAX, &n) < 0 || n < 1 ||
            n > NB_RIBLT_SYMBOLS_MAX - m.first ||
            take_varint(&in, NB_RIBLT_SYMBOLS_MAX, &m.end) < 0 || m.end < m.first + n)
            return NB_EMALFORMED;
        /* Each symbol takes at least 41 bytes: check before decoding any. */
        if (n > in.left / (NB_RIBLT_ID_SIZE + 9))
            return NB_EMALFORMED;
        for (size_t i = 0; i < n; i++) {
            const uint8_t *sum, *hash;
            if (take(&in, NB_RIBLT_ID_SIZE, &sum) < 0 || take(&in, 8, &hash) < 0 ||
                take_varint(&in, 2 * (uint64_t)COUNT_MAX, &v) < 0)
                return NB_EMALFORMED;
            memcpy(symbols[i].sum, sum, NB_RIBLT_ID_SIZE);
            symbols[i].hash = 0;
            for (int b = 7; b >= 0; b--)
                symbols[i].hash = (symbols[i].hash << 8) | hash[b];
            symbols[i].count = unzigzag(v);
        }
        m.n_symbols = (size_t)n;
        break;
    }
    case NB_RIBLT_MORE:
        if (take_varint(&in, NB_RIBLT_SYMBOLS_MAX, &m.total) < 0 || m.total < 1)
            return NB_EMALFORMED;
        break;
    case NB_RIBLT_DIFF: {
        const uint8_t *flag;
        if (take(&in, 1, &flag) < 0 || flag[0] > 1)
            return NB_EMALFORMED;
        m.last = flag[0] == 1;
        if (take_ids(&in, NB_RIBLT_DIFF_IDS_MAX, &m.have, &m.n_have) < 0 ||
            take_ids(&in, NB_RIBLT_DIFF_IDS_MAX - m.n_have, &m.need, &m.n_need) < 0)
            return NB_EMALFORMED;
        break;
    }
    case NB_RIBLT_FALLBACK:
        break;
    default:
        return NB_EMALFORMED;
    }
    if (in.left != 0)
        return NB_EMALFORMED;
    *ret = m;
    return 0;
}
