#include "daemon/lock.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <unistd.h>

#include <noaber/error.h>

int nbd_lock_acquire(const char *data_dir, int *ret_fd, char *err, size_t err_size)
{
    char path[4096];
    int r = 0;
    if (snprintf(path, sizeof(path), "%s/lock", data_dir) >= (int)sizeof(path)) {
        snprintf(err, err_size, "data directory path is too long");
        return NB_EINVAL;
    }
    int fd = open(path, O_RDWR | O_CREAT | O_CLOEXEC, 0600);
    if (fd < 0) {
        snprintf(err, err_size, "cannot open %s: %s", path, strerror(errno));
        return NB_EIO;
    }
    if (flock(fd, LOCK_EX | LOCK_NB) < 0) {
        if (errno == EWOULDBLOCK) {
            char buf[32] = "";
            ssize_t n = pread(fd, buf, sizeof(buf) - 1, 0);
            long pid = n > 0 ? strtol(buf, NULL, 10) : 0;
            if (pid > 0)
                snprintf(err, err_size, "another noaberd (pid %ld) is already using %s", pid,
                         data_dir);
            else
                snprintf(err, err_size, "another noaberd is already using %s", data_dir);
            r = NB_EEXIST;
        } else {
            snprintf(err, err_size, "cannot lock %s: %s", path, strerror(errno));
            r = NB_EIO;
        }
        goto out;
    }
    char buf[32];
    int len = snprintf(buf, sizeof(buf), "%ld\n", (long)getpid());
    if (ftruncate(fd, 0) < 0 || pwrite(fd, buf, (size_t)len, 0) != len) {
        snprintf(err, err_size, "cannot write %s: %s", path, strerror(errno));
        r = NB_EIO;
        goto out;
    }
out:
    if (r < 0) {
        close(fd);
        return r;
    }
    *ret_fd = fd;
    return 0;
}
