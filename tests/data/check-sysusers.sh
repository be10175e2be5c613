#!/bin/bash
# check-sysusers.sh: applies the sysusers.d snippet to an empty root and checks it creates the group picadmin.
# Usage: check-sysusers.sh SYSTEMD_SYSUSERS FILE
set -uo pipefail

sysusers=$1 conf=$(readlink -f "$2")
[[ -n $sysusers ]] || { echo "SKIP: systemd-sysusers is missing"; exit 77; }

root=$(mktemp -d)
trap 'rm -rf "$root"' EXIT
mkdir -p "$root/etc"
if ! out=$("$sysusers" --root="$root" "$conf" 2>&1); then
        echo "FAIL: systemd-sysusers: $out"
        exit 1
fi
grep -q '^picadmin:' "$root/etc/group" || { echo "FAIL: no group picadmin in: $(cat "$root/etc/group")"; exit 1; }
if [[ -s $root/etc/passwd ]] && grep -v '^root:' "$root/etc/passwd" | grep -q .; then
        echo "FAIL: the snippet creates users, the service needs none: $(cat "$root/etc/passwd")"
        exit 1
fi
exit 0
