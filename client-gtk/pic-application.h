/* pic-application.h: the app: its window, its actions (also reachable over the session bus) and the service connection. */
#pragma once

#include <adwaita.h>

#define PIC_TYPE_APPLICATION (pic_application_get_type())
G_DECLARE_FINAL_TYPE(PicApplication, pic_application, PIC, APPLICATION, AdwApplication)

PicApplication *pic_application_new(void);
