/*
 * Reconciliation and record exchange over established links
 * (docs/protocol.md, "Synchronisation"):
 *
 *   - the node's items (created_at, id) as a sorted, refcounted snapshot,
 *     rebuilt from the store only when records were deleted and otherwise
 *     extended with the records accepted since (so a reconciliation over a
 *     million records does not re-read the store);
 *   - the initiator's rounds: `neg` messages, then `record` for what it
 *     has and `want` for what it needs, then `synced`;
 *   - the responder's answers to `neg` and `want`;
 *   - push of every accepted record to every other link, paced by a token
 *     bucket below the receiver's;
 *   - records that arrive before their target wait in a bounded set.
 */
#include <stdlib.h>
#include <string.h>

#include <noaber/error.h>

#include "daemon/log.h"
#include "daemon/net/net_internal.h"
#include "daemon/verify.h"

/* ---- the item snapshot ------------------------------------------------------ */

static int item_cmp(const void *pa, const void *pb)
{
    const struct nb_negentropy_item *a = pa, *b = pb;
    if (a->created_at != b->created_at)
        return a->created_at < b->created_at ? -1 : 1;
    return memcmp(a->id, b->id, NB_NEGENTROPY_ID_SIZE);
}

struct collect {
    struct nb_negentropy_item *items;
    size_t n, cap;
};

static int collect_item(void *ctx, const struct nbd_store_record *rec)
{
    struct collect *c = ctx;
    if (c->n == c->cap) {
        size_t cap = c->cap ? c->cap * 2 : 4096;
        void *p = realloc(c->items, cap * sizeof(*c->items));
        if (p == NULL)
            return NB_ENOMEM;
        c->items = p;
        c->cap = cap;
    }
    c->items[c->n].created_at = rec->created_at;
    memcpy(c->items[c->n].id, rec->id, NB_NEGENTROPY_ID_SIZE);
    c->n++;
    return 0;
}

void sync_items_put(struct nbd_items *items)
{
    if (items == NULL || --items->refs > 0)
        return;
    nb_negentropy_storage_free(&items->storage);
    free(items->items);
    free(items);
}

/* Wraps a sorted array (taken over) in a snapshot with one reference. */
static int snapshot(struct nb_negentropy_item *items, size_t n, struct nbd_items **ret)
{
    struct nbd_items *s = calloc(1, sizeof(*s));
    if (s == NULL) {
        free(items);
        return NB_ENOMEM;
    }
    s->refs = 1;
    s->items = items;
    s->count = n;
    int r = nb_negentropy_storage_init_sorted(&s->storage, items, n);
    if (r < 0) {
        sync_items_put(s);
        return r;
    }
    *ret = s;
    return 0;
}

/* ---- the coded symbols ------------------------------------------------------ */

static void coded_put(struct nbd_coded *c)
{
    if (c == NULL || --c->refs > 0)
        return;
    nb_riblt_encoder_free(&c->enc);
    free(c);
}

/* Drops the node's coded symbols: they are built again when next needed. */
static void coded_drop(struct nbd_net *net)
{
    coded_put(net->coded);
    net->coded = NULL;
}

/* The node's coded symbols, ready to change: copied first while a session
 * holds them (its round reconciles the set as it began).  NULL if there
 * are none, or no memory for the copy (then dropped). */
static struct nb_riblt_encoder *coded_own(struct nbd_net *net)
{
    struct nbd_coded *c = net->coded;
    if (c == NULL || c->refs == 1)
        return c != NULL ? &c->enc : NULL;
    struct nbd_coded *copy = calloc(1, sizeof(*copy));
    if (copy == NULL || nb_riblt_encoder_copy(&copy->enc, &c->enc) < 0) {
        free(copy);
        coded_drop(net);
        return NULL;
    }
    copy->refs = 1;
    coded_put(c);
    net->coded = copy;
    return &copy->enc;
}

/*
 * Brings coded symbols from the set they stand for (the `old` snapshot and
 * the `recent` items, sorted) to the set of the snapshot `now`: a merge of
 * sorted lists, hashing only the ids that came or went, so that a deletion
 * does not cost a pass over every id.
 */
static void coded_follow(struct nb_riblt_encoder *enc, const struct nbd_items *old,
                         const struct nb_negentropy_item *recent, size_t recent_n,
                         const struct nbd_items *now)
{
    size_t i = 0, j = 0, k = 0;
    size_t n_old = old != NULL ? old->count : 0;
    for (;;) {
        /* The next item of the old set: the smaller of old and recent. */
        const struct nb_negentropy_item *held = NULL;
        bool from_old = false;
        if (i < n_old && (j == recent_n || item_cmp(&old->items[i], &recent[j]) <= 0)) {
            held = &old->items[i];
            from_old = true;
        } else if (j < recent_n) {
            held = &recent[j];
        }
        const struct nb_negentropy_item *kept = k < now->count ? &now->items[k] : NULL;
        if (held == NULL && kept == NULL)
            break;
        int c = held == NULL ? 1 : kept == NULL ? -1 : item_cmp(held, kept);
        if (c < 0)
            nb_riblt_encoder_remove(enc, held->id);
        else if (c > 0)
            nb_riblt_encoder_add(enc, kept->id);
        if (c <= 0) {
            if (from_old)
                i++;
            else
                j++;
        }
        if (c >= 0)
            k++;
    }
}

static int rebuild(struct nbd_net *net)
{
    struct collect c = { 0 };
    uint64_t started = uv_hrtime();
    /* The store walks its (created_at, id) index, so the items come out
     * sorted and unique. */
    int r = nbd_store_foreach_ordered(net->node->store, 0, NULL, collect_item, &c);
    if (r < 0) {
        free(c.items);
        return r;
    }
    struct nbd_items *s;
    r = snapshot(c.items, c.n, &s);
    if (r < 0)
        return r;
    struct nb_riblt_encoder *enc = coded_own(net);
    if (enc != NULL) {
        qsort(net->recent, net->recent_n, sizeof(*net->recent), item_cmp);
        coded_follow(enc, net->items, net->recent, net->recent_n, s);
    }
    sync_items_put(net->items);
    net->items = s;
    net->recent_n = 0;
    net->items_stale = false;
    nbd_debug("read %zu items from the store for reconciliation in %llu ms", s->count,
              (unsigned long long)((uv_hrtime() - started) / 1000000));
    return 0;
}

/* Adds the records accepted since the last snapshot (sorted merge). */
static int extend(struct nbd_net *net)
{
    struct nbd_items *old = net->items;
    qsort(net->recent, net->recent_n, sizeof(*net->recent), item_cmp);
    struct nb_negentropy_item *items = malloc((old->count + net->recent_n) * sizeof(*items));
    if (items == NULL)
        return NB_ENOMEM;
    size_t i = 0, j = 0, n = 0;
    while (i < old->count || j < net->recent_n) {
        int c;
        if (i == old->count)
            c = 1;
        else if (j == net->recent_n)
            c = -1;
        else
            c = item_cmp(&old->items[i], &net->recent[j]);
        if (c <= 0) {
            items[n++] = old->items[i++];
            if (c == 0)
                j++;
        } else {
            if (n == 0 || item_cmp(&items[n - 1], &net->recent[j]) != 0)
                items[n++] = net->recent[j];
            j++;
        }
    }
    struct nbd_items *s;
    int r = snapshot(items, n, &s);
    if (r < 0)
        return r;
    sync_items_put(net->items);
    net->items = s;
    net->recent_n = 0;
    return 0;
}

int sync_items_get(struct nbd_net *net, struct nbd_items **ret)
{
    int r = 0;
    /* What the snapshot offers a peer must be committed (a peer may stop
     * asking for what we claim to hold), and the hooks of the open batch
     * must have run for the count below: commit the batch first. */
    nbd_node_flush(net->node);
    /* Every insert goes through nbd_node_accept and so through the accept
     * hook; deletions (retractions, the expiry purge) do not.  A count that
     * differs from what the snapshot expects therefore means deletions. */
    uint64_t records = 0;
    if (net->items != NULL && !net->items_stale) {
        r = nbd_store_count(net->node->store, &records, NULL);
        if (r < 0)
            return r;
        if (records != net->items->count + net->recent_n)
            net->items_stale = true;
    }
    if (net->items == NULL || net->items_stale)
        r = rebuild(net);
    else if (net->recent_n > 0)
        r = extend(net);
    if (r < 0)
        return r;
    net->items->refs++;
    *ret = net->items;
    return 0;
}

static void recent_add(struct nbd_net *net, uint64_t created_at, const uint8_t id[NB_ID_SIZE])
{
    /* The next snapshot reads the store anyway, but the coded symbols
     * follow it by what changed since the last one. */
    if (net->items == NULL || (net->items_stale && net->coded == NULL))
        return;
    if (net->recent_n == net->recent_cap) {
        size_t cap = net->recent_cap ? net->recent_cap * 2 : 256;
        void *p = realloc(net->recent, cap * sizeof(*net->recent));
        if (p == NULL) {
            /* The coded symbols are built again from the next snapshot. */
            net->items_stale = true;
            coded_drop(net);
            return;
        }
        net->recent = p;
        net->recent_cap = cap;
    }
    net->recent[net->recent_n].created_at = created_at;
    memcpy(net->recent[net->recent_n].id, id, NB_ID_SIZE);
    net->recent_n++;
}

static void coded_build(uv_work_t *w)
{
    struct nbd_net *net = container_of(w, struct nbd_net, coded_work);
    const struct nbd_items *from = net->coded_from;
    struct nbd_coded *c = calloc(1, sizeof(*c));
    if (c == NULL || nb_riblt_encoder_init(&c->enc, NB_RIBLT_SYMBOLS_MAX) < 0) {
        free(c);
        return;
    }
    c->refs = 1;
    for (size_t i = 0; i < from->count; i++)
        nb_riblt_encoder_add(&c->enc, from->items[i].id);
    net->coded_made = c;
}

static void riblt_resume(struct nbd_link *link, bool ready);

static void coded_built(uv_work_t *w, int status)
{
    struct nbd_net *net = container_of(w, struct nbd_net, coded_work);
    struct nbd_coded *c = net->coded_made;
    struct nbd_items *from = net->coded_from;
    uint64_t started = net->coded_started;
    net->coded_made = NULL;
    net->coded_from = NULL;
    net->coded_building = false;
    if (status < 0 || net->stopping) {
        coded_put(c);
        sync_items_put(from);
        return;
    }
    /* Records came and went while the symbols were built: they follow the
     * snapshot as it is now. */
    struct nbd_items *now = NULL;
    int r = c != NULL ? sync_items_get(net, &now) : NB_ENOMEM;
    if (r == 0) {
        coded_follow(&c->enc, from, NULL, 0, now);
        coded_drop(net);
        net->coded = c;
        nbd_debug("built the coded symbols of %zu items for rateless reconciliation beside the "
                  "loop in %llu ms",
                  now->count, (unsigned long long)((uv_hrtime() - started) / 1000000));
    } else {
        nbd_error("cannot compute the coded symbols for reconciliation: %s", nb_strerror(r));
        coded_put(c);
    }
    sync_items_put(now);
    sync_items_put(from);
    for (struct nbd_link *l = net->host.links, *next; l != NULL; l = next) {
        next = l->next;
        if (l->state == LINK_UP && (l->sync.rb_waiting || l->sync.rb_held != NULL))
            riblt_resume(l, r == 0);
    }
}

/*
 * The node's coded symbols, up to date with the store, with a reference
 * for the caller.  They are built from the snapshot at the first rateless
 * round (not at startup) and then kept; the build of 10^6 ids takes a few
 * tenths of a second, so it runs in libuv's threadpool and this returns
 * NB_ESTATE meanwhile: the caller's round waits for coded_built.  The
 * count check builds them again should they ever disagree with the
 * snapshot (an id accepted twice).
 */
static int riblt_get(struct nbd_net *net, struct nbd_coded **ret)
{
    struct nbd_items *items;
    int r = sync_items_get(net, &items);
    if (r < 0)
        return r;
    if (net->coded != NULL && net->coded->enc.ids == items->count) {
        sync_items_put(items);
        net->coded->refs++;
        *ret = net->coded;
        return 0;
    }
    coded_drop(net);
    if (net->coded_building) {
        sync_items_put(items);
        return NB_ESTATE;
    }
    net->coded_from = items;
    net->coded_started = uv_hrtime();
    r = uv_queue_work(net->loop, &net->coded_work, coded_build, coded_built);
    if (r < 0) {
        net->coded_from = NULL;
        sync_items_put(items);
        nbd_warn("cannot build the coded symbols beside the loop: %s", uv_strerror(r));
        return NB_ENOMEM;
    }
    net->coded_building = true;
    return NB_ESTATE;
}

const char *nbd_reconcile_mode_name(enum nbd_reconcile_mode mode)
{
    switch (mode) {
    case NBD_RECONCILE_NEGENTROPY:
        return "negentropy";
    case NBD_RECONCILE_RIBLT:
        return "riblt";
    case NBD_RECONCILE_NONE:
        break;
    }
    return NULL;
}

static void rb_enc_free(struct nbd_sync *s)
{
    coded_put(s->rb_enc);
    s->rb_enc = NULL;
    s->rb_waiting = false;
}

/* ---- sending -------------------------------------------------------------- */

static void refill(double *tokens, uint64_t *at, uint64_t now, double rate, double burst)
{
    *tokens += (double)(now - *at) * rate / 1000.0;
    if (*tokens > burst)
        *tokens = burst;
    *at = now;
}

static int send_record_by_id(struct nbd_link *link, const uint8_t id[NB_ID_SIZE])
{
    uint8_t bytes[NB_RECORD_MAX];
    uint8_t out[NB_RECORD_MAX + 16];
    struct nbd_store_record row;
    size_t n;
    int r = nbd_store_get(link_net(link)->node->store, id, &row, bytes);
    if (r < 0)
        return r; /* deleted since: nothing to send */
    r = nb_peer_encode_record(bytes, row.len, out, sizeof(out), &n);
    if (r < 0)
        return r;
    r = link_send(link, out, n);
    if (r == 0)
        link->records_out++;
    return r;
}

static void queue_push(struct nbd_link *link, struct nbd_push_queue *q,
                       const uint8_t id[NB_ID_SIZE])
{
    if (q->len >= NET_PUSH_QUEUE_MAX) {
        nbd_debug("peer %s: push queue full; the next reconciliation catches up", link_name(link));
        return;
    }
    if (q->head + q->len == q->cap) {
        if (q->head > 0) {
            memmove(q->ids, q->ids + q->head, q->len * NB_ID_SIZE);
            q->head = 0;
        } else {
            size_t cap = q->cap ? q->cap * 2 : 256;
            void *p = realloc(q->ids, cap * NB_ID_SIZE);
            if (p == NULL)
                return;
            q->ids = p;
            q->cap = cap;
        }
    }
    memcpy(q->ids[q->head + q->len], id, NB_ID_SIZE);
    q->len++;
}

static void queue_pop(struct nbd_push_queue *q, uint8_t id[NB_ID_SIZE])
{
    memcpy(id, q->ids[q->head], NB_ID_SIZE);
    q->head++;
    if (--q->len == 0)
        q->head = 0;
}

static void queue_free(struct nbd_push_queue *q)
{
    free(q->ids);
    *q = (struct nbd_push_queue){ 0 };
}

/* The round's fetches are all answered (or given up). */
static bool fetches_done(const struct nbd_sync *s)
{
    return s->need_pos >= s->need.count && s->wanted_n == 0 && s->deferred_n == 0 &&
           s->verifying == 0;
}

static void drop_pending(struct nbd_net *net, const struct nbd_link *link)
{
    for (size_t i = 0; i < net->n_pending;) {
        if (net->pending[i].link == link) {
            net->pending_bytes -= net->pending[i].len;
            free(net->pending[i].bytes);
            net->pending[i] = net->pending[--net->n_pending];
        } else {
            i++;
        }
    }
}

/* The first wait before fetching again after records could not be kept. */
#define NET_RETRY_FIRST_MS 1000

/*
 * The round is over but records of it could not be kept: the link is not in
 * sync, the log says why, and (on the initiator's side) the next round comes
 * after a backoff rather than a whole sync interval later.
 */
static void not_kept(struct nbd_link *link)
{
    struct nbd_sync *s = &link->sync;
    struct nbd_net *net = link_net(link);
    s->retry_ms = s->retry_ms == 0 ? NET_RETRY_FIRST_MS : s->retry_ms * 2;
    if (s->retry_ms > net->sync_interval_ms)
        s->retry_ms = net->sync_interval_ms;
    nbd_warn("peer %s: %llu record%s of this round could not be kept (%s): not in sync; "
             "fetching again in %llu s",
             link_name(link), (unsigned long long)s->unstored, s->unstored == 1 ? "" : "s",
             s->unstored_code == NB_EFUTURE
                 ? "created in this node's future: check both nodes' clocks"
                 : nb_strerror(s->unstored_code),
             (unsigned long long)((s->retry_ms + 999) / 1000));
    s->synced = false;
    if (link->peer != NULL)
        link->peer->synced = false;
    uint64_t now = uv_now(net->loop);
    uint64_t due = now + s->retry_ms;
    s->round_started = due >= net->sync_interval_ms ? due - net->sync_interval_ms : 0;
    s->unstored = 0;
}

/* A record from this peer the node could not keep: the link is not in sync
 * from now on.  Outside a round (a record pushed live) no round's end will
 * notice, so the retry is scheduled here, once until a round goes well. */
static void unkept(struct nbd_link *link, int code)
{
    struct nbd_sync *s = &link->sync;
    bool first = s->unstored == 0;
    s->unstored++;
    s->unstored_code = code;
    s->synced = false;
    if (link->peer != NULL)
        link->peer->synced = false;
    if (first && link->outbound && !s->reconciling && !s->round_open && s->retry_ms == 0)
        not_kept(link);
}

void sync_not_kept(struct nbd_link *link, int code)
{
    unkept(link, code);
    /* A round whose records were not committed ends now, not in sync. */
    sync_drain(link);
}

static void set_synced(struct nbd_link *link)
{
    if (link->sync.unstored > 0) {
        not_kept(link);
        return;
    }
    link->sync.retry_ms = 0;
    link->sync.synced = true;
    if (link->peer != NULL)
        link->peer->synced = true;
    /* Records still waiting for their target will not get it from this
     * peer: it has sent everything it holds. */
    drop_pending(link_net(link), link);
}

/* A peer that broke a bound of reconciliation: the link ends and the peer
 * is refused for a while, as after too many invalid messages. */
static void misbehaved(struct nbd_link *link, const char *why)
{
    link_warn(link, "%s; closing and refusing it for a while", why);
    nbd_info("peer %s: misbehaving: %s", link_name(link), why);
    link->long_backoff = true;
    link_close(link, why);
}

static void start_round(struct nbd_link *link);

/* The initiator sends `synced` once the round's fetches are answered and
 * its pushes are handed to the socket. */
static void maybe_synced(struct nbd_link *link)
{
    struct nbd_sync *s = &link->sync;
    if (!s->round_open || s->reconciling || !fetches_done(s) || s->live.len > 0 ||
        s->backlog.len > 0 || link->state != LINK_UP)
        return;
    if (s->partial) {
        /* A round cut short at NET_RECONCILE_IDS_MAX: the peer is not in
         * sync yet, so no `synced`; the next round starts now and finds
         * fewer differences, unless this one brought nothing at all. */
        bool progress = s->round_fetched > 0 || s->have.count > 0;
        s->partial = false;
        s->round_open = false;
        nb_negentropy_ids_free(&s->have);
        nb_negentropy_ids_free(&s->need);
        s->need_pos = 0;
        if (!progress) {
            misbehaved(link, "named more records in reconciliation than it sent");
            return;
        }
        start_round(link);
        return;
    }
    uint8_t buf[8];
    size_t n;
    /* `synced` (and this node's own in_sync) say the round's records are
     * held: the batch they arrived in is committed first (daemon/node.h);
     * if that fails the round stays open and the next one fetches again. */
    int flushed = nbd_node_flush(link_net(link)->node);
    if (flushed < 0) {
        /* Inside a read, the read's end reports it and comes back here. */
        link->sync.unstored_code = flushed;
        return;
    }
    if (nb_peer_encode_synced(buf, sizeof(buf), &n) < 0 || link_send(link, buf, n) < 0)
        return;
    s->round_open = false;
    /* What a round cost, for operators who wonder about their uplink and
     * for comparing with bench/reconcile. */
    nbd_log(s->synced || s->unstored > 0 ? NBD_LOG_DEBUG : NBD_LOG_INFO,
            "peer %s: synchronised: by %s, %u reconciliation round%s, %zu record%s pushed, %llu "
            "fetched, %llu bytes sent, %llu received",
            link_name(link),
            s->mode == NBD_RECONCILE_RIBLT ? "rateless reconciliation"
            : s->rb_fell_back              ? "Negentropy (rateless could not decode)"
                                           : "Negentropy",
            s->rounds, s->rounds == 1 ? "" : "s", s->have.count, s->have.count == 1 ? "" : "s",
            (unsigned long long)s->round_fetched,
            (unsigned long long)(link->bytes_out - s->round_bytes_out),
            (unsigned long long)(link->bytes_in - s->round_bytes_in));
    s->last_mode = s->mode;
    /* The needed ids stay until the next round: they are what the peer
     * holds, and sync_on_accept does not push those to it. */
    nb_negentropy_ids_free(&s->have);
    set_synced(link);
}

void sync_drain(struct nbd_link *link)
{
    struct nbd_sync *s = &link->sync;
    if (link->state != LINK_UP)
        return;
    refill(&s->tx_tokens, &s->tx_at, uv_now(link_net(link)->loop), NET_TX_RATE, NET_TX_BURST);
    while (s->tx_tokens >= 1.0 && link->state == LINK_UP) {
        /* Live records first; the backlog only once the round's fetches
         * are in (a record they retracted is then gone and not sent) and
         * with little queued, so a live record does not wait behind it. */
        struct nbd_push_queue *q;
        if (s->live.len > 0 && link_queued(link) < NET_TX_LOW_WATER)
            q = &s->live;
        else if (s->backlog.len > 0 && fetches_done(s) && link_queued(link) < NET_BACKLOG_LOW_WATER)
            q = &s->backlog;
        else
            break;
        uint8_t id[NB_ID_SIZE];
        queue_pop(q, id);
        if (send_record_by_id(link, id) == 0)
            s->tx_tokens -= 1.0;
    }
    maybe_synced(link);
}

/* ---- fetching ------------------------------------------------------------- */

static int id_cmp(const void *a, const void *b)
{
    return memcmp(a, b, NB_ID_SIZE);
}

static bool wanted_has(const struct nbd_sync *s, const uint8_t id[NB_ID_SIZE])
{
    return s->wanted_n > 0 && bsearch(id, s->wanted, s->wanted_n, NB_ID_SIZE, id_cmp) != NULL;
}

/* The peer of `link` holds `id`: its last reconciliation named it as needed
 * here (the list is sorted once the reconciliation is complete). */
static bool peer_holds(const struct nbd_link *link, const uint8_t id[NB_ID_SIZE])
{
    const struct nbd_sync *s = &link->sync;
    return !s->reconciling && s->need.count > 0 &&
           bsearch(id, s->need.ids, s->need.count, NB_ID_SIZE, id_cmp) != NULL;
}

/* Another link has asked its peer for `id` and waits for it. */
static bool fetching_elsewhere(const struct nbd_link *link, const uint8_t id[NB_ID_SIZE])
{
    for (const struct nbd_link *l = link->host->links; l != NULL; l = l->next)
        if (l != link && l->state == LINK_UP && wanted_has(&l->sync, id))
            return true;
    return false;
}

static void deferred_add(struct nbd_link *link, const uint8_t id[NB_ID_SIZE])
{
    struct nbd_sync *s = &link->sync;
    if (s->deferred_n == s->deferred_cap) {
        size_t cap = s->deferred_cap ? s->deferred_cap * 2 : 256;
        void *p = realloc(s->deferred, cap * NB_ID_SIZE);
        if (p == NULL)
            return; /* the next round asks again */
        s->deferred = p;
        s->deferred_cap = cap;
    }
    memcpy(s->deferred[s->deferred_n++], id, NB_ID_SIZE);
}

enum need {
    NEED_NOTHING,   /* held, tombstoned, asked for here already, or the store failed */
    NEED_ELSEWHERE, /* another link is fetching it */
    NEED_FETCH,
};

static enum need need_of(struct nbd_link *link, const uint8_t id[NB_ID_SIZE])
{
    struct nbd_store *store = link_net(link)->node->store;
    /* The needed ids are taken while a reconciliation still runs and taken
     * again from the sorted list at its end: what this link asked for
     * already is not asked twice. */
    if (wanted_has(&link->sync, id))
        return NEED_NOTHING;
    if (fetching_elsewhere(link, id))
        return NEED_ELSEWHERE;
    if (nbd_store_is_tombstoned(store, id) != 0)
        return NEED_NOTHING;
    int held = nbd_store_has(store, id);
    if (held > 0)
        link->sync.round_fetched++; /* it came meanwhile, from another link */
    return held == 0 ? NEED_FETCH : NEED_NOTHING;
}

/* How many wanted ids may be in flight (see NET_WANTED_MAX). */
static size_t want_window(const struct nbd_sync *s)
{
    double w = s->fetch_rate * NET_WANT_WINDOW_S;
    if (w < NET_WANT_WINDOW_MIN)
        return NET_WANT_WINDOW_MIN;
    if (w > NET_WANTED_MAX)
        return NET_WANTED_MAX;
    return (size_t)w;
}

static bool wanted_remove(struct nbd_sync *s, const uint8_t id[NB_ID_SIZE])
{
    /* bsearch must not see the NULL list of a link that wants nothing. */
    if (s->wanted_n == 0)
        return false;
    uint8_t(*hit)[NB_ID_SIZE] = bsearch(id, s->wanted, s->wanted_n, NB_ID_SIZE, id_cmp);
    if (hit == NULL)
        return false;
    size_t i = (size_t)(hit - s->wanted);
    memmove(s->wanted[i], s->wanted[i + 1], (s->wanted_n - i - 1) * NB_ID_SIZE);
    s->wanted_n--;
    return true;
}

/* Needed ids of the link's reconciliation that no link has taken yet. */
static size_t untaken(const struct nbd_sync *s)
{
    return s->need.count > s->need_pos ? s->need.count - s->need_pos : 0;
}

/*
 * The link may ask its peer for a share of another link's needed ids: its
 * peer has not reconciled with this node on this link (so nothing says it
 * lacks them), no round of its own is under way, and its peer has not
 * turned out to lack many of them.
 */
static bool may_help(const struct nbd_link *link)
{
    const struct nbd_sync *s = &link->sync;
    return link->state == LINK_UP && !s->synced && !s->reconciling && !s->round_open &&
           s->help_missing < NET_HELP_MISSING_MAX;
}

/* The other link whose reconciliation left the most needed ids untaken. */
static struct nbd_link *help_whom(const struct nbd_link *link)
{
    struct nbd_link *best = NULL;
    for (struct nbd_link *l = link->host->links; l != NULL; l = l->next)
        if (l != link && l->state == LINK_UP && untaken(&l->sync) > 0 &&
            (best == NULL || untaken(&l->sync) > untaken(&best->sync)))
            best = l;
    return best;
}

/*
 * Asks for the next needed ids of `from`'s reconciliation (the link's own,
 * or another link's it helps), as many as may be in flight (want_window).
 * Ids retracted or purged here (tombstoned) and ids that arrived meanwhile
 * (a push from another link) are skipped; ids another link is fetching are
 * set aside on `from` and, with `recheck`, asked for here once that link no
 * longer waits for them without having delivered.  Ids a helping link asks
 * its peer for are set aside on `from` as well: if that peer lacks them or
 * the link goes, `from` asks its own peer, which holds them.  Needed ids are
 * looked up a batch at a time and for at most NET_WANT_SCAN_NS per call, so
 * a round with many ids does not stall the loop: sync_tick continues the
 * scan.
 *
 * Because every link takes the next ids no other link has asked for, the
 * links of a node catching up share the backlog, each in proportion to
 * what its peer delivers.
 */
static void take_wants(struct nbd_link *link, struct nbd_link *from, bool recheck)
{
    struct nbd_sync *s = &link->sync, *fs = &from->sync;
    recheck = recheck && from == link;
    uint8_t buf[NB_PEER_IDS_MAX * (NB_ID_SIZE + 2) + 16];
    uint8_t ids[NB_PEER_IDS_MAX][NB_ID_SIZE];
    uint64_t started = uv_hrtime();
    size_t window = want_window(s);
    while (link->state == LINK_UP && s->wanted_n < window &&
           uv_hrtime() - started < NET_WANT_SCAN_NS) {
        size_t room = window - s->wanted_n;
        if (room > NB_PEER_IDS_MAX)
            room = NB_PEER_IDS_MAX;
        size_t batch = 0;
        while (batch < room && fs->need_pos < fs->need.count) {
            const uint8_t *id = fs->need.ids[fs->need_pos++];
            enum need need = need_of(link, id);
            /* While the reconciliation runs its list may name an id twice
             * (a cut message makes it revisit ranges). */
            for (size_t i = 0; need == NEED_FETCH && fs->reconciling && i < batch; i++)
                if (memcmp(ids[i], id, NB_ID_SIZE) == 0)
                    need = NEED_NOTHING;
            if (need == NEED_FETCH)
                memcpy(ids[batch++], id, NB_ID_SIZE);
            if (need == NEED_ELSEWHERE || (need == NEED_FETCH && from != link))
                deferred_add(from, id);
        }
        if (batch < room && fs->need_pos >= fs->need.count && recheck) {
            recheck = false; /* one pass per call */
            for (size_t i = 0; i < s->deferred_n && batch < room;) {
                enum need need = need_of(link, s->deferred[i]);
                if (need == NEED_ELSEWHERE) {
                    i++;
                    continue;
                }
                if (need == NEED_FETCH)
                    memcpy(ids[batch++], s->deferred[i], NB_ID_SIZE);
                memmove(s->deferred[i], s->deferred[i + 1], (s->deferred_n - i - 1) * NB_ID_SIZE);
                s->deferred_n--;
            }
        }
        if (batch == 0) {
            if (fs->need_pos >= fs->need.count)
                break;
            continue;
        }
        size_t n;
        if (nb_peer_encode_ids(NB_PEER_WANT, (const uint8_t(*)[NB_ID_SIZE])ids, batch, buf,
                               sizeof(buf), &n) < 0 ||
            link_send(link, buf, n) < 0)
            return;
        if (s->wanted == NULL) {
            s->wanted = malloc(NET_WANTED_MAX * NB_ID_SIZE);
            if (s->wanted == NULL) {
                link_close(link, "out of memory");
                return;
            }
        }
        memcpy(s->wanted[s->wanted_n], ids, batch * NB_ID_SIZE);
        s->wanted_n += batch;
        qsort(s->wanted, s->wanted_n, NB_ID_SIZE, id_cmp);
        s->fetch_progress = uv_now(link_net(link)->loop);
    }
}

/* Another link can fetch a share of this one's needed ids. */
static bool helped(const struct nbd_link *link)
{
    for (const struct nbd_link *l = link->host->links; l != NULL; l = l->next)
        if (l != link && may_help(l))
            return true;
    return false;
}

/* Asks for needed ids: the link's own reconciliation's first, else a share
 * of another link's (may_help). */
static void send_wants(struct nbd_link *link, bool recheck)
{
    struct nbd_sync *s = &link->sync;
    /* While its reconciliation runs, a link that other links help leaves
     * its own bandwidth to the rest of the list of ids, which those links
     * wait for; it fetches once the list is complete. */
    if (s->reconciling && helped(link))
        return;
    if (untaken(s) > 0 || s->deferred_n > 0 || !may_help(link)) {
        take_wants(link, link, recheck);
        return;
    }
    struct nbd_link *from = help_whom(link);
    if (from != NULL)
        take_wants(link, from, false);
}

/* Every link takes its share of what the reconciliations found. */
static void spread_wants(struct nbd_net *net)
{
    for (struct nbd_link *l = net->host.links; l != NULL; l = l->next)
        if (l->state == LINK_UP)
            send_wants(l, false);
}

/* The initiator's reconciliation is complete: push what only we have,
 * fetch what only the peer has. */
static void reconciled(struct nbd_link *link)
{
    struct nbd_sync *s = &link->sync;
    s->reconciling = false;
    s->ne_open = false;
    sync_items_put(s->snap);
    s->snap = NULL;
    rb_enc_free(s);
    /* A cut message makes the initiator revisit ranges, so the same id can
     * be reported twice. */
    nb_negentropy_ids_sort_unique(&s->have);
    nb_negentropy_ids_sort_unique(&s->need);
    for (size_t i = 0; i < s->have.count; i++)
        queue_push(link, &s->backlog, s->have.ids[i]);
    nbd_debug("peer %s: reconciled: %zu to push, %zu to fetch at most", link_name(link),
              s->have.count, s->need.count);
    /* Ids taken while the reconciliation ran are in the sorted list too:
     * it is gone through again from its start, and need_of sorts out what
     * is held, asked for, or set aside (every set-aside id is in the list,
     * so it is set aside anew). */
    s->need_pos = 0;
    s->deferred_n = 0;
    s->round_open = true;
    send_wants(link, true);
    spread_wants(link_net(link));
    sync_drain(link);
}

static void neg_send(struct nbd_link *link, const uint8_t *msg, size_t len)
{
    uint8_t out[NB_PEER_MSG_MAX];
    size_t n;
    if (nb_peer_encode_neg(msg, len, out, sizeof(out), &n) == 0 && link_send(link, out, n) == 0)
        link->sync.reconcile_out += len;
}

/* Opens the Negentropy session of the round and sends its first message. */
static int negentropy_open(struct nbd_link *link)
{
    struct nbd_sync *s = &link->sync;
    uint8_t *msg = NULL;
    size_t len;
    int r = sync_items_get(link_net(link), &s->snap);
    if (r < 0) {
        nbd_error("cannot read the store's items for reconciliation: %s", nb_strerror(r));
        return r;
    }
    r = nb_negentropy_init(&s->ne, &s->snap->storage, NB_NEGENTROPY_FRAME_SIZE_LIMIT);
    if (r == 0)
        r = nb_negentropy_initiate(&s->ne, &msg, &len);
    if (r < 0) {
        sync_items_put(s->snap);
        s->snap = NULL;
        nbd_error("cannot start a reconciliation: %s", nb_strerror(r));
        return r;
    }
    s->mode = NBD_RECONCILE_NEGENTROPY;
    s->ne_open = true;
    neg_send(link, msg, len);
    free(msg);
    return 0;
}

static int rbl_send(struct nbd_link *link, const uint8_t *msg, size_t len)
{
    uint8_t out[NB_PEER_MSG_MAX];
    size_t n;
    int r = nb_peer_encode_rbl(msg, len, out, sizeof(out), &n);
    if (r == 0)
        r = link_send(link, out, n);
    if (r == 0)
        link->sync.reconcile_out += len;
    return r;
}

/* Sends the coded symbols the responder lets the initiator send: a flight,
 * whose end each message names, so that the responder answers once the
 * whole flight came rather than at every message. */
static void riblt_send(struct nbd_link *link)
{
    struct nbd_sync *s = &link->sync;
    uint8_t msg[NET_RIBLT_BATCH * (NB_RIBLT_ID_SIZE + 18) + 16];
    while (s->rb_enc != NULL && s->rb_sent < s->rb_allowed && link->state == LINK_UP) {
        size_t n = s->rb_allowed - s->rb_sent, len;
        if (n > NET_RIBLT_BATCH)
            n = NET_RIBLT_BATCH;
        if (nb_riblt_encode_symbols(&s->rb_enc->enc, s->rb_sent, n, s->rb_allowed, msg, sizeof(msg),
                                    &len) < 0 ||
            rbl_send(link, msg, len) < 0)
            return;
        s->rb_sent += n;
    }
}

/* Another link is in sync (or, with `reconciled`, has reconciled and
 * fetches what it found): this node holds (or is about to) what that peer
 * holds, and in a neighbourhood the next peer differs from it by little. */
static bool synced_elsewhere(const struct nbd_link *link, bool reconciled)
{
    for (const struct nbd_link *l = link->host->links; l != NULL; l = l->next)
        if (l != link && l->state == LINK_UP &&
            (l->sync.synced || (reconciled && l->sync.round_open)))
            return true;
    return false;
}

/* Starts the rateless session of the round: its first flight of coded
 * symbols (see NET_RIBLT_FLIGHT_FIRST), or, while the node's coded symbols
 * are being built, a wait for them (riblt_resume). */
static int riblt_open(struct nbd_link *link)
{
    struct nbd_sync *s = &link->sync;
    s->rb_waiting = false;
    int r = riblt_get(link_net(link), &s->rb_enc);
    if (r == NB_ESTATE) {
        s->rb_waiting = true;
        s->mode = NBD_RECONCILE_RIBLT;
        return 0;
    }
    if (r < 0) {
        s->rb_enc = NULL;
        nbd_error("cannot compute the coded symbols for reconciliation: %s", nb_strerror(r));
        return r;
    }
    s->mode = NBD_RECONCILE_RIBLT;
    s->rb_sent = 0;
    s->rb_allowed = s->synced || synced_elsewhere(link, true) ? NET_RIBLT_FLIGHT_SYNCED
                                                              : NET_RIBLT_FLIGHT_FIRST;
    riblt_send(link);
    return 0;
}

/* Both sides offered rateless reconciliation in their hellos. */
static bool riblt_agreed(const struct nbd_link *link)
{
    return link->host->riblt && link->hello.riblt == NB_PEER_RIBLT_VERSION;
}

/*
 * The node comes back from a while away: no link of it is in sync or has
 * reconciled yet, and the newest record it holds is older than NET_AWAY_S.
 * What it lacks is then what the neighbourhood posted meanwhile, the newest
 * records: Negentropy's time-ordered ranges find them in a few round trips
 * and about their ids' bytes, most of which the peer sends, while coded
 * symbols for that many differences (about 1.5 per difference, ~48 bytes
 * each) would cross the returning node's uplink before any record comes.
 * A node that holds nothing is the extreme case (its newest record counts
 * as dated 0): coded symbols cannot decode a peer's whole set at all, they
 * would stream upstream only to be answered with `fallback`.
 */
static bool back_from_away(struct nbd_link *link, bool *ret_empty)
{
    *ret_empty = false;
    if (link->sync.synced || synced_elsewhere(link, true))
        return false;
    struct nbd_net *net = link_net(link);
    struct nbd_items *items;
    if (sync_items_get(net, &items) < 0)
        return false;
    *ret_empty = items->count == 0;
    uint64_t newest = items->count > 0 ? items->items[items->count - 1].created_at : 0;
    sync_items_put(items);
    uint64_t now = net->clock();
    return now > NET_AWAY_S && newest < now - NET_AWAY_S;
}

/* Another link leads the catch-up: its first reconciliation runs, or it
 * found more than NET_HELP_MIN ids that are not in yet. */
static bool leads(const struct nbd_link *l)
{
    const struct nbd_sync *s = &l->sync;
    return l->state == LINK_UP &&
           ((s->reconciling && !s->synced) ||
            (s->round_open && untaken(s) + s->deferred_n + s->wanted_n > NET_HELP_MIN));
}

/*
 * A link's first round waits while another link leads the catch-up: the
 * other reconciliations would each bring the whole list of ids again, for
 * records one peer's list names already.  The link fetches a share of that
 * list meanwhile (send_wants), and reconciles once what is left is small,
 * which costs a few coded symbols.  Bounded by NET_ROUND_POSTPONE_MS.
 */
static bool postponed(struct nbd_link *link, uint64_t now)
{
    struct nbd_sync *s = &link->sync;
    /* Once this node is in sync with one peer, the others differ from it
     * by little: their rounds go at once, side by side. */
    if (s->synced || synced_elsewhere(link, false))
        return false;
    if (!s->round_due) {
        s->round_due = true;
        s->due_since = now;
    }
    if (now - s->due_since >= NET_ROUND_POSTPONE_MS)
        return false;
    for (const struct nbd_link *l = link->host->links; l != NULL; l = l->next)
        if (l != link && leads(l))
            return true;
    return false;
}

static void start_round(struct nbd_link *link)
{
    struct nbd_sync *s = &link->sync;
    if (s->reconciling || s->round_open)
        return;
    uint64_t now = uv_now(link_net(link)->loop);
    if (postponed(link, now)) {
        send_wants(link, false);
        return;
    }
    s->round_due = false;
    s->round_started = now;
    nb_negentropy_ids_free(&s->have);
    nb_negentropy_ids_free(&s->need);
    s->need_pos = 0;
    /* What earlier pushes could not keep, this round fetches again. */
    s->unstored = 0;
    s->deferred_n = 0;
    s->rounds = 1;
    s->round_fetched = 0;
    s->round_bytes_in = link->bytes_in;
    s->round_bytes_out = link->bytes_out;
    s->rb_fell_back = false;
    int r = NB_ESTATE;
    bool empty;
    if (riblt_agreed(link)) {
        if (!back_from_away(link, &empty))
            r = riblt_open(link);
        else if (!empty)
            nbd_info("peer %s: back after a while away: reconciling with Negentropy",
                     link_name(link));
    }
    if (r < 0)
        r = negentropy_open(link);
    s->reconciling = r == 0;
}

/* ---- receiving ------------------------------------------------------------- */

static void accept_record(struct nbd_link *link, const uint8_t *bytes, size_t len,
                          const uint8_t id[NB_ID_SIZE], struct nbd_origin origin, bool may_wait);

/* Retries the records that were waiting for `id`. */
static void retry_pending(struct nbd_net *net, const uint8_t id[NB_ID_SIZE])
{
    for (size_t i = 0; i < net->n_pending;) {
        if (memcmp(net->pending[i].target, id, NB_ID_SIZE) != 0) {
            i++;
            continue;
        }
        struct nbd_pending p = net->pending[i];
        net->pending[i] = net->pending[--net->n_pending];
        net->pending_bytes -= p.len;
        accept_record(p.link, p.bytes, p.len, p.id,
                      p.fetched ? NBD_FETCHED_FROM_PEER(p.link) : NBD_FROM_PEER(p.link), false);
        free(p.bytes);
        i = 0; /* the array changed under us */
    }
}

static void wait_for_target(struct nbd_link *link, const uint8_t *bytes, size_t len,
                            const uint8_t id[NB_ID_SIZE], const uint8_t target[NB_ID_SIZE],
                            bool fetched)
{
    struct nbd_net *net = link_net(link);
    if (net->n_pending >= NET_PENDING_MAX || net->pending_bytes + len > NET_PENDING_BYTES_MAX)
        return;
    uint8_t *copy = malloc(len);
    if (copy == NULL)
        return;
    memcpy(copy, bytes, len);
    struct nbd_pending *p = &net->pending[net->n_pending++];
    p->link = link;
    p->added = uv_now(net->loop);
    memcpy(p->target, target, NB_ID_SIZE);
    memcpy(p->id, id, NB_ID_SIZE);
    p->len = len;
    p->bytes = copy;
    p->fetched = fetched;
    net->pending_bytes += len;
    nbd_debug("peer %s: a record waits for the record it acts on", link_name(link));
}

/* `id` is the record's, computed once by the caller; `origin` is the
 * link's, saying whether this node asked for it and whether its signature
 * was checked (struct nbd_origin). */
static void accept_record(struct nbd_link *link, const uint8_t *bytes, size_t len,
                          const uint8_t id[NB_ID_SIZE], struct nbd_origin origin, bool may_wait)
{
    struct nbd_net *net = link_net(link);
    struct nbd_accept_report why;
    enum nbd_accept_verdict v =
        nbd_node_accept(net->node, bytes, len, id, net->clock(), origin, &why);
    switch (v) {
    case NBD_ACCEPTED:
        link->records_in++;
        retry_pending(net, id);
        return;
    case NBD_INVALID_RECORD:
        /* A record from the future says as much about this node's clock as
         * about the peer: it is not held against the peer, but the link is
         * not in sync while it lasts. */
        if (why.code == NB_EFUTURE) {
            unkept(link, why.code);
            return;
        }
        link_invalid(link, "sent an invalid record (%s)", nb_error_name(why.code));
        return;
    case NBD_NOT_FOUND:
        if (may_wait)
            wait_for_target(link, bytes, len, id, why.target, origin.fetched);
        return;
    case NBD_INTERNAL:
        if (link->sync.unstored == 0)
            nbd_error("storing a peer's record failed: %s", nb_strerror(why.code));
        unkept(link, why.code);
        return;
    case NBD_OVER_QUOTA: /* the node logs the author once per window */
    case NBD_REFUSED:
    case NBD_GONE:
        /* The node's sentence, not the bare code: a record retracted here
         * and one purged at its expiry share NBD_GONE. */
        nbd_debug("peer %s: record not stored: %s: %s", link_name(link), nbd_accept_error(v),
                  why.message);
        return;
    }
}

static void fetched(struct nbd_link *link, size_t n);

static int inbox_add(struct nbd_sync *s, const uint8_t *bytes, size_t len,
                     const uint8_t id[NB_ID_SIZE], bool solicited)
{
    if (s->inbox_used + len > s->inbox_cap) {
        size_t cap = s->inbox_cap ? s->inbox_cap : 16384;
        while (cap < s->inbox_used + len)
            cap *= 2;
        void *p = realloc(s->inbox, cap);
        if (p == NULL)
            return NB_ENOMEM;
        s->inbox = p;
        s->inbox_cap = cap;
    }
    if (s->inbox_n == s->inbox_records_cap) {
        size_t cap = s->inbox_records_cap ? s->inbox_records_cap * 2 : 128;
        void *p = realloc(s->inbox_records, cap * sizeof(*s->inbox_records));
        if (p == NULL)
            return NB_ENOMEM;
        s->inbox_records = p;
        s->inbox_records_cap = cap;
    }
    struct nbd_inbox_record *r = &s->inbox_records[s->inbox_n++];
    r->off = s->inbox_used;
    r->len = len;
    r->solicited = solicited;
    memcpy(r->id, id, NB_ID_SIZE);
    memcpy(s->inbox + s->inbox_used, bytes, len);
    s->inbox_used += len;
    return 0;
}

static void on_record(struct nbd_link *link, const uint8_t *bytes, size_t len)
{
    struct nbd_sync *s = &link->sync;
    uint8_t id[NB_ID_SIZE];
    nb_record_id(bytes, len, id);
    /* A wanted id stays wanted until its record is accepted: until then
     * no round asks for it again, from this peer or another. */
    bool solicited = wanted_has(s, id);
    if (!solicited) {
        refill(&s->rx_tokens, &s->rx_at, uv_now(link_net(link)->loop), NET_RX_RATE, NET_RX_BURST);
        if (s->rx_tokens < 1.0) {
            if (!s->rx_drop_logged)
                link_warn(link, "pushes more than 1000 records a second; dropping the excess");
            s->rx_drop_logged = true;
            return;
        }
        s->rx_tokens -= 1.0;
    }
    if (s->inbox_used + len > NET_INBOX_MAX)
        sync_submit_records(link);
    if (inbox_add(s, bytes, len, id, solicited) < 0) {
        /* No memory to hold it: check it alone, now, after those read
         * before it. */
        sync_flush_records(link);
        if (link->state != LINK_UP)
            return;
        if (solicited)
            wanted_remove(s, id);
        accept_record(link, bytes, len, id,
                      solicited ? NBD_FETCHED_FROM_PEER(link) : NBD_FROM_PEER(link), true);
        if (solicited)
            fetched(link, 1);
    }
}

/* `n` wanted records came in. */
static void fetched(struct nbd_link *link, size_t n)
{
    struct nbd_sync *s = &link->sync;
    if (n == 0 || link->state != LINK_UP)
        return;
    s->round_fetched += n;
    s->fetched_since += (unsigned)n;
    s->fetch_progress = uv_now(link_net(link)->loop);
    send_wants(link, s->wanted_n == 0);
    maybe_synced(link);
}

/* ---- records on their way in ----------------------------------------------
 *
 * The records of a read are one batch.  At the read's end the batch goes to
 * the verifier's threads and the loop reads, decrypts and stores on; when
 * the verifier says a batch is checked, the batches are accepted oldest
 * first over all links, each record in the order it was read.  So what
 * depends on order (a response read before its request waits for it) comes
 * out as if each record had been accepted as it was read.  Records of a
 * batch not yet accepted are still being fetched: a round is not done
 * (fetches_done) and `synced` not sent while any are with the verifier, and
 * before any other message of the link is acted on they are accepted
 * (sync_flush_records).  Batches of a link that closes are dropped unread.
 */
struct nbd_rx_batch {
    struct nbd_rx_batch *next;
    struct nbd_link *link; /* NULL once the link closed */
    uint8_t *buf;
    struct nbd_inbox_record *recs;
    size_t bytes;
    struct nbd_verify_job job;
    struct nbd_verify_item checks[];
};

static void on_verified(void *ctx);

static struct nbd_verifier *verifier(struct nbd_net *net)
{
    if (net->verifier == NULL && !net->verifier_tried && !net->stopping) {
        net->verifier_tried = true;
        int r = nbd_verifier_new(net->loop, nbd_verifier_default_workers(), on_verified, net,
                                 &net->verifier);
        if (r < 0)
            nbd_warn("cannot start threads to check signatures (%s); checking them on the loop "
                     "thread",
                     nb_strerror(r));
    }
    return net->verifier;
}

/* Accepts the records of one checked batch. */
static void accept_batch(struct nbd_net *net, struct nbd_rx_batch *b)
{
    struct nbd_link *link = b->link;
    net->rx_bytes -= b->bytes;
    net->rx_held += b->job.n;
    if (link == NULL)
        return;
    struct nbd_sync *s = &link->sync;
    s->verifying -= b->job.n;
    if (s->rx_last == b)
        s->rx_last = NULL;
    size_t solicited = 0;
    for (size_t i = 0; i < b->job.n && link->state == LINK_UP; i++) {
        const struct nbd_inbox_record *r = &b->recs[i];
        struct nbd_origin origin = r->solicited ? NBD_FETCHED_FROM_PEER(link) : NBD_FROM_PEER(link);
        /* A record whose check failed goes through the node's own, which
         * refuses it with the reason. */
        origin.signature_checked = b->checks[i].ok;
        if (r->solicited)
            wanted_remove(s, r->id);
        accept_record(link, b->buf + r->off, r->len, r->id, origin, true);
        solicited += r->solicited;
        s->rx_uncommitted = true;
    }
    fetched(link, solicited);
}

static void batch_free(struct nbd_rx_batch *b)
{
    free(b->buf);
    free(b->recs);
    free(b);
}

/*
 * Accepts checked batches oldest first: those already checked (wait
 * false), or every one up to and including `until`, waiting for their
 * checks (wait true; until NULL: all of them).
 */
static void accept_checked(struct nbd_net *net, const struct nbd_rx_batch *until, bool wait)
{
    /* Accepting may close a link and so drop its batches, never read
     * another: one pass at a time. */
    if (net->rx_accepting)
        return;
    net->rx_accepting = true;
    while (net->rx_head != NULL) {
        struct nbd_rx_batch *b = net->rx_head;
        if (net->verifier != NULL) {
            if (wait)
                nbd_verify_wait(net->verifier, &b->job);
            else if (!nbd_verify_finished(net->verifier, &b->job))
                break;
        }
        net->rx_head = b->next;
        bool last = b == until;
        accept_batch(net, b);
        batch_free(b);
        if (last)
            break;
    }
    net->rx_accepting = false;
}

/*
 * The verifier finished one or more batches: their records are accepted
 * into one transaction.  While more batches are with the verifier it is
 * left open for them (NET_COMMIT_RECORDS, NET_COMMIT_MS): a peer's fetched
 * records were promised to nobody, and after a crash the next
 * reconciliation fetches again what the open transaction lost.  Anything
 * that reveals the store to a peer or acknowledges a client's record
 * commits it first (nbd_node_flush, the end of the client's batch); the
 * last batch of a burst commits at once.
 */
static void on_verified(void *ctx)
{
    struct nbd_net *net = ctx;
    if (net->rx_head == NULL)
        return;
    uint64_t now = uv_now(net->loop);
    if (net->rx_held == 0)
        net->rx_held_since = now;
    nbd_node_batch_begin(net->node);
    accept_checked(net, NULL, false);
    if (net->rx_head != NULL && net->rx_held < NET_COMMIT_RECORDS &&
        now - net->rx_held_since < NET_COMMIT_MS) {
        nbd_node_batch_leave_open(net->node);
        return;
    }
    sync_batch_end(net, NULL);
}

void sync_batch_end(struct nbd_net *net, struct nbd_link *link)
{
    int r = nbd_node_batch_end(net->node);
    if (net->node->batch_depth == 0)
        net->rx_held = 0;
    for (struct nbd_link *l = net->host.links, *next; l != NULL; l = next) {
        next = l->next;
        bool told = l->sync.rx_uncommitted || l == link;
        l->sync.rx_uncommitted = false;
        if (r == 0 || !told || l->state != LINK_UP)
            continue;
        char why[512];
        nbd_error("storing records from peer %s failed: %s; they are fetched again", link_name(l),
                  nbd_store_explain(net->node->store, r, why, sizeof(why)));
        /* The round cannot count as synced; closing it now lets the retry
         * start after its backoff (not_kept). */
        sync_not_kept(l, r);
    }
}

void sync_submit_records(struct nbd_link *link)
{
    struct nbd_sync *s = &link->sync;
    struct nbd_net *net = link_net(link);
    if (s->inbox_n == 0)
        return;
    size_t n = s->inbox_n;
    struct nbd_rx_batch *b = malloc(sizeof(*b) + n * sizeof(b->checks[0]));
    if (b == NULL) {
        /* No memory to queue them: the node checks each itself, after the
         * batches read before them. */
        accept_checked(net, NULL, true);
        uint8_t *buf = s->inbox;
        struct nbd_inbox_record *recs = s->inbox_records;
        s->inbox = NULL;
        s->inbox_records = NULL;
        s->inbox_n = s->inbox_used = s->inbox_cap = s->inbox_records_cap = 0;
        size_t solicited = 0;
        for (size_t i = 0; i < n && link->state == LINK_UP; i++) {
            if (recs[i].solicited)
                wanted_remove(s, recs[i].id);
            accept_record(link, buf + recs[i].off, recs[i].len, recs[i].id,
                          recs[i].solicited ? NBD_FETCHED_FROM_PEER(link) : NBD_FROM_PEER(link),
                          true);
            solicited += recs[i].solicited;
        }
        fetched(link, solicited);
        free(buf);
        free(recs);
        return;
    }
    /* The inbox goes with the batch; the next read starts another. */
    *b = (struct nbd_rx_batch){
        .link = link,
        .buf = s->inbox,
        .recs = s->inbox_records,
        .bytes = s->inbox_used,
        .job = { .neighbourhood_id = net->node->neighbourhood_id, .items = b->checks, .n = n }
    };
    s->inbox = NULL;
    s->inbox_records = NULL;
    s->inbox_n = s->inbox_used = s->inbox_cap = s->inbox_records_cap = 0;
    for (size_t i = 0; i < n; i++)
        b->checks[i] =
            (struct nbd_verify_item){ .bytes = b->buf + b->recs[i].off, .len = b->recs[i].len };
    if (net->rx_head == NULL)
        net->rx_tail = &net->rx_head;
    *net->rx_tail = b;
    net->rx_tail = &b->next;
    net->rx_bytes += b->bytes;
    s->verifying += n;
    s->rx_last = b;
    struct nbd_verifier *v = verifier(net);
    if (v != NULL) {
        nbd_verify_submit(v, &b->job);
    } else {
        /* No threads: checked and accepted now, as they were read. */
        nbd_verify_batch(NULL, b->job.neighbourhood_id, b->checks, n);
        accept_checked(net, b, true);
        return;
    }
    /* Bounded memory: past the limit the loop checks and accepts the
     * oldest batches itself before it reads on. */
    while (net->rx_bytes > NET_VERIFYING_MAX && net->rx_head != NULL && !net->rx_accepting)
        accept_checked(net, net->rx_head, true);
}

void sync_flush_records(struct nbd_link *link)
{
    sync_submit_records(link);
    if (link->sync.rx_last != NULL)
        accept_checked(link_net(link), link->sync.rx_last, true);
}

void sync_stop(struct nbd_net *net)
{
    /* The links are closed, so every batch is dropped once the threads
     * are done with its bytes (even when the stop comes from within
     * accept_checked, which then finds none left). */
    while (net->rx_head != NULL) {
        struct nbd_rx_batch *b = net->rx_head;
        if (net->verifier != NULL)
            nbd_verify_wait(net->verifier, &b->job);
        net->rx_head = b->next;
        net->rx_bytes -= b->bytes;
        batch_free(b);
    }
    /* What an open transaction holds is kept rather than fetched again. */
    if (net->rx_held > 0 && net->node->batch_depth == 0)
        nbd_node_flush(net->node);
    net->rx_held = 0;
    nbd_verifier_free(net->verifier);
    net->verifier = NULL;
    net->verifier_tried = true;
}

static void on_want(struct nbd_link *link, const struct nb_peer_msg *msg)
{
    uint8_t missing[NB_PEER_IDS_MAX][NB_ID_SIZE];
    size_t n_missing = 0;
    for (size_t i = 0; i < msg->n_ids && link->state == LINK_UP; i++)
        if (send_record_by_id(link, msg->ids[i]) == NB_ENOENT)
            memcpy(missing[n_missing++], msg->ids[i], NB_ID_SIZE);
    if (n_missing > 0 && link->state == LINK_UP) {
        uint8_t buf[NB_PEER_IDS_MAX * (NB_ID_SIZE + 2) + 16];
        size_t n;
        if (nb_peer_encode_ids(NB_PEER_MISSING, (const uint8_t(*)[NB_ID_SIZE])missing, n_missing,
                               buf, sizeof(buf), &n) == 0)
            link_send(link, buf, n);
    }
}

/*
 * Runs one of the peer's `neg` messages through the session, charging the
 * time it takes to the peer's CPU bucket: a peer can make each message
 * cost at most a pass over our items, and the bucket bounds how many such
 * passes it gets.
 */
static void cpu_refill(struct nbd_link *link)
{
    struct nbd_sync *s = &link->sync;
    uint64_t now = uv_now(link_net(link)->loop);
    s->cpu_tokens += (double)(now - s->cpu_at) * 1e6 * NET_RECONCILE_CPU_SHARE;
    if (s->cpu_tokens > (double)NET_RECONCILE_CPU_BURST_NS)
        s->cpu_tokens = (double)NET_RECONCILE_CPU_BURST_NS;
    s->cpu_at = now;
}

static int reconcile_step(struct nbd_link *link, const uint8_t *bytes, size_t len, uint8_t **reply,
                          size_t *reply_len, struct nb_negentropy_ids *have,
                          struct nb_negentropy_ids *need)
{
    struct nbd_sync *s = &link->sync;
    cpu_refill(link);
    uint64_t started = uv_hrtime();
    int r = nb_negentropy_reconcile(&s->ne, bytes, len, reply, reply_len, have, need);
    s->cpu_tokens -= (double)(uv_hrtime() - started);
    return r;
}

static void on_neg(struct nbd_link *link, const uint8_t *bytes, size_t len)
{
    struct nbd_sync *s = &link->sync;
    uint8_t *reply = NULL;
    size_t reply_len = 0;
    size_t needed = s->need.count;
    int r;
    s->reconcile_in += len;
    if (link->outbound) {
        if (!s->reconciling) {
            link_invalid(link, "sent a reconciliation message we did not ask for");
            return;
        }
        r = reconcile_step(link, bytes, len, &reply, &reply_len, &s->have, &s->need);
    } else {
        if (!s->ne_open) {
            r = sync_items_get(link_net(link), &s->snap);
            if (r < 0) {
                nbd_error("cannot read the store's items for reconciliation: %s", nb_strerror(r));
                link_close(link, "store failed");
                return;
            }
            r = nb_negentropy_init(&s->ne, &s->snap->storage, NET_NEG_ANSWER_MAX);
            if (r < 0) {
                link_close(link, "cannot answer a reconciliation");
                return;
            }
            s->ne_open = true;
            s->mode = NBD_RECONCILE_NEGENTROPY;
        }
        r = reconcile_step(link, bytes, len, &reply, &reply_len, NULL, NULL);
    }
    if (r < 0) {
        /* A broken `neg` leaves no session to continue: the link closes,
         * and the message counts toward the peer's invalid ones. */
        link->invalid++;
        link_warn(link, "sent a malformed reconciliation message (%s); closing", nb_error_name(r));
        link_close(link, "malformed reconciliation message");
        return;
    }
    if (s->cpu_tokens < 0) {
        free(reply);
        misbehaved(link, "made reconciliation cost more CPU time than a peer may use");
        return;
    }
    if (reply != NULL && link->outbound) {
        if (s->rounds >= NET_RECONCILE_MSGS_MAX) {
            free(reply);
            misbehaved(link, "needed more than 1024 reconciliation messages in one round");
            return;
        }
        if (s->have.count + s->need.count > NET_RECONCILE_IDS_MAX) {
            /* Enough differences for one round: fetch and push these
             * first, so the lists stay bounded whatever the peer says. */
            free(reply);
            nbd_info("peer %s: reconciliation round stopped at %zu differences; the next round "
                     "continues",
                     link_name(link), s->have.count + s->need.count);
            s->partial = true;
            reconciled(link);
            return;
        }
    }
    if (reply != NULL) {
        neg_send(link, reply, reply_len);
        free(reply);
        if (link->outbound) {
            s->rounds++;
            /* The ids a long reconciliation names come a message at a
             * time: fetching them starts at once, on every link that can
             * help, rather than after the last message. */
            if (s->need.count > needed)
                spread_wants(link_net(link));
        }
        return;
    }
    if (link->outbound)
        reconciled(link);
}

/* ---- rateless reconciliation ----------------------------------------------- */

static void rb_session_free(struct nbd_sync *s)
{
    nb_riblt_decoder_free(s->rb_dec);
    free(s->rb_dec);
    s->rb_dec = NULL;
    coded_put(s->rb_local);
    s->rb_local = NULL;
    free(s->rb_held);
    s->rb_held = NULL;
    s->rb_held_n = 0;
}

/* The responder decoded the difference: it sends it to the initiator in
 * parts (ids only the initiator holds, ids only the responder holds). */
static void riblt_answer(struct nbd_link *link)
{
    static uint8_t msg[NB_RIBLT_DIFF_IDS_MAX * NB_RIBLT_ID_SIZE + 64];
    size_t pos = 0, len;
    do {
        if (nb_riblt_encode_answer(link->sync.rb_dec, &pos, msg, sizeof(msg), &len) < 0 ||
            rbl_send(link, msg, len) < 0)
            return;
    } while (pos < link->sync.rb_dec->n_decoded);
}

static void riblt_fallback(struct nbd_link *link)
{
    uint8_t msg[8];
    size_t len;
    rb_session_free(&link->sync);
    if (nb_riblt_encode_fallback(msg, sizeof(msg), &len) == 0)
        rbl_send(link, msg, len);
}

/* The responder decodes coded symbols first .. first+n-1 of its session, of
 * a flight that ends before index `end`, and answers. */
static void riblt_decode(struct nbd_link *link, uint64_t first, size_t n, uint64_t end,
                         const struct nb_riblt_symbol *symbols)
{
    struct nbd_sync *s = &link->sync;
    int r = 0;
    for (size_t i = 0; i < n && r == 0 && !nb_riblt_decoder_done(s->rb_dec); i++)
        r = nb_riblt_decoder_add(s->rb_dec, &symbols[i]);
    if (r == NB_EMALFORMED) {
        link->invalid++;
        link_warn(link, "sent a malformed coded symbol; closing");
        link_close(link, "malformed reconciliation message");
        return;
    }
    uint64_t total = 0;
    uint8_t msg[16];
    size_t len;
    switch (nb_riblt_answer(s->rb_dec, r, first + n == end, &total)) {
    case NB_RIBLT_WAIT:
        return;
    case NB_RIBLT_DIFF:
        riblt_answer(link);
        rb_session_free(s);
        return;
    case NB_RIBLT_MORE:
        if (nb_riblt_encode_more(total, msg, sizeof(msg), &len) == 0)
            rbl_send(link, msg, len);
        return;
    case NB_RIBLT_FALLBACK:
    case NB_RIBLT_SYMBOLS:
        break;
    }
    nbd_debug("peer %s: the rateless reconciliation cannot decode this difference; asking for "
              "Negentropy",
              link_name(link));
    riblt_fallback(link);
}

/* Keeps symbols of a session until the node's coded symbols are built
 * (they continue those held).  The initiator sends no more than a flight
 * before an answer, and never more than NB_RIBLT_SYMBOLS_MAX. */
static int riblt_hold(struct nbd_sync *s, const struct nb_riblt_msg *m,
                      const struct nb_riblt_symbol *symbols)
{
    if (m->first != s->rb_held_n || s->rb_held_n + m->n_symbols > NB_RIBLT_SYMBOLS_MAX)
        return NB_EMALFORMED;
    void *p = realloc(s->rb_held, (s->rb_held_n + m->n_symbols) * sizeof(*s->rb_held));
    if (p == NULL)
        return NB_ENOMEM;
    s->rb_held = p;
    memcpy(s->rb_held + s->rb_held_n, symbols, m->n_symbols * sizeof(*symbols));
    s->rb_held_n += m->n_symbols;
    s->rb_held_end = m->end;
    return 0;
}

/* Opens the responder's session on the node's coded symbols.  Returns 0,
 * NB_ESTATE (they are being built: the caller holds the symbols) or an
 * error (the caller asks for Negentropy). */
static int riblt_session(struct nbd_link *link)
{
    struct nbd_sync *s = &link->sync;
    rb_session_free(s);
    s->rb_dec = calloc(1, sizeof(*s->rb_dec));
    int r = s->rb_dec != NULL ? riblt_get(link_net(link), &s->rb_local) : NB_ENOMEM;
    if (r == 0)
        r = nb_riblt_decoder_init(s->rb_dec, &s->rb_local->enc);
    if (r < 0) {
        free(s->rb_dec);
        s->rb_dec = NULL;
        return r;
    }
    s->mode = NBD_RECONCILE_RIBLT;
    return 0;
}

/*
 * The responder takes a `symbols` message.  Symbols from index 0 open a
 * session on the node's coded symbols as they are then; later ones
 * continue it.  Symbols of a session already answered were in flight when
 * the answer left and are ignored.  After each message the responder
 * answers (nb_riblt_answer): the difference once decoded, `fallback` when
 * it cannot be, else `more`.  While the node's coded symbols are being
 * built, the session's symbols are held and answered once they are.
 */
static void riblt_respond(struct nbd_link *link, const struct nb_riblt_msg *m,
                          const struct nb_riblt_symbol *symbols)
{
    struct nbd_sync *s = &link->sync;
    int r = 0;
    if (m->first == 0) {
        free(s->rb_held);
        s->rb_held = NULL;
        s->rb_held_n = 0;
        r = riblt_session(link);
        if (r == NB_ESTATE) {
            r = riblt_hold(s, m, symbols);
            if (r == 0)
                return;
        }
        if (r < 0) {
            nbd_error("cannot answer a rateless reconciliation: %s", nb_strerror(r));
            riblt_fallback(link);
            return;
        }
    } else if (s->rb_held != NULL) {
        r = riblt_hold(s, m, symbols);
        if (r == 0)
            return;
    } else if (s->rb_dec == NULL) {
        return;
    } else if (m->first != s->rb_dec->m) {
        r = NB_EMALFORMED;
    }
    if (r == NB_EMALFORMED) {
        link->invalid++;
        link_warn(link, "sent coded symbols out of order; closing");
        link_close(link, "malformed reconciliation message");
        return;
    }
    if (r < 0) {
        riblt_fallback(link);
        return;
    }
    riblt_decode(link, m->first, m->n_symbols, m->end, symbols);
}

/* The node's coded symbols were built (`ready`) or could not be: the
 * initiator's round and the responder's held session go on, with
 * Negentropy if they could not. */
static void riblt_resume(struct nbd_link *link, bool ready)
{
    struct nbd_sync *s = &link->sync;
    if (s->rb_waiting) {
        int r = ready ? riblt_open(link) : NB_ENOMEM;
        if (r < 0 || s->rb_waiting) {
            s->rb_waiting = false;
            s->reconciling = negentropy_open(link) == 0;
        }
    }
    if (s->rb_held != NULL) {
        struct nb_riblt_symbol *held = s->rb_held;
        size_t n = s->rb_held_n;
        uint64_t end = s->rb_held_end;
        s->rb_held = NULL;
        s->rb_held_n = 0;
        if (ready && riblt_session(link) == 0)
            riblt_decode(link, 0, n, end, held);
        else
            riblt_fallback(link);
        free(held);
    }
}

/* Appends ids to an id list (bounded by the caller). */
static int ids_append(struct nb_negentropy_ids *list, const uint8_t *ids, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        int r = nb_negentropy_ids_add(list, ids + i * NB_RIBLT_ID_SIZE);
        if (r < 0)
            return r;
    }
    return 0;
}

/* The initiator takes the responder's answer. */
static void riblt_take(struct nbd_link *link, const struct nb_riblt_msg *m)
{
    struct nbd_sync *s = &link->sync;
    if (!s->reconciling || s->rb_enc == NULL) {
        link_invalid(link, "sent a reconciliation message we did not ask for");
        return;
    }
    switch (m->type) {
    case NB_RIBLT_MORE:
        if (m->total > s->rb_allowed)
            s->rb_allowed = m->total < s->rb_enc->enc.m ? (size_t)m->total : s->rb_enc->enc.m;
        riblt_send(link);
        return;
    case NB_RIBLT_FALLBACK:
        nbd_info("peer %s: rateless reconciliation could not decode the difference; reconciling "
                 "with Negentropy",
                 link_name(link));
        rb_enc_free(s);
        s->rb_fell_back = true;
        if (negentropy_open(link) < 0)
            s->reconciling = false;
        return;
    case NB_RIBLT_DIFF:
        if (s->have.count + s->need.count + m->n_have + m->n_need > NB_RIBLT_DIFF_MAX) {
            misbehaved(link, "named more differences than rateless reconciliation can decode");
            return;
        }
        if (!m->last && m->n_have + m->n_need < NB_RIBLT_DIFF_IDS_MAX) {
            /* Only the last part may be short: parts keep coming otherwise. */
            link_invalid(link, "sent a part of a difference that is not full");
            return;
        }
        if (ids_append(&s->have, m->have, m->n_have) < 0 ||
            ids_append(&s->need, m->need, m->n_need) < 0) {
            link_close(link, "out of memory");
            return;
        }
        if (m->last)
            reconciled(link);
        return;
    case NB_RIBLT_SYMBOLS:
    case NB_RIBLT_WAIT:
        break;
    }
    link_invalid(link, "sent coded symbols to the side that sends them");
}

static void on_rbl(struct nbd_link *link, const uint8_t *bytes, size_t len)
{
    struct nbd_sync *s = &link->sync;
    static struct nb_riblt_symbol symbols[NB_RIBLT_BATCH_MAX];
    struct nb_riblt_msg m;
    s->reconcile_in += len;
    if (!riblt_agreed(link)) {
        link_invalid(link, "sent a rateless reconciliation message without offering it");
        return;
    }
    int r = nb_riblt_msg_decode(bytes, len, &m, symbols);
    if (r < 0) {
        link->invalid++;
        link_warn(link, "sent a malformed reconciliation message (%s); closing", nb_error_name(r));
        link_close(link, "malformed reconciliation message");
        return;
    }
    if (link->outbound) {
        riblt_take(link, &m);
        return;
    }
    if (m.type != NB_RIBLT_SYMBOLS) {
        link_invalid(link, "sent a reconciliation answer to the side that answers");
        return;
    }
    /* The peer's symbols cost decoding time: from the same bucket as its
     * `neg` messages. */
    cpu_refill(link);
    uint64_t started = uv_hrtime();
    riblt_respond(link, &m, symbols);
    s->cpu_tokens -= (double)(uv_hrtime() - started);
    if (s->cpu_tokens < 0 && link->state == LINK_UP)
        misbehaved(link, "made reconciliation cost more CPU time than a peer may use");
}

void sync_on_message(struct nbd_link *link, const struct nb_peer_msg *msg)
{
    struct nbd_sync *s = &link->sync;
    /* Records read before this message are taken in first: its meaning
     * (`missing`, `synced`, a `neg`) may follow from them. */
    if (msg->type != NB_PEER_RECORD)
        sync_flush_records(link);
    if (link->state != LINK_UP)
        return;
    switch (msg->type) {
    case NB_PEER_NEG:
        on_neg(link, msg->bin, msg->bin_len);
        break;
    case NB_PEER_RBL:
        on_rbl(link, msg->bin, msg->bin_len);
        break;
    case NB_PEER_RECORD:
        on_record(link, msg->bin, msg->bin_len);
        break;
    case NB_PEER_WANT:
        on_want(link, msg);
        break;
    case NB_PEER_MISSING:
        for (size_t i = 0; i < msg->n_ids; i++)
            wanted_remove(s, msg->ids[i]);
        /* Asked for another link's ids, the peer lacks these: that link
         * asks its own peer (take_wants), and this one stops helping if its
         * peer lacks many. */
        if (may_help(link))
            s->help_missing += (unsigned)msg->n_ids;
        s->fetch_progress = uv_now(link_net(link)->loop);
        send_wants(link, s->wanted_n == 0);
        maybe_synced(link);
        break;
    case NB_PEER_SYNCED:
        if (!link->outbound) {
            /* The responder's side of the round is over: the next `neg`
             * starts a new one on a fresh snapshot. */
            s->ne_open = false;
            sync_items_put(s->snap);
            s->snap = NULL;
            rb_session_free(s);
            if (!s->synced)
                nbd_info("peer %s: synchronised (%s)", link_name(link),
                         s->mode == NBD_RECONCILE_RIBLT ? "rateless reconciliation" : "Negentropy");
            s->last_mode = s->mode;
            set_synced(link);
        }
        break;
    default:
        break;
    }
}

/* ---- the link's life -------------------------------------------------------- */

void sync_link_up(struct nbd_link *link)
{
    struct nbd_sync *s = &link->sync;
    uint64_t now = uv_now(link_net(link)->loop);
    s->tx_tokens = NET_TX_BURST;
    s->rx_tokens = NET_RX_BURST;
    s->cpu_tokens = (double)NET_RECONCILE_CPU_BURST_NS;
    s->tx_at = s->rx_at = s->cpu_at = s->rate_at = now;
    s->fetch_rate = NET_WANT_RATE_START;
    if (link->outbound)
        start_round(link);
}

/* Gives back the buffers of a burst once the link is idle, so that a node
 * with many quiet links holds little for them. */
static void release_idle(struct nbd_sync *s)
{
    if (s->inbox_n == 0) {
        free(s->inbox);
        free(s->inbox_records);
        s->inbox = NULL;
        s->inbox_records = NULL;
        s->inbox_used = s->inbox_cap = s->inbox_records_cap = 0;
    }
    if (s->live.len == 0)
        queue_free(&s->live);
    if (s->backlog.len == 0)
        queue_free(&s->backlog);
    if (s->wanted_n == 0) {
        free(s->wanted);
        s->wanted = NULL;
    }
    if (s->deferred_n == 0) {
        free(s->deferred);
        s->deferred = NULL;
        s->deferred_cap = 0;
    }
}

void sync_tick(struct nbd_link *link, uint64_t now)
{
    struct nbd_sync *s = &link->sync;
    sync_drain(link);
    if (link->state != LINK_UP)
        return;
    if (s->wanted_n > 0 || s->fetched_since > 0) {
        /* The rate over the last tick, smoothed; only while fetching, so
         * that an idle link keeps what it last showed. */
        double dt = (double)(now - s->rate_at) / 1000.0;
        if (dt > 0)
            s->fetch_rate = 0.5 * s->fetch_rate + 0.5 * (double)s->fetched_since / dt;
    }
    s->fetched_since = 0;
    s->rate_at = now;
    release_idle(s);
    if (((s->round_open || s->reconciling) && !fetches_done(s)) || may_help(link)) {
        send_wants(link, true);
        maybe_synced(link);
    }
    if (s->wanted_n > 0 && now - s->fetch_progress > NET_FETCH_STALL_MS) {
        /* A peer that does not answer has no reason to be asked for the
         * rest of the round either: the next round asks again. */
        link_warn(link, "did not answer %zu wanted records; giving up on this round's fetches",
                  s->wanted_n);
        s->wanted_n = 0;
        s->need_pos = s->need.count;
        s->deferred_n = 0;
        maybe_synced(link);
    }
    if (link->outbound && !s->reconciling && !s->round_open &&
        (s->round_due || now - s->round_started >= link_net(link)->sync_interval_ms))
        start_round(link);
}

uint64_t sync_fetching(const struct nbd_link *link)
{
    const struct nbd_sync *s = &link->sync;
    size_t left = s->need.count > s->need_pos ? s->need.count - s->need_pos : 0;
    return (uint64_t)(left + s->wanted_n + s->deferred_n + s->verifying);
}

void sync_link_closed(struct nbd_link *link)
{
    struct nbd_sync *s = &link->sync;
    drop_pending(link_net(link), link);
    sync_items_put(s->snap);
    s->snap = NULL;
    rb_enc_free(s);
    rb_session_free(s);
    s->reconciling = s->ne_open = s->round_open = s->partial = s->round_due = false;
    nb_negentropy_ids_free(&s->have);
    nb_negentropy_ids_free(&s->need);
    s->need_pos = 0;
    free(s->wanted);
    s->wanted = NULL;
    s->wanted_n = 0;
    free(s->deferred);
    s->deferred = NULL;
    s->deferred_n = s->deferred_cap = 0;
    queue_free(&s->live);
    queue_free(&s->backlog);
    free(s->inbox);
    free(s->inbox_records);
    s->inbox = NULL;
    s->inbox_records = NULL;
    s->inbox_n = s->inbox_used = s->inbox_cap = s->inbox_records_cap = 0;
    /* Its batches with the verifier are dropped when checked. */
    for (struct nbd_rx_batch *b = link_net(link)->rx_head; b != NULL; b = b->next)
        if (b->link == link)
            b->link = NULL;
    s->verifying = 0;
    s->rx_last = NULL;
}

void sync_on_accept(void *ctx, const uint8_t id[NB_ID_SIZE], const uint8_t *bytes, size_t len,
                    const struct nb_record *rec, const struct nbd_origin *origin)
{
    (void)bytes;
    (void)len;
    struct nbd_net *net = ctx;
    recent_add(net, rec->created_at, id);
    /* The one place the coded symbols learn of a new record. */
    struct nb_riblt_encoder *enc = coded_own(net);
    if (enc != NULL)
        nb_riblt_encoder_add(enc, id);
    /* A retraction deletes records the hook never hears about. */
    if (rec->kind == NB_KIND_RETRACTION)
        net->items_stale = true;
    /* A record this node fetched is backlog: each other peer's own
     * reconciliation finds whether it lacks it, so pushing it on would
     * mostly send peers what they hold (a node catching up from five
     * peers once pushed every record it fetched to the other four). */
    if (origin->fetched)
        return;
    for (struct nbd_link *l = net->host.links; l != NULL; l = l->next) {
        /* Not back to the link the record came from, nor to a peer whose
         * reconciliation showed that it holds it. */
        if (l == origin->link || l->state != LINK_UP || peer_holds(l, id))
            continue;
        queue_push(l, &l->sync.live, id);
        sync_drain(l);
    }
}

void sync_expire_pending(struct nbd_net *net, uint64_t now)
{
    for (size_t i = 0; i < net->n_pending;) {
        if (now - net->pending[i].added > NET_PENDING_MS) {
            net->pending_bytes -= net->pending[i].len;
            free(net->pending[i].bytes);
            net->pending[i] = net->pending[--net->n_pending];
        } else {
            i++;
        }
    }
}

void sync_free(struct nbd_net *net)
{
    nbd_verifier_free(net->verifier);
    net->verifier = NULL;
    sync_items_put(net->items);
    net->items = NULL;
    coded_drop(net);
    free(net->recent);
    net->recent = NULL;
    net->recent_n = net->recent_cap = 0;
    for (size_t i = 0; i < net->n_pending; i++)
        free(net->pending[i].bytes);
    net->n_pending = 0;
    net->pending_bytes = 0;
}
