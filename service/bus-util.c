/* bus-util.c: error conversion and argument limits for the D-Bus faces. */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "bus-util.h"
#include "i18n.h"
#include "pic-error.h"

int bus_error_from_gerror(sd_bus_error *ret_error, const GError *error) {
        return sd_bus_error_set(ret_error, pic_error_to_dbus_name(error), error->message);
}

int bus_check_string(const char *value, const char *what, sd_bus_error *ret_error) {
        size_t len = strlen(value);

        if (len > BUS_MAX_STRING)
                return sd_bus_error_setf(ret_error, "org.pic.Cell1.Error.InvalidArgument",
                                         _("%s: %zu bytes is longer than the %d allowed"),
                                         what, len, BUS_MAX_STRING);
        return 0;
}

char *bus_object_path(const char *prefix, const char *name) {
        char *path = NULL, *copy;

        if (sd_bus_path_encode(prefix, name, &path) < 0)
                return NULL;
        copy = g_strdup(path);
        free(path);
        return copy;
}

char *bus_object_name(const char *prefix, const char *path) {
        char *name = NULL, *copy;

        if (sd_bus_path_decode(path, prefix, &name) <= 0)
                return NULL;
        copy = g_strdup(name);
        free(name);
        return copy;
}

int bus_enumerate(const char *prefix, const char *const *names, size_t n, char ***ret_nodes) {
        char **nodes = calloc(n + 1, sizeof(char *));

        if (!nodes)
                return -ENOMEM;
        for (size_t i = 0; i < n; i++)
                if (sd_bus_path_encode(prefix, names[i], &nodes[i]) < 0) {
                        for (size_t j = 0; j < i; j++)
                                free(nodes[j]);
                        free(nodes);
                        return -ENOMEM;
                }
        *ret_nodes = nodes;
        return 0;
}

void bus_emit_object_removed(sd_bus *bus, const char *path, const char *interface) {
        sd_bus_message *m = NULL;
        int r;

        r = sd_bus_message_new_signal(bus, &m, "/org/pic/Cell1", "org.freedesktop.DBus.ObjectManager",
                                      "InterfacesRemoved");
        if (r >= 0)
                r = sd_bus_message_append(m, "o", path);
        if (r >= 0)
                r = sd_bus_message_append(m, "as", 4, interface, "org.freedesktop.DBus.Peer",
                                          "org.freedesktop.DBus.Introspectable", "org.freedesktop.DBus.Properties");
        if (r >= 0)
                r = sd_bus_send(bus, m, NULL);
        sd_bus_message_unref(m);
        if (r < 0)
                g_warning("Failed to announce the removal of %s: %s", path, g_strerror(-r));
}

void bus_found_object_set(BusFoundObject *found, const char *path, const void *object, uint64_t generation) {
        if (!found->path || !g_str_equal(found->path, path)) {
                g_free(found->path);
                found->path = g_strdup(path);
        }
        found->object = object;
        found->generation = generation;
}

const void *bus_found_object_get(const BusFoundObject *found, const char *path, uint64_t generation) {
        if (!found->path || found->generation != generation || !g_str_equal(found->path, path))
                return NULL;
        return found->object;
}

void bus_found_object_clear(BusFoundObject *found) {
        g_clear_pointer(&found->path, g_free);
        found->object = NULL;
}

int bus_append_bool(sd_bus_message *reply, bool value) {
        int b = value;

        return sd_bus_message_append_basic(reply, 'b', &b);
}

int bus_append_u64(sd_bus_message *reply, uint64_t value) {
        return sd_bus_message_append_basic(reply, 't', &value);
}
