#!/bin/bash
# test-pairing.sh: one admin imports an invite and both cells come up linked;
# nobody without the invite's secret can pair; pairing survives the other cell
# being down; unlink and healing reach the other side.
source "$(dirname "$0")/lib.sh"
source "$(dirname "$0")/cell-bus.sh"

SYNC_REQUEST=$PIC_TOP/tests/tools/sync-request
lab up 2
cell=/org/pic/Cell1
a_addr=10.77.1.1
b_addr=10.77.2.1
b_lan=$(lab lan-addr b)

pairing_field() { # INVITE FIELD
        python3 -c '
import base64, json, sys
t = sys.argv[1][5:]
print(json.loads(base64.urlsafe_b64decode(t + "=" * (-len(t) % 4)))["pairing"][sys.argv[2]])' "$1" "$2"
}
kernel_and_state() { # CELL: what must not change under attack
        cell_exec "$1" wg show wg0 peers
        cell_exec "$1" ip -4 route show proto 0xa7
        saved_state "$1" | python3 -c '
import json, sys
s = json.load(sys.stdin)
print(json.dumps([s["links"], [i.get("used_by") for i in s["invites"]]], sort_keys=True))'
}

# --- hostile requests to b's accept-invite, sent from a's namespace ---
invite=$(invite_of b)
id=$(pairing_field "$invite" id)
secret=$(pairing_field "$invite" secret)
# A well-formed invite of a cell that does not exist, for the bodies of forged requests.
fake=$(python3 - "$(invite_of a)" <<'PY'
import base64, json, os, sys
t = sys.argv[1][5:]
inv = json.loads(base64.urlsafe_b64decode(t + "=" * (-len(t) % 4)))
inv.update(cell_name="mallory", domain="mallory.cell", vpn_subnet="10.66.6.0/24", dns_ip="10.66.6.1",
           tunnel_address="10.66.6.1", public_key=base64.b64encode(os.urandom(32)).decode())
inv.pop("pairing")
print(json.dumps(inv))
PY
)
before=$(kernel_and_state b)
send() { cell_exec a "$SYNC_REQUEST" "$b_lan:51821" /api/cells/peer-sync/accept-invite "$@"; }

out=$(send --invite "$fake" --pairing-id="$id")
assert_contains "$out" "401" "no signature: 401"
out=$(send --invite "$fake" --pairing-id="$id" --secret="$secret" --bad-signature)
assert_contains "$out" "401" "a wrong signature: 401"
out=$(send --invite "$fake" --pairing-id "AAAAAAAAAAAAAAAAAAAAAA" --secret="$secret")
assert_contains "$out" "401" "an unknown pairing id: 401"
out=$(send --invite "$fake" --pairing-id="$id" --secret="$secret" --ts-offset -400)
assert_contains "$out" "401" "a stale timestamp: 401"
assert_contains "$out" "clock" "the stale timestamp is explained"
out=$(send --body '{"invite": {}, "pairing_id": "x"' --secret="$secret")
assert_contains "$out" "400" "malformed JSON: 400"
out=$(send --body-size 70000 --secret="$secret")
assert_contains "$out" "413" "a body over the limit: 413"
nested=$(python3 -c 'print("[" * 5000 + "]" * 5000)')
out=$(send --body "$nested" --secret="$secret")
assert_contains "$out" "400" "a deeply nested body: 400"
# A correctly signed body with a bad invite consumes its nonce; the replay is refused.
body=$(python3 -c 'import json,sys,time; print(json.dumps({"invite": {}, "pairing_id": sys.argv[1], "ts": int(time.time()), "nonce": "AAAAAAAAAAAAAAAAAAAAAA"}))' "$id")
out=$(send --body "$body" --secret="$secret")
assert_contains "$out" "400" "a signed body with an invalid invite: 400"
out=$(send --body "$body" --secret="$secret")
assert_contains "$out" "401" "the same request replayed: 401"
assert_contains "$out" "replayed" "the replay is named"
assert_eq "$before" "$(kernel_and_state b)" "hostile requests changed neither b's state nor its kernel"
assert_eq "" "$(cell_exec a wg show wg0 peers)" "nor a's"

# An expired invite: b is stopped, its invite made old, b started again.
old=$(invite_of b 600)
old_id=$(pairing_field "$old" id)
kill_daemon b TERM
# The saved state (snapshot and journal) rewritten as one snapshot.
python3 - "$PIC_TOP/tests/tools" "$(lab cell-dir b)/state/state.json" "$old_id" <<'PY'
import json, os, sys, time
tools, path, ident = sys.argv[1:]
sys.path.insert(0, tools)
import statefile
s = statefile.load(path)
for i in s["invites"]:
    if i["id"] == ident:
        i["expires"] = int(time.time()) - 10
json.dump(s, open(path, "w"))
if os.path.exists(statefile.journal_path(path)):
    os.unlink(statefile.journal_path(path))
PY
cell_get b Name >/dev/null
out=$(send --invite "$fake" --pairing-id="$old_id" --secret="$(pairing_field "$old" secret)")
assert_contains "$out" "401" "an expired pairing id: 401"
# a cannot tell the invite expired on b's side; b's refusal is shown on a's link.
check "a imports the invite b considers expired" cell_call a $cell org.pic.Cell1 ImportInvite s "$old"
check "a's push is refused: PushState=failed" wait_until 5 output_is failed link_get a cellb PushState
assert_contains "$(link_get a cellb LastPushError)" "401" "LastPushError gives b's refusal"
assert_eq "false" "$(link_get a cellb Paired)" "the link stays unpaired"
check "a removes the unpaired link" cell_call a $cell org.pic.Cell1 RemoveLink s cellb

# A flood from one address gets 429, and b keeps answering.
out=$(send --body '{}' --count 40)
assert_contains "$out" "429" "a flood from one address gets 429"
check "b still answers on the bus" cell_get b Name

# --- the real thing: only a imports ---
check "a imports b's invite" cell_call a $cell org.pic.Cell1 ImportInvite s "$invite"
check "a's link is paired and connected within 5 s" wait_until 5 paired_and_connected a cellb
check "b has the link too, paired and connected, within 5 s" wait_until 5 paired_and_connected b cella
check "a pings b" cell_exec a ping -c 1 -W 2 "$b_addr"
check "b pings a" cell_exec b ping -c 1 -W 2 "$a_addr"
check "b's domain resolves from a" \
        wait_until 5 output_is "$b_addr" cell_exec a dig +short +time=1 +tries=1 "@$a_addr" files.cellb.cell
check "a's domain resolves from b" \
        wait_until 5 output_is "$a_addr" cell_exec b dig +short +time=1 +tries=1 "@$b_addr" files.cella.cell
out=$(send --invite "$fake" --pairing-id="$id" --secret="$secret")
assert_contains "$out" "401" "the used invite refuses another cell's key"
out=$(send --invite "$(invite_of a)" --pairing-id="$id" --secret="$secret")
assert_contains "$out" "already-linked" "a retry from a's own key answers already-linked"
assert_eq "1" "$(cell_exec b wg show wg0 peers | wc -l)" "the retry added nothing on b"

# --- unlink reaches the other side ---
check "a removes the link" cell_call a $cell org.pic.Cell1 RemoveLink s cellb
check "b's link is gone within 5 s" wait_until 5 bash -c "! $(printf %q "$PIC_LAB") exec b busctl --system tree org.pic.Cell1 | grep -q link/cella"
check "b's WireGuard peer is gone within 5 s" wait_until 5 output_empty cell_exec b wg show wg0 peers

# --- the other cell is down while a imports ---
invite=$(invite_of b)
check "b's pic-celld stops" kill_daemon b TERM
check "a imports b's invite while b is down" cell_call a $cell org.pic.Cell1 ImportInvite s "$invite"
sleep 2
assert_eq "false" "$(link_get a cellb Paired)" "a's link waits with Paired=false"
assert_eq "pending" "$(link_get a cellb PushState)" "and PushState=pending"
assert_contains "$(link_get a cellb LastPushError)" "cellb" "LastPushError names the cell"
check "b comes back (activated by a call)" cell_get b Name
check "pairing completes without touching a, within 20 s" wait_until 20 paired_and_connected a cellb
check "b has the link" wait_until 5 paired_and_connected b cella

# --- healing: b moves to another LAN address ---
cell_exec b sysctl -qw net.ipv4.conf.lan0.promote_secondaries=1
cell_exec b ip address add 172.31.77.112/24 dev lan0
check "b's admin sets a new endpoint" \
        cell_call b $cell org.pic.Cell1 Configure 'a{sv}' 1 Endpoint s 172.31.77.112:51820
check "a learns b's new endpoint within 5 s" \
        wait_until 5 output_is "172.31.77.112:51820" link_get a cellb Endpoint
assert_contains "$(cell_exec a wg show wg0 endpoints)" "172.31.77.112:51820" "a's WireGuard peer uses it"
cell_exec b ip address del "$b_lan/24" dev lan0
cell_exec b ip route replace default via 172.31.77.1
check "the tunnel recovers over the new address" wait_until 10 cell_exec a ping -c 1 -W 1 "$b_addr"
