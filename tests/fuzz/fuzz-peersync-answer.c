/* fuzz-peersync-answer.c: libFuzzer harness for what this cell reads back
 * from a remote's answer: its "error", which becomes LastPushError. */
#include <string.h>

#include "fuzz-common.h"
#include "peersync-parse.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
        g_autofree char *message = peersync_answer_get_error((const char *) data, size);

        if (!message)
                return 0;
        /* It must be fit for a D-Bus string property and a log line. */
        FUZZ_CHECK(message[0]);
        FUZZ_CHECK(strlen(message) <= PEERSYNC_ANSWER_ERROR_MAX);
        FUZZ_CHECK(g_utf8_validate(message, -1, NULL));
        for (const char *c = message; *c; c++)
                FUZZ_CHECK((unsigned char) *c >= 0x20 && *c != 0x7f);
        return 0;
}
