/*
 * The control socket's input path without a socket: arbitrary bytes go
 * through the frame splitter and every complete frame through the request
 * parser and the ops, against a node with an in-memory store and a
 * neighbourhood.  Whatever arrives, the daemon must answer with well-formed
 * frames (or decide to close) and never crash or leak.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <noaber/identity.h>

#include "daemon/control/control.h"
#include "daemon/log.h"
#include "daemon/node.h"
#include "daemon/store/store.h"

static struct nbd_store *store;
static struct nbd_node node;

static uint64_t fixed_clock(void)
{
    return 1800000000u;
}

static void setup(void)
{
    char err[1024];
    nbd_log_set_level(NBD_LOG_ERROR);
    if (nb_init() < 0 || nbd_store_open(":memory:", &store, err, sizeof(err)) < 0 ||
        nbd_node_init(&node, store, 24 * 3600) < 0)
        abort();
    /* A fixed neighbourhood id (0x11 repeated, as in the seed corpus) so
     * that seeds with signed records reach the store's rules. */
    node.has_neighbourhood = true;
    memcpy(node.neighbourhood_name, "Fuzz", 5);
    memset(node.neighbourhood_id, 0x11, sizeof(node.neighbourhood_id));
}

/* Every reply frame must be a length prefix and that many bytes. */
static void check_frames(const msgpack_sbuffer *out)
{
    size_t pos = 0;
    while (pos < out->size) {
        if (out->size - pos < 4)
            abort();
        const uint8_t *p = (const uint8_t *)out->data + pos;
        size_t len = (size_t)p[0] << 24 | (size_t)p[1] << 16 | (size_t)p[2] << 8 | p[3];
        if (len == 0 || len > NB_CTL_FRAME_MAX || len > out->size - pos - 4)
            abort();
        pos += 4 + len;
    }
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    static int ready;
    if (!ready) {
        setup();
        ready = 1;
    }
    struct nbd_control_ctx ctx = {
        .node = &node, .data_dir = "/fuzz", .clock = fixed_clock, .role = NB_CTL_ROLE_OPERATOR
    };
    struct nbd_framer framer;
    msgpack_sbuffer out;
    memset(&framer, 0, sizeof(framer));
    msgpack_sbuffer_init(&out);

    while (size > 0) {
        size_t used = 0;
        uint8_t *body = NULL;
        size_t len = 0;
        int r = nbd_framer_feed(&framer, data, size, &used, &body, &len);
        if (r < 0) {
            nbd_control_error_frame(&out, NB_CTL_E_BAD_REQUEST, "bad length");
            break;
        }
        data += used;
        size -= used;
        if (r == 0)
            break;
        r = nbd_control_handle(&ctx, body, len, &out);
        free(body);
        if (r < 0 || r == NBD_AFTER_CLOSE)
            break;
    }
    check_frames(&out);
    nbd_framer_clear(&framer);
    msgpack_sbuffer_destroy(&out);
    return 0;
}
