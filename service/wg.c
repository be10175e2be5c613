/* wg.c: the WireGuard device model and the difference between two devices. */
#include <stdlib.h>
#include <string.h>

#include "wg.h"

static void wg_peer_free(gpointer p) {
        WgPeer *peer = p;

        if (!peer)
                return;
        g_array_unref(peer->allowed_ips);
        g_free(peer);
}

WgDevice *wg_device_new(const char *name) {
        WgDevice *device;

        g_return_val_if_fail(name, NULL);
        g_return_val_if_fail(strlen(name) <= WG_IFNAME_MAX, NULL);

        device = g_new0(WgDevice, 1);
        g_strlcpy(device->name, name, sizeof(device->name));
        device->peers = g_ptr_array_new_with_free_func(wg_peer_free);
        return device;
}

void wg_device_free(WgDevice *device) {
        if (!device)
                return;
        wg_key_wipe(&device->private_key);
        g_ptr_array_unref(device->peers);
        g_free(device);
}

WgPeer *wg_device_add_peer(WgDevice *device, const WgKey *public_key) {
        WgPeer *peer;

        g_return_val_if_fail(device, NULL);
        g_return_val_if_fail(public_key, NULL);

        peer = g_new0(WgPeer, 1);
        peer->public_key = *public_key;
        peer->allowed_ips = g_array_new(FALSE, FALSE, sizeof(Ipv4Prefix));
        g_ptr_array_add(device->peers, peer);
        return peer;
}

WgPeer *wg_device_find_peer(const WgDevice *device, const WgKey *public_key) {
        g_return_val_if_fail(device, NULL);
        g_return_val_if_fail(public_key, NULL);

        for (guint i = 0; i < device->peers->len; i++) {
                WgPeer *peer = device->peers->pdata[i];

                if (memcmp(peer->public_key.bytes, public_key->bytes, WG_KEY_LEN) == 0)
                        return peer;
        }
        return NULL;
}

void wg_peer_add_allowed_ip(WgPeer *peer, const Ipv4Prefix *prefix) {
        Ipv4Prefix canonical;

        g_return_if_fail(peer);
        g_return_if_fail(prefix);
        g_return_if_fail(prefix->prefixlen <= 32);

        /* WireGuard stores networks, and reports them so: compare like with like. */
        canonical = netaddr_canonical(prefix);
        g_array_append_val(peer->allowed_ips, canonical);
}

static guint key_hash(gconstpointer p) {
        const WgKey *key = p;
        guint h;

        /* Public keys are uniformly random: any four bytes make a good hash. */
        memcpy(&h, key->bytes, sizeof(h));
        return h;
}

static gboolean key_equal(gconstpointer a, gconstpointer b) {
        return memcmp(((const WgKey *) a)->bytes, ((const WgKey *) b)->bytes, WG_KEY_LEN) == 0;
}

/* Peers by public key; the values are borrowed from @device. */
static GHashTable *index_peers(const WgDevice *device) {
        GHashTable *index = g_hash_table_new(key_hash, key_equal);

        for (guint i = 0; i < device->peers->len; i++) {
                WgPeer *peer = device->peers->pdata[i];

                g_hash_table_insert(index, &peer->public_key, peer);
        }
        return index;
}

static int compare_prefix(const void *a, const void *b) {
        const Ipv4Prefix *x = a, *y = b;

        if (x->address != y->address)
                return x->address < y->address ? -1 : 1;
        if (x->prefixlen != y->prefixlen)
                return x->prefixlen < y->prefixlen ? -1 : 1;
        return 0;
}

/* Canonical, sorted and without duplicates, so that two lists naming the same
 * networks in another order or twice compare equal. */
static GArray *prefix_set(const GArray *list) {
        GArray *set = g_array_sized_new(FALSE, FALSE, sizeof(Ipv4Prefix), list->len);
        guint n = 0;

        for (guint i = 0; i < list->len; i++) {
                Ipv4Prefix p = netaddr_canonical(&g_array_index(list, Ipv4Prefix, i));

                g_array_append_val(set, p);
        }
        if (set->len > 1)
                qsort(set->data, set->len, sizeof(Ipv4Prefix), compare_prefix);
        for (guint i = 0; i < set->len; i++)
                if (n == 0 || compare_prefix(&g_array_index(set, Ipv4Prefix, n - 1),
                                             &g_array_index(set, Ipv4Prefix, i)) != 0)
                        g_array_index(set, Ipv4Prefix, n++) = g_array_index(set, Ipv4Prefix, i);
        g_array_set_size(set, n);
        return set;
}

static bool allowed_ips_equal(const GArray *a, const GArray *b) {
        g_autoptr(GArray) x = prefix_set(a);
        g_autoptr(GArray) y = prefix_set(b);

        return x->len == y->len &&
               (x->len == 0 || memcmp(x->data, y->data, x->len * sizeof(Ipv4Prefix)) == 0);
}

static bool endpoint_equal(const struct sockaddr_in *a, const struct sockaddr_in *b) {
        return a->sin_family == b->sin_family && a->sin_addr.s_addr == b->sin_addr.s_addr &&
               a->sin_port == b->sin_port;
}

/* Only what @desired says is compared: a peer without an endpoint in the model
 * (a road warrior) keeps the one WireGuard learnt from its packets, and one
 * without a keepalive keeps whatever it has. */
static bool peer_differs(const WgPeer *current, const WgPeer *desired) {
        if ((desired->flags & WG_PEER_HAS_ENDPOINT) &&
            (!(current->flags & WG_PEER_HAS_ENDPOINT) || !endpoint_equal(&current->endpoint, &desired->endpoint)))
                return true;
        if ((desired->flags & WG_PEER_HAS_KEEPALIVE) &&
            ((current->flags & WG_PEER_HAS_KEEPALIVE) ? current->persistent_keepalive : 0) !=
                    desired->persistent_keepalive)
                return true;
        return !allowed_ips_equal(current->allowed_ips, desired->allowed_ips);
}

static void add_full_peer(WgDevice *change, const WgPeer *desired) {
        WgPeer *peer = wg_device_add_peer(change, &desired->public_key);

        peer->flags = WG_PEER_REPLACE_ALLOWED_IPS |
                      (desired->flags & (WG_PEER_HAS_ENDPOINT | WG_PEER_HAS_KEEPALIVE));
        peer->endpoint = desired->endpoint;
        peer->persistent_keepalive = desired->persistent_keepalive;
        g_array_append_vals(peer->allowed_ips, desired->allowed_ips->data, desired->allowed_ips->len);
}

WgDevice *wg_device_diff(const WgDevice *current, const WgDevice *desired) {
        g_autoptr(WgDevice) change = NULL;
        g_autoptr(GHashTable) current_index = NULL;
        g_autoptr(GHashTable) desired_index = NULL;

        g_return_val_if_fail(current, NULL);
        g_return_val_if_fail(desired, NULL);

        change = wg_device_new(desired->name);

        if ((desired->flags & WG_DEVICE_HAS_PRIVATE_KEY) &&
            (!(current->flags & WG_DEVICE_HAS_PRIVATE_KEY) ||
             memcmp(current->private_key.bytes, desired->private_key.bytes, WG_KEY_LEN) != 0)) {
                change->flags |= WG_DEVICE_HAS_PRIVATE_KEY;
                change->private_key = desired->private_key;
        }
        if ((desired->flags & WG_DEVICE_HAS_LISTEN_PORT) &&
            (!(current->flags & WG_DEVICE_HAS_LISTEN_PORT) || current->listen_port != desired->listen_port)) {
                change->flags |= WG_DEVICE_HAS_LISTEN_PORT;
                change->listen_port = desired->listen_port;
        }

        current_index = index_peers(current);
        desired_index = index_peers(desired);

        /* Removals first: an allowed IP moving from a removed peer to a new one
         * then never sits on both. */
        for (guint i = 0; i < current->peers->len; i++) {
                const WgPeer *peer = current->peers->pdata[i];

                if (!g_hash_table_contains(desired_index, &peer->public_key))
                        wg_device_add_peer(change, &peer->public_key)->flags = WG_PEER_REMOVE_ME;
        }
        for (guint i = 0; i < desired->peers->len; i++) {
                const WgPeer *peer = desired->peers->pdata[i];
                const WgPeer *have = g_hash_table_lookup(current_index, &peer->public_key);

                if (!have || peer_differs(have, peer))
                        add_full_peer(change, peer);
        }

        if (change->flags == 0 && change->peers->len == 0)
                return NULL;
        return g_steal_pointer(&change);
}
