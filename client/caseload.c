/*
 * The coordinator's private caseload (client/care.h): who they post for,
 * how to reach them, what was agreed.
 *
 * Why a local file and not records sealed to oneself: a sealed record
 * would sit on every node of the neighbourhood and in every backup, would
 * show when and how often the coordinator writes notes, and would be
 * deleted with its expiry (90 days at most) while a caseload lasts for
 * years.  A file encrypted with a key derived from the member's secret
 * stays on the devices where the coordinator keeps their identity, opens
 * only with that identity, and is copied to a second device together with
 * it.  The node and its operator never see a byte of it.
 *
 * On disk: "NBCASE1\n", a 24-byte nonce, then crypto_secretbox of a
 * msgpack array [my_phone, [person...]], each person
 * [label, name, phone, address, area, notes, contact, [[id, called|nil]...]].
 */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>
#include <unistd.h>

#include <msgpack.h>
#include <sodium.h>

#include "care.h"
#include "proto/mp.h"

#define CASE_MAGIC     "NBCASE1\n"
#define CASE_MAGIC_LEN 8
#define CASE_FILE_MAX  (4u << 20)

static int caseload_path(struct ctx *ctx, char *buf, size_t size)
{
    char id[4096];
    int rc = identity_path(ctx, id, sizeof(id));
    if (rc != EXIT_OK) {
        return rc;
    }
    if ((size_t)snprintf(buf, size, "%s.caseload", id) >= size) {
        return fail(EXIT_USAGE, "the identity path is too long.");
    }
    return EXIT_OK;
}

/* The file key: derived from the member's seed, never stored. */
static void caseload_key(const struct ctx *ctx, uint8_t key[crypto_secretbox_KEYBYTES])
{
    crypto_kdf_derive_from_key(key, crypto_secretbox_KEYBYTES, 1, "caseload", ctx->sk);
}

void caseload_free(struct caseload *c)
{
    if (c->people != NULL) {
        sodium_memzero(c->people, c->n_people * sizeof(*c->people));
    }
    free(c->people);
    sodium_memzero(c, sizeof(*c));
}

static void pack_text(msgpack_packer *pk, const char *s)
{
    size_t n = strlen(s);
    msgpack_pack_str(pk, n);
    msgpack_pack_str_body(pk, s, n);
}

static bool get_text(const msgpack_object *o, char *buf, size_t size)
{
    if (o->type != MSGPACK_OBJECT_STR || o->via.str.size >= size) {
        return false;
    }
    if (o->via.str.size > 0) { /* an empty str may have no pointer */
        memcpy(buf, o->via.str.ptr, o->via.str.size);
    }
    buf[o->via.str.size] = '\0';
    return true;
}

static bool get_id(const msgpack_object *o, uint8_t id[NB_ID_SIZE])
{
    if (o->type != MSGPACK_OBJECT_BIN || o->via.bin.size != NB_ID_SIZE) {
        return false;
    }
    memcpy(id, o->via.bin.ptr, NB_ID_SIZE);
    return true;
}

static bool decode_person(const msgpack_object *o, struct case_person *p)
{
    const msgpack_object *f;
    if (o->type != MSGPACK_OBJECT_ARRAY || o->via.array.size != 8) {
        return false;
    }
    f = o->via.array.ptr;
    if (!get_text(&f[0], p->label, sizeof(p->label)) ||
        !get_text(&f[1], p->name, sizeof(p->name)) ||
        !get_text(&f[2], p->phone, sizeof(p->phone)) ||
        !get_text(&f[3], p->address, sizeof(p->address)) ||
        !get_text(&f[4], p->area, sizeof(p->area)) ||
        !get_text(&f[5], p->notes, sizeof(p->notes)) ||
        f[6].type != MSGPACK_OBJECT_POSITIVE_INTEGER || f[6].via.u64 > CASE_CONTACT_ME ||
        f[7].type != MSGPACK_OBJECT_ARRAY || f[7].via.array.size > CASE_ASKS_MAX) {
        return false;
    }
    p->contact = (enum case_contact)f[6].via.u64;
    for (uint32_t i = 0; i < f[7].via.array.size; i++) {
        const msgpack_object *a = &f[7].via.array.ptr[i];
        struct case_ask *ask = &p->asks[p->n_asks++];
        if (a->type != MSGPACK_OBJECT_ARRAY || a->via.array.size != 2 ||
            !get_id(&a->via.array.ptr[0], ask->id)) {
            return false;
        }
        ask->has_called = a->via.array.ptr[1].type != MSGPACK_OBJECT_NIL;
        if (ask->has_called && !get_id(&a->via.array.ptr[1], ask->called)) {
            return false;
        }
    }
    return true;
}

bool caseload_decode(const uint8_t *buf, size_t len, struct caseload *c)
{
    msgpack_unpacked u;
    bool ok = false;
    size_t end;
    msgpack_unpacked_init(&u);
    /* Bounded first: msgpack-c allocates for a count before its elements. */
    if (nb_mp_check(buf, len, CASE_FILE_MAX, 6, &end) == 0 && end == len &&
        msgpack_unpack_next(&u, (const char *)buf, len, NULL) == MSGPACK_UNPACK_SUCCESS &&
        u.data.type == MSGPACK_OBJECT_ARRAY && u.data.via.array.size == 2) {
        const msgpack_object *a = u.data.via.array.ptr;
        ok = get_text(&a[0], c->my_phone, sizeof(c->my_phone)) &&
             a[1].type == MSGPACK_OBJECT_ARRAY && a[1].via.array.size <= CASE_PEOPLE_MAX;
        if (ok && a[1].via.array.size > 0) {
            c->people = calloc(CASE_PEOPLE_MAX, sizeof(*c->people));
            ok = c->people != NULL;
        }
        for (uint32_t i = 0; ok && i < a[1].via.array.size; i++) {
            ok = decode_person(&a[1].via.array.ptr[i], &c->people[c->n_people++]);
        }
    }
    msgpack_unpacked_destroy(&u);
    return ok;
}

int caseload_load(struct ctx *ctx, struct caseload *ret)
{
    char path[4200];
    uint8_t key[crypto_secretbox_KEYBYTES];
    uint8_t *file = NULL, *plain = NULL;
    size_t len = 0, cap = 0;
    FILE *f;
    int rc;

    memset(ret, 0, sizeof(*ret));
    rc = caseload_path(ctx, path, sizeof(path));
    if (rc != EXIT_OK) {
        return rc;
    }
    f = fopen(path, "rb");
    if (f == NULL && errno == ENOENT) {
        return EXIT_OK;
    }
    if (f == NULL) {
        return fail(EXIT_ERROR, "cannot read your caseload %s: %s.", path, strerror(errno));
    }
    for (;;) {
        if (len == cap) {
            uint8_t *grown = cap < CASE_FILE_MAX ? realloc(file, cap + 65536) : NULL;
            if (grown == NULL) {
                break;
            }
            file = grown;
            cap += 65536;
        }
        size_t got = fread(file + len, 1, cap - len, f);
        len += got;
        if (got == 0) {
            break;
        }
    }
    fclose(f);
    rc = EXIT_OK;
    if (len < CASE_MAGIC_LEN + crypto_secretbox_NONCEBYTES + crypto_secretbox_MACBYTES ||
        memcmp(file, CASE_MAGIC, CASE_MAGIC_LEN) != 0) {
        free(file);
        return fail(EXIT_ERROR, "%s is not a noaber caseload (or it is damaged).", path);
    }
    size_t box = len - CASE_MAGIC_LEN - crypto_secretbox_NONCEBYTES;
    plain = malloc(box);
    if (plain == NULL) {
        free(file);
        return fail(EXIT_ERROR, "out of memory reading your caseload.");
    }
    caseload_key(ctx, key);
    if (crypto_secretbox_open_easy(plain, file + CASE_MAGIC_LEN + crypto_secretbox_NONCEBYTES, box,
                                   file + CASE_MAGIC_LEN, key) != 0) {
        rc = fail(EXIT_ERROR,
                  "%s does not open with your identity: it belongs to another member key, or "
                  "it is damaged.  It is left as it is.",
                  path);
    } else if (!caseload_decode(plain, box - crypto_secretbox_MACBYTES, ret)) {
        caseload_free(ret);
        rc = fail(EXIT_ERROR, "%s opens but its contents are damaged; it is left as it is.", path);
    }
    sodium_memzero(key, sizeof(key));
    sodium_memzero(plain, box);
    free(plain);
    free(file);
    return rc;
}

int caseload_save(struct ctx *ctx, const struct caseload *c)
{
    char path[4200], tmp[4300];
    uint8_t key[crypto_secretbox_KEYBYTES];
    uint8_t nonce[crypto_secretbox_NONCEBYTES];
    msgpack_sbuffer sb;
    msgpack_packer pk;
    uint8_t *box;
    size_t box_len;
    int rc, fd;

    rc = caseload_path(ctx, path, sizeof(path));
    if (rc != EXIT_OK) {
        return rc;
    }
    msgpack_sbuffer_init(&sb);
    msgpack_packer_init(&pk, &sb, msgpack_sbuffer_write);
    msgpack_pack_array(&pk, 2);
    pack_text(&pk, c->my_phone);
    msgpack_pack_array(&pk, c->n_people);
    for (size_t i = 0; i < c->n_people; i++) {
        const struct case_person *p = &c->people[i];
        msgpack_pack_array(&pk, 8);
        pack_text(&pk, p->label);
        pack_text(&pk, p->name);
        pack_text(&pk, p->phone);
        pack_text(&pk, p->address);
        pack_text(&pk, p->area);
        pack_text(&pk, p->notes);
        msgpack_pack_uint8(&pk, (uint8_t)p->contact);
        msgpack_pack_array(&pk, p->n_asks);
        for (size_t k = 0; k < p->n_asks; k++) {
            msgpack_pack_array(&pk, 2);
            msgpack_pack_bin(&pk, NB_ID_SIZE);
            msgpack_pack_bin_body(&pk, p->asks[k].id, NB_ID_SIZE);
            if (p->asks[k].has_called) {
                msgpack_pack_bin(&pk, NB_ID_SIZE);
                msgpack_pack_bin_body(&pk, p->asks[k].called, NB_ID_SIZE);
            } else {
                msgpack_pack_nil(&pk);
            }
        }
    }
    box_len = CASE_MAGIC_LEN + sizeof(nonce) + sb.size + crypto_secretbox_MACBYTES;
    box = malloc(box_len);
    if (box == NULL) {
        sodium_memzero(sb.data, sb.size);
        msgpack_sbuffer_destroy(&sb);
        return fail(EXIT_ERROR, "out of memory writing your caseload.");
    }
    memcpy(box, CASE_MAGIC, CASE_MAGIC_LEN);
    randombytes_buf(nonce, sizeof(nonce));
    memcpy(box + CASE_MAGIC_LEN, nonce, sizeof(nonce));
    caseload_key(ctx, key);
    crypto_secretbox_easy(box + CASE_MAGIC_LEN + sizeof(nonce), (const uint8_t *)sb.data, sb.size,
                          nonce, key);
    sodium_memzero(key, sizeof(key));
    sodium_memzero(sb.data, sb.size);
    msgpack_sbuffer_destroy(&sb);

    /* A new file beside the old one, then rename: a crash keeps one whole. */
    snprintf(tmp, sizeof(tmp), "%s.new", path);
    unlink(tmp);
    fd = open(tmp, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0600);
    if (fd < 0 || write(fd, box, box_len) != (ssize_t)box_len || fsync(fd) != 0) {
        rc = fail(EXIT_ERROR, "cannot write your caseload %s: %s.", tmp, strerror(errno));
    } else if (rename(tmp, path) != 0) {
        rc =
            fail(EXIT_ERROR, "cannot put your caseload in place at %s: %s.", path, strerror(errno));
    }
    if (fd >= 0) {
        close(fd);
    }
    if (rc != EXIT_OK) {
        unlink(tmp);
    }
    free(box);
    return rc;
}

struct case_person *caseload_find(struct caseload *c, const char *label)
{
    for (size_t i = 0; i < c->n_people; i++) {
        if (strcasecmp(c->people[i].label, label) == 0) {
            return &c->people[i];
        }
    }
    return NULL;
}

struct case_person *caseload_find_ask(struct caseload *c, const uint8_t id[NB_ID_SIZE],
                                      struct case_ask **ret_ask)
{
    for (size_t i = 0; i < c->n_people; i++) {
        for (size_t k = 0; k < c->people[i].n_asks; k++) {
            if (memcmp(c->people[i].asks[k].id, id, NB_ID_SIZE) == 0) {
                if (ret_ask != NULL) {
                    *ret_ask = &c->people[i].asks[k];
                }
                return &c->people[i];
            }
        }
    }
    return NULL;
}

int caseload_contact(const struct caseload *c, const struct case_person *p, char *buf, size_t size)
{
    if (p->contact == CASE_CONTACT_ME) {
        if (c->my_phone[0] == '\0') {
            return fail(EXIT_USAGE,
                        "%s's helper is to phone you, but your caseload has no number of "
                        "yours: set it with `noaber people --my-phone NUMBER`.",
                        p->label);
        }
        snprintf(buf, size, "Phone the coordinator for %s: %s", p->label, c->my_phone);
        return EXIT_OK;
    }
    if (p->phone[0] == '\0' && p->address[0] == '\0') {
        return fail(EXIT_USAGE,
                    "your caseload has no phone or address for %s; add one with `noaber intake "
                    "%s --phone P` or choose --contact me.",
                    p->label, p->label);
    }
    snprintf(buf, size, "%s%s%s%s%s", p->name[0] != '\0' ? p->name : p->label,
             p->phone[0] != '\0' ? ", phone " : "", p->phone, p->address[0] != '\0' ? ", " : "",
             p->address);
    return EXIT_OK;
}

int caseload_assign_contact(struct ctx *ctx, const uint8_t root_id[NB_ID_SIZE], char *buf,
                            size_t size)
{
    struct caseload cl;
    const struct case_person *p;
    int rc;

    buf[0] = '\0';
    rc = caseload_load(ctx, &cl);
    if (rc != EXIT_OK) {
        return rc;
    }
    p = caseload_find_ask(&cl, root_id, NULL);
    if (p != NULL) {
        rc = caseload_contact(&cl, p, buf, size);
    }
    caseload_free(&cl);
    return rc;
}
