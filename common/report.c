#include "common/report.h"

#include <stdlib.h>
#include <string.h>

#include <noaber/error.h>

#include <sodium.h>

static const char *const by_names[] = { "none", "category", "area", "month" };

const char *nb_report_by_name(enum nb_report_by by)
{
    return (unsigned)by < sizeof(by_names) / sizeof(by_names[0]) ? by_names[by] : "none";
}

int nb_report_by_parse(const char *name)
{
    for (size_t i = 0; i < sizeof(by_names) / sizeof(by_names[0]); i++) {
        if (strcmp(name, by_names[i]) == 0)
            return (int)i;
    }
    return -1;
}

/*
 * Plain Ed25519 over the context (with its NUL) and the body, so that any
 * Ed25519 library can check a report: the message is built in one buffer.
 */
static uint8_t *report_message(const uint8_t *body, size_t len, size_t *ret_len)
{
    uint8_t *m = malloc(sizeof(NB_REPORT_CONTEXT) + len);
    if (m == NULL)
        return NULL;
    memcpy(m, NB_REPORT_CONTEXT, sizeof(NB_REPORT_CONTEXT));
    memcpy(m + sizeof(NB_REPORT_CONTEXT), body, len);
    *ret_len = sizeof(NB_REPORT_CONTEXT) + len;
    return m;
}

int nb_report_sign(const uint8_t *body, size_t len, const uint8_t sk[NB_SECRET_KEY_SIZE],
                   uint8_t ret_sig[NB_SIG_SIZE])
{
    size_t n;
    uint8_t *m = report_message(body, len, &n);
    if (m == NULL)
        return NB_ENOMEM;
    crypto_sign_detached(ret_sig, NULL, m, n, sk);
    free(m);
    return 0;
}

int nb_report_verify(const uint8_t *body, size_t len, const uint8_t pk[NB_KEY_SIZE],
                     const uint8_t sig[NB_SIG_SIZE])
{
    size_t n;
    uint8_t *m = report_message(body, len, &n);
    if (m == NULL)
        return NB_ENOMEM;
    int r = crypto_sign_verify_detached(sig, m, n, pk) == 0 ? 0 : -1;
    free(m);
    return r;
}
