#!/bin/bash
# bench.sh: runs the benchmarks on the lab and prints their table; started by
# tests/bench/run (or by meson's smoke test) through tests/lab/lab-run.
#
#   bench.sh [--quick | --smoke] [--results FILE]
#
# Every figure is a median over repeated runs, next to a baseline measured in
# the same run. --quick takes fewer and shorter runs at the full sizes;
# --smoke uses tiny sizes only to check that every benchmark still works.
set -euo pipefail

self=$(readlink -f "${BASH_SOURCE[0]}")
top=$(readlink -f "${self%/*}/../..")
lab_tool=$top/tests/lab/pic-lab
build=${PIC_BUILD_DIR:-$top/build}
pic_bench=$build/tests/bench/pic-bench
pic_celld=$build/service/pic-celld
lab_dir=${PIC_LAB_DIR:-/run/pic-lab}
work=$lab_dir/bench
export PIC_BUILD_DIR=$build PIC_LAB_BUILD=0

die() {
        echo "bench: $*" >&2
        exit 1
}

lab() {
        "$lab_tool" "$@"
}

now_us() {
        echo "${EPOCHREALTIME/./}"
}

# The median of the numbers given.
median() {
        local -a sorted
        mapfile -t sorted < <(printf '%s\n' "$@" | sort -n)
        local n=${#sorted[@]}
        if (( n % 2 )); then
                echo "${sorted[n / 2]}"
        else
                echo $(( (sorted[n / 2 - 1] + sorted[n / 2]) / 2 ))
        fi
}

# field KEY TEXT: the value of KEY=VALUE in TEXT.
field() {
        local key=$1 text=$2
        [[ " $text " =~ [[:space:]]$key=([^[:space:]]+) ]] || die "no '$key' in: $text"
        echo "${BASH_REMATCH[1]}"
}

# ===== inside cell a (run as "bench.sh --in-cell FUNCTION ARGS…") =====

cell_dir_in() { echo "$lab_dir/cells/a"; }

# Takes the kernel back to a freshly booted cell's: no WireGuard interface
# (its userspace process exits with it), no table of ours.
in_cell_clean() {
        ip link del wg0 2>/dev/null || true
        nft delete table inet pic_cell 2>/dev/null || true
        local i
        for (( i = 0; i < 400; i++ )); do
                [[ -S /run/wireguard/wg0.sock ]] || return 0
                sleep 0.005
        done
        die "wireguard-go did not go away with wg0"
}

in_cell_configured() {
        local links=$1 peers=$2 chains wg
        chains=$(nft list table inet pic_cell 2>/dev/null | grep -c '^[[:space:]]*chain link_') || true
        wg=$(wg show wg0 peers 2>/dev/null | grep -c .) || true
        [[ $chains == "$links" && $wg == $(( links + peers )) ]]
}

# in_cell_start LINKS PEERS LOG: starts pic-celld and waits until the kernel
# holds everything its state implies; prints "PID MICROSECONDS CPU-MICROSECONDS"
# (the wall time, and the daemon's own CPU time by then). nftables
# announces the table the moment its batch commits, so the clock stops on
# that event rather than on polling, which would steal a core from the
# daemon; the rest is then checked, and polled for only if it is missing.
in_cell_start() {
        local links=$1 peers=$2 log=$3 dir pid line start end
        dir=$(cell_dir_in)
        coproc MONITOR { exec stdbuf -oL nft monitor new tables; }
        # The monitor listens once it reports a table of our own.
        local i
        for (( i = 0; i < 100; i++ )); do
                nft add table inet pic_bench_probe
                if read -t 0.1 -r line <&"${MONITOR[0]}"; then
                        break
                fi
                nft delete table inet pic_bench_probe
        done
        (( i < 100 )) || die "nft monitor reported nothing within 10 s"
        nft delete table inet pic_bench_probe

        start=$(now_us)
        "$pic_celld" --config "$dir/cell.conf" --state-dir "$dir/state" --runtime-dir "$dir/run" \
                </dev/null >>"$log" 2>&1 &
        pid=$!
        while read -t 60 -r line <&"${MONITOR[0]}"; do
                [[ $line == "add table inet pic_cell" ]] && break
        done
        end=$(now_us)
        kill "$MONITOR_PID" 2>/dev/null || true
        for (( i = 0; i < 1000; i++ )); do
                in_cell_configured "$links" "$peers" && break
                kill -0 "$pid" 2>/dev/null || die "pic-celld exited during start-up (log: $log)"
                sleep 0.005
                end=$(now_us)
        done
        in_cell_configured "$links" "$peers" || die "pic-celld did not configure $links links and $peers peers in time"
        # The daemon's own share of it, in clock ticks.
        local -a stat
        read -ra stat <<<"$(sed 's/^.*) //' "/proc/$pid/stat")"
        echo "$pid $(( end - start )) $(( (stat[11] + stat[12]) * 1000000 / $(getconf CLK_TCK) ))"
}

# in_cell_dump DIR: the kernel's configuration, as nft and wg print it.
in_cell_dump() {
        nft list table inet pic_cell >"$1/ruleset.nft"
        wg showconf wg0 >"$1/wg.conf"
}

# in_cell_floor DIR: the same configuration applied by nft and wg
# themselves onto a fresh interface; prints "NFT_US WG_US".
in_cell_floor() {
        local dir=$1 pid t0 t1 t2 i
        wireguard-go -f wg0 </dev/null >/dev/null 2>&1 &
        pid=$!
        for (( i = 0; i < 1000; i++ )); do
                [[ -S /run/wireguard/wg0.sock ]] && break
                sleep 0.005
        done
        t0=$(now_us)
        nft -f "$dir/ruleset.nft"
        t1=$(now_us)
        wg setconf wg0 "$dir/wg.conf"
        t2=$(now_us)
        echo "$(( t1 - t0 )) $(( t2 - t1 ))"
        in_cell_clean
        wait "$pid" 2>/dev/null || true
}

if [[ ${1-} == --in-cell ]]; then
        # These take the kernel apart: only ever inside a lab cell.
        [[ -n ${PIC_LAB_CELL-} ]] || die "--in-cell is for 'pic-lab exec CELL', not for the host"
        shift
        fn=in_cell_$1
        shift
        "$fn" "$@"
        exit 0
fi

# ===== on the lab =====

args=("$@")
mode=full
results=
while (( $# )); do
        case $1 in
        --quick) mode=quick ;;
        --smoke) mode=smoke ;;
        --results)
                (( $# >= 2 )) || die "--results needs a file"
                results=$2
                shift ;;
        *) die "unknown argument '$1' (usage: bench.sh [--quick | --smoke] [--results FILE])" ;;
        esac
        shift
done
[[ -n ${PIC_LAB_CONTAINED-} ]] || exec "$top/tests/lab/lab-run" "$self" "${args[@]}"
[[ -x $pic_bench && -x $pic_celld ]] || die "build $build first (pic-bench and pic-celld are missing)"

case $mode in
full)  links=250 peers=1000 pair_runs=11 start_runs=7 calls=300 idle_secs=60 settle=3 app_runs=7 ;;
quick) links=250 peers=1000 pair_runs=5 start_runs=3 calls=100 idle_secs=20 settle=2 app_runs=3 ;;
smoke) links=3 peers=10 pair_runs=1 start_runs=1 calls=5 idle_secs=1 settle=0 app_runs=1 ;;
esac

declare -A R=()   # the results, by key
record() {
        R[$1]=$2
}

on_exit() {
        local status=$?
        trap - EXIT
        if (( status != 0 )); then
                echo "bench: stopped (exit status $status); the lab's logs:" >&2
                lab logs >&2 2>&1 || true
                if [[ -s $work/celld.log ]]; then
                        echo "== $work/celld.log" >&2
                        grep -v 'Failed to send handshake initiation' "$work/celld.log" | tail -n 40 >&2
                fi
        fi
        stop_display
        lab down >/dev/null 2>&1 || lab down || true
        exit "$status"
}
trap on_exit EXIT

in_a() {
        lab exec a "$self" --in-cell "$@"
}

call() {
        local cell=$1; shift
        lab exec "$cell" busctl --system --timeout=30 call org.pic.Cell1 "$@"
}

link_path() {
        python3 -c '
import sys
print("/org/pic/Cell1/link/" + "".join(c if c.isalnum() else "_%02x" % ord(c) for c in sys.argv[1]))' "$1"
}

wg_peer_count() {
        lab exec "$1" wg show wg0 peers 2>/dev/null | grep -c . || true
}

wait_for() {
        local secs=$1; shift
        local deadline=$(( $(now_us) + secs * 1000000 ))
        until "$@"; do
                (( $(now_us) < deadline )) || return 1
                sleep 0.02
        done
}

stop_pid() {
        local pid=$1 i
        [[ -n $pid ]] || return 0
        kill -TERM "$pid" 2>/dev/null || return 0
        for (( i = 0; i < 500; i++ )); do
                kill -0 "$pid" 2>/dev/null || return 0
                sleep 0.01
        done
        die "pic-celld (pid $pid) did not exit within 5 s of SIGTERM"
}

daemon_pid() {
        lab exec "$1" busctl --system call org.freedesktop.DBus /org/freedesktop/DBus org.freedesktop.DBus \
                GetConnectionUnixProcessID s org.pic.Cell1 2>/dev/null | sed -E 's/^u //'
}

# --- 1. pairing ---

no_link_left() {
        [[ $(wg_peer_count a) == 0 && $(wg_peer_count b) == 0 ]] &&
                ! lab exec b busctl --system tree org.pic.Cell1 2>/dev/null | grep -q /link/
}

unlink_a_b() {
        call a /org/pic/Cell1 org.pic.Cell1 RemoveLink s cellb >/dev/null
        wait_for 30 no_link_left || die "the link a-b did not go away after RemoveLink"
}

# From ImportInvite on a to the first echo answered by b through the
# tunnel; b learns a's key from the pairing push, so the figure includes it.
bench_pairing() {
        local i out invite
        local -a totals=() calls=()
        for (( i = 0; i < pair_runs; i++ )); do
                (( i == 0 )) || unlink_a_b
                invite=$(call b /org/pic/Cell1 org.pic.Cell1 CreateInvite 'a{sv}' 0 | sed -E 's/^s "(.*)"$/\1/')
                out=$(lab exec a "$pic_bench" pair "$invite" 10.77.2.1 10000)
                totals+=("$(field ping_us "$out")")
                calls+=("$(field call_us "$out")")
        done
        out=$(lab exec a "$pic_bench" rtt 10.77.2.1 "$calls")
        record pair_us "$(median "${totals[@]}")"
        record pair_max_us "$(printf '%s\n' "${totals[@]}" | sort -n | tail -n 1)"
        record pair_call_us "$(median "${calls[@]}")"
        record pair_rtt_us "$(field rtt_median_us "$out")"
}

# --- 5. footprint ---

cpu_ticks() {
        local -a stat
        read -ra stat <<<"$(sed 's/^.*) //' "/proc/$1/stat")"
        echo $(( stat[11] + stat[12] ))
}

# cpu_ns PID: the nanoseconds all of PID's threads have run (schedstat), for
# per-call figures finer than the clock ticks of cpu_ticks.
cpu_ns() {
        local f total=0 run rest
        for f in /proc/"$1"/task/*/schedstat; do
                read -r run rest <"$f" || continue
                total=$(( total + run ))
        done
        echo "$total"
}

# footprint PID SECONDS KEY: CPU share and RSS of an idle PID over SECONDS
# (the daemon's status poll runs all along), and its WireGuard's CPU share.
footprint() {
        local pid=$1 secs=$2 key=$3 t0 t1 c0 c1 wg_pid w0=0 w1=0 ticks i
        local -a rsses=()
        ticks=$(getconf CLK_TCK)
        wg_pid=$(pgrep -n -x wireguard-go -P "$pid" 2>/dev/null || true)
        c0=$(cpu_ticks "$pid")
        [[ -z $wg_pid ]] || w0=$(cpu_ticks "$wg_pid")
        t0=$(now_us)
        for (( i = 0; i < secs; i++ )); do
                sleep 1
                rsses+=("$(awk '/^VmRSS:/ { print $2 }' "/proc/$pid/status")")
        done
        t1=$(now_us)
        c1=$(cpu_ticks "$pid")
        [[ -z $wg_pid ]] || w1=$(cpu_ticks "$wg_pid")
        # CPU in millionths of the wall time, memory in KiB.
        record "${key}_cpu_ppm" $(( (c1 - c0) * 1000000 * 1000000 / ticks / (t1 - t0) ))
        record "${key}_wg_cpu_ppm" $(( (w1 - w0) * 1000000 * 1000000 / ticks / (t1 - t0) ))
        record "${key}_rss_kib" "$(median "${rsses[@]}")"
        record "${key}_anon_kib" "$(awk '/^RssAnon:/ { print $2 }' "/proc/$pid/status")"
        record "${key}_file_kib" "$(awk '/^RssFile:/ { print $2 }' "/proc/$pid/status")"
}

# --- 2. start-up ---

state_dir() { echo "$lab_dir/cells/a/state"; }

# Stops a's daemon (if PID is given), takes the kernel back to boot,
# installs STATE.
reset_a() {
        local pid=$1 state=$2
        stop_pid "$pid"
        in_a clean
        cp "$state" "$(state_dir)/state.json"
        rm -f "$(state_dir)/state.journal"
}

# Starts a's daemon on the installed state; sets a_pid, last_start_us and
# last_start_cpu_us.
start_a() {
        local out
        out=$(in_a start "$1" "$2" "$work/celld.log")
        read -r a_pid last_start_us last_start_cpu_us <<<"$out"
}

# The daemon's runs and the floor's alternate, so that whatever else the
# machine does weighs on both alike.
bench_startup() {
        local i nft wg
        local -a starts=() cpus=() nfts=() wgs=() floors=()
        for (( i = 0; i < start_runs; i++ )); do
                reset_a "$a_pid" "$work/large.json"
                start_a "$links" "$peers"
                starts+=("$last_start_us")
                cpus+=("$last_start_cpu_us")
                (( i > 0 )) || in_a dump "$work"
                stop_pid "$a_pid"
                a_pid=
                in_a clean
                read -r nft wg <<<"$(in_a floor "$work")"
                nfts+=("$nft")
                wgs+=("$wg")
                floors+=("$(( nft + wg ))")
        done
        record start_us "$(median "${starts[@]}")"
        record start_cpu_us "$(median "${cpus[@]}")"
        record floor_us "$(median "${floors[@]}")"
        record floor_nft_us "$(median "${nfts[@]}")"
        record floor_wg_us "$(median "${wgs[@]}")"
}

# --- 3. one toggle ---

# toggle_calls KEY: SetPermissions on the running daemon; also its CPU time
# per call, which other work on the machine does not inflate.
toggle_calls() {
        local key=$1 out c0 c1
        c0=$(cpu_ns "$a_pid")
        out=$(lab exec a "$pic_bench" toggle "$(link_path bench000)" files "$calls")
        c1=$(cpu_ns "$a_pid")
        record "$key" "$(field toggle_median_us "$out")"
        record "${key%_us}_cpu_us" $(( (c1 - c0) / 1000 / (calls + 2) ))
}

# toggle KEY LINKS PEERS STATE: the same on a cell started on STATE.
toggle() {
        local key=$1 n_links=$2 n_peers=$3 state=$4
        reset_a "$a_pid" "$state"
        start_a "$n_links" "$n_peers"
        sleep "$settle"
        toggle_calls "$key"
}

# --- 6. the app ---

first_frame_so=$build/tests/bench/libpic-bench-first-frame.so
bare_window=$build/tests/bench/pic-bench-bare-window
xvfb_pid=

app_binary() {
        local f
        for f in "${PIC_BENCH_APP-}" "$top/build/client-gtk/pic-cell"; do
                [[ -n $f && -x $f ]] && { echo "$f"; return 0; }
        done
        return 1
}

# Why the app benchmark cannot run, or nothing when it can.
app_missing() {
        if ! app_binary >/dev/null; then
                echo "not yet: the app is not built (build/client-gtk/pic-cell, or PIC_BENCH_APP)"
        elif [[ ! -e $first_frame_so || ! -x $bare_window ]]; then
                echo "not run: the benchmark's GTK helpers are not built (no gtk4/libadwaita when configured)"
        elif ! command -v Xvfb >/dev/null || ! command -v dbus-run-session >/dev/null; then
                echo "not run: Xvfb or dbus-run-session is missing"
        fi
}

# An X server inside cell a, for the app to draw on; sets display.
start_display() {
        rm -f "$work/display"
        lab exec a Xvfb -displayfd 3 -screen 0 1280x800x24 -nolisten tcp \
                3>"$work/display" </dev/null >"$work/xvfb.log" 2>&1 &
        xvfb_pid=$!
        wait_for 10 test -s "$work/display" || die "Xvfb did not start: $(tail -n 5 "$work/xvfb.log")"
        display=:$(head -n 1 "$work/display")
}

stop_display() {
        [[ -n $xvfb_pid ]] || return 0
        kill -TERM "$xvfb_pid" 2>/dev/null || true
        wait "$xvfb_pid" 2>/dev/null || true
        xvfb_pid=
}

# first_frame PROGRAM: microseconds from exec of PROGRAM in cell a (on its
# bus, with a session bus of its own) to its first painted frame.
first_frame() {
        local program=$1 t0 t1
        rm -f "$work/t0" "$work/frame"
        # The preload module goes to the program only, not to the buses.
        lab exec a env DISPLAY="$display" GDK_BACKEND=x11 GSK_RENDERER=cairo GTK_A11Y=none NO_AT_BRIDGE=1 \
                PIC_BENCH_FRAME_FILE="$work/frame" ASAN_OPTIONS=verify_asan_link_order=0 \
                timeout -s KILL 60 dbus-run-session -- \
                bash -c 'echo "${EPOCHREALTIME/./}" >"$0"; export LD_PRELOAD=$1; shift; exec "$@"' \
                "$work/t0" "$first_frame_so" "$program" >>"$work/app.log" 2>&1 || true
        [[ -s $work/frame && -s $work/t0 ]] || return 1
        t0=$(<"$work/t0")
        t1=$(<"$work/frame")
        echo $(( t1 - t0 ))
}

# bench_app KEY: the app and the bare window in turn, after one unmeasured
# run of each (which fills the page cache).
bench_app() {
        local key=$1 app i us
        local -a apps=() bares=()
        app=$(app_binary)
        start_display
        for (( i = 0; i <= app_runs; i++ )); do
                us=$(first_frame "$app") || {
                        record "${key}_status" "failed: pic-cell painted no frame within 60 s"
                        stop_display
                        return 0
                }
                (( i == 0 )) || apps+=("$us")
                us=$(first_frame "$bare_window") || die "the bare GTK window painted no frame: $(tail -n 5 "$work/app.log")"
                (( i == 0 )) || bares+=("$us")
        done
        stop_display
        record "${key}_us" "$(median "${apps[@]}")"
        record "${key}_bare_us" "$(median "${bares[@]}")"
}

# --- the table ---

# ms MICROSECONDS: milliseconds, three significant digits.
ms() {
        awk -v us="$1" 'BEGIN { v = us / 1000; printf (v >= 100 ? "%.0f ms" : v >= 10 ? "%.1f ms" : "%.2f ms"), v }'
}

ratio() {
        awk -v a="$1" -v b="$2" 'BEGIN { if (b <= 0) print "–"; else { r = a / b; printf (r >= 10 ? "%.0f×" : "%.2f×"), r } }'
}

# met CONDITION: awk's verdict on a comparison of numbers.
met() {
        awk "BEGIN { print ($1) ? \"yes\" : \"**no**\" }"
}

mib() {
        awk -v k="$1" 'BEGIN { printf "%.1f MiB", k / 1024 }'
}

percent() {
        awk -v p="$1" 'BEGIN { printf "%.2f %%", p / 10000 }'
}

print_table() {
        local g=${R[bus_getall_us]} p=${R[bus_ping_us]} m=${R[bus_managed_us]}
        echo "| # | benchmark ($links links, $peers peers) | median | baseline (same run) | ratio | target | met |"
        echo "|---|---|---|---|---|---|---|"
        echo "| 1 | pairing: ImportInvite on a → first ping answered by b through the tunnel (the call itself: $(ms "${R[pair_call_us]}"); slowest run: $(ms "${R[pair_max_us]}")) | $(ms "${R[pair_us]}") | a ping a → b through the tunnel, linked: $(ms "${R[pair_rtt_us]}") | $(ratio "${R[pair_us]}" "${R[pair_rtt_us]}") | ≤ 250 ms | $(met "${R[pair_us]} <= 250000") |"
        echo "| 2 | start-up: pic-celld on the state file → kernel configured (pic-celld's own CPU: $(ms "${R[start_cpu_us]}")) | $(ms "${R[start_us]}") | \`nft -f\` $(ms "${R[floor_nft_us]}") + \`wg setconf\` $(ms "${R[floor_wg_us]}") = $(ms "${R[floor_us]}") | $(ratio "${R[start_us]}" "${R[floor_us]}") | ≤ 1.5× | $(met "${R[start_us]} <= 1.5 * ${R[floor_us]}") |"
        echo "| 3a | SetPermissions, $links links + $peers peers (pic-celld CPU per call: $(ms "${R[toggle_large_cpu_us]}") vs $(ms "${R[toggle_one_cpu_us]}")) | $(ms "${R[toggle_large_us]}") | 1 link + $peers peers: $(ms "${R[toggle_one_us]}") | $(ratio "${R[toggle_large_us]}" "${R[toggle_one_us]}") | ≤ 1.2× | $(met "${R[toggle_large_us]} <= 1.2 * ${R[toggle_one_us]}") |"
        echo "| 3b | SetPermissions, $links links, no peers (pic-celld CPU per call: $(ms "${R[toggle_links_cpu_us]}") vs $(ms "${R[toggle_bare_cpu_us]}")) | $(ms "${R[toggle_links_us]}") | 1 link, no peers: $(ms "${R[toggle_bare_us]}") | $(ratio "${R[toggle_links_us]}" "${R[toggle_bare_us]}") | ≤ 1.2× | $(met "${R[toggle_links_us]} <= 1.2 * ${R[toggle_bare_us]}") |"
        echo "| 4a | GetAll on a link | $(ms "$g") | Peer.Ping: $(ms "$p") | $(ratio "$g" "$p") | ≤ 1.5× Ping | $(met "$g <= 1.5 * $p") |"
        echo "| 4b | GetManagedObjects (pic-celld CPU per call: $(ms "${R[bus_managed_cpu_us]}")) | $(ms "$m") | Peer.Ping: $(ms "$p") | $(ratio "$m" "$p") | ≤ 10 ms | $(met "$m <= 10000") |"
        echo "| 5a | idle RSS over ${idle_secs} s (anon $(mib "${R[large_anon_kib]}"), file $(mib "${R[large_file_kib]}")) | $(mib "${R[large_rss_kib]}") | fresh cell: $(mib "${R[empty_rss_kib]}") (anon $(mib "${R[empty_anon_kib]}")) | $(ratio "${R[large_rss_kib]}" "${R[empty_rss_kib]}") | ≤ 8 MiB | $(met "${R[large_rss_kib]} <= 8192") |"
        echo "| 5b | idle CPU over ${idle_secs} s, status poll on (its wireguard-go: $(percent "${R[large_wg_cpu_ppm]}")) | $(percent "${R[large_cpu_ppm]}") | fresh cell: $(percent "${R[empty_cpu_ppm]}") | $(ratio "${R[large_cpu_ppm]}" "${R[empty_cpu_ppm]}") | ≤ 0.5 % | $(met "${R[large_cpu_ppm]} <= 5000") |"
        app_row 6a "app: pic-cell → first frame (cairo), cell a linked to b" app
        app_row 6b "app: pic-cell → first frame (cairo), cell a with $links links and $peers peers" app_large
}

app_row() {
        local n=$1 what=$2 key=$3
        if [[ ${R[${key}_us]-} ]]; then
                echo "| $n | $what | $(ms "${R[${key}_us]}") | a bare libadwaita window: $(ms "${R[${key}_bare_us]}") | $(ratio "${R[${key}_us]}" "${R[${key}_bare_us]}") | – | – |"
        else
                echo "| $n | $what | ${R[${key}_status]} | | | | |"
        fi
}

# --- the run ---

lab up 2
mkdir -p "$work"
echo "# benchmarks ($mode): $links links, $peers peers" >&2

echo "# 1. pairing ($pair_runs runs)" >&2
bench_pairing
app_skip=$(app_missing)
[[ $mode != smoke ]] || app_skip="not run in a smoke run"
if [[ -z $app_skip ]]; then
        echo "# 6. app against cell a linked to b ($app_runs runs)" >&2
        bench_app app
else
        record app_status "$app_skip"
fi
unlink_a_b
# b is not needed any more; stopped, it leaves the cores to a.
stop_pid "$(daemon_pid b)"

echo "# 5. footprint of a fresh cell ($idle_secs s)" >&2
python3 "$top/tests/tools/cell-state" "$(state_dir)/state.json" >"$work/empty.json"
reset_a "$(daemon_pid a)" "$work/empty.json"
start_a 0 0
sleep "$settle"
footprint "$a_pid" "$idle_secs" empty

echo "# 2. start-up ($start_runs runs)" >&2
make_state=$top/tests/bench/make-state
"$make_state" "$work/empty.json" "$links" "$peers" >"$work/large.json"
"$make_state" "$work/empty.json" 1 "$peers" >"$work/one.json"
"$make_state" "$work/empty.json" "$links" 0 >"$work/links.json"
"$make_state" "$work/empty.json" 1 0 >"$work/bare.json"
bench_startup

echo "# 4. bus ($calls calls each)" >&2
reset_a "$a_pid" "$work/large.json"
start_a "$links" "$peers"
sleep "$settle"
out=$(lab exec a "$pic_bench" bus "$(link_path bench000)" "$calls" small)
record bus_ping_us "$(field ping_median_us "$out")"
record bus_getall_us "$(field getall_median_us "$out")"
record bus_get_us "$(field get_median_us "$out")"
record bus_getall_cell_us "$(field getall_cell_median_us "$out")"
c0=$(cpu_ns "$a_pid")
out=$(lab exec a "$pic_bench" bus "$(link_path bench000)" "$calls" managed)
c1=$(cpu_ns "$a_pid")
record bus_managed_us "$(field managed_median_us "$out")"
record bus_managed_cpu_us $(( (c1 - c0) / 1000 / (calls + 3) ))

echo "# 5. footprint with $links links and $peers peers ($idle_secs s)" >&2
sleep "$settle"
footprint "$a_pid" "$idle_secs" large

echo "# 3. SetPermissions ($calls calls each)" >&2
toggle_calls toggle_large_us
toggle toggle_one_us 1 "$peers" "$work/one.json"
toggle toggle_links_us "$links" 0 "$work/links.json"
toggle toggle_bare_us 1 0 "$work/bare.json"

if [[ -z $app_skip ]]; then
        echo "# 6. app against cell a with $links links and $peers peers ($app_runs runs)" >&2
        reset_a "$a_pid" "$work/large.json"
        start_a "$links" "$peers"
        bench_app app_large
else
        record app_large_status "$app_skip"
fi

# The last daemon stops here, so that a sanitizer build has written its
# report by now; one in any daemon's log fails the run.
stop_pid "$a_pid"
if grep -qE 'ERROR: (Address|Leak)Sanitizer|runtime error:' "$work/celld.log"; then
        sed -n '/ERROR: \(Address\|Leak\)Sanitizer\|runtime error:/,$p' "$work/celld.log" | head -n 60 >&2
        die "pic-celld reported memory or undefined-behaviour errors (above)"
fi

if [[ -n $results ]]; then
        for key in "${!R[@]}"; do
                echo "$key=${R[$key]}"
        done | sort >"$results"
fi
print_table
