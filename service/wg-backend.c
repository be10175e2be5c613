/* wg-backend.c: the calls of wg.h dispatched to the kernel or userspace back-end. */
#include <string.h>

#include "wg-backend.h"

/* Long enough to recognise a line, short enough that a hostile answer cannot
 * blow up a log line or a D-Bus error. */
#define QUOTE_MAX 80

bool wg_ifname_is_valid(const char *ifname) {
        size_t len;

        if (!ifname)
                return false;
        len = strlen(ifname);
        if (len == 0 || len > WG_IFNAME_MAX || g_str_equal(ifname, ".") || g_str_equal(ifname, ".."))
                return false;
        for (const char *c = ifname; *c; c++)
                if (*c == '/' || *c == ':' || g_ascii_isspace(*c) || !g_ascii_isprint(*c))
                        return false;
        return true;
}

void wg_backend_init(WgBackend *backend, const WgBackendOps *ops, const char *ifname) {
        backend->ops = ops;
        g_strlcpy(backend->ifname, ifname, sizeof(backend->ifname));
}

void wg_backend_notify_lost(WgBackend *backend) {
        if (backend->lost_func)
                backend->lost_func(backend->lost_userdata);
}

char *wg_quote(const char *text, size_t len) {
        size_t n = MIN(len, (size_t) QUOTE_MAX);
        GString *out = g_string_sized_new(n + 8);

        /* Escaped by hand rather than with g_strescape(), which stops at a NUL
         * and would hide where the text was cut. */
        for (size_t i = 0; i < n; i++) {
                unsigned char c = (unsigned char) text[i];

                if (c == '\\' || c == '"')
                        g_string_append_printf(out, "\\%c", c);
                else if (c == '\n')
                        g_string_append(out, "\\n");
                else if (c >= 0x20 && c < 0x7f)
                        g_string_append_c(out, (char) c);
                else
                        g_string_append_printf(out, "\\x%02x", c);
        }
        if (len > n)
                g_string_append(out, "...");
        return g_string_free(out, FALSE);
}

void wg_backend_free(WgBackend *backend) {
        if (!backend)
                return;
        backend->ops->destroy(backend);
}

const char *wg_backend_kind(const WgBackend *backend) {
        g_return_val_if_fail(backend, NULL);

        return backend->ops->kind;
}

void wg_backend_set_lost_callback(WgBackend *backend, WgDeviceLostFunc func, void *userdata) {
        g_return_if_fail(backend);

        backend->lost_func = func;
        backend->lost_userdata = userdata;
}

bool wg_backend_ensure_device(WgBackend *backend, GError **error) {
        g_return_val_if_fail(backend, false);

        return backend->ops->ensure_device(backend, error);
}

void wg_backend_remove_device(WgBackend *backend) {
        g_return_if_fail(backend);

        backend->ops->remove_device(backend);
}

bool wg_backend_get(WgBackend *backend, WgDevice **ret_device, GError **error) {
        g_return_val_if_fail(backend, false);
        g_return_val_if_fail(ret_device, false);

        return backend->ops->get(backend, ret_device, error);
}

bool wg_backend_set(WgBackend *backend, const WgDevice *change, GError **error) {
        g_return_val_if_fail(backend, false);

        /* The diff says "nothing to do" with NULL. */
        if (!change)
                return true;
        return backend->ops->set(backend, change, error);
}
