/*
 * bench-ingest: submits pre-signed records to noaberd over its control
 * socket (docs/control-api.md) as fast as the daemon answers, and reports
 * how many it committed per second.
 *
 *     bench-ingest --socket PATH --records FILE [--window W]
 *
 * FILE is what `bench-make-store --out` writes.  Every submit frame is built
 * before the clock starts, so the client costs little more than the socket
 * writes.  --window is how many submits may be outstanding: 1 waits for each
 * reply before sending the next (a client like `noaber ask`), larger values
 * pipeline (the daemon answers one connection's requests in order).
 *
 * Prints one line: "records N committed C seconds S rate R".  Exits 1 if any
 * record was not committed (the daemon's message is printed), so a broken
 * setup is never reported as a rate.
 */
#include <errno.h>
#include <inttypes.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <time.h>
#include <unistd.h>

#include <noaber/error.h>
#include <noaber/record.h>

#include "proto/mp.h"

#define FRAME_MAX  (1024 * 1024)
#define WINDOW_MAX 4096

static const char usage[] = "usage: bench-ingest --socket PATH --records FILE [--window W]\n";

static double now_seconds(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static uint8_t *read_file(const char *path, size_t *ret_len)
{
    FILE *f = fopen(path, "rb");
    if (f == NULL)
        return NULL;
    uint8_t *buf = NULL;
    size_t len = 0, cap = 0;
    for (;;) {
        if (len == cap) {
            cap = cap ? cap * 2 : 1 << 20;
            uint8_t *p = realloc(buf, cap);
            if (p == NULL) {
                free(buf);
                fclose(f);
                return NULL;
            }
            buf = p;
        }
        size_t n = fread(buf + len, 1, cap - len, f);
        len += n;
        if (n == 0)
            break;
    }
    fclose(f);
    *ret_len = len;
    return buf;
}

static void put_u32(uint8_t *p, uint32_t v)
{
    p[0] = (uint8_t)(v >> 24);
    p[1] = (uint8_t)(v >> 16);
    p[2] = (uint8_t)(v >> 8);
    p[3] = (uint8_t)v;
}

/*
 * Builds every submit frame: {v: 1, id: n, op: "submit", record: bin}.  The
 * encoding is written by hand (it is fixed) so the frames cost nothing to
 * make while measuring.
 */
static int build_frames(const uint8_t *file, size_t file_len, uint8_t **ret_frames, size_t *ret_len,
                        size_t *ret_count)
{
    size_t count = 0, total = 0;
    size_t pos = NB_NEIGHBOURHOOD_ID_SIZE;
    if (file_len < pos)
        return NB_EMALFORMED;
    while (pos < file_len) {
        if (file_len - pos < 4)
            return NB_EMALFORMED;
        uint32_t len = (uint32_t)file[pos] << 24 | (uint32_t)file[pos + 1] << 16 |
                       (uint32_t)file[pos + 2] << 8 | file[pos + 3];
        if (len == 0 || len > NB_RECORD_MAX || len > file_len - pos - 4)
            return NB_EMALFORMED;
        pos += 4 + len;
        total += 4 + 64 + len;
        count++;
    }
    uint8_t *frames = malloc(total ? total : 1);
    if (frames == NULL)
        return NB_ENOMEM;
    size_t out = 0;
    pos = NB_NEIGHBOURHOOD_ID_SIZE;
    for (size_t i = 0; i < count; i++) {
        uint32_t len = (uint32_t)file[pos] << 24 | (uint32_t)file[pos + 1] << 16 |
                       (uint32_t)file[pos + 2] << 8 | file[pos + 3];
        const uint8_t *rec = file + pos + 4;
        pos += 4 + len;
        uint8_t *f = frames + out;
        size_t b = 4;
        f[b++] = 0x84; /* map of 4 */
        f[b++] = 0xa1;
        f[b++] = 'v';
        f[b++] = 0x01;
        f[b++] = 0xa2;
        f[b++] = 'i';
        f[b++] = 'd';
        f[b++] = 0xce; /* uint32 id = i + 1 */
        put_u32(f + b, (uint32_t)(i + 1));
        b += 4;
        f[b++] = 0xa2;
        f[b++] = 'o';
        f[b++] = 'p';
        f[b++] = 0xa6;
        memcpy(f + b, "submit", 6);
        b += 6;
        f[b++] = 0xa6;
        memcpy(f + b, "record", 6);
        b += 6;
        f[b++] = 0xc5; /* bin 16 */
        f[b++] = (uint8_t)(len >> 8);
        f[b++] = (uint8_t)len;
        memcpy(f + b, rec, len);
        b += len;
        put_u32(f, (uint32_t)(b - 4));
        out += b;
    }
    *ret_frames = frames;
    *ret_len = out;
    *ret_count = count;
    return 0;
}

/* Checks one reply body: the submit with this id was committed. */
static int check_reply(const uint8_t *body, size_t len, uint64_t want_id)
{
    struct nb_mp_doc doc;
    memset(&doc, 0, sizeof(doc));
    int r = nb_mp_decode(body, len, FRAME_MAX, 4, &doc);
    if (r < 0) {
        fprintf(stderr, "bench-ingest: undecodable reply: %s\n", nb_strerror(r));
        return r;
    }
    const msgpack_object *root = nb_mp_root(&doc);
    uint64_t id = 0;
    bool ok = false;
    r = nb_mp_map_uint(root, "id", UINT64_MAX, &id);
    if (r == 0)
        r = nb_mp_map_bool(root, "ok", &ok);
    if (r < 0 || id != want_id) {
        fprintf(stderr, "bench-ingest: reply %" PRIu64 " out of order or malformed\n", want_id);
        r = NB_EMALFORMED;
    } else if (!ok) {
        struct nb_text msg = { "", 0 };
        nb_mp_map_text(root, "message", 0, 4096, 0, &msg);
        fprintf(stderr, "bench-ingest: record %" PRIu64 " refused: %.*s\n", want_id, (int)msg.len,
                msg.ptr);
        r = NB_EINVAL;
    }
    nb_mp_doc_free(&doc);
    return r;
}

int main(int argc, char **argv)
{
    const char *socket_path = NULL, *records_path = NULL;
    long window = 1;
    for (int i = 1; i + 1 < argc; i += 2) {
        if (strcmp(argv[i], "--socket") == 0) {
            socket_path = argv[i + 1];
        } else if (strcmp(argv[i], "--records") == 0) {
            records_path = argv[i + 1];
        } else if (strcmp(argv[i], "--window") == 0) {
            char *end;
            window = strtol(argv[i + 1], &end, 10);
            if (*end != '\0' || window < 1 || window > WINDOW_MAX) {
                fputs(usage, stderr);
                return 2;
            }
        } else {
            fputs(usage, stderr);
            return 2;
        }
    }
    if (socket_path == NULL || records_path == NULL || argc % 2 == 0) {
        fputs(usage, stderr);
        return 2;
    }

    size_t file_len = 0, frames_len = 0, count = 0;
    uint8_t *file = read_file(records_path, &file_len);
    uint8_t *frames = NULL;
    uint8_t *in = malloc(FRAME_MAX + 4);
    int fd = -1;
    int status = 1;
    if (file == NULL || in == NULL) {
        fprintf(stderr, "bench-ingest: cannot read %s\n", records_path);
        goto out;
    }
    if (build_frames(file, file_len, &frames, &frames_len, &count) < 0) {
        fprintf(stderr, "bench-ingest: %s is not a records file\n", records_path);
        goto out;
    }

    struct sockaddr_un addr;
    memset(&addr, 0, sizeof(addr));
    addr.sun_family = AF_UNIX;
    if (strlen(socket_path) >= sizeof(addr.sun_path)) {
        fprintf(stderr, "bench-ingest: socket path too long\n");
        goto out;
    }
    strcpy(addr.sun_path, socket_path);
    fd = socket(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK, 0);
    if (fd < 0 || connect(fd, (struct sockaddr *)&addr, sizeof(addr)) < 0) {
        fprintf(stderr, "bench-ingest: cannot connect to %s: %s\n", socket_path, strerror(errno));
        goto out;
    }

    /* sent_bytes: how far into `frames` we have written; sent: whole frames
     * started; acked: replies read. */
    size_t sent_bytes = 0, sent = 0, acked = 0, frame_end = 0, in_len = 0;
    double t0 = now_seconds();
    while (acked < count) {
        /* Extend what may be written to the end of the next frame while the
         * window allows. */
        while (sent < count && sent - acked < (size_t)window) {
            uint32_t n = (uint32_t)frames[frame_end] << 24 | (uint32_t)frames[frame_end + 1] << 16 |
                         (uint32_t)frames[frame_end + 2] << 8 | frames[frame_end + 3];
            frame_end += 4 + n;
            sent++;
        }
        struct pollfd p = { .fd = fd, .events = POLLIN };
        if (sent_bytes < frame_end)
            p.events |= POLLOUT;
        if (poll(&p, 1, 60000) <= 0) {
            fprintf(stderr, "bench-ingest: no progress for 60 s\n");
            goto out;
        }
        if ((p.revents & POLLOUT) && sent_bytes < frame_end) {
            ssize_t w = send(fd, frames + sent_bytes, frame_end - sent_bytes, MSG_NOSIGNAL);
            if (w < 0 && errno != EAGAIN && errno != EINTR) {
                fprintf(stderr, "bench-ingest: write: %s\n", strerror(errno));
                goto out;
            }
            if (w > 0)
                sent_bytes += (size_t)w;
        }
        if (p.revents & (POLLIN | POLLHUP | POLLERR)) {
            ssize_t rd = recv(fd, in + in_len, FRAME_MAX + 4 - in_len, 0);
            if (rd == 0 || (rd < 0 && errno != EAGAIN && errno != EINTR)) {
                fprintf(stderr, "bench-ingest: noaberd closed the connection after %zu replies\n",
                        acked);
                goto out;
            }
            if (rd > 0)
                in_len += (size_t)rd;
            size_t pos = 0;
            while (in_len - pos >= 4) {
                uint32_t n = (uint32_t)in[pos] << 24 | (uint32_t)in[pos + 1] << 16 |
                             (uint32_t)in[pos + 2] << 8 | in[pos + 3];
                if (n == 0 || n > FRAME_MAX) {
                    fprintf(stderr, "bench-ingest: bad reply length %u\n", n);
                    goto out;
                }
                if (in_len - pos - 4 < n)
                    break;
                if (check_reply(in + pos + 4, n, acked + 1) < 0)
                    goto out;
                acked++;
                pos += 4 + n;
            }
            memmove(in, in + pos, in_len - pos);
            in_len -= pos;
        }
    }
    double dt = now_seconds() - t0;
    printf("records %zu committed %zu seconds %.6f rate %.1f\n", count, acked, dt,
           dt > 0 ? (double)acked / dt : 0.0);
    status = 0;
out:
    if (fd >= 0)
        close(fd);
    free(file);
    free(frames);
    free(in);
    return status;
}
