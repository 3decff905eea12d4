#include "daemon/config.h"

#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <noaber/error.h>

#include <noaber/peerwire.h>

#include "common/message.h"
#include "common/path.h"
#include "common/duration.h"
#include "daemon/log.h"
#include "daemon/net/net.h"
#include "daemon/node.h"

/* Bounds of the expiry settings: long enough for any deployment, short
 * enough that a typo ("1000d") does not silently keep data for years. */
#define PURGE_GRACE_MAX    (90 * 24 * 3600)
#define PURGE_INTERVAL_MIN 1
#define PURGE_INTERVAL_MAX (24 * 3600)
/* Peer settings: a sync interval of a second is for tests; a day is the
 * longest a neighbourhood should wait for a missed record. */
#define SYNC_INTERVAL_MIN 1
#define SYNC_INTERVAL_MAX (24 * 3600)
#define MAX_PEERS_MAX     1024
#define PEERS_MAX         64
/* Records per member per hour or day: 0 turns the quota off; a million is
 * more than any node could take in. */
#define QUOTA_MAX 1000000

const char nbd_usage[] =
    "usage: noaberd [options]\n"
    "       noaberd --check-config [--config FILE] [options]\n"
    "       noaberd fsck [--data-dir DIR] [--config FILE]\n"
    "       noaberd backup DEST [--data-dir DIR] [--config FILE]\n"
    "       noaberd erase-member MEMBER [--data-dir DIR] [--config FILE]\n"
    "\n"
    "Runs one Noaber node in the foreground until SIGTERM or SIGINT.  The\n"
    "operator commands check a config, verify the store, back it up while the\n"
    "node runs, or erase one member's records for good (see noaberd(8)).\n"
    "\n"
    "  --data-dir DIR      where the store, lock and key live\n"
    "                      (default $XDG_DATA_HOME/noaber, or $STATE_DIRECTORY\n"
    "                      when run as a systemd service)\n"
    "  --socket PATH       the control socket (default\n"
    "                      $XDG_RUNTIME_DIR/noaber/noaberd.sock, else DATA_DIR/noaberd.sock)\n"
    "  --member-socket PATH  the socket for neighbours' programs: records only, no\n"
    "                      node management (default beside --socket: noaberd-member.sock)\n"
    "  --config FILE       read settings from FILE (see docs/config.md);\n"
    "                      flags override the file\n"
    "  --log-level LEVEL   error, warn, info (default) or debug\n"
    "  --listen HOST:PORT  where to accept peer connections (default 0.0.0.0:7447;\n"
    "                      port 0 picks a free port)\n"
    "  --advertise HOST:PORT  the address told to other nodes\n"
    "  --peer HOST:PORT    connect to this node (repeatable)\n"
    "  --no-discovery      do not send or listen for LAN discovery beacons\n"
    "  --foreground        accepted for service managers; noaberd never daemonizes\n"
    "  --help              show this text\n"
    "  --version           show the version\n";

void nbd_config_init(struct nbd_config *cfg)
{
    memset(cfg, 0, sizeof(*cfg));
    cfg->log_level = -1;
    cfg->purge_grace = -1;
    cfg->purge_interval = -1;
    cfg->max_peers = -1;
    cfg->quota_hour = -1;
    cfg->quota_day = -1;
    cfg->store_cache = -1;
    cfg->sync_interval = -1;
    cfg->peer_exchange = -1;
    cfg->peer_exchange_allow_loopback = -1;
    cfg->reconcile_riblt = -1;
    cfg->share_report = -1;
    cfg->socket_group_access = -1;
    cfg->discovery = -1;
}

void nbd_config_clear(struct nbd_config *cfg)
{
    free(cfg->data_dir);
    free(cfg->socket_path);
    free(cfg->member_socket_path);
    free(cfg->listen);
    free(cfg->advertise);
    for (size_t i = 0; i < cfg->n_peers; i++)
        free(cfg->peers[i]);
    free(cfg->peers);
    nbd_config_init(cfg);
}

static const char *const known_keys[] = {
    "data_dir",
    "socket",
    "member_socket",
    "log_level",
    "purge_grace",
    "purge_interval",
    "socket_group_access",
    "discovery",
    "listen",
    "advertise",
    "peer",
    "max_peers",
    "sync_interval",
    "peer_exchange",
    "peer_exchange_allow_loopback",
    "reconcile_riblt",
    "quota_hour",
    "quota_day",
    "store_cache",
    "share_report",
};
#define N_KNOWN_KEYS (sizeof(known_keys) / sizeof(known_keys[0]))

/* Levenshtein distance, capped: keys are short, so a fixed row suffices. */
static size_t edit_distance(const char *a, const char *b)
{
    size_t la = strlen(a), lb = strlen(b);
    if (la > 40 || lb > 40)
        return 99;
    size_t row[41];
    for (size_t j = 0; j <= lb; j++)
        row[j] = j;
    for (size_t i = 1; i <= la; i++) {
        size_t diag = row[0];
        row[0] = i;
        for (size_t j = 1; j <= lb; j++) {
            size_t up = row[j];
            size_t best = diag + (a[i - 1] == b[j - 1] ? 0 : 1);
            if (up + 1 < best)
                best = up + 1;
            if (row[j - 1] + 1 < best)
                best = row[j - 1] + 1;
            row[j] = best;
            diag = up;
        }
    }
    return row[lb];
}

static const char *suggest_key(const char *key)
{
    const char *best = NULL;
    size_t best_d = 3; /* only suggest close matches */
    for (size_t i = 0; i < N_KNOWN_KEYS; i++) {
        size_t d = edit_distance(key, known_keys[i]);
        if (d < best_d) {
            best_d = d;
            best = known_keys[i];
        }
    }
    return best;
}

static bool is_space(char c)
{
    return c == ' ' || c == '\t' || c == '\r';
}

/* Stores one key/value pair; writes the problem (without file:line) to err. */
/* A whole number from min to max, for the setting `key`. */
static int parse_count(const char *key, const char *value, unsigned long long min,
                       unsigned long long max, int64_t *ret, char *err, size_t err_size)
{
    char *end = NULL;
    errno = 0;
    unsigned long long v = strtoull(value, &end, 10);
    if (value[0] < '0' || value[0] > '9' || errno != 0 || *end != '\0' || v < min || v > max) {
        nb_say(err, err_size, "%s must be a number from %llu to %llu, not '%.80s'", key, min, max,
               value);
        return NB_EINVAL;
    }
    *ret = (int64_t)v;
    return 0;
}

static int set_key(struct nbd_config *cfg, const char *key, const char *value, bool from_file,
                   char *err, size_t err_size)
{
    if (strcmp(key, "data_dir") == 0 || strcmp(key, "socket") == 0 ||
        strcmp(key, "member_socket") == 0) {
        char **slot = key[0] == 'd'   ? &cfg->data_dir
                      : key[0] == 's' ? &cfg->socket_path
                                      : &cfg->member_socket_path;
        /* A relative path in a file would depend on the directory the
         * daemon happens to be started from. */
        if (from_file && value[0] != '/') {
            nb_say(err, err_size, "%s must be an absolute path, not '%s'", key, value);
            return NB_EINVAL;
        }
        if (strlen(value) >= 4000) {
            nb_say(err, err_size, "%s is too long", key);
            return NB_EINVAL;
        }
        char *copy = strdup(value);
        if (copy == NULL) {
            nb_say(err, err_size, "out of memory");
            return NB_ENOMEM;
        }
        free(*slot);
        *slot = copy;
        return 0;
    }
    if (strcmp(key, "log_level") == 0) {
        int level = nbd_log_level_parse(value);
        if (level < 0) {
            nb_say(err, err_size, "log_level must be error, warn, info or debug, not '%s'", value);
            return NB_EINVAL;
        }
        cfg->log_level = level;
        return 0;
    }
    if (strcmp(key, "purge_grace") == 0 || strcmp(key, "purge_interval") == 0) {
        bool grace = key[6] == 'g';
        uint64_t seconds;
        if (nb_duration_parse(value, &seconds) < 0) {
            nb_say(err, err_size,
                   "%s must be a duration like 90s, 15m, 12h, 1d or 1w (a number and one of "
                   "the units " NB_DURATION_UNITS "), not '%s'",
                   key, value);
            return NB_EINVAL;
        }
        uint64_t lo = grace ? 0 : PURGE_INTERVAL_MIN;
        uint64_t hi = grace ? PURGE_GRACE_MAX : PURGE_INTERVAL_MAX;
        if (seconds < lo || seconds > hi) {
            nb_say(err, err_size, "%s must be between %s and %s", key, grace ? "0s" : "1s",
                   grace ? "90d" : "1d");
            return NB_EINVAL;
        }
        if (grace)
            cfg->purge_grace = (int64_t)seconds;
        else
            cfg->purge_interval = (int64_t)seconds;
        return 0;
    }
    if (strcmp(key, "discovery") == 0) {
        if (strcmp(value, "on") != 0 && strcmp(value, "off") != 0) {
            nb_say(err, err_size, "discovery must be on or off, not '%s'", value);
            return NB_EINVAL;
        }
        cfg->discovery = value[1] == 'n';
        return 0;
    }
    if (strcmp(key, "listen") == 0 || strcmp(key, "advertise") == 0 || strcmp(key, "peer") == 0) {
        /* The address is checked here so that a typo is reported with its
         * file and line, not when the node first dials. */
        bool listen = key[0] == 'l';
        if (nb_peer_address_parse(value, strlen(value), listen, NULL, NULL) < 0) {
            nb_say(err, err_size,
                   "%s must be HOST:PORT (an IPv6 host in brackets, port 1..65535%s), not '%.80s'",
                   key, listen ? " or 0 for any" : "", value);
            return NB_EINVAL;
        }
        char *copy = strdup(value);
        if (copy == NULL) {
            nb_say(err, err_size, "out of memory");
            return NB_ENOMEM;
        }
        if (key[0] == 'p') {
            if (cfg->n_peers == PEERS_MAX) {
                free(copy);
                nb_say(err, err_size, "at most %d peer lines", PEERS_MAX);
                return NB_EINVAL;
            }
            char **list = realloc(cfg->peers, (cfg->n_peers + 1) * sizeof(*list));
            if (list == NULL) {
                free(copy);
                nb_say(err, err_size, "out of memory");
                return NB_ENOMEM;
            }
            cfg->peers = list;
            cfg->peers[cfg->n_peers++] = copy;
        } else {
            char **slot = listen ? &cfg->listen : &cfg->advertise;
            free(*slot);
            *slot = copy;
        }
        return 0;
    }
    if (strcmp(key, "max_peers") == 0)
        return parse_count(key, value, 1, MAX_PEERS_MAX, &cfg->max_peers, err, err_size);
    if (strcmp(key, "quota_hour") == 0)
        return parse_count(key, value, 0, QUOTA_MAX, &cfg->quota_hour, err, err_size);
    if (strcmp(key, "quota_day") == 0)
        return parse_count(key, value, 0, QUOTA_MAX, &cfg->quota_day, err, err_size);
    if (strcmp(key, "store_cache") == 0)
        return parse_count(key, value, 1, NBD_STORE_CACHE_MAX, &cfg->store_cache, err, err_size);
    if (strcmp(key, "peer_exchange") == 0 || strcmp(key, "peer_exchange_allow_loopback") == 0 ||
        strcmp(key, "share_report") == 0 || strcmp(key, "reconcile_riblt") == 0) {
        if (strcmp(value, "on") != 0 && strcmp(value, "off") != 0) {
            nb_say(err, err_size, "%s must be on or off, not '%s'", key, value);
            return NB_EINVAL;
        }
        if (strcmp(key, "peer_exchange") == 0)
            cfg->peer_exchange = value[1] == 'n';
        else if (strcmp(key, "share_report") == 0)
            cfg->share_report = value[1] == 'n';
        else if (strcmp(key, "reconcile_riblt") == 0)
            cfg->reconcile_riblt = value[1] == 'n';
        else
            cfg->peer_exchange_allow_loopback = value[1] == 'n';
        return 0;
    }
    if (strcmp(key, "sync_interval") == 0) {
        uint64_t seconds;
        if (nb_duration_parse(value, &seconds) < 0 || seconds < SYNC_INTERVAL_MIN ||
            seconds > SYNC_INTERVAL_MAX) {
            nb_say(err, err_size,
                   "sync_interval must be a duration from 1s to 1d like 30s or 5m, not '%.80s'",
                   value);
            return NB_EINVAL;
        }
        cfg->sync_interval = (int64_t)seconds;
        return 0;
    }
    if (strcmp(key, "socket_group_access") == 0) {
        if (strcmp(value, "on") != 0 && strcmp(value, "off") != 0) {
            nb_say(err, err_size, "socket_group_access must be on or off, not '%s'", value);
            return NB_EINVAL;
        }
        cfg->socket_group_access = value[1] == 'n';
        return 0;
    }
    const char *hint = suggest_key(key);
    if (hint != NULL)
        nb_say(err, err_size, "unknown key '%s' (did you mean '%s'?)", key, hint);
    else
        nb_say(err, err_size, "unknown key '%s'", key);
    return NB_EINVAL;
}

int nbd_config_parse(const char *name, const char *text, size_t len, struct nbd_config *cfg,
                     char *err, size_t err_size)
{
    char problem[512];
    unsigned seen[N_KNOWN_KEYS] = { 0 };
    char line[NBD_CONFIG_LINE_MAX + 1];
    unsigned lineno = 0;
    size_t pos = 0;
    int r = 0;

    if (len > NBD_CONFIG_MAX_BYTES) {
        nb_say(err, err_size, "%s: the file is larger than %d bytes", name, NBD_CONFIG_MAX_BYTES);
        return NB_EINVAL;
    }
    while (pos < len) {
        lineno++;
        size_t end = pos;
        while (end < len && text[end] != '\n')
            end++;
        size_t n = end - pos;
        if (n > NBD_CONFIG_LINE_MAX) {
            nb_say(problem, sizeof(problem), "line is longer than %d bytes", NBD_CONFIG_LINE_MAX);
            r = NB_EINVAL;
            goto out;
        }
        memcpy(line, text + pos, n);
        line[n] = '\0';
        pos = end + 1;
        if (memchr(line, '\0', n) != NULL) {
            nb_say(problem, sizeof(problem), "line contains a NUL byte");
            r = NB_EINVAL;
            goto out;
        }

        char *p = line;
        while (is_space(*p))
            p++;
        if (*p == '\0' || *p == '#')
            continue;
        char *eq = strchr(p, '=');
        if (eq == NULL) {
            nb_say(problem, sizeof(problem), "expected 'key = value', got '%.60s'", p);
            r = NB_EINVAL;
            goto out;
        }
        char *kend = eq;
        while (kend > p && is_space(kend[-1]))
            kend--;
        *kend = '\0';
        char *value = eq + 1;
        while (is_space(*value))
            value++;
        char *vend = value + strlen(value);
        while (vend > value && is_space(vend[-1]))
            vend--;
        *vend = '\0';

        if (*p == '\0') {
            nb_say(problem, sizeof(problem), "missing key before '='");
            r = NB_EINVAL;
            goto out;
        }
        for (const char *c = p; *c != '\0'; c++) {
            if (!((*c >= 'a' && *c <= 'z') || *c == '_' || (*c >= '0' && *c <= '9'))) {
                nb_say(problem, sizeof(problem), "'%.60s' is not a key (keys are lowercase_words)",
                       p);
                r = NB_EINVAL;
                goto out;
            }
        }
        if (*value == '\0') {
            nb_say(problem, sizeof(problem), "missing value for '%s'", p);
            r = NB_EINVAL;
            goto out;
        }
        for (size_t i = 0; i < N_KNOWN_KEYS; i++) {
            if (strcmp(p, known_keys[i]) == 0 && strcmp(p, "peer") != 0) {
                if (seen[i] != 0) {
                    nb_say(problem, sizeof(problem), "'%s' is already set on line %u", p, seen[i]);
                    r = NB_EINVAL;
                    goto out;
                }
                seen[i] = lineno;
            }
        }
        r = set_key(cfg, p, value, true, problem, sizeof(problem));
        if (r < 0)
            goto out;
    }
out:
    if (r < 0)
        nb_say(err, err_size, "%s:%u: %s", name, lineno, problem);
    return r;
}

int nbd_config_load(const char *path, struct nbd_config *cfg, char *err, size_t err_size)
{
    int r = 0;
    char *text = NULL;
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0) {
        nb_say(err, err_size, "%s: cannot open: %s", path, strerror(errno));
        return NB_EIO;
    }
    struct stat st;
    if (fstat(fd, &st) < 0 || !S_ISREG(st.st_mode)) {
        nb_say(err, err_size, "%s: not a regular file", path);
        r = NB_EIO;
        goto out;
    }
    if (st.st_size > NBD_CONFIG_MAX_BYTES) {
        nb_say(err, err_size, "%s: the file is larger than %d bytes", path, NBD_CONFIG_MAX_BYTES);
        r = NB_EINVAL;
        goto out;
    }
    text = malloc((size_t)st.st_size + 1);
    if (text == NULL) {
        r = NB_ENOMEM;
        nb_say(err, err_size, "%s: out of memory", path);
        goto out;
    }
    size_t got = 0;
    while (got < (size_t)st.st_size) {
        ssize_t n = read(fd, text + got, (size_t)st.st_size - got);
        if (n < 0 && errno == EINTR)
            continue;
        if (n <= 0) {
            nb_say(err, err_size, "%s: cannot read: %s", path, n < 0 ? strerror(errno) : "short");
            r = NB_EIO;
            goto out;
        }
        got += (size_t)n;
    }
    r = nbd_config_parse(path, text, got, cfg, err, err_size);
out:
    free(text);
    close(fd);
    return r;
}

void nbd_options_clear(struct nbd_options *opts)
{
    nbd_config_clear(&opts->flags);
    free(opts->config_path);
    opts->config_path = NULL;
}

enum {
    OPT_DATA_DIR = 256,
    OPT_SOCKET,
    OPT_MEMBER_SOCKET,
    OPT_CONFIG,
    OPT_LOG_LEVEL,
    OPT_FOREGROUND,
    OPT_NO_DISCOVERY,
    OPT_LISTEN,
    OPT_ADVERTISE,
    OPT_PEER,
    OPT_HELP,
    OPT_VERSION,
};

int nbd_options_parse(int argc, char **argv, struct nbd_options *ret, char *err, size_t err_size)
{
    static const struct option longopts[] = {
        { "data-dir", required_argument, NULL, OPT_DATA_DIR },
        { "socket", required_argument, NULL, OPT_SOCKET },
        { "member-socket", required_argument, NULL, OPT_MEMBER_SOCKET },
        { "config", required_argument, NULL, OPT_CONFIG },
        { "log-level", required_argument, NULL, OPT_LOG_LEVEL },
        { "foreground", no_argument, NULL, OPT_FOREGROUND },
        { "no-discovery", no_argument, NULL, OPT_NO_DISCOVERY },
        { "listen", required_argument, NULL, OPT_LISTEN },
        { "advertise", required_argument, NULL, OPT_ADVERTISE },
        { "peer", required_argument, NULL, OPT_PEER },
        { "help", no_argument, NULL, OPT_HELP },
        { "version", no_argument, NULL, OPT_VERSION },
        { NULL, 0, NULL, 0 },
    };
    struct nbd_options o;
    char problem[512];
    int r = 0;

    memset(&o, 0, sizeof(o));
    nbd_config_init(&o.flags);
    optind = 0; /* getopt_long keeps state; reset it for repeated calls (tests). */
    opterr = 0;
    for (;;) {
        int c = getopt_long(argc, argv, ":h", longopts, NULL);
        if (c == -1)
            break;
        switch (c) {
        case OPT_DATA_DIR:
            r = set_key(&o.flags, "data_dir", optarg, false, problem, sizeof(problem));
            break;
        case OPT_SOCKET:
            r = set_key(&o.flags, "socket", optarg, false, problem, sizeof(problem));
            break;
        case OPT_MEMBER_SOCKET:
            r = set_key(&o.flags, "member_socket", optarg, false, problem, sizeof(problem));
            break;
        case OPT_LOG_LEVEL:
            r = set_key(&o.flags, "log_level", optarg, false, problem, sizeof(problem));
            break;
        case OPT_CONFIG:
            free(o.config_path);
            o.config_path = strdup(optarg);
            if (o.config_path == NULL) {
                r = NB_ENOMEM;
                nb_say(problem, sizeof(problem), "out of memory");
            }
            break;
        case OPT_FOREGROUND:
            o.foreground = true;
            break;
        case OPT_NO_DISCOVERY:
            o.flags.discovery = 0;
            break;
        case OPT_LISTEN:
            r = set_key(&o.flags, "listen", optarg, false, problem, sizeof(problem));
            break;
        case OPT_ADVERTISE:
            r = set_key(&o.flags, "advertise", optarg, false, problem, sizeof(problem));
            break;
        case OPT_PEER:
            r = set_key(&o.flags, "peer", optarg, false, problem, sizeof(problem));
            break;
        case 'h':
        case OPT_HELP:
            o.help = true;
            break;
        case OPT_VERSION:
            o.version = true;
            break;
        case ':':
            nb_say(problem, sizeof(problem), "option '%s' needs a value", argv[optind - 1]);
            r = NB_EINVAL;
            break;
        default:
            nb_say(problem, sizeof(problem), "unknown option '%s'", argv[optind - 1]);
            r = NB_EINVAL;
            break;
        }
        if (r < 0)
            goto out;
    }
    if (optind < argc) {
        nb_say(problem, sizeof(problem), "unexpected argument '%s'", argv[optind]);
        r = NB_EINVAL;
        goto out;
    }
out:
    if (r < 0) {
        nb_say(err, err_size, "%s", problem);
        nbd_options_clear(&o);
        return r;
    }
    *ret = o;
    return 0;
}

/* systemd may list several directories separated by ':'; the first is ours. */
static char *first_dir(const char *list)
{
    size_t n = strcspn(list, ":");
    return strndup(list, n);
}

static const char *nonempty_env(const char *name)
{
    const char *v = getenv(name);
    return v != NULL && v[0] != '\0' ? v : NULL;
}

/* "DIR/NAME.sock" -> "DIR/NAME-member.sock": beside the operator's socket,
 * so that two daemons with their own sockets in one directory never share it. */
static char *member_socket_beside(const char *socket_path)
{
    size_t n = strlen(socket_path);
    static const char suffix[] = ".sock";
    size_t stem = n;
    if (n > sizeof(suffix) - 1 && strcmp(socket_path + n - (sizeof(suffix) - 1), suffix) == 0)
        stem = n - (sizeof(suffix) - 1);
    char *p = malloc(stem + sizeof("-member.sock"));
    if (p == NULL)
        return NULL;
    memcpy(p, socket_path, stem);
    memcpy(p + stem, "-member.sock", sizeof("-member.sock"));
    return p;
}

void nbd_settings_clear(struct nbd_settings *s)
{
    free(s->data_dir);
    free(s->socket_path);
    free(s->member_socket_path);
    s->data_dir = NULL;
    s->socket_path = NULL;
    s->member_socket_path = NULL;
    free(s->listen);
    free(s->advertise);
    s->listen = s->advertise = NULL;
    for (size_t i = 0; i < s->n_peers; i++)
        free(s->peers[i]);
    free(s->peers);
    s->peers = NULL;
    s->n_peers = 0;
}

int nbd_settings_resolve(const struct nbd_config *flags, const struct nbd_config *file,
                         struct nbd_settings *ret, char *err, size_t err_size)
{
    struct nbd_settings s = { 0 };
    const char *v;

    if ((v = flags->data_dir) != NULL || (v = file->data_dir) != NULL)
        s.data_dir = strdup(v);
    else if ((v = nonempty_env("STATE_DIRECTORY")) != NULL)
        s.data_dir = first_dir(v);
    else if ((v = nonempty_env("XDG_DATA_HOME")) != NULL)
        s.data_dir = nb_path_join(v, "noaber");
    else if ((v = nonempty_env("HOME")) != NULL)
        s.data_dir = nb_path_join(v, ".local/share/noaber");
    else {
        nb_say(err, err_size, "no data directory: set --data-dir, data_dir, XDG_DATA_HOME or HOME");
        return NB_EINVAL;
    }
    if (s.data_dir == NULL)
        goto nomem;

    if ((v = flags->socket_path) != NULL || (v = file->socket_path) != NULL) {
        s.socket_path = strdup(v);
    } else if ((v = nonempty_env("RUNTIME_DIRECTORY")) != NULL) {
        char *dir = first_dir(v);
        s.socket_path = dir != NULL ? nb_path_join(dir, "noaberd.sock") : NULL;
        free(dir);
    } else if ((v = nonempty_env("XDG_RUNTIME_DIR")) != NULL) {
        s.socket_path = nb_path_join(v, "noaber/noaberd.sock");
    } else {
        s.socket_path = nb_path_join(s.data_dir, "noaberd.sock");
    }
    if (s.socket_path == NULL)
        goto nomem;
    if ((v = flags->member_socket_path) != NULL || (v = file->member_socket_path) != NULL)
        s.member_socket_path = strdup(v);
    else
        s.member_socket_path = member_socket_beside(s.socket_path);
    if (s.member_socket_path == NULL)
        goto nomem;
    if (strcmp(s.member_socket_path, s.socket_path) == 0) {
        nb_say(err, err_size,
               "member_socket and socket are both %s: the member socket must be another path",
               s.socket_path);
        nbd_settings_clear(&s);
        return NB_EINVAL;
    }

    s.log_level = flags->log_level >= 0  ? flags->log_level
                  : file->log_level >= 0 ? file->log_level
                                         : NBD_LOG_INFO;
    s.purge_grace = flags->purge_grace >= 0  ? flags->purge_grace
                    : file->purge_grace >= 0 ? file->purge_grace
                                             : NBD_PURGE_GRACE_DEFAULT;
    s.purge_interval = flags->purge_interval >= 0  ? flags->purge_interval
                       : file->purge_interval >= 0 ? file->purge_interval
                                                   : NBD_PURGE_INTERVAL_DEFAULT;
    s.socket_group_access = flags->socket_group_access >= 0 ? flags->socket_group_access == 1
                                                            : file->socket_group_access == 1;
    s.discovery = flags->discovery >= 0 ? flags->discovery == 1 : file->discovery != 0;
    if ((v = flags->listen) != NULL || (v = file->listen) != NULL) {
        if ((s.listen = strdup(v)) == NULL)
            goto nomem;
    }
    if ((v = flags->advertise) != NULL || (v = file->advertise) != NULL) {
        if ((s.advertise = strdup(v)) == NULL)
            goto nomem;
    }
    size_t n_peers = flags->n_peers + file->n_peers;
    if (n_peers > 0) {
        s.peers = calloc(n_peers, sizeof(*s.peers));
        if (s.peers == NULL)
            goto nomem;
        for (size_t i = 0; i < n_peers; i++) {
            v = i < flags->n_peers ? flags->peers[i] : file->peers[i - flags->n_peers];
            if ((s.peers[i] = strdup(v)) == NULL)
                goto nomem;
            s.n_peers = i + 1;
        }
    }
    s.max_peers = (unsigned)(flags->max_peers >= 0  ? flags->max_peers
                             : file->max_peers >= 0 ? file->max_peers
                                                    : NBD_NET_MAX_PEERS_DEFAULT);
    s.sync_interval = (uint64_t)(flags->sync_interval >= 0  ? flags->sync_interval
                                 : file->sync_interval >= 0 ? file->sync_interval
                                                            : NBD_NET_SYNC_INTERVAL_DEFAULT);
    s.peer_exchange =
        flags->peer_exchange >= 0 ? flags->peer_exchange == 1 : file->peer_exchange != 0;
    s.quota_hour = (uint32_t)(file->quota_hour >= 0 ? file->quota_hour : NBD_QUOTA_HOUR_DEFAULT);
    s.quota_day = (uint32_t)(file->quota_day >= 0 ? file->quota_day : NBD_QUOTA_DAY_DEFAULT);
    s.store_cache =
        (uint32_t)(file->store_cache >= 0 ? file->store_cache : NBD_STORE_CACHE_DEFAULT);
    s.peer_exchange_allow_loopback = flags->peer_exchange_allow_loopback >= 0
                                         ? flags->peer_exchange_allow_loopback == 1
                                         : file->peer_exchange_allow_loopback == 1;
    /* Sharing the overview is the neighbourhood's decision: only the config
     * file, which the operator keeps, turns it on. */
    s.share_report = file->share_report == 1;
    s.reconcile_riblt = file->reconcile_riblt != 0;
    *ret = s;
    return 0;
nomem:
    nbd_settings_clear(&s);
    nb_say(err, err_size, "out of memory");
    return NB_ENOMEM;
}
