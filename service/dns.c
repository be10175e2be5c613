/* dns.c: handing forwarded domains to dnsmasq. The desired list is kept here;
 * it is sent when it changes and again whenever dnsmasq gets its bus name,
 * so a restarted dnsmasq learns it without any action of the admin. */
#include <errno.h>

#include "dns.h"

struct DnsForwarder {
        sd_bus *bus;
        char *bus_name;
        sd_bus_slot *owner_slot;
        sd_bus_slot *call_slot;
        char **desired;
        char **applied;   /* what dnsmasq accepted last; NULL: unknown */
        char **in_flight; /* what the pending call carries */
};

static void send_servers(DnsForwarder *dns);

static int on_set_reply(sd_bus_message *reply, void *userdata, sd_bus_error *ret_error) {
        DnsForwarder *dns = userdata;
        const sd_bus_error *e = sd_bus_message_get_error(reply);

        dns->call_slot = sd_bus_slot_unref(dns->call_slot);
        if (e) {
                /* Not on the bus yet: the owner watch sends it when it comes. */
                if (sd_bus_error_has_name(e, SD_BUS_ERROR_SERVICE_UNKNOWN) ||
                    sd_bus_error_has_name(e, SD_BUS_ERROR_NAME_HAS_NO_OWNER))
                        g_debug("dnsmasq (%s) is not on the bus; forwarding waits for it", dns->bus_name);
                else
                        g_warning("Failed to give dnsmasq its forwarded domains: %s", e->message ?: e->name);
                g_strfreev(dns->in_flight);
                dns->in_flight = NULL;
                return 0;
        }
        g_strfreev(dns->applied);
        dns->applied = dns->in_flight;
        dns->in_flight = NULL;
        g_debug("dnsmasq forwards %u domain(s) for linked cells", g_strv_length(dns->applied));
        /* The wish may have changed while the call was under way. */
        if (!g_strv_equal((const char *const *) dns->desired, (const char *const *) dns->applied))
                send_servers(dns);
        return 0;
}

static void send_servers(DnsForwarder *dns) {
        sd_bus_message *call = NULL;
        int r;

        if (dns->call_slot)
                return; /* on_set_reply sends again if needed */

        r = sd_bus_message_new_method_call(dns->bus, &call, dns->bus_name, "/uk/org/thekelleys/dnsmasq",
                                           "uk.org.thekelleys.dnsmasq", "SetDomainServers");
        if (r >= 0)
                r = sd_bus_message_append_strv(call, dns->desired);
        /* dnsmasq is not ours to start: never activate it. */
        if (r >= 0)
                r = sd_bus_message_set_auto_start(call, 0);
        if (r >= 0)
                r = sd_bus_call_async(dns->bus, &dns->call_slot, call, on_set_reply, dns, 0);
        sd_bus_message_unref(call);
        if (r < 0) {
                g_warning("Failed to call dnsmasq's SetDomainServers: %s", g_strerror(-r));
                return;
        }
        g_strfreev(dns->in_flight);
        dns->in_flight = g_strdupv(dns->desired);
}

static int on_name_owner_changed(sd_bus_message *message, void *userdata, sd_bus_error *ret_error) {
        DnsForwarder *dns = userdata;
        const char *name, *old_owner, *new_owner;

        if (sd_bus_message_read(message, "sss", &name, &old_owner, &new_owner) < 0)
                return 0;
        g_strfreev(dns->applied);
        dns->applied = NULL;
        if (new_owner[0]) {
                g_message("dnsmasq appeared on the bus; sending its forwarded domains");
                send_servers(dns);
        }
        return 0;
}

DnsForwarder *dns_forwarder_new(sd_bus *bus, const char *bus_name) {
        DnsForwarder *dns = g_new0(DnsForwarder, 1);
        g_autofree char *match = NULL;
        int r;

        dns->bus = sd_bus_ref(bus);
        dns->bus_name = g_strdup(bus_name);
        dns->desired = g_new0(char *, 1);
        match = g_strdup_printf("type='signal',sender='org.freedesktop.DBus',path='/org/freedesktop/DBus',"
                                "interface='org.freedesktop.DBus',member='NameOwnerChanged',arg0='%s'",
                                bus_name);
        r = sd_bus_add_match_async(bus, &dns->owner_slot, match, on_name_owner_changed, NULL, dns);
        if (r < 0)
                g_warning("Failed to watch dnsmasq on the bus: %s", g_strerror(-r));
        return dns;
}

void dns_forwarder_free(DnsForwarder *dns) {
        if (!dns)
                return;
        sd_bus_slot_unref(dns->owner_slot);
        sd_bus_slot_unref(dns->call_slot);
        sd_bus_unref(dns->bus);
        g_free(dns->bus_name);
        g_strfreev(dns->desired);
        g_strfreev(dns->applied);
        g_strfreev(dns->in_flight);
        g_free(dns);
}

void dns_forwarder_set_servers(DnsForwarder *dns, const char *const *servers) {
        if (g_strv_equal((const char *const *) dns->desired, servers) && dns->applied &&
            g_strv_equal((const char *const *) dns->applied, servers))
                return;
        g_strfreev(dns->desired);
        dns->desired = g_strdupv((char **) servers);
        send_servers(dns);
}

const char *const *dns_forwarder_get_applied(const DnsForwarder *dns) {
        return (const char *const *) dns->applied;
}
