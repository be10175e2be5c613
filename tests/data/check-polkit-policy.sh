#!/bin/bash
# check-polkit-policy.sh: validates the merged polkit policy against polkit's DTD and checks its actions, defaults and translations.
# Usage: check-polkit-policy.sh XMLLINT POLICY LANGUAGES...
set -uo pipefail

xmllint=$1 policy=$2
shift 2
languages=("$@")
[[ -n $xmllint ]] || { echo "SKIP: xmllint is missing"; exit 77; }

failed=0
fail() { echo "FAIL: $*"; failed=1; }

dtd=
for candidate in /usr/share/polkit-1/policyconfig-1.dtd /usr/share/dtd/polkit-1/policyconfig-1.dtd; do
        [[ -r $candidate ]] && { dtd=$candidate; break; }
done
if [[ -n $dtd ]]; then
        # polkit's DTD is read from disk: the DOCTYPE's URL must not be fetched.
        out=$("$xmllint" --noout --nonet --dtdvalid "$dtd" "$policy" 2>&1) ||
                fail "not valid against $dtd: $out"
else
        echo "note: polkit's DTD is not installed, checking well-formedness only"
        out=$("$xmllint" --noout --nonet "$policy" 2>&1) || fail "not well-formed: $out"
fi

xpath() { "$xmllint" --nonet --xpath "$1" "$policy" 2>/dev/null; }

for action in org.pic.cell1.manage-links org.pic.cell1.manage-peers org.pic.cell1.configure; do
        a="//action[@id='$action']"
        [[ $(xpath "count($a)") == 1 ]] || { fail "action $action is missing"; continue; }
        for pair in allow_any=no allow_inactive=no allow_active=auth_admin_keep; do
                got=$(xpath "string($a/defaults/${pair%%=*})")
                [[ $got == "${pair#*=}" ]] || fail "$action: ${pair%%=*} is '$got', expected '${pair#*=}'"
        done
        for element in description message; do
                [[ -n $(xpath "string($a/$element[not(@xml:lang)])") ]] ||
                        fail "$action: no untranslated <$element>"
                for lang in "${languages[@]}"; do
                        [[ -n $(xpath "string($a/$element[@xml:lang='$lang'])") ]] ||
                                fail "$action: <$element> has no '$lang' translation merged in"
                done
        done
done
[[ $(xpath "count(//action)") == 3 ]] || fail "expected exactly 3 actions, found $(xpath "count(//action)")"
exit $failed
