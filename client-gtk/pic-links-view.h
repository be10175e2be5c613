/* pic-links-view.h: the "Linked Cells" page: the paste box and one row per linked cell. */
#pragma once

#include <adwaita.h>
#include <json-glib/json-glib.h>

#include "pic-client.h"

#define PIC_TYPE_LINKS_VIEW (pic_links_view_get_type())
G_DECLARE_FINAL_TYPE(PicLinksView, pic_links_view, PIC, LINKS_VIEW, AdwBin)

void pic_links_view_set_client(PicLinksView *self, PicClient *client);
void pic_links_view_connect_invite(PicLinksView *self, const char *invite);
void pic_links_view_dump(PicLinksView *self, JsonBuilder *builder);
