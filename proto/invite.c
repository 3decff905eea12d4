/*
 * Invite codes (see include/noaber/invite.h and docs/protocol.md, "Invites").
 */
#include <noaber/invite.h>

#include <string.h>

#include <msgpack.h>
#include <sodium.h>

#include <noaber/error.h>

#include "proto/base32.h"
#include "proto/mp.h"

/*
 * The root array, the address list and one address entry: three levels.
 * One more is allowed so that a later minor addition (an extra element
 * holding a small array) still decodes; deeper structures are refused.
 */
#define INVITE_DEPTH 4

/* Elements of the root array that version 1 defines. */
#define INVITE_FIELDS 5

_Static_assert(NB_INVITE_PAYLOAD_MAX <= NB_BASE32_PAYLOAD_MAX, "base32 cannot carry an invite");
_Static_assert(NB_INVITE_TEXT_MAX == NB_BASE32_SIZED_TEXT_LEN(4, NB_INVITE_PAYLOAD_MAX),
               "NB_INVITE_TEXT_MAX is the longest code");

static int is_digit(char c)
{
    return c >= '0' && c <= '9';
}

static int is_hex(char c)
{
    return is_digit(c) || (c >= 'a' && c <= 'f') || (c >= 'A' && c <= 'F');
}

static int is_host_char(char c)
{
    return is_digit(c) || (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || c == '-' || c == '.';
}

int nb_invite_address_check(const char *address, size_t len)
{
    size_t i = 0, host_end;

    if (address == NULL || len < 3 || len > NB_INVITE_ADDRESS_MAX)
        return NB_EINVAL;
    if (address[0] == '[') {
        /* An IPv6 address: hex digits and colons, and dots for an embedded
         * IPv4 address; at least two colons ("::" is the shortest). */
        size_t colons = 0;
        for (i = 1; i < len && address[i] != ']'; i++) {
            if (address[i] == ':')
                colons++;
            else if (!is_hex(address[i]) && address[i] != '.')
                return NB_EINVAL;
        }
        if (i == len || colons < 2)
            return NB_EINVAL;
        host_end = i + 1;
    } else {
        while (i < len && is_host_char(address[i]))
            i++;
        if (i == 0)
            return NB_EINVAL;
        host_end = i;
    }
    if (host_end >= len || address[host_end] != ':')
        return NB_EINVAL;
    /* The port: 1..65535, no sign, no leading zero, nothing after it. */
    const char *p = address + host_end + 1;
    size_t n = len - host_end - 1;
    if (n < 1 || n > 5 || p[0] == '0')
        return NB_EINVAL;
    unsigned long port = 0;
    for (size_t k = 0; k < n; k++) {
        if (!is_digit(p[k]))
            return NB_EINVAL;
        port = port * 10 + (unsigned long)(p[k] - '0');
    }
    return port <= 65535 ? 0 : NB_EINVAL;
}

int nb_invite_encode(const struct nb_invite *inv, char *out, size_t out_size)
{
    uint8_t payload[NB_INVITE_PAYLOAD_MAX];
    struct nb_mp_buf b;
    msgpack_packer pk;
    int r;

    size_t name_len = strnlen(inv->name, sizeof(inv->name));
    if (name_len < 1 || name_len > NB_NAME_MAX || nb_utf8_check(inv->name, name_len, 0) < 0)
        return NB_EINVAL;
    if (inv->n_addresses < 1 || inv->n_addresses > NB_INVITE_ADDRESSES_MAX)
        return NB_EINVAL;
    for (size_t i = 0; i < inv->n_addresses; i++) {
        const char *a = inv->addresses[i].address;
        if (nb_invite_address_check(a, strnlen(a, sizeof(inv->addresses[i].address))) < 0)
            return NB_EINVAL;
    }

    nb_mp_buf_init(&b, payload, sizeof(payload));
    msgpack_packer_init(&pk, &b, nb_mp_buf_write);
    msgpack_pack_array(&pk, INVITE_FIELDS);
    msgpack_pack_uint64(&pk, NB_INVITE_VERSION);
    nb_mp_pack_str(&pk, inv->name, name_len);
    nb_mp_pack_bin(&pk, inv->key, sizeof(inv->key));
    msgpack_pack_uint64(&pk, inv->expires_at);
    msgpack_pack_array(&pk, inv->n_addresses);
    for (size_t i = 0; i < inv->n_addresses; i++) {
        const struct nb_invite_address *a = &inv->addresses[i];
        msgpack_pack_array(&pk, 2);
        nb_mp_pack_bin(&pk, a->node_key, sizeof(a->node_key));
        nb_mp_pack_str(&pk, a->address, strlen(a->address));
    }
    if (b.overflow) {
        r = NB_ETOOBIG;
        goto out;
    }
    r = nb_base32_encode_sized(NB_INVITE_PREFIX, NB_INVITE_CONTEXT, payload, b.len, out, out_size);
out:
    /* The payload holds the neighbourhood key. */
    sodium_memzero(payload, sizeof(payload));
    return r;
}

/* Reads one [node key, address] entry. */
static int decode_address(const msgpack_object *o, struct nb_invite_address *ret)
{
    const msgpack_object *items;
    struct nb_text address;
    size_t n;
    int r;

    r = nb_mp_get_array(o, 2, &items, &n);
    if (r < 0 || n != 2)
        return NB_EMALFORMED;
    r = nb_mp_get_bin_exact(&items[0], NB_KEY_SIZE, ret->node_key);
    if (r < 0)
        return r == NB_EFIELD ? NB_EFIELD : NB_EMALFORMED;
    r = nb_mp_get_str(&items[1], 1, NB_INVITE_ADDRESS_MAX, &address);
    if (r < 0)
        return r;
    if (nb_invite_address_check(address.ptr, address.len) < 0)
        return NB_EFIELD;
    memcpy(ret->address, address.ptr, address.len);
    ret->address[address.len] = '\0';
    return 0;
}

int nb_invite_decode(const char *text, size_t len, struct nb_invite *ret)
{
    uint8_t payload[NB_INVITE_PAYLOAD_MAX];
    struct nb_invite inv;
    struct nb_mp_doc doc;
    const msgpack_object *fields, *list;
    struct nb_text name;
    size_t payload_len = 0, n_fields, n_list;
    uint64_t version;
    int r;

    memset(&doc, 0, sizeof(doc));
    memset(&inv, 0, sizeof(inv));
    /* A text far longer than the longest code is refused before it is
     * read, so that pasting a whole file costs nothing. */
    if (len > NB_INVITE_TEXT_MAX + 4096)
        return NB_ETOOBIG;
    r = nb_base32_decode_sized(NB_INVITE_PREFIX, NB_INVITE_CONTEXT, text, len, payload,
                               sizeof(payload), &payload_len);
    if (r < 0)
        goto out;
    r = nb_mp_decode(payload, payload_len, sizeof(payload), INVITE_DEPTH, &doc);
    if (r < 0) {
        r = r == NB_ENOMEM ? r : NB_EMALFORMED;
        goto out;
    }
    /* The version comes first so that a later version is reported as
     * such even if the rest of its structure differs. */
    r = nb_mp_get_array(nb_mp_root(&doc), NB_INVITE_PAYLOAD_MAX, &fields, &n_fields);
    if (r < 0 || n_fields < 1) {
        r = NB_EMALFORMED;
        goto out;
    }
    r = nb_mp_get_uint(&fields[0], UINT64_MAX, &version);
    if (r < 0) {
        r = NB_EMALFORMED;
        goto out;
    }
    if (version != NB_INVITE_VERSION) {
        r = NB_EVERSION;
        goto out;
    }
    /* Elements after the fifth are ignored: a compatible addition to
     * version 1 appends elements, an incompatible one changes the version. */
    if (n_fields < INVITE_FIELDS) {
        r = NB_EMALFORMED;
        goto out;
    }
    r = nb_mp_get_text(&fields[1], 1, NB_NAME_MAX, 0, &name);
    if (r < 0)
        goto out;
    memcpy(inv.name, name.ptr, name.len);
    inv.name[name.len] = '\0';
    r = nb_mp_get_bin_exact(&fields[2], NB_NEIGHBOURHOOD_KEY_SIZE, inv.key);
    if (r < 0)
        goto out;
    r = nb_mp_get_uint(&fields[3], UINT64_MAX, &inv.expires_at);
    if (r < 0)
        goto out;
    r = nb_mp_get_array(&fields[4], NB_INVITE_ADDRESSES_MAX, &list, &n_list);
    if (r < 0)
        goto out;
    if (n_list < 1) {
        r = NB_EFIELD;
        goto out;
    }
    for (size_t i = 0; i < n_list; i++) {
        r = decode_address(&list[i], &inv.addresses[i]);
        if (r < 0)
            goto out;
    }
    inv.n_addresses = n_list;
    *ret = inv;
    r = 0;
out:
    nb_mp_doc_free(&doc);
    sodium_memzero(payload, sizeof(payload));
    sodium_memzero(&inv, sizeof(inv));
    return r;
}

int nb_invite_check_expiry(const struct nb_invite *inv, uint64_t now)
{
    return now < inv->expires_at ? 0 : NB_EEXPIRED;
}

const char *nb_invite_problem(int err)
{
    switch (err) {
    case NB_EPREFIX:
        return "this is not an invite code: an invite code starts with nbi1";
    case NB_ECHECKSUM:
        return "the invite code has a typo: compare it character by character, or ask for it "
               "again";
    case NB_EVERSION:
        return "this invite was made by a newer version of Noaber: upgrade this node first";
    case NB_ETOOBIG:
        return "this is longer than any invite code; paste the code alone";
    case NB_ETRUNCATED:
        return "the invite code is incomplete: part of it is missing; copy the whole code, it is "
               "one line";
    default:
        return "the invite code is damaged: copy the whole code again, it is one line";
    }
}
