/*
 * Peer link framing: u16 big-endian length || body, with one Noise message
 * per body.  See include/noaber/frame.h and docs/protocol.md ("Transport").
 */
#include <noaber/frame.h>

#include <noaber/error.h>

#include <sodium.h>
#include <string.h>

int nb_frame_decoder_init(struct nb_frame_decoder *d, size_t max_body)
{
    if (max_body == 0 || max_body > NB_FRAME_MAX_BODY) {
        return NB_EINVAL;
    }
    d->max_body = max_body;
    d->have = 0;
    d->delivered = false;
    d->failed = false;
    return 0;
}

static size_t header_length(const struct nb_frame_decoder *d)
{
    return ((size_t)d->buf[0] << 8) | d->buf[1];
}

int nb_frame_decoder_feed(struct nb_frame_decoder *d, const uint8_t *in, size_t len,
                          size_t *ret_consumed, const uint8_t **ret_body, size_t *ret_body_len)
{
    size_t used = 0;
    size_t body_len = 0;

    if (d->failed) {
        return NB_ESTATE;
    }
    if (d->delivered) {
        /* The caller has had the previous frame; its bytes may go now. */
        d->have = 0;
        d->delivered = false;
    }
    while (used < len) {
        size_t want, take;

        if (d->have < NB_FRAME_HEADER_SIZE) {
            want = NB_FRAME_HEADER_SIZE - d->have;
        } else {
            want = NB_FRAME_HEADER_SIZE + header_length(d) - d->have;
        }
        take = len - used < want ? len - used : want;
        memcpy(d->buf + d->have, in + used, take);
        d->have += take;
        used += take;

        if (d->have == NB_FRAME_HEADER_SIZE && take > 0) {
            /* The header is complete: judge the length before buffering a
             * single byte of the body, so a peer cannot make us hold more
             * than max_body. */
            body_len = header_length(d);
            if (body_len == 0) {
                d->failed = true;
                return NB_EMALFORMED;
            }
            if (body_len > d->max_body) {
                d->failed = true;
                return NB_ETOOBIG;
            }
        }
        if (d->have >= NB_FRAME_HEADER_SIZE && d->have == NB_FRAME_HEADER_SIZE + header_length(d)) {
            d->delivered = true;
            *ret_consumed = used;
            *ret_body = d->buf + NB_FRAME_HEADER_SIZE;
            *ret_body_len = header_length(d);
            return 0;
        }
    }
    *ret_consumed = used;
    *ret_body = NULL;
    *ret_body_len = 0;
    return 0;
}

int nb_frame_handshake_write(struct nb_noise_handshake *hs, const uint8_t *payload,
                             size_t payload_len, uint8_t *out, size_t out_cap, size_t *ret_len)
{
    size_t msg_len = 0;
    int rc;

    if (out_cap < NB_FRAME_HEADER_SIZE) {
        return NB_ETOOBIG;
    }
    rc = nb_noise_handshake_write(hs, payload, payload_len, out + NB_FRAME_HEADER_SIZE,
                                  out_cap - NB_FRAME_HEADER_SIZE, &msg_len);
    if (rc < 0) {
        return rc;
    }
    out[0] = (uint8_t)(msg_len >> 8);
    out[1] = (uint8_t)msg_len;
    *ret_len = NB_FRAME_HEADER_SIZE + msg_len;
    return 0;
}

int nb_frame_link_init(struct nb_frame_link *l, struct nb_noise_cipher *send,
                       struct nb_noise_cipher *recv, uint64_t rekey_interval)
{
    if (!send->has_key || !recv->has_key) {
        return NB_EINVAL;
    }
    memset(l, 0, offsetof(struct nb_frame_link, dec));
    l->send = *send;
    l->recv = *recv;
    l->rekey_interval = rekey_interval != 0 ? rekey_interval : NB_FRAME_REKEY_INTERVAL;
    l->failed = false;
    nb_noise_cipher_wipe(send);
    nb_noise_cipher_wipe(recv);
    return nb_frame_decoder_init(&l->dec, NB_FRAME_MAX_BODY);
}

/* Rekeys a direction once it has carried a whole interval of messages.  The
 * nonce only advances on success, so both ends reach the same count. */
static int maybe_rekey(struct nb_frame_link *l, struct nb_noise_cipher *c)
{
    if (c->n % l->rekey_interval == 0) {
        return nb_noise_cipher_rekey(c);
    }
    return 0;
}

int nb_frame_link_seal(struct nb_frame_link *l, const uint8_t *msg, size_t len, uint8_t *out,
                       size_t out_cap, size_t *ret_len)
{
    size_t ct_len = 0;
    int rc;

    if (l->failed) {
        return NB_ESTATE;
    }
    if (len > NB_FRAME_MAX_PLAINTEXT || out_cap < len + NB_FRAME_OVERHEAD) {
        return NB_ETOOBIG;
    }
    rc = nb_noise_cipher_encrypt(&l->send, NULL, 0, msg, len, out + NB_FRAME_HEADER_SIZE,
                                 out_cap - NB_FRAME_HEADER_SIZE, &ct_len);
    if (rc < 0) {
        return rc;
    }
    out[0] = (uint8_t)(ct_len >> 8);
    out[1] = (uint8_t)ct_len;
    rc = maybe_rekey(l, &l->send);
    if (rc < 0) {
        /* The message is sealed but the next key is unknown: stop here
         * rather than send under a key the peer will not have. */
        l->failed = true;
        return rc;
    }
    *ret_len = NB_FRAME_HEADER_SIZE + ct_len;
    return 0;
}

int nb_frame_link_open(struct nb_frame_link *l, const uint8_t *in, size_t len, size_t *ret_consumed,
                       const uint8_t **ret_msg, size_t *ret_msg_len)
{
    const uint8_t *body = NULL;
    size_t body_len = 0, used = 0, pt_len = 0;
    uint8_t *pt;
    int rc;

    if (l->failed) {
        return NB_ESTATE;
    }
    rc = nb_frame_decoder_feed(&l->dec, in, len, &used, &body, &body_len);
    if (rc < 0) {
        goto out;
    }
    if (body == NULL) {
        *ret_consumed = used;
        *ret_msg = NULL;
        *ret_msg_len = 0;
        return 0;
    }
    rc = NB_EMALFORMED;
    if (body_len < NB_NOISE_TAG_SIZE) {
        goto out;
    }
    /* Decrypt in place: the plaintext lives where the ciphertext was, inside
     * the decoder, and is handed out until the next call. */
    pt = l->dec.buf + NB_FRAME_HEADER_SIZE;
    rc = nb_noise_cipher_decrypt(&l->recv, NULL, 0, body, body_len, pt, body_len, &pt_len);
    if (rc < 0) {
        goto out;
    }
    rc = maybe_rekey(l, &l->recv);
    if (rc < 0) {
        goto out;
    }
    *ret_consumed = used;
    *ret_msg = pt;
    *ret_msg_len = pt_len;
    return 0;

out:
    l->failed = true;
    return rc;
}

void nb_frame_link_wipe(struct nb_frame_link *l)
{
    sodium_memzero(l, sizeof(*l));
    l->failed = true;
    l->dec.failed = true;
}
