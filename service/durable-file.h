/* durable-file.h: writing files that must survive a crash (whole writes,
 * directories synced after a name changes) and keeping damaged ones aside
 * rather than overwriting them. */
#pragma once

#include <stdbool.h>
#include <stddef.h>
#include <glib.h>

/* Writes all of @data, retrying short writes; false with errno set. */
bool durable_write_all(int fd, const char *data, size_t len);

/* Syncs the directory holding @path, so that a new or renamed name lasts;
 * best effort. */
void durable_fsync_directory_of(const char *path);

/* Renames a damaged @path to "<path>.corrupt-<unix time>[.N]", never over
 * another file. */
bool durable_move_aside(const char *path, char **ret_target, GError **error);
