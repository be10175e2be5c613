/* test-cell-state.c: unit tests of the cell model, its JSON form, migration and atomic files. */
#include <errno.h>
#include <fcntl.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <gio/gio.h>
#include <json-glib/json-glib.h>

#include "cell-state.h"
#include "pic-error.h"
#include "unit-main.h"

#define KEY_A "iIfIDGHCuYZ8wXQ2KTocfJqOyIF+WPTE1GJ4OhpV7So="
#define KEY_B "/wA7h+4kjMzeCQSMShHnZpgPNxM5gHhRQw906YtukEs="
#define KEY_C "+Ltc317O96I5Np4tbhTFG4UqzC2OhUrGc4M/1kB0T4o="
#define KEY_D "OblTKlUwIjRkJd7xt4n7LuxJwTel9si7avGAXI5L7Uk="
#define PAIRING_ID "3A0gopqC1sKGjeWpg8OFiw"
#define PAIRING_SECRET "_a0aXXaY_PFSnFMmlsFi09X_oVWh9SqKkshUHTCyJiQ"

#define ADDR(a, b, c, d) ((uint32_t) (a) << 24 | (uint32_t) (b) << 16 | (uint32_t) (c) << 8 | (uint32_t) (d))

/* ---- helpers ---- */

static char *fixture_path(const char *name) {
        return g_build_filename(FIXTURES_DIR, name, NULL);
}

static char *read_fixture(const char *name, size_t *ret_len) {
        g_autofree char *path = fixture_path(name);
        g_autoptr(GError) error = NULL;
        char *data = NULL;
        gsize len = 0;

        ck_assert_msg(g_file_get_contents(path, &data, &len, &error), "%s", error ? error->message : "");
        if (ret_len)
                *ret_len = len;
        return data;
}

static CellState *load_fixture(const char *name) {
        g_autoptr(GError) error = NULL;
        size_t len;
        g_autofree char *data = read_fixture(name, &len);
        CellState *state = cell_state_from_json(data, len, &error);

        ck_assert_msg(state, "%s: %s", name, error ? error->message : "");
        return state;
}

static char *make_tmpdir(void) {
        g_autoptr(GError) error = NULL;
        char *dir = g_dir_make_tmp("test-cell-state-XXXXXX", &error);

        ck_assert_msg(dir, "%s", error ? error->message : "");
        return dir;
}

/* Removes @dir and what the tests put in it (files and empty directories). */
static void remove_tmpdir(const char *dir) {
        g_autoptr(GDir) d = g_dir_open(dir, 0, NULL);
        const char *name;

        while (d && (name = g_dir_read_name(d))) {
                g_autofree char *path = g_build_filename(dir, name, NULL);

                if (g_file_test(path, G_FILE_TEST_IS_DIR) && !g_file_test(path, G_FILE_TEST_IS_SYMLINK))
                        remove_tmpdir(path);
                else
                        (void) unlink(path);
        }
        (void) rmdir(dir);
}

static void write_file(const char *path, const char *data, size_t len) {
        g_autoptr(GError) error = NULL;

        ck_assert_msg(g_file_set_contents(path, data, (gssize) len, &error), "%s", error ? error->message : "");
}

static void assert_file_equals(const char *path, const char *data, size_t len) {
        g_autofree char *contents = NULL;
        gsize n = 0;

        ck_assert_msg(g_file_get_contents(path, &contents, &n, NULL), "'%s' cannot be read", path);
        ck_assert_uint_eq(n, len);
        ck_assert_msg(memcmp(contents, data, len) == 0, "'%s' changed", path);
}

static guint count_entries_with_prefix(const char *dir, const char *prefix) {
        g_autoptr(GDir) d = g_dir_open(dir, 0, NULL);
        const char *name;
        guint n = 0;

        while (d && (name = g_dir_read_name(d)))
                if (g_str_has_prefix(name, prefix))
                        n++;
        return n;
}

static void assert_error(const GError *error, GQuark domain, int code, const char *const *needles) {
        ck_assert_ptr_nonnull(error);
        ck_assert_msg(error->domain == domain && error->code == code, "unexpected error %s:%d: %s",
                      g_quark_to_string(error->domain), error->code, error->message);
        for (size_t i = 0; needles && needles[i]; i++)
                ck_assert_msg(strstr(error->message, needles[i]), "'%s' not in error message: %s", needles[i],
                              error->message);
}

/* Replaces (or with @value_json NULL removes) @member of the object found at
 * @where ("links.0.pairing": members and array indexes) in @json. */
static char *mutate_json(const char *json, const char *where, const char *member, const char *value_json) {
        g_autoptr(JsonParser) parser = json_parser_new();
        g_autoptr(JsonGenerator) generator = json_generator_new();
        g_auto(GStrv) parts = NULL;
        JsonNode *node;

        ck_assert(json_parser_load_from_data(parser, json, -1, NULL));
        node = json_parser_get_root(parser);
        parts = where && *where ? g_strsplit(where, ".", -1) : g_new0(char *, 1);
        for (size_t i = 0; parts[i]; i++) {
                if (g_ascii_isdigit(parts[i][0]))
                        node = json_array_get_element(json_node_get_array(node), (guint) atoi(parts[i]));
                else
                        node = json_object_get_member(json_node_get_object(node), parts[i]);
                ck_assert_ptr_nonnull(node);
        }
        if (value_json) {
                g_autoptr(JsonParser) value = json_parser_new();

                ck_assert_msg(json_parser_load_from_data(value, value_json, -1, NULL), "bad test JSON %s",
                              value_json);
                json_object_set_member(json_node_get_object(node), member,
                                       json_node_copy(json_parser_get_root(value)));
        } else
                json_object_remove_member(json_node_get_object(node), member);
        json_generator_set_root(generator, json_parser_get_root(parser));
        return json_generator_to_data(generator, NULL);
}

/* A state with every field set away from its default. */
static CellState *make_full_state(void) {
        CellState *state = cell_state_new();
        Service *service;
        ServicePort udp = { .protocol = "udp", .port = 53 };
        Link *link;
        Peer *peer;
        IssuedInvite *invite;

        state->cell.name = g_strdup("cella");
        state->cell.domain = g_strdup("cella.cell");
        state->cell.address = (Ipv4Prefix) { ADDR(10, 23, 7, 1), 24 };
        state->cell.dns_address = ADDR(10, 23, 7, 1);
        state->cell.endpoint = g_strdup("192.0.2.10:51820");
        state->cell.public_key = g_strdup(KEY_A);
        cell_state_add_default_services(state);
        service = service_new("dns", ADDR(10, 23, 7, 53));
        g_array_append_val(service->ports, udp);
        g_ptr_array_add(state->services, service);

        link = link_new();
        link->name = g_strdup("cellb");
        link->domain = g_strdup("cellb.cell");
        link->public_key = g_strdup(KEY_B);
        link->endpoint = g_strdup("cellb.example.org:51820");
        link->vpn_subnet = (Ipv4Prefix) { ADDR(10, 41, 3, 0), 24 };
        link->dns_ip = ADDR(10, 41, 3, 1);
        link->tunnel_address = ADDR(10, 41, 3, 2);
        link->sync_port = 51999;
        link->paired = true;
        link->pairing_id = g_strdup(PAIRING_ID);
        link->pairing_secret = g_strdup(PAIRING_SECRET);
        link->pairing_expires = 1700086400;
        g_hash_table_insert(link->inbound, g_strdup("mail"), GINT_TO_POINTER(TRUE));
        g_hash_table_insert(link->inbound, g_strdup("calendar"), GINT_TO_POINTER(FALSE));
        g_hash_table_insert(link->inbound, g_strdup("files"), GINT_TO_POINTER(TRUE));
        g_hash_table_insert(link->outbound, g_strdup("webdav"), GINT_TO_POINTER(TRUE));
        link->exit_offered = true;
        link->remote_exit_offered = true;
        link->exit_relay_active = true;
        link->remote_exit_relay_active = true;
        g_ptr_array_add(link->remote_exit_sources, g_strdup("10.41.3.5/32"));
        link->push_state = PUSH_STATE_FAILED;
        link->last_push_at = 1700000100;
        link->last_push_error = g_strdup("Connection refused");
        link->last_remote_update_at = 1700000200;
        link->push_seq = 17;
        link->remote_seq = 9;
        link->created_at = 1700000000;
        g_ptr_array_add(state->links, link);

        peer = peer_new();
        peer->name = g_strdup("laptop");
        peer->address = ADDR(10, 23, 7, 2);
        peer->public_key = g_strdup(KEY_C);
        peer->full_tunnel = false;
        g_free(peer->route_via);
        peer->route_via = g_strdup("cellb");
        peer->created_at = 1700000400;
        g_ptr_array_add(state->peers, peer);

        invite = issued_invite_new();
        invite->id = g_strdup("f2hUchq3fMckv4GqmYA_6w");
        invite->secret = g_strdup("n6Sw8jYTHQZanRmod6xepN61rNwKgfxYp8pSM5ggvnU");
        invite->expires = 1700086400;
        invite->created_at = 1700000000;
        invite->used_by = g_strdup(KEY_B);
        g_ptr_array_add(state->invites, invite);
        return state;
}

static bool permission(GHashTable *table, const char *service, bool *ret) {
        gpointer value;

        if (!g_hash_table_lookup_extended(table, service, NULL, &value))
                return false;
        *ret = GPOINTER_TO_INT(value) != 0;
        return true;
}

/* ---- model ---- */

START_TEST(test_push_state_strings) {
        static const struct {
                PushState state;
                const char *text;
        } table[] = {
                { PUSH_STATE_OK, "ok" },
                { PUSH_STATE_PENDING, "pending" },
                { PUSH_STATE_FAILED, "failed" },
        };
        PushState state = PUSH_STATE_PENDING;

        for (size_t i = 0; i < G_N_ELEMENTS(table); i++) {
                PushState parsed = PUSH_STATE_OK;

                ck_assert_str_eq(push_state_to_string(table[i].state), table[i].text);
                ck_assert(push_state_from_string(table[i].text, &parsed));
                ck_assert_int_eq(parsed, table[i].state);
        }
        ck_assert(!push_state_from_string("OK", &state));
        ck_assert(!push_state_from_string("", &state));
        ck_assert(!push_state_from_string(NULL, &state));
        ck_assert_int_eq(state, PUSH_STATE_PENDING);
        ck_assert_ptr_null(push_state_to_string((PushState) 42));
}
END_TEST

START_TEST(test_new_defaults) {
        g_autoptr(CellState) state = cell_state_new();
        Link *link = link_new();
        Peer *peer = peer_new();
        IssuedInvite *invite = issued_invite_new();

        ck_assert_int_eq(state->version, CELL_STATE_VERSION);
        ck_assert_ptr_null(state->cell.name);
        ck_assert_uint_eq(state->services->len, 0);
        ck_assert_uint_eq(state->links->len, 0);
        ck_assert_uint_eq(state->peers->len, 0);
        ck_assert_uint_eq(state->invites->len, 0);

        ck_assert_uint_eq(link->sync_port, 51821);
        ck_assert_int_eq(link->push_state, PUSH_STATE_OK);
        ck_assert(!link->paired);
        ck_assert_uint_eq(g_hash_table_size(link->inbound), 0);
        ck_assert_uint_eq(g_hash_table_size(link->outbound), 0);
        ck_assert_uint_eq(link->remote_exit_sources->len, 0);
        ck_assert_str_eq(peer->route_via, "");
        ck_assert(peer->full_tunnel);
        ck_assert_ptr_null(invite->used_by);

        /* An empty state serialises and parses back. */
        g_autofree char *json = cell_state_to_json(state);
        g_autoptr(GError) error = NULL;
        g_autoptr(CellState) back = cell_state_from_json(json, strlen(json), &error);
        ck_assert_msg(back, "%s", error ? error->message : "");
        g_autofree char *again = cell_state_to_json(back);
        ck_assert_str_eq(json, again);

        link_unref(link);
        peer_unref(peer);
        issued_invite_free(invite);
        link_unref(NULL);
        peer_unref(NULL);
        issued_invite_free(NULL);
        service_free(NULL);
        cell_state_free(NULL);
}
END_TEST

START_TEST(test_default_services) {
        static const struct {
                const char *name;
                uint16_t ports[3];
                guint n_ports;
        } expected[] = {
                { "calendar", { 5232 }, 1 },
                { "files", { 445 }, 1 },
                { "mail", { 25, 587, 993 }, 3 },
                { "webdav", { 80, 443 }, 2 },
        };
        g_autoptr(CellState) state = cell_state_new();

        state->cell.address = (Ipv4Prefix) { ADDR(10, 23, 7, 1), 24 };
        cell_state_add_default_services(state);
        ck_assert_uint_eq(state->services->len, G_N_ELEMENTS(expected));
        for (size_t i = 0; i < G_N_ELEMENTS(expected); i++) {
                Service *service = cell_state_find_service(state, expected[i].name);

                ck_assert_ptr_nonnull(service);
                ck_assert_ptr_eq(service, state->services->pdata[i]);
                ck_assert_uint_eq(service->address, ADDR(10, 23, 7, 1));
                ck_assert_uint_eq(service->ports->len, expected[i].n_ports);
                for (guint j = 0; j < expected[i].n_ports; j++) {
                        ServicePort *port = &g_array_index(service->ports, ServicePort, j);

                        ck_assert_str_eq(port->protocol, "tcp");
                        ck_assert_uint_eq(port->port, expected[i].ports[j]);
                }
        }

        /* Twice gives no duplicates, which the file would refuse. */
        cell_state_add_default_services(state);
        ck_assert_uint_eq(state->services->len, G_N_ELEMENTS(expected));
}
END_TEST

START_TEST(test_link_from_invite) {
        Invite invite = {
                .cell_name = (char *) "cellb",
                .public_key = (char *) KEY_B,
                .endpoint = (char *) "192.0.2.11:51820",
                .endpoint_host = (char *) "192.0.2.11",
                .endpoint_port = 51820,
                .vpn_subnet = { ADDR(10, 41, 3, 0), 24 },
                .dns_ip = ADDR(10, 41, 3, 1),
                .domain = (char *) "cellb.cell",
                .tunnel_address = ADDR(10, 41, 3, 2),
                .sync_port = 51999,
                .has_pairing = true,
                .pairing = { .id = (char *) PAIRING_ID, .secret = (char *) PAIRING_SECRET, .expires = 1700086400 },
        };
        Link *link = link_new_from_invite(&invite, 1700000000);

        ck_assert_str_eq(link->name, "cellb");
        ck_assert_str_eq(link->public_key, KEY_B);
        ck_assert_str_eq(link->endpoint, "192.0.2.11:51820");
        ck_assert_str_eq(link->domain, "cellb.cell");
        ck_assert_uint_eq(link->vpn_subnet.address, ADDR(10, 41, 3, 0));
        ck_assert_uint_eq(link->vpn_subnet.prefixlen, 24);
        ck_assert_uint_eq(link->dns_ip, ADDR(10, 41, 3, 1));
        ck_assert_uint_eq(link->tunnel_address, ADDR(10, 41, 3, 2));
        ck_assert_uint_eq(link->sync_port, 51999);
        ck_assert_str_eq(link->pairing_id, PAIRING_ID);
        ck_assert_str_eq(link->pairing_secret, PAIRING_SECRET);
        ck_assert_int_eq(link->pairing_expires, 1700086400);
        ck_assert_ptr_ne(link->pairing_id, invite.pairing.id);
        ck_assert_int_eq(link->created_at, 1700000000);
        ck_assert_uint_eq(g_hash_table_size(link->inbound), 0);
        ck_assert_uint_eq(g_hash_table_size(link->outbound), 0);
        /* The tables own their keys. */
        g_hash_table_insert(link->inbound, g_strdup("mail"), GINT_TO_POINTER(TRUE));
        ck_assert(g_hash_table_contains(link->inbound, "mail"));
        link_unref(link);

        invite.has_pairing = false;
        link = link_new_from_invite(&invite, 5);
        ck_assert_ptr_null(link->pairing_id);
        ck_assert_ptr_null(link->pairing_secret);
        ck_assert_int_eq(link->pairing_expires, 0);
        link_unref(link);
}
END_TEST

START_TEST(test_finders) {
        g_autoptr(CellState) state = load_fixture("state-v2-full.json");

        ck_assert_ptr_eq(cell_state_find_link(state, "cellb"), state->links->pdata[0]);
        ck_assert_ptr_eq(cell_state_find_link(state, "cellc"), state->links->pdata[1]);
        ck_assert_ptr_null(cell_state_find_link(state, "celld"));
        ck_assert_ptr_null(cell_state_find_link(state, "CELLB"));
        ck_assert_ptr_null(cell_state_find_link(state, NULL));
        ck_assert_ptr_eq(cell_state_find_link_by_key(state, KEY_C), state->links->pdata[1]);
        ck_assert_ptr_null(cell_state_find_link_by_key(state, KEY_A));
        ck_assert_ptr_null(cell_state_find_link_by_key(state, NULL));
        ck_assert_ptr_eq(cell_state_find_peer(state, "phone.alice"), state->peers->pdata[1]);
        ck_assert_ptr_null(cell_state_find_peer(state, "cellb"));
        ck_assert_ptr_eq(cell_state_find_service(state, "dns"), state->services->pdata[1]);
        ck_assert_ptr_null(cell_state_find_service(state, "mail"));
        ck_assert_ptr_eq(cell_state_find_invite(state, "yYsSeLZlrCWklkb7Ry-ARg"), state->invites->pdata[1]);
        ck_assert_ptr_null(cell_state_find_invite(state, "nope"));
}
END_TEST

/* The finders' lookup caches follow the arrays however they are changed. */
START_TEST(test_finders_follow_changes) {
        g_autoptr(CellState) state = load_fixture("state-v2-full.json");
        const Link *b = cell_state_find_link(state, "cellb");
        Link *moved;

        ck_assert_ptr_nonnull(b);
        /* Removed: gone, and the other link found at its new position. */
        moved = g_ptr_array_steal_index(state->links, 0);
        ck_assert_ptr_eq(moved, b);
        ck_assert_ptr_null(cell_state_find_link(state, "cellb"));
        ck_assert_ptr_null(cell_state_find_link_by_key(state, b->public_key));
        ck_assert_ptr_eq(cell_state_find_link(state, "cellc"), state->links->pdata[0]);
        /* Added back at the end, and renamed in place. */
        g_ptr_array_add(state->links, moved);
        ck_assert_ptr_eq(cell_state_find_link(state, "cellb"), moved);
        g_free(moved->name);
        moved->name = g_strdup("celle");
        ck_assert_ptr_null(cell_state_find_link(state, "cellb"));
        ck_assert_ptr_eq(cell_state_find_link(state, "celle"), moved);
        /* A copy has caches of its own. */
        {
                g_autoptr(CellState) copy = cell_state_copy(state);
                ck_assert_ptr_eq(cell_state_find_link(copy, "celle"), copy->links->pdata[1]);
                ck_assert_ptr_eq(cell_state_find_peer(copy, "phone.alice"), copy->peers->pdata[1]);
        }
        g_ptr_array_remove_index(state->peers, 0);
        ck_assert_ptr_eq(cell_state_find_peer(state, "phone.alice"), state->peers->pdata[0]);
}
END_TEST

START_TEST(test_expire_invites) {
        static const struct {
                const char *id;
                int64_t expires;
                const char *used_by;
                bool kept;
        } table[] = {
                { "expired-unused", 999, NULL, false },
                { "expires-now", 1000, NULL, true },
                { "future-unused", 2000, NULL, true },
                { "expired-used-linked", 10, KEY_B, true },
                { "future-used-unlinked", 2000, KEY_D, true },
                { "expired-used-unlinked", 10, KEY_D, false },
        };
        g_autoptr(CellState) state = cell_state_new();
        Link *link = link_new();

        link->name = g_strdup("cellb");
        link->public_key = g_strdup(KEY_B);
        g_ptr_array_add(state->links, link);
        for (size_t i = 0; i < G_N_ELEMENTS(table); i++) {
                IssuedInvite *invite = issued_invite_new();

                invite->id = g_strdup(table[i].id);
                invite->secret = g_strdup("s");
                invite->expires = table[i].expires;
                invite->used_by = g_strdup(table[i].used_by);
                g_ptr_array_add(state->invites, invite);
        }

        cell_state_expire_invites(state, 1000);
        for (size_t i = 0; i < G_N_ELEMENTS(table); i++)
                ck_assert_msg((cell_state_find_invite(state, table[i].id) != NULL) == table[i].kept, "%s",
                              table[i].id);
        ck_assert_str_eq(((IssuedInvite *) state->invites->pdata[0])->id, "expires-now");
        ck_assert_str_eq(((IssuedInvite *) state->invites->pdata[1])->id, "future-unused");
}
END_TEST

/* ---- JSON ---- */

START_TEST(test_round_trip_full) {
        g_autoptr(CellState) state = make_full_state();
        g_autoptr(CellState) back = NULL;
        g_autoptr(GError) error = NULL;
        g_autofree char *json = cell_state_to_json(state);
        g_autofree char *again = NULL;
        const Link *link;
        bool value = false;

        back = cell_state_from_json(json, strlen(json), &error);
        ck_assert_msg(back, "%s", error ? error->message : "");
        again = cell_state_to_json(back);
        ck_assert_str_eq(json, again);

        /* And the parsed values are the ones that were written. */
        ck_assert_str_eq(back->cell.name, "cella");
        ck_assert_uint_eq(back->cell.address.address, ADDR(10, 23, 7, 1));
        ck_assert_uint_eq(back->cell.address.prefixlen, 24);
        ck_assert_uint_eq(back->services->len, 5);
        link = cell_state_find_link(back, "cellb");
        ck_assert_ptr_nonnull(link);
        ck_assert_uint_eq(link->sync_port, 51999);
        ck_assert_uint_eq(link->tunnel_address, ADDR(10, 41, 3, 2));
        ck_assert(link->paired);
        ck_assert_str_eq(link->pairing_secret, PAIRING_SECRET);
        ck_assert(permission(link->inbound, "calendar", &value) && !value);
        ck_assert(permission(link->inbound, "mail", &value) && value);
        ck_assert(permission(link->outbound, "webdav", &value) && value);
        ck_assert(link->exit_offered && link->remote_exit_offered);
        ck_assert(link->exit_relay_active && link->remote_exit_relay_active);
        ck_assert_str_eq(link->remote_exit_sources->pdata[0], "10.41.3.5/32");
        ck_assert_int_eq(link->push_state, PUSH_STATE_FAILED);
        ck_assert_str_eq(link->last_push_error, "Connection refused");
        ck_assert_uint_eq(link->push_seq, 17);
        ck_assert_uint_eq(link->remote_seq, 9);
        ck_assert_str_eq(((Peer *) back->peers->pdata[0])->route_via, "cellb");
        ck_assert_str_eq(((IssuedInvite *) back->invites->pdata[0])->used_by, KEY_B);

        /* Permission keys come out sorted, whatever the insertion order. */
        ck_assert_ptr_nonnull(strstr(json, "\"calendar\" : false,\n        \"files\" : true,\n"
                                           "        \"mail\" : true"));
        ck_assert(g_str_has_suffix(json, "}\n"));
}
END_TEST

START_TEST(test_fixture_is_canonical) {
        size_t len;
        g_autofree char *data = read_fixture("state-v2-full.json", &len);
        g_autoptr(CellState) state = load_fixture("state-v2-full.json");
        g_autofree char *json = cell_state_to_json(state);
        const Link *link = cell_state_find_link(state, "cellc");

        ck_assert_str_eq(json, data);
        ck_assert_ptr_nonnull(link);
        ck_assert_ptr_null(link->pairing_id);
        ck_assert_ptr_null(link->last_push_error);
        ck_assert_int_eq(link->push_state, PUSH_STATE_PENDING);
        ck_assert_ptr_null(((IssuedInvite *) state->invites->pdata[0])->used_by);
}
END_TEST

START_TEST(test_copy_shares_until_edited) {
        g_autoptr(CellState) state = make_full_state();
        g_autoptr(CellState) copy = cell_state_copy(state);
        g_autofree char *before = cell_state_to_json(state);
        g_autofree char *copied = cell_state_to_json(copy);
        g_autofree char *after = NULL;
        const Link *shared = copy->links->pdata[0];
        Service *service = copy->services->pdata[0];
        Link *link;
        Peer *peer;

        ck_assert_str_eq(before, copied);
        /* Shared until edited: a copy costs a pointer per entry. */
        ck_assert_ptr_eq(copy->links->pdata[0], state->links->pdata[0]);
        ck_assert_ptr_eq(copy->peers->pdata[0], state->peers->pdata[0]);
        ck_assert_ptr_eq(cell_state_find_link(copy, shared->name), shared);

        link = cell_state_edit_link(copy, shared->name);
        ck_assert_ptr_ne(link, state->links->pdata[0]);
        ck_assert_ptr_eq(copy->links->pdata[0], link);
        ck_assert_int_eq(link->pairing_expires, 1700086400);
        /* Once its own, it is not copied again. */
        ck_assert_ptr_eq(cell_state_edit_link_at(copy, 0), link);
        peer = cell_state_edit_peer_at(copy, 0);
        ck_assert_ptr_ne(peer, state->peers->pdata[0]);

        /* Changing the copy leaves the original alone. */
        g_hash_table_insert(link->inbound, g_strdup("webdav"), GINT_TO_POINTER(TRUE));
        g_hash_table_remove(link->outbound, "webdav");
        g_ptr_array_add(link->remote_exit_sources, g_strdup("10.41.3.9/32"));
        g_free(link->name);
        link->name = g_strdup("changed");
        g_free(peer->route_via);
        peer->route_via = g_strdup("changed");
        g_array_set_size(service->ports, 0);
        g_free(copy->cell.name);
        copy->cell.name = g_strdup("other");
        g_ptr_array_set_size(copy->peers, 0);
        after = cell_state_to_json(state);
        ck_assert_str_eq(before, after);
        /* The copy's lookups see its own change, the original's its own state. */
        ck_assert_ptr_eq(cell_state_find_link(copy, "changed"), link);
        ck_assert_ptr_null(cell_state_find_link(state, "changed"));
        ck_assert_ptr_eq(cell_state_find_link(state, shared->name), shared);

        /* A host address in a subnet is kept as it is by a copy. */
        cell_state_edit_link_at(state, 0)->vpn_subnet.address = ADDR(10, 41, 3, 7);
        g_autoptr(CellState) second = cell_state_copy(state);
        ck_assert_uint_eq(((const Link *) second->links->pdata[0])->vpn_subnet.address, ADDR(10, 41, 3, 7));
}
END_TEST

/* ---- migration ---- */

START_TEST(test_migrate_original_list) {
        g_autoptr(CellState) state = load_fixture("state-v1-original.json");
        const Link *plain, *rich;
        bool value = false;

        ck_assert_int_eq(state->version, CELL_STATE_VERSION);
        ck_assert_ptr_null(state->cell.name);
        ck_assert_ptr_null(state->cell.public_key);
        ck_assert_uint_eq(state->services->len, 0);
        ck_assert_uint_eq(state->peers->len, 0);
        ck_assert_uint_eq(state->links->len, 2);

        plain = cell_state_find_link(state, "cellb");
        ck_assert_ptr_nonnull(plain);
        ck_assert_str_eq(plain->public_key, KEY_B);
        ck_assert_str_eq(plain->endpoint, "192.168.1.20:51820");
        ck_assert_str_eq(plain->domain, "cellb.cell");
        ck_assert_uint_eq(plain->vpn_subnet.address, ADDR(10, 0, 1, 0));
        ck_assert_uint_eq(plain->vpn_subnet.prefixlen, 24);
        ck_assert_uint_eq(plain->dns_ip, ADDR(10, 0, 1, 1));
        ck_assert_uint_eq(plain->tunnel_address, plain->dns_ip);
        ck_assert_uint_eq(plain->sync_port, 51821);
        ck_assert(plain->paired);
        ck_assert_ptr_null(plain->pairing_id);
        ck_assert_uint_eq(g_hash_table_size(plain->inbound), 0);
        ck_assert_uint_eq(g_hash_table_size(plain->outbound), 0);
        ck_assert_int_eq(plain->push_state, PUSH_STATE_OK);
        ck_assert_ptr_null(plain->last_push_error);
        ck_assert(!plain->exit_offered && !plain->remote_exit_offered);
        ck_assert(!plain->exit_relay_active && !plain->remote_exit_relay_active);
        ck_assert_uint_eq(plain->remote_exit_sources->len, 0);
        ck_assert_int_eq(plain->created_at, 1740832200); /* 2025-03-01T12:30:00Z */

        /* What the later original versions recorded is carried over. */
        rich = cell_state_find_link(state, "cellc");
        ck_assert_ptr_nonnull(rich);
        ck_assert(permission(rich->inbound, "calendar", &value) && value);
        ck_assert(permission(rich->inbound, "files", &value) && !value);
        ck_assert(permission(rich->outbound, "files", &value) && value);
        ck_assert_uint_eq(g_hash_table_size(rich->inbound), 4);
        ck_assert_int_eq(rich->push_state, PUSH_STATE_PENDING);
        ck_assert_int_eq(rich->last_push_at, 1740906000);
        ck_assert_str_eq(rich->last_push_error, "curl: (7) Failed to connect to 10.0.2.1 port 3000");
        ck_assert_int_eq(rich->last_remote_update_at, 0);
        ck_assert(rich->exit_offered && !rich->remote_exit_offered);
        ck_assert_int_eq(rich->created_at, 1740902400);

        /* Saved again, it is a current state that loads as such. */
        g_autofree char *json = cell_state_to_json(state);
        g_autoptr(GError) error = NULL;
        g_autoptr(CellState) back = cell_state_from_json(json, strlen(json), &error);
        ck_assert_msg(back, "%s", error ? error->message : "");
        ck_assert_ptr_nonnull(strstr(json, "\"version\" : 2"));
        g_autofree char *again = cell_state_to_json(back);
        ck_assert_str_eq(json, again);
}
END_TEST

START_TEST(test_migrate_version1_object) {
        g_autoptr(CellState) state = load_fixture("state-v1-object.json");
        const Link *link = cell_state_find_link(state, "celld");

        ck_assert_int_eq(state->version, CELL_STATE_VERSION);
        ck_assert_ptr_null(state->cell.name);
        ck_assert_ptr_nonnull(link);
        ck_assert_str_eq(link->public_key, KEY_D);
        ck_assert(link->paired);
        ck_assert_uint_eq(link->tunnel_address, ADDR(10, 0, 4, 1));
        ck_assert_uint_eq(link->sync_port, 51821);
        ck_assert_int_eq(link->push_state, PUSH_STATE_OK);
        ck_assert_int_eq(link->created_at, 1740830000);
}
END_TEST

START_TEST(test_migrate_unversioned_and_errors) {
        static const struct {
                const char *json;
                int code;
                const char *needle;
        } table[] = {
                /* No version: the original era, links in the original shape. */
                { "{\"links\": []}", -1, NULL },
                { "[]", -1, NULL },
                /* The invite fields of an original record are checked strictly. */
                { "[{\"cell_name\": \"cellb\", \"public_key\": \"" KEY_B "\", \"endpoint\": \"192.168.1.20:51820\","
                  " \"vpn_subnet\": \"10.0.1.0/33\", \"dns_ip\": \"10.0.1.1\", \"domain\": \"cellb.cell\"}]",
                  PIC_ERROR_INVALID_ARGUMENT, "links[0].vpn_subnet: '10.0.1.0/33'" },
                { "[{\"cell_name\": \"cellb\"}]", PIC_ERROR_INVALID_ARGUMENT, "links[0].public_key: is missing" },
                { "[42]", PIC_ERROR_INVALID_ARGUMENT, "links[0]: expected an object" },
                { "{\"version\": 1, \"links\": {}}", PIC_ERROR_INVALID_ARGUMENT, "links: expected an array" },
                { "{\"version\": 0}", PIC_ERROR_INVALID_ARGUMENT, "version: '0'" },
                { "{\"version\": \"2\"}", PIC_ERROR_INVALID_ARGUMENT, "version: expected an integer, got a string" },
                { "\"state\"", PIC_ERROR_INVALID_ARGUMENT, "expected an object" },
                { "", PIC_ERROR_INVALID_ARGUMENT, NULL },
                { "{\"version\": 2", PIC_ERROR_INVALID_ARGUMENT, "not valid JSON" },
        };

        for (size_t i = 0; i < G_N_ELEMENTS(table); i++) {
                g_autoptr(GError) error = NULL;
                g_autoptr(CellState) state = cell_state_from_json(table[i].json, strlen(table[i].json), &error);

                if (table[i].code < 0) {
                        ck_assert_msg(state, "%s: %s", table[i].json, error ? error->message : "");
                        ck_assert_int_eq(state->version, CELL_STATE_VERSION);
                        continue;
                }
                ck_assert_msg(!state, "%s was accepted", table[i].json);
                assert_error(error, PIC_ERROR, table[i].code, (const char *const[]) { table[i].needle, NULL });
        }
}
END_TEST

/* Inputs the fuzz harness found: text json-glib mishandles, and an original
 * list that loaded but whose saved form did not load again. */
START_TEST(test_hostile_text) {
        static const struct {
                const char *json;
                const char *needle;
        } table[] = {
                { "[] {\"version\": 2}", "not valid JSON: text follows the value at byte 3" },
                { "'x' [{\"cell_name\": \"cellb\"}]", "not valid JSON: a value is expected at byte 0" },
                { "{\"version\": 2, \"cell\": {\"name\": \"\\ud800\"}}", "half a UTF-16 surrogate pair at byte 33" },
                { "{\"version\": 2, \"cell\": {\"name\": \"\\x\"}}", "an invalid escape at byte 33" },
                /* Both public_key members of one record: the last wins, a duplicate of links[0]. */
                { "[{\"cell_name\": \"cellb\", \"public_key\": \"" KEY_B "\", \"endpoint\": \"192.168.1.20:51820\","
                  " \"vpn_subnet\": \"10.0.1.0/24\", \"dns_ip\": \"10.0.1.1\", \"domain\": \"cellb.cell\"},"
                  " {\"cell_name\": \"cellc\", \"public_key\": \"" KEY_C "\", \"endpoint\": \"192.168.1.30:51820\","
                  " \"vpn_subnet\": \"10.0.2.0/24\", \"dns_ip\": \"10.0.2.1\", \"domain\": \"cellc.cell\","
                  " \"public_key\": \"" KEY_B "\"}]",
                  "links[1].public_key: '" KEY_B "' is already used by links[0]" },
        };
        size_t n = 1000000;
        g_autofree char *deep = g_malloc(2 * n);

        for (size_t i = 0; i < G_N_ELEMENTS(table); i++) {
                g_autoptr(GError) error = NULL;
                g_autoptr(CellState) state = cell_state_from_json(table[i].json, strlen(table[i].json), &error);

                ck_assert_msg(!state, "%s was accepted", table[i].json);
                assert_error(error, PIC_ERROR, PIC_ERROR_INVALID_ARGUMENT,
                             (const char *const[]) { table[i].needle, NULL });
                ck_assert(g_utf8_validate(error->message, -1, NULL));
        }

        /* Deep enough to overflow json-glib's stack. */
        memset(deep, '[', n);
        memset(deep + n, ']', n);
        {
                g_autoptr(GError) error = NULL;
                g_autoptr(CellState) state = cell_state_from_json(deep, 2 * n, &error);

                ck_assert_ptr_null(state);
                assert_error(error, PIC_ERROR, PIC_ERROR_INVALID_ARGUMENT,
                             (const char *const[]) { "nested more than 32 levels deep at byte 32", NULL });
        }
}
END_TEST

START_TEST(test_newer_version_refused) {
        static const char newer[] = "{\"version\": 3, \"cell\": {}, \"something\": \"new\"}\n";
        g_autofree char *dir = make_tmpdir();
        g_autofree char *path = g_build_filename(dir, "state.json", NULL);
        g_autoptr(GError) error = NULL;
        g_autoptr(CellState) state = cell_state_from_json(newer, strlen(newer), &error);

        ck_assert_ptr_null(state);
        assert_error(error, PIC_ERROR, PIC_ERROR_FAILED, (const char *const[]) { "version 3", "newer", NULL });
        g_clear_error(&error);

        write_file(path, newer, strlen(newer));
        state = cell_state_load(path, &error);
        ck_assert_ptr_null(state);
        assert_error(error, PIC_ERROR, PIC_ERROR_FAILED,
                     (const char *const[]) { path, "version 3", "untouched", NULL });
        assert_file_equals(path, newer, strlen(newer));
        ck_assert_uint_eq(count_entries_with_prefix(dir, "state.json.corrupt-"), 0);
        remove_tmpdir(dir);
}
END_TEST

/* ---- validation ---- */

START_TEST(test_invalid_fields) {
        static const struct {
                const char *where;
                const char *member;
                const char *value; /* JSON; NULL removes the member */
                int code;
                const char *needles[3];
        } table[] = {
                { "links.0", "vpn_subnet", "\"10.0.0.0/33\"", PIC_ERROR_INVALID_ARGUMENT,
                  { "links[0].vpn_subnet: ", "'10.0.0.0/33' is not an IPv4 prefix" } },
                { "links.1", "vpn_subnet", "\"10.88.0.0\"", PIC_ERROR_INVALID_ARGUMENT,
                  { "links[1].vpn_subnet: ", "'10.88.0.0'" } },
                { "links.1", "dns_ip", "\"10.88.0.01\"", PIC_ERROR_INVALID_ARGUMENT,
                  { "links[1].dns_ip: ", "'10.88.0.01'" } },
                { "links.1", "tunnel_address", "7", PIC_ERROR_INVALID_ARGUMENT,
                  { "links[1].tunnel_address: expected a string, got an integer" } },
                { "links.0", "sync_port", "70000", PIC_ERROR_INVALID_ARGUMENT,
                  { "links[0].sync_port: ", "'70000'" } },
                { "links.0", "sync_port", "0", PIC_ERROR_INVALID_ARGUMENT, { "links[0].sync_port: ", "'0'" } },
                { "links.0", "sync_port", "\"51821\"", PIC_ERROR_INVALID_ARGUMENT,
                  { "links[0].sync_port: expected a port number, got a string" } },
                { "links.0", "public_key", "\"abc=\"", PIC_ERROR_INVALID_ARGUMENT,
                  { "links[0].public_key: ", "'abc='" } },
                { "links.0", "public_key", "\"" KEY_B "==\"", PIC_ERROR_INVALID_ARGUMENT,
                  { "links[0].public_key: " } },
                { "links.0", "cell_name", "\"Cell B\"", PIC_ERROR_INVALID_ARGUMENT,
                  { "links[0].cell_name: ", "'Cell B'" } },
                { "links.0", "domain", "\"cellb..cell\"", PIC_ERROR_INVALID_ARGUMENT,
                  { "links[0].domain: ", "'cellb..cell'" } },
                { "links.0", "endpoint", "\"192.0.2.11\"", PIC_ERROR_INVALID_ARGUMENT,
                  { "links[0].endpoint: ", "'192.0.2.11'" } },
                { "links.0", "paired", NULL, PIC_ERROR_INVALID_ARGUMENT, { "links[0].paired: is missing" } },
                { "links.0", "paired", "1", PIC_ERROR_INVALID_ARGUMENT,
                  { "links[0].paired: expected true or false, got an integer" } },
                { "links.0", "push_state", "\"maybe\"", PIC_ERROR_INVALID_ARGUMENT,
                  { "links[0].push_state: ", "'maybe'" } },
                { "links.0", "last_push_error", "false", PIC_ERROR_INVALID_ARGUMENT,
                  { "links[0].last_push_error: expected a string" } },
                { "links.0", "push_seq", "-1", PIC_ERROR_INVALID_ARGUMENT, { "links[0].push_seq: ", "'-1'" } },
                { "links.0", "created_at", "1.5", PIC_ERROR_INVALID_ARGUMENT,
                  { "links[0].created_at: expected an integer, got a number" } },
                { "links.0", "inbound", "{\"mail\": 1}", PIC_ERROR_INVALID_ARGUMENT,
                  { "links[0].inbound.mail: expected true or false" } },
                { "links.0", "outbound", "{\"Mail\": true}", PIC_ERROR_INVALID_ARGUMENT,
                  { "links[0].outbound.Mail: ", "'Mail'" } },
                { "links.0", "inbound", "[]", PIC_ERROR_INVALID_ARGUMENT,
                  { "links[0].inbound: expected an object, got an array" } },
                { "links.0", "remote_exit_sources", "[\"10.41.3.5/40\"]", PIC_ERROR_INVALID_ARGUMENT,
                  { "links[0].remote_exit_sources[0]: ", "'10.41.3.5/40'" } },
                { "links.0", "remote_exit_sources", "[null]", PIC_ERROR_INVALID_ARGUMENT,
                  { "links[0].remote_exit_sources[0]: expected a string, got null" } },
                { "links.0.pairing", "id", "\"short\"", PIC_ERROR_INVALID_ARGUMENT,
                  { "links[0].pairing.id: ", "short" } },
                { "links.0.pairing", "expires", "-5", PIC_ERROR_INVALID_ARGUMENT,
                  { "links[0].pairing.expires: ", "'-5'" } },
                { "links.0", "pairing", "\"yes\"", PIC_ERROR_INVALID_ARGUMENT,
                  { "links[0].pairing: expected an object, got a string" } },
                { "services.1", "ports", "[[\"sctp\", 9]]", PIC_ERROR_INVALID_ARGUMENT,
                  { "services[1].ports[0]: ", "'sctp'" } },
                { "services.1", "ports", "[[\"tcp\", 53], [\"udp\", 65536]]", PIC_ERROR_INVALID_ARGUMENT,
                  { "services[1].ports[1]: ", "'65536'" } },
                { "services.1", "ports", "[[\"tcp\"]]", PIC_ERROR_INVALID_ARGUMENT,
                  { "services[1].ports[0]: expected a pair" } },
                { "services.1", "ports", "[{\"tcp\": 53}]", PIC_ERROR_INVALID_ARGUMENT,
                  { "services[1].ports[0]: expected a pair", "an object" } },
                { "services.0", "name", "\"calendar!\"", PIC_ERROR_INVALID_ARGUMENT,
                  { "services[0].name: ", "'calendar!'" } },
                { "services.0", "address", "\"10.23.7.1/24\"", PIC_ERROR_INVALID_ARGUMENT,
                  { "services[0].address: ", "'10.23.7.1/24'" } },
                { "peers.0", "address", "\"10.23.7.256\"", PIC_ERROR_INVALID_ARGUMENT,
                  { "peers[0].address: ", "'10.23.7.256'" } },
                { "peers.1", "name", "\"phone alice\"", PIC_ERROR_INVALID_ARGUMENT,
                  { "peers[1].name: ", "'phone alice'" } },
                { "peers.0", "route_via", "\"Cell B\"", PIC_ERROR_INVALID_ARGUMENT,
                  { "peers[0].route_via: ", "'Cell B'" } },
                { "peers.0", "route_via", "null", PIC_ERROR_INVALID_ARGUMENT,
                  { "peers[0].route_via: must not be null" } },
                { "peers.0", "full_tunnel", NULL, PIC_ERROR_INVALID_ARGUMENT, { "peers[0].full_tunnel: is missing" } },
                { "cell", "address", "\"10.23.7.1\"", PIC_ERROR_INVALID_ARGUMENT,
                  { "cell.address: ", "'10.23.7.1'" } },
                { "cell", "endpoint", "\"192.0.2.10:0\"", PIC_ERROR_INVALID_ARGUMENT,
                  { "cell.endpoint: ", "'192.0.2.10:0'" } },
                { "cell", "public_key", "5", PIC_ERROR_INVALID_ARGUMENT,
                  { "cell.public_key: expected a string, got an integer" } },
                { "cell", "name", NULL, PIC_ERROR_INVALID_ARGUMENT, { "cell.name: is missing" } },
                { "invites.0", "id", "\"not*base64\"", PIC_ERROR_INVALID_ARGUMENT,
                  { "invites[0].id: ", "not*base64" } },
                { "invites.1", "used_by", "\"nokey\"", PIC_ERROR_INVALID_ARGUMENT,
                  { "invites[1].used_by: ", "'nokey'" } },
                { "", "links", "{}", PIC_ERROR_INVALID_ARGUMENT, { "links: expected an array, got an object" } },
                { "", "peers", NULL, PIC_ERROR_INVALID_ARGUMENT, { "peers: is missing" } },
                { "", "cell", "[]", PIC_ERROR_INVALID_ARGUMENT, { "cell: expected an object, got an array" } },
                { "", "services", "[7]", PIC_ERROR_INVALID_ARGUMENT, { "services[0]: expected an object" } },
                /* Duplicates make lookups ambiguous. */
                { "links.1", "cell_name", "\"cellb\"", PIC_ERROR_INVALID_ARGUMENT,
                  { "links[1].cell_name: 'cellb' is already used by links[0]" } },
                { "links.1", "public_key", "\"" KEY_B "\"", PIC_ERROR_INVALID_ARGUMENT,
                  { "links[1].public_key: ", "already used by links[0]" } },
                { "peers.1", "name", "\"laptop\"", PIC_ERROR_INVALID_ARGUMENT,
                  { "peers[1].name: 'laptop' is already used by peers[0]" } },
                { "services.1", "name", "\"calendar\"", PIC_ERROR_INVALID_ARGUMENT,
                  { "services[1].name: 'calendar' is already used by services[0]" } },
                { "invites.1", "id", "\"f2hUchq3fMckv4GqmYA_6w\"", PIC_ERROR_INVALID_ARGUMENT,
                  { "invites[1].id: ", "already used by invites[0]" } },
        };
        g_autofree char *full = read_fixture("state-v2-full.json", NULL);

        for (size_t i = 0; i < G_N_ELEMENTS(table); i++) {
                g_autofree char *json = mutate_json(full, table[i].where, table[i].member, table[i].value);
                g_autoptr(GError) error = NULL;
                g_autoptr(CellState) state = cell_state_from_json(json, strlen(json), &error);

                ck_assert_msg(!state, "case %zu (%s.%s = %s) was accepted", i, table[i].where, table[i].member,
                              table[i].value);
                assert_error(error, PIC_ERROR, table[i].code, table[i].needles);
        }
}
END_TEST

START_TEST(test_secrets_not_quoted) {
        g_autofree char *full = read_fixture("state-v2-full.json", NULL);
        g_autofree char *json = mutate_json(full, "invites.0", "secret", "\"hunter2-is-my-secret\"");
        g_autoptr(GError) error = NULL;
        g_autoptr(CellState) state = cell_state_from_json(json, strlen(json), &error);

        ck_assert_ptr_null(state);
        assert_error(error, PIC_ERROR, PIC_ERROR_INVALID_ARGUMENT, (const char *const[]) { "invites[0].secret", NULL });
        ck_assert_ptr_null(strstr(error->message, "hunter2"));
}
END_TEST

START_TEST(test_lenient_values_accepted) {
        static const struct {
                const char *where, *member, *value;
        } table[] = {
                /* A remote may list a bare host address as an exit source. */
                { "links.0", "remote_exit_sources", "[\"10.41.3.5\"]" },
                /* Identity fields may be null until the daemon fills them. */
                { "cell", "name", "null" },
                { "cell", "address", "null" },
                { "cell", "endpoint", "\"auto\"" },
                /* Unknown members are ignored. */
                { "links.0", "comment", "\"x\"" },
                /* Pairing is optional. */
                { "links.0", "pairing", NULL },
        };
        g_autofree char *full = read_fixture("state-v2-full.json", NULL);

        for (size_t i = 0; i < G_N_ELEMENTS(table); i++) {
                g_autofree char *json = mutate_json(full, table[i].where, table[i].member, table[i].value);
                g_autoptr(GError) error = NULL;
                g_autoptr(CellState) state = cell_state_from_json(json, strlen(json), &error);

                ck_assert_msg(state, "%s.%s: %s", table[i].where, table[i].member, error ? error->message : "");
        }

        /* A subnet written with host bits is kept as its network. */
        g_autofree char *json = mutate_json(full, "links.0", "vpn_subnet", "\"10.41.3.9/24\"");
        g_autoptr(CellState) state = cell_state_from_json(json, strlen(json), NULL);
        ck_assert_ptr_nonnull(state);
        ck_assert_uint_eq(((Link *) state->links->pdata[0])->vpn_subnet.address, ADDR(10, 41, 3, 0));
}
END_TEST

START_TEST(test_quoted_values_are_tamed) {
        g_autofree char *full = read_fixture("state-v2-full.json", NULL);
        g_autofree char *long_key = g_strnfill(100000, 'A');
        g_autofree char *long_json = g_strdup_printf("\"%s\"", long_key);
        g_autofree char *json = mutate_json(full, "links.0", "push_state", "\"ok\\nnow\"");
        g_autoptr(GError) error = NULL;
        g_autoptr(CellState) state = cell_state_from_json(json, strlen(json), &error);

        ck_assert_ptr_null(state);
        assert_error(error, PIC_ERROR, PIC_ERROR_INVALID_ARGUMENT,
                     (const char *const[]) { "links[0].push_state: 'ok\\x0anow'", NULL });
        ck_assert_ptr_null(strchr(error->message, '\n'));
        g_clear_error(&error);

        g_free(json);
        json = mutate_json(full, "links.0", "public_key", long_json);
        state = cell_state_from_json(json, strlen(json), &error);
        ck_assert_ptr_null(state);
        assert_error(error, PIC_ERROR, PIC_ERROR_INVALID_ARGUMENT,
                     (const char *const[]) { "links[0].public_key: 'AAAA", "...'", NULL });
        ck_assert_uint_lt(strlen(error->message), 300);
}
END_TEST

/* ---- limits ---- */

static char *repeat_json(const char *item, guint n) {
        GString *s = g_string_new("[");

        for (guint i = 0; i < n; i++)
                g_string_append_printf(s, "%s%s", i ? "," : "", item);
        g_string_append_c(s, ']');
        return g_string_free(s, FALSE);
}

START_TEST(test_limits) {
        static const struct {
                const char *where, *member, *item;
                guint n;
                const char *needle;
        } table[] = {
                { "", "links", "{}", CELL_STATE_MAX_LINKS + 1, "links: 257 links, more than the limit of 256" },
                { "", "peers", "{}", CELL_STATE_MAX_PEERS + 1, "peers: 1025 peers" },
                { "", "services", "{}", CELL_STATE_MAX_SERVICES + 1, "services: 65 services" },
                { "", "invites", "{}", CELL_STATE_MAX_INVITES + CELL_STATE_MAX_LINKS + 1, "invites: " },
                { "services.0", "ports", "[\"tcp\",1]", CELL_STATE_MAX_PORTS + 1, "services[0].ports: 33 ports" },
                { "links.0", "remote_exit_sources", "\"10.41.3.5/32\"", CELL_STATE_MAX_PEERS + 1,
                  "links[0].remote_exit_sources: 1025" },
        };
        g_autofree char *full = read_fixture("state-v2-full.json", NULL);

        for (size_t i = 0; i < G_N_ELEMENTS(table); i++) {
                g_autofree char *items = repeat_json(table[i].item, table[i].n);
                g_autofree char *json = mutate_json(full, table[i].where, table[i].member, items);
                g_autoptr(GError) error = NULL;
                g_autoptr(CellState) state = cell_state_from_json(json, strlen(json), &error);

                ck_assert_ptr_null(state);
                assert_error(error, PIC_ERROR, PIC_ERROR_LIMIT_EXCEEDED,
                             (const char *const[]) { table[i].needle, NULL });
        }

        /* At the limit is fine. */
        {
                g_autofree char *items = repeat_json("[\"tcp\",1]", CELL_STATE_MAX_PORTS);
                g_autofree char *json = mutate_json(full, "services.0", "ports", items);
                g_autoptr(CellState) state = cell_state_from_json(json, strlen(json), NULL);
                ck_assert_ptr_nonnull(state);
        }

        /* Too many permissions. */
        {
                GString *map = g_string_new("{");
                g_autofree char *text = NULL;
                g_autofree char *json = NULL;
                g_autoptr(GError) error = NULL;
                g_autoptr(CellState) state = NULL;

                for (int i = 0; i <= CELL_STATE_MAX_SERVICES; i++)
                        g_string_append_printf(map, "%s\"s%d\": true", i ? "," : "", i);
                g_string_append_c(map, '}');
                text = g_string_free(map, FALSE);
                json = mutate_json(full, "links.0", "inbound", text);
                state = cell_state_from_json(json, strlen(json), &error);
                ck_assert_ptr_null(state);
                assert_error(error, PIC_ERROR, PIC_ERROR_LIMIT_EXCEEDED,
                             (const char *const[]) { "links[0].inbound: 65 services", NULL });
        }

        /* The original list has the same limit on links. */
        {
                static const char link[] = "{\"cell_name\": \"cellb\"}";
                g_autofree char *json = repeat_json(link, CELL_STATE_MAX_LINKS + 1);
                g_autoptr(GError) error = NULL;
                g_autoptr(CellState) state = cell_state_from_json(json, strlen(json), &error);

                ck_assert_ptr_null(state);
                assert_error(error, PIC_ERROR, PIC_ERROR_LIMIT_EXCEEDED, (const char *const[]) { "links: 257", NULL });
        }

        /* Size, before anything is parsed. */
        {
                size_t len = CELL_STATE_MAX_SIZE + 1;
                g_autofree char *big = g_malloc(len);
                g_autoptr(GError) error = NULL;
                g_autoptr(CellState) state = NULL;

                memset(big, ' ', len);
                big[0] = '[';
                big[len - 1] = ']';
                state = cell_state_from_json(big, len, &error);
                ck_assert_ptr_null(state);
                assert_error(error, PIC_ERROR, PIC_ERROR_LIMIT_EXCEEDED,
                             (const char *const[]) { "16777217 bytes", NULL });
        }
}
END_TEST

/* ---- files ---- */

START_TEST(test_load_missing) {
        g_autofree char *dir = make_tmpdir();
        g_autofree char *path = g_build_filename(dir, "state.json", NULL);
        g_autoptr(GError) error = NULL;
        g_autoptr(CellState) state = cell_state_load(path, &error);

        ck_assert_ptr_null(state);
        assert_error(error, G_IO_ERROR, G_IO_ERROR_NOT_FOUND, (const char *const[]) { path, NULL });
        remove_tmpdir(dir);
}
END_TEST

START_TEST(test_load_not_a_file) {
        g_autofree char *dir = make_tmpdir();
        g_autofree char *path = g_build_filename(dir, "state.json", NULL);
        g_autoptr(GError) error = NULL;
        g_autoptr(CellState) state = NULL;

        ck_assert_int_eq(mkdir(path, 0700), 0);
        state = cell_state_load(path, &error);
        ck_assert_ptr_null(state);
        assert_error(error, PIC_ERROR, PIC_ERROR_FAILED, (const char *const[]) { path, "not a regular file", NULL });
        ck_assert(g_file_test(path, G_FILE_TEST_IS_DIR));
        ck_assert_uint_eq(count_entries_with_prefix(dir, "state.json.corrupt-"), 0);
        remove_tmpdir(dir);
}
END_TEST

/* The path a load error says the file was moved to. */
static char *moved_to(const GError *error) {
        const char *start = strstr(error->message, "moved to '");
        const char *end;

        ck_assert_msg(start, "no target in: %s", error->message);
        start += strlen("moved to '");
        end = strchr(start, '\'');
        ck_assert_ptr_nonnull(end);
        return g_strndup(start, (gsize) (end - start));
}

static void check_moved_aside(const char *data, size_t len, const char *reason) {
        g_autofree char *dir = make_tmpdir();
        g_autofree char *path = g_build_filename(dir, "state.json", NULL);
        g_autofree char *target = NULL;
        g_autofree char *prefix = NULL;
        g_autoptr(GError) error = NULL;
        g_autoptr(CellState) state = NULL;

        write_file(path, data, len);
        state = cell_state_load(path, &error);
        ck_assert_ptr_null(state);
        assert_error(error, PIC_ERROR, PIC_ERROR_FAILED, (const char *const[]) { path, reason, NULL });
        target = moved_to(error);
        prefix = g_strconcat(path, ".corrupt-", NULL);
        ck_assert_msg(g_str_has_prefix(target, prefix), "%s", target);
        ck_assert(!g_file_test(path, G_FILE_TEST_EXISTS));
        assert_file_equals(target, data, len);
        ck_assert_uint_eq(count_entries_with_prefix(dir, "state.json"), 1);
        remove_tmpdir(dir);
}

START_TEST(test_load_truncated_moved_aside) {
        size_t len;
        g_autofree char *data = read_fixture("state-truncated.json", &len);

        check_moved_aside(data, len, "not valid JSON");
}
END_TEST

START_TEST(test_load_invalid_moved_aside) {
        static const char empty[] = "";
        g_autofree char *full = read_fixture("state-v2-full.json", NULL);
        g_autofree char *bad = mutate_json(full, "links.0", "vpn_subnet", "\"10.0.0.0/33\"");

        check_moved_aside(bad, strlen(bad), "links[0].vpn_subnet: '10.0.0.0/33'");
        check_moved_aside(empty, 0, "corrupt");
}
END_TEST

START_TEST(test_load_too_large_moved_aside) {
        size_t len = CELL_STATE_MAX_SIZE + 10;
        g_autofree char *big = g_malloc(len);

        memset(big, ' ', len);
        big[0] = '[';
        big[len - 1] = ']';
        check_moved_aside(big, len, "more than the limit");
}
END_TEST

START_TEST(test_load_corrupt_never_overwrites) {
        static const char broken[] = "{\"version\": 2, \"cell\": ";
        g_autofree char *dir = make_tmpdir();
        g_autofree char *path = g_build_filename(dir, "state.json", NULL);
        g_autofree char *target = NULL;
        int64_t now = g_get_real_time() / G_USEC_PER_SEC;
        g_autoptr(GError) error = NULL;
        g_autoptr(CellState) state = NULL;

        /* Earlier casualties at the names this second (and the next) would get. */
        for (int64_t t = now; t <= now + 1; t++) {
                g_autofree char *old = g_strdup_printf("%s.corrupt-%" G_GINT64_FORMAT, path, t);
                write_file(old, "old", 3);
        }
        write_file(path, broken, strlen(broken));
        state = cell_state_load(path, &error);
        ck_assert_ptr_null(state);
        assert_error(error, PIC_ERROR, PIC_ERROR_FAILED, NULL);
        target = moved_to(error);
        ck_assert_msg(g_str_has_suffix(target, ".1"), "%s", target);
        assert_file_equals(target, broken, strlen(broken));
        for (int64_t t = now; t <= now + 1; t++) {
                g_autofree char *old = g_strdup_printf("%s.corrupt-%" G_GINT64_FORMAT, path, t);
                assert_file_equals(old, "old", 3);
        }
        ck_assert(!g_file_test(path, G_FILE_TEST_EXISTS));
        remove_tmpdir(dir);
}
END_TEST

START_TEST(test_save_and_load) {
        g_autofree char *dir = make_tmpdir();
        g_autofree char *path = g_build_filename(dir, "state.json", NULL);
        g_autofree char *tmp = g_strconcat(path, ".tmp", NULL);
        g_autoptr(CellState) state = make_full_state();
        g_autoptr(CellState) back = NULL;
        g_autoptr(GError) error = NULL;
        g_autofree char *json = cell_state_to_json(state);
        g_autofree char *again = NULL;
        struct stat st;
        mode_t old_umask;

        /* An existing file with loose permissions, and a stale temporary file. */
        write_file(path, "old", 3);
        ck_assert_int_eq(chmod(path, 0644), 0);
        write_file(tmp, "stale", 5);
        ck_assert_int_eq(chmod(tmp, 0666), 0);

        old_umask = umask(0);
        ck_assert_msg(cell_state_save(state, path, &error), "%s", error ? error->message : "");
        umask(old_umask);

        ck_assert_int_eq(stat(path, &st), 0);
        ck_assert_uint_eq(st.st_mode & 07777, 0600);
        ck_assert(!g_file_test(tmp, G_FILE_TEST_EXISTS));
        assert_file_equals(path, json, strlen(json));

        back = cell_state_load(path, &error);
        ck_assert_msg(back, "%s", error ? error->message : "");
        again = cell_state_to_json(back);
        ck_assert_str_eq(json, again);
        remove_tmpdir(dir);
}
END_TEST

START_TEST(test_save_failures_leave_old_file) {
        static const char old[] = "{\"version\": 2, \"the\": \"old state\"}\n";
        g_autofree char *dir = make_tmpdir();
        g_autofree char *path = g_build_filename(dir, "state.json", NULL);
        g_autofree char *tmp = g_strconcat(path, ".tmp", NULL);
        g_autoptr(CellState) state = make_full_state();

        write_file(path, old, strlen(old));

        /* The temporary file cannot be created: a directory sits at its name. */
        {
                g_autoptr(GError) error = NULL;

                ck_assert_int_eq(mkdir(tmp, 0700), 0);
                ck_assert(!cell_state_save(state, path, &error));
                assert_error(error, PIC_ERROR, PIC_ERROR_FAILED,
                             (const char *const[]) { "Failed to save state to '", path, NULL });
                assert_file_equals(path, old, strlen(old));
                ck_assert(g_file_test(tmp, G_FILE_TEST_IS_DIR));
                ck_assert_int_eq(rmdir(tmp), 0);
        }

        /* The rename fails after the temporary file was written: the target
         * is a directory that is not empty. */
        {
                g_autofree char *blocked = g_build_filename(dir, "blocked", NULL);
                g_autofree char *inside = g_build_filename(blocked, "x", NULL);
                g_autofree char *blocked_tmp = g_strconcat(blocked, ".tmp", NULL);
                g_autoptr(GError) error = NULL;

                ck_assert_int_eq(mkdir(blocked, 0700), 0);
                write_file(inside, "x", 1);
                ck_assert(!cell_state_save(state, blocked, &error));
                assert_error(error, PIC_ERROR, PIC_ERROR_FAILED,
                             (const char *const[]) { "Failed to save state to '", blocked, NULL });
                ck_assert(!g_file_test(blocked_tmp, G_FILE_TEST_EXISTS));
                assert_file_equals(inside, "x", 1);
        }

        /* The directory does not exist. */
        {
                g_autofree char *missing = g_build_filename(dir, "missing", "state.json", NULL);
                g_autofree char *missing_tmp = g_strconcat(missing, ".tmp", NULL);
                g_autoptr(GError) error = NULL;

                ck_assert(!cell_state_save(state, missing, &error));
                assert_error(error, PIC_ERROR, PIC_ERROR_FAILED,
                             (const char *const[]) { "Failed to save state to '", missing, NULL });
                ck_assert(!g_file_test(missing_tmp, G_FILE_TEST_EXISTS));
        }

        /* A file system that takes no files, even from root. */
        {
                g_autoptr(GError) error = NULL;

                ck_assert(!cell_state_save(state, "/proc/pic-cell-test-state.json", &error));
                assert_error(error, PIC_ERROR, PIC_ERROR_FAILED,
                             (const char *const[]) {
                                     "Failed to save state to '/proc/pic-cell-test-state.json'", NULL });
        }

        /* Nothing of ours is left next to the old file, which is unchanged. */
        assert_file_equals(path, old, strlen(old));
        ck_assert_uint_eq(count_entries_with_prefix(dir, "state.json"), 1);
        remove_tmpdir(dir);
}
END_TEST

START_TEST(test_save_refuses_symlinked_tmp) {
        g_autofree char *dir = make_tmpdir();
        g_autofree char *path = g_build_filename(dir, "state.json", NULL);
        g_autofree char *tmp = g_strconcat(path, ".tmp", NULL);
        g_autofree char *victim = g_build_filename(dir, "victim", NULL);
        g_autoptr(CellState) state = make_full_state();
        g_autoptr(GError) error = NULL;

        write_file(victim, "keep", 4);
        ck_assert_int_eq(symlink(victim, tmp), 0);
        ck_assert(!cell_state_save(state, path, &error));
        assert_error(error, PIC_ERROR, PIC_ERROR_FAILED, (const char *const[]) { path, NULL });
        assert_file_equals(victim, "keep", 4);
        ck_assert(!g_file_test(path, G_FILE_TEST_EXISTS));
        remove_tmpdir(dir);
}
END_TEST

Suite *unit_suite(void) {
        Suite *s = suite_create("cell-state");
        TCase *model = tcase_create("model");
        TCase *json = tcase_create("json");
        TCase *migration = tcase_create("migration");
        TCase *validation = tcase_create("validation");
        TCase *files = tcase_create("files");

        tcase_add_test(model, test_push_state_strings);
        tcase_add_test(model, test_new_defaults);
        tcase_add_test(model, test_default_services);
        tcase_add_test(model, test_link_from_invite);
        tcase_add_test(model, test_finders);
        tcase_add_test(model, test_finders_follow_changes);
        tcase_add_test(model, test_expire_invites);
        suite_add_tcase(s, model);

        tcase_add_test(json, test_round_trip_full);
        tcase_add_test(json, test_fixture_is_canonical);
        tcase_add_test(json, test_copy_shares_until_edited);
        suite_add_tcase(s, json);

        tcase_add_test(migration, test_migrate_original_list);
        tcase_add_test(migration, test_migrate_version1_object);
        tcase_add_test(migration, test_migrate_unversioned_and_errors);
        tcase_add_test(migration, test_newer_version_refused);
        tcase_add_test(migration, test_hostile_text);
        suite_add_tcase(s, migration);

        tcase_add_test(validation, test_invalid_fields);
        tcase_add_test(validation, test_secrets_not_quoted);
        tcase_add_test(validation, test_lenient_values_accepted);
        tcase_add_test(validation, test_quoted_values_are_tamed);
        tcase_add_test(validation, test_limits);
        suite_add_tcase(s, validation);

        tcase_add_test(files, test_load_missing);
        tcase_add_test(files, test_load_not_a_file);
        tcase_add_test(files, test_load_truncated_moved_aside);
        tcase_add_test(files, test_load_invalid_moved_aside);
        tcase_add_test(files, test_load_too_large_moved_aside);
        tcase_add_test(files, test_load_corrupt_never_overwrites);
        tcase_add_test(files, test_save_and_load);
        tcase_add_test(files, test_save_failures_leave_old_file);
        tcase_add_test(files, test_save_refuses_symlinked_tmp);
        suite_add_tcase(s, files);
        return s;
}
