#!/bin/bash
# check-activation.sh: checks the bus activation file names the bus name and an absolute Exec=, and agrees with the systemd unit.
# Usage: check-activation.sh ACTIVATION_FILE SYSTEMD_UNIT
set -uo pipefail

activation=$1 unit=$2
failed=0
fail() { echo "FAIL: $*"; failed=1; }

value() { sed -n "s/^$2=//p" "$1"; }

[[ $(grep -v '^#' "$activation" | grep -v '^$' | head -1) == "[D-BUS Service]" ]] ||
        fail "$activation does not start with the [D-BUS Service] group"
[[ $(value "$activation" Name) == org.pic.Cell1 ]] ||
        fail "Name= is '$(value "$activation" Name)', expected 'org.pic.Cell1'"
exec_line=$(value "$activation" Exec)
[[ $exec_line == /*/pic-celld ]] ||
        fail "Exec= is '$exec_line', expected an absolute path to pic-celld"
[[ $exec_line != *@* ]] || fail "Exec= still holds a placeholder: '$exec_line'"
[[ $(value "$activation" User) == root ]] ||
        fail "User= is '$(value "$activation" User)', expected 'root'"

systemd_service=$(value "$activation" SystemdService)
[[ $systemd_service == "$(basename "$unit")" ]] ||
        fail "SystemdService= is '$systemd_service', but the unit is $(basename "$unit")"
[[ $(value "$unit" BusName) == "$(value "$activation" Name)" ]] ||
        fail "the unit's BusName= '$(value "$unit" BusName)' differs from the activation file's Name="
[[ $(value "$unit" ExecStart) == "$exec_line" ]] ||
        fail "the unit's ExecStart= '$(value "$unit" ExecStart)' differs from Exec= '$exec_line'"

exit $failed
