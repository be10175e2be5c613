#!/bin/bash
# check-po.sh: checks one translation compiles with msgfmt --check and translates every string the sources mark, none fuzzy.
# Usage: check-po.sh MSGFMT XGETTEXT MSGCMP SOURCE_ROOT PO_FILE
set -uo pipefail

msgfmt=$1 xgettext=$2 msgcmp=$3 srcroot=$4 po=$5
[[ -n $msgfmt ]] || { echo "SKIP: msgfmt is missing"; exit 77; }

failed=0
if ! out=$("$msgfmt" --check --statistics -o /dev/null "$po" 2>&1); then
        echo "FAIL: msgfmt --check: $out"
        failed=1
elif grep -q 'fuzzy\|untranslated' <<<"$out"; then
        echo "FAIL: $(basename "$po") is incomplete: $out"
        failed=1
fi

# Against a template made from the sources now, so a new string without a
# translation fails here rather than in front of a user.
if [[ -n $xgettext && -n $msgcmp ]]; then
        dir=$(mktemp -d)
        trap 'rm -rf "$dir"' EXIT
        # The keywords of the build's update-po (meson's glib preset): without
        # them xgettext would see no _() in C at all.
        if ! out=$(cd "$srcroot" && "$xgettext" --from-code=UTF-8 --files-from=po/POTFILES.in \
                        --keyword=_ --keyword=N_ --keyword=C_:1c,2 --keyword=NC_:1c,2 \
                        --keyword=g_dcgettext:2 --keyword=g_dngettext:2,3 --keyword=g_dpgettext2:2c,3 \
                        --output="$dir/template.pot" 2>&1); then
                echo "FAIL: xgettext: $out"
                exit 1
        fi
        if ! out=$("$msgcmp" "$po" "$dir/template.pot" 2>&1); then
                echo "FAIL: $(basename "$po") lacks strings of the sources: $out"
                failed=1
        fi
fi
exit $failed
