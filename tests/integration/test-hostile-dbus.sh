#!/bin/bash
# test-hostile-dbus.sh: every method of org.pic.Cell1 that takes a string or
# an array, fed strings of 1 MiB and up to the bus's own maximum message size,
# arrays of 100000 entries, keys of 1 MiB and deeply nested variants, by root
# (whom polkit never stops) and by an unprivileged user. Each call gets an
# org.pic.Cell1 error naming the argument, with a short message that quotes
# at most a bounded part of the value, within a short time; the service
# stays responsive, and nothing of the cell changes. Invalid UTF-8, embedded
# NUL bytes, messages past 32 MiB and variants nested past the protocol's
# depth never reach the service: the bus itself drops the sender.
source "$(dirname "$0")/lib.sh"
source "$(dirname "$0")/cell-bus.sh"

cell=/org/pic/Cell1
RAW_BUS=$PIC_TOP/tests/tools/raw-bus-call

lab up 2
check "a imports b's invite" cell_call a $cell org.pic.Cell1 ImportInvite s "$(invite_of b)"
check "the cells are linked" wait_until 10 paired_and_connected a cellb
check "a has a peer" cell_call a $cell org.pic.Cell1 AddPeer 'sa{sv}' phone 0
check "a's pushes to b are done" wait_until 10 output_is ok link_get a cellb PushState
check "b's pushes to a are done" wait_until 10 output_is ok link_get b cella PushState
link=$(link_path cellb)
peer=/org/pic/Cell1/peer/phone
pid=$(daemon_pid a)
bus_log=$(lab cell-dir a)/log/bus.log

before=$(cell_observable a)
name=$(cell_get a Name)

# What is wrong with raw-bus-call's output on stdin, if anything, given the
# expected error NAME (or "disconnected"), a TEXT its message must contain
# and the most seconds the answer may take. The message must be short.
answer_problem() {
        python3 -c '
import sys
name, text, most = sys.argv[1], sys.argv[2], float(sys.argv[3])
lines = sys.stdin.read().splitlines()
first = lines[0] if lines else ""
timing = [l.split() for l in lines if l.startswith("elapsed ")]
elapsed, size = (float(timing[0][1]), int(timing[0][2])) if timing else (-1.0, 0)
problems = []
if name == "disconnected":
    if not first.startswith("disconnected"):
        problems.append("expected the bus to drop the caller")
else:
    kind, _, rest = first.partition(" ")
    got, _, message = rest.partition(" ")
    if kind != "error" or got != name:
        problems.append("expected the error %s" % name)
    elif text not in message:
        problems.append("the message does not say %r" % text)
    if size > 512:
        problems.append("the message takes %d bytes" % size)
if not 0 <= elapsed <= most:
    problems.append("the answer took %.1f s" % elapsed)
print("; ".join(problems))' "$@"
}

responsive() {
        cell_exec a timeout 2 busctl --system get-property org.pic.Cell1 $cell org.pic.Cell1 Name >/dev/null 2>&1
}

# One call and what must come of it, as one TAP line; afterwards a must answer
# a property read within 2 s. CALL_AS (a user of the cell) and CALL_SECONDS
# (default 2) change how the call is made and how long it may take.
# refused DESC ERROR TEXT PATH INTERFACE METHOD [SIGNATURE ARG…]
refused() {
        local desc=$1 error=$2 text=$3; shift 3
        local who=() out problem
        [[ -z ${CALL_AS-} ]] || who=(as_user "$CALL_AS")
        out=$(cell_exec a "${who[@]}" "$RAW_BUS" --timeout "${CALL_SECONDS:-2}" org.pic.Cell1 "$@" 2>&1) || true
        problem=$(answer_problem "$error" "$text" "${CALL_SECONDS:-2}" <<<"$out")
        printf '%s s  %s\n' "$(sed -n 's/^elapsed \([0-9.]*\) .*/\1/p' <<<"$out")" "$desc" >>"$timings"
        responsive || problem+="${problem:+; }then a did not answer a property read within 2 s"
        report "$desc" "$problem" "$out"
}

report() { # DESC PROBLEM OUTPUT
        if [[ -z $2 ]]; then
                ok "$1"
        else
                not_ok "$1"
                diag "$2"
                diag "$(head -c 600 <<<"$3")"
        fi
}

mib='big(1 << 20)'
timings=$(mktemp)
invalid=org.pic.Cell1.Error.InvalidArgument
not_found=org.pic.Cell1.Error.NotFound

# --- org.pic.Cell1 ---

refused "ImportInvite of 1 MiB" org.pic.Cell1.Error.InvalidInvite "1048576 bytes long; an invite is at most 4096 bytes" \
        $cell org.pic.Cell1 ImportInvite s "$mib"
refused "ImportInvite of 1 MiB in the compact form" org.pic.Cell1.Error.InvalidInvite "an invite is at most 4096 bytes" \
        $cell org.pic.Cell1 ImportInvite s '"pic1:" + big(1 << 20, "QUFB")'
CALL_SECONDS=10 refused "ImportInvite of 32 MiB less 4 KiB, just under the bus's largest message" \
        org.pic.Cell1.Error.InvalidInvite "33550336 bytes long" $cell org.pic.Cell1 ImportInvite s 'big((32 << 20) - 4096)'
refused "ImportInvite of 32 MiB: the bus drops the caller (largest message 32 MiB)" disconnected "" \
        $cell org.pic.Cell1 ImportInvite s 'big(32 << 20)'
refused "ImportInvite with invalid UTF-8: the bus drops the caller" disconnected "" \
        $cell org.pic.Cell1 ImportInvite s 'b"{\"cell_name\": \"\xc3\x28\"}"'
refused "ImportInvite with an embedded NUL: the bus drops the caller" disconnected "" \
        $cell org.pic.Cell1 ImportInvite s 'b"pic1:abc\x00def"'
CALL_AS=picuser refused "ImportInvite of 1 MiB by an unprivileged user" org.pic.Cell1.Error.InvalidInvite \
        "an invite is at most 4096 bytes" $cell org.pic.Cell1 ImportInvite s "$mib"

refused "CreateInvite with 100000 options" "$invalid" "options: too many entries" \
        $cell org.pic.Cell1 CreateInvite 'a{sv}' '[("ttl", ("u", 60))] * 100000'
refused "CreateInvite with an option named by 1 MiB" "$invalid" "options: unknown key 'xxxxxxxx" \
        $cell org.pic.Cell1 CreateInvite 'a{sv}' "{$mib: (\"u\", 60)}"
refused "CreateInvite with a ttl of 1 MiB of text" "$invalid" "'ttl' must be seconds as u, not 's'" \
        $cell org.pic.Cell1 CreateInvite 'a{sv}' "{\"ttl\": (\"s\", $mib)}"
nest() { python3 -c 'import sys; d = int(sys.argv[1]); print("{\"ttl\": " + "(\"v\", " * d + "(\"u\", 60)" + ")" * d + "}")' "$1"; }
refused "CreateInvite with a ttl in 32 nested variants" "$invalid" "'ttl' must be seconds as u, not 'v'" \
        $cell org.pic.Cell1 CreateInvite 'a{sv}' "$(nest 32)"
refused "CreateInvite with a ttl in 100 nested variants: the bus drops the caller" disconnected "" \
        $cell org.pic.Cell1 CreateInvite 'a{sv}' "$(nest 100)"

refused "RemoveLink of a 1 MiB name" "$not_found" "no link to a cell named 'xxxxxxxx" \
        $cell org.pic.Cell1 RemoveLink s "$mib"
refused "AddPeer with a 1 MiB name" "$invalid" "name: 1048576 bytes is longer than the 4096 allowed" \
        $cell org.pic.Cell1 AddPeer 'sa{sv}' "$mib" '{}'
refused "AddPeer with a 1 MiB public key" "$invalid" "public_key: Invalid WireGuard key \"xxxxxxxx" \
        $cell org.pic.Cell1 AddPeer 'sa{sv}' '"p2"' "{\"public_key\": (\"s\", $mib)}"
refused "AddPeer with 100000 options" "$invalid" "options: too many entries" \
        $cell org.pic.Cell1 AddPeer 'sa{sv}' '"p2"' '[("full_tunnel", ("b", True))] * 100000'
refused "AddPeer with an option named by 1 MiB" "$invalid" "options: 'xxxxxxxx" \
        $cell org.pic.Cell1 AddPeer 'sa{sv}' '"p2"' "{$mib: (\"b\", True)}"
refused "RemovePeer of a 1 MiB name" "$not_found" "no peer named 'xxxxxxxx" \
        $cell org.pic.Cell1 RemovePeer s "$mib"
refused "Configure with a 1 MiB Name" "$invalid" "Name: 1048576 bytes is longer than the 4096 allowed" \
        $cell org.pic.Cell1 Configure 'a{sv}' "{\"Name\": (\"s\", $mib)}"
refused "Configure with a Domain of 4096 bytes" "$invalid" "Domain: domain 'a.a.a.a." \
        $cell org.pic.Cell1 Configure 'a{sv}' '{"Domain": ("s", big(4096, "a."))}'
refused "Configure with a key of 1 MiB" "$invalid" "settings: unknown key 'xxxxxxxx" \
        $cell org.pic.Cell1 Configure 'a{sv}' "{$mib: (\"s\", \"x\")}"
refused "SetService with a 1 MiB name" "$invalid" "name: 1048576 bytes is longer than the 4096 allowed" \
        $cell org.pic.Cell1 SetService 'ssa(sq)' "$mib" '"10.77.1.1"' '[]'
refused "SetService with a 1 MiB address" "$invalid" "address: 1048576 bytes is longer than the 4096 allowed" \
        $cell org.pic.Cell1 SetService 'ssa(sq)' '"svc"' "$mib" '[]'
refused "SetService with 100000 ports" "$invalid" "ports: more than 32 ports" \
        $cell org.pic.Cell1 SetService 'ssa(sq)' '"svc"' '"10.77.1.1"' '[("tcp", 1)] * 100000'
refused "SetService with a 1 MiB protocol" "$invalid" "protocol 'xxxxxxxx" \
        $cell org.pic.Cell1 SetService 'ssa(sq)' '"svc"' '"10.77.1.1"' "[($mib, 1)]"
refused "RemoveService of a 1 MiB name" "$not_found" "no service named 'xxxxxxxx" \
        $cell org.pic.Cell1 RemoveService s "$mib"

# --- org.pic.Cell1.Link and org.pic.Cell1.Peer ---

refused "SetPermissions with 100000 services" "$invalid" "inbound: more than 64 entries" \
        "$link" org.pic.Cell1.Link SetPermissions 'a{sb}' '{"s%d" % i: True for i in range(100000)}'
refused "SetPermissions with a 1 MiB service name" "$invalid" "inbound: 1048576 bytes is longer than the 4096 allowed" \
        "$link" org.pic.Cell1.Link SetPermissions 'a{sb}' "{$mib: True}"
CALL_AS=picuser refused "SetPermissions with 100000 services by an unprivileged user" "$invalid" \
        "inbound: more than 64 entries" "$link" org.pic.Cell1.Link SetPermissions 'a{sb}' '{"s%d" % i: True for i in range(100000)}'
refused "SetRouteVia with a 1 MiB cell name" "$invalid" "cell: 1048576 bytes is longer than the 4096 allowed" \
        "$peer" org.pic.Cell1.Peer SetRouteVia s "$mib"

# --- repeated keys, long quotes, cut characters ---

# A key given twice is refused, so a dictionary's limit counts its entries.
# The values here are the current ones, so that nothing would change either way.
refused "Configure with one key given 100000 times" "$invalid" "settings: 'Name' is given more than once" \
        $cell org.pic.Cell1 Configure 'a{sv}' "[(\"Name\", (\"s\", \"$name\"))] * 100000"
refused "SetPermissions with one service given 100000 times" "$invalid" "inbound: 'files' is given more than once" \
        "$link" org.pic.Cell1.Link SetPermissions 'a{sb}' '[("files", False)] * 100000'
# Messages quote at most 64 bytes of a caller's value.
refused "SetPermissions with an unknown service of 4096 bytes" "$invalid" "no service named 'xxxxxxxx" \
        "$link" org.pic.Cell1.Link SetPermissions 'a{sb}' '{big(4096): True}'
refused "SetRouteVia to an unknown cell of 4096 bytes" "$not_found" "no link to a cell named 'xxxxxxxx" \
        "$peer" org.pic.Cell1.Peer SetRouteVia s 'big(4096)'
# A quote never cuts a UTF-8 character in two (sd-bus could not send such an error).
refused "RemoveLink of 63 ASCII bytes and an 'é'" "$not_found" "no link to a cell named" \
        $cell org.pic.Cell1 RemoveLink s '"x" * 63 + "é"'
refused "Configure with a key of 63 ASCII bytes and an 'é'" "$invalid" "unknown key" \
        $cell org.pic.Cell1 Configure 'a{sv}' '{"x" * 63 + "é": ("s", "x")}'
refused "SetService with a protocol of 'tcp' and ten 'é'" "$invalid" "is neither 'tcp' nor 'udp'" \
        $cell org.pic.Cell1 SetService 'ssa(sq)' '"svc"' '"10.77.1.1"' '[("tcp" + "é" * 10, 1)]'

diag "slowest answers:"
diag "$(sort -rn "$timings" | head -n 3)"
rm -f "$timings"

# --- afterwards ---

assert_eq "$before" "$(cell_observable a)" "none of it changed a's objects, state file or kernel"
assert_eq "$pid" "$(daemon_pid a)" "a's pic-celld is the same process (it never restarted)"
assert_eq "0" "$(grep -cE 'ERROR: (Address|Leak)Sanitizer|runtime error:' "$bus_log" || true)" \
        "no sanitizer report from a's pic-celld"
check "a still changes what it shares" cell_call a "$link" org.pic.Cell1.Link SetPermissions 'a{sb}' 1 files true
outbound_files() {
        link_get b cella Outbound | python3 -c 'import json, sys; print(str(json.load(sys.stdin).get("files", False)).lower())'
}
check "and b hears of it within 5 s" wait_until 5 output_is true outbound_files
