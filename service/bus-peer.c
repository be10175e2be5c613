/* bus-peer.c: the road-warrior peer objects, found in the model by the name
 * encoded in their path (like the links). */
#include <errno.h>
#include <string.h>

#include "bus-peer.h"
#include "bus-util.h"
#include "netaddr.h"

#define ACTION_MANAGE_PEERS "org.pic.cell1.manage-peers"

char *bus_peer_path(const char *name) {
        return bus_object_path(BUS_PEER_PREFIX, name);
}

static const Peer *peer_from_path(Context *c, const char *path) {
        g_autofree char *name = NULL;
        const Peer *peer = bus_found_object_get(&c->found, path, cell_get_generation(c->cell));

        if (peer)
                return peer;
        name = bus_object_name(BUS_PEER_PREFIX, path);
        return name ? cell_state_find_peer(cell_get_state(c->cell), name) : NULL;
}

static int peer_find(sd_bus *bus, const char *path, const char *interface, void *userdata,
                     void **found, sd_bus_error *error) {
        Context *c = userdata;
        const Peer *peer;

        bus_found_object_clear(&c->found);
        peer = peer_from_path(c, path);
        if (!peer)
                return 0;
        bus_found_object_set(&c->found, path, peer, cell_get_generation(c->cell));
        *found = c;
        return 1;
}

static int peer_enumerate(sd_bus *bus, const char *path, void *userdata, char ***nodes, sd_bus_error *error) {
        Context *c = userdata;
        const CellState *state = cell_get_state(c->cell);
        g_autofree const char **names = g_new0(const char *, state->peers->len + 1);

        for (guint i = 0; i < state->peers->len; i++)
                names[i] = ((const Peer *) state->peers->pdata[i])->name;
        return bus_enumerate(BUS_PEER_PREFIX, names, state->peers->len, nodes);
}

static int property_get(sd_bus *bus, const char *path, const char *interface, const char *property,
                        sd_bus_message *reply, void *userdata, sd_bus_error *error) {
        Context *c = userdata;
        const Peer *peer = peer_from_path(c, path);

        if (!peer)
                return -ENOENT;
        if (g_str_equal(property, "Name"))
                return sd_bus_message_append(reply, "s", peer->name);
        if (g_str_equal(property, "Address")) {
                g_autofree char *text = netaddr_format_address(peer->address);
                return sd_bus_message_append(reply, "s", text);
        }
        if (g_str_equal(property, "PublicKey"))
                return sd_bus_message_append(reply, "s", peer->public_key);
        if (g_str_equal(property, "FullTunnel"))
                return sd_bus_message_append(reply, "b", peer->full_tunnel);
        if (g_str_equal(property, "RouteVia"))
                return sd_bus_message_append(reply, "s", peer->route_via);
        if (g_str_equal(property, "RouteViaActive"))
                return sd_bus_message_append(reply, "b", cell_peer_route_via_active(c->cell, peer));
        if (g_str_equal(property, "Connected"))
                return sd_bus_message_append(reply, "b", cell_get_peer_status(c->cell, peer->name).connected);
        if (g_str_equal(property, "LatestHandshake"))
                return sd_bus_message_append(reply, "t",
                                             (uint64_t) cell_get_peer_status(c->cell, peer->name).last_handshake);
        if (g_str_equal(property, "RxBytes"))
                return sd_bus_message_append(reply, "t", cell_get_peer_status(c->cell, peer->name).rx_bytes);
        if (g_str_equal(property, "TxBytes"))
                return sd_bus_message_append(reply, "t", cell_get_peer_status(c->cell, peer->name).tx_bytes);
        return -EINVAL;
}

static int method_set_route_via(sd_bus_message *message, void *userdata, sd_bus_error *error) {
        Context *c = userdata;
        const Peer *peer = peer_from_path(c, sd_bus_message_get_path(message));
        g_autoptr(GError) e = NULL;
        g_autofree char *name = NULL;
        const char *via;
        int r;

        if (!peer)
                return -ENOENT;
        name = g_strdup(peer->name);
        r = sd_bus_message_read(message, "s", &via);
        if (r < 0)
                return r;
        r = bus_check_string(via, "cell", error);
        if (r < 0)
                return r;
        if (!cell_set_route_via_check(c->cell, name, via, &e))
                return bus_error_from_gerror(error, e);
        if (g_str_equal(peer->route_via, via))
                return sd_bus_reply_method_return(message, NULL);

        r = polkit_verify_async(c->polkit, message, ACTION_MANAGE_PEERS, error);
        if (r < 0)
                return r;
        if (r == 0)
                return 1;

        if (!cell_set_route_via(c->cell, name, via, &e))
                return bus_error_from_gerror(error, e);
        return sd_bus_reply_method_return(message, NULL);
}

#define PEER_PROPERTY(name, sig, flags) SD_BUS_PROPERTY(name, sig, property_get, 0, flags)

static const sd_bus_vtable peer_vtable[] = {
        SD_BUS_VTABLE_START(0),
        PEER_PROPERTY("Name", "s", SD_BUS_VTABLE_PROPERTY_CONST),
        PEER_PROPERTY("Address", "s", SD_BUS_VTABLE_PROPERTY_EMITS_CHANGE),
        PEER_PROPERTY("PublicKey", "s", SD_BUS_VTABLE_PROPERTY_EMITS_CHANGE),
        PEER_PROPERTY("FullTunnel", "b", SD_BUS_VTABLE_PROPERTY_EMITS_CHANGE),
        PEER_PROPERTY("RouteVia", "s", SD_BUS_VTABLE_PROPERTY_EMITS_CHANGE),
        PEER_PROPERTY("RouteViaActive", "b", SD_BUS_VTABLE_PROPERTY_EMITS_CHANGE),
        PEER_PROPERTY("Connected", "b", SD_BUS_VTABLE_PROPERTY_EMITS_CHANGE),
        PEER_PROPERTY("LatestHandshake", "t", SD_BUS_VTABLE_PROPERTY_EMITS_CHANGE),
        PEER_PROPERTY("RxBytes", "t", SD_BUS_VTABLE_PROPERTY_EMITS_CHANGE),
        PEER_PROPERTY("TxBytes", "t", SD_BUS_VTABLE_PROPERTY_EMITS_CHANGE),
        SD_BUS_METHOD_WITH_ARGS("SetRouteVia",
                                SD_BUS_ARGS("s", cell),
                                SD_BUS_NO_RESULT,
                                method_set_route_via, SD_BUS_VTABLE_UNPRIVILEGED),
        SD_BUS_VTABLE_END
};

static void on_peer_added(void *userdata, const char *name) {
        Context *c = userdata;
        g_autofree char *path = bus_peer_path(name);
        int r;

        r = sd_bus_emit_object_added(c->bus, path);
        if (r < 0)
                g_warning("Failed to announce peer %s: %s", name, g_strerror(-r));
}

static void on_peer_removed(void *userdata, const char *name) {
        Context *c = userdata;
        g_autofree char *path = bus_peer_path(name);

        bus_emit_object_removed(c->bus, path, BUS_PEER_INTERFACE);
}

static void on_peer_changed(void *userdata, const char *name, const char *const *properties) {
        Context *c = userdata;
        g_autofree char *path = bus_peer_path(name);
        int r;

        r = sd_bus_emit_properties_changed_strv(c->bus, path, BUS_PEER_INTERFACE, (char **) properties);
        if (r < 0)
                g_warning("Failed to emit PropertiesChanged for peer %s: %s", name, g_strerror(-r));
}

int bus_peer_register(Context *c) {
        static const CellListener listener = {
                .peer_added = on_peer_added,
                .peer_removed = on_peer_removed,
                .peer_changed = on_peer_changed,
        };
        int r;

        r = sd_bus_add_fallback_vtable(c->bus, NULL, BUS_PEER_PREFIX, BUS_PEER_INTERFACE, peer_vtable, peer_find, c);
        if (r < 0)
                return r;
        r = sd_bus_add_node_enumerator(c->bus, NULL, BUS_PEER_PREFIX, peer_enumerate, c);
        if (r < 0)
                return r;
        cell_add_listener(c->cell, &listener, c);
        return 0;
}
