/*
 * noaberd's settings: the config file (docs/config.md), the command line,
 * and the defaults taken from the environment.  Flags override the file;
 * the file overrides the defaults.
 *
 * The file parser is a pure function over text so that it can be fuzzed and
 * unit-tested without touching the file system.
 */
#ifndef NOABERD_CONFIG_H
#define NOABERD_CONFIG_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define NBD_CONFIG_MAX_BYTES (64 * 1024)
#define NBD_CONFIG_LINE_MAX  4096

/* Defaults of the expiry settings, in seconds. */
#define NBD_PURGE_GRACE_DEFAULT    (24 * 3600)
#define NBD_PURGE_INTERVAL_DEFAULT 60
/* The store's page cache in MiB: enough for the index leaves a catch-up
 * touches on a neighbourhood's store, small enough for a Raspberry Pi
 * (docs/config.md, `store_cache`). */
#define NBD_STORE_CACHE_DEFAULT 8
#define NBD_STORE_CACHE_MAX     4096
/* How often noaberd looks whether the store was quiet (wrote nothing since
 * the last look) and if so gives back the memory of its cache. */
#define NBD_QUIET_MS 5000

/*
 * Settings as read from one source.  Strings are heap-allocated (free with
 * nbd_config_clear); unset values are NULL or -1.
 */
struct nbd_config {
    char *data_dir;
    char *socket_path;
    char *member_socket_path;
    int log_level;           /* enum nbd_log_level, or -1 */
    int64_t purge_grace;     /* seconds, or -1 */
    int64_t purge_interval;  /* seconds, or -1 */
    int socket_group_access; /* 1 on, 0 off, or -1 */
    int discovery;           /* LAN discovery: 1 on, 0 off, or -1 */
    char *listen;            /* peer listen address HOST:PORT, or NULL */
    char *advertise;         /* address told to peers, or NULL */
    char **peers;            /* `peer` lines (repeatable) */
    size_t n_peers;
    int64_t max_peers;                /* or -1 */
    int64_t sync_interval;            /* seconds, or -1 */
    int peer_exchange;                /* 1 on, 0 off, or -1 */
    int peer_exchange_allow_loopback; /* 1 on, 0 off, or -1 */
    int reconcile_riblt;              /* 1 on, 0 off, or -1 */
    int64_t quota_hour;               /* records per member per hour, or -1 */
    int64_t quota_day;                /* records per member per day, or -1 */
    int64_t store_cache;              /* MiB of the store's page cache, or -1 */
    int share_report;                 /* 1 on, 0 off, or -1 */
};

/* What the command line asked for besides settings. */
struct nbd_options {
    struct nbd_config flags; /* settings given as flags */
    char *config_path;       /* --config FILE, or NULL */
    bool foreground;
    bool help;
    bool version;
};

void nbd_config_init(struct nbd_config *cfg);
void nbd_config_clear(struct nbd_config *cfg);

/*
 * Parses config file text.  `name` is how the file is named in error
 * messages.  On failure returns NB_EINVAL (or NB_ENOMEM) and writes one
 * line "NAME:LINE: problem" to err; settings parsed before the bad line may
 * have been stored in *cfg (the caller exits anyway).
 */
int nbd_config_parse(const char *name, const char *text, size_t len, struct nbd_config *cfg,
                     char *err, size_t err_size);

/* Reads and parses a config file; errors name the file (and line). */
int nbd_config_load(const char *path, struct nbd_config *cfg, char *err, size_t err_size);

/*
 * Parses the command line.  Returns 0, or NB_EINVAL with a message in err
 * (the caller prints it with a hint to --help).
 */
int nbd_options_parse(int argc, char **argv, struct nbd_options *ret, char *err, size_t err_size);
void nbd_options_clear(struct nbd_options *opts);

/* The --help text. */
extern const char nbd_usage[];

/* The final settings after flags, file and environment are combined. */
struct nbd_settings {
    char *data_dir;
    char *socket_path;
    /* The member socket: neighbours' programs, the member role
     * (docs/control-api.md, "Roles"); default beside socket_path. */
    char *member_socket_path;
    int log_level;
    int64_t purge_grace;
    int64_t purge_interval;
    /* Both control sockets are 0660 instead of 0600, for the system
     * service whose operators are in its group (docs/config.md). */
    bool socket_group_access;
    bool discovery;  /* default on */
    char *listen;    /* default "0.0.0.0:7447" */
    char *advertise; /* NULL: derived from listen (daemon/net/net.h) */
    char **peers;    /* flags' and file's together */
    size_t n_peers;
    unsigned max_peers;                /* default 16 */
    uint64_t sync_interval;            /* seconds, default 300 */
    bool peer_exchange;                /* default on */
    bool peer_exchange_allow_loopback; /* default off */
    bool reconcile_riblt;              /* default on */
    uint32_t quota_hour;               /* default NBD_QUOTA_HOUR_DEFAULT, 0 = none */
    uint32_t quota_day;                /* default NBD_QUOTA_DAY_DEFAULT, 0 = none */
    uint32_t store_cache;              /* MiB, default NBD_STORE_CACHE_DEFAULT */
    bool share_report;                 /* the unmet-need overview: default off */
};

/*
 * Combines flags over file over defaults.  Defaults come from the
 * environment: data dir $STATE_DIRECTORY (set by systemd for a service),
 * else $XDG_DATA_HOME/noaber, else $HOME/.local/share/noaber; socket
 * $RUNTIME_DIRECTORY/noaberd.sock (systemd), else
 * $XDG_RUNTIME_DIR/noaber/noaberd.sock, else DATA_DIR/noaberd.sock; the
 * member socket beside it, its name's ".sock" replaced by "-member.sock".
 */
int nbd_settings_resolve(const struct nbd_config *flags, const struct nbd_config *file,
                         struct nbd_settings *ret, char *err, size_t err_size);
void nbd_settings_clear(struct nbd_settings *s);

#endif
