/*
 * Key files on disk (see keyfile.h).  The text format lives in proto/; this
 * file only moves bytes between it and the file system, carefully.
 */
#include "common/keyfile.h"

#include <noaber/error.h>
#include <noaber/identity.h>

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <sodium.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/types.h>
#include <unistd.h>

#include "common/message.h"

static const char *what(enum nb_key_file_kind kind)
{
    return kind == NB_KEY_FILE_NODE ? "node key file" : "identity file";
}

static const char *a_what(enum nb_key_file_kind kind)
{
    return kind == NB_KEY_FILE_NODE ? "a node key file" : "an identity file";
}

static const char *a_other_what(enum nb_key_file_kind kind)
{
    return kind == NB_KEY_FILE_NODE ? "a member's identity file" : "a node key file";
}

static int write_all(int fd, const char *buf, size_t len)
{
    while (len > 0) {
        ssize_t n = write(fd, buf, len);
        if (n < 0) {
            if (errno == EINTR) {
                continue;
            }
            return -1;
        }
        buf += n;
        len -= (size_t)n;
    }
    return 0;
}

static int fsync_dir(const char *dir)
{
    int fd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    int r;

    if (fd < 0) {
        return -1;
    }
    r = fsync(fd);
    close(fd);
    return r;
}

/*
 * Creates each missing directory of `dir` with mode 0700.  Existing
 * directories are left as they are: $HOME is not ours to chmod.
 */
static int make_parents(const char *dir, char *msg, size_t msg_size)
{
    char buf[PATH_MAX];
    size_t len = strlen(dir);

    memcpy(buf, dir, len + 1);
    for (size_t i = 1; i <= len; i++) {
        if (i < len && buf[i] != '/') {
            continue;
        }
        if (i < len) {
            buf[i] = '\0';
        }
        if (mkdir(buf, 0700) == 0) {
            /* The umask may have taken bits away; 0700 is what we promise. */
            if (chmod(buf, 0700) != 0) {
                nb_say(msg, msg_size, "cannot set the mode of directory %s: %s", buf,
                       strerror(errno));
                return NB_EIO;
            }
        } else if (errno != EEXIST) {
            nb_say(msg, msg_size, "cannot create directory %s: %s", buf, strerror(errno));
            return NB_EIO;
        } else {
            struct stat st;
            if (stat(buf, &st) != 0 || !S_ISDIR(st.st_mode)) {
                nb_say(msg, msg_size, "cannot create directory %s: a file of that name exists",
                       buf);
                return NB_EIO;
            }
        }
        if (i < len) {
            buf[i] = '/';
        }
    }
    return 0;
}

int nb_keyfile_write(const char *path, enum nb_key_file_kind kind, const uint8_t seed[NB_SEED_SIZE],
                     unsigned flags, char *msg, size_t msg_size)
{
    char text[NB_KEY_FILE_MAX];
    char dir[PATH_MAX], tmp[PATH_MAX + 64];
    uint8_t rnd[8];
    char rnd_hex[2 * sizeof(rnd) + 1];
    const char *slash;
    size_t dir_len;
    struct stat st;
    int fd = -1, r, n;
    bool tmp_exists = false;

    if (path == NULL || path[0] == '\0' || (flags & ~NB_KEYFILE_OVERWRITE) != 0 ||
        (kind != NB_KEY_FILE_MEMBER && kind != NB_KEY_FILE_NODE)) {
        nb_say(msg, msg_size, "invalid arguments for writing a key file");
        return NB_EINVAL;
    }
    if (strlen(path) >= PATH_MAX) {
        nb_say(msg, msg_size, "the path of the %s is too long", what(kind));
        return NB_EINVAL;
    }
    if (nb_init() < 0) {
        nb_say(msg, msg_size, "cannot initialise the cryptographic library");
        return NB_ECRYPTO;
    }

    slash = strrchr(path, '/');
    if (slash == NULL) {
        memcpy(dir, ".", 2);
    } else if (slash == path) {
        memcpy(dir, "/", 2);
    } else {
        dir_len = (size_t)(slash - path);
        memcpy(dir, path, dir_len);
        dir[dir_len] = '\0';
    }

    /*
     * A quick check first so that the common mistake gets a clear message;
     * link() below is what makes "never replace" hold under races.
     */
    if (!(flags & NB_KEYFILE_OVERWRITE) && lstat(path, &st) == 0) {
        nb_say(msg, msg_size,
               "%s already exists; refusing to replace a key (move it away first if you "
               "really mean to)",
               path);
        return NB_EEXIST;
    }

    r = make_parents(dir, msg, msg_size);
    if (r < 0) {
        return r;
    }

    r = nb_key_file_format(kind, seed, text, sizeof(text));
    if (r < 0) {
        nb_say(msg, msg_size, "cannot format the %s %s: %s", what(kind), path, nb_strerror(r));
        goto out;
    }

    randombytes_buf(rnd, sizeof(rnd));
    nb_hex(rnd, sizeof(rnd), rnd_hex);
    n = snprintf(tmp, sizeof(tmp), "%s.tmp-%s", path, rnd_hex);
    if (n < 0 || (size_t)n >= sizeof(tmp)) {
        nb_say(msg, msg_size, "the path of the %s is too long", what(kind));
        r = NB_EINVAL;
        goto out;
    }
    fd = open(tmp, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC | O_NOFOLLOW, 0600);
    if (fd < 0) {
        nb_say(msg, msg_size, "cannot create %s: %s", tmp, strerror(errno));
        r = NB_EIO;
        goto out;
    }
    tmp_exists = true;
    /* O_CREAT's mode passes through the umask; make sure it is exactly 0600. */
    if (fchmod(fd, 0600) != 0 || write_all(fd, text, strlen(text)) != 0 || fsync(fd) != 0) {
        nb_say(msg, msg_size, "cannot write %s: %s", tmp, strerror(errno));
        r = NB_EIO;
        goto out;
    }
    if (close(fd) != 0) {
        fd = -1;
        nb_say(msg, msg_size, "cannot write %s: %s", tmp, strerror(errno));
        r = NB_EIO;
        goto out;
    }
    fd = -1;

    if (flags & NB_KEYFILE_OVERWRITE) {
        if (rename(tmp, path) != 0) {
            nb_say(msg, msg_size, "cannot move %s to %s: %s", tmp, path, strerror(errno));
            r = NB_EIO;
            goto out;
        }
        tmp_exists = false;
    } else {
        /* link() fails if the name exists: a key written meanwhile is kept. */
        if (link(tmp, path) != 0) {
            if (errno == EEXIST) {
                nb_say(msg, msg_size,
                       "%s already exists; refusing to replace a key (move it away first if "
                       "you really mean to)",
                       path);
                r = NB_EEXIST;
            } else {
                nb_say(msg, msg_size, "cannot create %s: %s", path, strerror(errno));
                r = NB_EIO;
            }
            goto out;
        }
        /* Gone before the directory is flushed, so no second copy survives a crash. */
        unlink(tmp);
        tmp_exists = false;
    }
    if (fsync_dir(dir) != 0) {
        nb_say(msg, msg_size, "cannot flush directory %s: %s", dir, strerror(errno));
        r = NB_EIO;
        goto out;
    }
    r = 0;
out:
    if (fd >= 0) {
        close(fd);
    }
    if (tmp_exists) {
        unlink(tmp);
    }
    sodium_memzero(text, sizeof(text));
    return r;
}

int nb_keyfile_create(const char *path, enum nb_key_file_kind kind, unsigned flags,
                      uint8_t ret_pk[NB_KEY_SIZE], char *msg, size_t msg_size)
{
    uint8_t seed[NB_SEED_SIZE], pk[NB_KEY_SIZE];
    uint8_t member_sk[NB_SECRET_KEY_SIZE], node_sk[NB_NODE_SECRET_KEY_SIZE];
    int r;

    if (nb_init() < 0) {
        nb_say(msg, msg_size, "cannot initialise the cryptographic library");
        return NB_ECRYPTO;
    }
    randombytes_buf(seed, sizeof(seed));
    r = kind == NB_KEY_FILE_NODE ? nb_node_from_seed(seed, pk, node_sk)
                                 : nb_member_from_seed(seed, pk, member_sk);
    if (r < 0) {
        nb_say(msg, msg_size, "cannot make a key: %s", nb_strerror(r));
        goto out;
    }
    r = nb_keyfile_write(path, kind, seed, flags, msg, msg_size);
    if (r < 0) {
        goto out;
    }
    memcpy(ret_pk, pk, sizeof(pk));
out:
    sodium_memzero(seed, sizeof(seed));
    sodium_memzero(member_sk, sizeof(member_sk));
    sodium_memzero(node_sk, sizeof(node_sk));
    return r;
}

static void explain_parse_error(int err, const char *path, enum nb_key_file_kind kind, char *msg,
                                size_t msg_size)
{
    switch (err) {
    case NB_EPREFIX:
        nb_say(msg, msg_size, "%s is %s, not %s", path, a_other_what(kind), a_what(kind));
        break;
    case NB_EVERSION:
        nb_say(msg, msg_size, "%s was written by a newer version of Noaber; upgrade to read it",
               path);
        break;
    case NB_ECHECKSUM:
        nb_say(msg, msg_size,
               "%s is damaged: its secret key fails its checksum (restore it from a backup)", path);
        break;
    case NB_ETOOBIG:
        nb_say(msg, msg_size, "%s is too large to be a Noaber %s", path, what(kind));
        break;
    default:
        nb_say(msg, msg_size, "%s is not a Noaber %s, or it is damaged or truncated", path,
               what(kind));
        break;
    }
}

int nb_keyfile_read_seed(const char *path, enum nb_key_file_kind kind,
                         uint8_t ret_seed[NB_SEED_SIZE], char *msg, size_t msg_size)
{
    char text[NB_KEY_FILE_MAX + 1];
    uint8_t seed[NB_SEED_SIZE];
    size_t len = 0;
    struct stat st;
    int fd, r;

    if (path == NULL || (kind != NB_KEY_FILE_MEMBER && kind != NB_KEY_FILE_NODE)) {
        nb_say(msg, msg_size, "invalid arguments for reading a key file");
        return NB_EINVAL;
    }
    fd = open(path, O_RDONLY | O_CLOEXEC | O_NOCTTY);
    if (fd < 0) {
        if (errno == ENOENT) {
            nb_say(msg, msg_size, "there is no %s at %s", what(kind), path);
            return NB_ENOENT;
        }
        nb_say(msg, msg_size, "cannot open %s: %s", path, strerror(errno));
        return NB_EIO;
    }
    if (fstat(fd, &st) != 0) {
        nb_say(msg, msg_size, "cannot read %s: %s", path, strerror(errno));
        r = NB_EIO;
        goto out;
    }
    if (!S_ISREG(st.st_mode)) {
        nb_say(msg, msg_size, "%s is not a regular file", path);
        r = NB_EIO;
        goto out;
    }
    /*
     * Like ssh, refuse a secret key that others could have read: it may
     * already be compromised, and silently using it would hide that.
     */
    if ((st.st_mode & 077) != 0) {
        nb_say(msg, msg_size,
               "%s is readable or writable by other users (mode %04o); run: chmod 600 %s", path,
               (unsigned)(st.st_mode & 07777), path);
        r = NB_EPERM;
        goto out;
    }
    if (st.st_size > NB_KEY_FILE_MAX) {
        explain_parse_error(NB_ETOOBIG, path, kind, msg, msg_size);
        r = NB_ETOOBIG;
        goto out;
    }
    /* Read one byte more than allowed so that a file that grew is noticed. */
    while (len < sizeof(text)) {
        ssize_t n = read(fd, text + len, sizeof(text) - len);
        if (n < 0) {
            if (errno == EINTR) {
                continue;
            }
            nb_say(msg, msg_size, "cannot read %s: %s", path, strerror(errno));
            r = NB_EIO;
            goto out;
        }
        if (n == 0) {
            break;
        }
        len += (size_t)n;
    }
    r = nb_key_file_parse(kind, text, len, seed);
    if (r < 0) {
        explain_parse_error(r, path, kind, msg, msg_size);
        goto out;
    }
    memcpy(ret_seed, seed, sizeof(seed));
    r = 0;
out:
    close(fd);
    sodium_memzero(text, sizeof(text));
    sodium_memzero(seed, sizeof(seed));
    return r;
}

int nb_keyfile_read(const char *path, uint8_t ret_pk[NB_KEY_SIZE],
                    uint8_t ret_sk[NB_SECRET_KEY_SIZE], char *msg, size_t msg_size)
{
    uint8_t seed[NB_SEED_SIZE];
    int r = nb_keyfile_read_seed(path, NB_KEY_FILE_MEMBER, seed, msg, msg_size);

    if (r < 0) {
        return r;
    }
    r = nb_member_from_seed(seed, ret_pk, ret_sk);
    if (r < 0) {
        nb_say(msg, msg_size, "cannot derive the key pair from %s: %s", path, nb_strerror(r));
    }
    sodium_memzero(seed, sizeof(seed));
    return r;
}

int nb_node_keyfile_read(const char *path, uint8_t ret_pk[NB_KEY_SIZE],
                         uint8_t ret_sk[NB_NODE_SECRET_KEY_SIZE], char *msg, size_t msg_size)
{
    uint8_t seed[NB_SEED_SIZE];
    int r = nb_keyfile_read_seed(path, NB_KEY_FILE_NODE, seed, msg, msg_size);

    if (r < 0) {
        return r;
    }
    r = nb_node_from_seed(seed, ret_pk, ret_sk);
    if (r < 0) {
        nb_say(msg, msg_size, "cannot derive the key pair from %s: %s", path, nb_strerror(r));
    }
    sodium_memzero(seed, sizeof(seed));
    return r;
}
