#include "daemon/node.h"

#include <stdlib.h>
#include <string.h>

#include <sodium.h>

#include <noaber/error.h>

#include "proto/mp.h"

#define META_NAME "neighbourhood.name"
#define META_KEY  "neighbourhood.key"
#define META_ID   "neighbourhood.id"

static const char msg_no_neighbourhood[] =
    "this node has no neighbourhood yet: run `noaber neighbourhood create NAME` first";
static const char msg_gone[] =
    "this record was retracted or has expired and was deleted; it is not stored again";
static const char msg_target_gone[] =
    "the record this one acts on was retracted or has expired and was deleted";
static const char msg_not_found[] = "the record this one acts on is not on this node";
static const char msg_store[] = "the node's store failed; see the daemon's log";
static const char msg_not_author[] = "only the author of a record can retract it";
static const char msg_not_lifecycle[] = "this kind of record cannot act on that kind of record";
static const char msg_blocked[] = "this node's operator blocked this member";

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
        return NB_EIO;
    r = nb_neighbourhood_id(node->neighbourhood_key, node->neighbourhood_id);
    if (r < 0)
        return r;
    node->has_neighbourhood = true;
    return 0;
}

/* A hook call held back until the batch holding its record is committed. */
struct nbd_deferred {
    uint8_t id[NB_ID_SIZE];
    size_t off, len; /* the record's bytes in node->deferred_bytes */
    enum nbd_origin origin;
    const void *source;
};

static void drop_deferred(struct nbd_node *node)
{
    node->n_deferred = 0;
    node->deferred_used = 0;
}

/* Keeps a copy of the record for the hooks; they cannot run before the
 * commit, and the caller's bytes are gone by then. */
static int defer_hooks(struct nbd_node *node, const uint8_t id[NB_ID_SIZE], const uint8_t *bytes,
                       size_t len, enum nbd_origin origin)
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
    if (node->deferred_used + len > node->deferred_cap) {
        size_t cap = node->deferred_cap ? node->deferred_cap * 2 : 65536;
        while (cap < node->deferred_used + len)
            cap *= 2;
        uint8_t *b = realloc(node->deferred_bytes, cap);
        if (b == NULL)
            return NB_ENOMEM;
        node->deferred_bytes = b;
        node->deferred_cap = cap;
    }
    struct nbd_deferred *d = &node->deferred[node->n_deferred++];
    memcpy(d->id, id, NB_ID_SIZE);
    d->off = node->deferred_used;
    d->len = len;
    d->origin = origin;
    d->source = node->source;
    memcpy(node->deferred_bytes + node->deferred_used, bytes, len);
    node->deferred_used += len;
    return 0;
}

static void run_deferred(struct nbd_node *node)
{
    const void *source = node->source;
    /* Hooks announce; they never hand records in (that would change this
     * list while it is walked). */
    for (size_t i = 0; i < node->n_deferred; i++) {
        struct nbd_deferred d = node->deferred[i];
        const uint8_t *bytes = node->deferred_bytes + d.off;
        struct nb_record rec;
        /* These bytes were opened (verified) before they were stored. */
        if (nb_record_decode(bytes, d.len, &rec) < 0)
            continue;
        node->source = d.source;
        for (size_t h = 0; h < node->n_hooks; h++)
            node->hooks[h].fn(node->hooks[h].ctx, d.id, node->deferred_bytes + d.off, d.len, &rec,
                              d.origin);
    }
    node->source = source;
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

int nbd_node_batch_end(struct nbd_node *node)
{
    if (node->batch_depth == 0)
        return 0;
    if (--node->batch_depth > 0)
        return 0;
    nbd_node_flush(node);
    int r = node->batch_error;
    node->batch_error = 0;
    return r;
}

void nbd_node_clear(struct nbd_node *node)
{
    /* A batch left open would otherwise be rolled back by closing the
     * store; commit it rather than lose what it holds. */
    nbd_node_flush(node);
    free(node->deferred);
    free(node->deferred_bytes);
    node->deferred = NULL;
    node->deferred_bytes = NULL;
    node->cap_deferred = node->deferred_cap = 0;
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

/* Checks `rec` against the lifecycle of its root. */
static int check_lifecycle(struct nbd_node *node, const struct nbd_store_record *root,
                           const struct nb_record *rec, uint64_t now, enum nbd_origin origin,
                           struct nbd_verdict *v)
{
    struct nb_record root_rec;
    struct nb_state st;
    const char *reason = NULL;
    int r;

    memset(&st, 0, sizeof(st));
    if (origin == NBD_ORIGIN_PEER) {
        r = nb_record_decode(root->bytes, root->len, &root_rec);
        if (r < 0)
            return fail(v, NB_EIO, "internal", msg_store);
        r = nb_state_admissible(&root_rec, root->id, rec, &reason);
    } else {
        r = nbd_node_derive(node, root, now, &st);
        if (r < 0)
            return fail(v, r == NB_ENOMEM ? r : NB_EIO, "internal", msg_store);
        r = nb_state_check(&st, rec, now, &reason);
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
        return fail(v, r, "refused", reason != NULL ? reason : nb_strerror(r));
    return 0;
}

/*
 * Refuses a record whose author this node's operator blocked.  A peer's is
 * also tombstoned, for as long as any record may live, so reconciliation
 * stops offering it: otherwise every round would fetch it again.  Returns
 * 0 when the author is not blocked.
 */
static int refuse_blocked(struct nbd_node *node, const uint8_t id[NB_ID_SIZE],
                          const struct nb_record *rec, enum nbd_origin origin,
                          struct nbd_verdict *v)
{
    int r = nbd_store_is_blocked(node->store, rec->author);
    if (r < 0)
        return fail(v, r, "internal", msg_store);
    if (r == 0)
        return 0;
    if (origin == NBD_ORIGIN_PEER) {
        r = nbd_store_begin(node->store);
        if (r == 0)
            r = nbd_store_purge_tree(node->store, id, true, rec->created_at + NB_EXPIRY_MAX, NULL);
        if (r == 0)
            r = nbd_store_commit(node->store);
        if (r < 0) {
            nbd_store_rollback(node->store);
            return fail(v, r, "internal", msg_store);
        }
    }
    return fail(v, NB_EPERM, "refused", msg_blocked);
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

int nbd_node_accept(struct nbd_node *node, const uint8_t *bytes, size_t len, uint64_t now,
                    enum nbd_origin origin, uint8_t ret_id[NB_ID_SIZE], struct nbd_verdict *v)
{
    uint8_t target_buf[NB_RECORD_MAX];
    uint8_t root_buf[NB_RECORD_MAX];
    struct nbd_store_record row, target, root;
    struct nb_record rec;
    uint8_t id[NB_ID_SIZE];
    int r;

    memset(v, 0, sizeof(*v));
    if (!node->has_neighbourhood)
        return fail(v, NB_ESTATE, "refused", msg_no_neighbourhood);
    if (len == 0 || len > NB_RECORD_MAX)
        return fail(v, NB_ETOOBIG, "invalid_record", nb_strerror(NB_ETOOBIG));

    /* The id covers every byte, so a stored id means these exact bytes were
     * verified and accepted before: acknowledge again, idempotently. */
    nb_record_id(bytes, len, id);
    r = nbd_store_has(node->store, id);
    if (r < 0)
        return fail(v, r, "internal", msg_store);
    if (r == 1) {
        memcpy(ret_id, id, NB_ID_SIZE);
        return 0;
    }
    r = nbd_store_is_tombstoned(node->store, id);
    if (r < 0)
        return fail(v, r, "internal", msg_store);
    if (r == 1)
        return fail(v, NB_EEXPIRED, "gone", msg_gone);

    r = nb_record_open(bytes, len, node->neighbourhood_id, now, &rec);
    if (r < 0)
        return fail(v, r, "invalid_record", nb_strerror(r));
    r = refuse_blocked(node, id, &rec, origin, v);
    if (r != 0)
        return r;

    memset(&row, 0, sizeof(row));
    memcpy(row.id, id, NB_ID_SIZE);
    row.kind = rec.kind;
    memcpy(row.author, rec.author, NB_KEY_SIZE);
    row.created_at = rec.created_at;
    row.bytes = bytes;
    row.len = len;
    if (is_root_kind(rec.kind)) {
        row.has_expiry = true;
        row.expires_at =
            NB_HAS(&rec, NB_F_EXPIRES_AT) ? rec.expires_at : rec.created_at + NB_EXPIRY_DEFAULT;
    } else if (NB_HAS(&rec, NB_F_EXPIRES_AT)) {
        row.has_expiry = true;
        row.expires_at = rec.expires_at;
    }
    /* A record whose purge time has already passed would be deleted at the
     * next purge; once its tombstone is gone this rule is what keeps it out. */
    if (row.has_expiry && row.expires_at < now && now - row.expires_at > node->purge_grace)
        return fail(v, NB_EEXPIRED, "gone", msg_gone);

    bool retract_root = false;
    bool has_root_expiry = false;
    uint64_t root_expiry = 0;
    bool target_gone = false;
    if (NB_HAS(&rec, NB_F_TARGET)) {
        memcpy(row.target, rec.target, NB_ID_SIZE);
        row.has_target = true;
        r = nbd_store_get(node->store, rec.target, &target, target_buf);
        if (r == NB_ENOENT) {
            r = nbd_store_is_tombstoned(node->store, rec.target);
            if (r < 0)
                return fail(v, r, "internal", msg_store);
            if (origin == NBD_ORIGIN_PEER && rec.kind == NB_KIND_RETRACTION) {
                /* A peer's retraction of a record this node never held (or
                 * already deleted) is stored all the same and tombstones
                 * its target: otherwise the deletion would stop here, and
                 * a node that was away could bring the record back through
                 * this one.  The author cannot be compared with a record we
                 * do not hold; the tombstone lasts as long as the
                 * retraction says, else for good. */
                target_gone = r == 1;
                has_root_expiry = row.has_expiry;
                root_expiry = row.expires_at;
                goto store;
            }
            if (r == 1)
                return fail(v, NB_EEXPIRED, "gone", msg_target_gone);
            return fail(v, NB_ENOENT, "not_found", msg_not_found);
        }
        if (r < 0)
            return fail(v, r, "internal", msg_store);
        if (target.has_root) {
            r = nbd_store_get(node->store, target.root, &root, root_buf);
            if (r == NB_ENOENT)
                return fail(v, NB_EEXPIRED, "gone", msg_target_gone);
            if (r < 0)
                return fail(v, r, "internal", msg_store);
        } else {
            root = target;
        }
        memcpy(row.root, root.id, NB_ID_SIZE);
        row.has_root = true;
        has_root_expiry = root.has_expiry;
        root_expiry = root.expires_at;

        if (rec.kind == NB_KIND_RETRACTION &&
            sodium_memcmp(target.author, rec.author, NB_KEY_SIZE) != 0)
            return fail(v, NB_EPERM, "refused", msg_not_author);
        /* A retraction of something outside the lifecycle (a message
         * about a request) needs only the author check above. */
        bool in_lifecycle = is_lifecycle_kind(rec.kind) &&
                            (rec.kind != NB_KIND_RETRACTION || is_root_kind(target.kind) ||
                             is_lifecycle_kind(target.kind));
        if (is_root_kind(root.kind) && in_lifecycle) {
            r = check_lifecycle(node, &root, &rec, now, origin, v);
            if (r < 0)
                return r;
        } else if (is_lifecycle_kind(rec.kind) && rec.kind != NB_KIND_RETRACTION) {
            return fail(v, NB_EINVAL, "refused", msg_not_lifecycle);
        }
        if (rec.kind == NB_KIND_RETRACTION) {
            retract_root = memcmp(target.id, root.id, NB_ID_SIZE) == 0;
            if (retract_root) {
                /* The retraction outlives what it deleted until the root
                 * would have expired, so peers learn of the deletion; it
                 * carries nothing but ids. */
                row.has_root = false;
                row.has_expiry = has_root_expiry;
                row.expires_at = root_expiry;
            }
        }
    }

store:
    /* The batch's transaction is begun at its first write; this record's
     * writes are a savepoint in it, so a failure undoes only them. */
    if (!node->batch_open) {
        r = nbd_store_begin(node->store);
        if (r < 0)
            return fail(v, r, "internal", msg_store);
        node->batch_open = true;
    }
    size_t n_deferred = node->n_deferred, deferred_used = node->deferred_used;
    r = nbd_store_begin(node->store);
    if (r == 0) {
        /* Deleting at once (not at the next purge) is the point of a
         * retraction: sealed contact details must not linger. */
        if (rec.kind == NB_KIND_RETRACTION && !target_gone)
            r = nbd_store_purge_tree(node->store, rec.target, has_root_expiry, root_expiry, NULL);
        if (r == 0)
            r = nbd_store_insert(node->store, &row);
        if (r == 0)
            r = defer_hooks(node, id, bytes, len, origin);
        if (r == 0)
            r = nbd_store_commit(node->store); /* rolls back itself on failure */
        else
            nbd_store_rollback(node->store);
    }
    if (r < 0) {
        /* The record is not in the batch, nor is its hook call. */
        node->n_deferred = n_deferred;
        node->deferred_used = deferred_used;
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
        return fail(v, r, "internal", msg_store);
    memcpy(ret_id, id, NB_ID_SIZE);
    return 0;
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
        nb_state_free(&st);
        if (!ended)
            continue;
        r = nbd_store_begin(node->store);
        if (r < 0)
            break;
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
    r = nbd_store_purge_expired(node->store, now, node->purge_grace, ret_records, ret_tombstones);
    if (r == 0 && ret_records != NULL)
        *ret_records += ended;
    return r;
}
