/* wg-key.h: WireGuard (Curve25519) keys: generation, public-key derivation and
 * the base64 and hex forms that wg(8) and the UAPI protocol speak. */
#pragma once

#include <stdbool.h>
#include <stdint.h>
#include <glib.h>

#define WG_KEY_LEN 32
#define WG_KEY_B64_LEN 44 /* without the terminating NUL */

typedef struct {
        uint8_t bytes[WG_KEY_LEN];
} WgKey;

/* A fresh clamped private key from the kernel's CSPRNG and its public key. */
bool wg_key_generate(WgKey *ret_private, WgKey *ret_public, GError **error);
/* The public key of @private_key, as `wg pubkey` computes it. */
bool wg_key_public_from_private(const WgKey *private_key, WgKey *ret_public, GError **error);

/* Base64 of exactly 32 bytes (44 characters, one '=' of padding).
 * Errors: PIC_ERROR_INVALID_ARGUMENT quoting @text. */
bool wg_key_from_base64(const char *text, WgKey *ret, GError **error);
char *wg_key_to_base64(const WgKey *key);
/* 64 lowercase hex digits, as the UAPI protocol wants. */
bool wg_key_from_hex(const char *text, WgKey *ret, GError **error);
char *wg_key_to_hex(const WgKey *key);

bool wg_key_is_zero(const WgKey *key);
/* Overwrite a secret before its memory is released. */
void wg_key_wipe(WgKey *key);
