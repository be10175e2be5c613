/* bus-peer.h: org.pic.Cell1.Peer objects at /org/pic/Cell1/peer/<name>, one
 * per road-warrior peer, announced through the ObjectManager. */
#pragma once

#include "context.h"

#define BUS_PEER_PREFIX "/org/pic/Cell1/peer"
#define BUS_PEER_INTERFACE "org.pic.Cell1.Peer"

int bus_peer_register(Context *context);
/* The peer objects' vtable (for GetManagedObjects, bus-managed.c); its
 * userdata is the Context. */
const sd_bus_vtable *bus_peer_vtable(void);
/* The object path of the peer named @name (newly allocated). */
char *bus_peer_path(const char *name);
