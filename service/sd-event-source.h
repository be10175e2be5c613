/* sd-event-source.h: runs an sd_event loop inside GLib's main loop, so sd-bus
 * (attached to the sd_event) and GLib users (libsoup, GSubprocess) share one
 * thread and never block each other. */
#pragma once

#include <glib.h>
#include <systemd/sd-event.h>

/* A GSource that dispatches @event whenever it has work; attach it to a
 * GMainContext. The source holds a reference on @event. */
GSource *sd_event_source_new_for_glib(sd_event *event);
