/* test-probe.c: the ping, TCP and DNS probes against the real kernel, each test in a network namespace of its own with fake peers. */
#include <errno.h>
#include <fcntl.h>
#include <net/if.h>
#include <sched.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <sys/syscall.h>
#include <unistd.h>
#include <arpa/inet.h>
#include <linux/capability.h>
#include <netinet/in.h>
#include <gio/gio.h>
#include <glib-unix.h>

#include "probe.h"
#include "unit-main.h"

#define A(a, b, c, d) (((uint32_t) (a) << 24) | ((uint32_t) (b) << 16) | ((uint32_t) (c) << 8) | (uint32_t) (d))
#define LOCALHOST A(127, 0, 0, 1)
#define LOCALHOST2 A(127, 0, 0, 2)
#define NO_ROUTE A(192, 0, 2, 1)
#define NOT_OURS A(192, 0, 2, 7)

/* Long enough for a loaded machine, short enough to keep the file fast. */
#define SHORT_TIMEOUT 200
#define LONG_TIMEOUT 2000

static bool have_netns;

/* ---- the namespace ------------------------------------------------------ */

static void write_file(const char *path, const char *text) {
        int fd = open(path, O_WRONLY | O_CLOEXEC);

        ck_assert_msg(fd >= 0, "open %s: %s", path, g_strerror(errno));
        ck_assert_int_eq(write(fd, text, strlen(text)), (ssize_t) strlen(text));
        close(fd);
}

static void bring_lo_up(void) {
        struct ifreq ifr = {};
        int fd = socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);

        ck_assert_int_ge(fd, 0);
        g_strlcpy(ifr.ifr_name, "lo", sizeof(ifr.ifr_name));
        ck_assert_int_eq(ioctl(fd, SIOCGIFFLAGS, &ifr), 0);
        ifr.ifr_flags |= IFF_UP;
        ck_assert_int_eq(ioctl(fd, SIOCSIFFLAGS, &ifr), 0);
        close(fd);
}

/* Check runs each test in a child of its own, so the namespace, its sysctls
 * and any dropped capability die with it. */
static void setup(void) {
        have_netns = false;
        if (geteuid() != 0) {
                fprintf(stderr, "# skipped: network namespaces need root\n");
                return;
        }
        if (unshare(CLONE_NEWNET) < 0) {
                ck_assert_msg(errno == EPERM, "unshare(CLONE_NEWNET): %s", g_strerror(errno));
                fprintf(stderr, "# skipped: no permission for a network namespace\n");
                return;
        }
        bring_lo_up();
        have_netns = true;
}

#define REQUIRE_NETNS()                 \
        do {                            \
                if (!have_netns)        \
                        return;         \
        } while (0)

static void ignore_echo_requests(void) {
        write_file("/proc/sys/net/ipv4/icmp_echo_ignore_all", "1");
}

/* A dropped capability would outlive the test without a child per test. */
static bool forking(void) {
        const char *mode = getenv("CK_FORK");

        if (mode && strcmp(mode, "no") == 0) {
                fprintf(stderr, "# skipped: dropping a capability needs CK_FORK\n");
                return false;
        }
        return true;
}

/* Leaves ping sockets (for @ping_group) as the only way to send an echo. */
static void drop_cap_net_raw(const char *ping_group) {
        struct __user_cap_header_struct header = { .version = _LINUX_CAPABILITY_VERSION_3 };
        struct __user_cap_data_struct data[2] = {};

        write_file("/proc/sys/net/ipv4/ping_group_range", ping_group);
        ck_assert_int_eq(syscall(SYS_capget, &header, data), 0);
        data[CAP_NET_RAW / 32].effective &= ~(1u << (CAP_NET_RAW % 32));
        data[CAP_NET_RAW / 32].permitted &= ~(1u << (CAP_NET_RAW % 32));
        ck_assert_int_eq(syscall(SYS_capset, &header, data), 0);
        ck_assert_int_lt(socket(AF_INET, SOCK_RAW, IPPROTO_ICMP), 0);
}

/* ---- collecting the verdict --------------------------------------------- */

typedef struct {
        unsigned calls;
        bool ok;
        double ms;
        char *message;
        GMainLoop *loop;
} Result;

static void result_init(Result *r) {
        *r = (Result) { .loop = g_main_loop_new(NULL, FALSE) };
}

static void result_clear(Result *r) {
        g_main_loop_unref(r->loop);
        g_free(r->message);
}

static void on_done(bool ok, double milliseconds, const char *error_message, void *userdata) {
        Result *r = userdata;

        r->calls++;
        r->ok = ok;
        r->ms = milliseconds;
        g_free(r->message);
        r->message = g_strdup(error_message);
        g_main_loop_quit(r->loop);
}

static gboolean on_guard(void *userdata) {
        ck_abort_msg("the probe never called back");
        return G_SOURCE_REMOVE;
}

static gboolean on_quit(void *userdata) {
        g_main_loop_quit(userdata);
        return G_SOURCE_REMOVE;
}

static void spin(GMainLoop *loop, unsigned ms) {
        g_timeout_add(ms, on_quit, loop);
        g_main_loop_run(loop);
}

/* Runs the loop until the probe has answered, then a little longer to catch
 * a second call. Every probe answers from the loop, never from its own call. */
static void wait_for(Result *r, unsigned settle_ms) {
        guint guard;

        ck_assert_uint_eq(r->calls, 0);
        guard = g_timeout_add(3000, on_guard, NULL);
        g_main_loop_run(r->loop);
        g_source_remove(guard);
        spin(r->loop, settle_ms);
        ck_assert_uint_eq(r->calls, 1);
}

static void assert_failed(const Result *r, const char *part) {
        ck_assert(!r->ok);
        ck_assert_ptr_nonnull(r->message);
        ck_assert_msg(strstr(r->message, part), "message '%s' lacks '%s'", r->message, part);
}

static void assert_ok(const Result *r) {
        ck_assert_msg(r->ok, "probe failed: %s", r->message ? r->message : "(no message)");
        ck_assert_ptr_null(r->message);
        ck_assert(r->ms >= 0);
}

/* ---- ping ---------------------------------------------------------------- */

START_TEST(test_ping_loopback) {
        Result r;

        REQUIRE_NETNS();
        result_init(&r);
        probe_ping(0, LOCALHOST, LONG_TIMEOUT, NULL, on_done, &r);
        wait_for(&r, 20);
        assert_ok(&r);
        ck_assert_msg(r.ms < 100, "round trip on lo took %.3f ms", r.ms);
        result_clear(&r);
}
END_TEST

START_TEST(test_ping_source) {
        Result r;

        REQUIRE_NETNS();
        result_init(&r);
        probe_ping(LOCALHOST2, LOCALHOST, LONG_TIMEOUT, NULL, on_done, &r);
        wait_for(&r, 0);
        assert_ok(&r);
        result_clear(&r);

        result_init(&r);
        probe_ping(NOT_OURS, LOCALHOST, LONG_TIMEOUT, NULL, on_done, &r);
        wait_for(&r, 0);
        assert_failed(&r, "source address 192.0.2.7");
        result_clear(&r);
}
END_TEST

START_TEST(test_ping_no_route) {
        Result r;

        REQUIRE_NETNS();
        result_init(&r);
        probe_ping(0, NO_ROUTE, LONG_TIMEOUT, NULL, on_done, &r);
        wait_for(&r, 0);
        assert_failed(&r, "192.0.2.1");
        assert_failed(&r, "unreachable");
        ck_assert(r.ms < 100);
        result_clear(&r);
}
END_TEST

START_TEST(test_ping_timeout) {
        Result r;

        REQUIRE_NETNS();
        ignore_echo_requests();
        result_init(&r);
        probe_ping(0, LOCALHOST, SHORT_TIMEOUT, NULL, on_done, &r);
        wait_for(&r, 0);
        assert_failed(&r, "no answer within 200 ms from 127.0.0.1");
        ck_assert_msg(r.ms >= SHORT_TIMEOUT - 1 && r.ms < LONG_TIMEOUT, "gave up after %.1f ms", r.ms);
        result_clear(&r);
}
END_TEST

/* A raw socket of the test sees the probe's echo request (the kernel is told
 * not to answer it) and answers with forged packets. */
typedef enum {
        FORGE_REPLY,
        FORGE_REPLY_WRONG_ID,
        FORGE_REPLY_WRONG_SEQUENCE,
        FORGE_REPLY_WRONG_PAYLOAD,
        FORGE_REPLY_WRONG_CODE,
        FORGE_REPLY_OTHER_SOURCE,
        FORGE_REQUEST,
        FORGE_HOST_UNREACHABLE,
        FORGE_UNREACHABLE_FOR_OTHER_ECHO,
} Forgery;

typedef struct {
        Forgery forgery;
        int listen_fd;          /* sees every ICMP packet, sends as 127.0.0.1 */
        int other_fd;           /* sends as 127.0.0.2 */
        guint watch;
        bool done;
} Forger;

static uint16_t checksum(const uint8_t *data, size_t len) {
        uint32_t sum = 0;

        for (size_t i = 0; i + 1 < len; i += 2)
                sum += (uint32_t) data[i] << 8 | data[i + 1];
        if (len % 2)
                sum += (uint32_t) data[len - 1] << 8;
        while (sum >> 16)
                sum = (sum & 0xffff) + (sum >> 16);
        return (uint16_t) ~sum;
}

static void send_icmp(int fd, uint8_t *icmp, size_t len) {
        struct sockaddr_in to = { .sin_family = AF_INET, .sin_addr.s_addr = htonl(LOCALHOST) };
        uint16_t sum;

        icmp[2] = icmp[3] = 0;
        sum = checksum(icmp, len);
        icmp[2] = (uint8_t) (sum >> 8);
        icmp[3] = (uint8_t) sum;
        ck_assert_int_eq(sendto(fd, icmp, len, 0, (struct sockaddr *) &to, sizeof(to)), (ssize_t) len);
}

static gboolean forger_on_packet(int fd, GIOCondition condition, void *userdata) {
        Forger *f = userdata;
        uint8_t buf[512], out[512];
        ssize_t n;
        size_t ihl, len;
        uint8_t *request;

        n = recv(fd, buf, sizeof(buf), MSG_DONTWAIT);
        if (n < 0 || f->done)
                return G_SOURCE_CONTINUE;
        ihl = (size_t) (buf[0] & 0x0f) * 4;
        if ((size_t) n < ihl + 8 || buf[ihl] != 8)
                return G_SOURCE_CONTINUE;       /* not an echo request */
        request = buf + ihl;
        len = (size_t) n - ihl;
        f->done = true;

        if (f->forgery == FORGE_HOST_UNREACHABLE || f->forgery == FORGE_UNREACHABLE_FOR_OTHER_ECHO) {
                /* The IP header and first 8 bytes of the request, quoted. */
                memset(out, 0, 8);
                out[0] = 3;
                out[1] = 1;
                memcpy(out + 8, buf, ihl + 8);
                if (f->forgery == FORGE_UNREACHABLE_FOR_OTHER_ECHO)
                        out[8 + ihl + 4] ^= 0xff;
                send_icmp(f->other_fd, out, 8 + ihl + 8);
                return G_SOURCE_CONTINUE;
        }

        memcpy(out, request, len);
        out[0] = 0;
        switch (f->forgery) {
        case FORGE_REPLY_WRONG_ID:
                out[4] ^= 0xff;
                break;
        case FORGE_REPLY_WRONG_SEQUENCE:
                out[7] += 1;
                break;
        case FORGE_REPLY_WRONG_PAYLOAD:
                out[len - 1] ^= 0xff;
                break;
        case FORGE_REPLY_WRONG_CODE:
                out[1] = 1;
                break;
        case FORGE_REQUEST:
                out[0] = 8;
                break;
        default:
                break;
        }
        send_icmp(f->forgery == FORGE_REPLY_OTHER_SOURCE ? f->other_fd : f->listen_fd, out, len);
        return G_SOURCE_CONTINUE;
}

static void forger_start(Forger *f, Forgery forgery) {
        struct sockaddr_in other = { .sin_family = AF_INET, .sin_addr.s_addr = htonl(LOCALHOST2) };

        *f = (Forger) { .forgery = forgery };
        ignore_echo_requests();
        f->listen_fd = socket(AF_INET, SOCK_RAW | SOCK_NONBLOCK | SOCK_CLOEXEC, IPPROTO_ICMP);
        f->other_fd = socket(AF_INET, SOCK_RAW | SOCK_CLOEXEC, IPPROTO_ICMP);
        ck_assert_int_ge(f->listen_fd, 0);
        ck_assert_int_ge(f->other_fd, 0);
        ck_assert_int_eq(bind(f->other_fd, (struct sockaddr *) &other, sizeof(other)), 0);
        f->watch = g_unix_fd_add(f->listen_fd, G_IO_IN, forger_on_packet, f);
}

/* Without a child per test the next test would reuse the descriptors. */
static void forger_stop(Forger *f) {
        g_source_remove(f->watch);
        close(f->listen_fd);
        close(f->other_fd);
}

static const struct {
        Forgery forgery;
        const char *failure;    /* NULL: the probe succeeds */
} forgeries[] = {
        { FORGE_REPLY, NULL },
        { FORGE_REPLY_WRONG_ID, "no answer within 200 ms" },
        { FORGE_REPLY_WRONG_SEQUENCE, "no answer within 200 ms" },
        { FORGE_REPLY_WRONG_PAYLOAD, "no answer within 200 ms" },
        { FORGE_REPLY_WRONG_CODE, "no answer within 200 ms" },
        { FORGE_REPLY_OTHER_SOURCE, "no answer within 200 ms" },
        { FORGE_REQUEST, "no answer within 200 ms" },
        { FORGE_HOST_UNREACHABLE, "host unreachable: 127.0.0.2 reported it for the echo request to 127.0.0.1" },
        { FORGE_UNREACHABLE_FOR_OTHER_ECHO, "no answer within 200 ms" },
};

/* Raw sockets see every ICMP packet: only our own answer may count. */
static void check_forgery(unsigned i) {
        Forger f;
        Result r;

        forger_start(&f, forgeries[i].forgery);
        result_init(&r);
        probe_ping(0, LOCALHOST, SHORT_TIMEOUT, NULL, on_done, &r);
        wait_for(&r, 0);
        ck_assert(f.done);
        if (forgeries[i].failure)
                assert_failed(&r, forgeries[i].failure);
        else
                assert_ok(&r);
        result_clear(&r);
        forger_stop(&f);
}

START_TEST(test_ping_forged_raw) {
        REQUIRE_NETNS();
        check_forgery((unsigned) _i);
}
END_TEST

/* Ping sockets: the kernel picks the id and filters by it; errors come
 * through the error queue. The forger opens its sockets before the
 * capability goes. */
START_TEST(test_ping_forged_ping_socket) {
        Forger f;
        Result r;

        REQUIRE_NETNS();
        if (!forking())
                return;
        forger_start(&f, forgeries[_i].forgery);
        drop_cap_net_raw("0 0");
        result_init(&r);
        probe_ping(0, LOCALHOST, SHORT_TIMEOUT, NULL, on_done, &r);
        wait_for(&r, 0);
        ck_assert(f.done);
        if (forgeries[_i].failure)
                assert_failed(&r, forgeries[_i].failure);
        else
                assert_ok(&r);
        result_clear(&r);
        forger_stop(&f);
}
END_TEST

START_TEST(test_ping_socket_fallback) {
        Result r;

        REQUIRE_NETNS();
        if (!forking())
                return;
        drop_cap_net_raw("0 0");
        result_init(&r);
        probe_ping(0, LOCALHOST, LONG_TIMEOUT, NULL, on_done, &r);
        wait_for(&r, 0);
        assert_ok(&r);
        result_clear(&r);
}
END_TEST

START_TEST(test_ping_not_permitted) {
        Result r;

        REQUIRE_NETNS();
        if (!forking())
                return;
        drop_cap_net_raw("1 0");
        result_init(&r);
        probe_ping(0, LOCALHOST, LONG_TIMEOUT, NULL, on_done, &r);
        wait_for(&r, 0);
        assert_failed(&r, "CAP_NET_RAW");
        assert_failed(&r, "net.ipv4.ping_group_range");
        result_clear(&r);
}
END_TEST

/* ---- TCP ----------------------------------------------------------------- */

static int listen_on(uint32_t address, int backlog, uint16_t *ret_port) {
        struct sockaddr_in sa = { .sin_family = AF_INET, .sin_addr.s_addr = htonl(address) };
        socklen_t len = sizeof(sa);
        int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);

        ck_assert_int_ge(fd, 0);
        ck_assert_int_eq(bind(fd, (struct sockaddr *) &sa, sizeof(sa)), 0);
        ck_assert_int_eq(listen(fd, backlog), 0);
        ck_assert_int_eq(getsockname(fd, (struct sockaddr *) &sa, &len), 0);
        *ret_port = ntohs(sa.sin_port);
        return fd;
}

START_TEST(test_tcp_connect) {
        Result r;
        uint16_t port;
        int fd;

        REQUIRE_NETNS();
        fd = listen_on(LOCALHOST, 8, &port);
        result_init(&r);
        probe_tcp_connect(0, LOCALHOST, port, LONG_TIMEOUT, NULL, on_done, &r);
        wait_for(&r, 20);
        assert_ok(&r);
        ck_assert(r.ms < 100);
        result_clear(&r);

        /* From a chosen source, which the listener sees. */
        result_init(&r);
        probe_tcp_connect(LOCALHOST2, LOCALHOST, port, LONG_TIMEOUT, NULL, on_done, &r);
        wait_for(&r, 0);
        assert_ok(&r);
        result_clear(&r);
        for (unsigned i = 0; i < 2; i++) {
                struct sockaddr_in peer;
                socklen_t len = sizeof(peer);
                int c = accept(fd, (struct sockaddr *) &peer, &len);

                ck_assert_int_ge(c, 0);
                ck_assert_uint_eq(ntohl(peer.sin_addr.s_addr), i == 0 ? LOCALHOST : LOCALHOST2);
                close(c);
        }
        close(fd);
}
END_TEST

static const struct {
        uint32_t source;
        uint32_t destination;
        uint16_t port;
        const char *failure;
} tcp_failures[] = {
        { 0, LOCALHOST, 9, "connection refused by 127.0.0.1:9" },
        { 0, NO_ROUTE, 80, "cannot connect to 192.0.2.1:80: Network is unreachable" },
        { NOT_OURS, LOCALHOST, 80, "cannot send from source address 192.0.2.7" },
        { 0, LOCALHOST, 0, "TCP port 0" },
};

START_TEST(test_tcp_failures) {
        Result r;

        REQUIRE_NETNS();
        result_init(&r);
        probe_tcp_connect(tcp_failures[_i].source, tcp_failures[_i].destination, tcp_failures[_i].port,
                          LONG_TIMEOUT, NULL, on_done, &r);
        wait_for(&r, 0);
        assert_failed(&r, tcp_failures[_i].failure);
        ck_assert(r.ms < 100);
        result_clear(&r);
}
END_TEST

/* A listener whose accept queue is full drops further SYNs: the connect
 * hangs until our deadline. */
typedef struct {
        int fd;
        int queued_fd;          /* the one connection that fills the queue */
        uint16_t port;
} FullListener;

static void full_listener_start(FullListener *l) {
        struct sockaddr_in sa = { .sin_family = AF_INET, .sin_addr.s_addr = htonl(LOCALHOST) };

        l->fd = listen_on(LOCALHOST, 0, &l->port);
        l->queued_fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
        ck_assert_int_ge(l->queued_fd, 0);
        sa.sin_port = htons(l->port);
        ck_assert_int_eq(connect(l->queued_fd, (struct sockaddr *) &sa, sizeof(sa)), 0);
}

static void full_listener_stop(FullListener *l) {
        close(l->fd);
        close(l->queued_fd);
}

START_TEST(test_tcp_timeout) {
        FullListener l;
        Result r;

        REQUIRE_NETNS();
        full_listener_start(&l);
        result_init(&r);
        probe_tcp_connect(0, LOCALHOST, l.port, SHORT_TIMEOUT, NULL, on_done, &r);
        wait_for(&r, 0);
        assert_failed(&r, "no answer within 200 ms from 127.0.0.1:");
        ck_assert(r.ms >= SHORT_TIMEOUT - 1);
        result_clear(&r);
        full_listener_stop(&l);
}
END_TEST

/* ---- DNS ----------------------------------------------------------------- */

typedef enum {
        DNS_A,
        DNS_CNAME_AND_A,
        DNS_NXDOMAIN,
        DNS_REFUSED,
        DNS_SERVFAIL,
        DNS_NODATA,
        DNS_CNAME_ONLY,
        DNS_WRONG_ID_FIRST,
        DNS_QUERY_FIRST,
        DNS_OTHER_QUESTION_FIRST,
        DNS_OTHER_SERVER_FIRST,
        DNS_OTHER_SERVER_ONLY,
        DNS_SHORT_HEADER,
        DNS_CUT_ANSWER,
        DNS_BAD_LABEL_TYPE,
        DNS_TRUNCATED_FLAG,
        DNS_SILENT,
} DnsBehaviour;

typedef struct {
        DnsBehaviour behaviour;
        int fd;                 /* 127.0.0.1:53 */
        int other_fd;           /* 127.0.0.2:53 */
        guint watch;
        unsigned queries;
} FakeDns;

static size_t put16(uint8_t *p, size_t pos, uint16_t v) {
        p[pos] = (uint8_t) (v >> 8);
        p[pos + 1] = (uint8_t) v;
        return pos + 2;
}

/* One resource record whose owner is the question's name (a pointer to offset 12). */
static size_t put_record(uint8_t *p, size_t pos, uint16_t type, const uint8_t *rdata, uint16_t rdlength) {
        pos = put16(p, pos, 0xc00c);
        pos = put16(p, pos, type);
        pos = put16(p, pos, 1);
        pos = put16(p, pos, 0);
        pos = put16(p, pos, 60);
        pos = put16(p, pos, rdlength);
        memcpy(p + pos, rdata, rdlength);
        return pos + rdlength;
}

static size_t dns_reply(const uint8_t *query, size_t query_len, uint16_t id, unsigned rcode,
                        const uint16_t *types, unsigned n_records, uint8_t *out) {
        static const uint8_t address[] = { 10, 0, 0, 1 };
        static const uint8_t target[] = { 5, 'o', 't', 'h', 'e', 'r', 0 };
        size_t pos;

        memcpy(out, query, query_len);
        put16(out, 0, id);
        out[2] = 0x81;                  /* QR, RD */
        out[3] = (uint8_t) (0x80 | rcode);
        put16(out, 6, (uint16_t) n_records);
        pos = query_len;
        for (unsigned i = 0; i < n_records; i++) {
                if (types[i] == 1)
                        pos = put_record(out, pos, 1, address, sizeof(address));
                else
                        pos = put_record(out, pos, types[i], target, sizeof(target));
        }
        return pos;
}

static void dns_send(int fd, const uint8_t *buf, size_t len, const struct sockaddr_in *to) {
        ck_assert_int_eq(sendto(fd, buf, len, 0, (const struct sockaddr *) to, sizeof(*to)), (ssize_t) len);
}

static gboolean fake_dns_on_query(int fd, GIOCondition condition, void *userdata) {
        static const uint16_t a[] = { 1 }, cname_a[] = { 5, 1 }, cname[] = { 5 };
        FakeDns *d = userdata;
        uint8_t query[600], out[1200];
        struct sockaddr_in from;
        socklen_t from_len = sizeof(from);
        uint16_t id;
        ssize_t n;
        size_t len;

        n = recvfrom(fd, query, sizeof(query), MSG_DONTWAIT, (struct sockaddr *) &from, &from_len);
        if (n < 0)
                return G_SOURCE_CONTINUE;
        d->queries++;
        ck_assert_int_ge(n, 12 + 5);
        ck_assert_uint_eq(query[2], 0x01);      /* RD only */
        ck_assert_uint_eq(query[3], 0);
        ck_assert_uint_eq(query[5], 1);         /* one question */
        ck_assert_uint_eq(query[7] | query[9] | query[11], 0);
        ck_assert_mem_eq(query + n - 4, "\0\1\0\1", 4);        /* A, IN */
        id = (uint16_t) (query[0] << 8 | query[1]);

        switch (d->behaviour) {
        case DNS_A:
                dns_send(fd, out, dns_reply(query, (size_t) n, id, 0, a, 1, out), &from);
                break;
        case DNS_CNAME_AND_A:
                dns_send(fd, out, dns_reply(query, (size_t) n, id, 0, cname_a, 2, out), &from);
                break;
        case DNS_NXDOMAIN:
                dns_send(fd, out, dns_reply(query, (size_t) n, id, 3, NULL, 0, out), &from);
                break;
        case DNS_REFUSED:
                dns_send(fd, out, dns_reply(query, (size_t) n, id, 5, NULL, 0, out), &from);
                break;
        case DNS_SERVFAIL:
                dns_send(fd, out, dns_reply(query, (size_t) n, id, 2, NULL, 0, out), &from);
                break;
        case DNS_NODATA:
                dns_send(fd, out, dns_reply(query, (size_t) n, id, 0, NULL, 0, out), &from);
                break;
        case DNS_CNAME_ONLY:
                dns_send(fd, out, dns_reply(query, (size_t) n, id, 0, cname, 1, out), &from);
                break;
        case DNS_WRONG_ID_FIRST:
                /* Each decoy would fail the probe if it were believed. */
                dns_send(fd, out, dns_reply(query, (size_t) n, id ^ 1, 3, NULL, 0, out), &from);
                dns_send(fd, out, dns_reply(query, (size_t) n, id, 0, a, 1, out), &from);
                break;
        case DNS_QUERY_FIRST:
                len = dns_reply(query, (size_t) n, id, 3, NULL, 0, out);
                out[2] &= 0x7f;
                dns_send(fd, out, len, &from);
                dns_send(fd, out, dns_reply(query, (size_t) n, id, 0, a, 1, out), &from);
                break;
        case DNS_OTHER_QUESTION_FIRST:
                len = dns_reply(query, (size_t) n, id, 3, NULL, 0, out);
                out[13] ^= 0x01;
                dns_send(fd, out, len, &from);
                dns_send(fd, out, dns_reply(query, (size_t) n, id, 0, a, 1, out), &from);
                break;
        case DNS_OTHER_SERVER_FIRST:
                dns_send(d->other_fd, out, dns_reply(query, (size_t) n, id, 3, NULL, 0, out), &from);
                g_usleep(20000);        /* lets the decoy arrive first */
                dns_send(fd, out, dns_reply(query, (size_t) n, id, 0, a, 1, out), &from);
                break;
        case DNS_OTHER_SERVER_ONLY:
                dns_send(d->other_fd, out, dns_reply(query, (size_t) n, id, 0, a, 1, out), &from);
                break;
        case DNS_SHORT_HEADER:
                put16(out, 0, id);
                out[2] = 0x81;
                dns_send(fd, out, 6, &from);
                break;
        case DNS_CUT_ANSWER:
                len = dns_reply(query, (size_t) n, id, 0, a, 1, out);
                dns_send(fd, out, len - 2, &from);
                break;
        case DNS_BAD_LABEL_TYPE:
                len = dns_reply(query, (size_t) n, id, 0, a, 1, out);
                out[n] = 0x40;          /* the record's owner: a reserved label type */
                dns_send(fd, out, len, &from);
                break;
        case DNS_TRUNCATED_FLAG:
                /* TC set and the A record cut off: what arrived is counted. */
                len = dns_reply(query, (size_t) n, id, 0, cname_a, 2, out);
                out[2] |= 0x02;
                dns_send(fd, out, len - 6, &from);
                break;
        case DNS_SILENT:
                break;
        }
        return G_SOURCE_CONTINUE;
}

static int udp_bound(uint32_t address, uint16_t port) {
        struct sockaddr_in sa = { .sin_family = AF_INET, .sin_port = htons(port), .sin_addr.s_addr = htonl(address) };
        int fd = socket(AF_INET, SOCK_DGRAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);

        ck_assert_int_ge(fd, 0);
        ck_assert_int_eq(bind(fd, (struct sockaddr *) &sa, sizeof(sa)), 0);
        return fd;
}

static void fake_dns_start(FakeDns *d, DnsBehaviour behaviour) {
        *d = (FakeDns) {
                .behaviour = behaviour,
                .fd = udp_bound(LOCALHOST, 53),
                .other_fd = udp_bound(LOCALHOST2, 53),
        };
        d->watch = g_unix_fd_add(d->fd, G_IO_IN, fake_dns_on_query, d);
}

static void fake_dns_stop(FakeDns *d) {
        g_source_remove(d->watch);
        close(d->fd);
        close(d->other_fd);
}

static const struct {
        DnsBehaviour behaviour;
        const char *failure;    /* NULL: the probe succeeds */
} dns_cases[] = {
        { DNS_A, NULL },
        { DNS_CNAME_AND_A, NULL },
        { DNS_NXDOMAIN, "NXDOMAIN: DNS server 127.0.0.1 says 'gateway.cella.cell' does not exist" },
        { DNS_REFUSED, "REFUSED: DNS server 127.0.0.1 would not answer for 'gateway.cella.cell'" },
        { DNS_SERVFAIL, "SERVFAIL: DNS server 127.0.0.1" },
        { DNS_NODATA, "no answer: DNS server 127.0.0.1 has no A record for 'gateway.cella.cell'" },
        { DNS_CNAME_ONLY, "no answer: DNS server 127.0.0.1 has no A record" },
        { DNS_WRONG_ID_FIRST, NULL },
        { DNS_QUERY_FIRST, NULL },
        { DNS_OTHER_QUESTION_FIRST, NULL },
        { DNS_OTHER_SERVER_FIRST, NULL },
        { DNS_OTHER_SERVER_ONLY, "no answer within 200 ms from DNS server 127.0.0.1 for 'gateway.cella.cell'" },
        { DNS_SHORT_HEADER, "malformed answer from DNS server 127.0.0.1 for 'gateway.cella.cell'" },
        { DNS_CUT_ANSWER, "malformed answer" },
        { DNS_BAD_LABEL_TYPE, "malformed answer" },
        { DNS_TRUNCATED_FLAG, "no answer: DNS server 127.0.0.1 has no A record" },
        { DNS_SILENT, "no answer within 200 ms from DNS server 127.0.0.1 for 'gateway.cella.cell'" },
};

START_TEST(test_dns) {
        FakeDns d;
        Result r;

        REQUIRE_NETNS();
        fake_dns_start(&d, dns_cases[_i].behaviour);
        result_init(&r);
        probe_dns(LOCALHOST, "gateway.cella.cell", SHORT_TIMEOUT, NULL, on_done, &r);
        wait_for(&r, 0);
        ck_assert_uint_eq(d.queries, 1);
        if (dns_cases[_i].failure)
                assert_failed(&r, dns_cases[_i].failure);
        else
                assert_ok(&r);
        result_clear(&r);
        fake_dns_stop(&d);
}
END_TEST

START_TEST(test_dns_nothing_listens) {
        Result r;

        REQUIRE_NETNS();
        result_init(&r);
        probe_dns(LOCALHOST, "gateway.cella.cell", LONG_TIMEOUT, NULL, on_done, &r);
        wait_for(&r, 0);
        assert_failed(&r, "DNS server 127.0.0.1 refused the query: nothing listens on its port 53");
        ck_assert(r.ms < 100);
        result_clear(&r);

        result_init(&r);
        probe_dns(NO_ROUTE, "gateway.cella.cell", LONG_TIMEOUT, NULL, on_done, &r);
        wait_for(&r, 0);
        assert_failed(&r, "cannot send a DNS query to 192.0.2.1: Network is unreachable");
        result_clear(&r);
}
END_TEST

#define LABEL63 "abcdefghijklmnopqrstuvwxyzabcdefghijklmnopqrstuvwxyzabcdefghijk"

static const struct {
        const char *name;
        const char *failure;    /* NULL: valid, answered by the fake server */
} dns_names[] = {
        { "cell", NULL },
        { "gateway.cella.cell.", NULL },
        { LABEL63 ".cell", NULL },
        /* 253 characters, the most a name may have */
        { LABEL63 "." LABEL63 "." LABEL63 "." "abcdefghijklmnopqrstuvwxyzabcdefghijklmnopqrstuvwxyzabcdefghi", NULL },
        { LABEL63 "." LABEL63 "." LABEL63 "." "abcdefghijklmnopqrstuvwxyzabcdefghijklmnopqrstuvwxyzabcdefghi.", NULL },
        { "", "the name to look up is empty" },
        { ".", "the name to look up is empty" },
        { NULL, "the name to look up is empty" },
        { "a..cell", "name 'a..cell' has an empty label" },
        { ".cell", "name '.cell' has an empty label" },
        { "cell..", "name 'cell..' has an empty label" },
        { LABEL63 "l.cell", "has a label of 64 characters; a DNS label has at most 63" },
        { LABEL63 "." LABEL63 "." LABEL63 "." "abcdefghijklmnopqrstuvwxyzabcdefghijklmnopqrstuvwxyzabcdefghij",
          "is 254 characters long; a DNS name has at most 253" },
        { "bad\n.cell", NULL },
};

START_TEST(test_dns_names) {
        FakeDns d;
        Result r;

        REQUIRE_NETNS();
        fake_dns_start(&d, DNS_A);
        result_init(&r);
        probe_dns(LOCALHOST, dns_names[_i].name, LONG_TIMEOUT, NULL, on_done, &r);
        wait_for(&r, 0);
        if (dns_names[_i].failure) {
                assert_failed(&r, dns_names[_i].failure);
                ck_assert_uint_eq(d.queries, 0);
        } else {
                assert_ok(&r);
                ck_assert_uint_eq(d.queries, 1);
        }
        result_clear(&r);
        fake_dns_stop(&d);
}
END_TEST

/* Names reach the message escaped and cut, never raw. */
START_TEST(test_dns_name_quoted) {
        g_autofree char *long_name = g_strnfill(300, 'a');
        Result r;

        REQUIRE_NETNS();
        result_init(&r);
        probe_dns(LOCALHOST, "a\n..cell", LONG_TIMEOUT, NULL, on_done, &r);
        wait_for(&r, 0);
        assert_failed(&r, "name 'a\\n..cell' has an empty label");
        result_clear(&r);

        result_init(&r);
        probe_dns(LOCALHOST, long_name, LONG_TIMEOUT, NULL, on_done, &r);
        wait_for(&r, 0);
        assert_failed(&r, "...' is 300 characters long");
        ck_assert_uint_lt(strlen(r.message), 200);
        result_clear(&r);
}
END_TEST

/* ---- cancellation and the common rules ------------------------------------ */

static gboolean on_cancel(void *userdata) {
        g_cancellable_cancel(userdata);
        return G_SOURCE_REMOVE;
}

typedef enum {
        KIND_PING,
        KIND_TCP,
        KIND_DNS,
} Kind;

typedef struct {
        Kind kind;
        FullListener listener;
        FakeDns dns;
} Hang;

/* Every probe is left hanging (no echo, a full accept queue, a silent DNS
 * server) so that only cancellation or the deadline can end it. */
static void start_hanging(Hang *h, Kind kind, unsigned timeout_ms, GCancellable *cancellable, Result *r) {
        h->kind = kind;
        switch (kind) {
        case KIND_PING:
                ignore_echo_requests();
                probe_ping(0, LOCALHOST, timeout_ms, cancellable, on_done, r);
                break;
        case KIND_TCP:
                full_listener_start(&h->listener);
                probe_tcp_connect(0, LOCALHOST, h->listener.port, timeout_ms, cancellable, on_done, r);
                break;
        case KIND_DNS:
                fake_dns_start(&h->dns, DNS_SILENT);
                probe_dns(LOCALHOST, "gateway.cella.cell", timeout_ms, cancellable, on_done, r);
                break;
        }
}

static void stop_hanging(Hang *h) {
        if (h->kind == KIND_TCP)
                full_listener_stop(&h->listener);
        else if (h->kind == KIND_DNS)
                fake_dns_stop(&h->dns);
}

START_TEST(test_cancel_while_waiting) {
        g_autoptr(GCancellable) cancellable = g_cancellable_new();
        Hang h;
        Result r;

        REQUIRE_NETNS();
        result_init(&r);
        start_hanging(&h, (Kind) _i, SHORT_TIMEOUT, cancellable, &r);
        g_timeout_add(20, on_cancel, cancellable);
        /* Past the deadline: the time-out must not call back a second time. */
        wait_for(&r, SHORT_TIMEOUT + 50);
        assert_failed(&r, "cancelled");
        ck_assert_str_eq(r.message, "cancelled");
        ck_assert(r.ms < SHORT_TIMEOUT);
        result_clear(&r);
        stop_hanging(&h);
}
END_TEST

START_TEST(test_cancelled_before) {
        g_autoptr(GCancellable) cancellable = g_cancellable_new();
        Hang h;
        Result r;

        REQUIRE_NETNS();
        g_cancellable_cancel(cancellable);
        result_init(&r);
        start_hanging(&h, (Kind) _i, SHORT_TIMEOUT, cancellable, &r);
        wait_for(&r, 20);
        ck_assert_str_eq(r.message, "cancelled");
        ck_assert(!r.ok);
        result_clear(&r);
        stop_hanging(&h);
}
END_TEST

/* Cancelling after the verdict changes nothing. */
START_TEST(test_cancel_after_done) {
        g_autoptr(GCancellable) cancellable = g_cancellable_new();
        Result r;

        REQUIRE_NETNS();
        result_init(&r);
        probe_ping(0, LOCALHOST, LONG_TIMEOUT, cancellable, on_done, &r);
        wait_for(&r, 0);
        g_cancellable_cancel(cancellable);
        spin(r.loop, 20);
        ck_assert_uint_eq(r.calls, 1);
        assert_ok(&r);
        result_clear(&r);
}
END_TEST

START_TEST(test_zero_timeout) {
        Hang h;
        Result r;

        REQUIRE_NETNS();
        result_init(&r);
        start_hanging(&h, (Kind) _i, 0, NULL, &r);
        wait_for(&r, 20);
        assert_failed(&r, "a time-out of 0 ms");
        result_clear(&r);
        stop_hanging(&h);
}
END_TEST

/* Two probes at once keep to their own answers. */
START_TEST(test_concurrent) {
        FakeDns d;
        Result ping, dns, tcp;
        uint16_t port;
        guint guard;
        int fd;

        REQUIRE_NETNS();
        fake_dns_start(&d, DNS_NXDOMAIN);
        fd = listen_on(LOCALHOST, 8, &port);
        result_init(&ping);
        result_init(&dns);
        result_init(&tcp);
        probe_ping(0, LOCALHOST, LONG_TIMEOUT, NULL, on_done, &ping);
        probe_ping(0, LOCALHOST2, LONG_TIMEOUT, NULL, on_done, &ping);
        probe_dns(LOCALHOST, "x.cell", LONG_TIMEOUT, NULL, on_done, &dns);
        probe_tcp_connect(0, LOCALHOST, port, LONG_TIMEOUT, NULL, on_done, &tcp);
        guard = g_timeout_add(3000, on_guard, NULL);
        while (ping.calls < 2 || dns.calls < 1 || tcp.calls < 1)
                g_main_context_iteration(NULL, TRUE);
        g_source_remove(guard);
        spin(ping.loop, 20);
        ck_assert_uint_eq(ping.calls, 2);
        ck_assert(ping.ok);
        assert_failed(&dns, "NXDOMAIN");
        ck_assert_uint_eq(tcp.calls, 1);
        assert_ok(&tcp);
        result_clear(&ping);
        result_clear(&dns);
        result_clear(&tcp);
        close(fd);
        fake_dns_stop(&d);
}
END_TEST

Suite *unit_suite(void) {
        Suite *s = suite_create("probe");
        TCase *tc;

        tc = tcase_create("ping");
        tcase_add_checked_fixture(tc, setup, NULL);
        tcase_add_test(tc, test_ping_loopback);
        tcase_add_test(tc, test_ping_source);
        tcase_add_test(tc, test_ping_no_route);
        tcase_add_test(tc, test_ping_timeout);
        tcase_add_loop_test(tc, test_ping_forged_raw, 0, G_N_ELEMENTS(forgeries));
        tcase_add_loop_test(tc, test_ping_forged_ping_socket, 0, G_N_ELEMENTS(forgeries));
        tcase_add_test(tc, test_ping_socket_fallback);
        tcase_add_test(tc, test_ping_not_permitted);
        suite_add_tcase(s, tc);

        tc = tcase_create("tcp");
        tcase_add_checked_fixture(tc, setup, NULL);
        tcase_add_test(tc, test_tcp_connect);
        tcase_add_loop_test(tc, test_tcp_failures, 0, G_N_ELEMENTS(tcp_failures));
        tcase_add_test(tc, test_tcp_timeout);
        suite_add_tcase(s, tc);

        tc = tcase_create("dns");
        tcase_add_checked_fixture(tc, setup, NULL);
        tcase_add_loop_test(tc, test_dns, 0, G_N_ELEMENTS(dns_cases));
        tcase_add_test(tc, test_dns_nothing_listens);
        tcase_add_loop_test(tc, test_dns_names, 0, G_N_ELEMENTS(dns_names));
        tcase_add_test(tc, test_dns_name_quoted);
        suite_add_tcase(s, tc);

        tc = tcase_create("common");
        tcase_add_checked_fixture(tc, setup, NULL);
        tcase_add_loop_test(tc, test_cancel_while_waiting, KIND_PING, KIND_DNS + 1);
        tcase_add_loop_test(tc, test_cancelled_before, KIND_PING, KIND_DNS + 1);
        tcase_add_test(tc, test_cancel_after_done);
        tcase_add_loop_test(tc, test_zero_timeout, KIND_PING, KIND_DNS + 1);
        tcase_add_test(tc, test_concurrent);
        suite_add_tcase(s, tc);

        return s;
}
