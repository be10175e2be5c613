/* pic-application.c: the app: its window, its actions (also reachable over the session bus) and the service connection.
 *
 * Actions with parameters (connect-invite, set-permission, add-peer,
 * set-route-via, show-page) drive the same widgets a user does, so scripts and tests can use
 * `gapplication action org.pic.Cell …`. With PIC_CELL_TEST_DUMP=<file> set,
 * two more exist for tests: "dump" writes what the window shows to <file> as
 * JSON, and "resize" sets the window's size. */
#include "config.h"

#include <glib/gi18n.h>

#include "pic-application.h"
#include "pic-client.h"
#include "pic-test-dump.h"
#include "pic-window.h"

struct _PicApplication {
        AdwApplication parent_instance;

        PicClient *client;
        char *dump_path;
};

G_DEFINE_FINAL_TYPE(PicApplication, pic_application, ADW_TYPE_APPLICATION)

static PicWindow *get_window(PicApplication *self) {
        GtkWindow *window = gtk_application_get_active_window(GTK_APPLICATION(self));

        /* The active window may be a dialog of the main one. */
        while (window && !PIC_IS_WINDOW(window))
                window = gtk_window_get_transient_for(window);
        if (window)
                return PIC_WINDOW(window);
        for (GList *l = gtk_application_get_windows(GTK_APPLICATION(self)); l; l = l->next)
                if (PIC_IS_WINDOW(l->data))
                        return PIC_WINDOW(l->data);
        return NULL;
}

static PicWindow *ensure_window(PicApplication *self) {
        PicWindow *window = get_window(self);

        if (!window)
                window = pic_window_new(GTK_APPLICATION(self), self->client);
        return window;
}

static void on_quit(GSimpleAction *action, GVariant *parameter, gpointer user_data) {
        g_application_quit(G_APPLICATION(user_data));
}

static void on_about(GSimpleAction *action, GVariant *parameter, gpointer user_data) {
        PicApplication *self = user_data;
        static const char *const developers[] = { "PIC Cell developers", NULL };
        GtkWidget *about;

        about = g_object_new(ADW_TYPE_ABOUT_WINDOW,
                             "transient-for", get_window(self),
                             "application-icon", "org.pic.Cell",
                             /* Translators: the application's name. */
                             "application-name", _("PIC Cell"),
                             "developer-name", "PIC Cell developers",
                             "version", PACKAGE_VERSION,
                             /* Translators: the About window's short description of the app. */
                             "comments", _("Link home servers with each other and with your devices, and choose what each may use."),
                             "license-type", GTK_LICENSE_GPL_2_0,
                             "developers", developers,
                             /* Translators: put your name here to be credited in the About window. */
                             "translator-credits", _("translator-credits"),
                             NULL);
        gtk_window_present(GTK_WINDOW(about));
}

static void on_connect_invite(GSimpleAction *action, GVariant *parameter, gpointer user_data) {
        PicWindow *window = ensure_window(user_data);

        gtk_window_present(GTK_WINDOW(window));
        pic_window_connect_invite(window, g_variant_get_string(parameter, NULL));
}

static void on_set_permission(GSimpleAction *action, GVariant *parameter, gpointer user_data) {
        PicWindow *window = ensure_window(user_data);
        const char *cell, *service;
        gboolean shared;

        g_variant_get(parameter, "(&s&sb)", &cell, &service, &shared);
        gtk_window_present(GTK_WINDOW(window));
        if (!pic_window_set_permission(window, cell, service, shared))
                g_warning("No switch for service '%s' of cell '%s'", service, cell);
}

static void on_set_route_via(GSimpleAction *action, GVariant *parameter, gpointer user_data) {
        PicWindow *window = ensure_window(user_data);
        const char *peer, *cell;

        g_variant_get(parameter, "(&s&s)", &peer, &cell);
        gtk_window_present(GTK_WINDOW(window));
        if (!pic_window_choose_exit(window, peer, cell))
                g_warning("No exit choice '%s' for peer '%s'", cell, peer);
}

static void on_add_peer(GSimpleAction *action, GVariant *parameter, gpointer user_data) {
        PicWindow *window = ensure_window(user_data);
        const char *name = g_variant_get_string(parameter, NULL);

        gtk_window_present(GTK_WINDOW(window));
        pic_window_add_peer(window, *name ? name : NULL);
}

static void on_show_page(GSimpleAction *action, GVariant *parameter, gpointer user_data) {
        PicWindow *window = ensure_window(user_data);
        const char *page = g_variant_get_string(parameter, NULL);

        gtk_window_present(GTK_WINDOW(window));
        if (!pic_window_show_page(window, page))
                g_warning("No page '%s'", page);
}

static void on_dump(GSimpleAction *action, GVariant *parameter, gpointer user_data) {
        PicApplication *self = user_data;
        PicWindow *window = get_window(self);
        g_autoptr(GError) error = NULL;

        if (window && !pic_test_dump_write(window, self->dump_path, &error))
                g_warning("Failed to write %s: %s", self->dump_path, error->message);
}

static void on_resize(GSimpleAction *action, GVariant *parameter, gpointer user_data) {
        PicWindow *window = get_window(user_data);
        int width, height;

        g_variant_get(parameter, "(ii)", &width, &height);
        if (window)
                gtk_window_set_default_size(GTK_WINDOW(window), width, height);
}

static const GActionEntry app_actions[] = {
        { .name = "quit", .activate = on_quit },
        { .name = "about", .activate = on_about },
        { .name = "connect-invite", .activate = on_connect_invite, .parameter_type = "s" },
        { .name = "set-permission", .activate = on_set_permission, .parameter_type = "(ssb)" },
        { .name = "add-peer", .activate = on_add_peer, .parameter_type = "s" },
        { .name = "set-route-via", .activate = on_set_route_via, .parameter_type = "(ss)" },
        { .name = "show-page", .activate = on_show_page, .parameter_type = "s" },
};

static const GActionEntry test_actions[] = {
        { .name = "dump", .activate = on_dump },
        { .name = "resize", .activate = on_resize, .parameter_type = "(ii)" },
};

static void pic_application_startup(GApplication *application) {
        PicApplication *self = PIC_APPLICATION(application);
        static const char *const quit_accels[] = { "<Control>q", NULL };

        G_APPLICATION_CLASS(pic_application_parent_class)->startup(application);

        g_action_map_add_action_entries(G_ACTION_MAP(self), app_actions, G_N_ELEMENTS(app_actions), self);
        if (self->dump_path)
                g_action_map_add_action_entries(G_ACTION_MAP(self), test_actions, G_N_ELEMENTS(test_actions), self);
        gtk_application_set_accels_for_action(GTK_APPLICATION(self), "app.quit", quit_accels);

        self->client = pic_client_new();
}

static void pic_application_activate(GApplication *application) {
        gtk_window_present(GTK_WINDOW(ensure_window(PIC_APPLICATION(application))));
}

static void pic_application_shutdown(GApplication *application) {
        PicApplication *self = PIC_APPLICATION(application);

        G_APPLICATION_CLASS(pic_application_parent_class)->shutdown(application);
        g_clear_object(&self->client);
}

static void pic_application_finalize(GObject *object) {
        PicApplication *self = PIC_APPLICATION(object);

        g_free(self->dump_path);
        G_OBJECT_CLASS(pic_application_parent_class)->finalize(object);
}

static void pic_application_class_init(PicApplicationClass *klass) {
        GObjectClass *object_class = G_OBJECT_CLASS(klass);
        GApplicationClass *app_class = G_APPLICATION_CLASS(klass);

        object_class->finalize = pic_application_finalize;
        app_class->startup = pic_application_startup;
        app_class->activate = pic_application_activate;
        app_class->shutdown = pic_application_shutdown;
}

static void pic_application_init(PicApplication *self) {
        const char *dump = g_getenv(PIC_TEST_DUMP_ENV);

        if (dump && *dump)
                self->dump_path = g_strdup(dump);
}

PicApplication *pic_application_new(void) {
        return g_object_new(PIC_TYPE_APPLICATION,
                            "application-id", "org.pic.Cell",
                            "flags", G_APPLICATION_DEFAULT_FLAGS,
                            "resource-base-path", "/org/pic/Cell",
                            NULL);
}
