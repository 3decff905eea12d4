/*
 * The control API's operations on records: submit, get, list and watch
 * (docs/control-api.md).  These are what a member's program may do.
 */
#include "daemon/control/ops.h"

#include <string.h>

#include <sodium.h>

#include <noaber/area.h>
#include <noaber/error.h>
#include <noaber/state.h>

#include "daemon/log.h"
#include "proto/mp.h"

/* The control API's error code for a verdict of the node: the one place
 * where the node's verdict becomes a word on the wire. */
static enum nb_ctl_error submit_error(enum nbd_accept_verdict verdict)
{
    switch (verdict) {
    case NBD_REFUSED:
    case NBD_OVER_QUOTA:
        return NB_CTL_E_REFUSED;
    case NBD_INVALID_RECORD:
        return NB_CTL_E_INVALID_RECORD;
    case NBD_NOT_FOUND:
        return NB_CTL_E_NOT_FOUND;
    case NBD_GONE:
        return NB_CTL_E_GONE;
    case NBD_ACCEPTED:
    case NBD_INTERNAL:
        break;
    }
    return NB_CTL_E_INTERNAL;
}

int nbd_op_submit(struct nbd_request *rq)
{
    struct nb_bytes record;
    int r = nb_mp_map_bin(rq->map, "record", 1, NB_RECORD_MAX, &record);
    if (r == NB_EFIELD)
        return nbd_reply_error(rq, NB_CTL_E_INVALID_RECORD, "the record is larger than 8192 bytes");
    if (r < 0)
        return nbd_reply_error(rq, NB_CTL_E_BAD_REQUEST,
                               "`record` must be the signed record as msgpack bin");
    uint8_t id[NB_ID_SIZE];
    struct nbd_accept_report why;
    nb_record_id(record.ptr, record.len, id);
    enum nbd_accept_verdict v = nbd_node_accept(rq->ctx->node, record.ptr, record.len, id,
                                                rq->ctx->clock(), NBD_FROM_CLIENT, &why);
    if (v != NBD_ACCEPTED) {
        /* Only the code is logged, never the record. */
        nbd_debug("submit refused: %s (%s)", nbd_accept_error(v), nb_error_name(why.code));
        if (v == NBD_INTERNAL)
            return nbd_reply_store_error(rq, why.code, "storing a record");
        return nbd_reply_error(rq, submit_error(v), why.message);
    }
    struct nbd_reply fr;
    if (nbd_reply_begin(&fr, rq) < 0)
        return NB_ENOMEM;
    msgpack_pack_map(&fr.pk, 1);
    nb_mp_pack_cstr(&fr.pk, "id");
    nb_mp_pack_bin(&fr.pk, id, NB_ID_SIZE);
    return nbd_reply_end(&fr);
}

/* Collects the bytes of records for the `timeline` of get. */
struct timeline {
    msgpack_sbuffer buf;
    msgpack_packer pk;
    size_t n;
};

static int timeline_add(void *ctx, const struct nbd_store_record *rec)
{
    struct timeline *t = ctx;
    nb_mp_pack_bin(&t->pk, rec->bytes, rec->len);
    t->n++;
    return 0;
}

/* The status word of a stored record: derived for requests and offers, the
 * response's own status for responses, "stored" for everything else. */
static int record_status(struct nbd_node *node, const struct nbd_store_record *row, uint64_t now,
                         const char **ret_status)
{
    uint8_t root_buf[NB_RECORD_MAX];
    struct nbd_store_record root;
    struct nb_state st;
    int r;

    *ret_status = "stored";
    if (row->kind == NB_KIND_REQUEST || row->kind == NB_KIND_OFFER) {
        r = nbd_node_derive(node, row, now, &st);
        if (r < 0)
            return r;
        *ret_status = nb_status_name(st.status);
        nb_state_free(&st);
        return 0;
    }
    if (row->kind != NB_KIND_RESPONSE || !row->has_root)
        return 0;
    r = nbd_store_get(node->store, row->root, &root, root_buf);
    if (r < 0)
        return r == NB_ENOENT ? 0 : r;
    r = nbd_node_derive(node, &root, now, &st);
    if (r < 0)
        return r == NB_EINVAL ? 0 : r;
    for (size_t i = 0; i < st.n_responses; i++) {
        if (memcmp(st.responses[i].id, row->id, NB_ID_SIZE) == 0)
            *ret_status = nb_response_status_name(st.responses[i].status);
    }
    nb_state_free(&st);
    return 0;
}

/* How many of the ids an ambiguous prefix matches the reply names. */
#define AMBIGUOUS_MATCHES_MAX 10

/*
 * `ambiguous`, with the ids the prefix matches (the first ten in id order)
 * as `matches`, so that the client can show them to the person who typed it.
 */
static int ambiguous_reply(struct nbd_request *rq, const char *prefix)
{
    uint8_t ids[AMBIGUOUS_MATCHES_MAX][NB_ID_SIZE];
    size_t n = 0;
    struct nbd_reply fr;

    if (nbd_store_prefix_matches(rq->ctx->node->store, prefix, ids, AMBIGUOUS_MATCHES_MAX, &n) < 0)
        n = 0;
    if (nbd_reply_error_begin(&fr, rq, NB_CTL_E_AMBIGUOUS,
                              "several records start with this prefix; give more digits", 1) < 0)
        return NB_ENOMEM;
    nb_mp_pack_cstr(&fr.pk, "matches");
    msgpack_pack_array(&fr.pk, (uint32_t)n);
    for (size_t i = 0; i < n; i++)
        nb_mp_pack_bin(&fr.pk, ids[i], NB_ID_SIZE);
    return nbd_reply_end(&fr);
}

int nbd_op_get(struct nbd_request *rq)
{
    struct nbd_node *node = rq->ctx->node;
    uint8_t id[NB_ID_SIZE];
    int r;

    /* `id` is taken by the request id itself, so the record id travels as
     * `record_id` (bin) or `prefix` (str). */
    const msgpack_object *by_id = nb_mp_map_get(rq->map, "record_id");
    const msgpack_object *by_prefix = nb_mp_map_get(rq->map, "prefix");
    if ((by_id == NULL) == (by_prefix == NULL))
        return nbd_reply_error(rq, NB_CTL_E_BAD_REQUEST,
                               "get needs either `record_id` (32 bytes) or `prefix` (hex)");
    if (by_id != NULL) {
        if (nb_mp_get_bin_exact(by_id, NB_ID_SIZE, id) < 0)
            return nbd_reply_error(rq, NB_CTL_E_BAD_REQUEST, "`record_id` must be 32 bytes of bin");
    } else {
        char prefix[2 * NB_ID_SIZE + 1];
        struct nb_text t;
        if (nb_mp_get_str(by_prefix, 4, 2 * NB_ID_SIZE, &t) < 0)
            return nbd_reply_error(rq, NB_CTL_E_BAD_REQUEST, "`prefix` must be 4 to 64 hex digits");
        memcpy(prefix, t.ptr, t.len);
        prefix[t.len] = '\0';
        r = nbd_store_find_prefix(node->store, prefix, id);
        if (r == NB_EINVAL)
            return nbd_reply_error(rq, NB_CTL_E_BAD_REQUEST, "`prefix` must be 4 to 64 hex digits");
        if (r == NB_EAMBIGUOUS)
            return ambiguous_reply(rq, prefix);
        /* A full id goes on as if it came as `record_id`: absent, gone, or
         * hidden by a damaged index, which the lookup below tells apart. */
        size_t n = 0;
        if (r == NB_ENOENT && t.len == 2 * NB_ID_SIZE &&
            sodium_hex2bin(id, NB_ID_SIZE, prefix, t.len, NULL, &n, NULL) == 0 && n == NB_ID_SIZE)
            r = 0;
        if (r == NB_ENOENT)
            return nbd_reply_error(rq, NB_CTL_E_NOT_FOUND,
                                   "no record on this node starts with this prefix");
        if (r < 0)
            goto store_failed;
    }

    uint8_t buf[NB_RECORD_MAX];
    struct nbd_store_record row;
    r = nbd_store_get(node->store, id, &row, buf);
    if (r == NB_ENOENT) {
        r = nbd_store_is_tombstoned(node->store, id);
        if (r == 1)
            return nbd_reply_error(rq, NB_CTL_E_GONE,
                                   "this record was retracted or has expired and was deleted");
        if (r < 0)
            goto store_failed;
        /* Only `noaberd fsck` checks the whole index, but a bounded look at
         * the entries around the id tells a record hidden by a damaged
         * index from an absent one in the cases seen (docs/operating.md). */
        r = nbd_store_check_absent(node->store, id);
        if (r == NB_EDAMAGED)
            return nbd_reply_error(rq, NB_CTL_E_DAMAGED,
                                   "the node's index of record ids is damaged near this id, so "
                                   "the record may be stored but cannot be found; its operator "
                                   "should stop noaberd and run `noaberd fsck`");
        if (r < 0)
            goto store_failed;
        return nbd_reply_error(rq, NB_CTL_E_NOT_FOUND, "no such record on this node");
    }
    if (r == NB_EDAMAGED)
        /* Logged once by the node when it removes the record (nbd_node_repair). */
        return nbd_reply_error(rq, NB_CTL_E_DAMAGED,
                               "this record is damaged in the node's store (its bytes do not "
                               "match its id), so it is not shown; the node fetches it again "
                               "from a peer that holds it, and its operator should run "
                               "`noaberd fsck`");
    if (r < 0)
        goto store_failed;

    const char *status;
    uint64_t now = rq->ctx->clock();
    r = record_status(node, &row, now, &status);
    if (r < 0)
        goto store_failed;

    struct timeline t = { .n = 0 };
    msgpack_sbuffer_init(&t.buf);
    msgpack_packer_init(&t.pk, &t.buf, msgpack_sbuffer_write);
    if (row.kind == NB_KIND_REQUEST || row.kind == NB_KIND_OFFER) {
        r = nbd_store_foreach_in_root(node->store, id, timeline_add, &t);
        if (r < 0) {
            msgpack_sbuffer_destroy(&t.buf);
            goto store_failed;
        }
    }
    struct nbd_reply fr;
    r = nbd_reply_begin(&fr, rq);
    if (r == 0) {
        msgpack_pack_map(&fr.pk, 4);
        nb_mp_pack_cstr(&fr.pk, "record");
        nb_mp_pack_bin(&fr.pk, row.bytes, row.len);
        nb_mp_pack_cstr(&fr.pk, "id");
        nb_mp_pack_bin(&fr.pk, id, NB_ID_SIZE);
        nb_mp_pack_cstr(&fr.pk, "status");
        nb_mp_pack_cstr(&fr.pk, status);
        nb_mp_pack_cstr(&fr.pk, "timeline");
        msgpack_pack_array(&fr.pk, t.n);
        if (t.n > 0 && msgpack_sbuffer_write(rq->out, t.buf.data, t.buf.size) != 0)
            r = NB_ENOMEM;
        if (r == 0)
            r = nbd_reply_end(&fr);
    }
    msgpack_sbuffer_destroy(&t.buf);
    return r;

store_failed:
    return nbd_reply_store_error(rq, r, "reading a record");
}

struct list_query {
    struct nbd_node *node;
    uint64_t now;
    int status;   /* enum nb_status, or -1 */
    int category; /* or -1 */
    struct nb_text area;
    bool has_member, has_responder;
    uint8_t member[NB_KEY_SIZE];    /* only records whose `member` field is this */
    uint8_t responder[NB_KEY_SIZE]; /* only roots this member responded to */
    size_t limit;
    size_t n;
    msgpack_sbuffer items;
    msgpack_packer pk;
};

/*
 * The filters of `list` that look at the record itself: the area by the word
 * rule of noaber/area.h (what a neighbour types, not the exact text), and the
 * member a message or vouch names.
 */
static bool list_record_matches(const struct list_query *q, const struct nb_record *rec)
{
    if (q->area.ptr != NULL &&
        (!NB_HAS(rec, NB_F_AREA) ||
         !nb_area_match(q->area.ptr, q->area.len, rec->area.ptr, rec->area.len)))
        return false;
    if (q->has_member &&
        (!NB_HAS(rec, NB_F_MEMBER) || memcmp(rec->member, q->member, NB_KEY_SIZE) != 0))
        return false;
    return true;
}

/* The status of the responder's live response on this request or offer, or
 * NULL (no responder asked for, or none of theirs that is not withdrawn). */
static const char *list_responder_status(const struct list_query *q, const struct nb_state *st)
{
    if (!q->has_responder)
        return NULL;
    for (size_t i = st->n_responses; i-- > 0;) {
        const struct nb_state_response *r = &st->responses[i];
        if (r->status != NB_RESPONSE_WITHDRAWN && memcmp(r->author, q->responder, NB_KEY_SIZE) == 0)
            return nb_response_status_name(r->status);
    }
    return NULL;
}

/* `member` and `responder` (optional 32-byte keys); -1 when one is malformed. */
static int list_member_args(const struct nbd_request *rq, struct list_query *q)
{
    if (nb_mp_map_get(rq->map, "member") != NULL) {
        if (nb_mp_map_bin_exact(rq->map, "member", NB_KEY_SIZE, q->member) < 0)
            return -1;
        q->has_member = true;
    }
    if (nb_mp_map_get(rq->map, "responder") != NULL) {
        if (nb_mp_map_bin_exact(rq->map, "responder", NB_KEY_SIZE, q->responder) < 0)
            return -1;
        q->has_responder = true;
    }
    return 0;
}

static int list_add(void *ctx, const struct nbd_store_record *row)
{
    struct list_query *q = ctx;
    struct nb_record rec;
    if (nb_record_decode(row->bytes, row->len, &rec) < 0)
        return 0; /* a damaged row is not listed */
    if (q->category >= 0 && (!NB_HAS(&rec, NB_F_CATEGORY) || rec.category != q->category))
        return 0;
    if (!list_record_matches(q, &rec))
        return 0;

    const char *status = "stored";
    uint32_t responses = 0;
    bool has_assignee = false;
    uint8_t assignee[NB_KEY_SIZE];
    int status_code = -1;
    const char *responder_status = NULL;
    if (q->has_responder && row->kind != NB_KIND_REQUEST && row->kind != NB_KIND_OFFER)
        return 0;
    if (row->kind == NB_KIND_REQUEST || row->kind == NB_KIND_OFFER) {
        struct nb_state st;
        int r = nbd_node_derive(q->node, row, q->now, &st);
        if (r < 0)
            return r;
        status_code = (int)st.status;
        status = nb_status_name(st.status);
        for (size_t i = 0; i < st.n_responses; i++) {
            if (st.responses[i].status != NB_RESPONSE_WITHDRAWN)
                responses++;
        }
        if (st.has_assignee) {
            has_assignee = true;
            memcpy(assignee, st.assignee, NB_KEY_SIZE);
        }
        responder_status = list_responder_status(q, &st);
        nb_state_free(&st);
        if (q->has_responder && responder_status == NULL)
            return 0;
    }
    if (q->status >= 0 && status_code != q->status)
        return 0;

    msgpack_pack_map(&q->pk, q->has_responder ? 6 : 5);
    if (q->has_responder) {
        nb_mp_pack_cstr(&q->pk, "response");
        nb_mp_pack_cstr(&q->pk, responder_status);
    }
    nb_mp_pack_cstr(&q->pk, "id");
    nb_mp_pack_bin(&q->pk, row->id, NB_ID_SIZE);
    nb_mp_pack_cstr(&q->pk, "record");
    nb_mp_pack_bin(&q->pk, row->bytes, row->len);
    nb_mp_pack_cstr(&q->pk, "status");
    nb_mp_pack_cstr(&q->pk, status);
    nb_mp_pack_cstr(&q->pk, "responses");
    msgpack_pack_uint32(&q->pk, responses);
    nb_mp_pack_cstr(&q->pk, "assigned");
    if (has_assignee)
        nb_mp_pack_bin(&q->pk, assignee, NB_KEY_SIZE);
    else
        msgpack_pack_nil(&q->pk);
    q->n++;
    /* Stop while the reply still fits one frame: the largest record and
     * its item keys take well under the margin. */
    if (q->items.size > NB_CTL_FRAME_MAX - 64 * 1024)
        return 1;
    return q->n >= q->limit ? 1 : 0;
}

int nbd_op_list(struct nbd_request *rq)
{
    struct list_query q = { .node = rq->ctx->node, .status = -1, .category = -1 };
    char word[40];
    unsigned kind = 0;
    uint8_t author[NB_KEY_SIZE];
    bool has_author = false;
    uint64_t limit = NB_CTL_LIST_DEFAULT;
    int r;

    if (nb_mp_map_get(rq->map, "kind") != NULL) {
        if (nbd_request_word(rq->map, "kind", word, sizeof(word)) < 0 ||
            (r = nb_kind_parse(word)) < 0)
            return nbd_reply_error(rq, NB_CTL_E_BAD_REQUEST,
                                   "`kind` must be a record kind such as request or offer");
        kind = (unsigned)r;
    }
    if (nb_mp_map_get(rq->map, "status") != NULL) {
        if (nbd_request_word(rq->map, "status", word, sizeof(word)) < 0 ||
            (r = nb_status_parse(word)) < 0)
            return nbd_reply_error(rq, NB_CTL_E_BAD_REQUEST,
                                   "`status` must be a status such as open or available");
        q.status = r;
    }
    if (nb_mp_map_get(rq->map, "category") != NULL) {
        if (nbd_request_word(rq->map, "category", word, sizeof(word)) < 0 ||
            (r = nb_category_parse(word)) < 0)
            return nbd_reply_error(rq, NB_CTL_E_BAD_REQUEST,
                                   "`category` must be a category such as groceries or transport");
        q.category = r;
    }
    if (nb_mp_map_get(rq->map, "area") != NULL &&
        nb_mp_map_text(rq->map, "area", 1, NB_AREA_MAX, 0, &q.area) < 0)
        return nbd_reply_error(rq, NB_CTL_E_BAD_REQUEST, "`area` must be 1 to 64 bytes of text");
    if (list_member_args(rq, &q) < 0)
        return nbd_reply_error(rq, NB_CTL_E_BAD_REQUEST,
                               "`member` and `responder` must be 32-byte member keys as bin");
    if (nb_mp_map_get(rq->map, "author") != NULL) {
        if (nb_mp_map_bin_exact(rq->map, "author", NB_KEY_SIZE, author) < 0)
            return nbd_reply_error(rq, NB_CTL_E_BAD_REQUEST,
                                   "`author` must be a 32-byte member key as bin");
        has_author = true;
    }
    if (nb_mp_map_get(rq->map, "limit") != NULL) {
        if (nb_mp_map_uint(rq->map, "limit", UINT32_MAX, &limit) < 0 || limit == 0)
            return nbd_reply_error(rq, NB_CTL_E_BAD_REQUEST, "`limit` must be a positive integer");
        if (limit > NB_CTL_LIST_MAX)
            limit = NB_CTL_LIST_MAX;
    }
    q.limit = (size_t)limit;
    q.now = rq->ctx->clock();
    msgpack_sbuffer_init(&q.items);
    msgpack_packer_init(&q.pk, &q.items, msgpack_sbuffer_write);
    r = nbd_store_foreach_newest(q.node->store, kind, has_author ? author : NULL, list_add, &q);
    if (r < 0) {
        msgpack_sbuffer_destroy(&q.items);
        return nbd_reply_store_error(rq, r, "listing the store");
    }
    struct nbd_reply fr;
    r = nbd_reply_begin(&fr, rq);
    if (r == 0) {
        msgpack_pack_map(&fr.pk, 1);
        nb_mp_pack_cstr(&fr.pk, "items");
        msgpack_pack_array(&fr.pk, q.n);
        if (q.n > 0 && msgpack_sbuffer_write(rq->out, q.items.data, q.items.size) != 0)
            r = NB_ENOMEM;
        if (r == 0)
            r = nbd_reply_end(&fr);
    }
    msgpack_sbuffer_destroy(&q.items);
    return r;
}

int nbd_op_watch(struct nbd_request *rq)
{
    struct nbd_reply fr;
    if (nbd_reply_begin(&fr, rq) < 0)
        return NB_ENOMEM;
    msgpack_pack_map(&fr.pk, 1);
    nb_mp_pack_cstr(&fr.pk, "watching");
    msgpack_pack_true(&fr.pk);
    int r = nbd_reply_end(&fr);
    return r < 0 ? r : NBD_AFTER_WATCH;
}
