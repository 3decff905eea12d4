/*
 * negentropy-harness: libnoaber's Negentropy behind the line protocol of the
 * reference implementation's cross-language test harnesses, so the same
 * driver scripts can pair it with any other implementation.
 *
 * Input lines (stdin):
 *   item,CREATED,IDHEX   add an item (before seal)
 *   seal                 sort the items and open a session
 *   initiate             become the initiator; prints msg,HEX
 *   msg,HEX              a message from the other side
 * Output lines (stdout):
 *   msg,HEX              the message to pass to the other side
 *   have,IDHEX           (initiator) an id only this side has
 *   need,IDHEX           (initiator) an id only the other side has
 *   done                 (initiator) reconciliation is complete
 *
 * The environment variable FRAMESIZELIMIT sets the frame size limit (0 or
 * unset: none).  Any error ends the process with status 1 and a line on
 * stderr, as the reference harnesses do by throwing.
 */
#include <noaber/error.h>
#include <noaber/identity.h>
#include <noaber/negentropy.h>

#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static void die(const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    fputs("negentropy-harness: ", stderr);
    vfprintf(stderr, fmt, ap);
    fputc('\n', stderr);
    va_end(ap);
    exit(1);
}

/* Decodes hex into a malloc'd buffer; dies on odd length or a non-hex digit. */
static uint8_t *unhex(const char *hex, size_t *ret_len)
{
    size_t n = strlen(hex);
    if (n % 2 != 0) {
        die("odd-length hex");
    }
    uint8_t *out = malloc(n / 2 + 1);
    if (out == NULL) {
        die("out of memory");
    }
    if (nb_unhex(hex, out, n / 2) != 0) {
        die("bad hex digit");
    }
    *ret_len = n / 2;
    return out;
}

static void put_hex_line(const char *tag, const uint8_t *bytes, size_t len)
{
    char *hex = malloc(2 * len + 1);
    if (hex == NULL) {
        die("out of memory");
    }
    nb_hex(bytes, len, hex);
    printf("%s,%s\n", tag, hex);
    free(hex);
}

static uint64_t parse_u64(const char *s, const char *what)
{
    char *end;
    errno = 0;
    if (*s < '0' || *s > '9') {
        die("bad %s: '%s'", what, s);
    }
    unsigned long long v = strtoull(s, &end, 10);
    if (errno != 0 || *end != '\0') {
        die("bad %s: '%s'", what, s);
    }
    return (uint64_t)v;
}

static void check(int r, const char *what)
{
    if (r != NB_OK) {
        die("%s: %s (%s)", what, nb_strerror(r), nb_error_name(r));
    }
}

int main(void)
{
    struct nb_negentropy_storage storage;
    struct nb_negentropy ne;
    bool sealed = false;
    uint64_t limit = 0;
    char *line = NULL;
    size_t line_cap = 0;
    ssize_t got;

    const char *env = getenv("FRAMESIZELIMIT");
    if (env != NULL && *env != '\0') {
        limit = parse_u64(env, "FRAMESIZELIMIT");
    }
    nb_negentropy_storage_init(&storage);

    while ((got = getline(&line, &line_cap, stdin)) >= 0) {
        while (got > 0 && (line[got - 1] == '\n' || line[got - 1] == '\r' || line[got - 1] == ' ' ||
                           line[got - 1] == '\t')) {
            line[--got] = '\0';
        }
        if (got == 0) {
            continue;
        }
        char *arg = strchr(line, ',');
        if (arg != NULL) {
            *arg++ = '\0';
        }

        if (strcmp(line, "item") == 0) {
            char *id_hex = arg != NULL ? strchr(arg, ',') : NULL;
            if (id_hex == NULL || strchr(id_hex + 1, ',') != NULL) {
                die("item needs exactly two fields");
            }
            *id_hex++ = '\0';
            uint64_t created = parse_u64(arg, "timestamp");
            size_t id_len;
            uint8_t *id = unhex(id_hex, &id_len);
            if (id_len != NB_NEGENTROPY_ID_SIZE) {
                die("id must be %d bytes", NB_NEGENTROPY_ID_SIZE);
            }
            check(nb_negentropy_storage_add(&storage, created, id), "item");
            free(id);
        } else if (strcmp(line, "seal") == 0) {
            check(nb_negentropy_storage_seal(&storage), "seal");
            check(nb_negentropy_init(&ne, &storage, limit), "session");
            sealed = true;
        } else if (strcmp(line, "initiate") == 0) {
            uint8_t *msg;
            size_t len;
            if (!sealed) {
                die("initiate before seal");
            }
            check(nb_negentropy_initiate(&ne, &msg, &len), "initiate");
            if (limit != 0 && len > limit) {
                die("initiate exceeded the frame size limit: %zu > %llu", len,
                    (unsigned long long)limit);
            }
            put_hex_line("msg", msg, len);
            free(msg);
        } else if (strcmp(line, "msg") == 0) {
            struct nb_negentropy_ids have = { 0 }, need = { 0 };
            uint8_t *in, *out;
            size_t in_len, out_len;
            if (!sealed) {
                die("msg before seal");
            }
            in = unhex(arg != NULL ? arg : "", &in_len);
            check(nb_negentropy_reconcile(&ne, in, in_len, &out, &out_len, &have, &need),
                  "reconcile");
            free(in);
            for (size_t i = 0; i < have.count; i++) {
                put_hex_line("have", have.ids[i], NB_NEGENTROPY_ID_SIZE);
            }
            for (size_t i = 0; i < need.count; i++) {
                put_hex_line("need", need.ids[i], NB_NEGENTROPY_ID_SIZE);
            }
            nb_negentropy_ids_free(&have);
            nb_negentropy_ids_free(&need);
            if (out == NULL) {
                fputs("done\n", stdout);
            } else {
                if (limit != 0 && out_len > limit) {
                    die("%s exceeded the frame size limit: %zu > %llu",
                        ne.initiator ? "initiator" : "responder", out_len,
                        (unsigned long long)limit);
                }
                put_hex_line("msg", out, out_len);
                free(out);
            }
        } else {
            die("unknown command: '%s'", line);
        }
        if (fflush(stdout) != 0) {
            die("cannot write to stdout");
        }
    }

    free(line);
    nb_negentropy_storage_free(&storage);
    return 0;
}
