# app.sh: runs pic-cell under Xvfb inside a lab cell and drives it, for the GUI
# tests; sourced after tests/integration/lib.sh.
# shellcheck shell=bash
#
# The app runs as `pic-lab exec CELL xvfb-run … dbus-run-session -- pic-cell`,
# so it talks to that cell's system bus and has a session bus and a display of
# its own. It is driven through its GApplication actions on that session bus
# (`gapplication action org.pic.Cell ACTION [PARAMETER]`), which go through the
# same widgets as a user, and read through the test hook PIC_CELL_TEST_DUMP:
# the action "dump" writes what the window shows to that file as JSON.

PIC_CELL_APP=$PIC_BUILD_DIR/client-gtk/pic-cell
app_dir=
app_cell=
app_pid=
app_env=()
app_problems=

# app_start CELL [VAR=VALUE…]: starts the app on CELL and waits until it answers.
app_start() {
        app_cell=$1; shift
        app_dir=$(mktemp -d)
        chmod 0755 "$app_dir"
        # The child writes the addresses of its display and session bus, which
        # exist only inside the cell, for the helpers below.
        cell_exec "$app_cell" xvfb-run -a -s '-screen 0 1280x800x24 -nolisten tcp' \
                dbus-run-session -- \
                env GTK_A11Y=none GSK_RENDERER=cairo NO_AT_BRIDGE=1 \
                    ASAN_OPTIONS=detect_leaks=0 GSETTINGS_BACKEND=memory \
                    "PIC_CELL_TEST_DUMP=$app_dir/state.json" "$@" \
                sh -c 'printf "%s\n%s\n%s\n" "$DISPLAY" "$XAUTHORITY" "$DBUS_SESSION_BUS_ADDRESS" >"$1/env.new" &&
                       mv "$1/env.new" "$1/env" && exec "$2"' sh "$app_dir" "$PIC_CELL_APP" \
                >"$app_dir/app.log" 2>&1 &
        app_pid=$!
        if ! wait_until 30 test -s "$app_dir/env"; then
                diag "$(cat "$app_dir/app.log")"
                return 1
        fi
        mapfile -t app_env <"$app_dir/env"
        wait_until 30 app_action dump
}

# app_action ACTION [PARAMETER]: activates app.ACTION; PARAMETER in GVariant text.
app_action() {
        cell_exec "$app_cell" env "DBUS_SESSION_BUS_ADDRESS=${app_env[2]}" \
                timeout 20 gapplication action org.pic.Cell "$@"
}

# app_state PYTHON-EXPRESSION: evaluates it on the window's state `s` (fresh
# from a dump) and prints the result; strings as they are, the rest as JSON.
app_state() {
        app_action dump || return 1
        python3 - "$app_dir/state.json" "$1" <<'PY'
import json, sys
s = json.load(open(sys.argv[1]))
v = eval(sys.argv[2], {"s": s})
print(v if isinstance(v, str) else json.dumps(v))
PY
}

# app_state_is EXPECTED EXPRESSION: for wait_until.
app_state_is() {
        [[ $(app_state "$2" 2>/dev/null) == "$1" ]]
}

# app_screenshot FILE: the whole screen of the app's display.
app_screenshot() {
        cell_exec "$app_cell" env "DISPLAY=${app_env[0]}" "XAUTHORITY=${app_env[1]}" \
                import -window root "$1"
}

# qr_decode PNG: the text of the QR code in PNG (fails when there is none).
qr_decode() {
        zbarimg -q --raw --nodbus "$1"
}

# app_stop: quits the app and waits for it.
app_stop() {
        [[ -n $app_pid ]] || return 0
        app_action quit >/dev/null 2>&1 || true
        local i
        for (( i = 0; i < 100; i++ )); do
                kill -0 "$app_pid" 2>/dev/null || break
                sleep 0.1
        done
        kill "$app_pid" 2>/dev/null || true
        wait "$app_pid" 2>/dev/null || true
        app_pid=
        # What the app said that looks like a bug, for the caller to judge.
        app_problems=$(grep -E 'CRITICAL|WARNING|ERROR|runtime error|Sanitizer' "$app_dir/app.log" 2>/dev/null |
                grep -v '^dbus-daemon' || true)
        rm -rf "$app_dir"
        app_dir=
}

# app_log: what the app printed.
app_log() {
        [[ -n $app_dir && -f $app_dir/app.log ]] && cat "$app_dir/app.log"
        return 0
}
