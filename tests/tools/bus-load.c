/* bus-load: a crowd of concurrent D-Bus clients of pic-celld, counting failures, missed signals and latencies. */
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <inttypes.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>
#include <systemd/sd-bus.h>

#define DEST "org.pic.Cell1"
#define CELL_PATH "/org/pic/Cell1"
#define CELL_IFACE "org.pic.Cell1"
#define LINK_IFACE "org.pic.Cell1.Link"
#define PROPS_IFACE "org.freedesktop.DBus.Properties"
#define OM_IFACE "org.freedesktop.DBus.ObjectManager"
#define SIGNAL_WAIT_US 2000000u   /* a signal later than this counts as missed */
#define MAX_CLIENTS 256
#define MAX_ERRORS_SHOWN 5
#define MIN(a, b) ((a) < (b) ? (a) : (b))

static const char usage_text[] =
        "usage: bus-load [--duration S] [--warmup S] [--pollers N] [--service NAME] [--pid PID] LINK...\n"
        "\n"
        "One client per LINK toggles Inbound[NAME] (default: files) of that link with\n"
        "SetPermissions, waits for the PropertiesChanged that shows the new value, and\n"
        "reads properties of the cell and of its link; N more clients (default 2) poll the\n"
        "status of everything (GetManagedObjects). Each client has its own connection.\n"
        "With --pid, the VmRSS of that process is sampled every 0.5 s after the warm-up.\n"
        "Prints key=value lines; exits 1 if a call failed or a signal was missed.\n";

typedef struct {
        uint64_t calls;
        uint64_t failed;
        uint64_t toggles;
        uint64_t signals;     /* PropertiesChanged carrying Inbound */
        uint64_t missed;      /* toggles whose signal did not come */
        uint64_t stale;       /* a read after a toggle that did not show it */
        uint64_t n_latencies;
} Counts;

typedef struct {
        sd_bus *bus;
        const char *path;
        const char *service;
        Counts counts;
        uint32_t *latencies;  /* microseconds, one per call */
        size_t n_allocated;
        int have_value;       /* the value of Inbound[service] the last signal showed, -1: unknown */
        uint64_t seen_signals;
        unsigned errors_shown;
        const char *who;
} Client;

static uint64_t now_us(void) {
        struct timespec ts;

        clock_gettime(CLOCK_MONOTONIC, &ts);
        return (uint64_t) ts.tv_sec * 1000000u + (uint64_t) ts.tv_nsec / 1000u;
}

static void record_latency(Client *c, uint64_t us) {
        if (c->counts.n_latencies == c->n_allocated) {
                size_t n = c->n_allocated ? c->n_allocated * 2 : 4096;
                uint32_t *p = realloc(c->latencies, n * sizeof(uint32_t));
                if (!p)
                        return;
                c->latencies = p;
                c->n_allocated = n;
        }
        c->latencies[c->counts.n_latencies++] = us > UINT32_MAX ? UINT32_MAX : (uint32_t) us;
}

static void report_error(Client *c, const char *what, const sd_bus_error *e, int r) {
        if (c->errors_shown++ >= MAX_ERRORS_SHOWN)
                return;
        fprintf(stderr, "bus-load: %s: %s failed: %s %s\n", c->who, what,
                e && e->name ? e->name : strerror(-r), e && e->message ? e->message : "");
}

/* One timed call; the reply is handed back (or freed when @ret_reply is NULL). */
static int timed_call(Client *c, const char *path, const char *iface, const char *member, sd_bus_message **ret_reply,
                      const char *types, ...) {
        sd_bus_error error = SD_BUS_ERROR_NULL;
        sd_bus_message *m = NULL, *reply = NULL;
        uint64_t start;
        va_list ap;
        int r;

        r = sd_bus_message_new_method_call(c->bus, &m, DEST, path, iface, member);
        if (r >= 0 && types) {
                va_start(ap, types);
                r = sd_bus_message_appendv(m, types, ap);
                va_end(ap);
        }
        if (r < 0) {
                sd_bus_message_unref(m);
                return r;
        }
        start = now_us();
        r = sd_bus_call(c->bus, m, 5 * 1000000u, &error, &reply);
        record_latency(c, now_us() - start);
        c->counts.calls++;
        sd_bus_message_unref(m);
        if (r < 0) {
                c->counts.failed++;
                report_error(c, member, &error, r);
                sd_bus_error_free(&error);
                return r;
        }
        if (ret_reply)
                *ret_reply = reply;
        else
                sd_bus_message_unref(reply);
        return 0;
}

/* Reads an a{sb} and returns the value of @key (absent: not shared, 0), or -2. */
static int read_inbound(sd_bus_message *m, const char *key) {
        const char *k;
        int v, found = 0, r;

        r = sd_bus_message_enter_container(m, 'a', "{sb}");
        if (r < 0)
                return -2;
        while ((r = sd_bus_message_read(m, "{sb}", &k, &v)) > 0)
                if (strcmp(k, key) == 0)
                        found = !!v;
        if (r < 0 || sd_bus_message_exit_container(m) < 0)
                return -2;
        return found;
}

static int on_properties_changed(sd_bus_message *m, void *userdata, sd_bus_error *ret_error) {
        Client *c = userdata;
        const char *iface, *name;
        int r;

        if (sd_bus_message_read(m, "s", &iface) < 0 || strcmp(iface, LINK_IFACE) != 0)
                return 0;
        r = sd_bus_message_enter_container(m, 'a', "{sv}");
        if (r < 0)
                return 0;
        while (sd_bus_message_enter_container(m, 'e', "sv") > 0) {
                if (sd_bus_message_read(m, "s", &name) < 0)
                        return 0;
                if (strcmp(name, "Inbound") == 0) {
                        if (sd_bus_message_enter_container(m, 'v', "a{sb}") < 0)
                                return 0;
                        c->have_value = read_inbound(m, c->service);
                        c->seen_signals++;
                        c->counts.signals++;
                        if (sd_bus_message_exit_container(m) < 0)
                                return 0;
                } else if (sd_bus_message_skip(m, "v") < 0)
                        return 0;
                if (sd_bus_message_exit_container(m) < 0)
                        return 0;
        }
        if (sd_bus_message_exit_container(m) < 0)
                return 0;
        /* A property that is only invalidated: its value must be read. */
        r = sd_bus_message_enter_container(m, 'a', "s");
        if (r > 0) {
                while (sd_bus_message_read(m, "s", &name) > 0)
                        if (strcmp(name, "Inbound") == 0) {
                                c->have_value = -1;
                                c->seen_signals++;
                                c->counts.signals++;
                        }
        }
        return 0;
}

/* Processes what the bus has until a signal arrived after @before, or the deadline. */
static bool wait_for_signal(Client *c, uint64_t before, uint64_t deadline) {
        while (c->seen_signals == before) {
                uint64_t now;
                int r = sd_bus_process(c->bus, NULL);

                if (r < 0)
                        return false;
                if (r > 0)
                        continue;
                now = now_us();
                if (now >= deadline)
                        return false;
                if (sd_bus_wait(c->bus, deadline - now) < 0)
                        return false;
        }
        return true;
}

static int get_inbound(Client *c) {
        sd_bus_message *reply = NULL;
        int v;

        if (timed_call(c, c->path, PROPS_IFACE, "Get", &reply, "ss", LINK_IFACE, "Inbound") < 0)
                return -2;
        if (sd_bus_message_enter_container(reply, 'v', "a{sb}") < 0) {
                sd_bus_message_unref(reply);
                return -2;
        }
        v = read_inbound(reply, c->service);
        sd_bus_message_unref(reply);
        return v;
}

static void run_toggler(Client *c, uint64_t deadline) {
        sd_bus_slot *slot = NULL;
        int value, r;

        r = sd_bus_match_signal(c->bus, &slot, DEST, c->path, PROPS_IFACE, "PropertiesChanged",
                                on_properties_changed, c);
        if (r < 0) {
                c->counts.failed++;
                report_error(c, "AddMatch", NULL, r);
                return;
        }
        value = get_inbound(c);
        if (value < 0)
                value = 0;
        while (now_us() < deadline) {
                uint64_t before = c->seen_signals;
                int want = !value, got;

                if (timed_call(c, c->path, LINK_IFACE, "SetPermissions", NULL, "a{sb}", 1, c->service, want) < 0)
                        continue;
                c->counts.toggles++;
                value = want;
                /* The signal is sent before the reply, so it is normally queued already. */
                if (!wait_for_signal(c, before, now_us() + SIGNAL_WAIT_US))
                        c->counts.missed++;
                else if (c->have_value >= 0 && c->have_value != want) {
                        c->counts.missed++;
                        fprintf(stderr, "bus-load: %s: the signal after setting %s=%d showed %d\n", c->who,
                                c->service, want, c->have_value);
                }
                got = get_inbound(c);
                if (got >= 0 && got != want) {
                        c->counts.stale++;
                        fprintf(stderr, "bus-load: %s: read %s=%d right after setting it to %d\n", c->who,
                                c->service, got, want);
                }
                (void) timed_call(c, CELL_PATH, PROPS_IFACE, "GetAll", NULL, "s", CELL_IFACE);
                (void) timed_call(c, c->path, PROPS_IFACE, "GetAll", NULL, "s", LINK_IFACE);
        }
        sd_bus_slot_unref(slot);
}

static void run_poller(Client *c, uint64_t deadline) {
        while (now_us() < deadline) {
                (void) timed_call(c, CELL_PATH, OM_IFACE, "GetManagedObjects", NULL, NULL);
                (void) timed_call(c, CELL_PATH, PROPS_IFACE, "Get", NULL, "ss", CELL_IFACE, "Services");
                /* Keep the pollers from crowding out the togglers: a status view refreshes, it does not spin. */
                usleep(20000);
        }
}

static bool write_all(int fd, const void *data, size_t len) {
        const char *p = data;

        while (len > 0) {
                ssize_t n = write(fd, p, len);
                if (n < 0 && errno == EINTR)
                        continue;
                if (n <= 0)
                        return false;
                p += n;
                len -= (size_t) n;
        }
        return true;
}

static bool read_all(int fd, void *data, size_t len) {
        char *p = data;

        while (len > 0) {
                ssize_t n = read(fd, p, len);
                if (n < 0 && errno == EINTR)
                        continue;
                if (n <= 0)
                        return false;
                p += n;
                len -= (size_t) n;
        }
        return true;
}

/* The child: waits for the start, runs, writes its counts and latencies to @out. */
static int child_main(const char *path, const char *service, bool poller, int start_fd, int out, uint64_t duration_us) {
        Client c = { .path = path, .service = service, .have_value = -1 };
        char who[300], byte;
        uint64_t deadline;
        int r;

        snprintf(who, sizeof(who), "%s %s", poller ? "poller" : "client of", poller ? "" : path);
        c.who = who;
        r = sd_bus_open_system(&c.bus);
        if (r < 0) {
                fprintf(stderr, "bus-load: cannot connect to the system bus: %s\n", strerror(-r));
                c.counts.failed++;
        }
        /* Everybody starts together, when the parent closes the pipe. */
        while (read(start_fd, &byte, 1) < 0 && errno == EINTR)
                ;
        deadline = now_us() + duration_us;
        if (c.bus) {
                if (poller)
                        run_poller(&c, deadline);
                else
                        run_toggler(&c, deadline);
        }
        if (!write_all(out, &c.counts, sizeof(c.counts)) ||
            !write_all(out, c.latencies, c.counts.n_latencies * sizeof(uint32_t)))
                return 1;
        free(c.latencies);
        sd_bus_flush_close_unref(c.bus);
        return 0;
}

static long read_rss_kib(pid_t pid) {
        char path[64], line[256];
        long kib = -1;
        FILE *f;

        snprintf(path, sizeof(path), "/proc/%d/status", (int) pid);
        f = fopen(path, "re");
        if (!f)
                return -1;
        while (fgets(line, sizeof(line), f))
                if (strncmp(line, "VmRSS:", 6) == 0) {
                        kib = strtol(line + 6, NULL, 10);
                        break;
                }
        fclose(f);
        return kib;
}

static int compare_u32(const void *a, const void *b) {
        uint32_t x = *(const uint32_t *) a, y = *(const uint32_t *) b;

        return x < y ? -1 : x > y;
}

static double percentile_ms(const uint32_t *sorted, size_t n, double p) {
        size_t i;

        if (n == 0)
                return 0;
        i = (size_t) (p / 100.0 * (double) (n - 1) + 0.5);
        return sorted[MIN(i, n - 1)] / 1000.0;
}

int main(int argc, char *argv[]) {
        static const struct option options[] = {
                { "duration", required_argument, NULL, 'd' },
                { "warmup", required_argument, NULL, 'w' },
                { "pollers", required_argument, NULL, 'p' },
                { "service", required_argument, NULL, 's' },
                { "pid", required_argument, NULL, 'P' },
                { "help", no_argument, NULL, 'h' },
                {}
        };
        double duration = 20, warmup = -1;
        long pollers = 2, rss_warm = -1, rss_end = -1, rss_max = -1;
        const char *service = "files";
        pid_t pid = 0, children[MAX_CLIENTS];
        int pipes[MAX_CLIENTS], start_pipe[2];
        int n_links, n, c, status = 0;
        Counts total = {};
        uint32_t *all = NULL;
        size_t n_all = 0;
        uint64_t start;

        while ((c = getopt_long(argc, argv, "h", options, NULL)) >= 0)
                switch (c) {
                case 'd':
                        duration = strtod(optarg, NULL);
                        break;
                case 'w':
                        warmup = strtod(optarg, NULL);
                        break;
                case 'p':
                        pollers = strtol(optarg, NULL, 10);
                        break;
                case 's':
                        service = optarg;
                        break;
                case 'P':
                        pid = (pid_t) strtol(optarg, NULL, 10);
                        break;
                case 'h':
                        fputs(usage_text, stdout);
                        return 0;
                default:
                        fputs(usage_text, stderr);
                        return 2;
                }
        n_links = argc - optind;
        n = n_links + (int) pollers;
        if (n_links < 1 || pollers < 0 || n > MAX_CLIENTS || duration <= 0) {
                fputs(usage_text, stderr);
                return 2;
        }
        if (warmup < 0)
                warmup = duration / 4;

        if (pipe2(start_pipe, O_CLOEXEC) < 0) {
                perror("bus-load: pipe");
                return 1;
        }
        for (int i = 0; i < n; i++) {
                int p[2];

                if (pipe2(p, O_CLOEXEC) < 0) {
                        perror("bus-load: pipe");
                        return 1;
                }
                children[i] = fork();
                if (children[i] < 0) {
                        perror("bus-load: fork");
                        return 1;
                }
                if (children[i] == 0) {
                        close(p[0]);
                        close(start_pipe[1]);
                        _exit(child_main(i < n_links ? argv[optind + i] : CELL_PATH, service, i >= n_links,
                                         start_pipe[0], p[1], (uint64_t) (duration * 1e6)));
                }
                close(p[1]);
                pipes[i] = p[0];
        }
        close(start_pipe[0]);
        /* Let every client connect before the clock starts. */
        usleep(200000);
        close(start_pipe[1]);
        start = now_us();

        if (pid > 0) {
                uint64_t warm_at = start + (uint64_t) (warmup * 1e6);
                uint64_t end_at = start + (uint64_t) (duration * 1e6);

                while (now_us() < warm_at)
                        usleep(100000);
                rss_warm = rss_max = read_rss_kib(pid);
                while (now_us() + 500000 < end_at) {
                        long kib;

                        usleep(500000);
                        kib = read_rss_kib(pid);
                        if (kib > rss_max)
                                rss_max = kib;
                }
                rss_end = read_rss_kib(pid);
                if (rss_end > rss_max)
                        rss_max = rss_end;
        }

        for (int i = 0; i < n; i++) {
                Counts k;
                int ws;

                if (!read_all(pipes[i], &k, sizeof(k))) {
                        fprintf(stderr, "bus-load: client %d ended without a report\n", i);
                        total.failed++;
                } else {
                        uint32_t *grown = realloc(all, (n_all + k.n_latencies + 1) * sizeof(uint32_t));
                        if (!grown || !read_all(pipes[i], grown + n_all, k.n_latencies * sizeof(uint32_t))) {
                                fprintf(stderr, "bus-load: client %d's latencies are missing\n", i);
                                total.failed++;
                        } else
                                n_all += k.n_latencies;
                        if (grown)
                                all = grown;
                        total.calls += k.calls;
                        total.failed += k.failed;
                        total.toggles += k.toggles;
                        total.signals += k.signals;
                        total.missed += k.missed;
                        total.stale += k.stale;
                }
                close(pipes[i]);
                if (waitpid(children[i], &ws, 0) < 0 || !WIFEXITED(ws) || WEXITSTATUS(ws) != 0) {
                        fprintf(stderr, "bus-load: client %d did not exit cleanly\n", i);
                        total.failed++;
                }
        }

        qsort(all, n_all, sizeof(uint32_t), compare_u32);
        printf("clients=%d togglers=%d pollers=%ld duration_s=%.1f\n", n, n_links, pollers,
               (now_us() - start) / 1e6);
        printf("calls=%" PRIu64 " failed=%" PRIu64 " toggles=%" PRIu64 " signals=%" PRIu64 " missed=%" PRIu64
               " stale=%" PRIu64 "\n",
               total.calls, total.failed, total.toggles, total.signals, total.missed, total.stale);
        printf("p50_ms=%.2f p90_ms=%.2f p99_ms=%.2f max_ms=%.2f\n", percentile_ms(all, n_all, 50),
               percentile_ms(all, n_all, 90), percentile_ms(all, n_all, 99), percentile_ms(all, n_all, 100));
        if (pid > 0)
                printf("rss_warm_kib=%ld rss_end_kib=%ld rss_max_kib=%ld\n", rss_warm, rss_end, rss_max);
        free(all);
        if (total.failed || total.missed || total.stale || total.calls == 0)
                status = 1;
        return status;
}
