/* test-wg-netlink.c: the generic netlink messages of the kernel WireGuard back-end, decoded with libmnl. */
#include <arpa/inet.h>
#include <errno.h>
#include <linux/genetlink.h>
#include <linux/time_types.h>
#include <linux/wireguard.h>
#include <net/if.h>
#include <sched.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include <libmnl/libmnl.h>

#include "pic-error.h"
#include "unit-main.h"
#include "wg-netlink.h"
#include "wg.h"

#define FAMILY 0x1d
#define SEQ 4000

/* --- an independent decoder: every attribute must be known and well formed --- */

typedef struct {
        WgKey key;
        bool has_flags;
        uint32_t flags;
        bool has_endpoint;
        struct sockaddr_in endpoint;
        bool has_keepalive;
        uint16_t keepalive;
        bool has_allowed_ips;
        GArray *allowed_ips;            /* of Ipv4Prefix */
} DecodedPeer;

typedef struct {
        uint16_t type;
        uint16_t flags;
        uint32_t seq;
        uint8_t cmd;
        uint8_t version;
        char ifname[IFNAMSIZ];
        bool has_private_key;
        WgKey private_key;
        bool has_listen_port;
        uint16_t listen_port;
        bool has_flags;
        uint32_t device_flags;
        bool has_peers;
        GPtrArray *peers;               /* of DecodedPeer* */
} DecodedMessage;

static void decoded_peer_free(gpointer p) {
        DecodedPeer *peer = p;

        g_array_unref(peer->allowed_ips);
        g_free(peer);
}

static void decoded_message_free(gpointer p) {
        DecodedMessage *m = p;

        g_ptr_array_unref(m->peers);
        g_free(m);
}

static int decode_allowed_ip_attr(const struct nlattr *attr, void *data) {
        const struct nlattr **tb = data;
        unsigned type = mnl_attr_get_type(attr);

        ck_assert_msg(type >= WGALLOWEDIP_A_FAMILY && type <= WGALLOWEDIP_A_CIDR_MASK, "allowed IP attr %u", type);
        ck_assert_msg(!tb[type], "allowed IP attr %u twice", type);
        tb[type] = attr;
        return MNL_CB_OK;
}

static void decode_allowed_ips(const struct nlattr *list, DecodedPeer *peer) {
        const struct nlattr *item;

        ck_assert(mnl_attr_get_type(list) == WGPEER_A_ALLOWEDIPS);
        ck_assert(list->nla_type & NLA_F_NESTED);
        mnl_attr_for_each_nested(item, list) {
                const struct nlattr *tb[WGALLOWEDIP_A_MAX + 1] = { 0 };
                struct in_addr address;
                Ipv4Prefix p;

                ck_assert(item->nla_type & NLA_F_NESTED);
                ck_assert_int_ge(mnl_attr_parse_nested(item, decode_allowed_ip_attr, tb), 0);
                ck_assert(tb[WGALLOWEDIP_A_FAMILY] && tb[WGALLOWEDIP_A_IPADDR] && tb[WGALLOWEDIP_A_CIDR_MASK]);
                ck_assert_int_eq(mnl_attr_validate(tb[WGALLOWEDIP_A_FAMILY], MNL_TYPE_U16), 0);
                ck_assert_uint_eq(mnl_attr_get_u16(tb[WGALLOWEDIP_A_FAMILY]), AF_INET);
                ck_assert_uint_eq(mnl_attr_get_payload_len(tb[WGALLOWEDIP_A_IPADDR]), 4);
                ck_assert_int_eq(mnl_attr_validate(tb[WGALLOWEDIP_A_CIDR_MASK], MNL_TYPE_U8), 0);
                memcpy(&address, mnl_attr_get_payload(tb[WGALLOWEDIP_A_IPADDR]), 4);
                p = (Ipv4Prefix) { .address = ntohl(address.s_addr),
                                   .prefixlen = mnl_attr_get_u8(tb[WGALLOWEDIP_A_CIDR_MASK]) };
                g_array_append_val(peer->allowed_ips, p);
        }
}

static int decode_peer_attr(const struct nlattr *attr, void *data) {
        DecodedPeer *peer = data;

        switch (mnl_attr_get_type(attr)) {
        case WGPEER_A_PUBLIC_KEY:
                ck_assert_uint_eq(mnl_attr_get_payload_len(attr), WG_KEY_LEN);
                memcpy(peer->key.bytes, mnl_attr_get_payload(attr), WG_KEY_LEN);
                break;
        case WGPEER_A_FLAGS:
                ck_assert(!peer->has_flags);
                ck_assert_int_eq(mnl_attr_validate(attr, MNL_TYPE_U32), 0);
                peer->has_flags = true;
                peer->flags = mnl_attr_get_u32(attr);
                break;
        case WGPEER_A_ENDPOINT:
                ck_assert(!peer->has_endpoint);
                ck_assert_uint_eq(mnl_attr_get_payload_len(attr), sizeof(struct sockaddr_in));
                peer->has_endpoint = true;
                memcpy(&peer->endpoint, mnl_attr_get_payload(attr), sizeof(peer->endpoint));
                break;
        case WGPEER_A_PERSISTENT_KEEPALIVE_INTERVAL:
                ck_assert(!peer->has_keepalive);
                ck_assert_int_eq(mnl_attr_validate(attr, MNL_TYPE_U16), 0);
                peer->has_keepalive = true;
                peer->keepalive = mnl_attr_get_u16(attr);
                break;
        case WGPEER_A_ALLOWEDIPS:
                ck_assert(!peer->has_allowed_ips);
                peer->has_allowed_ips = true;
                decode_allowed_ips(attr, peer);
                break;
        default:
                ck_abort_msg("unexpected peer attribute %u", mnl_attr_get_type(attr));
        }
        return MNL_CB_OK;
}

static int decode_device_attr(const struct nlattr *attr, void *data) {
        DecodedMessage *m = data;
        const struct nlattr *nest;

        switch (mnl_attr_get_type(attr)) {
        case WGDEVICE_A_IFNAME:
                ck_assert_int_eq(mnl_attr_validate(attr, MNL_TYPE_NUL_STRING), 0);
                g_strlcpy(m->ifname, mnl_attr_get_str(attr), sizeof(m->ifname));
                break;
        case WGDEVICE_A_PRIVATE_KEY:
                ck_assert_uint_eq(mnl_attr_get_payload_len(attr), WG_KEY_LEN);
                m->has_private_key = true;
                memcpy(m->private_key.bytes, mnl_attr_get_payload(attr), WG_KEY_LEN);
                break;
        case WGDEVICE_A_LISTEN_PORT:
                ck_assert_int_eq(mnl_attr_validate(attr, MNL_TYPE_U16), 0);
                m->has_listen_port = true;
                m->listen_port = mnl_attr_get_u16(attr);
                break;
        case WGDEVICE_A_FLAGS:
                ck_assert_int_eq(mnl_attr_validate(attr, MNL_TYPE_U32), 0);
                m->has_flags = true;
                m->device_flags = mnl_attr_get_u32(attr);
                break;
        case WGDEVICE_A_PEERS:
                ck_assert(!m->has_peers);
                ck_assert(attr->nla_type & NLA_F_NESTED);
                m->has_peers = true;
                mnl_attr_for_each_nested(nest, attr) {
                        DecodedPeer *peer = g_new0(DecodedPeer, 1);

                        peer->allowed_ips = g_array_new(FALSE, FALSE, sizeof(Ipv4Prefix));
                        g_ptr_array_add(m->peers, peer);
                        ck_assert(nest->nla_type & NLA_F_NESTED);
                        ck_assert_int_ge(mnl_attr_parse_nested(nest, decode_peer_attr, peer), 0);
                        ck_assert(!wg_key_is_zero(&peer->key));
                }
                break;
        default:
                ck_abort_msg("unexpected device attribute %u", mnl_attr_get_type(attr));
        }
        return MNL_CB_OK;
}

static GPtrArray *decode(const GPtrArray *messages, size_t buffer_size) {
        GPtrArray *out = g_ptr_array_new_with_free_func(decoded_message_free);

        for (guint i = 0; i < messages->len; i++) {
                gsize size;
                const struct nlmsghdr *nlh = g_bytes_get_data(messages->pdata[i], &size);
                const struct genlmsghdr *genl;
                DecodedMessage *m = g_new0(DecodedMessage, 1);

                m->peers = g_ptr_array_new_with_free_func(decoded_peer_free);
                g_ptr_array_add(out, m);
                ck_assert_uint_le(size, buffer_size);
                ck_assert_uint_eq(nlh->nlmsg_len, size);
                ck_assert(mnl_nlmsg_ok(nlh, (int) size));
                m->type = nlh->nlmsg_type;
                m->flags = nlh->nlmsg_flags;
                m->seq = nlh->nlmsg_seq;
                genl = mnl_nlmsg_get_payload(nlh);
                m->cmd = genl->cmd;
                m->version = genl->version;
                ck_assert_int_ge(mnl_attr_parse(nlh, sizeof(*genl), decode_device_attr, m), 0);
        }
        return out;
}

/* --- helpers --- */

static WgKey key_n(unsigned n) {
        WgKey key = { 0 };

        key.bytes[0] = 0xee;
        memcpy(key.bytes + 1, &n, sizeof(n));
        return key;
}

static struct sockaddr_in endpoint(const char *address, uint16_t port) {
        struct sockaddr_in sa = { .sin_family = AF_INET, .sin_port = htons(port) };

        ck_assert_int_eq(inet_pton(AF_INET, address, &sa.sin_addr), 1);
        return sa;
}

static void add_ip(WgPeer *peer, uint32_t address, unsigned prefixlen) {
        Ipv4Prefix p = { .address = address, .prefixlen = prefixlen };

        wg_peer_add_allowed_ip(peer, &p);
}

static const DecodedMessage *message_at(const GPtrArray *decoded, guint i) {
        ck_assert_uint_lt(i, decoded->len);
        return decoded->pdata[i];
}

static const DecodedPeer *peer_at(const DecodedMessage *m, guint i) {
        ck_assert_uint_lt(i, m->peers->len);
        return m->peers->pdata[i];
}

/* --- building --- */

START_TEST(test_build_one_message) {
        g_autoptr(WgDevice) change = wg_device_new("wg0");
        g_autoptr(GPtrArray) messages = NULL;
        g_autoptr(GPtrArray) decoded = NULL;
        const DecodedMessage *m;
        const DecodedPeer *p;
        WgKey k;
        WgPeer *peer;

        change->flags = WG_DEVICE_HAS_PRIVATE_KEY | WG_DEVICE_HAS_LISTEN_PORT | WG_DEVICE_REPLACE_PEERS;
        memset(change->private_key.bytes, 0x42, WG_KEY_LEN);
        change->listen_port = 51820;
        k = key_n(1);
        wg_device_add_peer(change, &k)->flags = WG_PEER_REMOVE_ME;
        k = key_n(2);
        peer = wg_device_add_peer(change, &k);
        peer->flags = WG_PEER_REPLACE_ALLOWED_IPS | WG_PEER_HAS_ENDPOINT | WG_PEER_HAS_KEEPALIVE;
        peer->endpoint = endpoint("192.0.2.10", 51821);
        peer->persistent_keepalive = 25;
        add_ip(peer, 0x0a170700, 24);
        add_ip(peer, 0, 0);
        k = key_n(3);
        add_ip(wg_device_add_peer(change, &k), 0x0a050007, 32);

        messages = wg_netlink_build_set(change, FAMILY, SEQ, 8192);
        ck_assert_uint_eq(messages->len, 1);
        decoded = decode(messages, 8192);
        m = message_at(decoded, 0);

        ck_assert_uint_eq(m->type, FAMILY);
        ck_assert_uint_eq(m->flags, NLM_F_REQUEST | NLM_F_ACK);
        ck_assert_uint_eq(m->seq, SEQ);
        ck_assert_uint_eq(m->cmd, WG_CMD_SET_DEVICE);
        ck_assert_uint_eq(m->version, WG_GENL_VERSION);
        ck_assert_str_eq(m->ifname, "wg0");
        ck_assert(m->has_private_key);
        ck_assert_mem_eq(m->private_key.bytes, change->private_key.bytes, WG_KEY_LEN);
        ck_assert(m->has_listen_port);
        ck_assert_uint_eq(m->listen_port, 51820);
        ck_assert(m->has_flags);
        ck_assert_uint_eq(m->device_flags, WGDEVICE_F_REPLACE_PEERS);
        ck_assert_uint_eq(m->peers->len, 3);

        p = peer_at(m, 0);
        k = key_n(1);
        ck_assert_mem_eq(p->key.bytes, k.bytes, WG_KEY_LEN);
        ck_assert(p->has_flags);
        ck_assert_uint_eq(p->flags, WGPEER_F_REMOVE_ME);
        ck_assert(!p->has_endpoint && !p->has_keepalive && !p->has_allowed_ips);

        p = peer_at(m, 1);
        k = key_n(2);
        ck_assert_mem_eq(p->key.bytes, k.bytes, WG_KEY_LEN);
        ck_assert_uint_eq(p->flags, WGPEER_F_REPLACE_ALLOWEDIPS);
        ck_assert(p->has_endpoint);
        ck_assert_uint_eq(p->endpoint.sin_family, AF_INET);
        ck_assert_uint_eq(p->endpoint.sin_addr.s_addr, htonl(0xc000020a));
        ck_assert_uint_eq(p->endpoint.sin_port, htons(51821));
        ck_assert(p->has_keepalive);
        ck_assert_uint_eq(p->keepalive, 25);
        ck_assert_uint_eq(p->allowed_ips->len, 2);
        ck_assert_uint_eq(g_array_index(p->allowed_ips, Ipv4Prefix, 0).address, 0x0a170700);
        ck_assert_uint_eq(g_array_index(p->allowed_ips, Ipv4Prefix, 0).prefixlen, 24);
        ck_assert_uint_eq(g_array_index(p->allowed_ips, Ipv4Prefix, 1).address, 0);
        ck_assert_uint_eq(g_array_index(p->allowed_ips, Ipv4Prefix, 1).prefixlen, 0);

        /* No flags at all: added to, not replaced. */
        p = peer_at(m, 2);
        ck_assert(!p->has_flags && !p->has_endpoint && !p->has_keepalive);
        ck_assert_uint_eq(p->allowed_ips->len, 1);
        ck_assert_uint_eq(g_array_index(p->allowed_ips, Ipv4Prefix, 0).address, 0x0a050007);
}
END_TEST

START_TEST(test_build_device_only) {
        g_autoptr(WgDevice) change = wg_device_new("wg1");
        g_autoptr(GPtrArray) messages = NULL;
        g_autoptr(GPtrArray) decoded = NULL;
        const DecodedMessage *m;

        change->flags = WG_DEVICE_HAS_LISTEN_PORT;
        change->listen_port = 1;
        messages = wg_netlink_build_set(change, FAMILY, SEQ, 8192);
        decoded = decode(messages, 8192);
        ck_assert_uint_eq(decoded->len, 1);
        m = message_at(decoded, 0);
        ck_assert_str_eq(m->ifname, "wg1");
        ck_assert(!m->has_private_key && !m->has_flags && !m->has_peers);
        ck_assert_uint_eq(m->listen_port, 1);
}
END_TEST

typedef struct {
        const char *name;
        unsigned n_peers;
        unsigned ips_on_first;          /* the first peer's allowed IPs */
        unsigned ips_each;              /* every other peer's */
        size_t buffer_size;
} SplitCase;

static const SplitCase split_cases[] = {
        { "2000 allowed IPs on one peer", 3, 2000, 1, 8192 },
        { "2000 peers", 2000, 1, 1, 8192 },
        { "smallest buffer", 40, 30, 3, WG_NETLINK_MIN_BUFFER },
        { "page-sized buffer", 300, 700, 5, 4096 },
};

static WgDevice *split_device(const SplitCase *c) {
        WgDevice *change = wg_device_new("wg0");

        change->flags = WG_DEVICE_HAS_PRIVATE_KEY | WG_DEVICE_HAS_LISTEN_PORT | WG_DEVICE_REPLACE_PEERS;
        memset(change->private_key.bytes, 0x42, WG_KEY_LEN);
        change->listen_port = 51820;
        for (unsigned i = 0; i < c->n_peers; i++) {
                WgKey k = key_n(i);
                WgPeer *peer = wg_device_add_peer(change, &k);
                unsigned n = i == 0 ? c->ips_on_first : c->ips_each;

                peer->flags = WG_PEER_REPLACE_ALLOWED_IPS | WG_PEER_HAS_KEEPALIVE;
                peer->persistent_keepalive = (uint16_t) i;
                if (i % 2 == 0) {
                        peer->flags |= WG_PEER_HAS_ENDPOINT;
                        peer->endpoint = endpoint("198.51.100.1", (uint16_t) (1000 + i));
                }
                for (unsigned j = 0; j < n; j++)
                        add_ip(peer, 0x0a000000 + (i << 12) + j, 32);
        }
        return change;
}

START_TEST(test_build_split) {
        const SplitCase *c = &split_cases[_i];
        g_autoptr(WgDevice) change = split_device(c);
        g_autoptr(GPtrArray) messages = wg_netlink_build_set(change, FAMILY, SEQ, c->buffer_size);
        g_autoptr(GPtrArray) decoded = decode(messages, c->buffer_size);
        guint peer_index = 0, ip_index = 0;

        ck_assert_msg(decoded->len > 1, "case %s: not split", c->name);
        for (guint i = 0; i < decoded->len; i++) {
                const DecodedMessage *m = message_at(decoded, i);

                ck_assert_uint_eq(m->seq, SEQ + i);
                ck_assert_str_eq(m->ifname, "wg0");
                /* Device settings once, or REPLACE_PEERS would undo the earlier parts. */
                ck_assert(m->has_private_key == (i == 0));
                ck_assert(m->has_listen_port == (i == 0));
                ck_assert(m->has_flags == (i == 0));
                ck_assert_msg(m->peers->len > 0, "case %s: message %u carries no peer", c->name, i);

                for (guint j = 0; j < m->peers->len; j++) {
                        const DecodedPeer *p = peer_at(m, j);
                        const WgPeer *want;
                        bool continued = ip_index > 0;

                        if (!continued)
                                ck_assert_uint_lt(peer_index, change->peers->len);
                        want = change->peers->pdata[peer_index];
                        ck_assert_mem_eq(p->key.bytes, want->public_key.bytes, WG_KEY_LEN);
                        /* Only a peer's first part replaces; later parts add. */
                        ck_assert_msg(p->has_flags == !continued, "case %s: message %u peer %u flags", c->name, i, j);
                        if (!continued) {
                                ck_assert_uint_eq(p->flags, WGPEER_F_REPLACE_ALLOWEDIPS);
                                ck_assert(p->has_keepalive);
                                ck_assert_uint_eq(p->keepalive, want->persistent_keepalive);
                                ck_assert(p->has_endpoint == !!(want->flags & WG_PEER_HAS_ENDPOINT));
                        } else {
                                ck_assert(j == 0);
                                ck_assert(!p->has_endpoint && !p->has_keepalive);
                                ck_assert(p->allowed_ips->len > 0);
                        }
                        for (guint k = 0; k < p->allowed_ips->len; k++) {
                                const Ipv4Prefix *have = &g_array_index(p->allowed_ips, Ipv4Prefix, k);
                                const Ipv4Prefix *expect = &g_array_index(want->allowed_ips, Ipv4Prefix, ip_index);

                                ck_assert_uint_lt(ip_index, want->allowed_ips->len);
                                ck_assert_uint_eq(have->address, expect->address);
                                ck_assert_uint_eq(have->prefixlen, expect->prefixlen);
                                ip_index++;
                        }
                        if (ip_index == want->allowed_ips->len) {
                                peer_index++;
                                ip_index = 0;
                        }
                }
        }
        ck_assert_uint_eq(peer_index, change->peers->len);
        ck_assert_uint_eq(ip_index, 0);
}
END_TEST

START_TEST(test_build_split_fills_messages) {
        SplitCase c = { "fill", 1, 2000, 0, 8192 };
        g_autoptr(WgDevice) change = split_device(&c);
        g_autoptr(GPtrArray) messages = wg_netlink_build_set(change, FAMILY, SEQ, 8192);

        /* An allowed IP takes 28 bytes: 2000 of them need 7 messages of 8 KiB, not more. */
        ck_assert_uint_eq(messages->len, 7);
        for (guint i = 0; i + 1 < messages->len; i++)
                ck_assert_uint_gt(g_bytes_get_size(messages->pdata[i]), 8192 - 28);
}
END_TEST

START_TEST(test_build_then_parse) {
        const SplitCase *c = &split_cases[_i];
        g_autoptr(WgDevice) change = split_device(c);
        g_autoptr(GPtrArray) messages = wg_netlink_build_set(change, FAMILY, SEQ, c->buffer_size);
        g_autoptr(WgDevice) device = wg_device_new("wg0");
        g_autoptr(GError) error = NULL;

        /* A GET dump carries the same attributes, split the same way. */
        for (guint i = 0; i < messages->len; i++)
                ck_assert_msg(wg_netlink_parse_device(g_bytes_get_data(messages->pdata[i], NULL), device, &error),
                              "%s", error ? error->message : "");
        ck_assert_uint_eq(device->peers->len, change->peers->len);
        ck_assert_mem_eq(device->private_key.bytes, change->private_key.bytes, WG_KEY_LEN);
        ck_assert_uint_eq(device->listen_port, 51820);
        ck_assert_ptr_null(wg_device_diff(device, change));
        for (guint i = 0; i < device->peers->len; i++) {
                const WgPeer *a = device->peers->pdata[i], *b = change->peers->pdata[i];

                ck_assert_uint_eq(a->allowed_ips->len, b->allowed_ips->len);
                ck_assert_uint_eq(a->persistent_keepalive, b->persistent_keepalive);
                ck_assert_uint_eq(a->flags, b->flags & (WG_PEER_HAS_ENDPOINT | WG_PEER_HAS_KEEPALIVE));
        }
}
END_TEST

/* --- parsing GET answers --- */

static struct nlmsghdr *begin_get(char *buf) {
        struct nlmsghdr *nlh = mnl_nlmsg_put_header(buf);
        struct genlmsghdr *genl = mnl_nlmsg_put_extra_header(nlh, sizeof(*genl));

        nlh->nlmsg_type = FAMILY;
        genl->cmd = WG_CMD_GET_DEVICE;
        genl->version = WG_GENL_VERSION;
        mnl_attr_put_u32(nlh, WGDEVICE_A_IFINDEX, 7);
        mnl_attr_put_strz(nlh, WGDEVICE_A_IFNAME, "wg0");
        return nlh;
}

START_TEST(test_parse_get_status) {
        char buf[4096] = { 0 };
        struct nlmsghdr *nlh = begin_get(buf);
        g_autoptr(WgDevice) device = wg_device_new("wg0");
        g_autoptr(GError) error = NULL;
        struct nlattr *peers, *peer, *ips, *ip;
        struct __kernel_timespec ts = { .tv_sec = 1700000000, .tv_nsec = 5 };
        struct sockaddr_in6 sa6 = { .sin6_family = AF_INET6, .sin6_port = htons(9) };
        uint8_t v6[16] = { 0xfd };
        WgKey a = key_n(10), b = key_n(11), pub;
        const WgPeer *p;

        memset(pub.bytes, 0x99, WG_KEY_LEN);
        mnl_attr_put(nlh, WGDEVICE_A_PUBLIC_KEY, WG_KEY_LEN, pub.bytes);
        mnl_attr_put_u16(nlh, WGDEVICE_A_LISTEN_PORT, 51820);
        mnl_attr_put_u32(nlh, WGDEVICE_A_FWMARK, 0);
        peers = mnl_attr_nest_start(nlh, WGDEVICE_A_PEERS);

        peer = mnl_attr_nest_start(nlh, 0);
        mnl_attr_put(nlh, WGPEER_A_PUBLIC_KEY, WG_KEY_LEN, a.bytes);
        mnl_attr_put(nlh, WGPEER_A_PRESHARED_KEY, WG_KEY_LEN, (uint8_t[WG_KEY_LEN]) { 0 });
        mnl_attr_put(nlh, WGPEER_A_LAST_HANDSHAKE_TIME, sizeof(ts), &ts);
        mnl_attr_put_u64(nlh, WGPEER_A_RX_BYTES, 1234);
        mnl_attr_put_u64(nlh, WGPEER_A_TX_BYTES, 5678);
        mnl_attr_put_u16(nlh, WGPEER_A_PERSISTENT_KEEPALIVE_INTERVAL, 0);
        mnl_attr_put_u32(nlh, WGPEER_A_PROTOCOL_VERSION, 1);
        mnl_attr_put(nlh, WGPEER_A_ENDPOINT, sizeof(sa6), &sa6);
        ips = mnl_attr_nest_start(nlh, WGPEER_A_ALLOWEDIPS);
        ip = mnl_attr_nest_start(nlh, 0);
        mnl_attr_put_u16(nlh, WGALLOWEDIP_A_FAMILY, AF_INET6);
        mnl_attr_put(nlh, WGALLOWEDIP_A_IPADDR, sizeof(v6), v6);
        mnl_attr_put_u8(nlh, WGALLOWEDIP_A_CIDR_MASK, 64);
        mnl_attr_nest_end(nlh, ip);
        ip = mnl_attr_nest_start(nlh, 0);
        mnl_attr_put_u16(nlh, WGALLOWEDIP_A_FAMILY, AF_INET);
        mnl_attr_put(nlh, WGALLOWEDIP_A_IPADDR, 4, &(struct in_addr) { .s_addr = htonl(0x0a170700) });
        mnl_attr_put_u8(nlh, WGALLOWEDIP_A_CIDR_MASK, 24);
        mnl_attr_nest_end(nlh, ip);
        mnl_attr_nest_end(nlh, ips);
        mnl_attr_nest_end(nlh, peer);

        peer = mnl_attr_nest_start(nlh, 0);
        mnl_attr_put(nlh, WGPEER_A_PUBLIC_KEY, WG_KEY_LEN, b.bytes);
        mnl_attr_nest_end(nlh, peer);
        mnl_attr_nest_end(nlh, peers);

        ck_assert_msg(wg_netlink_parse_device(nlh, device, &error), "%s", error ? error->message : "");
        ck_assert_uint_eq(device->flags, WG_DEVICE_HAS_LISTEN_PORT);
        ck_assert_mem_eq(device->public_key.bytes, pub.bytes, WG_KEY_LEN);
        ck_assert_uint_eq(device->peers->len, 2);
        p = device->peers->pdata[0];
        ck_assert_mem_eq(p->public_key.bytes, a.bytes, WG_KEY_LEN);
        /* The IPv6 endpoint and network are not in the model. */
        ck_assert_uint_eq(p->flags, WG_PEER_HAS_KEEPALIVE);
        ck_assert_int_eq(p->last_handshake, 1700000000);
        ck_assert_uint_eq(p->rx_bytes, 1234);
        ck_assert_uint_eq(p->tx_bytes, 5678);
        ck_assert_uint_eq(p->allowed_ips->len, 1);
        ck_assert_uint_eq(g_array_index(p->allowed_ips, Ipv4Prefix, 0).address, 0x0a170700);
        p = device->peers->pdata[1];
        ck_assert_uint_eq(p->flags, 0);
        ck_assert_uint_eq(p->allowed_ips->len, 0);
}
END_TEST

typedef enum {
        BAD_SHORT_KEY,
        BAD_NO_KEY,
        BAD_PORT_SIZE,
        BAD_MASK,
        BAD_ENDPOINT,
} BadKind;

static const struct {
        BadKind kind;
        const char *message;
} bad_gets[] = {
        { BAD_SHORT_KEY, "peer key attribute this service cannot read (type 1, 31 bytes" },
        { BAD_NO_KEY, "peer without a public key" },
        { BAD_PORT_SIZE, "listen port attribute" },
        { BAD_MASK, "allowed IP mask attribute" },
        { BAD_ENDPOINT, "peer endpoint attribute" },
};

START_TEST(test_parse_get_bad) {
        char buf[4096] = { 0 };
        struct nlmsghdr *nlh = begin_get(buf);
        g_autoptr(WgDevice) device = wg_device_new("wg0");
        g_autoptr(GError) error = NULL;
        struct nlattr *peers, *peer, *ips, *ip;
        WgKey a = key_n(1);

        if (bad_gets[_i].kind == BAD_PORT_SIZE)
                mnl_attr_put_u32(nlh, WGDEVICE_A_LISTEN_PORT, 1);
        peers = mnl_attr_nest_start(nlh, WGDEVICE_A_PEERS);
        peer = mnl_attr_nest_start(nlh, 0);
        switch (bad_gets[_i].kind) {
        case BAD_SHORT_KEY:
                mnl_attr_put(nlh, WGPEER_A_PUBLIC_KEY, WG_KEY_LEN - 1, a.bytes);
                break;
        case BAD_NO_KEY:
                mnl_attr_put_u64(nlh, WGPEER_A_RX_BYTES, 1);
                break;
        case BAD_MASK:
                mnl_attr_put(nlh, WGPEER_A_PUBLIC_KEY, WG_KEY_LEN, a.bytes);
                ips = mnl_attr_nest_start(nlh, WGPEER_A_ALLOWEDIPS);
                ip = mnl_attr_nest_start(nlh, 0);
                mnl_attr_put_u16(nlh, WGALLOWEDIP_A_FAMILY, AF_INET);
                mnl_attr_put(nlh, WGALLOWEDIP_A_IPADDR, 4, &(struct in_addr) { 0 });
                mnl_attr_put_u8(nlh, WGALLOWEDIP_A_CIDR_MASK, 33);
                mnl_attr_nest_end(nlh, ip);
                mnl_attr_nest_end(nlh, ips);
                break;
        case BAD_ENDPOINT:
                mnl_attr_put(nlh, WGPEER_A_PUBLIC_KEY, WG_KEY_LEN, a.bytes);
                mnl_attr_put(nlh, WGPEER_A_ENDPOINT, 8, &(struct sockaddr_in) { .sin_family = AF_INET });
                break;
        default:
                mnl_attr_put(nlh, WGPEER_A_PUBLIC_KEY, WG_KEY_LEN, a.bytes);
                break;
        }
        mnl_attr_nest_end(nlh, peer);
        mnl_attr_nest_end(nlh, peers);

        ck_assert(!wg_netlink_parse_device(nlh, device, &error));
        ck_assert(g_error_matches(error, PIC_ERROR, PIC_ERROR_FAILED));
        ck_assert_msg(strstr(error->message, bad_gets[_i].message), "case %d: \"%s\" lacks \"%s\"", _i,
                      error->message, bad_gets[_i].message);
}
END_TEST

/* --- the kernel, as far as this machine has one --- */

START_TEST(test_kernel_available) {
        g_autoptr(WgBackend) backend = wg_backend_new_kernel("wgt0");
        gint64 start = g_get_monotonic_time();
        bool available = wg_kernel_available();

        fprintf(stderr, "# wg_kernel_available() = %s in %" G_GINT64_FORMAT " us\n",
                available ? "true" : "false", g_get_monotonic_time() - start);
        ck_assert_str_eq(wg_backend_kind(backend), "kernel");
        /* Only a question: no interface appeared. */
        ck_assert_uint_eq(if_nametoindex("wgt0"), 0);
        if (!available) {
                g_autoptr(WgDevice) device = NULL;
                g_autoptr(GError) error = NULL;

                ck_assert(!wg_backend_get(backend, &device, &error));
                ck_assert_ptr_nonnull(strstr(error->message, "set WireGuard=userspace"));
        }
}
END_TEST

START_TEST(test_kernel_ensure_without_module) {
        g_autoptr(WgBackend) backend = NULL;
        g_autoptr(GError) error = NULL;

        if (geteuid() != 0 || wg_kernel_available()) {
                fprintf(stderr, "# skipped: needs root and a kernel without WireGuard\n");
                return;
        }
        /* In a network namespace of its own (Check runs each test in a fork). */
        ck_assert_msg(unshare(CLONE_NEWNET) == 0, "unshare: %s", g_strerror(errno));
        backend = wg_backend_new_kernel("wgt0");
        ck_assert(!wg_backend_ensure_device(backend, &error));
        ck_assert_ptr_nonnull(strstr(error->message, "Failed to create wgt0: the kernel has no WireGuard module"));
        ck_assert_uint_eq(if_nametoindex("wgt0"), 0);
        /* Removing what is not there is quiet. */
        wg_backend_remove_device(backend);
        g_clear_error(&error);

        /* An interface of that name that is not WireGuard is refused by name. */
        g_clear_pointer(&backend, wg_backend_free);
        backend = wg_backend_new_kernel("lo");
        ck_assert(!wg_backend_ensure_device(backend, &error));
        ck_assert_ptr_nonnull(strstr(error->message, "lo"));
}
END_TEST

Suite *unit_suite(void) {
        Suite *s = suite_create("wg-netlink");
        TCase *tc = tcase_create("build");

        tcase_add_test(tc, test_build_one_message);
        tcase_add_test(tc, test_build_device_only);
        tcase_add_loop_test(tc, test_build_split, 0, G_N_ELEMENTS(split_cases));
        tcase_add_test(tc, test_build_split_fills_messages);
        tcase_add_loop_test(tc, test_build_then_parse, 0, G_N_ELEMENTS(split_cases));
        suite_add_tcase(s, tc);

        tc = tcase_create("parse");
        tcase_add_test(tc, test_parse_get_status);
        tcase_add_loop_test(tc, test_parse_get_bad, 0, G_N_ELEMENTS(bad_gets));
        suite_add_tcase(s, tc);

        tc = tcase_create("kernel");
        tcase_add_test(tc, test_kernel_available);
        tcase_add_test(tc, test_kernel_ensure_without_module);
        suite_add_tcase(s, tc);
        return s;
}
