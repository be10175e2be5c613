/* bare-window.c: the app benchmark's baseline: a libadwaita application presenting one window with one label, and nothing else. */
#include <adwaita.h>

static void on_activate(GApplication *application, gpointer userdata) {
        GtkWidget *window = adw_application_window_new(GTK_APPLICATION(application));

        gtk_window_set_default_size(GTK_WINDOW(window), 900, 640);
        adw_application_window_set_content(ADW_APPLICATION_WINDOW(window), gtk_label_new("PIC Cell"));
        gtk_window_present(GTK_WINDOW(window));
}

int main(int argc, char *argv[]) {
        g_autoptr(AdwApplication) application = adw_application_new("org.pic.Cell.BenchBaseline",
                                                                     G_APPLICATION_DEFAULT_FLAGS);

        g_signal_connect(application, "activate", G_CALLBACK(on_activate), NULL);
        return g_application_run(G_APPLICATION(application), argc, argv);
}
