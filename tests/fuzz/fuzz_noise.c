/*
 * What a hostile peer can send to the Noise transport: arbitrary handshake
 * messages at each step of Noise_XXpsk3, and arbitrary bytes to the frame
 * decoder and to an established link, chopped at arbitrary places.
 *
 * The first input byte picks the target (mod 4):
 *   0  a fresh responder reads the rest as message 1 and, if it accepts it,
 *      writes message 2;
 *   1  a responder that has seen a genuine message 1 and answered reads the
 *      rest as message 3;
 *   2  an initiator that has sent message 1 reads the rest as message 2;
 *   3  an established link and a small-bound decoder are fed the rest, in
 *      chunks whose sizes come from the input itself.
 * All keys are fixed so every run is reproducible.  Beyond "no crash" it
 * checks the decoder's consumption accounting.
 *
 * Built with -DFUZZ_NOISE_WRITE_SEEDS it becomes a program that writes the
 * seed corpus (genuine messages for each target) into the directory given.
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <noaber/error.h>
#include <noaber/frame.h>
#include <noaber/noise.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void check(int ok)
{
    if (!ok) {
        abort();
    }
}

static const uint8_t psk[NB_NOISE_KEY_SIZE] = { 0x50, 0x53, 0x4b };
static const uint8_t init_s[NB_NOISE_KEY_SIZE] = { 1, 2, 3 };
static const uint8_t init_e[NB_NOISE_KEY_SIZE] = { 4, 5, 6 };
static const uint8_t resp_s[NB_NOISE_KEY_SIZE] = { 7, 8, 9 };
static const uint8_t resp_e[NB_NOISE_KEY_SIZE] = { 10, 11, 12 };
static const uint8_t link_key_a[NB_NOISE_KEY_SIZE] = { 0xaa };
static const uint8_t link_key_b[NB_NOISE_KEY_SIZE] = { 0xbb };

static void setup(struct nb_noise_handshake *hs, enum nb_noise_role role)
{
    struct nb_noise_config cfg = {
        .role = role,
        .prologue = (const uint8_t *)NB_NOISE_PROLOGUE,
        .prologue_len = NB_NOISE_PROLOGUE_LEN,
        .static_sk = role == NB_NOISE_INITIATOR ? init_s : resp_s,
        .psks = psk,
        .psk_count = 1,
        .ephemeral_sk = role == NB_NOISE_INITIATOR ? init_e : resp_e,
    };
    check(nb_noise_handshake_init(hs, &cfg) == 0);
}

static uint8_t msg[NB_NOISE_MAX_MSG];
static uint8_t payload[NB_NOISE_MAX_MSG];

static void write_msg(struct nb_noise_handshake *hs, size_t *ret_len)
{
    check(nb_noise_handshake_write(hs, (const uint8_t *)"hello", 5, msg, sizeof(msg), ret_len) ==
          0);
}

static void read_msg(struct nb_noise_handshake *hs, const uint8_t *m, size_t len)
{
    size_t pl_len = 0;

    check(nb_noise_handshake_read(hs, m, len, payload, sizeof(payload), &pl_len) == 0);
}

/* Reads hostile bytes as the next handshake message and checks that the
 * handshake either moves on or fails for good. */
static void hostile_read(struct nb_noise_handshake *hs, const uint8_t *data, size_t size)
{
    size_t pl_len = 0;
    int rc = nb_noise_handshake_read(hs, data, size, payload, sizeof(payload), &pl_len);

    if (rc == 0) {
        check(pl_len <= size);
        check(nb_noise_handshake_next(hs) != NB_NOISE_FAILED);
    } else {
        check(rc == NB_EHANDSHAKE || rc == NB_ETOOBIG);
        check(nb_noise_handshake_next(hs) == NB_NOISE_FAILED);
    }
}

static void make_link(struct nb_frame_link *l)
{
    struct nb_noise_cipher send = { .has_key = true }, recv = { .has_key = true };

    memcpy(send.k, link_key_a, sizeof(send.k));
    memcpy(recv.k, link_key_b, sizeof(recv.k));
    check(nb_frame_link_init(l, &send, &recv, 3) == 0);
}

static void feed_link(const uint8_t *data, size_t size)
{
    static struct nb_frame_link link;
    static struct nb_frame_decoder dec;
    size_t off = 0;
    bool link_ok = true, dec_ok = true;

    make_link(&link);
    check(nb_frame_decoder_init(&dec, 300) == 0);
    while (off < size && (link_ok || dec_ok)) {
        /* One byte of input says how big the next chunk is. */
        size_t chunk = 1 + (size_t)data[off] * 7;
        off++;
        if (chunk > size - off) {
            chunk = size - off;
        }
        if (link_ok) {
            size_t done = 0;
            while (done < chunk) {
                const uint8_t *m = NULL;
                size_t used = 0, m_len = 0;
                int rc =
                    nb_frame_link_open(&link, data + off + done, chunk - done, &used, &m, &m_len);
                if (rc < 0) {
                    check(nb_frame_link_open(&link, data, 1, &used, &m, &m_len) == NB_ESTATE);
                    link_ok = false;
                    break;
                }
                check(used > 0 && used <= chunk - done);
                check(m == NULL || m_len <= NB_FRAME_MAX_PLAINTEXT);
                done += used;
            }
        }
        if (dec_ok) {
            size_t done = 0;
            while (done < chunk) {
                const uint8_t *body = NULL;
                size_t used = 0, body_len = 0;
                int rc = nb_frame_decoder_feed(&dec, data + off + done, chunk - done, &used, &body,
                                               &body_len);
                if (rc < 0) {
                    check(rc == NB_EMALFORMED || rc == NB_ETOOBIG);
                    check(dec.have <= NB_FRAME_HEADER_SIZE);
                    dec_ok = false;
                    break;
                }
                check(used > 0 && used <= chunk - done);
                check(body == NULL || (body_len >= 1 && body_len <= 300));
                check(dec.have <= NB_FRAME_HEADER_SIZE + 300);
                done += used;
            }
        }
        off += chunk;
    }
    nb_frame_link_wipe(&link);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    struct nb_noise_handshake ini, resp;
    size_t len = 0;

    if (size < 1) {
        return 0;
    }
    switch (data[0] % 4) {
    case 0:
        setup(&resp, NB_NOISE_RESPONDER);
        hostile_read(&resp, data + 1, size - 1);
        if (nb_noise_handshake_next(&resp) == NB_NOISE_WRITE) {
            int rc = nb_noise_handshake_write(&resp, NULL, 0, msg, sizeof(msg), &len);
            /* A low-order ephemeral makes "ee" all zeros: refused. */
            check(rc == 0 || rc == NB_EHANDSHAKE);
        }
        break;
    case 1:
        setup(&ini, NB_NOISE_INITIATOR);
        setup(&resp, NB_NOISE_RESPONDER);
        write_msg(&ini, &len);
        read_msg(&resp, msg, len);
        write_msg(&resp, &len);
        hostile_read(&resp, data + 1, size - 1);
        if (nb_noise_handshake_next(&resp) == NB_NOISE_SPLIT) {
            struct nb_noise_cipher s, r;
            check(nb_noise_handshake_split(&resp, &s, &r, NULL) == 0);
            nb_noise_cipher_wipe(&s);
            nb_noise_cipher_wipe(&r);
        }
        break;
    case 2:
        setup(&ini, NB_NOISE_INITIATOR);
        write_msg(&ini, &len);
        hostile_read(&ini, data + 1, size - 1);
        break;
    default:
        feed_link(data + 1, size - 1);
        break;
    }
    nb_noise_handshake_wipe(&ini);
    nb_noise_handshake_wipe(&resp);
    return 0;
}

#ifdef FUZZ_NOISE_WRITE_SEEDS
static void put(const char *dir, const char *name, uint8_t mode, const uint8_t *b, size_t len)
{
    char path[4096];
    FILE *f;

    snprintf(path, sizeof(path), "%s/%s", dir, name);
    f = fopen(path, "wb");
    check(f != NULL);
    check(fwrite(&mode, 1, 1, f) == 1);
    check(fwrite(b, 1, len, f) == len);
    check(fclose(f) == 0);
}

int main(int argc, char **argv)
{
    struct nb_noise_handshake ini, resp;
    struct nb_frame_link a, b;
    static uint8_t stream[4096];
    size_t len = 0, pos = 0;

    check(argc == 2);
    setup(&ini, NB_NOISE_INITIATOR);
    setup(&resp, NB_NOISE_RESPONDER);
    write_msg(&ini, &len);
    put(argv[1], "msg1", 0, msg, len);
    read_msg(&resp, msg, len);
    write_msg(&resp, &len);
    put(argv[1], "msg2", 2, msg, len);
    read_msg(&ini, msg, len);
    write_msg(&ini, &len);
    put(argv[1], "msg3", 1, msg, len);

    /* Frames as the link in case 3 expects them: sealed by a peer whose send
     * key is our receive key, all in one chunk (size byte 255). */
    make_link(&a);
    {
        struct nb_noise_cipher send = { .has_key = true }, recv = { .has_key = true };
        memcpy(send.k, link_key_b, sizeof(send.k));
        memcpy(recv.k, link_key_a, sizeof(recv.k));
        check(nb_frame_link_init(&b, &send, &recv, 3) == 0);
    }
    stream[pos++] = 255;
    for (int i = 0; i < 5; i++) {
        size_t flen = 0;
        check(nb_frame_link_seal(&b, (const uint8_t *)"neighbour", 9, stream + pos,
                                 sizeof(stream) - pos, &flen) == 0);
        pos += flen;
    }
    put(argv[1], "frames", 3, stream, pos);
    nb_frame_link_wipe(&a);
    nb_frame_link_wipe(&b);
    return 0;
}
#endif
