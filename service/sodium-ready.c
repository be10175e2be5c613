/* sodium-ready.c: one sodium_init() for every module that uses libsodium. */
#include <sodium.h>

#include "pic-error.h"
#include "sodium-ready.h"

bool sodium_ready(GError **error) {
        static gsize state = 0; /* 1: ready, 2: failed */

        /* The outcome is kept: a failed sodium_init() would fail again. */
        if (g_once_init_enter(&state))
                g_once_init_leave(&state, sodium_init() < 0 ? 2 : 1);
        if (state != 1) {
                g_set_error_literal(error, PIC_ERROR, PIC_ERROR_FAILED,
                                    "Failed to initialise libsodium");
                return false;
        }
        return true;
}
