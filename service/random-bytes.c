/* random-bytes.c: getrandom(2) behind a GError. */
#include <errno.h>
#include <stdint.h>
#include <sys/random.h>

#include "pic-error.h"
#include "random-bytes.h"

/* getrandom(2) rather than libsodium's randombytes_buf(): libsodium aborts
 * the process when the kernel refuses, and a daemon must report that instead. */
bool random_bytes(void *buf, size_t len, GError **error) {
        uint8_t *p = buf;

        g_return_val_if_fail(buf || len == 0, false);

        while (len > 0) {
                ssize_t n = getrandom(p, len, 0);

                if (n < 0) {
                        int e = errno;

                        if (e == EINTR)
                                continue;
                        g_set_error(error, PIC_ERROR, PIC_ERROR_FAILED,
                                    "Failed to read random bytes: %s", g_strerror(e));
                        return false;
                }
                /* Requests above 256 bytes may come back short; keep reading. */
                p += n;
                len -= (size_t) n;
        }
        return true;
}
