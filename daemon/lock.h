/*
 * The data directory's lock: one noaberd per data directory.  Two daemons
 * writing one store would each believe they hold the whole set of records.
 */
#ifndef NOABERD_LOCK_H
#define NOABERD_LOCK_H

#include <stddef.h>

/*
 * Takes a non-blocking flock on DATA_DIR/lock and writes our pid into it.
 * On success *ret_fd holds the lock until it is closed (or the process dies,
 * which is why a stale lock file never blocks a restart).  On failure
 * returns NB_EEXIST ("another noaberd (pid N) is already using DATA_DIR")
 * or NB_EIO, with the sentence in err.
 */
int nbd_lock_acquire(const char *data_dir, int *ret_fd, char *err, size_t err_size);

#endif
