/*
 * Anonymous tallies of purged requests, for the unmet-need overview
 * (daemon/control/ops_report.c; docs/operating.md, "The unmet-need
 * overview").
 *
 * The overview counts the requests a node holds, and a request is purged a
 * day after it ends; without these tallies its figures would drop at every
 * purge.  When the purge deletes a request, the node adds it to the cell of
 * its month, category and area, with its outcome, and keeps the delays to
 * its first response and to its assignment for the medians: exactly the
 * cells the overview shows, and no id, author, title or text.  Tables:
 * migration 5 -> 6 in store.c.
 */
#ifndef NOABERD_STORE_TALLY_H
#define NOABERD_STORE_TALLY_H

#include <stdbool.h>
#include <stdint.h>

#include <noaber/record.h>
#include <noaber/state.h>

#include "daemon/store/store.h"

#define NBD_TALLY_MONTH_LEN 7 /* "YYYY-MM" */
#define NBD_TALLY_NAME_MAX  NB_AREA_MAX

/*
 * One request as the overview counts it, or (from nbd_store_foreach_tally)
 * a cell of purged ones: the counts, and for one request the delays.
 */
struct nbd_tally {
    char month[NBD_TALLY_MONTH_LEN + 1]; /* of created_at, UTC */
    char category[NBD_TALLY_NAME_MAX + 1];
    char area[NBD_TALLY_NAME_MAX + 1];
    uint64_t posted, helped, cancelled, expired_unhelped, open, on_behalf;
    bool has_first_response, has_assignment;
    uint64_t first_response, assignment; /* seconds after the request */
};

/* The month of a time, UTC, as the overview names it ("YYYY-MM"). */
void nbd_tally_month(uint64_t when, char ret[NBD_TALLY_MONTH_LEN + 1]);

/*
 * The overview's view of a request and its derived state: 1 with *ret
 * filled, or 0 for a request the overview leaves out (a retracted one is
 * gone by its author's wish).
 */
int nbd_tally_of(const struct nb_record *rec, const struct nb_state *st, struct nbd_tally *ret);

/* Adds one request (counts and delays) to the tallies.  Call inside the
 * transaction that purges it. */
int nbd_store_tally_add(struct nbd_store *s, const struct nbd_tally *t);

/*
 * The tallies of the months from `since_month` ("YYYY-MM", "" for all):
 * each cell once with its counts and no delays, then each purged request's
 * delays with zero counts.  Return 0 from cb to continue, 1 to stop.
 */
typedef int (*nbd_tally_cb)(void *ctx, const struct nbd_tally *t);
int nbd_store_foreach_tally(struct nbd_store *s, const char *since_month, nbd_tally_cb cb,
                            void *ctx);

#endif
