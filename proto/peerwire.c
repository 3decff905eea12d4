#include <noaber/peerwire.h>

#include <string.h>

#include <msgpack.h>

#include <noaber/error.h>
#include <noaber/record.h>

#include "proto/mp.h"

/* ---- addresses ---------------------------------------------------------- */

static bool host_char(char c)
{
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '.' ||
           c == '-' || c == '_';
}

static bool ipv6_char(char c)
{
    return (c >= 'a' && c <= 'f') || (c >= 'A' && c <= 'F') || (c >= '0' && c <= '9') || c == ':' ||
           c == '.';
}

int nb_peer_address_parse(const char *text, size_t len, bool allow_port_0, char *ret_host,
                          uint16_t *ret_port)
{
    if (text == NULL || len < 3 || len > NB_PEER_ADDRESS_MAX)
        return NB_EINVAL;
    /* The port is everything after the last ':'; an IPv6 host has colons
     * of its own, which is why it must be in brackets. */
    size_t colon = len;
    while (colon > 0 && text[colon - 1] != ':')
        colon--;
    if (colon == 0)
        return NB_EINVAL;
    colon--;
    size_t port_len = len - colon - 1;
    if (port_len < 1 || port_len > 5 || (port_len > 1 && text[colon + 1] == '0'))
        return NB_EINVAL;
    uint32_t port = 0;
    for (size_t i = colon + 1; i < len; i++) {
        if (text[i] < '0' || text[i] > '9')
            return NB_EINVAL;
        port = port * 10 + (uint32_t)(text[i] - '0');
    }
    if (port > 65535 || (port == 0 && !allow_port_0))
        return NB_EINVAL;

    const char *host = text;
    size_t host_len = colon;
    if (host_len >= 2 && host[0] == '[') {
        if (host[host_len - 1] != ']')
            return NB_EINVAL;
        host++;
        host_len -= 2;
        if (host_len < 2)
            return NB_EINVAL;
        for (size_t i = 0; i < host_len; i++)
            if (!ipv6_char(host[i]))
                return NB_EINVAL;
    } else {
        for (size_t i = 0; i < host_len; i++)
            if (!host_char(host[i]))
                return NB_EINVAL;
    }
    if (host_len < 1 || host_len > 253)
        return NB_EINVAL;
    if (ret_host != NULL) {
        memcpy(ret_host, host, host_len);
        ret_host[host_len] = '\0';
    }
    if (ret_port != NULL)
        *ret_port = (uint16_t)port;
    return 0;
}

/* ---- encoding ------------------------------------------------------------ */

/* Finishes an encoding: every encoder packs freely into a bounded buffer and
 * checks once for overflow here. */
static int finish(const struct nb_mp_buf *b, size_t *ret_len)
{
    if (b->overflow || b->len > NB_PEER_MSG_MAX)
        return NB_ETOOBIG;
    *ret_len = b->len;
    return 0;
}

/* Every message is an array whose first element is its type. */
static void begin_message(struct nb_mp_buf *b, msgpack_packer *pk, uint8_t *out, size_t out_cap,
                          enum nb_peer_type type, size_t elements)
{
    nb_mp_buf_init(b, out, out_cap);
    msgpack_packer_init(pk, b, nb_mp_buf_write);
    msgpack_pack_array(pk, elements);
    msgpack_pack_uint64(pk, type);
}

/* `neg` and `record`: the type and one bin. */
static int encode_bin_message(enum nb_peer_type type, const uint8_t *bytes, size_t len,
                              uint8_t *out, size_t out_cap, size_t *ret_len)
{
    struct nb_mp_buf b;
    msgpack_packer pk;
    begin_message(&b, &pk, out, out_cap, type, 2);
    nb_mp_pack_bin(&pk, bytes, len);
    return finish(&b, ret_len);
}

int nb_peer_hello_encode(const char *listen, const char *software, uint64_t now, uint8_t *out,
                         size_t out_cap, size_t *ret_len)
{
    return nb_peer_hello_encode_riblt(listen, software, now, false, out, out_cap, ret_len);
}

int nb_peer_hello_encode_riblt(const char *listen, const char *software, uint64_t now, bool riblt,
                               uint8_t *out, size_t out_cap, size_t *ret_len)
{
    size_t sw_len = software != NULL ? strlen(software) : 0;
    if (software == NULL || sw_len > NB_PEER_SOFTWARE_MAX || nb_utf8_check(software, sw_len, 0) < 0)
        return NB_EINVAL;
    if (listen != NULL && nb_peer_address_parse(listen, strlen(listen), false, NULL, NULL) < 0)
        return NB_EINVAL;
    struct nb_mp_buf b;
    msgpack_packer pk;
    nb_mp_buf_init(&b, out, out_cap);
    msgpack_packer_init(&pk, &b, nb_mp_buf_write);
    msgpack_pack_map(&pk, 2 + (listen != NULL) + (now != 0) + riblt);
    nb_mp_pack_str(&pk, "v", 1);
    msgpack_pack_uint64(&pk, NB_PEER_VERSION);
    if (listen != NULL) {
        nb_mp_pack_str(&pk, "listen", 6);
        nb_mp_pack_str(&pk, listen, strlen(listen));
    }
    nb_mp_pack_str(&pk, "software", 8);
    nb_mp_pack_str(&pk, software, sw_len);
    if (now != 0) {
        nb_mp_pack_str(&pk, "time", 4);
        msgpack_pack_uint64(&pk, now);
    }
    if (riblt) {
        nb_mp_pack_str(&pk, "riblt", 5);
        msgpack_pack_uint64(&pk, NB_PEER_RIBLT_VERSION);
    }
    if (b.len > NB_PEER_HELLO_MAX)
        return NB_ETOOBIG;
    return finish(&b, ret_len);
}

int nb_peer_encode_neg(const uint8_t *msg, size_t len, uint8_t *out, size_t out_cap,
                       size_t *ret_len)
{
    if (msg == NULL || len == 0)
        return NB_EINVAL;
    return encode_bin_message(NB_PEER_NEG, msg, len, out, out_cap, ret_len);
}

int nb_peer_encode_rbl(const uint8_t *msg, size_t len, uint8_t *out, size_t out_cap,
                       size_t *ret_len)
{
    if (msg == NULL || len == 0)
        return NB_EINVAL;
    return encode_bin_message(NB_PEER_RBL, msg, len, out, out_cap, ret_len);
}

int nb_peer_encode_ids(enum nb_peer_type type, const uint8_t (*ids)[NB_PEER_ID_SIZE], size_t n,
                       uint8_t *out, size_t out_cap, size_t *ret_len)
{
    if ((type != NB_PEER_WANT && type != NB_PEER_MISSING) || ids == NULL || n < 1 ||
        n > NB_PEER_IDS_MAX)
        return NB_EINVAL;
    struct nb_mp_buf b;
    msgpack_packer pk;
    begin_message(&b, &pk, out, out_cap, type, 2);
    msgpack_pack_array(&pk, n);
    for (size_t i = 0; i < n; i++)
        nb_mp_pack_bin(&pk, ids[i], NB_PEER_ID_SIZE);
    return finish(&b, ret_len);
}

int nb_peer_encode_record(const uint8_t *record, size_t len, uint8_t *out, size_t out_cap,
                          size_t *ret_len)
{
    if (record == NULL || len == 0 || len > NB_RECORD_MAX)
        return NB_EINVAL;
    return encode_bin_message(NB_PEER_RECORD, record, len, out, out_cap, ret_len);
}

int nb_peer_encode_synced(uint8_t *out, size_t out_cap, size_t *ret_len)
{
    struct nb_mp_buf b;
    msgpack_packer pk;
    begin_message(&b, &pk, out, out_cap, NB_PEER_SYNCED, 1);
    return finish(&b, ret_len);
}

int nb_peer_encode_peers(const struct nb_peer_addr *addrs, size_t n, uint8_t *out, size_t out_cap,
                         size_t *ret_len)
{
    if (n > NB_PEER_ADDRS_MAX || (n > 0 && addrs == NULL))
        return NB_EINVAL;
    for (size_t i = 0; i < n; i++) {
        size_t len = strnlen(addrs[i].address, NB_PEER_ADDRESS_MAX + 1);
        if (nb_peer_address_parse(addrs[i].address, len, false, NULL, NULL) < 0)
            return NB_EINVAL;
    }
    struct nb_mp_buf b;
    msgpack_packer pk;
    begin_message(&b, &pk, out, out_cap, NB_PEER_PEERS, 2);
    msgpack_pack_array(&pk, n);
    for (size_t i = 0; i < n; i++) {
        msgpack_pack_array(&pk, 2);
        nb_mp_pack_bin(&pk, addrs[i].node_key, NB_PEER_KEY_SIZE);
        nb_mp_pack_str(&pk, addrs[i].address, strlen(addrs[i].address));
    }
    return finish(&b, ret_len);
}

int nb_peer_encode_ping(enum nb_peer_type type, uint64_t nonce, uint8_t *out, size_t out_cap,
                        size_t *ret_len)
{
    if (type != NB_PEER_PING && type != NB_PEER_PONG)
        return NB_EINVAL;
    struct nb_mp_buf b;
    msgpack_packer pk;
    begin_message(&b, &pk, out, out_cap, type, 2);
    msgpack_pack_uint64(&pk, nonce);
    return finish(&b, ret_len);
}

/* ---- decoding ------------------------------------------------------------ */

int nb_peer_hello_decode(const uint8_t *buf, size_t len, struct nb_peer_hello *ret)
{
    struct nb_mp_doc doc = { 0 };
    struct nb_peer_hello h;
    const msgpack_object_kv *pairs;
    size_t n;
    int r;

    memset(&h, 0, sizeof(h));
    r = nb_mp_decode(buf, len, NB_PEER_HELLO_MAX, NB_PEER_DEPTH, &doc);
    if (r < 0)
        return r;
    const msgpack_object *root = nb_mp_root(&doc);
    r = nb_mp_get_map(root, 64, &pairs, &n);
    if (r < 0)
        goto out;
    /* Keys this version does not know are ignored, so that later versions
     * can add some; the ones it knows must be well formed, and only once. */
    bool seen_v = false, seen_sw = false;
    for (size_t i = 0; i < n; i++) {
        const msgpack_object *k = &pairs[i].key;
        const msgpack_object *v = &pairs[i].val;
        if (k->type != MSGPACK_OBJECT_STR) {
            r = NB_EMALFORMED;
            goto out;
        }
        struct nb_text t;
        if (k->via.str.size == 1 && memcmp(k->via.str.ptr, "v", 1) == 0) {
            if (seen_v || nb_mp_get_uint(v, UINT64_MAX, &h.version) < 0) {
                r = NB_EFIELD;
                goto out;
            }
            seen_v = true;
        } else if (k->via.str.size == 6 && memcmp(k->via.str.ptr, "listen", 6) == 0) {
            if (h.has_listen || nb_mp_get_str(v, 3, NB_PEER_ADDRESS_MAX, &t) < 0 ||
                nb_peer_address_parse(t.ptr, t.len, false, NULL, NULL) < 0) {
                r = NB_EFIELD;
                goto out;
            }
            memcpy(h.listen, t.ptr, t.len);
            h.listen[t.len] = '\0';
            h.has_listen = true;
        } else if (k->via.str.size == 8 && memcmp(k->via.str.ptr, "software", 8) == 0) {
            if (seen_sw || nb_mp_get_text(v, 0, NB_PEER_SOFTWARE_MAX, 0, &t) < 0) {
                r = NB_EFIELD;
                goto out;
            }
            memcpy(h.software, t.ptr, t.len);
            h.software[t.len] = '\0';
            seen_sw = true;
        } else if (k->via.str.size == 4 && memcmp(k->via.str.ptr, "time", 4) == 0) {
            if (h.has_time || nb_mp_get_uint(v, UINT64_MAX, &h.time) < 0) {
                r = NB_EFIELD;
                goto out;
            }
            h.has_time = true;
        } else if (k->via.str.size == 5 && memcmp(k->via.str.ptr, "riblt", 5) == 0) {
            if (h.riblt != 0 || nb_mp_get_uint(v, UINT64_MAX, &h.riblt) < 0 || h.riblt == 0) {
                r = NB_EFIELD;
                goto out;
            }
        }
    }
    if (!seen_v || !seen_sw) {
        r = NB_EFIELD;
        goto out;
    }
    memcpy(ret, &h, sizeof(h));
    r = 0;
out:
    nb_mp_doc_free(&doc);
    return r;
}

/* Reads [bin32, ...] with min..NB_PEER_IDS_MAX entries into m->ids. */
static int decode_ids(const msgpack_object *o, size_t min, struct nb_peer_msg *m)
{
    const msgpack_object *items;
    size_t n;
    if (nb_mp_get_array(o, NB_PEER_IDS_MAX, &items, &n) < 0 || n < min)
        return NB_EFIELD;
    for (size_t i = 0; i < n; i++)
        if (nb_mp_get_bin_exact(&items[i], NB_PEER_ID_SIZE, m->ids[i]) < 0)
            return NB_EFIELD;
    m->n_ids = n;
    return 0;
}

static int decode_addrs(const msgpack_object *o, struct nb_peer_msg *m)
{
    const msgpack_object *items;
    size_t n;
    if (nb_mp_get_array(o, NB_PEER_ADDRS_MAX, &items, &n) < 0)
        return NB_EFIELD;
    for (size_t i = 0; i < n; i++) {
        const msgpack_object *pair;
        size_t np;
        struct nb_text t;
        if (nb_mp_get_array(&items[i], 2, &pair, &np) < 0 || np != 2 ||
            nb_mp_get_bin_exact(&pair[0], NB_PEER_KEY_SIZE, m->addrs[i].node_key) < 0 ||
            nb_mp_get_str(&pair[1], 3, NB_PEER_ADDRESS_MAX, &t) < 0 ||
            nb_peer_address_parse(t.ptr, t.len, false, NULL, NULL) < 0)
            return NB_EFIELD;
        memcpy(m->addrs[i].address, t.ptr, t.len);
        m->addrs[i].address[t.len] = '\0';
    }
    m->n_addrs = n;
    return 0;
}

int nb_peer_msg_decode(const uint8_t *buf, size_t len, struct nb_peer_msg *ret)
{
    struct nb_mp_doc doc = { 0 };
    const msgpack_object *el;
    size_t n;
    struct nb_bytes b;
    int r;

    /* The message is built aside and copied out only when it is whole, so a
     * failed decode leaves *ret untouched. */
    struct nb_peer_msg m;
    m.type = 0;
    m.bin = NULL;
    m.bin_len = 0;
    m.n_ids = 0;
    m.n_addrs = 0;
    m.nonce = 0;

    r = nb_mp_decode(buf, len, NB_PEER_MSG_MAX, NB_PEER_DEPTH, &doc);
    if (r < 0)
        return r;
    if (nb_mp_get_array(nb_mp_root(&doc), 64, &el, &n) < 0 || n < 1 ||
        nb_mp_get_uint(&el[0], UINT64_MAX, &m.type) < 0) {
        r = NB_EMALFORMED;
        goto out;
    }
    r = NB_EFIELD;
    switch (m.type) {
    case NB_PEER_NEG:
    case NB_PEER_RBL:
        if (n != 2 || nb_mp_get_bin(&el[1], 1, NB_PEER_MSG_MAX, &b) < 0)
            goto out;
        m.bin = b.ptr;
        m.bin_len = b.len;
        break;
    case NB_PEER_RECORD:
        if (n != 2 || nb_mp_get_bin(&el[1], 1, NB_RECORD_MAX, &b) < 0)
            goto out;
        m.bin = b.ptr;
        m.bin_len = b.len;
        break;
    case NB_PEER_WANT:
    case NB_PEER_MISSING:
        if (n != 2 || decode_ids(&el[1], 1, &m) < 0)
            goto out;
        break;
    case NB_PEER_SYNCED:
        if (n != 1)
            goto out;
        break;
    case NB_PEER_PEERS:
        if (n != 2 || decode_addrs(&el[1], &m) < 0)
            goto out;
        break;
    case NB_PEER_PING:
    case NB_PEER_PONG:
        if (n != 2 || nb_mp_get_uint(&el[1], UINT64_MAX, &m.nonce) < 0)
            goto out;
        break;
    default:
        /* Unknown types are ignored by the receiver (later versions). */
        break;
    }
    ret->type = m.type;
    ret->bin = m.bin;
    ret->bin_len = m.bin_len;
    ret->n_ids = m.n_ids;
    if (m.n_ids > 0)
        memcpy(ret->ids, m.ids, m.n_ids * NB_PEER_ID_SIZE);
    ret->n_addrs = m.n_addrs;
    if (m.n_addrs > 0)
        memcpy(ret->addrs, m.addrs, m.n_addrs * sizeof(m.addrs[0]));
    ret->nonce = m.nonce;
    r = 0;
out:
    nb_mp_doc_free(&doc);
    return r;
}
