/* private-key.h: the cell's WireGuard private key in private.key (base64, one
 * line, mode 0600), created on first start. */
#pragma once

#include <stdbool.h>
#include <glib.h>

#include "wg-key.h"

/* Reads @path, or creates it with a fresh key when it does not exist. A file
 * that exists but does not hold a key is an error and is left alone. */
bool private_key_load_or_create(const char *path, WgKey *ret_private, WgKey *ret_public, GError **error);
