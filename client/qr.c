/*
 * QR codes for things handed over in person: an invite code (`noaber invite
 * --qr`) and a welcome link (`noaber welcome --qr`, `--print`).  One
 * encoding, drawn either on the terminal or as SVG for a printed page.
 */
#include <stdio.h>
#include <string.h>

#include <noaber/error.h>

#include "client.h"
#include "qr.h"

int qr_print_terminal(const char *text, FILE *out)
{
    /* Level L: a screen is not a damaged label. */
    QRcode *qr = qr_encode(text, QR_ECLEVEL_L);
    if (qr == NULL) {
        return fail(EXIT_ERROR, "the code cannot be drawn as a QR code (libqrencode failed).");
    }
    /* Two rows of modules per line with the Unicode half blocks.  Light
     * modules are printed as blocks and dark ones as spaces, so that on a
     * terminal with light text on a dark background the code appears dark
     * on light, as scanners expect.  Below the last row is light. */
    int side = qr->width + 2 * QR_QUIET_ZONE;
    for (int y = 0; y < side; y += 2) {
        for (int x = 0; x < side; x++) {
            bool top = !qr_dark(qr, x, y), bottom = !qr_dark(qr, x, y + 1);
            fputs(top && bottom ? "\u2588" : top ? "\u2580" : bottom ? "\u2584" : " ", out);
        }
        fputc('\n', out);
    }
    qr_free(qr);
    return EXIT_OK;
}

int qr_write_svg(const char *text, const char *size, FILE *out)
{
    if (qr_svg(text, QR_ECLEVEL_L, size, out) != 0) {
        return fail(EXIT_ERROR, "the link cannot be drawn as a QR code (libqrencode failed).");
    }
    return EXIT_OK;
}
