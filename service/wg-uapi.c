/* wg-uapi.c: userspace WireGuard: the UAPI text protocol, its socket, and the supervised wireguard-go process. */
#include <arpa/inet.h>
#include <errno.h>
#include <poll.h>
#include <signal.h>
#include <string.h>
#include <sys/pidfd.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <unistd.h>

#include <gio/gio.h>
#include <glib-unix.h>

#include "pic-error.h"
#include "wg-backend.h"
#include "wg.h"

#define UAPI_DIR "/run/wireguard"
/* An answer is a few hundred bytes per peer; this bounds what a broken or
 * hostile process can make us hold. */
#define UAPI_ANSWER_MAX (4u << 20)
#define UAPI_IO_TIMEOUT_SEC 2
#define START_TIMEOUT_MS 5000
#define START_POLL_MS 10
#define STOP_TIMEOUT_MS 2000
#define KILL_TIMEOUT_MS 1000
#define BACKOFF_MIN_MS 100
#define BACKOFF_MAX_MS 5000
/* A process that ran this long was healthy: its next failure starts the
 * backoff from the bottom again. */
#define HEALTHY_RUN_USEC (60 * G_USEC_PER_SEC)

/* --- the text protocol --- */

char *wg_uapi_format_set(const WgDevice *change) {
        GString *out;

        g_return_val_if_fail(change, NULL);

        out = g_string_new("set=1\n");
        if (change->flags & WG_DEVICE_HAS_PRIVATE_KEY) {
                g_autofree char *hex = wg_key_to_hex(&change->private_key);

                g_string_append_printf(out, "private_key=%s\n", hex);
                explicit_bzero(hex, strlen(hex));
        }
        if (change->flags & WG_DEVICE_HAS_LISTEN_PORT)
                g_string_append_printf(out, "listen_port=%u\n", change->listen_port);
        if (change->flags & WG_DEVICE_REPLACE_PEERS)
                g_string_append(out, "replace_peers=true\n");

        for (guint i = 0; i < change->peers->len; i++) {
                const WgPeer *peer = change->peers->pdata[i];
                g_autofree char *hex = wg_key_to_hex(&peer->public_key);

                g_string_append_printf(out, "public_key=%s\n", hex);
                if (peer->flags & WG_PEER_REMOVE_ME) {
                        g_string_append(out, "remove=true\n");
                        continue;
                }
                if (peer->flags & WG_PEER_HAS_ENDPOINT) {
                        char address[INET_ADDRSTRLEN];

                        inet_ntop(AF_INET, &peer->endpoint.sin_addr, address, sizeof(address));
                        g_string_append_printf(out, "endpoint=%s:%u\n", address, ntohs(peer->endpoint.sin_port));
                }
                if (peer->flags & WG_PEER_HAS_KEEPALIVE)
                        g_string_append_printf(out, "persistent_keepalive_interval=%u\n",
                                               peer->persistent_keepalive);
                if (peer->flags & WG_PEER_REPLACE_ALLOWED_IPS)
                        g_string_append(out, "replace_allowed_ips=true\n");
                for (guint j = 0; j < peer->allowed_ips->len; j++) {
                        const Ipv4Prefix *p = &g_array_index(peer->allowed_ips, Ipv4Prefix, j);
                        g_autofree char *text = netaddr_format_network(p);

                        g_string_append_printf(out, "allowed_ip=%s\n", text);
                }
        }
        g_string_append_c(out, '\n');
        return g_string_free(out, FALSE);
}

/* Decimal without sign or leading zeros, at most @max. */
static bool parse_unsigned(const char *text, uint64_t max, uint64_t *ret) {
        uint64_t value = 0;

        if (!*text || (text[0] == '0' && text[1]))
                return false;
        for (const char *c = text; *c; c++) {
                unsigned digit;

                if (!g_ascii_isdigit(*c))
                        return false;
                digit = (unsigned) (*c - '0');
                if (value > (max - digit) / 10)
                        return false;
                value = value * 10 + digit;
        }
        *ret = value;
        return true;
}

/* "0" or a negative errno as wireguard-go writes it; errno values stay below 4096. */
static bool parse_errno_value(const char *text, int *ret) {
        bool negative = text[0] == '-';
        uint64_t value;

        if (!parse_unsigned(text + negative, 4095, &value))
                return false;
        if (negative && value == 0)
                return false;
        *ret = negative ? (int) -(int64_t) value : (int) value;
        return true;
}

static const char *errno_name(int n) {
        return g_strerror(n < 0 ? -n : n);
}

typedef struct {
        const char *ifname;
        const char *line;
        size_t line_len;
        unsigned lineno;
} LineContext;

G_GNUC_PRINTF(3, 4)
static bool line_error(const LineContext *ctx, GError **error, const char *format, ...) {
        g_autofree char *quoted = wg_quote(ctx->line, ctx->line_len);
        g_autofree char *reason = NULL;
        va_list ap;

        va_start(ap, format);
        reason = g_strdup_vprintf(format, ap);
        va_end(ap);
        g_set_error(error, PIC_ERROR, PIC_ERROR_FAILED,
                    "Cannot read the state of the userspace WireGuard %s: line %u \"%s\": %s",
                    ctx->ifname, ctx->lineno, quoted, reason);
        return false;
}

/* The key is the remote's text too: quoted, or a stray byte would make the
 * message invalid UTF-8. */
static bool unknown_key(const LineContext *ctx, const char *key, GError **error) {
        g_autofree char *quoted = wg_quote(key, strlen(key));

        return line_error(ctx, error, "unknown key '%s'", quoted);
}

/* IPv4 "a.b.c.d:port"; an IPv6 "[addr]:port" is checked and left out of the
 * model (@ret_is_ipv4 false), which speaks IPv4 only: a road warrior that
 * reached us over IPv6 must not make the whole state unreadable. */
static bool parse_endpoint(const char *value, struct sockaddr_in *ret, bool *ret_is_ipv4) {
        const char *colon = strrchr(value, ':');
        g_autofree char *host = NULL;
        uint64_t port;
        uint32_t address;

        if (!colon || !parse_unsigned(colon + 1, 65535, &port) || port == 0)
                return false;
        host = g_strndup(value, (size_t) (colon - value));
        if (host[0] == '[') {
                struct in6_addr a6;
                size_t n = strlen(host);
                char *percent;

                if (n < 3 || host[n - 1] != ']')
                        return false;
                host[n - 1] = '\0';
                /* A link-local address carries its zone: "[fe80::1%eth0]". */
                percent = strchr(host + 1, '%');
                if (percent)
                        *percent = '\0';
                if (inet_pton(AF_INET6, host + 1, &a6) != 1)
                        return false;
                *ret_is_ipv4 = false;
                return true;
        }
        if (!netaddr_parse_address(host, &address, NULL))
                return false;
        *ret = (struct sockaddr_in) {
                .sin_family = AF_INET,
                .sin_port = htons((uint16_t) port),
                .sin_addr.s_addr = htonl(address),
        };
        *ret_is_ipv4 = true;
        return true;
}

/* Like parse_endpoint: an IPv6 network is checked and not kept. */
static bool parse_allowed_ip(const char *value, Ipv4Prefix *ret, bool *ret_is_ipv4) {
        if (strchr(value, ':')) {
                const char *slash = strchr(value, '/');
                g_autofree char *address = NULL;
                struct in6_addr a6;
                uint64_t len;

                if (!slash || !parse_unsigned(slash + 1, 128, &len))
                        return false;
                address = g_strndup(value, (size_t) (slash - value));
                if (inet_pton(AF_INET6, address, &a6) != 1)
                        return false;
                *ret_is_ipv4 = false;
                return true;
        }
        if (!netaddr_parse_prefix(value, true, ret, NULL))
                return false;
        *ret_is_ipv4 = true;
        return true;
}

static bool parse_key(const char *value, WgKey *ret) {
        return strlen(value) == 2 * WG_KEY_LEN && wg_key_from_hex(value, ret, NULL);
}

typedef struct {
        WgDevice *device;
        WgPeer *peer;                /* the one the lines now describe */
        GHashTable *seen;            /* hex public keys of the peers so far */
        bool have_errno;
        int errno_value;
} GetState;

static bool parse_device_line(GetState *st, const LineContext *ctx, const char *key, const char *value,
                              GError **error) {
        WgDevice *device = st->device;
        uint64_t n;

        if (st->peer)
                return line_error(ctx, error, "'%s' is a setting of the device but came after the first peer", key);

        if (g_str_equal(key, "private_key")) {
                if (!parse_key(value, &device->private_key))
                        return line_error(ctx, error, "a private key must be 64 hex digits");
                device->flags |= WG_DEVICE_HAS_PRIVATE_KEY;
                if (wg_key_is_zero(&device->private_key) ||
                    !wg_key_public_from_private(&device->private_key, &device->public_key, NULL))
                        memset(&device->public_key, 0, sizeof(device->public_key));
        } else if (g_str_equal(key, "listen_port")) {
                if (!parse_unsigned(value, 65535, &n))
                        return line_error(ctx, error, "the port must be a number 0-65535");
                device->listen_port = (uint16_t) n;
                device->flags |= WG_DEVICE_HAS_LISTEN_PORT;
        } else {
                /* Checked, not kept: we never set a firewall mark. */
                if (!parse_unsigned(value, G_MAXUINT32, &n))
                        return line_error(ctx, error, "the firewall mark must be a number 0-4294967295");
        }
        return true;
}

static bool parse_peer_line(GetState *st, const LineContext *ctx, const char *key, const char *value,
                            GError **error) {
        WgPeer *peer = st->peer;
        uint64_t n;

        if (g_str_equal(key, "preshared_key")) {
                WgKey psk;
                bool ok = parse_key(value, &psk);

                wg_key_wipe(&psk);
                if (!ok)
                        return line_error(ctx, error, "a preshared key must be 64 hex digits");
        } else if (g_str_equal(key, "protocol_version")) {
                if (!parse_unsigned(value, G_MAXUINT32, &n) || n != 1)
                        return line_error(ctx, error, "only protocol version 1 is understood");
        } else if (g_str_equal(key, "endpoint")) {
                bool is_ipv4;

                if (!parse_endpoint(value, &peer->endpoint, &is_ipv4))
                        return line_error(ctx, error, "an endpoint must be a.b.c.d:port or [IPv6]:port");
                if (is_ipv4)
                        peer->flags |= WG_PEER_HAS_ENDPOINT;
        } else if (g_str_equal(key, "last_handshake_time_sec")) {
                if (!parse_unsigned(value, G_MAXINT64, &n))
                        return line_error(ctx, error, "the handshake time must be a number of seconds");
                peer->last_handshake = (int64_t) n;
        } else if (g_str_equal(key, "last_handshake_time_nsec")) {
                if (!parse_unsigned(value, 999999999, &n))
                        return line_error(ctx, error, "nanoseconds must be a number 0-999999999");
        } else if (g_str_equal(key, "rx_bytes")) {
                if (!parse_unsigned(value, G_MAXUINT64, &peer->rx_bytes))
                        return line_error(ctx, error, "a byte count must be a number");
        } else if (g_str_equal(key, "tx_bytes")) {
                if (!parse_unsigned(value, G_MAXUINT64, &peer->tx_bytes))
                        return line_error(ctx, error, "a byte count must be a number");
        } else if (g_str_equal(key, "persistent_keepalive_interval")) {
                if (!parse_unsigned(value, 65535, &n))
                        return line_error(ctx, error, "the keepalive interval must be a number 0-65535");
                peer->persistent_keepalive = (uint16_t) n;
                peer->flags |= WG_PEER_HAS_KEEPALIVE;
        } else if (g_str_equal(key, "allowed_ip")) {
                Ipv4Prefix prefix;
                bool is_ipv4;

                if (!parse_allowed_ip(value, &prefix, &is_ipv4))
                        return line_error(ctx, error, "an allowed IP must be a.b.c.d/n or an IPv6 network");
                if (is_ipv4)
                        wg_peer_add_allowed_ip(peer, &prefix);
        } else
                return unknown_key(ctx, key, error);
        return true;
}

static const char *const peer_keys[] = {
        "preshared_key", "protocol_version", "endpoint", "last_handshake_time_sec",
        "last_handshake_time_nsec", "rx_bytes", "tx_bytes", "persistent_keepalive_interval",
        "allowed_ip", NULL,
};

static bool parse_line(GetState *st, const LineContext *ctx, GError **error) {
        const char *eq = memchr(ctx->line, '=', ctx->line_len);
        g_autofree char *key = NULL;
        g_autofree char *value = NULL;

        if (memchr(ctx->line, '\0', ctx->line_len))
                return line_error(ctx, error, "the line contains a NUL byte");
        if (!eq)
                return line_error(ctx, error, "expected key=value");
        key = g_strndup(ctx->line, (size_t) (eq - ctx->line));
        value = g_strndup(eq + 1, ctx->line_len - (size_t) (eq - ctx->line) - 1);

        if (g_str_equal(key, "errno")) {
                if (!parse_errno_value(value, &st->errno_value))
                        return line_error(ctx, error, "errno must be 0 or a negative number");
                st->have_errno = true;
                return true;
        }
        if (g_str_equal(key, "public_key")) {
                WgKey pk;

                if (!parse_key(value, &pk))
                        return line_error(ctx, error, "a public key must be 64 hex digits");
                if (!g_hash_table_add(st->seen, g_ascii_strdown(value, -1)))
                        return line_error(ctx, error, "the same peer is listed twice");
                st->peer = wg_device_add_peer(st->device, &pk);
                return true;
        }
        if (g_str_equal(key, "private_key") || g_str_equal(key, "listen_port") || g_str_equal(key, "fwmark"))
                return parse_device_line(st, ctx, key, value, error);
        if (!st->peer) {
                if (g_strv_contains(peer_keys, key))
                        return line_error(ctx, error, "'%s' describes a peer but came before any public_key=", key);
                return unknown_key(ctx, key, error);
        }
        return parse_peer_line(st, ctx, key, value, error);
}

WgDevice *wg_uapi_parse_get(const char *ifname, const char *text, size_t len, GError **error) {
        g_autoptr(WgDevice) device = NULL;
        g_autoptr(GHashTable) seen = NULL;
        LineContext ctx = { .ifname = ifname };
        GetState st = { 0 };
        size_t pos = 0;

        g_return_val_if_fail(ifname, NULL);
        g_return_val_if_fail(text || len == 0, NULL);

        if (len > UAPI_ANSWER_MAX) {
                g_set_error(error, PIC_ERROR, PIC_ERROR_LIMIT_EXCEEDED,
                            "The state of the userspace WireGuard %s is larger than %u MiB; "
                            "it has more peers than this service manages", ifname, UAPI_ANSWER_MAX >> 20);
                return NULL;
        }

        device = wg_device_new(ifname);
        seen = g_hash_table_new_full(g_str_hash, g_str_equal, g_free, NULL);
        st.device = device;
        st.seen = seen;

        while (pos < len) {
                const char *nl = memchr(text + pos, '\n', len - pos);

                ctx.lineno++;
                ctx.line = text + pos;
                ctx.line_len = nl ? (size_t) (nl - ctx.line) : len - pos;
                if (!nl) {
                        line_error(&ctx, error, "the answer ends in the middle of this line");
                        return NULL;
                }
                pos += ctx.line_len + 1;

                if (st.have_errno) {
                        if (ctx.line_len == 0 && pos == len)
                                break;
                        line_error(&ctx, error, "nothing but a blank line may follow errno=");
                        return NULL;
                }
                if (ctx.line_len == 0) {
                        line_error(&ctx, error, "blank line before errno=");
                        return NULL;
                }
                if (!parse_line(&st, &ctx, error))
                        return NULL;
        }

        if (!st.have_errno || pos != len || len < 2 || text[len - 2] != '\n') {
                g_set_error(error, PIC_ERROR, PIC_ERROR_FAILED,
                            "Cannot read the state of the userspace WireGuard %s: the answer is cut short "
                            "(it must end with errno=N and a blank line)", ifname);
                return NULL;
        }
        if (st.errno_value != 0) {
                g_set_error(error, PIC_ERROR, PIC_ERROR_FAILED,
                            "The userspace WireGuard %s refused to report its state: errno=%d (%s)",
                            ifname, st.errno_value, errno_name(st.errno_value));
                return NULL;
        }
        return g_steal_pointer(&device);
}

bool wg_uapi_parse_errno(const char *text, size_t len, GError **error) {
        static const char prefix[] = "errno=";
        g_autofree char *value = NULL;
        int n;

        g_return_val_if_fail(text || len == 0, false);

        if (len < sizeof(prefix) - 1 + 3 || memcmp(text, prefix, sizeof(prefix) - 1) != 0 ||
            text[len - 1] != '\n' || text[len - 2] != '\n' || memchr(text, '\0', len) ||
            memchr(text, '\n', len) != text + len - 2) {
                g_autofree char *quoted = wg_quote(text, len);

                g_set_error(error, PIC_ERROR, PIC_ERROR_FAILED,
                            "The userspace WireGuard gave an answer that is not \"errno=N\": \"%s\"", quoted);
                return false;
        }
        value = g_strndup(text + sizeof(prefix) - 1, len - (sizeof(prefix) - 1) - 2);
        if (!parse_errno_value(value, &n)) {
                g_autofree char *quoted = wg_quote(text, len);

                g_set_error(error, PIC_ERROR, PIC_ERROR_FAILED,
                            "The userspace WireGuard gave an answer with an invalid errno: \"%s\"", quoted);
                return false;
        }
        if (n != 0) {
                g_set_error(error, PIC_ERROR, PIC_ERROR_FAILED,
                            "The userspace WireGuard refused the change: errno=%d (%s)", n, errno_name(n));
                return false;
        }
        return true;
}

/* --- the socket --- */

/* A connected socket, or -errno. */
static int uapi_connect(const char *path) {
        struct sockaddr_un sa = { .sun_family = AF_UNIX };
        struct timeval tv = { .tv_sec = UAPI_IO_TIMEOUT_SEC };
        int fd;

        if (strlen(path) >= sizeof(sa.sun_path))
                return -ENAMETOOLONG;
        memcpy(sa.sun_path, path, strlen(path));

        fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
        if (fd < 0)
                return -errno;
        /* Bounded even when the process hangs: it is local and answers in well under a millisecond. */
        if (setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv)) < 0 ||
            setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof(tv)) < 0 ||
            connect(fd, (struct sockaddr *) &sa, sizeof(sa)) < 0) {
                int r = -errno;

                close(fd);
                return r;
        }
        return fd;
}

/* True when a process listens on @path; @ret_pid is that process as the
 * kernel recorded it at listen() (0 when it lives in a pid namespace we
 * cannot see). */
static bool uapi_socket_answers(const char *path, pid_t *ret_pid) {
        struct ucred cred = { 0 };
        socklen_t len = sizeof(cred);
        int fd = uapi_connect(path);

        if (fd < 0)
                return false;
        if (getsockopt(fd, SOL_SOCKET, SO_PEERCRED, &cred, &len) < 0)
                cred.pid = 0;
        close(fd);
        if (ret_pid)
                *ret_pid = cred.pid;
        return true;
}

static bool io_error(const char *ifname, const char *what, int e, GError **error) {
        if (e == EAGAIN || e == EWOULDBLOCK)
                g_set_error(error, PIC_ERROR, PIC_ERROR_FAILED,
                            "The userspace WireGuard %s did not answer within %d s while %s",
                            ifname, UAPI_IO_TIMEOUT_SEC, what);
        else
                g_set_error(error, PIC_ERROR, PIC_ERROR_FAILED,
                            "Failed to talk to the userspace WireGuard %s while %s: %s",
                            ifname, what, g_strerror(e));
        return false;
}

/* One request, one answer: everything up to and including the first blank line. */
static bool uapi_transact(const char *path, const char *ifname, const char *request,
                          char **ret_answer, size_t *ret_len, int *ret_connect_errno, GError **error) {
        g_autoptr(GString) answer = NULL;
        size_t len = strlen(request), sent = 0;
        int fd;

        fd = uapi_connect(path);
        if (fd < 0) {
                if (ret_connect_errno)
                        *ret_connect_errno = -fd;
                g_set_error(error, PIC_ERROR, PIC_ERROR_FAILED,
                            "The userspace WireGuard %s is not running (cannot connect to %s: %s)",
                            ifname, path, g_strerror(-fd));
                return false;
        }

        while (sent < len) {
                ssize_t n = send(fd, request + sent, len - sent, MSG_NOSIGNAL);

                if (n < 0) {
                        int e = errno;

                        if (e == EINTR)
                                continue;
                        close(fd);
                        return io_error(ifname, "sending a request", e, error);
                }
                sent += (size_t) n;
        }

        answer = g_string_sized_new(1024);
        for (;;) {
                char buf[16384];
                size_t scan_from = answer->len > 0 ? answer->len - 1 : 0;
                ssize_t n = recv(fd, buf, sizeof(buf), 0);
                const char *end;

                if (n < 0) {
                        int e = errno;

                        if (e == EINTR)
                                continue;
                        close(fd);
                        return io_error(ifname, "reading its answer", e, error);
                }
                if (n == 0) {
                        close(fd);
                        g_set_error(error, PIC_ERROR, PIC_ERROR_FAILED,
                                    "The userspace WireGuard %s closed the connection before the end of its answer",
                                    ifname);
                        return false;
                }
                g_string_append_len(answer, buf, n);
                end = g_strstr_len(answer->str + scan_from, (gssize) (answer->len - scan_from), "\n\n");
                if (end) {
                        /* The process keeps the connection open for more requests: stop at the blank line. */
                        g_string_truncate(answer, (gsize) (end - answer->str) + 2);
                        break;
                }
                if (answer->len > UAPI_ANSWER_MAX) {
                        close(fd);
                        g_set_error(error, PIC_ERROR, PIC_ERROR_LIMIT_EXCEEDED,
                                    "The answer of the userspace WireGuard %s is larger than %u MiB",
                                    ifname, UAPI_ANSWER_MAX >> 20);
                        return false;
                }
        }
        close(fd);

        *ret_len = answer->len;
        *ret_answer = g_string_free(g_steal_pointer(&answer), FALSE);
        return true;
}

/* --- the process --- */

typedef struct {
        WgBackend base;
        char *command;
        char *socket_path;

        bool supervising;               /* between ensure_device and remove_device */
        GSubprocess *process;           /* the one we started */
        GCancellable *wait_cancellable;
        pid_t pid;                      /* of process, or of the adopted one (0: unknown) */
        bool adopted;                   /* a process we found running, not our child */
        int adopted_pidfd;              /* -1 when it cannot be watched */
        guint adopted_watch;
        gint64 running_since;           /* monotonic */
        unsigned backoff_ms;
        guint restart_timer;
} UapiBackend;

static void describe_exit(const siginfo_t *info, char *buf, size_t size) {
        if (info->si_code == CLD_EXITED)
                g_snprintf(buf, size, "exited with status %d", info->si_status);
        else
                g_snprintf(buf, size, "was killed by signal %d (%s)", info->si_status, strsignal(info->si_status));
}

/* Without reaping, so GLib's child watch still gets the status. A child GLib
 * already reaped (ECHILD) has exited too; then @info stays zero. */
static bool child_has_exited(pid_t pid, siginfo_t *info) {
        memset(info, 0, sizeof(*info));
        if (waitid(P_PID, (id_t) pid, info, WEXITED | WNOHANG | WNOWAIT) < 0)
                return errno == ECHILD;
        return info->si_pid != 0;
}

static bool child_wait_exit(pid_t pid, int timeout_ms) {
        siginfo_t info;

        for (int waited = 0;; waited += START_POLL_MS) {
                if (child_has_exited(pid, &info))
                        return true;
                if (waited >= timeout_ms)
                        return false;
                g_usleep(START_POLL_MS * 1000);
        }
}

static void on_process_exited(GObject *source, GAsyncResult *result, gpointer userdata);
static void schedule_restart(UapiBackend *self);

static void watch_process(UapiBackend *self) {
        g_clear_object(&self->wait_cancellable);
        self->wait_cancellable = g_cancellable_new();
        g_subprocess_wait_async(self->process, self->wait_cancellable, on_process_exited, self);
}

/* Starts the process and waits, bounded and blocking, until its UAPI socket
 * accepts a connection: from then on the interface exists. */
static bool start_process(UapiBackend *self, GError **error) {
        g_autoptr(GSubprocessLauncher) launcher = NULL;
        g_autoptr(GSubprocess) process = NULL;
        g_autoptr(GError) local = NULL;
        const char *identifier;
        gint64 deadline;
        pid_t pid;

        launcher = g_subprocess_launcher_new(G_SUBPROCESS_FLAGS_NONE);
        /* -f keeps it our child; the variable also tells it so, which silences its
         * "you should use the kernel module" banner. */
        g_subprocess_launcher_setenv(launcher, "WG_PROCESS_FOREGROUND", "1", TRUE);
        g_subprocess_launcher_set_cwd(launcher, "/");
        process = g_subprocess_launcher_spawn(launcher, &local, self->command, "-f", self->base.ifname, NULL);
        if (!process) {
                g_set_error(error, PIC_ERROR, PIC_ERROR_FAILED,
                            "Failed to start the userspace WireGuard \"%s -f %s\": %s; install wireguard-go "
                            "or set UserspaceCommand= in cell.conf",
                            self->command, self->base.ifname, local->message);
                return false;
        }
        identifier = g_subprocess_get_identifier(process);
        pid = identifier ? (pid_t) g_ascii_strtoll(identifier, NULL, 10) : 0;

        deadline = g_get_monotonic_time() + START_TIMEOUT_MS * 1000;
        for (;;) {
                siginfo_t info = { 0 };

                if (uapi_socket_answers(self->socket_path, NULL))
                        break;
                if (pid <= 0 || child_has_exited(pid, &info)) {
                        char how[128] = "exited";

                        if (info.si_pid != 0)
                                describe_exit(&info, how, sizeof(how));
                        g_set_error(error, PIC_ERROR, PIC_ERROR_FAILED,
                                    "The userspace WireGuard \"%s -f %s\" %s before opening %s; "
                                    "its messages are in the service's log",
                                    self->command, self->base.ifname, how, self->socket_path);
                        return false;
                }
                if (g_get_monotonic_time() >= deadline) {
                        g_subprocess_force_exit(process);
                        g_set_error(error, PIC_ERROR, PIC_ERROR_FAILED,
                                    "The userspace WireGuard \"%s -f %s\" did not open %s within %d s; "
                                    "it was stopped, its messages are in the service's log",
                                    self->command, self->base.ifname, self->socket_path,
                                    START_TIMEOUT_MS / 1000);
                        return false;
                }
                g_usleep(START_POLL_MS * 1000);
        }

        self->process = g_steal_pointer(&process);
        self->pid = pid;
        self->adopted = false;
        self->running_since = g_get_monotonic_time();
        watch_process(self);
        return true;
}

static void stop_watching_adopted(UapiBackend *self) {
        g_clear_handle_id(&self->adopted_watch, g_source_remove);
        if (self->adopted_pidfd >= 0) {
                close(self->adopted_pidfd);
                self->adopted_pidfd = -1;
        }
}

/* The process is gone: restart it, sooner after a healthy run. */
static void device_died(UapiBackend *self) {
        if (g_get_monotonic_time() - self->running_since >= HEALTHY_RUN_USEC)
                self->backoff_ms = BACKOFF_MIN_MS;
        if (self->supervising)
                schedule_restart(self);
}

static void on_process_exited(GObject *source, GAsyncResult *result, gpointer userdata) {
        g_autoptr(GError) error = NULL;
        GSubprocess *process = G_SUBPROCESS(source);
        UapiBackend *self;

        /* Cancelled means the backend stopped watching, and may be freed already. */
        if (!g_subprocess_wait_finish(process, result, &error)) {
                if (!g_error_matches(error, G_IO_ERROR, G_IO_ERROR_CANCELLED))
                        g_warning("Failed to watch the userspace WireGuard: %s", error->message);
                return;
        }
        self = userdata;
        if (self->process != process)
                return;

        if (g_subprocess_get_if_signaled(process))
                g_warning("The userspace WireGuard %s (pid %d) was killed by signal %d (%s)",
                          self->base.ifname, (int) self->pid, g_subprocess_get_term_sig(process),
                          strsignal(g_subprocess_get_term_sig(process)));
        else
                g_warning("The userspace WireGuard %s (pid %d) exited with status %d",
                          self->base.ifname, (int) self->pid, g_subprocess_get_exit_status(process));
        g_clear_object(&self->process);
        g_clear_object(&self->wait_cancellable);
        self->pid = 0;
        device_died(self);
}

static gboolean on_adopted_exited(int fd, GIOCondition condition, gpointer userdata) {
        UapiBackend *self = userdata;

        g_warning("The userspace WireGuard %s (pid %d, started before this service) exited",
                  self->base.ifname, (int) self->pid);
        self->adopted_watch = 0;
        close(self->adopted_pidfd);
        self->adopted_pidfd = -1;
        self->adopted = false;
        self->pid = 0;
        device_died(self);
        return G_SOURCE_REMOVE;
}

/* A process left by an earlier run of the service (after kill -9, or a
 * restart) still serves the interface: keep it, so the tunnels stay up, and
 * watch it through a pidfd since it is not our child. */
static void adopt(UapiBackend *self, pid_t pid) {
        stop_watching_adopted(self);
        self->adopted = true;
        self->pid = pid;
        self->running_since = g_get_monotonic_time();
        if (pid > 0)
                self->adopted_pidfd = pidfd_open(pid, 0);
        if (self->adopted_pidfd >= 0)
                self->adopted_watch = g_unix_fd_add(self->adopted_pidfd, G_IO_IN, on_adopted_exited, self);
        g_message("Using the userspace WireGuard %s that is already running (pid %d)",
                  self->base.ifname, (int) pid);
}

/* Adopts the process that serves the socket, or starts one. */
static bool bring_up(UapiBackend *self, GError **error) {
        pid_t pid = 0;

        if (uapi_socket_answers(self->socket_path, &pid)) {
                adopt(self, pid);
                return true;
        }
        return start_process(self, error);
}

static gboolean on_restart(gpointer userdata) {
        UapiBackend *self = userdata;
        g_autoptr(GError) error = NULL;

        self->restart_timer = 0;
        if (!self->supervising)
                return G_SOURCE_REMOVE;

        if (!bring_up(self, &error)) {
                g_warning("Failed to restart the userspace WireGuard %s (next try in %u ms): %s",
                          self->base.ifname, self->backoff_ms, error->message);
                schedule_restart(self);
                return G_SOURCE_REMOVE;
        }
        g_message("Restarted the userspace WireGuard %s (pid %d)", self->base.ifname, (int) self->pid);
        /* A fresh process knows nothing: the owner configures it again. */
        wg_backend_notify_lost(&self->base);
        return G_SOURCE_REMOVE;
}

static void schedule_restart(UapiBackend *self) {
        unsigned delay = self->backoff_ms;

        if (self->restart_timer)
                return;
        self->backoff_ms = MIN(self->backoff_ms * 2, BACKOFF_MAX_MS);
        self->restart_timer = g_timeout_add(delay, on_restart, self);
}

static bool uapi_ensure_device(WgBackend *backend, GError **error) {
        UapiBackend *self = (UapiBackend *) backend;

        /* Until its exit is reported, a child of ours counts as running; so does
         * an adopted process we can watch. */
        if (self->process || (self->adopted && self->adopted_pidfd >= 0)) {
                self->supervising = true;
                return true;
        }
        if (self->adopted && uapi_socket_answers(self->socket_path, NULL)) {
                self->supervising = true;
                return true;
        }

        g_clear_handle_id(&self->restart_timer, g_source_remove);
        if (!bring_up(self, error))
                return false;
        self->supervising = true;
        return true;
}

/* SIGTERM, a bounded wait, then SIGKILL. */
static void stop_own_process(UapiBackend *self) {
        if (!self->process)
                return;
        g_cancellable_cancel(self->wait_cancellable);
        g_clear_object(&self->wait_cancellable);
        g_subprocess_send_signal(self->process, SIGTERM);
        if (!child_wait_exit(self->pid, STOP_TIMEOUT_MS)) {
                g_warning("The userspace WireGuard %s (pid %d) did not stop within %d ms; killing it",
                          self->base.ifname, (int) self->pid, STOP_TIMEOUT_MS);
                g_subprocess_force_exit(self->process);
                child_wait_exit(self->pid, KILL_TIMEOUT_MS);
        }
        g_clear_object(&self->process);
        self->pid = 0;
}

static bool pidfd_wait_exit(int pidfd, int timeout_ms) {
        struct pollfd p = { .fd = pidfd, .events = POLLIN };
        int r;

        do
                r = poll(&p, 1, timeout_ms);
        while (r < 0 && errno == EINTR);
        return r > 0;
}

static void stop_adopted_process(UapiBackend *self) {
        if (!self->adopted)
                return;
        g_clear_handle_id(&self->adopted_watch, g_source_remove);
        if (self->adopted_pidfd >= 0) {
                if (pidfd_send_signal(self->adopted_pidfd, SIGTERM, NULL, 0) == 0 &&
                    !pidfd_wait_exit(self->adopted_pidfd, STOP_TIMEOUT_MS)) {
                        g_warning("The userspace WireGuard %s (pid %d) did not stop within %d ms; killing it",
                                  self->base.ifname, (int) self->pid, STOP_TIMEOUT_MS);
                        pidfd_send_signal(self->adopted_pidfd, SIGKILL, NULL, 0);
                        pidfd_wait_exit(self->adopted_pidfd, KILL_TIMEOUT_MS);
                }
        } else
                /* Not visible to us: userspace implementations exit when their socket is deleted. */
                (void) unlink(self->socket_path);
        stop_watching_adopted(self);
        self->adopted = false;
        self->pid = 0;
}

static void uapi_remove_device(WgBackend *backend) {
        UapiBackend *self = (UapiBackend *) backend;

        self->supervising = false;
        g_clear_handle_id(&self->restart_timer, g_source_remove);
        self->backoff_ms = BACKOFF_MIN_MS;
        stop_own_process(self);
        stop_adopted_process(self);
        /* A killed process leaves its socket behind, and wg(8) would list it. */
        if (!uapi_socket_answers(self->socket_path, NULL))
                (void) unlink(self->socket_path);
}

/* Only an adopted process we cannot watch dies unnoticed: a failed connection
 * is how we learn of it. */
static void connect_failed(UapiBackend *self, int e) {
        if (!self->supervising || !self->adopted || self->adopted_pidfd >= 0)
                return;
        if (e != ENOENT && e != ECONNREFUSED)
                return;
        g_warning("The userspace WireGuard %s (pid %d, started before this service) is gone",
                  self->base.ifname, (int) self->pid);
        self->adopted = false;
        self->pid = 0;
        device_died(self);
}

static bool uapi_get(WgBackend *backend, WgDevice **ret_device, GError **error) {
        UapiBackend *self = (UapiBackend *) backend;
        g_autofree char *answer = NULL;
        WgDevice *device;
        size_t len = 0;
        int e = 0;

        if (!uapi_transact(self->socket_path, backend->ifname, "get=1\n\n", &answer, &len, &e, error)) {
                connect_failed(self, e);
                return false;
        }
        device = wg_uapi_parse_get(backend->ifname, answer, len, error);
        explicit_bzero(answer, len);
        if (!device)
                return false;
        *ret_device = device;
        return true;
}

static bool uapi_set(WgBackend *backend, const WgDevice *change, GError **error) {
        UapiBackend *self = (UapiBackend *) backend;
        g_autofree char *request = wg_uapi_format_set(change);
        g_autofree char *answer = NULL;
        g_autoptr(GError) local = NULL;
        size_t len = 0;
        int e = 0;
        bool ok;

        ok = uapi_transact(self->socket_path, backend->ifname, request, &answer, &len, &e, error);
        explicit_bzero(request, strlen(request));
        if (!ok) {
                connect_failed(self, e);
                return false;
        }
        if (!wg_uapi_parse_errno(answer, len, &local)) {
                g_set_error(error, PIC_ERROR, PIC_ERROR_FAILED, "Failed to configure %s: %s",
                            backend->ifname, local->message);
                return false;
        }
        return true;
}

static void uapi_destroy(WgBackend *backend) {
        UapiBackend *self = (UapiBackend *) backend;

        /* The process outlives us on purpose: the tunnels stay up across a
         * restart of the service, which adopts it again. */
        g_clear_handle_id(&self->restart_timer, g_source_remove);
        if (self->wait_cancellable)
                g_cancellable_cancel(self->wait_cancellable);
        g_clear_object(&self->wait_cancellable);
        g_clear_object(&self->process);
        stop_watching_adopted(self);
        g_free(self->command);
        g_free(self->socket_path);
        g_free(self);
}

static const WgBackendOps uapi_ops = {
        .kind = "userspace",
        .ensure_device = uapi_ensure_device,
        .remove_device = uapi_remove_device,
        .get = uapi_get,
        .set = uapi_set,
        .destroy = uapi_destroy,
};

WgBackend *wg_backend_new_userspace(const char *ifname, const char *command) {
        UapiBackend *self;

        g_return_val_if_fail(wg_ifname_is_valid(ifname), NULL);
        g_return_val_if_fail(command && *command, NULL);

        self = g_new0(UapiBackend, 1);
        wg_backend_init(&self->base, &uapi_ops, ifname);
        self->command = g_strdup(command);
        self->socket_path = g_strdup_printf(UAPI_DIR "/%s.sock", ifname);
        self->adopted_pidfd = -1;
        self->backoff_ms = BACKOFF_MIN_MS;
        return &self->base;
}
