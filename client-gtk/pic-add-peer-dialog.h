/* pic-add-peer-dialog.h: adds a peer and hands over its WireGuard configuration as a QR code and a file. */
#pragma once

#include <adwaita.h>
#include <json-glib/json-glib.h>

#include "pic-window.h"

#define PIC_TYPE_ADD_PEER_DIALOG (pic_add_peer_dialog_get_type())
G_DECLARE_FINAL_TYPE(PicAddPeerDialog, pic_add_peer_dialog, PIC, ADD_PEER_DIALOG, AdwWindow)

PicAddPeerDialog *pic_add_peer_dialog_new(PicWindow *window);
/* Fills in @name and presses Add. */
void pic_add_peer_dialog_submit(PicAddPeerDialog *self, const char *name);
void pic_add_peer_dialog_dump(PicAddPeerDialog *self, JsonBuilder *builder);
