/*
 * What a peer can send once the Noise session is up, and what anyone who
 * connects can put in a hello: arbitrary bytes to nb_peer_msg_decode and
 * nb_peer_hello_decode.
 *
 * Invariants checked beyond "no crash, no leak":
 *   - a decoded message of a known type re-encodes, and the re-encoding
 *     decodes to the same message (we never accept what we could not say);
 *   - every decoded address passes the address check;
 *   - `bin` views lie inside the input.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <noaber/error.h>
#include <noaber/peerwire.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static struct nb_peer_msg msg, again;
static uint8_t out[NB_PEER_MSG_MAX + 64];

static void check_round_trip(void)
{
    size_t n = 0;
    int r = -1;
    switch (msg.type) {
    case NB_PEER_NEG:
        r = nb_peer_encode_neg(msg.bin, msg.bin_len, out, sizeof(out), &n);
        break;
    case NB_PEER_RECORD:
        r = nb_peer_encode_record(msg.bin, msg.bin_len, out, sizeof(out), &n);
        break;
    case NB_PEER_WANT:
    case NB_PEER_MISSING:
        r = nb_peer_encode_ids((enum nb_peer_type)msg.type,
                               (const uint8_t(*)[NB_PEER_ID_SIZE])msg.ids, msg.n_ids, out,
                               sizeof(out), &n);
        break;
    case NB_PEER_SYNCED:
        r = nb_peer_encode_synced(out, sizeof(out), &n);
        break;
    case NB_PEER_PEERS:
        r = nb_peer_encode_peers(msg.addrs, msg.n_addrs, out, sizeof(out), &n);
        break;
    case NB_PEER_PING:
    case NB_PEER_PONG:
        r = nb_peer_encode_ping((enum nb_peer_type)msg.type, msg.nonce, out, sizeof(out), &n);
        break;
    default:
        return;
    }
    if (r != 0 || nb_peer_msg_decode(out, n, &again) != 0 || again.type != msg.type ||
        again.bin_len != msg.bin_len || again.n_ids != msg.n_ids || again.n_addrs != msg.n_addrs ||
        again.nonce != msg.nonce)
        abort();
    if (msg.bin_len > 0 && memcmp(again.bin, msg.bin, msg.bin_len) != 0)
        abort();
    if (msg.n_ids > 0 && memcmp(again.ids, msg.ids, msg.n_ids * NB_PEER_ID_SIZE) != 0)
        abort();
    for (size_t i = 0; i < msg.n_addrs; i++)
        if (strcmp(again.addrs[i].address, msg.addrs[i].address) != 0 ||
            memcmp(again.addrs[i].node_key, msg.addrs[i].node_key, NB_PEER_KEY_SIZE) != 0)
            abort();
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (nb_peer_msg_decode(data, size, &msg) == 0) {
        if (msg.bin != NULL && (msg.bin < data || msg.bin + msg.bin_len > data + size))
            abort();
        for (size_t i = 0; i < msg.n_addrs; i++)
            if (nb_peer_address_parse(msg.addrs[i].address, strlen(msg.addrs[i].address), false,
                                      NULL, NULL) != 0)
                abort();
        check_round_trip();
    }
    struct nb_peer_hello h;
    if (nb_peer_hello_decode(data, size, &h) == 0 && h.has_listen &&
        nb_peer_address_parse(h.listen, strlen(h.listen), false, NULL, NULL) != 0)
        abort();
    return 0;
}
