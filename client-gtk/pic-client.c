/* pic-client.c: the app's connection to pic-celld: the cell proxy and an object manager for links and peers.
 *
 * The bus name is watched; when it appears, a cell proxy and an object manager
 * are made, and the state turns READY only once both exist, so that views never
 * see half a service. When the name vanishes everything is dropped: a restarted
 * service may come back with other links. */
#include "config.h"

#include "pic-client.h"

struct _PicClient {
        GObject parent_instance;

        guint watch_id;
        GCancellable *cancellable;      /* of the current connection attempt */
        GDBusConnection *bus;
        PicClientState state;
        PicCell1 *cell;
        GDBusObjectManager *manager;
        PicCell1 *pending_cell;
        GDBusObjectManager *pending_manager;
        char *problem;
};

G_DEFINE_FINAL_TYPE(PicClient, pic_client, G_TYPE_OBJECT)

enum {
        PROP_0,
        PROP_STATE,
        PROP_CELL,
        PROP_MANAGER,
        N_PROPS,
};

static GParamSpec *properties[N_PROPS];

static void set_state(PicClient *self, PicClientState state) {
        if (self->state == state)
                return;
        self->state = state;
        g_object_notify_by_pspec(G_OBJECT(self), properties[PROP_STATE]);
}

static void drop_connection(PicClient *self) {
        g_cancellable_cancel(self->cancellable);
        g_clear_object(&self->cancellable);
        g_clear_object(&self->pending_cell);
        g_clear_object(&self->pending_manager);
        if (self->cell) {
                g_clear_object(&self->cell);
                g_object_notify_by_pspec(G_OBJECT(self), properties[PROP_CELL]);
        }
        if (self->manager) {
                g_clear_object(&self->manager);
                g_object_notify_by_pspec(G_OBJECT(self), properties[PROP_MANAGER]);
        }
}

static void maybe_ready(PicClient *self) {
        if (!self->pending_cell || !self->pending_manager)
                return;
        self->cell = g_steal_pointer(&self->pending_cell);
        self->manager = g_steal_pointer(&self->pending_manager);
        g_clear_pointer(&self->problem, g_free);
        g_object_notify_by_pspec(G_OBJECT(self), properties[PROP_CELL]);
        g_object_notify_by_pspec(G_OBJECT(self), properties[PROP_MANAGER]);
        set_state(self, PIC_CLIENT_READY);
}

static void fail(PicClient *self, const char *what, const GError *error) {
        g_warning("Failed to %s: %s", what, error->message);
        g_free(self->problem);
        self->problem = g_strdup(error->message);
        drop_connection(self);
        set_state(self, PIC_CLIENT_OFFLINE);
}

static void cell_proxy_ready(GObject *source, GAsyncResult *result, gpointer user_data) {
        g_autoptr(PicClient) self = user_data;
        g_autoptr(GError) error = NULL;
        PicCell1 *cell;

        cell = pic_cell1_proxy_new_finish(result, &error);
        if (!cell) {
                if (!g_error_matches(error, G_IO_ERROR, G_IO_ERROR_CANCELLED))
                        fail(self, "reach the cell object", error);
                return;
        }
        g_dbus_proxy_set_default_timeout(G_DBUS_PROXY(cell), -1);
        self->pending_cell = cell;
        maybe_ready(self);
}

static void manager_ready(GObject *source, GAsyncResult *result, gpointer user_data) {
        g_autoptr(PicClient) self = user_data;
        g_autoptr(GError) error = NULL;
        GDBusObjectManager *manager;

        manager = g_dbus_object_manager_client_new_finish(result, &error);
        if (!manager) {
                if (!g_error_matches(error, G_IO_ERROR, G_IO_ERROR_CANCELLED))
                        fail(self, "list links and peers", error);
                return;
        }
        self->pending_manager = manager;
        maybe_ready(self);
}

static void name_appeared(GDBusConnection *bus, const char *name, const char *owner, gpointer user_data) {
        PicClient *self = user_data;

        drop_connection(self);
        g_set_object(&self->bus, bus);
        self->cancellable = g_cancellable_new();
        set_state(self, PIC_CLIENT_CONNECTING);

        pic_cell1_proxy_new(bus, G_DBUS_PROXY_FLAGS_DO_NOT_AUTO_START, PIC_BUS_NAME, PIC_OBJECT_PATH,
                            self->cancellable, cell_proxy_ready, g_object_ref(self));
        g_dbus_object_manager_client_new(bus, G_DBUS_OBJECT_MANAGER_CLIENT_FLAGS_DO_NOT_AUTO_START,
                                         PIC_BUS_NAME, PIC_OBJECT_PATH,
                                         pic_object_manager_client_get_proxy_type, NULL, NULL,
                                         self->cancellable, manager_ready, g_object_ref(self));
}

static void name_vanished(GDBusConnection *bus, const char *name, gpointer user_data) {
        PicClient *self = user_data;

        if (bus)
                g_set_object(&self->bus, bus);
        drop_connection(self);
        set_state(self, PIC_CLIENT_OFFLINE);
}

PicClientState pic_client_get_state(PicClient *self) {
        g_return_val_if_fail(PIC_IS_CLIENT(self), PIC_CLIENT_OFFLINE);
        return self->state;
}

PicCell1 *pic_client_get_cell(PicClient *self) {
        g_return_val_if_fail(PIC_IS_CLIENT(self), NULL);
        return self->cell;
}

GDBusObjectManager *pic_client_get_manager(PicClient *self) {
        g_return_val_if_fail(PIC_IS_CLIENT(self), NULL);
        return self->manager;
}

const char *pic_client_get_problem(PicClient *self) {
        g_return_val_if_fail(PIC_IS_CLIENT(self), NULL);
        return self->problem;
}

PicCell1Link *pic_client_get_link_at(PicClient *self, const char *object_path) {
        g_autoptr(GDBusObject) object = NULL;

        g_return_val_if_fail(PIC_IS_CLIENT(self), NULL);

        if (!self->manager || !object_path)
                return NULL;
        object = g_dbus_object_manager_get_object(self->manager, object_path);
        if (!object)
                return NULL;
        return pic_object_peek_cell1_link(PIC_OBJECT(object));
}

PicCell1Link *pic_client_find_link(PicClient *self, const char *name) {
        g_autolist(GDBusObject) objects = NULL;

        g_return_val_if_fail(PIC_IS_CLIENT(self), NULL);

        if (!self->manager || !name)
                return NULL;
        objects = g_dbus_object_manager_get_objects(self->manager);
        for (GList *l = objects; l; l = l->next) {
                PicCell1Link *link = pic_object_peek_cell1_link(PIC_OBJECT(l->data));

                if (link && g_strcmp0(pic_cell1_link_get_name(link), name) == 0)
                        return link;
        }
        return NULL;
}

void pic_client_start_service(PicClient *self) {
        g_return_if_fail(PIC_IS_CLIENT(self));

        if (!self->bus)
                return;
        /* The answer does not matter: the watch reports the name when it appears. */
        g_dbus_connection_call(self->bus, "org.freedesktop.DBus", "/org/freedesktop/DBus",
                               "org.freedesktop.DBus", "StartServiceByName",
                               g_variant_new("(su)", PIC_BUS_NAME, 0u), NULL,
                               G_DBUS_CALL_FLAGS_NONE, -1, NULL, NULL, NULL);
}

static void pic_client_get_property(GObject *object, guint prop_id, GValue *value, GParamSpec *pspec) {
        PicClient *self = PIC_CLIENT(object);

        switch (prop_id) {
        case PROP_STATE:
                g_value_set_int(value, self->state);
                break;
        case PROP_CELL:
                g_value_set_object(value, self->cell);
                break;
        case PROP_MANAGER:
                g_value_set_object(value, self->manager);
                break;
        default:
                G_OBJECT_WARN_INVALID_PROPERTY_ID(object, prop_id, pspec);
        }
}

static void pic_client_dispose(GObject *object) {
        PicClient *self = PIC_CLIENT(object);

        if (self->watch_id != 0) {
                g_bus_unwatch_name(self->watch_id);
                self->watch_id = 0;
        }
        drop_connection(self);
        g_clear_object(&self->bus);
        G_OBJECT_CLASS(pic_client_parent_class)->dispose(object);
}

static void pic_client_finalize(GObject *object) {
        PicClient *self = PIC_CLIENT(object);

        g_free(self->problem);
        G_OBJECT_CLASS(pic_client_parent_class)->finalize(object);
}

static void pic_client_class_init(PicClientClass *klass) {
        GObjectClass *object_class = G_OBJECT_CLASS(klass);

        object_class->get_property = pic_client_get_property;
        object_class->dispose = pic_client_dispose;
        object_class->finalize = pic_client_finalize;

        properties[PROP_STATE] = g_param_spec_int("state", NULL, NULL,
                                                  PIC_CLIENT_CONNECTING, PIC_CLIENT_READY, PIC_CLIENT_CONNECTING,
                                                  G_PARAM_READABLE | G_PARAM_STATIC_STRINGS | G_PARAM_EXPLICIT_NOTIFY);
        properties[PROP_CELL] = g_param_spec_object("cell", NULL, NULL, PIC_TYPE_CELL1,
                                                    G_PARAM_READABLE | G_PARAM_STATIC_STRINGS | G_PARAM_EXPLICIT_NOTIFY);
        properties[PROP_MANAGER] = g_param_spec_object("manager", NULL, NULL, G_TYPE_DBUS_OBJECT_MANAGER,
                                                       G_PARAM_READABLE | G_PARAM_STATIC_STRINGS | G_PARAM_EXPLICIT_NOTIFY);
        g_object_class_install_properties(object_class, N_PROPS, properties);
}

static void pic_client_init(PicClient *self) {
        self->state = PIC_CLIENT_CONNECTING;
        /* AUTO_START: the service is bus-activated, as with systemd on a real cell. */
        self->watch_id = g_bus_watch_name(G_BUS_TYPE_SYSTEM, PIC_BUS_NAME,
                                          G_BUS_NAME_WATCHER_FLAGS_AUTO_START,
                                          name_appeared, name_vanished, self, NULL);
}

PicClient *pic_client_new(void) {
        return g_object_new(PIC_TYPE_CLIENT, NULL);
}
