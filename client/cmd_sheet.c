/*
 * `noaber sheet`: a printable weekly sheet of open requests and available
 * offers for a noticeboard, as a PDF drawn with Cairo: area, category and
 * urgency only (never a title, a name or a key), a QR code to the
 * neighbourhood's page and the coordinator's phone number, so that people
 * without internet can ask or help by phone.
 *
 * Every sentence a reader sees comes from the gettext catalogs (po/), in
 * the language of LANGUAGE or LC_MESSAGES.  The text is drawn with Cairo's
 * own simple text functions, which place one glyph after another and cannot
 * join Arabic letters or lay a line out from right to left: a language
 * written right to left is refused with a clear message rather than printed
 * as broken glyphs (the page prints the sheet in Arabic).
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <cairo-pdf.h>
#include <cairo.h>
#include <fontconfig/fontconfig.h>

#include "care.h"
#include "i18n.h"
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
};

/*
 * The sheet's sentences in the language of LANGUAGE / LC_MESSAGES, from the
 * same catalogs as the rest of noaber (docs/i18n.md); "{}" marks where the
 * value goes.
 */
static void sheet_text_load(struct sheet_text *t)
{
    t->title = P_("cli_sheet_title", "Help wanted and offered in {}");
    t->week = P_("cli_sheet_week", "Week of {}");
    t->requests = P_("cli_sheet_requests", "Neighbours who need help");
    t->offers = P_("cli_sheet_offers", "Neighbours who offer help");
    t->none = P_("cli_sheet_none", "Nothing open this week.");
    t->call = P_("cli_sheet_call", "To help or to ask for help, phone {}");
    t->scan = P_("cli_sheet_scan", "Or scan this to open the neighbourhood's page");
    t->privacy =
        P_("cli_sheet_privacy", "No names or addresses here: the coordinator puts you in touch.");
    t->col_area = P_("cli_sheet_area", "Area");
    t->col_category = P_("cli_sheet_category", "Category");
    t->col_urgency = P_("cli_sheet_when", "When");
}

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

/*
 * Draws `s` at (x, y), at `size` points or smaller so that it fits in
 * `width` points: translations are longer than the English, and a sentence
 * must not run under the QR code or the next column.
 */
static void text_at(cairo_t *cr, double x, double y, double size, bool bold, const char *s,
                    double width)
{
    cairo_text_extents_t ext;
    cairo_select_font_face(cr, "sans-serif", CAIRO_FONT_SLANT_NORMAL,
                           bold ? CAIRO_FONT_WEIGHT_BOLD : CAIRO_FONT_WEIGHT_NORMAL);
    cairo_set_font_size(cr, size);
    cairo_text_extents(cr, s, &ext);
    if (ext.x_advance > width) {
        cairo_set_font_size(cr, size * width / ext.x_advance);
    }
    cairo_move_to(cr, x, y);
    cairo_show_text(cr, s);
}

/* One line of the sheet: area, category, urgency, nothing else. */
static int sheet_line(void *arg, const struct nb_record *rec, const uint8_t id[NB_ID_SIZE])
{
    struct sheet *s = arg;
    char area[NB_AREA_MAX + 1], urgency[32], category[32];
    (void)id;
    if (s->y > 640) {
        return EXIT_OK; /* one page: the rest is on the neighbourhood's page */
    }
    snprintf(area, sizeof(area), "%.*s", (int)rec->area.len, rec->area.ptr);
    /* The words of the catalogs, as `noaber show` says them (English:
     * the option's spelling). */
    const char *u = NB_HAS(rec, NB_F_URGENCY) ? nb_urgency_name(rec->urgency) : "whenever";
    spelled(u, urgency, sizeof(urgency));
    spelled(nb_category_name(rec->category), category, sizeof(category));
    const char *urgency_word = i18n_word("cli_urgency_", u, urgency);
    const char *category_word =
        i18n_word("cli_category_", nb_category_name(rec->category), category);
    cairo_set_source_rgb(s->cr, 0, 0, 0);
    text_at(s->cr, 60, s->y, 13, false, area, 180);
    text_at(s->cr, 250, s->y, 13, false, category_word, 140);
    text_at(s->cr, 400, s->y, 13, false, urgency_word, 145);
    s->y += 20;
    s->n++;
    return EXIT_OK;
}

static int sheet_section(struct ctx *ctx, struct sheet *s, const char *heading, const char *kind,
                         const char *status)
{
    text_at(s->cr, 50, s->y, 16, true, heading, 495);
    s->y += 22;
    text_at(s->cr, 60, s->y, 11, true, s->t->col_area, 180);
    text_at(s->cr, 250, s->y, 11, true, s->t->col_category, 140);
    text_at(s->cr, 400, s->y, 11, true, s->t->col_urgency, 145);
    s->y += 18;
    s->n = 0;
    int rc = list_open(ctx, kind, status, sheet_line, s);
    if (rc == EXIT_OK && s->n == 0) {
        text_at(s->cr, 60, s->y, 13, false, s->t->none, 485);
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
    struct sheet_text text;
    const struct sheet_text *t = &text;
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
    /* The catalog says which way its language is written ("dir"). */
    if (strcmp(P_("dir", "ltr"), "rtl") == 0) {
        return fail(EXIT_USAGE,
                    "the sheet cannot be drawn in a language written right to left yet: noaber "
                    "draws it with Cairo's simple text functions, which cannot join Arabic "
                    "letters.  Print it from the page (You, Coordinator, The sheet for the "
                    "noticeboard), or run noaber sheet with LANGUAGE=nl, fr or en.");
    }
    sheet_text_load(&text);
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
    text_at(s.cr, 50, s.y, 22, true, line, 495);
    {
        time_t now = (time_t)ctx->now;
        struct tm tm;
        localtime_r(&now, &tm);
        strftime(day, sizeof(day), "%Y-%m-%d", &tm);
    }
    fill(line, sizeof(line), t->week, day);
    s.y += 24;
    text_at(s.cr, 50, s.y, 13, false, line, 495);
    s.y += 36;
    rc = sheet_section(ctx, &s, t->requests, "request", "open");
    if (rc == EXIT_OK) {
        rc = sheet_section(ctx, &s, t->offers, "offer", "available");
    }
    if (rc == EXIT_OK) {
        fill(line, sizeof(line), t->call, phone);
        text_at(s.cr, 50, 700, 16, true, line, 370);
        text_at(s.cr, 50, 722, 11, false, t->privacy, 370);
        if (page != NULL) {
            text_at(s.cr, 50, 760, 11, false, t->scan, 370);
            text_at(s.cr, 50, 778, 11, false, page, 370);
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
