#!/bin/bash
# test-resilience-faults.sh: the cell's children and neighbours fail under a
# linked cell: wireguard-go killed (tunnel back within 5 s), dnsmasq
# restarted (the forwards are sent again), polkitd restarted (the next
# authorization works), the system bus restarted (pic-celld exits with status
# 0 and no sanitizer report; the next activation restores links and tunnel).
source "$(dirname "$0")/lib.sh"
source "$(dirname "$0")/cell-bus.sh"

cell=/org/pic/Cell1
a_addr=10.77.1.1
b_addr=10.77.2.1
CELL_KERNEL=$PIC_TOP/tests/tools/cell-kernel
REAPER=$PIC_TOP/tests/tools/reaper
rounds=${PIC_FAULT_ROUNDS:-3}
faults=0

lab up 2
a_lan=$(lab lan-addr a)
state_a=$(lab cell-dir a)/state/state.json
bus_log=$(lab cell-dir a)/log/bus.log

resolves_b() { # from a, through a's dnsmasq
        [[ $(cell_exec a dig +short +time=1 +tries=1 "@$a_addr" files.cellb.cell 2>/dev/null) == "$b_addr" ]]
}
tunnel_up() {
        cell_exec a ping -c 1 -W 1 "$b_addr" >/dev/null 2>&1
}
wireguard_go_pid() { # CELL
        local pid
        for pid in $(ip netns pids "${PIC_LAB_PREFIX:-pic-}$1"); do
                [[ $(cat "/proc/$pid/comm" 2>/dev/null) == wireguard-go ]] && echo "$pid"
        done
        return 0
}
# now_ms: for the recovery times printed as diagnostics.
now_ms() { echo $(( ${EPOCHREALTIME/./} / 1000 )); }

check "a imports b's invite" cell_call a $cell org.pic.Cell1 ImportInvite s "$(invite_of b)"
check "the cells are linked" wait_until 10 paired_and_connected a cellb
check "b's domain resolves from a" wait_until 5 resolves_b

# --- wireguard-go killed ---
for (( i = 1; i <= rounds; i++ )); do
        old=$(wireguard_go_pid a)
        kill -KILL $old
        faults=$((faults + 1))
        t0=$(now_ms)
        new_wg() { local p; p=$(wireguard_go_pid a); [[ -n $p && $p != "$old" ]]; }
        check "wireguard-go killed ($i/$rounds): a new one runs within 5 s" wait_until 5 new_wg
        check "wireguard-go killed ($i/$rounds): the tunnel is back within 5 s" wait_until 5 tunnel_up
        diag "tunnel back after $(( $(now_ms) - t0 )) ms"
        check "wireguard-go killed ($i/$rounds): the kernel is what the state implies" \
                wait_until 3 cell_exec a "$PY" "$CELL_KERNEL" check "$state_a"
done
check "b still sees a connected" wait_until 5 paired_and_connected b cella

# --- dnsmasq restarted: it forgets the forwards pic-celld gave it ---
for (( i = 1; i <= rounds; i++ )); do
        check "dnsmasq of a restarted ($i/$rounds)" lab restart a dnsmasq
        faults=$((faults + 1))
        t0=$(now_ms)
        check "dnsmasq restarted ($i/$rounds): b's domain resolves again within 5 s" wait_until 5 resolves_b
        diag "forwards back after $(( $(now_ms) - t0 )) ms"
done

# --- polkitd restarted: pic-celld's authorization queries go to the new one ---
for (( i = 1; i <= rounds; i++ )); do
        check "polkitd of a restarted ($i/$rounds)" lab restart a polkitd
        faults=$((faults + 1))
        # Alternating values, so that every call changes something and is authorized.
        if (( i % 2 )); then endpoint="$a_lan:51820"; else endpoint=auto; fi
        check "polkitd restarted ($i/$rounds): picadmin may Configure" \
                cell_call a as_user picadmin $cell org.pic.Cell1 Configure 'a{sv}' 1 Endpoint s "$endpoint"
        check "polkitd restarted ($i/$rounds): picuser still may not" \
                expect_dbus_error org.freedesktop.DBus.Error.AccessDenied \
                cell_call a as_user picuser $cell org.pic.Cell1 Configure 'a{sv}' 1 Endpoint s "$a_lan:51821"
done
check "picadmin may share with b after the polkit restarts" \
        cell_call a as_user picadmin "$(link_path cellb)" org.pic.Cell1.Link SetPermissions 'a{sb}' 1 files true

# --- the system bus restarted ---
# A bus started under the reaper hands it the services it activates, once their
# starter is gone, so that their exit status can be seen.
reaped=$(mktemp)
"$PY" "$REAPER" --max-seconds=120 "$reaped" -- "$PIC_LAB" restart a bus &
reaper_pid=$!
check "a's bus restarted once, under the reaper" wait_until 30 test -s "$reaped.cmd"
assert_eq "0" "$(cat "$reaped.cmd" 2>/dev/null)" "pic-lab restart a bus succeeded"
faults=$((faults + 1))
check "the next call activates pic-celld again" cell_get a Name
check "the link is back, paired and connected" wait_until 10 paired_and_connected a cellb
pid=$(daemon_pid a)
sanitizer_lines() { grep -cE 'ERROR: (Address|Leak)Sanitizer|runtime error:' "$bus_log" || true; }
reports_before=$(sanitizer_lines)
check "a's bus restarted again" lab restart a bus
faults=$((faults + 1))
reaped_daemon() { grep -E "^$pid pic-celld " "$reaped"; }
check "pic-celld (pid $pid) ended when its bus went away" wait_until 10 reaped_daemon
assert_eq "$pid pic-celld exited 0" "$(reaped_daemon)" "pic-celld exited with status 0"
assert_eq "$reports_before" "$(sanitizer_lines)" "no sanitizer report from pic-celld's exit"
assert_contains "$(cat "$bus_log")" "The system bus went away" "pic-celld said why it left"
kill -TERM "$reaper_pid" 2>/dev/null || true
wait "$reaper_pid" 2>/dev/null || true

t0=$(now_ms)
check "the next call activates pic-celld" cell_get a Name
check "the link object is back" output_is true link_get a cellb Paired
check "the tunnel works" wait_until 5 tunnel_up
diag "tunnel usable $(( $(now_ms) - t0 )) ms after the activation"
check "the link is Connected" wait_until 10 output_is true link_get a cellb Connected
check "b's domain resolves from a (the forwards went to the new dnsmasq)" wait_until 5 resolves_b
assert_eq '["files"]' "$(cell_prop a "$(link_path cellb)" org.pic.Cell1.Link Inbound |
        python3 -c 'import json,sys; print(json.dumps(sorted(k for k, v in json.load(sys.stdin).items() if v)))')" \
        "what a shares with b is unchanged"
check "a's kernel is what its state implies" cell_exec a "$PY" "$CELL_KERNEL" check "$state_a"
check "b still sees a connected" paired_and_connected b cella
outbound_b() {
        cell_exec b busctl --system --json=short get-property org.pic.Cell1 "$(link_path cella)" \
                org.pic.Cell1.Link Outbound | python3 -c 'import json,sys; print(str(json.load(sys.stdin)["data"].get("files", False)).lower())'
}
check "b sees what a shares" wait_until 10 output_is true outbound_b
diag "faults injected: $faults (wireguard-go killed $rounds, dnsmasq restarted $rounds, polkitd restarted $rounds, bus restarted 2)"
