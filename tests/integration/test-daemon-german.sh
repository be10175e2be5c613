#!/bin/bash
# test-daemon-german.sh: a pic-celld running in German answers D-Bus callers in
# German — a broken invite, a refused one and a parser's message passed on —
# with the same D-Bus error names, and the values it quotes intact.
# shellcheck source=tests/integration/lib.sh
source "$(dirname "$0")/lib.sh"
# shellcheck source=tests/integration/cell-bus.sh
source "$(dirname "$0")/cell-bus.sh"

catalogue=$PIC_BUILD_DIR/po/de/LC_MESSAGES/pic-cell.mo
if [[ ! -f $catalogue ]]; then
        trap - EXIT
        echo "1..0 # SKIP the German catalogue is not built ($catalogue)"
        exit 0
fi

show_build_catalogue "$catalogue" de

# glibc ignores LANGUAGE in the C locale; C.UTF-8 comes with every Debian
# (libc-bin), so no locale has to be generated. The cells' bus hands its
# environment on to the services it starts, pic-celld among them; this
# script and its busctl stay as they were.
LANGUAGE=de LC_ALL=C.UTF-8 lab up 1

# call_error CMD…: the message of the D-Bus error CMD (a busctl call) fails with.
call_error() {
        local out
        if out=$("$@" 2>&1); then
                echo "the call succeeded: $out" >&2
                return 1
        fi
        echo "${out#Call failed: }"
}

cell=/org/pic/Cell1

# Checked by the invite parser, before anything else.
check "a broken invite is still InvalidInvite" expect_dbus_error org.pic.Cell1.Error.InvalidInvite \
        cell_call a $cell org.pic.Cell1 ImportInvite s 'pic1:not-base64!'
assert_eq "invite: die Kurzform enthält bei Byte 10 nach 'pic1:' das Zeichen '!', das nicht zu Base64url gehört" \
        "$(call_error cell_call a $cell org.pic.Cell1 ImportInvite s 'pic1:not-base64!')" \
        "a broken invite is refused in German, its arguments in the German order"
assert_eq "invite: der Text ist leer; geben Sie das JSON der Einladung an oder ihre Kurzform, die mit 'pic1:' beginnt" \
        "$(call_error cell_call a $cell org.pic.Cell1 ImportInvite s '  ')" \
        "an empty invite is refused in German"

# A field's message comes from the address parser and is passed on.
a_invite=$(invite_of a)
craft() {
        python3 - "$a_invite" "$@" <<'PY'
import base64, json, sys
t = sys.argv[1][len("pic1:"):]
inv = json.loads(base64.urlsafe_b64decode(t + "=" * (-len(t) % 4)))
inv.pop("pairing")
for kv in sys.argv[2:]:
    k, v = kv.split("=", 1)
    inv[k] = v
print(json.dumps(inv))
PY
}
assert_eq "vpn_subnet: '10.77.9.0/33' ist kein IPv4-Präfix: Die Präfixlänge muss eine Zahl von 0 bis 32 ohne führende Nullen sein" \
        "$(call_error cell_call a $cell org.pic.Cell1 ImportInvite s "$(craft vpn_subnet=10.77.9.0/33)")" \
        "a bad subnet in an invite is refused in German, quoting it"

# Conflicts with the cell itself.
check "a's own invite is still Conflict" expect_dbus_error org.pic.Cell1.Error.Conflict \
        cell_call a $cell org.pic.Cell1 ImportInvite s "$a_invite"
assert_eq "Der öffentliche Schlüssel von cella ist der eigene Schlüssel dieser Zelle: Eine Einladung dieser Zelle kann nicht in sie selbst importiert werden" \
        "$(call_error cell_call a $cell org.pic.Cell1 ImportInvite s "$a_invite")" \
        "importing a's own invite is refused in German"
# Another cell whose /16 holds a's /24 (and a's addresses, which it keeps).
other_key=$(wg genkey | wg pubkey)
a_subnet=$(cell_get a VpnSubnet)
other_subnet=$(python3 -c 'import ipaddress, sys; print(ipaddress.ip_network(sys.argv[1]).supernet(new_prefix=16))' "$a_subnet")
assert_eq "Das Subnetz $other_subnet von cellz überschneidet sich mit dem Subnetz $a_subnet dieser Zelle: Ändern Sie die Adresse einer der beiden Zellen (Configure Address)" \
        "$(call_error cell_call a $cell org.pic.Cell1 ImportInvite s \
                "$(craft cell_name=cellz domain=cellz.cell public_key="$other_key" vpn_subnet="$other_subnet")")" \
        "an overlapping subnet is refused in German, its arguments in the German order"

assert_eq "" "$(cell_exec a wg show wg0 peers)" "the refused invites left no WireGuard peer"
