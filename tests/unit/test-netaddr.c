/* test-netaddr.c: unit tests for IPv4 parsing, prefix arithmetic and address allocation. */
#include <string.h>

#include "netaddr.h"
#include "pic-error.h"
#include "unit-main.h"

#define A(a, b, c, d) (((uint32_t) (a) << 24) | ((uint32_t) (b) << 16) | ((uint32_t) (c) << 8) | (uint32_t) (d))

static void assert_invalid(GError *error, const char *text) {
        g_autofree char *quoted = g_strdup_printf("'%s'", text);

        ck_assert_ptr_nonnull(error);
        ck_assert(g_error_matches(error, PIC_ERROR, PIC_ERROR_INVALID_ARGUMENT));
        ck_assert_msg(strstr(error->message, quoted), "message '%s' does not quote %s",
                      error->message, quoted);
}

static const struct {
        const char *text;
        uint32_t address;
} good_addresses[] = {
        { "0.0.0.0", 0 },
        { "10.0.0.1", A(10, 0, 0, 1) },
        { "10.23.7.1", A(10, 23, 7, 1) },
        { "255.255.255.255", UINT32_MAX },
        { "192.0.2.10", A(192, 0, 2, 10) },
        { "1.20.100.0", A(1, 20, 100, 0) },
};

START_TEST(test_parse_address_good) {
        g_autoptr(GError) error = NULL;
        uint32_t address = 0;

        ck_assert(netaddr_parse_address(good_addresses[_i].text, &address, &error));
        ck_assert_ptr_null(error);
        ck_assert_uint_eq(address, good_addresses[_i].address);
}
END_TEST

static const char *const bad_addresses[] = {
        "", "10.0.0", "10.0.0.1.", "10.0.0.1.5", ".10.0.0.1", "10..0.1", " 10.0.0.1",
        "10.0.0.1 ", "10.0.0.1x", "010.0.0.1", "10.0.0.01", "10.0.0.00", "256.0.0.1",
        "10.0.0.256", "10.0.0.4294967297", "+10.0.0.1", "10.-1.0.1", "0x0a.0.0.1",
        "10.0.0.0x1", "10.0.0.1/24", "a.b.c.d", "10.0.0.1\n", "10.0.0.99999999999999999999",
        "1", "10.0.0.1:80",
};

START_TEST(test_parse_address_bad) {
        g_autoptr(GError) error = NULL;
        uint32_t address = 0xdeadbeef;

        ck_assert(!netaddr_parse_address(bad_addresses[_i], &address, &error));
        ck_assert_uint_eq(address, 0xdeadbeef);
        if (strchr(bad_addresses[_i], '\n'))
                ck_assert(g_error_matches(error, PIC_ERROR, PIC_ERROR_INVALID_ARGUMENT));
        else
                assert_invalid(error, bad_addresses[_i]);
}
END_TEST

START_TEST(test_parse_address_null_and_escaping) {
        g_autoptr(GError) error = NULL;
        g_autoptr(GError) error2 = NULL;

        ck_assert(!netaddr_parse_address(NULL, NULL, &error));
        ck_assert(g_error_matches(error, PIC_ERROR, PIC_ERROR_INVALID_ARGUMENT));

        /* control characters and non-UTF-8 bytes never reach a D-Bus message raw */
        ck_assert(!netaddr_parse_address("10.0.0.1\n\xff", NULL, &error2));
        ck_assert(g_utf8_validate(error2->message, -1, NULL));
        ck_assert_ptr_null(strchr(error2->message, '\n'));
        ck_assert_ptr_nonnull(strstr(error2->message, "10.0.0.1\\n"));
}
END_TEST

static const struct {
        const char *text;
        bool require_prefix;
        uint32_t address;
        unsigned prefixlen;
} good_prefixes[] = {
        { "10.23.7.1/24", true, A(10, 23, 7, 1), 24 },
        { "10.0.0.0/8", true, A(10, 0, 0, 0), 8 },
        { "0.0.0.0/0", true, 0, 0 },
        { "10.0.0.1/32", true, A(10, 0, 0, 1), 32 },
        { "10.0.0.1/0", true, A(10, 0, 0, 1), 0 },
        { "10.0.0.1", false, A(10, 0, 0, 1), 32 },
        { "10.0.0.0/16", false, A(10, 0, 0, 0), 16 },
};

START_TEST(test_parse_prefix_good) {
        g_autoptr(GError) error = NULL;
        Ipv4Prefix p = { 0 };

        ck_assert(netaddr_parse_prefix(good_prefixes[_i].text, good_prefixes[_i].require_prefix, &p, &error));
        ck_assert_ptr_null(error);
        ck_assert_uint_eq(p.address, good_prefixes[_i].address);
        ck_assert_uint_eq(p.prefixlen, good_prefixes[_i].prefixlen);
}
END_TEST

static const char *const bad_prefixes[] = {
        "", "/24", "10.0.0.1/", "10.0.0.1/33", "10.0.0.1/024", "10.0.0.1/00", "10.0.0.1/-1",
        "10.0.0.1/+8", "10.0.0.1/ 8", "10.0.0.1/8 ", "10.0.0.1/8/8", "10.0.0.1/0x8",
        "010.0.0.1/8", "10.0.0/8", "10.0.0.1./8", " 10.0.0.1/8", "10.0.0.1/99999999999",
        "10.0.0.1", /* required */
};

START_TEST(test_parse_prefix_bad) {
        g_autoptr(GError) error = NULL;
        Ipv4Prefix p = { .address = 7, .prefixlen = 7 };

        ck_assert(!netaddr_parse_prefix(bad_prefixes[_i], true, &p, &error));
        ck_assert_uint_eq(p.address, 7);
        ck_assert_uint_eq(p.prefixlen, 7);
        assert_invalid(error, bad_prefixes[_i]);
}
END_TEST

START_TEST(test_parse_prefix_optional_still_strict) {
        g_autoptr(GError) error = NULL;

        ck_assert(!netaddr_parse_prefix("10.0.0.1/33", false, NULL, &error));
        assert_invalid(error, "10.0.0.1/33");
}
END_TEST

static const struct {
        const char *text;
        const char *host;
        uint16_t port;
} good_endpoints[] = {
        { "192.0.2.10:51820", "192.0.2.10", 51820 },
        { "cella.example.org:1", "cella.example.org", 1 },
        { "router:65535", "router", 65535 },
        { "My-Host.EXAMPLE.com:443", "My-Host.EXAMPLE.com", 443 },
        { "a1.b2:10", "a1.b2", 10 },
};

START_TEST(test_parse_endpoint_good) {
        g_autoptr(GError) error = NULL;
        g_autofree char *host = NULL;
        uint16_t port = 0;

        ck_assert(netaddr_parse_endpoint(good_endpoints[_i].text, &host, &port, &error));
        ck_assert_ptr_null(error);
        ck_assert_str_eq(host, good_endpoints[_i].host);
        ck_assert_uint_eq(port, good_endpoints[_i].port);
}
END_TEST

static const char *const bad_endpoints[] = {
        "", ":", "192.0.2.10", "192.0.2.10:", ":51820", "192.0.2.10:0", "192.0.2.10:65536",
        "192.0.2.10:051820", "192.0.2.10:+80", "192.0.2.10:-80", "192.0.2.10:80 ",
        " 192.0.2.10:80", "192.0.2.10:0x50", "192.0.2:80", "192.0.2.10.:80", "010.0.2.10:80",
        "256.0.0.1:80", "host.:80", ".host:80", "-host:80", "host-:80", "ho_st:80",
        "ho st:80", "[::1]:80", "::1", "a..b:80", "host:80:80", "1234:80",
        "host:99999999999999999999",
};

START_TEST(test_parse_endpoint_bad) {
        g_autoptr(GError) error = NULL;
        char *host = (char *) "untouched";
        uint16_t port = 7;

        ck_assert(!netaddr_parse_endpoint(bad_endpoints[_i], &host, &port, &error));
        ck_assert_str_eq(host, "untouched");
        ck_assert_uint_eq(port, 7);
        assert_invalid(error, bad_endpoints[_i]);
}
END_TEST

START_TEST(test_parse_endpoint_long_names) {
        g_autoptr(GError) error = NULL;
        g_autofree char *label63 = g_strnfill(63, 'a');
        g_autofree char *label64 = g_strnfill(64, 'a');
        g_autofree char *ok = g_strdup_printf("%s.cell:80", label63);
        g_autofree char *bad = g_strdup_printf("%s.cell:80", label64);
        g_autofree char *host = NULL;
        uint16_t port;

        ck_assert(netaddr_parse_endpoint(ok, &host, &port, NULL));
        ck_assert_uint_eq(strlen(host), 68);
        ck_assert(!netaddr_parse_endpoint(bad, NULL, NULL, &error));
        ck_assert(g_error_matches(error, PIC_ERROR, PIC_ERROR_INVALID_ARGUMENT));
}
END_TEST

START_TEST(test_format) {
        Ipv4Prefix p = { .address = A(10, 23, 7, 1), .prefixlen = 24 };
        Ipv4Prefix all = { .address = A(10, 23, 7, 1), .prefixlen = 0 };
        g_autofree char *address = netaddr_format_address(A(10, 23, 7, 1));
        g_autofree char *zero = netaddr_format_address(0);
        g_autofree char *max = netaddr_format_address(UINT32_MAX);
        g_autofree char *prefix = netaddr_format_prefix(&p);
        g_autofree char *network = netaddr_format_network(&p);
        g_autofree char *network0 = netaddr_format_network(&all);

        ck_assert_str_eq(address, "10.23.7.1");
        ck_assert_str_eq(zero, "0.0.0.0");
        ck_assert_str_eq(max, "255.255.255.255");
        ck_assert_str_eq(prefix, "10.23.7.1/24");
        ck_assert_str_eq(network, "10.23.7.0/24");
        ck_assert_str_eq(network0, "0.0.0.0/0");
}
END_TEST

START_TEST(test_format_roundtrip) {
        static const char *const texts[] = { "0.0.0.0/0", "10.23.7.1/24", "255.255.255.255/32", "172.16.0.5/31" };

        for (size_t i = 0; i < G_N_ELEMENTS(texts); i++) {
                Ipv4Prefix p;
                g_autofree char *back = NULL;

                ck_assert(netaddr_parse_prefix(texts[i], true, &p, NULL));
                back = netaddr_format_prefix(&p);
                ck_assert_str_eq(back, texts[i]);
        }
}
END_TEST

START_TEST(test_masks) {
        ck_assert_uint_eq(netaddr_netmask(0), 0);
        ck_assert_uint_eq(netaddr_netmask(1), 0x80000000u);
        ck_assert_uint_eq(netaddr_netmask(8), 0xff000000u);
        ck_assert_uint_eq(netaddr_netmask(24), 0xffffff00u);
        ck_assert_uint_eq(netaddr_netmask(31), 0xfffffffeu);
        ck_assert_uint_eq(netaddr_netmask(32), 0xffffffffu);

        Ipv4Prefix p24 = { A(10, 23, 7, 1), 24 };
        Ipv4Prefix p0 = { A(10, 23, 7, 1), 0 };
        Ipv4Prefix p32 = { A(10, 23, 7, 1), 32 };
        Ipv4Prefix p31 = { A(10, 23, 7, 1), 31 };

        ck_assert_uint_eq(netaddr_network(&p24), A(10, 23, 7, 0));
        ck_assert_uint_eq(netaddr_broadcast(&p24), A(10, 23, 7, 255));
        ck_assert_uint_eq(netaddr_network(&p0), 0);
        ck_assert_uint_eq(netaddr_broadcast(&p0), UINT32_MAX);
        ck_assert_uint_eq(netaddr_network(&p32), A(10, 23, 7, 1));
        ck_assert_uint_eq(netaddr_broadcast(&p32), A(10, 23, 7, 1));
        ck_assert_uint_eq(netaddr_network(&p31), A(10, 23, 7, 0));
        ck_assert_uint_eq(netaddr_broadcast(&p31), A(10, 23, 7, 1));

        Ipv4Prefix c = netaddr_canonical(&p24);
        ck_assert_uint_eq(c.address, A(10, 23, 7, 0));
        ck_assert_uint_eq(c.prefixlen, 24);
        c = netaddr_canonical(&p0);
        ck_assert_uint_eq(c.address, 0);
        ck_assert_uint_eq(c.prefixlen, 0);
        c = netaddr_canonical(&p32);
        ck_assert_uint_eq(c.address, A(10, 23, 7, 1));
        ck_assert_uint_eq(c.prefixlen, 32);
}
END_TEST

START_TEST(test_contains) {
        Ipv4Prefix p24 = { A(10, 23, 7, 1), 24 };
        Ipv4Prefix p0 = { A(10, 0, 0, 0), 0 };
        Ipv4Prefix p32 = { A(10, 23, 7, 1), 32 };

        ck_assert(netaddr_contains(&p24, A(10, 23, 7, 0)));
        ck_assert(netaddr_contains(&p24, A(10, 23, 7, 255)));
        ck_assert(!netaddr_contains(&p24, A(10, 23, 8, 0)));
        ck_assert(!netaddr_contains(&p24, A(10, 23, 6, 255)));
        ck_assert(netaddr_contains(&p0, 0));
        ck_assert(netaddr_contains(&p0, UINT32_MAX));
        ck_assert(netaddr_contains(&p32, A(10, 23, 7, 1)));
        ck_assert(!netaddr_contains(&p32, A(10, 23, 7, 2)));
}
END_TEST

static const struct {
        const char *a, *b;
        bool overlaps;
        bool a_contains_b;
} prefix_pairs[] = {
        { "10.1.2.1/24", "10.1.2.0/24", true, true },
        { "10.1.0.0/16", "10.1.2.0/24", true, true },
        { "10.1.2.0/24", "10.1.0.0/16", true, false },
        { "10.1.2.0/24", "10.1.3.0/24", false, false },
        { "10.1.2.0/25", "10.1.2.128/25", false, false },
        { "0.0.0.0/0", "192.0.2.1/32", true, true },
        { "192.0.2.1/32", "0.0.0.0/0", true, false },
        { "192.0.2.1/32", "192.0.2.1/32", true, true },
        { "192.0.2.1/32", "192.0.2.2/32", false, false },
        { "192.0.2.0/31", "192.0.2.1/32", true, true },
        { "0.0.0.0/0", "0.0.0.0/0", true, true },
        { "10.0.0.0/8", "11.0.0.0/8", false, false },
};

START_TEST(test_overlaps) {
        Ipv4Prefix a, b;

        ck_assert(netaddr_parse_prefix(prefix_pairs[_i].a, true, &a, NULL));
        ck_assert(netaddr_parse_prefix(prefix_pairs[_i].b, true, &b, NULL));
        ck_assert_msg(netaddr_overlaps(&a, &b) == prefix_pairs[_i].overlaps, "%s %s", prefix_pairs[_i].a, prefix_pairs[_i].b);
        ck_assert(netaddr_overlaps(&b, &a) == prefix_pairs[_i].overlaps);
        ck_assert(netaddr_prefix_contains(&a, &b) == prefix_pairs[_i].a_contains_b);
}
END_TEST

START_TEST(test_allocate_basic) {
        g_autoptr(GError) error = NULL;
        Ipv4Prefix range = { A(10, 23, 7, 1), 24 };
        uint32_t taken[] = { A(10, 23, 7, 3), A(10, 23, 7, 2) };
        uint32_t a = 0;

        /* skips the network address and the range's own address */
        ck_assert(netaddr_allocate(&range, NULL, 0, &a, &error));
        ck_assert_uint_eq(a, A(10, 23, 7, 2));
        /* skips taken ones, given in any order */
        ck_assert(netaddr_allocate(&range, taken, G_N_ELEMENTS(taken), &a, &error));
        ck_assert_uint_eq(a, A(10, 23, 7, 4));
        ck_assert_ptr_null(error);

        /* the cell need not sit on .1 */
        range.address = A(10, 23, 7, 200);
        ck_assert(netaddr_allocate(&range, NULL, 0, &a, NULL));
        ck_assert_uint_eq(a, A(10, 23, 7, 1));
}
END_TEST

START_TEST(test_allocate_follows_address) {
        Ipv4Prefix range;
        uint32_t a, previous;

        ck_assert(netaddr_parse_prefix("10.1.2.1/24", true, &range, NULL));
        ck_assert(netaddr_allocate(&range, NULL, 0, &a, NULL));
        ck_assert(netaddr_contains(&range, a));
        ck_assert_uint_eq(a, A(10, 1, 2, 2));

        ck_assert(netaddr_parse_prefix("10.9.9.1/24", true, &range, NULL));
        previous = a;
        ck_assert(netaddr_allocate(&range, &previous, 1, &a, NULL));
        ck_assert(netaddr_contains(&range, a));
        ck_assert_uint_eq(a, A(10, 9, 9, 2));
}
END_TEST

START_TEST(test_allocate_full) {
        g_autoptr(GError) error = NULL;
        g_autoptr(GError) error30 = NULL;
        g_autoptr(GError) error32 = NULL;
        Ipv4Prefix range = { A(10, 23, 7, 1), 24 };
        Ipv4Prefix r30 = { A(10, 23, 7, 1), 30 };
        Ipv4Prefix r32 = { A(10, 23, 7, 1), 32 };
        uint32_t taken[256];
        uint32_t a = 0xdeadbeef;

        /* taken includes the network and broadcast; a duplicate does no harm */
        for (unsigned i = 0; i < 256; i++)
                taken[i] = A(10, 23, 7, i);
        taken[254] = A(10, 23, 7, 9);
        ck_assert(netaddr_allocate(&range, taken, 256, &a, NULL));
        ck_assert_uint_eq(a, A(10, 23, 7, 254));

        taken[254] = A(10, 23, 7, 254);
        a = 0xdeadbeef;
        ck_assert(!netaddr_allocate(&range, taken, 256, &a, &error));
        ck_assert_uint_eq(a, 0xdeadbeef);
        ck_assert(g_error_matches(error, PIC_ERROR, PIC_ERROR_LIMIT_EXCEEDED));
        ck_assert_ptr_nonnull(strstr(error->message, "10.23.7.0/24"));

        /* a /30 has two hosts: the cell and one more */
        taken[0] = A(10, 23, 7, 2);
        ck_assert(netaddr_allocate(&r30, NULL, 0, &a, NULL));
        ck_assert_uint_eq(a, A(10, 23, 7, 2));
        ck_assert(!netaddr_allocate(&r30, taken, 1, &a, &error30));
        ck_assert(g_error_matches(error30, PIC_ERROR, PIC_ERROR_LIMIT_EXCEEDED));

        ck_assert(!netaddr_allocate(&r32, NULL, 0, &a, &error32));
        ck_assert(g_error_matches(error32, PIC_ERROR, PIC_ERROR_LIMIT_EXCEEDED));
}
END_TEST

START_TEST(test_allocate_edges) {
        Ipv4Prefix r31 = { A(10, 23, 7, 1), 31 };
        Ipv4Prefix r31b = { A(10, 23, 7, 0), 31 };
        Ipv4Prefix top = { A(255, 255, 255, 253), 30 };
        Ipv4Prefix all = { A(0, 0, 0, 1), 0 };
        uint32_t a;

        /* RFC 3021: both addresses of a /31 are hosts */
        ck_assert(netaddr_allocate(&r31, NULL, 0, &a, NULL));
        ck_assert_uint_eq(a, A(10, 23, 7, 0));
        ck_assert(netaddr_allocate(&r31b, NULL, 0, &a, NULL));
        ck_assert_uint_eq(a, A(10, 23, 7, 1));

        /* the top of the address space does not wrap around */
        ck_assert(netaddr_allocate(&top, NULL, 0, &a, NULL));
        ck_assert_uint_eq(a, A(255, 255, 255, 254));
        uint32_t t = A(255, 255, 255, 254);
        ck_assert(!netaddr_allocate(&top, &t, 1, &a, NULL));

        ck_assert(netaddr_allocate(&all, NULL, 0, &a, NULL));
        ck_assert_uint_eq(a, A(0, 0, 0, 2));
}
END_TEST

Suite *unit_suite(void) {
        Suite *s = suite_create("netaddr");
        TCase *tc = tcase_create("parse");

        tcase_add_loop_test(tc, test_parse_address_good, 0, G_N_ELEMENTS(good_addresses));
        tcase_add_loop_test(tc, test_parse_address_bad, 0, G_N_ELEMENTS(bad_addresses));
        tcase_add_test(tc, test_parse_address_null_and_escaping);
        tcase_add_loop_test(tc, test_parse_prefix_good, 0, G_N_ELEMENTS(good_prefixes));
        tcase_add_loop_test(tc, test_parse_prefix_bad, 0, G_N_ELEMENTS(bad_prefixes));
        tcase_add_test(tc, test_parse_prefix_optional_still_strict);
        tcase_add_loop_test(tc, test_parse_endpoint_good, 0, G_N_ELEMENTS(good_endpoints));
        tcase_add_loop_test(tc, test_parse_endpoint_bad, 0, G_N_ELEMENTS(bad_endpoints));
        tcase_add_test(tc, test_parse_endpoint_long_names);
        suite_add_tcase(s, tc);

        tc = tcase_create("arithmetic");
        tcase_add_test(tc, test_format);
        tcase_add_test(tc, test_format_roundtrip);
        tcase_add_test(tc, test_masks);
        tcase_add_test(tc, test_contains);
        tcase_add_loop_test(tc, test_overlaps, 0, G_N_ELEMENTS(prefix_pairs));
        suite_add_tcase(s, tc);

        tc = tcase_create("allocate");
        tcase_add_test(tc, test_allocate_basic);
        tcase_add_test(tc, test_allocate_follows_address);
        tcase_add_test(tc, test_allocate_full);
        tcase_add_test(tc, test_allocate_edges);
        suite_add_tcase(s, tc);

        return s;
}
