/* pic-cell-view.h: the "This Cell" page: the invite as a QR code and text, and the cell's identity. */
#pragma once

#include <adwaita.h>
#include <json-glib/json-glib.h>

#include "pic-client.h"

#define PIC_TYPE_CELL_VIEW (pic_cell_view_get_type())
G_DECLARE_FINAL_TYPE(PicCellView, pic_cell_view, PIC, CELL_VIEW, AdwBin)

void pic_cell_view_set_client(PicCellView *self, PicClient *client);
void pic_cell_view_dump(PicCellView *self, JsonBuilder *builder);
