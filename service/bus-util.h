/* bus-util.h: small helpers shared by the D-Bus faces. */
#pragma once

#include <stdbool.h>
#include <stdint.h>

#include <glib.h>
#include <systemd/sd-bus.h>

#define BUS_OBJECT_PATH "/org/pic/Cell1"
#define BUS_INTERFACE "org.pic.Cell1"
#define BUS_MAX_STRING 4096     /* bytes of any one string argument */
#define BUS_MAX_DICT_ENTRIES 32 /* options and settings dictionaries */
#define BUS_QUOTE_MAX 64        /* bytes of a caller's value an error message quotes */

/* The model object a fallback vtable's find callback resolved for @path.
 * sd-bus calls the find callback once per object and message and then every
 * property getter of that object, so a GetManagedObjects decodes each path
 * once instead of once per property. @generation is the model's
 * (cell_get_generation()): an object of an older model is never handed out. */
typedef struct {
        char *path;
        const void *object;
        uint64_t generation;
} BusFoundObject;

void bus_found_object_set(BusFoundObject *found, const char *path, const void *object, uint64_t generation);
/* The object kept for @path in model @generation, or NULL. */
const void *bus_found_object_get(const BusFoundObject *found, const char *path, uint64_t generation);
void bus_found_object_clear(BusFoundObject *found);

/* A property getter for a vtable: one per property, appending its value
 * with sd_bus_message_append_basic() or the helpers below. */
#define BUS_PROPERTY_GETTER(function)                                                                  \
        static int function(sd_bus *bus, const char *path, const char *interface, const char *property, \
                            sd_bus_message *reply, void *userdata, sd_bus_error *error)

int bus_append_bool(sd_bus_message *reply, bool value);
int bus_append_u64(sd_bus_message *reply, uint64_t value);

/* Sets @ret_error from @error (PIC_ERROR codes become our D-Bus errors) and
 * returns the negative errno sd-bus expects from a handler. */
int bus_error_from_gerror(sd_bus_error *ret_error, const GError *error);

/* Refuses strings longer than BUS_MAX_STRING, naming @what. */
int bus_check_string(const char *value, const char *what, sd_bus_error *ret_error);

/* PREFIX/<name encoded as sd_bus_path_encode() does>, newly allocated (g_free). */
char *bus_object_path(const char *prefix, const char *name);
/* The name encoded in @path under @prefix (g_free), or NULL. */
char *bus_object_name(const char *prefix, const char *path);
/* A node enumerator's answer (malloc'd, as sd-bus frees it) for @names. */
int bus_enumerate(const char *prefix, const char *const *names, size_t n, char ***ret_nodes);
/* InterfacesRemoved for an object already gone from the model, built by hand
 * since sd-bus can no longer find the object to describe it. */
void bus_emit_object_removed(sd_bus *bus, const char *path, const char *interface);
