/* bus-util.c: error conversion and argument limits for the D-Bus faces. */
#include <errno.h>
#include <string.h>

#include "bus-util.h"
#include "pic-error.h"

int bus_error_from_gerror(sd_bus_error *ret_error, const GError *error) {
        return sd_bus_error_set(ret_error, pic_error_to_dbus_name(error), error->message);
}

int bus_check_string(const char *value, const char *what, sd_bus_error *ret_error) {
        size_t len = strlen(value);

        if (len > BUS_MAX_STRING)
                return sd_bus_error_setf(ret_error, "org.pic.Cell1.Error.InvalidArgument",
                                         "%s: %zu bytes is longer than the %d allowed",
                                         what, len, BUS_MAX_STRING);
        return 0;
}
