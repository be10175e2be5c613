/* endpoint.c: endpoint auto-detection: the address of NetworkManager's primary
 * connection when NetworkManager runs, else the source address of the default
 * route. */
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <gio/gio.h>
#include <gmodule.h>

#include "endpoint.h"
#include "i18n.h"
#include "netaddr.h"
#include "nm-address.h"
#include "pic-error.h"

/* An answer from NetworkManager (or the news that it does not run) is
 * reused this long: property reads come in bursts, and an address that
 * DHCP changes is seen again soon enough. */
#define NM_CACHE_USEC (10 * G_USEC_PER_SEC)

G_LOCK_DEFINE_STATIC(nm_cache);
static gint64 nm_cache_expires;         /* monotonic; 0: nothing cached */
static char *nm_cache_host;             /* NULL: NetworkManager gave no address */

/* The NetworkManager module, loaded on first use and kept: libnm registers
 * GObject types, which cannot be unloaded. */
static char *module_dir;        /* NULL: MODULEDIR */

void endpoint_set_module_dir(const char *dir) {
        g_free(module_dir);
        module_dir = g_strdup(dir);
}

static NmPrimaryAddressFunc load_nm_module(void) {
        g_autofree char *path = g_build_filename(module_dir ?: MODULEDIR, NM_ADDRESS_MODULE_NAME, NULL);
        GModule *module;
        gpointer symbol = NULL;

        module = g_module_open(path, G_MODULE_BIND_LAZY | G_MODULE_BIND_LOCAL);
        if (!module) {
                g_message("Not asking NetworkManager for this cell's endpoint: %s", g_module_error());
                return NULL;
        }
        if (!g_module_symbol(module, NM_ADDRESS_SYMBOL, &symbol) || !symbol) {
                g_warning("The NetworkManager module %s lacks %s", path, NM_ADDRESS_SYMBOL);
                g_module_close(module);
                return NULL;
        }
        g_module_make_resident(module);
        return (NmPrimaryAddressFunc) symbol;
}

/* The module's entry point, or NULL when it cannot be loaded (tried once). */
static NmPrimaryAddressFunc nm_module(void) {
        static gsize loaded = 0;
        static NmPrimaryAddressFunc func;

        if (g_once_init_enter(&loaded)) {
                func = load_nm_module();
                g_once_init_leave(&loaded, 1);
        }
        return func;
}

/* What NetworkManager says, re-formatted through our own parser: it ends up
 * in invites, which other cells parse strictly. */
static char *nm_query(void) {
        NmPrimaryAddressFunc query = nm_module();
        g_autofree char *text = query ? query() : NULL;
        uint32_t address;

        if (!text || !netaddr_parse_address(text, &address, NULL))
                return NULL;
        return netaddr_format_address(address);
}

/* NetworkManager's answer, from the cache when it is fresh. */
static char *nm_primary_address(void) {
        gint64 now = g_get_monotonic_time();
        char *host;

        G_LOCK(nm_cache);
        if (nm_cache_expires != 0 && now < nm_cache_expires) {
                host = g_strdup(nm_cache_host);
                G_UNLOCK(nm_cache);
                return host;
        }
        G_UNLOCK(nm_cache);

        /* Asked without the lock: a second caller at the same moment asks
         * again rather than waiting behind the first. */
        host = nm_query();

        G_LOCK(nm_cache);
        g_free(nm_cache_host);
        nm_cache_host = g_strdup(host);
        nm_cache_expires = g_get_monotonic_time() + NM_CACHE_USEC;
        G_UNLOCK(nm_cache);
        return host;
}

/* A connected UDP socket makes the kernel pick the route and source address
 * for a destination without sending any packet; TEST-NET-1 stands for
 * "somewhere on the internet". */
static bool route_source_address(char **ret_host, GError **error) {
        struct sockaddr_in remote = {
                .sin_family = AF_INET,
                .sin_port = htons(9),
                .sin_addr.s_addr = htonl(0xC0000201), /* 192.0.2.1 */
        };
        struct sockaddr_in local = { 0 };
        socklen_t len = sizeof(local);
        int fd, r;

        fd = socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);
        if (fd < 0) {
                g_set_error(error, PIC_ERROR, PIC_ERROR_FAILED,
                            _("Cannot work out this cell's endpoint: %s"), g_strerror(errno));
                return false;
        }
        r = connect(fd, (struct sockaddr *) &remote, sizeof(remote));
        if (r >= 0)
                r = getsockname(fd, (struct sockaddr *) &local, &len);
        (void) close(fd);
        if (r < 0 || local.sin_addr.s_addr == htonl(INADDR_ANY)) {
                g_set_error_literal(error, PIC_ERROR, PIC_ERROR_FAILED,
                                    _("Cannot work out this cell's endpoint: the host has no default route; "
                                      "set Endpoint (host:port) with Configure or in cell.conf"));
                return false;
        }
        *ret_host = netaddr_format_address(ntohl(local.sin_addr.s_addr));
        return true;
}

bool endpoint_detect_host(char **ret_host, GError **error) {
        char *host;

        g_return_val_if_fail(ret_host, false);

        host = nm_primary_address();
        if (host) {
                *ret_host = host;
                return true;
        }
        return route_source_address(ret_host, error);
}
