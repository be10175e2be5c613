#!/bin/bash
# test-readme.sh: runs every ```sh example of README.md's "Scripting" section
# on two paired lab cells: the busctl examples in order, then the gdbus ones
# on fresh cells, so that each tool's examples make one whole story.
#
# The README's conventions, which this script relies on: the first line of
# each example is "# on CELL" (cella or cellb, the lab's cells a and b);
# $INVITE is an invite of the other cell, made fresh for each example that
# uses it; each "###" task has a busctl and a gdbus example, each of which
# uses exactly one of the two tools. An example that fails is tried again for
# a few seconds, as a reader would, since some wait for the other cell (an
# exit offer has to arrive before a peer can be routed through it). Before
# the first example of a "### Remove…" task, the effects of the examples
# before it are checked; at the end, that the removals took effect.
source "$(dirname "$0")/lib.sh"
source "$(dirname "$0")/cell-bus.sh"

readme=$PIC_TOP/README.md
# lab-run's private /run goes away with the test, and this with it.
blocks=$(mktemp -d /run/pic-readme.XXXXXX)

# Writes each example to $blocks/N.sh and prints "N<TAB>LINE<TAB>CELL<TAB>TOOL<TAB>TASK"
# a line; an example that breaks the conventions is printed with CELL or TOOL "?".
index=$(python3 - "$readme" "$blocks" <<'PY'
import re, sys

readme, out = sys.argv[1], sys.argv[2]
section = task = None
block = None
n = 0
with open(readme, encoding="utf-8") as f:
    for number, line in enumerate(f, 1):
        line = line.rstrip("\n")
        if block is not None:
            if line.strip() == "```":
                n += 1
                code = "\n".join(block) + "\n"
                with open(f"{out}/{n}.sh", "w", encoding="utf-8") as b:
                    b.write(code)
                m = re.match(r"#\s*on\s+(cell[a-z])\b", block[0]) if block else None
                cell = m.group(1) if m else "?"
                uses = {tool for tool in ("busctl", "gdbus") if re.search(rf"\b{tool}\b", code)}
                tool = uses.pop() if len(uses) == 1 else "?"
                print(f"{n}\t{start}\t{cell}\t{tool}\t{task or ''}")
                block = None
            else:
                block.append(line)
            continue
        if line.startswith("## "):
            section = line[3:].strip()
            task = None
        elif line.startswith("### "):
            task = line[4:].strip()
        elif section == "Scripting" and re.match(r"```sh\s*$", line):
            block, start = [], number
PY
) || fatal "could not read the examples of $readme"

[[ -n $index ]] || fatal "README.md has no \`\`\`sh example in its \"Scripting\" section"

# The conventions, checked before anything runs.
declare -A task_tools=()
bad=0
while IFS=$'\t' read -r n line cell tool task; do
        if [[ $cell == "?" ]]; then
                not_ok "README.md:$line: the example's first line should be '# on cella' or '# on cellb'"
                bad=1
        fi
        if [[ $tool == "?" ]]; then
                not_ok "README.md:$line: the example should use exactly one of busctl and gdbus"
                bad=1
        fi
        task_tools[${task:-(none)}]+=" $tool"
done <<<"$index"
for task in "${!task_tools[@]}"; do
        if [[ ${task_tools[$task]} != *busctl* || ${task_tools[$task]} != *gdbus* ]]; then
                not_ok "README.md: the task '$task' should have a busctl and a gdbus example"
                bad=1
        fi
done
(( bad == 0 )) || exit 1
ok "README.md's Scripting section has $(wc -l <<<"$index") examples, each task with busctl and gdbus"

object_paths() { # CELL KIND: the object paths of CELL's links or peers
        cell_exec "$1" busctl --list tree org.pic.Cell1 | grep "^/org/pic/Cell1/$2/" || true
}
linked_and_paired() {
        [[ $(link_get a cellb Paired) == true && $(link_get b cella Paired) == true ]]
}
some_peer_routes_via_cellb() {
        local path
        for path in $(object_paths a peer); do
                [[ $(cell_prop a "$path" org.pic.Cell1.Peer RouteVia) == cellb ]] && return 0
        done
        return 1
}

# The state the examples before "Remove…" should have made.
check_effects() {
        local tool=$1
        check "$tool: cella and cellb are linked and paired" wait_until 10 linked_and_paired
        assert_contains "$(link_get a cellb Inbound)" "true" "$tool: cella shares a service with cellb"
        assert_eq "true" "$(link_get b cella ExitOffered)" "$tool: cellb offers its internet connection to cella"
        check "$tool: a peer of cella routes via cellb" some_peer_routes_via_cellb
}

check_removals() {
        local tool=$1
        assert_eq "" "$(object_paths a link)" "$tool: cella has no link left"
        assert_eq "" "$(object_paths a peer)" "$tool: cella has no peer left"
        check "$tool: cellb's side of the link is gone too" wait_until 10 output_empty object_paths b link
}

# run_example N CELL TOOL LINE: runs example N in CELL until it succeeds or 15 s pass.
run_example() {
        local n=$1 cell=$2 tool=$3 line=$4
        local letter=${cell#cell} other invite="" out status tries=0
        local deadline=$(( ${EPOCHREALTIME/./} + 15 * 1000000 ))
        [[ $letter == a ]] && other=b || other=a
        while :; do
                tries=$((tries + 1))
                if grep -q 'INVITE' "$blocks/$n.sh"; then
                        invite=$(invite_of "$other") || invite=
                fi
                status=0
                # In a directory of the cell's own, where files it writes (phone.conf) stay.
                out=$(cd "$(lab cell-dir "$letter")/readme" &&
                        cell_exec "$letter" env INVITE="$invite" \
                                bash -eu -o pipefail -c "$(<"$blocks/$n.sh")" 2>&1 </dev/null) ||
                        status=$?
                (( status != 0 && ${EPOCHREALTIME/./} < deadline )) || break
                sleep 0.5
        done
        if (( status == 0 )); then
                ok "$tool: the example at README.md:$line runs on $cell"
                (( tries == 1 )) || diag "it succeeded at try $tries"
        else
                not_ok "$tool: the example at README.md:$line runs on $cell"
                diag "$(cat "$blocks/$n.sh")"
                diag "exit status $status after $tries tries; the last one printed:"
                diag "$out"
        fi
}

for tool in busctl gdbus; do
        lab up 2
        mkdir -p "$(lab cell-dir a)/readme" "$(lab cell-dir b)/readme"
        checked=0
        # On descriptor 3: what runs inside must not eat the list.
        while IFS=$'\t' read -r -u 3 n line cell t task; do
                [[ $t == "$tool" ]] || continue
                if [[ $task == Remove* ]] && (( ! checked )); then
                        check_effects "$tool"
                        checked=1
                fi
                run_example "$n" "$cell" "$tool" "$line"
        done 3<<<"$index"
        (( checked )) || not_ok "$tool: no '### Remove…' task, so nothing checked what the examples did"
        check_removals "$tool"
        lab down
done
