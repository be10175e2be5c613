/* wg-netlink.c: kernel WireGuard over generic netlink (libmnl); the device itself over rtnetlink. */
#include <arpa/inet.h>
#include <errno.h>
#include <linux/genetlink.h>
#include <linux/if_link.h>
#include <linux/rtnetlink.h>
#include <linux/time_types.h>
#include <linux/wireguard.h>
#include <net/if.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <libmnl/libmnl.h>

#include "pic-error.h"
#include "wg-backend.h"
#include "wg-netlink.h"
#include "wg.h"

G_STATIC_ASSERT(WG_KEY_LEN == sizeof(((WgKey *) NULL)->bytes));

/* Dump parts are built by the kernel in buffers of about a page; this holds several. */
#define RECEIVE_BUFFER_SIZE 32768

/* --- building SET requests --- */

typedef struct {
        const WgDevice *change;
        uint16_t family_id;
        uint32_t seq;
        size_t size;
        GPtrArray *messages;
        char *buf;
        struct nlmsghdr *nlh;
        struct nlattr *peers;           /* the open WGDEVICE_A_PEERS nest */
        bool fresh;                     /* no peer in this message yet */
} SetBuilder;

static void builder_begin(SetBuilder *b) {
        const WgDevice *change = b->change;
        struct genlmsghdr *genl;

        memset(b->buf, 0, b->size);
        b->nlh = mnl_nlmsg_put_header(b->buf);
        b->nlh->nlmsg_type = b->family_id;
        b->nlh->nlmsg_flags = NLM_F_REQUEST | NLM_F_ACK;
        b->nlh->nlmsg_seq = b->seq + b->messages->len;
        genl = mnl_nlmsg_put_extra_header(b->nlh, sizeof(*genl));
        genl->cmd = WG_CMD_SET_DEVICE;
        genl->version = WG_GENL_VERSION;
        mnl_attr_put_strz(b->nlh, WGDEVICE_A_IFNAME, change->name);

        /* Device settings once: REPLACE_PEERS repeated would undo the earlier parts. */
        if (b->messages->len == 0) {
                if (change->flags & WG_DEVICE_HAS_PRIVATE_KEY)
                        mnl_attr_put(b->nlh, WGDEVICE_A_PRIVATE_KEY, WG_KEY_LEN, change->private_key.bytes);
                if (change->flags & WG_DEVICE_HAS_LISTEN_PORT)
                        mnl_attr_put_u16(b->nlh, WGDEVICE_A_LISTEN_PORT, change->listen_port);
                if (change->flags & WG_DEVICE_REPLACE_PEERS)
                        mnl_attr_put_u32(b->nlh, WGDEVICE_A_FLAGS, WGDEVICE_F_REPLACE_PEERS);
        }
        b->peers = NULL;
        b->fresh = true;
}

static void builder_flush(SetBuilder *b) {
        if (b->peers) {
                if ((char *) mnl_nlmsg_get_payload_tail(b->nlh) == (char *) b->peers + MNL_ATTR_HDRLEN)
                        mnl_attr_nest_cancel(b->nlh, b->peers);
                else
                        mnl_attr_nest_end(b->nlh, b->peers);
        }
        g_ptr_array_add(b->messages, g_bytes_new(b->nlh, b->nlh->nlmsg_len));
        /* The private key is in the first message: leave no copy in the scratch buffer. */
        explicit_bzero(b->buf, b->size);
        b->nlh = NULL;
        b->peers = NULL;
}

static bool put_allowed_ip(SetBuilder *b, const Ipv4Prefix *prefix) {
        struct nlattr *nest = mnl_attr_nest_start_check(b->nlh, b->size, 0);
        struct in_addr address = { .s_addr = htonl(prefix->address) };

        if (!nest)
                return false;
        if (!mnl_attr_put_u16_check(b->nlh, b->size, WGALLOWEDIP_A_FAMILY, AF_INET) ||
            !mnl_attr_put_check(b->nlh, b->size, WGALLOWEDIP_A_IPADDR, sizeof(address), &address) ||
            !mnl_attr_put_u8_check(b->nlh, b->size, WGALLOWEDIP_A_CIDR_MASK, (uint8_t) prefix->prefixlen)) {
                mnl_attr_nest_cancel(b->nlh, nest);
                return false;
        }
        mnl_attr_nest_end(b->nlh, nest);
        return true;
}

/* Puts as much of @peer as fits, its allowed IPs from @from on; the first
 * part carries its flags, endpoint and keepalive. False when nothing fit. */
static bool put_peer(SetBuilder *b, const WgPeer *peer, bool first_part, guint from, guint *ret_next) {
        struct nlattr *nest;
        guint next = from;

        if (!b->peers) {
                b->peers = mnl_attr_nest_start_check(b->nlh, b->size, WGDEVICE_A_PEERS);
                if (!b->peers)
                        return false;
        }
        nest = mnl_attr_nest_start_check(b->nlh, b->size, 0);
        if (!nest)
                return false;
        if (!mnl_attr_put_check(b->nlh, b->size, WGPEER_A_PUBLIC_KEY, WG_KEY_LEN, peer->public_key.bytes))
                goto cancel;

        if (first_part) {
                uint32_t flags = 0;

                if (peer->flags & WG_PEER_REMOVE_ME)
                        flags |= WGPEER_F_REMOVE_ME;
                if (peer->flags & WG_PEER_REPLACE_ALLOWED_IPS)
                        flags |= WGPEER_F_REPLACE_ALLOWEDIPS;
                if (flags != 0 && !mnl_attr_put_u32_check(b->nlh, b->size, WGPEER_A_FLAGS, flags))
                        goto cancel;
                if ((peer->flags & WG_PEER_HAS_ENDPOINT) && !(peer->flags & WG_PEER_REMOVE_ME) &&
                    !mnl_attr_put_check(b->nlh, b->size, WGPEER_A_ENDPOINT, sizeof(peer->endpoint), &peer->endpoint))
                        goto cancel;
                if ((peer->flags & WG_PEER_HAS_KEEPALIVE) && !(peer->flags & WG_PEER_REMOVE_ME) &&
                    !mnl_attr_put_u16_check(b->nlh, b->size, WGPEER_A_PERSISTENT_KEEPALIVE_INTERVAL,
                                            peer->persistent_keepalive))
                        goto cancel;
        }

        if (!(peer->flags & WG_PEER_REMOVE_ME) && from < peer->allowed_ips->len) {
                struct nlattr *ips = mnl_attr_nest_start_check(b->nlh, b->size, WGPEER_A_ALLOWEDIPS);

                if (ips) {
                        while (next < peer->allowed_ips->len &&
                               put_allowed_ip(b, &g_array_index(peer->allowed_ips, Ipv4Prefix, next)))
                                next++;
                        if (next == from)
                                mnl_attr_nest_cancel(b->nlh, ips);
                        else
                                mnl_attr_nest_end(b->nlh, ips);
                }
                /* A later part is there only for its allowed IPs; a first part without
                 * any goes whole into the next message rather than leave the peer
                 * with none in between. */
                if (next == from && (!first_part || !b->fresh))
                        goto cancel;
        }

        mnl_attr_nest_end(b->nlh, nest);
        *ret_next = next;
        return true;

cancel:
        mnl_attr_nest_cancel(b->nlh, nest);
        return false;
}

GPtrArray *wg_netlink_build_set(const WgDevice *change, uint16_t family_id, uint32_t seq, size_t buffer_size) {
        g_autofree char *buf = NULL;
        g_autoptr(GPtrArray) messages = NULL;
        SetBuilder b;

        g_return_val_if_fail(change, NULL);
        g_return_val_if_fail(buffer_size >= WG_NETLINK_MIN_BUFFER, NULL);

        buf = g_malloc0(buffer_size);
        messages = g_ptr_array_new_with_free_func((GDestroyNotify) g_bytes_unref);
        b = (SetBuilder) {
                .change = change,
                .family_id = family_id,
                .seq = seq,
                .size = buffer_size,
                .messages = messages,
                .buf = buf,
        };
        builder_begin(&b);

        for (guint i = 0; i < change->peers->len; i++) {
                const WgPeer *peer = change->peers->pdata[i];
                bool first_part = true;
                guint from = 0;

                for (;;) {
                        guint next;

                        if (!put_peer(&b, peer, first_part, from, &next)) {
                                /* WG_NETLINK_MIN_BUFFER holds a peer with one allowed IP. */
                                g_return_val_if_fail(!b.fresh, NULL);
                                builder_flush(&b);
                                builder_begin(&b);
                                continue;
                        }
                        b.fresh = false;
                        first_part = false;
                        if ((peer->flags & WG_PEER_REMOVE_ME) || next >= peer->allowed_ips->len)
                                break;
                        from = next;
                        builder_flush(&b);
                        builder_begin(&b);
                }
        }
        builder_flush(&b);
        return g_steal_pointer(&messages);
}

/* --- reading GET answers --- */

typedef struct {
        GError **error;
        const char *what;
        WgPeer peer;                    /* allowed_ips owned */
        bool have_key;
} PeerParse;

static int attr_error(GError **error, const char *what, const struct nlattr *attr) {
        g_set_error(error, PIC_ERROR, PIC_ERROR_FAILED,
                    "The kernel sent a WireGuard %s attribute this service cannot read "
                    "(type %u, %u bytes of payload)",
                    what, mnl_attr_get_type(attr), (unsigned) mnl_attr_get_payload_len(attr));
        return MNL_CB_ERROR;
}

static int allowed_ip_cb(const struct nlattr *attr, void *data) {
        const struct nlattr **tb = data;
        unsigned type = mnl_attr_get_type(attr);

        if (type <= WGALLOWEDIP_A_MAX)
                tb[type] = attr;
        return MNL_CB_OK;
}

static int parse_allowed_ips(const struct nlattr *list, PeerParse *p) {
        const struct nlattr *item;

        mnl_attr_for_each_nested(item, list) {
                const struct nlattr *tb[WGALLOWEDIP_A_MAX + 1] = { 0 };
                Ipv4Prefix prefix;
                struct in_addr address;
                uint8_t cidr;

                if (mnl_attr_parse_nested(item, allowed_ip_cb, tb) < 0)
                        return attr_error(p->error, "allowed IP", item);
                if (!tb[WGALLOWEDIP_A_FAMILY] || mnl_attr_validate(tb[WGALLOWEDIP_A_FAMILY], MNL_TYPE_U16) < 0)
                        return attr_error(p->error, "allowed IP", item);
                /* The model speaks IPv4 only; the kernel may hold IPv6 networks someone else added. */
                if (mnl_attr_get_u16(tb[WGALLOWEDIP_A_FAMILY]) != AF_INET)
                        continue;
                if (!tb[WGALLOWEDIP_A_IPADDR] ||
                    mnl_attr_validate2(tb[WGALLOWEDIP_A_IPADDR], MNL_TYPE_BINARY, sizeof(address)) < 0)
                        return attr_error(p->error, "allowed IP address", tb[WGALLOWEDIP_A_IPADDR] ?: item);
                if (!tb[WGALLOWEDIP_A_CIDR_MASK] || mnl_attr_validate(tb[WGALLOWEDIP_A_CIDR_MASK], MNL_TYPE_U8) < 0 ||
                    mnl_attr_get_u8(tb[WGALLOWEDIP_A_CIDR_MASK]) > 32)
                        return attr_error(p->error, "allowed IP mask", tb[WGALLOWEDIP_A_CIDR_MASK] ?: item);
                memcpy(&address, mnl_attr_get_payload(tb[WGALLOWEDIP_A_IPADDR]), sizeof(address));
                cidr = mnl_attr_get_u8(tb[WGALLOWEDIP_A_CIDR_MASK]);
                prefix = (Ipv4Prefix) { .address = ntohl(address.s_addr), .prefixlen = cidr };
                wg_peer_add_allowed_ip(&p->peer, &prefix);
        }
        return MNL_CB_OK;
}

static int peer_attr_cb(const struct nlattr *attr, void *data) {
        PeerParse *p = data;
        WgPeer *peer = &p->peer;

        switch (mnl_attr_get_type(attr)) {
        case WGPEER_A_PUBLIC_KEY:
                if (mnl_attr_validate2(attr, MNL_TYPE_BINARY, WG_KEY_LEN) < 0)
                        return attr_error(p->error, "peer key", attr);
                memcpy(peer->public_key.bytes, mnl_attr_get_payload(attr), WG_KEY_LEN);
                p->have_key = true;
                break;
        case WGPEER_A_ENDPOINT: {
                const struct sockaddr *sa = mnl_attr_get_payload(attr);

                if (mnl_attr_get_payload_len(attr) < sizeof(sa_family_t))
                        return attr_error(p->error, "peer endpoint", attr);
                if (sa->sa_family == AF_INET) {
                        if (mnl_attr_get_payload_len(attr) != sizeof(struct sockaddr_in))
                                return attr_error(p->error, "peer endpoint", attr);
                        memcpy(&peer->endpoint, sa, sizeof(peer->endpoint));
                        peer->flags |= WG_PEER_HAS_ENDPOINT;
                }
                break;
        }
        case WGPEER_A_PERSISTENT_KEEPALIVE_INTERVAL:
                if (mnl_attr_validate(attr, MNL_TYPE_U16) < 0)
                        return attr_error(p->error, "peer keepalive", attr);
                peer->persistent_keepalive = mnl_attr_get_u16(attr);
                peer->flags |= WG_PEER_HAS_KEEPALIVE;
                break;
        case WGPEER_A_LAST_HANDSHAKE_TIME: {
                struct __kernel_timespec ts;

                if (mnl_attr_validate2(attr, MNL_TYPE_BINARY, sizeof(ts)) < 0)
                        return attr_error(p->error, "peer handshake time", attr);
                memcpy(&ts, mnl_attr_get_payload(attr), sizeof(ts));
                peer->last_handshake = ts.tv_sec;
                break;
        }
        case WGPEER_A_RX_BYTES:
                if (mnl_attr_validate(attr, MNL_TYPE_U64) < 0)
                        return attr_error(p->error, "peer byte count", attr);
                peer->rx_bytes = mnl_attr_get_u64(attr);
                break;
        case WGPEER_A_TX_BYTES:
                if (mnl_attr_validate(attr, MNL_TYPE_U64) < 0)
                        return attr_error(p->error, "peer byte count", attr);
                peer->tx_bytes = mnl_attr_get_u64(attr);
                break;
        case WGPEER_A_ALLOWEDIPS:
                return parse_allowed_ips(attr, p);
        default:
                /* Preshared key, protocol version, flags: not in the model. */
                break;
        }
        return MNL_CB_OK;
}

static int parse_peer(const struct nlattr *nest, WgDevice *device, GError **error) {
        g_autoptr(GArray) allowed_ips = g_array_new(FALSE, FALSE, sizeof(Ipv4Prefix));
        PeerParse p = { .error = error };
        WgPeer *target = NULL;

        p.peer.allowed_ips = allowed_ips;
        if (mnl_attr_parse_nested(nest, peer_attr_cb, &p) < 0) {
                if (error && !*error)
                        attr_error(error, "peer", nest);
                return MNL_CB_ERROR;
        }
        if (!p.have_key)
                return attr_error(error, "peer without a public key", nest);

        if (device->peers->len > 0) {
                WgPeer *last = device->peers->pdata[device->peers->len - 1];

                if (memcmp(last->public_key.bytes, p.peer.public_key.bytes, WG_KEY_LEN) == 0)
                        target = last;
        }
        if (!target) {
                target = wg_device_add_peer(device, &p.peer.public_key);
                target->flags = p.peer.flags;
                target->endpoint = p.peer.endpoint;
                target->persistent_keepalive = p.peer.persistent_keepalive;
                target->last_handshake = p.peer.last_handshake;
                target->rx_bytes = p.peer.rx_bytes;
                target->tx_bytes = p.peer.tx_bytes;
        }
        g_array_append_vals(target->allowed_ips, allowed_ips->data, allowed_ips->len);
        return MNL_CB_OK;
}

typedef struct {
        WgDevice *device;
        GError **error;
} DeviceParse;

static int device_attr_cb(const struct nlattr *attr, void *data) {
        DeviceParse *d = data;
        WgDevice *device = d->device;

        switch (mnl_attr_get_type(attr)) {
        case WGDEVICE_A_PRIVATE_KEY:
                if (mnl_attr_validate2(attr, MNL_TYPE_BINARY, WG_KEY_LEN) < 0)
                        return attr_error(d->error, "private key", attr);
                memcpy(device->private_key.bytes, mnl_attr_get_payload(attr), WG_KEY_LEN);
                device->flags |= WG_DEVICE_HAS_PRIVATE_KEY;
                break;
        case WGDEVICE_A_PUBLIC_KEY:
                if (mnl_attr_validate2(attr, MNL_TYPE_BINARY, WG_KEY_LEN) < 0)
                        return attr_error(d->error, "public key", attr);
                memcpy(device->public_key.bytes, mnl_attr_get_payload(attr), WG_KEY_LEN);
                break;
        case WGDEVICE_A_LISTEN_PORT:
                if (mnl_attr_validate(attr, MNL_TYPE_U16) < 0)
                        return attr_error(d->error, "listen port", attr);
                device->listen_port = mnl_attr_get_u16(attr);
                device->flags |= WG_DEVICE_HAS_LISTEN_PORT;
                break;
        case WGDEVICE_A_PEERS: {
                const struct nlattr *peer;

                mnl_attr_for_each_nested(peer, attr)
                        if (parse_peer(peer, device, d->error) != MNL_CB_OK)
                                return MNL_CB_ERROR;
                break;
        }
        default:
                break;
        }
        return MNL_CB_OK;
}

bool wg_netlink_parse_device(const struct nlmsghdr *nlh, WgDevice *device, GError **error) {
        g_autoptr(GError) local = NULL;
        DeviceParse d = { .device = device, .error = &local };

        g_return_val_if_fail(nlh, false);
        g_return_val_if_fail(device, false);

        if (nlh->nlmsg_len < NLMSG_HDRLEN + sizeof(struct genlmsghdr) ||
            mnl_attr_parse(nlh, sizeof(struct genlmsghdr), device_attr_cb, &d) < 0) {
                if (local)
                        g_propagate_error(error, g_steal_pointer(&local));
                else
                        g_set_error(error, PIC_ERROR, PIC_ERROR_FAILED,
                                    "The kernel sent a WireGuard message this service cannot read");
                return false;
        }
        return true;
}

/* --- sockets --- */

static struct mnl_socket *nl_open(int bus, GError **error) {
        struct mnl_socket *nl = mnl_socket_open2(bus, SOCK_CLOEXEC);

        if (!nl || mnl_socket_bind(nl, 0, MNL_SOCKET_AUTOPID) < 0) {
                int e = errno;

                if (nl)
                        mnl_socket_close(nl);
                g_set_error(error, PIC_ERROR, PIC_ERROR_FAILED, "Failed to open a netlink socket: %s", g_strerror(e));
                return NULL;
        }
        return nl;
}

static void nl_close(struct mnl_socket **nl) {
        if (*nl)
                mnl_socket_close(*nl);
        *nl = NULL;
}

/* Sends @nlh and runs @cb on the answers until the ACK or the end of the
 * dump; 0 or -errno (the kernel's, for an error answer). */
static int nl_request(struct mnl_socket *nl, const struct nlmsghdr *nlh, mnl_cb_t cb, void *data) {
        g_autofree char *buf = g_malloc(RECEIVE_BUFFER_SIZE);
        unsigned portid = mnl_socket_get_portid(nl);
        uint32_t seq = nlh->nlmsg_seq;

        if (mnl_socket_sendto(nl, nlh, nlh->nlmsg_len) < 0)
                return -errno;
        for (;;) {
                ssize_t n = mnl_socket_recvfrom(nl, buf, RECEIVE_BUFFER_SIZE);
                int r;

                if (n < 0) {
                        if (errno == EINTR)
                                continue;
                        return -errno;
                }
                r = mnl_cb_run(buf, (size_t) n, seq, portid, cb, data);
                if (r == MNL_CB_ERROR)
                        return errno > 0 ? -errno : -EPROTO;
                if (r == MNL_CB_STOP)
                        return 0;
        }
}

static uint32_t next_seq(void) {
        static uint32_t seq;

        if (seq == 0)
                seq = (uint32_t) time(NULL);
        return ++seq;
}

static int family_id_cb(const struct nlmsghdr *nlh, void *data) {
        struct nlattr *attr;

        mnl_attr_for_each(attr, nlh, sizeof(struct genlmsghdr))
                if (mnl_attr_get_type(attr) == CTRL_ATTR_FAMILY_ID &&
                    mnl_attr_validate(attr, MNL_TYPE_U16) >= 0)
                        *(uint16_t *) data = mnl_attr_get_u16(attr);
        return MNL_CB_OK;
}

/* The id of the "wireguard" family, or -errno (-ENOENT: the kernel has none). */
static int resolve_family(struct mnl_socket *nl, uint16_t *ret_id) {
        char buf[256] = { 0 };
        struct nlmsghdr *nlh = mnl_nlmsg_put_header(buf);
        struct genlmsghdr *genl;
        uint16_t id = 0;
        int r;

        nlh->nlmsg_type = GENL_ID_CTRL;
        nlh->nlmsg_flags = NLM_F_REQUEST | NLM_F_ACK;
        nlh->nlmsg_seq = next_seq();
        genl = mnl_nlmsg_put_extra_header(nlh, sizeof(*genl));
        genl->cmd = CTRL_CMD_GETFAMILY;
        genl->version = 1;
        mnl_attr_put_strz(nlh, CTRL_ATTR_FAMILY_NAME, WG_GENL_NAME);

        r = nl_request(nl, nlh, family_id_cb, &id);
        if (r < 0)
                return r;
        if (id == 0)
                return -ENOENT;
        *ret_id = id;
        return 0;
}

bool wg_kernel_available(void) {
        struct mnl_socket *nl = nl_open(NETLINK_GENERIC, NULL);
        uint16_t id;
        bool found;

        /* Only asking the generic netlink controller: nothing is created or changed. */
        if (!nl)
                return false;
        found = resolve_family(nl, &id) == 0;
        nl_close(&nl);
        return found;
}

/* --- the back-end --- */

typedef struct {
        WgBackend base;
} NetlinkBackend;

static bool kernel_error(const char *ifname, const char *what, int e, GError **error) {
        switch (e) {
        case ENOENT:
                g_set_error(error, PIC_ERROR, PIC_ERROR_FAILED,
                            "Failed to %s %s: the kernel has no WireGuard module; set WireGuard=userspace in cell.conf",
                            what, ifname);
                break;
        case ENODEV:
                g_set_error(error, PIC_ERROR, PIC_ERROR_FAILED,
                            "Failed to %s %s: there is no WireGuard interface of that name", what, ifname);
                break;
        case EPERM:
                g_set_error(error, PIC_ERROR, PIC_ERROR_FAILED,
                            "Failed to %s %s: permission denied (the service needs CAP_NET_ADMIN)", what, ifname);
                break;
        default:
                g_set_error(error, PIC_ERROR, PIC_ERROR_FAILED, "Failed to %s %s: %s", what, ifname, g_strerror(e));
                break;
        }
        return false;
}

static int get_device_cb(const struct nlmsghdr *nlh, void *data) {
        DeviceParse *d = data;

        return wg_netlink_parse_device(nlh, d->device, d->error) ? MNL_CB_OK : MNL_CB_ERROR;
}

static int get_device(const char *ifname, WgDevice **ret_device, GError **error) {
        g_autoptr(WgDevice) device = wg_device_new(ifname);
        g_autoptr(GError) local = NULL;
        struct mnl_socket *nl;
        char buf[256] = { 0 };
        struct nlmsghdr *nlh;
        struct genlmsghdr *genl;
        DeviceParse d = { .device = device, .error = &local };
        uint16_t family;
        int r;

        nl = nl_open(NETLINK_GENERIC, error);
        if (!nl)
                return -EIO;
        r = resolve_family(nl, &family);
        if (r < 0) {
                nl_close(&nl);
                kernel_error(ifname, "read", -r, error);
                return r;
        }

        nlh = mnl_nlmsg_put_header(buf);
        nlh->nlmsg_type = family;
        nlh->nlmsg_flags = NLM_F_REQUEST | NLM_F_ACK | NLM_F_DUMP;
        nlh->nlmsg_seq = next_seq();
        genl = mnl_nlmsg_put_extra_header(nlh, sizeof(*genl));
        genl->cmd = WG_CMD_GET_DEVICE;
        genl->version = WG_GENL_VERSION;
        mnl_attr_put_strz(nlh, WGDEVICE_A_IFNAME, ifname);

        r = nl_request(nl, nlh, get_device_cb, &d);
        nl_close(&nl);
        if (local) {
                g_propagate_error(error, g_steal_pointer(&local));
                return -EPROTO;
        }
        if (r < 0) {
                kernel_error(ifname, "read", -r, error);
                return r;
        }
        if (ret_device)
                *ret_device = g_steal_pointer(&device);
        return 0;
}

static bool netlink_get(WgBackend *backend, WgDevice **ret_device, GError **error) {
        return get_device(backend->ifname, ret_device, error) == 0;
}

static bool netlink_set(WgBackend *backend, const WgDevice *change, GError **error) {
        g_autoptr(GPtrArray) messages = NULL;
        struct mnl_socket *nl;
        uint16_t family;
        int r;

        nl = nl_open(NETLINK_GENERIC, error);
        if (!nl)
                return false;
        r = resolve_family(nl, &family);
        if (r < 0) {
                nl_close(&nl);
                return kernel_error(backend->ifname, "configure", -r, error);
        }

        messages = wg_netlink_build_set(change, family, next_seq(), MAX(MNL_SOCKET_BUFFER_SIZE, WG_NETLINK_MIN_BUFFER));
        if (!messages) {
                nl_close(&nl);
                g_set_error(error, PIC_ERROR, PIC_ERROR_FAILED, "Failed to build the netlink request for %s",
                            backend->ifname);
                return false;
        }
        /* Each part waits for its ACK: a later one must not run after an earlier one failed. */
        for (guint i = 0; i < messages->len; i++) {
                const struct nlmsghdr *nlh = g_bytes_get_data(messages->pdata[i], NULL);

                r = nl_request(nl, nlh, NULL, NULL);
                if (r < 0)
                        break;
        }
        nl_close(&nl);
        /* The first message may hold the private key. */
        for (guint i = 0; i < messages->len; i++) {
                gsize size;
                const void *data = g_bytes_get_data(messages->pdata[i], &size);

                explicit_bzero((void *) data, size);
        }
        if (r < 0)
                return kernel_error(backend->ifname, "configure", -r, error);
        return true;
}

static int rtnl_link_request(uint16_t type, uint16_t flags, const char *ifname, bool with_kind) {
        char buf[512] = { 0 };
        struct nlmsghdr *nlh = mnl_nlmsg_put_header(buf);
        struct ifinfomsg *ifi;
        struct mnl_socket *nl;
        int r;

        nlh->nlmsg_type = type;
        nlh->nlmsg_flags = NLM_F_REQUEST | NLM_F_ACK | flags;
        nlh->nlmsg_seq = next_seq();
        ifi = mnl_nlmsg_put_extra_header(nlh, sizeof(*ifi));
        ifi->ifi_family = AF_UNSPEC;
        mnl_attr_put_strz(nlh, IFLA_IFNAME, ifname);
        if (with_kind) {
                struct nlattr *info = mnl_attr_nest_start(nlh, IFLA_LINKINFO);

                mnl_attr_put_strz(nlh, IFLA_INFO_KIND, "wireguard");
                mnl_attr_nest_end(nlh, info);
        }

        nl = nl_open(NETLINK_ROUTE, NULL);
        if (!nl)
                return -errno ?: -EIO;
        r = nl_request(nl, nlh, NULL, NULL);
        nl_close(&nl);
        return r;
}

static bool netlink_ensure_device(WgBackend *backend, GError **error) {
        g_autoptr(GError) local = NULL;
        int r;

        if (if_nametoindex(backend->ifname) == 0) {
                r = rtnl_link_request(RTM_NEWLINK, NLM_F_CREATE | NLM_F_EXCL, backend->ifname, true);
                if (r == -EOPNOTSUPP)
                        return kernel_error(backend->ifname, "create", ENOENT, error);
                /* EEXIST: created meanwhile by someone else; checked below like any existing one. */
                if (r < 0 && r != -EEXIST)
                        return kernel_error(backend->ifname, "create", -r, error);
                if (r == 0)
                        return true;
        }

        r = get_device(backend->ifname, NULL, &local);
        if (r == -ENODEV || r == -EOPNOTSUPP) {
                g_set_error(error, PIC_ERROR, PIC_ERROR_CONFLICT,
                            "The interface %s exists but is not a WireGuard interface; remove it "
                            "or set Interface= in cell.conf to another name", backend->ifname);
                return false;
        }
        if (r < 0) {
                g_propagate_error(error, g_steal_pointer(&local));
                return false;
        }
        return true;
}

static void netlink_remove_device(WgBackend *backend) {
        int r = rtnl_link_request(RTM_DELLINK, 0, backend->ifname, false);

        if (r < 0 && r != -ENODEV)
                g_warning("Failed to remove the WireGuard interface %s: %s", backend->ifname, g_strerror(-r));
}

static void netlink_destroy(WgBackend *backend) {
        g_free(backend);
}

static const WgBackendOps netlink_ops = {
        .kind = "kernel",
        .ensure_device = netlink_ensure_device,
        .remove_device = netlink_remove_device,
        .get = netlink_get,
        .set = netlink_set,
        .destroy = netlink_destroy,
};

WgBackend *wg_backend_new_kernel(const char *ifname) {
        NetlinkBackend *self;

        g_return_val_if_fail(wg_ifname_is_valid(ifname), NULL);

        self = g_new0(NetlinkBackend, 1);
        wg_backend_init(&self->base, &netlink_ops, ifname);
        return &self->base;
}
