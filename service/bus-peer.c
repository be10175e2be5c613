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

/* One getter a property, each appending its value directly: GetManagedObjects
 * calls them for every property of every peer. */
#define PEER_OR_FAIL(c, path)                                   \
        const Peer *peer = peer_from_path((c), (path));         \
        if (!peer)                                              \
                return -ENOENT

BUS_PROPERTY_GETTER(get_name) {
        PEER_OR_FAIL(userdata, path);
        return sd_bus_message_append_basic(reply, 's', peer->name);
}

BUS_PROPERTY_GETTER(get_address) {
        PEER_OR_FAIL(userdata, path);
        g_autofree char *text = netaddr_format_address(peer->address);
        return sd_bus_message_append_basic(reply, 's', text);
}

BUS_PROPERTY_GETTER(get_public_key) {
        PEER_OR_FAIL(userdata, path);
        return sd_bus_message_append_basic(reply, 's', peer->public_key);
}

BUS_PROPERTY_GETTER(get_full_tunnel) {
        PEER_OR_FAIL(userdata, path);
        return bus_append_bool(reply, peer->full_tunnel);
}

BUS_PROPERTY_GETTER(get_route_via) {
        PEER_OR_FAIL(userdata, path);
        return sd_bus_message_append_basic(reply, 's', peer->route_via);
}

BUS_PROPERTY_GETTER(get_route_via_active) {
        Context *c = userdata;
        PEER_OR_FAIL(c, path);
        return bus_append_bool(reply, cell_peer_route_via_active(c->cell, peer));
}

BUS_PROPERTY_GETTER(get_connected) {
        Context *c = userdata;
        PEER_OR_FAIL(c, path);
        return bus_append_bool(reply, cell_get_key_status(c->cell, peer->public_key).connected);
}

BUS_PROPERTY_GETTER(get_latest_handshake) {
        Context *c = userdata;
        PEER_OR_FAIL(c, path);
        return bus_append_u64(reply, (uint64_t) cell_get_key_status(c->cell, peer->public_key).last_handshake);
}

BUS_PROPERTY_GETTER(get_rx_bytes) {
        Context *c = userdata;
        PEER_OR_FAIL(c, path);
        return bus_append_u64(reply, cell_get_key_status(c->cell, peer->public_key).rx_bytes);
}

BUS_PROPERTY_GETTER(get_tx_bytes) {
        Context *c = userdata;
        PEER_OR_FAIL(c, path);
        return bus_append_u64(reply, cell_get_key_status(c->cell, peer->public_key).tx_bytes);
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


static const sd_bus_vtable peer_vtable[] = {
        SD_BUS_VTABLE_START(0),
        SD_BUS_PROPERTY("Name", "s", get_name, 0, SD_BUS_VTABLE_PROPERTY_CONST),
        SD_BUS_PROPERTY("Address", "s", get_address, 0, SD_BUS_VTABLE_PROPERTY_EMITS_CHANGE),
        SD_BUS_PROPERTY("PublicKey", "s", get_public_key, 0, SD_BUS_VTABLE_PROPERTY_EMITS_CHANGE),
        SD_BUS_PROPERTY("FullTunnel", "b", get_full_tunnel, 0, SD_BUS_VTABLE_PROPERTY_EMITS_CHANGE),
        SD_BUS_PROPERTY("RouteVia", "s", get_route_via, 0, SD_BUS_VTABLE_PROPERTY_EMITS_CHANGE),
        SD_BUS_PROPERTY("RouteViaActive", "b", get_route_via_active, 0, SD_BUS_VTABLE_PROPERTY_EMITS_CHANGE),
        SD_BUS_PROPERTY("Connected", "b", get_connected, 0, SD_BUS_VTABLE_PROPERTY_EMITS_CHANGE),
        SD_BUS_PROPERTY("LatestHandshake", "t", get_latest_handshake, 0, SD_BUS_VTABLE_PROPERTY_EMITS_CHANGE),
        SD_BUS_PROPERTY("RxBytes", "t", get_rx_bytes, 0, SD_BUS_VTABLE_PROPERTY_EMITS_CHANGE),
        SD_BUS_PROPERTY("TxBytes", "t", get_tx_bytes, 0, SD_BUS_VTABLE_PROPERTY_EMITS_CHANGE),
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

const sd_bus_vtable *bus_peer_vtable(void) {
        return peer_vtable;
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
