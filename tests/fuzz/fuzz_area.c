/*
 * Feeds arbitrary bytes to the area matching rule (noaber/area.h), which
 * reads the area of every record a peer sends when a client filters by
 * area: the first byte splits the input into a query and an area.  Beyond
 * "no crash", a query that matches some area consists of words, so it
 * matches itself; and nothing matches an empty area.
 */
#include <stdint.h>
#include <stdlib.h>

#include <noaber/area.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size == 0) {
        return 0;
    }
    const char *text = (const char *)data + 1;
    size_t len = size - 1;
    size_t cut = data[0] < len ? data[0] : len;

    if (nb_area_match(text, cut, text + cut, len - cut) && !nb_area_match(text, cut, text, cut)) {
        abort();
    }
    if (nb_area_match(text, len, text, 0)) {
        abort();
    }
    return 0;
}
