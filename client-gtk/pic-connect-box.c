/* pic-connect-box.c: the paste box for another cell's invite, checked as it is typed, and the Connect button.
 *
 * The text is checked with the service's own parser, so what the box accepts is
 * what ImportInvite accepts, and its messages name the same fields. Conflicts
 * with existing links are for the service to find: they are shown in a toast. */
#include "config.h"

#include <glib/gi18n.h>

#include "pic-call.h"
#include "pic-connect-box.h"
#include "pic-invite-check.h"
#include "pic-window.h"

struct _PicConnectBox {
        AdwPreferencesGroup parent_instance;

        /* template */
        GtkTextView *text_view;
        GtkImage *message_icon;
        GtkLabel *message_label;
        GtkStack *button_stack;

        /* borrowed */
        PicClient *client;

        /* owned */
        gboolean valid;
        gboolean busy;
};

G_DEFINE_FINAL_TYPE(PicConnectBox, pic_connect_box, ADW_TYPE_PREFERENCES_GROUP)

static char *get_text(PicConnectBox *self) {
        GtkTextBuffer *buffer = gtk_text_view_get_buffer(self->text_view);
        GtkTextIter start, end;

        gtk_text_buffer_get_bounds(buffer, &start, &end);
        return gtk_text_buffer_get_text(buffer, &start, &end, FALSE);
}

static void set_message(PicConnectBox *self, const char *icon, const char *css_class, const char *message) {
        gtk_widget_remove_css_class(GTK_WIDGET(self->message_label), "error");
        gtk_widget_remove_css_class(GTK_WIDGET(self->message_label), "success");
        gtk_widget_remove_css_class(GTK_WIDGET(self->message_label), "dim-label");
        gtk_widget_remove_css_class(GTK_WIDGET(self->message_icon), "error");
        gtk_widget_remove_css_class(GTK_WIDGET(self->message_icon), "success");
        if (css_class) {
                gtk_widget_add_css_class(GTK_WIDGET(self->message_label), css_class);
                gtk_widget_add_css_class(GTK_WIDGET(self->message_icon), css_class);
        }
        gtk_image_set_from_icon_name(self->message_icon, icon);
        gtk_widget_set_visible(GTK_WIDGET(self->message_icon), icon != NULL);
        gtk_label_set_label(self->message_label, message ? message : "");
}

static void update_action(PicConnectBox *self) {
        gtk_widget_action_set_enabled(GTK_WIDGET(self), "connect.connect",
                                      self->valid && !self->busy && self->client &&
                                      pic_client_get_cell(self->client));
}

static void check(PicConnectBox *self) {
        g_autofree char *text = get_text(self);
        g_autoptr(PicInviteSummary) summary = NULL;
        g_autoptr(GError) error = NULL;
        g_autofree char *message = NULL;

        self->valid = FALSE;
        if (g_strstrip(text)[0] == '\0') {
                set_message(self, NULL, "dim-label", NULL);
                update_action(self);
                return;
        }

        summary = pic_invite_check(text, &error);
        if (!summary) {
                set_message(self, "dialog-error-symbolic", "error", error->message);
                update_action(self);
                return;
        }

        self->valid = TRUE;
        if (summary->has_pairing)
                message = g_strdup_printf(
                        /* Translators: shown under a valid invite: the cell's name, its domain and its subnet. */
                        _("Invite of %s (%s, %s)"),
                        summary->cell_name, summary->domain, summary->vpn_subnet);
        else
                message = g_strdup_printf(
                        /* Translators: as "Invite of %s (%s, %s)", for an invite in the old format without pairing. */
                        _("Invite of %s (%s, %s). It carries no pairing secret: its admin must also import this cell's invite."),
                        summary->cell_name, summary->domain, summary->vpn_subnet);
        set_message(self, "emblem-ok-symbolic", "success", message);
        update_action(self);
}

static void set_busy(PicConnectBox *self, gboolean busy) {
        self->busy = busy;
        gtk_stack_set_visible_child_name(self->button_stack, busy ? "busy" : "label");
        gtk_text_view_set_editable(self->text_view, !busy);
        update_action(self);
}

static void imported(GtkWidget *widget, GVariant *reply, const GError *error, gpointer user_data) {
        PicConnectBox *self = PIC_CONNECT_BOX(widget);
        const char *path;

        set_busy(self, FALSE);
        if (!reply)
                return;

        g_variant_get(reply, "(&o)", &path);
        gtk_text_buffer_set_text(gtk_text_view_get_buffer(self->text_view), "", -1);
        if (PIC_IS_WINDOW(gtk_widget_get_root(widget)))
                pic_window_show_link_at(PIC_WINDOW(gtk_widget_get_root(widget)), path);
}

static void on_connect(GtkWidget *widget, const char *action_name, GVariant *parameter) {
        PicConnectBox *self = PIC_CONNECT_BOX(widget);
        g_autofree char *text = get_text(self);
        PicCell1 *cell = self->client ? pic_client_get_cell(self->client) : NULL;

        if (!cell || !self->valid || self->busy)
                return;
        set_busy(self, TRUE);
        pic_call(cell, "ImportInvite", g_variant_new("(s)", g_strstrip(text)), widget, imported, NULL);
}

void pic_connect_box_connect(PicConnectBox *self, const char *invite) {
        g_return_if_fail(PIC_IS_CONNECT_BOX(self));

        gtk_text_buffer_set_text(gtk_text_view_get_buffer(self->text_view), invite, -1);
        gtk_widget_activate_action(GTK_WIDGET(self), "connect.connect", NULL);
}

static void cell_changed(PicConnectBox *self) {
        update_action(self);
}

void pic_connect_box_set_client(PicConnectBox *self, PicClient *client) {
        g_return_if_fail(PIC_IS_CONNECT_BOX(self));
        g_return_if_fail(!self->client);

        self->client = client;
        g_signal_connect_object(client, "notify::cell", G_CALLBACK(cell_changed), self, G_CONNECT_SWAPPED);
        update_action(self);
}

void pic_connect_box_dump(PicConnectBox *self, JsonBuilder *builder) {
        g_autofree char *text = get_text(self);

        json_builder_begin_object(builder);
        json_builder_set_member_name(builder, "text");
        json_builder_add_string_value(builder, text);
        json_builder_set_member_name(builder, "valid");
        json_builder_add_boolean_value(builder, self->valid);
        json_builder_set_member_name(builder, "message");
        json_builder_add_string_value(builder, gtk_label_get_label(self->message_label));
        json_builder_set_member_name(builder, "busy");
        json_builder_add_boolean_value(builder, self->busy);
        json_builder_end_object(builder);
}

static void pic_connect_box_dispose(GObject *object) {
        PicConnectBox *self = PIC_CONNECT_BOX(object);

        if (self->client)
                g_signal_handlers_disconnect_by_data(self->client, self);
        self->client = NULL;
        gtk_widget_dispose_template(GTK_WIDGET(self), PIC_TYPE_CONNECT_BOX);
        G_OBJECT_CLASS(pic_connect_box_parent_class)->dispose(object);
}

static void pic_connect_box_class_init(PicConnectBoxClass *klass) {
        GObjectClass *object_class = G_OBJECT_CLASS(klass);
        GtkWidgetClass *widget_class = GTK_WIDGET_CLASS(klass);

        object_class->dispose = pic_connect_box_dispose;

        gtk_widget_class_set_template_from_resource(widget_class, "/org/pic/Cell/pic-connect-box.ui");
        gtk_widget_class_bind_template_child(widget_class, PicConnectBox, text_view);
        gtk_widget_class_bind_template_child(widget_class, PicConnectBox, message_icon);
        gtk_widget_class_bind_template_child(widget_class, PicConnectBox, message_label);
        gtk_widget_class_bind_template_child(widget_class, PicConnectBox, button_stack);

        gtk_widget_class_install_action(widget_class, "connect.connect", NULL, on_connect);
}

static void pic_connect_box_init(PicConnectBox *self) {
        GtkEventController *shortcuts;

        gtk_widget_init_template(GTK_WIDGET(self));

        /* In the capture phase: the text view would take Ctrl+Enter as a line break. */
        shortcuts = gtk_shortcut_controller_new();
        gtk_event_controller_set_propagation_phase(shortcuts, GTK_PHASE_CAPTURE);
        gtk_shortcut_controller_add_shortcut(GTK_SHORTCUT_CONTROLLER(shortcuts),
                gtk_shortcut_new(gtk_shortcut_trigger_parse_string("<Control>Return|<Control>KP_Enter"),
                                 gtk_named_action_new("connect.connect")));
        gtk_widget_add_controller(GTK_WIDGET(self), shortcuts);
        g_signal_connect_object(gtk_text_view_get_buffer(self->text_view), "changed",
                                G_CALLBACK(check), self, G_CONNECT_SWAPPED);
        update_action(self);
}
