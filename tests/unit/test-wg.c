/* test-wg.c: the WireGuard device model and the difference between two devices. */
#include <arpa/inet.h>
#include <string.h>

#include "unit-main.h"
#include "wg.h"

static WgKey key_n(uint8_t n) {
        WgKey key;

        memset(key.bytes, n, sizeof(key.bytes));
        return key;
}

static Ipv4Prefix prefix(const char *text) {
        Ipv4Prefix p;

        ck_assert_msg(netaddr_parse_prefix(text, true, &p, NULL), "bad prefix %s", text);
        return p;
}

static struct sockaddr_in endpoint(const char *address, uint16_t port) {
        struct sockaddr_in sa = { .sin_family = AF_INET, .sin_port = htons(port) };

        ck_assert_int_eq(inet_pton(AF_INET, address, &sa.sin_addr), 1);
        return sa;
}

static WgPeer *add_peer(WgDevice *device, uint8_t n, const char *ip1, const char *ip2) {
        WgKey key = key_n(n);
        WgPeer *peer = wg_device_add_peer(device, &key);
        Ipv4Prefix p;

        if (ip1) {
                p = prefix(ip1);
                wg_peer_add_allowed_ip(peer, &p);
        }
        if (ip2) {
                p = prefix(ip2);
                wg_peer_add_allowed_ip(peer, &p);
        }
        return peer;
}

/* A device as the reconciler builds it: key, port, a cell peer and a road warrior. */
static WgDevice *base_device(void) {
        WgDevice *device = wg_device_new("wg0");
        WgPeer *cell;

        device->flags = WG_DEVICE_HAS_PRIVATE_KEY | WG_DEVICE_HAS_LISTEN_PORT;
        device->private_key = key_n(0x11);
        device->listen_port = 51820;
        cell = add_peer(device, 0xa1, "10.23.7.0/24", NULL);
        cell->flags = WG_PEER_HAS_ENDPOINT | WG_PEER_HAS_KEEPALIVE;
        cell->endpoint = endpoint("192.0.2.10", 51820);
        cell->persistent_keepalive = 25;
        add_peer(device, 0xb2, "10.5.0.7/32", NULL);
        return device;
}

static const WgPeer *peer_at(const WgDevice *device, guint i) {
        ck_assert_uint_lt(i, device->peers->len);
        return device->peers->pdata[i];
}

static void assert_key(const WgKey *key, uint8_t n) {
        WgKey want = key_n(n);

        ck_assert_mem_eq(key->bytes, want.bytes, WG_KEY_LEN);
}

START_TEST(test_new_and_find) {
        g_autoptr(WgDevice) device = base_device();
        WgKey missing = key_n(0x77), present = key_n(0xb2);
        const WgPeer *peer;

        ck_assert_str_eq(device->name, "wg0");
        ck_assert_uint_eq(device->peers->len, 2);
        ck_assert_ptr_null(wg_device_find_peer(device, &missing));
        peer = wg_device_find_peer(device, &present);
        ck_assert_ptr_eq(peer, peer_at(device, 1));
        ck_assert_uint_eq(peer->allowed_ips->len, 1);
}
END_TEST

START_TEST(test_allowed_ip_canonical) {
        g_autoptr(WgDevice) device = wg_device_new("wg0");
        WgPeer *peer = add_peer(device, 1, "10.23.7.1/24", NULL);
        const Ipv4Prefix *p = &g_array_index(peer->allowed_ips, Ipv4Prefix, 0);

        /* Host bits go: WireGuard reports networks. */
        ck_assert_uint_eq(p->address, 0x0a170700);
        ck_assert_uint_eq(p->prefixlen, 24);
}
END_TEST

START_TEST(test_diff_equal) {
        g_autoptr(WgDevice) current = base_device();
        g_autoptr(WgDevice) desired = base_device();

        ck_assert_ptr_null(wg_device_diff(current, desired));
}
END_TEST

START_TEST(test_diff_equal_ignores_status_and_order) {
        g_autoptr(WgDevice) current = wg_device_new("wg0");
        g_autoptr(WgDevice) desired = wg_device_new("wg0");
        WgPeer *peer;

        /* As read back: allowed IPs in another order, repeated, counters set,
         * and a learnt endpoint on a peer the model gives none. */
        peer = add_peer(current, 3, "10.9.0.0/16", "10.1.0.0/24");
        wg_peer_add_allowed_ip(peer, &(Ipv4Prefix) { .address = 0x0a010005, .prefixlen = 24 });
        peer->flags = WG_PEER_HAS_ENDPOINT | WG_PEER_HAS_KEEPALIVE;
        peer->endpoint = endpoint("198.51.100.4", 40000);
        peer->rx_bytes = 123;
        peer->last_handshake = 1700000000;
        add_peer(desired, 3, "10.1.0.0/24", "10.9.0.0/16");

        ck_assert_ptr_null(wg_device_diff(current, desired));
}
END_TEST

START_TEST(test_diff_add_peer) {
        g_autoptr(WgDevice) current = base_device();
        g_autoptr(WgDevice) desired = base_device();
        g_autoptr(WgDevice) change = NULL;
        WgPeer *added;
        const WgPeer *peer;

        added = add_peer(desired, 0xc3, "10.44.0.0/24", "0.0.0.0/0");
        added->flags |= WG_PEER_HAS_ENDPOINT;
        added->endpoint = endpoint("203.0.113.9", 51000);

        change = wg_device_diff(current, desired);
        ck_assert_ptr_nonnull(change);
        ck_assert_str_eq(change->name, "wg0");
        ck_assert_uint_eq(change->flags, 0);
        ck_assert_uint_eq(change->peers->len, 1);
        peer = peer_at(change, 0);
        assert_key(&peer->public_key, 0xc3);
        ck_assert_uint_eq(peer->flags, WG_PEER_REPLACE_ALLOWED_IPS | WG_PEER_HAS_ENDPOINT);
        ck_assert_uint_eq(peer->endpoint.sin_addr.s_addr, htonl(0xcb007109));
        ck_assert_uint_eq(ntohs(peer->endpoint.sin_port), 51000);
        ck_assert_uint_eq(peer->allowed_ips->len, 2);
        ck_assert_uint_eq(g_array_index(peer->allowed_ips, Ipv4Prefix, 1).prefixlen, 0);
}
END_TEST

START_TEST(test_diff_remove_peer) {
        g_autoptr(WgDevice) current = base_device();
        g_autoptr(WgDevice) desired = base_device();
        g_autoptr(WgDevice) change = NULL;
        const WgPeer *peer;

        g_ptr_array_remove_index(desired->peers, 0);

        change = wg_device_diff(current, desired);
        ck_assert_ptr_nonnull(change);
        ck_assert_uint_eq(change->peers->len, 1);
        peer = peer_at(change, 0);
        assert_key(&peer->public_key, 0xa1);
        ck_assert_uint_eq(peer->flags, WG_PEER_REMOVE_ME);
        ck_assert_uint_eq(peer->allowed_ips->len, 0);
}
END_TEST

START_TEST(test_diff_remove_before_add) {
        g_autoptr(WgDevice) current = wg_device_new("wg0");
        g_autoptr(WgDevice) desired = wg_device_new("wg0");
        g_autoptr(WgDevice) change = NULL;

        /* The network moves from one peer to another. */
        add_peer(current, 1, "10.1.0.0/24", NULL);
        add_peer(desired, 2, "10.1.0.0/24", NULL);

        change = wg_device_diff(current, desired);
        ck_assert_uint_eq(change->peers->len, 2);
        assert_key(&peer_at(change, 0)->public_key, 1);
        ck_assert_uint_eq(peer_at(change, 0)->flags, WG_PEER_REMOVE_ME);
        assert_key(&peer_at(change, 1)->public_key, 2);
        ck_assert_uint_eq(peer_at(change, 1)->flags, WG_PEER_REPLACE_ALLOWED_IPS);
}
END_TEST

START_TEST(test_diff_allowed_ips) {
        g_autoptr(WgDevice) current = base_device();
        g_autoptr(WgDevice) desired = base_device();
        g_autoptr(WgDevice) change = NULL;
        WgPeer *cell = desired->peers->pdata[0];
        Ipv4Prefix all = prefix("0.0.0.0/0");
        const WgPeer *peer;

        /* A peer now routes through this link: it also carries the default route. */
        wg_peer_add_allowed_ip(cell, &all);

        change = wg_device_diff(current, desired);
        ck_assert_ptr_nonnull(change);
        ck_assert_uint_eq(change->flags, 0);
        ck_assert_uint_eq(change->peers->len, 1);
        peer = peer_at(change, 0);
        assert_key(&peer->public_key, 0xa1);
        /* The full entry: the new list replaces the old one, endpoint and keepalive kept. */
        ck_assert_uint_eq(peer->flags,
                          WG_PEER_REPLACE_ALLOWED_IPS | WG_PEER_HAS_ENDPOINT | WG_PEER_HAS_KEEPALIVE);
        ck_assert_uint_eq(peer->persistent_keepalive, 25);
        ck_assert_uint_eq(peer->allowed_ips->len, 2);
        ck_assert_uint_eq(g_array_index(peer->allowed_ips, Ipv4Prefix, 0).address, 0x0a170700);
        ck_assert_uint_eq(g_array_index(peer->allowed_ips, Ipv4Prefix, 1).prefixlen, 0);
}
END_TEST

START_TEST(test_diff_allowed_ips_removed) {
        g_autoptr(WgDevice) current = base_device();
        g_autoptr(WgDevice) desired = base_device();
        g_autoptr(WgDevice) change = NULL;
        WgPeer *warrior = desired->peers->pdata[1];
        const WgPeer *peer;

        g_array_set_size(warrior->allowed_ips, 0);

        change = wg_device_diff(current, desired);
        ck_assert_uint_eq(change->peers->len, 1);
        peer = peer_at(change, 0);
        assert_key(&peer->public_key, 0xb2);
        ck_assert_uint_eq(peer->flags, WG_PEER_REPLACE_ALLOWED_IPS);
        ck_assert_uint_eq(peer->allowed_ips->len, 0);
}
END_TEST

typedef struct {
        const char *name;
        const char *address;
        uint16_t port;
        bool current_has_endpoint;
        bool differs;
} EndpointCase;

static const EndpointCase endpoint_cases[] = {
        { "same", "192.0.2.10", 51820, true, false },
        { "other port", "192.0.2.10", 51821, true, true },
        { "other address", "192.0.2.11", 51820, true, true },
        { "current has none", "192.0.2.10", 51820, false, true },
};

START_TEST(test_diff_endpoint) {
        const EndpointCase *c = &endpoint_cases[_i];
        g_autoptr(WgDevice) current = base_device();
        g_autoptr(WgDevice) desired = base_device();
        g_autoptr(WgDevice) change = NULL;
        WgPeer *want = desired->peers->pdata[0];
        WgPeer *have = current->peers->pdata[0];

        want->endpoint = endpoint(c->address, c->port);
        if (!c->current_has_endpoint) {
                have->flags &= ~(unsigned) WG_PEER_HAS_ENDPOINT;
                memset(&have->endpoint, 0, sizeof(have->endpoint));
        }

        change = wg_device_diff(current, desired);
        if (!c->differs) {
                ck_assert_msg(change == NULL, "case %s: unexpected change", c->name);
                return;
        }
        ck_assert_msg(change != NULL, "case %s: no change", c->name);
        ck_assert_uint_eq(change->peers->len, 1);
        ck_assert_uint_eq(peer_at(change, 0)->flags,
                          WG_PEER_REPLACE_ALLOWED_IPS | WG_PEER_HAS_ENDPOINT | WG_PEER_HAS_KEEPALIVE);
        ck_assert_mem_eq(&peer_at(change, 0)->endpoint, &want->endpoint, sizeof(want->endpoint));
}
END_TEST

START_TEST(test_diff_keepalive) {
        g_autoptr(WgDevice) current = base_device();
        g_autoptr(WgDevice) desired = base_device();
        g_autoptr(WgDevice) change = NULL;
        WgPeer *want = desired->peers->pdata[0];

        want->persistent_keepalive = 0;
        change = wg_device_diff(current, desired);
        ck_assert_uint_eq(change->peers->len, 1);
        ck_assert_uint_eq(peer_at(change, 0)->persistent_keepalive, 0);
        ck_assert(peer_at(change, 0)->flags & WG_PEER_HAS_KEEPALIVE);
}
END_TEST

START_TEST(test_diff_private_key_and_port) {
        g_autoptr(WgDevice) current = base_device();
        g_autoptr(WgDevice) desired = base_device();
        g_autoptr(WgDevice) change = NULL;

        desired->private_key = key_n(0x22);
        change = wg_device_diff(current, desired);
        ck_assert_ptr_nonnull(change);
        ck_assert_uint_eq(change->flags, WG_DEVICE_HAS_PRIVATE_KEY);
        assert_key(&change->private_key, 0x22);
        ck_assert_uint_eq(change->peers->len, 0);
        g_clear_pointer(&change, wg_device_free);

        desired->private_key = current->private_key;
        desired->listen_port = 51999;
        change = wg_device_diff(current, desired);
        ck_assert_uint_eq(change->flags, WG_DEVICE_HAS_LISTEN_PORT);
        ck_assert_uint_eq(change->listen_port, 51999);
        g_clear_pointer(&change, wg_device_free);

        /* A fresh process has neither. */
        current->flags = 0;
        desired->listen_port = current->listen_port;
        change = wg_device_diff(current, desired);
        ck_assert_uint_eq(change->flags, WG_DEVICE_HAS_PRIVATE_KEY | WG_DEVICE_HAS_LISTEN_PORT);
}
END_TEST

START_TEST(test_diff_peer_key_change) {
        g_autoptr(WgDevice) current = base_device();
        g_autoptr(WgDevice) desired = base_device();
        g_autoptr(WgDevice) change = NULL;
        WgPeer *warrior = desired->peers->pdata[1];

        /* A road warrior brought a new key: the old peer goes, the new one comes. */
        warrior->public_key = key_n(0xd4);

        change = wg_device_diff(current, desired);
        ck_assert_uint_eq(change->peers->len, 2);
        assert_key(&peer_at(change, 0)->public_key, 0xb2);
        ck_assert_uint_eq(peer_at(change, 0)->flags, WG_PEER_REMOVE_ME);
        assert_key(&peer_at(change, 1)->public_key, 0xd4);
        ck_assert_uint_eq(peer_at(change, 1)->flags, WG_PEER_REPLACE_ALLOWED_IPS);
        ck_assert_uint_eq(peer_at(change, 1)->allowed_ips->len, 1);
        ck_assert_uint_eq(g_array_index(peer_at(change, 1)->allowed_ips, Ipv4Prefix, 0).address, 0x0a050007);
}
END_TEST

START_TEST(test_diff_from_empty) {
        g_autoptr(WgDevice) current = wg_device_new("wg0");
        g_autoptr(WgDevice) desired = base_device();
        g_autoptr(WgDevice) change = wg_device_diff(current, desired);

        ck_assert_uint_eq(change->flags, WG_DEVICE_HAS_PRIVATE_KEY | WG_DEVICE_HAS_LISTEN_PORT);
        ck_assert_uint_eq(change->peers->len, 2);
        ck_assert_uint_eq(peer_at(change, 0)->flags,
                          WG_PEER_REPLACE_ALLOWED_IPS | WG_PEER_HAS_ENDPOINT | WG_PEER_HAS_KEEPALIVE);
        ck_assert_uint_eq(peer_at(change, 1)->flags, WG_PEER_REPLACE_ALLOWED_IPS);
}
END_TEST

START_TEST(test_diff_many_peers) {
        g_autoptr(WgDevice) current = wg_device_new("wg0");
        g_autoptr(WgDevice) desired = wg_device_new("wg0");
        g_autoptr(WgDevice) change = NULL;

        for (unsigned i = 0; i < 2000; i++) {
                WgKey key = { 0 };
                Ipv4Prefix p = { .address = 0x0a000000 + i, .prefixlen = 32 };

                memcpy(key.bytes, &i, sizeof(i));
                wg_peer_add_allowed_ip(wg_device_add_peer(current, &key), &p);
                if (i % 2 == 0)
                        wg_peer_add_allowed_ip(wg_device_add_peer(desired, &key), &p);
        }
        change = wg_device_diff(current, desired);
        ck_assert_uint_eq(change->peers->len, 1000);
        for (guint i = 0; i < change->peers->len; i++)
                ck_assert_uint_eq(peer_at(change, i)->flags, WG_PEER_REMOVE_ME);
}
END_TEST

Suite *unit_suite(void) {
        Suite *s = suite_create("wg");
        TCase *tc = tcase_create("model");

        tcase_add_test(tc, test_new_and_find);
        tcase_add_test(tc, test_allowed_ip_canonical);
        suite_add_tcase(s, tc);

        tc = tcase_create("diff");
        tcase_add_test(tc, test_diff_equal);
        tcase_add_test(tc, test_diff_equal_ignores_status_and_order);
        tcase_add_test(tc, test_diff_add_peer);
        tcase_add_test(tc, test_diff_remove_peer);
        tcase_add_test(tc, test_diff_remove_before_add);
        tcase_add_test(tc, test_diff_allowed_ips);
        tcase_add_test(tc, test_diff_allowed_ips_removed);
        tcase_add_loop_test(tc, test_diff_endpoint, 0, G_N_ELEMENTS(endpoint_cases));
        tcase_add_test(tc, test_diff_keepalive);
        tcase_add_test(tc, test_diff_private_key_and_port);
        tcase_add_test(tc, test_diff_peer_key_change);
        tcase_add_test(tc, test_diff_from_empty);
        tcase_add_test(tc, test_diff_many_peers);
        suite_add_tcase(s, tc);
        return s;
}
