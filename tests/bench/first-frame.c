/* first-frame.c: a preload module for the app benchmark: notes when a GTK program's first window paints its first frame, then ends the program. */
#include <dlfcn.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#include <gtk/gtk.h>

#define FRAME_FILE_ENV "PIC_BENCH_FRAME_FILE"

void gtk_window_present(GtkWindow *window);

/* Writes the wall-clock time in microseconds to the file named by the
 * environment, with write(2) only: the process ends right after. */
static void on_after_paint(GdkFrameClock *clock, gpointer userdata) {
        const char *path = g_getenv(FRAME_FILE_ENV);
        struct timespec ts;
        char line[32];
        int fd, n;

        clock_gettime(CLOCK_REALTIME, &ts);
        n = snprintf(line, sizeof(line), "%lld\n", (long long) ts.tv_sec * 1000000 + ts.tv_nsec / 1000);
        if (path && n > 0) {
                fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
                if (fd >= 0) {
                        if (write(fd, line, (size_t) n) != n)
                                _exit(3);
                        close(fd);
                }
        }
        /* Nothing after the first frame is measured; skip the teardown. */
        _exit(0);
}

/* The program presents its window through this; the real one runs first,
 * after which the window has its surface and frame clock. */
void gtk_window_present(GtkWindow *window) {
        static void (*real)(GtkWindow *window);
        static gboolean watching;
        GdkFrameClock *clock;

        if (!real)
                *(void **) &real = dlsym(RTLD_NEXT, "gtk_window_present");
        if (!real) {
                fprintf(stderr, "first-frame: gtk_window_present not found: %s\n", dlerror());
                _exit(2);
        }
        real(window);
        if (watching)
                return;
        clock = gtk_widget_get_frame_clock(GTK_WIDGET(window));
        if (!clock) {
                fprintf(stderr, "first-frame: the presented window has no frame clock\n");
                _exit(2);
        }
        watching = TRUE;
        g_signal_connect(clock, "after-paint", G_CALLBACK(on_after_paint), NULL);
}
