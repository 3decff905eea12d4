/*
 * QR codes for what is handed over in person (client/qr.c): invite codes,
 * welcome links, the page's address on a printed sheet.
 */
#ifndef NOABER_CLIENT_QR_H
#define NOABER_CLIENT_QR_H

#include <stdbool.h>
#include <stdio.h>

#include <qrencode.h>

/* Light modules around the code, as the QR specification asks for. */
#define QR_QUIET_ZONE 4

/* `text` in byte mode at `level`, or NULL; free it with qr_free. */
QRcode *qr_encode(const char *text, QRecLevel level);
/* Frees a code and wipes its modules: they may spell a secret (a
 * neighbourhood key, a welcome token). */
void qr_free(QRcode *qr);
/* Whether the module at (x, y), counted from the quiet zone's corner (so
 * 0 .. width + 2 * QR_QUIET_ZONE - 1), is dark. */
bool qr_dark(const QRcode *qr, int x, int y);

/*
 * Draws `text` at level L: on the terminal in Unicode half blocks, or as an
 * inline SVG element `size` wide and high (a CSS length such as "6cm").
 * Returns EXIT_OK or EXIT_ERROR (printed).
 */
int qr_print_terminal(const char *text, FILE *out);
int qr_write_svg(const char *text, const char *size, FILE *out);

#endif
