/* pic-bench.c: the benchmarks' client: times D-Bus calls to pic-celld with sd-bus, and pings through the tunnel, from inside a lab cell. */
#include <errno.h>
#include <netinet/in.h>
#include <netinet/ip.h>
#include <poll.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>
#include <arpa/inet.h>
#include <glib.h>
#include <systemd/sd-bus.h>

#define SERVICE "org.pic.Cell1"
#define CELL_PATH "/org/pic/Cell1"
#define CELL_INTERFACE "org.pic.Cell1"
#define LINK_INTERFACE "org.pic.Cell1.Link"
#define CALL_TIMEOUT_USEC (60 * G_USEC_PER_SEC)

#define ICMP_ECHO_REQUEST 8
#define ICMP_ECHO_REPLY 0
#define ICMP_HEADER_SIZE 8
#define ECHO_SIZE (ICMP_HEADER_SIZE + 16)

static int64_t now_usec(void) {
        struct timespec ts;

        clock_gettime(CLOCK_MONOTONIC, &ts);
        return (int64_t) ts.tv_sec * 1000000 + ts.tv_nsec / 1000;
}

static int compare_int64(const void *a, const void *b) {
        int64_t x = *(const int64_t *) a, y = *(const int64_t *) b;

        return (x > y) - (x < y);
}

/* Median, minimum and maximum of @samples (sorted in place), in microseconds. */
static void print_stats(const char *key, int64_t *samples, size_t n) {
        qsort(samples, n, sizeof(*samples), compare_int64);
        printf("%s_median_us=%" G_GINT64_FORMAT " %s_min_us=%" G_GINT64_FORMAT " %s_max_us=%" G_GINT64_FORMAT
               " %s_count=%zu\n",
               key, n % 2 ? samples[n / 2] : (samples[n / 2 - 1] + samples[n / 2]) / 2, key, samples[0], key,
               samples[n - 1], key, n);
}

static int open_bus(sd_bus **ret) {
        int r = sd_bus_open_system(ret);

        if (r < 0)
                fprintf(stderr, "pic-bench: cannot connect to the system bus: %s\n", strerror(-r));
        return r;
}

static int call_failed(const char *what, const sd_bus_error *error, int r) {
        fprintf(stderr, "pic-bench: %s failed: %s\n", what,
                error && error->message ? error->message : strerror(-r));
        return r;
}

/* One method call, timed from sending it until the whole reply has arrived. */
static int timed_call(sd_bus *bus, const char *path, const char *interface, const char *method,
                      int64_t *ret_usec, const char *types, ...) {
        sd_bus_error error = SD_BUS_ERROR_NULL;
        sd_bus_message *m = NULL, *reply = NULL;
        int64_t start;
        va_list ap;
        int r;

        r = sd_bus_message_new_method_call(bus, &m, SERVICE, path, interface, method);
        if (r < 0)
                return call_failed(method, NULL, r);
        if (types) {
                va_start(ap, types);
                r = sd_bus_message_appendv(m, types, ap);
                va_end(ap);
                if (r < 0) {
                        sd_bus_message_unref(m);
                        return call_failed(method, NULL, r);
                }
        }
        start = now_usec();
        r = sd_bus_call(bus, m, CALL_TIMEOUT_USEC, &error, &reply);
        *ret_usec = now_usec() - start;
        sd_bus_message_unref(m);
        sd_bus_message_unref(reply);
        if (r < 0)
                r = call_failed(method, &error, r);
        sd_bus_error_free(&error);
        return r;
}

/* bus LINK-PATH COUNT [small|managed]: Peer.Ping, GetAll on the link and, to
 * tell the cost of finding the link from that of its properties, Get of one
 * link property and GetAll on the cell object; these in turn, round after
 * round, so that background work weighs on all alike. Then GetManagedObjects
 * in a run of its own, so that no small call pays for the big reply before
 * it. "small" or "managed" runs only the one part. */
static int cmd_bus(int argc, char *argv[]) {
        static const struct {
                const char *key, *interface, *method, *arg1, *arg2;
                bool on_link;
        } calls[] = {
                { "ping", "org.freedesktop.DBus.Peer", "Ping", NULL, NULL, false },
                { "getall", "org.freedesktop.DBus.Properties", "GetAll", LINK_INTERFACE, NULL, true },
                { "get", "org.freedesktop.DBus.Properties", "Get", LINK_INTERFACE, "Name", true },
                { "getall_cell", "org.freedesktop.DBus.Properties", "GetAll", CELL_INTERFACE, NULL, false },
                { "managed", "org.freedesktop.DBus.ObjectManager", "GetManagedObjects", NULL, NULL, false },
        };
        const size_t n_small = G_N_ELEMENTS(calls) - 1;
        int64_t *samples[G_N_ELEMENTS(calls)] = { NULL };
        size_t first, last;
        sd_bus *bus = NULL;
        unsigned count;
        int r = 0;

        if (argc < 2 || argc > 3 || (argc == 3 && !g_str_equal(argv[2], "small") && !g_str_equal(argv[2], "managed"))) {
                fprintf(stderr, "usage: pic-bench bus LINK-PATH COUNT [small|managed]\n");
                return 2;
        }
        count = (unsigned) g_ascii_strtoull(argv[1], NULL, 10);
        if (count == 0) {
                fprintf(stderr, "pic-bench: COUNT must be a positive number, got '%s'\n", argv[1]);
                return 2;
        }
        first = argc == 3 && g_str_equal(argv[2], "managed") ? n_small : 0;
        last = argc == 3 && g_str_equal(argv[2], "small") ? n_small : G_N_ELEMENTS(calls);
        for (size_t k = 0; k < G_N_ELEMENTS(calls); k++)
                samples[k] = g_new(int64_t, count);
        if (open_bus(&bus) < 0)
                goto out;

        /* The first rounds warm the connection and the caches up. */
        for (unsigned i = 0; i < count + 3 && r >= 0 && first < n_small; i++)
                for (size_t k = 0; k < n_small && r >= 0; k++) {
                        const char *path = calls[k].on_link ? argv[0] : CELL_PATH;
                        int64_t t;

                        if (calls[k].arg2)
                                r = timed_call(bus, path, calls[k].interface, calls[k].method, &t, "ss",
                                               calls[k].arg1, calls[k].arg2);
                        else if (calls[k].arg1)
                                r = timed_call(bus, path, calls[k].interface, calls[k].method, &t, "s",
                                               calls[k].arg1);
                        else
                                r = timed_call(bus, path, calls[k].interface, calls[k].method, &t, NULL);
                        if (i >= 3)
                                samples[k][i - 3] = t;
                }
        for (unsigned i = 0; i < count + 3 && r >= 0 && last > n_small; i++) {
                int64_t t;

                r = timed_call(bus, CELL_PATH, calls[n_small].interface, calls[n_small].method, &t, NULL);
                if (i >= 3)
                        samples[n_small][i - 3] = t;
        }
        if (r >= 0)
                for (size_t k = first; k < last; k++)
                        print_stats(calls[k].key, samples[k], count);
out:
        for (size_t k = 0; k < G_N_ELEMENTS(calls); k++)
                g_free(samples[k]);
        sd_bus_flush_close_unref(bus);
        return r < 0 || !bus ? 1 : 0;
}

/* toggle LINK-PATH SERVICE COUNT: SetPermissions, sharing SERVICE and
 * withdrawing it in turn, so that every call changes the model. */
static int cmd_toggle(int argc, char *argv[]) {
        g_autofree int64_t *samples = NULL;
        sd_bus *bus = NULL;
        unsigned count;
        int r = 0;

        if (argc != 3) {
                fprintf(stderr, "usage: pic-bench toggle LINK-PATH SERVICE COUNT\n");
                return 2;
        }
        count = (unsigned) g_ascii_strtoull(argv[2], NULL, 10);
        if (count == 0) {
                fprintf(stderr, "pic-bench: COUNT must be a positive number, got '%s'\n", argv[2]);
                return 2;
        }
        samples = g_new(int64_t, count);
        if (open_bus(&bus) < 0)
                return 1;
        for (unsigned i = 0; i < count + 2 && r >= 0; i++) {
                int64_t t;
                /* The first two calls are warm-up and are not counted. */
                r = timed_call(bus, argv[0], LINK_INTERFACE, "SetPermissions", i < 2 ? &t : &samples[i - 2],
                               "a{sb}", 1, argv[1], (int) (i % 2 == 0));
        }
        if (r >= 0)
                print_stats("toggle", samples, count);
        sd_bus_flush_close_unref(bus);
        return r < 0 ? 1 : 0;
}

/* --- ICMP through the tunnel --- */

static uint16_t checksum(const uint8_t *data, size_t len) {
        uint32_t sum = 0;

        for (size_t i = 0; i + 1 < len; i += 2)
                sum += (uint32_t) (data[i] << 8 | data[i + 1]);
        if (len % 2)
                sum += (uint32_t) data[len - 1] << 8;
        while (sum >> 16)
                sum = (sum & 0xffff) + (sum >> 16);
        return (uint16_t) ~sum;
}

typedef struct {
        int fd;
        struct sockaddr_in target;
        uint16_t id;
        uint16_t seq;
} Pinger;

static int pinger_open(Pinger *p, const char *address) {
        *p = (Pinger) { .target.sin_family = AF_INET, .id = (uint16_t) (getpid() & 0xffff) };
        if (inet_pton(AF_INET, address, &p->target.sin_addr) != 1) {
                fprintf(stderr, "pic-bench: '%s' is not an IPv4 address\n", address);
                return -EINVAL;
        }
        p->fd = socket(AF_INET, SOCK_RAW | SOCK_CLOEXEC | SOCK_NONBLOCK, IPPROTO_ICMP);
        if (p->fd < 0) {
                fprintf(stderr, "pic-bench: cannot open a raw ICMP socket (root needed): %s\n", strerror(errno));
                return -errno;
        }
        return 0;
}

static int pinger_send(Pinger *p) {
        uint8_t packet[ECHO_SIZE] = { ICMP_ECHO_REQUEST, 0 };
        uint16_t sum;

        p->seq++;
        packet[4] = (uint8_t) (p->id >> 8);
        packet[5] = (uint8_t) p->id;
        packet[6] = (uint8_t) (p->seq >> 8);
        packet[7] = (uint8_t) p->seq;
        memcpy(packet + ICMP_HEADER_SIZE, "pic-bench-echo..", 16);
        sum = checksum(packet, sizeof(packet));
        packet[2] = (uint8_t) (sum >> 8);
        packet[3] = (uint8_t) sum;
        /* Before the route exists the kernel may refuse; that is a failed try. */
        if (sendto(p->fd, packet, sizeof(packet), 0, (struct sockaddr *) &p->target, sizeof(p->target)) < 0)
                return -errno;
        return 0;
}

/* Waits up to @timeout_ms for an echo reply from the target with our id and
 * a sequence number at least @min_seq; true when one came. */
static bool pinger_wait(Pinger *p, uint16_t min_seq, int timeout_ms) {
        int64_t deadline = now_usec() + (int64_t) timeout_ms * 1000;

        for (;;) {
                uint8_t buffer[1500];
                struct sockaddr_in from;
                socklen_t fromlen = sizeof(from);
                struct pollfd pfd = { .fd = p->fd, .events = POLLIN };
                int64_t left = deadline - now_usec();
                ssize_t n;

                if (left <= 0)
                        return false;
                if (poll(&pfd, 1, (int) ((left + 999) / 1000)) <= 0)
                        continue;
                while ((n = recvfrom(p->fd, buffer, sizeof(buffer), 0, (struct sockaddr *) &from, &fromlen)) > 0) {
                        size_t ihl = (size_t) (buffer[0] & 0x0f) * 4;
                        const uint8_t *icmp = buffer + ihl;
                        uint16_t id, seq;

                        fromlen = sizeof(from);
                        if ((size_t) n < ihl + ICMP_HEADER_SIZE || from.sin_addr.s_addr != p->target.sin_addr.s_addr ||
                            icmp[0] != ICMP_ECHO_REPLY)
                                continue;
                        id = (uint16_t) (icmp[4] << 8 | icmp[5]);
                        seq = (uint16_t) (icmp[6] << 8 | icmp[7]);
                        if (id == p->id && seq >= min_seq)
                                return true;
                }
        }
}

/* rtt ADDRESS COUNT: round trips of single echoes, one at a time. */
static int cmd_rtt(int argc, char *argv[]) {
        g_autofree int64_t *samples = NULL;
        unsigned count, got = 0;
        Pinger p;

        if (argc != 2) {
                fprintf(stderr, "usage: pic-bench rtt ADDRESS COUNT\n");
                return 2;
        }
        count = (unsigned) g_ascii_strtoull(argv[1], NULL, 10);
        if (count == 0) {
                fprintf(stderr, "pic-bench: COUNT must be a positive number, got '%s'\n", argv[1]);
                return 2;
        }
        if (pinger_open(&p, argv[0]) < 0)
                return 1;
        samples = g_new(int64_t, count);
        for (unsigned i = 0; i < count + 3; i++) {
                int64_t start = now_usec();

                if (pinger_send(&p) < 0 || !pinger_wait(&p, p.seq, 1000)) {
                        fprintf(stderr, "pic-bench: no echo reply from %s within 1 s\n", argv[0]);
                        close(p.fd);
                        return 1;
                }
                /* The first replies warm caches and the handshake up. */
                if (i >= 3)
                        samples[got++] = now_usec() - start;
        }
        close(p.fd);
        print_stats("rtt", samples, got);
        return 0;
}

/* pair INVITE ADDRESS TIMEOUT-MS: ImportInvite, then an echo request every
 * millisecond to ADDRESS until one is answered. Prints the call's own time and
 * the time from the call's start to the first reply. */
static int cmd_pair(int argc, char *argv[]) {
        sd_bus *bus = NULL;
        int64_t start, call_usec, timeout_usec;
        Pinger p;
        int r;

        if (argc != 3) {
                fprintf(stderr, "usage: pic-bench pair INVITE ADDRESS TIMEOUT-MS\n");
                return 2;
        }
        timeout_usec = (int64_t) g_ascii_strtoull(argv[2], NULL, 10) * 1000;
        if (pinger_open(&p, argv[1]) < 0)
                return 1;
        if (open_bus(&bus) < 0) {
                close(p.fd);
                return 1;
        }
        /* The connection is made before the clock starts, as a running app's is. */
        r = timed_call(bus, CELL_PATH, "org.freedesktop.DBus.Peer", "Ping", &call_usec, NULL);
        if (r < 0)
                goto out;
        start = now_usec();
        r = timed_call(bus, CELL_PATH, CELL_INTERFACE, "ImportInvite", &call_usec, "s", argv[0]);
        if (r < 0)
                goto out;
        for (;;) {
                uint16_t first = (uint16_t) (p.seq + 1);

                (void) pinger_send(&p);
                if (pinger_wait(&p, first, 1)) {
                        printf("call_us=%" G_GINT64_FORMAT " ping_us=%" G_GINT64_FORMAT "\n", call_usec,
                               now_usec() - start);
                        break;
                }
                if (now_usec() - start > timeout_usec) {
                        fprintf(stderr, "pic-bench: no echo reply through the tunnel from %s within %s ms\n",
                                argv[1], argv[2]);
                        r = -ETIMEDOUT;
                        break;
                }
        }
out:
        close(p.fd);
        sd_bus_flush_close_unref(bus);
        return r < 0 ? 1 : 0;
}

int main(int argc, char *argv[]) {
        static const struct {
                const char *name;
                int (*run)(int argc, char *argv[]);
        } commands[] = {
                { "bus", cmd_bus },
                { "toggle", cmd_toggle },
                { "rtt", cmd_rtt },
                { "pair", cmd_pair },
        };

        if (argc >= 2)
                for (size_t i = 0; i < G_N_ELEMENTS(commands); i++)
                        if (g_str_equal(argv[1], commands[i].name))
                                return commands[i].run(argc - 2, argv + 2);
        fprintf(stderr,
                "usage: pic-bench bus LINK-PATH COUNT [small|managed]\n"
                "       pic-bench toggle LINK-PATH SERVICE COUNT\n"
                "       pic-bench rtt ADDRESS COUNT\n"
                "       pic-bench pair INVITE ADDRESS TIMEOUT-MS\n");
        return 2;
}
