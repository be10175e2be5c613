/* context.c: releasing everything the daemon owns, in the reverse order of
 * its creation. */
#include "context.h"

void context_free(Context *c) {
        if (!c)
                return;
        /* Faces first, then the cell, then what the cell borrows. */
        if (c->diagnoses)
                g_ptr_array_unref(c->diagnoses);
        bus_found_object_clear(&c->found);
        peersync_free(c->peersync);
        cell_free(c->cell);
        c->cell = NULL;
        reconciler_free(c->reconciler);
        c->polkit = polkit_registry_free(c->polkit);
        if (c->bus) {
                sd_bus_flush(c->bus);
                c->bus = sd_bus_close_unref(c->bus);
        }
        if (c->event_source) {
                g_source_destroy(c->event_source);
                g_source_unref(c->event_source);
        }
        c->event = sd_event_unref(c->event);
        daemon_config_free(c->config);
        if (c->loop)
                g_main_loop_unref(c->loop);
        g_free(c);
}
