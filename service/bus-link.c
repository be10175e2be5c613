/* bus-link.c: the link objects. They are not kept anywhere: a fallback
 * vtable finds the link in the model by the name encoded in the path, so the
 * bus always shows exactly what the model holds. */
#include <errno.h>
#include <string.h>

#include "bus-link.h"
#include "bus-util.h"
#include "i18n.h"
#include "netaddr.h"
#include "probe.h"
#include "text-quote.h"

#define ACTION_MANAGE_LINKS "org.pic.cell1.manage-links"

char *bus_link_path(const char *name) {
        return bus_object_path(BUS_LINK_PREFIX, name);
}

static const Link *link_from_path(Context *c, const char *path) {
        g_autofree char *name = NULL;
        const Link *link = bus_found_object_get(&c->found, path, cell_get_generation(c->cell));

        if (link)
                return link;
        name = bus_object_name(BUS_LINK_PREFIX, path);
        return name ? cell_state_find_link(cell_get_state(c->cell), name) : NULL;
}

static int link_find(sd_bus *bus, const char *path, const char *interface, void *userdata,
                     void **found, sd_bus_error *error) {
        Context *c = userdata;
        const Link *link;

        bus_found_object_clear(&c->found);
        link = link_from_path(c, path);
        if (!link)
                return 0;
        bus_found_object_set(&c->found, path, link, cell_get_generation(c->cell));
        *found = c;
        return 1;
}

static int link_enumerate(sd_bus *bus, const char *path, void *userdata, char ***nodes, sd_bus_error *error) {
        Context *c = userdata;
        const CellState *state = cell_get_state(c->cell);
        g_autofree const char **names = g_new0(const char *, state->links->len + 1);

        for (guint i = 0; i < state->links->len; i++)
                names[i] = ((const Link *) state->links->pdata[i])->name;
        return bus_enumerate(BUS_LINK_PREFIX, names, state->links->len, nodes);
}

#define LINK_OR_FAIL(c, path)                                   \
        const Link *link = link_from_path((c), (path));         \
        if (!link)                                              \
                return -ENOENT

/* One getter a property, each appending its value directly: GetManagedObjects
 * calls them for every property of every link. */
BUS_PROPERTY_GETTER(get_name) {
        LINK_OR_FAIL(userdata, path);
        return sd_bus_message_append_basic(reply, 's', link->name);
}

BUS_PROPERTY_GETTER(get_domain) {
        LINK_OR_FAIL(userdata, path);
        return sd_bus_message_append_basic(reply, 's', link->domain);
}

BUS_PROPERTY_GETTER(get_vpn_subnet) {
        LINK_OR_FAIL(userdata, path);
        g_autofree char *text = netaddr_format_network(&link->vpn_subnet);
        return sd_bus_message_append_basic(reply, 's', text);
}

BUS_PROPERTY_GETTER(get_tunnel_address) {
        LINK_OR_FAIL(userdata, path);
        g_autofree char *text = netaddr_format_address(link->tunnel_address);
        return sd_bus_message_append_basic(reply, 's', text);
}

BUS_PROPERTY_GETTER(get_dns_address) {
        LINK_OR_FAIL(userdata, path);
        g_autofree char *text = netaddr_format_address(link->dns_ip);
        return sd_bus_message_append_basic(reply, 's', text);
}

BUS_PROPERTY_GETTER(get_endpoint) {
        LINK_OR_FAIL(userdata, path);
        return sd_bus_message_append_basic(reply, 's', link->endpoint);
}

BUS_PROPERTY_GETTER(get_public_key) {
        LINK_OR_FAIL(userdata, path);
        return sd_bus_message_append_basic(reply, 's', link->public_key);
}

BUS_PROPERTY_GETTER(get_paired) {
        LINK_OR_FAIL(userdata, path);
        return bus_append_bool(reply, link->paired);
}

BUS_PROPERTY_GETTER(get_connected) {
        Context *c = userdata;
        LINK_OR_FAIL(c, path);
        return bus_append_bool(reply, cell_get_key_status(c->cell, link->public_key).connected);
}

BUS_PROPERTY_GETTER(get_latest_handshake) {
        Context *c = userdata;
        LINK_OR_FAIL(c, path);
        return bus_append_u64(reply, (uint64_t) cell_get_key_status(c->cell, link->public_key).last_handshake);
}

BUS_PROPERTY_GETTER(get_rx_bytes) {
        Context *c = userdata;
        LINK_OR_FAIL(c, path);
        return bus_append_u64(reply, cell_get_key_status(c->cell, link->public_key).rx_bytes);
}

BUS_PROPERTY_GETTER(get_tx_bytes) {
        Context *c = userdata;
        LINK_OR_FAIL(c, path);
        return bus_append_u64(reply, cell_get_key_status(c->cell, link->public_key).tx_bytes);
}

BUS_PROPERTY_GETTER(get_exit_offered) {
        LINK_OR_FAIL(userdata, path);
        return bus_append_bool(reply, link->exit_offered);
}

BUS_PROPERTY_GETTER(get_remote_exit_offered) {
        LINK_OR_FAIL(userdata, path);
        return bus_append_bool(reply, link->remote_exit_offered);
}

BUS_PROPERTY_GETTER(get_exit_relay_active) {
        LINK_OR_FAIL(userdata, path);
        return bus_append_bool(reply, link->exit_relay_active);
}

BUS_PROPERTY_GETTER(get_remote_exit_relay_active) {
        LINK_OR_FAIL(userdata, path);
        return bus_append_bool(reply, link->remote_exit_relay_active);
}

BUS_PROPERTY_GETTER(get_push_state) {
        LINK_OR_FAIL(userdata, path);
        return sd_bus_message_append_basic(reply, 's', push_state_to_string(link->push_state));
}

BUS_PROPERTY_GETTER(get_last_push_at) {
        LINK_OR_FAIL(userdata, path);
        return bus_append_u64(reply, (uint64_t) link->last_push_at);
}

BUS_PROPERTY_GETTER(get_last_push_error) {
        LINK_OR_FAIL(userdata, path);
        return sd_bus_message_append_basic(reply, 's', link->last_push_error ?: "");
}

BUS_PROPERTY_GETTER(get_last_remote_update_at) {
        LINK_OR_FAIL(userdata, path);
        return bus_append_u64(reply, (uint64_t) link->last_remote_update_at);
}

static int append_permissions(sd_bus_message *reply, GHashTable *table, const CellState *state, bool ours) {
        g_autoptr(GList) keys = NULL;
        int r;

        r = sd_bus_message_open_container(reply, 'a', "{sb}");
        if (r < 0)
                return r;
        if (ours) {
                /* Every service we offer, shared or not, so a client can draw the grid. */
                for (guint i = 0; i < state->services->len; i++) {
                        const Service *svc = state->services->pdata[i];
                        gboolean on = GPOINTER_TO_INT(g_hash_table_lookup(table, svc->name));
                        r = sd_bus_message_append(reply, "{sb}", svc->name, on);
                        if (r < 0)
                                return r;
                }
        } else {
                keys = g_list_sort(g_hash_table_get_keys(table), (GCompareFunc) strcmp);
                for (GList *k = keys; k; k = k->next) {
                        gboolean on = GPOINTER_TO_INT(g_hash_table_lookup(table, k->data));
                        r = sd_bus_message_append(reply, "{sb}", (const char *) k->data, on);
                        if (r < 0)
                                return r;
                }
        }
        return sd_bus_message_close_container(reply);
}

static int property_get_permissions(sd_bus *bus, const char *path, const char *interface, const char *property,
                                    sd_bus_message *reply, void *userdata, sd_bus_error *error) {
        Context *c = userdata;
        LINK_OR_FAIL(c, path);
        bool inbound = g_str_equal(property, "Inbound");

        return append_permissions(reply, inbound ? link->inbound : link->outbound, cell_get_state(c->cell), inbound);
}

static int method_set_permissions(sd_bus_message *message, void *userdata, sd_bus_error *error) {
        Context *c = userdata;
        g_autoptr(GHashTable) inbound = g_hash_table_new_full(g_str_hash, g_str_equal, g_free, NULL);
        g_autoptr(GError) e = NULL;
        g_autofree char *name = NULL;
        unsigned entries = 0;
        bool changes;
        int r;

        {
                LINK_OR_FAIL(c, sd_bus_message_get_path(message));
                name = g_strdup(link->name);
        }
        r = sd_bus_message_enter_container(message, 'a', "{sb}");
        if (r < 0)
                return r;
        for (;;) {
                const char *service;
                int shared;

                r = sd_bus_message_read(message, "{sb}", &service, &shared);
                if (r < 0)
                        return r;
                if (r == 0)
                        break;
                if (++entries > CELL_STATE_MAX_SERVICES)
                        return sd_bus_error_setf(error, "org.pic.Cell1.Error.InvalidArgument",
                                                 _("inbound: more than %d entries"), CELL_STATE_MAX_SERVICES);
                r = bus_check_string(service, "inbound", error);
                if (r < 0)
                        return r;
                if (g_hash_table_contains(inbound, service)) {
                        g_autofree char *quoted = text_quote(service, BUS_QUOTE_MAX);
                        return sd_bus_error_setf(error, "org.pic.Cell1.Error.InvalidArgument",
                                                 _("inbound: '%s' is given more than once"), quoted);
                }
                g_hash_table_replace(inbound, g_strdup(service), GINT_TO_POINTER(shared != 0));
        }
        r = sd_bus_message_exit_container(message);
        if (r < 0)
                return r;

        if (!cell_set_permissions_check(c->cell, name, inbound, &changes, &e))
                return bus_error_from_gerror(error, e);
        if (!changes)
                return sd_bus_reply_method_return(message, NULL);

        r = polkit_verify_async(c->polkit, message, ACTION_MANAGE_LINKS, error);
        if (r < 0)
                return r;
        if (r == 0)
                return 1;

        if (!cell_set_permissions(c->cell, name, inbound, &e))
                return bus_error_from_gerror(error, e);
        return sd_bus_reply_method_return(message, NULL);
}

static int method_set_exit_offered(sd_bus_message *message, void *userdata, sd_bus_error *error) {
        Context *c = userdata;
        g_autoptr(GError) e = NULL;
        g_autofree char *name = NULL;
        bool current;
        int offered;
        int r;

        {
                LINK_OR_FAIL(c, sd_bus_message_get_path(message));
                name = g_strdup(link->name);
                current = link->exit_offered;
        }
        r = sd_bus_message_read(message, "b", &offered);
        if (r < 0)
                return r;
        if (current == (offered != 0))
                return sd_bus_reply_method_return(message, NULL);

        r = polkit_verify_async(c->polkit, message, ACTION_MANAGE_LINKS, error);
        if (r < 0)
                return r;
        if (r == 0)
                return 1;

        if (!cell_set_exit_offered(c->cell, name, offered != 0, &e))
                return bus_error_from_gerror(error, e);
        return sd_bus_reply_method_return(message, NULL);
}

/* --- Diagnose --- */

#define DIAGNOSE_TIMEOUT_MS 2000

typedef struct {
        Context *context;
        sd_bus_message *request;
        GCancellable *cancellable;
        Link *link;               /* held: the model replaces, never changes, a shared link */
        TunnelStatus status;
        unsigned pending;
        bool ping_ok, sync_ok, dns_ok;
        double ping_ms;
        char *ping_error, *sync_error, *dns_error;
} Diagnosis;

static void diagnosis_free(Diagnosis *d) {
        g_cancellable_cancel(d->cancellable);
        g_object_unref(d->cancellable);
        sd_bus_message_unref(d->request);
        link_unref(d->link);
        g_free(d->ping_error);
        g_free(d->sync_error);
        g_free(d->dns_error);
        g_free(d);
}

/* "3 hours", "2 minutes", "40 seconds": how an admin says it. */
static char *describe_age(uint64_t seconds) {
        if (seconds >= 2 * 86400)
                return g_strdup_printf("%" G_GUINT64_FORMAT " days", seconds / 86400);
        if (seconds >= 2 * 3600)
                return g_strdup_printf("%" G_GUINT64_FORMAT " hours", seconds / 3600);
        if (seconds >= 2 * 60)
                return g_strdup_printf("%" G_GUINT64_FORMAT " minutes", seconds / 60);
        return g_strdup_printf("%" G_GUINT64_FORMAT " seconds", seconds);
}

static void diagnosis_reply(Diagnosis *d) {
        const Link *l = d->link;
        int64_t now = g_get_real_time() / G_USEC_PER_SEC;
        uint64_t age = d->status.last_handshake > 0 ? (uint64_t) MAX(now - d->status.last_handshake, 0) : UINT64_MAX;
        g_autoptr(GPtrArray) problems = g_ptr_array_new_with_free_func(g_free);
        g_autofree char *tunnel = netaddr_format_address(l->tunnel_address);
        g_autofree char *dns = netaddr_format_address(cell_get_state(d->context->cell)->cell.dns_address);
        sd_bus_message *reply = NULL;
        int r;

        if (!l->paired)
                g_ptr_array_add(problems, g_strdup_printf("%s has not confirmed the link yet%s%s", l->name,
                                                          l->last_push_error ? ": " : "",
                                                          l->last_push_error ?: ""));
        if (age == UINT64_MAX)
                g_ptr_array_add(problems, g_strdup_printf("no handshake with %s yet: is %s's endpoint %s reachable "
                                                          "over UDP?", l->name, l->name, l->endpoint));
        else if (age > CELL_CONNECTED_WINDOW) {
                g_autofree char *words = describe_age(age);
                g_ptr_array_add(problems, g_strdup_printf("no handshake for %s: is %s's endpoint %s reachable?",
                                                          words, l->name, l->endpoint));
        }
        if (!d->ping_ok)
                g_ptr_array_add(problems, g_strdup_printf("%s's tunnel address %s does not answer pings: %s",
                                                          l->name, tunnel, d->ping_error));
        if (!d->sync_ok)
                g_ptr_array_add(problems, g_strdup_printf("%s's sync endpoint %s:%u is unreachable (%s): is "
                                                          "pic-celld running on %s?", l->name, tunnel,
                                                          l->sync_port, d->sync_error, l->name));
        if (!d->dns_ok)
                g_ptr_array_add(problems, g_strdup_printf("%s does not resolve through this cell's DNS (%s): %s",
                                                          l->domain, dns, d->dns_error));
        if (l->paired && l->push_state != PUSH_STATE_OK)
                g_ptr_array_add(problems, g_strdup_printf("changes for %s are waiting to be delivered%s%s", l->name,
                                                          l->last_push_error ? ": " : "",
                                                          l->last_push_error ?: ""));
        g_ptr_array_add(problems, NULL);

        r = sd_bus_message_new_method_return(d->request, &reply);
        if (r >= 0)
                r = sd_bus_message_open_container(reply, 'a', "{sv}");
        if (r >= 0)
                r = sd_bus_message_append(reply, "{sv}", "handshake_age", "t", age);
        if (r >= 0)
                r = sd_bus_message_append(reply, "{sv}", "tunnel_ping_ms", "d", d->ping_ok ? d->ping_ms : -1.0);
        if (r >= 0)
                r = sd_bus_message_append(reply, "{sv}", "sync_reachable", "b", d->sync_ok);
        if (r >= 0)
                r = sd_bus_message_append(reply, "{sv}", "dns_ok", "b", d->dns_ok);
        if (r >= 0)
                r = sd_bus_message_open_container(reply, 'e', "sv");
        if (r >= 0)
                r = sd_bus_message_append(reply, "s", "problems");
        if (r >= 0)
                r = sd_bus_message_open_container(reply, 'v', "as");
        if (r >= 0)
                r = sd_bus_message_append_strv(reply, (char **) problems->pdata);
        if (r >= 0)
                r = sd_bus_message_close_container(reply);
        if (r >= 0)
                r = sd_bus_message_close_container(reply);
        if (r >= 0)
                r = sd_bus_message_close_container(reply);
        if (r >= 0)
                r = sd_bus_send(NULL, reply, NULL);
        if (r < 0)
                g_warning("Failed to answer Diagnose for %s: %s", l->name, g_strerror(-r));
        sd_bus_message_unref(reply);
}

static void diagnosis_step_done(Diagnosis *d) {
        if (--d->pending > 0)
                return;
        diagnosis_reply(d);
        g_ptr_array_remove(d->context->diagnoses, d);
}

static void on_ping(bool ok, double ms, const char *msg, void *userdata) {
        Diagnosis *d = userdata;

        d->ping_ok = ok;
        d->ping_ms = ms;
        d->ping_error = g_strdup(msg);
        diagnosis_step_done(d);
}

static void on_sync(bool ok, double ms, const char *msg, void *userdata) {
        Diagnosis *d = userdata;

        d->sync_ok = ok;
        d->sync_error = g_strdup(msg);
        diagnosis_step_done(d);
}

static void on_dns(bool ok, double ms, const char *msg, void *userdata) {
        Diagnosis *d = userdata;

        d->dns_ok = ok;
        d->dns_error = g_strdup(msg);
        diagnosis_step_done(d);
}

/* No polkit: it only reads, and what it sends is three small probes. */
static int method_diagnose(sd_bus_message *message, void *userdata, sd_bus_error *error) {
        Context *c = userdata;
        const CellState *state = cell_get_state(c->cell);
        uint32_t source = state->cell.address.address;
        LINK_OR_FAIL(c, sd_bus_message_get_path(message));
        Diagnosis *d;

        if (!c->diagnoses)
                c->diagnoses = g_ptr_array_new_with_free_func((GDestroyNotify) diagnosis_free);
        if (c->diagnoses->len >= 16)
                return sd_bus_error_set(error, "org.pic.Cell1.Error.LimitExceeded",
                                        _("Too many diagnoses under way; try again in a moment"));

        d = g_new0(Diagnosis, 1);
        d->context = c;
        d->request = sd_bus_message_ref(message);
        d->cancellable = g_cancellable_new();
        d->status = cell_get_link_status(c->cell, link->name);
        d->link = link_ref((Link *) link);
        d->pending = 3;
        g_ptr_array_add(c->diagnoses, d);

        probe_ping(source, link->tunnel_address, DIAGNOSE_TIMEOUT_MS, d->cancellable, on_ping, d);
        probe_tcp_connect(source, link->tunnel_address, link->sync_port, DIAGNOSE_TIMEOUT_MS, d->cancellable,
                          on_sync, d);
        probe_dns(state->cell.dns_address, link->domain, DIAGNOSE_TIMEOUT_MS, d->cancellable, on_dns, d);
        return 1;
}

static int method_remove(sd_bus_message *message, void *userdata, sd_bus_error *error) {
        Context *c = userdata;
        g_autoptr(GError) e = NULL;
        g_autofree char *name = NULL;
        int r;

        {
                LINK_OR_FAIL(c, sd_bus_message_get_path(message));
                name = g_strdup(link->name);
        }
        r = polkit_verify_async(c->polkit, message, ACTION_MANAGE_LINKS, error);
        if (r < 0)
                return r;
        if (r == 0)
                return 1;
        if (!cell_remove_link(c->cell, name, &e))
                return bus_error_from_gerror(error, e);
        return sd_bus_reply_method_return(message, NULL);
}

static const sd_bus_vtable link_vtable[] = {
        SD_BUS_VTABLE_START(0),
        SD_BUS_PROPERTY("Name", "s", get_name, 0, SD_BUS_VTABLE_PROPERTY_CONST),
        SD_BUS_PROPERTY("Domain", "s", get_domain, 0, SD_BUS_VTABLE_PROPERTY_EMITS_CHANGE),
        SD_BUS_PROPERTY("VpnSubnet", "s", get_vpn_subnet, 0, SD_BUS_VTABLE_PROPERTY_EMITS_CHANGE),
        SD_BUS_PROPERTY("TunnelAddress", "s", get_tunnel_address, 0, SD_BUS_VTABLE_PROPERTY_EMITS_CHANGE),
        SD_BUS_PROPERTY("DnsAddress", "s", get_dns_address, 0, SD_BUS_VTABLE_PROPERTY_EMITS_CHANGE),
        SD_BUS_PROPERTY("Endpoint", "s", get_endpoint, 0, SD_BUS_VTABLE_PROPERTY_EMITS_CHANGE),
        SD_BUS_PROPERTY("PublicKey", "s", get_public_key, 0, SD_BUS_VTABLE_PROPERTY_EMITS_CHANGE),
        SD_BUS_PROPERTY("Paired", "b", get_paired, 0, SD_BUS_VTABLE_PROPERTY_EMITS_CHANGE),
        SD_BUS_PROPERTY("Connected", "b", get_connected, 0, SD_BUS_VTABLE_PROPERTY_EMITS_CHANGE),
        SD_BUS_PROPERTY("LatestHandshake", "t", get_latest_handshake, 0, SD_BUS_VTABLE_PROPERTY_EMITS_CHANGE),
        SD_BUS_PROPERTY("RxBytes", "t", get_rx_bytes, 0, SD_BUS_VTABLE_PROPERTY_EMITS_CHANGE),
        SD_BUS_PROPERTY("TxBytes", "t", get_tx_bytes, 0, SD_BUS_VTABLE_PROPERTY_EMITS_CHANGE),
        SD_BUS_PROPERTY("Inbound", "a{sb}", property_get_permissions, 0, SD_BUS_VTABLE_PROPERTY_EMITS_CHANGE),
        SD_BUS_PROPERTY("Outbound", "a{sb}", property_get_permissions, 0, SD_BUS_VTABLE_PROPERTY_EMITS_CHANGE),
        SD_BUS_PROPERTY("ExitOffered", "b", get_exit_offered, 0, SD_BUS_VTABLE_PROPERTY_EMITS_CHANGE),
        SD_BUS_PROPERTY("RemoteExitOffered", "b", get_remote_exit_offered, 0, SD_BUS_VTABLE_PROPERTY_EMITS_CHANGE),
        SD_BUS_PROPERTY("ExitRelayActive", "b", get_exit_relay_active, 0, SD_BUS_VTABLE_PROPERTY_EMITS_CHANGE),
        SD_BUS_PROPERTY("RemoteExitRelayActive", "b", get_remote_exit_relay_active, 0, SD_BUS_VTABLE_PROPERTY_EMITS_CHANGE),
        SD_BUS_PROPERTY("PushState", "s", get_push_state, 0, SD_BUS_VTABLE_PROPERTY_EMITS_CHANGE),
        SD_BUS_PROPERTY("LastPushAt", "t", get_last_push_at, 0, SD_BUS_VTABLE_PROPERTY_EMITS_CHANGE),
        SD_BUS_PROPERTY("LastPushError", "s", get_last_push_error, 0, SD_BUS_VTABLE_PROPERTY_EMITS_CHANGE),
        SD_BUS_PROPERTY("LastRemoteUpdateAt", "t", get_last_remote_update_at, 0, SD_BUS_VTABLE_PROPERTY_EMITS_CHANGE),

        SD_BUS_METHOD_WITH_ARGS("SetPermissions",
                                SD_BUS_ARGS("a{sb}", inbound),
                                SD_BUS_NO_RESULT,
                                method_set_permissions, SD_BUS_VTABLE_UNPRIVILEGED),
        SD_BUS_METHOD_WITH_ARGS("SetExitOffered",
                                SD_BUS_ARGS("b", offered),
                                SD_BUS_NO_RESULT,
                                method_set_exit_offered, SD_BUS_VTABLE_UNPRIVILEGED),
        SD_BUS_METHOD_WITH_ARGS("Diagnose",
                                SD_BUS_NO_ARGS,
                                SD_BUS_RESULT("a{sv}", report),
                                method_diagnose, SD_BUS_VTABLE_UNPRIVILEGED),
        SD_BUS_METHOD_WITH_ARGS("Remove",
                                SD_BUS_NO_ARGS,
                                SD_BUS_NO_RESULT,
                                method_remove, SD_BUS_VTABLE_UNPRIVILEGED),
        SD_BUS_VTABLE_END
};

static void on_link_added(void *userdata, const char *name) {
        Context *c = userdata;
        g_autofree char *path = bus_link_path(name);
        int r;

        r = sd_bus_emit_object_added(c->bus, path);
        if (r < 0)
                g_warning("Failed to announce link %s: %s", name, g_strerror(-r));
}

static void on_link_removed(void *userdata, const char *name) {
        Context *c = userdata;
        g_autofree char *path = bus_link_path(name);

        bus_emit_object_removed(c->bus, path, BUS_LINK_INTERFACE);
}

static void on_link_changed(void *userdata, const char *name, const char *const *properties) {
        Context *c = userdata;
        g_autofree char *path = bus_link_path(name);
        int r;

        r = sd_bus_emit_properties_changed_strv(c->bus, path, BUS_LINK_INTERFACE, (char **) properties);
        if (r < 0)
                g_warning("Failed to emit PropertiesChanged for link %s: %s", name, g_strerror(-r));
}

const sd_bus_vtable *bus_link_vtable(void) {
        return link_vtable;
}

int bus_link_register(Context *c) {
        static const CellListener listener = {
                .link_added = on_link_added,
                .link_removed = on_link_removed,
                .link_changed = on_link_changed,
        };
        int r;

        r = sd_bus_add_fallback_vtable(c->bus, NULL, BUS_LINK_PREFIX, BUS_LINK_INTERFACE, link_vtable,
                                       link_find, c);
        if (r < 0)
                return r;
        r = sd_bus_add_node_enumerator(c->bus, NULL, BUS_LINK_PREFIX, link_enumerate, c);
        if (r < 0)
                return r;
        cell_add_listener(c->cell, &listener, c);
        return 0;
}
