/* private-key.c: loading and creating private.key; the secret never leaves
 * the 0600 file and the memory that read it is wiped. */
#include <errno.h>
#include <fcntl.h>
#include <sodium.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "i18n.h"
#include "pic-error.h"
#include "private-key.h"

static bool write_new_key(const char *path, const WgKey *key, GError **error) {
        g_autofree char *tmp = g_strconcat(path, ".tmp", NULL);
        g_autofree char *text = wg_key_to_base64(key);
        g_autofree char *line = g_strconcat(text, "\n", NULL);
        size_t len = strlen(line), done = 0;
        int fd, saved;

        fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC | O_NOFOLLOW, 0600);
        if (fd < 0)
                goto fail;
        if (fchmod(fd, 0600) < 0)
                goto fail_close;
        while (done < len) {
                ssize_t n = write(fd, line + done, len - done);
                if (n < 0) {
                        if (errno == EINTR)
                                continue;
                        goto fail_close;
                }
                done += (size_t) n;
        }
        if (fsync(fd) < 0)
                goto fail_close;
        if (close(fd) < 0) {
                fd = -1;
                goto fail;
        }
        fd = -1;
        /* link() rather than rename(): never replace a key that appeared meanwhile. */
        if (link(tmp, path) < 0)
                goto fail;
        (void) unlink(tmp);
        sodium_memzero(text, strlen(text));
        sodium_memzero(line, len);
        return true;

fail_close:
        saved = errno;
        (void) close(fd);
        errno = saved;
fail:
        saved = errno;
        (void) unlink(tmp);
        sodium_memzero(text, strlen(text));
        sodium_memzero(line, len);
        g_set_error(error, PIC_ERROR, PIC_ERROR_FAILED,
                    _("Failed to write the private key to '%s': %s"), path, g_strerror(saved));
        return false;
}

bool private_key_load_or_create(const char *path, WgKey *ret_private, WgKey *ret_public, GError **error) {
        g_autofree char *contents = NULL;
        g_autoptr(GError) local = NULL;
        WgKey private_key, public_key;
        struct stat st;
        size_t len = 0;
        bool ok;

        if (!g_file_get_contents(path, &contents, &len, &local)) {
                if (!g_error_matches(local, G_FILE_ERROR, G_FILE_ERROR_NOENT)) {
                        g_set_error(error, PIC_ERROR, PIC_ERROR_FAILED,
                                    _("Failed to read the private key '%s': %s"), path, local->message);
                        return false;
                }
                if (!wg_key_generate(&private_key, &public_key, error))
                        return false;
                ok = write_new_key(path, &private_key, error);
                if (ok) {
                        *ret_private = private_key;
                        *ret_public = public_key;
                }
                wg_key_wipe(&private_key);
                return ok;
        }

        if (stat(path, &st) == 0 && (st.st_mode & 0077) != 0)
                g_warning("The private key '%s' is readable by others (mode %04o); making it 0600",
                          path, (unsigned) (st.st_mode & 07777));
        if (chmod(path, 0600) < 0 && errno != EROFS)
                g_warning("Failed to make '%s' mode 0600: %s", path, g_strerror(errno));

        g_strstrip(contents);
        ok = wg_key_from_base64(contents, &private_key, NULL);
        sodium_memzero(contents, len);
        if (!ok) {
                g_set_error(error, PIC_ERROR, PIC_ERROR_FAILED,
                            _("The private key file '%s' does not hold a WireGuard key (base64 of 32 bytes); "
                              "move it away to let a new key be made"), path);
                return false;
        }
        if (!wg_key_public_from_private(&private_key, &public_key, error)) {
                wg_key_wipe(&private_key);
                return false;
        }
        *ret_private = private_key;
        *ret_public = public_key;
        wg_key_wipe(&private_key);
        return true;
}
