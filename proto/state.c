/*
 * The lifecycle of requests and offers (docs/protocol.md, "Lifecycle and
 * derived state").
 *
 * One rule function decides whether a record may act on a state, and one
 * apply function performs it.  nb_state_derive() folds the related records
 * through both in (created_at, kind, id) order; nb_state_check() asks only the
 * rule function.  Sharing them is what makes "the node accepts it" and "the
 * fold honours it" the same statement.
 */
#include <noaber/state.h>

#include <noaber/error.h>

#include <stdlib.h>
#include <string.h>

/* The parts of the root the rules need; both nb_state and a bare root record
 * can provide them. */
struct root {
    uint8_t kind;
    const uint8_t *id;
    const uint8_t *author;
};

/* One related record as the fold sees it. */
struct entry {
    const struct nb_record *rec;
    const uint8_t *id;
    bool removed;   /* retracted by its author */
    bool duplicate; /* the same id appeared earlier in the sorted order */
};

static const char *const status_names[NB_STATUS_COUNT_] = {
    [NB_STATUS_OPEN] = "open",
    [NB_STATUS_ASSIGNED] = "assigned",
    [NB_STATUS_DONE_CLAIMED] = "done_claimed",
    [NB_STATUS_DONE] = "done",
    [NB_STATUS_CANCELLED] = "cancelled",
    [NB_STATUS_EXPIRED] = "expired",
    [NB_STATUS_AVAILABLE] = "available",
    [NB_STATUS_PAUSED] = "paused",
    [NB_STATUS_WITHDRAWN] = "withdrawn",
    [NB_STATUS_RETRACTED] = "retracted",
};

static const char *const response_status_names[NB_RESPONSE_COUNT_] = {
    [NB_RESPONSE_PENDING] = "pending",   [NB_RESPONSE_DECLINED] = "declined",
    [NB_RESPONSE_ASSIGNED] = "assigned", [NB_RESPONSE_DONE_CLAIMED] = "done_claimed",
    [NB_RESPONSE_DONE] = "done",         [NB_RESPONSE_WITHDRAWN] = "withdrawn",
};

const char *nb_status_name(unsigned status)
{
    return status < NB_STATUS_COUNT_ ? status_names[status] : NULL;
}

int nb_status_parse(const char *name)
{
    if (name == NULL) {
        return NB_EINVAL;
    }
    for (unsigned i = 0; i < NB_STATUS_COUNT_; i++) {
        if (strcmp(name, status_names[i]) == 0) {
            return (int)i;
        }
    }
    return NB_EINVAL;
}

const char *nb_response_status_name(unsigned status)
{
    return status < NB_RESPONSE_COUNT_ ? response_status_names[status] : NULL;
}

int nb_response_status_parse(const char *name)
{
    if (name == NULL) {
        return NB_EINVAL;
    }
    for (unsigned i = 0; i < NB_RESPONSE_COUNT_; i++) {
        if (strcmp(name, response_status_names[i]) == 0) {
            return (int)i;
        }
    }
    return NB_EINVAL;
}

static bool same_key(const uint8_t *a, const uint8_t *b)
{
    return memcmp(a, b, NB_KEY_SIZE) == 0;
}

static bool same_id(const uint8_t *a, const uint8_t *b)
{
    return memcmp(a, b, NB_ID_SIZE) == 0;
}

static int refuse(int code, const char *sentence, const char **reason)
{
    if (reason != NULL) {
        *reason = sentence;
    }
    return code;
}

static bool is_request(const struct root *r)
{
    return r->kind == NB_KIND_REQUEST;
}

/*
 * The rules that depend only on the root and the record: whether its kind
 * applies to the root's kind, whether it has the fields the rules read, and
 * whether its author has the right role.  Anything refused here is refused by
 * the fold in every order, which is why a node may refuse it from peers.
 */
static int admissible(const struct root *r, const struct nb_record *c, const char **reason)
{
    bool req = is_request(r);
    bool by_root_author = same_key(c->author, r->author);
    bool at_root = NB_HAS(c, NB_F_TARGET) && same_id(c->target, r->id);

    switch (c->kind) {
    case NB_KIND_RESPONSE:
    case NB_KIND_WITHDRAWAL:
    case NB_KIND_ASSIGNMENT:
    case NB_KIND_DONE_CLAIM:
    case NB_KIND_CONFIRMATION:
    case NB_KIND_RETRACTION:
        break;
    case NB_KIND_CANCELLATION:
        if (!req) {
            return refuse(NB_EINVAL, "an offer is withdrawn, not cancelled", reason);
        }
        break;
    case NB_KIND_PAUSE:
        if (req) {
            return refuse(NB_EINVAL, "only an offer can be paused", reason);
        }
        break;
    default:
        return refuse(NB_EINVAL,
                      req ? "this kind of record does not act on a request"
                          : "this kind of record does not act on an offer",
                      reason);
    }
    if (!NB_HAS(c, NB_F_TARGET)) {
        return refuse(NB_EINVAL, "the record does not name what it acts on", reason);
    }

    switch (c->kind) {
    case NB_KIND_RESPONSE:
        if (by_root_author) {
            return refuse(NB_EPERM,
                          req ? "you cannot respond to your own request"
                              : "you cannot ask for your own offer",
                          reason);
        }
        if (!at_root) {
            return refuse(NB_EINVAL,
                          req ? "a response targets the request itself"
                              : "an ask targets the offer itself",
                          reason);
        }
        break;
    case NB_KIND_WITHDRAWAL:
        if (at_root && req) {
            return refuse(NB_EINVAL, "a request is cancelled, not withdrawn", reason);
        }
        if (at_root && !by_root_author) {
            return refuse(NB_EPERM, "only the offerer can withdraw this offer", reason);
        }
        if (!at_root && by_root_author) {
            return refuse(NB_EPERM,
                          req ? "only the member who responded can withdraw their response"
                              : "only the member who asked can withdraw their ask",
                          reason);
        }
        break;
    case NB_KIND_ASSIGNMENT:
        if (!by_root_author) {
            return refuse(NB_EPERM,
                          req ? "only the requester can assign a helper"
                              : "only the offerer can accept an ask",
                          reason);
        }
        if (!at_root) {
            return refuse(NB_EINVAL,
                          req ? "an assignment targets the request itself"
                              : "an assignment targets the offer itself",
                          reason);
        }
        if (!NB_HAS(c, NB_F_MEMBER)) {
            return refuse(NB_EINVAL, "an assignment must name the member it assigns", reason);
        }
        if (same_key(c->member, r->author)) {
            return refuse(NB_EINVAL, "you cannot assign yourself", reason);
        }
        break;
    case NB_KIND_DONE_CLAIM:
        if (req && by_root_author) {
            return refuse(NB_EPERM, "only the assigned helper can mark this request done", reason);
        }
        if (!req && !by_root_author) {
            return refuse(NB_EPERM, "only the offerer can mark their help done", reason);
        }
        if (!req && at_root) {
            return refuse(NB_EINVAL, "a done claim for an offer targets the assignment it concerns",
                          reason);
        }
        break;
    case NB_KIND_CONFIRMATION:
        if (req && !by_root_author) {
            return refuse(NB_EPERM, "only the requester can confirm that the help was given",
                          reason);
        }
        if (!req && by_root_author) {
            return refuse(NB_EPERM, "only the member who asked can confirm that the help was given",
                          reason);
        }
        if (!req && at_root) {
            return refuse(NB_EINVAL,
                          "a confirmation for an offer targets the assignment it concerns", reason);
        }
        break;
    case NB_KIND_CANCELLATION:
        if (!by_root_author) {
            return refuse(NB_EPERM, "only the requester can cancel this request", reason);
        }
        if (!at_root) {
            return refuse(NB_EINVAL, "a cancellation targets the request itself", reason);
        }
        break;
    case NB_KIND_PAUSE:
        if (!by_root_author) {
            return refuse(NB_EPERM, "only the offerer can pause or resume this offer", reason);
        }
        if (!at_root) {
            return refuse(NB_EINVAL, "a pause targets the offer itself", reason);
        }
        if (!NB_HAS(c, NB_F_PAUSED)) {
            return refuse(NB_EINVAL, "a pause must say whether the offer is paused", reason);
        }
        break;
    case NB_KIND_RETRACTION:
        if (at_root && !by_root_author) {
            return refuse(NB_EPERM, "only its author can retract a record", reason);
        }
        break;
    default:
        break;
    }
    return 0;
}

static struct root root_of_state(const struct nb_state *st)
{
    struct root r = { st->kind, st->root_id, st->author };
    return r;
}

static bool response_live_for_request(const struct nb_state_response *resp)
{
    return resp->status != NB_RESPONSE_WITHDRAWN;
}

/* An ask is live while it may still lead to help: not withdrawn, not done. */
static bool ask_live(const struct nb_state_response *resp)
{
    return resp->status == NB_RESPONSE_PENDING || resp->status == NB_RESPONSE_ASSIGNED ||
           resp->status == NB_RESPONSE_DONE_CLAIMED;
}

static size_t find_response(const struct nb_state *st, const uint8_t id[NB_ID_SIZE])
{
    for (size_t i = 0; i < st->n_responses; i++) {
        if (same_id(st->responses[i].id, id)) {
            return i;
        }
    }
    return SIZE_MAX;
}

/* The member's live response (request) or live ask (offer); at most one. */
static size_t find_live(const struct nb_state *st, const uint8_t member[NB_KEY_SIZE])
{
    for (size_t i = 0; i < st->n_responses; i++) {
        const struct nb_state_response *resp = &st->responses[i];
        bool live = st->kind == NB_KIND_REQUEST ? response_live_for_request(resp) : ask_live(resp);
        if (live && same_key(resp->author, member)) {
            return i;
        }
    }
    return SIZE_MAX;
}

static size_t find_assignment(const struct nb_state *st, const uint8_t id[NB_ID_SIZE])
{
    for (size_t i = 0; i < st->n_responses; i++) {
        const struct nb_state_response *resp = &st->responses[i];
        if (resp->assignment.present && same_id(resp->assignment.id, id)) {
            return i;
        }
    }
    return SIZE_MAX;
}

/*
 * The state-dependent rules for a request, after admissible().  Expiry is
 * not decided here: the fold leaves out records created at or after the
 * expiry, and nb_state_check() tests the clock itself.  On success
 * *ret_index is the response the record acts on, or SIZE_MAX.
 */
static int request_rule(const struct nb_state *st, const struct nb_record *c, size_t *ret_index,
                        const char **reason)
{
    size_t i = SIZE_MAX;

    if (st->status == NB_STATUS_CANCELLED) {
        return refuse(NB_ESTATE, "this request was cancelled", reason);
    }
    if (st->status == NB_STATUS_DONE) {
        return refuse(NB_ESTATE, "this request is already confirmed as done", reason);
    }

    switch (c->kind) {
    case NB_KIND_RESPONSE:
        if (st->status == NB_STATUS_DONE_CLAIMED) {
            return refuse(NB_ESTATE, "the helper already marked this request done", reason);
        }
        if (find_live(st, c->author) != SIZE_MAX) {
            return refuse(NB_ESTATE, "you already responded", reason);
        }
        break;
    case NB_KIND_WITHDRAWAL:
        i = find_response(st, c->target);
        if (i == SIZE_MAX) {
            return refuse(NB_ENOENT, "there is no such response to this request", reason);
        }
        if (!same_key(st->responses[i].author, c->author)) {
            return refuse(NB_EPERM, "only the member who responded can withdraw their response",
                          reason);
        }
        if (st->responses[i].status == NB_RESPONSE_WITHDRAWN) {
            return refuse(NB_ESTATE, "this response was already withdrawn", reason);
        }
        if (st->status == NB_STATUS_DONE_CLAIMED && st->has_assignee &&
            st->assignee_response == i) {
            return refuse(NB_ESTATE, "you already marked this request done", reason);
        }
        break;
    case NB_KIND_ASSIGNMENT:
        if (st->status == NB_STATUS_DONE_CLAIMED) {
            return refuse(NB_ESTATE, "the helper already marked this request done", reason);
        }
        i = find_live(st, c->member);
        if (i == SIZE_MAX) {
            return refuse(NB_ENOENT, "that member has no live response to this request", reason);
        }
        break;
    case NB_KIND_DONE_CLAIM:
        if (st->status == NB_STATUS_OPEN) {
            return refuse(NB_ESTATE, "nobody is assigned to this request yet", reason);
        }
        if (!same_key(st->assignee, c->author)) {
            return refuse(NB_EPERM, "only the assigned helper can mark this request done", reason);
        }
        if (st->status == NB_STATUS_DONE_CLAIMED) {
            return refuse(NB_ESTATE, "this request is already marked done", reason);
        }
        if (!same_id(c->target, st->root_id) && !same_id(c->target, st->assignment.id)) {
            return refuse(NB_ESTATE, "this names an assignment that is no longer current", reason);
        }
        i = st->assignee_response;
        break;
    case NB_KIND_CONFIRMATION:
        if (st->status != NB_STATUS_DONE_CLAIMED) {
            return refuse(NB_ESTATE, "the helper has not marked this request done yet", reason);
        }
        if (!same_id(c->target, st->root_id) && !same_id(c->target, st->assignment.id)) {
            return refuse(NB_ESTATE, "this names an assignment that is no longer current", reason);
        }
        i = st->assignee_response;
        break;
    case NB_KIND_CANCELLATION:
        break;
    default:
        return refuse(NB_EINVAL, "this kind of record does not act on a request", reason);
    }
    *ret_index = i;
    return 0;
}

/* The state-dependent rules for an offer; see request_rule(). */
static int offer_rule(const struct nb_state *st, const struct nb_record *c, size_t *ret_index,
                      const char **reason)
{
    size_t i = SIZE_MAX;
    bool withdrawn = st->status == NB_STATUS_WITHDRAWN;

    switch (c->kind) {
    case NB_KIND_RESPONSE:
        if (withdrawn) {
            return refuse(NB_ESTATE, "this offer was withdrawn", reason);
        }
        if (st->paused) {
            return refuse(NB_ESTATE, "this offer is paused", reason);
        }
        if (find_live(st, c->author) != SIZE_MAX) {
            return refuse(NB_ESTATE, "you already asked for this offer", reason);
        }
        break;
    case NB_KIND_WITHDRAWAL:
        if (same_id(c->target, st->root_id)) {
            if (withdrawn) {
                return refuse(NB_ESTATE, "this offer was already withdrawn", reason);
            }
            break;
        }
        i = find_response(st, c->target);
        if (i == SIZE_MAX) {
            return refuse(NB_ENOENT, "there is no such ask for this offer", reason);
        }
        if (!same_key(st->responses[i].author, c->author)) {
            return refuse(NB_EPERM, "only the member who asked can withdraw their ask", reason);
        }
        switch (st->responses[i].status) {
        case NB_RESPONSE_WITHDRAWN:
            return refuse(NB_ESTATE, "this ask was already withdrawn", reason);
        case NB_RESPONSE_DONE_CLAIMED:
        case NB_RESPONSE_DONE:
            return refuse(NB_ESTATE, "this help is already marked done", reason);
        default:
            break;
        }
        break;
    case NB_KIND_ASSIGNMENT:
        if (withdrawn) {
            return refuse(NB_ESTATE, "this offer was withdrawn", reason);
        }
        i = find_live(st, c->member);
        if (i == SIZE_MAX) {
            return refuse(NB_ENOENT, "that member has no open ask for this offer", reason);
        }
        if (st->responses[i].status == NB_RESPONSE_DONE_CLAIMED) {
            return refuse(NB_ESTATE, "this help is already marked done", reason);
        }
        break;
    case NB_KIND_DONE_CLAIM:
        i = find_assignment(st, c->target);
        if (i == SIZE_MAX) {
            return refuse(NB_ENOENT, "this names no current assignment of this offer", reason);
        }
        if (st->responses[i].status != NB_RESPONSE_ASSIGNED) {
            return refuse(NB_ESTATE, "this help is already marked done", reason);
        }
        break;
    case NB_KIND_CONFIRMATION:
        i = find_assignment(st, c->target);
        if (i == SIZE_MAX) {
            return refuse(NB_ENOENT, "this names no current assignment of this offer", reason);
        }
        if (!same_key(st->responses[i].author, c->author)) {
            return refuse(NB_EPERM, "only the member who asked can confirm that the help was given",
                          reason);
        }
        if (st->responses[i].status == NB_RESPONSE_ASSIGNED) {
            return refuse(NB_ESTATE, "the offerer has not marked this help done yet", reason);
        }
        if (st->responses[i].status == NB_RESPONSE_DONE) {
            return refuse(NB_ESTATE, "this help is already confirmed as done", reason);
        }
        break;
    case NB_KIND_PAUSE:
        if (withdrawn) {
            return refuse(NB_ESTATE, "this offer was withdrawn", reason);
        }
        if (c->paused == st->paused) {
            return refuse(NB_ESTATE,
                          st->paused ? "this offer is already paused" : "this offer is not paused",
                          reason);
        }
        break;
    default:
        return refuse(NB_EINVAL, "this kind of record does not act on an offer", reason);
    }
    *ret_index = i;
    return 0;
}

static int rule(const struct nb_state *st, const struct nb_record *c, size_t *ret_index,
                const char **reason)
{
    struct root r = root_of_state(st);
    int err = admissible(&r, c, reason);

    if (err < 0) {
        return err;
    }
    if (st->status == NB_STATUS_RETRACTED) {
        return refuse(NB_ESTATE,
                      is_request(&r) ? "this request was retracted by its author"
                                     : "this offer was retracted by its author",
                      reason);
    }
    return is_request(&r) ? request_rule(st, c, ret_index, reason)
                          : offer_rule(st, c, ret_index, reason);
}

static struct nb_state_step step_of(const struct nb_record *c, const uint8_t id[NB_ID_SIZE])
{
    struct nb_state_step s;
    memset(&s, 0, sizeof(s));
    s.present = true;
    memcpy(s.id, id, NB_ID_SIZE);
    s.created_at = c->created_at;
    return s;
}

static void clear_chain(struct nb_state_response *resp)
{
    memset(&resp->assignment, 0, sizeof(resp->assignment));
    memset(&resp->done_claim, 0, sizeof(resp->done_claim));
    memset(&resp->confirmation, 0, sizeof(resp->confirmation));
    resp->sealed = false;
    resp->thanks = false;
}

/* After the request's assignee changed: every other live response is
 * declined while somebody is assigned, and pending again when nobody is. */
static void redecline(struct nb_state *st)
{
    for (size_t i = 0; i < st->n_responses; i++) {
        struct nb_state_response *resp = &st->responses[i];
        if (st->has_assignee && i == st->assignee_response) {
            continue;
        }
        if (resp->status == NB_RESPONSE_PENDING || resp->status == NB_RESPONSE_DECLINED) {
            resp->status = st->has_assignee ? NB_RESPONSE_DECLINED : NB_RESPONSE_PENDING;
        }
    }
}

static void unassign(struct nb_state *st)
{
    st->has_assignee = false;
    memset(st->assignee, 0, sizeof(st->assignee));
    st->assignee_response = 0;
    memset(&st->assignment, 0, sizeof(st->assignment));
    st->sealed = false;
    memset(&st->done_claim, 0, sizeof(st->done_claim));
    memset(&st->confirmation, 0, sizeof(st->confirmation));
    st->thanks = false;
}

static bool has_text(const struct nb_record *c, unsigned field, size_t len)
{
    return NB_HAS(c, field) && len > 0;
}

/* Performs a record that rule() allowed.  The responses array has room for
 * every response record in the set, so appending cannot fail. */
static void apply(struct nb_state *st, const struct nb_record *c, const uint8_t id[NB_ID_SIZE],
                  size_t i)
{
    bool req = st->kind == NB_KIND_REQUEST;
    struct nb_state_step s = step_of(c, id);
    struct nb_state_response *resp = i != SIZE_MAX ? &st->responses[i] : NULL;

    switch (c->kind) {
    case NB_KIND_RESPONSE:
        resp = &st->responses[st->n_responses++];
        memset(resp, 0, sizeof(*resp));
        memcpy(resp->id, id, NB_ID_SIZE);
        memcpy(resp->author, c->author, NB_KEY_SIZE);
        resp->created_at = c->created_at;
        resp->status = req && st->has_assignee ? NB_RESPONSE_DECLINED : NB_RESPONSE_PENDING;
        break;
    case NB_KIND_WITHDRAWAL:
        if (resp == NULL) {
            st->withdrawal = s;
            st->status = NB_STATUS_WITHDRAWN;
            break;
        }
        resp->withdrawal = s;
        resp->status = NB_RESPONSE_WITHDRAWN;
        clear_chain(resp);
        if (req && st->has_assignee && st->assignee_response == i) {
            /* The helper stepped back: the request needs somebody else. */
            unassign(st);
            st->status = NB_STATUS_OPEN;
            redecline(st);
        }
        break;
    case NB_KIND_ASSIGNMENT:
        if (req) {
            if (st->has_assignee) {
                clear_chain(&st->responses[st->assignee_response]);
                st->responses[st->assignee_response].status = NB_RESPONSE_DECLINED;
            }
            unassign(st);
            st->has_assignee = true;
            memcpy(st->assignee, c->member, NB_KEY_SIZE);
            st->assignee_response = i;
            st->assignment = s;
            st->sealed = has_text(c, NB_F_SEALED, c->sealed.len);
            st->status = NB_STATUS_ASSIGNED;
        }
        clear_chain(resp);
        resp->assignment = s;
        resp->sealed = has_text(c, NB_F_SEALED, c->sealed.len);
        resp->status = NB_RESPONSE_ASSIGNED;
        if (req) {
            redecline(st);
        }
        break;
    case NB_KIND_DONE_CLAIM:
        resp->done_claim = s;
        resp->status = NB_RESPONSE_DONE_CLAIMED;
        if (req) {
            st->done_claim = s;
            st->status = NB_STATUS_DONE_CLAIMED;
        }
        break;
    case NB_KIND_CONFIRMATION:
        resp->confirmation = s;
        resp->thanks = has_text(c, NB_F_NOTE, c->note.len);
        resp->status = NB_RESPONSE_DONE;
        if (req) {
            st->confirmation = s;
            st->thanks = resp->thanks;
            st->status = NB_STATUS_DONE;
        }
        break;
    case NB_KIND_CANCELLATION:
        st->cancellation = s;
        st->status = NB_STATUS_CANCELLED;
        break;
    case NB_KIND_PAUSE:
        st->paused = c->paused;
        st->pause = s;
        st->status = c->paused ? NB_STATUS_PAUSED : NB_STATUS_AVAILABLE;
        break;
    default:
        break;
    }
    st->updated_at = c->created_at;
    st->n_applied++;
}

static int compare_time_id(const void *pa, const void *pb)
{
    const struct entry *a = pa;
    const struct entry *b = pb;

    if (a->rec->created_at != b->rec->created_at) {
        return a->rec->created_at < b->rec->created_at ? -1 : 1;
    }
    /* Within one second the lifecycle's own order decides (the kind numbers
     * follow it: response, withdrawal, assignment, done claim, confirmation,
     * cancellation), so a response and the assignment that picks it, signed
     * in the same second, fold as they happened whatever their ids. */
    if (a->rec->kind != b->rec->kind) {
        return a->rec->kind < b->rec->kind ? -1 : 1;
    }
    return memcmp(a->id, b->id, NB_ID_SIZE);
}

static int compare_id(const void *pa, const void *pb)
{
    const struct entry *a = *(const struct entry *const *)pa;
    const struct entry *b = *(const struct entry *const *)pb;
    return memcmp(a->id, b->id, NB_ID_SIZE);
}

/* The position of the first entry with this id in `by_id` (pointers to the
 * entries, sorted by id), or SIZE_MAX.  Copies of a record are adjacent. */
static size_t lookup(struct entry *const *by_id, size_t n, const uint8_t id[NB_ID_SIZE])
{
    size_t lo = 0;
    size_t hi = n;
    while (lo < hi) {
        size_t mid = lo + (hi - lo) / 2;
        if (memcmp(by_id[mid]->id, id, NB_ID_SIZE) < 0) {
            lo = mid + 1;
        } else {
            hi = mid;
        }
    }
    return lo < n && same_id(by_id[lo]->id, id) ? lo : SIZE_MAX;
}

static void remove_copies(struct entry *const *by_id, size_t n, size_t pos)
{
    for (size_t p = pos; p < n && same_id(by_id[p]->id, by_id[pos]->id); p++) {
        by_id[p]->removed = true;
    }
}

/*
 * Removes what authors retracted before the fold runs.  Nodes purge a
 * retracted record together with every record that targets it, transitively
 * (a retracted response takes its withdrawal along), so the fold treats all
 * of them as absent: a node that has purged them and a node that still holds
 * them derive the same state.  For the same reason a retraction of anything
 * but the root is counted neither as applied nor as ignored (a node that
 * purged the target cannot tell whether it was valid).  A retraction of a
 * retraction has no effect.  Returns the number of valid retractions of the
 * root and sets *root_retraction to the earliest one.
 */
static size_t retract(struct entry *entries, size_t n, struct entry *const *by_id,
                      const struct root *r, const struct entry **root_retraction)
{
    size_t of_root = 0;
    bool changed;

    *root_retraction = NULL;
    for (size_t k = 0; k < n; k++) {
        const struct nb_record *c = entries[k].rec;
        if (entries[k].duplicate || c->kind != NB_KIND_RETRACTION || !NB_HAS(c, NB_F_TARGET)) {
            continue;
        }
        if (same_id(c->target, r->id)) {
            if (same_key(c->author, r->author)) {
                if (*root_retraction == NULL) {
                    *root_retraction = &entries[k];
                }
                of_root++;
            }
            continue;
        }
        size_t pos = lookup(by_id, n, c->target);
        if (pos != SIZE_MAX && by_id[pos]->rec->kind != NB_KIND_RETRACTION &&
            same_key(by_id[pos]->rec->author, c->author)) {
            remove_copies(by_id, n, pos);
        }
    }
    /* Everything below a removed record goes with it.  Records usually
     * target older ones, so one pass in time order mostly suffices; repeat
     * until nothing changes for the rest. */
    do {
        changed = false;
        for (size_t k = 0; k < n; k++) {
            const struct nb_record *c = entries[k].rec;
            if (entries[k].removed || !NB_HAS(c, NB_F_TARGET)) {
                continue;
            }
            size_t pos = lookup(by_id, n, c->target);
            if (pos != SIZE_MAX && by_id[pos]->removed) {
                entries[k].removed = true;
                changed = true;
            }
        }
    } while (changed);
    return of_root;
}

int nb_state_derive(const struct nb_record *root, const uint8_t root_id[NB_ID_SIZE],
                    const struct nb_record *related, const uint8_t (*related_ids)[NB_ID_SIZE],
                    size_t n, uint64_t now, struct nb_state *ret)
{
    struct nb_state st;
    struct entry *entries = NULL;
    struct entry **by_id = NULL;
    size_t n_response_records = 0;
    size_t n_retractions = 0;
    const struct entry *root_retraction = NULL;
    int err = 0;

    memset(&st, 0, sizeof(st));
    if (root == NULL || root_id == NULL || ret == NULL ||
        (n > 0 && (related == NULL || related_ids == NULL))) {
        return NB_EINVAL;
    }
    if (root->kind != NB_KIND_REQUEST && root->kind != NB_KIND_OFFER) {
        return NB_EINVAL;
    }

    memcpy(st.root_id, root_id, NB_ID_SIZE);
    st.kind = root->kind;
    memcpy(st.author, root->author, NB_KEY_SIZE);
    st.created_at = root->created_at;
    st.expires_at =
        NB_HAS(root, NB_F_EXPIRES_AT) ? root->expires_at : root->created_at + NB_EXPIRY_DEFAULT;
    st.status = root->kind == NB_KIND_REQUEST ? NB_STATUS_OPEN : NB_STATUS_AVAILABLE;
    st.updated_at = root->created_at;

    if (n > 0) {
        entries = calloc(n, sizeof(*entries));
        by_id = calloc(n, sizeof(*by_id));
        if (entries == NULL || by_id == NULL) {
            err = NB_ENOMEM;
            goto out;
        }
    }
    for (size_t k = 0; k < n; k++) {
        entries[k].rec = &related[k];
        entries[k].id = related_ids[k];
        if (related[k].kind == NB_KIND_RESPONSE) {
            n_response_records++;
        }
    }
    if (n > 0) {
        qsort(entries, n, sizeof(*entries), compare_time_id);
        for (size_t k = 0; k < n; k++) {
            by_id[k] = &entries[k];
            /* A set holds a record once: a second copy is not a second event. */
            if (k > 0 && compare_time_id(&entries[k - 1], &entries[k]) == 0) {
                entries[k].duplicate = true;
            }
        }
        qsort(by_id, n, sizeof(*by_id), compare_id);
    }

    if (n_response_records > 0) {
        st.responses = calloc(n_response_records, sizeof(*st.responses));
        if (st.responses == NULL) {
            err = NB_ENOMEM;
            goto out;
        }
    }

    struct root r = { root->kind, root_id, root->author };
    n_retractions = retract(entries, n, by_id, &r, &root_retraction);

    if (root_retraction != NULL) {
        /* The author deleted it: nothing else about it is shown. */
        st.status = NB_STATUS_RETRACTED;
        st.retraction = step_of(root_retraction->rec, root_retraction->id);
        st.updated_at = root_retraction->rec->created_at;
        st.n_applied = n_retractions;
        goto done;
    }

    for (size_t k = 0; k < n; k++) {
        const struct entry *e = &entries[k];
        size_t index = SIZE_MAX;
        /* A removed record counts as neither applied nor ignored, so that a
         * node that purged it and a node that still holds it agree.  So
         * does every retraction left here (none retracts the root, or the
         * fold would not be here): a node deletes a retraction by someone
         * other than its target's author as soon as it holds both, and one
         * whose target it purged cannot be told apart. */
        if (e->duplicate || e->removed || e->rec->kind == NB_KIND_RETRACTION) {
            continue;
        }
        if (same_id(e->id, root_id) || e->rec->created_at >= st.expires_at ||
            rule(&st, e->rec, &index, NULL) < 0) {
            st.n_ignored++;
            continue;
        }
        apply(&st, e->rec, e->id, index);
    }

done:
    if (st.status != NB_STATUS_DONE && st.status != NB_STATUS_CANCELLED &&
        st.status != NB_STATUS_WITHDRAWN && st.status != NB_STATUS_RETRACTED &&
        now >= st.expires_at) {
        st.status = NB_STATUS_EXPIRED;
    }
    memcpy(ret, &st, sizeof(st));
    st.responses = NULL;
out:
    free(st.responses);
    free(by_id);
    free(entries);
    return err;
}

void nb_state_free(struct nb_state *st)
{
    if (st == NULL) {
        return;
    }
    free(st->responses);
    st->responses = NULL;
    st->n_responses = 0;
}

int nb_state_admissible(const struct nb_record *root, const uint8_t root_id[NB_ID_SIZE],
                        const struct nb_record *candidate, const char **reason)
{
    if (reason != NULL) {
        *reason = NULL;
    }
    if (root == NULL || root_id == NULL || candidate == NULL) {
        return refuse(NB_EINVAL, "missing argument", reason);
    }
    if (root->kind != NB_KIND_REQUEST && root->kind != NB_KIND_OFFER) {
        return refuse(NB_EINVAL, "only requests and offers have a lifecycle", reason);
    }
    struct root r = { root->kind, root_id, root->author };
    return admissible(&r, candidate, reason);
}

/* What a retraction would remove: a record the state names, its author,
 * and whether finished help rests on it. */
struct named {
    const uint8_t *author;
    bool rests_on_it;
};

static bool step_is(const struct nb_state_step *s, const uint8_t id[NB_ID_SIZE])
{
    return s->present && same_id(s->id, id);
}

static bool find_named(const struct nb_state *st, const uint8_t id[NB_ID_SIZE], struct named *ret)
{
    bool req = st->kind == NB_KIND_REQUEST;

    for (size_t i = 0; i < st->n_responses; i++) {
        const struct nb_state_response *resp = &st->responses[i];
        bool claimed = resp->status == NB_RESPONSE_DONE_CLAIMED || resp->status == NB_RESPONSE_DONE;
        bool confirmed = resp->status == NB_RESPONSE_DONE;
        if (same_id(resp->id, id)) {
            *ret = (struct named){ resp->author, claimed };
            return true;
        }
        if (step_is(&resp->withdrawal, id)) {
            *ret = (struct named){ resp->author, false };
            return true;
        }
        if (step_is(&resp->assignment, id)) {
            *ret = (struct named){ st->author, claimed };
            return true;
        }
        if (step_is(&resp->done_claim, id)) {
            *ret = (struct named){ req ? resp->author : st->author, confirmed };
            return true;
        }
        if (step_is(&resp->confirmation, id)) {
            *ret = (struct named){ req ? st->author : resp->author, true };
            return true;
        }
    }
    if (step_is(&st->cancellation, id) || step_is(&st->pause, id) || step_is(&st->withdrawal, id)) {
        *ret = (struct named){ st->author, false };
        return true;
    }
    return false;
}

/*
 * Retractions are decided outside the fold (see retract()), so the node's
 * acceptance of one is decided here rather than in rule().  The node accepts
 * a retraction of any record its state names, by that record's author, with
 * one exception: once help is marked done, the records it rests on (the
 * response, the assignment, the done claim once confirmed, the confirmation)
 * stay until the request or offer ends, because removing them would turn
 * finished help back into an earlier status.
 */
static int check_retraction(const struct nb_state *st, const struct nb_record *c,
                            const char **reason)
{
    bool req = st->kind == NB_KIND_REQUEST;
    struct named named;

    if (same_id(c->target, st->root_id)) {
        if (st->status == NB_STATUS_RETRACTED) {
            return refuse(NB_ESTATE,
                          req ? "this request was already retracted"
                              : "this offer was already retracted",
                          reason);
        }
        return 0;
    }
    if (st->status == NB_STATUS_RETRACTED) {
        return refuse(NB_ESTATE,
                      req ? "this request was retracted by its author"
                          : "this offer was retracted by its author",
                      reason);
    }
    if (!find_named(st, c->target, &named)) {
        return refuse(NB_ENOENT,
                      req ? "this request has no such record to retract"
                          : "this offer has no such record to retract",
                      reason);
    }
    if (!same_key(named.author, c->author)) {
        return refuse(NB_EPERM, "only its author can retract a record", reason);
    }
    if (named.rests_on_it) {
        return refuse(NB_ESTATE,
                      req ? "the help was marked done; this stays until the request ends"
                          : "the help was marked done; this stays until the offer ends",
                      reason);
    }
    return 0;
}

int nb_state_check(const struct nb_state *st, const struct nb_record *candidate, uint64_t now,
                   const char **reason)
{
    size_t index = SIZE_MAX;
    int err;

    if (reason != NULL) {
        *reason = NULL;
    }
    if (st == NULL || candidate == NULL ||
        (st->kind != NB_KIND_REQUEST && st->kind != NB_KIND_OFFER)) {
        return refuse(NB_EINVAL, "missing argument", reason);
    }
    bool req = st->kind == NB_KIND_REQUEST;
    struct root r = root_of_state(st);

    err = admissible(&r, candidate, reason);
    if (err < 0) {
        return err;
    }
    /* Deleting is always welcome, even after the end. */
    if (candidate->kind == NB_KIND_RETRACTION) {
        return check_retraction(st, candidate, reason);
    }
    if (st->status == NB_STATUS_RETRACTED) {
        return rule(st, candidate, &index, reason);
    }
    if (now >= st->expires_at || candidate->created_at >= st->expires_at ||
        st->status == NB_STATUS_EXPIRED) {
        /* A request that ended before it expired keeps saying how it ended. */
        if (st->status == NB_STATUS_CANCELLED || st->status == NB_STATUS_DONE) {
            return rule(st, candidate, &index, reason);
        }
        if (st->status == NB_STATUS_WITHDRAWN) {
            return refuse(NB_ESTATE, "this offer was withdrawn", reason);
        }
        return refuse(NB_EEXPIRED, req ? "this request has expired" : "this offer has expired",
                      reason);
    }
    return rule(st, candidate, &index, reason);
}
