/* reconcile.c: model → kernel. Each part reads what is there, computes the
 * difference to what the model wants, and applies only that, so running it
 * twice changes nothing and a restart after kill -9 adopts what it finds. */
#include <arpa/inet.h>
#include <errno.h>
#include <stdio.h>
#include <netdb.h>
#include <string.h>
#include <sys/socket.h>

#include "dns.h"
#include "i18n.h"
#include "nft.h"
#include "pic-error.h"
#include "reconcile.h"
#include "rtnl.h"

struct Reconciler {
        const DaemonConfig *config;
        WgBackend *wg;
        DnsForwarder *dns;
        NftRuleset *nft_applied; /* what the kernel has, as far as we know; NULL: rebuild */
        CellState *nft_source;   /* the model nft_applied was built from (a sharing copy) */
};

Reconciler *reconciler_new(const DaemonConfig *config, sd_bus *bus, GError **error) {
        g_autoptr(Reconciler) r = g_new0(Reconciler, 1);
        bool kernel;

        r->config = config;
        switch (config->wireguard) {
        case WG_BACKEND_KERNEL:
                kernel = true;
                break;
        case WG_BACKEND_USERSPACE:
                kernel = false;
                break;
        default:
                kernel = wg_kernel_available();
                break;
        }
        r->wg = kernel ? wg_backend_new_kernel(config->interface)
                       : wg_backend_new_userspace(config->interface, config->userspace_command);
        if (!r->wg) {
                g_set_error_literal(error, PIC_ERROR, PIC_ERROR_FAILED, _("Failed to set up the WireGuard back-end"));
                return NULL;
        }
        if (bus && config->dns_backend == DNS_BACKEND_DNSMASQ)
                r->dns = dns_forwarder_new(bus, config->dnsmasq_bus_name);
        return g_steal_pointer(&r);
}

void reconciler_free(Reconciler *r) {
        if (!r)
                return;
        wg_backend_free(r->wg);
        dns_forwarder_free(r->dns);
        nft_ruleset_free(r->nft_applied);
        cell_state_free(r->nft_source);
        g_free(r);
}

const char *reconciler_wireguard_backend(const Reconciler *r) {
        return wg_backend_kind(r->wg);
}

void reconciler_set_lost_callback(Reconciler *r, WgDeviceLostFunc func, void *userdata) {
        wg_backend_set_lost_callback(r->wg, func, userdata);
}

/* "host:port" to a socket address; names are resolved (IPv4 only). */
static bool resolve_endpoint(const char *endpoint, struct sockaddr_in *ret, GError **error) {
        g_autofree char *host = NULL;
        struct addrinfo hints = { .ai_family = AF_INET, .ai_socktype = SOCK_DGRAM };
        struct addrinfo *result = NULL;
        uint32_t address;
        uint16_t port;
        int r;

        if (!netaddr_parse_endpoint(endpoint, &host, &port, error))
                return false;
        if (netaddr_parse_address(host, &address, NULL)) {
                *ret = (struct sockaddr_in) {
                        .sin_family = AF_INET,
                        .sin_port = htons(port),
                        .sin_addr.s_addr = htonl(address),
                };
                return true;
        }
        r = getaddrinfo(host, NULL, &hints, &result);
        if (r != 0 || !result) {
                g_set_error(error, PIC_ERROR, PIC_ERROR_UNREACHABLE,
                            _("Cannot resolve the endpoint '%s': %s"), endpoint, gai_strerror(r));
                return false;
        }
        memcpy(ret, result->ai_addr, sizeof(*ret));
        ret->sin_port = htons(port);
        freeaddrinfo(result);
        return true;
}

WgDevice *reconcile_desired_device(const CellState *state, const DaemonConfig *config,
                                   const WgKey *private_key, GError **error) {
        g_autoptr(WgDevice) device = wg_device_new(config->interface);

        device->flags = WG_DEVICE_HAS_PRIVATE_KEY | WG_DEVICE_HAS_LISTEN_PORT;
        device->private_key = *private_key;
        device->listen_port = config->listen_port;

        for (guint i = 0; i < state->links->len; i++) {
                const Link *link = state->links->pdata[i];
                g_autoptr(GError) local = NULL;
                WgKey key;
                WgPeer *peer;

                if (!wg_key_from_base64(link->public_key, &key, error))
                        return NULL;
                peer = wg_device_add_peer(device, &key);
                peer->flags |= WG_PEER_HAS_KEEPALIVE;
                peer->persistent_keepalive = RECONCILE_KEEPALIVE;
                if (resolve_endpoint(link->endpoint, &peer->endpoint, &local))
                        peer->flags |= WG_PEER_HAS_ENDPOINT;
                else
                        /* The tunnel can still come up when the other side calls us. */
                        g_warning("Link %s: %s", link->name, local->message);
                wg_peer_add_allowed_ip(peer, &link->vpn_subnet);
                /* The one link our peers leave through carries the internet too. */
                if (link->exit_relay_active) {
                        Ipv4Prefix everything = { 0 };
                        wg_peer_add_allowed_ip(peer, &everything);
                }
        }
        for (guint i = 0; i < state->peers->len; i++) {
                const Peer *p = state->peers->pdata[i];
                Ipv4Prefix host = { .address = p->address, .prefixlen = 32 };
                WgKey key;
                WgPeer *peer;

                if (!wg_key_from_base64(p->public_key, &key, error))
                        return NULL;
                peer = wg_device_add_peer(device, &key);
                wg_peer_add_allowed_ip(peer, &host);
        }
        return g_steal_pointer(&device);
}

static bool apply_wireguard(Reconciler *r, const CellState *state, const WgKey *private_key, GError **error) {
        g_autoptr(WgDevice) desired = NULL, current = NULL, change = NULL;

        if (!wg_backend_ensure_device(r->wg, error))
                return false;
        desired = reconcile_desired_device(state, r->config, private_key, error);
        if (!desired)
                return false;
        if (!wg_backend_get(r->wg, &current, error))
                return false;
        change = wg_device_diff(current, desired);
        if (!change)
                return true;
        return wg_backend_set(r->wg, change, error);
}

static bool prefix_in(const GArray *list, const Ipv4Prefix *p) {
        for (guint i = 0; i < list->len; i++) {
                const Ipv4Prefix *q = &g_array_index(list, Ipv4Prefix, i);
                if (q->address == p->address && q->prefixlen == p->prefixlen)
                        return true;
        }
        return false;
}

static bool apply_addresses(int ifindex, const CellState *state, GError **error) {
        g_autoptr(GArray) current = NULL;
        const Ipv4Prefix *want = &state->cell.address;

        if (!rtnl_address_list(ifindex, &current, error))
                return false;
        for (guint i = 0; i < current->len; i++) {
                const Ipv4Prefix *have = &g_array_index(current, Ipv4Prefix, i);
                if (have->address != want->address || have->prefixlen != want->prefixlen)
                        if (!rtnl_address_del(ifindex, have, error))
                                return false;
        }
        if (!prefix_in(current, want))
                return rtnl_address_add(ifindex, want, error);
        return true;
}

static bool apply_routes(int ifindex, const CellState *state, GError **error) {
        g_autoptr(GArray) current = NULL;
        g_autoptr(GArray) desired = g_array_new(FALSE, TRUE, sizeof(Ipv4Prefix));

        for (guint i = 0; i < state->links->len; i++) {
                const Link *link = state->links->pdata[i];
                g_array_append_val(desired, link->vpn_subnet);
        }
        if (!rtnl_route_list(RTNL_TABLE_MAIN, &current, error))
                return false;

        for (guint i = 0; i < current->len; i++) {
                const RtnlRoute *have = &g_array_index(current, RtnlRoute, i);
                if (have->ifindex == ifindex && !have->has_gateway && prefix_in(desired, &have->destination))
                        continue;
                if (!rtnl_route_del(have, error))
                        return false;
        }
        for (guint i = 0; i < desired->len; i++) {
                const Ipv4Prefix *want = &g_array_index(desired, Ipv4Prefix, i);
                RtnlRoute route = {
                        .destination = *want,
                        .table = RTNL_TABLE_MAIN,
                        .ifindex = ifindex,
                };
                bool present = false;

                for (guint j = 0; j < current->len && !present; j++) {
                        const RtnlRoute *have = &g_array_index(current, RtnlRoute, j);
                        present = have->ifindex == ifindex && !have->has_gateway &&
                                  have->destination.address == want->address &&
                                  have->destination.prefixlen == want->prefixlen;
                }
                if (!present && !rtnl_route_add(&route, error))
                        return false;
        }
        return true;
}

char *reconcile_detect_uplink(void) {
        g_autofree char *table = NULL;
        g_auto(GStrv) lines = NULL;

        /* The interface of the IPv4 default route with the lowest metric. */
        if (!g_file_get_contents("/proc/net/route", &table, NULL, NULL))
                return NULL;
        lines = g_strsplit(table, "\n", -1);
        {
                char *best = NULL;
                guint64 best_metric = G_MAXUINT64;

                for (char **line = lines + 1; *line && **line; line++) {
                        g_auto(GStrv) f = g_strsplit_set(*line, " \t", -1);
                        g_autoptr(GPtrArray) fields = g_ptr_array_new();
                        guint64 metric;

                        for (char **x = f; *x; x++)
                                if (**x)
                                        g_ptr_array_add(fields, *x);
                        if (fields->len < 8 || !g_str_equal(fields->pdata[1], "00000000") ||
                            !g_str_equal(fields->pdata[7], "00000000"))
                                continue;
                        metric = g_ascii_strtoull(fields->pdata[6], NULL, 10);
                        if (metric < best_metric) {
                                g_free(best);
                                best = g_strdup(fields->pdata[0]);
                                best_metric = metric;
                        }
                }
                return best;
        }
}

/* What one linked cell may reach here (see nft.h). */
static NftLink *desired_link(const CellState *state, const Link *link) {
        NftLink *nl = nft_link_new(link->name, &link->vpn_subnet);

        /* In the order of our service list, so the chain reads like the grid. */
        for (guint j = 0; j < state->services->len; j++) {
                const Service *svc = state->services->pdata[j];

                if (!GPOINTER_TO_INT(g_hash_table_lookup(link->inbound, svc->name)))
                        continue;
                for (guint k = 0; k < svc->ports->len; k++) {
                        const ServicePort *p = &g_array_index(svc->ports, ServicePort, k);
                        nft_link_add_port(nl, p->protocol, p->port, svc->address);
                }
        }
        /* Their peers leave through us only while we offer it. */
        if (link->exit_offered && link->remote_exit_relay_active)
                for (guint j = 0; j < link->remote_exit_sources->len; j++) {
                        Ipv4Prefix p;
                        if (netaddr_parse_prefix(link->remote_exit_sources->pdata[j], false, &p, NULL) &&
                            netaddr_prefix_contains(&link->vpn_subnet, &p)) {
                                Ipv4Prefix *copy = g_new(Ipv4Prefix, 1);
                                *copy = netaddr_canonical(&p);
                                g_ptr_array_add(nl->exit_sources, copy);
                        }
                }
        return nl;
}

static NftRuleset *desired_globals(const CellState *state, const DaemonConfig *config) {
        NftRuleset *rs = nft_ruleset_new();

        rs->interface = g_strdup(config->interface);
        rs->uplink = g_str_equal(config->uplink, "auto") ? reconcile_detect_uplink() : g_strdup(config->uplink);
        rs->own_subnet = netaddr_canonical(&state->cell.address);
        rs->tunnel_address = state->cell.address.address;
        rs->sync_port = config->sync_port;
        rs->dns_address = state->cell.dns_address;
        return rs;
}

/* Full-tunnel peers leave through our uplink, with our address. */
static void add_masquerade(NftRuleset *rs, const CellState *state) {
        for (guint i = 0; i < state->peers->len; i++) {
                const Peer *peer = state->peers->pdata[i];
                if (peer->full_tunnel) {
                        Ipv4Prefix *p = g_new(Ipv4Prefix, 1);
                        *p = (Ipv4Prefix) { .address = peer->address, .prefixlen = 32 };
                        g_ptr_array_add(rs->masquerade, p);
                }
        }
}

NftRuleset *reconcile_desired_ruleset(const CellState *state, const DaemonConfig *config) {
        NftRuleset *rs = desired_globals(state, config);

        add_masquerade(rs, state);
        for (guint i = 0; i < state->links->len; i++)
                g_ptr_array_add(rs->links, desired_link(state, state->links->pdata[i]));
        return rs;
}

static bool same_entries(const GPtrArray *a, const GPtrArray *b) {
        return a->len == b->len && (a->len == 0 || memcmp(a->pdata, b->pdata, a->len * sizeof(gpointer)) == 0);
}

/* The same for @state, when @applied was built from @before: a link that is
 * the same object in both (a copy of the model shares what a change did not
 * touch, and @before holds its links) keeps its part of @applied, so that a
 * toggle builds one link, not 250. */
static NftRuleset *desired_ruleset_after(const CellState *before, const CellState *state, const NftRuleset *applied,
                                         const DaemonConfig *config) {
        NftRuleset *rs;

        if (applied->links->len != before->links->len || !cell_state_services_equal(before, state))
                return reconcile_desired_ruleset(state, config);
        rs = desired_globals(state, config);
        if (same_entries(before->peers, state->peers)) {
                g_ptr_array_unref(rs->masquerade);
                rs->masquerade = g_ptr_array_ref(applied->masquerade);
        } else
                add_masquerade(rs, state);
        for (guint i = 0; i < state->links->len; i++) {
                const Link *link = state->links->pdata[i];
                NftLink *known = i < before->links->len && before->links->pdata[i] == link ? applied->links->pdata[i]
                                                                                          : NULL;

                g_ptr_array_add(rs->links, known ? nft_link_ref(known) : desired_link(state, link));
        }
        return rs;
}

static bool apply_ruleset(Reconciler *r, const CellState *state, NftRuleset *desired, GError **error) {
        if (!nft_apply(r->nft_applied, desired, error)) {
                /* Unsure what the kernel has now: next time, rebuild whole. */
                g_clear_pointer(&r->nft_applied, nft_ruleset_free);
                g_clear_pointer(&r->nft_source, cell_state_free);
                nft_ruleset_free(desired);
                return false;
        }
        nft_ruleset_free(r->nft_applied);
        r->nft_applied = desired;
        cell_state_free(r->nft_source);
        r->nft_source = cell_state_copy(state);
        return true;
}

static bool apply_nftables(Reconciler *r, const CellState *state, GError **error) {
        NftRuleset *desired = r->nft_applied ? desired_ruleset_after(r->nft_source, state, r->nft_applied, r->config)
                                             : reconcile_desired_ruleset(state, r->config);

        return apply_ruleset(r, state, desired, error);
}

/* Peers whose internet traffic leaves through an exit cell right now. */
static bool peer_uses_exit(const CellState *state, const Peer *peer) {
        const Link *link = peer->route_via[0] ? cell_state_find_link(state, peer->route_via) : NULL;

        return link && link->exit_relay_active;
}

static bool apply_policy_routing(int ifindex, const CellState *state, GError **error) {
        g_autoptr(GArray) rules = NULL, routes = NULL;
        g_autoptr(GArray) desired = g_array_new(FALSE, TRUE, sizeof(RtnlRule));
        bool any = false;

        for (guint i = 0; i < state->peers->len; i++) {
                const Peer *peer = state->peers->pdata[i];
                RtnlRule rule = {
                        .source = { .address = peer->address, .prefixlen = 32 },
                        .table = RECONCILE_EXIT_TABLE,
                        .priority = RECONCILE_RULE_PRIORITY,
                };
                if (peer_uses_exit(state, peer)) {
                        g_array_append_val(desired, rule);
                        any = true;
                }
        }

        if (!rtnl_rule_list(RECONCILE_RULE_PRIORITY, RECONCILE_RULE_PRIORITY_MAX, &rules, error))
                return false;
        for (guint i = 0; i < rules->len; i++) {
                const RtnlRule *have = &g_array_index(rules, RtnlRule, i);
                bool wanted = false;

                for (guint j = 0; j < desired->len && !wanted; j++) {
                        const RtnlRule *want = &g_array_index(desired, RtnlRule, j);
                        wanted = have->source.address == want->source.address &&
                                 have->source.prefixlen == want->source.prefixlen && have->table == want->table &&
                                 have->priority == want->priority;
                }
                if (!wanted && !rtnl_rule_del(have, error))
                        return false;
        }
        for (guint j = 0; j < desired->len; j++) {
                const RtnlRule *want = &g_array_index(desired, RtnlRule, j);
                bool present = false;

                for (guint i = 0; i < rules->len && !present; i++) {
                        const RtnlRule *have = &g_array_index(rules, RtnlRule, i);
                        present = have->source.address == want->source.address &&
                                  have->source.prefixlen == want->source.prefixlen && have->table == want->table &&
                                  have->priority == want->priority;
                }
                if (!present && !rtnl_rule_add(want, error))
                        return false;
        }

        /* The exit table holds one route: everything into the tunnel. */
        if (!rtnl_route_list(RECONCILE_EXIT_TABLE, &routes, error))
                return false;
        for (guint i = 0; i < routes->len; i++) {
                const RtnlRoute *have = &g_array_index(routes, RtnlRoute, i);
                if (any && have->ifindex == ifindex && have->destination.prefixlen == 0 && !have->has_gateway)
                        continue;
                if (!rtnl_route_del(have, error))
                        return false;
        }
        if (any) {
                RtnlRoute route = { .table = RECONCILE_EXIT_TABLE, .ifindex = ifindex };
                return rtnl_route_add(&route, error);
        }
        return true;
}

/* Forwarding is needed as soon as this cell carries traffic for others: its
 * peers, or the peers of a cell it offers its exit to. It is never turned
 * off again: other services of the host may rely on it. */
static bool apply_forwarding(const CellState *state, GError **error) {
        g_autofree char *current = NULL;
        bool needed = state->peers->len > 0;

        for (guint i = 0; i < state->links->len && !needed; i++)
                needed = ((const Link *) state->links->pdata[i])->exit_offered;
        if (!needed)
                return true;
        if (g_file_get_contents("/proc/sys/net/ipv4/ip_forward", &current, NULL, NULL) && current[0] == '1')
                return true;
        if (!g_file_set_contents("/proc/sys/net/ipv4/ip_forward", "1\n", -1, NULL)) {
                /* g_file_set_contents replaces via rename, which /proc refuses: write in place. */
                FILE *f = fopen("/proc/sys/net/ipv4/ip_forward", "we");
                if (!f || fputs("1\n", f) < 0 || fclose(f) != 0) {
                        g_set_error(error, PIC_ERROR, PIC_ERROR_FAILED,
                                    _("Failed to turn on IPv4 forwarding: %s"), g_strerror(errno));
                        return false;
                }
        }
        return true;
}

static void apply_dns(Reconciler *r, const CellState *state) {
        g_autoptr(GPtrArray) servers = g_ptr_array_new_with_free_func(g_free);

        if (!r->dns)
                return;
        for (guint i = 0; i < state->links->len; i++) {
                const Link *link = state->links->pdata[i];
                g_autofree char *ip = netaddr_format_address(link->dns_ip);
                g_ptr_array_add(servers, g_strdup_printf("/%s/%s", link->domain, ip));
        }
        g_ptr_array_add(servers, NULL);
        dns_forwarder_set_servers(r->dns, (const char *const *) servers->pdata);
}

bool reconciler_apply(Reconciler *r, const CellState *state, const WgKey *private_key, GError **error) {
        int ifindex = 0;

        if (!apply_wireguard(r, state, private_key, error))
                return false;
        if (!rtnl_link_index(r->config->interface, &ifindex, error))
                return false;
        if (ifindex == 0) {
                g_set_error(error, PIC_ERROR, PIC_ERROR_FAILED,
                            _("The WireGuard interface %s vanished while being configured"), r->config->interface);
                return false;
        }
        if (!apply_addresses(ifindex, state, error) || !rtnl_link_set_up(ifindex, error) ||
            !apply_routes(ifindex, state, error) || !apply_policy_routing(ifindex, state, error) ||
            !apply_forwarding(state, error) || !apply_nftables(r, state, error))
                return false;
        apply_dns(r, state);
        return true;
}

/* --- what a change touches --- */

static bool same_string(const char *a, const char *b) {
        return g_strcmp0(a, b) == 0;
}

static bool same_prefix(const Ipv4Prefix *a, const Ipv4Prefix *b) {
        return a->address == b->address && a->prefixlen == b->prefixlen;
}

/* Everything reconcile_desired_device() reads. */
static bool same_wireguard_inputs(const CellState *a, const CellState *b) {
        if (!same_string(a->cell.public_key, b->cell.public_key) || a->links->len != b->links->len ||
            a->peers->len != b->peers->len)
                return false;
        for (guint i = 0; i < a->links->len; i++) {
                const Link *x = a->links->pdata[i], *y = b->links->pdata[i];
                /* The same object: a copy of the model shares what it did not change. */
                if (x == y)
                        continue;
                if (!same_string(x->public_key, y->public_key) || !same_string(x->endpoint, y->endpoint) ||
                    !same_prefix(&x->vpn_subnet, &y->vpn_subnet) || x->exit_relay_active != y->exit_relay_active)
                        return false;
        }
        for (guint i = 0; i < a->peers->len; i++) {
                const Peer *x = a->peers->pdata[i], *y = b->peers->pdata[i];
                if (x == y)
                        continue;
                if (!same_string(x->public_key, y->public_key) || x->address != y->address)
                        return false;
        }
        return true;
}

/* Everything apply_addresses(), apply_routes() and apply_policy_routing() read. */
static bool same_routing_inputs(const CellState *a, const CellState *b) {
        if (!same_prefix(&a->cell.address, &b->cell.address) || a->links->len != b->links->len ||
            a->peers->len != b->peers->len)
                return false;
        for (guint i = 0; i < a->links->len; i++) {
                const Link *x = a->links->pdata[i], *y = b->links->pdata[i];
                if (x != y && !same_prefix(&x->vpn_subnet, &y->vpn_subnet))
                        return false;
        }
        for (guint i = 0; i < a->peers->len; i++) {
                const Peer *x = a->peers->pdata[i], *y = b->peers->pdata[i];
                if (x->address != y->address || peer_uses_exit(a, x) != peer_uses_exit(b, y))
                        return false;
        }
        return true;
}

/* Everything apply_dns() reads. */
static bool same_dns_inputs(const CellState *a, const CellState *b) {
        if (a->links->len != b->links->len)
                return false;
        for (guint i = 0; i < a->links->len; i++) {
                const Link *x = a->links->pdata[i], *y = b->links->pdata[i];
                if (x != y && (!same_string(x->domain, y->domain) || x->dns_ip != y->dns_ip))
                        return false;
        }
        return true;
}

bool reconciler_apply_change(Reconciler *r, const CellState *before, const CellState *state,
                             const WgKey *private_key, GError **error) {
        int ifindex = 0;

        if (!before || !r->nft_applied)
                return reconciler_apply(r, state, private_key, error);
        if (!same_wireguard_inputs(before, state) && !apply_wireguard(r, state, private_key, error))
                return false;
        if (!same_routing_inputs(before, state)) {
                if (!rtnl_link_index(r->config->interface, &ifindex, error))
                        return false;
                if (ifindex == 0) {
                        g_set_error(error, PIC_ERROR, PIC_ERROR_FAILED,
                                    _("The WireGuard interface %s vanished while being configured"),
                                    r->config->interface);
                        return false;
                }
                if (!apply_addresses(ifindex, state, error) || !apply_routes(ifindex, state, error) ||
                    !apply_policy_routing(ifindex, state, error))
                        return false;
        }
        if (!apply_forwarding(state, error) || !apply_nftables(r, state, error))
                return false;
        if (!same_dns_inputs(before, state))
                apply_dns(r, state);
        return true;
}

bool reconciler_dump(Reconciler *r, WgDevice **ret_device, GError **error) {
        return wg_backend_get(r->wg, ret_device, error);
}
