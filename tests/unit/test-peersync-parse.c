/* test-peersync-parse.c: unit tests for the peer-sync body parsers, including
 * the inputs the fuzz harnesses found. */
#include <string.h>

#include "cell-state.h"
#include "peersync-parse.h"
#include "pic-error.h"
#include "unit-main.h"

#define KEY "iIfIDGHCuYZ8wXQ2KTocfJqOyIF+WPTE1GJ4OhpV7So="
#define INVITE \
        "{\"version\":1,\"cell_name\":\"cella\",\"public_key\":\"" KEY "\",\"endpoint\":\"192.0.2.10:51820\"," \
        "\"vpn_subnet\":\"10.23.7.0/24\",\"dns_ip\":\"10.23.7.1\",\"domain\":\"cella.cell\"}"
#define NONCE "AAAAAAAAAAAAAAAAAAAAAA"
#define ACCEPT_FIELDS "the body needs \"invite\" (object), \"pairing_id\" and \"nonce\" (strings) and \"ts\" (integer)"
#define PERMISSIONS_FIELDS \
        "the body needs \"seq\" (positive integer), \"inbound\" (object of booleans), \"exit_offered\" and " \
        "\"use_as_exit_relay\" (booleans) and \"exit_sources\" (array)"

static PeerSyncBody *parse_ok(const char *text) {
        g_autoptr(GError) error = NULL;
        PeerSyncBody *body = peersync_body_parse(text, strlen(text), &error);

        ck_assert_msg(body, "'%s' refused: %s", text, error ? error->message : "");
        return body;
}

static void assert_error(const GError *error, int code, const char *message) {
        ck_assert_ptr_nonnull(error);
        ck_assert_msg(g_error_matches(error, PIC_ERROR, code), "code %d, not %d: %s", error->code, code,
                      error->message);
        ck_assert_msg(g_utf8_validate(error->message, -1, NULL), "the message is not UTF-8");
        if (message)
                ck_assert_msg(strstr(error->message, message), "'%s' not in: %s", message, error->message);
}

/* --- the text --- */

static const struct {
        const char *text;
        size_t len;     /* 0: strlen */
        const char *message;
} bad_bodies[] = {
        { "\xff{}", 0, "the body is not UTF-8 JSON text" },
        { "{\"a\":1}\0", 8, "the body is not UTF-8 JSON text" },
        { "{\"a\":\"\xc3\"}", 0, "the body is not UTF-8 JSON text" },
        { "[[[[[[[[[[[[[[[[[]]]]]]]]]]]]]]]]]", 0, "the body is nested too deeply" },
        { "{\"a\":{\"b\":{\"c\":{\"d\":{\"e\":{\"f\":{\"g\":{\"h\":{\"i\":{\"j\":{\"k\":{\"l\":{\"m\":{\"n\":{\"o\":"
          "{\"p\":{}}}}}}}}}}}}}}}}}", 0, "the body is nested too deeply" },
        { "{\"invite\": {}, \"pairing_id\": \"x\"", 0, "the body is not valid JSON: " },
        { "", 0, NULL },
        { "[]", 0, "the body must be a JSON object" },
        { "\"x\"", 0, "the body must be a JSON object" },
        { "1", 0, "the body must be a JSON object" },
        /* json-glib 1.6 took the last of these values and leaked the others (fuzz). */
        { "1 {\"a\":1}", 0, "the body is not valid JSON: text follows the value at byte 2" },
        { "{} {\"a\":1}", 0, "the body is not valid JSON: text follows the value at byte 3" },
        { "false{\"seq\":1}", 0, "the body is not valid JSON: text follows the value at byte 5" },
        { "\"{\" []", 0, "the body is not valid JSON: text follows the value at byte 4" },
        { "'\"el@la'[]g", 0, "the body is not valid JSON: a value is expected at byte 0" },
        { "/*\"*/ {} []", 0, "the body is not valid JSON: a value is expected at byte 0" },
        /* json-glib quoted a decoded lone surrogate: not UTF-8 (fuzz). */
        { "{\"from_ce+\\ud800+l+\"[:", 0, "the body is not valid JSON: " },
        { "{\"version\": 1, \"cel\\ud800: \"cella\", \"public_", 0, "the body is not valid JSON: " },
        /* Escapes json-glib took although JSON has not, decoding some to bytes
         * that are not UTF-8 and leaking on others (fuzz). */
        { "{\"a\":\"\\x\"}", 0, "a string holds an invalid escape at byte 6" },
        { "{\"a\":\"\\uzzzz\"}", 0, "a string holds an invalid escape at byte 6" },
        { "{\"a\":\"\\u12\"}", 0, "a string holds an invalid escape at byte 6" },
        { "{\"a\":\"\\", 0, "a string ends inside an escape at byte 6" },
        { "{\"a\":\"\\ud800\\u\"}", 0, "a string holds an invalid escape at byte 12" },
        { "\"0\\u\\ud81\\\\u\\u\\}", 0, "a string holds an invalid escape at byte 2" },
        { "{\"a\":\"\\ud800\"}", 0, "a string holds half a UTF-16 surrogate pair at byte 6" },
        { "{\"a\":\"\\ud800x\"}", 0, "a string holds half a UTF-16 surrogate pair at byte 6" },
        { "{\"a\":\"\\udc00\\ud800\"}", 0, "a string holds half a UTF-16 surrogate pair at byte 6" },
        { "{\"a\":\"\\ud800\\ud800\"}", 0, "a string holds half a UTF-16 surrogate pair at byte 6" },
        { "{\"a\":\"x\\u0000y\"}", 0, "a string holds \\u0000 at byte 7" },
};

START_TEST(test_bad_bodies) {
        const char *text = bad_bodies[_i].text;
        size_t len = bad_bodies[_i].len ? bad_bodies[_i].len : strlen(text);
        g_autoptr(GError) error = NULL;
        g_autoptr(PeerSyncBody) body = peersync_body_parse(text, len, &error);

        ck_assert_msg(!body, "'%s' accepted", text);
        assert_error(error, PIC_ERROR_INVALID_ARGUMENT, bad_bodies[_i].message);
}
END_TEST

START_TEST(test_good_bodies) {
        static const char *const good[] = {
                "{}",
                " \n{\"a\": [1, {\"b\": null}], \"c\": \"[{\\\"\"} \n",
                "{\"a\":[[[[[[[[[[[[[[[]]]]]]]]]]]]]]]}",   /* 16 levels */
                "{\"text\": \"}}]] {[ not structure\"}",
                "{\"s\": \"\\ud83d\\ude00 \\u00e9 \\\" \\\\ \\/ \\b\\f\\n\\r\\t\"}",
        };

        for (size_t i = 0; i < G_N_ELEMENTS(good); i++) {
                g_autoptr(PeerSyncBody) body = parse_ok(good[i]);
        }
}
END_TEST

START_TEST(test_get_string) {
        g_autoptr(PeerSyncBody) body = parse_ok("{\"s\":\"x\",\"n\":1,\"o\":{},\"z\":null}");

        ck_assert_str_eq(peersync_body_get_string(body, "s"), "x");
        ck_assert_ptr_null(peersync_body_get_string(body, "n"));
        ck_assert_ptr_null(peersync_body_get_string(body, "o"));
        ck_assert_ptr_null(peersync_body_get_string(body, "z"));
        ck_assert_ptr_null(peersync_body_get_string(body, "missing"));
}
END_TEST

/* --- accept-invite --- */

START_TEST(test_accept) {
        g_autoptr(PeerSyncBody) body = parse_ok("{\"invite\":" INVITE ",\"pairing_id\":\"3A0gopqC1sKGjeWpg8OFiw\","
                                                "\"ts\":1700000000,\"nonce\":\"" NONCE "\"}");
        g_autoptr(PeerSyncAccept) accept = NULL;
        g_autoptr(Invite) invite = NULL;
        g_autoptr(GError) error = NULL;

        accept = peersync_accept_from_body(body, &error);
        ck_assert_ptr_nonnull(accept);
        ck_assert_str_eq(accept->pairing_id, "3A0gopqC1sKGjeWpg8OFiw");
        ck_assert_int_eq(accept->ts, 1700000000);
        ck_assert_str_eq(accept->nonce, NONCE);
        /* The request outlives the body it was read from. */
        g_clear_pointer(&body, peersync_body_free);
        ck_assert(peersync_accept_check_nonce(accept, &error));
        invite = peersync_accept_get_invite(accept, &error);
        ck_assert_msg(invite, "%s", error ? error->message : "");
        ck_assert_str_eq(invite->cell_name, "cella");
        ck_assert_str_eq(invite->public_key, KEY);
        ck_assert(!invite->has_pairing);
}
END_TEST

static const char *const bad_accepts[] = {
        "{\"pairing_id\":\"x\",\"ts\":1,\"nonce\":\"" NONCE "\"}",
        "{\"invite\":[],\"pairing_id\":\"x\",\"ts\":1,\"nonce\":\"" NONCE "\"}",
        "{\"invite\":{},\"ts\":1,\"nonce\":\"" NONCE "\"}",
        "{\"invite\":{},\"pairing_id\":7,\"ts\":1,\"nonce\":\"" NONCE "\"}",
        "{\"invite\":{},\"pairing_id\":\"x\",\"nonce\":\"" NONCE "\"}",
        "{\"invite\":{},\"pairing_id\":\"x\",\"ts\":\"1\",\"nonce\":\"" NONCE "\"}",
        "{\"invite\":{},\"pairing_id\":\"x\",\"ts\":1.5,\"nonce\":\"" NONCE "\"}",
        "{\"invite\":{},\"pairing_id\":\"x\",\"ts\":1}",
        "{\"invite\":{},\"pairing_id\":\"x\",\"ts\":1,\"nonce\":null}",
};

START_TEST(test_bad_accepts) {
        g_autoptr(PeerSyncBody) body = parse_ok(bad_accepts[_i]);
        g_autoptr(PeerSyncAccept) accept = NULL;
        g_autoptr(GError) error = NULL;

        accept = peersync_accept_from_body(body, &error);
        ck_assert_msg(!accept, "'%s' accepted", bad_accepts[_i]);
        assert_error(error, PIC_ERROR_INVALID_ARGUMENT, ACCEPT_FIELDS);
}
END_TEST

/* The nonce and the invite are judged in a later step (after the signature). */
START_TEST(test_accept_late_checks) {
        static const char *const nonces[] = { "AAAA", "AAAAAAAAAAAAAAAAAAAAAAAA", "!AAAAAAAAAAAAAAAAAAAAA", "" };

        for (size_t i = 0; i < G_N_ELEMENTS(nonces); i++) {
                g_autofree char *text = g_strdup_printf(
                        "{\"invite\":{},\"pairing_id\":\"x\",\"ts\":1,\"nonce\":\"%s\"}", nonces[i]);
                g_autoptr(PeerSyncBody) body = parse_ok(text);
                g_autoptr(PeerSyncAccept) accept = peersync_accept_from_body(body, NULL);
                g_autoptr(Invite) invite = NULL;
                g_autoptr(GError) error = NULL;

                ck_assert_ptr_nonnull(accept);
                ck_assert_msg(!peersync_accept_check_nonce(accept, &error), "nonce '%s' accepted", nonces[i]);
                assert_error(error, PIC_ERROR_INVALID_ARGUMENT, "nonce: must be base64url of 16 bytes");
                g_clear_error(&error);
                invite = peersync_accept_get_invite(accept, &error);
                ck_assert_ptr_null(invite);
                assert_error(error, PIC_ERROR_INVALID_INVITE, NULL);
        }
}
END_TEST

/* --- permissions --- */

START_TEST(test_permissions) {
        g_autoptr(PeerSyncBody) body = parse_ok(
                "{\"from_cell\":\"cellb\",\"from_public_key\":\"" KEY "\",\"seq\":9007199254740993,"
                "\"inbound\":{\"files\":true,\"calendar\":false,\"files\":false},\"exit_offered\":true,"
                "\"use_as_exit_relay\":false,\"exit_sources\":[\"10.41.3.5/32\",\"anything\"]}");
        g_autoptr(PeerSyncPermissions) p = NULL;
        g_autoptr(GError) error = NULL;

        p = peersync_permissions_from_body(body, &error);
        ck_assert_msg(p, "%s", error ? error->message : "");
        g_clear_pointer(&body, peersync_body_free);
        ck_assert_str_eq(p->from_cell, "cellb");
        ck_assert_str_eq(p->from_public_key, KEY);
        ck_assert_uint_eq(p->seq, 9007199254740993u);
        ck_assert_uint_eq(g_hash_table_size(p->inbound), 2);
        ck_assert(g_hash_table_contains(p->inbound, "files"));
        ck_assert(!GPOINTER_TO_INT(g_hash_table_lookup(p->inbound, "files")));   /* the last one wins */
        ck_assert(g_hash_table_contains(p->inbound, "calendar"));
        ck_assert(p->exit_offered);
        ck_assert(!p->use_as_exit_relay);
        /* Sources are checked by the core, against the sender's subnet. */
        ck_assert_uint_eq(p->exit_sources->len, 2);
        ck_assert_str_eq(p->exit_sources->pdata[1], "anything");
}
END_TEST

START_TEST(test_permissions_minimal) {
        g_autoptr(PeerSyncBody) body = parse_ok(
                "{\"seq\":1,\"inbound\":{},\"exit_offered\":false,\"use_as_exit_relay\":true}");
        g_autoptr(PeerSyncPermissions) p = peersync_permissions_from_body(body, NULL);

        ck_assert_ptr_nonnull(p);
        ck_assert_ptr_null(p->from_cell);
        ck_assert_ptr_null(p->from_public_key);
        ck_assert_ptr_nonnull(p->exit_sources);
        ck_assert_uint_eq(p->exit_sources->len, 0);
        ck_assert(p->use_as_exit_relay);
}
END_TEST

#define PERM_REST ",\"exit_offered\":true,\"use_as_exit_relay\":false"

static const struct {
        const char *text;
        const char *message;
} bad_permissions[] = {
        { "{\"inbound\":{}" PERM_REST "}", PERMISSIONS_FIELDS },
        { "{\"seq\":0,\"inbound\":{}" PERM_REST "}", PERMISSIONS_FIELDS },
        { "{\"seq\":-5,\"inbound\":{}" PERM_REST "}", PERMISSIONS_FIELDS },
        { "{\"seq\":\"1\",\"inbound\":{}" PERM_REST "}", PERMISSIONS_FIELDS },
        { "{\"seq\":1.0,\"inbound\":{}" PERM_REST "}", PERMISSIONS_FIELDS },
        { "{\"seq\":1" PERM_REST "}", PERMISSIONS_FIELDS },
        { "{\"seq\":1,\"inbound\":[]" PERM_REST "}", PERMISSIONS_FIELDS },
        { "{\"seq\":1,\"inbound\":{},\"use_as_exit_relay\":false}", PERMISSIONS_FIELDS },
        { "{\"seq\":1,\"inbound\":{},\"exit_offered\":\"yes\",\"use_as_exit_relay\":false}", PERMISSIONS_FIELDS },
        { "{\"seq\":1,\"inbound\":{},\"exit_offered\":true,\"use_as_exit_relay\":{}}", PERMISSIONS_FIELDS },
        { "{\"seq\":1,\"inbound\":{}" PERM_REST ",\"exit_sources\":\"10.0.0.1/32\"}", PERMISSIONS_FIELDS },
        { "{\"seq\":1,\"inbound\":{\"Files\":true}" PERM_REST "}",
          "inbound: every entry must be a service name with a boolean" },
        { "{\"seq\":1,\"inbound\":{\"files\":1}" PERM_REST "}",
          "inbound: every entry must be a service name with a boolean" },
        { "{\"seq\":1,\"inbound\":{\"files\":[true]}" PERM_REST "}",
          "inbound: every entry must be a service name with a boolean" },
        { "{\"seq\":1,\"inbound\":{}" PERM_REST ",\"exit_sources\":[\"10.0.0.1/32\",5]}",
          "exit_sources: every entry must be a string" },
        { "{\"seq\":1,\"inbound\":{}" PERM_REST ",\"exit_sources\":[null]}",
          "exit_sources: every entry must be a string" },
};

START_TEST(test_bad_permissions) {
        g_autoptr(PeerSyncBody) body = parse_ok(bad_permissions[_i].text);
        g_autoptr(PeerSyncPermissions) p = NULL;
        g_autoptr(GError) error = NULL;

        p = peersync_permissions_from_body(body, &error);
        ck_assert_msg(!p, "'%s' accepted", bad_permissions[_i].text);
        assert_error(error, PIC_ERROR_INVALID_ARGUMENT, bad_permissions[_i].message);
}
END_TEST

START_TEST(test_permissions_limits) {
        g_autoptr(GString) services = g_string_new(NULL);
        g_autoptr(GString) sources = g_string_new(NULL);
        g_autofree char *full = NULL, *over = NULL, *too_many_sources = NULL;
        g_autoptr(PeerSyncBody) body = NULL;
        g_autoptr(PeerSyncPermissions) p = NULL;
        g_autoptr(GError) error = NULL;

        for (int i = 0; i < CELL_STATE_MAX_SERVICES; i++)
                g_string_append_printf(services, "%s\"s%d\":true", i ? "," : "", i);
        for (int i = 0; i <= PEERSYNC_MAX_EXIT_SOURCES; i++)
                g_string_append_printf(sources, "%s\"10.0.%d.%d/32\"", i ? "," : "", i / 256, i % 256);

        full = g_strdup_printf("{\"seq\":1" PERM_REST ",\"inbound\":{%s}}", services->str);
        body = parse_ok(full);
        p = peersync_permissions_from_body(body, &error);
        ck_assert_msg(p, "%s", error ? error->message : "");
        ck_assert_uint_eq(g_hash_table_size(p->inbound), CELL_STATE_MAX_SERVICES);
        g_clear_pointer(&p, peersync_permissions_free);
        g_clear_pointer(&body, peersync_body_free);

        over = g_strdup_printf("{\"seq\":1" PERM_REST ",\"inbound\":{%s,\"one-more\":false}}", services->str);
        body = parse_ok(over);
        p = peersync_permissions_from_body(body, &error);
        ck_assert_ptr_null(p);
        assert_error(error, PIC_ERROR_INVALID_ARGUMENT, "inbound: too many services");
        g_clear_error(&error);
        g_clear_pointer(&body, peersync_body_free);

        too_many_sources = g_strdup_printf("{\"seq\":1" PERM_REST ",\"inbound\":{},\"exit_sources\":[%s]}",
                                           sources->str);
        body = parse_ok(too_many_sources);
        p = peersync_permissions_from_body(body, &error);
        ck_assert_ptr_null(p);
        assert_error(error, PIC_ERROR_INVALID_ARGUMENT, "exit_sources: too many entries");
}
END_TEST

/* --- unlink, update --- */

START_TEST(test_unlink) {
        g_autoptr(PeerSyncBody) body = parse_ok("{\"from_cell\":\"cellb\",\"from_public_key\":\"" KEY "\"}");
        g_autoptr(PeerSyncBody) bare = parse_ok("{\"from_public_key\":\"" KEY "\",\"from_cell\":5}");
        g_autoptr(PeerSyncBody) nokey = parse_ok("{\"from_cell\":\"cellb\",\"from_public_key\":[]}");
        g_autoptr(PeerSyncUnlink) u = NULL, v = NULL, w = NULL;
        g_autoptr(GError) error = NULL;

        u = peersync_unlink_from_body(body, NULL);
        ck_assert_ptr_nonnull(u);
        ck_assert_str_eq(u->from_cell, "cellb");
        ck_assert_str_eq(u->from_public_key, KEY);

        v = peersync_unlink_from_body(bare, NULL);
        ck_assert_ptr_nonnull(v);
        ck_assert_ptr_null(v->from_cell);

        w = peersync_unlink_from_body(nokey, &error);
        ck_assert_ptr_null(w);
        assert_error(error, PIC_ERROR_INVALID_ARGUMENT, "\"from_public_key\"");
}
END_TEST

START_TEST(test_update) {
        g_autoptr(PeerSyncBody) body = parse_ok(INVITE);
        g_autoptr(PeerSyncBody) bad = parse_ok("{\"version\":1,\"cell_name\":\"Cell A\"}");
        g_autoptr(Invite) invite = NULL, none = NULL;
        g_autoptr(GError) error = NULL;

        ck_assert_str_eq(peersync_body_get_string(body, "public_key"), KEY);
        invite = peersync_update_from_body(body, &error);
        ck_assert_msg(invite, "%s", error ? error->message : "");
        ck_assert_str_eq(invite->domain, "cella.cell");
        ck_assert_uint_eq(invite->vpn_subnet.prefixlen, 24);

        none = peersync_update_from_body(bad, &error);
        ck_assert_ptr_null(none);
        assert_error(error, PIC_ERROR_INVALID_INVITE, NULL);
}
END_TEST

/* --- answers --- */

START_TEST(test_answer_error) {
        static const struct {
                const char *text;
                const char *expected;   /* NULL: none */
        } cases[] = {
                { "{\"error\":\"unknown pairing id or bad signature\"}", "unknown pairing id or bad signature" },
                { "{\"status\":\"linked\"}", NULL },
                { "{\"error\":\"\"}", NULL },
                { "{\"error\":5}", NULL },
                { "[\"error\"]", NULL },
                { "not json", NULL },
                { "", NULL },
                { "{\"error\":\"two\\nlines\\u0007\"}", "two lines " },
                { "{\"error\":\"caf\xc3\xa9\"}", "caf\xc3\xa9" },
                { "{\"a\":" "[[[[[[[[[[[[[[[[[[[[]]]]]]]]]]]]]]]]]]]]" ",\"error\":\"deep\"}", NULL },
                { "{\"error\":\"first\"} {\"error\":\"second\"}", NULL },
                { "{\"error\":\"bad \\ud800 half\"}", NULL },
        };

        for (size_t i = 0; i < G_N_ELEMENTS(cases); i++) {
                g_autofree char *message = peersync_answer_get_error(cases[i].text, strlen(cases[i].text));

                if (!cases[i].expected)
                        ck_assert_msg(!message, "'%s' gave '%s'", cases[i].text, message);
                else
                        ck_assert_msg(message && g_str_equal(message, cases[i].expected), "'%s' gave '%s'",
                                      cases[i].text, message);
        }
}
END_TEST


START_TEST(test_answer_error_cut) {
        g_autoptr(GString) text = g_string_new("{\"error\":\"");
        g_autofree char *message = NULL;

        /* Two-byte characters, so that the cut must find a boundary. */
        for (int i = 0; i < PEERSYNC_ANSWER_ERROR_MAX; i++)
                g_string_append(text, "\xc3\xa9");
        g_string_append(text, "\"}");
        message = peersync_answer_get_error(text->str, text->len);
        ck_assert_ptr_nonnull(message);
        ck_assert_uint_le(strlen(message), PEERSYNC_ANSWER_ERROR_MAX);
        ck_assert(g_str_has_suffix(message, "..."));
        ck_assert(g_utf8_validate(message, -1, NULL));
}
END_TEST

Suite *unit_suite(void) {
        Suite *s = suite_create("peersync-parse");
        TCase *tc = tcase_create("core");

        tcase_add_loop_test(tc, test_bad_bodies, 0, G_N_ELEMENTS(bad_bodies));
        tcase_add_test(tc, test_good_bodies);
        tcase_add_test(tc, test_get_string);
        tcase_add_test(tc, test_accept);
        tcase_add_loop_test(tc, test_bad_accepts, 0, G_N_ELEMENTS(bad_accepts));
        tcase_add_test(tc, test_accept_late_checks);
        tcase_add_test(tc, test_permissions);
        tcase_add_test(tc, test_permissions_minimal);
        tcase_add_loop_test(tc, test_bad_permissions, 0, G_N_ELEMENTS(bad_permissions));
        tcase_add_test(tc, test_permissions_limits);
        tcase_add_test(tc, test_unlink);
        tcase_add_test(tc, test_update);
        tcase_add_test(tc, test_answer_error);
        tcase_add_test(tc, test_answer_error_cut);
        suite_add_tcase(s, tc);
        return s;
}
