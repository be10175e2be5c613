/* pic-error.c: the PIC_ERROR domain and its mapping to D-Bus error names. */
#include "pic-error.h"

G_DEFINE_QUARK(pic-error-quark, pic_error)

const char *pic_error_to_dbus_name(const GError *error) {
        static const char *const names[] = {
                [PIC_ERROR_INVALID_ARGUMENT] = "org.pic.Cell1.Error.InvalidArgument",
                [PIC_ERROR_INVALID_INVITE] = "org.pic.Cell1.Error.InvalidInvite",
                [PIC_ERROR_CONFLICT] = "org.pic.Cell1.Error.Conflict",
                [PIC_ERROR_NOT_FOUND] = "org.pic.Cell1.Error.NotFound",
                [PIC_ERROR_NOT_OFFERED] = "org.pic.Cell1.Error.NotOffered",
                [PIC_ERROR_UNREACHABLE] = "org.pic.Cell1.Error.Unreachable",
                [PIC_ERROR_FAILED] = "org.pic.Cell1.Error.Failed",
                [PIC_ERROR_LIMIT_EXCEEDED] = "org.pic.Cell1.Error.LimitExceeded",
                [PIC_ERROR_NOT_AUTHORIZED] = "org.pic.Cell1.Error.NotAuthorized",
        };

        if (error && error->domain == PIC_ERROR && error->code >= 0 &&
            (size_t) error->code < G_N_ELEMENTS(names))
                return names[error->code];
        return "org.pic.Cell1.Error.Failed";
}
