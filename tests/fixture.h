/*
 * What the daemon's unit tests share (test_store.c, test_batch.c,
 * test_net.c): members with fixed keys, signed records of the kinds the
 * tests need, and a temporary directory for a store.
 *
 * Members are named by one seed byte ('a' for Ann, 'b' for Bob ...), so the
 * same member has the same key in every test and every run.
 */
#ifndef NOABER_TESTS_FIXTURE_H
#define NOABER_TESTS_FIXTURE_H

#include <stddef.h>
#include <stdint.h>

#include <noaber/identity.h>
#include <noaber/record.h>

#define T0 1800000000u /* the tests' "now" */

struct member {
    uint8_t pk[NB_KEY_SIZE];
    uint8_t sk[NB_SECRET_KEY_SIZE];
};

/* A signed record and its id. */
struct blob {
    uint8_t bytes[NB_RECORD_MAX];
    size_t len;
    uint8_t id[NB_ID_SIZE];
};

/* The member whose seed is 32 times `seed_byte`. */
void member(struct member *m, uint8_t seed_byte);

/* Signs `rec` as `m` for the neighbourhood `nid` (its author is set). */
void sign_for(struct nb_record *rec, const struct member *m, const uint8_t *nid, struct blob *out);

/* A request for groceries in the Marollen, titled `title`. */
void make_request(const struct member *m, const uint8_t *nid, uint64_t created_at,
                  uint64_t expires_at, const char *title, struct blob *out);

/* A record that only names a target (response, withdrawal, retraction ...)
 * and, when `who` is not NULL, a member (assignment). */
void make_acting(const struct member *m, const uint8_t *nid, unsigned kind, uint64_t created_at,
                 const uint8_t target[NB_ID_SIZE], const struct member *who, struct blob *out);

/* Makes a new directory /tmp/noaberd-test-NAME-XXXXXX into `dir`. */
void tmpdir_make(char *dir, size_t size, const char *name);
/* Removes it and everything in it. */
void tmpdir_remove(const char *dir);

#endif
