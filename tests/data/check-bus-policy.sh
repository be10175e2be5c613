#!/bin/bash
# check-bus-policy.sh: loads the bus policy and the activation file into a private system bus and checks who may own and call org.pic.Cell1.
# Usage: check-bus-policy.sh DBUS_DAEMON BUSCTL SETPRIV BUS_ECHO POLICY_CONF ACTIVATION_FILE
set -uo pipefail

dbus_daemon=$1 busctl=$2 setpriv=$3 bus_echo=${4:+$(readlink -f "$4")} policy=$5 activation=$6
for tool in "$dbus_daemon" "$busctl" "$setpriv"; do
        [[ -n $tool ]] || { echo "SKIP: a tool is missing"; exit 77; }
done
[[ $(id -u) -eq 0 ]] || { echo "SKIP: needs root to act as an unprivileged user"; exit 77; }

dir=$(mktemp -d)
daemon_pid= echo_pid=
cleanup() {
        [[ -n $echo_pid ]] && kill "$echo_pid" 2>/dev/null
        [[ -n $daemon_pid ]] && kill "$daemon_pid" 2>/dev/null
        wait 2>/dev/null
        rm -rf "$dir"
}
trap cleanup EXIT
chmod 0755 "$dir"
mkdir "$dir/services" "$dir/policies"
cp "$activation" "$dir/services/"
cp "$policy" "$dir/policies/"

# The default context of a distribution's system.conf: nothing is owned or
# called unless a service's policy allows it.
cat >"$dir/bus.conf" <<CONF
<busconfig>
  <type>system</type>
  <listen>unix:path=$dir/socket</listen>
  <auth>EXTERNAL</auth>
  <servicedir>$dir/services</servicedir>
  <policy context="default">
    <allow user="*"/>
    <deny own="*"/>
    <deny send_type="method_call"/>
    <allow send_type="signal"/>
    <allow send_requested_reply="true" send_type="method_return"/>
    <allow send_requested_reply="true" send_type="error"/>
    <allow receive_type="method_call"/>
    <allow receive_type="method_return"/>
    <allow receive_type="error"/>
    <allow receive_type="signal"/>
    <allow send_destination="org.freedesktop.DBus"
           send_interface="org.freedesktop.DBus"/>
  </policy>
  <includedir>$dir/policies</includedir>
</busconfig>
CONF

"$dbus_daemon" --config-file="$dir/bus.conf" --nofork --print-address=1 >"$dir/address" 2>"$dir/daemon.log" &
daemon_pid=$!
for _ in $(seq 100); do
        [[ -s $dir/address ]] && break
        kill -0 "$daemon_pid" 2>/dev/null || break
        sleep 0.05
done
if [[ ! -s $dir/address ]]; then
        echo "FAIL: dbus-daemon did not start with the policy:"
        cat "$dir/daemon.log"
        exit 1
fi
address=unix:path=$dir/socket

failed=0
fail() { echo "FAIL: $*"; failed=1; }

as_root() { "$busctl" --address="$address" "$@"; }
as_nobody() { "$setpriv" --reuid=65534 --regid=65534 --clear-groups "$busctl" --address="$address" "$@"; }

as_root call org.freedesktop.DBus /org/freedesktop/DBus org.freedesktop.DBus \
        ListActivatableNames | grep -q '"org.pic.Cell1"' ||
        fail "the activation file was not picked up: $(cat "$dir/daemon.log")"

if out=$(as_nobody call org.freedesktop.DBus /org/freedesktop/DBus org.freedesktop.DBus \
                RequestName su org.pic.Cell1 0 2>&1); then
        fail "an unprivileged user could own org.pic.Cell1: $out"
elif ! grep -qi 'not allowed to own\|access denied' <<<"$out"; then
        fail "owning as an unprivileged user failed for an unexpected reason: $out"
fi

if [[ -z $bus_echo ]]; then
        echo "SKIP: no stand-in service to test calls with"
        exit $((failed ? 1 : 77))
fi
"$bus_echo" "$address" org.pic.Cell1 >"$dir/echo.out" 2>&1 &
echo_pid=$!
for _ in $(seq 100); do
        grep -q ready "$dir/echo.out" 2>/dev/null && break
        kill -0 "$echo_pid" 2>/dev/null || break
        sleep 0.05
done
grep -q ready "$dir/echo.out" || { fail "root could not own org.pic.Cell1: $(cat "$dir/echo.out")"; exit 1; }

for interface in org.pic.Cell1 org.pic.Cell1.Link org.pic.Cell1.Peer \
                 org.freedesktop.DBus.Properties org.freedesktop.DBus.Introspectable \
                 org.freedesktop.DBus.Peer org.freedesktop.DBus.ObjectManager; do
        out=$(as_nobody call org.pic.Cell1 /org/pic/Cell1 "$interface" Anything 2>&1) ||
                fail "an unprivileged user may not call $interface: $out"
done

if out=$(as_nobody call org.pic.Cell1 /org/pic/Cell1 org.example.NotOurs Anything 2>&1); then
        fail "the policy lets calls to foreign interfaces through"
elif ! grep -qi 'denied\|rejected' <<<"$out"; then
        fail "a foreign interface was refused for an unexpected reason: $out"
fi

exit $failed
