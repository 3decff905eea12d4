#include "daemon/store/store_tally.h"

#include <stdio.h>
#include <string.h>
#include <time.h>

#include <sqlite3.h>

#include <noaber/error.h>

void nbd_tally_month(uint64_t when, char ret[NBD_TALLY_MONTH_LEN + 1])
{
    time_t t = (time_t)(when > INT64_MAX ? INT64_MAX : when);
    struct tm tm;
    /* A year past 9999 (a device with a broken clock) folds into four
     * digits rather than overflowing the cell's name; a time gmtime cannot
     * place sorts after every month. */
    if (gmtime_r(&t, &tm) == NULL)
        snprintf(ret, NBD_TALLY_MONTH_LEN + 1, "9999-99");
    else
        snprintf(ret, NBD_TALLY_MONTH_LEN + 1, "%04u-%02u", (unsigned)(tm.tm_year + 1900) % 10000u,
                 (unsigned)(tm.tm_mon + 1) % 100u);
}

int nbd_tally_of(const struct nb_record *rec, const struct nb_state *st, struct nbd_tally *ret)
{
    if (st->retraction.present)
        return 0;
    memset(ret, 0, sizeof(*ret));
    nbd_tally_month(rec->created_at, ret->month);
    snprintf(ret->category, sizeof(ret->category), "%s",
             NB_HAS(rec, NB_F_CATEGORY) ? nb_category_name(rec->category) : "other");
    snprintf(ret->area, sizeof(ret->area), "%.*s", (int)rec->area.len, rec->area.ptr);
    ret->posted = 1;
    ret->on_behalf = NB_HAS(rec, NB_F_ON_BEHALF_OF);
    if (st->has_assignee)
        ret->helped = 1;
    else if (st->status == NB_STATUS_CANCELLED)
        ret->cancelled = 1;
    else if (st->status == NB_STATUS_EXPIRED)
        ret->expired_unhelped = 1;
    else
        ret->open = 1;
    if (st->n_responses > 0 && st->responses[0].created_at >= st->created_at) {
        ret->has_first_response = true;
        ret->first_response = st->responses[0].created_at - st->created_at;
    }
    if (st->assignment.present && st->assignment.created_at >= st->created_at) {
        ret->has_assignment = true;
        ret->assignment = st->assignment.created_at - st->created_at;
    }
    return 1;
}

static int run(sqlite3_stmt *st)
{
    int rc = sqlite3_step(st);
    return rc == SQLITE_DONE ? 0 : NB_EIO;
}

static void bind_cell(sqlite3_stmt *st, const struct nbd_tally *t)
{
    sqlite3_bind_text(st, 1, t->month, -1, SQLITE_STATIC);
    sqlite3_bind_text(st, 2, t->category, -1, SQLITE_STATIC);
    sqlite3_bind_text(st, 3, t->area, -1, SQLITE_STATIC);
}

int nbd_store_tally_add(struct nbd_store *s, const struct nbd_tally *t)
{
    sqlite3 *db = nbd_store_db(s);
    sqlite3_stmt *st = NULL;
    int r = NB_EIO;
    if (sqlite3_prepare_v2(
            db,
            "INSERT INTO report_tallies(month, category, area, posted, helped,"
            " cancelled, expired_unhelped, open, on_behalf)"
            " VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9)"
            " ON CONFLICT(month, category, area) DO UPDATE SET"
            " posted = posted + excluded.posted, helped = helped + excluded.helped,"
            " cancelled = cancelled + excluded.cancelled,"
            " expired_unhelped = expired_unhelped + excluded.expired_unhelped,"
            " open = open + excluded.open, on_behalf = on_behalf + excluded.on_behalf",
            -1, &st, NULL) != SQLITE_OK)
        goto out;
    bind_cell(st, t);
    const uint64_t counts[] = { t->posted,           t->helped, t->cancelled,
                                t->expired_unhelped, t->open,   t->on_behalf };
    for (int i = 0; i < 6; i++)
        sqlite3_bind_int64(st, 4 + i, (sqlite3_int64)counts[i]);
    r = run(st);
    sqlite3_finalize(st);
    st = NULL;
    if (r < 0 || (!t->has_first_response && !t->has_assignment))
        goto out;
    r = NB_EIO;
    if (sqlite3_prepare_v2(db,
                           "INSERT INTO report_delays(month, category, area, first_response,"
                           " assignment) VALUES (?1, ?2, ?3, ?4, ?5)",
                           -1, &st, NULL) != SQLITE_OK)
        goto out;
    bind_cell(st, t);
    if (t->has_first_response)
        sqlite3_bind_int64(st, 4, (sqlite3_int64)t->first_response);
    if (t->has_assignment)
        sqlite3_bind_int64(st, 5, (sqlite3_int64)t->assignment);
    r = run(st);
out:
    sqlite3_finalize(st);
    return r;
}

static void column_text(sqlite3_stmt *st, int col, char *buf, size_t size)
{
    const unsigned char *text = sqlite3_column_text(st, col);
    snprintf(buf, size, "%s", text != NULL ? (const char *)text : "");
}

int nbd_store_foreach_tally(struct nbd_store *s, const char *since_month, nbd_tally_cb cb,
                            void *ctx)
{
    static const char *const sql[] = {
        "SELECT month, category, area, posted, helped, cancelled, expired_unhelped, open,"
        " on_behalf FROM report_tallies WHERE month >= ?1 ORDER BY month, category, area",
        "SELECT month, category, area, first_response, assignment FROM report_delays"
        " WHERE month >= ?1 ORDER BY rowid",
    };
    int r = 0;
    for (size_t q = 0; q < 2 && r == 0; q++) {
        sqlite3_stmt *st = NULL;
        if (sqlite3_prepare_v2(nbd_store_db(s), sql[q], -1, &st, NULL) != SQLITE_OK)
            return NB_EIO;
        sqlite3_bind_text(st, 1, since_month, -1, SQLITE_STATIC);
        for (;;) {
            int rc = sqlite3_step(st);
            if (rc == SQLITE_DONE)
                break;
            if (rc != SQLITE_ROW) {
                r = NB_EIO;
                break;
            }
            struct nbd_tally t;
            memset(&t, 0, sizeof(t));
            column_text(st, 0, t.month, sizeof(t.month));
            column_text(st, 1, t.category, sizeof(t.category));
            column_text(st, 2, t.area, sizeof(t.area));
            if (q == 0) {
                uint64_t *counts[] = { &t.posted,           &t.helped, &t.cancelled,
                                       &t.expired_unhelped, &t.open,   &t.on_behalf };
                for (int i = 0; i < 6; i++)
                    *counts[i] = (uint64_t)sqlite3_column_int64(st, 3 + i);
            } else {
                t.has_first_response = sqlite3_column_type(st, 3) != SQLITE_NULL;
                t.first_response = (uint64_t)sqlite3_column_int64(st, 3);
                t.has_assignment = sqlite3_column_type(st, 4) != SQLITE_NULL;
                t.assignment = (uint64_t)sqlite3_column_int64(st, 4);
            }
            r = cb(ctx, &t);
            if (r != 0)
                break;
        }
        sqlite3_finalize(st);
    }
    return r < 0 ? r : 0;
}
