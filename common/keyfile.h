/*
 * Key files: a member's identity and a node's key on disk.
 *
 * The text inside is defined in include/noaber/identity.h ("Key files") and
 * docs/protocol.md.  This module adds what a file system needs: the file is
 * written atomically (temporary file created with O_EXCL and mode 0600,
 * fsync, rename or link into place, fsync of the directory), missing parent
 * directories are created with mode 0700, an existing key is never replaced
 * unless the caller asks, and a file that other users can read or write is
 * refused, because whoever reads it can act as its owner.
 *
 * Every function takes an optional message buffer (`msg`, `msg_size`; NULL
 * and 0 are fine).  On failure it receives one sentence that names the path
 * and says what to do, fit to show a neighbour as is, e.g.
 *
 *     /home/an/.config/noaber/identity is readable or writable by other
 *     users (mode 0644); run: chmod 600 /home/an/.config/noaber/identity
 *
 * NB_KEYFILE_MSG_MAX is enough for any message with a path of PATH_MAX.
 */
#ifndef NOABER_COMMON_KEYFILE_H
#define NOABER_COMMON_KEYFILE_H

#include <stddef.h>
#include <stdint.h>

#include <noaber/identity.h>

#define NB_KEYFILE_OVERWRITE 0x1u /* replace an existing file (atomically) */
#define NB_KEYFILE_MSG_MAX   (2 * 4096 + 256)

/*
 * Writes a key file holding `seed`.  Returns 0, NB_EEXIST (the file exists
 * and NB_KEYFILE_OVERWRITE is not set), NB_EINVAL (bad kind, flags or an
 * over-long path) or NB_EIO (with the system's reason in `msg`).
 */
int nb_keyfile_write(const char *path, enum nb_key_file_kind kind, const uint8_t seed[NB_SEED_SIZE],
                     unsigned flags, char *msg, size_t msg_size);

/*
 * Makes a fresh random key and writes it as nb_keyfile_write does.  Returns
 * its public key (Ed25519 for a member, X25519 for a node) in ret_pk.
 */
int nb_keyfile_create(const char *path, enum nb_key_file_kind kind, unsigned flags,
                      uint8_t ret_pk[NB_KEY_SIZE], char *msg, size_t msg_size);

/*
 * Reads the seed from a key file of the given kind.  Returns 0 or
 * NB_ENOENT (no such file), NB_EPERM (group or others may read or write it),
 * NB_EMALFORMED (not a key file, truncated or damaged), NB_ECHECKSUM (the
 * secret is corrupted), NB_EPREFIX (the other kind of key file),
 * NB_EVERSION (written by a newer Noaber), NB_ETOOBIG or NB_EIO.
 */
int nb_keyfile_read_seed(const char *path, enum nb_key_file_kind kind,
                         uint8_t ret_seed[NB_SEED_SIZE], char *msg, size_t msg_size);

/* Reads a member's identity file: the Ed25519 key pair. */
int nb_keyfile_read(const char *path, uint8_t ret_pk[NB_KEY_SIZE],
                    uint8_t ret_sk[NB_SECRET_KEY_SIZE], char *msg, size_t msg_size);

/* Reads a node's key file: the X25519 key pair of its Noise handshakes. */
int nb_node_keyfile_read(const char *path, uint8_t ret_pk[NB_KEY_SIZE],
                         uint8_t ret_sk[NB_NODE_SECRET_KEY_SIZE], char *msg, size_t msg_size);

#endif
