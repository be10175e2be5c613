/* pic-cell-view.c: the "This Cell" page: the invite as a QR code and text, and the cell's identity.
 *
 * An invite is created as soon as the service is reached, so that the page
 * shows something to scan at once; it is replaced only on request (or when it
 * expired), since every invite holds a pairing secret on the service. */
#include "config.h"

#include <glib/gi18n.h>

#include "pic-call.h"
#include "pic-cell-view.h"
#include "pic-format.h"
#include "pic-invite-check.h"
#include "pic-qr-code.h"

#define REFRESH_SECONDS 30

struct _PicCellView {
        AdwBin parent_instance;

        /* template */
        GtkStack *invite_stack;
        PicQrCode *qr_code;
        GtkLabel *invite_label;
        GtkLabel *expiry_label;
        GtkLabel *name_label;
        GtkLabel *domain_label;
        GtkLabel *address_label;
        GtkLabel *endpoint_label;
        AdwActionRow *key_row;
        GtkLabel *fingerprint_label;
        GtkListBox *services_list;

        /* borrowed */
        PicClient *client;

        /* owned */
        PicCell1 *cell;
        char *invite;
        gint64 invite_expires;
        gboolean creating;
        guint refresh_id;
};

G_DEFINE_FINAL_TYPE(PicCellView, pic_cell_view, ADW_TYPE_BIN)

static void update_expiry(PicCellView *self) {
        g_autofree char *text = NULL;

        if (!self->invite || self->invite_expires == 0) {
                gtk_label_set_label(self->expiry_label, "");
                return;
        }
        text = pic_format_expiry(self->invite_expires, g_get_real_time() / G_USEC_PER_SEC);
        gtk_label_set_label(self->expiry_label, text);
}

static void show_invite(PicCellView *self, const char *invite) {
        g_autoptr(PicInviteSummary) summary = NULL;
        g_autoptr(GError) error = NULL;

        g_free(self->invite);
        self->invite = g_strdup(invite);
        self->invite_expires = 0;

        if (!invite) {
                pic_qr_code_set_text(self->qr_code, NULL);
                gtk_label_set_label(self->invite_label, "");
                gtk_stack_set_visible_child_name(self->invite_stack, self->creating ? "creating" : "missing");
                update_expiry(self);
                return;
        }

        summary = pic_invite_check(invite, &error);
        if (summary)
                self->invite_expires = summary->expires;
        else
                g_warning("The service made an invite its own parser refuses: %s", error->message);

        pic_qr_code_set_text(self->qr_code, invite);
        gtk_label_set_label(self->invite_label, invite);
        gtk_stack_set_visible_child_name(self->invite_stack, "invite");
        update_expiry(self);
}

static void invite_created(GtkWidget *widget, GVariant *reply, const GError *error, gpointer user_data) {
        PicCellView *self = PIC_CELL_VIEW(widget);
        const char *invite = NULL;

        self->creating = FALSE;
        gtk_widget_action_set_enabled(widget, "cell.new-invite", TRUE);
        if (reply)
                g_variant_get(reply, "(&s)", &invite);
        /* After a failure the old invite, if any, still works. */
        if (invite || !self->invite)
                show_invite(self, invite);
}

static void create_invite(PicCellView *self) {
        if (!self->cell || self->creating)
                return;
        self->creating = TRUE;
        gtk_widget_action_set_enabled(GTK_WIDGET(self), "cell.new-invite", FALSE);
        if (!self->invite)
                gtk_stack_set_visible_child_name(self->invite_stack, "creating");
        pic_call(self->cell, "CreateInvite", g_variant_new_parsed("(@a{sv} {},)"),
                 GTK_WIDGET(self), invite_created, NULL);
}

static gboolean refresh(gpointer user_data) {
        PicCellView *self = user_data;

        update_expiry(self);
        return G_SOURCE_CONTINUE;
}

static GtkWidget *service_row_new(const char *name, GVariant *ports) {
        g_autofree char *ports_text = pic_format_ports(ports);
        GtkWidget *row = adw_action_row_new();

        adw_preferences_row_set_title(ADW_PREFERENCES_ROW(row), name);
        adw_action_row_set_subtitle(ADW_ACTION_ROW(row), ports_text);
        return row;
}

static void update_services(PicCellView *self) {
        GVariant *services = self->cell ? pic_cell1_get_services(self->cell) : NULL;
        GtkWidget *child;
        GVariantIter iter;
        const char *name, *address;
        GVariant *ports;

        while ((child = gtk_widget_get_first_child(GTK_WIDGET(self->services_list))))
                gtk_list_box_remove(self->services_list, child);
        if (!services)
                return;

        g_variant_iter_init(&iter, services);
        while (g_variant_iter_next(&iter, "(&s&s@a(sq))", &name, &address, &ports)) {
                gtk_list_box_append(self->services_list, service_row_new(name, ports));
                g_variant_unref(ports);
        }
}

static void update(PicCellView *self) {
        g_autofree char *fingerprint = NULL;
        const char *key;

        if (!self->cell)
                return;

        gtk_label_set_label(self->name_label, pic_cell1_get_name(self->cell));
        gtk_label_set_label(self->domain_label, pic_cell1_get_domain(self->cell));
        gtk_label_set_label(self->address_label, pic_cell1_get_address(self->cell));
        gtk_label_set_label(self->endpoint_label, pic_cell1_get_endpoint(self->cell));
        key = pic_cell1_get_public_key(self->cell);
        adw_action_row_set_subtitle(self->key_row, key ? key : "");
        fingerprint = pic_format_fingerprint(key);
        gtk_label_set_label(self->fingerprint_label, fingerprint ? fingerprint : "");
        update_services(self);
}

static void cell_changed(PicCellView *self) {
        PicCell1 *cell = pic_client_get_cell(self->client);

        if (cell == self->cell)
                return;
        if (self->cell)
                g_signal_handlers_disconnect_by_data(self->cell, self);
        g_set_object(&self->cell, cell);
        self->creating = FALSE;
        show_invite(self, NULL);
        if (!cell)
                return;
        g_signal_connect_object(cell, "g-properties-changed", G_CALLBACK(update), self, G_CONNECT_SWAPPED);
        update(self);
        create_invite(self);
}

void pic_cell_view_set_client(PicCellView *self, PicClient *client) {
        g_return_if_fail(PIC_IS_CELL_VIEW(self));
        g_return_if_fail(!self->client);

        self->client = client;
        g_signal_connect_object(client, "notify::cell", G_CALLBACK(cell_changed), self, G_CONNECT_SWAPPED);
        cell_changed(self);
}

static void copy_text(GtkWidget *widget, const char *text) {
        if (!text || !*text)
                return;
        gdk_clipboard_set_text(gtk_widget_get_clipboard(widget), text);
        /* Translators: confirmation after copying text to the clipboard. */
        gtk_widget_activate_action(widget, "win.toast", "s", _("Copied"));
}

static void on_copy_invite(GtkWidget *widget, const char *action_name, GVariant *parameter) {
        copy_text(widget, PIC_CELL_VIEW(widget)->invite);
}

static void on_copy_key(GtkWidget *widget, const char *action_name, GVariant *parameter) {
        PicCellView *self = PIC_CELL_VIEW(widget);

        if (self->cell)
                copy_text(widget, pic_cell1_get_public_key(self->cell));
}

static void on_new_invite(GtkWidget *widget, const char *action_name, GVariant *parameter) {
        create_invite(PIC_CELL_VIEW(widget));
}

void pic_cell_view_dump(PicCellView *self, JsonBuilder *builder) {
        json_builder_begin_object(builder);
        json_builder_set_member_name(builder, "name");
        json_builder_add_string_value(builder, gtk_label_get_label(self->name_label));
        json_builder_set_member_name(builder, "domain");
        json_builder_add_string_value(builder, gtk_label_get_label(self->domain_label));
        json_builder_set_member_name(builder, "address");
        json_builder_add_string_value(builder, gtk_label_get_label(self->address_label));
        json_builder_set_member_name(builder, "fingerprint");
        json_builder_add_string_value(builder, gtk_label_get_label(self->fingerprint_label));
        json_builder_set_member_name(builder, "invite");
        json_builder_add_string_value(builder, gtk_label_get_label(self->invite_label));
        json_builder_set_member_name(builder, "qr");
        json_builder_add_string_value(builder, pic_qr_code_get_text(self->qr_code));
        json_builder_set_member_name(builder, "expiry");
        json_builder_add_string_value(builder, gtk_label_get_label(self->expiry_label));
        json_builder_end_object(builder);
}

static void pic_cell_view_dispose(GObject *object) {
        PicCellView *self = PIC_CELL_VIEW(object);

        g_clear_handle_id(&self->refresh_id, g_source_remove);
        if (self->cell)
                g_signal_handlers_disconnect_by_data(self->cell, self);
        g_clear_object(&self->cell);
        if (self->client)
                g_signal_handlers_disconnect_by_data(self->client, self);
        self->client = NULL;
        gtk_widget_dispose_template(GTK_WIDGET(self), PIC_TYPE_CELL_VIEW);
        G_OBJECT_CLASS(pic_cell_view_parent_class)->dispose(object);
}

static void pic_cell_view_finalize(GObject *object) {
        PicCellView *self = PIC_CELL_VIEW(object);

        g_free(self->invite);
        G_OBJECT_CLASS(pic_cell_view_parent_class)->finalize(object);
}

static void pic_cell_view_class_init(PicCellViewClass *klass) {
        GObjectClass *object_class = G_OBJECT_CLASS(klass);
        GtkWidgetClass *widget_class = GTK_WIDGET_CLASS(klass);

        object_class->dispose = pic_cell_view_dispose;
        object_class->finalize = pic_cell_view_finalize;

        g_type_ensure(PIC_TYPE_QR_CODE);
        gtk_widget_class_set_template_from_resource(widget_class, "/org/pic/Cell/pic-cell-view.ui");
        gtk_widget_class_bind_template_child(widget_class, PicCellView, invite_stack);
        gtk_widget_class_bind_template_child(widget_class, PicCellView, qr_code);
        gtk_widget_class_bind_template_child(widget_class, PicCellView, invite_label);
        gtk_widget_class_bind_template_child(widget_class, PicCellView, expiry_label);
        gtk_widget_class_bind_template_child(widget_class, PicCellView, name_label);
        gtk_widget_class_bind_template_child(widget_class, PicCellView, domain_label);
        gtk_widget_class_bind_template_child(widget_class, PicCellView, address_label);
        gtk_widget_class_bind_template_child(widget_class, PicCellView, endpoint_label);
        gtk_widget_class_bind_template_child(widget_class, PicCellView, key_row);
        gtk_widget_class_bind_template_child(widget_class, PicCellView, fingerprint_label);
        gtk_widget_class_bind_template_child(widget_class, PicCellView, services_list);

        gtk_widget_class_install_action(widget_class, "cell.copy-invite", NULL, on_copy_invite);
        gtk_widget_class_install_action(widget_class, "cell.copy-key", NULL, on_copy_key);
        gtk_widget_class_install_action(widget_class, "cell.new-invite", NULL, on_new_invite);
}

static void pic_cell_view_init(PicCellView *self) {
        PangoAttrList *attributes = pango_attr_list_new();

        gtk_widget_init_template(GTK_WIDGET(self));

        /* A hyphen at a line break would look like part of the invite. */
        pango_attr_list_insert(attributes, pango_attr_insert_hyphens_new(FALSE));
        gtk_label_set_attributes(self->invite_label, attributes);
        pango_attr_list_unref(attributes);
        self->refresh_id = g_timeout_add_seconds(REFRESH_SECONDS, refresh, self);
}
