/* fuzz-wg-uapi-get.c: libFuzzer harness for wg_uapi_parse_get(), the reader
 * of a userspace WireGuard's answer to "get=1". */
#include "fuzz-common.h"
#include "pic-error.h"
#include "wg.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
        g_autoptr(GError) error = NULL;
        g_autoptr(WgDevice) device = NULL;

        device = wg_uapi_parse_get("wg0", (const char *) data, size, &error);
        if (!device) {
                fuzz_check_error(error, -1);
                return 0;
        }
        FUZZ_CHECK(g_str_equal(device->name, "wg0"));
        for (guint i = 0; i < device->peers->len; i++) {
                const WgPeer *peer = device->peers->pdata[i];

                for (guint j = 0; j < peer->allowed_ips->len; j++)
                        FUZZ_CHECK(g_array_index(peer->allowed_ips, Ipv4Prefix, j).prefixlen <= 32);
        }
        /* What we read must be something we could write back. */
        g_free(wg_uapi_format_set(device));
        return 0;
}
