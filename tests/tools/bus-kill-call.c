/* bus-kill-call: kills the callee of a D-Bus call at a chosen moment after sending it, for the crash tests. */
#include <errno.h>
#include <getopt.h>
#include <inttypes.h>
#include <signal.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#include <systemd/sd-bus.h>

#define BUS_DBUS "org.freedesktop.DBus"
#define PATH_DBUS "/org/freedesktop/DBus"

static const char usage_text[] =
        "usage: bus-kill-call [--delay-us N | --no-kill] [--timeout-ms N]\n"
        "                     DESTINATION PATH INTERFACE METHOD [SIGNATURE [ARGUMENT...]]\n"
        "\n"
        "Arguments are given as busctl takes them: an array is its length and then its\n"
        "elements, a variant its signature and then its value. The owner of DESTINATION\n"
        "(activated first if needed) gets SIGKILL N microseconds after the call was\n"
        "written to the bus; then the tool waits for the owner to be gone and for the\n"
        "call's end, and prints one line:\n"
        "  outcome=ok|error|noreply elapsed_us=… killed=0|1 pid=… error=NAME reply=FIRST-VALUE\n";

static uint64_t now_us(void) {
        struct timespec ts;

        clock_gettime(CLOCK_MONOTONIC, &ts);
        return (uint64_t) ts.tv_sec * 1000000u + (uint64_t) ts.tv_nsec / 1000u;
}

static void sleep_until_us(uint64_t when) {
        struct timespec ts = { .tv_sec = (time_t) (when / 1000000u), .tv_nsec = (long) (when % 1000000u) * 1000 };

        while (clock_nanosleep(CLOCK_MONOTONIC, TIMER_ABSTIME, &ts, NULL) == EINTR)
                ;
}

/* Length of the one complete type at the start of @sig, 0 if malformed. */
static size_t complete_type_length(const char *sig) {
        size_t n;

        switch (sig[0]) {
        case 'a':
                n = complete_type_length(sig + 1);
                return n ? n + 1 : 0;
        case '(':
        case '{': {
                char close = sig[0] == '(' ? ')' : '}';
                size_t i = 1;

                while (sig[i] && sig[i] != close) {
                        n = complete_type_length(sig + i);
                        if (n == 0)
                                return 0;
                        i += n;
                }
                return sig[i] == close ? i + 1 : 0;
        }
        case '\0':
        case ')':
        case '}':
                return 0;
        default:
                return strchr("ybnqiuxtdsogvh", sig[0]) ? 1 : 0;
        }
}

typedef struct {
        char **argv;
        int argc;
        int next;
} Args;

static const char *next_arg(Args *a) {
        if (a->next >= a->argc)
                return NULL;
        return a->argv[a->next++];
}

static int append_basic(sd_bus_message *m, char type, const char *text) {
        char *end = NULL;

        errno = 0;
        switch (type) {
        case 's':
        case 'o':
        case 'g':
                return sd_bus_message_append_basic(m, type, text);
        case 'b': {
                int v;
                if (strcmp(text, "true") == 0 || strcmp(text, "1") == 0 || strcmp(text, "yes") == 0)
                        v = 1;
                else if (strcmp(text, "false") == 0 || strcmp(text, "0") == 0 || strcmp(text, "no") == 0)
                        v = 0;
                else
                        return -EINVAL;
                return sd_bus_message_append_basic(m, type, &v);
        }
        case 'd': {
                double v = strtod(text, &end);
                if (errno || !end || *end)
                        return -EINVAL;
                return sd_bus_message_append_basic(m, type, &v);
        }
        case 'y':
        case 'q':
        case 'u':
        case 't': {
                unsigned long long v = strtoull(text, &end, 0);
                uint8_t y = (uint8_t) v;
                uint16_t q = (uint16_t) v;
                uint32_t u = (uint32_t) v;
                uint64_t t = v;
                if (errno || !end || *end || text[0] == '-')
                        return -EINVAL;
                return sd_bus_message_append_basic(m, type, type == 'y' ? (void *) &y : type == 'q' ? (void *) &q
                                                                         : type == 'u' ? (void *) &u : (void *) &t);
        }
        case 'n':
        case 'i':
        case 'x': {
                long long v = strtoll(text, &end, 0);
                int16_t n = (int16_t) v;
                int32_t i = (int32_t) v;
                int64_t x = v;
                if (errno || !end || *end)
                        return -EINVAL;
                return sd_bus_message_append_basic(m, type, type == 'n' ? (void *) &n : type == 'i' ? (void *) &i
                                                                                                  : (void *) &x);
        }
        default:
                return -EOPNOTSUPP;
        }
}

/* Appends the values of the complete types in @sig (of @len bytes). */
static int append_types(sd_bus_message *m, const char *sig, size_t len, Args *a) {
        size_t i = 0;
        int r;

        while (i < len) {
                size_t n = complete_type_length(sig + i);
                char element[256];
                const char *text;

                if (n == 0 || n >= sizeof(element))
                        return -EINVAL;
                switch (sig[i]) {
                case 'a': {
                        unsigned long count;
                        char *end = NULL;

                        memcpy(element, sig + i + 1, n - 1);
                        element[n - 1] = '\0';
                        text = next_arg(a);
                        if (!text)
                                return -EINVAL;
                        count = strtoul(text, &end, 10);
                        if (!end || *end)
                                return -EINVAL;
                        r = sd_bus_message_open_container(m, 'a', element);
                        if (r < 0)
                                return r;
                        for (unsigned long k = 0; k < count; k++) {
                                if (element[0] == '{') {
                                        char inner[256];

                                        memcpy(inner, element + 1, n - 3);
                                        inner[n - 3] = '\0';
                                        r = sd_bus_message_open_container(m, 'e', inner);
                                        if (r < 0)
                                                return r;
                                        r = append_types(m, inner, strlen(inner), a);
                                        if (r < 0)
                                                return r;
                                        r = sd_bus_message_close_container(m);
                                } else
                                        r = append_types(m, element, n - 1, a);
                                if (r < 0)
                                        return r;
                        }
                        r = sd_bus_message_close_container(m);
                        break;
                }
                case '(':
                        memcpy(element, sig + i + 1, n - 2);
                        element[n - 2] = '\0';
                        r = sd_bus_message_open_container(m, 'r', element);
                        if (r >= 0)
                                r = append_types(m, element, n - 2, a);
                        if (r >= 0)
                                r = sd_bus_message_close_container(m);
                        break;
                case 'v':
                        text = next_arg(a);
                        if (!text)
                                return -EINVAL;
                        r = sd_bus_message_open_container(m, 'v', text);
                        if (r >= 0)
                                r = append_types(m, text, strlen(text), a);
                        if (r >= 0)
                                r = sd_bus_message_close_container(m);
                        break;
                default:
                        text = next_arg(a);
                        if (!text)
                                return -EINVAL;
                        r = append_basic(m, sig[i], text);
                        break;
                }
                if (r < 0)
                        return r;
                i += n;
        }
        return 0;
}

/* The pid of @name's owner, activating it first. */
static int owner_pid(sd_bus *bus, const char *name, pid_t *ret_pid) {
        sd_bus_error error = SD_BUS_ERROR_NULL;
        sd_bus_message *reply = NULL;
        uint32_t pid;
        int r;

        r = sd_bus_call_method(bus, BUS_DBUS, PATH_DBUS, BUS_DBUS, "StartServiceByName", &error, NULL, "su", name, 0);
        if (r < 0) {
                fprintf(stderr, "bus-kill-call: cannot start %s: %s\n", name, error.message ?: strerror(-r));
                sd_bus_error_free(&error);
                return r;
        }
        r = sd_bus_call_method(bus, BUS_DBUS, PATH_DBUS, BUS_DBUS, "GetConnectionUnixProcessID", &error, &reply, "s",
                               name);
        if (r >= 0)
                r = sd_bus_message_read(reply, "u", &pid);
        sd_bus_message_unref(reply);
        if (r < 0) {
                fprintf(stderr, "bus-kill-call: no pid for %s: %s\n", name, error.message ?: strerror(-r));
                sd_bus_error_free(&error);
                return r;
        }
        *ret_pid = (pid_t) pid;
        return 0;
}

/* True once @pid is gone (or a zombie). */
static bool process_gone(pid_t pid) {
        char path[64], line[256];
        FILE *f;
        bool gone = true;

        snprintf(path, sizeof(path), "/proc/%d/stat", (int) pid);
        f = fopen(path, "re");
        if (!f)
                return true;
        if (fgets(line, sizeof(line), f)) {
                const char *p = strrchr(line, ')');
                gone = p && p[1] == ' ' && p[2] == 'Z';
        }
        fclose(f);
        return gone;
}

/* The first value of the reply, if it is a string or an object path. */
static const char *first_text(sd_bus_message *reply) {
        const char *contents = NULL, *text = NULL;
        char type;

        if (sd_bus_message_peek_type(reply, &type, &contents) <= 0)
                return "";
        if (type == 'r') {
                if (sd_bus_message_enter_container(reply, 'r', contents) < 0 ||
                    sd_bus_message_peek_type(reply, &type, NULL) <= 0)
                        return "";
        }
        if ((type == 's' || type == 'o') && sd_bus_message_read_basic(reply, type, &text) >= 0)
                return text;
        return "";
}

int main(int argc, char *argv[]) {
        static const struct option options[] = {
                { "delay-us", required_argument, NULL, 'd' },
                { "no-kill", no_argument, NULL, 'n' },
                { "timeout-ms", required_argument, NULL, 't' },
                { "help", no_argument, NULL, 'h' },
                {}
        };
        sd_bus *bus = NULL;
        sd_bus_message *call = NULL, *reply = NULL;
        sd_bus_error error = SD_BUS_ERROR_NULL;
        long delay_us = 0, timeout_ms = 10000;
        bool kill_it = true, killed = false;
        uint64_t start, elapsed, cookie = 0;
        pid_t pid = 0;
        Args a;
        int c, r;

        while ((c = getopt_long(argc, argv, "+h", options, NULL)) >= 0)
                switch (c) {
                case 'd':
                        delay_us = strtol(optarg, NULL, 10);
                        break;
                case 'n':
                        kill_it = false;
                        break;
                case 't':
                        timeout_ms = strtol(optarg, NULL, 10);
                        break;
                case 'h':
                        fputs(usage_text, stdout);
                        return 0;
                default:
                        fputs(usage_text, stderr);
                        return 2;
                }
        if (argc - optind < 4 || delay_us < 0 || timeout_ms <= 0) {
                fputs(usage_text, stderr);
                return 2;
        }

        r = sd_bus_open_system(&bus);
        if (r < 0) {
                fprintf(stderr, "bus-kill-call: cannot connect to the system bus: %s\n", strerror(-r));
                return 1;
        }
        r = owner_pid(bus, argv[optind], &pid);
        if (r < 0)
                goto out;

        r = sd_bus_message_new_method_call(bus, &call, argv[optind], argv[optind + 1], argv[optind + 2],
                                           argv[optind + 3]);
        if (r >= 0 && argc - optind > 4) {
                const char *sig = argv[optind + 4];
                a = (Args) { .argv = argv, .argc = argc, .next = optind + 5 };
                r = append_types(call, sig, strlen(sig), &a);
                if (r >= 0 && a.next != argc)
                        r = -E2BIG;
        }
        if (r < 0) {
                fprintf(stderr, "bus-kill-call: cannot build the call from the arguments: %s\n", strerror(-r));
                goto out;
        }

        /* Write the call out now, then kill on our own clock; the reply is
         * read afterwards, so a reply that was already on its way counts. */
        /* With a cookie asked for, sd-bus leaves the call expecting a reply. */
        r = sd_bus_send(bus, call, &cookie);
        if (r >= 0)
                r = sd_bus_flush(bus);
        if (r < 0) {
                fprintf(stderr, "bus-kill-call: cannot send the call: %s\n", strerror(-r));
                goto out;
        }
        start = now_us();
        if (kill_it) {
                sleep_until_us(start + (uint64_t) delay_us);
                killed = kill(pid, SIGKILL) == 0;
                for (int i = 0; i < 1000 && !process_gone(pid); i++)
                        usleep(5000);
        }

        {
                uint64_t deadline = start + (uint64_t) timeout_ms * 1000u;

                while (!reply) {
                        sd_bus_message *m = NULL;
                        uint64_t reply_cookie;

                        r = sd_bus_process(bus, &m);
                        if (r < 0)
                                break;
                        if (m && sd_bus_message_get_reply_cookie(m, &reply_cookie) >= 0 && reply_cookie == cookie) {
                                reply = m;
                                break;
                        }
                        sd_bus_message_unref(m);
                        if (r > 0)
                                continue;
                        if (now_us() >= deadline) {
                                r = -ETIMEDOUT;
                                break;
                        }
                        r = sd_bus_wait(bus, deadline - now_us());
                }
        }
        elapsed = now_us() - start;
        if (r < 0 && !reply) {
                printf("outcome=noreply elapsed_us=%" PRIu64 " killed=%d pid=%d error=%s reply=\n", elapsed, killed,
                       (int) pid, strerror(-r));
                r = 0;
                goto out;
        }
        if (sd_bus_message_is_method_error(reply, NULL)) {
                const sd_bus_error *e = sd_bus_message_get_error(reply);
                const char *name = e && e->name ? e->name : "?";
                /* The bus answers for a callee that died without replying. */
                bool died = strcmp(name, SD_BUS_ERROR_NO_REPLY) == 0 ||
                            strcmp(name, "org.freedesktop.DBus.Error.Disconnected") == 0;

                printf("outcome=%s elapsed_us=%" PRIu64 " killed=%d pid=%d error=%s reply=\n",
                       died ? "noreply" : "error", elapsed, killed, (int) pid, name);
                if (!died)
                        fprintf(stderr, "bus-kill-call: %s: %s\n", name, e && e->message ? e->message : "");
        } else
                printf("outcome=ok elapsed_us=%" PRIu64 " killed=%d pid=%d error= reply=%s\n", elapsed, killed,
                       (int) pid, first_text(reply));
        r = 0;
out:
        sd_bus_error_free(&error);
        sd_bus_message_unref(reply);
        sd_bus_message_unref(call);
        sd_bus_flush_close_unref(bus);
        return r < 0 ? 1 : 0;
}
