/* endpoint.h: working out the address other cells reach this one at, when the
 * admin left Endpoint=auto. */
#pragma once

#include <stdbool.h>
#include <stdint.h>
#include <glib.h>

/* The address other cells should reach this host at: that of
 * NetworkManager's primary connection when NetworkManager runs, else the
 * source address of the default route. Waits about a second at most for
 * NetworkManager and reuses its answer for a few seconds. Errors:
 * PIC_ERROR_FAILED telling the admin to set Endpoint. */
bool endpoint_detect_host(char **ret_host, GError **error);

/* Where the NetworkManager module (libpic-celld-nm.so) is looked for, instead
 * of MODULEDIR: for tests running from the build tree. Call before the first
 * endpoint_detect_host(). */
void endpoint_set_module_dir(const char *dir);
