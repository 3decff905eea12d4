#include "tests/fixture.h"

#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

void member(struct member *m, uint8_t seed_byte)
{
    uint8_t seed[NB_SEED_SIZE];
    memset(seed, seed_byte, sizeof(seed));
    assert_int_equal(nb_member_from_seed(seed, m->pk, m->sk), 0);
}

void sign_for(struct nb_record *rec, const struct member *m, const uint8_t *nid, struct blob *out)
{
    memcpy(rec->author, m->pk, NB_KEY_SIZE);
    assert_int_equal(nb_record_sign(rec, m->sk, nid, out->bytes, &out->len), 0);
    nb_record_id(out->bytes, out->len, out->id);
}

void make_request(const struct member *m, const uint8_t *nid, uint64_t created_at,
                  uint64_t expires_at, const char *title, struct blob *out)
{
    struct nb_record rec;
    memset(&rec, 0, sizeof(rec));
    rec.kind = NB_KIND_REQUEST;
    rec.created_at = created_at;
    rec.title = (struct nb_text){ title, strlen(title) };
    NB_SET(&rec, NB_F_TITLE);
    rec.category = NB_CAT_GROCERIES;
    NB_SET(&rec, NB_F_CATEGORY);
    rec.area = (struct nb_text){ "Marollen", 8 };
    NB_SET(&rec, NB_F_AREA);
    rec.expires_at = expires_at;
    NB_SET(&rec, NB_F_EXPIRES_AT);
    sign_for(&rec, m, nid, out);
}

void make_acting(const struct member *m, const uint8_t *nid, unsigned kind, uint64_t created_at,
                 const uint8_t target[NB_ID_SIZE], const struct member *who, struct blob *out)
{
    struct nb_record rec;
    memset(&rec, 0, sizeof(rec));
    rec.kind = (uint8_t)kind;
    rec.created_at = created_at;
    memcpy(rec.target, target, NB_ID_SIZE);
    NB_SET(&rec, NB_F_TARGET);
    if (who != NULL) {
        memcpy(rec.member, who->pk, NB_KEY_SIZE);
        NB_SET(&rec, NB_F_MEMBER);
    }
    sign_for(&rec, m, nid, out);
}

void tmpdir_make(char *dir, size_t size, const char *name)
{
    snprintf(dir, size, "/tmp/noaberd-test-%s-XXXXXX", name);
    assert_non_null(mkdtemp(dir));
}

void tmpdir_remove(const char *dir)
{
    char cmd[256];
    snprintf(cmd, sizeof(cmd), "rm -rf '%s'", dir);
    if (system(cmd) != 0)
        fprintf(stderr, "cannot remove %s\n", dir);
}
