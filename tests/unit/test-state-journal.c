/* test-state-journal.c: the snapshot and journal of the model on a real file
 * system: records per change, replay, interrupted and damaged journals,
 * compaction. */
#include <fcntl.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <gio/gio.h>

#include "cell-state.h"
#include "pic-error.h"
#include "state-journal.h"
#include "unit-main.h"

typedef struct {
        char *dir;
        char *state_path;
        char *journal_path;
        StateJournal *journal;
        CellState *state;      /* what was last committed */
} Fixture;

static char *read_text(const char *path) {
        g_autoptr(GError) error = NULL;
        char *text = NULL;

        ck_assert_msg(g_file_get_contents(path, &text, NULL, &error), "%s", error ? error->message : "");
        return text;
}

static void write_text(const char *path, const char *text) {
        g_autoptr(GError) error = NULL;

        ck_assert_msg(g_file_set_contents(path, text, -1, &error), "%s", error ? error->message : "");
}

static void remove_dir(const char *dir) {
        g_autoptr(GDir) d = g_dir_open(dir, 0, NULL);
        const char *name;

        while (d && (name = g_dir_read_name(d))) {
                g_autofree char *path = g_build_filename(dir, name, NULL);
                (void) unlink(path);
        }
        (void) rmdir(dir);
}

/* A cell with two links and two peers, saved as its snapshot. */
static void fixture_init(Fixture *f) {
        g_autoptr(GError) error = NULL;
        g_autofree char *fixture = read_text(FIXTURES_DIR "/state-v2-full.json");

        f->dir = g_dir_make_tmp("test-state-journal-XXXXXX", &error);
        ck_assert_msg(f->dir, "%s", error ? error->message : "");
        f->state_path = g_build_filename(f->dir, "state.json", NULL);
        f->journal_path = g_build_filename(f->dir, "state.journal", NULL);
        f->journal = state_journal_new(f->state_path);
        f->state = cell_state_from_json(fixture, strlen(fixture), &error);
        ck_assert_msg(f->state, "%s", error ? error->message : "");
        ck_assert(state_journal_compact(f->journal, f->state, &error));
        ck_assert_str_eq(state_journal_path(f->journal), f->journal_path);
}

static void fixture_clear(Fixture *f) {
        state_journal_free(f->journal);
        cell_state_free(f->state);
        remove_dir(f->dir);
        g_free(f->dir);
        g_free(f->state_path);
        g_free(f->journal_path);
}

/* Commits @next (a copy of f->state, changed) and adopts it. */
static void commit(Fixture *f, CellState *next) {
        g_autoptr(GError) error = NULL;

        ck_assert_msg(state_journal_commit(f->journal, f->state, next, &error), "%s",
                      error ? error->message : "");
        cell_state_free(f->state);
        f->state = next;
}

static void toggle_files(Fixture *f, const char *link_name) {
        CellState *next = cell_state_copy(f->state);
        Link *link = cell_state_edit_link(next, link_name);
        bool shared = GPOINTER_TO_INT(g_hash_table_lookup(link->inbound, "files"));

        g_hash_table_replace(link->inbound, g_strdup("files"), GINT_TO_POINTER(!shared));
        commit(f, next);
}

/* What a fresh start would load. */
static char *loaded_json(const char *state_path) {
        g_autoptr(StateJournal) journal = state_journal_new(state_path);
        g_autoptr(GError) error = NULL;
        g_autoptr(CellState) state = state_journal_load(journal, &error);

        ck_assert_msg(state, "%s", error ? error->message : "");
        return cell_state_to_json(state);
}

static void assert_loads_as_committed(Fixture *f) {
        g_autofree char *want = cell_state_to_json(f->state);
        g_autofree char *got = loaded_json(f->state_path);

        ck_assert_str_eq(got, want);
}

/* Loading fails; returns the error. */
static GError *load_error(const char *state_path) {
        g_autoptr(StateJournal) journal = state_journal_new(state_path);
        g_autoptr(CellState) state = NULL;
        GError *error = NULL;

        state = state_journal_load(journal, &error);
        ck_assert_msg(!state, "the state loaded");
        ck_assert_ptr_nonnull(error);
        return error;
}

static unsigned count_lines(const char *path) {
        g_autofree char *text = read_text(path);
        unsigned n = 0;

        for (const char *p = text; *p; p++)
                n += *p == '\n';
        return n;
}

START_TEST(test_change_is_one_record) {
        Fixture f = {};
        g_autofree char *snapshot = NULL, *record = NULL, *snapshot_now = NULL;
        struct stat st;

        fixture_init(&f);
        snapshot = read_text(f.state_path);
        toggle_files(&f, "cellc");

        /* The snapshot is left alone; the record holds the changed link only. */
        snapshot_now = read_text(f.state_path);
        ck_assert_str_eq(snapshot_now, snapshot);
        ck_assert_uint_eq(count_lines(f.journal_path), 1);
        record = read_text(f.journal_path);
        ck_assert_ptr_nonnull(strstr(record, "\"cellc\""));
        ck_assert_ptr_null(strstr(record, "\"cellb\""));
        ck_assert_ptr_null(strstr(record, "\"peers\""));
        ck_assert_int_eq(stat(f.journal_path, &st), 0);
        ck_assert_uint_eq(st.st_mode & 07777, 0600);
        assert_loads_as_committed(&f);

        /* A change that changes nothing writes nothing. */
        commit(&f, cell_state_copy(f.state));
        ck_assert_uint_eq(count_lines(f.journal_path), 1);
        fixture_clear(&f);
}
END_TEST

START_TEST(test_every_kind_of_change_replays) {
        Fixture f = {};
        CellState *next;
        Peer *peer;

        fixture_init(&f);
        /* A link removed, a peer changed, one added, one removed, the
         * identity and services changed, each its own record. */
        next = cell_state_copy(f.state);
        g_ptr_array_remove_index(next->links, 0);
        commit(&f, next);

        next = cell_state_copy(f.state);
        peer = cell_state_edit_peer(next, "laptop");
        g_free(peer->route_via);
        peer->route_via = g_strdup("cellc");
        commit(&f, next);

        next = cell_state_copy(f.state);
        peer = peer_new();
        peer->name = g_strdup("tablet");
        peer->address = ((const Peer *) next->peers->pdata[0])->address + 50;
        peer->public_key = g_strdup("9O3UUMXvYFqZA4x3j0Hfn4Zg4DMvqlJZcQB3fXX6x3Y=");
        g_ptr_array_add(next->peers, peer);
        g_ptr_array_remove_index(next->peers, 1);
        g_free(next->cell.domain);
        next->cell.domain = g_strdup("home.example");
        g_ptr_array_remove_index(next->services, 0);
        commit(&f, next);

        ck_assert_uint_eq(count_lines(f.journal_path), 3);
        assert_loads_as_committed(&f);
        fixture_clear(&f);
}
END_TEST

START_TEST(test_replay_is_idempotent) {
        Fixture f = {};
        g_autofree char *records = NULL;
        g_autoptr(GError) error = NULL;

        fixture_init(&f);
        toggle_files(&f, "cellb");
        toggle_files(&f, "cellc");
        records = read_text(f.journal_path);
        /* A crash after a new snapshot but before the journal went: the
         * old records are replayed over a state that already holds them. */
        ck_assert(state_journal_compact(f.journal, f.state, &error));
        ck_assert(!g_file_test(f.journal_path, G_FILE_TEST_EXISTS));
        write_text(f.journal_path, records);
        assert_loads_as_committed(&f);
        fixture_clear(&f);
}
END_TEST

START_TEST(test_unfinished_record_is_dropped) {
        Fixture f = {};
        g_autofree char *records = NULL, *torn = NULL, *left = NULL;

        fixture_init(&f);
        toggle_files(&f, "cellb");
        records = read_text(f.journal_path);
        /* A save interrupted halfway: never acknowledged, so not a loss. */
        torn = g_strconcat(records, "{\"version\":2,\"links\":[{\"cell_na", NULL);
        write_text(f.journal_path, torn);
        assert_loads_as_committed(&f);
        /* Loading cut it off, so a new record starts on its own line. */
        left = read_text(f.journal_path);
        ck_assert_str_eq(left, records);
        fixture_clear(&f);
}
END_TEST

START_TEST(test_damaged_journal_is_kept_aside) {
        Fixture f = {};
        g_autoptr(GError) error = NULL;
        g_autofree char *records = NULL, *damaged = NULL;

        fixture_init(&f);
        toggle_files(&f, "cellb");
        toggle_files(&f, "cellc");
        records = read_text(f.journal_path);
        damaged = g_strdup(records);
        damaged[strlen(damaged) / 4] = '#';
        write_text(f.journal_path, damaged);

        error = load_error(f.state_path);
        ck_assert(g_error_matches(error, PIC_ERROR, PIC_ERROR_FAILED));
        ck_assert_msg(strstr(error->message, "record 1") && strstr(error->message, "moved to"), "%s",
                      error->message);
        /* Never overwritten: the damaged file is kept under a new name. */
        ck_assert(!g_file_test(f.journal_path, G_FILE_TEST_EXISTS));
        fixture_clear(&f);
}
END_TEST

START_TEST(test_invalid_record_is_refused) {
        static const char *const records[] = {
                "{\"version\":1,\"links_removed\":[\"cellb\"]}\n",
                "{\"links_removed\":[\"cellb\"]}\n",
                "{\"version\":2,\"links_removed\":[7]}\n",
                "{\"version\":2,\"peers\":[{\"name\":\"x\"}]}\n",
                "[1]\n",
        };

        for (size_t i = 0; i < G_N_ELEMENTS(records); i++) {
                Fixture f = {};
                g_autoptr(GError) error = NULL;

                fixture_init(&f);
                write_text(f.journal_path, records[i]);
                error = load_error(f.state_path);
                ck_assert_ptr_nonnull(strstr(error->message, "State journal"));
                fixture_clear(&f);
        }
}
END_TEST

START_TEST(test_newer_record_is_left_alone) {
        Fixture f = {};
        g_autoptr(GError) error = NULL;
        g_autofree char *record = g_strdup_printf("{\"version\":%d,\"links_removed\":[\"cellb\"]}\n",
                                                  CELL_STATE_VERSION + 1);
        g_autofree char *left = NULL;

        fixture_init(&f);
        write_text(f.journal_path, record);
        error = load_error(f.state_path);
        ck_assert_msg(strstr(error->message, "newer pic-celld") && strstr(error->message, "left untouched"), "%s",
                      error->message);
        /* An upgrade that was rolled back must find it where it was. */
        left = read_text(f.journal_path);
        ck_assert_str_eq(left, record);
        fixture_clear(&f);
}
END_TEST

START_TEST(test_duplicate_after_replay_is_refused) {
        Fixture f = {};
        g_autoptr(GError) error = NULL;
        g_autofree char *record = NULL;
        const Peer *phone;

        fixture_init(&f);
        /* A second peer with the key of an existing one. */
        phone = cell_state_find_peer(f.state, "phone.alice");
        record = g_strdup_printf("{\"version\":2,\"peers\":[{\"name\":\"twin\",\"address\":\"10.23.7.99\","
                                 "\"public_key\":\"%s\",\"full_tunnel\":true,\"route_via\":\"\","
                                 "\"created_at\":1}]}\n",
                                 phone->public_key);
        write_text(f.journal_path, record);
        error = load_error(f.state_path);
        ck_assert_msg(strstr(error->message, "public_key"), "%s", error->message);
        fixture_clear(&f);
}
END_TEST

START_TEST(test_compaction_bounds_the_journal) {
        Fixture f = {};
        struct stat st;
        bool compacted = false;
        off_t largest = 0;

        fixture_init(&f);
        for (unsigned i = 0; i < 400; i++) {
                toggle_files(&f, i % 2 ? "cellb" : "cellc");
                if (stat(f.journal_path, &st) < 0)
                        compacted = true;
                else
                        largest = MAX(largest, st.st_size);
        }
        ck_assert(compacted);
        ck_assert_int_le(largest, STATE_JOURNAL_COMPACT_MIN);
        assert_loads_as_committed(&f);
        fixture_clear(&f);
}
END_TEST

START_TEST(test_journal_without_snapshot_is_kept_aside) {
        Fixture f = {};
        g_autoptr(GError) error = NULL;

        fixture_init(&f);
        toggle_files(&f, "cellb");
        ck_assert_int_eq(unlink(f.state_path), 0);
        error = load_error(f.state_path);
        ck_assert(g_error_matches(error, G_IO_ERROR, G_IO_ERROR_NOT_FOUND));
        /* A new cell must not inherit the records of an old one. */
        ck_assert(!g_file_test(f.journal_path, G_FILE_TEST_EXISTS));
        fixture_clear(&f);
}
END_TEST

Suite *unit_suite(void) {
        Suite *s = suite_create("state-journal");
        TCase *tc = tcase_create("journal");

        tcase_add_test(tc, test_change_is_one_record);
        tcase_add_test(tc, test_every_kind_of_change_replays);
        tcase_add_test(tc, test_replay_is_idempotent);
        tcase_add_test(tc, test_unfinished_record_is_dropped);
        tcase_add_test(tc, test_damaged_journal_is_kept_aside);
        tcase_add_test(tc, test_invalid_record_is_refused);
        tcase_add_test(tc, test_newer_record_is_left_alone);
        tcase_add_test(tc, test_duplicate_after_replay_is_refused);
        tcase_add_test(tc, test_compaction_bounds_the_journal);
        tcase_add_test(tc, test_journal_without_snapshot_is_kept_aside);
        suite_add_tcase(s, tc);
        return s;
}
