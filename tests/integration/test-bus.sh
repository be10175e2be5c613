#!/bin/bash
# test-bus.sh: pic-celld on a cell's own system bus: activation, the API as
# published, polkit deciding who may change what, Configure and CreateInvite.
source "$(dirname "$0")/lib.sh"
source "$(dirname "$0")/cell-bus.sh"

lab up 1
cell=/org/pic/Cell1

check "the first call activates pic-celld" cell_get a Name
assert_eq "cella" "$(cell_get a Name)" "the cell is called cella"

live=$(mktemp)
cell_exec a busctl --system --xml-interface introspect org.pic.Cell1 $cell >"$live"
check "introspection of /org/pic/Cell1 equals dbus/org.pic.Cell1.xml" \
        python3 "$PIC_TOP/tests/integration/compare-introspection.py" "$PIC_API_XML" "$live" org.pic.Cell1
check "/org/pic/Cell1 is an ObjectManager" \
        cell_call a $cell org.freedesktop.DBus.ObjectManager GetManagedObjects

# Reading is open to everyone.
all=$(cell_exec a as_user picuser busctl --system call org.pic.Cell1 $cell \
        org.freedesktop.DBus.Properties GetAll s org.pic.Cell1 2>&1) || true
for prop in Name Domain Address VpnSubnet DnsAddress Endpoint ListenPort SyncPort PublicKey \
            Interface WireGuardBackend Services; do
        assert_contains "$all" "\"$prop\"" "picuser reads $prop"
done

# Changing needs polkit's yes: picuser has none.
domain_before=$(cell_get a Domain)
check "picuser calling Configure gets AccessDenied" \
        expect_dbus_error org.freedesktop.DBus.Error.AccessDenied \
        cell_call a as_user picuser $cell org.pic.Cell1 Configure 'a{sv}' 1 Domain s evil.cell
assert_eq "$domain_before" "$(cell_get a Domain)" "the refused Configure changed nothing"
check "picuser calling CreateInvite gets AccessDenied" \
        expect_dbus_error org.freedesktop.DBus.Error.AccessDenied \
        cell_call a as_user picuser $cell org.pic.Cell1 CreateInvite 'a{sv}' 0
check "without interaction allowed, picuser still gets a clear no" \
        expect_dbus_error org.freedesktop.DBus.Error.AccessDenied \
        cell_exec a as_user picuser busctl --system --allow-interactive-authorization=no call \
        org.pic.Cell1 $cell org.pic.Cell1 Configure 'a{sv}' 1 Domain s evil.cell

# Bad values are refused with the value quoted, before polkit is asked.
out=$(cell_call a as_user picadmin $cell org.pic.Cell1 Configure 'a{sv}' 1 Address s 10.0.0.1/33 2>&1) || true
assert_contains "$out" "'10.0.0.1/33'" "a bad Address is refused quoting it"
check "a bad Address is InvalidArgument" \
        expect_dbus_error org.pic.Cell1.Error.InvalidArgument \
        cell_call a as_user picadmin $cell org.pic.Cell1 Configure 'a{sv}' 1 Address s 10.0.0.1/33
check "an unknown setting is InvalidArgument" \
        expect_dbus_error org.pic.Cell1.Error.InvalidArgument \
        cell_call a $cell org.pic.Cell1 Configure 'a{sv}' 1 Colour s blue
check "a setting of the wrong type is InvalidArgument" \
        expect_dbus_error org.pic.Cell1.Error.InvalidArgument \
        cell_call a $cell org.pic.Cell1 Configure 'a{sv}' 1 Domain u 7
check "a bad domain is InvalidArgument" \
        expect_dbus_error org.pic.Cell1.Error.InvalidArgument \
        cell_call a $cell org.pic.Cell1 Configure 'a{sv}' 1 Domain s 'bad..cell'

# picadmin may, through the example rules; the change is signalled and kept.
signals=$(mktemp)
cell_exec a timeout 5 busctl --system monitor \
        --match "type='signal',interface='org.freedesktop.DBus.Properties',path='$cell'" >"$signals" 2>&1 &
monitor=$!
sleep 0.5
check "picadmin calling Configure succeeds" \
        cell_call a as_user picadmin $cell org.pic.Cell1 Configure 'a{sv}' 2 Domain s home.example Endpoint s 198.51.100.7:51820
wait "$monitor" || true
assert_contains "$(cat "$signals")" "PropertiesChanged" "Configure emitted PropertiesChanged"
assert_contains "$(cat "$signals")" "home.example" "the signal carries the new domain"
assert_eq "home.example" "$(cell_get a Domain)" "the new domain is in effect"
mode=$(stat -c %a "$(lab cell-dir a)/state/state.journal")
assert_eq "600" "$mode" "the change went to state.journal, mode 0600"

check "pic-celld stops on SIGTERM" kill_daemon a TERM
assert_eq "home.example" "$(cell_get a Domain)" "the domain survives a restart (activated again)"
assert_eq "198.51.100.7:51820" "$(cell_get a Endpoint)" "the endpoint survives a restart"
mode=$(stat -c %a "$(lab cell-dir a)/state/state.json")
assert_eq "600" "$mode" "state.json is mode 0600"
check_fails "the restart folded the journal into state.json" test -e "$(lab cell-dir a)/state/state.journal"
mode=$(stat -c %a "$(lab cell-dir a)/state/private.key")
assert_eq "600" "$mode" "private.key is mode 0600"

# Services.
check "SetService adds a service" \
        cell_call a $cell org.pic.Cell1 SetService ssa\(sq\) wiki "" 2 tcp 8080 udp 8081
assert_contains "$(cell_exec a busctl --system get-property org.pic.Cell1 $cell org.pic.Cell1 Services)" \
        '"wiki" "10.77.1.1" 2 "tcp" 8080 "udp" 8081' "the new service is listed on the cell's address"
check "a port of an unknown protocol is InvalidArgument" \
        expect_dbus_error org.pic.Cell1.Error.InvalidArgument \
        cell_call a $cell org.pic.Cell1 SetService ssa\(sq\) wiki "" 1 sctp 80
check "RemoveService of an unknown service is NotFound" \
        expect_dbus_error org.pic.Cell1.Error.NotFound \
        cell_call a $cell org.pic.Cell1 RemoveService s nosuch
check "RemoveService removes it" cell_call a $cell org.pic.Cell1 RemoveService s wiki
check_fails "the removed service is gone" \
        grep -q wiki <<<"$(cell_exec a busctl --system get-property org.pic.Cell1 $cell org.pic.Cell1 Services)"

# Invites.
before=$(date +%s)
invite=$(invite_of a 3600)
assert_contains "$invite" "pic1:" "CreateInvite returns the compact form"
parsed=$("$PIC_INVITE_INSPECT" "$invite" 2>&1) || true
check "the invite parser accepts the invite" "$PIC_INVITE_INSPECT" "$invite"
expires=$(python3 -c 'import json,sys; print(json.loads(sys.argv[1])["pairing"]["expires"])' "$parsed" 2>/dev/null || echo 0)
check "the invite expires ttl seconds from now" \
        test "$expires" -ge $((before + 3600)) -a "$expires" -le $((before + 3600 + 5))
assert_contains "$parsed" '"endpoint":"198.51.100.7:51820"' "the invite carries the configured endpoint"
assert_contains "$parsed" '"domain":"home.example"' "the invite carries the domain"
check "a ttl beyond 7 days is InvalidArgument" \
        expect_dbus_error org.pic.Cell1.Error.InvalidArgument \
        cell_call a $cell org.pic.Cell1 CreateInvite 'a{sv}' 1 ttl u 604801
check "an unknown option is InvalidArgument" \
        expect_dbus_error org.pic.Cell1.Error.InvalidArgument \
        cell_call a $cell org.pic.Cell1 CreateInvite 'a{sv}' 1 colour s blue
for i in $(seq 2 32); do invite_of a 600 >/dev/null; done
check "outstanding invites are capped" \
        expect_dbus_error org.pic.Cell1.Error.LimitExceeded \
        cell_call a $cell org.pic.Cell1 CreateInvite 'a{sv}' 0
