/*
 * `noaber sheet`: a printable weekly sheet of open requests and available
 * offers for a noticeboard, as a PDF drawn with Cairo: area, category and
 * urgency only (never a title, a name or a key), a QR code to the
 * neighbourhood's page and the coordinator's phone number, so that people
 * without internet can ask or help by phone.
 *
 * Every sentence a reader sees is in `sheet_en` below: when gettext
 * catalogs exist, the sheet takes its texts from them instead.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <cairo-pdf.h>
#include <cairo.h>
#include <fontconfig/fontconfig.h>

#include "care.h"
#include "qr.h"

struct sheet_text {
    const char *title;    /* "Help wanted and offered in {}" */
    const char *week;     /* "Week of {}" */
    const char *requests; /* heading */
    const char *offers;   /* heading */
    const char *none;     /* an empty list */
    const char *call;     /* "To help or to ask for help, phone {}" */
    const char *scan;     /* under the QR code */
    const char *privacy;  /* why there are no names */
    const char *col_area, *col_category, *col_urgency;
    const char *any_urgency;
};

static const struct sheet_text sheet_en = {
    .title = "Help wanted and offered in {}",
    .week = "Week of {}",
    .requests = "Neighbours who need help",
    .offers = "Neighbours who offer help",
    .none = "Nothing open this week.",
    .call = "To help or to ask for help, phone {}",
    .scan = "Or scan this to open the neighbourhood's page",
    .privacy = "No names or addresses here: the coordinator puts you in touch.",
    .col_area = "Area",
    .col_category = "Category",
    .col_urgency = "When",
    .any_urgency = "whenever",
};

int list_open(struct ctx *ctx, const char *kind, const char *status, list_open_fn fn, void *arg)
{
    struct ctl_req req;
    struct ctl_reply reply;
    const msgpack_object *items;
    int rc;

    ctl_req_begin(&ctx->ctl, &req, NB_CTL_OP_LIST, 3);
    ctl_req_str(&req, "kind", kind);
    ctl_req_str(&req, "status", status);
    ctl_req_uint(&req, "limit", NB_CTL_LIST_MAX);
    rc = call_list(ctx, &req, &reply, "the list", &items);
    if (rc != EXIT_OK) {
        return rc;
    }
    for (uint32_t i = 0; i < items->via.array.size && rc == EXIT_OK; i++) {
        const msgpack_object *it = &items->via.array.ptr[i];
        const uint8_t *bytes;
        size_t len;
        struct nb_record rec;
        uint8_t id[NB_ID_SIZE];
        if (ctl_get_bin(it, "record", &bytes, &len) == 0 &&
            ctl_get_bin_exact(it, "id", id, NB_ID_SIZE) == 0 &&
            nb_record_decode(bytes, len, &rec) == 0) {
            rc = fn(arg, &rec, id);
        }
    }
    ctl_reply_free(&reply);
    return rc;
}

int draw_qr(cairo_t *cr, const char *text, double x, double y, double side)
{
    /* Level M: paper gets folded and stained. */
    QRcode *qr = qr_encode(text, QR_ECLEVEL_M);
    if (qr == NULL) {
        return fail(EXIT_ERROR, "the page address is too long for a QR code.");
    }
    int modules = qr->width + 2 * QR_QUIET_ZONE;
    double m = side / modules;
    cairo_set_source_rgb(cr, 0, 0, 0);
    for (int r = 0; r < modules; r++) {
        for (int c = 0; c < modules; c++) {
            if (qr_dark(qr, c, r)) {
                cairo_rectangle(cr, x + c * m, y + r * m, m, m);
            }
        }
    }
    cairo_fill(cr);
    qr_free(qr);
    return EXIT_OK;
}

/*
 * A sentence with its one value put in place of "{}": translations may put
 * the value anywhere, and a template is never used as a printf format.
 */
static void fill(char *buf, size_t size, const char *tmpl, const char *value)
{
    const char *at = strstr(tmpl, "{}");
    if (at == NULL) {
        snprintf(buf, size, "%s", tmpl);
    } else {
        snprintf(buf, size, "%.*s%s%s", (int)(at - tmpl), tmpl, value, at + 2);
    }
}

void drawing_done(void)
{
    /* Cairo and fontconfig keep font caches for the life of the process;
     * a command draws once, so it hands them back (and the leak checker
     * of ./dev test --sanitize sees nothing left). */
    cairo_debug_reset_static_data();
    FcFini();
}

struct sheet {
    cairo_t *cr;
    double y;
    size_t n;
    const struct sheet_text *t;
};

static void text_at(cairo_t *cr, double x, double y, double size, bool bold, const char *s)
{
    cairo_select_font_face(cr, "sans-serif", CAIRO_FONT_SLANT_NORMAL,
                           bold ? CAIRO_FONT_WEIGHT_BOLD : CAIRO_FONT_WEIGHT_NORMAL);
    cairo_set_font_size(cr, size);
    cairo_move_to(cr, x, y);
    cairo_show_text(cr, s);
}

/* One line of the sheet: area, category, urgency, nothing else. */
static int sheet_line(void *arg, const struct nb_record *rec, const uint8_t id[NB_ID_SIZE])
{
    struct sheet *s = arg;
    char area[NB_AREA_MAX + 1], urgency[32];
    (void)id;
    if (s->y > 640) {
        return EXIT_OK; /* one page: the rest is on the neighbourhood's page */
    }
    snprintf(area, sizeof(area), "%.*s", (int)rec->area.len, rec->area.ptr);
    if (NB_HAS(rec, NB_F_URGENCY)) {
        spelled(nb_urgency_name(rec->urgency), urgency, sizeof(urgency));
    } else {
        snprintf(urgency, sizeof(urgency), "%s", s->t->any_urgency);
    }
    cairo_set_source_rgb(s->cr, 0, 0, 0);
    text_at(s->cr, 60, s->y, 13, false, area);
    text_at(s->cr, 250, s->y, 13, false, nb_category_name(rec->category));
    text_at(s->cr, 400, s->y, 13, false, urgency);
    s->y += 20;
    s->n++;
    return EXIT_OK;
}

static int sheet_section(struct ctx *ctx, struct sheet *s, const char *heading, const char *kind,
                         const char *status)
{
    text_at(s->cr, 50, s->y, 16, true, heading);
    s->y += 22;
    text_at(s->cr, 60, s->y, 11, true, s->t->col_area);
    text_at(s->cr, 250, s->y, 11, true, s->t->col_category);
    text_at(s->cr, 400, s->y, 11, true, s->t->col_urgency);
    s->y += 18;
    s->n = 0;
    int rc = list_open(ctx, kind, status, sheet_line, s);
    if (rc == EXIT_OK && s->n == 0) {
        text_at(s->cr, 60, s->y, 13, false, s->t->none);
        s->y += 20;
    }
    s->y += 16;
    return rc;
}

int cmd_sheet(struct ctx *ctx, int argc, char **argv)
{
    const char *out = NULL, *page = NULL, *phone = NULL;
    const struct opt opts[] = {
        { "out", &out, NULL },
        { "page", &page, NULL },
        { "phone", &phone, NULL },
        { NULL, NULL, NULL },
    };
    const struct sheet_text *t = &sheet_en;
    char line[512], day[32], my_phone[CASE_FIELD_MAX + 1] = "";
    struct sheet s;
    int rc = parse_args(ctx, argc, argv, opts, NULL, 0, 0,
                        "sheet --out FILE.pdf [--page URL] [--phone NUMBER]");
    if (rc != 0) {
        return rc;
    }
    if (out == NULL) {
        return fail(EXIT_USAGE, "sheet needs --out FILE.pdf, the file to print.");
    }
    if (page == NULL) {
        page = getenv("NOABER_PAGE_URL");
    }
    /* The coordinator's number: --phone, else the one in their caseload. */
    if (phone == NULL && identity_try_load(ctx)) {
        struct caseload cl;
        if (caseload_load(ctx, &cl) == EXIT_OK) {
            snprintf(my_phone, sizeof(my_phone), "%s", cl.my_phone);
            caseload_free(&cl);
        }
        if (my_phone[0] != '\0') {
            phone = my_phone;
        }
    }
    if (phone == NULL) {
        return fail(EXIT_USAGE,
                    "the sheet needs a phone number to call: --phone NUMBER, or set yours once "
                    "with `noaber people --my-phone NUMBER`.");
    }
    rc = text_option("--phone", phone, 1, CASE_FIELD_MAX, false);
    if (rc == EXIT_OK) {
        rc = text_option("--page", page, 1, 400, false);
    }
    if (rc == EXIT_OK) {
        rc = session_open(ctx, true);
    }
    if (rc != EXIT_OK) {
        return rc;
    }

    cairo_surface_t *surf = cairo_pdf_surface_create(out, 595, 842); /* A4 in points */
    if (cairo_surface_status(surf) != CAIRO_STATUS_SUCCESS) {
        cairo_surface_destroy(surf);
        return fail(EXIT_ERROR, "cannot write %s.", out);
    }
    s.cr = cairo_create(surf);
    s.t = t;
    s.y = 70;
    cairo_set_source_rgb(s.cr, 0, 0, 0);
    fill(line, sizeof(line), t->title, ctx->neighbourhood);
    text_at(s.cr, 50, s.y, 22, true, line);
    {
        time_t now = (time_t)ctx->now;
        struct tm tm;
        localtime_r(&now, &tm);
        strftime(day, sizeof(day), "%Y-%m-%d", &tm);
    }
    fill(line, sizeof(line), t->week, day);
    s.y += 24;
    text_at(s.cr, 50, s.y, 13, false, line);
    s.y += 36;
    rc = sheet_section(ctx, &s, t->requests, "request", "open");
    if (rc == EXIT_OK) {
        rc = sheet_section(ctx, &s, t->offers, "offer", "available");
    }
    if (rc == EXIT_OK) {
        fill(line, sizeof(line), t->call, phone);
        text_at(s.cr, 50, 700, 16, true, line);
        text_at(s.cr, 50, 722, 11, false, t->privacy);
        if (page != NULL) {
            text_at(s.cr, 50, 760, 11, false, t->scan);
            text_at(s.cr, 50, 778, 11, false, page);
            rc = draw_qr(s.cr, page, 430, 680, 120);
        }
    }
    cairo_show_page(s.cr);
    cairo_destroy(s.cr);
    cairo_surface_finish(surf);
    if (rc == EXIT_OK && cairo_surface_status(surf) != CAIRO_STATUS_SUCCESS) {
        rc = fail(EXIT_ERROR, "cannot write %s.", out);
    }
    cairo_surface_destroy(surf);
    drawing_done();
    if (rc == EXIT_OK && ctx->json) {
        json_object_begin(&ctx->j);
        json_key(&ctx->j, "out");
        json_string(&ctx->j, out);
        json_object_end(&ctx->j);
        json_finish(&ctx->j);
    } else if (rc == EXIT_OK) {
        printf("Wrote the sheet to %s: areas, categories and urgencies only, no names.\n", out);
    }
    return rc;
}
