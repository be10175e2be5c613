#!/bin/bash
# check-tmpfiles.sh: applies the tmpfiles.d snippet to an empty root and checks the state directory it creates.
# Usage: check-tmpfiles.sh SYSTEMD_TMPFILES FILE
set -uo pipefail

tmpfiles=$1 conf=$(readlink -f "$2")
[[ -n $tmpfiles ]] || { echo "SKIP: systemd-tmpfiles is missing"; exit 77; }

root=$(mktemp -d)
trap 'rm -rf "$root"' EXIT
if ! out=$("$tmpfiles" --create --root="$root" "$conf" 2>&1) || [[ -n $out ]]; then
        echo "FAIL: systemd-tmpfiles: $out"
        exit 1
fi
mode=$(stat -c '%a %U' "$root/var/lib/pic-cell" 2>/dev/null)
[[ $mode == "700 root" ]] || { echo "FAIL: /var/lib/pic-cell is '$mode', expected '700 root'"; exit 1; }
[[ -d $root/run/wireguard ]] || { echo "FAIL: /run/wireguard was not created"; exit 1; }
exit 0
