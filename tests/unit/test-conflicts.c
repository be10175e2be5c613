/* test-conflicts.c: unit tests for the subnet, domain, name and key conflict rules of linking cells. */
#include <string.h>

#include "cell-state.h"
#include "conflicts.h"
#include "pic-error.h"
#include "unit-main.h"

#define KEY_A "AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA="
#define KEY_B "BBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBA="
#define KEY_C "CCCCCCCCCCCCCCCCCCCCCCCCCCCCCCCCCCCCCCCCCCA="
#define KEY_D "DDDDDDDDDDDDDDDDDDDDDDDDDDDDDDDDDDDDDDDDDDA="

static Ipv4Prefix prefix(const char *text) {
        Ipv4Prefix p;

        ck_assert(netaddr_parse_prefix(text, true, &p, NULL));
        return p;
}

static void set_string(char **field, const char *value) {
        g_free(*field);
        *field = g_strdup(value);
}

static void add_link(CellState *state, const char *name, const char *subnet, const char *domain,
                     const char *key) {
        Link *link = link_new();
        Ipv4Prefix p = prefix(subnet);

        set_string(&link->name, name);
        set_string(&link->domain, domain);
        set_string(&link->public_key, key);
        link->vpn_subnet = netaddr_canonical(&p);
        g_ptr_array_add(state->links, link);
}

/* Cell cella (10.1.2.1/24, cella.cell) linked to cellc (10.3.0.0/16) and
 * celld (10.4.4.0/24). */
static CellState *make_state(void) {
        CellState *state = cell_state_new();

        set_string(&state->cell.name, "cella");
        set_string(&state->cell.domain, "cella.cell");
        set_string(&state->cell.public_key, KEY_A);
        state->cell.address = prefix("10.1.2.1/24");
        add_link(state, "cellc", "10.3.0.0/16", "cellc.cell", KEY_C);
        add_link(state, "celld", "10.4.4.0/24", "celld.cell", KEY_D);
        return state;
}

/* Invites are built by hand so that these tests exercise only the rules,
 * whatever the parser accepts. */
static void fill_invite(Invite *t, const char *name, const char *subnet, const char *domain,
                        const char *key) {
        Ipv4Prefix p = prefix(subnet);

        memset(t, 0, sizeof(*t));
        t->cell_name = g_strdup(name);
        t->public_key = g_strdup(key);
        t->domain = g_strdup(domain);
        t->endpoint = g_strdup("192.0.2.20:51820");
        t->endpoint_host = g_strdup("192.0.2.20");
        t->endpoint_port = 51820;
        t->vpn_subnet = netaddr_canonical(&p);
        t->dns_ip = p.address;
        t->tunnel_address = p.address;
        t->sync_port = 51821;
}

static void clear_invite(Invite *t) {
        g_free(t->cell_name);
        g_free(t->public_key);
        g_free(t->domain);
        g_free(t->endpoint);
        g_free(t->endpoint_host);
}

static void assert_conflict(GError *error, const char *const *needles) {
        ck_assert_ptr_nonnull(error);
        ck_assert_msg(g_error_matches(error, PIC_ERROR, PIC_ERROR_CONFLICT), "%s", error->message);
        for (size_t i = 0; needles[i]; i++)
                ck_assert_msg(strstr(error->message, needles[i]), "'%s' not in: %s",
                              needles[i], error->message);
}

START_TEST(test_clean_pass) {
        static const struct {
                const char *name, *subnet, *domain;
        } ok[] = {
                { "cellb", "10.2.2.1/24", "cellb.cell" },
                { "cellb", "10.1.3.1/24", "ella.cell" },     /* adjacent subnet, suffix but not a label */
                { "cellb", "10.1.1.1/24", "acella.cell" },
                { "cellb", "10.2.0.1/16", "cella.cell.b" },  /* below the TLD, not a subdomain */
                { "cellb", "10.4.5.1/24", "cellc.home" },
                { "cell-c", "10.5.0.1/16", "b.cell" },
        };
        g_autoptr(CellState) state = make_state();

        for (size_t i = 0; i < G_N_ELEMENTS(ok); i++) {
                g_autoptr(GError) error = NULL;
                Invite t;

                fill_invite(&t, ok[i].name, ok[i].subnet, ok[i].domain, KEY_B);
                ck_assert_msg(conflicts_check_invite(state, &t, NULL, &error), "%s", error ? error->message : "");
                ck_assert_ptr_null(error);
                clear_invite(&t);
        }
}
END_TEST

static const struct {
        const char *name, *subnet, *domain, *key;
        const char *needles[4];
} conflicting[] = {
        /* subnet vs ours: equal, wider, narrower */
        { "cellb", "10.1.2.0/24", "cellb.cell", KEY_B,
          { "cellb's subnet 10.1.2.0/24 overlaps this cell's subnet 10.1.2.0/24: change the address of one of the two cells (Configure Address)" } },
        { "cellb", "10.1.0.0/16", "cellb.cell", KEY_B,
          { "cellb's subnet 10.1.0.0/16 overlaps this cell's subnet 10.1.2.0/24", "Configure Address" } },
        { "cellb", "10.1.2.129/25", "cellb.cell", KEY_B,
          { "cellb's subnet 10.1.2.128/25 overlaps this cell's subnet 10.1.2.0/24" } },
        { "cellb", "0.0.0.0/0", "cellb.cell", KEY_B, { "overlaps this cell's subnet" } },
        /* subnet vs a linked cell: inside, around */
        { "cellb", "10.3.5.0/24", "cellb.cell", KEY_B,
          { "cellb's subnet 10.3.5.0/24 overlaps the subnet of linked cell cellc (10.3.0.0/16)", "Configure Address" } },
        { "cellb", "10.4.0.0/16", "cellb.cell", KEY_B,
          { "cellb's subnet 10.4.0.0/16 overlaps the subnet of linked cell celld (10.4.4.0/24)" } },
        /* domain vs ours: same, case, parent, subdomain */
        { "cellb", "10.2.2.0/24", "cella.cell", KEY_B,
          { "cellb's domain 'cella.cell' is the same as this cell's domain 'cella.cell'", "Configure Domain" } },
        { "cellb", "10.2.2.0/24", "CELLA.cell", KEY_B,
          { "'CELLA.cell' is the same as this cell's domain 'cella.cell'" } },
        { "cellb", "10.2.2.0/24", "cell", KEY_B,
          { "cellb's domain 'cell' is a parent domain of this cell's domain 'cella.cell'", "Configure Domain" } },
        { "cellb", "10.2.2.0/24", "x.cella.cell", KEY_B,
          { "cellb's domain 'x.cella.cell' is a subdomain of this cell's domain 'cella.cell'" } },
        { "cellb", "10.2.2.0/24", "y.x.CellA.Cell", KEY_B, { "is a subdomain of this cell's domain" } },
        /* domain vs a linked cell */
        { "cellb", "10.2.2.0/24", "cellc.cell", KEY_B,
          { "cellb's domain 'cellc.cell' is the same as the domain of linked cell cellc ('cellc.cell')", "Configure Domain" } },
        { "cellb", "10.2.2.0/24", "b.celld.cell", KEY_B,
          { "'b.celld.cell' is a subdomain of the domain of linked cell celld ('celld.cell')" } },
        { "cellb", "10.2.2.0/24", "CELL", KEY_B, { "'CELL' is a parent domain of this cell's domain" } },
        /* names */
        { "cella", "10.2.2.0/24", "cellb.cell", KEY_B,
          { "cella's name is this cell's name too", "Configure Name" } },
        { "cellc", "10.2.2.0/24", "cellb.cell", KEY_B,
          { "cellc is the name of a cell already linked", "RemoveLink", "Configure Name" } },
        /* keys */
        { "cellb", "10.2.2.0/24", "cellb.cell", KEY_A,
          { "cellb's public key is this cell's own key" } },
        { "cellb", "10.2.2.0/24", "cellb.cell", KEY_D,
          { "cellb's public key belongs to linked cell celld", "RemoveLink" } },
};

START_TEST(test_conflicts) {
        g_autoptr(CellState) state = make_state();
        g_autoptr(GError) error = NULL;
        Invite t;

        fill_invite(&t, conflicting[_i].name, conflicting[_i].subnet, conflicting[_i].domain,
                         conflicting[_i].key);
        ck_assert(!conflicts_check_invite(state, &t, NULL, &error));
        assert_conflict(error, conflicting[_i].needles);
        clear_invite(&t);
}
END_TEST

START_TEST(test_null_error) {
        g_autoptr(CellState) state = make_state();
        Invite t;

        fill_invite(&t, "cellb", "10.1.2.0/24", "cellb.cell", KEY_B);
        ck_assert(!conflicts_check_invite(state, &t, NULL, NULL));
        clear_invite(&t);
}
END_TEST

START_TEST(test_exclude_link) {
        g_autoptr(CellState) state = make_state();
        g_autoptr(GError) error = NULL;
        g_autoptr(GError) error2 = NULL;
        g_autoptr(GError) error3 = NULL;
        Invite same, moved;

        /* cellc's update of itself: unchanged, it collides only with its own link */
        fill_invite(&same, "cellc", "10.3.0.0/16", "cellc.cell", KEY_C);
        ck_assert(conflicts_check_invite(state, &same, "cellc", NULL));
        ck_assert(!conflicts_check_invite(state, &same, NULL, &error));
        assert_conflict(error, (const char *const[]) { "linked cell cellc", NULL });
        ck_assert(!conflicts_check_invite(state, &same, "celld", &error2));
        assert_conflict(error2, (const char *const[]) { "linked cell cellc", NULL });

        /* excluding cellc does not excuse a collision with celld or with us */
        fill_invite(&moved, "cellc", "10.4.4.0/24", "cellc.cell", KEY_C);
        ck_assert(!conflicts_check_invite(state, &moved, "cellc", &error3));
        assert_conflict(error3, (const char *const[]) { "linked cell celld (10.4.4.0/24)", NULL });
        clear_invite(&moved);
        fill_invite(&moved, "cellc", "10.3.0.0/16", "sub.cella.cell", KEY_C);
        ck_assert(!conflicts_check_invite(state, &moved, "cellc", NULL));

        clear_invite(&same);
        clear_invite(&moved);
}
END_TEST

START_TEST(test_no_links) {
        g_autoptr(CellState) state = make_state();
        Invite t;

        g_ptr_array_set_size(state->links, 0);
        fill_invite(&t, "cellc", "10.3.0.0/16", "cellc.cell", KEY_C);
        ck_assert(conflicts_check_invite(state, &t, NULL, NULL));
        clear_invite(&t);
}
END_TEST

START_TEST(test_identity) {
        g_autoptr(CellState) state = make_state();
        Ipv4Prefix ok = prefix("10.9.9.1/24");
        Ipv4Prefix inside = prefix("10.3.7.1/24");
        Ipv4Prefix around = prefix("10.4.0.1/16");
        g_autoptr(GError) e1 = NULL;
        g_autoptr(GError) e2 = NULL;
        g_autoptr(GError) e3 = NULL;
        g_autoptr(GError) e4 = NULL;
        g_autoptr(GError) e5 = NULL;

        ck_assert(conflicts_check_identity(state, &ok, "home.example", NULL));
        ck_assert(conflicts_check_identity(state, &ok, "ella.cell", NULL));
        ck_assert(conflicts_check_identity(state, &ok, NULL, NULL));
        ck_assert(conflicts_check_identity(state, NULL, "cellb.cell", NULL));
        /* our own current values are not a conflict with ourselves */
        ck_assert(conflicts_check_identity(state, &state->cell.address, state->cell.domain, NULL));

        ck_assert(!conflicts_check_identity(state, &inside, NULL, &e1));
        assert_conflict(e1, (const char *const[]) {
                "This cell's new subnet 10.3.7.0/24 overlaps the subnet of linked cell cellc (10.3.0.0/16)", NULL });
        ck_assert(!conflicts_check_identity(state, &around, "cella.cell", &e2));
        assert_conflict(e2, (const char *const[]) { "10.4.0.0/16", "linked cell celld (10.4.4.0/24)", NULL });

        ck_assert(!conflicts_check_identity(state, &ok, "cell", &e3));
        assert_conflict(e3, (const char *const[]) {
                "This cell's new domain 'cell' is a parent domain of the domain of linked cell cellc ('cellc.cell')", NULL });
        ck_assert(!conflicts_check_identity(state, &ok, "x.celld.cell", &e4));
        assert_conflict(e4, (const char *const[]) { "'x.celld.cell' is a subdomain of the domain of linked cell celld", NULL });
        ck_assert(!conflicts_check_identity(state, NULL, "CellC.Cell", &e5));
        assert_conflict(e5, (const char *const[]) { "is the same as the domain of linked cell cellc", NULL });
}
END_TEST

Suite *unit_suite(void) {
        Suite *s = suite_create("conflicts");
        TCase *tc = tcase_create("invite");

        tcase_add_test(tc, test_clean_pass);
        tcase_add_loop_test(tc, test_conflicts, 0, G_N_ELEMENTS(conflicting));
        tcase_add_test(tc, test_null_error);
        tcase_add_test(tc, test_exclude_link);
        tcase_add_test(tc, test_no_links);
        suite_add_tcase(s, tc);

        tc = tcase_create("identity");
        tcase_add_test(tc, test_identity);
        suite_add_tcase(s, tc);

        return s;
}
