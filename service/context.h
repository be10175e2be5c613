/* context.h: the one object that owns everything pic-celld runs on: the
 * configuration, the cell, the event loops, the bus connection and the polkit
 * queries. Created in main(), freed by context_free() on every exit path. */
#pragma once

#include <glib.h>
#include <systemd/sd-bus.h>
#include <systemd/sd-event.h>

#include "bus-util.h"
#include "cell.h"
#include "daemon-config.h"
#include "peersync.h"
#include "polkit.h"
#include "reconcile.h"

typedef struct {
        DaemonConfig *config;
        Cell *cell;

        GMainLoop *loop;
        GSource *event_source;
        sd_event *event;
        sd_bus *bus;
        PolkitRegistry *polkit;
        Reconciler *reconciler;
        PeerSync *peersync;
        GPtrArray *diagnoses;   /* Link.Diagnose() calls under way (bus-link.c) */
        BusFoundObject found;   /* the link or peer the bus last looked up (bus-link.c, bus-peer.c) */

        int exit_status;
} Context;

void context_free(Context *context);
G_DEFINE_AUTOPTR_CLEANUP_FUNC(Context, context_free)
