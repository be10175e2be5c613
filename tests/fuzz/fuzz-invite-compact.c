/* fuzz-invite-compact.c: libFuzzer harness for the compact "pic1:" decoder.
 * The first byte chooses what follows the prefix: the rest of the input as
 * it is (the base64url decoder itself), or the rest encoded as base64url (the
 * JSON inside a well-formed compact form). */
#include <string.h>

#include "fuzz-common.h"
#include "invite.h"
#include "pic-error.h"

static char *base64url(const uint8_t *data, size_t size) {
        g_autofree char *standard = g_base64_encode(data, size);
        size_t n = strlen(standard);

        while (n > 0 && standard[n - 1] == '=')
                n--;
        for (size_t i = 0; i < n; i++)
                standard[i] = standard[i] == '+' ? '-' : standard[i] == '/' ? '_' : standard[i];
        return g_strndup(standard, n);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
        g_autofree char *payload = NULL, *text = NULL;
        g_autoptr(GError) error = NULL;
        g_autoptr(Invite) invite = NULL;

        if (size == 0)
                return 0;
        if (data[0] & 1)
                payload = base64url(data + 1, size - 1);
        else
                payload = fuzz_strndup(data + 1, size - 1);
        text = g_strconcat(INVITE_COMPACT_PREFIX, payload, NULL);

        invite = invite_parse(text, &error);
        if (invite) {
                g_autofree char *compact = invite_to_compact(invite);
                g_autoptr(Invite) again = invite_parse(compact, NULL);
                g_autofree char *json = invite_to_json(invite, true);
                g_autofree char *json_again = NULL;

                FUZZ_CHECK(again);
                json_again = invite_to_json(again, true);
                if (invite->has_pairing)
                        FUZZ_CHECK(g_str_equal(json, json_again));
        } else
                fuzz_check_error(error, PIC_ERROR_INVALID_INVITE);
        return 0;
}
