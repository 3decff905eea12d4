/*
 * Error messages into a caller's buffer: the daemon's config parser, the
 * store's operator commands and the key files all explain a failure in one
 * sentence the caller prints.
 */
#ifndef NOABER_COMMON_MESSAGE_H
#define NOABER_COMMON_MESSAGE_H

#include <stddef.h>

/* Formats into buf (cut to size, always terminated); buf NULL or size 0: nothing. */
void nb_say(char *buf, size_t size, const char *fmt, ...) __attribute__((format(printf, 3, 4)));

#endif
