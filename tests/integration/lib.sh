# lib.sh: helpers for the integration tests on the lab, sourced by tests/integration/test-*.sh.
# shellcheck shell=bash
#
# A test script:
#       #!/bin/bash
#       source "$(dirname "$0")/lib.sh"
#       lab up 2
#       check "cell a's bus answers" cell_exec a busctl --system list
#       assert_eq "cella" "$(cell_exec a hostname)" "cell a is called cella"
#
# Output is TAP ("ok N - …", "not ok N - …", "# diagnostics", the plan last).
# An assertion that fails is counted and the script goes on; the exit status is
# non-zero if anything failed or the script itself stopped with an error. On
# exit, whatever happened, the lab is taken down (after its logs are shown, on
# failure). Run directly, a test re-runs itself through tests/lab/lab-run, so
# that it is always contained.

set -euo pipefail

PIC_TOP=$(readlink -f "$(dirname "${BASH_SOURCE[0]}")/../..")
PIC_LAB=$PIC_TOP/tests/lab/pic-lab
PIC_LAB_TOOLS=$PIC_TOP/tests/lab
export PIC_BUILD_DIR=${PIC_BUILD_DIR:-$PIC_TOP/build}

# The system's python3 where there is one: a version manager's shim found
# first on PATH costs 0.2 s a start, and the tests start it often. PY names
# it for commands run inside a cell, where a function does not reach.
PY=python3
if [[ -x /usr/bin/python3 ]]; then
        PY=/usr/bin/python3
        python3() { /usr/bin/python3 "$@"; }
fi

if [[ -z ${PIC_LAB_CONTAINED-} ]]; then
        exec "$PIC_TOP/tests/lab/lab-run" "$0" "$@"
fi

_lib_count=0
_lib_failed=0

# --- output ---

diag() {
        [[ -n $* ]] || return 0
        local line
        while IFS= read -r line; do
                echo "# $line"
        done <<<"$*"
}

ok() {
        _lib_count=$((_lib_count + 1))
        echo "ok $_lib_count - $*"
}

not_ok() {
        _lib_count=$((_lib_count + 1))
        _lib_failed=$((_lib_failed + 1))
        echo "not ok $_lib_count - $*"
}

skip() {
        _lib_count=$((_lib_count + 1))
        echo "ok $_lib_count - # SKIP $*"
}

# Stops the test at once (the lab still goes down).
fatal() {
        not_ok "$*"
        exit 1
}

# --- the lab ---

lab() {
        "$PIC_LAB" "$@"
}

# saved_state CELL prints the cell's state as saved: state.json with the
# records of its journal applied (tests/tools/statefile.py).
saved_state() {
        "$PY" "$PIC_TOP/tests/tools/cell-state" "$(lab cell-dir "$1")/state/state.json"
}

# cell_exec CELL CMD… runs CMD in the cell, on its bus. `cell_exec CELL as_user
# USER CMD…` runs it as that user of the cell (picadmin, picuser).
cell_exec() {
        local cell=$1; shift
        if [[ ${1-} == as_user ]]; then
                shift
                local user=$1; shift
                set -- setpriv --reuid="$user" --regid="$user" --init-groups -- "$@"
        fi
        "$PIC_LAB" exec "$cell" "$@"
}

# as_user USER CMD… runs CMD as USER here, keeping the environment (and with it
# DBUS_SYSTEM_BUS_ADDRESS); inside a cell, use `cell_exec CELL as_user …`.
as_user() {
        local user=$1; shift
        setpriv --reuid="$user" --regid="$user" --init-groups -- "$@"
}

# Prints the body of http://ADDR/PATH fetched from inside CELL.
http_get() {
        local cell=$1 addr=$2 path=${3:-/}
        cell_exec "$cell" timeout 10 "$PIC_LAB_TOOLS/http-get" "$addr" "$path"
}

# --- checks that print a TAP line ---

# check DESC CMD…: ok when CMD succeeds; its output is shown when it does not.
check() {
        local desc=$1; shift
        local out status=0
        out=$("$@" 2>&1) || status=$?
        if (( status == 0 )); then
                ok "$desc"
        else
                not_ok "$desc"
                diag "command: $* (exit $status)"
                [[ -z $out ]] || diag "$out"
        fi
}

# check_fails DESC CMD…: ok when CMD fails.
check_fails() {
        local desc=$1; shift
        local out status=0
        out=$("$@" 2>&1) || status=$?
        if (( status != 0 )); then
                ok "$desc"
        else
                not_ok "$desc"
                diag "command: $* succeeded but should have failed"
                [[ -z $out ]] || diag "$out"
        fi
}

assert_eq() {
        local expected=$1 actual=$2 desc=$3
        if [[ $actual == "$expected" ]]; then
                ok "$desc"
        else
                not_ok "$desc"
                diag "expected: '$expected'"
                diag "got:      '$actual'"
        fi
}

assert_contains() {
        local haystack=$1 needle=$2 desc=$3
        if [[ $haystack == *"$needle"* ]]; then
                ok "$desc"
        else
                not_ok "$desc"
                diag "expected to contain: '$needle'"
                diag "in: '$haystack'"
        fi
}

# --- predicates (no TAP line; use them with `check`, `if`, `wait_until`) ---

# wait_until SECONDS CMD…: true as soon as CMD succeeds, false after SECONDS.
wait_until() {
        local secs=$1; shift
        local deadline=$(( ${EPOCHREALTIME/./} + secs * 1000000 ))
        until "$@" >/dev/null 2>&1; do
                (( ${EPOCHREALTIME/./} < deadline )) || return 1
                sleep 0.05
        done
}

# expect_dbus_error NAME CMD…: true when CMD (a busctl or gdbus call, possibly
# through cell_exec) fails with the D-Bus error NAME. busctl does not print
# error names, but sd-bus's debug log does, so it is turned on for the call.
expect_dbus_error() {
        local name=$1; shift
        local out status=0
        out=$(SYSTEMD_LOG_LEVEL=debug "$@" 2>&1) || status=$?
        if (( status == 0 )); then
                echo "the call succeeded; expected the error $name" >&2
                return 1
        fi
        local re="(^|[=:[:space:]])${name//./\\.}([:[:space:]]|\$)"
        if ! grep -qE "$re" <<<"$out"; then
                echo "expected the error $name; the call printed:" >&2
                grep -E 'error-name=|Error|failed' <<<"$out" | grep -v 'error-name=n/a' >&2 || echo "$out" >&2
                return 1
        fi
}

# --- the end ---

# show_build_catalogue MO-FILE LANG: makes the programs of this run find the
# build's catalogue for LANG. They look for it only in LOCALEDIR, compiled in
# (the install prefix); lab-run gives the script a mount namespace of its own,
# so a read-only overlay there shows the catalogue in LOCALEDIR, on top of
# whatever the directory holds, to this run only; cells made afterwards
# inherit it. The stage lives in lab-run's private /run and goes with it.
show_build_catalogue() {
        local catalogue=$1 lang=$2 localedir dir rel stage
        localedir=$(sed -n 's/^#define LOCALEDIR "\(.*\)"$/\1/p' "$PIC_BUILD_DIR/config.h")
        [[ $localedir == /?* ]] || { echo "no LOCALEDIR in $PIC_BUILD_DIR/config.h" >&2; return 1; }
        # With the default prefix LOCALEDIR may not exist yet: the overlay then
        # goes on the nearest directory that does.
        dir=$localedir
        while [[ ! -d $dir ]]; do
                dir=${dir%/*}
        done
        [[ -n $dir && $dir != / ]] || { echo "no directory to show $localedir in" >&2; return 1; }
        rel=${localedir#"$dir"}
        stage=$(mktemp -d /run/pic-catalogue.XXXXXX)
        mkdir -p "$stage$rel/$lang/LC_MESSAGES"
        cp "$catalogue" "$stage$rel/$lang/LC_MESSAGES/"
        mount -t overlay overlay -o "ro,lowerdir=$stage:$dir" "$dir"
}

_lib_finish() {
        local status=$?
        trap - EXIT
        set +e
        if (( status != 0 )); then
                not_ok "the test script stopped with exit status $status"
        fi
        if (( _lib_failed > 0 )); then
                diag "$("$PIC_LAB" logs 2>&1)"
        fi
        local out
        out=$("$PIC_LAB" down 2>&1) || {
                not_ok "pic-lab down"
                diag "$out"
        }
        echo "1..$_lib_count"
        (( _lib_failed == 0 )) || exit 1
        exit 0
}
trap _lib_finish EXIT
