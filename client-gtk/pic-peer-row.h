/* pic-peer-row.h: one peer (phone, laptop): status, where it leaves to the internet, removal. */
#pragma once

#include <adwaita.h>
#include <json-glib/json-glib.h>

#include "pic-client.h"

#define PIC_TYPE_PEER_ROW (pic_peer_row_get_type())
G_DECLARE_FINAL_TYPE(PicPeerRow, pic_peer_row, PIC, PEER_ROW, AdwExpanderRow)

GtkWidget *pic_peer_row_new(PicCell1Peer *peer, PicClient *client);
PicCell1Peer *pic_peer_row_get_peer(PicPeerRow *self);
/* The linked cells that offer their internet connection now. */
void pic_peer_row_set_exits(PicPeerRow *self, const char *const *exits);
/* Chooses @cell ("" = directly) as a user would; FALSE when it is not offered. */
gboolean pic_peer_row_choose_exit(PicPeerRow *self, const char *cell);
void pic_peer_row_refresh(PicPeerRow *self);
void pic_peer_row_dump(PicPeerRow *self, JsonBuilder *builder);
