/*
 * The peer link as two daemons see it: Alice and Bob run the XXpsk3
 * handshake over framed bytes, then exchange many messages across rekeys
 * while TCP chops the byte stream at random places.  A flipped bit, a lying
 * length, a replayed frame or an oversized one ends the link.
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include <sodium.h>

#include <noaber/error.h>
#include <noaber/frame.h>
#include <noaber/noise.h>

/* A reproducible generator, so a failure can be replayed. */
static uint64_t rng_state = 0x9e3779b97f4a7c15u;

static uint32_t rnd(uint32_t bound)
{
    rng_state ^= rng_state << 13;
    rng_state ^= rng_state >> 7;
    rng_state ^= rng_state << 17;
    return (uint32_t)(rng_state % bound);
}

/* A one-way byte pipe standing in for a TCP connection. */
struct pipe {
    uint8_t *bytes;
    size_t len, cap, read;
};

static void pipe_put(struct pipe *p, const uint8_t *b, size_t n)
{
    if (p->len + n > p->cap) {
        p->cap = (p->len + n) * 2;
        p->bytes = realloc(p->bytes, p->cap);
        assert_non_null(p->bytes);
    }
    memcpy(p->bytes + p->len, b, n);
    p->len += n;
}

static void pipe_free(struct pipe *p)
{
    free(p->bytes);
    memset(p, 0, sizeof(*p));
}

/* Hands the next random-sized chunk of what is in the pipe; 0 when empty. */
static size_t pipe_chunk(struct pipe *p, const uint8_t **ret)
{
    size_t left = p->len - p->read;
    size_t n;

    if (left == 0) {
        return 0;
    }
    /* Mostly small chunks, sometimes large ones spanning several frames. */
    n = rnd(4) == 0 ? 1 + rnd(200000) : 1 + rnd(40);
    if (n > left) {
        n = left;
    }
    *ret = p->bytes + p->read;
    p->read += n;
    return n;
}

struct node {
    uint8_t sk[NB_NOISE_KEY_SIZE];
    uint8_t psk[NB_NOISE_KEY_SIZE];
    struct nb_noise_handshake hs;
    struct nb_frame_decoder dec;
    struct nb_frame_link link;
};

static struct node *node_new(enum nb_noise_role role)
{
    struct node *n = calloc(1, sizeof(*n));
    struct nb_noise_config cfg = {
        .role = role,
        .prologue = (const uint8_t *)NB_NOISE_PROLOGUE,
        .prologue_len = NB_NOISE_PROLOGUE_LEN,
        .static_sk = NULL,
        .psks = NULL,
        .psk_count = 1,
    };

    assert_non_null(n);
    randombytes_buf(n->sk, sizeof(n->sk));
    memset(n->psk, 0x5a, sizeof(n->psk));
    cfg.static_sk = n->sk;
    cfg.psks = n->psk;
    assert_int_equal(nb_noise_handshake_init(&n->hs, &cfg), 0);
    assert_int_equal(nb_frame_decoder_init(&n->dec, NB_FRAME_MAX_BODY), 0);
    return n;
}

static void node_free(struct node *n)
{
    nb_noise_handshake_wipe(&n->hs);
    nb_frame_link_wipe(&n->link);
    free(n);
}

/* Reads handshake frames from the pipe in random chunks until one message
 * has been read; returns its payload length after checking it. */
static void read_handshake_frame(struct node *n, struct pipe *p, const char *expect)
{
    const uint8_t *chunk;
    size_t chunk_len;

    while ((chunk_len = pipe_chunk(p, &chunk)) > 0) {
        size_t off = 0;

        while (off < chunk_len) {
            const uint8_t *body = NULL;
            size_t used = 0, body_len = 0;
            uint8_t pl[NB_NOISE_MAX_MSG];
            size_t pl_len = 0;

            assert_int_equal(nb_frame_decoder_feed(&n->dec, chunk + off, chunk_len - off, &used,
                                                   &body, &body_len),
                             0);
            off += used;
            if (body != NULL) {
                assert_int_equal(
                    nb_noise_handshake_read(&n->hs, body, body_len, pl, sizeof(pl), &pl_len), 0);
                assert_int_equal(pl_len, strlen(expect));
                assert_memory_equal(pl, expect, pl_len);
                /* Whatever followed the frame stays in the pipe. */
                p->read -= chunk_len - off;
                return;
            }
        }
    }
    fail_msg("the pipe ran dry before a whole handshake frame arrived");
}

static void send_handshake_frame(struct node *n, struct pipe *p, const char *payload)
{
    uint8_t frame[NB_FRAME_HEADER_SIZE + NB_NOISE_MAX_MSG];
    size_t len = 0;

    assert_int_equal(nb_frame_handshake_write(&n->hs, (const uint8_t *)payload, strlen(payload),
                                              frame, sizeof(frame), &len),
                     0);
    /* The length prefix says how much Noise message follows. */
    assert_int_equal(((size_t)frame[0] << 8 | frame[1]) + NB_FRAME_HEADER_SIZE, len);
    pipe_put(p, frame, len);
}

/* Alice connects to Bob; the handshake runs over framed bytes. */
static void connect_nodes(struct node *alice, struct node *bob, struct pipe *a2b, struct pipe *b2a,
                          uint64_t rekey_interval)
{
    struct nb_noise_cipher send, recv;

    send_handshake_frame(alice, a2b, "hello, I am alice");
    read_handshake_frame(bob, a2b, "hello, I am alice");
    send_handshake_frame(bob, b2a, "hello, I am bob");
    read_handshake_frame(alice, b2a, "hello, I am bob");
    send_handshake_frame(alice, a2b, "alice's node hello");
    read_handshake_frame(bob, a2b, "alice's node hello");

    assert_int_equal(nb_noise_handshake_split(&alice->hs, &send, &recv, NULL), 0);
    assert_int_equal(nb_frame_link_init(&alice->link, &send, &recv, rekey_interval), 0);
    assert_false(send.has_key); /* the link took the keys */
    assert_int_equal(nb_noise_handshake_split(&bob->hs, &send, &recv, NULL), 0);
    assert_int_equal(nb_frame_link_init(&bob->link, &send, &recv, rekey_interval), 0);
}

static void seal_into(struct node *n, struct pipe *p, const uint8_t *msg, size_t len)
{
    static uint8_t frame[NB_FRAME_MAX_PLAINTEXT + NB_FRAME_OVERHEAD];
    size_t frame_len = 0;

    assert_int_equal(nb_frame_link_seal(&n->link, msg, len, frame, sizeof(frame), &frame_len), 0);
    assert_int_equal(frame_len, len + NB_FRAME_OVERHEAD);
    pipe_put(p, frame, frame_len);
}

/* Delivers everything in the pipe in random chunks and returns the number
 * of messages that came out, checking each against `sent`. */
struct sent_log {
    uint8_t **msgs;
    size_t *lens;
    size_t count, next;
};

static void drain(struct node *n, struct pipe *p, struct sent_log *log)
{
    const uint8_t *chunk;
    size_t chunk_len;

    while ((chunk_len = pipe_chunk(p, &chunk)) > 0) {
        size_t off = 0;

        while (off < chunk_len) {
            const uint8_t *msg = NULL;
            size_t used = 0, msg_len = 0;

            assert_int_equal(
                nb_frame_link_open(&n->link, chunk + off, chunk_len - off, &used, &msg, &msg_len),
                0);
            assert_true(used > 0);
            off += used;
            if (msg != NULL) {
                assert_true(log->next < log->count);
                assert_int_equal(msg_len, log->lens[log->next]);
                assert_memory_equal(msg, log->msgs[log->next], msg_len);
                log->next++;
            }
        }
    }
}

static void log_add(struct sent_log *log, const uint8_t *msg, size_t len)
{
    log->msgs = realloc(log->msgs, (log->count + 1) * sizeof(*log->msgs));
    log->lens = realloc(log->lens, (log->count + 1) * sizeof(*log->lens));
    assert_non_null(log->msgs);
    assert_non_null(log->lens);
    log->msgs[log->count] = malloc(len + 1);
    assert_non_null(log->msgs[log->count]);
    memcpy(log->msgs[log->count], msg, len);
    log->lens[log->count] = len;
    log->count++;
}

static void log_free(struct sent_log *log)
{
    for (size_t i = 0; i < log->count; i++) {
        free(log->msgs[i]);
    }
    free(log->msgs);
    free(log->lens);
    memset(log, 0, sizeof(*log));
}

static size_t random_size(void)
{
    switch (rnd(10)) {
    case 0:
        return 0; /* empty messages are allowed (keepalives) */
    case 1:
        return NB_FRAME_MAX_PLAINTEXT;
    case 2:
        return rnd(NB_FRAME_MAX_PLAINTEXT + 1);
    default:
        return rnd(300);
    }
}

static void many_messages_cross_rekeys_through_a_chopped_stream(void **state)
{
    struct node *alice = node_new(NB_NOISE_INITIATOR);
    struct node *bob = node_new(NB_NOISE_RESPONDER);
    struct pipe a2b = { 0 }, b2a = { 0 };
    struct sent_log to_bob = { 0 }, to_alice = { 0 };
    static uint8_t msg[NB_FRAME_MAX_PLAINTEXT];
    const uint64_t interval = 7;

    (void)state;
    connect_nodes(alice, bob, &a2b, &b2a, interval);
    for (int round = 0; round < 60; round++) {
        /* A burst each way, then the receivers catch up. */
        for (uint32_t i = rnd(12); i > 0; i--) {
            size_t len = random_size();
            randombytes_buf(msg, len);
            seal_into(alice, &a2b, msg, len);
            log_add(&to_bob, msg, len);
        }
        for (uint32_t i = rnd(12); i > 0; i--) {
            size_t len = random_size();
            randombytes_buf(msg, len);
            seal_into(bob, &b2a, msg, len);
            log_add(&to_alice, msg, len);
        }
        drain(bob, &a2b, &to_bob);
        drain(alice, &b2a, &to_alice);
    }
    assert_int_equal(to_bob.next, to_bob.count);
    assert_int_equal(to_alice.next, to_alice.count);
    /* Enough traffic that each direction went through many rekeys. */
    assert_true(to_bob.count > 10 * interval);
    assert_true(to_alice.count > 10 * interval);
    assert_int_equal(alice->link.send.n, to_bob.count);

    log_free(&to_bob);
    log_free(&to_alice);
    pipe_free(&a2b);
    pipe_free(&b2a);
    node_free(alice);
    node_free(bob);
}

/* Sends `count` one-byte messages from a to b and returns the first error of
 * b's link (0 if all arrived). */
static int exchange(struct node *a, struct node *b, int count)
{
    for (int i = 0; i < count; i++) {
        uint8_t frame[64];
        uint8_t m = (uint8_t)i;
        const uint8_t *out = NULL;
        size_t len = 0, used = 0, out_len = 0;
        int rc;

        assert_int_equal(nb_frame_link_seal(&a->link, &m, 1, frame, sizeof(frame), &len), 0);
        rc = nb_frame_link_open(&b->link, frame, len, &used, &out, &out_len);
        if (rc < 0) {
            return rc;
        }
        assert_int_equal(used, len);
        assert_non_null(out);
        assert_int_equal(out_len, 1);
        assert_int_equal(out[0], m);
    }
    return 0;
}

static void the_default_schedule_rekeys_at_two_to_the_twenty(void **state)
{
    struct node *alice = node_new(NB_NOISE_INITIATOR);
    struct node *bob = node_new(NB_NOISE_RESPONDER);
    struct pipe a2b = { 0 }, b2a = { 0 };

    (void)state;
    connect_nodes(alice, bob, &a2b, &b2a, 0);
    assert_int_equal(alice->link.rekey_interval, (uint64_t)1 << 20);
    /* Jump both ends close to the boundary instead of sending a million
     * messages; the keys are still the ones the handshake produced. */
    nb_noise_cipher_set_nonce(&alice->link.send, NB_FRAME_REKEY_INTERVAL - 3);
    nb_noise_cipher_set_nonce(&bob->link.recv, NB_FRAME_REKEY_INTERVAL - 3);
    assert_int_equal(exchange(alice, bob, 6), 0);

    /* A receiver on another schedule reads everything up to the sender's
     * next boundary (2^21) and nothing after it: the rekey really happens
     * there. */
    nb_noise_cipher_set_nonce(&alice->link.send, 2 * NB_FRAME_REKEY_INTERVAL - 2);
    nb_noise_cipher_set_nonce(&bob->link.recv, 2 * NB_FRAME_REKEY_INTERVAL - 2);
    bob->link.rekey_interval = 4 * NB_FRAME_REKEY_INTERVAL;
    assert_int_equal(exchange(alice, bob, 2), 0);
    assert_int_equal(exchange(alice, bob, 1), NB_EDECRYPT);

    pipe_free(&a2b);
    pipe_free(&b2a);
    node_free(alice);
    node_free(bob);
}

/* A fresh pair of linked nodes and one sealed frame from Alice. */
static void linked_pair(struct node **ret_alice, struct node **ret_bob, uint8_t *frame,
                        size_t *ret_len, const char *text)
{
    struct node *alice = node_new(NB_NOISE_INITIATOR);
    struct node *bob = node_new(NB_NOISE_RESPONDER);
    struct pipe a2b = { 0 }, b2a = { 0 };

    connect_nodes(alice, bob, &a2b, &b2a, 0);
    pipe_free(&a2b);
    pipe_free(&b2a);
    assert_int_equal(
        nb_frame_link_seal(&alice->link, (const uint8_t *)text, strlen(text), frame, 256, ret_len),
        0);
    *ret_alice = alice;
    *ret_bob = bob;
}

static int open_all(struct node *n, const uint8_t *bytes, size_t len, size_t *ret_msgs)
{
    size_t off = 0, msgs = 0;

    while (off < len) {
        const uint8_t *msg = NULL;
        size_t used = 0, msg_len = 0;
        int rc = nb_frame_link_open(&n->link, bytes + off, len - off, &used, &msg, &msg_len);
        if (rc < 0) {
            return rc;
        }
        off += used;
        msgs += msg != NULL;
    }
    *ret_msgs = msgs;
    return 0;
}

static void every_flipped_bit_ends_the_link(void **state)
{
    const char *text = "can someone walk Rex on thursday";

    (void)state;
    for (size_t bit = 0; bit < 8 * (strlen(text) + NB_FRAME_OVERHEAD); bit++) {
        struct node *alice, *bob;
        uint8_t frame[256];
        size_t len = 0, msgs = 0;
        int rc;

        linked_pair(&alice, &bob, frame, &len, text);
        frame[bit / 8] ^= (uint8_t)(1u << (bit % 8));
        rc = open_all(bob, frame, len, &msgs);
        if (bit < 16 && rc == 0) {
            /* A flipped length bit that makes the frame longer leaves Bob
             * waiting for bytes that never come, with nothing delivered;
             * what arrives next cannot authenticate. */
            assert_int_equal(msgs, 0);
            assert_true(((size_t)frame[0] << 8 | frame[1]) > len - NB_FRAME_HEADER_SIZE);
            rc = open_all(bob, frame, len, &msgs);
            assert_int_equal(msgs, 0);
            if (rc == 0) {
                uint8_t pad[65536] = { 0 };
                rc = open_all(bob, pad, sizeof(pad), &msgs);
            }
        }
        assert_true(rc == NB_EDECRYPT || rc == NB_EMALFORMED);
        /* A failed link stays failed. */
        assert_int_equal(open_all(bob, frame, len, &msgs), NB_ESTATE);
        node_free(alice);
        node_free(bob);
    }
}

static void replayed_and_reordered_frames_are_refused(void **state)
{
    struct node *alice, *bob;
    uint8_t f1[256], f2[256];
    size_t l1 = 0, l2 = 0, msgs = 0;

    (void)state;
    linked_pair(&alice, &bob, f1, &l1, "first");
    assert_int_equal(
        nb_frame_link_seal(&alice->link, (const uint8_t *)"second", 6, f2, sizeof(f2), &l2), 0);
    assert_int_equal(open_all(bob, f1, l1, &msgs), 0);
    assert_int_equal(msgs, 1);
    assert_int_equal(open_all(bob, f1, l1, &msgs), NB_EDECRYPT);
    node_free(alice);
    node_free(bob);

    linked_pair(&alice, &bob, f1, &l1, "first");
    assert_int_equal(
        nb_frame_link_seal(&alice->link, (const uint8_t *)"second", 6, f2, sizeof(f2), &l2), 0);
    assert_int_equal(open_all(bob, f2, l2, &msgs), NB_EDECRYPT);
    node_free(alice);
    node_free(bob);
}

static void short_and_empty_frames_are_defined(void **state)
{
    struct node *alice, *bob;
    uint8_t frame[256];
    size_t len = 0, msgs = 0;
    const uint8_t *msg = NULL;
    size_t used = 0, msg_len = 99;

    (void)state;
    /* An empty message is a valid frame of 16 bytes (a keepalive). */
    linked_pair(&alice, &bob, frame, &len, "");
    assert_int_equal(len, NB_FRAME_OVERHEAD);
    assert_int_equal(frame[0], 0);
    assert_int_equal(frame[1], 16);
    assert_int_equal(nb_frame_link_open(&bob->link, frame, len, &used, &msg, &msg_len), 0);
    assert_non_null(msg);
    assert_int_equal(msg_len, 0);
    node_free(alice);
    node_free(bob);

    /* Length 0 is refused as soon as the header is in. */
    linked_pair(&alice, &bob, frame, &len, "x");
    {
        const uint8_t zero_len[2] = { 0, 0 };
        assert_int_equal(open_all(bob, zero_len, 2, &msgs), NB_EMALFORMED);
    }
    node_free(alice);
    node_free(bob);

    /* A body shorter than a tag cannot be a transport message. */
    linked_pair(&alice, &bob, frame, &len, "x");
    {
        const uint8_t short_frame[17] = { 0, 15 };
        assert_int_equal(open_all(bob, short_frame, sizeof(short_frame), &msgs), NB_EMALFORMED);
    }
    node_free(alice);
    node_free(bob);
}

static void size_bounds_hold(void **state)
{
    struct node *alice, *bob;
    uint8_t frame[256];
    static uint8_t plain[NB_FRAME_MAX_PLAINTEXT + 1];
    static uint8_t big[NB_FRAME_MAX_PLAINTEXT + NB_FRAME_OVERHEAD + 1];
    size_t len = 0, msgs = 0, big_len = 0;
    struct nb_frame_decoder dec;
    const uint8_t *body = NULL;
    size_t used = 0, body_len = 0;

    (void)state;
    linked_pair(&alice, &bob, frame, &len, "x");
    /* One byte more than fits a 65535-byte Noise message. */
    assert_int_equal(nb_frame_link_seal(&alice->link, plain, NB_FRAME_MAX_PLAINTEXT + 1, big,
                                        sizeof(big), &big_len),
                     NB_ETOOBIG);
    assert_int_equal(
        nb_frame_link_seal(&alice->link, plain, 10, big, 10 + NB_FRAME_OVERHEAD - 1, &big_len),
        NB_ETOOBIG);
    /* The largest message makes the largest frame. */
    assert_int_equal(open_all(bob, frame, len, &msgs), 0);
    assert_int_equal(
        nb_frame_link_seal(&alice->link, plain, NB_FRAME_MAX_PLAINTEXT, big, sizeof(big), &big_len),
        0);
    assert_int_equal(big_len, NB_FRAME_HEADER_SIZE + 65535);
    assert_int_equal(big[0], 0xff);
    assert_int_equal(big[1], 0xff);
    assert_int_equal(open_all(bob, big, big_len, &msgs), 0);
    assert_int_equal(msgs, 1);
    node_free(alice);
    node_free(bob);

    /* A decoder with a smaller bound refuses a longer frame from its header
     * alone, before buffering any of the body. */
    assert_int_equal(nb_frame_decoder_init(&dec, 100), 0);
    {
        const uint8_t hdr[3] = { 0, 101, 0xaa };
        assert_int_equal(nb_frame_decoder_feed(&dec, hdr, 3, &used, &body, &body_len), NB_ETOOBIG);
        assert_int_equal(dec.have, 2);
        assert_int_equal(nb_frame_decoder_feed(&dec, hdr, 3, &used, &body, &body_len), NB_ESTATE);
    }
    assert_int_equal(nb_frame_decoder_init(&dec, 0), NB_EINVAL);
    assert_int_equal(nb_frame_decoder_init(&dec, NB_FRAME_MAX_BODY + 1), NB_EINVAL);
}

static void the_decoder_stops_at_each_frame_boundary(void **state)
{
    struct nb_frame_decoder dec;
    /* Three frames back to back: "a", "bc", "def". */
    const uint8_t stream[] = { 0, 1, 'a', 0, 2, 'b', 'c', 0, 3, 'd', 'e', 'f' };
    const uint8_t *body = NULL;
    size_t used = 0, body_len = 0;

    (void)state;
    assert_int_equal(nb_frame_decoder_init(&dec, 10), 0);
    assert_int_equal(nb_frame_decoder_feed(&dec, stream, sizeof(stream), &used, &body, &body_len),
                     0);
    assert_int_equal(used, 3);
    assert_int_equal(body_len, 1);
    assert_memory_equal(body, "a", 1);
    assert_int_equal(
        nb_frame_decoder_feed(&dec, stream + 3, sizeof(stream) - 3, &used, &body, &body_len), 0);
    assert_int_equal(used, 4);
    assert_memory_equal(body, "bc", 2);
    /* Byte by byte for the last one. */
    for (size_t i = 7; i < sizeof(stream); i++) {
        assert_int_equal(nb_frame_decoder_feed(&dec, stream + i, 1, &used, &body, &body_len), 0);
        assert_int_equal(used, 1);
        if (i + 1 < sizeof(stream)) {
            assert_null(body);
        }
    }
    assert_non_null(body);
    assert_int_equal(body_len, 3);
    assert_memory_equal(body, "def", 3);
    /* Nothing more: an empty feed gives nothing. */
    assert_int_equal(nb_frame_decoder_feed(&dec, stream, 0, &used, &body, &body_len), 0);
    assert_int_equal(used, 0);
    assert_null(body);
}

static void a_wrong_neighbourhood_key_stops_the_framed_handshake(void **state)
{
    struct node *alice = node_new(NB_NOISE_INITIATOR);
    struct node *bob = node_new(NB_NOISE_RESPONDER);
    struct pipe a2b = { 0 }, b2a = { 0 };
    struct nb_noise_config cfg = {
        .role = NB_NOISE_RESPONDER,
        .prologue = (const uint8_t *)NB_NOISE_PROLOGUE,
        .prologue_len = NB_NOISE_PROLOGUE_LEN,
        .static_sk = bob->sk,
        .psks = bob->psk,
        .psk_count = 1,
    };
    const uint8_t *body = NULL;
    size_t used = 0, body_len = 0, pl_len = 0;
    uint8_t pl[256];

    (void)state;
    bob->psk[0] ^= 1; /* Bob is in a different neighbourhood */
    assert_int_equal(nb_noise_handshake_init(&bob->hs, &cfg), 0);
    send_handshake_frame(alice, &a2b, "hello, I am alice");
    read_handshake_frame(bob, &a2b, "hello, I am alice");
    send_handshake_frame(bob, &b2a, "hello, I am bob");
    read_handshake_frame(alice, &b2a, "hello, I am bob");
    send_handshake_frame(alice, &a2b, "alice's node hello");
    assert_int_equal(nb_frame_decoder_feed(&bob->dec, a2b.bytes + a2b.read, a2b.len - a2b.read,
                                           &used, &body, &body_len),
                     0);
    assert_non_null(body);
    assert_int_equal(nb_noise_handshake_read(&bob->hs, body, body_len, pl, sizeof(pl), &pl_len),
                     NB_EHANDSHAKE);
    pipe_free(&a2b);
    pipe_free(&b2a);
    node_free(alice);
    node_free(bob);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(many_messages_cross_rekeys_through_a_chopped_stream),
        cmocka_unit_test(the_default_schedule_rekeys_at_two_to_the_twenty),
        cmocka_unit_test(every_flipped_bit_ends_the_link),
        cmocka_unit_test(replayed_and_reordered_frames_are_refused),
        cmocka_unit_test(short_and_empty_frames_are_defined),
        cmocka_unit_test(size_bounds_hold),
        cmocka_unit_test(the_decoder_stops_at_each_frame_boundary),
        cmocka_unit_test(a_wrong_neighbourhood_key_stops_the_framed_handshake),
    };

    if (sodium_init() < 0) {
        return 1;
    }
    return cmocka_run_group_tests(tests, NULL, NULL);
}
