#include "daemon/log.h"

#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

static enum nbd_log_level current_level = NBD_LOG_INFO;
/* The program that logs: noaberd, or noaber-web, which shares this file. */
static const char *program = "noaberd";

void nbd_log_set_program(const char *name)
{
    program = name;
}

static const char *const level_names[] = { "error", "warn", "info", "debug" };

void nbd_log_set_level(enum nbd_log_level level)
{
    current_level = level;
}

enum nbd_log_level nbd_log_get_level(void)
{
    return current_level;
}

int nbd_log_level_parse(const char *name)
{
    for (int i = 0; i <= NBD_LOG_DEBUG; i++) {
        if (strcmp(name, level_names[i]) == 0)
            return i;
    }
    return -1;
}

const char *nbd_log_level_name(enum nbd_log_level level)
{
    if ((unsigned)level > NBD_LOG_DEBUG)
        return "?";
    return level_names[level];
}

void nbd_log(enum nbd_log_level level, const char *fmt, ...)
{
    if (level > current_level)
        return;

    char stamp[32] = "";
    struct timespec ts;
    struct tm tm;
    if (clock_gettime(CLOCK_REALTIME, &ts) == 0 && gmtime_r(&ts.tv_sec, &tm) != NULL)
        strftime(stamp, sizeof(stamp), "%Y-%m-%dT%H:%M:%SZ", &tm);

    /* The line is formatted first and written with one call so that lines
     * from a crashing or concurrently exiting process are not interleaved. */
    char line[1024];
    int n = snprintf(line, sizeof(line), "%s %s %s: ", stamp, program, nbd_log_level_name(level));
    if (n < 0)
        return;
    va_list ap;
    va_start(ap, fmt);
    int m = vsnprintf(line + n, sizeof(line) - (size_t)n, fmt, ap);
    va_end(ap);
    size_t len = (size_t)n + (m < 0 ? 0 : (size_t)m);
    if (len > sizeof(line) - 2)
        len = sizeof(line) - 2;
    line[len++] = '\n';
    fwrite(line, 1, len, stderr);
    fflush(stderr);
}
