/* pic-qr-code.h: a widget showing text as a QR code, crisp at every size. */
#pragma once

#include <gtk/gtk.h>

#define PIC_TYPE_QR_CODE (pic_qr_code_get_type())
G_DECLARE_FINAL_TYPE(PicQrCode, pic_qr_code, PIC, QR_CODE, GtkWidget)

GtkWidget *pic_qr_code_new(void);
void pic_qr_code_set_text(PicQrCode *self, const char *text);
const char *pic_qr_code_get_text(PicQrCode *self);
