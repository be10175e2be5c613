/* state-journal.h: how the model is persisted (DESIGN §2-3). state.json is a
 * snapshot, written atomically (temporary file, fsync, rename); each change
 * after it is one line appended to state.journal beside it and fdatasync'ed
 * before the change is acknowledged. A change therefore costs what it
 * touches, not the size of the whole state. When the journal outgrows the
 * snapshot (and at every start), the model is written as a new snapshot and
 * the journal removed, so the work per change stays bounded on average.
 *
 * Loading reads the snapshot, then replays the journal; replaying is
 * idempotent, so a crash between a new snapshot and the journal's removal
 * loses nothing. A last line without its newline is a save that never
 * finished (and was never acknowledged): it is dropped. Any other damage is
 * treated like a corrupt state file: the journal is moved aside and the
 * error says where. Both files are mode 0600. */
#pragma once

#include <stdbool.h>
#include <glib.h>

#include "cell-state.h"

#define STATE_JOURNAL_COMPACT_MIN (64 * 1024) /* bytes of journal always allowed */

typedef struct StateJournal StateJournal;

/* The journal of the state file @state_path ("<dir>/state.journal"). No I/O. */
StateJournal *state_journal_new(const char *state_path);
void state_journal_free(StateJournal *journal);
G_DEFINE_AUTOPTR_CLEANUP_FUNC(StateJournal, state_journal_free)

const char *state_journal_path(const StateJournal *journal);

/* The state as last saved: the snapshot (errors as cell_state_load(); a
 * missing one is G_IO_ERROR_NOT_FOUND, and a journal without its snapshot is
 * moved aside) with the journal's records applied. */
CellState *state_journal_load(StateJournal *journal, GError **error);

/* Makes the change from @before (what was last saved) to @after durable: a
 * journal record, or a new snapshot when the journal has grown past it. On
 * failure nothing of the change is kept and the saved state is @before. */
bool state_journal_commit(StateJournal *journal, const CellState *before, const CellState *after,
                          GError **error);

/* True when the journal holds records (the snapshot is not the whole state). */
bool state_journal_pending(const StateJournal *journal);

/* Writes @state as the new snapshot and removes the journal. */
bool state_journal_compact(StateJournal *journal, const CellState *state, GError **error);
