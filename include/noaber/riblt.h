/*
 * Set reconciliation with rateless invertible Bloom lookup tables (RIBLT;
 * Yang, Gilad, Alizadeh, "Practical Rateless Set Reconciliation", SIGCOMM
 * 2024), as Noaber nodes speak it (docs/protocol.md, "Rateless
 * reconciliation").
 *
 * Each side's set is the 32-byte ids of the records it holds.  The initiator
 * streams coded symbols 0, 1, 2, ... of its set; each coded symbol is the
 * xor of the ids mapped to it, the xor of their hashes and their count.  The
 * responder subtracts its own coded symbols of the same indices and peels
 * the difference: a coded symbol left with one id (count +1 or -1 and a
 * matching hash) yields that id, which is then removed from every other
 * coded symbol it maps to.  About 1.35 to 1.7 coded symbols per differing
 * id suffice, however large the sets.
 *
 * An id maps to coded symbol 0 always and to symbol i with probability
 * about 1/(1 + i/2), so adding an id to a prefix of m coded symbols touches
 * about 2 ln(m) of them: the encoder keeps its prefix up to date as records
 * come and go, and a node never re-hashes its set for a peer.
 *
 * This module is pure: no I/O, no clock.  It allocates with malloc().
 */
#ifndef NOABER_RIBLT_H
#define NOABER_RIBLT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

#define NB_RIBLT_ID_SIZE 32
/* The first byte of every RIBLT message: protocol version 1. */
#define NB_RIBLT_VERSION 0x01
/* The most coded symbols of one reconciliation.  A responder that has not
 * decoded after this many falls back to Negentropy: the difference is then
 * larger than about 2,400 records, where Negentropy costs little more per
 * record. */
#define NB_RIBLT_SYMBOLS_MAX 4096
/* The most coded symbols in one `symbols` message (~51 KB at most). */
#define NB_RIBLT_BATCH_MAX 1024
/* The most differing ids a decoder recovers; past it, decoding fails. */
#define NB_RIBLT_DIFF_MAX 4096
/* The most ids in one `diff` message, both lists together (~48 KB). */
#define NB_RIBLT_DIFF_IDS_MAX 1500
/* The key of the hash of an id: public and fixed, so that one encoder
 * serves every peer (see docs/protocol.md for why that is safe). */
#define NB_RIBLT_HASH_KEY "noaber/riblt/v1/"
/* Indices at or past 2^32 are never used: the mapping ends there. */
#define NB_RIBLT_INDEX_END UINT64_MAX

/* One coded symbol. */
struct nb_riblt_symbol {
    uint8_t sum[NB_RIBLT_ID_SIZE]; /* xor of the ids mapped here */
    uint64_t hash;                 /* xor of their hashes */
    int64_t count;                 /* how many (a difference: may be < 0) */
};

/* The hash of an id: SipHash-2-4 under NB_RIBLT_HASH_KEY, little-endian. */
uint64_t nb_riblt_hash(const uint8_t id[NB_RIBLT_ID_SIZE]);

/* The indices of the coded symbols an id maps to, in increasing order. */
struct nb_riblt_mapping {
    uint64_t state;
    uint64_t index; /* the current index; NB_RIBLT_INDEX_END once past 2^32 */
};

/* Starts at index 0 (every id maps to coded symbol 0). */
void nb_riblt_mapping_init(struct nb_riblt_mapping *m, uint64_t hash);
/* Advances to the next index and returns it (NB_RIBLT_INDEX_END at the end). */
uint64_t nb_riblt_mapping_next(struct nb_riblt_mapping *m);

/* Adds (sign +1) or removes (-1) `id` with hash `hash` to or from a
 * coded symbol. */
void nb_riblt_symbol_apply(struct nb_riblt_symbol *s, const uint8_t id[NB_RIBLT_ID_SIZE],
                           uint64_t hash, int64_t sign);

/*
 * The first `m` coded symbols of a set, kept up to date as ids are added
 * and removed.  Adding or removing an id costs about 2 ln(m) symbol updates.
 */
struct nb_riblt_encoder {
    struct nb_riblt_symbol *symbols;
    size_t m;
    uint64_t ids; /* how many ids the set holds */
};

/* An empty set's first `m` coded symbols (1..NB_RIBLT_SYMBOLS_MAX).
 * Returns 0, NB_EINVAL or NB_ENOMEM. */
int nb_riblt_encoder_init(struct nb_riblt_encoder *enc, size_t m);
void nb_riblt_encoder_free(struct nb_riblt_encoder *enc);
/* A copy of `src` in `dst` (which is overwritten).  Returns 0 or NB_ENOMEM. */
int nb_riblt_encoder_copy(struct nb_riblt_encoder *dst, const struct nb_riblt_encoder *src);
/* The caller adds an id only when the set does not hold it, and removes one
 * only when it does. */
void nb_riblt_encoder_add(struct nb_riblt_encoder *enc, const uint8_t id[NB_RIBLT_ID_SIZE]);
void nb_riblt_encoder_remove(struct nb_riblt_encoder *enc, const uint8_t id[NB_RIBLT_ID_SIZE]);

/* A decoded id and the side that holds it. */
struct nb_riblt_decoded {
    uint8_t id[NB_RIBLT_ID_SIZE];
    uint64_t hash;
    int64_t side;                 /* +1: only the remote (encoding) side; -1: only the local side */
    struct nb_riblt_mapping next; /* its first index not received yet */
};

/*
 * The responder's side: the remote coded symbols as they arrive, minus the
 * local encoder's, peeled as far as they go.  Its arrays grow with the
 * symbols received and the ids decoded (about 53 bytes a symbol and 64 an
 * id), bounded by NB_RIBLT_SYMBOLS_MAX symbols and NB_RIBLT_DIFF_MAX ids
 * (about 470 KB).
 */
struct nb_riblt_decoder {
    const struct nb_riblt_encoder *local; /* borrowed; m >= the symbols received */
    struct nb_riblt_symbol *cs;           /* differences, remote - local */
    bool *queued;                         /* cs[i] is in `pure` */
    uint32_t *pure;                       /* indices to examine */
    size_t n_pure;
    size_t m;        /* coded symbols received */
    size_t cap;      /* room in cs, queued and pure */
    size_t nonempty; /* of them, how many are not all zero */
    struct nb_riblt_decoded *decoded;
    size_t n_decoded, decoded_cap;
    /* The remote set's size minus the local one's, from coded symbol 0
     * (which counts every id): the difference holds at least this many. */
    int64_t apart;
};

/* A decoder against `local`, whose prefix bounds how many symbols it takes.
 * Allocates nothing until symbols arrive; returns 0. */
int nb_riblt_decoder_init(struct nb_riblt_decoder *dec, const struct nb_riblt_encoder *local);
void nb_riblt_decoder_free(struct nb_riblt_decoder *dec);
/*
 * Takes the remote coded symbol of index dec->m and peels what it can.
 * Returns 0, NB_ETOOBIG (more symbols than the local prefix, or more than
 * NB_RIBLT_DIFF_MAX differing ids: the difference is too large to decode),
 * NB_EMALFORMED (a remote count out of bounds) or NB_ENOMEM.
 */
int nb_riblt_decoder_add(struct nb_riblt_decoder *dec, const struct nb_riblt_symbol *remote);
/* Every coded symbol received is peeled to nothing: the decoded ids are the
 * whole difference. */
bool nb_riblt_decoder_done(const struct nb_riblt_decoder *dec);

/* ---- messages ------------------------------------------------------------ */

enum nb_riblt_msg_type {
    NB_RIBLT_WAIT = 0,     /* (no message) not decoded; the flight goes on */
    NB_RIBLT_SYMBOLS = 1,  /* initiator: coded symbols first .. first+n-1 */
    NB_RIBLT_MORE = 2,     /* responder: not decoded yet; send up to `total` */
    NB_RIBLT_DIFF = 3,     /* responder: decoded; (part of) the difference */
    NB_RIBLT_FALLBACK = 4, /* responder: cannot decode; use Negentropy */
};

/* One decoded message; `have` and `need` point into the decoded input. */
struct nb_riblt_msg {
    enum nb_riblt_msg_type type;
    uint64_t first;      /* symbols: index of the first symbol */
    size_t n_symbols;    /* symbols: how many (in the caller's array) */
    uint64_t end;        /* symbols: the flight ends before this index */
    uint64_t total;      /* more */
    bool last;           /* diff: the last part */
    const uint8_t *have; /* diff: ids only the initiator holds */
    size_t n_have;
    const uint8_t *need; /* diff: ids only the responder holds */
    size_t n_need;
};

/* Encodes coded symbols first .. first+n-1 of `enc` (n in 1..NB_RIBLT_BATCH_MAX,
 * first + n <= end <= enc->m), of a flight that ends before index `end`.
 * Returns 0, NB_EINVAL or NB_ETOOBIG (out_cap). */
int nb_riblt_encode_symbols(const struct nb_riblt_encoder *enc, size_t first, size_t n, size_t end,
                            uint8_t *out, size_t out_cap, size_t *ret_len);
int nb_riblt_encode_more(uint64_t total, uint8_t *out, size_t out_cap, size_t *ret_len);
/* n_have + n_need <= NB_RIBLT_DIFF_IDS_MAX. */
int nb_riblt_encode_diff(bool last, const uint8_t (*have)[NB_RIBLT_ID_SIZE], size_t n_have,
                         const uint8_t (*need)[NB_RIBLT_ID_SIZE], size_t n_need, uint8_t *out,
                         size_t out_cap, size_t *ret_len);
int nb_riblt_encode_fallback(uint8_t *out, size_t out_cap, size_t *ret_len);

/*
 * The responder's answer once it has taken a `symbols` message, `added`
 * being what nb_riblt_decoder_add last returned (0 or NB_ETOOBIG), and
 * `flight_end` whether the message ended its flight (first + n = end):
 *   NB_RIBLT_DIFF      decoded: send the difference (nb_riblt_encode_answer);
 *   NB_RIBLT_FALLBACK  the difference cannot be decoded: the decoder is
 *                      over a bound, every symbol of the prefix came, or
 *                      the set sizes alone are more than
 *                      NB_RIBLT_SYMBOLS_MAX / 1.7 apart;
 *   NB_RIBLT_MORE      at the end of a flight, with *ret_total: twice the
 *                      symbols received, at least 1.7 per id the set sizes
 *                      are apart, at most the prefix;
 *   NB_RIBLT_WAIT      otherwise: nothing to send, the flight goes on.
 */
enum nb_riblt_msg_type nb_riblt_answer(const struct nb_riblt_decoder *dec, int added,
                                       bool flight_end, uint64_t *ret_total);

/*
 * Encodes the next part of a decoded difference, from decoded id *pos on
 * (0 for the first part), at most NB_RIBLT_DIFF_IDS_MAX ids, and advances
 * *pos; the part that reaches the end is marked last.  out_cap must hold
 * NB_RIBLT_DIFF_IDS_MAX ids and 16 bytes.  Returns 0 or NB_ETOOBIG.
 */
int nb_riblt_encode_answer(const struct nb_riblt_decoder *dec, size_t *pos, uint8_t *out,
                           size_t out_cap, size_t *ret_len);

/*
 * Decodes one message strictly: the version byte, a known type, minimal
 * varints within their bounds, exact lengths, nothing after the end.
 * Symbols go to `symbols` (NB_RIBLT_BATCH_MAX of them).  Returns 0,
 * NB_EVERSION or NB_EMALFORMED; on error *ret is untouched.
 */
int nb_riblt_msg_decode(const uint8_t *buf, size_t len, struct nb_riblt_msg *ret,
                        struct nb_riblt_symbol symbols[NB_RIBLT_BATCH_MAX]);

#ifdef __cplusplus
}
#endif

#endif
