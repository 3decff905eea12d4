/*
 * Socket client and framing for the control API.
 *
 * Replies come from the local daemon, but the client still treats them as
 * untrusted bytes: a frame is at most 1 MiB and goes through nb_mp_decode()
 * (bounded pre-check, then msgpack-c) before anything reads it.
 */
#include "control.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <sys/un.h>
#include <unistd.h>

#include <noaber/error.h>

static void add_candidate(struct ctl *c, const char *a, const char *b)
{
    if (c->ntried >= CTL_PATHS_MAX || a == NULL || a[0] == '\0') {
        return;
    }
    snprintf(c->tried[c->ntried], CTL_PATH_LEN, "%s%s", a, b);
    c->ntried++;
}

static int connect_path(const char *path, int *ret_fd)
{
    struct sockaddr_un addr;
    int fd;

    if (strlen(path) >= sizeof(addr.sun_path)) {
        errno = ENAMETOOLONG;
        return -1;
    }
    memset(&addr, 0, sizeof(addr));
    addr.sun_family = AF_UNIX;
    memcpy(addr.sun_path, path, strlen(path) + 1);
    fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
    if (fd < 0) {
        return -1;
    }
    if (connect(fd, (struct sockaddr *)&addr, sizeof(addr)) != 0) {
        int saved = errno;
        close(fd);
        errno = saved;
        return -1;
    }
    *ret_fd = fd;
    return 0;
}

int ctl_connect(struct ctl *c, const char *given)
{
    const char *env = getenv("NOABER_SOCKET");

    memset(c, 0, sizeof(*c));
    c->fd = -1;
    c->next_id = 1;
    if (given != NULL) {
        add_candidate(c, given, "");
    } else if (env != NULL && env[0] != '\0') {
        add_candidate(c, env, "");
    } else {
        const char *data = getenv("XDG_DATA_HOME");
        const char *home = getenv("HOME");
        add_candidate(c, getenv("XDG_RUNTIME_DIR"), "/noaber/noaberd.sock");
        if (data != NULL && data[0] != '\0') {
            add_candidate(c, data, "/noaber/noaberd.sock");
        } else {
            add_candidate(c, home, "/.local/share/noaber/noaberd.sock");
        }
        add_candidate(c, "/run/noaber/noaberd.sock", "");
    }
    for (size_t i = 0; i < c->ntried; i++) {
        int fd;
        if (connect_path(c->tried[i], &fd) == 0) {
            /* A daemon that stops answering must not hang a neighbour's terminal. */
            struct timeval tv = { .tv_sec = CTL_TIMEOUT_SECONDS, .tv_usec = 0 };
            setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
            setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof(tv));
            c->fd = fd;
            snprintf(c->path, sizeof(c->path), "%s", c->tried[i]);
            return 0;
        }
        c->tried_errno[i] = errno;
    }
    return CTL_EUNREACHABLE;
}

void ctl_no_timeout(struct ctl *c)
{
    struct timeval tv = { 0, 0 };
    setsockopt(c->fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
}

void ctl_close(struct ctl *c)
{
    if (c->fd >= 0) {
        close(c->fd);
        c->fd = -1;
    }
}

void ctl_print_unreachable(const struct ctl *c)
{
    bool denied = false;

    fprintf(stderr, "noaber: cannot reach noaberd");
    if (c->ntried == 1) {
        fprintf(stderr, " at %s (%s).\n", c->tried[0], strerror(c->tried_errno[0]));
    } else {
        fprintf(stderr, "; tried:\n");
        for (size_t i = 0; i < c->ntried; i++) {
            fprintf(stderr, "  %s (%s)\n", c->tried[i], strerror(c->tried_errno[i]));
        }
    }
    for (size_t i = 0; i < c->ntried; i++) {
        denied = denied || c->tried_errno[i] == EACCES || c->tried_errno[i] == EPERM;
    }
    /* A system daemon's socket is open to the noaber group only: a neighbour
     * outside it needs the operator, not a restarted daemon. */
    if (denied) {
        fprintf(stderr, "A daemon is there but this account may not use it: ask the node's "
                        "operator to add you to the noaber group (then log in again).\n");
    } else {
        fprintf(stderr, "Is the daemon running?  Start it with `noaberd`, or point noaber at "
                        "its socket with --socket PATH or NOABER_SOCKET.\n");
    }
}

void ctl_req_begin(struct ctl *c, struct ctl_req *r, const char *op, size_t nargs)
{
    msgpack_sbuffer_init(&r->buf);
    msgpack_packer_init(&r->pk, &r->buf, msgpack_sbuffer_write);
    r->id = c->next_id++;
    msgpack_pack_map(&r->pk, 3 + nargs);
    ctl_req_uint(r, "v", NB_CTL_VERSION);
    ctl_req_uint(r, "id", r->id);
    ctl_req_str(r, "op", op);
}

void ctl_req_str(struct ctl_req *r, const char *key, const char *value)
{
    nb_mp_pack_cstr(&r->pk, key);
    nb_mp_pack_cstr(&r->pk, value);
}

void ctl_req_bin(struct ctl_req *r, const char *key, const void *value, size_t len)
{
    nb_mp_pack_cstr(&r->pk, key);
    nb_mp_pack_bin(&r->pk, value, len);
}

void ctl_req_uint(struct ctl_req *r, const char *key, uint64_t value)
{
    nb_mp_pack_cstr(&r->pk, key);
    msgpack_pack_uint64(&r->pk, value);
}

void ctl_req_free(struct ctl_req *r)
{
    msgpack_sbuffer_destroy(&r->buf);
}

static int write_all(int fd, const uint8_t *p, size_t n)
{
    while (n > 0) {
        ssize_t w = send(fd, p, n, MSG_NOSIGNAL);
        if (w < 0) {
            if (errno == EINTR) {
                continue;
            }
            return errno == EPIPE || errno == ECONNRESET ? CTL_ECLOSED : NB_EIO;
        }
        p += w;
        n -= (size_t)w;
    }
    return 0;
}

/* Reads exactly n bytes; CTL_ECLOSED if the stream ends first. */
static int read_all(int fd, uint8_t *p, size_t n)
{
    while (n > 0) {
        ssize_t r = read(fd, p, n);
        if (r < 0) {
            if (errno == EINTR) {
                continue;
            }
            if (errno == EAGAIN || errno == EWOULDBLOCK) {
                return CTL_ETIMEDOUT;
            }
            return errno == ECONNRESET ? CTL_ECLOSED : NB_EIO;
        }
        if (r == 0) {
            return CTL_ECLOSED;
        }
        p += r;
        n -= (size_t)r;
    }
    return 0;
}

static void copy_text(const msgpack_object *o, char *buf, size_t size)
{
    size_t n;
    if (o == NULL || o->type != MSGPACK_OBJECT_STR || size == 0) {
        if (size > 0) {
            buf[0] = '\0';
        }
        return;
    }
    n = o->via.str.size < size - 1 ? o->via.str.size : size - 1;
    memcpy(buf, o->via.str.ptr, n);
    buf[n] = '\0';
    /* The message goes to a terminal: keep control characters out of it. */
    for (size_t i = 0; i < n; i++) {
        if ((unsigned char)buf[i] < 0x20 || buf[i] == 0x7f) {
            buf[i] = ' ';
        }
    }
}

int ctl_read(struct ctl *c, struct ctl_reply *ret)
{
    uint8_t hdr[NB_CTL_HEADER_SIZE];
    uint32_t len;
    const msgpack_object *error;
    int rc;

    memset(ret, 0, sizeof(*ret));
    rc = read_all(c->fd, hdr, sizeof(hdr));
    if (rc != 0) {
        return rc;
    }
    if (nb_ctl_header_decode(hdr, &len) != 0) {
        return CTL_EPROTO;
    }
    ret->frame = malloc(len);
    if (ret->frame == NULL) {
        return NB_ENOMEM;
    }
    rc = read_all(c->fd, ret->frame, len);
    if (rc != 0) {
        goto fail;
    }
    rc = nb_mp_decode(ret->frame, len, NB_CTL_FRAME_MAX, CTL_DEPTH_MAX, &ret->doc);
    if (rc != 0) {
        rc = CTL_EPROTO;
        goto fail;
    }
    ret->root = nb_mp_root(&ret->doc);
    if (ret->root->type != MSGPACK_OBJECT_MAP) {
        rc = CTL_EPROTO;
        goto fail;
    }
    ret->ok = ctl_get_bool(ret->root, "ok", false);
    ret->result = ctl_get(ret->root, "result");
    error = ctl_get(ret->root, "error");
    copy_text(error, ret->error_name, sizeof(ret->error_name));
    ret->error = error != NULL && error->type == MSGPACK_OBJECT_STR
                     ? nb_ctl_error_parse(error->via.str.ptr, error->via.str.size)
                     : NB_CTL_E_UNKNOWN;
    copy_text(ctl_get(ret->root, "message"), ret->message, sizeof(ret->message));
    return 0;
fail:
    ctl_reply_free(ret);
    return rc;
}

int ctl_call(struct ctl *c, struct ctl_req *r, struct ctl_reply *ret)
{
    uint8_t hdr[NB_CTL_HEADER_SIZE];
    size_t n = r->buf.size;
    int rc;

    /* Requests are far below a frame; the daemon would refuse a larger one. */
    nb_ctl_header_encode((uint32_t)n, hdr);
    rc = write_all(c->fd, hdr, sizeof(hdr));
    if (rc == 0) {
        rc = write_all(c->fd, (const uint8_t *)r->buf.data, n);
    }
    if (rc == 0) {
        rc = ctl_read(c, ret);
    }
    /* An error the daemon could not tie to a request comes with id nil; show it anyway. */
    if (rc == 0 && ctl_get_uint(ret->root, "id", 0) != r->id && ret->ok) {
        ctl_reply_free(ret);
        rc = CTL_EPROTO;
    }
    ctl_req_free(r);
    return rc;
}

void ctl_reply_free(struct ctl_reply *reply)
{
    nb_mp_doc_free(&reply->doc);
    free(reply->frame);
    memset(reply, 0, sizeof(*reply));
}

const msgpack_object *ctl_get(const msgpack_object *map, const char *key)
{
    if (map == NULL) {
        return NULL;
    }
    return nb_mp_map_get(map, key);
}

void ctl_get_str(const msgpack_object *map, const char *key, char *buf, size_t size)
{
    copy_text(ctl_get(map, key), buf, size);
}

uint64_t ctl_get_uint(const msgpack_object *map, const char *key, uint64_t fallback)
{
    const msgpack_object *o = ctl_get(map, key);
    if (o == NULL || o->type != MSGPACK_OBJECT_POSITIVE_INTEGER) {
        return fallback;
    }
    return o->via.u64;
}

bool ctl_get_bool(const msgpack_object *map, const char *key, bool fallback)
{
    const msgpack_object *o = ctl_get(map, key);
    if (o == NULL || o->type != MSGPACK_OBJECT_BOOLEAN) {
        return fallback;
    }
    return o->via.boolean;
}

int ctl_get_bin(const msgpack_object *map, const char *key, const uint8_t **ret_ptr,
                size_t *ret_len)
{
    const msgpack_object *o = ctl_get(map, key);
    if (o == NULL || o->type != MSGPACK_OBJECT_BIN) {
        return -1;
    }
    *ret_ptr = (const uint8_t *)o->via.bin.ptr;
    *ret_len = o->via.bin.size;
    return 0;
}

int ctl_get_bin_exact(const msgpack_object *map, const char *key, uint8_t *out, size_t len)
{
    const uint8_t *p;
    size_t n;
    if (ctl_get_bin(map, key, &p, &n) != 0 || n != len) {
        return -1;
    }
    memcpy(out, p, len);
    return 0;
}
