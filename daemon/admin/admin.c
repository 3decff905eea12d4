#include "daemon/admin/admin.h"

#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <pwd.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include <sodium.h>

#include <noaber/error.h>
#include <noaber/identity.h>
#include <noaber/record.h>

#include "common/path.h"
#include "common/report.h"
#include "daemon/config.h"
#include "daemon/control/control.h"
#include "daemon/lock.h"
#include "daemon/marker.h"
#include "daemon/store/store.h"
#include "daemon/store/store_admin.h"
#include "daemon/store/store_wal.h"

#define EXIT_PROBLEM 1
#define EXIT_USAGE   2

/* How many problems fsck names before it only counts them: a store damaged
 * throughout would otherwise print millions of lines. */
#define FSCK_REPORT_MAX 1000

static const char store_name[] = "store.sqlite";
static const char node_key_name[] = "node.key";

static int complain(const char *cmd, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

/* Prints "noaberd CMD: ..." to stderr and returns EXIT_PROBLEM. */
static int complain(const char *cmd, const char *fmt, ...)
{
    va_list ap;
    fprintf(stderr, "noaberd %s: ", cmd);
    va_start(ap, fmt);
    vfprintf(stderr, fmt, ap);
    va_end(ap);
    fputc('\n', stderr);
    return EXIT_PROBLEM;
}

/* ---- what the commands share ------------------------------------------- */

struct admin_args {
    const char *positional;  /* DEST or MEMBER, or NULL */
    const char *config_path; /* --config FILE, or NULL */
    char *data_dir;          /* resolved, owned */
};

static void admin_args_clear(struct admin_args *a)
{
    free(a->data_dir);
    a->data_dir = NULL;
}

/*
 * Parses `CMD [POSITIONAL] [--data-dir DIR] [--config FILE]` (argv[0] is
 * CMD) and resolves the data directory exactly as the daemon does: flag,
 * then the config file, then the environment.  Returns 0, EXIT_USAGE or
 * EXIT_PROBLEM after printing why; -1 after printing the help.
 */
static int parse_args(int argc, char **argv, const char *usage, bool positional,
                      struct admin_args *ret)
{
    static const struct option longopts[] = {
        { "data-dir", required_argument, NULL, 'd' },
        { "config", required_argument, NULL, 'c' },
        { "help", no_argument, NULL, 'h' },
        { NULL, 0, NULL, 0 },
    };
    const char *cmd = argv[0];
    struct nbd_config flags, file;
    struct nbd_settings settings;
    char err[1024];
    int status = 0;

    memset(ret, 0, sizeof(*ret));
    nbd_config_init(&flags);
    nbd_config_init(&file);
    optind = 0;
    opterr = 0;
    for (;;) {
        int c = getopt_long(argc, argv, ":h", longopts, NULL);
        if (c == -1)
            break;
        switch (c) {
        case 'd':
            free(flags.data_dir);
            flags.data_dir = strdup(optarg);
            if (flags.data_dir == NULL) {
                status = complain(cmd, "out of memory");
                goto out;
            }
            break;
        case 'c':
            ret->config_path = optarg;
            break;
        case 'h':
            printf("usage: noaberd %s\n", usage);
            status = -1;
            goto out;
        case ':':
            complain(cmd, "option '%s' needs a value (usage: noaberd %s)", argv[optind - 1], usage);
            status = EXIT_USAGE;
            goto out;
        default:
            complain(cmd, "unknown option '%s' (usage: noaberd %s)", argv[optind - 1], usage);
            status = EXIT_USAGE;
            goto out;
        }
    }
    if (positional) {
        if (optind >= argc) {
            complain(cmd, "missing argument (usage: noaberd %s)", usage);
            status = EXIT_USAGE;
            goto out;
        }
        ret->positional = argv[optind++];
    }
    if (optind < argc) {
        complain(cmd, "unexpected argument '%s' (usage: noaberd %s)", argv[optind], usage);
        status = EXIT_USAGE;
        goto out;
    }
    if (ret->config_path != NULL &&
        nbd_config_load(ret->config_path, &file, err, sizeof(err)) < 0) {
        status = complain(cmd, "%s", err);
        goto out;
    }
    if (nbd_settings_resolve(&flags, &file, &settings, err, sizeof(err)) < 0) {
        status = complain(cmd, "%s", err);
        goto out;
    }
    ret->data_dir = settings.data_dir;
    settings.data_dir = NULL;
    nbd_settings_clear(&settings);
out:
    nbd_config_clear(&flags);
    nbd_config_clear(&file);
    return status;
}

/*
 * Refuses to work on a data directory that belongs to another user: root
 * running a command on /var/lib/noaber would leave files (SQLite's -wal and
 * -shm, a lock) that the service's user can no longer open.
 */
static int check_owner(const char *cmd, const char *dir)
{
    struct stat st;
    if (stat(dir, &st) < 0)
        return complain(cmd, "%s: %s (is --data-dir right?)", dir, strerror(errno));
    if (!S_ISDIR(st.st_mode))
        return complain(cmd, "%s is not a directory", dir);
    if (st.st_uid != geteuid()) {
        struct passwd *pw = getpwuid(st.st_uid);
        const char *name = pw != NULL ? pw->pw_name : "its owner";
        return complain(cmd,
                        "%s belongs to %s (uid %u), not to the user running this command; "
                        "run it as that user (e.g. sudo -u %s noaberd %s ...) so that every file "
                        "keeps its owner",
                        dir, name, (unsigned)st.st_uid, name, cmd);
    }
    return 0;
}

static bool file_exists(const char *path)
{
    struct stat st;
    return stat(path, &st) == 0;
}

static int fsync_path(const char *path, bool is_dir)
{
    int fd = open(path, O_RDONLY | O_CLOEXEC | (is_dir ? O_DIRECTORY : 0));
    if (fd < 0)
        return -1;
    int r = fsync(fd);
    close(fd);
    return r;
}

/*
 * Copies src to dst (created 0600, never replacing a file) and syncs it.
 * Returns 0, 1 when src does not exist, or -1 with errno set.
 */
static int copy_file(const char *src, const char *dst)
{
    char buf[16384];
    int in = open(src, O_RDONLY | O_CLOEXEC);
    if (in < 0)
        return errno == ENOENT ? 1 : -1;
    int out = open(dst, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0600);
    if (out < 0) {
        int e = errno;
        close(in);
        errno = e;
        return -1;
    }
    int r = 0;
    for (;;) {
        ssize_t n = read(in, buf, sizeof(buf));
        if (n < 0 && errno == EINTR)
            continue;
        if (n < 0) {
            r = -1;
            break;
        }
        if (n == 0)
            break;
        for (ssize_t off = 0; off < n;) {
            ssize_t w = write(out, buf + off, (size_t)(n - off));
            if (w < 0 && errno == EINTR)
                continue;
            if (w < 0) {
                r = -1;
                goto out;
            }
            off += w;
        }
    }
    if (r == 0 && fsync(out) < 0)
        r = -1;
out:;
    int e = errno;
    close(in);
    if (close(out) < 0 && r == 0)
        r = -1;
    else
        errno = e;
    return r;
}

/* ---- --check-config ------------------------------------------------------ */

/*
 * Whether start-up can use the data directory: an existing one must be a
 * directory this user can write, a missing one is created
 * (mode 0700) in the nearest existing parent, which must be writable.
 */
static int check_data_dir(const char *dir, char *err, size_t err_size)
{
    char parent[4096];
    struct stat st;

    if (stat(dir, &st) == 0) {
        if (!S_ISDIR(st.st_mode)) {
            snprintf(err, err_size, "the data directory %s is not a directory", dir);
            return NB_EIO;
        }
        if (access(dir, W_OK | X_OK) < 0) {
            snprintf(err, err_size,
                     "the data directory %s belongs to uid %u and this user (uid %u) cannot "
                     "write it; run noaberd as its owner or choose another data_dir",
                     dir, (unsigned)st.st_uid, (unsigned)geteuid());
            return NB_EPERM;
        }
        return 0;
    }
    snprintf(parent, sizeof(parent), "%s", dir);
    for (char *slash = strrchr(parent, '/'); slash != NULL; slash = strrchr(parent, '/')) {
        *slash = '\0';
        const char *p = parent[0] != '\0' ? parent : "/";
        if (stat(p, &st) == 0) {
            if (access(p, W_OK | X_OK) < 0) {
                snprintf(err, err_size,
                         "the data directory %.400s does not exist and %.400s, where it would be "
                         "created, is not writable by this user",
                         dir, p);
                return NB_EPERM;
            }
            return 0;
        }
    }
    return 0;
}

int nbd_admin_check_config(int argc, char **argv)
{
    struct nbd_options opts;
    struct nbd_config file;
    struct nbd_settings settings = { 0 };
    char err[1024];
    char **rest = calloc((size_t)argc + 1, sizeof(char *));
    int n = 0;
    int status = EXIT_PROBLEM;

    if (rest == NULL)
        return complain("--check-config", "out of memory");
    /* Everything but --check-config is parsed exactly as the daemon would,
     * so a flag the daemon would refuse is refused here too. */
    for (int i = 0; i < argc; i++)
        if (strcmp(argv[i], "--check-config") != 0)
            rest[n++] = argv[i];
    nbd_config_init(&file);
    if (nbd_options_parse(n, rest, &opts, err, sizeof(err)) < 0) {
        fprintf(stderr, "noaberd: %s\n(see noaberd --help)\n", err);
        free(rest);
        return EXIT_USAGE;
    }
    if (opts.config_path != NULL &&
        nbd_config_load(opts.config_path, &file, err, sizeof(err)) < 0) {
        fprintf(stderr, "noaberd: %s\n", err);
        goto out;
    }
    if (nbd_settings_resolve(&opts.flags, &file, &settings, err, sizeof(err)) < 0) {
        fprintf(stderr, "noaberd: %s\n", err);
        goto out;
    }
    /* What start-up checks besides the config: a data directory it can use
     * and a socket directory it will not refuse. */
    if (check_data_dir(settings.data_dir, err, sizeof(err)) < 0 ||
        nbd_control_prepare_dir(settings.socket_path, false, err, sizeof(err)) < 0) {
        fprintf(stderr, "noaberd: %s\n", err);
        goto out;
    }
    if (opts.config_path != NULL)
        printf("%s: ok\n", opts.config_path);
    else
        printf("no config file given (--config FILE): the flags and the defaults are ok\n");
    printf("data_dir = %s\nsocket = %s\nmember_socket = %s\nsocket_group_access = %s\n",
           settings.data_dir, settings.socket_path, settings.member_socket_path,
           settings.socket_group_access ? "on" : "off");
    status = 0;
out:
    nbd_settings_clear(&settings);
    nbd_config_clear(&file);
    nbd_options_clear(&opts);
    free(rest);
    return status;
}

/* ---- fsck ------------------------------------------------------------------ */

struct fsck {
    struct nbd_store_ro *store;
    bool has_neighbourhood;
    uint8_t neighbourhood_id[NB_NEIGHBOURHOOD_ID_SIZE];
    uint64_t checked;
    uint64_t bad;       /* records with at least one problem */
    uint64_t store_bad; /* problems of the store as a whole */
    uint64_t reported;  /* lines printed, up to FSCK_REPORT_MAX */
};

/* One record's problems, joined with "; ". */
struct problems {
    char text[2048];
    size_t len;
    unsigned n;
};

static void problem(struct problems *p, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

static void problem(struct problems *p, const char *fmt, ...)
{
    if (p->len + 3 >= sizeof(p->text))
        return;
    if (p->n++ > 0) {
        memcpy(p->text + p->len, "; ", 3);
        p->len += 2;
    }
    va_list ap;
    va_start(ap, fmt);
    int w = vsnprintf(p->text + p->len, sizeof(p->text) - p->len, fmt, ap);
    va_end(ap);
    if (w > 0)
        p->len += (size_t)w < sizeof(p->text) - p->len ? (size_t)w : sizeof(p->text) - p->len - 1;
}

static void report(struct fsck *f, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

static void report(struct fsck *f, const char *fmt, ...)
{
    if (f->reported++ >= FSCK_REPORT_MAX)
        return;
    va_list ap;
    va_start(ap, fmt);
    vprintf(fmt, ap);
    va_end(ap);
    putchar('\n');
}

static bool raw_is_uint(const struct nbd_raw *c, uint64_t want)
{
    return c->type == NBD_RAW_INT && (uint64_t)c->i == want;
}

/* Compares a record's columns with what its bytes say. */
static void check_columns(struct fsck *f, const struct nbd_store_raw_row *row,
                          const struct nb_record *rec, struct problems *p)
{
    if (row->kind.type != NBD_RAW_INT || row->kind.i != rec->kind)
        problem(p, "its kind column says %lld but its bytes say %u",
                row->kind.type == NBD_RAW_INT ? (long long)row->kind.i : -1LL, rec->kind);
    if (!nbd_raw_is_blob(&row->author, rec->author, NB_KEY_SIZE))
        problem(p, "its author column does not match its bytes");
    if (!raw_is_uint(&row->created_at, rec->created_at))
        problem(p, "its created_at column does not match its bytes");

    bool has_target = NB_HAS(rec, NB_F_TARGET);
    if (has_target ? !nbd_raw_is_blob(&row->target, rec->target, NB_ID_SIZE)
                   : row->target.type != NBD_RAW_NULL)
        problem(p, "its target column does not match its bytes");

    /* A retraction's expiry and root come from what it retracted, which is
     * deleted by then, so only the other kinds can be checked. */
    if (rec->kind == NB_KIND_RETRACTION)
        return;
    bool want_expiry = true;
    uint64_t expiry = 0;
    if (rec->kind == NB_KIND_REQUEST || rec->kind == NB_KIND_OFFER)
        expiry =
            NB_HAS(rec, NB_F_EXPIRES_AT) ? rec->expires_at : rec->created_at + NB_EXPIRY_DEFAULT;
    else if (NB_HAS(rec, NB_F_EXPIRES_AT))
        expiry = rec->expires_at;
    else
        want_expiry = false;
    if (want_expiry ? !raw_is_uint(&row->expires_at, expiry) : row->expires_at.type != NBD_RAW_NULL)
        problem(p, "its expires_at column does not match its bytes");

    if (!has_target) {
        if (row->root.type != NBD_RAW_NULL)
            problem(p, "it acts on nothing but has a root");
        return;
    }
    uint8_t root[NB_ID_SIZE];
    int r = nbd_store_ro_root_of(f->store, rec->target, root);
    if (r == NB_ENOENT) {
        char hex[2 * NB_ID_SIZE + 1];
        nb_hex(rec->target, NB_ID_SIZE, hex);
        problem(p, "it acts on %.16s..., which is not stored", hex);
    } else if (r < 0) {
        problem(p, "the record it acts on has a damaged row");
    } else if (!nbd_raw_is_blob(&row->root, root, NB_ID_SIZE)) {
        problem(p, "its root column does not match the record it acts on");
    }
}

static int check_record(void *ctx, const struct nbd_store_raw_row *row)
{
    struct fsck *f = ctx;
    struct problems p = { .len = 0, .n = 0 };
    char name[2 * NB_ID_SIZE + 64];
    bool id_ok = nbd_raw_is_blob(&row->id, NULL, NB_ID_SIZE);

    if (id_ok) {
        nb_hex(row->id.p, NB_ID_SIZE, name);
    } else {
        snprintf(name, sizeof(name), "in row %lld", (long long)row->rowid);
        problem(&p, "its id column is not 32 bytes");
    }
    f->checked++;

    const uint8_t *bytes = row->bytes.p;
    size_t len = row->bytes.len;
    if (row->bytes.type != NBD_RAW_BLOB || bytes == NULL || len == 0 || len > NB_RECORD_MAX) {
        problem(&p, "its bytes are missing or longer than %d", NB_RECORD_MAX);
        goto out;
    }
    uint8_t hash[NB_ID_SIZE];
    nb_record_id(bytes, len, hash);
    if (id_ok && memcmp(hash, row->id.p, NB_ID_SIZE) != 0)
        problem(&p, "its bytes do not hash to its id (they changed on disk)");

    struct nb_record rec;
    int r = nb_record_decode(bytes, len, &rec);
    if (r < 0) {
        problem(&p, "its bytes are not a canonical record (%s)", nb_strerror(r));
        goto out;
    }
    /* Decoding already refuses every non-canonical form; re-encoding is
     * the same promise checked from the other side. */
    uint8_t again[NB_RECORD_MAX];
    size_t again_len = 0;
    if (nb_record_encode(&rec, again, sizeof(again), &again_len) < 0 || again_len != len ||
        memcmp(again, bytes, len) != 0)
        problem(&p, "its bytes do not re-encode to themselves (not canonical)");
    if (f->has_neighbourhood) {
        r = nb_record_verify(bytes, len, f->neighbourhood_id);
        if (r < 0)
            problem(&p, "its signature does not verify for this neighbourhood (%s)",
                    nb_strerror(r));
    }
    /* Validated against its own time: what was valid when it arrived. */
    r = nb_record_validate(&rec, rec.created_at);
    if (r < 0)
        problem(&p, "it is not a valid record (%s)", nb_strerror(r));
    check_columns(f, row, &rec, &p);
out:
    if (p.n > 0) {
        f->bad++;
        report(f, "record %s: %s", name, p.text);
    }
    return 0;
}

static void integrity_problem(void *ctx, const char *line)
{
    struct fsck *f = ctx;
    f->store_bad++;
    report(f, "store: integrity_check: %s", line);
}

/* The neighbourhood's key and id, and that one is the other's id. */
static void fsck_neighbourhood(struct fsck *f)
{
    uint8_t key[NB_NEIGHBOURHOOD_KEY_SIZE];
    uint8_t id[NB_NEIGHBOURHOOD_ID_SIZE];
    int rk = nbd_store_ro_meta(f->store, "neighbourhood.key", key, sizeof(key));
    int ri = nbd_store_ro_meta(f->store, "neighbourhood.id", f->neighbourhood_id,
                               NB_NEIGHBOURHOOD_ID_SIZE);
    if (rk == NB_ENOENT && ri == NB_ENOENT)
        goto out;
    if (rk < 0) {
        f->store_bad++;
        report(f, "store: the neighbourhood key is %s", rk == NB_ENOENT ? "missing" : "damaged");
    }
    if (ri < 0) {
        f->store_bad++;
        report(f, "store: the neighbourhood id is %s", ri == NB_ENOENT ? "missing" : "damaged");
        goto out;
    }
    f->has_neighbourhood = true;
    if (rk == 0 && (nb_neighbourhood_id(key, id) < 0 ||
                    memcmp(id, f->neighbourhood_id, NB_NEIGHBOURHOOD_ID_SIZE) != 0)) {
        f->store_bad++;
        report(f, "store: the neighbourhood id is not the id of the stored neighbourhood key");
    }
out:
    sodium_memzero(key, sizeof(key));
}

/* A deleted record must stay deleted: one that is both stored and
 * tombstoned means a deletion did not stick. */
static void stored_tombstone(void *ctx, const uint8_t *id)
{
    struct fsck *f = ctx;
    char hex[2 * NB_ID_SIZE + 1] = "?";
    if (id != NULL)
        nb_hex(id, NB_ID_SIZE, hex);
    f->bad++;
    report(f, "record %s: it is stored although it was deleted (it has a tombstone)", hex);
}

static int fsck_store(struct fsck *f)
{
    char err[512];

    if (nbd_store_ro_integrity(f->store, integrity_problem, f, err, sizeof(err)) < 0) {
        f->store_bad++;
        report(f, "store: %s", err);
        return NB_EIO;
    }
    uint64_t version = nbd_store_ro_schema_version(f->store);
    if (version != NBD_STORE_SCHEMA_VERSION) {
        f->store_bad++;
        report(f, "store: schema version %llu, but this noaberd checks version %d%s",
               (unsigned long long)version, NBD_STORE_SCHEMA_VERSION,
               version < NBD_STORE_SCHEMA_VERSION ? " (start noaberd once to migrate it)"
                                                  : " (use a newer noaberd)");
        return NB_EVERSION;
    }
    fsck_neighbourhood(f);
    if (nbd_store_ro_foreach_row(f->store, check_record, f, err, sizeof(err)) < 0) {
        f->store_bad++;
        report(f, "store: %s", err);
        if (f->checked == 0)
            return NB_EIO;
    }
    if (f->checked > 0 && !f->has_neighbourhood) {
        f->store_bad++;
        report(f, "store: it holds records but no neighbourhood, so no signature can be checked");
    }
    nbd_store_ro_foreach_stored_tombstone(f->store, stored_tombstone, f);
    return 0;
}

/* The marker beside the store (daemon/marker.h) against the store: an
 * empty store where the node had a neighbourhood is a lost store. */
static void fsck_marker(struct fsck *f, const char *data_dir)
{
    uint8_t marked[NB_NEIGHBOURHOOD_ID_SIZE];
    char hex[2 * NB_NEIGHBOURHOOD_ID_SIZE + 1];
    int r = nbd_marker_read(data_dir, marked);
    if (r == NB_ENOENT)
        return;
    if (r < 0) {
        f->store_bad++;
        report(f, "%s/%s: it cannot be read or holds no neighbourhood id", data_dir,
               NBD_MARKER_NAME);
        return;
    }
    nb_hex(marked, sizeof(marked), hex);
    if (!f->has_neighbourhood) {
        f->store_bad++;
        report(f,
               "store: it holds no neighbourhood, but this node belonged to neighbourhood "
               "%.16s… (%s/%s): the store was lost or replaced",
               hex, data_dir, NBD_MARKER_NAME);
    } else if (memcmp(marked, f->neighbourhood_id, sizeof(marked)) != 0) {
        f->store_bad++;
        report(f,
               "store: it belongs to another neighbourhood than this node did (%.16s…, %s/%s): "
               "the store was replaced",
               hex, data_dir, NBD_MARKER_NAME);
    }
}

int nbd_admin_fsck(int argc, char **argv)
{
    static const char usage[] = "fsck [--data-dir DIR] [--config FILE]";
    struct admin_args a;
    struct fsck f;
    char *path = NULL;
    char err[1024];
    int status = parse_args(argc, argv, usage, false, &a);
    if (status != 0)
        return status < 0 ? 0 : status;

    memset(&f, 0, sizeof(f));
    status = check_owner("fsck", a.data_dir);
    if (status != 0)
        goto out;
    if (nb_init() < 0) {
        status = complain("fsck", "cannot initialise libsodium");
        goto out;
    }
    path = nb_path_join(a.data_dir, store_name);
    if (path == NULL) {
        status = complain("fsck", "out of memory");
        goto out;
    }
    /* Before the store is opened: SQLite's replay of the WAL would leave
     * out what a damaged frame hides, without a word.  Only while no
     * daemon runs: a running one is appending to its WAL (which it checked
     * when it started), and a frame half written is not damage. */
    struct nbd_wal_report wal = { .verdict = NBD_WAL_CLEAN };
    int lock_fd = -1;
    if (nbd_lock_acquire(a.data_dir, &lock_fd, err, sizeof(err)) == 0) {
        int r = nbd_wal_check(path, (uint64_t)time(NULL), false, &wal, err, sizeof(err));
        close(lock_fd);
        if (r < 0) {
            status = complain("fsck", "%s", err);
            goto out;
        }
    }
    if (nbd_store_ro_open(path, &f.store, err, sizeof(err)) < 0) {
        status = complain("fsck", "%s", err);
        goto out;
    }
    printf("checking %s\n", path);
    if (wal.verdict == NBD_WAL_DAMAGED) {
        f.store_bad++;
        report(&f,
               "store: its write-ahead log %s-wal is damaged: %s; noaberd keeps a copy of it "
               "when it next starts, and fetches the lost records again from its peers",
               path, wal.what);
    }
    fsck_store(&f);
    fsck_marker(&f, a.data_dir);
    uint64_t tombstones = nbd_store_ro_tombstones(f.store);
    printf("checked %llu records (%llu tombstones): %llu bad records, %llu store problems\n",
           (unsigned long long)f.checked, (unsigned long long)tombstones, (unsigned long long)f.bad,
           (unsigned long long)f.store_bad);
    if (f.reported > FSCK_REPORT_MAX)
        printf("(only the first %d problems are listed)\n", FSCK_REPORT_MAX);
    status = f.bad > 0 || f.store_bad > 0 ? EXIT_PROBLEM : 0;
    if (status != 0)
        printf("restore a backup taken before the damage, or ask peers to send the records "
               "again (see docs/operating.md)\n");
out:
    nbd_store_ro_close(f.store);
    free(path);
    admin_args_clear(&a);
    return status;
}

/* ---- backup ------------------------------------------------------------ */

int nbd_admin_backup(int argc, char **argv)
{
    static const char usage[] = "backup DEST [--data-dir DIR] [--config FILE]";
    struct admin_args a;
    char *src = NULL, *partial = NULL, *dst = NULL, *key_src = NULL, *key_dst = NULL;
    char *conf_dst = NULL;
    int status = parse_args(argc, argv, usage, true, &a);
    if (status != 0)
        return status < 0 ? 0 : status;
    const char *config_path = a.config_path;

    const char *dest = a.positional;
    status = check_owner("backup", a.data_dir);
    if (status != 0)
        goto out;
    src = nb_path_join(a.data_dir, store_name);
    partial = nb_path_join(dest, "store.sqlite.partial");
    dst = nb_path_join(dest, store_name);
    key_src = nb_path_join(a.data_dir, node_key_name);
    key_dst = nb_path_join(dest, node_key_name);
    conf_dst = nb_path_join(dest, "noaberd.conf");
    if (src == NULL || partial == NULL || dst == NULL || key_src == NULL || key_dst == NULL ||
        conf_dst == NULL) {
        status = complain("backup", "out of memory");
        goto out;
    }
    if (mkdir(dest, 0700) < 0 && errno != EEXIST) {
        status = complain("backup", "cannot create %s: %s", dest, strerror(errno));
        goto out;
    }
    if (file_exists(dst) || file_exists(key_dst) || file_exists(conf_dst)) {
        status = complain("backup", "%s already holds a backup; choose a new directory", dest);
        goto out;
    }
    unlink(partial); /* left by an interrupted backup */

    uint64_t records = 0;
    char err[1024];
    if (nbd_store_backup(src, partial, &records, err, sizeof(err)) < 0) {
        status = complain("backup", "%s", err);
        unlink(partial);
        goto out;
    }
    /* The copy is checked as fsck checks a store (integrity_check, every
     * record against its id and signature): a backup of a damaged store
     * would carry the damage to the day it is needed. */
    struct fsck check;
    memset(&check, 0, sizeof(check));
    if (nb_init() < 0) {
        status = complain("backup", "cannot initialise libsodium");
        unlink(partial);
        goto out;
    }
    if (nbd_store_ro_open(partial, &check.store, err, sizeof(err)) < 0) {
        status = complain("backup", "cannot check the copy: %s", err);
        unlink(partial);
        goto out;
    }
    fsck_store(&check);
    nbd_store_ro_close(check.store);
    if (check.bad > 0 || check.store_bad > 0) {
        status = complain("backup",
                          "the store %s is damaged (%llu bad records, %llu store problems, "
                          "listed above); no backup was written.  Run `noaberd fsck` and "
                          "repair the store before backing it up, and keep the backups "
                          "you already have",
                          src, (unsigned long long)check.bad, (unsigned long long)check.store_bad);
        unlink(partial);
        goto out;
    }
    /* Only a complete, checked copy gets the name a restore looks for. */
    if (fsync_path(partial, false) < 0 || rename(partial, dst) < 0) {
        status = complain("backup", "cannot finish %s: %s", dst, strerror(errno));
        unlink(partial);
        goto out;
    }
    int r = copy_file(key_src, key_dst);
    if (r < 0) {
        status = complain("backup", "cannot copy %s to %s: %s", key_src, key_dst, strerror(errno));
        goto out;
    }
    bool has_key = r == 0;
    /* The report key signs the shared overview: organisations know it, so a
     * restored node keeps it (docs/operating.md). */
    bool has_report_key = false;
    {
        char *rk_src = nb_path_join(a.data_dir, NB_REPORT_KEY_FILE);
        char *rk_dst = nb_path_join(dest, NB_REPORT_KEY_FILE);
        r = rk_src != NULL && rk_dst != NULL ? copy_file(rk_src, rk_dst) : -1;
        if (r < 0)
            status = complain("backup", "cannot copy %s: %s", NB_REPORT_KEY_FILE, strerror(errno));
        free(rk_src);
        free(rk_dst);
        if (r < 0)
            goto out;
        has_report_key = r == 0;
    }
    bool has_conf = false;
    if (config_path != NULL) {
        r = copy_file(config_path, conf_dst);
        if (r != 0) {
            status = complain("backup", "cannot copy %s to %s: %s", config_path, conf_dst,
                              r > 0 ? "it does not exist" : strerror(errno));
            goto out;
        }
        has_conf = true;
    }
    if (fsync_path(dest, true) < 0) {
        status = complain("backup", "cannot sync %s: %s", dest, strerror(errno));
        goto out;
    }
    printf("backed up %llu records from %s to %s: %s%s%s%s\n", (unsigned long long)records,
           a.data_dir, dest, store_name, has_key ? ", node.key" : "",
           has_report_key ? ", report.key" : "", has_conf ? ", noaberd.conf" : "");
    if (!has_key)
        printf("(%s has no node.key yet: the node makes one when peer networking starts)\n",
               a.data_dir);
    printf("the backup holds the secret neighbourhood key: keep it as safe as the node\n");
    status = 0;
out:
    free(src);
    free(partial);
    free(dst);
    free(key_src);
    free(key_dst);
    free(conf_dst);
    admin_args_clear(&a);
    return status;
}

/* ---- erase-member ------------------------------------------------------- */

int nbd_admin_erase_member(int argc, char **argv)
{
    static const char usage[] = "erase-member MEMBER [--data-dir DIR] [--config FILE]";
    struct admin_args a;
    struct nbd_store *store = NULL;
    uint8_t member[NB_KEY_SIZE];
    char err[1024];
    char *path = NULL;
    int lock_fd = -1;
    bool in_txn = false;
    int status = parse_args(argc, argv, usage, true, &a);
    if (status != 0)
        return status < 0 ? 0 : status;

    if (nb_init() < 0) {
        status = complain("erase-member", "cannot initialise libsodium");
        goto out;
    }
    if (nb_member_key_from_text(a.positional, member) < 0) {
        status = complain("erase-member",
                          "'%s' is not a member key: give the nbm1... text that `noaber id "
                          "show` prints",
                          a.positional);
        if (status == EXIT_PROBLEM)
            status = EXIT_USAGE;
        goto out;
    }
    status = check_owner("erase-member", a.data_dir);
    if (status != 0)
        goto out;
    /* The lock keeps a running daemon from holding, pushing or re-deriving
     * the records while they go. */
    if (nbd_lock_acquire(a.data_dir, &lock_fd, err, sizeof(err)) < 0) {
        status = complain("erase-member", "%s; stop it first (systemctl stop noaberd)", err);
        goto out;
    }
    path = nb_path_join(a.data_dir, store_name);
    if (path == NULL) {
        status = complain("erase-member", "out of memory");
        goto out;
    }
    if (!file_exists(path)) {
        status =
            complain("erase-member", "%s does not exist: this data directory holds no store", path);
        goto out;
    }
    if (nbd_store_open(path, &store, err, sizeof(err)) < 0) {
        status = complain("erase-member", "%s", err);
        goto out;
    }
    if (nbd_store_begin(store) < 0) {
        status = complain("erase-member", "cannot start a transaction");
        goto out;
    }
    in_txn = true;
    uint64_t authored = 0, deleted = 0;
    /* Tombstones without an end: the records are refused for good,
     * whichever peer offers them again and however late. */
    int r = nbd_store_purge_author(store, member, false, 0, &authored, &deleted);
    if (r < 0) {
        status = complain("erase-member", "deleting failed: %s", nb_strerror(r));
        goto out;
    }
    if (nbd_store_commit(store) < 0) {
        in_txn = false;
        status = complain("erase-member", "cannot commit the deletion");
        goto out;
    }
    in_txn = false;
    nbd_store_close(store);
    store = NULL;
    if (nbd_store_compact(path) < 0)
        fprintf(stderr,
                "noaberd erase-member: the records are deleted, but compacting %s "
                "failed; deleted bytes may remain in free pages until the next VACUUM\n",
                path);
    printf("erased %llu records by %s, %llu records in all with what acted on them; "
           "their tombstones keep them from coming back\n",
           (unsigned long long)authored, a.positional, (unsigned long long)deleted);
    printf("backups taken before now still hold them: delete or re-take those backups\n");
    /* A tombstone is this node's own: nothing here reaches the copies on
     * the other nodes of the neighbourhood, which is what an erasure
     * request (GDPR art. 17) is about.  Say so, with what to ask. */
    printf("\n"
           "This erased the member's records on this node only.  The other nodes of the\n"
           "neighbourhood still hold their copies, and a node that does not erase them\n"
           "keeps them until they expire.  Ask the operator of each other node to run\n"
           "\n"
           "    noaberd erase-member %s\n"
           "\n"
           "on their node (`noaber peers` lists the nodes this one knows), or ask the\n"
           "member, if they still have their key, to retract their records with\n"
           "`noaber retract ID`: a retraction reaches every node.\n",
           a.positional);
    status = 0;
out:
    if (in_txn)
        nbd_store_rollback(store);
    nbd_store_close(store);
    if (lock_fd >= 0)
        close(lock_fd);
    free(path);
    admin_args_clear(&a);
    return status;
}

/* ---- dispatch ---------------------------------------------------------------- */

bool nbd_admin_dispatch(int argc, char **argv, int *ret_status)
{
    static const struct {
        const char *name;
        int (*run)(int argc, char **argv);
    } commands[] = {
        { "fsck", nbd_admin_fsck },
        { "backup", nbd_admin_backup },
        { "erase-member", nbd_admin_erase_member },
    };
    /* Backups hold the neighbourhood key; everything these commands create
     * is for the operator's user alone, as the daemon's own files are. */
    umask(077);
    for (int i = 1; i < argc; i++) {
        if (strcmp(argv[i], "--check-config") == 0) {
            *ret_status = nbd_admin_check_config(argc, argv);
            return true;
        }
    }
    if (argc < 2)
        return false;
    for (size_t i = 0; i < sizeof(commands) / sizeof(commands[0]); i++) {
        if (strcmp(argv[1], commands[i].name) == 0) {
            *ret_status = commands[i].run(argc - 1, argv + 1);
            return true;
        }
    }
    return false;
}
