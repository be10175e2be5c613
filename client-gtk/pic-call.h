/* pic-call.h: asynchronous method calls that let polkit ask for a password, with errors shown as toasts. */
#pragma once

#include <gtk/gtk.h>

/* @reply is NULL when the call failed: then @error says why (it was shown in a
 * toast already). @widget is the widget given to pic_call(), still alive; after
 * a cancelled call nothing is called. */
typedef void (*PicCallFunc)(GtkWidget *widget, GVariant *reply, const GError *error, gpointer user_data);

/* Calls @method on @proxy with G_DBUS_CALL_FLAGS_ALLOW_INTERACTIVE_AUTHORIZATION.
 * An error becomes a toast in @widget's window carrying the service's message.
 * @func (may be NULL) runs only while @widget lives; the call is cancelled when
 * the window closes. @params is consumed if floating. */
void pic_call(gpointer proxy, const char *method, GVariant *params,
              GtkWidget *widget, PicCallFunc func, gpointer user_data);

/* The message of a D-Bus error without its remote error name. */
char *pic_call_error_message(const GError *error);
