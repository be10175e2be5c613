/* json-writer.c: pretty-printed JSON written in one pass (see json-writer.h). */
#include <inttypes.h>

#include "json-writer.h"

void json_writer_init(JsonWriter *w) {
        *w = (JsonWriter) { .out = g_string_sized_new(4096) };
}

void json_writer_init_compact(JsonWriter *w) {
        *w = (JsonWriter) { .out = g_string_sized_new(1024), .compact = true };
}

char *json_writer_finish(JsonWriter *w) {
        g_assert(w->depth == 0);
        if (!w->compact)
                g_string_append_c(w->out, '\n');
        return g_string_free(g_steal_pointer(&w->out), FALSE);
}

static void indent(JsonWriter *w) {
        if (w->compact)
                return;
        g_string_append_c(w->out, '\n');
        for (unsigned i = 0; i < w->depth; i++)
                g_string_append(w->out, "  ");
}

static void append_quoted(GString *out, const char *text) {
        g_autofree char *valid = NULL;

        if (!g_utf8_validate(text, -1, NULL))
                text = valid = g_utf8_make_valid(text, -1);
        g_string_append_c(out, '"');
        for (const unsigned char *c = (const unsigned char *) text; *c; c++)
                switch (*c) {
                case '"':
                        g_string_append(out, "\\\"");
                        break;
                case '\\':
                        g_string_append(out, "\\\\");
                        break;
                case '\n':
                        g_string_append(out, "\\n");
                        break;
                case '\t':
                        g_string_append(out, "\\t");
                        break;
                case '\r':
                        g_string_append(out, "\\r");
                        break;
                default:
                        if (*c < 0x20 || *c == 0x7f)
                                g_string_append_printf(out, "\\u%04x", *c);
                        else
                                g_string_append_c(out, (char) *c);
                }
        g_string_append_c(out, '"');
}

/* Starts an item of the open container: separator, new line, member name. */
static void begin_item(JsonWriter *w, const char *key) {
        if (w->depth > 0) {
                if (w->has_items[w->depth - 1])
                        g_string_append_c(w->out, ',');
                w->has_items[w->depth - 1] = true;
                indent(w);
        }
        if (key) {
                append_quoted(w->out, key);
                g_string_append(w->out, " : ");
        }
}

static void open_container(JsonWriter *w, const char *key, char bracket) {
        g_assert(w->depth < JSON_WRITER_MAX_DEPTH);
        begin_item(w, key);
        g_string_append_c(w->out, bracket);
        w->has_items[w->depth++] = false;
}

static void close_container(JsonWriter *w, char bracket) {
        g_assert(w->depth > 0);
        w->depth--;
        if (w->has_items[w->depth])
                indent(w);
        g_string_append_c(w->out, bracket);
}

void json_writer_begin_object(JsonWriter *w, const char *key) {
        open_container(w, key, '{');
}

void json_writer_end_object(JsonWriter *w) {
        close_container(w, '}');
}

void json_writer_begin_array(JsonWriter *w, const char *key) {
        open_container(w, key, '[');
}

void json_writer_end_array(JsonWriter *w) {
        close_container(w, ']');
}

void json_writer_string(JsonWriter *w, const char *key, const char *value) {
        begin_item(w, key);
        if (value)
                append_quoted(w->out, value);
        else
                g_string_append(w->out, "null");
}

void json_writer_int(JsonWriter *w, const char *key, int64_t value) {
        begin_item(w, key);
        g_string_append_printf(w->out, "%" PRId64, value);
}

void json_writer_bool(JsonWriter *w, const char *key, bool value) {
        begin_item(w, key);
        g_string_append(w->out, value ? "true" : "false");
}

void json_writer_null(JsonWriter *w, const char *key) {
        begin_item(w, key);
        g_string_append(w->out, "null");
}
