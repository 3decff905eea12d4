/*
 * The control API's `report`: the unmet-need overview for care
 * organisations (docs/operating.md, "The unmet-need overview").
 *
 * The overview is built from the requests this node holds: how many were
 * posted, helped, cancelled, expired with no helper, posted on someone's
 * behalf, and the median time to the first response and to the assignment,
 * by category, area or month.  It holds counts only: no member key, no
 * title, no text.  Any count from 1 to NB_REPORT_MIN_CELL - 1 is suppressed
 * (sent as nil), and so is a median of fewer values, because a small cell
 * in a small neighbourhood can point at one person.
 *
 * The node shares the overview only when its operator wrote
 * `share_report = on` in the config file.  It is then signed with the
 * node's report key, an Ed25519 key in `report.key` of the data directory:
 * the node key is an X25519 key for Noise and cannot sign, and a key that
 * only ever signs overviews cannot be made to sign anything else.
 */
#include "daemon/control/ops.h"

#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <sodium.h>

#include <noaber/error.h>
#include <noaber/identity.h>
#include <noaber/state.h>

#include "common/keyfile.h"
#include "common/path.h"
#include "common/report.h"
#include "daemon/log.h"
#include "daemon/net/net.h"
#include "daemon/store/store_tally.h"
#include "proto/mp.h"

#define REPORT_GROUPS_MAX 64   /* rows; further groups are folded into "other" */
#define REPORT_GROUP_MAX  64   /* bytes of a group's name */
#define REPORT_VALUES_MAX 4096 /* delays kept per row for the medians */

struct report_row {
    char group[REPORT_GROUP_MAX + 1];
    uint64_t posted, helped, cancelled, expired_unhelped, open, on_behalf;
    uint64_t *first_response; /* seconds, for the median */
    size_t n_first_response;
    uint64_t *assignment;
    size_t n_assignment;
};

struct report {
    struct nbd_node *node;
    uint64_t now, since;
    enum nb_report_by by;
    struct report_row total;
    struct report_row rows[REPORT_GROUPS_MAX];
    size_t n_rows;
    int error;
};

static int push_value(uint64_t **values, size_t *n, uint64_t v)
{
    if (*n >= REPORT_VALUES_MAX)
        return 0; /* the median of the first ones is close enough */
    if (*n == 0) {
        *values = malloc(REPORT_VALUES_MAX * sizeof(**values));
        if (*values == NULL)
            return NB_ENOMEM;
    }
    (*values)[(*n)++] = v;
    return 0;
}

static void row_free(struct report_row *row)
{
    free(row->first_response);
    free(row->assignment);
}

/* The group a request (or a tally of purged ones) falls in. */
static const char *group_of(const struct report *rep, const struct nbd_tally *t)
{
    switch (rep->by) {
    case NB_REPORT_BY_CATEGORY:
        return t->category;
    case NB_REPORT_BY_AREA:
        return t->area;
    case NB_REPORT_BY_MONTH:
        return t->month;
    case NB_REPORT_BY_NONE:
        break;
    }
    return "";
}

static struct report_row *row_for(struct report *rep, const char *group)
{
    for (size_t i = 0; i < rep->n_rows; i++) {
        if (strcmp(rep->rows[i].group, group) == 0)
            return &rep->rows[i];
    }
    if (rep->n_rows == REPORT_GROUPS_MAX)
        return &rep->rows[REPORT_GROUPS_MAX - 1]; /* "other", see report_add */
    struct report_row *row = &rep->rows[rep->n_rows++];
    snprintf(row->group, sizeof(row->group), "%s",
             rep->n_rows == REPORT_GROUPS_MAX ? "other" : group);
    return row;
}

static int count_row(struct report_row *row, const struct nbd_tally *t)
{
    int r = 0;
    row->posted += t->posted;
    row->helped += t->helped;
    row->cancelled += t->cancelled;
    row->expired_unhelped += t->expired_unhelped;
    row->open += t->open;
    row->on_behalf += t->on_behalf;
    if (t->has_first_response)
        r = push_value(&row->first_response, &row->n_first_response, t->first_response);
    if (r == 0 && t->has_assignment)
        r = push_value(&row->assignment, &row->n_assignment, t->assignment);
    return r;
}

/* Counts a request, or a tally of purged ones, in the total and its row. */
static int count(struct report *rep, const struct nbd_tally *t)
{
    int r = count_row(&rep->total, t);
    if (r == 0 && rep->by != NB_REPORT_BY_NONE)
        r = count_row(row_for(rep, group_of(rep, t)), t);
    if (r < 0)
        rep->error = r;
    return r;
}

static int report_add(void *ctx, const struct nbd_store_record *row)
{
    struct report *rep = ctx;
    struct nb_record rec;
    struct nb_state st;
    struct nbd_tally t;

    if (row->created_at < rep->since)
        return 1; /* newest first: everything after this is older */
    if (nb_record_decode(row->bytes, row->len, &rec) < 0)
        return 0;
    int r = nbd_node_derive(rep->node, row, rep->now, &st);
    if (r < 0) {
        rep->error = r;
        return r;
    }
    if (nbd_tally_of(&rec, &st, &t) == 1)
        r = count(rep, &t);
    nb_state_free(&st);
    return r;
}

/* The requests purged already, from the anonymous tallies. */
static int report_add_tally(void *ctx, const struct nbd_tally *t)
{
    return count(ctx, t);
}

static int cmp_u64(const void *a, const void *b)
{
    uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;
    return x < y ? -1 : x > y;
}

/* A count as the report shows it: nil from 1 to NB_REPORT_MIN_CELL - 1. */
static void pack_cell(msgpack_packer *pk, uint64_t n)
{
    if (n > 0 && n < NB_REPORT_MIN_CELL)
        msgpack_pack_nil(pk);
    else
        msgpack_pack_uint64(pk, n);
}

static void pack_median(msgpack_packer *pk, uint64_t *values, size_t n)
{
    if (n < NB_REPORT_MIN_CELL) {
        msgpack_pack_nil(pk);
        return;
    }
    qsort(values, n, sizeof(*values), cmp_u64);
    msgpack_pack_uint64(pk, n % 2 == 1 ? values[n / 2] : (values[n / 2 - 1] + values[n / 2]) / 2);
}

static void pack_row(msgpack_packer *pk, struct report_row *row)
{
    msgpack_pack_map(pk, 9);
    nb_mp_pack_cstr(pk, "group");
    nb_mp_pack_cstr(pk, row->group);
    nb_mp_pack_cstr(pk, "posted");
    pack_cell(pk, row->posted);
    nb_mp_pack_cstr(pk, "helped");
    pack_cell(pk, row->helped);
    nb_mp_pack_cstr(pk, "cancelled");
    pack_cell(pk, row->cancelled);
    nb_mp_pack_cstr(pk, "expired_unhelped");
    pack_cell(pk, row->expired_unhelped);
    nb_mp_pack_cstr(pk, "open");
    pack_cell(pk, row->open);
    nb_mp_pack_cstr(pk, "on_behalf");
    pack_cell(pk, row->on_behalf);
    nb_mp_pack_cstr(pk, "median_first_response");
    pack_median(pk, row->first_response, row->n_first_response);
    nb_mp_pack_cstr(pk, "median_assignment");
    pack_median(pk, row->assignment, row->n_assignment);
}

/* The body that is signed: a msgpack map, docs/control-api.md `report`. */
static int pack_body(struct report *rep, const struct nbd_control_ctx *ctx,
                     const uint8_t report_pk[NB_KEY_SIZE], msgpack_sbuffer *out)
{
    msgpack_packer pk;
    char node_text[NB_NODE_KEY_TEXT_LEN + 1] = "";
    char key_text[NB_MEMBER_KEY_TEXT_LEN + 1] = "";

    if (ctx->net != NULL)
        nb_node_key_to_text(nbd_net_node_key(ctx->net), node_text);
    if (report_pk != NULL)
        nb_member_key_to_text(report_pk, key_text);
    msgpack_packer_init(&pk, out, msgpack_sbuffer_write);
    msgpack_pack_map(&pk, 10);
    nb_mp_pack_cstr(&pk, "format");
    nb_mp_pack_cstr(&pk, NB_REPORT_FORMAT);
    nb_mp_pack_cstr(&pk, "neighbourhood");
    nb_mp_pack_cstr(&pk, rep->node->neighbourhood_name);
    nb_mp_pack_cstr(&pk, "node");
    nb_mp_pack_cstr(&pk, node_text);
    nb_mp_pack_cstr(&pk, "report_key");
    nb_mp_pack_cstr(&pk, key_text);
    nb_mp_pack_cstr(&pk, "since");
    msgpack_pack_uint64(&pk, rep->since);
    nb_mp_pack_cstr(&pk, "until");
    msgpack_pack_uint64(&pk, rep->now);
    nb_mp_pack_cstr(&pk, "by");
    nb_mp_pack_cstr(&pk, nb_report_by_name(rep->by));
    nb_mp_pack_cstr(&pk, "min_cell");
    msgpack_pack_uint32(&pk, NB_REPORT_MIN_CELL);
    nb_mp_pack_cstr(&pk, "total");
    pack_row(&pk, &rep->total);
    nb_mp_pack_cstr(&pk, "rows");
    msgpack_pack_array(&pk, (uint32_t)rep->n_rows);
    for (size_t i = 0; i < rep->n_rows; i++)
        pack_row(&pk, &rep->rows[i]);
    return 0;
}

/* The report key, made on first use; 0 or < 0 (logged). */
static int report_key(const char *data_dir, uint8_t pk[NB_KEY_SIZE], uint8_t sk[NB_SECRET_KEY_SIZE])
{
    char msg[NB_KEYFILE_MSG_MAX];
    char *path = nb_path_join(data_dir, NB_REPORT_KEY_FILE);
    if (path == NULL)
        return NB_ENOMEM;
    int r = nb_keyfile_read(path, pk, sk, msg, sizeof(msg));
    if (r == NB_ENOENT) {
        uint8_t ignored[NB_KEY_SIZE];
        r = nb_keyfile_create(path, NB_KEY_FILE_MEMBER, 0, ignored, msg, sizeof(msg));
        if (r == 0)
            r = nb_keyfile_read(path, pk, sk, msg, sizeof(msg));
        if (r == 0)
            nbd_info("made the report key %s for signing the shared overview", path);
    }
    if (r < 0)
        nbd_error("the report key: %s", msg);
    free(path);
    return r;
}

int nbd_op_report(struct nbd_request *rq)
{
    const struct nbd_control_ctx *ctx = rq->ctx;
    struct report rep;
    char word[16];
    uint64_t since = 0;
    uint8_t pk[NB_KEY_SIZE], sk[NB_SECRET_KEY_SIZE], sig[NB_SIG_SIZE];
    msgpack_sbuffer body;
    int r;

    if (ctx->role == NB_CTL_ROLE_MEMBER && !ctx->share_report)
        return nbd_reply_error(rq, NB_CTL_E_FORBIDDEN,
                               "this node does not share the unmet-need overview (its operator "
                               "has not set share_report = on); the operator socket can see it");
    if (!ctx->node->has_neighbourhood)
        return nbd_reply_error(rq, NB_CTL_E_REFUSED,
                               "this node has no neighbourhood yet: there is nothing to report");
    memset(&rep, 0, sizeof(rep));
    rep.by = NB_REPORT_BY_NONE;
    if (nb_mp_map_get(rq->map, "by") != NULL) {
        if (nbd_request_word(rq->map, "by", word, sizeof(word)) < 0 ||
            (r = nb_report_by_parse(word)) < 0)
            return nbd_reply_error(rq, NB_CTL_E_BAD_REQUEST,
                                   "`by` must be none, category, area or month");
        rep.by = (enum nb_report_by)r;
    }
    if (nb_mp_map_get(rq->map, "since") != NULL &&
        nb_mp_map_uint(rq->map, "since", UINT64_MAX, &since) < 0)
        return nbd_reply_error(rq, NB_CTL_E_BAD_REQUEST,
                               "`since` must be a time in seconds since the epoch");
    rep.node = ctx->node;
    rep.now = ctx->clock();
    rep.since = since;
    snprintf(rep.total.group, sizeof(rep.total.group), "all");
    r = nbd_store_foreach_newest(ctx->node->store, NB_KIND_REQUEST, NULL, report_add, &rep);
    /* Purged requests are kept as tallies by month: those of the month of
     * `since` and later count (docs/operating.md). */
    if (r >= 0 && rep.error == 0) {
        char since_month[NBD_TALLY_MONTH_LEN + 1] = "";
        if (since > 0)
            nbd_tally_month(since, since_month);
        r = nbd_store_foreach_tally(ctx->node->store, since_month, report_add_tally, &rep);
    }
    if (r >= 0 && rep.error < 0)
        r = rep.error;
    bool signed_report = ctx->share_report;
    if (r >= 0 && signed_report)
        r = report_key(ctx->data_dir, pk, sk);
    msgpack_sbuffer_init(&body);
    if (r >= 0)
        r = pack_body(&rep, ctx, signed_report ? pk : NULL, &body);
    row_free(&rep.total);
    for (size_t i = 0; i < rep.n_rows; i++)
        row_free(&rep.rows[i]);
    if (r < 0) {
        sodium_memzero(sk, sizeof(sk));
        msgpack_sbuffer_destroy(&body);
        nbd_error("the overview failed: %s", nb_strerror(r));
        return nbd_reply_error(rq, NB_CTL_E_INTERNAL, "the overview failed; see the daemon's log");
    }
    if (signed_report) {
        r = nb_report_sign((const uint8_t *)body.data, body.size, sk, sig);
        sodium_memzero(sk, sizeof(sk));
        if (r < 0) {
            msgpack_sbuffer_destroy(&body);
            return r;
        }
    }
    struct nbd_reply fr;
    r = nbd_reply_begin(&fr, rq);
    if (r == 0) {
        msgpack_pack_map(&fr.pk, signed_report ? 3 : 1);
        nb_mp_pack_cstr(&fr.pk, "report");
        nb_mp_pack_bin(&fr.pk, (const uint8_t *)body.data, body.size);
        if (signed_report) {
            nb_mp_pack_cstr(&fr.pk, "key");
            nb_mp_pack_bin(&fr.pk, pk, NB_KEY_SIZE);
            nb_mp_pack_cstr(&fr.pk, "signature");
            nb_mp_pack_bin(&fr.pk, sig, NB_SIG_SIZE);
        }
        r = nbd_reply_end(&fr);
    }
    msgpack_sbuffer_destroy(&body);
    return r;
}
