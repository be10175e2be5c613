/* test-names.c: unit tests for name and domain syntax and label-wise domain collision. */
#include <string.h>

#include "names.h"
#include "pic-error.h"
#include "unit-main.h"

typedef bool (*Validator)(const char *name, GError **error);

static void assert_valid(Validator validate, const char *name) {
        g_autoptr(GError) error = NULL;

        ck_assert_msg(validate(name, &error), "'%s' refused: %s", name, error ? error->message : "");
        ck_assert_ptr_null(error);
}

static void assert_invalid(Validator validate, const char *name, const char *field) {
        g_autoptr(GError) error = NULL;
        /* control and non-ASCII bytes are quoted escaped, as D-Bus needs UTF-8 */
        g_autofree char *escaped = g_strescape(name, NULL);
        g_autofree char *quoted = g_strdup_printf("'%s'", escaped);

        ck_assert_msg(!validate(name, &error), "'%s' accepted", name);
        ck_assert(g_error_matches(error, PIC_ERROR, PIC_ERROR_INVALID_ARGUMENT));
        ck_assert_msg(strstr(error->message, quoted), "'%s' not quoted in: %s", name, error->message);
        ck_assert_msg(strstr(error->message, field), "'%s' not named in: %s", field, error->message);
}

START_TEST(test_cell_and_service_names) {
        static const char *const good[] = { "a", "cella", "cell-a", "0", "a1-b2",
                                            "abcdefghijklmnopqrstuvwxyz012345" /* 32 */ };
        static const char *const bad[] = { "", "-a", "a-", "-", "CellA", "cell_a", "cell.a",
                                           "cell a", " a", "a\n", "caf\xc3\xa9",
                                           "abcdefghijklmnopqrstuvwxyz0123456" /* 33 */ };

        for (size_t i = 0; i < G_N_ELEMENTS(good); i++) {
                assert_valid(names_validate_cell_name, good[i]);
                assert_valid(names_validate_service_name, good[i]);
        }
        for (size_t i = 0; i < G_N_ELEMENTS(bad); i++) {
                assert_invalid(names_validate_cell_name, bad[i], "cell name");
                assert_invalid(names_validate_service_name, bad[i], "service name");
        }
        ck_assert(!names_validate_cell_name(NULL, NULL));
        ck_assert(!names_validate_service_name(NULL, NULL));
}
END_TEST

START_TEST(test_peer_names) {
        static const char *const good[] = { "a", "Laptop", "alice_phone", "alice-phone.2", "-x", ".x",
                                            "..." };
        static const char *const bad[] = { "", ".", "..", "alice phone", "alice/phone", "a:b", "a\\b" };
        g_autofree char *len64 = g_strnfill(PEER_NAME_MAX, 'p');
        g_autofree char *len65 = g_strnfill(PEER_NAME_MAX + 1, 'p');

        for (size_t i = 0; i < G_N_ELEMENTS(good); i++)
                assert_valid(names_validate_peer_name, good[i]);
        for (size_t i = 0; i < G_N_ELEMENTS(bad); i++)
                assert_invalid(names_validate_peer_name, bad[i], "peer name");
        assert_valid(names_validate_peer_name, len64);
        assert_invalid(names_validate_peer_name, len65, "peer name");
        ck_assert(!names_validate_peer_name(NULL, NULL));
}
END_TEST

START_TEST(test_domains) {
        static const char *const good[] = { "cell", "cella.cell", "CellA.Cell", "a-b.c-d.example",
                                            "0.cell", "x1.y2.z3" };
        static const char *const bad[] = { "", ".", "cella.cell.", ".cella.cell", "cella..cell",
                                           "-cella.cell", "cella-.cell", "cella.-cell", "cella.cell-",
                                           "cell_a.cell", "cella cell", "cella.cell:53", "*.cell" };

        for (size_t i = 0; i < G_N_ELEMENTS(good); i++)
                assert_valid(names_validate_domain, good[i]);
        for (size_t i = 0; i < G_N_ELEMENTS(bad); i++)
                assert_invalid(names_validate_domain, bad[i], "domain");
        ck_assert(!names_validate_domain(NULL, NULL));
}
END_TEST

START_TEST(test_domain_lengths) {
        g_autofree char *label63 = g_strnfill(63, 'a');
        g_autofree char *label64 = g_strnfill(64, 'a');
        g_autofree char *ok63 = g_strdup_printf("%s.cell", label63);
        g_autofree char *bad64 = g_strdup_printf("%s.cell", label64);
        /* 4 labels of 63 plus 3 dots = 255; trim to exactly 253 and 254 */
        g_autofree char *long255 = g_strdup_printf("%s.%s.%s.%s", label63, label63, label63, label63);
        g_autofree char *len253 = g_strndup(long255 + 2, 253);
        g_autofree char *len254 = g_strndup(long255 + 1, 254);

        assert_valid(names_validate_domain, ok63);
        ck_assert(!names_validate_domain(bad64, NULL));
        ck_assert_uint_eq(strlen(len253), 253);
        assert_valid(names_validate_domain, len253);
        ck_assert(!names_validate_domain(len254, NULL));
}
END_TEST

static const struct {
        const char *a, *b;
        bool collide;
} domain_pairs[] = {
        { "cella.cell", "cella.cell", true },
        { "cella.cell", "CELLA.cell", true },
        { "cella.cell", "cell", true },
        { "cella.cell", "x.cella.cell", true },
        { "cella.cell", "y.X.CellA.Cell", true },
        { "cella.cell", "ella.cell", false },
        { "cella.cell", "acella.cell", false },
        { "cella.cell", "cellb.cell", false },
        { "cella.cell", "cella.cel", false },
        { "cella.cell", "cella", false },
        { "cella.cell", "cell.a", false },
        { "cella.cell", "cella.cell.x", false },
        { "cell", "cell", true },
        { "cell", "home", false },
        { "a", "b.a", true },
        { "cella.cell", "", false },
        { "", "", false },
};

START_TEST(test_domains_collide) {
        const char *a = domain_pairs[_i].a, *b = domain_pairs[_i].b;

        ck_assert_msg(names_domains_collide(a, b) == domain_pairs[_i].collide, "'%s' '%s'", a, b);
        ck_assert_msg(names_domains_collide(b, a) == domain_pairs[_i].collide, "'%s' '%s'", b, a);
}
END_TEST

START_TEST(test_domains_collide_null) {
        ck_assert(!names_domains_collide(NULL, "cella.cell"));
        ck_assert(!names_domains_collide("cella.cell", NULL));
        ck_assert(!names_domains_collide(NULL, NULL));
}
END_TEST

Suite *unit_suite(void) {
        Suite *s = suite_create("names");
        TCase *tc = tcase_create("syntax");

        tcase_add_test(tc, test_cell_and_service_names);
        tcase_add_test(tc, test_peer_names);
        tcase_add_test(tc, test_domains);
        tcase_add_test(tc, test_domain_lengths);
        suite_add_tcase(s, tc);

        tc = tcase_create("collide");
        tcase_add_loop_test(tc, test_domains_collide, 0, G_N_ELEMENTS(domain_pairs));
        tcase_add_test(tc, test_domains_collide_null);
        suite_add_tcase(s, tc);

        return s;
}
