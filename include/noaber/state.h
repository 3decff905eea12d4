/*
 * The lifecycle of requests and offers: their derived state, and the rules a
 * node applies before it accepts a new record for one of them.
 *
 * Nodes never store a status.  The state of a request or offer (its "root")
 * is a pure function of the set of records concerning it, so two nodes that
 * hold the same records show the same state whatever order the records
 * arrived in.  nb_state_derive() computes it: it sorts the related records by
 * (created_at, id), removes what their authors retracted, and folds the rest
 * through the lifecycle, ignoring every record that the rules do not allow at
 * that point.  docs/protocol.md, "Lifecycle and derived state", is the
 * normative description; this header is its C form.
 *
 * Which records "concern" a root: every record whose target is the root, and
 * every record whose target is one of those, transitively (a withdrawal or a
 * retraction targets a response; for offers, a done claim or a confirmation
 * targets an assignment).  Pass all of them; records that do not apply are
 * ignored and counted in nb_state.n_ignored.
 *
 * What each record targets and who may author it:
 *
 *   request (author: the requester R)
 *     response      target request        any member but R; one live per member
 *     withdrawal    target a response     that response's author
 *     assignment    target request        R; member = author of a live response
 *     done_claim    target request, or    the assigned helper
 *                   the current assignment
 *     confirmation  same as done_claim    R, after the done claim
 *     cancellation  target request        R, while not done
 *     retraction    target request        R (-> retracted)
 *                   or any record above   its author (see below)
 *   offer (author: the offerer O, who is the helper)
 *     response      target offer          any member but O ("asks"); one live ask
 *                                         per member
 *     withdrawal    target offer          O (-> withdrawn, final)
 *                   or an ask             that ask's author
 *     assignment    target offer          O; member = author of a pending ask
 *     done_claim    target an assignment  O
 *     confirmation  target an assignment  the asker, after the done claim
 *     pause         target offer          O; paused true/false
 *     retraction    target offer          O (-> retracted)
 *                   or any record above   its author (see below)
 *
 * A retracted record, and every record that targets it transitively, count
 * as absent: the fold derives the same state whether a node still holds
 * them or has purged them.  A retraction of a retraction has no effect.
 *
 * Acceptance has two levels:
 *
 *  - nb_state_admissible() depends only on the root and the new record (kind
 *    and author role: "only the requester can assign a helper").  A record it
 *    refuses is ignored by every fold of every set, so a node may refuse it
 *    from anyone, peers included.
 *
 *  - nb_state_check() also applies the rules that depend on the current
 *    state ("this request was cancelled", "you already responded").  Apply
 *    it to records that a local client submits, to tell the neighbour at once
 *    why their action makes no sense.  Do NOT refuse records from peers with
 *    it: two nodes may have seen the same records in different orders, and
 *    refusing by state would keep their sets apart forever.  The fold gives
 *    those records the same meaning on every node.
 */
#ifndef NOABER_STATE_H
#define NOABER_STATE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <noaber/record.h>

#ifdef __cplusplus
extern "C" {
#endif

/* The status of a request (open .. expired) or an offer (available ..). */
enum nb_status {
    NB_STATUS_OPEN = 0,         /* request: waiting for a helper to be assigned */
    NB_STATUS_ASSIGNED = 1,     /* request: the requester picked a helper */
    NB_STATUS_DONE_CLAIMED = 2, /* request: the helper says it is done */
    NB_STATUS_DONE = 3,         /* request: the requester confirmed */
    NB_STATUS_CANCELLED = 4,    /* request: the requester cancelled it */
    NB_STATUS_EXPIRED = 5,      /* request or offer: expires_at passed first */
    NB_STATUS_AVAILABLE = 6,    /* offer: neighbours may ask */
    NB_STATUS_PAUSED = 7,       /* offer: the offerer paused it */
    NB_STATUS_WITHDRAWN = 8,    /* offer: the offerer withdrew it (final) */
    NB_STATUS_RETRACTED = 9,    /* request or offer: its author deleted it */
    NB_STATUS_COUNT_ = 10,
};

/* The status of one response (to a request) or ask (for an offer). */
enum nb_response_status {
    NB_RESPONSE_PENDING = 0,      /* live, nobody assigned yet (or, for an offer, not yet) */
    NB_RESPONSE_DECLINED = 1,     /* request only: live, but another helper is assigned */
    NB_RESPONSE_ASSIGNED = 2,     /* this member is assigned */
    NB_RESPONSE_DONE_CLAIMED = 3, /* the helper marked it done */
    NB_RESPONSE_DONE = 4,         /* the one helped confirmed */
    NB_RESPONSE_WITHDRAWN = 5,    /* its author withdrew it */
    NB_RESPONSE_COUNT_ = 6,
};

/* Returns "open", "assigned", "done_claimed", ... or NULL if out of range. */
const char *nb_status_name(unsigned status);
/* Parses a status name; returns the status or NB_EINVAL. */
int nb_status_parse(const char *name);
/* Returns "pending", "declined", "assigned", "done_claimed", "done", "withdrawn". */
const char *nb_response_status_name(unsigned status);
int nb_response_status_parse(const char *name);

/* One applied lifecycle record: which one and when.  All zero if absent. */
struct nb_state_step {
    bool present;
    uint8_t id[NB_ID_SIZE];
    uint64_t created_at;
};

/*
 * One response to a request, or one ask for an offer (both are response
 * records).  The assignment chain is filled on the response of the member it
 * concerns: for a request only on the current helper's response, for an offer
 * on every ask that the offerer accepted.  Notes, thanks and sealed parts are
 * not copied: look the record up by its id.
 */
struct nb_state_response {
    uint8_t id[NB_ID_SIZE];
    uint8_t author[NB_KEY_SIZE];
    uint64_t created_at;
    enum nb_response_status status;
    struct nb_state_step withdrawal;
    struct nb_state_step assignment;   /* the current assignment of this member */
    bool sealed;                       /* that assignment carries a sealed part */
    struct nb_state_step done_claim;   /* by the helper */
    struct nb_state_step confirmation; /* by the one helped */
    bool thanks;                       /* the confirmation has a non-empty note */
};

/*
 * The derived state of one request or offer.  Filled by nb_state_derive();
 * release with nb_state_free().  Every field is deterministic: equal record
 * sets give equal values in every field (the `responses` pointer aside).
 */
struct nb_state {
    uint8_t root_id[NB_ID_SIZE];
    uint8_t kind; /* NB_KIND_REQUEST or NB_KIND_OFFER */
    uint8_t author[NB_KEY_SIZE];
    uint64_t created_at;
    uint64_t expires_at; /* the root's, or created_at + NB_EXPIRY_DEFAULT if absent */
    enum nb_status status;
    uint64_t updated_at; /* created_at of the last applied record, or of the root */

    /* Responses (request) or asks (offer) in (created_at, id) order,
     * withdrawn ones included, retracted ones left out. */
    struct nb_state_response *responses;
    size_t n_responses;

    /* Request only: the current helper and the chain of their assignment.
     * Kept after cancellation or expiry, to show who was helping. */
    bool has_assignee;
    uint8_t assignee[NB_KEY_SIZE];
    size_t assignee_response; /* index into responses */
    struct nb_state_step assignment;
    bool sealed;
    struct nb_state_step done_claim;
    struct nb_state_step confirmation;
    bool thanks;
    struct nb_state_step cancellation;

    /* Offer only. */
    bool paused;
    struct nb_state_step pause;      /* the pause record that decided `paused` */
    struct nb_state_step withdrawal; /* the offerer's withdrawal of the offer */

    struct nb_state_step retraction; /* the author's retraction of the root */

    size_t n_applied; /* related records that changed the state */
    size_t n_ignored; /* related records the rules did not allow where they fell */
};

/*
 * Derives the state of `root` (a request or an offer whose id is root_id)
 * from the `n` records in `related` with their ids in `related_ids`.  The
 * records may come in any order and may contain duplicates; the result
 * depends only on the set.  `now` decides expiry (expired when now >=
 * expires_at).  On success *ret is filled and must be released with
 * nb_state_free().  Returns 0, NB_EINVAL (root is not a request or offer, or
 * a NULL argument) or NB_ENOMEM.
 */
int nb_state_derive(const struct nb_record *root, const uint8_t root_id[NB_ID_SIZE],
                    const struct nb_record *related, const uint8_t (*related_ids)[NB_ID_SIZE],
                    size_t n, uint64_t now, struct nb_state *ret);

/* Releases what nb_state_derive() allocated; safe on a zeroed struct. */
void nb_state_free(struct nb_state *st);

/*
 * Whether `candidate` may act on this root at all, whatever the state: its
 * kind applies to the root's kind and its author has the right role.
 * Returns 0, NB_EINVAL (this kind of record does not apply, or lacks its
 * target) or NB_EPERM.  If `reason` is not NULL it is set to a static
 * sentence for a person on refusal and to NULL on acceptance.
 */
int nb_state_admissible(const struct nb_record *root, const uint8_t root_id[NB_ID_SIZE],
                        const struct nb_record *candidate, const char **reason);

/*
 * Whether a node accepts `candidate` for the root whose current state is
 * `st` (derived with the same `now`).  Includes nb_state_admissible().
 * Returns 0 or NB_EINVAL, NB_EPERM (wrong member), NB_ESTATE (not in this
 * state), NB_EEXPIRED (the root has expired, or the record was created at or
 * after its expiry), NB_ENOENT (the target or the assigned member is not one
 * this root knows).  `reason` as for nb_state_admissible().
 */
int nb_state_check(const struct nb_state *st, const struct nb_record *candidate, uint64_t now,
                   const char **reason);

#ifdef __cplusplus
}
#endif

#endif
