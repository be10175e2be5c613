/* pic-add-peer-dialog.c: adds a peer and hands over its WireGuard configuration as a QR code and a file.
 *
 * The configuration holds the peer's private key, which the service does not
 * keep: it lives only in this dialog, is written only where the user says, with
 * mode 0600, and goes with the dialog. */
#include "config.h"

#include <glib/gi18n.h>
#include <string.h>

#include "pic-add-peer-dialog.h"
#include "pic-call.h"
#include "pic-qr-code.h"

struct _PicAddPeerDialog {
        AdwWindow parent_instance;

        /* template */
        GtkWidget *cancel_button;
        GtkWidget *add_button;
        GtkWidget *done_button;
        GtkStack *stack;
        AdwEntryRow *name_row;
        GtkSwitch *full_tunnel_switch;
        GtkLabel *error_label;
        PicQrCode *qr_code;
        GtkLabel *saved_label;

        /* borrowed */
        PicWindow *window;

        /* owned */
        char *name;
        char *config;
        gboolean busy;
        GtkNativeDialog *chooser;
};

G_DEFINE_FINAL_TYPE(PicAddPeerDialog, pic_add_peer_dialog, ADW_TYPE_WINDOW)

static void update_actions(PicAddPeerDialog *self) {
        const char *name = gtk_editable_get_text(GTK_EDITABLE(self->name_row));

        gtk_widget_action_set_enabled(GTK_WIDGET(self), "dialog.add", !self->busy && !self->config && *name);
        gtk_widget_action_set_enabled(GTK_WIDGET(self), "dialog.save", self->config != NULL);
        gtk_widget_action_set_enabled(GTK_WIDGET(self), "dialog.copy", self->config != NULL);
}

static void show_error(PicAddPeerDialog *self, const char *message) {
        gtk_label_set_label(self->error_label, message ? message : "");
        gtk_widget_set_visible(GTK_WIDGET(self->error_label), message != NULL);
}

static void added(GtkWidget *widget, GVariant *reply, const GError *error, gpointer user_data) {
        PicAddPeerDialog *self = PIC_ADD_PEER_DIALOG(widget);
        const char *config;

        self->busy = FALSE;
        gtk_widget_set_sensitive(GTK_WIDGET(self->name_row), TRUE);
        gtk_widget_set_sensitive(GTK_WIDGET(self->full_tunnel_switch), TRUE);
        if (!reply) {
                g_autofree char *message = pic_call_error_message(error);
                show_error(self, message);
                update_actions(self);
                return;
        }

        g_variant_get(reply, "(&o&s)", NULL, &config);
        self->config = g_strdup(config);
        pic_qr_code_set_text(self->qr_code, config);
        gtk_stack_set_visible_child_name(self->stack, "config");
        gtk_widget_set_visible(self->add_button, FALSE);
        gtk_widget_set_visible(self->cancel_button, FALSE);
        gtk_widget_set_visible(self->done_button, TRUE);
        gtk_window_set_default_widget(GTK_WINDOW(self), self->done_button);
        update_actions(self);
}

static void on_add(GtkWidget *widget, const char *action_name, GVariant *parameter) {
        PicAddPeerDialog *self = PIC_ADD_PEER_DIALOG(widget);
        PicCell1 *cell = pic_client_get_cell(pic_window_get_client(self->window));
        const char *name = gtk_editable_get_text(GTK_EDITABLE(self->name_row));
        GVariantBuilder options;

        if (!cell || self->busy || !*name)
                return;

        g_free(self->name);
        self->name = g_strdup(name);
        self->busy = TRUE;
        show_error(self, NULL);
        gtk_widget_set_sensitive(GTK_WIDGET(self->name_row), FALSE);
        gtk_widget_set_sensitive(GTK_WIDGET(self->full_tunnel_switch), FALSE);
        update_actions(self);

        g_variant_builder_init(&options, G_VARIANT_TYPE_VARDICT);
        g_variant_builder_add(&options, "{sv}", "full_tunnel",
                              g_variant_new_boolean(gtk_switch_get_active(self->full_tunnel_switch)));
        pic_call(cell, "AddPeer", g_variant_new("(sa{sv})", name, &options), widget, added, NULL);
}

static void saved(GObject *source, GAsyncResult *result, gpointer user_data) {
        g_autoptr(PicAddPeerDialog) self = user_data;
        g_autoptr(GError) error = NULL;
        g_autofree char *path = NULL, *message = NULL;

        if (!g_file_replace_contents_finish(G_FILE(source), result, NULL, &error)) {
                if (g_error_matches(error, G_IO_ERROR, G_IO_ERROR_CANCELLED))
                        return;
                message = g_strdup_printf(
                        /* Translators: %s is the system's message about a failed write. */
                        _("Could not save the configuration: %s"), error->message);
        } else {
                path = g_file_get_parse_name(G_FILE(source));
                message = g_strdup_printf(
                        /* Translators: %s is a file name. */
                        _("Saved to %s"), path);
        }
        gtk_label_set_label(self->saved_label, message);
        gtk_widget_set_visible(GTK_WIDGET(self->saved_label), TRUE);
}

static void chooser_response(GtkNativeDialog *chooser, int response, PicAddPeerDialog *self) {
        g_autoptr(GFile) file = NULL;
        GBytes *bytes;

        if (response == GTK_RESPONSE_ACCEPT)
                file = gtk_file_chooser_get_file(GTK_FILE_CHOOSER(chooser));
        g_clear_object(&self->chooser);
        if (!file || !self->config)
                return;

        bytes = g_bytes_new(self->config, strlen(self->config));
        /* PRIVATE: the file holds a private key. */
        g_file_replace_contents_bytes_async(file, bytes, NULL, FALSE,
                                            G_FILE_CREATE_PRIVATE | G_FILE_CREATE_REPLACE_DESTINATION,
                                            pic_window_get_cancellable(self->window), saved, g_object_ref(self));
        g_bytes_unref(bytes);
}

static void on_save(GtkWidget *widget, const char *action_name, GVariant *parameter) {
        PicAddPeerDialog *self = PIC_ADD_PEER_DIALOG(widget);
        g_autofree char *suggested = NULL;
        GtkFileChooserNative *chooser;

        if (!self->config || self->chooser)
                return;
        chooser = gtk_file_chooser_native_new(
                /* Translators: title of the file chooser saving a peer's configuration. */
                _("Save WireGuard Configuration"), GTK_WINDOW(self), GTK_FILE_CHOOSER_ACTION_SAVE,
                /* Translators: button of the file chooser. */
                _("_Save"),
                /* Translators: button of the file chooser. */
                _("_Cancel"));
        gtk_native_dialog_set_modal(GTK_NATIVE_DIALOG(chooser), TRUE);
        /* wg-quick names the interface after the file: keep it short and plain. */
        suggested = g_strdup_printf("%.15s.conf", self->name ? self->name : "wg0");
        gtk_file_chooser_set_current_name(GTK_FILE_CHOOSER(chooser), suggested);
        g_signal_connect(chooser, "response", G_CALLBACK(chooser_response), self);
        self->chooser = GTK_NATIVE_DIALOG(chooser);
        gtk_native_dialog_show(self->chooser);
}

static void on_copy(GtkWidget *widget, const char *action_name, GVariant *parameter) {
        PicAddPeerDialog *self = PIC_ADD_PEER_DIALOG(widget);

        if (!self->config)
                return;
        gdk_clipboard_set_text(gtk_widget_get_clipboard(widget), self->config);
        /* Translators: confirmation after copying a peer's configuration. */
        gtk_label_set_label(self->saved_label, _("Copied. The clipboard now holds a private key."));
        gtk_widget_set_visible(GTK_WIDGET(self->saved_label), TRUE);
}

void pic_add_peer_dialog_submit(PicAddPeerDialog *self, const char *name) {
        g_return_if_fail(PIC_IS_ADD_PEER_DIALOG(self));

        gtk_editable_set_text(GTK_EDITABLE(self->name_row), name);
        gtk_widget_activate_action(GTK_WIDGET(self), "dialog.add", NULL);
}

void pic_add_peer_dialog_dump(PicAddPeerDialog *self, JsonBuilder *builder) {
        json_builder_begin_object(builder);
        json_builder_set_member_name(builder, "name");
        json_builder_add_string_value(builder, gtk_editable_get_text(GTK_EDITABLE(self->name_row)));
        json_builder_set_member_name(builder, "busy");
        json_builder_add_boolean_value(builder, self->busy);
        json_builder_set_member_name(builder, "error");
        json_builder_add_string_value(builder, gtk_widget_get_visible(GTK_WIDGET(self->error_label)) ?
                                      gtk_label_get_label(self->error_label) : "");
        json_builder_set_member_name(builder, "qr");
        json_builder_add_string_value(builder, pic_qr_code_get_text(self->qr_code));
        json_builder_set_member_name(builder, "width");
        json_builder_add_int_value(builder, gtk_widget_get_width(GTK_WIDGET(self)));
        json_builder_set_member_name(builder, "height");
        json_builder_add_int_value(builder, gtk_widget_get_height(GTK_WIDGET(self)));
        json_builder_end_object(builder);
}

static void pic_add_peer_dialog_dispose(GObject *object) {
        PicAddPeerDialog *self = PIC_ADD_PEER_DIALOG(object);

        if (self->chooser) {
                g_signal_handlers_disconnect_by_data(self->chooser, self);
                gtk_native_dialog_destroy(self->chooser);
                g_clear_object(&self->chooser);
        }
        gtk_widget_dispose_template(GTK_WIDGET(self), PIC_TYPE_ADD_PEER_DIALOG);
        G_OBJECT_CLASS(pic_add_peer_dialog_parent_class)->dispose(object);
}

static void pic_add_peer_dialog_finalize(GObject *object) {
        PicAddPeerDialog *self = PIC_ADD_PEER_DIALOG(object);

        g_free(self->name);
        if (self->config) {
                /* Not left behind in freed memory. */
                memset(self->config, 0, strlen(self->config));
                g_free(self->config);
        }
        G_OBJECT_CLASS(pic_add_peer_dialog_parent_class)->finalize(object);
}

static void pic_add_peer_dialog_class_init(PicAddPeerDialogClass *klass) {
        GObjectClass *object_class = G_OBJECT_CLASS(klass);
        GtkWidgetClass *widget_class = GTK_WIDGET_CLASS(klass);

        object_class->dispose = pic_add_peer_dialog_dispose;
        object_class->finalize = pic_add_peer_dialog_finalize;

        g_type_ensure(PIC_TYPE_QR_CODE);
        gtk_widget_class_set_template_from_resource(widget_class, "/org/pic/Cell/pic-add-peer-dialog.ui");
        gtk_widget_class_bind_template_child(widget_class, PicAddPeerDialog, cancel_button);
        gtk_widget_class_bind_template_child(widget_class, PicAddPeerDialog, add_button);
        gtk_widget_class_bind_template_child(widget_class, PicAddPeerDialog, done_button);
        gtk_widget_class_bind_template_child(widget_class, PicAddPeerDialog, stack);
        gtk_widget_class_bind_template_child(widget_class, PicAddPeerDialog, name_row);
        gtk_widget_class_bind_template_child(widget_class, PicAddPeerDialog, full_tunnel_switch);
        gtk_widget_class_bind_template_child(widget_class, PicAddPeerDialog, error_label);
        gtk_widget_class_bind_template_child(widget_class, PicAddPeerDialog, qr_code);
        gtk_widget_class_bind_template_child(widget_class, PicAddPeerDialog, saved_label);

        gtk_widget_class_install_action(widget_class, "dialog.add", NULL, on_add);
        gtk_widget_class_install_action(widget_class, "dialog.save", NULL, on_save);
        gtk_widget_class_install_action(widget_class, "dialog.copy", NULL, on_copy);
        gtk_widget_class_add_binding_action(widget_class, GDK_KEY_Escape, 0, "window.close", NULL);
}

static void pic_add_peer_dialog_init(PicAddPeerDialog *self) {
        gtk_widget_init_template(GTK_WIDGET(self));
        gtk_window_set_default_widget(GTK_WINDOW(self), self->add_button);
        g_signal_connect_object(self->name_row, "changed", G_CALLBACK(update_actions), self, G_CONNECT_SWAPPED);
        update_actions(self);
}

PicAddPeerDialog *pic_add_peer_dialog_new(PicWindow *window) {
        PicAddPeerDialog *self = g_object_new(PIC_TYPE_ADD_PEER_DIALOG, "transient-for", window, NULL);

        self->window = window;
        return self;
}
