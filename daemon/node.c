#include "daemon/node.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <sodium.h>

#include <noaber/error.h>

#include "daemon/log.h"
#include "daemon/marker.h"
#include "daemon/store/store_tally.h"
#include "proto/mp.h"

#define META_NAME "neighbourhood.name"
#define META_KEY  "neighbourhood.key"
#define META_ID   "neighbourhood.id"

static const char msg_no_neighbourhood[] =
    "this node has no neighbourhood yet: run `noaber neighbourhood create NAME` first";
static const char msg_gone[] =
    "this record was retracted or has expired and was deleted; it is not stored again";
/* A member's program signs with its own clock: a new post that arrives
 * already expired says that clock and this node's disagree, not that anyone
 * retracted anything. */
static const char msg_expired_on_arrival[] =
    "this record had expired by this node's clock before it arrived: the clock of the computer "
    "that signed it and the node's disagree; check both (`noaber status` compares them)";
static const char msg_target_gone[] =
    "the record this one acts on was retracted or has expired and was deleted";
static const char msg_not_found[] = "the record this one acts on is not on this node";
static const char msg_store[] = "the node's store failed; see the daemon's log";
static const char msg_not_author[] = "only the author of a record can retract it";
static const char msg_not_lifecycle[] = "this kind of record cannot act on that kind of record";
static const char msg_blocked[] = "this node's operator blocked this member";
static const char msg_retracted_first[] =
    "this record's author retracted it before it reached this node; it is not stored";

static int fail(struct nbd_verdict *v, int code, const char *error, const char *message)
{
    v->code = code;
    v->error = error;
    v->message = message;
    return code;
}

int nbd_node_init(struct nbd_node *node, struct nbd_store *store, uint64_t purge_grace)
{
    memset(node, 0, sizeof(*node));
    node->store = store;
    node->purge_grace = purge_grace;
    node->quota_hour = NBD_QUOTA_HOUR_DEFAULT;
    node->quota_day = NBD_QUOTA_DAY_DEFAULT;

    size_t name_len = 0, key_len = 0;
    int r = nbd_store_meta_get(store, META_NAME, (uint8_t *)node->neighbourhood_name, NB_NAME_MAX,
                               &name_len);
    if (r == NB_ENOENT)
        return 0;
    if (r < 0)
        return r;
    node->neighbourhood_name[name_len] = '\0';
    r = nbd_store_meta_get(store, META_KEY, node->neighbourhood_key, NB_NEIGHBOURHOOD_KEY_SIZE,
                           &key_len);
    if (r < 0 || key_len != NB_NEIGHBOURHOOD_KEY_SIZE)
        return r < 0 ? r : NB_EDAMAGED;
    r = nb_neighbourhood_id(node->neighbourhood_key, node->neighbourhood_id);
    if (r < 0)
        return r;
    /* A changed byte in the key would make the node sign and check under
     * another neighbourhood: every record refused, silently.  The id kept
     * beside the key tells. */
    uint8_t kept_id[NB_NEIGHBOURHOOD_ID_SIZE];
    size_t id_len = 0;
    r = nbd_store_meta_get(store, META_ID, kept_id, sizeof(kept_id), &id_len);
    if (r < 0 && r != NB_ENOENT)
        return r;
    if (r == 0 && (id_len != sizeof(kept_id) ||
                   sodium_memcmp(kept_id, node->neighbourhood_id, sizeof(kept_id)) != 0)) {
        sodium_memzero(node->neighbourhood_key, sizeof(node->neighbourhood_key));
        return NB_EDAMAGED;
    }
    node->has_neighbourhood = true;
    return 0;
}

/* A hook call held back until the batch holding its record is committed. */
struct nbd_deferred {
    uint8_t id[NB_ID_SIZE];
    uint8_t *bytes; /* the record's own copy: the caller's bytes are gone by then */
    size_t len;
    struct nb_record rec; /* decoded from `bytes` when the record came in */
    struct nbd_origin origin;
};

static void drop_deferred(struct nbd_node *node)
{
    for (size_t i = 0; i < node->n_deferred; i++)
        free(node->deferred[i].bytes);
    node->n_deferred = 0;
}

/* Keeps the record for the hooks; they cannot run before the commit.  Takes
 * `copy` (the bytes `rec` points into) on success. */
static int defer_hooks(struct nbd_node *node, const uint8_t id[NB_ID_SIZE], uint8_t *copy,
                       size_t len, const struct nb_record *rec, struct nbd_origin origin)
{
    if (node->n_hooks == 0)
        return 0;
    if (node->n_deferred == node->cap_deferred) {
        size_t cap = node->cap_deferred ? node->cap_deferred * 2 : 64;
        struct nbd_deferred *d = realloc(node->deferred, cap * sizeof(*d));
        if (d == NULL)
            return NB_ENOMEM;
        node->deferred = d;
        node->cap_deferred = cap;
    }
    struct nbd_deferred *d = &node->deferred[node->n_deferred++];
    memcpy(d->id, id, NB_ID_SIZE);
    d->bytes = copy;
    d->len = len;
    d->rec = *rec;
    d->origin = origin;
    return 0;
}

static void run_deferred(struct nbd_node *node)
{
    /* Hooks announce; they never hand records in (that would change this
     * list while it is walked). */
    for (size_t i = 0; i < node->n_deferred; i++) {
        const struct nbd_deferred *d = &node->deferred[i];
        for (size_t h = 0; h < node->n_hooks; h++)
            node->hooks[h].fn(node->hooks[h].ctx, d->id, d->bytes, d->len, &d->rec, &d->origin);
    }
    drop_deferred(node);
}

int nbd_node_flush(struct nbd_node *node)
{
    if (node->batch_open) {
        node->batch_open = false;
        int r = nbd_store_commit(node->store);
        if (r < 0) {
            /* Nothing of the batch is stored: nothing may be announced,
             * and the caller fails every reply it held back. */
            drop_deferred(node);
            if (node->batch_error == 0)
                node->batch_error = r;
            return r;
        }
    }
    run_deferred(node);
    return node->batch_error;
}

void nbd_node_batch_begin(struct nbd_node *node)
{
    node->batch_depth++;
}

void nbd_node_batch_leave_open(struct nbd_node *node)
{
    if (node->batch_depth > 0)
        node->batch_depth--;
}

int nbd_node_batch_end(struct nbd_node *node)
{
    if (node->batch_depth == 0)
        return 0;
    if (--node->batch_depth > 0)
        return 0;
    nbd_node_flush(node);
    int r = node->batch_error;
    node->batch_error = 0;
    /* Reads in the batch may have met damaged records; the batch is over,
     * so removing them cannot disturb it. */
    nbd_node_repair(node);
    return r;
}

int nbd_node_repair(struct nbd_node *node)
{
    if (node->batch_depth > 0 || node->batch_open)
        return 0;
    return nbd_store_repair(node->store, node->on_repaired, node->repaired_ctx);
}

void nbd_node_catching_up(struct nbd_node *node, uint64_t fetching, uint64_t now_ms)
{
    if (node->batch_depth > 0 || node->batch_open)
        return;
    if (fetching > 0) {
        node->catchup_idle_at = 0;
    } else if (node->catchup_idle_at == 0) {
        node->catchup_idle_at = now_ms;
        node->catchup_judged = false;
    }
    if (!node->indexes_deferred && fetching >= NBD_CATCHUP_MIN && !node->catchup_judged) {
        /* Building the indexes again sorts every record held: worth it when
         * the records to come are many against those held (each spares
         * about three random page writes, each held record costs a few
         * dozen bytes of sorted index). */
        uint64_t held = 0;
        node->catchup_judged = true;
        if (nbd_store_count(node->store, &held, NULL) < 0 || fetching < held / 16)
            return;
        int r = nbd_store_defer_indexes(node->store);
        if (r < 0) {
            nbd_warn("cannot set the store's indexes aside for a catch-up: %s", nb_strerror(r));
            return;
        }
        node->indexes_deferred = true;
        nbd_info("catching up on %llu records: the store builds its order, kind and expiry "
                 "indexes once it is over",
                 (unsigned long long)fetching);
    } else if (node->indexes_deferred && node->catchup_idle_at != 0 &&
               now_ms - node->catchup_idle_at >= NBD_CATCHUP_SETTLE_MS) {
        struct timespec t0, t1;
        clock_gettime(CLOCK_MONOTONIC, &t0);
        int r = nbd_store_build_indexes(node->store);
        if (r < 0) {
            /* The queries still answer by scanning; the next call tries
             * again, and the next start builds them in any case. */
            nbd_warn("cannot build the store's indexes after a catch-up: %s", nb_strerror(r));
            return;
        }
        node->indexes_deferred = false;
        clock_gettime(CLOCK_MONOTONIC, &t1);
        nbd_info("caught up: built the store's order, kind and expiry indexes in %lld ms",
                 (long long)(t1.tv_sec - t0.tv_sec) * 1000 + (t1.tv_nsec - t0.tv_nsec) / 1000000);
    }
}

void nbd_node_clear(struct nbd_node *node)
{
    /* A batch left open would otherwise be rolled back by closing the
     * store; commit it rather than lose what it holds. */
    nbd_node_flush(node);
    drop_deferred(node);
    free(node->deferred);
    node->deferred = NULL;
    node->cap_deferred = 0;
    node->batch_depth = 0;
    node->batch_error = 0;
    sodium_memzero(node->neighbourhood_key, sizeof(node->neighbourhood_key));
    node->has_neighbourhood = false;
    node->n_hooks = 0;
}

int nbd_node_add_hook(struct nbd_node *node, nbd_accept_hook fn, void *ctx)
{
    if (node->n_hooks == NBD_HOOKS_MAX)
        return NB_ETOOBIG;
    node->hooks[node->n_hooks].fn = fn;
    node->hooks[node->n_hooks].ctx = ctx;
    node->n_hooks++;
    return 0;
}

void nbd_node_remove_hook(struct nbd_node *node, nbd_accept_hook fn, void *ctx)
{
    for (size_t i = 0; i < node->n_hooks; i++) {
        if (node->hooks[i].fn == fn && node->hooks[i].ctx == ctx) {
            memmove(&node->hooks[i], &node->hooks[i + 1],
                    (node->n_hooks - i - 1) * sizeof(node->hooks[0]));
            node->n_hooks--;
            return;
        }
    }
}

/* Stores name, key and id in one transaction and makes them the node's. */
static int keep_neighbourhood(struct nbd_node *node, const char *name, size_t len,
                              const uint8_t key[NB_NEIGHBOURHOOD_KEY_SIZE], struct nbd_verdict *v)
{
    uint8_t id[NB_NEIGHBOURHOOD_ID_SIZE];
    int r;

    r = nb_neighbourhood_id(key, id);
    if (r < 0)
        return fail(v, r, "internal", "cannot derive the neighbourhood id");
    /* The node takes the neighbourhood only once it is durable, so it must
     * not ride in an open batch (a failure there is the batch's to report). */
    nbd_node_flush(node);
    r = nbd_store_begin(node->store);
    if (r < 0)
        return fail(v, r, "internal", msg_store);
    r = nbd_store_meta_set(node->store, META_NAME, (const uint8_t *)name, len);
    if (r == 0)
        r = nbd_store_meta_set(node->store, META_KEY, key, NB_NEIGHBOURHOOD_KEY_SIZE);
    if (r == 0)
        r = nbd_store_meta_set(node->store, META_ID, id, sizeof(id));
    if (r == 0)
        r = nbd_store_commit(node->store);
    else
        nbd_store_rollback(node->store);
    if (r < 0)
        return fail(v, r, "internal", msg_store);
    memcpy(node->neighbourhood_name, name, len);
    node->neighbourhood_name[len] = '\0';
    memcpy(node->neighbourhood_key, key, NB_NEIGHBOURHOOD_KEY_SIZE);
    memcpy(node->neighbourhood_id, id, sizeof(id));
    node->has_neighbourhood = true;
    /* The store holds the neighbourhood now; without the marker a lost
     * store would later look like a new node.  The daemon writes a missing
     * marker again at its next start. */
    if (node->marker_dir != NULL && nbd_marker_write(node->marker_dir, id) < 0)
        nbd_warn("cannot write %s/%s: %s", node->marker_dir, NBD_MARKER_NAME, strerror(errno));
    return 0;
}

static bool good_name(const char *name, size_t len)
{
    return len >= 1 && len <= NB_NAME_MAX && nb_utf8_check(name, len, 0) == 0;
}

int nbd_node_create_neighbourhood(struct nbd_node *node, const char *name, size_t len,
                                  struct nbd_verdict *v)
{
    uint8_t key[NB_NEIGHBOURHOOD_KEY_SIZE];
    int r;

    if (node->has_neighbourhood)
        return fail(v, NB_EEXIST, "refused",
                    "this node already belongs to a neighbourhood; a node serves one");
    if (!good_name(name, len))
        return fail(v, NB_EINVAL, "bad_request",
                    "a neighbourhood name is 1 to 64 bytes of text without control characters");
    r = nb_neighbourhood_key_new(key);
    if (r < 0)
        fail(v, r, "internal", "cannot make a neighbourhood key");
    else
        r = keep_neighbourhood(node, name, len, key, v);
    sodium_memzero(key, sizeof(key));
    return r;
}

int nbd_node_join_neighbourhood(struct nbd_node *node, const char *name, size_t len,
                                const uint8_t key[NB_NEIGHBOURHOOD_KEY_SIZE], bool *ret_already,
                                struct nbd_verdict *v)
{
    int r;

    if (node->has_neighbourhood) {
        /* The same invite pasted twice, or a second invite to the same
         * neighbourhood, is harmless; another neighbourhood's is not. */
        if (sodium_memcmp(node->neighbourhood_key, key, NB_NEIGHBOURHOOD_KEY_SIZE) != 0)
            return fail(v, NB_EEXIST, "refused",
                        "this node already belongs to another neighbourhood; a node serves one "
                        "(use a fresh data directory for a second neighbourhood)");
        *ret_already = true;
        return 0;
    }
    if (!good_name(name, len))
        return fail(v, NB_EINVAL, "bad_request",
                    "a neighbourhood name is 1 to 64 bytes of text without control characters");
    r = keep_neighbourhood(node, name, len, key, v);
    if (r < 0)
        return r;
    *ret_already = false;
    return 0;
}

/* The records of one root, copied out of the store so they can be decoded
 * and handed to nb_state_derive together. */
struct related {
    uint8_t *bytes;
    size_t used, cap;
    size_t *offsets, *lens;
    uint8_t (*ids)[NB_ID_SIZE];
    size_t n, cap_n;
};

static int collect_related(void *ctx, const struct nbd_store_record *rec)
{
    struct related *rel = ctx;
    if (rel->used + rec->len > rel->cap) {
        size_t cap = rel->cap ? rel->cap * 2 : 16384;
        while (cap < rel->used + rec->len)
            cap *= 2;
        uint8_t *p = realloc(rel->bytes, cap);
        if (p == NULL)
            return NB_ENOMEM;
        rel->bytes = p;
        rel->cap = cap;
    }
    if (rel->n == rel->cap_n) {
        size_t cap = rel->cap_n ? rel->cap_n * 2 : 16;
        size_t *o = realloc(rel->offsets, cap * sizeof(size_t));
        if (o == NULL)
            return NB_ENOMEM;
        rel->offsets = o;
        size_t *l = realloc(rel->lens, cap * sizeof(size_t));
        if (l == NULL)
            return NB_ENOMEM;
        rel->lens = l;
        void *ids = realloc(rel->ids, cap * NB_ID_SIZE);
        if (ids == NULL)
            return NB_ENOMEM;
        rel->ids = ids;
        rel->cap_n = cap;
    }
    memcpy(rel->bytes + rel->used, rec->bytes, rec->len);
    rel->offsets[rel->n] = rel->used;
    rel->lens[rel->n] = rec->len;
    memcpy(rel->ids[rel->n], rec->id, NB_ID_SIZE);
    rel->used += rec->len;
    rel->n++;
    return 0;
}

int nbd_node_derive(struct nbd_node *node, const struct nbd_store_record *root, uint64_t now,
                    struct nb_state *ret)
{
    struct related rel = { 0 };
    struct nb_record *records = NULL;
    uint8_t(*ids)[NB_ID_SIZE] = NULL;
    struct nb_record root_rec;
    int r;

    if (root->kind != NB_KIND_REQUEST && root->kind != NB_KIND_OFFER)
        return NB_EINVAL;
    r = nb_record_decode(root->bytes, root->len, &root_rec);
    if (r < 0)
        return r;
    r = nbd_store_foreach_in_root(node->store, root->id, collect_related, &rel);
    if (r < 0)
        goto out;
    records = calloc(rel.n ? rel.n : 1, sizeof(*records));
    ids = calloc(rel.n ? rel.n : 1, NB_ID_SIZE);
    if (records == NULL || ids == NULL) {
        r = NB_ENOMEM;
        goto out;
    }
    /* Stored records were verified when they arrived; one that no longer
     * decodes (a damaged row) is left out rather than failing the request. */
    size_t n = 0;
    for (size_t i = 0; i < rel.n; i++) {
        if (nb_record_decode(rel.bytes + rel.offsets[i], rel.lens[i], &records[n]) == 0) {
            memcpy(ids[n], rel.ids[i], NB_ID_SIZE);
            n++;
        }
    }
    r = nb_state_derive(&root_rec, root->id, records, (const uint8_t(*)[NB_ID_SIZE])ids, n, now,
                        ret);
out:
    free(records);
    free(ids);
    free(rel.bytes);
    free(rel.offsets);
    free(rel.lens);
    free(rel.ids);
    return r;
}

static bool is_root_kind(unsigned kind)
{
    return kind == NB_KIND_REQUEST || kind == NB_KIND_OFFER;
}

/* Kinds that take part in a request's or offer's lifecycle (noaber/state.h). */
static bool is_lifecycle_kind(unsigned kind)
{
    switch (kind) {
    case NB_KIND_RESPONSE:
    case NB_KIND_WITHDRAWAL:
    case NB_KIND_ASSIGNMENT:
    case NB_KIND_DONE_CLAIM:
    case NB_KIND_CONFIRMATION:
    case NB_KIND_CANCELLATION:
    case NB_KIND_RETRACTION:
    case NB_KIND_PAUSE:
        return true;
    default:
        return false;
    }
}

int nbd_node_block(struct nbd_node *node, const uint8_t member[NB_KEY_SIZE], uint64_t now,
                   uint64_t *ret_deleted, struct nbd_verdict *v)
{
    uint64_t deleted = 0;
    memset(v, 0, sizeof(*v));
    int r = nbd_store_begin(node->store);
    if (r < 0)
        return fail(v, r, "internal", msg_store);
    r = nbd_store_block_add(node->store, member, now);
    if (r == NB_EEXIST)
        r = 0; /* blocking twice keeps the first date */
    /* Everything the member signed goes with what rests on it; the
     * tombstones last as long as any of those records could still be
     * offered by a peer. */
    if (r == 0)
        r = nbd_store_purge_author(node->store, member, true, NB_EXPIRY_MAX, NULL, &deleted);
    if (r == 0)
        r = nbd_store_commit(node->store);
    if (r < 0) {
        nbd_store_rollback(node->store);
        return fail(v, r, "internal", msg_store);
    }
    if (ret_deleted != NULL)
        *ret_deleted = deleted;
    return 0;
}

int nbd_node_unblock(struct nbd_node *node, const uint8_t member[NB_KEY_SIZE],
                     struct nbd_verdict *v)
{
    memset(v, 0, sizeof(*v));
    int r = nbd_store_block_remove(node->store, member);
    if (r == NB_ENOENT)
        return fail(v, r, "not_found", "this member is not blocked on this node");
    if (r < 0)
        return fail(v, r, "internal", msg_store);
    return 0;
}

/* ---- accepting a record ---------------------------------------------------- */

/*
 * How long a retraction of a record the node does not hold is kept: the
 * longest its target could still be accepted.  A target is signed before
 * its retraction, at most NB_FUTURE_SKEW ahead of the clock, and lives at
 * most NB_EXPIRY_MAX past its created_at (docs/protocol.md, "Retention").
 * A refused record that a peer might offer again is kept out as long.
 */
#define KEEP_UNSEEN ((uint64_t)NB_EXPIRY_MAX + NB_FUTURE_SKEW)

/* One record on its way in: what the steps of nbd_node_accept learn. */
struct incoming {
    const uint8_t *id;
    const uint8_t *bytes;
    size_t len;
    struct nbd_origin origin;
    uint64_t now;
    /* The bytes `rec` points into when the hooks will need them after the
     * commit: the record is decoded once, from this copy. */
    uint8_t *copy;
    struct nb_record rec;
    struct nbd_store_record row; /* what is inserted */

    struct nbd_store_record target, root;
    uint8_t target_buf[NB_RECORD_MAX], root_buf[NB_RECORD_MAX];
    bool target_held;
    /* A retraction: what it deletes now (the target's tree) and until when
     * the tombstones last. */
    bool purges_target;
    bool has_root_expiry;
    uint64_t root_expiry;
    /* Too old to be stored, but still able to settle the retractions that
     * were waiting for it. */
    bool expired;
};

static enum nbd_accept_verdict refuse(struct nbd_accept_report *ret,
                                      enum nbd_accept_verdict verdict, int code,
                                      const char *message)
{
    ret->code = code;
    ret->message = message;
    return verdict;
}

static enum nbd_accept_verdict store_failed(struct nbd_accept_report *ret, int code)
{
    return refuse(ret, NBD_INTERNAL, code, msg_store);
}

/* A record too old to be stored: gone, from a peer; from a member's own
 * program, new and already expired, a sign of clocks that disagree. */
static enum nbd_accept_verdict refuse_expired(const struct incoming *in,
                                              struct nbd_accept_report *ret)
{
    if (in->origin.kind != NBD_ORIGIN_PEER)
        return refuse(ret, NBD_REFUSED, NB_EEXPIRED, msg_expired_on_arrival);
    return refuse(ret, NBD_GONE, NB_EEXPIRED, msg_gone);
}

const char *nbd_accept_error(enum nbd_accept_verdict verdict)
{
    switch (verdict) {
    case NBD_ACCEPTED:
        return NULL;
    case NBD_REFUSED:
    case NBD_OVER_QUOTA:
        return "refused";
    case NBD_INVALID_RECORD:
        return "invalid_record";
    case NBD_NOT_FOUND:
        return "not_found";
    case NBD_GONE:
        return "gone";
    case NBD_INTERNAL:
        break;
    }
    return "internal";
}

/*
 * Tombstones a peer's record the node refuses for good, so reconciliation
 * stops offering it: otherwise every round would fetch it again.
 */
static int keep_out(struct nbd_node *node, const struct incoming *in, uint64_t until)
{
    if (in->origin.kind != NBD_ORIGIN_PEER)
        return 0;
    int r = nbd_store_begin(node->store);
    if (r == 0)
        r = nbd_store_tombstone(node->store, in->id, in->rec.author, true, until);
    if (r == 0)
        r = nbd_store_commit(node->store);
    else
        nbd_store_rollback(node->store);
    return r;
}

/* Checks `rec` against the lifecycle of its root. */
static enum nbd_accept_verdict check_lifecycle(struct nbd_node *node, const struct incoming *in,
                                               struct nbd_accept_report *ret)
{
    const struct nb_record *rec = &in->rec;
    struct nb_record root_rec;
    struct nb_state st;
    const char *reason = NULL;
    int r;

    memset(&st, 0, sizeof(st));
    if (in->origin.kind == NBD_ORIGIN_PEER) {
        r = nb_record_decode(in->root.bytes, in->root.len, &root_rec);
        if (r < 0)
            return store_failed(ret, NB_EIO);
        r = nb_state_admissible(&root_rec, in->root.id, rec, &reason);
    } else {
        r = nbd_node_derive(node, &in->root, in->now, &st);
        if (r < 0)
            return store_failed(ret, r == NB_ENOMEM ? r : NB_EIO);
        r = nb_state_check(&st, rec, in->now, &reason);
        /* The fold orders records by their signed time: a record dated
         * before the latest applied change would be acknowledged here and
         * then ignored by every node deriving the state. */
        if (r == 0 && rec->created_at < st.updated_at) {
            r = NB_ESTATE;
            reason = "the record is dated before the latest change to this request or offer: "
                     "check the clock of the device that signed it";
        }
        nb_state_free(&st);
    }
    if (r < 0)
        return refuse(ret, NBD_REFUSED, r, reason != NULL ? reason : nb_strerror(r));
    return NBD_ACCEPTED;
}

/* Remembers an author refused for a quota; true the first time for this
 * window (the refusal is logged once per author and window). */
static bool note_over_quota(struct nbd_node *node, const uint8_t author[NB_KEY_SIZE],
                            uint64_t window_start, uint32_t window, uint32_t limit, uint64_t now)
{
    struct nbd_over_quota *slot = NULL;
    for (size_t i = 0; i < node->n_over_quota; i++) {
        struct nbd_over_quota *o = &node->over_quota[i];
        if (memcmp(o->author, author, NB_KEY_SIZE) == 0 && o->window == window &&
            o->window_start == window_start) {
            o->refused++;
            o->last_at = now;
            return false;
        }
    }
    if (node->n_over_quota < NBD_OVER_QUOTA_MAX) {
        slot = &node->over_quota[node->n_over_quota++];
    } else {
        /* The entry refused longest ago makes room. */
        slot = &node->over_quota[0];
        for (size_t i = 1; i < node->n_over_quota; i++)
            if (node->over_quota[i].last_at < slot->last_at)
                slot = &node->over_quota[i];
    }
    memcpy(slot->author, author, NB_KEY_SIZE);
    slot->window_start = window_start;
    slot->window = window;
    slot->limit = limit;
    slot->refused = 1;
    slot->last_at = now;
    return true;
}

/*
 * At most quota_hour records of one author dated in one UTC hour, and
 * quota_day in one UTC day.  The windows are of created_at, which every
 * node reads the same, so a flood stops at the first honest node whatever
 * link it came through.
 */
static enum nbd_accept_verdict check_quota(struct nbd_node *node, const struct incoming *in,
                                           struct nbd_accept_report *ret)
{
    const struct {
        uint32_t seconds, limit;
        const char *word;
    } windows[] = {
        { 3600, node->quota_hour, "hour" },
        { 86400, node->quota_day, "day" },
    };
    for (size_t i = 0; i < sizeof(windows) / sizeof(windows[0]); i++) {
        if (windows[i].limit == 0)
            continue;
        uint64_t start = in->rec.created_at - in->rec.created_at % windows[i].seconds;
        uint64_t n = 0;
        int r = nbd_store_count_author(node->store, in->rec.author, start,
                                       start + windows[i].seconds, &n);
        if (r < 0)
            return store_failed(ret, r);
        if (n < windows[i].limit)
            continue;
        if (note_over_quota(node, in->rec.author, start, windows[i].seconds, windows[i].limit,
                            in->now)) {
            char hex[2 * NB_KEY_SIZE + 1];
            nb_hex(in->rec.author, NB_KEY_SIZE, hex);
            nbd_warn("member %s signed more than %u records dated in one %s (from %llu); the "
                     "rest of that %s is refused and not relayed",
                     hex, windows[i].limit, windows[i].word, (unsigned long long)start,
                     windows[i].word);
        }
        r = keep_out(node, in, in->rec.created_at + KEEP_UNSEEN);
        if (r < 0)
            return store_failed(ret, r);
        snprintf(ret->text, sizeof(ret->text),
                 "this member has signed %u records dated in this %s (UTC), the most a node "
                 "accepts; wait for the next %s",
                 windows[i].limit, windows[i].word, windows[i].word);
        return refuse(ret, NBD_OVER_QUOTA, NB_EPERM, ret->text);
    }
    return NBD_ACCEPTED;
}

/*
 * Step 1: the record itself.  Decodes, verifies and validates it (once,
 * from a copy that outlives the caller's bytes when hooks will announce
 * it), refuses a blocked author, sets the row's expiry, refuses what has
 * already expired for good, and applies the author's quota.
 */
static enum nbd_accept_verdict check_record(struct nbd_node *node, struct incoming *in,
                                            struct nbd_accept_report *ret)
{
    const uint8_t *bytes = in->bytes;
    if (node->n_hooks > 0) {
        in->copy = malloc(in->len);
        if (in->copy == NULL)
            return store_failed(ret, NB_ENOMEM);
        memcpy(in->copy, in->bytes, in->len);
        bytes = in->copy;
    }
    int r;
    if (in->origin.signature_checked) {
        /* The same checks as nb_record_open but the signature's. */
        r = nb_record_decode(bytes, in->len, &in->rec);
        if (r == 0)
            r = nb_record_validate(&in->rec, in->now);
    } else {
        r = nb_record_open(bytes, in->len, node->neighbourhood_id, in->now, &in->rec);
    }
    if (r < 0)
        return refuse(ret, NBD_INVALID_RECORD, r, nb_strerror(r));

    r = nbd_store_is_blocked(node->store, in->rec.author);
    if (r < 0)
        return store_failed(ret, r);
    if (r == 1) {
        /* Kept out for as long as any record may live. */
        r = keep_out(node, in, in->rec.created_at + NB_EXPIRY_MAX);
        if (r < 0)
            return store_failed(ret, r);
        return refuse(ret, NBD_REFUSED, NB_EPERM, msg_blocked);
    }

    struct nbd_store_record *row = &in->row;
    memcpy(row->id, in->id, NB_ID_SIZE);
    row->kind = in->rec.kind;
    memcpy(row->author, in->rec.author, NB_KEY_SIZE);
    row->created_at = in->rec.created_at;
    row->bytes = in->bytes;
    row->len = in->len;
    if (is_root_kind(in->rec.kind)) {
        row->has_expiry = true;
        row->expires_at = NB_HAS(&in->rec, NB_F_EXPIRES_AT)
                              ? in->rec.expires_at
                              : in->rec.created_at + NB_EXPIRY_DEFAULT;
    } else if (NB_HAS(&in->rec, NB_F_EXPIRES_AT)) {
        row->has_expiry = true;
        row->expires_at = in->rec.expires_at;
    }
    /* A record whose purge time has already passed would be deleted at the
     * next purge; once its tombstone is gone this rule is what keeps it out. */
    if (row->has_expiry && row->expires_at < in->now &&
        in->now - row->expires_at > node->purge_grace) {
        in->expired = true;
        return refuse_expired(in, ret);
    }
    return check_quota(node, in, ret);
}

/*
 * A retraction of a record the node does not hold, from a peer.  If the
 * target was purged, the tombstone remembers its author: a retraction by
 * anyone else is refused (and kept out) as it would have been while the
 * target was here.  Otherwise the retraction is kept, for as long as its
 * target could still arrive, and decides nothing yet: settle_retractions()
 * judges it when the target comes.
 */
static enum nbd_accept_verdict retraction_of_unheld(struct nbd_node *node, struct incoming *in,
                                                    struct nbd_accept_report *ret)
{
    struct nbd_tombstone tomb;
    int r = nbd_store_tombstone_get(node->store, in->rec.target, &tomb);
    if (r < 0 && r != NB_ENOENT)
        return store_failed(ret, r);
    in->row.has_root = false;
    if (r == 0) {
        if (tomb.has_author && memcmp(tomb.author, in->rec.author, NB_KEY_SIZE) != 0) {
            r = keep_out(node, in, in->rec.created_at + KEEP_UNSEEN);
            if (r < 0)
                return store_failed(ret, r);
            return refuse(ret, NBD_REFUSED, NB_EPERM, msg_not_author);
        }
        /* It outlives the tombstone, which is what it tells peers about. */
        in->row.has_expiry = tomb.has_until;
        in->row.expires_at = tomb.until;
        return NBD_ACCEPTED;
    }
    in->row.has_expiry = true;
    in->row.expires_at = in->rec.created_at + KEEP_UNSEEN;
    return NBD_ACCEPTED;
}

/*
 * Step 2: the record's target and the request or offer at its root.  A
 * record that acts on something the node does not hold waits (not_found),
 * or is gone with it; a peer's retraction is the exception (above).
 */
static enum nbd_accept_verdict find_target_and_root(struct nbd_node *node, struct incoming *in,
                                                    struct nbd_accept_report *ret)
{
    if (!NB_HAS(&in->rec, NB_F_TARGET))
        return NBD_ACCEPTED;
    memcpy(in->row.target, in->rec.target, NB_ID_SIZE);
    in->row.has_target = true;
    int r = nbd_store_get(node->store, in->rec.target, &in->target, in->target_buf);
    if (r == NB_ENOENT) {
        if (in->origin.kind == NBD_ORIGIN_PEER && in->rec.kind == NB_KIND_RETRACTION)
            return retraction_of_unheld(node, in, ret);
        r = nbd_store_is_tombstoned(node->store, in->rec.target);
        if (r < 0)
            return store_failed(ret, r);
        if (r == 1) {
            /* It can never be stored here: a peer's is kept out, or a peer
             * that still holds it would offer it at every reconciliation. */
            r = keep_out(node, in, in->rec.created_at + KEEP_UNSEEN);
            if (r < 0)
                return store_failed(ret, r);
            return refuse(ret, NBD_GONE, NB_EEXPIRED, msg_target_gone);
        }
        memcpy(ret->target, in->rec.target, NB_ID_SIZE);
        return refuse(ret, NBD_NOT_FOUND, NB_ENOENT, msg_not_found);
    }
    if (r < 0)
        return store_failed(ret, r);
    in->target_held = true;
    if (in->target.has_root) {
        r = nbd_store_get(node->store, in->target.root, &in->root, in->root_buf);
        if (r == NB_ENOENT)
            return refuse(ret, NBD_GONE, NB_EEXPIRED, msg_target_gone);
        if (r < 0)
            return store_failed(ret, r);
    } else {
        in->root = in->target;
    }
    memcpy(in->row.root, in->root.id, NB_ID_SIZE);
    in->row.has_root = true;
    return NBD_ACCEPTED;
}

/*
 * Where a retraction of `target_id` is kept once it applies: a retraction
 * of a request or offer (or of anything without a root) outlives what it
 * deleted until that would have expired, so peers learn of the deletion;
 * one of a record below a root lives and dies with the root.  The same
 * whether the target was here first or arrived after the retraction.
 */
static void place_retraction(struct nbd_store_record *row, const uint8_t target_id[NB_ID_SIZE],
                             const struct nbd_store_record *root)
{
    if (memcmp(target_id, root->id, NB_ID_SIZE) == 0) {
        row->has_root = false;
        row->has_expiry = root->has_expiry;
        row->expires_at = root->expires_at;
    } else {
        row->has_root = true;
        memcpy(row->root, root->id, NB_ID_SIZE);
    }
}

/*
 * Step 3: the rules that need the target.  Only its author may retract a
 * record; a peer's retraction by anyone else is also kept out, so it is
 * never fetched again.  Lifecycle records are checked against their root.
 */
static enum nbd_accept_verdict check_rules(struct nbd_node *node, struct incoming *in,
                                           struct nbd_accept_report *ret)
{
    if (!in->target_held)
        return NBD_ACCEPTED;
    const struct nb_record *rec = &in->rec;
    if (rec->kind == NB_KIND_RETRACTION &&
        sodium_memcmp(in->target.author, rec->author, NB_KEY_SIZE) != 0) {
        int r = keep_out(node, in, rec->created_at + KEEP_UNSEEN);
        if (r < 0)
            return store_failed(ret, r);
        return refuse(ret, NBD_REFUSED, NB_EPERM, msg_not_author);
    }
    /* A retraction of something outside the lifecycle (a message about a
     * request) needs only the author check above. */
    bool in_lifecycle = is_lifecycle_kind(rec->kind) &&
                        (rec->kind != NB_KIND_RETRACTION || is_root_kind(in->target.kind) ||
                         is_lifecycle_kind(in->target.kind));
    if (is_root_kind(in->root.kind) && in_lifecycle) {
        enum nbd_accept_verdict v = check_lifecycle(node, in, ret);
        if (v != NBD_ACCEPTED)
            return v;
    } else if (is_lifecycle_kind(rec->kind) && rec->kind != NB_KIND_RETRACTION) {
        return refuse(ret, NBD_REFUSED, NB_EINVAL, msg_not_lifecycle);
    }
    if (rec->kind == NB_KIND_RETRACTION) {
        /* Deleting at once (not at the next purge) is the point of a
         * retraction: sealed contact details must not linger. */
        in->purges_target = true;
        in->has_root_expiry = in->root.has_expiry;
        in->root_expiry = in->root.expires_at;
        place_retraction(&in->row, in->target.id, &in->root);
    }
    return NBD_ACCEPTED;
}

/* The retractions kept for a record that had not arrived yet, a slice at a
 * time in (created_at, id) order. */
struct waiting {
    struct {
        uint8_t id[NB_ID_SIZE];
        uint8_t author[NB_KEY_SIZE];
        uint64_t created_at;
    } items[32];
    size_t n;
    bool more;      /* the slice was full: another follows */
    bool has_after; /* where the slice starts: after this one */
    uint64_t after_created_at;
    uint8_t after_id[NB_ID_SIZE];
};

static int collect_waiting(void *ctx, const struct nbd_store_record *rec)
{
    struct waiting *w = ctx;
    if (w->has_after &&
        (rec->created_at < w->after_created_at ||
         (rec->created_at == w->after_created_at && memcmp(rec->id, w->after_id, NB_ID_SIZE) <= 0)))
        return 0;
    if (w->n == sizeof(w->items) / sizeof(w->items[0])) {
        w->more = true;
        return 1;
    }
    memcpy(w->items[w->n].id, rec->id, NB_ID_SIZE);
    memcpy(w->items[w->n].author, rec->author, NB_KEY_SIZE);
    w->items[w->n].created_at = rec->created_at;
    w->n++;
    return 0;
}

/*
 * Step 4, inside the record's savepoint: the retractions that arrived
 * before this record.  One by this record's author applies: the record is
 * not stored (*ret_retracted), its tombstone lasts as a node that held it
 * would have made it last, and the retraction takes the place it would
 * have had.  One by anyone else could never have applied: it is deleted and
 * kept out, exactly as a node holding the record would have refused it.
 * A record that arrives too old to be stored (in->expired) still settles
 * the latter; the former stay as they are, and go at their own bound.
 */
static int settle_retractions(struct nbd_node *node, const struct incoming *in, bool *ret_retracted)
{
    /* The root of this record as a retraction of it would see it. */
    struct nbd_store_record self_root = in->row.has_root ? in->root : in->row;
    bool retracted = false;
    struct waiting w;
    int r;

    memset(&w, 0, sizeof(w));
    do {
        w.n = 0;
        w.more = false;
        r = nbd_store_foreach_retraction_of(node->store, in->id, collect_waiting, &w);
        for (size_t i = 0; i < w.n && r == 0; i++) {
            if (memcmp(w.items[i].author, in->rec.author, NB_KEY_SIZE) == 0) {
                if (in->expired)
                    continue;
                struct nbd_store_record place = { 0 };
                place_retraction(&place, in->id, &self_root);
                retracted = true;
                r = nbd_store_set_place(node->store, w.items[i].id,
                                        place.has_root ? place.root : NULL, place.has_expiry,
                                        place.expires_at);
            } else {
                r = nbd_store_purge_tree(node->store, w.items[i].id, true,
                                         w.items[i].created_at + KEEP_UNSEEN, NULL);
            }
        }
        if (w.n > 0) {
            w.has_after = true;
            w.after_created_at = w.items[w.n - 1].created_at;
            memcpy(w.after_id, w.items[w.n - 1].id, NB_ID_SIZE);
        }
    } while (r == 0 && w.more);
    if (r == 0 && retracted)
        r = nbd_store_tombstone(node->store, in->id, in->rec.author, self_root.has_expiry,
                                self_root.expires_at);
    *ret_retracted = retracted;
    return r;
}

/*
 * Step 5: the writes.  The batch's transaction is begun at its first
 * write; this record's writes are a savepoint in it, so a failure undoes
 * only them.
 */
static enum nbd_accept_verdict insert(struct nbd_node *node, struct incoming *in,
                                      struct nbd_accept_report *ret)
{
    bool retracted = false;
    int r;

    if (!node->batch_open) {
        r = nbd_store_begin(node->store);
        if (r < 0)
            return store_failed(ret, r);
        node->batch_open = true;
    }
    size_t n_deferred = node->n_deferred;
    r = nbd_store_begin(node->store);
    if (r == 0) {
        if (in->purges_target)
            r = nbd_store_purge_tree(node->store, in->rec.target, in->has_root_expiry,
                                     in->root_expiry, NULL);
        if (r == 0)
            r = settle_retractions(node, in, &retracted);
        if (in->expired)
            retracted = true; /* not stored either */
        if (r == 0 && !retracted)
            r = nbd_store_insert(node->store, &in->row);
        if (r == 0 && !retracted) {
            r = defer_hooks(node, in->id, in->copy, in->len, &in->rec, in->origin);
            if (r == 0 && n_deferred < node->n_deferred)
                in->copy = NULL; /* the deferred call owns it now */
        }
        if (r == 0)
            r = nbd_store_commit(node->store); /* rolls back itself on failure */
        else
            nbd_store_rollback(node->store);
    }
    if (r < 0 && node->n_deferred > n_deferred) {
        /* The record is not in the batch, nor is its hook call; its copy
         * goes back to the caller's step to be freed. */
        in->copy = node->deferred[n_deferred].bytes;
        node->n_deferred = n_deferred;
    }
    if (node->batch_depth == 0) {
        /* Not in a batch: this record is its own, durable before the
         * caller acknowledges it. */
        int c = nbd_node_flush(node);
        node->batch_error = 0;
        if (r == 0)
            r = c;
    }
    if (r < 0)
        return store_failed(ret, r);
    if (in->expired)
        return refuse_expired(in, ret);
    if (retracted)
        return refuse(ret, NBD_GONE, NB_EEXPIRED, msg_retracted_first);
    return NBD_ACCEPTED;
}

enum nbd_accept_verdict nbd_node_accept(struct nbd_node *node, const uint8_t *bytes, size_t len,
                                        const uint8_t id[NB_ID_SIZE], uint64_t now,
                                        struct nbd_origin origin, struct nbd_accept_report *ret)
{
    struct incoming *in;
    enum nbd_accept_verdict v;

    memset(ret, 0, sizeof(*ret));
    if (!node->has_neighbourhood)
        return refuse(ret, NBD_REFUSED, NB_ESTATE, msg_no_neighbourhood);
    if (len == 0 || len > NB_RECORD_MAX)
        return refuse(ret, NBD_INVALID_RECORD, NB_ETOOBIG, nb_strerror(NB_ETOOBIG));

    /* The id covers every byte, so a stored id means these exact bytes were
     * verified and accepted before: acknowledge again, idempotently. */
    int r = nbd_store_has(node->store, id);
    if (r < 0)
        return store_failed(ret, r);
    if (r == 1)
        return NBD_ACCEPTED;
    r = nbd_store_is_tombstoned(node->store, id);
    if (r < 0)
        return store_failed(ret, r);
    if (r == 1)
        return refuse(ret, NBD_GONE, NB_EEXPIRED, msg_gone);

    /* Two record buffers: too large for every caller's stack. */
    in = calloc(1, sizeof(*in));
    if (in == NULL)
        return store_failed(ret, NB_ENOMEM);
    in->id = id;
    in->bytes = bytes;
    in->len = len;
    in->origin = origin;
    in->now = now;
    v = check_record(node, in, ret);
    if (in->expired)
        v = insert(node, in, ret);
    if (v == NBD_ACCEPTED)
        v = find_target_and_root(node, in, ret);
    if (v == NBD_ACCEPTED)
        v = check_rules(node, in, ret);
    if (v == NBD_ACCEPTED)
        v = insert(node, in, ret);
    free(in->copy);
    free(in);
    return v;
}

void nbd_node_set_quota(struct nbd_node *node, uint32_t per_hour, uint32_t per_day)
{
    node->quota_hour = per_hour;
    node->quota_day = per_day;
}

size_t nbd_node_over_quota(const struct nbd_node *node, uint64_t now, struct nbd_over_quota *ret,
                           size_t max)
{
    size_t n = 0;
    for (size_t i = 0; i < node->n_over_quota; i++) {
        const struct nbd_over_quota *o = &node->over_quota[i];
        if (o->last_at + 86400 < now)
            continue;
        /* Insertion by last refusal, most recent first. */
        size_t at = n < max ? n : max;
        while (at > 0 && ret[at - 1].last_at < o->last_at) {
            if (at < max)
                ret[at] = ret[at - 1];
            at--;
        }
        if (at < max) {
            ret[at] = *o;
            if (n < max)
                n++;
        }
    }
    return n;
}

/* The requests an ending record (a confirmation or a cancellation) may have
 * ended, collected before any is purged: purging while iterating would pull
 * rows from under the statement. */
struct ended {
    uint8_t (*roots)[NB_ID_SIZE];
    size_t n, cap;
    uint64_t before;
};

static int collect_ended(void *ctx, const struct nbd_store_record *rec)
{
    struct ended *e = ctx;
    if (!rec->has_root || rec->created_at > e->before)
        return 0;
    if (e->n == e->cap) {
        size_t cap = e->cap ? e->cap * 2 : 16;
        void *p = realloc(e->roots, cap * NB_ID_SIZE);
        if (p == NULL)
            return NB_ENOMEM;
        e->roots = p;
        e->cap = cap;
    }
    memcpy(e->roots[e->n++], rec->root, NB_ID_SIZE);
    return 0;
}

/*
 * Adds a request about to be purged to the overview's anonymous tallies
 * (daemon/store/store_tally.h), so that the overview's figures do not drop
 * when its records go.  Inside the purge's transaction.
 */
static int tally(struct nbd_node *node, const struct nbd_store_record *root,
                 const struct nb_state *st)
{
    struct nb_record rec;
    struct nbd_tally t;
    if (root->kind != NB_KIND_REQUEST || nb_record_decode(root->bytes, root->len, &rec) < 0 ||
        nbd_tally_of(&rec, st, &t) == 0)
        return 0;
    return nbd_store_tally_add(node->store, &t);
}

struct purging {
    struct nbd_node *node;
    uint64_t now;
};

/* nbd_store_purge_expired's hook: an expired request is tallied first. */
static int tally_expired(void *ctx, const uint8_t id[NB_ID_SIZE])
{
    struct purging *p = ctx;
    uint8_t buf[NB_RECORD_MAX];
    struct nbd_store_record root;
    struct nb_state st;
    /* A record that cannot be read is purged untallied: the overview
     * loses one request rather than the purge stopping for good. */
    if (nbd_store_get(p->node->store, id, &root, buf) != 0 || root.kind != NB_KIND_REQUEST)
        return 0;
    if (nbd_node_derive(p->node, &root, p->now, &st) != 0)
        return 0;
    int r = tally(p->node, &root, &st);
    nb_state_free(&st);
    return r;
}

/*
 * A request that ended (done or cancelled) more than purge_grace ago goes
 * with everything that rests on it, as an expired one does: DOMAIN.md asks
 * that health details and the sealed contact be deleted when the request
 * ends, not weeks later at its expiry.  Tombstones keep it out until its
 * original expiry.  Every node applies the same rule to the same records.
 */
static int purge_ended(struct nbd_node *node, uint64_t now, uint64_t *ret_n)
{
    static const uint8_t ending_kinds[] = { NB_KIND_CONFIRMATION, NB_KIND_CANCELLATION };
    uint8_t buf[NB_RECORD_MAX];
    struct ended e = { .before = now > node->purge_grace ? now - node->purge_grace : 0 };
    uint64_t purged = 0;
    int r = 0;

    for (size_t k = 0; k < sizeof(ending_kinds) && r == 0; k++)
        r = nbd_store_foreach_newest(node->store, ending_kinds[k], NULL, collect_ended, &e);
    for (size_t i = 0; i < e.n && r == 0; i++) {
        struct nbd_store_record root;
        struct nb_state st;
        uint64_t n = 0;

        if (nbd_store_get(node->store, e.roots[i], &root, buf) != 0 || root.kind != NB_KIND_REQUEST)
            continue; /* gone already, or an offer: a standing offer outlives each ask */
        if (nbd_node_derive(node, &root, now, &st) != 0)
            continue;
        bool ended = (st.status == NB_STATUS_DONE || st.status == NB_STATUS_CANCELLED) &&
                     st.updated_at <= e.before;
        if (!ended) {
            nb_state_free(&st);
            continue;
        }
        r = nbd_store_begin(node->store);
        if (r < 0) {
            nb_state_free(&st);
            break;
        }
        r = tally(node, &root, &st);
        nb_state_free(&st);
        if (r == 0)
            r = nbd_store_purge_tree(node->store, root.id, root.has_expiry, root.expires_at, &n);
        if (r == 0)
            r = nbd_store_commit(node->store);
        if (r < 0) {
            nbd_store_rollback(node->store);
            break;
        }
        purged += n;
    }
    free(e.roots);
    if (r == 0 && ret_n != NULL)
        *ret_n = purged;
    return r;
}

int nbd_node_purge(struct nbd_node *node, uint64_t now, uint64_t *ret_records,
                   uint64_t *ret_tombstones)
{
    uint64_t ended = 0;
    int r = purge_ended(node, now, &ended);
    if (r < 0)
        return r;
    struct purging p = { .node = node, .now = now };
    r = nbd_store_purge_expired(node->store, now, node->purge_grace, tally_expired, &p, ret_records,
                                ret_tombstones);
    if (r == 0 && ret_records != NULL)
        *ret_records += ended;
    return r;
}
