/* pic-peers-view.c: the "Peers" page: the devices connected to this cell, and "Add Peer".
 *
 * Besides the peers, the page follows every link's RemoteExitOffered, which
 * decides the exits a peer may choose. */
#include "config.h"

#include "pic-peer-row.h"
#include "pic-peers-view.h"

#define REFRESH_SECONDS 30

struct _PicPeersView {
        AdwBin parent_instance;

        /* template */
        GtkListBox *list;

        /* borrowed */
        PicClient *client;

        /* owned */
        GDBusObjectManager *manager;
        GStrv exits;
        guint refresh_id;
};

G_DEFINE_FINAL_TYPE(PicPeersView, pic_peers_view, ADW_TYPE_BIN)

static int compare_rows(GtkListBoxRow *a, GtkListBoxRow *b, gpointer user_data) {
        return g_strcmp0(pic_cell1_peer_get_name(pic_peer_row_get_peer(PIC_PEER_ROW(a))),
                         pic_cell1_peer_get_name(pic_peer_row_get_peer(PIC_PEER_ROW(b))));
}

static int compare_names(gconstpointer a, gconstpointer b, gpointer user_data) {
        return g_strcmp0(*(char *const *) a, *(char *const *) b);
}

static void update_exits(PicPeersView *self) {
        g_autoptr(GStrvBuilder) builder = g_strv_builder_new();
        g_autolist(GDBusObject) objects = NULL;

        if (self->manager)
                objects = g_dbus_object_manager_get_objects(self->manager);
        for (GList *l = objects; l; l = l->next) {
                PicCell1Link *link = pic_object_peek_cell1_link(PIC_OBJECT(l->data));

                if (link && pic_cell1_link_get_remote_exit_offered(link))
                        g_strv_builder_add(builder, pic_cell1_link_get_name(link));
        }
        g_strfreev(self->exits);
        self->exits = g_strv_builder_end(builder);
        g_qsort_with_data(self->exits, (gint) g_strv_length(self->exits), sizeof(char *),
                          compare_names, NULL);

        for (GtkWidget *row = gtk_widget_get_first_child(GTK_WIDGET(self->list)); row;
             row = gtk_widget_get_next_sibling(row))
                if (PIC_IS_PEER_ROW(row))
                        pic_peer_row_set_exits(PIC_PEER_ROW(row), (const char *const *) self->exits);
}

static void add_object(PicPeersView *self, GDBusObject *object) {
        PicCell1Peer *peer = pic_object_peek_cell1_peer(PIC_OBJECT(object));
        PicCell1Link *link = pic_object_peek_cell1_link(PIC_OBJECT(object));

        if (peer) {
                GtkWidget *row = pic_peer_row_new(peer, self->client);
                pic_peer_row_set_exits(PIC_PEER_ROW(row), (const char *const *) self->exits);
                gtk_list_box_append(self->list, row);
        }
        if (link)
                g_signal_connect_object(link, "notify::remote-exit-offered", G_CALLBACK(update_exits),
                                        self, G_CONNECT_SWAPPED);
}

static void object_added(GDBusObjectManager *manager, GDBusObject *object, PicPeersView *self) {
        add_object(self, object);
        if (pic_object_peek_cell1_link(PIC_OBJECT(object)))
                update_exits(self);
}

static void object_removed(GDBusObjectManager *manager, GDBusObject *object, PicPeersView *self) {
        PicCell1Peer *peer = pic_object_peek_cell1_peer(PIC_OBJECT(object));
        PicCell1Link *link = pic_object_peek_cell1_link(PIC_OBJECT(object));

        if (link) {
                g_signal_handlers_disconnect_by_data(link, self);
                update_exits(self);
        }
        if (!peer)
                return;
        for (GtkWidget *row = gtk_widget_get_first_child(GTK_WIDGET(self->list)); row;
             row = gtk_widget_get_next_sibling(row))
                if (PIC_IS_PEER_ROW(row) && pic_peer_row_get_peer(PIC_PEER_ROW(row)) == peer) {
                        gtk_list_box_remove(self->list, row);
                        return;
                }
}

static void clear(PicPeersView *self) {
        GtkWidget *row = gtk_widget_get_first_child(GTK_WIDGET(self->list));

        while (row) {
                GtkWidget *next = gtk_widget_get_next_sibling(row);
                if (PIC_IS_PEER_ROW(row))
                        gtk_list_box_remove(self->list, row);
                row = next;
        }
}

static void disconnect_manager(PicPeersView *self) {
        g_autolist(GDBusObject) objects = NULL;

        if (!self->manager)
                return;
        g_signal_handlers_disconnect_by_data(self->manager, self);
        objects = g_dbus_object_manager_get_objects(self->manager);
        for (GList *l = objects; l; l = l->next) {
                PicCell1Link *link = pic_object_peek_cell1_link(PIC_OBJECT(l->data));
                if (link)
                        g_signal_handlers_disconnect_by_data(link, self);
        }
        g_clear_object(&self->manager);
}

static void manager_changed(PicPeersView *self) {
        GDBusObjectManager *manager = pic_client_get_manager(self->client);
        g_autolist(GDBusObject) objects = NULL;

        if (manager == self->manager)
                return;
        disconnect_manager(self);
        clear(self);
        if (!manager)
                return;

        self->manager = g_object_ref(manager);
        g_signal_connect_object(manager, "object-added", G_CALLBACK(object_added), self, 0);
        g_signal_connect_object(manager, "object-removed", G_CALLBACK(object_removed), self, 0);
        update_exits(self);
        objects = g_dbus_object_manager_get_objects(manager);
        for (GList *l = objects; l; l = l->next)
                add_object(self, l->data);
}

void pic_peers_view_set_client(PicPeersView *self, PicClient *client) {
        g_return_if_fail(PIC_IS_PEERS_VIEW(self));
        g_return_if_fail(!self->client);

        self->client = client;
        g_signal_connect_object(client, "notify::manager", G_CALLBACK(manager_changed), self, G_CONNECT_SWAPPED);
        manager_changed(self);
}

static gboolean refresh(gpointer user_data) {
        PicPeersView *self = user_data;

        for (GtkWidget *row = gtk_widget_get_first_child(GTK_WIDGET(self->list)); row;
             row = gtk_widget_get_next_sibling(row))
                if (PIC_IS_PEER_ROW(row))
                        pic_peer_row_refresh(PIC_PEER_ROW(row));
        return G_SOURCE_CONTINUE;
}

static PicPeerRow *find_row(PicPeersView *self, const char *name) {
        for (GtkWidget *row = gtk_widget_get_first_child(GTK_WIDGET(self->list)); row;
             row = gtk_widget_get_next_sibling(row))
                if (PIC_IS_PEER_ROW(row) &&
                    g_strcmp0(pic_cell1_peer_get_name(pic_peer_row_get_peer(PIC_PEER_ROW(row))), name) == 0)
                        return PIC_PEER_ROW(row);
        return NULL;
}

gboolean pic_peers_view_reveal(PicPeersView *self, const char *name) {
        PicPeerRow *row;

        g_return_val_if_fail(PIC_IS_PEERS_VIEW(self), FALSE);

        row = find_row(self, name);
        if (!row)
                return FALSE;
        adw_expander_row_set_expanded(ADW_EXPANDER_ROW(row), TRUE);
        gtk_widget_grab_focus(GTK_WIDGET(row));
        return TRUE;
}

gboolean pic_peers_view_choose_exit(PicPeersView *self, const char *name, const char *cell) {
        PicPeerRow *row;

        g_return_val_if_fail(PIC_IS_PEERS_VIEW(self), FALSE);

        row = find_row(self, name);
        return row && pic_peer_row_choose_exit(row, cell);
}

void pic_peers_view_dump(PicPeersView *self, JsonBuilder *builder) {
        json_builder_begin_object(builder);
        json_builder_set_member_name(builder, "exits");
        json_builder_begin_array(builder);
        for (char **e = self->exits; e && *e; e++)
                json_builder_add_string_value(builder, *e);
        json_builder_end_array(builder);
        json_builder_set_member_name(builder, "rows");
        json_builder_begin_array(builder);
        for (GtkWidget *row = gtk_widget_get_first_child(GTK_WIDGET(self->list)); row;
             row = gtk_widget_get_next_sibling(row))
                if (PIC_IS_PEER_ROW(row))
                        pic_peer_row_dump(PIC_PEER_ROW(row), builder);
        json_builder_end_array(builder);
        json_builder_end_object(builder);
}

static void pic_peers_view_dispose(GObject *object) {
        PicPeersView *self = PIC_PEERS_VIEW(object);

        g_clear_handle_id(&self->refresh_id, g_source_remove);
        disconnect_manager(self);
        if (self->client)
                g_signal_handlers_disconnect_by_data(self->client, self);
        self->client = NULL;
        gtk_widget_dispose_template(GTK_WIDGET(self), PIC_TYPE_PEERS_VIEW);
        G_OBJECT_CLASS(pic_peers_view_parent_class)->dispose(object);
}

static void pic_peers_view_finalize(GObject *object) {
        PicPeersView *self = PIC_PEERS_VIEW(object);

        g_strfreev(self->exits);
        G_OBJECT_CLASS(pic_peers_view_parent_class)->finalize(object);
}

static void pic_peers_view_class_init(PicPeersViewClass *klass) {
        GObjectClass *object_class = G_OBJECT_CLASS(klass);
        GtkWidgetClass *widget_class = GTK_WIDGET_CLASS(klass);

        object_class->dispose = pic_peers_view_dispose;
        object_class->finalize = pic_peers_view_finalize;

        gtk_widget_class_set_template_from_resource(widget_class, "/org/pic/Cell/pic-peers-view.ui");
        gtk_widget_class_bind_template_child(widget_class, PicPeersView, list);
}

static void pic_peers_view_init(PicPeersView *self) {
        gtk_widget_init_template(GTK_WIDGET(self));
        gtk_list_box_set_sort_func(self->list, compare_rows, NULL, NULL);
        self->exits = g_new0(char *, 1);
        self->refresh_id = g_timeout_add_seconds(REFRESH_SECONDS, refresh, self);
}
