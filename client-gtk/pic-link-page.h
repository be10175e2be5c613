/* pic-link-page.h: a linked cell's page: status, what is shared each way, the internet exit, removal. */
#pragma once

#include <adwaita.h>
#include <json-glib/json-glib.h>

#include "pic-client.h"

#define PIC_TYPE_LINK_PAGE (pic_link_page_get_type())
G_DECLARE_FINAL_TYPE(PicLinkPage, pic_link_page, PIC, LINK_PAGE, AdwBin)

void pic_link_page_set_client(PicLinkPage *self, PicClient *client);
void pic_link_page_set_link(PicLinkPage *self, PicCell1Link *link);
PicCell1Link *pic_link_page_get_link(PicLinkPage *self);
/* Flips the "shared with them" switch of @service, as a user would; FALSE
 * when the page has no switch for it. */
gboolean pic_link_page_set_shared(PicLinkPage *self, const char *service, gboolean shared);
void pic_link_page_dump(PicLinkPage *self, JsonBuilder *builder);
