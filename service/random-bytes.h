/* random-bytes.h: bytes from the kernel's random generator for keys, pairing
 * secrets and nonces. */
#pragma once

#include <stdbool.h>
#include <stddef.h>
#include <glib.h>

/* Fills @buf with @len random bytes, blocking only until the kernel's pool is
 * first initialised. Errors: PIC_ERROR_FAILED with the kernel's reason; @buf
 * may then hold a partial result and must not be used. */
bool random_bytes(void *buf, size_t len, GError **error);
