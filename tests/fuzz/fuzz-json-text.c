/* fuzz-json-text.c: libFuzzer harness for json_text_check(), against
 * json-glib: text the check passes must parse, without leaks, into strings
 * that are UTF-8; what it refuses is refused with a place and a reason. */
#include <json-glib/json-glib.h>

#include "fuzz-common.h"
#include "json-text.h"

#define DEPTH 16

static void check_node(JsonNode *node) {
        if (JSON_NODE_HOLDS_OBJECT(node)) {
                JsonObject *object = json_node_get_object(node);
                g_autoptr(GList) members = json_object_get_members(object);

                for (GList *m = members; m; m = m->next) {
                        FUZZ_CHECK(g_utf8_validate(m->data, -1, NULL));
                        check_node(json_object_get_member(object, m->data));
                }
        } else if (JSON_NODE_HOLDS_ARRAY(node)) {
                JsonArray *array = json_node_get_array(node);

                for (guint i = 0; i < json_array_get_length(array); i++)
                        check_node(json_array_get_element(array, i));
        } else if (JSON_NODE_HOLDS_VALUE(node) && json_node_get_value_type(node) == G_TYPE_STRING)
                FUZZ_CHECK(g_utf8_validate(json_node_get_string(node), -1, NULL));
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
        g_autoptr(JsonParser) parser = NULL;
        const char *problem = NULL;
        size_t offset = SIZE_MAX;
        JsonTextStatus status;

        status = json_text_check((const char *) data, size, DEPTH, &offset, &problem);
        if (status != JSON_TEXT_OK) {
                FUZZ_CHECK(problem && problem[0]);
                FUZZ_CHECK(offset <= size);
                return 0;
        }
        FUZZ_CHECK(offset == SIZE_MAX);

        parser = json_parser_new();
        FUZZ_CHECK(json_parser_load_from_data(parser, size ? (const char *) data : "", (gssize) size, NULL));
        FUZZ_CHECK(json_parser_get_root(parser));
        check_node(json_parser_get_root(parser));
        return 0;
}
