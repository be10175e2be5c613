/* pic-window.c: the main window: the service's state, the three pages and a cell's page. */
#include "config.h"

#include <glib/gi18n.h>

#include "pic-add-peer-dialog.h"
#include "pic-cell-view.h"
#include "pic-link-page.h"
#include "pic-links-view.h"
#include "pic-peers-view.h"
#include "pic-window.h"

#define MAX_REMEMBERED_ERRORS 8

struct _PicWindow {
        AdwApplicationWindow parent_instance;

        /* template */
        AdwToastOverlay *toast_overlay;
        AdwLeaflet *leaflet;
        GtkStack *main_stack;
        AdwViewStack *view_stack;
        AdwStatusPage *offline_page;
        PicCellView *cell_view;
        PicLinksView *links_view;
        PicPeersView *peers_view;
        AdwWindowTitle *link_title;
        PicLinkPage *link_page;

        /* owned */
        PicClient *client;
        GCancellable *cancellable;
        GDBusObjectManager *manager;    /* the one whose signals we follow */
        char *pending_link_path;        /* shown once its object appears */
        GPtrArray *errors;              /* latest error messages, oldest first */
        GtkWindow *add_peer_dialog;     /* weak */
};

G_DEFINE_FINAL_TYPE(PicWindow, pic_window, ADW_TYPE_APPLICATION_WINDOW)

GCancellable *pic_window_get_cancellable(PicWindow *self) {
        g_return_val_if_fail(PIC_IS_WINDOW(self), NULL);
        return self->cancellable;
}

PicClient *pic_window_get_client(PicWindow *self) {
        g_return_val_if_fail(PIC_IS_WINDOW(self), NULL);
        return self->client;
}

void pic_window_show_toast(PicWindow *self, const char *message) {
        g_autofree char *markup = NULL;
        AdwToast *toast;

        g_return_if_fail(PIC_IS_WINDOW(self));

        /* Toast titles are markup; the service's messages quote user input. */
        markup = g_markup_escape_text(message, -1);
        toast = adw_toast_new(markup);
        adw_toast_set_timeout(toast, 8);
        adw_toast_overlay_add_toast(self->toast_overlay, toast);
}

void pic_window_show_error(PicWindow *self, const char *message) {
        g_return_if_fail(PIC_IS_WINDOW(self));

        if (self->errors->len >= MAX_REMEMBERED_ERRORS)
                g_ptr_array_remove_index(self->errors, 0);
        g_ptr_array_add(self->errors, g_strdup(message));
        pic_window_show_toast(self, message);
}

static void show_link(PicWindow *self, PicCell1Link *link) {
        pic_link_page_set_link(self->link_page, link);
        adw_window_title_set_title(self->link_title, pic_cell1_link_get_name(link));
        adw_window_title_set_subtitle(self->link_title, pic_cell1_link_get_domain(link));
        adw_leaflet_set_visible_child_name(self->leaflet, "link");
}

static void go_home(PicWindow *self) {
        adw_leaflet_set_visible_child_name(self->leaflet, "home");
}

void pic_window_show_link_at(PicWindow *self, const char *object_path) {
        PicCell1Link *link;

        g_return_if_fail(PIC_IS_WINDOW(self));

        g_clear_pointer(&self->pending_link_path, g_free);
        link = pic_client_get_link_at(self->client, object_path);
        if (link)
                show_link(self, link);
        else
                self->pending_link_path = g_strdup(object_path);
}

gboolean pic_window_show_page(PicWindow *self, const char *page) {
        g_return_val_if_fail(PIC_IS_WINDOW(self), FALSE);

        if (g_str_has_prefix(page, "link:")) {
                PicCell1Link *link = pic_client_find_link(self->client, page + strlen("link:"));

                if (!link)
                        return FALSE;
                show_link(self, link);
                return TRUE;
        }
        if (g_str_has_prefix(page, "peer:")) {
                if (!pic_peers_view_reveal(self->peers_view, page + strlen("peer:")))
                        return FALSE;
                adw_view_stack_set_visible_child_name(self->view_stack, "peers");
                go_home(self);
                return TRUE;
        }
        if (!adw_view_stack_get_child_by_name(self->view_stack, page))
                return FALSE;
        adw_view_stack_set_visible_child_name(self->view_stack, page);
        go_home(self);
        return TRUE;
}

void pic_window_connect_invite(PicWindow *self, const char *invite) {
        g_return_if_fail(PIC_IS_WINDOW(self));

        pic_window_show_page(self, "links");
        pic_links_view_connect_invite(self->links_view, invite);
}

gboolean pic_window_set_permission(PicWindow *self, const char *cell, const char *service, gboolean shared) {
        g_autofree char *page = g_strconcat("link:", cell, NULL);

        g_return_val_if_fail(PIC_IS_WINDOW(self), FALSE);

        if (!pic_window_show_page(self, page))
                return FALSE;
        return pic_link_page_set_shared(self->link_page, service, shared);
}

gboolean pic_window_choose_exit(PicWindow *self, const char *peer, const char *cell) {
        g_autofree char *page = g_strconcat("peer:", peer, NULL);

        g_return_val_if_fail(PIC_IS_WINDOW(self), FALSE);

        if (!pic_window_show_page(self, page))
                return FALSE;
        return pic_peers_view_choose_exit(self->peers_view, peer, cell);
}

void pic_window_add_peer(PicWindow *self, const char *name) {
        PicAddPeerDialog *dialog;

        g_return_if_fail(PIC_IS_WINDOW(self));

        pic_window_show_page(self, "peers");
        if (self->add_peer_dialog)
                gtk_window_destroy(self->add_peer_dialog);
        dialog = pic_add_peer_dialog_new(self);
        self->add_peer_dialog = GTK_WINDOW(dialog);
        g_object_add_weak_pointer(G_OBJECT(dialog), (gpointer *) &self->add_peer_dialog);
        gtk_window_present(GTK_WINDOW(dialog));
        if (name)
                pic_add_peer_dialog_submit(dialog, name);
}

static void on_add_peer(GtkWidget *widget, const char *action_name, GVariant *parameter) {
        pic_window_add_peer(PIC_WINDOW(widget), NULL);
}

static void on_toast(GtkWidget *widget, const char *action_name, GVariant *parameter) {
        pic_window_show_toast(PIC_WINDOW(widget), g_variant_get_string(parameter, NULL));
}

static void on_go_back(GtkWidget *widget, const char *action_name, GVariant *parameter) {
        go_home(PIC_WINDOW(widget));
}

static void on_start_service(GtkWidget *widget, const char *action_name, GVariant *parameter) {
        pic_client_start_service(PIC_WINDOW(widget)->client);
}

static void on_show_link(GtkWidget *widget, const char *action_name, GVariant *parameter) {
        PicWindow *self = PIC_WINDOW(widget);
        g_autofree char *page = g_strconcat("link:", g_variant_get_string(parameter, NULL), NULL);

        pic_window_show_page(self, page);
}

static void on_show_page(GtkWidget *widget, const char *action_name, GVariant *parameter) {
        pic_window_show_page(PIC_WINDOW(widget), g_variant_get_string(parameter, NULL));
}

static void object_added(GDBusObjectManager *manager, GDBusObject *object, PicWindow *self) {
        PicCell1Link *link;

        if (!self->pending_link_path ||
            g_strcmp0(g_dbus_object_get_object_path(object), self->pending_link_path) != 0)
                return;
        link = pic_object_peek_cell1_link(PIC_OBJECT(object));
        if (!link)
                return;
        g_clear_pointer(&self->pending_link_path, g_free);
        show_link(self, link);
}

static void object_removed(GDBusObjectManager *manager, GDBusObject *object, PicWindow *self) {
        PicCell1Link *shown = pic_link_page_get_link(self->link_page);
        g_autofree char *message = NULL;

        if (!shown || g_strcmp0(g_dbus_object_get_object_path(object),
                                g_dbus_proxy_get_object_path(G_DBUS_PROXY(shown))) != 0)
                return;

        message = g_strdup_printf(
                /* Translators: %s is a cell's name; shown when its link disappears while its page is open. */
                _("The link to %s was removed"), pic_cell1_link_get_name(shown));
        pic_link_page_set_link(self->link_page, NULL);
        go_home(self);
        pic_window_show_toast(self, message);
}

static void follow_manager(PicWindow *self) {
        GDBusObjectManager *manager = pic_client_get_manager(self->client);

        if (self->manager == manager)
                return;
        if (self->manager)
                g_signal_handlers_disconnect_by_data(self->manager, self);
        g_set_object(&self->manager, manager);
        if (!manager)
                return;
        g_signal_connect_object(manager, "object-added", G_CALLBACK(object_added), self, 0);
        g_signal_connect_object(manager, "object-removed", G_CALLBACK(object_removed), self, 0);
}

static void client_state_changed(PicWindow *self) {
        const char *problem;

        follow_manager(self);
        switch (pic_client_get_state(self->client)) {
        case PIC_CLIENT_READY:
                gtk_stack_set_visible_child_name(self->main_stack, "ready");
                break;
        case PIC_CLIENT_OFFLINE:
                pic_link_page_set_link(self->link_page, NULL);
                go_home(self);
                problem = pic_client_get_problem(self->client);
                adw_status_page_set_description(self->offline_page, problem ? problem :
                        /* Translators: below "PIC Cell service is not running". */
                        _("This window connects by itself as soon as the service starts."));
                gtk_stack_set_visible_child_name(self->main_stack, "offline");
                break;
        case PIC_CLIENT_CONNECTING:
        default:
                gtk_stack_set_visible_child_name(self->main_stack, "connecting");
                break;
        }
}

static const char *client_state_name(PicClient *client) {
        switch (pic_client_get_state(client)) {
        case PIC_CLIENT_READY:
                return "ready";
        case PIC_CLIENT_OFFLINE:
                return "offline";
        case PIC_CLIENT_CONNECTING:
        default:
                return "connecting";
        }
}

void pic_window_dump(PicWindow *self, JsonBuilder *builder) {
        const char *leaflet_page = adw_leaflet_get_visible_child_name(self->leaflet);

        json_builder_begin_object(builder);
        json_builder_set_member_name(builder, "service");
        json_builder_add_string_value(builder, client_state_name(self->client));
        json_builder_set_member_name(builder, "page");
        if (g_strcmp0(leaflet_page, "link") == 0)
                json_builder_add_string_value(builder, "link");
        else
                json_builder_add_string_value(builder, adw_view_stack_get_visible_child_name(self->view_stack));
        json_builder_set_member_name(builder, "width");
        json_builder_add_int_value(builder, gtk_widget_get_width(GTK_WIDGET(self)));
        json_builder_set_member_name(builder, "height");
        json_builder_add_int_value(builder, gtk_widget_get_height(GTK_WIDGET(self)));

        json_builder_set_member_name(builder, "cell");
        pic_cell_view_dump(self->cell_view, builder);
        json_builder_set_member_name(builder, "links");
        pic_links_view_dump(self->links_view, builder);
        json_builder_set_member_name(builder, "link_page");
        pic_link_page_dump(self->link_page, builder);
        json_builder_set_member_name(builder, "peers");
        pic_peers_view_dump(self->peers_view, builder);
        json_builder_set_member_name(builder, "add_peer");
        if (self->add_peer_dialog)
                pic_add_peer_dialog_dump(PIC_ADD_PEER_DIALOG(self->add_peer_dialog), builder);
        else
                json_builder_add_null_value(builder);

        json_builder_set_member_name(builder, "errors");
        json_builder_begin_array(builder);
        for (guint i = 0; i < self->errors->len; i++)
                json_builder_add_string_value(builder, g_ptr_array_index(self->errors, i));
        json_builder_end_array(builder);
        json_builder_end_object(builder);
}

static void pic_window_dispose(GObject *object) {
        PicWindow *self = PIC_WINDOW(object);

        g_cancellable_cancel(self->cancellable);
        if (self->add_peer_dialog)
                gtk_window_destroy(self->add_peer_dialog);
        if (self->manager)
                g_signal_handlers_disconnect_by_data(self->manager, self);
        g_clear_object(&self->manager);
        /* The views borrow the client: they go first. */
        gtk_widget_dispose_template(GTK_WIDGET(self), PIC_TYPE_WINDOW);
        if (self->client)
                g_signal_handlers_disconnect_by_data(self->client, self);
        g_clear_object(&self->client);
        G_OBJECT_CLASS(pic_window_parent_class)->dispose(object);
}

static void pic_window_finalize(GObject *object) {
        PicWindow *self = PIC_WINDOW(object);

        g_clear_object(&self->cancellable);
        g_free(self->pending_link_path);
        g_ptr_array_unref(self->errors);
        G_OBJECT_CLASS(pic_window_parent_class)->finalize(object);
}

static void pic_window_class_init(PicWindowClass *klass) {
        GObjectClass *object_class = G_OBJECT_CLASS(klass);
        GtkWidgetClass *widget_class = GTK_WIDGET_CLASS(klass);

        object_class->dispose = pic_window_dispose;
        object_class->finalize = pic_window_finalize;

        g_type_ensure(PIC_TYPE_CELL_VIEW);
        g_type_ensure(PIC_TYPE_LINKS_VIEW);
        g_type_ensure(PIC_TYPE_PEERS_VIEW);
        g_type_ensure(PIC_TYPE_LINK_PAGE);

        gtk_widget_class_set_template_from_resource(widget_class, "/org/pic/Cell/pic-window.ui");
        gtk_widget_class_bind_template_child(widget_class, PicWindow, toast_overlay);
        gtk_widget_class_bind_template_child(widget_class, PicWindow, leaflet);
        gtk_widget_class_bind_template_child(widget_class, PicWindow, main_stack);
        gtk_widget_class_bind_template_child(widget_class, PicWindow, view_stack);
        gtk_widget_class_bind_template_child(widget_class, PicWindow, offline_page);
        gtk_widget_class_bind_template_child(widget_class, PicWindow, cell_view);
        gtk_widget_class_bind_template_child(widget_class, PicWindow, links_view);
        gtk_widget_class_bind_template_child(widget_class, PicWindow, peers_view);
        gtk_widget_class_bind_template_child(widget_class, PicWindow, link_title);
        gtk_widget_class_bind_template_child(widget_class, PicWindow, link_page);

        gtk_widget_class_install_action(widget_class, "win.go-back", NULL, on_go_back);
        gtk_widget_class_install_action(widget_class, "win.toast", "s", on_toast);
        gtk_widget_class_install_action(widget_class, "win.start-service", NULL, on_start_service);
        gtk_widget_class_install_action(widget_class, "win.show-link", "s", on_show_link);
        gtk_widget_class_install_action(widget_class, "win.show-page", "s", on_show_page);
        gtk_widget_class_install_action(widget_class, "win.add-peer", NULL, on_add_peer);

        gtk_widget_class_add_binding_action(widget_class, GDK_KEY_Left, GDK_ALT_MASK, "win.go-back", NULL);
        gtk_widget_class_add_binding_action(widget_class, GDK_KEY_1, GDK_ALT_MASK, "win.show-page", "s", "cell");
        gtk_widget_class_add_binding_action(widget_class, GDK_KEY_2, GDK_ALT_MASK, "win.show-page", "s", "links");
        gtk_widget_class_add_binding_action(widget_class, GDK_KEY_3, GDK_ALT_MASK, "win.show-page", "s", "peers");
        gtk_widget_class_add_binding_action(widget_class, GDK_KEY_n, GDK_CONTROL_MASK, "win.add-peer", NULL);
}

static void pic_window_init(PicWindow *self) {
        gtk_widget_init_template(GTK_WIDGET(self));
        self->cancellable = g_cancellable_new();
        self->errors = g_ptr_array_new_with_free_func(g_free);
}

PicWindow *pic_window_new(GtkApplication *application, PicClient *client) {
        PicWindow *self = g_object_new(PIC_TYPE_WINDOW, "application", application, NULL);

        self->client = g_object_ref(client);
        pic_cell_view_set_client(self->cell_view, client);
        pic_links_view_set_client(self->links_view, client);
        pic_peers_view_set_client(self->peers_view, client);
        pic_link_page_set_client(self->link_page, client);
        g_signal_connect_object(client, "notify::state", G_CALLBACK(client_state_changed), self, G_CONNECT_SWAPPED);
        client_state_changed(self);
        return self;
}
