/* pic-call.c: asynchronous method calls that let polkit ask for a password, with errors shown as toasts. */
#include "config.h"

#include "pic-call.h"
#include "pic-window.h"

/* Long enough for an admin to type a password into polkit's agent. */
#define PIC_CALL_TIMEOUT_MS (5 * 60 * 1000)

typedef struct {
        GWeakRef widget;
        char *method;
        PicCallFunc func;
        gpointer user_data;
} CallData;

static void call_data_free(CallData *data) {
        g_weak_ref_clear(&data->widget);
        g_free(data->method);
        g_free(data);
}

char *pic_call_error_message(const GError *error) {
        g_autoptr(GError) copy = g_error_copy(error);

        g_dbus_error_strip_remote_error(copy);
        return g_strdup(copy->message);
}

static void call_done(GObject *source, GAsyncResult *result, gpointer user_data) {
        CallData *data = user_data;
        g_autoptr(GtkWidget) widget = g_weak_ref_get(&data->widget);
        g_autoptr(GVariant) reply = NULL;
        g_autoptr(GError) error = NULL;

        reply = g_dbus_proxy_call_finish(G_DBUS_PROXY(source), result, &error);
        if (!reply && g_error_matches(error, G_IO_ERROR, G_IO_ERROR_CANCELLED)) {
                call_data_free(data);
                return;
        }
        if (!reply) {
                g_autofree char *message = pic_call_error_message(error);

                g_debug("%s failed: %s", data->method, error->message);
                if (widget && PIC_IS_WINDOW(gtk_widget_get_root(widget)))
                        pic_window_show_error(PIC_WINDOW(gtk_widget_get_root(widget)), message);
        }
        if (widget && data->func)
                data->func(widget, reply, error, data->user_data);
        call_data_free(data);
}

void pic_call(gpointer proxy, const char *method, GVariant *params,
              GtkWidget *widget, PicCallFunc func, gpointer user_data) {
        GCancellable *cancellable = NULL;
        CallData *data;

        g_return_if_fail(G_IS_DBUS_PROXY(proxy));
        g_return_if_fail(GTK_IS_WIDGET(widget));

        if (PIC_IS_WINDOW(gtk_widget_get_root(widget)))
                cancellable = pic_window_get_cancellable(PIC_WINDOW(gtk_widget_get_root(widget)));

        data = g_new0(CallData, 1);
        g_weak_ref_init(&data->widget, widget);
        data->method = g_strdup(method);
        data->func = func;
        data->user_data = user_data;

        g_dbus_proxy_call(G_DBUS_PROXY(proxy), method, params,
                          G_DBUS_CALL_FLAGS_ALLOW_INTERACTIVE_AUTHORIZATION,
                          PIC_CALL_TIMEOUT_MS, cancellable, call_done, data);
}
