/* pic-peer-row.c: one peer (phone, laptop): status, where it leaves to the internet, removal.
 *
 * The exit choice offers this cell and the linked cells that offer their
 * connection; a cell the peer still routes through after it stopped offering
 * stays listed (marked), so that the row never shows a choice that is not in
 * effect as if it were. */
#include "config.h"

#include <glib/gi18n.h>

#include "pic-call.h"
#include "pic-format.h"
#include "pic-peer-row.h"

struct _PicPeerRow {
        AdwExpanderRow parent_instance;

        /* template */
        GtkWidget *status_dot;
        AdwComboRow *route_row;
        GtkStringList *route_choices;
        AdwActionRow *key_row;

        /* borrowed */
        PicClient *client;

        /* owned */
        PicCell1Peer *peer;
        GStrv exits;
        GPtrArray *choice_cells;        /* the cell behind each choice, "" = directly */
        gboolean updating;
};

G_DEFINE_FINAL_TYPE(PicPeerRow, pic_peer_row, ADW_TYPE_EXPANDER_ROW)

PicCell1Peer *pic_peer_row_get_peer(PicPeerRow *self) {
        g_return_val_if_fail(PIC_IS_PEER_ROW(self), NULL);
        return self->peer;
}

void pic_peer_row_refresh(PicPeerRow *self) {
        g_autofree char *handshake = NULL, *subtitle = NULL;
        gboolean connected = pic_cell1_peer_get_connected(self->peer);
        gint64 now = g_get_real_time() / G_USEC_PER_SEC;

        handshake = pic_format_handshake(pic_cell1_peer_get_latest_handshake(self->peer), now);
        subtitle = g_strdup_printf(
                /* Translators: a peer's address, its state and its latest handshake. */
                _("%s · %s · %s"),
                pic_cell1_peer_get_address(self->peer),
                connected ? pic_link_status_to_label(PIC_LINK_STATUS_CONNECTED) :
                            pic_link_status_to_label(PIC_LINK_STATUS_NOT_CONNECTED),
                handshake);
        adw_expander_row_set_subtitle(ADW_EXPANDER_ROW(self), subtitle);
}

static void rebuild_choices(PicPeerRow *self) {
        const char *route_via = pic_cell1_peer_get_route_via(self->peer);
        g_autoptr(GPtrArray) labels = g_ptr_array_new_with_free_func(g_free);
        gboolean current_listed = !route_via || !*route_via;
        guint selected = 0;

        g_ptr_array_set_size(self->choice_cells, 0);
        /* Translators: exit choice: the peer's traffic leaves through this cell's own connection. */
        g_ptr_array_add(labels, g_strdup(_("This Cell, Directly")));
        g_ptr_array_add(self->choice_cells, g_strdup(""));

        for (char **e = self->exits; e && *e; e++) {
                if (g_strcmp0(*e, route_via) == 0) {
                        current_listed = TRUE;
                        selected = self->choice_cells->len;
                }
                g_ptr_array_add(labels, g_strdup(*e));
                g_ptr_array_add(self->choice_cells, g_strdup(*e));
        }
        if (!current_listed) {
                selected = self->choice_cells->len;
                g_ptr_array_add(labels, g_strdup_printf(
                        /* Translators: an exit choice that is set but not offered any more; %s is a cell. */
                        _("%s (not offered now)"), route_via));
                g_ptr_array_add(self->choice_cells, g_strdup(route_via));
        }
        g_ptr_array_add(labels, NULL);

        self->updating = TRUE;
        gtk_string_list_splice(self->route_choices, 0,
                               g_list_model_get_n_items(G_LIST_MODEL(self->route_choices)),
                               (const char *const *) labels->pdata);
        adw_combo_row_set_selected(self->route_row, selected);
        self->updating = FALSE;
}

static void update(PicPeerRow *self) {
        static const char *const classes[] = { "connected", "idle" };
        const char *route_via = pic_cell1_peer_get_route_via(self->peer);
        gboolean full = pic_cell1_peer_get_full_tunnel(self->peer);
        const char *route_text;

        adw_preferences_row_set_title(ADW_PREFERENCES_ROW(self), pic_cell1_peer_get_name(self->peer));
        for (size_t i = 0; i < G_N_ELEMENTS(classes); i++)
                gtk_widget_remove_css_class(self->status_dot, classes[i]);
        gtk_widget_add_css_class(self->status_dot, pic_cell1_peer_get_connected(self->peer) ?
                                 /* A device that is off is nothing to worry about: grey, not red. */
                                 "connected" : "idle");
        pic_peer_row_refresh(self);
        adw_action_row_set_subtitle(self->key_row, pic_cell1_peer_get_public_key(self->peer));

        rebuild_choices(self);
        gtk_widget_set_sensitive(GTK_WIDGET(self->route_row), full);
        if (!full)
                /* Translators: a peer that sends only the cells' traffic through the tunnel. */
                route_text = _("This peer sends only traffic for the cells through the tunnel");
        else if (!route_via || !*route_via)
                route_text = NULL;
        else if (pic_cell1_peer_get_route_via_active(self->peer))
                /* Translators: the chosen exit through a linked cell works now. */
                route_text = _("In effect");
        else
                /* Translators: the chosen exit through a linked cell does not work now. */
                route_text = _("Not in effect: the cell does not offer it now or cannot be reached");
        adw_action_row_set_subtitle(ADW_ACTION_ROW(self->route_row), route_text ? route_text : "");
}

void pic_peer_row_set_exits(PicPeerRow *self, const char *const *exits) {
        g_return_if_fail(PIC_IS_PEER_ROW(self));

        g_strfreev(self->exits);
        self->exits = g_strdupv((char **) exits);
        rebuild_choices(self);
}

static void route_done(GtkWidget *widget, GVariant *reply, const GError *error, gpointer user_data) {
        /* A refused choice goes back to what is in effect. */
        update(PIC_PEER_ROW(widget));
}

static void route_selected(PicPeerRow *self) {
        guint selected = adw_combo_row_get_selected(self->route_row);
        const char *cell;

        if (self->updating || selected >= self->choice_cells->len)
                return;
        cell = g_ptr_array_index(self->choice_cells, selected);
        if (g_strcmp0(cell, pic_cell1_peer_get_route_via(self->peer)) == 0)
                return;
        pic_call(self->peer, "SetRouteVia", g_variant_new("(s)", cell), GTK_WIDGET(self), route_done, NULL);
}

static void remove_response(AdwMessageDialog *dialog, const char *response, PicPeerRow *self) {
        PicCell1 *cell = self->client ? pic_client_get_cell(self->client) : NULL;

        if (g_strcmp0(response, "remove") != 0 || !cell)
                return;
        /* The row goes when the peer's object disappears. */
        pic_call(cell, "RemovePeer", g_variant_new("(s)", pic_cell1_peer_get_name(self->peer)),
                 GTK_WIDGET(self), NULL, NULL);
}

static void on_remove(GtkWidget *widget, const char *action_name, GVariant *parameter) {
        PicPeerRow *self = PIC_PEER_ROW(widget);
        const char *name = pic_cell1_peer_get_name(self->peer);
        GtkWidget *dialog;

        dialog = adw_message_dialog_new(GTK_WINDOW(gtk_widget_get_root(widget)), NULL, NULL);
        adw_message_dialog_format_heading(ADW_MESSAGE_DIALOG(dialog),
                /* Translators: heading of the confirmation; %s is a peer's name. */
                _("Remove %s?"), name);
        adw_message_dialog_format_body(ADW_MESSAGE_DIALOG(dialog), "%s",
                /* Translators: body of the confirmation of a peer's removal. */
                _("The device's WireGuard configuration stops working. To connect it again, add it as a new peer."));
        adw_message_dialog_add_responses(ADW_MESSAGE_DIALOG(dialog),
                /* Translators: button of a confirmation that changes nothing. */
                "cancel", _("_Cancel"),
                /* Translators: button confirming the removal of a peer. */
                "remove", _("_Remove"),
                NULL);
        adw_message_dialog_set_response_appearance(ADW_MESSAGE_DIALOG(dialog), "remove",
                                                   ADW_RESPONSE_DESTRUCTIVE);
        adw_message_dialog_set_default_response(ADW_MESSAGE_DIALOG(dialog), "cancel");
        adw_message_dialog_set_close_response(ADW_MESSAGE_DIALOG(dialog), "cancel");
        g_signal_connect_object(dialog, "response", G_CALLBACK(remove_response), self, 0);
        gtk_window_present(GTK_WINDOW(dialog));
}

gboolean pic_peer_row_choose_exit(PicPeerRow *self, const char *cell) {
        g_return_val_if_fail(PIC_IS_PEER_ROW(self), FALSE);

        for (guint i = 0; i < self->choice_cells->len; i++)
                if (g_strcmp0(g_ptr_array_index(self->choice_cells, i), cell) == 0) {
                        adw_combo_row_set_selected(self->route_row, i);
                        return TRUE;
                }
        return FALSE;
}

void pic_peer_row_dump(PicPeerRow *self, JsonBuilder *builder) {
        json_builder_begin_object(builder);
        json_builder_set_member_name(builder, "name");
        json_builder_add_string_value(builder, pic_cell1_peer_get_name(self->peer));
        json_builder_set_member_name(builder, "subtitle");
        json_builder_add_string_value(builder, adw_expander_row_get_subtitle(ADW_EXPANDER_ROW(self)));
        json_builder_set_member_name(builder, "status");
        json_builder_add_string_value(builder, pic_cell1_peer_get_connected(self->peer) ? "connected" : "not-connected");
        json_builder_set_member_name(builder, "exit_choices");
        json_builder_begin_array(builder);
        for (guint i = 0; i < self->choice_cells->len; i++)
                json_builder_add_string_value(builder, g_ptr_array_index(self->choice_cells, i));
        json_builder_end_array(builder);
        json_builder_set_member_name(builder, "route_via");
        {
                guint selected = adw_combo_row_get_selected(self->route_row);
                json_builder_add_string_value(builder, selected < self->choice_cells->len ?
                                              g_ptr_array_index(self->choice_cells, selected) : "");
        }
        json_builder_end_object(builder);
}

static void pic_peer_row_dispose(GObject *object) {
        PicPeerRow *self = PIC_PEER_ROW(object);

        if (self->peer)
                g_signal_handlers_disconnect_by_data(self->peer, self);
        g_clear_object(&self->peer);
        self->client = NULL;
        gtk_widget_dispose_template(GTK_WIDGET(self), PIC_TYPE_PEER_ROW);
        G_OBJECT_CLASS(pic_peer_row_parent_class)->dispose(object);
}

static void pic_peer_row_finalize(GObject *object) {
        PicPeerRow *self = PIC_PEER_ROW(object);

        g_strfreev(self->exits);
        g_ptr_array_unref(self->choice_cells);
        G_OBJECT_CLASS(pic_peer_row_parent_class)->finalize(object);
}

static void pic_peer_row_class_init(PicPeerRowClass *klass) {
        GObjectClass *object_class = G_OBJECT_CLASS(klass);
        GtkWidgetClass *widget_class = GTK_WIDGET_CLASS(klass);

        object_class->dispose = pic_peer_row_dispose;
        object_class->finalize = pic_peer_row_finalize;

        gtk_widget_class_set_template_from_resource(widget_class, "/org/pic/Cell/pic-peer-row.ui");
        gtk_widget_class_bind_template_child(widget_class, PicPeerRow, status_dot);
        gtk_widget_class_bind_template_child(widget_class, PicPeerRow, route_row);
        gtk_widget_class_bind_template_child(widget_class, PicPeerRow, route_choices);
        gtk_widget_class_bind_template_child(widget_class, PicPeerRow, key_row);

        gtk_widget_class_install_action(widget_class, "peer.remove", NULL, on_remove);
}

static void pic_peer_row_init(PicPeerRow *self) {
        gtk_widget_init_template(GTK_WIDGET(self));
        self->choice_cells = g_ptr_array_new_with_free_func(g_free);
        g_signal_connect_object(self->route_row, "notify::selected", G_CALLBACK(route_selected),
                                self, G_CONNECT_SWAPPED);
}

GtkWidget *pic_peer_row_new(PicCell1Peer *peer, PicClient *client) {
        PicPeerRow *self = g_object_new(PIC_TYPE_PEER_ROW, NULL);

        self->peer = g_object_ref(peer);
        self->client = client;
        g_signal_connect_object(peer, "g-properties-changed", G_CALLBACK(update), self, G_CONNECT_SWAPPED);
        update(self);
        return GTK_WIDGET(self);
}
