/* test-wg-key.c: unit tests for WireGuard key generation, derivation and encodings. */
#include <string.h>

#include "pic-error.h"
#include "unit-main.h"
#include "wg-key.h"

/* Public keys computed with `echo <private> | wg pubkey`. */
static const struct {
        const char *what;
        const char *private_b64;
        const char *private_hex;
        const char *public_b64;
        const char *public_hex;
} vectors[] = {
        {
                "bytes 0..31, not clamped",
                "AAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHh8=",
                "000102030405060708090a0b0c0d0e0f101112131415161718191a1b1c1d1e1f",
                "j0DFrbaPJWJK5bIU6nZ6bslNgp09e14a0bpvPiE4KF8=",
                "8f40c5adb68f25624ae5b214ea767a6ec94d829d3d7b5e1ad1ba6f3e2138285f",
        },
        {
                "from wg genkey",
                "KN2OxiotPVQ4QNHkF0oyn87axdo8X2zDYBQMMgcXt2g=",
                "28dd8ec62a2d3d543840d1e4174a329fcedac5da3c5f6cc360140c320717b768",
                "PkIiDgviOnW4wRLBqSUyihZ/etf0Q2ubeJ76hVqIJwk=",
                "3e42220e0be23a75b8c112c1a925328a167f7ad7f4436b9b789efa855a882709",
        },
        {
                "RFC 7748 section 6.1, Alice",
                "dwdtCnMYpX08FsFyUbJmRd9ML4frwJkqsXf7pR25LCo=",
                "77076d0a7318a57d3c16c17251b26645df4c2f87ebc0992ab177fba51db92c2a",
                "hSDwCYkwp1R0i33ctD73Wg2/Og0mOBr066SpjqqbTmo=",
                "8520f0098930a754748b7ddcb43ef75a0dbf3a0d26381af4eba4a98eaa9b4e6a",
        },
};

START_TEST(test_fixed_vectors) {
        g_autoptr(GError) error = NULL;
        WgKey priv, pub, from_hex;
        g_autofree char *pub_b64 = NULL, *pub_hex = NULL, *priv_b64 = NULL, *priv_hex = NULL;

        ck_assert_msg(wg_key_from_base64(vectors[_i].private_b64, &priv, &error), "%s", vectors[_i].what);
        ck_assert_ptr_null(error);
        ck_assert(wg_key_public_from_private(&priv, &pub, &error));
        ck_assert_ptr_null(error);

        pub_b64 = wg_key_to_base64(&pub);
        pub_hex = wg_key_to_hex(&pub);
        priv_b64 = wg_key_to_base64(&priv);
        priv_hex = wg_key_to_hex(&priv);
        ck_assert_str_eq(pub_b64, vectors[_i].public_b64);
        ck_assert_str_eq(pub_hex, vectors[_i].public_hex);
        ck_assert_str_eq(priv_b64, vectors[_i].private_b64);
        ck_assert_str_eq(priv_hex, vectors[_i].private_hex);

        ck_assert(wg_key_from_hex(vectors[_i].private_hex, &from_hex, &error));
        ck_assert_mem_eq(from_hex.bytes, priv.bytes, WG_KEY_LEN);
        ck_assert(wg_key_from_hex(vectors[_i].public_hex, &from_hex, &error));
        ck_assert_mem_eq(from_hex.bytes, pub.bytes, WG_KEY_LEN);
}
END_TEST

START_TEST(test_generate) {
        g_autoptr(GError) error = NULL;
        WgKey priv_a, pub_a, priv_b, pub_b, derived;

        ck_assert(wg_key_generate(&priv_a, &pub_a, &error));
        ck_assert_ptr_null(error);
        ck_assert(wg_key_generate(&priv_b, &pub_b, &error));
        ck_assert_ptr_null(error);

        /* Clamped as `wg genkey` writes it. */
        ck_assert_uint_eq(priv_a.bytes[0] & 7, 0);
        ck_assert_uint_eq(priv_a.bytes[31] & 0xc0, 0x40);
        ck_assert_uint_eq(priv_b.bytes[0] & 7, 0);
        ck_assert_uint_eq(priv_b.bytes[31] & 0xc0, 0x40);

        ck_assert(!wg_key_is_zero(&priv_a));
        ck_assert(!wg_key_is_zero(&pub_a));
        ck_assert(memcmp(priv_a.bytes, priv_b.bytes, WG_KEY_LEN) != 0);
        ck_assert(memcmp(pub_a.bytes, pub_b.bytes, WG_KEY_LEN) != 0);
        ck_assert(memcmp(priv_a.bytes, pub_a.bytes, WG_KEY_LEN) != 0);

        ck_assert(wg_key_public_from_private(&priv_a, &derived, &error));
        ck_assert_mem_eq(derived.bytes, pub_a.bytes, WG_KEY_LEN);
}
END_TEST

START_TEST(test_generate_many_clamped) {
        for (unsigned i = 0; i < 64; i++) {
                WgKey priv, pub;

                ck_assert(wg_key_generate(&priv, &pub, NULL));
                ck_assert_uint_eq(priv.bytes[0] & 7, 0);
                ck_assert_uint_eq(priv.bytes[31] & 0xc0, 0x40);
                wg_key_wipe(&priv);
        }
}
END_TEST

START_TEST(test_round_trips) {
        for (unsigned pattern = 0; pattern < 8; pattern++) {
                g_autofree char *b64 = NULL, *hex = NULL, *upper = NULL;
                g_autoptr(GError) error = NULL;
                WgKey key, back;

                if (pattern >= 3)
                        ck_assert(wg_key_generate(&key, &back, NULL));
                else
                        for (size_t i = 0; i < WG_KEY_LEN; i++)
                                key.bytes[i] = (uint8_t) (pattern == 0 ? 0 : pattern == 1 ? 0xff : i * 31 + 7);

                b64 = wg_key_to_base64(&key);
                ck_assert_uint_eq(strlen(b64), WG_KEY_B64_LEN);
                ck_assert_int_eq(b64[WG_KEY_B64_LEN - 1], '=');
                ck_assert(wg_key_from_base64(b64, &back, &error));
                ck_assert_mem_eq(back.bytes, key.bytes, WG_KEY_LEN);

                hex = wg_key_to_hex(&key);
                ck_assert_uint_eq(strlen(hex), 64);
                for (size_t i = 0; hex[i]; i++)
                        ck_assert(g_ascii_isdigit(hex[i]) || (hex[i] >= 'a' && hex[i] <= 'f'));
                ck_assert(wg_key_from_hex(hex, &back, &error));
                ck_assert_mem_eq(back.bytes, key.bytes, WG_KEY_LEN);

                /* Upper-case hex is read too. */
                upper = g_ascii_strup(hex, -1);
                ck_assert(wg_key_from_hex(upper, &back, &error));
                ck_assert_mem_eq(back.bytes, key.bytes, WG_KEY_LEN);
        }
}
END_TEST

static const struct {
        const char *text;
        const char *reason;
} bad_base64[] = {
        { "", "empty" },
        { "j0DFrbaPJWJK5bIU6nZ6bslNgp09e14a0bpvPiE4KF8", "43 characters (padding left off)" },
        { "j0DFrbaPJWJK5bIU6nZ6bslNgp09e14a0bpvPiE4KF8==", "45 characters" },
        { "j0DFrbaPJWJK5bIU6nZ6bslNgp09e14a0bpvPiE4KF", "42 characters" },
        { "j0DFrbaPJWJK5bIU6nZ6bslNgp09e14a0bpvPiE4KF8=\n", "trailing newline" },
        { " j0DFrbaPJWJK5bIU6nZ6bslNgp09e14a0bpvPiE4KF8=", "leading space" },
        { "j0DFrbaPJWJK5bIU6nZ6bsl Ngp09e14a0bpvPiE4KF8", "space inside" },
        { "j0DFrbaPJWJK5bIU6nZ6bslNgp09e14a0bpvPiE4K*8=", "'*' is not base64" },
        { "PkIiDgviOnW4wRLBqSUyihZ_etf0Q2ubeJ76hVqIJwk=", "URL-safe alphabet" },
        { "j0DFrbaPJWJK5bIU6nZ6bslNgp09e14a0bpvPiE4KA==", "decodes to 31 bytes" },
        { "j0DFrbaPJWJK5bIU6nZ6bslNgp09e14a0bpvPiE4KF8A", "no padding: 33 bytes" },
        { "j0DFrbaPJWJK5bIU6nZ6bslNgp09e14a0bpvPiE4KF9=", "stray bits in the last character" },
        { "j0DFrbaPJWJK5bIU6nZ6bslNgp09e14a0bpvPiE4=F8=", "padding inside" },
        { "8f40c5adb68f25624ae5b214ea767a6ec94d829d3d7b5e1ad1ba6f3e2138285f", "hex given" },
        { "\xc3\xa9j0DFrbaPJWJK5bIU6nZ6bslNgp09e14a0bpvPiE4K=", "non-ASCII" },
};

START_TEST(test_base64_refused) {
        const char *text = bad_base64[_i].text;
        g_autoptr(GError) error = NULL;
        g_autofree char *escaped = g_strescape(text, NULL);
        g_autofree char *quoted = g_strdup_printf("\"%s\"", escaped);
        WgKey key;

        memset(key.bytes, 0xaa, WG_KEY_LEN);
        ck_assert_msg(!wg_key_from_base64(text, &key, &error), "accepted: %s", bad_base64[_i].reason);
        ck_assert(g_error_matches(error, PIC_ERROR, PIC_ERROR_INVALID_ARGUMENT));
        ck_assert_msg(strstr(error->message, quoted), "value not quoted: %s", error->message);
        for (size_t i = 0; i < WG_KEY_LEN; i++)
                ck_assert_uint_eq(key.bytes[i], 0xaa);
}
END_TEST

static const struct {
        const char *text;
        const char *reason;
} bad_hex[] = {
        { "", "empty" },
        { "8f40c5adb68f25624ae5b214ea767a6ec94d829d3d7b5e1ad1ba6f3e2138285", "63 characters" },
        { "8f40c5adb68f25624ae5b214ea767a6ec94d829d3d7b5e1ad1ba6f3e2138285f0", "65 characters" },
        { "8f40c5adb68f25624ae5b214ea767a6ec94d829d3d7b5e1ad1ba6f3e2138285g", "'g' at the end" },
        { "g840c5adb68f25624ae5b214ea767a6ec94d829d3d7b5e1ad1ba6f3e2138285f", "'g' at the start" },
        { "8f40c5adb68f25624ae5b214ea767a6 c94d829d3d7b5e1ad1ba6f3e2138285f", "space inside" },
        { "0x40c5adb68f25624ae5b214ea767a6ec94d829d3d7b5e1ad1ba6f3e2138285f", "0x prefix" },
        { "j0DFrbaPJWJK5bIU6nZ6bslNgp09e14a0bpvPiE4KF8=", "base64 given" },
};

START_TEST(test_hex_refused) {
        const char *text = bad_hex[_i].text;
        g_autoptr(GError) error = NULL;
        g_autofree char *quoted = g_strdup_printf("\"%s\"", text);
        WgKey key;

        memset(key.bytes, 0xaa, WG_KEY_LEN);
        ck_assert_msg(!wg_key_from_hex(text, &key, &error), "accepted: %s", bad_hex[_i].reason);
        ck_assert(g_error_matches(error, PIC_ERROR, PIC_ERROR_INVALID_ARGUMENT));
        ck_assert_msg(strstr(error->message, quoted), "value not quoted: %s", error->message);
        for (size_t i = 0; i < WG_KEY_LEN; i++)
                ck_assert_uint_eq(key.bytes[i], 0xaa);
}
END_TEST

START_TEST(test_long_garbage_shortened) {
        g_autofree char *text = g_strnfill(5000, 'x');
        g_autoptr(GError) error = NULL;
        WgKey key;

        ck_assert(!wg_key_from_base64(text, &key, &error));
        ck_assert(g_error_matches(error, PIC_ERROR, PIC_ERROR_INVALID_ARGUMENT));
        ck_assert_uint_lt(strlen(error->message), 400);
        ck_assert_ptr_nonnull(strstr(error->message, "xxxx..."));

        g_clear_error(&error);
        ck_assert(!wg_key_from_hex(text, &key, &error));
        ck_assert_uint_lt(strlen(error->message), 400);
}
END_TEST

START_TEST(test_zero_and_wipe) {
        WgKey key = {};
        WgKey pub;

        ck_assert(wg_key_is_zero(&key));
        key.bytes[17] = 1;
        ck_assert(!wg_key_is_zero(&key));

        ck_assert(wg_key_generate(&key, &pub, NULL));
        ck_assert(!wg_key_is_zero(&key));
        wg_key_wipe(&key);
        ck_assert(wg_key_is_zero(&key));
        wg_key_wipe(NULL);
}
END_TEST

Suite *unit_suite(void) {
        Suite *s = suite_create("wg-key");
        TCase *tc;

        tc = tcase_create("derivation");
        tcase_add_loop_test(tc, test_fixed_vectors, 0, G_N_ELEMENTS(vectors));
        tcase_add_test(tc, test_generate);
        tcase_add_test(tc, test_generate_many_clamped);
        suite_add_tcase(s, tc);

        tc = tcase_create("encodings");
        tcase_add_test(tc, test_round_trips);
        tcase_add_loop_test(tc, test_base64_refused, 0, G_N_ELEMENTS(bad_base64));
        tcase_add_loop_test(tc, test_hex_refused, 0, G_N_ELEMENTS(bad_hex));
        tcase_add_test(tc, test_long_garbage_shortened);
        tcase_add_test(tc, test_zero_and_wipe);
        suite_add_tcase(s, tc);

        return s;
}
