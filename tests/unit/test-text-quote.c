/* test-text-quote.c: unit tests for the escaping and cutting of values quoted in error messages. */
#include <string.h>
#include <glib.h>

#include "text-quote.h"
#include "unit-main.h"

static const struct {
        const char *value;
        size_t max;
        const char *quoted;
} cases[] = {
        { NULL, 10, "" },
        { "", 10, "" },
        { "", 0, "" },
        { "cella", 10, "cella" },
        { "0123456789", 10, "0123456789" },             /* exactly the limit: not cut */
        { "0123456789a", 10, "0123456789..." },         /* one more: cut */
        { "x", 0, "..." },
        { "a\nb\tc\r", 10, "a\\nb\\tc\\r" },
        { "\x01\x1f\x7f", 10, "\\001\\037\\177" },
        { "say \"hi\"\\", 20, "say \\\"hi\\\"\\\\" },
        { "it's", 10, "it's" },                          /* the caller's quote marks are its own */
        { "caf\xc3\xa9", 10, "caf\\303\\251" },          /* non-ASCII: octal, so plain ASCII */
        { "caf\xc3\xa9", 4, "caf\\303..." },             /* cut inside a UTF-8 sequence */
        { "\xff\xfe", 10, "\\377\\376" },                /* not UTF-8 at all */
        { "a\nb", 1, "a..." },                           /* the limit counts input bytes */
        { "a\nb", 2, "a\\n..." },
};

START_TEST(test_quote_table) {
        g_autofree char *quoted = text_quote(cases[_i].value, cases[_i].max);

        ck_assert_str_eq(quoted, cases[_i].quoted);
}
END_TEST

/* The output grows with the limit, not with the input; the worst case is
 * every byte escaped as four characters. */
START_TEST(test_quote_bounded) {
        const size_t big = 1u << 20;
        g_autofree char *hostile = g_malloc(big + 1);
        g_autofree char *quoted = NULL;

        memset(hostile, '\x01', big);
        hostile[big] = '\0';
        quoted = text_quote(hostile, 80);
        ck_assert_uint_eq(strlen(quoted), 80 * 4 + 3);
        ck_assert(g_str_has_suffix(quoted, "\\001..."));
        ck_assert(g_str_is_ascii(quoted));
}
END_TEST

/* Each result is a fresh allocation the caller owns, even for "". */
START_TEST(test_quote_fresh) {
        const char *value = "same";
        g_autofree char *a = text_quote(value, 80);
        g_autofree char *b = text_quote(value, 80);
        g_autofree char *none = text_quote(NULL, 80);

        ck_assert_ptr_ne(a, value);
        ck_assert_ptr_ne(a, b);
        ck_assert_str_eq(a, b);
        ck_assert_ptr_nonnull(none);
}
END_TEST

Suite *unit_suite(void) {
        Suite *s = suite_create("text-quote");
        TCase *tc = tcase_create("quote");

        tcase_add_loop_test(tc, test_quote_table, 0, G_N_ELEMENTS(cases));
        tcase_add_test(tc, test_quote_bounded);
        tcase_add_test(tc, test_quote_fresh);
        suite_add_tcase(s, tc);
        return s;
}
