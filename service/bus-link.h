/* bus-link.h: org.pic.Cell1.Link objects at /org/pic/Cell1/link/<name>, one
 * per linked cell, announced through the ObjectManager. */
#pragma once

#include "context.h"

#define BUS_LINK_PREFIX "/org/pic/Cell1/link"
#define BUS_LINK_INTERFACE "org.pic.Cell1.Link"

int bus_link_register(Context *context);
/* The link objects' vtable (for GetManagedObjects, bus-managed.c); its
 * userdata is the Context. */
const sd_bus_vtable *bus_link_vtable(void);
/* The object path of the link named @name (newly allocated). */
char *bus_link_path(const char *name);
