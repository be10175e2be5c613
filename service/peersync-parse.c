/* peersync-parse.c: peer-sync request bodies from untrusted text to plain structs. */
#include <string.h>

#include "cell-state.h"
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

typedef enum {
        TEXT_OK,
        TEXT_TOO_DEEP,
        TEXT_SEVERAL_VALUES,
        TEXT_BAD_ESCAPE,
        TEXT_LONE_SURROGATE,
        TEXT_NUL_ESCAPE,
} TextCheck;

/* The 16-bit value of the four hex digits at @p, or -1. */
static int hex4(const char *p, const char *end) {
        int value = 0;

        if (end - p < 4)
                return -1;
        for (int i = 0; i < 4; i++) {
                int digit = g_ascii_xdigit_value(p[i]);

                if (digit < 0)
                        return -1;
                value = value * 16 + digit;
        }
        return value;
}

/* Checks the escape after the backslash at @p; *ret_next is where the
 * string goes on. */
static TextCheck check_escape(const char *p, const char *end, const char **ret_next) {
        int unit, low;

        if (p + 1 >= end)
                return TEXT_BAD_ESCAPE;
        if (strchr("\"\\/bfnrt", p[1]) && p[1] != '\0') {
                *ret_next = p + 2;
                return TEXT_OK;
        }
        if (p[1] != 'u')
                return TEXT_BAD_ESCAPE;
        unit = hex4(p + 2, end);
        if (unit < 0)
                return TEXT_BAD_ESCAPE;
        if (unit == 0)
                return TEXT_NUL_ESCAPE;
        if (unit >= 0xdc00 && unit <= 0xdfff)
                return TEXT_LONE_SURROGATE;
        if (unit < 0xd800 || unit > 0xdbff) {
                *ret_next = p + 6;
                return TEXT_OK;
        }
        /* A high surrogate needs its low half right after it. */
        if (end - (p + 6) < 2 || p[6] != '\\' || p[7] != 'u')
                return TEXT_LONE_SURROGATE;
        low = hex4(p + 8, end);
        if (low < 0)
                return TEXT_BAD_ESCAPE;
        if (low < 0xdc00 || low > 0xdfff)
                return TEXT_LONE_SURROGATE;
        *ret_next = p + 12;
        return TEXT_OK;
}

/* What json-glib 1.6 gets wrong, caught before it sees the text: it recurses
 * once per nesting level (deep text overflows the stack); it takes an object
 * or array that follows another value as the document and leaks the rest
 * ("1 {...}"); it accepts escapes JSON has not ("\x", "\uzzzz", half a
 * surrogate pair), decoding some to bytes that are not UTF-8 and leaking on
 * others; and "\u0000" silently cuts its strings short. */
static TextCheck check_text(const char *text, size_t len, unsigned max_depth, size_t *ret_where) {
        const char *p = text, *end = text + len;
        unsigned depth = 0;
        bool in_string = false, seen_value = false;

        while (p < end) {
                char c = *p;
                TextCheck check = TEXT_OK;

                if (in_string) {
                        if (c == '\\')
                                check = check_escape(p, end, &p);
                        else {
                                in_string = c != '"';
                                p++;
                        }
                        if (check != TEXT_OK) {
                                *ret_where = (size_t) (p - text);
                                return check;
                        }
                        continue;
                }
                if (c == '{' || c == '[') {
                        if (depth == 0 && seen_value)
                                check = TEXT_SEVERAL_VALUES;
                        else if (++depth > max_depth)
                                check = TEXT_TOO_DEEP;
                } else if ((c == '}' || c == ']') && depth > 0)
                        depth--;
                else if (c == '"')
                        in_string = true;
                if (check != TEXT_OK) {
                        *ret_where = (size_t) (p - text);
                        return check;
                }
                if (!g_ascii_isspace(c))
                        seen_value = true;
                p++;
        }
        return TEXT_OK;
}

/* json-glib quotes the token it stopped at, decoded: a "\ud800" escape
 * becomes bytes that are not UTF-8, which neither a JSON answer nor D-Bus
 * may carry. */
static void invalid_json(GError **error, const char *prefix, const GError *cause) {
        g_autofree char *valid = g_utf8_make_valid(cause->message, -1);

        g_set_error(error, PIC_ERROR, PIC_ERROR_INVALID_ARGUMENT, "%s: %s", prefix, valid);
}

PeerSyncBody *peersync_body_parse(const char *text, size_t len, GError **error) {
        g_autoptr(JsonParser) parser = NULL;
        g_autoptr(GError) cause = NULL;
        PeerSyncBody *body;
        JsonNode *root;
        size_t where = 0;

        g_return_val_if_fail(text || len == 0, NULL);

        if (len > G_MAXSSIZE || (len > 0 && (memchr(text, '\0', len) || !g_utf8_validate(text, (gssize) len, NULL))))
                return invalid(error, "the body is not UTF-8 JSON text");
        switch (check_text(text, len, PEERSYNC_BODY_MAX_DEPTH, &where)) {
        case TEXT_OK:
                break;
        case TEXT_TOO_DEEP:
                return invalid(error, "the body is nested too deeply");
        case TEXT_SEVERAL_VALUES:
                return invalid(error, "the body is not valid JSON: it holds more than one value");
        case TEXT_BAD_ESCAPE:
                g_set_error(error, PIC_ERROR, PIC_ERROR_INVALID_ARGUMENT,
                            "the body is not valid JSON: a string holds an invalid escape at byte %zu", where);
                return NULL;
        case TEXT_LONE_SURROGATE:
                g_set_error(error, PIC_ERROR, PIC_ERROR_INVALID_ARGUMENT,
                            "the body is not valid JSON: a string holds half a UTF-16 surrogate pair at byte %zu",
                            where);
                return NULL;
        case TEXT_NUL_ESCAPE:
                g_set_error(error, PIC_ERROR, PIC_ERROR_INVALID_ARGUMENT,
                            "the body is not valid JSON: a string holds \\u0000 at byte %zu", where);
                return NULL;
        }

        parser = json_parser_new();
        if (!json_parser_load_from_data(parser, len > 0 ? text : "", (gssize) len, &cause)) {
                invalid_json(error, "the body is not valid JSON", cause);
                return NULL;
        }
        root = json_parser_get_root(parser);
        if (!root || !JSON_NODE_HOLDS_OBJECT(root))
                return invalid(error, "the body must be a JSON object");

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
                return invalid(error, "the body needs \"invite\" (object), \"pairing_id\" and \"nonce\" (strings) "
                               "and \"ts\" (integer)");

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
                invalid(error, "nonce: must be base64url of 16 bytes");
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
                invalid(error, "inbound: too many services");
                return false;
        }
        for (GList *m = members; m; m = m->next) {
                JsonNode *value = json_object_get_member(inbound, m->data);

                if (!JSON_NODE_HOLDS_VALUE(value) || json_node_get_value_type(value) != G_TYPE_BOOLEAN ||
                    !names_validate_service_name(m->data, NULL)) {
                        invalid(error, "inbound: every entry must be a service name with a boolean");
                        return false;
                }
                g_hash_table_replace(ret, g_strdup(m->data), GINT_TO_POINTER(json_node_get_boolean(value)));
        }
        return true;
}

static bool read_exit_sources(JsonArray *sources, GPtrArray *ret, GError **error) {
        guint n = json_array_get_length(sources);

        if (n > PEERSYNC_MAX_EXIT_SOURCES) {
                invalid(error, "exit_sources: too many entries");
                return false;
        }
        for (guint i = 0; i < n; i++) {
                JsonNode *value = json_array_get_element(sources, i);

                if (!JSON_NODE_HOLDS_VALUE(value) || json_node_get_value_type(value) != G_TYPE_STRING) {
                        invalid(error, "exit_sources: every entry must be a string");
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
                return invalid(error, "the body needs \"seq\" (positive integer), \"inbound\" (object of booleans), "
                               "\"exit_offered\" and \"use_as_exit_relay\" (booleans) and \"exit_sources\" (array)");

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
                return invalid(error, "the body needs \"from_public_key\" (string)");

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
        g_autofree char *valid = NULL, *cut = NULL;
        const char *message, *end;

        body = peersync_body_parse(text, len, NULL);
        message = body ? get_string(body->object, "error") : NULL;
        if (!message || !message[0])
                return NULL;

        valid = g_utf8_make_valid(message, -1);
        for (char *c = valid; *c; c++)
                if ((unsigned char) *c < 0x20 || *c == 0x7f)
                        *c = ' ';
        if (strlen(valid) <= PEERSYNC_ANSWER_ERROR_MAX)
                return g_steal_pointer(&valid);
        /* Cut at a character boundary, leaving room for the mark. */
        end = valid + PEERSYNC_ANSWER_ERROR_MAX - strlen("...");
        while (end > valid && ((unsigned char) *end & 0xc0) == 0x80)
                end--;
        cut = g_strndup(valid, (size_t) (end - valid));
        return g_strconcat(cut, "...", NULL);
}
