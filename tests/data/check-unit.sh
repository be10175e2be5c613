#!/bin/bash
# check-unit.sh: has systemd-analyze verify the service unit (any warning fails) and keep its exposure score low.
# Usage: check-unit.sh SYSTEMD_ANALYZE UNIT DAEMON_BINARY
# ExecStart= points where the daemon will be installed; the copy checked here
# points at the built binary instead, since verify insists that it exists.
set -uo pipefail

analyze=$1 unit=$2 daemon=$(readlink -f "$3")
[[ -n $analyze ]] || { echo "SKIP: systemd-analyze is missing"; exit 77; }

dir=$(mktemp -d)
trap 'rm -rf "$dir"' EXIT
name=$(basename "$unit")
sed "s|^ExecStart=.*/pic-celld|ExecStart=$daemon|" "$unit" >"$dir/$name"

if ! out=$("$analyze" verify --man=no "$dir/$name" 2>&1); then
        # Where systemd-analyze cannot work at all, the syntax test still runs.
        if grep -qi 'failed to initialize manager\|operation not permitted' <<<"$out"; then
                echo "SKIP: systemd-analyze verify cannot run here: $out"
                exit 77
        fi
        echo "FAIL: systemd-analyze verify: $out"
        exit 1
fi
if [[ -n $out ]]; then
        echo "FAIL: systemd-analyze verify warns: $out"
        exit 1
fi

# The unit is hardened as far as a root network daemon can be; an exposure
# above 3.0 means a protection was dropped.
if "$analyze" security --help 2>/dev/null | grep -q -- '--offline'; then
        if ! out=$("$analyze" security --offline=true --threshold=30 "$dir/$name" 2>&1); then
                echo "FAIL: exposure score above 3.0:"
                echo "$out" | grep -v '✓'
                exit 1
        fi
fi
exit 0
