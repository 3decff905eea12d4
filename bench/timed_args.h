/*
 * What the timed bench tools (bench-verify, bench-read-check) share: their
 * arguments, `FLAG PATH [--seconds S]`, and the clock they time with.
 */
#ifndef NOABER_BENCH_TIMED_ARGS_H
#define NOABER_BENCH_TIMED_ARGS_H

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

static inline double now_seconds(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

/* Reads `flag PATH [--seconds S]` (S defaults to 2); 0, or -1 after printing
 * `usage` to stderr. */
static inline int timed_args(int argc, char **argv, const char *flag, const char *usage,
                             const char **ret_path, double *ret_seconds)
{
    const char *path = NULL;
    double seconds = 2.0;
    for (int i = 1; i + 1 < argc; i += 2) {
        if (strcmp(argv[i], flag) == 0)
            path = argv[i + 1];
        else if (strcmp(argv[i], "--seconds") == 0)
            seconds = atof(argv[i + 1]);
        else
            path = NULL;
    }
    if (path == NULL || argc % 2 == 0 || !(seconds > 0)) {
        fprintf(stderr, "usage: %s\n", usage);
        return -1;
    }
    *ret_path = path;
    *ret_seconds = seconds;
    return 0;
}

#endif
