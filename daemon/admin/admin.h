/*
 * noaberd's operator commands (docs/operating.md, noaberd(8)).  Each runs
 * instead of the daemon, prints what it found, and returns the process's
 * exit status: 0 when all is well, 1 when it found a problem or failed, 2
 * for a usage error.
 *
 *   noaberd --check-config [--config FILE] [flags]
 *   noaberd fsck [--data-dir DIR] [--config FILE]
 *   noaberd backup DEST [--data-dir DIR] [--config FILE]
 *   noaberd erase-member MEMBER [--data-dir DIR] [--config FILE]
 *
 * fsck and backup only read the store and never take the data directory's
 * lock, so they are safe while the daemon runs.  erase-member writes, and
 * takes the lock: the daemon must be stopped.
 */
#ifndef NOABERD_ADMIN_H
#define NOABERD_ADMIN_H

#include <stdbool.h>

/*
 * Runs the operator command that argv names, if any: returns true and sets
 * *ret_status to its exit status, or returns false (argv is the daemon's).
 */
bool nbd_admin_dispatch(int argc, char **argv, int *ret_status);

/* Parses the config file and the flags as the daemon would, then exits. */
int nbd_admin_check_config(int argc, char **argv);

/*
 * Verifies every stored record (id, canonical form, signature for the
 * stored neighbourhood id, self-contained validity, columns against bytes),
 * the neighbourhood's key and id, and SQLite's integrity_check.
 */
int nbd_admin_fsck(int argc, char **argv);

/*
 * Copies the store with SQLite's online backup API into DEST/store.sqlite,
 * and the node key (and the config file given with --config) beside it.
 */
int nbd_admin_backup(int argc, char **argv);

/*
 * Deletes every record by one member, with everything that acts on those
 * records, and keeps a tombstone for each for good so that no peer can
 * bring them back.
 */
int nbd_admin_erase_member(int argc, char **argv);

#endif
