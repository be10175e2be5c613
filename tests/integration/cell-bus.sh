# cell-bus.sh: shorthands for talking to pic-celld on a lab cell's bus, sourced
# by the integration tests after lib.sh.
# shellcheck shell=bash

PIC_API_XML=$PIC_TOP/dbus/org.pic.Cell1.xml
PIC_INVITE_INSPECT=$PIC_BUILD_DIR/tests/tools/invite-inspect

# cell_call CELL [as_user USER] PATH INTERFACE METHOD [SIGNATURE ARGS…]
cell_call() {
        local cell=$1; shift
        local who=()
        if [[ ${1-} == as_user ]]; then
                who=(as_user "$2"); shift 2
        fi
        local path=$1 iface=$2 method=$3; shift 3
        cell_exec "$cell" "${who[@]}" busctl --system --timeout=30 call org.pic.Cell1 "$path" "$iface" "$method" "$@"
}

# cell_prop CELL PATH INTERFACE PROPERTY: the value as JSON (strings unquoted).
cell_prop() {
        local cell=$1 path=$2 iface=$3 prop=$4
        cell_exec "$cell" busctl --system --json=short get-property org.pic.Cell1 "$path" "$iface" "$prop" |
                python3 -c 'import json,sys; d=json.load(sys.stdin)["data"]; print(d if isinstance(d,str) else json.dumps(d))'
}

# cell_get CELL PROPERTY: a property of the cell object.
cell_get() {
        cell_prop "$1" /org/pic/Cell1 org.pic.Cell1 "$2"
}

# link_path NAME: the object path of the link to cell NAME.
link_path() {
        python3 -c '
import sys
name = sys.argv[1]
out = "".join(c if c.isalnum() else "_%02x" % ord(c) for c in name)
print("/org/pic/Cell1/link/" + out)' "$1"
}

# link_get CELL NAME PROPERTY: a property of CELL's link to NAME.
link_get() {
        cell_prop "$1" "$(link_path "$2")" org.pic.Cell1.Link "$3"
}

# invite_of CELL [TTL]: a fresh invite of CELL, in compact form.
invite_of() {
        local cell=$1 ttl=${2:-86400}
        cell_call "$cell" /org/pic/Cell1 org.pic.Cell1 CreateInvite 'a{sv}' 1 ttl u "$ttl" |
                sed -E 's/^s "(.*)"$/\1/'
}

# daemon_pid CELL: the PID of the cell's pic-celld (empty when it is not running).
daemon_pid() {
        cell_exec "$1" busctl --system call org.freedesktop.DBus /org/freedesktop/DBus org.freedesktop.DBus \
                GetConnectionUnixProcessID s org.pic.Cell1 2>/dev/null | sed -E 's/^u //'
}

# kill_daemon CELL [SIGNAL]: stops the cell's pic-celld and waits until it is gone.
kill_daemon() {
        local cell=$1 sig=${2:-TERM} pid
        pid=$(daemon_pid "$cell")
        [[ -n $pid ]] || return 0
        kill "-$sig" "$pid"
        local i
        for (( i = 0; i < 200; i++ )); do
                kill -0 "$pid" 2>/dev/null || return 0
                sleep 0.05
        done
        echo "pic-celld of cell $cell (pid $pid) did not exit" >&2
        return 1
}

# output_is EXPECTED CMD…: true when CMD prints exactly EXPECTED (for wait_until,
# which runs it again on every try).
output_is() {
        local expected=$1; shift
        [[ $("$@" 2>/dev/null) == "$expected" ]]
}

# output_empty CMD…: true when CMD prints nothing.
output_empty() {
        [[ -z $("$@" 2>/dev/null) ]]
}

# cell_observable CELL: everything a caller or the kernel can see of the cell
# but its traffic: every property of its objects (but the counters and
# handshakes), its state file and its kernel side (tests/tools/cell-kernel).
cell_observable() {
        local cell=$1
        cell_exec "$cell" busctl --system --json=short call org.pic.Cell1 /org/pic/Cell1 \
                org.freedesktop.DBus.ObjectManager GetManagedObjects | python3 -c '
import json, sys
objs = json.load(sys.stdin)["data"][0]
moving = {"LatestHandshake", "RxBytes", "TxBytes", "Connected"}
for path in sorted(objs):
    for iface in sorted(objs[path]):
        for prop, v in sorted(objs[path][iface].items()):
            if prop not in moving:
                print(path, iface, prop, json.dumps(v["data"], sort_keys=True))'
        saved_state "$cell"
        echo
        cell_exec "$cell" "$PY" "$PIC_TOP/tests/tools/cell-kernel" snapshot | grep -v "^  peer .* endpoint"
}

# paired_and_connected CELL NAME: CELL's link to NAME is paired and its tunnel up.
paired_and_connected() {
        [[ $(link_get "$1" "$2" Paired) == true && $(link_get "$1" "$2" Connected) == true ]]
}
