/* invite.c: strict parsing and serialisation of invites, JSON and compact (DESIGN §5). */
#include <stdarg.h>
#include <string.h>

#include "i18n.h"
#include "invite.h"
#include "names.h"
#include "pic-error.h"
#include "wg-key.h"

/* Bytes of an offending value quoted in a message: enough to recognise it,
 * too few for a 4 KiB garbage value to flood the log. */
#define QUOTE_MAX 64
/* Bytes of context quoted around a JSON syntax error; kept short because the
 * text around it may hold the pairing secret. */
#define SYNTAX_CONTEXT_MAX 16
/* An invite is two levels deep; unknown members may nest a little more in
 * later versions, but not enough to make the parser recurse without bound. */
#define JSON_MAX_DEPTH 32

/* Longest possible valid texts, so that overlong values are refused before
 * any parser quotes them in full. */
#define ADDRESS_TEXT_MAX 15                     /* "255.255.255.255" */
#define PREFIX_TEXT_MAX 18                      /* "255.255.255.255/32" */
#define ENDPOINT_TEXT_MAX (DOMAIN_MAX + 6)      /* host, ':' and five digits */
#define PAIRING_ID_TEXT_MAX 24                  /* 16 bytes, padding included */
#define PAIRING_SECRET_TEXT_MAX 44              /* 32 bytes, padding included */

static char *quote_bounded(const char *value, size_t len, size_t max) {
        GString *s = g_string_sized_new(max + 8);
        size_t n = MIN(len, max);

        /* Everything but printable ASCII is escaped, so the log shows what was
         * really sent and a control character cannot forge log lines. */
        g_string_append_c(s, '\'');
        for (size_t i = 0; i < n; i++) {
                unsigned char c = (unsigned char) value[i];

                if (c == '\'' || c == '\\')
                        g_string_append_printf(s, "\\%c", c);
                else if (c >= 0x20 && c < 0x7f)
                        g_string_append_c(s, (char) c);
                else
                        g_string_append_printf(s, "\\x%02x", c);
        }
        if (len > n)
                g_string_append(s, "…");
        g_string_append_c(s, '\'');
        return g_string_free(s, FALSE);
}

static char *quote(const char *value) {
        return quote_bounded(value, strlen(value), QUOTE_MAX);
}

static bool invalid(GError **error, const char *field, const char *format, ...) G_GNUC_PRINTF(3, 4);
static bool invalid(GError **error, const char *field, const char *format, ...) {
        g_autofree char *message = NULL;
        va_list ap;

        va_start(ap, format);
        message = g_strdup_vprintf(format, ap);
        va_end(ap);
        g_set_error(error, PIC_ERROR, PIC_ERROR_INVALID_INVITE, "%s: %s", field, message);
        return false;
}

/* Turns the error of a shared parser (netaddr, names) about @value into ours:
 * a different code, the field in front, and the value in our bounded quoting
 * whatever the parser's own quoting was. */
static bool invalid_from(GError **error, const char *field, const char *value, const GError *cause) {
        g_autofree char *quoted = quote(value);
        g_autofree char *raw = g_strdup_printf("'%s'", value);
        g_autoptr(GString) message = g_string_new(cause->message);

        if (!g_str_equal(raw, quoted))
                g_string_replace(message, raw, quoted, 0);
        if (!strstr(message->str, quoted))
                return invalid(error, field, "%s: %s", quoted, message->str);
        return invalid(error, field, "%s", message->str);
}

static char *describe_node(JsonNode *node) {
        GType type;

        switch (JSON_NODE_TYPE(node)) {
        case JSON_NODE_OBJECT:
                /* Translators: what an invite's field held, completing "expected …, got %s". */
                return g_strdup(_("an object"));
        case JSON_NODE_ARRAY:
                return g_strdup(_("an array"));
        case JSON_NODE_NULL:
                return g_strdup("null");
        case JSON_NODE_VALUE:
                break;
        }

        type = json_node_get_value_type(node);
        if (type == G_TYPE_STRING) {
                g_autofree char *quoted = quote(json_node_get_string(node));
                return g_strdup_printf(_("the string %s"), quoted);
        }
        if (type == G_TYPE_INT64)
                return g_strdup_printf(_("the integer '%lld'"), (long long) json_node_get_int(node));
        if (type == G_TYPE_DOUBLE) {
                char buffer[G_ASCII_DTOSTR_BUF_SIZE];

                g_ascii_dtostr(buffer, sizeof buffer, json_node_get_double(node));
                /* 1.0 would print as "1" and look like the integer it is not. */
                if (!strpbrk(buffer, ".eEni"))
                        return g_strdup_printf(_("the fractional number '%s.0'"), buffer);
                return g_strdup_printf(_("the fractional number '%s'"), buffer);
        }
        if (type == G_TYPE_BOOLEAN)
                return g_strdup(json_node_get_boolean(node) ? "'true'" : "'false'");
        return g_strdup(_("a value of unknown type"));
}

/* *ret is NULL when an optional member is absent. */
static bool get_member(JsonObject *object, const char *field, const char *key, bool required,
                       JsonNode **ret, GError **error) {
        JsonNode *node = json_object_get_member(object, key);

        if (!node && required)
                return invalid(error, field, _("missing; the invite must carry it"));
        *ret = node;
        return true;
}

/* A non-empty string of printable ASCII (every field the invite holds is
 * written in it) of at most @max_len bytes. A @secret is never quoted. */
static bool check_string(JsonNode *node, const char *field, size_t max_len, bool secret,
                         const char **ret, GError **error) {
        g_autofree char *shown = NULL;
        const char *value = NULL;
        size_t len;

        if (!JSON_NODE_HOLDS_VALUE(node) || json_node_get_value_type(node) != G_TYPE_STRING) {
                g_autofree char *described = describe_node(node);
                return invalid(error, field, _("expected a string, got %s"), described);
        }

        value = json_node_get_string(node);
        len = strlen(value);
        if (len == 0)
                return invalid(error, field, _("'' is empty; it must be given"));

        shown = secret ? g_strdup_printf(_("a value of %zu characters"), len) : quote(value);
        if (len > max_len)
                return invalid(error, field, _("%s is %zu characters long; at most %zu are allowed"),
                               shown, len, max_len);
        for (size_t i = 0; i < len; i++)
                if (!g_ascii_isprint(value[i]))
                        return invalid(error, field, _("%s contains a character that is not printable ASCII"), shown);

        *ret = value;
        return true;
}

/* @what completes "expected …", e.g. "a port number from 1 to 65535", translated. */
static bool check_integer(JsonNode *node, const char *field, gint64 min, gint64 max, const char *what,
                          gint64 *ret, GError **error) {
        gint64 value = 0;

        if (!JSON_NODE_HOLDS_VALUE(node) || json_node_get_value_type(node) != G_TYPE_INT64) {
                g_autofree char *described = describe_node(node);
                return invalid(error, field, _("expected %s, got %s"), what, described);
        }

        value = json_node_get_int(node);
        if (value < min || value > max)
                return invalid(error, field, _("'%lld' is out of range; expected %s"), (long long) value, what);

        *ret = value;
        return true;
}

static bool get_string(JsonObject *object, const char *field, const char *key, bool required,
                       size_t max_len, bool secret, const char **ret, GError **error) {
        JsonNode *node = NULL;

        if (!get_member(object, field, key, required, &node, error))
                return false;
        if (!node) {
                *ret = NULL;
                return true;
        }
        return check_string(node, field, max_len, secret, ret, error);
}

static bool parse_version(JsonObject *object, GError **error) {
        JsonNode *node = NULL;
        gint64 version = 0;

        if (!get_member(object, "version", "version", true, &node, error))
                return false;
        if (!JSON_NODE_HOLDS_VALUE(node) || json_node_get_value_type(node) != G_TYPE_INT64) {
                g_autofree char *described = describe_node(node);
                return invalid(error, "version", _("expected the integer %d, got %s"), INVITE_VERSION, described);
        }

        version = json_node_get_int(node);
        if (version != INVITE_VERSION)
                return invalid(error, "version", _("'%lld' is not an invite version this cell reads; "
                                 "it reads version %d invites"), (long long) version, INVITE_VERSION);
        return true;
}

static bool parse_cell_name(JsonObject *object, Invite *invite, GError **error) {
        g_autoptr(GError) local = NULL;
        const char *value = NULL;

        if (!get_string(object, "cell_name", "cell_name", true, CELL_NAME_MAX, false, &value, error))
                return false;
        if (!names_validate_cell_name(value, &local))
                return invalid_from(error, "cell_name", value, local);

        invite->cell_name = g_strdup(value);
        return true;
}

static bool parse_public_key(JsonObject *object, Invite *invite, GError **error) {
        g_autoptr(GError) local = NULL;
        g_autofree char *quoted = NULL;
        const char *value = NULL;
        WgKey key;

        if (!get_string(object, "public_key", "public_key", true, WG_KEY_B64_LEN, false, &value, error))
                return false;

        quoted = quote(value);
        if (!wg_key_from_base64(value, &key, &local))
                return invalid(error, "public_key", _("%s is not the base64 form of a %d-byte key "
                                 "(%d characters, the last one '=')"), quoted, WG_KEY_LEN, WG_KEY_B64_LEN);
        if (wg_key_is_zero(&key))
                return invalid(error, "public_key", _("%s is the all-zero key, which WireGuard refuses"), quoted);

        /* Stored re-encoded, so that keys compare equal as strings. */
        invite->public_key = wg_key_to_base64(&key);
        return true;
}

static bool parse_endpoint(JsonObject *object, Invite *invite, GError **error) {
        g_autoptr(GError) local = NULL;
        g_autofree char *host = NULL, *port_text = NULL;
        const char *value, *colon;
        uint16_t port = 0;

        if (!get_string(object, "endpoint", "endpoint", true, ENDPOINT_TEXT_MAX, false, &value, error))
                return false;
        if (!netaddr_parse_endpoint(value, &host, &port, &local))
                return invalid_from(error, "endpoint", value, local);

        /* The text is kept as given and shown and compared as such, so only
         * one spelling of a port is accepted. */
        colon = strrchr(value, ':');
        port_text = g_strdup_printf("%u", (unsigned) port);
        if (!colon || !g_str_equal(colon + 1, port_text)) {
                g_autofree char *quoted = quote(value);
                return invalid(error, "endpoint", _("%s writes the port %s with leading zeros; write it as '%s'"),
                               quoted, port_text, port_text);
        }

        invite->endpoint = g_strdup(value);
        invite->endpoint_host = g_steal_pointer(&host);
        invite->endpoint_port = port;
        return true;
}

static bool parse_vpn_subnet(JsonObject *object, Invite *invite, GError **error) {
        g_autoptr(GError) local = NULL;
        const char *value = NULL;
        Ipv4Prefix prefix;

        if (!get_string(object, "vpn_subnet", "vpn_subnet", true, PREFIX_TEXT_MAX, false, &value, error))
                return false;
        if (!netaddr_parse_prefix(value, true, &prefix, &local))
                return invalid_from(error, "vpn_subnet", value, local);

        if (prefix.prefixlen < INVITE_MIN_PREFIXLEN || prefix.prefixlen > INVITE_MAX_PREFIXLEN) {
                g_autofree char *quoted = quote(value);
                return invalid(error, "vpn_subnet",
                               prefix.prefixlen < INVITE_MIN_PREFIXLEN ?
                               _("%s is too large for a cell's subnet; use a prefix length from /%d to /%d") :
                               _("%s is too small for a cell's subnet; use a prefix length from /%d to /%d"),
                               quoted, INVITE_MIN_PREFIXLEN, INVITE_MAX_PREFIXLEN);
        }

        /* Host bits are forgiven ("10.23.7.1/24" means the cell's range), but
         * the range is all the invite keeps. */
        invite->vpn_subnet = netaddr_canonical(&prefix);
        return true;
}

/* An address given for a host inside the cell's subnet. */
static bool parse_host_address(const char *field, const char *value, const Ipv4Prefix *subnet,
                               uint32_t *ret, GError **error) {
        g_autoptr(GError) local = NULL;
        g_autofree char *quoted = NULL, *network = NULL;
        uint32_t address = 0;

        if (!netaddr_parse_address(value, &address, &local))
                return invalid_from(error, field, value, local);

        quoted = quote(value);
        network = netaddr_format_network(subnet);
        if (!netaddr_contains(subnet, address))
                return invalid(error, field,
                               /* Translators: vpn_subnet and other lowercase_names are fields: keep them. */
                               _("%s is outside vpn_subnet '%s'; use an address inside it"),
                               quoted, network);
        if (address == netaddr_network(subnet))
                return invalid(error, field, _("%s is the network address of vpn_subnet '%s'; use a host address"),
                               quoted, network);
        if (address == netaddr_broadcast(subnet))
                return invalid(error, field, _("%s is the broadcast address of vpn_subnet '%s'; use a host address"),
                               quoted, network);

        *ret = address;
        return true;
}

static bool parse_dns_ip(JsonObject *object, Invite *invite, GError **error) {
        const char *value = NULL;

        if (!get_string(object, "dns_ip", "dns_ip", true, ADDRESS_TEXT_MAX, false, &value, error))
                return false;
        return parse_host_address("dns_ip", value, &invite->vpn_subnet, &invite->dns_ip, error);
}

static bool parse_domain(JsonObject *object, Invite *invite, GError **error) {
        g_autoptr(GError) local = NULL;
        const char *value = NULL;

        if (!get_string(object, "domain", "domain", true, DOMAIN_MAX, false, &value, error))
                return false;
        if (!names_validate_domain(value, &local))
                return invalid_from(error, "domain", value, local);

        invite->domain = g_strdup(value);
        return true;
}

static bool parse_tunnel_address(JsonObject *object, Invite *invite, GError **error) {
        const char *value = NULL;

        if (!get_string(object, "tunnel_address", "tunnel_address", false, ADDRESS_TEXT_MAX, false, &value, error))
                return false;
        if (!value) {
                /* Original-format invites: the cell answered DNS on its tunnel address. */
                invite->tunnel_address = invite->dns_ip;
                return true;
        }
        return parse_host_address("tunnel_address", value, &invite->vpn_subnet, &invite->tunnel_address, error);
}

static bool parse_sync_port(JsonObject *object, Invite *invite, GError **error) {
        JsonNode *node = NULL;
        gint64 port = 0;

        if (!get_member(object, "sync_port", "sync_port", false, &node, error))
                return false;
        if (!node) {
                invite->sync_port = INVITE_DEFAULT_SYNC_PORT;
                return true;
        }
        if (!check_integer(node, "sync_port", 1, G_MAXUINT16, _("a port number from 1 to 65535"), &port, error))
                return false;

        invite->sync_port = (uint16_t) port;
        return true;
}

/* Base64url of exactly @n_bytes bytes, stored re-encoded without padding so
 * that ids compare equal as strings whichever way they were written. */
static bool parse_pairing_bytes(JsonObject *object, const char *field, const char *key, size_t n_bytes,
                                size_t max_len, bool secret, char **ret, GError **error) {
        g_autoptr(GError) local = NULL;
        uint8_t bytes[PAIRING_SECRET_BYTES];
        const char *value = NULL;

        g_assert(n_bytes <= sizeof bytes);

        if (!get_string(object, field, key, true, max_len, secret, &value, error))
                return false;
        if (!pairing_base64url_decode(value, bytes, n_bytes, &local)) {
                g_autofree char *shown = secret ? g_strdup_printf(_("a value of %zu characters"), strlen(value))
                                                : quote(value);
                return invalid(error, field,
                               _("%s is not the base64url form of %zu bytes (%zu characters without padding)"),
                               shown, n_bytes, (n_bytes * 4 + 2) / 3);
        }

        *ret = pairing_base64url_encode(bytes, n_bytes);
        explicit_bzero(bytes, sizeof bytes);
        return true;
}

static bool parse_pairing(JsonObject *object, Invite *invite, GError **error) {
        JsonObject *pairing = NULL;
        JsonNode *node = NULL;
        gint64 expires = 0;

        if (!get_member(object, "pairing", "pairing", false, &node, error))
                return false;
        if (!node)
                return true;
        if (!JSON_NODE_HOLDS_OBJECT(node)) {
                g_autofree char *described = describe_node(node);
                return invalid(error, "pairing", _("expected an object with id, secret and expires, got %s"),
                               described);
        }

        pairing = json_node_get_object(node);
        if (!parse_pairing_bytes(pairing, "pairing.id", "id", PAIRING_ID_BYTES, PAIRING_ID_TEXT_MAX, false,
                                 &invite->pairing.id, error) ||
            !parse_pairing_bytes(pairing, "pairing.secret", "secret", PAIRING_SECRET_BYTES, PAIRING_SECRET_TEXT_MAX,
                                 true, &invite->pairing.secret, error) ||
            !get_member(pairing, "pairing.expires", "expires", true, &node, error) ||
            !check_integer(node, "pairing.expires", 1, G_MAXINT64, _("a Unix time in seconds (a positive integer)"),
                           &expires, error))
                return false;

        /* Whether it has expired is for the cell that issued it to judge. */
        invite->pairing.expires = expires;
        invite->has_pairing = true;
        return true;
}

Invite *invite_from_json_object(JsonObject *object, GError **error) {
        g_autoptr(Invite) invite = NULL;

        g_return_val_if_fail(object, NULL);

        /* The version first: a later version may mean other fields. */
        if (!parse_version(object, error))
                return NULL;

        invite = invite_new();
        if (!parse_cell_name(object, invite, error) ||
            !parse_public_key(object, invite, error) ||
            !parse_endpoint(object, invite, error) ||
            !parse_vpn_subnet(object, invite, error) ||
            !parse_dns_ip(object, invite, error) ||
            !parse_domain(object, invite, error) ||
            !parse_tunnel_address(object, invite, error) ||
            !parse_sync_port(object, invite, error) ||
            !parse_pairing(object, invite, error))
                return NULL;

        return g_steal_pointer(&invite);
}

/* A strict RFC 8259 syntax check run before json-glib sees the text: the
 * parser accepts comments, single quotes, hexadecimal and zero-prefixed
 * numbers and trailing data, turns integers beyond 64 bits into -1 and cuts
 * strings at "\u0000" — each a way for a text to mean something else to
 * another reader than to us. */
typedef struct {
        const char *p, *end;
        unsigned depth;
        const char *problem;
        const char *where;
} JsonCheck;

static bool json_check_fail(JsonCheck *c, const char *where, const char *problem) {
        c->where = where;
        c->problem = problem;
        return false;
}

static void json_check_skip_space(JsonCheck *c) {
        while (c->p < c->end && (*c->p == ' ' || *c->p == '\t' || *c->p == '\n' || *c->p == '\r'))
                c->p++;
}

static bool json_check_hex4(JsonCheck *c, const char *at, unsigned *ret) {
        unsigned value = 0;

        if (c->end - at < 4)
                return false;
        for (int i = 0; i < 4; i++) {
                int digit = g_ascii_xdigit_value(at[i]);
                if (digit < 0)
                        return false;
                value = value * 16 + (unsigned) digit;
        }
        *ret = value;
        return true;
}

static bool json_check_string(JsonCheck *c) {
        const char *start = c->p;

        c->p++; /* the opening quote */
        while (c->p < c->end) {
                unsigned char ch = (unsigned char) *c->p;
                unsigned unit, low;

                if (ch == '"') {
                        c->p++;
                        return true;
                }
                if (ch < 0x20)
                        /* Translators: what is wrong with an invite's JSON: "… is not valid JSON: %s at byte %zu". */
                        return json_check_fail(c, c->p, N_("a control character inside a string must be escaped"));
                if (ch != '\\') {
                        c->p++; /* the text was checked to be UTF-8 as a whole */
                        continue;
                }

                if (c->p + 1 >= c->end)
                        break;
                switch (c->p[1]) {
                case '"': case '\\': case '/': case 'b': case 'f': case 'n': case 'r': case 't':
                        c->p += 2;
                        continue;
                case 'u':
                        break;
                default:
                        return json_check_fail(c, c->p, N_("unknown escape sequence in a string"));
                }

                if (!json_check_hex4(c, c->p + 2, &unit))
                        return json_check_fail(c, c->p, N_("\\u must be followed by four hexadecimal digits"));
                if (unit == 0)
                        return json_check_fail(c, c->p, N_("\\u0000 (a NUL character) is not allowed in a string"));
                if (unit >= 0xdc00 && unit <= 0xdfff)
                        return json_check_fail(c, c->p, N_("a low surrogate without a high one"));
                if (unit >= 0xd800 && unit <= 0xdbff) {
                        if (c->end - c->p < 12 || c->p[6] != '\\' || c->p[7] != 'u' ||
                            !json_check_hex4(c, c->p + 8, &low) || low < 0xdc00 || low > 0xdfff)
                                return json_check_fail(c, c->p, N_("a high surrogate without a low one"));
                        c->p += 6;
                }
                c->p += 6;
        }
        return json_check_fail(c, start, N_("a string is not terminated"));
}

static bool json_check_digits(JsonCheck *c) {
        if (c->p >= c->end || !g_ascii_isdigit(*c->p))
                return json_check_fail(c, c->p, N_("a number is missing its digits"));
        while (c->p < c->end && g_ascii_isdigit(*c->p))
                c->p++;
        return true;
}

static bool json_check_number(JsonCheck *c) {
        const char *start = c->p;
        bool integer = true;

        if (*c->p == '-')
                c->p++;
        if (c->p < c->end && *c->p == '0') {
                c->p++;
                if (c->p < c->end && g_ascii_isdigit(*c->p))
                        return json_check_fail(c, start, N_("a number must not start with a zero"));
        } else if (!json_check_digits(c))
                return false;

        if (c->p < c->end && *c->p == '.') {
                integer = false;
                c->p++;
                if (!json_check_digits(c))
                        return false;
        }
        if (c->p < c->end && (*c->p == 'e' || *c->p == 'E')) {
                integer = false;
                c->p++;
                if (c->p < c->end && (*c->p == '+' || *c->p == '-'))
                        c->p++;
                if (!json_check_digits(c))
                        return false;
        }

        if (integer) {
                /* "-9223372036854775808" is the longest that fits. */
                char buffer[21];
                size_t len = (size_t) (c->p - start);

                if (len >= sizeof buffer)
                        return json_check_fail(c, start, N_("an integer does not fit in 64 bits"));
                memcpy(buffer, start, len);
                buffer[len] = '\0';
                if (!g_ascii_string_to_signed(buffer, 10, G_MININT64, G_MAXINT64, NULL, NULL))
                        return json_check_fail(c, start, N_("an integer does not fit in 64 bits"));
        }
        return true;
}

static bool json_check_literal(JsonCheck *c, const char *literal) {
        size_t len = strlen(literal);

        if ((size_t) (c->end - c->p) < len || memcmp(c->p, literal, len) != 0)
                return json_check_fail(c, c->p, N_("expected a value"));
        c->p += len;
        return true;
}

static bool json_check_value(JsonCheck *c);

/* An object or an array, after its opening bracket. */
static bool json_check_container(JsonCheck *c, bool object) {
        char close = object ? '}' : ']';

        if (++c->depth > JSON_MAX_DEPTH)
                return json_check_fail(c, c->p, N_("nested too deeply"));
        c->p++;

        json_check_skip_space(c);
        if (c->p < c->end && *c->p == close) {
                c->p++;
                c->depth--;
                return true;
        }

        for (;;) {
                if (object) {
                        json_check_skip_space(c);
                        if (c->p >= c->end || *c->p != '"')
                                return json_check_fail(c, c->p, N_("expected a member name in double quotes"));
                        if (!json_check_string(c))
                                return false;
                        json_check_skip_space(c);
                        if (c->p >= c->end || *c->p != ':')
                                return json_check_fail(c, c->p, N_("expected ':' after a member name"));
                        c->p++;
                }
                if (!json_check_value(c))
                        return false;

                json_check_skip_space(c);
                if (c->p < c->end && *c->p == ',') {
                        c->p++;
                        continue;
                }
                if (c->p < c->end && *c->p == close) {
                        c->p++;
                        c->depth--;
                        return true;
                }
                return json_check_fail(c, c->p, object ? "expected ',' or '}'" : "expected ',' or ']'");
        }
}

static bool json_check_value(JsonCheck *c) {
        json_check_skip_space(c);
        if (c->p >= c->end)
                return json_check_fail(c, c->p, N_("expected a value"));

        switch (*c->p) {
        case '{':
                return json_check_container(c, true);
        case '[':
                return json_check_container(c, false);
        case '"':
                return json_check_string(c);
        case 't':
                return json_check_literal(c, "true");
        case 'f':
                return json_check_literal(c, "false");
        case 'n':
                return json_check_literal(c, "null");
        default:
                if (*c->p == '-' || g_ascii_isdigit(*c->p))
                        return json_check_number(c);
                return json_check_fail(c, c->p, N_("expected a value"));
        }
}

/* One JSON value and nothing after it but white space. */
static bool json_check_document(JsonCheck *c) {
        if (!json_check_value(c))
                return false;
        json_check_skip_space(c);
        if (c->p != c->end)
                return json_check_fail(c, c->p, N_("unexpected text after the JSON value"));
        return true;
}

/* @source names the text in messages, translated: the JSON as given, or inside the compact form. */
static Invite *parse_json(const char *json, size_t len, const char *source, GError **error) {
        g_autoptr(JsonParser) parser = NULL;
        g_autoptr(GError) local = NULL;
        JsonCheck check = { .p = json, .end = json + len };
        const char *nul, *bad_utf8;
        JsonNode *root = NULL;

        if (len > INVITE_MAX_SIZE) {
                invalid(error, "invite", _("%s is %zu bytes long; an invite is at most %d bytes"),
                        source, len, INVITE_MAX_SIZE);
                return NULL;
        }

        nul = memchr(json, '\0', len);
        if (nul) {
                invalid(error, "invite", _("%s holds a NUL byte at byte %zu"), source, (size_t) (nul - json));
                return NULL;
        }
        if (!g_utf8_validate_len(json, len, &bad_utf8)) {
                g_autofree char *quoted = quote_bounded(bad_utf8, (size_t) (json + len - bad_utf8),
                                                        SYNTAX_CONTEXT_MAX);
                invalid(error, "invite", _("%s is not valid UTF-8 at byte %zu (%s)"),
                        source, (size_t) (bad_utf8 - json), quoted);
                return NULL;
        }

        if (!json_check_document(&check)) {
                g_autofree char *quoted = NULL;

                if (check.where >= check.end) {
                        invalid(error, "invite", _("%s is not valid JSON: %s at its end (is it cut off?)"),
                                source, _(check.problem));
                        return NULL;
                }
                quoted = quote_bounded(check.where, (size_t) (check.end - check.where), SYNTAX_CONTEXT_MAX);
                invalid(error, "invite", _("%s is not valid JSON: %s at byte %zu (%s)"),
                        source, _(check.problem), (size_t) (check.where - json), quoted);
                return NULL;
        }

        parser = json_parser_new();
        if (!json_parser_load_from_data(parser, json, (gssize) len, &local)) {
                invalid(error, "invite", _("%s is not valid JSON: %s"), source, local->message);
                return NULL;
        }

        root = json_parser_get_root(parser);
        if (!root || !JSON_NODE_HOLDS_OBJECT(root)) {
                g_autofree char *described = root ? describe_node(root) : g_strdup(_("nothing"));
                invalid(error, "invite", _("%s must be a JSON object, got %s"), source, described);
                return NULL;
        }

        return invite_from_json_object(json_node_get_object(root), error);
}

Invite *invite_parse_json(const char *json, size_t len, GError **error) {
        g_return_val_if_fail(json || len == 0, NULL);

        return parse_json(json ? json : "", len, _("the invite's JSON"), error);
}

static bool is_base64url_char(char c) {
        return g_ascii_isalnum(c) || c == '-' || c == '_';
}

/* Padding is tolerated; anything else that is not canonical base64url is
 * refused, so one compact text means exactly one invite. */
static bool base64url_decode(const char *text, size_t len, guchar **ret, size_t *ret_len, GError **error) {
        g_autofree char *standard = NULL;
        g_autofree char *reencoded = NULL;
        g_autofree guchar *data = NULL;
        size_t n = len, padding = 0, data_len;

        while (n > 0 && text[n - 1] == '=' && padding < 2) {
                n--;
                padding++;
        }
        for (size_t i = 0; i < n; i++)
                if (!is_base64url_char(text[i])) {
                        g_autofree char *quoted = quote_bounded(text + i, 1, 1);
                        return invalid(error, "invite", _("the compact form holds the character %s at byte %zu "
                                         "after '%s', which is not base64url"), quoted, i, INVITE_COMPACT_PREFIX);
                }
        if (n == 0)
                return invalid(error, "invite", _("the compact form is empty after '%s'"), INVITE_COMPACT_PREFIX);
        if (n % 4 == 1 || (padding > 0 && (n + padding) % 4 != 0))
                return invalid(error, "invite", _("the compact form is %zu characters long after '%s', which no "
                                 "base64url text is (is it cut off?)"), len, INVITE_COMPACT_PREFIX);

        standard = g_malloc(n + 4);
        for (size_t i = 0; i < n; i++)
                standard[i] = text[i] == '-' ? '+' : text[i] == '_' ? '/' : text[i];
        for (size_t i = n; i % 4 != 0; i++)
                standard[i] = '=';
        standard[(n + 3) / 4 * 4] = '\0';
        data = g_base64_decode(standard, &data_len);

        reencoded = g_base64_encode(data, data_len);
        for (size_t i = 0; i < n; i++)
                if (reencoded[i] != standard[i]) {
                        g_autofree char *quoted = quote_bounded(text + n - 1, 1, 1);
                        explicit_bzero(data, data_len);
                        return invalid(error, "invite", _("the compact form ends in %s, which leaves bits set that "
                                         "base64url keeps clear (is it altered?)"), quoted);
                }

        explicit_bzero(standard, n);
        explicit_bzero(reencoded, strlen(reencoded));
        *ret = g_steal_pointer(&data);
        *ret_len = data_len;
        return true;
}

static Invite *parse_compact(const char *text, size_t len, GError **error) {
        g_autofree guchar *json = NULL;
        size_t json_len = 0;
        Invite *invite;

        if (!base64url_decode(text, len, &json, &json_len, error))
                return NULL;

        invite = parse_json((const char *) json, json_len, _("the JSON inside the compact form"), error);
        explicit_bzero(json, json_len); /* it holds the pairing secret */
        return invite;
}

Invite *invite_parse(const char *text, GError **error) {
        size_t len, prefix_len = strlen(INVITE_COMPACT_PREFIX), scheme_len = 0;
        const char *start, *end;

        g_return_val_if_fail(text, NULL);

        len = strlen(text);
        if (len > INVITE_MAX_SIZE) {
                invalid(error, "invite", _("the text is %zu bytes long; an invite is at most %d bytes"),
                        len, INVITE_MAX_SIZE);
                return NULL;
        }

        /* Copying from a terminal or a QR scanner adds line breaks and blanks. */
        start = text;
        end = text + len;
        while (start < end && g_ascii_isspace(*start))
                start++;
        while (end > start && g_ascii_isspace(end[-1]))
                end--;
        if (start == end) {
                invalid(error, "invite", _("the text is empty; give the invite's JSON or its compact form "
                          "starting with '%s'"), INVITE_COMPACT_PREFIX);
                return NULL;
        }

        if ((size_t) (end - start) >= prefix_len && memcmp(start, INVITE_COMPACT_PREFIX, prefix_len) == 0)
                return parse_compact(start + prefix_len, (size_t) (end - start) - prefix_len, error);

        /* A later compact form ("pic2:") deserves a better answer than "not JSON". */
        while (start + scheme_len < end && scheme_len <= 16 && g_ascii_isalnum(start[scheme_len]))
                scheme_len++;
        if (scheme_len > 0 && start + scheme_len < end && start[scheme_len] == ':') {
                g_autofree char *quoted = quote_bounded(start, scheme_len + 1, QUOTE_MAX);
                invalid(error, "invite",
                        _("the prefix %s is not one this cell reads; a compact invite starts with '%s'"),
                        quoted, INVITE_COMPACT_PREFIX);
                return NULL;
        }

        return parse_json(start, (size_t) (end - start), _("the invite's JSON"), error);
}

Invite *invite_new(void) {
        Invite *invite = g_new0(Invite, 1);

        invite->sync_port = INVITE_DEFAULT_SYNC_PORT;
        return invite;
}

void invite_free(Invite *invite) {
        if (!invite)
                return;

        g_free(invite->cell_name);
        g_free(invite->public_key);
        g_free(invite->endpoint);
        g_free(invite->endpoint_host);
        g_free(invite->domain);
        if (invite->pairing.id || invite->pairing.secret)
                pairing_token_clear(&invite->pairing);
        g_free(invite);
}

Invite *invite_copy(const Invite *invite) {
        Invite *copy;

        if (!invite)
                return NULL;

        copy = g_memdup2(invite, sizeof *invite);
        copy->cell_name = g_strdup(invite->cell_name);
        copy->public_key = g_strdup(invite->public_key);
        copy->endpoint = g_strdup(invite->endpoint);
        copy->endpoint_host = g_strdup(invite->endpoint_host);
        copy->domain = g_strdup(invite->domain);
        copy->pairing.id = g_strdup(invite->pairing.id);
        copy->pairing.secret = g_strdup(invite->pairing.secret);
        return copy;
}

JsonObject *invite_to_json_object(const Invite *invite, bool with_pairing) {
        g_autofree char *subnet = NULL, *dns_ip = NULL, *tunnel_address = NULL;
        JsonObject *object = NULL;

        g_return_val_if_fail(invite, NULL);

        subnet = netaddr_format_network(&invite->vpn_subnet);
        dns_ip = netaddr_format_address(invite->dns_ip);
        tunnel_address = netaddr_format_address(invite->tunnel_address);

        /* The order of DESIGN §5: the original seven keys first. */
        object = json_object_new();
        json_object_set_int_member(object, "version", INVITE_VERSION);
        json_object_set_string_member(object, "cell_name", invite->cell_name);
        json_object_set_string_member(object, "public_key", invite->public_key);
        json_object_set_string_member(object, "endpoint", invite->endpoint);
        json_object_set_string_member(object, "vpn_subnet", subnet);
        json_object_set_string_member(object, "dns_ip", dns_ip);
        json_object_set_string_member(object, "domain", invite->domain);
        json_object_set_string_member(object, "tunnel_address", tunnel_address);
        json_object_set_int_member(object, "sync_port", invite->sync_port);

        if (with_pairing && invite->has_pairing) {
                JsonObject *pairing = json_object_new();

                json_object_set_string_member(pairing, "id", invite->pairing.id);
                json_object_set_string_member(pairing, "secret", invite->pairing.secret);
                json_object_set_int_member(pairing, "expires", invite->pairing.expires);
                json_object_set_object_member(object, "pairing", pairing);
        }
        return object;
}

char *invite_to_json(const Invite *invite, bool with_pairing) {
        g_autoptr(JsonNode) root = NULL;

        g_return_val_if_fail(invite, NULL);

        root = json_node_new(JSON_NODE_OBJECT);
        json_node_take_object(root, invite_to_json_object(invite, with_pairing));
        return json_to_string(root, false);
}

char *invite_to_compact(const Invite *invite) {
        g_autofree char *json = NULL, *encoded = NULL;
        char *compact;
        size_t len;

        g_return_val_if_fail(invite, NULL);

        json = invite_to_json(invite, true);
        encoded = g_base64_encode((const guchar *) json, strlen(json));
        len = strlen(encoded);
        while (len > 0 && encoded[len - 1] == '=')
                len--;
        for (size_t i = 0; i < len; i++)
                if (encoded[i] == '+')
                        encoded[i] = '-';
                else if (encoded[i] == '/')
                        encoded[i] = '_';

        compact = g_strdup_printf("%s%.*s", INVITE_COMPACT_PREFIX, (int) len, encoded);
        /* Both hold the pairing secret. */
        explicit_bzero(json, strlen(json));
        explicit_bzero(encoded, strlen(encoded));
        return compact;
}
