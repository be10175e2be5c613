/* pic-client.h: the app's connection to pic-celld: the cell proxy and an object manager for links and peers. */
#pragma once

#include <gio/gio.h>

#include "pic-dbus.h"

#define PIC_BUS_NAME "org.pic.Cell1"
#define PIC_OBJECT_PATH "/org/pic/Cell1"

typedef enum {
        PIC_CLIENT_CONNECTING,
        PIC_CLIENT_OFFLINE,     /* nobody owns the bus name */
        PIC_CLIENT_READY,
} PicClientState;

#define PIC_TYPE_CLIENT (pic_client_get_type())
G_DECLARE_FINAL_TYPE(PicClient, pic_client, PIC, CLIENT, GObject)

PicClient *pic_client_new(void);

/* Properties "state", "cell" and "manager" notify when the service comes and goes. */
PicClientState pic_client_get_state(PicClient *self);
PicCell1 *pic_client_get_cell(PicClient *self);
GDBusObjectManager *pic_client_get_manager(PicClient *self);
/* A message for the status page when connecting failed, else NULL. */
const char *pic_client_get_problem(PicClient *self);

/* The link to cell @name, or NULL. */
PicCell1Link *pic_client_find_link(PicClient *self, const char *name);
/* The link at @object_path, or NULL. */
PicCell1Link *pic_client_get_link_at(PicClient *self, const char *object_path);

/* Asks the bus to start the service (it is bus-activatable). */
void pic_client_start_service(PicClient *self);
