/* fuzz-netaddr.c: libFuzzer harness for the address, prefix and endpoint
 * parsers, with the arithmetic on what they accept. Each input line is one
 * text, as an invite field or a D-Bus argument would carry it. */
#include <string.h>

#include "fuzz-common.h"
#include "netaddr.h"
#include "pic-error.h"

#define MAX_LINES 16

/* Strict parsers accept one spelling per value: the one we format. */
static void check_address(const char *text) {
        g_autoptr(GError) error = NULL;
        g_autofree char *formatted = NULL;
        uint32_t address;

        if (!netaddr_parse_address(text, &address, &error)) {
                fuzz_check_error(error, PIC_ERROR_INVALID_ARGUMENT);
                return;
        }
        formatted = netaddr_format_address(address);
        FUZZ_CHECK(g_str_equal(formatted, text));
}

static bool check_prefix(const char *text, Ipv4Prefix *ret) {
        g_autoptr(GError) error = NULL, bare_error = NULL;
        g_autofree char *formatted = NULL;
        Ipv4Prefix prefix, bare;
        bool ok = netaddr_parse_prefix(text, true, &prefix, &error);

        if (netaddr_parse_prefix(text, false, &bare, &bare_error)) {
                /* Without a prefix length the text is a /32; with one, the same prefix. */
                FUZZ_CHECK(ok ? bare.address == prefix.address && bare.prefixlen == prefix.prefixlen
                              : bare.prefixlen == 32 && !strchr(text, '/'));
        } else {
                fuzz_check_error(bare_error, PIC_ERROR_INVALID_ARGUMENT);
                FUZZ_CHECK(!ok);
        }
        if (!ok) {
                fuzz_check_error(error, PIC_ERROR_INVALID_ARGUMENT);
                return false;
        }
        FUZZ_CHECK(prefix.prefixlen <= 32);
        formatted = netaddr_format_prefix(&prefix);
        FUZZ_CHECK(g_str_equal(formatted, text));
        *ret = prefix;
        return true;
}

static void check_endpoint(const char *text) {
        g_autoptr(GError) error = NULL;
        g_autofree char *host = NULL;
        uint16_t port;

        if (!netaddr_parse_endpoint(text, &host, &port, &error)) {
                fuzz_check_error(error, PIC_ERROR_INVALID_ARGUMENT);
                return;
        }
        FUZZ_CHECK(port > 0);
        FUZZ_CHECK(strlen(host) < strlen(text));
        FUZZ_CHECK(strncmp(host, text, strlen(host)) == 0);
}

/* The relations between two prefixes must agree with each other. */
static void check_pair(const Ipv4Prefix *a, const Ipv4Prefix *b) {
        Ipv4Prefix ca = netaddr_canonical(a);

        FUZZ_CHECK(netaddr_overlaps(a, b) == netaddr_overlaps(b, a));
        if (netaddr_prefix_contains(a, b))
                FUZZ_CHECK(netaddr_overlaps(a, b));
        FUZZ_CHECK(netaddr_contains(a, netaddr_network(a)));
        FUZZ_CHECK(netaddr_contains(a, netaddr_broadcast(a)));
        FUZZ_CHECK(netaddr_contains(a, a->address));
        FUZZ_CHECK(netaddr_prefix_contains(&ca, a) && netaddr_prefix_contains(a, &ca));
        FUZZ_CHECK(netaddr_contains(a, b->address) == netaddr_contains(&ca, b->address));
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
        g_autofree char *text = fuzz_strndup(data, size);
        g_auto(GStrv) lines = g_strsplit(text, "\n", MAX_LINES);
        Ipv4Prefix prefixes[MAX_LINES];
        uint32_t taken[MAX_LINES];
        size_t n_prefixes = 0;

        for (size_t i = 0; lines[i]; i++) {
                check_address(lines[i]);
                check_endpoint(lines[i]);
                if (check_prefix(lines[i], &prefixes[n_prefixes]))
                        n_prefixes++;
        }
        for (size_t i = 0; i < n_prefixes; i++) {
                taken[i] = prefixes[i].address;
                for (size_t j = 0; j < n_prefixes; j++)
                        check_pair(&prefixes[i], &prefixes[j]);
        }
        /* The first prefix is the range, the other addresses are taken. */
        if (n_prefixes > 0) {
                g_autoptr(GError) error = NULL;
                uint32_t address;

                if (netaddr_allocate(&prefixes[0], taken + 1, n_prefixes - 1, &address, &error)) {
                        FUZZ_CHECK(netaddr_contains(&prefixes[0], address));
                        FUZZ_CHECK(address != prefixes[0].address);
                        for (size_t i = 1; i < n_prefixes; i++)
                                FUZZ_CHECK(address != taken[i]);
                } else
                        fuzz_check_error(error, PIC_ERROR_LIMIT_EXCEEDED);
        }
        return 0;
}
