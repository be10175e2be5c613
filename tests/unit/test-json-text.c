/* test-json-text.c: unit tests for the strict JSON text check, including the
 * texts json-glib 1.6 mishandled that the fuzz harnesses found. */
#include <string.h>
#include <glib.h>

#include "json-text.h"
#include "unit-main.h"

static const char *const valid[] = {
        "{}", "[]", "0", "-0", "1.5e-3", "-12E+2", "true", "false", "null", "\"\"",
        " \t\r\n{ \"a\" : [ 1 , { \"b\" : null } ] , \"c\" : \"x\" } \n",
        "\"\\\" \\\\ \\/ \\b \\f \\n \\r \\t \\u00e9 \\ud83d\\ude00\"",
        "\"caf\xc3\xa9 \xf0\x9f\x98\x80\"",
        "[[[[[[[[]]]]]]]]",     /* 8 levels, the limit used below */
};

static const struct {
        const char *text;
        size_t offset;
        const char *problem;
} invalid[] = {
        { "", 0, "there is no value" },
        { "   ", 3, "there is no value" },
        { "{", 1, "the text ends early" },
        { "[1,", 3, "the text ends early" },
        { "{\"a\":1,}", 7, "a member name (a string) is expected" },
        { "[1,]", 3, "a value is expected" },
        { "{\"a\" 1}", 5, "':' is expected after a member name" },
        { "{\"a\":1 \"b\":2}", 7, "',' or '}' is expected" },
        { "[1 2]", 3, "',' or ']' is expected" },
        { "[1}", 2, "',' or ']' is expected" },
        /* What json-glib took, and sometimes leaked on. */
        { "1 {\"a\":1}", 2, "text follows the value" },
        { "{} []", 3, "text follows the value" },
        { "{}}", 2, "text follows the value" },
        { "'a'", 0, "a value is expected" },
        { "{'a':1}", 1, "a member name (a string) is expected" },
        { "/* c */ {}", 0, "a value is expected" },
        { "{\"a\":0x10}", 6, "',' or '}' is expected" },
        { "{\"a\":.5}", 5, "a value is expected" },
        { "{\"a\":1.}", 5, "a number is malformed" },
        { "{\"a\":01}", 6, "',' or '}' is expected" },
        { "{\"a\":-}", 5, "a number is malformed" },
        { "{\"a\":1e}", 5, "a number is malformed" },
        { "{\"a\":+1}", 5, "a value is expected" },
        { "[tru]", 1, "a value is expected" },
        { "[True]", 1, "a value is expected" },
        { "\"a\nb\"", 2, "a string holds a control character" },
        { "\"a", 0, "a string is not closed" },
        { "\"\\", 1, "a string ends inside an escape" },
        { "\"\\x\"", 1, "a string holds an invalid escape" },
        { "\"\\u12\"", 1, "a string holds an invalid escape" },
        { "\"\\uzzzz\"", 1, "a string holds an invalid escape" },
        { "\"\\u0000\"", 1, "a string holds \\u0000" },
        { "\"\\ud800\"", 1, "a string holds half a UTF-16 surrogate pair" },
        { "\"\\ud800x\"", 1, "a string holds half a UTF-16 surrogate pair" },
        { "\"\\udc00\"", 1, "a string holds half a UTF-16 surrogate pair" },
        { "\"\\ud800\\ud800\"", 1, "a string holds half a UTF-16 surrogate pair" },
        { "\"\\ud800\\u\"", 7, "a string holds an invalid escape" },
        { "\"\xff\"", 1, "a string is not UTF-8" },
        { "\"\xc3\"", 1, "a string is not UTF-8" },
        { "\"\xed\xa0\x80\"", 1, "a string is not UTF-8" },    /* an encoded surrogate */
        { "\"\xc0\xaf\"", 1, "a string is not UTF-8" },        /* overlong */
        { "\xef\xbb\xbf{}", 0, "a value is expected" },         /* a byte order mark */
};

START_TEST(test_valid) {
        for (size_t i = 0; i < G_N_ELEMENTS(valid); i++) {
                size_t offset = 99;
                const char *problem = NULL;

                ck_assert_msg(json_text_check(valid[i], strlen(valid[i]), 8, &offset, &problem) == JSON_TEXT_OK,
                              "'%s' refused: %s at %zu", valid[i], problem, offset);
                ck_assert_uint_eq(offset, 99);  /* untouched on success */
        }
}
END_TEST

START_TEST(test_invalid) {
        const char *text = invalid[_i].text;
        size_t offset = 0;
        const char *problem = NULL;

        ck_assert_msg(json_text_check(text, strlen(text), 8, &offset, &problem) == JSON_TEXT_INVALID,
                      "'%s' accepted", text);
        ck_assert_str_eq(problem, invalid[_i].problem);
        ck_assert_msg(offset == invalid[_i].offset, "'%s': offset %zu, not %zu", text, offset, invalid[_i].offset);
}
END_TEST

START_TEST(test_nul_inside) {
        static const char text[] = "{\"a\":\"x\0y\"}";
        size_t offset = 0;
        const char *problem = NULL;

        ck_assert_int_eq(json_text_check(text, sizeof(text) - 1, 8, &offset, &problem), JSON_TEXT_INVALID);
        ck_assert_str_eq(problem, "a string holds a control character");
        ck_assert_uint_eq(offset, 7);
        ck_assert_int_eq(json_text_check(NULL, 0, 8, NULL, NULL), JSON_TEXT_INVALID);
}
END_TEST

START_TEST(test_depth) {
        /* Deep enough to overflow json-glib's stack: refused at the limit, without recursion. */
        size_t n = 1000000;
        g_autofree char *deep = g_malloc(2 * n);
        size_t offset = 0;
        const char *problem = NULL;

        memset(deep, '[', n);
        memset(deep + n, ']', n);
        ck_assert_int_eq(json_text_check(deep, 2 * n, 8, &offset, &problem), JSON_TEXT_TOO_DEEP);
        ck_assert_uint_eq(offset, 8);
        ck_assert_int_eq(json_text_check(deep + n - 8, 16, 8, NULL, NULL), JSON_TEXT_OK);
        ck_assert_int_eq(json_text_check(deep + n - 9, 18, 8, NULL, NULL), JSON_TEXT_TOO_DEEP);
        ck_assert_int_eq(json_text_check(deep + n - 64, 128, JSON_TEXT_MAX_DEPTH, NULL, NULL), JSON_TEXT_OK);
        /* Objects and arrays mixed keep their kinds apart at every level. */
        {
                static const char mixed[] = "[{\"a\":[{\"b\":[]}]}]", crossed[] = "[{\"a\":[{\"b\":[}]}]";

                ck_assert_int_eq(json_text_check(mixed, strlen(mixed), 8, NULL, NULL), JSON_TEXT_OK);
                ck_assert_int_eq(json_text_check(crossed, strlen(crossed), 8, NULL, NULL), JSON_TEXT_INVALID);
        }
}
END_TEST

Suite *unit_suite(void) {
        Suite *s = suite_create("json-text");
        TCase *tc = tcase_create("core");

        tcase_add_test(tc, test_valid);
        tcase_add_loop_test(tc, test_invalid, 0, G_N_ELEMENTS(invalid));
        tcase_add_test(tc, test_nul_inside);
        tcase_add_test(tc, test_depth);
        suite_add_tcase(s, tc);
        return s;
}
