/* state-journal.c: the snapshot and the append-only journal of the model
 * (see state-journal.h). */
#include <errno.h>
#include <fcntl.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <gio/gio.h>

#include "durable-file.h"
#include "i18n.h"
#include "pic-error.h"
#include "state-journal.h"

struct StateJournal {
        char *state_path;
        char *path;
        uint64_t size;        /* bytes of complete records in the journal */
        uint64_t snapshot_size;
};

StateJournal *state_journal_new(const char *state_path) {
        StateJournal *journal = g_new0(StateJournal, 1);
        g_autofree char *directory = g_path_get_dirname(state_path);

        journal->state_path = g_strdup(state_path);
        journal->path = g_build_filename(directory, "state.journal", NULL);
        return journal;
}

void state_journal_free(StateJournal *journal) {
        if (!journal)
                return;
        g_free(journal->state_path);
        g_free(journal->path);
        g_free(journal);
}

const char *state_journal_path(const StateJournal *journal) {
        return journal->path;
}

static bool save_error(GError **error, const char *state_path, int errnum, const char *step) {
        g_set_error(error, PIC_ERROR, PIC_ERROR_FAILED, _("Failed to save state to '%s': %s: %s"), state_path, step,
                    g_strerror(errnum));
        return false;
}

/* ---- loading ---- */

static bool read_journal(const char *path, char **ret_data, size_t *ret_len, GError **error) {
        g_autofree char *data = NULL;
        struct stat st;
        size_t len = 0;
        int fd;

        fd = open(path, O_RDONLY | O_CLOEXEC | O_NOCTTY | O_NOFOLLOW);
        if (fd < 0) {
                if (errno == ENOENT) {
                        *ret_data = NULL;
                        *ret_len = 0;
                        return true;
                }
                g_set_error(error, PIC_ERROR, PIC_ERROR_FAILED, "Failed to open state journal '%s': %s", path,
                            g_strerror(errno));
                return false;
        }
        if (fstat(fd, &st) < 0) {
                int saved = errno;

                (void) close(fd);
                g_set_error(error, PIC_ERROR, PIC_ERROR_FAILED, "Failed to load state journal '%s': %s", path,
                            g_strerror(saved));
                return false;
        }
        if (!S_ISREG(st.st_mode) || st.st_size > CELL_STATE_MAX_SIZE) {
                (void) close(fd);
                g_set_error(error, PIC_ERROR, PIC_ERROR_FAILED, "Failed to load state journal '%s': %s", path,
                            !S_ISREG(st.st_mode) ? "it is not a regular file; replace or remove it"
                                                 : "it is larger than a state may be");
                return false;
        }
        data = g_malloc((size_t) st.st_size + 1);
        while (len < (size_t) st.st_size) {
                ssize_t n = read(fd, data + len, (size_t) st.st_size - len);

                if (n < 0 && errno == EINTR)
                        continue;
                if (n < 0) {
                        int saved = errno;

                        (void) close(fd);
                        g_set_error(error, PIC_ERROR, PIC_ERROR_FAILED, "Failed to read state journal '%s': %s",
                                    path, g_strerror(saved));
                        return false;
                }
                if (n == 0)
                        break;
                len += (size_t) n;
        }
        (void) close(fd);
        data[len] = '\0';
        *ret_data = g_steal_pointer(&data);
        *ret_len = len;
        return true;
}

static bool journal_corrupt(const char *path, const char *problem, GError **error) {
        g_autoptr(GError) move_error = NULL;
        g_autofree char *target = NULL;

        if (!durable_move_aside(path, &target, &move_error)) {
                g_set_error(error, PIC_ERROR, PIC_ERROR_FAILED,
                            "State journal '%s' is corrupt (%s), and it could not be moved aside: %s. "
                            "Repair or remove it.",
                            path, problem, move_error->message);
                return false;
        }
        g_set_error(error, PIC_ERROR, PIC_ERROR_FAILED,
                    "State journal '%s' is corrupt (%s); it was moved to '%s' and the state saved before it "
                    "will be used at the next start",
                    path, problem, target);
        return false;
}

/* Applies the complete lines of @data to @state; *ret_complete is the length
 * of those lines (what follows is an unfinished last record). */
static bool replay(const char *path, const char *data, size_t len, CellState *state, size_t *ret_complete,
                   GError **error) {
        size_t start = 0;
        unsigned line = 0;
        bool newer = false;

        while (start < len) {
                const char *end = memchr(data + start, '\n', len - start);
                g_autoptr(GError) cause = NULL;

                if (!end)
                        break;
                line++;
                if (!cell_state_apply_change_json(state, data + start, (size_t) (end - data) - start, &newer,
                                                  &cause)) {
                        g_autofree char *problem = g_strdup_printf("record %u: %s", line, cause->message);

                        if (newer) {
                                g_set_error(error, PIC_ERROR, PIC_ERROR_FAILED,
                                            "Refusing to load state journal '%s': %s. The file was left untouched.",
                                            path, problem);
                                return false;
                        }
                        return journal_corrupt(path, problem, error);
                }
                start = (size_t) (end - data) + 1;
        }
        *ret_complete = start;
        return true;
}

CellState *state_journal_load(StateJournal *journal, GError **error) {
        g_autoptr(CellState) state = NULL;
        g_autoptr(GError) local = NULL;
        g_autofree char *data = NULL;
        size_t len = 0, complete = 0;
        struct stat st;

        state = cell_state_load(journal->state_path, &local);
        if (!state) {
                /* Records without the snapshot they follow mean nothing on
                 * their own: kept aside, never applied to a new cell. */
                if (g_error_matches(local, G_IO_ERROR, G_IO_ERROR_NOT_FOUND) &&
                    g_file_test(journal->path, G_FILE_TEST_EXISTS)) {
                        g_autofree char *target = NULL;

                        if (durable_move_aside(journal->path, &target, NULL))
                                g_warning("State journal '%s' has no state file before it; moved it to '%s'",
                                          journal->path, target);
                }
                g_propagate_error(error, g_steal_pointer(&local));
                return NULL;
        }
        journal->snapshot_size = stat(journal->state_path, &st) == 0 ? (uint64_t) st.st_size : 0;
        journal->size = 0;

        if (!read_journal(journal->path, &data, &len, error))
                return NULL;
        if (!data)
                return g_steal_pointer(&state);
        if (!replay(journal->path, data, len, state, &complete, error))
                return NULL;
        if (!cell_state_check(state, &local)) {
                journal_corrupt(journal->path, local->message, error);
                return NULL;
        }
        if (complete < len) {
                g_warning("State journal '%s': dropped an unfinished last record (%zu bytes) of a save that "
                          "was interrupted",
                          journal->path, len - complete);
                /* Cut it off, so that the next record starts on a line of its own. */
                if (truncate(journal->path, (off_t) complete) < 0) {
                        g_set_error(error, PIC_ERROR, PIC_ERROR_FAILED,
                                    "Failed to cut the unfinished record off state journal '%s': %s",
                                    journal->path, g_strerror(errno));
                        return NULL;
                }
        }
        journal->size = complete;
        return g_steal_pointer(&state);
}

/* ---- saving ---- */

bool state_journal_compact(StateJournal *journal, const CellState *state, GError **error) {
        struct stat st;

        if (!cell_state_save(state, journal->state_path, error))
                return false;
        journal->snapshot_size = stat(journal->state_path, &st) == 0 ? (uint64_t) st.st_size : 0;
        /* The snapshot holds every record now; should the removal not last,
         * replaying them again changes nothing. */
        if (unlink(journal->path) < 0 && errno != ENOENT) {
                /* The change is saved all the same: the records left behind
                 * replay to what the snapshot holds. */
                g_warning("Failed to remove state journal '%s' after a new snapshot: %s", journal->path,
                          g_strerror(errno));
                return true;
        }
        durable_fsync_directory_of(journal->path);
        journal->size = 0;
        return true;
}

bool state_journal_pending(const StateJournal *journal) {
        return journal->size > 0;
}

/* The journal, opened for appending; -1 on error. */
static int open_for_append(StateJournal *journal, GError **error) {
        g_autofree char *step = NULL;
        bool created = !g_file_test(journal->path, G_FILE_TEST_EXISTS);
        int fd, saved;

        fd = open(journal->path, O_WRONLY | O_APPEND | O_CREAT | O_CLOEXEC | O_NOFOLLOW | O_NOCTTY, 0600);
        if (fd < 0) {
                saved = errno;
                step = g_strdup_printf(_("cannot create '%s'"), journal->path);
                save_error(error, journal->state_path, saved, step);
                return -1;
        }
        if (fchmod(fd, 0600) < 0) {
                saved = errno;
                (void) close(fd);
                step = g_strdup_printf(_("cannot set the mode of '%s'"), journal->path);
                save_error(error, journal->state_path, saved, step);
                return -1;
        }
        /* Records in a file whose name could vanish in a power loss would
         * vanish with it. */
        if (created)
                durable_fsync_directory_of(journal->path);
        return fd;
}

/* Opened for each record and closed after it: a file open for writing
 * would keep the admin from remounting the state directory read-only. */
static bool append(StateJournal *journal, const char *record, GError **error) {
        g_autofree char *line = g_strconcat(record, "\n", NULL);
        g_autofree char *step = NULL;
        size_t len = strlen(line);
        int fd, saved;

        fd = open_for_append(journal, error);
        if (fd < 0)
                return false;
        if (!durable_write_all(fd, line, len) || fdatasync(fd) < 0) {
                saved = errno;
                /* A part of the record must not stay to run into the next one;
                 * if it cannot be cut off, the next save writes a snapshot. */
                if (ftruncate(fd, (off_t) journal->size) < 0 || fdatasync(fd) < 0)
                        journal->size = UINT64_MAX;
                (void) close(fd);
                step = g_strdup_printf(_("cannot write '%s'"), journal->path);
                return save_error(error, journal->state_path, saved, step);
        }
        (void) close(fd);
        journal->size += len;
        return true;
}

bool state_journal_commit(StateJournal *journal, const CellState *before, const CellState *after,
                          GError **error) {
        g_autofree char *record = cell_state_change_to_json(before, after);

        if (!record)
                return true;
        if (journal->size == UINT64_MAX ||
            journal->size + strlen(record) > MAX((uint64_t) STATE_JOURNAL_COMPACT_MIN, journal->snapshot_size))
                return state_journal_compact(journal, after, error);
        return append(journal, record, error);
}
