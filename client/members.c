/*
 * Naming a member the way a person has one at hand: the full key, the start
 * of it as `list` and `show` print it (nbm1abcdefgh…), the id of their
 * response, or their profile name.  Shared by `assign` and `message`.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include <noaber/identity.h>

#include "client.h"

/* "nbm1abcdefgh…" and "nbm1abcdefgh..." as copied from a table: without the ellipsis. */
static size_t key_prefix_len(const char *text)
{
    size_t n = strlen(text);
    if (n >= 3 && strcmp(text + n - 3, "\xe2\x80\xa6") == 0) {
        return n - 3;
    }
    if (n >= 3 && strcmp(text + n - 3, "...") == 0) {
        return n - 3;
    }
    return n;
}

/* Whether candidate i is named by `text` in the way `how` says. */
enum naming { BY_KEY_PREFIX, BY_RESPONSE_ID, BY_NAME };

static bool names(const struct member_candidates *c, size_t i, const struct trust *t,
                  const char *text, enum naming how)
{
    char key[NB_MEMBER_KEY_TEXT_LEN + 1], hex[NB_ID_SIZE * 2 + 1];
    const char *name;
    size_t n;

    switch (how) {
    case BY_KEY_PREFIX:
        n = key_prefix_len(text);
        nb_member_key_to_text(c->keys[i], key);
        return n > 4 && n <= NB_MEMBER_KEY_TEXT_LEN && strncasecmp(key, text, n) == 0;
    case BY_RESPONSE_ID:
        if (c->response_ids == NULL) {
            return false;
        }
        nb_hex(c->response_ids[i], NB_ID_SIZE, hex);
        return strncasecmp(hex, text, strlen(text)) == 0;
    case BY_NAME:
        name = trust_name(t, c->keys[i]);
        return name != NULL && strcasecmp(name, text) == 0;
    }
    return false;
}

int member_resolve(const struct member_candidates *c, const struct trust *t, const char *text,
                   const char *who, uint8_t ret[NB_KEY_SIZE])
{
    enum naming how;
    size_t found = SIZE_MAX, n = 0;

    if (nb_member_key_from_text(text, ret) == 0) {
        return EXIT_OK;
    }
    if (strncasecmp(text, "nbm1", 4) == 0) {
        how = BY_KEY_PREFIX;
    } else if (strlen(text) >= 4 && strlen(text) <= NB_ID_SIZE * 2 && is_hex_text(text) &&
               c->response_ids != NULL) {
        how = BY_RESPONSE_ID;
    } else {
        how = BY_NAME;
    }
    for (size_t i = 0; i < c->n; i++) {
        if (names(c, i, t, text, how)) {
            found = i;
            n++;
        }
    }
    if (n == 1) {
        memcpy(ret, c->keys[found], NB_KEY_SIZE);
        return EXIT_OK;
    }
    if (n == 0) {
        return fail(EXIT_USAGE,
                    "\"%s\" is none of %s: give their member key (nbm1...), its start, the id "
                    "of their response or their profile name%s.",
                    text, who, c->hint != NULL ? c->hint : "");
    }
    fail(EXIT_USAGE, "\"%s\" names %zu of %s; give more of the key or the response id:", text, n,
         who);
    for (size_t i = 0; i < c->n; i++) {
        char label[NB_MEMBER_KEY_TEXT_LEN + NB_NAME_MAX + 8], hex[NB_ID_SIZE * 2 + 1];
        if (!names(c, i, t, text, how)) {
            continue;
        }
        member_label(t, c->keys[i], true, label, sizeof(label));
        if (c->response_ids != NULL) {
            nb_hex(c->response_ids[i], NB_ID_SIZE, hex);
            fprintf(stderr, "  %s  (response %.8s)\n", label, hex);
        } else {
            fprintf(stderr, "  %s\n", label);
        }
    }
    return EXIT_USAGE;
}
