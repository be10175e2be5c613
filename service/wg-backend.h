/* wg-backend.h: what the WireGuard back-ends share behind wg.h: the dispatch
 * table each one fills in, and small helpers for their error messages. */
#pragma once

#include <stdbool.h>
#include <stddef.h>
#include <glib.h>

#include "wg.h"

typedef struct {
        const char *kind;
        bool (*ensure_device)(WgBackend *backend, GError **error);
        void (*remove_device)(WgBackend *backend);
        bool (*get)(WgBackend *backend, WgDevice **ret_device, GError **error);
        bool (*set)(WgBackend *backend, const WgDevice *change, GError **error);
        /* Releases what the back-end holds, without removing the device. */
        void (*destroy)(WgBackend *backend);
} WgBackendOps;

/* The first member of each back-end's own struct. */
struct WgBackend {
        const WgBackendOps *ops;
        char ifname[WG_IFNAME_MAX + 1];
        WgDeviceLostFunc lost_func;
        void *lost_userdata;
};

/* True for a name the kernel takes as an interface name and that is safe in
 * a socket path: 1-15 printable characters, no '/', ':' or space, not "." or "..". */
bool wg_ifname_is_valid(const char *ifname);
void wg_backend_init(WgBackend *backend, const WgBackendOps *ops, const char *ifname);
void wg_backend_notify_lost(WgBackend *backend);

/* @len bytes of untrusted text, escaped and cut to a bounded length, for
 * quoting in a message. */
char *wg_quote(const char *text, size_t len);
