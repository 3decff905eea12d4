/*
 * Feeds arbitrary bytes to every parser of text a person pastes or a key
 * file holds: member keys, node keys, generic checked base32 and key files.
 * Beyond "no crash", it checks that whatever is accepted re-encodes to text
 * that parses to the same bytes.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <noaber/error.h>
#include <noaber/identity.h>

#include "proto/base32.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void check(int ok)
{
    if (!ok) {
        abort();
    }
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    static char file[NB_KEY_FILE_MAX];
    char *text = malloc(size + 1);
    uint8_t pk[NB_KEY_SIZE], again[NB_KEY_SIZE], seed[NB_SEED_SIZE], seed2[NB_SEED_SIZE];
    uint8_t payload[NB_BASE32_PAYLOAD_MAX];
    char key_text[NB_MEMBER_KEY_TEXT_LEN + 1];
    char b32[NB_BASE32_TEXT_LEN(4, NB_BASE32_PAYLOAD_MAX) + 1];
    size_t len;

    if (text == NULL) {
        return 0;
    }
    memcpy(text, data, size);
    text[size] = '\0';

    if (nb_member_key_from_text(text, pk) == 0) {
        nb_member_key_to_text(pk, key_text);
        check(nb_member_key_from_text(key_text, again) == 0);
        check(memcmp(pk, again, sizeof(pk)) == 0);
    }
    if (nb_node_key_from_text(text, pk) == 0) {
        nb_node_key_to_text(pk, key_text);
        check(nb_node_key_from_text(key_text, again) == 0);
        check(memcmp(pk, again, sizeof(pk)) == 0);
    }
    if (nb_base32_decode_checked("nbi1", "fuzz", text, size, payload, sizeof(payload), &len) == 0) {
        check(nb_base32_encode_checked("nbi1", "fuzz", payload, len, b32, sizeof(b32)) == 0);
        check(nb_base32_decode_checked_exact("nbi1", "fuzz", b32, strlen(b32), payload, len) == 0);
    }
    for (int kind = NB_KEY_FILE_MEMBER; kind <= NB_KEY_FILE_NODE; kind++) {
        if (nb_key_file_parse((enum nb_key_file_kind)kind, text, size, seed) == 0) {
            check(nb_key_file_format((enum nb_key_file_kind)kind, seed, file, sizeof(file)) == 0);
            check(nb_key_file_parse((enum nb_key_file_kind)kind, file, strlen(file), seed2) == 0);
            check(memcmp(seed, seed2, sizeof(seed)) == 0);
        }
    }
    free(text);
    return 0;
}
