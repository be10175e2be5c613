#!/bin/bash
# test-hostile-http.sh: the peer-sync server of a running pic-celld against
# hostile requests, from a stranger on the LAN and from a linked cell through
# the tunnel: bodies too large (announced or chunked), heads too large, bodies
# cut short, senders that trickle or stall, request lines that are not HTTP,
# bodies that are not UTF-8, not JSON, nested 60000 deep or holding arrays
# past the limits. Each gets an HTTP error whose JSON names the problem, or
# is closed by the time-outs; meanwhile honest requests and D-Bus calls are
# answered, and afterwards nothing of the cell has changed and a real push
# still lands.
source "$(dirname "$0")/lib.sh"
source "$(dirname "$0")/cell-bus.sh"

cell=/org/pic/Cell1
RAW_HTTP=$PIC_TOP/tests/tools/raw-http
SYNC_REQUEST=$PIC_TOP/tests/tools/sync-request
a_addr=10.77.1.1
b_addr=10.77.2.1
permissions=/api/cells/peer-sync/permissions
accept=/api/cells/peer-sync/accept-invite
inet_ns=${PIC_LAB_PREFIX:-pic-}inet

lab up 2
a_lan=$(lab lan-addr a)
check "a imports b's invite" cell_call a $cell org.pic.Cell1 ImportInvite s "$(invite_of b)"
check "the cells are linked" wait_until 10 paired_and_connected a cellb
check "b sees a linked" wait_until 10 paired_and_connected b cella
check "a's pushes to b are done" wait_until 10 output_is ok link_get a cellb PushState
check "b's pushes to a are done" wait_until 10 output_is ok link_get b cella PushState
b_key=$(cell_get b PublicKey)
pid=$(daemon_pid a)
bus_log=$(lab cell-dir a)/log/bus.log

before=$(cell_observable a)

# The bytes of a Python expression, for a body.
gen() {
        python3 -c 'import sys; sys.stdout.buffer.write(eval(sys.argv[1]))' "$1"
}

# A stranger on the LAN (the lab's "internet" host) posting to a's LAN address.
from_lan() {
        ip netns exec "$inet_ns" "$RAW_HTTP" "$a_lan:51821" --path "$accept" "$@"
}
# Cell b posting through the tunnel, from its tunnel address.
from_b() {
        cell_exec b "$RAW_HTTP" "$a_addr:51821" --source "$b_addr" "$@"
}

# What is wrong with raw-http's output on stdin, if anything, given the
# expected STATUS, a TEXT the JSON error must contain, and the most seconds
# the answer may take. The error must be short: it may quote the request,
# but only a bounded part of it.
answer_problem() {
        python3 -c '
import json, sys
status, text, most = sys.argv[1], sys.argv[2], float(sys.argv[3])
lines = sys.stdin.read().splitlines()
first = lines[0] if lines else ""
timing = [l.split() for l in lines if l.startswith("elapsed ")]
elapsed = float(timing[0][1]) if timing else -1.0
got, _, body = first.partition(" ")
problems = []
if got != status:
    problems.append("status %s, expected %s" % (got or "none", status))
else:
    try:
        error = json.loads(body)["error"]
        if text not in error:
            problems.append("the error does not say %r" % text)
        if len(body.encode()) > 1024:
            problems.append("the answer takes %d bytes" % len(body.encode()))
    except (ValueError, KeyError, TypeError):
        problems.append("the body is not a JSON error")
if not 0 <= elapsed <= most:
    problems.append("the answer took %.1f s" % elapsed)
print("; ".join(problems))' "$@"
}

# expect_answer DESC STATUS TEXT CMD…: CMD (a raw-http run) is answered
# within 2 s with STATUS and a JSON error containing TEXT.
expect_answer() {
        local desc=$1 status=$2 text=$3; shift 3
        local out problem
        out=$("$@" 2>&1) || true
        problem=$(answer_problem "$status" "$text" 2 <<<"$out")
        if [[ -z $problem ]]; then
                ok "$desc"
        else
                not_ok "$desc"
                diag "$problem"
                diag "$(head -c 600 <<<"$out")"
        fi
}

# closed_between MIN MAX: raw-http's output on stdin says the server closed
# the connection, without an answer, between MIN and MAX seconds in.
closed_between() {
        local out first elapsed
        out=$(cat)
        first=${out%%$'\n'*}
        elapsed=$(sed -n 's/^elapsed \([0-9.]*\) .*/\1/p' <<<"$out")
        if [[ $first != "0 closed after"* ]] || ! python3 -c 'import sys; sys.exit(not float(sys.argv[2]) <= float(sys.argv[1]) <= float(sys.argv[3]))' "${elapsed:--1}" "$1" "$2"; then
                echo "expected a close between $1 and $2 s; got: $out" >&2
                return 1
        fi
}

# --- slow and stalled senders, left running while the rest goes on ---

slow_dir=$(mktemp -d)
honest_body=$(printf '{"from_cell": "cellb", "from_public_key": "%s", "seq": 1, "inbound": {}, "exit_offered": false, "use_as_exit_relay": false, "exit_sources": []}' "$b_key")
slow_start=${EPOCHREALTIME/./}
from_b --body "$honest_body" --byte-delay 1 --timeout 30 >"$slow_dir/trickle" 2>&1 &
slow_pids=($!)
from_b --body "$honest_body" --send 40 --timeout 30 >"$slow_dir/stalled-head" 2>&1 &
slow_pids+=($!)
from_lan --send 0 --timeout 30 >"$slow_dir/silent" 2>&1 &
slow_pids+=($!)
from_b --body "$honest_body" --content-length 4000 --timeout 30 >"$slow_dir/short-body" 2>&1 &
slow_pids+=($!)

# --- the HTTP layer, from a stranger on the LAN ---

mib='b"x" * (1 << 20)'
expect_answer "1 MiB body with its Content-Length: 413 before the body is read" 413 \
        "1048576 bytes, more than the limit of 65536 bytes" from_lan --body-file - < <(gen "$mib")
expect_answer "1 MiB body, chunked: 413 once it passes the limit" 413 \
        "larger than the limit of 65536 bytes" from_lan --chunked --body-file - < <(gen "$mib")
expect_answer "a POST without Content-Length or chunks has no body: 400" 400 \
        "the request has no body" from_lan --content-length none
expect_answer "12 KiB of headers: 431 with their size" 431 \
        "more than the limit of 8192 bytes" from_lan --header-bytes 12000 --body '{}'
expect_answer "1 MiB of headers: 431 before libsoup buffers them" 431 \
        "the limit is 8192 bytes" from_lan --header-bytes 1048576 --body '{}'
expect_answer "a request line that is not HTTP: 400" 400 \
        "malformed HTTP request" from_lan --method $'\x16\x03\x01' --body '{}'
expect_answer "a 6 KiB path: 404 quoting a bounded part of it" 404 \
        "there is no peer-sync endpoint at" from_lan --path "/api/$(python3 -c 'print("x%C3%A9" * 900)')" --body '{}'
expect_answer "GET with a body: 405" 405 "use POST" from_lan --method GET --body '{}'
expect_answer "100000 '[' (over the size limit): 413" 413 \
        "more than the limit of 65536 bytes" from_lan --body-file - < <(gen 'b"[" * 100000')
expect_answer "60000 '[' to accept-invite: 400, not a stack overflow" 400 \
        "nested too deeply" from_lan --body-file - < <(gen 'b"[" * 60000 + b"]" * 1000')
expect_answer "a non-UTF-8 accept-invite: 400" 400 \
        "not UTF-8" from_lan --body-file - < <(gen 'b"{\"invite\": {\"cell_name\": \"\xc3\x28\"}}"')
out=$(from_lan --content-length 5000 --body '{"invite": {' --then half-close --timeout 10 2>&1) || true
check "a body cut short by the sender closing: the connection is closed at once" closed_between 0 2 <<<"$out"

# --- the request bodies, from linked cell b through the tunnel ---

expect_answer "invalid UTF-8 from b: 400" 400 "not UTF-8" \
        from_b --body-file - < <(gen 'b"{\"from_public_key\": \"" + b"\xff\xfe" * 8 + b"\", \"seq\": 5}"')
expect_answer "an embedded NUL from b: 400" 400 "not UTF-8" \
        from_b --body-file - < <(gen 'b"{\"from_public_key\": \"ab\x00cd\"}"')
expect_answer "60000 '[' from b: 400" 400 "nested too deeply" from_b --body-file - < <(gen 'b"[" * 60000')
expect_answer "objects nested 10000 deep from b: 400" 400 "nested too deeply" \
        from_b --body-file - < <(gen 'b"{\"a\":" * 10000 + b"1" + b"}" * 10000')
expect_answer "invalid JSON from b: 400 naming the byte" 400 "not valid JSON: " \
        from_b --body '{"from_public_key": tru}'
expect_answer "a form instead of JSON (the content type is not believed): 400" 400 "not valid JSON" \
        from_b --content-type application/x-www-form-urlencoded --body "from_public_key=$b_key&seq=9"
fields() { # JSON of a permissions push from b with these members changed
        python3 -c '
import json, sys
body = {"from_cell": "cellb", "from_public_key": sys.argv[1], "seq": 10**12, "inbound": {},
        "exit_offered": False, "use_as_exit_relay": False, "exit_sources": []}
body.update(eval(sys.argv[2]))
print(json.dumps(body))' "$b_key" "$1"
}
expect_answer "3000 exit sources from b: 400" 400 "exit_sources: too many entries" \
        from_b --body "$(fields '{"exit_sources": ["10.77.2.%d/32" % (i % 250) for i in range(3000)]}')"
expect_answer "2000 shared services from b: 400" 400 "inbound: too many services" \
        from_b --body "$(fields '{"inbound": {"s%d" % i: True for i in range(2000)}}')"
expect_answer "a 40000-character service name from b: 400" 400 "inbound: every entry must be a service name" \
        from_b --body "$(fields '{"inbound": {"f" * 40000: True}}')"
expect_answer "seq 2^70 from b: 400" 400 '"seq" (positive integer)' from_b --body "$(fields '{"seq": 2**70}')"
expect_answer "an update whose cell_name has 50000 characters: 400 quoting 64 of them" 400 "is 50000 characters long" \
        from_b --path /api/cells/peer-sync/update --body "$(python3 -c '
import json, sys
print(json.dumps({"version": 1, "cell_name": "x" * 50000, "public_key": sys.argv[1], "endpoint": "172.31.77.12:51820",
                  "vpn_subnet": "10.77.2.0/24", "dns_ip": "10.77.2.1", "domain": "cellb.cell"}))' "$b_key")"

responsive() {
        cell_exec a timeout 2 busctl --system get-property org.pic.Cell1 $cell org.pic.Cell1 Name
}
check "a answers D-Bus within 2 s" responsive
assert_eq "$before" "$(cell_observable a)" "none of it changed a's objects, state file or kernel"

# --- while the slow senders still hold their connections ---

out=$(cell_exec b "$SYNC_REQUEST" "$a_addr:51821" "$permissions" --source "$b_addr" --timeout 2 --body "$honest_body")
assert_eq '200 {"status":"stale"}' "$out" "meanwhile an honest push from b is answered"
out=$(ip netns exec "$inet_ns" "$SYNC_REQUEST" "$a_lan:51821" "$accept" --timeout 2 --body '{}')
assert_contains "$out" '400 {"error":"the body needs' "meanwhile a stranger's request is answered"
check "meanwhile a answers D-Bus within 2 s" responsive
running=0
for p in "${slow_pids[@]}"; do
        kill -0 "$p" 2>/dev/null && running=$((running + 1))
done
assert_eq "4" "$running" "the four slow connections were open all along ($(( (${EPOCHREALTIME/./} - slow_start) / 1000 )) ms in)"

wait "${slow_pids[@]}" || true
check "a sender that stalls in the head is closed by the idle time-out (10 s)" closed_between 9 13 <"$slow_dir/stalled-head"
check "a client that connects and says nothing is closed by the idle time-out" closed_between 9 13 <"$slow_dir/silent"
check "a body shorter than its Content-Length is closed by the idle time-out" closed_between 9 13 <"$slow_dir/short-body"
check "one byte per second is cut off by the request deadline (15 s)" closed_between 14 18 <"$slow_dir/trickle"
diag "closed after: stalled head $(sed -n 's/^elapsed \([0-9.]*\).*/\1/p' "$slow_dir/stalled-head") s," \
        "silent $(sed -n 's/^elapsed \([0-9.]*\).*/\1/p' "$slow_dir/silent") s," \
        "short body $(sed -n 's/^elapsed \([0-9.]*\).*/\1/p' "$slow_dir/short-body") s," \
        "trickle $(sed -n 's/^elapsed \([0-9.]*\).*/\1/p' "$slow_dir/trickle") s"
rm -rf "$slow_dir"

# --- afterwards ---

assert_eq "$before" "$(cell_observable a)" "after the slow senders a is still unchanged"
assert_eq "$pid" "$(daemon_pid a)" "a's pic-celld is the same process (it never restarted)"
assert_eq "0" "$(grep -cE 'ERROR: (Address|Leak)Sanitizer|runtime error:' "$bus_log" || true)" \
        "no sanitizer report from a's pic-celld"
check "b shares files with a" cell_call b "$(link_path cella)" org.pic.Cell1.Link SetPermissions 'a{sb}' 1 files true
outbound_files() {
        link_get a cellb Outbound | python3 -c 'import json, sys; print(str(json.load(sys.stdin).get("files", False)).lower())'
}
check "b's push reaches a within 5 s" wait_until 5 output_is true outbound_files
check "and b's PushState is ok" wait_until 5 output_is ok link_get b cella PushState
