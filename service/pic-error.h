/* pic-error.h: the error domain every layer of pic-celld reports in; its codes
 * are the D-Bus errors of DESIGN §4, so a message written for the admin deep in
 * the model reaches the D-Bus caller unchanged. */
#pragma once

#include <glib.h>

#define PIC_ERROR (pic_error_quark())

typedef enum {
        PIC_ERROR_INVALID_ARGUMENT,
        PIC_ERROR_INVALID_INVITE,
        PIC_ERROR_CONFLICT,
        PIC_ERROR_NOT_FOUND,
        PIC_ERROR_NOT_OFFERED,
        PIC_ERROR_UNREACHABLE,
        PIC_ERROR_FAILED,
        PIC_ERROR_LIMIT_EXCEEDED,
        PIC_ERROR_NOT_AUTHORIZED,   /* a remote cell failed authentication */
} PicError;

GQuark pic_error_quark(void);

/* The D-Bus error name for @error: ours for PIC_ERROR, org.pic.Cell1.Error.Failed
 * for anything else. */
const char *pic_error_to_dbus_name(const GError *error);
