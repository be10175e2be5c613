/* fuzz-state-journal.c: libFuzzer harness for a journal record,
 * cell_state_apply_change_json(): whatever a line of state.journal holds is
 * applied whole or refused with a message, and applying it a second time
 * changes nothing (replay after a crash depends on that). */
#include <string.h>

#include "cell-state.h"
#include "fuzz-common.h"
#include "pic-error.h"

/* A small cell: one service, one link, one peer. */
static const char base_state[] =
        "{\"version\":2,\"cell\":{\"name\":\"cella\",\"domain\":\"cella.cell\",\"address\":\"10.23.7.1/24\",\"dns_address\":\"10"
        ".23.7.1\",\"endpoint\":\"192.0.2.10:51820\",\"public_key\":\"iIfIDGHCuYZ8wXQ2KTocfJqOyIF+WPTE1GJ4OhpV7So=\"},"
        "\"services\":[{\"name\":\"calendar\",\"address\":\"10.23.7.1\",\"ports\":[[\"tcp\",5232]]},{\"name\":\"dns\",\"address\""
        ":\"10.23.7.53\",\"ports\":[[\"udp\",53],[\"tcp\",53]]}],\"links\":[{\"cell_name\":\"cellb\",\"public_key\":\"/wA7h+4k"
        "jMzeCQSMShHnZpgPNxM5gHhRQw906YtukEs=\",\"endpoint\":\"192.0.2.11:51820\",\"vpn_subnet\":\"10.41.3.0/24\",\"dns"
        "_ip\":\"10.41.3.1\",\"domain\":\"cellb.cell\",\"tunnel_address\":\"10.41.3.2\",\"sync_port\":51999,\"paired\":false"
        ",\"pairing\":{\"id\":\"3A0gopqC1sKGjeWpg8OFiw\",\"secret\":\"_a0aXXaY_PFSnFMmlsFi09X_oVWh9SqKkshUHTCyJiQ\",\"ex"
        "pires\":1700086400},\"inbound\":{\"calendar\":true,\"mail\":false},\"outbound\":{\"files\":true},\"exit_offered\""
        ":true,\"remote_exit_offered\":true,\"exit_relay_active\":true,\"remote_exit_relay_active\":true,\"remote_ex"
        "it_sources\":[\"10.41.3.5/32\",\"10.41.3.6/32\"],\"push_state\":\"failed\",\"last_push_at\":1700000100,\"last_pu"
        "sh_error\":\"Connection refused\",\"last_remote_update_at\":1700000200,\"push_seq\":17,\"remote_seq\":9,\"crea"
        "ted_at\":1700000000}],\"peers\":[{\"name\":\"laptop\",\"address\":\"10.23.7.2\",\"public_key\":\"Xwqyfe1H934/XRFnF"
        "LdiObq2Mtybn9D6ZUMpnuFoxK0=\",\"full_tunnel\":true,\"route_via\":\"cellb\",\"created_at\":1700000400}],\"invit"
        "es\":[]}";

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
        static CellState *base;
        static char *before;
        g_autoptr(GError) error = NULL;
        g_autoptr(CellState) state = NULL;
        g_autofree char *once = NULL, *twice = NULL;

        if (!base) {
                base = cell_state_from_json(base_state, strlen(base_state), NULL);
                FUZZ_CHECK(base);
                before = cell_state_to_json(base);
        }
        state = cell_state_copy(base);
        if (!cell_state_apply_change_json(state, (const char *) data, size, NULL, &error)) {
                fuzz_check_error(error, -1);
                /* Refused whole: nothing of it stays. */
                once = cell_state_to_json(state);
                FUZZ_CHECK(g_str_equal(before, once));
                return 0;
        }
        once = cell_state_to_json(state);
        FUZZ_CHECK(cell_state_apply_change_json(state, (const char *) data, size, NULL, NULL));
        twice = cell_state_to_json(state);
        FUZZ_CHECK(g_str_equal(once, twice));
        return 0;
}
