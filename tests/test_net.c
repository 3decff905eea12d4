/*
 * Alice's node (the real network layer, daemon/net/, on a libuv loop) and
 * a hand-driven peer speaking the wire protocol byte by byte over loopback,
 * as a second implementation or a hostile node would: the handshake with
 * hellos, the responder's first frame, `peers`, a record pushed and stored,
 * a malformed message counted, a forged frame ending the link, too many
 * invalid records ending it and refusing that node afterwards, and a peer of
 * another neighbourhood refused after message 3.  Each test ends by closing
 * the loop: no handle may leak.
 */
#include <errno.h>
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <poll.h>
#include <sys/socket.h>
#include <netinet/in.h>
#include <arpa/inet.h>
#include <time.h>
#include <unistd.h>
#include <cmocka.h>

#include <sodium.h>
#include <uv.h>

#include <noaber/error.h>
#include <noaber/frame.h>
#include <noaber/identity.h>
#include <noaber/negentropy.h>
#include <noaber/noise.h>
#include <noaber/peerwire.h>
#include <noaber/record.h>
#include <noaber/riblt.h>

#include "daemon/log.h"
#include "daemon/net/net.h"
#include "daemon/node.h"
#include "daemon/store/store.h"
#include "tests/fixture.h"

struct world {
    char dir[64];
    uv_loop_t loop;
    struct nbd_store *store;
    struct nbd_node node;
    struct nbd_net *net;
    uint16_t port;
    struct member ann; /* signs the requests the peers exchange */
};

/* The hand-driven peer. */
struct peer {
    int fd;
    uint8_t node_pk[NB_KEY_SIZE];
    uint8_t node_sk[NB_NODE_SECRET_KEY_SIZE];
    struct nb_noise_handshake hs;
    struct nb_frame_link fl;
    struct nb_peer_hello hello; /* Alice's */
    bool riblt;                 /* its hello offers rateless reconciliation */
    uint8_t buf[4096];
    size_t have, off;
};

static uint64_t wall(void)
{
    return (uint64_t)time(NULL);
}

static int setup_with(void **state, bool riblt)
{
    struct world *w = calloc(1, sizeof(*w));
    char err[1024] = "", path[128];
    struct nbd_verdict v;
    assert_non_null(w);
    assert_int_equal(nb_init(), 0);
    nbd_log_set_level(NBD_LOG_ERROR);
    tmpdir_make(w->dir, sizeof(w->dir), "net");
    snprintf(path, sizeof(path), "%s/store.sqlite", w->dir);
    assert_int_equal(nbd_store_open(path, &w->store, err, sizeof(err)), 0);
    assert_int_equal(nbd_node_init(&w->node, w->store, 3600), 0);
    assert_int_equal(nbd_node_create_neighbourhood(&w->node, "Marollen", 8, &v), 0);
    assert_int_equal(uv_loop_init(&w->loop), 0);
    struct nbd_net_config cfg = {
        .data_dir = w->dir,
        .listen = "127.0.0.1:0",
        .riblt = riblt,
        .clock = wall,
    };
    int r = nbd_net_new(&w->loop, &w->node, &cfg, &w->net, err, sizeof(err));
    if (r != 0)
        fail_msg("%s", err);
    assert_int_equal(nbd_net_start(w->net), 0);
    w->port = nbd_net_port(w->net);
    assert_true(w->port != 0);
    member(&w->ann, 'a');
    *state = w;
    return 0;
}

static int setup(void **state)
{
    return setup_with(state, false);
}

/* Alice offers rateless reconciliation. */
static int setup_riblt(void **state)
{
    return setup_with(state, true);
}

static int teardown(void **state)
{
    struct world *w = *state;
    nbd_net_stop(w->net);
    uv_run(&w->loop, UV_RUN_DEFAULT);
    /* Every handle the network layer opened has been closed. */
    assert_int_equal(uv_loop_close(&w->loop), 0);
    nbd_net_free(w->net);
    nbd_node_clear(&w->node);
    nbd_store_close(w->store);
    tmpdir_remove(w->dir);
    free(w);
    return 0;
}

/* Lets Alice's node run for up to `ms`, or until cond(ctx) holds. */
static bool pump_until(struct world *w, int ms, bool (*cond)(void *), void *ctx)
{
    for (int i = 0; i < ms; i++) {
        uv_run(&w->loop, UV_RUN_NOWAIT);
        if (cond != NULL && cond(ctx))
            return true;
        usleep(1000);
    }
    return cond == NULL;
}

static void peer_connect(struct world *w, struct peer *p)
{
    struct sockaddr_in a;
    memset(p, 0, sizeof(*p));
    uint8_t seed[NB_SEED_SIZE];
    randombytes_buf(seed, sizeof(seed));
    assert_int_equal(nb_node_from_seed(seed, p->node_pk, p->node_sk), 0);
    p->fd = socket(AF_INET, SOCK_STREAM, 0);
    assert_true(p->fd >= 0);
    memset(&a, 0, sizeof(a));
    a.sin_family = AF_INET;
    a.sin_port = htons(w->port);
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    assert_int_equal(connect(p->fd, (struct sockaddr *)&a, sizeof(a)), 0);
    nb_frame_decoder_init(&p->fl.dec, NB_FRAME_MAX_BODY);
}

static void peer_write(struct peer *p, const uint8_t *b, size_t n)
{
    assert_int_equal(send(p->fd, b, n, MSG_NOSIGNAL), (ssize_t)n);
}

/*
 * Reads the next frame from Alice's node while running her loop.  In the
 * handshake (`transport` false) it returns the body; after it, the
 * decrypted plaintext.  Returns -1 when Alice's node closed the connection.
 */
static int peer_read(struct world *w, struct peer *p, bool transport, const uint8_t **ret,
                     size_t *ret_len)
{
    for (int i = 0; i < 5000; i++) {
        while (p->off < p->have) {
            size_t used;
            const uint8_t *out = NULL;
            const uint8_t *in = p->buf + p->off;
            size_t left = p->have - p->off;
            int r = transport ? nb_frame_link_open(&p->fl, in, left, &used, &out, ret_len)
                              : nb_frame_decoder_feed(&p->fl.dec, in, left, &used, &out, ret_len);
            assert_int_equal(r, 0);
            p->off += used;
            if (out != NULL) {
                *ret = out;
                return 0;
            }
        }
        p->have = p->off = 0;
        ssize_t n = recv(p->fd, p->buf, sizeof(p->buf), MSG_DONTWAIT);
        if (n == 0 || (n < 0 && errno != EAGAIN && errno != EWOULDBLOCK))
            return -1;
        if (n > 0) {
            p->have = (size_t)n;
            continue;
        }
        uv_run(&w->loop, UV_RUN_NOWAIT);
        usleep(1000);
    }
    fail_msg("nothing from Alice's node within 5 s");
    return -1;
}

/* The initiator's side of the handshake; returns -1 if Alice's node closed
 * before its first transport frame (or before answering message 1). */
static int peer_handshake_with(struct world *w, struct peer *p, const uint8_t psk[32],
                               const uint8_t *payload1, size_t payload1_len, bool with_hello);

static int peer_handshake(struct world *w, struct peer *p, const uint8_t psk[32])
{
    return peer_handshake_with(w, p, psk, NULL, 0, true);
}

/* The same, with a payload in message 1 and with or without a hello in
 * message 3: what a careless or hostile initiator might send. */
static int peer_handshake_with(struct world *w, struct peer *p, const uint8_t psk[32],
                               const uint8_t *payload1, size_t payload1_len, bool with_hello)
{
    uint8_t out[NB_FRAME_HEADER_SIZE + NB_FRAME_MAX_BODY], hello[NB_PEER_HELLO_MAX];
    uint8_t payload[NB_FRAME_MAX_BODY];
    const uint8_t *body;
    size_t n, blen, plen, hlen;
    struct nb_noise_cipher send_c, recv_c;

    assert_int_equal(nb_noise_handshake_init_peer(&p->hs, NB_NOISE_INITIATOR, p->node_sk, psk), 0);
    assert_int_equal(nb_frame_handshake_write(&p->hs, payload1, payload1_len, out, sizeof(out), &n),
                     0);
    peer_write(p, out, n);
    if (peer_read(w, p, false, &body, &blen) < 0)
        return -1;
    assert_int_equal(nb_noise_handshake_read(&p->hs, body, blen, payload, sizeof(payload), &plen),
                     0);
    assert_int_equal(nb_peer_hello_decode(payload, plen, &p->hello), 0);
    assert_int_equal(nb_peer_hello_encode_riblt("127.0.0.1:9", "test_net", 0, p->riblt, hello,
                                                sizeof(hello), &hlen),
                     0);
    assert_int_equal(
        nb_frame_handshake_write(&p->hs, hello, with_hello ? hlen : 0, out, sizeof(out), &n), 0);
    peer_write(p, out, n);
    assert_int_equal(nb_noise_handshake_split(&p->hs, &send_c, &recv_c, NULL), 0);
    assert_int_equal(nb_frame_link_init(&p->fl, &send_c, &recv_c, 0), 0);
    /* The responder's first frame says it read message 3. */
    const uint8_t *msg;
    size_t mlen;
    return peer_read(w, p, true, &msg, &mlen);
}

static void peer_send(struct peer *p, const uint8_t *msg, size_t len)
{
    uint8_t out[NB_FRAME_HEADER_SIZE + NB_FRAME_MAX_BODY];
    size_t n;
    assert_int_equal(nb_frame_link_seal(&p->fl, msg, len, out, sizeof(out), &n), 0);
    peer_write(p, out, n);
}

/* Reads messages until one of `type` arrives; -1 if the link closed. */
static int peer_expect(struct world *w, struct peer *p, unsigned type, struct nb_peer_msg *m)
{
    for (;;) {
        const uint8_t *msg;
        size_t len;
        if (peer_read(w, p, true, &msg, &len) < 0)
            return -1;
        if (len > 0 && nb_peer_msg_decode(msg, len, m) == 0 && m->type == type)
            return 0;
    }
}

static void peer_close(struct peer *p)
{
    close(p->fd);
    nb_noise_handshake_wipe(&p->hs);
    nb_frame_link_wipe(&p->fl);
}

static void sign_request(struct world *w, const char *title, const uint8_t *nid, uint8_t *out,
                         size_t *ret_len, uint8_t ret_id[NB_ID_SIZE])
{
    struct blob b;
    uint64_t now = wall();
    make_request(&w->ann, nid, now, now + 3600, title, &b);
    memcpy(out, b.bytes, b.len);
    *ret_len = b.len;
    memcpy(ret_id, b.id, NB_ID_SIZE);
}

static bool one_peer(void *ctx)
{
    struct nbd_net_status st;
    nbd_net_status(ctx, &st);
    return st.connected == 1;
}

static void a_peer_speaks_the_protocol(void **state)
{
    struct world *w = *state;
    struct peer p;
    struct nb_peer_msg *m = malloc(sizeof(*m));
    uint8_t psk[32], buf[NB_PEER_MSG_MAX];
    size_t n;
    assert_non_null(m);
    assert_int_equal(nb_neighbourhood_psk(w->node.neighbourhood_key, psk), 0);

    peer_connect(w, &p);
    assert_int_equal(peer_handshake(w, &p, psk), 0);
    /* Alice's hello says where she listens and what she runs. */
    assert_true(p.hello.has_listen);
    assert_int_equal(p.hello.version, 1);
    assert_non_null(strstr(p.hello.software, "noaberd"));
    /* She sends `peers` first; she knows nobody yet. */
    assert_int_equal(peer_expect(w, &p, NB_PEER_PEERS, m), 0);
    assert_int_equal(m->n_addrs, 0);
    assert_true(pump_until(w, 2000, one_peer, w->net));

    /* A record pushed to her is stored. */
    uint8_t rec[NB_RECORD_MAX], id[NB_ID_SIZE];
    size_t rlen;
    sign_request(w, "Soup for a neighbour", w->node.neighbourhood_id, rec, &rlen, id);
    assert_int_equal(nb_peer_encode_record(rec, rlen, buf, sizeof(buf), &n), 0);
    peer_send(&p, buf, n);
    /* A ping round trip orders it: her pong comes after the record. */
    assert_int_equal(nb_peer_encode_ping(NB_PEER_PING, 42, buf, sizeof(buf), &n), 0);
    peer_send(&p, buf, n);
    assert_int_equal(peer_expect(w, &p, NB_PEER_PONG, m), 0);
    assert_int_equal(m->nonce, 42);
    assert_int_equal(nbd_store_has(w->store, id), 1);

    /* She answers `want` with the record, and `missing` for what she lacks. */
    uint8_t ids[2][NB_ID_SIZE];
    memcpy(ids[0], id, NB_ID_SIZE);
    memset(ids[1], 0x77, NB_ID_SIZE);
    assert_int_equal(
        nb_peer_encode_ids(NB_PEER_WANT, (const uint8_t(*)[32])ids, 2, buf, sizeof(buf), &n), 0);
    peer_send(&p, buf, n);
    assert_int_equal(peer_expect(w, &p, NB_PEER_RECORD, m), 0);
    assert_int_equal(m->bin_len, rlen);
    assert_memory_equal(m->bin, rec, rlen);
    assert_int_equal(peer_expect(w, &p, NB_PEER_MISSING, m), 0);
    assert_int_equal(m->n_ids, 1);
    assert_memory_equal(m->ids[0], ids[1], NB_ID_SIZE);

    /* A malformed message and an unknown type do not end the link... */
    static const uint8_t junk[] = { 0x92, 0x02, 0x90 };
    peer_send(&p, junk, sizeof(junk));
    static const uint8_t later[] = { 0x92, 0xcc, 0x99, 0x00 };
    peer_send(&p, later, sizeof(later));
    assert_int_equal(nb_peer_encode_ping(NB_PEER_PING, 43, buf, sizeof(buf), &n), 0);
    peer_send(&p, buf, n);
    assert_int_equal(peer_expect(w, &p, NB_PEER_PONG, m), 0);
    assert_int_equal(m->nonce, 43);

    /* ...a frame that does not authenticate does. */
    uint8_t forged[NB_FRAME_HEADER_SIZE + 32];
    forged[0] = 0;
    forged[1] = 32;
    memset(forged + 2, 0x5a, 32);
    peer_write(&p, forged, sizeof(forged));
    assert_int_equal(peer_expect(w, &p, NB_PEER_PONG, m), -1);
    peer_close(&p);
    free(m);
}

static bool no_peer(void *ctx)
{
    struct nbd_net_status st;
    nbd_net_status(ctx, &st);
    return st.connected == 0;
}

static void too_many_invalid_records_end_the_link_and_refuse_the_node(void **state)
{
    struct world *w = *state;
    struct peer p;
    struct nb_peer_msg *m = malloc(sizeof(*m));
    uint8_t psk[32], buf[NB_PEER_MSG_MAX], other_nid[NB_NEIGHBOURHOOD_ID_SIZE];
    size_t n;
    assert_non_null(m);
    assert_int_equal(nb_neighbourhood_psk(w->node.neighbourhood_key, psk), 0);
    memset(other_nid, 0x33, sizeof(other_nid));

    peer_connect(w, &p);
    assert_int_equal(peer_handshake(w, &p, psk), 0);
    assert_true(pump_until(w, 2000, one_peer, w->net));
    /* Records signed for another neighbourhood do not verify here. */
    for (int i = 0; i < 17; i++) {
        uint8_t rec[NB_RECORD_MAX], id[NB_ID_SIZE];
        size_t rlen;
        char title[32];
        snprintf(title, sizeof(title), "not from here %d", i);
        sign_request(w, title, other_nid, rec, &rlen, id);
        assert_int_equal(nb_peer_encode_record(rec, rlen, buf, sizeof(buf), &n), 0);
        peer_send(&p, buf, n);
    }
    assert_int_equal(peer_expect(w, &p, NB_PEER_PONG, m), -1);
    assert_true(pump_until(w, 2000, no_peer, w->net));
    uint64_t records = 1;
    assert_int_equal(nbd_store_count(w->store, &records, NULL), 0);
    assert_int_equal(records, 0);

    /* The same node is refused when it comes back, and so is its address
     * under a fresh node key: either before the handshake or right after
     * it, never with a link that stays up. */
    for (int fresh = 0; fresh < 2; fresh++) {
        struct peer again;
        peer_connect(w, &again);
        if (!fresh) {
            memcpy(again.node_pk, p.node_pk, NB_KEY_SIZE);
            memcpy(again.node_sk, p.node_sk, NB_NODE_SECRET_KEY_SIZE);
        }
        int r = peer_handshake(w, &again, psk);
        if (r == 0)
            assert_int_equal(peer_expect(w, &again, NB_PEER_PONG, m), -1);
        peer_close(&again);
    }
    peer_close(&p);
    free(m);
}

/* docs/protocol.md, "Connections": payload 1 is empty and payload 3 is a
 * hello; an initiator that breaks either rule gets no session. */
static void a_handshake_must_follow_the_payload_rules(void **state)
{
    struct world *w = *state;
    uint8_t psk[32];
    static const uint8_t chatter[] = { 0x81, 0xa1, 'v', 0x01 };
    assert_int_equal(nb_neighbourhood_psk(w->node.neighbourhood_key, psk), 0);
    for (int rule = 0; rule < 2; rule++) {
        struct peer p;
        peer_connect(w, &p);
        int r = rule == 0 ? peer_handshake_with(w, &p, psk, chatter, sizeof(chatter), true)
                          : peer_handshake_with(w, &p, psk, NULL, 0, false);
        assert_int_equal(r, -1);
        assert_true(pump_until(w, 2000, no_peer, w->net));
        peer_close(&p);
    }
    /* Within the rules the same node gets in. */
    struct peer ok;
    peer_connect(w, &ok);
    assert_int_equal(peer_handshake(w, &ok, psk), 0);
    assert_true(pump_until(w, 2000, one_peer, w->net));
    peer_close(&ok);
}

static void a_peer_of_another_neighbourhood_is_refused(void **state)
{
    struct world *w = *state;
    struct peer p;
    uint8_t key[NB_NEIGHBOURHOOD_KEY_SIZE], psk[32];
    assert_int_equal(nb_neighbourhood_key_new(key), 0);
    assert_int_equal(nb_neighbourhood_psk(key, psk), 0);
    peer_connect(w, &p);
    /* Messages 1 and 2 go through; Alice cannot read message 3 and closes
     * without a transport frame. */
    assert_int_equal(peer_handshake(w, &p, psk), -1);
    assert_true(pump_until(w, 2000, no_peer, w->net));
    peer_close(&p);
}

static bool in_sync(void *ctx)
{
    struct nbd_net_status st;
    nbd_net_status(ctx, &st);
    return st.connected == 1 && st.in_sync;
}

/*
 * Alice dials a node that answers by hand: she reconciles as the initiator,
 * pushes the record only she has, wants the one only the other has, and
 * says `synced` once it arrived.
 */
static void alice_reconciles_with_a_node_she_dials(void **state)
{
    struct world *w = *state;
    struct nb_peer_msg *m = malloc(sizeof(*m));
    uint8_t psk[32], buf[NB_PEER_MSG_MAX], mine[NB_RECORD_MAX], theirs[NB_RECORD_MAX];
    uint8_t mine_id[NB_ID_SIZE], theirs_id[NB_ID_SIZE];
    size_t n, mine_len, theirs_len;
    struct nbd_accept_report v;
    assert_non_null(m);
    assert_int_equal(nb_neighbourhood_psk(w->node.neighbourhood_key, psk), 0);
    sign_request(w, "Alice's own request", w->node.neighbourhood_id, mine, &mine_len, mine_id);
    assert_int_equal(
        nbd_node_accept(&w->node, mine, mine_len, mine_id, wall(), NBD_FROM_CLIENT, &v),
        NBD_ACCEPTED);
    sign_request(w, "A request Alice has not seen", w->node.neighbourhood_id, theirs, &theirs_len,
                 theirs_id);

    /* The other node listens; Alice is told its address. */
    int lfd = socket(AF_INET, SOCK_STREAM, 0);
    struct sockaddr_in a;
    socklen_t alen = sizeof(a);
    memset(&a, 0, sizeof(a));
    a.sin_family = AF_INET;
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    assert_int_equal(bind(lfd, (struct sockaddr *)&a, sizeof(a)), 0);
    assert_int_equal(listen(lfd, 1), 0);
    assert_int_equal(getsockname(lfd, (struct sockaddr *)&a, &alen), 0);
    char address[64];
    snprintf(address, sizeof(address), "127.0.0.1:%u", ntohs(a.sin_port));
    assert_int_equal(nbd_net_add_address(w->net, address, NULL, NBD_SOURCE_MANUAL), 0);
    struct peer p;
    memset(&p, 0, sizeof(p));
    uint8_t seed[NB_SEED_SIZE];
    randombytes_buf(seed, sizeof(seed));
    assert_int_equal(nb_node_from_seed(seed, p.node_pk, p.node_sk), 0);
    nb_frame_decoder_init(&p.fl.dec, NB_FRAME_MAX_BODY);
    p.fd = -1;
    for (int i = 0; i < 5000 && p.fd < 0; i++) {
        struct pollfd pfd = { .fd = lfd, .events = POLLIN };
        if (poll(&pfd, 1, 0) == 1)
            p.fd = accept(lfd, NULL, NULL);
        uv_run(&w->loop, UV_RUN_NOWAIT);
        usleep(1000);
    }
    assert_true(p.fd >= 0);
    close(lfd);

    /* The responder's side of the handshake, then its first frame. */
    uint8_t out[NB_FRAME_HEADER_SIZE + NB_FRAME_MAX_BODY], payload[NB_FRAME_MAX_BODY];
    uint8_t hello[NB_PEER_HELLO_MAX];
    const uint8_t *body;
    size_t blen, plen, hlen;
    struct nb_noise_cipher send_c, recv_c;
    assert_int_equal(nb_noise_handshake_init_peer(&p.hs, NB_NOISE_RESPONDER, p.node_sk, psk), 0);
    assert_int_equal(peer_read(w, &p, false, &body, &blen), 0);
    assert_int_equal(nb_noise_handshake_read(&p.hs, body, blen, payload, sizeof(payload), &plen),
                     0);
    assert_int_equal(plen, 0); /* payload 1 is empty */
    assert_int_equal(nb_peer_hello_encode(address, "test_net", 0, hello, sizeof(hello), &hlen), 0);
    assert_int_equal(nb_frame_handshake_write(&p.hs, hello, hlen, out, sizeof(out), &n), 0);
    peer_write(&p, out, n);
    assert_int_equal(peer_read(w, &p, false, &body, &blen), 0);
    assert_int_equal(nb_noise_handshake_read(&p.hs, body, blen, payload, sizeof(payload), &plen),
                     0);
    assert_int_equal(nb_peer_hello_decode(payload, plen, &p.hello), 0);
    assert_int_equal(nb_noise_handshake_split(&p.hs, &send_c, &recv_c, NULL), 0);
    assert_int_equal(nb_frame_link_init(&p.fl, &send_c, &recv_c, 0), 0);
    assert_int_equal(nb_peer_encode_ping(NB_PEER_PING, 0, buf, sizeof(buf), &n), 0);
    peer_send(&p, buf, n);

    /* Answer Alice's reconciliation from a set holding only `theirs`. */
    struct nb_negentropy_storage storage;
    struct nb_negentropy ne;
    struct nb_record rec;
    assert_int_equal(nb_record_decode(theirs, theirs_len, &rec), 0);
    nb_negentropy_storage_init(&storage);
    assert_int_equal(nb_negentropy_storage_add(&storage, rec.created_at, theirs_id), 0);
    assert_int_equal(nb_negentropy_storage_seal(&storage), 0);
    assert_int_equal(nb_negentropy_init(&ne, &storage, NB_NEGENTROPY_FRAME_SIZE_LIMIT), 0);
    bool got_mine = false, wanted = false, synced = false;
    while (!synced) {
        const uint8_t *msg;
        size_t len;
        assert_int_equal(peer_read(w, &p, true, &msg, &len), 0);
        if (len == 0 || nb_peer_msg_decode(msg, len, m) != 0)
            continue;
        if (m->type == NB_PEER_NEG) {
            uint8_t *reply;
            size_t rlen;
            assert_int_equal(
                nb_negentropy_reconcile(&ne, m->bin, m->bin_len, &reply, &rlen, NULL, NULL), 0);
            assert_int_equal(nb_peer_encode_neg(reply, rlen, buf, sizeof(buf), &n), 0);
            free(reply);
            peer_send(&p, buf, n);
        } else if (m->type == NB_PEER_RECORD) {
            assert_int_equal(m->bin_len, mine_len);
            assert_memory_equal(m->bin, mine, mine_len);
            got_mine = true;
        } else if (m->type == NB_PEER_WANT) {
            assert_int_equal(m->n_ids, 1);
            assert_memory_equal(m->ids[0], theirs_id, NB_ID_SIZE);
            wanted = true;
            assert_int_equal(nb_peer_encode_record(theirs, theirs_len, buf, sizeof(buf), &n), 0);
            peer_send(&p, buf, n);
        } else if (m->type == NB_PEER_SYNCED) {
            synced = true;
        }
    }
    assert_true(got_mine);
    assert_true(wanted);
    assert_int_equal(nbd_store_has(w->store, theirs_id), 1);
    assert_true(pump_until(w, 2000, in_sync, w->net));
    nb_negentropy_storage_free(&storage);
    peer_close(&p);
    free(m);
}

static bool forgot_itself(void *ctx)
{
    struct nbd_net_status st;
    nbd_net_status(ctx, &st);
    return st.known == 0;
}

static void a_node_that_dials_itself_forgets_that_address(void **state)
{
    struct world *w = *state;
    char own[64];
    /* Its advertised address is refused outright; another name for it is
     * found out by the handshake (the peer's node key is its own). */
    snprintf(own, sizeof(own), "127.0.0.1:%u", w->port);
    assert_int_equal(nbd_net_add_address(w->net, own, NULL, NBD_SOURCE_MANUAL), NB_EEXIST);
    snprintf(own, sizeof(own), "localhost:%u", w->port);
    assert_int_equal(nbd_net_add_address(w->net, own, NULL, NBD_SOURCE_MANUAL), 0);
    struct nbd_net_status st;
    nbd_net_status(w->net, &st);
    assert_int_equal(st.known, 1);
    assert_false(st.in_sync); /* an address it cannot reach yet */
    assert_true(pump_until(w, 5000, forgot_itself, w->net));
    nbd_net_status(w->net, &st);
    assert_int_equal(st.connected, 0);
    assert_true(st.in_sync); /* alone again */
}

static int count_sources(void *ctx, const struct nbd_peer_info *info)
{
    unsigned *counts = ctx;
    counts[info->source]++;
    return 0;
}

static unsigned known_from(struct world *w, enum nbd_peer_source source)
{
    unsigned counts[NBD_SOURCE_INBOUND + 1] = { 0 };
    nbd_net_foreach_peer(w->net, count_sources, counts);
    return counts[source];
}

/* docs/protocol.md, "Address table": learned addresses get a small share
 * and never a local one; the operator's own always find room. */
static void the_address_table_keeps_room_for_the_operator(void **state)
{
    struct world *w = *state;
    char a[64];
    assert_int_equal(nbd_net_add_address(w->net, "127.0.0.9:7447", NULL, NBD_SOURCE_EXCHANGE),
                     NB_ETOOBIG);
    assert_int_equal(nbd_net_add_address(w->net, "[fe80::1]:7447", NULL, NBD_SOURCE_EXCHANGE),
                     NB_ETOOBIG);
    assert_int_equal(nbd_net_add_address(w->net, "169.254.3.4:7447", NULL, NBD_SOURCE_EXCHANGE),
                     NB_ETOOBIG);
    for (int i = 0; i < 9; i++) {
        snprintf(a, sizeof(a), "198.51.100.%d:7447", i + 1);
        assert_int_equal(nbd_net_add_address(w->net, a, NULL, NBD_SOURCE_EXCHANGE),
                         i < 8 ? 0 : NB_ETOOBIG);
    }
    assert_int_equal(known_from(w, NBD_SOURCE_EXCHANGE), 8);
    /* 256 of the operator's addresses: the learned ones make way. */
    for (int i = 0; i < NBD_NET_KNOWN_MAX; i++) {
        snprintf(a, sizeof(a), "203.0.113.%d:%d", i % 200 + 1, 7000 + i);
        assert_int_equal(nbd_net_add_address(w->net, a, NULL, NBD_SOURCE_MANUAL), 0);
    }
    assert_int_equal(known_from(w, NBD_SOURCE_EXCHANGE), 0);
    assert_int_equal(known_from(w, NBD_SOURCE_MANUAL), NBD_NET_KNOWN_MAX);
    /* Only a table full of the operator's own addresses refuses one. */
    assert_int_equal(nbd_net_add_address(w->net, "192.0.2.1:7447", NULL, NBD_SOURCE_MANUAL),
                     NB_ETOOBIG);
    assert_int_equal(nbd_net_remove_address(w->net, "203.0.113.1:7000"), 0);
    assert_int_equal(nbd_net_remove_address(w->net, "203.0.113.1:7000"), NB_ENOENT);
    assert_int_equal(nbd_net_add_address(w->net, "192.0.2.1:7447", NULL, NBD_SOURCE_MANUAL), 0);
    assert_int_equal(known_from(w, NBD_SOURCE_MANUAL), NBD_NET_KNOWN_MAX);
}

/* Work that occupies libuv's threadpool (one thread in this test program)
 * until the test lets it go. */
static void hold_pool(uv_work_t *req)
{
    uv_sem_wait(req->data);
}

static void pool_released(uv_work_t *req, int status)
{
    (void)req;
    assert_int_equal(status, 0);
}

/*
 * Alice builds her coded symbols beside her loop: while the build cannot
 * run (the threadpool is held), the symbols of a peer's rateless session
 * wait and her loop keeps answering (a ping); once it runs, she answers the
 * session with the difference.  Her set is empty and the peer holds three
 * ids, so the difference is those three, held only by the peer.
 */
static void alice_answers_while_her_coded_symbols_are_built(void **state)
{
    struct world *w = *state;
    uv_sem_t sem;
    uv_work_t hold;
    assert_int_equal(uv_sem_init(&sem, 0), 0);
    hold.data = &sem;
    assert_int_equal(uv_queue_work(&w->loop, &hold, hold_pool, pool_released), 0);

    struct peer p;
    struct nb_peer_msg *m = malloc(sizeof(*m));
    struct nb_riblt_symbol *symbols = malloc(NB_RIBLT_BATCH_MAX * sizeof(*symbols));
    uint8_t psk[32], buf[NB_PEER_MSG_MAX], msg[4096];
    size_t n, len;
    assert_non_null(m);
    assert_non_null(symbols);
    assert_int_equal(nb_neighbourhood_psk(w->node.neighbourhood_key, psk), 0);
    peer_connect(w, &p);
    p.riblt = true;
    assert_int_equal(peer_handshake(w, &p, psk), 0);
    assert_int_equal(p.hello.riblt, NB_PEER_RIBLT_VERSION);

    uint8_t ids[3][NB_RIBLT_ID_SIZE];
    struct nb_riblt_encoder enc;
    assert_int_equal(nb_riblt_encoder_init(&enc, NB_RIBLT_SYMBOLS_MAX), 0);
    for (int i = 0; i < 3; i++) {
        randombytes_buf(ids[i], sizeof(ids[i]));
        nb_riblt_encoder_add(&enc, ids[i]);
    }
    assert_int_equal(nb_riblt_encode_symbols(&enc, 0, 32, 32, msg, sizeof(msg), &len), 0);
    nb_riblt_encoder_free(&enc);
    assert_int_equal(nb_peer_encode_rbl(msg, len, buf, sizeof(buf), &n), 0);
    peer_send(&p, buf, n);

    /* Her pong comes while the session waits for the build: nothing of
     * the session before it. */
    assert_int_equal(nb_peer_encode_ping(NB_PEER_PING, 7, buf, sizeof(buf), &n), 0);
    peer_send(&p, buf, n);
    for (;;) {
        const uint8_t *in;
        size_t in_len;
        assert_int_equal(peer_read(w, &p, true, &in, &in_len), 0);
        if (in_len == 0 || nb_peer_msg_decode(in, in_len, m) < 0)
            continue;
        assert_int_not_equal(m->type, NB_PEER_RBL);
        if (m->type == NB_PEER_PONG)
            break;
    }
    assert_int_equal(m->nonce, 7);

    /* The build runs: the session is answered with the difference. */
    uv_sem_post(&sem);
    assert_int_equal(peer_expect(w, &p, NB_PEER_RBL, m), 0);
    struct nb_riblt_msg rm;
    assert_int_equal(nb_riblt_msg_decode(m->bin, m->bin_len, &rm, symbols), 0);
    assert_int_equal(rm.type, NB_RIBLT_DIFF);
    assert_true(rm.last);
    assert_int_equal(rm.n_need, 0);
    assert_int_equal(rm.n_have, 3);
    for (int i = 0; i < 3; i++) {
        bool found = false;
        for (size_t j = 0; j < rm.n_have; j++)
            found = found || memcmp(rm.have + j * NB_RIBLT_ID_SIZE, ids[i], NB_RIBLT_ID_SIZE) == 0;
        assert_true(found);
    }
    peer_close(&p);
    free(symbols);
    free(m);
    /* The held work has finished before the loop closes. */
    nbd_net_stop(w->net);
    uv_run(&w->loop, UV_RUN_DEFAULT);
    uv_sem_destroy(&sem);
}

int main(void)
{
    /* One thread in libuv's threadpool, so that a test can hold it (the
     * pool starts at its first use, after this). */
    setenv("UV_THREADPOOL_SIZE", "1", 1);
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(a_peer_speaks_the_protocol, setup, teardown),
        cmocka_unit_test_setup_teardown(too_many_invalid_records_end_the_link_and_refuse_the_node,
                                        setup, teardown),
        cmocka_unit_test_setup_teardown(a_handshake_must_follow_the_payload_rules, setup, teardown),
        cmocka_unit_test_setup_teardown(a_peer_of_another_neighbourhood_is_refused, setup,
                                        teardown),
        cmocka_unit_test_setup_teardown(a_node_that_dials_itself_forgets_that_address, setup,
                                        teardown),
        cmocka_unit_test_setup_teardown(alice_reconciles_with_a_node_she_dials, setup, teardown),
        cmocka_unit_test_setup_teardown(the_address_table_keeps_room_for_the_operator, setup,
                                        teardown),
        cmocka_unit_test_setup_teardown(alice_answers_while_her_coded_symbols_are_built,
                                        setup_riblt, teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
