/* nm-address.c: the NetworkManager module of pic-celld (libpic-celld-nm.so):
 * asks NetworkManager, through libnm, for the address of its primary
 * connection. endpoint.c loads it only when Endpoint=auto has to be worked
 * out, so that a cell that never needs it does not map libnm and the crypto
 * libraries that come with it. */
#include <stdbool.h>

#include <gio/gio.h>
#include <NetworkManager.h>

#include "nm-address.h"

#define NM_BUS_NAME "org.freedesktop.NetworkManager"

/* The caller may be answering a D-Bus property read, so the question to
 * NetworkManager (bus connection, name check, NMClient start) gets one
 * deadline, and NMClient's clean-up as long again at most; a healthy
 * NetworkManager answers in milliseconds. */
#define NM_DEADLINE_MS 1000

/* One private main context runs every asynchronous step, so nothing of the
 * caller's context is dispatched while we wait, and one deadline bounds the
 * whole question. A step still pending at the deadline is abandoned (GDBus
 * does not cancel the Hello of a new connection): its slot is shared with
 * the callback, so whichever lets go last frees it. */
typedef struct {
        GAsyncResult *result;
} Slot;

typedef struct {
        GMainContext *context;
        GCancellable *cancellable;
        bool expired;
} Query;

static void slot_clear(Slot *slot) {
        g_clear_object(&slot->result);
}

static void slot_ready(GObject *source, GAsyncResult *result, gpointer userdata) {
        Slot *slot = userdata;

        slot->result = g_object_ref(result);
        g_rc_box_release_full(slot, (GDestroyNotify) slot_clear);
}

/* The slot's result, or NULL when the deadline came first. */
static GAsyncResult *query_wait(Query *q, Slot *slot) {
        GAsyncResult *result;

        while (!slot->result && !q->expired)
                g_main_context_iteration(q->context, TRUE);
        result = g_steal_pointer(&slot->result);
        g_rc_box_release_full(slot, (GDestroyNotify) slot_clear);
        return result;
}

/* A new slot, with one reference for the caller and one for the callback. */
static Slot *slot_new(void) {
        Slot *slot = g_rc_box_new0(Slot);

        return g_rc_box_acquire(slot);
}

static gboolean on_deadline(gpointer userdata) {
        Query *q = userdata;

        q->expired = true;
        g_cancellable_cancel(q->cancellable);
        return G_SOURCE_REMOVE;
}

static gboolean on_flag_timeout(gpointer userdata) {
        *(bool *) userdata = true;
        return G_SOURCE_REMOVE;
}

static void on_busy_watcher_gone(gpointer userdata, GObject *where_the_object_was) {
        *(bool *) userdata = true;
}

/* NMClient finishes its own cleanup in the context it was made in: run ours
 * until it is done, or give up after a while (then a little memory is left
 * behind rather than the caller kept waiting). */
static void release_client(GMainContext *context, NMClient *client) {
        g_autoptr(GSource) timeout = g_timeout_source_new(NM_DEADLINE_MS);
        GObject *watcher = nm_client_get_context_busy_watcher(client);
        bool gone = false, timed_out = false;

        g_source_set_callback(timeout, on_flag_timeout, &timed_out, NULL);
        g_source_attach(timeout, context);
        g_object_weak_ref(watcher, on_busy_watcher_gone, &gone);
        g_object_unref(client);
        while (!gone && !timed_out)
                g_main_context_iteration(context, TRUE);
        if (!gone)
                g_object_weak_unref(watcher, on_busy_watcher_gone, &gone);
        g_source_destroy(timeout);
}

/* The first IPv4 address of the primary connection, or NULL. */
static char *primary_address(NMClient *client) {
        NMActiveConnection *primary;
        NMIPConfig *ip4;
        GPtrArray *addresses;

        if (!nm_client_get_nm_running(client))
                return NULL;
        primary = nm_client_get_primary_connection(client);
        if (!primary)
                return NULL;
        ip4 = nm_active_connection_get_ip4_config(primary);
        if (!ip4)
                return NULL;
        addresses = nm_ip_config_get_addresses(ip4);
        if (!addresses || addresses->len == 0)
                return NULL;
        /* endpoint.c re-formats it through its own parser: what
         * NetworkManager says ends up in invites, which other cells parse
         * strictly. */
        return g_strdup(nm_ip_address_get_address(addresses->pdata[0]));
}

/* The module's one entry point (nm-address.h). */
char *pic_celld_nm_primary_address(void) {
        g_autoptr(GMainContext) context = g_main_context_new();
        g_autoptr(GCancellable) cancellable = g_cancellable_new();
        g_autoptr(GSource) deadline = g_timeout_source_new(NM_DEADLINE_MS);
        g_autoptr(GDBusConnection) bus = NULL;
        g_autoptr(GVariant) reply = NULL;
        g_autoptr(GAsyncResult) result = NULL;
        g_autoptr(GObject) source = NULL;
        Query q = { .context = context, .cancellable = cancellable };
        NMClient *client;
        Slot *slot;
        gboolean has_owner = FALSE;
        char *host = NULL;

        g_main_context_push_thread_default(context);
        g_source_set_callback(deadline, on_deadline, &q, NULL);
        g_source_attach(deadline, context);

        /* No system bus (a container, a test) means no NetworkManager. */
        slot = slot_new();
        g_bus_get(G_BUS_TYPE_SYSTEM, cancellable, slot_ready, slot);
        result = query_wait(&q, slot);
        if (!result)
                goto out;
        bus = g_bus_get_finish(result, NULL);
        g_clear_object(&result);
        if (!bus)
                goto out;
        /* The connection is shared by the process; losing the bus must not
         * end the daemon from under its own bus code. */
        g_dbus_connection_set_exit_on_close(bus, FALSE);

        /* One cheap call decides whether NMClient is worth starting at all. */
        slot = slot_new();
        g_dbus_connection_call(bus, "org.freedesktop.DBus", "/org/freedesktop/DBus", "org.freedesktop.DBus",
                               "NameHasOwner", g_variant_new("(s)", NM_BUS_NAME), G_VARIANT_TYPE("(b)"),
                               G_DBUS_CALL_FLAGS_NONE, NM_DEADLINE_MS, cancellable, slot_ready, slot);
        result = query_wait(&q, slot);
        if (!result)
                goto out;
        reply = g_dbus_connection_call_finish(bus, result, NULL);
        g_clear_object(&result);
        if (!reply)
                goto out;
        g_variant_get(reply, "(b)", &has_owner);
        if (!has_owner)
                goto out;

        slot = slot_new();
        g_async_initable_new_async(NM_TYPE_CLIENT, G_PRIORITY_DEFAULT, cancellable, slot_ready, slot,
                                   NM_CLIENT_DBUS_CONNECTION, bus,
                                   NM_CLIENT_INSTANCE_FLAGS, (guint) NM_CLIENT_INSTANCE_FLAGS_NO_AUTO_FETCH_PERMISSIONS,
                                   NULL);
        result = query_wait(&q, slot);
        if (!result)
                goto out;
        source = g_async_result_get_source_object(result);
        client = NM_CLIENT(g_async_initable_new_finish(G_ASYNC_INITABLE(source), result, NULL));
        if (client) {
                host = primary_address(client);
                release_client(context, client);
        }

out:
        g_source_destroy(deadline);
        /* Let cancelled steps finish here rather than in nobody's loop. */
        while (g_main_context_iteration(context, FALSE))
                ;
        g_main_context_pop_thread_default(context);
        return host;
}
