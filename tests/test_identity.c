/*
 * Member keys as people see them: their text form catches typos instead of
 * naming somebody else, sealed boxes open for their recipient only, and
 * neighbourhood keys derive distinct ids, PSKs and beacon keys.
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include <noaber/error.h>
#include <noaber/identity.h>

/* The symbol a text character stands for, as Crockford reads it. */
static char symbol(char c)
{
    if (c >= 'A' && c <= 'Z') {
        c = (char)(c - 'A' + 'a');
    }
    if (c == 'o') {
        return '0';
    }
    if (c == 'i' || c == 'l') {
        return '1';
    }
    return c;
}

static void seed_from_counter(unsigned n, uint8_t seed[NB_SEED_SIZE])
{
    for (size_t i = 0; i < NB_SEED_SIZE; i++) {
        seed[i] = (uint8_t)(n * 131u + i * 7u + 1u);
    }
}

static int setup(void **state)
{
    (void)state;
    return nb_init();
}

/* --- Test vectors (tests/vectors/identity.txt) --- */

struct vector {
    char section[32];
    char name[64];
    char fields[6][2][160];
    int count;
};

static void copy(char *dst, size_t size, const char *src)
{
    size_t n = strlen(src);
    assert_true(n < size);
    memcpy(dst, src, n + 1);
}

static const char *field(const struct vector *v, const char *name)
{
    for (int i = 0; i < v->count; i++) {
        if (strcmp(v->fields[i][0], name) == 0) {
            return v->fields[i][1];
        }
    }
    fail_msg("vector %s %s has no field %s", v->section, v->name, name);
    return NULL;
}

static void unhex_field(const struct vector *v, const char *name, uint8_t *out, size_t len)
{
    assert_int_equal(nb_unhex(field(v, name), out, len), 0);
}

static void check_vector(const struct vector *v)
{
    uint8_t seed[NB_SEED_SIZE], pk[NB_KEY_SIZE], want_pk[NB_KEY_SIZE], parsed[NB_KEY_SIZE];
    uint8_t sk[NB_SECRET_KEY_SIZE];
    char text[NB_MEMBER_KEY_TEXT_LEN + 1];
    static char file[NB_KEY_FILE_MAX];
    char secret_line[128];

    if (strcmp(v->section, "neighbourhood") == 0) {
        uint8_t key[NB_NEIGHBOURHOOD_KEY_SIZE], got[32], want[32];
        unhex_field(v, "key", key, sizeof(key));
        assert_int_equal(nb_neighbourhood_id(key, got), 0);
        unhex_field(v, "id", want, sizeof(want));
        assert_memory_equal(got, want, 32);
        assert_int_equal(nb_neighbourhood_psk(key, got), 0);
        unhex_field(v, "psk", want, sizeof(want));
        assert_memory_equal(got, want, 32);
        assert_int_equal(nb_neighbourhood_beacon_key(key, got), 0);
        unhex_field(v, "beacon", want, sizeof(want));
        assert_memory_equal(got, want, 32);
        return;
    }

    bool member = strcmp(v->section, "member") == 0;
    assert_true(member || strcmp(v->section, "node") == 0);
    unhex_field(v, "seed", seed, sizeof(seed));
    unhex_field(v, "pk", want_pk, sizeof(want_pk));
    if (member) {
        assert_int_equal(nb_member_from_seed(seed, pk, sk), 0);
        nb_member_key_to_text(pk, text);
        assert_int_equal(nb_member_key_from_text(field(v, "text"), parsed), 0);
    } else {
        assert_int_equal(nb_node_from_seed(seed, pk, sk), 0);
        nb_node_key_to_text(pk, text);
        assert_int_equal(nb_node_key_from_text(field(v, "text"), parsed), 0);
    }
    assert_memory_equal(pk, want_pk, NB_KEY_SIZE);
    assert_string_equal(text, field(v, "text"));
    assert_memory_equal(parsed, want_pk, NB_KEY_SIZE);

    /* The key file carries the seed as the vector's secret text. */
    enum nb_key_file_kind kind = member ? NB_KEY_FILE_MEMBER : NB_KEY_FILE_NODE;
    assert_int_equal(nb_key_file_format(kind, seed, file, sizeof(file)), 0);
    snprintf(secret_line, sizeof(secret_line), "\nsecret %s\n", field(v, "secret"));
    assert_non_null(strstr(file, secret_line));
    assert_non_null(strstr(file, text));
}

static void published_vectors_hold(void **state)
{
    (void)state;
    const char *dir = getenv("NOABER_TEST_VECTORS");
    char path[1024], line[256];
    struct vector v;
    int checked = 0;

    assert_non_null(dir);
    snprintf(path, sizeof(path), "%s/identity.txt", dir);
    FILE *f = fopen(path, "r");
    assert_non_null(f);
    memset(&v, 0, sizeof(v));
    for (;;) {
        char *got = fgets(line, sizeof(line), f);
        line[strcspn(line, "\n")] = '\0';
        if (got == NULL || line[0] == '\0') {
            if (v.section[0] != '\0') {
                check_vector(&v);
                checked++;
            }
            memset(&v, 0, sizeof(v));
            if (got == NULL) {
                break;
            }
            continue;
        }
        if (line[0] == '#') {
            continue;
        }
        char *sp = strchr(line, ' ');
        assert_non_null(sp);
        *sp = '\0';
        if (v.section[0] == '\0') {
            copy(v.section, sizeof(v.section), line);
            copy(v.name, sizeof(v.name), sp + 1);
        } else {
            assert_true(v.count < 6);
            copy(v.fields[v.count][0], sizeof(v.fields[0][0]), line);
            copy(v.fields[v.count][1], sizeof(v.fields[0][1]), sp + 1);
            v.count++;
        }
    }
    fclose(f);
    assert_int_equal(checked, 5);
}

/* --- Text form --- */

static void random_keys_round_trip(void **state)
{
    (void)state;
    for (int i = 0; i < 500; i++) {
        uint8_t pk[NB_KEY_SIZE], sk[NB_SECRET_KEY_SIZE], back[NB_KEY_SIZE];
        char text[NB_MEMBER_KEY_TEXT_LEN + 1];

        assert_int_equal(nb_member_new(pk, sk), 0);
        nb_member_key_to_text(pk, text);
        assert_int_equal(strlen(text), NB_MEMBER_KEY_TEXT_LEN);
        assert_memory_equal(text, "nbm1", 4);
        assert_int_equal(nb_member_key_from_text(text, back), 0);
        assert_memory_equal(pk, back, NB_KEY_SIZE);

        nb_node_key_to_text(pk, text);
        assert_memory_equal(text, "nbn1", 4);
        assert_int_equal(nb_node_key_from_text(text, back), 0);
        assert_memory_equal(pk, back, NB_KEY_SIZE);
    }
}

/*
 * Every character at every position replaced by every other byte: the text
 * is rejected, or it names the very same key because the byte is the same
 * symbol (another case, or o/i/l for 0/1).
 */
static void every_substitution_is_rejected(void **state)
{
    (void)state;
    int checksum_failures = 0;

    for (unsigned k = 0; k < 8; k++) {
        uint8_t seed[NB_SEED_SIZE], pk[NB_KEY_SIZE], sk[NB_SECRET_KEY_SIZE], got[NB_KEY_SIZE];
        char text[NB_MEMBER_KEY_TEXT_LEN + 1], typo[NB_MEMBER_KEY_TEXT_LEN + 1];

        seed_from_counter(k, seed);
        assert_int_equal(nb_member_from_seed(seed, pk, sk), 0);
        nb_member_key_to_text(pk, text);
        for (size_t pos = 0; pos < NB_MEMBER_KEY_TEXT_LEN; pos++) {
            for (int c = 1; c < 256; c++) {
                if (c == (unsigned char)text[pos]) {
                    continue;
                }
                memcpy(typo, text, sizeof(typo));
                typo[pos] = (char)c;
                memset(got, 0xee, sizeof(got));
                int r = nb_member_key_from_text(typo, got);
                if (r == 0) {
                    assert_int_equal(symbol((char)c), symbol(text[pos]));
                    assert_memory_equal(got, pk, NB_KEY_SIZE);
                    continue;
                }
                assert_true(r == NB_EPREFIX || r == NB_EMALFORMED || r == NB_ECHECKSUM);
                /* Out-parameters are never written on failure. */
                for (size_t i = 0; i < sizeof(got); i++) {
                    assert_int_equal(got[i], 0xee);
                }
                checksum_failures += r == NB_ECHECKSUM;
            }
        }
    }
    /* Most typos are valid characters caught by the checksum alone. */
    assert_true(checksum_failures > 8 * 50 * 25);
}

static void adjacent_transpositions_are_rejected(void **state)
{
    (void)state;
    for (unsigned k = 0; k < 32; k++) {
        uint8_t seed[NB_SEED_SIZE], pk[NB_KEY_SIZE], sk[NB_SECRET_KEY_SIZE], got[NB_KEY_SIZE];
        char text[NB_MEMBER_KEY_TEXT_LEN + 1], swapped[NB_MEMBER_KEY_TEXT_LEN + 1];

        seed_from_counter(1000 + k, seed);
        assert_int_equal(nb_member_from_seed(seed, pk, sk), 0);
        nb_member_key_to_text(pk, text);
        for (size_t i = 0; i + 1 < NB_MEMBER_KEY_TEXT_LEN; i++) {
            if (text[i] == text[i + 1]) {
                continue;
            }
            memcpy(swapped, text, sizeof(swapped));
            swapped[i] = text[i + 1];
            swapped[i + 1] = text[i];
            assert_int_not_equal(nb_member_key_from_text(swapped, got), 0);
        }
    }
}

static void wrong_prefix_is_named_as_such(void **state)
{
    (void)state;
    uint8_t seed[NB_SEED_SIZE], pk[NB_KEY_SIZE], sk[NB_SECRET_KEY_SIZE], got[NB_KEY_SIZE];
    char text[NB_MEMBER_KEY_TEXT_LEN + 1], hex[2 * NB_KEY_SIZE + 1];

    seed_from_counter(7, seed);
    assert_int_equal(nb_member_from_seed(seed, pk, sk), 0);

    /* A node key where a member key belongs, and the other way round. */
    nb_node_key_to_text(pk, text);
    assert_int_equal(nb_member_key_from_text(text, got), NB_EPREFIX);
    nb_member_key_to_text(pk, text);
    assert_int_equal(nb_node_key_from_text(text, got), NB_EPREFIX);

    /* The same body under another prefix does not pass either. */
    text[2] = 'x';
    assert_int_equal(nb_member_key_from_text(text, got), NB_EPREFIX);
    nb_hex(pk, sizeof(pk), hex);
    assert_int_equal(nb_member_key_from_text(hex, got), NB_EPREFIX);
    assert_int_equal(nb_member_key_from_text("hello", got), NB_EPREFIX);
}

static void truncated_and_extended_texts_are_malformed(void **state)
{
    (void)state;
    uint8_t seed[NB_SEED_SIZE], pk[NB_KEY_SIZE], sk[NB_SECRET_KEY_SIZE], got[NB_KEY_SIZE];
    char text[NB_MEMBER_KEY_TEXT_LEN + 1], cut[NB_MEMBER_KEY_TEXT_LEN + 8];

    seed_from_counter(9, seed);
    assert_int_equal(nb_member_from_seed(seed, pk, sk), 0);
    nb_member_key_to_text(pk, text);
    for (size_t len = 0; len < NB_MEMBER_KEY_TEXT_LEN; len++) {
        memcpy(cut, text, len);
        cut[len] = '\0';
        assert_int_equal(nb_member_key_from_text(cut, got), NB_EMALFORMED);
    }
    snprintf(cut, sizeof(cut), "%sq", text);
    assert_int_equal(nb_member_key_from_text(cut, got), NB_EMALFORMED);
    snprintf(cut, sizeof(cut), "%s0000000", text);
    assert_int_equal(nb_member_key_from_text(cut, got), NB_EMALFORMED);
    /* Inner whitespace is not something we guess about. */
    memcpy(cut, text, 20);
    cut[20] = ' ';
    memcpy(cut + 21, text + 20, sizeof(text) - 20);
    assert_int_equal(nb_member_key_from_text(cut, got), NB_EMALFORMED);
    assert_int_equal(nb_member_key_from_text(NULL, got), NB_EINVAL);
}

static void nonzero_padding_bits_are_rejected(void **state)
{
    (void)state;
    static const char alphabet[] = "0123456789abcdefghjkmnpqrstvwxyz";
    uint8_t seed[NB_SEED_SIZE], pk[NB_KEY_SIZE], sk[NB_SECRET_KEY_SIZE], got[NB_KEY_SIZE];
    char text[NB_MEMBER_KEY_TEXT_LEN + 1];

    seed_from_counter(11, seed);
    assert_int_equal(nb_member_from_seed(seed, pk, sk), 0);
    nb_member_key_to_text(pk, text);
    /* 36 bytes are 288 bits: the last character carries 3 bits and 2 zeros. */
    char *last = &text[NB_MEMBER_KEY_TEXT_LEN - 1];
    int v = (int)(strchr(alphabet, *last) - alphabet);
    assert_int_equal(v & 3, 0);
    for (int pad = 1; pad < 4; pad++) {
        *last = alphabet[v | pad];
        assert_int_equal(nb_member_key_from_text(text, got), NB_EMALFORMED);
    }
}

static void sloppy_but_unambiguous_texts_are_accepted(void **state)
{
    (void)state;
    uint8_t seed[NB_SEED_SIZE], pk[NB_KEY_SIZE], sk[NB_SECRET_KEY_SIZE], got[NB_KEY_SIZE];
    char text[NB_MEMBER_KEY_TEXT_LEN + 1], sloppy[NB_MEMBER_KEY_TEXT_LEN + 16];

    /* Find a key whose text has both a 0 and a 1 to read as o and l. */
    for (unsigned k = 0;; k++) {
        seed_from_counter(100 + k, seed);
        assert_int_equal(nb_member_from_seed(seed, pk, sk), 0);
        nb_member_key_to_text(pk, text);
        if (strchr(text + 4, '0') != NULL && strchr(text + 4, '1') != NULL) {
            break;
        }
    }

    for (size_t i = 0; i <= NB_MEMBER_KEY_TEXT_LEN; i++) {
        sloppy[i] = (text[i] >= 'a' && text[i] <= 'z') ? (char)(text[i] - 'a' + 'A') : text[i];
    }
    assert_int_equal(nb_member_key_from_text(sloppy, got), 0);
    assert_memory_equal(got, pk, NB_KEY_SIZE);

    snprintf(sloppy, sizeof(sloppy), "  \t%s \r\n", text);
    assert_int_equal(nb_member_key_from_text(sloppy, got), 0);
    assert_memory_equal(got, pk, NB_KEY_SIZE);

    memcpy(sloppy, text, sizeof(text));
    for (size_t i = 4; i < NB_MEMBER_KEY_TEXT_LEN; i++) {
        if (sloppy[i] == '0') {
            sloppy[i] = 'O';
        } else if (sloppy[i] == '1') {
            sloppy[i] = (i % 2) ? 'l' : 'I';
        }
    }
    assert_int_equal(nb_member_key_from_text(sloppy, got), 0);
    assert_memory_equal(got, pk, NB_KEY_SIZE);
}

/* --- Sealing --- */

static void sealed_box_opens_for_its_recipient_only(void **state)
{
    (void)state;
    uint8_t alice_pk[NB_KEY_SIZE], alice_sk[NB_SECRET_KEY_SIZE];
    uint8_t bob_pk[NB_KEY_SIZE], bob_sk[NB_SECRET_KEY_SIZE];
    const char address[] = "Rue de la Paix 12, 3rd floor, ring twice";
    uint8_t box[sizeof(address) + NB_SEAL_OVERHEAD], box2[sizeof(box)];
    uint8_t opened[sizeof(address)];
    size_t len = 0;

    assert_int_equal(nb_member_new(alice_pk, alice_sk), 0);
    assert_int_equal(nb_member_new(bob_pk, bob_sk), 0);

    assert_int_equal(nb_seal((const uint8_t *)address, sizeof(address), bob_pk, box), 0);
    assert_int_equal(nb_unseal(box, sizeof(box), bob_pk, bob_sk, opened, &len), 0);
    assert_int_equal(len, sizeof(address));
    assert_memory_equal(opened, address, sizeof(address));

    /* Alice sent it, but she cannot read it back; nor can anyone else. */
    len = 12345;
    assert_int_equal(nb_unseal(box, sizeof(box), alice_pk, alice_sk, opened, &len), NB_EDECRYPT);
    assert_int_equal(len, 12345);

    /* Each seal uses a fresh ephemeral key: equal messages give other boxes. */
    assert_int_equal(nb_seal((const uint8_t *)address, sizeof(address), bob_pk, box2), 0);
    assert_memory_not_equal(box, box2, sizeof(box));

    /* Any flipped bit anywhere in the box is detected. */
    for (size_t i = 0; i < sizeof(box); i++) {
        for (int bit = 0; bit < 8; bit += 3) {
            box[i] ^= (uint8_t)(1u << bit);
            assert_int_equal(nb_unseal(box, sizeof(box), bob_pk, bob_sk, opened, &len),
                             NB_EDECRYPT);
            box[i] ^= (uint8_t)(1u << bit);
        }
    }
    for (size_t cut = 0; cut < sizeof(box); cut += 7) {
        assert_int_equal(nb_unseal(box, cut, bob_pk, bob_sk, opened, &len), NB_EDECRYPT);
    }
    assert_int_equal(nb_unseal(box, sizeof(box), bob_pk, bob_sk, opened, &len), 0);
}

static void empty_message_seals(void **state)
{
    (void)state;
    uint8_t pk[NB_KEY_SIZE], sk[NB_SECRET_KEY_SIZE], box[NB_SEAL_OVERHEAD], out[1];
    size_t len = 99;

    assert_int_equal(nb_member_new(pk, sk), 0);
    assert_int_equal(nb_seal(NULL, 0, pk, box), 0);
    assert_int_equal(nb_unseal(box, sizeof(box), pk, sk, out, &len), 0);
    assert_int_equal(len, 0);
}

static void sealing_to_an_invalid_key_fails(void **state)
{
    (void)state;
    uint8_t zero[NB_KEY_SIZE] = { 0 }, box[4 + NB_SEAL_OVERHEAD];

    assert_int_equal(nb_seal((const uint8_t *)"abcd", 4, zero, box), NB_ECRYPTO);
}

/* --- Neighbourhoods --- */

static void neighbourhood_derivations_differ_per_context_and_key(void **state)
{
    (void)state;
    uint8_t key_a[NB_NEIGHBOURHOOD_KEY_SIZE], key_b[NB_NEIGHBOURHOOD_KEY_SIZE];
    uint8_t out[2][3][32], again[32];

    assert_int_equal(nb_neighbourhood_key_new(key_a), 0);
    assert_int_equal(nb_neighbourhood_key_new(key_b), 0);
    assert_memory_not_equal(key_a, key_b, sizeof(key_a));
    for (int k = 0; k < 2; k++) {
        const uint8_t *key = k == 0 ? key_a : key_b;
        assert_int_equal(nb_neighbourhood_id(key, out[k][0]), 0);
        assert_int_equal(nb_neighbourhood_psk(key, out[k][1]), 0);
        assert_int_equal(nb_neighbourhood_beacon_key(key, out[k][2]), 0);
        /* None of them is the key itself. */
        for (int d = 0; d < 3; d++) {
            assert_memory_not_equal(out[k][d], key, 32);
        }
    }
    for (int i = 0; i < 6; i++) {
        for (int j = 0; j < i; j++) {
            assert_memory_not_equal(out[i / 3][i % 3], out[j / 3][j % 3], 32);
        }
    }
    assert_int_equal(nb_neighbourhood_id(key_a, again), 0);
    assert_memory_equal(again, out[0][0], 32);
}

/* --- Hex --- */

static void hex_round_trips_and_rejects_junk(void **state)
{
    (void)state;
    const uint8_t bytes[] = { 0x00, 0x01, 0xab, 0xcd, 0xef, 0xff };
    uint8_t back[sizeof(bytes)];
    char hex[2 * sizeof(bytes) + 1];

    nb_hex(bytes, sizeof(bytes), hex);
    assert_string_equal(hex, "0001abcdefff");
    assert_int_equal(nb_unhex(hex, back, sizeof(back)), 0);
    assert_memory_equal(back, bytes, sizeof(bytes));
    assert_int_equal(nb_unhex("0001ABCDEFFF", back, sizeof(back)), 0);
    assert_memory_equal(back, bytes, sizeof(bytes));

    memset(back, 0x55, sizeof(back));
    assert_int_equal(nb_unhex("0001abcdefgf", back, sizeof(back)), NB_EMALFORMED);
    assert_int_equal(nb_unhex("0001abcdef", back, sizeof(back)), NB_EMALFORMED);
    assert_int_equal(nb_unhex("0001abcdefff00", back, sizeof(back)), NB_EMALFORMED);
    assert_int_equal(nb_unhex("0001abcdeff ", back, sizeof(back)), NB_EMALFORMED);
    for (size_t i = 0; i < sizeof(back); i++) {
        assert_int_equal(back[i], 0x55);
    }
}

/* --- Key file text --- */

static void key_file_text_round_trips(void **state)
{
    (void)state;
    static char text[NB_KEY_FILE_MAX];
    uint8_t seed[NB_SEED_SIZE], back[NB_SEED_SIZE];

    seed_from_counter(21, seed);
    assert_int_equal(nb_key_file_format(NB_KEY_FILE_MEMBER, seed, text, sizeof(text)), 0);
    assert_memory_equal(text, "noaber-identity 1\n", 18);
    assert_int_equal(nb_key_file_parse(NB_KEY_FILE_MEMBER, text, strlen(text), back), 0);
    assert_memory_equal(back, seed, sizeof(seed));
    /* A member's identity is not a node key, and says so. */
    assert_int_equal(nb_key_file_parse(NB_KEY_FILE_NODE, text, strlen(text), back), NB_EPREFIX);

    assert_int_equal(nb_key_file_format(NB_KEY_FILE_MEMBER, seed, text, NB_KEY_FILE_MAX - 1),
                     NB_EINVAL);
    assert_int_equal(nb_key_file_format((enum nb_key_file_kind)3, seed, text, sizeof(text)),
                     NB_EINVAL);

    assert_int_equal(nb_key_file_format(NB_KEY_FILE_NODE, seed, text, sizeof(text)), 0);
    assert_memory_equal(text, "noaber-node-key 1\n", 18);
    assert_int_equal(nb_key_file_parse(NB_KEY_FILE_NODE, text, strlen(text), back), 0);
    assert_memory_equal(back, seed, sizeof(seed));
    assert_int_equal(nb_key_file_parse(NB_KEY_FILE_MEMBER, text, strlen(text), back), NB_EPREFIX);
}

static void truncated_key_file_text_is_malformed(void **state)
{
    (void)state;
    static char text[NB_KEY_FILE_MAX];
    uint8_t seed[NB_SEED_SIZE], back[NB_SEED_SIZE];

    seed_from_counter(22, seed);
    assert_int_equal(nb_key_file_format(NB_KEY_FILE_MEMBER, seed, text, sizeof(text)), 0);
    size_t len = strlen(text);
    for (size_t cut = 0; cut + 1 < len; cut++) {
        assert_int_equal(nb_key_file_parse(NB_KEY_FILE_MEMBER, text, cut, back), NB_EMALFORMED);
    }
    /* Only the final newline may go missing. */
    assert_int_equal(nb_key_file_parse(NB_KEY_FILE_MEMBER, text, len - 1, back), 0);
}

static void corrupted_key_file_text_is_detected(void **state)
{
    (void)state;
    static char text[NB_KEY_FILE_MAX], other[NB_KEY_FILE_MAX], edited[2 * NB_KEY_FILE_MAX];
    uint8_t seed[NB_SEED_SIZE], seed2[NB_SEED_SIZE], back[NB_SEED_SIZE];

    seed_from_counter(23, seed);
    seed_from_counter(24, seed2);
    assert_int_equal(nb_key_file_format(NB_KEY_FILE_MEMBER, seed, text, sizeof(text)), 0);
    assert_int_equal(nb_key_file_format(NB_KEY_FILE_MEMBER, seed2, other, sizeof(other)), 0);
    size_t len = strlen(text);
    char *secret = strstr(text, "\nsecret nbs1") + strlen("\nsecret nbs1");

    /* Every character of the secret replaced by another base32 symbol. */
    for (char *p = secret; *p != '\n'; p++) {
        char saved = *p;
        *p = saved == 'z' ? 'y' : 'z';
        int r = nb_key_file_parse(NB_KEY_FILE_MEMBER, text, len, back);
        assert_true(r == NB_ECHECKSUM || r == NB_EMALFORMED);
        *p = saved;
    }

    /* A valid secret of someone else under this member's public key. */
    const char *other_secret = strstr(other, "\nsecret ");
    memcpy(edited, text, (size_t)(strstr(text, "\nsecret ") - text));
    strcpy(edited + (strstr(text, "\nsecret ") - text), other_secret);
    assert_int_equal(nb_key_file_parse(NB_KEY_FILE_MEMBER, edited, strlen(edited), back),
                     NB_ECHECKSUM);

    /* A NUL in the middle, a later version, an unknown line, two secrets. */
    memcpy(edited, text, len);
    edited[len / 2] = '\0';
    assert_int_equal(nb_key_file_parse(NB_KEY_FILE_MEMBER, edited, len, back), NB_EMALFORMED);
    snprintf(edited, sizeof(edited), "noaber-identity 2\n%s", strchr(text, '\n') + 1);
    assert_int_equal(nb_key_file_parse(NB_KEY_FILE_MEMBER, edited, strlen(edited), back),
                     NB_EVERSION);
    snprintf(edited, sizeof(edited), "%sfavourite-colour blue\n", text);
    assert_int_equal(nb_key_file_parse(NB_KEY_FILE_MEMBER, edited, strlen(edited), back),
                     NB_EMALFORMED);
    snprintf(edited, sizeof(edited), "%s%s", text, strstr(other, "secret "));
    assert_int_equal(nb_key_file_parse(NB_KEY_FILE_MEMBER, edited, strlen(edited), back),
                     NB_EMALFORMED);
    assert_int_equal(nb_key_file_parse(NB_KEY_FILE_MEMBER, "", 0, back), NB_EMALFORMED);
    assert_int_equal(nb_key_file_parse(NB_KEY_FILE_MEMBER, "ssh-ed25519 AAAA\n", 17, back),
                     NB_EMALFORMED);
    assert_int_equal(nb_key_file_parse(NB_KEY_FILE_MEMBER, text, NB_KEY_FILE_MAX + 1, back),
                     NB_ETOOBIG);
}

static void hand_edited_key_file_text_is_accepted(void **state)
{
    (void)state;
    static char text[NB_KEY_FILE_MAX], edited[2 * NB_KEY_FILE_MAX];
    uint8_t seed[NB_SEED_SIZE], back[NB_SEED_SIZE];
    size_t n = 0;

    seed_from_counter(25, seed);
    assert_int_equal(nb_key_file_format(NB_KEY_FILE_MEMBER, seed, text, sizeof(text)), 0);
    /* CRLF line ends, as a Windows editor saves them. */
    for (const char *p = text; *p != '\0'; p++) {
        if (*p == '\n') {
            edited[n++] = '\r';
        }
        edited[n++] = *p;
    }
    assert_int_equal(nb_key_file_parse(NB_KEY_FILE_MEMBER, edited, n, back), 0);
    assert_memory_equal(back, seed, sizeof(seed));

    /* Only the header and the secret, with blank lines and indentation. */
    snprintf(edited, sizeof(edited), "noaber-identity 1\n\n  # mine\n\t%s  \n",
             strstr(text, "secret "));
    *strchr(strstr(edited, "secret "), '\n') = ' ';
    assert_int_equal(nb_key_file_parse(NB_KEY_FILE_MEMBER, edited, strlen(edited), back), 0);
    assert_memory_equal(back, seed, sizeof(seed));
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(published_vectors_hold),
        cmocka_unit_test(random_keys_round_trip),
        cmocka_unit_test(every_substitution_is_rejected),
        cmocka_unit_test(adjacent_transpositions_are_rejected),
        cmocka_unit_test(wrong_prefix_is_named_as_such),
        cmocka_unit_test(truncated_and_extended_texts_are_malformed),
        cmocka_unit_test(nonzero_padding_bits_are_rejected),
        cmocka_unit_test(sloppy_but_unambiguous_texts_are_accepted),
        cmocka_unit_test(sealed_box_opens_for_its_recipient_only),
        cmocka_unit_test(empty_message_seals),
        cmocka_unit_test(sealing_to_an_invalid_key_fails),
        cmocka_unit_test(neighbourhood_derivations_differ_per_context_and_key),
        cmocka_unit_test(hex_round_trips_and_rejects_junk),
        cmocka_unit_test(key_file_text_round_trips),
        cmocka_unit_test(truncated_key_file_text_is_malformed),
        cmocka_unit_test(corrupted_key_file_text_is_detected),
        cmocka_unit_test(hand_edited_key_file_text_is_accepted),
    };
    return cmocka_run_group_tests(tests, setup, NULL);
}
