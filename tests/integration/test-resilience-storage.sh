#!/bin/bash
# test-resilience-storage.sh: the state directory fills up, then turns
# read-only: every change is refused with org.pic.Cell1.Error.Failed and a
# message that says why; the properties, the state file and the kernel stay
# as they were; once space returns (or the directory is writable again) the
# next call works and nothing was lost, across a restart too.
source "$(dirname "$0")/lib.sh"
source "$(dirname "$0")/cell-bus.sh"

cell=/org/pic/Cell1
CELL_KERNEL=$PIC_TOP/tests/tools/cell-kernel

lab up 2
dir=$(lab cell-dir a)
state_dir=$dir/state
a_lan=$(lab lan-addr a)

check "a imports b's invite" cell_call a $cell org.pic.Cell1 ImportInvite s "$(invite_of b)"
check "the cells are linked" wait_until 10 paired_and_connected a cellb
check "a shares files with b" cell_call a "$(link_path cellb)" org.pic.Cell1.Link SetPermissions 'a{sb}' 1 files true
check "a has a peer" cell_call a $cell org.pic.Cell1 AddPeer 'sa{sv}' phone 0

# Everything a caller or the kernel can see of cell a. The state directory is
# read as the service sees it: inside the cell, under the mounts made there.
observable() {
        cell_exec a busctl --system --json=short call org.pic.Cell1 $cell org.freedesktop.DBus.ObjectManager \
                GetManagedObjects | python3 -c '
import json, sys
objs = json.load(sys.stdin)["data"][0]
# What changes by itself (traffic, handshakes, pushes) is left out.
moving = {"LatestHandshake", "RxBytes", "TxBytes", "Connected", "LastPushAt", "PushState", "LastPushError",
          "LastRemoteUpdateAt"}
for path in sorted(objs):
    for iface in sorted(objs[path]):
        for prop, v in sorted(objs[path][iface].items()):
            if prop not in moving:
                print(path, iface, prop, json.dumps(v["data"], sort_keys=True))'
        cell_exec a "$PY" "$PIC_TOP/tests/tools/cell-state" "$state_dir/state.json" | python3 -c '
import json, sys
s = json.load(sys.stdin)
for l in s["links"]:
    for k in ("push_state", "last_push_at", "last_push_error", "last_remote_update_at", "push_seq", "remote_seq"):
        l.pop(k, None)
print(json.dumps(s, sort_keys=True))'
        cell_exec a "$PY" "$CELL_KERNEL" snapshot | grep -v "^  peer .* endpoint"
}

# A 64 KiB tmpfs over the state directory, inside cell a's mount namespace,
# with the state copied in.
check "a 64 KiB tmpfs replaces a's state directory" cell_exec a sh -ec "
        mkdir -p '$dir/state-copy'
        cp -a '$state_dir/.' '$dir/state-copy/'
        mount -t tmpfs -o size=64k,mode=0700 pic-state '$state_dir'
        cp -a '$dir/state-copy/.' '$state_dir/'"
check "pic-celld restarted on it" kill_daemon a TERM
check "pic-celld comes back" cell_get a Name
before=$(observable)
check "the state directory is filled up" cell_exec a sh -c "dd if=/dev/zero of='$state_dir/fill' bs=4k 2>/dev/null; test -s '$state_dir/fill'"

# refused DESC MESSAGE-PART CALL…: the call fails with Failed and its message
# contains MESSAGE-PART.
refused() {
        local desc=$1 part=$2; shift 2
        check "$desc: org.pic.Cell1.Error.Failed" expect_dbus_error org.pic.Cell1.Error.Failed "$@"
        assert_contains "$("$@" 2>&1)" "$part" "$desc: the message says '$part'"
}
refused "disk full: Configure" "No space left on device" \
        cell_call a $cell org.pic.Cell1 Configure 'a{sv}' 1 Endpoint s "$a_lan:51820"
message=$(cell_call a $cell org.pic.Cell1 Configure 'a{sv}' 1 Endpoint s "$a_lan:51820" 2>&1) || true
assert_contains "$message" "state.json" "disk full: the message names the state file"
diag "the admin reads: $message"
refused "disk full: SetPermissions" "No space left on device" \
        cell_call a "$(link_path cellb)" org.pic.Cell1.Link SetPermissions 'a{sb}' 1 webdav true
refused "disk full: AddPeer" "No space left on device" \
        cell_call a $cell org.pic.Cell1 AddPeer 'sa{sv}' laptop 0
refused "disk full: ImportInvite" "No space left on device" \
        cell_call a $cell org.pic.Cell1 ImportInvite s '{"version":1,"cell_name":"cellz","public_key":"AAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHh8=","endpoint":"172.31.77.250:51820","vpn_subnet":"10.99.0.0/24","dns_ip":"10.99.0.1","domain":"cellz.cell"}'
refused "disk full: RemovePeer" "No space left on device" \
        cell_call a $cell org.pic.Cell1 RemovePeer s phone
check "b shares calendar with a (a cannot keep it yet)" \
        cell_call b "$(link_path cella)" org.pic.Cell1.Link SetPermissions 'a{sb}' 1 calendar true
sleep 1
assert_eq "$before" "$(observable)" "disk full: properties, state file and kernel are unchanged"
assert_eq "" "$(cell_exec a ls "$state_dir" | grep -v -x -e state.json -e state.journal -e private.key -e fill)" \
        "disk full: no temporary file is left behind"

check "space returns" cell_exec a rm "$state_dir/fill"
check "the next Configure works" cell_call a $cell org.pic.Cell1 Configure 'a{sv}' 1 Endpoint s "$a_lan:51820"
check "the next SetPermissions works" \
        cell_call a "$(link_path cellb)" org.pic.Cell1.Link SetPermissions 'a{sb}' 1 webdav true
assert_eq "$a_lan:51820" "$(cell_get a Endpoint)" "the new endpoint is in effect"
calendar_from_b() {
        cell_prop a "$(link_path cellb)" org.pic.Cell1.Link Outbound |
                python3 -c 'import json,sys; print(str(json.load(sys.stdin).get("calendar", False)).lower())'
}
check "b's push that a could not keep lands later" wait_until 30 output_is true calendar_from_b
check "the peer is still there" cell_prop a /org/pic/Cell1/peer/phone org.pic.Cell1.Peer Name

# --- read-only ---
before=$(observable)
check "the state directory turns read-only" cell_exec a mount -o remount,ro "$state_dir"
refused "read-only: Configure" "Read-only file system" \
        cell_call a $cell org.pic.Cell1 Configure 'a{sv}' 1 Endpoint s auto
refused "read-only: SetPermissions" "Read-only file system" \
        cell_call a "$(link_path cellb)" org.pic.Cell1.Link SetPermissions 'a{sb}' 1 files false
refused "read-only: RemoveLink" "Read-only file system" \
        cell_call a $cell org.pic.Cell1 RemoveLink s cellb
assert_eq "$before" "$(observable)" "read-only: properties, state file and kernel are unchanged"
check "the state directory is writable again" cell_exec a mount -o remount,rw "$state_dir"
check "the next SetPermissions works" \
        cell_call a "$(link_path cellb)" org.pic.Cell1.Link SetPermissions 'a{sb}' 1 files false
after=$(observable)

# Nothing lost: a restart loads what the calls left.
check "kill -9 of a" kill_daemon a KILL
check "a comes back" cell_get a Name
assert_eq "$after" "$(observable)" "after a restart everything is as the calls left it"
shared() {
        cell_prop a "$(link_path cellb)" org.pic.Cell1.Link Inbound |
                python3 -c 'import json,sys; print(" ".join(sorted(k for k, v in json.load(sys.stdin).items() if v)))'
}
assert_eq "webdav" "$(shared)" "a shares exactly what the successful calls said"
check "a's kernel is what its state implies" cell_exec a "$PY" "$CELL_KERNEL" check "$state_dir/state.json"
