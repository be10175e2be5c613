#!/bin/bash
# check-cell-conf.sh: checks the shipped cell.conf is a key file whose [Daemon] group documents every setting, all commented out.
# Usage: check-cell-conf.sh CELL_CONF
set -uo pipefail

conf=$1
failed=0
fail() { echo "FAIL: $*"; failed=1; }

# Every active line is a group header: shipping defaults as live settings
# would hide later changes of the built-in defaults.
while IFS= read -r line; do
        fail "an active line, not commented out: '$line'"
done < <(grep -v '^#' "$conf" | grep -v '^[[:space:]]*$' | grep -v '^\[Daemon\]$')
grep -qx '\[Daemon\]' "$conf" || fail "there is no [Daemon] group"

declare -A defaults=(
        [Interface]=wg0 [ListenPort]=51820 [SyncPort]=51821 [Uplink]=auto
        [Endpoint]=auto [DnsBackend]=dnsmasq [DnsmasqBusName]=uk.org.thekelleys.dnsmasq
        [WireGuard]=auto [UserspaceCommand]=wireguard-go [StateDirectory]=
)
for key in "${!defaults[@]}"; do
        grep -qx "#$key=${defaults[$key]}" "$conf" ||
                fail "no line '#$key=${defaults[$key]}' documenting the default of $key"
done
exit $failed
