/* rtnl.c: links, IPv4 addresses, routes and rules over rtnetlink (libmnl), one socket per request. */
#include <errno.h>
#include <net/if.h>
#include <string.h>
#include <sys/socket.h>
#include <arpa/inet.h>
#include <libmnl/libmnl.h>
#include <linux/fib_rules.h>
#include <linux/netlink.h>
#include <linux/rtnetlink.h>

#include "pic-error.h"
#include "rtnl.h"

/* Big enough that the kernel never has to truncate a dump message: it sizes
 * its dump buffers after the receive buffers it has seen. */
#define RTNL_RECV_SIZE 32768
/* Our requests carry a header and a handful of attributes. */
#define RTNL_REQUEST_SIZE 1024

typedef struct mnl_socket MnlSocket;
G_DEFINE_AUTOPTR_CLEANUP_FUNC(MnlSocket, mnl_socket_close)

typedef struct {
        mnl_cb_t parse;              /* for the data messages of a dump or get */
        void *parse_data;
        char *extack;                /* the kernel's own words on a failure */
} Request;

typedef struct {
        const struct nlattr **tb;
        uint16_t max;
} AttrTable;

static int request_data_cb(const struct nlmsghdr *nlh, void *data) {
        Request *request = data;

        if (!request->parse)
                return MNL_CB_OK;
        return request->parse(nlh, request->parse_data);
}

/* Like libmnl's own handling of NLMSG_ERROR, but it keeps the extended ack
 * message: "Nexthop device is not up" says more to an admin than errno. */
static int request_error_cb(const struct nlmsghdr *nlh, void *data) {
        Request *request = data;
        const struct nlmsgerr *err;
        const struct nlattr *attr;
        size_t offset;

        if (mnl_nlmsg_get_payload_len(nlh) < sizeof(struct nlmsgerr)) {
                errno = EBADMSG;
                return MNL_CB_ERROR;
        }
        err = mnl_nlmsg_get_payload(nlh);
        if (err->error == 0)
                return MNL_CB_STOP;

        offset = sizeof(struct nlmsgerr);
        if (!(nlh->nlmsg_flags & NLM_F_CAPPED) && err->msg.nlmsg_len >= sizeof(struct nlmsghdr))
                offset += err->msg.nlmsg_len - sizeof(struct nlmsghdr);
        if ((nlh->nlmsg_flags & NLM_F_ACK_TLVS) && offset <= mnl_nlmsg_get_payload_len(nlh))
                mnl_attr_for_each(attr, nlh, offset) {
                        if (mnl_attr_get_type(attr) != NLMSGERR_ATTR_MSG ||
                            mnl_attr_validate(attr, MNL_TYPE_NUL_STRING) < 0)
                                continue;
                        g_free(request->extack);
                        request->extack = g_strdup(mnl_attr_get_str(attr));
                }

        errno = err->error < 0 ? -err->error : EPROTO;
        return MNL_CB_ERROR;
}

/* Handing libmnl a control table replaces all its defaults, so the end of a
 * dump is ours to see too. A dump the kernel gave up on says why here. */
static int request_done_cb(const struct nlmsghdr *nlh, void *data) {
        const int *error;

        if (mnl_nlmsg_get_payload_len(nlh) >= sizeof(int)) {
                error = mnl_nlmsg_get_payload(nlh);
                if (*error < 0) {
                        errno = -*error;
                        return MNL_CB_ERROR;
                }
        }
        return MNL_CB_STOP;
}

static int request_overrun_cb(const struct nlmsghdr *nlh, void *data) {
        errno = ENOSPC;
        return MNL_CB_ERROR;
}

static int attr_table_cb(const struct nlattr *attr, void *data) {
        AttrTable *table = data;
        uint16_t type = mnl_attr_get_type(attr);

        if (type <= table->max)
                table->tb[type] = attr;
        return MNL_CB_OK;
}

static void parse_attrs(const struct nlmsghdr *nlh, size_t header, const struct nlattr **tb, uint16_t max) {
        AttrTable table = { .tb = tb, .max = max };

        (void) mnl_attr_parse(nlh, (unsigned) header, attr_table_cb, &table);
}

static bool attr_u32(const struct nlattr *attr, uint32_t *ret) {
        if (!attr || mnl_attr_get_payload_len(attr) != sizeof(uint32_t))
                return false;
        *ret = mnl_attr_get_u32(attr);
        return true;
}

/* IPv4 addresses travel in network byte order; we keep host order. */
static bool attr_in_addr(const struct nlattr *attr, uint32_t *ret) {
        uint32_t be;

        if (!attr_u32(attr, &be))
                return false;
        *ret = ntohl(be);
        return true;
}

static void put_in_addr(struct nlmsghdr *nlh, uint16_t type, uint32_t address) {
        mnl_attr_put_u32(nlh, type, htonl(address));
}

static int errno_or(int fallback) {
        return errno > 0 ? -errno : -fallback;
}

/* Sends @nlh (which must ask for an ACK or be a dump) and reads until the
 * ACK, the end of the dump or an error. Returns 0 or a negative errno; on
 * failure the kernel's message, if any, goes to @ret_extack. */
static int rtnl_transact(struct nlmsghdr *nlh, mnl_cb_t parse, void *parse_data, char **ret_extack) {
        static int counter;
        g_autoptr(MnlSocket) nl = NULL;
        g_autofree char *buf = NULL;
        mnl_cb_t ctl[NLMSG_MIN_TYPE] = {};
        Request request = { .parse = parse, .parse_data = parse_data };
        unsigned portid, seq;
        int one = 1, r;

        ctl[NLMSG_ERROR] = request_error_cb;
        ctl[NLMSG_DONE] = request_done_cb;
        ctl[NLMSG_OVERRUN] = request_overrun_cb;

        nl = mnl_socket_open2(NETLINK_ROUTE, SOCK_CLOEXEC);
        if (!nl)
                return errno_or(EIO);
        /* Older kernels lack these; then we only lose the extended message. */
        (void) mnl_socket_setsockopt(nl, NETLINK_CAP_ACK, &one, sizeof(one));
        (void) mnl_socket_setsockopt(nl, NETLINK_EXT_ACK, &one, sizeof(one));
        if (mnl_socket_bind(nl, 0, MNL_SOCKET_AUTOPID) < 0)
                return errno_or(EIO);
        portid = mnl_socket_get_portid(nl);

        /* Sequence numbers only need to tell our replies from stale ones. */
        seq = (unsigned) g_atomic_int_add(&counter, 1) + (unsigned) g_get_real_time();
        if (seq == 0)
                seq = 1;
        nlh->nlmsg_seq = seq;
        if (mnl_socket_sendto(nl, nlh, nlh->nlmsg_len) < 0)
                return errno_or(EIO);

        buf = g_malloc(RTNL_RECV_SIZE);
        for (;;) {
                ssize_t n = mnl_socket_recvfrom(nl, buf, RTNL_RECV_SIZE);

                if (n < 0) {
                        if (errno == EINTR)
                                continue;
                        r = errno_or(EIO);
                        break;
                }
                errno = 0;
                r = mnl_cb_run2(buf, (size_t) n, seq, portid, request_data_cb, &request, ctl, NLMSG_MIN_TYPE);
                if (r < 0) {
                        r = errno_or(EPROTO);
                        break;
                }
                if (r == MNL_CB_STOP) {
                        r = 0;
                        break;
                }
        }

        if (r < 0 && ret_extack)
                *ret_extack = g_steal_pointer(&request.extack);
        g_free(request.extack);
        return r;
}

/* A dump that the kernel reports as interrupted (NLM_F_DUMP_INTR, EINTR
 * from libmnl) saw a table change under it; it is simply taken again. */
static int rtnl_dump(struct nlmsghdr *nlh, mnl_cb_t parse, void *parse_data, GArray *result,
                     char **ret_extack) {
        int r = 0;

        for (unsigned attempt = 0; attempt < 5; attempt++) {
                g_array_set_size(result, 0);
                g_clear_pointer(ret_extack, g_free);
                r = rtnl_transact(nlh, parse, parse_data, ret_extack);
                if (r != -EINTR)
                        break;
        }
        return r;
}

static struct nlmsghdr *put_request(char *buf, uint16_t type, uint16_t flags) {
        struct nlmsghdr *nlh = mnl_nlmsg_put_header(buf);

        nlh->nlmsg_type = type;
        nlh->nlmsg_flags = NLM_F_REQUEST | flags;
        return nlh;
}

static char *link_name(int ifindex) {
        char name[IF_NAMESIZE];

        if (ifindex > 0 && if_indextoname((unsigned) ifindex, name))
                return g_strdup(name);
        return g_strdup_printf("ifindex %d", ifindex);
}

static bool fail(GError **error, int r, const char *extack, const char *format, ...) G_GNUC_PRINTF(4, 5);

static bool fail(GError **error, int r, const char *extack, const char *format, ...) {
        g_autofree char *what = NULL;
        va_list ap;

        va_start(ap, format);
        what = g_strdup_vprintf(format, ap);
        va_end(ap);

        if (extack && *extack)
                g_set_error(error, PIC_ERROR, PIC_ERROR_FAILED, "%s: %s (%s)", what, g_strerror(-r), extack);
        else
                g_set_error(error, PIC_ERROR, PIC_ERROR_FAILED, "%s: %s", what, g_strerror(-r));
        return false;
}

/* -------- links -------- */

static int link_index_cb(const struct nlmsghdr *nlh, void *data) {
        int *ifindex = data;
        const struct ifinfomsg *ifi;

        if (nlh->nlmsg_type != RTM_NEWLINK || mnl_nlmsg_get_payload_len(nlh) < sizeof(*ifi))
                return MNL_CB_OK;
        ifi = mnl_nlmsg_get_payload(nlh);
        *ifindex = ifi->ifi_index;
        return MNL_CB_OK;
}

bool rtnl_link_index(const char *ifname, int *ret_ifindex, GError **error) {
        char buf[RTNL_REQUEST_SIZE];
        g_autofree char *extack = NULL;
        struct nlmsghdr *nlh;
        struct ifinfomsg *ifi;
        int ifindex = 0, r;

        g_return_val_if_fail(ifname, false);
        g_return_val_if_fail(ret_ifindex, false);

        /* A name the kernel could never have given is simply not there. */
        if (ifname[0] == '\0' || strlen(ifname) >= IF_NAMESIZE) {
                *ret_ifindex = 0;
                return true;
        }

        nlh = put_request(buf, RTM_GETLINK, NLM_F_ACK);
        ifi = mnl_nlmsg_put_extra_header(nlh, sizeof(*ifi));
        ifi->ifi_family = AF_UNSPEC;
        mnl_attr_put_strz(nlh, IFLA_IFNAME, ifname);

        r = rtnl_transact(nlh, link_index_cb, &ifindex, &extack);
        if (r == -ENODEV) {
                *ret_ifindex = 0;
                return true;
        }
        if (r < 0)
                return fail(error, r, extack, "Failed to look up interface %s", ifname);

        *ret_ifindex = ifindex;
        return true;
}

static int link_change(int ifindex, unsigned flags, unsigned change, const uint32_t *mtu, char **ret_extack) {
        char buf[RTNL_REQUEST_SIZE];
        struct nlmsghdr *nlh;
        struct ifinfomsg *ifi;

        nlh = put_request(buf, RTM_NEWLINK, NLM_F_ACK);
        ifi = mnl_nlmsg_put_extra_header(nlh, sizeof(*ifi));
        ifi->ifi_family = AF_UNSPEC;
        ifi->ifi_index = ifindex;
        ifi->ifi_flags = flags;
        ifi->ifi_change = change;
        if (mtu)
                mnl_attr_put_u32(nlh, IFLA_MTU, *mtu);

        return rtnl_transact(nlh, NULL, NULL, ret_extack);
}

bool rtnl_link_set_up(int ifindex, GError **error) {
        g_autofree char *extack = NULL;
        int r;

        r = link_change(ifindex, IFF_UP, IFF_UP, NULL, &extack);
        if (r < 0) {
                g_autofree char *name = link_name(ifindex);

                return fail(error, r, extack, "Failed to set link %s up", name);
        }
        return true;
}

bool rtnl_link_set_mtu(int ifindex, uint32_t mtu, GError **error) {
        g_autofree char *extack = NULL;
        int r;

        r = link_change(ifindex, 0, 0, &mtu, &extack);
        if (r < 0) {
                g_autofree char *name = link_name(ifindex);

                return fail(error, r, extack, "Failed to set MTU %" G_GUINT32_FORMAT " on %s", mtu, name);
        }
        return true;
}

/* -------- addresses -------- */

typedef struct {
        int ifindex;
        GArray *addresses;
} AddressDump;

static int address_cb(const struct nlmsghdr *nlh, void *data) {
        AddressDump *dump = data;
        const struct nlattr *tb[IFA_MAX + 1] = {};
        const struct ifaddrmsg *ifa;
        Ipv4Prefix prefix;

        if (nlh->nlmsg_type != RTM_NEWADDR || mnl_nlmsg_get_payload_len(nlh) < sizeof(*ifa))
                return MNL_CB_OK;
        ifa = mnl_nlmsg_get_payload(nlh);
        if (ifa->ifa_family != AF_INET || (int) ifa->ifa_index != dump->ifindex || ifa->ifa_prefixlen > 32)
                return MNL_CB_OK;

        parse_attrs(nlh, sizeof(*ifa), tb, IFA_MAX);
        /* IFA_LOCAL is the interface's own address; IFA_ADDRESS differs from
         * it only on point-to-point links, where it names the far end. */
        if (!attr_in_addr(tb[IFA_LOCAL], &prefix.address) && !attr_in_addr(tb[IFA_ADDRESS], &prefix.address))
                return MNL_CB_OK;
        prefix.prefixlen = ifa->ifa_prefixlen;
        g_array_append_val(dump->addresses, prefix);
        return MNL_CB_OK;
}

bool rtnl_address_list(int ifindex, GArray **ret_addresses, GError **error) {
        char buf[RTNL_REQUEST_SIZE];
        g_autoptr(GArray) addresses = g_array_new(false, false, sizeof(Ipv4Prefix));
        g_autofree char *extack = NULL;
        AddressDump dump = { .ifindex = ifindex, .addresses = addresses };
        struct nlmsghdr *nlh;
        struct ifaddrmsg *ifa;
        int r;

        g_return_val_if_fail(ret_addresses, false);

        nlh = put_request(buf, RTM_GETADDR, NLM_F_DUMP);
        ifa = mnl_nlmsg_put_extra_header(nlh, sizeof(*ifa));
        ifa->ifa_family = AF_INET;

        r = rtnl_dump(nlh, address_cb, &dump, addresses, &extack);
        if (r < 0) {
                g_autofree char *name = link_name(ifindex);

                return fail(error, r, extack, "Failed to list the addresses of %s", name);
        }

        *ret_addresses = g_steal_pointer(&addresses);
        return true;
}

static int address_change(uint16_t type, uint16_t flags, int ifindex, const Ipv4Prefix *address,
                          char **ret_extack) {
        char buf[RTNL_REQUEST_SIZE];
        struct nlmsghdr *nlh;
        struct ifaddrmsg *ifa;

        nlh = put_request(buf, type, NLM_F_ACK | flags);
        ifa = mnl_nlmsg_put_extra_header(nlh, sizeof(*ifa));
        ifa->ifa_family = AF_INET;
        ifa->ifa_prefixlen = (unsigned char) address->prefixlen;
        ifa->ifa_scope = RT_SCOPE_UNIVERSE;
        ifa->ifa_index = (unsigned) ifindex;
        put_in_addr(nlh, IFA_LOCAL, address->address);
        put_in_addr(nlh, IFA_ADDRESS, address->address);

        return rtnl_transact(nlh, NULL, NULL, ret_extack);
}

bool rtnl_address_add(int ifindex, const Ipv4Prefix *address, GError **error) {
        g_autofree char *extack = NULL;
        int r;

        g_return_val_if_fail(address && address->prefixlen <= 32, false);

        r = address_change(RTM_NEWADDR, NLM_F_CREATE | NLM_F_EXCL, ifindex, address, &extack);
        if (r < 0 && r != -EEXIST) {
                g_autofree char *text = netaddr_format_prefix(address);
                g_autofree char *name = link_name(ifindex);

                return fail(error, r, extack, "Failed to add address %s to %s", text, name);
        }
        return true;
}

bool rtnl_address_del(int ifindex, const Ipv4Prefix *address, GError **error) {
        g_autofree char *extack = NULL;
        int r;

        g_return_val_if_fail(address && address->prefixlen <= 32, false);

        r = address_change(RTM_DELADDR, 0, ifindex, address, &extack);
        if (r < 0 && r != -EADDRNOTAVAIL && r != -ESRCH && r != -ENOENT) {
                g_autofree char *text = netaddr_format_prefix(address);
                g_autofree char *name = link_name(ifindex);

                return fail(error, r, extack, "Failed to remove address %s from %s", text, name);
        }
        return true;
}

/* -------- routes -------- */

typedef struct {
        uint32_t table;
        GArray *routes;
} RouteDump;

static int route_cb(const struct nlmsghdr *nlh, void *data) {
        RouteDump *dump = data;
        const struct nlattr *tb[RTA_MAX + 1] = {};
        const struct rtmsg *rtm;
        RtnlRoute route = {};
        uint32_t oif;

        if (nlh->nlmsg_type != RTM_NEWROUTE || mnl_nlmsg_get_payload_len(nlh) < sizeof(*rtm))
                return MNL_CB_OK;
        rtm = mnl_nlmsg_get_payload(nlh);
        if (rtm->rtm_family != AF_INET || rtm->rtm_protocol != RTNL_PROTO_PIC || rtm->rtm_dst_len > 32)
                return MNL_CB_OK;

        parse_attrs(nlh, sizeof(*rtm), tb, RTA_MAX);
        if (!attr_u32(tb[RTA_TABLE], &route.table))
                route.table = rtm->rtm_table;
        if (route.table != dump->table)
                return MNL_CB_OK;

        if (tb[RTA_DST] && !attr_in_addr(tb[RTA_DST], &route.destination.address))
                return MNL_CB_OK;
        route.destination.prefixlen = rtm->rtm_dst_len;
        route.destination = netaddr_canonical(&route.destination);
        route.has_gateway = attr_in_addr(tb[RTA_GATEWAY], &route.gateway);
        if (attr_u32(tb[RTA_OIF], &oif))
                route.ifindex = (int) oif;

        g_array_append_val(dump->routes, route);
        return MNL_CB_OK;
}

static char *route_text(const RtnlRoute *route) {
        g_autofree char *destination = netaddr_format_network(&route->destination);
        g_autofree char *name = link_name(route->ifindex);
        GString *text = g_string_new(destination);

        if (route->has_gateway) {
                g_autofree char *gateway = netaddr_format_address(route->gateway);

                g_string_append_printf(text, " via %s", gateway);
        }
        if (route->ifindex > 0)
                g_string_append_printf(text, " dev %s", name);
        g_string_append_printf(text, " table %" G_GUINT32_FORMAT, route->table);
        return g_string_free(text, false);
}

bool rtnl_route_list(uint32_t table, GArray **ret_routes, GError **error) {
        char buf[RTNL_REQUEST_SIZE];
        g_autoptr(GArray) routes = g_array_new(false, false, sizeof(RtnlRoute));
        g_autofree char *extack = NULL;
        RouteDump dump = { .table = table, .routes = routes };
        struct nlmsghdr *nlh;
        struct rtmsg *rtm;
        int r;

        g_return_val_if_fail(ret_routes, false);

        nlh = put_request(buf, RTM_GETROUTE, NLM_F_DUMP);
        rtm = mnl_nlmsg_put_extra_header(nlh, sizeof(*rtm));
        rtm->rtm_family = AF_INET;

        r = rtnl_dump(nlh, route_cb, &dump, routes, &extack);
        if (r < 0)
                return fail(error, r, extack, "Failed to list the routes of table %" G_GUINT32_FORMAT, table);

        *ret_routes = g_steal_pointer(&routes);
        return true;
}

static int route_change(uint16_t type, uint16_t flags, const RtnlRoute *route, char **ret_extack) {
        char buf[RTNL_REQUEST_SIZE];
        Ipv4Prefix destination = netaddr_canonical(&route->destination);
        struct nlmsghdr *nlh;
        struct rtmsg *rtm;

        nlh = put_request(buf, type, NLM_F_ACK | flags);
        rtm = mnl_nlmsg_put_extra_header(nlh, sizeof(*rtm));
        rtm->rtm_family = AF_INET;
        rtm->rtm_dst_len = (unsigned char) destination.prefixlen;
        rtm->rtm_protocol = RTNL_PROTO_PIC;
        rtm->rtm_type = RTN_UNICAST;
        /* Deleting matches any scope; adding says a gateway-less route is
         * on-link, as `ip route` would. */
        if (type == RTM_DELROUTE)
                rtm->rtm_scope = RT_SCOPE_NOWHERE;
        else
                rtm->rtm_scope = route->has_gateway ? RT_SCOPE_UNIVERSE : RT_SCOPE_LINK;
        if (route->table < 256)
                rtm->rtm_table = (unsigned char) route->table;
        else {
                rtm->rtm_table = RT_TABLE_UNSPEC;
                mnl_attr_put_u32(nlh, RTA_TABLE, route->table);
        }

        if (destination.prefixlen > 0)
                put_in_addr(nlh, RTA_DST, destination.address);
        if (route->has_gateway)
                put_in_addr(nlh, RTA_GATEWAY, route->gateway);
        if (route->ifindex > 0)
                mnl_attr_put_u32(nlh, RTA_OIF, (uint32_t) route->ifindex);

        return rtnl_transact(nlh, NULL, NULL, ret_extack);
}

bool rtnl_route_add(const RtnlRoute *route, GError **error) {
        g_autofree char *extack = NULL;
        int r;

        g_return_val_if_fail(route && route->destination.prefixlen <= 32, false);

        r = route_change(RTM_NEWROUTE, NLM_F_CREATE | NLM_F_REPLACE, route, &extack);
        if (r < 0) {
                g_autofree char *text = route_text(route);

                return fail(error, r, extack, "Failed to add route %s", text);
        }
        return true;
}

bool rtnl_route_del(const RtnlRoute *route, GError **error) {
        g_autofree char *extack = NULL;
        int r;

        g_return_val_if_fail(route && route->destination.prefixlen <= 32, false);

        r = route_change(RTM_DELROUTE, 0, route, &extack);
        if (r < 0 && r != -ESRCH && r != -ENOENT && r != -EADDRNOTAVAIL) {
                g_autofree char *text = route_text(route);

                return fail(error, r, extack, "Failed to remove route %s", text);
        }
        return true;
}

/* -------- rules -------- */

typedef struct {
        uint32_t priority_min;
        uint32_t priority_max;
        GArray *rules;
} RuleDump;

static int rule_cb(const struct nlmsghdr *nlh, void *data) {
        RuleDump *dump = data;
        const struct nlattr *tb[FRA_MAX + 1] = {};
        const struct fib_rule_hdr *frh;
        RtnlRule rule = {};

        if (nlh->nlmsg_type != RTM_NEWRULE || mnl_nlmsg_get_payload_len(nlh) < sizeof(*frh))
                return MNL_CB_OK;
        frh = mnl_nlmsg_get_payload(nlh);
        if (frh->family != AF_INET || frh->src_len > 32)
                return MNL_CB_OK;

        parse_attrs(nlh, sizeof(*frh), tb, FRA_MAX);
        /* The kernel leaves FRA_PRIORITY out of the rule with priority 0. */
        if (!attr_u32(tb[FRA_PRIORITY], &rule.priority))
                rule.priority = 0;
        if (rule.priority < dump->priority_min || rule.priority > dump->priority_max)
                return MNL_CB_OK;

        if (!attr_u32(tb[FRA_TABLE], &rule.table))
                rule.table = frh->table;
        if (tb[FRA_SRC] && !attr_in_addr(tb[FRA_SRC], &rule.source.address))
                return MNL_CB_OK;
        rule.source.prefixlen = frh->src_len;
        rule.source = netaddr_canonical(&rule.source);

        g_array_append_val(dump->rules, rule);
        return MNL_CB_OK;
}

static char *rule_text(const RtnlRule *rule) {
        g_autofree char *source = netaddr_format_prefix(&rule->source);

        return g_strdup_printf("from %s lookup %" G_GUINT32_FORMAT " priority %" G_GUINT32_FORMAT,
                               source, rule->table, rule->priority);
}

bool rtnl_rule_list(uint32_t priority_min, uint32_t priority_max, GArray **ret_rules, GError **error) {
        char buf[RTNL_REQUEST_SIZE];
        g_autoptr(GArray) rules = g_array_new(false, false, sizeof(RtnlRule));
        g_autofree char *extack = NULL;
        RuleDump dump = { .priority_min = priority_min, .priority_max = priority_max, .rules = rules };
        struct nlmsghdr *nlh;
        struct fib_rule_hdr *frh;
        int r;

        g_return_val_if_fail(ret_rules, false);

        nlh = put_request(buf, RTM_GETRULE, NLM_F_DUMP);
        frh = mnl_nlmsg_put_extra_header(nlh, sizeof(*frh));
        frh->family = AF_INET;

        r = rtnl_dump(nlh, rule_cb, &dump, rules, &extack);
        if (r < 0)
                return fail(error, r, extack,
                            "Failed to list the rules with priorities %" G_GUINT32_FORMAT "-%" G_GUINT32_FORMAT,
                            priority_min, priority_max);

        *ret_rules = g_steal_pointer(&rules);
        return true;
}

static int rule_change(uint16_t type, uint16_t flags, const RtnlRule *rule, char **ret_extack) {
        char buf[RTNL_REQUEST_SIZE];
        Ipv4Prefix source = netaddr_canonical(&rule->source);
        struct nlmsghdr *nlh;
        struct fib_rule_hdr *frh;

        nlh = put_request(buf, type, NLM_F_ACK | flags);
        frh = mnl_nlmsg_put_extra_header(nlh, sizeof(*frh));
        frh->family = AF_INET;
        frh->src_len = (unsigned char) source.prefixlen;
        frh->action = FR_ACT_TO_TBL;
        frh->table = rule->table < 256 ? (unsigned char) rule->table : RT_TABLE_UNSPEC;

        if (source.prefixlen > 0)
                put_in_addr(nlh, FRA_SRC, source.address);
        mnl_attr_put_u32(nlh, FRA_TABLE, rule->table);
        mnl_attr_put_u32(nlh, FRA_PRIORITY, rule->priority);
        /* Marks the rule as ours for `ip rule`; not used to match on delete,
         * where the priority range already says whose rule it is. */
        if (type == RTM_NEWRULE)
                mnl_attr_put_u8(nlh, FRA_PROTOCOL, RTNL_PROTO_PIC);

        return rtnl_transact(nlh, NULL, NULL, ret_extack);
}

bool rtnl_rule_add(const RtnlRule *rule, GError **error) {
        g_autofree char *extack = NULL;
        int r;

        g_return_val_if_fail(rule && rule->source.prefixlen <= 32, false);

        /* Without NLM_F_EXCL the kernel would happily add a duplicate. */
        r = rule_change(RTM_NEWRULE, NLM_F_CREATE | NLM_F_EXCL, rule, &extack);
        if (r < 0 && r != -EEXIST) {
                g_autofree char *text = rule_text(rule);

                return fail(error, r, extack, "Failed to add rule %s", text);
        }
        return true;
}

bool rtnl_rule_del(const RtnlRule *rule, GError **error) {
        g_autofree char *extack = NULL;
        int r;

        g_return_val_if_fail(rule && rule->source.prefixlen <= 32, false);

        r = rule_change(RTM_DELRULE, 0, rule, &extack);
        if (r < 0 && r != -ENOENT && r != -ESRCH) {
                g_autofree char *text = rule_text(rule);

                return fail(error, r, extack, "Failed to remove rule %s", text);
        }
        return true;
}
