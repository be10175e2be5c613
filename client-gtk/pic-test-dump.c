/* pic-test-dump.c: writes what the window shows as JSON, the hook the GUI tests read the window through.
 *
 * The values come from the widgets (labels, switches, rows), not from the
 * proxies, so a test sees what a user would. The file is replaced atomically:
 * a reader never sees half of it. */
#include "config.h"

#include "pic-test-dump.h"

/* Every label on screen, whichever widget owns it (headings, rows, buttons,
 * the view switcher), so that a test can check the words a user reads, such
 * as their language, without knowing how each widget is built. */
static void add_mapped_labels(GtkWidget *widget, JsonArray *labels) {
        if (!gtk_widget_get_mapped(widget))
                return;
        if (GTK_IS_LABEL(widget)) {
                const char *text = gtk_label_get_text(GTK_LABEL(widget));

                if (text && *text)
                        json_array_add_string_element(labels, text);
        }
        for (GtkWidget *child = gtk_widget_get_first_child(widget); child; child = gtk_widget_get_next_sibling(child))
                add_mapped_labels(child, labels);
}

gboolean pic_test_dump_write(PicWindow *window, const char *path, GError **error) {
        g_autoptr(JsonBuilder) builder = json_builder_new();
        g_autoptr(JsonGenerator) generator = json_generator_new();
        g_autoptr(JsonNode) root = NULL;
        g_autofree char *text = NULL;
        JsonObject *object;
        JsonArray *labels;
        const char *title;

        g_return_val_if_fail(PIC_IS_WINDOW(window), FALSE);

        pic_window_dump(window, builder);
        root = json_builder_get_root(builder);

        object = json_node_get_object(root);
        title = gtk_window_get_title(GTK_WINDOW(window));
        json_object_set_string_member(object, "title", title ? title : "");
        labels = json_array_new();
        add_mapped_labels(GTK_WIDGET(window), labels);
        json_object_set_array_member(object, "labels", labels);

        json_generator_set_root(generator, root);
        json_generator_set_pretty(generator, TRUE);
        text = json_generator_to_data(generator, NULL);
        return g_file_set_contents(path, text, -1, error);
}
