/* probe.c: the ping, TCP connect and DNS checks of Link.Diagnose(), each a non-blocking socket watched by GSources. */
#include <errno.h>
#include <string.h>
#include <unistd.h>
#include <arpa/inet.h>
#include <linux/errqueue.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <gio/gio.h>
#include <glib-unix.h>

#include "probe.h"
#include "random-bytes.h"
#include "text-quote.h"

/* Every probe reports exactly once, and always from its main context, never
 * from inside the probe_*() call: a failure found at once (a bad name, no
 * route) is delivered from an idle source, so callers need not guard against
 * re-entrance. A cancelled probe reports ok=false with the message
 * "cancelled"; it does not go silent, so whoever collects several results
 * can count them. Sources live in the thread-default main context of the
 * caller, like GIO's asynchronous calls. @milliseconds is the time spent:
 * the round trip or connect time on success, the time until the verdict
 * otherwise. */

#define QUOTE_MAX 80

#define ICMP_ECHO_REPLY 0
#define ICMP_DEST_UNREACHABLE 3
#define ICMP_ECHO_REQUEST 8
#define ICMP_TIME_EXCEEDED 11
#define ICMP_HEADER_SIZE 8
/* The send time and a random cookie: the cookie tells our echo from anyone
 * else's, which matters on a ping socket, where the kernel picks the id. */
#define ECHO_PAYLOAD_SIZE 16
#define ECHO_SIZE (ICMP_HEADER_SIZE + ECHO_PAYLOAD_SIZE)
#define ECHO_SEQUENCE 1

#define DNS_PORT 53
#define DNS_HEADER_SIZE 12
#define DNS_NAME_MAX 253        /* in text, without the final dot */
#define DNS_LABEL_MAX 63
#define DNS_QUESTION_MAX (DNS_NAME_MAX + 2 + 4)
#define DNS_TYPE_A 1
#define DNS_CLASS_IN 1

/* Raw sockets see every ICMP packet of the host: a flood must not keep the
 * main loop in one callback. */
#define PACKETS_PER_WAKEUP 32

typedef enum {
        PROBE_PING,
        PROBE_TCP,
        PROBE_DNS,
} ProbeKind;

typedef struct {
        ProbeKind kind;
        int fd;
        GMainContext *context;
        GSource *io_source;
        GSource *timeout_source;
        GSource *cancel_source;
        GSource *idle_source;           /* delivers a verdict reached before any I/O */
        GCancellable *cancellable;
        ProbeDone done;
        void *userdata;

        gint64 started;                 /* µs, g_get_monotonic_time() */
        unsigned timeout_ms;
        uint32_t destination;
        uint16_t port;

        bool pending_ok;
        double pending_ms;
        char *pending_message;

        /* ping */
        bool raw;                       /* else a ping socket, whose id the kernel sets */
        uint8_t echo[ECHO_SIZE];        /* the request as sent */

        /* dns */
        char *name;
        uint16_t dns_id;
        uint8_t question[DNS_QUESTION_MAX];
        size_t question_len;
} Probe;

static char *format_address(uint32_t address) {
        return g_strdup_printf("%u.%u.%u.%u", address >> 24, (address >> 16) & 0xff,
                               (address >> 8) & 0xff, address & 0xff);
}

static struct sockaddr_in sockaddr_from(uint32_t address, uint16_t port) {
        return (struct sockaddr_in) {
                .sin_family = AF_INET,
                .sin_port = htons(port),
                .sin_addr.s_addr = htonl(address),
        };
}

static char *format_duration(unsigned ms) {
        if (ms >= 1000 && ms % 1000 == 0)
                return g_strdup_printf("%u s", ms / 1000);
        return g_strdup_printf("%u ms", ms);
}

static double elapsed_ms(gint64 since) {
        return (double) (g_get_monotonic_time() - since) / 1000.0;
}

static Probe *probe_new(ProbeKind kind, uint32_t destination, uint16_t port, unsigned timeout_ms,
                        GCancellable *cancellable, ProbeDone done, void *userdata) {
        Probe *p = g_new0(Probe, 1);

        p->kind = kind;
        p->fd = -1;
        p->context = g_main_context_ref_thread_default();
        p->cancellable = cancellable ? g_object_ref(cancellable) : NULL;
        p->done = done;
        p->userdata = userdata;
        p->started = g_get_monotonic_time();
        p->timeout_ms = timeout_ms;
        p->destination = destination;
        p->port = port;
        return p;
}

static void source_drop(GSource **source) {
        if (!*source)
                return;
        g_source_destroy(*source);
        g_source_unref(*source);
        *source = NULL;
}

static void probe_free(Probe *p) {
        source_drop(&p->io_source);
        source_drop(&p->timeout_source);
        source_drop(&p->cancel_source);
        source_drop(&p->idle_source);
        if (p->fd >= 0)
                close(p->fd);
        g_clear_object(&p->cancellable);
        g_main_context_unref(p->context);
        g_free(p->pending_message);
        g_free(p->name);
        g_free(p);
}

/* The one way out: nothing of @p is left to fire once the callback runs. */
static void probe_finish(Probe *p, bool ok, double ms, const char *message) {
        source_drop(&p->io_source);
        source_drop(&p->timeout_source);
        source_drop(&p->cancel_source);
        source_drop(&p->idle_source);
        if (p->fd >= 0) {
                close(p->fd);
                p->fd = -1;
        }

        if (p->done)
                p->done(ok, ms, ok ? NULL : message, p->userdata);
        probe_free(p);
}

static gboolean on_idle(void *userdata) {
        Probe *p = userdata;

        probe_finish(p, p->pending_ok, p->pending_ms, p->pending_message);
        return G_SOURCE_REMOVE;
}

/* Takes @message. Only while starting, before any other source exists. */
static void probe_finish_later(Probe *p, bool ok, char *message) {
        p->pending_ok = ok;
        p->pending_ms = elapsed_ms(p->started);
        p->pending_message = message;
        p->idle_source = g_idle_source_new();
        g_source_set_callback(p->idle_source, on_idle, p, NULL);
        g_source_attach(p->idle_source, p->context);
}

static gboolean on_cancelled(GCancellable *cancellable, void *userdata) {
        Probe *p = userdata;

        probe_finish(p, false, elapsed_ms(p->started), "cancelled");
        return G_SOURCE_REMOVE;
}

static gboolean on_timeout(void *userdata) {
        Probe *p = userdata;
        g_autofree char *duration = format_duration(p->timeout_ms);
        g_autofree char *where = format_address(p->destination);
        g_autofree char *message = NULL;

        switch (p->kind) {
        case PROBE_PING:
                message = g_strdup_printf("no answer within %s from %s (no ICMP echo reply)", duration, where);
                break;
        case PROBE_TCP:
                message = g_strdup_printf("no answer within %s from %s:%u (TCP connect)", duration, where,
                                          (unsigned) p->port);
                break;
        case PROBE_DNS: {
                g_autofree char *q = text_quote(p->name, QUOTE_MAX);

                message = g_strdup_printf("no answer within %s from DNS server %s for '%s'", duration, where, q);
                break;
        }
        }

        probe_finish(p, false, elapsed_ms(p->started), message);
        return G_SOURCE_REMOVE;
}

/* Watches @fd for @condition and starts the deadline and the cancellation. */
static void probe_arm(Probe *p, GIOCondition condition, GUnixFDSourceFunc on_io) {
        p->io_source = g_unix_fd_source_new(p->fd, condition);
        g_source_set_callback(p->io_source, G_SOURCE_FUNC(on_io), p, NULL);
        g_source_attach(p->io_source, p->context);

        p->timeout_source = g_timeout_source_new(p->timeout_ms);
        g_source_set_callback(p->timeout_source, on_timeout, p, NULL);
        g_source_attach(p->timeout_source, p->context);

        if (p->cancellable) {
                p->cancel_source = g_cancellable_source_new(p->cancellable);
                g_source_set_callback(p->cancel_source, G_SOURCE_FUNC(on_cancelled), p, NULL);
                g_source_attach(p->cancel_source, p->context);
        }
}

/* The checks every probe makes before touching the network; false when
 * @p is already on its way out. */
static bool probe_precheck(Probe *p) {
        if (g_cancellable_is_cancelled(p->cancellable)) {
                probe_finish_later(p, false, g_strdup("cancelled"));
                return false;
        }
        if (p->timeout_ms == 0) {
                probe_finish_later(p, false, g_strdup("a time-out of 0 ms leaves no time to answer: give at least 1 ms"));
                return false;
        }
        return true;
}

static bool probe_bind_source(Probe *p, uint32_t source) {
        struct sockaddr_in sa = sockaddr_from(source, 0);

        if (source == 0)
                return true;
        if (bind(p->fd, (struct sockaddr *) &sa, sizeof(sa)) < 0) {
                int e = errno;
                g_autofree char *a = format_address(source);

                probe_finish_later(p, false, g_strdup_printf("cannot send from source address %s: %s",
                                                             a, g_strerror(e)));
                return false;
        }
        return true;
}

/* ---- ICMP echo ---------------------------------------------------------- */

static uint16_t inet_checksum(const uint8_t *data, size_t len) {
        uint32_t sum = 0;

        for (size_t i = 0; i + 1 < len; i += 2)
                sum += (uint32_t) data[i] << 8 | data[i + 1];
        if (len % 2)
                sum += (uint32_t) data[len - 1] << 8;
        while (sum >> 16)
                sum = (sum & 0xffff) + (sum >> 16);
        return (uint16_t) ~sum;
}

static uint16_t read_be16(const uint8_t *p) {
        return (uint16_t) (p[0] << 8 | p[1]);
}

static char *icmp_error_text(uint8_t type, uint8_t code) {
        if (type == ICMP_TIME_EXCEEDED)
                return g_strdup("time to live exceeded (a routing loop?)");
        if (type != ICMP_DEST_UNREACHABLE)
                return g_strdup_printf("ICMP error type %u code %u", type, code);

        switch (code) {
        case 0:
        case 6:
                return g_strdup("network unreachable");
        case 1:
        case 7:
                return g_strdup("host unreachable");
        case 2:
                return g_strdup("protocol unreachable");
        case 3:
                return g_strdup("port unreachable");
        case 4:
                return g_strdup("fragmentation needed");
        case 9:
        case 10:
        case 13:
                return g_strdup("administratively prohibited");
        default:
                return g_strdup_printf("destination unreachable (code %u)", code);
        }
}

static void ping_fail_icmp(Probe *p, uint8_t type, uint8_t code, uint32_t reporter) {
        g_autofree char *what = icmp_error_text(type, code);
        g_autofree char *by = format_address(reporter);
        g_autofree char *to = format_address(p->destination);
        g_autofree char *message = g_strdup_printf("%s: %s reported it for the echo request to %s", what, by, to);

        probe_finish(p, false, elapsed_ms(p->started), message);
}

/* @icmp is the ICMP header and what follows, from @sender. Returns true when
 * it settled the probe (and freed @p). */
static bool ping_handle_icmp(Probe *p, const uint8_t *icmp, size_t len, uint32_t sender) {
        if (len < ICMP_HEADER_SIZE)
                return false;

        if (icmp[0] == ICMP_ECHO_REPLY) {
                if (icmp[1] != 0 || sender != p->destination || len != ECHO_SIZE)
                        return false;
                /* A ping socket's kernel rewrote the id and already matched it. */
                if (p->raw && memcmp(icmp + 4, p->echo + 4, 2) != 0)
                        return false;
                if (read_be16(icmp + 6) != ECHO_SEQUENCE)
                        return false;
                if (memcmp(icmp + ICMP_HEADER_SIZE, p->echo + ICMP_HEADER_SIZE, ECHO_PAYLOAD_SIZE) != 0)
                        return false;
                probe_finish(p, true, elapsed_ms(p->started), NULL);
                return true;
        }

        if (icmp[0] == ICMP_DEST_UNREACHABLE || icmp[0] == ICMP_TIME_EXCEEDED) {
                /* It quotes the offending IP header and the first 8 bytes of our echo. */
                const uint8_t *inner = icmp + ICMP_HEADER_SIZE;
                size_t inner_len = len - ICMP_HEADER_SIZE;
                size_t ihl;

                if (inner_len < 20 || (inner[0] >> 4) != 4)
                        return false;
                ihl = (size_t) (inner[0] & 0x0f) * 4;
                if (ihl < 20 || inner_len < ihl + ICMP_HEADER_SIZE)
                        return false;
                if (inner[9] != IPPROTO_ICMP)
                        return false;
                if (((uint32_t) inner[16] << 24 | (uint32_t) inner[17] << 16 | (uint32_t) inner[18] << 8 | inner[19])
                    != p->destination)
                        return false;
                if (inner[ihl] != ICMP_ECHO_REQUEST || memcmp(inner + ihl + 4, p->echo + 4, 4) != 0)
                        return false;
                ping_fail_icmp(p, icmp[0], icmp[1], sender);
                return true;
        }

        return false;
}

/* A ping socket hears of ICMP errors through its error queue (IP_RECVERR).
 * Returns true when one settled the probe. */
static bool ping_read_error_queue(Probe *p) {
        for (;;) {
                uint8_t data[ECHO_SIZE];
                uint8_t control[512];
                struct sockaddr_in from;
                struct iovec iov = { .iov_base = data, .iov_len = sizeof(data) };
                struct msghdr msg = {
                        .msg_name = &from,
                        .msg_namelen = sizeof(from),
                        .msg_iov = &iov,
                        .msg_iovlen = 1,
                        .msg_control = control,
                        .msg_controllen = sizeof(control),
                };

                if (recvmsg(p->fd, &msg, MSG_ERRQUEUE | MSG_DONTWAIT) < 0)
                        return false;   /* empty (EAGAIN) or nothing we could use */

                for (struct cmsghdr *c = CMSG_FIRSTHDR(&msg); c; c = CMSG_NXTHDR(&msg, c)) {
                        struct sock_extended_err ee;
                        struct sockaddr_in offender;

                        if (c->cmsg_level != SOL_IP || c->cmsg_type != IP_RECVERR)
                                continue;
                        if (c->cmsg_len < CMSG_LEN(sizeof(ee)))
                                continue;
                        memcpy(&ee, CMSG_DATA(c), sizeof(ee));

                        if (ee.ee_origin == SO_EE_ORIGIN_ICMP) {
                                uint32_t reporter = 0;

                                if (c->cmsg_len >= CMSG_LEN(sizeof(ee) + sizeof(offender))) {
                                        memcpy(&offender, CMSG_DATA(c) + sizeof(ee), sizeof(offender));
                                        if (offender.sin_family == AF_INET)
                                                reporter = ntohl(offender.sin_addr.s_addr);
                                }
                                ping_fail_icmp(p, ee.ee_type, ee.ee_code, reporter);
                                return true;
                        }
                        if (ee.ee_errno != 0) {
                                g_autofree char *to = format_address(p->destination);
                                g_autofree char *message = g_strdup_printf("echo request to %s failed: %s", to,
                                                                           g_strerror((int) ee.ee_errno));

                                probe_finish(p, false, elapsed_ms(p->started), message);
                                return true;
                        }
                }
        }
}

static gboolean ping_on_io(int fd, GIOCondition condition, void *userdata) {
        Probe *p = userdata;

        if (!p->raw && ping_read_error_queue(p))
                return G_SOURCE_REMOVE;

        for (unsigned i = 0; i < PACKETS_PER_WAKEUP; i++) {
                uint8_t buf[512];
                struct sockaddr_in from = {};
                socklen_t from_len = sizeof(from);
                const uint8_t *icmp = buf;
                size_t len;
                ssize_t n;

                n = recvfrom(fd, buf, sizeof(buf), MSG_DONTWAIT, (struct sockaddr *) &from, &from_len);
                if (n < 0) {
                        int e = errno;
                        g_autofree char *to = NULL;
                        g_autofree char *message = NULL;

                        if (e == EAGAIN || e == EWOULDBLOCK)
                                return G_SOURCE_CONTINUE;
                        if (e == EINTR)
                                continue;
                        to = format_address(p->destination);
                        message = g_strdup_printf("echo request to %s failed: %s", to, g_strerror(e));
                        probe_finish(p, false, elapsed_ms(p->started), message);
                        return G_SOURCE_REMOVE;
                }
                if (from.sin_family != AF_INET)
                        continue;
                len = (size_t) n;

                if (p->raw) {
                        /* Raw sockets hand us the IP header too. */
                        size_t ihl;

                        if (len < 20 || (buf[0] >> 4) != 4)
                                continue;
                        ihl = (size_t) (buf[0] & 0x0f) * 4;
                        if (ihl < 20 || len < ihl || buf[9] != IPPROTO_ICMP)
                                continue;
                        icmp = buf + ihl;
                        len -= ihl;
                }

                if (ping_handle_icmp(p, icmp, len, ntohl(from.sin_addr.s_addr)))
                        return G_SOURCE_REMOVE;
        }

        return G_SOURCE_CONTINUE;
}

/* A raw socket needs CAP_NET_RAW; a ping socket needs our group in
 * net.ipv4.ping_group_range. Either will do. */
static int open_icmp_socket(bool *ret_raw, char **ret_message) {
        int fd, e;

        fd = socket(AF_INET, SOCK_RAW | SOCK_NONBLOCK | SOCK_CLOEXEC, IPPROTO_ICMP);
        if (fd >= 0) {
                *ret_raw = true;
                return fd;
        }
        e = errno;
        if (e != EPERM && e != EACCES) {
                *ret_message = g_strdup_printf("cannot open an ICMP socket: %s", g_strerror(e));
                return -1;
        }

        fd = socket(AF_INET, SOCK_DGRAM | SOCK_NONBLOCK | SOCK_CLOEXEC, IPPROTO_ICMP);
        if (fd >= 0) {
                int on = 1;

                if (setsockopt(fd, SOL_IP, IP_RECVERR, &on, sizeof(on)) < 0) {
                        e = errno;
                        close(fd);
                        *ret_message = g_strdup_printf("cannot ask the ICMP socket for errors: %s", g_strerror(e));
                        return -1;
                }
                *ret_raw = false;
                return fd;
        }
        e = errno;
        if (e == EPERM || e == EACCES)
                *ret_message = g_strdup("cannot send an ICMP echo: this needs CAP_NET_RAW, or a group "
                                        "within the sysctl net.ipv4.ping_group_range");
        else
                *ret_message = g_strdup_printf("cannot open an ICMP ping socket: %s", g_strerror(e));
        return -1;
}

void probe_ping(uint32_t source, uint32_t destination, unsigned timeout_ms, GCancellable *cancellable,
                ProbeDone done, void *userdata) {
        Probe *p = probe_new(PROBE_PING, destination, 0, timeout_ms, cancellable, done, userdata);
        struct sockaddr_in to = sockaddr_from(destination, 0);
        g_autoptr(GError) error = NULL;
        char *message = NULL;
        gint64 now;
        uint16_t checksum;

        if (!probe_precheck(p))
                return;

        p->fd = open_icmp_socket(&p->raw, &message);
        if (p->fd < 0) {
                probe_finish_later(p, false, message);
                return;
        }
        if (!probe_bind_source(p, source))
                return;

        p->echo[0] = ICMP_ECHO_REQUEST;
        p->echo[1] = 0;
        /* The id (bytes 4-5) and the cookie (16-23) are random so that
         * nobody else's echo can pass for ours. */
        if (!random_bytes(p->echo + 4, 2, &error) ||
            !random_bytes(p->echo + ICMP_HEADER_SIZE + 8, ECHO_PAYLOAD_SIZE - 8, &error)) {
                probe_finish_later(p, false, g_strdup(error->message));
                return;
        }
        p->echo[6] = ECHO_SEQUENCE >> 8;
        p->echo[7] = ECHO_SEQUENCE & 0xff;
        now = g_get_monotonic_time();
        for (unsigned i = 0; i < 8; i++)
                p->echo[ICMP_HEADER_SIZE + i] = (uint8_t) ((uint64_t) now >> (56 - 8 * i));
        checksum = inet_checksum(p->echo, sizeof(p->echo));
        p->echo[2] = (uint8_t) (checksum >> 8);
        p->echo[3] = (uint8_t) (checksum & 0xff);

        p->started = now;
        if (sendto(p->fd, p->echo, sizeof(p->echo), 0, (struct sockaddr *) &to, sizeof(to)) < 0) {
                int e = errno;
                g_autofree char *a = format_address(destination);

                probe_finish_later(p, false, g_strdup_printf("cannot send an ICMP echo to %s: %s", a, g_strerror(e)));
                return;
        }

        probe_arm(p, G_IO_IN | G_IO_ERR, ping_on_io);
}

/* ---- TCP connect -------------------------------------------------------- */

static char *tcp_error_message(Probe *p, int e) {
        g_autofree char *a = format_address(p->destination);

        if (e == ECONNREFUSED)
                return g_strdup_printf("connection refused by %s:%u: nothing listens there, or a firewall rejects it",
                                       a, (unsigned) p->port);
        if (e == ETIMEDOUT)
                return g_strdup_printf("no answer from %s:%u (the kernel gave up on the TCP connect)",
                                       a, (unsigned) p->port);
        return g_strdup_printf("cannot connect to %s:%u: %s", a, (unsigned) p->port, g_strerror(e));
}

static gboolean tcp_on_io(int fd, GIOCondition condition, void *userdata) {
        Probe *p = userdata;
        int e = 0;
        socklen_t len = sizeof(e);
        g_autofree char *message = NULL;

        if (getsockopt(fd, SOL_SOCKET, SO_ERROR, &e, &len) < 0)
                e = errno;
        if (e == 0 && (condition & (G_IO_ERR | G_IO_HUP)))
                e = ECONNRESET;
        if (e == EINPROGRESS || e == EINTR)
                return G_SOURCE_CONTINUE;
        if (e == 0) {
                probe_finish(p, true, elapsed_ms(p->started), NULL);
                return G_SOURCE_REMOVE;
        }

        message = tcp_error_message(p, e);
        probe_finish(p, false, elapsed_ms(p->started), message);
        return G_SOURCE_REMOVE;
}

void probe_tcp_connect(uint32_t source, uint32_t destination, uint16_t port, unsigned timeout_ms,
                       GCancellable *cancellable, ProbeDone done, void *userdata) {
        Probe *p = probe_new(PROBE_TCP, destination, port, timeout_ms, cancellable, done, userdata);
        struct sockaddr_in to = sockaddr_from(destination, port);
        int e;

        if (!probe_precheck(p))
                return;
        if (port == 0) {
                probe_finish_later(p, false, g_strdup("TCP port 0 cannot be connected to: give a port of 1..65535"));
                return;
        }

        p->fd = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, IPPROTO_TCP);
        if (p->fd < 0) {
                e = errno;
                probe_finish_later(p, false, g_strdup_printf("cannot open a TCP socket: %s", g_strerror(e)));
                return;
        }
        if (!probe_bind_source(p, source))
                return;

        p->started = g_get_monotonic_time();
        if (connect(p->fd, (struct sockaddr *) &to, sizeof(to)) == 0) {
                probe_finish_later(p, true, NULL);
                return;
        }
        e = errno;
        if (e != EINPROGRESS) {
                probe_finish_later(p, false, tcp_error_message(p, e));
                return;
        }

        probe_arm(p, G_IO_OUT | G_IO_ERR | G_IO_HUP, tcp_on_io);
}

/* ---- DNS ---------------------------------------------------------------- */

/* The question section for @name: labels, type A, class IN. A final dot is
 * allowed; empty labels are not. */
static bool dns_encode_question(const char *name, uint8_t *out, size_t *ret_len, char **ret_message) {
        g_autofree char *q = text_quote(name, QUOTE_MAX);
        size_t n, pos = 0, start = 0;

        if (!name || name[0] == '\0' || strcmp(name, ".") == 0) {
                *ret_message = g_strdup("the name to look up is empty: give a host name such as 'gateway.example'");
                return false;
        }
        n = strlen(name);
        if (name[n - 1] == '.')
                n--;
        if (n > DNS_NAME_MAX) {
                *ret_message = g_strdup_printf("name '%s' is %zu characters long; a DNS name has at most %u",
                                               q, n, DNS_NAME_MAX);
                return false;
        }

        while (start <= n) {
                size_t end = start;

                while (end < n && name[end] != '.')
                        end++;
                if (end == start) {
                        *ret_message = g_strdup_printf("name '%s' has an empty label (two dots in a row, or a "
                                                       "leading dot): remove it", q);
                        return false;
                }
                if (end - start > DNS_LABEL_MAX) {
                        *ret_message = g_strdup_printf("name '%s' has a label of %zu characters; a DNS label has "
                                                       "at most %u", q, end - start, DNS_LABEL_MAX);
                        return false;
                }
                out[pos++] = (uint8_t) (end - start);
                memcpy(out + pos, name + start, end - start);
                pos += end - start;
                start = end + 1;
        }
        out[pos++] = 0;
        out[pos++] = 0;
        out[pos++] = DNS_TYPE_A;
        out[pos++] = 0;
        out[pos++] = DNS_CLASS_IN;

        *ret_len = pos;
        return true;
}

/* Names compare without regard to ASCII case; the rest byte for byte. */
static bool dns_question_equal(const uint8_t *a, const uint8_t *b, size_t len) {
        for (size_t i = 0; i < len; i++)
                if (g_ascii_tolower((char) a[i]) != g_ascii_tolower((char) b[i]))
                        return false;
        return true;
}

/* Moves *@pos past a possibly compressed name. */
static bool dns_skip_name(const uint8_t *buf, size_t len, size_t *pos) {
        size_t i = *pos;

        for (;;) {
                uint8_t b;

                if (i >= len)
                        return false;
                b = buf[i];
                if ((b & 0xc0) == 0xc0) {
                        if (i + 2 > len)
                                return false;
                        *pos = i + 2;
                        return true;
                }
                if (b & 0xc0)
                        return false;   /* reserved label types */
                if (b == 0) {
                        *pos = i + 1;
                        return true;
                }
                i += 1 + (size_t) b;
        }
}

typedef enum {
        DNS_REPLY_NOT_OURS,
        DNS_REPLY_MALFORMED,
        DNS_REPLY_PARSED,
} DnsReply;

/* Strict about everything it reads; answers are only counted, with A records
 * of class IN told apart. */
static DnsReply dns_parse_reply(const Probe *p, const uint8_t *buf, size_t len, unsigned *ret_rcode,
                                unsigned *ret_a_records) {
        unsigned qdcount, ancount, a_records = 0;
        bool truncated;
        size_t pos = DNS_HEADER_SIZE;

        if (len < 2 || read_be16(buf) != p->dns_id)
                return DNS_REPLY_NOT_OURS;
        if (len < DNS_HEADER_SIZE)
                return DNS_REPLY_MALFORMED;
        if (!(buf[2] & 0x80))
                return DNS_REPLY_NOT_OURS;      /* a query, not a reply */
        if (((buf[2] >> 3) & 0x0f) != 0)
                return DNS_REPLY_MALFORMED;     /* we asked a standard query */
        truncated = buf[2] & 0x02;

        qdcount = read_be16(buf + 4);
        ancount = read_be16(buf + 6);
        if (qdcount > 1)
                return DNS_REPLY_MALFORMED;
        if (qdcount == 1) {
                if (len - pos < p->question_len)
                        return truncated ? DNS_REPLY_NOT_OURS : DNS_REPLY_MALFORMED;
                if (!dns_question_equal(buf + pos, p->question, p->question_len))
                        return DNS_REPLY_NOT_OURS;
                pos += p->question_len;
        }

        for (unsigned i = 0; i < ancount; i++) {
                uint16_t type, class, rdlength;

                if (!dns_skip_name(buf, len, &pos) || len - pos < 10) {
                        if (truncated)
                                break;  /* the server cut its answer short and said so */
                        return DNS_REPLY_MALFORMED;
                }
                type = read_be16(buf + pos);
                class = read_be16(buf + pos + 2);
                rdlength = read_be16(buf + pos + 8);
                pos += 10;
                if (len - pos < rdlength) {
                        if (truncated)
                                break;
                        return DNS_REPLY_MALFORMED;
                }
                if (type == DNS_TYPE_A && class == DNS_CLASS_IN && rdlength == 4)
                        a_records++;
                pos += rdlength;
        }

        *ret_rcode = buf[3] & 0x0f;
        *ret_a_records = a_records;
        return DNS_REPLY_PARSED;
}

static const char *dns_rcode_name(unsigned rcode) {
        static const char *const names[] = {
                "NOERROR", "FORMERR", "SERVFAIL", "NXDOMAIN", "NOTIMP", "REFUSED",
                "YXDOMAIN", "YXRRSET", "NXRRSET", "NOTAUTH", "NOTZONE",
        };

        return rcode < G_N_ELEMENTS(names) ? names[rcode] : NULL;
}

static char *dns_verdict(const Probe *p, unsigned rcode, unsigned a_records) {
        g_autofree char *server = format_address(p->destination);
        g_autofree char *q = text_quote(p->name, QUOTE_MAX);
        const char *rname;

        if (rcode == 0 && a_records > 0)
                return NULL;
        if (rcode == 0)
                return g_strdup_printf("no answer: DNS server %s has no A record for '%s'", server, q);
        if (rcode == 3)
                return g_strdup_printf("NXDOMAIN: DNS server %s says '%s' does not exist", server, q);

        rname = dns_rcode_name(rcode);
        if (rname)
                return g_strdup_printf("%s: DNS server %s would not answer for '%s'", rname, server, q);
        return g_strdup_printf("RCODE %u: DNS server %s would not answer for '%s'", rcode, server, q);
}

static gboolean dns_on_io(int fd, GIOCondition condition, void *userdata) {
        Probe *p = userdata;

        for (unsigned i = 0; i < PACKETS_PER_WAKEUP; i++) {
                uint8_t buf[4096];
                struct sockaddr_in from = {};
                socklen_t from_len = sizeof(from);
                unsigned rcode = 0, a_records = 0;
                g_autofree char *message = NULL;
                ssize_t n;

                n = recvfrom(fd, buf, sizeof(buf), MSG_DONTWAIT, (struct sockaddr *) &from, &from_len);
                if (n < 0) {
                        int e = errno;
                        g_autofree char *server = NULL;

                        if (e == EAGAIN || e == EWOULDBLOCK)
                                return G_SOURCE_CONTINUE;
                        if (e == EINTR)
                                continue;
                        server = format_address(p->destination);
                        if (e == ECONNREFUSED)
                                message = g_strdup_printf("DNS server %s refused the query: nothing listens on "
                                                          "its port %u", server, DNS_PORT);
                        else
                                message = g_strdup_printf("no answer from DNS server %s: %s", server, g_strerror(e));
                        probe_finish(p, false, elapsed_ms(p->started), message);
                        return G_SOURCE_REMOVE;
                }

                /* The socket is connected, so the kernel filters already;
                 * this holds should that ever change. */
                if (from.sin_family != AF_INET || ntohl(from.sin_addr.s_addr) != p->destination ||
                    ntohs(from.sin_port) != DNS_PORT)
                        continue;

                switch (dns_parse_reply(p, buf, (size_t) n, &rcode, &a_records)) {
                case DNS_REPLY_NOT_OURS:
                        continue;
                case DNS_REPLY_MALFORMED: {
                        g_autofree char *server = format_address(p->destination);
                        g_autofree char *q = text_quote(p->name, QUOTE_MAX);

                        message = g_strdup_printf("malformed answer from DNS server %s for '%s'", server, q);
                        break;
                }
                case DNS_REPLY_PARSED:
                        message = dns_verdict(p, rcode, a_records);
                        break;
                }

                probe_finish(p, message == NULL, elapsed_ms(p->started), message);
                return G_SOURCE_REMOVE;
        }

        return G_SOURCE_CONTINUE;
}

void probe_dns(uint32_t server, const char *name, unsigned timeout_ms, GCancellable *cancellable,
               ProbeDone done, void *userdata) {
        Probe *p = probe_new(PROBE_DNS, server, DNS_PORT, timeout_ms, cancellable, done, userdata);
        struct sockaddr_in to = sockaddr_from(server, DNS_PORT);
        uint8_t query[DNS_HEADER_SIZE + DNS_QUESTION_MAX] = {};
        g_autoptr(GError) error = NULL;
        char *message = NULL;
        uint8_t id[2];
        int e;

        p->name = g_strdup(name);
        if (!probe_precheck(p))
                return;
        if (!dns_encode_question(name, p->question, &p->question_len, &message)) {
                probe_finish_later(p, false, message);
                return;
        }
        if (!random_bytes(id, sizeof(id), &error)) {
                probe_finish_later(p, false, g_strdup(error->message));
                return;
        }
        p->dns_id = read_be16(id);

        memcpy(query, id, sizeof(id));
        query[2] = 0x01;        /* RD: our resolver may forward it */
        query[5] = 1;           /* QDCOUNT */
        memcpy(query + DNS_HEADER_SIZE, p->question, p->question_len);

        p->fd = socket(AF_INET, SOCK_DGRAM | SOCK_NONBLOCK | SOCK_CLOEXEC, IPPROTO_UDP);
        if (p->fd < 0) {
                e = errno;
                probe_finish_later(p, false, g_strdup_printf("cannot open a UDP socket: %s", g_strerror(e)));
                return;
        }
        /* Connected, so that the kernel drops datagrams from anyone else and
         * reports a port unreachable at once. */
        p->started = g_get_monotonic_time();
        if (connect(p->fd, (struct sockaddr *) &to, sizeof(to)) < 0 ||
            send(p->fd, query, DNS_HEADER_SIZE + p->question_len, 0) < 0) {
                g_autofree char *a = format_address(server);

                e = errno;
                probe_finish_later(p, false, g_strdup_printf("cannot send a DNS query to %s: %s", a, g_strerror(e)));
                return;
        }

        probe_arm(p, G_IO_IN | G_IO_ERR, dns_on_io);
}
