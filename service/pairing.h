/* pairing.h: the secrets of authenticated pairing (DESIGN §5): pairing tokens,
 * request signatures (HMAC-SHA256 over the raw body), timestamp freshness and
 * a bounded memory of nonces already seen. */
#pragma once

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <glib.h>

#define PAIRING_ID_BYTES 16
#define PAIRING_SECRET_BYTES 32
#define PAIRING_NONCE_BYTES 16
#define PAIRING_MAX_SKEW 300 /* seconds a request's ts may differ from ours */
#define PAIRING_SIGNATURE_HEADER "X-Pic-Signature"

typedef struct {
        char *id;       /* base64url (no padding) of 16 random bytes */
        char *secret;   /* base64url (no padding) of 32 random bytes */
        int64_t expires; /* Unix seconds */
} PairingToken;

/* A new token from the kernel's CSPRNG, expiring @ttl seconds after @now. */
bool pairing_token_generate(int64_t now, uint32_t ttl, PairingToken *ret, GError **error);
void pairing_token_clear(PairingToken *token); /* frees and wipes the secret */

/* base64url without padding, as used for ids, secrets and nonces. */
char *pairing_base64url_encode(const uint8_t *data, size_t len);
/* Decodes exactly @len bytes; padding is tolerated, anything else is refused.
 * Errors: PIC_ERROR_INVALID_ARGUMENT quoting @text. */
bool pairing_base64url_decode(const char *text, uint8_t *ret, size_t len, GError **error);

/* A fresh nonce: base64url of 16 random bytes. */
char *pairing_nonce_generate(GError **error);

/* The X-Pic-Signature value for @body: "sha256=<base64 HMAC-SHA256>", keyed
 * with the 32 secret bytes that @secret (base64url) decodes to. */
char *pairing_sign(const char *secret, const void *body, size_t body_len, GError **error);
/* Checks @header against @body in constant time. */
bool pairing_verify(const char *secret, const void *body, size_t body_len, const char *header);

/* True when @ts lies within PAIRING_MAX_SKEW of @now. */
bool pairing_timestamp_fresh(int64_t ts, int64_t now);

/* Nonces seen inside the freshness window; the oldest is forgotten first when
 * @capacity is reached (a forgotten nonce is still refused through its stale
 * timestamp once the window has passed). */
typedef struct NonceCache NonceCache;
NonceCache *nonce_cache_new(size_t capacity);
void nonce_cache_free(NonceCache *cache);
/* Records @nonce (seen at @now) and returns true, or returns false if it was
 * seen already. Entries older than twice the freshness window are dropped. */
bool nonce_cache_check_and_add(NonceCache *cache, const char *nonce, int64_t now);
size_t nonce_cache_size(const NonceCache *cache);

G_DEFINE_AUTOPTR_CLEANUP_FUNC(NonceCache, nonce_cache_free)
