#!/bin/bash
# test-journal.sh: under a real systemd-journald, pic-celld's messages about a
# link carry journal fields, so that `journalctl CELL_LINK=cellb` shows that
# link's story and CELL_ERROR says what went wrong.
#
# The journald runs in the lab's own mount and PID namespaces (lab-run): its
# sockets and its volatile journal are in the private /run, and it ends with
# the test. Cell a's pic-celld is started through systemd-cat, as systemd
# would connect it: GLib then sees the journal on its stderr and sends every
# message with its fields. A cell has a /run of its own, in which the journal
# sockets are links to the lab's (hard links into the lab directory, which
# the cells see, and symbolic links from there).
source "$(dirname "$0")/lib.sh"
source "$(dirname "$0")/cell-bus.sh"

journald=
for f in /lib/systemd/systemd-journald /usr/lib/systemd/systemd-journald; do
        [[ -x $f ]] && { journald=$f; break; }
done
if [[ -z $journald ]] || ! command -v journalctl >/dev/null || ! command -v systemd-cat >/dev/null; then
        trap - EXIT
        echo "1..0 # SKIP systemd-journald, journalctl or systemd-cat is missing"
        exit 0
fi

journal=/run/log/journal
# Volatile whatever the host's journald.conf says: nothing of this run may
# reach the host's own journal.
mkdir -p /run/systemd/journald.conf.d "$journal"
printf '[Journal]\nStorage=volatile\n' >/run/systemd/journald.conf.d/50-lab.conf
"$journald" </dev/null >/dev/null 2>&1 &
journal_ready() { [[ -S /run/systemd/journal/socket && -S /run/systemd/journal/stdout ]]; }
check "systemd-journald runs in the lab" wait_until 10 journal_ready

lab up 2
lab_dir=${PIC_LAB_DIR:-/run/pic-lab}
mkdir -p "$lab_dir/journal"
ln /run/systemd/journal/socket /run/systemd/journal/stdout "$lab_dir/journal/"
check "cell a reaches the journal at its usual place" \
        cell_exec a bash -c 'mkdir -p /run/systemd/journal &&
                ln -s "$1/journal/socket" "$1/journal/stdout" /run/systemd/journal/' _ "$lab_dir"

# a's pic-celld from now on starts with its output connected to the journal.
check "a's pic-celld stops, to be started under systemd-cat" kill_daemon a TERM
service_a=$(lab cell-dir a)/services/org.pic.Cell1.service
exec_line=$(sed -n 's/^Exec=//p' "$service_a")
sed -i "s|^Exec=.*|Exec=$(command -v systemd-cat) --identifier=pic-celld $exec_line|" "$service_a"
cell_exec a busctl --system call org.freedesktop.DBus /org/freedesktop/DBus org.freedesktop.DBus ReloadConfig >/dev/null
check "a's pic-celld starts again" cell_get a Name

# journal_has FILTER… -- TEXT: an entry matching the journalctl filters
# whose MESSAGE contains TEXT.
journal_has() {
        local filters=()
        while [[ $1 != -- ]]; do
                filters+=("$1")
                shift
        done
        shift
        journalctl -D "$journal" --no-pager -o cat "${filters[@]}" 2>/dev/null | grep -qF -- "$1"
}
check "the start is in the journal" wait_until 10 journal_has _COMM=pic-celld -- "Cell cella (cella.cell) ready"

check "a imports b's invite" cell_call a /org/pic/Cell1 org.pic.Cell1 ImportInvite s "$(invite_of b)"
check "journalctl CELL_LINK=cellb shows b confirming the link" \
        wait_until 15 journal_has CELL_LINK=cellb -- "cellb confirmed the link"

# b's sync port drops: a's push fails, and says why in CELL_ERROR.
cell_exec b nft -f - <<<'table inet journal_test { chain c { type filter hook input priority -50; tcp dport 51821 drop; }; }'
check "a shares files while b does not answer" \
        cell_call a "$(link_path cellb)" org.pic.Cell1.Link SetPermissions 'a{sb}' 1 files true
check "journalctl CELL_LINK=cellb shows the failed push" wait_until 20 journal_has CELL_LINK=cellb -- "Push to cellb failed"
error_field() {
        journalctl -D "$journal" --no-pager -o json CELL_LINK=cellb 2>/dev/null | python3 -c '
import json, sys
for line in sys.stdin:
    entry = json.loads(line)
    if "Push to cellb failed" in entry.get("MESSAGE", "") and entry.get("CELL_ERROR"):
        print(entry["CELL_ERROR"])
        break'
}
check "the failed push carries CELL_ERROR" test -n "$(error_field)"
diag "CELL_ERROR=$(error_field)"
check "the message repeats the error" journal_has CELL_LINK=cellb -- "$(error_field)"
# Every message filed under a link names that link: none is mis-filed.
misfiled() {
        journalctl -D "$journal" --no-pager -o cat CELL_LINK=cellb 2>/dev/null | grep -vF cellb
}
check "every entry under CELL_LINK=cellb is about cellb" output_empty misfiled
cell_exec b nft delete table inet journal_test

# Road-warrior peers have their own field.
check "a adds a peer" cell_call a /org/pic/Cell1 org.pic.Cell1 AddPeer 'sa{sv}' phone 0
check "journalctl CELL_PEER=phone shows it" wait_until 10 journal_has CELL_PEER=phone -- "Peer phone added at"
check "a removes the peer" cell_call a /org/pic/Cell1 org.pic.Cell1 RemovePeer s phone
check "journalctl CELL_PEER=phone shows its removal" wait_until 10 journal_has CELL_PEER=phone -- "Peer phone removed"
