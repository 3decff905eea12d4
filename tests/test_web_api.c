/*
 * noaber-web's HTTP API as a browser and the node would see it (web/api.c,
 * web/session.c): what is refused and how, what control request a call
 * becomes, and what JSON a control reply becomes.
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <string.h>
#include <cmocka.h>

#include <sodium.h>

#include "proto/mp.h"
#include "web/api.h"
#include "web/session.h"

static const char origin[] = "http://127.0.0.1:7480";
static const char host[] = "127.0.0.1:7480";

static struct web_input post(const char *path, const char *body)
{
    struct web_input in = { 0 };
    in.method = "POST";
    in.path = path;
    in.content_type = "application/json";
    in.origin = origin;
    in.host = host;
    in.body = (const uint8_t *)body;
    in.body_len = strlen(body);
    return in;
}

/* Plans `in`; returns the HTTP status of a refusal, or 0 (then *doc holds
 * the control request when one was packed). */
static unsigned plan(const struct web_input *in, struct web_plan *p, struct nb_mp_doc *doc,
                     msgpack_sbuffer *req)
{
    struct web_error err;

    msgpack_sbuffer_init(req);
    if (web_api_plan(in, 9, req, p, &err) != 0) {
        assert_non_null(err.code);
        assert_non_null(err.message);
        msgpack_sbuffer_destroy(req);
        return err.status;
    }
    if (req->size > 0) {
        assert_int_equal(nb_mp_decode((const uint8_t *)req->data, req->size, WEB_REPLY_MAX, 4, doc),
                         0);
    }
    return 0;
}

static const msgpack_object *get(const msgpack_object *map, const char *key)
{
    for (uint32_t i = 0; i < map->via.map.size; i++) {
        const msgpack_object *k = &map->via.map.ptr[i].key;
        if (k->type == MSGPACK_OBJECT_STR && k->via.str.size == strlen(key) &&
            memcmp(k->via.str.ptr, key, k->via.str.size) == 0) {
            return &map->via.map.ptr[i].val;
        }
    }
    return NULL;
}

/* A session of member 01..01 on its device 02..02. */
static void with_device_session(struct web_input *in)
{
    in->has_session = true;
    memset(in->member, 1, sizeof(in->member));
    in->has_device_key = true;
    memset(in->device_key, 2, sizeof(in->device_key));
}

static void assert_op(struct nb_mp_doc *doc, const char *op)
{
    const msgpack_object *v = get(nb_mp_root(doc), "op");

    assert_int_equal(v->via.str.size, strlen(op));
    assert_memory_equal(v->via.str.ptr, op, v->via.str.size);
}

static void state_changes_must_come_from_the_page(void **state)
{
    struct web_plan p;
    struct nb_mp_doc doc = { 0 };
    msgpack_sbuffer req;
    struct web_input in = post("/api/session/challenge", "{}");

    (void)state;
    assert_int_equal(plan(&in, &p, &doc, &req), 0);
    assert_int_equal(p.action, WEB_DO_CHALLENGE);
    msgpack_sbuffer_destroy(&req);

    in.origin = "http://evil.example";
    assert_int_equal(plan(&in, &p, &doc, &req), 403);
    in.origin = "http://127.0.0.1:7481"; /* another port is another origin */
    assert_int_equal(plan(&in, &p, &doc, &req), 403);
    in.origin = NULL; /* neither header: not from a browser that protects its user */
    assert_int_equal(plan(&in, &p, &doc, &req), 403);
    in.sec_fetch_site = "same-origin";
    assert_int_equal(plan(&in, &p, &doc, &req), 0);
    msgpack_sbuffer_destroy(&req);
    in.sec_fetch_site = "same-site";
    assert_int_equal(plan(&in, &p, &doc, &req), 403);
    /* Behind a proxy that rewrites Host, the browser's Sec-Fetch-Site decides. */
    in.origin = "https://buurt.example";
    in.sec_fetch_site = "same-origin";
    assert_int_equal(plan(&in, &p, &doc, &req), 0);
    msgpack_sbuffer_destroy(&req);
    in.sec_fetch_site = "cross-site";
    assert_int_equal(plan(&in, &p, &doc, &req), 403);
    in.sec_fetch_site = NULL;
    assert_int_equal(plan(&in, &p, &doc, &req), 403);

    in = post("/api/session/challenge", "{}");
    in.content_type = "text/plain";
    assert_int_equal(plan(&in, &p, &doc, &req), 415);
    in.content_type = "application/jsonp";
    assert_int_equal(plan(&in, &p, &doc, &req), 415);
    in.content_type = "application/json; charset=utf-8";
    assert_int_equal(plan(&in, &p, &doc, &req), 0);
    msgpack_sbuffer_destroy(&req);
    in.body_too_big = true;
    assert_int_equal(plan(&in, &p, &doc, &req), 413);
}

static void reading_and_posting_need_a_session(void **state)
{
    struct web_plan p;
    struct nb_mp_doc doc = { 0 };
    msgpack_sbuffer req;
    struct web_input in = { .method = "GET", .path = "/api/list" };

    (void)state;
    assert_int_equal(plan(&in, &p, &doc, &req), 401);
    in.path = "/api/events";
    assert_int_equal(plan(&in, &p, &doc, &req), 401);
    in.path = "/api/records/abcd";
    assert_int_equal(plan(&in, &p, &doc, &req), 401);
    in = post("/api/records", "{\"record\":\"lgEB\"}");
    assert_int_equal(plan(&in, &p, &doc, &req), 401);
    /* What a browser needs before it can sign in is open. */
    in = (struct web_input){ .method = "GET", .path = "/api/info" };
    assert_int_equal(plan(&in, &p, &doc, &req), 0);
    assert_memory_equal(get(nb_mp_root(&doc), "op")->via.str.ptr, "hello", 5);
    nb_mp_doc_free(&doc);
    msgpack_sbuffer_destroy(&req);
    in.path = "/api/nothing";
    assert_int_equal(plan(&in, &p, &doc, &req), 404);
    in.method = "PUT";
    in.path = "/api/list";
    assert_int_equal(plan(&in, &p, &doc, &req), 405);
}

static void list_arguments_are_checked_and_passed_on(void **state)
{
    struct web_plan p;
    struct nb_mp_doc doc = { 0 };
    msgpack_sbuffer req;
    struct web_input in = { .method = "GET", .path = "/api/list", .has_session = true };
    const msgpack_object *root;

    (void)state;
    in.q_limit = "0";
    assert_int_equal(plan(&in, &p, &doc, &req), 400);
    in.q_limit = "501";
    assert_int_equal(plan(&in, &p, &doc, &req), 400);
    in.q_limit = "12x";
    assert_int_equal(plan(&in, &p, &doc, &req), 400);
    in.q_limit = "500";
    in.q_kind = "Request"; /* names are lowercase words */
    assert_int_equal(plan(&in, &p, &doc, &req), 400);
    in.q_kind = "request";
    in.q_author = "zz";
    assert_int_equal(plan(&in, &p, &doc, &req), 400);
    in.q_author = NULL;
    in.q_area = "Schaerbeek 1030 – Josaphat";
    assert_int_equal(plan(&in, &p, &doc, &req), 0);
    root = nb_mp_root(&doc);
    assert_int_equal(get(root, "limit")->via.u64, 500);
    assert_int_equal(get(root, "id")->via.u64, 9);
    assert_memory_equal(get(root, "op")->via.str.ptr, "list", 4);
    assert_memory_equal(get(root, "kind")->via.str.ptr, "request", 7);
    assert_int_equal(get(root, "area")->via.str.size, strlen(in.q_area));
    nb_mp_doc_free(&doc);
    msgpack_sbuffer_destroy(&req);
}

static void welcome_bodies_are_json_with_escapes(void **state)
{
    struct web_plan p;
    struct nb_mp_doc doc = { 0 };
    msgpack_sbuffer req;
    const char *ok = "{\"token\":\"t0k\", \"member\":"
                     "\"0101010101010101010101010101010101010101010101010101010101010101\","
                     " \"device\":\"T\\u00e9l\\u00e9phone \\ud83d\\udcf1\"}";
    struct web_input in = post("/api/welcome", ok);
    const msgpack_object *device;

    (void)state;
    assert_int_equal(plan(&in, &p, &doc, &req), 0);
    device = get(nb_mp_root(&doc), "device");
    assert_non_null(device);
    assert_int_equal(device->via.str.size, strlen("Téléphone 📱"));
    assert_memory_equal(device->via.str.ptr, "Téléphone 📱", device->via.str.size);
    assert_int_equal(get(nb_mp_root(&doc), "member")->via.bin.size, 32);
    nb_mp_doc_free(&doc);
    msgpack_sbuffer_destroy(&req);

    const char *bad[] = {
        "{\"token\":\"a\",\"member\":\"01\"}", /* short key */
        "{\"token\":\"a\",\"token\":\"b\"}",   /* a key twice */
        "{\"token\":\"\\ud83d\"}",             /* a lone surrogate */
        "{\"token\":\"a\"} x",                 /* trailing bytes */
        "{\"token\":1}",                       /* not a string */
        "[\"token\"]",                         /* not an object */
        "{\"token\":\"a\\u0000b\",\"member\":"
        "\"0101010101010101010101010101010101010101010101010101010101010101\"}",
        "{\"token\":\"a", /* truncated */
    };
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        in = post("/api/welcome", bad[i]);
        assert_int_equal(plan(&in, &p, &doc, &req), 400);
    }
}

static void a_record_must_be_the_session_members(void **state)
{
    uint8_t pk[32], sk[64], nid[32] = { 0 }, bytes[NB_RECORD_MAX];
    char body[512], b64[256];
    struct nb_record rec;
    struct web_plan p;
    struct nb_mp_doc doc = { 0 };
    msgpack_sbuffer req;
    struct web_input in;
    size_t len = 0;

    (void)state;
    crypto_sign_keypair(pk, sk);
    memset(&rec, 0, sizeof(rec));
    rec.kind = NB_KIND_RETRACTION;
    memcpy(rec.author, pk, 32);
    rec.created_at = 1800000000;
    NB_SET(&rec, NB_F_TARGET);
    memset(rec.target, 5, sizeof(rec.target));
    assert_int_equal(nb_record_sign(&rec, sk, nid, bytes, &len), 0);
    sodium_bin2base64(b64, sizeof(b64), bytes, len, sodium_base64_VARIANT_ORIGINAL);
    snprintf(body, sizeof(body), "{\"record\":\"%s\"}", b64);

    in = post("/api/records", body);
    in.has_session = true;
    memcpy(in.member, pk, 32);
    assert_int_equal(plan(&in, &p, &doc, &req), 0);
    assert_memory_equal(get(nb_mp_root(&doc), "op")->via.str.ptr, "submit", 6);
    assert_int_equal(get(nb_mp_root(&doc), "record")->via.bin.size, len);
    nb_mp_doc_free(&doc);
    msgpack_sbuffer_destroy(&req);

    in.member[0] ^= 1; /* another member's session */
    assert_int_equal(plan(&in, &p, &doc, &req), 403);

    /* A record's bytes are decoded before anything else: garbage is 422. */
    sodium_bin2base64(b64, sizeof(b64), (const uint8_t *)"\x96\x01\x01", 3,
                      sodium_base64_VARIANT_ORIGINAL);
    snprintf(body, sizeof(body), "{\"record\":\"%s\"}", b64);
    in = post("/api/records", body);
    in.has_session = true;
    assert_int_equal(plan(&in, &p, &doc, &req), 422);
    in = post("/api/records", "{\"record\":\"not base64!\"}");
    in.has_session = true;
    assert_int_equal(plan(&in, &p, &doc, &req), 400);
}

static void control_replies_become_json(void **state)
{
    static const uint8_t gone[] = "\x83\xa2id\x01\xa2ok\xc2\xa5"
                                  "error\xa4gone";
    static const uint8_t list[] = "\x83\xa2id\x01\xa2ok\xc3\xa6result\x81\xa5items\x91\x82"
                                  "\xa2id\xc4\x02\xab\xcd\xa6record\xc4\x03\x01\x02\x03";
    struct web_buf out = { 0 };
    unsigned status = 0;

    (void)state;
    assert_int_equal(web_api_reply(WEB_ROUTE_GET, gone, sizeof(gone) - 1, &out, &status), 0);
    assert_int_equal(status, 410);
    assert_string_equal(out.data, "{\"error\":\"gone\",\"message\":\"\"}");
    web_buf_free(&out);
    assert_int_equal(web_api_reply(WEB_ROUTE_LIST, list, sizeof(list) - 1, &out, &status), 0);
    assert_int_equal(status, 200);
    /* Ids in hex, records in base64. */
    assert_string_equal(out.data, "{\"items\":[{\"id\":\"abcd\",\"record\":\"AQID\"}]}");
    web_buf_free(&out);
    assert_int_equal(web_api_reply(WEB_ROUTE_LIST, list, 5, &out, &status), -1);
    assert_int_equal(status, 502);
    web_buf_free(&out);
}

/* The overview: its arguments checked and passed on, its signed body (a
 * msgpack map in a bin) opened into JSON with suppressed cells as null. */
static void reports_are_asked_for_and_opened(void **state)
{
    /* {"ok": true, "id": 1, "result": {"report": bin({"posted": 7,
     * "helped": nil})}}: unsigned, as a node without share_report would
     * never send to the member socket but the operator socket does. */
    static const uint8_t rep[] = "\x83\xa2id\x01\xa2ok\xc3\xa6result\x81\xa6report\xc4\x11"
                                 "\x82\xa6posted\x07\xa6helped\xc0";
    static const uint8_t notmap[] = "\x83\xa2id\x01\xa2ok\xc3\xa6result\x81\xa6report\xc4\x01"
                                    "\x07";
    static const uint8_t forbidden[] = "\x83\xa2id\x01\xa2ok\xc2\xa5"
                                       "error\xa9"
                                       "forbidden";
    struct web_input in = { .method = "GET", .path = "/api/report", .has_session = true };
    struct web_plan p;
    struct nb_mp_doc doc = { 0 };
    msgpack_sbuffer req;
    struct web_buf out = { 0 };
    unsigned status = 0;

    (void)state;
    in.q_by = "category";
    in.q_since = "1700000000";
    assert_int_equal(plan(&in, &p, &doc, &req), 0);
    assert_int_equal(p.route, WEB_ROUTE_REPORT);
    assert_int_equal(get(&doc.unpacked.data, "since")->via.u64, 1700000000);
    assert_int_equal(get(&doc.unpacked.data, "by")->via.str.size, 8);
    nb_mp_doc_free(&doc);
    msgpack_sbuffer_destroy(&req);
    in.q_since = "-1";
    assert_int_equal(plan(&in, &p, &doc, &req), 400);
    in.q_since = "99999999999999999999999";
    assert_int_equal(plan(&in, &p, &doc, &req), 400);
    in.q_since = NULL;
    in.q_by = "Area!";
    assert_int_equal(plan(&in, &p, &doc, &req), 400);
    in.has_session = false;
    in.q_by = NULL;
    assert_int_equal(plan(&in, &p, &doc, &req), 401);

    assert_int_equal(web_api_reply(WEB_ROUTE_REPORT, rep, sizeof(rep) - 1, &out, &status), 0);
    assert_int_equal(status, 200);
    assert_string_equal(out.data, "{\"report\":{\"posted\":7,\"helped\":null},\"signed\":false}");
    web_buf_free(&out);
    assert_int_equal(web_api_reply(WEB_ROUTE_REPORT, notmap, sizeof(notmap) - 1, &out, &status),
                     -1);
    assert_int_equal(status, 502);
    web_buf_free(&out);
    /* A node that does not share its overview says so: 403. */
    assert_int_equal(
        web_api_reply(WEB_ROUTE_REPORT, forbidden, sizeof(forbidden) - 1, &out, &status), 0);
    assert_int_equal(status, 403);
    web_buf_free(&out);
}

/* The QR code is drawn only for a signed-in member, and only of an http or
 * https address. */
static void qr_codes_are_of_page_addresses(void **state)
{
    struct web_input in = { .method = "GET", .path = "/api/qr", .has_session = true };
    struct web_plan p;
    struct nb_mp_doc doc = { 0 };
    msgpack_sbuffer req;
    char longer[WEB_QR_URL_MAX + 16];

    (void)state;
    in.q_url = "https://marollen.example/noaber/";
    assert_int_equal(plan(&in, &p, &doc, &req), 0);
    assert_int_equal(p.action, WEB_DO_QR);
    assert_string_equal(p.qr_url, in.q_url);
    msgpack_sbuffer_destroy(&req);
    const char *bad[] = { "javascript:alert(1)", "", "https://a b", "ftp://x", "https://\x7f" };
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        in.q_url = bad[i];
        assert_int_equal(plan(&in, &p, &doc, &req), 400);
    }
    memset(longer, 'a', sizeof(longer) - 1);
    memcpy(longer, "https://", 8);
    longer[sizeof(longer) - 1] = '\0';
    in.q_url = longer;
    assert_int_equal(plan(&in, &p, &doc, &req), 400);
    in.q_url = NULL;
    assert_int_equal(plan(&in, &p, &doc, &req), 400);
    in.q_url = "https://marollen.example/";
    in.has_session = false;
    assert_int_equal(plan(&in, &p, &doc, &req), 401);
}

static void sessions_need_a_fresh_signed_challenge(void **state)
{
    static struct web_sessions s;
    uint8_t pk[32], sk[64], nid[32], ch[WEB_CHALLENGE_SIZE], sig[64], token[WEB_TOKEN_SIZE];
    uint8_t msg[sizeof(WEB_SESSION_CONTEXT) - 1 + 32 + WEB_CHALLENGE_SIZE], who[32];
    char cookie[2 * WEB_TOKEN_SIZE + 1];
    size_t n = sizeof(WEB_SESSION_CONTEXT) - 1;

    (void)state;
    web_sessions_init(&s);
    crypto_sign_keypair(pk, sk);
    memset(nid, 3, sizeof(nid));
    web_challenge_new(&s, 1000, ch);
    memcpy(msg, WEB_SESSION_CONTEXT, n);
    memcpy(msg + n, nid, 32);
    memcpy(msg + n + 32, ch, sizeof(ch));
    crypto_sign_detached(sig, NULL, msg, sizeof(msg), sk);
    assert_true(web_challenge_signed(nid, ch, pk, sig));
    nid[0] ^= 1; /* another neighbourhood */
    assert_false(web_challenge_signed(nid, ch, pk, sig));
    /* A challenge is good once, and not after it expired. */
    assert_int_equal(web_challenge_take(&s, ch, 1000 + WEB_CHALLENGE_SECONDS + 1), -1);
    assert_int_equal(web_challenge_take(&s, ch, 1001), 0);
    assert_int_equal(web_challenge_take(&s, ch, 1001), -1);

    uint8_t device[32], device_seen[32];
    bool has_device = false;
    memset(device, 7, sizeof(device));
    assert_int_equal(web_session_new(&s, pk, device, 1000, token), 0);
    sodium_bin2hex(cookie, sizeof(cookie), token, sizeof(token));
    assert_int_equal(web_session_find(&s, cookie, 1001, who, device_seen, &has_device), 0);
    assert_memory_equal(who, pk, 32);
    /* The session knows which of the member's devices it is. */
    assert_true(has_device);
    assert_memory_equal(device_seen, device, 32);
    /* The node's word that the member is admitted holds for a minute. */
    assert_false(web_session_needs_check(&s, cookie, 1000 + WEB_RECHECK_SECONDS - 1));
    assert_true(web_session_needs_check(&s, cookie, 1000 + WEB_RECHECK_SECONDS));
    web_session_checked(&s, cookie, 1000 + WEB_RECHECK_SECONDS);
    assert_false(web_session_needs_check(&s, cookie, 1000 + WEB_RECHECK_SECONDS + 1));
    assert_int_equal(web_session_find(&s, cookie, 1000 + WEB_SESSION_SECONDS, who, NULL, NULL), -1);
    assert_int_equal(web_session_find(&s, "00", 1001, who, NULL, NULL), -1);
    web_session_drop(&s, cookie);
    assert_int_equal(web_session_find(&s, cookie, 1001, who, NULL, NULL), -1);
}

/* 64 zero bytes, as the base64 of a signature. */
#define SIG64                                                                                      \
    "AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA=="
#define HEX32 "\"0101010101010101010101010101010101010101010101010101010101010101\""

/* A transfer link is made by a session's device and taken without one;
 * each request becomes its op with the session's member and device key. */
static void transfer_links_and_added_devices(void **state)
{
    struct web_plan p;
    struct nb_mp_doc doc = { 0 };
    msgpack_sbuffer req;
    struct web_input in = post("/api/transfer", "{\"sealed\":\"AQIDBA==\",\"expires\":\"30\"}");
    const msgpack_object *v;

    (void)state;
    assert_int_equal(plan(&in, &p, &doc, &req), 401);
    with_device_session(&in);
    assert_int_equal(plan(&in, &p, &doc, &req), 0);
    assert_op(&doc, "device.transfer.put");
    assert_int_equal(get(nb_mp_root(&doc), "sealed")->via.bin.size, 4);
    assert_int_equal(get(nb_mp_root(&doc), "by")->via.bin.ptr[0], 2);
    assert_int_equal(get(nb_mp_root(&doc), "expires")->via.u64, 30);
    nb_mp_doc_free(&doc);
    msgpack_sbuffer_destroy(&req);
    const char *bad_put[] = {
        "{\"sealed\":\"\"}",
        "{\"sealed\":\"AQ==\",\"expires\":\"601\"}",
        "{\"sealed\":\"AQ==\",\"expires\":\"0\"}",
        "{\"sealed\":\"AQ==\",\"expires\":\"1x\"}",
        "{\"other\":\"AQ==\"}",
    };
    for (size_t i = 0; i < sizeof(bad_put) / sizeof(bad_put[0]); i++) {
        in = post("/api/transfer", bad_put[i]);
        in.has_session = true;
        assert_int_equal(plan(&in, &p, &doc, &req), 400);
    }

    /* Taking the link needs no session: the new device has none yet. */
    in = post("/api/transfer/take", "{\"token\":\"ab\",\"device_key\":" HEX32 "}");
    assert_int_equal(plan(&in, &p, &doc, &req), 0);
    v = get(nb_mp_root(&doc), "op");
    assert_memory_equal(v->via.str.ptr, "device.transfer.take", v->via.str.size);
    assert_int_equal(get(nb_mp_root(&doc), "device_key")->via.bin.size, 32);
    nb_mp_doc_free(&doc);
    msgpack_sbuffer_destroy(&req);
    in = post("/api/transfer/take", "{\"token\":\"ab\"}");
    assert_int_equal(plan(&in, &p, &doc, &req), 400);

    in = post("/api/devices", "{\"device_key\":" HEX32 ",\"device\":\"Linux\"}");
    assert_int_equal(plan(&in, &p, &doc, &req), 401);
    in.has_session = true;
    assert_int_equal(plan(&in, &p, &doc, &req), 0);
    v = get(nb_mp_root(&doc), "op");
    assert_memory_equal(v->via.str.ptr, "device.add", v->via.str.size);
    /* A session of a device without a key: the node decides by the member. */
    assert_null(get(nb_mp_root(&doc), "by"));
    nb_mp_doc_free(&doc);
    msgpack_sbuffer_destroy(&req);

    /* Sign-in with a device key needs the device's signature too. */
    in = post("/api/session", "{\"member\":" HEX32 ",\"challenge\":\""                          //
                              "AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA=\",\"signature\":\"" //
                              "AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA"
                              "AAAAAAAAAAAAAAAAAAA=\",\"device_key\":" HEX32 "}");
    assert_int_equal(plan(&in, &p, &doc, &req), 400);
}

/* A member's own devices: listed (GET /api/devices) and one switched off
 * (POST /api/devices/revoke) for the session's member and device only; the
 * body names the device and carries the member's signature, never a member. */
static void own_devices_for_the_sessions_member(void **state)
{
    struct web_plan p;
    struct nb_mp_doc doc = { 0 };
    msgpack_sbuffer req;
    struct web_input in = { 0 };
    char sig[] = "\"" SIG64 "\"";

    (void)state;
    in.method = "GET";
    in.path = "/api/devices";
    assert_int_equal(plan(&in, &p, &doc, &req), 401);
    with_device_session(&in);
    assert_int_equal(plan(&in, &p, &doc, &req), 0);
    assert_op(&doc, "devices.own");
    assert_int_equal(get(nb_mp_root(&doc), "member")->via.bin.ptr[0], 1);
    assert_int_equal(get(nb_mp_root(&doc), "by")->via.bin.ptr[0], 2);
    nb_mp_doc_free(&doc);
    msgpack_sbuffer_destroy(&req);

    char body[256];
    snprintf(body, sizeof(body), "{\"device_id\":\"7\",\"signature\":%s,\"member\":" HEX32 "}",
             sig);
    in = post("/api/devices/revoke", body);
    assert_int_equal(plan(&in, &p, &doc, &req), 401);
    in.has_session = true;
    memset(in.member, 9, sizeof(in.member));
    assert_int_equal(plan(&in, &p, &doc, &req), 0);
    assert_int_equal(p.route, WEB_ROUTE_DEVICE_REVOKE);
    assert_op(&doc, "device.revoke.own");
    assert_int_equal(get(nb_mp_root(&doc), "device_id")->via.u64, 7);
    assert_int_equal(get(nb_mp_root(&doc), "signature")->via.bin.size, 64);
    /* The member is the session's, whatever the body says. */
    assert_int_equal(get(nb_mp_root(&doc), "member")->via.bin.ptr[0], 9);
    nb_mp_doc_free(&doc);
    msgpack_sbuffer_destroy(&req);

    const char *bad[] = { "0", "-1", "1x", "", "9223372036854775808" };
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        snprintf(body, sizeof(body), "{\"device_id\":\"%s\",\"signature\":%s}", bad[i], sig);
        in = post("/api/devices/revoke", body);
        in.has_session = true;
        assert_int_equal(plan(&in, &p, &doc, &req), 400);
    }
    in = post("/api/devices/revoke", "{\"device_id\":\"7\",\"signature\":\"AAAA\"}");
    in.has_session = true;
    assert_int_equal(plan(&in, &p, &doc, &req), 400);
    /* A cross-site form cannot switch a device off. */
    snprintf(body, sizeof(body), "{\"device_id\":\"7\",\"signature\":%s}", sig);
    in = post("/api/devices/revoke", body);
    in.has_session = true;
    in.sec_fetch_site = "cross-site";
    assert_int_equal(plan(&in, &p, &doc, &req), 403);
}

/* Every length of bytes becomes the base64 and hex that libsodium writes
 * (the page decodes both), and text the JSON a browser parses back to it. */
static void bytes_and_text_become_json_as_the_browser_reads_them(void **state)
{
    uint8_t bytes[200];
    char want[2 * sizeof(bytes) + 3];

    (void)state;
    for (size_t i = 0; i < sizeof(bytes); i++) {
        bytes[i] = (uint8_t)(i * 37 + 11);
    }
    for (size_t n = 0; n <= sizeof(bytes); n++) {
        struct web_buf b = { 0 };
        web_json_base64(&b, bytes, n);
        want[0] = '"';
        sodium_bin2base64(want + 1, sizeof(want) - 2, bytes, n, sodium_base64_VARIANT_ORIGINAL);
        strcat(want, "\"");
        assert_string_equal(b.data, want);
        web_buf_free(&b);

        web_json_hex(&b, bytes, n);
        want[0] = '"';
        sodium_bin2hex(want + 1, sizeof(want) - 2, bytes, n);
        strcat(want, "\"");
        assert_string_equal(b.data, want);
        web_buf_free(&b);
    }

    struct web_buf b = { 0 };
    static const char text[] = "plain \"quoted\" back\\slash\ttab\x7f \xc3\xa9t\xc3\xa9 end";
    web_json_str(&b, text, sizeof(text) - 1);
    assert_string_equal(
        b.data, "\"plain \\\"quoted\\\" back\\\\slash\\u0009tab\\u007f \xc3\xa9t\xc3\xa9 end\"");
    web_buf_free(&b);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(state_changes_must_come_from_the_page),
        cmocka_unit_test(reading_and_posting_need_a_session),
        cmocka_unit_test(list_arguments_are_checked_and_passed_on),
        cmocka_unit_test(welcome_bodies_are_json_with_escapes),
        cmocka_unit_test(a_record_must_be_the_session_members),
        cmocka_unit_test(control_replies_become_json),
        cmocka_unit_test(bytes_and_text_become_json_as_the_browser_reads_them),
        cmocka_unit_test(sessions_need_a_fresh_signed_challenge),
        cmocka_unit_test(reports_are_asked_for_and_opened),
        cmocka_unit_test(qr_codes_are_of_page_addresses),
        cmocka_unit_test(transfer_links_and_added_devices),
        cmocka_unit_test(own_devices_for_the_sessions_member),
    };
    if (sodium_init() < 0) {
        return 1;
    }
    return cmocka_run_group_tests(tests, NULL, NULL);
}
