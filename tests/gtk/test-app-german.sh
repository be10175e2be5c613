#!/bin/bash
# test-app-german.sh: pic-cell started with LANGUAGE=de on lab cell a speaks
# German: page titles, headings and buttons from its .ui files, texts made in
# its code (a link's status) and the invite parser's messages it shares with
# the service, with no English label left on the pages looked at.
source "$(dirname "$0")/../integration/lib.sh"
source "$(dirname "$0")/../integration/cell-bus.sh"
source "$(dirname "$0")/app.sh"

catalogue=$PIC_BUILD_DIR/po/de/LC_MESSAGES/pic-cell.mo
if [[ ! -x $PIC_CELL_APP || ! -f $catalogue ]]; then
        trap - EXIT
        echo "1..0 # SKIP pic-cell or its German catalogue is not built"
        exit 0
fi

show_build_catalogue "$catalogue" de

lab up 2
# The app goes first, then the lab (with the script's own exit status).
trap 'status=$?; app_stop; (exit $status); _lib_finish' EXIT

# labels_show TEXT…: every TEXT is a label on screen.
labels_show() {
        local labels text
        labels=$(app_state '"\n".join(s["labels"])') || return 1
        for text; do
                grep -qxF -e "$text" <<<"$labels" || return 1
        done
}

# labels_among TEXT…: those of the TEXTs that are labels on screen.
labels_among() {
        local labels text found=()
        labels=$(app_state '"\n".join(s["labels"])') || { echo "(the window could not be read)"; return 1; }
        for text; do
                if grep -qxF -e "$text" <<<"$labels"; then
                        found+=("$text")
                fi
        done
        echo "${found[*]}"
}

# glibc ignores LANGUAGE in the C locale; C.UTF-8 comes with every Debian
# (libc-bin), so no locale has to be generated.
# Not through `check`: that runs its command in a subshell, and app_start sets variables.
if app_start a LANGUAGE=de LC_ALL=C.UTF-8; then
        ok "the app starts on cell a in German"
else
        fatal "the app starts on cell a in German"
fi
check "the window reaches the service" wait_until 20 app_state_is ready 's["service"]'
check "the window shows an invite" wait_until 20 app_state_is true 's["cell"]["invite"].startswith("pic1:")'

# "This Cell": the page switcher, headings, rows and buttons.
check "the pages are called Diese Zelle, Verbundene Zellen and Geräte" \
        wait_until 5 labels_show "Diese Zelle" "Verbundene Zellen" "Geräte"
check "this cell's page speaks German" \
        labels_show "Eine andere Zelle einladen" "Öffentlicher Schlüssel" "Fingerabdruck" "Tunneladresse" "Kopieren"
assert_eq "" "$(labels_among "This Cell" "Linked Cells" "Peers" "Invite Another Cell" "Public Key" "Fingerprint" \
                "Tunnel Address" "Copy")" "no English label is left on this cell's page"

# "Linked Cells", and the invite parser's message as the invite is typed.
check "show-page links is accepted" app_action show-page "'links'"
check "the links page speaks German" wait_until 5 labels_show "Mit einer Zelle verbinden" "Verbinden" "Verbundene Zellen"
app_action connect-invite "'pic1:not-base64!'"
check "a broken invite is refused next to the box" \
        wait_until 5 app_state_is false 's["links"]["connect"]["valid"]'
assert_eq "invite: die Kurzform enthält bei Byte 10 nach 'pic1:' das Zeichen '!', das nicht zu Base64url gehört" \
        "$(app_state 's["links"]["connect"]["message"]')" "the invite's problem is told in German"
assert_eq "" "$(labels_among "Connect to a Cell" "Connect" "Linked Cells")" \
        "no English label is left on the links page"

# A text the code makes: the status of a link.
check "connect-invite is accepted" app_action connect-invite "'$(invite_of b)'"
check "ImportInvite created the link on a" wait_until 20 output_is cellb link_get a cellb Name
check "the row of cellb turns connected" wait_until 20 app_state_is connected \
        '[r["status"] for r in s["links"]["rows"] if r["name"] == "cellb"][0]'
check "show-page links is accepted again" app_action show-page "'links'"
# The row's line is made of the link's status, its last handshake and its traffic.
check "the row says Verbunden, with its handshake and traffic" wait_until 10 app_state_is true \
        'any(__import__("re").fullmatch(r"Verbunden · (letzter Handshake .+|noch kein Handshake) · .+ empfangen, .+ gesendet", t) is not None
             for t in s["labels"])'

if (( _lib_failed > 0 )); then
        diag "$(app_state 's["labels"]' 2>&1)"
        diag "$(app_log)"
fi
app_stop
assert_eq "" "$app_problems" "pic-cell printed no GLib warning or sanitizer report"
