/*
 * QR codes for what is handed over in person or on paper: invite codes,
 * welcome links (noaber), the page's address on a printed sheet (noaber and
 * noaber-web).  One encoding and one SVG drawing for both programs.
 */
#ifndef NOABER_COMMON_QR_H
#define NOABER_COMMON_QR_H

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
 * Writes `text` at `level` as one SVG element `size` wide and high (a CSS
 * length such as "6cm" or "100%").  Returns 0, or -1 when libqrencode
 * cannot encode it (too long); nothing is written then.
 */
int qr_svg(const char *text, QRecLevel level, const char *size, FILE *out);

#endif
