/*
 * What a hostile peer can send during rateless reconciliation: arbitrary
 * bytes as a RIBLT message, decoded as the daemon decodes it, and the coded
 * symbols of a `symbols` message fed to a responder's decoder that holds a
 * small set (the peeling runs on whatever the peer made up).
 *
 * Invariants checked beyond "no crash, no leak":
 *   - a decoded message re-encodes to the same bytes (the wire form has one
 *     encoding per message);
 *   - the decoder stays within its bounds: no more symbols than its local
 *     prefix, no more decoded ids than NB_RIBLT_DIFF_MAX, and every decoded
 *     id is on one side or the other;
 *   - the responder's answer to them decodes cleanly: `more` within the
 *     prefix, or the difference in parts that list every decoded id once
 *     and end with the last.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <noaber/error.h>
#include <noaber/riblt.h>

#include <sodium.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define IDS     40
#define SYMBOLS 256

static struct nb_riblt_encoder local;

static void build_local(void)
{
    static bool built;
    if (built)
        return;
    if (sodium_init() < 0 || nb_riblt_encoder_init(&local, SYMBOLS) < 0)
        abort();
    for (int i = 0; i < IDS; i++) {
        uint8_t id[NB_RIBLT_ID_SIZE];
        for (int k = 0; k < NB_RIBLT_ID_SIZE; k++)
            id[k] = (uint8_t)(i * 37 + k * 11);
        nb_riblt_encoder_add(&local, id);
    }
    built = true;
}

static struct nb_riblt_symbol symbols[NB_RIBLT_BATCH_MAX];
static struct nb_riblt_symbol again[NB_RIBLT_BATCH_MAX];
static uint8_t out[NB_RIBLT_BATCH_MAX * 60];
/* The responder's answer, apart from the re-encoding in `out`. */
static uint8_t answer[NB_RIBLT_DIFF_IDS_MAX * NB_RIBLT_ID_SIZE + 64];

static void check_answer(const struct nb_riblt_decoder *dec, int added, bool flight_end)
{
    uint64_t total = 0;
    size_t len, pos = 0, listed = 0;
    struct nb_riblt_msg m;
    switch (nb_riblt_answer(dec, added, flight_end, &total)) {
    case NB_RIBLT_WAIT:
        if (flight_end)
            abort();
        return;
    case NB_RIBLT_MORE:
        if (total < 1 || total > dec->local->m ||
            nb_riblt_encode_more(total, answer, sizeof(answer), &len) < 0 ||
            nb_riblt_msg_decode(answer, len, &m, again) < 0 || m.total != total)
            abort();
        return;
    case NB_RIBLT_DIFF:
        do {
            if (nb_riblt_encode_answer(dec, &pos, answer, sizeof(answer), &len) < 0 ||
                nb_riblt_msg_decode(answer, len, &m, again) < 0 || m.type != NB_RIBLT_DIFF)
                abort();
            listed += m.n_have + m.n_need;
            if (m.last != (pos == dec->n_decoded))
                abort();
        } while (pos < dec->n_decoded);
        if (listed != dec->n_decoded)
            abort();
        return;
    case NB_RIBLT_FALLBACK:
        return;
    case NB_RIBLT_SYMBOLS:
        break;
    }
    abort();
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    build_local();
    struct nb_riblt_msg m;
    if (nb_riblt_msg_decode(data, size, &m, symbols) < 0)
        return 0;
    size_t len = 0;
    int r = NB_EINVAL;
    switch (m.type) {
    case NB_RIBLT_SYMBOLS: {
        /* Re-encoded through an encoder that holds exactly these symbols. */
        struct nb_riblt_encoder enc;
        if (nb_riblt_encoder_init(&enc, NB_RIBLT_SYMBOLS_MAX) < 0)
            abort();
        memcpy(&enc.symbols[m.first], symbols, m.n_symbols * sizeof(symbols[0]));
        r = nb_riblt_encode_symbols(&enc, m.first, m.n_symbols, m.end, out, sizeof(out), &len);
        nb_riblt_encoder_free(&enc);
        struct nb_riblt_decoder dec;
        if (nb_riblt_decoder_init(&dec, &local) < 0)
            abort();
        int added = 0;
        for (size_t i = 0; i < m.n_symbols && added == 0 && !nb_riblt_decoder_done(&dec); i++)
            added = nb_riblt_decoder_add(&dec, &symbols[i]);
        if (dec.m > local.m || dec.n_decoded > NB_RIBLT_DIFF_MAX)
            abort();
        for (size_t i = 0; i < dec.n_decoded; i++)
            if (dec.decoded[i].side != 1 && dec.decoded[i].side != -1)
                abort();
        check_answer(&dec, added, m.first + m.n_symbols == m.end);
        nb_riblt_decoder_free(&dec);
        break;
    }
    case NB_RIBLT_MORE:
        r = nb_riblt_encode_more(m.total, out, sizeof(out), &len);
        break;
    case NB_RIBLT_DIFF:
        r = nb_riblt_encode_diff(m.last, (const uint8_t(*)[NB_RIBLT_ID_SIZE])m.have, m.n_have,
                                 (const uint8_t(*)[NB_RIBLT_ID_SIZE])m.need, m.n_need, out,
                                 sizeof(out), &len);
        break;
    case NB_RIBLT_FALLBACK:
        r = nb_riblt_encode_fallback(out, sizeof(out), &len);
        break;
    }
    if (r < 0 || len != size || memcmp(out, data, size) != 0)
        abort();
    return 0;
}
