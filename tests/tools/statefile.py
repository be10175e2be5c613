"""statefile: a cell's saved state as pic-celld would load it, for the tests:
state.json (the snapshot) with the records of state.journal beside it
applied in order (links and peers replaced or added by name, removed ones
dropped, the cell, services and invites replaced whole). An unfinished last
record (no newline) is ignored, as pic-celld ignores it."""
import json
import os


def journal_path(state_path):
    return os.path.join(os.path.dirname(state_path), "state.journal")


def _upsert(items, key, new):
    for i, old in enumerate(items):
        if old.get(key) == new.get(key):
            items[i] = new
            return
    items.append(new)


def apply_record(state, record):
    if "cell" in record:
        state["cell"] = record["cell"]
    if "services" in record:
        state["services"] = record["services"]
    for kind, key in (("links", "cell_name"), ("peers", "name")):
        gone = set(record.get(kind + "_removed", []))
        state[kind] = [x for x in state.get(kind, []) if x.get(key) not in gone]
        for item in record.get(kind, []):
            _upsert(state[kind], key, item)
    if "invites" in record:
        state["invites"] = record["invites"]
    return state


def load(state_path):
    with open(state_path) as f:
        state = json.load(f)
    try:
        with open(journal_path(state_path)) as f:
            text = f.read()
    except FileNotFoundError:
        return state
    for line in text.split("\n")[:-1]:
        apply_record(state, json.loads(line))
    return state
