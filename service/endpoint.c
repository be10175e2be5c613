/* endpoint.c: endpoint auto-detection. A connected UDP socket makes the kernel
 * pick the route and source address for a destination without sending any
 * packet; TEST-NET-1 stands for "somewhere on the internet". */
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include "endpoint.h"
#include "netaddr.h"
#include "pic-error.h"

bool endpoint_detect_host(char **ret_host, GError **error) {
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
                            "Cannot work out this cell's endpoint: %s", g_strerror(errno));
                return false;
        }
        r = connect(fd, (struct sockaddr *) &remote, sizeof(remote));
        if (r >= 0)
                r = getsockname(fd, (struct sockaddr *) &local, &len);
        (void) close(fd);
        if (r < 0 || local.sin_addr.s_addr == htonl(INADDR_ANY)) {
                g_set_error_literal(error, PIC_ERROR, PIC_ERROR_FAILED,
                                    "Cannot work out this cell's endpoint: the host has no default route; "
                                    "set Endpoint (host:port) with Configure or in cell.conf");
                return false;
        }
        *ret_host = netaddr_format_address(ntohl(local.sin_addr.s_addr));
        return true;
}
