#!/bin/bash
# test-resilience-foreign.sh: what the admin configured by hand — nftables
# tables (one of them called pic_cell, in another family), ip rules just
# outside the service's priority range, routes of other protocols, one of
# them on the service's own interface — survives the service's start, its
# changes, stop, restart and kill -9, untouched.
source "$(dirname "$0")/lib.sh"
source "$(dirname "$0")/cell-bus.sh"

cell=/org/pic/Cell1
CELL_KERNEL=$PIC_TOP/tests/tools/cell-kernel

# The service starts only when first called, after the admin's state exists.
PIC_LAB_START_DAEMON=0 lab up 2
state_a=$(lab cell-dir a)/state/state.json

check "the admin's nftables tables" cell_exec a nft -f - <<'NFT'
table inet admin {
        set blocked {
                type ipv4_addr
                elements = { 192.0.2.7, 192.0.2.9 }
        }
        chain input {
                type filter hook input priority 0; policy accept;
                ip saddr @blocked counter drop
                tcp dport 9 counter drop
        }
        chain forward_admin {
                type filter hook forward priority -5; policy accept;
                iifname "wg0" tcp dport 25 counter drop
        }
}
table ip pic_cell {
        chain out {
                type filter hook output priority 0; policy accept;
                ip daddr 192.0.2.1 counter drop
        }
}
table ip6 admin6 {
        chain input {
                type filter hook input priority 0; policy accept;
        }
}
NFT
check "the admin's ip rules, just outside the service's range" cell_exec a sh -ec '
        ip rule add from 192.0.2.0/24 lookup 100 priority 30999
        ip rule add from 192.0.2.0/24 lookup 100 priority 31100
        ip rule add fwmark 0x10 lookup 100 priority 1000
        ip rule add to 198.51.100.0/24 lookup main priority 32000'
check "the admin's routes, of other protocols" cell_exec a sh -ec '
        ip route add 198.51.100.0/24 via 172.31.77.1 proto static
        ip route add 203.0.113.0/24 dev lan0 proto boot table 100
        ip route add blackhole 192.0.2.0/24 proto static
        ip route add default via 172.31.77.1 table 100 proto static'

# Everything the admin made, as the kernel lists it (-s: no counters).
foreign() {
        cell_exec a nft -s list table inet admin 2>&1
        cell_exec a nft -s list table ip pic_cell 2>&1
        cell_exec a nft -s list table ip6 admin6 2>&1
        cell_exec a ip rule show | awk -F: '$1 < 31000 || $1 > 31099'
        cell_exec a ip route show table all proto static
        cell_exec a ip route show table all proto boot
}
before=$(foreign)
diag "$(foreign | grep -c .) lines of the admin's state"

check "pic-celld starts on the first call" cell_get a Name
assert_eq "$before" "$(foreign)" "after the start the admin's state is untouched"
check "a route of the admin on wg0, protocol static" \
        cell_exec a ip route add 10.99.99.0/24 dev wg0 proto static
before=$(foreign)

# The service at work next to it: a link, sharing, a peer leaving through b
# (its own ip rule and routing table).
check "a imports b's invite" cell_call a $cell org.pic.Cell1 ImportInvite s "$(invite_of b)"
check "the cells are linked" wait_until 10 paired_and_connected a cellb
check "a shares files with b" cell_call a "$(link_path cellb)" org.pic.Cell1.Link SetPermissions 'a{sb}' 1 files true
check "b offers its exit to a" cell_call b "$(link_path cella)" org.pic.Cell1.Link SetExitOffered b true
check "a sees the offer" wait_until 5 output_is true link_get a cellb RemoteExitOffered
check "a adds a peer" cell_call a $cell org.pic.Cell1 AddPeer 'sa{sv}' phone 0
check "the peer leaves through b" cell_call a /org/pic/Cell1/peer/phone org.pic.Cell1.Peer SetRouteVia s cellb
check "the service has its own ip rule" wait_until 5 bash -c "$(printf %q "$PIC_LAB") exec a ip rule | grep -q '^31000:'"
check "a's kernel is what its state implies" cell_exec a "$PY" "$CELL_KERNEL" check "$state_a"
assert_eq "$before" "$(foreign)" "after the changes the admin's state is untouched"

check "pic-celld stops (SIGTERM)" kill_daemon a TERM
assert_eq "$before" "$(foreign)" "after the stop the admin's state is untouched"
check "pic-celld starts again" cell_get a Name
assert_eq "$before" "$(foreign)" "after the restart the admin's state is untouched"
check "a's kernel is what its state implies after the restart" cell_exec a "$PY" "$CELL_KERNEL" check "$state_a"

for i in 1 2 3; do
        check "kill -9 of pic-celld ($i/3)" kill_daemon a KILL
        check "pic-celld comes back ($i/3)" cell_get a Name
        assert_eq "$before" "$(foreign)" "after kill -9 and restart ($i/3) the admin's state is untouched"
done
check "a's kernel is what its state implies after the kills" cell_exec a "$PY" "$CELL_KERNEL" check "$state_a"

# The service removes what it made, and only that.
check "the peer goes direct again" cell_call a /org/pic/Cell1/peer/phone org.pic.Cell1.Peer SetRouteVia s ''
check "the service's ip rule is gone" wait_until 5 bash -c "! $(printf %q "$PIC_LAB") exec a ip rule | grep -q '^31000:'"
check "a removes the link" cell_call a $cell org.pic.Cell1 RemoveLink s cellb
check "a's route to b is gone" wait_until 15 output_empty cell_exec a ip -4 route show proto 0xa7
assert_eq "$before" "$(foreign)" "after the service removed its own state the admin's is untouched"
check "the admin's table still drops what it should" \
        bash -c "$(printf %q "$PIC_LAB") exec a nft -s list chain inet admin input | grep -qE 'tcp dport 9 (counter )?drop'"
