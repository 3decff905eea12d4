/*
 * The lifecycle of requests and offers, as neighbours live it.
 *
 * Alice asks for help, Bob and Carol respond, Alice assigns Bob, Bob marks it
 * done, Alice confirms.  Olga offers lifts; Dave and Erin ask for one.  Each
 * step goes through nb_state_check() the way a node accepts a record from its
 * own client, and the state is derived afresh from the set each time, the way
 * every node does.  The property tests at the end shuffle long random
 * histories and demand the same state from every order.
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include <sodium.h>

#include <noaber/error.h>
#include <noaber/identity.h>
#include <noaber/record.h>
#include <noaber/state.h>

#define MAX_RECORDS 256
#define T0          1760000000u /* when Alice posts, seconds since the epoch */
#define DAY         (24u * 3600)

static uint8_t alice[NB_KEY_SIZE];
static uint8_t bob[NB_KEY_SIZE];
static uint8_t carol[NB_KEY_SIZE];
static uint8_t dave[NB_KEY_SIZE];
static uint8_t olga[NB_KEY_SIZE];
static uint8_t erin[NB_KEY_SIZE];

static const uint8_t sealed_address[] = "sealed: Rue Haute 12, bell 3";

/*
 * The records one node holds about one root.  Record ids are BLAKE2b of a
 * counter: the lifecycle only needs ids to be distinct and fixed, and this
 * test must not depend on the record encoding.
 */
struct history {
    struct nb_record root;
    uint8_t root_id[NB_ID_SIZE];
    struct nb_record recs[MAX_RECORDS];
    uint8_t ids[MAX_RECORDS][NB_ID_SIZE];
    size_t n;
    uint64_t counter;
};

static void fresh_id(struct history *h, uint8_t out[NB_ID_SIZE])
{
    uint8_t in[8];
    h->counter++;
    for (int i = 0; i < 8; i++) {
        in[i] = (uint8_t)(h->counter >> (8 * i));
    }
    crypto_generichash(out, NB_ID_SIZE, in, sizeof(in), NULL, 0);
}

static void member(uint8_t key[NB_KEY_SIZE], char name)
{
    memset(key, name, NB_KEY_SIZE);
}

static int setup_members(void **state)
{
    (void)state;
    if (sodium_init() < 0) {
        return -1;
    }
    member(alice, 'A');
    member(bob, 'B');
    member(carol, 'C');
    member(dave, 'D');
    member(olga, 'O');
    member(erin, 'E');
    return 0;
}

static void post(struct history *h, uint8_t kind, const uint8_t *author, uint64_t at,
                 uint64_t expires_at)
{
    memset(h, 0, sizeof(*h));
    h->root.kind = kind;
    memcpy(h->root.author, author, NB_KEY_SIZE);
    h->root.created_at = at;
    h->root.expires_at = expires_at;
    NB_SET(&h->root, NB_F_EXPIRES_AT);
    fresh_id(h, h->root_id);
}

static struct nb_record record(uint8_t kind, const uint8_t *author, uint64_t at,
                               const uint8_t *target)
{
    struct nb_record r;
    memset(&r, 0, sizeof(r));
    r.kind = kind;
    memcpy(r.author, author, NB_KEY_SIZE);
    r.created_at = at;
    if (target != NULL) {
        memcpy(r.target, target, NB_ID_SIZE);
        NB_SET(&r, NB_F_TARGET);
    }
    return r;
}

static struct nb_record assignment(const struct history *h, const uint8_t *author,
                                   const uint8_t *who, uint64_t at, bool sealed)
{
    struct nb_record r = record(NB_KIND_ASSIGNMENT, author, at, h->root_id);
    memcpy(r.member, who, NB_KEY_SIZE);
    NB_SET(&r, NB_F_MEMBER);
    if (sealed) {
        r.sealed.ptr = sealed_address;
        r.sealed.len = sizeof(sealed_address);
        NB_SET(&r, NB_F_SEALED);
    }
    return r;
}

static struct nb_record with_note(struct nb_record r, const char *note)
{
    r.note.ptr = note;
    r.note.len = strlen(note);
    NB_SET(&r, NB_F_NOTE);
    return r;
}

static struct nb_record pause_record(const struct history *h, const uint8_t *author, uint64_t at,
                                     bool paused)
{
    struct nb_record r = record(NB_KIND_PAUSE, author, at, h->root_id);
    r.paused = paused;
    NB_SET(&r, NB_F_PAUSED);
    return r;
}

/* Adds a record to the set without asking whether a node would accept it:
 * what a node receives from peers. */
static const uint8_t *hold(struct history *h, struct nb_record r)
{
    assert_true(h->n < MAX_RECORDS);
    h->recs[h->n] = r;
    fresh_id(h, h->ids[h->n]);
    return h->ids[h->n++];
}

static void derive(const struct history *h, uint64_t now, struct nb_state *st)
{
    assert_int_equal(nb_state_derive(&h->root, h->root_id, h->recs, h->ids, h->n, now, st), 0);
}

/* A local client submits `r` at its created_at; the node must accept it. */
static const uint8_t *submit(struct history *h, struct nb_record r)
{
    struct nb_state st;
    const char *reason = "unset";
    derive(h, r.created_at, &st);
    int err = nb_state_check(&st, &r, r.created_at, &reason);
    nb_state_free(&st);
    if (err != 0) {
        fail_msg("refused (%s): %s", nb_error_name(err), reason ? reason : "(no reason)");
    }
    assert_null(reason);
    return hold(h, r);
}

/* A local client submits `r`; the node must refuse it with this code and
 * sentence, and the set stays as it was. */
static void refused(struct history *h, struct nb_record r, int code, const char *sentence)
{
    struct nb_state st;
    const char *reason = NULL;
    derive(h, r.created_at, &st);
    int err = nb_state_check(&st, &r, r.created_at, &reason);
    nb_state_free(&st);
    assert_string_equal(nb_error_name(err), nb_error_name(code));
    assert_non_null(reason);
    assert_string_equal(reason, sentence);
}

static enum nb_status status_at(const struct history *h, uint64_t now)
{
    struct nb_state st;
    derive(h, now, &st);
    enum nb_status s = st.status;
    nb_state_free(&st);
    return s;
}

#define assert_status(h, now, expected)                                                            \
    assert_string_equal(nb_status_name(status_at((h), (now))), nb_status_name(expected))

static const struct nb_state_response *response_of(const struct nb_state *st, const uint8_t *who)
{
    const struct nb_state_response *found = NULL;
    for (size_t i = 0; i < st->n_responses; i++) {
        if (memcmp(st->responses[i].author, who, NB_KEY_SIZE) == 0) {
            found = &st->responses[i]; /* the latest one */
        }
    }
    assert_non_null(found);
    return found;
}

#define assert_response(st, who, expected)                                                         \
    assert_string_equal(nb_response_status_name(response_of((st), (who))->status),                 \
                        nb_response_status_name(expected))

/* A canonical serialisation of every field of the state, so two states
 * compare equal exactly when every exposed value is equal. */
struct buf {
    uint8_t bytes[65536];
    size_t len;
};

static void put(struct buf *b, const void *p, size_t n)
{
    assert_true(b->len + n <= sizeof(b->bytes));
    memcpy(b->bytes + b->len, p, n);
    b->len += n;
}

static void put_u64(struct buf *b, uint64_t v)
{
    uint8_t x[8];
    for (int i = 0; i < 8; i++) {
        x[i] = (uint8_t)(v >> (56 - 8 * i));
    }
    put(b, x, 8);
}

static void put_step(struct buf *b, const struct nb_state_step *s)
{
    put_u64(b, s->present);
    put(b, s->id, NB_ID_SIZE);
    put_u64(b, s->created_at);
}

static void serialise(const struct nb_state *st, struct buf *b)
{
    b->len = 0;
    put(b, st->root_id, NB_ID_SIZE);
    put_u64(b, st->kind);
    put(b, st->author, NB_KEY_SIZE);
    put_u64(b, st->created_at);
    put_u64(b, st->expires_at);
    put_u64(b, st->status);
    put_u64(b, st->updated_at);
    put_u64(b, st->n_responses);
    for (size_t i = 0; i < st->n_responses; i++) {
        const struct nb_state_response *r = &st->responses[i];
        put(b, r->id, NB_ID_SIZE);
        put(b, r->author, NB_KEY_SIZE);
        put_u64(b, r->created_at);
        put_u64(b, r->status);
        put_step(b, &r->withdrawal);
        put_step(b, &r->assignment);
        put_u64(b, r->sealed);
        put_step(b, &r->done_claim);
        put_step(b, &r->confirmation);
        put_u64(b, r->thanks);
    }
    put_u64(b, st->has_assignee);
    put(b, st->assignee, NB_KEY_SIZE);
    put_u64(b, st->assignee_response);
    put_step(b, &st->assignment);
    put_u64(b, st->sealed);
    put_step(b, &st->done_claim);
    put_step(b, &st->confirmation);
    put_u64(b, st->thanks);
    put_step(b, &st->cancellation);
    put_u64(b, st->paused);
    put_step(b, &st->pause);
    put_step(b, &st->withdrawal);
    put_step(b, &st->retraction);
    put_u64(b, st->n_applied);
    put_u64(b, st->n_ignored);
}

/* ---- status names ---------------------------------------------------- */

static void status_names_round_trip(void **state)
{
    (void)state;
    const char *names[] = { "open",    "assigned",  "done_claimed", "done",      "cancelled",
                            "expired", "available", "paused",       "withdrawn", "retracted" };
    for (unsigned i = 0; i < NB_STATUS_COUNT_; i++) {
        assert_string_equal(nb_status_name(i), names[i]);
        assert_int_equal(nb_status_parse(names[i]), (int)i);
    }
    assert_null(nb_status_name(NB_STATUS_COUNT_));
    assert_int_equal(nb_status_parse("closed"), NB_EINVAL);
    assert_int_equal(nb_status_parse(NULL), NB_EINVAL);
    for (unsigned i = 0; i < NB_RESPONSE_COUNT_; i++) {
        assert_int_equal(nb_response_status_parse(nb_response_status_name(i)), (int)i);
    }
    assert_null(nb_response_status_name(NB_RESPONSE_COUNT_));
    assert_int_equal(nb_response_status_parse("open"), NB_EINVAL);
}

/* ---- requests --------------------------------------------------------- */

static void alice_gets_help_from_bob(void **state)
{
    (void)state;
    struct history h;
    struct nb_state st;

    post(&h, NB_KIND_REQUEST, alice, T0, T0 + 7 * DAY);
    assert_status(&h, T0, NB_STATUS_OPEN);

    submit(&h, record(NB_KIND_RESPONSE, bob, T0 + 60, h.root_id));
    submit(&h, with_note(record(NB_KIND_RESPONSE, carol, T0 + 120, h.root_id), "after 5pm"));
    derive(&h, T0 + 120, &st);
    assert_int_equal(st.status, NB_STATUS_OPEN);
    assert_int_equal(st.n_responses, 2);
    assert_response(&st, bob, NB_RESPONSE_PENDING);
    assert_response(&st, carol, NB_RESPONSE_PENDING);
    nb_state_free(&st);

    const uint8_t *a = submit(&h, assignment(&h, alice, bob, T0 + 600, true));
    derive(&h, T0 + 600, &st);
    assert_int_equal(st.status, NB_STATUS_ASSIGNED);
    assert_true(st.has_assignee);
    assert_memory_equal(st.assignee, bob, NB_KEY_SIZE);
    assert_memory_equal(st.assignment.id, a, NB_ID_SIZE);
    assert_true(st.sealed);
    assert_response(&st, bob, NB_RESPONSE_ASSIGNED);
    assert_response(&st, carol, NB_RESPONSE_DECLINED);
    nb_state_free(&st);

    const uint8_t *d = submit(&h, record(NB_KIND_DONE_CLAIM, bob, T0 + DAY, h.root_id));
    derive(&h, T0 + DAY, &st);
    assert_int_equal(st.status, NB_STATUS_DONE_CLAIMED);
    assert_memory_equal(st.done_claim.id, d, NB_ID_SIZE);
    assert_response(&st, bob, NB_RESPONSE_DONE_CLAIMED);
    nb_state_free(&st);

    const uint8_t *c =
        submit(&h, with_note(record(NB_KIND_CONFIRMATION, alice, T0 + DAY + 60, h.root_id),
                             "Thank you Bob!"));
    derive(&h, T0 + DAY + 60, &st);
    assert_int_equal(st.status, NB_STATUS_DONE);
    assert_memory_equal(st.confirmation.id, c, NB_ID_SIZE);
    assert_true(st.thanks);
    assert_response(&st, bob, NB_RESPONSE_DONE);
    assert_response(&st, carol, NB_RESPONSE_DECLINED);
    assert_int_equal(st.updated_at, T0 + DAY + 60);
    assert_int_equal(st.n_applied, 5);
    assert_int_equal(st.n_ignored, 0);
    nb_state_free(&st);

    /* Done stays done after the expiry: it ended before. */
    assert_status(&h, T0 + 30 * DAY, NB_STATUS_DONE);
}

static void done_claim_and_confirmation_may_name_the_assignment(void **state)
{
    (void)state;
    struct history h;
    post(&h, NB_KIND_REQUEST, alice, T0, T0 + 7 * DAY);
    submit(&h, record(NB_KIND_RESPONSE, bob, T0 + 1, h.root_id));
    const uint8_t *a = submit(&h, assignment(&h, alice, bob, T0 + 2, false));
    submit(&h, record(NB_KIND_DONE_CLAIM, bob, T0 + 3, a));
    submit(&h, record(NB_KIND_CONFIRMATION, alice, T0 + 4, a));
    assert_status(&h, T0 + 4, NB_STATUS_DONE);

    struct nb_state st;
    derive(&h, T0 + 4, &st);
    assert_false(st.sealed);
    assert_false(st.thanks);
    nb_state_free(&st);
}

static void bob_steps_back_and_the_request_reopens(void **state)
{
    (void)state;
    struct history h;
    struct nb_state st;

    post(&h, NB_KIND_REQUEST, alice, T0, T0 + 7 * DAY);
    const uint8_t *rb = submit(&h, record(NB_KIND_RESPONSE, bob, T0 + 1, h.root_id));
    submit(&h, record(NB_KIND_RESPONSE, carol, T0 + 2, h.root_id));
    submit(&h, assignment(&h, alice, bob, T0 + 3, true));
    submit(&h, record(NB_KIND_WITHDRAWAL, bob, T0 + 4, rb));

    derive(&h, T0 + 4, &st);
    assert_int_equal(st.status, NB_STATUS_OPEN);
    assert_false(st.has_assignee);
    assert_false(st.assignment.present);
    assert_false(st.sealed);
    assert_response(&st, bob, NB_RESPONSE_WITHDRAWN);
    assert_false(response_of(&st, bob)->assignment.present);
    assert_response(&st, carol, NB_RESPONSE_PENDING);
    nb_state_free(&st);

    /* Bob's old assignment is void: he cannot mark it done. */
    refused(&h, record(NB_KIND_DONE_CLAIM, bob, T0 + 5, h.root_id), NB_ESTATE,
            "nobody is assigned to this request yet");
    /* Bob may respond again, and Alice assigns Carol. */
    submit(&h, record(NB_KIND_RESPONSE, bob, T0 + 6, h.root_id));
    submit(&h, assignment(&h, alice, carol, T0 + 7, false));
    derive(&h, T0 + 7, &st);
    assert_int_equal(st.status, NB_STATUS_ASSIGNED);
    assert_memory_equal(st.assignee, carol, NB_KEY_SIZE);
    assert_int_equal(st.n_responses, 3);
    assert_response(&st, bob, NB_RESPONSE_DECLINED);
    nb_state_free(&st);
}

static void carol_withdraws_without_changing_the_assignment(void **state)
{
    (void)state;
    struct history h;
    struct nb_state st;

    post(&h, NB_KIND_REQUEST, alice, T0, T0 + 7 * DAY);
    submit(&h, record(NB_KIND_RESPONSE, bob, T0 + 1, h.root_id));
    const uint8_t *rc = submit(&h, record(NB_KIND_RESPONSE, carol, T0 + 2, h.root_id));
    submit(&h, assignment(&h, alice, bob, T0 + 3, false));
    submit(&h, record(NB_KIND_WITHDRAWAL, carol, T0 + 4, rc));
    derive(&h, T0 + 4, &st);
    assert_int_equal(st.status, NB_STATUS_ASSIGNED);
    assert_memory_equal(st.assignee, bob, NB_KEY_SIZE);
    assert_response(&st, carol, NB_RESPONSE_WITHDRAWN);
    nb_state_free(&st);
    refused(&h, record(NB_KIND_WITHDRAWAL, carol, T0 + 5, rc), NB_ESTATE,
            "this response was already withdrawn");
    refused(&h, assignment(&h, alice, carol, T0 + 5, false), NB_ENOENT,
            "that member has no live response to this request");
}

static void alice_reassigns_until_the_helper_claims_done(void **state)
{
    (void)state;
    struct history h;
    struct nb_state st;

    post(&h, NB_KIND_REQUEST, alice, T0, T0 + 7 * DAY);
    submit(&h, record(NB_KIND_RESPONSE, bob, T0 + 1, h.root_id));
    const uint8_t *rc = submit(&h, record(NB_KIND_RESPONSE, carol, T0 + 2, h.root_id));
    const uint8_t *ab = submit(&h, assignment(&h, alice, bob, T0 + 3, true));
    const uint8_t *ac = submit(&h, assignment(&h, alice, carol, T0 + 4, true));

    derive(&h, T0 + 4, &st);
    assert_int_equal(st.status, NB_STATUS_ASSIGNED);
    assert_memory_equal(st.assignee, carol, NB_KEY_SIZE);
    assert_memory_equal(st.assignment.id, ac, NB_ID_SIZE);
    assert_response(&st, bob, NB_RESPONSE_DECLINED);
    assert_false(response_of(&st, bob)->assignment.present);
    assert_response(&st, carol, NB_RESPONSE_ASSIGNED);
    nb_state_free(&st);

    refused(&h, record(NB_KIND_DONE_CLAIM, bob, T0 + 5, h.root_id), NB_EPERM,
            "only the assigned helper can mark this request done");
    refused(&h, record(NB_KIND_DONE_CLAIM, carol, T0 + 5, ab), NB_ESTATE,
            "this names an assignment that is no longer current");
    submit(&h, record(NB_KIND_DONE_CLAIM, carol, T0 + 5, ac));
    refused(&h, assignment(&h, alice, bob, T0 + 6, false), NB_ESTATE,
            "the helper already marked this request done");
    refused(&h, record(NB_KIND_RESPONSE, dave, T0 + 6, h.root_id), NB_ESTATE,
            "the helper already marked this request done");
    refused(&h, record(NB_KIND_WITHDRAWAL, carol, T0 + 6, rc), NB_ESTATE,
            "you already marked this request done");
    refused(&h, record(NB_KIND_WITHDRAWAL, carol, T0 + 6, ab), NB_ENOENT,
            "there is no such response to this request");
}

static void alice_cancels(void **state)
{
    (void)state;
    struct history h;

    post(&h, NB_KIND_REQUEST, alice, T0, T0 + 7 * DAY);
    const uint8_t *rb = submit(&h, record(NB_KIND_RESPONSE, bob, T0 + 1, h.root_id));
    submit(&h, assignment(&h, alice, bob, T0 + 2, false));
    refused(&h, record(NB_KIND_CANCELLATION, bob, T0 + 3, h.root_id), NB_EPERM,
            "only the requester can cancel this request");
    submit(&h, record(NB_KIND_CANCELLATION, alice, T0 + 3, h.root_id));
    assert_status(&h, T0 + 3, NB_STATUS_CANCELLED);
    /* Cancelled stays cancelled after the expiry. */
    assert_status(&h, T0 + 8 * DAY, NB_STATUS_CANCELLED);

    refused(&h, record(NB_KIND_RESPONSE, carol, T0 + 4, h.root_id), NB_ESTATE,
            "this request was cancelled");
    refused(&h, record(NB_KIND_DONE_CLAIM, bob, T0 + 4, h.root_id), NB_ESTATE,
            "this request was cancelled");
    refused(&h, record(NB_KIND_WITHDRAWAL, bob, T0 + 4, rb), NB_ESTATE,
            "this request was cancelled");
    refused(&h, record(NB_KIND_CANCELLATION, alice, T0 + 4, h.root_id), NB_ESTATE,
            "this request was cancelled");
    refused(&h, record(NB_KIND_RESPONSE, carol, T0 + 8 * DAY, h.root_id), NB_ESTATE,
            "this request was cancelled");
}

static void nothing_moves_a_confirmed_request(void **state)
{
    (void)state;
    struct history h;

    post(&h, NB_KIND_REQUEST, alice, T0, T0 + 7 * DAY);
    submit(&h, record(NB_KIND_RESPONSE, bob, T0 + 1, h.root_id));
    submit(&h, assignment(&h, alice, bob, T0 + 2, false));
    submit(&h, record(NB_KIND_DONE_CLAIM, bob, T0 + 3, h.root_id));
    submit(&h, record(NB_KIND_CONFIRMATION, alice, T0 + 4, h.root_id));
    const char *done = "this request is already confirmed as done";
    refused(&h, record(NB_KIND_CONFIRMATION, alice, T0 + 5, h.root_id), NB_ESTATE, done);
    refused(&h, record(NB_KIND_CANCELLATION, alice, T0 + 5, h.root_id), NB_ESTATE, done);
    refused(&h, record(NB_KIND_RESPONSE, carol, T0 + 5, h.root_id), NB_ESTATE, done);
    refused(&h, assignment(&h, alice, bob, T0 + 5, false), NB_ESTATE, done);
}

static void every_refusal_says_why(void **state)
{
    (void)state;
    struct history h;

    post(&h, NB_KIND_REQUEST, alice, T0, T0 + 7 * DAY);
    refused(&h, record(NB_KIND_RESPONSE, alice, T0 + 1, h.root_id), NB_EPERM,
            "you cannot respond to your own request");
    refused(&h, record(NB_KIND_DONE_CLAIM, bob, T0 + 1, h.root_id), NB_ESTATE,
            "nobody is assigned to this request yet");
    refused(&h, record(NB_KIND_CONFIRMATION, alice, T0 + 1, h.root_id), NB_ESTATE,
            "the helper has not marked this request done yet");
    refused(&h, assignment(&h, alice, dave, T0 + 1, false), NB_ENOENT,
            "that member has no live response to this request");
    refused(&h, assignment(&h, alice, alice, T0 + 1, false), NB_EINVAL,
            "you cannot assign yourself");

    const uint8_t *rb = submit(&h, record(NB_KIND_RESPONSE, bob, T0 + 1, h.root_id));
    refused(&h, record(NB_KIND_RESPONSE, bob, T0 + 2, h.root_id), NB_ESTATE,
            "you already responded");
    refused(&h, assignment(&h, bob, bob, T0 + 2, false), NB_EPERM,
            "only the requester can assign a helper");
    refused(&h, record(NB_KIND_WITHDRAWAL, carol, T0 + 2, rb), NB_EPERM,
            "only the member who responded can withdraw their response");
    refused(&h, record(NB_KIND_WITHDRAWAL, alice, T0 + 2, rb), NB_EPERM,
            "only the member who responded can withdraw their response");
    refused(&h, record(NB_KIND_WITHDRAWAL, alice, T0 + 2, h.root_id), NB_EINVAL,
            "a request is cancelled, not withdrawn");
    refused(&h, pause_record(&h, alice, T0 + 2, true), NB_EINVAL, "only an offer can be paused");
    refused(&h, record(NB_KIND_VOUCH, alice, T0 + 2, h.root_id), NB_EINVAL,
            "this kind of record does not act on a request");
    refused(&h, record(NB_KIND_CANCELLATION, alice, T0 + 2, NULL), NB_EINVAL,
            "the record does not name what it acts on");
    refused(&h, record(NB_KIND_RETRACTION, carol, T0 + 2, h.root_id), NB_EPERM,
            "only its author can retract a record");
    refused(&h, record(NB_KIND_RETRACTION, carol, T0 + 2, rb), NB_EPERM,
            "only its author can retract a record");

    submit(&h, assignment(&h, alice, bob, T0 + 3, false));
    refused(&h, record(NB_KIND_DONE_CLAIM, carol, T0 + 4, h.root_id), NB_EPERM,
            "only the assigned helper can mark this request done");
    refused(&h, record(NB_KIND_DONE_CLAIM, alice, T0 + 4, h.root_id), NB_EPERM,
            "only the assigned helper can mark this request done");
    refused(&h, record(NB_KIND_CONFIRMATION, bob, T0 + 4, h.root_id), NB_EPERM,
            "only the requester can confirm that the help was given");
    submit(&h, record(NB_KIND_DONE_CLAIM, bob, T0 + 4, h.root_id));
    refused(&h, record(NB_KIND_DONE_CLAIM, bob, T0 + 5, h.root_id), NB_ESTATE,
            "this request is already marked done");
    refused(&h, record(NB_KIND_WITHDRAWAL, bob, T0 + 5, rb), NB_ESTATE,
            "you already marked this request done");
    refused(&h, record(NB_KIND_RETRACTION, bob, T0 + 5, rb), NB_ESTATE,
            "the help was marked done; this stays until the request ends");
}

static void a_peer_may_be_refused_only_what_no_order_allows(void **state)
{
    (void)state;
    struct history h;
    const char *reason = NULL;

    post(&h, NB_KIND_REQUEST, alice, T0, T0 + 7 * DAY);
    struct nb_record by_bob = assignment(&h, bob, carol, T0 + 1, false);
    assert_int_equal(nb_state_admissible(&h.root, h.root_id, &by_bob, &reason), NB_EPERM);
    assert_string_equal(reason, "only the requester can assign a helper");

    /* Carol is not known to have responded yet, but a peer may hold her
     * response: admissible, so the node must take the assignment. */
    struct nb_record by_alice = assignment(&h, alice, carol, T0 + 1, false);
    assert_int_equal(nb_state_admissible(&h.root, h.root_id, &by_alice, &reason), 0);
    assert_null(reason);

    /* And the fold ignores the refused ones in every set: Bob's assignment,
     * Carol's attempt to delete Alice's request and Dave's attempt to delete
     * Carol's response. */
    const uint8_t *rc = hold(&h, record(NB_KIND_RESPONSE, carol, T0, h.root_id));
    hold(&h, by_bob);
    struct nb_record not_hers = record(NB_KIND_RETRACTION, carol, T0 + 2, h.root_id);
    assert_int_equal(nb_state_admissible(&h.root, h.root_id, &not_hers, &reason), NB_EPERM);
    hold(&h, not_hers);
    hold(&h, record(NB_KIND_RETRACTION, dave, T0 + 2, rc));
    struct nb_state st;
    derive(&h, T0 + 2, &st);
    assert_int_equal(st.status, NB_STATUS_OPEN);
    assert_int_equal(st.n_responses, 1);
    assert_int_equal(st.n_applied, 1);
    /* Only Bob's assignment: a retraction by someone other than its
     * target's author is deleted by every node that holds both, so the
     * fold counts it neither as applied nor as ignored. */
    assert_int_equal(st.n_ignored, 1);
    nb_state_free(&st);

    struct nb_record offer = h.root;
    offer.kind = NB_KIND_MESSAGE;
    assert_int_equal(nb_state_admissible(&offer, h.root_id, &by_alice, &reason), NB_EINVAL);
}

static void records_count_in_time_order_not_arrival_order(void **state)
{
    (void)state;
    struct history h;
    struct nb_state st;

    /* A node receives Alice's confirmation before Bob's done claim, and
     * Bob's done claim before the assignment. */
    post(&h, NB_KIND_REQUEST, alice, T0, T0 + 7 * DAY);
    hold(&h, record(NB_KIND_CONFIRMATION, alice, T0 + 40, h.root_id));
    hold(&h, record(NB_KIND_DONE_CLAIM, bob, T0 + 30, h.root_id));
    hold(&h, assignment(&h, alice, bob, T0 + 20, false));
    derive(&h, T0 + 40, &st);
    /* Bob's response has not arrived: the assignment rests on nothing. */
    assert_int_equal(st.status, NB_STATUS_OPEN);
    assert_int_equal(st.n_ignored, 3);
    nb_state_free(&st);

    hold(&h, record(NB_KIND_RESPONSE, bob, T0 + 10, h.root_id));
    derive(&h, T0 + 40, &st);
    assert_int_equal(st.status, NB_STATUS_DONE);
    assert_int_equal(st.n_applied, 4);
    assert_int_equal(st.n_ignored, 0);
    nb_state_free(&st);

    /* A confirmation dated before the done claim means nothing. */
    post(&h, NB_KIND_REQUEST, alice, T0, T0 + 7 * DAY);
    hold(&h, record(NB_KIND_RESPONSE, bob, T0 + 10, h.root_id));
    hold(&h, assignment(&h, alice, bob, T0 + 20, false));
    hold(&h, record(NB_KIND_CONFIRMATION, alice, T0 + 25, h.root_id));
    hold(&h, record(NB_KIND_DONE_CLAIM, bob, T0 + 30, h.root_id));
    assert_status(&h, T0 + 40, NB_STATUS_DONE_CLAIMED);
}

static void same_second_ties_are_broken_by_id(void **state)
{
    (void)state;
    struct history h;
    struct nb_state st;

    post(&h, NB_KIND_REQUEST, alice, T0, T0 + 7 * DAY);
    hold(&h, record(NB_KIND_RESPONSE, bob, T0 + 1, h.root_id));
    hold(&h, record(NB_KIND_RESPONSE, carol, T0 + 1, h.root_id));
    const uint8_t *x = hold(&h, assignment(&h, alice, bob, T0 + 2, false));
    const uint8_t *y = hold(&h, assignment(&h, alice, carol, T0 + 2, false));
    const uint8_t *later = memcmp(x, y, NB_ID_SIZE) > 0 ? x : y;
    const uint8_t *winner = later == x ? bob : carol;

    derive(&h, T0 + 2, &st);
    assert_memory_equal(st.assignment.id, later, NB_ID_SIZE);
    assert_memory_equal(st.assignee, winner, NB_KEY_SIZE);
    assert_memory_equal(st.responses[0].id,
                        memcmp(h.ids[0], h.ids[1], NB_ID_SIZE) < 0 ? h.ids[0] : h.ids[1],
                        NB_ID_SIZE);
    nb_state_free(&st);
}

/* Bob responds and Alice picks him within the same second: whatever ids the
 * two records got, the response folds first and Bob is assigned. */
static void a_response_and_its_assignment_in_one_second(void **state)
{
    (void)state;
    for (int attempt = 0; attempt < 16; attempt++) {
        struct history h;
        post(&h, NB_KIND_REQUEST, alice, T0, T0 + 7 * DAY);
        h.counter += (uint64_t)attempt * 7;
        const uint8_t *response = hold(&h, record(NB_KIND_RESPONSE, bob, T0 + 1, h.root_id));
        const uint8_t *pick = hold(&h, assignment(&h, alice, bob, T0 + 1, false));
        (void)response;
        (void)pick;
        assert_status(&h, T0 + 1, NB_STATUS_ASSIGNED);
    }
}

static void expiry_starts_at_expires_at(void **state)
{
    (void)state;
    struct history h;
    uint64_t end = T0 + 7 * DAY;

    post(&h, NB_KIND_REQUEST, alice, T0, end);
    submit(&h, record(NB_KIND_RESPONSE, bob, T0 + 1, h.root_id));
    submit(&h, assignment(&h, alice, bob, T0 + 2, false));
    submit(&h, record(NB_KIND_DONE_CLAIM, bob, end - 2, h.root_id));
    assert_status(&h, end - 1, NB_STATUS_DONE_CLAIMED);
    assert_status(&h, end, NB_STATUS_EXPIRED);

    /* At the boundary the node refuses, and a confirmation dated at the
     * boundary that reaches it anyway does not count. */
    refused(&h, record(NB_KIND_CONFIRMATION, alice, end, h.root_id), NB_EEXPIRED,
            "this request has expired");
    hold(&h, record(NB_KIND_CONFIRMATION, alice, end, h.root_id));
    assert_status(&h, end, NB_STATUS_EXPIRED);
    assert_status(&h, end - 1, NB_STATUS_DONE_CLAIMED);

    /* One second earlier it would have. */
    submit(&h, record(NB_KIND_CONFIRMATION, alice, end - 1, h.root_id));
    assert_status(&h, end, NB_STATUS_DONE);

    /* An open request expires; an absent expiry means the default 7 days. */
    post(&h, NB_KIND_REQUEST, alice, T0, 0);
    h.root.fields = 0;
    assert_status(&h, T0 + NB_EXPIRY_DEFAULT - 1, NB_STATUS_OPEN);
    assert_status(&h, T0 + NB_EXPIRY_DEFAULT, NB_STATUS_EXPIRED);
    refused(&h, record(NB_KIND_RESPONSE, bob, T0 + NB_EXPIRY_DEFAULT, h.root_id), NB_EEXPIRED,
            "this request has expired");
}

static void authors_retract(void **state)
{
    (void)state;
    struct history h;
    struct nb_state st;

    /* Bob, assigned, deletes his response: like a withdrawal, the request
     * reopens, and the response is gone from the list. */
    post(&h, NB_KIND_REQUEST, alice, T0, T0 + 7 * DAY);
    const uint8_t *rb = submit(&h, record(NB_KIND_RESPONSE, bob, T0 + 1, h.root_id));
    submit(&h, record(NB_KIND_RESPONSE, carol, T0 + 2, h.root_id));
    submit(&h, assignment(&h, alice, bob, T0 + 3, true));
    submit(&h, record(NB_KIND_RETRACTION, bob, T0 + 4, rb));
    derive(&h, T0 + 4, &st);
    assert_int_equal(st.status, NB_STATUS_OPEN);
    assert_int_equal(st.n_responses, 1);
    assert_memory_equal(st.responses[0].author, carol, NB_KEY_SIZE);
    assert_int_equal(st.n_applied, 1); /* Carol's response */
    assert_int_equal(st.n_ignored, 1); /* the assignment rests on nothing now */

    /* A node that purged Bob's response derives exactly the same. */
    static struct history purged;
    static struct buf with;
    static struct buf without;
    struct nb_state st2;
    purged = h;
    purged.recs[0] = purged.recs[--purged.n];
    memcpy(purged.ids[0], purged.ids[purged.n], NB_ID_SIZE);
    derive(&purged, T0 + 4, &st2);
    serialise(&st, &with);
    serialise(&st2, &without);
    assert_int_equal(with.len, without.len);
    assert_memory_equal(with.bytes, without.bytes, with.len);
    nb_state_free(&st);
    nb_state_free(&st2);

    /* Alice deletes the request itself. */
    submit(&h, record(NB_KIND_RETRACTION, alice, T0 + 5, h.root_id));
    derive(&h, T0 + 5, &st);
    assert_int_equal(st.status, NB_STATUS_RETRACTED);
    assert_int_equal(st.n_responses, 0);
    assert_true(st.retraction.present);
    nb_state_free(&st);
    refused(&h, record(NB_KIND_RESPONSE, dave, T0 + 6, h.root_id), NB_ESTATE,
            "this request was retracted by its author");
    refused(&h, record(NB_KIND_RETRACTION, alice, T0 + 6, h.root_id), NB_ESTATE,
            "this request was already retracted");
    /* Even after the expiry it stays retracted. */
    assert_status(&h, T0 + 8 * DAY, NB_STATUS_RETRACTED);

    /* Deleting is allowed after the end: Alice retracts an expired request. */
    post(&h, NB_KIND_REQUEST, alice, T0, T0 + DAY);
    submit(&h, record(NB_KIND_RETRACTION, alice, T0 + 2 * DAY, h.root_id));
    assert_status(&h, T0 + 2 * DAY, NB_STATUS_RETRACTED);
}

static void alice_takes_back_what_she_posted(void **state)
{
    (void)state;
    struct history h;
    struct nb_state st;

    post(&h, NB_KIND_REQUEST, alice, T0, T0 + 7 * DAY);
    submit(&h, record(NB_KIND_RESPONSE, bob, T0 + 1, h.root_id));
    submit(&h, record(NB_KIND_RESPONSE, carol, T0 + 2, h.root_id));
    const uint8_t *ab = submit(&h, assignment(&h, alice, bob, T0 + 3, true));
    const uint8_t *ac = submit(&h, assignment(&h, alice, carol, T0 + 4, true));

    /* Carol cannot take back Alice's assignment. */
    refused(&h, record(NB_KIND_RETRACTION, carol, T0 + 5, ac), NB_EPERM,
            "only its author can retract a record");
    /* Alice retracts the assignment of Carol: Bob's stands again. */
    submit(&h, record(NB_KIND_RETRACTION, alice, T0 + 5, ac));
    derive(&h, T0 + 5, &st);
    assert_int_equal(st.status, NB_STATUS_ASSIGNED);
    assert_memory_equal(st.assignee, bob, NB_KEY_SIZE);
    assert_memory_equal(st.assignment.id, ab, NB_ID_SIZE);
    assert_response(&st, carol, NB_RESPONSE_DECLINED);
    nb_state_free(&st);

    /* A cancellation taken back reopens the request where it was. */
    const uint8_t *x = submit(&h, record(NB_KIND_CANCELLATION, alice, T0 + 6, h.root_id));
    submit(&h, record(NB_KIND_RETRACTION, alice, T0 + 7, x));
    assert_status(&h, T0 + 7, NB_STATUS_ASSIGNED);

    /* Bob marks it done by mistake and takes it back. */
    const uint8_t *d1 = submit(&h, record(NB_KIND_DONE_CLAIM, bob, T0 + 8, ab));
    refused(&h, record(NB_KIND_RETRACTION, alice, T0 + 9, ab), NB_ESTATE,
            "the help was marked done; this stays until the request ends");
    submit(&h, record(NB_KIND_RETRACTION, bob, T0 + 9, d1));
    assert_status(&h, T0 + 9, NB_STATUS_ASSIGNED);

    const uint8_t *d2 = submit(&h, record(NB_KIND_DONE_CLAIM, bob, T0 + 10, ab));
    const uint8_t *c = submit(&h, record(NB_KIND_CONFIRMATION, alice, T0 + 11, h.root_id));
    refused(&h, record(NB_KIND_RETRACTION, bob, T0 + 12, d2), NB_ESTATE,
            "the help was marked done; this stays until the request ends");
    refused(&h, record(NB_KIND_RETRACTION, alice, T0 + 12, c), NB_ESTATE,
            "the help was marked done; this stays until the request ends");
    refused(&h, record(NB_KIND_RETRACTION, alice, T0 + 12, x), NB_ENOENT,
            "this request has no such record to retract");
    assert_status(&h, T0 + 12, NB_STATUS_DONE);
}

static void a_retracted_record_takes_what_rests_on_it_along(void **state)
{
    (void)state;
    static struct history h;
    static struct history purged;
    static struct buf full;
    static struct buf without;
    struct nb_state st;

    /* A node holds Alice's retraction of her assignment together with the
     * assignment and Bob's done claim that names it (they crossed on the
     * way).  Another node has purged both.  They agree. */
    post(&h, NB_KIND_REQUEST, alice, T0, T0 + 7 * DAY);
    hold(&h, record(NB_KIND_RESPONSE, bob, T0 + 1, h.root_id));
    const uint8_t *a = hold(&h, assignment(&h, alice, bob, T0 + 2, true));
    hold(&h, record(NB_KIND_DONE_CLAIM, bob, T0 + 3, a));
    hold(&h, record(NB_KIND_RETRACTION, alice, T0 + 4, a));
    derive(&h, T0 + 5, &st);
    assert_int_equal(st.status, NB_STATUS_OPEN);
    assert_int_equal(st.n_applied, 1);
    assert_int_equal(st.n_ignored, 0);
    serialise(&st, &full);
    nb_state_free(&st);

    purged = h;
    purged.recs[1] = purged.recs[3];
    memcpy(purged.ids[1], purged.ids[3], NB_ID_SIZE);
    purged.n = 2;
    derive(&purged, T0 + 5, &st);
    serialise(&st, &without);
    nb_state_free(&st);
    assert_int_equal(full.len, without.len);
    assert_memory_equal(full.bytes, without.bytes, full.len);

    /* A retraction of a retraction changes nothing; one by someone other
     * than the author neither. */
    hold(&h, record(NB_KIND_RETRACTION, alice, T0 + 5, h.ids[3]));
    hold(&h, record(NB_KIND_RETRACTION, carol, T0 + 5, h.ids[0]));
    derive(&h, T0 + 5, &st);
    serialise(&st, &without);
    nb_state_free(&st);
    assert_int_equal(full.len, without.len);
    assert_memory_equal(full.bytes, without.bytes, full.len);
}

/* ---- offers ----------------------------------------------------------- */

static void olga_gives_dave_a_lift(void **state)
{
    (void)state;
    struct history h;
    struct nb_state st;

    post(&h, NB_KIND_OFFER, olga, T0, T0 + 30 * DAY);
    assert_status(&h, T0, NB_STATUS_AVAILABLE);

    submit(&h, with_note(record(NB_KIND_RESPONSE, dave, T0 + 10, h.root_id), "Tuesday?"));
    submit(&h, record(NB_KIND_RESPONSE, erin, T0 + 20, h.root_id));
    const uint8_t *a = submit(&h, assignment(&h, olga, dave, T0 + 30, true));
    derive(&h, T0 + 30, &st);
    /* One ask in progress does not take the offer off the board. */
    assert_int_equal(st.status, NB_STATUS_AVAILABLE);
    assert_false(st.has_assignee);
    assert_response(&st, dave, NB_RESPONSE_ASSIGNED);
    assert_true(response_of(&st, dave)->sealed);
    assert_response(&st, erin, NB_RESPONSE_PENDING);
    nb_state_free(&st);

    const uint8_t *d = submit(&h, record(NB_KIND_DONE_CLAIM, olga, T0 + DAY, a));
    submit(&h, with_note(record(NB_KIND_CONFIRMATION, dave, T0 + DAY + 5, a), "Thanks Olga"));
    derive(&h, T0 + DAY + 5, &st);
    assert_int_equal(st.status, NB_STATUS_AVAILABLE);
    const struct nb_state_response *ask = response_of(&st, dave);
    assert_int_equal(ask->status, NB_RESPONSE_DONE);
    assert_memory_equal(ask->assignment.id, a, NB_ID_SIZE);
    assert_memory_equal(ask->done_claim.id, d, NB_ID_SIZE);
    assert_true(ask->confirmation.present);
    assert_true(ask->thanks);
    assert_response(&st, erin, NB_RESPONSE_PENDING);
    nb_state_free(&st);

    /* A standing offer: Dave may ask again next week. */
    submit(&h, record(NB_KIND_RESPONSE, dave, T0 + 7 * DAY, h.root_id));
    derive(&h, T0 + 7 * DAY, &st);
    assert_int_equal(st.n_responses, 3);
    assert_response(&st, dave, NB_RESPONSE_PENDING);
    nb_state_free(&st);
}

static void olga_pauses_resumes_and_withdraws(void **state)
{
    (void)state;
    struct history h;
    struct nb_state st;

    post(&h, NB_KIND_OFFER, olga, T0, T0 + 30 * DAY);
    const uint8_t *rd = submit(&h, record(NB_KIND_RESPONSE, dave, T0 + 1, h.root_id));
    const uint8_t *a = submit(&h, assignment(&h, olga, dave, T0 + 2, false));
    submit(&h, pause_record(&h, olga, T0 + 3, true));
    assert_status(&h, T0 + 3, NB_STATUS_PAUSED);
    refused(&h, record(NB_KIND_RESPONSE, erin, T0 + 4, h.root_id), NB_ESTATE,
            "this offer is paused");
    refused(&h, pause_record(&h, olga, T0 + 4, true), NB_ESTATE, "this offer is already paused");
    refused(&h, pause_record(&h, dave, T0 + 4, false), NB_EPERM,
            "only the offerer can pause or resume this offer");
    /* The help already agreed goes on while paused. */
    submit(&h, record(NB_KIND_DONE_CLAIM, olga, T0 + 4, a));
    submit(&h, pause_record(&h, olga, T0 + 5, false));
    assert_status(&h, T0 + 5, NB_STATUS_AVAILABLE);
    refused(&h, pause_record(&h, olga, T0 + 6, false), NB_ESTATE, "this offer is not paused");
    submit(&h, record(NB_KIND_RESPONSE, erin, T0 + 6, h.root_id));

    refused(&h, record(NB_KIND_WITHDRAWAL, erin, T0 + 7, h.root_id), NB_EPERM,
            "only the offerer can withdraw this offer");
    submit(&h, record(NB_KIND_WITHDRAWAL, olga, T0 + 7, h.root_id));
    derive(&h, T0 + 7, &st);
    assert_int_equal(st.status, NB_STATUS_WITHDRAWN);
    assert_true(st.withdrawal.present);
    nb_state_free(&st);
    refused(&h, record(NB_KIND_RESPONSE, carol, T0 + 8, h.root_id), NB_ESTATE,
            "this offer was withdrawn");
    refused(&h, pause_record(&h, olga, T0 + 8, true), NB_ESTATE, "this offer was withdrawn");
    refused(&h, assignment(&h, olga, erin, T0 + 8, false), NB_ESTATE, "this offer was withdrawn");
    refused(&h, record(NB_KIND_WITHDRAWAL, olga, T0 + 8, h.root_id), NB_ESTATE,
            "this offer was already withdrawn");
    /* Olga changes her mind: taking back the withdrawal, then the pause
     * record she resumed with, leaves the offer paused. */
    static struct history back;
    back = h;
    submit(&back, record(NB_KIND_RETRACTION, olga, T0 + 8, back.ids[back.n - 1]));
    assert_status(&back, T0 + 8, NB_STATUS_AVAILABLE);
    derive(&back, T0 + 8, &st);
    const uint8_t *resumed = back.ids[4];
    assert_memory_equal(st.pause.id, resumed, NB_ID_SIZE);
    nb_state_free(&st);
    submit(&back, record(NB_KIND_RETRACTION, olga, T0 + 9, resumed));
    assert_status(&back, T0 + 9, NB_STATUS_PAUSED);

    refused(&h, record(NB_KIND_WITHDRAWAL, dave, T0 + 8, rd), NB_ESTATE,
            "this help is already marked done");
    /* Dave still confirms the lift he had. */
    submit(&h, record(NB_KIND_CONFIRMATION, dave, T0 + 8, a));
    derive(&h, T0 + 40 * DAY, &st);
    assert_int_equal(st.status, NB_STATUS_WITHDRAWN); /* withdrawn before it expired */
    assert_response(&st, dave, NB_RESPONSE_DONE);
    nb_state_free(&st);
    refused(&h, record(NB_KIND_CONFIRMATION, dave, T0 + 40 * DAY, a), NB_ESTATE,
            "this offer was withdrawn");
}

static void offer_refusals(void **state)
{
    (void)state;
    struct history h;

    post(&h, NB_KIND_OFFER, olga, T0, T0 + 30 * DAY);
    refused(&h, record(NB_KIND_RESPONSE, olga, T0 + 1, h.root_id), NB_EPERM,
            "you cannot ask for your own offer");
    refused(&h, record(NB_KIND_CANCELLATION, olga, T0 + 1, h.root_id), NB_EINVAL,
            "an offer is withdrawn, not cancelled");
    const uint8_t *rd = submit(&h, record(NB_KIND_RESPONSE, dave, T0 + 1, h.root_id));
    refused(&h, record(NB_KIND_RESPONSE, dave, T0 + 2, h.root_id), NB_ESTATE,
            "you already asked for this offer");
    refused(&h, assignment(&h, dave, dave, T0 + 2, false), NB_EPERM,
            "only the offerer can accept an ask");
    refused(&h, assignment(&h, olga, erin, T0 + 2, false), NB_ENOENT,
            "that member has no open ask for this offer");
    refused(&h, record(NB_KIND_WITHDRAWAL, erin, T0 + 2, rd), NB_EPERM,
            "only the member who asked can withdraw their ask");
    refused(&h, record(NB_KIND_DONE_CLAIM, olga, T0 + 2, h.root_id), NB_EINVAL,
            "a done claim for an offer targets the assignment it concerns");
    refused(&h, record(NB_KIND_CONFIRMATION, dave, T0 + 2, h.root_id), NB_EINVAL,
            "a confirmation for an offer targets the assignment it concerns");
    refused(&h, record(NB_KIND_DONE_CLAIM, olga, T0 + 2, rd), NB_ENOENT,
            "this names no current assignment of this offer");

    const uint8_t *a = submit(&h, assignment(&h, olga, dave, T0 + 3, false));
    refused(&h, record(NB_KIND_DONE_CLAIM, dave, T0 + 4, a), NB_EPERM,
            "only the offerer can mark their help done");
    refused(&h, record(NB_KIND_CONFIRMATION, dave, T0 + 4, a), NB_ESTATE,
            "the offerer has not marked this help done yet");
    submit(&h, record(NB_KIND_DONE_CLAIM, olga, T0 + 4, a));
    refused(&h, record(NB_KIND_DONE_CLAIM, olga, T0 + 5, a), NB_ESTATE,
            "this help is already marked done");
    refused(&h, assignment(&h, olga, dave, T0 + 5, false), NB_ESTATE,
            "this help is already marked done");
    refused(&h, record(NB_KIND_CONFIRMATION, erin, T0 + 5, a), NB_EPERM,
            "only the member who asked can confirm that the help was given");
    refused(&h, record(NB_KIND_CONFIRMATION, olga, T0 + 5, a), NB_EPERM,
            "only the member who asked can confirm that the help was given");
    submit(&h, record(NB_KIND_CONFIRMATION, dave, T0 + 5, a));
    refused(&h, record(NB_KIND_CONFIRMATION, dave, T0 + 6, a), NB_ESTATE,
            "this help is already confirmed as done");

    refused(&h, record(NB_KIND_RESPONSE, erin, T0 + 30 * DAY, h.root_id), NB_EEXPIRED,
            "this offer has expired");
    assert_status(&h, T0 + 30 * DAY - 1, NB_STATUS_AVAILABLE);
    assert_status(&h, T0 + 30 * DAY, NB_STATUS_EXPIRED);
}

static void dave_withdraws_his_ask_after_olga_accepted(void **state)
{
    (void)state;
    struct history h;
    struct nb_state st;

    post(&h, NB_KIND_OFFER, olga, T0, T0 + 30 * DAY);
    const uint8_t *rd = submit(&h, record(NB_KIND_RESPONSE, dave, T0 + 1, h.root_id));
    const uint8_t *a = submit(&h, assignment(&h, olga, dave, T0 + 2, true));
    submit(&h, record(NB_KIND_WITHDRAWAL, dave, T0 + 3, rd));
    derive(&h, T0 + 3, &st);
    assert_response(&st, dave, NB_RESPONSE_WITHDRAWN);
    assert_false(response_of(&st, dave)->assignment.present);
    nb_state_free(&st);
    refused(&h, record(NB_KIND_DONE_CLAIM, olga, T0 + 4, a), NB_ENOENT,
            "this names no current assignment of this offer");

    /* Erin retracts her ask: it disappears. */
    const uint8_t *re = submit(&h, record(NB_KIND_RESPONSE, erin, T0 + 4, h.root_id));
    submit(&h, record(NB_KIND_RETRACTION, erin, T0 + 5, re));
    derive(&h, T0 + 5, &st);
    assert_int_equal(st.n_responses, 1);
    nb_state_free(&st);
    /* Dave's withdrawal voided the assignment: it is no longer in the state. */
    refused(&h, record(NB_KIND_RETRACTION, olga, T0 + 6, a), NB_ENOENT,
            "this offer has no such record to retract");
    submit(&h, record(NB_KIND_RETRACTION, olga, T0 + 6, h.root_id));
    assert_status(&h, T0 + 6, NB_STATUS_RETRACTED);
}

/* ---- real records ------------------------------------------------------ */

/* Signed records as they travel between nodes. */
struct wire {
    uint8_t bytes[8][NB_RECORD_MAX];
    size_t len[8];
    struct nb_record decoded[8];
    uint8_t ids[8][NB_ID_SIZE];
    size_t n;
};

static const uint8_t neighbourhood[NB_NEIGHBOURHOOD_ID_SIZE] = { 'M', 'a', 'r', 'o',
                                                                 'l', 'l', 'e', 's' };

static void person(char name, uint8_t pk[NB_KEY_SIZE], uint8_t sk[NB_SECRET_KEY_SIZE])
{
    uint8_t seed[NB_SEED_SIZE];
    memset(seed, name, sizeof(seed));
    assert_int_equal(nb_member_from_seed(seed, pk, sk), 0);
}

/* Signs `rec`, then opens the bytes the way a receiving node does. */
static const uint8_t *send(struct wire *w, struct nb_record rec, const uint8_t *sk)
{
    size_t i = w->n++;
    assert_int_equal(nb_record_sign(&rec, sk, neighbourhood, w->bytes[i], &w->len[i]), 0);
    nb_record_id(w->bytes[i], w->len[i], w->ids[i]);
    assert_int_equal(
        nb_record_open(w->bytes[i], w->len[i], neighbourhood, rec.created_at, &w->decoded[i]), 0);
    return w->ids[i];
}

static void signed_records_from_the_wire(void **state)
{
    (void)state;
    static struct wire w;
    uint8_t a_pk[NB_KEY_SIZE], a_sk[NB_SECRET_KEY_SIZE];
    uint8_t b_pk[NB_KEY_SIZE], b_sk[NB_SECRET_KEY_SIZE];
    uint8_t c_pk[NB_KEY_SIZE], c_sk[NB_SECRET_KEY_SIZE];
    uint8_t box[sizeof(sealed_address) + NB_SEAL_OVERHEAD];
    struct nb_state st;

    person('a', a_pk, a_sk);
    person('b', b_pk, b_sk);
    person('c', c_pk, c_sk);
    memset(&w, 0, sizeof(w));

    struct nb_record request = record(NB_KIND_REQUEST, a_pk, T0, NULL);
    request.title = (struct nb_text){ "Groceries from the market", 25 };
    NB_SET(&request, NB_F_TITLE);
    request.category = NB_CAT_GROCERIES;
    NB_SET(&request, NB_F_CATEGORY);
    request.area = (struct nb_text){ "Marolles", 8 };
    NB_SET(&request, NB_F_AREA);
    request.expires_at = T0 + 7 * DAY;
    NB_SET(&request, NB_F_EXPIRES_AT);
    /* The root travels like any record but is passed apart. */
    static struct wire root_wire;
    memset(&root_wire, 0, sizeof(root_wire));
    const uint8_t *rid = send(&root_wire, request, a_sk);
    const struct nb_record *root = &root_wire.decoded[0];

    send(&w, with_note(record(NB_KIND_RESPONSE, b_pk, T0 + 60, rid), "I pass by at noon"), b_sk);
    send(&w, record(NB_KIND_RESPONSE, c_pk, T0 + 61, rid), c_sk);
    assert_int_equal(nb_seal(sealed_address, sizeof(sealed_address), b_pk, box), 0);
    struct nb_record a = record(NB_KIND_ASSIGNMENT, a_pk, T0 + 120, rid);
    memcpy(a.member, b_pk, NB_KEY_SIZE);
    NB_SET(&a, NB_F_MEMBER);
    a.sealed = (struct nb_bytes){ box, sizeof(box) };
    NB_SET(&a, NB_F_SEALED);
    const uint8_t *aid = send(&w, a, a_sk);
    send(&w, record(NB_KIND_DONE_CLAIM, b_pk, T0 + 3600, aid), b_sk);
    send(&w, with_note(record(NB_KIND_CONFIRMATION, a_pk, T0 + 3700, rid), "Dank je, Bob"), a_sk);

    /* Delivered newest first, as a peer might. */
    static struct nb_record reversed[8];
    static uint8_t reversed_ids[8][NB_ID_SIZE];
    for (size_t i = 0; i < w.n; i++) {
        reversed[i] = w.decoded[w.n - 1 - i];
        memcpy(reversed_ids[i], w.ids[w.n - 1 - i], NB_ID_SIZE);
    }
    assert_int_equal(nb_state_derive(root, rid, reversed,
                                     (const uint8_t(*)[NB_ID_SIZE])reversed_ids, w.n, T0 + DAY,
                                     &st),
                     0);
    assert_int_equal(st.status, NB_STATUS_DONE);
    assert_memory_equal(st.assignee, b_pk, NB_KEY_SIZE);
    assert_true(st.sealed);
    assert_true(st.thanks);
    assert_memory_equal(st.author, a_pk, NB_KEY_SIZE);
    assert_int_equal(st.expires_at, T0 + 7 * DAY);
    assert_response(&st, c_pk, NB_RESPONSE_DECLINED);
    nb_state_free(&st);
}

/* ---- properties ------------------------------------------------------- */

/* xorshift64*: a fixed, portable generator so a failing seed replays. */
static uint64_t rng_state;

static uint64_t rnd(void)
{
    rng_state ^= rng_state >> 12;
    rng_state ^= rng_state << 25;
    rng_state ^= rng_state >> 27;
    return rng_state * 0x2545F4914F6CDD1DULL;
}

static size_t below(size_t n)
{
    return (size_t)(rnd() % n);
}

static const uint8_t *const cast[] = { alice, bob, carol, dave, erin, olga };
#define CAST_SIZE 6

static const uint8_t *anyone(void)
{
    return cast[below(CAST_SIZE)];
}

/* Mostly the member the rules expect, sometimes anybody: the fold must
 * ignore the wrong ones the same way in every order. */
static const uint8_t *usually(const uint8_t *expected)
{
    return below(8) == 0 ? anyone() : expected;
}

/* The id of a random earlier record of this kind, or the root. */
static const uint8_t *some(const struct history *h, uint8_t kind)
{
    size_t start = h->n > 0 ? below(h->n) : 0;
    for (size_t k = 0; k < h->n; k++) {
        size_t i = (start + k) % h->n;
        if (h->recs[i].kind == kind) {
            return h->ids[i];
        }
    }
    return h->root_id;
}

static const uint8_t *author_of(const struct history *h, const uint8_t *id)
{
    for (size_t i = 0; i < h->n; i++) {
        if (memcmp(h->ids[i], id, NB_ID_SIZE) == 0) {
            return h->recs[i].author;
        }
    }
    return h->root.author;
}

static const char *const thanks_notes[] = { "", "merci!" };

/*
 * A random history: many members responding at once, withdrawing,
 * re-assignments, pauses, done claims, confirmations, cancellations and
 * retractions, with created_at ties on purpose.  The records are what nodes
 * could plausibly hold, not only what one node would accept in one order.
 */
static void random_history(struct history *h, size_t length)
{
    bool offer = below(2) == 0;
    const uint8_t *owner = offer ? olga : alice;
    uint64_t t = T0;
    /* Sometimes the expiry falls inside the history. */
    uint64_t expires = below(4) == 0 ? T0 + length / 2 : T0 + 90 * DAY;

    post(h, offer ? NB_KIND_OFFER : NB_KIND_REQUEST, owner, T0, expires);
    for (size_t k = 0; k < length; k++) {
        struct nb_record r;
        const uint8_t *target;
        t += below(3); /* 0: a tie with the previous record */
        switch (below(offer ? 12 : 11)) {
        case 0:
        case 1:
        case 2:
            r = record(NB_KIND_RESPONSE, usually(cast[1 + below(CAST_SIZE - 1)]), t, h->root_id);
            if (offer && memcmp(r.author, olga, NB_KEY_SIZE) == 0) {
                memcpy(r.author, alice, NB_KEY_SIZE);
            }
            break;
        case 3:
            target = some(h, NB_KIND_RESPONSE);
            r = record(NB_KIND_WITHDRAWAL, usually(author_of(h, target)), t, target);
            break;
        case 4:
        case 5:
            target = some(h, NB_KIND_RESPONSE);
            r = assignment(h, usually(owner), author_of(h, target), t, below(2) == 0);
            break;
        case 6:
            target = below(2) == 0 && !offer ? h->root_id : some(h, NB_KIND_ASSIGNMENT);
            r = record(NB_KIND_DONE_CLAIM, offer ? usually(owner) : anyone(), t, target);
            break;
        case 7:
            target = below(2) == 0 && !offer ? h->root_id : some(h, NB_KIND_ASSIGNMENT);
            r = with_note(
                record(NB_KIND_CONFIRMATION, offer ? anyone() : usually(owner), t, target),
                thanks_notes[below(2)]);
            break;
        case 8:
            /* Rarely the end of it all: about one history in two ends so. */
            if (below(length) >= 5) {
                r = record(NB_KIND_RESPONSE, anyone(), t, h->root_id);
                break;
            }
            r = record(offer ? NB_KIND_WITHDRAWAL : NB_KIND_CANCELLATION, usually(owner), t,
                       h->root_id);
            break;
        case 9:
            if (below(length) < 2) {
                r = record(NB_KIND_RETRACTION, usually(owner), t, h->root_id);
            } else {
                /* Mostly responses, sometimes any other lifecycle record. */
                static const uint8_t kinds[] = {
                    NB_KIND_RESPONSE,     NB_KIND_RESPONSE,   NB_KIND_WITHDRAWAL,
                    NB_KIND_ASSIGNMENT,   NB_KIND_DONE_CLAIM, NB_KIND_CONFIRMATION,
                    NB_KIND_CANCELLATION, NB_KIND_PAUSE,      NB_KIND_RETRACTION,
                };
                target = some(h, kinds[below(sizeof(kinds))]);
                r = record(NB_KIND_RETRACTION, usually(author_of(h, target)), t, target);
                if (target == h->root_id) {
                    r = record(NB_KIND_RESPONSE, anyone(), t, h->root_id);
                }
            }
            break;
        case 10:
            /* A record about something else entirely. */
            r = record(NB_KIND_DONE_CLAIM, anyone(), t, h->ids[0]);
            r.target[0] ^= 0xff;
            break;
        default:
            r = pause_record(h, usually(owner), t, below(2) == 0);
            break;
        }
        hold(h, r);
    }
}

/* What must hold of every derived state, whatever the history. */
static void assert_consistent(const struct nb_state *st)
{
    bool req = st->kind == NB_KIND_REQUEST;

    if (st->status == NB_STATUS_RETRACTED) {
        assert_int_equal(st->n_responses, 0);
        return;
    }
    for (size_t i = 0; i < st->n_responses; i++) {
        const struct nb_state_response *r = &st->responses[i];
        bool is_assignee = st->has_assignee && st->assignee_response == i;
        /* Listed in (created_at, id) order. */
        if (i > 0) {
            const struct nb_state_response *p = &st->responses[i - 1];
            assert_true(p->created_at < r->created_at ||
                        (p->created_at == r->created_at && memcmp(p->id, r->id, NB_ID_SIZE) < 0));
        }
        /* One live response (request) or ask (offer) per member. */
        for (size_t j = 0; j < i; j++) {
            const struct nb_state_response *o = &st->responses[j];
            bool live_r = req ? r->status != NB_RESPONSE_WITHDRAWN
                              : r->status != NB_RESPONSE_WITHDRAWN && r->status != NB_RESPONSE_DONE;
            bool live_o = req ? o->status != NB_RESPONSE_WITHDRAWN
                              : o->status != NB_RESPONSE_WITHDRAWN && o->status != NB_RESPONSE_DONE;
            if (live_r && live_o) {
                assert_memory_not_equal(r->author, o->author, NB_KEY_SIZE);
            }
        }
        assert_memory_not_equal(r->author, st->author, NB_KEY_SIZE);
        /* The chain matches the status. */
        assert_int_equal(r->assignment.present, r->status == NB_RESPONSE_ASSIGNED ||
                                                    r->status == NB_RESPONSE_DONE_CLAIMED ||
                                                    r->status == NB_RESPONSE_DONE);
        assert_int_equal(r->done_claim.present,
                         r->status == NB_RESPONSE_DONE_CLAIMED || r->status == NB_RESPONSE_DONE);
        assert_int_equal(r->confirmation.present, r->status == NB_RESPONSE_DONE);
        assert_int_equal(r->withdrawal.present, r->status == NB_RESPONSE_WITHDRAWN);
        if (req) {
            assert_int_equal(is_assignee, r->assignment.present);
            if (!is_assignee && r->status != NB_RESPONSE_WITHDRAWN) {
                assert_int_equal(r->status,
                                 st->has_assignee ? NB_RESPONSE_DECLINED : NB_RESPONSE_PENDING);
            }
        } else {
            assert_int_not_equal(r->status, NB_RESPONSE_DECLINED);
        }
    }
    if (!req) {
        assert_false(st->has_assignee);
        if (st->status == NB_STATUS_PAUSED) {
            assert_true(st->paused);
        }
        if (st->status == NB_STATUS_AVAILABLE) {
            assert_false(st->paused);
        }
        if (st->paused) {
            assert_true(st->pause.present);
        }
        return;
    }
    switch (st->status) {
    case NB_STATUS_OPEN:
        assert_false(st->has_assignee);
        break;
    case NB_STATUS_ASSIGNED:
    case NB_STATUS_DONE_CLAIMED:
    case NB_STATUS_DONE:
        assert_true(st->has_assignee);
        assert_memory_equal(st->responses[st->assignee_response].author, st->assignee, NB_KEY_SIZE);
        assert_int_equal(st->responses[st->assignee_response].status,
                         st->status == NB_STATUS_ASSIGNED       ? NB_RESPONSE_ASSIGNED
                         : st->status == NB_STATUS_DONE_CLAIMED ? NB_RESPONSE_DONE_CLAIMED
                                                                : NB_RESPONSE_DONE);
        assert_int_equal(st->done_claim.present, st->status != NB_STATUS_ASSIGNED);
        assert_int_equal(st->confirmation.present, st->status == NB_STATUS_DONE);
        break;
    case NB_STATUS_CANCELLED:
        assert_true(st->cancellation.present);
        break;
    case NB_STATUS_EXPIRED:
        break;
    default:
        fail_msg("a request in status %s", nb_status_name(st->status));
    }
}

static void derive_in_order(const struct history *h, const size_t *order, size_t n, uint64_t now,
                            struct buf *out)
{
    static struct nb_record recs[MAX_RECORDS + 8];
    static uint8_t ids[MAX_RECORDS + 8][NB_ID_SIZE];
    struct nb_state st;

    for (size_t i = 0; i < n; i++) {
        recs[i] = h->recs[order[i]];
        memcpy(ids[i], h->ids[order[i]], NB_ID_SIZE);
    }
    assert_int_equal(
        nb_state_derive(&h->root, h->root_id, recs, (const uint8_t(*)[NB_ID_SIZE])ids, n, now, &st),
        0);
    serialise(&st, out);
    nb_state_free(&st);
}

static uint64_t test_seed(void)
{
    const char *env = getenv("NOABER_STATE_SEED");
    return env != NULL ? strtoull(env, NULL, 0) : 0x6e6f61626572ULL; /* "noaber" */
}

/*
 * Shuffles the first n entries of `order` (the p-th order tried); every few
 * orders a node also holds a duplicate copy of one record, appended.
 * Returns how many entries to derive from.
 */
static size_t another_order(size_t *order, size_t n, unsigned p)
{
    for (size_t i = n; i > 1; i--) {
        size_t j = below(i);
        size_t tmp = order[i - 1];
        order[i - 1] = order[j];
        order[j] = tmp;
    }
    if (p % 4 == 3) {
        order[n] = order[below(n)];
        return n + 1;
    }
    return n;
}

static void every_order_of_a_history_gives_the_same_state(void **state)
{
    (void)state;
    static struct history h;
    static struct buf first;
    static struct buf other;
    size_t order[MAX_RECORDS + 8];
    uint64_t seed = test_seed();
    unsigned seen_status[NB_STATUS_COUNT_] = { 0 };
    size_t most_responses = 0;

    rng_state = seed;
    for (unsigned round = 0; round < 150; round++) {
        size_t length = 20 + below(100);
        random_history(&h, length);
        uint64_t now = T0 + length / 2 + below(length);

        for (size_t i = 0; i < h.n; i++) {
            order[i] = i;
        }
        derive_in_order(&h, order, h.n, now, &first);

        for (unsigned p = 0; p < 200; p++) {
            size_t n = another_order(order, h.n, p);
            derive_in_order(&h, order, n, now, &other);
            if (other.len != first.len || memcmp(other.bytes, first.bytes, first.len) != 0) {
                fail_msg("seed 0x%llx (NOABER_STATE_SEED), round %u, order %u: a different "
                         "order of the same records gave a different state",
                         (unsigned long long)seed, round, p);
            }
        }

        struct nb_state st;
        derive(&h, now, &st);
        assert_consistent(&st);
        seen_status[st.status]++;
        if (st.n_responses > most_responses) {
            most_responses = st.n_responses;
        }
        nb_state_free(&st);
    }

    /* The histories must reach the interesting states, or this test would
     * prove nothing about them. */
    unsigned distinct = 0;
    for (unsigned i = 0; i < NB_STATUS_COUNT_; i++) {
        distinct += seen_status[i] > 0;
    }
    print_message("seed 0x%llx: %u distinct end states, up to %zu responses\n",
                  (unsigned long long)seed, distinct, most_responses);
    for (unsigned i = 0; i < NB_STATUS_COUNT_; i++) {
        print_message("  %-12s %u\n", nb_status_name(i), seen_status[i]);
    }
    assert_true(distinct >= 8);
    assert_true(most_responses >= 5);
}

/* The id of one of the cast who did not sign the record `id` (or the root). */
static const uint8_t *not_the_author_of(const struct history *h, const uint8_t *id)
{
    const uint8_t *author = author_of(h, id);
    for (;;) {
        const uint8_t *m = anyone();
        if (memcmp(m, author, NB_KEY_SIZE) != 0) {
            return m;
        }
    }
}

/* Whether `r` is a retraction of a record in the set (or of the root) by
 * someone other than that record's author: what a node deletes as soon as
 * it holds both. */
static bool is_hostile(const struct history *h, const struct nb_record *r)
{
    if (r->kind != NB_KIND_RETRACTION) {
        return false;
    }
    if (memcmp(r->target, h->root_id, NB_ID_SIZE) == 0) {
        return memcmp(r->author, h->root.author, NB_KEY_SIZE) != 0;
    }
    for (size_t i = 0; i < h->n; i++) {
        if (memcmp(h->ids[i], r->target, NB_ID_SIZE) == 0) {
            return memcmp(h->recs[i].author, r->author, NB_KEY_SIZE) != 0;
        }
    }
    return false;
}

/*
 * Members who retract what others signed, dated before their targets (as a
 * retraction that reaches a node first would be) and after them, of the
 * root and of records above it.  Nodes delete such a retraction as soon as
 * they hold its target, so whether a node still holds one (its target not
 * arrived yet, or in any order it arrived) must not change the state: every
 * order of the hostile set derives what the set without them derives.
 */
static void hostile_retractions_change_nothing_in_any_order(void **state)
{
    (void)state;
    static struct history h, clean;
    static struct buf expected, other;
    size_t order[MAX_RECORDS + 8];
    uint64_t seed = test_seed() ^ 0x686f7374696c65ULL; /* "hostile" */
    unsigned histories = 0, orders = 0, hostile = 0, retracted_roots = 0;

    rng_state = seed;
    for (unsigned round = 0; round < 150; round++) {
        size_t length = 20 + below(80);
        random_history(&h, length);
        size_t honest = h.n;
        /* One hostile retraction for every few records. */
        size_t n_hostile = 1 + below(length / 4);
        for (size_t k = 0; k < n_hostile && h.n < MAX_RECORDS; k++) {
            bool of_root = below(3) == 0;
            size_t pick = below(honest);
            const uint8_t *target = of_root ? h.root_id : h.ids[pick];
            uint64_t target_at = of_root ? h.root.created_at : h.recs[pick].created_at;
            /* Before its target (down to the root's time) or after it. */
            uint64_t at =
                below(2) == 0 ? target_at - below(target_at - T0 + 1) : target_at + below(length);
            hold(&h, record(NB_KIND_RETRACTION, not_the_author_of(&h, target), at, target));
        }
        uint64_t now = T0 + length / 2 + below(length);

        /* The same history without any retraction by a non-author (the
         * random history has a few of its own). */
        clean = h;
        clean.n = 0;
        for (size_t i = 0; i < h.n; i++) {
            if (!is_hostile(&h, &h.recs[i])) {
                clean.recs[clean.n] = h.recs[i];
                memcpy(clean.ids[clean.n], h.ids[i], NB_ID_SIZE);
                clean.n++;
            } else {
                hostile++;
            }
        }
        for (size_t i = 0; i < clean.n; i++) {
            order[i] = i;
        }
        derive_in_order(&clean, order, clean.n, now, &expected);

        for (size_t i = 0; i < h.n; i++) {
            order[i] = i;
        }
        for (unsigned p = 0; p < 100; p++) {
            size_t n = another_order(order, h.n, p);
            derive_in_order(&h, order, n, now, &other);
            if (other.len != expected.len || memcmp(other.bytes, expected.bytes, other.len) != 0) {
                fail_msg("seed 0x%llx, round %u, order %u: retractions by members who did not "
                         "sign their targets changed the state",
                         (unsigned long long)seed, round, p);
            }
            orders++;
        }
        struct nb_state st;
        derive(&clean, now, &st);
        retracted_roots += st.status == NB_STATUS_RETRACTED;
        nb_state_free(&st);
        histories++;
    }
    print_message("%u hostile histories x 100 orders = %u folds; %u hostile retractions; %u "
                  "histories whose root its author retracted\n",
                  histories, orders, hostile, retracted_roots);
    /* Hostile retractions must have met real ones, or the test would not
     * show that they cannot stand in for them. */
    assert_true(hostile >= 150);
    assert_true(retracted_roots >= 1);
}

static const char *const kind_names[] = {
    "record",     "request",    "offer",        "response",     "withdrawal",
    "assignment", "done claim", "confirmation", "cancellation", "retraction",
    "profile",    "vouch",      "message",      "pause",
};

/*
 * What a node accepts from its own client is exactly what the fold then
 * honours: for a record dated after everything in the set, nb_state_check()
 * says 0 if and only if deriving with the record applies it.
 */
static void the_node_accepts_exactly_what_the_fold_applies(void **state)
{
    (void)state;
    static struct history h;
    uint64_t seed = test_seed() + 1;
    static struct buf ser_before;
    static struct buf ser_after;
    unsigned accepted = 0;
    unsigned refusals = 0;

    rng_state = seed;
    for (unsigned round = 0; round < 1000; round++) {
        random_history(&h, 10 + below(60));
        h.root.expires_at = T0 + 90 * DAY;
        uint64_t last = h.recs[h.n - 1].created_at;
        h.n--; /* the last record becomes the candidate, re-dated after the rest */
        struct nb_record c = h.recs[h.n];
        c.created_at = last + 1;

        struct nb_state before;
        struct nb_state after;
        const char *reason = NULL;
        derive(&h, last + 1, &before);
        int err = nb_state_check(&before, &c, last + 1, &reason);
        hold(&h, c);
        derive(&h, last + 1, &after);
        assert_consistent(&after);

        bool applied =
            after.n_applied == before.n_applied + 1 && after.n_ignored == before.n_ignored;
        bool comparable = true;
        if (c.kind == NB_KIND_RETRACTION && memcmp(c.target, h.root_id, NB_ID_SIZE) == 0) {
            applied = after.status == NB_STATUS_RETRACTED && before.status != NB_STATUS_RETRACTED;
        } else if (c.kind == NB_KIND_RETRACTION) {
            /* A retraction removes its target rather than adding a step:
             * accepted, it must change the state; refused for the wrong
             * author, it must not.  The node also refuses retractions that
             * the fold would honour (of records finished help rests on, of
             * records the state does not name), so those are not compared. */
            serialise(&before, &ser_before);
            serialise(&after, &ser_after);
            applied = ser_before.len != ser_after.len ||
                      memcmp(ser_before.bytes, ser_after.bytes, ser_before.len) != 0;
            comparable = err == 0 || err == NB_EPERM || err == NB_EINVAL;
        }
        if (comparable && applied != (err == 0)) {
            fail_msg("seed 0x%llx, round %u: check said %s (%s) but the fold %s a %s",
                     (unsigned long long)seed, round, nb_error_name(err),
                     reason ? reason : "accepted", applied ? "applied" : "ignored",
                     kind_names[c.kind < 14 ? c.kind : 0]);
        }
        if (err == 0) {
            accepted++;
            assert_null(reason);
        } else {
            refusals++;
            assert_non_null(reason);
            if (getenv("NOABER_STATE_VERBOSE") != NULL) {
                print_message("%s\n", reason);
            }
        }
        nb_state_free(&before);
        nb_state_free(&after);
    }
    print_message("seed 0x%llx: %u accepted, %u refused\n", (unsigned long long)seed, accepted,
                  refusals);
    assert_true(accepted > 100);
    assert_true(refusals > 100);
}

static void bad_arguments_are_refused(void **state)
{
    (void)state;
    struct history h;
    struct nb_state st;
    memset(&st, 0x5a, sizeof(st));

    post(&h, NB_KIND_REQUEST, alice, T0, T0 + DAY);
    h.root.kind = NB_KIND_RESPONSE;
    assert_int_equal(nb_state_derive(&h.root, h.root_id, NULL, NULL, 0, T0, &st), NB_EINVAL);
    h.root.kind = NB_KIND_REQUEST;
    assert_int_equal(nb_state_derive(&h.root, h.root_id, NULL, NULL, 1, T0, &st), NB_EINVAL);
    /* Nothing written on failure. */
    assert_int_equal(st.kind, 0x5a);

    assert_int_equal(nb_state_derive(&h.root, h.root_id, NULL, NULL, 0, T0, &st), 0);
    assert_int_equal(st.status, NB_STATUS_OPEN);
    assert_null(st.responses);
    nb_state_free(&st);
    nb_state_free(NULL);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(status_names_round_trip),
        cmocka_unit_test(alice_gets_help_from_bob),
        cmocka_unit_test(done_claim_and_confirmation_may_name_the_assignment),
        cmocka_unit_test(bob_steps_back_and_the_request_reopens),
        cmocka_unit_test(carol_withdraws_without_changing_the_assignment),
        cmocka_unit_test(alice_reassigns_until_the_helper_claims_done),
        cmocka_unit_test(alice_cancels),
        cmocka_unit_test(nothing_moves_a_confirmed_request),
        cmocka_unit_test(every_refusal_says_why),
        cmocka_unit_test(a_peer_may_be_refused_only_what_no_order_allows),
        cmocka_unit_test(records_count_in_time_order_not_arrival_order),
        cmocka_unit_test(same_second_ties_are_broken_by_id),
        cmocka_unit_test(a_response_and_its_assignment_in_one_second),
        cmocka_unit_test(expiry_starts_at_expires_at),
        cmocka_unit_test(authors_retract),
        cmocka_unit_test(alice_takes_back_what_she_posted),
        cmocka_unit_test(a_retracted_record_takes_what_rests_on_it_along),
        cmocka_unit_test(olga_gives_dave_a_lift),
        cmocka_unit_test(olga_pauses_resumes_and_withdraws),
        cmocka_unit_test(offer_refusals),
        cmocka_unit_test(dave_withdraws_his_ask_after_olga_accepted),
        cmocka_unit_test(signed_records_from_the_wire),
        cmocka_unit_test(every_order_of_a_history_gives_the_same_state),
        cmocka_unit_test(hostile_retractions_change_nothing_in_any_order),
        cmocka_unit_test(the_node_accepts_exactly_what_the_fold_applies),
        cmocka_unit_test(bad_arguments_are_refused),
    };
    return cmocka_run_group_tests(tests, setup_members, NULL);
}
