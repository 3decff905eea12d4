/*
 * What the coordinator's commands share (client/caseload.c,
 * client/cmd_care.c, client/cmd_report.c, client/cmd_sheet.c): the private
 * caseload and the drawing of paper and charts.
 *
 * The caseload is a file next to the identity file ("IDENTITY.caseload"),
 * encrypted with a key derived from the member's secret key (crypto_kdf,
 * context "caseload"), with crypto_secretbox and a fresh nonce on every
 * write.  It never leaves the coordinator's devices: the node, its
 * operator and the neighbourhood see only the label on each request
 * (docs/client.md, "Coordinators").
 */
#ifndef NOABER_CLIENT_CARE_H
#define NOABER_CLIENT_CARE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <msgpack.h>

#include "client.h"

#define CASE_LABEL_MAX  24   /* initials or a first name */
#define CASE_FIELD_MAX  200  /* name, phone, address */
#define CASE_NOTES_MAX  1000 /* what was agreed */
#define CASE_PEOPLE_MAX 500
#define CASE_ASKS_MAX   64 /* requests remembered per person */

enum case_contact {
    CASE_CONTACT_PERSON = 0, /* the helper gets the person's name, phone, address */
    CASE_CONTACT_ME = 1,     /* the helper gets the coordinator's phone */
};

/* One request posted for a person, and the assignment last phoned through. */
struct case_ask {
    uint8_t id[NB_ID_SIZE];
    uint8_t called[NB_ID_SIZE]; /* the assignment the person was phoned about */
    bool has_called;
};

struct case_person {
    char label[CASE_LABEL_MAX + 1];
    char name[CASE_FIELD_MAX + 1];
    char phone[CASE_FIELD_MAX + 1];
    char address[CASE_FIELD_MAX + 1];
    char area[NB_AREA_MAX + 1];
    char notes[CASE_NOTES_MAX + 1];
    enum case_contact contact;
    struct case_ask asks[CASE_ASKS_MAX];
    size_t n_asks;
};

struct caseload {
    char my_phone[CASE_FIELD_MAX + 1]; /* the coordinator's own number */
    struct case_person *people;
    size_t n_people;
};

/*
 * Reads the caseload of the loaded identity (an empty one when there is no
 * file yet).  Returns EXIT_OK or EXIT_ERROR (printed): a file that does not
 * open with this identity's key is an error, never silently replaced.
 */
int caseload_load(struct ctx *ctx, struct caseload *ret);
/* Encrypts and writes it atomically (mode 0600).  EXIT_OK or EXIT_ERROR. */
int caseload_save(struct ctx *ctx, const struct caseload *c);
/* Wipes and frees. */
void caseload_free(struct caseload *c);
/* The person with this label (without case), or NULL. */
struct case_person *caseload_find(struct caseload *c, const char *label);
/* The person a request was posted for, or NULL; *ret_ask its entry. */
struct case_person *caseload_find_ask(struct caseload *c, const uint8_t id[NB_ID_SIZE],
                                      struct case_ask **ret_ask);
/*
 * The contact sealed to the helper of a request posted for `p`, as the
 * coordinator chose: the person's name, phone and address, or the
 * coordinator's own phone.  EXIT_OK or EXIT_USAGE (printed).
 */
int caseload_contact(const struct caseload *c, const struct case_person *p, char *buf, size_t size);

/*
 * The contact for the helper of request `root_id` when it was posted for
 * someone in the caseload (caseload_contact), else "" in buf.  EXIT_OK or
 * an exit code (printed).
 */
int caseload_assign_contact(struct ctx *ctx, const uint8_t root_id[NB_ID_SIZE], char *buf,
                            size_t size);

/*
 * Posts a request built from options (client/cmd_post.c): what `ask` and
 * `intake` share.  Every pointer may be NULL but title, category and area.
 */
struct post_fields {
    const char *title, *category, *area, *details, *urgency, *when, *expires;
    const char *languages, *tags, *mode, *on_behalf_of;
};
int post_submit(struct ctx *ctx, uint8_t kind, const struct post_fields *f,
                uint8_t ret_id[NB_ID_SIZE]);

/*
 * Draws a QR code of `text` at (x, y) with the given side on a Cairo
 * context (client/cmd_sheet.c); EXIT_OK or EXIT_ERROR (printed).
 */
struct _cairo;
int draw_qr(struct _cairo *cr, const char *text, double x, double y, double side);
/* Releases Cairo's and fontconfig's caches once a command has drawn. */
void drawing_done(void);

/*
 * Calls fn for each request or offer (`kind`) in `status` the node lists,
 * newest first, up to the list's maximum (client/cmd_sheet.c).  fn returns
 * EXIT_OK to go on.  Returns EXIT_OK or an exit code (printed).
 */
typedef int (*list_open_fn)(void *arg, const struct nb_record *rec, const uint8_t id[NB_ID_SIZE]);
int list_open(struct ctx *ctx, const char *kind, const char *status, list_open_fn fn, void *arg);

/*
 * A report as decoded from its signed body (client/cmd_report.c).  `owned`
 * says whether `bytes` is this struct's to free.
 */
struct report_doc {
    msgpack_unpacked u;
    const msgpack_object *body;
    const uint8_t *bytes;
    size_t len;
    bool owned;
    bool is_signed;
    uint8_t key[NB_KEY_SIZE];
    uint8_t sig[NB_SIG_SIZE];
};
void report_doc_free(struct report_doc *d);

enum report_check {
    REPORT_GOOD = 0,
    REPORT_UNSIGNED,      /* no signature, or not a report file at all */
    REPORT_UNKNOWN,       /* signed part of an unknown format */
    REPORT_BAD_SIGNATURE, /* the signature does not match the body and its key */
    REPORT_CHANGED,       /* signed, but the file differs from the signed body */
};
/*
 * Checks a report file's text (any bytes): returns an enum report_check.
 * On REPORT_GOOD, *d holds the signed body (free with report_doc_free) and
 * key_text the report key as nbm1... text.
 */
int report_check(const char *text, size_t len, struct report_doc *d, char *key_text,
                 size_t key_size);

/*
 * Decodes a caseload's plaintext (client/caseload.c): true when it is one.
 * *c is filled either way; free it with caseload_free.
 */
bool caseload_decode(const uint8_t *buf, size_t len, struct caseload *c);

int cmd_intake(struct ctx *ctx, int argc, char **argv);
int cmd_people(struct ctx *ctx, int argc, char **argv);
int cmd_calls(struct ctx *ctx, int argc, char **argv);
int cmd_report(struct ctx *ctx, int argc, char **argv);
int cmd_sheet(struct ctx *ctx, int argc, char **argv);
int cmd_export(struct ctx *ctx, int argc, char **argv);

#endif
