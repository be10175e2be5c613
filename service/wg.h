/* wg.h: a WireGuard device as plain structs (like wireguard-tools' model:
 * values plus flags saying which are set), and the back-ends that read and
 * change one: the kernel over generic netlink, or the userspace
 * implementation over its UAPI socket. */
#pragma once

#include <netinet/in.h>
#include <stdbool.h>
#include <stdint.h>
#include <glib.h>

#include "netaddr.h"
#include "wg-key.h"

#define WG_IFNAME_MAX 15

typedef enum {
        WG_PEER_REMOVE_ME = 1u << 0,          /* in a change: delete this peer */
        WG_PEER_REPLACE_ALLOWED_IPS = 1u << 1, /* in a change: allowed_ips replace the old list */
        WG_PEER_HAS_ENDPOINT = 1u << 2,
        WG_PEER_HAS_KEEPALIVE = 1u << 3,
} WgPeerFlags;

typedef struct {
        WgKey public_key;
        unsigned flags;                 /* WgPeerFlags */
        struct sockaddr_in endpoint;    /* with WG_PEER_HAS_ENDPOINT */
        uint16_t persistent_keepalive;  /* seconds, with WG_PEER_HAS_KEEPALIVE */
        GArray *allowed_ips;            /* of Ipv4Prefix (canonical) */

        /* status, filled by get */
        int64_t last_handshake;         /* Unix seconds, 0 = never */
        uint64_t rx_bytes;
        uint64_t tx_bytes;
} WgPeer;

typedef enum {
        WG_DEVICE_HAS_PRIVATE_KEY = 1u << 0,
        WG_DEVICE_HAS_LISTEN_PORT = 1u << 1,
        WG_DEVICE_REPLACE_PEERS = 1u << 2,   /* in a change: peers replace all old peers */
} WgDeviceFlags;

typedef struct {
        char name[WG_IFNAME_MAX + 1];
        unsigned flags;                 /* WgDeviceFlags */
        WgKey private_key;              /* wiped on free */
        WgKey public_key;               /* filled by get */
        uint16_t listen_port;
        GPtrArray *peers;               /* of WgPeer* */
} WgDevice;

WgDevice *wg_device_new(const char *name);
void wg_device_free(WgDevice *device);
G_DEFINE_AUTOPTR_CLEANUP_FUNC(WgDevice, wg_device_free)
WgPeer *wg_device_add_peer(WgDevice *device, const WgKey *public_key); /* owned by device */
WgPeer *wg_device_find_peer(const WgDevice *device, const WgKey *public_key);
void wg_peer_add_allowed_ip(WgPeer *peer, const Ipv4Prefix *prefix);

/* The change that turns @current into @desired, touching only what differs:
 * removed peers get WG_PEER_REMOVE_ME, changed ones their new values, equal
 * ones are left out. Returns NULL when nothing differs. */
WgDevice *wg_device_diff(const WgDevice *current, const WgDevice *desired);

/* --- back-ends --- */

typedef struct WgBackend WgBackend;

/* Called when the device went away behind our back (the userspace process
 * died); the back-end has already restarted it when it could. The owner
 * should reconcile again. */
typedef void (*WgDeviceLostFunc)(void *userdata);

/* True when the kernel has WireGuard (the "wireguard" rtnl link kind exists,
 * or the generic netlink family "wireguard" resolves). */
bool wg_kernel_available(void);

/* Kernel: the device is created with RTM_NEWLINK kind "wireguard". */
WgBackend *wg_backend_new_kernel(const char *ifname);
/* Userspace: starts "@command -f @ifname" (argv, never a shell) in the
 * environment it inherits, supervises it, restarts it when it dies (with a
 * bounded backoff), and speaks UAPI on /run/wireguard/@ifname.sock. */
WgBackend *wg_backend_new_userspace(const char *ifname, const char *command);
void wg_backend_free(WgBackend *backend);
G_DEFINE_AUTOPTR_CLEANUP_FUNC(WgBackend, wg_backend_free)

const char *wg_backend_kind(const WgBackend *backend); /* "kernel" | "userspace" */
void wg_backend_set_lost_callback(WgBackend *backend, WgDeviceLostFunc func, void *userdata);

/* Creates the device if it does not exist (for userspace: starts the process
 * and waits, bounded, for its UAPI socket). Idempotent. */
bool wg_backend_ensure_device(WgBackend *backend, GError **error);
/* Removes the device (stops the process). */
void wg_backend_remove_device(WgBackend *backend);

bool wg_backend_get(WgBackend *backend, WgDevice **ret_device, GError **error);
bool wg_backend_set(WgBackend *backend, const WgDevice *change, GError **error);

/* --- UAPI text protocol (exposed for tests and fuzzing) --- */

/* The "set=1\n…\n\n" request for @change. */
char *wg_uapi_format_set(const WgDevice *change);
/* Parses the answer to "get=1\n\n" (key=value lines ending with errno=N).
 * Errors quote the offending line. */
WgDevice *wg_uapi_parse_get(const char *ifname, const char *text, size_t len, GError **error);
/* Parses "errno=N\n\n"; N != 0 is an error naming N. */
bool wg_uapi_parse_errno(const char *text, size_t len, GError **error);
