/* pic-link-row.h: one linked cell in the list: status dot, handshake, traffic and sync state. */
#pragma once

#include <adwaita.h>
#include <json-glib/json-glib.h>

#include "pic-dbus.h"

#define PIC_TYPE_LINK_ROW (pic_link_row_get_type())
G_DECLARE_FINAL_TYPE(PicLinkRow, pic_link_row, PIC, LINK_ROW, AdwActionRow)

GtkWidget *pic_link_row_new(PicCell1Link *link);
PicCell1Link *pic_link_row_get_link(PicLinkRow *self);
/* Redraws the texts that depend on the time ("2 minutes ago"). */
void pic_link_row_refresh(PicLinkRow *self);
void pic_link_row_dump(PicLinkRow *self, JsonBuilder *builder);

/* The words for a link's sync state, NULL when all is well. Shared with the link's page. */
char *pic_link_sync_problem(PicCell1Link *link);
