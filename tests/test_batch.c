/*
 * Group commit (daemon/node.h): records accepted inside a batch are stored
 * with one commit at its end, and nothing about them leaves the node before
 * that commit.
 *
 * Ann asks for help and Bob responds in the same batch (as when both arrive
 * in one read from a peer); a second connection to the same store file
 * plays the part of what survives a crash: what it cannot see is not
 * durable yet.
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include <noaber/error.h>
#include <noaber/identity.h>
#include <noaber/record.h>

#include "daemon/node.h"
#include "daemon/store/store.h"
#include "tests/fixture.h"

struct world {
    char dir[64];
    char path[128];
    struct nbd_store *store;
    struct nbd_store *outside; /* a second connection: sees only commits */
    struct nbd_node node;
    struct member ann, bob;
    size_t announced;       /* hook calls */
    size_t visible_at_hook; /* of them, records the second connection saw */
    const void *hook_link;  /* the origin's link in the last hook call */
};

static void on_accept(void *ctx, const uint8_t id[NB_ID_SIZE], const uint8_t *bytes, size_t len,
                      const struct nb_record *rec, const struct nbd_origin *origin)
{
    struct world *w = ctx;
    (void)len;
    w->announced++;
    if (nbd_store_has(w->outside, id) == 1)
        w->visible_at_hook++;
    w->hook_link = origin->link;
    /* The decoded record the node checked is the one handed over: it
     * points into the bytes the hook gets, which outlive the caller's. */
    assert_true(rec->kind == NB_KIND_REQUEST || rec->kind == NB_KIND_RESPONSE);
    if (rec->kind == NB_KIND_REQUEST)
        assert_true((const uint8_t *)rec->title.ptr > bytes &&
                    (const uint8_t *)rec->title.ptr < bytes + len);
}

static int setup(void **state)
{
    struct world *w = calloc(1, sizeof(*w));
    char err[1024] = "";
    struct nbd_verdict v;
    assert_non_null(w);
    assert_int_equal(nb_init(), 0);
    tmpdir_make(w->dir, sizeof(w->dir), "batch");
    snprintf(w->path, sizeof(w->path), "%s/store.sqlite", w->dir);
    member(&w->ann, 'a');
    member(&w->bob, 'b');
    if (nbd_store_open(w->path, &w->store, err, sizeof(err)) != 0)
        fail_msg("%s", err);
    if (nbd_store_open(w->path, &w->outside, err, sizeof(err)) != 0)
        fail_msg("%s", err);
    assert_int_equal(nbd_node_init(&w->node, w->store, 24 * 3600), 0);
    assert_int_equal(nbd_node_add_hook(&w->node, on_accept, w), 0);
    assert_int_equal(nbd_node_create_neighbourhood(&w->node, "Marollen", 8, &v), 0);
    *state = w;
    return 0;
}

static int teardown(void **state)
{
    struct world *w = *state;
    nbd_node_clear(&w->node);
    nbd_store_close(w->store);
    nbd_store_close(w->outside);
    tmpdir_remove(w->dir);
    free(w);
    return 0;
}

static void request(struct world *w, const struct member *m, uint64_t created_at, const char *title,
                    struct blob *out)
{
    make_request(m, w->node.neighbourhood_id, created_at, created_at + 7 * 24 * 3600, title, out);
}

static void response(struct world *w, const struct member *m, uint64_t created_at,
                     const uint8_t target[NB_ID_SIZE], struct blob *out)
{
    make_acting(m, w->node.neighbourhood_id, NB_KIND_RESPONSE, created_at, target, NULL, out);
}

static enum nbd_accept_verdict accept(struct world *w, const struct blob *b,
                                      struct nbd_origin origin, struct nbd_accept_report *v)
{
    return nbd_node_accept(&w->node, b->bytes, b->len, b->id, T0, origin, v);
}

/* Bob's response is checked against Ann's request from the same batch, and
 * neither is visible outside nor announced until the batch ends. */
static void test_batch_commits_once_at_the_end(void **state)
{
    struct world *w = *state;
    struct blob req, resp;
    struct nbd_accept_report v;
    request(w, &w->ann, T0 - 60, "Groceries on Saturday", &req);
    response(w, &w->bob, T0 - 30, req.id, &resp);

    nbd_node_batch_begin(&w->node);
    assert_int_equal(accept(w, &req, NBD_FROM_CLIENT, &v), NBD_ACCEPTED);
    assert_int_equal(accept(w, &resp, NBD_FROM_CLIENT, &v), NBD_ACCEPTED);
    /* The same bytes again within the batch are acknowledged once more,
     * not stored twice. */
    assert_int_equal(accept(w, &req, NBD_FROM_CLIENT, &v), NBD_ACCEPTED);
    assert_int_equal(nbd_store_has(w->store, resp.id), 1);
    assert_int_equal(nbd_store_has(w->outside, req.id), 0);
    assert_int_equal(nbd_store_has(w->outside, resp.id), 0);
    assert_int_equal(w->announced, 0);

    assert_int_equal(nbd_node_batch_end(&w->node), 0);
    assert_int_equal(nbd_store_has(w->outside, req.id), 1);
    assert_int_equal(nbd_store_has(w->outside, resp.id), 1);
    assert_int_equal(w->announced, 2);
    assert_int_equal(w->visible_at_hook, 2);
}

/* A record refused inside a batch leaves the others in it alone. */
static void test_refusal_inside_a_batch(void **state)
{
    struct world *w = *state;
    struct blob req, orphan, other;
    uint8_t nowhere[NB_ID_SIZE];
    struct nbd_accept_report v;
    memset(nowhere, 0x5a, sizeof(nowhere));
    request(w, &w->ann, T0 - 60, "Groceries on Saturday", &req);
    response(w, &w->bob, T0 - 30, nowhere, &orphan);
    request(w, &w->bob, T0 - 20, "A lift to the market", &other);

    nbd_node_batch_begin(&w->node);
    assert_int_equal(accept(w, &req, NBD_FROM_CLIENT, &v), NBD_ACCEPTED);
    assert_int_equal(accept(w, &orphan, NBD_FROM_CLIENT, &v), NBD_NOT_FOUND);
    assert_string_equal(nbd_accept_error(NBD_NOT_FOUND), "not_found");
    assert_memory_equal(v.target, nowhere, NB_ID_SIZE); /* what it waits for */
    assert_int_equal(accept(w, &other, NBD_FROM_CLIENT, &v), NBD_ACCEPTED);
    assert_int_equal(nbd_node_batch_end(&w->node), 0);

    assert_int_equal(nbd_store_has(w->outside, req.id), 1);
    assert_int_equal(nbd_store_has(w->outside, orphan.id), 0);
    assert_int_equal(nbd_store_has(w->outside, other.id), 1);
    assert_int_equal(w->announced, 2);
}

/* Outside a batch a record is durable when nbd_node_accept returns, and the
 * hooks learn where it came from even when they run at a batch's end. */
static void test_unbatched_and_source(void **state)
{
    struct world *w = *state;
    struct blob req, other;
    struct nbd_accept_report v;
    int link = 0;
    request(w, &w->ann, T0 - 60, "Groceries on Saturday", &req);
    request(w, &w->bob, T0 - 20, "A lift to the market", &other);

    assert_int_equal(accept(w, &req, NBD_FROM_CLIENT, &v), NBD_ACCEPTED);
    assert_int_equal(nbd_store_has(w->outside, req.id), 1);
    assert_int_equal(w->announced, 1);
    assert_null(w->hook_link);

    nbd_node_batch_begin(&w->node);
    nbd_node_batch_begin(&w->node); /* batches nest */
    /* The caller's bytes are gone before the batch ends. */
    struct blob *copy = malloc(sizeof(*copy));
    assert_non_null(copy);
    *copy = other;
    assert_int_equal(accept(w, copy, NBD_FROM_PEER(&link), &v), NBD_ACCEPTED);
    memset(copy, 0, sizeof(*copy));
    free(copy);
    assert_int_equal(nbd_node_batch_end(&w->node), 0);
    assert_int_equal(nbd_store_has(w->outside, other.id), 0);
    assert_int_equal(nbd_node_batch_end(&w->node), 0);
    assert_int_equal(nbd_store_has(w->outside, other.id), 1);
    assert_int_equal(w->announced, 2);
    assert_ptr_equal(w->hook_link, &link);
}

/* nbd_node_flush commits early: what a peer is about to be told about is
 * durable first. */
static void test_flush(void **state)
{
    struct world *w = *state;
    struct blob req;
    struct nbd_accept_report v;
    request(w, &w->ann, T0 - 60, "Groceries on Saturday", &req);

    nbd_node_batch_begin(&w->node);
    assert_int_equal(accept(w, &req, NBD_FROM_PEER(NULL), &v), NBD_ACCEPTED);
    assert_int_equal(nbd_node_flush(&w->node), 0);
    assert_int_equal(nbd_store_has(w->outside, req.id), 1);
    assert_int_equal(w->announced, 1);
    assert_int_equal(nbd_node_batch_end(&w->node), 0);
    assert_int_equal(w->announced, 1);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_batch_commits_once_at_the_end, setup, teardown),
        cmocka_unit_test_setup_teardown(test_refusal_inside_a_batch, setup, teardown),
        cmocka_unit_test_setup_teardown(test_unbatched_and_source, setup, teardown),
        cmocka_unit_test_setup_teardown(test_flush, setup, teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
