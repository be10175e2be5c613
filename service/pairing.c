/* pairing.c: pairing tokens, request signatures and replay protection (DESIGN §5). */
#include <string.h>

#include <sodium.h>

#include "i18n.h"
#include "pairing.h"
#include "pic-error.h"
#include "random-bytes.h"
#include "sodium-ready.h"
#include "text-quote.h"

#define SIGNATURE_PREFIX "sha256="
#define SIGNATURE_B64_LEN 44 /* standard base64 of a 32-byte MAC, one '=' */
/* Quoted values come from remote requests too: keep log lines short. */
#define QUOTE_MAX 100

char *pairing_base64url_encode(const uint8_t *data, size_t len) {
        size_t size = sodium_base64_ENCODED_LEN(len, sodium_base64_VARIANT_URLSAFE_NO_PADDING);
        char *out;

        g_return_val_if_fail(data || len == 0, NULL);

        out = g_malloc(size);
        sodium_bin2base64(out, size, data, len, sodium_base64_VARIANT_URLSAFE_NO_PADDING);
        return out;
}

static int base64url_value(char c) {
        if (c >= 'A' && c <= 'Z')
                return c - 'A';
        if (c >= 'a' && c <= 'z')
                return c - 'a' + 26;
        if (c >= '0' && c <= '9')
                return c - '0' + 52;
        if (c == '-')
                return 62;
        if (c == '_')
                return 63;
        return -1;
}

bool pairing_base64url_decode(const char *text, uint8_t *ret, size_t len, GError **error) {
        g_autofree char *quoted = NULL;
        size_t n, padding = 0, want, leftover;
        uint32_t acc = 0;
        unsigned bits = 0;
        size_t o = 0;

        g_return_val_if_fail(text, false);
        g_return_val_if_fail(ret || len == 0, false);
        g_return_val_if_fail(len <= SIZE_MAX / 8, false);

        n = strlen(text);
        while (padding < n && text[n - padding - 1] == '=')
                padding++;
        n -= padding;
        want = (len * 8 + 5) / 6;

        if (n != want || padding > 2 || (padding > 0 && (n + padding) % 4 != 0)) {
                quoted = text_quote(text, QUOTE_MAX);
                g_set_error(error, PIC_ERROR, PIC_ERROR_INVALID_ARGUMENT,
                            _("Invalid base64url value \"%s\": %zu bytes are written as exactly %zu "
                              "characters (optionally padded with '=' to a multiple of 4), not %zu"),
                            quoted, len, want, n + padding);
                return false;
        }

        /* Check everything before writing, so @ret is touched only on success. */
        for (size_t i = 0; i < n; i++)
                if (base64url_value(text[i]) < 0) {
                        quoted = text_quote(text, QUOTE_MAX);
                        g_set_error(error, PIC_ERROR, PIC_ERROR_INVALID_ARGUMENT,
                                    _("Invalid base64url value \"%s\": the character at position %zu "
                                      "is not one of A-Z, a-z, 0-9, '-' or '_'"),
                                    quoted, i + 1);
                        return false;
                }

        /* The last character may carry bits beyond the data; a canonical encoding
         * leaves them zero, so each value has exactly one spelling. */
        leftover = n * 6 - len * 8;
        if (n > 0 && (base64url_value(text[n - 1]) & ((1 << leftover) - 1)) != 0) {
                quoted = text_quote(text, QUOTE_MAX);
                g_set_error(error, PIC_ERROR, PIC_ERROR_INVALID_ARGUMENT,
                            _("Invalid base64url value \"%s\": its last character sets bits beyond "
                              "the %zu bytes of data; use the canonical encoding"),
                            quoted, len);
                return false;
        }

        for (size_t i = 0; i < n; i++) {
                acc = (acc << 6) | (uint32_t) base64url_value(text[i]);
                bits += 6;
                if (bits >= 8) {
                        bits -= 8;
                        ret[o++] = (uint8_t) (acc >> bits);
                        acc &= (1u << bits) - 1;
                }
        }
        sodium_memzero(&acc, sizeof(acc));
        return true;
}

bool pairing_token_generate(int64_t now, uint32_t ttl, PairingToken *ret, GError **error) {
        uint8_t id[PAIRING_ID_BYTES], secret[PAIRING_SECRET_BYTES];

        g_return_val_if_fail(ret, false);

        if (now > INT64_MAX - (int64_t) ttl) {
                g_set_error(error, PIC_ERROR, PIC_ERROR_INVALID_ARGUMENT,
                            _("Pairing token lifetime %u s from %lld overflows the clock; choose a shorter ttl"),
                            (unsigned) ttl, (long long) now);
                return false;
        }

        if (!random_bytes(id, sizeof(id), error) ||
            !random_bytes(secret, sizeof(secret), error)) {
                sodium_memzero(secret, sizeof(secret));
                return false;
        }

        *ret = (PairingToken) {
                .id = pairing_base64url_encode(id, sizeof(id)),
                .secret = pairing_base64url_encode(secret, sizeof(secret)),
                .expires = now + (int64_t) ttl,
        };
        sodium_memzero(secret, sizeof(secret));
        return true;
}

void pairing_token_clear(PairingToken *token) {
        if (!token)
                return;

        if (token->secret)
                sodium_memzero(token->secret, strlen(token->secret));
        g_free(token->secret);
        g_free(token->id);
        *token = (PairingToken) {};
}

char *pairing_nonce_generate(GError **error) {
        uint8_t nonce[PAIRING_NONCE_BYTES];

        if (!random_bytes(nonce, sizeof(nonce), error))
                return NULL;
        return pairing_base64url_encode(nonce, sizeof(nonce));
}

/* The raw MAC of @body under the key @secret (base64url) stands for. Does not
 * quote @secret on error: a near-miss of a secret is still a secret. */
static bool compute_mac(const char *secret, const void *body, size_t body_len,
                        uint8_t ret[crypto_auth_hmacsha256_BYTES], GError **error) {
        uint8_t key[PAIRING_SECRET_BYTES];
        g_autoptr(GError) local = NULL;

        if (!sodium_ready(error))
                return false;

        if (!pairing_base64url_decode(secret, key, sizeof(key), &local)) {
                g_set_error(error, PIC_ERROR, PIC_ERROR_INVALID_ARGUMENT,
                            _("The pairing secret is not base64url of %d bytes; "
                              "use the secret of the invite as issued"),
                            PAIRING_SECRET_BYTES);
                return false;
        }

        G_STATIC_ASSERT(sizeof(key) == crypto_auth_hmacsha256_KEYBYTES);
        crypto_auth_hmacsha256(ret, body, body_len, key);
        sodium_memzero(key, sizeof(key));
        return true;
}

char *pairing_sign(const char *secret, const void *body, size_t body_len, GError **error) {
        uint8_t mac[crypto_auth_hmacsha256_BYTES];
        char b64[sodium_base64_ENCODED_LEN(sizeof(mac), sodium_base64_VARIANT_ORIGINAL)];
        char *header;

        g_return_val_if_fail(secret, NULL);
        g_return_val_if_fail(body || body_len == 0, NULL);

        if (!compute_mac(secret, body, body_len, mac, error))
                return NULL;

        sodium_bin2base64(b64, sizeof(b64), mac, sizeof(mac), sodium_base64_VARIANT_ORIGINAL);
        header = g_strconcat(SIGNATURE_PREFIX, b64, NULL);
        sodium_memzero(mac, sizeof(mac));
        return header;
}

bool pairing_verify(const char *secret, const void *body, size_t body_len, const char *header) {
        uint8_t expected[crypto_auth_hmacsha256_BYTES], given[crypto_auth_hmacsha256_BYTES];
        const char *b64;
        size_t given_len = 0;
        bool ok;

        if (!secret || !header || (!body && body_len > 0))
                return false;
        if (!g_str_has_prefix(header, SIGNATURE_PREFIX))
                return false;

        b64 = header + strlen(SIGNATURE_PREFIX);
        if (strlen(b64) != SIGNATURE_B64_LEN)
                return false;
        if (sodium_base642bin(given, sizeof(given), b64, SIGNATURE_B64_LEN, NULL, &given_len,
                              NULL, sodium_base64_VARIANT_ORIGINAL) != 0 ||
            given_len != sizeof(given))
                return false;

        if (!compute_mac(secret, body, body_len, expected, NULL))
                return false;

        /* Constant time, so the answer's timing does not reveal how many leading
         * bytes of a forged signature were right. */
        ok = sodium_memcmp(expected, given, sizeof(expected)) == 0;
        sodium_memzero(expected, sizeof(expected));
        return ok;
}

bool pairing_timestamp_fresh(int64_t ts, int64_t now) {
        /* Unsigned difference: exact for any pair of int64 values, no overflow. */
        uint64_t skew = ts >= now ? (uint64_t) ts - (uint64_t) now : (uint64_t) now - (uint64_t) ts;

        return skew <= PAIRING_MAX_SKEW;
}

typedef struct {
        char *nonce;
        int64_t seen;
} NonceEntry;

struct NonceCache {
        size_t capacity;
        GHashTable *index;  /* set of nonces; the strings belong to the entries */
        GQueue order;       /* NonceEntry, oldest first */
};

static void nonce_entry_free(NonceEntry *entry) {
        g_free(entry->nonce);
        g_free(entry);
}

NonceCache *nonce_cache_new(size_t capacity) {
        NonceCache *cache;

        g_return_val_if_fail(capacity > 0, NULL);

        cache = g_new0(NonceCache, 1);
        cache->capacity = capacity;
        cache->index = g_hash_table_new(g_str_hash, g_str_equal);
        g_queue_init(&cache->order);
        return cache;
}

void nonce_cache_free(NonceCache *cache) {
        if (!cache)
                return;

        g_hash_table_destroy(cache->index);
        g_queue_clear_full(&cache->order, (GDestroyNotify) nonce_entry_free);
        g_free(cache);
}

static void nonce_cache_drop_oldest(NonceCache *cache) {
        NonceEntry *entry = g_queue_pop_head(&cache->order);

        g_hash_table_remove(cache->index, entry->nonce);
        nonce_entry_free(entry);
}

bool nonce_cache_check_and_add(NonceCache *cache, const char *nonce, int64_t now) {
        NonceEntry *entry;

        g_return_val_if_fail(cache, false);
        g_return_val_if_fail(nonce, false);

        /* A request this old fails the freshness check anyway, so its nonce need
         * not be remembered. Entries are in arrival order; if the clock stepped
         * back, newer ones may sit behind an older head and simply wait. */
        while (!g_queue_is_empty(&cache->order)) {
                NonceEntry *head = g_queue_peek_head(&cache->order);

                if (head->seen >= now || (uint64_t) now - (uint64_t) head->seen <= 2 * PAIRING_MAX_SKEW)
                        break;
                nonce_cache_drop_oldest(cache);
        }

        if (g_hash_table_contains(cache->index, nonce))
                return false;

        if (g_queue_get_length(&cache->order) >= cache->capacity)
                nonce_cache_drop_oldest(cache);

        entry = g_new(NonceEntry, 1);
        *entry = (NonceEntry) {
                .nonce = g_strdup(nonce),
                .seen = now,
        };
        g_queue_push_tail(&cache->order, entry);
        g_hash_table_add(cache->index, entry->nonce);
        return true;
}

size_t nonce_cache_size(const NonceCache *cache) {
        g_return_val_if_fail(cache, 0);

        return g_queue_get_length((GQueue *) &cache->order);
}
