#!/bin/bash
# test-resilience-offline.sh: the linked cell goes dark (its pic-celld stopped
# and its WireGuard and sync ports dropped) while this cell keeps changing what
# it shares: the pushes stay pending, retried with a bounded backoff, and
# everything converges once the other cell is back, with no restart on
# either side.
#
# The week b stays dark is simulated, not waited for: a's pic-celld runs under
# libfaketime, whose offset the test moves forward while b is dark (the wall
# clock only: timers and backoff run on the monotonic clock, left alone) and
# back when b returns, since wireguard-go's handshake times cannot be moved.
#
# PIC_OFFLINE_SECONDS (default 15) is how long cell b stays dark in real time.
source "$(dirname "$0")/lib.sh"
source "$(dirname "$0")/cell-bus.sh"

cell=/org/pic/Cell1
b_addr=10.77.2.1
dark=${PIC_OFFLINE_SECONDS:-15}

lab up 2
bus_log_a=$(lab cell-dir a)/log/bus.log
state_a=$(lab cell-dir a)/state/state.json

# a's pic-celld from now on runs with a clock the test can move.
faketime_lib=$(find /usr/lib -path '*/faketime/libfaketime.so.1' -print -quit)
[[ -n $faketime_lib ]] || fatal "libfaketime is not installed (tests/lab/packages lists it)"
clock_a=$(lab cell-dir a)/clock-offset
echo "+0" >"$clock_a"
asan_options=$(tr '\0' '\n' <"/proc/$(daemon_pid a)/environ" | sed -n 's/^ASAN_OPTIONS=//p')
check "a's pic-celld stops, to be started again on the moveable clock" kill_daemon a TERM
service_a=$(lab cell-dir a)/services/org.pic.Cell1.service
exec_line=$(sed -n 's/^Exec=//p' "$service_a")
# libfaketime comes first in the process, so AddressSanitizer must not insist on being first.
sed -i "s|^Exec=.*|Exec=/usr/bin/env LD_PRELOAD=$faketime_lib FAKETIME_TIMESTAMP_FILE=$clock_a FAKETIME_NO_CACHE=1 FAKETIME_DONT_FAKE_MONOTONIC=1 ASAN_OPTIONS=${asan_options:+$asan_options:}verify_asan_link_order=0 $exec_line|" "$service_a"
cell_exec a busctl --system call org.freedesktop.DBus /org/freedesktop/DBus org.freedesktop.DBus ReloadConfig >/dev/null
check "a's pic-celld starts on it" cell_get a Name
starts_before=$(grep -c 'ready on the bus' "$bus_log_a")
faked() { grep -q "^FAKETIME_TIMESTAMP_FILE=" <(tr '\0' '\n' <"/proc/$(daemon_pid a)/environ"); }
check "and runs with libfaketime" faked

shared_by_a() { # the services a shares with b, from a's state file
        saved_state a | python3 -c '
import json, sys
s = json.load(sys.stdin)
l = next(l for l in s["links"] if l["cell_name"] == "cellb")
print(" ".join(sorted(k for k, v in l["inbound"].items() if v)))'
}
mirrored_by_b() { # what b believes a shares with it (asks b's pic-celld: only once b is back)
        cell_exec b busctl --system --json=short get-property org.pic.Cell1 "$(link_path cella)" \
                org.pic.Cell1.Link Outbound |
                python3 -c 'import json,sys; print(" ".join(sorted(k for k, v in json.load(sys.stdin)["data"].items() if v)))'
}
share() { # SERVICE true|false
        cell_call a "$(link_path cellb)" org.pic.Cell1.Link SetPermissions 'a{sb}' 1 "$1" "$2"
}
push_failures() { # lines of a's log saying a push to cellb failed
        grep -c "Push to cellb failed" "$bus_log_a" || true
}

check "a imports b's invite" cell_call a $cell org.pic.Cell1 ImportInvite s "$(invite_of b)"
check "the cells are linked" wait_until 10 paired_and_connected a cellb
check "a shares files" share files true
check "b sees it" wait_until 5 output_is files mirrored_by_b

# --- a short outage of b's sync port, with a change made while a push waits ---
# b drops its sync port; the push of the first change waits for an answer
# (TCP retries); the second change comes meanwhile; b answers again before the
# push gives up. b must end up with both changes.
cell_exec b nft -f - <<<'table inet resilience_sync { chain c { type filter hook input priority -50; tcp dport 51821 drop; }; }'
check "a shares calendar while b's sync port drops" share calendar true
sleep 0.5
check "a shares mail while that push waits" share mail true
sleep 1
cell_exec b nft delete table inet resilience_sync
check "within 8 s b mirrors both changes" wait_until 8 output_is "calendar files mail" mirrored_by_b
[[ $(mirrored_by_b) == "calendar files mail" ]] || diag "b mirrors: '$(mirrored_by_b)'"
check "a's next change brings b up to date" share mail false
check "b mirrors what a shares" wait_until 10 output_is "calendar files" mirrored_by_b

# --- b goes dark: its service stopped, its WireGuard and sync ports dropped ---
check "b's pic-celld stops" kill_daemon b TERM
check "b drops its WireGuard and sync traffic" cell_exec b nft -f - <<'NFT'
table inet resilience_dark {
        chain input {
                type filter hook input priority -50; policy accept;
                udp dport 51820 drop
                tcp dport 51821 drop
        }
}
NFT
failures_before=$(push_failures)
dark_started=$SECONDS
check "a stops sharing files while b is dark" share files false
check "a stops sharing calendar" share calendar false
check "a shares mail" share mail true
check "a offers its exit to b" cell_call a "$(link_path cellb)" org.pic.Cell1.Link SetExitOffered b true
check "a's PushState to b turns pending" wait_until 10 output_is pending link_get a cellb PushState
last_error_names_b() { [[ $(link_get a cellb LastPushError) == *cellb* ]]; }
# The change is "pending" in the same save that makes it; the error comes with the first failed try.
check "LastPushError names the cell once a try has failed" wait_until 10 last_error_names_b
# A last change in the middle of the dark stretch: only the latest state counts.
sleep $(( dark / 2 ))
check "a shares webdav" share webdav true
pending_throughout=true
while (( SECONDS - dark_started < dark )); do
        [[ $(link_get a cellb PushState) == pending ]] || pending_throughout=false
        sleep 1
done
assert_eq true "$pending_throughout" "PushState stays pending while b is dark"
attempts=$(( $(push_failures) - failures_before ))
diag "failed pushes to b in ${dark} s of darkness: $attempts"
diag "their times: $(grep "Push to cellb failed" "$bus_log_a" | tail -n "$attempts" | awk '{print $2}' | tr -d : | tr '\n' ' ')"
# One push costs up to 5 s without an answer, then waits 1, 2, 4 … 60 s (with
# jitter) before the next: a handful in 15 s, not a stream.
check "the pushes are retried ($attempts)" test "$attempts" -ge 1
check "with backoff: at most $(( dark / 2 )) attempts in ${dark} s ($attempts)" test "$attempts" -le $(( dark / 2 ))
age=$(( $(date +%s) - $(link_get a cellb LatestHandshake) ))
diag "a's last handshake with b is ${age} s old; Connected=$(link_get a cellb Connected)"
# A week passes for a.
echo "+7d" >"$clock_a"
check "a week without a handshake, a shows the link as not connected" wait_until 10 output_is false link_get a cellb Connected
check "the push is still pending" output_is pending link_get a cellb PushState
failures_in_week=$(push_failures)
sleep 4
check "and still retried at the same bounded pace (no burst from the jump)" \
        test $(( $(push_failures) - failures_in_week )) -le 2
echo "+0" >"$clock_a"

# --- b returns: rules gone, its service started by the next call on its bus ---
check "b accepts traffic again" cell_exec b nft delete table inet resilience_dark
back_at=$SECONDS
check "b's pic-celld starts again" cell_get b Name
want=$(shared_by_a)
# The last change may be made while a push waits (see above): then b only
# learns it from a's next change.
check "within 20 s b mirrors what a shares now ($want)" wait_until 20 output_is "$want" mirrored_by_b
if [[ $(mirrored_by_b) == "$want" ]]; then
        diag "b had converged $(( SECONDS - back_at )) s after it came back"
else
        diag "b mirrors: '$(mirrored_by_b)'"
        diag "b's state of the link: $(saved_state b | python3 -c 'import json,sys; print(json.dumps(json.load(sys.stdin)["links"]))')"
fi
check "b sees a's exit offer" wait_until 5 output_is true link_get b cella RemoteExitOffered
check "a's PushState is ok again" wait_until 10 output_is ok link_get a cellb PushState
check "both links are connected" wait_until 10 paired_and_connected a cellb
check "and from b" wait_until 10 paired_and_connected b cella
check "the tunnel works" cell_exec a ping -c 1 -W 2 "$b_addr"
check "b shares files with a" \
        cell_call b "$(link_path cella)" org.pic.Cell1.Link SetPermissions 'a{sb}' 1 files true
outbound_a() {
        cell_exec a busctl --system --json=short get-property org.pic.Cell1 "$(link_path cellb)" \
                org.pic.Cell1.Link Outbound | python3 -c 'import json,sys; print(str(json.load(sys.stdin)["data"].get("files", False)).lower())'
}
check "a sees it within 5 s" wait_until 5 output_is true outbound_a
assert_contains "$(cat "$bus_log_a")" "Cell cella (cella.cell) ready" "a's log shows its start"
assert_eq "$starts_before" "$(grep -c 'ready on the bus' "$bus_log_a")" "a's pic-celld never restarted"
