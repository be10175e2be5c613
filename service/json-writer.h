/* json-writer.h: writes pretty-printed JSON straight into a string, member by
 * member, for the state file: no document tree is built, so saving a large
 * cell costs one pass over its model. */
#pragma once

#include <stdbool.h>
#include <stdint.h>
#include <glib.h>

#define JSON_WRITER_MAX_DEPTH 16

typedef struct {
        GString *out;
        bool compact;   /* all on one line, without the final newline */
        unsigned depth;
        bool has_items[JSON_WRITER_MAX_DEPTH]; /* per open container: something written into it yet */
} JsonWriter;

void json_writer_init(JsonWriter *w);
/* The same on one line, for a journal record. */
void json_writer_init_compact(JsonWriter *w);
/* The text, ending in a newline; the writer is spent. */
char *json_writer_finish(JsonWriter *w);

/* @key names the member inside an object and is NULL inside an array or at the top. */
void json_writer_begin_object(JsonWriter *w, const char *key);
void json_writer_end_object(JsonWriter *w);
void json_writer_begin_array(JsonWriter *w, const char *key);
void json_writer_end_array(JsonWriter *w);

/* A NULL @value is written as null; text that is not UTF-8 is made valid. */
void json_writer_string(JsonWriter *w, const char *key, const char *value);
void json_writer_int(JsonWriter *w, const char *key, int64_t value);
void json_writer_bool(JsonWriter *w, const char *key, bool value);
void json_writer_null(JsonWriter *w, const char *key);
