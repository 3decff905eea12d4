/*
 * The Noise Protocol Framework, revision 34, with 25519, ChaChaPoly and
 * BLAKE2b.  Section numbers in comments refer to that specification.
 *
 * The handshake is a small interpreter over token lists.  The table below
 * holds every handshake pattern of sections 7.4 (one-way), 7.5 (interactive
 * fundamental) and 7.7 (deferred) in the specification's own notation; psk
 * modifiers (section 9.3) are applied to a copy of the pattern when a
 * handshake is set up.  Noaber needs only XXpsk3, but the whole table costs
 * a few lines and lets the published vectors check the interpreter from
 * every angle.
 */
#include <noaber/noise.h>

#include <noaber/error.h>

#include <sodium.h>
#include <string.h>

enum token {
    TOK_E = 1,
    TOK_S,
    TOK_EE,
    TOK_ES,
    TOK_SE,
    TOK_SS,
    TOK_PSK,
};

struct pattern_def {
    const char *name;
    bool pre_initiator_s; /* "-> s" before "..." */
    bool pre_responder_s; /* "<- s" before "..." */
    const char *messages[NB_NOISE_MAX_MSGS];
};

/* Messages alternate initiator -> responder, responder -> initiator, ...;
 * a one-way pattern (single letter name) has only the initiator's message. */
static const struct pattern_def patterns[] = {
    /* 7.4 One-way handshake patterns. */
    { "N", false, true, { "e es" } },
    { "K", true, true, { "e es ss" } },
    { "X", false, true, { "e es s ss" } },
    /* 7.5 Interactive handshake patterns (fundamental). */
    { "NN", false, false, { "e", "e ee" } },
    { "NK", false, true, { "e es", "e ee" } },
    { "NX", false, false, { "e", "e ee s es" } },
    { "XN", false, false, { "e", "e ee", "s se" } },
    { "XK", false, true, { "e es", "e ee", "s se" } },
    { "XX", false, false, { "e", "e ee s es", "s se" } },
    { "KN", true, false, { "e", "e ee se" } },
    { "KK", true, true, { "e es ss", "e ee se" } },
    { "KX", true, false, { "e", "e ee se s es" } },
    { "IN", false, false, { "e s", "e ee se" } },
    { "IK", false, true, { "e es s ss", "e ee se" } },
    { "IX", false, false, { "e s", "e ee se s es" } },
    /* 7.7 Interactive handshake patterns (deferred). */
    { "NK1", false, true, { "e", "e ee es" } },
    { "NX1", false, false, { "e", "e ee s", "es" } },
    { "X1N", false, false, { "e", "e ee", "s", "se" } },
    { "X1K", false, true, { "e es", "e ee", "s", "se" } },
    { "XK1", false, true, { "e", "e ee es", "s se" } },
    { "X1K1", false, true, { "e", "e ee es", "s", "se" } },
    { "X1X", false, false, { "e", "e ee s es", "s", "se" } },
    { "XX1", false, false, { "e", "e ee s", "es s se" } },
    { "X1X1", false, false, { "e", "e ee s", "es s", "se" } },
    { "K1N", true, false, { "e", "e ee", "se" } },
    { "K1K", true, true, { "e es", "e ee", "se" } },
    { "KK1", true, true, { "e", "e ee se es" } },
    { "K1K1", true, true, { "e", "e ee es", "se" } },
    { "K1X", true, false, { "e", "e ee s es", "se" } },
    { "KX1", true, false, { "e", "e ee se s", "es" } },
    { "K1X1", true, false, { "e", "e ee s", "se es" } },
    { "I1N", false, false, { "e s", "e ee", "se" } },
    { "I1K", false, true, { "e es s", "e ee", "se" } },
    { "IK1", false, true, { "e s", "e ee se es" } },
    { "I1K1", false, true, { "e s", "e ee es", "se" } },
    { "I1X", false, false, { "e s", "e ee s es", "se" } },
    { "IX1", false, false, { "e s", "e ee se s", "es" } },
    { "I1X1", false, false, { "e s", "e ee s", "se es" } },
};

#define SUITE_SUFFIX "_25519_ChaChaPoly_BLAKE2b"
#define BLOCK_SIZE   128 /* BLAKE2b's BLOCKLEN, for HMAC */

/* ---- CipherState (section 5.1) ---------------------------------------- */

static void make_nonce(uint8_t nonce[12], uint64_t n)
{
    /* ChaChaPoly (section 12.3): 32 bits of zeros, then n little-endian. */
    memset(nonce, 0, 4);
    for (int i = 0; i < 8; i++) {
        nonce[4 + i] = (uint8_t)(n >> (8 * i));
    }
}

static void cipher_set_key(struct nb_noise_cipher *c, const uint8_t *key)
{
    memcpy(c->k, key, NB_NOISE_KEY_SIZE);
    c->n = 0;
    c->has_key = true;
}

int nb_noise_cipher_encrypt(struct nb_noise_cipher *c, const uint8_t *ad, size_t ad_len,
                            const uint8_t *plain, size_t len, uint8_t *out, size_t out_cap,
                            size_t *ret_len)
{
    uint8_t nonce[12];
    unsigned long long clen = 0;

    if (!c->has_key || c->n == UINT64_MAX) {
        return NB_ESTATE;
    }
    if (len > NB_NOISE_MAX_MSG - NB_NOISE_TAG_SIZE || out_cap < len + NB_NOISE_TAG_SIZE) {
        return NB_ETOOBIG;
    }
    make_nonce(nonce, c->n);
    crypto_aead_chacha20poly1305_ietf_encrypt(out, &clen, plain, len, ad, ad_len, NULL, nonce,
                                              c->k);
    c->n++;
    *ret_len = (size_t)clen;
    return 0;
}

int nb_noise_cipher_decrypt(struct nb_noise_cipher *c, const uint8_t *ad, size_t ad_len,
                            const uint8_t *cipher, size_t len, uint8_t *out, size_t out_cap,
                            size_t *ret_len)
{
    uint8_t nonce[12];
    unsigned long long mlen = 0;

    if (!c->has_key || c->n == UINT64_MAX) {
        return NB_ESTATE;
    }
    if (len > NB_NOISE_MAX_MSG) {
        return NB_ETOOBIG;
    }
    if (len < NB_NOISE_TAG_SIZE) {
        return NB_EDECRYPT;
    }
    if (out_cap < len - NB_NOISE_TAG_SIZE) {
        return NB_ETOOBIG;
    }
    make_nonce(nonce, c->n);
    if (crypto_aead_chacha20poly1305_ietf_decrypt(out, &mlen, NULL, cipher, len, ad, ad_len, nonce,
                                                  c->k) != 0) {
        return NB_EDECRYPT;
    }
    c->n++;
    *ret_len = (size_t)mlen;
    return 0;
}

int nb_noise_cipher_rekey(struct nb_noise_cipher *c)
{
    /* Section 4.2: REKEY(k) = ENCRYPT(k, maxnonce, zerolen, zeros) truncated
     * to 32 bytes.  The reserved nonce 2^64 - 1 is never used for messages,
     * so this cannot collide with a message encryption. */
    uint8_t zeros[NB_NOISE_KEY_SIZE] = { 0 };
    uint8_t out[NB_NOISE_KEY_SIZE + NB_NOISE_TAG_SIZE];
    uint8_t nonce[12];

    if (!c->has_key) {
        return NB_ESTATE;
    }
    make_nonce(nonce, UINT64_MAX);
    crypto_aead_chacha20poly1305_ietf_encrypt(out, NULL, zeros, sizeof(zeros), NULL, 0, NULL, nonce,
                                              c->k);
    memcpy(c->k, out, NB_NOISE_KEY_SIZE);
    sodium_memzero(out, sizeof(out));
    return 0;
}

void nb_noise_cipher_set_nonce(struct nb_noise_cipher *c, uint64_t n)
{
    c->n = n;
}

void nb_noise_cipher_wipe(struct nb_noise_cipher *c)
{
    sodium_memzero(c, sizeof(*c));
}

/* ---- Hash, HMAC and HKDF (sections 4.3 and 12.8) ---------------------- */

static void hash2(uint8_t out[NB_NOISE_HASH_SIZE], const uint8_t *a, size_t a_len, const uint8_t *b,
                  size_t b_len)
{
    crypto_generichash_blake2b_state st;

    crypto_generichash_blake2b_init(&st, NULL, 0, NB_NOISE_HASH_SIZE);
    crypto_generichash_blake2b_update(&st, a, a_len);
    crypto_generichash_blake2b_update(&st, b, b_len);
    crypto_generichash_blake2b_final(&st, out, NB_NOISE_HASH_SIZE);
    sodium_memzero(&st, sizeof(st));
}

/* HMAC-BLAKE2b (RFC 2104 with BLAKE2b-512 as H).  The key is always HASHLEN
 * bytes here (a chaining key or an HKDF temp key), shorter than BLOCKLEN, so
 * it is only zero-padded, never hashed first.  The data is given as two
 * pieces because HKDF feeds "previous output || counter byte". */
static void hmac(const uint8_t key[NB_NOISE_HASH_SIZE], const uint8_t *d1, size_t d1_len,
                 const uint8_t *d2, size_t d2_len, uint8_t out[NB_NOISE_HASH_SIZE])
{
    uint8_t pad[BLOCK_SIZE];
    uint8_t inner[NB_NOISE_HASH_SIZE];
    crypto_generichash_blake2b_state st;

    memset(pad, 0x36, sizeof(pad));
    for (size_t i = 0; i < NB_NOISE_HASH_SIZE; i++) {
        pad[i] ^= key[i];
    }
    crypto_generichash_blake2b_init(&st, NULL, 0, NB_NOISE_HASH_SIZE);
    crypto_generichash_blake2b_update(&st, pad, sizeof(pad));
    crypto_generichash_blake2b_update(&st, d1, d1_len);
    crypto_generichash_blake2b_update(&st, d2, d2_len);
    crypto_generichash_blake2b_final(&st, inner, sizeof(inner));

    memset(pad, 0x5c, sizeof(pad));
    for (size_t i = 0; i < NB_NOISE_HASH_SIZE; i++) {
        pad[i] ^= key[i];
    }
    crypto_generichash_blake2b_init(&st, NULL, 0, NB_NOISE_HASH_SIZE);
    crypto_generichash_blake2b_update(&st, pad, sizeof(pad));
    crypto_generichash_blake2b_update(&st, inner, sizeof(inner));
    crypto_generichash_blake2b_final(&st, out, NB_NOISE_HASH_SIZE);

    sodium_memzero(pad, sizeof(pad));
    sodium_memzero(inner, sizeof(inner));
    sodium_memzero(&st, sizeof(st));
}

/* HKDF(chaining_key, input_key_material, num_outputs) of section 4.3, with
 * two or three outputs (out3 NULL for two).  The outputs may alias the
 * chaining key: everything is computed into locals first. */
static void hkdf(const uint8_t ck[NB_NOISE_HASH_SIZE], const uint8_t *ikm, size_t ikm_len,
                 uint8_t out1[NB_NOISE_HASH_SIZE], uint8_t out2[NB_NOISE_HASH_SIZE],
                 uint8_t out3[NB_NOISE_HASH_SIZE])
{
    uint8_t temp[NB_NOISE_HASH_SIZE];
    uint8_t o1[NB_NOISE_HASH_SIZE];
    uint8_t o2[NB_NOISE_HASH_SIZE];
    uint8_t o3[NB_NOISE_HASH_SIZE];
    const uint8_t one = 0x01, two = 0x02, three = 0x03;

    hmac(ck, ikm, ikm_len, NULL, 0, temp);
    hmac(temp, &one, 1, NULL, 0, o1);
    hmac(temp, o1, sizeof(o1), &two, 1, o2);
    if (out3 != NULL) {
        hmac(temp, o2, sizeof(o2), &three, 1, o3);
        memcpy(out3, o3, sizeof(o3));
    }
    memcpy(out1, o1, sizeof(o1));
    memcpy(out2, o2, sizeof(o2));
    sodium_memzero(temp, sizeof(temp));
    sodium_memzero(o1, sizeof(o1));
    sodium_memzero(o2, sizeof(o2));
    sodium_memzero(o3, sizeof(o3));
}

/* ---- SymmetricState (section 5.2) ------------------------------------- */

static void mix_hash(struct nb_noise_handshake *hs, const uint8_t *data, size_t len)
{
    hash2(hs->h, hs->h, sizeof(hs->h), data, len);
}

static void mix_key(struct nb_noise_handshake *hs, const uint8_t *ikm, size_t len)
{
    uint8_t temp_k[NB_NOISE_HASH_SIZE];

    hkdf(hs->ck, ikm, len, hs->ck, temp_k, NULL);
    cipher_set_key(&hs->cs, temp_k); /* truncated to 32 bytes (HASHLEN 64) */
    sodium_memzero(temp_k, sizeof(temp_k));
}

static void mix_key_and_hash(struct nb_noise_handshake *hs, const uint8_t *ikm, size_t len)
{
    uint8_t temp_h[NB_NOISE_HASH_SIZE];
    uint8_t temp_k[NB_NOISE_HASH_SIZE];

    hkdf(hs->ck, ikm, len, hs->ck, temp_h, temp_k);
    mix_hash(hs, temp_h, sizeof(temp_h));
    cipher_set_key(&hs->cs, temp_k);
    sodium_memzero(temp_h, sizeof(temp_h));
    sodium_memzero(temp_k, sizeof(temp_k));
}

/* EncryptAndHash: the caller has checked that `out` has room for len plus a
 * tag when there is a key. */
static int encrypt_and_hash(struct nb_noise_handshake *hs, const uint8_t *plain, size_t len,
                            uint8_t *out, size_t *ret_len)
{
    size_t out_len = len;

    if (hs->cs.has_key) {
        int rc = nb_noise_cipher_encrypt(&hs->cs, hs->h, sizeof(hs->h), plain, len, out,
                                         len + NB_NOISE_TAG_SIZE, &out_len);
        if (rc < 0) {
            return rc;
        }
    } else if (len > 0) {
        memmove(out, plain, len);
    }
    mix_hash(hs, out, out_len);
    *ret_len = out_len;
    return 0;
}

/* DecryptAndHash.  The new h is computed before decrypting so that `out` may
 * overlap `cipher`; it is only stored when the ciphertext authenticates. */
static int decrypt_and_hash(struct nb_noise_handshake *hs, const uint8_t *cipher, size_t len,
                            uint8_t *out, size_t *ret_len)
{
    uint8_t next_h[NB_NOISE_HASH_SIZE];
    size_t out_len = len;

    hash2(next_h, hs->h, sizeof(hs->h), cipher, len);
    if (hs->cs.has_key) {
        if (len < NB_NOISE_TAG_SIZE) {
            return NB_EHANDSHAKE;
        }
        if (nb_noise_cipher_decrypt(&hs->cs, hs->h, sizeof(hs->h), cipher, len, out,
                                    len - NB_NOISE_TAG_SIZE, &out_len) < 0) {
            return NB_EHANDSHAKE;
        }
    } else if (len > 0) {
        memmove(out, cipher, len);
    }
    memcpy(hs->h, next_h, sizeof(next_h));
    *ret_len = out_len;
    return 0;
}

/* ---- HandshakeState (section 5.3) ------------------------------------- */

static bool is_initiators_message(const struct nb_noise_handshake *hs, unsigned index)
{
    return hs->one_way || index % 2 == 0;
}

static bool our_turn(const struct nb_noise_handshake *hs, unsigned index)
{
    return is_initiators_message(hs, index) == (hs->role == NB_NOISE_INITIATOR);
}

static void update_action(struct nb_noise_handshake *hs)
{
    if (hs->msg_index >= hs->msg_count) {
        hs->action = NB_NOISE_SPLIT;
    } else {
        hs->action = our_turn(hs, hs->msg_index) ? NB_NOISE_WRITE : NB_NOISE_READ;
    }
}

static void fail(struct nb_noise_handshake *hs)
{
    nb_noise_handshake_wipe(hs);
}

/* Parses "e es s ss" into token codes. */
static int parse_tokens(const char *text, uint8_t *tokens, uint8_t *ret_count)
{
    static const struct {
        const char *word;
        enum token tok;
    } words[] = {
        { "e", TOK_E },   { "s", TOK_S },   { "ee", TOK_EE },   { "es", TOK_ES },
        { "se", TOK_SE }, { "ss", TOK_SS }, { "psk", TOK_PSK },
    };
    uint8_t count = 0;
    const char *p = text;

    while (*p != '\0') {
        size_t len = strcspn(p, " ");
        bool found = false;

        for (size_t i = 0; i < sizeof(words) / sizeof(words[0]); i++) {
            if (strlen(words[i].word) == len && memcmp(words[i].word, p, len) == 0) {
                if (count >= NB_NOISE_MAX_TOKENS) {
                    return NB_EINVAL;
                }
                tokens[count++] = (uint8_t)words[i].tok;
                found = true;
                break;
            }
        }
        if (!found) {
            return NB_EINVAL;
        }
        p += len;
        while (*p == ' ') {
            p++;
        }
    }
    *ret_count = count;
    return 0;
}

static int insert_token(struct nb_noise_handshake *hs, unsigned msg, bool at_start, uint8_t tok)
{
    uint8_t *list = hs->tokens[msg];
    uint8_t n = hs->token_count[msg];

    if (n >= NB_NOISE_MAX_TOKENS) {
        return NB_EVERSION;
    }
    if (at_start) {
        memmove(list + 1, list, n);
        list[0] = tok;
    } else {
        list[n] = tok;
    }
    hs->token_count[msg] = (uint8_t)(n + 1);
    return 0;
}

/* Splits "Noise_XXpsk3_25519_ChaChaPoly_BLAKE2b" into the pattern and its
 * modifiers, and fills the handshake's token lists.  Returns the number of
 * psk tokens through ret_psks. */
static int load_pattern(struct nb_noise_handshake *hs, const char *name,
                        const struct pattern_def **ret_def, size_t *ret_psks)
{
    static const char prefix[] = "Noise_";
    size_t name_len = strlen(name);
    size_t suffix_len = strlen(SUITE_SUFFIX);
    const char *hp;
    size_t hp_len, base_len;
    const struct pattern_def *def = NULL;
    size_t psks = 0;
    unsigned seen = 0;
    int rc;

    if (name_len <= strlen(prefix) + suffix_len || memcmp(name, prefix, strlen(prefix)) != 0 ||
        strcmp(name + name_len - suffix_len, SUITE_SUFFIX) != 0) {
        return NB_EVERSION;
    }
    hp = name + strlen(prefix);
    hp_len = name_len - strlen(prefix) - suffix_len;
    /* The base pattern is the part before the first modifier; only psk
     * modifiers are supported. */
    for (base_len = 0; base_len < hp_len; base_len++) {
        if (hp[base_len] == 'p') {
            break;
        }
    }
    for (size_t i = 0; i < sizeof(patterns) / sizeof(patterns[0]); i++) {
        if (strlen(patterns[i].name) == base_len && memcmp(patterns[i].name, hp, base_len) == 0) {
            def = &patterns[i];
            break;
        }
    }
    if (def == NULL) {
        return NB_EVERSION;
    }

    hs->one_way = base_len == 1;
    hs->msg_count = 0;
    for (unsigned m = 0; m < NB_NOISE_MAX_MSGS && def->messages[m] != NULL; m++) {
        rc = parse_tokens(def->messages[m], hs->tokens[m], &hs->token_count[m]);
        if (rc < 0) {
            return rc;
        }
        hs->msg_count = (uint8_t)(m + 1);
    }

    /* Modifiers: "psk0", "psk2", "psk0+psk2", ... (section 9.3). */
    for (size_t pos = base_len; pos < hp_len;) {
        unsigned num;

        if (pos != base_len) {
            if (hp[pos] != '+') {
                return NB_EVERSION;
            }
            pos++;
        }
        if (hp_len - pos < 4 || memcmp(hp + pos, "psk", 3) != 0 || hp[pos + 3] < '0' ||
            hp[pos + 3] > '9') {
            return NB_EVERSION;
        }
        num = (unsigned)(hp[pos + 3] - '0');
        pos += 4;
        if (num > hs->msg_count || (seen & (1u << num)) != 0 || psks >= NB_NOISE_MAX_PSKS) {
            return NB_EVERSION;
        }
        seen |= 1u << num;
        /* psk0 goes at the beginning of the first message, pskN at the end of
         * the Nth message. */
        rc = num == 0 ? insert_token(hs, 0, true, TOK_PSK)
                      : insert_token(hs, num - 1, false, TOK_PSK);
        if (rc < 0) {
            return rc;
        }
        psks++;
    }
    *ret_def = def;
    *ret_psks = psks;
    return 0;
}

/* Does the pattern make `role` send token `tok` in some message? */
static bool role_sends(const struct nb_noise_handshake *hs, enum nb_noise_role role, uint8_t tok)
{
    for (unsigned m = 0; m < hs->msg_count; m++) {
        if (is_initiators_message(hs, m) != (role == NB_NOISE_INITIATOR)) {
            continue;
        }
        for (unsigned t = 0; t < hs->token_count[m]; t++) {
            if (hs->tokens[m][t] == tok) {
                return true;
            }
        }
    }
    return false;
}

int nb_noise_handshake_init(struct nb_noise_handshake *hs, const struct nb_noise_config *cfg)
{
    const char *name = cfg->protocol_name != NULL ? cfg->protocol_name : NB_NOISE_PROTOCOL_NAME;
    const struct pattern_def *def = NULL;
    bool need_s, need_rs, need_e;
    size_t psks = 0;
    size_t name_len;
    int rc;

    memset(hs, 0, sizeof(*hs));
    hs->action = NB_NOISE_FAILED;
    if (sodium_init() < 0) {
        return NB_ECRYPTO;
    }
    if (cfg->role != NB_NOISE_INITIATOR && cfg->role != NB_NOISE_RESPONDER) {
        return NB_EINVAL;
    }
    if (cfg->prologue == NULL && cfg->prologue_len > 0) {
        return NB_EINVAL;
    }
    rc = load_pattern(hs, name, &def, &psks);
    if (rc < 0) {
        goto out;
    }
    hs->role = cfg->role;

    need_s = role_sends(hs, hs->role, TOK_S) ||
             (hs->role == NB_NOISE_INITIATOR ? def->pre_initiator_s : def->pre_responder_s);
    need_rs = hs->role == NB_NOISE_INITIATOR ? def->pre_responder_s : def->pre_initiator_s;
    need_e = role_sends(hs, hs->role, TOK_E);

    /* Keys the pattern has no use for are refused rather than ignored: a
     * caller that passes one has most likely picked the wrong pattern. */
    rc = NB_EINVAL;
    if (need_s != (cfg->static_sk != NULL) || need_rs != (cfg->remote_static != NULL) ||
        (!need_e && cfg->ephemeral_sk != NULL) || psks != cfg->psk_count ||
        (psks > 0 && cfg->psks == NULL)) {
        goto out;
    }

    rc = NB_ECRYPTO;
    if (need_s) {
        memcpy(hs->s_sk, cfg->static_sk, NB_NOISE_KEY_SIZE);
        if (crypto_scalarmult_base(hs->s_pk, hs->s_sk) != 0) {
            goto out;
        }
        hs->has_s = true;
    }
    if (need_e) {
        if (cfg->ephemeral_sk != NULL) {
            memcpy(hs->e_sk, cfg->ephemeral_sk, NB_NOISE_KEY_SIZE);
        } else {
            randombytes_buf(hs->e_sk, NB_NOISE_KEY_SIZE);
        }
        if (crypto_scalarmult_base(hs->e_pk, hs->e_sk) != 0) {
            goto out;
        }
        /* has_e is set when the e token is processed: until then the
         * ephemeral has not been sent and DH tokens must not use it. */
    }
    if (need_rs) {
        memcpy(hs->rs, cfg->remote_static, NB_NOISE_KEY_SIZE);
        hs->has_rs = true;
    }
    for (size_t i = 0; i < psks; i++) {
        memcpy(hs->psks[i], cfg->psks + i * NB_NOISE_KEY_SIZE, NB_NOISE_KEY_SIZE);
    }
    hs->psk_mode = psks > 0;

    /* InitializeSymmetric(protocol_name). */
    name_len = strlen(name);
    if (name_len <= NB_NOISE_HASH_SIZE) {
        memcpy(hs->h, name, name_len);
    } else {
        crypto_generichash_blake2b(hs->h, NB_NOISE_HASH_SIZE, (const uint8_t *)name, name_len, NULL,
                                   0);
    }
    memcpy(hs->ck, hs->h, sizeof(hs->ck));
    mix_hash(hs, cfg->prologue, cfg->prologue_len);

    /* Pre-messages: the initiator's public keys first, then the
     * responder's (section 7.1). */
    if (def->pre_initiator_s) {
        mix_hash(hs, hs->role == NB_NOISE_INITIATOR ? hs->s_pk : hs->rs, NB_NOISE_KEY_SIZE);
    }
    if (def->pre_responder_s) {
        mix_hash(hs, hs->role == NB_NOISE_RESPONDER ? hs->s_pk : hs->rs, NB_NOISE_KEY_SIZE);
    }
    hs->msg_index = 0;
    update_action(hs);
    return 0;

out:
    fail(hs);
    return rc;
}

int nb_noise_handshake_init_peer(struct nb_noise_handshake *hs, enum nb_noise_role role,
                                 const uint8_t node_sk[NB_NOISE_KEY_SIZE],
                                 const uint8_t neighbourhood_psk[NB_NOISE_KEY_SIZE])
{
    const struct nb_noise_config cfg = {
        .protocol_name = NB_NOISE_PROTOCOL_NAME,
        .role = role,
        .prologue = (const uint8_t *)NB_NOISE_PROLOGUE,
        .prologue_len = NB_NOISE_PROLOGUE_LEN,
        .static_sk = node_sk,
        .psks = neighbourhood_psk,
        .psk_count = 1,
    };

    return nb_noise_handshake_init(hs, &cfg);
}

enum nb_noise_action nb_noise_handshake_next(const struct nb_noise_handshake *hs)
{
    return hs->action;
}

/* Performs the DH of a token.  "es" is always between the initiator's
 * ephemeral and the responder's static, whoever processes it. */
static int dh_token(struct nb_noise_handshake *hs, uint8_t tok)
{
    bool initiator = hs->role == NB_NOISE_INITIATOR;
    const uint8_t *sk;
    const uint8_t *pk;
    bool have;
    uint8_t shared[NB_NOISE_KEY_SIZE];

    switch (tok) {
    case TOK_EE:
        sk = hs->e_sk, pk = hs->re, have = hs->has_e && hs->has_re;
        break;
    case TOK_ES:
        if (initiator) {
            sk = hs->e_sk, pk = hs->rs, have = hs->has_e && hs->has_rs;
        } else {
            sk = hs->s_sk, pk = hs->re, have = hs->has_s && hs->has_re;
        }
        break;
    case TOK_SE:
        if (initiator) {
            sk = hs->s_sk, pk = hs->re, have = hs->has_s && hs->has_re;
        } else {
            sk = hs->e_sk, pk = hs->rs, have = hs->has_e && hs->has_rs;
        }
        break;
    case TOK_SS:
        sk = hs->s_sk, pk = hs->rs, have = hs->has_s && hs->has_rs;
        break;
    default:
        return NB_EHANDSHAKE;
    }
    if (!have) {
        return NB_EHANDSHAKE;
    }
    /* libsodium refuses an all-zero result, which only a low-order public
     * key produces: a peer sending one is not doing an honest handshake. */
    if (crypto_scalarmult(shared, sk, pk) != 0) {
        sodium_memzero(shared, sizeof(shared));
        return NB_EHANDSHAKE;
    }
    mix_key(hs, shared, sizeof(shared));
    sodium_memzero(shared, sizeof(shared));
    return 0;
}

/* Counts the bytes the current message's tokens occupy, following when a key
 * comes into use, and whether the payload will be encrypted.  This lets write
 * and read check sizes before they change any state. */
static size_t token_bytes(const struct nb_noise_handshake *hs, bool *ret_payload_keyed)
{
    bool keyed = hs->cs.has_key;
    size_t bytes = 0;

    for (unsigned t = 0; t < hs->token_count[hs->msg_index]; t++) {
        switch (hs->tokens[hs->msg_index][t]) {
        case TOK_E:
            bytes += NB_NOISE_KEY_SIZE;
            keyed = keyed || hs->psk_mode;
            break;
        case TOK_S:
            bytes += NB_NOISE_KEY_SIZE + (keyed ? NB_NOISE_TAG_SIZE : 0);
            break;
        default:
            keyed = true;
            break;
        }
    }
    *ret_payload_keyed = keyed;
    return bytes;
}

static int process_psk(struct nb_noise_handshake *hs)
{
    mix_key_and_hash(hs, hs->psks[hs->psk_used], NB_NOISE_KEY_SIZE);
    hs->psk_used++;
    return 0;
}

int nb_noise_handshake_write(struct nb_noise_handshake *hs, const uint8_t *payload,
                             size_t payload_len, uint8_t *out, size_t out_cap, size_t *ret_len)
{
    bool keyed;
    size_t need, pos = 0, n = 0;
    int rc = 0;

    if (hs->action != NB_NOISE_WRITE) {
        return NB_ESTATE;
    }
    if (payload == NULL && payload_len > 0) {
        return NB_EINVAL;
    }
    need = token_bytes(hs, &keyed);
    if (payload_len > NB_NOISE_MAX_MSG ||
        need + payload_len + (keyed ? NB_NOISE_TAG_SIZE : 0) > NB_NOISE_MAX_MSG ||
        need + payload_len + (keyed ? NB_NOISE_TAG_SIZE : 0) > out_cap) {
        return NB_ETOOBIG;
    }

    for (unsigned t = 0; t < hs->token_count[hs->msg_index]; t++) {
        uint8_t tok = hs->tokens[hs->msg_index][t];

        switch (tok) {
        case TOK_E:
            memcpy(out + pos, hs->e_pk, NB_NOISE_KEY_SIZE);
            pos += NB_NOISE_KEY_SIZE;
            hs->has_e = true;
            mix_hash(hs, hs->e_pk, NB_NOISE_KEY_SIZE);
            if (hs->psk_mode) {
                mix_key(hs, hs->e_pk, NB_NOISE_KEY_SIZE);
            }
            break;
        case TOK_S:
            rc = encrypt_and_hash(hs, hs->s_pk, NB_NOISE_KEY_SIZE, out + pos, &n);
            pos += n;
            break;
        case TOK_PSK:
            rc = process_psk(hs);
            break;
        default:
            rc = dh_token(hs, tok);
            break;
        }
        if (rc < 0) {
            goto out;
        }
    }
    rc = encrypt_and_hash(hs, payload, payload_len, out + pos, &n);
    if (rc < 0) {
        goto out;
    }
    pos += n;
    hs->msg_index++;
    update_action(hs);
    *ret_len = pos;
    return 0;

out:
    fail(hs);
    return rc;
}

int nb_noise_handshake_read(struct nb_noise_handshake *hs, const uint8_t *msg, size_t msg_len,
                            uint8_t *payload, size_t payload_cap, size_t *ret_payload_len)
{
    bool keyed;
    size_t need, pos = 0, n = 0, payload_len;
    uint8_t rs[NB_NOISE_KEY_SIZE];
    int rc = 0;

    if (hs->action != NB_NOISE_READ) {
        return NB_ESTATE;
    }
    rc = NB_ETOOBIG;
    if (msg_len > NB_NOISE_MAX_MSG) {
        goto out;
    }
    need = token_bytes(hs, &keyed);
    rc = NB_EHANDSHAKE;
    if (msg_len < need + (keyed ? NB_NOISE_TAG_SIZE : 0)) {
        goto out;
    }
    payload_len = msg_len - need - (keyed ? NB_NOISE_TAG_SIZE : 0);
    rc = NB_ETOOBIG;
    if (payload_len > payload_cap) {
        goto out;
    }

    for (unsigned t = 0; t < hs->token_count[hs->msg_index]; t++) {
        uint8_t tok = hs->tokens[hs->msg_index][t];

        rc = 0;
        switch (tok) {
        case TOK_E:
            memcpy(hs->re, msg + pos, NB_NOISE_KEY_SIZE);
            pos += NB_NOISE_KEY_SIZE;
            hs->has_re = true;
            mix_hash(hs, hs->re, NB_NOISE_KEY_SIZE);
            if (hs->psk_mode) {
                mix_key(hs, hs->re, NB_NOISE_KEY_SIZE);
            }
            break;
        case TOK_S: {
            size_t len = NB_NOISE_KEY_SIZE + (hs->cs.has_key ? NB_NOISE_TAG_SIZE : 0);

            rc = decrypt_and_hash(hs, msg + pos, len, rs, &n);
            if (rc == 0) {
                memcpy(hs->rs, rs, NB_NOISE_KEY_SIZE);
                hs->has_rs = true;
            }
            pos += len;
            break;
        }
        case TOK_PSK:
            rc = process_psk(hs);
            break;
        default:
            rc = dh_token(hs, tok);
            break;
        }
        if (rc < 0) {
            goto out;
        }
    }
    rc = decrypt_and_hash(hs, msg + pos, msg_len - pos, payload, &n);
    if (rc < 0) {
        goto out;
    }
    hs->msg_index++;
    update_action(hs);
    *ret_payload_len = n;
    return 0;

out:
    sodium_memzero(rs, sizeof(rs));
    fail(hs);
    return rc;
}

int nb_noise_handshake_remote_static(const struct nb_noise_handshake *hs,
                                     uint8_t ret_pk[NB_NOISE_KEY_SIZE])
{
    if (!hs->has_rs) {
        return NB_ESTATE;
    }
    memcpy(ret_pk, hs->rs, NB_NOISE_KEY_SIZE);
    return 0;
}

int nb_noise_handshake_local_static(const struct nb_noise_handshake *hs,
                                    uint8_t ret_pk[NB_NOISE_KEY_SIZE])
{
    if (!hs->has_s) {
        return NB_ESTATE;
    }
    memcpy(ret_pk, hs->s_pk, NB_NOISE_KEY_SIZE);
    return 0;
}

int nb_noise_handshake_split(struct nb_noise_handshake *hs, struct nb_noise_cipher *ret_send,
                             struct nb_noise_cipher *ret_recv, uint8_t ret_hash[NB_NOISE_HASH_SIZE])
{
    uint8_t k1[NB_NOISE_HASH_SIZE];
    uint8_t k2[NB_NOISE_HASH_SIZE];
    struct nb_noise_cipher c1, c2;
    bool initiator = hs->role == NB_NOISE_INITIATOR;
    uint8_t rs[NB_NOISE_KEY_SIZE], s_pk[NB_NOISE_KEY_SIZE];
    bool has_rs, has_s;

    if (hs->action != NB_NOISE_SPLIT) {
        return NB_ESTATE;
    }
    /* Split(): c1 carries initiator -> responder, c2 the other way. */
    hkdf(hs->ck, NULL, 0, k1, k2, NULL);
    memset(&c1, 0, sizeof(c1));
    memset(&c2, 0, sizeof(c2));
    cipher_set_key(&c1, k1);
    /* A one-way pattern has no responder -> initiator direction (section
     * 7.4): that side's cipher is left without a key, so using it fails. */
    if (!hs->one_way) {
        cipher_set_key(&c2, k2);
    }
    if (ret_hash != NULL) {
        memcpy(ret_hash, hs->h, NB_NOISE_HASH_SIZE);
    }
    *ret_send = initiator ? c1 : c2;
    *ret_recv = initiator ? c2 : c1;
    sodium_memzero(k1, sizeof(k1));
    sodium_memzero(k2, sizeof(k2));
    sodium_memzero(&c1, sizeof(c1));
    sodium_memzero(&c2, sizeof(c2));
    /* The static public keys stay readable after the split: the daemon looks
     * up the peer's key once the link is up.  Everything secret goes. */
    memcpy(rs, hs->rs, sizeof(rs));
    memcpy(s_pk, hs->s_pk, sizeof(s_pk));
    has_rs = hs->has_rs;
    has_s = hs->has_s;
    nb_noise_handshake_wipe(hs);
    memcpy(hs->rs, rs, sizeof(rs));
    memcpy(hs->s_pk, s_pk, sizeof(s_pk));
    hs->has_rs = has_rs;
    hs->has_s = has_s;
    hs->action = NB_NOISE_DONE;
    return 0;
}

void nb_noise_handshake_wipe(struct nb_noise_handshake *hs)
{
    sodium_memzero(hs, sizeof(*hs));
    hs->action = NB_NOISE_FAILED;
}

int nb_noise_public_key(const uint8_t sk[NB_NOISE_KEY_SIZE], uint8_t ret_pk[NB_NOISE_KEY_SIZE])
{
    uint8_t pk[NB_NOISE_KEY_SIZE];

    if (sodium_init() < 0 || crypto_scalarmult_base(pk, sk) != 0) {
        return NB_ECRYPTO;
    }
    memcpy(ret_pk, pk, sizeof(pk));
    return 0;
}
