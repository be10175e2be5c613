/* test-model-check.c: the checked build catches a shared link or peer that
 * was changed in place, and lets every proper change through. */
#include <signal.h>
#include <string.h>

#include "config.h"
#include "cell-state.h"
#include "model-check.h"
#include "unit-main.h"

static CellState *load_fixture(void) {
        g_autoptr(GError) error = NULL;
        g_autofree char *text = NULL;
        CellState *state;

        ck_assert(g_file_get_contents(FIXTURES_DIR "/state-v2-full.json", &text, NULL, &error));
        state = cell_state_from_json(text, strlen(text), &error);
        ck_assert_msg(state, "%s", error ? error->message : "");
        return state;
}

START_TEST(test_edits_pass) {
        g_autoptr(CellState) before = load_fixture();
        g_autoptr(CellState) after = cell_state_copy(before);
        ModelCheck *check = model_check_new();
        Peer *peer;

        model_check_adopt(check, NULL, before);
        g_hash_table_replace(cell_state_edit_link_at(after, 0)->inbound, g_strdup("files"), GINT_TO_POINTER(TRUE));
        peer = cell_state_edit_peer_at(after, 1);
        g_free(peer->route_via);
        peer->route_via = g_strdup("cellb");
        g_ptr_array_remove_index(after->links, 1);
        model_check_adopt(check, before, after);
        model_check_free(check);
}
END_TEST

START_TEST(test_change_in_place_aborts) {
        g_autoptr(CellState) before = load_fixture();
        g_autoptr(CellState) after = cell_state_copy(before);
        ModelCheck *check = model_check_new();

        model_check_adopt(check, NULL, before);
        /* The mistake the check is for: changing a shared link directly. */
        ((Link *) after->links->pdata[0])->exit_offered = !((Link *) after->links->pdata[0])->exit_offered;
        model_check_adopt(check, before, after);
        model_check_free(check);
}
END_TEST

Suite *unit_suite(void) {
        Suite *s = suite_create("model-check");
        TCase *tc = tcase_create("model-check");

        tcase_add_test(tc, test_edits_pass);
        if (PIC_MODEL_CHECKS)
                tcase_add_test_raise_signal(tc, test_change_in_place_aborts, SIGTRAP);
        suite_add_tcase(s, tc);
        return s;
}
