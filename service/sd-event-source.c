/* sd-event-source.c: an sd_event wrapped in a GSource (NetworkManager joins the
 * two loops the same way). sd_event exposes one epoll fd; GLib polls it, and
 * prepare/check/dispatch map onto sd_event_prepare/wait/dispatch. */
#include <systemd/sd-event.h>

#include "sd-event-source.h"

typedef struct {
        GSource source;
        sd_event *event;
        gpointer fd_tag;
} SdEventSource;

static gboolean source_prepare(GSource *source, gint *timeout) {
        SdEventSource *s = (SdEventSource *) source;

        *timeout = -1;
        /* > 0: an event source is already pending; dispatch without polling. */
        return sd_event_prepare(s->event) > 0;
}

static gboolean source_check(GSource *source) {
        SdEventSource *s = (SdEventSource *) source;

        if (sd_event_get_state(s->event) == SD_EVENT_PENDING)
                return TRUE;
        return sd_event_wait(s->event, 0) > 0;
}

static gboolean source_dispatch(GSource *source, GSourceFunc callback, gpointer user_data) {
        SdEventSource *s = (SdEventSource *) source;

        if (sd_event_get_state(s->event) == SD_EVENT_PENDING)
                (void) sd_event_dispatch(s->event);
        return G_SOURCE_CONTINUE;
}

static void source_finalize(GSource *source) {
        SdEventSource *s = (SdEventSource *) source;

        s->event = sd_event_unref(s->event);
}

static GSourceFuncs sd_event_source_funcs = {
        .prepare = source_prepare,
        .check = source_check,
        .dispatch = source_dispatch,
        .finalize = source_finalize,
};

GSource *sd_event_source_new_for_glib(sd_event *event) {
        SdEventSource *s;

        g_return_val_if_fail(event, NULL);

        s = (SdEventSource *) g_source_new(&sd_event_source_funcs, sizeof(SdEventSource));
        s->event = sd_event_ref(event);
        s->fd_tag = g_source_add_unix_fd(&s->source, sd_event_get_fd(event), G_IO_IN);
        g_source_set_name(&s->source, "sd-event");
        return &s->source;
}
