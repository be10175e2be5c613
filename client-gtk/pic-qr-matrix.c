/* pic-qr-matrix.c: QR code modules from libqrencode, and their pixels at an integer scale. */
#include "config.h"

#include <errno.h>
#include <gio/gio.h>
#include <qrencode.h>
#include <string.h>

#include "pic-qr-matrix.h"

PicQrMatrix *pic_qr_matrix_new(const char *text, GError **error) {
        PicQrMatrix *matrix;
        QRcode *code;
        size_t n;

        g_return_val_if_fail(text, NULL);

        code = QRcode_encodeString8bit(text, 0, QR_ECLEVEL_M);
        if (!code) {
                int e = errno;
                g_set_error(error, G_IO_ERROR, g_io_error_from_errno(e),
                            "Failed to encode %zu bytes as a QR code: %s", strlen(text), g_strerror(e));
                return NULL;
        }

        n = (size_t) code->width * (size_t) code->width;
        matrix = g_new0(PicQrMatrix, 1);
        matrix->width = code->width;
        matrix->dark = g_malloc(n);
        for (size_t i = 0; i < n; i++)
                matrix->dark[i] = code->data[i] & 1;
        QRcode_free(code);
        return matrix;
}

void pic_qr_matrix_free(PicQrMatrix *matrix) {
        if (!matrix)
                return;
        g_free(matrix->dark);
        g_free(matrix);
}

int pic_qr_matrix_full_width(const PicQrMatrix *matrix) {
        return matrix->width + 2 * PIC_QR_QUIET_ZONE;
}

GBytes *pic_qr_matrix_render(const PicQrMatrix *matrix, int scale, int *ret_side) {
        int full, side;
        guint8 *pixels;
        size_t stride;

        g_return_val_if_fail(matrix, NULL);
        g_return_val_if_fail(scale >= 1 && scale <= 64, NULL);

        full = pic_qr_matrix_full_width(matrix);
        side = full * scale;
        stride = (size_t) side * 3;
        pixels = g_malloc(stride * (size_t) side);
        memset(pixels, 0xff, stride * (size_t) side);

        for (int y = 0; y < matrix->width; y++)
                for (int x = 0; x < matrix->width; x++) {
                        if (!matrix->dark[y * matrix->width + x])
                                continue;
                        for (int dy = 0; dy < scale; dy++) {
                                size_t row = (size_t) ((y + PIC_QR_QUIET_ZONE) * scale + dy);
                                size_t col = (size_t) ((x + PIC_QR_QUIET_ZONE) * scale);
                                memset(pixels + row * stride + col * 3, 0, (size_t) scale * 3);
                        }
                }

        if (ret_side)
                *ret_side = side;
        return g_bytes_new_take(pixels, stride * (size_t) side);
}
