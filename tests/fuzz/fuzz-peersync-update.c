/* fuzz-peersync-update.c: libFuzzer harness for the update body (an invite
 * without pairing, whose "public_key" is the identity the sender claims). */
#include "fuzz-common.h"
#include "peersync-parse.h"
#include "pic-error.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
        g_autoptr(GError) error = NULL;
        g_autoptr(PeerSyncBody) body = NULL;
        g_autoptr(Invite) invite = NULL;

        body = peersync_body_parse((const char *) data, size, &error);
        if (!body) {
                fuzz_check_error(error, PIC_ERROR_INVALID_ARGUMENT);
                return 0;
        }
        (void) peersync_body_get_string(body, "public_key");
        invite = peersync_update_from_body(body, &error);
        if (!invite) {
                fuzz_check_error(error, PIC_ERROR_INVALID_INVITE);
                return 0;
        }
        FUZZ_CHECK(invite->cell_name && invite->public_key && invite->domain);
        return 0;
}
