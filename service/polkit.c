/* polkit.c: CheckAuthorization over the bus, asynchronously; the parked method
 * call is re-dispatched with sd_bus_enqueue_for_read() when the answer arrives. */
#include <errno.h>
#include <stdbool.h>
#include <glib.h>

#include "polkit.h"

/* One question to polkit about one method call. */
typedef struct {
        PolkitRegistry *registry;
        sd_bus_message *request;
        sd_bus_slot *slot;
        char *action;
        bool answered;
        int verdict; /* 1 yes, -EACCES no, -EBUSY interaction needed, other <0 failure */
        char *failure;
} PolkitQuery;

struct PolkitRegistry {
        GHashTable *queries; /* sd_bus_message* -> PolkitQuery* */
};

static void polkit_query_free(PolkitQuery *query) {
        if (!query)
                return;
        sd_bus_slot_unref(query->slot);
        sd_bus_message_unref(query->request);
        g_free(query->action);
        g_free(query->failure);
        g_free(query);
}

PolkitRegistry *polkit_registry_new(void) {
        PolkitRegistry *registry = g_new0(PolkitRegistry, 1);

        registry->queries = g_hash_table_new_full(g_direct_hash, g_direct_equal, NULL,
                                                  (GDestroyNotify) polkit_query_free);
        return registry;
}

PolkitRegistry *polkit_registry_free(PolkitRegistry *registry) {
        if (!registry)
                return NULL;
        g_hash_table_destroy(registry->queries);
        g_free(registry);
        return NULL;
}

static int on_check_authorization_reply(sd_bus_message *reply, void *userdata, sd_bus_error *ret_error) {
        PolkitQuery *query = userdata;
        const sd_bus_error *e;
        int authorized = 0, challenge = 0;
        int r;

        query->slot = sd_bus_slot_unref(query->slot);
        query->answered = true;

        e = sd_bus_message_get_error(reply);
        if (e) {
                query->verdict = -EIO;
                query->failure = g_strdup_printf("Authorization could not be checked: %s",
                                                 e->message ?: e->name);
        } else {
                r = sd_bus_message_enter_container(reply, 'r', "bba{ss}");
                if (r >= 0)
                        r = sd_bus_message_read(reply, "bb", &authorized, &challenge);
                if (r < 0) {
                        query->verdict = -EIO;
                        query->failure = g_strdup("Authorization could not be checked: malformed answer from polkit");
                } else if (authorized)
                        query->verdict = 1;
                else if (challenge)
                        query->verdict = -EBUSY;
                else
                        query->verdict = -EACCES;
        }

        /* Run the parked method call again; its handler finds the verdict. */
        r = sd_bus_message_rewind(query->request, true);
        if (r >= 0)
                r = sd_bus_enqueue_for_read(sd_bus_message_get_bus(query->request), query->request);
        if (r < 0) {
                g_warning("Failed to re-dispatch a method call after authorization: %s", g_strerror(-r));
                g_hash_table_remove(query->registry->queries, query->request);
        }
        return 0;
}

static int sender_is_root(sd_bus_message *message) {
        sd_bus_creds *creds = NULL;
        uid_t uid;
        int r;

        r = sd_bus_query_sender_creds(message, SD_BUS_CREDS_EUID | SD_BUS_CREDS_AUGMENT, &creds);
        if (r < 0)
                return r;
        r = sd_bus_creds_get_euid(creds, &uid);
        sd_bus_creds_unref(creds);
        if (r < 0)
                return r;
        return uid == 0;
}

static int verdict_to_error(const PolkitQuery *query, sd_bus_error *error) {
        switch (query->verdict) {
        case 1:
                return 1;
        case -EACCES:
                return sd_bus_error_setf(error, SD_BUS_ERROR_ACCESS_DENIED,
                                         "Not authorized to perform %s", query->action);
        case -EBUSY:
                return sd_bus_error_setf(error, SD_BUS_ERROR_INTERACTIVE_AUTHORIZATION_REQUIRED,
                                         "Interactive authentication is needed for %s", query->action);
        default:
                return sd_bus_error_set(error, SD_BUS_ERROR_ACCESS_DENIED,
                                        query->failure ?: "Authorization could not be checked");
        }
}

int polkit_verify_async(PolkitRegistry *registry, sd_bus_message *message,
                        const char *action, sd_bus_error *error) {
        sd_bus_message *call = NULL;
        PolkitQuery *query;
        const char *sender;
        int interactive;
        int r;

        query = g_hash_table_lookup(registry->queries, message);
        if (query) {
                if (!query->answered)
                        return 0;
                if (g_strcmp0(query->action, action) != 0) {
                        /* A handler asking for two actions would be a bug of ours. */
                        g_hash_table_remove(registry->queries, message);
                        return sd_bus_error_set(error, SD_BUS_ERROR_ACCESS_DENIED,
                                                "Inconsistent authorization request");
                }
                r = verdict_to_error(query, error);
                g_hash_table_remove(registry->queries, message);
                return r;
        }

        r = sender_is_root(message);
        if (r > 0)
                return 1;
        /* If credentials cannot be read, fall through to polkit: it decides. */

        sender = sd_bus_message_get_sender(message);
        if (!sender)
                return sd_bus_error_set(error, SD_BUS_ERROR_ACCESS_DENIED,
                                        "The caller has no bus name to authorize");
        interactive = sd_bus_message_get_allow_interactive_authorization(message) > 0;

        r = sd_bus_message_new_method_call(sd_bus_message_get_bus(message), &call,
                                           "org.freedesktop.PolicyKit1",
                                           "/org/freedesktop/PolicyKit1/Authority",
                                           "org.freedesktop.PolicyKit1.Authority",
                                           "CheckAuthorization");
        if (r < 0)
                return r;
        r = sd_bus_message_append(call, "(sa{sv})sa{ss}us",
                                  "system-bus-name", 1, "name", "s", sender,
                                  action, 0, (uint32_t) (interactive ? 1 : 0), "");
        if (r < 0) {
                sd_bus_message_unref(call);
                return r;
        }

        query = g_new0(PolkitQuery, 1);
        query->registry = registry;
        query->request = sd_bus_message_ref(message);
        query->action = g_strdup(action);

        /* polkit may wait for a password for a long time: no time-out of ours. */
        r = sd_bus_call_async(sd_bus_message_get_bus(message), &query->slot, call,
                              on_check_authorization_reply, query, UINT64_MAX);
        sd_bus_message_unref(call);
        if (r < 0) {
                polkit_query_free(query);
                return r;
        }
        g_hash_table_insert(registry->queries, message, query);
        return 0;
}
