/* daemon-config.c: reading cell.conf strictly: unknown groups and keys are
 * reported, bad values refused, everything else defaulted. */
#include <errno.h>
#include <string.h>
#include <gio/gio.h>

#include "config.h"
#include "daemon-config.h"
#include "i18n.h"
#include "names.h"
#include "netaddr.h"
#include "pic-error.h"
#include "text-quote.h"

/* Bytes of a bad value quoted back: a typo is recognised long before this. */
#define QUOTE_MAX 80

DaemonConfig *daemon_config_new_default(void) {
        DaemonConfig *config = g_new0(DaemonConfig, 1);

        config->interface = g_strdup("wg0");
        config->listen_port = 51820;
        config->sync_port = 51821;
        config->uplink = g_strdup("auto");
        config->endpoint = g_strdup("auto");
        config->dns_backend = DNS_BACKEND_DNSMASQ;
        config->dnsmasq_bus_name = g_strdup("uk.org.thekelleys.dnsmasq");
        config->wireguard = WG_BACKEND_AUTO;
        config->userspace_command = g_strdup("wireguard-go");
        config->state_directory = g_strdup("");
        return config;
}

void daemon_config_free(DaemonConfig *config) {
        if (!config)
                return;
        g_free(config->interface);
        g_free(config->uplink);
        g_free(config->endpoint);
        g_free(config->dnsmasq_bus_name);
        g_free(config->userspace_command);
        g_free(config->state_directory);
        g_free(config->first_name);
        g_free(config->first_domain);
        g_free(config->first_address);
        g_free(config->first_dns_address);
        g_free(config);
}

static bool read_port(GKeyFile *file, const char *group, const char *key, uint16_t *port, GError **error) {
        g_autofree char *text = g_key_file_get_string(file, group, key, NULL);
        guint64 value;

        if (!text)
                return true;
        if (!g_ascii_string_to_unsigned(text, 10, 1, 65535, &value, NULL)) {
                g_autofree char *quoted = text_quote(text, QUOTE_MAX);

                g_set_error(error, PIC_ERROR, PIC_ERROR_INVALID_ARGUMENT,
                            /* Translators: %s is a key of cell.conf; keys, [sections] and values stay. */
                            _("%s: '%s' is not a port number (1-65535)"), key, quoted);
                return false;
        }
        *port = (uint16_t) value;
        return true;
}

static void read_string(GKeyFile *file, const char *group, const char *key, char **value) {
        char *text = g_key_file_get_string(file, group, key, NULL);

        if (text) {
                g_strstrip(text);
                g_free(*value);
                *value = text;
        }
}

static bool validate_interface_name(const char *name, GError **error) {
        g_autofree char *quoted = text_quote(name, QUOTE_MAX);
        size_t len = strlen(name);

        /* IFNAMSIZ is 16 with the NUL. */
        if (len == 0 || len > 15 || strchr(name, '/') || strchr(name, ':') ||
            g_str_equal(name, ".") || g_str_equal(name, "..")) {
                g_set_error(error, PIC_ERROR, PIC_ERROR_INVALID_ARGUMENT,
                            _("Interface: '%s' is not a network interface name (1-15 characters, no '/' or ':')"),
                            quoted);
                return false;
        }
        for (const char *c = name; *c; c++)
                if (g_ascii_isspace(*c) || !g_ascii_isprint(*c)) {
                        g_set_error(error, PIC_ERROR, PIC_ERROR_INVALID_ARGUMENT,
                                    _("Interface: '%s' contains a space or control character"), quoted);
                        return false;
                }
        return true;
}

static bool check_known_keys(GKeyFile *file, GError **error) {
        static const char *const daemon_keys[] = {
                "Interface", "ListenPort", "SyncPort", "Uplink", "Endpoint", "DnsBackend",
                "DnsmasqBusName", "WireGuard", "UserspaceCommand", "StateDirectory", NULL,
        };
        static const char *const cell_keys[] = { "Name", "Domain", "Address", "DnsAddress", NULL };
        g_auto(GStrv) groups = g_key_file_get_groups(file, NULL);

        for (char **group = groups; *group; group++) {
                const char *const *known;
                g_auto(GStrv) keys = NULL;

                if (g_str_equal(*group, "Daemon"))
                        known = daemon_keys;
                else if (g_str_equal(*group, "Cell"))
                        known = cell_keys;
                else {
                        g_set_error(error, PIC_ERROR, PIC_ERROR_INVALID_ARGUMENT,
                                    _("Unknown section [%s] (known: [Daemon], [Cell])"), *group);
                        return false;
                }
                keys = g_key_file_get_keys(file, *group, NULL, NULL);
                for (char **key = keys; key && *key; key++)
                        if (!g_strv_contains(known, *key)) {
                                g_set_error(error, PIC_ERROR, PIC_ERROR_INVALID_ARGUMENT,
                                            _("Unknown key %s in section [%s]"), *key, *group);
                                return false;
                        }
        }
        return true;
}

static bool parse_file(DaemonConfig *config, GKeyFile *file, GError **error) {
        g_autofree char *dns_backend = NULL, *wireguard = NULL;

        if (!check_known_keys(file, error))
                return false;

        read_string(file, "Daemon", "Interface", &config->interface);
        if (!validate_interface_name(config->interface, error))
                return false;
        if (!read_port(file, "Daemon", "ListenPort", &config->listen_port, error) ||
            !read_port(file, "Daemon", "SyncPort", &config->sync_port, error))
                return false;
        read_string(file, "Daemon", "Uplink", &config->uplink);
        read_string(file, "Daemon", "Endpoint", &config->endpoint);
        if (!g_str_equal(config->endpoint, "auto")) {
                g_autofree char *host = NULL;
                uint16_t port;

                if (!netaddr_parse_endpoint(config->endpoint, &host, &port, error)) {
                        g_prefix_error(error, "Endpoint: ");
                        return false;
                }
        }

        dns_backend = g_key_file_get_string(file, "Daemon", "DnsBackend", NULL);
        if (dns_backend) {
                g_strstrip(dns_backend);
                if (g_str_equal(dns_backend, "dnsmasq"))
                        config->dns_backend = DNS_BACKEND_DNSMASQ;
                else if (g_str_equal(dns_backend, "none"))
                        config->dns_backend = DNS_BACKEND_NONE;
                else {
                        g_autofree char *quoted = text_quote(dns_backend, QUOTE_MAX);

                        g_set_error(error, PIC_ERROR, PIC_ERROR_INVALID_ARGUMENT,
                                    _("DnsBackend: '%s' is neither 'dnsmasq' nor 'none'"), quoted);
                        return false;
                }
        }
        read_string(file, "Daemon", "DnsmasqBusName", &config->dnsmasq_bus_name);
        if (!g_dbus_is_name(config->dnsmasq_bus_name) || g_dbus_is_unique_name(config->dnsmasq_bus_name)) {
                g_autofree char *quoted = text_quote(config->dnsmasq_bus_name, QUOTE_MAX);

                g_set_error(error, PIC_ERROR, PIC_ERROR_INVALID_ARGUMENT,
                            _("DnsmasqBusName: '%s' is not a well-known D-Bus name"), quoted);
                return false;
        }

        wireguard = g_key_file_get_string(file, "Daemon", "WireGuard", NULL);
        if (wireguard) {
                g_strstrip(wireguard);
                if (g_str_equal(wireguard, "auto"))
                        config->wireguard = WG_BACKEND_AUTO;
                else if (g_str_equal(wireguard, "kernel"))
                        config->wireguard = WG_BACKEND_KERNEL;
                else if (g_str_equal(wireguard, "userspace"))
                        config->wireguard = WG_BACKEND_USERSPACE;
                else {
                        g_autofree char *quoted = text_quote(wireguard, QUOTE_MAX);

                        g_set_error(error, PIC_ERROR, PIC_ERROR_INVALID_ARGUMENT,
                                    _("WireGuard: '%s' is not one of auto, kernel, userspace"), quoted);
                        return false;
                }
        }
        read_string(file, "Daemon", "UserspaceCommand", &config->userspace_command);
        if (config->userspace_command[0] == '\0') {
                g_set_error_literal(error, PIC_ERROR, PIC_ERROR_INVALID_ARGUMENT,
                                    _("UserspaceCommand: must name a program, e.g. wireguard-go"));
                return false;
        }
        read_string(file, "Daemon", "StateDirectory", &config->state_directory);

        read_string(file, "Cell", "Name", &config->first_name);
        if (config->first_name && !names_validate_cell_name(config->first_name, error)) {
                g_prefix_error(error, "[Cell] Name: ");
                return false;
        }
        read_string(file, "Cell", "Domain", &config->first_domain);
        if (config->first_domain && !names_validate_domain(config->first_domain, error)) {
                g_prefix_error(error, "[Cell] Domain: ");
                return false;
        }
        read_string(file, "Cell", "Address", &config->first_address);
        if (config->first_address) {
                Ipv4Prefix prefix;

                if (!netaddr_parse_prefix(config->first_address, true, &prefix, error)) {
                        g_prefix_error(error, "[Cell] Address: ");
                        return false;
                }
        }
        read_string(file, "Cell", "DnsAddress", &config->first_dns_address);
        if (config->first_dns_address) {
                uint32_t address;

                if (!netaddr_parse_address(config->first_dns_address, &address, error)) {
                        g_prefix_error(error, "[Cell] DnsAddress: ");
                        return false;
                }
        }
        return true;
}

DaemonConfig *daemon_config_load(const char *path, bool optional, GError **error) {
        g_autoptr(DaemonConfig) config = daemon_config_new_default();
        g_autoptr(GKeyFile) file = g_key_file_new();
        g_autoptr(GError) local = NULL;

        if (!g_key_file_load_from_file(file, path, G_KEY_FILE_NONE, &local)) {
                if (optional && g_error_matches(local, G_FILE_ERROR, G_FILE_ERROR_NOENT))
                        return g_steal_pointer(&config);
                g_set_error(error, PIC_ERROR, PIC_ERROR_INVALID_ARGUMENT,
                            _("Failed to read %s: %s"), path, local->message);
                return NULL;
        }
        if (!parse_file(config, file, error)) {
                g_prefix_error(error, "%s: ", path);
                return NULL;
        }
        return g_steal_pointer(&config);
}
