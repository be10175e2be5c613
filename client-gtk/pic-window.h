/* pic-window.h: the main window: the service's state, the three pages and a cell's page. */
#pragma once

#include <adwaita.h>
#include <json-glib/json-glib.h>

#include "pic-client.h"

#define PIC_TYPE_WINDOW (pic_window_get_type())
G_DECLARE_FINAL_TYPE(PicWindow, pic_window, PIC, WINDOW, AdwApplicationWindow)

PicWindow *pic_window_new(GtkApplication *application, PicClient *client);

/* Cancelled when the window closes: every call made for it uses it. */
GCancellable *pic_window_get_cancellable(PicWindow *self);
PicClient *pic_window_get_client(PicWindow *self);

void pic_window_show_toast(PicWindow *self, const char *message);
/* A toast for a failed call; kept for the test dump as well. */
void pic_window_show_error(PicWindow *self, const char *message);

/* Shows the page of the link at @object_path, now or as soon as it appears. */
void pic_window_show_link_at(PicWindow *self, const char *object_path);
/* "cell", "links", "peers", "link:NAME" (a linked cell's page) or "peer:NAME" (its row opened). */
gboolean pic_window_show_page(PicWindow *self, const char *page);

/* Entry points of the app's actions, which go through the same widgets as a user. */
void pic_window_connect_invite(PicWindow *self, const char *invite);
gboolean pic_window_set_permission(PicWindow *self, const char *cell, const char *service, gboolean shared);
gboolean pic_window_choose_exit(PicWindow *self, const char *peer, const char *cell);
void pic_window_add_peer(PicWindow *self, const char *name);

/* What the window shows, for tests. */
void pic_window_dump(PicWindow *self, JsonBuilder *builder);
