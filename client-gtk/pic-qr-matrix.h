/* pic-qr-matrix.h: QR code modules from libqrencode, and their pixels at an integer scale. */
#pragma once

#include <glib.h>

#define PIC_QR_QUIET_ZONE 4 /* modules of light border the standard asks for */

typedef struct {
        int width;              /* modules per side, without the quiet zone */
        guint8 *dark;           /* width * width booleans, row by row */
} PicQrMatrix;

/* Encodes @text as 8-bit data, error correction level M. */
PicQrMatrix *pic_qr_matrix_new(const char *text, GError **error);
void pic_qr_matrix_free(PicQrMatrix *matrix);
G_DEFINE_AUTOPTR_CLEANUP_FUNC(PicQrMatrix, pic_qr_matrix_free)

/* Modules per side with the quiet zone on both sides. */
int pic_qr_matrix_full_width(const PicQrMatrix *matrix);

/* Opaque RGB pixels (3 bytes each, black on white), @scale pixels per module,
 * quiet zone included: every module is an exact square, so nothing is ever
 * interpolated. Returns the side length in pixels; the row stride is 3 * side. */
GBytes *pic_qr_matrix_render(const PicQrMatrix *matrix, int scale, int *ret_side);
