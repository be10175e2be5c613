#!/bin/bash
# test-lab-peer.sh: the lab's own tools — restarting a cell's parts, and road-warrior peers (hand-written configs, and AddPeer's).
# shellcheck source=tests/integration/lib.sh
source "$(dirname "$0")/lib.sh"
# shellcheck source=tests/integration/cell-bus.sh
source "$(dirname "$0")/cell-bus.sh"

lab up 2
cell=/org/pic/Cell1

# name_pid CELL NAME: the pid owning bus NAME in CELL (empty when nobody does).
name_pid() {
        local out
        out=$(cell_exec "$1" busctl --system call org.freedesktop.DBus /org/freedesktop/DBus org.freedesktop.DBus \
                GetConnectionUnixProcessID s "$2" 2>/dev/null) || true
        echo "${out#u }"
}

# gone PID: the process has exited (a zombie counts as gone).
gone() {
        [[ -n $1 ]] || return 1
        local status
        # Read once: the process may exit between a test and a read.
        status=$(cat "/proc/$1/status" 2>/dev/null) || return 0
        [[ $status =~ State:[^$'\n']*Z ]]
}

own_domain_resolves() {
        [[ $(cell_exec a dig +short +time=2 +tries=1 @127.0.0.1 files.cella.cell) == 10.77.1.1 ]]
}

# A change that needs polkit's yes (a call that changes nothing may not ask),
# and touches nothing else the test looks at.
service_n=0
picadmin_configures() {
        service_n=$((service_n + 1))
        cell_call a as_user picadmin $cell org.pic.Cell1 SetService 'ssa(sq)' "labtest$service_n" "" 1 tcp 9000 &&
                cell_call a $cell org.pic.Cell1 RemoveService s "labtest$service_n"
}

picuser_denied() {
        expect_dbus_error org.freedesktop.DBus.Error.AccessDenied \
                cell_call a as_user picuser $cell org.pic.Cell1 SetService 'ssa(sq)' labtest0 "" 1 tcp 9000
}

# check_fails_saying DESC TEXT CMD…: ok when CMD fails and says TEXT.
check_fails_saying() {
        local desc=$1 text=$2; shift 2
        local out status=0
        out=$("$@" 2>&1) || status=$?
        if (( status != 0 )) && [[ $out == *"$text"* ]]; then
                ok "$desc"
        else
                not_ok "$desc"
                diag "command: $* (exit $status); expected it to fail saying: $text"
                [[ -z $out ]] || diag "$out"
        fi
}

b_bus=$(name_pid b org.freedesktop.DBus)
b_daemon=$(daemon_pid b)
b_dnsmasq=$(name_pid b uk.org.thekelleys.dnsmasq)

# --- restart dnsmasq ---
old=$(name_pid a uk.org.thekelleys.dnsmasq)
check "restart a dnsmasq succeeds" lab restart a dnsmasq
new=$(name_pid a uk.org.thekelleys.dnsmasq)
check "the old dnsmasq is gone" gone "$old"
check "a new dnsmasq owns its bus name" test -n "$new" -a "$new" != "$old"
check "the restarted dnsmasq resolves the cell's own domain" own_domain_resolves
kill "$new"
wait_until 5 gone "$new" || true
check "restart dnsmasq starts it when it had died" lab restart a dnsmasq
check "and it resolves again" own_domain_resolves

# --- restart polkitd ---
picadmin_configures >/dev/null 2>&1 || true
old=$(name_pid a org.freedesktop.PolicyKit1)
check "polkitd runs before the restart" test -n "$old"
check "restart a polkitd succeeds" lab restart a polkitd
check "the old polkitd is gone" gone "$old"
assert_eq "" "$(name_pid a org.freedesktop.PolicyKit1)" "nobody owns polkit's name until the next use"
check "restart polkitd when it does not run is harmless" lab restart a polkitd
check "picadmin's Configure succeeds with polkitd restarted" picadmin_configures
new=$(name_pid a org.freedesktop.PolicyKit1)
check "polkitd was activated again for it" test -n "$new" -a "$new" != "$old"
check "picuser is still refused" picuser_denied

# --- restart daemon ---
cell_get a Name >/dev/null
old=$(daemon_pid a)
check "restart a daemon succeeds" lab restart a daemon
check "the old pic-celld is gone" gone "$old"
assert_eq "" "$(daemon_pid a)" "nobody owns org.pic.Cell1 until the next call"
check "restart daemon when pic-celld does not run is harmless" lab restart a daemon
assert_eq "cella" "$(cell_get a Name)" "the next call activates pic-celld again"
new=$(daemon_pid a)
check "it is a new pic-celld" test -n "$new" -a "$new" != "$old"

# --- restart bus ---
old_bus=$(name_pid a org.freedesktop.DBus)
old_daemon=$(daemon_pid a)
old_polkit=$(name_pid a org.freedesktop.PolicyKit1)
old_dnsmasq=$(name_pid a uk.org.thekelleys.dnsmasq)
check "restart a bus succeeds" lab restart a bus
check "the old bus is gone" gone "$old_bus"
check "pic-celld went with the old bus" gone "$old_daemon"
check "polkitd went with the old bus" gone "$old_polkit"
check "dnsmasq was restarted with the bus" gone "$old_dnsmasq"
new=$(name_pid a org.freedesktop.DBus)
check "a new bus answers" test -n "$new" -a "$new" != "$old_bus"
assert_eq "b true" \
        "$(cell_exec a busctl --system call org.freedesktop.DBus /org/freedesktop/DBus org.freedesktop.DBus \
                NameHasOwner s uk.org.thekelleys.dnsmasq 2>&1)" \
        "dnsmasq is on the new bus"
check "dnsmasq resolves the cell's own domain after the bus restart" own_domain_resolves
assert_eq "cella" "$(cell_get a Name)" "the next call on the new bus activates pic-celld again"
check "picadmin's Configure succeeds on the new bus" picadmin_configures
assert_eq "$b_bus $b_daemon $b_dnsmasq" \
        "$(name_pid b org.freedesktop.DBus) $(daemon_pid b) $(name_pid b uk.org.thekelleys.dnsmasq)" \
        "cell b's bus, pic-celld and dnsmasq were left alone"

# --- restart: errors in words ---
check_fails_saying "restart of an unknown part fails, quoting it" "got 'nginx'" lab restart a nginx
check_fails_saying "restart of an unknown part names the parts" "dnsmasq, polkitd, bus or daemon" lab restart a nginx
check_fails_saying "restart in a cell that is not up fails, naming it" "cell 'c' is not up" lab restart c dnsmasq

# --- peers with hand-written configs, against WireGuard made by hand in cell b ---
# Its own interface, port and subnet, beside pic-celld's wg0, forwarding and
# masquerading in a table of its own.
work=$(mktemp -d)
for p in server full part; do
        (umask 077 && wg genkey >"$work/$p.key")
        wg pubkey <"$work/$p.key" >"$work/$p.pub"
done
server_pub=$(<"$work/server.pub")
"$PIC_LAB" exec b wireguard-go -f wgt >"$work/wgt.log" 2>&1 &
wgt_up() { cell_exec b test -S /run/wireguard/wgt.sock; }
check "a hand-made WireGuard interface runs in cell b" wait_until 10 wgt_up
cell_exec b wg set wgt private-key "$work/server.key" listen-port 51830 \
        peer "$(<"$work/full.pub")" allowed-ips 10.99.0.2/32 \
        peer "$(<"$work/part.pub")" allowed-ips 10.99.0.3/32
cell_exec b ip address add 10.99.0.1/24 dev wgt
cell_exec b ip link set wgt up
cell_exec b sysctl -qw net.ipv4.ip_forward=1
cell_exec b nft -f - <<'EOF'
table ip lab_peer_test {
        chain postrouting {
                type nat hook postrouting priority srcnat;
                oifname "lan0" ip saddr 10.99.0.0/24 masquerade
        }
}
EOF

write_config() {
        local file=$1 key=$2 address=$3 allowed=$4
        cat >"$file" <<EOF
# A hand-written client config, as AddPeer would hand it out.
[Interface]
PrivateKey = $(<"$key")
Address = $address
DNS = 10.77.2.1, cellb.cell

[Peer]
PublicKey = $server_pub
Endpoint = $(lab lan-addr b):51830
AllowedIPs = $allowed
PersistentKeepalive = 25
EOF
}
write_config "$work/full.conf" "$work/full.key" 10.99.0.2/32 0.0.0.0/0
write_config "$work/part.conf" "$work/part.key" 10.99.0.3/32 "10.99.0.0/24, 10.77.2.0/24"
inet=$(lab inet-addr)

check "peer full (hand-written config, full tunnel) comes up" lab peer b full --config "$work/full.conf"
check "full reaches cell b through its tunnel" lab exec-peer full ping -c 1 -W 2 10.99.0.1
assert_eq "$(lab lan-addr b)" "$(lab exec-peer full timeout 10 "$PIC_LAB_TOOLS/http-get" "$inet" 2>&1)" \
        "the internet host sees full by cell b's LAN address"
assert_eq "10.77.2.1" "$(lab exec-peer full dig +short +search +time=2 +tries=1 files 2>&1)" \
        "full resolves through the tunnel with its DNS and search domain"
assert_contains "$(lab exec-peer full ip route show default)" "dev wg0" "full's default route is the tunnel"
assert_eq "full" "$(lab exec-peer full hostname)" "the peer has its own host name"
check "the peer has its own /run/wireguard" lab exec-peer full test -S /run/wireguard/wg0.sock
check_fails "exec-peer does not pass a cell's bus on" \
        env DBUS_SYSTEM_BUS_ADDRESS=unix:path=/nonexistent "$PIC_LAB" exec-peer full printenv DBUS_SYSTEM_BUS_ADDRESS
check_fails "the host's resolv.conf is untouched" grep -q 'pic-lab peer' /etc/resolv.conf

check "peer part (hand-written config, some subnets) comes up" lab peer b part --config "$work/part.conf"
check "part reaches cell b through its tunnel" lab exec-peer part ping -c 1 -W 2 10.99.0.1
part_ip=$(lab exec-peer part ip -4 -o address show lan0 | sed -E 's/.* inet ([0-9.]+)\/.*/\1/')
assert_eq "$part_ip" "$(lab exec-peer part timeout 10 "$PIC_LAB_TOOLS/http-get" "$inet" 2>&1)" \
        "the internet host sees part by its own LAN address"
assert_contains "$(lab exec-peer part ip route show 10.77.2.0/24)" "dev wg0" "part routes cell b's subnet through the tunnel"

check_fails_saying "a second peer full is refused, naming it" "peer 'full' already" \
        lab peer b full --config "$work/full.conf"
grep -v '^Address' "$work/full.conf" >"$work/noaddress.conf"
check_fails_saying "a config without Address is refused" "no Address" \
        lab peer b broken --config "$work/noaddress.conf"
sed 's/^PublicKey = .*/PublicKey = notakey/' "$work/full.conf" >"$work/badkey.conf"
check_fails_saying "a config that wg refuses fails, saying so" "wg refused" \
        lab peer b broken --config "$work/badkey.conf"
assert_eq "" "$(ip netns list | grep -- 'peer-broken' || true)" "the failed peer left no namespace"
check_fails "the failed peer left nothing to enter" lab exec-peer broken true
check_fails "a peer name with a space is refused" lab peer b 'bad name' --config "$work/full.conf"
check_fails "exec-peer of an unknown peer fails" lab exec-peer nosuch true

# --- peers from AddPeer ---
addpeer_missing() {
        expect_dbus_error org.freedesktop.DBus.Error.NotSupported \
                cell_call a $cell org.pic.Cell1 AddPeer 'sa{sv}' lab-probe 0 2>/dev/null
}
if addpeer_missing; then
        skip "cell a's pic-celld does not hand out peers yet (AddPeer is NotSupported)"
else
        cell_call a $cell org.pic.Cell1 RemovePeer s lab-probe >/dev/null 2>&1 || true
        check "peer lap comes up with AddPeer's config (full tunnel)" lab peer a lap
        check "lap reaches cell a's tunnel address" lab exec-peer lap ping -c 1 -W 2 10.77.1.1
        assert_eq "$(lab lan-addr a)" "$(lab exec-peer lap timeout 10 "$PIC_LAB_TOOLS/http-get" "$inet" 2>&1)" \
                "the internet host sees lap by cell a's LAN address"
        assert_eq "10.77.1.1" "$(lab exec-peer lap dig +short +time=2 +tries=1 files.cella.cell 2>&1)" \
                "lap resolves cell a's names with the DNS from its config"
        check "peer phone comes up with AddPeer's config (--partial)" lab peer a phone --partial
        check "phone reaches cell a's tunnel address" lab exec-peer phone ping -c 1 -W 2 10.77.1.1
        phone_ip=$(lab exec-peer phone ip -4 -o address show lan0 | sed -E 's/.* inet ([0-9.]+)\/.*/\1/')
        assert_eq "$phone_ip" "$(lab exec-peer phone timeout 10 "$PIC_LAB_TOOLS/http-get" "$inet" 2>&1)" \
                "the internet host sees phone by its own LAN address"
fi

# --- down removes the peers ---
check "pic-lab down succeeds" lab down
assert_eq "" "$(ip netns list)" "no namespace is left, the peers' included"
assert_eq "" "$(pgrep -x wireguard-go || true)" "no wireguard-go is left"
rm -rf "$work"
