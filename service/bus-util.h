/* bus-util.h: small helpers shared by the D-Bus faces. */
#pragma once

#include <glib.h>
#include <systemd/sd-bus.h>

#define BUS_OBJECT_PATH "/org/pic/Cell1"
#define BUS_INTERFACE "org.pic.Cell1"
#define BUS_MAX_STRING 4096     /* bytes of any one string argument */
#define BUS_MAX_DICT_ENTRIES 32 /* options and settings dictionaries */

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
