/*
 * Matching a coarse area as a neighbour types it against the area of a
 * request or offer: the one rule of `noaber list --area`, `noaber watch
 * --area`, the daemon's `list` and any other client (docs/client.md, "Areas").
 *
 * Both texts are cut into words at every character that is not a letter or a
 * digit (spaces, hyphens, commas, slashes...).  Words are compared without
 * case and without accents: Latin letters with diacritics count as their
 * base letter (é as e, ß as ss, œ as oe), so "schaerbeek" matches
 * "Schaerbeek 1030", "1030" matches it too, and "Saint-Gilles" matches
 * "saint gilles".  The query matches when every one of its words is a whole
 * word of the area: "Schaerbeek" does not match "Schaerbeekstraat", and
 * "Sint-Joost" matches "Sint-Joost-ten-Node".  A query without any word
 * matches nothing.  Letters of other scripts are compared as they are.
 */
#ifndef NOABER_AREA_H
#define NOABER_AREA_H

#include <stdbool.h>
#include <stddef.h>

#ifdef __cplusplus
extern "C" {
#endif

/* Whether the area text matches the query; both are UTF-8 (invalid bytes
 * count as separators) of any length. */
bool nb_area_match(const char *query, size_t query_len, const char *area, size_t area_len);

#ifdef __cplusplus
}
#endif

#endif
