/* pic-link-row.c: one linked cell in the list: status dot, handshake, traffic and sync state. */
#include "config.h"

#include <glib/gi18n.h>

#include "pic-format.h"
#include "pic-link-row.h"

struct _PicLinkRow {
        AdwActionRow parent_instance;

        /* template */
        GtkWidget *status_dot;
        GtkWidget *sync_icon;

        /* owned */
        PicCell1Link *link;
        PicLinkStatus status;
        char *sync_problem;
};

G_DEFINE_FINAL_TYPE(PicLinkRow, pic_link_row, ADW_TYPE_ACTION_ROW)

char *pic_link_sync_problem(PicCell1Link *link) {
        const char *state = pic_cell1_link_get_push_state(link);
        const char *error = pic_cell1_link_get_last_push_error(link);

        if (g_strcmp0(state, "pending") == 0) {
                if (error && *error)
                        /* Translators: %s is the service's message about the failed attempt. */
                        return g_strdup_printf(_("Changes not yet delivered, retrying: %s"), error);
                /* Translators: our latest change has not reached the linked cell yet. */
                return g_strdup(_("Changes not yet delivered, retrying"));
        }
        if (g_strcmp0(state, "failed") == 0) {
                if (error && *error)
                        /* Translators: %s is the service's message about the failure. */
                        return g_strdup_printf(_("Changes could not be delivered: %s"), error);
                /* Translators: our latest change could not be sent to the linked cell. */
                return g_strdup(_("Changes could not be delivered"));
        }
        return NULL;
}

void pic_link_row_refresh(PicLinkRow *self) {
        PicCell1Link *link = self->link;
        g_autofree char *handshake = NULL, *traffic = NULL, *subtitle = NULL;
        gint64 now = g_get_real_time() / G_USEC_PER_SEC;

        handshake = pic_format_handshake(pic_cell1_link_get_latest_handshake(link), now);
        traffic = pic_format_traffic(pic_cell1_link_get_rx_bytes(link), pic_cell1_link_get_tx_bytes(link));
        /* Translators: a link's status, its latest handshake and its traffic, joined into one line. */
        subtitle = g_strdup_printf(_("%s · %s · %s"), pic_link_status_to_label(self->status), handshake, traffic);
        if (self->sync_problem) {
                char *with_problem = g_strconcat(subtitle, "\n", self->sync_problem, NULL);
                g_free(subtitle);
                subtitle = with_problem;
        }
        adw_action_row_set_subtitle(ADW_ACTION_ROW(self), subtitle);
}

static void update(PicLinkRow *self) {
        PicCell1Link *link = self->link;
        static const char *const classes[] = { "connected", "not-connected", "waiting" };

        self->status = pic_link_status(pic_cell1_link_get_paired(link), pic_cell1_link_get_connected(link));
        for (size_t i = 0; i < G_N_ELEMENTS(classes); i++)
                gtk_widget_remove_css_class(self->status_dot, classes[i]);
        gtk_widget_add_css_class(self->status_dot, pic_link_status_to_string(self->status));
        gtk_widget_set_tooltip_text(self->status_dot, pic_link_status_to_label(self->status));

        adw_preferences_row_set_title(ADW_PREFERENCES_ROW(self), pic_cell1_link_get_name(link));

        g_free(self->sync_problem);
        self->sync_problem = pic_link_sync_problem(link);
        gtk_widget_set_visible(self->sync_icon, self->sync_problem != NULL);
        gtk_widget_set_tooltip_text(self->sync_icon, self->sync_problem);

        pic_link_row_refresh(self);
}

PicCell1Link *pic_link_row_get_link(PicLinkRow *self) {
        g_return_val_if_fail(PIC_IS_LINK_ROW(self), NULL);
        return self->link;
}

void pic_link_row_dump(PicLinkRow *self, JsonBuilder *builder) {
        json_builder_begin_object(builder);
        json_builder_set_member_name(builder, "name");
        json_builder_add_string_value(builder, adw_preferences_row_get_title(ADW_PREFERENCES_ROW(self)));
        json_builder_set_member_name(builder, "status");
        json_builder_add_string_value(builder, pic_link_status_to_string(self->status));
        json_builder_set_member_name(builder, "subtitle");
        json_builder_add_string_value(builder, adw_action_row_get_subtitle(ADW_ACTION_ROW(self)));
        json_builder_set_member_name(builder, "sync_problem");
        if (self->sync_problem)
                json_builder_add_string_value(builder, self->sync_problem);
        else
                json_builder_add_null_value(builder);
        json_builder_end_object(builder);
}

static void pic_link_row_dispose(GObject *object) {
        PicLinkRow *self = PIC_LINK_ROW(object);

        if (self->link)
                g_signal_handlers_disconnect_by_data(self->link, self);
        g_clear_object(&self->link);
        gtk_widget_dispose_template(GTK_WIDGET(self), PIC_TYPE_LINK_ROW);
        G_OBJECT_CLASS(pic_link_row_parent_class)->dispose(object);
}

static void pic_link_row_finalize(GObject *object) {
        PicLinkRow *self = PIC_LINK_ROW(object);

        g_free(self->sync_problem);
        G_OBJECT_CLASS(pic_link_row_parent_class)->finalize(object);
}

static void pic_link_row_class_init(PicLinkRowClass *klass) {
        GObjectClass *object_class = G_OBJECT_CLASS(klass);
        GtkWidgetClass *widget_class = GTK_WIDGET_CLASS(klass);

        object_class->dispose = pic_link_row_dispose;
        object_class->finalize = pic_link_row_finalize;

        gtk_widget_class_set_template_from_resource(widget_class, "/org/pic/Cell/pic-link-row.ui");
        gtk_widget_class_bind_template_child(widget_class, PicLinkRow, status_dot);
        gtk_widget_class_bind_template_child(widget_class, PicLinkRow, sync_icon);
}

static void pic_link_row_init(PicLinkRow *self) {
        gtk_widget_init_template(GTK_WIDGET(self));
}

GtkWidget *pic_link_row_new(PicCell1Link *link) {
        PicLinkRow *self = g_object_new(PIC_TYPE_LINK_ROW, NULL);

        self->link = g_object_ref(link);
        gtk_actionable_set_action_target(GTK_ACTIONABLE(self), "s", pic_cell1_link_get_name(link));
        g_signal_connect_object(link, "g-properties-changed", G_CALLBACK(update), self, G_CONNECT_SWAPPED);
        update(self);
        return GTK_WIDGET(self);
}
