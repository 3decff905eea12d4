/*
 * Writes the record test vectors.
 *
 *     make-record-vectors            > tests/vectors/records.txt
 *     make-record-vectors --markdown   (the "Test vectors" part of docs/protocol.md)
 *
 * The output is deterministic: Ed25519 signatures are, and the sealed parts
 * are fixed bytes.  Built as an executable, not run as a test: the committed
 * file is what test_record.c checks against.
 */
#include <stdio.h>
#include <string.h>

#include <sodium.h>

#include <noaber/error.h>
#include <noaber/record.h>

#include "record_vectors.h"

static void print_hex(const uint8_t *b, size_t len, size_t wrap)
{
    for (size_t i = 0; i < len; i++) {
        if (wrap > 0 && i > 0 && i % wrap == 0) {
            putchar('\n');
        }
        printf("%02x", b[i]);
    }
    putchar('\n');
}

static void print_text(const char *name, const struct nb_text *t)
{
    printf("- %s: \"", name);
    for (size_t i = 0; i < t->len; i++) {
        if (t->ptr[i] == '\n') {
            printf("\\n");
        } else {
            putchar(t->ptr[i]);
        }
    }
    printf("\" (%zu bytes)\n", t->len);
}

static void print_fields(const struct vector *v, const struct vector *all)
{
    const struct nb_record *r = &v->rec;
    printf("- created_at: %llu\n", (unsigned long long)r->created_at);
    if (NB_HAS(r, NB_F_TITLE)) {
        print_text("title (1)", &r->title);
    }
    if (NB_HAS(r, NB_F_DETAILS)) {
        print_text("details (2)", &r->details);
    }
    if (NB_HAS(r, NB_F_CATEGORY)) {
        printf("- category (3): %u (%s)\n", r->category, nb_category_name(r->category));
    }
    if (NB_HAS(r, NB_F_TAGS)) {
        for (unsigned i = 0; i < r->n_tags; i++) {
            print_text("tags (4) item", &r->tags[i]);
        }
    }
    if (NB_HAS(r, NB_F_URGENCY)) {
        printf("- urgency (5): %u (%s)\n", r->urgency, nb_urgency_name(r->urgency));
    }
    if (NB_HAS(r, NB_F_WHEN)) {
        print_text("when (6)", &r->when);
    }
    if (NB_HAS(r, NB_F_MODE)) {
        printf("- mode (7): %u (%s)\n", r->mode, nb_mode_name(r->mode));
    }
    if (NB_HAS(r, NB_F_LANGUAGES)) {
        for (unsigned i = 0; i < r->n_languages; i++) {
            print_text("languages (8) item", &r->languages[i]);
        }
    }
    if (NB_HAS(r, NB_F_AREA)) {
        print_text("area (9)", &r->area);
    }
    if (NB_HAS(r, NB_F_EXPIRES_AT)) {
        printf("- expires_at (10): %llu\n", (unsigned long long)r->expires_at);
    }
    if (NB_HAS(r, NB_F_ON_BEHALF_OF)) {
        print_text("on_behalf_of (11)", &r->on_behalf_of);
    }
    if (NB_HAS(r, NB_F_TARGET)) {
        for (unsigned k = 0; k < VECTOR_COUNT; k++) {
            if (memcmp(all[k].id, r->target, NB_ID_SIZE) == 0) {
                printf("- target (12): the id of the %s vector\n", nb_kind_name(k + 1));
            }
        }
    }
    if (NB_HAS(r, NB_F_MEMBER)) {
        printf("- member (13): the public key of the member seed\n");
    }
    if (NB_HAS(r, NB_F_NOTE)) {
        print_text("note (14)", &r->note);
    }
    if (NB_HAS(r, NB_F_SEALED)) {
        printf("- sealed (15): %zu bytes, byte i = (7i + 3) mod 256\n", r->sealed.len);
    }
    if (NB_HAS(r, NB_F_PAUSED)) {
        printf("- paused (16): %s\n", r->paused ? "true" : "false");
    }
    if (NB_HAS(r, NB_F_NAME)) {
        print_text("name (17)", &r->name);
    }
    if (NB_HAS(r, NB_F_ABOUT)) {
        print_text("about (18)", &r->about);
    }
}

int main(int argc, char **argv)
{
    static struct vector all[VECTOR_COUNT];
    uint8_t nid[NB_NEIGHBOURHOOD_ID_SIZE];
    bool markdown = argc > 1 && strcmp(argv[1], "--markdown") == 0;

    if (sodium_init() < 0) {
        fprintf(stderr, "make-record-vectors: libsodium failed to initialise\n");
        return 1;
    }
    int r = vectors_build(all);
    if (r < 0) {
        fprintf(stderr, "make-record-vectors: %s\n", nb_strerror(r));
        return 1;
    }
    vector_neighbourhood(nid);

    if (!markdown) {
        printf("# Noaber record test vectors, written by tests/make_record_vectors.c.\n"
               "# Blocks of `name = value` lines separated by blank lines.  All values\n"
               "# but `kind` are lowercase hex.  `record` is the signed record for the\n"
               "# neighbourhood `neighbourhood_id`, signed by the Ed25519 key made from\n"
               "# `author_seed`; `member_seed` makes the key in the member field.\n"
               "# The fields of each record are listed in docs/protocol.md.\n");
    }
    for (unsigned k = 0; k < VECTOR_COUNT; k++) {
        const struct vector *v = &all[k];
        if (markdown) {
            printf("\n#### %u. %s (%zu bytes)\n\n", k + 1, nb_kind_name(v->kind), v->len);
            printf("- author_seed: ");
            print_hex(v->author_seed, NB_SEED_SIZE, 0);
            if (v->has_member) {
                printf("- member_seed: ");
                print_hex(v->member_seed, NB_SEED_SIZE, 0);
            }
            print_fields(v, all);
            printf("\nRecord:\n\n```\n");
            print_hex(v->bytes, v->len, 32);
            printf("```\n\nId: `");
            for (unsigned i = 0; i < NB_ID_SIZE; i++) {
                printf("%02x", v->id[i]);
            }
            printf("`\n");
            continue;
        }
        printf("\nkind = %s\n", nb_kind_name(v->kind));
        printf("author_seed = ");
        print_hex(v->author_seed, NB_SEED_SIZE, 0);
        if (v->has_member) {
            printf("member_seed = ");
            print_hex(v->member_seed, NB_SEED_SIZE, 0);
        }
        printf("neighbourhood_id = ");
        print_hex(nid, sizeof(nid), 0);
        printf("record = ");
        print_hex(v->bytes, v->len, 0);
        printf("id = ");
        print_hex(v->id, NB_ID_SIZE, 0);
    }
    return 0;
}
