/* bus-cell.c: org.pic.Cell1 at /org/pic/Cell1. Handlers read and validate
 * their arguments, reply at once when nothing would change, ask polkit, then
 * call the core; PropertiesChanged follows from the core's listener. */
#include <errno.h>
#include <string.h>

#include "bus-cell.h"
#include "bus-link.h"
#include "bus-peer.h"
#include "bus-util.h"
#include "text-quote.h"
#include "i18n.h"
#include "netaddr.h"
#include "pic-error.h"

#define ACTION_MANAGE_LINKS "org.pic.cell1.manage-links"
#define ACTION_MANAGE_PEERS "org.pic.cell1.manage-peers"
#define ACTION_CONFIGURE "org.pic.cell1.configure"

static const CellIdentity *identity(Context *c) {
        return &cell_get_state(c->cell)->cell;
}

/* --- properties --- */

static int property_get_name(sd_bus *bus, const char *path, const char *interface, const char *property,
                             sd_bus_message *reply, void *userdata, sd_bus_error *error) {
        return sd_bus_message_append(reply, "s", identity(userdata)->name);
}

static int property_get_domain(sd_bus *bus, const char *path, const char *interface, const char *property,
                               sd_bus_message *reply, void *userdata, sd_bus_error *error) {
        return sd_bus_message_append(reply, "s", identity(userdata)->domain);
}

static int property_get_address(sd_bus *bus, const char *path, const char *interface, const char *property,
                                sd_bus_message *reply, void *userdata, sd_bus_error *error) {
        g_autofree char *text = netaddr_format_prefix(&identity(userdata)->address);
        return sd_bus_message_append(reply, "s", text);
}

static int property_get_vpn_subnet(sd_bus *bus, const char *path, const char *interface, const char *property,
                                   sd_bus_message *reply, void *userdata, sd_bus_error *error) {
        g_autofree char *text = netaddr_format_network(&identity(userdata)->address);
        return sd_bus_message_append(reply, "s", text);
}

static int property_get_dns_address(sd_bus *bus, const char *path, const char *interface, const char *property,
                                    sd_bus_message *reply, void *userdata, sd_bus_error *error) {
        g_autofree char *text = netaddr_format_address(identity(userdata)->dns_address);
        return sd_bus_message_append(reply, "s", text);
}

static int property_get_endpoint(sd_bus *bus, const char *path, const char *interface, const char *property,
                                 sd_bus_message *reply, void *userdata, sd_bus_error *error) {
        Context *c = userdata;
        /* An endpoint that cannot be worked out reads as "": the admin sees it
         * is missing, and CreateInvite explains why. */
        g_autofree char *endpoint = cell_get_endpoint(c->cell, NULL);
        return sd_bus_message_append(reply, "s", endpoint ?: "");
}

static int property_get_listen_port(sd_bus *bus, const char *path, const char *interface, const char *property,
                                    sd_bus_message *reply, void *userdata, sd_bus_error *error) {
        Context *c = userdata;
        return sd_bus_message_append(reply, "q", c->config->listen_port);
}

static int property_get_sync_port(sd_bus *bus, const char *path, const char *interface, const char *property,
                                  sd_bus_message *reply, void *userdata, sd_bus_error *error) {
        Context *c = userdata;
        return sd_bus_message_append(reply, "q", c->config->sync_port);
}

static int property_get_public_key(sd_bus *bus, const char *path, const char *interface, const char *property,
                                   sd_bus_message *reply, void *userdata, sd_bus_error *error) {
        return sd_bus_message_append(reply, "s", identity(userdata)->public_key);
}

static int property_get_interface(sd_bus *bus, const char *path, const char *interface, const char *property,
                                  sd_bus_message *reply, void *userdata, sd_bus_error *error) {
        Context *c = userdata;
        return sd_bus_message_append(reply, "s", c->config->interface);
}

static int property_get_wireguard_backend(sd_bus *bus, const char *path, const char *interface,
                                          const char *property, sd_bus_message *reply, void *userdata,
                                          sd_bus_error *error) {
        Context *c = userdata;
        return sd_bus_message_append(reply, "s", cell_get_wireguard_backend(c->cell));
}

static int property_get_services(sd_bus *bus, const char *path, const char *interface, const char *property,
                                 sd_bus_message *reply, void *userdata, sd_bus_error *error) {
        const CellState *state = cell_get_state(((Context *) userdata)->cell);
        int r;

        r = sd_bus_message_open_container(reply, 'a', "(ssa(sq))");
        if (r < 0)
                return r;
        for (guint i = 0; i < state->services->len; i++) {
                const Service *svc = state->services->pdata[i];
                g_autofree char *address = netaddr_format_address(svc->address);

                r = sd_bus_message_open_container(reply, 'r', "ssa(sq)");
                if (r >= 0)
                        r = sd_bus_message_append(reply, "ss", svc->name, address);
                if (r >= 0)
                        r = sd_bus_message_open_container(reply, 'a', "(sq)");
                for (guint j = 0; r >= 0 && j < svc->ports->len; j++) {
                        const ServicePort *p = &g_array_index(svc->ports, ServicePort, j);
                        r = sd_bus_message_append(reply, "(sq)", p->protocol, p->port);
                }
                if (r >= 0)
                        r = sd_bus_message_close_container(reply);
                if (r >= 0)
                        r = sd_bus_message_close_container(reply);
                if (r < 0)
                        return r;
        }
        return sd_bus_message_close_container(reply);
}

/* --- methods --- */

/* Reads an a{sv} of string values into @ret_table (key -> value), refusing
 * unknown keys and non-string values. */
static int read_string_dict(sd_bus_message *message, const char *const *known, const char *what,
                            GHashTable **ret_table, sd_bus_error *error) {
        g_autoptr(GHashTable) table = g_hash_table_new_full(g_str_hash, g_str_equal, g_free, g_free);
        int r;

        r = sd_bus_message_enter_container(message, 'a', "{sv}");
        if (r < 0)
                return r;
        for (;;) {
                const char *key, *value, *contents;
                char type;

                r = sd_bus_message_enter_container(message, 'e', "sv");
                if (r < 0)
                        return r;
                if (r == 0)
                        break;
                r = sd_bus_message_read(message, "s", &key);
                if (r < 0)
                        return r;
                if (!g_strv_contains(known, key)) {
                        g_autofree char *list = g_strjoinv(", ", (char **) known);
                        g_autofree char *quoted = text_quote(key, BUS_QUOTE_MAX);
                        return sd_bus_error_setf(error, "org.pic.Cell1.Error.InvalidArgument",
                                                 _("%s: unknown key '%s'; known keys: %s"), what, quoted, list);
                }
                /* Known keys only, each once: so the limit counts entries. */
                if (g_hash_table_contains(table, key))
                        return sd_bus_error_setf(error, "org.pic.Cell1.Error.InvalidArgument",
                                                 _("%s: '%s' is given more than once"), what, key);
                if (g_hash_table_size(table) >= BUS_MAX_DICT_ENTRIES)
                        return sd_bus_error_setf(error, "org.pic.Cell1.Error.InvalidArgument",
                                                 _("%s: too many entries"), what);
                r = sd_bus_message_peek_type(message, &type, &contents);
                if (r < 0)
                        return r;
                if (!g_str_equal(contents, "s"))
                        return sd_bus_error_setf(error, "org.pic.Cell1.Error.InvalidArgument",
                                                 _("%s: '%s' must be a string (s), not '%s'"), what, key, contents);
                r = sd_bus_message_read(message, "v", "s", &value);
                if (r < 0)
                        return r;
                r = bus_check_string(value, key, error);
                if (r < 0)
                        return r;
                g_hash_table_replace(table, g_strdup(key), g_strdup(value));
                r = sd_bus_message_exit_container(message);
                if (r < 0)
                        return r;
        }
        r = sd_bus_message_exit_container(message);
        if (r < 0)
                return r;
        *ret_table = g_steal_pointer(&table);
        return 0;
}

static int method_configure(sd_bus_message *message, void *userdata, sd_bus_error *error) {
        static const char *const known[] = { "Name", "Domain", "Address", "Endpoint", "DnsAddress", NULL };
        Context *c = userdata;
        g_autoptr(GHashTable) table = NULL;
        g_autoptr(GError) e = NULL;
        CellSettings settings = { 0 };
        bool changes;
        int r;

        r = read_string_dict(message, known, "settings", &table, error);
        if (r < 0)
                return r;
        settings.has_name = g_hash_table_lookup_extended(table, "Name", NULL, (gpointer *) &settings.name);
        settings.has_domain = g_hash_table_lookup_extended(table, "Domain", NULL, (gpointer *) &settings.domain);
        settings.has_address = g_hash_table_lookup_extended(table, "Address", NULL, (gpointer *) &settings.address);
        settings.has_endpoint = g_hash_table_lookup_extended(table, "Endpoint", NULL, (gpointer *) &settings.endpoint);
        settings.has_dns_address = g_hash_table_lookup_extended(table, "DnsAddress", NULL,
                                                                (gpointer *) &settings.dns_address);

        if (!cell_configure_check(c->cell, &settings, &changes, &e))
                return bus_error_from_gerror(error, e);
        if (!changes)
                return sd_bus_reply_method_return(message, NULL);

        r = polkit_verify_async(c->polkit, message, ACTION_CONFIGURE, error);
        if (r < 0)
                return r;
        if (r == 0)
                return 1; /* called again once polkit has answered */

        if (!cell_configure(c->cell, &settings, &e))
                return bus_error_from_gerror(error, e);
        return sd_bus_reply_method_return(message, NULL);
}

static int method_set_service(sd_bus_message *message, void *userdata, sd_bus_error *error) {
        Context *c = userdata;
        g_autoptr(GArray) ports = g_array_new(FALSE, TRUE, sizeof(ServicePort));
        g_autoptr(GError) e = NULL;
        const char *name, *address;
        int r;

        r = sd_bus_message_read(message, "ss", &name, &address);
        if (r < 0)
                return r;
        r = bus_check_string(name, "name", error);
        if (r >= 0)
                r = bus_check_string(address, "address", error);
        if (r < 0)
                return r;
        r = sd_bus_message_enter_container(message, 'a', "(sq)");
        if (r < 0)
                return r;
        for (;;) {
                ServicePort port = { 0 };
                const char *protocol;

                r = sd_bus_message_read(message, "(sq)", &protocol, &port.port);
                if (r < 0)
                        return r;
                if (r == 0)
                        break;
                if (ports->len >= CELL_STATE_MAX_PORTS) {
                        g_autofree char *quoted = text_quote(name, BUS_QUOTE_MAX);
                        return sd_bus_error_setf(error, "org.pic.Cell1.Error.InvalidArgument",
                                                 _("ports: more than %d ports for service '%s'"),
                                                 CELL_STATE_MAX_PORTS, quoted);
                }
                if (strlen(protocol) >= sizeof(port.protocol)) {
                        g_autofree char *quoted = text_quote(protocol, 16);
                        return sd_bus_error_setf(error, "org.pic.Cell1.Error.InvalidArgument",
                                                 _("ports[%u]: protocol '%s' is neither 'tcp' nor 'udp'"),
                                                 ports->len, quoted);
                }
                g_strlcpy(port.protocol, protocol, sizeof(port.protocol));
                g_array_append_val(ports, port);
        }
        r = sd_bus_message_exit_container(message);
        if (r < 0)
                return r;

        if (!cell_set_service_check(c->cell, name, address, (ServicePort *) ports->data, ports->len, &e))
                return bus_error_from_gerror(error, e);

        r = polkit_verify_async(c->polkit, message, ACTION_CONFIGURE, error);
        if (r < 0)
                return r;
        if (r == 0)
                return 1;

        if (!cell_set_service(c->cell, name, address, (ServicePort *) ports->data, ports->len, &e))
                return bus_error_from_gerror(error, e);
        return sd_bus_reply_method_return(message, NULL);
}

/* RemoveService, RemoveLink, RemovePeer: one name, refused at once when
 * nothing has it, before polkit is asked; @exists says why in its error. */
static int method_remove_named(sd_bus_message *message, Context *c, const char *action,
                               bool (*exists)(const Cell *, const char *, GError **),
                               bool (*remove)(Cell *, const char *, GError **), sd_bus_error *error) {
        g_autoptr(GError) e = NULL;
        const char *name;
        int r;

        r = sd_bus_message_read(message, "s", &name);
        if (r < 0)
                return r;
        if (!exists(c->cell, name, &e))
                return bus_error_from_gerror(error, e);

        r = polkit_verify_async(c->polkit, message, action, error);
        if (r < 0)
                return r;
        if (r == 0)
                return 1;

        if (!remove(c->cell, name, &e))
                return bus_error_from_gerror(error, e);
        return sd_bus_reply_method_return(message, NULL);
}

static bool service_exists(const Cell *cell, const char *name, GError **error) {
        return cell_find_service(cell, name, error) != NULL;
}

static int method_remove_service(sd_bus_message *message, void *userdata, sd_bus_error *error) {
        return method_remove_named(message, userdata, ACTION_CONFIGURE, service_exists, cell_remove_service, error);
}

static int method_create_invite(sd_bus_message *message, void *userdata, sd_bus_error *error) {
        Context *c = userdata;
        g_autoptr(GError) e = NULL;
        g_autofree char *invite = NULL;
        uint32_t ttl = CELL_INVITE_DEFAULT_TTL;
        int r;

        r = sd_bus_message_enter_container(message, 'a', "{sv}");
        if (r < 0)
                return r;
        for (unsigned n = 0;; n++) {
                const char *key, *contents;
                char type;

                r = sd_bus_message_enter_container(message, 'e', "sv");
                if (r < 0)
                        return r;
                if (r == 0)
                        break;
                if (n >= BUS_MAX_DICT_ENTRIES)
                        return sd_bus_error_set(error, "org.pic.Cell1.Error.InvalidArgument",
                                                _("options: too many entries"));
                r = sd_bus_message_read(message, "s", &key);
                if (r < 0)
                        return r;
                if (!g_str_equal(key, "ttl")) {
                        g_autofree char *quoted = text_quote(key, BUS_QUOTE_MAX);
                        return sd_bus_error_setf(error, "org.pic.Cell1.Error.InvalidArgument",
                                                 _("options: unknown key '%s'; known keys: ttl"), quoted);
                }
                r = sd_bus_message_peek_type(message, &type, &contents);
                if (r < 0)
                        return r;
                if (!g_str_equal(contents, "u"))
                        return sd_bus_error_setf(error, "org.pic.Cell1.Error.InvalidArgument",
                                                 _("options: 'ttl' must be seconds as u, not '%s'"), contents);
                r = sd_bus_message_read(message, "v", "u", &ttl);
                if (r >= 0)
                        r = sd_bus_message_exit_container(message);
                if (r < 0)
                        return r;
        }
        r = sd_bus_message_exit_container(message);
        if (r < 0)
                return r;

        if (!cell_create_invite_check(c->cell, ttl, &e))
                return bus_error_from_gerror(error, e);

        r = polkit_verify_async(c->polkit, message, ACTION_MANAGE_LINKS, error);
        if (r < 0)
                return r;
        if (r == 0)
                return 1;

        invite = cell_create_invite(c->cell, ttl, &e);
        if (!invite)
                return bus_error_from_gerror(error, e);
        return sd_bus_reply_method_return(message, "s", invite);
}

static int method_import_invite(sd_bus_message *message, void *userdata, sd_bus_error *error) {
        Context *c = userdata;
        g_autoptr(GError) e = NULL;
        g_autofree char *name = NULL, *path = NULL;
        const char *text;
        int r;

        r = sd_bus_message_read(message, "s", &text);
        if (r < 0)
                return r;
        /* The parser refuses oversized invites itself, with the limit in words. */
        if (!cell_import_invite_check(c->cell, text, &e))
                return bus_error_from_gerror(error, e);

        r = polkit_verify_async(c->polkit, message, ACTION_MANAGE_LINKS, error);
        if (r < 0)
                return r;
        if (r == 0)
                return 1;

        name = cell_import_invite(c->cell, text, &e);
        if (!name)
                return bus_error_from_gerror(error, e);
        path = bus_link_path(name);
        return sd_bus_reply_method_return(message, "o", path);
}

static bool link_exists(const Cell *cell, const char *name, GError **error) {
        return cell_find_link(cell, name, error) != NULL;
}

static int method_remove_link(sd_bus_message *message, void *userdata, sd_bus_error *error) {
        return method_remove_named(message, userdata, ACTION_MANAGE_LINKS, link_exists, cell_remove_link, error);
}

static int method_add_peer(sd_bus_message *message, void *userdata, sd_bus_error *error) {
        Context *c = userdata;
        g_autoptr(GError) e = NULL;
        g_autofree char *config = NULL, *path = NULL, *key = NULL;
        PeerOptions options = { .full_tunnel = true };
        const char *name;
        int r;

        r = sd_bus_message_read(message, "s", &name);
        if (r < 0)
                return r;
        r = bus_check_string(name, "name", error);
        if (r < 0)
                return r;
        r = sd_bus_message_enter_container(message, 'a', "{sv}");
        if (r < 0)
                return r;
        for (unsigned n = 0;; n++) {
                const char *option, *contents;
                char type;

                r = sd_bus_message_enter_container(message, 'e', "sv");
                if (r < 0)
                        return r;
                if (r == 0)
                        break;
                if (n >= BUS_MAX_DICT_ENTRIES)
                        return sd_bus_error_set(error, "org.pic.Cell1.Error.InvalidArgument",
                                                _("options: too many entries"));
                r = sd_bus_message_read(message, "s", &option);
                if (r >= 0)
                        r = sd_bus_message_peek_type(message, &type, &contents);
                if (r < 0)
                        return r;
                if (g_str_equal(option, "public_key") && g_str_equal(contents, "s")) {
                        const char *value;
                        r = sd_bus_message_read(message, "v", "s", &value);
                        if (r < 0)
                                return r;
                        g_free(key);
                        key = g_strndup(value, BUS_MAX_STRING);
                        options.public_key = key;
                } else if (g_str_equal(option, "full_tunnel") && g_str_equal(contents, "b")) {
                        int value;
                        r = sd_bus_message_read(message, "v", "b", &value);
                        if (r < 0)
                                return r;
                        options.full_tunnel = value != 0;
                } else {
                        g_autofree char *quoted = text_quote(option, BUS_QUOTE_MAX);
                        return sd_bus_error_setf(error, "org.pic.Cell1.Error.InvalidArgument",
                                                 _("options: '%s' of type '%s' is not an option; known: "
                                                   "public_key (s), full_tunnel (b)"), quoted, contents);
                }
                r = sd_bus_message_exit_container(message);
                if (r < 0)
                        return r;
        }
        r = sd_bus_message_exit_container(message);
        if (r < 0)
                return r;

        if (!cell_add_peer_check(c->cell, name, &options, &e))
                return bus_error_from_gerror(error, e);

        r = polkit_verify_async(c->polkit, message, ACTION_MANAGE_PEERS, error);
        if (r < 0)
                return r;
        if (r == 0)
                return 1;

        if (!cell_add_peer(c->cell, name, &options, &config, &e))
                return bus_error_from_gerror(error, e);
        path = bus_peer_path(name);
        r = sd_bus_reply_method_return(message, "os", path, config);
        memset(config, 0, strlen(config));
        return r;
}

static bool peer_exists(const Cell *cell, const char *name, GError **error) {
        return cell_find_peer(cell, name, error) != NULL;
}

static int method_remove_peer(sd_bus_message *message, void *userdata, sd_bus_error *error) {
        return method_remove_named(message, userdata, ACTION_MANAGE_PEERS, peer_exists, cell_remove_peer, error);
}

static const sd_bus_vtable cell_vtable[] = {
        SD_BUS_VTABLE_START(0),
        SD_BUS_PROPERTY("Name", "s", property_get_name, 0, SD_BUS_VTABLE_PROPERTY_EMITS_CHANGE),
        SD_BUS_PROPERTY("Domain", "s", property_get_domain, 0, SD_BUS_VTABLE_PROPERTY_EMITS_CHANGE),
        SD_BUS_PROPERTY("Address", "s", property_get_address, 0, SD_BUS_VTABLE_PROPERTY_EMITS_CHANGE),
        SD_BUS_PROPERTY("VpnSubnet", "s", property_get_vpn_subnet, 0, SD_BUS_VTABLE_PROPERTY_EMITS_CHANGE),
        SD_BUS_PROPERTY("DnsAddress", "s", property_get_dns_address, 0, SD_BUS_VTABLE_PROPERTY_EMITS_CHANGE),
        SD_BUS_PROPERTY("Endpoint", "s", property_get_endpoint, 0, SD_BUS_VTABLE_PROPERTY_EMITS_CHANGE),
        SD_BUS_PROPERTY("ListenPort", "q", property_get_listen_port, 0, SD_BUS_VTABLE_PROPERTY_CONST),
        SD_BUS_PROPERTY("SyncPort", "q", property_get_sync_port, 0, SD_BUS_VTABLE_PROPERTY_CONST),
        SD_BUS_PROPERTY("PublicKey", "s", property_get_public_key, 0, SD_BUS_VTABLE_PROPERTY_CONST),
        SD_BUS_PROPERTY("Interface", "s", property_get_interface, 0, SD_BUS_VTABLE_PROPERTY_CONST),
        SD_BUS_PROPERTY("WireGuardBackend", "s", property_get_wireguard_backend, 0, SD_BUS_VTABLE_PROPERTY_CONST),
        SD_BUS_PROPERTY("Services", "a(ssa(sq))", property_get_services, 0, SD_BUS_VTABLE_PROPERTY_EMITS_CHANGE),

        SD_BUS_METHOD_WITH_ARGS("CreateInvite",
                                SD_BUS_ARGS("a{sv}", options),
                                SD_BUS_RESULT("s", invite),
                                method_create_invite, SD_BUS_VTABLE_UNPRIVILEGED),
        SD_BUS_METHOD_WITH_ARGS("ImportInvite",
                                SD_BUS_ARGS("s", invite),
                                SD_BUS_RESULT("o", link),
                                method_import_invite, SD_BUS_VTABLE_UNPRIVILEGED),
        SD_BUS_METHOD_WITH_ARGS("RemoveLink",
                                SD_BUS_ARGS("s", name),
                                SD_BUS_NO_RESULT,
                                method_remove_link, SD_BUS_VTABLE_UNPRIVILEGED),
        SD_BUS_METHOD_WITH_ARGS("AddPeer",
                                SD_BUS_ARGS("s", name, "a{sv}", options),
                                SD_BUS_RESULT("o", peer, "s", config),
                                method_add_peer, SD_BUS_VTABLE_UNPRIVILEGED),
        SD_BUS_METHOD_WITH_ARGS("RemovePeer",
                                SD_BUS_ARGS("s", name),
                                SD_BUS_NO_RESULT,
                                method_remove_peer, SD_BUS_VTABLE_UNPRIVILEGED),
        SD_BUS_METHOD_WITH_ARGS("Configure",
                                SD_BUS_ARGS("a{sv}", settings),
                                SD_BUS_NO_RESULT,
                                method_configure, SD_BUS_VTABLE_UNPRIVILEGED),
        SD_BUS_METHOD_WITH_ARGS("SetService",
                                SD_BUS_ARGS("s", name, "s", address, "a(sq)", ports),
                                SD_BUS_NO_RESULT,
                                method_set_service, SD_BUS_VTABLE_UNPRIVILEGED),
        SD_BUS_METHOD_WITH_ARGS("RemoveService",
                                SD_BUS_ARGS("s", name),
                                SD_BUS_NO_RESULT,
                                method_remove_service, SD_BUS_VTABLE_UNPRIVILEGED),
        SD_BUS_VTABLE_END
};

static void on_cell_changed(void *userdata, const char *const *properties) {
        Context *c = userdata;
        int r;

        r = sd_bus_emit_properties_changed_strv(c->bus, BUS_OBJECT_PATH, BUS_INTERFACE, (char **) properties);
        if (r < 0)
                g_warning("Failed to emit PropertiesChanged: %s", g_strerror(-r));
}

int bus_cell_register(Context *c) {
        static const CellListener listener = {
                .cell_changed = on_cell_changed,
        };
        int r;

        r = sd_bus_add_object_vtable(c->bus, NULL, BUS_OBJECT_PATH, BUS_INTERFACE, cell_vtable, c);
        if (r < 0)
                return r;
        r = sd_bus_add_object_manager(c->bus, NULL, BUS_OBJECT_PATH);
        if (r < 0)
                return r;
        cell_add_listener(c->cell, &listener, c);
        return 0;
}
