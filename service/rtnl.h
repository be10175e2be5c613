/* rtnl.h: the rtnetlink operations pic-celld needs on its own interface
 * (link up, addresses, routes) and for policy routing (rules in its own
 * priority range, routes in its own tables), over libmnl. Everything it adds
 * carries RTNL_PROTO_PIC, so listing and removing touch only what we made. */
#pragma once

#include <stdbool.h>
#include <stdint.h>
#include <glib.h>

#include "netaddr.h"

#define RTNL_PROTO_PIC 0xa7          /* rtm_protocol of our routes */
#define RTNL_TABLE_MAIN 254

typedef struct {
        Ipv4Prefix destination;      /* canonical */
        uint32_t table;
        bool has_gateway;
        uint32_t gateway;
        int ifindex;
} RtnlRoute;

typedef struct {
        Ipv4Prefix source;           /* "from" */
        uint32_t table;
        uint32_t priority;
} RtnlRule;

/* 0 when there is no such interface (not an error). */
bool rtnl_link_index(const char *ifname, int *ret_ifindex, GError **error);
bool rtnl_link_set_up(int ifindex, GError **error);
bool rtnl_link_set_mtu(int ifindex, uint32_t mtu, GError **error);

/* IPv4 addresses on @ifindex, as address/prefix. */
bool rtnl_address_list(int ifindex, GArray **ret_addresses /* of Ipv4Prefix */, GError **error);
bool rtnl_address_add(int ifindex, const Ipv4Prefix *address, GError **error);
bool rtnl_address_del(int ifindex, const Ipv4Prefix *address, GError **error);

/* Routes with protocol RTNL_PROTO_PIC in @table (any interface). */
bool rtnl_route_list(uint32_t table, GArray **ret_routes /* of RtnlRoute */, GError **error);
/* Adds or replaces (NLM_F_REPLACE) a unicast route with protocol RTNL_PROTO_PIC. */
bool rtnl_route_add(const RtnlRoute *route, GError **error);
bool rtnl_route_del(const RtnlRoute *route, GError **error);

/* IPv4 rules whose priority lies in [@priority_min, @priority_max]. */
bool rtnl_rule_list(uint32_t priority_min, uint32_t priority_max, GArray **ret_rules /* of RtnlRule */,
                    GError **error);
bool rtnl_rule_add(const RtnlRule *rule, GError **error);
bool rtnl_rule_del(const RtnlRule *rule, GError **error);
