/* pic-test-dump.h: writes what the window shows as JSON, its labels included, the hook the GUI tests read it through. */
#pragma once

#include "pic-window.h"

/* The environment variable naming the file; without it there are no test hooks. */
#define PIC_TEST_DUMP_ENV "PIC_CELL_TEST_DUMP"

gboolean pic_test_dump_write(PicWindow *window, const char *path, GError **error);
