/*
 * The config file parser on arbitrary text: it must accept or refuse with a
 * "name:line: problem" message, never crash, and leave nothing allocated
 * after nbd_config_clear.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "daemon/config.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    struct nbd_config cfg;
    char err[512] = "";
    nbd_config_init(&cfg);
    int r = nbd_config_parse("fuzz.conf", (const char *)data, size, &cfg, err, sizeof(err));
    if (r < 0 && strncmp(err, "fuzz.conf:", 10) != 0)
        abort();
    if (r == 0 && err[0] != '\0')
        abort();
    nbd_config_clear(&cfg);
    return 0;
}
