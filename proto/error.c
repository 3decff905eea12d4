/*
 * Error strings.  One table serves both nb_strerror() and nb_error_name() so
 * a new code cannot be added to one and forgotten in the other.
 */
#include <noaber/error.h>

#include <stddef.h>

struct error_entry {
    int code;
    const char *name;
    const char *text;
};

static const struct error_entry errors[] = {
    { NB_OK, "NB_OK", "success" },
    { NB_EINVAL, "NB_EINVAL", "invalid argument" },
    { NB_ENOMEM, "NB_ENOMEM", "out of memory" },
    { NB_ETOOBIG, "NB_ETOOBIG", "too large" },
    { NB_EMALFORMED, "NB_EMALFORMED", "malformed encoding" },
    { NB_ENONCANONICAL, "NB_ENONCANONICAL", "not in canonical encoding" },
    { NB_ETRAILING, "NB_ETRAILING", "unexpected bytes after the end" },
    { NB_EDEPTH, "NB_EDEPTH", "nested too deeply" },
    { NB_EUTF8, "NB_EUTF8", "text is not valid UTF-8 or contains control characters" },
    { NB_EKIND, "NB_EKIND", "unknown record kind" },
    { NB_EFIELD, "NB_EFIELD", "a field is missing, not allowed here, or out of bounds" },
    { NB_EBADSIG, "NB_EBADSIG", "signature does not verify for this neighbourhood" },
    { NB_EFUTURE, "NB_EFUTURE", "created too far in the future (check the clock)" },
    { NB_EEXPIRY, "NB_EEXPIRY", "expiry is before creation or more than 90 days after it" },
    { NB_EVERSION, "NB_EVERSION", "unsupported version" },
    { NB_EPREFIX, "NB_EPREFIX", "wrong prefix for this kind of key or code" },
    { NB_ECHECKSUM, "NB_ECHECKSUM", "checksum mismatch (a typo?)" },
    { NB_EDECRYPT, "NB_EDECRYPT", "cannot be opened with this key" },
    { NB_ESTATE, "NB_ESTATE", "not allowed in the current state" },
    { NB_EHANDSHAKE, "NB_EHANDSHAKE", "handshake failed" },
    { NB_EIO, "NB_EIO", "input/output error" },
    { NB_ENOENT, "NB_ENOENT", "not found" },
    { NB_EEXIST, "NB_EEXIST", "already exists" },
    { NB_EPERM, "NB_EPERM", "not allowed for this member" },
    { NB_EAMBIGUOUS, "NB_EAMBIGUOUS", "the id prefix matches more than one record" },
    { NB_EEXPIRED, "NB_EEXPIRED", "expired" },
    { NB_ECRYPTO, "NB_ECRYPTO", "cryptographic library failure or invalid key" },
    { NB_ETRUNCATED, "NB_ETRUNCATED", "cut short: part of the text is missing" },
    { NB_EDAMAGED, "NB_EDAMAGED", "stored data is damaged (run noaberd fsck)" },
    { NB_ENOSPC, "NB_ENOSPC", "no room to write: the disk is full, over quota or read-only" },
};

static const struct error_entry *find(int err)
{
    for (size_t i = 0; i < sizeof(errors) / sizeof(errors[0]); i++) {
        if (errors[i].code == err) {
            return &errors[i];
        }
    }
    return NULL;
}

const char *nb_strerror(int err)
{
    const struct error_entry *e = find(err);
    return e != NULL ? e->text : "unknown error";
}

const char *nb_error_name(int err)
{
    const struct error_entry *e = find(err);
    return e != NULL ? e->name : "NB_E?";
}
