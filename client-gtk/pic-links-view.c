/* pic-links-view.c: the "Linked Cells" page: the paste box and one row per linked cell.
 *
 * Rows follow the object manager: a link appears and vanishes with its object. */
#include "config.h"

#include "pic-connect-box.h"
#include "pic-link-row.h"
#include "pic-links-view.h"

/* "2 minutes ago" is redrawn this often; the numbers themselves come with PropertiesChanged. */
#define REFRESH_SECONDS 30

struct _PicLinksView {
        AdwBin parent_instance;

        /* template */
        PicConnectBox *connect_box;
        GtkListBox *list;

        /* borrowed */
        PicClient *client;

        /* owned */
        GDBusObjectManager *manager;
        guint refresh_id;
};

G_DEFINE_FINAL_TYPE(PicLinksView, pic_links_view, ADW_TYPE_BIN)

static int compare_rows(GtkListBoxRow *a, GtkListBoxRow *b, gpointer user_data) {
        return g_strcmp0(pic_cell1_link_get_name(pic_link_row_get_link(PIC_LINK_ROW(a))),
                         pic_cell1_link_get_name(pic_link_row_get_link(PIC_LINK_ROW(b))));
}

static void add_object(PicLinksView *self, GDBusObject *object) {
        PicCell1Link *link = pic_object_peek_cell1_link(PIC_OBJECT(object));

        if (link)
                gtk_list_box_append(self->list, pic_link_row_new(link));
}

static void object_added(GDBusObjectManager *manager, GDBusObject *object, PicLinksView *self) {
        add_object(self, object);
}

static void object_removed(GDBusObjectManager *manager, GDBusObject *object, PicLinksView *self) {
        PicCell1Link *link = pic_object_peek_cell1_link(PIC_OBJECT(object));

        if (!link)
                return;
        for (GtkWidget *row = gtk_widget_get_first_child(GTK_WIDGET(self->list)); row;
             row = gtk_widget_get_next_sibling(row))
                if (PIC_IS_LINK_ROW(row) && pic_link_row_get_link(PIC_LINK_ROW(row)) == link) {
                        gtk_list_box_remove(self->list, row);
                        return;
                }
}

static void clear(PicLinksView *self) {
        GtkWidget *row = gtk_widget_get_first_child(GTK_WIDGET(self->list));

        while (row) {
                GtkWidget *next = gtk_widget_get_next_sibling(row);
                if (PIC_IS_LINK_ROW(row))
                        gtk_list_box_remove(self->list, row);
                row = next;
        }
}

static void manager_changed(PicLinksView *self) {
        GDBusObjectManager *manager = pic_client_get_manager(self->client);
        g_autolist(GDBusObject) objects = NULL;

        if (manager == self->manager)
                return;
        if (self->manager)
                g_signal_handlers_disconnect_by_data(self->manager, self);
        g_set_object(&self->manager, manager);
        clear(self);
        if (!manager)
                return;

        g_signal_connect_object(manager, "object-added", G_CALLBACK(object_added), self, 0);
        g_signal_connect_object(manager, "object-removed", G_CALLBACK(object_removed), self, 0);
        objects = g_dbus_object_manager_get_objects(manager);
        for (GList *l = objects; l; l = l->next)
                add_object(self, l->data);
}

void pic_links_view_set_client(PicLinksView *self, PicClient *client) {
        g_return_if_fail(PIC_IS_LINKS_VIEW(self));
        g_return_if_fail(!self->client);

        self->client = client;
        pic_connect_box_set_client(self->connect_box, client);
        g_signal_connect_object(client, "notify::manager", G_CALLBACK(manager_changed), self, G_CONNECT_SWAPPED);
        manager_changed(self);
}

void pic_links_view_connect_invite(PicLinksView *self, const char *invite) {
        g_return_if_fail(PIC_IS_LINKS_VIEW(self));
        pic_connect_box_connect(self->connect_box, invite);
}

static gboolean refresh(gpointer user_data) {
        PicLinksView *self = user_data;

        for (GtkWidget *row = gtk_widget_get_first_child(GTK_WIDGET(self->list)); row;
             row = gtk_widget_get_next_sibling(row))
                if (PIC_IS_LINK_ROW(row))
                        pic_link_row_refresh(PIC_LINK_ROW(row));
        return G_SOURCE_CONTINUE;
}

void pic_links_view_dump(PicLinksView *self, JsonBuilder *builder) {
        json_builder_begin_object(builder);
        json_builder_set_member_name(builder, "connect");
        pic_connect_box_dump(self->connect_box, builder);
        json_builder_set_member_name(builder, "rows");
        json_builder_begin_array(builder);
        for (GtkWidget *row = gtk_widget_get_first_child(GTK_WIDGET(self->list)); row;
             row = gtk_widget_get_next_sibling(row))
                if (PIC_IS_LINK_ROW(row))
                        pic_link_row_dump(PIC_LINK_ROW(row), builder);
        json_builder_end_array(builder);
        json_builder_end_object(builder);
}

static void pic_links_view_dispose(GObject *object) {
        PicLinksView *self = PIC_LINKS_VIEW(object);

        g_clear_handle_id(&self->refresh_id, g_source_remove);
        if (self->manager)
                g_signal_handlers_disconnect_by_data(self->manager, self);
        g_clear_object(&self->manager);
        if (self->client)
                g_signal_handlers_disconnect_by_data(self->client, self);
        self->client = NULL;
        gtk_widget_dispose_template(GTK_WIDGET(self), PIC_TYPE_LINKS_VIEW);
        G_OBJECT_CLASS(pic_links_view_parent_class)->dispose(object);
}

static void pic_links_view_class_init(PicLinksViewClass *klass) {
        GObjectClass *object_class = G_OBJECT_CLASS(klass);
        GtkWidgetClass *widget_class = GTK_WIDGET_CLASS(klass);

        object_class->dispose = pic_links_view_dispose;

        g_type_ensure(PIC_TYPE_CONNECT_BOX);
        gtk_widget_class_set_template_from_resource(widget_class, "/org/pic/Cell/pic-links-view.ui");
        gtk_widget_class_bind_template_child(widget_class, PicLinksView, connect_box);
        gtk_widget_class_bind_template_child(widget_class, PicLinksView, list);
}

static void pic_links_view_init(PicLinksView *self) {
        gtk_widget_init_template(GTK_WIDGET(self));
        gtk_list_box_set_sort_func(self->list, compare_rows, NULL, NULL);
        self->refresh_id = g_timeout_add_seconds(REFRESH_SECONDS, refresh, self);
}
