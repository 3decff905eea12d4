/*
 * Signature checks on worker threads (daemon/verify.c): a batch checked by
 * the caller alone and with workers gives every record the same answer as
 * libnoaber's own nb_record_verify, in the records' order, for batches
 * smaller and larger than what is shared out; jobs handed to the workers
 * wake the loop when they are done, and waiting for a later job leaves
 * none unchecked.
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include <noaber/record.h>

#include "daemon/verify.h"
#include "tests/fixture.h"

#define N 300

static const uint8_t nid[NB_NEIGHBOURHOOD_ID_SIZE] = { 7, 7, 7 };
static const uint8_t other_nid[NB_NEIGHBOURHOOD_ID_SIZE] = { 8, 8, 8 };

/* N requests by Ann: every 7th with one signature byte flipped, every 11th
 * signed for another neighbourhood, every 13th cut short (does not
 * decode). */
static struct blob *make_batch(void)
{
    struct blob *b = calloc(N, sizeof(*b));
    assert_non_null(b);
    struct member ann;
    member(&ann, 'a');
    for (size_t i = 0; i < N; i++) {
        char title[32];
        snprintf(title, sizeof(title), "Groceries %zu", i);
        make_request(&ann, i % 11 == 5 ? other_nid : nid, T0 + i, T0 + 3600, title, &b[i]);
        if (i % 7 == 3)
            b[i].bytes[b[i].len - 1] ^= 0x40;
        if (i % 13 == 6)
            b[i].len -= 10;
    }
    return b;
}

static void check(unsigned workers, size_t n)
{
    struct blob *b = make_batch();
    struct nbd_verifier *v = NULL;
    assert_int_equal(nbd_verifier_new(NULL, workers, NULL, NULL, &v), 0);
    struct nbd_verify_item items[N];
    /* Twice, so the workers sleep and wake between batches. */
    for (int round = 0; round < 2; round++) {
        for (size_t i = 0; i < n; i++)
            items[i] =
                (struct nbd_verify_item){ .bytes = b[i].bytes, .len = b[i].len, .ok = round == 0 };
        nbd_verify_batch(v, nid, items, n);
        size_t good = 0;
        for (size_t i = 0; i < n; i++) {
            bool expect = nb_record_verify(b[i].bytes, b[i].len, nid) == 0;
            assert_int_equal(items[i].ok, expect);
            good += expect;
        }
        if (n == N)
            assert_true(good > N / 2 && good < N);
    }
    nbd_verifier_free(v);
    free(b);
}

static void test_the_caller_alone(void **state)
{
    (void)state;
    check(0, N);
}

static void test_three_workers_share_a_large_batch(void **state)
{
    (void)state;
    check(3, N);
}

static void test_a_small_batch_stays_with_the_caller(void **state)
{
    (void)state;
    check(3, 5);
}

static void test_without_a_verifier_the_caller_checks(void **state)
{
    (void)state;
    struct blob *b = make_batch();
    struct nbd_verify_item items[20];
    for (size_t i = 0; i < 20; i++)
        items[i] = (struct nbd_verify_item){ .bytes = b[i].bytes, .len = b[i].len };
    nbd_verify_batch(NULL, nid, items, 20);
    for (size_t i = 0; i < 20; i++)
        assert_int_equal(items[i].ok, nb_record_verify(b[i].bytes, b[i].len, nid) == 0);
    free(b);
}

struct wakeups {
    struct nbd_verifier *v;
    struct nbd_verify_job *jobs;
    size_t n;
    unsigned calls;
};

/* The loop runs until every job is finished: a job finishing after this
 * call wakes it again. */
static void on_finished(void *ctx)
{
    struct wakeups *w = ctx;
    w->calls++;
    for (size_t i = 0; i < w->n; i++)
        if (!nbd_verify_finished(w->v, &w->jobs[i]))
            return;
    uv_stop(uv_default_loop());
}

static void check_jobs(const struct blob *b, const struct nbd_verify_item *items, size_t n)
{
    for (size_t i = 0; i < n; i++)
        assert_int_equal(items[i].ok, nb_record_verify(b[i].bytes, b[i].len, nid) == 0);
}

/* Ten jobs of 30 records handed over at once: the loop is woken, and by
 * the time the last is finished all are, each record with its answer. */
static void submitted_jobs_wake_the_loop(unsigned workers)
{
    struct blob *b = make_batch();
    uv_loop_t *loop = uv_default_loop();
    struct wakeups w = { 0 };
    struct nbd_verify_job jobs[10];
    struct nbd_verify_item items[N];
    w.jobs = jobs;
    w.n = 10;
    assert_int_equal(nbd_verifier_new(loop, workers, on_finished, &w, &w.v), 0);
    for (size_t i = 0; i < N; i++)
        items[i] = (struct nbd_verify_item){ .bytes = b[i].bytes, .len = b[i].len, .ok = true };
    for (size_t j = 0; j < 10; j++) {
        jobs[j] =
            (struct nbd_verify_job){ .neighbourhood_id = nid, .items = items + 30 * j, .n = 30 };
        nbd_verify_submit(w.v, &jobs[j]);
    }
    uv_run(loop, UV_RUN_DEFAULT);
    assert_true(w.calls >= 1);
    check_jobs(b, items, N);

    /* Waiting for each in turn, as the loop does before a message that
     * depends on them, returns with it checked (the waiting thread helps
     * with the oldest jobs meanwhile). */
    for (size_t i = 0; i < N; i++)
        items[i].ok = !items[i].ok;
    for (size_t j = 0; j < 10; j++)
        nbd_verify_submit(w.v, &jobs[j]);
    for (size_t j = 0; j < 10; j++) {
        nbd_verify_wait(w.v, &jobs[j]);
        assert_true(nbd_verify_finished(w.v, &jobs[j]));
    }
    check_jobs(b, items, N);

    nbd_verifier_free(w.v);
    uv_run(loop, UV_RUN_DEFAULT); /* closes the wake-up handle */
    assert_int_equal(uv_loop_alive(loop), 0);
    free(b);
}

static void test_jobs_handed_to_two_workers_wake_the_loop(void **state)
{
    (void)state;
    submitted_jobs_wake_the_loop(2);
}

static void test_jobs_without_workers_wake_the_loop_too(void **state)
{
    (void)state;
    submitted_jobs_wake_the_loop(0);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_the_caller_alone),
        cmocka_unit_test(test_three_workers_share_a_large_batch),
        cmocka_unit_test(test_a_small_batch_stays_with_the_caller),
        cmocka_unit_test(test_without_a_verifier_the_caller_checks),
        cmocka_unit_test(test_jobs_handed_to_two_workers_wake_the_loop),
        cmocka_unit_test(test_jobs_without_workers_wake_the_loop_too),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
