/* bus-echo.c: owns a bus name and answers every method call with an empty reply, for the bus policy test. */
#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <systemd/sd-bus.h>

static int on_message(sd_bus_message *m, void *userdata, sd_bus_error *ret_error) {
        if (!sd_bus_message_is_method_call(m, NULL, NULL))
                return 0;

        /* Answering here, before sd-bus's own object dispatch, keeps every
         * interface alike: only the bus policy decides what arrives. */
        return sd_bus_reply_method_return(m, NULL) < 0 ? 0 : 1;
}

int main(int argc, char *argv[]) {
        sd_bus *bus = NULL;
        int r;

        if (argc != 3) {
                fprintf(stderr, "usage: %s ADDRESS NAME\n", argv[0]);
                return 2;
        }

        r = sd_bus_new(&bus);
        if (r >= 0)
                r = sd_bus_set_address(bus, argv[1]);
        if (r >= 0)
                r = sd_bus_set_bus_client(bus, 1);
        if (r >= 0)
                r = sd_bus_start(bus);
        if (r < 0) {
                fprintf(stderr, "Failed to connect to %s: %s\n", argv[1], strerror(-r));
                goto finish;
        }

        r = sd_bus_add_filter(bus, NULL, on_message, NULL);
        if (r < 0) {
                fprintf(stderr, "Failed to add a filter: %s\n", strerror(-r));
                goto finish;
        }

        r = sd_bus_request_name(bus, argv[2], 0);
        if (r < 0) {
                fprintf(stderr, "Failed to own %s: %s\n", argv[2], strerror(-r));
                goto finish;
        }

        printf("ready\n");
        fflush(stdout);

        /* Runs until the bus goes away, which is how the test ends it. */
        for (;;) {
                r = sd_bus_process(bus, NULL);
                if (r < 0)
                        break;
                if (r > 0)
                        continue;
                r = sd_bus_wait(bus, UINT64_MAX);
                if (r < 0)
                        break;
        }
        r = (r == -ECONNRESET || r == -ENOTCONN) ? 0 : r;

finish:
        sd_bus_flush_close_unref(bus);
        return r < 0 ? 1 : 0;
}
