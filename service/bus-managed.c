/* bus-managed.c: GetManagedObjects on /org/pic/Cell1, answered from the model.
 *
 * sd-bus's own answer walks every child node, asks its enumerators and find
 * callbacks and looks each property up in its vtable tables: with 250 links
 * and 1,000 peers that took more than 10 ms. Here the links and peers are
 * walked once, and every property still comes from the getter in the same
 * vtable that Get and GetAll use, so the answers cannot differ. Like GDBus's
 * object manager, and unlike sd-bus's, it lists only each object's own
 * interface, not the standard ones every object has (Peer, Introspectable,
 * Properties): they carry no properties. The object manager of sd-bus stays
 * registered: it sends InterfacesAdded/Removed. */
#include <errno.h>

#include "bus-link.h"
#include "bus-managed.h"
#include "bus-peer.h"
#include "bus-util.h"

#define OBJECT_MANAGER_INTERFACE "org.freedesktop.DBus.ObjectManager"

static int append_properties(sd_bus *bus, sd_bus_message *reply, const char *path, const char *interface,
                             const sd_bus_vtable *vtable, void *userdata, sd_bus_error *error) {
        int r;

        r = sd_bus_message_open_container(reply, 'a', "{sv}");
        if (r < 0)
                return r;
        for (const sd_bus_vtable *v = vtable; v->type != _SD_BUS_VTABLE_END; v++) {
                if (v->type != _SD_BUS_VTABLE_PROPERTY && v->type != _SD_BUS_VTABLE_WRITABLE_PROPERTY)
                        continue;
                /* Left out of GetAll by sd-bus as well. */
                if (v->flags & (SD_BUS_VTABLE_HIDDEN | SD_BUS_VTABLE_PROPERTY_EXPLICIT))
                        continue;
                /* Every property here has a getter; one without would need sd-bus's offset reader. */
                if (!v->x.property.get)
                        return -EINVAL;
                r = sd_bus_message_open_container(reply, 'e', "sv");
                if (r < 0)
                        return r;
                r = sd_bus_message_append_basic(reply, 's', v->x.property.member);
                if (r < 0)
                        return r;
                r = sd_bus_message_open_container(reply, 'v', v->x.property.signature);
                if (r < 0)
                        return r;
                r = v->x.property.get(bus, path, interface, v->x.property.member, reply, userdata, error);
                if (r < 0)
                        return r;
                r = sd_bus_message_close_container(reply);
                if (r < 0)
                        return r;
                r = sd_bus_message_close_container(reply);
                if (r < 0)
                        return r;
        }
        return sd_bus_message_close_container(reply);
}

static int append_interface(sd_bus *bus, sd_bus_message *reply, const char *path, const char *interface,
                            const sd_bus_vtable *vtable, void *userdata, sd_bus_error *error) {
        int r;

        r = sd_bus_message_open_container(reply, 'e', "sa{sv}");
        if (r < 0)
                return r;
        r = sd_bus_message_append_basic(reply, 's', interface);
        if (r < 0)
                return r;
        r = append_properties(bus, reply, path, interface, vtable, userdata, error);
        if (r < 0)
                return r;
        return sd_bus_message_close_container(reply);
}

/* One "{o a{sa{sv}}}" entry: the object at @path with @interface. */
static int append_object(sd_bus *bus, sd_bus_message *reply, const char *path, const char *interface,
                         const sd_bus_vtable *vtable, void *userdata, sd_bus_error *error) {
        int r;

        r = sd_bus_message_open_container(reply, 'e', "oa{sa{sv}}");
        if (r < 0)
                return r;
        r = sd_bus_message_append_basic(reply, 'o', path);
        if (r < 0)
                return r;
        r = sd_bus_message_open_container(reply, 'a', "{sa{sv}}");
        if (r < 0)
                return r;
        r = append_interface(bus, reply, path, interface, vtable, userdata, error);
        if (r < 0)
                return r;
        r = sd_bus_message_close_container(reply);
        if (r < 0)
                return r;
        return sd_bus_message_close_container(reply);
}

/* The links or the peers: each object's name sits at @name_offset. */
typedef struct {
        const GPtrArray *objects;
        size_t name_offset;
        char *(*path_of)(const char *name);
        const char *interface;
        const sd_bus_vtable *vtable;
} ObjectKind;

static int append_objects(Context *c, sd_bus_message *reply, const ObjectKind *kind, sd_bus_error *error) {
        for (guint i = 0; i < kind->objects->len; i++) {
                const void *object = kind->objects->pdata[i];
                g_autofree char *path = kind->path_of(G_STRUCT_MEMBER(const char *, object, kind->name_offset));
                int r;

                /* The getters find the object without decoding the path again. */
                bus_found_object_set(&c->found, path, object, cell_get_generation(c->cell));
                r = append_object(c->bus, reply, path, kind->interface, kind->vtable, c, error);
                if (r < 0)
                        return r;
        }
        return 0;
}

static int build_reply(Context *c, sd_bus_message *reply, sd_bus_error *error) {
        const CellState *state = cell_get_state(c->cell);
        const ObjectKind kinds[] = {
                { state->links, G_STRUCT_OFFSET(Link, name), bus_link_path, BUS_LINK_INTERFACE, bus_link_vtable() },
                { state->peers, G_STRUCT_OFFSET(Peer, name), bus_peer_path, BUS_PEER_INTERFACE, bus_peer_vtable() },
        };
        int r;

        r = sd_bus_message_open_container(reply, 'a', "{oa{sa{sv}}}");
        if (r < 0)
                return r;
        for (size_t i = 0; i < G_N_ELEMENTS(kinds); i++) {
                r = append_objects(c, reply, &kinds[i], error);
                if (r < 0)
                        return r;
        }
        return sd_bus_message_close_container(reply);
}

/* Sees every message to /org/pic/Cell1 first; all but GetManagedObjects go
 * on to the vtables (returning 0). */
static int on_message(sd_bus_message *m, void *userdata, sd_bus_error *error) {
        Context *c = userdata;
        sd_bus_message *reply = NULL;
        int r;

        if (!sd_bus_message_is_method_call(m, OBJECT_MANAGER_INTERFACE, "GetManagedObjects") ||
            !sd_bus_message_has_signature(m, ""))
                return 0;
        r = sd_bus_message_new_method_return(m, &reply);
        if (r < 0)
                return r;
        r = build_reply(c, reply, error);
        if (r >= 0)
                r = sd_bus_send(NULL, reply, NULL);
        sd_bus_message_unref(reply);
        return r < 0 ? r : 1;
}

int bus_managed_register(Context *c) {
        return sd_bus_add_object(c->bus, NULL, BUS_OBJECT_PATH, on_message, c);
}
