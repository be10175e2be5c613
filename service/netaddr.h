/* netaddr.h: strict IPv4 address, prefix and endpoint parsing, prefix
 * arithmetic, and allocation of free host addresses in a cell's range.
 * Addresses are uint32_t in host byte order throughout. */
#pragma once

#include <stdbool.h>
#include <stdint.h>
#include <glib.h>

/* An address with its prefix length, e.g. 10.23.7.1/24; host bits are kept
 * (a cell's address is its host address and its range at once). */
typedef struct {
        uint32_t address;
        unsigned prefixlen; /* 0..32 */
} Ipv4Prefix;

/* Dotted quad, exactly four decimal parts 0..255, no leading zeros ("010" is
 * refused: inet_aton would read it as octal), nothing before or after.
 * Errors: PIC_ERROR_INVALID_ARGUMENT quoting @text. */
bool netaddr_parse_address(const char *text, uint32_t *ret, GError **error);

/* "A.B.C.D/N" with N 0..32 written without leading zeros. With
 * @require_prefix false a bare address is taken as /32. */
bool netaddr_parse_prefix(const char *text, bool require_prefix, Ipv4Prefix *ret, GError **error);

/* "host:port": host an IPv4 address or a DNS name (RFC 1035 syntax), port
 * 1..65535. @ret_host is newly allocated. */
bool netaddr_parse_endpoint(const char *text, char **ret_host, uint16_t *ret_port, GError **error);

/* Newly allocated text forms. */
char *netaddr_format_address(uint32_t address);
char *netaddr_format_prefix(const Ipv4Prefix *prefix);         /* "10.23.7.1/24" */
char *netaddr_format_network(const Ipv4Prefix *prefix);        /* "10.23.7.0/24" */

uint32_t netaddr_netmask(unsigned prefixlen);
uint32_t netaddr_network(const Ipv4Prefix *prefix);
uint32_t netaddr_broadcast(const Ipv4Prefix *prefix);

/* The prefix with its host bits cleared. */
Ipv4Prefix netaddr_canonical(const Ipv4Prefix *prefix);

bool netaddr_contains(const Ipv4Prefix *network, uint32_t address);
/* True when every address of @inner lies in @outer. */
bool netaddr_prefix_contains(const Ipv4Prefix *outer, const Ipv4Prefix *inner);
bool netaddr_overlaps(const Ipv4Prefix *a, const Ipv4Prefix *b);

/* The lowest host address of @range that is not the network, not the
 * broadcast (for prefixes shorter than /31), not @range's own address and
 * not in @taken. Errors: PIC_ERROR_LIMIT_EXCEEDED naming the range when it
 * is full. */
bool netaddr_allocate(const Ipv4Prefix *range, const uint32_t *taken, size_t n_taken,
                      uint32_t *ret, GError **error);
