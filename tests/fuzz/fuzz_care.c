/*
 * What a coordinator's client reads from files: a report handed to
 * `noaber report --verify` (any bytes: it must be judged, never crash) and
 * the plaintext of a caseload (authenticated on disk, decoded with bounds
 * all the same).  The first byte chooses.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "client/care.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size == 0)
        return 0;
    if (data[0] & 1) {
        char *text = malloc(size);
        struct report_doc d;
        char key[128];
        if (text == NULL)
            return 0;
        memcpy(text, data + 1, size - 1);
        text[size - 1] = '\0';
        int r = report_check(text, size - 1, &d, key, sizeof(key));
        if (r < REPORT_GOOD || r > REPORT_CHANGED)
            abort();
        if (r == REPORT_GOOD)
            report_doc_free(&d);
        free(text);
    } else {
        struct caseload c;
        memset(&c, 0, sizeof(c));
        caseload_decode(data + 1, size - 1, &c);
        if (c.n_people > CASE_PEOPLE_MAX)
            abort();
        caseload_free(&c);
    }
    return 0;
}
