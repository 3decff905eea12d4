/*
 * The daemon's log: one line per event on stderr, with a UTC timestamp and a
 * level.  Only the daemon logs (library code returns error codes); callers
 * must never pass record contents, sealed parts or keys to these functions,
 * because operators share logs when they ask for help.
 */
#ifndef NOABERD_LOG_H
#define NOABERD_LOG_H

enum nbd_log_level {
    NBD_LOG_ERROR = 0,
    NBD_LOG_WARN = 1,
    NBD_LOG_INFO = 2,
    NBD_LOG_DEBUG = 3,
};

/* Sets the most verbose level that is still written (default NBD_LOG_INFO). */
void nbd_log_set_level(enum nbd_log_level level);
enum nbd_log_level nbd_log_get_level(void);

/* The name written in each line (default "noaberd"); a static string. */
void nbd_log_set_program(const char *name);

/* Parses "error", "warn", "info" or "debug"; returns the level or -1. */
int nbd_log_level_parse(const char *name);
const char *nbd_log_level_name(enum nbd_log_level level);

void nbd_log(enum nbd_log_level level, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

#define nbd_error(...) nbd_log(NBD_LOG_ERROR, __VA_ARGS__)
#define nbd_warn(...)  nbd_log(NBD_LOG_WARN, __VA_ARGS__)
#define nbd_info(...)  nbd_log(NBD_LOG_INFO, __VA_ARGS__)
#define nbd_debug(...) nbd_log(NBD_LOG_DEBUG, __VA_ARGS__)

#endif
