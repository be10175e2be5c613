#!/bin/bash
# test-lab-smoke.sh: the lab itself works — buses, polkit, dnsmasq, test users, LAN, the internet host, a clean down.
# shellcheck source=tests/integration/lib.sh
source "$(dirname "$0")/lib.sh"

lab_dir=${PIC_LAB_DIR:-/run/pic-lab}
host_links_before=$(ip -o link show | cut -d' ' -f2)
host_routes_before=$(ip route show table all)

# pic-celld is checked on its own at the end, so that a daemon still being
# written cannot hide how the lab itself does.
started=${EPOCHREALTIME/./}
PIC_LAB_START_DAEMON=0 lab up 2
diag "pic-lab up 2 took $(( (${EPOCHREALTIME/./} - started) / 1000 )) ms"

assert_eq "a b" "$(lab cells | paste -sd' ')" "two cells are up"
assert_eq "$host_links_before" "$(ip -o link show | cut -d' ' -f2)" "the host's interfaces are unchanged"
assert_eq "$host_routes_before" "$(ip route show table all)" "the host's routes are unchanged"

i=0
for cell in a b; do
        i=$((i + 1))
        check "cell $cell: its system bus answers" \
                cell_exec "$cell" busctl --system list
        assert_eq "unix:path=$(lab cell-dir "$cell")/system_bus_socket" \
                "$(cell_exec "$cell" printenv DBUS_SYSTEM_BUS_ADDRESS)" \
                "cell $cell: exec sets DBUS_SYSTEM_BUS_ADDRESS"
        check "cell $cell: polkitd answers" \
                cell_exec "$cell" busctl --system get-property org.freedesktop.PolicyKit1 \
                /org/freedesktop/PolicyKit1/Authority org.freedesktop.PolicyKit1.Authority BackendName
        assert_eq "b true" \
                "$(cell_exec "$cell" busctl --system call org.freedesktop.DBus /org/freedesktop/DBus \
                        org.freedesktop.DBus NameHasOwner s uk.org.thekelleys.dnsmasq)" \
                "cell $cell: dnsmasq owns its bus name"
        assert_eq "10.77.$i.1" \
                "$(cell_exec "$cell" dig +short +time=2 +tries=1 @127.0.0.1 files.cell$cell.cell)" \
                "cell $cell: dnsmasq answers its own domain with the tunnel address"
        assert_eq "cell$cell" "$(cell_exec "$cell" hostname)" "cell $cell: has its own host name"
        assert_eq "172.31.77.$((10 + i))" "$(lab lan-addr "$cell")" "cell $cell: LAN address"
        assert_contains "$(cell_exec "$cell" ip -br addr show lan0)" "172.31.77.$((10 + i))/24" \
                "cell $cell: lan0 holds the LAN address"
        assert_eq "picadmin" "$(cell_exec "$cell" id -nG picadmin)" "cell $cell: picadmin is in group picadmin"
        assert_eq "picuser" "$(cell_exec "$cell" id -nG picuser)" "cell $cell: picuser exists"
        assert_eq "picuser" "$(cell_exec "$cell" as_user picuser id -un)" "cell $cell: as_user runs as picuser"
        assert_eq "$(lab cell-dir "$cell")/system_bus_socket" \
                "$(cell_exec "$cell" as_user picuser printenv DBUS_SYSTEM_BUS_ADDRESS | sed 's/^unix:path=//')" \
                "cell $cell: as_user keeps the bus address"
        check_fails "cell $cell: has a /run of its own (no /run/netns in it)" \
                cell_exec "$cell" test -e /run/netns
        check "cell $cell: /run/wireguard exists and is empty" \
                cell_exec "$cell" find /run/wireguard -maxdepth 0 -empty
done
check_fails "picadmin does not exist on the host" getent passwd picadmin
check_fails "picuser does not exist on the host" getent passwd picuser
assert_eq "$PWD" "$(cell_exec a pwd)" "exec keeps the working directory"

check "cell a reaches cell b over the LAN" cell_exec a ping -c 1 -W 2 "$(lab lan-addr b)"
check "cell b reaches cell a over the LAN" cell_exec b ping -c 1 -W 2 "$(lab lan-addr a)"
inet=$(lab inet-addr)
assert_eq "172.31.77.2:80" "$inet" "inet-addr names the internet host"
for cell in a b; do
        assert_eq "$(lab lan-addr "$cell")" "$(http_get "$cell" "$inet")" \
                "the internet host sees cell $cell by its LAN address"
done

expect_picuser_denied() {
        expect_dbus_error org.freedesktop.DBus.Error.AccessDenied \
                cell_exec a as_user picuser busctl --system call uk.org.thekelleys.dnsmasq \
                /uk/org/thekelleys/dnsmasq uk.org.thekelleys.dnsmasq GetVersion
}
check "the bus policy keeps picuser away from dnsmasq (expect_dbus_error)" expect_picuser_denied
check_fails "expect_dbus_error rejects a call that succeeds" \
        expect_dbus_error org.freedesktop.DBus.Error.AccessDenied \
        cell_exec a busctl --system call uk.org.thekelleys.dnsmasq \
        /uk/org/thekelleys/dnsmasq uk.org.thekelleys.dnsmasq GetVersion

# dnsmasq listens on the tunnel address once it appears (--bind-dynamic); a
# veth stands in for the WireGuard interface pic-celld would make (the
# kernel here may have no dummy interfaces).
cell_exec b ip link add wg0 type veth peer name wg0-peer
cell_exec b ip addr add 10.77.2.1/24 dev wg0
cell_exec b ip link set wg0 up
wait_for_tunnel_dns() {
        [[ $(cell_exec b dig +short +time=1 +tries=1 @10.77.2.1 mail.cellb.cell) == 10.77.2.1 ]]
}
check "cell b: dnsmasq answers on a tunnel address that appears later" wait_until 10 wait_for_tunnel_dns
cell_exec b ip link del wg0

# polkit in a cell reads the cell's own rules directory, at once, and knows
# the cell's users: a rule for group picadmin lets picadmin through only.
# pkcheck asks about a process of that user, started here.
runs_as_user() {
        [[ $(stat -c %u "/proc/$1") != 0 ]]
}
polkit_allows() {
        local cell=$1 user=$2 action=$3 pid status=0
        # pic-lab exec ends in exec, so $! becomes the sleep itself.
        "$PIC_LAB" exec "$cell" setpriv --reuid="$user" --regid="$user" --init-groups -- sleep 30 &
        pid=$!
        wait_until 5 runs_as_user "$pid" || true
        cell_exec "$cell" pkcheck --action-id "$action" --process "$pid" >/dev/null 2>&1 || status=$?
        kill "$pid" 2>/dev/null || true
        wait "$pid" 2>/dev/null || true
        return "$status"
}
cat >"$(lab cell-dir a)/polkit-rules/99-lab-smoke.rules" <<'EOF'
// 99-lab-smoke.rules: written by test-lab-smoke.sh to see that the cell's rules directory is read.
polkit.addRule(function(action, subject) {
        if (action.id == "org.freedesktop.policykit.exec" && subject.isInGroup("picadmin"))
                return polkit.Result.YES;
        return polkit.Result.NOT_HANDLED;
});
EOF
check "polkit: a new rule in cell a's rules directory lets picadmin through" \
        wait_until 10 polkit_allows a picadmin org.freedesktop.policykit.exec
check_fails "polkit: the rule does not let picuser through" \
        polkit_allows a picuser org.freedesktop.policykit.exec
check_fails "polkit: cell b did not get cell a's rule" \
        polkit_allows b picadmin org.freedesktop.policykit.exec

if [[ -f $PIC_BUILD_DIR/polkit/org.pic.cell1.policy && -f $PIC_TOP/polkit/50-pic-cell-picadmin.rules ]]; then
        check "polkit: the project's example rules let picadmin configure a cell" \
                polkit_allows a picadmin org.pic.cell1.configure
        check_fails "polkit: picuser may not configure a cell" \
                polkit_allows a picuser org.pic.cell1.configure
else
        skip "the project's polkit policy or rules are not built yet"
fi

# pic-celld, once it runs at all, is started by bus activation.
if timeout 10 "$PIC_BUILD_DIR/service/pic-celld" --version >/dev/null 2>&1; then
        check "cell a: pic-celld starts by bus activation" \
                cell_exec a busctl --system --timeout=20 call org.freedesktop.DBus /org/freedesktop/DBus \
                org.freedesktop.DBus StartServiceByName su org.pic.Cell1 0
        assert_eq 's "cella"' \
                "$(cell_exec a busctl --system get-property org.pic.Cell1 /org/pic/Cell1 org.pic.Cell1 Name 2>&1)" \
                "cell a: pic-celld took its name from the lab's cell.conf"
else
        skip "pic-celld does not run yet"
fi

# Everything the lab started, found by its records and by namespace.
mapfile -t lab_netns <"$lab_dir/netns"
lab_pids=()
while read -r pid _; do
        lab_pids+=("$pid")
done <"$lab_dir/pids"
for ns in "${lab_netns[@]}"; do
        mapfile -t -O "${#lab_pids[@]}" lab_pids < <(ip netns pids "$ns")
done
diag "the lab runs ${#lab_pids[@]} processes in ${#lab_netns[@]} namespaces"

check "pic-lab down succeeds" lab down
check "pic-lab down again is harmless" lab down
left=()
for pid in "${lab_pids[@]}"; do
        if [[ -e /proc/$pid ]] && ! grep -q '^State:.*Z' "/proc/$pid/status" 2>/dev/null; then
                left+=("$pid $(tr '\0' ' ' <"/proc/$pid/cmdline" 2>/dev/null)")
        fi
done
assert_eq "" "${left[*]}" "no process of the lab survives down"
left=()
for name in dbus-daemon dnsmasq polkitd pic-celld wireguard-go; do
        mapfile -t -O "${#left[@]}" left < <(pgrep -x "$name")
done
assert_eq "" "${left[*]}" "no bus, dnsmasq, polkitd, pic-celld or wireguard-go is left"
assert_eq "" "$(ip netns list)" "no namespace is left"
assert_eq "" "$(find "$lab_dir" -mindepth 1 2>/dev/null)" "the lab directory is empty"
check_fails "exec fails once the lab is down" lab exec a true
