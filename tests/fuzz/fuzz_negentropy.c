/*
 * What a hostile peer can send during set reconciliation: arbitrary bytes
 * as a Negentropy message, to a responder and to an initiator that both hold
 * a small storage (40 records, several sharing a timestamp so id-prefix
 * bounds occur).
 *
 * Invariants checked beyond "no crash, no leak":
 *   - a limited responder's reply never exceeds its frame size limit;
 *   - every reply starts with the version byte, and a reply to a version-1
 *     message decodes cleanly for an initiator holding the same storage
 *     (we never emit something we would ourselves reject);
 *   - an initiator reports as "have" only ids it holds;
 *   - on error, have/need are left as they were.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <noaber/error.h>
#include <noaber/negentropy.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define ITEMS 40

static struct nb_negentropy_storage storage;

static void build_storage(void)
{
    static bool built;
    if (built) {
        return;
    }
    nb_negentropy_storage_init(&storage);
    for (int i = 0; i < ITEMS; i++) {
        uint8_t id[NB_NEGENTROPY_ID_SIZE];
        for (int k = 0; k < NB_NEGENTROPY_ID_SIZE; k++) {
            id[k] = (uint8_t)(i * 37 + k * 11);
        }
        /* Every third record shares its timestamp with the next two. */
        if (nb_negentropy_storage_add(&storage, 1000 + (uint64_t)i / 3, id) != NB_OK) {
            abort();
        }
    }
    if (nb_negentropy_storage_seal(&storage) != NB_OK) {
        abort();
    }
    built = true;
}

static bool held(const uint8_t *id)
{
    for (size_t i = 0; i < storage.count; i++) {
        if (memcmp(storage.items[i].id, id, NB_NEGENTROPY_ID_SIZE) == 0) {
            return true;
        }
    }
    return false;
}

/* Feeds a reply we produced to a fresh initiator: it must decode. */
static void check_reply_decodes(const uint8_t *reply, size_t len)
{
    struct nb_negentropy alice;
    uint8_t *first, *out = NULL;
    size_t first_len, out_len;
    struct nb_negentropy_ids have = { 0 }, need = { 0 };

    if (nb_negentropy_init(&alice, &storage, 0) != NB_OK ||
        nb_negentropy_initiate(&alice, &first, &first_len) != NB_OK) {
        abort();
    }
    free(first);
    int r = nb_negentropy_reconcile(&alice, reply, len, &out, &out_len, &have, &need);
    if (r != NB_OK) {
        abort();
    }
    free(out);
    nb_negentropy_ids_free(&have);
    nb_negentropy_ids_free(&need);
}

static void as_responder(const uint8_t *data, size_t size, uint64_t limit)
{
    struct nb_negentropy bob;
    uint8_t *reply;
    size_t len;

    if (nb_negentropy_init(&bob, &storage, limit) != NB_OK) {
        abort();
    }
    if (nb_negentropy_reconcile(&bob, data, size, &reply, &len, NULL, NULL) != NB_OK) {
        return;
    }
    if (reply == NULL || len < 1 || reply[0] != NB_NEGENTROPY_PROTOCOL_VERSION) {
        abort();
    }
    if (limit != 0 && len > limit) {
        abort();
    }
    if (data[0] == NB_NEGENTROPY_PROTOCOL_VERSION) {
        check_reply_decodes(reply, len);
    }
    free(reply);
}

static void as_initiator(const uint8_t *data, size_t size)
{
    struct nb_negentropy alice;
    uint8_t *first, *out = NULL;
    size_t first_len, out_len = 0;
    struct nb_negentropy_ids have = { 0 }, need = { 0 };

    if (nb_negentropy_init(&alice, &storage, 4096) != NB_OK ||
        nb_negentropy_initiate(&alice, &first, &first_len) != NB_OK) {
        abort();
    }
    free(first);
    int r = nb_negentropy_reconcile(&alice, data, size, &out, &out_len, &have, &need);
    if (r != NB_OK) {
        if (have.count != 0 || need.count != 0) {
            abort();
        }
        goto out;
    }
    for (size_t i = 0; i < have.count; i++) {
        if (!held(have.ids[i])) {
            abort();
        }
    }
    if (out != NULL && (out_len > 4096 || out[0] != NB_NEGENTROPY_PROTOCOL_VERSION)) {
        abort();
    }
    free(out);
out:
    nb_negentropy_ids_free(&have);
    nb_negentropy_ids_free(&need);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    build_storage();
    as_responder(data, size, 0);
    as_responder(data, size, NB_NEGENTROPY_MIN_FRAME_SIZE);
    as_initiator(data, size);
    return 0;
}
