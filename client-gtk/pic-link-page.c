/* pic-link-page.c: a linked cell's page: status, what is shared each way, the internet exit, removal.
 *
 * A switch shows what the user asked for at once, and its state (the darker
 * track) what the service confirmed: the call to the service happens in
 * between, and a refused change flips the switch back. */
#include "config.h"

#include <glib/gi18n.h>

#include "pic-call.h"
#include "pic-format.h"
#include "pic-link-page.h"
#include "pic-link-row.h"

#define REFRESH_SECONDS 30

typedef struct {
        char *name;
        AdwActionRow *row;
        GtkSwitch *shared_switch;       /* NULL for a service only the other cell has */
        GtkImage *theirs_icon;
} ServiceRow;

struct _PicLinkPage {
        AdwBin parent_instance;

        /* template */
        AdwPreferencesPage *page;
        AdwActionRow *status_row;
        GtkWidget *status_dot;
        AdwActionRow *sync_row;
        AdwPreferencesGroup *services_group;
        GtkListBox *services_list;
        AdwActionRow *exit_row;
        GtkSwitch *exit_switch;
        AdwActionRow *remote_exit_row;
        GtkImage *remote_exit_icon;
        AdwActionRow *domain_row;
        AdwActionRow *subnet_row;
        AdwActionRow *endpoint_row;
        AdwActionRow *key_row;
        GtkLabel *fingerprint_label;
        AdwActionRow *update_row;

        /* borrowed */
        PicClient *client;

        /* owned */
        PicCell1 *cell;
        PicCell1Link *link;
        GPtrArray *services;            /* of ServiceRow, in display order */
        PicLinkStatus status;
        gboolean updating;              /* switches are set from the service's state */
        guint refresh_id;
};

G_DEFINE_FINAL_TYPE(PicLinkPage, pic_link_page, ADW_TYPE_BIN)

static void service_row_free(ServiceRow *row) {
        g_free(row->name);
        g_free(row);
}

static gboolean lookup_bool(GVariant *dict, const char *key, gboolean *ret) {
        return dict && g_variant_lookup(dict, key, "b", ret);
}

static void set_switch(PicLinkPage *self, GtkSwitch *sw, gboolean value) {
        self->updating = TRUE;
        gtk_switch_set_active(sw, value);
        gtk_switch_set_state(sw, value);
        self->updating = FALSE;
}

static void update(PicLinkPage *self);

static void call_done(GtkWidget *widget, GVariant *reply, const GError *error, gpointer user_data) {
        /* Success or not, the switches show the service's state again. */
        update(PIC_LINK_PAGE(widget));
}

static gboolean shared_state_set(GtkSwitch *sw, gboolean state, PicLinkPage *self) {
        const char *service = g_object_get_data(G_OBJECT(sw), "service");
        GVariantBuilder inbound;

        if (self->updating || !self->link)
                return FALSE;

        g_variant_builder_init(&inbound, G_VARIANT_TYPE("a{sb}"));
        g_variant_builder_add(&inbound, "{sb}", service, state);
        pic_call(self->link, "SetPermissions", g_variant_new("(a{sb})", &inbound),
                 GTK_WIDGET(self), call_done, NULL);
        return TRUE;
}

static gboolean exit_state_set(GtkSwitch *sw, gboolean state, PicLinkPage *self) {
        if (self->updating || !self->link)
                return FALSE;
        pic_call(self->link, "SetExitOffered", g_variant_new("(b)", state), GTK_WIDGET(self), call_done, NULL);
        return TRUE;
}

/* Our services first, in the service's order, then those only they have. */
static GPtrArray *service_names(PicLinkPage *self, GVariant *outbound, GHashTable *ours) {
        GPtrArray *names = g_ptr_array_new_with_free_func(g_free);
        GVariant *services = self->cell ? pic_cell1_get_services(self->cell) : NULL;
        GVariantIter iter;
        const char *name;

        if (services) {
                g_variant_iter_init(&iter, services);
                while (g_variant_iter_next(&iter, "(&s&s@a(sq))", &name, NULL, NULL)) {
                        g_ptr_array_add(names, g_strdup(name));
                        g_hash_table_add(ours, g_strdup(name));
                }
        }
        if (outbound) {
                g_autoptr(GPtrArray) theirs = g_ptr_array_new();

                g_variant_iter_init(&iter, outbound);
                while (g_variant_iter_next(&iter, "{&sb}", &name, NULL))
                        if (!g_hash_table_contains(ours, name))
                                g_ptr_array_add(theirs, (gpointer) name);
                g_ptr_array_sort(theirs, (GCompareFunc) g_strcmp0);
                for (guint i = 0; i < theirs->len; i++)
                        g_ptr_array_add(names, g_strdup(g_ptr_array_index(theirs, i)));
        }
        return names;
}

static char *ports_of(PicLinkPage *self, const char *service) {
        GVariant *services = self->cell ? pic_cell1_get_services(self->cell) : NULL;
        GVariantIter iter;
        const char *name;
        GVariant *ports;

        if (!services)
                return g_strdup("");
        g_variant_iter_init(&iter, services);
        while (g_variant_iter_next(&iter, "(&s&s@a(sq))", &name, NULL, &ports)) {
                g_autoptr(GVariant) owned = ports;
                if (g_strcmp0(name, service) == 0)
                        return pic_format_ports(ports);
        }
        return g_strdup("");
}

static gboolean same_services(PicLinkPage *self, GPtrArray *names, GHashTable *ours) {
        if (names->len != self->services->len)
                return FALSE;
        for (guint i = 0; i < names->len; i++) {
                ServiceRow *row = g_ptr_array_index(self->services, i);
                if (g_strcmp0(row->name, g_ptr_array_index(names, i)) != 0 ||
                    (row->shared_switch != NULL) != g_hash_table_contains(ours, row->name))
                        return FALSE;
        }
        return TRUE;
}

static void rebuild_services(PicLinkPage *self, GPtrArray *names, GHashTable *ours) {
        GtkWidget *child;

        while ((child = gtk_widget_get_first_child(GTK_WIDGET(self->services_list))))
                gtk_list_box_remove(self->services_list, child);
        g_ptr_array_set_size(self->services, 0);

        for (guint i = 0; i < names->len; i++) {
                ServiceRow *row = g_new0(ServiceRow, 1);
                GtkWidget *image;

                row->name = g_strdup(g_ptr_array_index(names, i));
                row->row = ADW_ACTION_ROW(adw_action_row_new());
                adw_preferences_row_set_title(ADW_PREFERENCES_ROW(row->row), row->name);
                adw_action_row_set_subtitle_lines(row->row, 0);

                image = gtk_image_new_from_icon_name("emblem-shared-symbolic");
                gtk_widget_set_valign(image, GTK_ALIGN_CENTER);
                gtk_widget_add_css_class(image, "shared-with-us");
                row->theirs_icon = GTK_IMAGE(image);
                adw_action_row_add_suffix(row->row, image);

                if (g_hash_table_contains(ours, row->name)) {
                        GtkWidget *sw = gtk_switch_new();
                        g_autofree char *label = NULL;

                        gtk_widget_set_valign(sw, GTK_ALIGN_CENTER);
                        g_object_set_data_full(G_OBJECT(sw), "service", g_strdup(row->name), g_free);
                        g_signal_connect(sw, "state-set", G_CALLBACK(shared_state_set), self);
                        adw_action_row_add_suffix(row->row, sw);
                        adw_action_row_set_activatable_widget(row->row, sw);
                        label = g_strdup_printf(
                                /* Translators: accessible name of a switch; %s is a service such as "files". */
                                _("Share %s with them"), row->name);
                        gtk_accessible_update_property(GTK_ACCESSIBLE(sw), GTK_ACCESSIBLE_PROPERTY_LABEL,
                                                       label, -1);
                        row->shared_switch = GTK_SWITCH(sw);
                }

                gtk_list_box_append(self->services_list, GTK_WIDGET(row->row));
                g_ptr_array_add(self->services, row);
        }
}

static void update_services(PicLinkPage *self) {
        const char *name = pic_cell1_link_get_name(self->link);
        GVariant *inbound = pic_cell1_link_get_inbound(self->link);
        GVariant *outbound = pic_cell1_link_get_outbound(self->link);
        g_autoptr(GHashTable) ours = g_hash_table_new_full(g_str_hash, g_str_equal, g_free, NULL);
        g_autoptr(GPtrArray) names = service_names(self, outbound, ours);
        g_autofree char *description = NULL;

        if (!same_services(self, names, ours))
                rebuild_services(self, names, ours);

        description = g_strdup_printf(
                /* Translators: explains the services list of a linked cell's page; %s is its name. */
                _("A switch lets %s use that service of this cell. The mark shows what %s shares with you."),
                name, name);
        adw_preferences_group_set_description(self->services_group, description);

        for (guint i = 0; i < self->services->len; i++) {
                ServiceRow *row = g_ptr_array_index(self->services, i);
                gboolean theirs = FALSE, mine = FALSE;
                g_autofree char *ports = ports_of(self, row->name);
                g_autofree char *subtitle = NULL;
                const char *sharing;

                lookup_bool(outbound, row->name, &theirs);
                lookup_bool(inbound, row->name, &mine);

                if (!row->shared_switch)
                        /* Translators: a service the linked cell has and this cell has not. */
                        sharing = theirs ? _("Only they have it · shared with you") : _("Only they have it");
                else if (theirs)
                        /* Translators: the linked cell shares its own service of this name with us. */
                        sharing = _("Theirs is shared with you");
                else
                        sharing = NULL;
                if (*ports && sharing)
                        subtitle = g_strdup_printf("%s · %s", ports, sharing);
                else
                        subtitle = g_strdup(*ports ? ports : sharing);
                adw_action_row_set_subtitle(row->row, subtitle ? subtitle : "");

                gtk_widget_set_visible(GTK_WIDGET(row->theirs_icon), theirs);
                /* Translators: tooltip of the mark on a service the linked cell shares with us. */
                gtk_widget_set_tooltip_text(GTK_WIDGET(row->theirs_icon), _("Shared with you"));
                if (row->shared_switch)
                        set_switch(self, row->shared_switch, mine);
        }
}

static void refresh_status(PicLinkPage *self) {
        g_autofree char *handshake = NULL, *traffic = NULL, *subtitle = NULL, *heard = NULL;
        gint64 now = g_get_real_time() / G_USEC_PER_SEC;

        if (!self->link)
                return;
        handshake = pic_format_handshake(pic_cell1_link_get_latest_handshake(self->link), now);
        traffic = pic_format_traffic(pic_cell1_link_get_rx_bytes(self->link), pic_cell1_link_get_tx_bytes(self->link));
        subtitle = g_strdup_printf("%s · %s", handshake, traffic);
        adw_action_row_set_subtitle(self->status_row, subtitle);
        heard = pic_format_relative_time(pic_cell1_link_get_last_remote_update_at(self->link), now);
        adw_action_row_set_subtitle(self->update_row, heard);
}

static void update(PicLinkPage *self) {
        static const char *const classes[] = { "connected", "not-connected", "waiting" };
        g_autofree char *problem = NULL, *subnet = NULL, *fingerprint = NULL;
        g_autofree char *exit_text = NULL, *remote_text = NULL;
        const char *name;
        gboolean remote_exit;

        if (!self->link)
                return;
        name = pic_cell1_link_get_name(self->link);

        self->status = pic_link_status(pic_cell1_link_get_paired(self->link), pic_cell1_link_get_connected(self->link));
        for (size_t i = 0; i < G_N_ELEMENTS(classes); i++)
                gtk_widget_remove_css_class(self->status_dot, classes[i]);
        gtk_widget_add_css_class(self->status_dot, pic_link_status_to_string(self->status));
        adw_preferences_row_set_title(ADW_PREFERENCES_ROW(self->status_row), pic_link_status_to_label(self->status));
        refresh_status(self);

        problem = pic_link_sync_problem(self->link);
        gtk_widget_set_visible(GTK_WIDGET(self->sync_row), problem != NULL);
        /* Translators: title of the row telling that our changes have not reached the linked cell. */
        adw_preferences_row_set_title(ADW_PREFERENCES_ROW(self->sync_row), _("Not in Sync"));
        adw_action_row_set_subtitle(self->sync_row, problem ? problem : "");

        update_services(self);

        set_switch(self, self->exit_switch, pic_cell1_link_get_exit_offered(self->link));
        if (pic_cell1_link_get_remote_exit_relay_active(self->link))
                exit_text = g_strdup_printf(
                        /* Translators: %s is a linked cell; its peers use our connection right now. */
                        _("Peers of %s may leave to the internet through this cell. Some do now."), name);
        else
                exit_text = g_strdup_printf(
                        /* Translators: %s is a linked cell. */
                        _("Peers of %s may leave to the internet through this cell."), name);
        adw_action_row_set_subtitle(self->exit_row, exit_text);

        remote_exit = pic_cell1_link_get_remote_exit_offered(self->link);
        if (remote_exit && pic_cell1_link_get_exit_relay_active(self->link))
                remote_text = g_strdup_printf(
                        /* Translators: %s is a linked cell offering its internet connection, in use. */
                        _("%s offers its connection, and some of your peers leave through it."), name);
        else if (remote_exit)
                remote_text = g_strdup_printf(
                        /* Translators: %s is a linked cell offering its internet connection. */
                        _("%s offers its connection. Choose which peers use it on the Peers page."), name);
        else
                remote_text = g_strdup_printf(
                        /* Translators: %s is a linked cell that does not offer its internet connection. */
                        _("%s does not offer its connection."), name);
        adw_action_row_set_subtitle(self->remote_exit_row, remote_text);
        gtk_widget_set_visible(GTK_WIDGET(self->remote_exit_icon), remote_exit);

        adw_action_row_set_subtitle(self->domain_row, pic_cell1_link_get_domain(self->link));
        subnet = g_strdup_printf(
                /* Translators: a linked cell's subnet and, in parentheses, its own address in it. */
                _("%s (cell at %s)"),
                pic_cell1_link_get_vpn_subnet(self->link), pic_cell1_link_get_tunnel_address(self->link));
        adw_action_row_set_subtitle(self->subnet_row, subnet);
        adw_action_row_set_subtitle(self->endpoint_row, pic_cell1_link_get_endpoint(self->link));
        adw_action_row_set_subtitle(self->key_row, pic_cell1_link_get_public_key(self->link));
        fingerprint = pic_format_fingerprint(pic_cell1_link_get_public_key(self->link));
        gtk_label_set_label(self->fingerprint_label, fingerprint ? fingerprint : "");
}

/* libadwaita 1.2 has no adw_preferences_page_scroll_to_top(). */
static void scroll_to_top(PicLinkPage *self) {
        GtkWidget *child = gtk_widget_get_first_child(GTK_WIDGET(self->page));

        if (GTK_IS_SCROLLED_WINDOW(child))
                gtk_adjustment_set_value(gtk_scrolled_window_get_vadjustment(GTK_SCROLLED_WINDOW(child)), 0);
}

void pic_link_page_set_link(PicLinkPage *self, PicCell1Link *link) {
        g_return_if_fail(PIC_IS_LINK_PAGE(self));

        if (self->link == link)
                return;
        if (self->link)
                g_signal_handlers_disconnect_by_data(self->link, self);
        g_set_object(&self->link, link);
        /* Another cell's services must not keep the previous one's switches. */
        g_ptr_array_set_size(self->services, 0);
        if (!link)
                return;
        g_signal_connect_object(link, "g-properties-changed", G_CALLBACK(update), self, G_CONNECT_SWAPPED);
        update(self);
        scroll_to_top(self);
}

PicCell1Link *pic_link_page_get_link(PicLinkPage *self) {
        g_return_val_if_fail(PIC_IS_LINK_PAGE(self), NULL);
        return self->link;
}

static void cell_changed(PicLinkPage *self) {
        PicCell1 *cell = pic_client_get_cell(self->client);

        if (self->cell)
                g_signal_handlers_disconnect_by_data(self->cell, self);
        g_set_object(&self->cell, cell);
        if (cell)
                g_signal_connect_object(cell, "notify::services", G_CALLBACK(update), self, G_CONNECT_SWAPPED);
        update(self);
}

void pic_link_page_set_client(PicLinkPage *self, PicClient *client) {
        g_return_if_fail(PIC_IS_LINK_PAGE(self));
        g_return_if_fail(!self->client);

        self->client = client;
        g_signal_connect_object(client, "notify::cell", G_CALLBACK(cell_changed), self, G_CONNECT_SWAPPED);
        cell_changed(self);
}

gboolean pic_link_page_set_shared(PicLinkPage *self, const char *service, gboolean shared) {
        g_return_val_if_fail(PIC_IS_LINK_PAGE(self), FALSE);

        for (guint i = 0; i < self->services->len; i++) {
                ServiceRow *row = g_ptr_array_index(self->services, i);

                if (g_strcmp0(row->name, service) == 0 && row->shared_switch) {
                        gtk_switch_set_active(row->shared_switch, shared);
                        return TRUE;
                }
        }
        return FALSE;
}

static void remove_response(AdwMessageDialog *dialog, const char *response, PicLinkPage *self) {
        if (g_strcmp0(response, "remove") != 0 || !self->link)
                return;
        /* The page goes back by itself when the link's object disappears. */
        pic_call(self->link, "Remove", NULL, GTK_WIDGET(self), NULL, NULL);
}

static void on_remove(GtkWidget *widget, const char *action_name, GVariant *parameter) {
        PicLinkPage *self = PIC_LINK_PAGE(widget);
        GtkWidget *dialog;
        const char *name;

        if (!self->link)
                return;
        name = pic_cell1_link_get_name(self->link);
        dialog = adw_message_dialog_new(GTK_WINDOW(gtk_widget_get_root(widget)), NULL, NULL);
        adw_message_dialog_format_heading(ADW_MESSAGE_DIALOG(dialog),
                /* Translators: heading of the confirmation; %s is a linked cell's name. */
                _("Remove the Link to %s?"), name);
        adw_message_dialog_format_body(ADW_MESSAGE_DIALOG(dialog),
                /* Translators: body of the confirmation; %s is a linked cell's name. */
                _("%s is told as well. Services stop being shared both ways, and linking again needs a new invite."),
                name);
        adw_message_dialog_add_responses(ADW_MESSAGE_DIALOG(dialog),
                /* Translators: button of a confirmation that changes nothing. */
                "cancel", _("_Cancel"),
                /* Translators: button confirming the removal of a link. */
                "remove", _("_Remove"),
                NULL);
        adw_message_dialog_set_response_appearance(ADW_MESSAGE_DIALOG(dialog), "remove",
                                                   ADW_RESPONSE_DESTRUCTIVE);
        adw_message_dialog_set_default_response(ADW_MESSAGE_DIALOG(dialog), "cancel");
        adw_message_dialog_set_close_response(ADW_MESSAGE_DIALOG(dialog), "cancel");
        g_signal_connect_object(dialog, "response", G_CALLBACK(remove_response), self, 0);
        gtk_window_present(GTK_WINDOW(dialog));
}

static gboolean refresh(gpointer user_data) {
        refresh_status(PIC_LINK_PAGE(user_data));
        return G_SOURCE_CONTINUE;
}

void pic_link_page_dump(PicLinkPage *self, JsonBuilder *builder) {
        if (!self->link) {
                json_builder_add_null_value(builder);
                return;
        }
        json_builder_begin_object(builder);
        json_builder_set_member_name(builder, "name");
        json_builder_add_string_value(builder, pic_cell1_link_get_name(self->link));
        json_builder_set_member_name(builder, "status");
        json_builder_add_string_value(builder, pic_link_status_to_string(self->status));
        json_builder_set_member_name(builder, "shared_with_them");
        json_builder_begin_object(builder);
        for (guint i = 0; i < self->services->len; i++) {
                ServiceRow *row = g_ptr_array_index(self->services, i);
                if (!row->shared_switch)
                        continue;
                json_builder_set_member_name(builder, row->name);
                json_builder_add_boolean_value(builder, gtk_switch_get_active(row->shared_switch));
        }
        json_builder_end_object(builder);
        json_builder_set_member_name(builder, "shared_with_us");
        json_builder_begin_object(builder);
        for (guint i = 0; i < self->services->len; i++) {
                ServiceRow *row = g_ptr_array_index(self->services, i);
                json_builder_set_member_name(builder, row->name);
                json_builder_add_boolean_value(builder, gtk_widget_get_visible(GTK_WIDGET(row->theirs_icon)));
        }
        json_builder_end_object(builder);
        json_builder_set_member_name(builder, "exit_offered");
        json_builder_add_boolean_value(builder, gtk_switch_get_active(self->exit_switch));
        json_builder_set_member_name(builder, "remote_exit_offered");
        json_builder_add_boolean_value(builder, gtk_widget_get_visible(GTK_WIDGET(self->remote_exit_icon)));
        json_builder_set_member_name(builder, "sync_problem");
        json_builder_add_string_value(builder, gtk_widget_get_visible(GTK_WIDGET(self->sync_row)) ?
                                      adw_action_row_get_subtitle(self->sync_row) : "");
        json_builder_end_object(builder);
}

static void pic_link_page_dispose(GObject *object) {
        PicLinkPage *self = PIC_LINK_PAGE(object);

        g_clear_handle_id(&self->refresh_id, g_source_remove);
        if (self->link)
                g_signal_handlers_disconnect_by_data(self->link, self);
        g_clear_object(&self->link);
        if (self->cell)
                g_signal_handlers_disconnect_by_data(self->cell, self);
        g_clear_object(&self->cell);
        if (self->client)
                g_signal_handlers_disconnect_by_data(self->client, self);
        self->client = NULL;
        gtk_widget_dispose_template(GTK_WIDGET(self), PIC_TYPE_LINK_PAGE);
        G_OBJECT_CLASS(pic_link_page_parent_class)->dispose(object);
}

static void pic_link_page_finalize(GObject *object) {
        PicLinkPage *self = PIC_LINK_PAGE(object);

        g_ptr_array_unref(self->services);
        G_OBJECT_CLASS(pic_link_page_parent_class)->finalize(object);
}

static void pic_link_page_class_init(PicLinkPageClass *klass) {
        GObjectClass *object_class = G_OBJECT_CLASS(klass);
        GtkWidgetClass *widget_class = GTK_WIDGET_CLASS(klass);

        object_class->dispose = pic_link_page_dispose;
        object_class->finalize = pic_link_page_finalize;

        gtk_widget_class_set_template_from_resource(widget_class, "/org/pic/Cell/pic-link-page.ui");
        gtk_widget_class_bind_template_child(widget_class, PicLinkPage, page);
        gtk_widget_class_bind_template_child(widget_class, PicLinkPage, status_row);
        gtk_widget_class_bind_template_child(widget_class, PicLinkPage, status_dot);
        gtk_widget_class_bind_template_child(widget_class, PicLinkPage, sync_row);
        gtk_widget_class_bind_template_child(widget_class, PicLinkPage, services_group);
        gtk_widget_class_bind_template_child(widget_class, PicLinkPage, services_list);
        gtk_widget_class_bind_template_child(widget_class, PicLinkPage, exit_row);
        gtk_widget_class_bind_template_child(widget_class, PicLinkPage, exit_switch);
        gtk_widget_class_bind_template_child(widget_class, PicLinkPage, remote_exit_row);
        gtk_widget_class_bind_template_child(widget_class, PicLinkPage, remote_exit_icon);
        gtk_widget_class_bind_template_child(widget_class, PicLinkPage, domain_row);
        gtk_widget_class_bind_template_child(widget_class, PicLinkPage, subnet_row);
        gtk_widget_class_bind_template_child(widget_class, PicLinkPage, endpoint_row);
        gtk_widget_class_bind_template_child(widget_class, PicLinkPage, key_row);
        gtk_widget_class_bind_template_child(widget_class, PicLinkPage, fingerprint_label);
        gtk_widget_class_bind_template_child(widget_class, PicLinkPage, update_row);

        gtk_widget_class_install_action(widget_class, "link.remove", NULL, on_remove);
}

static void pic_link_page_init(PicLinkPage *self) {
        gtk_widget_init_template(GTK_WIDGET(self));
        self->services = g_ptr_array_new_with_free_func((GDestroyNotify) service_row_free);
        g_signal_connect(self->exit_switch, "state-set", G_CALLBACK(exit_state_set), self);
        self->refresh_id = g_timeout_add_seconds(REFRESH_SECONDS, refresh, self);
}
