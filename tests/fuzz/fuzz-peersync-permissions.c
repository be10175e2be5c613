/* fuzz-peersync-permissions.c: libFuzzer harness for the permissions body. */
#include "cell-state.h"
#include "fuzz-common.h"
#include "names.h"
#include "peersync-parse.h"
#include "pic-error.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
        g_autoptr(GError) error = NULL;
        g_autoptr(PeerSyncBody) body = NULL;
        g_autoptr(PeerSyncPermissions) permissions = NULL;
        GHashTableIter iter;
        gpointer key;

        body = peersync_body_parse((const char *) data, size, &error);
        if (!body) {
                fuzz_check_error(error, PIC_ERROR_INVALID_ARGUMENT);
                return 0;
        }
        (void) peersync_body_get_string(body, "from_public_key");
        permissions = peersync_permissions_from_body(body, &error);
        if (!permissions) {
                fuzz_check_error(error, PIC_ERROR_INVALID_ARGUMENT);
                return 0;
        }
        g_clear_pointer(&body, peersync_body_free);

        /* What reaches the core is bounded and well-formed. */
        FUZZ_CHECK(permissions->seq > 0);
        FUZZ_CHECK(g_hash_table_size(permissions->inbound) <= CELL_STATE_MAX_SERVICES);
        FUZZ_CHECK(permissions->exit_sources && permissions->exit_sources->len <= PEERSYNC_MAX_EXIT_SOURCES);
        g_hash_table_iter_init(&iter, permissions->inbound);
        while (g_hash_table_iter_next(&iter, &key, NULL))
                FUZZ_CHECK(names_validate_service_name(key, NULL));
        for (guint i = 0; i < permissions->exit_sources->len; i++)
                FUZZ_CHECK(g_utf8_validate(permissions->exit_sources->pdata[i], -1, NULL));
        return 0;
}
