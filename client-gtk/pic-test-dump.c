/* pic-test-dump.c: writes what the window shows as JSON, the hook the GUI tests read the window through.
 *
 * The values come from the widgets (labels, switches, rows), not from the
 * proxies, so a test sees what a user would. The file is replaced atomically:
 * a reader never sees half of it. */
#include "config.h"

#include "pic-test-dump.h"

gboolean pic_test_dump_write(PicWindow *window, const char *path, GError **error) {
        g_autoptr(JsonBuilder) builder = json_builder_new();
        g_autoptr(JsonGenerator) generator = json_generator_new();
        g_autoptr(JsonNode) root = NULL;
        g_autofree char *text = NULL;

        g_return_val_if_fail(PIC_IS_WINDOW(window), FALSE);

        pic_window_dump(window, builder);
        root = json_builder_get_root(builder);
        json_generator_set_root(generator, root);
        json_generator_set_pretty(generator, TRUE);
        text = json_generator_to_data(generator, NULL);
        return g_file_set_contents(path, text, -1, error);
}
