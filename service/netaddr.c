/* netaddr.c: strict IPv4 address, prefix and endpoint parsing, prefix arithmetic and host address allocation. */
#include <stdlib.h>
#include <string.h>

#include "i18n.h"
#include "names.h"
#include "netaddr.h"
#include "pic-error.h"
#include "text-quote.h"

/* Long enough to recognise any value an admin means to type; longer input is
 * cut so that a hostile string cannot blow up a D-Bus error message. */
#define QUOTE_MAX 80

/* Decimal without sign, spaces or leading zeros ("0" itself is fine), at most
 * @max. A leading zero is refused because other parsers read it as octal. */
static bool parse_decimal(const char *s, size_t n, uint32_t max, uint32_t *ret) {
        uint32_t value = 0;

        if (n == 0)
                return false;
        if (n > 1 && s[0] == '0')
                return false;

        for (size_t i = 0; i < n; i++) {
                if (!g_ascii_isdigit(s[i]))
                        return false;
                value = value * 10 + (uint32_t) (s[i] - '0');
                if (value > max)
                        return false;
        }

        *ret = value;
        return true;
}

/* Exactly four dot-separated parts filling the whole span. */
static bool parse_quad(const char *s, size_t n, uint32_t *ret) {
        uint32_t address = 0;
        size_t start = 0;

        for (unsigned part = 0; part < 4; part++) {
                size_t end = start;
                uint32_t octet;

                while (end < n && s[end] != '.')
                        end++;
                if (part < 3 && end >= n)
                        return false;   /* too few parts */
                if (part == 3 && end != n)
                        return false;   /* a fifth part or a trailing dot */
                if (!parse_decimal(s + start, end - start, 255, &octet))
                        return false;

                address = (address << 8) | octet;
                start = end + 1;
        }

        *ret = address;
        return true;
}

bool netaddr_parse_address(const char *text, uint32_t *ret, GError **error) {
        uint32_t address;

        if (!text || !parse_quad(text, strlen(text), &address)) {
                g_autofree char *q = text_quote(text, QUOTE_MAX);
                g_set_error(error, PIC_ERROR, PIC_ERROR_INVALID_ARGUMENT,
                            _("'%s' is not an IPv4 address: write four decimal numbers 0-255 "
                              "without leading zeros, like 10.23.7.1"), q);
                return false;
        }

        if (ret)
                *ret = address;
        return true;
}

bool netaddr_parse_prefix(const char *text, bool require_prefix, Ipv4Prefix *ret, GError **error) {
        const char *slash;
        uint32_t address, prefixlen = 32;
        size_t address_len;

        if (!text)
                text = "";

        slash = strchr(text, '/');
        address_len = slash ? (size_t) (slash - text) : strlen(text);

        if (!parse_quad(text, address_len, &address)) {
                g_autofree char *q = text_quote(text, QUOTE_MAX);
                g_set_error(error, PIC_ERROR, PIC_ERROR_INVALID_ARGUMENT,
                            _("'%s' is not an IPv4 prefix: write an address and a prefix length "
                              "like 10.23.7.1/24"), q);
                return false;
        }

        if (!slash && require_prefix) {
                g_autofree char *q = text_quote(text, QUOTE_MAX);
                g_set_error(error, PIC_ERROR, PIC_ERROR_INVALID_ARGUMENT,
                            _("'%s' has no prefix length: add one, like %s/24"), q, q);
                return false;
        }

        if (slash && !parse_decimal(slash + 1, strlen(slash + 1), 32, &prefixlen)) {
                g_autofree char *q = text_quote(text, QUOTE_MAX);
                g_set_error(error, PIC_ERROR, PIC_ERROR_INVALID_ARGUMENT,
                            _("'%s' is not an IPv4 prefix: the prefix length must be a number "
                              "0-32 without leading zeros"), q);
                return false;
        }

        if (ret)
                *ret = (Ipv4Prefix) { .address = address, .prefixlen = prefixlen };
        return true;
}

/* Digits and dots only: meant as an address, so it must be one, and is never
 * taken for a host name (RFC 1123 §2.1 keeps names from looking numeric). */
static bool looks_numeric(const char *host) {
        for (const char *p = host; *p; p++)
                if (!g_ascii_isdigit(*p) && *p != '.')
                        return false;
        return true;
}

bool netaddr_parse_endpoint(const char *text, char **ret_host, uint16_t *ret_port, GError **error) {
        g_autofree char *host = NULL;
        const char *colon;
        uint32_t address, port;

        if (!text)
                text = "";

        colon = strrchr(text, ':');
        if (!colon) {
                g_autofree char *q = text_quote(text, QUOTE_MAX);
                g_set_error(error, PIC_ERROR, PIC_ERROR_INVALID_ARGUMENT,
                            _("'%s' is not an endpoint: write host:port, like 192.0.2.10:51820"), q);
                return false;
        }

        host = g_strndup(text, (size_t) (colon - text));
        if (looks_numeric(host) ? !parse_quad(host, strlen(host), &address)
                                : !names_validate_domain(host, NULL)) {
                g_autofree char *q = text_quote(text, QUOTE_MAX);
                g_autofree char *qh = text_quote(host, QUOTE_MAX);
                g_set_error(error, PIC_ERROR, PIC_ERROR_INVALID_ARGUMENT,
                            _("'%s' is not an endpoint: the host '%s' is neither an IPv4 address "
                              "nor a DNS name"), q, qh);
                return false;
        }

        if (!parse_decimal(colon + 1, strlen(colon + 1), 65535, &port) || port == 0) {
                g_autofree char *q = text_quote(text, QUOTE_MAX);
                g_set_error(error, PIC_ERROR, PIC_ERROR_INVALID_ARGUMENT,
                            _("'%s' is not an endpoint: the port must be a number 1-65535 "
                              "without leading zeros"), q);
                return false;
        }

        if (ret_host)
                *ret_host = g_steal_pointer(&host);
        if (ret_port)
                *ret_port = (uint16_t) port;
        return true;
}

char *netaddr_format_address(uint32_t address) {
        return g_strdup_printf("%u.%u.%u.%u",
                               (address >> 24) & 0xff, (address >> 16) & 0xff,
                               (address >> 8) & 0xff, address & 0xff);
}

char *netaddr_format_prefix(const Ipv4Prefix *prefix) {
        g_autofree char *address = netaddr_format_address(prefix->address);

        return g_strdup_printf("%s/%u", address, prefix->prefixlen);
}

char *netaddr_format_network(const Ipv4Prefix *prefix) {
        Ipv4Prefix network = netaddr_canonical(prefix);

        return netaddr_format_prefix(&network);
}

uint32_t netaddr_netmask(unsigned prefixlen) {
        /* Shifting a 32-bit value by 32 is undefined, so /0 is its own case. */
        if (prefixlen == 0)
                return 0;
        if (prefixlen >= 32)
                return UINT32_MAX;
        return UINT32_MAX << (32 - prefixlen);
}

uint32_t netaddr_network(const Ipv4Prefix *prefix) {
        return prefix->address & netaddr_netmask(prefix->prefixlen);
}

uint32_t netaddr_broadcast(const Ipv4Prefix *prefix) {
        return prefix->address | ~netaddr_netmask(prefix->prefixlen);
}

Ipv4Prefix netaddr_canonical(const Ipv4Prefix *prefix) {
        return (Ipv4Prefix) {
                .address = netaddr_network(prefix),
                .prefixlen = MIN(prefix->prefixlen, 32u),
        };
}

bool netaddr_contains(const Ipv4Prefix *network, uint32_t address) {
        uint32_t mask = netaddr_netmask(network->prefixlen);

        return (address & mask) == (network->address & mask);
}

bool netaddr_prefix_contains(const Ipv4Prefix *outer, const Ipv4Prefix *inner) {
        return inner->prefixlen >= outer->prefixlen && netaddr_contains(outer, inner->address);
}

bool netaddr_overlaps(const Ipv4Prefix *a, const Ipv4Prefix *b) {
        /* Two prefixes overlap exactly when the shorter one contains the other. */
        uint32_t mask = netaddr_netmask(MIN(a->prefixlen, b->prefixlen));

        return (a->address & mask) == (b->address & mask);
}

static int compare_address(const void *a, const void *b) {
        uint32_t x = *(const uint32_t *) a, y = *(const uint32_t *) b;

        return (x > y) - (x < y);
}

bool netaddr_allocate(const Ipv4Prefix *range, const uint32_t *taken, size_t n_taken,
                      uint32_t *ret, GError **error) {
        g_autofree uint32_t *sorted = NULL;
        uint64_t first, last;
        size_t t = 0;

        g_return_val_if_fail(range, false);
        g_return_val_if_fail(taken || n_taken == 0, false);

        first = netaddr_network(range);
        last = netaddr_broadcast(range);
        /* /31 and /32 have no network or broadcast address to keep free (RFC 3021). */
        if (range->prefixlen < 31) {
                first++;
                last--;
        }

        /* Sorted, the taken list is walked once alongside the candidates: a
         * large range with many peers stays linear. */
        if (n_taken > 0) {
                sorted = g_memdup2(taken, n_taken * sizeof(uint32_t));
                qsort(sorted, n_taken, sizeof(uint32_t), compare_address);
        }

        for (uint64_t candidate = first; candidate <= last; candidate++) {
                while (t < n_taken && sorted[t] < candidate)
                        t++;
                if (t < n_taken && sorted[t] == candidate)
                        continue;
                if (candidate == range->address)
                        continue;

                if (ret)
                        *ret = (uint32_t) candidate;
                return true;
        }

        g_autofree char *network = netaddr_format_network(range);
        g_set_error(error, PIC_ERROR, PIC_ERROR_LIMIT_EXCEEDED,
                    _("No free address left in %s: remove a peer, or give this cell a larger "
                      "range (Configure Address)"), network);
        return false;
}
