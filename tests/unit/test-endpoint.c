/* test-endpoint.c: endpoint auto-detection through NetworkManager and through the default route, on a private bus and in a private network namespace. */
#include <errno.h>
#include <sched.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <sys/prctl.h>
#include <unistd.h>

#include <gio/gio.h>
#include <gio/gunixsocketaddress.h>

#include "endpoint.h"
#include "netaddr.h"
#include "pic-error.h"
#include "rtnl.h"
#include "unit-main.h"

/* What the default route in the test's namespace leaves from, and what the
 * fake NetworkManager says: different, so each answer shows its source. */
#define ROUTE_SOURCE "198.51.100.7"
#define NM_ADDRESS "203.0.113.9"

#define NM_NAME "org.freedesktop.NetworkManager"
#define NM_PATH "/org/freedesktop/NetworkManager"
#define ACTIVE_PATH NM_PATH "/ActiveConnection/1"
#define IP4_PATH NM_PATH "/IP4Config/1"

/* --- the host's network --- */

/* Check runs each test in a child of its own, so the namespace and the cache
 * in endpoint.c die with it. */
static bool enter_private_netns(void) {
        if (geteuid() != 0) {
                fprintf(stderr, "# skipped: network namespaces need root\n");
                return false;
        }
        if (unshare(CLONE_NEWNET) < 0) {
                ck_assert_msg(errno == EPERM, "unshare(CLONE_NEWNET): %s", g_strerror(errno));
                fprintf(stderr, "# skipped: no permission for a network namespace\n");
                return false;
        }
        return true;
}

/* A default route whose source address is ROUTE_SOURCE, on loopback alone. */
static void add_default_route(void) {
        g_autoptr(GError) error = NULL;
        Ipv4Prefix source = { .prefixlen = 32 };
        RtnlRoute route = { .table = RTNL_TABLE_MAIN };
        int lo = 0;

        ck_assert(netaddr_parse_address(ROUTE_SOURCE, &source.address, NULL));
        ck_assert_msg(rtnl_link_index("lo", &lo, &error) && lo > 0, "lo: %s", error ? error->message : "");
        ck_assert_msg(rtnl_link_set_up(lo, &error), "%s", error->message);
        ck_assert_msg(rtnl_address_add(lo, &source, &error), "%s", error->message);
        route.ifindex = lo;
        ck_assert_msg(rtnl_route_add(&route, &error), "%s", error->message);
}

/* --- a private bus --- */

static GSubprocess *bus_process;
static char *bus_dir;

static void die_with_parent(gpointer userdata) {
        (void) prctl(PR_SET_PDEATHSIG, SIGKILL);
}

/* Starts a dbus-daemon that plays the system bus and points
 * DBUS_SYSTEM_BUS_ADDRESS at it. False when there is no dbus-daemon. */
static bool start_private_bus(void) {
        g_autoptr(GError) error = NULL;
        g_autoptr(GSubprocessLauncher) launcher = NULL;
        g_autoptr(GDataInputStream) out = NULL;
        g_autofree char *program = g_find_program_in_path("dbus-daemon");
        g_autofree char *config = NULL, *config_path = NULL, *address = NULL;

        if (!program) {
                fprintf(stderr, "# skipped: no dbus-daemon\n");
                return false;
        }
        bus_dir = g_dir_make_tmp("pic-endpoint-XXXXXX", &error);
        ck_assert_msg(bus_dir, "%s", error ? error->message : "");
        config = g_strdup_printf("<busconfig>\n"
                                 "  <type>session</type>\n"
                                 "  <listen>unix:path=%s/bus</listen>\n"
                                 "  <auth>EXTERNAL</auth>\n"
                                 "  <policy context=\"default\">\n"
                                 "    <allow user=\"*\"/>\n"
                                 "    <allow send_destination=\"*\" eavesdrop=\"true\"/>\n"
                                 "    <allow eavesdrop=\"true\"/>\n"
                                 "    <allow own=\"*\"/>\n"
                                 "  </policy>\n"
                                 "</busconfig>\n", bus_dir);
        config_path = g_build_filename(bus_dir, "bus.conf", NULL);
        ck_assert(g_file_set_contents(config_path, config, -1, NULL));

        /* Its complaints (it cannot raise its descriptor limit here) are noise. */
        launcher = g_subprocess_launcher_new(G_SUBPROCESS_FLAGS_STDOUT_PIPE | G_SUBPROCESS_FLAGS_STDERR_SILENCE);
        g_subprocess_launcher_set_child_setup(launcher, die_with_parent, NULL, NULL);
        bus_process = g_subprocess_launcher_spawn(launcher, &error, program, "--config-file", config_path,
                                                  "--nofork", "--nopidfile", "--print-address", NULL);
        ck_assert_msg(bus_process, "%s", error ? error->message : "");
        out = g_data_input_stream_new(g_subprocess_get_stdout_pipe(bus_process));
        address = g_data_input_stream_read_line(out, NULL, NULL, &error);
        ck_assert_msg(address, "dbus-daemon printed no address: %s", error ? error->message : "");
        ck_assert(g_setenv("DBUS_SYSTEM_BUS_ADDRESS", address, TRUE));
        return true;
}

static void stop_private_bus(void) {
        if (bus_process) {
                g_subprocess_force_exit(bus_process);
                (void) g_subprocess_wait(bus_process, NULL, NULL);
                g_clear_object(&bus_process);
        }
        if (bus_dir) {
                g_autofree char *socket_path = g_build_filename(bus_dir, "bus", NULL);
                g_autofree char *config_path = g_build_filename(bus_dir, "bus.conf", NULL);

                (void) unlink(socket_path);
                (void) unlink(config_path);
                (void) rmdir(bus_dir);
                g_clear_pointer(&bus_dir, g_free);
        }
}

/* --- a fake NetworkManager: just the objects NMClient reads to find the
 * primary connection's IPv4 address --- */

static const char fake_nm_xml[] =
        "<node>"
        " <interface name='org.freedesktop.DBus.ObjectManager'>"
        "  <method name='GetManagedObjects'><arg type='a{oa{sa{sv}}}' direction='out'/></method>"
        " </interface>"
        " <interface name='org.freedesktop.NetworkManager'>"
        "  <property name='PrimaryConnection' type='o' access='read'/>"
        "  <property name='ActiveConnections' type='ao' access='read'/>"
        "  <property name='State' type='u' access='read'/>"
        "  <property name='Version' type='s' access='read'/>"
        " </interface>"
        " <interface name='org.freedesktop.NetworkManager.Connection.Active'>"
        "  <property name='Id' type='s' access='read'/>"
        "  <property name='Type' type='s' access='read'/>"
        "  <property name='State' type='u' access='read'/>"
        "  <property name='Ip4Config' type='o' access='read'/>"
        " </interface>"
        " <interface name='org.freedesktop.NetworkManager.IP4Config'>"
        "  <property name='AddressData' type='aa{sv}' access='read'/>"
        " </interface>"
        "</node>";

typedef struct {
        bool with_primary;              /* false: NetworkManager runs, nothing is connected */
        GMutex lock;
        GCond cond;
        bool ready;
        GMainContext *context;
        GMainLoop *loop;
        GDBusNodeInfo *info;
        GHashTable *objects;            /* path → a{sa{sv}} */
} FakeNm;

static GVariant *interface_props(const char *interface, const char *first, ...) G_GNUC_NULL_TERMINATED;
static GVariant *interface_props(const char *interface, const char *first, ...) {
        GVariantBuilder props;
        va_list ap;

        g_variant_builder_init(&props, G_VARIANT_TYPE("a{sv}"));
        va_start(ap, first);
        for (const char *name = first; name; name = va_arg(ap, const char *))
                g_variant_builder_add(&props, "{sv}", name, va_arg(ap, GVariant *));
        va_end(ap);
        return g_variant_new("{s@a{sv}}", interface, g_variant_builder_end(&props));
}

static void fake_nm_add_object(FakeNm *nm, const char *path, GVariant *interface) {
        GVariantBuilder interfaces;

        g_variant_builder_init(&interfaces, G_VARIANT_TYPE("a{sa{sv}}"));
        g_variant_builder_add_value(&interfaces, interface);
        g_hash_table_insert(nm->objects, g_strdup(path), g_variant_ref_sink(g_variant_builder_end(&interfaces)));
}

static void fake_nm_build(FakeNm *nm) {
        GVariantBuilder addresses, address;
        const char *primary = nm->with_primary ? ACTIVE_PATH : "/";

        nm->objects = g_hash_table_new_full(g_str_hash, g_str_equal, g_free, (GDestroyNotify) g_variant_unref);
        fake_nm_add_object(nm, NM_PATH,
                           interface_props(NM_NAME,
                                           "PrimaryConnection", g_variant_new_object_path(primary),
                                           "ActiveConnections", g_variant_new_objv(&primary, nm->with_primary ? 1 : 0),
                                           "State", g_variant_new_uint32(nm->with_primary ? 70 : 20),
                                           "Version", g_variant_new_string("1.42.4"),
                                           NULL));
        if (!nm->with_primary)
                return;

        fake_nm_add_object(nm, ACTIVE_PATH,
                           interface_props(NM_NAME ".Connection.Active",
                                           "Id", g_variant_new_string("Wired connection 1"),
                                           "Type", g_variant_new_string("802-3-ethernet"),
                                           "State", g_variant_new_uint32(2),
                                           "Ip4Config", g_variant_new_object_path(IP4_PATH),
                                           NULL));
        g_variant_builder_init(&addresses, G_VARIANT_TYPE("aa{sv}"));
        g_variant_builder_init(&address, G_VARIANT_TYPE("a{sv}"));
        g_variant_builder_add(&address, "{sv}", "address", g_variant_new_string(NM_ADDRESS));
        g_variant_builder_add(&address, "{sv}", "prefix", g_variant_new_uint32(24));
        g_variant_builder_add_value(&addresses, g_variant_builder_end(&address));
        fake_nm_add_object(nm, IP4_PATH,
                           interface_props(NM_NAME ".IP4Config",
                                           "AddressData", g_variant_builder_end(&addresses),
                                           NULL));
}

static void fake_nm_method(GDBusConnection *connection, const char *sender, const char *path,
                           const char *interface, const char *method, GVariant *parameters,
                           GDBusMethodInvocation *invocation, gpointer userdata) {
        FakeNm *nm = userdata;
        GVariantBuilder objects;
        GHashTableIter iter;
        gpointer key, value;

        g_variant_builder_init(&objects, G_VARIANT_TYPE("a{oa{sa{sv}}}"));
        g_hash_table_iter_init(&iter, nm->objects);
        while (g_hash_table_iter_next(&iter, &key, &value))
                g_variant_builder_add(&objects, "{o@a{sa{sv}}}", key, value);
        g_dbus_method_invocation_return_value(invocation, g_variant_new("(a{oa{sa{sv}}})", &objects));
}

static GVariant *fake_nm_get_property(GDBusConnection *connection, const char *sender, const char *path,
                                      const char *interface, const char *property, GError **error,
                                      gpointer userdata) {
        FakeNm *nm = userdata;
        GVariant *interfaces = g_hash_table_lookup(nm->objects, path);
        g_autoptr(GVariant) props = interfaces ? g_variant_lookup_value(interfaces, interface, NULL) : NULL;
        GVariant *value = props ? g_variant_lookup_value(props, property, NULL) : NULL;

        if (!value)
                g_set_error(error, G_DBUS_ERROR, G_DBUS_ERROR_UNKNOWN_PROPERTY, "No property %s", property);
        return value;
}

static const GDBusInterfaceVTable fake_nm_vtable = {
        .method_call = fake_nm_method,
        .get_property = fake_nm_get_property,
};

static gpointer fake_nm_thread(gpointer userdata) {
        FakeNm *nm = userdata;
        g_autoptr(GError) error = NULL;
        g_autoptr(GDBusConnection) bus = NULL;
        g_autoptr(GVariant) reply = NULL;
        GHashTableIter iter;
        gpointer path;

        g_main_context_push_thread_default(nm->context);
        bus = g_dbus_connection_new_for_address_sync(g_getenv("DBUS_SYSTEM_BUS_ADDRESS"),
                                                     G_DBUS_CONNECTION_FLAGS_AUTHENTICATION_CLIENT |
                                                     G_DBUS_CONNECTION_FLAGS_MESSAGE_BUS_CONNECTION,
                                                     NULL, NULL, &error);
        g_assert_no_error(error);
        ck_assert(g_dbus_connection_register_object(bus, "/org/freedesktop",
                                                    g_dbus_node_info_lookup_interface(nm->info,
                                                            "org.freedesktop.DBus.ObjectManager"),
                                                    &fake_nm_vtable, nm, NULL, &error) > 0);
        g_hash_table_iter_init(&iter, nm->objects);
        while (g_hash_table_iter_next(&iter, &path, NULL)) {
                GVariant *interfaces = g_hash_table_lookup(nm->objects, path);
                GVariantIter it;
                const char *name;

                g_variant_iter_init(&it, interfaces);
                while (g_variant_iter_next(&it, "{&s@a{sv}}", &name, NULL))
                        ck_assert(g_dbus_connection_register_object(bus, path,
                                                                    g_dbus_node_info_lookup_interface(nm->info, name),
                                                                    &fake_nm_vtable, nm, NULL, &error) > 0);
        }
        reply = g_dbus_connection_call_sync(bus, "org.freedesktop.DBus", "/org/freedesktop/DBus",
                                            "org.freedesktop.DBus", "RequestName",
                                            g_variant_new("(su)", NM_NAME, 4 /* do not queue */),
                                            G_VARIANT_TYPE("(u)"), G_DBUS_CALL_FLAGS_NONE, -1, NULL, &error);
        g_assert_no_error(error);

        g_mutex_lock(&nm->lock);
        nm->ready = true;
        g_cond_signal(&nm->cond);
        g_mutex_unlock(&nm->lock);

        g_main_loop_run(nm->loop);
        g_main_context_pop_thread_default(nm->context);
        return NULL;
}

static GThread *fake_nm_start(FakeNm *nm) {
        GThread *thread;

        nm->info = g_dbus_node_info_new_for_xml(fake_nm_xml, NULL);
        ck_assert_ptr_nonnull(nm->info);
        fake_nm_build(nm);
        nm->context = g_main_context_new();
        nm->loop = g_main_loop_new(nm->context, FALSE);
        g_mutex_init(&nm->lock);
        g_cond_init(&nm->cond);
        thread = g_thread_new("fake-nm", fake_nm_thread, nm);
        g_mutex_lock(&nm->lock);
        while (!nm->ready)
                g_cond_wait(&nm->cond, &nm->lock);
        g_mutex_unlock(&nm->lock);
        return thread;
}

static void fake_nm_stop(FakeNm *nm, GThread *thread) {
        g_main_loop_quit(nm->loop);
        g_thread_join(thread);
        g_main_loop_unref(nm->loop);
        g_main_context_unref(nm->context);
        g_hash_table_unref(nm->objects);
        g_dbus_node_info_unref(nm->info);
        g_cond_clear(&nm->cond);
        g_mutex_clear(&nm->lock);
}

/* --- the tests --- */

/* An address that connects nowhere: no NetworkManager can be asked. */
static void point_at_absent_bus(void) {
        g_autofree char *dir = g_dir_make_tmp("pic-endpoint-XXXXXX", NULL);
        g_autofree char *address = NULL;

        ck_assert_ptr_nonnull(dir);
        address = g_strdup_printf("unix:path=%s/no-bus-here", dir);
        ck_assert(g_setenv("DBUS_SYSTEM_BUS_ADDRESS", address, TRUE));
        (void) rmdir(dir);
}

static void assert_detects(const char *expected) {
        g_autoptr(GError) error = NULL;
        g_autofree char *host = NULL;

        ck_assert_msg(endpoint_detect_host(&host, &error), "%s", error ? error->message : "");
        ck_assert_ptr_null(error);
        ck_assert_str_eq(host, expected);
}

static void assert_no_route_error(void) {
        g_autoptr(GError) error = NULL;
        char *host = NULL;

        ck_assert(!endpoint_detect_host(&host, &error));
        ck_assert_ptr_null(host);
        ck_assert(g_error_matches(error, PIC_ERROR, PIC_ERROR_FAILED));
        ck_assert_str_eq(error->message,
                         "Cannot work out this cell's endpoint: the host has no default route; "
                         "set Endpoint (host:port) with Configure or in cell.conf");
}

/* Without a bus the answer comes at once from the routing table, whatever
 * this machine's network looks like. */
START_TEST(test_no_bus_host_network) {
        g_autoptr(GError) error = NULL;
        g_autofree char *host = NULL;
        gint64 start;
        uint32_t address;

        point_at_absent_bus();
        start = g_get_monotonic_time();
        if (endpoint_detect_host(&host, &error)) {
                ck_assert_msg(netaddr_parse_address(host, &address, NULL), "'%s' is no IPv4 address", host);
                ck_assert_uint_ne(address, 0);
        } else {
                ck_assert(g_error_matches(error, PIC_ERROR, PIC_ERROR_FAILED));
                ck_assert_ptr_nonnull(strstr(error->message, "set Endpoint"));
        }
        ck_assert_int_lt(g_get_monotonic_time() - start, 500 * G_TIME_SPAN_MILLISECOND);
}
END_TEST

typedef enum {
        NM_ABSENT,              /* nobody owns its name */
        NM_PRIMARY,             /* a primary connection with an IPv4 address */
        NM_NO_PRIMARY,          /* running, nothing connected */
} NmMode;

static const struct {
        const char *what;
        bool bus;               /* false: the bus address leads nowhere */
        NmMode nm;
        bool route;
        const char *expected;   /* NULL: the admin is told to set Endpoint */
} scenarios[] = {
        { "no bus, default route", false, NM_ABSENT, true, ROUTE_SOURCE },
        { "no bus, no route", false, NM_ABSENT, false, NULL },
        { "bus without NetworkManager", true, NM_ABSENT, true, ROUTE_SOURCE },
        { "bus without NetworkManager, no route", true, NM_ABSENT, false, NULL },
        { "primary connection wins over the route", true, NM_PRIMARY, true, NM_ADDRESS },
        { "primary connection, no route", true, NM_PRIMARY, false, NM_ADDRESS },
        { "no primary connection", true, NM_NO_PRIMARY, true, ROUTE_SOURCE },
        { "no primary connection, no route", true, NM_NO_PRIMARY, false, NULL },
};

START_TEST(test_scenario) {
        FakeNm nm = { .with_primary = scenarios[_i].nm == NM_PRIMARY };
        GThread *thread = NULL;

        if (!enter_private_netns())
                return;
        if (scenarios[_i].bus) {
                if (!start_private_bus())
                        return;
        } else
                point_at_absent_bus();
        if (scenarios[_i].route)
                add_default_route();
        if (scenarios[_i].nm != NM_ABSENT)
                thread = fake_nm_start(&nm);

        /* Twice: the second answer comes from the cache and must agree. */
        for (int round = 0; round < 2; round++) {
                if (scenarios[_i].expected)
                        assert_detects(scenarios[_i].expected);
                else
                        assert_no_route_error();
        }

        if (thread)
                fake_nm_stop(&nm, thread);
        stop_private_bus();
}
END_TEST

/* A bus that accepts the connection and then never answers (a hung
 * dbus-daemon): the deadline gives up on it and the route answers. */
START_TEST(test_hung_bus) {
        g_autoptr(GError) error = NULL;
        g_autoptr(GSocket) listener = NULL;
        g_autoptr(GSocketAddress) address = NULL;
        g_autofree char *dir = NULL, *socket_path = NULL, *bus_address = NULL;
        gint64 start, elapsed;

        if (!enter_private_netns())
                return;
        add_default_route();
        dir = g_dir_make_tmp("pic-endpoint-XXXXXX", &error);
        ck_assert_msg(dir, "%s", error ? error->message : "");
        socket_path = g_build_filename(dir, "hung", NULL);
        /* Listening without ever accepting: the kernel completes the
         * connection, and the client then waits for an answer forever. */
        listener = g_socket_new(G_SOCKET_FAMILY_UNIX, G_SOCKET_TYPE_STREAM, G_SOCKET_PROTOCOL_DEFAULT, &error);
        ck_assert_msg(listener, "%s", error ? error->message : "");
        address = g_unix_socket_address_new(socket_path);
        ck_assert_msg(g_socket_bind(listener, address, FALSE, &error), "%s", error->message);
        ck_assert_msg(g_socket_listen(listener, &error), "%s", error->message);
        bus_address = g_strdup_printf("unix:path=%s", socket_path);
        ck_assert(g_setenv("DBUS_SYSTEM_BUS_ADDRESS", bus_address, TRUE));

        start = g_get_monotonic_time();
        assert_detects(ROUTE_SOURCE);
        elapsed = g_get_monotonic_time() - start;
        ck_assert_msg(elapsed < 3 * G_TIME_SPAN_SECOND, "waited %" G_GINT64_FORMAT " ms", elapsed / 1000);

        (void) unlink(socket_path);
        (void) rmdir(dir);
}
END_TEST

Suite *unit_suite(void) {
        Suite *s = suite_create("endpoint");
        TCase *tc = tcase_create("detect");

        /* NetworkManager is asked through the module built next to pic-celld. */
        endpoint_set_module_dir(SERVICE_BUILD_DIR);

        tcase_add_test(tc, test_no_bus_host_network);
        tcase_add_loop_test(tc, test_scenario, 0, G_N_ELEMENTS(scenarios));
        tcase_add_test(tc, test_hung_bus);
        suite_add_tcase(s, tc);
        return s;
}
