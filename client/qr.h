/*
 * QR codes for what is handed over in person (client/qr.c): invite codes,
 * welcome links, the page's address on a printed sheet.
 */
#ifndef NOABER_CLIENT_QR_H
#define NOABER_CLIENT_QR_H

#include <stdbool.h>
#include <stdio.h>

#include "common/qr.h"

/*
 * Draws `text` at level L: on the terminal in Unicode half blocks, or as an
 * inline SVG element `size` wide and high (a CSS length such as "6cm").
 * Returns EXIT_OK or EXIT_ERROR (printed).
 */
int qr_print_terminal(const char *text, FILE *out);
int qr_write_svg(const char *text, const char *size, FILE *out);

#endif
