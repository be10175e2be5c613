/* wg-key.c: WireGuard key generation and the base64/hex forms of wg(8) and the UAPI. */
#include <string.h>

#include <sodium.h>

#include "i18n.h"
#include "pic-error.h"
#include "random-bytes.h"
#include "sodium-ready.h"
#include "text-quote.h"
#include "wg-key.h"

#define WG_KEY_HEX_LEN (2 * WG_KEY_LEN)
/* Keys arrive in invites from other cells: keep quoted garbage short. */
#define QUOTE_MAX 100

G_STATIC_ASSERT(WG_KEY_LEN == crypto_scalarmult_curve25519_BYTES);
G_STATIC_ASSERT(WG_KEY_B64_LEN + 1 == sodium_base64_ENCODED_LEN(WG_KEY_LEN, sodium_base64_VARIANT_ORIGINAL));

bool wg_key_public_from_private(const WgKey *private_key, WgKey *ret_public, GError **error) {
        WgKey pub;

        g_return_val_if_fail(private_key, false);
        g_return_val_if_fail(ret_public, false);

        if (!sodium_ready(error))
                return false;

        /* libsodium clamps the scalar itself, exactly as `wg pubkey` does, so an
         * unclamped private key yields the same public key there and here. */
        if (crypto_scalarmult_curve25519_base(pub.bytes, private_key->bytes) != 0) {
                g_set_error_literal(error, PIC_ERROR, PIC_ERROR_INVALID_ARGUMENT,
                                    _("The private key does not yield a usable public key; "
                                      "generate a new one with `wg genkey`"));
                return false;
        }

        *ret_public = pub;
        return true;
}

bool wg_key_generate(WgKey *ret_private, WgKey *ret_public, GError **error) {
        WgKey priv, pub;

        g_return_val_if_fail(ret_private, false);
        g_return_val_if_fail(ret_public, false);

        if (!random_bytes(priv.bytes, sizeof(priv.bytes), error)) {
                wg_key_wipe(&priv);
                return false;
        }

        /* Stored clamped, as `wg genkey` writes it, so the file reads the same. */
        priv.bytes[0] &= 248;
        priv.bytes[31] = (priv.bytes[31] & 127) | 64;

        if (!wg_key_public_from_private(&priv, &pub, error)) {
                wg_key_wipe(&priv);
                return false;
        }

        *ret_private = priv;
        *ret_public = pub;
        wg_key_wipe(&priv);
        return true;
}

bool wg_key_from_base64(const char *text, WgKey *ret, GError **error) {
        g_autofree char *quoted = NULL;
        WgKey key;
        size_t len = 0;

        g_return_val_if_fail(text, false);
        g_return_val_if_fail(ret, false);

        if (strlen(text) != WG_KEY_B64_LEN) {
                quoted = text_quote(text, QUOTE_MAX);
                g_set_error(error, PIC_ERROR, PIC_ERROR_INVALID_ARGUMENT,
                            _("Invalid WireGuard key \"%s\": it has %zu characters, but a key is "
                              "%d characters of base64 ending in '=', as `wg genkey` and "
                              "`wg pubkey` print it"),
                            quoted, strlen(text), WG_KEY_B64_LEN);
                return false;
        }

        /* libsodium's decoder is strict: no whitespace, correct padding, and the
         * unused bits of the last character must be zero. */
        if (sodium_base642bin(key.bytes, sizeof(key.bytes), text, WG_KEY_B64_LEN, NULL, &len,
                              NULL, sodium_base64_VARIANT_ORIGINAL) != 0 ||
            len != WG_KEY_LEN) {
                wg_key_wipe(&key);
                quoted = text_quote(text, QUOTE_MAX);
                g_set_error(error, PIC_ERROR, PIC_ERROR_INVALID_ARGUMENT,
                            _("Invalid WireGuard key \"%s\": it is not the base64 encoding of "
                              "%d bytes; copy the key exactly as `wg pubkey` prints it"),
                            quoted, WG_KEY_LEN);
                return false;
        }

        *ret = key;
        wg_key_wipe(&key);
        return true;
}

char *wg_key_to_base64(const WgKey *key) {
        char *out;

        g_return_val_if_fail(key, NULL);

        out = g_malloc(WG_KEY_B64_LEN + 1);
        sodium_bin2base64(out, WG_KEY_B64_LEN + 1, key->bytes, WG_KEY_LEN,
                          sodium_base64_VARIANT_ORIGINAL);
        return out;
}

bool wg_key_from_hex(const char *text, WgKey *ret, GError **error) {
        g_autofree char *quoted = NULL;
        WgKey key;
        size_t len;

        g_return_val_if_fail(text, false);
        g_return_val_if_fail(ret, false);

        len = strlen(text);
        if (len != WG_KEY_HEX_LEN) {
                quoted = text_quote(text, QUOTE_MAX);
                g_set_error(error, PIC_ERROR, PIC_ERROR_INVALID_ARGUMENT,
                            _("Invalid WireGuard key \"%s\": it has %zu characters, but a key in "
                              "hex is exactly %d hex digits"),
                            quoted, len, WG_KEY_HEX_LEN);
                return false;
        }

        for (size_t i = 0; i < WG_KEY_LEN; i++) {
                int hi = g_ascii_xdigit_value(text[2 * i]);
                int lo = g_ascii_xdigit_value(text[2 * i + 1]);

                if (hi < 0 || lo < 0) {
                        wg_key_wipe(&key);
                        quoted = text_quote(text, QUOTE_MAX);
                        g_set_error(error, PIC_ERROR, PIC_ERROR_INVALID_ARGUMENT,
                                    _("Invalid WireGuard key \"%s\": the character at position %zu "
                                      "is not a hex digit (0-9, a-f)"),
                                    quoted, 2 * i + (hi < 0 ? 1 : 2));
                        return false;
                }
                key.bytes[i] = (uint8_t) (hi << 4 | lo);
        }

        *ret = key;
        wg_key_wipe(&key);
        return true;
}

char *wg_key_to_hex(const WgKey *key) {
        char *out;

        g_return_val_if_fail(key, NULL);

        out = g_malloc(WG_KEY_HEX_LEN + 1);
        sodium_bin2hex(out, WG_KEY_HEX_LEN + 1, key->bytes, WG_KEY_LEN);
        return out;
}

bool wg_key_is_zero(const WgKey *key) {
        g_return_val_if_fail(key, true);

        return sodium_is_zero(key->bytes, WG_KEY_LEN) == 1;
}

void wg_key_wipe(WgKey *key) {
        if (key)
                sodium_memzero(key->bytes, WG_KEY_LEN);
}
