/* fuzz-peersync-unlink.c: libFuzzer harness for the unlink body. */
#include "fuzz-common.h"
#include "peersync-parse.h"
#include "pic-error.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
        g_autoptr(GError) error = NULL;
        g_autoptr(PeerSyncBody) body = NULL;
        g_autoptr(PeerSyncUnlink) unlink = NULL;
        const char *claimed;

        body = peersync_body_parse((const char *) data, size, &error);
        if (!body) {
                fuzz_check_error(error, PIC_ERROR_INVALID_ARGUMENT);
                return 0;
        }
        claimed = peersync_body_get_string(body, "from_public_key");
        unlink = peersync_unlink_from_body(body, &error);
        if (!unlink) {
                fuzz_check_error(error, PIC_ERROR_INVALID_ARGUMENT);
                FUZZ_CHECK(!claimed);
                return 0;
        }
        FUZZ_CHECK(claimed && g_str_equal(claimed, unlink->from_public_key));
        return 0;
}
