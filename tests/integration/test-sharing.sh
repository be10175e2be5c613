#!/bin/bash
# test-sharing.sh: what a cell shares with a linked cell is what the kernel
# lets through; the other side sees it mirrored; forged pushes are refused;
# pushes wait for an offline cell; foreign nftables state is never touched;
# one toggle among many links touches one set and no rule.
source "$(dirname "$0")/lib.sh"
source "$(dirname "$0")/cell-bus.sh"

SYNC_REQUEST=$PIC_TOP/tests/tools/sync-request
cell=/org/pic/Cell1
a_addr=10.77.1.1
b_addr=10.77.2.1

# The service starts only when first called, after the foreign table exists.
PIC_LAB_START_DAEMON=0 lab up 2
foreign='table inet foreign { chain c { type filter hook input priority 10; policy accept; tcp dport 9 counter drop; }; }'
cell_exec a nft -f - <<<"$foreign"
foreign_before=$(cell_exec a nft list table inet foreign)

check "a imports b's invite" cell_call a $cell org.pic.Cell1 ImportInvite s "$(invite_of b)"
check "the cells are linked" wait_until 10 paired_and_connected a cellb
check "and b sees a" wait_until 10 paired_and_connected b cella

# Listeners on a's tunnel address for two of its services.
for port in 445 5232; do
        cell_exec a socat -u "TCP-LISTEN:$port,bind=$a_addr,reuseaddr,fork" OPEN:/dev/null &
done
sleep 0.3
reach() { # CELL ADDR PORT: a TCP connection succeeds
        cell_exec "$1" socat -u OPEN:/dev/null "TCP:$2:$3,connect-timeout=2" 2>/dev/null
}
outbound() { # CELL REMOTE SERVICE
        cell_exec "$1" busctl --system --json=short get-property org.pic.Cell1 "$(link_path "$2")" \
                org.pic.Cell1.Link Outbound | python3 -c 'import json,sys; print(str(json.load(sys.stdin)["data"].get(sys.argv[1], False)).lower())' "$3"
}

check "a's own files port answers locally" reach a "$a_addr" 445
check_fails "b cannot reach a's files before sharing" reach b "$a_addr" 445
assert_eq "false" "$(outbound b cella files)" "b sees files not shared"
check "picuser may not share" expect_dbus_error org.freedesktop.DBus.Error.AccessDenied \
        cell_call a as_user picuser "$(link_path cellb)" org.pic.Cell1.Link SetPermissions 'a{sb}' 1 files true
check "sharing an unknown service is InvalidArgument" expect_dbus_error org.pic.Cell1.Error.InvalidArgument \
        cell_call a "$(link_path cellb)" org.pic.Cell1.Link SetPermissions 'a{sb}' 1 nosuch true
check "picadmin shares files with cellb" \
        cell_call a as_user picadmin "$(link_path cellb)" org.pic.Cell1.Link SetPermissions 'a{sb}' 1 files true
check "b reaches a's files" reach b "$a_addr" 445
check "within 2 s b sees Outbound[files]=true" wait_until 2 output_is true outbound b cella files
check_fails "calendar stays closed" reach b "$a_addr" 5232
check "b still reaches a's DNS" test -n "$(cell_exec b dig +short +time=1 +tries=1 "@$a_addr" x.cella.cell)"
check "a unshares files" cell_call a "$(link_path cellb)" org.pic.Cell1.Link SetPermissions 'a{sb}' 1 files false
check_fails "b can no longer reach a's files" reach b "$a_addr" 445
check "within 2 s b sees Outbound[files]=false" wait_until 2 output_is false outbound b cella files

# Forged pushes.
a_key=$(cell_get a PublicKey)
b_key=$(cell_get b PublicKey)
push_body() { # FROM_KEY SEQ
        python3 -c 'import json,sys; print(json.dumps({"from_cell": "cellb", "from_public_key": sys.argv[1], "seq": int(sys.argv[2]), "inbound": {"files": True}, "exit_offered": True, "use_as_exit_relay": False, "exit_sources": []}))' "$1" "$2"
}
state_of_a=$(saved_state a | python3 -c 'import json,sys; print(json.dumps(json.load(sys.stdin)["links"], sort_keys=True))')
out=$(cell_exec b "$SYNC_REQUEST" "$a_addr:51821" /api/cells/peer-sync/permissions --body "$(push_body "$a_key" 99999999999999)")
assert_contains "$out" "403" "a push through the tunnel with the wrong key: 403"
out=$(cell_exec b "$SYNC_REQUEST" "$a_addr:51821" /api/cells/peer-sync/permissions \
        --header "X-Forwarded-For:$b_addr" --body "$(push_body "$b_key" 99999999999999)")
assert_contains "$out" "403" "a push carrying X-Forwarded-For: 403"
# The right key from outside b's subnet: the internet host routes to a's tunnel address over the LAN.
ip -n "${PIC_LAB_PREFIX:-pic-}inet" route add 10.77.1.0/24 via "$(lab lan-addr a)"
out=$(ip netns exec "${PIC_LAB_PREFIX:-pic-}inet" "$SYNC_REQUEST" "$a_addr:51821" /api/cells/peer-sync/permissions \
        --body "$(push_body "$b_key" 99999999999999)")
assert_contains "$out" "403" "the right key from outside b's subnet: 403"
# b's subnet spoofed on the LAN never gets an answer.
ip -n "${PIC_LAB_PREFIX:-pic-}inet" address add 10.77.2.99/32 dev inet0
out=$(ip netns exec "${PIC_LAB_PREFIX:-pic-}inet" "$SYNC_REQUEST" "$a_addr:51821" \
        /api/cells/peer-sync/permissions --timeout 3 --source 10.77.2.99 --body "$(push_body "$b_key" 99999999999999)") || true
assert_contains "$out" "0 no answer" "b's subnet spoofed from the LAN is dropped"
assert_eq "$state_of_a" \
        "$(saved_state a | python3 -c 'import json,sys; print(json.dumps(json.load(sys.stdin)["links"], sort_keys=True))')" \
        "forged pushes changed nothing on a"
assert_eq "false" "$(link_get a cellb RemoteExitOffered)" "a does not believe the forged exit offer"

# Offline remote: the push waits and lands when b is back, without touching a.
check "b's pic-celld stops" kill_daemon b TERM
check "a shares files while b is down" \
        cell_call a "$(link_path cellb)" org.pic.Cell1.Link SetPermissions 'a{sb}' 1 files true
check "a's PushState becomes pending" wait_until 10 output_is pending link_get a cellb PushState
check "b comes back" cell_get b Name
check "the push lands within 20 s" wait_until 20 output_is true outbound b cella files
check "and a's PushState is ok" wait_until 5 output_is ok link_get a cellb PushState

# Diagnose.
report=$(cell_call a "$(link_path cellb)" org.pic.Cell1.Link Diagnose 2>&1)
assert_contains "$report" '"problems" as 0' "Diagnose on a healthy link reports no problems"
check "b's pic-celld stops again" kill_daemon b TERM
report=$(cell_call a "$(link_path cellb)" org.pic.Cell1.Link Diagnose 2>&1)
assert_contains "$report" "sync" "with b stopped, Diagnose names the sync endpoint"
assert_contains "$report" "cellb" "and the cell"
cell_get b Name >/dev/null

# Foreign nftables state survives changes, stop and restart.
assert_eq "$foreign_before" "$(cell_exec a nft list table inet foreign)" "the foreign table is untouched after start and changes"
kill_daemon a TERM
cell_get a Name >/dev/null
assert_eq "$foreign_before" "$(cell_exec a nft list table inet foreign)" "the foreign table is untouched after stop and restart"

# 100 links: one toggle touches only that link's set of services, no rule.
python3 - "$(invite_of b)" >"$(lab cell-dir a)/fake-invites" <<'PY'
import base64, json, os, sys
for i in range(98):
    inv = {"version": 1, "cell_name": f"fake{i}", "public_key": base64.b64encode(os.urandom(32)).decode(),
           "endpoint": f"198.51.100.{i + 1}:51820", "vpn_subnet": f"10.200.{i}.0/24",
           "dns_ip": f"10.200.{i}.1", "domain": f"fake{i}.cell"}
    print(json.dumps(inv))
PY
while read -r fake; do
        cell_call a $cell org.pic.Cell1 ImportInvite s "$fake" >/dev/null
done <"$(lab cell-dir a)/fake-invites"
cell_call a $cell org.pic.Cell1 ImportInvite s "$(python3 -c '
import base64, json, os
print(json.dumps({"version": 1, "cell_name": "fake98", "public_key": base64.b64encode(os.urandom(32)).decode(), "endpoint": "198.51.100.99:51820", "vpn_subnet": "10.201.0.0/24", "dns_ip": "10.201.0.1", "domain": "fake98.cell"}))')" >/dev/null
assert_eq "100" "$(cell_exec a wg show wg0 peers | wc -l)" "a has 100 links"
before=$(mktemp); after=$(mktemp)
cell_exec a nft -a list table inet pic_cell >"$before"
check "a shares webdav with fake42" \
        cell_call a "$(link_path fake42)" org.pic.Cell1.Link SetPermissions 'a{sb}' 1 webdav true
cell_exec a nft -a list table inet pic_cell >"$after"
changed_blocks=$(python3 -c '
import re, sys
before, after = sys.argv[1], sys.argv[2]
def blocks(path):
    out, cur = {}, None
    for line in open(path):
        m = re.match(r"\s*(chain|set|map) (\S+) \{", line)
        if m:
            cur = m.group(1) + " " + m.group(2); out[cur] = []
        elif cur:
            out[cur].append(line)
    return out
b, a = blocks(before), blocks(after)
print(", ".join(sorted(k for k in set(a) | set(b) if a.get(k) != b.get(k))))' "$before" "$after")
assert_eq "set svc_fake42" "$changed_blocks" "only the set of fake42 changed: no chain, no rule handle"
assert_contains "$(cell_exec a nft list set inet pic_cell svc_fake42)" "$a_addr . tcp . " "and it holds webdav's port"

