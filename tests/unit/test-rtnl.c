/* test-rtnl.c: rtnetlink links, addresses, routes and rules against the real kernel, each test in its own network namespace. */
#include <errno.h>
#include <net/if.h>
#include <sched.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <unistd.h>
#include <arpa/inet.h>
#include <libmnl/libmnl.h>
#include <linux/if_link.h>
#include <linux/rtnetlink.h>
#include <linux/veth.h>

#include "netaddr.h"
#include "pic-error.h"
#include "rtnl.h"
#include "unit-main.h"

#define TABLE 1234
#define VETH "pic0"
#define VETH_PEER "pic1"

/* Check runs each test in a child of its own, so the namespace dies with it
 * and the host's network is never touched. */
static bool enter_private_netns(void) {
        if (geteuid() != 0) {
                fprintf(stderr, "# skipped: network namespaces need root\n");
                return false;
        }
        if (unshare(CLONE_NEWNET) < 0) {
                ck_assert_msg(errno == EPERM, "unshare(CLONE_NEWNET): %s", g_strerror(errno));
                fprintf(stderr, "# skipped: no permission for a network namespace\n");
                return false;
        }
        return true;
}

/* Sends one request asking for an ACK and fails the test unless it comes back clean. */
static void netlink_request(struct nlmsghdr *nlh) {
        char buf[8192];
        struct mnl_socket *nl;
        unsigned portid;
        ssize_t n;
        int r;

        nlh->nlmsg_flags |= NLM_F_REQUEST | NLM_F_ACK;
        nlh->nlmsg_seq = 4711;
        nl = mnl_socket_open(NETLINK_ROUTE);
        ck_assert_ptr_nonnull(nl);
        ck_assert_int_eq(mnl_socket_bind(nl, 0, MNL_SOCKET_AUTOPID), 0);
        portid = mnl_socket_get_portid(nl);
        ck_assert_int_ge(mnl_socket_sendto(nl, nlh, nlh->nlmsg_len), 0);
        do {
                n = mnl_socket_recvfrom(nl, buf, sizeof(buf));
                ck_assert_int_gt(n, 0);
                r = mnl_cb_run(buf, (size_t) n, nlh->nlmsg_seq, portid, NULL, NULL);
                ck_assert_msg(r >= 0, "netlink request %u failed: %s", nlh->nlmsg_type, g_strerror(errno));
        } while (r > 0);
        mnl_socket_close(nl);
}

/* A veth pair stands in for the WireGuard interface: the dummy module is not
 * always there, veth is. */
static int create_veth(void) {
        char buf[1024];
        struct nlmsghdr *nlh = mnl_nlmsg_put_header(buf);
        struct ifinfomsg *ifi;
        struct nlattr *linkinfo, *info_data, *peer;
        int ifindex = -1;

        nlh->nlmsg_type = RTM_NEWLINK;
        nlh->nlmsg_flags = NLM_F_CREATE | NLM_F_EXCL;
        ifi = mnl_nlmsg_put_extra_header(nlh, sizeof(*ifi));
        ifi->ifi_family = AF_UNSPEC;
        mnl_attr_put_strz(nlh, IFLA_IFNAME, VETH);
        linkinfo = mnl_attr_nest_start(nlh, IFLA_LINKINFO);
        mnl_attr_put_strz(nlh, IFLA_INFO_KIND, "veth");
        info_data = mnl_attr_nest_start(nlh, IFLA_INFO_DATA);
        peer = mnl_attr_nest_start(nlh, VETH_INFO_PEER);
        ifi = mnl_nlmsg_put_extra_header(nlh, sizeof(*ifi));
        ifi->ifi_family = AF_UNSPEC;
        mnl_attr_put_strz(nlh, IFLA_IFNAME, VETH_PEER);
        mnl_attr_nest_end(nlh, peer);
        mnl_attr_nest_end(nlh, info_data);
        mnl_attr_nest_end(nlh, linkinfo);
        netlink_request(nlh);

        ck_assert(rtnl_link_index(VETH, &ifindex, NULL));
        ck_assert_int_gt(ifindex, 0);
        return ifindex;
}

/* Someone else's route: the service must neither list nor remove it. */
static void add_foreign_route(const char *destination, uint32_t table, int ifindex) {
        char buf[1024];
        struct nlmsghdr *nlh = mnl_nlmsg_put_header(buf);
        struct rtmsg *rtm;
        Ipv4Prefix prefix;

        ck_assert(netaddr_parse_prefix(destination, true, &prefix, NULL));
        nlh->nlmsg_type = RTM_NEWROUTE;
        nlh->nlmsg_flags = NLM_F_CREATE | NLM_F_EXCL;
        rtm = mnl_nlmsg_put_extra_header(nlh, sizeof(*rtm));
        rtm->rtm_family = AF_INET;
        rtm->rtm_dst_len = (unsigned char) prefix.prefixlen;
        rtm->rtm_protocol = RTPROT_STATIC;
        rtm->rtm_scope = RT_SCOPE_LINK;
        rtm->rtm_type = RTN_UNICAST;
        rtm->rtm_table = RT_TABLE_UNSPEC;
        mnl_attr_put_u32(nlh, RTA_TABLE, table);
        mnl_attr_put_u32(nlh, RTA_DST, htonl(prefix.address));
        mnl_attr_put_u32(nlh, RTA_OIF, (uint32_t) ifindex);
        netlink_request(nlh);
}

static int link_ioctl(unsigned long request, struct ifreq *ifr) {
        int fd = socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);
        int r;

        ck_assert_int_ge(fd, 0);
        g_strlcpy(ifr->ifr_name, VETH, sizeof(ifr->ifr_name));
        r = ioctl(fd, request, ifr);
        close(fd);
        return r;
}

static Ipv4Prefix prefix_of(const char *text) {
        Ipv4Prefix prefix;

        ck_assert_msg(netaddr_parse_prefix(text, true, &prefix, NULL), "bad prefix in test: %s", text);
        return prefix;
}

static uint32_t address_of(const char *text) {
        uint32_t address;

        ck_assert_msg(netaddr_parse_address(text, &address, NULL), "bad address in test: %s", text);
        return address;
}

static void assert_failed(GError *error, const char *fragment) {
        ck_assert_ptr_nonnull(error);
        ck_assert_msg(g_error_matches(error, PIC_ERROR, PIC_ERROR_FAILED), "wrong error: %s", error->message);
        ck_assert_msg(strstr(error->message, fragment), "'%s' not in: %s", fragment, error->message);
}

/* The one look at the kernel's state from outside our own code. */
static char *ip_route_show(const char *table) {
        const char *argv[] = { "ip", "-4", "route", "show", "table", table, NULL };
        g_autoptr(GError) error = NULL;
        g_autofree char *out = NULL;
        int status = 0;

        ck_assert_msg(g_spawn_sync(NULL, (char **) argv, NULL, G_SPAWN_SEARCH_PATH | G_SPAWN_STDERR_TO_DEV_NULL,
                                   NULL, NULL, &out, NULL, &status, &error),
                      "ip: %s", error ? error->message : "");
        ck_assert(g_spawn_check_wait_status(status, NULL));
        return g_steal_pointer(&out);
}

static bool has_line(const char *text, const char *line) {
        g_auto(GStrv) lines = g_strsplit(text, "\n", -1);

        for (char **l = lines; *l; l++)
                if (g_str_equal(g_strstrip(*l), line))
                        return true;
        return false;
}

static const RtnlRoute *find_route(GArray *routes, const char *destination) {
        Ipv4Prefix prefix = prefix_of(destination);

        for (unsigned i = 0; i < routes->len; i++) {
                const RtnlRoute *r = &g_array_index(routes, RtnlRoute, i);

                if (r->destination.address == prefix.address && r->destination.prefixlen == prefix.prefixlen)
                        return r;
        }
        return NULL;
}

static GArray *list_routes(uint32_t table) {
        g_autoptr(GError) error = NULL;
        GArray *routes = NULL;

        ck_assert_msg(rtnl_route_list(table, &routes, &error), "%s", error ? error->message : "");
        return routes;
}

static GArray *list_rules(uint32_t min, uint32_t max) {
        g_autoptr(GError) error = NULL;
        GArray *rules = NULL;

        ck_assert_msg(rtnl_rule_list(min, max, &rules, &error), "%s", error ? error->message : "");
        return rules;
}

static bool has_rule(GArray *rules, const char *source, uint32_t table, uint32_t priority) {
        Ipv4Prefix prefix = prefix_of(source);

        for (unsigned i = 0; i < rules->len; i++) {
                const RtnlRule *r = &g_array_index(rules, RtnlRule, i);

                if (r->source.address == prefix.address && r->source.prefixlen == prefix.prefixlen &&
                    r->table == table && r->priority == priority)
                        return true;
        }
        return false;
}

START_TEST(test_link_index) {
        static const struct {
                const char *name;
                bool exists;
        } cases[] = {
                { "lo", true },
                { VETH, true },
                { VETH_PEER, true },
                { "pic9", false },
                { "", false },
                { "abcdefghijklmnopq", false },         /* longer than any interface name */
        };
        int ifindex;

        if (!enter_private_netns())
                return;
        create_veth();

        for (size_t i = 0; i < G_N_ELEMENTS(cases); i++) {
                g_autoptr(GError) error = NULL;

                ifindex = -1;
                ck_assert_msg(rtnl_link_index(cases[i].name, &ifindex, &error), "%s: %s", cases[i].name,
                              error ? error->message : "");
                if (cases[i].exists)
                        ck_assert_int_eq(ifindex, (int) if_nametoindex(cases[i].name));
                else
                        ck_assert_int_eq(ifindex, 0);
        }
        ck_assert(rtnl_link_index("lo", &ifindex, NULL));
        ck_assert_int_eq(ifindex, 1);
}
END_TEST

START_TEST(test_link_up_and_mtu) {
        g_autoptr(GError) error = NULL;
        struct ifreq ifr = {};
        int ifindex;

        if (!enter_private_netns())
                return;
        ifindex = create_veth();

        ck_assert_int_eq(link_ioctl(SIOCGIFFLAGS, &ifr), 0);
        ck_assert(!(ifr.ifr_flags & IFF_UP));
        ck_assert(rtnl_link_set_up(ifindex, NULL));
        ck_assert(rtnl_link_set_up(ifindex, NULL));
        ck_assert_int_eq(link_ioctl(SIOCGIFFLAGS, &ifr), 0);
        ck_assert(ifr.ifr_flags & IFF_UP);

        ck_assert(rtnl_link_set_mtu(ifindex, 1420, NULL));
        ck_assert_int_eq(link_ioctl(SIOCGIFMTU, &ifr), 0);
        ck_assert_int_eq(ifr.ifr_mtu, 1420);

        ck_assert(!rtnl_link_set_mtu(ifindex, 10, &error));
        assert_failed(error, "Failed to set MTU 10 on " VETH);
        g_clear_error(&error);

        ck_assert(!rtnl_link_set_up(9999, &error));
        assert_failed(error, "Failed to set link ifindex 9999 up: ");
        ck_assert_ptr_nonnull(strstr(error->message, g_strerror(ENODEV)));
}
END_TEST

START_TEST(test_addresses) {
        static const char *const ours[] = { "10.1.2.1/24", "10.1.3.7/32" };
        g_autoptr(GError) error = NULL;
        g_autoptr(GArray) addresses = NULL;
        Ipv4Prefix prefix;
        int ifindex;

        if (!enter_private_netns())
                return;
        ifindex = create_veth();
        ck_assert(rtnl_link_set_up(ifindex, NULL));

        for (size_t i = 0; i < G_N_ELEMENTS(ours); i++) {
                prefix = prefix_of(ours[i]);
                /* the second time finds it there, which is what we wanted */
                ck_assert_msg(rtnl_address_add(ifindex, &prefix, &error), "%s", error ? error->message : "");
                ck_assert_msg(rtnl_address_add(ifindex, &prefix, &error), "%s", error ? error->message : "");
        }

        ck_assert(rtnl_address_list(ifindex, &addresses, &error));
        ck_assert_uint_eq(addresses->len, G_N_ELEMENTS(ours));
        for (size_t i = 0; i < G_N_ELEMENTS(ours); i++) {
                g_autofree char *text = netaddr_format_prefix(&g_array_index(addresses, Ipv4Prefix, i));

                ck_assert_str_eq(text, ours[i]);
        }
        g_clear_pointer(&addresses, g_array_unref);

        /* lo's 127.0.0.1 belongs to another interface */
        ck_assert(rtnl_link_set_up(1, NULL));
        ck_assert(rtnl_address_list(1, &addresses, &error));
        ck_assert_uint_eq(addresses->len, 1);
        ck_assert_uint_eq(g_array_index(addresses, Ipv4Prefix, 0).address, address_of("127.0.0.1"));
        g_clear_pointer(&addresses, g_array_unref);

        prefix = prefix_of(ours[0]);
        ck_assert_msg(rtnl_address_del(ifindex, &prefix, &error), "%s", error ? error->message : "");
        ck_assert_msg(rtnl_address_del(ifindex, &prefix, &error), "%s", error ? error->message : "");
        ck_assert(rtnl_address_list(ifindex, &addresses, &error));
        ck_assert_uint_eq(addresses->len, 1);
        ck_assert_uint_eq(g_array_index(addresses, Ipv4Prefix, 0).address, address_of("10.1.3.7"));
        g_clear_pointer(&addresses, g_array_unref);

        prefix = prefix_of("10.1.4.1/24");
        ck_assert(!rtnl_address_add(9999, &prefix, &error));
        assert_failed(error, "Failed to add address 10.1.4.1/24 to ifindex 9999: ");
}
END_TEST

START_TEST(test_routes) {
        g_autoptr(GError) error = NULL;
        g_autoptr(GArray) routes = NULL;
        g_autofree char *shown = NULL;
        g_autofree char *expected = NULL;
        Ipv4Prefix address = prefix_of("10.1.2.1/24");
        RtnlRoute main_route, via, direct, foreign, broken;
        const RtnlRoute *found;
        int ifindex;

        if (!enter_private_netns())
                return;
        ifindex = create_veth();
        ck_assert(rtnl_link_set_up(ifindex, NULL));
        /* with its peer down the link has no carrier and `ip` says "linkdown" */
        ck_assert(rtnl_link_set_up((int) if_nametoindex(VETH_PEER), NULL));
        ck_assert(rtnl_address_add(ifindex, &address, NULL));

        main_route = (RtnlRoute) { .destination = prefix_of("10.20.0.0/16"), .table = RTNL_TABLE_MAIN,
                                   .ifindex = ifindex };
        via = (RtnlRoute) { .destination = prefix_of("10.30.0.0/16"), .table = TABLE, .has_gateway = true,
                            .gateway = address_of("10.1.2.254"), .ifindex = ifindex };
        /* host bits in the destination are cleared, not refused */
        direct = (RtnlRoute) { .destination = prefix_of("10.31.0.9/24"), .table = TABLE, .ifindex = ifindex };
        foreign = (RtnlRoute) { .destination = prefix_of("10.9.0.0/16"), .table = TABLE, .ifindex = ifindex };

        ck_assert_msg(rtnl_route_add(&main_route, &error), "%s", error ? error->message : "");
        ck_assert_msg(rtnl_route_add(&via, &error), "%s", error ? error->message : "");
        ck_assert_msg(rtnl_route_add(&direct, &error), "%s", error ? error->message : "");
        ck_assert_msg(rtnl_route_add(&direct, &error), "%s", error ? error->message : "");
        add_foreign_route("10.9.0.0/16", TABLE, ifindex);

        /* main holds the kernel's own connected route too: only ours is listed */
        routes = list_routes(RTNL_TABLE_MAIN);
        ck_assert_uint_eq(routes->len, 1);
        found = find_route(routes, "10.20.0.0/16");
        ck_assert_ptr_nonnull(found);
        ck_assert_uint_eq(found->table, RTNL_TABLE_MAIN);
        ck_assert(!found->has_gateway);
        ck_assert_int_eq(found->ifindex, ifindex);
        g_clear_pointer(&routes, g_array_unref);

        routes = list_routes(TABLE);
        ck_assert_uint_eq(routes->len, 2);
        found = find_route(routes, "10.30.0.0/16");
        ck_assert_ptr_nonnull(found);
        ck_assert_uint_eq(found->table, TABLE);
        ck_assert(found->has_gateway);
        ck_assert_uint_eq(found->gateway, address_of("10.1.2.254"));
        ck_assert_int_eq(found->ifindex, ifindex);
        found = find_route(routes, "10.31.0.0/24");
        ck_assert_ptr_nonnull(found);
        ck_assert(!found->has_gateway);
        ck_assert_ptr_null(find_route(routes, "10.9.0.0/16"));
        g_clear_pointer(&routes, g_array_unref);

        /* adding again with another gateway replaces, it does not add a second */
        via.gateway = address_of("10.1.2.253");
        ck_assert_msg(rtnl_route_add(&via, &error), "%s", error ? error->message : "");
        routes = list_routes(TABLE);
        ck_assert_uint_eq(routes->len, 2);
        found = find_route(routes, "10.30.0.0/16");
        ck_assert_ptr_nonnull(found);
        ck_assert_uint_eq(found->gateway, address_of("10.1.2.253"));
        g_clear_pointer(&routes, g_array_unref);

        /* our delete of the foreign destination matches on our protocol only */
        ck_assert_msg(rtnl_route_del(&foreign, &error), "%s", error ? error->message : "");

        shown = ip_route_show("1234");
        expected = g_strdup_printf("10.30.0.0/16 via 10.1.2.253 dev " VETH " proto %d", RTNL_PROTO_PIC);
        ck_assert_msg(has_line(shown, expected), "'%s' not in:\n%s", expected, shown);
        g_free(expected);
        expected = g_strdup_printf("10.31.0.0/24 dev " VETH " proto %d scope link", RTNL_PROTO_PIC);
        ck_assert_msg(has_line(shown, expected), "'%s' not in:\n%s", expected, shown);
        ck_assert_msg(has_line(shown, "10.9.0.0/16 dev " VETH " proto static scope link"), "foreign route gone:\n%s",
                      shown);
        g_clear_pointer(&shown, g_free);

        ck_assert_msg(rtnl_route_del(&via, &error), "%s", error ? error->message : "");
        ck_assert_msg(rtnl_route_del(&via, &error), "%s", error ? error->message : "");
        ck_assert_msg(rtnl_route_del(&direct, &error), "%s", error ? error->message : "");
        ck_assert_msg(rtnl_route_del(&main_route, &error), "%s", error ? error->message : "");
        routes = list_routes(TABLE);
        ck_assert_uint_eq(routes->len, 0);
        g_clear_pointer(&routes, g_array_unref);
        routes = list_routes(RTNL_TABLE_MAIN);
        ck_assert_uint_eq(routes->len, 0);

        shown = ip_route_show("1234");
        ck_assert_msg(has_line(shown, "10.9.0.0/16 dev " VETH " proto static scope link"), "foreign route gone:\n%s",
                      shown);

        /* a gateway that is not on-link */
        broken = (RtnlRoute) { .destination = prefix_of("10.40.0.0/16"), .table = TABLE, .has_gateway = true,
                               .gateway = address_of("192.0.2.1"), .ifindex = ifindex };
        ck_assert(!rtnl_route_add(&broken, &error));
        assert_failed(error, "Failed to add route 10.40.0.0/16 via 192.0.2.1 dev " VETH " table 1234: ");
        g_clear_error(&error);

        broken = (RtnlRoute) { .destination = prefix_of("10.40.0.0/16"), .table = TABLE, .ifindex = 9999 };
        ck_assert(!rtnl_route_add(&broken, &error));
        assert_failed(error, "Failed to add route 10.40.0.0/16 dev ifindex 9999 table 1234: ");
}
END_TEST

START_TEST(test_rules) {
        static const struct {
                const char *source;
                uint32_t table;
                uint32_t priority;
                bool in_range;
        } rules[] = {
                { "10.1.2.5/32", TABLE, 31000, true },
                { "10.1.2.0/24", TABLE + 1, 31999, true },
                { "10.1.2.6/32", 200, 31500, true },            /* a table id that fits the header */
                { "10.1.2.7/32", TABLE, 30999, false },
                { "10.1.2.8/32", TABLE, 32000, false },
        };
        g_autoptr(GError) error = NULL;
        g_autoptr(GArray) listed = NULL;
        RtnlRule rule;

        if (!enter_private_netns())
                return;

        for (size_t i = 0; i < G_N_ELEMENTS(rules); i++) {
                rule = (RtnlRule) { .source = prefix_of(rules[i].source), .table = rules[i].table,
                                    .priority = rules[i].priority };
                ck_assert_msg(rtnl_rule_add(&rule, &error), "%s", error ? error->message : "");
                ck_assert_msg(rtnl_rule_add(&rule, &error), "%s", error ? error->message : "");
        }

        /* each added once, the kernel's own rules (0, 32766, 32767) left out */
        listed = list_rules(31000, 31999);
        ck_assert_uint_eq(listed->len, 3);
        for (size_t i = 0; i < G_N_ELEMENTS(rules); i++)
                ck_assert_msg(has_rule(listed, rules[i].source, rules[i].table, rules[i].priority) == rules[i].in_range,
                              "rule %zu", i);
        g_clear_pointer(&listed, g_array_unref);

        listed = list_rules(0, G_MAXUINT32);
        ck_assert_uint_eq(listed->len, G_N_ELEMENTS(rules) + 3);
        ck_assert(has_rule(listed, "0.0.0.0/0", RTNL_TABLE_MAIN, 32766));
        g_clear_pointer(&listed, g_array_unref);

        for (size_t i = 0; i < G_N_ELEMENTS(rules); i++) {
                if (!rules[i].in_range)
                        continue;
                rule = (RtnlRule) { .source = prefix_of(rules[i].source), .table = rules[i].table,
                                    .priority = rules[i].priority };
                ck_assert_msg(rtnl_rule_del(&rule, &error), "%s", error ? error->message : "");
                ck_assert_msg(rtnl_rule_del(&rule, &error), "%s", error ? error->message : "");
        }

        listed = list_rules(31000, 31999);
        ck_assert_uint_eq(listed->len, 0);
        g_clear_pointer(&listed, g_array_unref);
        listed = list_rules(30000, 32000);
        ck_assert_uint_eq(listed->len, 2);
        ck_assert(has_rule(listed, "10.1.2.7/32", TABLE, 30999));
        ck_assert(has_rule(listed, "10.1.2.8/32", TABLE, 32000));
}
END_TEST

Suite *unit_suite(void) {
        Suite *s = suite_create("rtnl");
        TCase *tc = tcase_create("kernel");

        tcase_add_test(tc, test_link_index);
        tcase_add_test(tc, test_link_up_and_mtu);
        tcase_add_test(tc, test_addresses);
        tcase_add_test(tc, test_routes);
        tcase_add_test(tc, test_rules);
        suite_add_tcase(s, tc);
        return s;
}
