/* test-json-writer.c: unit tests for the one-pass JSON writer of the state
 * file: layout, escaping, text that is not UTF-8, and that json-glib reads
 * back exactly what was written. */
#include <json-glib/json-glib.h>

#include "json-writer.h"
#include "unit-main.h"

START_TEST(test_layout) {
        JsonWriter w;
        g_autofree char *text = NULL;

        json_writer_init(&w);
        json_writer_begin_object(&w, NULL);
        json_writer_int(&w, "version", 2);
        json_writer_begin_array(&w, "empty");
        json_writer_end_array(&w);
        json_writer_begin_object(&w, "none");
        json_writer_end_object(&w);
        json_writer_begin_array(&w, "ports");
        json_writer_begin_array(&w, NULL);
        json_writer_string(&w, NULL, "tcp");
        json_writer_int(&w, NULL, -25);
        json_writer_end_array(&w);
        json_writer_end_array(&w);
        json_writer_bool(&w, "on", true);
        json_writer_null(&w, "off");
        json_writer_string(&w, "missing", NULL);
        json_writer_end_object(&w);
        text = json_writer_finish(&w);

        ck_assert_str_eq(text,
                         "{\n"
                         "  \"version\" : 2,\n"
                         "  \"empty\" : [],\n"
                         "  \"none\" : {},\n"
                         "  \"ports\" : [\n"
                         "    [\n"
                         "      \"tcp\",\n"
                         "      -25\n"
                         "    ]\n"
                         "  ],\n"
                         "  \"on\" : true,\n"
                         "  \"off\" : null,\n"
                         "  \"missing\" : null\n"
                         "}\n");
}
END_TEST

static const struct {
        const char *raw;
        const char *written;
        const char *read_back;
} strings[] = {
        { "plain", "\"plain\"", "plain" },
        { "q\"b\\s/", "\"q\\\"b\\\\s/\"", "q\"b\\s/" },
        { "n\nt\tr\r", "\"n\\nt\\tr\\r\"", "n\nt\tr\r" },
        { "\x01\x1f\x7f", "\"\\u0001\\u001f\\u007f\"", "\x01\x1f\x7f" },
        { "caf\xc3\xa9 \xf0\x9f\x98\x80", "\"caf\xc3\xa9 \xf0\x9f\x98\x80\"", "caf\xc3\xa9 \xf0\x9f\x98\x80" },
        /* Not UTF-8: the byte becomes U+FFFD, so that the file stays readable. */
        { "a\xff" "b", "\"a\xef\xbf\xbd" "b\"", "a\xef\xbf\xbd" "b" },
};

START_TEST(test_strings) {
        JsonWriter w;
        g_autofree char *text = NULL;
        g_autofree char *expected = NULL;
        g_autoptr(JsonParser) parser = json_parser_new();
        g_autoptr(GError) error = NULL;

        json_writer_init(&w);
        json_writer_string(&w, NULL, strings[_i].raw);
        text = json_writer_finish(&w);
        expected = g_strconcat(strings[_i].written, "\n", NULL);
        ck_assert_str_eq(text, expected);

        ck_assert_msg(json_parser_load_from_data(parser, text, -1, &error), "%s", error ? error->message : "");
        ck_assert_str_eq(json_node_get_string(json_parser_get_root(parser)), strings[_i].read_back);
}
END_TEST

Suite *unit_suite(void) {
        Suite *s = suite_create("json-writer");
        TCase *tc = tcase_create("writer");

        tcase_add_test(tc, test_layout);
        tcase_add_loop_test(tc, test_strings, 0, G_N_ELEMENTS(strings));
        suite_add_tcase(s, tc);
        return s;
}
