#!/bin/bash
# test-link.sh: two cells linked by importing each other's invite: a real
# WireGuard tunnel, routes and DNS forwarding; conflicts refused; removal;
# recovery after kill -9 of pic-celld and of wireguard-go.
source "$(dirname "$0")/lib.sh"
source "$(dirname "$0")/cell-bus.sh"

lab up 2
cell=/org/pic/Cell1

# The kernel side of a cell, minus what changes by itself (handshakes, bytes).
kernel_state() {
        local c=$1
        cell_exec "$c" wg show wg0 dump | awk '{ print $1, $3, $4, $8 }'
        cell_exec "$c" ip -4 route show proto 0xa7
        cell_exec "$c" ip -4 address show dev wg0 | grep inet
}

# wireguard_go_pid CELL: the wireguard-go of that cell's network namespace.
wireguard_go_pid() {
        local pid
        for pid in $(ip netns pids "${PIC_LAB_PREFIX:-pic-}$1"); do
                if [[ $(cat "/proc/$pid/comm" 2>/dev/null) == wireguard-go ]]; then
                        echo "$pid"
                fi
        done
        return 0
}

connected() {
        [[ $(link_get "$1" "$2" Connected) == true ]]
}

# By hand on both sides: invites in the original format, without pairing, so
# neither cell pairs the other by itself.
without_pairing() {
        python3 -c '
import base64, json, sys
t = sys.argv[1][5:]
inv = json.loads(base64.urlsafe_b64decode(t + "=" * (-len(t) % 4)))
inv.pop("pairing")
print(json.dumps(inv))' "$1"
}
a_invite=$(without_pairing "$(invite_of a)")
b_invite=$(without_pairing "$(invite_of b)")
b_addr=$(cell_get b Address); b_addr=${b_addr%/*}
a_addr=$(cell_get a Address); a_addr=${a_addr%/*}

# Conflicts, before any link exists: crafted from b's real invite.
craft() {
        python3 - "$b_invite" "$@" <<'PY'
import base64, json, sys
inv = json.loads(sys.argv[1])
for kv in sys.argv[2:]:
    k, v = kv.split("=", 1)
    inv[k] = v
print(json.dumps(inv))
PY
}
a_subnet=$(cell_get a VpnSubnet)
a_prefix=${a_subnet%.0/24}
out=$(cell_call a $cell org.pic.Cell1 ImportInvite s "$(craft vpn_subnet="$a_subnet" dns_ip="$a_prefix.1" tunnel_address="$a_prefix.1")" 2>&1) || true
assert_contains "$out" "subnet" "an overlapping subnet is refused, naming the subnet"
check "an overlapping subnet is Conflict" expect_dbus_error org.pic.Cell1.Error.Conflict \
        cell_call a $cell org.pic.Cell1 ImportInvite s "$(craft vpn_subnet="$a_subnet" dns_ip="$a_prefix.1" tunnel_address="$a_prefix.1")"
check "the same domain is Conflict" expect_dbus_error org.pic.Cell1.Error.Conflict \
        cell_call a $cell org.pic.Cell1 ImportInvite s "$(craft domain=cella.cell)"
check "a parent domain is Conflict" expect_dbus_error org.pic.Cell1.Error.Conflict \
        cell_call a $cell org.pic.Cell1 ImportInvite s "$(craft domain=cell)"
check "a subdomain is Conflict" expect_dbus_error org.pic.Cell1.Error.Conflict \
        cell_call a $cell org.pic.Cell1 ImportInvite s "$(craft domain=x.cella.cell)"
check "a's own key is Conflict" expect_dbus_error org.pic.Cell1.Error.Conflict \
        cell_call a $cell org.pic.Cell1 ImportInvite s "$(craft public_key="$(cell_get a PublicKey)")"
check "a malformed invite is InvalidInvite" expect_dbus_error org.pic.Cell1.Error.InvalidInvite \
        cell_call a $cell org.pic.Cell1 ImportInvite s '{"version":1}'
assert_eq "" "$(cell_exec a wg show wg0 peers)" "refused invites left no WireGuard peer"
assert_eq "" "$(cell_exec a ip -4 route show proto 0xa7)" "refused invites left no route"

# Both sides import by hand.
check "a imports b's invite" cell_call a $cell org.pic.Cell1 ImportInvite s "$b_invite"
check "b imports a's invite" cell_call b $cell org.pic.Cell1 ImportInvite s "$a_invite"
check "a's link to cellb is Connected within 5 s" wait_until 5 connected a cellb
check "b's link to cella is Connected within 5 s" wait_until 5 connected b cella
check "a pings b's tunnel address" cell_exec a ping -c 1 -W 2 "$b_addr"
check "b pings a's tunnel address" cell_exec b ping -c 1 -W 2 "$a_addr"
check "b's domain resolves from a through a's DNS" \
        wait_until 5 output_is "$b_addr" cell_exec a dig +short +time=1 +tries=1 "@$a_addr" host.cellb.cell
check "a's domain resolves from b through b's DNS" \
        wait_until 5 output_is "$a_addr" cell_exec b dig +short +time=1 +tries=1 "@$b_addr" www.cella.cell
handshake=$(link_get a cellb LatestHandshake)
check "LatestHandshake is recent" test $(( $(date +%s) - handshake )) -lt 30
check "RxBytes counts traffic" test "$(link_get a cellb RxBytes)" -gt 0

live=$(mktemp)
cell_exec a busctl --system --xml-interface introspect org.pic.Cell1 "$(link_path cellb)" >"$live"
check "introspection of a link equals dbus/org.pic.Cell1.xml" \
        python3 "$PIC_TOP/tests/integration/compare-introspection.py" "$PIC_API_XML" "$live" org.pic.Cell1.Link
check "a duplicate import is Conflict" expect_dbus_error org.pic.Cell1.Error.Conflict \
        cell_call a $cell org.pic.Cell1 ImportInvite s "$b_invite"

# kill -9 and restart: the same kernel state, nothing twice.
before=$(kernel_state a)
check "kill -9 of a's pic-celld" kill_daemon a KILL
check "a's pic-celld comes back on the next call" cell_get a Name
assert_eq "$before" "$(kernel_state a)" "after kill -9 and restart the kernel state is the same"
check "kill -9 again" kill_daemon a KILL
cell_get a Name >/dev/null
assert_eq "$before" "$(kernel_state a)" "restarting twice changes nothing"
check "the tunnel works after the restarts" cell_exec a ping -c 1 -W 2 "$b_addr"

# wireguard-go dies: the service starts it again and configures it.
wg_pid=$(wireguard_go_pid a)
check "a runs wireguard-go" test -n "$wg_pid"
kill -9 $wg_pid
new_wg_pid() {
        local pid
        pid=$(wireguard_go_pid a)
        [[ -n $pid && $pid != "$wg_pid" ]]
}
check "a new wireguard-go runs within 5 s" wait_until 5 new_wg_pid
check "the tunnel comes back within 5 s" wait_until 5 cell_exec a ping -c 1 -W 1 "$b_addr"
assert_eq "$before" "$(kernel_state a)" "the restarted device has the same peers and routes"

# RemoveLink on a.
check "picuser may not RemoveLink" expect_dbus_error org.freedesktop.DBus.Error.AccessDenied \
        cell_call a as_user picuser $cell org.pic.Cell1 RemoveLink s cellb
check "RemoveLink of an unknown cell is NotFound" expect_dbus_error org.pic.Cell1.Error.NotFound \
        cell_call a $cell org.pic.Cell1 RemoveLink s nosuch
check "a removes the link to cellb" cell_call a $cell org.pic.Cell1 RemoveLink s cellb
check "the WireGuard peer is gone on a" wait_until 5 output_empty cell_exec a wg show wg0 peers
check "the route is gone on a" wait_until 5 output_empty cell_exec a ip -4 route show proto 0xa7
check "b's domain no longer resolves from a" \
        wait_until 5 output_empty cell_exec a dig +short +time=1 +tries=1 "@$a_addr" host.cellb.cell
check_fails "the link object is gone" link_get a cellb Name
