/* dns.h: DNS forwarding of linked cells' domains through dnsmasq's D-Bus
 * interface (SetDomainServers, as NetworkManager uses it). */
#pragma once

#include <glib.h>
#include <systemd/sd-bus.h>

typedef struct DnsForwarder DnsForwarder;

/* Watches @bus_name on @bus; whenever dnsmasq (re)appears it is given the
 * current servers again. */
DnsForwarder *dns_forwarder_new(sd_bus *bus, const char *bus_name);
void dns_forwarder_free(DnsForwarder *dns);
G_DEFINE_AUTOPTR_CLEANUP_FUNC(DnsForwarder, dns_forwarder_free)

/* Replaces the forwarded domains: entries "/<domain>/<server ip>". Sent at
 * once when dnsmasq is on the bus and the list differs from what it has. */
void dns_forwarder_set_servers(DnsForwarder *dns, const char *const *servers);
/* The list dnsmasq last confirmed, for tests and diagnostics. */
const char *const *dns_forwarder_get_applied(const DnsForwarder *dns);
