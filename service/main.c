/* main.c: pic-celld's entry point: options, the Context, the bus name, and the
 * main loop until SIGTERM/SIGINT or the bus goes away. */
#include <errno.h>
#include <locale.h>
#include <stdio.h>
#include <stdlib.h>
#include <glib-unix.h>

#include "bus-cell.h"
#include "bus-link.h"
#include "bus-managed.h"
#include "bus-peer.h"
#include "config.h"
#include "context.h"
#include "i18n.h"
#include "sd-event-source.h"

#define BUS_NAME "org.pic.Cell1"

static gboolean on_signal(gpointer userdata) {
        Context *c = userdata;

        g_message("Shutting down on signal");
        g_main_loop_quit(c->loop);
        return G_SOURCE_CONTINUE;
}

static int on_bus_disconnected(sd_bus_message *message, void *userdata, sd_bus_error *error) {
        Context *c = userdata;

        g_message("The system bus went away; exiting (the next call will activate us again)");
        g_main_loop_quit(c->loop);
        return 0;
}

static int setup_bus(Context *c) {
        int r;

        r = sd_bus_open_system(&c->bus);
        if (r < 0) {
                g_critical("Failed to connect to the system bus: %s", g_strerror(-r));
                return r;
        }
        r = sd_bus_attach_event(c->bus, c->event, SD_EVENT_PRIORITY_NORMAL);
        if (r < 0) {
                g_critical("Failed to attach the bus to the event loop: %s", g_strerror(-r));
                return r;
        }
        r = sd_bus_match_signal(c->bus, NULL, "org.freedesktop.DBus.Local", "/org/freedesktop/DBus/Local",
                                "org.freedesktop.DBus.Local", "Disconnected", on_bus_disconnected, c);
        if (r < 0) {
                g_critical("Failed to watch the bus connection: %s", g_strerror(-r));
                return r;
        }
        r = bus_cell_register(c);
        if (r >= 0)
                r = bus_link_register(c);
        if (r >= 0)
                r = bus_peer_register(c);
        if (r >= 0)
                r = bus_managed_register(c);
        if (r < 0) {
                g_critical("Failed to register the D-Bus objects: %s", g_strerror(-r));
                return r;
        }
        /* Objects first, name last: a caller that sees the name finds everything. */
        r = sd_bus_request_name(c->bus, BUS_NAME, 0);
        if (r < 0) {
                g_critical("Failed to acquire the bus name %s: %s", BUS_NAME, g_strerror(-r));
                return r;
        }
        return 0;
}

static char *default_dir(const char *env, const char *fallback) {
        const char *value = g_getenv(env);

        /* systemd may pass several directories separated by ':'; the first is ours. */
        if (value && value[0]) {
                const char *colon = strchr(value, ':');
                return colon ? g_strndup(value, (gsize) (colon - value)) : g_strdup(value);
        }
        return g_strdup(fallback);
}

int main(int argc, char *argv[]) {
        g_autofree char *config_path = NULL, *state_dir = NULL, *runtime_dir = NULL;
        gboolean version = FALSE, verbose = FALSE;
        const GOptionEntry entries[] = {
                { "config", 0, 0, G_OPTION_ARG_FILENAME, &config_path,
                  "Read host settings from FILE", "FILE" },
                { "state-dir", 0, 0, G_OPTION_ARG_FILENAME, &state_dir,
                  "Keep state.json and private.key in DIR", "DIR" },
                { "runtime-dir", 0, 0, G_OPTION_ARG_FILENAME, &runtime_dir,
                  "Keep runtime files in DIR", "DIR" },
                { "version", 0, 0, G_OPTION_ARG_NONE, &version, "Print the version and exit", NULL },
                { "verbose", 'v', 0, G_OPTION_ARG_NONE, &verbose, "Log debug messages", NULL },
                { NULL }
        };
        g_autoptr(GOptionContext) options = g_option_context_new("- the PIC Cell system service");
        g_autoptr(GError) error = NULL;
        g_autoptr(Context) c = NULL;
        int r;

        setlocale(LC_ALL, "");
        /* The messages D-Bus callers get are UTF-8 whatever the locale's charset. */
        bindtextdomain(GETTEXT_PACKAGE, LOCALEDIR);
        bind_textdomain_codeset(GETTEXT_PACKAGE, "UTF-8");
        textdomain(GETTEXT_PACKAGE);
        g_option_context_add_main_entries(options, entries, NULL);
        if (!g_option_context_parse(options, &argc, &argv, &error)) {
                fprintf(stderr, "pic-celld: %s\n", error->message);
                return EXIT_FAILURE;
        }
        if (version) {
                printf("pic-celld %s\n", PACKAGE_VERSION);
                return EXIT_SUCCESS;
        }
        if (verbose)
                g_setenv("G_MESSAGES_DEBUG", "all", TRUE);

        c = g_new0(Context, 1);
        c->config = daemon_config_load(config_path ?: DAEMON_CONFIG_DEFAULT_PATH, config_path == NULL, &error);
        if (!c->config) {
                g_critical("%s", error->message);
                return EXIT_FAILURE;
        }
        if (!state_dir)
                state_dir = c->config->state_directory[0]
                                    ? g_strdup(c->config->state_directory)
                                    : default_dir("STATE_DIRECTORY", LOCALSTATEDIR "/lib/pic-cell");
        if (!runtime_dir)
                runtime_dir = default_dir("RUNTIME_DIRECTORY", "/run/pic-cell");

        c->cell = cell_new(c->config, state_dir, runtime_dir, &error);
        if (!c->cell) {
                g_critical("%s", error->message);
                return EXIT_FAILURE;
        }

        c->loop = g_main_loop_new(NULL, FALSE);
        r = sd_event_new(&c->event);
        if (r < 0) {
                g_critical("Failed to create the event loop: %s", g_strerror(-r));
                return EXIT_FAILURE;
        }
        c->event_source = sd_event_source_new_for_glib(c->event);
        g_source_attach(c->event_source, NULL);
        c->polkit = polkit_registry_new();

        if (setup_bus(c) < 0)
                return EXIT_FAILURE;

        c->reconciler = reconciler_new(c->config, c->bus, &error);
        if (!c->reconciler) {
                g_critical("%s", error->message);
                return EXIT_FAILURE;
        }
        cell_start(c->cell, c->reconciler);
        c->peersync = peersync_new(c->cell, c->config, &error);
        if (!c->peersync) {
                g_critical("Failed to start peer-sync: %s", error->message);
                return EXIT_FAILURE;
        }

        g_unix_signal_add(SIGTERM, on_signal, c);
        g_unix_signal_add(SIGINT, on_signal, c);

        g_message("Cell %s (%s) ready on the bus as %s", cell_get_state(c->cell)->cell.name,
                  cell_get_state(c->cell)->cell.domain, BUS_NAME);
        g_main_loop_run(c->loop);
        return c->exit_status;
}
