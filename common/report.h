/*
 * The unmet-need overview (docs/control-api.md `report`, docs/operating.md):
 * what the daemon that builds it and the client that shows and checks it
 * share.  The signed bytes are the msgpack body of the `report` reply;
 * the signature is Ed25519 over NB_REPORT_CONTEXT followed by those bytes,
 * so a report key's signature can never be mistaken for anything else.
 */
#ifndef NOABER_COMMON_REPORT_H
#define NOABER_COMMON_REPORT_H

#include <stddef.h>
#include <stdint.h>

#include <noaber/record.h>

#define NB_REPORT_FORMAT   "noaber-report-1"
#define NB_REPORT_CONTEXT  "noaber report v1" /* signed before the body, with its NUL */
#define NB_REPORT_KEY_FILE "report.key"       /* in the data directory: the Ed25519 report key */
#define NB_REPORT_MIN_CELL 5 /* counts from 1 to 4 are suppressed, medians of fewer values */

enum nb_report_by {
    NB_REPORT_BY_NONE = 0,
    NB_REPORT_BY_CATEGORY,
    NB_REPORT_BY_AREA,
    NB_REPORT_BY_MONTH,
};

/* "none", "category", "area", "month". */
const char *nb_report_by_name(enum nb_report_by by);
/* The grouping of a name, or -1. */
int nb_report_by_parse(const char *name);

/* Signs a report body; 0 or NB_ENOMEM. */
int nb_report_sign(const uint8_t *body, size_t len, const uint8_t sk[NB_SECRET_KEY_SIZE],
                   uint8_t ret_sig[NB_SIG_SIZE]);
/* 0 when `sig` is the report key's signature of `body`, -1 when not, NB_ENOMEM. */
int nb_report_verify(const uint8_t *body, size_t len, const uint8_t pk[NB_KEY_SIZE],
                     const uint8_t sig[NB_SIG_SIZE]);

#endif
