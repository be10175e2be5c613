#!/bin/bash
# check-man.sh: formats each manual page for the terminal and for print and fails on any warning of groff or man.
# Usage: check-man.sh PAGE…
set -uo pipefail

command -v groff >/dev/null || { echo "SKIP: groff is missing (package groff-base)"; exit 77; }
export LC_ALL=C.UTF-8

failed=0
for page in "$@"; do
        name=$(basename "$page")
        # -ww: every warning; -z: format, print nothing; -t: tables; -K: input encoding.
        for device in utf8 ps; do
                out=$(groff -man -ww -z -t -K utf8 -T "$device" "$page" 2>&1)
                if [[ -n $out ]]; then
                        echo "FAIL: $name (groff -T $device):"
                        echo "$out"
                        failed=1
                fi
        done
        # man-db's own pipeline, as a reader runs it. Its stdout goes through a
        # pipe: man-db formats nothing when it writes to /dev/null.
        # --warnings=w is groff's -ww (every warning).
        if command -v man >/dev/null; then
                out=$( { MANWIDTH=80 man --warnings=w -l "$page" 2>&3 | cat >/dev/null; } 3>&1 )
                if [[ -n $out ]]; then
                        echo "FAIL: $name (man --warnings):"
                        echo "$out"
                        failed=1
                fi
        fi
        # The page names itself in .TH as its file name says.
        base=${name%.*} section=${name##*.}
        th=$(grep -m1 '^\.TH ' "$page")
        expected=".TH ${base^^} $section "
        expected=${expected//-/\\-}
        if [[ $th != "$expected"* ]]; then
                echo "FAIL: $name: '$th' should start with '$expected'"
                failed=1
        fi
done
(( failed == 0 )) && echo "PASS: $# manual pages format without warnings"
exit "$failed"
