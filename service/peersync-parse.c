/* peersync-parse.c: peer-sync request bodies from untrusted text to plain structs. */
#include <string.h>

#include "cell-state.h"
#include "i18n.h"
#include "json-text.h"
#include "names.h"
#include "peersync-parse.h"
#include "pic-error.h"

struct PeerSyncBody {
        JsonParser *parser;
        JsonObject *object;   /* owned by parser */
};

static void *invalid(GError **error, const char *message) {
        g_set_error_literal(error, PIC_ERROR, PIC_ERROR_INVALID_ARGUMENT, message);
        return NULL;
}

PeerSyncBody *peersync_body_parse(const char *text, size_t len, GError **error) {
        g_autoptr(JsonParser) parser = NULL;
        g_autoptr(GError) cause = NULL;
        PeerSyncBody *body;
        JsonNode *root;
        const char *problem = NULL;
        size_t where = 0;

        g_return_val_if_fail(text || len == 0, NULL);

        if (len > G_MAXSSIZE || (len > 0 && (memchr(text, '\0', len) || !g_utf8_validate(text, (gssize) len, NULL))))
                /* Translators: the body of another cell's request; "names" in its JSON stay as they are. */
                return invalid(error, _("the body is not UTF-8 JSON text"));
        switch (json_text_check(text, len, PEERSYNC_BODY_MAX_DEPTH, &where, &problem)) {
        case JSON_TEXT_OK:
                break;
        case JSON_TEXT_TOO_DEEP:
                return invalid(error, _("the body is nested too deeply"));
        case JSON_TEXT_INVALID:
                g_set_error(error, PIC_ERROR, PIC_ERROR_INVALID_ARGUMENT,
                            _("the body is not valid JSON: %s at byte %zu"), problem, where);
                return NULL;
        }

        /* Only JSON reaches json-glib, which alone would take much that is
         * not, overflow its stack on deep nesting and leak on some of it. */
        parser = json_parser_new();
        if (!json_parser_load_from_data(parser, text, (gssize) len, &cause)) {
                g_set_error(error, PIC_ERROR, PIC_ERROR_INVALID_ARGUMENT, _("the body is not valid JSON: %s"),
                            cause->message);
                return NULL;
        }
        root = json_parser_get_root(parser);
        if (!root || !JSON_NODE_HOLDS_OBJECT(root))
                return invalid(error, _("the body must be a JSON object"));

        body = g_new0(PeerSyncBody, 1);
        body->object = json_node_get_object(root);
        body->parser = g_steal_pointer(&parser);
        return body;
}

void peersync_body_free(PeerSyncBody *body) {
        if (!body)
                return;
        g_object_unref(body->parser);
        g_free(body);
}

static const char *get_string(JsonObject *object, const char *name) {
        JsonNode *n = json_object_get_member(object, name);

        if (!n || !JSON_NODE_HOLDS_VALUE(n) || json_node_get_value_type(n) != G_TYPE_STRING)
                return NULL;
        return json_node_get_string(n);
}

static bool get_int(JsonObject *object, const char *name, gint64 *ret) {
        JsonNode *n = json_object_get_member(object, name);

        if (!n || !JSON_NODE_HOLDS_VALUE(n) || json_node_get_value_type(n) != G_TYPE_INT64)
                return false;
        *ret = json_node_get_int(n);
        return true;
}

static bool get_boolean(JsonObject *object, const char *name, bool *ret) {
        JsonNode *n = json_object_get_member(object, name);

        if (!n || !JSON_NODE_HOLDS_VALUE(n) || json_node_get_value_type(n) != G_TYPE_BOOLEAN)
                return false;
        *ret = json_node_get_boolean(n);
        return true;
}

const char *peersync_body_get_string(const PeerSyncBody *body, const char *name) {
        g_return_val_if_fail(body, NULL);
        g_return_val_if_fail(name, NULL);

        return get_string(body->object, name);
}

/* --- accept-invite --- */

PeerSyncAccept *peersync_accept_from_body(const PeerSyncBody *body, GError **error) {
        g_autoptr(PeerSyncAccept) accept = NULL;
        const char *pairing_id, *nonce;
        JsonNode *invite;
        gint64 ts;

        g_return_val_if_fail(body, NULL);

        pairing_id = get_string(body->object, "pairing_id");
        nonce = get_string(body->object, "nonce");
        invite = json_object_get_member(body->object, "invite");
        if (!pairing_id || !nonce || !get_int(body->object, "ts", &ts) || !invite || !JSON_NODE_HOLDS_OBJECT(invite))
                return invalid(error, _("the body needs \"invite\" (object), \"pairing_id\" and \"nonce\" (strings) "
                                 "and \"ts\" (integer)"));

        accept = g_new0(PeerSyncAccept, 1);
        accept->pairing_id = g_strdup(pairing_id);
        accept->ts = ts;
        accept->nonce = g_strdup(nonce);
        accept->invite_object = json_object_ref(json_node_get_object(invite));
        return g_steal_pointer(&accept);
}

void peersync_accept_free(PeerSyncAccept *accept) {
        if (!accept)
                return;
        g_free(accept->pairing_id);
        g_free(accept->nonce);
        if (accept->invite_object)
                json_object_unref(accept->invite_object);
        g_free(accept);
}

bool peersync_accept_check_nonce(const PeerSyncAccept *accept, GError **error) {
        uint8_t bytes[PAIRING_NONCE_BYTES];

        g_return_val_if_fail(accept, false);

        if (!pairing_base64url_decode(accept->nonce, bytes, sizeof(bytes), NULL)) {
                invalid(error, _("nonce: must be base64url of 16 bytes"));
                return false;
        }
        return true;
}

Invite *peersync_accept_get_invite(const PeerSyncAccept *accept, GError **error) {
        g_return_val_if_fail(accept, NULL);

        return invite_from_json_object(accept->invite_object, error);
}

/* --- permissions --- */

static bool read_inbound(JsonObject *inbound, GHashTable *ret, GError **error) {
        g_autoptr(GList) members = json_object_get_members(inbound);

        if (g_list_length(members) > CELL_STATE_MAX_SERVICES) {
                invalid(error, _("inbound: too many services"));
                return false;
        }
        for (GList *m = members; m; m = m->next) {
                JsonNode *value = json_object_get_member(inbound, m->data);

                if (!JSON_NODE_HOLDS_VALUE(value) || json_node_get_value_type(value) != G_TYPE_BOOLEAN ||
                    !names_validate_service_name(m->data, NULL)) {
                        invalid(error, _("inbound: every entry must be a service name with a boolean"));
                        return false;
                }
                g_hash_table_replace(ret, g_strdup(m->data), GINT_TO_POINTER(json_node_get_boolean(value)));
        }
        return true;
}

static bool read_exit_sources(JsonArray *sources, GPtrArray *ret, GError **error) {
        guint n = json_array_get_length(sources);

        if (n > PEERSYNC_MAX_EXIT_SOURCES) {
                invalid(error, _("exit_sources: too many entries"));
                return false;
        }
        for (guint i = 0; i < n; i++) {
                JsonNode *value = json_array_get_element(sources, i);

                if (!JSON_NODE_HOLDS_VALUE(value) || json_node_get_value_type(value) != G_TYPE_STRING) {
                        invalid(error, _("exit_sources: every entry must be a string"));
                        return false;
                }
                g_ptr_array_add(ret, g_strdup(json_node_get_string(value)));
        }
        return true;
}

PeerSyncPermissions *peersync_permissions_from_body(const PeerSyncBody *body, GError **error) {
        g_autoptr(PeerSyncPermissions) permissions = NULL;
        JsonNode *inbound, *sources;
        bool exit_offered, use_as_exit_relay;
        gint64 seq;

        g_return_val_if_fail(body, NULL);

        inbound = json_object_get_member(body->object, "inbound");
        sources = json_object_get_member(body->object, "exit_sources");
        if (!get_int(body->object, "seq", &seq) || seq <= 0 || !inbound || !JSON_NODE_HOLDS_OBJECT(inbound) ||
            !get_boolean(body->object, "exit_offered", &exit_offered) ||
            !get_boolean(body->object, "use_as_exit_relay", &use_as_exit_relay) ||
            (sources && !JSON_NODE_HOLDS_ARRAY(sources)))
                return invalid(error, _("the body needs \"seq\" (positive integer), \"inbound\" (object of booleans), "
                                 "\"exit_offered\" and \"use_as_exit_relay\" (booleans) and \"exit_sources\" (array)"));

        permissions = g_new0(PeerSyncPermissions, 1);
        permissions->from_cell = g_strdup(get_string(body->object, "from_cell"));
        permissions->from_public_key = g_strdup(get_string(body->object, "from_public_key"));
        permissions->seq = (uint64_t) seq;
        permissions->inbound = g_hash_table_new_full(g_str_hash, g_str_equal, g_free, NULL);
        permissions->exit_offered = exit_offered;
        permissions->use_as_exit_relay = use_as_exit_relay;
        permissions->exit_sources = g_ptr_array_new_with_free_func(g_free);

        if (!read_inbound(json_node_get_object(inbound), permissions->inbound, error))
                return NULL;
        if (sources && !read_exit_sources(json_node_get_array(sources), permissions->exit_sources, error))
                return NULL;
        return g_steal_pointer(&permissions);
}

void peersync_permissions_free(PeerSyncPermissions *permissions) {
        if (!permissions)
                return;
        g_free(permissions->from_cell);
        g_free(permissions->from_public_key);
        if (permissions->inbound)
                g_hash_table_unref(permissions->inbound);
        if (permissions->exit_sources)
                g_ptr_array_unref(permissions->exit_sources);
        g_free(permissions);
}

/* --- unlink --- */

PeerSyncUnlink *peersync_unlink_from_body(const PeerSyncBody *body, GError **error) {
        PeerSyncUnlink *unlink;
        const char *key;

        g_return_val_if_fail(body, NULL);

        key = get_string(body->object, "from_public_key");
        if (!key)
                return invalid(error, _("the body needs \"from_public_key\" (string)"));

        unlink = g_new0(PeerSyncUnlink, 1);
        unlink->from_cell = g_strdup(get_string(body->object, "from_cell"));
        unlink->from_public_key = g_strdup(key);
        return unlink;
}

void peersync_unlink_free(PeerSyncUnlink *unlink) {
        if (!unlink)
                return;
        g_free(unlink->from_cell);
        g_free(unlink->from_public_key);
        g_free(unlink);
}

/* --- update --- */

Invite *peersync_update_from_body(const PeerSyncBody *body, GError **error) {
        g_return_val_if_fail(body, NULL);

        return invite_from_json_object(body->object, error);
}

/* --- answers --- */

char *peersync_answer_get_error(const char *text, size_t len) {
        g_autoptr(PeerSyncBody) body = NULL;
        g_autofree char *clean = NULL, *cut = NULL;
        const char *message, *end;

        /* Parsed like a request, so its strings are UTF-8 without NUL. */
        body = peersync_body_parse(text, len, NULL);
        message = body ? get_string(body->object, "error") : NULL;
        if (!message || !message[0])
                return NULL;

        clean = g_strdup(message);
        for (char *c = clean; *c; c++)
                if ((unsigned char) *c < 0x20 || *c == 0x7f)
                        *c = ' ';
        if (strlen(clean) <= PEERSYNC_ANSWER_ERROR_MAX)
                return g_steal_pointer(&clean);
        /* Cut at a character boundary, leaving room for the mark. */
        end = clean + PEERSYNC_ANSWER_ERROR_MAX - strlen("...");
        while (end > clean && ((unsigned char) *end & 0xc0) == 0x80)
                end--;
        cut = g_strndup(clean, (size_t) (end - clean));
        return g_strconcat(cut, "...", NULL);
}
