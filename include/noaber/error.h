/*
 * Error codes of libnoaber.
 *
 * Every fallible function returns 0 on success or one of these negative
 * codes.  Out-parameters (named ret_*) are never written on failure.  The
 * codes are deliberately specific: a neighbour or an operator should be able
 * to tell from nb_strerror() what was wrong with a record or a message.
 */
#ifndef NOABER_ERROR_H
#define NOABER_ERROR_H

#ifdef __cplusplus
extern "C" {
#endif

enum nb_error {
    NB_OK = 0,
    NB_EINVAL = -1,        /* an argument is out of its documented range */
    NB_ENOMEM = -2,        /* allocation failed */
    NB_ETOOBIG = -3,       /* input or output exceeds its size bound */
    NB_EMALFORMED = -4,    /* bytes are not the expected msgpack structure */
    NB_ENONCANONICAL = -5, /* valid msgpack, but not the one canonical encoding */
    NB_ETRAILING = -6,     /* bytes follow the end of the object */
    NB_EDEPTH = -7,        /* nesting deeper than allowed */
    NB_EUTF8 = -8,         /* a text field is not valid UTF-8 or has control chars */
    NB_EKIND = -9,         /* unknown record kind */
    NB_EFIELD = -10,       /* a field is missing, unknown for the kind, or out of bounds */
    NB_EBADSIG = -11,      /* signature does not verify (or wrong neighbourhood) */
    NB_EFUTURE = -12,      /* created_at is too far in the future */
    NB_EEXPIRY = -13,      /* expires_at out of bounds */
    NB_EVERSION = -14,     /* unsupported format or protocol version */
    NB_EPREFIX = -15,      /* textual key has the wrong prefix */
    NB_ECHECKSUM = -16,    /* textual key or code fails its checksum (typo) */
    NB_EDECRYPT = -17,     /* sealed box or AEAD does not open with this key */
    NB_ESTATE = -18,       /* operation not allowed in the current state */
    NB_EHANDSHAKE = -19,   /* Noise handshake failed */
    NB_EIO = -20,          /* an I/O operation failed (common/, daemon/ only) */
    NB_ENOENT = -21,       /* no such file, record or member */
    NB_EEXIST = -22,       /* already exists */
    NB_EPERM = -23,        /* not allowed for this member */
    NB_EAMBIGUOUS = -24,   /* an id prefix matches more than one record */
    NB_EEXPIRED = -25,     /* the record or invite has expired */
    NB_ECRYPTO = -26,      /* libsodium failed to initialise or a key is invalid */
    NB_ETRUNCATED = -27,   /* a code is shorter than it says it is: cut off */
    NB_EDAMAGED = -28,     /* stored data is damaged (daemon/ only): run noaberd fsck */
    NB_ENOSPC = -29,       /* no room to write: disk full, over quota or read-only (daemon/) */
};

/* Returns a static, human-readable sentence for an nb_error code. */
const char *nb_strerror(int err);

/* Returns the symbolic name of the code, e.g. "NB_EBADSIG". */
const char *nb_error_name(int err);

#ifdef __cplusplus
}
#endif

#endif
