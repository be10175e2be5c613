/* sodium-ready.h: libsodium initialised once for the whole process. */
#pragma once

#include <stdbool.h>
#include <glib.h>

/* Initialises libsodium on first use; safe from any thread. Errors:
 * PIC_ERROR_FAILED when the library cannot start (no usable random source). */
bool sodium_ready(GError **error);
