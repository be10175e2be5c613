/* test-pairing.c: unit tests for pairing tokens, signatures, freshness and the nonce cache. */
#include <stdint.h>
#include <string.h>

#include "pairing.h"
#include "pic-error.h"
#include "unit-main.h"

static void hex_to_bytes(const char *hex, uint8_t *out, size_t len) {
        ck_assert_uint_eq(strlen(hex), len * 2);
        for (size_t i = 0; i < len; i++) {
                int hi = g_ascii_xdigit_value(hex[2 * i]);
                int lo = g_ascii_xdigit_value(hex[2 * i + 1]);

                ck_assert(hi >= 0 && lo >= 0);
                out[i] = (uint8_t) (hi << 4 | lo);
        }
}

/* A secret (base64url of 32 bytes) made from a shorter HMAC key: HMAC pads
 * keys below the block size with zeros, so the MAC is the same. */
static char *secret_from_key(const void *key, size_t key_len) {
        uint8_t padded[PAIRING_SECRET_BYTES] = {};

        ck_assert_uint_le(key_len, sizeof(padded));
        memcpy(padded, key, key_len);
        return pairing_base64url_encode(padded, sizeof(padded));
}

static const char *const TEST_SECRET = "SmVmZQAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA";

/* RFC 4231 test cases 1 and 2 (HMAC-SHA256). */
static const struct {
        const char *key_hex;
        const char *data;
        const char *mac_hex;
        const char *header;
} hmac_vectors[] = {
        {
                "0b0b0b0b0b0b0b0b0b0b0b0b0b0b0b0b0b0b0b0b",
                "Hi There",
                "b0344c61d8db38535ca8afceaf0bf12b881dc200c9833da726e9376c2e32cff7",
                "sha256=sDRMYdjbOFNcqK/OrwvxK4gdwgDJgz2nJuk3bC4yz/c=",
        },
        {
                "4a656665", /* "Jefe" */
                "what do ya want for nothing?",
                "5bdcc146bf60754e6a042426089575c75a003f089d2739839dec58b964ec3843",
                "sha256=W9zBRr9gdU5qBCQmCJV1x1oAPwidJzmDnexYuWTsOEM=",
        },
};

START_TEST(test_sign_hmac_vectors) {
        uint8_t key[64], mac[32];
        size_t key_len = strlen(hmac_vectors[_i].key_hex) / 2;
        const char *data = hmac_vectors[_i].data;
        g_autofree char *secret = NULL;
        g_autofree char *header = NULL;
        g_autofree uint8_t *raw = NULL;
        g_autoptr(GError) error = NULL;
        gsize raw_len = 0;

        hex_to_bytes(hmac_vectors[_i].key_hex, key, key_len);
        hex_to_bytes(hmac_vectors[_i].mac_hex, mac, sizeof(mac));
        secret = secret_from_key(key, key_len);

        header = pairing_sign(secret, data, strlen(data), &error);
        ck_assert_ptr_null(error);
        ck_assert_ptr_nonnull(header);
        ck_assert_str_eq(header, hmac_vectors[_i].header);

        /* And the raw MAC behind the header, decoded independently. */
        ck_assert(g_str_has_prefix(header, "sha256="));
        raw = g_base64_decode(header + strlen("sha256="), &raw_len);
        ck_assert_uint_eq(raw_len, sizeof(mac));
        ck_assert_mem_eq(raw, mac, sizeof(mac));

        ck_assert(pairing_verify(secret, data, strlen(data), header));
}
END_TEST

START_TEST(test_sign_empty_body) {
        g_autofree char *header = NULL;
        g_autoptr(GError) error = NULL;

        header = pairing_sign(TEST_SECRET, NULL, 0, &error);
        ck_assert_ptr_null(error);
        ck_assert(pairing_verify(TEST_SECRET, NULL, 0, header));
        ck_assert(pairing_verify(TEST_SECRET, "", 0, header));
        ck_assert(!pairing_verify(TEST_SECRET, "x", 1, header));
}
END_TEST

START_TEST(test_sign_verify_tamper) {
        static const char body[] = "{\"pairing_id\":\"abc\",\"ts\":1700000000,\"nonce\":\"xyz\"}";
        size_t body_len = strlen(body);
        g_autofree char *header = NULL;
        g_autofree char *other_secret = NULL;
        g_autoptr(GError) error = NULL;
        uint8_t other_key[PAIRING_SECRET_BYTES];
        char copy[sizeof(body)];

        header = pairing_sign(TEST_SECRET, body, body_len, &error);
        ck_assert_ptr_null(error);
        ck_assert(pairing_verify(TEST_SECRET, body, body_len, header));

        /* Every single flipped bit of the body is noticed. */
        for (size_t i = 0; i < body_len; i++)
                for (unsigned bit = 0; bit < 8; bit++) {
                        memcpy(copy, body, sizeof(body));
                        copy[i] ^= (char) (1u << bit);
                        ck_assert_msg(!pairing_verify(TEST_SECRET, copy, body_len, header),
                                      "flipped bit %u of byte %zu accepted", bit, i);
                }

        /* A shorter or longer body is another body. */
        ck_assert(!pairing_verify(TEST_SECRET, body, body_len - 1, header));
        ck_assert(!pairing_verify(TEST_SECRET, body, body_len + 1, header));

        /* Another key. */
        memset(other_key, 0, sizeof(other_key));
        other_key[31] = 1;
        other_secret = pairing_base64url_encode(other_key, sizeof(other_key));
        ck_assert(!pairing_verify(other_secret, body, body_len, header));
}
END_TEST

START_TEST(test_verify_flipped_mac) {
        static const char body[] = "hello";
        g_autofree char *header = pairing_sign(TEST_SECRET, body, strlen(body), NULL);
        g_autofree uint8_t *mac = NULL;
        gsize mac_len = 0;

        ck_assert_ptr_nonnull(header);
        mac = g_base64_decode(header + strlen("sha256="), &mac_len);
        ck_assert_uint_eq(mac_len, 32);

        /* One flipped bit anywhere in the MAC, re-encoded canonically, so only
         * the comparison can refuse it. */
        for (size_t i = 0; i < mac_len; i++)
                for (unsigned bit = 0; bit < 8; bit++) {
                        g_autofree char *b64 = NULL;
                        g_autofree char *forged = NULL;

                        mac[i] ^= (uint8_t) (1u << bit);
                        b64 = g_base64_encode(mac, mac_len);
                        forged = g_strconcat("sha256=", b64, NULL);
                        ck_assert_msg(!pairing_verify(TEST_SECRET, body, strlen(body), forged),
                                      "flipped bit %u of MAC byte %zu accepted", bit, i);
                        mac[i] ^= (uint8_t) (1u << bit);
                }

        /* One changed character of the header text. */
        for (size_t i = strlen("sha256="); header[i]; i++) {
                g_autofree char *forged = g_strdup(header);

                forged[i] = forged[i] == 'A' ? 'B' : 'A';
                ck_assert_msg(!pairing_verify(TEST_SECRET, body, strlen(body), forged),
                              "changed character %zu accepted: %s", i, forged);
        }
}
END_TEST

START_TEST(test_verify_malformed_header) {
        static const char body[] = "hello";
        g_autofree char *header = pairing_sign(TEST_SECRET, body, strlen(body), NULL);
        const char *b64;
        g_autofree char *upper = NULL, *no_prefix = NULL, *sha1 = NULL, *space = NULL;
        g_autofree char *trailing = NULL, *unpadded = NULL, *truncated = NULL, *doubled = NULL;
        g_autofree char *urlsafe = NULL;

        ck_assert_ptr_nonnull(header);
        b64 = header + strlen("sha256=");

        upper = g_strconcat("SHA256=", b64, NULL);
        no_prefix = g_strdup(b64);
        sha1 = g_strconcat("sha1=", b64, NULL);
        space = g_strconcat("sha256= ", b64, NULL);
        trailing = g_strconcat(header, "\n", NULL);
        unpadded = g_strndup(header, strlen(header) - 1);
        truncated = g_strndup(header, strlen(header) - 5);
        doubled = g_strconcat(header, b64, NULL);
        urlsafe = g_strdup(header);
        g_strdelimit(urlsafe, "+", '-');
        g_strdelimit(urlsafe, "/", '_');
        /* The fixture's MAC must contain '+' or '/' for the URL-safe case to count. */
        ck_assert_str_ne(urlsafe, header);

        const char *const bad[] = {
                upper, no_prefix, sha1, space, trailing, unpadded, truncated, doubled,
                urlsafe, "", "sha256=", "sha256", NULL,
        };
        for (size_t i = 0; bad[i]; i++)
                ck_assert_msg(!pairing_verify(TEST_SECRET, body, strlen(body), bad[i]),
                              "malformed header accepted: \"%s\"", bad[i]);
        ck_assert(!pairing_verify(TEST_SECRET, body, strlen(body), NULL));
        ck_assert(pairing_verify(TEST_SECRET, body, strlen(body), header));
}
END_TEST

START_TEST(test_sign_bad_secret) {
        const char *const bad[] = {
                "",
                "SmVmZQ",                                        /* too short */
                "SmVmZQAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA",  /* 33 bytes */
                "SmVmZQAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA+",   /* '+' */
                "SmVmZQAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAB",   /* stray bits */
        };

        for (size_t i = 0; i < G_N_ELEMENTS(bad); i++) {
                g_autoptr(GError) error = NULL;
                g_autofree char *header = pairing_sign(bad[i], "x", 1, &error);

                ck_assert_ptr_null(header);
                ck_assert_ptr_nonnull(error);
                ck_assert(g_error_matches(error, PIC_ERROR, PIC_ERROR_INVALID_ARGUMENT));
                /* The secret itself never ends up in a message. */
                if (*bad[i])
                        ck_assert_ptr_null(strstr(error->message, bad[i]));
                ck_assert(!pairing_verify(bad[i], "x", 1, "sha256=W9zBRr9gdU5qBCQmCJV1x1oAPwidJzmDnexYuWTsOEM="));
        }
}
END_TEST

/* RFC 4648 §10 test vectors, in the URL-safe alphabet without padding. */
static const struct {
        const char *data;
        const char *encoded;
} b64url_vectors[] = {
        { "", "" },
        { "f", "Zg" },
        { "fo", "Zm8" },
        { "foo", "Zm9v" },
        { "foob", "Zm9vYg" },
        { "fooba", "Zm9vYmE" },
        { "foobar", "Zm9vYmFy" },
        { "\xfb\xff", "-_8" },
        { "\xff\xfe\xfd", "__79" },
};

START_TEST(test_base64url_vectors) {
        const char *data = b64url_vectors[_i].data;
        size_t len = strlen(data);
        g_autofree char *encoded = pairing_base64url_encode((const uint8_t *) data, len);
        g_autoptr(GError) error = NULL;
        uint8_t decoded[8] = {};

        ck_assert_str_eq(encoded, b64url_vectors[_i].encoded);
        ck_assert(pairing_base64url_decode(encoded, decoded, len, &error));
        ck_assert_ptr_null(error);
        ck_assert_mem_eq(decoded, data, len);
}
END_TEST

START_TEST(test_base64url_round_trip) {
        uint8_t data[70], decoded[70];

        for (size_t i = 0; i < sizeof(data); i++)
                data[i] = (uint8_t) (i * 37 + 11);

        for (size_t len = 0; len <= sizeof(data); len++) {
                g_autofree char *encoded = pairing_base64url_encode(data, len);
                g_autofree char *padded = NULL;
                g_autoptr(GError) error = NULL;
                size_t pad = (4 - strlen(encoded) % 4) % 4;

                ck_assert_uint_eq(strlen(encoded), (len * 4 + 2) / 3);
                ck_assert_ptr_null(strchr(encoded, '='));
                ck_assert(pairing_base64url_decode(encoded, decoded, len, &error));
                ck_assert_mem_eq(decoded, data, len);

                /* Padding is tolerated. */
                padded = g_strconcat(encoded, pad >= 1 ? "=" : "", pad >= 2 ? "=" : "", NULL);
                ck_assert(pairing_base64url_decode(padded, decoded, len, &error));
                ck_assert_mem_eq(decoded, data, len);
        }
}
END_TEST

static const struct {
        const char *text;
        size_t len;
        const char *reason;
} b64url_bad[] = {
        { "Zm9vYmF", 6, "wrong length: too short" },
        { "Zm9vYmFyZg", 6, "wrong length: too long" },
        { "Zm9vYmE", 6, "wrong length: 5 bytes given" },
        { "Zm9vYmFy", 5, "wrong length: 6 bytes given" },
        { "", 1, "empty" },
        { "+_8", 2, "'+' of the standard alphabet" },
        { "-/8", 2, "'/' of the standard alphabet" },
        { "Zm v", 3, "space inside" },
        { " Zm9", 3, "leading space" },
        { "Zm9\n", 3, "trailing newline" },
        { "Z\t8", 2, "tab" },
        { "Zm*v", 3, "punctuation" },
        { "Zm=v", 3, "padding inside" },
        { "Zh", 1, "stray bits after 1 byte" },
        { "Zm9", 2, "stray bits after 2 bytes" },
        { "-_9", 2, "stray bits, URL-safe characters" },
        { "Zg=", 1, "one '=' where two belong" },
        { "Zg===", 1, "three '='" },
        { "Zm9v=", 3, "padding where none belongs" },
        { "Zm8==", 2, "two '=' where one belongs" },
        { "\xc3\xa9\xc3\xa9", 3, "non-ASCII" },
};

START_TEST(test_base64url_decode_refused) {
        const char *text = b64url_bad[_i].text;
        size_t len = b64url_bad[_i].len;
        g_autoptr(GError) error = NULL;
        g_autofree char *quoted = g_strdup_printf("\"%s\"", text);
        g_autofree char *escaped = g_strescape(text, NULL);
        g_autofree char *quoted_escaped = g_strdup_printf("\"%s\"", escaped);
        uint8_t out[8];

        memset(out, 0xaa, sizeof(out));
        ck_assert_msg(!pairing_base64url_decode(text, out, len, &error),
                      "accepted: %s", b64url_bad[_i].reason);
        ck_assert_ptr_nonnull(error);
        ck_assert(g_error_matches(error, PIC_ERROR, PIC_ERROR_INVALID_ARGUMENT));
        /* The value is quoted, escaped where it is not printable. */
        ck_assert_msg(strstr(error->message, quoted_escaped), "not quoted: %s", error->message);
        if (strcmp(escaped, text) == 0)
                ck_assert_ptr_nonnull(strstr(error->message, quoted));
        /* Nothing written on failure. */
        for (size_t i = 0; i < sizeof(out); i++)
                ck_assert_uint_eq(out[i], 0xaa);
}
END_TEST

START_TEST(test_base64url_decode_long_text_shortened) {
        g_autofree char *text = g_strnfill(10000, 'A');
        g_autoptr(GError) error = NULL;
        uint8_t out[16];

        ck_assert(!pairing_base64url_decode(text, out, sizeof(out), &error));
        ck_assert(g_error_matches(error, PIC_ERROR, PIC_ERROR_INVALID_ARGUMENT));
        ck_assert_uint_lt(strlen(error->message), 400);
        ck_assert_ptr_nonnull(strstr(error->message, "AAAAAAAA..."));
}
END_TEST

static const struct {
        int64_t ts;
        int64_t now;
        bool fresh;
} freshness[] = {
        { 1700000000, 1700000000, true },
        { 1700000300, 1700000000, true },
        { 1699999700, 1700000000, true },
        { 1700000301, 1700000000, false },
        { 1699999699, 1700000000, false },
        { 0, 1700000000, false },
        { INT64_MAX, INT64_MIN, false },
        { INT64_MIN, INT64_MAX, false },
        { INT64_MAX, INT64_MAX - 300, true },
        { INT64_MIN, INT64_MIN + 301, false },
};

START_TEST(test_timestamp_fresh) {
        ck_assert_msg(pairing_timestamp_fresh(freshness[_i].ts, freshness[_i].now) == freshness[_i].fresh,
                      "ts %" G_GINT64_FORMAT " now %" G_GINT64_FORMAT,
                      freshness[_i].ts, freshness[_i].now);
}
END_TEST

START_TEST(test_nonce_replay) {
        g_autoptr(NonceCache) cache = nonce_cache_new(16);

        ck_assert(nonce_cache_check_and_add(cache, "n1", 1000));
        ck_assert(!nonce_cache_check_and_add(cache, "n1", 1000));
        ck_assert(!nonce_cache_check_and_add(cache, "n1", 1001));
        ck_assert(nonce_cache_check_and_add(cache, "n2", 1001));
        ck_assert(!nonce_cache_check_and_add(cache, "n2", 1002));
        ck_assert_uint_eq(nonce_cache_size(cache), 2);
}
END_TEST

START_TEST(test_nonce_expiry) {
        g_autoptr(NonceCache) cache = nonce_cache_new(16);

        ck_assert(nonce_cache_check_and_add(cache, "old", 1000));
        ck_assert(nonce_cache_check_and_add(cache, "mid", 1100));

        /* Exactly twice the window later it is still remembered. */
        ck_assert(!nonce_cache_check_and_add(cache, "old", 1000 + 2 * PAIRING_MAX_SKEW));
        ck_assert_uint_eq(nonce_cache_size(cache), 2);

        /* One second more and it is dropped (a request carrying it would be stale). */
        ck_assert(nonce_cache_check_and_add(cache, "new", 1001 + 2 * PAIRING_MAX_SKEW));
        ck_assert_uint_eq(nonce_cache_size(cache), 2);
        ck_assert(!nonce_cache_check_and_add(cache, "mid", 1001 + 2 * PAIRING_MAX_SKEW));

        /* Much later everything but the newest entry is gone. */
        ck_assert(nonce_cache_check_and_add(cache, "later", 100000));
        ck_assert_uint_eq(nonce_cache_size(cache), 1);
        ck_assert(nonce_cache_check_and_add(cache, "old", 100000));
        ck_assert(nonce_cache_check_and_add(cache, "mid", 100000));
        ck_assert_uint_eq(nonce_cache_size(cache), 3);
}
END_TEST

START_TEST(test_nonce_clock_back) {
        g_autoptr(NonceCache) cache = nonce_cache_new(16);

        /* A clock stepping back neither drops nor re-admits anything. */
        ck_assert(nonce_cache_check_and_add(cache, "a", 5000));
        ck_assert(nonce_cache_check_and_add(cache, "b", 1000));
        ck_assert(!nonce_cache_check_and_add(cache, "a", 1000));
        ck_assert_uint_eq(nonce_cache_size(cache), 2);
}
END_TEST

START_TEST(test_nonce_capacity) {
        g_autoptr(NonceCache) cache = nonce_cache_new(3);

        ck_assert(nonce_cache_check_and_add(cache, "a", 1000));
        ck_assert(nonce_cache_check_and_add(cache, "b", 1001));
        ck_assert(nonce_cache_check_and_add(cache, "c", 1002));
        ck_assert_uint_eq(nonce_cache_size(cache), 3);

        /* Full: the oldest ("a") is forgotten to make room. */
        ck_assert(nonce_cache_check_and_add(cache, "d", 1003));
        ck_assert_uint_eq(nonce_cache_size(cache), 3);
        ck_assert(!nonce_cache_check_and_add(cache, "b", 1004));
        ck_assert(!nonce_cache_check_and_add(cache, "c", 1004));
        ck_assert(!nonce_cache_check_and_add(cache, "d", 1004));
        ck_assert(nonce_cache_check_and_add(cache, "a", 1004)); /* evicts "b" */
        ck_assert(nonce_cache_check_and_add(cache, "b", 1005)); /* evicts "c" */
        ck_assert_uint_eq(nonce_cache_size(cache), 3);

        /* A flood never grows it. */
        for (unsigned i = 0; i < 1000; i++) {
                char name[32];

                g_snprintf(name, sizeof(name), "flood-%u", i);
                ck_assert(nonce_cache_check_and_add(cache, name, 2000));
                ck_assert_uint_le(nonce_cache_size(cache), 3);
        }
        ck_assert(!nonce_cache_check_and_add(cache, "flood-999", 2000));
        ck_assert(nonce_cache_check_and_add(cache, "flood-0", 2000));
}
END_TEST

START_TEST(test_nonce_cache_free_null) {
        nonce_cache_free(NULL);
}
END_TEST

START_TEST(test_token_generate) {
        PairingToken a = {}, b = {};
        g_autoptr(GError) error = NULL;
        uint8_t id_a[PAIRING_ID_BYTES], id_b[PAIRING_ID_BYTES];
        uint8_t secret_a[PAIRING_SECRET_BYTES], secret_b[PAIRING_SECRET_BYTES];
        g_autofree char *header = NULL;

        ck_assert(pairing_token_generate(1700000000, 86400, &a, &error));
        ck_assert_ptr_null(error);
        ck_assert(pairing_token_generate(1700000000, 60, &b, &error));
        ck_assert_ptr_null(error);

        ck_assert_int_eq(a.expires, 1700000000 + 86400);
        ck_assert_int_eq(b.expires, 1700000000 + 60);

        ck_assert_uint_eq(strlen(a.id), 22);
        ck_assert_uint_eq(strlen(a.secret), 43);
        ck_assert(pairing_base64url_decode(a.id, id_a, sizeof(id_a), &error));
        ck_assert(pairing_base64url_decode(a.secret, secret_a, sizeof(secret_a), &error));
        ck_assert(pairing_base64url_decode(b.id, id_b, sizeof(id_b), &error));
        ck_assert(pairing_base64url_decode(b.secret, secret_b, sizeof(secret_b), &error));
        ck_assert_ptr_null(error);

        ck_assert_str_ne(a.id, b.id);
        ck_assert_str_ne(a.secret, b.secret);
        ck_assert(memcmp(id_a, id_b, sizeof(id_a)) != 0);
        ck_assert(memcmp(secret_a, secret_b, sizeof(secret_a)) != 0);

        /* The secret is usable as a signing key. */
        header = pairing_sign(a.secret, "body", 4, &error);
        ck_assert_ptr_nonnull(header);
        ck_assert(pairing_verify(a.secret, "body", 4, header));
        ck_assert(!pairing_verify(b.secret, "body", 4, header));

        pairing_token_clear(&a);
        pairing_token_clear(&b);
        ck_assert_ptr_null(a.id);
        ck_assert_ptr_null(a.secret);
        ck_assert_int_eq(a.expires, 0);
        pairing_token_clear(&a); /* twice is harmless */
        pairing_token_clear(NULL);
}
END_TEST

START_TEST(test_token_expiry_overflow) {
        PairingToken token = { .expires = 42 };
        g_autoptr(GError) error = NULL;

        ck_assert(!pairing_token_generate(INT64_MAX - 10, 11, &token, &error));
        ck_assert(g_error_matches(error, PIC_ERROR, PIC_ERROR_INVALID_ARGUMENT));
        ck_assert_ptr_nonnull(strstr(error->message, "11"));
        ck_assert_ptr_null(token.id);
        ck_assert_int_eq(token.expires, 42);

        g_clear_error(&error);
        ck_assert(pairing_token_generate(INT64_MAX - 10, 10, &token, &error));
        ck_assert_int_eq(token.expires, INT64_MAX);
        pairing_token_clear(&token);
}
END_TEST

START_TEST(test_nonce_generate) {
        g_autoptr(GError) error = NULL;
        g_autofree char *a = pairing_nonce_generate(&error);
        g_autofree char *b = pairing_nonce_generate(&error);
        uint8_t raw[PAIRING_NONCE_BYTES];

        ck_assert_ptr_null(error);
        ck_assert_ptr_nonnull(a);
        ck_assert_ptr_nonnull(b);
        ck_assert_str_ne(a, b);
        ck_assert(pairing_base64url_decode(a, raw, sizeof(raw), &error));
        ck_assert(pairing_base64url_decode(b, raw, sizeof(raw), &error));
        ck_assert_uint_eq(strlen(a), 22);
}
END_TEST

Suite *unit_suite(void) {
        Suite *s = suite_create("pairing");
        TCase *tc;

        tc = tcase_create("signature");
        tcase_add_loop_test(tc, test_sign_hmac_vectors, 0, G_N_ELEMENTS(hmac_vectors));
        tcase_add_test(tc, test_sign_empty_body);
        tcase_add_test(tc, test_sign_verify_tamper);
        tcase_add_test(tc, test_verify_flipped_mac);
        tcase_add_test(tc, test_verify_malformed_header);
        tcase_add_test(tc, test_sign_bad_secret);
        suite_add_tcase(s, tc);

        tc = tcase_create("base64url");
        tcase_add_loop_test(tc, test_base64url_vectors, 0, G_N_ELEMENTS(b64url_vectors));
        tcase_add_test(tc, test_base64url_round_trip);
        tcase_add_loop_test(tc, test_base64url_decode_refused, 0, G_N_ELEMENTS(b64url_bad));
        tcase_add_test(tc, test_base64url_decode_long_text_shortened);
        suite_add_tcase(s, tc);

        tc = tcase_create("freshness");
        tcase_add_loop_test(tc, test_timestamp_fresh, 0, G_N_ELEMENTS(freshness));
        suite_add_tcase(s, tc);

        tc = tcase_create("nonce-cache");
        tcase_add_test(tc, test_nonce_replay);
        tcase_add_test(tc, test_nonce_expiry);
        tcase_add_test(tc, test_nonce_clock_back);
        tcase_add_test(tc, test_nonce_capacity);
        tcase_add_test(tc, test_nonce_cache_free_null);
        suite_add_tcase(s, tc);

        tc = tcase_create("tokens");
        tcase_add_test(tc, test_token_generate);
        tcase_add_test(tc, test_token_expiry_overflow);
        tcase_add_test(tc, test_nonce_generate);
        suite_add_tcase(s, tc);

        return s;
}
