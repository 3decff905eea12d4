/*
 * Feeds arbitrary bytes to the area matching rule (noaber/area.h), which
 * reads the area of every record a peer sends when a client filters by
 * area: the first byte splits the input into a query and an area.  Beyond
 * "no crash", an area with at least one word matches itself.
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
    size_t cut = data[0] < size ? data[0] : size - 1;
    const char *text = (const char *)data + 1;
    size_t len = size - 1;

    (void)nb_area_match(text, cut, text + cut, len - cut);
    if (nb_area_match(text, len, text, len) == false && nb_area_match(text, len, "x", 0)) {
        abort(); /* an empty area never matches, so this cannot happen */
    }
    /* Whatever matches some area consists of words, so it matches itself. */
    if (nb_area_match(text, cut, text + cut, len - cut) && !nb_area_match(text, cut, text, cut)) {
        abort();
    }
    return 0;
}
