/*
 * QR codes (common/qr.h): libqrencode in byte mode, drawn as SVG with one
 * rectangle per run of dark modules.
 */
#include "common/qr.h"

#include <string.h>

#include <sodium.h>

QRcode *qr_encode(const char *text, QRecLevel level)
{
    /* Byte mode alone (QRcode_encodeString would switch to numeric mode
     * for runs of digits) keeps the text exactly as it was given and as
     * `qrencode -8` draws it. */
    return QRcode_encodeData((int)strlen(text), (const unsigned char *)text, 0, level);
}

void qr_free(QRcode *qr)
{
    sodium_memzero(qr->data, (size_t)qr->width * (size_t)qr->width);
    QRcode_free(qr);
}

bool qr_dark(const QRcode *qr, int x, int y)
{
    int mx = x - QR_QUIET_ZONE, my = y - QR_QUIET_ZONE;
    return mx >= 0 && mx < qr->width && my >= 0 && my < qr->width &&
           (qr->data[my * qr->width + mx] & 1) != 0;
}

int qr_svg(const char *text, QRecLevel level, const char *size, FILE *out)
{
    QRcode *qr = qr_encode(text, level);
    if (qr == NULL) {
        return -1;
    }
    int side = qr->width + 2 * QR_QUIET_ZONE;
    fprintf(out,
            "<svg xmlns=\"http://www.w3.org/2000/svg\" viewBox=\"0 0 %d %d\" width=\"%s\" "
            "height=\"%s\" shape-rendering=\"crispEdges\" role=\"img\" "
            "aria-label=\"QR code\">"
            "<rect width=\"%d\" height=\"%d\" fill=\"#fff\"/><path fill=\"#000\" d=\"",
            side, side, size, size, side, side);
    /* One rectangle per horizontal run of dark modules keeps the file small. */
    for (int y = 0; y < side; y++) {
        for (int x = 0; x < side;) {
            if (!qr_dark(qr, x, y)) {
                x++;
                continue;
            }
            int run = 1;
            while (x + run < side && qr_dark(qr, x + run, y)) {
                run++;
            }
            fprintf(out, "M%d %dh%dv1h-%dz", x, y, run, run);
            x += run;
        }
    }
    fputs("\"/></svg>", out);
    qr_free(qr);
    return 0;
}
