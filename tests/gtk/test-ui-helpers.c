/* test-ui-helpers.c: the app's display-free helpers: times, traffic, fingerprints, QR pixels, invite checks. */
#include "config.h"

#include <locale.h>
#include <string.h>

#include "pic-format.h"
#include "pic-invite-check.h"
#include "pic-qr-matrix.h"
#include "unit-main.h"

#define NOW 1800000000

static const struct {
        guint64 then;
        const char *expected;
} relative_cases[] = {
        { 0, "never" },
        { NOW, "just now" },
        { NOW + 30, "just now" },               /* their clock a little ahead */
        { NOW - 59, "just now" },
        { NOW - 60, "1 minute ago" },
        { NOW - 150, "2 minutes ago" },
        { NOW - 3599, "59 minutes ago" },
        { NOW - 3600, "1 hour ago" },
        { NOW - 86399, "23 hours ago" },
        { NOW - 86400 * 3, "3 days ago" },
};

START_TEST(test_relative_time) {
        g_autofree char *text = pic_format_relative_time(relative_cases[_i].then, NOW);
        ck_assert_str_eq(text, relative_cases[_i].expected);
}
END_TEST

START_TEST(test_handshake) {
        g_autofree char *never = pic_format_handshake(0, NOW);
        g_autofree char *recent = pic_format_handshake(NOW - 120, NOW);

        ck_assert_str_eq(never, "no handshake yet");
        ck_assert_str_eq(recent, "last handshake 2 minutes ago");
}
END_TEST

START_TEST(test_traffic) {
        g_autofree char *text = pic_format_traffic(1200, 3400000);
        /* GLib puts a no-break space between number and unit. */
        ck_assert_str_eq(text, "1.2\xc2\xa0kB received, 3.4\xc2\xa0MB sent");
}
END_TEST

static const struct {
        gint64 expires;
        const char *expected;
} expiry_cases[] = {
        { NOW - 1, "expired" },
        { NOW, "expired" },
        { NOW + 30, "expires in 1 minute" },
        { NOW + 600, "expires in 10 minutes" },
        { NOW + 86400, "expires in 24 hours" },
        { NOW + 86400 * 7, "expires in 7 days" },
};

START_TEST(test_expiry) {
        g_autofree char *text = pic_format_expiry(expiry_cases[_i].expires, NOW);
        ck_assert_str_eq(text, expiry_cases[_i].expected);
}
END_TEST

START_TEST(test_fingerprint) {
        /* SHA-256 of 32 zero bytes starts with 66687aadf862bd77. */
        g_autofree char *zero = pic_format_fingerprint("AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA=");
        ck_assert_str_eq(zero, "6668 7aad f862");

        ck_assert_ptr_null(pic_format_fingerprint(NULL));
        ck_assert_ptr_null(pic_format_fingerprint(""));
        ck_assert_ptr_null(pic_format_fingerprint("AAAA"));
        ck_assert_ptr_null(pic_format_fingerprint("AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA*="));
}
END_TEST

START_TEST(test_ports) {
        g_autoptr(GVariant) ports = g_variant_ref_sink(g_variant_new_parsed("[('tcp', uint16 25), ('udp', 53)]"));
        g_autoptr(GVariant) none = g_variant_ref_sink(g_variant_new_parsed("@a(sq) []"));
        g_autofree char *text = pic_format_ports(ports);
        g_autofree char *empty = pic_format_ports(none);

        ck_assert_str_eq(text, "tcp 25, udp 53");
        ck_assert_str_eq(empty, "");
}
END_TEST

START_TEST(test_link_status) {
        ck_assert_int_eq(pic_link_status(TRUE, TRUE), PIC_LINK_STATUS_CONNECTED);
        ck_assert_int_eq(pic_link_status(FALSE, TRUE), PIC_LINK_STATUS_CONNECTED);
        ck_assert_int_eq(pic_link_status(TRUE, FALSE), PIC_LINK_STATUS_NOT_CONNECTED);
        ck_assert_int_eq(pic_link_status(FALSE, FALSE), PIC_LINK_STATUS_WAITING);
        ck_assert_str_eq(pic_link_status_to_string(PIC_LINK_STATUS_WAITING), "waiting");
        ck_assert_str_eq(pic_link_status_to_label(PIC_LINK_STATUS_CONNECTED), "Connected");
}
END_TEST

/* A finder pattern: a 7x7 dark ring, a light ring, a 3x3 dark core. */
static gboolean finder_at(const PicQrMatrix *m, int x0, int y0) {
        for (int y = 0; y < 7; y++)
                for (int x = 0; x < 7; x++) {
                        gboolean ring = x == 0 || y == 0 || x == 6 || y == 6;
                        gboolean core = x >= 2 && x <= 4 && y >= 2 && y <= 4;
                        if (m->dark[(y0 + y) * m->width + x0 + x] != (ring || core))
                                return FALSE;
                }
        return TRUE;
}

START_TEST(test_qr_matrix) {
        g_autoptr(GError) error = NULL;
        g_autoptr(PicQrMatrix) m = pic_qr_matrix_new("pic1:eyJ2ZXJzaW9uIjoxfQ", &error);
        g_autoptr(GBytes) pixels = NULL;
        const guint8 *data;
        int side = 0, scale = 3, full;
        gsize size;

        ck_assert_ptr_nonnull(m);
        ck_assert_int_eq((m->width - 17) % 4, 0);       /* 17 + 4 * version */
        ck_assert(finder_at(m, 0, 0));
        ck_assert(finder_at(m, m->width - 7, 0));
        ck_assert(finder_at(m, 0, m->width - 7));

        full = pic_qr_matrix_full_width(m);
        ck_assert_int_eq(full, m->width + 2 * PIC_QR_QUIET_ZONE);
        pixels = pic_qr_matrix_render(m, scale, &side);
        data = g_bytes_get_data(pixels, &size);
        ck_assert_int_eq(side, full * scale);
        ck_assert_uint_eq(size, (gsize) side * side * 3);

        /* The quiet zone is white, the finder's corner module black, each an exact square. */
        for (int y = 0; y < side; y++)
                for (int x = 0; x < side; x++) {
                        int mx = x / scale - PIC_QR_QUIET_ZONE, my = y / scale - PIC_QR_QUIET_ZONE;
                        gboolean dark = mx >= 0 && my >= 0 && mx < m->width && my < m->width &&
                                        m->dark[my * m->width + mx];
                        const guint8 *p = data + ((gsize) y * side + x) * 3;
                        ck_assert_int_eq(p[0], dark ? 0 : 255);
                        ck_assert_int_eq(p[0], p[1]);
                        ck_assert_int_eq(p[1], p[2]);
                }
}
END_TEST

START_TEST(test_qr_too_long) {
        g_autoptr(GError) error = NULL;
        g_autofree char *text = g_malloc(8000);

        memset(text, 'x', 7999);
        text[7999] = '\0';
        ck_assert_ptr_null(pic_qr_matrix_new(text, &error));
        ck_assert_ptr_nonnull(error);
        ck_assert_ptr_nonnull(strstr(error->message, "7999 bytes"));
}
END_TEST

#define KEY "S1oCuKrPXvzaTWLVuIQ4XKrmW4Eiinlkt8cDXms05So="
#define INVITE_JSON \
        "{\"version\":1,\"cell_name\":\"cellb\",\"public_key\":\"" KEY "\"," \
        "\"endpoint\":\"192.0.2.10:51820\",\"vpn_subnet\":\"10.23.7.0/24\"," \
        "\"dns_ip\":\"10.23.7.1\",\"domain\":\"cellb.cell\"}"

START_TEST(test_invite_valid) {
        g_autoptr(GError) error = NULL;
        g_autoptr(PicInviteSummary) s = pic_invite_check("  " INVITE_JSON "\n", &error);

        ck_assert_ptr_nonnull(s);
        ck_assert_str_eq(s->cell_name, "cellb");
        ck_assert_str_eq(s->domain, "cellb.cell");
        ck_assert_str_eq(s->vpn_subnet, "10.23.7.0/24");
        ck_assert(!s->has_pairing);
        ck_assert_int_eq(s->expires, 0);
}
END_TEST

START_TEST(test_invite_compact) {
        g_autoptr(GError) error = NULL;
        g_autofree char *b64 = g_base64_encode((const guchar *) INVITE_JSON, strlen(INVITE_JSON));
        g_autofree char *compact = NULL;
        g_autoptr(PicInviteSummary) s = NULL;

        /* base64url without padding */
        g_strdelimit(b64, "+", '-');
        g_strdelimit(b64, "/", '_');
        for (char *p = b64 + strlen(b64); p > b64 && p[-1] == '='; p--)
                p[-1] = '\0';
        compact = g_strconcat("pic1:", b64, NULL);
        s = pic_invite_check(compact, &error);
        ck_assert_ptr_nonnull(s);
        ck_assert_str_eq(s->cell_name, "cellb");
}
END_TEST

static const struct {
        const char *text;
        const char *quoted;
} invalid_cases[] = {
        { "", "empty" },
        { "pic1:!!!", "invite" },
        { "{\"version\":1}", "cell_name" },
        { "{\"version\":1,\"cell_name\":\"cellb\",\"public_key\":\"" KEY "\","
          "\"endpoint\":\"192.0.2.10:51820\",\"vpn_subnet\":\"10.23.7.0/33\","
          "\"dns_ip\":\"10.23.7.1\",\"domain\":\"cellb.cell\"}", "10.23.7.0/33" },
};

START_TEST(test_invite_invalid) {
        g_autoptr(GError) error = NULL;
        g_autoptr(PicInviteSummary) s = pic_invite_check(invalid_cases[_i].text, &error);

        ck_assert_ptr_null(s);
        ck_assert_ptr_nonnull(error);
        ck_assert_msg(strstr(error->message, invalid_cases[_i].quoted),
                      "'%s' does not mention '%s'", error->message, invalid_cases[_i].quoted);
}
END_TEST

Suite *unit_suite(void) {
        Suite *s = suite_create("ui-helpers");
        TCase *tc = tcase_create("format");

        /* The expected texts are the untranslated ones. */
        setlocale(LC_ALL, "C.UTF-8");

        tcase_add_loop_test(tc, test_relative_time, 0, G_N_ELEMENTS(relative_cases));
        tcase_add_test(tc, test_handshake);
        tcase_add_test(tc, test_traffic);
        tcase_add_loop_test(tc, test_expiry, 0, G_N_ELEMENTS(expiry_cases));
        tcase_add_test(tc, test_fingerprint);
        tcase_add_test(tc, test_ports);
        tcase_add_test(tc, test_link_status);
        suite_add_tcase(s, tc);

        tc = tcase_create("qr");
        tcase_add_test(tc, test_qr_matrix);
        tcase_add_test(tc, test_qr_too_long);
        suite_add_tcase(s, tc);

        tc = tcase_create("invite");
        tcase_add_test(tc, test_invite_valid);
        tcase_add_test(tc, test_invite_compact);
        tcase_add_loop_test(tc, test_invite_invalid, 0, G_N_ELEMENTS(invalid_cases));
        suite_add_tcase(s, tc);
        return s;
}
