#include "daemon/marker.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <noaber/error.h>

#include "common/path.h"

#define HEX_LEN (2 * NB_NEIGHBOURHOOD_ID_SIZE)

int nbd_marker_write(const char *data_dir, const uint8_t id[NB_NEIGHBOURHOOD_ID_SIZE])
{
    char line[HEX_LEN + 2];
    char *path = nb_path_join(data_dir, NBD_MARKER_NAME);
    char *tmp = nb_path_join(data_dir, NBD_MARKER_NAME ".tmp");
    int fd = -1;
    int r = NB_ENOMEM;
    if (path == NULL || tmp == NULL)
        goto out;
    nb_hex(id, NB_NEIGHBOURHOOD_ID_SIZE, line);
    line[HEX_LEN] = '\n';
    line[HEX_LEN + 1] = '\0';
    r = NB_EIO;
    fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
    if (fd < 0)
        goto out;
    if (write(fd, line, HEX_LEN + 1) != HEX_LEN + 1 || fsync(fd) < 0)
        goto out;
    if (rename(tmp, path) < 0)
        goto out;
    r = 0;
out:
    if (fd >= 0)
        close(fd);
    if (r < 0 && tmp != NULL)
        unlink(tmp);
    free(path);
    free(tmp);
    return r;
}

int nbd_marker_read(const char *data_dir, uint8_t ret_id[NB_NEIGHBOURHOOD_ID_SIZE])
{
    char line[HEX_LEN + 2];
    char *path = nb_path_join(data_dir, NBD_MARKER_NAME);
    if (path == NULL)
        return NB_ENOMEM;
    FILE *f = fopen(path, "re");
    free(path);
    if (f == NULL)
        return errno == ENOENT ? NB_ENOENT : NB_EIO;
    size_t n = fread(line, 1, sizeof(line) - 1, f);
    bool failed = ferror(f) != 0;
    fclose(f);
    if (failed)
        return NB_EIO;
    line[n] = '\0';
    if (n < HEX_LEN || (n > HEX_LEN && line[HEX_LEN] != '\n'))
        return NB_EDAMAGED;
    line[HEX_LEN] = '\0';
    uint8_t id[NB_NEIGHBOURHOOD_ID_SIZE];
    if (nb_unhex(line, id, sizeof(id)) < 0)
        return NB_EDAMAGED;
    memcpy(ret_id, id, sizeof(id));
    return 0;
}
