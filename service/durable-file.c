/* durable-file.c: writing files that must survive a crash, and keeping
 * damaged ones (see durable-file.h). */
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdio.h>
#include <unistd.h>

#include "durable-file.h"
#include "pic-error.h"

#define MAX_CORRUPT_SUFFIX 1000

bool durable_write_all(int fd, const char *data, size_t len) {
        while (len > 0) {
                ssize_t n = write(fd, data, len);

                if (n < 0) {
                        if (errno == EINTR)
                                continue;
                        return false;
                }
                if (n == 0) {
                        errno = EIO;
                        return false;
                }
                data += n;
                len -= (size_t) n;
        }
        return true;
}

void durable_fsync_directory_of(const char *path) {
        g_autofree char *directory = g_path_get_dirname(path);
        int fd = open(directory, O_RDONLY | O_DIRECTORY | O_CLOEXEC);

        if (fd < 0)
                return;
        (void) fsync(fd);
        (void) close(fd);
}

bool durable_move_aside(const char *path, char **ret_target, GError **error) {
        int64_t now = g_get_real_time() / G_USEC_PER_SEC;

        for (unsigned n = 0; n < MAX_CORRUPT_SUFFIX; n++) {
                g_autofree char *target = n == 0 ? g_strdup_printf("%s.corrupt-%" PRId64, path, now)
                                                 : g_strdup_printf("%s.corrupt-%" PRId64 ".%u", path, now, n);
                int r = renameat2(AT_FDCWD, path, AT_FDCWD, target, RENAME_NOREPLACE);

                if (r < 0 && (errno == EINVAL || errno == ENOSYS || errno == ENOTSUP)) {
                        /* No RENAME_NOREPLACE here: link() refuses to replace too. */
                        r = link(path, target);
                        if (r == 0 && unlink(path) < 0) {
                                int saved = errno;

                                (void) unlink(target);
                                errno = saved;
                                r = -1;
                        }
                }
                if (r == 0) {
                        durable_fsync_directory_of(path);
                        *ret_target = g_steal_pointer(&target);
                        return true;
                }
                if (errno != EEXIST) {
                        g_set_error(error, PIC_ERROR, PIC_ERROR_FAILED, "could not rename it to '%s': %s",
                                    target, g_strerror(errno));
                        return false;
                }
        }
        g_set_error(error, PIC_ERROR, PIC_ERROR_FAILED, "could not find a free name '%s.corrupt-%" PRId64 ".N'",
                    path, now);
        return false;
}
