/* Durations (see duration.h): one parser for the daemon and the client. */
#include "common/duration.h"

#include <stddef.h>

#define DURATION_MAX (100ull * 366 * 24 * 3600)

int nb_duration_parse(const char *text, uint64_t *ret_seconds)
{
    static const struct {
        char letter;
        uint64_t seconds;
    } units[] = { { 's', 1 }, { 'm', 60 }, { 'h', 3600 }, { 'd', 86400 }, { 'w', 7 * 86400 } };
    const char *p = text;
    uint64_t n = 0, unit = 1;

    if (p == NULL || *p < '0' || *p > '9') {
        return -1;
    }
    for (; *p >= '0' && *p <= '9'; p++) {
        n = n * 10 + (uint64_t)(*p - '0');
        if (n > DURATION_MAX) {
            return -1;
        }
    }
    if (*p != '\0') {
        size_t i = 0;
        while (i < sizeof(units) / sizeof(units[0]) && units[i].letter != *p) {
            i++;
        }
        if (i == sizeof(units) / sizeof(units[0]) || p[1] != '\0') {
            return -1;
        }
        unit = units[i].seconds;
    }
    if (n > DURATION_MAX / unit) {
        return -1;
    }
    *ret_seconds = n * unit;
    return 0;
}
