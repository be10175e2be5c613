/* test-invite.c: invite parsing, strict validation and serialisation, JSON and compact. */
#include <string.h>

#include "invite.h"
#include "pic-error.h"
#include "unit-main.h"

#define KEY "AQIDBAUGBwgJCgsMDQ4PEBESExQVFhcYGRobHB0eHyA="          /* bytes 1..32 */
#define KEY_31 "AQIDBAUGBwgJCgsMDQ4PEBESExQVFhcYGRobHB0eHw=="
#define KEY_33 "AQIDBAUGBwgJCgsMDQ4PEBESExQVFhcYGRobHB0eHyAh"
#define KEY_ZERO "AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA="
#define PAIRING_ID "8PHy8_T19vf4-fr7_P3-_w"                         /* bytes 0xf0..0xff */
#define PAIRING_ID_15 "8PHy8_T19vf4-fr7_P3-"
#define PAIRING_SECRET "4OHi4-Tl5ufo6err7O3u7_Dx8vP09fb3-Pn6-_z9_v8"  /* bytes 0xe0..0xff */
#define PAIRING_SECRET_31 "4OHi4-Tl5ufo6err7O3u7_Dx8vP09fb3-Pn6-_z9_g"
#define EXPIRES "1900000000"

#define PAIRING(id, secret, expires) \
        "{\"id\":\"" id "\",\"secret\":\"" secret "\",\"expires\":" expires "}"

#define A15 "aaaaaaaaaaaaaaa"
#define A16 A15 "a"
#define A32 A16 A16
#define A63 A16 A16 A16 A15
#define A64 A32 A32

/* The members of a full invite as JSON literals, in the order of DESIGN §5. */
static const struct {
        const char *key, *value;
} full_members[] = {
        { "version", "1" },
        { "cell_name", "\"cella\"" },
        { "public_key", "\"" KEY "\"" },
        { "endpoint", "\"192.0.2.10:51820\"" },
        { "vpn_subnet", "\"10.23.7.0/24\"" },
        { "dns_ip", "\"10.23.7.1\"" },
        { "domain", "\"cella.cell\"" },
        { "tunnel_address", "\"10.23.7.2\"" },
        { "sync_port", "51900" },
        { "pairing", PAIRING(PAIRING_ID, PAIRING_SECRET, EXPIRES) },
};

/* The full invite with @key's value replaced by the JSON literal @value, or
 * left out when @value is NULL; @suffix is appended after the object. */
static char *full_invite_with(const char *key, const char *value, const char *suffix) {
        GString *s = g_string_new("{");
        bool first = true;

        for (size_t i = 0; i < G_N_ELEMENTS(full_members); i++) {
                const char *v = full_members[i].value;

                if (key && g_str_equal(key, full_members[i].key))
                        v = value;
                if (!v)
                        continue;
                g_string_append_printf(s, "%s\"%s\":%s", first ? "" : ",", full_members[i].key, v);
                first = false;
        }
        g_string_append_c(s, '}');
        if (suffix)
                g_string_append(s, suffix);
        return g_string_free(s, FALSE);
}

static char *full_invite(void) {
        return full_invite_with(NULL, NULL, NULL);
}

static char *compact_of(const void *data, size_t len) {
        g_autofree char *encoded = g_base64_encode(data, len);

        g_strdelimit(encoded, "+", '-');
        g_strdelimit(encoded, "/", '_');
        g_strdelimit(encoded, "=", '\0');
        return g_strconcat("pic1:", encoded, NULL);
}

static bool invites_equal(const Invite *a, const Invite *b) {
        return g_str_equal(a->cell_name, b->cell_name) &&
               g_str_equal(a->public_key, b->public_key) &&
               g_str_equal(a->endpoint, b->endpoint) &&
               g_str_equal(a->endpoint_host, b->endpoint_host) &&
               a->endpoint_port == b->endpoint_port &&
               a->vpn_subnet.address == b->vpn_subnet.address &&
               a->vpn_subnet.prefixlen == b->vpn_subnet.prefixlen &&
               a->dns_ip == b->dns_ip &&
               g_str_equal(a->domain, b->domain) &&
               a->tunnel_address == b->tunnel_address &&
               a->sync_port == b->sync_port &&
               a->has_pairing == b->has_pairing &&
               (!a->has_pairing ||
                (g_str_equal(a->pairing.id, b->pairing.id) &&
                 g_str_equal(a->pairing.secret, b->pairing.secret) &&
                 a->pairing.expires == b->pairing.expires));
}

#define IP(a, b, c, d) (((uint32_t) (a) << 24) | ((uint32_t) (b) << 16) | ((uint32_t) (c) << 8) | (uint32_t) (d))

static void assert_invalid(const GError *error, const char *field, const char *quoted, const char *what) {
        g_autofree char *prefix = g_strconcat(field, ": ", NULL);

        ck_assert_msg(error, "%s: accepted", what);
        ck_assert_msg(g_error_matches(error, PIC_ERROR, PIC_ERROR_INVALID_INVITE),
                      "%s: wrong error %s/%d: %s", what, g_quark_to_string(error->domain), error->code, error->message);
        ck_assert_msg(g_str_has_prefix(error->message, prefix),
                      "%s: message does not start with '%s': %s", what, prefix, error->message);
        if (quoted)
                ck_assert_msg(strstr(error->message, quoted),
                              "%s: message does not hold %s: %s", what, quoted, error->message);
}

typedef struct {
        const char *text;       /* the whole input; NULL: the full invite changed as below */
        const char *key;        /* the member of the full invite to change */
        const char *value;      /* its JSON literal, or NULL to leave it out */
        const char *suffix;     /* appended to the full invite */
        const char *field;      /* must start the message */
        const char *quoted;     /* must appear in the message, if not NULL */
} BadCase;

static const BadCase bad_cases[] = {
        /* The text as a whole. */
        { .text = "", .field = "invite" },
        { .text = " \n\t ", .field = "invite" },
        { .text = "{", .field = "invite" },
        { .text = "{\"version\":1,\"cell_name\":\"cel", .field = "invite" },
        { .text = "{\"version\" 1}", .field = "invite", .quoted = "'1}'" },
        { .text = "{\"version\":1,}", .field = "invite", .quoted = "'}'" },
        { .text = "{'version':1}", .field = "invite", .quoted = "'\\'version\\':1}'" },
        { .text = "{version:1}", .field = "invite", .quoted = "'version:1}'" },
        { .text = "[1,2]", .field = "invite", .quoted = "an array" },
        { .text = "\"hello\"", .field = "invite", .quoted = "'hello'" },
        { .text = "42", .field = "invite", .quoted = "'42'" },
        { .text = "null", .field = "invite" },
        { .text = "hello", .field = "invite", .quoted = "'hello'" },
        { .text = "{\"cell_name\":\"\xff\"}", .field = "invite", .quoted = "'\\xff\"}'" },
        { .text = "{\"cell_name\":\"a\x01" "b\"}", .field = "invite", .quoted = "'\\x01b\"}'" },
        { .text = "{\"x\":[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]}",
          .field = "invite" },
        { .suffix = " {}", .field = "invite", .quoted = "'{}'" },
        { .suffix = " /* comment */", .field = "invite", .quoted = "'/* comment */'" },
        { .key = "sync_port", .value = "051900", .field = "invite", .quoted = "'051900" },
        { .key = "sync_port", .value = "0x10", .field = "invite", .quoted = "'x10" },
        { .key = "sync_port", .value = "99999999999999999999", .field = "invite", .quoted = "'9999999999999999…'" },
        { .key = "sync_port", .value = "+51900", .field = "invite", .quoted = "'+51900" },
        { .key = "cell_name", .value = "\"cella\\u0000evil\"", .field = "invite", .quoted = "'\\\\u0000evil" },
        { .key = "cell_name", .value = "\"cella\\x41\"", .field = "invite", .quoted = "'\\\\x41" },
        { .key = "cell_name", .value = "\"\\ud800\"", .field = "invite", .quoted = "'\\\\ud800" },
        /* The compact form. */
        { .text = "pic1:", .field = "invite" },
        { .text = "pic1:aGVs$bG8", .field = "invite", .quoted = "'$'" },
        { .text = "pic1:aGVs bG8", .field = "invite", .quoted = "' '" },
        { .text = "pic1:aGVsbG8===", .field = "invite", .quoted = "'='" },
        { .text = "pic1:aGVsb", .field = "invite" },
        { .text = "pic1:aGVsbG9", .field = "invite", .quoted = "'9'" },
        { .text = "pic1:aGVsbG8", .field = "invite", .quoted = "'hello'" },      /* "hello" */
        { .text = "pic1:eyJhIjoieAB5In0", .field = "invite" },                  /* a NUL inside */
        { .text = "pic2:aGVsbG8", .field = "invite", .quoted = "'pic2:'" },
        { .text = "PIC1:aGVsbG8", .field = "invite", .quoted = "'PIC1:'" },
        /* version */
        { .key = "version", .value = NULL, .field = "version" },
        { .key = "version", .value = "0", .field = "version", .quoted = "'0'" },
        { .key = "version", .value = "2", .field = "version", .quoted = "'2'" },
        { .key = "version", .value = "-1", .field = "version", .quoted = "'-1'" },
        { .key = "version", .value = "\"1\"", .field = "version", .quoted = "'1'" },
        { .key = "version", .value = "1.0", .field = "version", .quoted = "'1.0'" },
        { .key = "version", .value = "true", .field = "version", .quoted = "'true'" },
        /* Required members missing, of the wrong type, empty. */
        { .key = "cell_name", .value = NULL, .field = "cell_name" },
        { .key = "public_key", .value = NULL, .field = "public_key" },
        { .key = "endpoint", .value = NULL, .field = "endpoint" },
        { .key = "vpn_subnet", .value = NULL, .field = "vpn_subnet" },
        { .key = "dns_ip", .value = NULL, .field = "dns_ip" },
        { .key = "domain", .value = NULL, .field = "domain" },
        { .key = "cell_name", .value = "5", .field = "cell_name", .quoted = "'5'" },
        { .key = "public_key", .value = "null", .field = "public_key", .quoted = "null" },
        { .key = "endpoint", .value = "51820", .field = "endpoint", .quoted = "'51820'" },
        { .key = "vpn_subnet", .value = "[\"10.23.7.0/24\"]", .field = "vpn_subnet", .quoted = "an array" },
        { .key = "dns_ip", .value = "{}", .field = "dns_ip", .quoted = "an object" },
        { .key = "domain", .value = "true", .field = "domain", .quoted = "'true'" },
        { .key = "cell_name", .value = "\"\"", .field = "cell_name", .quoted = "''" },
        { .key = "public_key", .value = "\"\"", .field = "public_key", .quoted = "''" },
        { .key = "endpoint", .value = "\"\"", .field = "endpoint", .quoted = "''" },
        { .key = "vpn_subnet", .value = "\"\"", .field = "vpn_subnet", .quoted = "''" },
        { .key = "dns_ip", .value = "\"\"", .field = "dns_ip", .quoted = "''" },
        { .key = "domain", .value = "\"\"", .field = "domain", .quoted = "''" },
        /* public_key */
        { .key = "public_key", .value = "\"" KEY_31 "\"", .field = "public_key", .quoted = "'" KEY_31 "'" },
        { .key = "public_key", .value = "\"" KEY_33 "\"", .field = "public_key", .quoted = "'" KEY_33 "'" },
        { .key = "public_key", .value = "\"abc\"", .field = "public_key", .quoted = "'abc'" },
        { .key = "public_key", .value = "\"!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!=\"", .field = "public_key",
          .quoted = "'!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!='" },
        { .key = "public_key", .value = "\" " KEY "\"", .field = "public_key" },
        { .key = "public_key", .value = "\"" KEY_ZERO "\"", .field = "public_key", .quoted = "'" KEY_ZERO "'" },
        /* cell_name */
        { .key = "cell_name", .value = "\"CellA\"", .field = "cell_name", .quoted = "'CellA'" },
        { .key = "cell_name", .value = "\"-cella\"", .field = "cell_name", .quoted = "'-cella'" },
        { .key = "cell_name", .value = "\"cella-\"", .field = "cell_name", .quoted = "'cella-'" },
        { .key = "cell_name", .value = "\"" A32 "a\"", .field = "cell_name", .quoted = "'" A32 "a'" },
        { .key = "cell_name", .value = "\"cell_a\"", .field = "cell_name", .quoted = "'cell_a'" },
        { .key = "cell_name", .value = "\"cell\\u0001a\"", .field = "cell_name", .quoted = "'cell\\x01a'" },
        { .key = "cell_name", .value = "\"c\\u00e9ll\"", .field = "cell_name", .quoted = "'c\\xc3\\xa9ll'" },
        /* domain */
        { .key = "domain", .value = "\"cella..cell\"", .field = "domain", .quoted = "'cella..cell'" },
        { .key = "domain", .value = "\"" A64 ".cell\"", .field = "domain", .quoted = "'" A64 "…'" },
        { .key = "domain", .value = "\"" A63 "." A63 "." A63 "." A63 "\"", .field = "domain",
          .quoted = "'" A63 ".…'" },
        { .key = "domain", .value = "\"-cella.cell\"", .field = "domain", .quoted = "'-cella.cell'" },
        { .key = "domain", .value = "\"cella.-x.cell\"", .field = "domain", .quoted = "'cella.-x.cell'" },
        { .key = "domain", .value = "\"cell_a.cell\"", .field = "domain", .quoted = "'cell_a.cell'" },
        { .key = "domain", .value = "\"cella.cell.\"", .field = "domain", .quoted = "'cella.cell.'" },
        /* endpoint */
        { .key = "endpoint", .value = "\"192.0.2.10\"", .field = "endpoint", .quoted = "'192.0.2.10'" },
        { .key = "endpoint", .value = "\"192.0.2.10:0\"", .field = "endpoint", .quoted = "'192.0.2.10:0'" },
        { .key = "endpoint", .value = "\"192.0.2.10:65536\"", .field = "endpoint", .quoted = "'192.0.2.10:65536'" },
        { .key = "endpoint", .value = "\"192.0.2.10:abc\"", .field = "endpoint", .quoted = "'192.0.2.10:abc'" },
        { .key = "endpoint", .value = "\"192.0.2.10:051820\"", .field = "endpoint", .quoted = "'192.0.2.10:051820'" },
        { .key = "endpoint", .value = "\":51820\"", .field = "endpoint", .quoted = "':51820'" },
        { .key = "endpoint", .value = "\"cell_a.example:51820\"", .field = "endpoint", .quoted = "'cell_a.example:51820'" },
        /* vpn_subnet */
        { .key = "vpn_subnet", .value = "\"10.23.0.0/15\"", .field = "vpn_subnet", .quoted = "'10.23.0.0/15'" },
        { .key = "vpn_subnet", .value = "\"10.23.7.0/31\"", .field = "vpn_subnet", .quoted = "'10.23.7.0/31'" },
        { .key = "vpn_subnet", .value = "\"10.0.0.0/33\"", .field = "vpn_subnet", .quoted = "'10.0.0.0/33'" },
        { .key = "vpn_subnet", .value = "\"010.23.7.0/24\"", .field = "vpn_subnet", .quoted = "'010.23.7.0/24'" },
        { .key = "vpn_subnet", .value = "\"10.23.7.0\"", .field = "vpn_subnet", .quoted = "'10.23.7.0'" },
        { .key = "vpn_subnet", .value = "\"10.23.7.0/024\"", .field = "vpn_subnet", .quoted = "'10.23.7.0/024'" },
        /* dns_ip and tunnel_address */
        { .key = "dns_ip", .value = "\"10.23.8.1\"", .field = "dns_ip", .quoted = "'10.23.8.1'" },
        { .key = "dns_ip", .value = "\"10.23.7.0\"", .field = "dns_ip", .quoted = "'10.23.7.0'" },
        { .key = "dns_ip", .value = "\"10.23.7.255\"", .field = "dns_ip", .quoted = "'10.23.7.255'" },
        { .key = "dns_ip", .value = "\"10.23.7.256\"", .field = "dns_ip", .quoted = "'10.23.7.256'" },
        { .key = "dns_ip", .value = "\"10.23.7.01\"", .field = "dns_ip", .quoted = "'10.23.7.01'" },
        { .key = "tunnel_address", .value = "\"192.0.2.1\"", .field = "tunnel_address", .quoted = "'192.0.2.1'" },
        { .key = "tunnel_address", .value = "\"10.23.7.0\"", .field = "tunnel_address", .quoted = "'10.23.7.0'" },
        { .key = "tunnel_address", .value = "\"10.23.7.255\"", .field = "tunnel_address", .quoted = "'10.23.7.255'" },
        { .key = "tunnel_address", .value = "167904001", .field = "tunnel_address", .quoted = "'167904001'" },
        { .key = "tunnel_address", .value = "\"\"", .field = "tunnel_address", .quoted = "''" },
        /* sync_port */
        { .key = "sync_port", .value = "0", .field = "sync_port", .quoted = "'0'" },
        { .key = "sync_port", .value = "70000", .field = "sync_port", .quoted = "'70000'" },
        { .key = "sync_port", .value = "-1", .field = "sync_port", .quoted = "'-1'" },
        { .key = "sync_port", .value = "\"51900\"", .field = "sync_port", .quoted = "'51900'" },
        { .key = "sync_port", .value = "51900.5", .field = "sync_port", .quoted = "'51900.5'" },
        { .key = "sync_port", .value = "null", .field = "sync_port", .quoted = "null" },
        /* pairing */
        { .key = "pairing", .value = "\"x\"", .field = "pairing", .quoted = "'x'" },
        { .key = "pairing", .value = "[]", .field = "pairing", .quoted = "an array" },
        { .key = "pairing", .value = PAIRING(PAIRING_ID_15, PAIRING_SECRET, EXPIRES), .field = "pairing.id",
          .quoted = "'" PAIRING_ID_15 "'" },
        { .key = "pairing", .value = PAIRING(PAIRING_SECRET, PAIRING_SECRET, EXPIRES), .field = "pairing.id",
          .quoted = "'" PAIRING_SECRET "'" },
        { .key = "pairing", .value = PAIRING("8PHy8+T19vf4-fr7/P3-_w", PAIRING_SECRET, EXPIRES), .field = "pairing.id",
          .quoted = "'8PHy8+T19vf4-fr7/P3-_w'" },
        { .key = "pairing", .value = "{\"secret\":\"" PAIRING_SECRET "\",\"expires\":" EXPIRES "}", .field = "pairing.id" },
        { .key = "pairing", .value = PAIRING(PAIRING_ID, PAIRING_SECRET_31, EXPIRES), .field = "pairing.secret" },
        { .key = "pairing", .value = PAIRING(PAIRING_ID, PAIRING_ID, EXPIRES), .field = "pairing.secret" },
        { .key = "pairing", .value = "{\"id\":\"" PAIRING_ID "\",\"expires\":" EXPIRES "}", .field = "pairing.secret" },
        { .key = "pairing", .value = "{\"id\":\"" PAIRING_ID "\",\"secret\":\"" PAIRING_SECRET "\"}",
          .field = "pairing.expires" },
        { .key = "pairing", .value = PAIRING(PAIRING_ID, PAIRING_SECRET, "-5"), .field = "pairing.expires", .quoted = "'-5'" },
        { .key = "pairing", .value = PAIRING(PAIRING_ID, PAIRING_SECRET, "0"), .field = "pairing.expires", .quoted = "'0'" },
        { .key = "pairing", .value = PAIRING(PAIRING_ID, PAIRING_SECRET, "\"" EXPIRES "\""), .field = "pairing.expires",
          .quoted = "'" EXPIRES "'" },
        { .key = "pairing", .value = PAIRING(PAIRING_ID, PAIRING_SECRET, "1.9e9"), .field = "pairing.expires",
          .quoted = "'1900000000.0'" },
};

START_TEST(test_bad_case) {
        const BadCase *c = &bad_cases[_i];
        g_autofree char *built = NULL;
        g_autofree char *what = NULL;
        g_autoptr(GError) error = NULL;
        g_autoptr(Invite) invite = NULL;
        const char *text = c->text;

        if (!text)
                text = built = full_invite_with(c->key, c->value, c->suffix);
        what = g_strdup_printf("case %d (%.80s)", _i, text);

        invite = invite_parse(text, &error);
        ck_assert_msg(!invite, "%s: accepted", what);
        assert_invalid(error, c->field, c->quoted, what);

        /* The JSON entry point must say the same of JSON texts. */
        if (text[0] == '{') {
                g_autoptr(GError) json_error = NULL;
                g_autoptr(Invite) json_invite = invite_parse_json(text, strlen(text), &json_error);

                ck_assert_msg(!json_invite, "%s: accepted by invite_parse_json", what);
                ck_assert_str_eq(json_error->message, error->message);
        }
}
END_TEST

START_TEST(test_bad_case_compact) {
        const BadCase *c = &bad_cases[_i];
        g_autofree char *built = NULL, *compact = NULL, *what = NULL;
        g_autoptr(GError) error = NULL;
        g_autoptr(Invite) invite = NULL;

        /* Field errors are the same whichever form carries the JSON. */
        if (c->text || g_str_equal(c->field, "invite"))
                return;

        built = full_invite_with(c->key, c->value, c->suffix);
        compact = compact_of(built, strlen(built));
        what = g_strdup_printf("compact case %d (%.80s)", _i, built);
        invite = invite_parse(compact, &error);
        ck_assert_msg(!invite, "%s: accepted", what);
        assert_invalid(error, c->field, c->quoted, what);
}
END_TEST

START_TEST(test_table_size) {
        ck_assert_uint_ge(G_N_ELEMENTS(bad_cases), 45);
}
END_TEST

START_TEST(test_full_invite) {
        g_autofree char *json = full_invite();
        g_autoptr(GError) error = NULL;
        g_autoptr(Invite) invite = invite_parse(json, &error);

        ck_assert_msg(invite, "%s", error ? error->message : "");
        ck_assert_str_eq(invite->cell_name, "cella");
        ck_assert_str_eq(invite->public_key, KEY);
        ck_assert_str_eq(invite->endpoint, "192.0.2.10:51820");
        ck_assert_str_eq(invite->endpoint_host, "192.0.2.10");
        ck_assert_uint_eq(invite->endpoint_port, 51820);
        ck_assert_uint_eq(invite->vpn_subnet.address, IP(10, 23, 7, 0));
        ck_assert_uint_eq(invite->vpn_subnet.prefixlen, 24);
        ck_assert_uint_eq(invite->dns_ip, IP(10, 23, 7, 1));
        ck_assert_str_eq(invite->domain, "cella.cell");
        ck_assert_uint_eq(invite->tunnel_address, IP(10, 23, 7, 2));
        ck_assert_uint_eq(invite->sync_port, 51900);
        ck_assert(invite->has_pairing);
        ck_assert_str_eq(invite->pairing.id, PAIRING_ID);
        ck_assert_str_eq(invite->pairing.secret, PAIRING_SECRET);
        ck_assert_int_eq(invite->pairing.expires, 1900000000);
}
END_TEST

START_TEST(test_original_format) {
        static const char json[] =
                "{\"version\": 1, \"cell_name\": \"cellb\", \"public_key\": \"" KEY "\",\n"
                " \"endpoint\": \"cellb.example.org:51820\", \"vpn_subnet\": \"10.1.2.0/24\",\n"
                " \"dns_ip\": \"10.1.2.1\", \"domain\": \"CellB.Cell\"}";
        g_autoptr(GError) error = NULL;
        g_autoptr(Invite) invite = invite_parse(json, &error);

        ck_assert_msg(invite, "%s", error ? error->message : "");
        ck_assert_str_eq(invite->endpoint_host, "cellb.example.org");
        ck_assert_uint_eq(invite->endpoint_port, 51820);
        ck_assert_str_eq(invite->domain, "CellB.Cell"); /* case kept */
        ck_assert_uint_eq(invite->tunnel_address, IP(10, 1, 2, 1));
        ck_assert_uint_eq(invite->sync_port, INVITE_DEFAULT_SYNC_PORT);
        ck_assert(!invite->has_pairing);
        ck_assert_ptr_null(invite->pairing.id);
        ck_assert_ptr_null(invite->pairing.secret);
}
END_TEST

START_TEST(test_compact_form) {
        g_autofree char *json = full_invite();
        g_autofree char *compact = compact_of(json, strlen(json));
        g_autofree char *padded = NULL;
        size_t payload = strlen(compact) - strlen(INVITE_COMPACT_PREFIX);
        g_autoptr(Invite) from_json = invite_parse(json, NULL);
        g_autoptr(Invite) from_compact = NULL, from_padded = NULL;
        g_autoptr(GError) error = NULL;

        from_compact = invite_parse(compact, &error);
        ck_assert_msg(from_compact, "%s", error ? error->message : "");
        ck_assert(invites_equal(from_json, from_compact));

        /* Padding is tolerated. */
        ck_assert_uint_ne(payload % 4, 0);
        padded = g_strconcat(compact, payload % 4 == 2 ? "==" : "=", NULL);
        from_padded = invite_parse(padded, &error);
        ck_assert_msg(from_padded, "%s", error ? error->message : "");
        ck_assert(invites_equal(from_json, from_padded));
}
END_TEST

START_TEST(test_whitespace_around) {
        g_autofree char *json = full_invite();
        g_autofree char *compact = compact_of(json, strlen(json));
        g_autofree char *spaced_json = g_strconcat(" \n\t", json, "\r\n  ", NULL);
        g_autofree char *spaced_compact = g_strconcat("\n  ", compact, "\n", NULL);
        g_autoptr(Invite) reference = invite_parse(json, NULL);
        g_autoptr(Invite) a = NULL, b = NULL;
        g_autoptr(GError) error = NULL;

        a = invite_parse(spaced_json, &error);
        ck_assert_msg(a, "%s", error ? error->message : "");
        ck_assert(invites_equal(reference, a));
        b = invite_parse(spaced_compact, &error);
        ck_assert_msg(b, "%s", error ? error->message : "");
        ck_assert(invites_equal(reference, b));
}
END_TEST

START_TEST(test_subnet_canonicalised) {
        g_autofree char *json = full_invite_with("vpn_subnet", "\"10.23.7.5/24\"", NULL);
        g_autoptr(GError) error = NULL;
        g_autoptr(Invite) invite = invite_parse(json, &error);
        g_autofree char *out = NULL;

        ck_assert_msg(invite, "%s", error ? error->message : "");
        ck_assert_uint_eq(invite->vpn_subnet.address, IP(10, 23, 7, 0));
        ck_assert_uint_eq(invite->vpn_subnet.prefixlen, 24);
        out = invite_to_json(invite, false);
        ck_assert_ptr_nonnull(strstr(out, "\"vpn_subnet\":\"10.23.7.0/24\""));
}
END_TEST

START_TEST(test_prefix_bounds) {
        static const struct {
                const char *subnet, *dns_ip, *tunnel_address;
        } cases[] = {
                { "\"10.23.0.0/16\"", "\"10.23.255.254\"", "\"10.23.0.1\"" },
                { "\"10.23.7.4/30\"", "\"10.23.7.5\"", "\"10.23.7.6\"" },
        };

        for (size_t i = 0; i < G_N_ELEMENTS(cases); i++) {
                g_autofree char *with_subnet = full_invite_with("vpn_subnet", cases[i].subnet, NULL);
                g_autoptr(GString) json = g_string_new(with_subnet);
                g_autoptr(GError) error = NULL;
                g_autoptr(Invite) invite = NULL;

                g_string_replace(json, "\"10.23.7.1\"", cases[i].dns_ip, 0);
                g_string_replace(json, "\"10.23.7.2\"", cases[i].tunnel_address, 0);
                invite = invite_parse(json->str, &error);
                ck_assert_msg(invite, "%s: %s", json->str, error ? error->message : "");
        }
}
END_TEST

START_TEST(test_unknown_keys_ignored) {
        static const char json[] =
                "{\"version\":1,\"future\":{\"nested\":[1,2.5,null,true,\"x\"]},\"cell_name\":\"cella\","
                "\"public_key\":\"" KEY "\",\"endpoint\":\"192.0.2.10:51820\",\"vpn_subnet\":\"10.23.7.0/24\","
                "\"dns_ip\":\"10.23.7.1\",\"domain\":\"cella.cell\",\"motto\":\"\\u00e9t\\u00e9 \\ud83d\\ude00\","
                "\"pairing\":{\"id\":\"" PAIRING_ID "\",\"secret\":\"" PAIRING_SECRET "\",\"expires\":" EXPIRES ","
                "\"hint\":-1e-3}}";
        g_autoptr(GError) error = NULL;
        g_autoptr(Invite) invite = invite_parse(json, &error);

        ck_assert_msg(invite, "%s", error ? error->message : "");
        ck_assert(invite->has_pairing);
}
END_TEST

START_TEST(test_round_trip) {
        g_autofree char *json = full_invite();
        g_autoptr(Invite) invite = invite_parse(json, NULL);
        g_autofree char *with = NULL, *without = NULL, *compact = NULL;
        g_autoptr(Invite) a = NULL, b = NULL, c = NULL;
        g_autoptr(GError) error = NULL;

        ck_assert_ptr_nonnull(invite);

        with = invite_to_json(invite, true);
        a = invite_parse(with, &error);
        ck_assert_msg(a, "%s", error ? error->message : "");
        ck_assert(invites_equal(invite, a));

        compact = invite_to_compact(invite);
        ck_assert(g_str_has_prefix(compact, INVITE_COMPACT_PREFIX));
        ck_assert_ptr_null(strchr(compact, '='));
        b = invite_parse(compact, &error);
        ck_assert_msg(b, "%s", error ? error->message : "");
        ck_assert(invites_equal(invite, b));

        without = invite_to_json(invite, false);
        ck_assert_ptr_null(strstr(without, "pairing"));
        ck_assert_ptr_null(strstr(without, PAIRING_SECRET));
        c = invite_parse(without, &error);
        ck_assert_msg(c, "%s", error ? error->message : "");
        ck_assert(!c->has_pairing);
        invite->has_pairing = false;
        ck_assert(invites_equal(invite, c));
        invite->has_pairing = true;
}
END_TEST

START_TEST(test_round_trip_original) {
        static const char json[] =
                "{\"version\":1,\"cell_name\":\"cellb\",\"public_key\":\"" KEY "\",\"endpoint\":\"cellb.example.org:1\","
                "\"vpn_subnet\":\"172.16.0.0/16\",\"dns_ip\":\"172.16.0.1\",\"domain\":\"cellb.cell\"}";
        g_autoptr(Invite) invite = invite_parse(json, NULL);
        g_autofree char *out = NULL, *compact = NULL;
        g_autoptr(Invite) a = NULL, b = NULL;

        ck_assert_ptr_nonnull(invite);
        out = invite_to_json(invite, true);
        a = invite_parse(out, NULL);
        ck_assert_ptr_nonnull(a);
        ck_assert(invites_equal(invite, a));
        compact = invite_to_compact(invite);
        b = invite_parse(compact, NULL);
        ck_assert_ptr_nonnull(b);
        ck_assert(invites_equal(invite, b));
}
END_TEST

START_TEST(test_serialisation_order) {
        g_autofree char *json = full_invite();
        g_autoptr(Invite) invite = invite_parse(json, NULL);
        g_autofree char *with = NULL, *without = NULL;
        g_autoptr(Invite) no_pairing = NULL;
        g_autofree char *no_pairing_json = NULL;

        ck_assert_ptr_nonnull(invite);
        with = invite_to_json(invite, true);
        ck_assert_str_eq(with, json);

        without = invite_to_json(invite, false);
        ck_assert_str_eq(without,
                         "{\"version\":1,\"cell_name\":\"cella\",\"public_key\":\"" KEY "\","
                         "\"endpoint\":\"192.0.2.10:51820\",\"vpn_subnet\":\"10.23.7.0/24\",\"dns_ip\":\"10.23.7.1\","
                         "\"domain\":\"cella.cell\",\"tunnel_address\":\"10.23.7.2\",\"sync_port\":51900}");

        /* Asked for, but there is none. */
        no_pairing = invite_copy(invite);
        pairing_token_clear(&no_pairing->pairing);
        no_pairing->has_pairing = false;
        no_pairing_json = invite_to_json(no_pairing, true);
        ck_assert_str_eq(no_pairing_json, without);
}
END_TEST

START_TEST(test_to_json_object) {
        g_autofree char *json = full_invite();
        g_autoptr(Invite) invite = invite_parse(json, NULL);
        g_autoptr(JsonObject) object = NULL;
        g_autoptr(GError) error = NULL;
        g_autoptr(Invite) back = NULL;

        ck_assert_ptr_nonnull(invite);
        object = invite_to_json_object(invite, true);
        ck_assert_int_eq(json_object_get_int_member(object, "version"), INVITE_VERSION);
        ck_assert_int_eq(json_object_get_int_member(object, "sync_port"), 51900);
        ck_assert(json_object_has_member(object, "pairing"));

        back = invite_from_json_object(object, &error);
        ck_assert_msg(back, "%s", error ? error->message : "");
        ck_assert(invites_equal(invite, back));

        json_object_remove_member(object, "dns_ip");
        g_clear_pointer(&back, invite_free);
        back = invite_from_json_object(object, &error);
        ck_assert_ptr_null(back);
        assert_invalid(error, "dns_ip", NULL, "invite_from_json_object without dns_ip");
}
END_TEST

START_TEST(test_copy) {
        g_autofree char *json = full_invite();
        g_autoptr(Invite) invite = invite_parse(json, NULL);
        g_autoptr(Invite) copy = NULL;

        ck_assert_ptr_nonnull(invite);
        copy = invite_copy(invite);
        ck_assert(invites_equal(invite, copy));
        ck_assert_ptr_ne(copy->cell_name, invite->cell_name);
        ck_assert_ptr_ne(copy->public_key, invite->public_key);
        ck_assert_ptr_ne(copy->endpoint, invite->endpoint);
        ck_assert_ptr_ne(copy->endpoint_host, invite->endpoint_host);
        ck_assert_ptr_ne(copy->domain, invite->domain);
        ck_assert_ptr_ne(copy->pairing.id, invite->pairing.id);
        ck_assert_ptr_ne(copy->pairing.secret, invite->pairing.secret);

        /* Freeing one leaves the other whole (ASan would notice otherwise). */
        g_clear_pointer(&invite, invite_free);
        ck_assert_str_eq(copy->pairing.secret, PAIRING_SECRET);
        ck_assert_str_eq(copy->cell_name, "cella");

        ck_assert_ptr_null(invite_copy(NULL));
        invite_free(NULL);
}
END_TEST

START_TEST(test_new) {
        g_autoptr(Invite) invite = invite_new();

        ck_assert_uint_eq(invite->sync_port, INVITE_DEFAULT_SYNC_PORT);
        ck_assert(!invite->has_pairing);
        ck_assert_ptr_null(invite->cell_name);
}
END_TEST

START_TEST(test_pairing_padding_canonicalised) {
        g_autofree char *json = full_invite_with("pairing", PAIRING(PAIRING_ID "==", PAIRING_SECRET "=", EXPIRES), NULL);
        g_autoptr(GError) error = NULL;
        g_autoptr(Invite) invite = invite_parse(json, &error);

        ck_assert_msg(invite, "%s", error ? error->message : "");
        ck_assert_str_eq(invite->pairing.id, PAIRING_ID);
        ck_assert_str_eq(invite->pairing.secret, PAIRING_SECRET);
}
END_TEST

START_TEST(test_size_limit) {
        g_autofree char *json = full_invite();
        size_t base = strlen(json);
        g_autoptr(GString) exact = g_string_new(NULL);
        g_autoptr(GString) over = NULL;
        g_autoptr(GString) spaced = NULL;
        g_autoptr(GError) error = NULL;
        g_autoptr(Invite) invite = NULL;
        g_autofree char *compact = NULL;
        const char *filler = ",\"filler\":\"\"}";

        /* {…,"filler":"xxx…"} of exactly INVITE_MAX_SIZE bytes. */
        g_string_append_len(exact, json, (gssize) base - 1);
        g_string_append(exact, ",\"filler\":\"");
        while (exact->len < INVITE_MAX_SIZE - 2)
                g_string_append_c(exact, 'x');
        g_string_append(exact, "\"}");
        ck_assert_uint_eq(exact->len, INVITE_MAX_SIZE);
        ck_assert_uint_gt(INVITE_MAX_SIZE, base + strlen(filler));

        invite = invite_parse(exact->str, &error);
        ck_assert_msg(invite, "%s", error ? error->message : "");
        g_clear_pointer(&invite, invite_free);
        invite = invite_parse_json(exact->str, exact->len, &error);
        ck_assert_msg(invite, "%s", error ? error->message : "");
        g_clear_pointer(&invite, invite_free);

        over = g_string_new(exact->str);
        g_string_insert_c(over, (gssize) base + 10, 'x');
        invite = invite_parse(over->str, &error);
        ck_assert_ptr_null(invite);
        assert_invalid(error, "invite", "4096", "JSON of 4097 bytes");
        g_clear_error(&error);
        invite = invite_parse_json(over->str, over->len, &error);
        ck_assert_ptr_null(invite);
        assert_invalid(error, "invite", "4096", "JSON of 4097 bytes via invite_parse_json");
        g_clear_error(&error);

        /* The whole text counts, white space included. */
        spaced = g_string_new(exact->str);
        g_string_append_c(spaced, '\n');
        invite = invite_parse(spaced->str, &error);
        ck_assert_ptr_null(invite);
        assert_invalid(error, "invite", NULL, "4096 bytes of JSON and a newline");
        g_clear_error(&error);

        /* A compact form of more than 4 KiB, however valid what it holds. */
        compact = compact_of(exact->str, 3200);
        ck_assert_uint_gt(strlen(compact), INVITE_MAX_SIZE);
        invite = invite_parse(compact, &error);
        ck_assert_ptr_null(invite);
        assert_invalid(error, "invite", NULL, "compact form over 4 KiB");
}
END_TEST

START_TEST(test_nul_byte) {
        g_autofree char *json = full_invite();
        g_autofree char *with_nul = g_strdup(json);
        g_autoptr(GError) error = NULL;
        g_autoptr(Invite) invite = NULL;
        char *name = strstr(with_nul, "cella");

        /* "cel\0a": a reader stopping at the NUL would see another name. */
        name[3] = '\0';
        invite = invite_parse_json(with_nul, strlen(json), &error);
        ck_assert_ptr_null(invite);
        assert_invalid(error, "invite", NULL, "NUL byte in JSON");
        ck_assert_ptr_nonnull(strstr(error->message, "NUL"));
        g_clear_error(&error);

        invite = invite_parse_json(json, strlen(json) + 1, &error);
        ck_assert_ptr_null(invite);
        assert_invalid(error, "invite", NULL, "terminating NUL counted");
}
END_TEST

START_TEST(test_long_value_truncated) {
        g_autoptr(GString) name = g_string_new("\"");
        g_autofree char *json = NULL;
        g_autoptr(GError) error = NULL;
        g_autoptr(Invite) invite = NULL;

        for (int i = 0; i < 3000; i++)
                g_string_append_c(name, 'a');
        g_string_append_c(name, '"');
        json = full_invite_with("cell_name", name->str, NULL);
        ck_assert_uint_le(strlen(json), INVITE_MAX_SIZE);

        invite = invite_parse(json, &error);
        ck_assert_ptr_null(invite);
        assert_invalid(error, "cell_name", "'" A64 "…'", "3000-byte name");
        ck_assert_uint_lt(strlen(error->message), 200);
        ck_assert_ptr_nonnull(strstr(error->message, "3000"));
}
END_TEST

START_TEST(test_escaped_quote) {
        g_autofree char *json = full_invite_with("cell_name", "\"it's\\\\\\nx\"", NULL);
        g_autoptr(GError) error = NULL;
        g_autoptr(Invite) invite = invite_parse(json, &error);

        ck_assert_ptr_null(invite);
        assert_invalid(error, "cell_name", "'it\\'s\\\\\\x0ax'", "quote, backslash and newline");
        ck_assert_ptr_null(strchr(error->message, '\n'));
}
END_TEST

START_TEST(test_secret_not_quoted) {
        g_autofree char *json = full_invite_with("pairing", PAIRING(PAIRING_ID, PAIRING_SECRET_31, EXPIRES), NULL);
        g_autoptr(GError) error = NULL;
        g_autoptr(Invite) invite = invite_parse(json, &error);

        ck_assert_ptr_null(invite);
        assert_invalid(error, "pairing.secret", NULL, "short secret");
        ck_assert_ptr_null(strstr(error->message, "4OHi4"));
        ck_assert_ptr_nonnull(strstr(error->message, "42 characters"));
}
END_TEST

START_TEST(test_duplicate_key_last_wins) {
        g_autofree char *json = full_invite_with("cell_name", "\"first\",\"cell_name\":\"second\"", NULL);
        g_autoptr(GError) error = NULL;
        g_autoptr(Invite) invite = invite_parse(json, &error);

        ck_assert_msg(invite, "%s", error ? error->message : "");
        ck_assert_str_eq(invite->cell_name, "second");
}
END_TEST

Suite *unit_suite(void) {
        Suite *s = suite_create("invite");
        TCase *tc = tcase_create("invite");

        tcase_add_loop_test(tc, test_bad_case, 0, (int) G_N_ELEMENTS(bad_cases));
        tcase_add_loop_test(tc, test_bad_case_compact, 0, (int) G_N_ELEMENTS(bad_cases));
        tcase_add_test(tc, test_table_size);
        tcase_add_test(tc, test_full_invite);
        tcase_add_test(tc, test_original_format);
        tcase_add_test(tc, test_compact_form);
        tcase_add_test(tc, test_whitespace_around);
        tcase_add_test(tc, test_subnet_canonicalised);
        tcase_add_test(tc, test_prefix_bounds);
        tcase_add_test(tc, test_unknown_keys_ignored);
        tcase_add_test(tc, test_round_trip);
        tcase_add_test(tc, test_round_trip_original);
        tcase_add_test(tc, test_serialisation_order);
        tcase_add_test(tc, test_to_json_object);
        tcase_add_test(tc, test_copy);
        tcase_add_test(tc, test_new);
        tcase_add_test(tc, test_pairing_padding_canonicalised);
        tcase_add_test(tc, test_size_limit);
        tcase_add_test(tc, test_nul_byte);
        tcase_add_test(tc, test_long_value_truncated);
        tcase_add_test(tc, test_escaped_quote);
        tcase_add_test(tc, test_secret_not_quoted);
        tcase_add_test(tc, test_duplicate_key_last_wins);
        suite_add_tcase(s, tc);
        return s;
}
