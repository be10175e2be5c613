/* endpoint.h: working out the address other cells reach this one at, when the
 * admin left Endpoint=auto. */
#pragma once

#include <stdbool.h>
#include <stdint.h>
#include <glib.h>

/* The source address this host would use towards the internet, i.e. that of
 * its default route. Errors: PIC_ERROR_FAILED telling the admin to set Endpoint. */
bool endpoint_detect_host(char **ret_host, GError **error);
