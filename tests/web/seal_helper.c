/*
 * libnoaber's side of the sealing interop test (tests/web/test_record_js.py):
 *
 *   seal-helper seal MEMBER_PK_HEX MESSAGE   prints the box, in hex
 *   seal-helper open SEED_HEX BOX_HEX        prints the opened message
 *
 * so that a box made by the page's record.js is opened by nb_unseal and one
 * made by nb_seal is opened by the page.
 */
#include <noaber/error.h>
#include <noaber/identity.h>
#include <noaber/record.h>

#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static int from_hex(const char *hex, uint8_t *out, size_t max, size_t *ret_len)
{
    return sodium_hex2bin(out, max, hex, strlen(hex), NULL, ret_len, NULL);
}

static int seal(const char *pk_hex, const char *message)
{
    uint8_t pk[NB_KEY_SIZE], box[NB_SEALED_MAX];
    size_t n = 0, len = strlen(message);
    char hex[2 * NB_SEALED_MAX + 1];

    if (from_hex(pk_hex, pk, sizeof(pk), &n) != 0 || n != sizeof(pk) ||
        len + NB_SEAL_OVERHEAD > sizeof(box)) {
        fprintf(stderr, "seal-helper: bad member key or message\n");
        return 2;
    }
    if (nb_seal((const uint8_t *)message, len, pk, box) != 0) {
        fprintf(stderr, "seal-helper: nb_seal failed\n");
        return 1;
    }
    puts(sodium_bin2hex(hex, sizeof(hex), box, len + NB_SEAL_OVERHEAD));
    return 0;
}

static int open_box(const char *seed_hex, const char *box_hex)
{
    uint8_t seed[NB_SEED_SIZE], pk[NB_KEY_SIZE], sk[NB_SECRET_KEY_SIZE];
    uint8_t box[NB_SEALED_MAX], msg[NB_SEALED_MAX + 1];
    size_t n = 0, boxlen = 0, len = 0;
    int r;

    if (from_hex(seed_hex, seed, sizeof(seed), &n) != 0 || n != sizeof(seed) ||
        from_hex(box_hex, box, sizeof(box), &boxlen) != 0) {
        fprintf(stderr, "seal-helper: bad seed or box\n");
        return 2;
    }
    r = nb_member_from_seed(seed, pk, sk);
    if (r == 0) {
        r = nb_unseal(box, boxlen, pk, sk, msg, &len);
    }
    sodium_memzero(sk, sizeof(sk));
    if (r != 0) {
        fprintf(stderr, "seal-helper: %s\n", nb_strerror(r));
        return 1;
    }
    msg[len] = '\0';
    puts((const char *)msg);
    return 0;
}

int main(int argc, char **argv)
{
    if (nb_init() != 0) {
        return 1;
    }
    if (argc == 4 && strcmp(argv[1], "seal") == 0) {
        return seal(argv[2], argv[3]);
    }
    if (argc == 4 && strcmp(argv[1], "open") == 0) {
        return open_box(argv[2], argv[3]);
    }
    fprintf(stderr, "usage: seal-helper seal MEMBER_PK_HEX MESSAGE | open SEED_HEX BOX_HEX\n");
    return 2;
}
