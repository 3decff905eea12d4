/*
 * libFuzzer harness for noaber-web's HTTP-to-control translation (web/api.c):
 * the input is split at NUL bytes into method, path, the headers and query
 * arguments the API reads, and the body; one byte says whether there is a
 * session.  The same input, read as a control reply frame and as a watch
 * event, goes through the reply translation.  Nothing may crash, leak or
 * read out of bounds, and a planned control request must be one msgpack map.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "proto/mp.h"
#include "web/api.h"

#define PARTS 12

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    char *copy = malloc(size + 1);
    const char *part[PARTS] = { 0 };
    struct web_input in = { 0 };
    struct web_plan plan;
    struct web_error err;
    struct web_buf out = { 0 };
    msgpack_sbuffer req;
    unsigned status = 0;
    size_t at = 0, n = 0;

    if (copy == NULL) {
        return 0;
    }
    memcpy(copy, data, size);
    copy[size] = '\0';
    /* Method, path, content type, origin, sec-fetch-site, host, the six
     * list arguments; the rest is the body. */
    while (n < PARTS && at <= size) {
        part[n++] = copy + at;
        char *z = memchr(copy + at, '\0', size - at + 1);
        at = (size_t)(z - copy) + 1;
    }
    in.method = part[0] != NULL ? part[0] : "GET";
    in.path = part[1] != NULL ? part[1] : "/api/info";
    in.content_type = part[2];
    in.origin = part[3];
    in.sec_fetch_site = part[4];
    in.host = part[5];
    in.q_kind = part[6];
    in.q_status = part[7];
    in.q_category = part[8];
    in.q_area = part[9];
    in.q_author = part[10];
    in.q_limit = part[11];
    /* The report's and the QR code's arguments reuse the list's parts: no
     * route reads both. */
    in.q_by = part[6];
    in.q_since = part[11];
    in.q_url = part[9];
    if (at < size) {
        in.body = (const uint8_t *)copy + at;
        in.body_len = size - at;
    }
    in.has_session = size > 0 && (data[0] & 1);
    memset(in.member, size > 1 ? data[1] : 0, sizeof(in.member));
    in.has_device_key = size > 0 && (data[0] & 2);
    memset(in.device_key, size > 2 ? data[2] : 0, sizeof(in.device_key));

    msgpack_sbuffer_init(&req);
    if (web_api_plan(&in, 7, &req, &plan, &err) == 0) {
        if (plan.action == WEB_DO_CONTROL || plan.action == WEB_DO_EVENTS ||
            plan.action == WEB_DO_SIGN_IN) {
            struct nb_mp_doc doc;
            if (nb_mp_decode((const uint8_t *)req.data, req.size, WEB_REPLY_MAX, 4, &doc) != 0 ||
                doc.unpacked.data.type != MSGPACK_OBJECT_MAP) {
                abort();
            }
            nb_mp_doc_free(&doc);
        }
    } else if (err.status < 400 || err.status > 599 || err.code == NULL || err.message == NULL) {
        abort();
    }
    msgpack_sbuffer_destroy(&req);

    web_api_reply(WEB_ROUTE_LIST, data, size, &out, &status);
    web_buf_free(&out);
    memset(&out, 0, sizeof(out));
    web_api_reply(WEB_ROUTE_REPORT, data, size, &out, &status);
    web_buf_free(&out);
    web_api_event(data, size, &out);
    web_buf_free(&out);
    {
        uint8_t nid[NB_ID_SIZE];
        (void)web_api_hello_neighbourhood(data, size, nid);
        (void)web_api_admitted(data, size);
    }
    free(copy);
    return 0;
}
