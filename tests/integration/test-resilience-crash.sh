#!/bin/bash
# test-resilience-crash.sh: pic-celld killed with SIGKILL at seeded random
# moments in the middle of ImportInvite, SetPermissions, AddPeer, SetRouteVia,
# RemoveLink and RemovePeer; after every restart the state file parses,
# nothing is lost or duplicated, every call that returned is reflected, and
# the kernel is what the state implies. The linked cell ends up with what
# was shared with it, without help.
#
# PIC_CRASH_POINTS (default 50) and PIC_CRASH_SEED (default 1) choose the run;
# by hand, e.g. PIC_CRASH_POINTS=500 PIC_LAB_TIMEOUT=1800.
source "$(dirname "$0")/lib.sh"
source "$(dirname "$0")/cell-bus.sh"

points=${PIC_CRASH_POINTS:-50}
seed=${PIC_CRASH_SEED:-1}
cell=/org/pic/Cell1
CRASH_POINTS=$PIC_TOP/tests/tools/crash-points
CELL_KERNEL=$PIC_TOP/tests/tools/cell-kernel

lab up 2
check "a imports b's invite" cell_call a $cell org.pic.Cell1 ImportInvite s "$(invite_of b)"
check "the cells are linked" wait_until 10 paired_and_connected a cellb
check "b offers its exit to a" cell_call b "$(link_path cella)" org.pic.Cell1.Link SetExitOffered b true
check "a sees the offer" wait_until 5 output_is true link_get a cellb RemoteExitOffered
state_a=$(lab cell-dir a)/state/state.json
check "before any kill, a's kernel is what its state implies" cell_exec a "$PY" "$CELL_KERNEL" check "$state_a"
# The checker is not blind, and a restart repairs what was changed behind the
# service's back.
cell_exec a ip route del 10.77.2.0/24 dev wg0
cell_exec a nft flush chain inet pic_cell link_cellb
out=$(cell_exec a "$PY" "$CELL_KERNEL" check "$state_a") || true
assert_contains "$out" "routes (protocol 0xa7)" "the checker sees a route deleted by hand"
assert_contains "$out" "chain link_cellb" "and a chain flushed by hand"
check "kill -9 of a" kill_daemon a KILL
check "a comes back" cell_get a Name
check "the restart repaired both" cell_exec a "$PY" "$CELL_KERNEL" check "$state_a"

outbound_of_b() { # SERVICE: b's mirror of what a shares
        cell_exec b busctl --system --json=short get-property org.pic.Cell1 "$(link_path cella)" \
                org.pic.Cell1.Link Outbound | python3 -c 'import json,sys; print(str(json.load(sys.stdin)["data"].get(sys.argv[1], False)).lower())' "$1"
}

# Deterministic first: a push is in flight (b drops the sync port) when a is
# killed; after the restart, with b reachable again, b must learn the change.
cell_exec b nft -f - <<<'table inet restest { chain c { type filter hook input priority -10; tcp dport 51821 drop; }; }'
check "a shares mail with b while b's sync port drops everything" \
        cell_call a "$(link_path cellb)" org.pic.Cell1.Link SetPermissions 'a{sb}' 1 mail true
sleep 0.5
check "kill -9 of a while the push is in flight" kill_daemon a KILL
check "a comes back" cell_get a Name
cell_exec b nft delete table inet restest
check "within 10 s of the restart b sees what a shares (the push in flight was replayed)" \
        wait_until 10 output_is true outbound_of_b mail
check "a stops sharing mail again" \
        cell_call a "$(link_path cellb)" org.pic.Cell1.Link SetPermissions 'a{sb}' 1 mail false
check "and b sees that" wait_until 10 output_is false outbound_of_b mail

report=$(mktemp)
diag "seed $seed, $points kill points"
started=$SECONDS
if ! "$PY" "$CRASH_POINTS" --cell a --remote cellb --seed "$seed" --points "$points" >"$report" 2>"$report.log"; then
        diag "$(tail -n 40 "$report.log")"
        fatal "crash-points ran through"
fi

figure() {
        python3 -c '
import json, sys
r = json.load(open(sys.argv[1]))
v = r["figures"]
for k in sys.argv[2].split("."):
    v = v[k]
print(v if not isinstance(v, (dict, list)) else json.dumps(v, sort_keys=True))' "$report" "$1"
}
problems=$(python3 -c 'import json,sys; print("\n".join(json.load(open(sys.argv[1]))["problems"]))' "$report")

diag "the kill points took $(( SECONDS - started )) s"
made=$(figure points)
killed=$(figure killed_in_call)
before=$(figure ok_before_kill)
assert_eq "$points" "$made" "$points kill points were made"
diag "calls killed before they answered: $killed (their change kept: $(figure applied_uncertain), dropped: $(figure not_applied_uncertain)); answered before the kill: $before"
diag "by method: $(figure ops)"
diag "call times without a kill (us): $(figure call_us)"
diag "slowest restart: $(figure restart_max_s) s; restarts from a bare kernel: $(figure rebuilds); state.json.tmp left by a kill: $(figure leftover_tmp) times"
check "at least a quarter of the kills hit a call before it answered" test $(( killed * 4 )) -ge "$points"
check "at least one call answered before its kill" test "$before" -ge 1
assert_eq "0" "$(figure errors)" "no call failed with an error of its own"

state_problems() { grep -E "$1" <<<"$problems" || true; }
assert_eq "" "$(state_problems 'parse|corrupt')" "after every restart the saved state parses and was never set aside"
assert_eq "" "$(state_problems 'links are|peers are|duplicated|shares|has key')" \
        "after every restart no link or peer is lost or duplicated"
assert_eq "" "$(state_problems 'returned success')" "every call that returned success is reflected"
assert_eq "" "$(state_problems 'kernel differs from the state')" \
        "after every restart the kernel (wg, nft, ip rule, routes) equals what the state implies"
assert_eq "" "$(state_problems 'bare kernel')" \
        "the kernel after a kill equals what a restart on a bare kernel builds"
assert_eq "" "$(state_problems 'come back|answer|killed|bus-kill-call|calibration|SIGTERM')" \
        "pic-celld came back after every kill"
[[ -z $problems ]] || diag "$problems"

# The remote learns the latest state without help, over the replayed pushes.
remote_view() { # b's mirror of a: the services a shares, and a's peers leaving through b
        saved_state b | python3 -c '
import json, sys
s = json.load(sys.stdin)
l = next(l for l in s["links"] if l["cell_name"] == "cella")
print(json.dumps([sorted(k for k, v in l["outbound"].items() if v), sorted(l["remote_exit_sources"])]))'
}
local_view() {
        saved_state a | python3 -c '
import json, sys
s = json.load(sys.stdin)
l = next(l for l in s["links"] if l["cell_name"] == "cellb")
print(json.dumps([sorted(k for k, v in l["inbound"].items() if v),
                  sorted(p["address"] + "/32" for p in s["peers"] if p["route_via"] == "cellb")]))'
}
want=$(local_view)
check "within 15 s b's mirror of a equals a's state ($want)" wait_until 15 output_is "$want" remote_view
[[ $(remote_view) == "$want" ]] || diag "b has: $(remote_view)"
check "a's PushState to b is ok" wait_until 10 output_is ok link_get a cellb PushState
check "the tunnel to b works" cell_exec a ping -c 1 -W 2 10.77.2.1
check "a's kernel is what its state implies at the end" cell_exec a "$PY" "$CELL_KERNEL" check "$state_a"
# A clean stop must not report anything (ASan/LSan reports are caught by `lab down`).
check "a's pic-celld stops cleanly on SIGTERM" kill_daemon a TERM
