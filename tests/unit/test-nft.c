/* test-nft.c: the nftables table against the real kernel, each test in a network namespace of its own, read back with nft(8). */
#include <errno.h>
#include <poll.h>
#include <sched.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>
#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <fcntl.h>

#include "netaddr.h"
#include "nft.h"
#include "pic-error.h"
#include "unit-main.h"

#define FOREIGN_TABLE \
        "table inet foreign { chain c { type filter hook input priority 10; tcp dport 9 drop; }; }"

/* Check runs each test in a child of its own, so the namespace, and with it
 * every table the test makes, dies with the test; the host's ruleset is
 * never touched. */
static bool enter_private_netns(void) {
        if (geteuid() != 0) {
                fprintf(stderr, "# skipped: nftables in a network namespace needs root\n");
                return false;
        }
        if (unshare(CLONE_NEWNET) < 0) {
                ck_assert_msg(errno == EPERM, "unshare(CLONE_NEWNET): %s", g_strerror(errno));
                fprintf(stderr, "# skipped: no permission for a network namespace\n");
                return false;
        }
        return true;
}

/* Runs nft(8) in our namespace; returns its output, or NULL when it failed
 * and @may_fail. */
static char *nft_run(bool may_fail, const char *arg, ...) G_GNUC_NULL_TERMINATED;
static char *nft_run(bool may_fail, const char *arg, ...) {
        g_autoptr(GPtrArray) argv = g_ptr_array_new();
        g_autoptr(GError) error = NULL;
        g_autofree char *out = NULL, *err = NULL;
        int status;
        va_list ap;

        g_ptr_array_add(argv, (char *) "nft");
        va_start(ap, arg);
        for (const char *a = arg; a; a = va_arg(ap, const char *))
                g_ptr_array_add(argv, (char *) a);
        va_end(ap);
        g_ptr_array_add(argv, NULL);

        ck_assert_msg(g_spawn_sync(NULL, (char **) argv->pdata, NULL, G_SPAWN_SEARCH_PATH, NULL, NULL,
                                   &out, &err, &status, &error),
                      "cannot run nft: %s", error ? error->message : "?");
        if (!g_spawn_check_wait_status(status, NULL)) {
                ck_assert_msg(may_fail, "nft %s failed: %s", arg, err);
                return NULL;
        }
        return g_steal_pointer(&out);
}

static char *list_table(void) {
        return nft_run(true, "-a", "list", "table", "inet", NFT_TABLE_NAME, NULL);
}

static char *list_foreign(void) {
        return nft_run(false, "-a", "list", "table", "inet", "foreign", NULL);
}

/* The listing cut into its blocks ("chain input", "map dispatch", …; the
 * table's own lines under ""), so that two listings can be compared chain by
 * chain. */
static GHashTable *listing_blocks(const char *listing) {
        GHashTable *blocks = g_hash_table_new_full(g_str_hash, g_str_equal, g_free, NULL);
        g_auto(GStrv) lines = g_strsplit(listing, "\n", -1);
        g_autoptr(GHashTable) texts = g_hash_table_new_full(g_str_hash, g_str_equal, g_free, NULL);
        GString *table = g_string_new(NULL);
        GString *current = NULL;
        char *current_name = NULL;

        for (char **l = lines; *l; l++) {
                const char *line = *l;

                if (!current && line[0] == '\t' && line[1] != '\t' && strstr(line, " {")) {
                        current_name = g_strndup(line + 1, (size_t) (strstr(line, " {") - line - 1));
                        current = g_string_new(NULL);
                }
                g_string_append_printf(current ? current : table, "%s\n", line);
                if (current && g_str_equal(line, "\t}")) {
                        ck_assert_msg(!g_hash_table_contains(blocks, current_name), "two blocks %s", current_name);
                        g_hash_table_insert(blocks, current_name, g_string_free(current, FALSE));
                        current = NULL;
                        current_name = NULL;
                }
        }
        ck_assert_ptr_null(current);
        g_hash_table_insert(blocks, g_strdup(""), g_string_free(table, FALSE));
        return blocks;
}

static void blocks_free(GHashTable *blocks) {
        GHashTableIter iter;
        gpointer value;

        g_hash_table_iter_init(&iter, blocks);
        while (g_hash_table_iter_next(&iter, NULL, &value))
                g_free(value);
        g_hash_table_unref(blocks);
}

/* Asserts that exactly the blocks in @changed (NULL-terminated) differ. The
 * table's own line carries its handle, which a rebuild would change: equal
 * "" blocks prove that the change was a patch. */
static void assert_only_changed(const char *before, const char *after, const char *const *changed) {
        GHashTable *a = listing_blocks(before), *b = listing_blocks(after);
        GHashTableIter iter;
        gpointer key, value;

        ck_assert_uint_eq(g_hash_table_size(a), g_hash_table_size(b));
        g_hash_table_iter_init(&iter, a);
        while (g_hash_table_iter_next(&iter, &key, &value)) {
                const char *other = g_hash_table_lookup(b, key);

                ck_assert_msg(other, "block \"%s\" vanished", (const char *) key);
                if (changed && g_strv_contains(changed, key))
                        ck_assert_msg(!g_str_equal(value, other), "block \"%s\" did not change", (const char *) key);
                else
                        ck_assert_msg(g_str_equal(value, other), "block \"%s\" changed:\n%s\n---\n%s",
                                      (const char *) key, (const char *) value, other);
        }
        blocks_free(a);
        blocks_free(b);
}

/* For g_ptr_array_sort(), which hands over pointers to the elements. */
static int compare_strings(const void *a, const void *b) {
        return strcmp(*(char *const *) a, *(char *const *) b);
}

/* The elements listed in a set's block, sorted: a hash set lists them in
 * no particular order, and nft wraps long lists. */
static char *block_elements(const char *block) {
        const char *start = block ? strstr(block, "elements = { ") : NULL;
        g_autoptr(GPtrArray) elements = g_ptr_array_new_with_free_func(g_free);
        g_auto(GStrv) parts = NULL;
        g_autofree char *inner = NULL;

        ck_assert_msg(block, "no such block");
        if (!start)
                return g_strdup("");
        start += strlen("elements = { ");
        ck_assert_ptr_nonnull(strstr(start, " }"));
        inner = g_strndup(start, (size_t) (strstr(start, " }") - start));
        parts = g_strsplit(inner, ",", -1);
        for (char **part = parts; *part; part++)
                g_ptr_array_add(elements, g_strdup(g_strstrip(*part)));
        g_ptr_array_sort(elements, compare_strings);
        g_ptr_array_add(elements, NULL);
        return g_strjoinv(", ", (char **) elements->pdata);
}

static void assert_elements(GHashTable *blocks, const char *block, const char *expected) {
        g_autofree char *elements = block_elements(g_hash_table_lookup(blocks, block));

        ck_assert_msg(g_str_equal(elements, expected), "%s holds { %s }, not { %s }", block, elements, expected);
}

/* A block but for its elements. */
static char *block_head(const char *block) {
        const char *elements = strstr(block, "elements = {");

        return elements ? g_strndup(block, (size_t) (elements - block)) : g_strdup(block);
}

/* Asserts that two listings hold the same: every block equal, but a set's
 * elements in any order. */
static void assert_same_table(const char *before, const char *after) {
        GHashTable *a = listing_blocks(before), *b = listing_blocks(after);
        GHashTableIter iter;
        gpointer key, value;

        ck_assert_uint_eq(g_hash_table_size(a), g_hash_table_size(b));
        g_hash_table_iter_init(&iter, a);
        while (g_hash_table_iter_next(&iter, &key, &value)) {
                const char *other = g_hash_table_lookup(b, key);
                g_autofree char *head_a = NULL, *head_b = NULL, *elements_a = NULL, *elements_b = NULL;

                ck_assert_msg(other, "block \"%s\" vanished", (const char *) key);
                head_a = block_head(value);
                head_b = block_head(other);
                elements_a = block_elements(value);
                elements_b = block_elements(other);
                ck_assert_msg(g_str_equal(head_a, head_b) && g_str_equal(elements_a, elements_b),
                              "block \"%s\" changed:\n%s\n---\n%s", (const char *) key, (const char *) value, other);
        }
        blocks_free(a);
        blocks_free(b);
}

static Ipv4Prefix prefix(const char *text) {
        Ipv4Prefix p;

        ck_assert(netaddr_parse_prefix(text, false, &p, NULL));
        return p;
}

static uint32_t address(const char *text) {
        uint32_t a;

        ck_assert(netaddr_parse_address(text, &a, NULL));
        return a;
}

static void add_prefix(GPtrArray *array, const char *text) {
        Ipv4Prefix p = prefix(text);

        g_ptr_array_add(array, g_memdup2(&p, sizeof(p)));
}

static NftLink *find_link(NftRuleset *ruleset, const char *name) {
        for (guint i = 0; i < ruleset->links->len; i++) {
                NftLink *link = ruleset->links->pdata[i];
                if (g_str_equal(link->name, name))
                        return link;
        }
        ck_abort_msg("no link %s", name);
        return NULL;
}

/* Our cell 10.200.0.0/24 on wg0 with eth0 as uplink and links "c000"… with
 * subnets 10.1.0.0/24, 10.1.1.0/24, …, each sharing @n_ports services. */
static NftRuleset *make_ruleset(unsigned n_links, unsigned n_ports) {
        NftRuleset *ruleset = nft_ruleset_new();

        ruleset->interface = g_strdup("wg0");
        ruleset->uplink = g_strdup("eth0");
        ruleset->own_subnet = prefix("10.200.0.0/24");
        ruleset->tunnel_address = address("10.200.0.1");
        ruleset->sync_port = 51821;
        ruleset->dns_address = address("10.200.0.2");
        add_prefix(ruleset->masquerade, "10.200.0.9/32");
        for (unsigned i = 0; i < n_links; i++) {
                g_autofree char *name = g_strdup_printf("c%03u", i);
                Ipv4Prefix subnet = { .address = (10u << 24) | ((1 + i / 256) << 16) | ((i % 256) << 8), .prefixlen = 24 };
                NftLink *link = nft_link_new(name, &subnet);

                for (unsigned j = 0; j < n_ports; j++)
                        nft_link_add_port(link, j % 2 ? "udp" : "tcp", (uint16_t) (1000 + j),
                                          address("10.200.0.10") + j % 4);
                g_ptr_array_add(ruleset->links, link);
        }
        return ruleset;
}

static void assert_contains(const char *haystack, const char *needle) {
        ck_assert_msg(haystack && strstr(haystack, needle), "\"%s\" not in:\n%s", needle, haystack);
}

static void assert_apply(const NftRuleset *previous, NftRuleset *desired) {
        g_autoptr(GError) error = NULL;

        ck_assert_msg(nft_apply(previous, desired, &error), "nft_apply: %s", error ? error->message : "?");
        ck_assert_ptr_null(error);
}

START_TEST(test_ruleset_copy)
{
        g_autoptr(NftRuleset) ruleset = make_ruleset(3, 2);
        g_autoptr(NftRuleset) copy = NULL;
        NftLink *link;

        add_prefix(find_link(ruleset, "c001")->exit_sources, "10.1.1.7/32");
        copy = nft_ruleset_copy(ruleset);
        ck_assert_str_eq(copy->interface, "wg0");
        ck_assert_str_eq(copy->uplink, "eth0");
        ck_assert_uint_eq(copy->masquerade->len, 1);
        ck_assert_ptr_ne(copy->masquerade->pdata[0], ruleset->masquerade->pdata[0]);
        ck_assert_uint_eq(copy->links->len, 3);
        link = find_link(copy, "c001");
        ck_assert_ptr_ne(link, find_link(ruleset, "c001"));
        ck_assert_uint_eq(link->ports->len, 2);
        ck_assert_str_eq(g_array_index(link->ports, NftPort, 1).protocol, "udp");
        ck_assert_uint_eq(g_array_index(link->ports, NftPort, 1).port, 1001);
        ck_assert_uint_eq(link->exit_sources->len, 1);
        ck_assert_uint_eq(((Ipv4Prefix *) link->exit_sources->pdata[0])->address, address("10.1.1.7"));

        /* The copy stands alone. */
        g_clear_pointer(&ruleset, nft_ruleset_free);
        ck_assert_str_eq(find_link(copy, "c002")->name, "c002");
        ck_assert_ptr_null(nft_ruleset_copy(NULL));
        nft_ruleset_free(NULL);
        nft_link_unref(NULL);
}
END_TEST

typedef struct {
        const char *name;
        void (*spoil)(NftRuleset *ruleset);
        const char *quoted;
} InvalidCase;

static void spoil_interface_long(NftRuleset *r) {
        g_free(r->interface);
        r->interface = g_strdup("wg-much-too-long-name");
}
static void spoil_interface_missing(NftRuleset *r) {
        g_clear_pointer(&r->interface, g_free);
}
static void spoil_uplink_space(NftRuleset *r) {
        g_free(r->uplink);
        r->uplink = g_strdup("eth 0");
}
static void spoil_link_name_long(NftRuleset *r) {
        Ipv4Prefix subnet = prefix("10.9.0.0/24");

        g_ptr_array_add(r->links, nft_link_new("a-link-name-that-is-far-too-long-for-an-nftables-chain-name", &subnet));
}
static void spoil_link_name_twice(NftRuleset *r) {
        Ipv4Prefix subnet = prefix("10.9.0.0/24");

        g_ptr_array_add(r->links, nft_link_new("c001", &subnet));
}
static void spoil_protocol(NftRuleset *r) {
        nft_link_add_port(find_link(r, "c000"), "ip", 80, address("10.200.0.10"));
}
static void spoil_prefixlen(NftRuleset *r) {
        ((Ipv4Prefix *) r->masquerade->pdata[0])->prefixlen = 33;
}

static const InvalidCase invalid_cases[] = {
        { "interface missing", spoil_interface_missing, "interface" },
        { "interface too long", spoil_interface_long, "\"wg-much-too-long-name\"" },
        { "uplink with a space", spoil_uplink_space, "\"eth 0\"" },
        { "link name too long", spoil_link_name_long,
          "\"a-link-name-that-is-far-too-long-for-an-nftables-chain-name\"" },
        { "link name twice", spoil_link_name_twice, "\"c001\"" },
        { "protocol", spoil_protocol, "\"ip\"" },
        { "prefix length", spoil_prefixlen, "33" },
};

START_TEST(test_invalid_arguments)
{
        const InvalidCase *c = &invalid_cases[_i];
        g_autoptr(NftRuleset) good = make_ruleset(2, 1);
        g_autoptr(NftRuleset) bad = make_ruleset(2, 1);
        g_autoptr(GError) error = NULL;
        g_autofree char *before = NULL, *after = NULL;

        if (!enter_private_netns())
                return;
        assert_apply(NULL, good);
        before = list_table();
        c->spoil(bad);
        ck_assert_msg(!nft_apply(good, bad, &error), "%s accepted", c->name);
        ck_assert(g_error_matches(error, PIC_ERROR, PIC_ERROR_INVALID_ARGUMENT));
        ck_assert_msg(strstr(error->message, c->quoted), "%s: \"%s\" not in \"%s\"", c->name, c->quoted, error->message);
        after = list_table();
        ck_assert_str_eq(before, after);
}
END_TEST

START_TEST(test_full_apply)
{
        g_autoptr(NftRuleset) ruleset = make_ruleset(2, 2);
        g_autofree char *listing = NULL;
        GHashTable *blocks;

        if (!enter_private_netns())
                return;
        add_prefix(find_link(ruleset, "c001")->exit_sources, "10.1.1.7/32");
        add_prefix(find_link(ruleset, "c001")->exit_sources, "10.1.1.16/28");
        assert_apply(NULL, ruleset);
        listing = nft_run(false, "list", "table", "inet", NFT_TABLE_NAME, NULL);

        blocks = listing_blocks(listing);
        assert_contains(g_hash_table_lookup(blocks, "set linked"), "type ipv4_addr\n\t\tflags interval\n");
        assert_contains(g_hash_table_lookup(blocks, "set linked"), "elements = { 10.1.0.0/24, 10.1.1.0/24 }");
        assert_contains(g_hash_table_lookup(blocks, "map dispatch"), "type ipv4_addr : verdict\n\t\tflags interval\n");
        assert_contains(g_hash_table_lookup(blocks, "map dispatch"),
                        "elements = { 10.1.0.0/24 : jump link_c000, 10.1.1.0/24 : jump link_c001 }");
        /* Our own full-tunnel peer and the exit sources of c001. */
        assert_contains(g_hash_table_lookup(blocks, "set masq"),
                        "elements = { 10.1.1.7, 10.1.1.16/28,\n\t\t\t     10.200.0.9 }");

        for (const char *const *chain = (const char *const[]) { "input", "forward", NULL }; *chain; chain++) {
                g_autofree char *key = g_strconcat("chain ", *chain, NULL);
                g_autofree char *hook = g_strdup_printf("\t\ttype filter hook %s priority filter; policy accept;\n"
                                                        "\t\tct state established,related accept\n"
                                                        "\t\tiifname != \"wg0\" ip saddr @linked drop\n"
                                                        "\t\tiifname != \"wg0\" iifname != \"lo\" ip saddr 10.200.0.0/24 drop\n"
                                                        "\t\tiifname \"wg0\" ip saddr vmap @dispatch\n"
                                                        "\t}\n", *chain);

                assert_contains(g_hash_table_lookup(blocks, key), hook);
        }
        assert_contains(g_hash_table_lookup(blocks, "chain postrouting"),
                        "\t\ttype nat hook postrouting priority srcnat; policy accept;\n"
                        "\t\toifname \"eth0\" ip saddr @masq masquerade\n\t}\n");
        assert_contains(g_hash_table_lookup(blocks, "chain link_c000"),
                        "\tchain link_c000 {\n"
                        "\t\tip daddr 10.200.0.2 udp dport 53 accept\n"
                        "\t\tip daddr 10.200.0.2 tcp dport 53 accept\n"
                        "\t\tip daddr 10.200.0.1 tcp dport 51821 accept\n"
                        "\t\ticmp type echo-request accept\n"
                        "\t\tip daddr . meta l4proto . th dport @svc_c000 accept\n"
                        "\t\tdrop\n\t}\n");
        assert_contains(g_hash_table_lookup(blocks, "chain link_c001"),
                        "\t\tip daddr . meta l4proto . th dport @svc_c001 accept\n"
                        "\t\toifname \"eth0\" ip saddr 10.1.1.7 accept\n"
                        "\t\toifname \"eth0\" ip saddr 10.1.1.16/28 accept\n"
                        "\t\tdrop\n\t}\n");
        /* Each link's shared services: address, protocol and port. */
        for (const char *const *set = (const char *const[]) { "set svc_c000", "set svc_c001", NULL }; *set; set++) {
                assert_contains(g_hash_table_lookup(blocks, *set), "\t\ttype ipv4_addr . inet_proto . inet_service\n");
                assert_elements(blocks, *set, "10.200.0.10 . tcp . 1000, 10.200.0.11 . udp . 1001");
        }
        ck_assert_uint_eq(g_hash_table_size(blocks), 11);
        blocks_free(blocks);

        /* nft's JSON, which tools read, knows the parts too. */
        g_free(listing);
        listing = nft_run(false, "-j", "list", "set", "inet", NFT_TABLE_NAME, "svc_c000", NULL);
        assert_contains(listing, "\"type\": [\"ipv4_addr\", \"inet_proto\", \"inet_service\"]");
        assert_contains(listing, "{\"concat\": [\"10.200.0.10\", \"tcp\", 1000]}");
        assert_contains(listing, "{\"concat\": [\"10.200.0.11\", \"udp\", 1001]}");
}
END_TEST

START_TEST(test_without_uplink)
{
        g_autoptr(NftRuleset) ruleset = make_ruleset(1, 0);
        g_autofree char *listing = NULL;
        GHashTable *blocks;

        if (!enter_private_netns())
                return;
        g_clear_pointer(&ruleset->uplink, g_free);
        add_prefix(((NftLink *) ruleset->links->pdata[0])->exit_sources, "10.1.0.7/32");
        assert_apply(NULL, ruleset);
        listing = nft_run(false, "list", "table", "inet", NFT_TABLE_NAME, NULL);
        blocks = listing_blocks(listing);
        /* Without an uplink nothing leaves and nothing is masqueraded. */
        assert_contains(g_hash_table_lookup(blocks, "chain postrouting"),
                        "policy accept;\n\t}\n");
        assert_contains(g_hash_table_lookup(blocks, "chain link_c000"),
                        "icmp type echo-request accept\n"
                        "\t\tip daddr . meta l4proto . th dport @svc_c000 accept\n"
                        "\t\tdrop\n\t}\n");
        /* Nothing shared: an empty set. */
        assert_elements(blocks, "set svc_c000", "");
        blocks_free(blocks);
}
END_TEST

START_TEST(test_apply_unchanged)
{
        g_autoptr(NftRuleset) ruleset = make_ruleset(20, 3);
        g_autoptr(NftRuleset) previous = NULL;
        g_autofree char *first = NULL, *second = NULL, *third = NULL;
        g_autofree char *plain_before = NULL, *plain_after = NULL;

        if (!enter_private_netns())
                return;
        assert_apply(NULL, ruleset);
        first = list_table();
        previous = nft_ruleset_copy(ruleset);
        assert_apply(previous, ruleset);
        second = list_table();
        /* Handles included: nothing was replaced. */
        ck_assert_str_eq(first, second);
        assert_apply(ruleset, ruleset);
        third = list_table();
        ck_assert_str_eq(first, third);

        /* A rebuild gives the same table anew. */
        plain_before = nft_run(false, "list", "table", "inet", NFT_TABLE_NAME, NULL);
        assert_apply(NULL, ruleset);
        plain_after = nft_run(false, "list", "table", "inet", NFT_TABLE_NAME, NULL);
        assert_same_table(plain_before, plain_after);
}
END_TEST

/* A ruleset that shares the links of the one applied before, as the
 * reconciler builds it after a change, is checked only where it differs,
 * and still refused when a new link takes the name of a shared one. */
START_TEST(test_shared_links)
{
        g_autoptr(NftRuleset) ruleset = make_ruleset(6, 2);
        g_autoptr(NftRuleset) shared = NULL, clash = NULL, many = NULL;
        g_autoptr(GError) error = NULL;
        g_autoptr(NftRuleset) exits = NULL;
        g_autofree char *before = NULL, *after = NULL, *refused = NULL, *masq = NULL;
        NftLink *changed;

        if (!enter_private_netns())
                return;
        assert_apply(NULL, ruleset);
        ck_assert(ruleset->validated);
        before = list_table();

        /* Link 3 replaced by a changed copy, the rest shared. */
        shared = nft_ruleset_copy(ruleset);
        g_ptr_array_set_size(shared->links, 0);
        for (guint i = 0; i < ruleset->links->len; i++)
                g_ptr_array_add(shared->links, nft_link_ref(ruleset->links->pdata[i]));
        changed = nft_link_new(((NftLink *) ruleset->links->pdata[3])->name,
                               &((NftLink *) ruleset->links->pdata[3])->subnet);
        nft_link_add_port(changed, "tcp", 2000, address("10.200.0.10"));
        nft_link_unref(shared->links->pdata[3]);
        shared->links->pdata[3] = changed;
        assert_apply(ruleset, shared);
        after = list_table();
        assert_contains(after, "10.200.0.10 . tcp . 2000");
        ck_assert_ptr_null(strstr(before, "10.200.0.10 . tcp . 2000"));

        /* A new link named like a shared one. */
        clash = nft_ruleset_copy(shared);
        g_ptr_array_set_size(clash->links, 0);
        for (guint i = 0; i < shared->links->len; i++)
                g_ptr_array_add(clash->links, nft_link_ref(shared->links->pdata[i]));
        changed = nft_link_new(((NftLink *) shared->links->pdata[0])->name, &((NftLink *) shared->links->pdata[3])->subnet);
        nft_link_unref(clash->links->pdata[5]);
        clash->links->pdata[5] = changed;
        ck_assert(!nft_apply(shared, clash, &error));
        assert_contains(error->message, "appears twice");
        g_clear_error(&error);

        /* The same with more new links than are compared one by one. */
        many = nft_ruleset_copy(shared);
        g_free(((NftLink *) many->links->pdata[5])->name);
        ((NftLink *) many->links->pdata[5])->name = g_strdup(((NftLink *) many->links->pdata[1])->name);
        ck_assert(!nft_apply(shared, many, &error));
        assert_contains(error->message, "appears twice");
        /* Refused whole: the table is what the last apply made it. */
        refused = list_table();
        ck_assert_str_eq(after, refused);

        /* Our own sources shared, a link's exit sources new: the
         * masquerade set follows them. */
        exits = nft_ruleset_copy(shared);
        g_ptr_array_unref(exits->masquerade);
        exits->masquerade = g_ptr_array_ref(shared->masquerade);
        add_prefix(((NftLink *) exits->links->pdata[2])->exit_sources, "10.1.2.7/32");
        assert_apply(shared, exits);
        masq = nft_run(false, "list", "set", "inet", NFT_TABLE_NAME, "masq", NULL);
        assert_contains(masq, "10.1.2.7");
}
END_TEST

/* A toggle changes the elements of the link's set and nothing else: not
 * one rule is written (the handles stay), which is what keeps the kernel
 * from re-validating the whole table. */
START_TEST(test_toggle_one_link)
{
        g_autoptr(NftRuleset) ruleset = make_ruleset(100, 4);
        g_autoptr(NftRuleset) toggled = NULL;
        g_autofree char *before = NULL, *after = NULL, *back = NULL;
        g_autofree char *chain_before = NULL, *chain_after = NULL, *chain_back = NULL;
        NftLink *link;
        GHashTable *blocks;

        if (!enter_private_netns())
                return;
        assert_apply(NULL, ruleset);
        before = list_table();
        chain_before = nft_run(false, "-a", "list", "chain", "inet", NFT_TABLE_NAME, "link_c042", NULL);
        assert_contains(chain_before, "@svc_c042 accept # handle ");

        /* One service unshared, another shared, in one go. */
        toggled = nft_ruleset_copy(ruleset);
        link = find_link(toggled, "c042");
        g_array_remove_index(link->ports, 1);
        nft_link_add_port(link, "tcp", 445, address("10.200.0.10"));
        assert_apply(ruleset, toggled);
        after = list_table();
        chain_after = nft_run(false, "-a", "list", "chain", "inet", NFT_TABLE_NAME, "link_c042", NULL);
        ck_assert_str_eq(chain_before, chain_after);
        assert_only_changed(before, after, (const char *const[]) { "set svc_c042", NULL });
        blocks = listing_blocks(after);
        assert_elements(blocks, "set svc_c042",
                        "10.200.0.10 . tcp . 1000, 10.200.0.10 . tcp . 445, "
                        "10.200.0.12 . tcp . 1002, 10.200.0.13 . udp . 1003");
        assert_elements(blocks, "set svc_c041",
                        "10.200.0.10 . tcp . 1000, 10.200.0.11 . udp . 1001, "
                        "10.200.0.12 . tcp . 1002, 10.200.0.13 . udp . 1003");
        blocks_free(blocks);

        assert_apply(toggled, ruleset);
        back = list_table();
        chain_back = nft_run(false, "-a", "list", "chain", "inet", NFT_TABLE_NAME, "link_c042", NULL);
        ck_assert_str_eq(chain_before, chain_back);
        /* Elements carry no handles: the table is as it was, but for the
         * order in which the hash set lists its elements. */
        assert_same_table(before, back);
}
END_TEST

/* Two services on the same port are one element: sharing both, and then
 * unsharing one of them, must neither fail nor close the port. */
START_TEST(test_duplicate_ports)
{
        g_autoptr(NftRuleset) ruleset = make_ruleset(3, 1);
        g_autoptr(NftRuleset) one = NULL;
        g_autofree char *listing = NULL, *again = NULL;
        GHashTable *blocks;

        if (!enter_private_netns())
                return;
        nft_link_add_port(find_link(ruleset, "c001"), "tcp", 1000, address("10.200.0.10"));
        nft_link_add_port(find_link(ruleset, "c001"), "udp", 1000, address("10.200.0.10"));
        assert_apply(NULL, ruleset);
        listing = list_table();
        blocks = listing_blocks(listing);
        assert_elements(blocks, "set svc_c001", "10.200.0.10 . tcp . 1000, 10.200.0.10 . udp . 1000");
        blocks_free(blocks);

        one = nft_ruleset_copy(ruleset);
        g_array_remove_index(find_link(one, "c001")->ports, 0);
        assert_apply(ruleset, one);
        again = list_table();
        ck_assert_str_eq(listing, again);
}
END_TEST

START_TEST(test_exit_sources_change)
{
        g_autoptr(NftRuleset) ruleset = make_ruleset(10, 2);
        g_autoptr(NftRuleset) offered = NULL;
        g_autoptr(NftRuleset) both = NULL;
        g_autofree char *before = NULL, *after = NULL, *back = NULL, *changed = NULL;
        GHashTable *blocks;

        if (!enter_private_netns())
                return;
        assert_apply(NULL, ruleset);
        before = list_table();

        offered = nft_ruleset_copy(ruleset);
        add_prefix(find_link(offered, "c003")->exit_sources, "10.1.3.5/32");
        add_prefix(find_link(offered, "c003")->exit_sources, "10.1.3.6/32");
        assert_apply(ruleset, offered);
        after = list_table();
        assert_only_changed(before, after, (const char *const[]) { "chain link_c003", "set masq", NULL });
        assert_contains(after, "oifname \"eth0\" ip saddr 10.1.3.5 accept");
        /* Adjacent sources are one interval in the set. */
        assert_contains(after, "elements = { 10.1.3.5-10.1.3.6, 10.200.0.9 }");

        assert_apply(offered, ruleset);
        back = list_table();
        assert_only_changed(before, back, (const char *const[]) { "chain link_c003", NULL });
        ck_assert(!strstr(back, "10.1.3.5"));

        /* Exit sources and ports at once: the rewritten chain still looks up
         * the set, whose elements changed. */
        both = nft_ruleset_copy(ruleset);
        add_prefix(find_link(both, "c003")->exit_sources, "10.1.3.5/32");
        g_array_set_size(find_link(both, "c003")->ports, 1);
        nft_link_add_port(find_link(both, "c003"), "udp", 53, address("10.200.0.10"));
        assert_apply(ruleset, both);
        changed = list_table();
        assert_only_changed(back, changed,
                            (const char *const[]) { "chain link_c003", "set masq", "set svc_c003", NULL });
        blocks = listing_blocks(changed);
        assert_contains(g_hash_table_lookup(blocks, "chain link_c003"),
                        "ip daddr . meta l4proto . th dport @svc_c003 accept # handle ");
        assert_elements(blocks, "set svc_c003", "10.200.0.10 . tcp . 1000, 10.200.0.10 . udp . 53");
        blocks_free(blocks);
}
END_TEST

START_TEST(test_masquerade_change)
{
        g_autoptr(NftRuleset) ruleset = make_ruleset(3, 1);
        g_autoptr(NftRuleset) changed = NULL;
        g_autofree char *before = NULL, *after = NULL;

        if (!enter_private_netns())
                return;
        assert_apply(NULL, ruleset);
        before = list_table();
        changed = nft_ruleset_copy(ruleset);
        g_ptr_array_set_size(changed->masquerade, 0);
        add_prefix(changed->masquerade, "10.200.0.8/32");
        add_prefix(changed->masquerade, "10.200.0.9/32");
        add_prefix(changed->masquerade, "10.200.0.64/26");
        assert_apply(ruleset, changed);
        after = list_table();
        assert_only_changed(before, after, (const char *const[]) { "set masq", NULL });
        assert_contains(after, "elements = { 10.200.0.8/31, 10.200.0.64/26 }");
}
END_TEST

START_TEST(test_add_and_remove_link)
{
        g_autoptr(NftRuleset) ruleset = make_ruleset(5, 2);
        g_autoptr(NftRuleset) grown = NULL;
        g_autoptr(NftRuleset) shrunk = NULL;
        g_autofree char *before = NULL, *after = NULL, *gone = NULL;
        Ipv4Prefix subnet = prefix("10.7.0.0/16");
        NftLink *link;
        GHashTable *a, *b;

        if (!enter_private_netns())
                return;
        assert_apply(NULL, ruleset);
        before = list_table();

        grown = nft_ruleset_copy(ruleset);
        link = nft_link_new("newcell", &subnet);
        nft_link_add_port(link, "tcp", 22, address("10.200.0.3"));
        g_ptr_array_add(grown->links, link);
        assert_apply(ruleset, grown);
        after = list_table();
        assert_contains(after, "10.7.0.0/16 : jump link_newcell");
        assert_contains(after, "chain link_newcell {");
        assert_contains(after, "ip daddr . meta l4proto . th dport @svc_newcell accept");
        /* Every other chain is as it was, handles included. */
        a = listing_blocks(before);
        b = listing_blocks(after);
        assert_elements(b, "set svc_newcell", "10.200.0.3 . tcp . 22");
        ck_assert_uint_eq(g_hash_table_size(b), g_hash_table_size(a) + 2);
        for (const char *const *chain = (const char *const[]) { "chain input", "chain forward", "chain postrouting",
                                                                 "chain link_c000", "chain link_c004", NULL };
             *chain; chain++)
                ck_assert_str_eq(g_hash_table_lookup(a, *chain), g_hash_table_lookup(b, *chain));
        blocks_free(a);
        blocks_free(b);

        /* Removing it again: and one of the old ones too. */
        shrunk = nft_ruleset_copy(ruleset);
        g_ptr_array_remove_index(shrunk->links, 2);
        assert_apply(grown, shrunk);
        gone = list_table();
        /* Neither chain nor set is left of either. */
        ck_assert(!strstr(gone, "newcell"));
        ck_assert(!strstr(gone, "c002"));
        ck_assert(!strstr(gone, "10.1.2.0/24"));
        ck_assert_ptr_null(nft_run(true, "list", "set", "inet", NFT_TABLE_NAME, "svc_c002", NULL));
        ck_assert_ptr_null(nft_run(true, "list", "set", "inet", NFT_TABLE_NAME, "svc_newcell", NULL));
        assert_contains(gone, "10.1.3.0/24 : jump link_c003");
        a = listing_blocks(before);
        b = listing_blocks(gone);
        ck_assert_uint_eq(g_hash_table_size(b), g_hash_table_size(a) - 2);
        ck_assert_str_eq(g_hash_table_lookup(a, "set svc_c003"), g_hash_table_lookup(b, "set svc_c003"));
        ck_assert_str_eq(g_hash_table_lookup(a, "chain link_c003"), g_hash_table_lookup(b, "chain link_c003"));
        ck_assert_str_eq(g_hash_table_lookup(a, "chain input"), g_hash_table_lookup(b, "chain input"));
        blocks_free(a);
        blocks_free(b);
}
END_TEST

START_TEST(test_subnet_change)
{
        g_autoptr(NftRuleset) ruleset = make_ruleset(3, 1);
        g_autoptr(NftRuleset) moved = NULL;
        g_autofree char *before = NULL, *after = NULL;

        if (!enter_private_netns())
                return;
        assert_apply(NULL, ruleset);
        before = list_table();
        moved = nft_ruleset_copy(ruleset);
        find_link(moved, "c001")->subnet = prefix("10.42.0.0/16");
        assert_apply(ruleset, moved);
        after = list_table();
        assert_only_changed(before, after, (const char *const[]) { "set linked", "map dispatch", NULL });
        assert_contains(after, "10.42.0.0/16 : jump link_c001");
        ck_assert(!strstr(after, "10.1.1.0/24"));
}
END_TEST

START_TEST(test_global_change_rebuilds)
{
        g_autoptr(NftRuleset) ruleset = make_ruleset(3, 1);
        g_autoptr(NftRuleset) changed = NULL;
        g_autofree char *listing = NULL;

        if (!enter_private_netns())
                return;
        assert_apply(NULL, ruleset);
        changed = nft_ruleset_copy(ruleset);
        changed->dns_address = address("10.200.0.53");
        g_free(changed->interface);
        changed->interface = g_strdup("wg7");
        assert_apply(ruleset, changed);
        listing = nft_run(false, "list", "table", "inet", NFT_TABLE_NAME, NULL);
        assert_contains(listing, "ip daddr 10.200.0.53 udp dport 53 accept");
        assert_contains(listing, "iifname \"wg7\" ip saddr vmap @dispatch");
        ck_assert(!strstr(listing, "10.200.0.2 "));
        ck_assert(!strstr(listing, "\"wg0\""));
}
END_TEST

START_TEST(test_table_vanished)
{
        g_autoptr(NftRuleset) ruleset = make_ruleset(3, 1);
        g_autofree char *before = NULL, *after = NULL;
        g_autofree char *flushed = NULL;

        if (!enter_private_netns())
                return;
        assert_apply(NULL, ruleset);
        before = nft_run(false, "list", "table", "inet", NFT_TABLE_NAME, NULL);
        /* What a firewall reload does to everybody's tables. */
        g_free(nft_run(false, "flush", "ruleset", NULL));
        flushed = list_table();
        ck_assert_ptr_null(flushed);
        assert_apply(ruleset, ruleset);
        after = nft_run(false, "list", "table", "inet", NFT_TABLE_NAME, NULL);
        ck_assert_str_eq(before, after);
}
END_TEST

START_TEST(test_table_edited)
{
        g_autoptr(NftRuleset) ruleset = make_ruleset(3, 1);
        g_autoptr(NftRuleset) toggled = NULL;
        g_autoptr(NftRuleset) unshared = NULL;
        g_autofree char *expected = NULL, *after = NULL;
        g_autofree char *edited = NULL, *repaired = NULL;
        GHashTable *a, *b;

        if (!enter_private_netns())
                return;
        assert_apply(NULL, ruleset);
        /* Somebody deleted a link of ours behind our back, chain and set: the
         * patch for it cannot apply, so the table is rebuilt from the state. */
        g_free(nft_run(false, "delete", "element", "inet", NFT_TABLE_NAME, "dispatch", "{ 10.1.1.0/24 }", NULL));
        g_free(nft_run(false, "delete", "chain", "inet", NFT_TABLE_NAME, "link_c001", NULL));
        g_free(nft_run(false, "delete", "set", "inet", NFT_TABLE_NAME, "svc_c001", NULL));
        toggled = nft_ruleset_copy(ruleset);
        nft_link_add_port(find_link(toggled, "c001"), "tcp", 8080, address("10.200.0.10"));
        assert_apply(ruleset, toggled);
        after = nft_run(false, "list", "table", "inet", NFT_TABLE_NAME, NULL);
        assert_apply(NULL, toggled);
        expected = nft_run(false, "list", "table", "inet", NFT_TABLE_NAME, NULL);
        assert_same_table(after, expected);
        assert_contains(after, "10.200.0.10 . tcp . 8080");
        assert_contains(after, "chain link_c001 {");

        /* Somebody unshared a port by hand that we unshare too: deleting it
         * again fails, and the rebuild (a new table handle) ends where we
         * wanted to be. */
        g_free(nft_run(false, "delete", "element", "inet", NFT_TABLE_NAME, "svc_c002",
                       "{ 10.200.0.10 . tcp . 1000 }", NULL));
        edited = list_table();
        unshared = nft_ruleset_copy(toggled);
        g_array_set_size(find_link(unshared, "c002")->ports, 0);
        assert_apply(toggled, unshared);
        repaired = list_table();
        a = listing_blocks(edited);
        b = listing_blocks(repaired);
        ck_assert_str_ne(g_hash_table_lookup(a, ""), g_hash_table_lookup(b, ""));
        assert_elements(b, "set svc_c002", "");
        assert_elements(b, "set svc_c001", "10.200.0.10 . tcp . 1000, 10.200.0.10 . tcp . 8080");
        blocks_free(a);
        blocks_free(b);
}
END_TEST

START_TEST(test_foreign_table_untouched)
{
        g_autoptr(NftRuleset) ruleset = make_ruleset(10, 2);
        g_autoptr(NftRuleset) toggled = NULL;
        g_autofree char *before = NULL, *after_full = NULL, *after_diff = NULL, *after_remove = NULL;
        g_autofree char *ruleset_after = NULL;

        if (!enter_private_netns())
                return;
        g_free(nft_run(false, FOREIGN_TABLE, NULL));
        before = list_foreign();
        assert_contains(before, "tcp dport 9 drop");

        assert_apply(NULL, ruleset);
        after_full = list_foreign();
        ck_assert_str_eq(before, after_full);

        toggled = nft_ruleset_copy(ruleset);
        g_ptr_array_remove_index(toggled->links, 4);
        nft_link_add_port(find_link(toggled, "c007"), "udp", 5353, address("10.200.0.10"));
        assert_apply(ruleset, toggled);
        after_diff = list_foreign();
        ck_assert_str_eq(before, after_diff);

        ck_assert(nft_remove_table(NULL));
        after_remove = list_foreign();
        ck_assert_str_eq(before, after_remove);
        ruleset_after = nft_run(false, "list", "ruleset", NULL);
        ck_assert(!strstr(ruleset_after, NFT_TABLE_NAME));
}
END_TEST

START_TEST(test_remove_table)
{
        g_autoptr(NftRuleset) ruleset = make_ruleset(2, 1);
        g_autoptr(GError) error = NULL;
        g_autofree char *listing = NULL;

        if (!enter_private_netns())
                return;
        /* Removing what is not there is no error. */
        ck_assert_msg(nft_remove_table(&error), "%s", error ? error->message : "?");
        assert_apply(NULL, ruleset);
        ck_assert(nft_remove_table(&error));
        listing = list_table();
        ck_assert_ptr_null(listing);
        ck_assert(nft_remove_table(&error));
        /* And from nothing, a diff against a stale previous rebuilds. */
        assert_apply(ruleset, ruleset);
        listing = list_table();
        assert_contains(listing, "chain link_c001");
}
END_TEST

/* Overlapping subnets pass our checks (that is the conflict checker's job)
 * but not the kernel's interval map: the whole batch must fail, name the
 * element, and leave the old table alone. */
START_TEST(test_kernel_error)
{
        g_autoptr(NftRuleset) ruleset = make_ruleset(5, 2);
        g_autoptr(NftRuleset) bad = NULL;
        g_autofree char *before = NULL, *after_diff = NULL, *after_full = NULL;
        Ipv4Prefix subnet = prefix("10.1.0.0/16");

        if (!enter_private_netns())
                return;
        assert_apply(NULL, ruleset);
        before = list_table();
        bad = nft_ruleset_copy(ruleset);
        g_ptr_array_add(bad->links, nft_link_new("wide", &subnet));

        for (int full = 0; full < 2; full++) {
                g_autoptr(GError) error = NULL;

                ck_assert(!nft_apply(full ? NULL : ruleset, bad, &error));
                ck_assert(g_error_matches(error, PIC_ERROR, PIC_ERROR_FAILED));
                assert_contains(error->message, "10.1.0.0/16");
                assert_contains(error->message, "link_wide");
                assert_contains(error->message, "table inet pic_cell");
                assert_contains(error->message, g_strerror(EEXIST));
        }
        after_diff = list_table();
        ck_assert_str_eq(before, after_diff);

        /* Still usable afterwards. */
        assert_apply(ruleset, ruleset);
        after_full = list_table();
        ck_assert_str_eq(before, after_full);
}
END_TEST

/* ---- packets: a second namespace behind a veth pair plays the linked cell ---- */

typedef struct {
        uint32_t source;        /* 0: configure the far end first */
        uint16_t port;
} Probe;

enum { PROBE_SILENT, PROBE_ANSWERED, PROBE_BROKEN };

#define PROBE_WAIT_MS 400

static bool run_ip(const char *args) {
        g_autofree char *command = g_strconcat("ip ", args, NULL);
        g_auto(GStrv) argv = g_strsplit(command, " ", -1);
        int status;

        return g_spawn_sync(NULL, argv, NULL, G_SPAWN_SEARCH_PATH | G_SPAWN_STDOUT_TO_DEV_NULL,
                            NULL, NULL, NULL, NULL, &status, NULL) &&
                g_spawn_check_wait_status(status, NULL);
}

/* A TCP SYN to our tunnel address from @source: either something answers
 * (a RST, as nothing listens, or a connection) or the firewall ate it. */
static uint8_t probe_tcp(uint32_t source, uint16_t port) {
        struct sockaddr_in from = { .sin_family = AF_INET, .sin_addr.s_addr = htonl(source) };
        struct sockaddr_in to = { .sin_family = AF_INET, .sin_port = htons(port),
                                  .sin_addr.s_addr = htonl((10u << 24) | (200u << 16) | 1) };
        int fd = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
        struct pollfd pfd = { .fd = fd, .events = POLLOUT };
        uint8_t result = PROBE_BROKEN;

        if (fd < 0)
                return PROBE_BROKEN;
        if (bind(fd, (struct sockaddr *) &from, sizeof(from)) == 0 &&
            (connect(fd, (struct sockaddr *) &to, sizeof(to)) == 0 || errno == EINPROGRESS)) {
                int r = poll(&pfd, 1, PROBE_WAIT_MS);
                int err = 0;
                socklen_t len = sizeof(err);

                if (r == 0)
                        result = PROBE_SILENT;
                else if (r == 1 && getsockopt(fd, SOL_SOCKET, SO_ERROR, &err, &len) == 0 &&
                         (err == 0 || err == ECONNREFUSED))
                        result = PROBE_ANSWERED;
        }
        close(fd);
        return result;
}

/* The linked cell: its own namespace, 10.1.0.2 (inside the link's subnet)
 * and 10.50.0.2 (no link's) on v1; probes on command. No Check here. */
static G_GNUC_NORETURN void far_end(int commands, int answers) {
        Probe probe;
        uint8_t reply = unshare(CLONE_NEWNET) == 0;

        if (write(answers, &reply, 1) != 1 || !reply)
                _exit(1);
        while (read(commands, &probe, sizeof(probe)) == sizeof(probe)) {
                if (probe.source == 0)
                        reply = run_ip("addr add 10.1.0.2/24 dev v1") && run_ip("addr add 10.50.0.2/24 dev v1") &&
                                run_ip("link set v1 up") && run_ip("route add 10.200.0.0/24 dev v1")
                                ? PROBE_ANSWERED : PROBE_BROKEN;
                else
                        reply = probe_tcp(probe.source, probe.port);
                if (write(answers, &reply, 1) != 1)
                        _exit(1);
        }
        _exit(0);
}

typedef struct {
        pid_t pid;
        int commands;
        int answers;
} FarEnd;

static uint8_t far_end_ask(const FarEnd *far, const char *source, uint16_t port) {
        Probe probe = { .source = source ? address(source) : 0, .port = port };
        uint8_t reply = PROBE_BROKEN;

        ck_assert_int_eq(write(far->commands, &probe, sizeof(probe)), sizeof(probe));
        ck_assert_int_eq(read(far->answers, &reply, 1), 1);
        ck_assert_msg(reply != PROBE_BROKEN, "probe from %s to port %u could not be made", source, port);
        return reply;
}

#define assert_probe(far, source, port, expected) \
        ck_assert_msg(far_end_ask(far, source, port) == (expected), "from %s to port %u: expected %s", \
                      source, port, (expected) == PROBE_ANSWERED ? "an answer" : "silence")

START_TEST(test_packets)
{
        g_autoptr(NftRuleset) ruleset = make_ruleset(2, 0);
        g_autoptr(NftRuleset) closed = NULL;
        g_autoptr(NftRuleset) opened = NULL;
        g_autoptr(NftRuleset) elsewhere = NULL;
        FarEnd far;
        int to_far[2], from_far[2];
        uint8_t ready = 0;
        int status;

        if (!enter_private_netns())
                return;
        ck_assert_int_eq(pipe2(to_far, O_CLOEXEC), 0);
        ck_assert_int_eq(pipe2(from_far, O_CLOEXEC), 0);
        far.pid = fork();
        ck_assert_int_ge(far.pid, 0);
        if (far.pid == 0) {
                /* Only the test may hold the write end, or the far end never
                 * sees the end of its commands. */
                close(to_far[1]);
                close(from_far[0]);
                far_end(to_far[0], from_far[1]);
        }
        far.commands = to_far[1];
        far.answers = from_far[0];
        close(to_far[0]);
        close(from_far[1]);
        ck_assert_int_eq(read(far.answers, &ready, 1), 1);
        ck_assert_int_eq(ready, 1);

        {
                g_autofree char *veth = g_strdup_printf("link add v0 type veth peer name v1 netns %d", (int) far.pid);

                ck_assert(run_ip("link set lo up"));
                ck_assert(run_ip(veth));
                ck_assert(run_ip("addr add 10.200.0.1/24 dev v0"));
                ck_assert(run_ip("link set v0 up"));
                ck_assert(run_ip("route add 10.1.0.0/24 dev v0"));
                ck_assert(run_ip("route add 10.50.0.0/24 dev v0"));
        }
        ck_assert_int_eq(far_end_ask(&far, NULL, 0), PROBE_ANSWERED);

        /* The veth stands in for the WireGuard interface. */
        g_free(ruleset->interface);
        ruleset->interface = g_strdup("v0");
        nft_link_add_port(find_link(ruleset, "c000"), "tcp", 1000, address("10.200.0.1"));
        /* Each part of a service counts: the same port over UDP, or at
         * another of our addresses, opens nothing here; nor does what
         * another link is given. */
        nft_link_add_port(find_link(ruleset, "c000"), "udp", 1001, address("10.200.0.1"));
        nft_link_add_port(find_link(ruleset, "c000"), "tcp", 1002, address("10.200.0.9"));
        nft_link_add_port(find_link(ruleset, "c001"), "tcp", 1003, address("10.200.0.1"));
        assert_apply(NULL, ruleset);
        assert_probe(&far, "10.1.0.2", 1000, PROBE_ANSWERED);    /* shared */
        assert_probe(&far, "10.1.0.2", 51821, PROBE_ANSWERED);   /* peer-sync */
        assert_probe(&far, "10.1.0.2", 2000, PROBE_SILENT);      /* not shared */
        assert_probe(&far, "10.1.0.2", 1001, PROBE_SILENT);      /* shared over UDP only */
        assert_probe(&far, "10.1.0.2", 1002, PROBE_SILENT);      /* shared at another address */
        assert_probe(&far, "10.1.0.2", 1003, PROBE_SILENT);      /* shared with c001 only */
        assert_probe(&far, "10.50.0.2", 2000, PROBE_ANSWERED);   /* no link's: not ours to judge */

        /* Toggles, which only change the link's set. */
        closed = nft_ruleset_copy(ruleset);
        g_array_set_size(find_link(closed, "c000")->ports, 0);
        assert_apply(ruleset, closed);
        assert_probe(&far, "10.1.0.2", 1000, PROBE_SILENT);
        assert_probe(&far, "10.1.0.2", 51821, PROBE_ANSWERED);
        opened = nft_ruleset_copy(closed);
        nft_link_add_port(find_link(opened, "c000"), "tcp", 2000, address("10.200.0.1"));
        assert_apply(closed, opened);
        assert_probe(&far, "10.1.0.2", 2000, PROBE_ANSWERED);
        assert_probe(&far, "10.1.0.2", 1000, PROBE_SILENT);
        assert_apply(opened, ruleset);
        assert_probe(&far, "10.1.0.2", 1000, PROBE_ANSWERED);
        assert_probe(&far, "10.1.0.2", 2000, PROBE_SILENT);

        /* A linked cell's address from anywhere but the tunnel is a fake. */
        elsewhere = nft_ruleset_copy(ruleset);
        g_free(elsewhere->interface);
        elsewhere->interface = g_strdup("wg0");
        assert_apply(ruleset, elsewhere);
        assert_probe(&far, "10.1.0.2", 1000, PROBE_SILENT);
        assert_probe(&far, "10.50.0.2", 2000, PROBE_ANSWERED);

        ck_assert(nft_remove_table(NULL));
        assert_probe(&far, "10.1.0.2", 2000, PROBE_ANSWERED);

        close(far.commands);
        ck_assert_int_eq(waitpid(far.pid, &status, 0), far.pid);
        ck_assert(WIFEXITED(status) && WEXITSTATUS(status) == 0);
        close(far.answers);
}
END_TEST

Suite *unit_suite(void) {
        Suite *s = suite_create("nft");
        TCase *tc = tcase_create("model");

        tcase_add_test(tc, test_ruleset_copy);
        suite_add_tcase(s, tc);

        tc = tcase_create("kernel");
        /* A namespace, nft(8) runs and 100-link tables under the sanitizers. */
        tcase_set_timeout(tc, 60);
        tcase_add_loop_test(tc, test_invalid_arguments, 0, G_N_ELEMENTS(invalid_cases));
        tcase_add_test(tc, test_full_apply);
        tcase_add_test(tc, test_without_uplink);
        tcase_add_test(tc, test_apply_unchanged);
        tcase_add_test(tc, test_shared_links);
        tcase_add_test(tc, test_toggle_one_link);
        tcase_add_test(tc, test_duplicate_ports);
        tcase_add_test(tc, test_exit_sources_change);
        tcase_add_test(tc, test_masquerade_change);
        tcase_add_test(tc, test_add_and_remove_link);
        tcase_add_test(tc, test_subnet_change);
        tcase_add_test(tc, test_global_change_rebuilds);
        tcase_add_test(tc, test_table_vanished);
        tcase_add_test(tc, test_table_edited);
        tcase_add_test(tc, test_foreign_table_untouched);
        tcase_add_test(tc, test_remove_table);
        tcase_add_test(tc, test_kernel_error);
        tcase_add_test(tc, test_packets);
        suite_add_tcase(s, tc);
        return s;
}
