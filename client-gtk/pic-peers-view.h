/* pic-peers-view.h: the "Peers" page: the devices connected to this cell, and "Add Peer". */
#pragma once

#include <adwaita.h>
#include <json-glib/json-glib.h>

#include "pic-client.h"

#define PIC_TYPE_PEERS_VIEW (pic_peers_view_get_type())
G_DECLARE_FINAL_TYPE(PicPeersView, pic_peers_view, PIC, PEERS_VIEW, AdwBin)

void pic_peers_view_set_client(PicPeersView *self, PicClient *client);
/* Opens the row of peer @name; FALSE when there is none. */
gboolean pic_peers_view_reveal(PicPeersView *self, const char *name);
/* Sets where peer @name leaves to the internet, through its row. */
gboolean pic_peers_view_choose_exit(PicPeersView *self, const char *name, const char *cell);
void pic_peers_view_dump(PicPeersView *self, JsonBuilder *builder);
