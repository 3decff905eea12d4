/*
 * Durations as people type them, the one syntax of noaberd's config file and
 * of noaber's options (--expires): a whole number followed by one unit, s
 * (seconds), m (minutes), h (hours), d (days) or w (weeks), with nothing in
 * between or after; a number without a unit is seconds.  "90m", "12h", "2w",
 * "1d", "45" and "45s" are durations; "1.5h", "3 d", "-1d" and "1dd" are not.
 */
#ifndef NOABER_COMMON_DURATION_H
#define NOABER_COMMON_DURATION_H

#include <stdint.h>

/*
 * Parses `text`.  Returns 0 and sets *ret_seconds, or -1 (and leaves it
 * alone) when the text is not a duration or is longer than 100 years, so
 * that no caller has to think about overflow.  Zero is a duration; each
 * caller checks its own bounds.
 */
int nb_duration_parse(const char *text, uint64_t *ret_seconds);

/* The units in words for an error message: "s, m, h, d or w". */
#define NB_DURATION_UNITS "s, m, h, d or w"

#endif
