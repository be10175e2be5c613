/* fuzz-invite.c: libFuzzer harness for invite_parse() and invite_parse_json():
 * no input may crash, leak or log, every refusal is an INVALID_INVITE error,
 * and every accepted invite survives its own JSON and compact forms. */
#include <string.h>

#include "fuzz-common.h"
#include "invite.h"
#include "pic-error.h"

/* What we write, we must read back as the same invite. */
static void check_round_trip(const Invite *invite) {
        g_autofree char *json = invite_to_json(invite, true);
        g_autofree char *compact = invite_to_compact(invite);
        g_autoptr(Invite) from_json = NULL, from_compact = NULL;
        g_autofree char *json_again = NULL, *compact_json = NULL;

        from_json = invite_parse_json(json, strlen(json), NULL);
        FUZZ_CHECK(from_json);
        json_again = invite_to_json(from_json, true);
        FUZZ_CHECK(g_str_equal(json, json_again));

        from_compact = invite_parse(compact, NULL);
        FUZZ_CHECK(from_compact);
        compact_json = invite_to_json(from_compact, true);
        if (invite->has_pairing)
                FUZZ_CHECK(g_str_equal(json, compact_json));
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
        g_autofree char *text = fuzz_strndup(data, size);
        g_autoptr(GError) error = NULL, json_error = NULL;
        g_autoptr(Invite) invite = NULL, from_json = NULL;

        invite = invite_parse(text, &error);
        if (invite)
                check_round_trip(invite);
        else
                fuzz_check_error(error, PIC_ERROR_INVALID_INVITE);

        /* The raw bytes, NULs and all, as a peer-sync body would hand them over. */
        from_json = invite_parse_json((const char *) data, size, &json_error);
        if (from_json)
                check_round_trip(from_json);
        else
                fuzz_check_error(json_error, PIC_ERROR_INVALID_INVITE);
        return 0;
}
