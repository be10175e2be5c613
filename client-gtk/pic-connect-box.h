/* pic-connect-box.h: the paste box for another cell's invite, checked as it is typed, and the Connect button. */
#pragma once

#include <adwaita.h>
#include <json-glib/json-glib.h>

#include "pic-client.h"

#define PIC_TYPE_CONNECT_BOX (pic_connect_box_get_type())
G_DECLARE_FINAL_TYPE(PicConnectBox, pic_connect_box, PIC, CONNECT_BOX, AdwPreferencesGroup)

void pic_connect_box_set_client(PicConnectBox *self, PicClient *client);
/* Puts @invite into the box and presses Connect if it is valid. */
void pic_connect_box_connect(PicConnectBox *self, const char *invite);
void pic_connect_box_dump(PicConnectBox *self, JsonBuilder *builder);
