/* fuzz-peersync-accept.c: libFuzzer harness for the accept-invite body, read
 * in the handler's steps: the text, the envelope, the nonce, the invite. */
#include "fuzz-common.h"
#include "peersync-parse.h"
#include "pic-error.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
        g_autoptr(GError) error = NULL;
        g_autoptr(PeerSyncBody) body = NULL;
        g_autoptr(PeerSyncAccept) accept = NULL;
        g_autoptr(Invite) invite = NULL;

        body = peersync_body_parse((const char *) data, size, &error);
        if (!body) {
                fuzz_check_error(error, PIC_ERROR_INVALID_ARGUMENT);
                return 0;
        }
        accept = peersync_accept_from_body(body, &error);
        if (!accept) {
                fuzz_check_error(error, PIC_ERROR_INVALID_ARGUMENT);
                return 0;
        }
        FUZZ_CHECK(accept->pairing_id && accept->nonce && accept->invite_object);
        /* The accept request outlives the body it came from. */
        g_clear_pointer(&body, peersync_body_free);

        if (!peersync_accept_check_nonce(accept, &error)) {
                fuzz_check_error(error, PIC_ERROR_INVALID_ARGUMENT);
                g_clear_error(&error);
        }
        invite = peersync_accept_get_invite(accept, &error);
        if (!invite)
                fuzz_check_error(error, PIC_ERROR_INVALID_INVITE);
        return 0;
}
