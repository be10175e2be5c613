/* fuzz-cell-state.c: libFuzzer harness for the state loader,
 * cell_state_from_json(): whatever lies in state.json must load or be
 * refused with a message, and what loads must save and load again unchanged. */
#include <string.h>

#include "cell-state.h"
#include "fuzz-common.h"
#include "pic-error.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
        g_autoptr(GError) error = NULL;
        g_autoptr(CellState) state = NULL, again = NULL;
        g_autofree char *json = NULL, *json_again = NULL;

        state = cell_state_from_json((const char *) data, size, &error);
        if (!state) {
                fuzz_check_error(error, -1);
                return 0;
        }
        json = cell_state_to_json(state);
        again = cell_state_from_json(json, strlen(json), NULL);
        FUZZ_CHECK(again);
        json_again = cell_state_to_json(again);
        FUZZ_CHECK(g_str_equal(json, json_again));
        return 0;
}
