/* daemon-config.h: the host settings of /etc/pic-cell/cell.conf (DESIGN §3),
 * with their defaults, and the first-start defaults of the cell's identity. */
#pragma once

#include <stdbool.h>
#include <stdint.h>
#include <glib.h>

#define DAEMON_CONFIG_DEFAULT_PATH SYSCONFDIR "/pic-cell/cell.conf"

typedef enum {
        WG_BACKEND_AUTO,
        WG_BACKEND_KERNEL,
        WG_BACKEND_USERSPACE,
} WgBackendChoice;

typedef enum {
        DNS_BACKEND_DNSMASQ,
        DNS_BACKEND_NONE,
} DnsBackendChoice;

typedef struct {
        /* [Daemon] */
        char *interface;          /* Interface=wg0 */
        uint16_t listen_port;     /* ListenPort=51820 */
        uint16_t sync_port;       /* SyncPort=51821 */
        char *uplink;             /* Uplink=auto */
        char *endpoint;           /* Endpoint=auto (or host:port) */
        DnsBackendChoice dns_backend;
        char *dnsmasq_bus_name;
        WgBackendChoice wireguard;
        char *userspace_command;  /* UserspaceCommand=wireguard-go */
        char *state_directory;    /* StateDirectory= (empty: built-in default) */

        /* [Cell]: used only when a cell starts for the first time */
        char *first_name;
        char *first_domain;
        char *first_address;
        char *first_dns_address;
} DaemonConfig;

DaemonConfig *daemon_config_new_default(void);
void daemon_config_free(DaemonConfig *config);
G_DEFINE_AUTOPTR_CLEANUP_FUNC(DaemonConfig, daemon_config_free)

/* Reads @path over the defaults. A missing file is fine when @optional; every
 * bad value is an error naming the key and quoting the value. */
DaemonConfig *daemon_config_load(const char *path, bool optional, GError **error);
