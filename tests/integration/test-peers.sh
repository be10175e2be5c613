#!/bin/bash
# test-peers.sh: road-warrior peers of a cell, and the exit relay: a peer of
# cell a leaves the internet through cell b while b offers it, and falls back
# to leaving through a when b withdraws; everything survives kill -9.
source "$(dirname "$0")/lib.sh"
source "$(dirname "$0")/cell-bus.sh"

cell=/org/pic/Cell1
a_addr=10.77.1.1
b_addr=10.77.2.1
lab up 2
a_lan=$(lab lan-addr a)
b_lan=$(lab lan-addr b)
inet=$(lab inet-addr)

peer_path() { python3 -c '
import sys
print("/org/pic/Cell1/peer/" + "".join(c if c.isalnum() else "_%02x" % ord(c) for c in sys.argv[1]))' "$1"; }
peer_get() { cell_prop "$1" "$(peer_path "$2")" org.pic.Cell1.Peer "$3"; }
seen_as() { # PEER: the address the internet host sees
        lab exec-peer "$1" timeout 5 "$PIC_LAB_TOOLS/http-get" "$inet" / 2>/dev/null | tr -d '\r\n'
}

check "a imports b's invite" cell_call a $cell org.pic.Cell1 ImportInvite s "$(invite_of b)"
check "the cells are linked" wait_until 10 paired_and_connected a cellb

# AddPeer: the config a WireGuard app imports.
out=$(cell_exec a busctl --system --json=short call org.pic.Cell1 $cell org.pic.Cell1 AddPeer 'sa{sv}' phone 0)
config=$(python3 -c 'import json,sys; print(json.load(sys.stdin)["data"][1])' <<<"$out")
assert_contains "$config" "PrivateKey = " "the config carries the peer's private key"
assert_contains "$config" "Address = 10.77.1.2/32" "the peer gets the first free address"
assert_contains "$config" "DNS = $a_addr" "its DNS is the cell's"
assert_contains "$config" "Endpoint = $a_lan:51820" "its endpoint is the cell's"
assert_contains "$config" "AllowedIPs = 0.0.0.0/0" "full tunnel by default"
state=$(saved_state a)
private=$(sed -n 's/^PrivateKey = //p' <<<"$config")
check_fails "the peer's private key is not stored" grep -qF "$private" <<<"$state"
check "a duplicate peer name is Conflict" expect_dbus_error org.pic.Cell1.Error.Conflict \
        cell_call a $cell org.pic.Cell1 AddPeer 'sa{sv}' phone 0
check "a bad peer name is InvalidArgument" expect_dbus_error org.pic.Cell1.Error.InvalidArgument \
        cell_call a $cell org.pic.Cell1 AddPeer 'sa{sv}' 'bad name' 0
check "picuser may not add peers" expect_dbus_error org.freedesktop.DBus.Error.AccessDenied \
        cell_call a as_user picuser $cell org.pic.Cell1 AddPeer 'sa{sv}' nope 0
out=$(cell_call a $cell org.pic.Cell1 AddPeer 'sa{sv}' laptop 2 public_key s "$(wg genkey | wg pubkey)" full_tunnel b false)
assert_contains "$out" "AllowedIPs = 10.77.1.0/24, 10.77.2.0/24" "a split-tunnel peer gets the cell's and the linked subnets"
check_fails "a bring-your-own-key config has no PrivateKey" grep -q PrivateKey <<<"$out"
check "RemovePeer removes it" cell_call a $cell org.pic.Cell1 RemovePeer s laptop

# Two peers of a in the lab, each its own namespace with WireGuard.
check "peer p1 joins a" lab peer a p1
check "peer p2 joins a" lab peer a p2
check "p1 pings a's tunnel address" lab exec-peer p1 ping -c 1 -W 2 "$a_addr"
check "p1 is Connected" wait_until 5 output_is true peer_get a p1 Connected
cell_exec b socat -u "TCP-LISTEN:445,bind=$b_addr,reuseaddr,fork" OPEN:/dev/null &
sleep 0.3
check "b shares files with a" cell_call b "$(link_path cella)" org.pic.Cell1.Link SetPermissions 'a{sb}' 1 files true
check "p1 reaches the service b shares with a" \
        lab exec-peer p1 socat -u OPEN:/dev/null "TCP:$b_addr:445,connect-timeout=3"
assert_eq "$a_lan" "$(seen_as p1)" "the internet sees p1 as a"

# The exit relay.
check "SetRouteVia to cellb is NotOffered before b offers" expect_dbus_error org.pic.Cell1.Error.NotOffered \
        cell_call a "$(peer_path p1)" org.pic.Cell1.Peer SetRouteVia s cellb
check "b offers its internet connection to a" \
        cell_call b "$(link_path cella)" org.pic.Cell1.Link SetExitOffered b true
check "a sees the offer within 5 s" wait_until 5 output_is true link_get a cellb RemoteExitOffered
check "picuser may not route peers" expect_dbus_error org.freedesktop.DBus.Error.AccessDenied \
        cell_call a as_user picuser "$(peer_path p1)" org.pic.Cell1.Peer SetRouteVia s cellb
check "p1 routes via cellb" cell_call a "$(peer_path p1)" org.pic.Cell1.Peer SetRouteVia s cellb
check "a's ExitRelayActive" wait_until 5 output_is true link_get a cellb ExitRelayActive
check "b's RemoteExitRelayActive" wait_until 5 output_is true link_get b cella RemoteExitRelayActive
check "p1's RouteViaActive" wait_until 5 output_is true peer_get a p1 RouteViaActive
check "the internet sees p1 as b" wait_until 5 output_is "$b_lan" seen_as p1
assert_eq "$a_lan" "$(seen_as p2)" "p2 (no route-via) still appears as a"
p1_addr=$(peer_get a p1 Address)
assert_contains "$(cell_exec a ip rule)" "from $p1_addr lookup 31400" "a has an ip rule for p1"

check "b withdraws the offer" cell_call b "$(link_path cella)" org.pic.Cell1.Link SetExitOffered b false
check "within 5 s p1 appears as a again" wait_until 5 output_is "$a_lan" seen_as p1
check "p1's RouteViaActive turns false" wait_until 5 output_is false peer_get a p1 RouteViaActive
assert_eq "cellb" "$(peer_get a p1 RouteVia)" "p1 keeps its RouteVia for when b offers again"
check "b offers again" cell_call b "$(link_path cella)" org.pic.Cell1.Link SetExitOffered b true
check "p1 leaves through b again" wait_until 5 output_is "$b_lan" seen_as p1

# kill -9 of both daemons.
check "kill -9 a" kill_daemon a KILL
check "kill -9 b" kill_daemon b KILL
cell_get a Name >/dev/null
cell_get b Name >/dev/null
check "after restarts p1 still leaves through b" wait_until 10 output_is "$b_lan" seen_as p1
assert_eq "$a_lan" "$(seen_as p2)" "and p2 through a"
assert_eq "1" "$(cell_exec a ip rule | grep -c 'lookup 31400')" "one ip rule, not two"

# GetManagedObjects (answered by pic-celld itself, not by sd-bus) says what
# GetAll on each object says; the traffic counters may move in between.
managed_matches_getall() {
        local managed
        managed=$(cell_exec a busctl --system --json=short call org.pic.Cell1 $cell \
                org.freedesktop.DBus.ObjectManager GetManagedObjects) || return 1
        python3 - "$managed" "$PIC_LAB" <<'PY'
import json, subprocess, sys
moving = {"RxBytes", "TxBytes", "LatestHandshake"}
objects = json.loads(sys.argv[1])["data"][0]
kinds = sorted(p.split("/")[4] for p in objects)
if kinds.count("link") != 1 or kinds.count("peer") < 2:
    sys.exit(f"unexpected objects: {sorted(objects)}")
for path, interfaces in objects.items():
    if len(interfaces) != 1:
        sys.exit(f"{path}: interfaces {sorted(interfaces)}, want only its own")
    for interface, props in interfaces.items():
        out = subprocess.run([sys.argv[2], "exec", "a", "busctl", "--system", "--json=short", "call",
                              "org.pic.Cell1", path, "org.freedesktop.DBus.Properties", "GetAll", "s", interface],
                             check=True, capture_output=True, text=True).stdout
        want = {k: v for k, v in json.loads(out)["data"][0].items() if k not in moving}
        got = {k: v for k, v in props.items() if k not in moving}
        if got != want:
            sys.exit(f"{path}: GetManagedObjects {got} != GetAll {want}")
PY
}
check "GetManagedObjects matches GetAll of every link and peer" managed_matches_getall

# RemovePeer.
p1_key=$(peer_get a p1 PublicKey)
check "RemovePeer p1" cell_call a $cell org.pic.Cell1 RemovePeer s p1
check_fails "p1's WireGuard peer is gone" grep -qF "$p1_key" <<<"$(cell_exec a wg show wg0 peers)"
check_fails "p1's ip rule is gone" grep -q "from $p1_addr " <<<"$(cell_exec a ip rule)"
check "RemovePeer of an unknown peer is NotFound" expect_dbus_error org.pic.Cell1.Error.NotFound \
        cell_call a $cell org.pic.Cell1 RemovePeer s p1
